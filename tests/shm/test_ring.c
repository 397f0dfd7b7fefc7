/* Tests for shm/ring.c, on ring blocks in ordinary memory: publishing,
 * polling, wrap-around, both policies, batches, aborts, starts, repair. */
#include "tests/support/testing.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "shm/ring.h"

typedef struct fixture {
	void *block;
	hm_ring ring;
	hermes_pub pub;
	hermes_sub sub;
} fixture;

static fixture *make_ring(uint64_t cap, uint32_t max_msg, hermes_policy policy)
{
	fixture *f = calloc(1, sizeof *f);
	assert_non_null(f);
	size_t size = hm_ring_block_size(cap, hm_ring_slots(&(hermes_ring_config){.capacity = cap}));
	f->block = aligned_alloc(4096, size);
	assert_non_null(f->block);
	hermes_ring_config cfg = {.name = "t", .capacity = cap, .max_msg = max_msg, .policy = policy};
	assert_int_equal(hm_ring_format(f->block, size, &cfg), HERMES_OK);
	assert_int_equal(hm_ring_view(&f->ring, f->block, size), HERMES_OK);
	int ps = hm_ring_take_prod_slot(&f->ring, 1, 1);
	assert_true(ps >= 0);
	hm_pub_init(&f->pub, &f->ring, ps);
	return f;
}

static void open_sub(fixture *f, hermes_sub *sub, hermes_start start, uint64_t seq)
{
	int ss = hm_ring_take_sub_slot(&f->ring, 1, 1);
	assert_true(ss >= 0);
	hm_sub_init(sub, &f->ring, ss, start, seq);
}

static void free_ring(fixture *f)
{
	free(f->block);
	free(f);
}

static void fill(uint8_t *p, uint32_t len, uint64_t seq)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seq * 31 + i * 7 + 1);
}

static void check(const uint8_t *p, uint32_t len, uint64_t seq)
{
	for (uint32_t i = 0; i < len; i++)
		if (p[i] != (uint8_t)(seq * 31 + i * 7 + 1))
			fail_msg("seq %llu byte %u differs", (unsigned long long)seq, i);
}

static uint64_t publish(hermes_pub *p, uint32_t len, uint64_t tag)
{
	hermes_claim c;
	assert_int_equal(hermes_pub_claim(p, len, &c), HERMES_OK);
	fill(c.data, len, tag);
	uint64_t seq = c.seq_;
	assert_int_equal(hermes_pub_commit(p, &c), HERMES_OK);
	return seq;
}

static void test_wraparound_every_size_is_byte_exact(void **state)
{
	(void)state;
	fixture *f = make_ring(64 * 1024, 8192 - 16, HERMES_POLICY_BLOCK);
	hermes_sub sub;
	open_sub(f, &sub, HERMES_START_LATEST, 0);
	uint64_t expect = 0;
	for (uint32_t len = 1; len <= f->ring.max_msg; len++) {
		uint64_t seq = publish(&f->pub, len, len);
		assert_int_equal(seq, expect);
		hermes_msg m;
		assert_int_equal(hermes_sub_poll(&sub, &m), HERMES_OK);
		assert_int_equal(m.seq, expect);
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
	(void)state;
	fixture *f = make_ring(4096, 200, HERMES_POLICY_BLOCK);
	hermes_sub sub;
	open_sub(f, &sub, HERMES_START_LATEST, 0);
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
	assert_int_equal(hermes_sub_poll(&sub, &m), HERMES_OK);
	check(m.data, 100, 0);
	assert_int_equal(hermes_pub_claim(&f->pub, 100, &c), HERMES_EAGAIN);
	/* ...releasing does. */
	assert_int_equal(hermes_sub_release(&sub), HERMES_OK);
	assert_int_equal(hermes_pub_claim(&f->pub, 100, &c), HERMES_OK);
	fill(c.data, 100, sent);
	assert_int_equal(hermes_pub_commit(&f->pub, &c), HERMES_OK);
	for (unsigned i = 1; i <= sent; i++) {
		assert_int_equal(hermes_sub_poll(&sub, &m), HERMES_OK);
		assert_int_equal(m.seq, i);
		check(m.data, 100, i);
	}
	assert_int_equal(hermes_sub_poll(&sub, &m), HERMES_EAGAIN);
	free_ring(f);
}

static void test_block_ring_without_subscribers_never_blocks(void **state)
{
	(void)state;
	fixture *f = make_ring(4096, 200, HERMES_POLICY_BLOCK);
	for (unsigned i = 0; i < 1000; i++)
		publish(&f->pub, 100, i);
	free_ring(f);
}

static void test_overwrite_lapped_subscriber_gets_exact_lost_count(void **state)
{
	(void)state;
	fixture *f = make_ring(4096, 200, HERMES_POLICY_OVERWRITE);
	hermes_sub sub;
	open_sub(f, &sub, HERMES_START_LATEST, 0);
	const unsigned total = 1000; /* about 25 laps of 104-byte payloads */
	for (unsigned i = 0; i < total; i++) {
		hermes_claim c;
		assert_int_equal(hermes_pub_claim(&f->pub, 100, &c), HERMES_OK);
		fill(c.data, 100, i);
		assert_int_equal(hermes_pub_commit(&f->pub, &c), HERMES_OK);
	}
	hermes_msg m;
	assert_int_equal(hermes_sub_poll(&sub, &m), HERMES_ELOST);
	uint64_t lost = m.lost;
	assert_true(lost > 0);
	/* The next message is the oldest still in the ring: exactly the first
	 * one not counted as lost, then every later one in order. */
	uint64_t earliest_pos, earliest_seq;
	hm_ring_earliest(&f->ring, &earliest_pos, &earliest_seq);
	assert_int_equal(earliest_seq, lost);
	uint64_t got = 0;
	while (hermes_sub_poll(&sub, &m) == HERMES_OK) {
		assert_int_equal(m.seq, lost + got);
		check(m.data, 100, m.seq);
		got++;
	}
	assert_int_equal(hermes_sub_release(&sub), HERMES_OK);
	assert_int_equal(lost + got, total);
	assert_true(got * hm_data_bytes(100) <= f->ring.cap);
	assert_int_equal(hm_load_relaxed_u64(&sub.slot->lost), lost);
	free_ring(f);
}

static void test_overwrite_recv_detects_overwrite_during_read(void **state)
{
	(void)state;
	fixture *f = make_ring(4096, 200, HERMES_POLICY_OVERWRITE);
	hermes_sub sub;
	open_sub(f, &sub, HERMES_START_LATEST, 0);
	publish(&f->pub, 100, 0);
	hermes_msg m;
	assert_int_equal(hermes_sub_poll(&sub, &m), HERMES_OK);
	/* While the reader holds the pointer, the producer laps it. */
	for (unsigned i = 1; i < 100; i++)
		publish(&f->pub, 100, i);
	assert_int_equal(hermes_sub_release(&sub), HERMES_ELOST);
	free_ring(f);
}

static void test_late_subscribers_start_where_asked(void **state)
{
	(void)state;
	fixture *f = make_ring(64 * 1024, 1024, HERMES_POLICY_BLOCK);
	for (unsigned i = 0; i < 100; i++)
		publish(&f->pub, 40, i);
	hermes_sub early, late, at42, future;
	open_sub(f, &early, HERMES_START_EARLIEST, 0);
	open_sub(f, &late, HERMES_START_LATEST, 0);
	open_sub(f, &at42, HERMES_START_SEQ, 42);
	open_sub(f, &future, HERMES_START_SEQ, 150);
	hermes_msg m;
	for (unsigned i = 0; i < 100; i++) {
		assert_int_equal(hermes_sub_poll(&early, &m), HERMES_OK);
		assert_int_equal(m.seq, i);
		check(m.data, 40, i);
	}
	assert_int_equal(hermes_sub_poll(&early, &m), HERMES_EAGAIN);
	assert_int_equal(hermes_sub_poll(&late, &m), HERMES_EAGAIN);
	for (unsigned i = 42; i < 100; i++) {
		assert_int_equal(hermes_sub_poll(&at42, &m), HERMES_OK);
		assert_int_equal(m.seq, i);
	}
	assert_int_equal(hermes_sub_poll(&at42, &m), HERMES_EAGAIN);
	for (unsigned i = 100; i < 200; i++)
		publish(&f->pub, 40, i);
	assert_int_equal(hermes_sub_poll(&late, &m), HERMES_OK);
	assert_int_equal(m.seq, 100);
	check(m.data, 40, 100);
	assert_int_equal(hermes_sub_poll(&future, &m), HERMES_OK);
	assert_int_equal(m.seq, 150);
	check(m.data, 40, 150);
	free_ring(f);
}

static void test_start_before_retained_reports_loss_then_earliest(void **state)
{
	(void)state;
	fixture *f = make_ring(4096, 200, HERMES_POLICY_OVERWRITE);
	for (unsigned i = 0; i < 500; i++)
		publish(&f->pub, 100, i);
	uint64_t epos, eseq;
	hm_ring_earliest(&f->ring, &epos, &eseq);
	assert_true(eseq > 10);
	hermes_sub sub;
	open_sub(f, &sub, HERMES_START_SEQ, 3);
	hermes_msg m;
	assert_int_equal(hermes_sub_poll(&sub, &m), HERMES_ELOST);
	assert_int_equal(m.lost, eseq - 3);
	assert_int_equal(hermes_sub_poll(&sub, &m), HERMES_OK);
	assert_int_equal(m.seq, eseq);
	check(m.data, 100, eseq);
	/* A sequence inside the retained window is found exactly. */
	hermes_sub mid;
	open_sub(f, &mid, HERMES_START_SEQ, eseq + 7);
	assert_int_equal(hermes_sub_poll(&mid, &m), HERMES_OK);
	assert_int_equal(m.seq, eseq + 7);
	check(m.data, 100, eseq + 7);
	free_ring(f);
}

static void test_batch_is_invisible_until_commit_then_whole(void **state)
{
	(void)state;
	fixture *f = make_ring(64 * 1024, 1024, HERMES_POLICY_BLOCK);
	hermes_sub sub;
	open_sub(f, &sub, HERMES_START_LATEST, 0);
	for (uint32_t n = 1; n <= 200; n += 13) {
		uint32_t lens[200];
		void *ptrs[200];
		for (uint32_t i = 0; i < n; i++)
			lens[i] = 1 + (i * 37) % 60;
		hermes_claim c;
		assert_int_equal(hermes_pub_claim_batch(&f->pub, lens, n, ptrs, &c), HERMES_OK);
		uint64_t first = c.seq_;
		for (uint32_t i = 0; i < n; i++)
			fill(ptrs[i], lens[i], first + i);
		hermes_msg m;
		assert_int_equal(hermes_sub_poll(&sub, &m), HERMES_EAGAIN);
		assert_int_equal(hermes_pub_commit(&f->pub, &c), HERMES_OK);
		for (uint32_t i = 0; i < n; i++) {
			assert_int_equal(hermes_sub_poll(&sub, &m), HERMES_OK);
			assert_int_equal(m.seq, first + i);
			assert_int_equal(m.len, lens[i]);
			check(m.data, lens[i], first + i);
		}
		assert_int_equal(hermes_sub_poll(&sub, &m), HERMES_EAGAIN);
		assert_int_equal(hermes_sub_release(&sub), HERMES_OK);
	}
	uint32_t zero = 0;
	void *ptr;
	hermes_claim c;
	assert_int_equal(hermes_pub_claim_batch(&f->pub, &zero, 0, &ptr, &c), HERMES_EINVAL);
	free_ring(f);
}

static void test_abort_leaves_a_reported_gap(void **state)
{
	(void)state;
	fixture *f = make_ring(4096, 200, HERMES_POLICY_BLOCK);
	hermes_sub sub;
	open_sub(f, &sub, HERMES_START_LATEST, 0);
	hermes_claim c;
	assert_int_equal(hermes_pub_claim(&f->pub, 50, &c), HERMES_OK);
	/* Only one outstanding claim per publisher. */
	hermes_claim c2;
	assert_int_equal(hermes_pub_claim(&f->pub, 50, &c2), HERMES_EINVAL);
	assert_int_equal(hermes_pub_abort(&f->pub, &c), HERMES_OK);
	assert_int_equal(hermes_pub_commit(&f->pub, &c), HERMES_EINVAL);
	publish(&f->pub, 10, 1);
	hermes_msg m;
	assert_int_equal(hermes_sub_poll(&sub, &m), HERMES_OK);
	assert_int_equal(m.seq, 1);
	assert_int_equal(m.gap, 1);
	check(m.data, 10, 1);
	free_ring(f);
}

static void test_oversized_message_is_refused_and_nothing_changes(void **state)
{
	(void)state;
	fixture *f = make_ring(4096, 200, HERMES_POLICY_BLOCK);
	hermes_claim c;
	assert_int_equal(hermes_pub_claim(&f->pub, 201, &c), HERMES_EMSGSIZE);
	uint64_t pos, seq;
	hm_ring_tail(&f->ring, &pos, &seq);
	assert_int_equal(pos, 0);
	assert_int_equal(seq, 0);
	free_ring(f);
}

static void test_dead_producer_claim_is_repaired_and_skipped(void **state)
{
	(void)state;
	fixture *f = make_ring(4096, 200, HERMES_POLICY_BLOCK);
	hermes_sub sub;
	open_sub(f, &sub, HERMES_START_LATEST, 0);
	/* A second producer claims and "dies" before committing. */
	int dead_slot = hm_ring_take_prod_slot(&f->ring, 2, 2);
	hermes_pub dead;
	hm_pub_init(&dead, &f->ring, dead_slot);
	hermes_claim c;
	assert_int_equal(hermes_pub_claim(&dead, 80, &c), HERMES_OK);
	publish(&f->pub, 10, 1);
	hermes_msg m;
	/* The live producer's message waits behind the unfinished claim. */
	assert_int_equal(hermes_sub_poll(&sub, &m), HERMES_EAGAIN);
	assert_int_equal(hm_ring_repair_producer(&f->ring, (uint32_t)dead_slot), 1);
	assert_int_equal(hermes_sub_poll(&sub, &m), HERMES_OK);
	assert_int_equal(m.seq, 1);
	assert_int_equal(m.gap, 1);
	check(m.data, 10, 1);
	assert_int_equal(hm_load_relaxed_u64(&f->ring.hdr->repairs), 1);
	assert_int_equal(hm_load_relaxed_u64(&f->ring.prods[dead_slot].owner), 0);
	free_ring(f);
}

static void test_dead_producer_between_cas_and_header_is_repaired(void **state)
{
	(void)state;
	fixture *f = make_ring(4096, 200, HERMES_POLICY_BLOCK);
	hermes_sub sub;
	open_sub(f, &sub, HERMES_START_LATEST, 0);
	publish(&f->pub, 30, 0);
	/* Build by hand the state of a producer killed right after its tail
	 * CAS, before it wrote anything into the ring: intent recorded, tail
	 * moved, record memory untouched. */
	int ds = hm_ring_take_prod_slot(&f->ring, 2, 2);
	hm_prod_slot *s = &f->ring.prods[ds];
	uint64_t pos, seq;
	hm_ring_tail(&f->ring, &pos, &seq);
	uint64_t bytes = hm_data_bytes(64);
	hm_store_relaxed_u64(&s->intent_pos, pos);
	hm_store_relaxed_u64(&s->intent_seq, seq);
	hm_store_relaxed_u32(&s->intent_count, 1);
	hm_store_relaxed_u32(&s->intent_bytes, (uint32_t)bytes);
	hm_store_relaxed_u32(&s->active, 1);
	uint64_t ep = pos, es = seq;
	assert_true(hm_cas128(&f->ring.hdr->tail, &ep, &es, pos + bytes, seq + 1));
	publish(&f->pub, 20, 2);
	hermes_msg m;
	assert_int_equal(hermes_sub_poll(&sub, &m), HERMES_OK);
	assert_int_equal(m.seq, 0);
	assert_int_equal(hermes_sub_poll(&sub, &m), HERMES_EAGAIN);
	assert_int_equal(hm_ring_repair_producer(&f->ring, (uint32_t)ds), 1);
	assert_int_equal(hermes_sub_poll(&sub, &m), HERMES_OK);
	assert_int_equal(m.seq, 2);
	assert_int_equal(m.gap, 1);
	check(m.data, 20, 2);
	free_ring(f);
}

static void test_repair_waits_while_a_live_producer_races_for_the_claim(void **state)
{
	(void)state;
	fixture *f = make_ring(4096, 200, HERMES_POLICY_BLOCK);
	uint64_t pos, seq;
	hm_ring_tail(&f->ring, &pos, &seq);
	int ds = hm_ring_take_prod_slot(&f->ring, 2, 2);
	hm_prod_slot *dead = &f->ring.prods[ds];
	hm_prod_slot *live = f->pub.slot;
	/* Both recorded the same intent; one CAS won and nobody wrote yet. */
	hm_prod_slot *both[2] = {dead, live};
	for (int i = 0; i < 2; i++) {
		hm_store_relaxed_u64(&both[i]->intent_pos, pos);
		hm_store_relaxed_u64(&both[i]->intent_seq, seq);
		hm_store_relaxed_u32(&both[i]->intent_count, 1);
		hm_store_relaxed_u32(&both[i]->intent_bytes, 32);
		hm_store_relaxed_u32(&both[i]->active, 1);
	}
	uint64_t ep = pos, es = seq;
	assert_true(hm_cas128(&f->ring.hdr->tail, &ep, &es, pos + 32, seq + 1));
	assert_int_equal(hm_ring_repair_producer(&f->ring, (uint32_t)ds), -1);
	/* The live one turns out to have lost (it moves on): now repair. */
	hm_store_relaxed_u32(&live->active, 0);
	assert_int_equal(hm_ring_repair_producer(&f->ring, (uint32_t)ds), 1);
	free_ring(f);
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

typedef struct join_arg {
	fixture *f;
	hermes_sub sub;
} join_arg;

static void *join_thread(void *arg)
{
	join_arg *j = arg;
	int ss = hm_ring_take_sub_slot(&j->f->ring, 1, 1);
	hm_sub_init(&j->sub, &j->f->ring, ss, HERMES_START_EARLIEST, 0);
	return NULL;
}

/* A subscriber joining while a producer's scan is in progress (a scan that
 * read the cursors before the join) waits for it, then sees the limits that
 * scan raised and starts where the ring is safe from the next lap. */
static void test_join_waits_out_a_scan_in_progress(void **state)
{
	(void)state;
	fixture *f = make_ring(4096, 200, HERMES_POLICY_BLOCK);
	for (unsigned i = 0; i < 10; i++)
		publish(&f->pub, 8, i);
	hm_prod_slot *ps = f->pub.slot;
	hm_store_relaxed_u32(&ps->scans, 1); /* "scanning", has not seen the joiner */
	join_arg j = {.f = f};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, join_thread, &j), 0);
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
	assert_true(j.sub.seq >= 10);
	assert_true(j.sub.pos >= 10 * 8);
	free_ring(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wraparound_every_size_is_byte_exact),
		cmocka_unit_test(test_full_block_ring_reports_would_block_then_recovers),
		cmocka_unit_test(test_block_ring_without_subscribers_never_blocks),
		cmocka_unit_test(test_overwrite_lapped_subscriber_gets_exact_lost_count),
		cmocka_unit_test(test_overwrite_recv_detects_overwrite_during_read),
		cmocka_unit_test(test_late_subscribers_start_where_asked),
		cmocka_unit_test(test_start_before_retained_reports_loss_then_earliest),
		cmocka_unit_test(test_batch_is_invisible_until_commit_then_whole),
		cmocka_unit_test(test_abort_leaves_a_reported_gap),
		cmocka_unit_test(test_oversized_message_is_refused_and_nothing_changes),
		cmocka_unit_test(test_dead_producer_claim_is_repaired_and_skipped),
		cmocka_unit_test(test_dead_producer_between_cas_and_header_is_repaired),
		cmocka_unit_test(test_repair_waits_while_a_live_producer_races_for_the_claim),
		cmocka_unit_test(test_bad_configs_are_refused),
		cmocka_unit_test(test_join_waits_out_a_scan_in_progress),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
