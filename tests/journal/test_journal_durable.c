/* A durable journal's cursor outlives its recorder (include/hermes/durable.h,
 * hermesd's release path in shm/hermesd/supervisor.c, hermes-journal's adoption):
 * the real hermesd and hermes-journal, a producer in its own process on a
 * small block ring, the recorder killed with SIGKILL while it publishes. */
#include "tests/journal/journal_support.h"
#include "tests/support/testing.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hermes/durable.h>

#include "shm/ring.h"
#include "shm/segment.h"


static hjt T;

static int teardown(void **state)
{
	(void)state;
	ht_jr_cleanup(&T);
	return 0;
}

/* The ring's orphaned durable slot: its index (-1: none), cursor and name. */
static int orphan(uint64_t *seq, char name[32])
{
	hm_ring r;
	if (hm_bus_find_ring(T.b.bus, T.ring, &r, NULL) != HERMES_OK)
		return -1;
	for (int i = 0; i < (int)HM_MAX_SUBSCRIBERS; i++)
		if (hm_load_acquire_u64(&r.subs[i].owner) == HM_SUB_ORPHAN &&
		    hm_load_acquire_u64(&r.subs[i].durable)) {
			*seq = hm_load_relaxed_u64(&r.subs[i].seq);
			hm_sub_durable_name(&r.subs[i], name);
			return i;
		}
	return -1;
}

/* hermesd notices the recorder's death through its pidfd within a second. */
static int wait_orphan(uint64_t *seq, char name[32])
{
	uint64_t deadline = ht_now_ns() + 5000000000ull;
	int i;
	while ((i = orphan(seq, name)) < 0) {
		if (ht_now_ns() > deadline)
			fail_msg("no orphaned durable cursor 5 s after the recorder went");
		usleep(1000);
	}
	return i;
}

static uint64_t recorded(void)
{
	const hm_rec_stats *s = ht_jr_stats(&T);
	uint64_t n = s ? hm_load_relaxed_u64(&s->messages) : 0;
	hm_rec_stats_close(s);
	return n;
}

static void test_durable_cursor_outlives_a_killed_recorder(void **state)
{
	(void)state;
	/* 64 KiB: a few hundred messages. Without the durable cursor the
	 * producer laps the dead recorder's position at once. */
	ht_jr_begin(&T, "jdkill", 64u << 10, "durable = true\nfile_size = 1M\n");
	const uint64_t n = ht_scaled(60000);
	const unsigned kills = 5;
	ht_jr_producer a = {.bus = T.b.name, .ring = T.ring, .from = 0, .to = n};
	pid_t p = ht_fork(ht_jr_produce, &a);
	for (unsigned k = 0; k < kills; k++) {
		uint64_t want = (k + 1) * n / (kills + 2), deadline = ht_now_ns() + 30000000000ull;
		while (recorded() < want) {
			if (ht_now_ns() > deadline)
				fail_msg("the recorder got only %llu of %llu", (unsigned long long)recorded(),
					 (unsigned long long)want);
			usleep(500);
		}
		ht_jr_kill(&T);
		uint64_t at;
		char name[32];
		wait_orphan(&at, name);
		/* The producer is held at the dead recorder's cursor: the ring
		 * never runs more than its slots ahead of it. */
		uint64_t tail = ht_jr_ring_seq(&T, HERMES_START_LATEST);
		assert_true(tail >= at && tail - at <= 1024);
		print_message("kill %u: cursor '%s' orphaned at %llu, ring tail %llu\n", k + 1, name,
			      (unsigned long long)at, (unsigned long long)tail);
		ht_jr_start(&T, true);
	}
	assert_int_equal(ht_child_exit(p, 60000), 0);
	assert_true(ht_jr_wait_journaled(&T, n, 20000));
	ht_jr_stop(&T);
	/* Not one message missing, duplicated or recorded as lost. */
	ht_jr_verify_journal(&T, 0, n);
	const hm_rec_stats *s = ht_jr_stats(&T);
	assert_non_null(s);
	assert_int_equal(hm_load_relaxed_u64(&s->lost), 0);
	hm_rec_stats_close(s);
	assert_true(ht_file_has(T.log, "adopted at sequence"));
}

static void test_an_orphaned_cursor_holds_producers_until_the_operator_drops_it(void **state)
{
	(void)state;
	ht_jr_begin(&T, "jddrop", 64u << 10, "durable = true\n");
	hermes_pub *pub = ht_jr_pub(&T);
	ht_jr_publish_journaled(&T, pub, 0, 1000, 10000);
	/* A graceful stop keeps the cursor too (a restart or an upgrade). */
	ht_jr_stop(&T);
	uint64_t at;
	char name[32];
	wait_orphan(&at, name);
	assert_int_equal(at, 1000);
	char out[8192];
	const char *inspect[] = {"inspect", T.ring, NULL};
	assert_int_equal(ht_ctl(&T.b.d, inspect, out, sizeof out), 0);
	if (!strstr(out, "durable, orphaned") || !strstr(out, name))
		fail_msg("inspect does not show the orphaned cursor '%s':\n%s", name, out);
	/* The ring fills up and stays full: the cursor holds. */
	uint64_t i = 1000;
	hermes_err e = HERMES_OK;
	for (; i < 3000 && e == HERMES_OK; i++) {
		uint8_t p[128];
		uint32_t len = ht_jr_fill(p, i);
		e = hermes_pub_send_timed(pub, p, len, NULL, 50000000);
	}
	assert_int_equal(e, HERMES_ETIMEDOUT);
	i--;
	/* Refused while a process has it open... */
	hermes_sub *holder;
	int adopted = 0;
	assert_int_equal(hermes_sub_open_durable(T.b.bus, T.ring, name, HERMES_START_LATEST, 0, &holder,
						 &adopted),
			 HERMES_OK);
	assert_int_equal(adopted, 1);
	assert_int_equal(hermes_sub_next_seq(holder), 1000);
	const char *drop[] = {"durable", "drop", T.ring, name, NULL};
	assert_int_equal(ht_ctl(&T.b.d, drop, out, sizeof out), 1);
	assert_non_null(strstr(out, "is open in pid"));
	assert_int_equal(hermes_sub_drop_durable(T.b.bus, T.ring, name), HERMES_EBUSY);
	hermes_sub_close(holder); /* orphaned again */
	wait_orphan(&at, name);
	/* ...then dropped: the producers go on. */
	assert_int_equal(ht_ctl(&T.b.d, drop, out, sizeof out), 0);
	assert_non_null(strstr(out, "dropped"));
	assert_true(orphan(&at, name) < 0);
	ht_jr_publish(&T, pub, i, i + 2000);
	hermes_pub_close(pub);
	assert_int_equal(hermes_sub_drop_durable(T.b.bus, T.ring, name), HERMES_ENOENT);
	assert_int_equal(hermes_sub_drop_durable(T.b.bus, T.ring, "bad name"), HERMES_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_durable_cursor_outlives_a_killed_recorder, teardown),
		cmocka_unit_test_teardown(test_an_orphaned_cursor_holds_producers_until_the_operator_drops_it,
					  teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
