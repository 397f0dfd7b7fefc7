/* Two buses on one machine, each with a hermes-nats uplink to one
 * nats-server on loopback: a million messages cross in order; traffic both
 * ways at once comes back to no one (core and JetStream); authentication is
 * passed through. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/testing.h"
#include "tests/nats-uplink/nats_harness.h"

#define RINGS "[ring x]\ncapacity = 16M\nmax_msg = 4096\n"

static void test_million_messages_cross_in_order(void **state)
{
	(void)state;
	uint64_t n = ht_scaled(1000000);
	static ht_nats_pair p;
	ht_nats_pair_begin(&p, "pair", false, RINGS);
	const char *aa[] = {"--url", p.url, "--ring", "x:out:core", NULL};
	/* The receiving client may hold 64 MiB for us, so a burst never makes
	 * core NATS drop on our side. */
	const char *ba[] = {"--url", p.url, "--ring", "x:in:core", "--max-pending", "64M", NULL};
	ht_nats_pair_uplinks(&p, aa, ba, 10000);

	uint64_t t0 = ht_now_ns();
	ht_nats_pair_traffic(&p, "x", n, 0, false);
	ht_nats_producer_join(&p.pa);
	ht_nats_progress w = {&p.cb, 0, n};
	bool all = ht_nats_wait_until(ht_nats_reached, &w, 300000);
	double secs = (double)(ht_now_ns() - t0) / 1e9;
	ht_nats_consumer_join(&p.cb);

	ht_nats_pair_states(&p);
	const hm_nats_ring_state *ra = ht_nats_ring_state(p.ha, "x"), *rb = ht_nats_ring_state(p.hb, "x");
	printf("# %" PRIu64 " messages bus A -> NATS -> bus B in %.2f s (%.0f msg/s); received %" PRIu64
	       ", missing %" PRIu64 ", out of order/duplicated/corrupt %" PRIu64
	       "; uplink A sent %" PRIu64 ", uplink B committed %" PRIu64 ", lost %" PRIu64 "\n",
	       n, secs, (double)n / secs, (uint64_t)atomic_load(&p.cb.received[0]),
	       (uint64_t)atomic_load(&p.cb.missing[0]), (uint64_t)atomic_load(&p.cb.bad),
	       HT_NATS_LD(ra->out.msgs), HT_NATS_LD(rb->in.msgs), HT_NATS_LD(rb->in.lost));
	if (atomic_load(&p.cb.bad))
		fail_msg("%s", p.cb.first_error);
	assert_true(all);
	assert_int_equal(atomic_load(&p.cb.received[0]), n);
	assert_int_equal(atomic_load(&p.cb.missing[0]), 0);
	assert_int_equal(HT_NATS_LD(ra->out.msgs), n);
	assert_int_equal(HT_NATS_LD(rb->in.msgs), n);
	assert_int_equal(HT_NATS_LD(rb->in.lost), 0);

	ht_nats_pair_stop(&p);
}

/* Both buses publish on ring x at once; each bus must end with exactly its
 * own messages and the other's, once each, and nothing more however long we
 * wait: no message comes back to where it came from, none circulates. */
static void both_ways(const char *mode, uint64_t n)
{
	static ht_nats_pair p;
	ht_nats_pair_begin(&p, "pair", !strcmp(mode, "jetstream"), RINGS);
	char ring[32];
	snprintf(ring, sizeof ring, "x:both:%s", mode);
	const char *args[] = {"--url", p.url, "--ring", ring, "--max-pending", "64M", NULL};
	ht_nats_pair_uplinks(&p, args, args, 20000);

	uint64_t t0 = ht_now_ns();
	ht_nats_pair_traffic(&p, "x", n, 0, true);
	/* Then nothing more: one second with no new message on either bus. */
	ht_nats_drained d = ht_nats_pair_drain(&p, n, 120000, 1000);
	double secs = (double)(d.crossed_ns - t0) / 1e9;

	const hm_nats_ring_state *ra = ht_nats_ring_state(p.ha, "x"), *rb = ht_nats_ring_state(p.hb, "x");
	printf("# %s both ways, %" PRIu64 " each, %.2f s: bus A holds %" PRIu64 " (own %" PRIu64
	       ", from B %" PRIu64 "), bus B holds %" PRIu64 " (own %" PRIu64 ", from A %" PRIu64
	       "); loop skips A %" PRIu64 " B %" PRIu64 ", own-origin skips A %" PRIu64 " B %" PRIu64
	       "\n",
	       mode, n, secs, (uint64_t)atomic_load(&p.ca.total), (uint64_t)atomic_load(&p.ca.received[0]),
	       (uint64_t)atomic_load(&p.ca.received[1]), (uint64_t)atomic_load(&p.cb.total),
	       (uint64_t)atomic_load(&p.cb.received[1]), (uint64_t)atomic_load(&p.cb.received[0]),
	       HT_NATS_LD(ra->out.skipped_inbound), HT_NATS_LD(rb->out.skipped_inbound),
	       HT_NATS_LD(ra->in.own_skipped), HT_NATS_LD(rb->in.own_skipped));
	ht_nats_pair_expect_exact(&p, n);
	assert_true(d.crossed);
	assert_false(d.more);
	/* Each uplink sent its own bus's messages and nothing else; each
	 * committed the other's and nothing else. */
	assert_int_equal(HT_NATS_LD(ra->out.msgs), n);
	assert_int_equal(HT_NATS_LD(rb->out.msgs), n);
	assert_int_equal(HT_NATS_LD(ra->out.skipped_inbound), n);
	assert_int_equal(HT_NATS_LD(rb->out.skipped_inbound), n);
	assert_int_equal(HT_NATS_LD(ra->in.msgs), n);
	assert_int_equal(HT_NATS_LD(rb->in.msgs), n);
	if (!strcmp(mode, "jetstream")) {
		/* The stream hands everything back, our own included: skipped by
		 * origin, every one of them. */
		assert_int_equal(HT_NATS_LD(ra->in.own_skipped), n);
		assert_int_equal(HT_NATS_LD(rb->in.own_skipped), n);
	}

	ht_nats_pair_stop(&p);
}

static void test_core_both_ways_without_loops(void **state)
{
	(void)state;
	both_ways("core", ht_scaled(100000));
}

static void test_jetstream_both_ways_without_loops(void **state)
{
	(void)state;
	both_ways("jetstream", ht_scaled(20000));
}

/* User and password reach the server; a wrong password is refused, says
 * so in the counters, and moves no message. */
static void test_user_password_are_passed_through(void **state)
{
	(void)state;
	static ht_nats_pair p;
	ht_nats_server_init(&p.s, "auth", false);
	p.s.user = "hermes";
	p.s.pass = "s3cret-pass";
	ht_nats_pair_start(&p, "a", RINGS);
	char good[192], bad[192];
	snprintf(good, sizeof good, "%s/good-password", p.a.d.run_dir);
	snprintf(bad, sizeof bad, "%s/bad-password", p.b.d.run_dir);
	ht_write_file(good, "s3cret-pass\n");
	ht_write_file(bad, "wrong\n");

	const char *bargs[] = {"--url", p.url, "--ring", "x:in", "--user", "hermes", "--password-file",
			       bad, NULL};
	ht_nats_uplink_init(&p.ub, &p.b, bargs);
	ht_nats_uplink_spawn(&p.ub);
	/* Refused credentials are not retried in the background: the uplink
	 * says why (log and state file) and exits 1. */
	int st = ht_wait_child(p.ub.pid, 15000);
	p.ub.pid = 0;
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	const hm_nats_state_header *hb = ht_nats_state(&p.b);
	printf("# wrong password: exit status 1, connection state %" PRIu64 ", last error '%s'\n",
	       HT_NATS_LD(hb->conn_state), hb->last_error);
	assert_int_equal(HT_NATS_LD(hb->conn_state), HM_NATS_CONN_CLOSED);
	assert_int_equal(HT_NATS_LD(hb->connects), 0);
	assert_non_null(strstr(hb->last_error, "Authorization"));
	hm_nats_state_unmap(hb);

	/* The right password from a file: it works both ways. */
	const char *aargs[] = {"--url", p.url, "--ring", "x:out", "--user", "hermes", "--password-file",
			       good, NULL};
	const char *b2args[] = {"--url", p.url, "--ring", "x:in", "--user", "hermes", "--password-file",
				good, NULL};
	ht_nats_pair_uplinks(&p, aargs, b2args, 10000);
	ht_nats_pair_traffic(&p, "x", 100, 0, false);
	ht_nats_producer_join(&p.pa);
	ht_nats_progress w = {&p.cb, 0, 100};
	assert_true(ht_nats_wait_until(ht_nats_reached, &w, 20000));
	ht_nats_consumer_join(&p.cb);
	assert_int_equal(atomic_load(&p.cb.bad), 0);
	ht_nats_pair_stop(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_million_messages_cross_in_order, ht_nats_teardown),
		cmocka_unit_test_teardown(test_core_both_ways_without_loops, ht_nats_teardown),
		cmocka_unit_test_teardown(test_jetstream_both_ways_without_loops, ht_nats_teardown),
		cmocka_unit_test_teardown(test_user_password_are_passed_through, ht_nats_teardown),
	};
	return cmocka_run_group_tests(tests, ht_nats_group_setup, NULL);
}
