/* Tests for shm/ring.c, on ring blocks in ordinary memory: publishing,
 * polling, wrap-around, both policies, batches, aborts, starts, repair. */
#include "tests/support/testing.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "shm/ring.h"
#include "tests/shm/ring_fixture.h"
#include "tests/support/threads.h"

/* The fixture lives in ring_fixture.c (shared with the fault and crash
 * tests); these short names keep the tests readable. */
typedef ht_ring fixture;
#define make_ring(cap, max_msg, policy) ht_ring_make(cap, max_msg, policy, false)
#define open_sub ht_ring_sub
#define free_ring ht_ring_free
#define fill ht_fill
#define check ht_check
#define publish ht_publish

static void test_wraparound_every_size_is_byte_exact(void **state)
{
	(void)state;
	hermes_sub sub;
	fixture *f = ht_ring_make_sub(64 * 1024, 8192 - 16, HERMES_POLICY_BLOCK, &sub);
	uint64_t expect = 0;
	for (uint32_t len = 1; len <= f->ring.max_msg; len++) {
		uint64_t seq = publish(&f->pub, len, len);
		assert_int_equal(seq, expect);
		hermes_msg m;
		ht_poll_seq(&sub, &m, expect);
		assert_int_equal(m.len, len);
		assert_int_equal(m.gap, 0);
		check(m.data, len, len);
		assert_int_equal(hermes_sub_release(&sub), HERMES_OK);
		assert_int_equal(hermes_sub_poll(&sub, &m), HERMES_EAGAIN);
		expect++;
	}
	/* Many laps happened: the sum of sizes dwarfs the capacity. */
	uint64_t tpos, tseq;
	hm_ring_tail(&f->ring, &tpos, &tseq);
	assert_true(tpos > 100 * f->ring.cap);
	assert_int_equal(tseq, expect);
	free_ring(f);
}

static void test_full_block_ring_reports_would_block_then_recovers(void **state)
{
	fixture *f = *state;
	hermes_sub *sub = &f->sub;
	unsigned sent = 0;
	hermes_claim c;
	for (;;) {
		hermes_err err = hermes_pub_claim(&f->pub, 100, &c);
		if (err == HERMES_EAGAIN)
			break;
		assert_int_equal(err, HERMES_OK);
		fill(c.data, 100, sent);
		assert_int_equal(hermes_pub_commit(&f->pub, &c), HERMES_OK);
		sent++;
		assert_true(sent < 1000);
	}
	/* 4096 bytes of 104-byte payloads: the ring held all it could. */
	assert_int_equal(sent, 4096 / hm_data_bytes(100));
	uint8_t big[100] = {0};
	assert_int_equal(hermes_pub_send(&f->pub, big, sizeof big, NULL), HERMES_EAGAIN);
	uint64_t t0 = ht_now_ns();
	assert_int_equal(hermes_pub_send_timed(&f->pub, big, sizeof big, NULL, 20 * 1000000),
			 HERMES_ETIMEDOUT);
	assert_true(ht_now_ns() - t0 >= 20 * 1000000u);
	assert_true(hm_load_relaxed_u64(&f->pub.slot->full_events) > 0);

	/* Consuming without releasing frees nothing... */
	hermes_msg m;
	assert_int_equal(hermes_sub_poll(sub, &m), HERMES_OK);
	check(m.data, 100, 0);
	assert_int_equal(hermes_pub_claim(&f->pub, 100, &c), HERMES_EAGAIN);
	/* ...releasing does. */
	assert_int_equal(hermes_sub_release(sub), HERMES_OK);
	assert_int_equal(hermes_pub_claim(&f->pub, 100, &c), HERMES_OK);
	fill(c.data, 100, sent);
	assert_int_equal(hermes_pub_commit(&f->pub, &c), HERMES_OK);
	for (unsigned i = 1; i <= sent; i++) {
		ht_poll_seq(sub, &m, i);
		check(m.data, 100, i);
	}
	assert_int_equal(hermes_sub_poll(sub, &m), HERMES_EAGAIN);
}

static void test_block_ring_without_subscribers_never_blocks(void **state)
{
	(void)state;
	fixture *f = make_ring(4096, 200, HERMES_POLICY_BLOCK);
	ht_publish_range(&f->pub, 100, 0, 1000);
	free_ring(f);
}

static void test_overwrite_lapped_subscriber_gets_exact_lost_count(void **state)
{
	fixture *f = *state;
	hermes_sub *sub = &f->sub;
	const unsigned total = 1000; /* about 25 laps of 104-byte payloads */
	for (unsigned i = 0; i < total; i++) {
		hermes_claim c;
		assert_int_equal(hermes_pub_claim(&f->pub, 100, &c), HERMES_OK);
		fill(c.data, 100, i);
		assert_int_equal(hermes_pub_commit(&f->pub, &c), HERMES_OK);
	}
	hermes_msg m;
	assert_int_equal(hermes_sub_poll(sub, &m), HERMES_ELOST);
	uint64_t lost = m.lost;
	assert_true(lost > 0);
	/* The next message is the oldest still in the ring: exactly the first
	 * one not counted as lost, then every later one in order. */
	uint64_t earliest_pos, earliest_seq;
	hm_ring_earliest(&f->ring, &earliest_pos, &earliest_seq);
	assert_int_equal(earliest_seq, lost);
	uint64_t got = 0;
	while (hermes_sub_poll(sub, &m) == HERMES_OK) {
		assert_int_equal(m.seq, lost + got);
		check(m.data, 100, m.seq);
		got++;
	}
	assert_int_equal(hermes_sub_release(sub), HERMES_OK);
	assert_int_equal(lost + got, total);
	assert_true(got * hm_data_bytes(100) <= f->ring.cap);
	assert_int_equal(hm_load_relaxed_u64(&sub->slot->lost), lost);
}

static void test_overwrite_recv_detects_overwrite_during_read(void **state)
{
	fixture *f = *state;
	hermes_sub *sub = &f->sub;
	publish(&f->pub, 100, 0);
	hermes_msg m;
	assert_int_equal(hermes_sub_poll(sub, &m), HERMES_OK);
	/* While the reader holds the pointer, the producer laps it. */
	ht_publish_range(&f->pub, 100, 1, 100);
	assert_int_equal(hermes_sub_release(sub), HERMES_ELOST);
}

static void test_late_subscribers_start_where_asked(void **state)
{
	(void)state;
	fixture *f = make_ring(64 * 1024, 1024, HERMES_POLICY_BLOCK);
	ht_publish_range(&f->pub, 40, 0, 100);
	hermes_sub early, late, at42, future;
	open_sub(f, &early, HERMES_START_EARLIEST, 0);
	open_sub(f, &late, HERMES_START_LATEST, 0);
	open_sub(f, &at42, HERMES_START_SEQ, 42);
	open_sub(f, &future, HERMES_START_SEQ, 150);
	hermes_msg m;
	for (unsigned i = 0; i < 100; i++) {
		ht_poll_seq(&early, &m, i);
		check(m.data, 40, i);
	}
	assert_int_equal(hermes_sub_poll(&early, &m), HERMES_EAGAIN);
	assert_int_equal(hermes_sub_poll(&late, &m), HERMES_EAGAIN);
	for (unsigned i = 42; i < 100; i++) {
		ht_poll_seq(&at42, &m, i);
	}
	assert_int_equal(hermes_sub_poll(&at42, &m), HERMES_EAGAIN);
	ht_publish_range(&f->pub, 40, 100, 200);
	ht_poll_seq(&late, &m, 100);
	check(m.data, 40, 100);
	ht_poll_seq(&future, &m, 150);
	check(m.data, 40, 150);
	free_ring(f);
}

static void test_start_before_retained_reports_loss_then_earliest(void **state)
{
	(void)state;
	fixture *f = make_ring(4096, 200, HERMES_POLICY_OVERWRITE);
	ht_publish_range(&f->pub, 100, 0, 500);
	uint64_t epos, eseq;
	hm_ring_earliest(&f->ring, &epos, &eseq);
	assert_true(eseq > 10);
	hermes_sub sub;
	open_sub(f, &sub, HERMES_START_SEQ, 3);
	hermes_msg m;
	assert_int_equal(hermes_sub_poll(&sub, &m), HERMES_ELOST);
	assert_int_equal(m.lost, eseq - 3);
	ht_poll_seq(&sub, &m, eseq);
	check(m.data, 100, eseq);
	/* A sequence inside the retained window is found exactly. */
	hermes_sub mid;
	open_sub(f, &mid, HERMES_START_SEQ, eseq + 7);
	ht_poll_seq(&mid, &m, eseq + 7);
	check(m.data, 100, eseq + 7);
	free_ring(f);
}

static void test_batch_is_invisible_until_commit_then_whole(void **state)
{
	(void)state;
	hermes_sub sub;
	fixture *f = ht_ring_make_sub(64 * 1024, 1024, HERMES_POLICY_BLOCK, &sub);
	uint64_t msgs = 0, bytes = 0;
	for (uint32_t n = 1; n <= 200; n += 13) {
		uint32_t lens[200];
		void *ptrs[200];
		for (uint32_t i = 0; i < n; i++) {
			lens[i] = 1 + (i * 37) % 60;
			msgs++;
			bytes += lens[i];
		}
		hermes_claim c;
		assert_int_equal(hermes_pub_claim_batch(&f->pub, lens, n, ptrs, &c), HERMES_OK);
		uint64_t first = c.seq_;
		for (uint32_t i = 0; i < n; i++)
			fill(ptrs[i], lens[i], first + i);
		hermes_msg m;
		assert_int_equal(hermes_sub_poll(&sub, &m), HERMES_EAGAIN);
		assert_int_equal(hermes_pub_commit(&f->pub, &c), HERMES_OK);
		for (uint32_t i = 0; i < n; i++) {
			ht_poll_seq(&sub, &m, first + i);
			assert_int_equal(m.len, lens[i]);
			check(m.data, lens[i], first + i);
		}
		assert_int_equal(hermes_sub_poll(&sub, &m), HERMES_EAGAIN);
		assert_int_equal(hermes_sub_release(&sub), HERMES_OK);
		/* The counters hermes-ctl shows: payload bytes, not ring space. */
		assert_int_equal(hm_load_relaxed_u64(&f->pub.slot->msgs), msgs);
		assert_int_equal(hm_load_relaxed_u64(&f->pub.slot->bytes), bytes);
		assert_int_equal(hm_load_relaxed_u64(&sub.slot->msgs), msgs);
		assert_int_equal(hm_load_relaxed_u64(&sub.slot->bytes), bytes);
	}
	uint32_t zero = 0;
	void *ptr;
	hermes_claim c;
	assert_int_equal(hermes_pub_claim_batch(&f->pub, &zero, 0, &ptr, &c), HERMES_EINVAL);
	free_ring(f);
}

/* The reader the bridge uses (hm_ring_ready_at, hm_slot_look_at): nothing
 * while a claim is open, then committed or abandoned, then a later lap. */
static void test_ready_at_tells_claimed_committed_abandoned_and_lapped(void **state)
{
	fixture *f = *state;
	hm_slot *slot0 = &f->ring.slots[0];
	assert_false(hm_ring_ready_at(&f->ring, 0));
	hermes_claim c;
	assert_int_equal(hermes_pub_claim(&f->pub, 8, &c), HERMES_OK);
	assert_int_equal(hm_slot_look_at(slot0, 0), HM_AT_EMPTY);
	assert_false(hm_ring_ready_at(&f->ring, 0));
	assert_int_equal(hermes_pub_commit(&f->pub, &c), HERMES_OK);
	assert_int_equal(hm_slot_look_at(slot0, 0), HM_AT_COMMITTED);
	assert_true(hm_ring_ready_at(&f->ring, 0));
	assert_int_equal(hermes_pub_claim(&f->pub, 8, &c), HERMES_OK);
	assert_int_equal(hermes_pub_abort(&f->pub, &c), HERMES_OK);
	assert_int_equal(hm_slot_look_at(&f->ring.slots[1], 1), HM_AT_ABANDONED);
	assert_true(hm_ring_ready_at(&f->ring, 1));
	assert_false(hm_ring_ready_at(&f->ring, 2));
	/* A word of a later lap in the slot of seq 0: seq 0 is gone. */
	ht_publish_range(&f->pub, 8, 2, f->ring.nslots + 1);
	assert_int_equal(hm_slot_look_at(slot0, 0), HM_AT_LAPPED);
	assert_true(hm_ring_ready_at(&f->ring, 0));
	assert_int_equal(hm_slot_look_at(slot0, f->ring.nslots), HM_AT_COMMITTED);
}

static void test_abort_leaves_a_reported_gap(void **state)
{
	fixture *f = *state;
	hermes_sub *sub = &f->sub;
	hermes_claim c;
	assert_int_equal(hermes_pub_claim(&f->pub, 50, &c), HERMES_OK);
	/* Only one outstanding claim per publisher. */
	hermes_claim c2;
	assert_int_equal(hermes_pub_claim(&f->pub, 50, &c2), HERMES_EINVAL);
	assert_int_equal(hermes_pub_abort(&f->pub, &c), HERMES_OK);
	assert_int_equal(hermes_pub_commit(&f->pub, &c), HERMES_EINVAL);
	publish(&f->pub, 10, 1);
	hermes_msg m;
	ht_poll_seq(sub, &m, 1);
	assert_int_equal(m.gap, 1);
	check(m.data, 10, 1);
}

/* hermes_sub_recv into a buffer too small: HERMES_ENOBUFS with the length
 * needed, and the message stays unread: the next receive gets it, with the
 * gap before it, and the releases and counters count it once. */
static void test_recv_too_small_leaves_the_message_unread(void **state)
{
	fixture *f = *state;
	hermes_sub *sub = &f->sub;
	hermes_claim c;
	assert_int_equal(hermes_pub_claim(&f->pub, 50, &c), HERMES_OK);
	assert_int_equal(hermes_pub_abort(&f->pub, &c), HERMES_OK);
	publish(&f->pub, 40, 1);
	publish(&f->pub, 8, 2);
	uint8_t buf[64];
	hermes_msg m;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(hermes_sub_recv(sub, buf, 39, &m), HERMES_ENOBUFS);
		assert_int_equal(m.len, 40);
	}
	assert_int_equal(hermes_sub_recv(sub, buf, sizeof buf, &m), HERMES_OK);
	assert_int_equal(m.seq, 1);
	assert_int_equal(m.gap, 1);
	assert_int_equal(m.len, 40);
	assert_ptr_equal(m.data, buf);
	check(buf, 40, 1);
	assert_int_equal(hermes_sub_recv(sub, buf, 8, &m), HERMES_OK);
	assert_int_equal(m.seq, 2);
	assert_int_equal(m.gap, 0);
	check(buf, 8, 2);
	assert_int_equal(hermes_sub_recv(sub, buf, sizeof buf, &m), HERMES_EAGAIN);
	assert_int_equal(hm_load_relaxed_u64(&sub->slot->msgs), 2);
	assert_int_equal(hm_load_relaxed_u64(&sub->slot->bytes), 48);
	assert_int_equal(hermes_sub_next_seq(sub), 3);
}

static void test_oversized_message_is_refused_and_nothing_changes(void **state)
{
	fixture *f = *state;
	hermes_claim c;
	assert_int_equal(hermes_pub_claim(&f->pub, 201, &c), HERMES_EMSGSIZE);
	uint64_t pos, seq;
	hm_ring_tail(&f->ring, &pos, &seq);
	assert_int_equal(pos, 0);
	assert_int_equal(seq, 0);
}

static void test_dead_producer_claim_is_repaired_and_skipped(void **state)
{
	fixture *f = *state;
	hermes_sub *sub = &f->sub;
	/* A second producer claims and "dies" before committing; the live
	 * producer's message waits behind the unfinished claim until repair. */
	hermes_msg m;
	int dead_slot = ht_dead_claim_repaired(f, sub, 80, 10, &m);
	check(m.data, 10, 1);
	assert_int_equal(hm_load_relaxed_u64(&f->ring.hdr->repairs), 1);
	assert_int_equal(hm_load_relaxed_u64(&f->ring.prods[dead_slot].owner), 0);
}

static void test_dead_producer_between_cas_and_header_is_repaired(void **state)
{
	fixture *f = *state;
	hermes_sub *sub = &f->sub;
	publish(&f->pub, 30, 0);
	/* Build by hand the state of a producer killed right after its tail
	 * CAS, before it wrote anything into the ring: intent recorded, tail
	 * moved with its tag, record memory untouched. */
	int ds = hm_ring_take_prod_slot(&f->ring, 2, 2);
	ht_hand_claim(f, ds, 1, hm_data_bytes(64), true);
	publish(&f->pub, 20, 2);
	hermes_msg m;
	ht_poll_seq(sub, &m, 0);
	assert_int_equal(hermes_sub_poll(sub, &m), HERMES_EAGAIN);
	assert_int_equal(hm_ring_repair_producer(&f->ring, (uint32_t)ds), 1);
	ht_poll_seq(sub, &m, 2);
	assert_int_equal(m.gap, 1);
	check(m.data, 20, 2);
}

/* Two producers recorded the same intent and one CAS won; nobody wrote yet.
 * The tail's tag says whose claim it is: repair of the other one touches
 * nothing (the old protocol gave up, or guessed). */
static void test_repair_acts_only_on_the_claim_the_tail_proves(void **state)
{
	(void)state;
	for (int dead_won = 0; dead_won < 2; dead_won++) {
		hermes_sub sub;
		fixture *f = ht_ring_make_sub(4096, 200, HERMES_POLICY_BLOCK, &sub);
		int ds = hm_ring_take_prod_slot(&f->ring, 2, 2);
		int ls = (int)f->pub.slot_index;
		ht_hand_claim(f, dead_won ? ls : ds, 1, 32, false); /* the loser's intent */
		ht_hand_claim(f, dead_won ? ds : ls, 1, 32, true);  /* the winner's */
		int64_t n = hm_ring_repair_producer(&f->ring, (uint32_t)ds);
		assert_int_equal(n, dead_won ? 1 : 0);
		hermes_msg m;
		if (dead_won) {
			/* Skipped; a later message arrives after the gap. */
			hm_store_relaxed_u32(&f->pub.slot->active, 0);
			publish(&f->pub, 8, 1);
			ht_poll_seq(&sub, &m, 1);
			assert_int_equal(m.gap, 1);
		} else {
			/* The live winner's slot is untouched: it commits it. */
			uint64_t w = hm_load_relaxed_u64(&f->ring.slots[0].word);
			assert_int_equal(hm_word_seq(w), 0);
			assert_int_equal(hm_word_state(w), HM_SLOT_IN_PROGRESS);
			hm_store_relaxed_u64(&f->ring.slots[0].meta, hm_meta(0, 8));
			fill(f->ring.data, 8, 0);
			hm_store_release_u64(&f->ring.slots[0].word, hm_slot_word(0, HM_SLOT_COMMITTED));
			ht_poll_seq(&sub, &m, 0);
			assert_int_equal(m.gap, 0);
			check(m.data, 8, 0);
		}
		free_ring(f);
	}
}

static void test_bad_configs_are_refused(void **state)
{
	(void)state;
	hermes_ring_config bad[] = {
		{.name = "", .capacity = 4096, .max_msg = 100},
		{.name = "has space", .capacity = 4096, .max_msg = 100},
		{.name = "x", .capacity = 5000, .max_msg = 100},
		{.name = "x", .capacity = 1024, .max_msg = 100},
		{.name = "x", .capacity = 4096, .max_msg = 0},
		{.name = "x", .capacity = 4096, .max_msg = 4096},
		{.name = "x", .capacity = 4096, .max_msg = 100, .policy = 7},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(hm_ring_check_config(&bad[i]), HERMES_EINVAL);
		assert_true(strlen(hermes_last_error_detail()) > 0);
	}
}

/* Join f->sub at the earliest message. */
static void *join_thread(void *arg)
{
	fixture *f = arg;
	ht_ring_sub(f, &f->sub, HERMES_START_EARLIEST, 0);
	return NULL;
}

/* A subscriber joining while a producer's scan is in progress (a scan that
 * read the cursors before the join) waits for it, then sees the limits that
 * scan raised and starts where the ring is safe from the next lap. */
static void test_join_waits_out_a_scan_in_progress(void **state)
{
	(void)state;
	fixture *f = make_ring(4096, 200, HERMES_POLICY_BLOCK);
	ht_publish_range(&f->pub, 8, 0, 10);
	hm_prod_slot *ps = f->pub.slot;
	hm_store_relaxed_u32(&ps->scans, 1); /* "scanning", has not seen the joiner */
	pthread_t t = ht_thread_start(join_thread, f);
	/* The joiner has published its cursor (at sequence 0: earliest). */
	uint64_t deadline = ht_now_ns() + 5000000000ull;
	hm_sub_slot *joiner = NULL;
	while (!joiner) {
		for (unsigned i = 0; i < HM_MAX_SUBSCRIBERS; i++)
			if (hm_load_acquire_u64(&f->ring.subs[i].owner))
				joiner = &f->ring.subs[i];
		assert_true(ht_now_ns() < deadline);
		sched_yield();
	}
	/* Finish the scan the way a scan that missed the joiner would: limits
	 * raised past the joiner's start, as if the tail were at 10 + 64. */
	hm_store_release_u64(&f->ring.hdr->seq_limit, 10 + f->ring.nslots);
	hm_store_release_u64(&f->ring.hdr->limit, 10 * 8 + f->ring.cap);
	hm_store_release_u32(&ps->scans, 2);
	pthread_join(t, NULL);
	/* It chose again: nothing below the new limits' safe start. */
	assert_true(f->sub.seq >= 10);
	assert_true(f->sub.pos >= 10 * 8);
	free_ring(f);
}

/* User tags (issue 18, point 5): carried per message, single and batch, on
 * both policies; untagged messages read 0, also in a slot whose previous lap
 * was tagged; a meta with an unknown flag bit is refused as corrupt. */
static void test_user_tags_are_delivered_per_message(void **state)
{
	(void)state;
	for (int pol = 0; pol < 2; pol++) {
		hermes_policy policy = pol ? HERMES_POLICY_OVERWRITE : HERMES_POLICY_BLOCK;
		hermes_sub sub;
		ht_ring *f = ht_ring_make_sub(1 << 14, 256, policy, &sub);
		uint64_t nslots = f->ring.nslots;
		/* Several laps of the slot array, alternating tagged and not. */
		for (uint64_t i = 0; i < 3 * nslots; i++) {
			uint32_t tag = i % 3 == 0 ? 0 : (uint32_t)(0x9e3779b9u * (i + 1)) | 1u;
			uint8_t payload[24];
			ht_fill(payload, sizeof payload, i);
			uint64_t seq;
			assert_int_equal(hermes_pub_send_tagged(&f->pub, payload, sizeof payload, tag,
								&seq, 0),
					 HERMES_OK);
			hermes_msg m;
			ht_poll_seq(&sub, &m, seq);
			assert_int_equal(m.tag, tag);
			ht_check(m.data, m.len, i);
			assert_int_equal(hermes_sub_release(&sub), HERMES_OK);
		}
		/* A batch with a tag each, one of them none; then a batch without
		 * tags over the same slots one lap on. */
		uint32_t lens[4] = {8, 16, 0, 40}, tags[4] = {7, 0, 0xffffffffu, 42};
		void *ptrs[4];
		hermes_claim c;
		for (int lap = 0; lap < 2; lap++) {
			assert_int_equal(hermes_pub_claim_batch_tagged(&f->pub, lens, lap ? NULL : tags, 4,
								       ptrs, &c),
					 HERMES_OK);
			for (int k = 0; k < 4; k++)
				ht_fill(ptrs[k], lens[k], hermes_claim_seq(&c) + (uint64_t)k);
			assert_int_equal(hermes_pub_commit(&f->pub, &c), HERMES_OK);
			for (int k = 0; k < 4; k++) {
				hermes_msg m;
				assert_int_equal(hermes_sub_poll(&sub, &m), HERMES_OK);
				assert_int_equal(m.tag, lap ? 0 : tags[k]);
				assert_int_equal(m.len, lens[k]);
				ht_check(m.data, m.len, m.seq);
			}
			assert_int_equal(hermes_sub_release(&sub), HERMES_OK);
			ht_publish_range(&f->pub, 8, 0, nslots - 4);
			hermes_msg m;
			while (hermes_sub_poll(&sub, &m) == HERMES_OK)
				assert_int_equal(m.tag, 0);
			assert_int_equal(hermes_sub_release(&sub), HERMES_OK);
		}
		/* Single claims, tagged, and the copying receive. */
		assert_int_equal(hermes_pub_claim_tagged(&f->pub, 4, 5, &c), HERMES_OK);
		memcpy(c.data, "tag5", 4);
		assert_int_equal(hermes_pub_commit(&f->pub, &c), HERMES_OK);
		char buf[8];
		hermes_msg m;
		assert_int_equal(hermes_sub_recv(&sub, buf, sizeof buf, &m), HERMES_OK);
		assert_int_equal(m.tag, 5);
		assert_memory_equal(buf, "tag5", 4);
		/* An unknown flag bit in meta: corrupt, not delivered. */
		uint64_t seq = ht_publish(&f->pub, 8, 99);
		hm_slot *sl = &f->ring.slots[seq & f->ring.slot_mask];
		hm_store_relaxed_u64(&sl->meta, hm_load_relaxed_u64(&sl->meta) | 2u);
		assert_int_equal(hermes_sub_poll(&sub, &m), HERMES_ECORRUPT);
		assert_int_equal(m.tag, 0);
		assert_int_equal(hermes_sub_poll(&sub, &m), HERMES_EAGAIN);
		hm_sub_fini(&sub);
		ht_ring_free(f);
	}
}

/* The poll's fast path tests one flag (hermes_sub.slow) for everything that
 * needs the full poll: every handle on an overwrite ring, joined or adopted
 * (a durable cursor), and a block ring's subscriber while it has a loss to
 * report or a START_SEQ target ahead, until it has dealt with them. */
static void test_fast_path_is_taken_only_where_nothing_needs_the_full_poll(void **state)
{
	(void)state;
	hermes_msg m;
	fixture *f = make_ring(4096, 200, HERMES_POLICY_OVERWRITE);
	hermes_sub a, b;
	open_sub(f, &a, HERMES_START_LATEST, 0);
	assert_int_not_equal(a.slow, 0);
	hm_sub_adopt(&b, &f->ring, hm_ring_take_sub_slot(&f->ring, 3, 3));
	assert_int_not_equal(b.slow, 0);
	free_ring(f);
	f = make_ring(4096, 200, HERMES_POLICY_BLOCK);
	open_sub(f, &a, HERMES_START_LATEST, 0);
	assert_int_equal(a.slow, 0);
	hm_sub_adopt(&b, &f->ring, hm_ring_take_sub_slot(&f->ring, 3, 3));
	assert_int_equal(b.slow, 0);
	/* A target two ahead: slow until it is reached. */
	hermes_sub ahead;
	open_sub(f, &ahead, HERMES_START_SEQ, 2);
	assert_int_not_equal(ahead.slow, 0);
	ht_publish_range(&f->pub, 16, 0, 3);
	ht_poll_seq(&ahead, &m, 2);
	assert_int_equal(ahead.slow, 0);
	assert_int_equal(hermes_sub_release(&ahead), HERMES_OK);
	/* Drain a and b, then lap: a start before what is retained has a
	 * loss to report, and is slow until it has. */
	for (uint64_t seq = 0; seq < 3; seq++) {
		ht_poll_seq(&a, &m, seq);
		ht_poll_seq(&b, &m, seq);
	}
	assert_int_equal(hermes_sub_release(&a), HERMES_OK);
	assert_int_equal(hermes_sub_release(&b), HERMES_OK);
	for (uint64_t seq = 3; seq < 3 + f->ring.nslots; seq++) {
		ht_publish(&f->pub, 16, seq);
		ht_poll_seq(&a, &m, seq);
		ht_poll_seq(&b, &m, seq);
		ht_poll_seq(&ahead, &m, seq);
		assert_int_equal(hermes_sub_release(&a), HERMES_OK);
		assert_int_equal(hermes_sub_release(&b), HERMES_OK);
		assert_int_equal(hermes_sub_release(&ahead), HERMES_OK);
	}
	hermes_sub behind;
	open_sub(f, &behind, HERMES_START_SEQ, 0);
	assert_int_not_equal(behind.slow, 0);
	assert_int_equal(hermes_sub_poll(&behind, &m), HERMES_ELOST);
	assert_true(m.lost > 0);
	assert_int_equal(behind.slow, 0);
	free_ring(f);
}

/* What a hermes_sub_poll_batch handler saw. */
typedef struct batch_seen {
	hermes_sub *sub;
	bool poll_inside; /* the handler polls the next message itself */
	unsigned n;
	uint64_t seq[32];
	uint64_t gap[32];
	uint32_t tag[32];
} batch_seen;

static void seen_note(batch_seen *b, const hermes_msg *m)
{
	assert_true(b->n < 32);
	check(m->data, m->len, m->seq);
	b->seq[b->n] = m->seq;
	b->gap[b->n] = m->gap;
	b->tag[b->n] = m->tag;
	b->n++;
}

static void on_batch_message(void *ctx, const hermes_msg *m)
{
	batch_seen *b = ctx;
	seen_note(b, m);
	/* The cursor is past this message when the handler runs. */
	assert_int_equal(hermes_sub_next_seq(b->sub), m->seq + 1);
	hermes_msg next;
	if (b->poll_inside && hermes_sub_poll(b->sub, &next) == HERMES_OK)
		seen_note(b, &next);
}

/* A handler that polls, finds nothing, and checks that the published cursor
 * has not passed the message it is handling. */
static void on_message_poll_empty(void *ctx, const hermes_msg *m)
{
	batch_seen *b = ctx;
	seen_note(b, m);
	hermes_msg next;
	assert_int_equal(hermes_sub_poll(b->sub, &next), HERMES_EAGAIN);
	assert_true(hm_load_relaxed_u64(&b->sub->slot->seq) <= m->seq);
}

static void seen_expect(batch_seen *b, uint64_t first, uint64_t last)
{
	assert_int_equal(b->n, last - first + 1);
	for (unsigned i = 0; i < b->n; i++)
		assert_int_equal(b->seq[i], first + i);
	b->n = 0;
}

/* hermes_sub_poll_batch (whose common case is a loop of its own, ring.c
 * poll_run): gaps (found by the call before, too) and user tags as
 * hermes_sub_poll gives them, max, the count, the counters and the
 * released cursor once per call, a handler that polls the next message
 * itself (each message once, in order) or finds nothing (the message it
 * holds stays unreleased), and a corrupt record in the middle of a run:
 * what comes before it is delivered, the call says HERMES_ECORRUPT, the
 * next call goes on after it. */
static void test_poll_batch_matches_poll_message_for_message(void **state)
{
	fixture *f = *state;
	hermes_sub *sub = &f->sub;
	batch_seen b = {.sub = sub};
	unsigned count = 99;
	/* 0, 1, an aborted claim (2), 3 with user tag 77, 4. */
	publish(&f->pub, 10, 0);
	publish(&f->pub, 20, 1);
	hermes_claim c;
	assert_int_equal(hermes_pub_claim(&f->pub, 30, &c), HERMES_OK);
	assert_int_equal(hermes_pub_abort(&f->pub, &c), HERMES_OK);
	uint8_t buf[40];
	fill(buf, 40, 3);
	uint64_t seq;
	assert_int_equal(hermes_pub_send_tagged(&f->pub, buf, 40, 77, &seq, 0), HERMES_OK);
	assert_int_equal(seq, 3);
	publish(&f->pub, 50, 4);
	assert_int_equal(hermes_sub_poll_batch(sub, on_batch_message, &b, 0, &count), HERMES_OK);
	assert_int_equal(count, 4);
	assert_int_equal(b.n, 4);
	static const uint64_t seqs[] = {0, 1, 3, 4}, gaps[] = {0, 0, 1, 0};
	static const uint32_t tags[] = {0, 0, 77, 0};
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(b.seq[i], seqs[i]);
		assert_int_equal(b.gap[i], gaps[i]);
		assert_int_equal(b.tag[i], tags[i]);
	}
	b.n = 0;
	/* Counted and released once, by the call. */
	assert_int_equal(hm_load_relaxed_u64(&sub->slot->msgs), 4);
	assert_int_equal(hm_load_relaxed_u64(&sub->slot->bytes), 10 + 20 + 40 + 50);
	assert_int_equal(hm_load_relaxed_u64(&sub->slot->seq), 5);
	/* Nothing there but an aborted claim (5): OK with a count of 0, the
	 * gap kept for the next message, which the loop delivers. */
	assert_int_equal(hermes_pub_claim(&f->pub, 30, &c), HERMES_OK);
	assert_int_equal(hermes_pub_abort(&f->pub, &c), HERMES_OK);
	assert_int_equal(hermes_sub_poll_batch(sub, on_batch_message, &b, 0, &count), HERMES_OK);
	assert_int_equal(count, 0);
	/* max. */
	ht_publish_range(&f->pub, 16, 6, 12);
	assert_int_equal(hermes_sub_poll_batch(sub, on_batch_message, &b, 4, &count), HERMES_OK);
	assert_int_equal(count, 4);
	assert_int_equal(b.gap[0], 1);
	assert_int_equal(b.gap[1], 0);
	seen_expect(&b, 6, 9);
	assert_int_equal(hermes_sub_poll_batch(sub, on_batch_message, &b, 0, &count), HERMES_OK);
	assert_int_equal(count, 2);
	seen_expect(&b, 10, 11);
	/* A handler that polls too. */
	ht_publish_range(&f->pub, 16, 12, 18);
	b.poll_inside = true;
	assert_int_equal(hermes_sub_poll_batch(sub, on_batch_message, &b, 0, &count), HERMES_OK);
	assert_int_equal(count, 3);
	seen_expect(&b, 12, 17);
	b.poll_inside = false;
	assert_int_equal(hm_load_relaxed_u64(&sub->slot->msgs), 4 + 6 + 6);
	/* A corrupt record (an unknown flag in its meta) between two good ones. */
	ht_publish_range(&f->pub, 16, 18, 21);
	hm_slot *bad = &f->ring.slots[19 & f->ring.slot_mask];
	hm_store_relaxed_u64(&bad->meta, hm_load_relaxed_u64(&bad->meta) | 2);
	assert_int_equal(hermes_sub_poll_batch(sub, on_batch_message, &b, 0, &count), HERMES_ECORRUPT);
	assert_int_equal(count, 1);
	seen_expect(&b, 18, 18);
	assert_int_equal(hermes_sub_poll_batch(sub, on_batch_message, &b, 0, &count), HERMES_OK);
	assert_int_equal(count, 1);
	seen_expect(&b, 20, 20);
	assert_int_equal(hm_load_relaxed_u64(&sub->slot->corrupt), 1);
	assert_int_equal(hm_load_relaxed_u64(&sub->slot->seq), 21);
	/* A handler whose own poll finds nothing: the message it holds stays
	 * unreleased (the published cursor does not pass it) until the call
	 * releases it. */
	publish(&f->pub, 16, 21);
	assert_int_equal(hermes_sub_poll_batch(sub, on_message_poll_empty, &b, 0, &count), HERMES_OK);
	assert_int_equal(count, 1);
	seen_expect(&b, 21, 21);
	assert_int_equal(hm_load_relaxed_u64(&sub->slot->seq), 22);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wraparound_every_size_is_byte_exact),
		cmocka_unit_test_setup_teardown(
			test_full_block_ring_reports_would_block_then_recovers,
			ht_ring_setup_block, ht_ring_teardown),
		cmocka_unit_test(test_block_ring_without_subscribers_never_blocks),
		cmocka_unit_test_setup_teardown(
			test_overwrite_lapped_subscriber_gets_exact_lost_count,
			ht_ring_setup_overwrite, ht_ring_teardown),
		cmocka_unit_test_setup_teardown(test_overwrite_recv_detects_overwrite_during_read,
						ht_ring_setup_overwrite, ht_ring_teardown),
		cmocka_unit_test(test_late_subscribers_start_where_asked),
		cmocka_unit_test(test_start_before_retained_reports_loss_then_earliest),
		cmocka_unit_test(test_batch_is_invisible_until_commit_then_whole),
		cmocka_unit_test_setup_teardown(
			test_ready_at_tells_claimed_committed_abandoned_and_lapped,
			ht_ring_setup_overwrite, ht_ring_teardown),
		cmocka_unit_test_setup_teardown(test_abort_leaves_a_reported_gap,
						ht_ring_setup_block, ht_ring_teardown),
		cmocka_unit_test_setup_teardown(test_poll_batch_matches_poll_message_for_message,
						ht_ring_setup_block, ht_ring_teardown),
		cmocka_unit_test_setup_teardown(test_recv_too_small_leaves_the_message_unread,
						ht_ring_setup_block, ht_ring_teardown),
		cmocka_unit_test_setup_teardown(test_recv_too_small_leaves_the_message_unread,
						ht_ring_setup_overwrite, ht_ring_teardown),
		cmocka_unit_test_setup_teardown(
			test_oversized_message_is_refused_and_nothing_changes,
			ht_ring_setup_block, ht_ring_teardown),
		cmocka_unit_test_setup_teardown(test_dead_producer_claim_is_repaired_and_skipped,
						ht_ring_setup_block, ht_ring_teardown),
		cmocka_unit_test_setup_teardown(
			test_dead_producer_between_cas_and_header_is_repaired,
			ht_ring_setup_block, ht_ring_teardown),
		cmocka_unit_test(test_repair_acts_only_on_the_claim_the_tail_proves),
		cmocka_unit_test(test_bad_configs_are_refused),
		cmocka_unit_test(test_join_waits_out_a_scan_in_progress),
		cmocka_unit_test(test_user_tags_are_delivered_per_message),
		cmocka_unit_test(test_fast_path_is_taken_only_where_nothing_needs_the_full_poll),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
