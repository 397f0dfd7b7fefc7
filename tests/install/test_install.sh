#!/usr/bin/env bash
# Install the build into a scratch prefix, then build and run a project from
# outside the tree against it: with find_package(hermes-ipc), with
# find_package(hermes), and with pkg-config. Also verify the systemd units
# when systemd-analyze is available.
#   test_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
work=$(mktemp -d /tmp/hermes-install.XXXXXX)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(ls -d "$prefix"/lib*/ | head -n1)
for f in include/hermes/hermes.h include/hermes/bus.h include/hermes/protocol.h bin/hermesd \
	bin/hermes-ctl share/hermes/hermesd.conf.example lib/systemd/system/hermesd@.service; do
	[[ -e $prefix/$f ]] || { echo "missing after install: $f"; exit 1; }
done
ls "$libdir"/libhermes-ipc.so.0 "$libdir"/libhermes-ipc.a "$libdir"/pkgconfig/hermes-ipc.pc \
	"$libdir"/cmake/hermes-ipc/hermes-ipc-config.cmake >/dev/null

export LD_LIBRARY_PATH=$libdir
for pkg in hermes-ipc hermes; do
	cmake -S "$src/tests/install/consumer" -B "$work/build-$pkg" -DCMAKE_PREFIX_PATH="$prefix" \
		-DHERMES_PACKAGE=$pkg >/dev/null
	cmake --build "$work/build-$pkg" >/dev/null
	"$work/build-$pkg/consumer"
done

export PKG_CONFIG_PATH=$libdir/pkgconfig
# shellcheck disable=SC2046
cc -o "$work/consumer-pc" "$src/tests/install/consumer/main.c" $(pkg-config --cflags --libs hermes-ipc)
"$work/consumer-pc"

if command -v systemd-analyze >/dev/null; then
	# The units name the configured bindir; point them at this prefix.
	mkdir -p "$work/units"
	for u in "$prefix"/lib/systemd/system/*.service; do
		sed -E "s|^ExecStart=[^ ]*/([a-z-]+) |ExecStart=$prefix/bin/\1 |" "$u" >"$work/units/$(basename "$u")"
	done
	systemd-analyze verify "$work"/units/*.service
	echo "systemd-analyze verify: ok"
else
	echo "systemd-analyze not installed: unit files not verified"
fi
echo "install test: ok"
