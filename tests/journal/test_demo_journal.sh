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
cleanup() {
	if [[ -n $hermesd_pid ]] && kill -0 "$hermesd_pid" 2>/dev/null; then
		kill -TERM "$hermesd_pid"
		wait "$hermesd_pid" 2>/dev/null || true
	fi
	rm -f "/dev/shm/hermes.$bus"
	rm -rf "$run_dir"
}
trap cleanup EXIT
"$build/shm/hermesd/hermesd" --bus "$bus" --run-dir "$run_dir" --remove-on-exit 2>"$run_dir/hermesd.log" &
hermesd_pid=$!
for _ in $(seq 200); do
	grep -q "ready:" "$run_dir/hermesd.log" 2>/dev/null && break
	kill -0 "$hermesd_pid" 2>/dev/null || { cat "$run_dir/hermesd.log"; exit 1; }
	sleep 0.05
done
grep -q "ready:" "$run_dir/hermesd.log" || { echo "hermesd did not start"; exit 1; }
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
