#include "tests/support/threads.h"

#include <time.h>

#include "tests/support/testing.h"

pthread_t ht_thread_start(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	int rc = pthread_create(&t, NULL, fn, arg);
	if (rc != 0)
		fail_msg("pthread_create: error %d", rc);
	return t;
}

void ht_threads_start(ht_threads *th, void *(*fn)(void *), void *args, size_t size, unsigned n)
{
	assert_true(n <= HT_THREADS_MAX);
	th->n = 0;
	for (unsigned i = 0; i < n; i++)
		th->id[th->n++] = ht_thread_start(fn, (char *)args + i * size);
}

void ht_threads_join(ht_threads *th)
{
	for (unsigned i = 0; i < th->n; i++)
		pthread_join(th->id[i], NULL);
	th->n = 0;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

hermes_err ht_timed_run(ht_timed *t, ht_call_fn call, void *ctx)
{
	t->call = call;
	t->ctx = ctx;
	uint64_t t0 = ht_now_ns(), c0 = thread_cpu_ns();
	t->result = call(ctx);
	t->cpu_ns = thread_cpu_ns() - c0;
	t->elapsed_ns = ht_now_ns() - t0;
	return t->result;
}

static void *timed_thread(void *arg)
{
	ht_timed *t = arg;
	ht_timed_run(t, t->call, t->ctx);
	return NULL;
}

void ht_timed_start(ht_timed *t, ht_call_fn call, void *ctx)
{
	t->call = call;
	t->ctx = ctx;
	t->result = HERMES_EINVAL;
	t->thread = ht_thread_start(timed_thread, t);
}

hermes_err ht_timed_join(ht_timed *t)
{
	pthread_join(t->thread, NULL);
	return t->result;
}

void ht_timed_expect(ht_timed *t, hermes_err want, uint64_t within_ns)
{
	assert_int_equal(ht_timed_join(t), want);
	if (t->elapsed_ns >= within_ns)
		fail_msg("the call took %.3f s, more than %.3f s", (double)t->elapsed_ns / 1e9,
			 (double)within_ns / 1e9);
}
