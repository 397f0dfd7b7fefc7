/* Recording and replay end to end (journal/recorder, journal/replay.c): the
 * real hermesd and hermes-journal, producers in real processes, readers
 * through <hermes/replay.h>. */
#include "tests/journal/journal_support.h"
#include "tests/support/testing.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hermes/replay.h>

#include <fcntl.h>
#include <sys/mman.h>

#include "core/endian.h"
#include "journal/jfile.h"
#include "journal/journal.h"

static hjt T;

static int teardown(void **state)
{
	(void)state;
	ht_jr_cleanup(&T);
	return 0;
}

/* Poll r until sequence `to` (exclusive) was delivered: every message once,
 * in order, intact, with no gap or loss. Returns the sequence at which it
 * went live (UINT64_MAX when it never did). */
static uint64_t read_exactly(hermes_replay *r, uint64_t from, uint64_t to, int timeout_ms)
{
	uint64_t deadline = ht_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	uint64_t next = from, live_at = UINT64_MAX;
	while (next < to) {
		hermes_msg m;
		hermes_err e = hermes_replay_poll(r, &m);
		if (live_at == UINT64_MAX && hermes_replay_is_live(r))
			live_at = next;
		if (e == HERMES_EAGAIN) {
			if (ht_now_ns() > deadline)
				fail_msg("replay stalled at %llu (live: %d)", (unsigned long long)next,
					 hermes_replay_is_live(r));
			hermes_err w = hermes_replay_wait(r, HERMES_WAIT_BLOCK, 100000000);
			assert_true(w == HERMES_OK || w == HERMES_ETIMEDOUT);
			continue;
		}
		if (e != HERMES_OK)
			fail_msg("replay at %llu: %s (seq %llu lost %llu)", (unsigned long long)next,
				 hermes_strerror(e), (unsigned long long)m.seq, (unsigned long long)m.lost);
		if (m.seq != next || m.gap != 0 || !ht_jr_msg_ok(m.data, m.len, m.seq))
			fail_msg("replay expected %llu, got seq %llu gap %llu len %u", (unsigned long long)next,
				 (unsigned long long)m.seq, (unsigned long long)m.gap, m.len);
		next++;
		if (next % 64 == 0)
			assert_int_equal(hermes_replay_release(r), HERMES_OK);
	}
	assert_int_equal(hermes_replay_release(r), HERMES_OK);
	assert_int_equal(hermes_replay_next_seq(r), to);
	return live_at;
}

static void test_subscriber_started_after_the_producer_finished_reads_everything(void **state)
{
	(void)state;
	ht_jr_journal(&T, "jlate", 1u << 20, "", 20000);
	/* The producer is gone; the ring's own subscribers would start at its
	 * end. A replay from 0 gets all of it from the journal. */
	hermes_replay *r;
	assert_int_equal(hermes_replay_open(NULL, T.ring, T.dir, 0, &r), HERMES_OK);
	assert_int_equal(read_exactly(r, 0, 20000, 10000), UINT64_MAX);
	hermes_msg m;
	assert_int_equal(hermes_replay_poll(r, &m), HERMES_EAGAIN);
	assert_int_equal(hermes_replay_wait(r, HERMES_WAIT_BLOCK, 1000000), HERMES_ETIMEDOUT);
	hermes_replay_close(r);
	/* From any sequence in the middle, and handed over to the live ring at
	 * the end of the journal. */
	assert_int_equal(hermes_replay_open(T.b.bus, T.ring, T.dir, 12345, &r), HERMES_OK);
	assert_int_equal(read_exactly(r, 12345, 20000, 10000), UINT64_MAX);
	assert_int_equal(hermes_replay_poll(r, &m), HERMES_EAGAIN);
	assert_true(hermes_replay_is_live(r));
	ht_jr_send(&T, 20000, 20010);
	read_exactly(r, 20000, 20010, 10000);
	hermes_replay_close(r);
}

/* A file that stops without END while a later one exists (the writer died
 * between making the next file and sealing this one), with the ring long
 * past it: the replay, which at a file's end tries the ring before it lists
 * the directory, finds the ring moved on, looks, and reads the later files,
 * then goes live at the journal's end. */
static void test_replay_reads_on_past_a_file_left_without_end(void **state)
{
	(void)state;
	ht_jr_journal(&T, "jopen", 64u << 10, "file_size = 256K\n", 20000);
	char path[400];
	(void)ht_jr_oldest_file(&T, path, sizeof path);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	uint8_t *m = mmap(NULL, 256u << 10, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	assert_true(m != MAP_FAILED);
	hm_jfile_info fi;
	hm_jscan sc;
	assert_int_equal(hm_jfile_header(m, 256u << 10, &fi), HERMES_OK);
	hm_jfile_scan(m, &fi, &sc, NULL, NULL);
	assert_true(sc.sealed);
	memset(m + sc.tail_off - HM_JR_HDR, 0, HM_JR_HDR); /* END gone */
	hm_jfile_scan(m, &fi, &sc, NULL, NULL);
	assert_false(sc.sealed);
	munmap(m, 256u << 10);
	assert_true(sc.next_seq < ht_jr_ring_seq(&T, HERMES_START_EARLIEST));
	hermes_replay *r;
	assert_int_equal(hermes_replay_open(T.b.bus, T.ring, T.dir, 0, &r), HERMES_OK);
	assert_int_equal(read_exactly(r, 0, 20000, 10000), UINT64_MAX);
	hermes_msg msg;
	assert_int_equal(hermes_replay_poll(r, &msg), HERMES_EAGAIN);
	assert_true(hermes_replay_is_live(r));
	hermes_replay_close(r);
}

/* User tags (issue 18): hermes-journal records them (format version 2) and
 * a replay from the journal hands them back; untagged stays 0. */
static void test_user_tags_are_recorded_and_replayed(void **state)
{
	(void)state;
	ht_jr_begin(&T, "jtags", 1u << 20, "");
	hermes_pub *pub = ht_jr_pub(&T);
	for (uint64_t i = 0; i < 100; i++) {
		uint8_t p[256];
		uint32_t len = ht_jr_fill(p, i);
		uint32_t tag = i % 2 ? 0 : (uint32_t)(0xfffffff0u + i % 16);
		assert_int_equal(hermes_pub_send_tagged(pub, p, len, tag, NULL, 10000000000ll),
				 HERMES_OK);
	}
	hermes_pub_close(pub);
	assert_true(ht_jr_wait_journaled(&T, 100, 10000));
	ht_jr_stop(&T);
	hermes_replay *r;
	assert_int_equal(hermes_replay_open(NULL, T.ring, T.dir, 0, &r), HERMES_OK);
	for (uint64_t i = 0; i < 100; i++) {
		hermes_msg m;
		assert_int_equal(hermes_replay_poll(r, &m), HERMES_OK);
		assert_int_equal(m.seq, i);
		assert_true(ht_jr_msg_ok(m.data, m.len, m.seq));
		assert_int_equal(m.tag, i % 2 ? 0 : 0xfffffff0u + i % 16);
	}
	assert_int_equal(hermes_replay_release(r), HERMES_OK);
	hermes_replay_close(r);
}

static void test_replay_hands_over_to_live_exactly_once_while_the_producer_publishes(void **state)
{
	(void)state;
	/* A small block ring: the producer can only run as fast as the
	 * recorder (and, once live, the replay) release it. */
	ht_jr_begin(&T, "jmerge", 64u << 10, "durable = true\nfile_size = 1M\n");
	const uint64_t n = ht_scaled(300000);
	ht_jr_producer a = {.bus = T.b.name, .ring = T.ring, .from = 0, .to = n};
	pid_t p = ht_fork(ht_jr_produce, &a);
	assert_true(ht_jr_wait_journaled(&T, 0, 1) || true);
	/* Start once some of it is journaled, while the producer still runs. */
	uint64_t deadline = ht_now_ns() + 10000000000ull;
	for (;;) {
		const hm_rec_stats *s = ht_jr_stats(&T);
		uint64_t rec = s ? hm_load_relaxed_u64(&s->messages) : 0;
		hm_rec_stats_close(s);
		if (rec >= 1000)
			break;
		assert_true(ht_now_ns() < deadline);
		usleep(500);
	}
	hermes_replay *r;
	assert_int_equal(hermes_replay_open(T.b.bus, T.ring, T.dir, 0, &r), HERMES_OK);
	uint64_t live_at = read_exactly(r, 0, n, 60000);
	assert_int_equal(ht_child_exit(p, 60000), 0);
	/* It went live, somewhere after the first message, before the last. */
	print_message("hand-over to live at sequence %llu of %llu\n", (unsigned long long)live_at,
		      (unsigned long long)n);
	assert_true(live_at > 0 && live_at < n);
	hermes_replay_close(r);
	assert_true(ht_jr_wait_journaled(&T, n, 20000));
	ht_jr_stop(&T);
	ht_jr_verify_journal(&T, 0, n);
}

static void test_durable_recorder_holds_producers_back_and_resumes_after_restart(void **state)
{
	(void)state;
	ht_jr_begin(&T, "jdur", 64u << 10, "durable = true\nfsync = batch\nfile_size = 256K\n");
	hermes_pub *pub = ht_jr_pub(&T);
	/* Far more than the ring holds: every one waits for the recorder. */
	ht_jr_publish_journaled(&T, pub, 0, 30000, 20000);
	/* While the recorder is down, the ring keeps what another subscriber
	 * (an application reading it) has not released; the restarted
	 * recorder takes exactly what it had not journaled from there. */
	hermes_sub *app;
	assert_int_equal(hermes_sub_open(T.b.bus, T.ring, HERMES_START_LATEST, 0, &app), HERMES_OK);
	ht_jr_stop(&T);
	ht_jr_publish(&T, pub, 30000, 30500);
	ht_jr_start(&T, true);
	hermes_sub_close(app);
	ht_jr_publish_journaled(&T, pub, 30500, 31000, 20000);
	ht_jr_stop(&T);
	hermes_pub_close(pub);
	ht_jr_verify_journal(&T, 0, 31000);
	const hm_rec_stats *s = ht_jr_stats(&T);
	assert_non_null(s);
	assert_int_equal(hm_load_relaxed_u64(&s->restarts), 2);
	assert_int_equal(hm_load_relaxed_u64(&s->lost), 0);
	assert_true(hm_load_relaxed_u64(&s->syncs) > 0);
	hm_rec_stats_close(s);
	/* Retention kept every file: 31000 messages need several 256K files. */
	uint64_t *seqs;
	size_t nf;
	assert_int_equal(hm_jdir_list(T.dir, &seqs, &nf), HERMES_OK);
	free(seqs);
	assert_true(nf > 3);
}

static void test_gaps_and_corrupt_records_reach_the_replay_reader(void **state)
{
	(void)state;
	char dir[200], name[64];
	snprintf(dir, sizeof dir, "/tmp/hermes-test-%s", ht_unique_name(name, sizeof name, "jrc"));
	hm_jopts o = {.file_size = 64u << 10, .index_stride = 4096};
	hm_jwriter *w;
	assert_int_equal(hm_jwriter_open(dir, "rec", 1, &o, &w, NULL), HERMES_OK);
	uint8_t p[128];
	for (uint64_t q = 0; q < 100; q++) {
		if (q == 40) {
			assert_int_equal(hm_jwriter_range(w, HM_JR_GAP, 40, 2), HERMES_OK);
			q = 42;
		}
		uint32_t len = 16 + (uint32_t)(q * 11 % 100);
		memcpy(p, &q, 8);
		for (uint32_t k = 8; k < len; k++)
			p[k] = (uint8_t)(q * 7 + k);
		assert_int_equal(hm_jwriter_msg(w, q, p, len), HERMES_OK);
	}
	hm_jwriter_close(w);
	/* Damage message 70's payload in place. */
	ht_jr_flip(dir, 0, 70, 9, 0x20);

	hermes_replay *r;
	assert_int_equal(hermes_replay_open(NULL, "rec", dir, 30, &r), HERMES_OK);
	hermes_msg m;
	for (uint64_t q = 30; q < 100; q++) {
		if (q == 40 || q == 41)
			continue;
		hermes_err e = hermes_replay_poll(r, &m);
		if (q == 70) {
			assert_int_equal(e, HERMES_EBADSEGMENT);
			assert_int_equal(m.seq, 70);
			assert_int_equal(m.lost, 1);
			assert_null(m.data);
			continue;
		}
		assert_int_equal(e, HERMES_OK);
		assert_int_equal(m.seq, q);
		assert_int_equal(m.gap, q == 42 ? 2 : 0);
		assert_true(ht_jr_msg_ok(m.data, m.len, q));
	}
	assert_int_equal(hermes_replay_poll(r, &m), HERMES_EAGAIN);
	hermes_replay_close(r);
	/* A sequence before the journal's first: reported lost, then the rest. */
	ht_remove_tree(dir);
	assert_int_equal(access(dir, F_OK), -1);
	assert_int_equal(hermes_replay_open(NULL, "rec", dir, 0, &r), HERMES_ENOENT);
}

/* The hand-over race, made deterministic: an overwrite ring has already
 * dropped the sequences right after the journal's end. The first live poll
 * reports the loss; the replay goes back to the journal, which here grows
 * in the meantime (the recorder catching up), and nothing is lost. Without
 * that growth, the second attempt reports the loss with its first sequence
 * and count, then goes on live. Whether the journal grows is the test's
 * initial state. */
static void hand_over_race(void **state)
{
	const bool journal_catches_up = *(bool *)*state;
	char dir[200], tag[64];
	snprintf(dir, sizeof dir, "/tmp/hermes-test-%s", ht_unique_name(tag, sizeof tag, "jrace"));
	ht_bus B;
	ht_bus_private(&B, "jrace", 4u << 20);
	ht_bus_ring(&B, "rec", 4096, 512, HERMES_POLICY_OVERWRITE);
	hermes_bus *bus = B.bus;
	hermes_pub *pub;
	assert_int_equal(hermes_pub_open(bus, "rec", &pub), HERMES_OK);
	ht_jr_publish(NULL, pub, 0, 300); /* the ring keeps only the last few dozen */
	hm_jopts o = {.file_size = 64u << 10, .index_stride = 4096};
	hm_jwriter *w;
	assert_int_equal(hm_jwriter_open(dir, "rec", hermes_bus_id(bus), &o, &w, NULL), HERMES_OK);
	uint8_t p[128];
	for (uint64_t q = 0; q < 50; q++)
		assert_int_equal(hm_jwriter_msg(w, q, p, ht_jr_fill(p, q)), HERMES_OK);

	hermes_replay *r;
	assert_int_equal(hermes_replay_open(bus, "rec", dir, 0, &r), HERMES_OK);
	hermes_msg m;
	for (uint64_t q = 0; q < 50; q++) {
		assert_int_equal(hermes_replay_poll(r, &m), HERMES_OK);
		assert_int_equal(m.seq, q);
		assert_true(ht_jr_msg_ok(m.data, m.len, q));
	}
	/* The journal ends at 50; the ring no longer has 50: back to the journal. */
	assert_int_equal(hermes_replay_poll(r, &m), HERMES_EAGAIN);
	assert_false(hermes_replay_is_live(r));
	assert_int_equal(hermes_replay_next_seq(r), 50);
	uint64_t next = 50;
	if (journal_catches_up) {
		for (uint64_t q = 50; q < 300; q++)
			assert_int_equal(hm_jwriter_msg(w, q, p, ht_jr_fill(p, q)), HERMES_OK);
	} else {
		/* A real loss: from 50 up to what the ring still holds. */
		assert_int_equal(hermes_replay_poll(r, &m), HERMES_ELOST);
		assert_int_equal(m.seq, 50);
		assert_true(m.lost > 0 && 50 + m.lost < 300);
		next = 50 + m.lost;
		assert_true(hermes_replay_is_live(r));
	}
	/* Everything else once, in order: from the journal or the ring; then
	 * what is published after the hand-over. */
	uint64_t deadline = ht_now_ns() + 10000000000ull;
	for (uint64_t end = 300; end <= 310; end += 10) {
		if (end == 310)
			ht_jr_publish(NULL, pub, 300, 310);
		while (next < end) {
			hermes_err e = hermes_replay_poll(r, &m);
			if (e == HERMES_EAGAIN) {
				assert_true(ht_now_ns() < deadline);
				continue;
			}
			assert_int_equal(e, HERMES_OK);
			assert_int_equal(m.seq, next);
			assert_int_equal(m.gap, 0);
			assert_true(ht_jr_msg_ok(m.data, m.len, m.seq));
			next++;
		}
		assert_int_equal(hermes_replay_release(r), HERMES_OK);
	}
	assert_true(hermes_replay_is_live(r));
	assert_int_equal(hermes_replay_release(r), HERMES_OK);
	hermes_replay_close(r);
	hm_jwriter_close(w);
	hermes_pub_close(pub);
	ht_bus_teardown(&B);
	ht_remove_tree(dir);
	assert_int_equal(access(dir, F_OK), -1);
}

static void test_recorder_refuses_a_ring_that_was_created_again(void **state)
{
	(void)state;
	ht_jr_journal(&T, "jrecreate", 64u << 10, "", 100);
	/* The same name, a new ring: its sequences start at 0 again. */
	assert_int_equal(hermes_ring_delete(T.b.bus, T.ring, 0), HERMES_OK);
	hermes_ring_config rc = {.name = T.ring, .capacity = 64u << 10, .max_msg = 1024,
				 .policy = HERMES_POLICY_BLOCK};
	assert_int_equal(hermes_ring_create(T.b.bus, &rc), HERMES_OK);
	ht_jr_send(&T, 0, 10);
	ht_jr_start(&T, true);
	/* It says so and records nothing: not a silent skip to sequence 100. */
	const hm_rec_stats *s = ht_jr_stats(&T);
	assert_non_null(s);
	assert_int_equal(hm_load_relaxed_u64(&s->state), HM_REC_STATE_WAIT_RING);
	char err[256];
	hm_rec_stats_error_text(s, err);
	hm_rec_stats_close(s);
	assert_non_null(strstr(err, "re-created"));
	ht_jr_stop(&T);
	ht_jr_verify_journal(&T, 0, 100);
}

static void test_retention_deletes_old_files_and_replay_reports_them_lost(void **state)
{
	(void)state;
	ht_jr_begin(&T, "jret", 64u << 10, "file_size = 128K\nretention_bytes = 512K\n");
	ht_jr_record(&T, 0, 20000, 10000);
	/* Retention runs once a second: wait for it (with a deadline). */
	uint64_t deadline = ht_now_ns() + 10000000000ull, first = 0;
	for (;;) {
		uint64_t *seqs;
		size_t n;
		assert_int_equal(hm_jdir_list(T.dir, &seqs, &n), HERMES_OK);
		first = n ? seqs[0] : 0;
		free(seqs);
		if (n <= 4)
			break;
		assert_true(ht_now_ns() < deadline);
		usleep(10000);
	}
	assert_true(first > 0);
	ht_jr_stop(&T);
	const hm_rec_stats *s = ht_jr_stats(&T);
	assert_true(hm_load_relaxed_u64(&s->files_deleted) > 0);
	hm_rec_stats_close(s);
	/* From 0: what retention dropped is one loss, then everything else. */
	hermes_replay *r;
	assert_int_equal(hermes_replay_open(NULL, T.ring, T.dir, 0, &r), HERMES_OK);
	hermes_msg m;
	assert_int_equal(hermes_replay_poll(r, &m), HERMES_ELOST);
	assert_int_equal(m.seq, 0);
	assert_int_equal(m.lost, first);
	assert_int_equal(read_exactly(r, first, 20000, 10000), UINT64_MAX);
	hermes_replay_close(r);
}

static uint64_t syncs_now(void)
{
	const hm_rec_stats *s = ht_jr_stats(&T);
	assert_non_null(s);
	uint64_t n = hm_load_relaxed_u64(&s->syncs);
	hm_rec_stats_close(s);
	return n;
}

/* The fsync policies (batch: the durable test above): none never syncs, not
 * even at a graceful stop; interval syncs every fsync_interval on its own,
 * also when no message comes. */
static void fsync_policy(void **state)
{
	const bool interval = *(bool *)*state;
	ht_jr_begin(&T, interval ? "jfsi" : "jfsn", 64u << 10,
		    interval ? "fsync = interval\nfsync_interval = 20ms\n" : "fsync = none\n");
	ht_jr_record(&T, 0, 2000, 10000);
	if (interval) {
		/* Five intervals and more, with a deadline of 10 s. */
		uint64_t from = syncs_now(), deadline = ht_now_ns() + 10000000000ull;
		while (syncs_now() < from + 5) {
			assert_true(ht_now_ns() < deadline);
			usleep(10000);
		}
	}
	ht_jr_stop(&T);
	if (!interval)
		assert_int_equal(syncs_now(), 0);
	ht_jr_verify_journal(&T, 0, 2000);
}

int main(void)
{
	static bool interval = true, none = false;
	static bool journal_grew = true, journal_stays = false;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_subscriber_started_after_the_producer_finished_reads_everything, teardown),
		cmocka_unit_test_teardown(test_replay_reads_on_past_a_file_left_without_end, teardown),
		cmocka_unit_test_teardown(test_user_tags_are_recorded_and_replayed, teardown),
		cmocka_unit_test_teardown(test_replay_hands_over_to_live_exactly_once_while_the_producer_publishes, teardown),
		cmocka_unit_test_teardown(test_durable_recorder_holds_producers_back_and_resumes_after_restart, teardown),
		cmocka_unit_test(test_gaps_and_corrupt_records_reach_the_replay_reader),
		{"test_hand_over_race_goes_back_to_the_journal_when_it_grew", hand_over_race, NULL, NULL,
		 &journal_grew},
		{"test_hand_over_race_reports_a_real_loss_once", hand_over_race, NULL, NULL, &journal_stays},
		cmocka_unit_test_teardown(test_recorder_refuses_a_ring_that_was_created_again, teardown),
		cmocka_unit_test_teardown(test_retention_deletes_old_files_and_replay_reports_them_lost, teardown),
		{"test_fsync_interval_syncs_every_interval_on_its_own", fsync_policy, NULL, teardown, &interval},
		{"test_fsync_none_never_syncs", fsync_policy, NULL, teardown, &none},
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
