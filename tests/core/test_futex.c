/* Tests for core/futex.c: hm_futex_wait/wake and hm_futex_waitv honour the
 * value check and the absolute CLOCK_MONOTONIC deadline, and a wake reaches
 * a sleeper in another thread and in another process (shared futexes). A
 * sleeper is woken only once it is seen asleep in the kernel (state S in
 * /proc), so the wake path is what is tested, not the value check. */
#include "tests/support/testing.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/futex.h"

#define LONG_NS 10000000000ull /* every wait's deadline: 10 s */
#define SHORT_NS 20000000ull   /* a deadline that must pass: 20 ms */

/* Wait (deadline 10 s) until thread or process id is asleep (state S). */
static void wait_asleep(pid_t id)
{
	uint64_t deadline = ht_now_ns() + LONG_NS;
	for (;;) {
		char path[64], buf[512] = {0};
		snprintf(path, sizeof path, "/proc/%d/stat", (int)id);
		FILE *f = fopen(path, "re");
		assert_non_null(f);
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = '\0';
		const char *p = strrchr(buf, ')');
		if (p && p[1] == ' ' && p[2] == 'S')
			return;
		if (ht_now_ns() > deadline)
			fail_msg("%d did not go to sleep within 10 s", (int)id);
		/* A poll interval while the sleeper enters the kernel. */
		struct timespec nap = {0, 1000000};
		nanosleep(&nap, NULL);
	}
}

static void test_wait_returns_at_once_when_value_differs(void **state)
{
	(void)state;
	hm_atomic_u32 word = 5;
	uint64_t t0 = hm_now_ns();
	assert_int_equal(hm_futex_wait(&word, 4, t0 + LONG_NS), 0);
	assert_true(hm_now_ns() - t0 < LONG_NS);
}

static void test_wait_past_deadline_times_out(void **state)
{
	(void)state;
	hm_atomic_u32 word = 0;
	assert_int_equal(hm_futex_wait(&word, 0, hm_now_ns() - 1), ETIMEDOUT);
	uint64_t t0 = hm_now_ns();
	assert_int_equal(hm_futex_wait(&word, 0, t0 + SHORT_NS), ETIMEDOUT);
	/* The deadline is absolute: no early return before it. */
	assert_true(hm_now_ns() >= t0 + SHORT_NS);
}

static void test_wake_without_sleepers_is_harmless(void **state)
{
	(void)state;
	hm_atomic_u32 word = 0;
	hm_futex_wake(&word, 1);
	hm_futex_wake(&word, 1 << 30);
	assert_int_equal(hm_load_acquire_u32(&word), 0);
}

/* A thread that sleeps on w[0] (hm_futex_wait) or on w[0..n) (waitv). */
typedef struct sleeper {
	hm_futex_word w[2];
	unsigned n;
	bool vector;
	_Atomic pid_t tid;
	int result;
} sleeper;

static void *sleep_thread(void *arg)
{
	sleeper *s = arg;
	atomic_store(&s->tid, (pid_t)syscall(SYS_gettid));
	uint64_t deadline = hm_now_ns() + LONG_NS;
	s->result = s->vector ? hm_futex_waitv(s->w, s->n, deadline)
			      : hm_futex_wait(s->w[0].addr, s->w[0].val, deadline);
	return NULL;
}

/* The thread id a sleeper thread publishes before it waits (deadline 10 s). */
static pid_t wait_tid(_Atomic pid_t *tid)
{
	uint64_t deadline = ht_now_ns() + LONG_NS;
	while (!atomic_load(tid))
		if (ht_now_ns() > deadline)
			fail_msg("the sleeper thread did not start within 10 s");
	return atomic_load(tid);
}

static void test_wake_reaches_a_sleeping_thread(void **state)
{
	(void)state;
	hm_atomic_u32 word = 0;
	sleeper s = {.w = {{&word, 0}}, .n = 1, .result = -1};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, sleep_thread, &s), 0);
	wait_asleep(wait_tid(&s.tid));
	uint64_t t0 = hm_now_ns();
	hm_store_release_u32(&word, 1);
	hm_futex_wake(&word, 1);
	pthread_join(t, NULL);
	assert_int_equal(s.result, 0);
	assert_true(hm_now_ns() - t0 < LONG_NS);
}

static int child_sleeps(void *arg)
{
	hm_atomic_u32 *word = arg;
	return hm_futex_wait(word, 0, hm_now_ns() + LONG_NS) == 0 && hm_load_acquire_u32(word) == 7
		       ? 0
		       : 1;
}

static void test_wake_reaches_another_process(void **state)
{
	(void)state;
	hm_atomic_u32 *word = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
				   -1, 0);
	assert_true(word != MAP_FAILED);
	hm_store_release_u32(word, 0);
	pid_t pid = ht_fork(child_sleeps, word);
	wait_asleep(pid);
	hm_store_release_u32(word, 7);
	hm_futex_wake(word, 1);
	assert_int_equal(ht_child_exit(pid, 10000), 0);
	munmap(word, 4096);
}

static void test_deadline_after_is_absolute_and_negative_means_none(void **state)
{
	(void)state;
	assert_true(hm_deadline_after(-1) == UINT64_MAX);
	uint64_t t0 = hm_now_ns();
	assert_true(hm_deadline_after(1000) >= t0 + 1000);
	assert_true(hm_deadline_after(INT64_MAX) >= t0 + (uint64_t)INT64_MAX);
}

/* hm_futex_waitv: skipped where the kernel does not offer futex_waitv. */
static bool have_waitv(void)
{
	hm_atomic_u32 word = 1;
	hm_futex_word w = {&word, 0};
	return hm_futex_waitv(&w, 1, hm_now_ns() + LONG_NS) != ENOSYS;
}

static void test_waitv_checks_every_value(void **state)
{
	(void)state;
	if (!have_waitv())
		skip();
	hm_atomic_u32 a = 0, b = 3;
	hm_futex_word w[2] = {{&a, 0}, {&b, 2}};
	assert_int_equal(hm_futex_waitv(w, 2, hm_now_ns() + LONG_NS), 0);
	w[1].val = 3;
	uint64_t t0 = hm_now_ns();
	assert_int_equal(hm_futex_waitv(w, 2, t0 + SHORT_NS), ETIMEDOUT);
	assert_true(hm_now_ns() >= t0 + SHORT_NS);
	assert_int_equal(hm_futex_waitv(w, 2, hm_now_ns() - 1), ETIMEDOUT);
}

static void test_waitv_rejects_bad_counts(void **state)
{
	(void)state;
	if (!have_waitv())
		skip();
	static hm_futex_word w[129];
	static hm_atomic_u32 word;
	for (unsigned i = 0; i < 129; i++)
		w[i] = (hm_futex_word){&word, 1};
	assert_int_equal(hm_futex_waitv(w, 0, hm_now_ns() + LONG_NS), EINVAL);
	assert_int_equal(hm_futex_waitv(w, 129, hm_now_ns() + LONG_NS), EINVAL);
}

static void test_waitv_wakes_on_any_word(void **state)
{
	(void)state;
	if (!have_waitv())
		skip();
	hm_atomic_u32 a = 0, b = 0;
	sleeper s = {.w = {{&a, 0}, {&b, 0}}, .n = 2, .vector = true, .result = -1};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, sleep_thread, &s), 0);
	wait_asleep(wait_tid(&s.tid));
	/* The second word, woken by a plain hm_futex_wake: shared on both sides. */
	hm_store_release_u32(&b, 1);
	hm_futex_wake(&b, 1);
	pthread_join(t, NULL);
	assert_int_equal(s.result, 0);
	assert_int_equal(hm_load_acquire_u32(&a), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wait_returns_at_once_when_value_differs),
		cmocka_unit_test(test_wait_past_deadline_times_out),
		cmocka_unit_test(test_wake_without_sleepers_is_harmless),
		cmocka_unit_test(test_wake_reaches_a_sleeping_thread),
		cmocka_unit_test(test_wake_reaches_another_process),
		cmocka_unit_test(test_deadline_after_is_absolute_and_negative_means_none),
		cmocka_unit_test(test_waitv_checks_every_value),
		cmocka_unit_test(test_waitv_rejects_bad_counts),
		cmocka_unit_test(test_waitv_wakes_on_any_word),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
