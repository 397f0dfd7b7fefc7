/* Link origin tables (see origins.h). */
#include "tcp-bridge/bridge/origins.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error_detail.h"

/* The reason a state file cannot be used, in words that follow the
 * directory the caller names. A symbolic link (ELOOP under O_NOFOLLOW) is
 * refused like a file that is not ours: HERMES_EPERM. */
static hermes_err state_fail(int e)
{
	if (e == EPERM)
		return hm_fail(HERMES_EPERM,
			       "%s: the file there belongs to another user or is not private",
			       strerror(e));
	return hm_fail(e == ELOOP ? HERMES_EPERM : hm_errno_to_err(e), "%s", strerror(e));
}

hermes_err hm_state_open(const char *path, int *fd)
{
	/* Made here (O_EXCL), or made earlier by this user with mode 0600: a
	 * file another user planted, or a symbolic link, is refused. */
	*fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (*fd >= 0)
		return HERMES_OK;
	if (errno != EEXIST)
		return state_fail(errno);
	*fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (*fd < 0)
		return state_fail(errno);
	struct stat st;
	if (fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077)) {
		close(*fd);
		*fd = -1;
		return state_fail(EPERM);
	}
	return HERMES_OK;
}

/* Read the id in the locked file fd, or pick one and write it. */
static hermes_err bus_id_of(int fd, uint64_t *id)
{
	/* The first bridge of the bus picks it; the others and later runs
	 * read it. A short or zero file is made anew. */
	if (pread(fd, id, sizeof *id, 0) == (ssize_t)sizeof *id && *id != 0)
		return HERMES_OK;
	*id = 0;
	while (*id == 0)
		if (getrandom(id, sizeof *id, 0) != (ssize_t)sizeof *id)
			return state_fail(errno);
	errno = EIO; /* a short write sets none */
	if (ftruncate(fd, 0) != 0 || pwrite(fd, id, sizeof *id, 0) != (ssize_t)sizeof *id) {
		*id = 0;
		return state_fail(errno);
	}
	return HERMES_OK;
}

hermes_err hm_state_bus_id(const char *dir, const char *bus, uint64_t *id)
{
	*id = 0;
	if (!dir || !dir[0])
		return HERMES_OK;
	/* The default directory may not exist yet (the bridge's own: 0700). */
	(void)mkdir(dir, 0700);
	char path[512];
	snprintf(path, sizeof path, "%s/hermes-bridge.%s.id", dir, bus);
	int fd;
	hermes_err err = hm_state_open(path, &fd);
	if (err)
		return err;
	if (flock(fd, LOCK_EX) != 0)
		err = state_fail(errno);
	else {
		err = bus_id_of(fd, id);
		flock(fd, LOCK_UN);
	}
	close(fd);
	return err;
}

/* Map the state file at path (size bytes) of ring into *p, made anew
 * unless it holds the table of this very ring. */
static hermes_err map_file(const char *path, size_t size, const hm_ring *ring, void **p)
{
	*p = MAP_FAILED;
	int fd;
	hermes_err err = hm_state_open(path, &fd);
	if (err)
		return err;
	/* The lock serialises creation among the bridges of the bus;
	 * afterwards everything is plain atomics in the mapping. */
	if (flock(fd, LOCK_EX) != 0) {
		err = state_fail(errno);
		close(fd);
		return err;
	}
	uint64_t created = ring->hdr->created_realtime_ns;
	hm_origins_header h;
	struct stat st;
	ssize_t n = pread(fd, &h, sizeof h, 0);
	/* A file cut short would fault (SIGBUS) when its tags are touched:
	 * only one of exactly the right size is kept. */
	bool valid = n == (ssize_t)sizeof h && fstat(fd, &st) == 0 && (uint64_t)st.st_size == size &&
		     hm_load_relaxed_u64(&h.magic) == HM_ORIGINS_MAGIC &&
		     h.ring_created_ns == created && h.slots == ring->nslots;
	/* Another ring (or none) made this file: start afresh. */
	if (valid || (ftruncate(fd, 0) == 0 && ftruncate(fd, (off_t)size) == 0))
		*p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (*p == MAP_FAILED)
		err = state_fail(errno);
	else if (!valid) {
		hm_origins_header *nh = *p;
		nh->ring_created_ns = created;
		nh->slots = ring->nslots;
		/* Release: a bridge that acquires the magic (after taking the
		 * lock) sees the fields above. */
		hm_store_release_u64(&nh->magic, HM_ORIGINS_MAGIC);
	}
	flock(fd, LOCK_UN);
	close(fd);
	return err;
}

hermes_err hm_origins_open(const char *dir, const char *bus, const char *ring_name,
			   const hm_ring *ring, hm_origins **out)
{
	*out = NULL;
	hm_origins *o = calloc(1, sizeof *o);
	if (!o)
		return state_fail(ENOMEM);
	o->ring = *ring;
	o->size = HM_ORIGINS_HEADER + ring->nslots * sizeof(uint64_t);
	o->mask = ring->slot_mask;
	void *p;
	hermes_err err = HERMES_OK;
	if (dir && dir[0]) {
		char path[512];
		snprintf(path, sizeof path, "%s/hermes-bridge.%s.%s.origins", dir, bus, ring_name);
		err = map_file(path, o->size, ring, &p);
		o->in_file = true;
	} else {
		p = mmap(NULL, o->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			err = state_fail(errno);
	}
	if (err) {
		free(o);
		return err;
	}
	o->h = p;
	o->tags = (hm_atomic_u64 *)(void *)((uint8_t *)p + HM_ORIGINS_HEADER);
	*out = o;
	return HERMES_OK;
}

void hm_origins_close(hm_origins *o)
{
	if (!o)
		return;
	munmap(o->h, o->size);
	free(o);
}

typedef __typeof__(((hm_origins_header *)0)->peers[0]) peer;

/* The entry of origin, claiming a free one if needed; NULL if full. */
static peer *peer_of(hm_origins *o, uint64_t origin, bool claim)
{
	for (unsigned i = 0; i < HM_ORIGINS_PEERS; i++) {
		/* Acquire: pairs with the claiming CAS, so the entry's fields
		 * are read after it became this origin's. */
		uint64_t v = hm_load_acquire_u64(&o->h->peers[i].origin);
		if (v == origin)
			return &o->h->peers[i];
		if (v == 0) {
			if (!claim)
				return NULL;
			uint64_t expected = 0;
			if (hm_cas_acq_rel_u64(&o->h->peers[i].origin, &expected, origin) ||
			    expected == origin)
				return &o->h->peers[i];
		}
	}
	return NULL;
}

static void raise_to(hm_atomic_u64 *w, uint64_t v)
{
	/* CAS-max: several bridges of the bus may record for the same origin;
	 * the value only grows. */
	uint64_t cur = hm_load_relaxed_u64(w);
	while (cur < v && !hm_cas_acq_rel_u64(w, &cur, v))
		;
}

bool hm_origins_seen(hm_origins *o, uint64_t origin, uint64_t oseq)
{
	peer *p = peer_of(o, origin, false);
	if (!p)
		return false;
	uint64_t last = hm_load_relaxed_u64(&p->last);
	uint64_t pending = hm_load_relaxed_u64(&p->pending);
	if (pending > last) {
		/* Announced, never recorded. hm_slot_look_at acquires the word: pairs with
		 * the commit's release, as a subscriber's poll does. A word of a
		 * later lap means the ring moved on long ago: taken as committed
		 * (an abandoned claim that old is lost either way). */
		uint64_t seq = hm_load_relaxed_u64(&p->pending_seq);
		hm_at at = hm_ring_look_at(&o->ring, seq);
		if (at == HM_AT_COMMITTED || at == HM_AT_LAPPED) {
			raise_to(&p->last, pending);
			last = pending;
		}
	}
	/* Relaxed elsewhere: the entry is written by the bridge that commits
	 * for this origin, which is this one (one link per origin and ring). */
	return oseq < last;
}

void hm_origins_pending(hm_origins *o, uint64_t origin, uint64_t oseq, uint64_t seq)
{
	peer *p = peer_of(o, origin, true);
	if (!p)
		return;
	/* Relaxed: ordered before the commit's release store, like the tag. */
	hm_store_relaxed_u64(&p->pending_seq, seq);
	hm_store_relaxed_u64(&p->pending, oseq + 1);
}

void hm_origins_record(hm_origins *o, uint64_t origin, uint64_t oseq)
{
	peer *p = peer_of(o, origin, true);
	if (p)
		raise_to(&p->last, oseq + 1);
}
