/* One remote connection: the server side of the wire protocol as a state
 * machine over an input and an output buffer. No sockets here (the loop owns
 * them), so the fuzz target can feed it bytes directly.
 *
 * Input is processed frame by frame, in order. Before each frame there must
 * be HM_CTRL_RESERVE bytes of output room, because any frame may need an
 * answer (an ack, an error); without it the connection pauses (stops reading)
 * until its output drains: a peer that does not read what we send cannot
 * make us buffer without bound. A PUBLISH into a full block ring leaves the
 * frame in the buffer and pauses too, until the ring has room or the publish
 * timeout passes. */
#include "tcp-bridge/bridge/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/endian.h"
#include "core/futex.h"
#include "core/utf8.h"
#include "core/error_detail.h"
#include "daemon/log.h"
#include "tcp-bridge/client/auth.h"
#include "tcp-bridge/bridge/link.h"

enum { DONE = 0, RETRY = 1 };

static void send_error(hm_conn *c, hermes_err code, uint32_t channel, uint64_t seq, bool fatal,
		       const char *fmt, ...) __attribute__((format(printf, 6, 7)));

hm_conn *hm_conn_create(hm_server *s, int fd, const char *peer)
{
	const hm_bridge_cfg *cfg = s->cfg;
	hm_conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->srv = s;
	c->fd = fd;
	c->serial = ++s->serial;
	snprintf(c->peer, sizeof c->peer, "%s", peer ? peer : "?");
	/* Until the handshake is done, small buffers and frames
	 * (HM_PREAUTH_FRAME): a peer that has not authenticated cannot make
	 * the bridge hold more. session_buffers() sizes them for the session. */
	c->in_cap = HM_PREAUTH_FRAME;
	c->out_cap = HM_PREAUTH_FRAME;
	c->ident_ix = -1;
	c->last_rx_ns = s->now_ns;
	c->in = malloc(c->in_cap);
	c->out = malloc(c->out_cap);
	c->chans = calloc(cfg->max_channels, sizeof *c->chans);
	c->subs = calloc(cfg->max_subscriptions, sizeof *c->subs);
	if (!c->in || !c->out || !c->chans || !c->subs) {
		free(c->in);
		free(c->out);
		free(c->chans);
		free(c->subs);
		free(c);
		return NULL;
	}
	hermes_decoder_init(&c->dec, NULL, 0);
	hermes_decoder_set_max_frame(&c->dec, HM_PREAUTH_FRAME);
	hermes_decoder_set_role(&c->dec, HERMES_ROLE_SERVER);
	hermes_decoder_set_phase(&c->dec, HERMES_PHASE_HELLO);
	c->state = HM_CONN_HELLO;
	c->peer_max_frame = HERMES_MIN_MAX_FRAME;
	c->slow = HM_SLOW_AUTO;
	c->deadline_ns = s->now_ns + (uint64_t)cfg->handshake_timeout_ms * 1000000u;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	hm_stat_add(&s->stats->c.connections_accepted, 1);
	hm_stat_set(&s->stats->c.connections_open, s->nconns);
	return c;
}

/* Release one subscription of the connection (its id becomes free). */
static void drop_sub(hm_conn *c, unsigned i)
{
	hm_subref *ref = c->subs[i];
	if (ref->held && c->ident_ix >= 0)
		c->srv->ident_state[c->ident_ix].holds--;
	hm_feed_unsubscribe(c->srv, ref);
	free(ref);
	c->subs[i] = c->subs[--c->nsubs];
	hm_stat_add(&c->srv->stats->c.subscriptions, (uint64_t)-1);
}

void hm_conn_sub_ended(hm_conn *c, hm_subref *ref)
{
	for (unsigned i = 0; i < c->nsubs; i++)
		if (c->subs[i] == ref) {
			if (c->state == HM_CONN_SESSION)
				send_error(c, HERMES_ECLOSED, ref->id, 0, false,
					   "the ring of subscription %u was deleted", ref->id);
			drop_sub(c, i);
			hm_conn_drain_check(c);
			return;
		}
}

static void drop_chan(hm_conn *c, unsigned i)
{
	hm_server_pub_put(c->srv, c->chans[i].rr);
	c->chans[i] = c->chans[--c->nchans];
	hm_stat_add(&c->srv->stats->c.channels, (uint64_t)-1);
}

void hm_conn_destroy(hm_conn *c)
{
	hm_server *s = c->srv;
	while (c->nsubs)
		drop_sub(c, c->nsubs - 1);
	while (c->nchans)
		drop_chan(c, c->nchans - 1);
	if (c->pub_blocked)
		s->blocked--;
	for (hm_conn **pp = &s->dirty; *pp; pp = &(*pp)->dirty_next)
		if (*pp == c) {
			*pp = c->dirty_next;
			break;
		}
	for (hm_conn **pp = &s->wake; *pp; pp = &(*pp)->wake_next)
		if (*pp == c) {
			*pp = c->wake_next;
			break;
		}
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	hm_stat_set(&s->stats->c.connections_open, s->nconns);
	if (c->ident_ix >= 0)
		s->ident_state[c->ident_ix].conns--;
	s->mem_used -= c->in_grown;
	hm_auth_wipe(c->kx_sk, sizeof c->kx_sk);
	hm_auth_wipe(c->rx_key, sizeof c->rx_key);
	hm_auth_wipe(c->tx_key, sizeof c->tx_key);
	free(c->in);
	free(c->out);
	free(c->chans);
	free(c->subs);
	free(c);
}

/* ---- output ----------------------------------------------------------------------------- */

size_t hm_conn_max_deliver(const hm_conn *c)
{
	/* The peer's max_frame, or out_buffer if smaller: either way such a
	 * frame fits an empty output buffer with a LOSS and the reserve. */
	size_t frame = c->peer_max_frame;
	size_t room = c->out_cap - HM_OUT_SLACK;
	if (room < frame)
		frame = room;
	return frame - HERMES_HEADER_SIZE - (c->sealed ? HERMES_SEAL_TAG_SIZE : 0);
}

uint8_t *hm_conn_out_claim(hm_conn *c, uint8_t type, uint16_t flags, uint32_t channel,
			   uint64_t seq, size_t len, size_t keep)
{
	size_t wire = len + (c->sealed ? HERMES_SEAL_TAG_SIZE : 0);
	size_t need = HERMES_HEADER_SIZE + wire;
	if (c->out_cap - c->out_len < need + keep) {
		if (c->out_off == 0 || c->out_cap - (c->out_len - c->out_off) < need + keep)
			return NULL;
		/* Compact: move what is not written yet to the front. */
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	uint8_t *p = c->out + c->out_len;
	/* Header fields by hand (every caller passes a valid combination, which
	 * the codec's tests pin down); cheaper than an encoder per frame on the
	 * delivery path. */
	hm_put_le16(p, HERMES_MAGIC);
	p[2] = HERMES_PROTOCOL_VERSION;
	p[3] = type;
	hm_put_le16(p + 4, (uint16_t)(flags | (c->sealed ? HERMES_FLAG_ENCRYPTED : 0)));
	hm_put_le16(p + 6, 0);
	hm_put_le32(p + 8, (uint32_t)wire);
	hm_put_le32(p + 12, channel);
	hm_put_le64(p + 16, seq);
	c->claim = p;
	c->claim_len = len;
	c->out_len += need;
	return p + HERMES_HEADER_SIZE;
}

void hm_conn_out_commit(hm_conn *c)
{
	if (c->sealed) {
		uint8_t *p = c->claim + HERMES_HEADER_SIZE;
		(void)hm_auth_seal(c->tx_key, c->tx_ctr++, c->claim, p, c->claim_len, p + c->claim_len);
	}
	hm_stat_add(&c->srv->stats->c.frames_out, 1);
	hm_server_mark_dirty(c->srv, c);
}

/* Queue a structured control frame; it always fits in the reserve. */
static void send_msg(hm_conn *c, uint32_t channel, uint64_t seq, const hermes_wire_msg *m)
{
	size_t len = 0;
	hermes_wire_msg_write(m, NULL, 0, &len);
	uint8_t *p = hm_conn_out_claim(c, m->type, 0, channel, seq, len, 0);
	if (!p)
		return;
	hermes_wire_msg_write(m, p, len, &len);
	hm_conn_out_commit(c);
}

static void send_error(hm_conn *c, hermes_err code, uint32_t channel, uint64_t seq, bool fatal,
		       const char *fmt, ...)
{
	char text[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	hermes_wire_msg m = {.type = HERMES_MSG_ERROR};
	m.error.code = (uint32_t)code;
	m.error.fatal = fatal;
	m.error.text = text;
	/* Cut on a character boundary: the codec refuses text that is not
	 * UTF-8, and the error must go out. */
	m.error.text_len =
		hm_utf8_prefix(text, n < 0 ? 0 : (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
	send_msg(c, channel, seq, &m);
	hm_stat_add(&c->srv->stats->c.errors_sent, 1);
}

static void enter_closing(hm_conn *c, hermes_err reason)
{
	if (c->state >= HM_CONN_CLOSING)
		return;
	c->state = HM_CONN_CLOSING;
	c->close_reason = reason;
	/* Stop feeding it; the queued output still goes out. The
	 * subscriptions are only marked here (this may run inside a feed pass
	 * that is walking them) and detached when the connection is
	 * destroyed. */
	for (unsigned i = 0; i < c->nsubs; i++)
		c->subs[i]->dead = true;
	if (c->pub_blocked) {
		c->pub_blocked = false;
		c->srv->blocked--;
	}
	hm_server_mark_dirty(c->srv, c);
	hm_server_mark_wake(c->srv, c);
}

void hm_conn_fatal(hm_conn *c, hermes_err code, const char *fmt, ...)
{
	if (c->state >= HM_CONN_CLOSING)
		return;
	char text[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	hm_dlog_kv kv = {0};
	hm_conn_log_fields(c, &kv);
	hm_dlog(HM_DLOG_INFO, "closing the connection: %s (%s)%s", text, hermes_err_name(code),
	       kv.s);
	send_error(c, code, 0, 0, true, "%s", text);
	enter_closing(c, code);
}

void hm_conn_output_done(hm_conn *c, size_t n)
{
	c->out_off += n;
	hm_stat_add(&c->srv->stats->c.bytes_out, n);
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	size_t room = c->out_cap - (c->out_len - c->out_off);
	if (c->paused && room >= HM_CTRL_RESERVE + c->out_cap / 4) {
		c->paused = false;
		hm_server_mark_wake(c->srv, c);
	}
	if (c->stalled_feeds)
		hm_feeds_resume_conn(c->srv, c);
	if (c->draining)
		hm_conn_drain_check(c);
}

/* ---- input ------------------------------------------------------------------------------- */

uint8_t *hm_conn_in_space(hm_conn *c, size_t *room)
{
	if (c->in_off == c->in_len) {
		c->in_off = c->in_len = 0;
	} else if (c->in_off > 0) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	*room = c->in_cap - c->in_len;
	return c->in + c->in_len;
}

bool hm_conn_wants_input(const hm_conn *c)
{
	return c->state < HM_CONN_CLOSING && !c->paused && !c->pub_blocked && !c->eof;
}

void hm_conn_eof(hm_conn *c)
{
	c->eof = true;
	hm_conn_process(c);
}

void hm_conn_timeout(hm_conn *c)
{
	if (c->draining && c->state == HM_CONN_SESSION) {
		hm_conn_fatal(c, HERMES_ETIMEDOUT,
			      "half-closed connection did not take what it was owed within %u ms",
			      c->srv->cfg->handshake_timeout_ms);
		return;
	}
	if (c->state >= HM_CONN_SESSION)
		return;
	hm_stat_add(&c->srv->stats->c.handshake_timeouts, 1);
	hm_conn_fatal(c, HERMES_ETIMEDOUT, "handshake not completed within %u ms",
		      c->srv->cfg->handshake_timeout_ms);
}

/* ---- handshake ---------------------------------------------------------------------------- */

static const hm_ident *find_ident(const hm_server *s, const char *name)
{
	for (unsigned i = 0; i < s->cfg->nidents; i++)
		if (!strcmp(s->cfg->idents[i].name, name))
			return &s->cfg->idents[i];
	return NULL;
}

/* Session buffers (the handshake ran in HM_PREAUTH_FRAME-sized ones):
 * input HM_IN_BASE, grown for larger frames from the memory budget;
 * output out_buffer plus HM_OUT_SLACK. What is already in them is kept at the
 * same offsets (the frame being processed points into the input); the old
 * ones are wiped. Also counts the connection for its identity, and refuses
 * it past max_connections_per_identity. False: closing. */
static bool session_begin(hm_conn *c, const hm_ident *id)
{
	hm_server *s = c->srv;
	const hm_bridge_cfg *cfg = s->cfg;
	int ix = id ? (int)(id - cfg->idents) : (int)cfg->nidents;
	if (s->ident_state[ix].conns >= cfg->max_conns_per_identity) {
		hm_conn_fatal(c, HERMES_ETOOMANY, "identity '%s' has %u connections already "
						  "(max_connections_per_identity)",
			      id ? id->name : "(anonymous)", s->ident_state[ix].conns);
		return false;
	}
	size_t in_cap = HM_IN_BASE, out_cap = cfg->out_buffer + HM_OUT_SLACK;
	uint8_t *in = malloc(in_cap), *out = malloc(out_cap);
	if (!in || !out) {
		free(in);
		free(out);
		hm_conn_fatal(c, HERMES_ENOMEM, "no memory for the session's buffers");
		return false;
	}
	memcpy(in, c->in, c->in_len);
	memcpy(out, c->out, c->out_len);
	if (c->claim)
		c->claim = out + (c->claim - c->out);
	hm_auth_wipe(c->in, c->in_cap);
	hm_auth_wipe(c->out, c->out_cap);
	free(c->in);
	free(c->out);
	c->in = in;
	c->in_cap = in_cap;
	c->out = out;
	c->out_cap = out_cap;
	hermes_decoder_set_max_frame(&c->dec, cfg->max_frame);
	c->ident_ix = ix;
	s->ident_state[ix].conns++;
	c->state = HM_CONN_SESSION;
	c->deadline_ns = 0;
	hermes_decoder_set_phase(&c->dec, HERMES_PHASE_SESSION);
	hm_stat_add(&s->stats->c.handshakes_ok, 1);
	return true;
}

/* Grow the input buffer to hold a frame of need bytes (at most max_frame)
 * from the server's memory budget; a fatal error when the budget is spent.
 * Kept until the connection closes. */
static bool grow_input(hm_conn *c, size_t need)
{
	hm_server *s = c->srv;
	size_t cap = c->in_cap * 2 > need ? c->in_cap * 2 : need;
	if (cap > s->cfg->max_frame)
		cap = need > s->cfg->max_frame ? need : s->cfg->max_frame;
	size_t more = cap - c->in_cap;
	if (s->mem_used + more > s->cfg->memory_limit) {
		hm_conn_fatal(c, HERMES_ENOMEM,
			      "a frame of %zu bytes: the bridge's buffers for large frames are full "
			      "(memory_limit %llu bytes)",
			      need, (unsigned long long)s->cfg->memory_limit);
		return false;
	}
	uint8_t *in = malloc(cap);
	if (!in) {
		hm_conn_fatal(c, HERMES_ENOMEM, "no memory for a frame of %zu bytes", need);
		return false;
	}
	size_t avail = c->in_len - c->in_off;
	memcpy(in, c->in + c->in_off, avail);
	hm_auth_wipe(c->in, c->in_len);
	free(c->in);
	c->in = in;
	c->in_cap = cap;
	c->in_off = 0;
	c->in_len = avail;
	c->in_grown += more;
	s->mem_used += more;
	return true;
}

/* Failed authentications are logged at most HM_AUTH_LOG_PER_SEC a second
 * (a flood must not flood the log); the rest are counted and summed up. */
static void log_auth_failure(hm_conn *c, const char *why)
{
	hm_server *s = c->srv;
	if (s->now_ns - s->auth_log_window_ns >= 1000000000ull) {
		if (s->auth_log_suppressed)
			hm_dlog(HM_DLOG_WARN, "%u more authentication failures not logged",
			       s->auth_log_suppressed);
		s->auth_log_window_ns = s->now_ns;
		s->auth_log_count = 0;
		s->auth_log_suppressed = 0;
	}
	if (s->auth_log_count >= HM_AUTH_LOG_PER_SEC) {
		s->auth_log_suppressed++;
		return;
	}
	s->auth_log_count++;
	/* The identity is printable ASCII (checked by the codec); the key is
	 * never logged, nor is which part failed. */
	hm_dlog_kv kv = {0};
	hm_conn_log_fields(c, &kv);
	hm_dlog(HM_DLOG_WARN, "%s%s", why, kv.s);
}

static bool own_link_nonce(const hm_server *s, const uint8_t *nonce)
{
	for (unsigned i = 0; i < s->nlinks; i++)
		if (hm_link_sent_nonce(s->links[i], nonce))
			return true;
	return false;
}

static void on_hello(hm_conn *c, const hermes_wire_hello *h)
{
	hm_server *s = c->srv;
	if (h->min_version > HERMES_PROTOCOL_VERSION || h->max_version < HERMES_PROTOCOL_VERSION) {
		hm_conn_fatal(c, HERMES_EBADVERSION,
			      "no common protocol version: this bridge speaks version %d only",
			      HERMES_PROTOCOL_VERSION);
		return;
	}
	c->hello = *h;
	c->hello.identity = hm_auth_keep_name(c->identity, h->identity, h->identity_len);
	c->peer_max_frame = h->max_frame;
	uint32_t offer = h->features, features = 0;
	/* Anonymous clients only where the operator said so. */
	bool auth = s->cfg->nidents > 0 && (offer & HERMES_FEATURE_AUTH);
	if (!auth && !s->cfg->allow_anonymous) {
		hm_stat_add(&s->stats->c.auth_failures, 1);
		hm_conn_fatal(c, HERMES_EPERM, "authentication required");
		return;
	}
	if (auth) {
		features |= HERMES_FEATURE_AUTH;
		if ((offer & HERMES_FEATURE_PUBKEY) && s->cfg->secret) {
			/* Public-key sessions are always encrypted. */
			if (!(offer & HERMES_FEATURE_ENCRYPT)) {
				hm_stat_add(&s->stats->c.auth_failures, 1);
				hm_conn_fatal(c, HERMES_EPERM, "public-key mode needs ENCRYPT");
				return;
			}
			features |= HERMES_FEATURE_PUBKEY | HERMES_FEATURE_ENCRYPT;
		} else if ((offer & HERMES_FEATURE_ENCRYPT) && s->cfg->encrypt != HM_ENC_OFF) {
			features |= HERMES_FEATURE_ENCRYPT;
		}
		if (s->cfg->encrypt == HM_ENC_REQUIRED && !(features & HERMES_FEATURE_ENCRYPT)) {
			hm_stat_add(&s->stats->c.auth_failures, 1);
			hm_conn_fatal(c, HERMES_EPERM, "session encryption required");
			return;
		}
	}
	features |= offer & (HM_FEATURE_LINK | HERMES_FEATURE_TAGS);
	c->features = features;
	c->welcome = (hermes_wire_welcome){.version = HERMES_PROTOCOL_VERSION,
					   .features = features,
					   .max_frame = s->cfg->max_frame,
					   .name = s->name,
					   .name_len = strlen(s->name)};
	hermes_wire_msg m = {.type = HERMES_MSG_WELCOME, .welcome = c->welcome};
	send_msg(c, 0, 0, &m);
	if (!auth) {
		if (session_begin(c, NULL)) {
			hm_dlog_kv kv = {0};
			hm_conn_log_fields(c, &kv);
			hm_dlog(HM_DLOG_DEBUG, "session (anonymous)%s", kv.s);
		}
		return;
	}
	memset(&c->challenge, 0, sizeof c->challenge);
	hermes_err err = hm_auth_random(c->challenge.nonce, sizeof c->challenge.nonce);
	if (!err && (features & HERMES_FEATURE_ENCRYPT))
		err = hm_auth_kx_keypair(c->challenge.kx_public_key, c->kx_sk);
	if (err) {
		hm_conn_fatal(c, HERMES_ESYS, "cannot make a challenge");
		return;
	}
	/* Sent even for an unknown identity: it must look like a wrong key. */
	m = (hermes_wire_msg){.type = HERMES_MSG_AUTH_CHALLENGE, .challenge = c->challenge};
	send_msg(c, 0, 0, &m);
	c->state = HM_CONN_AUTH;
	hermes_decoder_set_phase(&c->dec, HERMES_PHASE_AUTH);
}

static void on_response(hm_conn *c, const hermes_wire_auth_response *r)
{
	hm_server *s = c->srv;
	const hm_ident *id = find_ident(s, c->identity);
	bool pk = c->features & HERMES_FEATURE_PUBKEY;
	/* An identity of the other mode counts as unknown. */
	bool known = id && (pk ? id->have_public : id->have_key);
	const uint8_t *key = known ? id->key : s->unknown_key;
	bool enc = c->features & HERMES_FEATURE_ENCRYPT;
	uint8_t t[HERMES_AUTH_TRANSCRIPT_MAX], tag[HERMES_AUTH_TAG_SIZE];
	size_t tlen = 0;
	hm_pk_keys pkk;
	bool ok = hermes_auth_transcript(HERMES_ROLE_CLIENT, &c->hello, &c->welcome, &c->challenge, r,
					 t, &tlen) == HERMES_OK;
	if (pk) {
		/* Public-key mode: the proof's key comes from the agreements
		 * with the identity's public key (a random one if unknown). */
		ok = ok && hm_auth_pk_derive(HERMES_ROLE_SERVER, s->cfg->secret, c->kx_sk,
					     known ? id->public_key : s->unknown_pk,
					     r->kx_public_key, t, tlen, &pkk) == HERMES_OK;
		key = pkk.tag_c;
	}
	ok = ok && hm_auth_tag(key, t, tlen, tag) == HERMES_OK;
	/* Constant time, and computed whether or not the identity exists. */
	ok = hm_auth_equal(tag, r->tag, sizeof tag) && ok && known;
	if (ok && pk) {
		memcpy(c->rx_key, pkk.c2s, sizeof c->rx_key);
		memcpy(c->tx_key, pkk.s2c, sizeof c->tx_key);
		key = pkk.tag_s;
	} else if (ok && enc) {
		uint8_t zero[HERMES_KX_PUBLIC_KEY_SIZE] = {0};
		ok = !hm_auth_equal(r->kx_public_key, zero, sizeof zero) &&
		     hm_auth_session_keys(HERMES_ROLE_SERVER, c->challenge.kx_public_key, c->kx_sk,
					  r->kx_public_key, c->rx_key, c->tx_key) == HERMES_OK;
	}
	hm_auth_wipe(c->kx_sk, sizeof c->kx_sk);
	/* Our own link, turned back onto our own listener by someone in the
	 * middle: it would authenticate (same identity and key) and double
	 * every message. Its nonce gives it away. */
	bool reflected = own_link_nonce(s, r->nonce);
	if (!ok || reflected) {
		hm_stat_add(&s->stats->c.auth_failures, 1);
		log_auth_failure(c, reflected ? "our own link reflected back to us (refused)"
					      : "authentication failed");
		send_error(c, HERMES_EPERM, 0, 0, true, "authentication failed");
		enter_closing(c, HERMES_EPERM);
		return;
	}
	if ((c->features & HM_FEATURE_LINK) && !id->link) {
		hm_stat_add(&s->stats->c.auth_failures, 1);
		hm_conn_fatal(c, HERMES_EPERM, "identity '%s' may not act as a link (link = true)",
			      c->identity);
		return;
	}
	hermes_wire_msg m = {.type = HERMES_MSG_AUTH_OK};
	if (hermes_auth_transcript(HERMES_ROLE_SERVER, &c->hello, &c->welcome, &c->challenge, r, t,
				   &tlen) != HERMES_OK ||
	    hm_auth_tag(key, t, tlen, m.auth_ok.tag) != HERMES_OK) {
		hm_auth_wipe(&pkk, sizeof pkk);
		hm_conn_fatal(c, HERMES_ESYS, "cannot compute the server proof");
		return;
	}
	hm_auth_wipe(&pkk, sizeof pkk);
	send_msg(c, 0, 0, &m);
	/* Everything after AUTH_OK is sealed, both ways. */
	c->sealed = enc;
	c->ident = id;
	c->slow = id->slow;
	if (!session_begin(c, id))
		return;
	hm_dlog_kv kv = {0};
	hm_conn_log_fields(c, &kv);
	hm_dlog(HM_DLOG_INFO, "authenticated%s%s%s%s", pk ? " by public key" : "",
	       enc ? ", encrypted" : ", NOT encrypted",
	       (c->features & HM_FEATURE_LINK) ? ", link" : "", kv.s);
}

/* ---- session ------------------------------------------------------------------------------ */

/* The ring name of len bytes at p (from the wire) into out, checked. */
static bool ring_name(const char *p, size_t len, char *out)
{
	if (len == 0 || len >= HM_BRIDGE_NAME_MAX)
		return false;
	memcpy(out, p, len);
	out[len] = '\0';
	return strlen(out) == len && hm_bridge_ring_name_ok(out);
}

static int find_chan(const hm_conn *c, uint32_t id)
{
	for (unsigned i = 0; i < c->nchans; i++)
		if (c->chans[i].id == id)
			return (int)i;
	return -1;
}

static int find_sub(const hm_conn *c, uint32_t id)
{
	for (unsigned i = 0; i < c->nsubs; i++)
		if (c->subs[i]->id == id)
			return (int)i;
	return -1;
}

static bool id_in_use(const hm_conn *c, uint32_t id)
{
	return find_chan(c, id) >= 0 || find_sub(c, id) >= 0;
}

static void on_bind(hm_conn *c, uint32_t ch, const hermes_wire_bind *b)
{
	hm_server *s = c->srv;
	if (ch == 0 || id_in_use(c, ch)) {
		hm_conn_fatal(c, HERMES_EINVAL, "channel id %u is 0 or already in use", ch);
		return;
	}
	char name[HM_BRIDGE_NAME_MAX];
	if (!ring_name(b->ring, b->ring_len, name)) {
		send_error(c, HERMES_ENOENT, ch, 0, false, "no ring '%.*s'",
			   (int)(b->ring_len > 64 ? 64 : b->ring_len), b->ring);
		return;
	}
	if (c->ident && !hm_patterns_match(c->ident->publish, name)) {
		send_error(c, HERMES_EPERM, ch, 0, false, "identity '%s' may not publish to '%s'",
			   c->identity, name);
		return;
	}
	if (c->nchans == s->cfg->max_channels) {
		send_error(c, HERMES_ETOOMANY, ch, 0, false, "at most %u channels per connection",
			   s->cfg->max_channels);
		return;
	}
	hm_ringref *rr;
	hermes_err err = hm_server_ring(s, name, &rr);
	if (!err)
		err = hm_server_pub_get(s, rr);
	if (err) {
		send_error(c, err, ch, 0, false,
			   err == HERMES_ENOENT	    ? "no ring '%s'"
			   : err == HERMES_ETOOMANY ? "no free producer slot on ring '%s'"
						    : "cannot publish to '%s'",
			   name);
		return;
	}
	c->chans[c->nchans++] = (hm_chan){.id = ch, .rr = rr};
	hm_stat_add(&s->stats->c.channels, 1);
	hermes_wire_msg m = {.type = HERMES_MSG_BOUND};
	m.ring.max_message = rr->ring.max_msg;
	m.ring.policy = (uint8_t)rr->ring.policy;
	send_msg(c, ch, 0, &m);
}

static void ack(hm_conn *c, uint32_t ch, uint64_t pub_seq, uint64_t ring_seq)
{
	uint8_t *p = hm_conn_out_claim(c, HERMES_MSG_PUBLISH_ACK, 0, ch, pub_seq, 8, 0);
	if (!p)
		return;
	hm_put_le64(p, ring_seq);
	hm_conn_out_commit(c);
	hm_stat_add(&c->srv->stats->c.acks, 1);
}

static void unblock(hm_conn *c)
{
	if (c->pub_blocked) {
		c->pub_blocked = false;
		c->srv->blocked--;
	}
}

/* A LINK session carries the messages of one bus, the peer's (a message
 * travels one hop): its first origin is its own, any other is refused. An
 * identity may bring in at most HM_ORIGINS_PER_IDENT origins (it cannot
 * fill the origin tables), never ours. False: closing. */
static bool claim_origin(hm_conn *c, uint64_t origin)
{
	hm_server *s = c->srv;
	if (c->link_origin) {
		hm_conn_fatal(c, HERMES_EPERM, "a link carries the messages of one bus only");
		return false;
	}
	if (origin == s->bus_id) {
		hm_conn_fatal(c, HERMES_EPERM, "a link may not claim this very bus as origin");
		return false;
	}
	uint64_t *o = s->ident_state[c->ident_ix].origins;
	unsigned i = 0;
	while (i < HM_ORIGINS_PER_IDENT && o[i] && o[i] != origin)
		i++;
	if (i == HM_ORIGINS_PER_IDENT) {
		hm_conn_fatal(c, HERMES_EPERM,
			      "identity '%s' brought the messages of %u buses already; no more",
			      c->ident ? c->identity : "(anonymous)", HM_ORIGINS_PER_IDENT);
		return false;
	}
	o[i] = origin;
	c->link_origin = origin;
	return true;
}

/* A tagged PUBLISH: split the user tag off. User tags only where TAGS was
 * negotiated; 0 is sent untagged (PROTOCOL.md, "User tags"). The link
 * prefix follows the tag. False: the connection failed. */
static bool publish_untag(hm_conn *c, const hermes_frame_header *h, const uint8_t **data,
			  size_t *len, uint32_t *tag)
{
	hermes_wire_bytes msg;
	if (!(c->features & HERMES_FEATURE_TAGS) ||
	    hermes_wire_tag_split(h->flags, *data, *len, tag, &msg)) {
		bool neg = c->features & HERMES_FEATURE_TAGS;
		hm_stat_add(&c->srv->stats->c.protocol_errors, 1);
		hm_conn_fatal(c, neg ? HERMES_EBADPAYLOAD : HERMES_EBADFLAGS,
			      neg ? "a tagged PUBLISH (channel %u, sequence %llu) with tag 0"
				  : "a tagged PUBLISH (channel %u, sequence %llu) without the TAGS "
				    "feature",
			      h->channel, (unsigned long long)h->sequence);
		return false;
	}
	*data = msg.data;
	*len = msg.len;
	return true;
}

/* A link's PUBLISH: take its origin prefix off (PROTOCOL.md, "Links between
 * buses") and drop what this origin committed before a reconnect. False:
 * nothing more to do (failed, or a duplicate, acknowledged). */
static bool publish_origin(hm_conn *c, const hermes_frame_header *h, hm_ringref *rr,
			   const uint8_t **data, size_t *len, uint64_t *origin, uint64_t *oseq)
{
	if (*len < HM_LINK_PREFIX) {
		hm_conn_fatal(c, HERMES_EBADPAYLOAD, "a link PUBLISH without its origin prefix");
		return false;
	}
	*origin = hm_get_le64(*data);
	*oseq = hm_get_le64(*data + 8);
	if (*origin == 0) {
		/* Every bus has a non-zero id; 0 would also bypass the
		 * duplicate check (PROTOCOL.md 15). Nothing is committed. */
		hm_stat_add(&c->srv->stats->c.protocol_errors, 1);
		hm_conn_fatal(c, HERMES_EBADPAYLOAD,
			      "a link PUBLISH (channel %u, sequence %llu) with origin 0", h->channel,
			      (unsigned long long)h->sequence);
		return false;
	}
	*data += HM_LINK_PREFIX;
	*len -= HM_LINK_PREFIX;
	if (*origin != c->link_origin && !claim_origin(c, *origin))
		return false;
	hm_origins *org = hm_server_origins(c->srv, rr);
	if (org && hm_origins_seen(org, *origin, *oseq)) {
		/* Already committed before a reconnect: not again. */
		if (h->flags & HERMES_FLAG_ACK_REQUESTED)
			ack(c, h->channel, h->sequence, UINT64_MAX);
		return false;
	}
	return true;
}

/* The ring is full: wait (RETRY) until publish_timeout_ms, then refuse. */
static int publish_full(hm_conn *c, const hermes_frame_header *h, const hm_ringref *rr, bool link)
{
	hm_server *s = c->srv;
	if (!c->pub_blocked) {
		c->pub_blocked = true;
		c->pub_blocked_since = s->now_ns;
		s->blocked++;
		hm_stat_add(&s->stats->c.publish_stalls, 1);
		return RETRY;
	}
	/* Links never give up: their peer resends after a reconnect anyway,
	 * and holding keeps the order. */
	if (link ||
	    s->now_ns - c->pub_blocked_since < (uint64_t)s->cfg->publish_timeout_ms * 1000000u)
		return RETRY;
	unblock(c);
	hm_stat_add(&s->stats->c.publish_timeouts, 1);
	hm_stat_add(&s->stats->c.publish_errors, 1);
	send_error(c, HERMES_EAGAIN, h->channel, h->sequence, false,
		   "ring '%s' stayed full for %u ms", rr->name, s->cfg->publish_timeout_ms);
	return DONE;
}

static int on_publish(hm_conn *c, const hermes_frame_header *h, const uint8_t *data, size_t len)
{
	hm_server *s = c->srv;
	uint32_t tag = 0;
	if ((h->flags & HERMES_FLAG_TAGGED) && !publish_untag(c, h, &data, &len, &tag))
		return DONE;
	int i = find_chan(c, h->channel);
	if (i < 0) {
		hm_stat_add(&s->stats->c.publish_errors, 1);
		send_error(c, HERMES_ENOENT, h->channel, h->sequence, false, "channel %u is not bound",
			   h->channel);
		return DONE;
	}
	hm_ringref *rr = c->chans[i].rr;
	uint64_t origin = 0, oseq = 0;
	bool link = c->features & HM_FEATURE_LINK;
	if (link && !publish_origin(c, h, rr, &data, &len, &origin, &oseq))
		return DONE;
	if (len > rr->ring.max_msg) {
		hm_stat_add(&s->stats->c.publish_errors, 1);
		send_error(c, HERMES_EMSGSIZE, h->channel, h->sequence, false,
			   "message of %zu bytes; ring '%s' holds at most %u", len, rr->name,
			   rr->ring.max_msg);
		return DONE;
	}
	uint64_t seq;
	hermes_err err = link ? hm_server_commit_imported(s, rr, data, (uint32_t)len, tag, origin,
							  oseq, &seq)
			      : hermes_pub_send_tagged(rr->pub, data, (uint32_t)len, tag, &seq, 0);
	if (err == HERMES_EAGAIN)
		return publish_full(c, h, rr, link);
	unblock(c);
	if (err) {
		hm_stat_add(&s->stats->c.publish_errors, 1);
		send_error(c, err, h->channel, h->sequence, false, "publish to '%s' failed: %s",
			   rr->name, hermes_strerror(err));
		return DONE;
	}
	hm_stat_add(&s->stats->c.publishes, 1);
	if (rr->feed_list)
		hm_feeds_ring_committed(s, rr);
	if (h->flags & HERMES_FLAG_ACK_REQUESTED)
		ack(c, h->channel, h->sequence, seq);
	return DONE;
}

/* Holding back a ring's producers is a permission: links and identities
 * with hold = true (and anonymous clients, where they are allowed). */
static bool may_hold(const hm_conn *c)
{
	return !c->ident || c->ident->hold || c->ident->link;
}

static hm_slow_policy resolve_policy(const hm_conn *c, const hm_ringref *rr)
{
	hm_slow_policy p = c->slow;
	if (p == HM_SLOW_AUTO)
		p = rr->slow;
	if (p == HM_SLOW_AUTO)
		p = c->srv->cfg->slow;
	if (p == HM_SLOW_AUTO && (c->features & HM_FEATURE_LINK))
		p = HM_SLOW_HOLD;
	if (p == HM_SLOW_AUTO)
		p = rr->ring.policy == HERMES_POLICY_BLOCK ? HM_SLOW_HOLD : HM_SLOW_DROP;
	if (p == HM_SLOW_HOLD && !may_hold(c))
		p = HM_SLOW_DROP;
	return p;
}

/* The checks a SUBSCRIBE passes before any ring is touched; the ring's
 * name into name. False: refused (an ERROR is sent, or the connection
 * failed). */
static bool subscribe_allowed(hm_conn *c, uint32_t id, const hermes_wire_subscribe *sb,
			      char name[HM_BRIDGE_NAME_MAX])
{
	hm_server *s = c->srv;
	if (id == 0 || id_in_use(c, id)) {
		hm_conn_fatal(c, HERMES_EINVAL, "subscription id %u is 0 or already in use", id);
		return false;
	}
	if (!ring_name(sb->ring, sb->ring_len, name)) {
		send_error(c, HERMES_ENOENT, id, 0, false, "no ring '%.*s'",
			   (int)(sb->ring_len > 64 ? 64 : sb->ring_len), sb->ring);
		return false;
	}
	if (c->ident && !hm_patterns_match(c->ident->subscribe, name)) {
		send_error(c, HERMES_EPERM, id, 0, false, "identity '%s' may not subscribe to '%s'",
			   c->identity, name);
		return false;
	}
	if (c->nsubs == s->cfg->max_subscriptions) {
		send_error(c, HERMES_ETOOMANY, id, 0, false, "at most %u subscriptions per connection",
			   s->cfg->max_subscriptions);
		return false;
	}
	if (sb->start == HERMES_WIRE_START_AT && sb->start_seq >= HERMES_WIRE_SEQ_LIMIT) {
		send_error(c, HERMES_EINVAL, id, 0, false,
			   "start sequence %llu is beyond any ring (sequences stay below 2^62)",
			   (unsigned long long)sb->start_seq);
		return false;
	}
	return true;
}

/* A subscription reference for ring rr, or an error: HERMES_ETOOMANY with
 * *over_holds when the identity holds all the cursors it may. */
static hermes_err new_subref(hm_conn *c, uint32_t id, hm_ringref *rr, hm_subref **out,
			     bool *over_holds)
{
	hm_server *s = c->srv;
	hm_subref *ref = calloc(1, sizeof *ref);
	if (!ref)
		return HERMES_ENOMEM;
	*ref = (hm_subref){.conn = c,
			   .id = id,
			   .policy = resolve_policy(c, rr),
			   .local_only = (c->features & HM_FEATURE_LINK) != 0};
	*out = ref;
	/* Each holding subscription takes a cursor of the ring: bounded per
	 * identity, over all its connections. */
	ref->held = ref->policy == HM_SLOW_HOLD;
	if (ref->held && s->ident_state[c->ident_ix].holds >= s->cfg->max_holds_per_identity) {
		*over_holds = true;
		return HERMES_ETOOMANY;
	}
	return HERMES_OK;
}

static void subscribe_refused(hm_conn *c, uint32_t id, hermes_err err, bool over_holds,
			      const char *name)
{
	if (over_holds)
		send_error(c, err, id, 0, false,
			   "identity '%s' holds %u subscriptions already "
			   "(max_holds_per_identity)",
			   c->ident ? c->identity : "(anonymous)",
			   c->srv->ident_state[c->ident_ix].holds);
	else
		send_error(c, err, id, 0, false,
			   err == HERMES_ENOENT	    ? "no ring '%s'"
			   : err == HERMES_ETOOMANY ? "no subscriber slot the bridge may take on "
						      "ring '%s'"
						    : "cannot subscribe to '%s'",
			   name);
}

static void on_subscribe(hm_conn *c, uint32_t id, const hermes_wire_subscribe *sb)
{
	hm_server *s = c->srv;
	char name[HM_BRIDGE_NAME_MAX];
	if (!subscribe_allowed(c, id, sb, name))
		return;
	hm_ringref *rr;
	hm_subref *ref = NULL;
	uint64_t first = 0;
	bool over_holds = false;
	hermes_err err = hm_server_ring(s, name, &rr);
	if (!err)
		err = new_subref(c, id, rr, &ref, &over_holds);
	if (!err)
		err = hm_feed_subscribe(s, rr, ref, sb->start, sb->start_seq, &first);
	if (err) {
		free(ref);
		subscribe_refused(c, id, err, over_holds, name);
		return;
	}
	if (ref->held)
		s->ident_state[c->ident_ix].holds++;
	c->subs[c->nsubs++] = ref;
	hm_stat_add(&s->stats->c.subscriptions, 1);
	hermes_wire_msg m = {.type = HERMES_MSG_SUBSCRIBED};
	m.ring.max_message = rr->ring.max_msg;
	m.ring.policy = (uint8_t)rr->ring.policy;
	send_msg(c, id, first, &m);
	hm_dlog_kv kv = {0};
	hm_dlog_str(&kv, "ring", name);
	hm_conn_log_fields(c, &kv);
	hm_dlog(HM_DLOG_DEBUG, "subscription %u from sequence %llu (%s)%s", id,
	       (unsigned long long)first, hm_slow_policy_name(ref->policy), kv.s);
}

/* An ERROR from the peer: log its text, escaped (it is untrusted). */
static void on_peer_error(hm_conn *c, const hermes_frame_header *h, const hermes_wire_error *e)
{
	char text[256];
	size_t n = 0;
	for (size_t i = 0; i < e->text_len && n < sizeof text - 5; i++) {
		unsigned char ch = (unsigned char)e->text[i];
		if (ch >= 0x20 && ch < 0x7F && ch != '\\')
			text[n++] = (char)ch;
		else
			n += (size_t)snprintf(text + n, sizeof text - n, "\\x%02x", ch);
	}
	text[n] = '\0';
	hm_dlog_kv kv = {0};
	hm_conn_log_fields(c, &kv);
	hm_dlog_str(&kv, "error", text);
	hm_dlog(HM_DLOG_INFO, "the client sent ERROR %u%s (channel %u)%s", e->code,
	       e->fatal ? ", fatal" : "", h->channel, kv.s);
	if (e->fatal)
		enter_closing(c, HERMES_ECLOSED);
}

/* UNBIND (sub false) and UNSUBSCRIBE: the channel's binding or subscription
 * dropped, or an error saying it has none. */
static void on_unbind(hm_conn *c, uint32_t ch, bool sub)
{
	int i = sub ? find_sub(c, ch) : find_chan(c, ch);
	if (i < 0)
		send_error(c, HERMES_ENOENT, ch, 0, false,
			   sub ? "no subscription %u" : "channel %u is not bound", ch);
	else if (sub)
		drop_sub(c, (unsigned)i);
	else
		drop_chan(c, (unsigned)i);
}

/* A session's message other than PUBLISH, parsed. */
static void on_session_msg(hm_conn *c, const hermes_frame_header *h, const hermes_wire_msg *m)
{
	switch (h->type) {
	case HERMES_MSG_BIND:
		on_bind(c, h->channel, &m->bind);
		break;
	case HERMES_MSG_SUBSCRIBE:
		on_subscribe(c, h->channel, &m->subscribe);
		break;
	case HERMES_MSG_UNBIND:
	case HERMES_MSG_UNSUBSCRIBE:
		on_unbind(c, h->channel, h->type == HERMES_MSG_UNSUBSCRIBE);
		break;
	case HERMES_MSG_PING: {
		uint8_t *q = hm_conn_out_claim(c, HERMES_MSG_PONG, 0, 0, h->sequence, 0, 0);
		if (q)
			hm_conn_out_commit(c);
		break;
	}
	case HERMES_MSG_PONG:
		break;
	case HERMES_MSG_ERROR:
		on_peer_error(c, h, &m->error);
		break;
	case HERMES_MSG_GOODBYE: {
		hm_dlog_kv kv = {0};
		hm_conn_log_fields(c, &kv);
		hm_dlog(HM_DLOG_DEBUG, "GOODBYE %u%s", m->goodbye.code, kv.s);
		enter_closing(c, HERMES_OK);
		break;
	}
	}
}

/* One complete frame. Returns RETRY to be called again with it later. */
static int on_frame(hm_conn *c, const hermes_frame *f)
{
	const hermes_frame_header *h = &f->header;
	uint8_t *p = (uint8_t *)f->payload; /* our own buffer: opened in place */
	size_t len = h->length;
	if (c->sealed) {
		if (!(h->flags & HERMES_FLAG_ENCRYPTED)) {
			hm_stat_add(&c->srv->stats->c.protocol_errors, 1);
			hm_conn_fatal(c, HERMES_EHANDSHAKE, "an unsealed frame in a sealed session");
			return DONE;
		}
		len -= HERMES_SEAL_TAG_SIZE;
		if (!c->opened) {
			if (hm_auth_open(c->rx_key, c->rx_ctr, f->bytes, p, len, p + len) != HERMES_OK) {
				hm_stat_add(&c->srv->stats->c.protocol_errors, 1);
				hm_conn_fatal(c, HERMES_EPERM, "a sealed frame failed to open");
				return DONE;
			}
			c->rx_ctr++;
			c->opened = true;
		}
	} else if (h->flags & HERMES_FLAG_ENCRYPTED) {
		hm_stat_add(&c->srv->stats->c.protocol_errors, 1);
		hm_conn_fatal(c, HERMES_EBADFLAGS, "a sealed frame in a clear session");
		return DONE;
	}
	bool session = c->state == HM_CONN_SESSION;
	if (session && h->type == HERMES_MSG_PUBLISH)
		return on_publish(c, h, p, len);
	hermes_wire_msg m;
	if (hermes_wire_msg_parse(h->type, p, len, &m) != HERMES_OK) {
		hm_stat_add(&c->srv->stats->c.protocol_errors, 1);
		hm_conn_fatal(c, HERMES_EBADPAYLOAD, "malformed %s payload", hermes_msg_type_name(h->type));
		return DONE;
	}
	if (session) {
		on_session_msg(c, h, &m);
		return DONE;
	}
	/* The decoder's phase lets only these through before the session. */
	switch (h->type) {
	case HERMES_MSG_HELLO:
		on_hello(c, &m.hello);
		break;
	case HERMES_MSG_AUTH_RESPONSE:
		on_response(c, &m.response);
		break;
	case HERMES_MSG_ERROR:
		on_peer_error(c, h, &m.error);
		enter_closing(c, HERMES_ECLOSED);
		break;
	case HERMES_MSG_GOODBYE:
		enter_closing(c, HERMES_OK);
		break;
	}
	return DONE;
}

/* The peer half-closed with subscriptions: each is owed the messages its
 * ring had taken by now; the handshake timeout bounds the wait. */
static void start_drain(hm_conn *c)
{
	c->draining = true;
	for (unsigned i = 0; i < c->nsubs; i++) {
		hm_subref *ref = c->subs[i];
		uint64_t pos, tail = 0;
		if (ref->feed)
			hm_ring_tail(&ref->feed->rr->ring, &pos, &tail);
		ref->stop = tail;
	}
	c->deadline_ns = c->srv->now_ns + (uint64_t)c->srv->cfg->handshake_timeout_ms * 1000000u;
	hm_dlog_kv kv = {0};
	hm_conn_log_fields(c, &kv);
	hm_dlog(HM_DLOG_DEBUG, "half-closed: draining %u subscription(s)%s", c->nsubs, kv.s);
	hm_server_mark_wake(c->srv, c);
	hm_conn_drain_check(c);
}

void hm_conn_drain_check(hm_conn *c)
{
	if (!c->draining || c->state != HM_CONN_SESSION)
		return;
	for (unsigned i = 0; i < c->nsubs; i++)
		if (!hm_feed_sub_done(c->subs[i]))
			return;
	/* Last losses (room for the GOODBYE stays), then GOODBYE. */
	for (unsigned i = 0; i < c->nsubs; i++) {
		hm_subref *ref = c->subs[i];
		if (!ref->pending_loss)
			continue;
		uint8_t *p = hm_conn_out_claim(c, HERMES_MSG_LOSS, 0, ref->id, ref->stop, 8, 64);
		if (!p)
			return; /* again when output drains */
		hm_put_le64(p, ref->pending_loss);
		hm_conn_out_commit(c);
		ref->pending_loss = 0;
		hm_stat_add(&c->srv->stats->c.loss_notices, 1);
	}
	hermes_wire_msg m = {.type = HERMES_MSG_GOODBYE};
	m.goodbye.code = HERMES_OK;
	send_msg(c, 0, 0, &m);
	enter_closing(c, HERMES_OK);
}

void hm_conn_process(hm_conn *c)
{
	hm_server *s = c->srv;
	while (c->state < HM_CONN_CLOSING && !c->paused) {
		size_t avail = c->in_len - c->in_off;
		if (avail == 0)
			break;
		if (c->out_cap - (c->out_len - c->out_off) < HM_CTRL_RESERVE) {
			c->paused = true;
			break;
		}
		hermes_decoder_set_buffer(&c->dec, c->in + c->in_off, avail);
		hermes_frame f;
		hermes_err err = hermes_decoder_next(&c->dec, &f);
		if (err == HERMES_ENEEDMORE) {
			/* A frame larger than the buffer (never before the
			 * session: the decoder's limit is the buffer then). */
			size_t need = avail + hermes_decoder_needed(&c->dec);
			if (need > c->in_cap)
				(void)grow_input(c, need);
			break;
		}
		if (err) {
			hm_stat_add(&s->stats->c.protocol_errors, 1);
			hm_conn_fatal(c, err, "malformed frame: %s", hermes_strerror(err));
			break;
		}
		if (on_frame(c, &f) == RETRY)
			break;
		c->opened = false;
		c->in_off += HERMES_HEADER_SIZE + f.header.length;
		hm_stat_add(&s->stats->c.frames_in, 1);
	}
	if (c->in_off == c->in_len)
		c->in_off = c->in_len = 0;
	/* A peer that stopped sending with nothing left to process (or only a
	 * partial frame) is done, once its subscriptions had what they are
	 * owed: a half-close ends the sending side only (PROTOCOL.md 5). */
	if (c->eof && c->state < HM_CONN_CLOSING && !c->paused && !c->pub_blocked) {
		if (c->state == HM_CONN_SESSION && c->nsubs && !c->draining)
			start_drain(c);
		else if (!c->draining)
			enter_closing(c, HERMES_ECLOSED);
	}
}

void hm_conn_input(hm_conn *c, size_t n)
{
	c->last_rx_ns = c->srv->now_ns;
	c->ping_sent = false;
	c->srv->active_ns = hm_now_ns();
	c->in_len += n;
	hm_stat_add(&c->srv->stats->c.bytes_in, n);
	hm_conn_process(c);
}
