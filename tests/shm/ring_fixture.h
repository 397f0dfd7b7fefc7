/* Shared helpers for the ring tests (tests/shm/test_ring*.c): a ring block in
 * ordinary (or shared anonymous) memory, a publisher on it, subscribers, and
 * payloads whose bytes depend on their sequence so any mix-up shows. */
#ifndef HT_RING_FIXTURE_H
#define HT_RING_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "shm/ring.h"

typedef struct ht_ring {
	void *block;
	size_t size;
	bool shared; /* mmap'd MAP_SHARED (visible to forked children) */
	hm_ring ring;
	hermes_pub pub;
	hermes_sub sub; /* joined by ht_ring_setup_*; unused otherwise */
} ht_ring;

/* A formatted ring with one publisher (slot owner 1). shared: the block is
 * MAP_SHARED anonymous memory, so forked children work on the same ring. */
ht_ring *ht_ring_make(uint64_t cap, uint32_t max_msg, hermes_policy policy, bool shared);
void ht_ring_free(ht_ring *f);

/* Take a subscriber slot and join at `start` (asserts success). */
void ht_ring_sub(ht_ring *f, hermes_sub *sub, hermes_start start, uint64_t seq);
/* The most common start: a private ring (ht_ring_make, not shared) with one
 * subscriber joined at the latest message. */
ht_ring *ht_ring_make_sub(uint64_t cap, uint32_t max_msg, hermes_policy policy, hermes_sub *sub);
/* cmocka set-up and tear-down for the ring most tests use: 4096 bytes,
 * messages up to 200, block or overwrite policy, with f->sub joined at the
 * latest message (ht_ring_make_sub); *state is the ht_ring. */
int ht_ring_setup_block(void **state);
int ht_ring_setup_overwrite(void **state);
int ht_ring_teardown(void **state);

/* Take another producer slot for owner `owner` and open a publisher on it. */
int ht_ring_pub(ht_ring *f, hermes_pub *pub, uint64_t owner);

/* Payload bytes for sequence `seq`, and a check of them. */
void ht_fill(uint8_t *p, uint32_t len, uint64_t seq);
void ht_check(const uint8_t *p, uint32_t len, uint64_t seq);
/* Claim, fill for `tag`, commit (asserts success); returns the sequence. */
uint64_t ht_publish(hermes_pub *p, uint32_t len, uint64_t tag);
/* ht_publish of len bytes for each tag from `from` up to (not including)
 * `to`, in order. */
void ht_publish_range(hermes_pub *p, uint32_t len, uint64_t from, uint64_t to);

/* Poll one message into *m: the poll must succeed and deliver sequence
 * seq (fails the test naming what came instead). */
void ht_poll_seq(hermes_sub *sub, hermes_msg *m, uint64_t seq);

/* A producer that dies holding a claim: a slot for owner 2, `dead` opened
 * on it, len bytes claimed into *c and never committed (asserts success);
 * returns the slot index, for repair. */
int ht_dead_claim(ht_ring *f, hermes_pub *dead, uint32_t len, hermes_claim *c);

/* The dead claim and its repair, on an empty ring with sub joined: a
 * producer dies holding a claim of len bytes (sequence 0); the fixture's
 * publisher sends sequence 1 (plen bytes, tag 1), which waits behind the
 * claim; repair skips it, and sequence 1 arrives in *m after a gap of one.
 * Returns the dead producer's slot. */
int ht_dead_claim_repaired(ht_ring *f, hermes_sub *sub, uint32_t len, uint32_t plen, hermes_msg *m);

/* Build by hand the state of producer slot `index` that recorded an intent
 * for n messages of `bytes` data bytes at the current tail, and (won) also
 * moved the tail with its tag, then died before writing anything else. */
void ht_hand_claim(ht_ring *f, int index, uint32_t n, uint64_t bytes, bool won);
/* The intent alone, at a given tail (pos, seq): what a producer that read
 * the tail there recorded before it died. */
void ht_hand_intent(ht_ring *f, int index, uint32_t n, uint64_t bytes, uint64_t pos, uint64_t seq);

/* Poll until EAGAIN, checking every message is ht_fill'ed for its sequence,
 * in order, starting at `first` (or later, when gaps are allowed); returns
 * how many were delivered and the next sequence in *next. */
uint64_t ht_drain(hermes_sub *sub, uint64_t first, uint64_t *next);

#endif
