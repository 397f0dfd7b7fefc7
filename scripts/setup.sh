#!/usr/bin/env bash
# Install what Hermes needs on Debian 12 (only what is missing), then
# configure and build one CMake preset (default: release).
#   scripts/setup.sh [PRESET]
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}

packages=(cmake gcc make pkg-config libcmocka-dev libsodium-dev libjemalloc-dev libinih-dev tmux nats-server libnats-dev
	scdoc)
# The bindings' tests (bindings/, label "bindings"): Rust with Debian's toolchain
# (the crate uses std only, built offline), Python 3, and a C++17 compiler.
packages+=(rustc cargo python3 g++)
# The ring protocol's Promela model checker (shm/model, ctest label "model").
packages+=(spin)
[[ ${HERMES_WITH_FUZZ:-0} == 1 ]] && packages+=(clang libclang-rt-dev)
# The transports hermes-bench compares Hermes with (each is skipped when
# missing), and gnuplot for its plot.
[[ ${HERMES_BENCH_PEERS:-0} == 1 ]] && packages+=(libzmq3-dev iceoryx libiceoryx-binding-c-dev gnuplot-nox valgrind)
# Packaging checks in CI: the ABI check (libabigail), the install tests'
# tools (systemd-analyze, strace for the units' system call filter),
# the JSON schema check (python3-jsonschema), the Debian packages (dpkg-dev
# for cpack's dpkg-shlibdeps, debootstrap).
[[ ${HERMES_PACKAGING:-0} == 1 ]] && packages+=(abigail-tools systemd strace python3-jsonschema dpkg-dev debootstrap)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "setup: installing missing Debian packages: ${missing[*]}"
	sudo=()
	if [[ $(id -u) != 0 ]]; then
		command -v sudo >/dev/null || { echo "setup: need root or sudo to install ${missing[*]}" >&2; exit 1; }
		sudo=(sudo)
	fi
	"${sudo[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "setup: configuring and building preset '$preset'"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
