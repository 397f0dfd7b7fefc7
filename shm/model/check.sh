#!/usr/bin/env bash
# Check the ring v2 protocol model (ring.pml) with spin: every configuration
# below must pass, and every deliberately broken variant must fail.
#   shm/model/check.sh [NAME...]   (default: all runs)
# Exit status: 0 all as expected, 1 a run did not end as expected,
# 77 spin is not installed (ctest counts that as skipped).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
model=$here/ring.pml

if ! command -v spin >/dev/null; then
	echo "check.sh: spin is not installed (Debian package 'spin'); skipping" >&2
	exit 77
fi
cc=${CC:-cc}
if ! command -v "$cc" >/dev/null; then
	echo "check.sh: no C compiler ($cc) to build the verifier" >&2
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/hermes-model.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Memory bound for each verifier (MB); the search fails rather than swap.
memlim=${HERMES_MODEL_MEMLIM:-1024}

# name | expect | model switches | verifier build switches | verifier options
# Every run is exhaustive (-DCOLLAPSE only compresses stored states).
# -O0 (after -O2, so it wins): for small searches, where building the
# verifier with -O2 costs more than the search saves.
# Producer 0 makes a single claim then a batch of 2, producer 1 a
# zero-length claim (CLAIMS0/CLAIMS1 limit how many each makes).
runs=(
	# --- the protocol as designed: must pass ---------------------------------
	# (deaths: subscriber 1 joined early too; with its join concurrent the
	# search needs about 1.2 GB; torn, batch, two-deaths, reuse and hold
	# join it concurrently with a death)
	"deaths|pass|-DCLAIMS0=2 -DCLAIMS1=1 -DMAX_DEATHS=1 -DREPAIR_DEATHS=0 -DEARLY0 -DEARLY1|-DSAFETY -DCOLLAPSE -O0|"
	"torn|pass|-DTORN -DCLAIMS0=1 -DCLAIMS1=1 -DMAX_DEATHS=1 -DREPAIR_DEATHS=1 -DEARLY0|-DSAFETY -DCOLLAPSE -O0|"
	"batch|pass|-DBATCH_FIRST -DCLAIMS0=1 -DCLAIMS1=1 -DMAX_DEATHS=1 -DREPAIR_DEATHS=1 -DEARLY0|-DSAFETY -DCOLLAPSE|"
	"two-deaths|pass|-DCLAIMS0=1 -DCLAIMS1=1 -DMAX_DEATHS=2 -DREPAIR_DEATHS=0 -DEARLY0|-DSAFETY -DCOLLAPSE -O0|"
	"reuse|pass|-DREUSE -DCLAIMS0=1 -DCLAIMS1=1 -DMAX_DEATHS=1 -DREPAIR_DEATHS=0 -DEARLY0|-DSAFETY -DCOLLAPSE|"
	"joins|pass|-DBATCH_FIRST -DCLAIMS0=1 -DCLAIMS1=1 -DMAX_DEATHS=0 -DREPAIR_DEATHS=0|-DSAFETY -DCOLLAPSE|"
	"hold|pass|-DHOLD -DBATCH_FIRST -DCLAIMS0=1 -DCLAIMS1=1 -DMAX_DEATHS=1 -DREPAIR_DEATHS=0 -DEARLY0|-DSAFETY -DCOLLAPSE|"
	"sleep|pass|-DSLEEP -DONE_SUB -DCLAIMS0=1 -DCLAIMS1=1 -DMAX_DEATHS=1 -DREPAIR_DEATHS=0 -DEARLY0|-DSAFETY -DCOLLAPSE -O0|"
	"psleep|pass|-DPSLEEP -DONE_SUB -DBATCH_FIRST -DCLAIMS0=1 -DCLAIMS1=1 -DMAX_DEATHS=1 -DSUB_GONE=1 -DREPAIR_DEATHS=1 -DEARLY0|-DSAFETY -DCOLLAPSE|"
	"psleep-both|pass|-DPSLEEP -DSLEEP -DONE_SUB -DBATCH_FIRST -DCLAIMS0=1 -DCLAIMS1=1 -DMAX_DEATHS=1 -DREPAIR_DEATHS=0 -DEARLY0|-DSAFETY -DCOLLAPSE|"
	"psleep-two|pass|-DPSLEEP -DBATCH_FIRST -DCLAIMS0=1 -DCLAIMS1=1 -DMAX_DEATHS=0 -DREPAIR_DEATHS=0 -DEARLY0 -DEARLY1|-DSAFETY -DCOLLAPSE -O0|"
	"progress|pass|-DSPIN_WAIT -DCLAIMS0=1 -DCLAIMS1=1 -DMAX_DEATHS=1 -DREPAIR_DEATHS=0 -DEARLY0|-DNP -DNFAIR=3 -DCOLLAPSE|-l -f"
	# --- broken variants: must fail -------------------------------------------
	"bug-no-help|fail|-DBUG_NO_HELP -DCLAIMS0=2 -DCLAIMS1=1 -DMAX_DEATHS=1 -DREPAIR_DEATHS=0 -DEARLY0|-DSAFETY -O0|"
	"bug-held-first|fail|-DBUG_HELD_FIRST -DCLAIMS0=2 -DCLAIMS1=1 -DMAX_DEATHS=1 -DREPAIR_DEATHS=0 -DEARLY0|-DSAFETY -O0|"
	"bug-old-won|fail|-DBUG_OLD_WON -DTORN -DCLAIMS0=2 -DCLAIMS1=1 -DMAX_DEATHS=1 -DREPAIR_DEATHS=0 -DEARLY0|-DSAFETY -O0|-E"
	"bug-pos-moved|fail|-DBUG_POS_MOVED -DCLAIMS0=2 -DCLAIMS1=1 -DMAX_DEATHS=1 -DREPAIR_DEATHS=0 -DEARLY0|-DSAFETY -O0|"
	"bug-head-only|fail|-DBUG_HEAD_ONLY -DBATCH_FIRST -DCLAIMS0=1 -DCLAIMS1=1 -DMAX_DEATHS=1 -DREPAIR_DEATHS=0 -DEARLY0|-DSAFETY -O0|"
	"bug-skip-unpublished|fail|-DBUG_SKIP_UNPUBLISHED -DCLAIMS0=2 -DCLAIMS1=1 -DMAX_DEATHS=0 -DREPAIR_DEATHS=0 -DEARLY0|-DSAFETY -O0|"
	"bug-repair-wake|fail|-DBUG_REPAIR_WAKE_IF_TOUCHED -DSLEEP -DCLAIMS0=1 -DCLAIMS1=1 -DMAX_DEATHS=1 -DREPAIR_DEATHS=0 -DEARLY0|-DSAFETY -O0|"
	"bug-no-progress|fail|-DBUG_NO_HELP -DSPIN_WAIT -DCLAIMS0=2 -DCLAIMS1=1 -DMAX_DEATHS=1 -DREPAIR_DEATHS=0 -DEARLY0|-DNP -DNFAIR=3 -O0|-l -f"
	# Producers asleep on a full ring (PSLEEP): a lost wake-up is a deadlock.
	"bug-release-no-wake|fail|-DBUG_RELEASE_NO_WAKE -DPSLEEP -DONE_SUB -DBATCH_FIRST -DCLAIMS0=1 -DCLAIMS1=1 -DREPAIR_DEATHS=0 -DEARLY0 -DMAX_DEATHS=0|-DSAFETY -O0|"
	"bug-pwake-no-barrier|fail|-DBUG_PWAKE_NO_BARRIER -DPSLEEP -DONE_SUB -DBATCH_FIRST -DCLAIMS0=1 -DCLAIMS1=1 -DREPAIR_DEATHS=0 -DEARLY0 -DMAX_DEATHS=0|-DSAFETY -O0|"
	"bug-commit-no-pwake|fail|-DBUG_COMMIT_NO_PWAKE -DPSLEEP -DONE_SUB -DBATCH_FIRST -DCLAIMS0=1 -DCLAIMS1=1 -DREPAIR_DEATHS=0 -DEARLY0 -DMAX_DEATHS=0|-DSAFETY -O0|"
	"bug-sub-release-no-wake|fail|-DBUG_SUB_RELEASE_NO_WAKE -DPSLEEP -DONE_SUB -DBATCH_FIRST -DCLAIMS0=1 -DCLAIMS1=1 -DREPAIR_DEATHS=0 -DEARLY0 -DMAX_DEATHS=0 -DSUB_GONE=1|-DSAFETY -O0|"
	"bug-leave-wake-last|fail|-DLEAVE_WAKE_LAST -DPSLEEP -DONE_SUB -DBATCH_FIRST -DCLAIMS0=1 -DCLAIMS1=1 -DREPAIR_DEATHS=0 -DEARLY0 -DMAX_DEATHS=0 -DSUB_GONE=1|-DSAFETY -O0|"
	"bug-repair-keeps-bit|fail|-DBUG_REPAIR_KEEPS_BIT -DPSLEEP -DONE_SUB -DBATCH_FIRST -DCLAIMS0=1 -DCLAIMS1=1 -DREPAIR_DEATHS=0 -DEARLY0 -DMAX_DEATHS=1|-DSAFETY -O0|"
	# --- the exclusive-producer lease (LEASE): must pass ----------------------
	# Producers open (mask bit) and close; one alone takes the lease, the
	# other revokes it; producer 0 takes it again after a revocation.
	"lease|pass|-DLEASE -DONE_SUB -DEARLY0 -DCLAIMS0=2 -DCLAIMS1=1 -DMAX_DEATHS=1 -DREPAIR_DEATHS=1|-DSAFETY -DCOLLAPSE|"
	"lease-torn|pass|-DLEASE -DTORN -DONE_SUB -DEARLY0 -DCLAIMS0=2 -DCLAIMS1=1 -DMAX_DEATHS=1 -DREPAIR_DEATHS=0|-DSAFETY -DCOLLAPSE|"
	"lease-two-deaths|pass|-DLEASE -DONE_SUB -DEARLY0 -DCLAIMS0=2 -DCLAIMS1=1 -DMAX_DEATHS=2 -DREPAIR_DEATHS=0|-DSAFETY -DCOLLAPSE|"
	"lease-reuse|pass|-DLEASE -DREUSE -DONE_SUB -DEARLY0 -DCLAIMS0=1 -DCLAIMS1=1 -DMAX_DEATHS=1 -DREPAIR_DEATHS=0|-DSAFETY -DCOLLAPSE -O0|"
	"lease-psleep|pass|-DLEASE -DPSLEEP -DONE_SUB -DBATCH_FIRST -DEARLY0 -DCLAIMS0=1 -DCLAIMS1=1 -DMAX_DEATHS=1 -DREPAIR_DEATHS=0|-DSAFETY -DCOLLAPSE -O0|"
	"lease-progress|pass|-DLEASE -DSPIN_WAIT -DONE_SUB -DEARLY0 -DCLAIMS0=1 -DCLAIMS1=1 -DMAX_DEATHS=1 -DREPAIR_DEATHS=0|-DNP -DNFAIR=3 -DCOLLAPSE -O0|-l -f"
	# A revoker without membarrier waits for lease_ack (README point 5: a
	# closing or dead holder must end a lease marked REVOKING too).
	"lease-nomb|pass|-DLEASE -DLEASE_NO_MEMBARRIER -DONE_SUB -DEARLY0 -DCLAIMS0=2 -DCLAIMS1=1 -DMAX_DEATHS=1 -DREPAIR_DEATHS=1|-DSAFETY -DCOLLAPSE|"
	"lease-nomb-progress|pass|-DLEASE -DLEASE_NO_MEMBARRIER -DSPIN_WAIT -DONE_SUB -DEARLY0 -DCLAIMS0=1 -DCLAIMS1=1 -DMAX_DEATHS=1 -DREPAIR_DEATHS=0|-DNP -DNFAIR=3 -DCOLLAPSE -O0|-l -f"
	# ring.c at a3040a4: hm_pub_fini's CAS word -> 0 fails on a lease a
	# revoker without membarrier marked REVOKING, and nothing acknowledges:
	# that revoker answers HERMES_EAGAIN to every claim for ever.
	"bug-lease-keeps-revoked|fail|-DLEASE -DLEASE_NO_MEMBARRIER -DBUG_LEASE_KEEPS_REVOKED -DONE_SUB -DEARLY0 -DCLAIMS0=2 -DCLAIMS1=1 -DMAX_DEATHS=0 -DREPAIR_DEATHS=0|-DSAFETY -O0|"
	# --- broken lease variants: must fail -------------------------------------
	# NO_COPY_CHECK: without the check that the holder's store is what a CAS
	# would do, the trail runs on to two claims of the same sequence.
	"bug-lease-no-inclaim-wait|fail|-DBUG_LEASE_NO_INCLAIM_WAIT -DNO_COPY_CHECK -DLEASE -DONE_SUB -DEARLY0 -DCLAIMS0=2 -DCLAIMS1=1 -DMAX_DEATHS=0 -DREPAIR_DEATHS=0|-DSAFETY -O0|"
	"bug-lease-no-mask-check|fail|-DBUG_LEASE_NO_MASK_CHECK -DNO_COPY_CHECK -DLEASE -DONE_SUB -DEARLY0 -DCLAIMS0=2 -DCLAIMS1=1 -DMAX_DEATHS=0 -DREPAIR_DEATHS=0|-DSAFETY -O0|"
	"bug-lease-check-before-inclaim|fail|-DBUG_LEASE_CHECK_BEFORE_INCLAIM -DNO_COPY_CHECK -DLEASE -DONE_SUB -DEARLY0 -DCLAIMS0=2 -DCLAIMS1=1 -DMAX_DEATHS=0 -DREPAIR_DEATHS=0|-DSAFETY -O0|"
	# Repair must clear in_claim: with the fixed lease ending (repair CASes
	# until the lease no longer names the dead holder) a waiting revoker
	# also sees the lease change, so the deadlock needs the single CAS of
	# a3040a4, where a revoker's REVOKING can survive repair.
	"bug-lease-repair-keeps-inclaim|fail|-DBUG_LEASE_REPAIR_KEEPS_INCLAIM -DBUG_LEASE_KEEPS_REVOKED -DLEASE -DONE_SUB -DEARLY0 -DCLAIMS0=2 -DCLAIMS1=1 -DMAX_DEATHS=1 -DREPAIR_DEATHS=0|-DSAFETY -O0|"
)

want=("$@")
failed=0
for run in "${runs[@]}"; do
	IFS='|' read -r name expect defs ccdefs opts <<<"$run"
	if ((${#want[@]})) && [[ " ${want[*]} " != *" $name "* ]]; then
		continue
	fi
	dir=$work/$name
	mkdir -p "$dir"
	start=$SECONDS
	# shellcheck disable=SC2086 # word splitting of the switch lists is wanted
	if ! (cd "$dir" && spin -a $defs "$model" >spin.log 2>&1); then
		echo "FAIL $name: spin -a failed:" && cat "$dir/spin.log"
		failed=1
		continue
	fi
	# shellcheck disable=SC2086
	if ! (cd "$dir" && "$cc" -O2 -w $ccdefs -DMEMLIM="$memlim" -o pan pan.c >cc.log 2>&1); then
		echo "FAIL $name: building the verifier failed:" && cat "$dir/cc.log"
		failed=1
		continue
	fi
	# -m: search depth; -n: no unreached-code report. The verifier stops at
	# the first error.
	# shellcheck disable=SC2086
	(cd "$dir" && ./pan -m100000 -n $opts >pan.log 2>&1)
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$dir/pan.log" | tail -n 1)
	states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$dir/pan.log" | tail -n 1)
	depth_ok=1
	grep -q "max search depth too small" "$dir/pan.log" && depth_ok=0
	mem_ok=1
	# (-DMEMLIM: "reached -DMEMLIM bound", after which pan still prints
	# "errors: 0" for the part it searched)
	grep -qi "out of memory\|memory limit\|MEMLIM bound" "$dir/pan.log" && mem_ok=0
	what=$(grep -m1 -E "^pan:[0-9]+: |acceptance cycle|non-progress cycle" "$dir/pan.log" || true)
	secs=$((SECONDS - start))
	if [[ -z $errors || $mem_ok == 0 || $depth_ok == 0 ]]; then
		echo "FAIL $name: the search did not complete (${secs}s):"
		tail -n 20 "$dir/pan.log"
		failed=1
	elif [[ $expect == pass && $errors == 0 ]]; then
		echo "ok   $name: $states states, 0 errors (${secs}s)"
	elif [[ $expect == fail && $errors != 0 ]]; then
		echo "ok   $name: fails as it must after $states states: $what (${secs}s)"
	else
		echo "FAIL $name: expected to $expect, got $errors errors after $states states (${secs}s)"
		[[ -n $what ]] && echo "     $what"
		if [[ -f $dir/ring.pml.trail ]]; then
			echo "     trail (last steps):"
			# shellcheck disable=SC2086
			(cd "$dir" && spin -t -k ring.pml.trail -p -g $defs "$model" 2>&1 | tail -n 60 | sed 's/^/     /')
		fi
		failed=1
	fi
done
exit $failed
