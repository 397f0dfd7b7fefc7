/* The state file: create, validate, lock, and the range log. The layout and
 * the reader's protocol are in state_layout.h. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error_detail.h"
#include "core/futex.h"
#include "core/proc.h"
#include "nats-uplink/uplink.h"

static void init_header(hm_nats_state_header *h, const char *bus, uint64_t bus_id)
{
	memset(h, 0, HM_NATS_STATE_SIZE);
	h->version = HM_NATS_STATE_VERSION;
	h->header_size = sizeof(hm_nats_state_header);
	h->ring_size = sizeof(hm_nats_ring_state);
	h->max_rings = HM_NATS_STATE_MAX_RINGS;
	h->range_log = HM_NATS_RANGE_LOG;
	h->bus_id = bus_id;
	snprintf(h->bus, sizeof h->bus, "%s", bus);
	/* Release: a reader that sees the magic (acquire) sees every field
	 * above; the zeroed rings included. */
	hm_store_release_u64(&h->magic, HM_NATS_STATE_MAGIC);
}

/* Open (creating it with mode) and lock the state file into *fd;
 * HERMES_EBUSY when another uplink holds it. */
static hermes_err open_locked(const char *path, const char *bus, mode_t mode, int *fd)
{
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, mode);
	if (*fd < 0)
		return hm_fail(hm_errno_to_err(errno), "cannot open state file %s: %s", path,
			       strerror(errno));
	if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
		long pid = 0;
		struct stat st;
		if (fstat(*fd, &st) == 0 && (size_t)st.st_size >= sizeof(hm_nats_state_header)) {
			hm_nats_state_header h;
			if (pread(*fd, &h, sizeof h, 0) == (ssize_t)sizeof h)
				pid = (long)h.pid;
		}
		close(*fd);
		*fd = -1;
		return hm_fail(HERMES_EBUSY,
			       "another hermes-nats (pid %ld) is running for bus '%s' (it holds %s); one "
			       "uplink per bus carries all its rings",
			       pid, bus, path);
	}
	return HERMES_OK;
}

/* Give the locked file fd its size (HM_NATS_STATE_SIZE), and a new one mode and
 * gid; HERMES_EVERSION or HERMES_EBADSEGMENT for a file of another version or
 * size that holds our magic. */
static hermes_err size_file(int fd, const char *path, const char *bus, mode_t mode, gid_t gid)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return hm_fail(hm_errno_to_err(errno), "stat %s: %s", path, strerror(errno));
	bool fresh = st.st_size == 0;
	if (fresh) {
		if (fchmod(fd, mode) != 0 ||
		    (gid != (gid_t)-1 && gid != getegid() && fchown(fd, (uid_t)-1, gid) != 0))
			(void)0; /* best effort: the file is 0600 then */
	}
	if (!fresh && (size_t)st.st_size != HM_NATS_STATE_SIZE) {
		hm_nats_state_header h = {0};
		if (pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h && h.magic == HM_NATS_STATE_MAGIC &&
		    h.version != HM_NATS_STATE_VERSION)
			return hm_fail(HERMES_EVERSION,
				       "%s was written by another hermes-nats version (layout %u, this is "
				       "%u); stop every uplink of bus '%s' and remove it",
				       path, h.version, HM_NATS_STATE_VERSION, bus);
		/* A size we never write: a crash during the very first ftruncate, or
		 * not our file. Without our magic it holds nothing we need. */
		if (h.magic == HM_NATS_STATE_MAGIC)
			return hm_fail(HERMES_EBADSEGMENT,
				       "%s has size %lld, expected %zu; remove it (no uplink is running)",
				       path, (long long)st.st_size, (size_t)HM_NATS_STATE_SIZE);
		fresh = true;
	}
	if (fresh && ftruncate(fd, (off_t)HM_NATS_STATE_SIZE) != 0)
		return hm_fail(hm_errno_to_err(errno), "cannot size %s: %s", path, strerror(errno));
	return HERMES_OK;
}

/* The mapped header h: ours (of this layout) or zero; HERMES_EBADSEGMENT or
 * HERMES_EVERSION otherwise. */
static hermes_err header_usable(const hm_nats_state_header *h, uint64_t magic, const char *path)
{
	if (magic != 0 && magic != HM_NATS_STATE_MAGIC)
		return hm_fail(HERMES_EBADSEGMENT, "%s is not a hermes-nats state file; remove it", path);
	if (magic == HM_NATS_STATE_MAGIC &&
	    (h->version != HM_NATS_STATE_VERSION || h->header_size != sizeof(hm_nats_state_header) ||
	     h->ring_size != sizeof(hm_nats_ring_state) || h->max_rings != HM_NATS_STATE_MAX_RINGS ||
	     h->range_log != HM_NATS_RANGE_LOG))
		return hm_fail(HERMES_EVERSION,
			       "%s was written by another hermes-nats version (layout %u); remove it", path,
			       h->version);
	return HERMES_OK;
}

hermes_err hm_nats_state_open(const char *path, const char *bus, uint64_t bus_id, const char *mode_from,
			      hm_nats_state_header **out, int *fdp)
{
	mode_t mode = 0600;
	gid_t gid = (gid_t)-1;
	struct stat seg;
	if (mode_from && stat(mode_from, &seg) == 0) {
		/* Whoever may read the bus may read its uplink's counters; write
		 * access stays with the owner, and nothing is world-writable. */
		mode = (seg.st_mode & 0644) | 0600;
		gid = seg.st_gid;
	}
	*fdp = -1;
	int fd;
	hermes_err err = open_locked(path, bus, mode, &fd);
	if (err)
		return err;
	if ((err = size_file(fd, path, bus, mode, gid)) != HERMES_OK) {
		close(fd);
		return err;
	}
	void *p = mmap(NULL, HM_NATS_STATE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		err = hm_fail(hm_errno_to_err(errno), "cannot map %s: %s", path, strerror(errno));
		close(fd);
		return err;
	}
	hm_nats_state_header *h = p;
	uint64_t magic = hm_load_acquire_u64(&h->magic);
	if ((err = header_usable(h, magic, path)) != HERMES_OK) {
		munmap(p, HM_NATS_STATE_SIZE);
		close(fd);
		return err;
	}
	if (magic != HM_NATS_STATE_MAGIC || h->bus_id != bus_id) {
		if (magic == HM_NATS_STATE_MAGIC)
			hm_dlog(HM_DLOG_INFO,
			       "bus '%s' was re-created (id %016llx, state file had %016llx): "
			       "starting with fresh uplink state",
			       bus, (unsigned long long)bus_id, (unsigned long long)h->bus_id);
		/* Zero the magic first, so a reader never pairs the old magic with
		 * half-reset fields. */
		hm_store_release_u64(&h->magic, 0);
		init_header(h, bus, bus_id);
	}
	/* Nothing is configured until this run claims it. */
	for (unsigned i = 0; i < HM_NATS_STATE_MAX_RINGS; i++)
		hm_store_release_u32(&hm_nats_state_ring(h, i)->configured, 0);
	*out = h;
	*fdp = fd;
	return HERMES_OK;
}

hermes_err hm_nats_state_map_readonly(const char *path, const hm_nats_state_header **out)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return hm_fail(hm_errno_to_err(errno), "%s: %s (has hermes-nats run on this bus?)", path,
			       strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0 || (size_t)st.st_size < HM_NATS_STATE_SIZE) {
		close(fd);
		return hm_fail(HERMES_ENOTREADY, "%s: not initialised yet", path);
	}
	void *p = mmap(NULL, HM_NATS_STATE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	int e = errno;
	close(fd);
	if (p == MAP_FAILED)
		return hm_fail(hm_errno_to_err(e), "cannot map %s: %s", path, strerror(e));
	const hm_nats_state_header *h = p;
	/* Acquire pairs with init_header's release of the magic. */
	uint64_t magic = hm_load_acquire_u64(&h->magic);
	if (magic != HM_NATS_STATE_MAGIC || h->version != HM_NATS_STATE_VERSION ||
	    h->header_size != sizeof(hm_nats_state_header) || h->ring_size != sizeof(hm_nats_ring_state)) {
		munmap(p, HM_NATS_STATE_SIZE);
		return magic == 0 ? hm_fail(HERMES_ENOTREADY, "%s: not initialised yet", path)
				  : hm_fail(HERMES_EVERSION, "%s: not a state file of this version", path);
	}
	*out = h;
	return HERMES_OK;
}

void hm_nats_state_unmap(const hm_nats_state_header *h)
{
	if (h)
		munmap((void *)h, HM_NATS_STATE_SIZE);
}

hm_nats_ring_state *hm_nats_state_ring_claim(hm_nats_state_header *h, const hm_nats_ring_cfg *cfg)
{
	hm_nats_ring_state *rs = NULL;
	for (unsigned i = 0; i < HM_NATS_STATE_MAX_RINGS && !rs; i++)
		if (!strcmp(hm_nats_state_ring(h, i)->name, cfg->name))
			rs = hm_nats_state_ring(h, i);
	for (unsigned i = 0; i < HM_NATS_STATE_MAX_RINGS && !rs; i++)
		if (!hm_nats_state_ring(h, i)->name[0])
			rs = hm_nats_state_ring(h, i);
	/* All blocks hold state of rings no longer configured: reuse one. */
	for (unsigned i = 0; i < HM_NATS_STATE_MAX_RINGS && !rs; i++)
		if (!hm_load_acquire_u32(&hm_nats_state_ring(h, i)->configured)) {
			rs = hm_nats_state_ring(h, i);
			memset(rs, 0, sizeof *rs);
		}
	if (!rs)
		return NULL;
	bool same = !strcmp(rs->name, cfg->name);
	if (!same || rs->mode != cfg->mode) {
		/* A new block, or one whose mode changed: persistent positions of
		 * another mode mean nothing here. */
		memset(rs, 0, sizeof *rs);
	}
	snprintf(rs->name, sizeof rs->name, "%s", cfg->name);
	snprintf(rs->subject, sizeof rs->subject, "%s", cfg->subject);
	snprintf(rs->stream, sizeof rs->stream, "%s", cfg->stream);
	rs->dir = cfg->dir;
	rs->mode = cfg->mode;
	rs->policy = cfg->policy;
	rs->replicas = cfg->replicas;
	rs->max_pending = cfg->max_pending;
	hm_nats_set(&rs->out.state, (cfg->dir & HM_NATS_DIR_OUT) ? HM_NATS_W_WAIT_RING : HM_NATS_W_OFF);
	hm_nats_set(&rs->in.state, (cfg->dir & HM_NATS_DIR_IN) ? HM_NATS_W_WAIT_RING : HM_NATS_W_OFF);
	hm_nats_set(&rs->out.pending_bytes, 0);
	hm_nats_set(&rs->in.pending_bytes, 0);
	/* Release: readers that see `configured` (acquire) see the fields. */
	hm_store_release_u32(&rs->configured, 1);
	return rs;
}

void hm_nats_state_started(hm_nats_state_header *h, const char *prefix)
{
	snprintf(h->prefix, sizeof h->prefix, "%s", prefix);
	hm_nats_set(&h->pid, (uint64_t)getpid());
	hm_nats_set(&h->start_time, hm_proc_start_time(0));
	hm_nats_set(&h->started_ns, hm_clock_ns(CLOCK_REALTIME));
	hm_nats_set(&h->heartbeat_ns, hm_clock_ns(CLOCK_REALTIME));
	hm_nats_add(&h->runs, 1);
	hm_nats_state_conn(h, HM_NATS_CONN_STARTING, NULL, NULL);
}

void hm_nats_state_heartbeat(hm_nats_state_header *h)
{
	hm_nats_set(&h->heartbeat_ns, hm_clock_ns(CLOCK_REALTIME));
}

/* Called from the client library's callback threads as well as the main
 * thread; the mutex makes the text fields single-writer. */
static pthread_mutex_t conn_mu = PTHREAD_MUTEX_INITIALIZER;

void hm_nats_state_conn(hm_nats_state_header *h, unsigned conn_state, const char *url, const char *error)
{
	pthread_mutex_lock(&conn_mu);
	hm_nats_set(&h->conn_state, conn_state);
	hm_nats_set(&h->changed_ns, hm_clock_ns(CLOCK_REALTIME));
	if (url || error) {
		uint64_t s = hm_load_relaxed_u64(&h->text_seq);
		/* Seqlock: odd while the text changes. The release fence keeps the
		 * odd value ahead of the text for a reader that re-checks it with
		 * acquire. */
		hm_store_relaxed_u64(&h->text_seq, s + 1);
		hm_fence_release();
		if (url)
			snprintf(h->url, sizeof h->url, "%s", url);
		if (error)
			snprintf(h->last_error, sizeof h->last_error, "%s", error);
		/* Release: the text is complete before the even value shows. */
		hm_store_release_u64(&h->text_seq, s + 2);
	}
	pthread_mutex_unlock(&conn_mu);
}

/* ---- the range log ----
 *
 * Entries [head, tail) are live; entry i is rl[i % HM_NATS_RANGE_LOG]. The in
 * thread is the only writer of entries and of `tail`; the out thread the
 * only writer of `head`.
 *
 * Ordering: the in thread stores an entry (or extends the last one's `last`)
 * and then `tail`, both before it commits the messages into the ring. The
 * commit is a release store of the slot word; the out thread's poll of that
 * message is an acquire load of it. So when the out thread holds message s,
 * every range store made before s was committed is visible to it, and its
 * lookup cannot miss s.
 *
 * Extension in place: the in thread extends only entry tail-1, and the out
 * thread never trims entry tail-1 of the tail it read; since only the in
 * thread moves tail, that entry is still live while it can be extended.
 */
bool hm_nats_range_add(hm_nats_ring_state *rs, uint64_t first, uint64_t count, const atomic_bool *stop)
{
	uint64_t last = first + count - 1;
	uint64_t tail = hm_load_relaxed_u64(&rs->rl_tail.tail); /* we are its only writer */
	if (tail > hm_load_acquire_u64(&rs->rl_head.head)) {
		hm_nats_range *e = &rs->rl[(tail - 1) % HM_NATS_RANGE_LOG];
		if (hm_load_relaxed_u64(&e->last) + 1 == first) {
			/* Release: pairs with the acquire in hm_nats_range_contains (and the
			 * commit that follows orders it for the out thread anyway). */
			hm_store_release_u64(&e->last, last);
			return true;
		}
	}
	/* Full: wait for the out thread to move head. It moves as it publishes,
	 * so this waits at most as long as the out direction is held up. */
	for (;;) {
		/* Acquire pairs with the out thread's release of head: its reads
		 * of the entries we are about to reuse are done. */
		uint64_t head = hm_load_acquire_u64(&rs->rl_head.head);
		if (tail - head < HM_NATS_RANGE_LOG)
			break;
		if (atomic_load(stop))
			return false;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	hm_nats_range *e = &rs->rl[tail % HM_NATS_RANGE_LOG];
	hm_store_relaxed_u64(&e->first, first);
	hm_store_relaxed_u64(&e->last, last);
	/* Release: the entry is complete before a reader that loads tail with
	 * acquire looks at it. */
	hm_store_release_u64(&rs->rl_tail.tail, tail + 1);
	return true;
}

void hm_nats_range_cursor_init(hm_nats_ring_state *rs, hm_nats_range_cursor *cur)
{
	cur->k = hm_load_acquire_u64(&rs->rl_head.head);
}

bool hm_nats_range_contains(hm_nats_ring_state *rs, hm_nats_range_cursor *cur, uint64_t seq)
{
	/* Acquire pairs with hm_nats_range_add's release of tail. */
	uint64_t tail = hm_load_acquire_u64(&rs->rl_tail.tail);
	uint64_t head = hm_load_relaxed_u64(&rs->rl_head.head); /* we are its only writer */
	if (cur->k < head)
		cur->k = head;
	while (cur->k < tail) {
		hm_nats_range *e = &rs->rl[cur->k % HM_NATS_RANGE_LOG];
		/* Acquire pairs with the release that extends `last`. */
		uint64_t last = hm_load_acquire_u64(&e->last);
		if (last >= seq)
			return hm_load_relaxed_u64(&e->first) <= seq;
		/* Sequences only grow, so an entry we have passed stays passed; the
		 * last entry may still be extended, but only beyond seq. */
		if (cur->k + 1 == tail)
			return false;
		cur->k++;
	}
	return false;
}

void hm_nats_range_trim(hm_nats_ring_state *rs, uint64_t seq)
{
	uint64_t tail = hm_load_acquire_u64(&rs->rl_tail.tail);
	uint64_t head = hm_load_relaxed_u64(&rs->rl_head.head);
	uint64_t h = head;
	/* Never the last entry (tail - 1): the in thread may still extend it. */
	while (h + 1 < tail && hm_load_acquire_u64(&rs->rl[h % HM_NATS_RANGE_LOG].last) < seq)
		h++;
	if (h != head)
		/* Release: our reads of the trimmed entries are done before the in
		 * thread, acquiring head, reuses them. */
		hm_store_release_u64(&rs->rl_head.head, h);
}

void hm_nats_range_reset(hm_nats_ring_state *rs)
{
	/* Only at start, before either thread of the ring runs. */
	hm_store_release_u64(&rs->rl_head.head, hm_load_relaxed_u64(&rs->rl_tail.tail));
}
