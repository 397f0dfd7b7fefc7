/* Delivery and publishing at the size limits, and the half-close.
 *
 * Every combination of a ring's max_message, the client's max_frame and the
 * bridge's out_buffer and max_frame, plain and sealed: a message just under,
 * at and just over what the subscriber can take is delivered, or reported
 * at once as a LOSS; nothing stalls, and a block ring's producers are never
 * held back by a subscriber that reads (a subscription to a ring whose
 * max_message was above 1,047,240 bytes used to get nothing, ever, and held
 * producers back; `hermes-ctl tail --remote` hung the same way). A publish
 * just under, at and just over each limit is acked, refused with
 * HERMES_EMSGSIZE (the ring's limit), or refused before it is sent (the
 * bridge's max_frame). A subscriber that half-closes its socket gets
 * everything its rings held at that moment, then GOODBYE; one that does not
 * read what it is owed is cut off after the handshake timeout. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/endian.h"
#include "tcp-bridge/client/auth.h"
#include "tests/tcp-bridge/bridge_support.h"

#define FRAME_1M 1048576u
#define BIG_MAX (FRAME_1M - 24u) /* the ring: max_message 1048552 */
#define WIDE_MAX (FRAME_1M + 64u)
#define WAIT_NS 20000000000ll

static ht_bus bus;
static hermes_bus *hbus;
static ht_br_bridge br_def, br_small, br_short, br_sec;
static bool sodium;
static char key_alice[300];
static uint8_t *buf; /* message scratch, 2 MiB */

static int setup(void **state)
{
	(void)state;
	static const hermes_ring_config rings[] = {
		{"tail", 16u << 20, BIG_MAX},
		{"big", 16u << 20, BIG_MAX},
		{"wide", 16u << 20, WIDE_MAX},
		{"wide-ow", 16u << 20, WIDE_MAX, HERMES_POLICY_OVERWRITE},
		{"small"},
		{"owed", 16u << 20},
		{"owed-ow", 4u << 20, .policy = HERMES_POLICY_OVERWRITE},
		{0},
	};
	ht_br_bus_start(&bus, "brdeliv", rings);
	hbus = bus.bus;
	buf = malloc(2u << 20);
	assert_non_null(buf);
	/* Defaults: out_buffer = max_frame = 1 MiB. */
	static const char *const def[] = {"--log-level", "warn", NULL};
	ht_br_bridge_start(&br_def, &bus.d, "bridge-def", def);
	static const char *const small[] = {"--out-buffer", "256K", "--log-level", "warn", NULL};
	ht_br_bridge_start(&br_small, &bus.d, "bridge-small", small);
	static const char *const shrt[] = {"--handshake-timeout", "1000", "--log-level", "info",
					   NULL};
	ht_br_bridge_start(&br_short, &bus.d, "bridge-short", shrt);
	sodium = hm_auth_available();
	if (sodium) {
		assert_int_equal(ht_br_keygen(&bus.d, "alice", NULL, key_alice, sizeof key_alice), 0);
		char auth[300];
		snprintf(auth, sizeof auth, "%s/auth.conf", bus.d.run_dir);
		ht_write_file(auth, "[identity alice]\nkey_file = alice.key\npublish = *\nsubscribe = *\n");
		const char *sec[] = {"--auth", auth, "--log-level", "warn", NULL};
		ht_br_bridge_start(&br_sec, &bus.d, "bridge-sec", sec);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (sodium)
		ht_br_bridge_stop(&br_sec);
	ht_br_bridge_stop(&br_short);
	ht_br_bridge_stop(&br_small);
	ht_br_bridge_stop(&br_def);
	free(buf);
	ht_bus_teardown(&bus);
	return 0;
}

/* ---- helpers ------------------------------------------------------------------------------ */

static hermes_net *client(const ht_br_bridge *b, uint32_t max_frame, size_t send_buffer, bool sealed)
{
	hermes_net_options o;
	hermes_net_options_init(&o);
	o.connect_timeout_ns = 5000000000ll;
	o.max_frame = max_frame;
	o.send_buffer = send_buffer;
	if (sealed) {
		o.identity = "alice";
		o.key_file = key_alice;
		o.encrypt = 1;
	}
	hermes_net *n;
	hermes_err err = hermes_net_connect(b->addr, &o, &n);
	if (err)
		fail_msg("connect %s: %s (%s)", b->addr, hermes_strerror(err), hermes_last_error_detail());
	if (sealed)
		assert_true(hermes_net_features(n) & HERMES_FEATURE_ENCRYPT);
	return n;
}

static void fill(uint8_t *p, uint32_t len, uint64_t tag)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(tag * 131 + i * 7);
}

/* Publish len bytes (pattern tag) into ring locally; its sequence. */
static uint64_t put(const char *ring, uint32_t len, uint64_t tag)
{
	hermes_pub *pub;
	assert_int_equal(hermes_pub_open(hbus, ring, &pub), HERMES_OK);
	fill(buf, len, tag);
	uint64_t seq;
	hermes_err err = hermes_pub_send_timed(pub, buf, len, &seq, 10000000000ll);
	if (err)
		fail_msg("publish %u bytes to %s: %s", len, ring, hermes_strerror(err));
	hermes_pub_close(pub);
	return seq;
}

static void next_event(hermes_net *n, hermes_net_event *ev, const char *what)
{
	for (;;) {
		hermes_err err = hermes_net_poll(n, ev, WAIT_NS);
		if (err)
			fail_msg("%s: no event (%s): the subscription stalled", what, hermes_strerror(err));
		if (ev->type != HERMES_NET_PONG)
			return;
	}
}

static void expect_msg(hermes_net *n, uint32_t sub, uint64_t seq, uint32_t len, uint64_t tag,
		       const char *what)
{
	hermes_net_event ev;
	next_event(n, &ev, what);
	if (ev.type != HERMES_NET_MESSAGE || ev.channel != sub || ev.seq != seq || ev.len != len)
		fail_msg("%s: want message %llu of %u bytes, got event %d seq %llu len %u value %llu",
			 what, (unsigned long long)seq, len, ev.type, (unsigned long long)ev.seq, ev.len,
			 (unsigned long long)ev.value);
	fill(buf, len, tag);
	if (memcmp(ev.data, buf, len) != 0)
		fail_msg("%s: message %llu has other bytes", what, (unsigned long long)seq);
}

static void expect_loss(hermes_net *n, uint32_t sub, uint64_t next, uint64_t count,
			const char *what)
{
	hermes_net_event ev;
	next_event(n, &ev, what);
	if (ev.type != HERMES_NET_LOSS || ev.channel != sub || ev.seq != next || ev.value != count)
		fail_msg("%s: want LOSS of %llu before %llu, got event %d seq %llu value %llu", what,
			 (unsigned long long)count, (unsigned long long)next, ev.type,
			 (unsigned long long)ev.seq, (unsigned long long)ev.value);
}

static uint32_t subscribe(hermes_net *n, const char *ring, uint64_t *first)
{
	uint32_t sub;
	hermes_net_ring_info info;
	hermes_err err = hermes_net_subscribe(n, ring, HERMES_START_LATEST, 0, 5000000000ll, &sub, &info);
	if (err)
		fail_msg("subscribe %s: %s (%s)", ring, hermes_strerror(err), hermes_last_error_detail());
	*first = info.first_seq;
	return sub;
}

/* ---- hermes-ctl tail --remote (the reproduction) --------------------------------- */

static void test_tail_remote_prints_a_message_of_a_large_message_ring(void **state)
{
	(void)state;
	hermes_pub *pub;
	assert_int_equal(hermes_pub_open(hbus, "tail", &pub), HERMES_OK);
	assert_int_equal(hermes_pub_send(pub, "hello", 5, NULL), HERMES_OK);
	hermes_pub_close(pub);
	/* It hung before: ht_ctl fails the test (and kills it) at the
	 * deadline. */
	const char *args[] = {"tail", "tail", "--from", "earliest", "--count", "1", "--remote",
			      br_def.addr, NULL};
	char text[256];
	int rc = ht_ctl(&bus.d, args, text, sizeof text);
	if (rc != 0 || strcmp(text, "hello\n") != 0)
		fail_msg("hermes-ctl tail --remote: exit %d, output '%s'", rc, text);
	printf("hermes-ctl tail --remote of a ring with max_message %u prints 'hello'\n", BIG_MAX);
}

/* ---- subscribing at the limits -------------------------------------------------------------- */

typedef struct dcase {
	const char *name;
	ht_br_bridge *br;
	uint32_t max_frame; /* the client's; 0 = 1 MiB */
	bool sealed;
	const char *ring;
	uint32_t limit; /* the largest message the subscriber can be given */
} dcase;

static void deliver_case(const dcase *k)
{
	if (k->sealed && !sodium)
		return;
	hermes_net *n = client(k->br, k->max_frame, 0, k->sealed);
	uint64_t first;
	uint32_t sub = subscribe(n, k->ring, &first);
	/* One at a time: the subscriber keeps up, so only the size decides
	 * (on a drop ring, a full buffer would also make a loss). */
	const uint32_t sizes[] = {k->limit - 1, k->limit, k->limit + 1, 5};
	for (uint64_t i = 0; i < 4; i++) {
		assert_int_equal(put(k->ring, sizes[i], first + i), first + i);
		if (i == 2)
			expect_loss(n, sub, first + 3, 1, k->name);
		else
			expect_msg(n, sub, first + i, sizes[i], first + i, k->name);
	}
	hermes_net_close(n);
	printf("%-44s %7u, %7u delivered; %7u LOSS at once\n", k->name, sizes[0], sizes[1],
	       sizes[2]);
}

static void test_each_message_is_delivered_or_reported_lost_at_the_limits(void **state)
{
	(void)state;
	const dcase cases[] = {
		{"defaults, client 1 MiB, block ring (hold)", &br_def, 0, false, "wide", BIG_MAX},
		{"defaults, client 1 MiB, overwrite ring (drop)", &br_def, 0, false, "wide-ow", BIG_MAX},
		{"defaults, client 64 KiB, block ring", &br_def, 65536, false, "wide", 65536 - 24},
		{"out_buffer 256K, client 1 MiB, block ring", &br_small, 0, false, "wide",
		 (256u << 10) - 24},
		{"out_buffer 256K, client 64 KiB, overwrite ring", &br_small, 65536, false, "wide-ow",
		 65536 - 24},
		{"sealed, client 1 MiB, block ring", &br_sec, 0, true, "wide", BIG_MAX - 16},
		{"sealed, client 64 KiB, overwrite ring", &br_sec, 65536, true, "wide-ow",
		 65536 - 24 - 16},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		deliver_case(&cases[i]);
}

/* The ring (max_message 1048552, 16 MiB) with a HOLD subscriber
 * that reads: a 5-byte message arrives, and 40 messages of the ring's
 * maximum get through without the producer ever waiting for good. */
static void test_a_reading_hold_subscriber_never_holds_producers_forever(void **state)
{
	(void)state;
	hermes_net *n = client(&br_def, 0, 0, false);
	uint64_t first;
	uint32_t sub = subscribe(n, "big", &first);
	put("big", 5, first);
	expect_msg(n, sub, first, 5, first, "5 bytes on 'big'");
	hermes_pub *pub;
	assert_int_equal(hermes_pub_open(hbus, "big", &pub), HERMES_OK);
	uint64_t deadline = ht_now_ns() + 120000000000ull, got = 0;
	const uint64_t count = 40;
	for (uint64_t i = 0; i < count;) {
		fill(buf, BIG_MAX, first + 1 + i);
		hermes_err err = hermes_pub_send(pub, buf, BIG_MAX, NULL);
		if (err == HERMES_OK) {
			i++;
			continue;
		}
		assert_int_equal(err, HERMES_EAGAIN);
		if (ht_now_ns() > deadline)
			fail_msg("publish %llu of %llu: the ring stayed full (received %llu)",
				 (unsigned long long)i, (unsigned long long)count, (unsigned long long)got);
		/* Full: take what the bridge delivers, which frees the ring. */
		hermes_net_event ev;
		if (hermes_net_poll(n, &ev, 100000000ll) == HERMES_OK) {
			if (ev.type != HERMES_NET_MESSAGE || ev.seq != first + 1 + got || ev.len != BIG_MAX)
				fail_msg("event %d seq %llu len %u", ev.type, (unsigned long long)ev.seq, ev.len);
			got++;
		}
	}
	hermes_pub_close(pub);
	while (got < count) {
		expect_msg(n, sub, first + 1 + got, BIG_MAX, first + 1 + got, "'big' backlog");
		got++;
	}
	hermes_net_close(n);
	printf("ring 'big': 5 B and %llu x %u B delivered to a hold subscriber\n",
	       (unsigned long long)count, BIG_MAX);
}

/* ---- publishing at the limits ------------------------------------------------------------- */

static hermes_err publish_acked(hermes_net *n, uint32_t ch, uint32_t len, hermes_net_event *ev)
{
	fill(buf, len, len);
	uint64_t pseq;
	hermes_err err = hermes_net_publish(n, ch, buf, len, HERMES_NET_PUB_ACK, &pseq);
	if (err)
		return err;
	next_event(n, ev, "publish");
	if (ev->seq != pseq || ev->channel != ch)
		fail_msg("answer for publish %llu: event %d seq %llu", (unsigned long long)pseq,
			 ev->type, (unsigned long long)ev->seq);
	return HERMES_OK;
}

static uint32_t bind_to(hermes_net *n, const char *ring)
{
	uint32_t ch;
	assert_int_equal(hermes_net_bind(n, ring, 5000000000ll, &ch, NULL), HERMES_OK);
	return ch;
}

static void expect_ack(hermes_net *n, uint32_t ch, uint32_t len, const char *what)
{
	hermes_net_event ev;
	hermes_err err = publish_acked(n, ch, len, &ev);
	if (err || ev.type != HERMES_NET_ACK)
		fail_msg("%s: publish of %u bytes: %s, event %d code %s", what, len,
			 hermes_strerror(err), err ? 0 : ev.type, err ? "" : hermes_err_name(ev.code));
}

static void publish_limits(const ht_br_bridge *b, bool sealed)
{
	hermes_net *n = client(b, 0, 2u << 20, sealed);
	uint32_t frame_limit = FRAME_1M - 24 - (sealed ? 16 : 0);
	/* The bridge's max_frame (1 MiB). */
	uint32_t big = bind_to(n, "big");
	expect_ack(n, big, frame_limit - 1, "under max_frame");
	expect_ack(n, big, frame_limit, "at max_frame");
	uint32_t wide = bind_to(n, "wide");
	fill(buf, frame_limit + 1, 0);
	assert_int_equal(hermes_net_publish(n, wide, buf, frame_limit + 1, HERMES_NET_PUB_ACK, NULL),
			 HERMES_EMSGSIZE);
	/* The ring's max_message. */
	uint32_t small = bind_to(n, "small");
	expect_ack(n, small, 4095, "under max_message");
	expect_ack(n, small, 4096, "at max_message");
	hermes_net_event ev;
	assert_int_equal(publish_acked(n, small, 4097, &ev), HERMES_OK);
	if (ev.type != HERMES_NET_ERROR || ev.code != HERMES_EMSGSIZE || ev.fatal)
		fail_msg("over max_message: event %d code %s fatal %d", ev.type,
			 hermes_err_name(ev.code), ev.fatal);
	expect_ack(n, small, 5, "after the refused one");
	hermes_net_close(n);
	printf("%s publish: %u and %u acked, %u refused before sending; 4095, 4096 acked, 4097 "
	       "EMSGSIZE (not fatal)\n",
	       sealed ? "sealed" : "plain", frame_limit - 1, frame_limit, frame_limit + 1);
}

static void test_publishes_at_the_limits_are_acked_or_refused(void **state)
{
	(void)state;
	publish_limits(&br_def, false);
	if (sodium)
		publish_limits(&br_sec, true);
	/* A raw frame one byte over the bridge's max_frame: fatal ETOOBIG as
	 * soon as its header is read. */
	uint8_t h[HERMES_HEADER_SIZE] = {0x48, 0x4d, 1, HERMES_MSG_BIND};
	hm_put_le32(h + 8, FRAME_1M - 24 + 1);
	hm_put_le32(h + 12, 1);
	int fd = ht_br_raw_hello(&br_def, "", 0);
	ht_br_raw_send(fd, h, sizeof h, false);
	static uint8_t in[8192];
	size_t got = ht_br_raw_answer(fd, in, sizeof in);
	close(fd);
	assert_true(ht_br_expect_error(in, got, HERMES_ETOOBIG));
	printf("a frame of 1 MiB + 1 byte: fatal HERMES_ETOOBIG, closed\n");
}

/* ---- half-close --------------------------------------------------------------------------- */

static void test_a_half_closed_subscriber_gets_what_it_was_owed(void **state)
{
	(void)state;
	hermes_net *n = client(&br_def, 0, 0, false);
	uint64_t first_h, first_d;
	uint32_t hold = subscribe(n, "owed", &first_h);
	uint32_t drop = subscribe(n, "owed-ow", &first_d);
	/* Far more than the bridge's output buffer and the socket buffers
	 * hold, while the client reads nothing. */
	const uint32_t count = 3000, len = 4000;
	for (uint32_t i = 0; i < count; i++)
		put("owed", len, first_h + i);
	for (uint32_t i = 0; i < 3; i++)
		put("owed-ow", 100, first_d + i);
	assert_int_equal(shutdown(hermes_net_fd(n), SHUT_WR), 0);
	uint64_t got_h = 0, got_d = 0, lost_d = 0;
	for (;;) {
		hermes_net_event ev;
		next_event(n, &ev, "half-closed");
		if (ev.type == HERMES_NET_CLOSED)
			break;
		if (ev.type == HERMES_NET_MESSAGE && ev.channel == hold) {
			fill(buf, len, first_h + got_h);
			if (ev.seq != first_h + got_h || ev.len != len || memcmp(ev.data, buf, len))
				fail_msg("hold: message %llu is seq %llu", (unsigned long long)got_h,
					 (unsigned long long)ev.seq);
			got_h++;
		} else if (ev.type == HERMES_NET_MESSAGE && ev.channel == drop) {
			got_d++;
		} else if (ev.type == HERMES_NET_LOSS && ev.channel == drop) {
			lost_d += ev.value;
		} else {
			fail_msg("half-closed: event %d on %u (code %s)", ev.type, ev.channel,
				 hermes_err_name(ev.code));
		}
	}
	hermes_net_close(n);
	if (got_h != count || got_d + lost_d != 3)
		fail_msg("after the half-close: hold %llu of %u, drop %llu + %llu lost of 3",
			 (unsigned long long)got_h, count, (unsigned long long)got_d,
			 (unsigned long long)lost_d);
	printf("half-close: %u messages (%u KB) owed on a hold subscription all delivered, then "
	       "GOODBYE\n",
	       count, count * len / 1000);
}

/* A half-closed subscriber that does not read what it is owed is cut off
 * with a fatal ERROR(HERMES_ETIMEDOUT) after the handshake timeout (1 s on
 * this bridge), and the ring's producer is free again. */
static void test_a_half_closed_subscriber_that_does_not_read_is_cut_off(void **state)
{
	(void)state;
	hermes_net *n = client(&br_short, 0, 0, false);
	int fd = hermes_net_fd(n);
	/* A small receive window, so socket buffers cannot take the backlog. */
	int small = 4096;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	uint64_t first;
	(void)subscribe(n, "owed", &first);
	for (uint32_t i = 0; i < 3000; i++)
		put("owed", 4000, i);
	uint64_t t0 = ht_now_ns();
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	/* It reads nothing from now on. */
	while (!ht_file_has(br_short.log, "did not take what it was owed within 1000 ms")) {
		if (ht_now_ns() - t0 > 20000000000ull) {
			ht_file_dump(br_short.log);
			fail_msg("the bridge did not cut off a half-closed peer that does not read");
		}
		struct pollfd p = {.fd = -1};
		poll(&p, 0, 20);
	}
	double cut = (double)(ht_now_ns() - t0) / 1e9;
	assert_true(cut >= 0.9);
	/* The ring is not held back: its backlog can be overwritten (3000 x
	 * 4000 B more than its 16 MiB need that room). */
	for (uint32_t i = 0; i < 3000; i++)
		put("owed", 4000, i);
	hermes_net_close(n);
	printf("half-closed non-reader: cut off after %.1f s (handshake timeout 1 s), ring free\n",
	       cut);
}

/* ---- key files and $HERMES_NET_ENCRYPT, as PROTOCOL.md section 6 says ----------------------- */

static void write_key(const char *path, const char *text, mode_t mode)
{
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	fchmod(fd, mode);
	close(fd);
}

static hermes_err connect_with_key(const char *path)
{
	hermes_net_options o;
	hermes_net_options_init(&o);
	o.connect_timeout_ns = 5000000000ll;
	o.identity = "alice";
	o.key_file = path;
	o.encrypt = 1;
	hermes_net *n;
	hermes_err err = hermes_net_connect(br_sec.addr, &o, &n);
	if (!err)
		hermes_net_close(n);
	return err;
}

static void test_key_files_and_encrypt_variable_work_as_documented(void **state)
{
	(void)state;
	/* $HERMES_NET_ENCRYPT: unset or empty leaves the default (no
	 * request); 0 asks for no encryption; anything else asks for it. */
	hermes_net_options o;
	unsetenv("HERMES_NET_ENCRYPT");
	hermes_net_options_init(&o);
	assert_int_equal(o.encrypt, 0);
	setenv("HERMES_NET_ENCRYPT", "", 1);
	hermes_net_options_init(&o);
	assert_int_equal(o.encrypt, 0);
	setenv("HERMES_NET_ENCRYPT", "0", 1);
	hermes_net_options_init(&o);
	assert_true(o.encrypt <= 0);
	static const char *const on[] = {"1", "yes", "true", "2"};
	for (unsigned i = 0; i < 4; i++) {
		setenv("HERMES_NET_ENCRYPT", on[i], 1);
		hermes_net_options_init(&o);
		assert_true(o.encrypt > 0);
	}
	unsetenv("HERMES_NET_ENCRYPT");
	if (!sodium) {
		printf("built without libsodium: key files not tried\n");
		return;
	}
	/* The key keygen wrote, rewritten by hand in the documented format:
	 * comments, an empty line, upper-case hex, trailing blanks and CR. */
	char text[4096] = "", hex[65] = "";
	FILE *f = fopen(key_alice, "re");
	assert_non_null(f);
	char line[512];
	while (fgets(line, sizeof line, f))
		if (line[0] != '#' && line[0] != '\n' && strlen(line) >= 64)
			memcpy(hex, line, 64);
	fclose(f);
	assert_int_equal(strlen(hex), 64);
	for (int i = 0; i < 64; i++)
		if (hex[i] >= 'a' && hex[i] <= 'f')
			hex[i] = (char)(hex[i] - 'a' + 'A');
	char path[320];
	snprintf(path, sizeof path, "%s/hand.key", bus.d.run_dir);
	snprintf(text, sizeof text, "# alice, by hand\n\n%s \t\r\n# the rest is ignored\n", hex);
	write_key(path, text, 0600);
	assert_int_equal(connect_with_key(path), HERMES_OK);
	write_key(path, text, 0400);
	assert_int_equal(connect_with_key(path), HERMES_OK);
	/* Readable by the group: refused before anything is sent. */
	write_key(path, text, 0640);
	assert_int_equal(connect_with_key(path), HERMES_EACCES);
	/* Not 64 hex digits. */
	snprintf(text, sizeof text, "%.63s\n", hex);
	write_key(path, text, 0600);
	assert_int_equal(connect_with_key(path), HERMES_EINVAL);
	snprintf(text, sizeof text, "%.63sg\n", hex);
	write_key(path, text, 0600);
	assert_int_equal(connect_with_key(path), HERMES_EINVAL);
	printf("key file: comments, blank line, upper case, trailing blanks: accepted; mode 0640: "
	       "HERMES_EACCES; 63 digits or a non-hex digit: HERMES_EINVAL\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tail_remote_prints_a_message_of_a_large_message_ring),
		cmocka_unit_test(test_each_message_is_delivered_or_reported_lost_at_the_limits),
		cmocka_unit_test(test_a_reading_hold_subscriber_never_holds_producers_forever),
		cmocka_unit_test(test_publishes_at_the_limits_are_acked_or_refused),
		cmocka_unit_test(test_a_half_closed_subscriber_gets_what_it_was_owed),
		cmocka_unit_test(test_a_half_closed_subscriber_that_does_not_read_is_cut_off),
		cmocka_unit_test(test_key_files_and_encrypt_variable_work_as_documented),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
