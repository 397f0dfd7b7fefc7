# shellcheck shell=bash
# Start, wait for and stop the daemons a demo runs: sourced by scripts/demo.sh,
# scripts/demo_journal.sh and tests/journal/test_demo_journal.sh. Every wait
# has a deadline; every stop is by pid.

# How long a daemon may take to say it is ready: WAIT_TRIES looks, 50 ms apart.
WAIT_TRIES=200

# stop_pid PID: SIGTERM the process if it is still there, and reap it.
stop_pid() {
	local pid=$1
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		wait "$pid" 2>/dev/null || true
	fi
}

# wait_log PID LOG PATTERN WHAT: wait until the log of the daemon PID holds
# PATTERN. Fails, showing the log, when the daemon exits first or does not
# get there in time.
wait_log() {
	local pid=$1 log=$2 pattern=$3 what=$4
	for _ in $(seq "$WAIT_TRIES"); do
		grep -q -- "$pattern" "$log" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	grep -q -- "$pattern" "$log" 2>/dev/null && return 0
	echo "$what did not start"
	cat "$log"
	return 1
}

# start_hermesd BUILD_DIR BUS RUN_DIR: hermesd on its embedded default config
# for BUS, its log in RUN_DIR/hermesd.log; sets hermesd_pid, returns once it
# is ready.
start_hermesd() {
	local bin=$1 bus=$2 run_dir=$3
	"$bin/shm/hermesd/hermesd" --bus "$bus" --run-dir "$run_dir" --remove-on-exit \
		2>"$run_dir/hermesd.log" &
	hermesd_pid=$!
	wait_log "$hermesd_pid" "$run_dir/hermesd.log" "ready:" hermesd
}
