/* NATS unreachable for 30 s (HERMES_NATS_OUTAGE_S changes it for local
 * runs) while producers keep publishing on two rings of bus A:
 *   - "blk": JetStream, policy block: the uplink holds the ring, producers
 *     find it full; after the server is back every message arrives;
 *   - "drp": core, policy drop: the uplink keeps draining and counts what it
 *     drops; bus B counts the same gap as lost.
 * The uplink's anonymous memory stays under a stated bound all along, and
 * the counters show the policy at work while it happens. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/support/testing.h"
#include "tests/nats-uplink/nats_harness.h"

#define RINGS                                                                             \
	"[ring blk]\ncapacity = 4M\nmax_msg = 4096\n"                                      \
	"[ring drp]\ncapacity = 4M\nmax_msg = 4096\n"

/* The stated bound (docs/ARCHITECTURE.md, the NATS uplink): anonymous
 * resident memory <= 4 MiB + (directions + 1) x max_pending; here two out
 * rings of 1 MiB. */
#define MAX_PENDING "1M"
#define RSS_BOUND ((4ull << 20) + 3 * (1ull << 20))

/* Under a sanitizer the uplink's anonymous memory is mostly shadow memory
 * and the sanitizer's own allocator (about 40 MiB before the outage under
 * TSan): the stated bound says nothing about it there, so only the plain
 * builds check it. The build defines HERMES_TSAN; GCC names both
 * sanitizers, Clang answers __has_feature. */
#if defined(HERMES_TSAN) || defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static void nap_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void test_outage_keeps_memory_bounded_and_policies_visible(void **state)
{
	(void)state;
	double outage_s = ht_nats_env_seconds("HERMES_NATS_OUTAGE_S", 30.0);
	static ht_nats_pair p;
	ht_nats_pair_begin(&p, "outage", true, RINGS);
	const char *aa[] = {"--url", p.url, "--ring", "blk:out:jetstream:block", "--ring",
			    "drp:out:core:drop", "--max-pending", MAX_PENDING, "--reconnect-max-wait",
			    "1s", NULL};
	const char *ba[] = {"--url", p.url, "--ring", "blk:in:jetstream", "--ring", "drp:in:core",
			    "--max-pending", "16M", "--reconnect-max-wait", "1s", NULL};
	ht_nats_pair_uplinks(&p, aa, ba, 20000);

	static ht_nats_consumer cblk, cdrp;
	ht_nats_consumer_start(&cblk, p.b.bus, "blk");
	ht_nats_consumer_start(&cdrp, p.b.bus, "drp");
	static ht_nats_producer pblk;
	pblk = (ht_nats_producer){.bus = p.a.bus, .ring = "blk", .k = 0, .forever = true, .rate_per_s = 20000};
	static ht_nats_producer pdrp;
	pdrp = (ht_nats_producer){.bus = p.a.bus, .ring = "drp", .k = 1, .forever = true, .rate_per_s = 20000};
	ht_nats_producer_start(&pblk);
	ht_nats_producer_start(&pdrp);

	ht_nats_pair_states(&p);
	const hm_nats_ring_state *rblk = ht_nats_ring_state(p.ha, "blk"), *rdrp = ht_nats_ring_state(p.ha, "drp");
	const hm_nats_ring_state *bblk = ht_nats_ring_state(p.hb, "blk"), *bdrp = ht_nats_ring_state(p.hb, "drp");

	ht_nats_progress flowing[2] = {{&cblk, 0, 10000, NULL}, {&cdrp, 1, 10000, NULL}};
	assert_true(ht_nats_wait_until(ht_nats_reached, &flowing[0], 60000));
	assert_true(ht_nats_wait_until(ht_nats_reached, &flowing[1], 60000));
	uint64_t rss_before = ht_nats_rss_anon(p.ua.pid);

	/* The outage. */
	ht_nats_server_kill(&p.s);
	uint64_t t0 = ht_now_ns(), end = t0 + (uint64_t)(outage_s * 1e9);
	uint64_t rss_max = 0, samples = 0;
	bool saw_down = false, saw_blocked = false, saw_dropping = false;
	uint64_t blk_full_before = atomic_load(&pblk.full_waits);
	while (ht_now_ns() < end) {
		uint64_t rss = ht_nats_rss_anon(p.ua.pid);
		if (rss > rss_max)
			rss_max = rss;
		samples++;
		saw_down |= HT_NATS_LD(p.ha->conn_state) != HM_NATS_CONN_CONNECTED;
		saw_blocked |= HT_NATS_LD(rblk->out.state) == HM_NATS_W_BLOCKED;
		saw_dropping |= HT_NATS_LD(rdrp->out.state) == HM_NATS_W_DROPPING;
		nap_ms(250);
	}
	uint64_t dropped = HT_NATS_LD(rdrp->out.dropped);
	uint64_t blk_full = atomic_load(&pblk.full_waits) - blk_full_before;
	printf("# outage %.0f s: uplink anonymous memory %.1f MiB before, at most %.1f MiB during "
	       "(%" PRIu64 " samples; bound %.0f MiB%s)\n",
	       outage_s, (double)rss_before / 1048576, (double)rss_max / 1048576, samples,
	       (double)RSS_BOUND / 1048576, SANITIZED ? ", not checked under a sanitizer" : "");
	printf("# during it: connection %s; blk (block) state %s, blocked %" PRIu64
	       " time(s), its producer found the ring full %" PRIu64 " time(s); drp (drop) state %s, "
	       "dropped %" PRIu64 " messages (%" PRIu64 " bytes); producers published %" PRIu64
	       " and %" PRIu64 " so far\n",
	       saw_down ? "down" : "UP?", saw_blocked ? "blocked" : "NOT BLOCKED",
	       HT_NATS_LD(rblk->out.blocked_events), blk_full, saw_dropping ? "dropping" : "NOT DROPPING",
	       dropped, HT_NATS_LD(rdrp->out.dropped_bytes), (uint64_t)atomic_load(&pblk.produced),
	       (uint64_t)atomic_load(&pdrp.produced));
	assert_true(saw_down);
	assert_true(saw_blocked);
	assert_true(saw_dropping);
	assert_true(dropped > 0);
	assert_true(blk_full > 0);
	assert_int_equal(rblk->policy, HM_NATS_POLICY_BLOCK);
	assert_int_equal(rdrp->policy, HM_NATS_POLICY_DROP);
	if (!SANITIZED)
		assert_true(rss_max <= RSS_BOUND);

	/* The server comes back (same port, same store): both uplinks
	 * reconnect by themselves, the flows resume. */
	ht_nats_server_start(&p.s);
	uint64_t back = ht_now_ns();
	ht_nats_uplink_wait_running(&p.ua, 30000);
	ht_nats_uplink_wait_running(&p.ub, 30000);
	printf("# server restarted: both uplinks running again %.2f s later (reconnects A %" PRIu64
	       ", B %" PRIu64 ")\n",
	       (double)(ht_now_ns() - back) / 1e9, HT_NATS_LD(p.ha->reconnects), HT_NATS_LD(p.hb->reconnects));
	ht_nats_progress more[2] = {{&cblk, 0, atomic_load(&cblk.received[0]) + 10000, NULL},
			    {&cdrp, 1, atomic_load(&cdrp.received[1]) + 10000, NULL}};
	assert_true(ht_nats_wait_until(ht_nats_reached, &more[0], 120000));
	assert_true(ht_nats_wait_until(ht_nats_reached, &more[1], 120000));
	atomic_store(&pblk.stop, true);
	atomic_store(&pdrp.stop, true);
	ht_nats_producer_join(&pblk);
	ht_nats_producer_join(&pdrp);
	uint64_t nblk = atomic_load(&pblk.produced), ndrp = atomic_load(&pdrp.produced);
	ht_nats_progress all[2] = {{&cblk, 0, nblk, NULL}, {&cdrp, 1, ndrp, bdrp}};
	bool ok = ht_nats_wait_until(ht_nats_reached, &all[0], 120000) & ht_nats_wait_until(ht_nats_reached, &all[1], 120000);
	ht_nats_consumer_join(&cblk);
	ht_nats_consumer_join(&cdrp);
	int64_t first = atomic_load(&cdrp.first[1]);
	uint64_t lead = first > 0 ? (uint64_t)first : 0;
	uint64_t miss = atomic_load(&cdrp.missing[1]) - lead;
	printf("# blk: %" PRIu64 " published, %" PRIu64 " arrived, missing %" PRIu64 " (JetStream "
	       "applied up to stream sequence %" PRIu64 ")\n",
	       nblk, (uint64_t)atomic_load(&cblk.received[0]), (uint64_t)atomic_load(&cblk.missing[0]),
	       HT_NATS_LD(bblk->inp.applied));
	printf("# drp: %" PRIu64 " published, %" PRIu64 " arrived, missing %" PRIu64
	       " = counted lost on bus B %" PRIu64 " (dropped by uplink A %" PRIu64 ")\n",
	       ndrp, (uint64_t)atomic_load(&cdrp.received[1]), miss, HT_NATS_LD(bdrp->in.lost),
	       HT_NATS_LD(rdrp->out.dropped));
	if (atomic_load(&cblk.bad))
		fail_msg("blk: %s", cblk.first_error);
	if (atomic_load(&cdrp.bad))
		fail_msg("drp: %s", cdrp.first_error);
	assert_true(ok);
	assert_int_equal(atomic_load(&cblk.received[0]), nblk);
	assert_int_equal(atomic_load(&cblk.missing[0]), 0);
	assert_int_equal(miss, HT_NATS_LD(bdrp->in.lost));
	assert_true(HT_NATS_LD(bdrp->in.lost) >= HT_NATS_LD(rdrp->out.dropped));
	assert_int_equal(atomic_load(&cdrp.received[1]) + miss + lead, ndrp);

	ht_nats_pair_stop(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_outage_keeps_memory_bounded_and_policies_visible, ht_nats_teardown),
	};
	return cmocka_run_group_tests(tests, ht_nats_group_setup, NULL);
}
