/* Ring v2: states that a crash, a stopped process or one bad word can make,
 * each found in the ring before (issue 12's findings 1-8), each a test. On
 * ring blocks in memory, with the states built by hand where a real crash
 * would be needed to reach them (test_ring_crash.c makes them for real). */
#include "tests/support/testing.h"

#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm/ring.h"
#include "tests/shm/ring_fixture.h"
#include "tests/support/threads.h"

/* Abort a batch of n (or leave it to repair), then publish `after`. */
static void abandoned_batch_then(ht_ring *f, uint32_t n, unsigned after, bool repaired)
{
	uint32_t lens[8] = {24, 24, 24, 24, 24, 24, 24, 24};
	void *ptrs[8];
	hermes_claim c;
	uint64_t tpos, first;
	hm_ring_tail(&f->ring, &tpos, &first);
	if (repaired) {
		hermes_pub dead;
		int ds = ht_ring_pub(f, &dead, 2);
		assert_int_equal(hermes_pub_claim_batch(&dead, lens, n, ptrs, &c), HERMES_OK);
		/* "dies": nothing more from it; the supervisor repairs. */
		assert_int_equal(hm_ring_repair_producer(&f->ring, (uint32_t)ds), (int64_t)n);
	} else {
		assert_int_equal(hermes_pub_claim_batch(&f->pub, lens, n, ptrs, &c), HERMES_OK);
		assert_int_equal(hermes_pub_abort(&f->pub, &c), HERMES_OK);
	}
	for (unsigned i = 0; i < after; i++)
		ht_publish(&f->pub, 16, first + n + i);
}

/* Finding 1: a subscriber started at EARLIEST, or at a sequence inside an
 * abandoned batch, was placed inside it and polled EAGAIN forever (on a block
 * ring its cursor then stopped every producer). */
static void test_subscribers_starting_inside_an_abandoned_batch_skip_it(void **state)
{
	(void)state;
	for (int repaired = 0; repaired < 2; repaired++) {
		ht_ring *f = ht_ring_make(4096, 200, HERMES_POLICY_BLOCK, false);
		abandoned_batch_then(f, 4, 10, repaired);
		hermes_sub subs[5];
		ht_ring_sub(f, &subs[0], HERMES_START_EARLIEST, 0);
		for (unsigned k = 1; k < 5; k++)
			ht_ring_sub(f, &subs[k], HERMES_START_SEQ, k - 1); /* 0..3: inside */
		for (unsigned k = 0; k < 5; k++) {
			uint64_t next;
			assert_int_equal(ht_drain(&subs[k], 4, &next), 10);
			assert_int_equal(next, 14);
		}
		/* And the ring is not wedged: a few laps go through. */
		for (unsigned i = 0; i < 200; i++) {
			ht_publish(&f->pub, 16, 14 + i);
			for (unsigned k = 0; k < 5; k++) {
				hermes_msg m;
				assert_int_equal(hermes_sub_poll(&subs[k], &m), HERMES_OK);
				assert_int_equal(m.seq, 14 + i);
				assert_int_equal(hermes_sub_release(&subs[k]), HERMES_OK);
			}
		}
		ht_ring_free(f);
	}
}

/* Finding 1, overwrite resync: a lapped subscriber resyncs to the oldest
 * retained message, which may lie just after an abandoned range. */
static void test_lapped_subscriber_resyncs_past_an_abandoned_batch(void **state)
{
	ht_ring *f = *state;
	hermes_sub *sub = &f->sub;
	ht_publish_range(&f->pub, 100, 0, 100);
	abandoned_batch_then(f, 4, 30, false);
	hermes_msg m;
	assert_int_equal(hermes_sub_poll(sub, &m), HERMES_ELOST);
	assert_true(m.lost > 0);
	uint64_t next;
	uint64_t got = ht_drain(sub, m.seq, &next);
	assert_true(got > 0);
	assert_int_equal(next, 134);
}

/* Finding 2a: a producer killed after logging a torn (pos, seq) pair, while
 * a live producer holds the real claim at that sequence. Repair must leave
 * the live claim alone: it commits, and subscribers get it whole. */
static void test_torn_intent_of_a_dead_producer_never_abandons_a_live_claim(void **state)
{
	ht_ring *f = *state;
	hermes_sub *sub = &f->sub;
	ht_publish(&f->pub, 40, 0);
	hermes_pub dead;
	int ds = ht_ring_pub(f, &dead, 2);
	/* The live producer claims sequence 1 and holds it. */
	hermes_claim live;
	assert_int_equal(hermes_pub_claim(&f->pub, 40, &live), HERMES_OK);
	assert_int_equal(live.seq_, 1);
	/* The dead one logged the sequence of the live claim with the position
	 * of an older tail (a torn read), and died. */
	ht_hand_intent(f, ds, 1, 8, 0, 1);
	assert_int_equal(hm_ring_repair_producer(&f->ring, (uint32_t)ds), 0);
	ht_fill(live.data, 40, 1);
	assert_int_equal(hermes_pub_commit(&f->pub, &live), HERMES_OK);
	uint64_t next;
	assert_int_equal(ht_drain(sub, 0, &next), 2);
	assert_int_equal(next, 2);
	assert_int_equal(hm_load_relaxed_u64(&f->ring.hdr->repairs), 0);
}

/* Finding 2b: an intent a lap or more stale (preempted between reading the
 * tail and its CAS, then killed). The slot it names now holds a committed,
 * unread message of a later lap: repair must not touch it. */
static void test_stale_intent_of_a_dead_producer_never_abandons_committed_data(void **state)
{
	(void)state;
	ht_ring *f = ht_ring_make(4096, 200, HERMES_POLICY_BLOCK, false);
	hermes_pub dead;
	int ds = ht_ring_pub(f, &dead, 2);
	ht_hand_claim(f, ds, 1, 8, false); /* intent at (0, 0); the CAS never happens */
	hermes_sub sub;
	ht_ring_sub(f, &sub, HERMES_START_LATEST, 0);
	/* Meanwhile another producer claims and commits sequences 0..59, the
	 * first of them at exactly the dead one's intent (its `active` holds
	 * the limit there, so less than a lap passes). Repair must see that
	 * sequence 0 was not the dead one's and leave it alone. */
	ht_publish_range(&f->pub, 8, 0, 60);
	assert_int_equal(hm_ring_repair_producer(&f->ring, (uint32_t)ds), 0);
	uint64_t next;
	assert_int_equal(ht_drain(&sub, 0, &next), 60);
	assert_int_equal(next, 60);
	/* Now the stale case proper: a second dead producer whose intent names
	 * sequence 3, long committed and already a lap behind the slot's
	 * current message once more messages went by. */
	ht_publish_range(&f->pub, 8, 60, 60 + f->ring.nslots / 2);
	hermes_pub dead2;
	int d2 = ht_ring_pub(f, &dead2, 3);
	ht_hand_intent(f, d2, 4, 32, 24, 3);
	assert_int_equal(hm_ring_repair_producer(&f->ring, (uint32_t)d2), 0);
	assert_int_equal(ht_drain(&sub, 60, &next), f->ring.nslots / 2);
	assert_int_equal(hm_load_relaxed_u64(&f->ring.hdr->repairs), 0);
	ht_ring_free(f);
}

/* Finding 3: a zero-length claim was never repaired (the check wanted the
 * position to have moved): the slot stayed in progress and the ring wedged. */
static void test_zero_length_claim_of_a_dead_producer_is_repaired(void **state)
{
	ht_ring *f = *state;
	hermes_sub *sub = &f->sub;
	hermes_msg m;
	ht_dead_claim_repaired(f, sub, 0, 8, &m);
	assert_int_equal(hermes_sub_release(sub), HERMES_OK);
	/* Laps go through. */
	for (unsigned i = 2; i < 300; i++) {
		ht_publish(&f->pub, 8, i);
		assert_int_equal(hermes_sub_poll(sub, &m), HERMES_OK);
		assert_int_equal(hermes_sub_release(sub), HERMES_OK);
	}
}

/* Finding 4: a subscriber that died asleep left `waiters` raised forever, so
 * every commit made a FUTEX_WAKE system call. Its bit is now released with
 * its slot, exactly. */
static void test_subscriber_killed_asleep_leaves_no_sleeper_behind(void **state)
{
	(void)state;
	ht_ring *f = ht_ring_make(4096, 200, HERMES_POLICY_BLOCK, true);
	int ss = hm_ring_take_sub_slot(&f->ring, 7, 7);
	assert_true(ss >= 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		hermes_sub sub;
		if (hm_sub_init(&sub, &f->ring, ss, HERMES_START_LATEST, 0) != HERMES_OK)
			_exit(2);
		hermes_sub_wait(&sub, HERMES_WAIT_BLOCK, -1);
		_exit(1);
	}
	uint64_t deadline = ht_now_ns() + 5000000000ull;
	while (!(hm_load_acquire_u64(&f->ring.hdr->sleepers) & (1ull << ss))) {
		assert_true(ht_now_ns() < deadline);
		sched_yield();
	}
	kill(pid, SIGKILL);
	int st;
	waitpid(pid, &st, 0);
	assert_true(WIFSIGNALED(st));
	assert_true(hm_load_relaxed_u64(&f->ring.hdr->sleepers) != 0);
	hm_ring_release_subscriber(&f->ring, (uint32_t)ss);
	assert_int_equal(hm_load_relaxed_u64(&f->ring.hdr->sleepers), 0);
	/* Commits no longer wake anybody: the futex word stays put. */
	uint32_t fx = hm_load_relaxed_u32(&f->ring.hdr->futex);
	ht_publish_range(&f->pub, 8, 0, 10);
	assert_int_equal(hm_load_relaxed_u32(&f->ring.hdr->futex), fx);
	ht_ring_free(f);
}

/* Finding 5: overwrite rings blocked producers while any claim was held (a
 * lap later, forever with the holder stopped). They never wait now; the held
 * claim, lapped, is reported lost when it is finally committed. */
static void test_overwrite_producers_never_wait_for_a_held_claim(void **state)
{
	ht_ring *f = *state;
	hermes_sub *sub = &f->sub;
	hermes_pub holder;
	ht_ring_pub(f, &holder, 2);
	hermes_claim held;
	assert_int_equal(hermes_pub_claim(&holder, 100, &held), HERMES_OK);
	for (unsigned i = 0; i < 2000; i++) /* ~50 laps of data, ~30 of slots */
		ht_publish(&f->pub, 100, 1 + i);
	ht_fill(held.data, 100, 0);
	assert_int_equal(hermes_pub_commit(&holder, &held), HERMES_ELOST);
	/* The subscriber hears of a loss and then reads the tail's messages. */
	hermes_msg m;
	assert_int_equal(hermes_sub_poll(sub, &m), HERMES_ELOST);
	uint64_t next;
	assert_true(ht_drain(sub, m.seq, &next) > 0);
	assert_int_equal(next, 2001);
	hm_pub_fini(&holder);
}

/* Finding 6: poll A, the ring laps, poll says HERMES_ELOST, then release said
 * HERMES_OK although A's bytes were overwritten. */
static void test_overwrite_release_reports_every_message_lost_since_last_release(void **state)
{
	ht_ring *f = *state;
	hermes_sub *sub = &f->sub;
	ht_publish(&f->pub, 100, 0);
	hermes_msg a, m;
	assert_int_equal(hermes_sub_poll(sub, &a), HERMES_OK);
	ht_publish_range(&f->pub, 100, 1, 201);
	assert_int_equal(hermes_sub_poll(sub, &m), HERMES_ELOST);
	assert_int_equal(hermes_sub_release(sub), HERMES_ELOST);
	/* Once said, not again: a clean poll/release is OK. */
	assert_int_equal(hermes_sub_poll(sub, &m), HERMES_OK);
	assert_int_equal(hermes_sub_release(sub), HERMES_OK);
}

/* Finding 7a: forged slot words made subscribers replay old messages as new
 * (a "lap" that led backwards). Now: a distinct error, counted, not
 * delivered, and the subscriber goes on with no duplicate. */
static void test_forged_slot_words_are_reported_corrupt_never_replayed(void **state)
{
	ht_ring *f = *state;
	hermes_sub *sub = &f->sub;
	ht_publish_range(&f->pub, 16, 0, 20);
	uint64_t next;
	hermes_msg m;
	for (unsigned i = 0; i < 10; i++)
		assert_int_equal(hermes_sub_poll(sub, &m), HERMES_OK);
	assert_int_equal(hermes_sub_release(sub), HERMES_OK);
	/* Two words "from the future" (a later lap than the tail). */
	uint64_t far = 10 + 4 * f->ring.nslots;
	hm_store_relaxed_u64(&f->ring.slots[10 & f->ring.slot_mask].word,
			     hm_slot_word(far, HM_SLOT_COMMITTED));
	hm_store_relaxed_u64(&f->ring.slots[12 & f->ring.slot_mask].word,
			     hm_slot_word(far + 2, HM_SLOT_COMMITTED));
	assert_int_equal(hermes_sub_poll(sub, &m), HERMES_ECORRUPT);
	assert_int_equal(m.seq, 10);
	assert_true(strstr(hermes_last_error_detail(), "'t'") != NULL);
	assert_true(strstr(hermes_last_error_detail(), "10") != NULL);
	ht_poll_seq(sub, &m, 11);
	assert_int_equal(hermes_sub_poll(sub, &m), HERMES_ECORRUPT);
	assert_int_equal(m.seq, 12);
	assert_int_equal(ht_drain(sub, 13, &next), 7);
	assert_int_equal(next, 20);
	assert_int_equal(hm_load_relaxed_u64(&f->ring.hdr->corrupt), 2);
	assert_int_equal(hm_load_relaxed_u64(&sub->slot->corrupt), 2);
	assert_int_equal(hm_load_relaxed_u64(&sub->slot->lost), 0);
}

/* Finding 7b: a random meta made poll return HERMES_ELOST with lost == 0
 * over and over (a livelock). Every poll now makes progress. */
static void test_random_metas_never_livelock_or_report_empty_losses(void **state)
{
	ht_ring *f = *state;
	hermes_sub *sub = &f->sub;
	ht_publish_range(&f->pub, 16, 0, 30);
	srand(7);
	for (unsigned i = 0; i < 30; i += 3)
		hm_store_relaxed_u64(&f->ring.slots[i].meta,
				     ((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 11) ^ 0xfff000ull);
	unsigned polls = 0, ok = 0, corrupt = 0;
	hermes_msg m;
	hermes_err err;
	while ((err = hermes_sub_poll(sub, &m)) != HERMES_EAGAIN) {
		assert_true(++polls < 1000);
		assert_true(err == HERMES_OK || err == HERMES_ECORRUPT);
		if (err == HERMES_OK) {
			ht_check(m.data, m.len, m.seq);
			ok++;
		} else {
			corrupt++;
		}
	}
	assert_int_equal(ok + corrupt, 30);
	assert_true(corrupt >= 1);
	assert_int_equal(hm_load_relaxed_u64(&sub->slot->lost), 0);
}

/* Finding 7c: loss counts above 10^18 reached applications (a forged tail).
 * An impossible loss is corruption, not a loss. */
static void test_impossible_loss_counts_are_reported_corrupt(void **state)
{
	ht_ring *f = *state;
	hermes_sub *sub = &f->sub;
	ht_publish_range(&f->pub, 16, 0, 5);
	hermes_msg m;
	assert_int_equal(ht_drain(sub, 0, NULL), 5);
	/* A forged tail 10^18 sequences on, and a slot word that agrees. */
	uint64_t huge = 1000000000000000000ull;
	hm_store_relaxed_u64(&f->ring.hdr->tail.hi, hm_tail_hi(huge + 6, 1));
	hm_store_relaxed_u64(&f->ring.slots[5 & f->ring.slot_mask].word,
			     hm_slot_word(huge + 5, HM_SLOT_COMMITTED));
	hermes_err err = hermes_sub_poll(sub, &m);
	assert_int_equal(err, HERMES_ECORRUPT);
	assert_int_equal(hm_load_relaxed_u64(&sub->slot->lost), 0);
}

/* Finding 8: a join that could not finish safely (a producer stopped in the
 * middle of a limit scan) gave up silently and used a cursor the limits
 * might have passed. Now it fails and says why. */
static void test_join_that_cannot_be_made_safe_fails_with_a_reason(void **state)
{
	(void)state;
	ht_ring *f = ht_ring_make(4096, 200, HERMES_POLICY_BLOCK, false);
	ht_publish(&f->pub, 8, 0);
	hm_store_relaxed_u32(&f->pub.slot->scans, 1); /* a scan that never ends */
	int ss = hm_ring_take_sub_slot(&f->ring, 1, 1);
	hermes_sub sub;
	uint64_t t0 = ht_now_ns();
	assert_int_equal(hm_sub_init(&sub, &f->ring, ss, HERMES_START_EARLIEST, 0), HERMES_ETIMEDOUT);
	assert_true(ht_now_ns() - t0 >= 1000000000ull);
	assert_true(strstr(hermes_last_error_detail(), "stopped producer") != NULL);
	hm_sub_fini(&sub);
	assert_int_equal(hm_load_relaxed_u64(&f->ring.hdr->sub_mask), 0);
	ht_ring_free(f);
}

/* A producer that died inside a batch commit (head committed, members not):
 * repair finishes the commit; nobody saw part of it before. And one that
 * died inside an abort: repair finishes the abandon. */
static void test_repair_finishes_a_half_done_batch_commit_or_abort(void **state)
{
	(void)state;
	for (int aborting = 0; aborting < 2; aborting++) {
		hermes_sub sub;
		ht_ring *f = ht_ring_make_sub(4096, 200, HERMES_POLICY_BLOCK, &sub);
		hermes_pub dead;
		int ds = ht_ring_pub(f, &dead, 2);
		uint32_t lens[4] = {8, 8, 8, 8};
		void *ptrs[4];
		hermes_claim c;
		assert_int_equal(hermes_pub_claim_batch(&dead, lens, 4, ptrs, &c), HERMES_OK);
		for (unsigned i = 0; i < 4; i++)
			ht_fill(ptrs[i], 8, i);
		/* The head only, as commit (or abort) would write it first. */
		hm_slot *head = &f->ring.slots[0];
		if (aborting)
			hm_store_relaxed_u64(&head->meta, hm_meta(32, 4));
		hm_store_release_u64(&head->word,
				     hm_slot_word(0, aborting ? HM_SLOT_ABANDONED : HM_SLOT_COMMITTED));
		ht_publish(&f->pub, 8, 4);
		assert_int_equal(hm_ring_repair_producer(&f->ring, (uint32_t)ds), 0);
		uint64_t next;
		assert_int_equal(ht_drain(&sub, aborting ? 4 : 0, &next), aborting ? 1 : 5);
		assert_int_equal(next, 5);
		ht_ring_free(f);
	}
}

/* A dead producer's won claim that another producer moved the tail past:
 * the claim is proven by the record the next claimant made (held_seq). */
static void test_repair_finds_a_claim_recorded_by_the_next_claimant(void **state)
{
	ht_ring *f = *state;
	hermes_sub *sub = &f->sub;
	hermes_pub dead;
	hermes_claim c;
	int ds = ht_dead_claim(f, &dead, 24, &c);
	ht_publish_range(&f->pub, 8, 1, 6);
	assert_int_equal(hm_load_relaxed_u64(&f->ring.prods[ds].held_seq), 1);
	assert_int_equal(hm_ring_repair_producer(&f->ring, (uint32_t)ds), 1);
	uint64_t next;
	assert_int_equal(ht_drain(sub, 1, &next), 5);
}

/* Found by the model: a subscriber that only skipped abandoned records
 * (nothing handed out, so nothing to release) kept its old cursor, and a block
 * ring's producers waited for it forever. */
static void test_skipping_abandoned_records_frees_the_ring_without_a_release(void **state)
{
	ht_ring *f = *state;
	hermes_sub *sub = &f->sub;
	for (unsigned i = 0; i < 4 * f->ring.nslots; i++) {
		hermes_claim c;
		assert_int_equal(hermes_pub_claim(&f->pub, 8, &c), HERMES_OK);
		assert_int_equal(hermes_pub_abort(&f->pub, &c), HERMES_OK);
		hermes_msg m;
		assert_int_equal(hermes_sub_poll(sub, &m), HERMES_EAGAIN);
	}
}

static hermes_err sleep_on(void *sub)
{
	return hermes_sub_wait(sub, HERMES_WAIT_BLOCK, 5000000000ll);
}

/* Found by the model: a producer that died between its commit and its wake
 * call left a subscriber asleep over a committed message; the repair of a
 * dead producer wakes sleepers whatever it finds. */
static void test_repair_wakes_sleepers_even_with_nothing_to_repair(void **state)
{
	ht_ring *f = *state;
	hermes_sub *sub = &f->sub;
	hermes_pub dead;
	int ds = ht_ring_pub(f, &dead, 2);
	ht_timed w;
	ht_timed_start(&w, sleep_on, sub);
	uint64_t deadline = ht_now_ns() + 5000000000ull;
	while (!(hm_load_acquire_u64(&f->ring.hdr->sleepers) & (1ull << sub->slot_index))) {
		assert_true(ht_now_ns() < deadline);
		sched_yield();
	}
	/* The dead producer's commit, done by hand without its wake. */
	hermes_claim c;
	assert_int_equal(hermes_pub_claim(&dead, 8, &c), HERMES_OK);
	ht_fill(c.data, 8, 0);
	hm_store_release_u64(&f->ring.slots[0].word, hm_slot_word(0, HM_SLOT_COMMITTED));
	hm_store_release_u32(&dead.slot->active, 0);
	uint64_t t0 = ht_now_ns();
	assert_int_equal(hm_ring_repair_producer(&f->ring, (uint32_t)ds), 0);
	assert_int_equal(ht_timed_join(&w), HERMES_OK);
	assert_true(ht_now_ns() - t0 < 2000000000ull);
	assert_int_equal(ht_drain(sub, 0, NULL), 1);
}

/* The exclusive-producer lease with its holder stopped inside a claim (as
 * if SIGSTOPped between its check of the lease and its tail store: in_claim
 * set by hand) and then dead: a second producer's claim never blocks
 * (HERMES_EAGAIN after a bounded wait), a timed one times out, neither
 * writes the tail while the holder might; once the holder goes on, or is
 * repaired after death, the second producer claims, and nothing is lost or
 * duplicated. */
static void test_stopped_lease_holder_never_blocks_a_claim_and_repair_frees_it(void **state)
{
	(void)state;
	if (!hm_ring_leases_possible())
		skip();
	for (int dies = 0; dies < 2; dies++) {
		hermes_sub sub;
		ht_ring *f = ht_ring_make_sub(1 << 14, 256, HERMES_POLICY_BLOCK, &sub);
		ht_publish(&f->pub, 32, 0);
		ht_publish(&f->pub, 32, 1);
		assert_true(f->pub.leased);
		hm_prod_slot *holder = &f->ring.prods[f->pub.slot_index];
		hm_store_relaxed_u32(&holder->in_claim, 1); /* "stopped in a claim" */
		hermes_pub other;
		ht_ring_pub(f, &other, 2);
		hermes_claim c;
		uint64_t t0 = ht_now_ns();
		assert_int_equal(hermes_pub_claim(&other, 8, &c), HERMES_EAGAIN);
		assert_true(ht_now_ns() - t0 < 1000000000ull);
		assert_non_null(strstr(hermes_last_error_detail(), "inside a claim"));
		assert_int_equal(hermes_pub_claim_timed(&other, 8, &c, 20000000), HERMES_ETIMEDOUT);
		uint64_t tpos, tseq;
		hm_ring_tail(&f->ring, &tpos, &tseq);
		assert_int_equal(tseq, 2); /* nobody moved the tail */
		if (dies) {
			/* The holder died there: the supervisor's repair ends its
			 * lease and its claim window. */
			assert_int_equal(hm_ring_repair_producer(&f->ring, f->pub.slot_index), 0);
			assert_int_equal(hm_load_relaxed_u64(&f->ring.hdr->lease), 0);
		} else {
			hm_store_release_u32(&holder->in_claim, 0); /* it goes on */
		}
		assert_int_equal(ht_publish(&other, 16, 2), 2);
		if (!dies) {
			/* The old holder's next claim sees the lease gone and takes
			 * the CAS path, after the other producer's message. */
			assert_int_equal(ht_publish(&f->pub, 16, 3), 3);
			assert_false(f->pub.leased);
		}
		uint64_t next;
		assert_int_equal(ht_drain(&sub, 0, &next), dies ? 3 : 4);
		hm_pub_fini(&other);
		hm_sub_fini(&sub);
		ht_ring_free(f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_subscribers_starting_inside_an_abandoned_batch_skip_it),
		cmocka_unit_test_setup_teardown(
			test_lapped_subscriber_resyncs_past_an_abandoned_batch,
			ht_ring_setup_overwrite, ht_ring_teardown),
		cmocka_unit_test_setup_teardown(
			test_torn_intent_of_a_dead_producer_never_abandons_a_live_claim,
			ht_ring_setup_block, ht_ring_teardown),
		cmocka_unit_test(test_stale_intent_of_a_dead_producer_never_abandons_committed_data),
		cmocka_unit_test_setup_teardown(
			test_zero_length_claim_of_a_dead_producer_is_repaired,
			ht_ring_setup_block, ht_ring_teardown),
		cmocka_unit_test(test_subscriber_killed_asleep_leaves_no_sleeper_behind),
		cmocka_unit_test_setup_teardown(
			test_overwrite_producers_never_wait_for_a_held_claim,
			ht_ring_setup_overwrite, ht_ring_teardown),
		cmocka_unit_test_setup_teardown(
			test_overwrite_release_reports_every_message_lost_since_last_release,
			ht_ring_setup_overwrite, ht_ring_teardown),
		{"test_forged_slot_words_are_reported_corrupt_never_replayed_block",
		 test_forged_slot_words_are_reported_corrupt_never_replayed,
		 ht_ring_setup_block, ht_ring_teardown, NULL},
		{"test_forged_slot_words_are_reported_corrupt_never_replayed_overwrite",
		 test_forged_slot_words_are_reported_corrupt_never_replayed,
		 ht_ring_setup_overwrite, ht_ring_teardown, NULL},
		{"test_random_metas_never_livelock_or_report_empty_losses_block",
		 test_random_metas_never_livelock_or_report_empty_losses,
		 ht_ring_setup_block, ht_ring_teardown, NULL},
		{"test_random_metas_never_livelock_or_report_empty_losses_overwrite",
		 test_random_metas_never_livelock_or_report_empty_losses,
		 ht_ring_setup_overwrite, ht_ring_teardown, NULL},
		cmocka_unit_test_setup_teardown(test_impossible_loss_counts_are_reported_corrupt,
						ht_ring_setup_overwrite, ht_ring_teardown),
		cmocka_unit_test(test_join_that_cannot_be_made_safe_fails_with_a_reason),
		cmocka_unit_test(test_repair_finishes_a_half_done_batch_commit_or_abort),
		cmocka_unit_test_setup_teardown(
			test_repair_finds_a_claim_recorded_by_the_next_claimant,
			ht_ring_setup_block, ht_ring_teardown),
		cmocka_unit_test_setup_teardown(
			test_skipping_abandoned_records_frees_the_ring_without_a_release,
			ht_ring_setup_block, ht_ring_teardown),
		cmocka_unit_test_setup_teardown(
			test_repair_wakes_sleepers_even_with_nothing_to_repair,
			ht_ring_setup_block, ht_ring_teardown),
		cmocka_unit_test(test_stopped_lease_holder_never_blocks_a_claim_and_repair_frees_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
