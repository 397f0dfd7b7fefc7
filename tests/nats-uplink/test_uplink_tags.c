/* User tags across NATS (issue 18 point 5): hermes-nats sends a tagged
 * message with a Hermes-Tag header (decimal) and none on an untagged one;
 * the receiving uplink commits it with the tag, in core and JetStream
 * mode; a plain NATS client may set the header itself, and a malformed one
 * is ignored (the message goes in untagged). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/bus.h"
#include "tests/support/testing.h"
#include "tests/nats-uplink/nats_harness.h"

#define RINGS "[ring x]\ncapacity = 1M\nmax_msg = 256\n"

/* Publish on pub until one message reaches sub (the receiving side may not
 * be subscribed yet in core mode), then drain what else of it came. */
static void first_crossing(hermes_pub *pub, hermes_sub *sub)
{
	uint64_t deadline = ht_now_ns() + 30000000000ull;
	for (;;) {
		assert_int_equal(hermes_pub_send_tagged(pub, "warm", 4, 1, NULL, 1000000000ll),
				 HERMES_OK);
		hermes_msg m;
		uint64_t until = ht_now_ns() + 300000000ull;
		bool got = false;
		while (ht_now_ns() < until && !got) {
			if (hermes_sub_poll(sub, &m) == HERMES_OK)
				got = true;
			else
				(void)hermes_sub_wait(sub, HERMES_WAIT_BLOCK, 20000000);
		}
		if (got) {
			/* Let the warm-up messages still in flight arrive, then drop them. */
			uint64_t quiet = ht_now_ns() + 500000000ull;
			while (ht_now_ns() < quiet)
				if (hermes_sub_poll(sub, &m) != HERMES_OK)
					(void)hermes_sub_wait(sub, HERMES_WAIT_BLOCK, 20000000);
			(void)hermes_sub_release(sub);
			return;
		}
		if (ht_now_ns() > deadline)
			fail_msg("nothing crossed NATS within 30 s");
	}
}

static void tags_cross(bool js)
{
	static ht_nats_pair p;
	ht_nats_pair_begin(&p, "tags", js, RINGS);
	char out_ring[32], in_ring[32];
	snprintf(out_ring, sizeof out_ring, "x:out:%s", js ? "jetstream" : "core");
	snprintf(in_ring, sizeof in_ring, "x:in:%s", js ? "jetstream" : "core");
	const char *aa[] = {"--url", p.url, "--ring", out_ring, NULL};
	const char *ba[] = {"--url", p.url, "--ring", in_ring, NULL};
	ht_nats_pair_uplinks(&p, aa, ba, 20000);

	/* A plain NATS client watches the subject and publishes on it. */
	natsConnection *nc = NULL;
	natsSubscription *ns = NULL;
	assert_int_equal(natsConnection_ConnectTo(&nc, p.url), NATS_OK);
	assert_int_equal(natsConnection_SubscribeSync(&ns, nc, "hermes.x"), NATS_OK);
	assert_int_equal(natsConnection_Flush(nc), NATS_OK);

	hermes_pub *pa;
	hermes_sub *sb;
	assert_int_equal(hermes_pub_open(p.a.bus, "x", &pa), HERMES_OK);
	assert_int_equal(hermes_sub_open(p.b.bus, "x", HERMES_START_LATEST, 0, &sb), HERMES_OK);
	first_crossing(pa, sb);
	/* The NATS watcher saw the warm-up: drop those. */
	natsMsg *nm = NULL;
	while (natsSubscription_NextMsg(&nm, ns, 200) == NATS_OK)
		natsMsg_Destroy(nm);

	/* Bus A -> NATS -> bus B: each tag arrives, 0 stays 0, the largest
	 * survives. */
	static const uint32_t tags[] = {42, 0, UINT32_MAX, 7};
	for (unsigned i = 0; i < 4; i++) {
		char body[8];
		snprintf(body, sizeof body, "m%u", i);
		assert_int_equal(hermes_pub_send_tagged(pa, body, 2, tags[i], NULL, 1000000000ll),
				 HERMES_OK);
	}
	for (unsigned i = 0; i < 4; i++) {
		hermes_msg m = ht_sub_next(sb, 10000, "crossed NATS");
		char body[8];
		snprintf(body, sizeof body, "m%u", i);
		assert_int_equal(m.len, 2);
		assert_memory_equal(m.data, body, 2);
		assert_int_equal(m.tag, tags[i]);
		/* On NATS: the header, in decimal, only when tagged. */
		assert_int_equal(natsSubscription_NextMsg(&nm, ns, 10000), NATS_OK);
		const char *v = NULL;
		natsStatus st = natsMsgHeader_Get(nm, HM_NATS_HDR_TAG, &v);
		if (tags[i]) {
			char want[16];
			snprintf(want, sizeof want, "%" PRIu32, tags[i]);
			assert_int_equal(st, NATS_OK);
			assert_string_equal(v, want);
		} else {
			assert_int_equal(st, NATS_NOT_FOUND);
		}
		natsMsg_Destroy(nm);
	}
	(void)hermes_sub_release(sb);

	/* A plain NATS client sets the header itself; malformed ones are
	 * ignored. JetStream takes plain publishes on the stream's subject. */
	static const struct {
		const char *hdr;
		uint32_t tag;
	} plain[] = {{"77", 77}, {"abc", 0}, {"0", 0}, {"4294967296", 0}, {"-5", 0}, {"012", 0}};
	for (unsigned i = 0; i < sizeof plain / sizeof plain[0]; i++) {
		natsMsg *pm = NULL;
		assert_int_equal(natsMsg_Create(&pm, "hermes.x", NULL, "nats", 4), NATS_OK);
		assert_int_equal(natsMsgHeader_Set(pm, HM_NATS_HDR_TAG, plain[i].hdr), NATS_OK);
		assert_int_equal(natsConnection_PublishMsg(nc, pm), NATS_OK);
		natsMsg_Destroy(pm);
	}
	assert_int_equal(natsConnection_Flush(nc), NATS_OK);
	for (unsigned i = 0; i < sizeof plain / sizeof plain[0]; i++) {
		hermes_msg m = ht_sub_next(sb, 10000, "crossed NATS");
		assert_int_equal(m.len, 4);
		if (m.tag != plain[i].tag)
			fail_msg("Hermes-Tag '%s' gave tag %u, want %u", plain[i].hdr, m.tag,
				 plain[i].tag);
	}
	(void)hermes_sub_release(sb);

	natsSubscription_Destroy(ns);
	natsConnection_Destroy(nc);
	hermes_sub_close(sb);
	hermes_pub_close(pa);
	ht_nats_pair_stop(&p);
}

static void test_tags_cross_core_nats(void **state)
{
	(void)state;
	tags_cross(false);
}

static void test_tags_cross_jetstream(void **state)
{
	(void)state;
	tags_cross(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_tags_cross_core_nats, ht_nats_teardown),
		cmocka_unit_test_teardown(test_tags_cross_jetstream, ht_nats_teardown),
	};
	return cmocka_run_group_tests(tests, ht_nats_group_setup, NULL);
}
