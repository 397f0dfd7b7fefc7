/* Helper threads of the library and the daemons (a wait set's helper, the
 * bridge's ring watcher, the journal's prefault thread): started with every
 * signal blocked, because signals belong to the application (or to the
 * daemon's signalfd), never to a thread it did not start. Header-only. */
#ifndef HM_THREAD_H
#define HM_THREAD_H

#include <pthread.h>
#include <signal.h>

/* pthread_create with every signal blocked in the new thread (the caller's
 * mask is left as it was). Returns pthread_create's result: 0 or an errno
 * value. */
static inline int hm_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int r = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

#endif
