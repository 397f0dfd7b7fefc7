/* Ring algorithm over a ring block in memory (shared or not).
 *
 * ring.c knows nothing about segments, files or the supervisor: it is handed a
 * block of memory laid out by hm_ring_format, so tests can build any state by
 * hand (half-written records, dead producers' claims) and check behaviour.
 */
#ifndef HM_RING_H
#define HM_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hermes/bus.h>

#include "shm/layout.h"

/* A process-local view of one ring block: pointers derived from the offsets
 * in its header. Cheap to copy. */
typedef struct hm_ring {
	hm_ring_header *hdr;
	hm_prod_slot *prods;
	hm_sub_slot *subs;
	hm_slot *slots;
	hm_atomic_u32 *tags; /* a user tag per slot, for metas with HM_META_TAGGED */
	uint8_t *data;
	uint64_t cap;
	uint64_t mask;
	uint64_t nslots;
	uint64_t slot_mask;
	uint32_t max_msg;
	uint32_t policy;
} hm_ring;

struct hermes_pub {
	hm_ring ring;
	hm_prod_slot *slot;
	struct hermes_bus *bus;
	uint64_t limit;	    /* cached byte limit: claims ending at or below it need no scan */
	uint64_t seq_limit; /* cached sequence limit, likewise */
	uint64_t claim_seq; /* outstanding claim's first sequence, or UINT64_MAX */
	uint32_t slot_index;
	uint32_t full;	/* the last claim found the ring full */
	uint32_t fence; /* this process could not register for membarrier: fence at commit */
	uint32_t spin;	/* checks a timed claim makes on a full ring before it sleeps */
	/* The exclusive-producer lease (ring.c): while `leased`, this
	 * publisher is the ring's only claimant and keeps the tail here. */
	uint32_t leased;
	uint32_t can_lease; /* block ring, membarrier registered, atomic 16-byte stores */
	uint64_t lease_word; /* the ring's lease word while we hold it */
	uint32_t revoking;   /* the last claim could not finish revoking a lease */
	uint32_t pad_;
	uint64_t tail_pos;
	uint64_t tail_seq;
	uint64_t claim_payload; /* payload bytes of the outstanding batch claim */
};

struct hermes_sub {
	hm_ring ring;
	hm_sub_slot *slot;
	struct hermes_bus *bus;
	uint64_t pos;	       /* data position up to which messages are consumed */
	uint64_t seq;	       /* next sequence to deliver */
	uint64_t released_pos; /* what the shared cursor says */
	uint64_t released_seq;
	uint64_t skip_until;   /* START_SEQ in the future: drop messages below it */
	uint64_t gap;	       /* sequences skipped since the last delivered message */
	uint64_t pending_lost; /* loss to report on the next poll */
	uint64_t unreleased_msgs;
	uint64_t unreleased_bytes;
	uint32_t empty_polls;
	uint32_t slot_index;
	uint32_t lost_unreleased; /* a lap overwrote messages handed out, not yet released */
	uint32_t spin;		  /* checks hermes_sub_wait makes before it yields or sleeps */
	uint32_t fence;		  /* not registered for membarrier: fence before waking producers */
	/* Nonzero while a poll must take the slow path whatever it finds: an
	 * overwrite ring, a loss to report, a START_SEQ target ahead (kept
	 * with those fields by sub_note_slow, so the fast path tests one). */
	uint32_t slow;
};

/* Is name 1..HERMES_NAME_MAX characters of [A-Za-z0-9._-]? (ring and bus
 * names) */
bool hm_name_ok(const char *name);

/* Message slots a configuration asks for (resolving 0 to the default). */
uint32_t hm_ring_slots(const hermes_ring_config *cfg);

/* Bytes a ring block needs for `capacity` data bytes and `slots` slots. */
size_t hm_ring_block_size(uint64_t capacity, uint32_t slots);

/* Check a ring configuration; on failure sets the error detail and returns
 * HERMES_EINVAL. */
hermes_err hm_ring_check_config(const hermes_ring_config *cfg);

/* Lay out an empty ring in `block` (block_size bytes, zeroed or not). */
hermes_err hm_ring_format(void *block, size_t block_size, const hermes_ring_config *cfg);

/* Build a view of a formatted ring block after validating its header. */
hermes_err hm_ring_view(hm_ring *ring, void *block, size_t block_size);

/* Take a free producer/subscriber slot for `owner` (a pid). Return the slot
 * index, or -1 when all are taken. */
int hm_ring_take_prod_slot(hm_ring *ring, uint64_t owner, uint64_t owner_start);
int hm_ring_take_sub_slot(hm_ring *ring, uint64_t owner, uint64_t owner_start);

/* Initialise publisher/subscriber state in caller memory over a taken slot. */
void hm_pub_init(hermes_pub *pub, const hm_ring *ring, int slot_index);
/* hm_sub_init joins safely or fails: HERMES_ETIMEDOUT (a producer's scan did
 * not finish: a stopped producer) or HERMES_EBUSY (the limits kept moving),
 * with a detail; the caller then gives the slot back with hm_sub_fini. */
hermes_err hm_sub_init(hermes_sub *sub, const hm_ring *ring, int slot_index, hermes_start start,
		       uint64_t seq);

/* Give the slots back (the handles are not freed). */
void hm_pub_fini(hermes_pub *pub);
void hm_sub_fini(hermes_sub *sub);

/* The tail as a consistent (position, sequence) pair; _tagged adds the tag
 * of the producer whose claim moved it there (index + 1, 0 = none). */
void hm_ring_tail(const hm_ring *ring, uint64_t *pos, uint64_t *seq);
void hm_ring_tail_tagged(const hm_ring *ring, uint64_t *pos, uint64_t *seq, unsigned *tag);

/* Sleepers announce themselves by subscriber slot bits (a sleeper then runs
 * hm_membarrier_global before its last check; see hermes_sub_wait). */
void hm_ring_sleepers_add(hm_ring_header *hdr, uint64_t bits);
void hm_ring_sleepers_remove(hm_ring_header *hdr, uint64_t bits);

/* The oldest message still retained: its sequence, and a data position at or
 * before its payload (a safe cursor for a subscriber starting there). */
void hm_ring_earliest(const hm_ring *ring, uint64_t *pos, uint64_t *seq);

/* What a slot holds for sequence `seq`, as a reader outside the ring's own
 * poll sees it (the bridge's feeds, its watcher, its origin table):
 * nothing yet (an earlier lap's word, or a claim in progress), a committed
 * message, an abandoned range, or a later lap's word (seq is gone). The
 * word is read with acquire, pairing with the producer's release at commit
 * or abort. hm_ring_ready_at: is there something at seq to move over (all
 * but HM_AT_EMPTY), on the slot of seq in `ring`; hm_ring_look_at: the
 * state there. None blocks; all may be called from any thread. hm_ring_slot
 * is the one place that maps a sequence to its slot record. */
typedef enum {
	HM_AT_EMPTY = 0,
	HM_AT_COMMITTED,
	HM_AT_ABANDONED,
	HM_AT_LAPPED,
} hm_at;
static inline hm_slot *hm_ring_slot(const hm_ring *ring, uint64_t seq)
{
	return &ring->slots[seq & ring->slot_mask];
}
hm_at hm_slot_look_at(const hm_slot *slot, uint64_t seq);
hm_at hm_ring_look_at(const hm_ring *ring, uint64_t seq);
bool hm_ring_ready_at(const hm_ring *ring, uint64_t seq);

/* Crash repair, for the supervisor: producer slot `index` belongs to a
 * process that is dead. If it provably won a claim it did not finish, mark
 * the claimed range abandoned (so subscribers skip it) or, if it died inside
 * a commit or an abort, finish that; then free the slot. Never touches a
 * claim that is not provably the dead producer's. Returns the number of
 * sequences abandoned (>= 0; -1 is no longer returned, callers may keep
 * treating it as "retry"). */
int64_t hm_ring_repair_producer(hm_ring *ring, uint32_t index);

/* Crash repair: subscriber slot `index` belongs to a dead process; free it so
 * it no longer holds back producers. */
void hm_ring_release_subscriber(hm_ring *ring, uint32_t index);

/* Can this process's publishers take a block ring's exclusive-producer
 * lease (membarrier registration works, atomic 16-byte stores, not TSan)? */
bool hm_ring_leases_possible(void);

/* Wake every sleeper of the ring, subscribers and producers (a deleted
 * ring: they return HERMES_ECLOSED). */
void hm_ring_wake_all(hm_ring *ring);

/* Would hermes_sub_poll return something now (a message, a skip, a loss, a
 * corrupt record), or was the ring deleted? Reads only: a copy of a
 * subscriber taken by its owning thread may be checked by another thread
 * (shm/waitset.c does). */
bool hm_sub_ready(hermes_sub *sub);

/* Subscribers whose join completed and who have not left (or been
 * released): hermes_pub_subscribers. */
unsigned hm_ring_subscribers(const hm_ring *ring);

/* Durable subscriber slots (layout.h, hm_sub_slot.durable). Orphan: the
 * owner of durable slot `index` died or closed it; the slot stays taken by
 * HM_SUB_ORPHAN with its cursor (still holding producers). Adopt: take the
 * orphaned slot whose key is `key` for pid (its index, or -1). hm_sub_adopt:
 * a subscriber over an adopted slot, at the cursor it had. Drop: free an
 * orphaned slot (false: it is not an orphan, or was just adopted). */
void hm_ring_orphan_subscriber(hm_ring *ring, uint32_t index);
int hm_ring_adopt_sub_slot(hm_ring *ring, uint64_t key, uint64_t pid, uint64_t pid_start);
void hm_sub_adopt(hermes_sub *sub, const hm_ring *ring, int slot_index);
bool hm_ring_drop_durable(hm_ring *ring, uint32_t index);
/* A durable slot's name, copied out of shared memory: bounded, terminated,
 * non-printable bytes as '?'. */
void hm_sub_durable_name(const hm_sub_slot *slot, char out[32]);

#if defined(HM_CRASH_HOOKS)
/* Test builds of ring.c only: die (SIGKILL) at the crash point after this
 * many more points (-1: never); how many points were passed, and the last. */
extern long hm_crash_countdown;
extern unsigned long hm_crash_hits;
extern const char *hm_crash_where;
extern bool hm_test_no_membarrier;
#endif

#endif
