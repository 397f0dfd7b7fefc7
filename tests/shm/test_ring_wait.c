/* Waiting: futex-blocked subscribers wake on publish, timed waits end at
 * their deadline, and a long race between producers and sleeping subscribers
 * never loses a wake-up. */
#include "tests/support/testing.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm/segment.h"
#include "tests/support/bus.h"
#include "tests/support/threads.h"

static ht_bus B;
static hermes_bus *bus; /* B.bus */

/* A private bus with one block ring "w" of 64 KiB. */
static int setup(void **state)
{
	*state = &B;
	ht_bus_private(&B, "wait", 4 << 20);
	ht_bus_ring(&B, "w", 1 << 16, 1024, HERMES_POLICY_BLOCK);
	bus = B.bus;
	return 0;
}

/* A blocking wait of the subscriber `sub` that ends at a 10 s deadline. */
static hermes_err sleep_on(void *sub)
{
	return hermes_sub_wait(sub, HERMES_WAIT_BLOCK, 10000000000ll);
}

/* A wake-up, long before a 10 s deadline. */
#define SOON_NS 5000000000ull

/* Wait (bounded) until one of `mask`'s bits is set in *bits (a sleeper
 * announced itself); returns the bits. */
static uint64_t await_bits(hm_atomic_u64 *bits, uint64_t mask, const char *who)
{
	uint64_t deadline = ht_now_ns() + 5000000000ull;
	uint64_t v;
	while (!((v = hm_load_relaxed_u64(bits)) & mask)) {
		if (ht_now_ns() > deadline)
			fail_msg("%s never went to sleep", who);
		sched_yield();
	}
	return v & mask;
}

/* Wait until the subscriber's slot says it sleeps in the futex. */
static void await_sleeping(hermes_sub *sub)
{
	await_bits(&sub->ring.hdr->sleepers, 1ull << sub->slot_index, "subscriber");
}

/* Run sub's wait on a thread of its own (ht_timed_join w); return once it
 * sleeps in the futex. */
static void waiter_start(ht_timed *w, hermes_sub *sub)
{
	ht_timed_start(w, sleep_on, sub);
	await_sleeping(sub);
}

/* The same bus and ring with a subscriber and a publisher on "w", closed
 * again by teardown_both. */
static hermes_sub *wsub;
static hermes_pub *wpub;

static int setup_both(void **state)
{
	setup(state);
	assert_int_equal(hermes_sub_open(bus, "w", HERMES_START_LATEST, 0, &wsub), HERMES_OK);
	assert_int_equal(hermes_pub_open(bus, "w", &wpub), HERMES_OK);
	return 0;
}

static int teardown_both(void **state)
{
	hermes_pub_close(wpub);
	hermes_sub_close(wsub);
	return ht_bus_teardown_state(state);
}

static void test_blocked_subscriber_wakes_on_publish(void **state)
{
	(void)state;
	for (int round = 0; round < 20; round++) {
		ht_timed w;
		waiter_start(&w, wsub);
		assert_int_equal(hermes_pub_send(wpub, "wake", 4, NULL), HERMES_OK);
		ht_timed_expect(&w, HERMES_OK, SOON_NS);
		hermes_msg m;
		assert_int_equal(hermes_sub_poll(wsub, &m), HERMES_OK);
		assert_memory_equal(m.data, "wake", 4);
		assert_int_equal(hermes_sub_release(wsub), HERMES_OK);
	}
}

static void test_blocked_subscriber_in_another_process_wakes(void **state)
{
	(void)state;
	/* The child's subscriber is opened here so the parent can watch its
	 * slot; the child inherits the mapping and the handle. */
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		/* A wait that ends only at its 10 s deadline would also find the
		 * message: require the wake-up well before. */
		ht_timed w;
		bool woken = ht_timed_run(&w, sleep_on, wsub) == HERMES_OK &&
			     w.elapsed_ns < SOON_NS;
		hermes_msg m;
		_exit(woken && hermes_sub_poll(wsub, &m) == HERMES_OK ? 0 : 1);
	}
	await_sleeping(wsub);
	assert_int_equal(hermes_pub_send(wpub, "x", 1, NULL), HERMES_OK);
	assert_int_equal(ht_child_exit(child, 10000), 0);
}

static void test_timed_waits_return_at_their_deadline(void **state)
{
	(void)state;
	hermes_sub *sub;
	assert_int_equal(hermes_sub_open(bus, "w", HERMES_START_LATEST, 0, &sub), HERMES_OK);
	hermes_wait_mode modes[] = {HERMES_WAIT_SPIN, HERMES_WAIT_YIELD, HERMES_WAIT_BLOCK};
	for (size_t i = 0; i < 3; i++) {
		uint64_t t0 = ht_now_ns();
		assert_int_equal(hermes_sub_wait(sub, modes[i], 50000000), HERMES_ETIMEDOUT);
		uint64_t el = ht_now_ns() - t0;
		assert_true(el >= 50000000u);
		assert_true(el < 2000000000u);
	}
	assert_int_equal(hermes_sub_wait(sub, HERMES_WAIT_BLOCK, 0), HERMES_ETIMEDOUT);
	assert_int_equal(hm_load_relaxed_u64(&sub->ring.hdr->sleepers), 0);
	hermes_sub_close(sub);
}

/* ---- the race ------------------------------------------------------------ */

typedef struct race {
	hermes_sub *sub[2];
	_Atomic uint64_t consumed[2];
	_Atomic int stop;
	_Atomic int failed;
	char why[160];
	uint64_t wakeups[2];
} race;

typedef struct race_sub {
	race *r;
	int index;
} race_sub;

static void race_fail(race *r, const char *msg)
{
	int expected = 0;
	if (atomic_compare_exchange_strong(&r->failed, &expected, 1))
		snprintf(r->why, sizeof r->why, "%s", msg);
}

static void *race_subscriber(void *arg)
{
	race_sub *rs = arg;
	race *r = rs->r;
	hermes_sub *sub = r->sub[rs->index];
	while (!atomic_load(&r->failed)) {
		/* A lost wake-up does not show as a timeout (the wait re-checks
		 * the ring at its deadline and finds the message): it shows as a
		 * message that sat in the ring while we slept. */
		if (hermes_sub_wait(sub, HERMES_WAIT_BLOCK, 1000000000) == HERMES_OK)
			r->wakeups[rs->index]++;
		hermes_msg m;
		while (hermes_sub_poll(sub, &m) == HERMES_OK) {
			uint64_t sent;
			memcpy(&sent, m.data, 8);
			if (ht_now_ns() - sent > 500000000ull) {
				race_fail(r, "lost wake-up: a message waited > 0.5 s for a sleeper");
				return NULL;
			}
			if (m.len == 8 + 1) { /* the stop message */
				hermes_sub_release(sub);
				return NULL;
			}
			atomic_fetch_add(&r->consumed[rs->index], 1);
		}
		hermes_sub_release(sub);
	}
	return NULL;
}

/* Publish one message stamped with the time of its claim (so time spent
 * waiting for room does not count as delivery latency). */
static hermes_err race_send(hermes_pub *pub, uint32_t len)
{
	hermes_claim c;
	uint64_t t0 = ht_now_ns();
	hermes_err err = hermes_pub_claim_timed(pub, len, &c, 5000000000ll);
	if (err)
		return err;
	uint64_t now = ht_now_ns();
	/* The producer sleeps when the ring is full (spin 0, and bursts
	 * larger than the ring): the subscribers' releases must wake it. A
	 * lost wake-up shows as a claim that slept on to a deadline. */
	if (now - t0 > 1000000000ull)
		return HERMES_ETIMEDOUT;
	memcpy(c.data, &now, 8);
	return hermes_pub_commit(pub, &c);
}

static void test_wait_wake_race_loses_no_wakeup(void **state)
{
	(void)state;
	const char *env = getenv("HERMES_STRESS_SECONDS");
	double seconds = env ? strtod(env, NULL) : 10.0;
	race r = {0};
	hermes_pub *pub;
	assert_int_equal(hermes_pub_open(bus, "w", &pub), HERMES_OK);
	hermes_pub_set_spin(pub, 0);
	race_sub rs[2];
	for (int i = 0; i < 2; i++) {
		assert_int_equal(hermes_sub_open(bus, "w", HERMES_START_LATEST, 0, &r.sub[i]),
				 HERMES_OK);
		rs[i] = (race_sub){&r, i};
	}
	ht_threads t;
	ht_threads_start(&t, race_subscriber, rs, sizeof rs[0], 2);
	uint64_t end = ht_now_ns() + (uint64_t)(seconds * 1e9);
	uint64_t sent = 0, rnd = 7, one_at_a_time_rounds = 0, streamed = 0;
	while (ht_now_ns() < end && !atomic_load(&r.failed)) {
		bool streaming = ((ht_now_ns() / 250000000u) & 1) != 0;
		uint32_t burst = streaming ? 1 + (uint32_t)(ht_rand(&rnd) % 1024) : 1;
		for (uint32_t i = 0; i < burst; i++) {
			/* 8-byte stamp plus 0..199 bytes, never 1 (the stop). */
			uint32_t extra = (uint32_t)(ht_rand(&rnd) % 200);
			if (race_send(pub, 8 + (extra == 1 ? 2 : extra))) {
				race_fail(&r, "publisher could not publish for 1 s (lost wake-up?)");
				break;
			}
			sent++;
		}
		if (streaming) {
			streamed += burst;
			continue;
		}
		/* One at a time: both subscribers must take it, each after
		 * going back to sleep; a lost wake-up stalls here. */
		one_at_a_time_rounds++;
		uint64_t deadline = ht_now_ns() + 3000000000ull;
		while (atomic_load(&r.consumed[0]) < sent || atomic_load(&r.consumed[1]) < sent) {
			if (atomic_load(&r.failed))
				break;
			if (ht_now_ns() > deadline) {
				race_fail(&r, "a subscriber did not consume within 3 s");
				break;
			}
			sched_yield();
		}
	}
	assert_int_equal(race_send(pub, 8 + 1), HERMES_OK);
	ht_threads_join(&t);
	if (atomic_load(&r.failed))
		fail_msg("%s", r.why);
	uint64_t full = hm_load_relaxed_u64(&pub->slot->full_events);
	printf("# %.0f s: %llu messages (%llu one at a time, %llu streamed), wake-ups %llu/%llu, "
	       "ring full %llu times\n",
	       seconds, (unsigned long long)sent, (unsigned long long)one_at_a_time_rounds,
	       (unsigned long long)streamed, (unsigned long long)r.wakeups[0],
	       (unsigned long long)r.wakeups[1], (unsigned long long)full);
	assert_true(full > 0); /* the producer did block, and was woken */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(atomic_load(&r.consumed[i]), sent);
		hermes_sub_close(r.sub[i]);
	}
	assert_true(one_at_a_time_rounds > 100);
	hermes_pub_close(pub);
}

/* ---- producers blocked on a full ring (issue 18, point 2) ---------------- */

/* Fill the ring through `pub` until a claim is refused: `sub` (opened
 * before) holds every message. */
static void fill_ring(hermes_pub *pub)
{
	static const char block[1000];
	unsigned sent = 0;
	hermes_err err;
	while ((err = hermes_pub_send(pub, block, sizeof block, NULL)) == HERMES_OK)
		sent++;
	assert_int_equal(err, HERMES_EAGAIN);
	assert_true(sent > 10);
}

/* A send of 1000 bytes through pub that may wait timeout_ns for room, and
 * what it took. */
typedef struct blocked {
	hermes_pub *pub;
	int64_t timeout_ns;
	ht_timed t;
} blocked;

static hermes_err send_blocked(void *arg)
{
	blocked *b = arg;
	static const char msg[1000];
	return hermes_pub_send_timed(b->pub, msg, sizeof msg, NULL, b->timeout_ns);
}

/* Run b's send here; returns its result. */
static hermes_err blocked_send(blocked *b)
{
	return ht_timed_run(&b->t, send_blocked, b);
}

/* Wait until the publisher's bit says it sleeps in the futex. */
static void await_producer_sleeping(hermes_pub *pub)
{
	await_bits(&pub->ring.hdr->prod_sleepers, 1ull << pub->slot_index, "producer");
}

/* Run b's send on a thread of its own (ht_timed_join b->t); return once
 * it sleeps in the futex. */
static void blocked_start(blocked *b)
{
	ht_timed_start(&b->t, send_blocked, b);
	await_producer_sleeping(b->pub);
}

/* The finding: a timed send waiting 1 s on a full ring used 0.91 s of CPU.
 * It must sleep: a generous bound of a quarter of the wait. */
static void test_blocked_producer_sleeps_instead_of_spinning(void **state)
{
	(void)state;
	fill_ring(wpub);
	blocked b = {.pub = wpub, .timeout_ns = 1000000000ll};
	assert_int_equal(blocked_send(&b), HERMES_ETIMEDOUT);
	assert_true(b.t.elapsed_ns >= 1000000000ull);
	print_message("timed send on a full ring: %.3f s waited, %.3f s of CPU\n",
		      (double)b.t.elapsed_ns / 1e9, (double)b.t.cpu_ns / 1e9);
	assert_true(b.t.cpu_ns < 250000000ull);
	/* Nothing left announced after the wait. */
	assert_int_equal(hm_load_relaxed_u64(&wpub->ring.hdr->prod_sleepers), 0);
}

/* A sleeping producer wakes when a subscriber releases room, long before
 * its deadline; also with a spin setting of 0 (straight to sleep). */
static void test_blocked_producer_wakes_on_release(void **state)
{
	(void)state;
	for (int round = 0; round < 10; round++) {
		hermes_pub_set_spin(wpub, round % 2 ? 0 : 1000);
		fill_ring(wpub);
		blocked b = {.pub = wpub, .timeout_ns = 10000000000ll};
		blocked_start(&b);
		hermes_msg m;
		while (hermes_sub_poll(wsub, &m) == HERMES_OK)
			;
		assert_int_equal(hermes_sub_release(wsub), HERMES_OK);
		ht_timed_expect(&b.t, HERMES_OK, SOON_NS);
		assert_int_equal(hermes_sub_poll(wsub, &m), HERMES_OK);
		assert_int_equal(m.len, 1000);
		assert_int_equal(hermes_sub_release(wsub), HERMES_OK);
	}
}

/* The subscriber holding the room leaves (in another process, by closing),
 * or the ring is deleted: a producer asleep wakes either way. */
static void test_blocked_producer_wakes_on_leave_and_delete(void **state)
{
	(void)state;
	fill_ring(wpub);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		blocked b = {.pub = wpub, .timeout_ns = 10000000000ll};
		blocked_send(&b);
		_exit(b.t.result == HERMES_OK && b.t.elapsed_ns < SOON_NS ? 0 : 1);
	}
	await_producer_sleeping(wpub);
	hermes_sub_close(wsub);
	assert_int_equal(ht_child_exit(child, 10000), 0);

	/* Deleted under a sleeping producer: HERMES_ECLOSED, at once. */
	assert_int_equal(hermes_sub_open(bus, "w", HERMES_START_LATEST, 0, &wsub), HERMES_OK);
	fill_ring(wpub);
	blocked b = {.pub = wpub, .timeout_ns = 10000000000ll};
	blocked_start(&b);
	assert_int_equal(hermes_ring_delete(bus, "w", 1), HERMES_OK);
	ht_timed_expect(&b.t, HERMES_ECLOSED, SOON_NS);
}

/* A producer SIGKILLed while asleep: repair takes back its announcement,
 * or every release would make a wake system call from then on. */
static void test_producer_killed_asleep_leaves_no_sleeper_behind(void **state)
{
	(void)state;
	hermes_sub *sub;
	assert_int_equal(hermes_sub_open(bus, "w", HERMES_START_LATEST, 0, &sub), HERMES_OK);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		hermes_pub *pub;
		if (hermes_pub_open(bus, "w", &pub))
			_exit(2);
		fill_ring(pub);
		blocked b = {.pub = pub, .timeout_ns = 30000000000ll};
		blocked_send(&b);
		_exit(1);
	}
	hm_atomic_u64 *bits = &sub->ring.hdr->prod_sleepers;
	uint32_t index = (uint32_t)__builtin_ctzll(await_bits(bits, ~0ull, "producer"));
	kill(child, SIGKILL);
	int st = ht_wait_child(child, 10000);
	assert_true(WIFSIGNALED(st));
	/* What hermesd does for a dead producer. */
	hm_ring_repair_producer(&sub->ring, index);
	assert_int_equal(hm_load_relaxed_u64(bits), 0);
	hermes_sub_close(sub);
}

/* hermes_sub_set_spin(0): a blocking wait sleeps at once. */
static void test_subscriber_spin_setting(void **state)
{
	(void)state;
	hermes_sub_set_spin(wsub, 0);
	ht_timed w;
	waiter_start(&w, wsub);
	assert_int_equal(hermes_pub_send(wpub, "s", 1, NULL), HERMES_OK);
	ht_timed_expect(&w, HERMES_OK, SOON_NS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_blocked_subscriber_wakes_on_publish,
						setup_both, teardown_both),
		cmocka_unit_test_setup_teardown(test_blocked_subscriber_in_another_process_wakes,
						setup_both, teardown_both),
		cmocka_unit_test_setup_teardown(test_timed_waits_return_at_their_deadline, setup,
						ht_bus_teardown_state),
		cmocka_unit_test_setup_teardown(test_wait_wake_race_loses_no_wakeup, setup,
						ht_bus_teardown_state),
		cmocka_unit_test_setup_teardown(test_blocked_producer_sleeps_instead_of_spinning,
						setup_both, teardown_both),
		cmocka_unit_test_setup_teardown(test_blocked_producer_wakes_on_release,
						setup_both, teardown_both),
		cmocka_unit_test_setup_teardown(test_blocked_producer_wakes_on_leave_and_delete,
						setup_both, teardown_both),
		cmocka_unit_test_setup_teardown(test_producer_killed_asleep_leaves_no_sleeper_behind,
						setup, ht_bus_teardown_state),
		cmocka_unit_test_setup_teardown(test_subscriber_spin_setting,
						setup_both, teardown_both),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
