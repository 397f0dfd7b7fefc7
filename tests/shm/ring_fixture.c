#include "tests/shm/ring_fixture.h"

#include "tests/support/testing.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

ht_ring *ht_ring_make(uint64_t cap, uint32_t max_msg, hermes_policy policy, bool shared)
{
	ht_ring *f = calloc(1, sizeof *f);
	assert_non_null(f);
	hermes_ring_config cfg = {.name = "t", .capacity = cap, .max_msg = max_msg, .policy = policy};
	f->size = hm_ring_block_size(cap, hm_ring_slots(&cfg));
	f->shared = shared;
	if (shared) {
		f->block = mmap(NULL, f->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		assert_true(f->block != MAP_FAILED);
	} else {
		f->block = aligned_alloc(4096, f->size);
		assert_non_null(f->block);
	}
	assert_int_equal(hm_ring_format(f->block, f->size, &cfg), HERMES_OK);
	assert_int_equal(hm_ring_view(&f->ring, f->block, f->size), HERMES_OK);
	int ps = hm_ring_take_prod_slot(&f->ring, 1, 1);
	assert_true(ps >= 0);
	hm_pub_init(&f->pub, &f->ring, ps);
	return f;
}

void ht_ring_free(ht_ring *f)
{
	if (f->shared)
		munmap(f->block, f->size);
	else
		free(f->block);
	free(f);
}

void ht_ring_sub(ht_ring *f, hermes_sub *sub, hermes_start start, uint64_t seq)
{
	int ss = hm_ring_take_sub_slot(&f->ring, 1, 1);
	assert_true(ss >= 0);
	assert_int_equal(hm_sub_init(sub, &f->ring, ss, start, seq), HERMES_OK);
}

ht_ring *ht_ring_make_sub(uint64_t cap, uint32_t max_msg, hermes_policy policy, hermes_sub *sub)
{
	ht_ring *f = ht_ring_make(cap, max_msg, policy, false);
	ht_ring_sub(f, sub, HERMES_START_LATEST, 0);
	return f;
}

static int ring_setup(void **state, hermes_policy policy)
{
	ht_ring *f = ht_ring_make(4096, 200, policy, false);
	ht_ring_sub(f, &f->sub, HERMES_START_LATEST, 0);
	*state = f;
	return 0;
}

int ht_ring_setup_block(void **state)
{
	return ring_setup(state, HERMES_POLICY_BLOCK);
}

int ht_ring_setup_overwrite(void **state)
{
	return ring_setup(state, HERMES_POLICY_OVERWRITE);
}

int ht_ring_teardown(void **state)
{
	ht_ring_free(*state);
	return 0;
}

int ht_ring_pub(ht_ring *f, hermes_pub *pub, uint64_t owner)
{
	int ps = hm_ring_take_prod_slot(&f->ring, owner, owner);
	assert_true(ps >= 0);
	hm_pub_init(pub, &f->ring, ps);
	return ps;
}

void ht_fill(uint8_t *p, uint32_t len, uint64_t seq)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seq * 31 + i * 7 + 1);
}

void ht_check(const uint8_t *p, uint32_t len, uint64_t seq)
{
	for (uint32_t i = 0; i < len; i++)
		if (p[i] != (uint8_t)(seq * 31 + i * 7 + 1))
			fail_msg("seq %llu byte %u differs", (unsigned long long)seq, i);
}

uint64_t ht_publish(hermes_pub *p, uint32_t len, uint64_t tag)
{
	hermes_claim c;
	assert_int_equal(hermes_pub_claim(p, len, &c), HERMES_OK);
	ht_fill(c.data, len, tag);
	uint64_t seq = c.seq_;
	assert_int_equal(hermes_pub_commit(p, &c), HERMES_OK);
	return seq;
}

void ht_publish_range(hermes_pub *p, uint32_t len, uint64_t from, uint64_t to)
{
	for (uint64_t tag = from; tag < to; tag++)
		ht_publish(p, len, tag);
}

void ht_poll_seq(hermes_sub *sub, hermes_msg *m, uint64_t seq)
{
	hermes_err e = hermes_sub_poll(sub, m);
	if (e != HERMES_OK)
		fail_msg("poll for sequence %llu: %s", (unsigned long long)seq, hermes_strerror(e));
	if (m->seq != seq)
		fail_msg("poll delivered sequence %llu, expected %llu", (unsigned long long)m->seq,
			 (unsigned long long)seq);
}

int ht_dead_claim(ht_ring *f, hermes_pub *dead, uint32_t len, hermes_claim *c)
{
	int slot = ht_ring_pub(f, dead, 2);
	assert_int_equal(hermes_pub_claim(dead, len, c), HERMES_OK);
	return slot;
}

int ht_dead_claim_repaired(ht_ring *f, hermes_sub *sub, uint32_t len, uint32_t plen, hermes_msg *m)
{
	hermes_pub dead;
	hermes_claim c;
	int slot = ht_dead_claim(f, &dead, len, &c);
	ht_publish(&f->pub, plen, 1);
	assert_int_equal(hermes_sub_poll(sub, m), HERMES_EAGAIN);
	assert_int_equal(hm_ring_repair_producer(&f->ring, (uint32_t)slot), 1);
	ht_poll_seq(sub, m, 1);
	assert_int_equal(m->gap, 1);
	return slot;
}

void ht_hand_intent(ht_ring *f, int index, uint32_t n, uint64_t bytes, uint64_t pos, uint64_t seq)
{
	hm_prod_slot *s = &f->ring.prods[index];
	hm_store_relaxed_u32(&s->intent_count, n);
	hm_store_relaxed_u32(&s->intent_bytes, (uint32_t)bytes);
	hm_store_relaxed_u64(&s->intent_pos, pos);
	hm_store_relaxed_u64(&s->intent_seq, seq);
	hm_store_relaxed_u32(&s->active, 1);
}

void ht_hand_claim(ht_ring *f, int index, uint32_t n, uint64_t bytes, bool won)
{
	uint64_t pos, seq;
	unsigned tag;
	hm_ring_tail_tagged(&f->ring, &pos, &seq, &tag);
	ht_hand_intent(f, index, n, bytes, pos, seq);
	if (!won)
		return;
	/* As claim_region: end an exclusive producer's lease (the fixture's
	 * publisher is not inside a claim here, so nothing is in flight),
	 * record the previous claimant's win, then move. */
	hm_store_relaxed_u64(&f->ring.hdr->lease, 0);
	if (tag && tag != (unsigned)index + 1) {
		uint64_t cur = hm_load_relaxed_u64(&f->ring.prods[tag - 1].held_seq);
		if (cur < seq)
			hm_store_relaxed_u64(&f->ring.prods[tag - 1].held_seq, seq);
	}
	uint64_t ep = pos, eh = hm_tail_hi(seq, tag);
	assert_true(hm_cas128(&f->ring.hdr->tail, &ep, &eh, pos + bytes,
			      hm_tail_hi(seq + n, (unsigned)index + 1)));
}

uint64_t ht_drain(hermes_sub *sub, uint64_t first, uint64_t *next)
{
	uint64_t got = 0, expect = first;
	hermes_msg m;
	hermes_err err;
	while ((err = hermes_sub_poll(sub, &m)) == HERMES_OK) {
		if (m.seq < expect)
			fail_msg("sequence %llu delivered again (expected %llu or later)",
				 (unsigned long long)m.seq, (unsigned long long)expect);
		ht_check(m.data, m.len, m.seq);
		expect = m.seq + 1;
		got++;
	}
	if (err != HERMES_EAGAIN)
		fail_msg("poll ended with %s", hermes_strerror(err));
	assert_int_equal(hermes_sub_release(sub), HERMES_OK);
	if (next)
		*next = expect;
	return got;
}
