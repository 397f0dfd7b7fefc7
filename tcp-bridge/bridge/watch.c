/* The ring watcher thread (see watch.h).
 *
 * It speaks the ring's eventcount protocol from the sleeper's side, exactly
 * as hermes_sub_wait does in shm/ring.c, but for many rings at once:
 *
 *   watcher                                   producer (wake_sleepers)
 *   fetch_or(ring.sleepers, bits) seq_cst     store_release(slot.word)  commit
 *   membarrier(GLOBAL_EXPEDITED)              (fence, if not registered)
 *   v = load_acquire(ring.futex)              if load(sleepers):
 *   fence(seq_cst)                                fetch_add(futex) ; FUTEX_WAKE
 *   check slot[seq].word
 *   futex_waitv({ring.futex, v}, ...)
 *   fetch_and(ring.sleepers, ~bits)
 *
 * The barrier (or the producer's own fence) orders each side's write before
 * its read, so either we see the committed word, or the producer sees our
 * bits and bumps the futex, which makes our futex_waitv return at once or
 * wakes it. The bits are those of the subscriber slots of the feeds we
 * watch, so when the bridge dies the supervisor, releasing those slots,
 * takes the announcement back too. The only shared word we write is
 * `sleepers`: a watcher can never disturb producers or subscribers beyond
 * making producers issue the wake they would issue for a sleeping local
 * subscriber. Without membarrier each sleep is bounded (FALLBACK_NS). */
#include "tcp-bridge/bridge/watch.h"

#include <errno.h>
#include <stdatomic.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/atomics.h"
#include "core/error_detail.h"
#include "core/futex.h"

#ifndef FUTEX_32
#define FUTEX_32 2
#endif
#define MAX_RINGS 64 /* a bus never has more (HM_MAX_RINGS) */
#define FALLBACK_NS 5000000

struct entry {
	bool used, armed;
	hm_ring ring; /* the view the feed armed it with */
	uint64_t seq;
	uint64_t bit; /* the feed's subscriber slot bit, for `sleepers` */
	uint64_t round; /* the watcher round that last announced it */
};

struct snap {
	int slot;
	uint64_t seq;
	hm_ring_header *hdr;
	hm_slot *at;
};

struct hm_watch {
	pthread_t thread;
	pthread_mutex_t mu;
	int efd;
	bool stop, started;
	/* futex_waitv works; read by the loop thread for its log line. */
	atomic_bool precise;
	/* Bumped (seq_cst) by every arm, so a watcher that read it before the
	 * change sleeps on a stale value and returns at once. */
	hm_atomic_u32 ctrl;
	/* 1 while the watcher is about to sleep or sleeps; arm wakes it only
	 * then (the Dekker pair with ctrl, see arm). */
	hm_atomic_u32 sleeping;
	/* From snapshot to retraction (a round) the watcher has the bits of
	 * the feeds it snapshotted in `sleepers`; round numbers rounds (from
	 * 1) and round_done is signalled at each end, for hm_watch_slot_free. */
	uint64_t round;
	bool announcing;
	pthread_cond_t round_done;
	unsigned high; /* 1 + highest slot ever used */
	unsigned nfired;
	struct entry e[HM_WATCH_SLOTS];
	int fired[HM_WATCH_SLOTS];
	struct snap snap[HM_WATCH_SLOTS];
};

/* timeout_ns > 0 bounds the wait (relative); 0 waits until woken. */
static long futex_waitv(struct futex_waitv *w, unsigned n, long timeout_ns)
{
#ifdef SYS_futex_waitv
	struct timespec ts, *tsp = NULL;
	if (timeout_ns > 0) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += timeout_ns;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		tsp = &ts;
	}
	return syscall(SYS_futex_waitv, w, n, 0, tsp, CLOCK_MONOTONIC);
#else
	(void)w;
	(void)n;
	(void)timeout_ns;
	errno = ENOSYS;
	return -1;
#endif
}

static void ctrl_wait_timed(hm_watch *w, uint32_t v, long ns)
{
	struct timespec ts = {0, ns};
	syscall(SYS_futex, &w->ctrl, FUTEX_WAIT_PRIVATE, v, &ts, NULL, 0);
}

/* Is there something at seq: a committed or abandoned record, or a later
 * lap's (mirrors sub_ready in shm/ring.c)? hm_slot_look_at reads the word
 * with acquire, pairing with the producer's release store of it. */
static bool ready(const struct snap *s)
{
	if (hm_slot_look_at(s->at, s->seq) != HM_AT_EMPTY)
		return true;
	/* Relaxed: `deleted` is a one-way flag; a late view only delays. */
	return hm_load_relaxed_u32(&s->hdr->deleted) != 0;
}

static void notify_loop(hm_watch *w)
{
	uint64_t one = 1;
	while (write(w->efd, &one, sizeof one) < 0 && errno == EINTR)
		;
}

/* The rings one round watches: each with the sleeper bits of its armed
 * feeds and the futex value read before the last check. */
struct ringset {
	unsigned n;
	hm_ring_header *hdr[MAX_RINGS];
	uint64_t bits[MAX_RINGS];
	uint32_t vals[MAX_RINGS];
};

/* Under w->mu: copy the armed entries into w->snap and gather their rings.
 * Returns the number of snapshots. */
static unsigned snapshot(hm_watch *w, struct ringset *rs)
{
	unsigned n = 0;
	rs->n = 0;
	for (unsigned i = 0; i < w->high; i++) {
		struct entry *e = &w->e[i];
		if (!e->armed)
			continue;
		w->snap[n++] = (struct snap){.slot = (int)i, .seq = e->seq, .hdr = e->ring.hdr,
					     .at = hm_ring_slot(&e->ring, e->seq)};
		e->round = w->round;
		unsigned k = 0;
		while (k < rs->n && rs->hdr[k] != e->ring.hdr)
			k++;
		if (k == rs->n && rs->n < MAX_RINGS) {
			rs->bits[k] = 0;
			rs->hdr[rs->n++] = e->ring.hdr;
		}
		if (k < rs->n)
			rs->bits[k] |= e->bit;
	}
	w->announcing = n > 0;
	return n;
}

/* Move the ready ones of the first n snapshots to the front; their count. */
static unsigned keep_ready(hm_watch *w, unsigned n)
{
	unsigned nready = 0;
	for (unsigned i = 0; i < n; i++)
		if (ready(&w->snap[i]))
			w->snap[nready++] = w->snap[i];
	return nready;
}

/* Nothing ready: sleep until a ring's futex or ctrl moves (or, without
 * futex_waitv or membarrier, for FALLBACK_NS). */
static void sleep_on(hm_watch *w, const struct ringset *rs, uint32_t ctrl_v, bool barrier)
{
	struct futex_waitv fw[MAX_RINGS + 1];
	/* seq_cst store, then seq_cst load of ctrl: the Dekker pair with
	 * arm's fetch_add(ctrl) then load(sleeping). */
	atomic_store_explicit(&w->sleeping, 1, memory_order_seq_cst);
	if (hm_load_seq_cst_u32(&w->ctrl) == ctrl_v) {
		if (atomic_load_explicit(&w->precise, memory_order_relaxed)) {
			fw[0] = (struct futex_waitv){.val = ctrl_v,
						     .uaddr = (uintptr_t)&w->ctrl,
						     .flags = FUTEX_32 | FUTEX_PRIVATE_FLAG};
			for (unsigned k = 0; k < rs->n; k++)
				/* Shared (not private): the segment is mapped by
				 * other processes too. */
				fw[k + 1] = (struct futex_waitv){.val = rs->vals[k],
								 .uaddr = (uintptr_t)&rs->hdr[k]->futex,
								 .flags = FUTEX_32};
			/* Anything but "changed", "interrupted" or "timed out"
			 * (ENOSYS, or EPERM from a seccomp filter) means it
			 * cannot be used: check on a timer instead of spinning
			 * on the error. */
			if (futex_waitv(fw, rs->n + 1, barrier ? 0 : FALLBACK_NS) < 0 &&
			    errno != EAGAIN && errno != EINTR && errno != ETIMEDOUT)
				atomic_store(&w->precise, false);
		} else {
			ctrl_wait_timed(w, ctrl_v, FALLBACK_NS);
		}
	}
	atomic_store_explicit(&w->sleeping, 0, memory_order_seq_cst);
}

/* Under w->mu: the ready snapshots whose entry is still armed at the same
 * sequence fire; the loop thread hears of the first ones by the eventfd. */
static void fire(hm_watch *w, unsigned nready)
{
	unsigned before = w->nfired;
	for (unsigned i = 0; i < nready; i++) {
		struct entry *e = &w->e[w->snap[i].slot];
		/* Re-armed or freed meanwhile: the new arming is checked on
		 * the next round instead. */
		if (!e->armed || e->seq != w->snap[i].seq)
			continue;
		e->armed = false;
		w->fired[w->nfired++] = w->snap[i].slot;
	}
	if (w->nfired > before && before == 0) {
		pthread_mutex_unlock(&w->mu);
		notify_loop(w);
		pthread_mutex_lock(&w->mu);
	}
}

static void *run(void *arg)
{
	hm_watch *w = arg;
	struct ringset rs;

	pthread_mutex_lock(&w->mu);
	while (!w->stop) {
		unsigned n = snapshot(w, &rs);
		/* seq_cst: the value the sleep below compares against; see
		 * hm_watch_arm for the pairing. */
		uint32_t ctrl_v = hm_load_seq_cst_u32(&w->ctrl);
		pthread_mutex_unlock(&w->mu);

		/* The announcement, then the barrier on producers' threads
		 * (see the top of this file). */
		for (unsigned k = 0; k < rs.n; k++)
			hm_ring_sleepers_add(rs.hdr[k], rs.bits[k]);
		bool barrier = rs.n == 0 || hm_membarrier_global();
		/* Read the futex words before checking the slots: a bump after
		 * our check makes the wait return at once. */
		for (unsigned k = 0; k < rs.n; k++)
			rs.vals[k] = hm_load_acquire_u32(&rs.hdr[k]->futex);
		/* Pairs with the fence of producers that fence. */
		hm_fence_seq_cst();
		unsigned nready = keep_ready(w, n);
		if (nready == 0)
			sleep_on(w, &rs, ctrl_v, barrier);
		for (unsigned k = 0; k < rs.n; k++)
			hm_ring_sleepers_remove(rs.hdr[k], rs.bits[k]);
		if (nready == 0 && !atomic_load_explicit(&w->precise, memory_order_relaxed))
			/* Without futex_waitv: look again after the nap. */
			nready = keep_ready(w, n);
		pthread_mutex_lock(&w->mu);
		w->announcing = false;
		w->round++;
		pthread_cond_broadcast(&w->round_done);
		fire(w, nready);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* The detail of a watcher that could not start, for errno e. */
static hermes_err start_fail(int e)
{
	return hm_fail(hm_errno_to_err(e), "cannot start the ring watcher: %s", strerror(e));
}

hermes_err hm_watch_create(hm_watch **out)
{
	*out = NULL;
	hm_watch *w = calloc(1, sizeof *w);
	if (!w)
		return start_fail(ENOMEM);
	w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->efd < 0) {
		hermes_err err = start_fail(errno);
		free(w);
		return err;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->round_done, NULL);
	w->round = 1;
	/* Probe futex_waitv with an empty wait list... which the kernel
	 * refuses with EINVAL when it has the call, ENOSYS when not. */
	atomic_init(&w->precise, !(futex_waitv(NULL, 0, 0) < 0 && errno == ENOSYS));
	sigset_t all, old;
	sigfillset(&all);
	/* The watcher takes no signals: they belong to the loop's signalfd. */
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int r = pthread_create(&w->thread, NULL, run, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		close(w->efd);
		pthread_cond_destroy(&w->round_done);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return start_fail(r);
	}
	w->started = true;
	*out = w;
	return HERMES_OK;
}

static void kick(hm_watch *w)
{
	/* seq_cst RMW, then seq_cst load: either the watcher sees the new
	 * ctrl before it sleeps, or we see it sleeping and wake it. */
	hm_fetch_add_seq_cst_u32(&w->ctrl, 1);
	if (hm_load_seq_cst_u32(&w->sleeping))
		syscall(SYS_futex, &w->ctrl, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void hm_watch_destroy(hm_watch *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_mutex_unlock(&w->mu);
	kick(w);
	if (w->started)
		pthread_join(w->thread, NULL);
	close(w->efd);
	pthread_cond_destroy(&w->round_done);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

int hm_watch_fd(const hm_watch *w)
{
	return w->efd;
}

bool hm_watch_precise(const hm_watch *w)
{
	return atomic_load(&((hm_watch *)w)->precise);
}

int hm_watch_slot_alloc(hm_watch *w)
{
	pthread_mutex_lock(&w->mu);
	int slot = -1;
	for (unsigned i = 0; i < HM_WATCH_SLOTS; i++)
		if (!w->e[i].used) {
			w->e[i] = (struct entry){.used = true};
			if (i + 1 > w->high)
				w->high = i + 1;
			slot = (int)i;
			break;
		}
	pthread_mutex_unlock(&w->mu);
	return slot;
}

static void drop_fired(hm_watch *w, int slot)
{
	for (unsigned i = 0; i < w->nfired; i++)
		if (w->fired[i] == slot) {
			w->fired[i] = w->fired[--w->nfired];
			i--;
		}
}

void hm_watch_slot_free(hm_watch *w, int slot)
{
	if (slot < 0)
		return;
	pthread_mutex_lock(&w->mu);
	/* A round that announced the slot's bit retracts it when it ends;
	 * the feed's subscriber slot, and with it the bit, must not go to
	 * someone else before (another bridge's feed, a local subscriber),
	 * whose announcement that retraction would take back: its wake-ups
	 * would be lost. And the ring may be unmapped once its feeds are
	 * gone. So disarm it (the next round leaves it out), wake the
	 * watcher and wait for the end of the round. */
	w->e[slot].armed = false;
	while (w->announcing && w->e[slot].round == w->round) {
		kick(w);
		pthread_cond_wait(&w->round_done, &w->mu);
	}
	w->e[slot] = (struct entry){0};
	drop_fired(w, slot);
	pthread_mutex_unlock(&w->mu);
}

void hm_watch_arm(hm_watch *w, int slot, const hm_ring *ring, unsigned sub_index, uint64_t seq)
{
	pthread_mutex_lock(&w->mu);
	struct entry *e = &w->e[slot];
	e->armed = true;
	e->bit = 1ull << (sub_index % HM_MAX_SUBSCRIBERS);
	e->ring = *ring;
	e->seq = seq;
	drop_fired(w, slot);
	pthread_mutex_unlock(&w->mu);
	kick(w);
}

void hm_watch_disarm(hm_watch *w, int slot)
{
	pthread_mutex_lock(&w->mu);
	w->e[slot].armed = false;
	drop_fired(w, slot);
	pthread_mutex_unlock(&w->mu);
}

unsigned hm_watch_collect(hm_watch *w, int *slots, unsigned max)
{
	uint64_t v;
	while (read(w->efd, &v, sizeof v) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&w->mu);
	unsigned n = w->nfired < max ? w->nfired : max;
	memcpy(slots, w->fired, n * sizeof *slots);
	memmove(w->fired, w->fired + n, (w->nfired - n) * sizeof *slots);
	w->nfired -= n;
	bool more = w->nfired > 0;
	pthread_mutex_unlock(&w->mu);
	if (more)
		notify_loop(w);
	return n;
}
