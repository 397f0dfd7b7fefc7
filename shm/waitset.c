/* Wait sets: one thread waiting on many subscribers and descriptors (see
 * include/hermes/bus.h for the contract, docs/ARCHITECTURE.md "Wait sets"
 * for the design).
 *
 * Three ways to sleep, chosen by what the set holds:
 *   - subscribers only: the waiting thread itself sleeps in futex_waitv(2)
 *     on the futex word of every member ring plus the set's wake word
 *     (sleep_rings below). No helper thread, no descriptor.
 *   - descriptors too: a thread cannot futex_waitv on a descriptor, so a
 *     helper thread of the set runs sleep_rings and, when a ring is ready,
 *     writes the set's eventfd; the waiting thread sleeps in ppoll(2) on the
 *     member descriptors and that eventfd.
 *   - hermes_waitset_fd: the same helper keeps running between calls, and
 *     the application's epoll watches an epoll instance of the set holding
 *     the eventfd and the member descriptors.
 * The helper works on copies of the subscribers taken by the owning thread
 * when it arms the helper (hm_sub_ready only reads), so the owner may poll
 * its subscribers while the helper watches. */
#include "shm/waitset.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/atomics.h"
#include "core/error_detail.h"
#include "core/futex.h"
#include "core/thread.h"
#include "shm/ring.h"

/* futex_waitv takes at most 128 words: the rings' and the wake word. */
#define MAX_RINGS 127u
#define DEFAULT_SPIN 2048u
/* As hermes_sub_wait (shm/ring.c): on overwrite rings a lap shows only in
 * the tail, which wakes nobody; without membarrier, producers of
 * registered processes may miss the announcement. Each sleep is bounded. */
#define LAP_NAP_NS 10000000ull
#define IMPRECISE_NAP_NS 1000000ull
/* No futex_waitv: one word at a time, in turn, at most this long each. */
#define FALLBACK_NAP_NS 1000000ull
#define KICKED (-1)

typedef struct member {
	hermes_sub *sub; /* or NULL: a descriptor */
	int fd;
	void *user;
} member;

/* The rings one sleep covers: each ring's futex word once, with the sleeper
 * bits of every member subscriber on that ring. */
typedef struct plan {
	hm_ring_header *hdr[MAX_RINGS];
	uint64_t bits[MAX_RINGS];
	unsigned n;
	bool lap_nap; /* an overwrite ring is in it */
} plan;

typedef struct helper {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* armed or stop (for the helper), idle (for the owner) */
	bool stop, armed, busy;
	bool fallback;
	/* Bumped to cut the helper's sleep short (it is in the wait list). */
	hm_atomic_u32 ctrl;
	int efd;
	unsigned n;
	plan plan;
	hermes_sub copies[HERMES_WAITSET_MAX];
} helper;

struct hermes_waitset {
	member m[HERMES_WAITSET_MAX];
	unsigned n, nsubs, nfds;
	unsigned next; /* where the next report starts, so no member starves */
	uint32_t spin;
	bool fallback; /* futex_waitv missing (or forced by a test) */
	bool fd_mode;  /* hermes_waitset_fd was called */
	int efd;       /* eventfd: a ring is ready, a wake, or "still ready" */
	int epfd;      /* hermes_waitset_fd's epoll instance, or -1 */
	/* hermes_waitset_wake bumps it; wake_seen is the last value a wait
	 * answered with HERMES_EAGAIN (owner only). */
	hm_atomic_u32 wake;
	uint32_t wake_seen;
	plan plan;
	helper *h;
};

/* ---- sleeping on many rings -------------------------------------------------- */

typedef bool (*ready_fn)(void *ctx);

/* Sleep on the plan's rings until ready(ctx), the deadline, a signal, or
 * *kick moving away from kick_v. This is the ring's eventcount protocol
 * from the sleeper's side, as hermes_sub_wait speaks it (shm/ring.c), for
 * many rings at once, with the barrier paid once per sleep, not per ring:
 *
 *   sleeper                                   producer (wake_sleepers)
 *   fetch_or(ring.sleepers, bits), each ring  store_release(slot.word)
 *   membarrier(GLOBAL_EXPEDITED), once        (fence, if not registered)
 *   v[i] = load_acquire(ring.futex), each     if load(sleepers):
 *   fence(seq_cst); check every member            fetch_add(futex); FUTEX_WAKE
 *   futex_waitv({ring.futex, v[i]}..., kick)
 *   fetch_and(ring.sleepers, ~bits), each
 *
 * Either our check sees the commit, or the producer sees our bit and bumps
 * the word, and futex_waitv returns at once or is woken. The bits are the
 * member subscribers' own slot bits: a process killed asleep leaves them
 * behind exactly as a killed hermes_sub_wait does, and the supervisor
 * takes them back when it releases those slots. Returns 0 (ready),
 * ETIMEDOUT, EINTR or KICKED. */
static int sleep_rings(const plan *p, hm_atomic_u32 *kick, uint32_t kick_v, bool *fallback,
		       uint64_t deadline, ready_fn ready, void *ctx)
{
	for (unsigned i = 0; i < p->n; i++)
		hm_ring_sleepers_add(p->hdr[i], p->bits[i]);
	bool precise = hm_membarrier_global();
	hm_futex_word w[MAX_RINGS + 1];
	int rc;
	for (unsigned turn = 0;; turn++) {
		/* The words before the check: a bump after the check makes the
		 * wait return at once. */
		for (unsigned i = 0; i < p->n; i++)
			w[i] = (hm_futex_word){&p->hdr[i]->futex,
					       hm_load_acquire_u32(&p->hdr[i]->futex)};
		w[p->n] = (hm_futex_word){kick, kick_v};
		/* Pairs with the fence of producers that fence. */
		hm_fence_seq_cst();
		if (ready(ctx)) {
			rc = 0;
			break;
		}
		/* Relaxed: the wait below compares the word itself. */
		if (hm_load_relaxed_u32(kick) != kick_v) {
			rc = KICKED;
			break;
		}
		uint64_t now = hm_now_ns();
		if (now >= deadline) {
			rc = ETIMEDOUT;
			break;
		}
		uint64_t nap = p->lap_nap ? LAP_NAP_NS : precise ? 0 : IMPRECISE_NAP_NS;
		if (*fallback && (nap == 0 || nap > FALLBACK_NAP_NS))
			nap = FALLBACK_NAP_NS;
		uint64_t until = nap && now + nap < deadline ? now + nap : deadline;
		int r;
		if (!*fallback) {
			r = hm_futex_waitv(w, p->n + 1, until);
			if (r == ENOSYS) {
				*fallback = true;
				continue;
			}
		} else {
			/* Each word in turn, the kick word among them: a wake-up
			 * on another ring is seen within FALLBACK_NAP_NS. */
			const hm_futex_word *one = &w[turn % (p->n + 1)];
			r = hm_futex_wait(one->addr, one->val, until);
		}
		if (r == EINTR) {
			rc = EINTR;
			break;
		}
	}
	for (unsigned i = 0; i < p->n; i++)
		hm_ring_sleepers_remove(p->hdr[i], p->bits[i]);
	return rc;
}

static bool plan_add(plan *p, const hermes_sub *s)
{
	unsigned k = 0;
	while (k < p->n && p->hdr[k] != s->ring.hdr)
		k++;
	if (k == p->n) {
		if (p->n == MAX_RINGS)
			return false;
		p->hdr[k] = s->ring.hdr;
		p->bits[k] = 0;
		p->n++;
	}
	p->bits[k] |= 1ull << s->slot_index;
	if (s->ring.policy == HERMES_POLICY_OVERWRITE)
		p->lap_nap = true;
	return true;
}

static void plan_build(hermes_waitset *ws)
{
	memset(&ws->plan, 0, sizeof ws->plan);
	for (unsigned i = 0; i < ws->n; i++)
		if (ws->m[i].sub)
			plan_add(&ws->plan, ws->m[i].sub);
}

/* ---- the helper thread ------------------------------------------------------- */

static void efd_signal(int efd)
{
	uint64_t one = 1;
	while (write(efd, &one, sizeof one) < 0 && errno == EINTR)
		;
}

static void efd_drain(int efd)
{
	uint64_t v;
	while (read(efd, &v, sizeof v) < 0 && errno == EINTR)
		;
}

static bool copies_ready(void *ctx)
{
	helper *h = ctx;
	for (unsigned i = 0; i < h->n; i++)
		if (hm_sub_ready(&h->copies[i]))
			return true;
	return false;
}

static void *helper_run(void *arg)
{
	helper *h = arg;
	pthread_mutex_lock(&h->mu);
	while (!h->stop) {
		if (!h->armed) {
			pthread_cond_wait(&h->cv, &h->mu);
			continue;
		}
		/* While busy, the owner changes neither the copies nor the plan
		 * (disarm waits for !busy), so they are read unlocked. */
		h->busy = true;
		uint32_t v = hm_load_seq_cst_u32(&h->ctrl);
		pthread_mutex_unlock(&h->mu);
		int rc = sleep_rings(&h->plan, &h->ctrl, v, &h->fallback, UINT64_MAX, copies_ready, h);
		pthread_mutex_lock(&h->mu);
		h->busy = false;
		if (rc == 0 && h->armed) {
			/* Fire once; the owner re-arms with fresh copies. */
			h->armed = false;
			efd_signal(h->efd);
		}
		pthread_cond_broadcast(&h->cv);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

static hermes_err helper_start(hermes_waitset *ws)
{
	if (ws->h)
		return HERMES_OK;
	helper *h = calloc(1, sizeof *h);
	if (!h)
		return hm_fail(HERMES_ENOMEM, "wait set: no memory for its helper thread");
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	h->efd = ws->efd;
	h->fallback = ws->fallback;
	int r = hm_thread_start(&h->thread, helper_run, h);
	if (r != 0) {
		pthread_cond_destroy(&h->cv);
		pthread_mutex_destroy(&h->mu);
		free(h);
		return hm_fail(HERMES_ESYS, "wait set: cannot start its helper thread: %s",
			       strerror(r));
	}
	ws->h = h;
	return HERMES_OK;
}

/* End the helper's sleep. seq_cst RMW: the helper read ctrl before
 * sleeping; the changed word makes futex_waitv return at once, or the wake
 * ends the sleep. */
static void helper_kick(helper *h)
{
	hm_fetch_add_seq_cst_u32(&h->ctrl, 1);
	hm_futex_wake(&h->ctrl, INT_MAX);
}

/* The helper, with its lock held; NULL (nothing held) when there is none. */
static helper *helper_lock(hermes_waitset *ws)
{
	helper *h = ws->h;
	if (h)
		pthread_mutex_lock(&h->mu);
	return h;
}

/* Stop the helper's watch and wait until it has taken its sleeper bits
 * back: after this the owner may change members, or sleep on the same bits
 * itself. */
static void helper_disarm(hermes_waitset *ws)
{
	helper *h = helper_lock(ws);
	if (!h)
		return;
	h->armed = false;
	if (h->busy) {
		helper_kick(h);
		while (h->busy)
			pthread_cond_wait(&h->cv, &h->mu);
	}
	pthread_mutex_unlock(&h->mu);
}

/* Watch copies of the member subscribers as they are now. */
static void helper_arm(hermes_waitset *ws)
{
	helper *h = ws->h;
	if (!h || ws->nsubs == 0)
		return;
	pthread_mutex_lock(&h->mu);
	while (h->busy)
		pthread_cond_wait(&h->cv, &h->mu);
	h->n = 0;
	for (unsigned i = 0; i < ws->n; i++)
		if (ws->m[i].sub)
			h->copies[h->n++] = *ws->m[i].sub;
	h->plan = ws->plan;
	h->armed = true;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

static void helper_stop(hermes_waitset *ws)
{
	helper *h = helper_lock(ws);
	if (!h)
		return;
	h->stop = true;
	h->armed = false;
	helper_kick(h);
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->thread, NULL);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	free(h);
	ws->h = NULL;
}

/* ---- members ----------------------------------------------------------------- */

static bool owner_ready(void *ctx)
{
	hermes_waitset *ws = ctx;
	for (unsigned i = 0; i < ws->n; i++)
		if (ws->m[i].sub && hm_sub_ready(ws->m[i].sub))
			return true;
	return false;
}

/* A descriptor mode call ends here: the eventfd stays readable while the
 * call reported members, otherwise the helper watches from now on. */
static void fd_mode_settle(hermes_waitset *ws, bool reported)
{
	if (!ws->fd_mode)
		return;
	if (reported || owner_ready(ws))
		efd_signal(ws->efd);
	else
		helper_arm(ws);
}

/* Changing members: the helper must let go of the old ones first. */
static void change_begin(hermes_waitset *ws)
{
	helper_disarm(ws);
}

static void change_end(hermes_waitset *ws)
{
	if (ws->fd_mode) {
		efd_drain(ws->efd);
		fd_mode_settle(ws, false);
	}
}

hermes_err hermes_waitset_create(hermes_waitset **out)
{
	if (!out)
		return hm_fail(HERMES_EINVAL, "hermes_waitset_create: out is NULL");
	hermes_waitset *ws = calloc(1, sizeof *ws);
	if (!ws)
		return hm_fail(HERMES_ENOMEM, "wait set: out of memory");
	ws->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ws->efd < 0) {
		hermes_err err =
			hm_fail(hm_errno_to_err(errno), "wait set: eventfd: %s", strerror(errno));
		free(ws);
		return err;
	}
	ws->epfd = -1;
	ws->spin = DEFAULT_SPIN;
	*out = ws;
	return HERMES_OK;
}

void hermes_waitset_destroy(hermes_waitset *ws)
{
	if (!ws)
		return;
	helper_stop(ws);
	if (ws->epfd >= 0)
		close(ws->epfd);
	close(ws->efd);
	free(ws);
}

static int find(const hermes_waitset *ws, const hermes_sub *sub, int fd)
{
	for (unsigned i = 0; i < ws->n; i++)
		if (sub ? ws->m[i].sub == sub : (!ws->m[i].sub && ws->m[i].fd == fd))
			return (int)i;
	return -1;
}

static hermes_err add_member(hermes_waitset *ws, hermes_sub *sub, int fd, void *user)
{
	if (find(ws, sub, fd) >= 0)
		return hm_fail(HERMES_EEXIST, "wait set: %s is already a member",
			       sub ? "this subscriber" : "this descriptor");
	if (ws->n == HERMES_WAITSET_MAX)
		return hm_fail(HERMES_ETOOMANY, "wait set: %u members already",
			       (unsigned)HERMES_WAITSET_MAX);
	if (sub) {
		plan trial = ws->plan;
		if (!plan_add(&trial, sub))
			return hm_fail(HERMES_ETOOMANY,
				       "wait set: its subscribers would span more than %u rings",
				       MAX_RINGS);
	}
	/* A helper is needed once rings and descriptors are mixed, or for
	 * hermes_waitset_fd: start it now, so waits never fail for it. */
	bool need_helper = (sub ? ws->nfds > 0 || ws->fd_mode : ws->nsubs > 0);
	if (need_helper) {
		hermes_err err = helper_start(ws);
		if (err)
			return err;
	}
	change_begin(ws);
	if (!sub && ws->epfd >= 0) {
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
		if (epoll_ctl(ws->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			hermes_err err = hm_fail(hm_errno_to_err(errno),
						 "wait set: epoll_ctl add: %s", strerror(errno));
			change_end(ws);
			return err;
		}
	}
	ws->m[ws->n++] = (member){.sub = sub, .fd = sub ? -1 : fd, .user = user};
	if (sub) {
		ws->nsubs++;
		plan_add(&ws->plan, sub);
	} else {
		ws->nfds++;
	}
	change_end(ws);
	return HERMES_OK;
}

hermes_err hermes_waitset_add_sub(hermes_waitset *ws, hermes_sub *sub, void *user)
{
	if (!ws || !sub)
		return hm_fail(HERMES_EINVAL, "hermes_waitset_add_sub: wait set and subscriber "
					      "are required");
	return add_member(ws, sub, -1, user);
}

hermes_err hermes_waitset_add_fd(hermes_waitset *ws, int fd, void *user)
{
	if (!ws || fd < 0)
		return hm_fail(HERMES_EINVAL, "hermes_waitset_add_fd: a wait set and a descriptor "
					      ">= 0 are required");
	return add_member(ws, NULL, fd, user);
}

static hermes_err remove_member(hermes_waitset *ws, hermes_sub *sub, int fd)
{
	int i = find(ws, sub, fd);
	if (i < 0)
		return hm_fail(HERMES_ENOENT, "wait set: %s is not a member",
			       sub ? "this subscriber" : "this descriptor");
	change_begin(ws);
	if (!sub && ws->epfd >= 0)
		epoll_ctl(ws->epfd, EPOLL_CTL_DEL, fd, NULL); /* closed already: gone anyway */
	memmove(&ws->m[i], &ws->m[i + 1], (ws->n - (unsigned)i - 1) * sizeof ws->m[0]);
	ws->n--;
	if (sub)
		ws->nsubs--;
	else
		ws->nfds--;
	if (ws->next > (unsigned)i)
		ws->next--;
	plan_build(ws);
	change_end(ws);
	return HERMES_OK;
}

hermes_err hermes_waitset_remove_sub(hermes_waitset *ws, hermes_sub *sub)
{
	if (!ws || !sub)
		return hm_fail(HERMES_EINVAL, "hermes_waitset_remove_sub: NULL argument");
	return remove_member(ws, sub, -1);
}

hermes_err hermes_waitset_remove_fd(hermes_waitset *ws, int fd)
{
	if (!ws || fd < 0)
		return hm_fail(HERMES_EINVAL, "hermes_waitset_remove_fd: bad argument");
	return remove_member(ws, NULL, fd);
}

void hermes_waitset_set_spin(hermes_waitset *ws, uint32_t checks)
{
	if (ws)
		ws->spin = checks;
}

void hermes_waitset_wake(hermes_waitset *ws)
{
	/* seq_cst RMW: a sleeper that read the old value is woken below (or
	 * its futex_waitv sees the change); only atomics and system calls
	 * here, so signal handlers may call it. */
	hm_fetch_add_seq_cst_u32(&ws->wake, 1);
	hm_futex_wake(&ws->wake, INT_MAX);
	efd_signal(ws->efd);
}

void hm_waitset_force_fallback(hermes_waitset *ws, bool on)
{
	ws->fallback = on;
	if (ws->h) {
		pthread_mutex_lock(&ws->h->mu);
		ws->h->fallback = on;
		pthread_mutex_unlock(&ws->h->mu);
	}
}

/* ---- waiting ----------------------------------------------------------------- */

/* Report up to cap ready members, starting after the last one reported. */
static unsigned collect(hermes_waitset *ws, hermes_ready *out, unsigned cap, bool fds)
{
	struct pollfd pf[HERMES_WAITSET_MAX];
	int at[HERMES_WAITSET_MAX];
	nfds_t np = 0;
	if (fds && ws->nfds) {
		for (unsigned i = 0; i < ws->n; i++) {
			at[i] = -1;
			if (!ws->m[i].sub) {
				at[i] = (int)np;
				pf[np++] = (struct pollfd){.fd = ws->m[i].fd, .events = POLLIN};
			}
		}
		if (poll(pf, np, 0) <= 0)
			np = 0;
	}
	unsigned k = 0, start = ws->n ? ws->next % ws->n : 0;
	for (unsigned j = 0; j < ws->n && k < cap; j++) {
		unsigned i = (start + j) % ws->n;
		member *m = &ws->m[i];
		uint32_t flags = 0;
		if (m->sub) {
			if (hm_sub_ready(m->sub))
				flags = HERMES_READY_DATA |
					/* Relaxed: a one-way flag, as in hm_sub_ready. */
					(hm_load_relaxed_u32(&m->sub->ring.hdr->deleted)
						 ? HERMES_READY_CLOSED
						 : 0);
		} else if (np && at[i] >= 0) {
			short re = pf[at[i]].revents;
			if (re & POLLIN)
				flags |= HERMES_READY_DATA;
			if (re & (POLLHUP | POLLERR))
				flags |= HERMES_READY_DATA | HERMES_READY_CLOSED;
			if (re & POLLNVAL)
				flags |= HERMES_READY_CLOSED;
		}
		if (!flags)
			continue;
		out[k++] = (hermes_ready){.user = m->user, .sub = m->sub, .fd = m->fd, .flags = flags};
		ws->next = i + 1;
	}
	return k;
}

/* With descriptors: the helper watches the rings, we sleep in ppoll on the
 * descriptors and the eventfd. Returns EINTR on a signal, else 0. */
static int sleep_fds(hermes_waitset *ws, uint64_t deadline)
{
	struct pollfd pf[HERMES_WAITSET_MAX + 1];
	nfds_t np = 0;
	for (unsigned i = 0; i < ws->n; i++)
		if (!ws->m[i].sub)
			pf[np++] = (struct pollfd){.fd = ws->m[i].fd, .events = POLLIN};
	pf[np++] = (struct pollfd){.fd = ws->efd, .events = POLLIN};
	struct timespec ts, *tsp = NULL;
	if (deadline != UINT64_MAX) {
		uint64_t now = hm_now_ns();
		uint64_t left = deadline > now ? deadline - now : 0;
		ts.tv_sec = (time_t)(left / 1000000000u);
		ts.tv_nsec = (long)(left % 1000000000u);
		tsp = &ts;
	}
	helper_arm(ws);
	int r = ppoll(pf, np, tsp, NULL);
	int e = errno;
	helper_disarm(ws);
	efd_drain(ws->efd);
	return r < 0 && e == EINTR ? EINTR : 0;
}

static hermes_err wait_inner(hermes_waitset *ws, hermes_ready *ready, unsigned cap, unsigned *n,
			     uint64_t deadline)
{
	/* seq_cst: pairs with hermes_waitset_wake's RMW. A wake since the
	 * last one answered is answered now. */
	uint32_t wake_v = hm_load_seq_cst_u32(&ws->wake);
	bool woken = wake_v != ws->wake_seen;
	ws->wake_seen = wake_v;
	if ((*n = collect(ws, ready, cap, true)))
		return HERMES_OK;
	if (woken)
		return HERMES_EAGAIN;
	if (hm_now_ns() >= deadline)
		return HERMES_ETIMEDOUT;
	/* Spin on the rings first (descriptors cost a system call to check). */
	for (uint32_t i = 0; ws->nsubs && i < ws->spin; i++) {
		if (owner_ready(ws) && (*n = collect(ws, ready, cap, true)))
			return HERMES_OK;
		if ((i & 63) == 63 && (hm_now_ns() >= deadline ||
				       hm_load_relaxed_u32(&ws->wake) != wake_v))
			break;
		hm_cpu_relax();
	}
	for (;;) {
		int rc = ws->nfds ? sleep_fds(ws, deadline)
				  : sleep_rings(&ws->plan, &ws->wake, wake_v, &ws->fallback, deadline,
						owner_ready, ws);
		if ((*n = collect(ws, ready, cap, true)))
			return HERMES_OK;
		uint32_t now_v = hm_load_seq_cst_u32(&ws->wake);
		if (rc == EINTR || rc == KICKED || now_v != wake_v) {
			ws->wake_seen = now_v;
			return HERMES_EAGAIN;
		}
		if (hm_now_ns() >= deadline)
			return HERMES_ETIMEDOUT;
	}
}

hermes_err hermes_waitset_wait(hermes_waitset *ws, hermes_ready *ready, unsigned cap, unsigned *n,
			       int64_t timeout_ns)
{
	if (!ws || !n || !ready || cap == 0)
		return hm_fail(HERMES_EINVAL, "hermes_waitset_wait: wait set, ready[] with cap > 0 "
					      "and n are required");
	uint64_t deadline = hm_deadline_after(timeout_ns);
	if (ws->fd_mode) {
		helper_disarm(ws);
		efd_drain(ws->efd);
	}
	hermes_err err = wait_inner(ws, ready, cap, n, deadline);
	fd_mode_settle(ws, *n > 0);
	return err;
}

hermes_err hermes_waitset_fd(hermes_waitset *ws, int *fd)
{
	if (!ws || !fd)
		return hm_fail(HERMES_EINVAL, "hermes_waitset_fd: NULL argument");
	if (ws->epfd >= 0) {
		*fd = ws->epfd;
		return HERMES_OK;
	}
	if (ws->nsubs) {
		hermes_err err = helper_start(ws);
		if (err)
			return err;
	}
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return hm_fail(hm_errno_to_err(errno), "wait set: epoll_create1: %s",
			       strerror(errno));
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = ws->efd};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, ws->efd, &ev) < 0)
		goto fail;
	for (unsigned i = 0; i < ws->n; i++) {
		if (ws->m[i].sub)
			continue;
		ev = (struct epoll_event){.events = EPOLLIN, .data.fd = ws->m[i].fd};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, ws->m[i].fd, &ev) < 0)
			goto fail;
	}
	ws->epfd = ep;
	ws->fd_mode = true;
	fd_mode_settle(ws, false);
	*fd = ep;
	return HERMES_OK;
fail:;
	hermes_err err =
		hm_fail(hm_errno_to_err(errno), "wait set: epoll_ctl add: %s", strerror(errno));
	close(ep);
	return err;
}
