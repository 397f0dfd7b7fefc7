/* Threads for tests: a group of workers over an array of arguments, started
 * and joined in one call each; and one blocking call run and timed, here or
 * on a thread of its own, for a test that must act (publish, wake, delete,
 * kill) while the call sleeps. Failing to start a thread fails the test. */
#ifndef HM_THREADS_H
#define HM_THREADS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <hermes/error.h>

/* Start fn(arg) on a thread of its own; returns it, for pthread_join. */
pthread_t ht_thread_start(void *(*fn)(void *), void *arg);

#define HT_THREADS_MAX 16

/* n (at most HT_THREADS_MAX) threads running fn, the i-th with the i-th
 * element of the array `args` (elements of `size` bytes) as its argument;
 * with size 0, every one of them with args itself. */
typedef struct ht_threads {
	pthread_t id[HT_THREADS_MAX];
	unsigned n;
} ht_threads;

void ht_threads_start(ht_threads *th, void *(*fn)(void *), void *args, size_t size, unsigned n);

/* Join every thread of th (in start order). */
void ht_threads_join(ht_threads *th);

/* One call and what it took: its result, the time it took (CLOCK_MONOTONIC)
 * and the CPU time of the thread that ran it meanwhile (a sleeping call uses
 * next to none; a spinning one, all of it). */
typedef hermes_err (*ht_call_fn)(void *ctx);

typedef struct ht_timed {
	ht_call_fn call;
	void *ctx;
	hermes_err result;
	uint64_t elapsed_ns;
	uint64_t cpu_ns;
	pthread_t thread;
} ht_timed;

/* Run call(ctx) on this thread, timed; returns its result. */
hermes_err ht_timed_run(ht_timed *t, ht_call_fn call, void *ctx);

/* Run call(ctx) on a thread of its own, timed; ht_timed_join waits for it
 * and returns its result. */
void ht_timed_start(ht_timed *t, ht_call_fn call, void *ctx);
hermes_err ht_timed_join(ht_timed *t);

/* Join t (started with ht_timed_start); fails the test unless its call
 * returned `want` within within_ns (a wake-up long before its deadline). */
void ht_timed_expect(ht_timed *t, hermes_err want, uint64_t within_ns);

#endif
