#!/usr/bin/env bash
# Install the build into a scratch prefix, then check what a user of the
# installed tree relies on:
#   - the files are there, and installed programs find libhermes-ipc with no
#     LD_LIBRARY_PATH or ldconfig ($ORIGIN-relative RUNPATH);
#   - the shared library exports hermes_* only, each versioned HERMES_0.1;
#   - no daemon code (notify, scheduling, logging) is in the library;
#   - a project outside the tree builds and runs against it with
#     find_package(hermes-ipc), find_package(hermes), the static library
#     (hermes::hermes_static), and pkg-config, shared and fully static;
#   - the man pages render with man -l;
#   - the systemd units name this prefix, run as the hermes user with the
#     hardening settings, and verify.
#   test_install.sh BUILD_DIR SOURCE_DIR
#   test_install.sh --installed PREFIX SOURCE_DIR
# The second form checks a tree installed already (the Debian packages in a
# chroot: packaging/test-deb.sh): no RUNPATH then, and the hermes user exists.
set -euo pipefail
installed=0
if [[ $1 == --installed ]]; then
	installed=1
	shift
fi
build=$1
src=$2
TEST_NAME="install test"
# shellcheck source=tests/install/common.sh
source "$(dirname "$0")/common.sh"
work=$(mktemp -d /tmp/hermes-install.XXXXXX)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

if ((installed)); then
	prefix=$build
	getent passwd hermes >/dev/null && getent group hermes >/dev/null ||
		fail "the package did not create the user and group hermes"
else
	cmake --install "$build" --prefix "$prefix" >/dev/null
fi
lib=$(find "$prefix"/lib*/ -maxdepth 2 -name libhermes-ipc.so.0 | head -n1)
[[ -n $lib ]] || fail "missing after install: libhermes-ipc.so.0"
libdir=$(dirname "$lib")
for f in include/hermes/hermes.h include/hermes/bus.h include/hermes/protocol.h include/hermes/version.h \
	bin/hermesd bin/hermes-ctl bin/hermes-bridge bin/hermes-remote share/hermes/hermesd.conf.example \
	share/hermes/schemas/hermes-ctl.list-1.schema.json \
	lib/systemd/system/hermesd@.service lib/systemd/system/hermes-bridge@.service; do
	[[ -e $prefix/$f ]] || fail "missing after install: $f"
done
for f in libhermes-ipc.so.0 libhermes-ipc.a pkgconfig/hermes-ipc.pc cmake/hermes-ipc/hermes-ipc-config.cmake; do
	[[ -e $libdir/$f ]] || fail "missing after install: ${libdir#"$prefix"/}/$f"
done

# RUNPATH: an installed program that links the shared library runs as is.
runpath=$(readelf -d "$prefix/bin/hermes-remote" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p')
if ((installed)); then
	[[ -z $runpath ]] || fail "hermes-remote has RUNPATH '$runpath' in a system prefix"
	runpath="none (system libdir)"
else
	[[ $runpath == '$ORIGIN/../lib' ]] || fail "hermes-remote RUNPATH is '$runpath', not \$ORIGIN/../lib"
fi
"$prefix/bin/hermes-remote" --help >/dev/null || fail "installed hermes-remote does not start"
echo "RUNPATH: $runpath, installed hermes-remote runs"

# Exports: hermes_* only, each in a version node: HERMES_0.1 (the 0.1.0
# release) or HERMES_0.2 (added since, listed by name in the map).
exports=$(objdump -T "$libdir/libhermes-ipc.so.0" | awk '$2 == "g" && $4 != "*UND*" {print $(NF-1), $NF}')
[[ -n $exports ]] || fail "libhermes-ipc.so.0 exports nothing"
bad=$(awk '!($2 ~ /^hermes_/ && ($1 == "HERMES_0.1" || $1 == "HERMES_0.2")) && !($2 == $1 && $1 ~ /^HERMES_0\.[12]$/)' <<<"$exports")
[[ -z $bad ]] || fail "unexpected exports (not hermes_* in HERMES_0.1/0.2): $bad"
echo "exports: $(grep -c ' hermes_' <<<"$exports") symbols, all hermes_*, $(grep -c '^HERMES_0.2 hermes_' <<<"$exports") of them @@HERMES_0.2"

# No daemon code in the library (daemon/: sd_notify, scheduling, the log
# format), exported or internal: not in the dynamic symbols, nor in the
# symbol tables of the shared library (when not stripped) and the static one.
daemon_syms=$( { nm -D --defined-only "$libdir/libhermes-ipc.so.0"
	nm --defined-only "$libdir/libhermes-ipc.so.0" 2>/dev/null || true
	nm --defined-only "$libdir/libhermes-ipc.a" 2>/dev/null || true; } |
	awk 'NF >= 3 {print $3}' | grep -E 'notify|sched|cpus|dlog|(^|_)log(msg|_|v?$)' | sort -u || true)
[[ -z $daemon_syms ]] || fail "daemon code in libhermes-ipc (belongs in daemon/): $daemon_syms"
echo "no notify, scheduling or logging symbols in libhermes-ipc"

export PKG_CONFIG_PATH=$libdir/pkgconfig
for variant in hermes-ipc:hermes::hermes hermes:hermes::hermes hermes-ipc:hermes::hermes_static; do
	pkg=${variant%%:*} target=${variant#*:}
	dir=$work/build-$pkg-${target##*::}
	cmake -S "$src/tests/install/consumer" -B "$dir" -DCMAKE_PREFIX_PATH="$prefix" \
		-DHERMES_PACKAGE="$pkg" -DHERMES_TARGET="$target" >/dev/null
	cmake --build "$dir" >/dev/null
	"$dir/consumer"
	if [[ $target == hermes::hermes_static ]] && readelf -d "$dir/consumer" | grep -q 'libhermes-ipc'; then
		fail "the static consumer needs libhermes-ipc.so"
	fi
	echo "find_package($pkg) with $target: ok"
done

# shellcheck disable=SC2046
cc -o "$work/consumer-pc" "$src/tests/install/consumer/main.c" $(pkg-config --cflags --libs hermes-ipc) \
	-Wl,-rpath,"$libdir"
"$work/consumer-pc"
echo "pkg-config, shared: ok"
# The header-only C++ binding, installed with the C headers.
if command -v c++ >/dev/null; then
	# shellcheck disable=SC2046
	c++ -std=c++17 -Wall -Wextra -Werror -o "$work/consumer-cxx" \
		"$src/tests/install/consumer/main.cpp" $(pkg-config --cflags --libs hermes-ipc) \
		-Wl,-rpath,"$libdir"
	HERMES_BUS= "$work/consumer-cxx"
else
	echo "no C++ compiler: the C++ header check is skipped"
fi
# A fully static program: pkg-config --static must name everything (libsodium
# through Requires.private). glibc warns that getaddrinfo wants its shared
# NSS modules at run time; that is expected.
# shellcheck disable=SC2046
cc -static -o "$work/consumer-static" "$src/tests/install/consumer/main.c" \
	$(pkg-config --static --cflags --libs hermes-ipc) 2>"$work/static.log" ||
	{ cat "$work/static.log" >&2; fail "static link with pkg-config --static failed"; }
! readelf -l "$work/consumer-static" | grep -q INTERP || fail "consumer-static is not static (it has an interpreter)"
"$work/consumer-static"
echo "pkg-config --static, cc -static: ok"

# Man pages: installed, and each renders without a warning.
pages=(man8/hermesd.8 man8/hermes-bridge.8 man8/hermes-nats.8 man1/hermes-ctl.1 man5/hermesd.conf.5
	man5/hermes-bridge.conf.5 man5/hermes-nats.conf.5)
for p in "${pages[@]}"; do
	f=$prefix/share/man/$p
	[[ -f $f ]] || fail "missing man page share/man/$p (is scdoc installed?)"
	warn=$(MANWIDTH=80 man --warnings -l "$f" 2>&1 >"$work/page.txt") || fail "man -l $p failed: $warn"
	[[ -z $warn ]] || fail "man -l $p: $warn"
	grep -q '^NAME' "$work/page.txt" || fail "man -l $p: no NAME section"
done
echo "man pages: ${#pages[@]} render with man -l"

# The units are generated for the prefix given at install time, run the
# daemons as the hermes user with the hardening settings, and verify.
units=("$prefix"/lib/systemd/system/hermes*.service)
((${#units[@]} >= 2)) || fail "no systemd units installed"
for u in "${units[@]}"; do
	name=$(basename "$u")
	exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$u")
	[[ $exe == "$prefix/bin/"* && -x $exe ]] || fail "$name: ExecStart=$exe is not a program of $prefix/bin"
	for setting in User=hermes Group=hermes SystemCallFilter=@system-service LimitCORE=0 NoNewPrivileges=yes; do
		grep -qx "$setting" "$u" || fail "$name: no $setting"
	done
	# --rt-priority needs CAP_SYS_NICE and realtime scheduling allowed.
	if grep -q -- '--rt-priority' "$(dirname "$exe")/../share/man/man8/${exe##*/}.8" 2>/dev/null ||
		"$exe" --help 2>&1 | grep -q -- '--rt-priority'; then
		grep -qx 'AmbientCapabilities=CAP_SYS_NICE' "$u" || fail "$name: --rt-priority without CAP_SYS_NICE"
		! grep -qx 'RestrictRealtime=yes' "$u" || fail "$name: RestrictRealtime=yes defeats --rt-priority"
	fi
done
grep -q -- '--mode 0660 --group hermes' "$prefix/lib/systemd/system/hermesd@.service" ||
	fail "hermesd@.service does not make the bus 0660 group hermes"
grep -qE '^u hermes ' "$prefix/lib/sysusers.d/hermes.conf" || fail "no sysusers.d entry for the hermes user"
if command -v systemd-analyze >/dev/null; then
	# --man=yes: every Documentation=man:PAGE(N) of the units is installed.
	MANPATH=$prefix/share/man systemd-analyze verify --man=yes "${units[@]}"
	echo "units: ${#units[@]} for $prefix, systemd-analyze verify: ok"
else
	echo "units: ${#units[@]} for $prefix (systemd-analyze not installed: not verified)"
fi
echo "install test: ok"
