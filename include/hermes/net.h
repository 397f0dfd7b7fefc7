/* Hermes remote client: publish and subscribe through a hermes-bridge over TCP.
 *
 * A hermes_net is one TCP connection to a bridge, speaking the wire protocol
 * of docs/PROTOCOL.md: the handshake (with authentication and encryption when
 * configured) happens in hermes_net_connect; then the connection publishes
 * to rings through channels and receives messages of subscribed rings.
 *
 *   hermes_net *n;
 *   hermes_net_connect("127.0.0.1:7400", NULL, &n);
 *   uint32_t ch;
 *   hermes_net_bind(n, "orders", 5000000000, &ch, NULL);
 *   hermes_net_publish(n, ch, "hi", 2, HERMES_NET_PUB_ACK, NULL);
 *   uint32_t sub;
 *   hermes_net_subscribe(n, "orders", HERMES_START_LATEST, 0, 5000000000, &sub, NULL);
 *   hermes_net_event ev;
 *   while (hermes_net_poll(n, &ev, 1000000000) == HERMES_OK)
 *           if (ev.type == HERMES_NET_MESSAGE)
 *                   handle(ev.seq, ev.data, ev.len);   // points into the receive buffer
 *   hermes_net_close(n);
 *
 * Buffers: every connection has one send buffer and one receive buffer,
 * allocated by hermes_net_connect and never grown. Publishing appends frames
 * to the send buffer; they go out in one write when hermes_net_flush is
 * called, when hermes_net_poll runs out of events and would wait, when the
 * buffer is full, or at once with HERMES_NET_PUB_FLUSH. Received messages
 * are handed out in place (zero copy).
 *
 * Flow control: the bridge stops reading a connection while it cannot commit
 * (a full block ring) or cannot queue answers for it. A client that asks for
 * acks should keep a bounded window of unacknowledged publishes and poll for
 * acks, so it never blocks on a full socket while the bridge waits for it to
 * read.
 *
 * Thread-safety: a hermes_net is used by one thread at a time. Distinct
 * connections are independent. Functions block only where they say so, and
 * never longer than their timeout (a negative timeout means no limit).
 * Errors are hermes_err codes; hermes_last_error_detail() says more after a
 * failed connect, bind or subscribe (it never contains a key). */
#ifndef HERMES_NET_H
#define HERMES_NET_H

#include <stddef.h>
#include <stdint.h>

#include <hermes/bus.h>
#include <hermes/error.h>
#include <hermes/export.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hermes_net hermes_net;

/* Connection settings. Fill with hermes_net_options_init, then change what
 * you need. Each field can also come from the environment variable named
 * beside it (read by hermes_net_options_init). */
typedef struct hermes_net_options {
	/* Identity to authenticate as; NULL or "" = anonymous.
	 * $HERMES_NET_IDENTITY. */
	const char *identity;
	/* File holding the identity's key (hermes-bridge keygen); NULL = no
	 * authentication. With a key, a bridge that does not authenticate the
	 * connection is refused (it could be an impostor). A file that also
	 * has a line 'server HEX' (keygen --pair --server-key) is an X25519
	 * secret key, and HEX the bridge's public key: public-key mode, where
	 * only a bridge holding that key's secret half is accepted.
	 * $HERMES_NET_KEY_FILE. */
	const char *key_file;
	/* Session encryption. 0 (default): with a key, ask for it and refuse
	 * a bridge that does not grant it; 1: the same, and a key is required;
	 * -1: explicit opt-out, authenticated but plaintext (a man in the
	 * middle can then read and inject). $HERMES_NET_ENCRYPT=1 or 0 (-1). */
	int encrypt;
	/* Largest frame this client accepts, header included; 0 = 1 MiB.
	 * Messages larger than this are reported as lost. */
	uint32_t max_frame;
	/* Receive buffer bytes; 0 = max(2 * max_frame, 256 KiB). At least
	 * max_frame. */
	size_t recv_buffer;
	/* Send buffer bytes; 0 = 256 KiB. At least 4 KiB; a publish larger than
	 * the send buffer fails with HERMES_EMSGSIZE. */
	size_t send_buffer;
	/* Deadline for connect plus handshake; 0 = 10 s.
	 * $HERMES_NET_TIMEOUT_MS. */
	int64_t connect_timeout_ns;
	/* Internal: extra HELLO feature bits (bridge links). Leave 0. */
	uint32_t features_;
	uint32_t reserved_;
} hermes_net_options;

/* Set *o to the defaults, then apply the environment variables above. */
HERMES_API void hermes_net_options_init(hermes_net_options *o);

/* Connect to the bridge at address ("HOST:PORT"; HOST may be a name or an
 * IPv4/IPv6 literal, IPv6 in brackets: "[::1]:7400") and complete the
 * handshake. o may be NULL for the defaults. Blocks up to the connect
 * timeout.
 * Errors: HERMES_EINVAL (bad address or options), HERMES_ENOENT (the name
 * does not resolve), HERMES_ESYS (connection refused or reset: detail),
 * HERMES_ETIMEDOUT, HERMES_EPERM (authentication failed, or the bridge
 * requires it, or it refused encryption), HERMES_ENOTSUP (a key or encryption
 * asked for in a build without libsodium), HERMES_EBADVERSION (no common
 * protocol version), HERMES_EHANDSHAKE (the bridge broke the protocol),
 * HERMES_ENOMEM. On success the caller owns *out; release it with
 * hermes_net_close. */
HERMES_API hermes_err hermes_net_connect(const char *address, const hermes_net_options *o,
					 hermes_net **out);

/* Send GOODBYE, flush what is queued (up to 1 s), and close; frees n. Events
 * not yet polled are lost. NULL is ignored. */
HERMES_API void hermes_net_close(hermes_net *n);

/* The socket, for callers that wait in their own poll/epoll: readable means
 * hermes_net_poll may have something. Do not read or write it. */
HERMES_API int hermes_net_fd(const hermes_net *n);

/* The bridge's name and the features it granted (HERMES_FEATURE_*). */
HERMES_API const char *hermes_net_server_name(const hermes_net *n);
HERMES_API uint32_t hermes_net_features(const hermes_net *n);

/* Ring facts a bind or a subscription reports. */
typedef struct hermes_net_ring_info {
	uint32_t max_message; /* largest message the ring holds */
	uint8_t policy;	      /* HERMES_WIRE_POLICY_BLOCK or _OVERWRITE */
	uint64_t first_seq;   /* subscriptions: sequence of the first message */
} hermes_net_ring_info;

/* Bind a new publishing channel to ring and wait (up to timeout_ns) for the
 * bridge's answer. *channel receives the id; *info (may be NULL) the ring's
 * limits. Events that arrive meanwhile are kept for hermes_net_poll.
 * Errors: HERMES_ENOENT (no such ring), HERMES_EPERM (not allowed),
 * HERMES_ETOOMANY (no producer slot at the bridge), HERMES_ETIMEDOUT,
 * HERMES_ENOBUFS (the receive buffer filled with other events first: poll
 * them, then retry), HERMES_ECLOSED (the connection is gone). */
HERMES_API hermes_err hermes_net_bind(hermes_net *n, const char *ring, int64_t timeout_ns,
				      uint32_t *channel, hermes_net_ring_info *info);

/* Release a channel (no answer from the bridge). */
HERMES_API hermes_err hermes_net_unbind(hermes_net *n, uint32_t channel);

/* hermes_net_publish flags. */
#define HERMES_NET_PUB_ACK 0x1u   /* the bridge answers with the ring sequence (event ACK) */
#define HERMES_NET_PUB_FLUSH 0x2u /* write the send buffer now (lowest latency) */

/* Queue one message for the ring of channel. *pub_seq (may be NULL)
 * receives the publish sequence that its ACK or ERROR event will carry
 * (1, 2, 3, ... per connection). Never copies more than once (into the send
 * buffer). Blocks only when the send buffer is full, until room is made (up
 * to 10 s; HERMES_ETIMEDOUT). The bridge reports a failed publish as an
 * ERROR event with the channel and publish sequence, acked or not.
 * Errors: HERMES_EMSGSIZE (larger than the bridge's or the send buffer's
 * limit), HERMES_ETIMEDOUT, HERMES_ECLOSED. */
HERMES_API hermes_err hermes_net_publish(hermes_net *n, uint32_t channel, const void *data,
					 size_t len, unsigned flags, uint64_t *pub_seq);

/* As hermes_net_publish, with a user tag that subscribers receive in
 * hermes_msg.tag (and remote ones in a MESSAGE event's value): a message
 * type, a schema id.
 * A tag of 0 is an untagged publish. Clients offer the TAGS feature
 * (HERMES_FEATURE_TAGS) on every connection; a bridge that did not grant it
 * cannot carry tags: HERMES_ENOTSUP then, for a non-zero tag. */
HERMES_API hermes_err hermes_net_publish_tagged(hermes_net *n, uint32_t channel, const void *data,
						size_t len, uint32_t tag, unsigned flags,
						uint64_t *pub_seq);

/* Write everything queued, waiting up to timeout_ns. Reads what arrives
 * meanwhile into the receive buffer (never drops it). Errors:
 * HERMES_ETIMEDOUT (part is still queued), HERMES_ECLOSED. */
HERMES_API hermes_err hermes_net_flush(hermes_net *n, int64_t timeout_ns);

/* Subscribe to ring from start (HERMES_START_LATEST, _EARLIEST, or _SEQ with
 * seq) and wait up to timeout_ns for the answer. *sub receives the
 * subscription id that MESSAGE events carry; *info (may be NULL) the first
 * sequence and the ring's limits. Errors as hermes_net_bind. */
HERMES_API hermes_err hermes_net_subscribe(hermes_net *n, const char *ring, hermes_start start,
					   uint64_t seq, int64_t timeout_ns, uint32_t *sub,
					   hermes_net_ring_info *info);

/* End a subscription; MESSAGE events already received for it may still be
 * polled (hermes_net_poll drops those that arrive later). */
HERMES_API hermes_err hermes_net_unsubscribe(hermes_net *n, uint32_t sub);

/* Send PING with token; the PONG comes back as an event. */
HERMES_API hermes_err hermes_net_ping(hermes_net *n, uint64_t token);

typedef enum hermes_net_event_type {
	HERMES_NET_MESSAGE = 1,	   /* channel = subscription, seq = ring sequence, data/len,
				    * value = the user tag (hermes_msg.tag; 0 = none) */
	HERMES_NET_ACK = 2,	   /* channel, seq = publish sequence, value = ring sequence */
	HERMES_NET_LOSS = 3,	   /* channel = subscription, seq = next sequence, value = count */
	HERMES_NET_ERROR = 4,	   /* channel, seq, code, fatal, data/len = text (not NUL-ended) */
	HERMES_NET_PONG = 5,	   /* seq = token */
	HERMES_NET_BOUND = 6,	   /* channel, value = max message, policy */
	HERMES_NET_SUBSCRIBED = 7, /* channel, seq = first sequence, value = max message, policy */
	HERMES_NET_CLOSED = 8,	   /* the bridge closed the connection; code says why */
} hermes_net_event_type;

typedef struct hermes_net_event {
	hermes_net_event_type type;
	uint32_t channel;
	uint64_t seq;
	uint64_t value;
	hermes_err code; /* ERROR, CLOSED */
	uint8_t fatal;	 /* ERROR: the bridge closes after it */
	uint8_t policy;	 /* BOUND, SUBSCRIBED */
	uint16_t reserved_;
	uint32_t len;
	const void *data; /* MESSAGE payload or ERROR text: valid until the next poll */
} hermes_net_event;

/* Take the next event, waiting up to timeout_ns (0: do not wait) for one.
 * Queued publishes are written when no event is ready without waiting (so
 * they go out in batches; use HERMES_NET_PUB_FLUSH for one that must leave
 * at once). ev->data points into the receive buffer and
 * stays valid until the next call of hermes_net_poll, bind, subscribe or
 * close on n. Returns HERMES_OK with *ev filled, HERMES_EAGAIN (timeout 0,
 * nothing there), HERMES_ETIMEDOUT, or HERMES_ECLOSED after the CLOSED event
 * was delivered. Messages of ended subscriptions are skipped. Answers
 * pings by itself. */
HERMES_API hermes_err hermes_net_poll(hermes_net *n, hermes_net_event *ev, int64_t timeout_ns);

#ifdef __cplusplus
}
#endif

#endif
