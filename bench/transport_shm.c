/* The shared-memory transports: Hermes rings, and the bare ring they are
 * measured against.
 *
 * The bare ring is the reference: a ring of fixed-size slots with nothing
 * but a head index and one tail index per consumer, in memory mapped before
 * the fork. Whatever Hermes costs beyond it is the price of its features
 * (many producers, broadcast cursors, variable sizes, crash repair, futex
 * wake-ups). For four producers the bare reference is four such rings that
 * the consumer polls in turn (the usual way to build many-to-one from
 * single-producer rings); for four subscribers it is one ring with four
 * tails, the producer taking the minimum.
 */
#include "bench_loops.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <hermes/bus.h>
#include <hermes/error.h>

#include "shm/ring.h"

#define LAT_MIN_CAPACITY (64u * 1024u)
#define TP_MIN_CAPACITY (4u * 1024u * 1024u)

static void say_hermes_error(hermes_err err, const char *what)
{
	const char *detail = hermes_last_error_detail();
	say_error("%s: %s (%s)%s%s", what, hermes_strerror(err), hermes_err_name(err),
		  detail[0] ? ": " : "", detail);
}

/* A hot-path failure: those leave no detail, and a stale one would mislead. */
static void say_hot_error(hermes_err err, const char *what)
{
	say_error("%s: %s (%s)", what, hermes_strerror(err), hermes_err_name(err));
}

static uint64_t pow2_at_least(uint64_t v)
{
	uint64_t p = 1;
	while (p < v)
		p <<= 1;
	return p;
}

static uint64_t pow2_at_most(uint64_t v)
{
	uint64_t p = 1;
	while (p * 2 <= v)
		p <<= 1;
	return p;
}

static uint32_t aligned8(uint32_t len)
{
	return (len + 7u) & ~7u;
}

/* A ring shape both transports share: `capacity` data bytes, and for Hermes
 * as many slots as messages of `size` bytes fit (at least its minimum of
 * 64), so it runs out of bytes no sooner than the bare ring does. */
typedef struct ring_shape {
	uint64_t capacity;
	uint32_t slots;
} ring_shape;

static ring_shape shape_for(uint64_t min_capacity, uint64_t need_bytes, uint32_t size)
{
	ring_shape s;
	s.capacity = pow2_at_least(need_bytes > min_capacity ? need_bytes : min_capacity);
	uint64_t slots = pow2_at_most(s.capacity / aligned8(size));
	s.slots = (uint32_t)(slots < 64 ? 64 : slots);
	return s;
}

static ring_shape tp_shape(uint32_t size, uint32_t batch)
{
	/* Room for 8 messages, and a batch may take at most a quarter of a
	 * Hermes ring. */
	uint64_t need = 8ull * aligned8(size);
	if (4ull * batch * aligned8(size) > need)
		need = 4ull * batch * aligned8(size);
	ring_shape shape = shape_for(TP_MIN_CAPACITY, need, size);
	if (shape.slots < 4u * batch)
		shape.slots = (uint32_t)pow2_at_least(4u * batch);
	return shape;
}

/* ---- buses ---- */

/* The bus currently in existence, so that every way out unlinks it. */
static char g_bus_name[HERMES_NAME_MAX + 1];
static unsigned g_bus_serial;
static pid_t g_bus_owner;

static void bus_forget(void)
{
	if (g_bus_name[0] && getpid() == g_bus_owner) {
		hermes_bus_unlink(g_bus_name);
		g_bus_name[0] = '\0';
	}
}

/* Create a fresh bus named for this process, holding `n` rings. The
 * coordinator keeps it attached while the workers use it. */
static hermes_bus *bus_create(const hermes_ring_config *rings, unsigned n)
{
	static bool registered;
	if (!registered) {
		atexit(bus_forget);
		registered = true;
	}
	uint64_t size = 64 * 1024; /* header, directory and slack */
	for (unsigned i = 0; i < n; i++)
		size += hm_ring_block_size(rings[i].capacity, rings[i].slots) + 4096;
	g_bus_owner = getpid();
	snprintf(g_bus_name, sizeof g_bus_name, "bench-%d-%u", (int)getpid(), ++g_bus_serial);
	hermes_bus *bus = NULL;
	hermes_err err = hermes_bus_create(g_bus_name, size, 0600, &bus);
	if (err == HERMES_EEXIST) {
		/* Left by an earlier run whose pid we now have: it is ours. */
		hermes_bus_unlink(g_bus_name);
		err = hermes_bus_create(g_bus_name, size, 0600, &bus);
	}
	if (err) {
		say_hermes_error(err, "hermes_bus_create");
		g_bus_name[0] = '\0';
		return NULL;
	}
	for (unsigned i = 0; i < n; i++) {
		err = hermes_ring_create(bus, &rings[i]);
		if (err) {
			say_hermes_error(err, "hermes_ring_create");
			hermes_bus_detach(bus);
			bus_forget();
			return NULL;
		}
	}
	return bus;
}

static void bus_destroy(hermes_bus *bus)
{
	hermes_bus_detach(bus);
	bus_forget();
}

/* ---- the bare ring ---- */

/* head and every tail have a 128-byte block to themselves (the
 * adjacent-line prefetcher pulls lines in pairs), and the optional sleeper
 * handshake has another. The slots start on a page, as the data area of a
 * Hermes ring does. */
typedef struct bare_tail {
	hm_atomic_u64 pos; /* next slot this consumer frees; it alone writes */
	uint8_t pad_[HM_FALSE_SHARING - 8];
} bare_tail;

typedef struct bare_ring {
	hm_atomic_u64 head; /* next slot the producer fills; producer writes */
	uint8_t pad0_[HM_FALSE_SHARING - 8];
	bare_tail tails[MAX_CONSUMERS];
	hm_atomic_u32 waiters; /* consumers about to sleep */
	hm_atomic_u32 futex;   /* bumped by the producer before FUTEX_WAKE */
	uint8_t pad2_[HM_FALSE_SHARING - 8];
} bare_ring;

static_assert(sizeof(bare_ring) <= 4096, "bare ring header fits its page");

#define BARE_DATA_OFFSET 4096u

typedef struct bare_mem {
	bare_ring *ring;
	size_t bytes;
	uint64_t nslots;
	uint32_t stride;
	uint32_t size;
	unsigned ntails;
} bare_mem;

/* Map a bare ring before fork (MAP_SHARED | MAP_ANONYMOUS: every process
 * sees the same pages) and touch every page, as formatting a Hermes ring
 * does, so neither transport pays first-touch faults the other does not. */
static int bare_create(bare_mem *m, ring_shape shape, uint32_t size, unsigned ntails)
{
	m->size = size;
	m->stride = aligned8(size);
	m->ntails = ntails;
	/* The same data bytes as the Hermes ring, in whole slots. */
	m->nslots = pow2_at_most(shape.capacity / m->stride);
	m->bytes = BARE_DATA_OFFSET + (size_t)m->nslots * m->stride;
	void *p = mmap(NULL, m->bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		say_error("mmap of %zu bytes for the bare ring: %s", m->bytes, strerror(errno));
		m->ring = NULL;
		return -1;
	}
	memset(p, 0, m->bytes);
	m->ring = p;
	return 0;
}

static void bare_destroy(bare_mem *m)
{
	if (m->ring)
		munmap(m->ring, m->bytes);
	m->ring = NULL;
}

/* One process's end of a bare ring. `pos` is its own index (head for the
 * producer, its tail for a consumer); `cached` its last view of the other
 * side's, so it touches the other side's line only when that view runs out. */
typedef struct bare_end {
	bare_ring *r;
	uint8_t *slots;
	uint64_t mask;
	uint64_t nslots;
	uint32_t stride;
	uint32_t size;
	uint64_t pos;
	uint64_t cached;
	unsigned ntails;
	unsigned tail; /* a consumer's own tail */
} bare_end;

static void bare_end_init(bare_end *e, const bare_mem *m, unsigned tail)
{
	e->r = m->ring;
	e->slots = (uint8_t *)m->ring + BARE_DATA_OFFSET;
	e->nslots = m->nslots;
	e->mask = m->nslots - 1;
	e->stride = m->stride;
	e->size = m->size;
	e->pos = 0;
	e->cached = 0;
	e->ntails = m->ntails;
	e->tail = tail;
}

static inline uint8_t *bare_slot(const bare_end *e, uint64_t i)
{
	return e->slots + (i & e->mask) * e->stride;
}

/* Producer: room for n more slots? */
ALWAYS_INLINE bool bare_has_room(bare_end *e, uint32_t n)
{
	if (e->pos + n - e->cached <= e->nslots)
		return true;
	/* Acquire: pairs with each consumer's release of its tail, so its
	 * reads of the slots we are about to reuse are finished. */
	uint64_t min = hm_load_acquire_u64(&e->r->tails[0].pos);
	for (unsigned i = 1; i < e->ntails; i++) {
		uint64_t t = hm_load_acquire_u64(&e->r->tails[i].pos);
		if (t < min)
			min = t;
	}
	e->cached = min;
	return e->pos + n - e->cached <= e->nslots;
}

/* Producer: make slots up to e->pos visible. */
ALWAYS_INLINE void bare_publish(bare_end *e, bool wake)
{
	/* Release: pairs with the consumer's acquire of head; the slot
	 * contents are visible before the index that covers them. */
	hm_store_release_u64(&e->r->head, e->pos);
	if (!wake)
		return;
	/* Dekker against bare_sleep: we stored head, then read waiters; the
	 * sleeper bumped waiters, then reads head. A seq_cst fence between the
	 * two on each side means one of us sees the other's store. Only the
	 * blocking variants pay this: a spinning consumer never sleeps. */
	hm_fence_seq_cst();
	if (hm_load_relaxed_u32(&e->r->waiters)) {
		/* seq_cst RMW: a sleeper that loads the new value sees our head. */
		hm_fetch_add_seq_cst_u32(&e->r->futex, 1);
		syscall(SYS_futex, &e->r->futex, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	}
}

/* Consumer: how many filled slots are there to read? */
ALWAYS_INLINE uint64_t bare_available(bare_end *e)
{
	if (e->cached == e->pos)
		/* Acquire: pairs with bare_publish's release of head. */
		e->cached = hm_load_acquire_u64(&e->r->head);
	return e->cached - e->pos;
}

/* Consumer: give the slots read so far back to the producer. */
ALWAYS_INLINE void bare_release(bare_end *e)
{
	/* Release: our reads of the slots happen before the producer, which
	 * acquires our tail, writes over them. */
	hm_store_release_u64(&e->r->tails[e->tail].pos, e->pos);
}

/* Consumer: wait for a filled slot until `until` (CLOCK_MONOTONIC ns): a
 * spin of spin_checks looks (none for the pure futex wait), then a futex
 * sleep announced in `waiters`. */
static void bare_sleep(bare_end *e, uint64_t until, unsigned spin_checks)
{
	for (unsigned i = 0; i < spin_checks; i++) {
		if (bare_available(e))
			return;
		hm_cpu_relax();
	}
	/* seq_cst RMW: the announcement, ordered before the fence below. */
	hm_fetch_add_seq_cst_u32(&e->r->waiters, 1);
	for (;;) {
		/* Read the futex word before looking at head: a wake that comes
		 * after our look changes the word, and FUTEX_WAIT then returns
		 * at once instead of sleeping through it. */
		uint32_t v = hm_load_acquire_u32(&e->r->futex);
		/* Pairs with the fence in bare_publish. */
		hm_fence_seq_cst();
		if (bare_available(e))
			break;
		uint64_t now = now_ns();
		if (now >= until || worker_stopping())
			break;
		struct timespec rel = {(time_t)((until - now) / NS_PER_S),
				       (long)((until - now) % NS_PER_S)};
		syscall(SYS_futex, &e->r->futex, FUTEX_WAIT, v, &rel, NULL, 0);
	}
	hm_fetch_sub_seq_cst_u32(&e->r->waiters, 1);
}

/* ---- latency: Hermes ---- */

/* The hermes-waitset row: each side waits in a wait set holding its own ring
 * and seven quiet ones, what a service serving several rings from one
 * thread pays over hermes_sub_wait. */
#define WS_RINGS 8u

typedef struct hx_lat {
	hermes_pub *pub;
	hermes_sub *sub;
	hermes_msg msg;
	hermes_waitset *ws; /* hermes-waitset only: sub and the quiet rings */
	hermes_sub *quiet[WS_RINGS - 1];
} hx_lat;

static int hx_lat_send(void *vc, const void *src, uint32_t len)
{
	hx_lat *c = vc;
	hermes_claim claim;
	hermes_err err = hermes_pub_claim(c->pub, len, &claim);
	if (err == HERMES_EAGAIN)
		return 0;
	if (err) {
		say_hot_error(err, "hermes_pub_claim");
		return -1;
	}
	memcpy(claim.data, src, len);
	err = hermes_pub_commit(c->pub, &claim);
	if (err) {
		say_hot_error(err, "hermes_pub_commit");
		return -1;
	}
	return 1;
}

static int hx_lat_peek(void *vc, const void **data, uint32_t *len)
{
	hx_lat *c = vc;
	hermes_err err = hermes_sub_poll(c->sub, &c->msg);
	if (err == HERMES_OK) {
		*data = c->msg.data;
		*len = c->msg.len;
		return 1;
	}
	if (err == HERMES_EAGAIN)
		return 0;
	say_hot_error(err, "hermes_sub_poll");
	return -1;
}

static void hx_lat_done(void *vc)
{
	hx_lat *c = vc;
	hermes_sub_release(c->sub);
}

static int hx_lat_sleep(void *vc, uint64_t until)
{
	hx_lat *c = vc;
	uint64_t now = now_ns();
	int64_t timeout = until > now ? (int64_t)(until - now) : 0;
	hermes_err err;
	if (c->ws) {
		hermes_ready ready[WS_RINGS];
		unsigned n;
		err = hermes_waitset_wait(c->ws, ready, WS_RINGS, &n, timeout);
	} else {
		err = hermes_sub_wait(c->sub, HERMES_WAIT_BLOCK, timeout);
	}
	/* EAGAIN: a signal interrupted the sleep; the loop looks at the flags. */
	if (err == HERMES_OK || err == HERMES_ETIMEDOUT || err == HERMES_EAGAIN)
		return 0;
	say_hot_error(err, c->ws ? "hermes_waitset_wait" : "hermes_sub_wait");
	return -1;
}

/* Constant: the loops inline the calls. */
static const lat_ops hx_lat_ops = {hx_lat_send, hx_lat_peek, hx_lat_done, hx_lat_sleep};

/* A measurement's bus: made by the coordinator before the fork, its
 * attachment kept while the workers run; the workers attach by name. */
typedef struct hx_state {
	hermes_bus *bus;
	char name[HERMES_NAME_MAX + 1];
} hx_state;

/* Create a fresh bus with these rings. Returns 0 (then j_state holds it)
 * or -1. */
static int hx_state_setup(void **j_state, const hermes_ring_config *rings, unsigned n)
{
	hx_state *s = calloc(1, sizeof *s);
	if (!s)
		return -1;
	s->bus = bus_create(rings, n);
	if (!s->bus) {
		free(s);
		return -1;
	}
	snprintf(s->name, sizeof s->name, "%s", g_bus_name);
	*j_state = s;
	return 0;
}

static void hx_state_teardown(void **j_state)
{
	hx_state *s = *j_state;
	if (s) {
		bus_destroy(s->bus);
		free(s);
	}
	*j_state = NULL;
}

/* ping and pong, and `quiet` idle rings for the wait-set row. */
static int hx_lat_setup_rings(lat_job *j, unsigned quiet)
{
	ring_shape shape = shape_for(LAT_MIN_CAPACITY, 8ull * aligned8(j->size), j->size);
	char names[WS_RINGS - 1][16];
	hermes_ring_config rings[WS_RINGS + 1] = {
		{"ping", shape.capacity, j->size, HERMES_POLICY_BLOCK, shape.slots},
		{"pong", shape.capacity, j->size, HERMES_POLICY_BLOCK, shape.slots},
	};
	for (unsigned i = 0; i < quiet; i++) {
		snprintf(names[i], sizeof names[i], "quiet%u", i);
		rings[2 + i] = (hermes_ring_config){names[i], LAT_MIN_CAPACITY, 64,
						    HERMES_POLICY_BLOCK, LAT_MIN_CAPACITY / 64};
	}
	return hx_state_setup(&j->state, rings, 2 + quiet);
}

static int hx_lat_setup(lat_job *j)
{
	return hx_lat_setup_rings(j, 0);
}

static int hx_ws_lat_setup(lat_job *j)
{
	return hx_lat_setup_rings(j, WS_RINGS - 1);
}

static void hx_lat_teardown(lat_job *j)
{
	hx_state_teardown(&j->state);
}

/* The wait set of the hermes-waitset row: our ring and the quiet ones. */
static hermes_err hx_lat_open_waitset(hermes_bus *bus, hx_lat *c)
{
	hermes_err err = hermes_waitset_create(&c->ws);
	if (!err)
		err = hermes_waitset_add_sub(c->ws, c->sub, NULL);
	for (unsigned i = 0; !err && i < WS_RINGS - 1; i++) {
		char name[16];
		snprintf(name, sizeof name, "quiet%u", i);
		err = hermes_sub_open(bus, name, HERMES_START_LATEST, 0, &c->quiet[i]);
		if (!err)
			err = hermes_waitset_add_sub(c->ws, c->quiet[i], NULL);
	}
	return err;
}

/* Attach, subscribe to `in`, publish on `out`; with ws, the wait set. */
static int hx_lat_open(const lat_job *j, const char *in, const char *out, bool ws,
		       hermes_bus **bus, hx_lat *c)
{
	const hx_state *s = j->state;
	hermes_err err = hermes_bus_attach(s->name, bus);
	if (err) {
		say_hermes_error(err, "hermes_bus_attach");
		return -1;
	}
	if ((err = hermes_sub_open(*bus, in, HERMES_START_LATEST, 0, &c->sub)) != HERMES_OK) {
		say_hermes_error(err, "hermes_sub_open");
		return -1;
	}
	if ((err = hermes_pub_open(*bus, out, &c->pub)) != HERMES_OK) {
		say_hermes_error(err, "hermes_pub_open");
		return -1;
	}
	if (ws && (err = hx_lat_open_waitset(*bus, c)) != HERMES_OK) {
		say_hermes_error(err, "wait set");
		return -1;
	}
	return 0;
}

static void hx_lat_close(hermes_bus *bus, hx_lat *c)
{
	for (unsigned i = 0; i < WS_RINGS - 1; i++)
		if (c->quiet[i]) {
			hermes_waitset_remove_sub(c->ws, c->quiet[i]);
			hermes_sub_close(c->quiet[i]);
		}
	if (c->ws && c->sub)
		hermes_waitset_remove_sub(c->ws, c->sub);
	hermes_waitset_destroy(c->ws);
	hermes_pub_close(c->pub);
	hermes_sub_close(c->sub);
	hermes_bus_detach(bus);
}

/* One side; ws: asleep in the wait set (the hermes-waitset row). */
static int hx_lat_side_with(lat_job *j, bool pinging, hm_hist *h, bool ws)
{
	hermes_bus *bus = NULL;
	hx_lat c = {0};
	int rc = -1;
	if (hx_lat_open(j, pinging ? "pong" : "ping", pinging ? "ping" : "pong", ws, &bus, &c) == 0)
		rc = lat_side_run(&hx_lat_ops, &c, j, pinging, j->wait != W_SPIN, h);
	hx_lat_close(bus, &c);
	return rc;
}

static int hx_lat_side(lat_job *j, bool pinging, hm_hist *h)
{
	return hx_lat_side_with(j, pinging, h, false);
}

static int hx_ws_lat_side(lat_job *j, bool pinging, hm_hist *h)
{
	return hx_lat_side_with(j, pinging, h, true);
}

/* ---- latency: bare ring ---- */

typedef struct bare_lat {
	bare_end out; /* we produce */
	bare_end in;  /* we consume */
} bare_lat;

ALWAYS_INLINE int bare_lat_send_common(bare_lat *c, const void *src, uint32_t len, bool wake)
{
	if (!bare_has_room(&c->out, 1))
		return 0;
	memcpy(bare_slot(&c->out, c->out.pos), src, len);
	c->out.pos++;
	bare_publish(&c->out, wake);
	return 1;
}

static int bare_lat_send_spin(void *vc, const void *src, uint32_t len)
{
	return bare_lat_send_common(vc, src, len, false);
}

static int bare_lat_send_wake(void *vc, const void *src, uint32_t len)
{
	return bare_lat_send_common(vc, src, len, true);
}

static int bare_lat_peek(void *vc, const void **data, uint32_t *len)
{
	bare_lat *c = vc;
	if (!bare_available(&c->in))
		return 0;
	*data = bare_slot(&c->in, c->in.pos);
	*len = c->in.size;
	return 1;
}

static void bare_lat_done(void *vc)
{
	bare_lat *c = vc;
	c->in.pos++;
	bare_release(&c->in);
}

static int bare_lat_sleep_block(void *vc, uint64_t until)
{
	bare_lat *c = vc;
	bare_sleep(&c->in, until, BLOCK_SPIN_CHECKS);
	return 0;
}

static int bare_lat_sleep_futex(void *vc, uint64_t until)
{
	bare_lat *c = vc;
	bare_sleep(&c->in, until, 0);
	return 0;
}

static const lat_ops bare_lat_spin_ops = {bare_lat_send_spin, bare_lat_peek, bare_lat_done,
					  NULL};
static const lat_ops bare_lat_block_ops = {bare_lat_send_wake, bare_lat_peek, bare_lat_done,
					   bare_lat_sleep_block};
static const lat_ops bare_lat_futex_ops = {bare_lat_send_wake, bare_lat_peek, bare_lat_done,
					   bare_lat_sleep_futex};

typedef struct bare_lat_state {
	bare_mem to_echo;
	bare_mem to_ping;
} bare_lat_state;

static int bare_lat_setup(lat_job *j)
{
	bare_lat_state *s = calloc(1, sizeof *s);
	if (!s)
		return -1;
	ring_shape shape = shape_for(LAT_MIN_CAPACITY, 8ull * aligned8(j->size), j->size);
	j->state = s;
	if (bare_create(&s->to_echo, shape, j->size, 1) != 0 ||
	    bare_create(&s->to_ping, shape, j->size, 1) != 0)
		return -1;
	return 0;
}

static void bare_lat_teardown(lat_job *j)
{
	bare_lat_state *s = j->state;
	if (s) {
		bare_destroy(&s->to_echo);
		bare_destroy(&s->to_ping);
		free(s);
	}
	j->state = NULL;
}

static int bare_lat_side(lat_job *j, bool pinging, hm_hist *h)
{
	bare_lat_state *s = j->state;
	bare_lat c;
	bare_end_init(&c.out, pinging ? &s->to_echo : &s->to_ping, 0);
	bare_end_init(&c.in, pinging ? &s->to_ping : &s->to_echo, 0);
	/* One instance of the loops per table (constant: the calls inline). */
	switch (j->wait) {
	case W_SPIN:
		return lat_side_run(&bare_lat_spin_ops, &c, j, pinging, false, h);
	case W_BLOCK:
		return lat_side_run(&bare_lat_block_ops, &c, j, pinging, true, h);
	default:
		return lat_side_run(&bare_lat_futex_ops, &c, j, pinging, true, h);
	}
}

/* ---- throughput: Hermes ---- */

typedef struct hx_tp {
	hermes_pub *pub;
	hermes_sub *sub;
	hermes_claim claim;
	uint32_t lens[MAX_BATCH];
} hx_tp;

static int hx_tp_claim(void *vc, uint32_t n, uint32_t len, void **ptrs)
{
	hx_tp *c = vc;
	hermes_err err;
	if (n == 1) {
		err = hermes_pub_claim(c->pub, len, &c->claim);
		ptrs[0] = c->claim.data;
	} else {
		err = hermes_pub_claim_batch(c->pub, c->lens, n, ptrs, &c->claim);
	}
	if (err == HERMES_OK)
		return 1;
	if (err == HERMES_EAGAIN)
		return 0;
	say_hot_error(err, n == 1 ? "hermes_pub_claim" : "hermes_pub_claim_batch");
	return -1;
}

static int hx_tp_commit(void *vc)
{
	hx_tp *c = vc;
	hermes_err err = hermes_pub_commit(c->pub, &c->claim);
	if (err) {
		say_hot_error(err, "hermes_pub_commit");
		return -1;
	}
	return 0;
}

static void hx_tp_on_msg(void *ctx, const hermes_msg *m)
{
	tp_check_msg(ctx, m->data, m->len);
}

static int hx_tp_drain(void *vc, unsigned max, tp_check *chk, unsigned *got)
{
	hx_tp *c = vc;
	hermes_err err = hermes_sub_poll_batch(c->sub, hx_tp_on_msg, chk, max, got);
	if (err) {
		say_hot_error(err, "hermes_sub_poll_batch");
		return -1;
	}
	return 0;
}

static const tp_ops hx_tp_ops = {hx_tp_claim, hx_tp_commit, hx_tp_drain};

static int hx_tp_setup(tp_job *j)
{
	ring_shape shape = tp_shape(j->size, j->batch);
	hermes_ring_config ring = {"tp", shape.capacity, j->size, HERMES_POLICY_BLOCK, shape.slots};
	return hx_state_setup(&j->state, &ring, 1);
}

static void hx_tp_teardown(tp_job *j)
{
	hx_state_teardown(&j->state);
}

/* A throughput worker: the producer publishes on "tp", a consumer
 * subscribes to it. */
static int hx_tp_side(tp_job *j, unsigned index, bool producing)
{
	hx_state *s = j->state;
	hermes_bus *bus = NULL;
	/* About 4 KiB of lengths: keep them off the stack. */
	hx_tp *c = calloc(1, sizeof *c);
	int rc = -1;
	if (!c)
		return -1;
	for (uint32_t i = 0; i < MAX_BATCH; i++)
		c->lens[i] = j->size;
	hermes_err err = hermes_bus_attach(s->name, &bus);
	if (err)
		say_hermes_error(err, producing ? "producer: hermes_bus_attach"
						: "consumer: hermes_bus_attach");
	else if (producing && (err = hermes_pub_open(bus, "tp", &c->pub)) != HERMES_OK)
		say_hermes_error(err, "producer: hermes_pub_open(tp)");
	else if (!producing &&
		 (err = hermes_sub_open(bus, "tp", HERMES_START_LATEST, 0, &c->sub)) != HERMES_OK)
		say_hermes_error(err, "consumer: hermes_sub_open(tp)");
	else if (worker_ready() == 0)
		rc = producing ? tp_produce(&hx_tp_ops, c, j, index)
			       : tp_consume(&hx_tp_ops, c, j, index, false);
	hermes_pub_close(c->pub);
	hermes_sub_close(c->sub);
	hermes_bus_detach(bus);
	free(c);
	return rc;
}

static int hx_tp_produce(tp_job *j, unsigned index)
{
	return hx_tp_side(j, index, true);
}

static int hx_tp_consume(tp_job *j, unsigned index)
{
	return hx_tp_side(j, index, false);
}

/* ---- throughput: bare ring ---- */

typedef struct bare_tp {
	bare_end ends[MAX_PRODUCERS]; /* a consumer of 4->1 polls four rings */
	unsigned nends;
	unsigned next; /* 4->1: the ring to look at first */
	uint32_t claimed;
} bare_tp;

static int bare_tp_claim(void *vc, uint32_t n, uint32_t len, void **ptrs)
{
	bare_tp *c = vc;
	bare_end *e = &c->ends[0];
	(void)len; /* fixed-size slots */
	if (!bare_has_room(e, n))
		return 0;
	for (uint32_t i = 0; i < n; i++)
		ptrs[i] = bare_slot(e, e->pos + i);
	c->claimed = n;
	return 1;
}

static int bare_tp_commit(void *vc)
{
	bare_tp *c = vc;
	c->ends[0].pos += c->claimed;
	bare_publish(&c->ends[0], false);
	return 0;
}

ALWAYS_INLINE unsigned bare_drain_one(bare_end *e, unsigned max, tp_check *chk)
{
	uint64_t n = bare_available(e);
	if (n > max)
		n = max;
	for (uint64_t i = 0; i < n; i++)
		tp_check_msg(chk, bare_slot(e, e->pos + i), e->size);
	if (n) {
		e->pos += n;
		bare_release(e);
	}
	return (unsigned)n;
}

static int bare_tp_drain(void *vc, unsigned max, tp_check *chk, unsigned *got)
{
	bare_tp *c = vc;
	*got = bare_drain_one(&c->ends[0], max, chk);
	return 0;
}

/* 4->1: take from each ring in turn, starting one further each time so no
 * producer is favoured. */
static int bare_tp_drain_many(void *vc, unsigned max, tp_check *chk, unsigned *got)
{
	bare_tp *c = vc;
	unsigned total = 0;
	for (unsigned k = 0; k < c->nends && total < max; k++) {
		unsigned i = (c->next + k) % c->nends;
		total += bare_drain_one(&c->ends[i], max - total, chk);
	}
	c->next = (c->next + 1) % c->nends;
	*got = total;
	return 0;
}

static const tp_ops bare_tp_ops = {bare_tp_claim, bare_tp_commit, bare_tp_drain};
static const tp_ops bare_tp_many_ops = {bare_tp_claim, bare_tp_commit, bare_tp_drain_many};

typedef struct bare_tp_state {
	bare_mem rings[MAX_PRODUCERS];
	unsigned nrings;
} bare_tp_state;

static int bare_tp_setup(tp_job *j)
{
	bare_tp_state *s = calloc(1, sizeof *s);
	if (!s)
		return -1;
	j->state = s;
	ring_shape shape = tp_shape(j->size, j->batch);
	s->nrings = j->topo == TOPO_4_1 ? j->producers : 1;
	unsigned ntails = j->topo == TOPO_1_4 ? j->consumers : 1;
	for (unsigned i = 0; i < s->nrings; i++)
		if (bare_create(&s->rings[i], shape, j->size, ntails) != 0)
			return -1;
	return 0;
}

static void bare_tp_teardown(tp_job *j)
{
	bare_tp_state *s = j->state;
	if (s) {
		for (unsigned i = 0; i < s->nrings; i++)
			bare_destroy(&s->rings[i]);
		free(s);
	}
	j->state = NULL;
}

static int bare_tp_produce(tp_job *j, unsigned index)
{
	bare_tp_state *s = j->state;
	bare_tp c;
	memset(&c, 0, sizeof c);
	bare_end_init(&c.ends[0], &s->rings[s->nrings > 1 ? index : 0], 0);
	c.nends = 1;
	if (worker_ready() != 0)
		return -1;
	return tp_produce(&bare_tp_ops, &c, j, index);
}

static int bare_tp_consume(tp_job *j, unsigned index)
{
	bare_tp_state *s = j->state;
	bare_tp c;
	memset(&c, 0, sizeof c);
	c.nends = s->nrings;
	for (unsigned i = 0; i < s->nrings; i++)
		bare_end_init(&c.ends[i], &s->rings[i], s->nrings > 1 ? 0 : index);
	if (worker_ready() != 0)
		return -1;
	if (c.nends > 1)
		return tp_consume(&bare_tp_many_ops, &c, j, index, false);
	return tp_consume(&bare_tp_ops, &c, j, index, false);
}

/* ---- the rows ---- */

#define ALL_TOPOS ((1u << TOPO_1_1) | (1u << TOPO_4_1) | (1u << TOPO_1_4))

const transport transport_hermes = {
	.name = "hermes",
	.about = "Hermes block rings (claim/commit, poll/release; batch: hermes_pub_claim_batch); "
		 "block wait = HERMES_WAIT_BLOCK (spins 2048 checks, then futex)",
	.waits = (1u << W_SPIN) | (1u << W_BLOCK),
	.topos = ALL_TOPOS,
	.batch = true,
	.lat_setup = hx_lat_setup,
	.lat_teardown = hx_lat_teardown,
	.lat_side = hx_lat_side,
	.tp_setup = hx_tp_setup,
	.tp_teardown = hx_tp_teardown,
	.tp_produce = hx_tp_produce,
	.tp_consume = hx_tp_consume,
};

const transport transport_hermes_waitset = {
	.name = "hermes-waitset",
	.about = "Hermes block rings, each side asleep in a wait set of 8 rings (its own and 7 "
		 "quiet ones): hermes_waitset_wait (2048 checks, then futex_waitv)",
	.waits = 1u << W_BLOCK,
	.lat_setup = hx_ws_lat_setup,
	.lat_teardown = hx_lat_teardown,
	.lat_side = hx_ws_lat_side,
};

const transport transport_bare = {
	.name = "bare-ring",
	.about = "SPSC ring of fixed slots, head + tail only (4->1: four rings; 1->4: four tails); "
		 "block = 2048 checks then futex, futex = futex at once",
	.waits = (1u << W_SPIN) | (1u << W_BLOCK) | (1u << W_FUTEX),
	.topos = ALL_TOPOS,
	.batch = true,
	.lat_setup = bare_lat_setup,
	.lat_teardown = bare_lat_teardown,
	.lat_side = bare_lat_side,
	.tp_setup = bare_tp_setup,
	.tp_teardown = bare_tp_teardown,
	.tp_produce = bare_tp_produce,
	.tp_consume = bare_tp_consume,
};
