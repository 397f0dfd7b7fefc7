//! Helpers shared by the integration tests: unique names, a private bus
//! created in this process, and a real hermes-bridge on loopback, started
//! and stopped by pid. Every wait has a deadline.
#![allow(dead_code)]

use hermes::bus::{Bus, Policy, Publisher, RingConfig, Start, Subscriber};
use std::io::Read;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub mod c_codec;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name no other test or process uses.
pub fn unique(tag: &str) -> String {
    format!("rs-{}-{}-{}", tag, std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A bus created by this process (rings are made in place, no hermesd), and
/// a scratch directory; both removed on drop.
pub struct TestBus {
    pub name: String,
    pub bus: Option<Bus>,
    pub dir: PathBuf,
}

impl TestBus {
    pub fn new(tag: &str) -> TestBus {
        let name = unique(tag);
        let bus = Bus::create(&name, 16 << 20, 0o600).unwrap_or_else(|e| panic!("create bus {}: {}", name, e));
        let dir = std::env::temp_dir().join(&name);
        std::fs::create_dir_all(&dir).unwrap();
        TestBus { name, bus: Some(bus), dir }
    }

    pub fn bus(&self) -> &Bus {
        self.bus.as_ref().unwrap()
    }

    pub fn ring(&self, name: &str, capacity: u64, max_msg: u32, policy: Policy) {
        let cfg = RingConfig { name, capacity, max_msg, policy, slots: 0 };
        self.bus().create_ring(&cfg).unwrap_or_else(|e| panic!("create ring {}: {}", name, e));
    }

    /// A TestBus with one ring made in it.
    pub fn with_ring(tag: &str, ring: &str, capacity: u64, max_msg: u32, policy: Policy) -> TestBus {
        let tb = TestBus::new(tag);
        tb.ring(ring, capacity, max_msg, policy);
        tb
    }

    /// A publisher and a subscriber (from `start`) on one ring of this bus.
    pub fn pair(&self, ring: &str, start: Start) -> (Publisher<'_>, Subscriber<'_>) {
        let bus = self.bus();
        let publisher = bus.publisher(ring).unwrap_or_else(|e| panic!("publisher on {}: {}", ring, e));
        let sub = bus.subscriber(ring, start).unwrap_or_else(|e| panic!("subscriber on {}: {}", ring, e));
        (publisher, sub)
    }
}

impl Drop for TestBus {
    fn drop(&mut self) {
        self.bus.take();
        let _ = Bus::unlink(&self.name);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}
const SIGTERM: i32 = 15;

/// The hermes-bridge binary: $HERMES_BRIDGE, else beside the library in
/// the CMake build tree the crate was linked against.
pub fn bridge_path() -> PathBuf {
    if let Some(p) = std::env::var_os("HERMES_BRIDGE") {
        return PathBuf::from(p);
    }
    let p = PathBuf::from(env!("HERMES_IPC_BUILD_LIB_DIR")).join("tcp-bridge/bridge/hermes-bridge");
    assert!(p.exists(), "no hermes-bridge at {}: set HERMES_BRIDGE", p.display());
    p
}

/// A hermes-bridge serving a TestBus on 127.0.0.1 (a free port).
pub struct Bridge {
    child: Option<Child>,
    pub addr: String,
    log: PathBuf,
}

impl Bridge {
    /// A bridge for anonymous clients (loopback only).
    pub fn start(tb: &TestBus) -> Bridge {
        Self::start_with(tb, &[], true)
    }

    /// A bridge with extra arguments; `anonymous` allows clients without
    /// an identity where the bridge needs that said.
    pub fn start_with(tb: &TestBus, extra: &[&str], anonymous: bool) -> Bridge {
        let notify = tb.dir.join("notify");
        let _ = std::fs::remove_file(&notify);
        let sock = UnixDatagram::bind(&notify).unwrap();
        let log = tb.dir.join("bridge.log");
        let logf = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(bridge_path());
        cmd.args(["--bus", &tb.name, "--listen", "127.0.0.1:0"]);
        // Bridges that refuse anonymous clients unless told (loopback only here).
        let help = Command::new(bridge_path()).arg("--help").output().expect("hermes-bridge --help");
        let usage = String::from_utf8_lossy(&help.stdout).into_owned() + &String::from_utf8_lossy(&help.stderr);
        if anonymous && usage.contains("--allow-anonymous") {
            cmd.arg("--allow-anonymous");
        }
        cmd.args(extra);
        let child = cmd
            .arg("--stats-dir")
            .arg(&tb.dir)
            .arg("--state-dir")
            .arg(&tb.dir)
            .env("NOTIFY_SOCKET", &notify)
            .env_remove("HERMES_BUS")
            .env_remove("HERMES_RUN_DIR")
            .stdin(Stdio::null())
            .stdout(logf.try_clone().unwrap())
            .stderr(logf)
            .spawn()
            .expect("spawn hermes-bridge");
        let mut b = Bridge { child: Some(child), addr: String::new(), log };
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 512];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!("hermes-bridge did not report READY=1 within 10 s:\n{}", b.log_text());
            }
            sock.set_read_timeout(Some(left.min(Duration::from_millis(200)))).unwrap();
            if let Ok(n) = sock.recv(&mut buf) {
                let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                if msg.contains("READY=1") {
                    let at = msg.find("listening on ").expect("no address in READY message") + "listening on ".len();
                    b.addr = msg[at..].lines().next().unwrap().trim().to_string();
                    return b;
                }
            }
            if let Some(st) = b.child.as_mut().unwrap().try_wait().unwrap() {
                b.child = None;
                panic!("hermes-bridge exited during start-up ({}):\n{}", st, b.log_text());
            }
        }
    }

    pub fn log_text(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

        /// SIGTERM by pid and reap, within 10 s; panics unless it exits 0.
    pub fn stop(mut self) {
        let mut child = self.child.take().unwrap();
        // SAFETY: kill(2) on our own child's pid.
        unsafe { kill(child.id() as i32, SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                assert!(st.success(), "hermes-bridge exited with {}:\n{}", st, self.log_text());
                return;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("hermes-bridge did not stop within 10 s of SIGTERM:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}


/// Run hermes-bridge to completion (e.g. keygen); panics unless it exits 0.
pub fn bridge_run(args: &[&str]) {
    let out = Command::new(bridge_path()).args(args).output().expect("run hermes-bridge");
    assert!(out.status.success(), "hermes-bridge {:?}: {}", args, String::from_utf8_lossy(&out.stderr));
}

impl Drop for Bridge {
    fn drop(&mut self) {
        // A test that failed half-way: do not leave the bridge running.
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
