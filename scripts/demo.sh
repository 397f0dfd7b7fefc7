#!/usr/bin/env bash
# The README's demo command: set up (packages, Release build), start hermesd
# on its embedded default (no config file) for a private bus, run the demo
# against it, show the bus, then stop everything. Ctrl-C at any moment stops
# what was started and leaves no process, segment or socket behind.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh release >/dev/null
bin=build/release

bus="demo-$$"
run_dir=$(mktemp -d /tmp/hermes-demo.XXXXXX)
hermesd_pid=""
bridge_pid=""
cleanup() {
	trap - EXIT INT TERM
	if [[ -n $bridge_pid ]] && kill -0 "$bridge_pid" 2>/dev/null; then
		kill -TERM "$bridge_pid"
		wait "$bridge_pid" 2>/dev/null || true
	fi
	if [[ -n $hermesd_pid ]] && kill -0 "$hermesd_pid" 2>/dev/null; then
		kill -TERM "$hermesd_pid"
		wait "$hermesd_pid" 2>/dev/null || true
	fi
	rm -f "/dev/shm/hermes.$bus"
	rm -rf "$run_dir"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted"; exit 130' INT TERM

echo "== starting hermesd for bus '$bus' (embedded default config, run dir $run_dir)"
"$bin/shm/hermesd/hermesd" --bus "$bus" --run-dir "$run_dir" --remove-on-exit 2>"$run_dir/hermesd.log" &
hermesd_pid=$!
for _ in $(seq 100); do
	grep -q "ready:" "$run_dir/hermesd.log" 2>/dev/null && break
	kill -0 "$hermesd_pid" 2>/dev/null || { cat "$run_dir/hermesd.log"; exit 1; }
	sleep 0.05
done
grep -q "ready:" "$run_dir/hermesd.log" || { echo "demo: hermesd did not start"; cat "$run_dir/hermesd.log"; exit 1; }
sed 's/^/   /' "$run_dir/hermesd.log"

echo "== local producer and consumer over shared memory"
"$bin/examples/hermes-demo" --bus "$bus"

echo "== starting hermes-bridge on 127.0.0.1 (a free port), anonymous clients allowed"
# --allow-anonymous: any local user could use this bus through the bridge,
# whatever the segment's mode. Fine for a demo on a private bus; a real
# deployment gives each client an identity (--auth FILE, hermes-bridge keygen).
"$bin/tcp-bridge/bridge/hermes-bridge" --bus "$bus" --listen 127.0.0.1:0 --stats-dir "$run_dir" \
	--state-dir "$run_dir" --allow-anonymous 2>"$run_dir/bridge.log" &
bridge_pid=$!
port=""
for _ in $(seq 100); do
	port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$run_dir/bridge.log")
	[[ -n $port ]] && break
	kill -0 "$bridge_pid" 2>/dev/null || { cat "$run_dir/bridge.log"; exit 1; }
	sleep 0.05
done
[[ -n $port ]] || { echo "demo: hermes-bridge did not start"; cat "$run_dir/bridge.log"; exit 1; }
echo "   listening on 127.0.0.1:$port"
echo "== remote producer and consumer through the bridge (TCP loopback)"
"$bin/tcp-bridge/remote/hermes-remote" --connect "127.0.0.1:$port" --ring events -n 20000
"$bin/tcp-bridge/remote/hermes-remote" --connect "127.0.0.1:$port" --ring events --stream -n 1000000

ctl() { echo "\$ hermes-ctl $*"; "$bin/tools/hermes-ctl" --bus "$bus" "$@"; }
echo "== the bus, seen with hermes-ctl"
ctl create orders --capacity 1M --max-msg 4K --policy block
ctl pub orders "order id=1 qty=2 px=101.1"
ctl pub orders "order id=2 qty=5 px=101.3"
ctl list
ctl inspect ping
ctl tail orders --from earliest --count 2

echo "== the journal: a subscriber that starts after the producer finished reads everything"
scripts/demo_journal.sh "$bin" "$bus" "$run_dir"

echo "== stopping hermes-bridge and hermesd"
kill -TERM "$bridge_pid"
wait "$bridge_pid" || true
bridge_pid=""
kill -TERM "$hermesd_pid"
wait "$hermesd_pid" || true
hermesd_pid=""
tail -n 2 "$run_dir/hermesd.log" | sed 's/^/   /'
[[ -e /dev/shm/hermes.$bus ]] && echo "demo: segment still there!" || echo "== done: no process, segment or socket left behind"
