/* The ring: many producers, many broadcast subscribers, variable-size
 * messages. The full argument is in docs/ARCHITECTURE.md ("The ring") and the
 * model in shm/model/; in short:
 *
 *  - Two areas: a slot array (16 bytes per message, slot = seq & mask) and a
 *    data area (payload bytes, a byte ring). A producer claims both with one
 *    16-byte CAS on the tail pair (data position, sequence + owner tag): one
 *    atomic step for a single message or a whole batch.
 *  - Before the CAS a producer records its intent (position, sequence, count,
 *    bytes) in its own slot; the tail's tag, and the record the next claimant
 *    makes for it (held_seq) before moving the tail on, prove which intent
 *    was won. Crash repair acts only on a claim proven to be the dead
 *    producer's.
 *  - Commit = store the slot word (sequence, COMMITTED) with release, head
 *    first for a batch. Abort and repair mark every slot of the range.
 *    Subscribers keep their own sequence, load the slot word with acquire,
 *    and learn "not yet", "here" or "lapped" from the sequence inside it;
 *    anything impossible is counted and reported as HERMES_ECORRUPT, never
 *    delivered. They publish their cursor (release) only when they release.
 *  - Block rings: producers never look at subscribers while there is room:
 *    each caches the limits (lowest cursor or active claim, plus
 *    capacity/slots), and scans only when a claim would pass them.
 *    Overwrite rings have no limits at all: nothing makes a producer wait.
 *  - Sleeping subscribers set their bit in `sleepers` and run a membarrier;
 *    producers read the mask after each commit (no fence) and make the
 *    FUTEX_WAKE call only when it is non-zero.
 */
#include "shm/ring.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error_detail.h"
#include "core/futex.h"

#define NO_CLAIM UINT64_MAX
#define MAX_BATCH 1024u
/* Empty polls between lap checks on overwrite rings (each check reads the
 * contended tail line). */
#define LAP_CHECK_EVERY 64u
/* Joining: how long to wait for producer scans in progress, and how many
 * times to choose a start again when the limits moved past it. */
#define JOIN_TIMEOUT_NS 2000000000ull
#define JOIN_TRIES 16u
#define JOIN_SPINS 64u
/* Default checks before sleeping: hermes_sub_wait (HERMES_WAIT_BLOCK/YIELD)
 * and a timed claim on a full block ring; hermes_sub_set_spin and
 * hermes_pub_set_spin change them per handle. */
#define WAIT_SPINS 2048u
#define CLAIM_SPINS 256u
/* Longest single sleep on an overwrite ring (a lap wakes nobody) and where
 * membarrier is unavailable (producers may not see the announcement). */
#define LAP_NAP_NS 10000000ull
#define IMPRECISE_NAP_NS 1000000ull
/* A lap can lose at most what producers published since the last poll; a
 * count beyond this (10^12) is a corrupt tail or slot, not a loss. */
#define MAX_PLAUSIBLE_LOSS (1ull << 40)

/* Crash points: a test-only hook before every store to shared memory on the
 * claim, commit, abort, repair and join paths (tests/shm/test_ring_crash.c
 * kills the process at each in turn). Compiled out of the library. */
#if defined(HM_CRASH_HOOKS)
long hm_crash_countdown = -1;
unsigned long hm_crash_hits;
const char *hm_crash_where;
bool hm_test_no_membarrier; /* revokers act as if membarrier failed */
static void crash_point(const char *where)
{
	hm_crash_hits++;
	hm_crash_where = where;
	if (hm_crash_countdown >= 0 && hm_crash_countdown-- == 0)
		raise(SIGKILL);
}
#define CRASH_POINT(where) crash_point(where)
#else
#define CRASH_POINT(where) ((void)0)
#endif

static inline hm_slot *slot_at(const hm_ring *r, uint64_t seq)
{
	return hm_ring_slot(r, seq);
}

static inline uint8_t *data_at(const hm_ring *r, uint64_t pos)
{
	return r->data + (pos & r->mask);
}

/* Sequences stay below 2^56 (the tail keeps an 8-bit tag beside them, the
 * slot word two state bits), so the difference of two nearby ones is exact
 * in 62-bit two's complement. */
static inline int64_t seq_diff(uint64_t a, uint64_t b)
{
	return (int64_t)((a - b) << 2) >> 2;
}

static inline bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static size_t prod_offset(void)
{
	return sizeof(hm_ring_header);
}
static size_t sub_offset(void)
{
	return prod_offset() + HM_MAX_PRODUCERS * sizeof(hm_prod_slot);
}
static size_t slot_offset(void)
{
	return sub_offset() + HM_MAX_SUBSCRIBERS * sizeof(hm_sub_slot);
}
static size_t tag_offset(uint32_t slots)
{
	return slot_offset() + (size_t)slots * sizeof(hm_slot);
}
static size_t data_offset(uint32_t slots)
{
	return align_up(tag_offset(slots) + (size_t)slots * sizeof(hm_atomic_u32), 4096);
}

uint32_t hm_ring_slots(const hermes_ring_config *cfg)
{
	if (cfg->slots)
		return cfg->slots;
	uint64_t s = cfg->capacity / 64;
	return (uint32_t)(s < HM_MIN_SLOTS ? HM_MIN_SLOTS : s);
}

size_t hm_ring_block_size(uint64_t capacity, uint32_t slots)
{
	return data_offset(slots) + (size_t)capacity;
}

bool hm_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > HERMES_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

hermes_err hm_ring_check_config(const hermes_ring_config *cfg)
{
	if (!cfg)
		return hm_fail(HERMES_EINVAL, "ring config is NULL");
	if (!hm_name_ok(cfg->name))
		return hm_fail(HERMES_EINVAL,
			       "ring name '%s' must be 1..%d characters of A-Z a-z 0-9 . _ -",
			       cfg->name ? cfg->name : "(null)", HERMES_NAME_MAX);
	if (!is_pow2(cfg->capacity) || cfg->capacity < HM_MIN_CAPACITY ||
	    cfg->capacity > HM_MAX_CAPACITY)
		return hm_fail(HERMES_EINVAL,
			       "ring '%s': capacity %llu must be a power of two between %u and 2^32",
			       cfg->name, (unsigned long long)cfg->capacity, HM_MIN_CAPACITY);
	if (cfg->max_msg == 0 || cfg->max_msg > cfg->capacity / 8 || cfg->max_msg > HM_MAX_MSG_LIMIT)
		return hm_fail(HERMES_EINVAL,
			       "ring '%s': max message size %u must be 1..%llu (capacity / 8, and "
			       "below 16 MiB)",
			       cfg->name, cfg->max_msg, (unsigned long long)(cfg->capacity / 8));
	if (cfg->policy != HERMES_POLICY_BLOCK && cfg->policy != HERMES_POLICY_OVERWRITE)
		return hm_fail(HERMES_EINVAL, "ring '%s': policy must be block or overwrite",
			       cfg->name);
	uint32_t slots = hm_ring_slots(cfg);
	if (!is_pow2(slots) || slots < HM_MIN_SLOTS || slots > HM_MAX_SLOTS)
		return hm_fail(HERMES_EINVAL,
			       "ring '%s': slots %u must be a power of two between %u and 2^28",
			       cfg->name, slots, HM_MIN_SLOTS);
	return HERMES_OK;
}

hermes_err hm_ring_format(void *block, size_t block_size, const hermes_ring_config *cfg)
{
	hermes_err err = hm_ring_check_config(cfg);
	if (err)
		return err;
	uint32_t slots = hm_ring_slots(cfg);
	size_t need = hm_ring_block_size(cfg->capacity, slots);
	if (block_size < need)
		return hm_fail(HERMES_EINVAL, "ring block of %zu bytes is too small (%zu)", block_size,
			       need);
	memset(block, 0, need);
	hm_ring_header *h = block;
	h->magic = HM_RING_MAGIC;
	h->layout_version = HM_LAYOUT_VERSION;
	h->policy = (uint32_t)cfg->policy;
	h->capacity = cfg->capacity;
	h->max_msg = cfg->max_msg;
	h->slots = slots;
	h->prod_offset = prod_offset();
	h->sub_offset = sub_offset();
	h->slot_offset = slot_offset();
	h->data_offset = data_offset(slots);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	h->created_realtime_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	snprintf(h->name, sizeof h->name, "%s", cfg->name);
	/* An empty ring: tail (0, 0) and one capacity / one lap of slots of
	 * room. Relaxed: nobody can see the block until the directory entry
	 * turns READY with release. */
	hm_store_relaxed_u64(&h->limit, cfg->capacity);
	hm_store_relaxed_u64(&h->seq_limit, slots);
	return HERMES_OK;
}

hermes_err hm_ring_view(hm_ring *r, void *block, size_t block_size)
{
	/* The block is shared with processes we do not trust. Validate a
	 * private copy of the header's constant part and derive everything from
	 * the copy, so a value rewritten after the check is never used. */
	hm_ring_header h;
	if ((uintptr_t)block % 16u != 0)
		return hm_fail(HERMES_EBADSEGMENT,
			       "ring block is not 16-byte aligned (its tail pair needs it)");
	if (block_size < sizeof h)
		return hm_fail(HERMES_EBADSEGMENT, "ring block of %zu bytes has no room for a header",
			       block_size);
	memcpy(&h, block, offsetof(hm_ring_header, tail));
	if (h.magic != HM_RING_MAGIC)
		return hm_fail(HERMES_EBADSEGMENT, "ring block has no ring magic");
	if (h.layout_version != HM_LAYOUT_VERSION)
		return hm_fail(HERMES_EVERSION, "ring layout version %u, expected %u",
			       h.layout_version, HM_LAYOUT_VERSION);
	if (!is_pow2(h.capacity) || h.capacity < HM_MIN_CAPACITY || h.capacity > HM_MAX_CAPACITY ||
	    !is_pow2(h.slots) || h.slots < HM_MIN_SLOTS || h.slots > HM_MAX_SLOTS ||
	    h.prod_offset != prod_offset() || h.sub_offset != sub_offset() ||
	    h.slot_offset != slot_offset() || h.data_offset != data_offset(h.slots) ||
	    h.max_msg == 0 || h.max_msg > h.capacity / 8 || h.max_msg > HM_MAX_MSG_LIMIT ||
	    (h.policy != HERMES_POLICY_BLOCK && h.policy != HERMES_POLICY_OVERWRITE) ||
	    !memchr(h.name, '\0', sizeof h.name))
		return hm_fail(HERMES_EBADSEGMENT, "ring header is inconsistent");
	/* No overflow: capacity <= 2^32 and slots <= 2^28 were checked. */
	size_t need = hm_ring_block_size(h.capacity, h.slots);
	if (block_size < need)
		return hm_fail(HERMES_ETRUNCATED, "ring block of %zu bytes, ring needs %zu",
			       block_size, need);
	uint8_t *b = block;
	r->hdr = block;
	r->prods = (hm_prod_slot *)(void *)(b + prod_offset());
	r->subs = (hm_sub_slot *)(void *)(b + sub_offset());
	r->slots = (hm_slot *)(void *)(b + slot_offset());
	r->tags = (hm_atomic_u32 *)(void *)(b + tag_offset(h.slots));
	r->data = b + data_offset(h.slots);
	r->cap = h.capacity;
	r->mask = h.capacity - 1;
	r->nslots = h.slots;
	r->slot_mask = h.slots - 1;
	r->max_msg = h.max_msg;
	r->policy = h.policy;
	return HERMES_OK;
}

static int take_slot(hm_atomic_u64 *owner, hm_atomic_u64 *start, size_t stride, unsigned n,
		     uint64_t pid, uint64_t pid_start, hm_atomic_u64 *mask)
{
	for (unsigned i = 0; i < n; i++) {
		hm_atomic_u64 *o = (hm_atomic_u64 *)(void *)((uint8_t *)owner + i * stride);
		uint64_t expected = 0;
		/* acq_rel: the acquire makes the previous owner's last writes
		 * (released when it gave the slot up) visible before we reuse
		 * the slot. */
		if (hm_load_relaxed_u64(o) == 0 && hm_cas_acq_rel_u64(o, &expected, pid)) {
			hm_atomic_u64 *s = (hm_atomic_u64 *)(void *)((uint8_t *)start + i * stride);
			hm_store_relaxed_u64(s, pid_start);
			/* seq_cst: the bit is set before this slot publishes a
			 * cursor or a claim, which scans find through the mask. */
			atomic_fetch_or_explicit(mask, 1ull << i, memory_order_seq_cst);
			return (int)i;
		}
	}
	return -1;
}

static inline void wake_producers(hm_ring *r, bool fence);

/* Give a slot back. Its mask bit goes first: a scan that skips the slot from
 * then on is right to, its owner is done with it; clearing the bit after the
 * owner could clear the bit of the next owner. The start time is cleared
 * next and the owner last, with release, so whoever takes the slot next (CAS,
 * acquire) sees start 0 until it stores its own: a supervisor looking in
 * between never pairs the new owner with the old owner's start time.
 * wake: a subscriber slot of a block ring, whose cursor held producers
 * back: producers asleep on it are woken once the mask no longer shows it
 * (what frees the room) but before the owner store, so that a process killed
 * in between leaves a slot the supervisor still releases, and wakes from
 * (found by the model: shm/model/README.md, point 4). */
static void free_slot(hm_atomic_u64 *owner, hm_atomic_u64 *start, hm_atomic_u64 *mask,
		      unsigned index, hm_ring *wake)
{
	CRASH_POINT("free: mask");
	atomic_fetch_and_explicit(mask, ~(1ull << index), memory_order_seq_cst);
	if (wake && wake->policy == HERMES_POLICY_BLOCK)
		wake_producers(wake, true);
	CRASH_POINT("free: start");
	hm_store_relaxed_u64(start, 0);
	CRASH_POINT("free: owner");
	hm_store_release_u64(owner, 0);
}

/* A new owner's counters start at 0: the run of single-writer counters
 * from first to last (adjacent in the slot; see the asserts). Relaxed:
 * published by the owner store of the take. */
static void zero_counters(hm_atomic_u64 *first, hm_atomic_u64 *last)
{
	for (hm_atomic_u64 *c = first; c <= last; c++)
		hm_store_relaxed_u64(c, 0);
}
static_assert(offsetof(hm_prod_slot, aborts) - offsetof(hm_prod_slot, msgs) == 3 * 8,
	      "producer counters msgs..aborts are adjacent");
static_assert(offsetof(hm_sub_slot, corrupt) - offsetof(hm_sub_slot, msgs) == 4 * 8,
	      "subscriber counters msgs..corrupt are adjacent");

int hm_ring_take_prod_slot(hm_ring *r, uint64_t owner, uint64_t owner_start)
{
	int i = take_slot(&r->prods[0].owner, &r->prods[0].owner_start, sizeof(hm_prod_slot),
			  HM_MAX_PRODUCERS, owner, owner_start, &r->hdr->prod_mask);
	if (i >= 0) {
		hm_prod_slot *s = &r->prods[i];
		hm_store_relaxed_u32(&s->active, 0);
		/* A previous owner killed mid-scan left it odd; a joiner waiting
		 * on that value stops when it changes. Release: orders this
		 * after the take. */
		hm_store_release_u32(&s->scans, 0);
		zero_counters(&s->msgs, &s->aborts);
		/* held_seq is left as it is: it is only ever raised (CAS-max),
		 * and what it says of the previous owner's claims lies below the
		 * end of any intent this owner can make, so repair never takes it
		 * for a record of this owner's claim. */
	}
	return i;
}

int hm_ring_take_sub_slot(hm_ring *r, uint64_t owner, uint64_t owner_start)
{
	int i = take_slot(&r->subs[0].owner, &r->subs[0].owner_start, sizeof(hm_sub_slot),
			  HM_MAX_SUBSCRIBERS, owner, owner_start, &r->hdr->sub_mask);
	if (i >= 0) {
		hm_sub_slot *s = &r->subs[i];
		zero_counters(&s->msgs, &s->corrupt);
		/* Not joined until hm_sub_init says so (a previous owner's
		 * flag was cleared when it left or was released). */
		hm_store_relaxed_u32(&s->joined, 0);
	}
	return i;
}

void hm_ring_tail(const hm_ring *r, uint64_t *pos, uint64_t *seq)
{
	unsigned tag;
	hm_ring_tail_tagged(r, pos, seq, &tag);
}

void hm_ring_tail_tagged(const hm_ring *r, uint64_t *pos, uint64_t *seq, unsigned *tag)
{
	/* The pair only changes through hm_cas128, and every change raises the
	 * sequence, so two equal reads of the high word around the read of the
	 * position prove the position belongs to it (the position alone may
	 * stand still: zero-length messages). Acquire: the caller may go on to
	 * read slots, intents and held_seq published before the tail moved. */
	for (;;) {
		uint64_t h1 = hm_load_acquire_u64(&r->hdr->tail.hi);
		uint64_t p = hm_load_acquire_u64(&r->hdr->tail.lo);
		uint64_t h2 = hm_load_acquire_u64(&r->hdr->tail.hi);
		if (h1 == h2) {
			*pos = p;
			*seq = hm_tail_seq(h1);
			*tag = hm_tail_tag(h1);
			return;
		}
	}
}

/* ---- free-space limits (block rings) ----------------------------------------- */

static void cas_max(hm_atomic_u64 *p, uint64_t want)
{
	uint64_t cur = hm_load_acquire_u64(p);
	/* acq_rel: the release hands the happens-before we established with
	 * cursors and commits to producers that take the limit from the shared
	 * word (acquire, in claim_region). */
	while (cur < want) {
		CRASH_POINT("scan: limit");
		if (hm_cas_acq_rel_u64(p, &cur, want))
			break;
	}
}

/* The lower of a (position, sequence) bound and (pos, seq), each on its own. */
static inline void lower_to(uint64_t *min_pos, uint64_t *min_seq, uint64_t pos, uint64_t seq)
{
	if (pos < *min_pos)
		*min_pos = pos;
	if (seq_diff(seq, *min_seq) < 0)
		*min_seq = seq;
}

/* Scan claims and cursors and raise the shared limits. Slow path: runs about
 * once per lap when subscribers keep up. Block rings only: overwrite rings
 * have no limits, so that nothing (a held claim, a stopped producer) can
 * ever make their producers wait.
 *
 * The scan is bracketed by `self->scans` (odd while scanning) for the sake of
 * joining subscribers; see hm_sub_init. */
static void refresh_limits(hm_ring *r, hm_prod_slot *self)
{
	hm_ring_header *h = r->hdr;
	uint64_t min_pos, min_seq;
	/* seq_cst RMW, then a seq_cst fence before reading masks and cursors:
	 * pairs with the joiner's store-cursor / fence / load-scans. Either our
	 * loads see its cursor, or its load sees this scan in progress. */
	CRASH_POINT("scan: begin");
	hm_fetch_add_seq_cst_u32(&self->scans, 1);
	hm_fence_seq_cst();
	/* Acquire (inside): pairs with the release half of every claim CAS, so
	 * any claim older than this tail has its intent and `active` visible. */
	hm_ring_tail(r, &min_pos, &min_seq);
	/* Only taken slots: the masks are set before a slot claims or
	 * publishes a cursor (seq_cst, in take_slot). */
	for (uint64_t m = hm_load_acquire_u64(&h->prod_mask); m; m &= m - 1) {
		hm_prod_slot *s = &r->prods[__builtin_ctzll(m)];
		/* Acquire: pairs with the release store of active = 0 at
		 * commit, so the committed message's writes happen before
		 * anything we later write over them. An intent that is stale
		 * or torn only holds the limits lower than needed: safe. */
		if (hm_load_acquire_u32(&s->active)) {
			lower_to(&min_pos, &min_seq, hm_load_relaxed_u64(&s->intent_pos),
				 hm_load_relaxed_u64(&s->intent_seq));
		}
	}
	for (uint64_t m = hm_load_acquire_u64(&h->sub_mask); m; m &= m - 1) {
		hm_sub_slot *s = &r->subs[__builtin_ctzll(m)];
		/* Acquire: pairs with the subscriber's release of its cursor, so
		 * its reads of the messages before it happen before our
		 * overwrite. The subscriber stores seq before pos (release), so
		 * seq is at least as new as pos. */
		uint64_t c = hm_load_acquire_u64(&s->pos);
		lower_to(&min_pos, &min_seq, c, hm_load_relaxed_u64(&s->seq));
	}
	cas_max(&h->limit, min_pos + r->cap);
	cas_max(&h->seq_limit, min_seq + r->nslots);
	hm_fetch_add_relaxed_u64(&h->limit_scans, 1);
	/* Release (RMW): a joiner that sees the scan over also sees the
	 * limits it raised. */
	CRASH_POINT("scan: end");
	atomic_fetch_add_explicit(&self->scans, 1, memory_order_release);
}

/* ---- producers ------------------------------------------------------------- */

static bool atomic_pair_store_ok(void);

void hm_pub_init(hermes_pub *p, const hm_ring *r, int slot_index)
{
	memset(p, 0, sizeof *p);
	p->ring = *r;
	p->slot_index = (uint32_t)slot_index;
	p->slot = &p->ring.prods[slot_index];
	p->claim_seq = NO_CLAIM;
	p->spin = CLAIM_SPINS;
	p->fence = !hm_membarrier_register();
	p->can_lease = r->policy == HERMES_POLICY_BLOCK && !p->fence && atomic_pair_store_ok();
	if (r->policy == HERMES_POLICY_BLOCK) {
		/* Acquire: pairs with cas_max's release; see there. */
		p->limit = hm_load_acquire_u64(&r->hdr->limit);
		p->seq_limit = hm_load_acquire_u64(&r->hdr->seq_limit);
	}
	/* Overwrite rings: limits of 0 send the first claim to the slow path,
	 * which sets the next check point one lap ahead (claim_region). */
}

static inline bool fits(const hermes_pub *p, uint64_t end, uint64_t seq_end)
{
	return end <= p->limit && seq_diff(seq_end, p->seq_limit) <= 0;
}

/* Where a claim of `total` bytes may start at or after `at`: a claim never
 * wraps inside the data area; if it does not fit before the end, it starts
 * at the next lap. */
static inline uint64_t place(const hm_ring *r, uint64_t at, uint64_t total)
{
	uint64_t off = at & r->mask;
	return off + total > r->cap ? at + (r->cap - off) : at;
}

/* Overwrite rings: producers never wait, but never write over the bytes of a
 * claim that is still held either (its owner may be writing into it now, or
 * resume from a stop and do so later): a claim that would overlap a held
 * claim's bytes one lap (or more) on starts just after them instead, leaving
 * a hole readers never see. Moves *at; sets the producer's cached limit to
 * the next such obstacle (or one lap on from `tail`, beyond which claims made
 * after this look may lie). HERMES_EAGAIN only if held claims cover a whole
 * lap. The intents read here may be stale or torn: that only makes a hole
 * where none was needed. */
static hermes_err skip_held(hermes_pub *p, uint64_t tail, uint64_t *at, uint64_t total)
{
	hm_ring *r = &p->ring;
	uint64_t start = *at, limit;
	/* Acquire fence: the relaxed tail read our caller made happens before
	 * the reads of `active` and intents below, so every claim older than
	 * that tail shows (the claim CAS is a release). */
	hm_fence_acquire();
	for (unsigned round = 0;; round++) {
		bool moved = false;
		limit = tail + r->cap;
		for (uint64_t m = hm_load_acquire_u64(&r->hdr->prod_mask); m; m &= m - 1) {
			unsigned j = (unsigned)__builtin_ctzll(m);
			hm_prod_slot *o = &r->prods[j];
			/* Acquire: pairs with the release of active = 0 at commit. */
			if (j == p->slot_index || !hm_load_acquire_u32(&o->active))
				continue;
			uint64_t hs = hm_load_relaxed_u64(&o->intent_pos);
			uint64_t hb = hm_load_relaxed_u32(&o->intent_bytes);
			if (hb == 0 || hb > r->cap || hs + hb > *at)
				continue; /* nothing to skip, or not behind us */
			/* The held bytes' instance at or before *at, and the next. */
			uint64_t s0 = hs + (*at - hs) / r->cap * r->cap, s1 = s0 + r->cap;
			if (s0 + hb > *at) {
				*at = place(r, s0 + hb, total);
				moved = true;
			} else if (s1 < *at + total) {
				*at = place(r, s1 + hb, total);
				moved = true;
			} else if (s1 < limit) {
				limit = s1;
			}
		}
		if (*at - start > r->cap)
			return HERMES_EAGAIN;
		if (!moved || round > HM_MAX_PRODUCERS)
			break;
	}
	p->limit = limit;
	return HERMES_OK;
}

/* The claim needs room beyond the cached limits. Block rings: take the
 * shared limits, scan if they are short too, else report the ring full.
 * Overwrite rings never wait for anyone (skip_held). Both look, about once a
 * lap, whether the ring was deleted. */
__attribute__((noinline)) static hermes_err claim_slow(hermes_pub *p, uint64_t tail, uint64_t *at, uint64_t total,
			     uint64_t seq_end)
{
	hm_ring *r = &p->ring;
	hm_ring_header *h = r->hdr;
	uint64_t end = *at + total;
	/* Relaxed: advisory. A deleted ring stops taking messages the next
	 * time a producer runs out of cached room (about once a lap), without
	 * a check on every claim. */
	if (hm_load_relaxed_u32(&h->deleted))
		return HERMES_ECLOSED;
	/* Sequences end at 2^56 (the tail's tag shares their word): a ring
	 * that gets there (2 years at 10^9 messages a second) is full for
	 * good. The cached sequence limit never goes beyond it. */
	if (seq_end > HM_SEQ_LIMIT)
		return HERMES_ENOSPC;
	if (r->policy == HERMES_POLICY_OVERWRITE) {
		p->seq_limit = seq_end + r->nslots < HM_SEQ_LIMIT ? seq_end + r->nslots : HM_SEQ_LIMIT;
		return skip_held(p, tail, at, total);
	}
	/* Acquire: pairs with cas_max's release. */
	p->limit = hm_load_acquire_u64(&h->limit);
	p->seq_limit = hm_load_acquire_u64(&h->seq_limit);
	if (!fits(p, end, seq_end)) {
		refresh_limits(r, p->slot);
		p->limit = hm_load_acquire_u64(&h->limit);
		p->seq_limit = hm_load_acquire_u64(&h->seq_limit);
	}
	if (p->seq_limit > HM_SEQ_LIMIT)
		p->seq_limit = HM_SEQ_LIMIT;
	if (fits(p, end, seq_end))
		return HERMES_OK;
	/* Count times the ring filled up, not retries. */
	if (!p->full)
		hm_store_relaxed_u64(&p->slot->full_events,
				     hm_load_relaxed_u64(&p->slot->full_events) + 1);
	p->full = 1;
	return HERMES_EAGAIN;
}

/* Record that producer j won the claim that ended at end_seq (the tail says
 * so: its tag is j's). Must happen before our own tail CAS moves the tail
 * away from that value, or a repair after j's death could no longer prove
 * the claim was j's. CAS-max: a helper that was preempted must never lower
 * a later record. acq_rel: the release half, and the full barrier of the
 * tail CAS after it, order this before the tail moves; a repairer that
 * acquires the moved tail sees it. */
__attribute__((noinline)) static void record_claim(hm_ring *r, unsigned j, uint64_t end_seq)
{
	hm_atomic_u64 *held = &r->prods[j].held_seq;
	uint64_t cur = hm_load_relaxed_u64(held);
	while (seq_diff(cur, end_seq) < 0) {
		CRASH_POINT("claim: record");
		if (hm_cas_acq_rel_u64(held, &cur, end_seq))
			break;
	}
}

/* The intent: what this producer is about to claim. Count and bytes go
 * first and the sequence last, so a producer killed half-way through
 * rewriting its intent leaves one that names its previous, resolved claim or
 * none (see "won" in hm_ring_repair_producer). The position is where the data
 * starts (after any padding); the claim ends at pos + bytes. Relaxed stores:
 * the tail's move after them is a release (the CAS, or the lease holder's
 * store), so whoever observes the new tail (acquire) observes these too. */
static inline __attribute__((always_inline)) void write_intent(hm_prod_slot *s, uint32_t n,
							      uint64_t total, uint64_t at,
							      uint64_t seq)
{
	CRASH_POINT("claim: intent count");
	hm_store_relaxed_u32(&s->intent_count, n);
	CRASH_POINT("claim: intent bytes");
	hm_store_relaxed_u32(&s->intent_bytes, (uint32_t)total);
	CRASH_POINT("claim: intent pos");
	hm_store_relaxed_u64(&s->intent_pos, at);
	CRASH_POINT("claim: intent seq");
	hm_store_relaxed_u64(&s->intent_seq, seq);
	CRASH_POINT("claim: active");
	hm_store_relaxed_u32(&s->active, 1);
}

/* ---- the exclusive-producer lease (block rings) --------------------------------
 *
 * A block ring with one producer does not need a CAS to claim: while that
 * producer holds the ring's lease, it alone moves the tail, with a plain
 * (release) 16-byte store, from a copy of the tail it keeps. A second producer
 * revokes the lease before its first claim:
 *
 *   holder (each claim)                   revoker
 *   in_claim = 1           relaxed        lease = tag | REVOKING   CAS, seq_cst
 *   (compiler barrier)                    membarrier(GLOBAL_EXPEDITED)
 *   if lease != tag: give up, CAS path    wait until in_claim == 0   acquire
 *   intent; tail = new     release        lease = 0                 CAS
 *   in_claim = 0           release        claim with the CAS, reading the tail
 *
 * The barrier runs in the holder's thread somewhere between the revoker's
 * store and its first load of in_claim. If it ran before the holder's load of
 * the lease, the holder sees the revocation and writes nothing; if after, the
 * holder's in_claim = 1 came before it, so the revoker sees 1 until the
 * holder's tail store is visible (the release of in_claim = 0). Either way no
 * plain store of the holder lands after the revoker read the tail. A revoker
 * whose membarrier fails waits instead for the holder's acknowledgement
 * (`lease_ack`, stored by the holder when it sees the revocation at its next
 * claim). The holder takes the lease only when it is the only producer: it
 * sets the lease (seq_cst CAS) and then reads the producer mask (seq_cst); a
 * new producer sets its mask bit (seq_cst) before it reads the lease, so one
 * of the two sees the other. Repair of a dead holder resolves its claim from
 * its intent and the tail exactly as for the CAS path (the tail carries its
 * tag), then clears in_claim and the lease. Leases need membarrier (the
 * holder's process registered), x86-64 with AVX (whose aligned 16-byte
 * stores are atomic, Intel SDM vol. 3A 9.1.1; AMD APM vol. 2 7.3.2) and a
 * block ring (an overwrite ring's producers never wait, not even for a
 * holder stopped inside a claim). TSan builds never lease. */
/* How long a revoker waits for the holder's claim in flight: the window is a
 * few instructions, so only a preempted or stopped holder takes longer; then
 * the claim answers HERMES_EAGAIN (never blocks) and timed claims retry. */
#define LEASE_WAIT_NS 100000ull
#define LEASE_SPINS 128u

static const char *ring_name(const hm_ring *r, char buf[HM_NAME_MAX]);

static bool atomic_pair_store_ok(void)
{
#if defined(__x86_64__) && !defined(HERMES_TSAN)
	return __builtin_cpu_supports("avx");
#else
	return false;
#endif
}

bool hm_ring_leases_possible(void)
{
	return atomic_pair_store_ok() && hm_membarrier_register();
}

/* The holder's tail store: both halves in one atomic step, a release. */
static inline void store_tail(hm_pair *t, uint64_t lo, uint64_t hi)
{
#if defined(__x86_64__) && !defined(HERMES_TSAN)
	__attribute__((vector_size(16))) long long v = {(long long)lo, (long long)hi};
	/* The "memory" clobber keeps the intent's stores before it; x86 stores
	 * are not reordered with older stores. */
	__asm__ __volatile__("vmovdqa %1, %0" : "=m"(*t) : "x"(v) : "memory");
#else
	(void)t;
	(void)lo;
	(void)hi;
	__builtin_trap(); /* never leased here (atomic_pair_store_ok) */
#endif
}

/* Take the lease if this producer is the ring's only one. */
__attribute__((noinline)) static void lease_try(hermes_pub *p)
{
	hm_ring *r = &p->ring;
	hm_ring_header *h = r->hdr;
	uint64_t me = 1ull << p->slot_index, none = 0;
	/* A new grant number each time, so an acknowledgement (lease_ack)
	 * names one revocation. */
	uint64_t gen = hm_load_relaxed_u64(&h->lease_grants) + 1;
	uint64_t mine = ((gen << 8) & HM_LEASE_GEN_MASK) | (p->slot_index + 1);
	/* seq_cst CAS, then a seq_cst load of the mask: pairs with a new
	 * producer's mask RMW and its seq_cst load of the lease. */
	CRASH_POINT("lease: take");
	if (!atomic_compare_exchange_strong_explicit(&h->lease, &none, mine, memory_order_seq_cst,
						     memory_order_relaxed))
		return;
	if (atomic_load_explicit(&h->prod_mask, memory_order_seq_cst) != me) {
		/* Someone else is here (or arriving): give it back. A revoker
		 * may have turned it into REVOKING already: then it is its. */
		CRASH_POINT("lease: give back");
		atomic_compare_exchange_strong_explicit(&h->lease, &mine, 0, memory_order_seq_cst,
							memory_order_relaxed);
		return;
	}
	unsigned tag;
	/* Acquire (inside): every earlier claim's tail, ours included. */
	hm_ring_tail_tagged(r, &p->tail_pos, &p->tail_seq, &tag);
	p->lease_word = mine;
	p->leased = 1;
	hm_fetch_add_relaxed_u64(&h->lease_grants, 1);
}

/* The holder found its lease revoked (at the start of a claim, outside any
 * exclusive claim): acknowledge, and claim with the CAS from now on. */
__attribute__((noinline, cold)) static void lease_lost(hermes_pub *p)
{
	hm_prod_slot *s = p->slot;
	p->leased = 0;
	CRASH_POINT("lease: out");
	hm_store_release_u32(&s->in_claim, 0);
	/* Release: pairs with the revoker's acquire of the acknowledgement. */
	CRASH_POINT("lease: ack");
	hm_store_release_u64(&p->ring.hdr->lease_ack, p->lease_word | HM_LEASE_REVOKING);
}

/* A claim of the lease holder. Returns false when the lease was revoked
 * (nothing written; claim with the CAS), else true with *err set. */
static inline __attribute__((always_inline)) bool
claim_exclusive(hermes_pub *p, uint64_t total, uint32_t n, uint64_t *start, uint64_t *seq_out,
		hermes_err *err)
{
	hm_ring *r = &p->ring;
	hm_ring_header *h = r->hdr;
	hm_prod_slot *s = p->slot;
	CRASH_POINT("claim: in");
	hm_store_relaxed_u32(&s->in_claim, 1);
	/* Compiler order only: the revoker's membarrier is the fence. */
	atomic_signal_fence(memory_order_seq_cst);
	/* Relaxed: see the protocol above. */
	if (__builtin_expect(hm_load_relaxed_u64(&h->lease) != p->lease_word, 0)) {
		lease_lost(p);
		return false;
	}
	uint64_t seq = p->tail_seq;
	uint64_t at = place(r, p->tail_pos, total);
	if (!fits(p, at + total, seq + n)) {
		*err = claim_slow(p, p->tail_pos, &at, total, seq + n);
		if (*err) {
			/* Release: as below. */
			CRASH_POINT("claim: out");
			hm_store_release_u32(&s->in_claim, 0);
			return true;
		}
	}
	uint64_t end = at + total;
	write_intent(s, n, total, at, seq);
	CRASH_POINT("claim: tail");
	store_tail(&h->tail, end, hm_tail_hi(seq + n, p->slot_index + 1));
	p->tail_pos = end;
	p->tail_seq = seq + n;
	/* Release: a revoker that acquires 0 sees our tail. */
	CRASH_POINT("claim: out");
	hm_store_release_u32(&s->in_claim, 0);
	p->full = 0;
	*start = at;
	*seq_out = seq;
	*err = HERMES_OK;
	return true;
}

/* The revoker's barrier on the holder's thread (test builds can make it
 * fail, to take the acknowledgement path). */
static bool revoker_barrier(void)
{
#if defined(HM_CRASH_HOOKS)
	if (hm_test_no_membarrier)
		return false;
#endif
	return hm_membarrier_global();
}

/* A producer holds the lease (`lease`, as read): revoke it, and wait until
 * its claim in flight, if any, is over. HERMES_OK when the CAS path may go on
 * (the lease is gone, or changed: look again), HERMES_EAGAIN when the holder
 * did not finish in time (preempted or stopped inside a claim: retry; a dead
 * one is repaired by the supervisor). */
__attribute__((noinline)) static hermes_err lease_revoke(hermes_pub *p, uint64_t lease)
{
	hm_ring_header *h = p->ring.hdr;
	unsigned holder = HM_LEASE_TAG(lease);
	p->revoking = 0;
	if (holder == 0 || holder > HM_MAX_PRODUCERS) {
		/* Not a producer's tag: scribbled. Clear it (nobody can hold
		 * it, so nobody writes the tail without the CAS). */
		hm_fetch_add_relaxed_u64(&h->corrupt, 1);
		atomic_compare_exchange_strong_explicit(&h->lease, &lease, 0, memory_order_seq_cst,
							memory_order_relaxed);
		return HERMES_OK;
	}
	if (!(lease & HM_LEASE_REVOKING)) {
		uint64_t want = lease | HM_LEASE_REVOKING;
		CRASH_POINT("lease: revoke");
		if (!atomic_compare_exchange_strong_explicit(&h->lease, &lease, want,
							     memory_order_seq_cst,
							     memory_order_relaxed))
			return HERMES_OK; /* it changed: look again */
		lease = want;
	}
	/* Our own lease (we saw it revoked at this claim's start): no claim
	 * of ours is in flight. */
	bool precise = holder == p->slot_index + 1 || revoker_barrier();
	hm_prod_slot *hs = &p->ring.prods[holder - 1];
	uint64_t deadline = 0;
	/* Acquire: pairs with the holder's release of in_claim = 0 (or of its
	 * acknowledgement), making its last tail store visible. */
	for (unsigned spins = 0; precise ? hm_load_acquire_u32(&hs->in_claim) != 0
					 : hm_load_acquire_u64(&h->lease_ack) != lease;
	     spins++) {
		if (hm_load_relaxed_u64(&h->lease) != lease)
			return HERMES_OK; /* released, repaired, or another revoker's */
		if (spins < LEASE_SPINS) {
			hm_cpu_relax();
			continue;
		}
		/* Preempted, or sharing our CPU: let it run, a little while. */
		uint64_t now = hm_now_ns();
		if (!deadline)
			deadline = now + LEASE_WAIT_NS;
		if (now >= deadline) {
			p->revoking = 1;
			char name[HM_NAME_MAX];
			return hm_fail(HERMES_EAGAIN,
				       "ring '%s': its exclusive producer is inside a claim "
				       "(preempted or stopped); retry",
				       ring_name(&p->ring, name));
		}
		sched_yield();
	}
	CRASH_POINT("lease: end");
	if (atomic_compare_exchange_strong_explicit(&h->lease, &lease, 0, memory_order_seq_cst,
						    memory_order_relaxed))
		hm_fetch_add_relaxed_u64(&h->lease_revokes, 1);
	return HERMES_OK;
}

/* Claim `total` data bytes for n messages; on success *start is where the
 * first payload goes and *seq_out its sequence. */
static inline __attribute__((always_inline)) hermes_err
claim_region(hermes_pub *p, uint64_t total, uint32_t n, uint64_t *start,
			       uint64_t *seq_out)
{
	hm_ring *r = &p->ring;
	hm_ring_header *h = r->hdr;
	hm_prod_slot *s = p->slot;
	const unsigned tag = p->slot_index + 1;
	hermes_err err;
	if (p->leased && claim_exclusive(p, total, n, start, seq_out, &err))
		return err;
	if (p->can_lease && !p->leased &&
	    hm_load_relaxed_u64(&h->prod_mask) == (1ull << p->slot_index)) {
		lease_try(p);
		if (p->leased && claim_exclusive(p, total, n, start, seq_out, &err))
			return err;
	}
	/* Relaxed: a torn or stale pair only makes the CAS below fail and
	 * hand us the current value. */
	uint64_t pos = hm_load_relaxed_u64(&h->tail.lo);
	uint64_t hi = hm_load_relaxed_u64(&h->tail.hi);
	for (;;) {
		/* seq_cst: after our mask bit (set at open), before the CAS;
		 * see the lease protocol above. */
		uint64_t lease = atomic_load_explicit(&h->lease, memory_order_seq_cst);
		if (__builtin_expect(lease != 0, 0)) {
			err = lease_revoke(p, lease);
			if (err) {
				CRASH_POINT("claim: inactive");
				hm_store_release_u32(&s->active, 0);
				return err;
			}
			pos = hm_load_relaxed_u64(&h->tail.lo);
			hi = hm_load_relaxed_u64(&h->tail.hi);
			continue;
		}
		uint64_t seq = hm_tail_seq(hi);
		uint64_t at = place(r, pos, total);
		if (!fits(p, at + total, seq + n)) {
			err = claim_slow(p, pos, &at, total, seq + n);
			if (err) {
				/* Release: we hold nothing now; see commit. */
				CRASH_POINT("claim: inactive");
				hm_store_release_u32(&s->active, 0);
				return err;
			}
		}
		uint64_t end = at + total;
		/* The intent, then the CAS (a release). */
		write_intent(s, n, total, at, seq);
		unsigned prev = hm_tail_tag(hi);
		if (prev != 0 && prev != tag)
			record_claim(r, prev - 1, seq);
		CRASH_POINT("claim: tail");
		if (hm_cas128(&h->tail, &pos, &hi, end, hm_tail_hi(seq + n, tag))) {
			p->full = 0;
			if (r->policy == HERMES_POLICY_OVERWRITE) {
				/* A lapped reader validates by reading the tail
				 * after the data: our data stores must not become
				 * visible before the tail moved. */
				hm_fence_release();
			}
			*start = at;
			*seq_out = seq;
			return HERMES_OK;
		}
	}
}

/* The meta of a message at pos, and its tag stored when it has one (a tag
 * of 0 is no tag: nothing more is written). Relaxed: published by the
 * release of the word at commit. */
static inline __attribute__((always_inline)) void put_meta(hm_ring *r, uint64_t seq, uint64_t pos,
							  uint32_t len, uint32_t tag)
{
	uint64_t meta = hm_meta(pos, len);
	if (tag) {
		CRASH_POINT("claim: tag");
		hm_store_relaxed_u32(&r->tags[seq & r->slot_mask], tag);
		meta |= HM_META_TAGGED;
	}
	CRASH_POINT("claim: meta");
	hm_store_relaxed_u64(&slot_at(r, seq)->meta, meta);
}

/* The bodies of hermes_pub_claim and hermes_pub_commit, inline so that
 * hermes_pub_send (and the exported calls themselves) pay no call overhead:
 * exported functions of a shared library are not inlined into each other. */
static inline __attribute__((always_inline)) hermes_err pub_claim(hermes_pub *p, uint32_t len,
								  uint32_t tag, hermes_claim *c)
{
	if (len > p->ring.max_msg)
		return HERMES_EMSGSIZE;
	if (p->claim_seq != NO_CLAIM)
		return HERMES_EINVAL;
	uint64_t bytes = hm_data_bytes(len), pos, seq;
	hermes_err err = claim_region(p, bytes, 1, &pos, &seq);
	if (err)
		return err;
	put_meta(&p->ring, seq, pos, len, tag);
	p->claim_seq = seq;
	c->data = data_at(&p->ring, pos);
	c->len = len;
	c->n_ = 1;
	c->pos_ = pos;
	c->seq_ = seq;
	c->bytes_ = bytes;
	return HERMES_OK;
}

hermes_err hermes_pub_claim(hermes_pub *p, uint32_t len, hermes_claim *c)
{
	return pub_claim(p, len, 0, c);
}

hermes_err hermes_pub_claim_tagged(hermes_pub *p, uint32_t len, uint32_t tag, hermes_claim *c)
{
	return pub_claim(p, len, tag, c);
}

hermes_err hermes_pub_claim_batch(hermes_pub *p, const uint32_t *lens, uint32_t n, void **ptrs,
				  hermes_claim *c)
{
	return hermes_pub_claim_batch_tagged(p, lens, NULL, n, ptrs, c);
}

hermes_err hermes_pub_claim_batch_tagged(hermes_pub *p, const uint32_t *lens, const uint32_t *tags,
					 uint32_t n, void **ptrs, hermes_claim *c)
{
	if (n == 0 || n > MAX_BATCH || !lens || !ptrs)
		return HERMES_EINVAL;
	if (p->claim_seq != NO_CLAIM)
		return HERMES_EINVAL;
	uint64_t total = 0, payload = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (lens[i] > p->ring.max_msg)
			return HERMES_EMSGSIZE;
		total += hm_data_bytes(lens[i]);
		payload += lens[i];
	}
	/* A batch is contiguous, so it must leave room for others to move. */
	if (total > p->ring.cap / 4 || n > p->ring.nslots / 4)
		return HERMES_EMSGSIZE;
	uint64_t pos, seq;
	hermes_err err = claim_region(p, total, n, &pos, &seq);
	if (err)
		return err;
	uint64_t at = pos;
	for (uint32_t i = 0; i < n; i++) {
		put_meta(&p->ring, seq + i, at, lens[i], tags ? tags[i] : 0);
		ptrs[i] = data_at(&p->ring, at);
		at += hm_data_bytes(lens[i]);
	}
	p->claim_payload = payload;
	p->claim_seq = seq;
	c->data = ptrs[0];
	c->len = lens[0];
	c->n_ = n;
	c->pos_ = pos;
	c->seq_ = seq;
	c->bytes_ = total;
	return HERMES_OK;
}

/* Wake sleepers, if any (eventcount, waker's side). A sleeping subscriber
 * (or a producer asleep on a full ring) sets its bit in `sleepers` (or
 * `prod_sleepers`) and then makes every running thread of every registered
 * process execute a full barrier (membarrier), before it re-checks the ring;
 * so a producer that stored a slot word (or `active`), or a subscriber that
 * stored its cursor, and then reads the bits needs no fence of its own:
 * either the barrier came after our store (the sleeper sees it) or before
 * our load (we see the bit). Processes that could not register fence here
 * instead, the classic Dekker pair with the sleeper's fence. `fence` also
 * covers the rare paths (abort, repair) where a fence costs nothing that
 * matters. */
__attribute__((noinline, cold)) static void wake_slow(hm_atomic_u32 *futex)
{
	/* seq_cst RMW: a sleeper that reads the new futex value also sees our
	 * store; one that read the old value is woken. */
	hm_fetch_add_seq_cst_u32(futex, 1);
	hm_futex_wake(futex, 0x7fffffff);
}

static inline void order_before_wake(bool fence)
{
	if (fence)
		hm_fence_seq_cst();
	else
		atomic_signal_fence(memory_order_seq_cst); /* compiler order only */
}

/* After a commit, abort or repair: subscribers may have something to read,
 * and producers waiting for the claim's room (a ring with no subscriber is
 * held back by claims only) may go on. */
static inline void wake_sleepers(hm_ring *r, bool fence)
{
	order_before_wake(fence);
	/* Relaxed: see above; the futex RMW orders the rest. */
	uint64_t subs = hm_load_relaxed_u64(&r->hdr->sleepers);
	uint64_t prods = hm_load_relaxed_u64(&r->hdr->prod_sleepers);
	if (__builtin_expect((subs | prods) != 0, 0)) {
		if (subs)
			wake_slow(&r->hdr->futex);
		if (prods)
			wake_slow(&r->hdr->prod_futex);
	}
}

/* After a cursor moved (release, join, leave): producers asleep on a full
 * block ring may have room now. */
static inline void wake_producers(hm_ring *r, bool fence)
{
	order_before_wake(fence);
	/* Relaxed: see wake_sleepers. */
	if (__builtin_expect(hm_load_relaxed_u64(&r->hdr->prod_sleepers) != 0, 0))
		wake_slow(&r->hdr->prod_futex);
}

void hm_ring_wake_all(hm_ring *r)
{
	wake_slow(&r->hdr->futex);
	wake_slow(&r->hdr->prod_futex);
	/* Publishers waiting for subscribers (hermes_pub_wait_subscribers). */
	wake_slow(&r->hdr->sub_changes);
}

/* Write the word of `seq` in its final state (COMMITTED or ABANDONED). Block
 * rings: a release store (pairs with the subscriber's acquire load of the
 * word, making meta and payload visible with it); nobody else can write the
 * slot of a claim that is held. Overwrite rings: other producers may lap a
 * claim that is still held, so the word is written only if the slot does not
 * already carry a newer sequence (CAS; acq_rel: its release half is the
 * publication). Returns false when the slot was lapped. */
static bool put_word(hm_ring *r, uint64_t seq, unsigned state)
{
	hm_atomic_u64 *wp = &slot_at(r, seq)->word;
	uint64_t want = hm_slot_word(seq, state);
	if (r->policy == HERMES_POLICY_BLOCK) {
		hm_store_release_u64(wp, want);
		return true;
	}
	uint64_t cur = hm_load_relaxed_u64(wp);
	for (;;) {
		int64_t d = seq_diff(hm_word_seq(cur), seq);
		if (d > 0 || (d == 0 && hm_word_state(cur) != HM_SLOT_IN_PROGRESS))
			return cur == want;
		if (hm_cas_acq_rel_u64(wp, &cur, want))
			return true;
	}
}

/* Commit sequences [seq, seq + n): the first word is the commit point, the
 * later ones follow at once. A subscriber that starts inside the range sees a
 * member only after the first (each store a release, in program order), so
 * no one sees part of a batch before its commit; a producer killed between
 * the stores leaves a committed head that repair completes. */
static bool commit_range(hm_ring *r, uint64_t seq, uint32_t n)
{
	if (r->policy == HERMES_POLICY_BLOCK) {
		/* put_word's block-ring case, without its policy test per slot.
		 * Release: pairs with the subscriber's acquire of the word. */
		for (uint32_t i = 0; i < n; i++) {
			CRASH_POINT("commit: word");
			hm_store_release_u64(&slot_at(r, seq + i)->word,
					     hm_slot_word(seq + i, HM_SLOT_COMMITTED));
		}
		return true;
	}
	bool ok = true;
	for (uint32_t i = 0; i < n; i++) {
		CRASH_POINT("commit: word");
		ok &= put_word(r, seq + i, HM_SLOT_COMMITTED);
	}
	return ok;
}

/* Mark sequences [seq, seq + n) abandoned, covering data up to end. Every
 * slot is marked, head first, each saying how many sequences of the range are
 * left from it: a subscriber placed anywhere inside skips to the end. */
static bool abandon_range(hm_ring *r, uint64_t seq, uint32_t n, uint64_t end)
{
	bool ok = true;
	for (uint32_t i = 0; i < n; i++) {
		hm_slot *sl = slot_at(r, seq + i);
		if (r->policy == HERMES_POLICY_OVERWRITE &&
		    seq_diff(hm_word_seq(hm_load_relaxed_u64(&sl->word)), seq + i) > 0) {
			ok = false; /* lapped: the slot is a newer message's */
			continue;
		}
		/* Relaxed: published by the release of the word. */
		CRASH_POINT("abandon: meta");
		hm_store_relaxed_u64(&sl->meta, hm_meta(end, n - i));
		CRASH_POINT("abandon: word");
		ok &= put_word(r, seq + i, HM_SLOT_ABANDONED);
	}
	return ok;
}

/* A commit after its words are stored: the claim is over (active = 0),
 * the counters, the wake-up (fence: this process is not registered for
 * membarrier). */
static inline __attribute__((always_inline)) void commit_done(hermes_pub *p, uint32_t n,
							     uint64_t payload, bool fence)
{
	hm_prod_slot *s = p->slot;
	/* Release: pairs with refresh_limits' acquire; once a scanner sees
	 * active == 0 it may let the next lap overwrite this message. */
	CRASH_POINT("commit: inactive");
	hm_store_release_u32(&s->active, 0);
	p->claim_seq = NO_CLAIM;
	/* Single-writer counters on our own slot: relaxed load + store. */
	hm_store_relaxed_u64(&s->msgs, hm_load_relaxed_u64(&s->msgs) + n);
	hm_store_relaxed_u64(&s->bytes, hm_load_relaxed_u64(&s->bytes) + payload);
	wake_sleepers(&p->ring, fence);
}

static inline __attribute__((always_inline)) hermes_err pub_commit(hermes_pub *p, hermes_claim *c)
{
	if (p->claim_seq == NO_CLAIM || c->seq_ != p->claim_seq)
		return HERMES_EINVAL;
	hm_ring *r = &p->ring;
	bool ok;
	uint64_t payload = c->len;
	if (c->n_ == 1) {
		CRASH_POINT("commit: word");
		ok = put_word(r, c->seq_, HM_SLOT_COMMITTED);
	} else {
		payload = p->claim_payload;
		ok = commit_range(r, c->seq_, c->n_);
	}
	commit_done(p, c->n_, payload, p->fence);
	/* Overwrite rings: the claim was lapped before we committed it (we
	 * were stopped or slow); subscribers count it as lost. */
	return ok ? HERMES_OK : HERMES_ELOST;
}

hermes_err hermes_pub_commit(hermes_pub *p, hermes_claim *c)
{
	return pub_commit(p, c);
}

hermes_err hermes_pub_abort(hermes_pub *p, hermes_claim *c)
{
	if (p->claim_seq == NO_CLAIM || c->seq_ != p->claim_seq)
		return HERMES_EINVAL;
	hm_ring *r = &p->ring;
	abandon_range(r, c->seq_, c->n_, c->pos_ + c->bytes_);
	/* Release: pairs with refresh_limits' acquire, as at commit. */
	CRASH_POINT("abort: inactive");
	hm_store_release_u32(&p->slot->active, 0);
	p->claim_seq = NO_CLAIM;
	hm_store_relaxed_u64(&p->slot->aborts, hm_load_relaxed_u64(&p->slot->aborts) + 1);
	wake_sleepers(r, true);
	return HERMES_OK;
}

/* A full block ring: announce ourselves in `prod_sleepers`, make every
 * registered thread run a barrier (see wake_sleepers), and sleep on
 * `prod_futex` until whoever frees room bumps it, re-checking each time. */
static hermes_err claim_sleep(hermes_pub *p, uint32_t len, uint32_t tag, hermes_claim *c,
			      uint64_t deadline)
{
	hm_ring_header *h = p->ring.hdr;
	uint64_t bit = 1ull << p->slot_index;
	/* seq_cst RMW: the announcement, ordered before the barrier. */
	CRASH_POINT("pub sleep: announce");
	atomic_fetch_or_explicit(&h->prod_sleepers, bit, memory_order_seq_cst);
	/* Without membarrier a waker may miss us: bound each sleep. */
	bool precise = hm_membarrier_global();
	hermes_err err;
	for (;;) {
		/* The futex word before the check: a bump after the check makes
		 * FUTEX_WAIT return at once. */
		uint32_t v = hm_load_acquire_u32(&h->prod_futex);
		/* Pairs with the fence of wakers that fence (order_before_wake). */
		hm_fence_seq_cst();
		err = pub_claim(p, len, tag, c);
		if (err != HERMES_EAGAIN)
			break;
		uint64_t now = hm_now_ns();
		if (now >= deadline) {
			err = HERMES_ETIMEDOUT;
			break;
		}
		/* A holder inside a claim wakes nobody when it finishes: while
		 * revoking, nap. */
		uint64_t until = deadline;
		if ((!precise || p->revoking) && now + IMPRECISE_NAP_NS < until)
			until = now + IMPRECISE_NAP_NS;
		if (hm_futex_wait(&h->prod_futex, v, until) == EINTR) {
			err = HERMES_EAGAIN; /* a signal: let the caller look */
			break;
		}
	}
	/* seq_cst: all announcement changes in one order; a stale bit would
	 * only cost a waker one needless system call. */
	CRASH_POINT("pub sleep: retract");
	atomic_fetch_and_explicit(&h->prod_sleepers, ~bit, memory_order_seq_cst);
	return err;
}

static hermes_err claim_timed(hermes_pub *p, uint32_t len, uint32_t tag, hermes_claim *c,
			      int64_t timeout_ns)
{
	hermes_err err = pub_claim(p, len, tag, c);
	if (err != HERMES_EAGAIN)
		return err;
	uint64_t deadline = hm_deadline_after(timeout_ns);
	for (uint32_t i = 0; i < p->spin; i++) {
		hm_cpu_relax();
		/* (A deleted ring answers HERMES_ECLOSED from the claim.) */
		err = pub_claim(p, len, tag, c);
		if (err != HERMES_EAGAIN)
			return err;
		if ((i & 255) == 255 && hm_now_ns() >= deadline)
			return HERMES_ETIMEDOUT;
	}
	if (timeout_ns == 0)
		return HERMES_ETIMEDOUT;
	return claim_sleep(p, len, tag, c, deadline);
}

hermes_err hermes_pub_claim_timed(hermes_pub *p, uint32_t len, hermes_claim *c, int64_t timeout_ns)
{
	return claim_timed(p, len, 0, c, timeout_ns);
}

void hermes_pub_set_spin(hermes_pub *p, uint32_t checks)
{
	p->spin = checks;
}

/* hermes_pub_send for the lease holder: claim_exclusive, put_meta, the copy
 * and the commit of one untagged message on a block ring, with the same
 * shared stores in the same order (so the same crash points), without the
 * hermes_claim and outstanding-claim bookkeeping. The claim is written out
 * here rather than taken from claim_exclusive: its call of claim_slow for a
 * full ring would cost every send a larger frame (10 instructions a
 * message, callgrind); here a claim that does not fit the cached limits
 * goes the general way before anything is written. Returns false, having
 * written nothing shared (or only in_claim, cleared with the lease's
 * acknowledgement), when that happens or the lease is gone. */
static inline __attribute__((always_inline)) bool send_exclusive(hermes_pub *p, const void *data,
								 uint32_t len, uint64_t *seq_out)
{
	hm_ring *r = &p->ring;
	hm_prod_slot *s = p->slot;
	uint64_t total = hm_data_bytes(len);
	uint64_t seq = p->tail_seq;
	uint64_t at = place(r, p->tail_pos, total);
	if (!fits(p, at + total, seq + 1))
		return false;
	CRASH_POINT("claim: in");
	hm_store_relaxed_u32(&s->in_claim, 1);
	/* Compiler order only: the revoker's membarrier is the fence. */
	atomic_signal_fence(memory_order_seq_cst);
	/* Relaxed: see the lease protocol above. */
	if (__builtin_expect(hm_load_relaxed_u64(&r->hdr->lease) != p->lease_word, 0)) {
		lease_lost(p);
		return false;
	}
	uint64_t end = at + total;
	write_intent(s, 1, total, at, seq);
	CRASH_POINT("claim: tail");
	store_tail(&r->hdr->tail, end, hm_tail_hi(seq + 1, p->slot_index + 1));
	p->tail_pos = end;
	p->tail_seq = seq + 1;
	/* Release: a revoker that acquires 0 sees our tail. */
	CRASH_POINT("claim: out");
	hm_store_release_u32(&s->in_claim, 0);
	p->full = 0;
	hm_slot *sl = slot_at(r, seq);
	CRASH_POINT("claim: meta");
	hm_store_relaxed_u64(&sl->meta, hm_meta(at, len)); /* published by the word's release */
	memcpy(data_at(r, at), data, len);
	/* Release: pairs with the subscriber's acquire of the word (a block
	 * ring: nobody else writes a held slot). */
	CRASH_POINT("commit: word");
	hm_store_release_u64(&sl->word, hm_slot_word(seq, HM_SLOT_COMMITTED));
	commit_done(p, 1, len, false); /* a holder is registered */
	if (seq_out)
		*seq_out = seq;
	return true;
}

/* Every other send: the general claim and commit. */
__attribute__((noinline)) static hermes_err send_general(hermes_pub *p, const void *data,
							 uint32_t len, uint64_t *seq)
{
	hermes_claim c;
	hermes_err err = pub_claim(p, len, 0, &c);
	if (err)
		return err;
	memcpy(c.data, data, len);
	if (seq)
		*seq = c.seq_;
	return pub_commit(p, &c);
}

hermes_err hermes_pub_send(hermes_pub *p, const void *data, uint32_t len, uint64_t *seq)
{
	if (p->leased && len <= p->ring.max_msg && p->claim_seq == NO_CLAIM &&
	    send_exclusive(p, data, len, seq))
		return HERMES_OK;
	return send_general(p, data, len, seq);
}

hermes_err hermes_pub_send_tagged(hermes_pub *p, const void *data, uint32_t len, uint32_t tag,
				  uint64_t *seq, int64_t timeout_ns)
{
	hermes_claim c;
	hermes_err err = timeout_ns == 0 ? pub_claim(p, len, tag, &c)
					 : claim_timed(p, len, tag, &c, timeout_ns);
	if (err)
		return err;
	memcpy(c.data, data, len);
	if (seq)
		*seq = c.seq_;
	return pub_commit(p, &c);
}

hermes_err hermes_pub_send_timed(hermes_pub *p, const void *data, uint32_t len, uint64_t *seq,
				 int64_t timeout_ns)
{
	hermes_claim c;
	hermes_err err = claim_timed(p, len, 0, &c, timeout_ns);
	if (err)
		return err;
	memcpy(c.data, data, len);
	if (seq)
		*seq = c.seq_;
	return pub_commit(p, &c);
}

void hm_pub_fini(hermes_pub *p)
{
	if (p->claim_seq != NO_CLAIM) {
		/* Abort the outstanding claim, rebuilt from the intent. */
		uint64_t pos = hm_load_relaxed_u64(&p->slot->intent_pos);
		uint64_t total = hm_load_relaxed_u32(&p->slot->intent_bytes);
		abandon_range(&p->ring, p->claim_seq, hm_load_relaxed_u32(&p->slot->intent_count),
			      pos + total);
		p->claim_seq = NO_CLAIM;
		wake_sleepers(&p->ring, true);
	}
	/* Release: pairs with refresh_limits' acquire, as at commit. */
	CRASH_POINT("close: inactive");
	hm_store_release_u32(&p->slot->active, 0);
	if (p->leased) {
		/* No claim of ours is in flight: end the lease, also when a
		 * revoker turned it into REVOKING (one that could not use
		 * membarrier waits for an acknowledgement we would never send:
		 * found by the model's lease-nomb run). */
		hm_atomic_u64 *l = &p->ring.hdr->lease;
		uint64_t mine = p->lease_word, revoked = p->lease_word | HM_LEASE_REVOKING;
		/* seq_cst CASes: pair with the revoker's CASes and its load of
		 * the lease in lease_revoke's wait (it sees the change and goes
		 * on). */
		CRASH_POINT("close: lease");
		if (!atomic_compare_exchange_strong_explicit(l, &mine, 0, memory_order_seq_cst,
							     memory_order_relaxed))
			atomic_compare_exchange_strong_explicit(l, &revoked, 0, memory_order_seq_cst,
								memory_order_relaxed);
		p->leased = 0;
	}
	/* Release (in free_slot): the slot's last writes are visible to the
	 * next owner, whose CAS acquires it. */
	free_slot(&p->slot->owner, &p->slot->owner_start, &p->ring.hdr->prod_mask, p->slot_index,
		  NULL);
}

/* ---- subscribers ----------------------------------------------------------- */

void hm_ring_earliest(const hm_ring *r, uint64_t *pos_out, uint64_t *seq_out)
{
	uint64_t tpos, tseq;
	hm_ring_tail(r, &tpos, &tseq);
	/* Where retained messages may be. Block rings: no claim ends beyond
	 * the shared limits, so data at or after limit - capacity and slots at
	 * or after seq_limit - slots are safe from the next lap until the
	 * limits rise (acquire: pairs with cas_max). Overwrite rings: one lap
	 * behind the tail; a lap during the scan shows up at the first poll. */
	uint64_t low, seq;
	if (r->policy == HERMES_POLICY_BLOCK) {
		uint64_t limit = hm_load_acquire_u64(&r->hdr->limit);
		uint64_t seq_limit = hm_load_acquire_u64(&r->hdr->seq_limit);
		low = limit > r->cap ? limit - r->cap : 0;
		seq = seq_limit > r->nslots ? seq_limit - r->nslots : 0;
	} else {
		low = tpos > r->cap ? tpos - r->cap : 0;
		seq = tseq > r->nslots ? tseq - r->nslots : 0;
	}
	uint64_t at_least = low;
	while (seq_diff(seq, tseq) < 0) {
		hm_slot *sl = slot_at(r, seq);
		/* Acquire: pairs with the release of the word (commit, abort,
		 * repair), making meta visible. */
		uint64_t w = hm_load_acquire_u64(&sl->word);
		unsigned st = hm_word_state(w);
		if (hm_word_seq(w) != seq || st == HM_SLOT_IN_PROGRESS)
			break; /* not written yet: start here and wait for it */
		uint64_t meta = hm_load_relaxed_u64(&sl->meta);
		uint64_t at = hm_meta_pos_before(meta, tpos);
		if (st == HM_SLOT_COMMITTED) {
			if (at >= at_least && hm_meta_len(meta) <= r->max_msg) {
				*pos_out = at;
				*seq_out = seq;
				return;
			}
			seq++; /* its data is no longer retained (or is corrupt) */
		} else if (st == HM_SLOT_ABANDONED && hm_meta_len(meta) >= 1 &&
			   hm_meta_len(meta) <= MAX_BATCH) {
			/* Start at an abandoned record whose range ends in what
			 * is retained (the first poll skips the rest of the
			 * range and reports it as a gap); jump over one that
			 * does not. Every slot of a range says how much of it
			 * is left, so this works from anywhere inside it. */
			if (at >= at_least && at <= tpos) {
				*pos_out = at_least;
				*seq_out = seq;
				return;
			}
			seq += hm_meta_len(meta);
		} else {
			seq++; /* corrupt: polls report it */
		}
	}
	if (seq_diff(seq, tseq) > 0)
		seq = tseq;
	*pos_out = seq == tseq ? tpos : at_least;
	*seq_out = seq;
}

/* After any change of pending_lost or skip_until (see hermes_sub.slow). */
static inline void sub_note_slow(hermes_sub *s)
{
	s->slow = s->ring.policy != HERMES_POLICY_BLOCK || s->pending_lost != 0 || s->skip_until != 0;
}

static void sub_set_start(hermes_sub *s, hermes_start start, uint64_t target)
{
	hm_ring *r = &s->ring;
	uint64_t pos, seq;
	s->skip_until = 0;
	s->pending_lost = 0;
	if (start == HERMES_START_LATEST) {
		hm_ring_tail(r, &pos, &seq);
	} else {
		hm_ring_earliest(r, &pos, &seq);
		if (start == HERMES_START_SEQ) {
			uint64_t tpos, tseq;
			hm_ring_tail(r, &tpos, &tseq);
			if (seq_diff(target, tseq) >= 0) {
				pos = tpos;
				seq = tseq;
				s->skip_until = target;
			} else if (seq_diff(target, seq) < 0) {
				s->pending_lost = seq - target;
			} else {
				/* Slots index by sequence: start right there (inside
				 * an abandoned range, its slot says how far to skip).
				 * The cursor stays at the earliest position, which is
				 * at or before the target's data. */
				seq = target;
			}
		}
	}
	sub_note_slow(s);
	s->pos = pos;
	s->seq = seq;
}

/* Wait until every producer scan that was running when we looked has
 * finished (a scan that starts later sees our cursor). A producer that dies
 * mid-scan has its slot freed by the supervisor, which ends the wait. Returns
 * false at the deadline (a stopped producer). */
static bool wait_for_scans(const hm_ring *r, uint64_t deadline)
{
	for (uint64_t m = hm_load_acquire_u64(&r->hdr->prod_mask); m; m &= m - 1) {
		hm_prod_slot *p = &r->prods[__builtin_ctzll(m)];
		/* Acquire: pairs with the release that ends a scan, so the
		 * limits it raised are visible to our re-check. */
		uint32_t c = hm_load_acquire_u32(&p->scans);
		unsigned spins = 0;
		while ((c & 1) && hm_load_acquire_u32(&p->scans) == c &&
		       hm_load_relaxed_u64(&p->owner) != 0) {
			if (++spins > JOIN_SPINS) {
				if (hm_now_ns() > deadline)
					return false;
				sched_yield();
			} else {
				hm_cpu_relax();
			}
		}
	}
	return true;
}

static void publish_cursor(hermes_sub *s)
{
	hm_sub_slot *sl = s->slot; /* once: each atomic store would reload it */
	/* seq first, relaxed; then pos with release: a scanner that acquires
	 * pos sees a seq at least this new. Release pairs with refresh_limits'
	 * acquire: our reads of every released message happen before a
	 * producer writes over them. */
	CRASH_POINT("cursor: seq");
	hm_store_relaxed_u64(&sl->seq, s->seq);
	CRASH_POINT("cursor: pos");
	hm_store_release_u64(&sl->pos, s->pos);
	s->released_pos = s->pos;
	s->released_seq = s->seq;
	/* (Overwrite rings: no producer ever sleeps, the bits stay 0.) */
	wake_producers(&s->ring, s->fence);
}

static const char *ring_name(const hm_ring *r, char buf[HM_NAME_MAX])
{
	/* The name is in shared memory: copy it, bounded and terminated. */
	memcpy(buf, r->hdr->name, HM_NAME_MAX);
	buf[HM_NAME_MAX - 1] = '\0';
	return buf;
}

/* Subscriber joins and leaves, for hermes_pub_wait_subscribers: the flag
 * first, then the bump (seq_cst RMW: a waiter that reads the new value also
 * sees the flag), then the wake. A system call per join or leave: both are
 * rare, and this way nobody has to announce that they wait. */
static void subs_changed(hm_ring_header *h)
{
	wake_slow(&h->sub_changes);
}

static hermes_err sub_joined(hermes_sub *s)
{
	/* Release: pairs with the acquire in hm_ring_subscribers; the cursor the
	 * join settled on is published before anyone counts us. */
	hm_store_release_u32(&s->slot->joined, 1);
	subs_changed(s->ring.hdr);
	return HERMES_OK;
}

static void sub_left(hm_ring_header *h, hm_sub_slot *slot)
{
	/* Relaxed: the bump below orders it for waiters. */
	hm_store_relaxed_u32(&slot->joined, 0);
	subs_changed(h);
}

/* The handle of subscriber slot slot_index, before it joins or adopts. */
static void sub_handle_init(hermes_sub *s, const hm_ring *r, int slot_index)
{
	memset(s, 0, sizeof *s);
	s->ring = *r;
	s->slot_index = (uint32_t)slot_index;
	s->slot = &s->ring.subs[slot_index];
	s->spin = WAIT_SPINS;
	sub_note_slow(s); /* an overwrite ring's polls are all slow */
	/* Releases wake producers asleep on a full ring without a fence when
	 * this process is registered for membarrier (see wake_sleepers). */
	s->fence = !hm_membarrier_register();
}

hermes_err hm_sub_init(hermes_sub *s, const hm_ring *r, int slot_index, hermes_start start,
		       uint64_t seq)
{
	sub_handle_init(s, r, slot_index);
	/* Join: publish a cursor, fence, wait out the scans already running,
	 * then check the cursor is still inside what producers may not
	 * overwrite; if the limits moved past it, choose again. The fence
	 * pairs with the one at the start of refresh_limits: either a scan
	 * sees our cursor, or we see that scan running and wait for it, after
	 * which its raised limits are visible to the check. Overwrite rings
	 * have no limits: any start is safe (a lap shows at the next poll). */
	uint64_t deadline = hm_now_ns() + JOIN_TIMEOUT_NS;
	char name[HM_NAME_MAX];
	for (unsigned tries = 0; tries < JOIN_TRIES; tries++) {
		sub_set_start(s, start, seq);
		publish_cursor(s);
		if (r->policy == HERMES_POLICY_OVERWRITE)
			return sub_joined(s);
		hm_fence_seq_cst();
		if (!wait_for_scans(&s->ring, deadline))
			return hm_fail(HERMES_ETIMEDOUT,
				       "ring '%s': cannot join safely: a producer's limit scan did not "
				       "finish within %u ms (a stopped producer?); retry, or stop it",
				       ring_name(r, name), (unsigned)(JOIN_TIMEOUT_NS / 1000000u));
		uint64_t limit = hm_load_acquire_u64(&s->ring.hdr->limit);
		uint64_t seq_limit = hm_load_acquire_u64(&s->ring.hdr->seq_limit);
		if (limit <= s->pos + s->ring.cap &&
		    seq_diff(seq_limit, s->seq + s->ring.nslots) <= 0)
			return sub_joined(s);
	}
	return hm_fail(HERMES_EBUSY,
		       "ring '%s': cannot join safely: producers moved past every start position "
		       "in %u tries; retry",
		       ring_name(r, name), JOIN_TRIES);
}

void hm_sub_fini(hermes_sub *s)
{
	sub_left(s->ring.hdr, s->slot);
	/* Release (in free_slot): our reads of the ring are done before a
	 * producer that sees the slot free overwrites them. */
	free_slot(&s->slot->owner, &s->slot->owner_start, &s->ring.hdr->sub_mask, s->slot_index,
		  &s->ring);
}

/* The record at s->seq failed validation: count it, step over it (the next
 * record's meta re-anchors the position), and say so. Never delivered. */
__attribute__((noinline, cold)) static hermes_err sub_corrupt(hermes_sub *s, hermes_msg *m,
							     const char *why)
{
	char name[HM_NAME_MAX];
	uint64_t seq = s->seq;
	/* Relaxed: counters for hermes-ctl, ordered with nothing. */
	hm_fetch_add_relaxed_u64(&s->ring.hdr->corrupt, 1);
	hm_store_relaxed_u64(&s->slot->corrupt, hm_load_relaxed_u64(&s->slot->corrupt) + 1);
	s->seq++;
	s->empty_polls = 0;
	m->data = NULL;
	m->len = 0;
	m->tag = 0;
	m->seq = seq;
	m->gap = 0;
	m->lost = 0;
	return hm_fail(HERMES_ECORRUPT, "ring '%s': record %llu is corrupt (%s); skipped",
		       ring_name(&s->ring, name), (unsigned long long)seq, why);
}

/* Lapped: jump to the oldest retained message and count what was lost. The
 * loss must be real: a start that is not past us, or an impossible count,
 * is corruption, not a lap. */
__attribute__((noinline, cold)) static hermes_err sub_resync(hermes_sub *s, hermes_msg *m)
{
	uint64_t pos, seq;
	hm_ring_earliest(&s->ring, &pos, &seq);
	if (seq_diff(seq, s->seq) <= 0)
		return sub_corrupt(s, m, "a lap that leads backwards");
	uint64_t lost = seq - s->seq;
	if (lost > MAX_PLAUSIBLE_LOSS)
		return sub_corrupt(s, m, "an impossible loss");
	/* Messages handed out since the last release were overwritten too:
	 * the release must say so. */
	if (s->unreleased_msgs)
		s->lost_unreleased = 1;
	s->pos = pos;
	s->seq = seq;
	s->unreleased_msgs = 0;
	s->unreleased_bytes = 0;
	s->empty_polls = 0;
	hm_store_relaxed_u64(&s->slot->lost, hm_load_relaxed_u64(&s->slot->lost) + lost);
	publish_cursor(s);
	m->data = NULL;
	m->len = 0;
	m->tag = 0;
	m->seq = s->seq;
	m->gap = 0;
	m->lost = lost;
	return HERMES_ELOST;
}

/* The slot of s->seq holds a newer sequence, wseq. A lap, if the tail agrees
 * (it must be past wseq, and, on a block ring, a whole lap past us: a
 * subscriber whose slot was taken away); otherwise a forged word. */
__attribute__((noinline, cold)) static hermes_err sub_lapped(hermes_sub *s, hermes_msg *m,
							    uint64_t wseq)
{
	uint64_t tpos, tseq;
	hm_ring_tail(&s->ring, &tpos, &tseq);
	if (seq_diff(wseq, tseq) >= 0)
		return sub_corrupt(s, m, "a slot word ahead of the tail");
	if (s->ring.policy == HERMES_POLICY_BLOCK &&
	    seq_diff(tseq, s->seq + s->ring.nslots) <= 0)
		return sub_corrupt(s, m, "a newer slot word on a block ring");
	return sub_resync(s, m);
}

/* Overwrite rings: may data at or after `from`, or the slot of `seq`, have
 * been reused? Called after reading what it protects. */
static bool overwritten_since(const hm_ring *r, uint64_t from, uint64_t seq)
{
	/* Acquire fence: our reads of the messages happen before the tail
	 * read, and producers fence after their claim CAS before writing, so
	 * if we read anything a newer lap wrote, we also see the tail that
	 * covers it. */
	hm_fence_acquire();
	uint64_t tail = hm_load_relaxed_u64(&r->hdr->tail.lo);
	uint64_t tseq = hm_tail_seq(hm_load_relaxed_u64(&r->hdr->tail.hi));
	return tail > from + r->cap || seq_diff(tseq, seq + r->nslots) > 0;
}

__attribute__((noinline, cold)) static hermes_err report_pending_loss(hermes_sub *s,
								      hermes_msg *m)
{
	m->data = NULL;
	m->len = 0;
	m->tag = 0;
	m->seq = s->seq;
	m->gap = 0;
	m->lost = s->pending_lost;
	hm_store_relaxed_u64(&s->slot->lost, hm_load_relaxed_u64(&s->slot->lost) + m->lost);
	s->pending_lost = 0;
	sub_note_slow(s);
	return HERMES_ELOST;
}

/* hermes_sub_poll's answers from poll_record besides the hermes_err ones. */
#define POLL_DELIVER (-1)
#define POLL_AGAIN (-2)

/* Everything but a committed message on a block ring, found in word w of the
 * slot of s->seq: nothing yet, a lap, an abandoned range to skip, a corrupt
 * record, or (overwrite rings) a committed message whose meta and tag are
 * read and then confirmed by re-reading the word. Returns POLL_DELIVER with
 * *meta and *tag set, POLL_AGAIN to look at the next record, or what the
 * poll returns. */
static int poll_record(hermes_sub *s, hermes_msg *m, hm_slot *sl, uint64_t w, uint64_t *meta_out,
		       uint32_t *tag_out)
{
	hm_ring *r = &s->ring;
	int64_t d = seq_diff(hm_word_seq(w), s->seq);
	unsigned st = hm_word_state(w);
	if (d < 0 || (d == 0 && st == HM_SLOT_IN_PROGRESS)) {
		if (r->policy == HERMES_POLICY_OVERWRITE && ++s->empty_polls % LAP_CHECK_EVERY == 0 &&
		    overwritten_since(r, s->pos, s->seq))
			return sub_resync(s, m);
		/* We moved over abandoned records (or skipped to a START_SEQ
		 * target) and hold no message: publish the cursor now, or a
		 * block ring's producers could wait for a release that is not
		 * coming (found by the model, shm/model/README.md). */
		if (s->unreleased_msgs == 0 && s->seq != s->released_seq)
			publish_cursor(s);
		return HERMES_EAGAIN;
	}
	if (d > 0)
		return sub_lapped(s, m, hm_word_seq(w));
	uint64_t meta = hm_load_relaxed_u64(&sl->meta);
	/* Relaxed: published with meta by the word's release. */
	uint32_t tag = meta & HM_META_TAGGED ? hm_load_relaxed_u32(&r->tags[s->seq & r->slot_mask])
					     : 0;
	if (r->policy == HERMES_POLICY_OVERWRITE) {
		/* The slot may be reused under us: meta and tag belong to the
		 * word only if the word is still there after them (acquire
		 * fence: their loads happen before the re-load). */
		hm_fence_acquire();
		if (hm_load_relaxed_u64(&sl->word) != w)
			return POLL_AGAIN;
	}
	if (st == HM_SLOT_ABANDONED) {
		uint64_t left = hm_meta_len(meta);
		uint64_t end = hm_meta_pos_after(meta, s->pos);
		if (left == 0 || left > MAX_BATCH || end - s->pos > r->cap)
			return sub_corrupt(s, m, "an impossible abandoned range");
		s->pos = end;
		s->seq += left;
		s->gap += left;
		hm_store_relaxed_u64(&s->slot->skipped, hm_load_relaxed_u64(&s->slot->skipped) + left);
		return POLL_AGAIN;
	}
	if (st != HM_SLOT_COMMITTED)
		return sub_corrupt(s, m, "an unknown record state");
	*meta_out = meta;
	*tag_out = tag;
	return POLL_DELIVER;
}

/* The one validation of a committed record's meta, for a cursor at byte pos
 * (take_message, poll_run): its length within the ring's limit, its payload
 * at or after pos and within a lap of it, never wrapping the data area, no
 * unknown flag. *len and *at: the payload's length and position. */
static inline __attribute__((always_inline)) bool record_sane(const hm_ring *r, uint64_t meta,
							      uint64_t pos, uint32_t *len,
							      uint64_t *at)
{
	*len = (uint32_t)hm_meta_len(meta);
	*at = hm_meta_pos_after(meta, pos);
	return *len <= r->max_msg && *at - pos <= r->cap && (*at & r->mask) + *len <= r->cap &&
	       !(meta & HM_META_FLAGS & ~HM_META_TAGGED);
}

/* Hand out the committed message at s->seq (meta and tag read and, where
 * needed, confirmed): validate it, move the cursor past it, fill *m. Returns
 * HERMES_OK, POLL_AGAIN when it lies before a START_SEQ target (dropped), or
 * HERMES_ECORRUPT. */
static inline __attribute__((always_inline)) int take_message(hermes_sub *s, hermes_msg *m,
							     uint64_t meta, uint32_t tag,
							     bool slow_path)
{
	hm_ring *r = &s->ring;
	uint32_t len;
	uint64_t at;
	if (!record_sane(r, meta, s->pos, &len, &at))
		return sub_corrupt(s, m, "an impossible length, position or flag");
	uint64_t seq = s->seq;
	s->pos = at + hm_data_bytes(len);
	s->seq = seq + 1;
	/* The fast path (slow_path false) found no START_SEQ target ahead and
	 * polls a block ring, whose empty polls nobody counts. */
	if (slow_path && __builtin_expect(s->skip_until != 0, 0)) {
		if (seq_diff(seq, s->skip_until) < 0)
			return POLL_AGAIN;
		s->skip_until = 0;
		sub_note_slow(s);
	}
	s->unreleased_msgs++;
	s->unreleased_bytes += len;
	if (slow_path)
		s->empty_polls = 0;
	m->data = data_at(r, at);
	m->len = len;
	m->tag = tag;
	m->seq = seq;
	m->gap = s->gap;
	m->lost = 0;
	s->gap = 0;
	return HERMES_OK;
}

/* The whole poll: pending losses, skips, laps, overwrite rings. */
__attribute__((noinline)) static hermes_err poll_slow(hermes_sub *s, hermes_msg *m)
{
	if (s->pending_lost)
		return report_pending_loss(s, m);
	for (;;) {
		hm_slot *sl = slot_at(&s->ring, s->seq);
		/* Acquire: pairs with the release of the word (commit, abort or
		 * repair), making meta, tag and payload visible. */
		uint64_t w = hm_load_acquire_u64(&sl->word);
		uint64_t meta = 0;
		uint32_t tag = 0;
		int rc = poll_record(s, m, sl, w, &meta, &tag);
		if (rc == POLL_DELIVER)
			rc = take_message(s, m, meta, tag, true);
		if (rc != POLL_AGAIN)
			return (hermes_err)rc;
	}
}

/* hermes_sub_poll's body, inline in hermes_sub_poll_batch too. */
static inline __attribute__((always_inline)) hermes_err poll_one(hermes_sub *s, hermes_msg *m)
{
	hm_ring *r = &s->ring;
	uint64_t seq = s->seq; /* read once: the acquire below would reload it */
	hm_slot *sl = slot_at(r, seq);
	/* Acquire: as in poll_slow. */
	uint64_t w = hm_load_acquire_u64(&sl->word);
	/* The common case, with no call and so no saved registers: the message
	 * we expect, on a block ring (where nobody writes a slot that is not
	 * released), with no loss to report and no START_SEQ target ahead. */
	if (__builtin_expect((w != hm_slot_word(seq, HM_SLOT_COMMITTED)) | (s->slow != 0), 0))
		return poll_slow(s, m);
	uint64_t meta = hm_load_relaxed_u64(&sl->meta);
	/* Relaxed: published with meta by the word's release. */
	uint32_t tag = meta & HM_META_TAGGED ? hm_load_relaxed_u32(&r->tags[seq & r->slot_mask]) : 0;
	return (hermes_err)take_message(s, m, meta, tag, false);
}

hermes_err hermes_sub_poll(hermes_sub *s, hermes_msg *m)
{
	return poll_one(s, m);
}

hermes_err hermes_sub_release(hermes_sub *s)
{
	hm_sub_slot *sl = s->slot;
	hermes_err err = HERMES_OK;
	if (s->ring.policy == HERMES_POLICY_OVERWRITE) {
		/* Every message handed out since the last release: those lost to
		 * a lap already noticed by a poll, and the rest, checked now. */
		if (s->lost_unreleased ||
		    (s->seq != s->released_seq &&
		     overwritten_since(&s->ring, s->released_pos, s->released_seq)))
			err = HERMES_ELOST;
		s->lost_unreleased = 0;
	}
	if (s->unreleased_msgs) {
		hm_store_relaxed_u64(&sl->msgs, hm_load_relaxed_u64(&sl->msgs) + s->unreleased_msgs);
		hm_store_relaxed_u64(&sl->bytes, hm_load_relaxed_u64(&sl->bytes) + s->unreleased_bytes);
		s->unreleased_msgs = 0;
		s->unreleased_bytes = 0;
	}
	publish_cursor(s);
	return err;
}

/* hermes_sub_poll_batch's common case, poll_one's fast path in a loop: the
 * committed messages in a row from the cursor on a block ring with nothing
 * slow pending, each handed to fn, up to max. Stops at the first record
 * that is anything else, which poll_one then looks at (and reports, if it
 * is corrupt). The cursor moves before each call (fn may look at it, or
 * poll itself: the loop reads it again after each call); the unreleased
 * byte count moves once per run. */
static unsigned poll_run(hermes_sub *s, hermes_handler fn, void *ctx, unsigned max)
{
	const hm_ring *r = &s->ring;
	unsigned n = 0;
	uint64_t bytes = 0;
	hermes_msg m;
	m.lost = 0;
	while (n < max && s->slow == 0) {
		uint64_t seq = s->seq, pos = s->pos;
		hm_slot *sl = slot_at(r, seq);
		/* Acquire: as in poll_slow. */
		if (hm_load_acquire_u64(&sl->word) != hm_slot_word(seq, HM_SLOT_COMMITTED))
			break;
		/* Relaxed: published by the word's release, acquired above. */
		uint64_t meta = hm_load_relaxed_u64(&sl->meta);
		uint32_t len;
		uint64_t at;
		/* A record failing this is left to poll_one, which reports it. */
		if (!record_sane(r, meta, pos, &len, &at))
			break;
		/* Relaxed: published with meta by the word's release. */
		m.tag = meta & HM_META_TAGGED ? hm_load_relaxed_u32(&r->tags[seq & r->slot_mask]) : 0;
		s->pos = at + hm_data_bytes(len);
		s->seq = seq + 1;
		m.data = data_at(r, at);
		m.len = len;
		m.seq = seq;
		m.gap = s->gap;
		s->gap = 0;
		/* Counted before fn runs: a poll from fn that finds nothing
		 * publishes the cursor only when nothing is unreleased. */
		s->unreleased_msgs++;
		bytes += len;
		n++;
		fn(ctx, &m);
	}
	s->unreleased_bytes += bytes;
	return n;
}

hermes_err hermes_sub_poll_batch(hermes_sub *s, hermes_handler fn, void *ctx, unsigned max,
				 unsigned *count)
{
	if (max == 0)
		max = UINT_MAX;
	unsigned n = poll_run(s, fn, ctx, max);
	hermes_err err = HERMES_OK;
	hermes_msg m;
	while (n < max) {
		err = poll_one(s, &m);
		if (err)
			break;
		fn(ctx, &m);
		n++;
		n += poll_run(s, fn, ctx, max - n);
	}
	if (count)
		*count = n;
	if (err == HERMES_EAGAIN)
		err = HERMES_OK;
	if (n) {
		hermes_err rerr = hermes_sub_release(s);
		if (rerr)
			err = rerr;
	}
	return err;
}

/* Undo the taking of message m, the one a poll just handed out (take_message):
 * the cursor goes back to its start (a poll from there finds it again) and
 * its gap is reported again. What the poll did before it (abandoned ranges
 * skipped, messages below a START_SEQ target dropped) stays done. */
static void untake_message(hermes_sub *s, const hermes_msg *m)
{
	s->pos -= hm_data_bytes(m->len);
	s->seq = m->seq;
	s->gap = m->gap;
	s->unreleased_msgs--;
	s->unreleased_bytes -= m->len;
}

hermes_err hermes_sub_recv(hermes_sub *s, void *buf, uint32_t cap, hermes_msg *m)
{
	hermes_err err = hermes_sub_poll(s, m);
	if (err)
		return err;
	if (m->len > cap) {
		untake_message(s, m); /* nothing consumed */
		return HERMES_ENOBUFS;
	}
	memcpy(buf, m->data, m->len);
	/* The message's own bytes and slot, read after the copy. */
	if (s->ring.policy == HERMES_POLICY_OVERWRITE &&
	    overwritten_since(&s->ring, s->pos - hm_data_bytes(m->len), m->seq)) {
		untake_message(s, m);
		return sub_resync(s, m);
	}
	m->data = buf;
	hermes_sub_release(s);
	return HERMES_OK;
}

/* Would a poll return something (a message, a skip, a loss or an error)? */
static bool sub_ready(hermes_sub *s)
{
	if (s->pending_lost)
		return true;
	/* hm_ring_ready_at acquires the slot word, as hermes_sub_poll does. */
	if (hm_ring_ready_at(&s->ring, s->seq))
		return true;
	return s->ring.policy == HERMES_POLICY_OVERWRITE && overwritten_since(&s->ring, s->pos, s->seq);
}

void hm_ring_sleepers_add(hm_ring_header *h, uint64_t bits)
{
	/* seq_cst RMW: the announcement, ordered before the barrier (or the
	 * fence) that follows it in the sleeper; see wake_sleepers. */
	CRASH_POINT("sleep: announce");
	atomic_fetch_or_explicit(&h->sleepers, bits, memory_order_seq_cst);
}

void hm_ring_sleepers_remove(hm_ring_header *h, uint64_t bits)
{
	/* Relaxed would do (a stale bit costs a producer one needless wake);
	 * seq_cst keeps all announcement changes in one order. */
	CRASH_POINT("sleep: retract");
	atomic_fetch_and_explicit(&h->sleepers, ~bits, memory_order_seq_cst);
}

hermes_err hermes_sub_wait(hermes_sub *s, hermes_wait_mode mode, int64_t timeout_ns)
{
	uint64_t deadline = hm_deadline_after(timeout_ns);
	hm_store_relaxed_u32(&s->slot->wait_mode, (uint32_t)mode);
	uint32_t spin_limit = mode == HERMES_WAIT_SPIN ? UINT32_MAX : s->spin;
	for (uint32_t i = 0; i < spin_limit; i++) {
		if (sub_ready(s))
			return HERMES_OK;
		if ((i & 255) == 255 && hm_now_ns() >= deadline)
			return HERMES_ETIMEDOUT;
		hm_cpu_relax();
	}
	if (mode == HERMES_WAIT_YIELD) {
		for (;;) {
			if (sub_ready(s))
				return HERMES_OK;
			if (hm_now_ns() >= deadline)
				return HERMES_ETIMEDOUT;
			sched_yield();
		}
	}
	hm_ring_header *h = s->ring.hdr;
	hermes_err err = HERMES_ETIMEDOUT;
	uint64_t bit = 1ull << s->slot_index;
	hm_ring_sleepers_add(h, bit);
	/* After the announcement, before the re-check: every registered
	 * producer thread runs a full barrier (see wake_sleepers). Without
	 * membarrier, producers of registered processes might miss us: each
	 * sleep is then bounded. */
	bool precise = hm_membarrier_global();
	for (;;) {
		/* Read the futex word before checking the ring: if a producer
		 * bumps it after our check, FUTEX_WAIT sees the change and
		 * returns at once instead of sleeping through the wake-up. */
		uint32_t v = hm_load_acquire_u32(&h->futex);
		/* Pairs with the fence of producers that fence (wake_sleepers). */
		hm_fence_seq_cst();
		if (sub_ready(s)) {
			err = HERMES_OK;
			break;
		}
		if (hm_now_ns() >= deadline)
			break;
		if (hm_load_relaxed_u32(&h->deleted)) {
			err = HERMES_ECLOSED;
			break;
		}
		/* On overwrite rings a lap shows only through the tail, which
		 * wakes nobody; bound each sleep so it is noticed. */
		uint64_t until = deadline;
		uint64_t nap = s->ring.policy == HERMES_POLICY_OVERWRITE ? LAP_NAP_NS
			       : precise					 ? 0
										 : IMPRECISE_NAP_NS;
		if (nap) {
			uint64_t soon = hm_now_ns() + nap;
			if (soon < until)
				until = soon;
		}
		if (hm_futex_wait(&h->futex, v, until) == EINTR) {
			err = HERMES_EAGAIN; /* a signal: let the caller look */
			break;
		}
	}
	hm_ring_sleepers_remove(h, bit);
	return err;
}

uint64_t hermes_sub_next_seq(const hermes_sub *s)
{
	return s->seq;
}

hm_at hm_slot_look_at(const hm_slot *slot, uint64_t seq)
{
	/* Acquire: pairs with the release store of the word by the commit or
	 * the abort, so a reader that sees the state sees the record. */
	uint64_t w = hm_load_acquire_u64(&slot->word);
	int64_t d = seq_diff(hm_word_seq(w), seq);
	if (d > 0)
		return HM_AT_LAPPED;
	if (d < 0 || hm_word_state(w) == HM_SLOT_IN_PROGRESS)
		return HM_AT_EMPTY;
	return hm_word_state(w) == HM_SLOT_COMMITTED ? HM_AT_COMMITTED : HM_AT_ABANDONED;
}

hm_at hm_ring_look_at(const hm_ring *ring, uint64_t seq)
{
	return hm_slot_look_at(slot_at(ring, seq), seq);
}

bool hm_ring_ready_at(const hm_ring *ring, uint64_t seq)
{
	return hm_ring_look_at(ring, seq) != HM_AT_EMPTY;
}

void hermes_sub_set_spin(hermes_sub *s, uint32_t checks)
{
	s->spin = checks;
}

/* ---- crash repair ------------------------------------------------------------ */

void hm_ring_release_subscriber(hm_ring *r, uint32_t index)
{
	if (index >= HM_MAX_SUBSCRIBERS)
		return;
	/* A subscriber that died asleep: take back its announcement, or every
	 * commit on the ring would make a wake system call from now on. */
	hm_ring_sleepers_remove(r->hdr, 1ull << index);
	sub_left(r->hdr, &r->subs[index]);
	/* As hm_sub_fini. The dead process reads nothing any more. */
	free_slot(&r->subs[index].owner, &r->subs[index].owner_start, &r->hdr->sub_mask, index, r);
}

/* Finish a claim that its (dead) producer provably won: [seq, seq + n), its
 * data ending at `end`. Returns the sequences abandoned. */
static int64_t resolve_claim(hm_ring *r, uint64_t seq, uint32_t n, uint64_t end)
{
	/* Acquire: pairs with the release of the head word by the owner. */
	uint64_t w = hm_load_acquire_u64(&slot_at(r, seq)->word);
	int64_t d = seq_diff(hm_word_seq(w), seq);
	if (d > 0)
		return 0; /* lapped (overwrite ring): nothing of it is left */
	if (d == 0 && hm_word_state(w) == HM_SLOT_COMMITTED) {
		/* Died inside a batch commit: the head is the commit point and
		 * the members' metas were written before it; finish it. */
		if (n > 1)
			commit_range(r, seq + 1, n - 1);
		return 0;
	}
	if (d == 0 && hm_word_state(w) == HM_SLOT_ABANDONED) {
		/* Died inside an abort: finish marking the range. */
		abandon_range(r, seq, n, end);
		return 0;
	}
	abandon_range(r, seq, n, end);
	/* Relaxed: counters for hermes-ctl, ordered with nothing. */
	hm_fetch_add_relaxed_u64(&r->hdr->repairs, 1);
	hm_fetch_add_relaxed_u64(&r->hdr->repaired_msgs, n);
	return n;
}

int64_t hm_ring_repair_producer(hm_ring *r, uint32_t index)
{
	if (index >= HM_MAX_PRODUCERS)
		return 0;
	hm_prod_slot *s = &r->prods[index];
	int64_t repaired = 0;
	/* The tail first. Acquire (inside): pairs with the release of every
	 * claim CAS, so the dead producer's intent and active flag, and the
	 * helpers' records of its claims (stored before their own CAS), are
	 * visible for every claim older than this tail. */
	uint64_t tpos, tseq;
	unsigned ttag;
	hm_ring_tail_tagged(r, &tpos, &tseq, &ttag);
	/* Acquire: pairs with the owner's last release of `active`. */
	if (hm_load_acquire_u32(&s->active)) {
		uint32_t n = hm_load_relaxed_u32(&s->intent_count);
		uint64_t total = hm_load_relaxed_u32(&s->intent_bytes);
		uint64_t ipos = hm_load_relaxed_u64(&s->intent_pos);
		uint64_t iseq = hm_load_relaxed_u64(&s->intent_seq);
		/* Acquire: pairs with the helper's CAS-max (record_claim). */
		uint64_t held = hm_load_acquire_u64(&s->held_seq);
		uint64_t iend = iseq + n;
		/* The intent says what the producer tried to claim; it won that
		 * claim only if the tail still carries its tag at the intent's
		 * end, or a later claimant recorded that end for it. Tail values
		 * never repeat (the sequence only grows), only this producer
		 * writes its tag, and its intents only grow: a torn, stale or
		 * half-rewritten intent matches neither. */
		bool won = n >= 1 && n <= MAX_BATCH && total <= r->cap &&
			   ((ttag == index + 1 && tseq == iend) || held == iend);
		if (won)
			repaired = resolve_claim(r, iseq, n, ipos + total);
		/* Release: the resolved records are published before scanners
		 * (acquire) stop holding the next lap back for this claim. */
		CRASH_POINT("repair: inactive");
		hm_store_release_u32(&s->active, 0);
	}
	/* A lease holder: its claim is resolved above like any other (the
	 * tail carries its tag); end its lease and its claim window, which a
	 * revoker may be waiting on. */
	CRASH_POINT("repair: in_claim");
	hm_store_release_u32(&s->in_claim, 0);
	/* Until it no longer names the dead producer: a revoker may turn it
	 * into REVOKING between our load and our CAS (the model's lease-nomb
	 * run). seq_cst CAS: in one order with the revoker's CASes and the
	 * holder's lease_try; a revoker that reads 0 claims with the CAS. */
	uint64_t l = hm_load_relaxed_u64(&r->hdr->lease);
	while (HM_LEASE_TAG(l) == index + 1) {
		CRASH_POINT("repair: lease");
		if (atomic_compare_exchange_strong_explicit(&r->hdr->lease, &l, 0,
							    memory_order_seq_cst, memory_order_relaxed))
			break;
	}
	/* A producer that died asleep: take back its announcement, or every
	 * release would make a wake system call from now on. */
	CRASH_POINT("repair: retract");
	atomic_fetch_and_explicit(&r->hdr->prod_sleepers, ~(1ull << index), memory_order_seq_cst);
	/* Always: the producer may have died between a commit and its wake
	 * (found by the model, shm/model/README.md). */
	wake_sleepers(r, true);
	free_slot(&s->owner, &s->owner_start, &r->hdr->prod_mask, index, NULL);
	return repaired;
}

/* ---- subscribers, as publishers see them; readiness for wait sets ---------- */

unsigned hm_ring_subscribers(const hm_ring *r)
{
	/* Acquire on the mask: a bit set by take_slot (seq_cst) comes with the
	 * slot it names. Acquire on the flag pairs with sub_joined. */
	uint64_t mask = hm_load_acquire_u64(&r->hdr->sub_mask);
	unsigned n = 0;
	while (mask) {
		unsigned i = (unsigned)__builtin_ctzll(mask);
		mask &= mask - 1;
		n += hm_load_acquire_u32(&r->subs[i].joined) == 1;
	}
	return n;
}

unsigned hermes_pub_subscribers(const hermes_pub *p)
{
	return hm_ring_subscribers(&p->ring);
}

hermes_err hermes_pub_wait_subscribers(hermes_pub *p, unsigned min, int64_t timeout_ns)
{
	uint64_t deadline = hm_deadline_after(timeout_ns);
	hm_ring_header *h = p->ring.hdr;
	for (;;) {
		/* The value first, then the count: a join after our count bumps
		 * it, and the wait below returns at once. */
		uint32_t v = hm_load_seq_cst_u32(&h->sub_changes);
		if (hm_ring_subscribers(&p->ring) >= min)
			return HERMES_OK;
		if (hm_load_relaxed_u32(&h->deleted))
			return HERMES_ECLOSED;
		if (hm_now_ns() >= deadline)
			return HERMES_ETIMEDOUT;
		if (hm_futex_wait(&h->sub_changes, v, deadline) == EINTR)
			return HERMES_EAGAIN;
	}
}

bool hm_sub_ready(hermes_sub *s)
{
	/* Relaxed: `deleted` is a one-way flag; a late view only delays. */
	return sub_ready(s) || hm_load_relaxed_u32(&s->ring.hdr->deleted) != 0;
}

/* ---- durable subscribers (hermes_sub_open_durable) -------------------------- */

void hm_ring_orphan_subscriber(hm_ring *r, uint32_t index)
{
	if (index >= HM_MAX_SUBSCRIBERS)
		return;
	hm_sub_slot *s = &r->subs[index];
	/* As hm_ring_release_subscriber, except that the mask bit, and so the
	 * cursor, stay: a block ring's producers remain held at what the
	 * owner released. Nobody reads through the slot until it is adopted. */
	hm_ring_sleepers_remove(r->hdr, 1ull << index);
	sub_left(r->hdr, s);
	hm_store_relaxed_u64(&s->owner_start, 0);
	/* Release: pairs with the adopter's CAS (acquire), so the cursor the
	 * owner released is what the adopter reads. */
	hm_store_release_u64(&s->owner, HM_SUB_ORPHAN);
}

int hm_ring_adopt_sub_slot(hm_ring *r, uint64_t key, uint64_t pid, uint64_t pid_start)
{
	for (uint32_t i = 0; i < HM_MAX_SUBSCRIBERS; i++) {
		hm_sub_slot *s = &r->subs[i];
		uint64_t expected = HM_SUB_ORPHAN;
		/* Acquire (durable): pairs with the release that published the
		 * key after the name. acq_rel CAS: pairs with the orphaning
		 * release store, and makes two adopters exclude each other. */
		if (hm_load_acquire_u64(&s->durable) != key ||
		    hm_load_relaxed_u64(&s->owner) != HM_SUB_ORPHAN ||
		    !hm_cas_acq_rel_u64(&s->owner, &expected, pid))
			continue;
		hm_store_relaxed_u64(&s->owner_start, pid_start);
		return (int)i;
	}
	return -1;
}

void hm_sub_adopt(hermes_sub *s, const hm_ring *r, int slot_index)
{
	sub_handle_init(s, r, slot_index);
	/* The cursor never stopped holding the ring (its mask bit stayed set),
	 * so no join is needed: go on from exactly what was released. Relaxed:
	 * the adopting CAS (acquire) ordered these after the orphaning. */
	s->seq = hm_load_relaxed_u64(&s->slot->seq);
	s->pos = hm_load_relaxed_u64(&s->slot->pos);
	s->released_seq = s->seq;
	s->released_pos = s->pos;
	(void)sub_joined(s);
}

bool hm_ring_drop_durable(hm_ring *r, uint32_t index)
{
	if (index >= HM_MAX_SUBSCRIBERS)
		return false;
	hm_sub_slot *s = &r->subs[index];
	uint64_t expected = HM_SUB_ORPHAN;
	/* Only an orphan, and only once: an adopter's CAS and ours exclude
	 * each other. HM_SUB_ORPHAN - 1 (no pid either) keeps the slot taken
	 * while the key goes. */
	if (!hm_cas_acq_rel_u64(&s->owner, &expected, HM_SUB_ORPHAN - 1))
		return false;
	hm_store_relaxed_u64(&s->durable, 0);
	free_slot(&s->owner, &s->owner_start, &r->hdr->sub_mask, index, r);
	return true;
}

void hm_sub_durable_name(const hm_sub_slot *s, char out[32])
{
	/* Shared memory: copy, bounded, terminated, printable. */
	memcpy(out, s->durable_name, sizeof s->durable_name);
	out[sizeof s->durable_name - 1] = '\0';
	for (char *p = out; *p; p++)
		if (*p < 0x21 || *p > 0x7e)
			*p = '?';
}
