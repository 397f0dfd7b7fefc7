/* hermes-bench-loop: the one-thread loops `hermes-bench instructions` runs
 * under callgrind (instructions are exact whatever the machine does, unlike
 * time): publish a 64-byte message, poll it, release, N times; the same with
 * batches of 32; and a bare single-producer ring doing the same work as the
 * baseline. Usage: hermes-bench-loop single|batch|batch-handler|bare N */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomics.h"
#include "shm/ring.h"

#define MSG 64u
#define BATCH 32u

/* The bare ring: one producer, one consumer, fixed 64-byte records, a head
 * and a tail index (release/acquire), nothing else. */
typedef struct bare {
	hm_atomic_u64 head;
	uint8_t pad0_[HM_FALSE_SHARING - 8];
	hm_atomic_u64 tail;
	uint8_t pad1_[HM_FALSE_SHARING - 8];
	uint8_t data[1024][MSG];
} bare;

static unsigned long run_bare(unsigned long n)
{
	bare *b = aligned_alloc(HM_FALSE_SHARING, sizeof *b);
	memset(b, 0, sizeof *b);
	uint8_t payload[MSG], out[MSG];
	memset(payload, 7, sizeof payload);
	unsigned long sum = 0;
	for (unsigned long i = 0; i < n; i++) {
		uint64_t t = hm_load_relaxed_u64(&b->tail);
		/* Acquire: pairs with the consumer's release of head. */
		if (t - hm_load_acquire_u64(&b->head) < 1024) {
			memcpy(b->data[t & 1023], payload, MSG);
			hm_store_release_u64(&b->tail, t + 1); /* pairs with the acquire below */
		}
		uint64_t h = hm_load_relaxed_u64(&b->head);
		if (h != hm_load_acquire_u64(&b->tail)) {
			memcpy(out, b->data[h & 1023], MSG);
			sum += out[0];
			hm_store_release_u64(&b->head, h + 1);
		}
	}
	free(b);
	return sum;
}

static void on_message(void *ctx, const hermes_msg *m)
{
	*(unsigned long *)ctx += m->len;
}

/* batch: messages per claim (1: hermes_pub_send). handler: receive with
 * hermes_sub_poll_batch (which releases) instead of hermes_sub_poll. */
static unsigned long run_hermes(unsigned long n, unsigned batch, bool handler)
{
	hermes_ring_config cfg = {.name = "loop", .capacity = 1u << 20, .max_msg = 1024,
				  .policy = HERMES_POLICY_BLOCK};
	size_t size = hm_ring_block_size(cfg.capacity, hm_ring_slots(&cfg));
	void *block = aligned_alloc(4096, size);
	hm_ring r;
	hermes_pub pub;
	hermes_sub sub;
	if (!block || hm_ring_format(block, size, &cfg) || hm_ring_view(&r, block, size))
		exit(1);
	hm_pub_init(&pub, &r, hm_ring_take_prod_slot(&r, 1, 1));
	if (hm_sub_init(&sub, &r, hm_ring_take_sub_slot(&r, 1, 1), HERMES_START_LATEST, 0))
		exit(1);
	uint8_t payload[MSG];
	memset(payload, 7, sizeof payload);
	uint32_t lens[BATCH];
	void *ptrs[BATCH];
	for (unsigned k = 0; k < BATCH; k++)
		lens[k] = MSG;
	unsigned long sum = 0;
	for (unsigned long i = 0; i < n; i += batch) {
		hermes_claim c;
		hermes_msg m;
		if (batch == 1) {
			if (hermes_pub_send(&pub, payload, MSG, NULL))
				exit(1);
		} else {
			if (hermes_pub_claim_batch(&pub, lens, batch, ptrs, &c))
				exit(1);
			for (unsigned k = 0; k < batch; k++)
				memcpy(ptrs[k], payload, MSG);
			hermes_pub_commit(&pub, &c);
		}
		if (handler) {
			unsigned got;
			hermes_sub_poll_batch(&sub, on_message, &sum, batch, &got);
			continue;
		}
		for (unsigned k = 0; k < batch; k++)
			if (hermes_sub_poll(&sub, &m) == HERMES_OK)
				sum += m.len;
		hermes_sub_release(&sub);
	}
	free(block);
	return sum;
}

int main(int argc, char **argv)
{
	unsigned long n = argc > 2 ? strtoul(argv[2], NULL, 10) : 0;
	if (argc != 3 || !n)
		goto usage;
	unsigned long sum;
	if (!strcmp(argv[1], "single"))
		sum = run_hermes(n, 1, false);
	else if (!strcmp(argv[1], "batch"))
		sum = run_hermes(n, BATCH, false);
	else if (!strcmp(argv[1], "batch-handler"))
		sum = run_hermes(n, BATCH, true);
	else if (!strcmp(argv[1], "bare"))
		sum = run_bare(n);
	else
		goto usage;
	printf("%lu\n", sum);
	return 0;
usage:
	fprintf(stderr, "usage: hermes-bench-loop single|batch|batch-handler|bare N\n");
	return 2;
}
