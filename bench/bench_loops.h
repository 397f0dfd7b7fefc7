/* The measurement loops, written once for every transport.
 *
 * A transport describes its operations in a small constant table (lat_ops,
 * tp_ops) and instantiates these always-inline loops over it, so the compiler
 * inlines the operations into each copy: the bare ring, Hermes and the
 * socket peers all run the very same loop code, and only the operations
 * differ.
 */
#ifndef HM_BENCH_LOOPS_H
#define HM_BENCH_LOOPS_H

#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* ---- waiting ---- */

/* An idle loop (nothing to read, no room to write): pause between polls;
 * after a while, or at once when there are more workers than CPUs, give the
 * CPU away with sched_yield so a peer that shares our CPU can run. */
typedef struct idler {
	unsigned spins;
	unsigned check_every; /* steps between looks at the clock */
	bool yielding;
	uint64_t since; /* when the idle period began (first clock look) */
} idler;

/* check_every: CHECK_EVERY for polling transports; 1 when every step may
 * have blocked in the kernel for up to WAIT_SLICE_NS already. */
ALWAYS_INLINE void idler_reset(idler *w, unsigned check_every)
{
	w->spins = 0;
	w->check_every = check_every;
	w->yielding = false;
	w->since = 0;
}

/* One idle step. Looks at the clock every check_every steps only. Returns
 * how long the idle period has lasted so far when it looked, else 0. */
ALWAYS_INLINE uint64_t idler_step(idler *w, bool yield_soon, uint64_t spin_yield_ns)
{
	if (w->check_every == 1) {
		/* The operation itself blocked: no pause, no yield. */
	} else if (w->yielding) {
		sched_yield();
	} else {
		/* A pause between polls: a tight load loop on a line the other
		 * core is about to write slows the hand-off itself. */
		hm_cpu_relax();
		if (yield_soon && w->spins >= 64)
			w->yielding = true;
	}
	if (++w->spins % w->check_every)
		return 0;
	uint64_t now = now_ns();
	if (!w->since)
		w->since = now;
	uint64_t idle = now - w->since;
	if (spin_yield_ns && idle >= spin_yield_ns)
		w->yielding = true;
	return idle ? idle : 1;
}

static inline uint64_t spin_yield_ns_of(const bench_opts *o)
{
	return o->spin_yield_us < 0 ? 0 : (uint64_t)o->spin_yield_us * 1000u;
}

/* ---- latency ---- */

/* One side of a ping-pong, as the loops see it. */
typedef struct lat_ops {
	/* Publish len bytes from src: 1 sent, 0 no room yet, -1 error. */
	int (*send)(void *ctx, const void *src, uint32_t len);
	/* The next message: 1 (data and len set, valid until done), 0 none
	 * yet, -1 error. A transport with a blocking receive may block here
	 * up to WAIT_SLICE_NS. */
	int (*peek)(void *ctx, const void **data, uint32_t *len);
	/* Release the message peek returned. */
	void (*done)(void *ctx);
	/* Sleep until a message may be there or `until` passes: 0, or -1 on
	 * an error. NULL when peek itself blocks. */
	int (*sleep)(void *ctx, uint64_t until);
} lat_ops;

typedef struct lat_params {
	const char *label; /* "latency hermes spin", for messages */
	const char *peer;  /* "echo" or "ping" */
	bool block;	   /* sleep (or block in peek) instead of spinning */
	uint32_t size;
	uint64_t warmup;
	uint64_t count;
	/* The pinging side ends the run early once this much time has passed,
	 * so a machine where every wake-up costs a scheduler round trip still
	 * finishes in bounded time. */
	uint64_t budget_ns;
	uint64_t spin_yield_ns;
} lat_params;

static inline lat_params lat_params_of(const lat_job *j, bool pinging, bool block)
{
	lat_params p = {j->label,  pinging ? "echo" : "ping", block, j->size, j->warmup, j->count,
			j->budget_ns, spin_yield_ns_of(j->o)};
	return p;
}

/* Wait for the next message. Returns 0 with a message, 1 when the pinging
 * side ended the run, -1 on an error. */
ALWAYS_INLINE int lat_wait(const lat_ops *ops, void *ctx, const lat_params *p, const void **data,
			   uint32_t *len)
{
	idler id;
	idler_reset(&id, CHECK_EVERY);
	uint64_t deadline = 0;
	for (;;) {
		int r = ops->peek(ctx, data, len);
		if (r != 0)
			return r > 0 ? 0 : -1;
		if (!p->block && !idler_step(&id, false, p->spin_yield_ns))
			continue;
		uint64_t now = now_ns();
		if (!deadline)
			deadline = now + PEER_TIMEOUT_NS;
		if (ctl_get(&g_ctl->stop))
			return 1;
		if (worker_stopping() || now >= deadline) {
			/* The peer may have sent its last message just before it
			 * left: one more look. */
			r = ops->peek(ctx, data, len);
			if (r != 0)
				return r > 0 ? 0 : -1;
			if (!worker_stopping())
				say_error("%s: nothing from the %s process for %llu s", p->label,
					  p->peer, (unsigned long long)(PEER_TIMEOUT_NS / NS_PER_S));
			return -1;
		}
		if (p->block && ops->sleep) {
			uint64_t until = now + WAIT_SLICE_NS < deadline ? now + WAIT_SLICE_NS : deadline;
			if (ops->sleep(ctx, until) < 0)
				return -1;
		}
	}
}

/* Publish, retrying while there is no room (only possible if the peer lags a
 * whole ring behind, which a ping-pong never does), with a deadline. */
ALWAYS_INLINE int lat_send(const lat_ops *ops, void *ctx, const lat_params *p, const void *src,
			   uint32_t len)
{
	idler id;
	idler_reset(&id, p->block ? 1u : CHECK_EVERY);
	for (;;) {
		int r = ops->send(ctx, src, len);
		if (r != 0)
			return r > 0 ? 0 : -1;
		uint64_t idle = idler_step(&id, false, p->spin_yield_ns);
		if (!idle)
			continue;
		if (worker_stopping() || idle >= PEER_TIMEOUT_NS) {
			if (!worker_stopping())
				say_error("%s: no room to send for 5 s; the %s process stopped "
					  "reading",
					  p->label, p->peer);
			return -1;
		}
	}
}

/* The pinging side: stamp, send, wait for the echo, stamp; record the round
 * trip after the warm-up. The echo must carry our stamp back, which also
 * proves it is the reply to this ping and not an older one. */
ALWAYS_INLINE int lat_ping(const lat_ops *ops, void *ctx, const lat_params *p, uint8_t *buf,
			   hm_hist *hist)
{
	uint64_t total = p->warmup + p->count;
	uint64_t start = now_ns();
	for (uint64_t i = 0; i < total; i++) {
		uint64_t t0 = now_ns();
		if (i % 256 == 0) {
			/* A ping-pong in full swing never idles, so look at
			 * the flags here too. */
			if (worker_stopping())
				return -1;
			if (p->budget_ns && t0 - start >= p->budget_ns)
				break;
		}
		memcpy(buf, &t0, sizeof t0);
		if (lat_send(ops, ctx, p, buf, p->size) < 0)
			return -1;
		const void *data;
		uint32_t len;
		if (lat_wait(ops, ctx, p, &data, &len) != 0)
			return -1;
		uint64_t echoed;
		memcpy(&echoed, data, sizeof echoed);
		ops->done(ctx);
		uint64_t t1 = now_ns();
		if (echoed != t0 || len != p->size) {
			say_error("%s: round trip %" PRIu64 " came back wrong (%u bytes, stamp %" PRIu64
				  ", expected %u bytes, stamp %" PRIu64 ")",
				  p->label, i, len, echoed, p->size, t0);
			return -1;
		}
		if (i >= p->warmup)
			hm_hist_record(hist, t1 - t0);
	}
	/* Relaxed: nothing is in flight now; the echo side only needs to
	 * learn, eventually, that no ping comes. */
	ctl_put(&g_ctl->stop, 1);
	return 0;
}

/* The echoing side: send every message straight back, copied from the
 * incoming channel into the outgoing one, then release it. */
ALWAYS_INLINE int lat_echo(const lat_ops *ops, void *ctx, const lat_params *p)
{
	for (;;) {
		const void *data;
		uint32_t len;
		int r = lat_wait(ops, ctx, p, &data, &len);
		if (r != 0)
			return r > 0 ? 0 : -1;
		if (lat_send(ops, ctx, p, data, len) < 0)
			return -1;
		ops->done(ctx);
	}
}

/* A latency worker whose end (ctx) is set up: say so, then ping, timing
 * the round trips into hist, or echo, until the run ends. block: sleep (or
 * block in peek) instead of spinning. */
ALWAYS_INLINE int lat_side_run(const lat_ops *ops, void *ctx, const lat_job *j, bool pinging,
			       bool block, hm_hist *hist)
{
	if (worker_ready() != 0)
		return -1;
	lat_params p = lat_params_of(j, pinging, block);
	if (!pinging)
		return lat_echo(ops, ctx, &p);
	uint8_t *buf = payload_new(j->size);
	if (!buf)
		return -1;
	int rc = lat_ping(ops, ctx, &p, buf, hist);
	free(buf);
	return rc;
}

/* ---- throughput ---- */

/* Every message starts with a 64-bit word: the producer's index in the top
 * byte, its own sequence number below. */
#define TP_SEQ_BITS 56
#define TP_SEQ_MASK ((UINT64_C(1) << TP_SEQ_BITS) - 1)

typedef struct tp_check {
	uint64_t expected[MAX_PRODUCERS]; /* next sequence from each producer */
	uint64_t lost;
	uint32_t size;
	uint32_t bad;
	bool lossy;
} tp_check;

/* What every consumer does with every message, on every transport: check
 * it is the next one from its producer and has the right size. */
ALWAYS_INLINE void tp_check_msg(tp_check *c, const void *data, uint32_t len)
{
	uint64_t w;
	memcpy(&w, data, sizeof w);
	uint64_t p = w >> TP_SEQ_BITS, seq = w & TP_SEQ_MASK;
	if (p >= MAX_PRODUCERS || len != c->size) {
		c->bad = 1;
		return;
	}
	if (seq != c->expected[p]) {
		if (c->lossy && seq > c->expected[p])
			c->lost += seq - c->expected[p];
		else
			c->bad = 1;
	}
	c->expected[p] = seq + 1;
}

typedef struct tp_ops {
	/* Claim n messages of len bytes (ptrs[i] receive where they go): 1
	 * ok, 0 no room, -1 error. */
	int (*claim)(void *ctx, uint32_t n, uint32_t len, void **ptrs);
	/* Publish the claimed messages: 0, or -1 on an error. */
	int (*commit)(void *ctx);
	/* Take up to max messages, check each, release them: 0 (*got set) or
	 * -1 on an error. */
	int (*drain)(void *ctx, unsigned max, tp_check *chk, unsigned *got);
	/* claim/commit/drain may block in the kernel (up to WAIT_SLICE_NS)
	 * rather than return at once. */
	bool blocks;
} tp_ops;

/* A claim of n messages of len bytes each, laid out one after another in
 * buf, for a transport that copies them out at commit; *claimed keeps n for
 * the commit. Always room: 1. */
ALWAYS_INLINE int claim_in_buffer(uint8_t *buf, uint32_t *claimed, uint32_t n, uint32_t len,
				  void **ptrs)
{
	for (uint32_t i = 0; i < n; i++)
		ptrs[i] = buf + (size_t)i * len;
	*claimed = n;
	return 1;
}

/* Messages a consumer takes per drain: it releases once per drain. */
#define TP_DRAIN_MAX 256u

/* The producer: wait for go; then claim, fill every message (payload, then
 * the sequence word in its first 8 bytes), commit, until told to stop. */
ALWAYS_INLINE int tp_produce(const tp_ops *ops, void *ctx, const tp_job *j, unsigned index)
{
	void *ptrs[MAX_BATCH];
	uint64_t seq = 0, tag = (uint64_t)index << TP_SEQ_BITS;
	uint64_t spin_yield = spin_yield_ns_of(j->o);
	while (!ctl_get(&g_ctl->go)) {
		if (worker_stopping())
			return -1;
		sleep_ns(20000);
	}
	idler id;
	unsigned check_every = ops->blocks ? 1u : CHECK_EVERY;
	idler_reset(&id, check_every);
	while (!ctl_get(&g_ctl->stop) && !worker_stopping()) {
		int r = ops->claim(ctx, j->batch, j->size, ptrs);
		if (r < 0)
			return -1;
		if (r == 0) {
			uint64_t idle = idler_step(&id, j->yield, spin_yield);
			if (!idle)
				continue;
			if (worker_stopping())
				return -1;
			if (idle >= PEER_TIMEOUT_NS) {
				say_error("%s: no room for 5 s; the consumers stopped", j->label);
				return -1;
			}
			continue;
		}
		if (id.spins)
			idler_reset(&id, check_every);
		for (uint32_t i = 0; i < j->batch; i++, seq++) {
			uint64_t w = tag | seq;
			memcpy(ptrs[i], j->payload, j->size);
			memcpy(ptrs[i], &w, sizeof w);
		}
		if (ops->commit(ctx) < 0)
			return -1;
	}
	return worker_stopping() ? -1 : 0;
}

/* The consumer: drain and count, publishing the running count in its
 * counter for the coordinator, which samples the counters at the start and
 * the end of the measured window. Ends once the producers have ended and
 * nothing is left. */
ALWAYS_INLINE int tp_consume(const tp_ops *ops, void *ctx, const tp_job *j, unsigned index,
			     bool lossy)
{
	tp_check chk;
	memset(&chk, 0, sizeof chk);
	chk.size = j->size;
	chk.lossy = lossy;
	bench_counter *cnt = &g_ctl->cons[index];
	uint64_t received = 0, spin_yield = spin_yield_ns_of(j->o);
	idler id;
	unsigned check_every = ops->blocks ? 1u : CHECK_EVERY;
	idler_reset(&id, check_every);
	int rc = 0;
	for (;;) {
		unsigned got = 0;
		if (ops->drain(ctx, TP_DRAIN_MAX, &chk, &got) < 0) {
			rc = -1;
			break;
		}
		if (got) {
			received += got;
			/* Relaxed: a counter sampled by the coordinator; it
			 * only needs a recent value. */
			ctl_put_count(&cnt->received, received);
			if (chk.bad) {
				say_error("%s: a message came out of order or with the wrong size "
					  "after %" PRIu64 " messages",
					  j->label, received);
				rc = -1;
				break;
			}
			if (id.spins)
				idler_reset(&id, check_every);
			if (worker_stopping()) {
				rc = -1;
				break;
			}
			continue;
		}
		if (ctl_get(&g_ctl->done))
			break;
		uint64_t idle = idler_step(&id, j->yield, spin_yield);
		if (!idle)
			continue;
		if (worker_stopping()) {
			rc = -1;
			break;
		}
		if (idle >= PEER_TIMEOUT_NS) {
			/* After stop, the coordinator reaps the producers and
			 * then says done; silence then is no error. */
			if (!ctl_get(&g_ctl->stop)) {
				say_error("%s: no message from the producers for 5 s", j->label);
				rc = -1;
			}
			break;
		}
	}
	ctl_put_count(&cnt->lost, chk.lost);
	ctl_put(&cnt->bad, chk.bad);
	return rc;
}

#endif
