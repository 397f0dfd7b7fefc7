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

int hm_state_open(const char *path)
{
	/* Made here (O_EXCL), or made earlier by this user with mode 0600: a
	 * file another user planted, or a symbolic link, is refused. */
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0 || errno != EEXIST)
		return fd;
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077)) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

uint64_t hm_state_bus_id(const char *dir, const char *bus)
{
	uint64_t id = 0;
	if (dir && dir[0]) {
		/* The default directory may not exist yet (the bridge's own: 0700). */
		(void)mkdir(dir, 0700);
		char path[512];
		snprintf(path, sizeof path, "%s/hermes-bridge.%s.id", dir, bus);
		int fd = hm_state_open(path);
		if (fd >= 0 && flock(fd, LOCK_EX) == 0) {
			/* The first bridge of the bus picks it; the others and
			 * later runs read it. A short or zero file is made anew. */
			if (pread(fd, &id, sizeof id, 0) != (ssize_t)sizeof id)
				id = 0;
			if (id == 0 && getrandom(&id, sizeof id, 0) == (ssize_t)sizeof id && id != 0 &&
			    (ftruncate(fd, 0) != 0 || pwrite(fd, &id, sizeof id, 0) != (ssize_t)sizeof id))
				id = 0;
			flock(fd, LOCK_UN);
		}
		if (fd >= 0)
			close(fd);
	}
	return id;
}

hm_origins *hm_origins_open(const char *dir, const char *bus, const char *ring_name,
			    const hm_ring *ring)
{
	hm_origins *o = calloc(1, sizeof *o);
	if (!o)
		return NULL;
	o->ring = *ring;
	o->size = HM_ORIGINS_HEADER + ring->nslots * sizeof(uint64_t);
	o->mask = ring->slot_mask;
	uint64_t created = ring->hdr->created_realtime_ns;
	void *p = MAP_FAILED;
	if (dir && dir[0]) {
		char path[512];
		snprintf(path, sizeof path, "%s/hermes-bridge.%s.%s.origins", dir, bus, ring_name);
		int fd = hm_state_open(path);
		/* The lock serialises creation among the bridges of the bus;
		 * afterwards everything is plain atomics in the mapping. */
		if (fd >= 0 && flock(fd, LOCK_EX) == 0) {
			hm_origins_header h;
			struct stat st;
			ssize_t n = pread(fd, &h, sizeof h, 0);
			/* A file cut short would fault (SIGBUS) when its tags are
			 * touched: only one of exactly the right size is kept. */
			bool valid = n == (ssize_t)sizeof h && fstat(fd, &st) == 0 &&
				     (uint64_t)st.st_size == o->size &&
				     hm_load_relaxed_u64(&h.magic) == HM_ORIGINS_MAGIC &&
				     h.ring_created_ns == created && h.slots == ring->nslots;
			/* Another ring (or none) made this file: start afresh. */
			if (valid || (ftruncate(fd, 0) == 0 && ftruncate(fd, (off_t)o->size) == 0))
				p = mmap(NULL, o->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			if (p != MAP_FAILED && !valid) {
				hm_origins_header *nh = p;
				nh->ring_created_ns = created;
				nh->slots = ring->nslots;
				/* Release: a bridge that acquires the magic (after
				 * taking the lock) sees the fields above. */
				hm_store_release_u64(&nh->magic, HM_ORIGINS_MAGIC);
			}
			flock(fd, LOCK_UN);
		}
		int e = errno;
		if (fd >= 0)
			close(fd);
		o->in_file = p != MAP_FAILED;
		o->file_errno = e;
		errno = e;
	}
	if (p == MAP_FAILED)
		p = mmap(NULL, o->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		free(o);
		return NULL;
	}
	o->h = p;
	o->tags = (hm_atomic_u64 *)(void *)((uint8_t *)p + HM_ORIGINS_HEADER);
	return o;
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
