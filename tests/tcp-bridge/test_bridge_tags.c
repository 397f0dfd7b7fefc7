/* User tags through hermes-bridge (issue 18 point 5, PROTOCOL.md 8.1): a
 * tagged message crosses the bridge both ways with its tag (hermes_net and
 * a raw client that offers TAGS); a client that did not offer TAGS (as every
 * client before it) gets tagged messages as plain DELIVERs without the tag,
 * byte for byte as before, and its own publishes work as before; TAGGED
 * without the feature, a tag of 0 and a tagged payload too short for its tag
 * are fatal, with their codes, and commit nothing. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/endian.h"
#include "tests/tcp-bridge/bridge_support.h"

static ht_bus bus;
static hermes_bus *hbus;
static ht_br_bridge br;

static int setup(void **state)
{
	(void)state;
	unsetenv("HERMES_NET_IDENTITY");
	unsetenv("HERMES_NET_KEY_FILE");
	unsetenv("HERMES_NET_ENCRYPT");
	unsetenv("HERMES_NET_TIMEOUT_MS");
	static const char *const extra[] = {"--log-level", "warn", NULL};
	static const hermes_ring_config rings[] = {
		{"both"}, {"old"}, {"ow", .policy = HERMES_POLICY_OVERWRITE}, {"bad"}, {"linked"}, {"ctl"},
		{0}};
	ht_br_fixture(&bus, "brtags", rings, &br, extra);
	hbus = bus.bus;
	return 0;
}

/* ---- raw frames -------------------------------------------------------------------------- */

static void raw_bind(int fd, uint32_t ch, const char *ring)
{
	ht_br_send_bind(fd, ch, ring);
	ht_br_frame f;
	ht_br_expect_frame(fd, HERMES_MSG_BOUND, ch, &f);
}

static void raw_subscribe(int fd, uint32_t id, const char *ring)
{
	ht_br_send_subscribe(fd, id, HERMES_WIRE_START_LATEST, 0, ring);
	ht_br_frame f;
	ht_br_expect_frame(fd, HERMES_MSG_SUBSCRIBED, id, &f);
}

/* The fatal ERROR that must come next, then the close. */
static void expect_fatal(int fd, hermes_err code, const char *text)
{
	ht_br_frame f;
	ht_br_expect_frame(fd, HERMES_MSG_ERROR, 0, &f);
	hermes_wire_msg m;
	assert_int_equal(hermes_wire_msg_parse(f.type, f.payload, f.len, &m), HERMES_OK);
	if (m.error.code != (uint32_t)code || !m.error.fatal ||
	    !memmem(m.error.text, m.error.text_len, text, strlen(text)))
		fail_msg("want fatal %s '%s', got %s%s '%.*s'", hermes_err_name(code), text,
			 hermes_err_name((hermes_err)m.error.code), m.error.fatal ? " fatal" : "",
			 (int)m.error.text_len, m.error.text);
	bool eof = false;
	uint8_t rest[256];
	ht_br_raw_drain(fd, rest, sizeof rest, 5000, &eof);
	assert_true(eof);
}

static void net_next(hermes_net *n, hermes_net_event *ev)
{
	uint64_t deadline = ht_now_ns() + 10000000000ull;
	for (;;) {
		hermes_err err = hermes_net_poll(n, ev, 1000000000);
		if (err == HERMES_OK && ev->type == HERMES_NET_MESSAGE)
			return;
		if (err != HERMES_OK && err != HERMES_ETIMEDOUT)
			fail_msg("hermes_net_poll: %s", hermes_strerror(err));
		if (ht_now_ns() > deadline)
			fail_msg("no message through the bridge within 10 s");
	}
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_tagged_messages_cross_the_bridge_both_ways(void **state)
{
	(void)state;
	hermes_net *n = ht_br_connect(&br);
	assert_true(hermes_net_features(n) & HERMES_FEATURE_TAGS);
	uint32_t ch, sub;
	assert_int_equal(hermes_net_bind(n, "both", 5000000000ll, &ch, NULL), HERMES_OK);
	assert_int_equal(
		hermes_net_subscribe(n, "both", HERMES_START_LATEST, 0, 5000000000ll, &sub, NULL),
		HERMES_OK);
	hermes_sub *ls;
	assert_int_equal(hermes_sub_open(hbus, "both", HERMES_START_LATEST, 0, &ls), HERMES_OK);
	hermes_pub *lp;
	assert_int_equal(hermes_pub_open(hbus, "both", &lp), HERMES_OK);

	/* Remote to local: the tag arrives in hermes_msg.tag; untagged is 0;
	 * the largest tag survives. */
	assert_int_equal(hermes_net_publish_tagged(n, ch, "remote", 6, 0x2a, HERMES_NET_PUB_FLUSH,
						   NULL),
			 HERMES_OK);
	assert_int_equal(hermes_net_publish(n, ch, "plain", 5, HERMES_NET_PUB_FLUSH, NULL),
			 HERMES_OK);
	assert_int_equal(hermes_net_publish_tagged(n, ch, "", 0, UINT32_MAX, HERMES_NET_PUB_FLUSH,
						   NULL),
			 HERMES_OK);
	hermes_msg m = ht_sub_next(ls, 10000, "in the local ring");
	assert_int_equal(m.len, 6);
	assert_memory_equal(m.data, "remote", 6);
	assert_int_equal(m.tag, 0x2a);
	m = ht_sub_next(ls, 10000, "in the local ring");
	assert_int_equal(m.len, 5);
	assert_int_equal(m.tag, 0);
	m = ht_sub_next(ls, 10000, "in the local ring");
	assert_int_equal(m.len, 0);
	assert_int_equal(m.tag, UINT32_MAX);
	assert_int_equal(hermes_sub_release(ls), HERMES_OK);

	/* Local to remote: the subscription sees the three above, then this. */
	assert_int_equal(hermes_pub_send_tagged(lp, "local", 5, 7, NULL, 0), HERMES_OK);
	hermes_net_event ev;
	static const struct {
		const char *data;
		uint32_t tag;
	} want[] = {{"remote", 0x2a}, {"plain", 0}, {"", UINT32_MAX}, {"local", 7}};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		net_next(n, &ev);
		assert_int_equal(ev.channel, sub);
		assert_int_equal(ev.len, strlen(want[i].data));
		assert_memory_equal(ev.data, want[i].data, ev.len);
		assert_int_equal(ev.value, want[i].tag);
	}
	hermes_pub_close(lp);
	hermes_sub_close(ls);
	hermes_net_close(n);
}

/* Overwrite rings are read with hermes_sub_recv by the bridge: tags too. */
static void test_tags_survive_an_overwrite_ring(void **state)
{
	(void)state;
	hermes_net *n = ht_br_connect(&br);
	uint32_t sub;
	assert_int_equal(
		hermes_net_subscribe(n, "ow", HERMES_START_LATEST, 0, 5000000000ll, &sub, NULL),
		HERMES_OK);
	hermes_pub *lp;
	assert_int_equal(hermes_pub_open(hbus, "ow", &lp), HERMES_OK);
	assert_int_equal(hermes_pub_send_tagged(lp, "ow1", 3, 0xdeadbeef, NULL, 0), HERMES_OK);
	assert_int_equal(hermes_pub_send(lp, "ow2", 3, NULL), HERMES_OK);
	hermes_net_event ev;
	net_next(n, &ev);
	assert_memory_equal(ev.data, "ow1", 3);
	assert_int_equal(ev.value, 0xdeadbeef);
	net_next(n, &ev);
	assert_memory_equal(ev.data, "ow2", 3);
	assert_int_equal(ev.value, 0);
	hermes_pub_close(lp);
	hermes_net_close(n);
}

/* A client as they were before TAGS: HELLO without the bit. It gets the
 * tagged message as the plain DELIVER it always got, and publishes as
 * before; a client that offers TAGS on the same ring gets the tag. */
static void test_a_client_without_tags_gets_plain_delivers(void **state)
{
	(void)state;
	uint32_t granted;
	int old = ht_br_raw_session(&br, 0, &granted);
	assert_int_equal(granted & HERMES_FEATURE_TAGS, 0);
	int neu = ht_br_raw_session(&br, HERMES_FEATURE_TAGS, &granted);
	assert_true(granted & HERMES_FEATURE_TAGS);
	raw_subscribe(old, 2, "old");
	raw_subscribe(neu, 2, "old");
	raw_bind(old, 1, "old");

	hermes_pub *lp;
	assert_int_equal(hermes_pub_open(hbus, "old", &lp), HERMES_OK);
	uint64_t seq;
	assert_int_equal(hermes_pub_send_tagged(lp, "hello", 5, 42, &seq, 0), HERMES_OK);

	/* Byte for byte the DELIVER of PROTOCOL.md 14, at this sequence. */
	ht_br_frame f;
	uint8_t head[HERMES_HEADER_SIZE];
	assert_true(ht_br_next_frame(old, &f, head));
	uint8_t want[HERMES_HEADER_SIZE] = {0x48, 0x4d, 0x01, 0x23, 0, 0, 0, 0, 5, 0, 0, 0, 2};
	hm_put_le64(want + 16, seq);
	assert_memory_equal(head, want, sizeof want);
	assert_int_equal(f.len, 5);
	assert_memory_equal(f.payload, "hello", 5);

	/* PROTOCOL.md 8.1's tagged DELIVER, at this sequence. */
	assert_true(ht_br_next_frame(neu, &f, head));
	want[4] = HERMES_FLAG_TAGGED;
	want[8] = 9;
	assert_memory_equal(head, want, sizeof want);
	assert_memory_equal(f.payload, "\x2a\0\0\0hello", 9);

	/* The old client's own publish: committed untagged, seen by both. */
	ht_br_send_frame(old, HERMES_MSG_PUBLISH, HERMES_FLAG_ACK_REQUESTED, 1, 1, "again", 5);
	for (;;) {
		assert_true(ht_br_next_frame(old, &f, NULL));
		if (f.type == HERMES_MSG_DELIVER) {
			assert_int_equal(f.flags, 0);
			assert_memory_equal(f.payload, "again", 5);
			break;
		}
		assert_int_equal(f.type, HERMES_MSG_PUBLISH_ACK);
	}
	assert_true(ht_br_next_frame(neu, &f, NULL));
	assert_int_equal(f.type, HERMES_MSG_DELIVER);
	assert_int_equal(f.flags, 0);
	assert_int_equal(f.len, 5);
	hermes_pub_close(lp);
	close(old);
	close(neu);
}

/* Each bad tag frame is fatal with its code and commits nothing. */
static void test_bad_tag_frames_are_refused(void **state)
{
	(void)state;
	hermes_sub *ls;
	assert_int_equal(hermes_sub_open(hbus, "bad", HERMES_START_LATEST, 0, &ls), HERMES_OK);
	uint32_t granted;
	static const uint8_t tagged[] = {0x2a, 0, 0, 0, 'h', 'e', 'l', 'l', 'o'};
	static const uint8_t tag0[] = {0, 0, 0, 0, 'h', 'e', 'l', 'l', 'o'};

	/* TAGGED where TAGS was not negotiated. */
	int fd = ht_br_raw_session(&br, 0, &granted);
	raw_bind(fd, 1, "bad");
	ht_br_send_frame(fd, HERMES_MSG_PUBLISH, HERMES_FLAG_TAGGED, 1, 3, tagged, sizeof tagged);
	expect_fatal(fd, HERMES_EBADFLAGS, "a tagged PUBLISH (channel 1, sequence 3) without the "
					   "TAGS feature");
	close(fd);

	/* The same on a channel never bound: the flag is refused first. */
	fd = ht_br_raw_session(&br, 0, &granted);
	ht_br_send_frame(fd, HERMES_MSG_PUBLISH, HERMES_FLAG_TAGGED, 5, 1, tagged, sizeof tagged);
	expect_fatal(fd, HERMES_EBADFLAGS, "without the TAGS feature");
	close(fd);

	/* Tag 0: PROTOCOL.md 8.1's refused example. */
	fd = ht_br_raw_session(&br, HERMES_FEATURE_TAGS, &granted);
	raw_bind(fd, 1, "bad");
	ht_br_send_frame(fd, HERMES_MSG_PUBLISH, HERMES_FLAG_TAGGED, 1, 3, tag0, sizeof tag0);
	expect_fatal(fd, HERMES_EBADPAYLOAD, "a tagged PUBLISH (channel 1, sequence 3) with tag 0");
	close(fd);

	/* Shorter than its tag: refused by the length check. */
	fd = ht_br_raw_session(&br, HERMES_FEATURE_TAGS, &granted);
	raw_bind(fd, 1, "bad");
	ht_br_send_frame(fd, HERMES_MSG_PUBLISH, HERMES_FLAG_TAGGED, 1, 3, tagged, 3);
	expect_fatal(fd, HERMES_EBADPAYLOAD, "");
	close(fd);

	/* TAGGED on a frame type that has no tag. */
	fd = ht_br_raw_session(&br, HERMES_FEATURE_TAGS, &granted);
	ht_br_send_frame(fd, HERMES_MSG_PING, HERMES_FLAG_TAGGED, 0, 1, NULL, 0);
	expect_fatal(fd, HERMES_EBADFLAGS, "");
	close(fd);

	/* Nothing of them reached the ring: the next message is this one. */
	hermes_net *n = ht_br_connect(&br);
	uint32_t ch;
	assert_int_equal(hermes_net_bind(n, "bad", 5000000000ll, &ch, NULL), HERMES_OK);
	assert_int_equal(hermes_net_publish_tagged(n, ch, "fine", 4, 9, HERMES_NET_PUB_FLUSH, NULL),
			 HERMES_OK);
	hermes_msg m = ht_sub_next(ls, 10000, "in the local ring");
	assert_int_equal(m.len, 4);
	assert_memory_equal(m.data, "fine", 4);
	assert_int_equal(m.tag, 9);
	hermes_net_close(n);
	hermes_sub_close(ls);
}

/* Publish tagged messages on from's ring until one shows up on to (the
 * first may go before the link is up); it must carry its tag. */
static void await_tagged(hermes_pub *from, hermes_sub *to, uint32_t tag)
{
	uint64_t deadline = ht_now_ns() + 30000000000ull;
	for (;;) {
		assert_int_equal(hermes_pub_send_tagged(from, "linked", 6, tag, NULL, 1000000000ll),
				 HERMES_OK);
		uint64_t until = ht_now_ns() + 200000000ull;
		while (ht_now_ns() < until) {
			hermes_msg m;
			hermes_err err = hermes_sub_poll(to, &m);
			if (err == HERMES_OK) {
				assert_int_equal(m.len, 6);
				assert_int_equal(m.tag, tag);
				assert_int_equal(hermes_sub_release(to), HERMES_OK);
				return;
			}
			assert_int_equal(err, HERMES_EAGAIN);
			(void)hermes_sub_wait(to, HERMES_WAIT_BLOCK, 20000000);
		}
		if (ht_now_ns() > deadline)
			fail_msg("no tagged message crossed the link within 30 s");
	}
}

/* Bridges linking two buses offer TAGS: a tagged message keeps its tag
 * across the link, both ways (the tag before the origin prefix). */
static void test_a_link_carries_tags_both_ways(void **state)
{
	(void)state;
	ht_bus far;
	static const hermes_ring_config far_rings[] = {{"linked"}, {0}};
	ht_br_bus_start(&far, "brtagsfar", far_rings);
	hermes_bus *fbus = far.bus;
	char link[128];
	snprintf(link, sizeof link, "%s/linked", br.addr);
	const char *extra[] = {"--log-level", "warn", "--link", link, NULL};
	ht_br_bridge fbr;
	ht_br_bridge_start(&fbr, &far.d, "farbridge", extra);

	hermes_pub *np, *fp;
	hermes_sub *ns, *fs;
	assert_int_equal(hermes_pub_open(hbus, "linked", &np), HERMES_OK);
	assert_int_equal(hermes_pub_open(fbus, "linked", &fp), HERMES_OK);
	assert_int_equal(hermes_sub_open(hbus, "linked", HERMES_START_LATEST, 0, &ns), HERMES_OK);
	assert_int_equal(hermes_sub_open(fbus, "linked", HERMES_START_LATEST, 0, &fs), HERMES_OK);
	await_tagged(np, fs, 0xa1a1a1a1);
	/* Our own subscriber saw what we published: skip it. */
	hermes_msg m;
	while (hermes_sub_poll(ns, &m) == HERMES_OK)
		;
	(void)hermes_sub_release(ns);
	await_tagged(fp, ns, 0xb2);
	hermes_sub_close(ns);
	hermes_sub_close(fs);
	hermes_pub_close(np);
	hermes_pub_close(fp);
	ht_br_bridge_stop(&fbr);
	ht_bus_teardown(&far);
}

/* A server from before TAGS, in a child process: it answers HELLO with a
 * WELCOME without the bit, reads one PUBLISH that must be untagged, then
 * (wrongly) sends a tagged DELIVER, then reads until the client closes (10 s
 * at most). Its exit status: 0, or the step that failed. */
static int old_server(void *arg)
{
	int fd = accept(*(const int *)arg, NULL, NULL);
	if (fd < 0)
		return 1;
	uint8_t in[512];
	if (!ht_br_read_exact(fd, in, HERMES_HEADER_SIZE) || in[3] != HERMES_MSG_HELLO ||
	    !ht_br_read_exact(fd, in + HERMES_HEADER_SIZE, hm_get_le32(in + 8)))
		return 2;
	uint8_t buf[256];
	hermes_encoder e;
	hermes_encoder_init(&e, buf, sizeof buf);
	hermes_wire_msg m = {.type = HERMES_MSG_WELCOME};
	m.welcome = (hermes_wire_welcome){.version = 1, .features = 0,
					  .max_frame = HERMES_DEFAULT_MAX_FRAME, .name = "old",
					  .name_len = 3};
	hermes_frame_header h = {.type = HERMES_MSG_DELIVER, .flags = HERMES_FLAG_TAGGED,
				 .channel = 1, .sequence = 5};
	if (hermes_wire_msg_encode(&e, 0, 0, &m, NULL))
		return 3;
	hermes_wire_bytes out = hermes_encoder_data(&e);
	if (send(fd, out.data, out.len, MSG_NOSIGNAL) != (ssize_t)out.len)
		return 4;
	if (!ht_br_read_exact(fd, in, HERMES_HEADER_SIZE) || in[3] != HERMES_MSG_PUBLISH || in[4] != 0 ||
	    !ht_br_read_exact(fd, in + HERMES_HEADER_SIZE, hm_get_le32(in + 8)))
		return 5;
	hermes_encoder_reset(&e);
	if (hermes_encode_frame(&e, &h, "\x07\0\0\0x", 5, NULL))
		return 6;
	out = hermes_encoder_data(&e);
	if (send(fd, out.data, out.len, MSG_NOSIGNAL) != (ssize_t)out.len)
		return 7;
	struct pollfd pf = {.fd = fd, .events = POLLIN};
	while (poll(&pf, 1, 10000) > 0 && recv(fd, in, sizeof in, 0) > 0)
		;
	return 0;
}

/* hermes_net against a bridge that did not grant TAGS: a tagged publish is
 * HERMES_ENOTSUP (an untagged one goes), and a tagged DELIVER from it is a
 * broken protocol (HERMES_EBADFLAGS). */
static void test_the_client_against_a_bridge_without_tags(void **state)
{
	(void)state;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	socklen_t sl = sizeof sa;
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	pid_t pid = ht_fork(old_server, &lfd);
	close(lfd);
	char addr[64];
	snprintf(addr, sizeof addr, "127.0.0.1:%u", ntohs(sa.sin_port));
	hermes_net_options o;
	hermes_net_options_init(&o);
	o.connect_timeout_ns = 5000000000ll;
	hermes_net *n;
	assert_int_equal(hermes_net_connect(addr, &o, &n), HERMES_OK);
	assert_int_equal(hermes_net_features(n) & HERMES_FEATURE_TAGS, 0);
	assert_int_equal(hermes_net_publish_tagged(n, 1, "x", 1, 9, 0, NULL), HERMES_ENOTSUP);
	assert_non_null(strstr(hermes_last_error_detail(), "TAGS"));
	assert_int_equal(hermes_net_publish_tagged(n, 1, "x", 1, 0, HERMES_NET_PUB_FLUSH, NULL),
			 HERMES_OK);
	hermes_net_event ev;
	uint64_t deadline = ht_now_ns() + 10000000000ull;
	do {
		if (ht_now_ns() > deadline)
			fail_msg("no CLOSED event within 10 s");
	} while (hermes_net_poll(n, &ev, 1000000000) != HERMES_OK);
	assert_int_equal(ev.type, HERMES_NET_CLOSED);
	assert_int_equal(ev.code, HERMES_EBADFLAGS);
	hermes_net_close(n);
	int status = ht_wait_child(pid, 15000);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* hermes-ctl with args; it must exit 0. */
static void run_ctl(const char *const *args, char *out, size_t cap)
{
	int rc = ht_ctl(&bus.d, args, out, cap);
	if (rc != 0)
		fail_msg("%s %s: exit %d, output '%s'", args[0], args[1], rc, out);
}

/* hermes-ctl pub --tag and tail --remote through the bridge. */
static void test_hermes_ctl_pub_and_tail_remote_carry_tags(void **state)
{
	(void)state;
	char out[512];
	const char *pub[] = {"pub", "ctl", "--tag", "0x2a", "--remote", br.addr, "remote",
			     NULL};
	run_ctl(pub, out, sizeof out);
	hermes_pub *lp;
	assert_int_equal(hermes_pub_open(hbus, "ctl", &lp), HERMES_OK);
	assert_int_equal(hermes_pub_send_tagged(lp, "local", 5, 7, NULL, 0), HERMES_OK);
	assert_int_equal(hermes_pub_send(lp, "plain", 5, NULL), HERMES_OK);
	hermes_pub_close(lp);
	const char *tail[] = {"tail", "ctl", "--from", "earliest", "--count", "3", "--remote",
			      br.addr, NULL};
	run_ctl(tail, out, sizeof out);
	assert_string_equal(out, "tag=0x2a remote\ntag=0x7 local\nplain\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tagged_messages_cross_the_bridge_both_ways),
		cmocka_unit_test(test_tags_survive_an_overwrite_ring),
		cmocka_unit_test(test_a_client_without_tags_gets_plain_delivers),
		cmocka_unit_test(test_bad_tag_frames_are_refused),
		cmocka_unit_test(test_a_link_carries_tags_both_ways),
		cmocka_unit_test(test_the_client_against_a_bridge_without_tags),
		cmocka_unit_test(test_hermes_ctl_pub_and_tail_remote_carry_tags),
	};
	return cmocka_run_group_tests(tests, setup, ht_br_fixture_teardown);
}
