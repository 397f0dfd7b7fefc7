/* The wire codec: frame encoder, zero-copy decoder, structured payloads.
 *
 * docs/PROTOCOL.md is the reference for every layout here; the worked
 * examples in it are decoded and re-encoded by tests/core/test_codec.c, so a
 * change to a layout must change both.
 *
 * All per-type knowledge (which phases and directions allow a type, which
 * flags and header fields it uses, its payload size range) lives in one
 * table, so the decoder's hot path is a handful of compares against one
 * entry and the encoder applies exactly the same rules. */
#include <hermes/protocol.h>

#include "core/endian.h"
#include "core/utf8.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static_assert(HERMES_HEADER_SIZE == 24, "PROTOCOL.md documents a 24-byte header");
static_assert(HERMES_MIN_MAX_FRAME >= HERMES_HEADER_SIZE + HERMES_ERROR_MAX + HERMES_SEAL_TAG_SIZE,
	      "the largest control frame must fit every peer's limit");
static_assert(HERMES_FRAME_LIMIT <= UINT32_MAX, "frame sizes are carried in u32 fields");

#define HM_LIKELY(x) __builtin_expect(!!(x), 1)
#define HM_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Header field offsets (PROTOCOL.md, "Frame header"). */
enum {
	HM_OFF_MAGIC = 0,
	HM_OFF_VERSION = 2,
	HM_OFF_TYPE = 3,
	HM_OFF_FLAGS = 4,
	HM_OFF_RESERVED = 6,
	HM_OFF_LENGTH = 8,
	HM_OFF_CHANNEL = 12,
	HM_OFF_SEQUENCE = 16,
};

/* accept bits: a type carries the bit of every phase and every receiving role
 * that allows it, plus the ANY bits. A decoder's mask has exactly one phase
 * bit and one role bit, so "allowed" is (accept & mask) == mask. */
enum {
	HM_P_ANY = 1u << HERMES_PHASE_ANY,
	HM_P_HELLO = 1u << HERMES_PHASE_HELLO,
	HM_P_AUTH = 1u << HERMES_PHASE_AUTH,
	HM_P_SESSION = 1u << HERMES_PHASE_SESSION,
	HM_R_ANY = 1u << (4 + HERMES_ROLE_ANY),
	HM_R_SERVER = 1u << (4 + HERMES_ROLE_SERVER), /* sent by clients */
	HM_R_CLIENT = 1u << (4 + HERMES_ROLE_CLIENT), /* sent by servers */
};

#define HM_C2S (HM_R_ANY | HM_R_SERVER)
#define HM_S2C (HM_R_ANY | HM_R_CLIENT)
#define HM_BOTH (HM_R_ANY | HM_R_SERVER | HM_R_CLIENT)
#define HM_IN_HELLO (HM_P_ANY | HM_P_HELLO)
#define HM_IN_AUTH (HM_P_ANY | HM_P_AUTH)
#define HM_IN_SESSION (HM_P_ANY | HM_P_SESSION)
#define HM_IN_ALL (HM_P_ANY | HM_P_HELLO | HM_P_AUTH | HM_P_SESSION)

/* Header fields a type gives meaning to; the others must be zero. */
enum { HM_F_CHANNEL = 1, HM_F_SEQUENCE = 2 };

#define HM_FLAGS_KNOWN (HERMES_FLAG_ACK_REQUESTED | HERMES_FLAG_ENCRYPTED | HERMES_FLAG_TAGGED)
#define HM_ANY_LEN UINT32_MAX

struct hm_rule {
	uint32_t min_len; /* plaintext payload size range */
	uint32_t max_len;
	uint16_t flags; /* flag bits the type allows */
	uint8_t accept; /* 0: not a message type */
	uint8_t fields;
	const char *name;
};

/* Payload sizes of the fixed-layout types (PROTOCOL.md, "Message types"). */
enum {
	HM_HELLO_FIXED = 12,
	HM_CHALLENGE_SIZE = 2 * HERMES_NONCE_SIZE,
	HM_RESPONSE_SIZE = 2 * HERMES_NONCE_SIZE + HERMES_AUTH_TAG_SIZE,
	HM_RING_INFO_SIZE = 8,
	HM_SUBSCRIBE_FIXED = 16,
	HM_U64_SIZE = 8,
	HM_ERROR_FIXED = 8,
	HM_GOODBYE_SIZE = 4,
};

#define HM_TYPE_COUNT 64

/* Handshake types are never sealed and use no header fields: they happen
 * before there is a key, and before any channel exists. */
static const struct hm_rule hm_rules[HM_TYPE_COUNT] = {
	[HERMES_MSG_HELLO] = {HM_HELLO_FIXED, HERMES_HELLO_MAX, 0, HM_IN_HELLO | HM_C2S, 0,
			      "HELLO"},
	[HERMES_MSG_WELCOME] = {HM_HELLO_FIXED, HERMES_HELLO_MAX, 0, HM_IN_HELLO | HM_S2C, 0,
				"WELCOME"},
	[HERMES_MSG_AUTH_CHALLENGE] = {HM_CHALLENGE_SIZE, HM_CHALLENGE_SIZE, 0, HM_IN_AUTH | HM_S2C,
				       0, "AUTH_CHALLENGE"},
	[HERMES_MSG_AUTH_RESPONSE] = {HM_RESPONSE_SIZE, HM_RESPONSE_SIZE, 0, HM_IN_AUTH | HM_C2S, 0,
				      "AUTH_RESPONSE"},
	[HERMES_MSG_AUTH_OK] = {HERMES_AUTH_TAG_SIZE, HERMES_AUTH_TAG_SIZE, 0, HM_IN_AUTH | HM_S2C,
				0, "AUTH_OK"},
	[HERMES_MSG_BIND] = {1, HERMES_WIRE_NAME_MAX, HERMES_FLAG_ENCRYPTED, HM_IN_SESSION | HM_C2S,
			     HM_F_CHANNEL, "BIND"},
	[HERMES_MSG_BOUND] = {HM_RING_INFO_SIZE, HM_RING_INFO_SIZE, HERMES_FLAG_ENCRYPTED,
			      HM_IN_SESSION | HM_S2C, HM_F_CHANNEL, "BOUND"},
	[HERMES_MSG_UNBIND] = {0, 0, HERMES_FLAG_ENCRYPTED, HM_IN_SESSION | HM_C2S, HM_F_CHANNEL,
			       "UNBIND"},
	[HERMES_MSG_PUBLISH] = {0, HM_ANY_LEN,
				HERMES_FLAG_ENCRYPTED | HERMES_FLAG_ACK_REQUESTED | HERMES_FLAG_TAGGED,
				HM_IN_SESSION | HM_C2S, HM_F_CHANNEL | HM_F_SEQUENCE, "PUBLISH"},
	[HERMES_MSG_PUBLISH_ACK] = {HM_U64_SIZE, HM_U64_SIZE, HERMES_FLAG_ENCRYPTED,
				    HM_IN_SESSION | HM_S2C, HM_F_CHANNEL | HM_F_SEQUENCE,
				    "PUBLISH_ACK"},
	[HERMES_MSG_SUBSCRIBE] = {HM_SUBSCRIBE_FIXED + 1, HERMES_SUBSCRIBE_MAX,
				  HERMES_FLAG_ENCRYPTED, HM_IN_SESSION | HM_C2S, HM_F_CHANNEL,
				  "SUBSCRIBE"},
	[HERMES_MSG_SUBSCRIBED] = {HM_RING_INFO_SIZE, HM_RING_INFO_SIZE, HERMES_FLAG_ENCRYPTED,
				   HM_IN_SESSION | HM_S2C, HM_F_CHANNEL | HM_F_SEQUENCE,
				   "SUBSCRIBED"},
	[HERMES_MSG_UNSUBSCRIBE] = {0, 0, HERMES_FLAG_ENCRYPTED, HM_IN_SESSION | HM_C2S,
				    HM_F_CHANNEL, "UNSUBSCRIBE"},
	[HERMES_MSG_DELIVER] = {0, HM_ANY_LEN, HERMES_FLAG_ENCRYPTED | HERMES_FLAG_TAGGED,
				HM_IN_SESSION | HM_S2C, HM_F_CHANNEL | HM_F_SEQUENCE, "DELIVER"},
	[HERMES_MSG_LOSS] = {HM_U64_SIZE, HM_U64_SIZE, HERMES_FLAG_ENCRYPTED,
			     HM_IN_SESSION | HM_S2C, HM_F_CHANNEL | HM_F_SEQUENCE, "LOSS"},
	[HERMES_MSG_PING] = {0, 0, HERMES_FLAG_ENCRYPTED, HM_IN_SESSION | HM_BOTH, HM_F_SEQUENCE,
			     "PING"},
	[HERMES_MSG_PONG] = {0, 0, HERMES_FLAG_ENCRYPTED, HM_IN_SESSION | HM_BOTH, HM_F_SEQUENCE,
			     "PONG"},
	[HERMES_MSG_ERROR] = {HM_ERROR_FIXED, HERMES_ERROR_MAX, HERMES_FLAG_ENCRYPTED,
			      HM_IN_ALL | HM_BOTH, HM_F_CHANNEL | HM_F_SEQUENCE, "ERROR"},
	[HERMES_MSG_GOODBYE] = {HM_GOODBYE_SIZE, HM_GOODBYE_SIZE, HERMES_FLAG_ENCRYPTED,
				HM_IN_ALL | HM_BOTH, 0, "GOODBYE"},
};

static inline const struct hm_rule *hm_rule_of(unsigned type)
{
	if (type >= HM_TYPE_COUNT || !hm_rules[type].accept)
		return NULL;
	return &hm_rules[type];
}

const char *hermes_msg_type_name(unsigned type)
{
	const struct hm_rule *r = hm_rule_of(type);
	return r ? r->name : NULL;
}

/* The payload size range for r, widened by the seal tag when the frame is
 * sealed and by the user tag when it is tagged. 64-bit so the widening
 * cannot wrap. */
static inline int hm_len_ok(const struct hm_rule *r, uint16_t flags, uint64_t len)
{
	uint64_t extra = ((flags & HERMES_FLAG_ENCRYPTED) ? HERMES_SEAL_TAG_SIZE : 0) +
			 ((flags & HERMES_FLAG_TAGGED) ? HERMES_WIRE_TAG_SIZE : 0);
	return len >= r->min_len + extra && len <= (uint64_t)r->max_len + extra;
}

/* Header checks shared by both directions, in wire order: flags, length,
 * channel, sequence. Checked separately from the byte-by-byte decoder path
 * only for the encoder, which always has the whole header. */
static inline hermes_err hm_check_fields(const struct hm_rule *r, uint16_t flags, size_t len,
					 size_t max_payload, uint32_t channel, uint64_t seq)
{
	if (HM_UNLIKELY(flags & ~r->flags))
		return HERMES_EBADFLAGS;
	if (HM_UNLIKELY(len > max_payload))
		return HERMES_ETOOBIG;
	if (HM_UNLIKELY(!hm_len_ok(r, flags, len)))
		return HERMES_EBADPAYLOAD;
	if (HM_UNLIKELY(channel && !(r->fields & HM_F_CHANNEL)))
		return HERMES_EBADFLAGS;
	if (HM_UNLIKELY(seq && !(r->fields & HM_F_SEQUENCE)))
		return HERMES_EBADFLAGS;
	return HERMES_OK;
}

static inline void hm_put_header(uint8_t *p, uint8_t type, uint16_t flags, uint32_t len,
				 uint32_t channel, uint64_t seq)
{
	hm_put_le16(p + HM_OFF_MAGIC, HERMES_MAGIC);
	p[HM_OFF_VERSION] = HERMES_PROTOCOL_VERSION;
	p[HM_OFF_TYPE] = type;
	hm_put_le16(p + HM_OFF_FLAGS, flags);
	hm_put_le16(p + HM_OFF_RESERVED, 0);
	hm_put_le32(p + HM_OFF_LENGTH, len);
	hm_put_le32(p + HM_OFF_CHANNEL, channel);
	hm_put_le64(p + HM_OFF_SEQUENCE, seq);
}

/* ------------------------------------------------------------------------ */
/* Encoder */

static void hm_encoder_limits(hermes_encoder *enc)
{
	size_t frame = enc->max_frame < enc->cap ? enc->max_frame : enc->cap;
	enc->max_payload = frame - HERMES_HEADER_SIZE;
}

hermes_err hermes_encoder_init(hermes_encoder *enc, void *buf, size_t capacity)
{
	if (!enc)
		return HERMES_EINVAL;
	memset(enc, 0, sizeof *enc);
	if (!buf || capacity < HERMES_HEADER_SIZE)
		return HERMES_EINVAL;
	enc->buf = buf;
	enc->cap = capacity;
	enc->max_frame = HERMES_DEFAULT_MAX_FRAME;
	hm_encoder_limits(enc);
	return HERMES_OK;
}

void hermes_encoder_fini(hermes_encoder *enc)
{
	/* A zero capacity makes every later encode fail (ETOOBIG or ENOBUFS)
	 * instead of writing through a stale pointer. */
	if (enc && !enc->owned)
		memset(enc, 0, sizeof *enc);
}

hermes_err hermes_encoder_create(size_t capacity, hermes_encoder **out)
{
	if (!out)
		return HERMES_EINVAL;
	*out = NULL;
	if (capacity == 0)
		capacity = HERMES_ENCODER_DEFAULT_CAPACITY;
	if (capacity < HERMES_HEADER_SIZE || capacity > SIZE_MAX - sizeof(hermes_encoder))
		return HERMES_EINVAL;
	/* One block: the struct, then the buffer right after it. */
	hermes_encoder *enc = malloc(sizeof *enc + capacity);
	if (!enc)
		return HERMES_ENOMEM;
	hermes_encoder_init(enc, (uint8_t *)(enc + 1), capacity);
	enc->owned = 1;
	*out = enc;
	return HERMES_OK;
}

void hermes_encoder_destroy(hermes_encoder *enc)
{
	if (enc && enc->owned)
		free(enc);
}

hermes_err hermes_encoder_set_max_frame(hermes_encoder *enc, uint32_t max_frame)
{
	if (!enc || max_frame < HERMES_MIN_MAX_FRAME || max_frame > HERMES_FRAME_LIMIT)
		return HERMES_EINVAL;
	enc->max_frame = max_frame;
	if (enc->cap)
		hm_encoder_limits(enc);
	return HERMES_OK;
}

void hermes_encoder_reset(hermes_encoder *enc)
{
	enc->len = 0;
}

hermes_wire_bytes hermes_encoder_data(const hermes_encoder *enc)
{
	hermes_wire_bytes b = {enc->buf, enc->len};
	return b;
}

/* Validate a frame against its type and the encoder's limits, and reserve
 * room for it; returns the frame's start. ETOOBIG (never fits) is told apart
 * from ENOBUFS (fits after a reset) by max_payload, which is already bounded
 * by the buffer's capacity. */
static inline hermes_err hm_reserve(hermes_encoder *enc, unsigned type, uint16_t flags,
				    uint32_t channel, uint64_t seq, size_t len, uint8_t **at)
{
	const struct hm_rule *r = hm_rule_of(type);
	if (HM_UNLIKELY(!r))
		return HERMES_EBADTYPE;
	hermes_err err = hm_check_fields(r, flags, len, enc->max_payload, channel, seq);
	if (HM_UNLIKELY(err))
		return err;
	size_t need = HERMES_HEADER_SIZE + len;
	if (HM_UNLIKELY(need > enc->cap - enc->len))
		return HERMES_ENOBUFS;
	uint8_t *p = enc->buf + enc->len;
	hm_put_header(p, (uint8_t)type, flags, (uint32_t)len, channel, seq);
	enc->len += need;
	*at = p;
	return HERMES_OK;
}

/* The frame just reserved at p, for a caller that asked for it. */
static inline void hm_frame_out(hermes_wire_bytes *frame, uint8_t *p, size_t len)
{
	if (frame) {
		frame->data = p;
		frame->len = HERMES_HEADER_SIZE + len;
	}
}

/* Reserve a frame and copy its payload in. */
static inline hermes_err hm_encode_copy(hermes_encoder *enc, unsigned type, uint16_t flags,
					uint32_t channel, uint64_t seq, const void *payload,
					size_t len, hermes_wire_bytes *frame)
{
	uint8_t *p;
	hermes_err err = hm_reserve(enc, type, flags, channel, seq, len, &p);
	if (HM_UNLIKELY(err))
		return err;
	if (len)
		memcpy(p + HERMES_HEADER_SIZE, payload, len);
	hm_frame_out(frame, p, len);
	return HERMES_OK;
}

hermes_err hermes_encode(hermes_encoder *enc, hermes_msg_type type, uint64_t seq,
			 const void *payload, size_t len, hermes_wire_bytes *frame)
{
	return hm_encode_copy(enc, (unsigned)type, 0, 0, seq, payload, len, frame);
}

hermes_err hermes_encode_frame(hermes_encoder *enc, const hermes_frame_header *h,
			       const void *payload, size_t len, hermes_wire_bytes *frame)
{
	return hm_encode_copy(enc, h->type, h->flags, h->channel, h->sequence, payload, len, frame);
}

hermes_err hermes_encoder_claim(hermes_encoder *enc, const hermes_frame_header *h, size_t len,
				uint8_t **payload, hermes_wire_bytes *frame)
{
	uint8_t *p;
	hermes_err err = hm_reserve(enc, h->type, h->flags, h->channel, h->sequence, len, &p);
	if (err)
		return err;
	*payload = p + HERMES_HEADER_SIZE;
	hm_frame_out(frame, p, len);
	return HERMES_OK;
}

hermes_err hermes_encode_batch(hermes_encoder *enc, const hermes_frame_header *tmpl,
			       const hermes_batch_item *items, size_t count, size_t *done,
			       hermes_wire_bytes *frames)
{
	const struct hm_rule *r = hm_rule_of(tmpl->type);
	const size_t start = enc->len;
	hermes_err err = r ? HERMES_OK : HERMES_EBADTYPE;
	size_t i = 0;

	/* The per-frame work is hm_reserve's, minus the type lookup, which is
	 * the same for the whole batch. The buffer position is kept in a local
	 * so the loop does not reload it through enc after every memcpy. */
	size_t pos = enc->len;
	for (; r && i < count; i++) {
		const hermes_batch_item *it = &items[i];
		err = hm_check_fields(r, tmpl->flags, it->len, enc->max_payload, tmpl->channel,
				      it->sequence);
		if (HM_UNLIKELY(err))
			break;
		size_t need = HERMES_HEADER_SIZE + it->len;
		if (HM_UNLIKELY(need > enc->cap - pos)) {
			err = HERMES_ENOBUFS;
			break;
		}
		uint8_t *p = enc->buf + pos;
		hm_put_header(p, tmpl->type, tmpl->flags, (uint32_t)it->len, tmpl->channel,
			      it->sequence);
		if (it->len)
			memcpy(p + HERMES_HEADER_SIZE, it->payload, it->len);
		pos += need;
	}
	enc->len = pos;
	if (done)
		*done = i;
	if (frames) {
		frames->data = enc->buf + start;
		frames->len = pos - start;
	}
	return err;
}

/* ------------------------------------------------------------------------ */
/* Decoder */

/* Stands in for a NULL buffer so that pointer arithmetic stays defined. */
static const uint8_t hm_no_bytes[1];

/* The phase and role the decoder checks frames against, and the mask of
 * both that the rules' accept bits are compared with. */
static void hm_decoder_gate(hermes_decoder *dec, unsigned phase, unsigned role)
{
	dec->phase = (uint8_t)phase;
	dec->role = (uint8_t)role;
	dec->accept = (uint8_t)((1u << phase) | (1u << (4 + role)));
}

hermes_err hermes_decoder_init(hermes_decoder *dec, const void *buf, size_t len)
{
	if (!dec || (!buf && len))
		return HERMES_EINVAL;
	memset(dec, 0, sizeof *dec);
	dec->buf = buf ? buf : hm_no_bytes;
	dec->len = len;
	dec->max_frame = HERMES_DEFAULT_MAX_FRAME;
	dec->max_payload = HERMES_DEFAULT_MAX_FRAME - HERMES_HEADER_SIZE;
	hm_decoder_gate(dec, HERMES_PHASE_ANY, HERMES_ROLE_ANY);
	return HERMES_OK;
}

hermes_err hermes_decoder_set_buffer(hermes_decoder *dec, const void *buf, size_t len)
{
	if (!dec || (!buf && len))
		return HERMES_EINVAL;
	dec->buf = buf ? buf : hm_no_bytes;
	dec->len = len;
	dec->pos = 0;
	return HERMES_OK;
}

hermes_err hermes_decoder_set_max_frame(hermes_decoder *dec, uint32_t max_frame)
{
	if (!dec || max_frame < HERMES_MIN_MAX_FRAME || max_frame > HERMES_FRAME_LIMIT)
		return HERMES_EINVAL;
	dec->max_frame = max_frame;
	dec->max_payload = max_frame - HERMES_HEADER_SIZE;
	return HERMES_OK;
}

hermes_err hermes_decoder_set_phase(hermes_decoder *dec, hermes_phase phase)
{
	if (!dec || (unsigned)phase > HERMES_PHASE_SESSION)
		return HERMES_EINVAL;
	hm_decoder_gate(dec, (unsigned)phase, dec->role);
	return HERMES_OK;
}

hermes_err hermes_decoder_set_role(hermes_decoder *dec, hermes_role role)
{
	if (!dec || (unsigned)role > HERMES_ROLE_CLIENT)
		return HERMES_EINVAL;
	hm_decoder_gate(dec, dec->phase, (unsigned)role);
	return HERMES_OK;
}

/* Check the first `have` bytes of a header, field by field in wire order,
 * and answer ENEEDMORE at the first field that is not complete yet. Every
 * field is judged only on its own bytes and the ones before it, which is
 * what makes the verdict independent of how the stream was split. Called
 * with have == HERMES_HEADER_SIZE on the hot path, where inlining folds all
 * the `have` tests away. */
static inline __attribute__((always_inline)) hermes_err
hm_check_header(const hermes_decoder *dec, const uint8_t *p, size_t have, hermes_frame_header *h)
{
	/* The magic byte by byte, so one stray byte is refused at once. */
	if (have < 1)
		return HERMES_ENEEDMORE;
	if (p[0] != (HERMES_MAGIC & 0xFF))
		return HERMES_EBADMAGIC;
	if (have < 2)
		return HERMES_ENEEDMORE;
	if (p[1] != (HERMES_MAGIC >> 8))
		return HERMES_EBADMAGIC;
	if (have < 3)
		return HERMES_ENEEDMORE;
	if (p[HM_OFF_VERSION] != HERMES_PROTOCOL_VERSION)
		return HERMES_EBADVERSION;
	if (have < 4)
		return HERMES_ENEEDMORE;
	const struct hm_rule *r = hm_rule_of(p[HM_OFF_TYPE]);
	if (HM_UNLIKELY(!r))
		return HERMES_EBADTYPE;
	if (HM_UNLIKELY((r->accept & dec->accept) != dec->accept))
		return HERMES_EHANDSHAKE;
	if (have < 6)
		return HERMES_ENEEDMORE;
	uint16_t flags = hm_get_le16(p + HM_OFF_FLAGS);
	if (HM_UNLIKELY(flags & ~r->flags))
		return HERMES_EBADFLAGS;
	if (have < 8)
		return HERMES_ENEEDMORE;
	if (HM_UNLIKELY(hm_get_le16(p + HM_OFF_RESERVED) != 0))
		return HERMES_EBADFLAGS;
	if (have < 12)
		return HERMES_ENEEDMORE;
	uint32_t len = hm_get_le32(p + HM_OFF_LENGTH);
	if (HM_UNLIKELY(len > dec->max_payload))
		return HERMES_ETOOBIG;
	if (HM_UNLIKELY(!hm_len_ok(r, flags, len)))
		return HERMES_EBADPAYLOAD;
	if (have < 16)
		return HERMES_ENEEDMORE;
	uint32_t channel = hm_get_le32(p + HM_OFF_CHANNEL);
	if (HM_UNLIKELY(channel && !(r->fields & HM_F_CHANNEL)))
		return HERMES_EBADFLAGS;
	if (have < 24)
		return HERMES_ENEEDMORE;
	uint64_t seq = hm_get_le64(p + HM_OFF_SEQUENCE);
	if (HM_UNLIKELY(seq && !(r->fields & HM_F_SEQUENCE)))
		return HERMES_EBADFLAGS;

	h->version = p[HM_OFF_VERSION];
	h->type = p[HM_OFF_TYPE];
	h->flags = flags;
	h->length = len;
	h->channel = channel;
	h->sequence = seq;
	return HERMES_OK;
}

hermes_err hermes_decoder_next(hermes_decoder *dec, hermes_frame *frame)
{
	const uint8_t *p = dec->buf + dec->pos;
	size_t avail = dec->len - dec->pos;
	hermes_frame_header h;
	hermes_err err;

	if (HM_LIKELY(avail >= HERMES_HEADER_SIZE))
		err = hm_check_header(dec, p, HERMES_HEADER_SIZE, &h);
	else
		err = hm_check_header(dec, p, avail, &h);
	if (HM_UNLIKELY(err))
		return err;
	if (HM_UNLIKELY(avail - HERMES_HEADER_SIZE < h.length))
		return HERMES_ENEEDMORE;
	frame->header = h;
	frame->bytes = p;
	frame->payload = p + HERMES_HEADER_SIZE;
	dec->pos += HERMES_HEADER_SIZE + (size_t)h.length;
	return HERMES_OK;
}

size_t hermes_decoder_consumed(const hermes_decoder *dec)
{
	return dec->pos;
}

size_t hermes_decoder_needed(const hermes_decoder *dec)
{
	const uint8_t *p = dec->buf + dec->pos;
	size_t avail = dec->len - dec->pos;
	hermes_frame_header h;

	/* A header that already fails its checks needs nothing more: the next
	 * call reports the error. */
	size_t have = avail < HERMES_HEADER_SIZE ? avail : HERMES_HEADER_SIZE;
	hermes_err err = hm_check_header(dec, p, have, &h);
	if (err == HERMES_ENEEDMORE)
		return HERMES_HEADER_SIZE - avail;
	if (err)
		return 0;
	size_t frame = HERMES_HEADER_SIZE + (size_t)h.length;
	return avail < frame ? frame - avail : 0;
}

/* ------------------------------------------------------------------------ */
/* Structured payloads */

/* Names and identities (printable ASCII without spaces, so they can be
 * logged and compared as they are) and error texts (UTF-8 without NUL) are
 * checked by core/utf8.c, the one validator of wire text. */

static int hm_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* The rules on a message's values, apart from its bytes: hm_msg_size
 * refuses what breaks them (HERMES_EINVAL) and hermes_wire_msg_parse does
 * too (HERMES_EBADPAYLOAD), so what one side writes the other accepts. */
static bool hm_msg_values_ok(const hermes_wire_msg *m)
{
	switch (m->type) {
	case HERMES_MSG_HELLO:
		return m->hello.min_version >= 1 && m->hello.min_version <= m->hello.max_version &&
		       m->hello.max_frame >= HERMES_MIN_MAX_FRAME &&
		       hm_wire_name_ok(m->hello.identity, m->hello.identity_len, 0);
	case HERMES_MSG_WELCOME:
		return m->welcome.version >= 1 && m->welcome.max_frame >= HERMES_MIN_MAX_FRAME &&
		       hm_wire_name_ok(m->welcome.name, m->welcome.name_len, 0);
	case HERMES_MSG_BIND:
		return hm_wire_name_ok(m->bind.ring, m->bind.ring_len, 1);
	case HERMES_MSG_BOUND:
	case HERMES_MSG_SUBSCRIBED:
		return m->ring.policy <= HERMES_WIRE_POLICY_OVERWRITE;
	case HERMES_MSG_SUBSCRIBE:
		return m->subscribe.start <= HERMES_WIRE_START_AT &&
		       (m->subscribe.start == HERMES_WIRE_START_AT || !m->subscribe.start_seq) &&
		       hm_wire_name_ok(m->subscribe.ring, m->subscribe.ring_len, 1);
	case HERMES_MSG_ERROR:
		return m->error.code != HERMES_OK && m->error.fatal <= 1 &&
		       m->error.text_len <= HERMES_ERROR_TEXT_MAX &&
		       (!m->error.text_len || m->error.text) &&
		       hm_utf8_text_ok(m->error.text, m->error.text_len);
	default:
		return true;
	}
}

/* Validate msg and compute its payload size: a type with a variable part
 * adds it to its fixed part, the others are their rule's one size. */
static hermes_err hm_msg_size(const hermes_wire_msg *m, size_t *size)
{
	const struct hm_rule *r = hm_rule_of(m->type);
	if (!r)
		return HERMES_EBADTYPE;
	if (!hm_msg_values_ok(m))
		return HERMES_EINVAL;
	switch (m->type) {
	case HERMES_MSG_HELLO:
		*size = HM_HELLO_FIXED + m->hello.identity_len;
		break;
	case HERMES_MSG_WELCOME:
		*size = HM_HELLO_FIXED + m->welcome.name_len;
		break;
	case HERMES_MSG_BIND:
		*size = m->bind.ring_len;
		break;
	case HERMES_MSG_SUBSCRIBE:
		*size = HM_SUBSCRIBE_FIXED + m->subscribe.ring_len;
		break;
	case HERMES_MSG_ERROR:
		*size = HM_ERROR_FIXED + m->error.text_len;
		break;
	case HERMES_MSG_PUBLISH:
	case HERMES_MSG_DELIVER:
		if (m->data.len && !m->data.data)
			return HERMES_EINVAL;
		if (m->data.len > HERMES_FRAME_LIMIT)
			return HERMES_ETOOBIG;
		*size = m->data.len;
		break;
	default:
		assert(r->min_len == r->max_len);
		*size = r->min_len;
		break;
	}
	return HERMES_OK;
}

/* HELLO and WELCOME share a layout: two version bytes (WELCOME's second
 * is zero), the name's length, a zero byte, features, max frame, the name. */
static void hm_put_greeting(uint8_t *p, uint8_t v0, uint8_t v1, uint32_t features,
			    uint32_t max_frame, const char *name, size_t name_len)
{
	p[0] = v0;
	p[1] = v1;
	p[2] = (uint8_t)name_len;
	p[3] = 0;
	hm_put_le32(p + 4, features);
	hm_put_le32(p + 8, max_frame);
	if (name_len)
		memcpy(p + HM_HELLO_FIXED, name, name_len);
}

/* Write a message already validated by hm_msg_size into its exact space. */
static void hm_msg_put(const hermes_wire_msg *m, uint8_t *p)
{
	switch (m->type) {
	case HERMES_MSG_HELLO:
		hm_put_greeting(p, m->hello.min_version, m->hello.max_version, m->hello.features,
				m->hello.max_frame, m->hello.identity, m->hello.identity_len);
		break;
	case HERMES_MSG_WELCOME:
		hm_put_greeting(p, m->welcome.version, 0, m->welcome.features, m->welcome.max_frame,
				m->welcome.name, m->welcome.name_len);
		break;
	case HERMES_MSG_AUTH_CHALLENGE:
		memcpy(p, m->challenge.nonce, HERMES_NONCE_SIZE);
		memcpy(p + HERMES_NONCE_SIZE, m->challenge.kx_public_key,
		       HERMES_KX_PUBLIC_KEY_SIZE);
		break;
	case HERMES_MSG_AUTH_RESPONSE:
		memcpy(p, m->response.nonce, HERMES_NONCE_SIZE);
		memcpy(p + HERMES_NONCE_SIZE, m->response.kx_public_key, HERMES_KX_PUBLIC_KEY_SIZE);
		memcpy(p + 2 * HERMES_NONCE_SIZE, m->response.tag, HERMES_AUTH_TAG_SIZE);
		break;
	case HERMES_MSG_AUTH_OK:
		memcpy(p, m->auth_ok.tag, HERMES_AUTH_TAG_SIZE);
		break;
	case HERMES_MSG_BIND:
		memcpy(p, m->bind.ring, m->bind.ring_len);
		break;
	case HERMES_MSG_BOUND:
	case HERMES_MSG_SUBSCRIBED:
		hm_put_le32(p, m->ring.max_message);
		p[4] = m->ring.policy;
		memset(p + 5, 0, 3);
		break;
	case HERMES_MSG_SUBSCRIBE:
		p[0] = m->subscribe.start;
		memset(p + 1, 0, 7);
		hm_put_le64(p + 8, m->subscribe.start_seq);
		memcpy(p + HM_SUBSCRIBE_FIXED, m->subscribe.ring, m->subscribe.ring_len);
		break;
	case HERMES_MSG_PUBLISH_ACK:
		hm_put_le64(p, m->ack.ring_seq);
		break;
	case HERMES_MSG_LOSS:
		hm_put_le64(p, m->loss.count);
		break;
	case HERMES_MSG_ERROR:
		hm_put_le32(p, m->error.code);
		hm_put_le16(p + 4, (uint16_t)m->error.text_len);
		p[6] = m->error.fatal;
		p[7] = 0;
		if (m->error.text_len)
			memcpy(p + HM_ERROR_FIXED, m->error.text, m->error.text_len);
		break;
	case HERMES_MSG_GOODBYE:
		hm_put_le32(p, m->goodbye.code);
		break;
	case HERMES_MSG_PUBLISH:
	case HERMES_MSG_DELIVER:
		if (m->data.len)
			memcpy(p, m->data.data, m->data.len);
		break;
	default:
		break;
	}
}

hermes_err hermes_wire_msg_write(const hermes_wire_msg *msg, void *out, size_t cap, size_t *len)
{
	size_t size = 0;
	if (!msg || !len || (!out && cap))
		return HERMES_EINVAL;
	hermes_err err = hm_msg_size(msg, &size);
	if (err)
		return err;
	*len = size;
	if (size > cap)
		return HERMES_ENOBUFS;
	hm_msg_put(msg, out);
	return HERMES_OK;
}

hermes_err hermes_wire_msg_encode(hermes_encoder *enc, uint32_t channel, uint64_t seq,
				  const hermes_wire_msg *msg, hermes_wire_bytes *frame)
{
	size_t size = 0;
	uint8_t *p;
	if (!enc || !msg)
		return HERMES_EINVAL;
	hermes_err err = hm_msg_size(msg, &size);
	if (err)
		return err;
	err = hm_reserve(enc, msg->type, 0, channel, seq, size, &p);
	if (err)
		return err;
	hm_msg_put(msg, p + HERMES_HEADER_SIZE);
	hm_frame_out(frame, p, size);
	return HERMES_OK;
}

/* The fields of a payload whose size hermes_wire_msg_parse checked, into
 * msg; false on a reserved byte that is not zero or a length field that
 * disagrees with the size. */
static bool hm_msg_get(const uint8_t *p, size_t len, hermes_wire_msg *msg)
{
	switch (msg->type) {
	case HERMES_MSG_HELLO:
		msg->hello.min_version = p[0];
		msg->hello.max_version = p[1];
		msg->hello.identity_len = p[2];
		msg->hello.features = hm_get_le32(p + 4);
		msg->hello.max_frame = hm_get_le32(p + 8);
		msg->hello.identity = (const char *)p + HM_HELLO_FIXED;
		return p[3] == 0 && len == HM_HELLO_FIXED + (size_t)p[2];
	case HERMES_MSG_WELCOME:
		msg->welcome.version = p[0];
		msg->welcome.name_len = p[2];
		msg->welcome.features = hm_get_le32(p + 4);
		msg->welcome.max_frame = hm_get_le32(p + 8);
		msg->welcome.name = (const char *)p + HM_HELLO_FIXED;
		return p[1] == 0 && p[3] == 0 && len == HM_HELLO_FIXED + (size_t)p[2];
	case HERMES_MSG_AUTH_CHALLENGE:
		memcpy(msg->challenge.nonce, p, HERMES_NONCE_SIZE);
		memcpy(msg->challenge.kx_public_key, p + HERMES_NONCE_SIZE,
		       HERMES_KX_PUBLIC_KEY_SIZE);
		return true;
	case HERMES_MSG_AUTH_RESPONSE:
		memcpy(msg->response.nonce, p, HERMES_NONCE_SIZE);
		memcpy(msg->response.kx_public_key, p + HERMES_NONCE_SIZE,
		       HERMES_KX_PUBLIC_KEY_SIZE);
		memcpy(msg->response.tag, p + 2 * HERMES_NONCE_SIZE, HERMES_AUTH_TAG_SIZE);
		return true;
	case HERMES_MSG_AUTH_OK:
		memcpy(msg->auth_ok.tag, p, HERMES_AUTH_TAG_SIZE);
		return true;
	case HERMES_MSG_BIND:
		msg->bind.ring = (const char *)p;
		msg->bind.ring_len = len;
		return true;
	case HERMES_MSG_BOUND:
	case HERMES_MSG_SUBSCRIBED:
		msg->ring.max_message = hm_get_le32(p);
		msg->ring.policy = p[4];
		return hm_zero(p + 5, 3);
	case HERMES_MSG_SUBSCRIBE:
		msg->subscribe.start = p[0];
		msg->subscribe.start_seq = hm_get_le64(p + 8);
		msg->subscribe.ring = (const char *)p + HM_SUBSCRIBE_FIXED;
		msg->subscribe.ring_len = len - HM_SUBSCRIBE_FIXED;
		return hm_zero(p + 1, 7);
	case HERMES_MSG_PUBLISH_ACK:
		msg->ack.ring_seq = hm_get_le64(p);
		return true;
	case HERMES_MSG_LOSS:
		msg->loss.count = hm_get_le64(p);
		return true;
	case HERMES_MSG_ERROR:
		msg->error.code = hm_get_le32(p);
		msg->error.text_len = hm_get_le16(p + 4);
		msg->error.fatal = p[6];
		msg->error.text = (const char *)p + HM_ERROR_FIXED;
		return p[7] == 0 && len == HM_ERROR_FIXED + msg->error.text_len;
	case HERMES_MSG_GOODBYE:
		msg->goodbye.code = hm_get_le32(p);
		return true;
	case HERMES_MSG_PUBLISH:
	case HERMES_MSG_DELIVER:
		msg->data.data = p;
		msg->data.len = len;
		return true;
	default:
		/* UNBIND, UNSUBSCRIBE, PING, PONG: the size check said 0. */
		return true;
	}
}

/* Strict parse: exact sizes, reserved bytes zero, values in range; the
 * inverse of hm_msg_put on everything it accepts. */
hermes_err hermes_wire_msg_parse(unsigned type, const void *payload, size_t len,
				 hermes_wire_msg *msg)
{
	const uint8_t *p = payload;
	if (!msg || (!p && len))
		return HERMES_EINVAL;
	const struct hm_rule *r = hm_rule_of(type);
	if (!r)
		return HERMES_EBADTYPE;
	if (!hm_len_ok(r, 0, len))
		return HERMES_EBADPAYLOAD;
	memset(msg, 0, sizeof *msg);
	msg->type = (uint8_t)type;
	if (!hm_msg_get(p, len, msg) || !hm_msg_values_ok(msg))
		return HERMES_EBADPAYLOAD;
	return HERMES_OK;
}

hermes_err hermes_wire_tag_split(uint16_t flags, const void *payload, size_t len, uint32_t *tag,
				 hermes_wire_bytes *msg)
{
	if (!tag || !msg || (!payload && len))
		return HERMES_EINVAL;
	const uint8_t *p = payload;
	*tag = 0;
	if (flags & HERMES_FLAG_TAGGED) {
		/* 0 is "no tag", sent without the flag: one encoding each. */
		if (len < HERMES_WIRE_TAG_SIZE || !(*tag = hm_get_le32(p)))
			return HERMES_EBADPAYLOAD;
		p += HERMES_WIRE_TAG_SIZE;
		len -= HERMES_WIRE_TAG_SIZE;
	}
	*msg = (hermes_wire_bytes){.data = p, .len = len};
	return HERMES_OK;
}

hermes_err hermes_auth_transcript(hermes_role prover, const hermes_wire_hello *hello,
				  const hermes_wire_welcome *welcome,
				  const hermes_wire_auth_challenge *challenge,
				  const hermes_wire_auth_response *response, uint8_t *out,
				  size_t *len)
{
	static const char label_c[16] = "hermes auth v1 C";
	static const char label_s[16] = "hermes auth v1 S";
	hermes_wire_msg m;
	size_t n, pos;

	if ((prover != HERMES_ROLE_CLIENT && prover != HERMES_ROLE_SERVER) || !hello || !welcome ||
	    !challenge || !response || !out || !len)
		return HERMES_EINVAL;
	memcpy(out, prover == HERMES_ROLE_CLIENT ? label_c : label_s, 16);
	pos = 16;

	/* HELLO and WELCOME in their canonical encoding: the same bytes both
	 * sides saw on the wire, since parsing accepts only canonical input. */
	m.type = HERMES_MSG_HELLO;
	m.hello = *hello;
	if (hermes_wire_msg_write(&m, out + pos, HERMES_HELLO_MAX, &n))
		return HERMES_EINVAL;
	pos += n;
	m.type = HERMES_MSG_WELCOME;
	m.welcome = *welcome;
	if (hermes_wire_msg_write(&m, out + pos, HERMES_HELLO_MAX, &n))
		return HERMES_EINVAL;
	pos += n;

	memcpy(out + pos, challenge->nonce, HERMES_NONCE_SIZE);
	pos += HERMES_NONCE_SIZE;
	memcpy(out + pos, challenge->kx_public_key, HERMES_KX_PUBLIC_KEY_SIZE);
	pos += HERMES_KX_PUBLIC_KEY_SIZE;
	memcpy(out + pos, response->nonce, HERMES_NONCE_SIZE);
	pos += HERMES_NONCE_SIZE;
	memcpy(out + pos, response->kx_public_key, HERMES_KX_PUBLIC_KEY_SIZE);
	pos += HERMES_KX_PUBLIC_KEY_SIZE;
	*len = pos;
	return HERMES_OK;
}
