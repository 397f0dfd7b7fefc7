/* Remote resume through the journal (tcp-bridge/bridge/feed.c, "Resuming from the
 * journal"): the real hermesd, hermes-journal and hermes-bridge, a remote
 * subscriber over loopback TCP that disconnects, the ring lapping far past
 * its position, and a reconnect at its last sequence + 1 that must get every
 * message exactly once, from the journal and then live. */
#include "tests/tcp-bridge/bridge_support.h"
#include "tests/journal/journal_support.h"
#include "tests/support/testing.h"

#include "journal/journal.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static hjt T;
static ht_br_bridge B = {.pid = 0, .notify_fd = -1};
static ht_br_bridge B2 = {.pid = 0, .notify_fd = -1};

static int teardown(void **state)
{
	(void)state;
	if (B.pid > 0)
		ht_br_bridge_stop(&B);
	if (B2.pid > 0)
		ht_br_bridge_stop(&B2);
	B.pid = B2.pid = 0;
	ht_jr_cleanup(&T);
	return 0;
}

/* A small block ring (64 KiB: a few hundred of the test's messages) recorded
 * by a durable recorder, and a bridge that knows the journal. */
static void start_all(const char *tag, const char *conf)
{
	ht_jr_init(&T, tag, 64u << 20, 64u << 10, 1024, NULL);
	ht_jr_config(&T, conf);
	ht_jr_start(&T, true);
	char spec[400];
	snprintf(spec, sizeof spec, "%s:%s", T.ring, T.dir);
	const char *extra[] = {"--journal", spec, "--log-level", "debug", NULL};
	ht_br_bridge_start(&B, &T.b.d, "bridge", extra);
}

static hermes_net *subscribe_at(const ht_br_bridge *b, uint64_t seq, uint32_t *sub, uint64_t *first)
{
	hermes_net *n = ht_br_connect(b);
	hermes_net_ring_info info;
	hermes_err err = hermes_net_subscribe(n, T.ring, HERMES_START_SEQ, seq, 5000000000ll, sub, &info);
	if (err)
		fail_msg("subscribe at %llu: %s (%s)", (unsigned long long)seq, hermes_strerror(err),
			 hermes_last_error_detail());
	*first = info.first_seq;
	return n;
}

/* Read sequences [from, to) from n: every one once, in order, intact, and no
 * LOSS, within timeout_ms. */
static void read_exactly(hermes_net *n, uint32_t sub, uint64_t from, uint64_t to, int timeout_ms)
{
	uint64_t deadline = ht_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	uint64_t next = from;
	while (next < to) {
		hermes_net_event ev;
		hermes_err err = hermes_net_poll(n, &ev, 100000000);
		if (ht_now_ns() > deadline)
			fail_msg("remote subscriber stalled at %llu of %llu", (unsigned long long)next,
				 (unsigned long long)to);
		if (err == HERMES_ETIMEDOUT)
			continue;
		if (err)
			fail_msg("poll at %llu: %s", (unsigned long long)next, hermes_strerror(err));
		if (ev.type == HERMES_NET_LOSS)
			fail_msg("LOSS of %llu before %llu (expected %llu)", (unsigned long long)ev.value,
				 (unsigned long long)ev.seq, (unsigned long long)next);
		if (ev.type == HERMES_NET_ERROR || ev.type == HERMES_NET_CLOSED)
			fail_msg("ERROR/CLOSED %s at %llu: %.*s", hermes_strerror(ev.code),
				 (unsigned long long)next, (int)ev.len, (const char *)ev.data);
		if (ev.type != HERMES_NET_MESSAGE || ev.channel != sub)
			continue;
		if (ev.seq != next || !ht_jr_msg_ok(ev.data, ev.len, ev.seq))
			fail_msg("expected %llu, got seq %llu len %u", (unsigned long long)next,
				 (unsigned long long)ev.seq, ev.len);
		next++;
	}
}

static uint64_t ring_earliest(void)
{
	hermes_sub *s;
	assert_int_equal(hermes_sub_open(T.b.bus, T.ring, HERMES_START_EARLIEST, 0, &s), HERMES_OK);
	uint64_t e = hermes_sub_next_seq(s);
	hermes_sub_close(s);
	return e;
}

static void test_remote_subscriber_resumes_from_the_journal_after_the_ring_lapped_it(void **state)
{
	(void)state;
	start_all("bres", "durable = true\nfile_size = 256K\n");
	hermes_pub *pub = ht_jr_pub(&T);
	ht_jr_publish(&T, pub, 0, 2000);

	/* A remote subscriber reads 0..999 (0 is long gone from the ring: the
	 * journal serves it), then its connection drops. */
	uint32_t sub;
	uint64_t first;
	hermes_net *n = subscribe_at(&B, 0, &sub, &first);
	assert_int_equal(first, 0);
	read_exactly(n, sub, 0, 1000, 20000);
	hermes_net_close(n);

	/* The producer goes on until the ring has lapped it many times. */
	const uint64_t lapped = ht_scaled(20000);
	ht_jr_publish(&T, pub, 2000, lapped);
	hermes_pub_close(pub);
	assert_true(ring_earliest() > 1000);

	/* It reconnects at its last sequence + 1 while the producer is still
	 * publishing: from the journal, then live, every message once. */
	const uint64_t total = lapped + ht_scaled(10000);
	ht_jr_producer a = {.bus = T.b.name, .ring = T.ring, .from = lapped, .to = total};
	n = subscribe_at(&B, 1000, &sub, &first);
	pid_t p = ht_fork(ht_jr_produce, &a);
	assert_int_equal(first, 1000);
	read_exactly(n, sub, 1000, total, 60000);
	int st = ht_wait_child(p, 60000);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* And it is live: one more message comes straight from the ring. */
	ht_jr_send(&T, total, total + 1);
	read_exactly(n, sub, total, total + 1, 10000);
	hermes_net_close(n);
	assert_true(ht_file_has(B.log, "caught up from the journal"));
	print_message("resumed at 1000 with the ring at %llu: %llu messages exactly once\n",
		      (unsigned long long)ring_earliest(), (unsigned long long)(total + 1 - 1000));

	/* A bridge that does not know the journal starts at the oldest
	 * message the ring holds, and SUBSCRIBED says so (older behaviour). */
	ht_br_bridge_start(&B2, &T.b.d, "bridge2", NULL);
	n = subscribe_at(&B2, 1000, &sub, &first);
	assert_true(first > 1000);
	hermes_net_close(n);
}

static void test_hermes_ctl_tail_remote_from_reads_the_journal(void **state)
{
	(void)state;
	start_all("btail", "durable = true\nfile_size = 256K\n");
	ht_jr_send(&T, 0, 3000);
	assert_true(ring_earliest() > 10);
	const char *args[] = {"tail", T.ring, "--from", "10", "--count", "3", "--format", "json",
			      "--remote", B.addr, NULL};
	char text[2048];
	int rc = ht_ctl(&T.b.d, args, text, sizeof text);
	if (rc != 0 || strncmp(text, "{\"seq\":10,", 10) != 0 ||
	    !strstr(text, "\n{\"seq\":11,") || !strstr(text, "\n{\"seq\":12,"))
		fail_msg("hermes-ctl tail --remote --from 10: exit %d, output '%s'", rc, text);
}

/* Wait until a retention pass that began after everything was journaled has
 * finished: the recorder's tick stamps heartbeat_ns and then runs retention,
 * so the second new stamp ends the first whole pass. After it retention has
 * nothing more to drop (nothing more is recorded). */
static void wait_retention_settled(void)
{
	const hm_rec_stats *s = ht_jr_stats(&T);
	assert_non_null(s);
	/* Relaxed: samples of a stamp; what retention did is read from the
	 * directory afterwards, not through this counter. */
	uint64_t beat = hm_load_relaxed_u64(&s->heartbeat_ns);
	uint64_t deadline = ht_now_ns() + 10000000000ull;
	for (unsigned seen = 0; seen < 2;) {
		if (ht_now_ns() > deadline)
			fail_msg("the recorder's tick did not run twice in 10 s (see %s)", T.log);
		uint64_t b = hm_load_relaxed_u64(&s->heartbeat_ns);
		if (b != beat) {
			beat = b;
			seen++;
		} else {
			usleep(10000); /* polling a counters file: nothing to block on */
		}
	}
	hm_rec_stats_close(s);
}

static void test_a_start_older_than_ring_and_journal_begins_at_the_oldest_journaled(void **state)
{
	(void)state;
	/* Retention keeps about two 256K files (some 3000 messages). */
	start_all("bold", "durable = true\nfile_size = 256K\nretention_bytes = 600K\n");
	ht_jr_record(&T, 0, 12000, 20000);
	/* Retention runs on the recorder's 1 s tick. A pass that ran while the
	 * tail was still being recorded leaves files the next pass drops, which
	 * could take the start below from under the subscriber (a LOSS). */
	wait_retention_settled();
	uint64_t oldest = 0, deadline = ht_now_ns() + 10000000000ull;
	size_t nf = 0;
	while (oldest == 0 && ht_now_ns() < deadline) {
		uint64_t *seqs;
		assert_int_equal(hm_jdir_list(T.dir, &seqs, &nf), HERMES_OK);
		oldest = nf ? seqs[0] : 0;
		free(seqs);
		if (oldest == 0)
			usleep(10000);
	}
	if (!(oldest > 0 && oldest < ring_earliest()))
		fail_msg("%zu files, oldest %llu, ring from %llu", nf, (unsigned long long)oldest,
			 (unsigned long long)ring_earliest());
	/* Neither the ring nor the journal has 0: delivery starts at the
	 * oldest message either has, SUBSCRIBED says where, no LOSS. */
	uint32_t sub;
	uint64_t first;
	hermes_net *n = subscribe_at(&B, 0, &sub, &first);
	/* Retention may run again (1 s tick) between our listing and the
	 * SUBSCRIBE: the start is the oldest journaled message at that moment,
	 * between the oldest listed before and the oldest listed after. */
	uint64_t *seqs;
	assert_int_equal(hm_jdir_list(T.dir, &seqs, &nf), HERMES_OK);
	uint64_t oldest_after = nf ? seqs[0] : 0;
	free(seqs);
	if (first < oldest || first > oldest_after || first >= ring_earliest())
		fail_msg("started at %llu: oldest journaled %llu before, %llu after, ring from %llu",
			 (unsigned long long)first, (unsigned long long)oldest,
			 (unsigned long long)oldest_after, (unsigned long long)ring_earliest());
	read_exactly(n, sub, first, 12000, 20000);
	hermes_net_close(n);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_remote_subscriber_resumes_from_the_journal_after_the_ring_lapped_it,
					  teardown),
		cmocka_unit_test_teardown(test_hermes_ctl_tail_remote_from_reads_the_journal, teardown),
		cmocka_unit_test_teardown(
			test_a_start_older_than_ring_and_journal_begins_at_the_oldest_journaled, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
