#!/usr/bin/env bash
# Build the Debian packages (libhermes-ipc0, libhermes-ipc-dev, hermes-ipc)
# with CPack from a Release build for prefix /usr.
#   packaging/build-deb.sh [BUILD_DIR]   (default build/deb; packages in BUILD_DIR/packages)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/deb}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr -DHERMES_WERROR=ON \
	-DHERMES_BUILD_TESTS=OFF -DHERMES_BUILD_BENCH=OFF -DHERMES_BUILD_MAN=ON >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null
rm -rf "$build/packages"
(cd "$build" && cpack -G DEB -B "$PWD/packages" >/dev/null)
rm -rf "$build/packages/_CPack_Packages"
ls "$build"/packages/*.deb
