//! Finds libhermes-ipc for the `bus` and `net` modules (the protocol codec is
//! pure Rust but shares the crate's error type, whose messages come from C).
//!
//! Where it looks, first match wins:
//!   1. `HERMES_IPC_LIB_DIR`: a directory holding libhermes-ipc.so (the CMake
//!      build sets it to its build tree when ctest runs `cargo test`);
//!   2. `pkg-config --variable=libdir hermes-ipc` (an installed prefix; set
//!      PKG_CONFIG_PATH for a private one);
//!   3. the CMake build trees of this checkout: build/release, build/debug.
//! Binaries get an rpath to that directory so tests and examples run in place.
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn has_lib(dir: &Path) -> bool {
    dir.join("libhermes-ipc.so").exists()
}

fn pkg_config_libdir() -> Option<PathBuf> {
    let out = Command::new("pkg-config")
        .args(["--variable=libdir", "hermes-ipc"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let dir = String::from_utf8(out.stdout).ok()?;
    let dir = PathBuf::from(dir.trim());
    if has_lib(&dir) {
        Some(dir)
    } else {
        None
    }
}

fn main() {
    println!("cargo:rerun-if-env-changed=HERMES_IPC_LIB_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.join("../..");
    let dir = match env::var_os("HERMES_IPC_LIB_DIR") {
        Some(d) => {
            let d = PathBuf::from(d);
            if !has_lib(&d) {
                panic!("HERMES_IPC_LIB_DIR={}: no libhermes-ipc.so there", d.display());
            }
            d
        }
        None => pkg_config_libdir()
            .or_else(|| {
                ["build/release", "build/debug"]
                    .iter()
                    .map(|b| root.join(b))
                    .find(|d| has_lib(d))
            })
            .unwrap_or_else(|| {
                panic!(
                    "libhermes-ipc not found: build Hermes with CMake (cmake --preset release \
                     && cmake --build --preset release), install it where pkg-config finds \
                     hermes-ipc, or set HERMES_IPC_LIB_DIR to the directory of libhermes-ipc.so"
                )
            }),
    };
    println!("cargo:rustc-link-search=native={}", dir.display());
    println!("cargo:rustc-link-lib=dylib=hermes-ipc");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
    // Tests find hermes-bridge beside the library in a CMake build tree.
    println!("cargo:rustc-env=HERMES_IPC_BUILD_LIB_DIR={}", dir.display());
}
