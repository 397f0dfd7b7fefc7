/* The multi-producer, multi-subscriber check with threads in one process, so
 * ThreadSanitizer sees every access to the ring. */
#include "tests/support/bus.h"
#include "tests/support/testing.h"
#include "tests/support/threads.h"
#include "tests/support/traffic.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <hermes/bus.h>

#include "shm/segment.h"

#define PRODUCERS 4
#define SUBSCRIBERS 2

static uint64_t per_producer;

/* Producer `index` of the checked traffic on ring "mt", with a publisher
 * of its own: `count` messages, or until told to stop; sent counts them. */
typedef struct producer_ctx {
	hermes_bus *bus;
	uint32_t index;
	uint64_t count;
	_Atomic int stop;
	uint64_t sent;
	hermes_err err;
} producer_ctx;

static void *producer(void *arg)
{
	producer_ctx *c = arg;
	hermes_pub *pub;
	c->err = hermes_pub_open(c->bus, "mt", &pub);
	if (c->err)
		return NULL;
	c->err = ht_traffic_produce_from(pub, c->index, &c->sent, c->count, &c->stop,
					 30000000000ll);
	hermes_pub_close(pub);
	return NULL;
}

typedef struct subscriber_ctx {
	hermes_sub *sub;
	uint32_t index;
	ht_checker checker;
	bool ok;
} subscriber_ctx;

static void *subscriber(void *arg)
{
	subscriber_ctx *w = arg;
	w->ok = ht_traffic_consume(w->sub, &w->checker, PRODUCERS, PRODUCERS * per_producer,
				   w->index ? HERMES_WAIT_BLOCK : HERMES_WAIT_YIELD,
				   ht_now_ns() + 240ull * 1000000000u);
	return NULL;
}

static void run(hermes_policy policy, uint32_t capacity)
{
	ht_bus B;
	ht_bus_private(&B, "mt", 4 << 20);
	ht_bus_ring(&B, "mt", capacity, 256, policy);
	hermes_bus *bus = B.bus;
	subscriber_ctx subs[SUBSCRIBERS] = {0};
	producer_ctx prods[PRODUCERS] = {0};
	for (uint32_t i = 0; i < SUBSCRIBERS; i++) {
		subs[i].index = i;
		assert_int_equal(hermes_sub_open(bus, "mt", HERMES_START_LATEST, 0, &subs[i].sub),
				 HERMES_OK);
	}
	for (uint32_t k = 0; k < PRODUCERS; k++)
		prods[k] = (producer_ctx){.bus = bus, .index = k, .count = per_producer};
	ht_threads st, pt;
	ht_threads_start(&st, subscriber, subs, sizeof subs[0], SUBSCRIBERS);
	ht_threads_start(&pt, producer, prods, sizeof prods[0], PRODUCERS);
	ht_threads_join(&pt);
	for (uint32_t k = 0; k < PRODUCERS; k++)
		assert_int_equal(prods[k].err, HERMES_OK);
	ht_threads_join(&st);
	for (uint32_t i = 0; i < SUBSCRIBERS; i++) {
		if (!subs[i].ok)
			fail_msg("subscriber %u: %s", i, subs[i].checker.first_error);
		hermes_sub_close(subs[i].sub);
	}
	ht_bus_teardown(&B);
}

static void test_threads_block_ring_exactly_once_in_order(void **state)
{
	(void)state;
	per_producer = ht_scaled(200000);
	run(HERMES_POLICY_BLOCK, 1 << 16);
}

static void test_threads_small_block_ring_under_constant_backpressure(void **state)
{
	(void)state;
	per_producer = ht_scaled(50000);
	run(HERMES_POLICY_BLOCK, 1 << 12);
}

/* Subscribers that join a block ring while a producer runs flat out (and so
 * keeps scanning for room) must never be overwritten: no loss, no gap, and a
 * contiguous run from wherever they started. */
static void test_subscribers_joining_a_busy_block_ring_lose_nothing(void **state)
{
	(void)state;
	ht_bus B;
	ht_bus_private(&B, "join", 4 << 20);
	hermes_ring_config cfg = {.name = "mt", .capacity = 1 << 13, .max_msg = 256, .slots = 64};
	ht_bus_ring_cfg(&B, &cfg);
	producer_ctx j = {.bus = B.bus, .count = UINT64_MAX}; /* until stopped */
	pthread_t t = ht_thread_start(producer, &j);
	unsigned joins = (unsigned)ht_scaled(300);
	for (unsigned n = 0; n < joins; n++) {
		hermes_sub *sub;
		assert_int_equal(hermes_sub_open(j.bus, "mt", n % 2 ? HERMES_START_EARLIEST
								    : HERMES_START_LATEST,
						 0, &sub),
				 HERMES_OK);
		uint64_t expect = UINT64_MAX, got = 0;
		uint64_t deadline = ht_now_ns() + 30000000000ull;
		while (got < 300) {
			assert_true(ht_now_ns() < deadline);
			hermes_msg m;
			hermes_err err = hermes_sub_poll(sub, &m);
			if (err == HERMES_EAGAIN) {
				hermes_sub_release(sub);
				hermes_sub_wait(sub, HERMES_WAIT_YIELD, 100000000);
				continue;
			}
			if (err)
				fail_msg("join %u: %s after %llu messages", n, hermes_err_name(err),
					 (unsigned long long)got);
			uint64_t i;
			memcpy(&i, (const uint8_t *)m.data + 12, 8);
			if (expect != UINT64_MAX && i != expect)
				fail_msg("join %u: counter %llu, expected %llu", n,
					 (unsigned long long)i, (unsigned long long)expect);
			expect = i + 1;
			got++;
			if (got % 16 == 0)
				hermes_sub_release(sub);
		}
		hermes_sub_close(sub);
	}
	atomic_store(&j.stop, 1);
	pthread_join(t, NULL);
	assert_int_equal(j.err, HERMES_OK);
	ht_bus_teardown(&B);
}

typedef struct churn_ctx {
	hermes_bus *bus;
	hm_atomic_u64 *grants; /* the ring's lease grant counter */
	uint64_t count;
	hermes_err err;
} churn_ctx;

/* Producer 1: open, send a few, close, again and again, waiting each time
 * until the steady producer took the lease back (bounded: where leases
 * cannot exist nobody ever does). */
static void *churning_producer(void *arg)
{
	churn_ctx *c = arg;
	for (uint64_t i = 0; i < c->count && !c->err;) {
		hermes_pub *pub;
		c->err = hermes_pub_open(c->bus, "mt", &pub);
		if (c->err)
			break;
		c->err = ht_traffic_produce_from(pub, 1, &i, c->count - i < 7 ? c->count - i : 7,
						 NULL, 30000000000ll);
		hermes_pub_close(pub);
		uint64_t g = hm_load_relaxed_u64(c->grants), until = ht_now_ns() + 20000000u;
		while (hm_load_relaxed_u64(c->grants) == g && ht_now_ns() < until)
			sched_yield();
	}
	return NULL;
}


typedef struct drain_ctx {
	hermes_sub *sub;
	ht_checker checker;
	_Atomic uint64_t expected; /* 0 until the producers are done */
	bool ok;
} drain_ctx;

static void on_traffic(void *ctx, const hermes_msg *m)
{
	ht_traffic_check(ctx, m, 2);
}

static void *drain(void *arg)
{
	drain_ctx *d = arg;
	uint64_t deadline = ht_now_ns() + 240ull * 1000000000u;
	while (!d->checker.errors && ht_now_ns() < deadline) {
		uint64_t want = atomic_load(&d->expected);
		if (want && d->checker.total >= want)
			break;
		hermes_sub_wait(d->sub, HERMES_WAIT_BLOCK, 10000000);
		unsigned n;
		if (hermes_sub_poll_batch(d->sub, on_traffic, &d->checker, 4096, &n))
			break;
	}
	d->ok = !d->checker.errors && d->checker.total == atomic_load(&d->expected);
	return NULL;
}

/* The exclusive-producer lease changes hands under load: a steady producer
 * (which takes the lease whenever it is alone) against one that keeps
 * arriving and leaving. Exactly once, in order per producer. */
static void test_lease_changes_hands_under_churn(void **state)
{
	(void)state;
	ht_bus B;
	ht_bus_private(&B, "lease", 4 << 20);
	ht_bus_ring(&B, "mt", 1 << 14, 256, HERMES_POLICY_BLOCK);
	hermes_bus *bus = B.bus;
	hm_ring r;
	uint32_t index;
	assert_int_equal(hm_bus_find_ring(bus, "mt", &r, &index), HERMES_OK);
	drain_ctx d = {0};
	assert_int_equal(hermes_sub_open(bus, "mt", HERMES_START_LATEST, 0, &d.sub), HERMES_OK);
	producer_ctx steady = {.bus = bus, .count = UINT64_MAX};
	churn_ctx churn = {.bus = bus, .grants = &r.hdr->lease_grants, .count = ht_scaled(2000)};
	/* Producer 0 runs until told to stop, so it is there for the
	 * churner's whole run. */
	pthread_t td = ht_thread_start(drain, &d);
	pthread_t ts = ht_thread_start(producer, &steady);
	pthread_t tc = ht_thread_start(churning_producer, &churn);
	pthread_join(tc, NULL);
	atomic_store(&steady.stop, 1);
	pthread_join(ts, NULL);
	atomic_store(&d.expected, steady.sent + churn.count);
	pthread_join(td, NULL);
	assert_int_equal(steady.err, HERMES_OK);
	assert_int_equal(churn.err, HERMES_OK);
	if (!d.ok)
		fail_msg("subscriber: %s (%llu of %llu)", d.checker.first_error,
			 (unsigned long long)d.checker.total, (unsigned long long)atomic_load(&d.expected));
	uint64_t grants = hm_load_relaxed_u64(&r.hdr->lease_grants);
	uint64_t revokes = hm_load_relaxed_u64(&r.hdr->lease_revokes);
	printf("# %llu messages; lease taken %llu times, revoked %llu times\n",
	       (unsigned long long)atomic_load(&d.expected), (unsigned long long)grants,
	       (unsigned long long)revokes);
	/* Where leases can exist (membarrier, atomic 16-byte stores; never
	 * under TSan), they did change hands. */
	if (hm_ring_leases_possible())
		assert_true(grants > 10 && revokes > 10);
	hermes_sub_close(d.sub);
	ht_bus_teardown(&B);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads_block_ring_exactly_once_in_order),
		cmocka_unit_test(test_threads_small_block_ring_under_constant_backpressure),
		cmocka_unit_test(test_subscribers_joining_a_busy_block_ring_lose_nothing),
		cmocka_unit_test(test_lease_changes_hands_under_churn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
