/* hermes-bridge under bad input, while a well-behaved client streams through
 * the same bridge: one test per class of bad input (malformed headers,
 * malformed HELLOs, frames out of place, an unknown ring, 10,000 seeded
 * random and mutated frames, clients that vanish mid-frame, never finish the
 * handshake, half-close, or flood without reading). Every bad connection
 * gets an ERROR frame or a close; the last test checks that the good client
 * lost nothing and that the bridge counted it all, so the tests run as one
 * group, in order. The bridge stays up (and, in the ASan build, exits
 * clean). HERMES_TEST_SEED picks the seed. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "core/endian.h"
#include "tcp-bridge/bridge/stats.h"
#include "tests/tcp-bridge/bridge_support.h"

#define GOOD_MIN 20000
#define FRAMES_PER_CONN 10

static ht_bus bus;
static ht_br_bridge br;

/* ---- the good client ------------------------------------------------------------------ */

typedef struct good {
	atomic_bool stop;
	uint64_t sent, acked, received;
	char error[240];
} good;

static void good_msg(uint8_t *p, uint64_t i)
{
	for (unsigned k = 0; k < 48; k++)
		p[k] = (uint8_t)(i * 7 + k);
	memcpy(p, &i, 8);
}

static void *good_client(void *arg)
{
	good *g = arg;
	hermes_net *n = ht_br_connect(&br);
	uint32_t ch, sub;
	hermes_net_ring_info info;
	if (hermes_net_bind(n, "good", 5000000000ll, &ch, NULL) ||
	    hermes_net_subscribe(n, "good", HERMES_START_LATEST, 0, 5000000000ll, &sub, &info)) {
		snprintf(g->error, sizeof g->error, "bind/subscribe: %s", hermes_last_error_detail());
		hermes_net_close(n);
		return NULL;
	}
	uint64_t first_ack = 0, deadline = 0;
	uint8_t msg[48];
	while (!g->error[0]) {
		bool stopping = atomic_load(&g->stop) && g->sent >= GOOD_MIN;
		if (stopping && g->acked == g->sent && g->received == g->sent)
			break;
		if (stopping && !deadline)
			deadline = ht_now_ns() + 30000000000ull;
		if (deadline && ht_now_ns() > deadline) {
			snprintf(g->error, sizeof g->error, "sent %llu, acked %llu, received %llu at the deadline",
				 (unsigned long long)g->sent, (unsigned long long)g->acked,
				 (unsigned long long)g->received);
			break;
		}
		if (!stopping && g->sent - g->acked < 256) {
			good_msg(msg, g->sent);
			if (hermes_net_publish(n, ch, msg, sizeof msg, HERMES_NET_PUB_ACK, NULL)) {
				snprintf(g->error, sizeof g->error, "publish: %s", hermes_last_error_detail());
				break;
			}
			g->sent++;
			continue;
		}
		hermes_net_event ev;
		hermes_err err = hermes_net_poll(n, &ev, 100000000);
		if (err == HERMES_ETIMEDOUT)
			continue;
		if (err) {
			snprintf(g->error, sizeof g->error, "poll: %s", hermes_strerror(err));
			break;
		}
		if (ev.type == HERMES_NET_ACK) {
			if (g->acked == 0)
				first_ack = ev.value;
			if (ev.seq != g->acked + 1 || ev.value != first_ack + g->acked)
				snprintf(g->error, sizeof g->error, "ack %llu: publish seq %llu ring seq %llu",
					 (unsigned long long)g->acked, (unsigned long long)ev.seq,
					 (unsigned long long)ev.value);
			g->acked++;
		} else if (ev.type == HERMES_NET_MESSAGE) {
			good_msg(msg, g->received);
			if (ev.seq != info.first_seq + g->received || ev.len != sizeof msg ||
			    memcmp(ev.data, msg, sizeof msg))
				snprintf(g->error, sizeof g->error, "message %llu: seq %llu len %u",
					 (unsigned long long)g->received, (unsigned long long)ev.seq, ev.len);
			g->received++;
		} else {
			snprintf(g->error, sizeof g->error, "unexpected event %d (code %s)", ev.type,
				 hermes_err_name(ev.code));
		}
	}
	hermes_net_close(n);
	return NULL;
}

/* The good client runs from the group set-up to the last test, through
 * every class of bad input. */
static good g;
static pthread_t good_thread;
static bool good_running;

static void stop_good_client(void)
{
	if (!good_running)
		return;
	atomic_store(&g.stop, true);
	pthread_join(good_thread, NULL);
	good_running = false;
}

static int setup(void **state)
{
	(void)state;
	static const char *const extra[] = {"--handshake-timeout", "1000", "--out-buffer", "256K",
					    "--log-level", "warn", NULL};
	/* fz, the target of the random frames: overwrite, so nothing blocks. */
	static const hermes_ring_config rings[] = {
		{"good", 4u << 20}, {"fz", .policy = HERMES_POLICY_OVERWRITE}, {0}};
	ht_br_fixture(&bus, "brbad", rings, &br, extra);
	pthread_create(&good_thread, NULL, good_client, &g);
	good_running = true;
	return 0;
}

static int teardown(void **state)
{
	stop_good_client();
	return ht_br_fixture_teardown(state);
}

/* ---- bad connections ------------------------------------------------------------------- */

static size_t hello(uint8_t *buf, size_t cap)
{
	hermes_encoder e;
	hermes_encoder_init(&e, buf, cap);
	ht_br_encode_hello(&e, "", 0);
	return hermes_encoder_data(&e).len;
}

/* Send bytes on a fresh connection, half-close, and expect the bridge to
 * answer with a fatal ERROR of code want (0: any answer) and to close. */
static void expect_refused(const char *what, const uint8_t *bytes, size_t len, hermes_err want)
{
	int fd = ht_br_raw_connect(&br);
	ht_br_raw_send(fd, bytes, len, true);
	shutdown(fd, SHUT_WR);
	static uint8_t in[1 << 16];
	printf("%-34s -> ", what);
	size_t got = ht_br_raw_answer(fd, in, sizeof in);
	close(fd);
	if (want == HERMES_OK) {
		printf("closed\n");
		return;
	}
	if (!ht_br_expect_error(in, got, want))
		fail_msg("%s: ERROR %s not fatal", what, hermes_err_name(want));
	printf("ERROR %s, closed\n", hermes_err_name(want));
}

static void test_malformed_header_is_refused_and_closed(void **state)
{
	(void)state;
	uint8_t buf[1024];
	size_t n;

	expect_refused("bad magic (an HTTP request)", (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18,
		       HERMES_EBADMAGIC);

	n = hello(buf, sizeof buf);
	buf[2] = 9;
	expect_refused("bad version (9)", buf, n, HERMES_EBADVERSION);

	n = hello(buf, sizeof buf);
	buf[3] = 0x3D;
	expect_refused("unknown type 0x3D", buf, n, HERMES_EBADTYPE);

	n = hello(buf, sizeof buf);
	hm_put_le32(buf + 8, 0x7fffffff);
	expect_refused("oversized length (2 GiB)", buf, n, HERMES_ETOOBIG);

	n = hello(buf, sizeof buf);
	buf[4] = 0x80;
	expect_refused("reserved flag bit", buf, n, HERMES_EBADFLAGS);
}

static void test_malformed_hello_is_refused_and_closed(void **state)
{
	(void)state;
	uint8_t buf[1024];
	size_t n;

	n = hello(buf, sizeof buf);
	buf[HERMES_HEADER_SIZE] = 0; /* min_version 0 */
	expect_refused("HELLO with min_version 0", buf, n, HERMES_EBADPAYLOAD);

	n = hello(buf, sizeof buf);
	buf[HERMES_HEADER_SIZE] = 2;
	buf[HERMES_HEADER_SIZE + 1] = 3; /* versions 2..3 only */
	expect_refused("no common version", buf, n, HERMES_EBADVERSION);

	n = hello(buf, sizeof buf);
	expect_refused("truncated HELLO", buf, n - 5, HERMES_OK);
}

static void test_frames_out_of_place_are_refused_and_closed(void **state)
{
	(void)state;
	uint8_t buf[1024];
	size_t n;

	hermes_encoder e;
	hermes_encoder_init(&e, buf, sizeof buf);
	hermes_frame_header h = {.type = HERMES_MSG_PUBLISH, .channel = 1, .sequence = 1};
	hermes_encode_frame(&e, &h, "x", 1, NULL);
	expect_refused("PUBLISH before HELLO", buf, hermes_encoder_data(&e).len, HERMES_EHANDSHAKE);

	n = hello(buf, sizeof buf);
	memcpy(buf + n, buf, n);
	expect_refused("HELLO twice", buf, 2 * n, HERMES_EHANDSHAKE);

	hermes_encoder_init(&e, buf, sizeof buf);
	ht_br_encode_hello(&e, "", 0);
	hermes_wire_msg m = {.type = HERMES_MSG_BIND};
	m.bind.ring = "good";
	m.bind.ring_len = 4;
	hermes_wire_msg_encode(&e, 0, 0, &m, NULL);
	expect_refused("BIND on channel 0", buf, hermes_encoder_data(&e).len, HERMES_EINVAL);
}

/* Unknown ring: an error for that channel, and the connection goes on (a
 * PING after it is answered). */
static void test_bind_to_unknown_ring_is_answered_and_the_connection_goes_on(void **state)
{
	(void)state;
	int fd = ht_br_raw_hello(&br, "", 0);
	ht_br_send_bind(fd, 5, "nosuch");
	ht_br_send_frame(fd, HERMES_MSG_PING, 0, 0, 99, NULL, 0);
	shutdown(fd, SHUT_WR);
	static uint8_t in[4096];
	size_t got = ht_br_raw_answer(fd, in, sizeof in);
	close(fd);
	assert_false(ht_br_expect_error(in, got, HERMES_ENOENT));
	assert_true(ht_br_has_frame(in, got, HERMES_MSG_PONG, &(uint64_t){99}));
	printf("%-34s -> ERROR HERMES_ENOENT (not fatal), PONG\n", "BIND to an unknown ring");
}

/* Valid session frames to mutate. */
static size_t template_frame(uint64_t *rng, uint8_t *buf, size_t cap)
{
	hermes_encoder e;
	hermes_encoder_init(&e, buf, cap);
	uint32_t id = (uint32_t)(ht_rand(rng) % 6) + 1;
	hermes_wire_msg m;
	uint8_t payload[256];
	unsigned kind = (unsigned)(ht_rand(rng) % 9);
	switch (kind) {
	case 0:
		m = (hermes_wire_msg){.type = HERMES_MSG_BIND};
		m.bind.ring = "fz";
		m.bind.ring_len = 2;
		hermes_wire_msg_encode(&e, id, 0, &m, NULL);
		break;
	case 1:
	case 2: {
		size_t len = (size_t)(ht_rand(rng) % sizeof payload);
		for (size_t i = 0; i < len; i++)
			payload[i] = (uint8_t)ht_rand(rng);
		hermes_frame_header h = {.type = HERMES_MSG_PUBLISH, .channel = id,
					 .sequence = ht_rand(rng) % 1000,
					 .flags = (ht_rand(rng) & 1) ? HERMES_FLAG_ACK_REQUESTED : 0};
		hermes_encode_frame(&e, &h, payload, len, NULL);
		break;
	}
	case 3:
		m = (hermes_wire_msg){.type = HERMES_MSG_SUBSCRIBE};
		m.subscribe.start = (uint8_t)(ht_rand(rng) % 3);
		m.subscribe.start_seq = m.subscribe.start == 2 ? ht_rand(rng) % 100 : 0;
		m.subscribe.ring = "fz";
		m.subscribe.ring_len = 2;
		hermes_wire_msg_encode(&e, id, 0, &m, NULL);
		break;
	case 4: {
		hermes_frame_header h = {.type = ht_rand(rng) & 1 ? HERMES_MSG_UNSUBSCRIBE
								  : HERMES_MSG_UNBIND,
					 .channel = id};
		hermes_encode_frame(&e, &h, NULL, 0, NULL);
		break;
	}
	case 5:
		hermes_encode(&e, ht_rand(rng) & 1 ? HERMES_MSG_PING : HERMES_MSG_PONG, ht_rand(rng),
			      NULL, 0, NULL);
		break;
	case 6: {
		/* An ERROR whose text is not UTF-8 (by hand: the codec refuses
		 * to write it). */
		static const uint8_t bad[] = {HERMES_EINVAL, 0, 0, 0, 6, 0, 0, 0,
					      'o', 'o', 'p', 's', 0x01, 0xff};
		hermes_frame_header h = {.type = HERMES_MSG_ERROR, .channel = id};
		hermes_encode_frame(&e, &h, bad, sizeof bad, NULL);
		break;
	}
	case 7:
		ht_br_encode_hello(&e, "x", (uint32_t)ht_rand(rng));
		break;
	default: {
		/* Pure noise. */
		size_t len = (size_t)(ht_rand(rng) % 64) + 1;
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)ht_rand(rng);
		return len;
	}
	}
	return hermes_encoder_data(&e).len;
}

static size_t mutate(uint64_t *rng, uint8_t *buf, size_t len, size_t cap)
{
	switch (ht_rand(rng) % 10) {
	case 0: case 6: case 7: case 8: case 9: /* leave it valid: go deeper */
		return len;
	case 1: { /* flip a few bytes anywhere */
		unsigned k = (unsigned)(ht_rand(rng) % 3) + 1;
		for (unsigned i = 0; i < k; i++)
			buf[ht_rand(rng) % len] ^= (uint8_t)(1u << (ht_rand(rng) % 8));
		return len;
	}
	case 2: /* a header byte set to anything */
		buf[ht_rand(rng) % (len < HERMES_HEADER_SIZE ? len : HERMES_HEADER_SIZE)] =
			(uint8_t)ht_rand(rng);
		return len;
	case 3: /* a hostile length */
		if (len >= 12)
			hm_put_le32(buf + 8, (uint32_t)ht_rand(rng) >> (ht_rand(rng) % 32));
		return len;
	case 4: /* truncated */
		return (size_t)(ht_rand(rng) % len);
	default: /* extended with garbage */
		while (len < cap && (ht_rand(rng) % 8))
			buf[len++] = (uint8_t)ht_rand(rng);
		return len;
	}
}

static uint64_t random_frames(uint64_t seed, unsigned total)
{
	uint64_t rng = seed, refused = 0;
	static uint8_t out[FRAMES_PER_CONN * 600];
	static uint8_t in[1 << 16];
	for (unsigned sent = 0; sent < total;) {
		size_t len = 0;
		if (ht_rand(&rng) % 4) /* mostly past the handshake */
			len = hello(out, sizeof out);
		for (unsigned k = 0; k < FRAMES_PER_CONN && sent < total; k++, sent++) {
			size_t n = template_frame(&rng, out + len, 512);
			len += mutate(&rng, out + len, n, 560);
		}
		int fd = ht_br_raw_connect(&br);
		ht_br_raw_send(fd, out, len, true);
		shutdown(fd, SHUT_WR);
		bool eof;
		size_t got = ht_br_raw_drain(fd, in, sizeof in, 5000, &eof);
		close(fd);
		if (!eof)
			fail_msg("seed %llu: the bridge neither closed nor answered a connection "
				 "(frames up to %u)",
				 (unsigned long long)seed, sent);
		hermes_err code;
		bool fatal;
		refused += ht_br_find_error(in, got, &code, &fatal) && fatal;
		if (!ht_br_bridge_alive(&br))
			fail_msg("seed %llu: the bridge died (frames up to %u)", (unsigned long long)seed, sent);
	}
	return refused;
}

static void test_clients_vanishing_mid_frame_leave_the_bridge_up(void **state)
{
	(void)state;
	uint8_t buf[1024];
	/* Vanish in the middle of a frame, once with FIN, once with RST. */
	for (int rst = 0; rst < 2; rst++) {
		hermes_encoder e;
		hermes_encoder_init(&e, buf, sizeof buf);
		ht_br_encode_hello(&e, "", 0);
		hermes_frame_header h = {.type = HERMES_MSG_PUBLISH, .channel = 1, .sequence = 1};
		static uint8_t payload[300];
		hermes_encode_frame(&e, &h, payload, sizeof payload, NULL);
		int fd = ht_br_raw_connect(&br);
		ht_br_raw_send(fd, buf, hermes_encoder_data(&e).len - 200, false);
		if (rst) {
			struct linger l = {.l_onoff = 1, .l_linger = 0};
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
		}
		close(fd);
	}
	printf("%-34s -> bridge still up\n", "clients vanishing mid-frame");
}

/* Connected, silent: the handshake deadline (1 s here) closes it. */
static void test_silent_client_is_closed_at_the_handshake_deadline(void **state)
{
	(void)state;
	int fd = ht_br_raw_connect(&br);
	static uint8_t in[4096];
	uint64_t t0 = ht_now_ns();
	size_t got = ht_br_raw_answer(fd, in, sizeof in);
	close(fd);
	ht_br_expect_error(in, got, HERMES_ETIMEDOUT);
	printf("%-34s -> ERROR HERMES_ETIMEDOUT after %.2f s, closed\n", "silent (half-open) client",
	       (double)(ht_now_ns() - t0) / 1e9);
}

/* HELLO, then half-close: WELCOME comes back, then the close. */
static void test_hello_then_half_close_gets_welcome_then_close(void **state)
{
	(void)state;
	static uint8_t in[4096];
	int fd = ht_br_raw_hello(&br, "", 0);
	shutdown(fd, SHUT_WR);
	size_t got = ht_br_raw_answer(fd, in, sizeof in);
	close(fd);
	assert_true(got >= HERMES_HEADER_SIZE && in[3] == HERMES_MSG_WELCOME);
	printf("%-34s -> WELCOME, closed\n", "HELLO then half-close");
}

/* A client that sends PINGs and never reads: the bridge stops reading it
 * once its output is full, so what it can push is bounded by buffers. */
static void test_ping_flood_without_reading_is_bounded(void **state)
{
	(void)state;
	uint8_t buf[64 * 1024];
	size_t n = hello(buf, sizeof buf);
	int fd = ht_br_raw_connect(&br);
	ht_br_raw_send(fd, buf, n, false);
	hermes_encoder e;
	hermes_encoder_init(&e, buf, sizeof buf);
	while (hermes_encode(&e, HERMES_MSG_PING, 1, NULL, 0, NULL) == HERMES_OK)
		;
	hermes_wire_bytes pings = hermes_encoder_data(&e);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	uint64_t pushed = 0, t0 = ht_now_ns();
	long rss0 = ht_br_rss_kb(br.pid);
	size_t off = 0;
	while (ht_now_ns() - t0 < 1500000000ull) {
		/* Whole frames only: a partial send continues where it ended. */
		ssize_t w = send(fd, pings.data + off, pings.len - off, MSG_NOSIGNAL);
		if (w > 0) {
			pushed += (uint64_t)w;
			off = (off + (size_t)w) % pings.len;
		} else if (w < 0 && errno != EAGAIN) {
			fail_msg("the flooding connection was closed: %s", strerror(errno));
		} else {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			poll(&p, 1, 10);
		}
	}
	long rss1 = ht_br_rss_kb(br.pid);
	close(fd);
	printf("%-34s -> stopped after %llu KiB in 1.5 s; bridge RSS %ld -> %ld KiB\n",
	       "PING flood without reading", (unsigned long long)(pushed >> 10), rss0, rss1);
	assert_true(pushed < (64u << 20));
#if !defined(HERMES_TSAN)
	/* Under TSan the bridge's RSS is mostly the sanitizer's shadow memory
	 * and its allocator's caches, which move by tens of MiB whatever the
	 * bridge buffers (the CI's TSan run saw 69852 -> 87384 KiB, reruns
	 * +2 MiB; Release: +312 KiB): the bound is checked in the other
	 * builds, where RSS is the bridge's. */
	assert_true(rss1 - rss0 < 16 * 1024);
#endif
}

static void test_random_and_mutated_frames_are_refused_or_closed(void **state)
{
	(void)state;
	const char *s = getenv("HERMES_TEST_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 0) : 0x5eed5eedull;
	unsigned total = (unsigned)ht_scaled(10000);
	uint64_t t0 = ht_now_ns();
	uint64_t refused = random_frames(seed, total);
	printf("%u random/mutated frames (seed 0x%llx) on %u connections in %.2f s: %llu refused with "
	       "a fatal ERROR, all closed\n",
	       total, (unsigned long long)seed, (total + FRAMES_PER_CONN - 1) / FRAMES_PER_CONN,
	       (double)(ht_now_ns() - t0) / 1e9, (unsigned long long)refused);
}

/* Last: the good client streamed through every class above. */
static void test_good_client_lost_nothing_and_the_bridge_counted_it_all(void **state)
{
	(void)state;
	stop_good_client();
	if (g.error[0])
		fail_msg("good client: %s", g.error);
	printf("good client: %llu published, %llu acked, %llu received back, in order\n",
	       (unsigned long long)g.sent, (unsigned long long)g.acked,
	       (unsigned long long)g.received);
	assert_int_equal(g.acked, g.sent);
	assert_int_equal(g.received, g.sent);
	assert_true(ht_br_bridge_alive(&br));

	/* The counters file saw it all. */
	char path[300];
	snprintf(path, sizeof path, "%s/hermes-bridge.%s.%u", bus.d.run_dir, bus.name, br.port);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	hm_bridge_stats *st = mmap(NULL, sizeof *st, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	assert_true(st != MAP_FAILED);
	assert_int_equal(hm_load_acquire_u64(&st->h.magic), HM_BRIDGE_STATS_MAGIC);
	printf("counters: %llu connections, %llu protocol errors, %llu errors sent, %llu handshake "
	       "timeouts\n",
	       (unsigned long long)hm_load_relaxed_u64(&st->c.connections_accepted),
	       (unsigned long long)hm_load_relaxed_u64(&st->c.protocol_errors),
	       (unsigned long long)hm_load_relaxed_u64(&st->c.errors_sent),
	       (unsigned long long)hm_load_relaxed_u64(&st->c.handshake_timeouts));
	assert_true(hm_load_relaxed_u64(&st->c.protocol_errors) >= 9);
	assert_true(hm_load_relaxed_u64(&st->c.handshake_timeouts) >= 1);
	munmap(st, sizeof *st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_malformed_header_is_refused_and_closed),
		cmocka_unit_test(test_malformed_hello_is_refused_and_closed),
		cmocka_unit_test(test_frames_out_of_place_are_refused_and_closed),
		cmocka_unit_test(test_bind_to_unknown_ring_is_answered_and_the_connection_goes_on),
		cmocka_unit_test(test_clients_vanishing_mid_frame_leave_the_bridge_up),
		cmocka_unit_test(test_silent_client_is_closed_at_the_handshake_deadline),
		cmocka_unit_test(test_hello_then_half_close_gets_welcome_then_close),
		cmocka_unit_test(test_random_and_mutated_frames_are_refused_or_closed),
		cmocka_unit_test(test_ping_flood_without_reading_is_bounded),
		cmocka_unit_test(test_good_client_lost_nothing_and_the_bridge_counted_it_all),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
