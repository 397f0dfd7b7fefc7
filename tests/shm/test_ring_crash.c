/* Crash points, exhaustively (issue 12). This binary compiles shm/ring.c with
 * HM_CRASH_HOOKS: a hook before every store to shared memory on the claim,
 * commit, abort, repair and join paths. For each hook k in turn a victim
 * producer (a forked child, on a ring in MAP_SHARED memory) runs a fixed mix
 * of operations and is killed at k; then, or first after another producer
 * published past its remains (as when it is stopped there), The supervisor's repair then runs,
 * itself killed at each of its hooks in turn, then once to the end. Then
 * subscribers at every start mode check: nothing committed lost or
 * duplicated, nothing uncommitted delivered (a batch all or nothing), no
 * foreign bytes, no stall, and the ring still works. Both policies. */
#include "tests/support/testing.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm/ring.h"
#include "tests/shm/ring_fixture.h"

/* OP_FAST*: hermes_pub_send, whose lease holder's path (send_exclusive) has
 * its own copy of the claim and commit stores. */
enum { OP_SEND, OP_BATCH, OP_ABORT, OP_ZERO, OP_BATCH_ABORT, OP_SEND2, OP_FAST, OP_FAST2, N_OPS };
enum { ST_NONE, ST_CLAIMED, ST_DONE };

typedef struct op_log {
	uint64_t seq;
	uint32_t n;
	uint32_t state;
} op_log;

/* What the victim tells the checker, in shared memory. */
typedef struct shared_log {
	unsigned long hits; /* crash points passed (dry run) */
	op_log ops[N_OPS];
} shared_log;

static bool op_commits(int op)
{
	return op != OP_ABORT && op != OP_BATCH_ABORT;
}

static void victim(ht_ring *f, int slot, shared_log *log, long countdown)
{
	hermes_pub p;
	hm_pub_init(&p, &f->ring, slot);
	hm_crash_countdown = countdown;
	hm_crash_hits = 0;
	for (int op = 0; op < N_OPS; op++) {
		if (op == OP_FAST || op == OP_FAST2) {
			/* One call claims and commits: log the sequence it will
			 * get (the tail's: the victim publishes alone meanwhile). */
			uint8_t buf[40];
			uint32_t len = op == OP_FAST ? 40 : 16;
			uint64_t tpos, next, seq;
			hm_ring_tail(&f->ring, &tpos, &next);
			ht_fill(buf, len, next);
			log->ops[op] = (op_log){.seq = next, .n = 1, .state = ST_CLAIMED};
			if (hermes_pub_send(&p, buf, len, &seq) != HERMES_OK || seq != next)
				_exit(5);
			log->ops[op].state = ST_DONE;
			continue;
		}
		hermes_claim c;
		uint32_t lens[3] = {16, 8, 24};
		void *ptrs[3];
		uint32_t n = op == OP_BATCH ? 3 : op == OP_BATCH_ABORT ? 2 : 1;
		hermes_err err = n > 1 ? hermes_pub_claim_batch(&p, lens, n, ptrs, &c)
				       : hermes_pub_claim(&p, op == OP_ZERO ? 0 : 24 + 8 * (uint32_t)op, &c);
		if (err)
			_exit(3);
		if (n > 1)
			for (uint32_t i = 0; i < n; i++)
				ht_fill(ptrs[i], lens[i], c.seq_ + i);
		else
			ht_fill(c.data, c.len, c.seq_);
		log->ops[op] = (op_log){.seq = c.seq_, .n = n, .state = ST_CLAIMED};
		err = op_commits(op) ? hermes_pub_commit(&p, &c) : hermes_pub_abort(&p, &c);
		if (err)
			_exit(4);
		log->ops[op].state = ST_DONE;
	}
	hm_pub_fini(&p);
	log->hits = hm_crash_hits;
	_exit(0);
}

/* Run fn in a child with the crash countdown set; true if it finished. */
static bool repair_in_child(ht_ring *f, int slot, long countdown)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		hm_crash_countdown = countdown;
		hm_ring_repair_producer(&f->ring, (uint32_t)slot);
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Tallies over one policy's cases, to show the test did what it says. */
static unsigned long cases_died, cases_repaired, cases_leased;

typedef struct expect {
	uint64_t parent[16];
	unsigned nparent;
} expect;

/* Is seq one of the parent's? */
static bool is_parent(const expect *e, uint64_t seq)
{
	for (unsigned i = 0; i < e->nparent; i++)
		if (e->parent[i] == seq)
			return true;
	return false;
}

/* Drain sub; check every rule; return the delivered sequences as a bitmap. */
static uint64_t drain_checked(ht_ring *f, hermes_sub *sub, const shared_log *log, const expect *e,
			      long k, uint64_t from)
{
	uint64_t seen = 0, last = UINT64_MAX;
	hermes_msg m;
	hermes_err err;
	unsigned polls = 0;
	while ((err = hermes_sub_poll(sub, &m)) != HERMES_EAGAIN) {
		if (++polls > 200)
			fail_msg("k=%ld: poll does not end", k);
		if (err != HERMES_OK)
			fail_msg("k=%ld: poll gave %s", k, hermes_strerror(err));
		if (last != UINT64_MAX && m.seq <= last)
			fail_msg("k=%ld: sequence %llu after %llu", k, (unsigned long long)m.seq,
				 (unsigned long long)last);
		last = m.seq;
		assert_true(m.seq < 64);
		ht_check(m.data, m.len, m.seq);
		seen |= 1ull << m.seq;
		if (is_parent(e, m.seq))
			continue;
		bool ok = false;
		for (int op = 0; op < N_OPS; op++) {
			const op_log *o = &log->ops[op];
			if (o->state != ST_NONE && m.seq >= o->seq && m.seq < o->seq + o->n) {
				if (!op_commits(op))
					fail_msg("k=%ld: aborted sequence %llu delivered", k,
						 (unsigned long long)m.seq);
				ok = true;
			}
		}
		if (!ok)
			fail_msg("k=%ld: sequence %llu was never committed", k, (unsigned long long)m.seq);
	}
	assert_int_equal(hermes_sub_release(sub), HERMES_OK);
	/* No stall: the subscriber reached the tail. */
	uint64_t tpos, tseq;
	hm_ring_tail(&f->ring, &tpos, &tseq);
	if (hermes_sub_next_seq(sub) != tseq)
		fail_msg("k=%ld: subscriber stuck at %llu, tail at %llu", k,
			 (unsigned long long)hermes_sub_next_seq(sub), (unsigned long long)tseq);
	/* Everything the parent and the victim surely committed is there; a
	 * batch caught in its commit is all or nothing. */
	for (unsigned i = 0; i < e->nparent; i++)
		if (e->parent[i] >= from && !(seen >> e->parent[i] & 1))
			fail_msg("k=%ld: parent's %llu lost", k, (unsigned long long)e->parent[i]);
	for (int op = 0; op < N_OPS; op++) {
		const op_log *o = &log->ops[op];
		if (o->state == ST_NONE || !op_commits(op) || o->seq < from)
			continue;
		unsigned got = 0;
		for (uint32_t i = 0; i < o->n; i++)
			got += (unsigned)(seen >> (o->seq + i) & 1);
		if (o->state == ST_DONE && got != o->n)
			fail_msg("k=%ld: committed op %d lost %u of %u", k, op, o->n - got, o->n);
		if (got != 0 && got != o->n)
			fail_msg("k=%ld: op %d delivered %u of %u (a torn batch)", k, op, got, o->n);
	}
	return seen;
}

/* Returns whether the victim died (false: k is past its last crash point).
 * alone: the parent closes its publisher first, so the victim is the ring's
 * only producer and (on a block ring) claims under the exclusive lease; the
 * parent opens a new publisher after the repair. */
static bool one_case(hermes_policy policy, long k, bool others_first, bool alone,
		     unsigned long *repair_points)
{
	ht_ring *f = ht_ring_make(4096, 200, policy, true);
	shared_log *log = mmap(NULL, sizeof *log, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(log != MAP_FAILED);
	memset(log, 0, sizeof *log);
	expect e = {0};
	hermes_sub live;
	ht_ring_sub(f, &live, HERMES_START_LATEST, 0);
	/* Another producer first: the victim's first claim records its win. */
	for (int i = 0; i < 2; i++) {
		uint64_t tpos, tseq;
		hm_ring_tail(&f->ring, &tpos, &tseq);
		e.parent[e.nparent++] = ht_publish(&f->pub, 32, tseq);
	}
	if (alone)
		hm_pub_fini(&f->pub);
	int vs = hm_ring_take_prod_slot(&f->ring, 2, 2);
	assert_true(vs >= 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		victim(f, vs, log, k);
	/* Dead at crash point k (or done, past the last one). */
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	bool died = WIFSIGNALED(st);
	if (!died)
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (others_first) {
		/* Producers go on while the victim's claim is unrepaired (what
		 * they see is what a producer stopped at k would leave): on a
		 * block ring they queue behind it, on an overwrite ring they
		 * step around it. */
		for (int i = 0; i < 3; i++) {
			uint64_t tpos, tseq;
			hm_ring_tail(&f->ring, &tpos, &tseq);
			e.parent[e.nparent++] = ht_publish(&f->pub, 16, tseq);
		}
	}
	/* A victim alone on a block ring died holding the lease. */
	cases_leased += HM_LEASE_TAG(hm_load_relaxed_u64(&f->ring.hdr->lease)) == (unsigned)vs + 1;
	/* The supervisor's repair, killed at each of its points in turn. */
	unsigned long j = 0;
	while (!repair_in_child(f, vs, (long)j))
		j++;
	if (j > *repair_points)
		*repair_points = j;
	cases_died += died;
	cases_repaired += hm_load_relaxed_u64(&f->ring.hdr->repairs) != 0;
	hm_ring_repair_producer(&f->ring, (uint32_t)vs); /* idempotent */
	if (alone) {
		/* Repair ended the dead holder's lease: a new producer claims. */
		assert_int_equal(hm_load_relaxed_u64(&f->ring.hdr->lease), 0);
		ht_ring_pub(f, &f->pub, 1);
	}
	if (!died)
		for (int op = 0; op < N_OPS; op++)
			assert_int_equal(log->ops[op].state, ST_DONE);
	/* Then one more message, and every kind of subscriber. */
	uint64_t tpos, tseq;
	hm_ring_tail(&f->ring, &tpos, &tseq);
	e.parent[e.nparent++] = ht_publish(&f->pub, 8, tseq);
	uint64_t truth = drain_checked(f, &live, log, &e, k, 0);
	hm_ring_tail(&f->ring, &tpos, &tseq);
	for (uint64_t s = 0; s <= tseq + 1; s++) {
		hermes_sub sub;
		ht_ring_sub(f, &sub, s == tseq + 1 ? HERMES_START_EARLIEST : HERMES_START_SEQ, s);
		uint64_t from = s == tseq + 1 ? 0 : s;
		uint64_t seen = drain_checked(f, &sub, log, &e, k, from);
		uint64_t want = from >= 64 ? 0 : truth & ~((1ull << from) - 1);
		if (seen != want)
			fail_msg("k=%ld: a subscriber from %llu saw %llx, not %llx", k,
				 (unsigned long long)from, (unsigned long long)seen,
				 (unsigned long long)want);
		hm_sub_fini(&sub);
	}
	/* The ring still works, for laps. */
	for (unsigned i = 0; i < 300; i++) {
		hm_ring_tail(&f->ring, &tpos, &tseq);
		ht_publish(&f->pub, 40, tseq);
		hermes_msg m;
		ht_poll_seq(&live, &m, tseq);
		assert_int_equal(hermes_sub_release(&live), HERMES_OK);
	}
	munmap(log, sizeof *log);
	ht_ring_free(f);
	return died;
}

static void run_policy(hermes_policy policy)
{
	unsigned long repair_points = 0;
	cases_died = cases_repaired = cases_leased = 0;
	/* k counts up until the victim gets through its whole mix alive: then
	 * k was one past its last crash point. */
	unsigned long points = 0;
	while (one_case(policy, (long)points, false, false, &repair_points)) {
		assert_true(one_case(policy, (long)points, true, false, &repair_points));
		points++;
	}
	assert_true(points > 40);
	/* The victim alone: on a block ring, every point of the lease holder's
	 * claims (the first one takes the lease). */
	unsigned long alone = 0;
	while (one_case(policy, (long)alone, false, true, &repair_points))
		alone++;
	assert_true(alone > 30);
	/* Leases are for block rings, where a kill after the first claim
	 * leaves the dead producer holding one. */
	if (policy == HERMES_POLICY_BLOCK && hm_ring_leases_possible())
		assert_true(cases_leased > 30);
	else if (policy == HERMES_POLICY_OVERWRITE)
		assert_int_equal(cases_leased, 0);
	printf("%s ring: victim killed at each of %lu crash points (twice: with and without "
	       "producers going on first), and alone at each of %lu: %lu deaths, %lu with a "
	       "claim to abandon; repair killed at up to %lu points each\n",
	       policy == HERMES_POLICY_BLOCK ? "block" : "overwrite", points, alone, cases_died,
	       cases_repaired, repair_points);
	assert_int_equal(cases_died, 2 * points + alone);
	assert_true(cases_repaired > 0);
	assert_true(repair_points >= 2);
}

/* One test per policy: the policy is the test's initial state. */
static void survives_a_kill_at_every_crash_point(void **state)
{
	run_policy(*(hermes_policy *)*state);
}

/* A revoker that cannot use membarrier waits for the holder's
 * acknowledgement, which an idle holder never sends: when that holder
 * closes or dies, the lease (REVOKING by then) must still end, or the
 * revoker gets HERMES_EAGAIN for ever, even alone (the model's lease-nomb
 * run). Test builds fake the failing membarrier. */
static void test_a_revoker_without_membarrier_is_not_left_waiting(void **state)
{
	(void)state;
	if (!hm_ring_leases_possible())
		skip();
	for (int dies = 0; dies < 2; dies++) {
		ht_ring *f = ht_ring_make(1 << 14, 256, HERMES_POLICY_BLOCK, false);
		hermes_sub sub;
		ht_ring_sub(f, &sub, HERMES_START_LATEST, 0);
		ht_publish(&f->pub, 16, 0);
		assert_true(f->pub.leased);
		hermes_pub other;
		ht_ring_pub(f, &other, 2);
		hm_test_no_membarrier = true;
		hermes_claim c;
		assert_int_equal(hermes_pub_claim(&other, 8, &c), HERMES_EAGAIN);
		assert_true(hm_load_relaxed_u64(&f->ring.hdr->lease) & HM_LEASE_REVOKING);
		if (dies)
			hm_ring_repair_producer(&f->ring, f->pub.slot_index);
		else
			hm_pub_fini(&f->pub);
		assert_int_equal(hm_load_relaxed_u64(&f->ring.hdr->lease), 0);
		assert_int_equal(ht_publish(&other, 16, 1), 1);
		hm_test_no_membarrier = false;
		uint64_t next;
		assert_int_equal(ht_drain(&sub, 0, &next), 2);
		hm_pub_fini(&other);
		hm_sub_fini(&sub);
		ht_ring_free(f);
	}
}

int main(void)
{
	static hermes_policy block = HERMES_POLICY_BLOCK, overwrite = HERMES_POLICY_OVERWRITE;
	const struct CMUnitTest tests[] = {
		{"test_block_ring_survives_a_kill_at_every_crash_point",
		 survives_a_kill_at_every_crash_point, NULL, NULL, &block},
		{"test_overwrite_ring_survives_a_kill_at_every_crash_point",
		 survives_a_kill_at_every_crash_point, NULL, NULL, &overwrite},
		cmocka_unit_test(test_a_revoker_without_membarrier_is_not_left_waiting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
