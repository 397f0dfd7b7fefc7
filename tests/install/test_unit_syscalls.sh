#!/usr/bin/env bash
# The units' SystemCallFilter=@system-service allows every system call the
# daemons make: run hermesd and hermes-bridge under strace through their
# start, ring creation, a config reload, local and remote publish and
# subscribe, and a graceful stop, and check each call against the set
# systemd-analyze gives for @system-service (with its nested groups). Also
# checks the calls --cpu and --rt-priority need.
#   test_unit_syscalls.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
TEST_NAME="syscall test"
# shellcheck source=tests/install/common.sh
source "$(dirname "$0")/common.sh"
for tool in strace systemd-analyze; do
	command -v "$tool" >/dev/null || { echo "$tool is not installed: skipped"; exit 77; }
done
work=$(mktemp -d /tmp/hermes-syscalls.XXXXXX)
bus=syscalls-$$
straces=()
cleanup() {
	for s in "${straces[@]}"; do
		for c in $(cat "/proc/$s/task/$s/children" 2>/dev/null); do kill "$c" 2>/dev/null || true; done
	done
	for s in "${straces[@]}"; do wait "$s" 2>/dev/null || true; done
	rm -rf "$work" "/dev/shm/hermes.$bus"
}
trap cleanup EXIT
# The traced daemon: strace's one child.
traced() { cat "/proc/$1/task/$1/children" 2>/dev/null | awk '{print $1}'; }
stop() { # stop STRACE_PID: SIGTERM the daemon, wait for strace to end
	local d
	d=$(traced "$1")
	[[ -n $d ]] && kill -TERM "$d"
	local deadline=$((SECONDS + 10))
	while kill -0 "$1" 2>/dev/null; do
		((SECONDS < deadline)) || fail "daemon under strace $1 did not stop"
		sleep 0.05
	done
}

# The allowed set: @system-service and the groups it names, expanded.
# (systemd-analyze prints the group's own name first: skip groups seen.)
declare -A seen=()
expand() {
	seen[$1]=1
	local n
	for n in $(systemd-analyze syscall-filter "$1" | grep -v '^ *#'); do
		if [[ $n == @* ]]; then
			[[ -n ${seen[$n]:-} ]] || expand "$n"
		else
			echo "$n"
		fi
	done
}
expand @system-service | sort -u >"$work/allowed"
for need in sched_setaffinity sched_setscheduler futex_waitv memfd_create; do
	grep -qx "$need" "$work/allowed" || fail "@system-service lacks $need"
done

ctl=("$build/tools/hermes-ctl" --bus "$bus" --run-dir "$work")
strace -f -qq -o "$work/hermesd.trace" "$build/shm/hermesd/hermesd" --bus "$bus" --run-dir "$work" \
	--mode 0660 --cpu 0 --log-level error &
straces+=($!)
wait_for 10 test -S "$work/$bus.sock"
"${ctl[@]}" create orders --capacity 64K >/dev/null
strace -f -qq -o "$work/bridge.trace" "$build/tcp-bridge/bridge/hermes-bridge" --bus "$bus" \
	--listen 127.0.0.1:0 --allow-anonymous --stats-dir "$work" --state-dir "$work" --cpu 0 \
	--log-level error &
straces+=($!)
wait_for 10 compgen -G "$work/hermes-bridge.$bus.[0-9]*"
port=$(ls "$work"/hermes-bridge."$bus".* | sed -n 's/.*\.\([0-9][0-9]*\)$/\1/p')
"${ctl[@]}" pub orders local >/dev/null
"${ctl[@]}" pub orders remote --remote "127.0.0.1:$port" >/dev/null
"${ctl[@]}" tail orders --from earliest --count 2 --remote "127.0.0.1:$port" >/dev/null
"${ctl[@]}" tail orders --from earliest --count 2 >/dev/null
"${ctl[@]}" clients >/dev/null
kill -HUP "$(traced "${straces[0]}")"
"${ctl[@]}" delete orders >/dev/null
stop "${straces[1]}"
stop "${straces[0]}"

for t in hermesd bridge; do
	sed -E 's/^[0-9]+ +//; s/^<\.\.\. ([a-z0-9_]+) resumed>.*/\1/; s/\(.*//' "$work/$t.trace" |
		grep -E '^[a-z_0-9]+$' | sort -u >"$work/$t.calls"
	[[ -s $work/$t.calls ]] || fail "no system calls traced for $t"
	outside=$(comm -23 "$work/$t.calls" "$work/allowed" | grep -vx 'execve' | tr '\n' ' ' || true)
	[[ -z $outside ]] || fail "$t makes calls outside @system-service: $outside"
	echo "$t: $(wc -l <"$work/$t.calls") distinct system calls, all in @system-service"
done
echo "syscall test: ok"
