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
	static ht_nats_pair p;
	ht_nats_pair_begin(&p, "restart", true, RINGS);
	/* Small batches: more batches in flight when the kills land. */
	const char *args[] = {"--url", p.url, "--ring", "z:both:jetstream", "--batch", "64", NULL};
	ht_nats_pair_uplinks(&p, args, args, 20000);
	/* Paced so the flow lasts a few seconds and the kills land inside it. */
	ht_nats_pair_traffic(&p, "z", n, 20000, true);

	/* Kill A's uplink, then B's, then A's, then B's: each when bus B has
	 * received another fifth of A's messages. A's kill cuts its out side
	 * between publish and acknowledgement; B's kill cuts its in side
	 * between fetch and commit (and its out side too). */
	unsigned kills = 0;
	for (unsigned i = 1; i <= 4; i++) {
		ht_nats_progress w = {&p.cb, 0, n * i / 5};
		if (!ht_nats_wait_until(ht_nats_reached, &w, 120000))
			fail_msg("bus B stalled at %" PRIu64 " of A's messages",
				 (uint64_t)atomic_load(&p.cb.received[0]));
		ht_nats_uplink *victim = i % 2 ? &p.ua : &p.ub;
		ht_nats_uplink_kill(victim);
		kills++;
		ht_nats_uplink_start(victim, 20000);
	}
	ht_nats_drained d = ht_nats_pair_drain(&p, n, 120000, 1000);

	const hm_nats_ring_state *ra = ht_nats_ring_state(p.ha, "z"), *rb = ht_nats_ring_state(p.hb, "z");
	printf("# %u SIGKILLs; bus A got %" PRIu64 " of B's (missing %" PRIu64 "), bus B got %" PRIu64
	       " of A's (missing %" PRIu64 "), bad %" PRIu64 "/%" PRIu64 "\n",
	       kills, (uint64_t)atomic_load(&p.ca.received[1]), (uint64_t)atomic_load(&p.ca.missing[1]),
	       (uint64_t)atomic_load(&p.cb.received[0]), (uint64_t)atomic_load(&p.cb.missing[0]),
	       (uint64_t)atomic_load(&p.ca.bad), (uint64_t)atomic_load(&p.cb.bad));
	printf("# uplink A: runs %" PRIu64 ", resent and de-duplicated by the stream %" PRIu64
	       ", unfinished commits resolved %" PRIu64 ", consumers made %" PRIu64 "\n",
	       HT_NATS_LD(p.ha->runs), HT_NATS_LD(ra->out.duplicates), HT_NATS_LD(ra->in.resolved),
	       HT_NATS_LD(ra->in.consumer_resets));
	printf("# uplink B: runs %" PRIu64 ", resent and de-duplicated by the stream %" PRIu64
	       ", unfinished commits resolved %" PRIu64 ", consumers made %" PRIu64 "\n",
	       HT_NATS_LD(p.hb->runs), HT_NATS_LD(rb->out.duplicates), HT_NATS_LD(rb->in.resolved),
	       HT_NATS_LD(rb->in.consumer_resets));
	ht_nats_pair_expect_exact(&p, n);
	assert_true(d.crossed);
	assert_false(d.more);

	ht_nats_pair_stop(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_jetstream_uplinks_killed_mid_flow_lose_and_repeat_nothing, ht_nats_teardown),
	};
	return cmocka_run_group_tests(tests, ht_nats_group_setup, NULL);
}
