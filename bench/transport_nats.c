/* NATS through libnats, with the bench's own nats-server on a free
 * loopback port.
 *
 * Latency: request/reply through the server. The pinging side publishes a
 * request with its own inbox as the reply subject (as natsConnection_Request
 * does) and waits on that inbox; the echo side receives on a synchronous
 * subscription and publishes the same bytes to the reply subject. Both
 * connections set "send as soon as possible" (no client-side batching),
 * NATS's own advice for latency.
 *
 * Throughput (1->1): publish per message to one subject, one synchronous
 * subscriber. Core NATS has no flow control: a publisher that outruns its
 * subscriber makes the server cut the subscriber off as a slow consumer.
 * So the producer keeps at most NATS_WINDOW messages ahead of what the
 * consumer has counted (read from the bench's shared counter, outside
 * NATS), the usual application-level credit; the server runs with a larger
 * pending limit and write deadline than its defaults for the same reason.
 * Messages lost anyway are counted and shown.
 */
#include "bench_loops.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_NATS

#include <nats/nats.h>

#define NATS_WINDOW 65536u

static pid_t g_nats = -1;
static char g_url[64];

static int nats_open(const bench_opts *o, char *why, size_t len)
{
	(void)o;
	char server[512];
	if (find_executable("nats-server", server, sizeof server) != 0) {
		snprintf(why, len, "skipped: nats-server not found (install the nats-server package)");
		return -1;
	}
	unsigned port = free_tcp_port();
	char cfg[256], log[256], portstr[16];
	snprintf(cfg, sizeof cfg, "%s/nats.conf", bench_tmpdir());
	snprintf(log, sizeof log, "%s/nats.log", bench_tmpdir());
	snprintf(portstr, sizeof portstr, "%u", port);
	FILE *f = fopen(cfg, "we");
	if (!f || !port) {
		if (f)
			fclose(f);
		snprintf(why, len, "skipped: could not prepare nats-server (config or port)");
		return -1;
	}
	fprintf(f, "max_pending: 268435456\nwrite_deadline: \"10s\"\nmax_payload: 1048576\n");
	fclose(f);
	char *argv[] = {server, "-c", cfg, "-a", "127.0.0.1", "-p", portstr, NULL};
	g_nats = server_spawn(server, argv, log);
	if (g_nats < 0) {
		snprintf(why, len, "skipped: could not start nats-server");
		return -1;
	}
	if (server_await(g_nats, tcp_port_accepts, &port) != 0) {
		g_nats = -1;
		snprintf(why, len, "skipped: nats-server did not start (see its log: %s)", log);
		return -1;
	}
	snprintf(g_url, sizeof g_url, "nats://127.0.0.1:%u", port);
	return 0;
}

static void nats_close(void)
{
	server_stop(g_nats, SERVER_STOP_MS);
	g_nats = -1;
}

/* A measurement's state: its subject. */
static int nats_state_new(void **state)
{
	char prefix[24];
	snprintf(prefix, sizeof prefix, "hb.%d.", (int)getpid());
	return job_name_new(state, prefix);
}

/* One worker's connection. */
typedef struct nend {
	natsConnection *nc;
	natsSubscription *sub;
	natsInbox *inbox;
	natsMsg *held;
	char subject[80];
	uint32_t size;
	uint8_t *obuf;
	uint32_t claimed;
	uint64_t sent;
	const char *label;
} nend;

static void say_nats(const char *label, const char *what, natsStatus s)
{
	say_error("%s: %s: %s", label, what, natsStatus_GetText(s));
}

/* 0 when s is NATS_OK; else -1 after saying which call (what) failed. */
static int nats_check(const char *label, const char *what, natsStatus s)
{
	if (s == NATS_OK)
		return 0;
	say_nats(label, what, s);
	return -1;
}

static int nend_connect(nend *e, bool asap, uint32_t size, size_t ocap, const char *label)
{
	memset(e, 0, sizeof *e);
	e->size = size;
	e->label = label;
	if (ocap && !(e->obuf = malloc(ocap)))
		return -1;
	natsOptions *opts = NULL;
	natsStatus s = natsOptions_Create(&opts);
	if (s == NATS_OK)
		s = natsOptions_SetURL(opts, g_url);
	if (s == NATS_OK)
		s = natsOptions_SetSendAsap(opts, asap);
	if (s == NATS_OK)
		s = natsOptions_SetAllowReconnect(opts, false);
	if (s == NATS_OK)
		s = natsConnection_Connect(&e->nc, opts);
	natsOptions_Destroy(opts);
	return nats_check(label, "connect", s);
}

static int nend_subscribe(nend *e, const char *subject)
{
	natsStatus s = natsConnection_SubscribeSync(&e->sub, e->nc, subject);
	if (s == NATS_OK)
		s = natsSubscription_SetPendingLimits(e->sub, 4 * 1024 * 1024, 1 << 30);
	/* A flush is a round trip: the server has the subscription after it. */
	if (s == NATS_OK)
		s = natsConnection_Flush(e->nc);
	return nats_check(e->label, "subscribe", s);
}

/* The pinging side's end: it publishes to subject, with an inbox of its
 * own as the reply subject. */
static int nend_ping_to(nend *e, const char *subject)
{
	snprintf(e->subject, sizeof e->subject, "%s", subject);
	return nats_check(e->label, "natsInbox_Create", natsInbox_Create(&e->inbox));
}

static void nend_close(nend *e)
{
	if (e->held)
		natsMsg_Destroy(e->held);
	if (e->sub)
		natsSubscription_Destroy(e->sub);
	if (e->inbox)
		natsInbox_Destroy(e->inbox);
	if (e->nc) {
		natsConnection_Close(e->nc);
		natsConnection_Destroy(e->nc);
	}
	free(e->obuf);
}

/* Next message from the subscription, waiting up to timeout_ms:
 * 1, 0 none, -1 error. */
static int nend_next(nend *e, int64_t timeout_ms)
{
	natsStatus s = natsSubscription_NextMsg(&e->held, e->sub, timeout_ms);
	if (s == NATS_OK) {
		if ((uint32_t)natsMsg_GetDataLength(e->held) != e->size) {
			say_error("%s: a message of %d bytes, expected %u", e->label,
				  natsMsg_GetDataLength(e->held), e->size);
			return -1;
		}
		return 1;
	}
	e->held = NULL;
	if (s == NATS_TIMEOUT)
		return 0;
	if (!worker_stopping() && !ctl_get(&g_ctl->stop))
		say_nats(e->label, "natsSubscription_NextMsg", s);
	return -1;
}

/* ---- latency ---- */

static int nl_ping_send(void *vc, const void *src, uint32_t len)
{
	nend *e = vc;
	natsStatus s = natsConnection_PublishRequest(e->nc, e->subject, (const char *)e->inbox,
						     src, (int)len);
	return nats_check(e->label, "natsConnection_PublishRequest", s) == 0 ? 1 : -1;
}

static int nl_echo_send(void *vc, const void *src, uint32_t len)
{
	nend *e = vc;
	const char *reply = natsMsg_GetReply(e->held);
	if (!reply) {
		say_error("%s: a request without a reply subject", e->label);
		return -1;
	}
	natsStatus s = natsConnection_Publish(e->nc, reply, src, (int)len);
	return nats_check(e->label, "natsConnection_Publish", s) == 0 ? 1 : -1;
}

static int nl_peek(void *vc, const void **data, uint32_t *len)
{
	nend *e = vc;
	int r = nend_next(e, (int64_t)(WAIT_SLICE_NS / NS_PER_MS));
	if (r > 0) {
		*data = natsMsg_GetData(e->held);
		*len = e->size;
	}
	return r;
}

static void nl_done(void *vc)
{
	nend *e = vc;
	natsMsg_Destroy(e->held);
	e->held = NULL;
}

static const lat_ops nats_ping_ops = {nl_ping_send, nl_peek, nl_done, NULL};
static const lat_ops nats_echo_ops = {nl_echo_send, nl_peek, nl_done, NULL};

/* The echo side subscribes to the subject; the pinging side publishes to
 * it and subscribes to an inbox of its own. */
static int nats_lat_side(lat_job *j, bool pinging, hm_hist *h)
{
	const char *subject = j->state;
	nend e;
	int rc = -1;
	if (nend_connect(&e, true, j->size, 0, j->label) == 0 &&
	    (!pinging || nend_ping_to(&e, subject) == 0) &&
	    nend_subscribe(&e, pinging ? (const char *)e.inbox : subject) == 0)
		rc = pinging ? lat_side_run(&nats_ping_ops, &e, j, true, true, h)
			     : lat_side_run(&nats_echo_ops, &e, j, false, true, NULL);
	nend_close(&e);
	return rc;
}

/* ---- throughput ---- */

static int nt_claim(void *vc, uint32_t n, uint32_t len, void **ptrs)
{
	nend *e = vc;
	/* Credit: stay within NATS_WINDOW of what the consumer counted.
	 * Relaxed: a sampled counter, as the coordinator reads it. */
	uint64_t got = ctl_count(&g_ctl->cons[0].received) +
		       ctl_count(&g_ctl->cons[0].lost);
	if (e->sent - got >= NATS_WINDOW)
		return 0;
	(void)n;
	ptrs[0] = e->obuf;
	(void)len;
	return 1;
}

static int nt_commit(void *vc)
{
	nend *e = vc;
	natsStatus s = natsConnection_Publish(e->nc, e->subject, e->obuf, (int)e->size);
	if (nats_check(e->label, "natsConnection_Publish", s) != 0)
		return -1;
	e->sent++;
	return 0;
}

static int nt_drain(void *vc, unsigned max, tp_check *chk, unsigned *got)
{
	nend *e = vc;
	unsigned n = 0;
	while (n < max) {
		int r = nend_next(e, n ? 0 : (int64_t)(WAIT_SLICE_NS / NS_PER_MS));
		if (r < 0) {
			/* After stop, a closed connection is the end. */
			if (ctl_get(&g_ctl->stop))
				break;
			return -1;
		}
		if (r == 0)
			break;
		tp_check_msg(chk, natsMsg_GetData(e->held), e->size);
		natsMsg_Destroy(e->held);
		e->held = NULL;
		n++;
	}
	/* The lost count feeds the producer's credit too. */
	ctl_put_count(&g_ctl->cons[0].lost, chk->lost);
	*got = n;
	return 0;
}

static const tp_ops nats_tp_ops = {nt_claim, nt_commit, nt_drain, true};

static int nats_tp_produce(tp_job *j, unsigned index)
{
	const char *subject = j->state;
	nend e;
	int rc = -1;
	if (nend_connect(&e, false, j->size, j->size, j->label) == 0) {
		snprintf(e.subject, sizeof e.subject, "%s", subject);
		if (worker_ready() == 0)
			rc = tp_produce(&nats_tp_ops, &e, j, index);
		if (rc == 0)
			natsConnection_Flush(e.nc);
	}
	nend_close(&e);
	return rc;
}

static int nats_tp_consume(tp_job *j, unsigned index)
{
	const char *subject = j->state;
	nend e;
	int rc = -1;
	if (nend_connect(&e, false, j->size, 0, j->label) == 0 &&
	    nend_subscribe(&e, subject) == 0 && worker_ready() == 0)
		rc = tp_consume(&nats_tp_ops, &e, j, index, true);
	nend_close(&e);
	return rc;
}

#define NATS_HOOKS                                                                              \
	.open = nats_open, .close = nats_close, .waits = 1u << W_BLOCK, .topos = 1u << TOPO_1_1, \
	.lossy = true, .state_new = nats_state_new, .lat_side = nats_lat_side,                    \
	.tp_produce = nats_tp_produce, .tp_consume = nats_tp_consume

#else /* !HAVE_NATS */

#define NATS_HOOKS .missing = "skipped: built without libnats (install libnats-dev and rebuild)"

#endif

const transport transport_nats = {
	.name = "nats",
	.about = "NATS via bench-started nats-server on 127.0.0.1: request/reply (send-asap); "
		 "publish -> sync subscriber with a 64 Ki-message credit window",
	NATS_HOOKS,
};
