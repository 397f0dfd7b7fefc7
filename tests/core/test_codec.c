/* Tests for core/codec.c: frames, batches, streaming, malformed input,
 * structured payloads, and the worked examples in docs/PROTOCOL.md. */
#include "tests/support/testing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hermes/protocol.h>

#include "core/hex.h"

#ifdef HERMES_TEST_SODIUM
#include <sodium.h>
#endif

#ifndef HERMES_SOURCE_DIR
#error "HERMES_SOURCE_DIR must name the source tree (tests/CMakeLists.txt sets it)"
#endif

static const uint8_t all_types[] = {
	HERMES_MSG_HELLO,	  HERMES_MSG_WELCOME,	HERMES_MSG_AUTH_CHALLENGE,
	HERMES_MSG_AUTH_RESPONSE, HERMES_MSG_AUTH_OK,	HERMES_MSG_BIND,
	HERMES_MSG_BOUND,	  HERMES_MSG_UNBIND,	HERMES_MSG_PUBLISH,
	HERMES_MSG_PUBLISH_ACK,	  HERMES_MSG_SUBSCRIBE, HERMES_MSG_SUBSCRIBED,
	HERMES_MSG_UNSUBSCRIBE,	  HERMES_MSG_DELIVER,	HERMES_MSG_LOSS,
	HERMES_MSG_PING,	  HERMES_MSG_PONG,	HERMES_MSG_ERROR,
	HERMES_MSG_GOODBYE,
};
#define N_TYPES (sizeof all_types / sizeof all_types[0])

/* A header written by hand, byte by byte, independently of the codec, so
 * the tests do not trust the encoder to check the decoder. */
static void put_header(uint8_t *p, uint8_t type, uint16_t flags, uint32_t len, uint32_t channel,
		       uint64_t seq)
{
	p[0] = 'H';
	p[1] = 'M';
	p[2] = 1;
	p[3] = type;
	p[4] = (uint8_t)flags;
	p[5] = (uint8_t)(flags >> 8);
	p[6] = 0;
	p[7] = 0;
	for (int i = 0; i < 4; i++)
		p[8 + i] = (uint8_t)(len >> (8 * i));
	for (int i = 0; i < 4; i++)
		p[12 + i] = (uint8_t)(channel >> (8 * i));
	for (int i = 0; i < 8; i++)
		p[16 + i] = (uint8_t)(seq >> (8 * i));
}

static hermes_err decode_one(const void *buf, size_t len, hermes_frame *f)
{
	hermes_decoder dec;
	assert_int_equal(hermes_decoder_init(&dec, buf, len), HERMES_OK);
	return hermes_decoder_next(&dec, f);
}

static void print_hex(const char *what, const uint8_t *p, size_t n)
{
	fprintf(stderr, "%s (%zu bytes):", what, n);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%s%02x", i % 8 ? " " : "\n  ", p[i]);
	fprintf(stderr, "\n");
}

static void assert_bytes_equal(const char *what, const uint8_t *want, size_t want_len,
			       const uint8_t *got, size_t got_len)
{
	if (want_len == got_len && memcmp(want, got, want_len) == 0)
		return;
	fprintf(stderr, "%s differs\n", what);
	print_hex("expected", want, want_len);
	print_hex("actual", got, got_len);
	fail_msg("%s: bytes differ", what);
}

/* A representative message of every type, with header channel and sequence
 * chosen the way the bridge would use them. */
struct sample {
	hermes_wire_msg msg;
	uint32_t channel;
	uint64_t seq;
};

static const char sample_data[] = "a message body";

static struct sample sample_of(uint8_t type)
{
	struct sample s;
	memset(&s, 0, sizeof s);
	s.msg.type = type;
	switch (type) {
	case HERMES_MSG_HELLO:
		s.msg.hello = (hermes_wire_hello){1, 1, HERMES_FEATURE_AUTH, 65536, "alice", 5};
		break;
	case HERMES_MSG_WELCOME:
		s.msg.welcome = (hermes_wire_welcome){1, HERMES_FEATURE_AUTH, 1 << 20, "srv", 3};
		break;
	case HERMES_MSG_AUTH_CHALLENGE:
		for (int i = 0; i < 32; i++) {
			s.msg.challenge.nonce[i] = (uint8_t)i;
			s.msg.challenge.kx_public_key[i] = (uint8_t)(0xFF - i);
		}
		break;
	case HERMES_MSG_AUTH_RESPONSE:
		for (int i = 0; i < 32; i++) {
			s.msg.response.nonce[i] = (uint8_t)(3 * i);
			s.msg.response.kx_public_key[i] = (uint8_t)(5 * i);
			s.msg.response.tag[i] = (uint8_t)(7 * i);
		}
		break;
	case HERMES_MSG_AUTH_OK:
		for (int i = 0; i < 32; i++)
			s.msg.auth_ok.tag[i] = (uint8_t)(11 * i);
		break;
	case HERMES_MSG_BIND:
		s.msg.bind = (hermes_wire_bind){"orders", 6};
		s.channel = 9;
		break;
	case HERMES_MSG_BOUND:
		s.msg.ring = (hermes_wire_ring_info){4096, HERMES_WIRE_POLICY_OVERWRITE};
		s.channel = 9;
		break;
	case HERMES_MSG_UNBIND:
	case HERMES_MSG_UNSUBSCRIBE:
		s.channel = 9;
		break;
	case HERMES_MSG_PUBLISH:
	case HERMES_MSG_DELIVER:
		s.msg.data = (hermes_wire_bytes){(const uint8_t *)sample_data, sizeof sample_data};
		s.channel = 9;
		s.seq = 0x0102030405060708ull;
		break;
	case HERMES_MSG_PUBLISH_ACK:
		s.msg.ack.ring_seq = 77;
		s.channel = 9;
		s.seq = 3;
		break;
	case HERMES_MSG_SUBSCRIBE:
		s.msg.subscribe =
			(hermes_wire_subscribe){HERMES_WIRE_START_AT, 12345, "md.eurusd", 9};
		s.channel = 4;
		break;
	case HERMES_MSG_SUBSCRIBED:
		s.msg.ring = (hermes_wire_ring_info){1024, HERMES_WIRE_POLICY_BLOCK};
		s.channel = 4;
		s.seq = 12345;
		break;
	case HERMES_MSG_LOSS:
		s.msg.loss.count = 1ull << 40;
		s.channel = 4;
		s.seq = 99;
		break;
	case HERMES_MSG_PING:
	case HERMES_MSG_PONG:
		s.seq = UINT64_MAX;
		break;
	case HERMES_MSG_ERROR:
		s.msg.error = (hermes_wire_error){HERMES_ENOENT, 0, "no ring 'x'", 11};
		s.channel = 4;
		s.seq = 1;
		break;
	case HERMES_MSG_GOODBYE:
		s.msg.goodbye.code = HERMES_EPERM;
		break;
	default:
		fail_msg("no sample for type %u", type);
	}
	return s;
}

/* ------------------------------------------------------------------------ */
/* Round trips */

static void test_header_is_24_bytes_and_starts_with_HM(void **state)
{
	(void)state;
	uint8_t buf[64];
	hermes_encoder enc;
	hermes_wire_bytes f;
	assert_int_equal(HERMES_HEADER_SIZE, 24);
	assert_int_equal(hermes_encoder_init(&enc, buf, sizeof buf), HERMES_OK);
	assert_int_equal(hermes_encode(&enc, HERMES_MSG_PING, 5, NULL, 0, &f), HERMES_OK);
	assert_int_equal(f.len, 24);
	uint8_t want[24];
	put_header(want, HERMES_MSG_PING, 0, 0, 0, 5);
	assert_bytes_equal("PING frame", want, 24, f.data, f.len);
	assert_memory_equal(f.data, "HM", 2);
}

static void test_every_message_type_round_trips(void **state)
{
	(void)state;
	hermes_encoder *enc;
	assert_int_equal(hermes_encoder_create(0, &enc), HERMES_OK);
	for (size_t i = 0; i < N_TYPES; i++) {
		struct sample s = sample_of(all_types[i]);
		hermes_wire_bytes wire;
		hermes_encoder_reset(enc);
		assert_int_equal(hermes_wire_msg_encode(enc, s.channel, s.seq, &s.msg, &wire),
				 HERMES_OK);

		hermes_frame f;
		hermes_decoder dec;
		assert_int_equal(hermes_decoder_init(&dec, wire.data, wire.len), HERMES_OK);
		assert_int_equal(hermes_decoder_next(&dec, &f), HERMES_OK);
		assert_int_equal(f.header.version, HERMES_PROTOCOL_VERSION);
		assert_int_equal(f.header.type, all_types[i]);
		assert_int_equal(f.header.flags, 0);
		assert_int_equal(f.header.channel, s.channel);
		assert_true(f.header.sequence == s.seq);
		assert_int_equal(HERMES_HEADER_SIZE + f.header.length, wire.len);
		assert_ptr_equal(f.bytes, wire.data);
		assert_ptr_equal(f.payload, wire.data + HERMES_HEADER_SIZE);
		assert_int_equal(hermes_decoder_next(&dec, &f), HERMES_ENEEDMORE);
		assert_int_equal(hermes_decoder_consumed(&dec), wire.len);

		/* Parsing gives back the fields, and writing them again gives
		 * back the same payload bytes. */
		hermes_wire_msg back;
		uint8_t out[HERMES_ERROR_MAX];
		size_t n;
		assert_int_equal(
			hermes_wire_msg_parse(f.header.type, f.payload, f.header.length, &back),
			HERMES_OK);
		assert_int_equal(back.type, all_types[i]);
		assert_int_equal(hermes_wire_msg_write(&back, out, sizeof out, &n), HERMES_OK);
		assert_bytes_equal(hermes_msg_type_name(all_types[i]), f.payload, f.header.length,
				   out, n);
	}
	hermes_encoder_destroy(enc);
}

static void test_parsed_fields_equal_the_written_ones(void **state)
{
	(void)state;
	uint8_t buf[512];
	size_t n;
	hermes_wire_msg m;

	struct sample s = sample_of(HERMES_MSG_HELLO);
	assert_int_equal(hermes_wire_msg_write(&s.msg, buf, sizeof buf, &n), HERMES_OK);
	assert_int_equal(hermes_wire_msg_parse(HERMES_MSG_HELLO, buf, n, &m), HERMES_OK);
	assert_int_equal(m.hello.min_version, 1);
	assert_int_equal(m.hello.features, HERMES_FEATURE_AUTH);
	assert_int_equal(m.hello.max_frame, 65536);
	assert_int_equal(m.hello.identity_len, 5);
	assert_memory_equal(m.hello.identity, "alice", 5);
	assert_ptr_equal(m.hello.identity, (const char *)buf + 12); /* zero copy */

	s = sample_of(HERMES_MSG_SUBSCRIBE);
	assert_int_equal(hermes_wire_msg_write(&s.msg, buf, sizeof buf, &n), HERMES_OK);
	assert_int_equal(hermes_wire_msg_parse(HERMES_MSG_SUBSCRIBE, buf, n, &m), HERMES_OK);
	assert_int_equal(m.subscribe.start, HERMES_WIRE_START_AT);
	assert_true(m.subscribe.start_seq == 12345);
	assert_int_equal(m.subscribe.ring_len, 9);
	assert_memory_equal(m.subscribe.ring, "md.eurusd", 9);

	s = sample_of(HERMES_MSG_ERROR);
	assert_int_equal(hermes_wire_msg_write(&s.msg, buf, sizeof buf, &n), HERMES_OK);
	assert_int_equal(hermes_wire_msg_parse(HERMES_MSG_ERROR, buf, n, &m), HERMES_OK);
	assert_int_equal(m.error.code, HERMES_ENOENT);
	assert_int_equal(m.error.fatal, 0);
	assert_int_equal(m.error.text_len, 11);
	assert_memory_equal(m.error.text, "no ring 'x'", 11);

	s = sample_of(HERMES_MSG_LOSS);
	assert_int_equal(hermes_wire_msg_write(&s.msg, buf, sizeof buf, &n), HERMES_OK);
	assert_int_equal(hermes_wire_msg_parse(HERMES_MSG_LOSS, buf, n, &m), HERMES_OK);
	assert_true(m.loss.count == 1ull << 40);

	s = sample_of(HERMES_MSG_BOUND);
	assert_int_equal(hermes_wire_msg_write(&s.msg, buf, sizeof buf, &n), HERMES_OK);
	assert_int_equal(hermes_wire_msg_parse(HERMES_MSG_BOUND, buf, n, &m), HERMES_OK);
	assert_int_equal(m.ring.max_message, 4096);
	assert_int_equal(m.ring.policy, HERMES_WIRE_POLICY_OVERWRITE);
}

/* Every payload size from 0 to the maximum, with the smallest allowed max
 * frame so the whole range is walked; then the default maximum's edge. */
static void test_payload_sizes_from_zero_to_max_round_trip(void **state)
{
	(void)state;
	const uint32_t max_frame = HERMES_MIN_MAX_FRAME;
	const size_t max_payload = max_frame - HERMES_HEADER_SIZE;
	uint8_t *payload = malloc(max_frame);
	uint8_t *buf = malloc(max_frame);
	assert_non_null(payload);
	assert_non_null(buf);
	uint64_t rng = 42;
	for (size_t i = 0; i < max_frame; i++)
		payload[i] = (uint8_t)ht_rand(&rng);

	hermes_encoder enc;
	hermes_decoder dec;
	assert_int_equal(hermes_encoder_init(&enc, buf, max_frame), HERMES_OK);
	assert_int_equal(hermes_encoder_set_max_frame(&enc, max_frame), HERMES_OK);
	for (size_t len = 0; len <= max_payload; len++) {
		uint8_t type = len % 2 ? HERMES_MSG_PUBLISH : HERMES_MSG_DELIVER;
		hermes_frame_header h = {.type = type, .channel = 1, .sequence = len};
		hermes_wire_bytes wire;
		hermes_frame f;
		hermes_encoder_reset(&enc);
		assert_int_equal(hermes_encode_frame(&enc, &h, payload, len, &wire), HERMES_OK);
		assert_int_equal(wire.len, HERMES_HEADER_SIZE + len);
		assert_int_equal(hermes_decoder_init(&dec, wire.data, wire.len), HERMES_OK);
		assert_int_equal(hermes_decoder_set_max_frame(&dec, max_frame), HERMES_OK);
		assert_int_equal(hermes_decoder_next(&dec, &f), HERMES_OK);
		assert_int_equal(f.header.length, len);
		assert_true(f.header.sequence == len);
		assert_memory_equal(f.payload, payload, len);
	}
	/* One byte more is refused on both sides. */
	hermes_encoder_reset(&enc);
	assert_int_equal(hermes_encode(&enc, HERMES_MSG_PUBLISH, 0, payload, max_payload + 1, NULL),
			 HERMES_ETOOBIG);
	assert_int_equal(hermes_encoder_data(&enc).len, 0);
	put_header(buf, HERMES_MSG_PUBLISH, 0, (uint32_t)max_payload + 1, 1, 0);
	assert_int_equal(hermes_decoder_init(&dec, buf, HERMES_HEADER_SIZE), HERMES_OK);
	assert_int_equal(hermes_decoder_set_max_frame(&dec, max_frame), HERMES_OK);
	hermes_frame f;
	assert_int_equal(hermes_decoder_next(&dec, &f), HERMES_ETOOBIG);
	free(payload);
	free(buf);

	/* The default maximum: a frame of exactly HERMES_DEFAULT_MAX_FRAME. */
	size_t big = HERMES_DEFAULT_MAX_FRAME - HERMES_HEADER_SIZE;
	hermes_encoder *benc;
	payload = calloc(1, big + 1);
	assert_non_null(payload);
	assert_int_equal(hermes_encoder_create(HERMES_DEFAULT_MAX_FRAME + 64, &benc), HERMES_OK);
	hermes_wire_bytes wire;
	assert_int_equal(hermes_encode(benc, HERMES_MSG_DELIVER, 1, payload, big + 1, &wire),
			 HERMES_ETOOBIG);
	assert_int_equal(hermes_encode(benc, HERMES_MSG_DELIVER, 1, payload, big, &wire),
			 HERMES_OK);
	assert_int_equal(wire.len, HERMES_DEFAULT_MAX_FRAME);
	assert_int_equal(decode_one(wire.data, wire.len, &f), HERMES_OK);
	assert_int_equal(f.header.length, big);
	hermes_encoder_destroy(benc);
	free(payload);
}

/* ------------------------------------------------------------------------ */
/* Batches */

static void test_batches_of_1_to_1000_messages_round_trip(void **state)
{
	(void)state;
	enum { MAX_N = 1000, MAX_LEN = 100 };
	static uint8_t data[MAX_N][MAX_LEN];
	static hermes_batch_item items[MAX_N];
	uint64_t rng = 7;
	for (size_t i = 0; i < MAX_N; i++) {
		size_t len = ht_rand(&rng) % (MAX_LEN + 1);
		for (size_t j = 0; j < len; j++)
			data[i][j] = (uint8_t)ht_rand(&rng);
		items[i] = (hermes_batch_item){data[i], len, 1000 + i};
	}
	hermes_encoder *enc;
	assert_int_equal(hermes_encoder_create(MAX_N * (HERMES_HEADER_SIZE + MAX_LEN), &enc),
			 HERMES_OK);
	hermes_frame_header tmpl = {.type = HERMES_MSG_DELIVER, .channel = 3};

	for (size_t n = 1; n <= MAX_N; n++) {
		hermes_wire_bytes frames;
		size_t done = 0, total = 0;
		hermes_encoder_reset(enc);
		assert_int_equal(hermes_encode_batch(enc, &tmpl, items, n, &done, &frames),
				 HERMES_OK);
		assert_int_equal(done, n);
		for (size_t i = 0; i < n; i++)
			total += HERMES_HEADER_SIZE + items[i].len;
		assert_int_equal(frames.len, total);
		assert_ptr_equal(frames.data, hermes_encoder_data(enc).data);

		hermes_decoder dec;
		hermes_frame f;
		assert_int_equal(hermes_decoder_init(&dec, frames.data, frames.len), HERMES_OK);
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(hermes_decoder_next(&dec, &f), HERMES_OK);
			assert_int_equal(f.header.type, HERMES_MSG_DELIVER);
			assert_int_equal(f.header.channel, 3);
			assert_true(f.header.sequence == 1000 + i);
			assert_int_equal(f.header.length, items[i].len);
			assert_memory_equal(f.payload, data[i], items[i].len);
		}
		assert_int_equal(hermes_decoder_next(&dec, &f), HERMES_ENEEDMORE);
		assert_int_equal(hermes_decoder_consumed(&dec), total);
	}
	hermes_encoder_destroy(enc);
}

static void test_batch_that_does_not_fit_reports_how_many_were_encoded(void **state)
{
	(void)state;
	uint8_t buf[1000];
	uint8_t body[40] = {0};
	hermes_batch_item items[100];
	for (size_t i = 0; i < 100; i++)
		items[i] = (hermes_batch_item){body, sizeof body, i + 1};
	hermes_encoder enc;
	assert_int_equal(hermes_encoder_init(&enc, buf, sizeof buf), HERMES_OK);
	hermes_frame_header tmpl = {
		.type = HERMES_MSG_PUBLISH, .flags = HERMES_FLAG_ACK_REQUESTED, .channel = 1};

	/* 64-byte frames: 15 fit in 1000 bytes. The caller flushes and goes on
	 * from items + done until all are out. */
	size_t sent = 0, rounds = 0;
	uint64_t next_seq = 1;
	while (sent < 100) {
		size_t done;
		hermes_wire_bytes frames;
		hermes_encoder_reset(&enc);
		hermes_err err =
			hermes_encode_batch(&enc, &tmpl, items + sent, 100 - sent, &done, &frames);
		assert_true(err == HERMES_OK || err == HERMES_ENOBUFS);
		assert_int_equal(done, err == HERMES_OK ? 100 - sent : 15);
		assert_int_equal(frames.len, done * 64);
		hermes_decoder dec;
		hermes_frame f;
		hermes_decoder_init(&dec, frames.data, frames.len);
		while (hermes_decoder_next(&dec, &f) == HERMES_OK) {
			assert_true(f.header.sequence == next_seq);
			assert_int_equal(f.header.flags, HERMES_FLAG_ACK_REQUESTED);
			next_seq++;
		}
		sent += done;
		rounds++;
	}
	assert_int_equal(next_seq, 101);
	assert_int_equal(rounds, 7);
}

static void test_batch_stops_at_the_first_invalid_item(void **state)
{
	(void)state;
	uint8_t buf[4096];
	static uint8_t body[HERMES_DEFAULT_MAX_FRAME];
	hermes_batch_item items[3] = {{body, 10, 1}, {body, sizeof body, 2}, {body, 10, 3}};
	hermes_encoder enc;
	size_t done = 99;
	hermes_wire_bytes frames;
	hermes_frame_header tmpl = {.type = HERMES_MSG_DELIVER, .channel = 1};
	assert_int_equal(hermes_encoder_init(&enc, buf, sizeof buf), HERMES_OK);
	assert_int_equal(hermes_encode_batch(&enc, &tmpl, items, 3, &done, &frames),
			 HERMES_ETOOBIG);
	assert_int_equal(done, 1);
	assert_int_equal(frames.len, HERMES_HEADER_SIZE + 10);

	hermes_encoder_reset(&enc);
	tmpl.type = 0x07;
	assert_int_equal(hermes_encode_batch(&enc, &tmpl, items, 1, &done, NULL), HERMES_EBADTYPE);
	assert_int_equal(done, 0);
	tmpl.type = HERMES_MSG_DELIVER;
	tmpl.flags = HERMES_FLAG_ACK_REQUESTED; /* only PUBLISH may ask for an ack */
	assert_int_equal(hermes_encode_batch(&enc, &tmpl, items, 1, &done, NULL), HERMES_EBADFLAGS);
	assert_int_equal(done, 0);
	assert_int_equal(hermes_encoder_data(&enc).len, 0);
	/* An empty batch is not an error. */
	tmpl.flags = 0;
	assert_int_equal(hermes_encode_batch(&enc, &tmpl, items, 0, &done, &frames), HERMES_OK);
	assert_int_equal(done, 0);
	assert_int_equal(frames.len, 0);
}

/* ------------------------------------------------------------------------ */
/* Streaming */

struct seen {
	uint8_t type;
	uint16_t flags;
	uint32_t channel;
	uint64_t seq;
	uint32_t len;
	uint64_t hash;
};

static struct seen seen_of(const hermes_frame *f)
{
	struct seen s = {f->header.type,    f->header.flags,
			 f->header.channel, f->header.sequence,
			 f->header.length,  ht_fnv1a(f->payload, f->header.length)};
	return s;
}

/* Play a receiver: bytes arrive in chunks (one byte each, or random sizes
 * up to max_chunk), go into a buffer, complete frames are taken out and the
 * rest is compacted to the front, as a socket reader would. Returns the
 * first error other than "need more", or ENEEDMORE if bytes are left over,
 * or OK. */
static hermes_err stream_decode(const uint8_t *s, size_t n, uint64_t *rng, size_t max_chunk,
				uint32_t max_frame, struct seen *out, size_t max, size_t *count)
{
	uint8_t *rx = malloc(n ? n : 1);
	size_t fill = 0, off = 0;
	hermes_decoder dec;
	hermes_err err = HERMES_OK;
	assert_non_null(rx);
	assert_int_equal(hermes_decoder_init(&dec, NULL, 0), HERMES_OK);
	assert_int_equal(hermes_decoder_set_max_frame(&dec, max_frame), HERMES_OK);
	*count = 0;
	while (off < n) {
		size_t chunk = rng ? 1 + ht_rand(rng) % max_chunk : 1;
		if (chunk > n - off)
			chunk = n - off;
		memcpy(rx + fill, s + off, chunk);
		fill += chunk;
		off += chunk;
		assert_int_equal(hermes_decoder_set_buffer(&dec, rx, fill), HERMES_OK);
		hermes_frame f;
		while ((err = hermes_decoder_next(&dec, &f)) == HERMES_OK) {
			assert_true(*count < max);
			out[(*count)++] = seen_of(&f);
		}
		if (err != HERMES_ENEEDMORE)
			break;
		assert_true(hermes_decoder_needed(&dec) >= 1);
		size_t used = hermes_decoder_consumed(&dec);
		memmove(rx, rx + used, fill - used);
		fill -= used;
		err = fill ? HERMES_ENEEDMORE : HERMES_OK;
	}
	free(rx);
	return err;
}

/* A stream of every kind of frame: random opaque messages of random sizes
 * between structured control frames. */
static size_t build_mixed_stream(hermes_encoder *enc, uint64_t *rng, struct seen *want, size_t max)
{
	static uint8_t body[3000];
	size_t count = 0;
	for (size_t i = 0; i < sizeof body; i++)
		body[i] = (uint8_t)ht_rand(rng);
	hermes_encoder_reset(enc);
	while (count < max) {
		hermes_wire_bytes w;
		hermes_err err;
		if (ht_rand(rng) % 4 == 0) {
			struct sample s = sample_of(all_types[ht_rand(rng) % N_TYPES]);
			err = hermes_wire_msg_encode(enc, s.channel, s.seq, &s.msg, &w);
		} else {
			size_t len = ht_rand(rng) % 8 == 0 ? ht_rand(rng) % (sizeof body - 16)
							   : ht_rand(rng) % 80;
			hermes_frame_header h = {.type = HERMES_MSG_PUBLISH,
						 .channel = (uint32_t)ht_rand(rng),
						 .sequence = ht_rand(rng)};
			if (ht_rand(rng) % 2)
				h.flags = HERMES_FLAG_ACK_REQUESTED;
			err = hermes_encode_frame(enc, &h, body + ht_rand(rng) % 16, len, &w);
		}
		if (err == HERMES_ENOBUFS)
			break;
		assert_int_equal(err, HERMES_OK);
		hermes_frame f;
		assert_int_equal(decode_one(w.data, w.len, &f), HERMES_OK);
		want[count++] = seen_of(&f);
	}
	return count;
}

static void assert_seen_equal(const struct seen *want, size_t nwant, const struct seen *got,
			      size_t ngot)
{
	assert_int_equal(ngot, nwant);
	for (size_t i = 0; i < nwant; i++) {
		assert_int_equal(got[i].type, want[i].type);
		assert_int_equal(got[i].flags, want[i].flags);
		assert_int_equal(got[i].channel, want[i].channel);
		assert_true(got[i].seq == want[i].seq);
		assert_int_equal(got[i].len, want[i].len);
		assert_true(got[i].hash == want[i].hash);
	}
}

static void test_stream_fed_one_byte_at_a_time_yields_exactly_the_encoded_frames(void **state)
{
	(void)state;
	enum { MAX = 2000 };
	static struct seen want[MAX], got[MAX];
	hermes_encoder *enc;
	uint64_t rng = 1;
	assert_int_equal(hermes_encoder_create(64 * 1024, &enc), HERMES_OK);
	size_t n = build_mixed_stream(enc, &rng, want, MAX);
	assert_true(n > 100);
	hermes_wire_bytes all = hermes_encoder_data(enc);
	size_t ngot;
	assert_int_equal(stream_decode(all.data, all.len, NULL, 1, HERMES_DEFAULT_MAX_FRAME, got,
				       MAX, &ngot),
			 HERMES_OK);
	assert_seen_equal(want, n, got, ngot);
	hermes_encoder_destroy(enc);
}

static void test_stream_in_random_splits_yields_exactly_the_encoded_frames(void **state)
{
	(void)state;
	enum { MAX = 2000 };
	static struct seen want[MAX], got[MAX];
	hermes_encoder *enc;
	assert_int_equal(hermes_encoder_create(64 * 1024, &enc), HERMES_OK);
	for (uint64_t seed = 1; seed <= 40; seed++) {
		uint64_t rng = seed * 0x9E3779B97F4A7C15ull;
		size_t n = build_mixed_stream(enc, &rng, want, MAX);
		hermes_wire_bytes all = hermes_encoder_data(enc);
		size_t max_chunk = seed % 4 == 0 ? 7 : seed % 4 == 1 ? 100 : 5000;
		size_t ngot;
		assert_int_equal(stream_decode(all.data, all.len, &rng, max_chunk,
					       HERMES_DEFAULT_MAX_FRAME, got, MAX, &ngot),
				 HERMES_OK);
		assert_seen_equal(want, n, got, ngot);
	}
	hermes_encoder_destroy(enc);
}

static void test_truncated_frame_reports_need_more(void **state)
{
	(void)state;
	uint8_t buf[256];
	hermes_encoder enc;
	hermes_wire_bytes a, b;
	assert_int_equal(hermes_encoder_init(&enc, buf, sizeof buf), HERMES_OK);
	assert_int_equal(hermes_encode(&enc, HERMES_MSG_PUBLISH, 1, "0123456789", 10, &a),
			 HERMES_OK);
	assert_int_equal(hermes_encode(&enc, HERMES_MSG_PUBLISH, 2, "abcdefghij", 10, &b),
			 HERMES_OK);
	size_t total = a.len + b.len;

	/* Every cut inside the second frame: the first comes out whole, the
	 * second is "need more", and needed says how far it is to its end or
	 * its header's end. */
	for (size_t cut = a.len; cut < total; cut++) {
		hermes_decoder dec;
		hermes_frame f;
		assert_int_equal(hermes_decoder_init(&dec, buf, cut), HERMES_OK);
		assert_int_equal(hermes_decoder_next(&dec, &f), HERMES_OK);
		assert_true(f.header.sequence == 1);
		assert_int_equal(hermes_decoder_next(&dec, &f), HERMES_ENEEDMORE);
		assert_int_equal(hermes_decoder_next(&dec, &f), HERMES_ENEEDMORE); /* stable */
		assert_int_equal(hermes_decoder_consumed(&dec), a.len);
		size_t have = cut - a.len;
		size_t need = have < HERMES_HEADER_SIZE ? HERMES_HEADER_SIZE - have : total - cut;
		assert_int_equal(hermes_decoder_needed(&dec), need);
	}
	/* An empty buffer, and one used up exactly, also need more. */
	hermes_decoder dec;
	hermes_frame f;
	assert_int_equal(hermes_decoder_init(&dec, NULL, 0), HERMES_OK);
	assert_int_equal(hermes_decoder_next(&dec, &f), HERMES_ENEEDMORE);
	assert_int_equal(hermes_decoder_needed(&dec), HERMES_HEADER_SIZE);
	assert_int_equal(hermes_decoder_init(&dec, buf, total), HERMES_OK);
	assert_int_equal(hermes_decoder_next(&dec, &f), HERMES_OK);
	assert_int_equal(hermes_decoder_next(&dec, &f), HERMES_OK);
	assert_int_equal(hermes_decoder_next(&dec, &f), HERMES_ENEEDMORE);
	assert_int_equal(hermes_decoder_consumed(&dec), total);
	assert_int_equal(hermes_decoder_init(&dec, NULL, 5), HERMES_EINVAL);
}

/* ------------------------------------------------------------------------ */
/* Malformed input: each class gets its own code, at the earliest byte that
 * shows it, however the bytes are split. */

struct bad_case {
	const char *what;
	uint8_t frame[64];
	size_t len;
	hermes_err want;
	hermes_phase phase;
	hermes_role role;
};

static struct bad_case bad(const char *what, hermes_err want, uint8_t type, uint16_t flags,
			   uint32_t len, uint32_t channel, uint64_t seq)
{
	struct bad_case c;
	memset(&c, 0, sizeof c);
	c.what = what;
	c.want = want;
	put_header(c.frame, type, flags, len, channel, seq);
	c.len = HERMES_HEADER_SIZE + (len < 40 ? len : 0);
	return c;
}

static size_t bad_cases(struct bad_case *c)
{
	size_t n = 0;
	c[n++] = bad("first magic byte", HERMES_EBADMAGIC, HERMES_MSG_PING, 0, 0, 0, 0);
	c[n - 1].frame[0] = 'h';
	c[n++] = bad("second magic byte", HERMES_EBADMAGIC, HERMES_MSG_PING, 0, 0, 0, 0);
	c[n - 1].frame[1] = 'X';
	c[n++] = bad("version 0", HERMES_EBADVERSION, HERMES_MSG_PING, 0, 0, 0, 0);
	c[n - 1].frame[2] = 0;
	c[n++] = bad("version 2", HERMES_EBADVERSION, HERMES_MSG_PING, 0, 0, 0, 0);
	c[n - 1].frame[2] = 2;
	c[n++] = bad("type 0", HERMES_EBADTYPE, 0x00, 0, 0, 0, 0);
	c[n++] = bad("type 0x06", HERMES_EBADTYPE, 0x06, 0, 0, 0, 0);
	c[n++] = bad("type 0x40", HERMES_EBADTYPE, 0x40, 0, 0, 0, 0);
	c[n++] = bad("type 0xFF", HERMES_EBADTYPE, 0xFF, 0, 0, 0, 0);
	c[n++] = bad("undefined flag bit", HERMES_EBADFLAGS, HERMES_MSG_PING, 0x0004, 0, 0, 0);
	c[n++] = bad("top flag bit", HERMES_EBADFLAGS, HERMES_MSG_DELIVER, 0x8000, 0, 1, 1);
	c[n++] = bad("ack flag on DELIVER", HERMES_EBADFLAGS, HERMES_MSG_DELIVER,
		     HERMES_FLAG_ACK_REQUESTED, 0, 1, 1);
	c[n++] = bad("encrypted flag on HELLO", HERMES_EBADFLAGS, HERMES_MSG_HELLO,
		     HERMES_FLAG_ENCRYPTED, 12 + 16, 0, 0);
	c[n++] = bad("reserved header bytes", HERMES_EBADFLAGS, HERMES_MSG_PING, 0, 0, 0, 0);
	c[n - 1].frame[7] = 1;
	c[n++] = bad("channel on PING", HERMES_EBADFLAGS, HERMES_MSG_PING, 0, 0, 5, 0);
	c[n++] = bad("sequence on GOODBYE", HERMES_EBADFLAGS, HERMES_MSG_GOODBYE, 0, 4, 0, 1);
	c[n++] = bad("channel on HELLO", HERMES_EBADFLAGS, HERMES_MSG_HELLO, 0, 12, 1, 0);
	c[n++] = bad("length over max", HERMES_ETOOBIG, HERMES_MSG_PUBLISH, 0,
		     HERMES_DEFAULT_MAX_FRAME - HERMES_HEADER_SIZE + 1, 1, 1);
	c[n++] = bad("length 4 GiB - 1", HERMES_ETOOBIG, HERMES_MSG_DELIVER, 0, UINT32_MAX, 1, 1);
	c[n++] = bad("payload on PING", HERMES_EBADPAYLOAD, HERMES_MSG_PING, 0, 1, 0, 0);
	c[n++] = bad("short AUTH_OK", HERMES_EBADPAYLOAD, HERMES_MSG_AUTH_OK, 0, 31, 0, 0);
	c[n++] = bad("long LOSS", HERMES_EBADPAYLOAD, HERMES_MSG_LOSS, 0, 9, 1, 1);
	c[n++] = bad("sealed PING without tag", HERMES_EBADPAYLOAD, HERMES_MSG_PING,
		     HERMES_FLAG_ENCRYPTED, 15, 0, 0);
	c[n++] = bad("HELLO in session", HERMES_EHANDSHAKE, HERMES_MSG_HELLO, 0, 12, 0, 0);
	c[n - 1].phase = HERMES_PHASE_SESSION;
	c[n++] = bad("PUBLISH before hello", HERMES_EHANDSHAKE, HERMES_MSG_PUBLISH, 0, 0, 1, 1);
	c[n - 1].phase = HERMES_PHASE_HELLO;
	c[n++] = bad("PING during auth", HERMES_EHANDSHAKE, HERMES_MSG_PING, 0, 0, 0, 0);
	c[n - 1].phase = HERMES_PHASE_AUTH;
	c[n++] =
		bad("AUTH_OK sent to a server", HERMES_EHANDSHAKE, HERMES_MSG_AUTH_OK, 0, 32, 0, 0);
	c[n - 1].role = HERMES_ROLE_SERVER;
	c[n++] = bad("PUBLISH sent to a client", HERMES_EHANDSHAKE, HERMES_MSG_PUBLISH, 0, 0, 1, 1);
	c[n - 1].role = HERMES_ROLE_CLIENT;
	c[n - 1].phase = HERMES_PHASE_SESSION;
	return n;
}

static void test_every_malformed_input_class_gets_its_own_error(void **state)
{
	(void)state;
	struct bad_case cases[40];
	size_t n = bad_cases(cases);
	for (size_t i = 0; i < n; i++) {
		hermes_decoder dec;
		hermes_frame f;
		assert_int_equal(hermes_decoder_init(&dec, cases[i].frame, cases[i].len),
				 HERMES_OK);
		hermes_decoder_set_phase(&dec, cases[i].phase);
		hermes_decoder_set_role(&dec, cases[i].role);
		hermes_err err = hermes_decoder_next(&dec, &f);
		if (err != cases[i].want)
			fail_msg("%s: got %s, want %s", cases[i].what, hermes_err_name(err),
				 hermes_err_name(cases[i].want));
		/* The decoder stays put, and answers the same again. */
		assert_int_equal(hermes_decoder_consumed(&dec), 0);
		assert_int_equal(hermes_decoder_next(&dec, &f), cases[i].want);
		assert_int_equal(hermes_decoder_needed(&dec), 0);
		assert_string_not_equal(hermes_strerror(err), "unknown error");
	}
	/* The same headers are fine where the phase and role allow them. */
	uint8_t ok[HERMES_HEADER_SIZE + 32] = {0};
	put_header(ok, HERMES_MSG_AUTH_OK, 0, 32, 0, 0);
	hermes_decoder dec;
	hermes_frame f;
	hermes_decoder_init(&dec, ok, sizeof ok);
	hermes_decoder_set_phase(&dec, HERMES_PHASE_AUTH);
	hermes_decoder_set_role(&dec, HERMES_ROLE_CLIENT);
	assert_int_equal(hermes_decoder_next(&dec, &f), HERMES_OK);
}

/* The verdict does not depend on how the bytes arrive: fed one byte at a
 * time after a good frame, each bad case fails with the same code, and the
 * good frame before it still comes out. Errors that a header prefix already
 * shows arrive before the whole header does. */
static void test_errors_are_the_same_however_the_stream_is_split(void **state)
{
	(void)state;
	struct bad_case cases[40];
	size_t n = bad_cases(cases);
	for (size_t i = 0; i < n; i++) {
		if (cases[i].phase != HERMES_PHASE_ANY || cases[i].role != HERMES_ROLE_ANY)
			continue;
		uint8_t s[HERMES_HEADER_SIZE + 64];
		put_header(s, HERMES_MSG_PING, 0, 0, 0, 9);
		memcpy(s + HERMES_HEADER_SIZE, cases[i].frame, cases[i].len);
		struct seen got[2];
		size_t ngot;
		hermes_err err = stream_decode(s, HERMES_HEADER_SIZE + cases[i].len, NULL, 1,
					       HERMES_DEFAULT_MAX_FRAME, got, 2, &ngot);
		if (err != cases[i].want)
			fail_msg("%s split: got %s, want %s", cases[i].what, hermes_err_name(err),
				 hermes_err_name(cases[i].want));
		assert_int_equal(ngot, 1);
		assert_true(got[0].seq == 9);
	}
	/* A bad magic byte is refused alone, without waiting for a header. */
	hermes_frame f;
	assert_int_equal(decode_one("X", 1, &f), HERMES_EBADMAGIC);
	assert_int_equal(decode_one("H", 1, &f), HERMES_ENEEDMORE);
	/* An oversized length is refused once its 12 bytes are in, before any
	 * payload (so before anything would be buffered for it). */
	uint8_t h[HERMES_HEADER_SIZE];
	put_header(h, HERMES_MSG_PUBLISH, 0, UINT32_MAX, 1, 1);
	assert_int_equal(decode_one(h, 11, &f), HERMES_ENEEDMORE);
	assert_int_equal(decode_one(h, 12, &f), HERMES_ETOOBIG);
}

static void test_max_frame_is_configurable_and_bounded(void **state)
{
	(void)state;
	hermes_decoder dec;
	hermes_frame f;
	uint8_t h[HERMES_HEADER_SIZE];
	put_header(h, HERMES_MSG_PUBLISH, 0, 5000, 1, 1);
	assert_int_equal(hermes_decoder_init(&dec, h, sizeof h), HERMES_OK);
	assert_int_equal(hermes_decoder_next(&dec, &f), HERMES_ENEEDMORE);
	assert_int_equal(hermes_decoder_set_max_frame(&dec, 5000), HERMES_OK);
	assert_int_equal(hermes_decoder_next(&dec, &f), HERMES_ETOOBIG);
	assert_int_equal(hermes_decoder_set_max_frame(&dec, 5024), HERMES_OK);
	assert_int_equal(hermes_decoder_next(&dec, &f), HERMES_ENEEDMORE);
	assert_int_equal(hermes_decoder_needed(&dec), 5000);

	assert_int_equal(hermes_decoder_set_max_frame(&dec, HERMES_MIN_MAX_FRAME - 1),
			 HERMES_EINVAL);
	assert_int_equal(hermes_decoder_set_max_frame(&dec, HERMES_FRAME_LIMIT + 1), HERMES_EINVAL);
	assert_int_equal(hermes_decoder_set_phase(&dec, (hermes_phase)4), HERMES_EINVAL);
	assert_int_equal(hermes_decoder_set_role(&dec, (hermes_role)3), HERMES_EINVAL);

	hermes_encoder enc;
	uint8_t buf[64];
	assert_int_equal(hermes_encoder_init(&enc, buf, sizeof buf), HERMES_OK);
	assert_int_equal(hermes_encoder_set_max_frame(&enc, 100), HERMES_EINVAL);
	assert_int_equal(hermes_encoder_set_max_frame(&enc, HERMES_FRAME_LIMIT), HERMES_OK);
}

/* ------------------------------------------------------------------------ */
/* Encoder */

static void test_encoder_reports_nobufs_until_reset_and_toobig_when_never_fits(void **state)
{
	(void)state;
	uint8_t buf[100];
	hermes_encoder enc;
	hermes_wire_bytes f;
	assert_int_equal(hermes_encoder_init(&enc, buf, sizeof buf), HERMES_OK);
	assert_int_equal(hermes_encode(&enc, HERMES_MSG_DELIVER, 1, "0123456789", 10, &f),
			 HERMES_OK);
	assert_int_equal(hermes_encode(&enc, HERMES_MSG_DELIVER, 2, "0123456789", 10, &f),
			 HERMES_OK);
	/* 68 bytes used; a 34-byte frame does not fit now, fits after reset. */
	assert_int_equal(hermes_encode(&enc, HERMES_MSG_DELIVER, 3, "0123456789", 10, &f),
			 HERMES_ENOBUFS);
	assert_int_equal(hermes_encoder_data(&enc).len, 68);
	hermes_encoder_reset(&enc);
	assert_int_equal(hermes_encoder_data(&enc).len, 0);
	assert_int_equal(hermes_encode(&enc, HERMES_MSG_DELIVER, 3, "0123456789", 10, &f),
			 HERMES_OK);
	assert_ptr_equal(f.data, buf);
	/* Bigger than the whole buffer: no reset will help. */
	static const uint8_t big[100];
	assert_int_equal(hermes_encode(&enc, HERMES_MSG_DELIVER, 4, big, 77, &f), HERMES_ETOOBIG);
	hermes_encoder_reset(&enc);
	assert_int_equal(hermes_encode(&enc, HERMES_MSG_DELIVER, 4, big, 76, &f), HERMES_OK);
	assert_int_equal(f.len, 100);
}

static void test_encoder_over_caller_memory_never_writes_past_its_capacity(void **state)
{
	(void)state;
	uint8_t mem[200];
	memset(mem, 0xA5, sizeof mem);
	hermes_encoder enc;
	assert_int_equal(hermes_encoder_init(&enc, mem + 50, 100), HERMES_OK);
	uint8_t body[100] = {0};
	for (size_t len = 0; len < 100; len++) {
		hermes_err err;
		while ((err = hermes_encode(&enc, HERMES_MSG_PUBLISH, 1, body, len % 77, NULL)) ==
		       HERMES_OK)
			;
		assert_int_equal(err, HERMES_ENOBUFS);
		hermes_encoder_reset(&enc);
	}
	for (size_t i = 0; i < 50; i++) {
		assert_int_equal(mem[i], 0xA5);
		assert_int_equal(mem[150 + i], 0xA5);
	}
	hermes_encoder_fini(&enc);
	assert_int_not_equal(hermes_encode(&enc, HERMES_MSG_PING, 1, NULL, 0, NULL), HERMES_OK);
}

static void test_encoder_rejects_frames_the_decoder_would_reject(void **state)
{
	(void)state;
	uint8_t buf[256];
	hermes_encoder enc;
	assert_int_equal(hermes_encoder_init(&enc, buf, sizeof buf), HERMES_OK);
	assert_int_equal(hermes_encode(&enc, (hermes_msg_type)0, 0, NULL, 0, NULL),
			 HERMES_EBADTYPE);
	assert_int_equal(hermes_encode(&enc, (hermes_msg_type)0x99, 0, NULL, 0, NULL),
			 HERMES_EBADTYPE);
	assert_int_equal(hermes_encode(&enc, HERMES_MSG_HELLO, 1, buf, 12, NULL), HERMES_EBADFLAGS);
	assert_int_equal(hermes_encode(&enc, HERMES_MSG_PING, 0, "x", 1, NULL), HERMES_EBADPAYLOAD);
	assert_int_equal(hermes_encode(&enc, HERMES_MSG_LOSS, 0, "1234567", 7, NULL),
			 HERMES_EBADPAYLOAD);
	hermes_frame_header h = {.type = HERMES_MSG_PONG, .channel = 1};
	assert_int_equal(hermes_encode_frame(&enc, &h, NULL, 0, NULL), HERMES_EBADFLAGS);
	h = (hermes_frame_header){.type = HERMES_MSG_PONG, .flags = 0x10};
	assert_int_equal(hermes_encode_frame(&enc, &h, NULL, 0, NULL), HERMES_EBADFLAGS);
	/* A sealed frame's length includes the tag. */
	h = (hermes_frame_header){.type = HERMES_MSG_PONG, .flags = HERMES_FLAG_ENCRYPTED};
	assert_int_equal(hermes_encode_frame(&enc, &h, buf, 0, NULL), HERMES_EBADPAYLOAD);
	assert_int_equal(hermes_encode_frame(&enc, &h, buf + 100, HERMES_SEAL_TAG_SIZE, NULL),
			 HERMES_OK);
	assert_int_equal(hermes_encoder_data(&enc).len, HERMES_HEADER_SIZE + HERMES_SEAL_TAG_SIZE);
	/* Only a PUBLISH may ask for an ack. */
	h = (hermes_frame_header){.type = HERMES_MSG_PUBLISH, .flags = HERMES_FLAG_ACK_REQUESTED};
	assert_int_equal(hermes_encode_frame(&enc, &h, NULL, 0, NULL), HERMES_OK);
	h.type = HERMES_MSG_BIND;
	assert_int_equal(hermes_encode_frame(&enc, &h, "r", 1, NULL), HERMES_EBADFLAGS);
}

static void test_encoder_claim_hands_out_the_payload_in_place(void **state)
{
	(void)state;
	uint8_t buf[128];
	hermes_encoder enc;
	uint8_t *payload;
	hermes_wire_bytes f;
	hermes_frame_header h = {.type = HERMES_MSG_DELIVER, .channel = 2, .sequence = 10};
	assert_int_equal(hermes_encoder_init(&enc, buf, sizeof buf), HERMES_OK);
	assert_int_equal(hermes_encoder_claim(&enc, &h, 5, &payload, &f), HERMES_OK);
	assert_ptr_equal(payload, buf + HERMES_HEADER_SIZE);
	memcpy(payload, "12345", 5);
	hermes_frame d;
	assert_int_equal(decode_one(f.data, f.len, &d), HERMES_OK);
	assert_memory_equal(d.payload, "12345", 5);
	assert_int_equal(hermes_encoder_claim(&enc, &h, 200, &payload, &f), HERMES_ETOOBIG);
	assert_int_equal(hermes_encoder_claim(&enc, &h, 80, &payload, &f), HERMES_ENOBUFS);
}

static void test_encoder_create_and_init_check_their_arguments(void **state)
{
	(void)state;
	hermes_encoder *enc = (hermes_encoder *)1;
	assert_int_equal(hermes_encoder_create(10, &enc), HERMES_EINVAL);
	assert_null(enc);
	assert_int_equal(hermes_encoder_create(0, NULL), HERMES_EINVAL);
	assert_int_equal(hermes_encoder_create(0, &enc), HERMES_OK);
	/* Capacity 0 means the 64 KiB default: 64 KiB frames fit exactly. */
	static const uint8_t body[HERMES_ENCODER_DEFAULT_CAPACITY];
	assert_int_equal(hermes_encode(enc, HERMES_MSG_PUBLISH, 1, body,
				       HERMES_ENCODER_DEFAULT_CAPACITY - HERMES_HEADER_SIZE, NULL),
			 HERMES_OK);
	hermes_encoder_destroy(enc);
	hermes_encoder_destroy(NULL);

	hermes_encoder local;
	uint8_t buf[16];
	assert_int_equal(hermes_encoder_init(&local, buf, sizeof buf), HERMES_EINVAL);
	assert_int_equal(hermes_encoder_init(&local, NULL, 100), HERMES_EINVAL);
	assert_int_equal(hermes_encoder_init(NULL, buf, sizeof buf), HERMES_EINVAL);
	hermes_encoder_destroy(&local); /* owns nothing: ignored */
}

/* ------------------------------------------------------------------------ */
/* Structured payloads */

struct bad_payload {
	const char *what;
	uint8_t type;
	const char *bytes; /* written as a C string with explicit \x escapes */
	size_t len;
};

#define BP(what, type, lit) {what, type, lit, sizeof(lit) - 1}

static const struct bad_payload bad_payloads[] = {
	BP("hello reserved byte", HERMES_MSG_HELLO,
	   "\x01\x01\x00\x01\x00\x00\x00\x00\x00\x10\x00\x00"),
	BP("hello min > max", HERMES_MSG_HELLO, "\x02\x01\x00\x00\x00\x00\x00\x00\x00\x10\x00\x00"),
	BP("hello version 0", HERMES_MSG_HELLO, "\x00\x01\x00\x00\x00\x00\x00\x00\x00\x10\x00\x00"),
	BP("hello max frame < 4096", HERMES_MSG_HELLO,
	   "\x01\x01\x00\x00\x00\x00\x00\x00\xff\x0f\x00\x00"),
	BP("hello identity length past end", HERMES_MSG_HELLO,
	   "\x01\x01\x05\x00\x00\x00\x00\x00\x00\x10\x00\x00"
	   "abcd"),
	BP("hello identity length short of end", HERMES_MSG_HELLO,
	   "\x01\x01\x03\x00\x00\x00\x00\x00\x00\x10\x00\x00"
	   "abcd"),
	BP("hello identity with space", HERMES_MSG_HELLO,
	   "\x01\x01\x03\x00\x00\x00\x00\x00\x00\x10\x00\x00"
	   "a b"),
	BP("hello identity with control", HERMES_MSG_HELLO,
	   "\x01\x01\x03\x00\x00\x00\x00\x00\x00\x10\x00\x00"
	   "a\nb"),
	BP("welcome reserved byte 1", HERMES_MSG_WELCOME,
	   "\x01\x01\x00\x00\x00\x00\x00\x00\x00\x10\x00\x00"),
	BP("welcome version 0", HERMES_MSG_WELCOME,
	   "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x10\x00\x00"),
	BP("welcome name with DEL", HERMES_MSG_WELCOME,
	   "\x01\x00\x01\x00\x00\x00\x00\x00\x00\x10\x00\x00\x7f"),
	BP("bind empty", HERMES_MSG_BIND, ""),
	BP("bind name with slash ok but space not", HERMES_MSG_BIND, "a/b c"),
	BP("bound policy 2", HERMES_MSG_BOUND, "\x00\x10\x00\x00\x02\x00\x00\x00"),
	BP("bound reserved", HERMES_MSG_BOUND, "\x00\x10\x00\x00\x00\x00\x01\x00"),
	BP("subscribed short", HERMES_MSG_SUBSCRIBED, "\x00\x10\x00\x00\x00\x00\x00"),
	BP("subscribe start 3", HERMES_MSG_SUBSCRIBE,
	   "\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00r"),
	BP("subscribe seq with latest", HERMES_MSG_SUBSCRIBE,
	   "\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00r"),
	BP("subscribe reserved", HERMES_MSG_SUBSCRIBE,
	   "\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00r"),
	BP("subscribe no name", HERMES_MSG_SUBSCRIBE,
	   "\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"),
	BP("error code 0", HERMES_MSG_ERROR, "\x00\x00\x00\x00\x00\x00\x00\x00"),
	BP("error fatal 2", HERMES_MSG_ERROR, "\x03\x00\x00\x00\x00\x00\x02\x00"),
	BP("error reserved", HERMES_MSG_ERROR, "\x03\x00\x00\x00\x00\x00\x00\x01"),
	BP("error text length past end", HERMES_MSG_ERROR, "\x03\x00\x00\x00\x02\x00\x00\x00x"),
	BP("error text length short", HERMES_MSG_ERROR, "\x03\x00\x00\x00\x00\x00\x00\x00x"),
	BP("error text with NUL", HERMES_MSG_ERROR, "\x03\x00\x00\x00\x02\x00\x00\x00x\x00"),
	BP("goodbye short", HERMES_MSG_GOODBYE, "\x00\x00\x00"),
	BP("publish ack long", HERMES_MSG_PUBLISH_ACK, "\x00\x00\x00\x00\x00\x00\x00\x00\x00"),
	BP("unsubscribe with payload", HERMES_MSG_UNSUBSCRIBE, "x"),
	BP("auth ok short", HERMES_MSG_AUTH_OK, "0123456789012345678901234567890"),
};

static void test_malformed_payloads_are_rejected(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad_payloads / sizeof bad_payloads[0]; i++) {
		const struct bad_payload *b = &bad_payloads[i];
		hermes_wire_msg m;
		hermes_err err = hermes_wire_msg_parse(b->type, b->bytes, b->len, &m);
		if (err != HERMES_EBADPAYLOAD)
			fail_msg("%s: got %s", b->what, hermes_err_name(err));
	}
	hermes_wire_msg m;
	assert_int_equal(hermes_wire_msg_parse(0x3D, "", 0, &m), HERMES_EBADTYPE);
	assert_int_equal(hermes_wire_msg_parse(HERMES_MSG_PING, NULL, 3, &m), HERMES_EINVAL);
	assert_int_equal(hermes_wire_msg_parse(HERMES_MSG_PING, NULL, 0, &m), HERMES_OK);
	/* The edges that are fine: the longest names and text. */
	uint8_t p[HERMES_ERROR_MAX];
	memset(p, 'z', sizeof p);
	assert_int_equal(hermes_wire_msg_parse(HERMES_MSG_BIND, p, HERMES_WIRE_NAME_MAX, &m),
			 HERMES_OK);
	assert_int_equal(hermes_wire_msg_parse(HERMES_MSG_BIND, p, HERMES_WIRE_NAME_MAX + 1, &m),
			 HERMES_EBADPAYLOAD);
	memcpy(p, "\x05\x00\x00\x00\x00\x04\x01\x00", 8); /* 1024 bytes of text, fatal */
	assert_int_equal(hermes_wire_msg_parse(HERMES_MSG_ERROR, p, HERMES_ERROR_MAX, &m),
			 HERMES_OK);
	assert_int_equal(m.error.text_len, HERMES_ERROR_TEXT_MAX);
	assert_int_equal(m.error.fatal, 1);
}

/* ERROR text is UTF-8 without NUL, checked by core/utf8.c both ways:
 * parsing refuses the rest as a malformed payload, writing as EINVAL. */
static void test_error_text_must_be_utf8(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		size_t len;
		int ok;
	} cases[] = {
		{"plain ascii", 11, 1},
		{"caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9d\x84\x9e", 14, 1},
		{"\xf4\x8f\xbf\xbf", 4, 1},	   /* U+10FFFF */
		{"\xff\xfe", 2, 0},		   /* the issue's bytes */
		{"\xc0\x80", 2, 0},		   /* overlong NUL */
		{"\xe0\x80\xaf", 3, 0},		   /* overlong '/' */
		{"\xed\xa0\x80", 3, 0},		   /* surrogate U+D800 */
		{"\xf4\x90\x80\x80", 4, 0},	   /* above U+10FFFF */
		{"ok \xe2\x82", 5, 0},		   /* truncated at the end */
		{"\x80 stray", 7, 0},		   /* continuation byte first */
		{"nul\0inside", 11, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t p[64];
		memcpy(p, "\x03\x00\x00\x00", 4);
		p[4] = (uint8_t)cases[i].len;
		p[5] = p[6] = p[7] = 0;
		memcpy(p + 8, cases[i].text, cases[i].len);
		hermes_wire_msg m;
		hermes_err want = cases[i].ok ? HERMES_OK : HERMES_EBADPAYLOAD;
		hermes_err got = hermes_wire_msg_parse(HERMES_MSG_ERROR, p, 8 + cases[i].len, &m);
		if (got != want)
			fail_msg("case %zu: parse %s, want %s", i, hermes_err_name(got),
				 hermes_err_name(want));
		m.type = HERMES_MSG_ERROR;
		m.error = (hermes_wire_error){HERMES_EINVAL, 0, cases[i].text, cases[i].len};
		uint8_t out[64];
		size_t n;
		want = cases[i].ok ? HERMES_OK : HERMES_EINVAL;
		got = hermes_wire_msg_write(&m, out, sizeof out, &n);
		if (got != want)
			fail_msg("case %zu: write %s, want %s", i, hermes_err_name(got),
				 hermes_err_name(want));
	}
}

static void test_writers_reject_out_of_range_fields(void **state)
{
	(void)state;
	uint8_t out[2048];
	size_t n;
	char name[300];
	memset(name, 'n', sizeof name);
	hermes_wire_msg m;

	memset(&m, 0, sizeof m);
	m.type = HERMES_MSG_HELLO;
	m.hello = (hermes_wire_hello){1, 1, 0, 4096, name, 256};
	assert_int_equal(hermes_wire_msg_write(&m, out, sizeof out, &n), HERMES_EINVAL);
	m.hello.identity_len = 255;
	assert_int_equal(hermes_wire_msg_write(&m, out, sizeof out, &n), HERMES_OK);
	assert_int_equal(n, HERMES_HELLO_MAX);
	m.hello.max_frame = 4095;
	assert_int_equal(hermes_wire_msg_write(&m, out, sizeof out, &n), HERMES_EINVAL);
	m.hello.max_frame = 4096;
	m.hello.identity = NULL;
	assert_int_equal(hermes_wire_msg_write(&m, out, sizeof out, &n), HERMES_EINVAL);

	m.type = HERMES_MSG_SUBSCRIBE;
	m.subscribe = (hermes_wire_subscribe){HERMES_WIRE_START_LATEST, 5, "r", 1};
	assert_int_equal(hermes_wire_msg_write(&m, out, sizeof out, &n), HERMES_EINVAL);
	m.subscribe = (hermes_wire_subscribe){HERMES_WIRE_START_EARLIEST, 0, "", 0};
	assert_int_equal(hermes_wire_msg_write(&m, out, sizeof out, &n), HERMES_EINVAL);

	m.type = HERMES_MSG_ERROR;
	m.error = (hermes_wire_error){HERMES_OK, 0, "x", 1};
	assert_int_equal(hermes_wire_msg_write(&m, out, sizeof out, &n), HERMES_EINVAL);
	m.error = (hermes_wire_error){HERMES_EPERM, 0, name, HERMES_ERROR_TEXT_MAX + 1};
	assert_int_equal(hermes_wire_msg_write(&m, out, sizeof out, &n), HERMES_EINVAL);
	m.error = (hermes_wire_error){HERMES_EPERM, 2, "x", 1};
	assert_int_equal(hermes_wire_msg_write(&m, out, sizeof out, &n), HERMES_EINVAL);
	m.error = (hermes_wire_error){HERMES_EPERM, 0, "\xff\xfe", 2};
	assert_int_equal(hermes_wire_msg_write(&m, out, sizeof out, &n), HERMES_EINVAL);

	m.type = HERMES_MSG_BOUND;
	m.ring = (hermes_wire_ring_info){10, 2};
	assert_int_equal(hermes_wire_msg_write(&m, out, sizeof out, &n), HERMES_EINVAL);

	m.type = 0x2F;
	assert_int_equal(hermes_wire_msg_write(&m, out, sizeof out, &n), HERMES_EBADTYPE);

	/* Too small an output: nothing written, the size still told. */
	m.type = HERMES_MSG_BIND;
	m.bind = (hermes_wire_bind){"orders", 6};
	memset(out, 0xEE, 8);
	assert_int_equal(hermes_wire_msg_write(&m, out, 5, &n), HERMES_ENOBUFS);
	assert_int_equal(n, 6);
	assert_int_equal(out[0], 0xEE);
	assert_int_equal(hermes_wire_msg_write(&m, NULL, 0, &n), HERMES_ENOBUFS);
	assert_int_equal(n, 6);

	/* hermes_wire_msg_encode refuses the same, and appends nothing. */
	hermes_encoder enc;
	uint8_t buf[64];
	assert_int_equal(hermes_encoder_init(&enc, buf, sizeof buf), HERMES_OK);
	m.type = HERMES_MSG_ERROR;
	m.error = (hermes_wire_error){HERMES_OK, 0, "x", 1};
	assert_int_equal(hermes_wire_msg_encode(&enc, 0, 0, &m, NULL), HERMES_EINVAL);
	m.type = HERMES_MSG_GOODBYE;
	m.goodbye.code = 0;
	assert_int_equal(hermes_wire_msg_encode(&enc, 0, 5, &m, NULL), HERMES_EBADFLAGS);
	assert_int_equal(hermes_encoder_data(&enc).len, 0);
	assert_int_equal(hermes_encode(&enc, HERMES_MSG_PING, 1, NULL, 0, NULL), HERMES_OK);
	m.type = HERMES_MSG_BIND;
	m.bind = (hermes_wire_bind){name, 30};
	assert_int_equal(hermes_wire_msg_encode(&enc, 1, 0, &m, NULL), HERMES_ENOBUFS);
	assert_int_equal(hermes_encoder_data(&enc).len, HERMES_HEADER_SIZE);
}

/* Random payloads of plausible sizes for each type: whatever parses writes
 * back to exactly the same bytes (parsing is canonical). */
static void test_parse_then_write_gives_back_the_same_bytes(void **state)
{
	(void)state;
	uint64_t rng = 99;
	size_t parsed = 0;
	uint8_t p[300], out[300];
	for (int iter = 0; iter < 200000; iter++) {
		uint8_t type = all_types[ht_rand(&rng) % N_TYPES];
		size_t len = ht_rand(&rng) % 2 ? ht_rand(&rng) % 40 : ht_rand(&rng) % sizeof p;
		/* Mostly small bytes and printable ones, so that some parse. */
		for (size_t i = 0; i < len; i++) {
			uint64_t r = ht_rand(&rng);
			p[i] = (uint8_t)(r % 3 == 0   ? 0
					 : r % 3 == 1 ? 0x21 + (r >> 8) % 94
						      : r >> 16);
		}
		if (type == HERMES_MSG_HELLO || type == HERMES_MSG_WELCOME) {
			if (len >= 12) {
				p[2] = (uint8_t)(len - 12);
				p[9] = 0x10;
			}
		}
		hermes_wire_msg m;
		if (hermes_wire_msg_parse(type, p, len, &m) != HERMES_OK)
			continue;
		parsed++;
		size_t n;
		assert_int_equal(hermes_wire_msg_write(&m, out, sizeof out, &n), HERMES_OK);
		assert_bytes_equal(hermes_msg_type_name(type), p, len, out, n);
	}
	assert_true(parsed > 10000);
}

static void test_type_names_cover_exactly_the_message_types(void **state)
{
	(void)state;
	size_t named = 0;
	for (unsigned t = 0; t < 256; t++) {
		const char *name = hermes_msg_type_name(t);
		int known = memchr(all_types, (int)t, N_TYPES) != NULL && t != 0;
		assert_int_equal(name != NULL, known);
		named += name != NULL;
	}
	assert_int_equal(named, N_TYPES);
	assert_string_equal(hermes_msg_type_name(HERMES_MSG_PUBLISH), "PUBLISH");
	assert_null(hermes_msg_type_name(1000));
}

static void test_auth_transcript_covers_hello_welcome_and_both_nonces(void **state)
{
	(void)state;
	struct sample h = sample_of(HERMES_MSG_HELLO), w = sample_of(HERMES_MSG_WELCOME);
	struct sample c = sample_of(HERMES_MSG_AUTH_CHALLENGE);
	struct sample r = sample_of(HERMES_MSG_AUTH_RESPONSE);
	uint8_t tc[HERMES_AUTH_TRANSCRIPT_MAX], ts[HERMES_AUTH_TRANSCRIPT_MAX];
	size_t nc, ns;
	assert_int_equal(hermes_auth_transcript(HERMES_ROLE_CLIENT, &h.msg.hello, &w.msg.welcome,
						&c.msg.challenge, &r.msg.response, tc, &nc),
			 HERMES_OK);
	assert_int_equal(hermes_auth_transcript(HERMES_ROLE_SERVER, &h.msg.hello, &w.msg.welcome,
						&c.msg.challenge, &r.msg.response, ts, &ns),
			 HERMES_OK);
	assert_int_equal(nc, 16 + (12 + 5) + (12 + 3) + 4 * 32);
	assert_int_equal(ns, nc);
	assert_memory_equal(tc, "hermes auth v1 C", 16);
	assert_memory_equal(ts, "hermes auth v1 S", 16);
	assert_memory_equal(tc + 16, ts + 16, nc - 16);
	assert_memory_equal(tc + 16 + 12, "alice", 5);
	assert_memory_equal(tc + nc - 128, c.msg.challenge.nonce, 32);
	assert_memory_equal(tc + nc - 32, r.msg.response.kx_public_key, 32);

	/* The longest hello and welcome fit the documented maximum. */
	char name[HERMES_WIRE_NAME_MAX];
	memset(name, 'q', sizeof name);
	h.msg.hello.identity = name;
	h.msg.hello.identity_len = sizeof name;
	w.msg.welcome.name = name;
	w.msg.welcome.name_len = sizeof name;
	assert_int_equal(hermes_auth_transcript(HERMES_ROLE_SERVER, &h.msg.hello, &w.msg.welcome,
						&c.msg.challenge, &r.msg.response, ts, &ns),
			 HERMES_OK);
	assert_int_equal(ns, HERMES_AUTH_TRANSCRIPT_MAX);
	assert_int_equal(hermes_auth_transcript(HERMES_ROLE_ANY, &h.msg.hello, &w.msg.welcome,
						&c.msg.challenge, &r.msg.response, ts, &ns),
			 HERMES_EINVAL);
	h.msg.hello.max_frame = 1;
	assert_int_equal(hermes_auth_transcript(HERMES_ROLE_CLIENT, &h.msg.hello, &w.msg.welcome,
						&c.msg.challenge, &r.msg.response, ts, &ns),
			 HERMES_EINVAL);
}

/* ------------------------------------------------------------------------ */
/* docs/PROTOCOL.md: its worked examples and tables are checked against the
 * codec, so the document cannot drift from the code. */

#define DOC_PATH HERMES_SOURCE_DIR "/docs/PROTOCOL.md"

struct doc_block {
	char kind[8]; /* "frame" or "bytes" */
	char name[48];
	uint8_t bytes[1024];
	size_t len;
	int line;
};

enum { MAX_BLOCKS = 48 };
static struct doc_block blocks[MAX_BLOCKS];
static size_t nblocks;
static char *doc_text;

static char *read_doc(void)
{
	FILE *f = fopen(DOC_PATH, "rb");
	if (!f)
		fail_msg("cannot open %s", DOC_PATH);
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *text = malloc((size_t)size + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
	text[size] = '\0';
	fclose(f);
	return text;
}

/* Fenced blocks opened by "```hex frame NAME" or "```hex bytes NAME" hold
 * two-digit hex bytes separated by spaces; "#" starts a comment. */
static void parse_doc_blocks(const char *text)
{
	int lineno = 0;
	struct doc_block *cur = NULL;
	nblocks = 0;
	for (const char *line = text; *line;) {
		const char *end = strchr(line, '\n');
		size_t n = end ? (size_t)(end - line) : strlen(line);
		lineno++;
		if (!cur && n > 7 && strncmp(line, "```hex ", 7) == 0) {
			assert_true(nblocks < MAX_BLOCKS);
			cur = &blocks[nblocks++];
			memset(cur, 0, sizeof *cur);
			cur->line = lineno;
			char head[128];
			snprintf(head, sizeof head, "%.*s", (int)n, line);
			if (sscanf(head, "```hex %7s %47s", cur->kind, cur->name) != 2)
				fail_msg("PROTOCOL.md:%d: want ```hex frame|bytes NAME", lineno);
		} else if (cur && n >= 3 && strncmp(line, "```", 3) == 0) {
			cur = NULL;
		} else if (cur) {
			for (size_t i = 0; i < n && line[i] != '#';) {
				if (line[i] == ' ' || line[i] == '\t') {
					i++;
					continue;
				}
				int hi = hm_hex_digit(line[i]);
				int lo = i + 1 < n ? hm_hex_digit(line[i + 1]) : -1;
				int sep = i + 2 >= n || line[i + 2] == ' ' || line[i + 2] == '\t';
				if (hi < 0 || lo < 0 || !sep)
					fail_msg("PROTOCOL.md:%d: '%.*s' is not a hex byte", lineno,
						 (int)(n - i), line + i);
				assert_true(cur->len < sizeof cur->bytes);
				cur->bytes[cur->len++] = (uint8_t)(hi << 4 | lo);
				i += 2;
			}
		}
		line = end ? end + 1 : line + n;
	}
	if (cur)
		fail_msg("PROTOCOL.md:%d: hex block not closed", cur->line);
}

static const struct doc_block *doc_block(const char *kind, const char *name)
{
	for (size_t i = 0; i < nblocks; i++)
		if (strcmp(blocks[i].name, name) == 0) {
			assert_string_equal(blocks[i].kind, kind);
			return &blocks[i];
		}
	fail_msg("PROTOCOL.md has no example '%s'", name);
	return NULL;
}

/* The example session of PROTOCOL.md. Nonces and key-exchange secrets are
 * fixed byte ramps so anyone can recompute them; real ones are random. */
static void ramp(uint8_t *p, uint8_t from)
{
	for (int i = 0; i < 32; i++)
		p[i] = (uint8_t)(from + i);
}

struct example_auth {
	hermes_wire_hello hello;
	hermes_wire_welcome welcome;
	hermes_wire_auth_challenge challenge;
	hermes_wire_auth_response response;
	hermes_wire_auth_ok ok;
	uint8_t c2s_key[32], s2c_key[32];
	int have_keys;
};

static void example_auth(struct example_auth *a)
{
	memset(a, 0, sizeof *a);
	const uint32_t both = HERMES_FEATURE_AUTH | HERMES_FEATURE_ENCRYPT;
	a->hello = (hermes_wire_hello){1, 1, both, HERMES_DEFAULT_MAX_FRAME, "sensor-7", 8};
	a->welcome = (hermes_wire_welcome){1, both, HERMES_DEFAULT_MAX_FRAME, "bridge-a", 8};
	ramp(a->challenge.nonce, 0xA0);
	ramp(a->response.nonce, 0xC0);
#ifdef HERMES_TEST_SODIUM
	uint8_t psk[32], sk_s[32], sk_c[32], t[HERMES_AUTH_TRANSCRIPT_MAX];
	size_t n;
	assert_true(sodium_init() >= 0);
	ramp(psk, 0x00);
	ramp(sk_s, 0x40);
	ramp(sk_c, 0x60);
	assert_int_equal(crypto_scalarmult_base(a->challenge.kx_public_key, sk_s), 0);
	assert_int_equal(crypto_scalarmult_base(a->response.kx_public_key, sk_c), 0);
	assert_int_equal(hermes_auth_transcript(HERMES_ROLE_CLIENT, &a->hello, &a->welcome,
						&a->challenge, &a->response, t, &n),
			 HERMES_OK);
	crypto_auth_hmacsha512256(a->response.tag, t, n, psk);
	assert_int_equal(hermes_auth_transcript(HERMES_ROLE_SERVER, &a->hello, &a->welcome,
						&a->challenge, &a->response, t, &n),
			 HERMES_OK);
	crypto_auth_hmacsha512256(a->ok.tag, t, n, psk);
	/* Both ends derive the same pair of keys. */
	uint8_t rx_s[32], tx_s[32];
	assert_int_equal(crypto_kx_client_session_keys(a->s2c_key, a->c2s_key,
						       a->response.kx_public_key, sk_c,
						       a->challenge.kx_public_key),
			 0);
	assert_int_equal(crypto_kx_server_session_keys(rx_s, tx_s, a->challenge.kx_public_key, sk_s,
						       a->response.kx_public_key),
			 0);
	assert_memory_equal(rx_s, a->c2s_key, 32);
	assert_memory_equal(tx_s, a->s2c_key, 32);
	a->have_keys = 1;
#else
	/* Without libsodium the public keys and tags are taken from the
	 * document; everything around them is still checked. */
	hermes_frame f;
	hermes_wire_msg m;
	const struct doc_block *b = doc_block("frame", "auth-challenge");
	assert_int_equal(decode_one(b->bytes, b->len, &f), HERMES_OK);
	assert_int_equal(hermes_wire_msg_parse(f.header.type, f.payload, f.header.length, &m),
			 HERMES_OK);
	memcpy(a->challenge.kx_public_key, m.challenge.kx_public_key, 32);
	b = doc_block("frame", "auth-response");
	assert_int_equal(decode_one(b->bytes, b->len, &f), HERMES_OK);
	assert_int_equal(hermes_wire_msg_parse(f.header.type, f.payload, f.header.length, &m),
			 HERMES_OK);
	memcpy(a->response.kx_public_key, m.response.kx_public_key, 32);
	memcpy(a->response.tag, m.response.tag, 32);
	b = doc_block("frame", "auth-ok");
	assert_int_equal(decode_one(b->bytes, b->len, &f), HERMES_OK);
	memcpy(a->ok.tag, f.payload, 32);
#endif
}

/* Seal msg as frame number counter of its direction (PROTOCOL.md, "Session
 * encryption"): the header with ENCRYPTED and the sealed length is the
 * associated data. */
static void example_sealed(hermes_encoder *enc, const struct example_auth *a,
			   const hermes_frame_header *h, const hermes_wire_msg *msg,
			   uint64_t counter, const struct doc_block *doc)
{
	uint8_t plain[256];
	size_t n;
	uint8_t *payload;
	hermes_wire_bytes frame;
	assert_int_equal(hermes_wire_msg_write(msg, plain, sizeof plain, &n), HERMES_OK);
	assert_int_equal(hermes_encoder_claim(enc, h, n + HERMES_SEAL_TAG_SIZE, &payload, &frame),
			 HERMES_OK);
#ifdef HERMES_TEST_SODIUM
	uint8_t nonce[HERMES_SEAL_NONCE_SIZE] = {0};
	for (int i = 0; i < 8; i++)
		nonce[i] = (uint8_t)(counter >> (8 * i));
	unsigned long long clen;
	assert_true(a->have_keys);
	assert_int_equal(crypto_aead_chacha20poly1305_ietf_encrypt(payload, &clen, plain, n,
								   frame.data, HERMES_HEADER_SIZE,
								   NULL, nonce, a->c2s_key),
			 0);
	assert_int_equal(clen, n + HERMES_SEAL_TAG_SIZE);
	(void)doc;
#else
	/* Without libsodium only the header is checked. */
	(void)a;
	(void)counter;
	assert_int_equal(doc->len, frame.len);
	memcpy(payload, doc->bytes + HERMES_HEADER_SIZE, n + HERMES_SEAL_TAG_SIZE);
#endif
}

/* The examples that are one message on a channel with a sequence, as
 * hermes_wire_msg_encode writes them. */
static const struct {
	const char *name;
	uint32_t channel;
	uint64_t seq;
	hermes_wire_msg msg;
} plain_examples[] = {
	{"bind", 1, 0, {.type = HERMES_MSG_BIND, .bind = {"orders", 6}}},
	{"bound", 1, 0, {.type = HERMES_MSG_BOUND, .ring = {4096, HERMES_WIRE_POLICY_BLOCK}}},
	{"publish-ack", 1, 1, {.type = HERMES_MSG_PUBLISH_ACK, .ack = {.ring_seq = 42}}},
	{"subscribe", 2, 0, {.type = HERMES_MSG_SUBSCRIBE, .subscribe = {HERMES_WIRE_START_AT, 40, "orders", 6}}},
	{"subscribed", 2, 40, {.type = HERMES_MSG_SUBSCRIBED, .ring = {4096, HERMES_WIRE_POLICY_BLOCK}}},
	{"deliver", 2, 42, {.type = HERMES_MSG_DELIVER, .data = {(const uint8_t *)"hello", 5}}},
	{"loss", 2, 1000, {.type = HERMES_MSG_LOSS, .loss = {.count = 57}}},
	{"unsubscribe", 2, 0, {.type = HERMES_MSG_UNSUBSCRIBE}},
	{"unbind", 1, 0, {.type = HERMES_MSG_UNBIND}},
	{"ping", 0, 7, {.type = HERMES_MSG_PING}},
	{"pong", 0, 7, {.type = HERMES_MSG_PONG}},
	{"error", 3, 0, {.type = HERMES_MSG_ERROR, .error = {HERMES_ENOENT, 0, "no ring 'nosuch'", 16}}},
	{"goodbye", 0, 0, {.type = HERMES_MSG_GOODBYE, .goodbye = {.code = HERMES_OK}}},
	{"subscribe-unreachable", 4, 0, {.type = HERMES_MSG_SUBSCRIBE, .subscribe = {HERMES_WIRE_START_AT, UINT64_MAX, "orders", 6}}},
	{"subscribe-resume", 7, 0, {.type = HERMES_MSG_SUBSCRIBE, .subscribe = {HERMES_WIRE_START_AT, 1000, "orders", 6}}},
	{"subscribed-resume", 7, 1000, {.type = HERMES_MSG_SUBSCRIBED, .ring = {4096, HERMES_WIRE_POLICY_BLOCK}}},
	{"error-unreachable", 4, 0, {.type = HERMES_MSG_ERROR, .error = {HERMES_EINVAL, 0, "start sequence beyond any ring", 30}}},
	{"error-bad-flags", 0, 0, {.type = HERMES_MSG_ERROR, .error = {HERMES_EBADFLAGS, 1, "a sealed frame in a clear session", 33}}},
	{"loss-too-big", 2, 44, {.type = HERMES_MSG_LOSS, .loss = {.count = 1}}},
	{"error-limit", 65, 0, {.type = HERMES_MSG_ERROR, .error = {HERMES_ETOOMANY, 0, "at most 64 subscriptions per connection", 39}}},
	{"error-tag-0", 0, 0, {.type = HERMES_MSG_ERROR, .error = {HERMES_EBADPAYLOAD, 1, "a tagged PUBLISH (channel 1, sequence 3) with tag 0", 51}}},
	{"error-tags-not-negotiated", 0, 0, {.type = HERMES_MSG_ERROR, .error = {HERMES_EBADFLAGS, 1, "a tagged PUBLISH (channel 1, sequence 3) without the TAGS feature", 65}}},
	{"error-origin-0", 0, 0, {.type = HERMES_MSG_ERROR, .error = {HERMES_EBADPAYLOAD, 1, "a link PUBLISH (channel 1, sequence 5) with origin 0", 52}}},
};

static void build_example(hermes_encoder *enc, const char *name, const struct example_auth *a,
			  const struct doc_block *doc)
{
	hermes_wire_msg m;
	memset(&m, 0, sizeof m);
	for (size_t i = 0; i < sizeof plain_examples / sizeof plain_examples[0]; i++)
		if (strcmp(name, plain_examples[i].name) == 0) {
			assert_int_equal(hermes_wire_msg_encode(enc, plain_examples[i].channel,
								plain_examples[i].seq, &plain_examples[i].msg,
								NULL),
					 HERMES_OK);
			return;
		}
	if (strcmp(name, "hello") == 0) {
		m.type = HERMES_MSG_HELLO;
		m.hello = a->hello;
	} else if (strcmp(name, "welcome") == 0) {
		m.type = HERMES_MSG_WELCOME;
		m.welcome = a->welcome;
	} else if (strcmp(name, "auth-challenge") == 0) {
		m.type = HERMES_MSG_AUTH_CHALLENGE;
		m.challenge = a->challenge;
	} else if (strcmp(name, "auth-response") == 0) {
		m.type = HERMES_MSG_AUTH_RESPONSE;
		m.response = a->response;
	} else if (strcmp(name, "auth-ok") == 0) {
		m.type = HERMES_MSG_AUTH_OK;
		m.auth_ok = a->ok;
	} else if (strcmp(name, "sealed-bind") == 0) {
		hermes_frame_header h = {
			.type = HERMES_MSG_BIND, .flags = HERMES_FLAG_ENCRYPTED, .channel = 1};
		m.type = HERMES_MSG_BIND;
		m.bind = (hermes_wire_bind){"orders", 6};
		example_sealed(enc, a, &h, &m, 0, doc);
		return;
	} else if (strcmp(name, "sealed-publish") == 0) {
		hermes_frame_header h = {.type = HERMES_MSG_PUBLISH,
					 .flags = HERMES_FLAG_ENCRYPTED | HERMES_FLAG_ACK_REQUESTED,
					 .channel = 1,
					 .sequence = 1};
		m.type = HERMES_MSG_PUBLISH;
		m.data = (hermes_wire_bytes){(const uint8_t *)"hello", 5};
		example_sealed(enc, a, &h, &m, 1, doc);
		return;
	} else if (strcmp(name, "publish") == 0) {
		hermes_frame_header h = {.type = HERMES_MSG_PUBLISH,
					 .flags = HERMES_FLAG_ACK_REQUESTED,
					 .channel = 1,
					 .sequence = 1};
		assert_int_equal(hermes_encode_frame(enc, &h, "hello", 5, NULL), HERMES_OK);
		return;
	} else if (strcmp(name, "sealed-in-clear") == 0) {
		hermes_frame_header h = {
			.type = HERMES_MSG_PING, .flags = HERMES_FLAG_ENCRYPTED, .sequence = 7};
		static const uint8_t tag[HERMES_SEAL_TAG_SIZE];
		assert_int_equal(hermes_encode_frame(enc, &h, tag, sizeof tag, NULL), HERMES_OK);
		return;
	} else if (strcmp(name, "link-publish-origin-0") == 0) {
		hermes_frame_header h = {.type = HERMES_MSG_PUBLISH,
					 .flags = HERMES_FLAG_ACK_REQUESTED,
					 .channel = 1,
					 .sequence = 5};
		uint8_t p[16 + 5] = {0};
		p[8] = 2; /* origin 0, origin_sequence 2 */
		memcpy(p + 16, "hello", 5);
		assert_int_equal(hermes_encode_frame(enc, &h, p, sizeof p, NULL), HERMES_OK);
		return;
	} else if (strcmp(name, "publish-tagged") == 0 || strcmp(name, "deliver-tagged") == 0) {
		int pub = name[0] == 'p';
		hermes_frame_header h = {
			.type = pub ? HERMES_MSG_PUBLISH : HERMES_MSG_DELIVER,
			.flags = HERMES_FLAG_TAGGED | (pub ? HERMES_FLAG_ACK_REQUESTED : 0),
			.channel = pub ? 1 : 2,
			.sequence = pub ? 2 : 43};
		uint8_t p[4 + 5] = {42};
		memcpy(p + 4, "hello", 5);
		assert_int_equal(hermes_encode_frame(enc, &h, p, sizeof p, NULL), HERMES_OK);
		return;
	} else {
		fail_msg("PROTOCOL.md example '%s' is not known to the test", name);
	}
	/* The handshake: channel 0, sequence 0. */
	assert_int_equal(hermes_wire_msg_encode(enc, 0, 0, &m, NULL), HERMES_OK);
}

static const char *const frame_examples[] = {
	"hello",       "welcome",	 "auth-challenge", "auth-response", "auth-ok",
	"sealed-bind", "sealed-publish", "bind",	   "bound",	    "publish",
	"publish-ack", "subscribe",	 "subscribed",	   "deliver",	    "loss",
	"unsubscribe", "unbind",	 "ping",	   "pong",	    "error",
	"goodbye",
	/* Cases PROTOCOL.md decides (issue 20). */
	"subscribe-unreachable", "error-unreachable", "sealed-in-clear", "error-bad-flags",
	"loss-too-big", "error-limit", "link-publish-origin-0", "error-origin-0",
	/* Resuming a subscription from the journal (issue 15). */
	"subscribe-resume", "subscribed-resume",
	/* User tags (issue 18). */
	"publish-tagged", "deliver-tagged", "error-tag-0", "error-tags-not-negotiated",
};

/* "```hex refused NAME" blocks: frames the document shows being refused; the
 * header decodes, the payload parse fails with this error. */
static const struct {
	const char *name;
	hermes_err err;
} refused_examples[] = {
	{"error-not-utf8", HERMES_EBADPAYLOAD},
	{"publish-tag-0", HERMES_EBADPAYLOAD},
};

static void test_protocol_doc_examples_match_the_codec(void **state)
{
	(void)state;
	doc_text = read_doc();
	parse_doc_blocks(doc_text);
	size_t nframes = sizeof frame_examples / sizeof frame_examples[0];
	struct example_auth a;
	example_auth(&a);
	hermes_encoder *enc;
	assert_int_equal(hermes_encoder_create(0, &enc), HERMES_OK);

	for (size_t i = 0; i < nframes; i++) {
		const struct doc_block *b = doc_block("frame", frame_examples[i]);
		/* The document's bytes are exactly one valid frame ... */
		hermes_decoder dec;
		hermes_frame f;
		assert_int_equal(hermes_decoder_init(&dec, b->bytes, b->len), HERMES_OK);
		hermes_err err = hermes_decoder_next(&dec, &f);
		if (err != HERMES_OK)
			fail_msg("PROTOCOL.md:%d (%s): %s", b->line, b->name, hermes_err_name(err));
		assert_int_equal(hermes_decoder_consumed(&dec), b->len);
		if (!(f.header.flags & HERMES_FLAG_ENCRYPTED)) {
			hermes_wire_msg m;
			err = hermes_wire_msg_parse(f.header.type, f.payload, f.header.length, &m);
			if (err != HERMES_OK)
				fail_msg("PROTOCOL.md:%d (%s): payload %s", b->line, b->name,
					 hermes_err_name(err));
		}
		/* ... and exactly what the codec encodes for that message. */
		hermes_encoder_reset(enc);
		build_example(enc, b->name, &a, b);
		hermes_wire_bytes want = hermes_encoder_data(enc);
		char what[96];
		snprintf(what, sizeof what, "PROTOCOL.md:%d example '%s'", b->line, b->name);
		assert_bytes_equal(what, want.data, want.len, b->bytes, b->len);
	}

	/* The byte blocks: both transcripts, and the session keys. */
	uint8_t t[HERMES_AUTH_TRANSCRIPT_MAX];
	size_t n;
	const struct doc_block *b = doc_block("bytes", "transcript-client");
	assert_int_equal(hermes_auth_transcript(HERMES_ROLE_CLIENT, &a.hello, &a.welcome,
						&a.challenge, &a.response, t, &n),
			 HERMES_OK);
	assert_bytes_equal("PROTOCOL.md transcript-client", t, n, b->bytes, b->len);
	b = doc_block("bytes", "transcript-server");
	assert_int_equal(hermes_auth_transcript(HERMES_ROLE_SERVER, &a.hello, &a.welcome,
						&a.challenge, &a.response, t, &n),
			 HERMES_OK);
	assert_bytes_equal("PROTOCOL.md transcript-server", t, n, b->bytes, b->len);
	b = doc_block("bytes", "session-keys");
	assert_int_equal(b->len, 64);
	if (a.have_keys) {
		assert_bytes_equal("PROTOCOL.md client-to-server key", a.c2s_key, 32, b->bytes, 32);
		assert_bytes_equal("PROTOCOL.md server-to-client key", a.s2c_key, 32, b->bytes + 32,
				   32);
	}

	/* The refused frames: a valid header, a payload the codec refuses. */
	size_t nrefused = sizeof refused_examples / sizeof refused_examples[0];
	for (size_t i = 0; i < nrefused; i++) {
		b = doc_block("refused", refused_examples[i].name);
		hermes_decoder dec;
		hermes_frame f;
		assert_int_equal(hermes_decoder_init(&dec, b->bytes, b->len), HERMES_OK);
		assert_int_equal(hermes_decoder_next(&dec, &f), HERMES_OK);
		assert_int_equal(hermes_decoder_consumed(&dec), b->len);
		hermes_wire_msg m;
		hermes_err err = hermes_wire_msg_parse(f.header.type, f.payload, f.header.length, &m);
		if (!err && (f.header.flags & HERMES_FLAG_TAGGED)) {
			uint32_t tag;
			hermes_wire_bytes msg;
			err = hermes_wire_tag_split(f.header.flags, f.payload, f.header.length, &tag,
						    &msg);
		}
		if (err != refused_examples[i].err)
			fail_msg("PROTOCOL.md:%d (%s): parse gives %s, the text says %s", b->line, b->name,
				 hermes_err_name(err), hermes_err_name(refused_examples[i].err));
	}

	/* No block in the document goes unchecked. */
	assert_int_equal(nblocks, nframes + 3 + nrefused);
	hermes_encoder_destroy(enc);
	free(doc_text);
}

/* User tags (issue 18): TAGGED only on PUBLISH and DELIVER, at least the 4
 * tag bytes, never tag 0; untagged payloads split to tag 0 and themselves. */
static void test_tagged_frames_carry_a_nonzero_tag_before_the_message(void **state)
{
	(void)state;
	uint8_t buf[HERMES_HEADER_SIZE + 16] = {0};
	hermes_frame f;
	put_header(buf, HERMES_MSG_PING, HERMES_FLAG_TAGGED, 4, 0, 0);
	assert_int_equal(decode_one(buf, sizeof buf, &f), HERMES_EBADFLAGS);
	put_header(buf, HERMES_MSG_DELIVER, HERMES_FLAG_TAGGED, 3, 2, 9);
	assert_int_equal(decode_one(buf, sizeof buf, &f), HERMES_EBADPAYLOAD);
	/* Sealed and tagged: the seal tag and the user tag both count. */
	put_header(buf, HERMES_MSG_PUBLISH, HERMES_FLAG_TAGGED | HERMES_FLAG_ENCRYPTED, 19, 1, 1);
	assert_int_equal(decode_one(buf, sizeof buf, &f), HERMES_EBADPAYLOAD);
	put_header(buf, HERMES_MSG_PUBLISH, HERMES_FLAG_TAGGED | HERMES_FLAG_ENCRYPTED, 20, 1, 1);
	assert_int_equal(decode_one(buf, sizeof buf, &f), HERMES_ENEEDMORE);
	put_header(buf, HERMES_MSG_DELIVER, HERMES_FLAG_TAGGED, 6, 2, 9);
	memcpy(buf + HERMES_HEADER_SIZE, "\x2a\x00\x00\x80hi", 6);
	assert_int_equal(decode_one(buf, HERMES_HEADER_SIZE + 6, &f), HERMES_OK);
	uint32_t tag = 1;
	hermes_wire_bytes msg;
	assert_int_equal(hermes_wire_tag_split(f.header.flags, f.payload, f.header.length, &tag, &msg),
			 HERMES_OK);
	assert_int_equal(tag, 0x8000002au);
	assert_int_equal(msg.len, 2);
	assert_memory_equal(msg.data, "hi", 2);
	/* Without the flag the payload is the message, tag 0. */
	assert_int_equal(hermes_wire_tag_split(0, f.payload, 6, &tag, &msg), HERMES_OK);
	assert_int_equal(tag, 0);
	assert_ptr_equal(msg.data, f.payload);
	assert_int_equal(msg.len, 6);
	/* Tag 0 is sent untagged, and a tag needs its 4 bytes. */
	assert_int_equal(hermes_wire_tag_split(HERMES_FLAG_TAGGED, "\0\0\0\0hi", 6, &tag, &msg),
			 HERMES_EBADPAYLOAD);
	assert_int_equal(hermes_wire_tag_split(HERMES_FLAG_TAGGED, "\1\0\0", 3, &tag, &msg),
			 HERMES_EBADPAYLOAD);
	assert_int_equal(hermes_wire_tag_split(0, NULL, 1, &tag, &msg), HERMES_EINVAL);
	/* The encoder applies the same rules. */
	hermes_encoder *enc;
	assert_int_equal(hermes_encoder_create(0, &enc), HERMES_OK);
	hermes_frame_header h = {.type = HERMES_MSG_BOUND, .flags = HERMES_FLAG_TAGGED, .channel = 1};
	assert_int_equal(hermes_encode_frame(enc, &h, "12345678abcd", 12, NULL), HERMES_EBADFLAGS);
	h = (hermes_frame_header){.type = HERMES_MSG_PUBLISH, .flags = HERMES_FLAG_TAGGED,
				  .channel = 1};
	assert_int_equal(hermes_encode_frame(enc, &h, "abc", 3, NULL), HERMES_EBADPAYLOAD);
	assert_int_equal(hermes_encode_frame(enc, &h, "abcd", 4, NULL), HERMES_OK);
	hermes_encoder_destroy(enc);
}

/* Rows "| `0x13` | `PUBLISH` | ..." (or "| 17 | `HERMES_EBADMAGIC` | ...")
 * of the table after the marker; returns how many. */
static size_t doc_table(const char *text, const char *marker, unsigned long *codes,
			char names[][32], size_t max)
{
	const char *at = strstr(text, marker);
	size_t n = 0;
	if (!at)
		fail_msg("PROTOCOL.md has no %s", marker);
	at = strchr(at, '\n') + 1;
	int row = 0;
	while (*at == '|') {
		const char *end = strchr(at, '\n');
		if (row++ >= 2) { /* the heading and the |---| line */
			char c0[32] = "", c1[32] = "";
			if (sscanf(at, "| %31[^|] | %31[^| ]", c0, c1) != 2)
				fail_msg("PROTOCOL.md: bad row in %s: %.*s", marker,
					 (int)(end - at), at);
			assert_true(n < max);
			char *s0 = c0[0] == '`' ? c0 + 1 : c0;
			codes[n] = strtoul(s0, NULL, 0);
			char *s1 = c1[0] == '`' ? c1 + 1 : c1;
			s1[strcspn(s1, "`")] = '\0';
			snprintf(names[n], 32, "%s", s1);
			n++;
		}
		if (!end)
			break;
		at = end + 1;
	}
	return n;
}

static void test_protocol_doc_tables_match_the_codec(void **state)
{
	(void)state;
	char *text = read_doc();
	unsigned long codes[128];
	char names[128][32];

	size_t n = doc_table(text, "<!-- table:types -->", codes, names, 128);
	if (n != N_TYPES)
		fail_msg("PROTOCOL.md types table has %zu rows, the codec has %zu types", n,
			 (size_t)N_TYPES);
	for (size_t i = 0; i < n; i++) {
		const char *want = hermes_msg_type_name((unsigned)codes[i]);
		if (!want || strcmp(want, names[i]) != 0)
			fail_msg("PROTOCOL.md types table: 0x%02lx is %s, the codec says %s",
				 codes[i], names[i], want ? want : "(none)");
	}

	n = doc_table(text, "<!-- table:errors -->", codes, names, 128);
	if (n != HERMES_ERR_COUNT_)
		fail_msg("PROTOCOL.md errors table has %zu rows but error.h has %d codes: error "
			 "codes go on the wire, so each needs its row in section 10",
			 n, (int)HERMES_ERR_COUNT_);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(codes[i], i);
		if (strcmp(names[i], hermes_err_name((hermes_err)i)) != 0)
			fail_msg("PROTOCOL.md errors table: %lu is %s, error.h says %s", codes[i],
				 names[i], hermes_err_name((hermes_err)i));
	}
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_is_24_bytes_and_starts_with_HM),
		cmocka_unit_test(test_every_message_type_round_trips),
		cmocka_unit_test(test_parsed_fields_equal_the_written_ones),
		cmocka_unit_test(test_payload_sizes_from_zero_to_max_round_trip),
		cmocka_unit_test(test_batches_of_1_to_1000_messages_round_trip),
		cmocka_unit_test(test_batch_that_does_not_fit_reports_how_many_were_encoded),
		cmocka_unit_test(test_batch_stops_at_the_first_invalid_item),
		cmocka_unit_test(
			test_stream_fed_one_byte_at_a_time_yields_exactly_the_encoded_frames),
		cmocka_unit_test(test_stream_in_random_splits_yields_exactly_the_encoded_frames),
		cmocka_unit_test(test_truncated_frame_reports_need_more),
		cmocka_unit_test(test_every_malformed_input_class_gets_its_own_error),
		cmocka_unit_test(test_errors_are_the_same_however_the_stream_is_split),
		cmocka_unit_test(test_max_frame_is_configurable_and_bounded),
		cmocka_unit_test(
			test_encoder_reports_nobufs_until_reset_and_toobig_when_never_fits),
		cmocka_unit_test(test_encoder_over_caller_memory_never_writes_past_its_capacity),
		cmocka_unit_test(test_encoder_rejects_frames_the_decoder_would_reject),
		cmocka_unit_test(test_encoder_claim_hands_out_the_payload_in_place),
		cmocka_unit_test(test_encoder_create_and_init_check_their_arguments),
		cmocka_unit_test(test_malformed_payloads_are_rejected),
		cmocka_unit_test(test_writers_reject_out_of_range_fields),
		cmocka_unit_test(test_error_text_must_be_utf8),
		cmocka_unit_test(test_parse_then_write_gives_back_the_same_bytes),
		cmocka_unit_test(test_type_names_cover_exactly_the_message_types),
		cmocka_unit_test(test_auth_transcript_covers_hello_welcome_and_both_nonces),
		cmocka_unit_test(test_protocol_doc_examples_match_the_codec),
		cmocka_unit_test(test_protocol_doc_tables_match_the_codec),
		cmocka_unit_test(test_tagged_frames_carry_a_nonzero_tag_before_the_message),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
