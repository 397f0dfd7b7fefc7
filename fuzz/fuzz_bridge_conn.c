/* libFuzzer target for the bridge's connection state machine (tcp-bridge/
 * conn.c, with the feeds of feed.c behind it), driven without any socket:
 * bytes go into one connection's input buffer as the event loop would put
 * them there, and what the bridge answers is taken from its output buffer.
 *
 * Input: one configuration byte, one chunk-size byte, then the byte stream.
 *   config bit 0: the server requires authentication (identities "fz" with a
 *                 pre-shared key and "pk" with a public key, both allowed to
 *                 act as links; the bridge has a key pair; encryption
 *                 required by default), else anonymous sessions
 *                 (allow_anonymous)
 *   config bit 1: a local producer publishes into both rings between chunks,
 *                 so subscriptions have something to deliver (every other
 *                 message with a user tag)
 *   config bit 2: small output buffer (64 KiB) and the drop policy (with
 *                 bit 3: the rings' own policies)
 *   config bit 3: large messages: the producer also publishes into ring "c"
 *                 (max_message 128 KiB, above every frame and output buffer
 *                 here) messages just under, at and just over what the
 *                 connection can deliver, and the ring's maximum
 *   config bit 4: half-close: the peer shuts its sending side halfway
 *                 through the stream (what remains is never sent), and the
 *                 bridge must drain what it owes and close, under the
 *                 loop's deadline
 *   chunk byte:   the stream arrives in chunks of 1 + chunk bytes
 *
 * The bus is private to the process: created in memory, its name removed at
 * once, with a block ring "a", an overwrite ring "b" and a block ring "c" of
 * large messages.
 *
 * Beyond "no crash, no leak, no undefined behaviour", it checks that:
 *   - the output is always a well-formed stream of server frames (decoded
 *     as a client decodes them), bounded by the output buffer;
 *   - a subscription never waits for room that cannot come: once the output
 *     buffer is empty, no feed of the connection is stalled (unless it is
 *     draining after a half-close and has had what it is owed);
 *   - a half-closed connection closes within the turns its deadline allows;
 *   - after the connection is destroyed, no ring slot stays taken (every
 *     subscriber and publisher the connection opened was closed). */
#include <hermes/hermes.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shm/segment.h"
#include "tcp-bridge/bridge/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_bridge_conn: check failed at line %d: %s\n",        \
				__LINE__, #cond);                                                  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static hermes_bus *bus;
static hermes_pub *pub_a, *pub_b, *pub_c;
static uint8_t *large;
static hm_bridge_cfg cfgs[2][2][2]; /* [auth][small][large] */
static hm_bridge_stats *stats;
static hm_ident idents[2]; /* "fz" (pre-shared key) and "pk" (public key) */
static uint8_t bridge_secret[HERMES_AUTH_KEY_SIZE];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	hm_dlog_set_level(-1);
	char name[48];
	snprintf(name, sizeof name, "fuzz-br-%d", (int)getpid());
	CHECK(hermes_bus_create(name, 8u << 20, 0600, &bus) == HERMES_OK);
	/* The mapping stays; nothing is left in /dev/shm whatever happens. */
	hermes_bus_unlink(name);
	hermes_ring_config a = {.name = "a", .capacity = 64u << 10, .max_msg = 4096,
				.policy = HERMES_POLICY_BLOCK};
	hermes_ring_config b = {.name = "b", .capacity = 64u << 10, .max_msg = 4096,
				.policy = HERMES_POLICY_OVERWRITE};
	CHECK(hermes_ring_create(bus, &a) == HERMES_OK);
	CHECK(hermes_ring_create(bus, &b) == HERMES_OK);
	hermes_ring_config cc = {.name = "c", .capacity = 1u << 20, .max_msg = 128u << 10,
				 .policy = HERMES_POLICY_BLOCK};
	CHECK(hermes_ring_create(bus, &cc) == HERMES_OK);
	CHECK(hermes_pub_open(bus, "a", &pub_a) == HERMES_OK);
	CHECK(hermes_pub_open(bus, "b", &pub_b) == HERMES_OK);
	CHECK(hermes_pub_open(bus, "c", &pub_c) == HERMES_OK);
	large = calloc(1, 128u << 10);
	CHECK(large);
	char path[8];
	CHECK(hm_stats_open(NULL, "fuzz", 0, 0600, &stats, path, sizeof path) == HERMES_OK);
	for (int i = 0; i < 2; i++) {
		hm_ident *id = &idents[i];
		snprintf(id->name, sizeof id->name, i ? "pk" : "fz");
		snprintf(id->publish, sizeof id->publish, "a b c");
		snprintf(id->subscribe, sizeof id->subscribe, "*");
		id->link = true; /* LINK sessions and their origin checks are reachable */
	}
	idents[0].have_key = true;
	/* Public-key mode (HELLO with PUBKEY as "pk") runs its agreements. */
	idents[1].have_public = true;
	memset(bridge_secret, 7, sizeof bridge_secret);
	CHECK(hm_auth_pk_public(bridge_secret, idents[1].public_key) == HERMES_OK);
	for (int k = 0; k < 8; k++) {
		int auth = k & 1, small = k >> 1 & 1, lg = k >> 2;
		hm_bridge_cfg *c = &cfgs[auth][small][lg];
		hm_bridge_cfg_defaults(c);
		c->max_frame = 65536;
		c->out_buffer = small ? 65536 : 1u << 20;
		/* Large messages keep the ring's own policy (hold on a
		 * block ring), with an output buffer as small as the
		 * frames: the case that used to stall. */
		c->slow = small && !lg ? HM_SLOW_DROP : HM_SLOW_AUTO;
		c->max_subscriptions = 8;
		c->max_channels = 8;
		c->publish_timeout_ms = 0;
		c->state_dir[0] = '\0'; /* origin tables in memory */
		c->allow_anonymous = !auth;
		if (auth) {
			c->nidents = 2;
			c->idents = idents;
			c->secret = bridge_secret;
			CHECK(hm_auth_pk_public(bridge_secret, c->public_key) == HERMES_OK);
		}
	}
	return 0;
}

/* The output so far must decode as server frames; then it is "written". */
static void take_output(hm_conn *c)
{
	size_t n = hm_conn_out_pending(c);
	CHECK(n <= c->out_cap);
	if (!n)
		return;
	if (!c->sealed) {
		hermes_decoder d;
		hermes_decoder_init(&d, c->out + c->out_off, n);
		hermes_decoder_set_role(&d, HERMES_ROLE_CLIENT);
		hermes_frame f;
		hermes_err err;
		while ((err = hermes_decoder_next(&d, &f)) == HERMES_OK) {
			if (f.header.type == HERMES_MSG_DELIVER) {
				/* Tagged only for a client that took TAGS, never tag 0. */
				uint32_t tag;
				hermes_wire_bytes msg;
				CHECK(!(f.header.flags & HERMES_FLAG_TAGGED) ||
				      (c->features & HERMES_FEATURE_TAGS));
				CHECK(hermes_wire_tag_split(f.header.flags, f.payload, f.header.length,
							    &tag, &msg) == HERMES_OK);
				continue;
			}
			hermes_wire_msg m;
			CHECK(hermes_wire_msg_parse(f.header.type, f.payload, f.header.length, &m) ==
			      HERMES_OK);
		}
		/* Frames are whole: the buffer ends exactly at a frame boundary. */
		CHECK(err == HERMES_ENEEDMORE && hermes_decoder_consumed(&d) == n);
	}
	hm_conn_output_done(c, n);
}

/* Nothing left to write: every subscription can take its next message (or
 * has it reported lost), so no feed may wait for room. */
static void check_no_stall(const hm_conn *c)
{
	if (hm_conn_out_pending(c) || c->state != HM_CONN_SESSION || c->draining)
		return;
	for (unsigned i = 0; i < c->nsubs; i++)
		CHECK(!c->subs[i]->feed || c->subs[i]->feed->state != HM_FEED_STALLED);
}

/* Messages around what the connection can deliver, into ring "c". */
static void produce_large(hm_conn *c, unsigned *counter)
{
	size_t lim = hm_conn_max_deliver(c);
	size_t sizes[] = {lim - 1, lim, lim + 1, 128u << 10, 5};
	size_t len = sizes[(*counter)++ % 5];
	if (len > (128u << 10))
		len = 128u << 10;
	(void)hermes_pub_send(pub_c, large, (uint32_t)len, NULL);
}

static void turn(hm_server *s, hm_conn *c, bool produce, bool big, unsigned *counter)
{
	if (big)
		produce_large(c, counter);
	if (produce) {
		uint8_t msg[64];
		for (int i = 0; i < 3; i++) {
			memset(msg, (int)(*counter)++, sizeof msg);
			/* Every other message tagged (0: untagged). */
			uint32_t tag = (*counter & 1) ? *counter : 0;
			(void)hermes_pub_send_tagged(pub_a, msg, sizeof msg, tag, NULL, 0);
			(void)hermes_pub_send_tagged(pub_b, msg, sizeof msg, tag, NULL, 0);
		}
	}
	for (int i = 0; i < 4; i++) {
		hm_feeds_run(s);
		take_output(c);
		check_no_stall(c);
		/* What the loop does for paused or blocked connections. */
		s->now_ns += 1000000000ull;
		s->wake = NULL;
		c->in_wake = false;
		s->dirty = NULL;
		c->in_dirty = false;
		hm_conn_process(c);
		take_output(c);
		/* The loop's deadline list. */
		if (c->draining && c->state == HM_CONN_SESSION && s->now_ns >= c->deadline_ns)
			hm_conn_timeout(c);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint8_t config = data[0];
	size_t chunk = (size_t)data[1] + 1;
	data += 2;
	size -= 2;
	bool auth = config & 1, produce = config & 2, small = config & 4, big = config & 8;
	/* Half-close: only the first half of the stream is sent. */
	if (config & 16)
		size /= 2;

	hm_server s;
	CHECK(hm_server_init(&s, &cfgs[auth][small][big], bus, NULL, stats) == HERMES_OK);
	s.now_ns = 1;
	hm_conn *c = hm_conn_create(&s, -1, "fuzz");
	CHECK(c);
	unsigned counter = 0;
	for (size_t off = 0; off < size && c->state < HM_CONN_CLOSING;) {
		size_t room;
		uint8_t *at = hm_conn_in_space(c, &room);
		if (room == 0 || !hm_conn_wants_input(c)) {
			turn(&s, c, produce, big, &counter);
			if (!hm_conn_wants_input(c) && c->state < HM_CONN_CLOSING && c->paused)
				break; /* stuck behind output it cannot drain: the loop would wait */
			if (room == 0)
				break;
			continue;
		}
		size_t n = size - off < chunk ? size - off : chunk;
		if (n > room)
			n = room;
		memcpy(at, data + off, n);
		off += n;
		hm_conn_input(c, n);
		turn(&s, c, produce, big, &counter);
	}
	hm_conn_eof(c);
	turn(&s, c, produce, big, &counter);
	/* Half-closed: it drains what it owes (the output is taken each turn)
	 * and closes, by the deadline at the latest (each turn is 4 s). */
	if (c->state == HM_CONN_SESSION && !c->paused && !c->pub_blocked) {
		unsigned limit = s.cfg->handshake_timeout_ms / 4000u + 2;
		for (unsigned i = 0; i < limit && c->state == HM_CONN_SESSION; i++)
			turn(&s, c, produce, big, &counter);
		CHECK(c->state >= HM_CONN_CLOSING);
	}
	s.dirty = NULL;
	s.wake = NULL;
	hm_conn_destroy(c);
	/* Every byte of the memory budget came back. */
	CHECK(s.mem_used == 0);
	hm_server_fini(&s);

	/* Nothing the connection opened may outlive it. */
	for (uint32_t i = 0; i < 64; i++) {
		hm_ring r;
		if (hm_bus_ring_view(bus, i, &r) != HERMES_OK)
			continue;
		CHECK(hm_load_relaxed_u64(&r.hdr->sub_mask) == 0);
		/* The fuzzer's own two publishers stay. */
		CHECK(__builtin_popcountll(hm_load_relaxed_u64(&r.hdr->prod_mask)) == 1);
	}
	return 0;
}
