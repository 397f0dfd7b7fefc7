/* Many producer processes, many subscriber processes, one ring: every
 * subscriber gets every message exactly once, in per-producer order, intact. */
#include "tests/support/bus.h"
#include "tests/support/testing.h"
#include "tests/support/traffic.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hermes/bus.h>

#define PRODUCERS 4
#define SUBSCRIBERS 2

static ht_bus B;
static uint64_t per_producer;
static int ready_pipe[2];

static int subscriber_main(void *arg)
{
	(void)arg;
	hermes_bus *bus;
	hermes_sub *sub;
	if (hermes_bus_attach(B.name, &bus) ||
	    hermes_sub_open(bus, "mp", HERMES_START_LATEST, 0, &sub)) {
		fprintf(stderr, "subscriber: %s\n", hermes_last_error_detail());
		return 2;
	}
	/* Tell the parent we are subscribed: producers start after this. */
	if (write(ready_pipe[1], "r", 1) != 1)
		return 2;
	ht_checker c = {0};
	bool ok = ht_traffic_consume(sub, &c, PRODUCERS, PRODUCERS * per_producer,
				     HERMES_WAIT_BLOCK, ht_now_ns() + 240ull * 1000000000u);
	if (!ok)
		fprintf(stderr, "subscriber %d: %s\n", (int)getpid(), c.first_error);
	hermes_sub_close(sub);
	hermes_bus_detach(bus);
	return ok ? 0 : 1;
}

static int producer_main(void *arg)
{
	uint32_t k = (uint32_t)(uintptr_t)arg;
	hermes_bus *bus;
	hermes_pub *pub;
	if (hermes_bus_attach(B.name, &bus) || hermes_pub_open(bus, "mp", &pub)) {
		fprintf(stderr, "producer: %s\n", hermes_last_error_detail());
		return 2;
	}
	/* A claim may wait for the subscribers to make room, never forever. */
	hermes_err err = ht_traffic_produce(pub, k, per_producer, 30ll * 1000000000);
	if (err)
		fprintf(stderr, "producer %u: %s\n", k, hermes_strerror(err));
	hermes_pub_close(pub);
	hermes_bus_detach(bus);
	return err ? 1 : 0;
}

static void test_four_producers_two_subscribers_exactly_once_in_order(void **state)
{
	(void)state;
	per_producer = ht_scaled(1000000);
	ht_bus_private(&B, "mp", 8 << 20);
	ht_bus_ring(&B, "mp", 1 << 20, 256, HERMES_POLICY_BLOCK);
	assert_int_equal(pipe(ready_pipe), 0);

	pid_t subs[SUBSCRIBERS], prods[PRODUCERS];
	for (int i = 0; i < SUBSCRIBERS; i++)
		subs[i] = ht_fork(subscriber_main, NULL);
	for (int got = 0; got < SUBSCRIBERS;) {
		struct pollfd pfd = {.fd = ready_pipe[0], .events = POLLIN};
		int r = poll(&pfd, 1, 10000);
		if (r < 0 && errno == EINTR)
			continue;
		assert_int_equal(r, 1);
		char ch;
		assert_int_equal(read(ready_pipe[0], &ch, 1), 1);
		got++;
	}
	uint64_t t0 = ht_now_ns();
	for (int k = 0; k < PRODUCERS; k++)
		prods[k] = ht_fork(producer_main, (void *)(uintptr_t)k);
	for (int k = 0; k < PRODUCERS; k++) {
		assert_int_equal(ht_child_exit(prods[k], 240000), 0);
	}
	for (int i = 0; i < SUBSCRIBERS; i++) {
		assert_int_equal(ht_child_exit(subs[i], 240000), 0);
	}
	double secs = (double)(ht_now_ns() - t0) / 1e9;
	printf("# %d producers x %llu messages, %d subscribers: %.2f s, %.2f M msgs/s delivered\n",
	       PRODUCERS, (unsigned long long)per_producer, SUBSCRIBERS, secs,
	       (double)(PRODUCERS * per_producer * SUBSCRIBERS) / secs / 1e6);
	close(ready_pipe[0]);
	close(ready_pipe[1]);
	ht_bus_teardown(&B);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_four_producers_two_subscribers_exactly_once_in_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
