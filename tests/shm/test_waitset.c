/* Wait sets (shm/waitset.c), subscriber counts and ring discovery: one
 * thread waiting on many rings and descriptors, across threads and
 * processes, a waiter killed asleep, the pollable descriptor under epoll;
 * hermes_pub_subscribers across joins, leaves and kills; hermes_bus_rings. */
#include "tests/support/testing.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/futex.h"
#include "shm/segment.h"
#include "shm/waitset.h"
#include "tests/support/bus.h"
#include "tests/support/daemon.h"
#include "tests/support/threads.h"

#define NRINGS 3
#define LONG_NS 10000000000ll /* a wait that must be ended by a wake-up */
#define SOON_NS 5000000000ull /* ... well before it */

static const char *ring_names[NRINGS] = {"r0", "r1", "r2"};
static ht_bus B;
static hermes_bus *bus; /* B.bus */
static bool fallback;	/* the test's wait sets go without futex_waitv */

/* A private bus with NRINGS block rings of 64 KiB. */
static int setup(void **state)
{
	*state = &B;
	fallback = false;
	ht_bus_private(&B, "ws", 8 << 20);
	for (int i = 0; i < NRINGS; i++)
		ht_bus_ring(&B, ring_names[i], 1 << 16, 1024, HERMES_POLICY_BLOCK);
	bus = B.bus;
	return 0;
}

/* The same, for a test whose wait sets must do without futex_waitv
 * (kernels before 5.16): one word at a time, each sleep bounded. */
static int setup_fallback(void **state)
{
	setup(state);
	fallback = true;
	return 0;
}

typedef struct fixture {
	hermes_sub *sub[NRINGS];
	hermes_pub *pub[NRINGS];
	hermes_waitset *ws;
} fixture;

static void open_all(fixture *f, hermes_bus *b)
{
	assert_int_equal(hermes_waitset_create(&f->ws), HERMES_OK);
	for (int i = 0; i < NRINGS; i++) {
		assert_int_equal(hermes_sub_open(b, ring_names[i], HERMES_START_LATEST, 0, &f->sub[i]),
				 HERMES_OK);
		assert_int_equal(hermes_pub_open(b, ring_names[i], &f->pub[i]), HERMES_OK);
		/* The user pointer tells the waiter which ring is ready. */
		assert_int_equal(hermes_waitset_add_sub(f->ws, f->sub[i], (void *)&ring_names[i]),
				 HERMES_OK);
	}
}

static void close_all(fixture *f)
{
	for (int i = 0; i < NRINGS; i++) {
		if (f->sub[i]) {
			hermes_waitset_remove_sub(f->ws, f->sub[i]);
			hermes_sub_close(f->sub[i]);
		}
		hermes_pub_close(f->pub[i]);
	}
	hermes_waitset_destroy(f->ws);
}

/* Every ring of f has the bit of f's subscriber announced: the waiter (or
 * its helper) is asleep, or about to be. Bounded. */
static void await_announced(const fixture *f)
{
	uint64_t deadline = ht_now_ns() + SOON_NS;
	for (int i = 0; i < NRINGS; i++) {
		const hermes_sub *s = f->sub[i];
		while (!(hm_load_relaxed_u64(&s->ring.hdr->sleepers) & (1ull << s->slot_index))) {
			if (ht_now_ns() > deadline)
				fail_msg("the wait set never announced itself on ring %d", i);
			sched_yield();
		}
	}
}

static void assert_no_sleepers(const fixture *f)
{
	for (int i = 0; i < NRINGS; i++)
		assert_int_equal(hm_load_relaxed_u64(&f->sub[i]->ring.hdr->sleepers), 0);
}

static void drain(hermes_sub *sub)
{
	hermes_msg m;
	while (hermes_sub_poll(sub, &m) == HERMES_OK)
		;
	hermes_sub_release(sub);
}

/* A wait on a waitset (LONG_NS at most) on a thread of its own: what it
 * found and what it took. */
typedef struct waiter {
	hermes_waitset *ws;
	unsigned n;
	hermes_ready ready[8];
	ht_timed t;
} waiter;

static hermes_err waitset_wait(void *arg)
{
	waiter *w = arg;
	return hermes_waitset_wait(w->ws, w->ready, 8, &w->n, LONG_NS);
}

static void waiter_start(waiter *w, hermes_waitset *ws)
{
	w->ws = ws;
	ht_timed_start(&w->t, waitset_wait, w);
}

/* A thread asleep on three rings is woken by a message on any one of them,
 * and told which. */
static void sleeping_waiter_is_woken_by_each_ring(fixture *f)
{
	for (int round = 0; round < 3 * NRINGS; round++) {
		int r = round % NRINGS;
		waiter w;
		waiter_start(&w, f->ws);
		await_announced(f);
		assert_int_equal(hermes_pub_send(f->pub[r], "x", 1, NULL), HERMES_OK);
		ht_timed_expect(&w.t, HERMES_OK, SOON_NS);
		assert_int_equal(w.n, 1);
		assert_ptr_equal(w.ready[0].user, &ring_names[r]);
		assert_ptr_equal(w.ready[0].sub, f->sub[r]);
		assert_int_equal(w.ready[0].fd, -1);
		assert_int_equal(w.ready[0].flags, HERMES_READY_DATA);
		drain(f->sub[r]);
		assert_no_sleepers(f);
	}
}

/* With futex_waitv, and without it (setup_fallback): still woken by every
 * ring. */
static void wakes_a_thread_for_any_ring(void **state)
{
	(void)state;
	fixture f = {0};
	open_all(&f, bus);
	if (fallback)
		hm_waitset_force_fallback(f.ws, true);
	hermes_waitset_set_spin(f.ws, 0);
	sleeping_waiter_is_woken_by_each_ring(&f);
	close_all(&f);
}

/* Everything ready is reported, none twice, and a small cap rotates so no
 * member starves. */
static void test_waitset_reports_all_ready_members_fairly(void **state)
{
	(void)state;
	fixture f = {0};
	open_all(&f, bus);
	for (int i = 0; i < NRINGS; i++)
		assert_int_equal(hermes_pub_send(f.pub[i], "y", 1, NULL), HERMES_OK);
	hermes_ready rd[8];
	unsigned n;
	assert_int_equal(hermes_waitset_wait(f.ws, rd, 8, &n, 0), HERMES_OK);
	assert_int_equal(n, NRINGS);
	unsigned seen = 0;
	for (unsigned i = 0; i < NRINGS * 2; i++) {
		assert_int_equal(hermes_waitset_wait(f.ws, rd, 1, &n, 0), HERMES_OK);
		assert_int_equal(n, 1);
		seen |= 1u << (unsigned)((const char **)rd[0].user - ring_names);
	}
	assert_int_equal(seen, (1u << NRINGS) - 1);
	for (int i = 0; i < NRINGS; i++)
		drain(f.sub[i]);
	assert_int_equal(hermes_waitset_wait(f.ws, rd, 8, &n, 0), HERMES_ETIMEDOUT);
	assert_int_equal(n, 0);
	close_all(&f);
}

static void test_waitset_timeout_is_honoured(void **state)
{
	(void)state;
	fixture f = {0};
	open_all(&f, bus);
	hermes_ready rd[4];
	unsigned n = 99;
	uint32_t spins[] = {0, 2048};
	for (int i = 0; i < 2; i++) {
		hermes_waitset_set_spin(f.ws, spins[i]);
		uint64_t t0 = ht_now_ns();
		assert_int_equal(hermes_waitset_wait(f.ws, rd, 4, &n, 50000000), HERMES_ETIMEDOUT);
		uint64_t el = ht_now_ns() - t0;
		assert_int_equal(n, 0);
		assert_true(el >= 50000000u);
		assert_true(el < 2000000000u);
		assert_no_sleepers(&f);
	}
	assert_int_equal(hermes_waitset_wait(f.ws, rd, 0, &n, 0), HERMES_EINVAL);
	close_all(&f);
}

static void *wake_later(void *arg)
{
	hermes_waitset *ws = arg;
	hermes_waitset_wake(ws);
	return NULL;
}

static void test_waitset_wake_interrupts_the_wait(void **state)
{
	(void)state;
	fixture f = {0};
	open_all(&f, bus);
	hermes_waitset_set_spin(f.ws, 0);
	waiter w;
	waiter_start(&w, f.ws);
	await_announced(&f);
	pthread_join(ht_thread_start(wake_later, f.ws), NULL);
	ht_timed_expect(&w.t, HERMES_EAGAIN, SOON_NS);
	assert_int_equal(w.n, 0);
	/* A wake with nobody waiting is answered by the next call. */
	hermes_waitset_wake(f.ws);
	hermes_ready rd[2];
	unsigned n;
	assert_int_equal(hermes_waitset_wait(f.ws, rd, 2, &n, LONG_NS), HERMES_EAGAIN);
	assert_int_equal(hermes_waitset_wait(f.ws, rd, 2, &n, 0), HERMES_ETIMEDOUT);
	close_all(&f);
}

static void test_waitset_membership_errors(void **state)
{
	(void)state;
	fixture f = {0};
	open_all(&f, bus);
	assert_int_equal(hermes_waitset_add_sub(f.ws, f.sub[0], NULL), HERMES_EEXIST);
	assert_int_equal(hermes_waitset_remove_sub(f.ws, f.sub[0]), HERMES_OK);
	assert_int_equal(hermes_waitset_remove_sub(f.ws, f.sub[0]), HERMES_ENOENT);
	assert_int_equal(hermes_waitset_remove_fd(f.ws, 0), HERMES_ENOENT);
	assert_int_equal(hermes_waitset_add_fd(f.ws, -1, NULL), HERMES_EINVAL);
	assert_int_equal(hermes_waitset_add_sub(f.ws, f.sub[0], NULL), HERMES_OK);
	close_all(&f);
}

/* A waiter in another process, on the same segment. */
static void test_waitset_in_another_process_wakes(void **state)
{
	(void)state;
	fixture f = {0};
	open_all(&f, bus);
	hermes_waitset_set_spin(f.ws, 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		waiter w = {.ws = f.ws};
		bool soon = ht_timed_run(&w.t, waitset_wait, &w) == HERMES_OK &&
			    w.t.elapsed_ns < SOON_NS;
		_exit(soon && w.n == 1 && w.ready[0].sub == f.sub[2] ? 0 : 1);
	}
	await_announced(&f);
	assert_int_equal(hermes_pub_send(f.pub[2], "p", 1, NULL), HERMES_OK);
	assert_int_equal(ht_child_exit(child, 10000), 0);
	close_all(&f);
}

/* Two wait sets share the rings; one removes (and closes) its subscriber
 * while the other sleeps, also while its helper thread (hermes_waitset_fd)
 * holds the announcement: the sleeper's announcement stays, it is woken. */
static void test_remove_while_another_set_sleeps(void **state)
{
	(void)state;
	fixture a = {0}, b = {0};
	open_all(&a, bus);
	open_all(&b, bus);
	hermes_waitset_set_spin(b.ws, 0);
	int afd;
	assert_int_equal(hermes_waitset_fd(a.ws, &afd), HERMES_OK);
	await_announced(&a); /* a's helper watches */
	waiter w;
	waiter_start(&w, b.ws);
	await_announced(&b);
	for (int i = 0; i < NRINGS; i++) {
		assert_int_equal(hermes_waitset_remove_sub(a.ws, a.sub[i]), HERMES_OK);
		/* Gone from the ring before remove returned. */
		assert_false(hm_load_relaxed_u64(&a.sub[i]->ring.hdr->sleepers) &
			     (1ull << a.sub[i]->slot_index));
		hermes_sub_close(a.sub[i]);
		a.sub[i] = NULL;
	}
	/* b still sleeps on every ring. */
	await_announced(&b);
	assert_int_equal(hermes_pub_send(b.pub[1], "r", 1, NULL), HERMES_OK);
	ht_timed_expect(&w.t, HERMES_OK, SOON_NS);
	assert_ptr_equal(w.ready[0].sub, b.sub[1]);
	close_all(&a);
	close_all(&b);
}

static int epoll_readable(int ep, int timeout_ms)
{
	struct epoll_event ev;
	return epoll_wait(ep, &ev, 1, timeout_ms);
}

/* The pollable descriptor in an application's epoll: readable when a member
 * has data, quiet once the application has caught up. */
static void test_waitset_fd_in_epoll(void **state)
{
	(void)state;
	fixture f = {0};
	open_all(&f, bus);
	int fd;
	assert_int_equal(hermes_waitset_fd(f.ws, &fd), HERMES_OK);
	int again;
	assert_int_equal(hermes_waitset_fd(f.ws, &again), HERMES_OK);
	assert_int_equal(again, fd);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	assert_true(ep >= 0);
	struct epoll_event ev = {.events = EPOLLIN};
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
	assert_int_equal(epoll_readable(ep, 0), 0);
	hermes_ready rd[4];
	unsigned n;
	for (int round = 0; round < 2 * NRINGS; round++) {
		int r = (round * 2) % NRINGS;
		await_announced(&f);
		assert_int_equal(hermes_pub_send(f.pub[r], "e", 1, NULL), HERMES_OK);
		assert_int_equal(epoll_readable(ep, 5000), 1);
		assert_int_equal(hermes_waitset_wait(f.ws, rd, 4, &n, 0), HERMES_OK);
		assert_int_equal(n, 1);
		assert_ptr_equal(rd[0].sub, f.sub[r]);
		/* Still readable: the last call reported a member. */
		assert_int_equal(epoll_readable(ep, 0), 1);
		drain(f.sub[r]);
		/* Caught up: one more call finds nothing and re-arms. */
		assert_int_equal(hermes_waitset_wait(f.ws, rd, 4, &n, 0), HERMES_ETIMEDOUT);
		assert_int_equal(epoll_readable(ep, 0), 0);
	}
	close(ep);
	close_all(&f);
}

/* Descriptors join the same wait: a socket (as a bridge connection's
 * hermes_net_fd) beside rings; with setup_fallback, for the helper thread
 * without futex_waitv. */
static void descriptor_beside_rings(void **state)
{
	(void)state;
	fixture f = {0};
	open_all(&f, bus);
	hm_waitset_force_fallback(f.ws, fallback);
	int sp[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	int tag;
	assert_int_equal(hermes_waitset_add_fd(f.ws, sp[0], &tag), HERMES_OK);
	assert_int_equal(hermes_waitset_add_fd(f.ws, sp[0], &tag), HERMES_EEXIST);
	hermes_waitset_set_spin(f.ws, 0);
	for (int round = 0; round < 4; round++) {
		waiter w;
		waiter_start(&w, f.ws);
		await_announced(&f); /* the helper watches the rings */
		if (round % 2) {
			assert_int_equal(write(sp[1], "s", 1), 1);
		} else {
			assert_int_equal(hermes_pub_send(f.pub[round % NRINGS], "d", 1, NULL),
					 HERMES_OK);
		}
		ht_timed_expect(&w.t, HERMES_OK, SOON_NS);
		assert_int_equal(w.n, 1);
		if (round % 2) {
			assert_ptr_equal(w.ready[0].user, &tag);
			assert_int_equal(w.ready[0].fd, sp[0]);
			assert_null(w.ready[0].sub);
			char c;
			assert_int_equal(read(sp[0], &c, 1), 1);
		} else {
			assert_ptr_equal(w.ready[0].sub, f.sub[round % NRINGS]);
			drain(f.sub[round % NRINGS]);
		}
	}
	/* A hang-up is reported as closed. */
	close(sp[1]);
	hermes_ready rd[4];
	unsigned n;
	assert_int_equal(hermes_waitset_wait(f.ws, rd, 4, &n, LONG_NS), HERMES_OK);
	assert_int_equal(n, 1);
	assert_true(rd[0].flags & HERMES_READY_CLOSED);
	assert_int_equal(hermes_waitset_remove_fd(f.ws, sp[0]), HERMES_OK);
	close(sp[0]);
	close_all(&f);
}

/* A deleted ring reports its subscriber closed. */
static void test_waitset_reports_a_deleted_ring(void **state)
{
	(void)state;
	fixture f = {0};
	open_all(&f, bus);
	hermes_pub_close(f.pub[0]);
	f.pub[0] = NULL;
	assert_int_equal(hermes_ring_delete(bus, ring_names[0], 1), HERMES_OK);
	hermes_ready rd[4];
	unsigned n;
	assert_int_equal(hermes_waitset_wait(f.ws, rd, 4, &n, LONG_NS), HERMES_OK);
	assert_int_equal(n, 1);
	assert_ptr_equal(rd[0].sub, f.sub[0]);
	assert_true(rd[0].flags & HERMES_READY_CLOSED);
	close_all(&f);
}

/* ---- subscribers as publishers see them --------------------------------------- */

static void test_subscribers_counted_across_joins_and_leaves(void **state)
{
	(void)state;
	hermes_pub *pub;
	assert_int_equal(hermes_pub_open(bus, "r0", &pub), HERMES_OK);
	assert_int_equal(hermes_pub_subscribers(pub), 0);
	hermes_sub *s[3];
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(hermes_sub_open(bus, "r0", HERMES_START_LATEST, 0, &s[i]),
				 HERMES_OK);
		assert_int_equal(hermes_pub_subscribers(pub), i + 1);
	}
	/* Other rings are not counted. */
	hermes_sub *other;
	assert_int_equal(hermes_sub_open(bus, "r1", HERMES_START_LATEST, 0, &other), HERMES_OK);
	assert_int_equal(hermes_pub_subscribers(pub), 3);
	hermes_sub_close(s[1]);
	assert_int_equal(hermes_pub_subscribers(pub), 2);
	hermes_sub_close(s[0]);
	hermes_sub_close(s[2]);
	assert_int_equal(hermes_pub_subscribers(pub), 0);
	assert_int_equal(hermes_pub_wait_subscribers(pub, 0, 0), HERMES_OK);
	hermes_sub_close(other);
	hermes_pub_close(pub);
}

/* A publisher's wait (LONG_NS at most) for one subscriber. */
static hermes_err wait_for_one_subscriber(void *pub)
{
	return hermes_pub_wait_subscribers(pub, 1, LONG_NS);
}

/* The wait sleeps until a join, and what is sent after it returns reaches
 * the subscriber that joined. */
static void test_wait_for_a_subscriber(void **state)
{
	(void)state;
	hermes_pub *pub;
	assert_int_equal(hermes_pub_open(bus, "r2", &pub), HERMES_OK);
	uint64_t t0 = ht_now_ns();
	assert_int_equal(hermes_pub_wait_subscribers(pub, 1, 50000000), HERMES_ETIMEDOUT);
	assert_true(ht_now_ns() - t0 >= 50000000u);
	assert_int_equal(hermes_pub_wait_subscribers(pub, 1, 0), HERMES_ETIMEDOUT);
	for (int round = 0; round < 5; round++) {
		ht_timed w;
		/* Read the counter before the thread starts; the join below
		 * happens while (or before) it sleeps, either way it returns. */
		ht_timed_start(&w, wait_for_one_subscriber, pub);
		hermes_sub *sub;
		assert_int_equal(hermes_sub_open(bus, "r2", HERMES_START_LATEST, 0, &sub),
				 HERMES_OK);
		ht_timed_expect(&w, HERMES_OK, SOON_NS);
		assert_int_equal(hermes_pub_send(pub, "hello", 5, NULL), HERMES_OK);
		hermes_msg m;
		assert_int_equal(hermes_sub_poll(sub, &m), HERMES_OK);
		assert_memory_equal(m.data, "hello", 5);
		hermes_sub_release(sub);
		hermes_sub_close(sub);
	}
	hermes_pub_close(pub);
}

/* The same wait, saying which thread of this process it runs on. */
typedef struct asleep_waiter {
	hermes_pub *pub;
	_Atomic int tid;
} asleep_waiter;

static hermes_err wait_for_one_subscriber_tid(void *arg)
{
	asleep_waiter *a = arg;
	atomic_store(&a->tid, (int)gettid());
	return wait_for_one_subscriber(a->pub);
}

/* Until thread tid of this process sleeps in the kernel (state S). */
static void await_thread_asleep(_Atomic int *tid)
{
	uint64_t deadline = ht_now_ns() + SOON_NS;
	for (;;) {
		int t = atomic_load(tid);
		if (t) {
			char path[64], buf[256] = "";
			snprintf(path, sizeof path, "/proc/self/task/%d/stat", t);
			FILE *f = fopen(path, "r");
			if (f) {
				size_t n = fread(buf, 1, sizeof buf - 1, f);
				buf[n] = '\0';
				fclose(f);
			}
			const char *close_paren = strrchr(buf, ')');
			if (close_paren && close_paren[1] == ' ' && close_paren[2] == 'S')
				return;
		}
		if (ht_now_ns() > deadline)
			fail_msg("the waiting thread never went to sleep");
		sched_yield();
	}
}

/* Deleting the ring wakes a publisher asleep waiting for subscribers. */
static void test_wait_for_subscribers_ends_when_the_ring_is_deleted(void **state)
{
	(void)state;
	hermes_pub *pub;
	assert_int_equal(hermes_pub_open(bus, "r2", &pub), HERMES_OK);
	asleep_waiter a = {.pub = pub};
	ht_timed w;
	ht_timed_start(&w, wait_for_one_subscriber_tid, &a);
	await_thread_asleep(&a.tid);
	assert_int_equal(hermes_ring_delete(bus, "r2", 1), HERMES_OK);
	ht_timed_expect(&w, HERMES_ECLOSED, SOON_NS);
	hermes_pub_close(pub);
}

/* ---- discovery ------------------------------------------------------------------ */

static void test_bus_rings_lists_configuration(void **state)
{
	(void)state;
	hermes_ring_config cfg = {.name = "ov", .capacity = 1 << 15, .max_msg = 512,
				  .policy = HERMES_POLICY_OVERWRITE, .slots = 128};
	assert_int_equal(hermes_ring_create(bus, &cfg), HERMES_OK);
	hermes_pub *pub;
	hermes_sub *sub;
	assert_int_equal(hermes_pub_open(bus, "ov", &pub), HERMES_OK);
	assert_int_equal(hermes_sub_open(bus, "ov", HERMES_START_LATEST, 0, &sub), HERMES_OK);
	assert_int_equal(hermes_pub_send(pub, "1", 1, NULL), HERMES_OK);
	unsigned count;
	assert_int_equal(hermes_bus_rings(bus, NULL, 0, &count), HERMES_OK);
	assert_int_equal(count, NRINGS + 1);
	hermes_ring_info info[8];
	assert_int_equal(hermes_bus_rings(bus, info, 2, &count), HERMES_OK);
	assert_int_equal(count, NRINGS + 1);
	assert_int_equal(hermes_bus_rings(bus, info, 8, &count), HERMES_OK);
	bool found = false;
	for (unsigned i = 0; i < count; i++) {
		if (strcmp(info[i].name, "ov"))
			continue;
		found = true;
		assert_int_equal(info[i].policy, HERMES_POLICY_OVERWRITE);
		assert_int_equal(info[i].capacity, 1 << 15);
		assert_int_equal(info[i].max_msg, 512);
		assert_int_equal(info[i].slots, 128);
		assert_int_equal(info[i].producers, 1);
		assert_int_equal(info[i].subscribers, 1);
		assert_int_equal(info[i].next_seq, 1);
	}
	assert_true(found);
	hermes_ring_info one;
	assert_int_equal(hermes_bus_ring_info(bus, "r1", &one), HERMES_OK);
	assert_string_equal(one.name, "r1");
	assert_int_equal(one.policy, HERMES_POLICY_BLOCK);
	assert_int_equal(one.capacity, 1 << 16);
	assert_int_equal(one.max_msg, 1024);
	assert_int_equal(one.producers, 0);
	assert_int_equal(hermes_bus_ring_info(bus, "nope", &one), HERMES_ENOENT);
	assert_int_equal(hermes_bus_ring_info(bus, "bad name!", &one), HERMES_EINVAL);
	assert_int_equal(hermes_bus_rings(bus, NULL, 1, &count), HERMES_EINVAL);
	hermes_sub_close(sub);
	hermes_pub_close(pub);
	/* A deleted ring is no longer listed. */
	assert_int_equal(hermes_ring_delete(bus, "ov", 0), HERMES_OK);
	assert_int_equal(hermes_bus_rings(bus, NULL, 0, &count), HERMES_OK);
	assert_int_equal(count, NRINGS);
}

/* ---- with the supervisor: kills ---------------------------------------------------- */

/* Until the ring's joined subscribers number `want` (5 s deadline), asleep
 * on the join/leave counter between looks. */
static void await_subscribers(hermes_pub *pub, unsigned want)
{
	uint64_t deadline = ht_now_ns() + SOON_NS;
	hm_atomic_u32 *changes = &pub->ring.hdr->sub_changes;
	for (;;) {
		uint32_t v = hm_load_seq_cst_u32(changes);
		if (hermes_pub_subscribers(pub) == want)
			return;
		if (ht_now_ns() > deadline)
			fail_msg("the ring has %u subscribers, not %u", hermes_pub_subscribers(pub),
				 want);
		hm_futex_wait(changes, v, deadline);
	}
}

/* A process SIGKILLed while asleep in a wait set on three rings: hermesd
 * releases its subscribers (counted as leaves) and takes their sleeper
 * bits back; another waiter on the same rings keeps being woken. */
static void test_waiter_killed_asleep_with_supervisor(void **state)
{
	(void)state;
	ht_bus sv;
	ht_bus_supervised(&sv, "wsk", NULL);
	for (int i = 0; i < NRINGS; i++)
		ht_bus_ring(&sv, ring_names[i], 1 << 16, 1024, HERMES_POLICY_BLOCK);
	hermes_bus *b = sv.bus;
	int ready[2];
	assert_int_equal(pipe(ready), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		/* Its own attach, so hermesd sees its own control connection. */
		hermes_bus *cb;
		hermes_waitset *ws;
		hermes_sub *s[NRINGS];
		if (hermes_bus_attach(sv.name, &cb) || hermes_waitset_create(&ws))
			_exit(2);
		for (int i = 0; i < NRINGS; i++)
			if (hermes_sub_open(cb, ring_names[i], HERMES_START_LATEST, 0, &s[i]) ||
			    hermes_waitset_add_sub(ws, s[i], NULL))
				_exit(3);
		hermes_waitset_set_spin(ws, 0);
		if (write(ready[1], "k", 1) != 1)
			_exit(4);
		hermes_ready rd[4];
		unsigned n;
		hermes_waitset_wait(ws, rd, 4, &n, 60000000000ll);
		_exit(5);
	}
	close(ready[1]);
	char c;
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	fixture f = {0};
	open_all(&f, b);
	for (int i = 0; i < NRINGS; i++)
		await_subscribers(f.pub[i], 2);
	/* The child's bits are on every ring, with ours absent. */
	uint64_t deadline = ht_now_ns() + SOON_NS;
	for (int i = 0; i < NRINGS; i++)
		while (!hm_load_relaxed_u64(&f.sub[i]->ring.hdr->sleepers)) {
			if (ht_now_ns() > deadline)
				fail_msg("the child never slept on ring %d", i);
			sched_yield();
		}
	kill(child, SIGKILL);
	int st = ht_wait_child(child, 10000);
	assert_true(WIFSIGNALED(st));
	/* hermesd releases the dead subscribers within a second or so. */
	for (int i = 0; i < NRINGS; i++)
		await_subscribers(f.pub[i], 1);
	assert_no_sleepers(&f);
	hermes_waitset_set_spin(f.ws, 0);
	sleeping_waiter_is_woken_by_each_ring(&f);
	close_all(&f);
	ht_bus_teardown(&sv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		{"test_waitset_wakes_a_thread_for_any_ring", wakes_a_thread_for_any_ring, setup,
		 ht_bus_teardown_state, NULL},
		{"test_waitset_fallback_without_futex_waitv", wakes_a_thread_for_any_ring, setup_fallback,
		 ht_bus_teardown_state, NULL},
		cmocka_unit_test_setup_teardown(test_waitset_reports_all_ready_members_fairly, setup,
						ht_bus_teardown_state),
		cmocka_unit_test_setup_teardown(test_waitset_timeout_is_honoured, setup,
						ht_bus_teardown_state),
		cmocka_unit_test_setup_teardown(test_waitset_wake_interrupts_the_wait, setup,
						ht_bus_teardown_state),
		cmocka_unit_test_setup_teardown(test_waitset_membership_errors, setup,
						ht_bus_teardown_state),
		cmocka_unit_test_setup_teardown(test_waitset_in_another_process_wakes, setup,
						ht_bus_teardown_state),
		cmocka_unit_test_setup_teardown(test_remove_while_another_set_sleeps, setup,
						ht_bus_teardown_state),
		cmocka_unit_test_setup_teardown(test_waitset_fd_in_epoll, setup,
						ht_bus_teardown_state),
		{"test_waitset_descriptor_beside_rings", descriptor_beside_rings, setup,
		 ht_bus_teardown_state, NULL},
		{"test_waitset_descriptor_beside_rings_fallback", descriptor_beside_rings, setup_fallback,
		 ht_bus_teardown_state, NULL},
		cmocka_unit_test_setup_teardown(test_waitset_reports_a_deleted_ring, setup,
						ht_bus_teardown_state),
		cmocka_unit_test_setup_teardown(test_subscribers_counted_across_joins_and_leaves,
						setup, ht_bus_teardown_state),
		cmocka_unit_test_setup_teardown(test_wait_for_a_subscriber, setup,
						ht_bus_teardown_state),
		cmocka_unit_test_setup_teardown(test_wait_for_subscribers_ends_when_the_ring_is_deleted,
						setup, ht_bus_teardown_state),
		cmocka_unit_test_setup_teardown(test_bus_rings_lists_configuration, setup,
						ht_bus_teardown_state),
		cmocka_unit_test(test_waiter_killed_asleep_with_supervisor),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
