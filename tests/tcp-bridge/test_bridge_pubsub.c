/* hermes-bridge end to end over loopback TCP: remote publish into a local
 * ring and local publish to a remote subscriber, 1,000,000 messages each
 * way (HERMES_TEST_SCALE scales them), exactly once and in order; with acks,
 * every publish is acked with the ring sequence the local subscriber saw. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "tests/tcp-bridge/bridge_support.h"

#define MSG_LEN 64
#define WINDOW 4096
#define DEADLINE_NS 300000000000ull

static ht_bus bus;
static ht_br_bridge br;

/* Message i: its number, then bytes derived from it. */
static void fill(uint8_t *p, uint64_t i)
{
	memcpy(p, &i, 8);
	for (unsigned k = 8; k < MSG_LEN; k++)
		p[k] = (uint8_t)(i * 31 + k);
}

static bool check(const void *data, uint32_t len, uint64_t i)
{
	uint8_t want[MSG_LEN];
	fill(want, i);
	return len == MSG_LEN && memcmp(data, want, MSG_LEN) == 0;
}

static int setup(void **state)
{
	(void)state;
	static const hermes_ring_config rings[] = {
		{"inbound", 8u << 20, 65536}, {"outbound", 8u << 20, 65536}, {"plain"}, {0}};
	return ht_br_fixture(&bus, "brps", rings, &br, NULL);
}

typedef struct consumer {
	hermes_sub *sub;
	uint64_t count, got, first_seq;
	char error[200];
} consumer;

static void *consume(void *arg)
{
	consumer *c = arg;
	uint64_t deadline = ht_now_ns() + DEADLINE_NS;
	while (c->got < c->count && !c->error[0]) {
		if (ht_now_ns() > deadline) {
			snprintf(c->error, sizeof c->error, "timed out after %llu of %llu messages",
				 (unsigned long long)c->got, (unsigned long long)c->count);
			break;
		}
		hermes_err err = hermes_sub_wait(c->sub, HERMES_WAIT_BLOCK, 100000000);
		if (err == HERMES_ETIMEDOUT || err == HERMES_EAGAIN)
			continue;
		hermes_msg m;
		while (c->got < c->count && (err = hermes_sub_poll(c->sub, &m)) == HERMES_OK) {
			if (c->got == 0)
				c->first_seq = m.seq;
			if (m.seq != c->first_seq + c->got || !check(m.data, m.len, c->got)) {
				snprintf(c->error, sizeof c->error,
					 "message %llu: seq %llu (want %llu), len %u, content %s",
					 (unsigned long long)c->got, (unsigned long long)m.seq,
					 (unsigned long long)(c->first_seq + c->got), m.len,
					 check(m.data, m.len, c->got) ? "ok" : "wrong");
				break;
			}
			c->got++;
		}
		if (err != HERMES_OK && err != HERMES_EAGAIN && !c->error[0])
			snprintf(c->error, sizeof c->error, "poll: %s", hermes_strerror(err));
		hermes_sub_release(c->sub);
	}
	return NULL;
}

static void remote_to_local(uint64_t count, bool acked)
{
	hermes_bus *b;
	assert_int_equal(hermes_bus_attach(bus.name, &b), HERMES_OK);
	consumer c = {.count = count};
	assert_int_equal(hermes_sub_open(b, "inbound", HERMES_START_LATEST, 0, &c.sub), HERMES_OK);
	pthread_t t;
	pthread_create(&t, NULL, consume, &c);

	hermes_net *n = ht_br_connect(&br);
	uint32_t ch;
	hermes_net_ring_info info;
	assert_int_equal(hermes_net_bind(n, "inbound", 5000000000ll, &ch, &info), HERMES_OK);
	assert_int_equal(info.max_message, 65536);
	assert_int_equal(info.policy, HERMES_WIRE_POLICY_BLOCK);

	uint64_t t0 = ht_now_ns(), acks = 0, first_ack = 0;
	uint8_t msg[MSG_LEN];
	char failure[200] = "";
	hermes_net_event ev;
	for (uint64_t i = 0; i < count && !failure[0]; i++) {
		fill(msg, i);
		uint64_t pub_seq;
		hermes_err err = hermes_net_publish(n, ch, msg, MSG_LEN, acked ? HERMES_NET_PUB_ACK : 0,
						    &pub_seq);
		if (err) {
			snprintf(failure, sizeof failure, "publish %llu: %s", (unsigned long long)i,
				 hermes_strerror(err));
			break;
		}
		if (pub_seq != i + 1)
			snprintf(failure, sizeof failure, "publish sequence %llu, want %llu",
				 (unsigned long long)pub_seq, (unsigned long long)i + 1);
		/* A bounded window of unacknowledged publishes. */
		while (acked && !failure[0] && (i + 1 - acks >= WINDOW || i + 1 == count) && acks < i + 1) {
			err = hermes_net_poll(n, &ev, 10000000000ll);
			if (err) {
				snprintf(failure, sizeof failure, "waiting for ack %llu: %s",
					 (unsigned long long)acks + 1, hermes_strerror(err));
				break;
			}
			if (ev.type != HERMES_NET_ACK) {
				snprintf(failure, sizeof failure, "event %d (code %s) instead of an ack",
					 ev.type, hermes_err_name(ev.code));
				break;
			}
			if (acks == 0)
				first_ack = ev.value;
			if (ev.channel != ch || ev.seq != acks + 1 || ev.value != first_ack + acks)
				snprintf(failure, sizeof failure,
					 "ack %llu: channel %u, publish seq %llu, ring seq %llu (want %llu)",
					 (unsigned long long)acks, ev.channel, (unsigned long long)ev.seq,
					 (unsigned long long)ev.value,
					 (unsigned long long)(first_ack + acks));
			acks++;
		}
	}
	if (!acked && !failure[0] && hermes_net_flush(n, 10000000000ll) != HERMES_OK)
		snprintf(failure, sizeof failure, "flush failed");
	pthread_join(t, NULL);
	double secs = (double)(ht_now_ns() - t0) / 1e9;
	printf("remote -> local: %llu messages of %d bytes%s in %.2f s (%.2f M msgs/s)\n",
	       (unsigned long long)count, MSG_LEN, acked ? ", each acked" : "", secs,
	       (double)count / secs / 1e6);
	hermes_net_close(n);
	hermes_sub_close(c.sub);
	hermes_bus_detach(b);
	if (failure[0])
		fail_msg("%s", failure);
	if (c.error[0])
		fail_msg("local subscriber: %s", c.error);
	assert_int_equal(c.got, count);
	if (acked) {
		assert_int_equal(acks, count);
		/* The acks name exactly the sequences the local subscriber saw. */
		assert_int_equal(first_ack, c.first_seq);
	}
}

static void test_remote_publish_with_acks_reaches_local_subscriber_exactly_once(void **state)
{
	(void)state;
	remote_to_local(ht_scaled(1000000), true);
}

static void test_remote_publish_without_acks_reaches_local_subscriber_exactly_once(void **state)
{
	(void)state;
	remote_to_local(ht_scaled(1000000), false);
}

typedef struct producer {
	const char *ring;
	uint64_t count;
	char error[200];
} producer;

static void *produce(void *arg)
{
	producer *p = arg;
	hermes_bus *b;
	hermes_pub *pub;
	if (hermes_bus_attach(bus.name, &b) || hermes_pub_open(b, p->ring, &pub)) {
		snprintf(p->error, sizeof p->error, "open: %s", hermes_last_error_detail());
		return NULL;
	}
	uint8_t msg[MSG_LEN];
	for (uint64_t i = 0; i < p->count; i++) {
		fill(msg, i);
		hermes_err err = hermes_pub_send_timed(pub, msg, MSG_LEN, NULL, 30000000000ll);
		if (err) {
			snprintf(p->error, sizeof p->error, "send %llu: %s", (unsigned long long)i,
				 hermes_strerror(err));
			break;
		}
	}
	hermes_pub_close(pub);
	hermes_bus_detach(b);
	return NULL;
}

static void test_local_publish_reaches_remote_subscriber_exactly_once(void **state)
{
	(void)state;
	uint64_t count = ht_scaled(1000000);
	hermes_net *n = ht_br_connect(&br);
	uint32_t sub;
	hermes_net_ring_info info;
	assert_int_equal(hermes_net_subscribe(n, "outbound", HERMES_START_LATEST, 0, 5000000000ll,
					      &sub, &info),
			 HERMES_OK);
	producer p = {.ring = "outbound", .count = count};
	pthread_t t;
	uint64_t t0 = ht_now_ns();
	pthread_create(&t, NULL, produce, &p);
	uint64_t got = 0, deadline = ht_now_ns() + DEADLINE_NS;
	char failure[200] = "";
	while (got < count && !failure[0]) {
		hermes_net_event ev;
		hermes_err err = hermes_net_poll(n, &ev, 1000000000ll);
		if (err == HERMES_ETIMEDOUT) {
			if (ht_now_ns() > deadline)
				snprintf(failure, sizeof failure, "timed out after %llu messages",
					 (unsigned long long)got);
			continue;
		}
		if (err) {
			snprintf(failure, sizeof failure, "poll: %s", hermes_strerror(err));
			break;
		}
		if (ev.type != HERMES_NET_MESSAGE) {
			snprintf(failure, sizeof failure, "event %d (value %llu) at message %llu", ev.type,
				 (unsigned long long)ev.value, (unsigned long long)got);
			break;
		}
		if (ev.channel != sub || ev.seq != info.first_seq + got || !check(ev.data, ev.len, got))
			snprintf(failure, sizeof failure, "message %llu: sub %u seq %llu (want %llu) len %u",
				 (unsigned long long)got, ev.channel, (unsigned long long)ev.seq,
				 (unsigned long long)(info.first_seq + got), ev.len);
		got++;
	}
	double secs = (double)(ht_now_ns() - t0) / 1e9;
	pthread_join(t, NULL);
	printf("local -> remote: %llu messages of %d bytes in %.2f s (%.2f M msgs/s)\n",
	       (unsigned long long)got, MSG_LEN, secs, (double)got / secs / 1e6);
	hermes_net_close(n);
	if (p.error[0])
		fail_msg("local producer: %s", p.error);
	if (failure[0])
		fail_msg("%s", failure);
	assert_int_equal(got, count);
}

static void test_bind_and_subscribe_errors_are_reported_per_channel(void **state)
{
	(void)state;
	hermes_net *n = ht_br_connect(&br);
	uint32_t ch;
	assert_int_equal(hermes_net_bind(n, "nosuch", 5000000000ll, &ch, NULL), HERMES_ENOENT);
	assert_int_equal(hermes_net_subscribe(n, "nosuch", HERMES_START_LATEST, 0, 5000000000ll, &ch,
					      NULL),
			 HERMES_ENOENT);
	/* A message larger than the ring's maximum: an ERROR for that publish,
	 * and the connection goes on. */
	assert_int_equal(hermes_net_bind(n, "plain", 5000000000ll, &ch, NULL), HERMES_OK);
	static uint8_t big[8192];
	uint64_t seq;
	assert_int_equal(hermes_net_publish(n, ch, big, sizeof big, HERMES_NET_PUB_ACK, &seq), HERMES_OK);
	assert_int_equal(hermes_net_publish(n, ch, big, 100, HERMES_NET_PUB_ACK, NULL), HERMES_OK);
	hermes_net_event ev;
	assert_int_equal(hermes_net_poll(n, &ev, 5000000000ll), HERMES_OK);
	assert_int_equal(ev.type, HERMES_NET_ERROR);
	assert_int_equal(ev.code, HERMES_EMSGSIZE);
	assert_int_equal(ev.seq, seq);
	assert_int_equal(ev.fatal, 0);
	assert_int_equal(hermes_net_poll(n, &ev, 5000000000ll), HERMES_OK);
	assert_int_equal(ev.type, HERMES_NET_ACK);
	assert_int_equal(ev.seq, seq + 1);
	/* Ping answers in order. */
	assert_int_equal(hermes_net_ping(n, 77), HERMES_OK);
	assert_int_equal(hermes_net_poll(n, &ev, 5000000000ll), HERMES_OK);
	assert_int_equal(ev.type, HERMES_NET_PONG);
	assert_int_equal(ev.seq, 77);
	hermes_net_close(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bind_and_subscribe_errors_are_reported_per_channel),
		cmocka_unit_test(test_remote_publish_with_acks_reaches_local_subscriber_exactly_once),
		cmocka_unit_test(test_remote_publish_without_acks_reaches_local_subscriber_exactly_once),
		cmocka_unit_test(test_local_publish_reaches_remote_subscriber_exactly_once),
	};
	return cmocka_run_group_tests(tests, setup, ht_br_fixture_teardown);
}
