#!/usr/bin/env bash
# The Debian packages on a fresh Debian 12: debootstrap a minimal bookworm
# root (no container needed: chroot, with /proc and /dev/shm mounted), install
# the three packages there with apt (which brings their dependencies), run
# the install test against the installed tree (tests/install/test_install.sh
# --installed /usr), then purge them and check that nothing is left.
# systemd does not run in the chroot: the units are checked with
# systemd-analyze verify, not started.
#   packaging/test-deb.sh PACKAGE_DIR [MIRROR]   (as root; default mirror:
#   the first of this machine's apt sources, else deb.debian.org)
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=$(realpath "$1")
mirror=${2:-$(sed -n 's/^URIs: *\([^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)}
mirror=${mirror:-http://deb.debian.org/debian}
[[ $(id -u) == 0 ]] || { echo "test-deb: needs root (debootstrap, chroot, mount)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "test-deb: needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }
root=$(mktemp -d /tmp/hermes-deb-root.XXXXXX)
chmod 755 "$root"
mounts=()
cleanup() {
	for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" || true; done
	rm -rf --one-file-system "$root"
	rm -f "$log"
}
trap cleanup EXIT
log=$(mktemp /tmp/hermes-deb-log.XXXXXX)
quiet() { "$@" >"$log" 2>&1 || { tail -30 "$log" >&2; echo "test-deb: failed: $*" >&2; exit 1; }; }
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
	DEBIAN_FRONTEND=noninteractive "$@"; }
t0=$SECONDS

echo "test-deb: debootstrap bookworm (minbase) from $mirror"
quiet debootstrap --variant=minbase bookworm "$root" "$mirror"
mount -t proc proc "$root/proc" && mounts+=("$root/proc")
mkdir -p "$root/dev/shm"
mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm" && mounts+=("$root/dev/shm")
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true

mkdir -p "$root/tmp/debs" "$root/tmp/src/tests"
cp "$pkgs"/*.deb "$root/tmp/debs/"
cp -r tests/install "$root/tmp/src/tests/"
echo "test-deb: installing $(cd "$pkgs" && echo *.deb) with their dependencies ($((SECONDS - t0)) s)"
quiet in_root apt-get update
debs=()
for d in "$pkgs"/*.deb; do debs+=("/tmp/debs/$(basename "$d")"); done
quiet in_root apt-get install -y "${debs[@]}"
# What the install test itself uses: a compiler, CMake, pkg-config, man,
# systemd-analyze (systemd comes as hermes-ipc's Recommends).
quiet in_root apt-get install -y --no-install-recommends cmake gcc libc6-dev make pkg-config \
	binutils man-db systemd

echo "test-deb: install test in the chroot ($((SECONDS - t0)) s)"
in_root bash /tmp/src/tests/install/test_install.sh --installed /usr /tmp/src

echo "test-deb: purge ($((SECONDS - t0)) s)"
quiet in_root apt-get purge -y hermes-ipc libhermes-ipc-dev libhermes-ipc0
left=$(in_root dpkg-query -W -f='${Package} ${Status}\n' hermes-ipc libhermes-ipc-dev libhermes-ipc0 2>/dev/null |
	grep -v 'not-installed' || true)
[[ -z $left ]] || { echo "test-deb: still known to dpkg after purge: $left" >&2; exit 1; }
for f in usr/bin/hermesd usr/bin/hermes-ctl usr/lib/systemd/system/hermesd@.service \
	usr/lib/x86_64-linux-gnu/libhermes-ipc.so.0 usr/include/hermes usr/share/hermes var/lib/hermes; do
	[[ ! -e $root/$f ]] || { echo "test-deb: /$f is left after purge" >&2; exit 1; }
done
in_root ldconfig -p | grep -q libhermes-ipc && { echo "test-deb: ld.so cache still lists libhermes-ipc" >&2; exit 1; }
echo "test-deb: install, install test and purge: ok ($((SECONDS - t0)) s)"
