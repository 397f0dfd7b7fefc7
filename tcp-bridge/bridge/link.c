/* Links: this bridge connects to another bridge as a client (with the LINK
 * feature, PROTOCOL.md "Links between buses") and mirrors rings both ways.
 *
 *   export (ring:out) a HOLD feed on the local ring hands each message to
 *                     hm_link_export, which sends it as a PUBLISH with an
 *                     ack request and the origin prefix (this bus's id, the
 *                     message's local sequence); acks move the resume point.
 *   import (ring:in)  a SUBSCRIBE on the peer; each DELIVER is committed into
 *                     the local ring (waiting, never dropping, while the ring
 *                     is full) and remembered as imported.
 *
 * No loops, in any topology: a bridge never sends over a link a message that
 * a link brought in (split horizon). Such messages are tagged by ring
 * sequence in the ring's origin table (origins.h: shared by all bridges of
 * the bus, kept across bridge restarts, written before the commit); export
 * feeds skip them, and a peer that subscribes with LINK gets only messages
 * of local origin. So every message travels exactly one hop, from the bus
 * it was published on to each bus linked to it directly: a set of buses
 * that must all see each other's messages is linked as a full mesh (a
 * triangle for three).
 *
 * Resuming after a reconnect, without duplicates:
 *   - imports resubscribe at the sequence after the last one committed;
 *   - exports resend from the message after the last acknowledged one, and
 *     the peer, which records the highest origin sequence it committed per
 *     origin bus and ring (in the origin table), acknowledges but does not
 *     commit the ones it already has (ring_sequence 2^64-1 in the ack).
 * What is guaranteed: exactly once, in order, per ring and direction, across
 * reconnects and restarts of the far bridge, as long as the messages are
 * still retained in the source ring (a ring that lapped the link is counted
 * as lost). A restarted bridge forgets its own resume points: its links
 * start at "latest" again (or "earliest" with start = earliest, where the
 * peer's dedupe drops what it already has). A bridge killed between a commit
 * and its record may duplicate that one message.
 *
 * Both directions of a ring wait for room (block rings are reliable). If
 * both buses' rings are full of messages waiting for the other side, no one
 * can move: an import that waits longer than link_import_timeout_ms (5 s by
 * default; 0 waits forever) is dropped and counted as lost, which breaks the
 * cycle, and is logged. */
#include "tcp-bridge/bridge/link.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/endian.h"
#include "core/futex.h"
#include "tcp-bridge/client/auth.h"
#include "tcp-bridge/client/netaddr.h"

#define INFLIGHT 8192u /* unacknowledged exports */
#define BACKOFF_MIN_NS 100000000ull
#define BACKOFF_MAX_NS 5000000000ull
#define HANDSHAKE_NS 10000000000ull
#define RETRY_NS 1000000ull
#define NOT_SET UINT64_MAX

enum { L_DOWN = 0, L_CONNECTING = 1, L_HANDSHAKE = 2, L_UP = 3 };

typedef struct lring {
	hm_link_ring cfg;
	hm_ringref *rr;
	bool have_pub;
	/* export */
	uint32_t channel;
	hm_subref ref;
	bool exporting;
	uint64_t export_next; /* local sequence to resume from */
	/* import */
	uint32_t sub_id;
	uint64_t import_next; /* peer sequence to resume from */
} lring;

struct inflight {
	uint64_t pub_seq, local_seq;
	unsigned ring;
};

struct hm_link {
	hm_server *srv;
	const hm_link_cfg *cfg;
	hm_bridge_link_stats *st;
	int epfd, fd, state;
	hm_client c;
	bool client_live;
	uint8_t key[HERMES_AUTH_KEY_SIZE];
	bool have_key;
	uint64_t retry_at, backoff, deadline;
	bool readable, writable, stalled;
	/* An export could not be queued: nothing more may be sent after it
	 * (an ack for a later message would move the resume point past it);
	 * the link reconnects and resends from the last ack. */
	bool resync;
	uint64_t pub_seq;
	uint32_t next_id;
	unsigned nrings;
	lring rings[HM_BRIDGE_LINK_RINGS];
	struct inflight *fifo;
	unsigned head, count;
	/* A DELIVER waiting for room in its local ring. */
	bool pending, warned;
	uint64_t pending_since;
	hermes_net_event pev;
};

static void set_state(hm_link *l, int state)
{
	l->state = state;
	hm_stat_set(&l->st->state, state == L_UP		? HM_LINK_UP
				   : state == L_DOWN ? HM_LINK_DOWN
						     : HM_LINK_CONNECTING);
}

hm_link *hm_link_create(hm_server *s, const hm_link_cfg *cfg, unsigned index, int epfd)
{
	hm_link *l = calloc(1, sizeof *l);
	if (!l || !(l->fifo = calloc(INFLIGHT, sizeof *l->fifo))) {
		free(l);
		hm_dlog(HM_DLOG_ERROR, "link %s: out of memory", cfg->name);
		return NULL;
	}
	l->srv = s;
	l->cfg = cfg;
	l->epfd = epfd;
	l->fd = -1;
	l->backoff = BACKOFF_MIN_NS;
	if (cfg->key_file[0]) {
		if (hm_auth_key_load(cfg->key_file, l->key) != HERMES_OK) {
			hm_dlog(HM_DLOG_ERROR, "link %s: %s; the link stays down", cfg->name,
			       hermes_last_error_detail());
			free(l->fifo);
			free(l);
			return NULL;
		}
		l->have_key = true;
	}
	if (index < HM_BRIDGE_STATS_LINKS) {
		l->st = &s->stats->links[index];
	} else {
		static hm_bridge_link_stats spare;
		l->st = &spare;
	}
	snprintf(l->st->name, sizeof l->st->name, "%s", cfg->name);
	snprintf(l->st->peer, sizeof l->st->peer, "%.127s", cfg->address);
	l->nrings = cfg->nrings;
	for (unsigned i = 0; i < cfg->nrings; i++) {
		lring *r = &l->rings[i];
		r->cfg = cfg->rings[i];
		r->export_next = r->import_next = NOT_SET;
		r->ref.link = l;
		r->ref.link_ring = i;
		r->ref.policy = HM_SLOW_HOLD;
		r->ref.local_only = true;
	}
	hm_dlog(HM_DLOG_INFO, "link %s to %s: %u ring(s)%s%s", cfg->name, cfg->address, cfg->nrings,
	       l->have_key ? ", authenticated" : "", cfg->encrypt ? ", encrypted" : "");
	return l;
}

/* ---- connection life ------------------------------------------------------------------ */

static void stop_exports(hm_link *l)
{
	for (unsigned i = 0; i < l->nrings; i++) {
		lring *r = &l->rings[i];
		if (r->exporting) {
			hm_feed_unsubscribe(l->srv, &r->ref);
			r->exporting = false;
		}
	}
}

static void disconnect(hm_link *l, hermes_err why, const char *what)
{
	if (l->state == L_UP) {
		hm_stat_add(&l->st->disconnects, 1);
		hm_dlog(HM_DLOG_WARN, "link %s to %s lost: %s (%s); retrying", l->cfg->name,
		       l->cfg->address, what, hermes_err_name(why));
		l->backoff = BACKOFF_MIN_NS;
	} else {
		hm_dlog(HM_DLOG_INFO, "link %s to %s: %s (%s); retrying in %llu ms", l->cfg->name,
		       l->cfg->address, what, hermes_err_name(why),
		       (unsigned long long)(l->backoff / 1000000));
	}
	hm_stat_set(&l->st->last_error, (uint64_t)why);
	stop_exports(l);
	/* Unacknowledged exports are sent again from export_next. */
	l->count = l->head = 0;
	l->pending = false;
	l->resync = false;
	if (l->fd >= 0) {
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->fd, NULL);
		close(l->fd);
		l->fd = -1;
	}
	if (l->client_live) {
		hm_client_fini(&l->c);
		l->client_live = false;
	}
	set_state(l, L_DOWN);
	l->retry_at = l->srv->now_ns + l->backoff;
	l->backoff = l->backoff * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : l->backoff * 2;
}

static void start_connect(hm_link *l)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	if (hm_server_resolve(l->cfg->address, false, &ss, &sl) != 0) {
		disconnect(l, HERMES_ENOENT, "cannot resolve the address");
		return;
	}
	hm_client_cfg cc = {.identity = l->cfg->identity,
			    .key = l->have_key ? l->key : NULL,
			    .encrypt = l->cfg->encrypt,
			    .plaintext = l->cfg->plaintext,
			    .server_pk = l->cfg->have_server_key ? l->cfg->server_key : NULL,
			    .extra_features = HM_FEATURE_LINK | HERMES_FEATURE_TAGS,
			    .max_frame = l->srv->cfg->max_frame,
			    .out_cap = l->srv->cfg->out_buffer + HM_OUT_SLACK};
	if (hm_client_init(&l->c, &cc) != HERMES_OK) {
		disconnect(l, HERMES_EINVAL, hermes_last_error_detail());
		return;
	}
	l->client_live = true;
	l->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0) {
		disconnect(l, HERMES_ESYS, strerror(errno));
		return;
	}
	int one = 1;
	setsockopt(l->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(l->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	if (connect(l->fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS) {
		disconnect(l, HERMES_ESYS, strerror(errno));
		return;
	}
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
				 .data.u64 = (uint64_t)(uintptr_t)l | 1u};
	epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->fd, &ev);
	l->readable = l->writable = false;
	l->deadline = l->srv->now_ns + HANDSHAKE_NS;
	set_state(l, L_CONNECTING);
}

/* The handshake is done. False when the link was dropped instead. */
static bool session_up(hm_link *l)
{
	hm_server *s = l->srv;
	/* The WELCOME name is authenticated (the server's proof covers it):
	 * a link pinned to a server reaches that one or none, even where
	 * several bridges share one link identity and key. */
	if (l->cfg->server[0] && strcmp(l->c.server_name, l->cfg->server) != 0) {
		char why[400];
		snprintf(why, sizeof why, "reached server '%.150s', not '%.150s' (server =)",
			 l->c.server_name, l->cfg->server);
		disconnect(l, HERMES_EPERM, why);
		return false;
	}
	set_state(l, L_UP);
	hm_stat_add(&l->st->connects, 1);
	l->backoff = BACKOFF_MIN_NS;
	hm_dlog(HM_DLOG_INFO, "link %s to %s (%s) is up", l->cfg->name, l->cfg->address,
	       l->c.server_name);
	for (unsigned i = 0; i < l->nrings; i++) {
		lring *r = &l->rings[i];
		if (!r->rr && hm_server_ring(s, r->cfg.name, &r->rr) != HERMES_OK) {
			hm_dlog(HM_DLOG_WARN, "link %s: no local ring '%s'; not mirrored",
			       l->cfg->name, r->cfg.name);
			continue;
		}
		if (r->cfg.in) {
			if (!r->have_pub && hm_server_pub_get(s, r->rr) == HERMES_OK)
				r->have_pub = true;
			hermes_wire_msg m = {.type = HERMES_MSG_SUBSCRIBE};
			m.subscribe.start = r->import_next != NOT_SET ? HERMES_WIRE_START_AT
					    : l->cfg->start_earliest ? HERMES_WIRE_START_EARLIEST
								     : HERMES_WIRE_START_LATEST;
			m.subscribe.start_seq = r->import_next != NOT_SET ? r->import_next : 0;
			m.subscribe.ring = r->cfg.name;
			m.subscribe.ring_len = strlen(r->cfg.name);
			r->sub_id = ++l->next_id;
			(void)hm_client_send_msg(&l->c, r->sub_id, 0, &m);
		}
		if (r->cfg.out) {
			hermes_wire_msg m = {.type = HERMES_MSG_BIND};
			m.bind.ring = r->cfg.name;
			m.bind.ring_len = strlen(r->cfg.name);
			r->channel = ++l->next_id;
			(void)hm_client_send_msg(&l->c, r->channel, 0, &m);
			uint64_t first;
			r->ref.dead = false;
			r->ref.pending_loss = 0;
			hermes_err err = hm_feed_subscribe(
				s, r->rr, &r->ref,
				r->export_next == NOT_SET ? HERMES_WIRE_START_LATEST : HERMES_WIRE_START_AT,
				r->export_next == NOT_SET ? 0 : r->export_next, &first);
			if (err) {
				hm_dlog(HM_DLOG_WARN, "link %s: cannot read ring '%s': %s", l->cfg->name,
				       r->cfg.name, hermes_strerror(err));
				continue;
			}
			if (r->export_next != NOT_SET && first > r->export_next)
				hm_stat_add(&l->st->losses, first - r->export_next);
			r->export_next = first;
			r->exporting = true;
		}
	}
	return true;
}

bool hm_link_sent_nonce(const hm_link *l, const uint8_t nonce[HERMES_NONCE_SIZE])
{
	return l->client_live && l->c.challenged &&
	       hm_auth_equal(l->c.response.nonce, nonce, HERMES_NONCE_SIZE);
}

/* ---- exports ------------------------------------------------------------------------------ */

bool hm_link_has_room(hm_link *l, size_t len)
{
	if (l->state != L_UP || l->count == INFLIGHT)
		return false;
	size_t need = HERMES_HEADER_SIZE + HERMES_WIRE_TAG_SIZE + HM_LINK_PREFIX + len +
		      HERMES_SEAL_TAG_SIZE;
	if (len > hm_client_max_payload(&l->c) - HM_LINK_PREFIX)
		need = 0; /* too large for the peer: it will be counted as lost */
	return l->c.out_cap - hm_client_out_pending(&l->c) >= need + HM_CTRL_RESERVE;
}

bool hm_link_export(hm_link *l, hm_subref *ref, const hermes_msg *m)
{
	lring *r = &l->rings[ref->link_ring];
	if (ref->pending_loss) {
		hm_stat_add(&l->st->losses, ref->pending_loss);
		ref->pending_loss = 0;
	}
	if (l->state != L_UP || l->count == INFLIGHT || l->resync) {
		l->resync = l->state == L_UP;
		return false;
	}
	/* The user tag travels where the peer takes it, before the prefix. */
	bool tagged = m->tag && (l->c.features & HERMES_FEATURE_TAGS);
	size_t head = HM_LINK_PREFIX + (tagged ? HERMES_WIRE_TAG_SIZE : 0);
	if (m->len > hm_client_max_payload(&l->c) - head) {
		hm_stat_add(&l->st->losses, 1);
		r->export_next = m->seq + 1;
		return true;
	}
	uint8_t *p;
	hermes_err err = hm_client_send_claim(
		&l->c, HERMES_MSG_PUBLISH, HERMES_FLAG_ACK_REQUESTED | (tagged ? HERMES_FLAG_TAGGED : 0),
		r->channel, l->pub_seq + 1, head + m->len, &p);
	if (err) {
		l->resync = true;
		return false;
	}
	if (tagged) {
		hm_put_le32(p, m->tag);
		p += HERMES_WIRE_TAG_SIZE;
	}
	hm_put_le64(p, l->srv->bus_id);
	hm_put_le64(p + 8, m->seq);
	memcpy(p + HM_LINK_PREFIX, m->data, m->len);
	hm_client_send_commit(&l->c);
	l->pub_seq++;
	l->fifo[(l->head + l->count++) % INFLIGHT] =
		(struct inflight){.pub_seq = l->pub_seq, .local_seq = m->seq, .ring = ref->link_ring};
	return true;
}

void hm_link_stalled(hm_link *l)
{
	l->stalled = true;
}

void hm_link_ring_ended(hm_link *l, hm_subref *ref)
{
	lring *r = &l->rings[ref->link_ring];
	hm_dlog(HM_DLOG_WARN, "link %s: local ring '%s' was deleted; no longer exported",
	       l->cfg->name, r->cfg.name);
	hm_feed_unsubscribe(l->srv, ref);
	r->exporting = false;
	r->rr = NULL;
	r->export_next = NOT_SET;
}

/* Room again (written out, or acks freed in-flight entries): export feeds
 * that stalled for it go on. */
static void resume_exports(hm_link *l)
{
	if (!l->stalled || l->state != L_UP)
		return;
	l->stalled = false;
	for (unsigned i = 0; i < l->nrings; i++)
		if (l->rings[i].exporting && l->rings[i].ref.feed &&
		    l->rings[i].ref.feed->state == HM_FEED_STALLED)
			hm_feed_make_ready(l->srv, l->rings[i].ref.feed);
}

/* An ack or a per-publish error: the oldest in-flight export is settled. */
static void settle(hm_link *l, uint64_t pub_seq, bool committed, uint64_t ring_seq)
{
	if (!l->count || l->fifo[l->head].pub_seq != pub_seq)
		return;
	struct inflight f = l->fifo[l->head];
	l->head = (l->head + 1) % INFLIGHT;
	l->count--;
	lring *r = &l->rings[f.ring];
	r->export_next = f.local_seq + 1;
	if (!committed)
		hm_stat_add(&l->st->losses, 1);
	else if (ring_seq == UINT64_MAX)
		hm_stat_add(&l->st->duplicates, 1);
	else
		hm_stat_add(&l->st->exported, 1);
	if (r->rr) {
		uint64_t tpos, tail;
		hm_ring_tail(&r->rr->ring, &tpos, &tail);
		hm_stat_set(&l->st->export_lag, tail > r->export_next ? tail - r->export_next : 0);
	}
	resume_exports(l);
}

/* ---- imports ------------------------------------------------------------------------------ */

static lring *by_sub(hm_link *l, uint32_t id)
{
	for (unsigned i = 0; i < l->nrings; i++)
		if (l->rings[i].cfg.in && l->rings[i].sub_id == id)
			return &l->rings[i];
	return NULL;
}

/* Commit one delivered message; false while the local ring is full. */
static bool import(hm_link *l, const hermes_net_event *ev)
{
	lring *r = by_sub(l, ev->channel);
	if (!r || !r->have_pub)
		return true;
	if (ev->len > r->rr->ring.max_msg) {
		hm_stat_add(&l->st->losses, 1);
		r->import_next = ev->seq + 1;
		return true;
	}
	uint64_t seq;
	hermes_err err = hm_server_commit_imported(l->srv, r->rr, ev->data, ev->len,
						   (uint32_t)ev->value, 0, 0,
						   &seq);
	if (err == HERMES_EAGAIN)
		return false;
	if (err) {
		hm_dlog(HM_DLOG_WARN, "link %s: cannot commit into '%s': %s", l->cfg->name,
		       r->cfg.name, hermes_strerror(err));
		hm_stat_add(&l->st->losses, 1);
	} else {
		hm_stat_add(&l->st->imported, 1);
		if (r->rr->feed_list)
			hm_feeds_ring_committed(l->srv, r->rr);
	}
	r->import_next = ev->seq + 1;
	return true;
}

static void on_event(hm_link *l, const hermes_net_event *ev)
{
	lring *r;
	switch (ev->type) {
	case HERMES_NET_ACK:
		settle(l, ev->seq, true, ev->value);
		break;
	case HERMES_NET_SUBSCRIBED:
		if ((r = by_sub(l, ev->channel)) != NULL) {
			if (r->import_next != NOT_SET && ev->seq > r->import_next)
				hm_stat_add(&l->st->losses, ev->seq - r->import_next);
			r->import_next = ev->seq;
		}
		break;
	case HERMES_NET_LOSS:
		if ((r = by_sub(l, ev->channel)) != NULL) {
			hm_stat_add(&l->st->losses, ev->value);
			r->import_next = ev->seq;
		}
		break;
	case HERMES_NET_ERROR:
		if (ev->seq && ev->channel)
			settle(l, ev->seq, false, 0);
		hm_dlog(HM_DLOG_WARN, "link %s: the peer refused channel %u: %s", l->cfg->name,
		       ev->channel, hermes_err_name(ev->code));
		break;
	default:
		break;
	}
}

/* Decode and act on everything received, unless an import waits. */
static void process(hm_link *l)
{
	if (l->pending) {
		if (!import(l, &l->pev)) {
			uint64_t limit = (uint64_t)l->srv->cfg->link_import_timeout_ms * 1000000u;
			if (!limit || l->srv->now_ns - l->pending_since < limit)
				return;
			/* Give up on this one message: see the top of the file. */
			lring *r = by_sub(l, l->pev.channel);
			if (r)
				r->import_next = l->pev.seq + 1;
			hm_stat_add(&l->st->losses, 1);
			if (!l->warned)
				hm_dlog(HM_DLOG_WARN,
				       "link %s: local ring full for %u ms; dropping imported messages "
				       "until it has room",
				       l->cfg->name, l->srv->cfg->link_import_timeout_ms);
			l->warned = true;
		} else {
			l->warned = false;
		}
		l->pending = false;
	}
	for (;;) {
		hermes_net_event ev;
		hermes_err err = hm_client_next(&l->c, &ev);
		if (l->state == L_HANDSHAKE && l->c.state == HM_CL_SESSION && !session_up(l))
			return;
		if (err != HERMES_OK)
			return; /* ENEEDMORE; ENOBUFS is retried after the next write */
		if (ev.type == HERMES_NET_CLOSED) {
			disconnect(l, ev.code ? ev.code : HERMES_ECLOSED, l->c.detail);
			return;
		}
		if (ev.type == HERMES_NET_MESSAGE) {
			if (!import(l, &ev)) {
				l->pending = true;
				l->pending_since = l->srv->now_ns;
				l->pev = ev;
				return;
			}
			l->warned = false;
			continue;
		}
		on_event(l, &ev);
	}
}

static void io_write(hm_link *l)
{
	while (l->writable && l->fd >= 0 && hm_client_out_pending(&l->c)) {
		ssize_t w = send(l->fd, hm_client_out_data(&l->c), hm_client_out_pending(&l->c),
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			hm_client_out_written(&l->c, (size_t)w);
		} else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			l->writable = false;
		} else if (w < 0 && errno == EINTR) {
			continue;
		} else {
			disconnect(l, HERMES_ESYS, "write failed");
			return;
		}
	}
	resume_exports(l);
}

static void io_read(hm_link *l)
{
	while (l->readable && l->fd >= 0 && !l->pending) {
		size_t room;
		uint8_t *p = hm_client_in_space(&l->c, true, &room);
		if (room == 0)
			break;
		ssize_t n = recv(l->fd, p, room, MSG_DONTWAIT);
		if (n > 0) {
			hm_client_in_added(&l->c, (size_t)n);
			process(l);
		} else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
			l->readable = false;
			l->c.eof = true;
			process(l);
			if (l->state != L_DOWN)
				disconnect(l, HERMES_ECLOSED, "the peer closed the connection");
		} else if (errno != EINTR) {
			l->readable = false;
		}
	}
}

void hm_link_on_io(hm_link *l, uint32_t events)
{
	if (l->fd < 0)
		return;
	if (l->state == L_CONNECTING && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		int err = 0;
		socklen_t sl = sizeof err;
		getsockopt(l->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
		if (err) {
			disconnect(l, HERMES_ESYS, strerror(err));
			return;
		}
		set_state(l, L_HANDSHAKE);
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		l->readable = true;
	if (events & EPOLLOUT)
		l->writable = true;
	if (l->state >= L_HANDSHAKE) {
		io_write(l);
		if (l->fd >= 0)
			io_read(l);
		if (l->fd >= 0)
			io_write(l);
	}
}

uint64_t hm_link_tick(hm_link *l)
{
	uint64_t now = l->srv->now_ns;
	if (l->state == L_DOWN) {
		if (now >= l->retry_at)
			start_connect(l);
		return l->state == L_DOWN ? l->retry_at : l->deadline;
	}
	if (l->state < L_UP && now >= l->deadline) {
		disconnect(l, HERMES_ETIMEDOUT, "no session in time");
		return l->retry_at;
	}
	if (l->resync) {
		disconnect(l, HERMES_ENOBUFS, "an export could not be queued; resending");
		return l->retry_at;
	}
	if (l->state >= L_HANDSHAKE) {
		if (l->pending)
			process(l);
		io_write(l);
		if (l->fd >= 0 && !l->pending)
			io_read(l);
	}
	if (l->state == L_DOWN)
		return l->retry_at;
	if (l->pending)
		return now + RETRY_NS;
	return l->state < L_UP ? l->deadline : UINT64_MAX;
}

void hm_link_destroy(hm_link *l)
{
	if (!l)
		return;
	stop_exports(l);
	if (l->fd >= 0) {
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->fd, NULL);
		close(l->fd);
	}
	if (l->client_live)
		hm_client_fini(&l->c);
	for (unsigned i = 0; i < l->nrings; i++)
		if (l->rings[i].have_pub)
			hm_server_pub_put(l->srv, l->rings[i].rr);
	hm_auth_wipe(l->key, sizeof l->key);
	free(l->fifo);
	free(l);
}
