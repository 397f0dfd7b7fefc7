/* Hermes wire protocol: frame codec and structured payloads.
 *
 * This is the C codec for the protocol the TCP bridge speaks; docs/PROTOCOL.md
 * is its reference (frame layout, every message type, the handshake, flow
 * control, error codes, versioning, worked examples).
 *
 * Shape, after the original Hermes API:
 *   - an encoder over a buffer it owns (hermes_encoder_create) or one the
 *     caller gives (hermes_encoder_init); hermes_encode appends one frame and
 *     returns its bytes without allocating; hermes_encode_batch appends many
 *     frames back to back for one write(); hermes_encoder_reset reuses the
 *     buffer;
 *   - a zero-copy decoder over received bytes (hermes_decoder_init);
 *     hermes_decoder_next yields a header and a payload pointer into those
 *     bytes, reports a partial frame at the end as HERMES_ENEEDMORE, and
 *     rejects anything malformed with a specific code.
 *
 * Structured payloads (hello, subscribe, error, ...) are parsed and written
 * by hermes_wire_msg_parse / _write / _encode. Parsing is strict and
 * canonical: a payload that parses re-encodes to the same bytes.
 *
 * Threading, for every function below: encoders and decoders are plain
 * values with no hidden global state; one object must not be used by two
 * threads at once, distinct objects may be used freely in parallel. Nothing
 * here blocks, sleeps or does I/O. Nothing allocates except
 * hermes_encoder_create. Pointers that a function does not say may be NULL
 * must not be.
 *
 * The structs below are visible so they can live on the stack or inside a
 * connection object; their fields marked private are not part of the API.
 */
#ifndef HERMES_PROTOCOL_H
#define HERMES_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include <hermes/error.h>
#include <hermes/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every frame starts with this many header bytes; see docs/PROTOCOL.md. */
#define HERMES_HEADER_SIZE 24
/* The first two bytes of every frame, "HM", read as a little-endian u16. */
#define HERMES_MAGIC 0x4D48u
/* The protocol version this codec speaks (header byte 2). */
#define HERMES_PROTOCOL_VERSION 1

/* Frame size limits (header included). Every peer accepts frames of at least
 * HERMES_MIN_MAX_FRAME bytes, so all control frames always fit; a configured
 * maximum lies between that and HERMES_FRAME_LIMIT. */
#define HERMES_DEFAULT_MAX_FRAME (1024u * 1024u)
#define HERMES_MIN_MAX_FRAME 4096u
#define HERMES_FRAME_LIMIT (1u << 30)

/* Buffer size hermes_encoder_create uses when asked for capacity 0. */
#define HERMES_ENCODER_DEFAULT_CAPACITY (64u * 1024u)

/* Header flag bits (header bytes 4-5). All other bits are reserved and must
 * be zero; each message type allows only some of these (PROTOCOL.md). */
#define HERMES_FLAG_ACK_REQUESTED 0x0001u /* PUBLISH: answer with PUBLISH_ACK */
#define HERMES_FLAG_ENCRYPTED 0x0002u	  /* payload is sealed (session encryption) */
/* PUBLISH, DELIVER: the payload starts with the message's u32 user tag
 * (non-zero), then the message; only where HERMES_FEATURE_TAGS was accepted. */
#define HERMES_FLAG_TAGGED 0x0004u

/* Feature bits exchanged in HELLO and WELCOME. Unknown bits in a HELLO are
 * ignored by the server; a WELCOME only ever contains bits the HELLO had. */
#define HERMES_FEATURE_AUTH 0x00000001u	   /* authenticate with a pre-shared key */
#define HERMES_FEATURE_ENCRYPT 0x00000002u /* seal every frame after AUTH_OK */
/* Authenticate with X25519 key pairs instead of a pre-shared key (with AUTH
 * and ENCRYPT; PROTOCOL.md 6.1). 0x4 is the bridges' LINK. */
#define HERMES_FEATURE_PUBKEY 0x00000008u
/* User tags (hermes_msg.tag) travel: PUBLISH and DELIVER may carry
 * HERMES_FLAG_TAGGED. Without it a tagged message reaches the client
 * untagged. */
#define HERMES_FEATURE_TAGS 0x00000010u
/* Bytes HERMES_FLAG_TAGGED puts before the message: the tag, u32 LE. */
#define HERMES_WIRE_TAG_SIZE 4

/* Authentication sizes, chosen to match libsodium without including it:
 * nonces come from randombytes_buf, public keys are crypto_kx_PUBLICKEYBYTES,
 * tags and keys are crypto_auth_hmacsha512256_BYTES / _KEYBYTES, and sealed
 * payloads carry crypto_aead_chacha20poly1305_ietf_ABYTES of tag under a
 * _NPUBBYTES nonce. The module that links libsodium (the bridge's auth.c)
 * is expected to static_assert each of these equalities. */
#define HERMES_NONCE_SIZE 32
#define HERMES_KX_PUBLIC_KEY_SIZE 32
#define HERMES_AUTH_TAG_SIZE 32
#define HERMES_AUTH_KEY_SIZE 32
#define HERMES_SEAL_TAG_SIZE 16
#define HERMES_SEAL_NONCE_SIZE 12

/* Length limits for names and text carried in payloads. */
#define HERMES_WIRE_NAME_MAX 255   /* identity, server name, ring name */
#define HERMES_ERROR_TEXT_MAX 1024 /* ERROR frame text */

/* Largest payload of each structured type, and of any control frame. */
#define HERMES_HELLO_MAX (12 + HERMES_WIRE_NAME_MAX)
#define HERMES_SUBSCRIBE_MAX (16 + HERMES_WIRE_NAME_MAX)
#define HERMES_ERROR_MAX (8 + HERMES_ERROR_TEXT_MAX)
/* Bytes hermes_auth_transcript writes at most. */
#define HERMES_AUTH_TRANSCRIPT_MAX (16 + 2 * HERMES_HELLO_MAX + 4 * HERMES_NONCE_SIZE)

/* Message types (header byte 3). The high two bits are never used; 0 is
 * never a valid type, so zeroed memory never decodes as a frame. */
typedef enum hermes_msg_type {
	/* Handshake: channel and sequence are 0, flags are 0. */
	HERMES_MSG_HELLO = 0x01,	  /* C->S: versions, features, max frame, identity */
	HERMES_MSG_WELCOME = 0x02,	  /* S->C: chosen version, features, max frame, name */
	HERMES_MSG_AUTH_CHALLENGE = 0x03, /* S->C: server nonce, server kx public key */
	HERMES_MSG_AUTH_RESPONSE = 0x04,  /* C->S: client nonce, kx public key, client tag */
	HERMES_MSG_AUTH_OK = 0x05,	  /* S->C: server tag (mutual authentication) */
	/* Publishing. */
	HERMES_MSG_BIND = 0x10,	       /* C->S: bind channel to a ring for publishing */
	HERMES_MSG_BOUND = 0x11,       /* S->C: bind accepted; ring limits */
	HERMES_MSG_UNBIND = 0x12,      /* C->S: release a publishing channel */
	HERMES_MSG_PUBLISH = 0x13,     /* C->S: one message for the channel's ring */
	HERMES_MSG_PUBLISH_ACK = 0x14, /* S->C: the message is committed; its ring sequence */
	/* Subscribing. */
	HERMES_MSG_SUBSCRIBE = 0x20,   /* C->S: ring name and start position */
	HERMES_MSG_SUBSCRIBED = 0x21,  /* S->C: subscription active; first sequence */
	HERMES_MSG_UNSUBSCRIBE = 0x22, /* C->S: end a subscription */
	HERMES_MSG_DELIVER = 0x23,     /* S->C: one message from a subscribed ring */
	HERMES_MSG_LOSS = 0x24,	       /* S->C: messages dropped for this subscriber */
	/* Connection control. */
	HERMES_MSG_PING = 0x30,	   /* either way: liveness probe, sequence is a token */
	HERMES_MSG_PONG = 0x31,	   /* either way: answer to PING, same token */
	HERMES_MSG_ERROR = 0x3E,   /* either way: error code, fatal mark, text */
	HERMES_MSG_GOODBYE = 0x3F, /* either way: orderly close with a reason code */
} hermes_msg_type;

/* Where a connection is in its life. A decoder set to a phase accepts only the
 * types allowed in it and answers HERMES_EHANDSHAKE for the rest; the bridge
 * moves the phase forward as the handshake succeeds. */
typedef enum hermes_phase {
	HERMES_PHASE_ANY = 0,	  /* no ordering checks (tools, tests, fuzzing) */
	HERMES_PHASE_HELLO = 1,	  /* HELLO / WELCOME, ERROR, GOODBYE */
	HERMES_PHASE_AUTH = 2,	  /* AUTH_*, ERROR, GOODBYE */
	HERMES_PHASE_SESSION = 3, /* everything except the handshake types */
} hermes_phase;

/* Which end reads the frames. A server-side decoder accepts only the types a
 * client sends, and the reverse; HERMES_EHANDSHAKE otherwise. */
typedef enum hermes_role {
	HERMES_ROLE_ANY = 0,	/* accept either direction */
	HERMES_ROLE_SERVER = 1, /* decoding what a client sent */
	HERMES_ROLE_CLIENT = 2, /* decoding what a server sent */
} hermes_role;

/* SUBSCRIBE start modes. */
#define HERMES_WIRE_START_LATEST 0   /* only messages committed from now on */
#define HERMES_WIRE_START_EARLIEST 1 /* the oldest message still in the ring */
#define HERMES_WIRE_START_AT 2	     /* the given sequence (or the oldest, if gone) */
/* Ring sequences start at 0, grow by one per message and stay below this
 * (2^56: the ring's tail keeps a producer tag beside the sequence; 2 years at
 * a billion messages a second, 20 at a hundred million). A SUBSCRIBE at or above
 * it can never be served: the bridge refuses it (HERMES_EINVAL, not fatal). */
#define HERMES_WIRE_SEQ_LIMIT (UINT64_C(1) << 56)

/* Ring policies as BOUND / SUBSCRIBED report them. */
#define HERMES_WIRE_POLICY_BLOCK 0
#define HERMES_WIRE_POLICY_OVERWRITE 1

/* A read-only view of bytes owned by someone else. */
typedef struct hermes_wire_bytes {
	const uint8_t *data;
	size_t len;
} hermes_wire_bytes;

/* A frame header, decoded into host values. This is not the wire layout
 * (that is only ever read and written field by field). */
typedef struct hermes_frame_header {
	uint8_t version;   /* protocol version (header byte 2) */
	uint8_t type;	   /* hermes_msg_type */
	uint16_t flags;	   /* HERMES_FLAG_* */
	uint32_t length;   /* payload bytes after the header */
	uint32_t channel;  /* publishing channel or subscription id; 0 = connection */
	uint64_t sequence; /* meaning depends on the type; 0 where unused */
} hermes_frame_header;

/* One decoded frame. payload and bytes point into the decoder's buffer and
 * stay valid as long as that buffer does. */
typedef struct hermes_frame {
	hermes_frame_header header;
	const uint8_t *payload; /* header.length bytes */
	const uint8_t *bytes;	/* the whole frame: HERMES_HEADER_SIZE + length */
} hermes_frame;

/* Name of a message type ("PUBLISH"), or NULL when type is not one. */
HERMES_API const char *hermes_msg_type_name(unsigned type);

/* ------------------------------------------------------------------------ */
/* Encoder */

typedef struct hermes_encoder {
	uint8_t *buf;	    /* private */
	size_t cap;	    /* private */
	size_t len;	    /* private */
	size_t max_payload; /* private: min(max frame, cap) - HERMES_HEADER_SIZE */
	uint32_t max_frame; /* private */
	uint32_t owned;	    /* private: created by hermes_encoder_create */
} hermes_encoder;

/* Allocate an encoder with its own buffer of capacity bytes (0 means
 * HERMES_ENCODER_DEFAULT_CAPACITY). The only allocation in the codec.
 * Errors: HERMES_EINVAL if capacity is below HERMES_HEADER_SIZE or out is
 * NULL; HERMES_ENOMEM if malloc fails (nothing is allocated then).
 * Ownership: the caller owns *out and releases it with hermes_encoder_destroy.
 * Thread-safe (touches no shared state); does not block. */
HERMES_API hermes_err hermes_encoder_create(size_t capacity, hermes_encoder **out);

/* Free an encoder made by hermes_encoder_create, and its buffer. NULL is
 * ignored, and so is an encoder set up with hermes_encoder_init (it owns
 * nothing). Frames it returned become invalid. */
HERMES_API void hermes_encoder_destroy(hermes_encoder *enc);

/* Set up enc over the caller's buffer buf of capacity bytes. Nothing is
 * allocated; the caller keeps ownership of enc and buf, and buf must outlive
 * every use of enc and of the frames it returns.
 * Errors: HERMES_EINVAL if enc or buf is NULL or capacity is below
 * HERMES_HEADER_SIZE (enc is left unusable). Does not block. */
HERMES_API hermes_err hermes_encoder_init(hermes_encoder *enc, void *buf, size_t capacity);

/* Counterpart of hermes_encoder_init; releases nothing (the caller owns the
 * buffer) but leaves enc empty, so a stale encode fails with an error
 * instead of writing into a buffer that may be gone. */
HERMES_API void hermes_encoder_fini(hermes_encoder *enc);

/* Limit frames this encoder produces to max_frame bytes (header included),
 * normally the peer's advertised limit. Default HERMES_DEFAULT_MAX_FRAME.
 * Errors: HERMES_EINVAL if max_frame is outside [HERMES_MIN_MAX_FRAME,
 * HERMES_FRAME_LIMIT]; the old limit stays. */
HERMES_API hermes_err hermes_encoder_set_max_frame(hermes_encoder *enc, uint32_t max_frame);

/* Forget every frame encoded so far (after they were written out); the
 * buffer is reused from its start. Frames returned earlier now point at
 * bytes that will be overwritten. Never fails. */
HERMES_API void hermes_encoder_reset(hermes_encoder *enc);

/* All bytes encoded since the last reset: the frames back to back, ready for
 * one write(). Points into the encoder's buffer; valid until the next reset. */
HERMES_API hermes_wire_bytes hermes_encoder_data(const hermes_encoder *enc);

/* Append one frame: header for type with channel 0, flags 0 and sequence
 * seq, then len payload bytes copied from payload (may be NULL if len is 0;
 * must not overlap the encoder's buffer: use hermes_encoder_claim for that).
 * On success *frame (if not NULL) receives the frame's bytes, inside the
 * encoder's buffer. Does not allocate.
 * Errors (nothing is appended on error):
 *   HERMES_EBADTYPE    type is not a message type;
 *   HERMES_EBADFLAGS   seq is not 0 for a type that does not use it;
 *   HERMES_EBADPAYLOAD len is outside the type's payload size range;
 *   HERMES_ETOOBIG     the frame exceeds the max frame or the whole buffer:
 *                      it can never be sent this way;
 *   HERMES_ENOBUFS     the frame does not fit in the space left: write out
 *                      hermes_encoder_data, reset, and encode it again. */
HERMES_API hermes_err hermes_encode(hermes_encoder *enc, hermes_msg_type type, uint64_t seq,
				    const void *payload, size_t len, hermes_wire_bytes *frame);

/* Like hermes_encode with every header field given: h->type, h->flags,
 * h->channel and h->sequence are used; h->version and h->length are ignored
 * (the encoder writes HERMES_PROTOCOL_VERSION and len). With
 * HERMES_FLAG_ENCRYPTED, len is the sealed length (plaintext plus
 * HERMES_SEAL_TAG_SIZE). Errors as hermes_encode, and HERMES_EBADFLAGS for
 * flags the type does not allow or channel not 0 where the type has none. */
HERMES_API hermes_err hermes_encode_frame(hermes_encoder *enc, const hermes_frame_header *h,
					  const void *payload, size_t len,
					  hermes_wire_bytes *frame);

/* Append a frame header for len payload bytes and hand out *payload, where
 * the caller writes exactly len bytes before the frame is sent (zero-copy:
 * read a ring message straight into it, or seal in place). Header fields and
 * errors as hermes_encode_frame; *frame may be NULL. */
HERMES_API hermes_err hermes_encoder_claim(hermes_encoder *enc, const hermes_frame_header *h,
					   size_t len, uint8_t **payload, hermes_wire_bytes *frame);

/* One message of a batch. */
typedef struct hermes_batch_item {
	const void *payload;
	size_t len;
	uint64_t sequence;
} hermes_batch_item;

/* Append one frame per item, back to back, for one write(): each frame
 * takes type, flags and channel from tmpl and its sequence and payload from
 * the item. Frames are appended in order until one cannot be; *done (if not
 * NULL) receives how many were, and *frames (if not NULL) the bytes of those.
 * Errors: as hermes_encode_frame for the first item that failed. With
 * HERMES_ENOBUFS, write out what is there, reset, and call again with
 * items + *done. On any error the frames before *done stay encoded. */
HERMES_API hermes_err hermes_encode_batch(hermes_encoder *enc, const hermes_frame_header *tmpl,
					  const hermes_batch_item *items, size_t count,
					  size_t *done, hermes_wire_bytes *frames);

/* ------------------------------------------------------------------------ */
/* Decoder */

typedef struct hermes_decoder {
	const uint8_t *buf; /* private */
	size_t len;	    /* private */
	size_t pos;	    /* private */
	size_t max_payload; /* private */
	uint32_t max_frame; /* private */
	uint8_t accept;	    /* private: phase and role bits a type must carry */
	uint8_t phase;	    /* private */
	uint8_t role;	    /* private */
} hermes_decoder;

/* Set up dec to read the len bytes at buf, with the default limits: max
 * frame HERMES_DEFAULT_MAX_FRAME, HERMES_PHASE_ANY, HERMES_ROLE_ANY. buf may
 * be NULL when len is 0. Nothing is copied; buf must stay valid while frames
 * from it are in use. Errors: HERMES_EINVAL if dec is NULL, or buf is NULL
 * with len > 0. Does not block or allocate. */
HERMES_API hermes_err hermes_decoder_init(hermes_decoder *dec, const void *buf, size_t len);

/* Point dec at new bytes (after a read, or after compacting), keeping its
 * limits, phase and role. Decoding restarts at the first byte of buf.
 * Errors: HERMES_EINVAL if buf is NULL with len > 0 (dec is unchanged). */
HERMES_API hermes_err hermes_decoder_set_buffer(hermes_decoder *dec, const void *buf, size_t len);

/* Reject frames longer than max_frame bytes (header included) as soon as
 * their length field is read, before any payload byte is looked at.
 * Errors: HERMES_EINVAL outside [HERMES_MIN_MAX_FRAME, HERMES_FRAME_LIMIT]. */
HERMES_API hermes_err hermes_decoder_set_max_frame(hermes_decoder *dec, uint32_t max_frame);

/* Restrict accepted types to those allowed in phase / sent towards role.
 * Errors: HERMES_EINVAL for a value outside the enum (nothing changes). */
HERMES_API hermes_err hermes_decoder_set_phase(hermes_decoder *dec, hermes_phase phase);
HERMES_API hermes_err hermes_decoder_set_role(hermes_decoder *dec, hermes_role role);

/* Decode the next frame. On HERMES_OK *frame holds its header and a pointer
 * to its payload inside the buffer (zero copy) and the decoder moves past it.
 * Header fields are checked in wire order, each as soon as its bytes are
 * there, so a stream fed one byte at a time fails at the same point with the
 * same code as when fed whole. Errors (the decoder does not move; calling
 * again gives the same answer):
 *   HERMES_ENEEDMORE   the buffer ends before the next frame does (or is
 *                      used up): keep the bytes from hermes_decoder_consumed
 *                      on, read more (hermes_decoder_needed says at least how
 *                      many), and hermes_decoder_set_buffer;
 *   HERMES_EBADMAGIC, HERMES_EBADVERSION, HERMES_EBADTYPE, HERMES_EBADFLAGS
 *                      (a flag the type does not allow, or a reserved field
 *                      not zero), HERMES_ETOOBIG (longer than the max frame),
 *                      HERMES_EBADPAYLOAD (length outside the type's range),
 *                      HERMES_EHANDSHAKE (type not allowed in this phase or
 *                      direction): the stream cannot be trusted from here;
 *                      send an ERROR frame if the phase allows, then close. */
HERMES_API hermes_err hermes_decoder_next(hermes_decoder *dec, hermes_frame *frame);

/* Bytes at the start of the buffer taken up by frames already returned; the
 * caller may discard them (compact) before refilling. */
HERMES_API size_t hermes_decoder_consumed(const hermes_decoder *dec);

/* After HERMES_ENEEDMORE: the least number of further bytes that can make
 * progress (the rest of the header, then the rest of the frame). 0 when the
 * next call would not answer HERMES_ENEEDMORE. */
HERMES_API size_t hermes_decoder_needed(const hermes_decoder *dec);

/* ------------------------------------------------------------------------ */
/* Structured payloads. String fields are (pointer, length) views, not
 * NUL-terminated; after hermes_wire_msg_parse they point into the payload. */

typedef struct hermes_wire_hello {
	uint8_t min_version;  /* lowest protocol version the client speaks (>= 1) */
	uint8_t max_version;  /* highest (>= min_version) */
	uint32_t features;    /* HERMES_FEATURE_* offered */
	uint32_t max_frame;   /* largest frame the client accepts (>= HERMES_MIN_MAX_FRAME) */
	const char *identity; /* 0..HERMES_WIRE_NAME_MAX bytes 0x21-0x7E; empty = anonymous */
	size_t identity_len;
} hermes_wire_hello;

typedef struct hermes_wire_welcome {
	uint8_t version;    /* the version chosen for the rest of the connection */
	uint32_t features;  /* accepted features: a subset of the HELLO's */
	uint32_t max_frame; /* largest frame the server accepts */
	const char *name;   /* server name, 0..HERMES_WIRE_NAME_MAX bytes 0x21-0x7E */
	size_t name_len;
} hermes_wire_welcome;

typedef struct hermes_wire_auth_challenge {
	uint8_t nonce[HERMES_NONCE_SIZE];		  /* fresh random server nonce */
	uint8_t kx_public_key[HERMES_KX_PUBLIC_KEY_SIZE]; /* zeros without encryption */
} hermes_wire_auth_challenge;

typedef struct hermes_wire_auth_response {
	uint8_t nonce[HERMES_NONCE_SIZE];		  /* fresh random client nonce */
	uint8_t kx_public_key[HERMES_KX_PUBLIC_KEY_SIZE]; /* zeros without encryption */
	uint8_t tag[HERMES_AUTH_TAG_SIZE];		  /* client proof */
} hermes_wire_auth_response;

typedef struct hermes_wire_auth_ok {
	uint8_t tag[HERMES_AUTH_TAG_SIZE]; /* server proof */
} hermes_wire_auth_ok;

/* BIND: the ring the channel publishes to. */
typedef struct hermes_wire_bind {
	const char *ring; /* 1..HERMES_WIRE_NAME_MAX bytes 0x21-0x7E */
	size_t ring_len;
} hermes_wire_bind;

/* BOUND and SUBSCRIBED: what the client should know about the ring. */
typedef struct hermes_wire_ring_info {
	uint32_t max_message; /* largest message the ring holds */
	uint8_t policy;	      /* HERMES_WIRE_POLICY_* */
} hermes_wire_ring_info;

typedef struct hermes_wire_subscribe {
	uint8_t start;	    /* HERMES_WIRE_START_* */
	uint64_t start_seq; /* for HERMES_WIRE_START_AT; 0 otherwise */
	const char *ring;   /* 1..HERMES_WIRE_NAME_MAX bytes 0x21-0x7E */
	size_t ring_len;
} hermes_wire_subscribe;

typedef struct hermes_wire_publish_ack {
	uint64_t ring_seq; /* the sequence the message got in the ring */
} hermes_wire_publish_ack;

typedef struct hermes_wire_loss {
	uint64_t count; /* messages dropped for this subscription */
} hermes_wire_loss;

typedef struct hermes_wire_error {
	uint32_t code;	  /* a hermes_err value, never HERMES_OK */
	uint8_t fatal;	  /* 1: the sender closes the connection after this */
	const char *text; /* 0..HERMES_ERROR_TEXT_MAX bytes of UTF-8, no NUL */
	size_t text_len;
} hermes_wire_error;

typedef struct hermes_wire_goodbye {
	uint32_t code; /* HERMES_OK for a normal close, else why */
} hermes_wire_goodbye;

/* Any message's payload, by type. PUBLISH and DELIVER carry opaque bytes
 * (data); UNBIND, UNSUBSCRIBE, PING and PONG carry nothing. */
typedef struct hermes_wire_msg {
	uint8_t type; /* hermes_msg_type */
	union {
		hermes_wire_hello hello;
		hermes_wire_welcome welcome;
		hermes_wire_auth_challenge challenge;
		hermes_wire_auth_response response;
		hermes_wire_auth_ok auth_ok;
		hermes_wire_bind bind;
		hermes_wire_ring_info ring; /* BOUND, SUBSCRIBED */
		hermes_wire_subscribe subscribe;
		hermes_wire_publish_ack ack;
		hermes_wire_loss loss;
		hermes_wire_error error;
		hermes_wire_goodbye goodbye;
		hermes_wire_bytes data; /* PUBLISH, DELIVER */
	};
} hermes_wire_msg;

/* Parse the len-byte payload of a frame of the given type into *msg. The
 * payload must be plaintext (open sealed frames first). Pointers in *msg
 * point into payload; nothing is copied or allocated.
 * Errors: HERMES_EBADTYPE for an unknown type; HERMES_EBADPAYLOAD when the
 * payload is not exactly a valid one for that type (wrong size, reserved
 * bytes not zero, bad name characters, out-of-range values): treat the
 * stream as untrusted. HERMES_EINVAL if msg is NULL or payload is NULL with
 * len > 0. Thread-safe; does not block. */
HERMES_API hermes_err hermes_wire_msg_parse(unsigned type, const void *payload, size_t len,
					    hermes_wire_msg *msg);

/* Write msg's payload into out (cap bytes); *len receives its size, also
 * when that is more than cap. Errors: HERMES_EBADTYPE for an unknown
 * msg->type; HERMES_EINVAL when a field is out of range (see the structs);
 * HERMES_ENOBUFS when cap < *len (nothing written). Thread-safe. */
HERMES_API hermes_err hermes_wire_msg_write(const hermes_wire_msg *msg, void *out, size_t cap,
					    size_t *len);

/* Append a frame of msg->type with channel, sequence seq and flags 0, its
 * payload written in place by the rules of hermes_wire_msg_write. *frame may be
 * NULL. Errors: those of hermes_wire_msg_write (except ENOBUFS) and of
 * hermes_encode_frame; nothing is appended on error. */
HERMES_API hermes_err hermes_wire_msg_encode(hermes_encoder *enc, uint32_t channel, uint64_t seq,
					     const hermes_wire_msg *msg, hermes_wire_bytes *frame);

/* Split the plaintext payload of a PUBLISH or DELIVER with header flags
 * into its user tag and its message. Without HERMES_FLAG_TAGGED, *tag is 0
 * and *msg the whole payload; with it, the first HERMES_WIRE_TAG_SIZE bytes
 * are the tag. Errors: HERMES_EBADPAYLOAD for a tagged payload shorter than
 * the tag or a tag of 0 (untagged messages are sent without the flag);
 * HERMES_EINVAL for a NULL pointer. Thread-safe; does not block. */
HERMES_API hermes_err hermes_wire_tag_split(uint16_t flags, const void *payload, size_t len,
					    uint32_t *tag, hermes_wire_bytes *msg);

/* The bytes a side authenticates (PROTOCOL.md, "Authentication"):
 * a 16-byte label ("hermes auth v1 C" for the client's proof, "...S" for the
 * server's), then the HELLO, WELCOME and AUTH_CHALLENGE payloads and the
 * nonce and public key of the AUTH_RESPONSE. The tag is
 * crypto_auth_hmacsha512256(transcript, pre-shared key). prover is
 * HERMES_ROLE_CLIENT or HERMES_ROLE_SERVER; response->tag is not used.
 * out must hold HERMES_AUTH_TRANSCRIPT_MAX bytes; *len receives the size.
 * Errors: HERMES_EINVAL for a bad prover, a NULL pointer, or a hello or
 * welcome that hermes_wire_msg_write would reject. Thread-safe; no allocation. */
HERMES_API hermes_err hermes_auth_transcript(hermes_role prover, const hermes_wire_hello *hello,
					     const hermes_wire_welcome *welcome,
					     const hermes_wire_auth_challenge *challenge,
					     const hermes_wire_auth_response *response,
					     uint8_t *out, size_t *len);

#ifdef __cplusplus
}
#endif

#endif
