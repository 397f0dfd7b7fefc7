/* The multi-producer, multi-subscriber check with threads in one process, so
 * ThreadSanitizer sees every access to the ring. */
#include "tests/support/testing.h"
#include "tests/support/traffic.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <hermes/bus.h>

#define PRODUCERS 4
#define SUBSCRIBERS 2

static char bus_name[64];
static uint64_t per_producer;

typedef struct worker {
	pthread_t thread;
	hermes_bus *bus;
	uint32_t index;
	hermes_sub *sub;
	bool ok;
	ht_checker checker;
	hermes_err err;
} worker;

static void *producer(void *arg)
{
	worker *w = arg;
	hermes_pub *pub;
	w->err = hermes_pub_open(w->bus, "mt", &pub);
	if (w->err)
		return NULL;
	w->err = ht_traffic_produce(pub, w->index, per_producer, 30ll * 1000000000);
	hermes_pub_close(pub);
	return NULL;
}

static void *subscriber(void *arg)
{
	worker *w = arg;
	w->ok = ht_traffic_consume(w->sub, &w->checker, PRODUCERS, PRODUCERS * per_producer,
				   w->index ? HERMES_WAIT_BLOCK : HERMES_WAIT_YIELD,
				   ht_now_ns() + 240ull * 1000000000u);
	return NULL;
}

static void run(hermes_policy policy, uint32_t capacity)
{
	hermes_bus *bus;
	ht_unique_name(bus_name, sizeof bus_name, "mt");
	assert_int_equal(hermes_bus_create(bus_name, 4 << 20, 0600, &bus), HERMES_OK);
	hermes_ring_config cfg = {.name = "mt", .capacity = capacity, .max_msg = 256, .policy = policy};
	assert_int_equal(hermes_ring_create(bus, &cfg), HERMES_OK);
	worker subs[SUBSCRIBERS] = {0}, prods[PRODUCERS] = {0};
	for (uint32_t i = 0; i < SUBSCRIBERS; i++) {
		subs[i].bus = bus;
		subs[i].index = i;
		assert_int_equal(hermes_sub_open(bus, "mt", HERMES_START_LATEST, 0, &subs[i].sub),
				 HERMES_OK);
		assert_int_equal(pthread_create(&subs[i].thread, NULL, subscriber, &subs[i]), 0);
	}
	for (uint32_t k = 0; k < PRODUCERS; k++) {
		prods[k].bus = bus;
		prods[k].index = k;
		assert_int_equal(pthread_create(&prods[k].thread, NULL, producer, &prods[k]), 0);
	}
	for (uint32_t k = 0; k < PRODUCERS; k++) {
		pthread_join(prods[k].thread, NULL);
		assert_int_equal(prods[k].err, HERMES_OK);
	}
	for (uint32_t i = 0; i < SUBSCRIBERS; i++) {
		pthread_join(subs[i].thread, NULL);
		if (!subs[i].ok)
			fail_msg("subscriber %u: %s", i, subs[i].checker.first_error);
		hermes_sub_close(subs[i].sub);
	}
	hermes_bus_detach(bus);
	hermes_bus_unlink(bus_name);
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

typedef struct joiner_ctx {
	hermes_bus *bus;
	_Atomic int stop;
	hermes_err err;
} joiner_ctx;

static void *steady_producer(void *arg)
{
	joiner_ctx *j = arg;
	hermes_pub *pub;
	j->err = hermes_pub_open(j->bus, "mt", &pub);
	if (j->err)
		return NULL;
	for (uint64_t i = 0; !atomic_load(&j->stop); i++) {
		uint32_t len = ht_traffic_len(0, i);
		hermes_claim c;
		hermes_err err = hermes_pub_claim_timed(pub, len, &c, 30000000000ll);
		if (err) {
			j->err = err;
			break;
		}
		ht_traffic_fill(c.data, len, 0, i);
		hermes_pub_commit(pub, &c);
	}
	hermes_pub_close(pub);
	return NULL;
}

/* Subscribers that join a block ring while a producer runs flat out (and so
 * keeps scanning for room) must never be overwritten: no loss, no gap, and a
 * contiguous run from wherever they started. */
static void test_subscribers_joining_a_busy_block_ring_lose_nothing(void **state)
{
	(void)state;
	ht_unique_name(bus_name, sizeof bus_name, "join");
	joiner_ctx j = {0};
	assert_int_equal(hermes_bus_create(bus_name, 4 << 20, 0600, &j.bus), HERMES_OK);
	hermes_ring_config cfg = {.name = "mt", .capacity = 1 << 13, .max_msg = 256, .slots = 64};
	assert_int_equal(hermes_ring_create(j.bus, &cfg), HERMES_OK);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, steady_producer, &j), 0);
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
	hermes_bus_detach(j.bus);
	hermes_bus_unlink(bus_name);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads_block_ring_exactly_once_in_order),
		cmocka_unit_test(test_threads_small_block_ring_under_constant_backpressure),
		cmocka_unit_test(test_subscribers_joining_a_busy_block_ring_lose_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
