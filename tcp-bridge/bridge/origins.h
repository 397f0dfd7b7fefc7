/* Link origin tables: which messages of a ring came in over a link, and how
 * far each origin bus has been committed. Shared by every bridge of the bus
 * and kept across bridge restarts, in a file next to the counters:
 *
 *   <state_dir>/hermes-bridge.<bus>.<ring>.origins  (mode 0600, sparse)
 *
 *   offset 0     hm_origins_header (4 KiB): magic, the ring's creation time
 *                and slot count (a ring deleted and made again, or resized,
 *                invalidates the table), and per origin bus the highest
 *                origin sequence committed (link dedupe after a reconnect);
 *   offset 4096  uint64 tag[slots]: tag[seq & (slots-1)] == seq + 1 when the
 *                message with ring sequence seq was committed by a link.
 *
 * Split horizon depends on it: a bridge never sends a tagged message over a
 * link. A tag is written before the commit that publishes the message, so a
 * reader that sees the message sees its tag (see hm_origins_mark). */
#ifndef HM_BRIDGE_ORIGINS_H
#define HM_BRIDGE_ORIGINS_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include <hermes/error.h>

#include "core/atomics.h"
#include "shm/ring.h"

/* "HMBRORIG" read as a little-endian u64. */
#define HM_ORIGINS_MAGIC 0x4749524f52424d48ull
#define HM_ORIGINS_PEERS 64u
#define HM_ORIGINS_HEADER 4096u

typedef struct hm_origins_header {
	hm_atomic_u64 magic;	  /* stored last with release by the creator */
	uint64_t ring_created_ns; /* the ring's created_realtime_ns */
	uint64_t slots;		  /* the ring's slot count */
	uint64_t reserved;
	struct {
		hm_atomic_u64 origin;	   /* origin bus id; 0 = free entry */
		hm_atomic_u64 last;	   /* highest origin sequence committed + 1; 0 = none */
		hm_atomic_u64 pending;	   /* origin sequence + 1 being committed now */
		hm_atomic_u64 pending_seq; /* ... at this ring sequence */
	} peers[HM_ORIGINS_PEERS];
	uint8_t pad_[HM_ORIGINS_HEADER - 32 - HM_ORIGINS_PEERS * 32];
} hm_origins_header;

static_assert(sizeof(hm_origins_header) == HM_ORIGINS_HEADER, "origins header size");

typedef struct hm_origins {
	hm_ring ring;
	hm_origins_header *h;
	hm_atomic_u64 *tags;
	uint64_t mask;
	size_t size;
	bool in_file; /* mapped from the state file (else private memory) */
} hm_origins;

/* The state files below say why they cannot be used in a detail that
 * follows the directory the caller names ("... in DIR (DETAIL)"): the
 * system's reason, and for HERMES_EPERM what is wrong with the file. */

/* Map the table of ring into *out: from its state file in dir, created or
 * validated (a file of the wrong size, or of another ring, is made anew), or
 * with dir NULL or "" in process-private memory, forgotten at exit.
 * HERMES_OK; else *out is NULL and the detail says why: HERMES_EPERM for a
 * file of another user, one others may read or write, or a symbolic link
 * (none is ever mapped), or the error of a system call. The bridge then
 * keeps the table in memory (hm_server_origins). */
hermes_err hm_origins_open(const char *dir, const char *bus, const char *ring_name,
			   const hm_ring *ring, hm_origins **out);

/* Open a state file read-write into *fd: create it (O_EXCL, mode 0600), or
 * open the one there if it is a regular file (no symbolic link) of this user
 * with no group or other permissions. HERMES_OK; else *fd = -1 and
 * HERMES_EPERM (someone else's, not private, or a link) or the error of the
 * system call, with the detail. */
hermes_err hm_state_open(const char *path, int *fd);
/* The bus's random origin id into *id, kept in <dir>/hermes-bridge.<bus>.id
 * (made by the first bridge of the bus). HERMES_OK with *id = 0 without a
 * directory; an error (*id = 0) when it cannot be kept there. */
hermes_err hm_state_bus_id(const char *dir, const char *bus, uint64_t *id);
void hm_origins_close(hm_origins *o);

/* Tag seq as brought in by a link. Call before committing the message: the
 * relaxed store is ordered before the commit's release store of the slot
 * word, so a subscriber (any process) that acquires the word sees the tag. */
static inline void hm_origins_mark(hm_origins *o, uint64_t seq)
{
	hm_store_relaxed_u64(&o->tags[seq & o->mask], seq + 1);
}

/* Was seq brought in by a link? Call after the message was polled (its
 * slot word acquired), which orders this relaxed load after the tag store. */
static inline bool hm_origins_imported(const hm_origins *o, uint64_t seq)
{
	return hm_load_relaxed_u64(&o->tags[seq & o->mask]) == seq + 1;
}

/* Has origin's message oseq been committed already? A commit announced
 * with hm_origins_pending whose record never came (the bridge was killed in
 * between) is settled here by looking at the ring: if the message is there,
 * it counts as committed. */
bool hm_origins_seen(hm_origins *o, uint64_t origin, uint64_t oseq);
/* Around the commit of origin's message oseq at ring sequence seq:
 * announce it before (with the tag), record it after. */
void hm_origins_pending(hm_origins *o, uint64_t origin, uint64_t oseq, uint64_t seq);
void hm_origins_record(hm_origins *o, uint64_t origin, uint64_t oseq);

#endif
