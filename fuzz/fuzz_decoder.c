/* libFuzzer target for the frame decoder and the payload parsers.
 *
 * Input: one configuration byte, one chunk-size byte, then the byte stream.
 *   config bits 0-1: decoder phase (hermes_phase)
 *   config bits 2-3: decoder role (3 is folded to HERMES_ROLE_ANY)
 *   config bit  4:   smallest max frame (4096) instead of the default
 *   chunk byte:      the stream is also fed in chunks of 1 + chunk bytes
 *
 * Beyond "no crash, no leak, no undefined behaviour", it checks what must
 * hold for any input:
 *   - every frame lies inside the buffer, right after the previous one, and
 *     respects the max frame;
 *   - re-encoding a decoded frame gives back exactly its bytes, and a payload
 *     that parses writes back to exactly the same bytes (strict, canonical);
 *   - decoding the stream in chunks, compacting as a socket reader does,
 *     yields the same frames and the same final verdict as decoding it whole.
 * Each chunk is decoded from an allocation of exactly its size, so that
 * AddressSanitizer sees any read past the bytes received so far. */
#include <hermes/protocol.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_decoder: check failed at line %d: %s\n", __LINE__,   \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

struct cfg {
	hermes_phase phase;
	hermes_role role;
	uint32_t max_frame;
};

struct seen {
	size_t offset; /* in the stream */
	hermes_frame_header h;
};

static void configure(hermes_decoder *dec, const struct cfg *c)
{
	CHECK(hermes_decoder_set_max_frame(dec, c->max_frame) == HERMES_OK);
	CHECK(hermes_decoder_set_phase(dec, c->phase) == HERMES_OK);
	CHECK(hermes_decoder_set_role(dec, c->role) == HERMES_OK);
}

/* The round-trip checks on one decoded frame. */
static void check_frame(const hermes_frame *f, hermes_encoder *enc, const struct cfg *c)
{
	const hermes_frame_header *h = &f->header;
	size_t frame_len = HERMES_HEADER_SIZE + (size_t)h->length;
	CHECK(frame_len <= c->max_frame);
	CHECK(f->payload == f->bytes + HERMES_HEADER_SIZE);
	CHECK(hermes_msg_type_name(h->type) != NULL);

	hermes_wire_bytes out;
	hermes_encoder_reset(enc);
	CHECK(hermes_encode_frame(enc, h, f->payload, h->length, &out) == HERMES_OK);
	CHECK(out.len == frame_len && memcmp(out.data, f->bytes, frame_len) == 0);

	if (h->flags & HERMES_FLAG_ENCRYPTED)
		return; /* sealed payloads are opened by the bridge, not parsed here */
	if (h->flags & HERMES_FLAG_TAGGED) {
		/* The length check left room for the tag; only tag 0 fails. */
		uint32_t tag = 0;
		hermes_wire_bytes msg;
		hermes_err err = hermes_wire_tag_split(h->flags, f->payload, h->length, &tag, &msg);
		CHECK(err == HERMES_OK ? tag != 0 && msg.len + HERMES_WIRE_TAG_SIZE == h->length
				       : err == HERMES_EBADPAYLOAD && tag == 0);
	}
	hermes_wire_msg m;
	if (hermes_wire_msg_parse(h->type, f->payload, h->length, &m) != HERMES_OK)
		return;
	CHECK(m.type == h->type);
	if (h->flags == 0) {
		hermes_encoder_reset(enc);
		CHECK(hermes_wire_msg_encode(enc, h->channel, h->sequence, &m, &out) == HERMES_OK);
		CHECK(out.len == frame_len && memcmp(out.data, f->bytes, frame_len) == 0);
	}
	if (m.type == HERMES_MSG_HELLO || m.type == HERMES_MSG_WELCOME) {
		/* The transcript must accept whatever parsed. */
		hermes_wire_msg other = m;
		hermes_wire_auth_challenge ch = {{0}, {0}};
		hermes_wire_auth_response resp = {{0}, {0}, {0}};
		uint8_t t[HERMES_AUTH_TRANSCRIPT_MAX];
		size_t n;
		hermes_wire_hello hello = {1, 1, 0, HERMES_MIN_MAX_FRAME, NULL, 0};
		hermes_wire_welcome welcome = {1, 0, HERMES_MIN_MAX_FRAME, NULL, 0};
		if (other.type == HERMES_MSG_HELLO)
			hello = other.hello;
		else
			welcome = other.welcome;
		CHECK(hermes_auth_transcript(HERMES_ROLE_CLIENT, &hello, &welcome, &ch, &resp, t,
					     &n) == HERMES_OK);
		CHECK(n <= HERMES_AUTH_TRANSCRIPT_MAX);
	}
}

/* Whole: the input buffer as it came from libFuzzer (exactly n bytes), every
 * frame round-tripped; the frames in whole[], their count in *count. Returns
 * the final verdict. */
static hermes_err decode_whole(const uint8_t *s, size_t n, const struct cfg *c,
			       hermes_encoder *enc, struct seen *whole, size_t max_frames,
			       size_t *count)
{
	hermes_decoder dec;
	hermes_frame f;
	hermes_err err;
	size_t nwhole = 0, pos = 0;
	CHECK(hermes_decoder_init(&dec, s, n) == HERMES_OK);
	configure(&dec, c);
	while ((err = hermes_decoder_next(&dec, &f)) == HERMES_OK) {
		CHECK(f.bytes == s + pos);
		check_frame(&f, enc, c);
		pos += HERMES_HEADER_SIZE + (size_t)f.header.length;
		CHECK(pos <= n && nwhole < max_frames);
		whole[nwhole++] = (struct seen){(size_t)(f.bytes - s), f.header};
	}
	CHECK(hermes_decoder_consumed(&dec) == pos);
	CHECK(hermes_decoder_next(&dec, &f) == err); /* stable */
	if (err == HERMES_ENEEDMORE)
		CHECK(hermes_decoder_needed(&dec) >= 1);
	else
		CHECK(hermes_decoder_needed(&dec) == 0);
	*count = nwhole;
	return err;
}

/* Split: chunks land in a receive buffer that is compacted after every
 * read; each decode runs over an exact-size copy. The frames in split[],
 * their count in *count; returns the final verdict. */
static hermes_err decode_split(const uint8_t *s, size_t n, size_t chunk, const struct cfg *c,
			       struct seen *split, size_t max_frames, size_t *count)
{
	hermes_decoder dec;
	hermes_frame f;
	size_t nsplit = 0, off = 0, base = 0, fill = 0;
	uint8_t *rx = malloc(n ? n : 1);
	CHECK(rx != NULL);
	hermes_err err = n ? HERMES_OK : HERMES_ENEEDMORE;
	CHECK(hermes_decoder_init(&dec, NULL, 0) == HERMES_OK);
	configure(&dec, c);
	while (off < n) {
		size_t k = chunk < n - off ? chunk : n - off;
		memcpy(rx + fill, s + off, k);
		fill += k;
		off += k;
		uint8_t *copy = malloc(fill);
		CHECK(copy != NULL);
		memcpy(copy, rx, fill);
		CHECK(hermes_decoder_set_buffer(&dec, copy, fill) == HERMES_OK);
		while ((err = hermes_decoder_next(&dec, &f)) == HERMES_OK) {
			CHECK(nsplit < max_frames);
			split[nsplit++] = (struct seen){base + (size_t)(f.bytes - copy), f.header};
		}
		size_t used = hermes_decoder_consumed(&dec);
		free(copy);
		if (err != HERMES_ENEEDMORE)
			break;
		memmove(rx, rx + used, fill - used);
		fill -= used;
		base += used;
	}
	free(rx);
	*count = nsplit;
	return err;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	unsigned role = (data[0] >> 2) & 3;
	struct cfg c = {
		.phase = (hermes_phase)(data[0] & 3),
		.role = role == 3 ? HERMES_ROLE_ANY : (hermes_role)role,
		.max_frame = (data[0] & 0x10) ? HERMES_MIN_MAX_FRAME : HERMES_DEFAULT_MAX_FRAME,
	};
	size_t chunk = 1 + (size_t)data[1];
	const uint8_t *s = data + 2;
	size_t n = size - 2;

	/* Sized to the input (no decoded frame is longer), not to the max frame:
	 * a megabyte per run would be an mmap per run under ASan. */
	hermes_encoder *enc;
	CHECK(hermes_encoder_create(n + HERMES_HEADER_SIZE, &enc) == HERMES_OK);
	CHECK(hermes_encoder_set_max_frame(enc, c.max_frame) == HERMES_OK);
	size_t max_frames = n / HERMES_HEADER_SIZE + 1;
	struct seen *whole = malloc(max_frames * sizeof *whole);
	struct seen *split = malloc(max_frames * sizeof *split);
	CHECK(whole && split);

	size_t nwhole, nsplit;
	hermes_err whole_err = decode_whole(s, n, &c, enc, whole, max_frames, &nwhole);
	hermes_err split_err = decode_split(s, n, chunk, &c, split, max_frames, &nsplit);
	CHECK(split_err == whole_err);
	CHECK(nsplit == nwhole);
	for (size_t i = 0; i < nwhole; i++) {
		CHECK(split[i].offset == whole[i].offset);
		const hermes_frame_header *a = &split[i].h, *b = &whole[i].h;
		CHECK(a->version == b->version && a->type == b->type && a->flags == b->flags);
		CHECK(a->length == b->length && a->channel == b->channel);
		CHECK(a->sequence == b->sequence);
	}
	free(whole);
	free(split);
	hermes_encoder_destroy(enc);
	return 0;
}
