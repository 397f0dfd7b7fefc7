#!/usr/bin/env bash
# The demo's journal step (scripts/demo.sh runs it; so does the test
# demo_journal): a ring recorded by hermes-journal, a producer that publishes
# far more than the ring holds and exits, and only then a subscriber, which
# still reads every message from the first one: from the journal, then live.
#   scripts/demo_journal.sh BUILD_DIR BUS RUN_DIR [COUNT]
# Needs hermesd running for BUS. Stops the recorder it starts, whatever happens.
set -euo pipefail
bin=$1 bus=$2 run_dir=$3 count=${4:-20000}
# shellcheck source=scripts/lib/procs.sh
. "$(dirname "$0")/lib/procs.sh"
ctl() { "$bin/tools/hermes-ctl" --bus "$bus" "$@"; }
journal_pid=""
stop_journal() {
	stop_pid "$journal_pid"
	journal_pid=""
}
trap stop_journal EXIT

echo "\$ hermes-ctl create audit --capacity 64K --max-msg 1K --policy block"
ctl create audit --capacity 64K --max-msg 1K --policy block
echo "\$ hermes-journal --bus $bus --ring audit:$run_dir/journal/audit &"
mkdir -p "$run_dir/journal"
"$bin/journal/recorder/hermes-journal" --bus "$bus" --ring "audit:$run_dir/journal/audit" \
	2>"$run_dir/journal.log" &
journal_pid=$!
wait_log "$journal_pid" "$run_dir/journal.log" "recording 1 ring" hermes-journal
echo "\$ seq $count | sed 's/^/audit event /' | hermes-ctl pub audit    # the producer, then it exits"
seq "$count" | sed 's/^/audit event /' | ctl pub audit
echo "\$ hermes-ctl tail audit --from earliest --count 1    # the ring itself kept only the last ones"
ctl tail audit --from earliest --count 1
echo "\$ hermes-ctl tail audit --from 0 --journal $run_dir/journal/audit --count $count > audit.txt"
ctl tail audit --from 0 --journal "$run_dir/journal/audit" --count "$count" >"$run_dir/audit.txt"
echo "\$ head -2 audit.txt; tail -1 audit.txt; wc -l < audit.txt"
head -2 "$run_dir/audit.txt"
tail -1 "$run_dir/audit.txt"
wc -l <"$run_dir/audit.txt"
echo "\$ hermes-ctl journal list $run_dir/journal/audit"
ctl journal list "$run_dir/journal/audit"
stop_journal
