#!/usr/bin/env bash
# The README demo's journal step (scripts/demo_journal.sh) on a private bus:
# a subscriber started after the producer exited reads all of it, from the
# first message, through the journal. Stops what it starts, by pid.
#   test_demo_journal.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
unset HERMES_BUS HERMES_RUN_DIR HERMES_NET_KEY_FILE HERMES_NET_ENCRYPT
bus="t$$-jdemo"
run_dir=$(mktemp -d /tmp/hermes-test-jdemo.XXXXXX)
hermesd_pid=""
. "$src/scripts/lib/procs.sh"
cleanup() {
	stop_pid "$hermesd_pid"
	rm -f "/dev/shm/hermes.$bus"
	rm -rf "$run_dir"
}
trap cleanup EXIT
start_hermesd "$build" "$bus" "$run_dir"
out=$(timeout 120 "$src/scripts/demo_journal.sh" "$build" "$bus" "$run_dir" 20000)
echo "$out"
fail() { echo "FAIL: $*"; exit 1; }
# Head, tail and count of what the late subscriber read.
grep -qx "audit event 1" <<<"$out" || fail "the first message is missing"
grep -qx "audit event 20000" <<<"$out" || fail "the last message is missing"
grep -qx "20000" <<<"$out" || fail "not 20000 messages"
# Each one once, in order.
seq 20000 | sed 's/^/audit event /' | cmp -s - "$run_dir/audit.txt" || fail "audit.txt is not messages 1..20000 in order"
# The ring alone no longer had the first one.
[[ $(grep -A1 -- "--from earliest" <<<"$out" | tail -1) != "audit event 1" ]] || fail "the ring still held everything: no journal needed"
echo "ok: a subscriber started after the producer exited read all 20000 from the first"
