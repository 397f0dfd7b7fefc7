/* The multi-producer, multi-subscriber check with threads in one process, so
 * ThreadSanitizer sees every access to the ring. */
#include "tests/support/testing.h"
#include "tests/support/traffic.h"

#include <pthread.h>
#include <stdio.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads_block_ring_exactly_once_in_order),
		cmocka_unit_test(test_threads_small_block_ring_under_constant_backpressure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
