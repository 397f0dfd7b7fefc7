/* 1,000 concurrent connections to one hermes-bridge, each subscribed and
 * receiving every message a local producer publishes; the bridge's resident
 * memory is reported (and bounded), and an idle bridge with all of them
 * connected uses no CPU. */
#include <stdio.h>
#include <string.h>
#include <poll.h>

#include "tests/tcp-bridge/bridge_support.h"

#define CONNS 1000
#define ROUNDS 3
#define PER_ROUND 200

static ht_bus bus;
static ht_br_bridge br;

static int setup(void **state)
{
	(void)state;
	ht_br_raise_nofile(4 * CONNS);
	/* drop: every subscription shares the ring's one bridge cursor. */
	static const char *const extra[] = {"--slow-policy", "drop", "--max-frame", "64K",
					    "--max-connections-per-address", "2000",
					    "--out-buffer", "256K", "--log-level", "warn", NULL};
	static const hermes_ring_config rings[] = {{"fan", 4u << 20}, {0}};
	return ht_br_fixture(&bus, "brconn", rings, &br, extra);
}

static void test_a_thousand_subscribed_connections_all_receive(void **state)
{
	(void)state;
	static hermes_net *nets[CONNS];
	static uint64_t got[CONNS], first[CONNS];
	static uint32_t subs[CONNS];
	long rss0 = ht_br_rss_kb(br.pid);
	hermes_net_options o;
	hermes_net_options_init(&o);
	o.max_frame = 65536;
	o.recv_buffer = 65536;
	o.send_buffer = 4096;
	o.connect_timeout_ns = 10000000000ll;
	uint64_t t0 = ht_now_ns();
	for (unsigned i = 0; i < CONNS; i++) {
		hermes_err err = hermes_net_connect(br.addr, &o, &nets[i]);
		if (err)
			fail_msg("connection %u: %s (%s)", i, hermes_strerror(err), hermes_last_error_detail());
		hermes_net_ring_info info;
		err = hermes_net_subscribe(nets[i], "fan", HERMES_START_LATEST, 0, 10000000000ll, &subs[i],
					   &info);
		if (err)
			fail_msg("subscription %u: %s (%s)", i, hermes_strerror(err),
				 hermes_last_error_detail());
		first[i] = info.first_seq;
	}
	printf("%d connections subscribed in %.2f s\n", CONNS, (double)(ht_now_ns() - t0) / 1e9);
	long rss1 = ht_br_rss_kb(br.pid);

	hermes_bus *b;
	hermes_pub *pub;
	assert_int_equal(hermes_bus_attach(bus.name, &b), HERMES_OK);
	assert_int_equal(hermes_pub_open(b, "fan", &pub), HERMES_OK);
	long rss_peak = rss1;
	for (unsigned round = 0; round < ROUNDS; round++) {
		t0 = ht_now_ns();
		for (uint64_t k = 0; k < PER_ROUND; k++) {
			uint64_t v = round * PER_ROUND + k;
			assert_int_equal(hermes_pub_send_timed(pub, &v, sizeof v, NULL, 10000000000ll),
					 HERMES_OK);
		}
		uint64_t want = (round + 1) * PER_ROUND;
		for (unsigned i = 0; i < CONNS; i++) {
			uint64_t deadline = ht_now_ns() + 20000000000ull;
			while (got[i] < want) {
				hermes_net_event ev;
				hermes_err err = hermes_net_poll(nets[i], &ev, 1000000000ll);
				if (err == HERMES_ETIMEDOUT && ht_now_ns() < deadline)
					continue;
				if (err)
					fail_msg("connection %u: %s after %llu messages", i,
						 hermes_strerror(err), (unsigned long long)got[i]);
				if (ev.type != HERMES_NET_MESSAGE)
					fail_msg("connection %u: event %d (count %llu) after %llu messages", i,
						 ev.type, (unsigned long long)ev.value,
						 (unsigned long long)got[i]);
				uint64_t v;
				memcpy(&v, ev.data, sizeof v);
				if (ev.len != sizeof v || v != got[i] || ev.seq != first[i] + got[i])
					fail_msg("connection %u: message %llu has value %llu, seq %llu",
						 i, (unsigned long long)got[i], (unsigned long long)v,
						 (unsigned long long)ev.seq);
				got[i]++;
			}
		}
		long rss = ht_br_rss_kb(br.pid);
		if (rss > rss_peak)
			rss_peak = rss;
		printf("round %u: %d messages to each of %d connections (%d deliveries) in %.2f s\n",
		       round, PER_ROUND, CONNS, PER_ROUND * CONNS, (double)(ht_now_ns() - t0) / 1e9);
	}

	/* Idle: every connection open and subscribed, nothing published. */
	uint64_t cpu0 = ht_br_cpu_ns(br.pid);
	poll(NULL, 0, 500); /* a measurement window, not a wait for anything */
	uint64_t idle_cpu = ht_br_cpu_ns(br.pid) - cpu0;
	printf("hermes-bridge RSS: %ld KiB at start, %ld KiB with %d subscribed connections, %ld KiB "
	       "peak while streaming (%.1f KiB per connection)\n",
	       rss0, rss1, CONNS, rss_peak, (double)(rss_peak - rss0) / CONNS);
	printf("hermes-bridge CPU while idle for 0.5 s with %d connections: %.1f ms\n", CONNS,
	       (double)idle_cpu / 1e6);
	for (unsigned i = 0; i < CONNS; i++)
		hermes_net_close(nets[i]);
	hermes_pub_close(pub);
	hermes_bus_detach(b);
	assert_true(rss_peak - rss0 < 512 * 1024);
	assert_true(idle_cpu < 50000000ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_thousand_subscribed_connections_all_receive),
	};
	return cmocka_run_group_tests(tests, setup, ht_br_fixture_teardown);
}
