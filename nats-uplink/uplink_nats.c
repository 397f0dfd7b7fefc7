/* The NATS side shared by all workers: connection options (URLs, auth, TLS,
 * reconnect backoff, buffers), connection-state callbacks, JetStream stream
 * set-up, and small waiting helpers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/atomics.h"
#include "core/futex.h"
#include "nats-uplink/uplink.h"

/* Pings every PING_INTERVAL_MS (see hm_nats_options). The client library's buffer for
 * publications made while reconnecting is at most RECONNECT_BUF_MAX. The
 * flusher's flush gives up after FLUSH_TIMEOUT_MS (the next kick retries). */
#define PING_INTERVAL_MS 2000
#define RECONNECT_BUF_MAX (64u << 20)
#define FLUSH_TIMEOUT_MS 1000

static void wake_all(hm_nats_uplink *up)
{
	pthread_mutex_lock(&up->mu);
	pthread_cond_broadcast(&up->cv);
	pthread_mutex_unlock(&up->mu);
}

static void connected_url(natsConnection *nc, char *buf, size_t len)
{
	buf[0] = '\0';
	if (natsConnection_GetConnectedUrl(nc, buf, len) != NATS_OK)
		buf[0] = '\0';
}

/* Connected (again, when reconnected): count it, say so, wake the workers. */
static void connected(hm_nats_uplink *up, natsConnection *nc, bool reconnected)
{
	char url[256];
	connected_url(nc, url, sizeof url);
	if (reconnected)
		hm_nats_add(&up->st->reconnects, 1);
	hm_nats_add(&up->st->connects, 1);
	hm_nats_state_conn(up->st, HM_NATS_CONN_CONNECTED, url, NULL);
	hm_dlog(HM_DLOG_INFO, "%s to %s", reconnected ? "reconnected" : "connected", url);
	atomic_fetch_add(&up->conn_gen, 1);
	wake_all(up);
}

static void on_connected(natsConnection *nc, void *closure)
{
	connected(closure, nc, false);
}

static void on_disconnected(natsConnection *nc, void *closure)
{
	hm_nats_uplink *up = closure;
	(void)nc;
	hm_nats_add(&up->st->disconnects, 1);
	if (atomic_load(&up->stop))
		return;
	hm_nats_state_conn(up->st, HM_NATS_CONN_RECONNECTING, NULL, "disconnected from the server");
	hm_dlog(HM_DLOG_WARN, "disconnected from NATS; reconnecting with backoff");
}

static void on_reconnected(natsConnection *nc, void *closure)
{
	connected(closure, nc, true);
}

static void on_closed(natsConnection *nc, void *closure)
{
	hm_nats_uplink *up = closure;
	const char *why = NULL;
	natsConnection_GetLastError(nc, &why);
	hm_nats_state_conn(up->st, atomic_load(&up->stop) ? HM_NATS_CONN_STOPPED : HM_NATS_CONN_CLOSED, NULL,
		      why && *why ? why : NULL);
	if (!atomic_load(&up->stop))
		hm_dlog(HM_DLOG_ERROR, "NATS connection closed: %s", why && *why ? why : "(no reason)");
	wake_all(up);
}

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure)
{
	hm_nats_uplink *up = closure;
	(void)nc;
	(void)sub;
	hm_nats_add(&up->st->errors, 1);
	const char *text = natsStatus_GetText(err);
	hm_nats_state_conn(up->st, (unsigned)hm_load_relaxed_u64(&up->st->conn_state), NULL, text);
	/* Slow-consumer reports come once per episode from the library; they are
	 * counted per ring by the in thread (client_dropped). */
	hm_dlog(err == NATS_SLOW_CONSUMER ? HM_DLOG_DEBUG : HM_DLOG_WARN, "NATS: %s", text);
}

/* Exponential backoff with jitter, called after each round over the URL
 * list: reconnect_wait, x2 per round, up to reconnect_max_wait, then +-20 %
 * so that many uplinks do not hammer a recovering server in step. */
static int64_t reconnect_delay(natsConnection *nc, int attempts, void *closure)
{
	hm_nats_uplink *up = closure;
	(void)nc;
	int64_t d = up->cfg.reconnect_wait_ms;
	for (int i = 1; i < attempts && d < up->cfg.reconnect_max_wait_ms; i++)
		d *= 2;
	if (d > up->cfg.reconnect_max_wait_ms)
		d = up->cfg.reconnect_max_wait_ms;
	int64_t jitter = d / 5;
	if (jitter > 0)
		d += (int64_t)(random() % (2 * jitter + 1)) - jitter;
	return d < 1 ? 1 : d;
}

#define TRY(call)                                                                         \
	do {                                                                              \
		natsStatus s_ = (call);                                                   \
		if (s_ != NATS_OK) {                                                      \
			hm_dlog(HM_DLOG_ERROR, "%s: %s (%s)", #call, natsStatus_GetText(s_),  \
			       nats_GetLastError(NULL) ? nats_GetLastError(NULL) : "");   \
			return s_;                                                        \
		}                                                                         \
	} while (0)

/* What every connection of the uplink has in common: servers, name,
 * timeouts, pings, credentials and TLS. */
static natsStatus common_options(hm_nats_uplink *up, natsOptions *o)
{
	const hm_nats_config *c = &up->cfg;
	const char *servers[HM_NATS_MAX_URLS];
	bool tls = c->tls;
	for (unsigned i = 0; i < c->nurls; i++) {
		servers[i] = c->urls[i];
		tls |= !strncmp(c->urls[i], "tls://", 6);
	}
	TRY(natsOptions_SetServers(o, servers, (int)c->nurls));
	/* Try the URLs in the order given: "attach to this node first" is how
	 * an operator spreads buses over a cluster. */
	TRY(natsOptions_SetNoRandomize(o, true));
	TRY(natsOptions_SetName(o, c->name));
	TRY(natsOptions_SetTimeout(o, c->connect_timeout_ms));
	/* Pings every 2 s, two outstanding: a dead server is noticed in about
	 * 4-6 s even when no write fails. */
	TRY(natsOptions_SetPingInterval(o, PING_INTERVAL_MS));
	TRY(natsOptions_SetMaxPingsOut(o, 2));

	if (c->user[0])
		TRY(natsOptions_SetUserInfo(o, c->user, c->password));
	if (c->token[0])
		TRY(natsOptions_SetToken(o, c->token));
	if (c->nkey[0])
		TRY(natsOptions_SetNKeyFromSeed(o, c->nkey, c->nkey_seed));
	if (c->creds[0])
		TRY(natsOptions_SetUserCredentialsFromFiles(o, c->creds, NULL));
	if (tls) {
		TRY(natsOptions_SetSecure(o, true));
		if (c->tls_ca[0])
			TRY(natsOptions_LoadCATrustedCertificates(o, c->tls_ca));
		if (c->tls_cert[0])
			TRY(natsOptions_LoadCertificatesChain(o, c->tls_cert, c->tls_key));
		if (c->tls_hostname[0])
			TRY(natsOptions_SetExpectedHostname(o, c->tls_hostname));
		if (c->tls_skip_verify)
			TRY(natsOptions_SkipServerVerification(o, true));
	}
	return NATS_OK;
}

natsStatus hm_nats_options(hm_nats_uplink *up)
{
	const hm_nats_config *c = &up->cfg;
	natsOptions *o;
	TRY(natsOptions_Create(&o));
	up->opts = o;
	natsStatus s = common_options(up, o);
	if (s != NATS_OK)
		return s;
	TRY(natsOptions_SetMaxReconnect(o, -1));
	TRY(natsOptions_SetCustomReconnectDelay(o, reconnect_delay, up));
	TRY(natsOptions_SetDisconnectedCB(o, on_disconnected, up));
	TRY(natsOptions_SetReconnectedCB(o, on_reconnected, up));
	TRY(natsOptions_SetClosedCB(o, on_closed, up));
	TRY(natsOptions_SetErrorHandler(o, on_error, up));
	/* A bus never needs its own publications back: the server skips them
	 * for this connection (the origin check stays as the rule that holds
	 * for JetStream and any topology). */
	TRY(natsOptions_SetNoEcho(o, true));
	/* What the library may hold while reconnecting. The out threads stop
	 * handing it messages when the connection is down, so this only takes
	 * the few publications of the moment of the loss; it is bounded by the
	 * largest max_pending all the same. (JetStream publications never go
	 * through it: they have connections of their own, see
	 * hm_nats_publisher_options.) */
	uint64_t rb = 0;
	for (unsigned i = 0; i < c->nrings; i++)
		if (c->rings[i].max_pending > rb)
			rb = c->rings[i].max_pending;
	if (rb > RECONNECT_BUF_MAX)
		rb = RECONNECT_BUF_MAX;
	TRY(natsOptions_SetReconnectBufSize(o, (int)rb));
	return NATS_OK;
}

natsStatus hm_nats_publisher_options(hm_nats_uplink *up, natsOptions **out)
{
	natsOptions *o;
	*out = NULL;
	TRY(natsOptions_Create(&o));
	natsStatus s = common_options(up, o);
	/* Never reconnect: a connection that breaks is closed for good, and
	 * whatever it had not written dies with it. A reconnecting connection
	 * would instead keep the publications made while it was down and
	 * write them to the next server ahead of everything sent after (see
	 * uplink_out.c for why that breaks the stream's order). No callbacks:
	 * this connection's ups and downs are not the uplink's (the shared
	 * connection reports those). */
	if (s == NATS_OK)
		s = natsOptions_SetAllowReconnect(o, false);
	if (s != NATS_OK) {
		natsOptions_Destroy(o);
		return s;
	}
	*out = o;
	return NATS_OK;
}

static void connect_failed(hm_nats_uplink *up, natsStatus s)
{
	const char *e = nats_GetLastError(NULL);
	char why[300];
	snprintf(why, sizeof why, "%s%s%s", natsStatus_GetText(s), e && *e ? ": " : "",
		 e ? e : "");
	hm_nats_state_conn(up->st, HM_NATS_CONN_CLOSED, up->cfg.urls[0], why);
	hm_dlog(HM_DLOG_ERROR, "cannot connect to NATS: %s", why);
}

natsStatus hm_nats_connect(hm_nats_uplink *up)
{
	/* First a plain attempt, so that what no retry can fix (credentials
	 * refused, TLS handshake) is reported at once with the server's reason
	 * instead of vanishing in background retries. */
	natsStatus s = natsConnection_Connect(&up->nc, up->opts);
	if (s == NATS_OK) {
		char url[256];
		connected_url(up->nc, url, sizeof url);
		hm_nats_add(&up->st->connects, 1);
		hm_nats_state_conn(up->st, HM_NATS_CONN_CONNECTED, url, NULL);
		hm_dlog(HM_DLOG_INFO, "connected to %s", url);
		atomic_fetch_add(&up->conn_gen, 1);
		return NATS_OK;
	}
	if (s != NATS_NO_SERVER && s != NATS_TIMEOUT && s != NATS_IO_ERROR) {
		connect_failed(up, s);
		return s;
	}
	/* Nobody answers: keep trying in the background with the reconnect
	 * backoff; the workers wait for the connected callback. */
	s = natsOptions_SetRetryOnFailedConnect(up->opts, true, on_connected, up);
	if (s == NATS_OK)
		s = natsConnection_Connect(&up->nc, up->opts);
	if (s == NATS_OK || s == NATS_NOT_YET_CONNECTED) {
		if (s == NATS_OK) {
			on_connected(up->nc, up);
		} else {
			char why[320];
			snprintf(why, sizeof why,
				 "no server reachable yet (%s): retrying with backoff", up->cfg.urls[0]);
			hm_nats_state_conn(up->st, HM_NATS_CONN_STARTING, up->cfg.urls[0], why);
			hm_dlog(HM_DLOG_WARN, "%s", why);
		}
		return NATS_OK;
	}
	connect_failed(up, s);
	return s;
}

bool hm_nats_connected(hm_nats_uplink *up)
{
	return up->nc && natsConnection_Status(up->nc) == NATS_CONN_STATUS_CONNECTED;
}

static void deadline_in(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

bool hm_nats_wait_connected(hm_nats_uplink *up, int ms)
{
	if (hm_nats_connected(up))
		return true;
	struct timespec ts;
	deadline_in(&ts, ms);
	pthread_mutex_lock(&up->mu);
	while (!atomic_load(&up->stop) && !hm_nats_connected(up))
		if (pthread_cond_timedwait(&up->cv, &up->mu, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&up->mu);
	return hm_nats_connected(up);
}

bool hm_nats_sleep(hm_nats_uplink *up, int ms)
{
	struct timespec ts;
	deadline_in(&ts, ms);
	pthread_mutex_lock(&up->mu);
	while (!atomic_load(&up->stop))
		if (pthread_cond_timedwait(&up->cv, &up->mu, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&up->mu);
	return atomic_load(&up->stop);
}

/* The client library writes publications from its own buffer: when that
 * fills, or 1 ms after the first one was buffered (its flusher waits that
 * long for more). For a message that is alone, that millisecond is most of
 * its trip. Our flush thread, kicked by an out thread whose batch emptied
 * its ring, makes the library write now (natsConnection_Flush: the buffer
 * goes out with a PING, and the thread waits for the PONG while the out
 * threads carry on). A burst that arrives meanwhile waits for the PONG or
 * the library's millisecond, whichever comes first. */
static void *flush_main(void *arg)
{
	hm_nats_uplink *up = arg;
	pthread_mutex_lock(&up->flush_mu);
	for (;;) {
		while (!up->flush_kicked && !atomic_load(&up->stop))
			pthread_cond_wait(&up->flush_cv, &up->flush_mu);
		if (atomic_load(&up->stop))
			break;
		up->flush_kicked = false;
		pthread_mutex_unlock(&up->flush_mu);
		if (hm_nats_connected(up))
			natsConnection_FlushTimeout(up->nc, FLUSH_TIMEOUT_MS);
		pthread_mutex_lock(&up->flush_mu);
	}
	pthread_mutex_unlock(&up->flush_mu);
	return NULL;
}

bool hm_nats_flush_start(hm_nats_uplink *up)
{
	pthread_mutex_init(&up->flush_mu, NULL);
	pthread_cond_init(&up->flush_cv, NULL);
	if (!up->cfg.flush_immediate)
		return true;
	up->flush_started = pthread_create(&up->flush_thread, NULL, flush_main, up) == 0;
	return up->flush_started;
}

void hm_nats_flush_kick(hm_nats_uplink *up)
{
	if (!up->flush_started)
		return;
	pthread_mutex_lock(&up->flush_mu);
	if (!up->flush_kicked) {
		up->flush_kicked = true;
		pthread_cond_signal(&up->flush_cv);
	}
	pthread_mutex_unlock(&up->flush_mu);
}

void hm_nats_flush_stop(hm_nats_uplink *up)
{
	if (!up->flush_started)
		return;
	pthread_mutex_lock(&up->flush_mu);
	pthread_cond_broadcast(&up->flush_cv);
	pthread_mutex_unlock(&up->flush_mu);
	pthread_join(up->flush_thread, NULL);
	up->flush_started = false;
}

natsStatus hm_nats_js_ensure_stream(hm_nats_uplink *up, jsCtx *js, const hm_nats_ring_cfg *cfg, uint64_t *first,
			       uint64_t *last)
{
	jsErrCode ec = 0;
	jsStreamInfo *si = NULL;
	if (first)
		*first = 0;
	if (last)
		*last = 0;
	natsStatus s = js_GetStreamInfo(&si, js, cfg->stream, NULL, &ec);
	if (s == NATS_OK) {
		if (first)
			*first = si->State.FirstSeq;
		if (last)
			*last = si->State.LastSeq;
		/* It exists: make sure it takes our subject. */
		bool has = false;
		for (int i = 0; i < si->Config->SubjectsLen && !has; i++)
			has = !strcmp(si->Config->Subjects[i], cfg->subject);
		if (!has) {
			int n = si->Config->SubjectsLen;
			const char **subs = calloc((size_t)n + 1, sizeof *subs);
			if (!subs) {
				jsStreamInfo_Destroy(si);
				return NATS_NO_MEMORY;
			}
			for (int i = 0; i < n; i++)
				subs[i] = si->Config->Subjects[i];
			subs[n] = cfg->subject;
			jsStreamConfig sc = *si->Config;
			sc.Subjects = subs;
			sc.SubjectsLen = n + 1;
			jsStreamInfo *si2 = NULL;
			s = js_UpdateStream(&si2, js, &sc, NULL, &ec);
			free(subs);
			if (si2)
				jsStreamInfo_Destroy(si2);
			if (s == NATS_OK)
				hm_dlog_ring(HM_DLOG_INFO, cfg->name, "added subject %s to stream %s",
					    cfg->subject, cfg->stream);
			else
				hm_dlog_ring(HM_DLOG_WARN, cfg->name,
					    "cannot add subject %s to stream %s: %s", cfg->subject,
					    cfg->stream,
					    nats_GetLastError(NULL) ? nats_GetLastError(NULL) : "");
		}
		jsStreamInfo_Destroy(si);
		return s;
	}
	if (ec != JSStreamNotFoundErr && s != NATS_NOT_FOUND)
		return s;
	jsStreamConfig sc;
	jsStreamConfig_Init(&sc);
	const char *subs[1] = {cfg->subject};
	sc.Name = cfg->stream;
	sc.Subjects = subs;
	sc.SubjectsLen = 1;
	sc.Storage = js_FileStorage;
	sc.Replicas = cfg->replicas;
	sc.Duplicates = up->cfg.duplicate_window_ms * 1000000;
	sc.MaxAge = cfg->stream_max_age_ms * 1000000;
	sc.MaxBytes = cfg->stream_max_bytes ? (int64_t)cfg->stream_max_bytes : -1;
	s = js_AddStream(&si, js, &sc, NULL, &ec);
	if (si)
		jsStreamInfo_Destroy(si);
	if (s == NATS_OK)
		hm_dlog_ring(HM_DLOG_INFO, cfg->name, "created stream %s (subject %s, %u replica%s)",
			    cfg->stream, cfg->subject, cfg->replicas,
			    cfg->replicas == 1 ? "" : "s");
	else if (ec == JSStreamNameExistErr)
		s = NATS_OK; /* the other side created it just now */
	return s;
}

hermes_err hm_nats_ring_facts(hm_nats_uplink *up, const char *name, uint64_t *cap, uint64_t *slots,
			 uint32_t *max_msg, uint32_t *policy)
{
	/* The public discovery call (bus.h), not the segment's internals. */
	hermes_ring_info info;
	hermes_err err = hermes_bus_ring_info(up->bus, name, &info);
	if (err)
		return err;
	*cap = info.capacity;
	*slots = info.slots;
	*max_msg = info.max_msg;
	*policy = (uint32_t)info.policy;
	return HERMES_OK;
}
