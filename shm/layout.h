/* The shared-memory layout of a Hermes bus: the descriptor every process that
 * maps the segment agrees on. Nothing here is a pointer; everything is an
 * offset from the start of the segment (or of a ring block) so that each
 * process may map the segment at a different address.
 *
 *   segment:  [hm_seg_header 4 KiB][hm_ring_desc x HM_MAX_RINGS][ring blocks ...]
 *   ring block: [hm_ring_header][hm_prod_slot x HM_MAX_PRODUCERS]
 *               [hm_sub_slot x HM_MAX_SUBSCRIBERS][hm_slot x slots]
 *               [data: capacity bytes, a power of two]
 *
 * Fields written by different parties live on different 128-byte blocks (see
 * HM_FALSE_SHARING). Every size and offset another process relies on is
 * checked with static_assert below; changing any of them means bumping
 * HM_LAYOUT_VERSION.
 */
#ifndef HM_LAYOUT_H
#define HM_LAYOUT_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "core/atomics.h"

/* "HERMESBS" read as a little-endian u64. */
#define HM_SEG_MAGIC 0x534245534d524548ULL
/* "HRMSRING" */
#define HM_RING_MAGIC 0x474e4952534d5248ULL
/* 2: ring v2 (claims recorded in the tail's owner tag and in helpers'
 * held_seq, every slot of an abandoned range marked, a sleeper bit mask
 * instead of a sleeper count, corruption counters). */
/* 3: a 32-bit user tag per message (bit 0 of meta, and an array of tags
 * after the slot array). */
#define HM_LAYOUT_VERSION 3u

#define HM_SEG_HEADER_SIZE 4096u
#define HM_MAX_RINGS 64u
#define HM_NAME_MAX 48u /* ring and bus names, including the terminating NUL */
#define HM_MAX_PRODUCERS 64u
#define HM_MAX_SUBSCRIBERS 64u
#define HM_MIN_SLOTS 64u
/* The most message slots a ring may have: 2^28 slots of 16 bytes make a
 * 4 GiB slot array, as large as the largest data area (HM_MAX_CAPACITY). */
#define HM_MAX_SLOTS (1u << 28)
#define HM_MIN_CAPACITY 4096u
#define HM_MAX_CAPACITY (1ull << 32)

/* ---- segment header ---------------------------------------------------- */

typedef struct hm_seg_header {
	/* HM_SEG_MAGIC, stored last with release by the creator once the whole
	 * header and directory are written; attach loads it with acquire. Zero
	 * means "still being created". */
	hm_atomic_u64 magic;
	uint32_t layout_version;
	uint32_t header_size;
	uint64_t segment_size;
	uint64_t dir_offset;
	uint32_t max_rings;
	uint32_t flags;
	uint64_t created_realtime_ns;
	char bus_name[64];
	uint8_t pad0_[HM_FALSE_SHARING - 112];

	/* Bump allocator for ring blocks: only the creator (the supervisor in
	 * production) advances it, with a CAS so that tests creating rings from
	 * several threads stay safe. */
	hm_atomic_u64 alloc_next;
	/* Incremented (release) after every ring creation or deletion, so a
	 * reader can tell its directory snapshot is stale. */
	hm_atomic_u64 dir_generation;
	uint8_t pad1_[HM_FALSE_SHARING - 16];

	/* Supervisor presence: pid, its start time and a heartbeat
	 * (CLOCK_MONOTONIC), written by hermesd only, read by hermes-ctl
	 * (relaxed: advisory information). */
	hm_atomic_u64 supervisor_pid;
	hm_atomic_u64 supervisor_start;
	hm_atomic_u64 supervisor_heartbeat_ns;
	uint8_t pad2_[HM_FALSE_SHARING - 24];

	/* Where the supervisor's control socket is: written by hermesd before
	 * it listens, so attach can find the run directory from the bus name
	 * alone. Empty: no supervisor has ever owned this bus. */
	char control_path[256];

	/* A random 64-bit identity chosen when the segment is created, kept
	 * across supervisor restarts: bridges and uplinks tag messages with it
	 * so a message never comes back to the bus it started on. */
	uint64_t bus_id;
	uint8_t pad3_[HM_FALSE_SHARING - 8];

	uint8_t reserved_[HM_SEG_HEADER_SIZE - 4 * HM_FALSE_SHARING - 256];
} hm_seg_header;

static_assert(sizeof(hm_seg_header) == HM_SEG_HEADER_SIZE, "segment header size");
static_assert(offsetof(hm_seg_header, magic) == 0, "magic first");
static_assert(offsetof(hm_seg_header, alloc_next) == 128, "alloc_next offset");
static_assert(offsetof(hm_seg_header, supervisor_pid) == 256, "supervisor offset");
static_assert(offsetof(hm_seg_header, control_path) == 384, "control path offset");
static_assert(offsetof(hm_seg_header, bus_id) == 640, "bus id offset");

/* ---- ring directory ---------------------------------------------------- */

enum hm_ring_state {
	HM_RING_FREE = 0,
	HM_RING_CREATING = 1,
	HM_RING_READY = 2,
	HM_RING_DELETED = 3,
};

typedef struct hm_ring_desc {
	/* hm_ring_state; READY is stored with release after the ring block is
	 * formatted, and loaded with acquire by anyone opening the ring. */
	hm_atomic_u32 state;
	uint32_t index;
	uint64_t offset; /* of the ring block, from the segment start */
	uint64_t block_size;
	char name[HM_NAME_MAX];
	uint8_t pad_[128 - 72];
} hm_ring_desc;

static_assert(sizeof(hm_ring_desc) == 128, "ring descriptor size");
static_assert(offsetof(hm_ring_desc, name) == 24, "ring name offset");

/* ---- message slots ----------------------------------------------------- */

/* Every message has a 16-byte slot at index (sequence & slot_mask), and its
 * payload in the data area. Because the slot index is derived from the
 * sequence, the word a subscriber reads is always a genuine slot word (of
 * this lap or an older one), never stale payload bytes: that is what lets
 * variable-size messages share one byte ring safely.
 *
 * `word` packs (sequence << 2) | state and is the commit point: a producer
 * writes `meta` and the payload, then stores `word` with release. A
 * subscriber expecting sequence S loads slot[S & mask].word with acquire:
 *   seq(word) <  S  -> not written yet in this lap
 *   seq(word) == S  -> look at the state
 *   seq(word) >  S  -> the ring has lapped this subscriber (overwrite rings)
 * Memory never written reads as word 0 = (seq 0, IN_PROGRESS): exactly "not
 * committed yet" for the first message of a new ring. */
enum hm_slot_state {
	HM_SLOT_IN_PROGRESS = 0, /* claimed, not yet committed */
	HM_SLOT_COMMITTED = 1,	 /* a message */
	HM_SLOT_ABANDONED = 2,	 /* this and the next count-1 sequences carry no data */
};

/* meta: bits 0..39 = data position modulo 2^40 (COMMITTED: where the payload
 * starts; ABANDONED: where the abandoned region ends); bits 40..63 = payload
 * length (COMMITTED) or the sequences left in the abandoned range, counting
 * this one (ABANDONED: every slot of an aborted or repaired claim is marked,
 * so a subscriber that starts anywhere inside the range skips the rest). Positions are
 * reconstructed against a nearby absolute position: everything a reader
 * looks at lies within one capacity (at most 2^32) of it. */
#define HM_META_POS_BITS 40
#define HM_META_POS_MASK ((1ull << HM_META_POS_BITS) - 1)
/* Positions in meta are 8-byte aligned (hm_data_bytes), so its low three bits
 * are free: bit 0 says the message carries a non-zero user tag, kept in the
 * ring's tag array at the slot's index (a u32 per slot, after the slots).
 * Untagged messages never touch that array. */
#define HM_META_TAGGED 1ull
#define HM_META_FLAGS 7ull
#define HM_MAX_MSG_LIMIT ((1u << 24) - 1)

typedef struct hm_slot {
	hm_atomic_u64 word;
	hm_atomic_u64 meta;
} hm_slot;

static_assert(sizeof(hm_slot) == 16, "message slot size");

static inline uint64_t hm_slot_word(uint64_t seq, unsigned state)
{
	return (seq << 2) | state;
}
static inline uint64_t hm_word_seq(uint64_t word)
{
	return word >> 2;
}
static inline unsigned hm_word_state(uint64_t word)
{
	return (unsigned)(word & 3u);
}
static inline uint64_t hm_meta(uint64_t pos, uint64_t len_or_count)
{
	return (pos & HM_META_POS_MASK) | (len_or_count << HM_META_POS_BITS);
}
static inline uint64_t hm_meta_len(uint64_t meta)
{
	return meta >> HM_META_POS_BITS;
}
/* The absolute position whose low 40 bits are in meta, nearest at or after
 * `base`. */
static inline uint64_t hm_meta_pos_after(uint64_t meta, uint64_t base)
{
	return base + (((meta & HM_META_POS_MASK & ~HM_META_FLAGS) - base) & HM_META_POS_MASK);
}
/* ... nearest at or before `base`. */
static inline uint64_t hm_meta_pos_before(uint64_t meta, uint64_t base)
{
	return base - ((base - (meta & HM_META_POS_MASK & ~HM_META_FLAGS)) & HM_META_POS_MASK);
}
/* The tail's high word: the next sequence and the tag of the producer that
 * moved the tail there (index + 1; 0 = none). Sequences stay below 2^56. */
#define HM_TAIL_TAG_BITS 8
#define HM_SEQ_LIMIT (1ull << 56)
static inline uint64_t hm_tail_hi(uint64_t seq, unsigned tag)
{
	return (seq << HM_TAIL_TAG_BITS) | tag;
}
static inline uint64_t hm_tail_seq(uint64_t hi)
{
	return hi >> HM_TAIL_TAG_BITS;
}
static inline unsigned hm_tail_tag(uint64_t hi)
{
	return (unsigned)(hi & ((1u << HM_TAIL_TAG_BITS) - 1));
}
static_assert(HM_MAX_PRODUCERS < (1u << HM_TAIL_TAG_BITS), "producer tags fit the tail");

/* Payload bytes are kept 8-byte aligned in the data area. */
static inline uint64_t hm_data_bytes(uint32_t payload_len)
{
	return ((uint64_t)payload_len + 7u) & ~(uint64_t)7u;
}

/* ---- ring block -------------------------------------------------------- */

typedef struct hm_ring_header {
	/* Written once by the creator before the descriptor turns READY. */
	uint64_t magic;
	uint32_t layout_version;
	uint32_t policy; /* hermes_policy */
	uint64_t capacity;
	uint32_t max_msg;
	uint32_t slots; /* message slots: a power of two */
	uint64_t prod_offset; /* from the ring block start */
	uint64_t sub_offset;
	uint64_t slot_offset;
	uint64_t data_offset;
	uint64_t created_realtime_ns;
	char name[HM_NAME_MAX];
	uint8_t pad0_[HM_FALSE_SHARING - 120];

	/* The claim point: lo = data byte position, hi = (sequence of the next
	 * message << 8) | tag, where tag = 1 + the index of the producer whose
	 * claim moved the tail here (0: nobody yet). Advanced only by hm_cas128
	 * (one atomic step per claim, for a single message or a batch). The tag
	 * is how crash repair proves who owns a claim (ring.c). */
	hm_pair tail;
	/* The exclusive-producer lease (block rings; ring.c "lease"): 0 = none,
	 * else (grant number << 8) | the holder's tag (index + 1), with
	 * HM_LEASE_REVOKING set while a second producer waits for the holder's
	 * claim in flight to finish.
	 * While a lease is held only its holder moves the tail, with plain
	 * 16-byte stores instead of hm_cas128. Beside the tail: the holder
	 * reads it at every claim from the line it writes anyway. */
	hm_atomic_u64 lease;
	/* The last lease whose revocation the holder saw (the whole word,
	 * REVOKING set), written by the holder: for revokers that cannot use
	 * membarrier. */
	hm_atomic_u64 lease_ack;
	uint8_t pad1_[HM_FALSE_SHARING - 32];

	/* The shared free-space limits: no claim may end beyond `limit` bytes
	 * or use sequences at or beyond `seq_limit`. Producers raise them
	 * (CAS-max) after scanning cursors and claims. */
	hm_atomic_u64 limit;
	hm_atomic_u64 seq_limit;
	/* Which producer / subscriber slots are taken (bit i = slot i), so a
	 * scan reads only those. Changed only when slots are taken or freed. */
	hm_atomic_u64 prod_mask;
	hm_atomic_u64 sub_mask;
	uint8_t pad2_[HM_FALSE_SHARING - 32];

	/* Sleeping subscribers announce themselves by setting their slot's bit
	 * in `sleepers`; they sleep on `futex`, which a producer bumps before
	 * FUTEX_WAKE. A bit per subscriber slot (not a count) lets the
	 * supervisor retract exactly what a dead sleeper announced. */
	hm_atomic_u64 sleepers;
	hm_atomic_u32 futex;
	/* Producers asleep on a full block ring, the same way: a bit per
	 * producer slot in `prod_sleepers`, asleep on `prod_futex`, which
	 * whoever frees room (a release, a commit, an abort, a repair) bumps
	 * before FUTEX_WAKE, only when a bit is set. */
	hm_atomic_u32 prod_futex;
	hm_atomic_u64 prod_sleepers;
	uint8_t pad3_[HM_FALSE_SHARING - 24];

	/* Rarely written ring-wide counters (supervisor repairs, limit scans),
	 * and `deleted`, set (release) when the ring is deleted. */
	hm_atomic_u64 repairs;
	hm_atomic_u64 repaired_msgs;
	hm_atomic_u64 limit_scans;
	hm_atomic_u64 dead_subscribers;
	hm_atomic_u32 deleted;
	/* Bumped (seq_cst RMW) after every subscriber join, leave or release
	 * of a dead one, then FUTEX_WAKE: what hermes_pub_wait_subscribers
	 * sleeps on. Joins are rare, so the joiner always makes the call. */
	hm_atomic_u32 sub_changes;
	/* Records that failed validation (HERMES_ECORRUPT), counted by
	 * whoever found them (relaxed RMW: advisory). */
	hm_atomic_u64 corrupt;
	/* Exclusive-producer leases taken and revoked (relaxed RMW: advisory,
	 * for hermes-ctl and tests). */
	hm_atomic_u64 lease_grants;
	hm_atomic_u64 lease_revokes;
	uint8_t pad4_[HM_FALSE_SHARING - 64];
} hm_ring_header;

static_assert(sizeof(hm_ring_header) == 5 * HM_FALSE_SHARING, "ring header size");
static_assert(offsetof(hm_ring_header, tail) == 128, "tail offset");
static_assert(offsetof(hm_ring_header, tail) % 16 == 0, "tail must be 16-byte aligned");
static_assert(offsetof(hm_ring_header, lease) == 144, "lease offset");
#define HM_LEASE_REVOKING (1ull << 63)
#define HM_LEASE_TAG(lease) ((unsigned)((lease) & 0xffu))
#define HM_LEASE_GEN_MASK (HM_LEASE_REVOKING - 0x100u)
static_assert(offsetof(hm_ring_header, limit) == 256, "limit offset");
static_assert(offsetof(hm_ring_header, sleepers) == 384, "sleepers offset");
static_assert(offsetof(hm_ring_header, prod_sleepers) == 400, "producer sleepers offset");
static_assert(HM_MAX_PRODUCERS <= 64 && HM_MAX_SUBSCRIBERS <= 64, "slot masks are 64-bit");
static_assert(offsetof(hm_ring_header, name) == 72, "ring name offset");
static_assert(offsetof(hm_ring_header, sub_changes) == 548, "subscriber changes offset");

/* A producer's slot. `owner` is the owning pid (0 = free); the rest is
 * written only by the owner, except during crash repair by the supervisor. */
typedef struct hm_prod_slot {
	hm_atomic_u64 owner;
	hm_atomic_u64 owner_start; /* process start time, to detect pid reuse */
	/* The claim being made: written before the tail CAS. It says what the
	 * producer tried to claim, not that it won: repair trusts it only when
	 * the tail's tag or `held_seq` proves the claim was won (ring.c). */
	hm_atomic_u64 intent_pos;
	hm_atomic_u64 intent_seq;
	hm_atomic_u32 intent_count;
	hm_atomic_u32 intent_bytes;
	/* 1 while a claim may be outstanding; on block rings the limit scan
	 * never lets a claim run more than one capacity ahead of it. */
	hm_atomic_u32 active;
	/* Odd while this producer scans cursors to raise the limits; a joining
	 * subscriber waits out scans that may not have seen it (ring.c). */
	hm_atomic_u32 scans;
	/* Counters (single writer: the owner; relaxed). */
	hm_atomic_u64 msgs;
	hm_atomic_u64 bytes;
	hm_atomic_u64 full_events; /* claims refused because the ring was full */
	hm_atomic_u64 aborts;
	/* The end sequence of the latest claim this producer won, recorded by
	 * the NEXT producer to move the tail past it (CAS-max, before its own
	 * tail CAS): the one field of this slot that others write. */
	hm_atomic_u64 held_seq;
	/* 1 while this producer, holding the ring's lease, is inside a claim
	 * (from its check of the lease to its tail store): a revoker waits for
	 * 0. Written by the owner; cleared by repair. */
	hm_atomic_u32 in_claim;
	uint32_t pad1a_;
	uint8_t pad1_[HM_FALSE_SHARING - 96];
} hm_prod_slot;

static_assert(sizeof(hm_prod_slot) == HM_FALSE_SHARING, "producer slot size");
static_assert(offsetof(hm_prod_slot, intent_pos) == 16, "intent offset");
static_assert(offsetof(hm_prod_slot, in_claim) == 88, "in_claim offset");

/* A subscriber's cursor. `pos`/`seq` are what it has released: producers of
 * a block ring never write data at or beyond pos + capacity, nor reuse the
 * slot of seq + slots. */
typedef struct hm_sub_slot {
	hm_atomic_u64 owner;
	hm_atomic_u64 owner_start;
	hm_atomic_u64 pos;
	hm_atomic_u64 seq;
	hm_atomic_u32 wait_mode; /* hermes_wait_mode last used, for hermes-ctl */
	/* 1 once the join is complete (release, after the cursor is safe):
	 * only joined subscribers are counted by hermes_pub_subscribers, so a
	 * publisher that saw one is sure it receives what it sends next.
	 * (Asleep: the slot's bit in the ring's `sleepers`.) */
	hm_atomic_u32 joined;
	hm_atomic_u64 msgs;
	hm_atomic_u64 bytes;
	hm_atomic_u64 lost;
	hm_atomic_u64 skipped; /* sequences of aborted or repaired records */
	hm_atomic_u64 corrupt; /* records this subscriber refused as corrupt */
	/* Durable subscribers (hermes_sub_open_durable): the key of the name
	 * (0: not durable), stored with release after the name. A durable
	 * slot outlives its owner: when the owner dies or closes, `owner`
	 * becomes HM_SUB_ORPHAN and the slot keeps its mask bit and cursor,
	 * so producers of a block ring stay held until a process adopts it
	 * (same key) or an operator drops it. */
	hm_atomic_u64 durable;
	char durable_name[32]; /* NUL-terminated; for hermes-ctl */
	uint8_t pad_[HM_FALSE_SHARING - 120];
} hm_sub_slot;

/* The owner of an orphaned durable subscriber slot (no pid is this large). */
#define HM_SUB_ORPHAN UINT64_MAX

static_assert(sizeof(hm_sub_slot) == HM_FALSE_SHARING, "subscriber slot size");
static_assert(offsetof(hm_sub_slot, pos) == 16, "cursor offset");
static_assert(offsetof(hm_sub_slot, joined) == 36, "joined flag offset");
static_assert(offsetof(hm_sub_slot, durable) == 80, "durable key offset");
static_assert(offsetof(hm_sub_slot, durable_name) == 88, "durable name offset");

#endif
