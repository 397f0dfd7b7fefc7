#!/usr/bin/env bash
# The README's demo command: set up (packages, Release build), start hermesd
# on its embedded default (no config file) for a private bus, run the demo
# against it, show the bus, then stop everything. Ctrl-C at any moment stops
# what was started and leaves no process, segment or socket behind.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh release >/dev/null
bin=build/release
. scripts/lib/procs.sh

bus="demo-$$"
run_dir=$(mktemp -d /tmp/hermes-demo.XXXXXX)
hermesd_pid=""
bridge_pid=""
cleanup() {
	trap - EXIT INT TERM
	stop_pid "$bridge_pid"
	stop_pid "$hermesd_pid"
	rm -f "/dev/shm/hermes.$bus"
	rm -rf "$run_dir"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted"; exit 130' INT TERM

echo "== starting hermesd for bus '$bus' (embedded default config, run dir $run_dir)"
start_hermesd "$bin" "$bus" "$run_dir"
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
wait_log "$bridge_pid" "$run_dir/bridge.log" "listening on 127.0.0.1:[0-9]" hermes-bridge
port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$run_dir/bridge.log")
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
stop_pid "$bridge_pid"
bridge_pid=""
stop_pid "$hermesd_pid"
hermesd_pid=""
tail -n 2 "$run_dir/hermesd.log" | sed 's/^/   /'
[[ -e /dev/shm/hermes.$bus ]] && echo "demo: segment still there!" || echo "== done: no process, segment or socket left behind"
