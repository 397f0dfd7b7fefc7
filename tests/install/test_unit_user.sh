#!/usr/bin/env bash
# The units' user model, without systemd: hermesd run as an unprivileged user
# and group (as User=hermes, Group=hermes), with the units' --mode 0660
# --group, makes a bus that a process of another user in that group can use
# (publish and read through hermes-ctl) and a process outside the group
# cannot (permission denied). Numeric ids, so no account is created.
#   test_unit_user.sh BUILD_DIR SOURCE_DIR   (needs root and setpriv)
set -euo pipefail
build=$1
TEST_NAME="unit user test"
# shellcheck source=tests/install/common.sh
source "$(dirname "$0")/common.sh"
[[ $(id -u) == 0 ]] || { echo "needs root (to switch users): skipped"; exit 77; }
command -v setpriv >/dev/null || { echo "setpriv is not installed: skipped"; exit 77; }
daemon_uid=61701 group=61701 member_uid=61702 outsider_uid=61703
# The binaries must be reachable by other users (not under a 0700 home).
setpriv --reuid="$daemon_uid" --regid="$group" --clear-groups -- test -x "$build/shm/hermesd/hermesd" ||
	{ echo "$build is not reachable by other users: skipped"; exit 77; }
work=$(mktemp -d /tmp/hermes-unituser.XXXXXX)
chmod 0755 "$work"
run=$work/run
mkdir "$run"
chown "$daemon_uid:$group" "$run"
bus=unituser-$$
hpid=
cleanup() {
	[[ -n $hpid ]] && kill "$hpid" 2>/dev/null && wait "$hpid" 2>/dev/null
	rm -rf "$work" "/dev/shm/hermes.$bus"
}
trap cleanup EXIT
as() { # as UID GROUPS COMMAND...: run with that uid, primary gid = uid, those supplementary groups
	local uid=$1 groups=$2
	shift 2
	setpriv --reuid="$uid" --regid="$uid" --groups="$groups" --inh-caps=-all -- "$@"
}

setpriv --reuid="$daemon_uid" --regid="$group" --clear-groups --inh-caps=-all -- \
	"$build/shm/hermesd/hermesd" --bus "$bus" --run-dir "$run" --mode 0660 --group "$group" --log-level warn &
hpid=$!
wait_for 10 test -S "$run/$bus.sock"
seg=/dev/shm/hermes.$bus
[[ $(stat -c '%a %u %g' "$seg") == "660 $daemon_uid $group" ]] ||
	fail "segment is $(stat -c '%a %u %g' "$seg"), want 660 $daemon_uid $group"
[[ $(stat -c '%a %g' "$run/$bus.sock") == "660 $group" ]] ||
	fail "control socket is $(stat -c '%a %g' "$run/$bus.sock"), want 660 group $group"

ctl=("$build/tools/hermes-ctl" --bus "$bus" --run-dir "$run")
as "$member_uid" "$group" "${ctl[@]}" pub events "from a group member" >/dev/null ||
	fail "a member of the group cannot publish"
out=$(as "$member_uid" "$group" "${ctl[@]}" tail events --from earliest --count 1)
[[ $out == "from a group member" ]] || fail "a member of the group read '$out'"
as "$member_uid" "$group" "${ctl[@]}" create byapp --capacity 64K >/dev/null ||
	fail "a member of the group cannot create a ring through hermesd"
if err=$(as "$outsider_uid" "$outsider_uid" "${ctl[@]}" pub events "outsider" 2>&1); then
	fail "a process outside the group published"
fi
grep -qi "permission denied\|EACCES" <<<"$err" || fail "the outsider got '$err', not permission denied"
echo "bus 0660 group $group from hermesd as uid $daemon_uid: member ok, outsider refused"
echo "unit user test: ok"
