/* Client side of the wire protocol over buffers (see client.h). */
#include "tcp-bridge/client/client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/endian.h"
#include "core/error_detail.h"
#include "core/utf8.h"
#include "tcp-bridge/client/auth.h"

#define DEFAULT_OUT (256u * 1024u)
#define MIN_OUT 4096u
#define MIN_IN (256u * 1024u)

static void fail(hm_client *c, hermes_err err, bool tell, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The connection cannot go on. With tell, queue ERROR(err, fatal) for the
 * server first, as PROTOCOL.md asks of a client that sees a violation. */
static void fail(hm_client *c, hermes_err err, bool tell, const char *fmt, ...)
{
	if (c->state == HM_CL_CLOSED)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof c->detail, fmt, ap);
	va_end(ap);
	if (tell) {
		hermes_wire_msg m = {.type = HERMES_MSG_ERROR};
		m.error.code = (uint32_t)err;
		m.error.fatal = 1;
		m.error.text = c->detail;
		m.error.text_len = hm_utf8_prefix(c->detail, strlen(c->detail));
		(void)hm_client_send_msg(c, 0, 0, &m);
	}
	c->state = HM_CL_CLOSED;
	c->err = err;
	hm_auth_wipe(c->kx_sk, sizeof c->kx_sk);
}

hermes_err hm_client_init(hm_client *c, const hm_client_cfg *cfg)
{
	memset(c, 0, sizeof *c);
	const char *id = cfg->identity ? cfg->identity : "";
	size_t id_len = strlen(id);
	if (!hm_wire_name_ok(id, id_len, 0))
		return hm_fail(HERMES_EINVAL,
			       "identity must be at most 255 printable ASCII bytes without spaces");
	if (cfg->encrypt && !cfg->key)
		return hm_fail(HERMES_EINVAL, "encryption needs a key (key_file)");
	if (cfg->key) {
		hermes_err err = hm_auth_init();
		if (err)
			return err;
		memcpy(c->key, cfg->key, HERMES_AUTH_KEY_SIZE);
		c->have_key = true;
	}
	/* Authenticated sessions are encrypted unless the caller opts out. */
	c->want_encrypt = cfg->encrypt || (cfg->key && !cfg->plaintext);
	if (cfg->key && cfg->server_pk) {
		/* Public-key mode: always encrypted. */
		c->pk = true;
		c->want_encrypt = true;
		memcpy(c->server_pk, cfg->server_pk, sizeof c->server_pk);
	}
	c->max_frame = cfg->max_frame ? cfg->max_frame : HERMES_DEFAULT_MAX_FRAME;
	if (c->max_frame < HERMES_MIN_MAX_FRAME || c->max_frame > HERMES_FRAME_LIMIT)
		return hm_fail(HERMES_EINVAL, "max_frame %u is outside [%u, %u]", c->max_frame,
			       HERMES_MIN_MAX_FRAME, HERMES_FRAME_LIMIT);
	c->in_cap = cfg->in_cap ? cfg->in_cap : 2 * (size_t)c->max_frame;
	if (!cfg->in_cap && c->in_cap < MIN_IN)
		c->in_cap = MIN_IN;
	if (c->in_cap < c->max_frame)
		return hm_fail(HERMES_EINVAL, "the receive buffer (%zu) must hold max_frame (%u)",
			       c->in_cap, c->max_frame);
	c->out_cap = cfg->out_cap ? cfg->out_cap : DEFAULT_OUT;
	if (c->out_cap < MIN_OUT)
		return hm_fail(HERMES_EINVAL, "the send buffer must be at least %u bytes", MIN_OUT);
	c->in = malloc(c->in_cap);
	c->out = malloc(c->out_cap);
	if (!c->in || !c->out) {
		hm_client_fini(c);
		return hm_fail(HERMES_ENOMEM, "connection buffers (%zu + %zu bytes)", c->in_cap,
			       c->out_cap);
	}
	hermes_decoder_init(&c->dec, NULL, 0);
	hermes_decoder_set_max_frame(&c->dec, c->max_frame);
	hermes_decoder_set_role(&c->dec, HERMES_ROLE_CLIENT);
	hermes_decoder_set_phase(&c->dec, HERMES_PHASE_HELLO);

	memcpy(c->identity, id, id_len + 1);
	c->offer = (c->have_key ? HERMES_FEATURE_AUTH : 0) |
		   (c->want_encrypt ? HERMES_FEATURE_ENCRYPT : 0) | (c->pk ? HERMES_FEATURE_PUBKEY : 0) |
		   cfg->extra_features;
	c->hello = (hermes_wire_hello){.min_version = HERMES_PROTOCOL_VERSION,
				       .max_version = HERMES_PROTOCOL_VERSION,
				       .features = c->offer,
				       .max_frame = c->max_frame,
				       .identity = c->identity,
				       .identity_len = id_len};
	/* Until WELCOME says otherwise, every peer accepts this much. */
	c->server_max_frame = HERMES_MIN_MAX_FRAME;
	c->state = HM_CL_HELLO;
	hermes_wire_msg m = {.type = HERMES_MSG_HELLO, .hello = c->hello};
	return hm_client_send_msg(c, 0, 0, &m);
}

void hm_client_fini(hm_client *c)
{
	free(c->in);
	free(c->out);
	c->in = c->out = NULL;
	hm_auth_wipe(c->key, sizeof c->key);
	hm_auth_wipe(c->kx_sk, sizeof c->kx_sk);
	hm_auth_wipe(&c->pkk, sizeof c->pkk);
	hm_auth_wipe(c->rx_key, sizeof c->rx_key);
	hm_auth_wipe(c->tx_key, sizeof c->tx_key);
}

uint8_t *hm_client_in_space(hm_client *c, bool compact, size_t *room)
{
	if (c->in_off == c->in_len) {
		c->in_off = c->in_len = 0;
	} else if (compact && c->in_off > 0) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	*room = c->in_cap - c->in_len;
	return c->in + c->in_len;
}

void hm_client_in_added(hm_client *c, size_t n)
{
	c->in_len += n;
}

void hm_client_out_written(hm_client *c, size_t n)
{
	c->out_off += n;
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
}

size_t hm_client_max_payload(const hm_client *c)
{
	size_t frame = c->server_max_frame < c->out_cap ? c->server_max_frame : c->out_cap;
	size_t over = HERMES_HEADER_SIZE + (c->sealed ? HERMES_SEAL_TAG_SIZE : 0);
	return frame > over ? frame - over : 0;
}

hermes_err hm_client_send_claim(hm_client *c, hermes_msg_type type, uint16_t flags,
				uint32_t channel, uint64_t seq, size_t len, uint8_t **payload)
{
	if (c->state == HM_CL_CLOSED)
		return HERMES_ECLOSED;
	if (len > hm_client_max_payload(c))
		return HERMES_EMSGSIZE;
	size_t wire_len = len + (c->sealed ? HERMES_SEAL_TAG_SIZE : 0);
	size_t need = HERMES_HEADER_SIZE + wire_len;
	if (c->out_cap - c->out_len < need && c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_cap - c->out_len < need)
		return HERMES_ENOBUFS;
	hermes_encoder e;
	hermes_encoder_init(&e, c->out + c->out_len, c->out_cap - c->out_len);
	hermes_encoder_set_max_frame(&e, c->server_max_frame);
	hermes_frame_header h = {.type = (uint8_t)type,
				 .flags = (uint16_t)(flags | (c->sealed ? HERMES_FLAG_ENCRYPTED : 0)),
				 .channel = channel,
				 .sequence = seq};
	uint8_t *p;
	hermes_err err = hermes_encoder_claim(&e, &h, wire_len, &p, NULL);
	if (err)
		return err == HERMES_ENOBUFS ? err : HERMES_EINVAL;
	c->claim_frame = c->out + c->out_len;
	c->claim_len = len;
	c->out_len += need;
	*payload = p;
	return HERMES_OK;
}

void hm_client_send_commit(hm_client *c)
{
	if (c->sealed && c->claim_frame) {
		uint8_t *p = c->claim_frame + HERMES_HEADER_SIZE;
		/* Cannot fail for a valid key; a failure would show as a frame
		 * the server refuses to open, which closes the connection. */
		(void)hm_auth_seal(c->tx_key, c->tx_ctr++, c->claim_frame, p, c->claim_len,
				   p + c->claim_len);
	}
	c->claim_frame = NULL;
}

hermes_err hm_client_send(hm_client *c, hermes_msg_type type, uint16_t flags, uint32_t channel,
			  uint64_t seq, const void *payload, size_t len)
{
	uint8_t *p;
	hermes_err err = hm_client_send_claim(c, type, flags, channel, seq, len, &p);
	if (err)
		return err;
	if (len)
		memcpy(p, payload, len);
	hm_client_send_commit(c);
	return HERMES_OK;
}

hermes_err hm_client_send_publish(hm_client *c, uint16_t flags, uint32_t channel, uint64_t seq,
				  uint32_t tag, const void *payload, size_t len)
{
	if (!tag)
		return hm_client_send(c, HERMES_MSG_PUBLISH, flags, channel, seq, payload, len);
	if (!(c->features & HERMES_FEATURE_TAGS))
		return hm_fail(HERMES_ENOTSUP, "the bridge did not grant user tags (TAGS)");
	uint8_t *p;
	hermes_err err = hm_client_send_claim(c, HERMES_MSG_PUBLISH, flags | HERMES_FLAG_TAGGED,
					      channel, seq, HERMES_WIRE_TAG_SIZE + len, &p);
	if (err)
		return err;
	hm_put_le32(p, tag);
	if (len)
		memcpy(p + HERMES_WIRE_TAG_SIZE, payload, len);
	hm_client_send_commit(c);
	return HERMES_OK;
}

hermes_err hm_client_send_msg(hm_client *c, uint32_t channel, uint64_t seq,
			      const hermes_wire_msg *msg)
{
	size_t len = 0;
	hermes_err err = hermes_wire_msg_write(msg, NULL, 0, &len);
	if (err && err != HERMES_ENOBUFS)
		return HERMES_EINVAL;
	uint8_t *p;
	err = hm_client_send_claim(c, (hermes_msg_type)msg->type, 0, channel, seq, len, &p);
	if (err)
		return err;
	hermes_wire_msg_write(msg, p, len, &len);
	hm_client_send_commit(c);
	return HERMES_OK;
}

/* ---- handshake -------------------------------------------------------------- */

static void on_welcome(hm_client *c, const hermes_wire_welcome *w)
{
	if (w->version != HERMES_PROTOCOL_VERSION || (w->features & ~c->offer) ||
	    ((w->features & HERMES_FEATURE_ENCRYPT) && !(w->features & HERMES_FEATURE_AUTH)) ||
	    w->max_frame < HERMES_MIN_MAX_FRAME || w->max_frame > HERMES_FRAME_LIMIT) {
		fail(c, HERMES_EHANDSHAKE, true, "bad WELCOME (version %u, features 0x%x)",
		     w->version, w->features);
		return;
	}
	/* A bridge that skips authentication although we hold a key may be an
	 * impostor: never talk to it. */
	if (c->have_key && !(w->features & HERMES_FEATURE_AUTH)) {
		fail(c, HERMES_EPERM, true, "the bridge did not authenticate this connection");
		return;
	}
	if (c->want_encrypt && !(w->features & HERMES_FEATURE_ENCRYPT)) {
		fail(c, HERMES_EPERM, true, "the bridge refused session encryption");
		return;
	}
	if (c->pk != !!(w->features & HERMES_FEATURE_PUBKEY)) {
		fail(c, HERMES_EPERM, true,
		     "the bridge does not authenticate by public key (it has no key pair)");
		return;
	}
	c->welcome = *w;
	c->welcome.name = hm_auth_keep_name(c->server_name, w->name, w->name_len);
	c->features = w->features;
	c->server_max_frame = w->max_frame;
	if (w->features & HERMES_FEATURE_AUTH) {
		c->state = HM_CL_AUTH;
		hermes_decoder_set_phase(&c->dec, HERMES_PHASE_AUTH);
	} else {
		c->state = HM_CL_SESSION;
		hermes_decoder_set_phase(&c->dec, HERMES_PHASE_SESSION);
	}
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t d = 0;
	for (size_t i = 0; i < n; i++)
		d |= p[i];
	return d == 0;
}

static void on_challenge(hm_client *c, const hermes_wire_auth_challenge *ch)
{
	bool enc = c->features & HERMES_FEATURE_ENCRYPT;
	if (c->challenged || (enc && all_zero(ch->kx_public_key, sizeof ch->kx_public_key))) {
		fail(c, HERMES_EHANDSHAKE, true, "unexpected AUTH_CHALLENGE");
		return;
	}
	c->challenged = true;
	c->challenge = *ch;
	memset(&c->response, 0, sizeof c->response);
	hermes_err err = hm_auth_random(c->response.nonce, sizeof c->response.nonce);
	if (!err && enc) {
		err = hm_auth_kx_keypair(c->kx_pk, c->kx_sk);
		memcpy(c->response.kx_public_key, c->kx_pk, sizeof c->kx_pk);
	}
	uint8_t t[HERMES_AUTH_TRANSCRIPT_MAX];
	size_t tlen = 0;
	if (!err)
		err = hermes_auth_transcript(HERMES_ROLE_CLIENT, &c->hello, &c->welcome, &c->challenge,
					     &c->response, t, &tlen);
	if (!err && c->pk)
		err = hm_auth_pk_derive(HERMES_ROLE_CLIENT, c->key, c->kx_sk, c->server_pk,
					ch->kx_public_key, t, tlen, &c->pkk);
	if (!err)
		err = hm_auth_tag(c->pk ? c->pkk.tag_c : c->key, t, tlen, c->response.tag);
	if (err) {
		fail(c, err, false, "cannot answer the challenge: %s", hermes_last_error_detail());
		return;
	}
	hermes_wire_msg m = {.type = HERMES_MSG_AUTH_RESPONSE, .response = c->response};
	if (hm_client_send_msg(c, 0, 0, &m) != HERMES_OK)
		fail(c, HERMES_ENOBUFS, false, "no room for AUTH_RESPONSE");
}

static void on_auth_ok(hm_client *c, const hermes_wire_auth_ok *ok)
{
	if (!c->challenged) {
		fail(c, HERMES_EHANDSHAKE, true, "AUTH_OK before AUTH_CHALLENGE");
		return;
	}
	uint8_t t[HERMES_AUTH_TRANSCRIPT_MAX], want[HERMES_AUTH_TAG_SIZE];
	size_t tlen = 0;
	hermes_err err = hermes_auth_transcript(HERMES_ROLE_SERVER, &c->hello, &c->welcome,
						&c->challenge, &c->response, t, &tlen);
	if (!err)
		err = hm_auth_tag(c->pk ? c->pkk.tag_s : c->key, t, tlen, want);
	if (err || !hm_auth_equal(want, ok->tag, sizeof want)) {
		hm_auth_wipe(&c->pkk, sizeof c->pkk);
		/* The server does not know our key: say so and leave. */
		hermes_wire_msg m = {.type = HERMES_MSG_GOODBYE};
		m.goodbye.code = HERMES_EPERM;
		(void)hm_client_send_msg(c, 0, 0, &m);
		fail(c, HERMES_EPERM, false,
		     c->pk ? "the bridge failed to prove it holds the pinned key (server line of "
			     "the key file)"
			   : "the bridge failed to prove it knows our key");
		return;
	}
	if (c->pk) {
		memcpy(c->rx_key, c->pkk.s2c, sizeof c->rx_key);
		memcpy(c->tx_key, c->pkk.c2s, sizeof c->tx_key);
		hm_auth_wipe(&c->pkk, sizeof c->pkk);
		hm_auth_wipe(c->kx_sk, sizeof c->kx_sk);
		c->sealed = true;
	} else if (c->features & HERMES_FEATURE_ENCRYPT) {
		err = hm_auth_session_keys(HERMES_ROLE_CLIENT, c->kx_pk, c->kx_sk,
					   c->challenge.kx_public_key, c->rx_key, c->tx_key);
		hm_auth_wipe(c->kx_sk, sizeof c->kx_sk);
		if (err) {
			fail(c, HERMES_EPERM, true, "session key exchange failed");
			return;
		}
		c->sealed = true;
	}
	c->state = HM_CL_SESSION;
	hermes_decoder_set_phase(&c->dec, HERMES_PHASE_SESSION);
}

/* ---- decoding ------------------------------------------------------------------ */

static void closed_by_error(hm_client *c, const hermes_wire_error *e)
{
	char text[HERMES_ERROR_TEXT_MAX + 1];
	size_t n = 0;
	/* Untrusted text: keep printable ASCII only. */
	for (size_t i = 0; i < e->text_len && n < sizeof text - 1; i++) {
		unsigned char ch = (unsigned char)e->text[i];
		text[n++] = ch >= 0x20 && ch < 0x7F ? (char)ch : '?';
	}
	text[n] = '\0';
	fail(c, e->code ? (hermes_err)e->code : HERMES_EHANDSHAKE, false, "the bridge said: %s",
	     text);
}

/* The CLOSED event, once; HERMES_ECLOSED after it. */
static hermes_err report_closed(hm_client *c, hermes_net_event *ev)
{
	if (c->closed_reported)
		return HERMES_ECLOSED;
	c->closed_reported = true;
	memset(ev, 0, sizeof *ev);
	ev->type = HERMES_NET_CLOSED;
	ev->code = c->err;
	ev->data = c->detail;
	ev->len = (uint32_t)strlen(c->detail);
	return HERMES_OK;
}

/* Open a sealed frame in place (*len loses the tag), or refuse a frame whose
 * sealing does not match the session's. False: the connection failed. */
static bool unseal(hm_client *c, const hermes_frame *f, uint8_t *payload, size_t *len)
{
	if (c->sealed) {
		if (!(f->header.flags & HERMES_FLAG_ENCRYPTED)) {
			fail(c, HERMES_EHANDSHAKE, false, "an unsealed frame in a sealed session");
			return false;
		}
		*len -= HERMES_SEAL_TAG_SIZE;
		if (hm_auth_open(c->rx_key, c->rx_ctr++, f->bytes, payload, *len, payload + *len)) {
			fail(c, HERMES_EPERM, false, "a sealed frame failed to open");
			return false;
		}
	} else if (f->header.flags & HERMES_FLAG_ENCRYPTED) {
		fail(c, HERMES_EBADFLAGS, true, "a sealed frame in a clear session");
		return false;
	}
	return true;
}

/* A tagged DELIVER: split the tag off the payload. False: the connection
 * failed. */
static bool untag(hm_client *c, const hermes_frame_header *h, uint8_t **payload, size_t *len,
		  uint32_t *tag)
{
	hermes_wire_bytes msg;
	if (!(c->features & HERMES_FEATURE_TAGS)) {
		fail(c, HERMES_EBADFLAGS, true, "a tagged DELIVER without the TAGS feature");
		return false;
	}
	if (hermes_wire_tag_split(h->flags, *payload, *len, tag, &msg)) {
		fail(c, HERMES_EBADPAYLOAD, true, "a tagged DELIVER with tag 0");
		return false;
	}
	*payload = (uint8_t *)msg.data;
	*len = msg.len;
	return true;
}

/* What read_frame tells hm_client_next. */
enum { FRAME_READY, FRAME_AGAIN, FRAME_RETURN };

/* Take the next whole frame out of the input, opened and untagged, with
 * its message parsed into *m (but for DELIVER). FRAME_AGAIN: the connection
 * failed (look again, to report it); FRAME_RETURN: return *ret. */
static int read_frame(hm_client *c, hermes_frame *f, hermes_wire_msg *m, uint8_t **payload,
		      size_t *len, uint32_t *tag, hermes_err *ret)
{
	hermes_decoder_set_buffer(&c->dec, c->in + c->in_off, c->in_len - c->in_off);
	hermes_err err = hermes_decoder_next(&c->dec, f);
	if (err == HERMES_ENEEDMORE && c->eof) {
		fail(c, c->state == HM_CL_SESSION ? HERMES_ECLOSED : HERMES_EHANDSHAKE, false,
		     "the bridge closed the connection%s",
		     c->state == HM_CL_SESSION ? "" : " during the handshake");
		return FRAME_AGAIN;
	}
	*ret = err;
	if (err == HERMES_ENEEDMORE)
		return FRAME_RETURN;
	if (err) {
		fail(c, err, true, "malformed frame from the bridge: %s", hermes_err_name(err));
		return FRAME_AGAIN;
	}
	const hermes_frame_header *h = &f->header;
	/* Answers we make ourselves need room before the frame is taken
	 * (opening it would advance the receive counter). */
	size_t answer = h->type == HERMES_MSG_PING	     ? HERMES_HEADER_SIZE + 16
			: h->type == HERMES_MSG_AUTH_CHALLENGE ? HERMES_HEADER_SIZE + 96
							       : 0;
	*ret = HERMES_ENOBUFS;
	if (answer && c->out_cap - (c->out_len - c->out_off) < answer)
		return FRAME_RETURN;
	*payload = (uint8_t *)f->payload;
	*len = h->length;
	c->in_off += HERMES_HEADER_SIZE + *len;
	*tag = 0;
	if (!unseal(c, f, *payload, len))
		return FRAME_AGAIN;
	if (h->type == HERMES_MSG_DELIVER && (h->flags & HERMES_FLAG_TAGGED) &&
	    !untag(c, h, payload, len, tag))
		return FRAME_AGAIN;
	if (h->type != HERMES_MSG_DELIVER && hermes_wire_msg_parse(h->type, *payload, *len, m)) {
		fail(c, HERMES_EBADPAYLOAD, true, "malformed %s payload",
		     hermes_msg_type_name(h->type));
		return FRAME_AGAIN;
	}
	return FRAME_READY;
}

/* An ERROR from the bridge. Before the session every ERROR ends the
 * handshake; the caller learns why from the CLOSED event. In the session a
 * fatal one is reported as itself, then as CLOSED. True: *ev is set. */
static bool on_error(hm_client *c, const hermes_wire_error *e, hermes_net_event *ev)
{
	if (c->state != HM_CL_SESSION) {
		closed_by_error(c, e);
		return false;
	}
	if (e->fatal)
		closed_by_error(c, e);
	ev->type = HERMES_NET_ERROR;
	ev->code = (hermes_err)e->code;
	ev->fatal = e->fatal;
	ev->data = e->text;
	ev->len = (uint32_t)e->text_len;
	return true;
}

/* Act on one frame: true when it is an event for the caller (in *ev), false
 * when it was handled here (handshake steps, pings, the end). */
static bool to_event(hm_client *c, const hermes_frame_header *h, const hermes_wire_msg *m,
		     uint8_t *payload, size_t len, uint32_t tag, hermes_net_event *ev)
{
	memset(ev, 0, sizeof *ev);
	ev->channel = h->channel;
	ev->seq = h->sequence;
	switch (h->type) {
	case HERMES_MSG_DELIVER:
		ev->type = HERMES_NET_MESSAGE;
		ev->data = payload;
		ev->len = (uint32_t)len;
		ev->value = tag; /* net.h: a MESSAGE's value is its tag */
		return true;
	case HERMES_MSG_PUBLISH_ACK:
		ev->type = HERMES_NET_ACK;
		ev->value = m->ack.ring_seq;
		return true;
	case HERMES_MSG_LOSS:
		ev->type = HERMES_NET_LOSS;
		ev->value = m->loss.count;
		return true;
	case HERMES_MSG_BOUND:
	case HERMES_MSG_SUBSCRIBED:
		ev->type = h->type == HERMES_MSG_BOUND ? HERMES_NET_BOUND : HERMES_NET_SUBSCRIBED;
		ev->value = m->ring.max_message;
		ev->policy = m->ring.policy;
		return true;
	case HERMES_MSG_PONG:
		ev->type = HERMES_NET_PONG;
		return true;
	case HERMES_MSG_PING:
		(void)hm_client_send(c, HERMES_MSG_PONG, 0, 0, h->sequence, NULL, 0);
		return false;
	case HERMES_MSG_ERROR:
		return on_error(c, &m->error, ev);
	case HERMES_MSG_GOODBYE:
		fail(c, m->goodbye.code ? (hermes_err)m->goodbye.code : HERMES_ECLOSED, false,
		     "the bridge closed the connection (GOODBYE %u)", m->goodbye.code);
		return false;
	case HERMES_MSG_WELCOME:
		on_welcome(c, &m->welcome);
		return false;
	case HERMES_MSG_AUTH_CHALLENGE:
		on_challenge(c, &m->challenge);
		return false;
	case HERMES_MSG_AUTH_OK:
		on_auth_ok(c, &m->auth_ok);
		return false;
	default:
		/* The decoder's phase and role checks let nothing else in. */
		fail(c, HERMES_EHANDSHAKE, true, "unexpected %s", hermes_msg_type_name(h->type));
		return false;
	}
}

hermes_err hm_client_next(hm_client *c, hermes_net_event *ev)
{
	for (;;) {
		if (c->state == HM_CL_CLOSED)
			return report_closed(c, ev);
		hermes_frame f;
		hermes_wire_msg m;
		uint8_t *payload;
		size_t len;
		uint32_t tag;
		hermes_err ret = HERMES_OK;
		int r = read_frame(c, &f, &m, &payload, &len, &tag, &ret);
		if (r == FRAME_RETURN)
			return ret;
		if (r == FRAME_READY && to_event(c, &f.header, &m, payload, len, tag, ev))
			return HERMES_OK;
	}
}
