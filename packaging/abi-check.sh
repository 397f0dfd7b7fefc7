#!/usr/bin/env bash
# ABI check of libhermes-ipc.so.0 against the last release (libabigail).
#
# packaging/abi/libhermes-ipc.so.0.abi is the ABI of the last release, as
# abidw wrote it from that release's tagged sources (0.1.0 is the first). This
# script builds the shared library with debug information (types are read from
# DWARF, limited to the public headers) and compares it with abidiff:
#   - any change to what the last release exported (a function or variable
#     removed, a signature or a public type changed) fails, with abidiff's
#     report;
#   - added functions pass (they are counted); they go into a new version
#     node of cmake/libhermes-ipc.map.
# When a release is tagged, record its ABI as the new baseline:
#   packaging/abi-check.sh --update
# and commit the file with the release. Needs abigail-tools (Debian).
#   packaging/abi-check.sh [--update] [BUILD_DIR]   (default build/abi)
set -euo pipefail
cd "$(dirname "$0")/.."
update=0
[[ ${1:-} == --update ]] && { update=1; shift; }
build=${1:-build/abi}
baseline=packaging/abi/libhermes-ipc.so.0.abi

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DHERMES_BUILD_TESTS=OFF -DHERMES_BUILD_BENCH=OFF \
	-DHERMES_WITH_NATS=OFF -DHERMES_WITH_JEMALLOC=OFF >/dev/null
cmake --build "$build" --target hermes_shared -j "$(nproc)" >/dev/null
lib=$build/libhermes-ipc.so.0

if ((update)); then
	abidw --headers-dir include/hermes --no-corpus-path "$lib" >"$baseline"
	echo "abi-check: wrote $baseline (hermes $(sed -n 's/.*HERMES_VERSION_STRING "\(.*\)"/\1/p' include/hermes/version.h))"
	exit 0
fi
[[ -f $baseline ]] || { echo "abi-check: no baseline $baseline (run with --update at a release)" >&2; exit 1; }
set +e
abidiff --no-added-syms --headers-dir2 include/hermes "$baseline" "$lib" >"$build/abidiff.txt"
rc=$?
set -e
# abidiff's status is a bit field: 1 error, 2 usage error, 4 ABI change,
# 8 incompatible ABI change.
if ((rc & 3)); then
	cat "$build/abidiff.txt" >&2
	echo "abi-check: abidiff failed to run (status $rc)" >&2
	exit 1
fi
if ((rc & 12)); then
	cat "$build/abidiff.txt" >&2
	echo "abi-check: the ABI changed against the last release (above): a public type, or a function's" >&2
	echo "abi-check: signature, or a removed symbol. Restore it, or bump the soname and the baseline." >&2
	exit 1
fi
added=$(abidiff --headers-dir2 include/hermes "$baseline" "$lib" | grep -c "^  \[A\]" || true)
# A function the last release did not have must not land in its version node
# (the map's pattern would put it there): list it by name in the newer node.
released=$(grep -o "elf-symbol name='hermes_[A-Za-z0-9_]*'" "$baseline" | sed "s/elf-symbol name='//; s/'//" | sort -u)
stray=$(objdump -T "$lib" | awk '$2 == "g" && $(NF-1) == "HERMES_0.1" && $NF ~ /^hermes_/ {print $NF}' | sort -u | comm -13 <(echo "$released") -)
if [[ -n $stray ]]; then
	echo "abi-check: added since the last release but versioned HERMES_0.1 (list them in the newest node of cmake/libhermes-ipc.map):" >&2
	echo "$stray" >&2
	exit 1
fi
echo "abi-check: compatible with the last release; $added functions added, none in the release's node"
