#!/bin/sh
# Build the fuzzers with clang and run each for DURATION seconds: the
# decoder, then the bridge's connection state machine.
#
#   fuzz/run.sh [DURATION]     (default 60)
#
# Configures its own build directory (build-fuzz, or $HERMES_FUZZ_BUILD_DIR),
# runs libFuzzer on a scratch copy of fuzz/corpus/decoder so the checked-in
# seeds stay as they are, and exits non-zero when libFuzzer finds a crash, a
# leak, undefined behaviour or a failed check; the input that did it is kept
# in <build dir>/fuzz-artifacts/. The seeds are the frames of the worked
# examples in docs/PROTOCOL.md, each behind the two configuration bytes that
# fuzz/fuzz_decoder.c describes.
set -eu

duration=${1:-60}
case $duration in
'' | *[!0-9]*)
	echo "usage: fuzz/run.sh [DURATION_SECONDS]" >&2
	exit 2
	;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
build=${HERMES_FUZZ_BUILD_DIR:-$root/build-fuzz}

cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DHERMES_BUILD_FUZZ=ON -DHERMES_BUILD_TESTS=OFF -DHERMES_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" --target fuzz_decoder fuzz_bridge_conn -j "${JOBS:-2}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$build/fuzz-artifacts"
cp "$root"/fuzz/corpus/decoder/* "$work/corpus/"

"$build/fuzz/fuzz_decoder" -max_total_time="$duration" -print_final_stats=1 \
	-artifact_prefix="$build/fuzz-artifacts/" "$work/corpus"

# The bridge's connection state machine (fuzz/fuzz_bridge_conn.c), as long.
mkdir -p "$work/bridge_conn"
cp "$root"/fuzz/corpus/bridge_conn/* "$work/bridge_conn/"
"$build/fuzz/fuzz_bridge_conn" -max_total_time="$duration" -print_final_stats=1 \
	-artifact_prefix="$build/fuzz-artifacts/" "$work/bridge_conn"
