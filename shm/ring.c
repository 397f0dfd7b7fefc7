/* The ring: many producers, many broadcast subscribers, variable-size
 * messages. The full argument is in docs/ARCHITECTURE.md; in short:
 *
 *  - Two areas: a slot array (16 bytes per message, slot = seq & mask) and a
 *    data area (payload bytes, a byte ring). A producer claims both with one
 *    16-byte CAS on the tail pair (data position, sequence): one atomic step
 *    for a single message or a whole batch.
 *  - Before the CAS a producer records its intent (position, sequence, count,
 *    bytes) in its own slot, so that if it dies between CAS and commit the
 *    supervisor knows exactly what to mark abandoned.
 *  - Commit = store the slot word (sequence, COMMITTED) with release.
 *    Subscribers keep their own sequence, load the slot word with acquire,
 *    and learn "not yet", "here" or "lapped" from the sequence inside it.
 *    They publish their cursor (release) only when they release messages.
 *  - Producers never look at subscribers while there is room: each caches
 *    the limits (lowest cursor or active claim, plus capacity/slots). Only
 *    when a claim would pass them do they read the shared limits, and only if
 *    those are short too do they scan the slots and raise them.
 *  - Sleeping subscribers announce themselves in a counter; producers read it
 *    after each commit and make the FUTEX_WAKE call only when it is non-zero.
 */
#include "shm/ring.h"

#include <errno.h>
#include <sched.h>
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

static inline hm_slot *slot_at(const hm_ring *r, uint64_t seq)
{
	return &r->slots[seq & r->slot_mask];
}

static inline uint8_t *data_at(const hm_ring *r, uint64_t pos)
{
	return r->data + (pos & r->mask);
}

/* Sequences stay below 2^62 (the slot word keeps two state bits), so the
 * difference of two nearby ones is exact in 62-bit two's complement. */
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
static size_t data_offset(uint32_t slots)
{
	return align_up(slot_offset() + (size_t)slots * sizeof(hm_slot), 4096);
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
	if (!is_pow2(slots) || slots < HM_MIN_SLOTS || slots > (1u << 28))
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
	    !is_pow2(h.slots) || h.slots < HM_MIN_SLOTS || h.slots > (1u << 28) ||
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

/* Give a slot back. Its mask bit goes first: a scan that skips the slot from
 * then on is right to, its owner is done with it; clearing the bit after the
 * owner could clear the bit of the next owner. The start time is cleared
 * next and the owner last, with release, so whoever takes the slot next (CAS,
 * acquire) sees start 0 until it stores its own: a supervisor looking in
 * between never pairs the new owner with the old owner's start time. */
static void free_slot(hm_atomic_u64 *owner, hm_atomic_u64 *start, hm_atomic_u64 *mask,
		      unsigned index)
{
	atomic_fetch_and_explicit(mask, ~(1ull << index), memory_order_seq_cst);
	hm_store_relaxed_u64(start, 0);
	hm_store_release_u64(owner, 0);
}

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
		hm_store_relaxed_u64(&s->msgs, 0);
		hm_store_relaxed_u64(&s->bytes, 0);
		hm_store_relaxed_u64(&s->full_events, 0);
		hm_store_relaxed_u64(&s->aborts, 0);
	}
	return i;
}

int hm_ring_take_sub_slot(hm_ring *r, uint64_t owner, uint64_t owner_start)
{
	int i = take_slot(&r->subs[0].owner, &r->subs[0].owner_start, sizeof(hm_sub_slot),
			  HM_MAX_SUBSCRIBERS, owner, owner_start, &r->hdr->sub_mask);
	if (i >= 0) {
		hm_sub_slot *s = &r->subs[i];
		hm_store_relaxed_u64(&s->msgs, 0);
		hm_store_relaxed_u64(&s->bytes, 0);
		hm_store_relaxed_u64(&s->lost, 0);
		hm_store_relaxed_u64(&s->skipped, 0);
		hm_store_relaxed_u32(&s->sleeping, 0);
	}
	return i;
}

void hm_ring_tail(const hm_ring *r, uint64_t *pos, uint64_t *seq)
{
	/* The pair only changes through hm_cas128, and every change raises the
	 * position, so two equal reads of the position around the read of the
	 * sequence prove the sequence belongs to it. Acquire: the caller may go
	 * on to read slots published before the tail moved. */
	for (;;) {
		uint64_t p1 = hm_load_acquire_u64(&r->hdr->tail.lo);
		uint64_t s = hm_load_acquire_u64(&r->hdr->tail.hi);
		uint64_t p2 = hm_load_acquire_u64(&r->hdr->tail.lo);
		if (p1 == p2) {
			*pos = p1;
			*seq = s;
			return;
		}
	}
}

/* ---- free-space limits ----------------------------------------------------- */

static void cas_max(hm_atomic_u64 *p, uint64_t want)
{
	uint64_t cur = hm_load_acquire_u64(p);
	/* acq_rel: the release hands the happens-before we established with
	 * cursors and commits to producers that take the limit from the shared
	 * word (acquire, in claim_region). */
	while (cur < want && !hm_cas_acq_rel_u64(p, &cur, want))
		;
}

/* Scan claims and (block rings) cursors and raise the shared limits. Slow
 * path: runs about once per lap when subscribers keep up.
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
		 * anything we later write over them. */
		if (hm_load_acquire_u32(&s->active)) {
			uint64_t ip = hm_load_relaxed_u64(&s->intent_pos);
			uint64_t is = hm_load_relaxed_u64(&s->intent_seq);
			if (ip < min_pos)
				min_pos = ip;
			if (seq_diff(is, min_seq) < 0)
				min_seq = is;
		}
	}
	if (r->policy == HERMES_POLICY_BLOCK) {
		for (uint64_t m = hm_load_acquire_u64(&h->sub_mask); m; m &= m - 1) {
			hm_sub_slot *s = &r->subs[__builtin_ctzll(m)];
			/* Acquire: pairs with the subscriber's release of its
			 * cursor, so its reads of the messages before it happen
			 * before our overwrite. The subscriber stores seq before
			 * pos (release), so seq is at least as new as pos. */
			uint64_t c = hm_load_acquire_u64(&s->pos);
			uint64_t cs = hm_load_relaxed_u64(&s->seq);
			if (c < min_pos)
				min_pos = c;
			if (seq_diff(cs, min_seq) < 0)
				min_seq = cs;
		}
	}
	cas_max(&h->limit, min_pos + r->cap);
	cas_max(&h->seq_limit, min_seq + r->nslots);
	hm_fetch_add_relaxed_u64(&h->limit_scans, 1);
	/* Release (RMW): a joiner that sees the scan over also sees the
	 * limits it raised. */
	atomic_fetch_add_explicit(&self->scans, 1, memory_order_release);
}

/* ---- producers ------------------------------------------------------------- */

void hm_pub_init(hermes_pub *p, const hm_ring *r, int slot_index)
{
	memset(p, 0, sizeof *p);
	p->ring = *r;
	p->slot_index = (uint32_t)slot_index;
	p->slot = &p->ring.prods[slot_index];
	p->claim_seq = NO_CLAIM;
	/* Acquire: pairs with cas_max's release; see there. */
	p->limit = hm_load_acquire_u64(&r->hdr->limit);
	p->seq_limit = hm_load_acquire_u64(&r->hdr->seq_limit);
}

static inline bool fits(const hermes_pub *p, uint64_t end, uint64_t seq_end)
{
	return end <= p->limit && seq_diff(seq_end, p->seq_limit) <= 0;
}

/* Claim `total` data bytes for n messages; on success *start is where the
 * first payload goes and *seq_out its sequence. */
static hermes_err claim_region(hermes_pub *p, uint64_t total, uint32_t n, uint64_t *start,
			       uint64_t *seq_out)
{
	hm_ring *r = &p->ring;
	hm_ring_header *h = r->hdr;
	hm_prod_slot *s = p->slot;
	/* Relaxed: a torn or stale pair only makes the CAS below fail and
	 * hand us the current value. */
	uint64_t pos = hm_load_relaxed_u64(&h->tail.lo);
	uint64_t seq = hm_load_relaxed_u64(&h->tail.hi);
	for (;;) {
		uint64_t off = pos & r->mask;
		/* A claim never wraps inside the data area: if it does not fit
		 * before the end, it starts at the next lap. */
		uint64_t pad = off + total > r->cap ? r->cap - off : 0;
		uint64_t end = pos + pad + total;
		if (!fits(p, end, seq + n)) {
			/* Relaxed: advisory. A deleted ring stops taking messages
			 * the next time a producer runs out of cached room (about
			 * once a lap), without a check on every claim. */
			if (hm_load_relaxed_u32(&h->deleted)) {
				/* Release, as at commit: we hold nothing now. */
				hm_store_release_u32(&s->active, 0);
				return HERMES_ECLOSED;
			}
			/* Acquire: pairs with cas_max's release. */
			p->limit = hm_load_acquire_u64(&h->limit);
			p->seq_limit = hm_load_acquire_u64(&h->seq_limit);
			if (!fits(p, end, seq + n)) {
				refresh_limits(r, s);
				p->limit = hm_load_acquire_u64(&h->limit);
				p->seq_limit = hm_load_acquire_u64(&h->seq_limit);
			}
			if (!fits(p, end, seq + n)) {
				/* Release: we hold nothing now; see commit. */
				hm_store_release_u32(&s->active, 0);
				/* Count times the ring filled up, not retries. */
				if (!p->full)
					hm_store_relaxed_u64(&s->full_events,
							     hm_load_relaxed_u64(&s->full_events) + 1);
				p->full = 1;
				return HERMES_EAGAIN;
			}
		}
		/* The intent, then the CAS. Relaxed stores: the CAS below is a
		 * release, so a scanner or the supervisor that observes the new
		 * tail (acquire) also observes these. */
		hm_store_relaxed_u64(&s->intent_pos, pos);
		hm_store_relaxed_u64(&s->intent_seq, seq);
		hm_store_relaxed_u32(&s->intent_count, n);
		hm_store_relaxed_u32(&s->intent_bytes, (uint32_t)total);
		hm_store_relaxed_u32(&s->active, 1);
		if (hm_cas128(&h->tail, &pos, &seq, end, seq + n)) {
			p->full = 0;
			if (r->policy == HERMES_POLICY_OVERWRITE) {
				/* A lapped reader validates by reading the tail
				 * after the data: our data stores must not become
				 * visible before the tail moved. */
				hm_fence_release();
			}
			*start = pos + pad;
			*seq_out = seq;
			return HERMES_OK;
		}
	}
}

hermes_err hermes_pub_claim(hermes_pub *p, uint32_t len, hermes_claim *c)
{
	if (len > p->ring.max_msg)
		return HERMES_EMSGSIZE;
	if (p->claim_seq != NO_CLAIM)
		return HERMES_EINVAL;
	uint64_t bytes = hm_data_bytes(len), pos, seq;
	hermes_err err = claim_region(p, bytes, 1, &pos, &seq);
	if (err)
		return err;
	/* Relaxed: published by the release store of the word at commit. */
	hm_store_relaxed_u64(&slot_at(&p->ring, seq)->meta, hm_meta(pos, len));
	p->claim_seq = seq;
	c->data = data_at(&p->ring, pos);
	c->len = len;
	c->n_ = 1;
	c->pos_ = pos;
	c->seq_ = seq;
	c->bytes_ = bytes;
	return HERMES_OK;
}

hermes_err hermes_pub_claim_batch(hermes_pub *p, const uint32_t *lens, uint32_t n, void **ptrs,
				  hermes_claim *c)
{
	if (n == 0 || n > MAX_BATCH || !lens || !ptrs)
		return HERMES_EINVAL;
	if (p->claim_seq != NO_CLAIM)
		return HERMES_EINVAL;
	uint64_t total = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (lens[i] > p->ring.max_msg)
			return HERMES_EMSGSIZE;
		total += hm_data_bytes(lens[i]);
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
		hm_store_relaxed_u64(&slot_at(&p->ring, seq + i)->meta, hm_meta(at, lens[i]));
		ptrs[i] = data_at(&p->ring, at);
		at += hm_data_bytes(lens[i]);
	}
	p->claim_seq = seq;
	c->data = ptrs[0];
	c->len = lens[0];
	c->n_ = n;
	c->pos_ = pos;
	c->seq_ = seq;
	c->bytes_ = total;
	return HERMES_OK;
}

static void wake_sleepers(hm_ring *r)
{
	/* Dekker with hermes_sub_wait: we stored a slot word, then read
	 * `waiters`; a sleeper increments `waiters`, then reads the slot word.
	 * With a seq_cst fence between the two accesses on both sides, at
	 * least one of us sees the other's write: either the sleeper sees the
	 * message or we see the sleeper. */
	hm_fence_seq_cst();
	if (hm_load_relaxed_u32(&r->hdr->waiters)) {
		/* seq_cst RMW: a sleeper that reads the new futex value also
		 * sees our commit; one that read the old value is woken. */
		hm_fetch_add_seq_cst_u32(&r->hdr->futex, 1);
		hm_futex_wake(&r->hdr->futex, 0x7fffffff);
	}
}

hermes_err hermes_pub_commit(hermes_pub *p, hermes_claim *c)
{
	if (p->claim_seq == NO_CLAIM || c->seq_ != p->claim_seq)
		return HERMES_EINVAL;
	hm_ring *r = &p->ring;
	uint64_t payload = c->len;
	for (uint32_t i = 1; i < c->n_; i++) {
		hm_slot *sl = slot_at(r, c->seq_ + i);
		payload += hm_meta_len(hm_load_relaxed_u64(&sl->meta));
		/* The later messages of a batch are reachable only through the
		 * first, so relaxed stores suffice: the release store of the
		 * first word below publishes them all at once. */
		hm_store_relaxed_u64(&sl->word, hm_slot_word(c->seq_ + i, HM_SLOT_COMMITTED));
	}
	/* The commit. Release: pairs with the subscriber's acquire load of the
	 * word, making meta and the payload visible with it. */
	hm_store_release_u64(&slot_at(r, c->seq_)->word, hm_slot_word(c->seq_, HM_SLOT_COMMITTED));
	/* Release: pairs with refresh_limits' acquire; once a scanner sees
	 * active == 0 it may let the next lap overwrite this message. */
	hm_store_release_u32(&p->slot->active, 0);
	p->claim_seq = NO_CLAIM;
	hm_prod_slot *s = p->slot;
	/* Single-writer counters on our own slot: relaxed load + store. */
	hm_store_relaxed_u64(&s->msgs, hm_load_relaxed_u64(&s->msgs) + c->n_);
	hm_store_relaxed_u64(&s->bytes, hm_load_relaxed_u64(&s->bytes) + payload);
	wake_sleepers(r);
	return HERMES_OK;
}

/* Mark n sequences from seq abandoned, covering data up to end. */
static void abandon(hm_ring *r, uint64_t seq, uint32_t n, uint64_t end)
{
	hm_slot *sl = slot_at(r, seq);
	hm_store_relaxed_u64(&sl->meta, hm_meta(end, n));
	/* Release: as a commit; subscribers skip n sequences. */
	hm_store_release_u64(&sl->word, hm_slot_word(seq, HM_SLOT_ABANDONED));
}

hermes_err hermes_pub_abort(hermes_pub *p, hermes_claim *c)
{
	if (p->claim_seq == NO_CLAIM || c->seq_ != p->claim_seq)
		return HERMES_EINVAL;
	hm_ring *r = &p->ring;
	abandon(r, c->seq_, c->n_, c->pos_ + c->bytes_);
	/* Release: pairs with refresh_limits' acquire, as at commit. */
	hm_store_release_u32(&p->slot->active, 0);
	p->claim_seq = NO_CLAIM;
	hm_store_relaxed_u64(&p->slot->aborts, hm_load_relaxed_u64(&p->slot->aborts) + 1);
	wake_sleepers(r);
	return HERMES_OK;
}

/* Spin a little, then yield, until the deadline passes. */
static bool backoff(unsigned *spins, uint64_t deadline)
{
	if (++*spins < 128) {
		hm_cpu_relax();
		return true;
	}
	if ((*spins & 15) == 0 && hm_now_ns() >= deadline)
		return false;
	sched_yield();
	return true;
}

hermes_err hermes_pub_claim_timed(hermes_pub *p, uint32_t len, hermes_claim *c, int64_t timeout_ns)
{
	uint64_t deadline = hm_deadline_after(timeout_ns);
	unsigned spins = 0;
	for (;;) {
		hermes_err err = hermes_pub_claim(p, len, c);
		if (err != HERMES_EAGAIN)
			return err;
		/* (A deleted ring answers HERMES_ECLOSED from the claim.) */
		if (!backoff(&spins, deadline))
			return HERMES_ETIMEDOUT;
	}
}

hermes_err hermes_pub_send(hermes_pub *p, const void *data, uint32_t len, uint64_t *seq)
{
	hermes_claim c;
	hermes_err err = hermes_pub_claim(p, len, &c);
	if (err)
		return err;
	memcpy(c.data, data, len);
	if (seq)
		*seq = c.seq_;
	return hermes_pub_commit(p, &c);
}

hermes_err hermes_pub_send_timed(hermes_pub *p, const void *data, uint32_t len, uint64_t *seq,
				 int64_t timeout_ns)
{
	hermes_claim c;
	hermes_err err = hermes_pub_claim_timed(p, len, &c, timeout_ns);
	if (err)
		return err;
	memcpy(c.data, data, len);
	if (seq)
		*seq = c.seq_;
	return hermes_pub_commit(p, &c);
}

void hm_pub_fini(hermes_pub *p)
{
	if (p->claim_seq != NO_CLAIM) {
		/* Abort the outstanding claim, rebuilt from the intent. */
		uint64_t pos = hm_load_relaxed_u64(&p->slot->intent_pos);
		uint64_t total = hm_load_relaxed_u32(&p->slot->intent_bytes);
		uint64_t off = pos & p->ring.mask;
		uint64_t pad = off + total > p->ring.cap ? p->ring.cap - off : 0;
		abandon(&p->ring, p->claim_seq, hm_load_relaxed_u32(&p->slot->intent_count),
			pos + pad + total);
		p->claim_seq = NO_CLAIM;
		wake_sleepers(&p->ring);
	}
	/* Release: pairs with refresh_limits' acquire, as at commit. */
	hm_store_release_u32(&p->slot->active, 0);
	/* Release (in free_slot): the slot's last writes are visible to the
	 * next owner, whose CAS acquires it. */
	free_slot(&p->slot->owner, &p->slot->owner_start, &p->ring.hdr->prod_mask, p->slot_index);
}

/* ---- subscribers ----------------------------------------------------------- */

void hm_ring_earliest(const hm_ring *r, uint64_t *pos_out, uint64_t *seq_out)
{
	uint64_t tpos, tseq;
	hm_ring_tail(r, &tpos, &tseq);
	/* No claim ends beyond the shared limits, so data at or after
	 * limit - capacity and slots at or after seq_limit - slots are safe
	 * from the next lap until the limits rise. */
	uint64_t limit = hm_load_acquire_u64(&r->hdr->limit);
	uint64_t seq_limit = hm_load_acquire_u64(&r->hdr->seq_limit);
	uint64_t low = limit > r->cap ? limit - r->cap : 0;
	uint64_t seq = seq_limit > r->nslots ? seq_limit - r->nslots : 0;
	for (; seq_diff(seq, tseq) < 0; seq++) {
		/* Acquire: pairs with the commit's release of the word. */
		uint64_t w = hm_load_acquire_u64(&slot_at(r, seq)->word);
		if (hm_word_seq(w) != seq)
			break; /* not written yet: start here and wait for it */
		uint64_t meta = hm_load_relaxed_u64(&slot_at(r, seq)->meta);
		uint64_t at = hm_meta_pos_before(meta, tpos);
		if (hm_word_state(w) == HM_SLOT_COMMITTED && at >= low) {
			*pos_out = at;
			*seq_out = seq;
			return;
		}
	}
	*pos_out = seq == tseq ? tpos : low;
	*seq_out = seq;
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
				/* Slots index by sequence: start right there. The
				 * cursor stays at the earliest position, which is at
				 * or before the target's data. */
				seq = target;
			}
		}
	}
	s->pos = pos;
	s->seq = seq;
}

/* Wait until every producer scan that was running when we looked has
 * finished (a scan that starts later sees our cursor). A producer that dies
 * mid-scan has its slot freed by the supervisor, which ends the wait; the
 * deadline bounds it in any case. */
static void wait_for_scans(const hm_ring *r, uint64_t deadline)
{
	for (uint64_t m = hm_load_acquire_u64(&r->hdr->prod_mask); m; m &= m - 1) {
		hm_prod_slot *p = &r->prods[__builtin_ctzll(m)];
		/* Acquire: pairs with the release that ends a scan, so the
		 * limits it raised are visible to our re-check. */
		uint32_t c = hm_load_acquire_u32(&p->scans);
		unsigned spins = 0;
		while ((c & 1) && hm_load_acquire_u32(&p->scans) == c &&
		       hm_load_relaxed_u64(&p->owner) != 0) {
			if (++spins > 64) {
				if (hm_now_ns() > deadline)
					return;
				sched_yield();
			} else {
				hm_cpu_relax();
			}
		}
	}
}

void hm_sub_init(hermes_sub *s, const hm_ring *r, int slot_index, hermes_start start, uint64_t seq)
{
	memset(s, 0, sizeof *s);
	s->ring = *r;
	s->slot_index = (uint32_t)slot_index;
	s->slot = &s->ring.subs[slot_index];
	/* Join: publish a cursor, fence, wait out the scans already running,
	 * then check the cursor is still inside what producers may not
	 * overwrite; if the limits moved past it, choose again. The fence
	 * pairs with the one at the start of refresh_limits: either a scan
	 * sees our cursor, or we see that scan running and wait for it, after
	 * which its raised limits are visible to the check. */
	uint64_t deadline = hm_now_ns() + 2000000000u;
	for (int tries = 0; tries < 16; tries++) {
		sub_set_start(s, start, seq);
		hm_store_relaxed_u64(&s->slot->seq, s->seq);
		hm_store_release_u64(&s->slot->pos, s->pos);
		hm_fence_seq_cst();
		wait_for_scans(&s->ring, deadline);
		uint64_t limit = hm_load_acquire_u64(&s->ring.hdr->limit);
		uint64_t seq_limit = hm_load_acquire_u64(&s->ring.hdr->seq_limit);
		if (limit <= s->pos + s->ring.cap && seq_diff(seq_limit, s->seq + s->ring.nslots) <= 0)
			break;
	}
	s->released_pos = s->pos;
	s->released_seq = s->seq;
}

void hm_sub_fini(hermes_sub *s)
{
	/* Release (in free_slot): our reads of the ring are done before a
	 * producer that sees the slot free overwrites them. */
	free_slot(&s->slot->owner, &s->slot->owner_start, &s->ring.hdr->sub_mask, s->slot_index);
}

static void publish_cursor(hermes_sub *s)
{
	/* seq first, relaxed; then pos with release: a scanner that acquires
	 * pos sees a seq at least this new. Release pairs with refresh_limits'
	 * acquire: our reads of every released message happen before a
	 * producer writes over them. */
	hm_store_relaxed_u64(&s->slot->seq, s->seq);
	hm_store_release_u64(&s->slot->pos, s->pos);
	s->released_pos = s->pos;
	s->released_seq = s->seq;
}

/* Lapped: jump to the oldest retained message and count what was lost. */
static hermes_err sub_resync(hermes_sub *s, hermes_msg *m)
{
	uint64_t pos, seq;
	hm_ring_earliest(&s->ring, &pos, &seq);
	uint64_t lost = seq_diff(seq, s->seq) > 0 ? seq - s->seq : 0;
	s->pos = pos;
	s->seq = seq;
	s->unreleased_msgs = 0;
	s->unreleased_bytes = 0;
	s->empty_polls = 0;
	hm_store_relaxed_u64(&s->slot->lost, hm_load_relaxed_u64(&s->slot->lost) + lost);
	publish_cursor(s);
	m->data = NULL;
	m->len = 0;
	m->seq = s->seq;
	m->gap = 0;
	m->lost = lost;
	return HERMES_ELOST;
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
	uint64_t tseq = hm_load_relaxed_u64(&r->hdr->tail.hi);
	return tail > from + r->cap || seq_diff(tseq, seq + r->nslots) > 0;
}

hermes_err hermes_sub_poll(hermes_sub *s, hermes_msg *m)
{
	hm_ring *r = &s->ring;
	if (s->pending_lost) {
		m->data = NULL;
		m->len = 0;
		m->seq = s->seq;
		m->gap = 0;
		m->lost = s->pending_lost;
		hm_store_relaxed_u64(&s->slot->lost, hm_load_relaxed_u64(&s->slot->lost) + m->lost);
		s->pending_lost = 0;
		return HERMES_ELOST;
	}
	for (;;) {
		hm_slot *sl = slot_at(r, s->seq);
		/* Acquire: pairs with the release store of the word (commit,
		 * abort or repair), making meta and the payload visible. */
		uint64_t w = hm_load_acquire_u64(&sl->word);
		int64_t d = seq_diff(hm_word_seq(w), s->seq);
		if (d < 0 || (d == 0 && hm_word_state(w) == HM_SLOT_IN_PROGRESS)) {
			if (r->policy == HERMES_POLICY_OVERWRITE &&
			    ++s->empty_polls % LAP_CHECK_EVERY == 0 &&
			    overwritten_since(r, s->pos, s->seq))
				return sub_resync(s, m);
			return HERMES_EAGAIN;
		}
		if (d > 0)
			return sub_resync(s, m);
		uint64_t meta = hm_load_relaxed_u64(&sl->meta);
		uint64_t seq = s->seq;
		if (hm_word_state(w) == HM_SLOT_ABANDONED) {
			uint64_t count = hm_meta_len(meta);
			if (count == 0 || count > MAX_BATCH)
				return sub_resync(s, m);
			s->pos = hm_meta_pos_after(meta, s->pos);
			s->seq += count;
			s->gap += count;
			hm_store_relaxed_u64(&s->slot->skipped,
					     hm_load_relaxed_u64(&s->slot->skipped) + count);
			continue;
		}
		uint32_t len = (uint32_t)hm_meta_len(meta);
		uint64_t at = hm_meta_pos_after(meta, s->pos);
		/* Our cursor is at or before this payload and within a lap of
		 * it; anything else means the slot was reused under us. */
		if (len > r->max_msg || at - s->pos > r->cap || (at & r->mask) + len > r->cap)
			return sub_resync(s, m);
		s->pos = at + hm_data_bytes(len);
		s->seq++;
		if (s->skip_until && seq_diff(seq, s->skip_until) < 0)
			continue;
		s->skip_until = 0;
		s->unreleased_msgs++;
		s->unreleased_bytes += len;
		s->empty_polls = 0;
		m->data = data_at(r, at);
		m->len = len;
		m->seq = seq;
		m->gap = s->gap;
		m->lost = 0;
		s->gap = 0;
		return HERMES_OK;
	}
}

hermes_err hermes_sub_release(hermes_sub *s)
{
	hm_sub_slot *sl = s->slot;
	hermes_err err = HERMES_OK;
	if (s->ring.policy == HERMES_POLICY_OVERWRITE && s->seq != s->released_seq &&
	    overwritten_since(&s->ring, s->released_pos, s->released_seq))
		err = HERMES_ELOST;
	if (s->unreleased_msgs) {
		hm_store_relaxed_u64(&sl->msgs, hm_load_relaxed_u64(&sl->msgs) + s->unreleased_msgs);
		hm_store_relaxed_u64(&sl->bytes, hm_load_relaxed_u64(&sl->bytes) + s->unreleased_bytes);
		s->unreleased_msgs = 0;
		s->unreleased_bytes = 0;
	}
	publish_cursor(s);
	return err;
}

hermes_err hermes_sub_poll_batch(hermes_sub *s, hermes_handler fn, void *ctx, unsigned max,
				 unsigned *count)
{
	unsigned n = 0;
	hermes_err err = HERMES_OK;
	hermes_msg m;
	while (max == 0 || n < max) {
		err = hermes_sub_poll(s, &m);
		if (err)
			break;
		fn(ctx, &m);
		n++;
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

hermes_err hermes_sub_recv(hermes_sub *s, void *buf, uint32_t cap, hermes_msg *m)
{
	hermes_sub saved = *s;
	hermes_err err = hermes_sub_poll(s, m);
	if (err)
		return err;
	if (m->len > cap) {
		/* Put the message back: nothing was consumed. */
		*s = saved;
		return HERMES_ENOBUFS;
	}
	memcpy(buf, m->data, m->len);
	if (s->ring.policy == HERMES_POLICY_OVERWRITE &&
	    overwritten_since(&s->ring, saved.pos, m->seq)) {
		*s = saved;
		return sub_resync(s, m);
	}
	m->data = buf;
	hermes_sub_release(s);
	return HERMES_OK;
}

/* Would a poll return something (a message, a skip, or a loss)? */
static bool sub_ready(hermes_sub *s)
{
	if (s->pending_lost)
		return true;
	/* Acquire: as in hermes_sub_poll. */
	uint64_t w = hm_load_acquire_u64(&slot_at(&s->ring, s->seq)->word);
	int64_t d = seq_diff(hm_word_seq(w), s->seq);
	if (d > 0 || (d == 0 && hm_word_state(w) != HM_SLOT_IN_PROGRESS))
		return true;
	return s->ring.policy == HERMES_POLICY_OVERWRITE && overwritten_since(&s->ring, s->pos, s->seq);
}

hermes_err hermes_sub_wait(hermes_sub *s, hermes_wait_mode mode, int64_t timeout_ns)
{
	uint64_t deadline = hm_deadline_after(timeout_ns);
	hm_store_relaxed_u32(&s->slot->wait_mode, (uint32_t)mode);
	unsigned spin_limit = mode == HERMES_WAIT_SPIN ? UINT32_MAX : 2048;
	for (unsigned i = 0; i < spin_limit; i++) {
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
	hm_store_relaxed_u32(&s->slot->sleeping, 1);
	/* seq_cst RMW: the announcement, ordered before our fence below. */
	hm_fetch_add_seq_cst_u32(&h->waiters, 1);
	for (;;) {
		/* Read the futex word before checking the ring: if a producer
		 * bumps it after our check, FUTEX_WAIT sees the change and
		 * returns at once instead of sleeping through the wake-up. */
		uint32_t v = hm_load_acquire_u32(&h->futex);
		/* Pairs with the fence in wake_sleepers (see there). */
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
		if (s->ring.policy == HERMES_POLICY_OVERWRITE) {
			uint64_t soon = hm_now_ns() + 10000000u;
			if (soon < until)
				until = soon;
		}
		if (hm_futex_wait(&h->futex, v, until) == EINTR) {
			err = HERMES_EAGAIN; /* a signal: let the caller look */
			break;
		}
	}
	hm_fetch_sub_seq_cst_u32(&h->waiters, 1);
	hm_store_relaxed_u32(&s->slot->sleeping, 0);
	return err;
}

uint64_t hermes_sub_next_seq(const hermes_sub *s)
{
	return s->seq;
}

/* ---- crash repair ------------------------------------------------------------ */

void hm_ring_release_subscriber(hm_ring *r, uint32_t index)
{
	if (index >= HM_MAX_SUBSCRIBERS)
		return;
	hm_store_relaxed_u32(&r->subs[index].sleeping, 0);
	/* As hm_sub_fini. The dead process reads nothing any more. */
	free_slot(&r->subs[index].owner, &r->subs[index].owner_start, &r->hdr->sub_mask, index);
}

int64_t hm_ring_repair_producer(hm_ring *r, uint32_t index)
{
	if (index >= HM_MAX_PRODUCERS)
		return 0;
	hm_prod_slot *s = &r->prods[index];
	int64_t repaired = 0;
	/* Acquire: pairs with the (dead) owner's last release stores. */
	if (hm_load_acquire_u32(&s->active)) {
		uint64_t ipos = hm_load_relaxed_u64(&s->intent_pos);
		uint64_t iseq = hm_load_relaxed_u64(&s->intent_seq);
		uint32_t n = hm_load_relaxed_u32(&s->intent_count);
		uint64_t total = hm_load_relaxed_u32(&s->intent_bytes);
		uint64_t tpos, tseq;
		hm_ring_tail(r, &tpos, &tseq);
		/* Acquire: a commit or abort by the owner shows in the word. */
		uint64_t w = hm_load_acquire_u64(&slot_at(r, iseq)->word);
		bool landed = hm_word_seq(w) == iseq && hm_word_state(w) != HM_SLOT_IN_PROGRESS;
		if (seq_diff(tseq, iseq) > 0 && tpos > ipos && n > 0 && !landed) {
			/* The tail moved past the intent, so someone claimed
			 * (ipos, iseq). It was the dead producer unless a live one
			 * holds the same intent and is about to learn which CAS
			 * won; then the caller retries shortly. */
			for (unsigned i = 0; i < HM_MAX_PRODUCERS; i++) {
				hm_prod_slot *o = &r->prods[i];
				if (i == index || !hm_load_acquire_u64(&o->owner) ||
				    !hm_load_acquire_u32(&o->active))
					continue;
				if (hm_load_relaxed_u64(&o->intent_pos) == ipos &&
				    hm_load_relaxed_u64(&o->intent_seq) == iseq)
					return -1;
			}
			uint64_t off = ipos & r->mask;
			uint64_t pad = off + total > r->cap ? r->cap - off : 0;
			abandon(r, iseq, n, ipos + pad + total);
			repaired = n;
			/* Relaxed: counters for hermes-ctl, ordered with nothing. */
			hm_fetch_add_relaxed_u64(&r->hdr->repairs, 1);
			hm_fetch_add_relaxed_u64(&r->hdr->repaired_msgs, n);
			wake_sleepers(r);
		}
		/* Release: the abandoned record is published before scanners
		 * (acquire) stop holding the next lap back for this claim. */
		hm_store_release_u32(&s->active, 0);
	}
	free_slot(&s->owner, &s->owner_start, &r->hdr->prod_mask, index);
	return repaired;
}
