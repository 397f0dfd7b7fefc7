/* Faulting a journal file in ahead of its writer, on a thread of its own.
 * See prefault.h.
 *
 * Why a thread: a page of a shared file mapping is allocated, zeroed (the
 * file's fallocated extents read as zeros) and mapped on first touch. On the
 * development VM that runs at 0.1-1 GB/s and was 75-84 % of the recorder's
 * time (perf, bench/README.md), while the recorder's own copy and checksum
 * run at several GB/s. Done inline, every chunk stalls the writer, and with
 * it a block ring's producers; done here, the writer only stalls when it
 * overtakes the thread, and a machine with a spare core does the zeroing
 * beside it.
 *
 * The mapping's lifetime: the thread calls madvise without the lock, on a
 * mapping the writer may drop meanwhile (roll-over, close). The writer then
 * hands the unmapping to the thread (retire), which does it after that
 * madvise returns, so the thread never touches an address range that was
 * unmapped and perhaps reused. */
#include "journal/prefault.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "core/atomics.h"
#include "core/error_detail.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* The longest sleep: a lost wake-up (there should be none) costs at most
 * this much prefaulting. */
#define IDLE_NS 100000000l

struct hm_prefault {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
	uint64_t ahead;
	/* Under mu. */
	uint8_t *map; /* the mapping to fault in, NULL when none */
	uint64_t size;
	uint8_t *busy; /* the mapping a madvise runs on right now, without mu */
	uint8_t *retire; /* a mapping the writer dropped while busy: unmap it */
	uint64_t retire_size;
	bool stop;
	/* Written by the thread (under mu), read by anyone. */
	hm_atomic_u64 done;
	/* The writer's tail and the thread's "I sleep" flag: a Dekker pair,
	 * see hm_prefault_tail and want(). */
	hm_atomic_u64 tail;
	hm_atomic_u32 sleeping;
};

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Where the thread should have faulted in to (under mu). */
static uint64_t want(const hm_prefault *p)
{
	if (!p->map)
		return 0;
	return min_u64(p->size, hm_load_relaxed_u64(&p->tail) + p->ahead);
}

/* Work is worth a madvise when at least a chunk is missing, or the rest of
 * the file is. */
static bool has_work(const hm_prefault *p)
{
	uint64_t w = want(p), d = hm_load_relaxed_u64(&p->done);
	return p->map && d < w && (w - d >= HM_PREFAULT_CHUNK || w == p->size);
}

static void *run(void *arg)
{
	hm_prefault *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		if (p->retire) {
			uint8_t *m = p->retire;
			uint64_t s = p->retire_size;
			p->retire = NULL;
			pthread_mutex_unlock(&p->mu);
			munmap(m, s);
			pthread_mutex_lock(&p->mu);
			continue;
		}
		if (p->stop)
			break;
		if (!has_work(p)) {
			/* Announce the sleep, then look at the tail once more:
			 * the seq_cst fence pairs with the one in
			 * hm_prefault_tail, so either the writer sees the flag
			 * (and signals, under mu, which it cannot do before
			 * the wait below releases mu) or this load sees its
			 * new tail. */
			hm_store_relaxed_u32(&p->sleeping, 1);
			hm_fence_seq_cst();
			if (!has_work(p) && !p->retire && !p->stop) {
				struct timespec ts;
				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_nsec += IDLE_NS;
				if (ts.tv_nsec >= 1000000000l) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000l;
				}
				pthread_cond_timedwait(&p->cv, &p->mu, &ts);
			}
			hm_store_relaxed_u32(&p->sleeping, 0);
			continue;
		}
		uint8_t *m = p->map;
		uint64_t from = hm_load_relaxed_u64(&p->done);
		uint64_t len = min_u64(HM_PREFAULT_CHUNK, want(p) - from);
		p->busy = m;
		pthread_mutex_unlock(&p->mu);
		/* Failure (memory, or a kernel before 5.14) only means the
		 * writer faults these pages itself. */
		(void)madvise(m + from, len, MADV_POPULATE_WRITE);
		pthread_mutex_lock(&p->mu);
		p->busy = NULL;
		if (p->map == m && hm_load_relaxed_u64(&p->done) == from)
			hm_store_relaxed_u64(&p->done, from + len);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

hermes_err hm_prefault_start(uint64_t ahead, hm_prefault **out)
{
	*out = NULL;
	if (ahead == 0)
		return hm_fail(HERMES_EINVAL, "prefault distance is 0");
	hm_prefault *p = calloc(1, sizeof *p);
	if (!p)
		return hm_fail(HERMES_ENOMEM, "journal prefault thread");
	p->ahead = (ahead + HM_PREFAULT_CHUNK - 1) / HM_PREFAULT_CHUNK * HM_PREFAULT_CHUNK;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	int r = pthread_create(&p->th, NULL, run, p);
	if (r != 0) {
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
		free(p);
		errno = r;
		return hm_fail_errno("pthread_create", "journal prefault thread");
	}
	*out = p;
	return HERMES_OK;
}

void hm_prefault_map(hm_prefault *p, uint8_t *map, uint64_t size, uint64_t tail, uint64_t done)
{
	pthread_mutex_lock(&p->mu);
	p->map = map;
	p->size = size;
	hm_store_relaxed_u64(&p->done, min_u64(done & ~(uint64_t)4095, size));
	hm_store_relaxed_u64(&p->tail, tail);
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void hm_prefault_tail(hm_prefault *p, uint64_t tail)
{
	uint64_t was = hm_load_relaxed_u64(&p->tail);
	hm_store_relaxed_u64(&p->tail, tail);
	if (tail / HM_PREFAULT_CHUNK == was / HM_PREFAULT_CHUNK)
		return;
	/* Pairs with the fence in run(): the thread either sees this tail
	 * before it sleeps or has announced its sleep here. */
	hm_fence_seq_cst();
	if (!hm_load_relaxed_u32(&p->sleeping))
		return;
	pthread_mutex_lock(&p->mu);
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void hm_prefault_unmap(hm_prefault *p, uint8_t *map, uint64_t size)
{
	pthread_mutex_lock(&p->mu);
	if (p->map == map)
		p->map = NULL;
	if (p->busy == map) {
		/* The thread is in a madvise on it: it unmaps it after. At
		 * most one is pending: the thread takes a retired mapping
		 * before it starts another madvise. */
		p->retire = map;
		p->retire_size = size;
		pthread_mutex_unlock(&p->mu);
		return;
	}
	pthread_mutex_unlock(&p->mu);
	munmap(map, size);
}

uint64_t hm_prefault_done(const hm_prefault *p)
{
	return hm_load_relaxed_u64(&p->done);
}

void hm_prefault_stop(hm_prefault *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->th, NULL);
	if (p->retire)
		munmap(p->retire, p->retire_size);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
