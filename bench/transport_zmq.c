/* ZeroMQ over ipc:// and tcp://, with libzmq's defaults (one I/O thread per
 * context, high-water marks of 1000 messages).
 *
 * Latency: a PAIR socket each way round (the echo side binds). Throughput
 * 1->1 and 4->1: PUSH -> PULL (reliable: a full PUSH blocks). 1->4: XPUB ->
 * four SUB with ZMQ_XPUB_NODROP, so a full subscriber holds the publisher
 * back instead of losing messages, as a Hermes block ring does; the
 * publisher says ready only once it has seen all four subscriptions, so no
 * message is sent before a subscriber can get it. Blocking receives with a
 * 100 ms timeout, so the stop flags are seen. Every worker has its own
 * context, made after the fork.
 */
#include "bench_loops.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_ZMQ

#include <zmq.h>

typedef struct zmq_state {
	bool tcp;
	char endpoint[160];
} zmq_state;

static unsigned g_zmq_serial;

static int zmq_state_make(void **state, bool tcp)
{
	zmq_state *s = calloc(1, sizeof *s);
	if (!s)
		return -1;
	s->tcp = tcp;
	if (tcp) {
		unsigned port = free_tcp_port();
		if (!port) {
			say_error("zmq: no free TCP port");
			free(s);
			return -1;
		}
		snprintf(s->endpoint, sizeof s->endpoint, "tcp://127.0.0.1:%u", port);
	} else {
		snprintf(s->endpoint, sizeof s->endpoint, "ipc://%s/zmq-%u", bench_tmpdir(),
			 ++g_zmq_serial);
	}
	*state = s;
	return 0;
}

/* One worker's socket. */
typedef struct zend {
	void *ctx;
	void *sock;
	uint8_t *buf; /* a received message */
	uint32_t cap;
	uint32_t size;
	uint8_t *obuf; /* a batch of outgoing messages */
	uint32_t claimed;
	bool yield;
	const char *label;
} zend;

static void say_zmq(const char *label, const char *what)
{
	say_error("%s: %s: %s", label, what, zmq_strerror(zmq_errno()));
}

/* Make a socket of `type` bound (bind) or connected to the endpoint. */
static int zend_open(zend *z, const zmq_state *s, int type, bool bind, uint32_t size,
		     size_t ocap, const char *label)
{
	memset(z, 0, sizeof *z);
	z->label = label;
	z->size = size;
	z->cap = size + 1; /* one more: a longer message shows as truncated */
	z->buf = malloc(z->cap);
	z->obuf = ocap ? malloc(ocap) : NULL;
	if (!z->buf || (ocap && !z->obuf))
		return -1;
	z->ctx = zmq_ctx_new();
	if (!z->ctx) {
		say_zmq(label, "zmq_ctx_new");
		return -1;
	}
	z->sock = zmq_socket(z->ctx, type);
	if (!z->sock) {
		say_zmq(label, "zmq_socket");
		return -1;
	}
	int zero = 0, tmo = (int)(WAIT_SLICE_NS / NS_PER_MS);
	zmq_setsockopt(z->sock, ZMQ_LINGER, &zero, sizeof zero);
	zmq_setsockopt(z->sock, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
	zmq_setsockopt(z->sock, ZMQ_SNDTIMEO, &tmo, sizeof tmo);
	if (type == ZMQ_SUB && zmq_setsockopt(z->sock, ZMQ_SUBSCRIBE, "", 0) != 0) {
		say_zmq(label, "ZMQ_SUBSCRIBE");
		return -1;
	}
	if (type == ZMQ_XPUB) {
		/* NODROP: hold back instead of dropping; VERBOSE: pass up every
		 * subscription, not only the first of identical ones, so the
		 * publisher can count its subscribers. */
		int one = 1;
		if (zmq_setsockopt(z->sock, ZMQ_XPUB_NODROP, &one, sizeof one) != 0 ||
		    zmq_setsockopt(z->sock, ZMQ_XPUB_VERBOSE, &one, sizeof one) != 0) {
			say_zmq(label, "ZMQ_XPUB_NODROP / ZMQ_XPUB_VERBOSE");
			return -1;
		}
	}
	if ((bind ? zmq_bind(z->sock, s->endpoint) : zmq_connect(z->sock, s->endpoint)) != 0) {
		say_zmq(label, bind ? "zmq_bind" : "zmq_connect");
		return -1;
	}
	return 0;
}

static void zend_close(zend *z)
{
	if (z->sock)
		zmq_close(z->sock);
	if (z->ctx)
		zmq_ctx_term(z->ctx);
	free(z->buf);
	free(z->obuf);
}

/* After a send or receive (what) did nothing: 0 when it is only not now
 * (full, empty, timed out, interrupted), else -1 after saying why. */
static int zend_not_now(const zend *z, const char *what)
{
	int e = zmq_errno();
	if (e == EAGAIN || e == EINTR)
		return 0;
	say_zmq(z->label, what);
	return -1;
}

/* Send one message: 1 sent, 0 not now (full, timed out), -1 error. */
static int zend_send(zend *z, const void *src, uint32_t len)
{
	if (zmq_send(z->sock, src, len, 0) == (int)len)
		return 1;
	return zend_not_now(z, "zmq_send");
}

/* Receive one message (blocking up to the timeout unless flags has
 * ZMQ_DONTWAIT): 1, 0 none, -1 error. */
static int zend_recv(zend *z, int flags)
{
	int n = zmq_recv(z->sock, z->buf, z->cap, flags);
	if (n >= 0) {
		if ((uint32_t)n != z->size) {
			say_error("%s: a message of %d bytes, expected %u", z->label, n, z->size);
			return -1;
		}
		return 1;
	}
	return zend_not_now(z, "zmq_recv");
}

/* ---- latency ---- */

static int zl_send(void *vc, const void *src, uint32_t len)
{
	return zend_send(vc, src, len);
}

static int zl_peek(void *vc, const void **data, uint32_t *len)
{
	zend *z = vc;
	int r = zend_recv(z, 0);
	if (r > 0) {
		*data = z->buf;
		*len = z->size;
	}
	return r;
}

static void zl_done(void *vc)
{
	(void)vc;
}

static const lat_ops zmq_lat_ops = {zl_send, zl_peek, zl_done, NULL};

static int zmq_lat_side(lat_job *j, bool pinging, hm_hist *h)
{
	zend z;
	int rc = -1;
	/* The echo side binds. */
	if (zend_open(&z, j->state, ZMQ_PAIR, !pinging, j->size, 0, j->label) == 0)
		rc = lat_side_run(&zmq_lat_ops, &z, j, pinging, true, h);
	zend_close(&z);
	return rc;
}

/* ---- throughput ---- */

static int zt_claim(void *vc, uint32_t n, uint32_t len, void **ptrs)
{
	zend *z = vc;
	return claim_in_buffer(z->obuf, &z->claimed, n, len, ptrs);
}

static int zt_commit(void *vc)
{
	zend *z = vc;
	idler id;
	idler_reset(&id, CHECK_EVERY);
	for (uint32_t i = 0; i < z->claimed;) {
		int r = zend_send(z, z->obuf + (size_t)i * z->size, z->size);
		if (r < 0)
			return -1;
		if (r > 0) {
			i++;
			continue;
		}
		/* Full (XPUB_NODROP answers at once) or timed out. */
		if (worker_stopping() || ctl_get(&g_ctl->stop))
			return worker_stopping() ? -1 : 0;
		idler_step(&id, z->yield, 0);
	}
	return 0;
}

static int zt_drain(void *vc, unsigned max, tp_check *chk, unsigned *got)
{
	zend *z = vc;
	unsigned n = 0;
	while (n < max) {
		int r = zend_recv(z, n ? ZMQ_DONTWAIT : 0);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		tp_check_msg(chk, z->buf, z->size);
		n++;
	}
	*got = n;
	return 0;
}

static const tp_ops zmq_tp_ops = {zt_claim, zt_commit, zt_drain, true};

static int zmq_tp_produce(tp_job *j, unsigned index)
{
	zend z;
	int rc = -1;
	bool pub = j->topo == TOPO_1_4;
	/* PUSH connects to the one PULL; the one publisher binds. */
	if (zend_open(&z, j->state, pub ? ZMQ_XPUB : ZMQ_PUSH, pub, j->size,
		      (size_t)j->batch * j->size, j->label) != 0)
		goto out;
	z.yield = j->yield;
	if (pub) {
		/* Each subscriber's subscription arrives as a message. */
		unsigned seen = 0;
		uint64_t deadline = now_ns() + 2 * PEER_TIMEOUT_NS;
		uint8_t sub[64];
		while (seen < j->consumers) {
			if (zmq_recv(z.sock, sub, sizeof sub, 0) >= 1 && sub[0] == 1)
				seen++;
			if (worker_stopping() || now_ns() >= deadline) {
				say_error("%s: %u of %u subscriptions arrived", j->label, seen,
					  j->consumers);
				goto out;
			}
		}
	}
	if (worker_ready() == 0)
		rc = tp_produce(&zmq_tp_ops, &z, j, index);
out:
	zend_close(&z);
	return rc;
}

static int zmq_tp_consume(tp_job *j, unsigned index)
{
	zend z;
	int rc = -1;
	bool sub = j->topo == TOPO_1_4;
	if (zend_open(&z, j->state, sub ? ZMQ_SUB : ZMQ_PULL, !sub, j->size, 0, j->label) == 0 &&
	    worker_ready() == 0)
		rc = tp_consume(&zmq_tp_ops, &z, j, index, true);
	zend_close(&z);
	return rc;
}

static int zmq_ipc_state_new(void **state)
{
	return zmq_state_make(state, false);
}

static int zmq_tcp_state_new(void **state)
{
	return zmq_state_make(state, true);
}

#define ZMQ_HOOKS(kind, topologies)                                                              \
	.waits = 1u << W_BLOCK, .topos = (topologies), .lossy = true,                             \
	.state_new = zmq_##kind##_state_new, .lat_side = zmq_lat_side,                            \
	.tp_produce = zmq_tp_produce, .tp_consume = zmq_tp_consume

#else /* !HAVE_ZMQ */

#define ZMQ_HOOKS(kind, topologies)                                                              \
	.missing = "skipped: built without libzmq (install libzmq3-dev and rebuild)"

#endif

const transport transport_zmq_ipc = {
	.name = "zmq-ipc",
	.about = "ZeroMQ ipc://: PAIR ping-pong; PUSH->PULL (1->1, 4->1); XPUB(NODROP)->SUB (1->4)",
	ZMQ_HOOKS(ipc, (1u << TOPO_1_1) | (1u << TOPO_4_1) | (1u << TOPO_1_4)),
};

const transport transport_zmq_tcp = {
	.name = "zmq-tcp",
	.about = "ZeroMQ tcp://127.0.0.1: PAIR ping-pong; PUSH->PULL (1->1 only)",
	ZMQ_HOOKS(tcp, 1u << TOPO_1_1),
};
