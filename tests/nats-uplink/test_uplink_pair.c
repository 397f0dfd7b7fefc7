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
	static hnt_server s;
	hnt_server_init(&s, "pair", false);
	char url[64];
	static hnt_bus a, b;
	hnt_pair_start(&s, url, sizeof url, &a, &b, "pa", "pb", RINGS);
	static hnt_uplink ua, ub;
	const char *aa[] = {"--url", url, "--ring", "x:out:core", NULL};
	/* The receiving client may hold 64 MiB for us, so a burst never makes
	 * core NATS drop on our side. */
	const char *ba[] = {"--url", url, "--ring", "x:in:core", "--max-pending", "64M", NULL};
	hnt_uplink_init(&ua, &a, aa);
	hnt_uplink_init(&ub, &b, ba);
	hnt_uplink_start(&ub, 10000);
	hnt_uplink_start(&ua, 10000);

	static hnt_consumer cb;
	hnt_consumer_start(&cb, b.bus, "x");
	static hnt_producer pa;
	pa = (hnt_producer){.bus = a.bus, .ring = "x", .k = 0, .count = n};
	uint64_t t0 = ht_now_ns();
	hnt_producer_start(&pa);
	hnt_producer_join(&pa);
	hnt_progress w = {&cb, 0, n};
	bool all = hnt_wait_until(hnt_reached, &w, 300000);
	double secs = (double)(ht_now_ns() - t0) / 1e9;
	hnt_consumer_join(&cb);

	const hn_state_header *ha = hnt_state(&a), *hb = hnt_state(&b);
	const hn_ring_state *ra = hnt_ring_state(ha, "x"), *rb = hnt_ring_state(hb, "x");
	printf("# %" PRIu64 " messages bus A -> NATS -> bus B in %.2f s (%.0f msg/s); received %" PRIu64
	       ", missing %" PRIu64 ", out of order/duplicated/corrupt %" PRIu64
	       "; uplink A sent %" PRIu64 ", uplink B committed %" PRIu64 ", lost %" PRIu64 "\n",
	       n, secs, (double)n / secs, (uint64_t)atomic_load(&cb.received[0]),
	       (uint64_t)atomic_load(&cb.missing[0]), (uint64_t)atomic_load(&cb.bad),
	       HNT_LD(ra->out.msgs), HNT_LD(rb->in.msgs), HNT_LD(rb->in.lost));
	if (atomic_load(&cb.bad))
		fail_msg("%s", cb.first_error);
	assert_true(all);
	assert_int_equal(atomic_load(&cb.received[0]), n);
	assert_int_equal(atomic_load(&cb.missing[0]), 0);
	assert_int_equal(HNT_LD(ra->out.msgs), n);
	assert_int_equal(HNT_LD(rb->in.msgs), n);
	assert_int_equal(HNT_LD(rb->in.lost), 0);
	hn_state_unmap(ha);
	hn_state_unmap(hb);

	hnt_pair_stop(&ua, &ub, &a, &b, &s);
}

/* Both buses publish on ring x at once; each bus must end with exactly its
 * own messages and the other's, once each, and nothing more however long we
 * wait: no message comes back to where it came from, none circulates. */
static void both_ways(const char *mode, uint64_t n)
{
	static hnt_server s;
	hnt_server_init(&s, "pair", !strcmp(mode, "jetstream"));
	hnt_server_start(&s);
	char url[64], ring[32];
	hnt_server_url(&s, url, sizeof url);
	snprintf(ring, sizeof ring, "x:both:%s", mode);
	static hnt_bus a, b;
	hnt_bus_start(&a, "ba", RINGS);
	hnt_bus_start(&b, "bb", RINGS);
	static hnt_uplink ua, ub;
	const char *args[] = {"--url", url, "--ring", ring, "--max-pending", "64M", NULL};
	hnt_uplink_init(&ua, &a, args);
	hnt_uplink_init(&ub, &b, args);
	hnt_uplink_start(&ua, 20000);
	hnt_uplink_start(&ub, 20000);

	static hnt_consumer ca, cb;
	hnt_consumer_start(&ca, a.bus, "x");
	hnt_consumer_start(&cb, b.bus, "x");
	static hnt_producer pa;
	pa = (hnt_producer){.bus = a.bus, .ring = "x", .k = 0, .count = n};
	static hnt_producer pb;
	pb = (hnt_producer){.bus = b.bus, .ring = "x", .k = 1, .count = n};
	uint64_t t0 = ht_now_ns();
	hnt_producer_start(&pa);
	hnt_producer_start(&pb);
	hnt_producer_join(&pa);
	hnt_producer_join(&pb);
	hnt_progress w[4] = {{&ca, 0, n}, {&ca, 1, n}, {&cb, 0, n}, {&cb, 1, n}};
	bool all = true;
	for (unsigned i = 0; i < 4; i++)
		all &= hnt_wait_until(hnt_reached, &w[i], 120000);
	double secs = (double)(ht_now_ns() - t0) / 1e9;
	/* Then nothing more: one second with no new message on either bus. */
	hnt_quiet q = {{&ca, &cb}, {atomic_load(&ca.total), atomic_load(&cb.total)}};
	bool more = hnt_wait_until(hnt_moved, &q, 1000);
	hnt_consumer_join(&ca);
	hnt_consumer_join(&cb);

	const hn_state_header *ha = hnt_state(&a), *hb = hnt_state(&b);
	const hn_ring_state *ra = hnt_ring_state(ha, "x"), *rb = hnt_ring_state(hb, "x");
	printf("# %s both ways, %" PRIu64 " each, %.2f s: bus A holds %" PRIu64 " (own %" PRIu64
	       ", from B %" PRIu64 "), bus B holds %" PRIu64 " (own %" PRIu64 ", from A %" PRIu64
	       "); loop skips A %" PRIu64 " B %" PRIu64 ", own-origin skips A %" PRIu64 " B %" PRIu64
	       "\n",
	       mode, n, secs, (uint64_t)atomic_load(&ca.total), (uint64_t)atomic_load(&ca.received[0]),
	       (uint64_t)atomic_load(&ca.received[1]), (uint64_t)atomic_load(&cb.total),
	       (uint64_t)atomic_load(&cb.received[1]), (uint64_t)atomic_load(&cb.received[0]),
	       HNT_LD(ra->out.skipped_inbound), HNT_LD(rb->out.skipped_inbound),
	       HNT_LD(ra->in.own_skipped), HNT_LD(rb->in.own_skipped));
	if (atomic_load(&ca.bad))
		fail_msg("bus A: %s", ca.first_error);
	if (atomic_load(&cb.bad))
		fail_msg("bus B: %s", cb.first_error);
	assert_true(all);
	assert_false(more);
	assert_int_equal(atomic_load(&ca.total), 2 * n);
	assert_int_equal(atomic_load(&cb.total), 2 * n);
	for (unsigned k = 0; k < 2; k++) {
		assert_int_equal(atomic_load(&ca.missing[k]), 0);
		assert_int_equal(atomic_load(&cb.missing[k]), 0);
	}
	/* Each uplink sent its own bus's messages and nothing else; each
	 * committed the other's and nothing else. */
	assert_int_equal(HNT_LD(ra->out.msgs), n);
	assert_int_equal(HNT_LD(rb->out.msgs), n);
	assert_int_equal(HNT_LD(ra->out.skipped_inbound), n);
	assert_int_equal(HNT_LD(rb->out.skipped_inbound), n);
	assert_int_equal(HNT_LD(ra->in.msgs), n);
	assert_int_equal(HNT_LD(rb->in.msgs), n);
	if (!strcmp(mode, "jetstream")) {
		/* The stream hands everything back, our own included: skipped by
		 * origin, every one of them. */
		assert_int_equal(HNT_LD(ra->in.own_skipped), n);
		assert_int_equal(HNT_LD(rb->in.own_skipped), n);
	}
	hn_state_unmap(ha);
	hn_state_unmap(hb);

	hnt_pair_stop(&ua, &ub, &a, &b, &s);
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
	static hnt_server s;
	hnt_server_init(&s, "auth", false);
	s.user = "hermes";
	s.pass = "s3cret-pass";
	hnt_server_start(&s);
	char url[64], good[192], bad[192];
	hnt_server_url(&s, url, sizeof url);
	static hnt_bus a, b;
	hnt_bus_start(&a, "aa", RINGS);
	hnt_bus_start(&b, "ab", RINGS);
	snprintf(good, sizeof good, "%s/good-password", a.d.run_dir);
	snprintf(bad, sizeof bad, "%s/bad-password", b.d.run_dir);
	FILE *f = fopen(good, "we");
	fputs("s3cret-pass\n", f);
	fclose(f);
	f = fopen(bad, "we");
	fputs("wrong\n", f);
	fclose(f);

	static hnt_uplink ub;
	const char *bargs[] = {"--url", url, "--ring", "x:in", "--user", "hermes", "--password-file",
			       bad, NULL};
	hnt_uplink_init(&ub, &b, bargs);
	hnt_uplink_spawn(&ub);
	/* Refused credentials are not retried in the background: the uplink
	 * says why (log and state file) and exits 1. */
	int st = ht_wait_child(ub.pid, 15000);
	ub.pid = 0;
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	const hn_state_header *hb = hnt_state(&b);
	printf("# wrong password: exit status 1, connection state %" PRIu64 ", last error '%s'\n",
	       HNT_LD(hb->conn_state), hb->last_error);
	assert_int_equal(HNT_LD(hb->conn_state), HN_CONN_CLOSED);
	assert_int_equal(HNT_LD(hb->connects), 0);
	assert_non_null(strstr(hb->last_error, "Authorization"));
	hn_state_unmap(hb);

	/* The right password from a file: it works both ways. */
	static hnt_uplink ua;
	const char *aargs[] = {"--url", url, "--ring", "x:out", "--user", "hermes", "--password-file",
			       good, NULL};
	const char *b2args[] = {"--url", url, "--ring", "x:in", "--user", "hermes", "--password-file",
				good, NULL};
	hnt_uplink_init(&ua, &a, aargs);
	hnt_uplink_init(&ub, &b, b2args);
	hnt_uplink_start(&ub, 10000);
	hnt_uplink_start(&ua, 10000);
	static hnt_consumer cb;
	hnt_consumer_start(&cb, b.bus, "x");
	static hnt_producer pa;
	pa = (hnt_producer){.bus = a.bus, .ring = "x", .k = 0, .count = 100};
	hnt_producer_start(&pa);
	hnt_producer_join(&pa);
	hnt_progress w = {&cb, 0, 100};
	assert_true(hnt_wait_until(hnt_reached, &w, 20000));
	hnt_consumer_join(&cb);
	assert_int_equal(atomic_load(&cb.bad), 0);
	hnt_pair_stop(&ua, &ub, &a, &b, &s);
}

int main(void)
{
	hnt_require_nats_server();
	setvbuf(stdout, NULL, _IOLBF, 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_million_messages_cross_in_order, hnt_teardown),
		cmocka_unit_test_teardown(test_core_both_ways_without_loops, hnt_teardown),
		cmocka_unit_test_teardown(test_jetstream_both_ways_without_loops, hnt_teardown),
		cmocka_unit_test_teardown(test_user_password_are_passed_through, hnt_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
