/* JetStream mode survives SIGKILL of the uplinks mid-flow: traffic both ways
 * between two buses, the uplink of each bus killed and restarted while
 * messages cross; every message arrives once, in order, on the other bus,
 * and nothing comes back. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/testing.h"
#include "tests/nats-uplink/nats_harness.h"

/* 64K slots per ring: both flows fit without the ring lapping while an
 * uplink (one of its subscribers) is down. */
#define RINGS "[ring z]\ncapacity = 16M\nmax_msg = 4096\n"

static void test_jetstream_uplinks_killed_mid_flow_lose_and_repeat_nothing(void **state)
{
	(void)state;
	uint64_t n = ht_scaled(100000);
	static hnt_server s;
	hnt_server_init(&s, "restart", true);
	char url[64];
	static hnt_bus a, b;
	hnt_pair_start(&s, url, sizeof url, &a, &b, "ra", "rb", RINGS);
	/* Small batches: more batches in flight when the kills land. */
	const char *args[] = {"--url", url, "--ring", "z:both:jetstream", "--batch", "64", NULL};
	static hnt_uplink ua, ub;
	hnt_uplink_init(&ua, &a, args);
	hnt_uplink_init(&ub, &b, args);
	hnt_uplink_start(&ua, 20000);
	hnt_uplink_start(&ub, 20000);

	static hnt_consumer ca, cb;
	hnt_consumer_start(&ca, a.bus, "z");
	hnt_consumer_start(&cb, b.bus, "z");
	/* Paced so the flow lasts a few seconds and the kills land inside it. */
	static hnt_producer pa;
	pa = (hnt_producer){.bus = a.bus, .ring = "z", .k = 0, .count = n, .rate_per_s = 20000};
	static hnt_producer pb;
	pb = (hnt_producer){.bus = b.bus, .ring = "z", .k = 1, .count = n, .rate_per_s = 20000};
	hnt_producer_start(&pa);
	hnt_producer_start(&pb);

	/* Kill A's uplink, then B's, then A's, then B's: each when bus B has
	 * received another fifth of A's messages. A's kill cuts its out side
	 * between publish and acknowledgement; B's kill cuts its in side
	 * between fetch and commit (and its out side too). */
	unsigned kills = 0;
	for (unsigned i = 1; i <= 4; i++) {
		hnt_progress p = {&cb, 0, n * i / 5};
		if (!hnt_wait_until(hnt_reached, &p, 120000))
			fail_msg("bus B stalled at %" PRIu64 " of A's messages",
				 (uint64_t)atomic_load(&cb.received[0]));
		hnt_uplink *victim = i % 2 ? &ua : &ub;
		hnt_uplink_kill(victim);
		kills++;
		hnt_uplink_start(victim, 20000);
	}
	hnt_producer_join(&pa);
	hnt_producer_join(&pb);
	hnt_progress w[4] = {{&ca, 0, n}, {&ca, 1, n}, {&cb, 0, n}, {&cb, 1, n}};
	bool all = true;
	for (unsigned i = 0; i < 4; i++)
		all &= hnt_wait_until(hnt_reached, &w[i], 120000);
	hnt_quiet q = {{&ca, &cb}, {atomic_load(&ca.total), atomic_load(&cb.total)}};
	bool more = hnt_wait_until(hnt_moved, &q, 1000);
	hnt_consumer_join(&ca);
	hnt_consumer_join(&cb);

	const hn_state_header *ha = hnt_state(&a), *hb = hnt_state(&b);
	const hn_ring_state *ra = hnt_ring_state(ha, "z"), *rb = hnt_ring_state(hb, "z");
	printf("# %u SIGKILLs; bus A got %" PRIu64 " of B's (missing %" PRIu64 "), bus B got %" PRIu64
	       " of A's (missing %" PRIu64 "), bad %" PRIu64 "/%" PRIu64 "\n",
	       kills, (uint64_t)atomic_load(&ca.received[1]), (uint64_t)atomic_load(&ca.missing[1]),
	       (uint64_t)atomic_load(&cb.received[0]), (uint64_t)atomic_load(&cb.missing[0]),
	       (uint64_t)atomic_load(&ca.bad), (uint64_t)atomic_load(&cb.bad));
	printf("# uplink A: runs %" PRIu64 ", resent and de-duplicated by the stream %" PRIu64
	       ", unfinished commits resolved %" PRIu64 ", consumers made %" PRIu64 "\n",
	       HNT_LD(ha->runs), HNT_LD(ra->out.duplicates), HNT_LD(ra->in.resolved),
	       HNT_LD(ra->in.consumer_resets));
	printf("# uplink B: runs %" PRIu64 ", resent and de-duplicated by the stream %" PRIu64
	       ", unfinished commits resolved %" PRIu64 ", consumers made %" PRIu64 "\n",
	       HNT_LD(hb->runs), HNT_LD(rb->out.duplicates), HNT_LD(rb->in.resolved),
	       HNT_LD(rb->in.consumer_resets));
	if (atomic_load(&ca.bad))
		fail_msg("bus A: %s", ca.first_error);
	if (atomic_load(&cb.bad))
		fail_msg("bus B: %s", cb.first_error);
	assert_true(all);
	assert_false(more);
	for (unsigned k = 0; k < 2; k++) {
		assert_int_equal(atomic_load(&ca.received[k]), n);
		assert_int_equal(atomic_load(&cb.received[k]), n);
		assert_int_equal(atomic_load(&ca.missing[k]), 0);
		assert_int_equal(atomic_load(&cb.missing[k]), 0);
	}
	assert_int_equal(atomic_load(&ca.total), 2 * n);
	assert_int_equal(atomic_load(&cb.total), 2 * n);
	hn_state_unmap(ha);
	hn_state_unmap(hb);

	hnt_pair_stop(&ua, &ub, &a, &b, &s);
}

int main(void)
{
	hnt_require_nats_server();
	setvbuf(stdout, NULL, _IOLBF, 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_jetstream_uplinks_killed_mid_flow_lose_and_repeat_nothing, hnt_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
