/* Tests for tcp-bridge/bridge/watch.c, the ring watcher: what it announces in a
 * ring's `sleepers` word stays its own. A watcher asleep on a feed's
 * subscriber bit retracts that bit when it wakes; when the feed's slot is
 * freed (and its subscriber slot then goes to another bridge's feed, which
 * announces the same bit) that late retraction took the other one's
 * announcement back, so producers stopped waking it and its subscription
 * stalled for good (test_bridge_delivery failed about half the time). */
#include "tests/support/testing.h"

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/atomics.h"
#include "tcp-bridge/bridge/watch.h"
#include "tests/shm/ring_fixture.h"

#define FEED_BIT 5u  /* the freed feed's subscriber slot */
#define PROBE_BIT 6u /* a second feed's, to see a later round through */

static bool has_bit(const ht_ring *f, unsigned bit)
{
	return (hm_load_relaxed_u64(&f->ring.hdr->sleepers) >> bit) & 1u;
}

/* Out of descriptors (the limit at the lowest free one): no watcher, and
 * the detail the bridge logs. */
static void test_a_watcher_that_cannot_start_says_why(void **state)
{
	(void)state;
	struct rlimit old, low;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	int lowest = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(lowest >= 0);
	close(lowest);
	low = old;
	low.rlim_cur = (rlim_t)lowest;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	hm_watch *w = (hm_watch *)1;
	hermes_err err = hm_watch_create(&w);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	ht_assert_fails(err, HERMES_ESYS, "cannot start the ring watcher: Too many open files");
	assert_null(w);
}

static void test_a_freed_slot_never_retracts_a_bit_announced_after_it(void **state)
{
	(void)state;
	ht_ring *f = ht_ring_make(4096, 200, HERMES_POLICY_BLOCK, false);
	hm_watch *w;
	ht_assert_ok(hm_watch_create(&w));
	assert_non_null(w);
	uint64_t next = ht_publish(&f->pub, 8, 0) + 1;
	int slot = hm_watch_slot_alloc(w);
	assert_true(slot >= 0);
	hm_watch_arm(w, slot, &f->ring, FEED_BIT, next);
	/* The watcher announces the bit, then sleeps on the ring. */
	uint64_t deadline = ht_now_ns() + 10000000000ull;
	while (!has_bit(f, FEED_BIT)) {
		if (ht_now_ns() > deadline)
			fail_msg("the watcher never announced bit %u", FEED_BIT);
		struct pollfd p = {.fd = -1};
		poll(&p, 0, 1);
	}
	/* The feed closes; its subscriber slot goes to someone else, who
	 * announces the same bit to sleep. */
	hm_watch_slot_free(w, slot);
	hm_ring_sleepers_add(f->ring.hdr, 1ull << FEED_BIT);
	/* A commit wakes the watcher; a second feed, armed where a message
	 * is, fires in a later round than the one that announced the bit. */
	uint64_t seq = ht_publish(&f->pub, 8, 1);
	int probe = hm_watch_slot_alloc(w);
	assert_true(probe >= 0);
	hm_watch_arm(w, probe, &f->ring, PROBE_BIT, seq);
	struct pollfd p = {.fd = hm_watch_fd(w), .events = POLLIN};
	int fired[4];
	unsigned n = 0;
	while (n == 0) {
		if (poll(&p, 1, 10000) != 1)
			fail_msg("the watcher did not fire a feed armed at a committed message");
		n = hm_watch_collect(w, fired, 4);
	}
	assert_int_equal(n, 1);
	assert_int_equal(fired[0], probe);
	if (!has_bit(f, FEED_BIT))
		fail_msg("the watcher retracted bit %u after its slot was freed and the bit announced "
			 "by its next owner: that sleeper is never woken",
			 FEED_BIT);
	hm_ring_sleepers_remove(f->ring.hdr, 1ull << FEED_BIT);
	hm_watch_slot_free(w, probe);
	hm_watch_destroy(w);
	assert_int_equal(hm_load_relaxed_u64(&f->ring.hdr->sleepers), 0);
	ht_ring_free(f);
	printf("a freed watcher slot's bit, announced again by its next owner, stays announced\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_watcher_that_cannot_start_says_why),
		cmocka_unit_test(test_a_freed_slot_never_retracts_a_bit_announced_after_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
