/* The client side of the wire protocol as a state machine over two buffers.
 *
 * No sockets here: the owner reads bytes into hm_client_in_space(), calls
 * hm_client_next() for events, queues frames with hm_client_send*(), and
 * writes out what hm_client_out() shows. The blocking API (net_client.c,
 * hermes_net_*) and the bridge's outgoing links (link.c, inside the epoll
 * loop) both drive it. It performs the handshake of PROTOCOL.md section 5-7
 * itself: HELLO, the WELCOME checks, authentication (both proofs) and
 * session sealing; PINGs are answered by itself. */
#ifndef HM_BRIDGE_CLIENT_H
#define HM_BRIDGE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hermes/net.h>
#include <hermes/protocol.h>

#include "tcp-bridge/client/auth.h"

/* Feature bit of bridge links (PROTOCOL.md, "Links between buses"). */
#define HM_FEATURE_LINK 0x00000004u
/* Bytes a LINK publish carries before the message: origin bus id and the
 * message's sequence in its origin ring, both u64 little-endian. */
#define HM_LINK_PREFIX 16

typedef enum hm_client_state {
	HM_CL_HELLO = 0,   /* HELLO queued, waiting for WELCOME */
	HM_CL_AUTH = 1,	   /* AUTH_RESPONSE sent, waiting for AUTH_OK */
	HM_CL_SESSION = 2, /* handshake done */
	HM_CL_CLOSED = 3,  /* fatal error or GOODBYE; see err and detail */
} hm_client_state;

typedef struct hm_client_cfg {
	const char *identity;	 /* NULL or "" = anonymous */
	const uint8_t *key;	 /* HERMES_AUTH_KEY_SIZE bytes, or NULL: no authentication */
	bool encrypt;		 /* require session encryption (needs key) */
	bool plaintext;		 /* with a key: do not encrypt (explicit opt-out) */
	/* Public-key mode: key is our X25519 secret key and this the bridge's
	 * public key we pin (HERMES_KX_PUBLIC_KEY_SIZE bytes), or NULL (PSK). */
	const uint8_t *server_pk;
	uint32_t extra_features; /* e.g. HM_FEATURE_LINK */
	uint32_t max_frame;	 /* ours; 0 = HERMES_DEFAULT_MAX_FRAME */
	size_t in_cap, out_cap;	 /* buffer sizes; 0 = defaults */
} hm_client_cfg;

typedef struct hm_client {
	hm_client_state state;
	hermes_err err;	  /* why CLOSED */
	char detail[200]; /* for logs; never contains key material */
	bool closed_reported;

	/* Negotiation. */
	uint32_t offer, features, max_frame, server_max_frame;
	bool have_key, want_encrypt;
	uint8_t key[HERMES_AUTH_KEY_SIZE];
	char identity[HERMES_WIRE_NAME_MAX + 1];
	char server_name[HERMES_WIRE_NAME_MAX + 1];
	hermes_wire_hello hello;
	hermes_wire_welcome welcome;
	hermes_wire_auth_challenge challenge;
	hermes_wire_auth_response response;
	uint8_t kx_pk[HERMES_KX_PUBLIC_KEY_SIZE], kx_sk[HERMES_KX_PUBLIC_KEY_SIZE];
	bool pk; /* public-key mode */
	uint8_t server_pk[HERMES_KX_PUBLIC_KEY_SIZE];
	hm_pk_keys pkk; /* its keys, from AUTH_CHALLENGE to AUTH_OK */

	/* Session sealing: rx opens what the server sends, tx seals ours. */
	bool sealed;
	uint8_t rx_key[HERMES_AUTH_KEY_SIZE], tx_key[HERMES_AUTH_KEY_SIZE];
	uint64_t rx_ctr, tx_ctr;

	/* Receive buffer: [in_off, in_len) not yet decoded. */
	uint8_t *in;
	size_t in_cap, in_off, in_len;
	/* Send buffer: [out_off, out_len) not yet written. */
	uint8_t *out;
	size_t out_cap, out_off, out_len;
	uint8_t *claim_frame; /* frame reserved by hm_client_send_claim */
	size_t claim_len;
	bool challenged; /* AUTH_CHALLENGE answered */
	bool eof;	 /* the peer closed: report it once the frames before are decoded */
	hermes_decoder dec;
} hm_client;

/* Allocate the buffers and queue HELLO. Errors: HERMES_EINVAL (bad
 * identity or sizes, encrypt without key), HERMES_ENOTSUP (a key in a build
 * without libsodium), HERMES_ENOMEM. */
hermes_err hm_client_init(hm_client *c, const hm_client_cfg *cfg);

/* Free the buffers and wipe the secrets. */
void hm_client_fini(hm_client *c);

/* Where to read into, and how much room (0: the buffer is full of frames
 * not yet taken). With compact, frames already taken are discarded first,
 * which invalidates payload pointers handed out before. */
uint8_t *hm_client_in_space(hm_client *c, bool compact, size_t *room);
/* n bytes were read into the space. */
void hm_client_in_added(hm_client *c, size_t n);

/* Bytes waiting to be written, and how many were written. */
static inline size_t hm_client_out_pending(const hm_client *c)
{
	return c->out_len - c->out_off;
}
static inline const uint8_t *hm_client_out_data(const hm_client *c)
{
	return c->out + c->out_off;
}
void hm_client_out_written(hm_client *c, size_t n);

/* Decode the next event. Handshake frames and PINGs are handled inside.
 * Returns HERMES_OK with *ev set (ev->data points into the receive buffer,
 * valid until it is compacted), HERMES_ENEEDMORE (read more), HERMES_ENOBUFS
 * (an automatic answer needs send-buffer room: write, then call again), or
 * HERMES_ECLOSED (the connection is finished; the first time, *ev is a
 * CLOSED event and HERMES_OK is returned instead). */
hermes_err hm_client_next(hm_client *c, hermes_net_event *ev);

/* Queue one frame (sealed if the session is). payload may be NULL when len
 * is 0. HERMES_ENOBUFS when it does not fit now (write first),
 * HERMES_EMSGSIZE when it can never fit (bigger than the buffer or the
 * server's max frame), HERMES_ECLOSED after a fatal error. */
hermes_err hm_client_send(hm_client *c, hermes_msg_type type, uint16_t flags, uint32_t channel,
			  uint64_t seq, const void *payload, size_t len);

/* Zero-copy form: reserve a frame of len payload bytes, write them at
 * *payload, then hm_client_send_commit (which seals). Errors as send. */
hermes_err hm_client_send_claim(hm_client *c, hermes_msg_type type, uint16_t flags,
				uint32_t channel, uint64_t seq, size_t len, uint8_t **payload);
void hm_client_send_commit(hm_client *c);

/* Queue a PUBLISH with user tag tag (0: none; non-zero needs the TAGS
 * feature, else HERMES_ENOTSUP). Errors as send. */
hermes_err hm_client_send_publish(hm_client *c, uint16_t flags, uint32_t channel, uint64_t seq,
				  uint32_t tag, const void *payload, size_t len);

/* Queue a structured control frame (BIND, SUBSCRIBE, GOODBYE, ...). */
hermes_err hm_client_send_msg(hm_client *c, uint32_t channel, uint64_t seq,
			      const hermes_wire_msg *msg);

/* Largest payload a PUBLISH may carry now (server max frame, buffer). */
size_t hm_client_max_payload(const hm_client *c);

#endif
