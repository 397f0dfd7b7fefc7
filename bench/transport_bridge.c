/* hermes-bridge over loopback, through the remote client API
 * (include/hermes/net.h).
 *
 * The coordinator makes a bus of its own with three rings (ping, pong, tp),
 * starts hermes-bridge on it at a free 127.0.0.1 port, and stops both at the
 * end. No hermesd: the bridge attaches to the bus like any process.
 *
 * Latency: the pinging side is a remote client: hermes_net_publish (with
 * HERMES_NET_PUB_FLUSH: written at once) into ring "ping", and a
 * subscription to ring "pong" polled with hermes_net_poll. The echo side is
 * a local Hermes process busy-polling "ping" and copying each message into
 * "pong". So a round trip is client -> TCP -> bridge -> ring -> echo -> ring
 * -> bridge -> TCP -> client: one TCP round trip, as the raw TCP ping-pong
 * it is compared with.
 *
 * Streaming (1->1): a local Hermes producer claims and commits into ring
 * "tp"; a remote client subscribed to it counts what hermes_net_poll hands
 * out. The ring is a block ring, so the bridge holds its cursor for a slow
 * subscriber (its "auto" policy) and the producer waits: nothing is lost.
 */
#include "bench_loops.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_HERMES_NET

#include <hermes/bus.h>
#include <hermes/error.h>
#include <hermes/net.h>

#include "shm/ring.h"

static pid_t g_bridge = -1;
static char g_addr[64];
static char g_bus[HERMES_NAME_MAX + 1];
static hermes_bus *g_busp;
static pid_t g_bus_owner;

static uint64_t pow2_at_least(uint64_t v)
{
	uint64_t p = 1;
	while (p < v)
		p <<= 1;
	return p;
}

static void bridge_bus_remove(void)
{
	if (g_bus[0] && getpid() == g_bus_owner) {
		hermes_bus_detach(g_busp);
		hermes_bus_unlink(g_bus);
		g_busp = NULL;
		g_bus[0] = '\0';
	}
}

/* The rings: ping/pong as the shared-memory latency rings, tp as the
 * throughput ring (block policy, room for many messages). */
static int bridge_bus_make(uint32_t size)
{
	static bool registered;
	if (!registered) {
		atexit(bridge_bus_remove);
		registered = true;
	}
	uint32_t stride = (size + 7u) & ~7u;
	uint64_t lat_cap = pow2_at_least(8ull * stride > 65536 ? 8ull * stride : 65536);
	uint64_t tp_cap = pow2_at_least(64ull * stride > (4u << 20) ? 64ull * stride : (4u << 20));
	uint64_t lat_slots = lat_cap / stride, tp_slots = tp_cap / stride;
	lat_slots = lat_slots < 64 ? 64 : pow2_at_least(lat_slots + 1) / 2;
	tp_slots = tp_slots < 64 ? 64 : pow2_at_least(tp_slots + 1) / 2;
	hermes_ring_config rings[3] = {
		{"ping", lat_cap, size, HERMES_POLICY_BLOCK, (uint32_t)lat_slots},
		{"pong", lat_cap, size, HERMES_POLICY_BLOCK, (uint32_t)lat_slots},
		{"tp", tp_cap, size, HERMES_POLICY_BLOCK, (uint32_t)tp_slots},
	};
	uint64_t bytes = 64 * 1024;
	for (int i = 0; i < 3; i++)
		bytes += hm_ring_block_size(rings[i].capacity, rings[i].slots) + 4096;
	g_bus_owner = getpid();
	snprintf(g_bus, sizeof g_bus, "bench-br-%d", (int)getpid());
	hermes_bus_unlink(g_bus); /* left by an earlier run with our pid */
	hermes_err err = hermes_bus_create(g_bus, bytes, 0600, &g_busp);
	for (int i = 0; !err && i < 3; i++)
		err = hermes_ring_create(g_busp, &rings[i]);
	if (err) {
		say_error("bridge bus: %s: %s", hermes_strerror(err), hermes_last_error_detail());
		if (g_busp)
			bridge_bus_remove();
		g_bus[0] = '\0';
		return -1;
	}
	return 0;
}

static int bridge_open(const bench_opts *o, char *why, size_t len)
{
	char path[PATH_MAX + 32];
	/* hermes-bridge of this build tree, else on the PATH. */
	if (find_beside("../tcp-bridge/bridge/hermes-bridge", "hermes-bridge", path, sizeof path) != 0) {
		snprintf(why, len, "skipped: hermes-bridge not built yet");
		return -1;
	}
	if (bridge_bus_make(o->size) != 0) {
		snprintf(why, len, "skipped: could not make the bridge's bus");
		return -1;
	}
	unsigned port = free_tcp_port();
	char listen[64], log[256];
	snprintf(listen, sizeof listen, "127.0.0.1:%u", port);
	snprintf(log, sizeof log, "%s/bridge.log", bench_tmpdir());
	/* Anonymous clients on loopback: the bench's own, explicitly. */
	char *argv[] = {path,	     "--bus",	     g_bus, "--listen", listen, "--stats-dir",
			"none",	     "--state-dir", "none", "--allow-anonymous", "--log-level",
			"warn",	     o->bridge_busy_poll ? "--busy-poll" : NULL, NULL};
	g_bridge = port ? server_spawn(path, argv, log) : -1;
	if (g_bridge < 0) {
		bridge_bus_remove();
		snprintf(why, len, "skipped: could not start hermes-bridge");
		return -1;
	}
	if (server_await(g_bridge, tcp_port_accepts, &port) != 0) {
		g_bridge = -1;
		bridge_bus_remove();
		snprintf(why, len, "skipped: hermes-bridge did not start (its log: %s)", log);
		return -1;
	}
	snprintf(g_addr, sizeof g_addr, "%s", listen);
	return 0;
}

static void bridge_close(void)
{
	server_stop(g_bridge, SERVER_STOP_MS);
	g_bridge = -1;
	bridge_bus_remove();
}

static void say_net(const char *label, const char *what, hermes_err err)
{
	const char *detail = hermes_last_error_detail();
	say_error("%s: %s: %s%s%s", label, what, hermes_strerror(err), detail[0] ? ": " : "",
		  detail);
}

/* ---- the remote side ---- */

typedef struct rend {
	hermes_net *n;
	uint32_t channel; /* publishing */
	uint32_t sub;	  /* subscription */
	hermes_net_event ev;
	uint32_t size;
	const char *label;
} rend;

static int rend_open(rend *r, const char *pub_ring, const char *sub_ring, uint32_t size,
		     const char *label)
{
	memset(r, 0, sizeof *r);
	r->size = size;
	r->label = label;
	hermes_err err = hermes_net_connect(g_addr, NULL, &r->n);
	if (err) {
		say_net(label, "hermes_net_connect", err);
		return -1;
	}
	if (pub_ring && (err = hermes_net_bind(r->n, pub_ring, (int64_t)PEER_TIMEOUT_NS, &r->channel,
					       NULL)) != HERMES_OK) {
		say_net(label, "hermes_net_bind", err);
		return -1;
	}
	if (sub_ring && (err = hermes_net_subscribe(r->n, sub_ring, HERMES_START_LATEST, 0,
						    (int64_t)PEER_TIMEOUT_NS, &r->sub, NULL)) !=
				HERMES_OK) {
		say_net(label, "hermes_net_subscribe", err);
		return -1;
	}
	return 0;
}

static void rend_close(rend *r)
{
	hermes_net_close(r->n);
}

/* The next message of our subscription, waiting up to timeout_ns: 1, 0
 * none, -1 error. Other events are taken and passed over; a loss is
 * counted in *lost when given. */
static int rend_next(rend *r, int64_t timeout_ns, uint64_t *lost)
{
	for (;;) {
		hermes_err err = hermes_net_poll(r->n, &r->ev, timeout_ns);
		if (err == HERMES_EAGAIN || err == HERMES_ETIMEDOUT)
			return 0;
		if (err) {
			if (!worker_stopping() && !ctl_get(&g_ctl->stop))
				say_net(r->label, "hermes_net_poll", err);
			return -1;
		}
		switch (r->ev.type) {
		case HERMES_NET_MESSAGE:
			if (r->ev.channel != r->sub)
				continue;
			if (r->ev.len != r->size) {
				say_error("%s: a message of %u bytes, expected %u", r->label,
					  r->ev.len, r->size);
				return -1;
			}
			return 1;
		case HERMES_NET_LOSS:
			if (lost)
				*lost += r->ev.value;
			continue;
		case HERMES_NET_ERROR:
			say_error("%s: the bridge reported %s: %.*s", r->label,
				  hermes_strerror(r->ev.code), (int)r->ev.len,
				  (const char *)r->ev.data);
			if (r->ev.fatal)
				return -1;
			continue;
		case HERMES_NET_CLOSED:
			if (!ctl_get(&g_ctl->stop))
				say_error("%s: the bridge closed the connection", r->label);
			return -1;
		default:
			continue;
		}
	}
}

static int rl_send(void *vc, const void *src, uint32_t len)
{
	rend *r = vc;
	hermes_err err = hermes_net_publish(r->n, r->channel, src, len, HERMES_NET_PUB_FLUSH, NULL);
	if (err == HERMES_OK)
		return 1;
	if (err == HERMES_ETIMEDOUT)
		return 0;
	say_net(r->label, "hermes_net_publish", err);
	return -1;
}

static int rl_peek(void *vc, const void **data, uint32_t *len)
{
	rend *r = vc;
	int got = rend_next(r, (int64_t)WAIT_SLICE_NS, NULL);
	if (got > 0) {
		*data = r->ev.data;
		*len = r->ev.len;
	}
	return got;
}

static void rl_done(void *vc)
{
	(void)vc; /* the payload stays valid until the next poll */
}

static const lat_ops bridge_remote_ops = {rl_send, rl_peek, rl_done, NULL};

/* ---- the local side ---- */

typedef struct lend {
	hermes_bus *bus;
	hermes_pub *pub;
	hermes_sub *sub;
	hermes_msg msg;
	hermes_claim claim;
} lend;

static int lend_open(lend *l, const char *pub_ring, const char *sub_ring)
{
	memset(l, 0, sizeof *l);
	hermes_err err = hermes_bus_attach(g_bus, &l->bus);
	if (!err && sub_ring)
		err = hermes_sub_open(l->bus, sub_ring, HERMES_START_LATEST, 0, &l->sub);
	if (!err && pub_ring)
		err = hermes_pub_open(l->bus, pub_ring, &l->pub);
	if (err) {
		say_error("bridge: local side: %s: %s", hermes_strerror(err),
			  hermes_last_error_detail());
		return -1;
	}
	return 0;
}

static void lend_close(lend *l)
{
	hermes_pub_close(l->pub);
	hermes_sub_close(l->sub);
	hermes_bus_detach(l->bus);
}

/* Claim len bytes to publish (l->claim): 1, 0 no room, -1 error. who:
 * the worker, for messages. */
static int lend_claim(lend *l, uint32_t len, const char *who)
{
	hermes_err err = hermes_pub_claim(l->pub, len, &l->claim);
	if (err == HERMES_EAGAIN)
		return 0;
	if (err) {
		say_error("bridge %s: hermes_pub_claim: %s", who, hermes_strerror(err));
		return -1;
	}
	return 1;
}

static int ll_send(void *vc, const void *src, uint32_t len)
{
	lend *l = vc;
	int r = lend_claim(l, len, "echo");
	if (r <= 0)
		return r;
	memcpy(l->claim.data, src, len);
	hermes_pub_commit(l->pub, &l->claim);
	return 1;
}

static int ll_peek(void *vc, const void **data, uint32_t *len)
{
	lend *l = vc;
	hermes_err err = hermes_sub_poll(l->sub, &l->msg);
	if (err == HERMES_EAGAIN)
		return 0;
	if (err) {
		say_error("bridge echo: hermes_sub_poll: %s", hermes_strerror(err));
		return -1;
	}
	*data = l->msg.data;
	*len = l->msg.len;
	return 1;
}

static void ll_done(void *vc)
{
	lend *l = vc;
	hermes_sub_release(l->sub);
}

static const lat_ops bridge_local_ops = {ll_send, ll_peek, ll_done, NULL};

/* ---- latency ---- */

/* The pinging side is the remote client; the echo side is local. */
static int br_lat_side(lat_job *j, bool pinging, hm_hist *h)
{
	int rc = -1;
	if (pinging) {
		rend r;
		if (rend_open(&r, "ping", "pong", j->size, j->label) == 0)
			rc = lat_side_run(&bridge_remote_ops, &r, j, true, true, h);
		rend_close(&r);
	} else {
		lend l;
		/* The local echo busy-polls: the bridge's side is what is measured. */
		if (lend_open(&l, "pong", "ping") == 0)
			rc = lat_side_run(&bridge_local_ops, &l, j, false, false, NULL);
		lend_close(&l);
	}
	return rc;
}

/* ---- streaming ---- */

static int lt_claim(void *vc, uint32_t n, uint32_t len, void **ptrs)
{
	lend *l = vc;
	(void)n; /* single messages */
	int r = lend_claim(l, len, "producer");
	if (r > 0)
		ptrs[0] = l->claim.data;
	return r;
}

static int lt_commit(void *vc)
{
	lend *l = vc;
	return hermes_pub_commit(l->pub, &l->claim) == HERMES_OK ? 0 : -1;
}

static int rt_drain(void *vc, unsigned max, tp_check *chk, unsigned *got)
{
	rend *r = vc;
	unsigned n = 0;
	while (n < max) {
		int g = rend_next(r, n ? 0 : (int64_t)WAIT_SLICE_NS, &chk->lost);
		if (g < 0) {
			/* After stop, a closed connection is the end. */
			if (ctl_get(&g_ctl->stop))
				break;
			return -1;
		}
		if (g == 0)
			break;
		tp_check_msg(chk, r->ev.data, r->ev.len);
		n++;
	}
	*got = n;
	return 0;
}

static const tp_ops bridge_producer_ops = {lt_claim, lt_commit, NULL, false};
static const tp_ops bridge_consumer_ops = {NULL, NULL, rt_drain, true};

static int br_tp_produce(tp_job *j, unsigned index)
{
	lend l;
	int rc = -1;
	if (lend_open(&l, "tp", NULL) == 0 && worker_ready() == 0)
		rc = tp_produce(&bridge_producer_ops, &l, j, index);
	lend_close(&l);
	return rc;
}

static int br_tp_consume(tp_job *j, unsigned index)
{
	rend r;
	int rc = -1;
	if (rend_open(&r, NULL, "tp", j->size, j->label) == 0 && worker_ready() == 0)
		rc = tp_consume(&bridge_consumer_ops, &r, j, index, false);
	rend_close(&r);
	return rc;
}

#define BRIDGE_HOOKS                                                                            \
	.open = bridge_open, .close = bridge_close, .lat_side = br_lat_side,                      \
	.tp_produce = br_tp_produce, .tp_consume = br_tp_consume

#else /* !HAVE_HERMES_NET */

#define BRIDGE_HOOKS .missing = "skipped: hermes-bridge not built yet"

#endif

const transport transport_bridge = {
	.name = "bridge",
	.about = "hermes-bridge on 127.0.0.1: remote client <-> bridge <-> ring (local echo / "
		 "local producer)",
	.waits = 1u << W_BLOCK,
	.topos = 1u << TOPO_1_1,
	BRIDGE_HOOKS,
};
