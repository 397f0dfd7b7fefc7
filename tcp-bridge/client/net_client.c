/* hermes_net_*: the blocking remote client API (include/hermes/net.h) over
 * the protocol state machine in client.c and one non-blocking TCP socket. */
#include <hermes/net.h>

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/error_detail.h"
#include "core/futex.h"
#include "tcp-bridge/client/auth.h"
#include "tcp-bridge/client/client.h"
#include "tcp-bridge/client/netaddr.h"

#define DEFERRED_MAX 4096u
#define ENDED_MAX 256u
#define PUBLISH_WAIT_NS 10000000000ll
#define CONNECT_TIMEOUT_NS 10000000000ll /* without options' connect_timeout_ns */
#define GOODBYE_WAIT_NS 1000000000ll     /* how long close tries to send GOODBYE */
#define POLL_MAX_MS 60000                /* one poll() waits at most this long */
#define REFUSAL_TEXT_MAX 200u            /* of a bridge's ERROR text, in a detail */

struct hermes_net {
	int fd;
	hm_client c;
	uint64_t pub_seq;
	uint32_t next_id;
	/* Events that arrived while bind or subscribe waited for their answer,
	 * in order; their payloads stay in the receive buffer, which is not
	 * compacted until they are all handed out. */
	hermes_net_event *dq;
	unsigned dq_head, dq_count;
	/* Recently ended subscriptions, whose late messages are skipped. */
	uint32_t ended[ENDED_MAX];
	unsigned nended;
};

void hermes_net_options_init(hermes_net_options *o)
{
	memset(o, 0, sizeof *o);
	const char *v;
	if ((v = getenv("HERMES_NET_IDENTITY")) && *v)
		o->identity = v;
	if ((v = getenv("HERMES_NET_KEY_FILE")) && *v)
		o->key_file = v;
	if ((v = getenv("HERMES_NET_ENCRYPT")) && *v)
		o->encrypt = strcmp(v, "0") != 0 ? 1 : -1;
	if ((v = getenv("HERMES_NET_TIMEOUT_MS")) && *v)
		o->connect_timeout_ns = strtoll(v, NULL, 10) * 1000000ll;
}

int hermes_net_fd(const hermes_net *n)
{
	return n ? n->fd : -1;
}

const char *hermes_net_server_name(const hermes_net *n)
{
	return n ? n->c.server_name : "";
}

uint32_t hermes_net_features(const hermes_net *n)
{
	return n ? n->c.features : 0;
}

/* ---- socket I/O ------------------------------------------------------------------ */

/* Milliseconds until deadline for poll(), rounded up; -1 for none. */
static int poll_ms(uint64_t deadline)
{
	if (deadline == UINT64_MAX)
		return -1;
	uint64_t now = hm_now_ns();
	if (now >= deadline)
		return 0;
	uint64_t ms = (deadline - now + 999999) / 1000000;
	return ms > POLL_MAX_MS ? POLL_MAX_MS : (int)ms;
}

/* A send or recv that moved nothing: HERMES_EAGAIN when the socket is
 * not ready, else HERMES_ECLOSED (end of stream or an error). */
static hermes_err io_stopped(ssize_t r)
{
	return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? HERMES_EAGAIN : HERMES_ECLOSED;
}

/* Write what is queued, once. HERMES_OK (all or part written, or nothing
 * to write), HERMES_EAGAIN (the socket is full), HERMES_ECLOSED. */
static hermes_err write_some(hermes_net *n)
{
	if (!hm_client_out_pending(&n->c))
		return HERMES_OK;
	ssize_t w;
	do
		w = send(n->fd, hm_client_out_data(&n->c), hm_client_out_pending(&n->c),
			 MSG_NOSIGNAL | MSG_DONTWAIT);
	while (w < 0 && errno == EINTR);
	if (w <= 0)
		return io_stopped(w);
	hm_client_out_written(&n->c, (size_t)w);
	return HERMES_OK;
}

/* Read once into the receive buffer. compact: frames already taken may be
 * discarded to make room. HERMES_OK (bytes read), HERMES_EAGAIN (nothing
 * there), HERMES_ENOBUFS (no room), HERMES_ECLOSED (end of stream or
 * error; the client state says closed). Frames already received are still
 * decoded first after a close: the client only closes once it has nothing
 * left to give. */
static hermes_err read_some(hermes_net *n, bool compact)
{
	size_t room;
	uint8_t *at = hm_client_in_space(&n->c, compact, &room);
	if (room == 0)
		return HERMES_ENOBUFS;
	ssize_t r;
	do
		r = recv(n->fd, at, room, MSG_DONTWAIT);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return io_stopped(r);
	hm_client_in_added(&n->c, (size_t)r);
	return HERMES_OK;
}

/* The peer is gone: the state machine reports the close once it has
 * decoded every frame that arrived before. */
static void peer_gone(hermes_net *n)
{
	n->c.eof = true;
}

/* Wait for the socket: readable (if want_in), writable (if output is
 * queued). false at the deadline. */
static bool wait_io(hermes_net *n, bool want_in, uint64_t deadline)
{
	struct pollfd p = {.fd = n->fd,
			   .events = (short)((want_in ? POLLIN : 0) |
					     (hm_client_out_pending(&n->c) ? POLLOUT : 0))};
	if (!p.events)
		return true;
	for (;;) {
		int r = poll(&p, 1, poll_ms(deadline));
		if (r > 0)
			return true;
		if (r < 0 && errno != EINTR)
			return false;
		if (r == 0 && hm_now_ns() >= deadline)
			return false;
	}
}

/* Write everything queued by the deadline, reading what arrives meanwhile
 * (without compacting: payloads handed out must stay put). */
static hermes_err flush_until(hermes_net *n, uint64_t deadline)
{
	while (hm_client_out_pending(&n->c)) {
		hermes_err err = write_some(n);
		if (err == HERMES_ECLOSED) {
			peer_gone(n);
			return HERMES_ECLOSED;
		}
		if (err == HERMES_OK)
			continue;
		size_t room;
		hm_client_in_space(&n->c, false, &room);
		if (!wait_io(n, room > 0, deadline))
			return HERMES_ETIMEDOUT;
		if (room > 0 && read_some(n, false) == HERMES_ECLOSED) {
			/* Keep trying to write: the close shows on the next
			 * write, and what was read is decoded first. */
		}
	}
	return HERMES_OK;
}

/* ---- connect ------------------------------------------------------------------------ */

static hermes_err dial(const char *address, uint64_t deadline, int *out)
{
	char host[256];
	uint16_t port;
	if (hm_netaddr_split(address, host, sizeof host, &port) != 0)
		return hm_fail(HERMES_EINVAL, "bad address '%s': want HOST:PORT", address);
	char portstr[8];
	snprintf(portstr, sizeof portstr, "%u", port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	int gai = getaddrinfo(host, portstr, &hints, &res);
	if (gai != 0)
		return hm_fail(HERMES_ENOENT, "cannot resolve '%s': %s", host, gai_strerror(gai));
	hermes_err err = hm_fail(HERMES_ESYS, "cannot connect to %s", address);
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				ai->ai_protocol);
		if (fd < 0) {
			err = hm_fail_errno("socket", address);
			continue;
		}
		int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
		if (r != 0 && errno == EINPROGRESS) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			int pr;
			do
				pr = poll(&p, 1, poll_ms(deadline));
			while (pr < 0 && errno == EINTR);
			if (pr == 0) {
				close(fd);
				err = hm_fail(HERMES_ETIMEDOUT, "connecting to %s timed out", address);
				break;
			}
			int soerr = 0;
			socklen_t sl = sizeof soerr;
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
			errno = soerr;
			r = soerr ? -1 : 0;
		}
		if (r != 0) {
			err = hm_fail(HERMES_ESYS, "cannot connect to %s: %s", address, strerror(errno));
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		*out = fd;
		err = HERMES_OK;
		break;
	}
	freeaddrinfo(res);
	return err;
}

/* The handshake: write what the state machine queued, read, decode, until
 * the session starts or the bridge refuses. */
static hermes_err handshake(hermes_net *n, const char *address, uint64_t deadline)
{
	while (n->c.state != HM_CL_SESSION) {
		hermes_net_event ev;
		hermes_err e = hm_client_next(&n->c, &ev);
		if (e == HERMES_OK && ev.type == HERMES_NET_CLOSED) {
			hermes_err err = hm_fail(n->c.err ? n->c.err : HERMES_EHANDSHAKE, "%s: %s",
						 address, n->c.detail);
			(void)write_some(n);
			return err;
		}
		if (e == HERMES_OK)
			continue; /* nothing else comes before the session */
		if (write_some(n) == HERMES_ECLOSED)
			return hm_fail(HERMES_ESYS, "%s closed the connection during the handshake",
				       address);
		if (e == HERMES_ENEEDMORE && n->c.state == HM_CL_SESSION)
			break;
		if (e == HERMES_ENEEDMORE) {
			hermes_err r = read_some(n, true);
			if (r == HERMES_ECLOSED) {
				peer_gone(n);
				continue;
			}
			if (r == HERMES_EAGAIN && !wait_io(n, true, deadline))
				return hm_fail(HERMES_ETIMEDOUT, "handshake with %s timed out", address);
		}
	}
	if (write_some(n) == HERMES_ECLOSED)
		return hm_fail(HERMES_ESYS, "%s closed the connection", address);
	return HERMES_OK;
}

/* Free a handle from net_new (NULL: nothing): its socket if it has one, its
 * state machine and its event queue. */
static void net_free(hermes_net *n)
{
	if (!n)
		return;
	if (n->fd >= 0)
		close(n->fd);
	hm_client_fini(&n->c);
	free(n->dq);
	free(n);
}

/* A handle with its protocol state machine set up from o (the key file
 * read and wiped again), not connected yet (fd -1). */
static hermes_err net_new(const hermes_net_options *o, hermes_net **out)
{
	uint8_t key[HERMES_AUTH_KEY_SIZE], server_pk[HERMES_KX_PUBLIC_KEY_SIZE];
	hm_client_cfg cfg = {.identity = o->identity,
			     .encrypt = o->encrypt > 0,
			     .plaintext = o->encrypt < 0,
			     .extra_features = o->features_ | HERMES_FEATURE_TAGS,
			     .max_frame = o->max_frame,
			     .in_cap = o->recv_buffer,
			     .out_cap = o->send_buffer};
	if (o->key_file) {
		bool pinned = false;
		hermes_err err = hm_auth_key_load_pin(o->key_file, key, server_pk, &pinned);
		if (err)
			return err;
		cfg.key = key;
		/* A key file that pins the bridge's public key: public-key mode. */
		if (pinned)
			cfg.server_pk = server_pk;
	}
	hermes_net *n = calloc(1, sizeof *n);
	if (!n) {
		hm_auth_wipe(key, sizeof key);
		return hm_fail(HERMES_ENOMEM, "connection handle");
	}
	n->fd = -1;
	hermes_err err = hm_client_init(&n->c, &cfg);
	hm_auth_wipe(key, sizeof key);
	if (err) {
		free(n);
		return err;
	}
	n->dq = calloc(DEFERRED_MAX, sizeof *n->dq);
	if (!n->dq) {
		net_free(n);
		return hm_fail(HERMES_ENOMEM, "event queue");
	}
	*out = n;
	return HERMES_OK;
}

hermes_err hermes_net_connect(const char *address, const hermes_net_options *o,
			      hermes_net **out)
{
	hm_clear_detail();
	if (!address || !out)
		return hm_fail(HERMES_EINVAL, "address or out is NULL");
	hermes_net_options defaults;
	if (!o) {
		hermes_net_options_init(&defaults);
		o = &defaults;
	}
	int64_t timeout = o->connect_timeout_ns > 0 ? o->connect_timeout_ns : CONNECT_TIMEOUT_NS;
	uint64_t deadline = hm_deadline_after(timeout);
	hermes_net *n = NULL;
	hermes_err err = net_new(o, &n);
	if (err)
		return err;
	err = dial(address, deadline, &n->fd);
	if (!err)
		err = handshake(n, address, deadline);
	if (err) {
		net_free(n);
		return err;
	}
	*out = n;
	return HERMES_OK;
}

/* End a session politely: GOODBYE (within GOODBYE_WAIT_NS), then a
 * half-close and a moment for the bridge to close its side, so that our
 * close does not reset frames still in flight. */
static void say_goodbye(hermes_net *n)
{
	hermes_wire_msg m = {.type = HERMES_MSG_GOODBYE};
	m.goodbye.code = HERMES_OK;
	uint64_t deadline = hm_deadline_after(GOODBYE_WAIT_NS);
	if (hm_client_send_msg(&n->c, 0, 0, &m) == HERMES_ENOBUFS &&
	    flush_until(n, deadline) == HERMES_OK)
		(void)hm_client_send_msg(&n->c, 0, 0, &m);
	flush_until(n, deadline);
	shutdown(n->fd, SHUT_WR);
	char sink[4096];
	struct pollfd p = {.fd = n->fd, .events = POLLIN};
	uint64_t grace = hm_deadline_after(200000000ll);
	while (poll(&p, 1, poll_ms(grace)) > 0 && recv(n->fd, sink, sizeof sink, 0) > 0)
		;
}

void hermes_net_close(hermes_net *n)
{
	if (n && n->c.state == HM_CL_SESSION)
		say_goodbye(n);
	net_free(n);
}

/* ---- session -------------------------------------------------------------------------- */

static bool ended(const hermes_net *n, uint32_t id)
{
	for (unsigned i = 0; i < n->nended && i < ENDED_MAX; i++)
		if (n->ended[i] == id)
			return true;
	return false;
}

/* Queue a control frame, writing first when the send buffer is full. */
static hermes_err send_msg(hermes_net *n, uint32_t channel, const hermes_wire_msg *m,
			   uint64_t deadline)
{
	for (;;) {
		hermes_err err = hm_client_send_msg(&n->c, channel, 0, m);
		if (err != HERMES_ENOBUFS)
			return err;
		err = flush_until(n, deadline);
		if (err)
			return err;
	}
}

/* Wait for the BOUND/SUBSCRIBED or ERROR answering id; keep other events. */
static hermes_err wait_answer(hermes_net *n, uint32_t id, uint64_t deadline, hermes_net_event *ans)
{
	hermes_err err = flush_until(n, deadline);
	if (err)
		return err;
	for (;;) {
		hermes_net_event ev;
		err = hm_client_next(&n->c, &ev);
		if (err == HERMES_OK) {
			if (ev.channel == id &&
			    (ev.type == HERMES_NET_BOUND || ev.type == HERMES_NET_SUBSCRIBED ||
			     ev.type == HERMES_NET_ERROR)) {
				*ans = ev;
				return HERMES_OK;
			}
			if (n->dq_count == DEFERRED_MAX)
				return hm_fail(HERMES_ENOBUFS, "too many events arrived before the answer: "
							       "poll them, then retry");
			n->dq[(n->dq_head + n->dq_count++) % DEFERRED_MAX] = ev;
			if (ev.type == HERMES_NET_CLOSED)
				return hm_fail(HERMES_ECLOSED, "%s", n->c.detail);
			continue;
		}
		if (err == HERMES_ECLOSED)
			return hm_fail(HERMES_ECLOSED, "%s", n->c.detail);
		if (err == HERMES_ENOBUFS) {
			if ((err = flush_until(n, deadline)) != HERMES_OK)
				return err;
			continue;
		}
		/* ENEEDMORE */
		hermes_err r = read_some(n, n->dq_count == 0);
		if (r == HERMES_ENOBUFS)
			return hm_fail(HERMES_ENOBUFS, "the receive buffer filled with events before "
						       "the answer: poll them, then retry");
		if (r == HERMES_ECLOSED)
			peer_gone(n);
		else if (r == HERMES_EAGAIN && !wait_io(n, true, deadline))
			return hm_fail(HERMES_ETIMEDOUT, "no answer from the bridge in time");
	}
}

static hermes_err answer_err(const hermes_net_event *ev, const char *what, const char *ring)
{
	if (ev->type != HERMES_NET_ERROR)
		return HERMES_OK;
	return hm_fail(ev->code ? ev->code : HERMES_EINVAL, "%s '%s' refused: %.*s", what, ring,
		       (int)(ev->len > REFUSAL_TEXT_MAX ? REFUSAL_TEXT_MAX : ev->len),
		       (const char *)ev->data);
}

/* Send m (a BIND or SUBSCRIBE of ring) on a new id and wait for the
 * bridge's answer: the id in *out and the ring's facts in *info (may be
 * NULL; the first sequence only for a subscription), or its refusal as an
 * error. */
static hermes_err ring_request(hermes_net *n, const hermes_wire_msg *m, const char *ring,
			       const char *what, int64_t timeout_ns, uint32_t *out,
			       hermes_net_ring_info *info)
{
	uint64_t deadline = hm_deadline_after(timeout_ns);
	uint32_t id = ++n->next_id;
	hermes_net_event ev = {0};
	hermes_err err = send_msg(n, id, m, deadline);
	if (err == HERMES_EINVAL)
		return hm_fail(HERMES_EINVAL, "bad ring name '%s'", ring);
	if (err || (err = wait_answer(n, id, deadline, &ev)) != HERMES_OK ||
	    (err = answer_err(&ev, what, ring)) != HERMES_OK)
		return err;
	*out = id;
	if (info)
		*info = (hermes_net_ring_info){
			.max_message = (uint32_t)ev.value,
			.policy = ev.policy,
			.first_seq = m->type == HERMES_MSG_SUBSCRIBE ? ev.seq : 0};
	return HERMES_OK;
}

hermes_err hermes_net_bind(hermes_net *n, const char *ring, int64_t timeout_ns,
			   uint32_t *channel, hermes_net_ring_info *info)
{
	hm_clear_detail();
	if (!n || !ring || !channel)
		return hm_fail(HERMES_EINVAL, "NULL argument");
	hermes_wire_msg m = {.type = HERMES_MSG_BIND};
	m.bind.ring = ring;
	m.bind.ring_len = strlen(ring);
	return ring_request(n, &m, ring, "bind to ring", timeout_ns, channel, info);
}

/* UNBIND or UNSUBSCRIBE (type) of id: an empty message on its channel. */
static hermes_err send_end(hermes_net *n, uint32_t id, uint8_t type)
{
	if (!n || !id)
		return HERMES_EINVAL;
	hermes_wire_msg m = {.type = type};
	return send_msg(n, id, &m, hm_deadline_after(PUBLISH_WAIT_NS));
}

hermes_err hermes_net_unbind(hermes_net *n, uint32_t channel)
{
	return send_end(n, channel, HERMES_MSG_UNBIND);
}

hermes_err hermes_net_subscribe(hermes_net *n, const char *ring, hermes_start start,
				uint64_t seq, int64_t timeout_ns, uint32_t *sub,
				hermes_net_ring_info *info)
{
	hm_clear_detail();
	if (!n || !ring || !sub)
		return hm_fail(HERMES_EINVAL, "NULL argument");
	hermes_wire_msg m = {.type = HERMES_MSG_SUBSCRIBE};
	m.subscribe.start = start == HERMES_START_LATEST	  ? HERMES_WIRE_START_LATEST
			    : start == HERMES_START_EARLIEST ? HERMES_WIRE_START_EARLIEST
							     : HERMES_WIRE_START_AT;
	m.subscribe.start_seq = start == HERMES_START_SEQ ? seq : 0;
	m.subscribe.ring = ring;
	m.subscribe.ring_len = strlen(ring);
	return ring_request(n, &m, ring, "subscription to ring", timeout_ns, sub, info);
}

hermes_err hermes_net_unsubscribe(hermes_net *n, uint32_t sub)
{
	hermes_err err = send_end(n, sub, HERMES_MSG_UNSUBSCRIBE);
	if (!err)
		n->ended[n->nended++ % ENDED_MAX] = sub;
	return err;
}

hermes_err hermes_net_ping(hermes_net *n, uint64_t token)
{
	if (!n)
		return HERMES_EINVAL;
	uint64_t deadline = hm_deadline_after(PUBLISH_WAIT_NS);
	for (;;) {
		hermes_err err = hm_client_send(&n->c, HERMES_MSG_PING, 0, 0, token, NULL, 0);
		if (err != HERMES_ENOBUFS)
			return err;
		if ((err = flush_until(n, deadline)) != HERMES_OK)
			return err;
	}
}

hermes_err hermes_net_publish(hermes_net *n, uint32_t channel, const void *data, size_t len,
			      unsigned flags, uint64_t *pub_seq)
{
	return hermes_net_publish_tagged(n, channel, data, len, 0, flags, pub_seq);
}

hermes_err hermes_net_publish_tagged(hermes_net *n, uint32_t channel, const void *data, size_t len,
				     uint32_t tag, unsigned flags, uint64_t *pub_seq)
{
	if (!n || (!data && len))
		return HERMES_EINVAL;
	uint64_t seq = n->pub_seq + 1;
	uint16_t wire_flags = (flags & HERMES_NET_PUB_ACK) ? HERMES_FLAG_ACK_REQUESTED : 0;
	hermes_err err;
	uint64_t deadline = 0;
	while ((err = hm_client_send_publish(&n->c, wire_flags, channel, seq, tag, data, len)) ==
	       HERMES_ENOBUFS) {
		/* Full: write what is queued (the deadline is only read when
		 * the socket itself is full, which keeps this path cheap). */
		hermes_err w = write_some(n);
		if (w == HERMES_OK)
			continue;
		if (w == HERMES_ECLOSED) {
			peer_gone(n);
			return HERMES_ECLOSED;
		}
		if (!deadline)
			deadline = hm_deadline_after(PUBLISH_WAIT_NS);
		if ((w = flush_until(n, deadline)) != HERMES_OK)
			return w;
	}
	if (err)
		return err;
	n->pub_seq = seq;
	if (pub_seq)
		*pub_seq = seq;
	if ((flags & HERMES_NET_PUB_FLUSH) && write_some(n) == HERMES_ECLOSED)
		peer_gone(n);
	return HERMES_OK;
}

hermes_err hermes_net_flush(hermes_net *n, int64_t timeout_ns)
{
	if (!n)
		return HERMES_EINVAL;
	if (n->c.state == HM_CL_CLOSED && hm_client_out_pending(&n->c))
		return HERMES_ECLOSED;
	return flush_until(n, hm_deadline_after(timeout_ns));
}

hermes_err hermes_net_poll(hermes_net *n, hermes_net_event *ev, int64_t timeout_ns)
{
	if (!n || !ev)
		return HERMES_EINVAL;
	if (n->dq_count) {
		*ev = n->dq[n->dq_head];
		n->dq_head = (n->dq_head + 1) % DEFERRED_MAX;
		n->dq_count--;
		return HERMES_OK;
	}
	uint64_t deadline = timeout_ns == 0 ? 0 : hm_deadline_after(timeout_ns);
	for (;;) {
		hermes_err err = hm_client_next(&n->c, ev);
		if (err == HERMES_OK) {
			if (ev->type == HERMES_NET_MESSAGE && n->nended && ended(n, ev->channel))
				continue;
			return HERMES_OK;
		}
		if (err == HERMES_ECLOSED)
			return HERMES_ECLOSED;
		if (err == HERMES_ENOBUFS) {
			err = flush_until(n, timeout_ns == 0 ? hm_deadline_after(PUBLISH_WAIT_NS)
							     : deadline);
			if (err)
				return err;
			continue;
		}
		hermes_err r = read_some(n, true);
		if (r == HERMES_OK)
			continue;
		if (r == HERMES_ECLOSED) {
			peer_gone(n);
			continue;
		}
		/* Nothing buffered and nothing to read: now is the time to send
		 * what was queued (publishes batch up until a poll would wait). */
		if (hm_client_out_pending(&n->c) && write_some(n) == HERMES_ECLOSED) {
			peer_gone(n);
			continue;
		}
		if (timeout_ns == 0)
			return HERMES_EAGAIN;
		if (!wait_io(n, true, deadline))
			return HERMES_ETIMEDOUT;
		if (hm_client_out_pending(&n->c) && write_some(n) == HERMES_ECLOSED)
			peer_gone(n);
	}
}
