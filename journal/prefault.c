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
 * unmapped and perhaps reused. A mapping dropped at any other time goes to
 * the thread as well (when no other is pending): unmapping a whole file's
 * mapping costs milliseconds, which roll-over no longer pays.
 *
 * The next file: made at roll-over, a new file cost the writer its creation,
 * its reservation (on tmpfs, posix_fallocate allocates every page) and its
 * first chunk's faults, on its own thread. The thread makes it ahead
 * (hm_prefault_prepare) under a temporary name, with the same calls the
 * writer would make, and never writes a byte of it; the writer takes it at
 * roll-over (hm_prefault_take), or makes its file itself as before when the
 * thread has not started on it. Only one of them ever creates a file at a
 * time: on a disk with room for one file, two made at once could both fail
 * (tmpfs reserves page by page), so a writer that comes while the thread is
 * creating it (next_busy) waits for that, which is its own work under way.
 * Creating it, and each chunk faulted in, runs without the lock; a chunk is
 * a madvise like any other (busy), so a file taken while one runs on it is
 * unmapped safely later. */
#include "journal/prefault.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

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
	pthread_cond_t next_cv; /* the next file's creation ended */
	pthread_t th;
	uint64_t ahead;
	/* Under mu. */
	uint8_t *map; /* the mapping to fault in, NULL when none */
	uint64_t size;
	uint8_t *busy; /* the mapping a madvise runs on right now, without mu */
	/* Mappings the writer dropped, for the thread to unmap: at most one
	 * it dropped while busy, and one it handed over otherwise. */
	struct {
		uint8_t *map;
		uint64_t size;
	} retire[2];
	unsigned nretire;
	bool stop;
	/* The next file (hm_prefault_prepare), under mu; next_busy: the
	 * thread is creating it without mu, and nobody else touches it. */
	enum { NEXT_NONE, NEXT_WANTED, NEXT_MADE } next;
	bool next_busy;
	char next_path[PATH_MAX];
	uint64_t next_size;
	uint64_t next_done;
	int next_fd;
	uint8_t *next_map;
	/* Written by the thread (under mu), read by anyone. */
	hm_atomic_u64 done;
	hm_atomic_u64 unmapped; /* mappings the thread unmapped */
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

/* The next file wants a step: made, or a chunk of its first `ahead` bytes
 * to fault in (under mu). */
static bool next_work(const hm_prefault *p)
{
	return p->next == NEXT_WANTED || (p->next == NEXT_MADE && p->next_done < min_u64(p->ahead, p->next_size));
}

/* Create, reserve and map the next file, as the writer would (without mu:
 * only this thread touches it while next_busy). false, with the file
 * removed, when any of it fails: the writer makes its file itself then, and
 * reports what it finds. */
static bool make_next(hm_prefault *p)
{
	int fd = open(p->next_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return false;
	void *m = MAP_FAILED;
	if (posix_fallocate(fd, 0, (off_t)p->next_size) == 0)
		m = mmap(NULL, p->next_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		close(fd);
		unlink(p->next_path);
		return false;
	}
	p->next_fd = fd;
	p->next_map = m;
	p->next_done = 0;
	return true;
}

static void *run(void *arg)
{
	hm_prefault *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		if (p->nretire) {
			uint8_t *m = p->retire[p->nretire - 1].map;
			uint64_t s = p->retire[--p->nretire].size;
			pthread_mutex_unlock(&p->mu);
			munmap(m, s);
			/* Relaxed, single writer (this thread): a count for tests
			 * and benchmarks, which order nothing by it. */
			hm_store_relaxed_u64(&p->unmapped, hm_load_relaxed_u64(&p->unmapped) + 1);
			pthread_mutex_lock(&p->mu);
			continue;
		}
		if (p->stop)
			break;
		if (p->next == NEXT_WANTED) {
			/* Before the current file's chunks: making it is a
			 * few system calls (on ext4; on tmpfs the
			 * reservation allocates the pages), and a writer
			 * faster than this thread at faulting still finds it
			 * made at roll-over. Its chunks come after the
			 * current file's: the writer needs those first. */
			p->next_busy = true;
			pthread_mutex_unlock(&p->mu);
			bool made = make_next(p);
			pthread_mutex_lock(&p->mu);
			p->next = made ? NEXT_MADE : NEXT_NONE;
			p->next_busy = false;
			pthread_cond_broadcast(&p->next_cv);
			continue;
		}
		if (!has_work(p) && !next_work(p)) {
			/* Announce the sleep, then look at the tail once more:
			 * the seq_cst fence pairs with the one in
			 * hm_prefault_tail, so either the writer sees the flag
			 * (and signals, under mu, which it cannot do before
			 * the wait below releases mu) or this load sees its
			 * new tail. */
			hm_store_relaxed_u32(&p->sleeping, 1);
			hm_fence_seq_cst();
			if (!has_work(p) && !next_work(p) && !p->nretire && !p->stop) {
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
		/* A chunk of the current file, else of the next one made. The
		 * writer may take the next one meanwhile (hm_prefault_take):
		 * it is then its current mapping, busy like any other. */
		bool cur = has_work(p);
		uint8_t *m = cur ? p->map : p->next_map;
		uint64_t from = cur ? hm_load_relaxed_u64(&p->done) : p->next_done;
		uint64_t len = min_u64(HM_PREFAULT_CHUNK, (cur ? want(p) : min_u64(p->ahead, p->next_size)) - from);
		p->busy = m;
		pthread_mutex_unlock(&p->mu);
		/* Failure (memory, or a kernel before 5.14) only means the
		 * writer faults these pages itself. */
		(void)madvise(m + from, len, MADV_POPULATE_WRITE);
		pthread_mutex_lock(&p->mu);
		p->busy = NULL;
		if (cur && p->map == m && hm_load_relaxed_u64(&p->done) == from)
			hm_store_relaxed_u64(&p->done, from + len);
		else if (!cur && p->next == NEXT_MADE && p->next_map == m && p->next_done == from)
			p->next_done = from + len;
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
	pthread_cond_init(&p->next_cv, NULL);
	int r = pthread_create(&p->th, NULL, run, p);
	if (r != 0) {
		pthread_cond_destroy(&p->next_cv);
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
	/* Busy: the thread is in a madvise on it and unmaps it after; at
	 * most one such is pending, as the thread takes what is retired
	 * before it starts another madvise. Otherwise the thread unmaps it
	 * too when nothing else waits (tearing down a file's worth of page
	 * tables takes milliseconds: off the writer's thread at roll-over),
	 * leaving the second slot for a busy one. */
	bool hand = p->busy == map || p->nretire == 0;
	if (hand) {
		p->retire[p->nretire].map = map;
		p->retire[p->nretire++].size = size;
		pthread_cond_signal(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	if (!hand)
		munmap(map, size);
}

uint64_t hm_prefault_unmapped(const hm_prefault *p)
{
	/* Relaxed: a sample of the thread's count (see run). */
	return hm_load_relaxed_u64(&p->unmapped);
}

void hm_prefault_prepare(hm_prefault *p, const char *path, uint64_t size)
{
	pthread_mutex_lock(&p->mu);
	if (p->next == NEXT_NONE && strlen(path) < sizeof p->next_path) {
		memcpy(p->next_path, path, strlen(path) + 1);
		p->next_size = size;
		p->next = NEXT_WANTED;
		pthread_cond_signal(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
}

bool hm_prefault_take(hm_prefault *p, int *fd, uint8_t **map, uint64_t *done)
{
	pthread_mutex_lock(&p->mu);
	while (p->next_busy)
		pthread_cond_wait(&p->next_cv, &p->mu);
	if (p->next == NEXT_WANTED)
		p->next = NEXT_NONE;
	bool ready = p->next == NEXT_MADE;
	if (ready) {
		*fd = p->next_fd;
		*map = p->next_map;
		*done = p->next_done;
		p->next = NEXT_NONE;
	}
	pthread_mutex_unlock(&p->mu);
	return ready;
}

bool hm_prefault_next_ready(hm_prefault *p, uint64_t *done)
{
	pthread_mutex_lock(&p->mu);
	bool ready = p->next == NEXT_MADE && !p->next_busy;
	*done = ready ? p->next_done : 0;
	pthread_mutex_unlock(&p->mu);
	return ready;
}

bool hm_prefault_next_pending(hm_prefault *p)
{
	pthread_mutex_lock(&p->mu);
	bool pending = p->next == NEXT_WANTED || p->next_busy;
	pthread_mutex_unlock(&p->mu);
	return pending;
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
	while (p->nretire) {
		p->nretire--;
		munmap(p->retire[p->nretire].map, p->retire[p->nretire].size);
	}
	if (p->next == NEXT_MADE) {
		munmap(p->next_map, p->next_size);
		close(p->next_fd);
		unlink(p->next_path);
	}
	pthread_cond_destroy(&p->next_cv);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
