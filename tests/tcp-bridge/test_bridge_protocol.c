/* The cases PROTOCOL.md decides beyond the happy path, frame by frame on a
 * raw socket: ERROR text that is not UTF-8 is fatal; a link PUBLISH with
 * origin 0 is refused and not committed; the per-connection limits say so,
 * apart from "no free slot on the ring"; channel and subscription ids share
 * one space and are free again after UNBIND/UNSUBSCRIBE; an ENCRYPTED frame
 * in a clear session is a fatal HERMES_EBADFLAGS; a SUBSCRIBE from a
 * sequence no ring reaches (2^62 and above) is refused; fatal errors carry
 * channel 0 and sequence 0; ring sequences start at 0. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/endian.h"
#include "tcp-bridge/client/client.h"
#include "tests/tcp-bridge/bridge_support.h"

static ht_bus bus;
static hermes_bus *hbus;
static ht_br_bridge br;

static int setup(void **state)
{
	(void)state;
	/* Room for 64 HOLD subscriptions of one identity (the default allows
	 * 16), so the ring's own slots can run out. */
	static const char *const extra[] = {"--log-level", "warn", "--max-holds-per-identity", "256",
					    NULL};
	static const hermes_ring_config rings[] = {
		{"plain"}, {"fresh"}, {"slots"}, {"ow", .policy = HERMES_POLICY_OVERWRITE}, {0}};
	ht_br_fixture(&bus, "brproto", rings, &br, extra);
	hbus = bus.bus;
	return 0;
}

/* ---- raw frames ---------------------------------------------------------------------------- */

/* f is an ERROR with this code, fatal mark, channel and sequence; its text. */
static const char *expect_error_frame(ht_br_frame *f, hermes_err code, bool fatal, uint32_t channel,
				      uint64_t seq)
{
	if (f->type != HERMES_MSG_ERROR || f->channel != channel)
		fail_msg("want ERROR on %u, got frame 0x%02x on %u", channel, f->type, f->channel);
	uint16_t tl = hm_get_le16(f->payload + 4);
	if (hm_get_le32(f->payload) != (uint32_t)code || f->payload[6] != fatal || f->seq != seq)
		fail_msg("want ERROR %s%s seq %llu, got %s%s seq %llu: %.*s", hermes_err_name(code),
			 fatal ? " (fatal)" : "", (unsigned long long)seq,
			 hermes_err_name((hermes_err)hm_get_le32(f->payload)),
			 f->payload[6] ? " (fatal)" : "", (unsigned long long)f->seq, (int)tl,
			 (const char *)f->payload + 8);
	f->payload[8 + tl] = '\0';
	return (const char *)f->payload + 8;
}

/* The next frame is such an ERROR. */
static const char *expect_error(int fd, hermes_err code, bool fatal, uint32_t channel,
				uint64_t seq, ht_br_frame *f)
{
	ht_br_expect_frame(fd, HERMES_MSG_ERROR, channel, f);
	return expect_error_frame(f, code, fatal, channel, seq);
}

static void expect_closed(int fd)
{
	ht_br_frame f;
	if (ht_br_next_frame(fd, &f, NULL))
		fail_msg("want the close, got frame 0x%02x", f.type);
	close(fd);
}

/* A fatal error ends the connection: the next frame is an ERROR with this
 * code, marked fatal, on channel 0 and sequence 0, then the close. Reports
 * what was refused, with the error's text. */
static void expect_fatal(int fd, hermes_err code, const char *what)
{
	ht_br_frame f;
	const char *text = expect_error(fd, code, true, 0, 0, &f);
	expect_closed(fd);
	printf("%s -> fatal %s on channel 0, closed (\"%s\")\n", what, hermes_err_name(code), text);
}

static void ping_pong(int fd, uint64_t token)
{
	ht_br_frame f;
	ht_br_send_frame(fd, HERMES_MSG_PING, 0, 0, token, NULL, 0);
	ht_br_expect_frame(fd, HERMES_MSG_PONG, 0, &f);
	assert_int_equal(f.seq, token);
}

static void error_frame(uint8_t *p, hermes_err code, const char *text, size_t len)
{
	hm_put_le32(p, (uint32_t)code);
	hm_put_le16(p + 4, (uint16_t)len);
	p[6] = 0;
	p[7] = 0;
	memcpy(p + 8, text, len);
}

/* ---- the tests ----------------------------------------------------------------------------- */

static void test_error_text_that_is_not_utf8_is_fatal(void **state)
{
	(void)state;
	uint8_t p[64];
	/* Valid UTF-8 (2, 3 and 4 byte characters): logged, not fatal. */
	int fd = ht_br_raw_session(&br, 0, NULL);
	static const char ok[] = "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9d\x84\x9e";
	error_frame(p, HERMES_EINVAL, ok, sizeof ok - 1);
	ht_br_send_frame(fd, HERMES_MSG_ERROR, 0, 0, 0, p, 8 + sizeof ok - 1);
	ping_pong(fd, 1);
	close(fd);
	static const struct {
		const char *name, *text;
		size_t len;
	} bad[] = {
		{"ff fe", "\xff\xfe", 2},
		{"overlong NUL (c0 80)", "\xc0\x80", 2},
		{"overlong '/' (e0 80 af)", "\xe0\x80\xaf", 3},
		{"surrogate U+D800 (ed a0 80)", "\xed\xa0\x80", 3},
		{"above U+10FFFF (f4 90 80 80)", "\xf4\x90\x80\x80", 4},
		{"truncated (e2 82)", "ok \xe2\x82", 5},
		{"stray continuation (80)", "\x80", 1},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		fd = ht_br_raw_session(&br, 0, NULL);
		error_frame(p, HERMES_EINVAL, bad[i].text, bad[i].len);
		ht_br_send_frame(fd, HERMES_MSG_ERROR, 0, 0, 0, p, (uint32_t)(8 + bad[i].len));
		char what[64];
		snprintf(what, sizeof what, "ERROR text %-30s", bad[i].name);
		expect_fatal(fd, HERMES_EBADPAYLOAD, what);
	}
}

static void test_a_link_publish_with_origin_zero_is_refused(void **state)
{
	(void)state;
	hermes_sub *watch;
	assert_int_equal(hermes_sub_open(hbus, "plain", HERMES_START_LATEST, 0, &watch), HERMES_OK);
	uint8_t p[HM_LINK_PREFIX + 5];
	ht_br_frame f;
	/* Origin 7: committed and acked. */
	int fd = ht_br_raw_session(&br, HM_FEATURE_LINK, NULL);
	ht_br_send_bind(fd, 1, "plain");
	ht_br_expect_frame(fd, HERMES_MSG_BOUND, 1, &f);
	hm_put_le64(p, 7);
	hm_put_le64(p + 8, 1);
	memcpy(p + HM_LINK_PREFIX, "hello", 5);
	ht_br_send_frame(fd, HERMES_MSG_PUBLISH, HERMES_FLAG_ACK_REQUESTED, 1, 4, p, sizeof p);
	ht_br_expect_frame(fd, HERMES_MSG_PUBLISH_ACK, 1, &f);
	hermes_msg m;
	assert_int_equal(hermes_sub_poll(watch, &m), HERMES_OK);
	assert_int_equal(m.len, 5);
	/* Origin 0: fatal, on channel 0 and sequence 0, and not committed. */
	hm_put_le64(p, 0);
	hm_put_le64(p + 8, 2);
	ht_br_send_frame(fd, HERMES_MSG_PUBLISH, HERMES_FLAG_ACK_REQUESTED, 1, 5, p, sizeof p);
	expect_fatal(fd, HERMES_EBADPAYLOAD, "link PUBLISH with origin 0");
	assert_int_equal(hermes_sub_poll(watch, &m), HERMES_EAGAIN);
	hermes_sub_close(watch);
	printf("link PUBLISH with origin 0: nothing committed\n");
}

static void test_connection_limits_are_told_apart_from_ring_slots(void **state)
{
	(void)state;
	ht_br_frame f;
	/* HOLD subscriptions each take a subscriber slot of 'slots' (a feed
	 * of their own), until the ring has none left for the bridge. */
	int a = ht_br_raw_session(&br, 0, NULL);
	uint32_t id = 1;
	const char *ring_text = NULL;
	for (; id <= 64 && !ring_text; id++) {
		ht_br_send_subscribe(a, id, HERMES_WIRE_START_LATEST, 0, "slots");
		assert_true(ht_br_next_frame(a, &f, NULL));
		if (f.type == HERMES_MSG_ERROR)
			ring_text = expect_error_frame(&f, HERMES_ETOOMANY, false, id, 0);
		else
			assert_int_equal(f.type, HERMES_MSG_SUBSCRIBED);
	}
	assert_non_null(ring_text);
	assert_non_null(strstr(ring_text, "on ring 'slots'"));
	assert_null(strstr(ring_text, "per connection"));
	printf("a ring with no subscriber slot left  -> HERMES_ETOOMANY \"%s\"\n", ring_text);
	/* Up to 64 subscriptions on the connection with DROP ones (one shared
	 * feed on the overwrite ring 'ow', no more slots), then the 65th. */
	unsigned have = id - 2;
	for (; have < 64; have++, id++) {
		ht_br_send_subscribe(a, id, HERMES_WIRE_START_LATEST, 0, "ow");
		ht_br_expect_frame(a, HERMES_MSG_SUBSCRIBED, id, &f);
	}
	ht_br_send_subscribe(a, id, HERMES_WIRE_START_LATEST, 0, "ow");
	const char *conn_text = expect_error(a, HERMES_ETOOMANY, false, id, 0, &f);
	assert_non_null(strstr(conn_text, "per connection"));
	printf("65th subscription on a connection    -> HERMES_ETOOMANY \"%s\"\n", conn_text);
	/* Channels: 64 per connection. */
	int b = ht_br_raw_session(&br, 0, NULL);
	for (uint32_t ch = 100; ch < 164; ch++) {
		ht_br_send_bind(b, ch, "plain");
		ht_br_expect_frame(b, HERMES_MSG_BOUND, ch, &f);
	}
	ht_br_send_bind(b, 164, "plain");
	conn_text = expect_error(b, HERMES_ETOOMANY, false, 164, 0, &f);
	assert_non_null(strstr(conn_text, "per connection"));
	printf("65th channel on a connection         -> HERMES_ETOOMANY \"%s\"\n", conn_text);
	ping_pong(a, 2);
	ping_pong(b, 3);
	close(a);
	close(b);
}

static void test_ids_share_one_space_and_are_free_after_release(void **state)
{
	(void)state;
	ht_br_frame f;
	int fd = ht_br_raw_session(&br, 0, NULL);
	ht_br_send_bind(fd, 1, "plain");
	ht_br_expect_frame(fd, HERMES_MSG_BOUND, 1, &f);
	ht_br_send_frame(fd, HERMES_MSG_UNBIND, 0, 1, 0, NULL, 0);
	ht_br_send_bind(fd, 1, "plain");
	ht_br_expect_frame(fd, HERMES_MSG_BOUND, 1, &f);
	ht_br_send_subscribe(fd, 2, HERMES_WIRE_START_LATEST, 0, "plain");
	ht_br_expect_frame(fd, HERMES_MSG_SUBSCRIBED, 2, &f);
	ht_br_send_frame(fd, HERMES_MSG_UNSUBSCRIBE, 0, 2, 0, NULL, 0);
	ht_br_send_subscribe(fd, 2, HERMES_WIRE_START_LATEST, 0, "plain");
	ht_br_expect_frame(fd, HERMES_MSG_SUBSCRIBED, 2, &f);
	printf("ids 1 (channel) and 2 (subscription) reused after UNBIND / UNSUBSCRIBE\n");
	/* Releasing an id the server does not know, or the other kind's id:
	 * ERROR(HERMES_ENOENT, not fatal, that id), the session goes on and the
	 * id stays what it was. */
	ht_br_send_frame(fd, HERMES_MSG_UNBIND, 0, 77, 0, NULL, 0);
	printf("UNBIND of unknown id 77              -> \"%s\"\n",
	       expect_error(fd, HERMES_ENOENT, false, 77, 0, &f));
	ht_br_send_frame(fd, HERMES_MSG_UNSUBSCRIBE, 0, 78, 0, NULL, 0);
	printf("UNSUBSCRIBE of unknown id 78         -> \"%s\"\n",
	       expect_error(fd, HERMES_ENOENT, false, 78, 0, &f));
	ht_br_send_frame(fd, HERMES_MSG_UNBIND, 0, 2, 0, NULL, 0);
	expect_error(fd, HERMES_ENOENT, false, 2, 0, &f);
	ht_br_send_frame(fd, HERMES_MSG_UNSUBSCRIBE, 0, 1, 0, NULL, 0);
	expect_error(fd, HERMES_ENOENT, false, 1, 0, &f);
	ping_pong(fd, 4);
	ht_br_send_bind(fd, 2, "plain");
	expect_fatal(fd, HERMES_EINVAL, "BIND on a subscription's id after a wrong-kind UNBIND");
	fd = ht_br_raw_session(&br, 0, NULL);
	ht_br_send_bind(fd, 1, "plain");
	ht_br_expect_frame(fd, HERMES_MSG_BOUND, 1, &f);
	/* A subscription on the id of a channel: one id space, fatal. */
	ht_br_send_subscribe(fd, 1, HERMES_WIRE_START_LATEST, 0, "plain");
	expect_fatal(fd, HERMES_EINVAL, "SUBSCRIBE on a bound channel's id");
	fd = ht_br_raw_session(&br, 0, NULL);
	ht_br_send_subscribe(fd, 9, HERMES_WIRE_START_LATEST, 0, "plain");
	ht_br_expect_frame(fd, HERMES_MSG_SUBSCRIBED, 9, &f);
	ht_br_send_bind(fd, 9, "plain");
	expect_fatal(fd, HERMES_EINVAL, "BIND on a subscription's id");
}

static void test_encrypted_flag_in_a_clear_session_is_fatal_bad_flags(void **state)
{
	(void)state;
	uint8_t sealed[6 + HERMES_SEAL_TAG_SIZE] = "orders";
	int fd = ht_br_raw_session(&br, 0, NULL);
	ht_br_send_frame(fd, HERMES_MSG_BIND, HERMES_FLAG_ENCRYPTED, 3, 0, sealed, sizeof sealed);
	expect_fatal(fd, HERMES_EBADFLAGS, "BIND with ENCRYPTED in a clear session");
}

static void test_subscribe_from_a_sequence_no_ring_reaches_is_refused(void **state)
{
	(void)state;
	ht_br_frame f;
	int fd = ht_br_raw_session(&br, 0, NULL);
	const uint64_t refused[] = {UINT64_MAX, HERMES_WIRE_SEQ_LIMIT};
	for (unsigned i = 0; i < 2; i++) {
		ht_br_send_subscribe(fd, 1 + i, HERMES_WIRE_START_AT, refused[i], "plain");
		const char *text = expect_error(fd, HERMES_EINVAL, false, 1 + i, 0, &f);
		printf("SUBSCRIBE from %llu -> HERMES_EINVAL (not fatal): \"%s\"\n",
		       (unsigned long long)refused[i], text);
	}
	/* The last sequence a ring can reach is accepted: it waits. */
	ht_br_send_subscribe(fd, 3, HERMES_WIRE_START_AT, HERMES_WIRE_SEQ_LIMIT - 1, "plain");
	ht_br_expect_frame(fd, HERMES_MSG_SUBSCRIBED, 3, &f);
	assert_int_equal(f.seq, HERMES_WIRE_SEQ_LIMIT - 1);
	ping_pong(fd, 4);
	close(fd);
}

static void test_ring_sequences_start_at_zero(void **state)
{
	(void)state;
	ht_br_frame f;
	int fd = ht_br_raw_session(&br, 0, NULL);
	ht_br_send_subscribe(fd, 1, HERMES_WIRE_START_EARLIEST, 0, "fresh");
	ht_br_expect_frame(fd, HERMES_MSG_SUBSCRIBED, 1, &f);
	assert_int_equal(f.seq, 0);
	ht_br_send_bind(fd, 2, "fresh");
	ht_br_expect_frame(fd, HERMES_MSG_BOUND, 2, &f);
	ht_br_send_frame(fd, HERMES_MSG_PUBLISH, HERMES_FLAG_ACK_REQUESTED, 2, 1, "first", 5);
	bool acked = false, delivered = false;
	while (!acked || !delivered) {
		assert_true(ht_br_next_frame(fd, &f, NULL));
		if (f.type == HERMES_MSG_PUBLISH_ACK) {
			assert_int_equal(hm_get_le64(f.payload), 0);
			acked = true;
		} else {
			assert_int_equal(f.type, HERMES_MSG_DELIVER);
			assert_int_equal(f.seq, 0);
			delivered = true;
		}
	}
	close(fd);
	printf("a new ring: SUBSCRIBED from 0, the first message is sequence 0\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_text_that_is_not_utf8_is_fatal),
		cmocka_unit_test(test_a_link_publish_with_origin_zero_is_refused),
		cmocka_unit_test(test_connection_limits_are_told_apart_from_ring_slots),
		cmocka_unit_test(test_ids_share_one_space_and_are_free_after_release),
		cmocka_unit_test(test_encrypted_flag_in_a_clear_session_is_fatal_bad_flags),
		cmocka_unit_test(test_subscribe_from_a_sequence_no_ring_reaches_is_refused),
		cmocka_unit_test(test_ring_sequences_start_at_zero),
	};
	return cmocka_run_group_tests(tests, setup, ht_br_fixture_teardown);
}
