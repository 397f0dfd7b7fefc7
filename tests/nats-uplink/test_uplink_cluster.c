/* A three-node NATS cluster on loopback; bus A attached to node 1, bus B to
 * node 2, traffic both ways; node 1 is killed (SIGKILL) mid-flow and started
 * again.
 *   - JetStream (stream with 3 replicas): not one message lost or
 *     duplicated on either bus.
 *   - core: whatever is lost is counted by the receiving uplink, exactly:
 *     every message missing on a bus is in that uplink's `lost` counter. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/testing.h"
#include "tests/nats-uplink/nats_harness.h"

#define RINGS "[ring c]\ncapacity = 16M\nmax_msg = 4096\n"

/* The pair fixture without its one server: the cluster's three nodes. */
typedef struct cluster_run {
	ht_nats_server n[3];
	ht_nats_pair p;
	const hm_nats_ring_state *ra, *rb; /* ring c in the uplinks' state files */
} cluster_run;

static void urls(const ht_nats_server *n, unsigned first, char *buf, size_t len)
{
	size_t at = 0;
	for (unsigned i = 0; i < 3; i++)
		at += (size_t)snprintf(buf + at, len - at, "%snats://127.0.0.1:%d", i ? "," : "",
				       n[(first + i) % 3].port);
}

/* r (a static object, cleared here) runs the flow: the three nodes, both
 * buses, their uplinks and the traffic, one node killed and restarted in
 * the middle; returns when the producers are done. */
static void run_flow(cluster_run *r, const char *mode, uint64_t n)
{
	memset(r, 0, sizeof *r);
	bool js = !strcmp(mode, "jetstream");
	static const char *names[] = {"n1", "n2", "n3"};
	for (unsigned i = 0; i < 3; i++)
		ht_nats_server_init(&r->n[i], names[i], js);
	ht_nats_cluster_init(r->n, 3, "hermes-test");
	for (unsigned i = 0; i < 3; i++)
		ht_nats_server_start(&r->n[i]);
	ht_nats_pair_buses(&r->p, "c", RINGS);
	/* A tries node 1 first, B node 2: they sit on different nodes. */
	char ua_urls[200], ub_urls[200], ring[32];
	urls(r->n, 0, ua_urls, sizeof ua_urls);
	urls(r->n, 1, ub_urls, sizeof ub_urls);
	snprintf(ring, sizeof ring, "c:both:%s", mode);
	const char *aa[] = {"--url", ua_urls, "--ring", ring, "--replicas", "3", "--max-pending", "64M",
			    "--reconnect-max-wait", "500ms", NULL};
	const char *ba[] = {"--url", ub_urls, "--ring", ring, "--replicas", "3", "--max-pending", "64M",
			    "--reconnect-max-wait", "500ms", NULL};
	/* JetStream needs the cluster to elect its leaders first: the uplinks
	 * retry until the stream exists. */
	ht_nats_pair_uplinks(&r->p, aa, ba, 60000);
	ht_nats_pair_traffic(&r->p, "c", n, 10000, true);

	/* Node 1 (A's) dies at a third of the flow and comes back when the
	 * producers pass two thirds (and it has been down a second at least). */
	ht_nats_progress third = {&r->p.cb, 0, n / 3, NULL};
	if (!ht_nats_wait_until(ht_nats_reached, &third, 120000))
		fail_msg("flow stalled before the kill");
	ht_nats_server_kill(&r->n[0]);
	uint64_t killed_at = ht_now_ns();
	while ((atomic_load(&r->p.pa.produced) < 2 * n / 3 || ht_now_ns() - killed_at < 1000000000ull) &&
	       ht_now_ns() - killed_at < 60000000000ull) {
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	ht_nats_server_start(&r->n[0]);
	printf("# %s: node n1 killed after %" PRIu64 " messages reached bus B, restarted %.1f s later\n",
	       mode, n / 3, (double)(ht_now_ns() - killed_at) / 1e9);
	ht_nats_producer_join(&r->p.pa);
	ht_nats_producer_join(&r->p.pb);
	ht_nats_pair_states(&r->p);
	r->ra = ht_nats_ring_state(r->p.ha, "c");
	r->rb = ht_nats_ring_state(r->p.hb, "c");
}

static void finish(cluster_run *r)
{
	ht_nats_pair_stop(&r->p);
	for (unsigned i = 0; i < 3; i++)
		ht_nats_server_cleanup(&r->n[i]);
}

static void test_jetstream_survives_a_node_failure_exactly(void **state)
{
	(void)state;
	uint64_t n = ht_scaled(40000);
	static cluster_run r;
	run_flow(&r, "jetstream", n);
	bool all = ht_nats_pair_wait_crossed(&r.p, n, 180000);
	ht_nats_consumer_join(&r.p.ca);
	ht_nats_consumer_join(&r.p.cb);
	const hm_nats_ring_state *ra = r.ra, *rb = r.rb;
	printf("# jetstream: bus A got %" PRIu64 "/%" PRIu64 " of B's, bus B got %" PRIu64 "/%" PRIu64
	       " of A's; missing %" PRIu64 "+%" PRIu64 ", bad %" PRIu64 "+%" PRIu64
	       "; A reconnects %" PRIu64 ", retried batches %" PRIu64 "+%" PRIu64
	       ", de-duplicated %" PRIu64 "+%" PRIu64 ", consumers made %" PRIu64 "+%" PRIu64 "\n",
	       (uint64_t)atomic_load(&r.p.ca.received[1]), n, (uint64_t)atomic_load(&r.p.cb.received[0]), n,
	       (uint64_t)atomic_load(&r.p.ca.missing[1]), (uint64_t)atomic_load(&r.p.cb.missing[0]),
	       (uint64_t)atomic_load(&r.p.ca.bad), (uint64_t)atomic_load(&r.p.cb.bad),
	       HT_NATS_LD(r.p.ha->reconnects), HT_NATS_LD(ra->out.retries), HT_NATS_LD(rb->out.retries),
	       HT_NATS_LD(ra->out.duplicates), HT_NATS_LD(rb->out.duplicates), HT_NATS_LD(ra->in.consumer_resets),
	       HT_NATS_LD(rb->in.consumer_resets));
	ht_nats_pair_expect_exact(&r.p, n);
	assert_true(all);
	finish(&r);
}

static void test_core_counts_every_loss_of_a_node_failure(void **state)
{
	(void)state;
	uint64_t n = ht_scaled(40000);
	static cluster_run r;
	run_flow(&r, "core", n);
	const hm_nats_ring_state *ra = r.ra, *rb = r.rb;
	/* Everything sent is either here or counted as lost (a loss at the very
	 * start, before the cluster carried B's interest to A's node, shows as
	 * the first counter seen). */
	ht_nats_progress w[2] = {{&r.p.ca, 1, n, ra}, {&r.p.cb, 0, n, rb}};
	bool all = ht_nats_wait_until(ht_nats_reached, &w[0], 120000) & ht_nats_wait_until(ht_nats_reached, &w[1], 120000);
	ht_nats_consumer_join(&r.p.ca);
	ht_nats_consumer_join(&r.p.cb);
	int64_t fa = atomic_load(&r.p.ca.first[1]), fb = atomic_load(&r.p.cb.first[0]);
	uint64_t lead_a = fa > 0 ? (uint64_t)fa : 0, lead_b = fb > 0 ? (uint64_t)fb : 0;
	uint64_t miss_a = atomic_load(&r.p.ca.missing[1]) - lead_a;
	uint64_t miss_b = atomic_load(&r.p.cb.missing[0]) - lead_b;
	printf("# core: bus A got %" PRIu64 "/%" PRIu64 " of B's, missing %" PRIu64
	       " (uplink A counted lost %" PRIu64 " in %" PRIu64 " gaps, first counter %" PRIu64 ")\n",
	       (uint64_t)atomic_load(&r.p.ca.received[1]), n, miss_a, HT_NATS_LD(ra->in.lost),
	       HT_NATS_LD(ra->in.gap_events), lead_a);
	printf("# core: bus B got %" PRIu64 "/%" PRIu64 " of A's, missing %" PRIu64
	       " (uplink B counted lost %" PRIu64 " in %" PRIu64 " gaps, first counter %" PRIu64 ")\n",
	       (uint64_t)atomic_load(&r.p.cb.received[0]), n, miss_b, HT_NATS_LD(rb->in.lost),
	       HT_NATS_LD(rb->in.gap_events), lead_b);
	if (atomic_load(&r.p.ca.bad))
		fail_msg("bus A: %s", r.p.ca.first_error);
	if (atomic_load(&r.p.cb.bad))
		fail_msg("bus B: %s", r.p.cb.first_error);
	assert_true(all);
	/* Never silent: what is missing is exactly what the uplink counted. */
	assert_int_equal(miss_a, HT_NATS_LD(ra->in.lost));
	assert_int_equal(miss_b, HT_NATS_LD(rb->in.lost));
	assert_int_equal(atomic_load(&r.p.ca.received[1]) + miss_a + lead_a, n);
	assert_int_equal(atomic_load(&r.p.cb.received[0]) + miss_b + lead_b, n);
	finish(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_jetstream_survives_a_node_failure_exactly, ht_nats_teardown),
		cmocka_unit_test_teardown(test_core_counts_every_loss_of_a_node_failure, ht_nats_teardown),
	};
	return cmocka_run_group_tests(tests, ht_nats_group_setup, NULL);
}
