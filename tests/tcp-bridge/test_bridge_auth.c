/* hermes-bridge with authentication (pre-shared keys made by
 * `hermes-bridge keygen`) and session encryption: a wrong key or an unknown
 * identity is refused, and nothing but the error is answered before
 * authentication; the right key works; a ring outside the identity's
 * permissions is refused with HERMES_EPERM; keys never reach the log; with
 * encryption, a capture of every byte on the connection (taken by a relay
 * between client and bridge) holds no plaintext payload, while the same
 * traffic unencrypted does. Skipped (77) in a build without libsodium. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/endian.h"
#include "tcp-bridge/client/auth.h"
#include "tests/tcp-bridge/bridge_support.h"

static ht_bus bus;
static ht_br_bridge br;
static char key_alice[300], key_bob[300], key_mallory[300], key_eve[300];
static const char SECRET[] = "TOPSECRET-payload-7f3a9c-do-not-leak";

static void keygen(const char *name, char *path, size_t len)
{
	static const char *const psk[] = {"--psk", NULL};
	assert_int_equal(ht_br_keygen(&bus.d, name, psk, path, len), 0);
	/* Refuses to overwrite. */
	assert_int_equal(ht_br_keygen(&bus.d, name, psk, path, len), 1);
}

static int setup(void **state)
{
	(void)state;
	static const hermes_ring_config rings[] = {{"secure-in"}, {"secure-out"}, {"other"}, {0}};
	ht_br_bus_start(&bus, "brauth", rings);
	keygen("alice", key_alice, sizeof key_alice);
	keygen("bob", key_bob, sizeof key_bob);
	keygen("mallory", key_mallory, sizeof key_mallory);
	keygen("eve", key_eve, sizeof key_eve);
	char auth[300], text[1024];
	snprintf(auth, sizeof auth, "%s/auth.conf", bus.d.run_dir);
	/* Key files relative to the auth file. */
	snprintf(text, sizeof text,
		 "[identity alice]\nkey_file = alice.key\npublish = secure-*\nsubscribe = secure-*\n"
		 "[identity bob]\nkey_file = bob.key\npublish = secure-in\nsubscribe = nothing\n"
		 "[identity eve]\nkey_file = %s\npublish = *\nsubscribe = *\n",
		 key_eve);
	ht_write_file(auth, text);
	/* encrypt optional: the operator's opt-out, so that the same traffic
	 * can be captured in clear for comparison (test_bridge_security checks
	 * the default, required). */
	const char *extra[] = {"--auth", auth, "--encrypt", "optional", "--log-level", "debug", NULL};
	ht_br_fixture_bridge(&bus, &br, extra);
	return 0;
}

static hermes_err connect_as(const char *addr, const char *identity, const char *key, int encrypt,
			     hermes_net **n)
{
	hermes_net_options o;
	hermes_net_options_init(&o);
	o.identity = identity;
	o.key_file = key;
	o.encrypt = encrypt;
	o.connect_timeout_ns = 5000000000ll;
	return hermes_net_connect(addr, &o, n);
}

static void test_wrong_key_unknown_identity_and_anonymous_are_refused(void **state)
{
	(void)state;
	hermes_net *n;
	assert_int_equal(connect_as(br.addr, "alice", key_mallory, 0, &n), HERMES_EPERM);
	printf("wrong key: %s\n", hermes_last_error_detail());
	assert_int_equal(connect_as(br.addr, "mallory", key_mallory, 0, &n), HERMES_EPERM);
	assert_int_equal(connect_as(br.addr, "", NULL, 0, &n), HERMES_EPERM);
	printf("anonymous: %s\n", hermes_last_error_detail());
	assert_int_equal(connect_as(br.addr, "alice", key_alice, 0, &n), HERMES_OK);
	hermes_net_close(n);
}

/* A raw client that pipelines session frames behind a bad AUTH_RESPONSE:
 * the bridge answers WELCOME, AUTH_CHALLENGE and the error, nothing else. */
static void test_nothing_but_the_error_is_answered_before_authentication(void **state)
{
	(void)state;
	uint8_t buf[2048];
	hermes_encoder e;
	hermes_encoder_init(&e, buf, sizeof buf);
	ht_br_encode_hello(&e, "alice", HERMES_FEATURE_AUTH);
	hermes_wire_msg m = {.type = HERMES_MSG_AUTH_RESPONSE};
	memset(m.response.nonce, 1, sizeof m.response.nonce);
	memset(m.response.tag, 2, sizeof m.response.tag);
	assert_int_equal(hermes_wire_msg_encode(&e, 0, 0, &m, NULL), HERMES_OK);
	/* Session frames that must not be acted upon (the decoder would refuse
	 * them in this phase anyway; the bridge must not even get there). */
	hermes_frame_header h = {.type = HERMES_MSG_PING, .sequence = 5};
	hermes_encode_frame(&e, &h, NULL, 0, NULL);
	int fd = ht_br_raw_connect(&br);
	ht_br_raw_send(fd, buf, hermes_encoder_data(&e).len, false);
	static uint8_t in[8192];
	size_t got = ht_br_raw_answer(fd, in, sizeof in);
	close(fd);
	hermes_decoder d;
	hermes_decoder_init(&d, in, got);
	hermes_frame f;
	unsigned types[8], n = 0;
	while (n < 8 && hermes_decoder_next(&d, &f) == HERMES_OK)
		types[n++] = f.header.type;
	assert_int_equal(hermes_decoder_consumed(&d), got);
	assert_int_equal(n, 3);
	assert_int_equal(types[0], HERMES_MSG_WELCOME);
	assert_int_equal(types[1], HERMES_MSG_AUTH_CHALLENGE);
	assert_int_equal(types[2], HERMES_MSG_ERROR);
	assert_true(ht_br_expect_error(in, got, HERMES_EPERM));
	printf("bad AUTH_RESPONSE with a PING behind it: WELCOME, AUTH_CHALLENGE, ERROR EPERM, close\n");
}

static void test_permissions_are_enforced_per_identity(void **state)
{
	(void)state;
	hermes_net *n;
	assert_int_equal(connect_as(br.addr, "bob", key_bob, 0, &n), HERMES_OK);
	uint32_t ch;
	assert_int_equal(hermes_net_bind(n, "secure-in", 5000000000ll, &ch, NULL), HERMES_OK);
	assert_int_equal(hermes_net_bind(n, "secure-out", 5000000000ll, &ch, NULL), HERMES_EPERM);
	printf("bob binding secure-out: %s\n", hermes_last_error_detail());
	assert_int_equal(hermes_net_subscribe(n, "secure-in", HERMES_START_LATEST, 0, 5000000000ll,
					      &ch, NULL),
			 HERMES_EPERM);
	/* The connection goes on after a refusal. */
	assert_int_equal(hermes_net_ping(n, 3), HERMES_OK);
	hermes_net_event ev;
	assert_int_equal(hermes_net_poll(n, &ev, 5000000000ll), HERMES_OK);
	assert_int_equal(ev.type, HERMES_NET_PONG);
	hermes_net_close(n);
}

static bool contains(const uint8_t *hay, size_t n, const void *needle, size_t k)
{
	for (size_t i = 0; i + k <= n; i++)
		if (!memcmp(hay + i, needle, k))
			return true;
	return false;
}

/* Publish SECRET (with an ack) and receive it through a subscription, via
 * a relay that records every byte both ways; returns the capture. encrypt
 * as hermes_net_options (-1: the client's plaintext opt-out). */
static void secret_round_trip(int encrypt, ht_br_relay *r)
{
	ht_br_relay_start(r, (int)br.port, 16u << 20);
	char addr[64];
	snprintf(addr, sizeof addr, "127.0.0.1:%d", r->port);
	hermes_net *n;
	assert_int_equal(connect_as(addr, "alice", key_alice, encrypt, &n), HERMES_OK);
	assert_int_equal(!!(hermes_net_features(n) & HERMES_FEATURE_ENCRYPT), encrypt >= 0);
	hermes_bus *b;
	hermes_sub *lsub;
	hermes_pub *lpub;
	assert_int_equal(hermes_bus_attach(bus.name, &b), HERMES_OK);
	assert_int_equal(hermes_sub_open(b, "secure-in", HERMES_START_LATEST, 0, &lsub), HERMES_OK);
	assert_int_equal(hermes_pub_open(b, "secure-out", &lpub), HERMES_OK);
	uint32_t ch, sub;
	assert_int_equal(hermes_net_bind(n, "secure-in", 5000000000ll, &ch, NULL), HERMES_OK);
	hermes_net_ring_info info;
	assert_int_equal(hermes_net_subscribe(n, "secure-out", HERMES_START_LATEST, 0, 5000000000ll,
					      &sub, &info),
			 HERMES_OK);
	/* Remote -> local, acked. */
	for (int i = 0; i < 100; i++)
		assert_int_equal(hermes_net_publish(n, ch, SECRET, sizeof SECRET, HERMES_NET_PUB_ACK, NULL),
				 HERMES_OK);
	int acks = 0;
	hermes_net_event ev;
	while (acks < 100) {
		assert_int_equal(hermes_net_poll(n, &ev, 5000000000ll), HERMES_OK);
		assert_int_equal(ev.type, HERMES_NET_ACK);
		acks++;
	}
	char got[64];
	hermes_msg m;
	for (int i = 0; i < 100; i++) {
		assert_int_equal(hermes_sub_wait(lsub, HERMES_WAIT_BLOCK, 5000000000ll), HERMES_OK);
		assert_int_equal(hermes_sub_recv(lsub, got, sizeof got, &m), HERMES_OK);
		assert_int_equal(m.len, sizeof SECRET);
		assert_memory_equal(got, SECRET, sizeof SECRET);
	}
	/* Local -> remote. */
	for (int i = 0; i < 100; i++)
		assert_int_equal(hermes_pub_send(lpub, SECRET, sizeof SECRET, NULL), HERMES_OK);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(hermes_net_poll(n, &ev, 5000000000ll), HERMES_OK);
		assert_int_equal(ev.type, HERMES_NET_MESSAGE);
		assert_int_equal(ev.seq, info.first_seq + (uint64_t)i);
		assert_int_equal(ev.len, sizeof SECRET);
		assert_memory_equal(ev.data, SECRET, sizeof SECRET);
	}
	hermes_net_close(n);
	ht_br_relay_stop(r);
	hermes_sub_close(lsub);
	hermes_pub_close(lpub);
	hermes_bus_detach(b);
}

static void test_encrypted_sessions_carry_no_plaintext(void **state)
{
	(void)state;
	ht_br_relay clear, sealed;
	secret_round_trip(-1, &clear);
	secret_round_trip(0, &sealed); /* the default, with a key */
	bool clear_has = contains(clear.cap, clear.len, SECRET, sizeof SECRET - 1);
	bool sealed_has = contains(sealed.cap, sealed.len, SECRET, sizeof SECRET - 1);
	bool sealed_ring = contains(sealed.cap, sealed.len, "secure-", 7);
	printf("captured %zu bytes in clear (payload visible: %s), %zu bytes encrypted (payload "
	       "visible: %s, ring names visible: %s)\n",
	       clear.len, clear_has ? "yes" : "no", sealed.len, sealed_has ? "yes" : "no",
	       sealed_ring ? "yes" : "no");
	assert_true(clear_has); /* the check can see plaintext when there is some */
	assert_false(sealed_has);
	assert_false(sealed_ring);
	free(clear.cap);
	free(sealed.cap);
}

static void test_keys_never_reach_the_log(void **state)
{
	(void)state;
	const char *keys[] = {key_alice, key_bob, key_mallory, key_eve};
	for (unsigned i = 0; i < 4; i++) {
		uint8_t key[HERMES_AUTH_KEY_SIZE];
		assert_int_equal(hm_auth_key_load(keys[i], key), HERMES_OK);
		char hex[2 * HERMES_AUTH_KEY_SIZE + 1];
		for (unsigned k = 0; k < HERMES_AUTH_KEY_SIZE; k++)
			snprintf(hex + 2 * k, 3, "%02x", key[k]);
		/* Neither the hex form, nor its first half, nor the raw bytes. */
		assert_false(ht_file_has(br.log, hex));
		hex[HERMES_AUTH_KEY_SIZE] = '\0';
		assert_false(ht_file_has(br.log, hex));
		FILE *f = fopen(br.log, "re");
		assert_non_null(f);
		static uint8_t text[1 << 20];
		size_t n = fread(text, 1, sizeof text, f);
		fclose(f);
		assert_false(contains(text, n, key, 8));
	}
	assert_true(ht_file_has(br.log, "authentication failed client=alice conn="));
	printf("the log names refused identities, never a key\n");
}

int main(void)
{
	ht_br_require_sodium();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wrong_key_unknown_identity_and_anonymous_are_refused),
		cmocka_unit_test(test_nothing_but_the_error_is_answered_before_authentication),
		cmocka_unit_test(test_permissions_are_enforced_per_identity),
		cmocka_unit_test(test_encrypted_sessions_carry_no_plaintext),
		cmocka_unit_test(test_keys_never_reach_the_log),
	};
	return cmocka_run_group_tests(tests, setup, ht_br_fixture_teardown);
}
