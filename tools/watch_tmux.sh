#!/bin/sh
# Run `hermes-ctl watch` in a real terminal (a private, detached tmux server)
# against a real hermesd, and check what a person would see: the ring names,
# a fill bar with something in it, the supervisor line; then Ctrl-C, and the
# terminal is back to normal (main screen, cursor shown) with exit status 0.
#
# usage: watch_tmux.sh HERMES_CTL HERMESD
# Exit status: 0 pass, 1 fail, 77 skipped (no tmux).
set -u

ctl=${1:?usage: watch_tmux.sh HERMES_CTL HERMESD}
hermesd=${2:?usage: watch_tmux.sh HERMES_CTL HERMESD}

if ! command -v tmux >/dev/null 2>&1; then
	echo "watch_tmux: tmux is not installed; skipping"
	exit 77
fi

bus="watch-tmux-$$"
dir=$(mktemp -d /tmp/hermes-watch-tmux.XXXXXX) || exit 1
sock="$dir/tmux.sock"
hermesd_pid=""
tail_pid=""

cleanup() {
	tmux -S "$sock" kill-server 2>/dev/null
	if [ -n "$tail_pid" ]; then
		kill -CONT "$tail_pid" 2>/dev/null
		kill "$tail_pid" 2>/dev/null
		wait "$tail_pid" 2>/dev/null
	fi
	if [ -n "$hermesd_pid" ]; then
		kill "$hermesd_pid" 2>/dev/null
		wait "$hermesd_pid" 2>/dev/null
	fi
	rm -f "/dev/shm/hermes.$bus"
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
	echo "watch_tmux: FAIL: $*" >&2
	if [ -s "$dir/screen" ]; then
		echo "--- last screen ---" >&2
		cat "$dir/screen" >&2
	fi
	exit 1
}

# Poll a condition every 50 ms for at most $1 seconds.
wait_for() {
	limit=$(($1 * 20))
	shift
	i=0
	until "$@"; do
		i=$((i + 1))
		[ "$i" -ge "$limit" ] && return 1
		sleep 0.05
	done
	return 0
}

screen() {
	tmux -S "$sock" capture-pane -p -t watch >"$dir/screen" 2>/dev/null
}
screen_has() {
	screen && grep -q -- "$1" "$dir/screen"
}
screen_shows_watch() {
	screen && grep -q "supervisor up" "$dir/screen" && grep -q '^events ' "$dir/screen" &&
		grep -q '^telemetry ' "$dir/screen" && grep -q '^events .*\[#' "$dir/screen" &&
		grep -q '^telemetry .*\[\.\.\.\.' "$dir/screen"
}
log_ready() {
	grep -q "ready:" "$dir/hermesd.log"
}
tail_subscribed() {
	"$ctl" --bus "$bus" inspect events 2>/dev/null | grep -q " $tail_pid  *hermes-ctl"
}

"$hermesd" --bus "$bus" --run-dir "$dir" --remove-on-exit --size 8M 2>"$dir/hermesd.log" &
hermesd_pid=$!
wait_for 10 log_ready || fail "hermesd did not start: $(cat "$dir/hermesd.log")"

# A subscriber that stops reading, so the ring fills and the bar shows it.
"$ctl" --bus "$bus" tail events >/dev/null &
tail_pid=$!
wait_for 10 tail_subscribed || fail "tail did not subscribe to 'events'"
kill -STOP "$tail_pid"
seq 1 2000 | "$ctl" --bus "$bus" pub events || fail "pub failed"

# 132x40 is room for every column; `sleep` keeps the pane open after watch
# exits so its status and the restored screen can be read.
tmux -S "$sock" new-session -d -s watch -x 132 -y 40 \
	"'$ctl' --bus '$bus' watch --interval 200; echo watch-exit=\$?; sleep 60" ||
	fail "tmux could not start a session"
wait_for 15 screen_shows_watch || fail "the watch screen never showed both rings with fill bars"

tmux -S "$sock" send-keys -t watch C-c
wait_for 10 screen_has "watch-exit=" || fail "watch did not exit on Ctrl-C"
screen_has "watch-exit=0" || fail "watch exited with a non-zero status on Ctrl-C"
screen_has "RING" && fail "the watch screen is still there after exit (alternate screen not left)"
state=$(tmux -S "$sock" display-message -p -t watch '#{alternate_on} #{cursor_flag}')
[ "$state" = "0 1" ] || fail "terminal not restored: alternate_on/cursor_flag = $state"

echo "watch_tmux: ok"
exit 0
