/*
 * Promela model of the ring v2 claim / commit / abort / repair / join
 * protocol (block ring). See README.md in this folder for what is modelled,
 * what is abstracted and how each C function maps to the steps below.
 *
 * Build switches (spin -D...):
 *   NSLOTS=n          ring slots (default 2)
 *   MAX_DEATHS=n      producer deaths allowed in one run (default 2)
 *   REPAIR_DEATHS=n   repairer crashes (restart of the repair) (default 1)
 *   REUSE             a new process takes a killed producer's slot after its
 *                     repair (held_seq reset to 0 as in ring.c; KEEP_HELD: kept)
 *   SPIN_WAIT         subscribers and producers busy-wait instead of blocking
 *                     (for the non-progress-cycle run under weak fairness)
 *   PSLEEP            a producer that finds the ring full sleeps on prod_futex
 *                     (claim_sleep: prod_sleepers bit, re-check, FUTEX_WAIT);
 *                     releases, commits, aborts, repair, leaves and the
 *                     supervisor's release of a dead subscriber wake it
 *   EARLY0, EARLY1    subscriber 0 (1) joined before anything happened;
 *                     otherwise it joins concurrently (ONE_SUB: no subscriber 1)
 *   SUB_GONE=n        subscriber departures (death or hermes_sub_close), at
 *                     any step of the poll loop or of the leave (default 0)
 *   LEASE             the exclusive-producer lease: producers open (mask bit)
 *                     and close (hm_pub_fini); one alone takes the lease
 *                     (lease_try) and claims with a plain tail store
 *                     (claim_exclusive); the other revokes it (lease_revoke);
 *                     repair ends a dead holder's claim window and lease
 * Deliberately broken variants (check.sh expects each to FAIL):
 *   BUG_NO_HELP       claims skip the HELP step (held_seq never raised)
 *   BUG_HELD_FIRST    repair reads held_seq[d] before the tail
 *   BUG_OLD_WON       repair decides "won" as the v1 code did (tail moved
 *                     past the intent, head not landed, no live twin)
 *   BUG_POS_MOVED     v2 rule plus v1's "the position must have moved"
 *                     (issue 12 finding 3: zero-length claim never repaired)
 *   BUG_HEAD_ONLY     abort / repair mark only the head slot of a range
 *                     (issue 12 finding 1)
 *   BUG_REPAIR_WAKE_IF_TOUCHED repair wakes sleepers only when it wrote a
 *                     slot (a producer killed between its commit and its
 *                     wake-up leaves subscribers asleep)
 *   BUG_SKIP_UNPUBLISHED the subscriber does not publish its cursor after
 *                     skipping an abandoned range (only after a delivery)
 * With PSLEEP:
 *   BUG_RELEASE_NO_WAKE  publishing a cursor never wakes producers
 *   BUG_PWAKE_NO_BARRIER a release reads prod_sleepers before its cursor
 *                     store is visible (the barrier pair left out)
 *   BUG_COMMIT_NO_PWAKE  commits and aborts wake subscribers only
 *   BUG_SUB_RELEASE_NO_WAKE the supervisor's release of a dead subscriber
 *                     wakes nobody
 *   BUG_REPAIR_KEEPS_BIT repair leaves a dead producer's prod_sleepers bit
 * With LEASE:
 *   BUG_LEASE_NO_INCLAIM_WAIT the revoker does not wait for the holder's
 *                     in_claim == 0 before it ends the lease and claims
 *   BUG_LEASE_NO_MASK_CHECK the holder keeps a lease it took without
 *                     re-reading the producer mask
 *   BUG_LEASE_CHECK_BEFORE_INCLAIM the holder loads the lease before its
 *                     in_claim = 1 (the two in the other order)
 *   BUG_LEASE_REPAIR_KEEPS_INCLAIM repair of a dead holder leaves its
 *                     in_claim set (a revoker waits for ever)
 *   NO_COPY_CHECK     leave out the assertion that the holder's store finds
 *                     the tail equal to its copy (so that a broken variant's
 *                     trail goes on to two claims of one sequence)
 *   LEASE_NO_MEMBARRIER the revoker's membarrier fails: it waits for the
 *                     holder's acknowledgement (lease_ack) instead of its
 *                     in_claim; grant numbers are modelled (mod 4)
 *   BUG_LEASE_KEEPS_REVOKED hm_pub_fini and repair end only the holder's
 *                     own word, not one a revoker marked REVOKING (repair
 *                     does not retry its CAS): ring.c at a3040a4, fixed in
 *                     8d1aa1c (README, "What the model says", point 5)
 *   LEAVE_WAKE_LAST   a leave (hm_sub_fini) and the supervisor's release
 *                     wake producers after free_slot's owner store, as
 *                     ring.c did at 970bf43 (fixed in a3040a4): a leaver
 *                     killed in between leaves a slot nobody releases and
 *                     nobody wakes
 */

#ifndef NSLOTS
#define NSLOTS 2
#endif
#ifndef MAX_DEATHS
#define MAX_DEATHS 2
#endif
#ifndef REPAIR_DEATHS
#define REPAIR_DEATHS 1
#endif
#ifndef SUB_GONE
#define SUB_GONE 0
#endif

#define NPROD 2
#define NSUB 2
#define MAXSEQ 8 /* more than every sequence the scripts below can claim */
#define MAXB 2   /* largest batch */

#define IN_PROGRESS 0
#define COMMITTED 1
#define ABANDONED 2

/* slot word: seq * 4 + state; tail hi word: seq * 4 + tag */
#define W(s, st) ((s) * 4 + (st))
#define WSEQ(w) ((w) / 4)
#define WST(w) ((w) % 4)
#define SL(s) ((s) % NSLOTS)
/* "resolved for s": seq(word) == s and state != IN_PROGRESS */
#define RESOLVED(w, s) (WSEQ(w) == (s) && WST(w) != IN_PROGRESS)

/* ---- shared memory ------------------------------------------------------ */
byte tail_lo;           /* data position */
byte tail_hi;           /* next sequence * 4 + tag (producer index + 1, 0 = none) */
byte word[NSLOTS];      /* initially 0 = (0, IN_PROGRESS): "nothing yet" */
byte meta[NSLOTS];      /* ABANDONED: sequences left in the range; COMMITTED: 0 (length) */
byte ipos[NPROD];       /* intent, written only by producer k */
byte iseq[NPROD];
byte icnt[NPROD];
byte ibytes[NPROD];
bit act[NPROD];
byte held[NPROD];       /* held_seq: raised by other producers (CAS-max) */
byte scans[NPROD];      /* odd while producer k scans */
byte seq_limit = NSLOTS;
byte cur[NSUB];         /* published subscriber cursors (sequence) */
bit submask[NSUB];
byte sleepers;          /* bit j: subscriber j registered asleep */
byte futex;
#ifdef PSLEEP
byte prod_sleepers;     /* bit k: producer k announced it sleeps on a full ring */
byte prod_futex;
#endif
bit sowner[NSUB];       /* the subscriber slot is taken (owner != 0) */
#ifdef LEASE
/* lease: the holder's tag (k + 1), + REVOKING, + 8 * grant number (mod 4,
 * only with LEASE_NO_MEMBARRIER: it serves lease_ack); 0 = none */
#define REVOKING 4
#define LTAG(l) ((l) % REVOKING)
#define LREV(l) (((l) / REVOKING) % 2)
byte lease;
#ifdef LEASE_NO_MEMBARRIER
byte grants;            /* lease_grants (mod 4) */
byte lack;              /* lease_ack: the revoked word the holder acknowledged */
#define GRANT_WORD(k) ((k) + 1 + 8 * ((grants + 1) % 4))
#else
#define GRANT_WORD(k) ((k) + 1)
#endif
bit inclaim[NPROD];     /* the holder is inside claim_exclusive */
bit pmask[NPROD];       /* prod_mask: producer k's slot is taken */
#endif

/* ---- the kernel and the supervisor ---------------------------------------- */
bit killed[NPROD];        /* set when producer k dies (the kernel tells the supervisor) */
bit repaired[NPROD];    /* the supervisor repaired k and freed its slot */
bit pdone[NPROD];       /* producer k finished its script alive */
byte deaths = MAX_DEATHS;
byte rdeaths = REPAIR_DEATHS;
bit skilled[NSUB];      /* subscriber j died (the kernel tells the supervisor) */
byte sgone = SUB_GONE;
#ifdef ONE_SUB
#define submask_1 0
#endif
#ifdef SPIN_WAIT
#define PROGRESS(x) progress_##x: skip;
#else
#define PROGRESS(x)
#endif
#ifdef REUSE
/* a killed producer's slot is taken by a new process once it is repaired */
bit reused[NPROD];
#define GONE(k) (repaired[k] && reused[k])
#else
#define GONE(k) (repaired[k])
#endif
#define ALL_DONE ((pdone[0] || GONE(0)) && (pdone[1] || GONE(1)))

/* ---- ghost state (never read by the protocol) ----------------------------- */
byte owner[MAXSEQ];     /* k + 1 of the producer whose claim won the sequence */
bit cstarted[MAXSEQ];   /* its owner decided to commit it (before any word store) */
bit committed[MAXSEQ];  /* its word became (s, COMMITTED) */
byte mseq[NSLOTS];      /* s + 1 of the message whose meta the slot holds */
byte pay[NSLOTS];       /* s + 1 of the message whose bytes the slot's data holds */

/* A producer may die before any shared access. */
#define ST(a) if :: atomic { true; a } :: atomic { deaths > 0 -> deaths-- }; goto dead fi
/* The repairer may crash before any shared access; it is run again. */
#define RST(a) if :: atomic { true; a } :: atomic { rdeaths > 0 -> rdeaths-- }; goto restart fi

/* Claim scripts. Producer 0: a single message of 1 data unit, then a batch
 * of 2 (2 units); producer 1: a zero-length message, then single messages
 * of 1 unit. CLAIMS0 / CLAIMS1: how many claims each makes; BATCH_FIRST:
 * producer 0 starts with the batch. */
#ifndef CLAIMS0
#define CLAIMS0 2
#endif
#ifndef CLAIMS1
#define CLAIMS1 1
#endif
#define NCLAIMS(k) ((k) == 0 -> CLAIMS0 : CLAIMS1)
#ifdef BATCH_FIRST
#define CLAIM_N(k, c) (((k) == 0 && (c) == 0) -> 2 : 1)
#else
#define CLAIM_N(k, c) (((k) == 0 && (c) == 1) -> 2 : 1)
#endif
#define CLAIM_BYTES(k, c) (((k) == 1 && (c) == 0) -> 0 : CLAIM_N(k, c))

/* Would a scan made now let a claim ending at e fit? (limits are raised to
 * min(tail, active intents, cursors) + NSLOTS). Used only as the condition a
 * blocked producer waits for, abstracting its timed retry loop. */
#define FRESH_FITS(e) (WSEQ(tail_hi) + NSLOTS >= (e) && \
	(!act[0] || iseq[0] + NSLOTS >= (e)) && (!act[1] || iseq[1] + NSLOTS >= (e)) && \
	(!submask[0] || cur[0] + NSLOTS >= (e)) && (!submask[1] || cur[1] + NSLOTS >= (e)))

inline wake()
{
	/* wake_sleepers: futex += 1 and FUTEX_WAKE only when someone sleeps */
	if
	:: sleepers != 0 -> futex++
	:: else
	fi
}

/* wake_producers (and the producers' half of wake_sleepers): the load of
 * prod_sleepers after the store that freed room (the membarrier pair: in
 * this sequentially consistent model, program order) */
inline wakep()
{
#ifdef PSLEEP
	if
	:: prod_sleepers != 0 -> prod_futex++
	:: else
	fi
#else
	skip
#endif
}

/* A subscriber may die (or the leave's process be killed) before any
 * shared access of its poll loop or its leave. */
#if SUB_GONE > 0
#define SST(a) if :: atomic { true; a } :: atomic { sgone > 0 -> sgone-- }; goto sdead fi
#else
#define SST(a) atomic { a }
#endif

/* publish_cursor in a poll: the cursor store (in the poll's step), then
 * wake_producers. BUG_PWAKE_NO_BARRIER: the load of prod_sleepers is not
 * ordered after the store (no membarrier pair, no fence), so it may come
 * first: load, store, wake. */
#if defined(PSLEEP) && defined(BUG_PWAKE_NO_BARRIER)
#define RELEASE_IN_POLL
#define AFTER_RELEASE pw = (prod_sleepers != 0); cur[j] = s; \
	atomic { if :: pw -> prod_futex++ :: else fi; pw = 0 }
#else
#define RELEASE_IN_POLL ; cur[j] = s
#if defined(PSLEEP) && !defined(BUG_RELEASE_NO_WAKE)
#define AFTER_RELEASE SST(wakep())
#else
#define AFTER_RELEASE
#endif
#endif

/* free_slot's owner store and wake_producers, after the mask bit is clear:
 * the order of a leave (X: a death point) and of the supervisor's release */
#ifdef LEAVE_WAKE_LAST
#define SUB_FREE_X(j, X) X(sowner[j] = 0); X(wakep())
#else
#define SUB_FREE_X(j, X) X(wakep()); X(sowner[j] = 0)
#endif
#define NO_DEATH(a) atomic { a }
#ifdef BUG_SUB_RELEASE_NO_WAKE
#define SUB_FREE(j) sowner[j] = 0
#else
#define SUB_FREE(j) SUB_FREE_X(j, NO_DEATH)
#endif

/* ---- a producer: claim_region, hermes_pub_commit, hermes_pub_abort -------- */
proctype Producer(byte k)
{
	byte c, n, bytes, pos, hi, seq, i, mn;
#ifdef PSLEEP
	bit asleep;     /* inside claim_sleep: our prod_sleepers bit is set */
	byte v;         /* prod_futex read before the re-check */
#endif
#ifdef LEASE
	bit leased;     /* the handle's flag: we took the lease */
	bit ex;         /* this claim is exclusive (claim_exclusive) */
	byte tpos, tseq; /* the holder's copy of the tail */
	byte lv;        /* a lease value read, or a flag */
	byte lw;        /* the lease word we took (lease_word) */

	/* open: take_prod_slot sets the mask bit (seq_cst RMW) */
	ST(pmask[k] = 1);
#endif

next_claim:
	if
	:: c == NCLAIMS(k) -> goto done
	:: else
	fi;
	d_step { n = CLAIM_N(k, c); bytes = CLAIM_BYTES(k, c) }
retry:
#ifdef LEASE
	/* claim_region: the holder claims exclusively; a producer alone (a
	 * relaxed load of the mask) tries to take the lease first */
	if
	:: leased -> goto xclaim
	:: else
	fi;
	ST(lv = (pmask[1 - k] == 0));
	if
	:: lv ->
		/* lease_try: CAS 0 -> mine (seq_cst) */
		ST(if :: lease == 0 -> lw = GRANT_WORD(k); lease = lw :: else -> lv = 0 fi);
		if
		:: lv ->
			/* then the mask (seq_cst): anyone else there? */
#ifdef BUG_LEASE_NO_MASK_CHECK
			lv = 0;
#else
			ST(lv = (pmask[1 - k] != 0));
#endif
			if
			:: lv ->
				/* give it back (CAS mine -> 0; a revoker's
				 * REVOKING makes it the revoker's) */
				ST(if :: lease == lw -> lease = 0 :: else fi; lv = 0; lw = 0)
			:: else ->
				/* the tail into the handle (hm_ring_tail_tagged:
				 * a consistent pair) */
				ST(tpos = tail_lo; tseq = WSEQ(tail_hi));
				leased = 1;
#ifdef LEASE_NO_MEMBARRIER
				ST(grants = (grants + 1) % 4);
#endif
				goto xclaim
			fi
		:: else
		fi
	:: else -> lv = 0
	fi;
casretry:
#endif
	/* 1. read the tail as two plain loads: the pair may be torn or stale.
	 * (The limit a producer checks first is its cached copy, at most the
	 * shared value read here.) */
#ifdef TORN
	ST(pos = tail_lo);
	ST(hi = tail_hi; seq = WSEQ(hi); mn = seq_limit);
#else
	ST(pos = tail_lo; hi = tail_hi; seq = WSEQ(hi); mn = seq_limit);
#endif
#ifdef LEASE
	/* the lease (seq_cst load, after our mask bit): a holder? revoke */
	ST(lv = lease);
	if
	:: lv != 0 -> goto revoke
	:: else
	fi;
limits:
#endif
	/* 2. block ring: the claim must end within seq_limit */
	if
	:: seq + n <= mn -> mn = 0
	:: else ->
		/* refresh_limits: scans odd; min over tail, active intents and
		 * cursors, each read on its own; CAS-max; scans even; re-read */
		ST(scans[k]++; mn = WSEQ(tail_hi);
		   if :: act[k] && iseq[k] < mn -> mn = iseq[k] :: else fi);
		i = 0;
		do
		:: i < NPROD && i != k ->
			ST(if :: act[i] && iseq[i] < mn -> mn = iseq[i] :: else fi);
			i++
		:: i == k -> i++
		:: i == NPROD -> break
		od;
		i = 0;
		do
		:: i < NSUB ->
			ST(if :: submask[i] && cur[i] < mn -> mn = cur[i] :: else fi);
			i++
		:: else -> break
		od;
		i = 0;
		ST(if :: seq_limit < mn + NSLOTS -> seq_limit = mn + NSLOTS :: else fi;
		   scans[k]++; mn = seq_limit);
		if
		:: seq + n <= mn -> mn = 0
		:: else ->
			/* HERMES_EAGAIN: hold nothing */
#ifdef LEASE
			if
			:: ex -> ST(inclaim[k] = 0); ex = 0 /* leave the claim window */
			:: else -> ST(act[k] = 0)
			fi;
#else
			ST(act[k] = 0);
#endif
			mn = 0;
#ifdef PSLEEP
			if
			:: asleep -> goto psleep_wait
			:: else
			fi;
#endif
			/* the caller gives up (timed out), or waits for room and
			 * tries again; the choice comes first, so that a wait that
			 * never ends is a deadlock */
			if
			:: mn = 1
			:: mn = 2
			fi;
			if
			:: mn == 1 -> mn = 0; goto next_claim_after
#ifdef SPIN_WAIT
			:: mn == 2 -> mn = 0; goto retry
#elif defined(PSLEEP)
			:: mn == 2 ->
				/* claim_sleep: announce (seq_cst RMW), membarrier */
				mn = 0;
				ST(prod_sleepers = prod_sleepers | (1 << k));
				asleep = 1;
				goto psleep_check
#else
			:: mn == 2 && (tail_hi != hi || seq_limit >= seq + n || FRESH_FITS(seq + n)) ->
				mn = 0;
				goto retry
#endif
			fi
		fi
	fi;
	/* 3. the intent (pos, then the rest), then active */
#ifdef LEASE
intent:
#endif
#ifdef TORN
	ST(ipos[k] = pos);
	ST(iseq[k] = seq; icnt[k] = n; ibytes[k] = bytes; act[k] = 1);
#else
	ST(ipos[k] = pos; iseq[k] = seq; icnt[k] = n; ibytes[k] = bytes; act[k] = 1);
#endif
#ifdef LEASE
	if
	:: ex -> goto xstore
	:: else
	fi;
#endif
#ifndef BUG_NO_HELP
	/* 4. HELP: record that producer tag-1 won the claim that ended at seq */
	if
	:: WST(hi) != 0 && WST(hi) != k + 1 ->
		ST(if :: held[WST(hi) - 1] < seq -> held[WST(hi) - 1] = seq :: else fi)
	:: else
	fi;
#endif
	/* 5. the 16-byte CAS of the tail */
	ST(if
	   :: tail_lo == pos && tail_hi == hi ->
		/* nobody else ever got these sequences */
		assert(owner[seq] == 0 && owner[seq + n - 1] == 0);
		tail_lo = pos + bytes;
		tail_hi = W(seq + n, k + 1);
		owner[seq] = k + 1;
		owner[seq + n - 1] = k + 1;
		/* 6. each slot's meta, and the payload the application writes,
		 * in the same step (earlier than in C: any reader they hurt
		 * is hurt sooner) */
		meta[SL(seq)] = 0; mseq[SL(seq)] = seq + 1; pay[SL(seq)] = seq + 1;
		meta[SL(seq + n - 1)] = 0; mseq[SL(seq + n - 1)] = seq + n;
		pay[SL(seq + n - 1)] = seq + n;
		i = 1
	   :: else -> i = 0
	   fi);
	if
#ifdef LEASE
	:: i == 0 -> goto casretry /* the CAS hands back the tail */
#else
	:: i == 0 -> goto retry
#endif
	:: else -> i = 0
	fi;
#ifdef LEASE
claimed:
#endif
	pos = 0;
	hi = 0;
#ifdef PSLEEP
	/* claim_sleep's claim succeeded: retract the announcement */
	if
	:: asleep -> ST(prod_sleepers = prod_sleepers & ~(1 << k)); asleep = 0
	:: else
	fi;
#endif
	if
	:: /* ---- hermes_pub_commit: head first, then the members ------------ */
		d_step { cstarted[seq] = 1; cstarted[seq + n - 1] = 1 };
		do
		:: i < n ->
			ST(word[SL(seq + i)] = W(seq + i, COMMITTED); committed[seq + i] = 1);
			i++
		:: else -> break
		od
	:: /* ---- hermes_pub_abort / abandon: every slot, head first ---------- */
		mn = 0;
		do
		:: i < n ->
			ST(meta[SL(seq + i)] = n - i; mseq[SL(seq + i)] = seq + i + 1;
			   word[SL(seq + i)] = W(seq + i, ABANDONED));
			i++
#ifdef BUG_HEAD_ONLY
			; break
#endif
		:: else -> break
		od
	fi;
	i = 0;
	ST(act[k] = 0);
#ifdef SLEEP
	ST(wake());
#endif
#if defined(PSLEEP) && !defined(BUG_COMMIT_NO_PWAKE)
	/* the claim no longer holds anyone back */
	ST(wakep());
#endif
next_claim_after:
	atomic { c++; n = 0; bytes = 0; seq = 0; hi = 0; pos = 0; mn = 0 }
	goto next_claim;
#ifdef PSLEEP
psleep_wait:
	/* the deadline passed (or a signal came): HERMES_ETIMEDOUT (or
	 * HERMES_EAGAIN) after retracting the announcement; the choice comes
	 * before the wait, so that a wait that never ends is a deadlock */
	if
	:: ST(prod_sleepers = prod_sleepers & ~(1 << k)); asleep = 0; v = 0;
		goto next_claim_after
	:: true
	fi;
	/* FUTEX_WAIT(prod_futex, v): returns once the word differs from v (a
	 * producer killed while asleep is killed before this step: it does no
	 * shared access in between) */
	atomic { prod_futex != v -> v = 0 }
psleep_check:
	/* the futex word, then (fence) the claim again: tail, limits, scan */
	ST(v = prod_futex);
	goto retry;
#endif
#ifdef LEASE
/* NO_COPY_CHECK: leave out the check that the holder's store is what a CAS
 * would do, to see what a broken variant's stale store leads to */
#ifdef NO_COPY_CHECK
#define LEASE_COPY_CHECK skip
#else
#define LEASE_COPY_CHECK assert(tail_lo == pos && WSEQ(tail_hi) == seq)
#endif
xclaim:
	/* claim_exclusive: in_claim = 1 (relaxed), a compiler barrier, the
	 * lease (relaxed). The revoker's membarrier runs a full barrier in
	 * this thread between its REVOKING store and its first load of
	 * in_claim: under sequential consistency, program order. (The limit
	 * is read with the lease: the cached one is at most it.) */
#ifdef BUG_LEASE_CHECK_BEFORE_INCLAIM
	ST(lv = (lease == lw); mn = seq_limit);
	ST(inclaim[k] = 1);
#else
	ST(inclaim[k] = 1);
	ST(lv = (lease == lw); mn = seq_limit);
#endif
	if
	:: lv -> lv = 0
	:: else ->
		/* lease_lost: in_claim = 0, the acknowledgement (release), then
		 * the CAS path (claim_region again) */
		atomic { leased = 0; mn = 0; tpos = 0; tseq = 0 }
		ST(inclaim[k] = 0);
#ifdef LEASE_NO_MEMBARRIER
		ST(lack = lw + REVOKING);
#endif
		lw = 0;
		goto retry
	fi;
	/* from the handle's copy of the tail; the limits as on the CAS path */
	atomic { ex = 1; pos = tpos; seq = tseq; hi = tail_hi /* (only for the abstract wait for room) */ }
	if
	:: seq + n <= mn -> mn = 0
	:: else -> goto limits
	fi;
	/* (then the intent, step 3 above, and back to xstore) */
	goto intent;
xstore:
	/* the new tail pair in one atomic 16-byte store (store_tail): it must
	 * be exactly what a CAS from the handle's copy would have done, so
	 * the tail is still that copy, and the sequences are nobody's */
	ST(LEASE_COPY_CHECK;
	   assert(owner[seq] == 0 && owner[seq + n - 1] == 0);
	   tail_lo = pos + bytes;
	   tail_hi = W(seq + n, k + 1);
	   owner[seq] = k + 1;
	   owner[seq + n - 1] = k + 1;
	   meta[SL(seq)] = 0; mseq[SL(seq)] = seq + 1; pay[SL(seq)] = seq + 1;
	   meta[SL(seq + n - 1)] = 0; mseq[SL(seq + n - 1)] = seq + n;
	   pay[SL(seq + n - 1)] = seq + n;
	   tpos = pos + bytes; tseq = seq + n);
	/* in_claim = 0 (release) */
	ST(inclaim[k] = 0; ex = 0);
	goto claimed;
revoke:
	/* What the revoker waits for: the holder's in_claim == 0 (acquire)
	 * after its membarrier, or, when membarrier fails
	 * (LEASE_NO_MEMBARRIER), the holder's acknowledgement of this very
	 * revocation in lease_ack (our own lease: in_claim, always). */
#ifdef LEASE_NO_MEMBARRIER
#define LEASE_WAITED (LTAG(lv) == k + 1 -> inclaim[k] == 0 : lack == lv)
#else
#define LEASE_WAITED (inclaim[LTAG(lv) - 1] == 0)
#endif
	/* lease_revoke(lv): lease |= REVOKING (CAS) unless it is already */
	if
	:: !LREV(lv) ->
		ST(if :: lease == lv -> lease = lv + REVOKING :: else -> lv = 0 fi);
		if
		:: lv == 0 -> goto casretry /* it changed: look again */
		:: else -> lv = lv + REVOKING
		fi
	:: else
	fi;
	/* (membarrier: see xclaim.) Wait until the holder's in_claim is 0
	 * (acquire), or the lease changed (look again); the wait is bounded:
	 * a holder that stays inside its claim makes the claim answer
	 * HERMES_EAGAIN, a choice open only while the holder is inside its
	 * claim and the lease unchanged (what the bounded wait saw). It comes
	 * before the wait, so that a wait that never ends is a deadlock. */
	if
	:: atomic { !LEASE_WAITED && lease == lv -> lv = 0 }
		ST(act[k] = 0);
		/* HERMES_EAGAIN: the caller gives up, or naps and retries */
		if
#ifdef PSLEEP
		:: asleep -> ST(prod_sleepers = prod_sleepers & ~(1 << k)); asleep = 0; v = 0;
			goto next_claim_after
		:: !asleep -> goto next_claim_after
		:: asleep -> goto psleep_check
#else
		:: goto next_claim_after
#endif
		:: goto retry
		fi
	:: true
	fi;
	if
	:: atomic { lease != lv -> lv = 0 }; goto casretry
#ifdef BUG_LEASE_NO_INCLAIM_WAIT
	:: true
#else
	:: atomic { LEASE_WAITED -> skip }
#endif
	fi;
	/* lease = 0 (CAS), then claim with the CAS, reading the tail */
	ST(if :: lease == lv -> lease = 0 :: else fi; lv = 0);
	goto casretry;
#endif
done:
#ifdef LEASE
	/* hm_pub_fini: active is 0 already; hand the lease back (CAS mine ->
	 * 0), then free_slot clears the mask bit */
	if
	:: leased ->
		ST(if :: lease == lw -> lease = 0
#ifndef BUG_LEASE_KEEPS_REVOKED
		      /* revoked: end it too (no claim of ours is in flight) */
		      :: lease == lw + REVOKING -> lease = 0
#endif
		      :: else
		   fi);
		leased = 0; lw = 0
	:: else
	fi;
	ST(pmask[k] = 0; pdone[k] = 1);
#else
	ST(pdone[k] = 1);
#endif
	goto end;
dead:
	/* killed: the kernel tells the supervisor */
	atomic {
		n = 0; bytes = 0; pos = 0; hi = 0; seq = 0; i = 0; mn = 0; killed[k] = 1;
#ifdef PSLEEP
		asleep = 0; v = 0;
#endif
#ifdef LEASE
		leased = 0; ex = 0; tpos = 0; tseq = 0; lv = 0; lw = 0;
#endif
		skip
	}
#ifdef REUSE
	/* hm_ring_take_prod_slot: once the supervisor freed the slot, a new
	 * process takes it (active 0, scans 0, held_seq 0 as in ring.c unless
	 * KEEP_HELD) and makes the dead one's last claim again */
	if
	:: !reused[k] ->
		atomic {
			repaired[k] ->
			killed[k] = 0;
			repaired[k] = 0;
			reused[k] = 1;
#ifdef LEASE
			pmask[k] = 1;
			inclaim[k] = 0;
#endif
			act[k] = 0;
			scans[k] = 0;
#ifndef KEEP_HELD
			held[k] = 0;
#endif
			c = NCLAIMS(k) - 1
		}
		goto next_claim
	:: else
	fi;
#endif
	c = 0;
end:
	skip
}

/* ---- hm_ring_repair_producer (the supervisor) ----------------------------- */
active proctype Repairer()
{
	byte d, rp, rs, rn, rhi, rh, w, i, rpos;
	bool won;

next:
	do
	:: killed[0] && !repaired[0] -> d = 0; break
	:: killed[1] && !repaired[1] -> d = 1; break
	/* hm_sup_release of a dead subscriber whose slot is still its own */
	:: skilled[0] && sowner[0] -> d = 0; goto srelease
	:: skilled[1] && sowner[1] -> d = 1; goto srelease
	:: ALL_DONE -> goto end
	od;
restart:
	atomic { rp = 0; rs = 0; rn = 0; rhi = 0; rh = 0; w = 0; i = 0; won = false; rpos = 0 }
	/* d is dead: its intent and its slots no longer change, so they are
	 * read in the same step as the next shared read */
#if defined(BUG_OLD_WON) || defined(BUG_HELD_FIRST)
	RST(if
	    :: act[d] -> rp = ipos[d]; rs = iseq[d]; rn = icnt[d]
	    :: else -> rn = 0
	    fi);
#else
	RST(if
	    :: act[d] -> rp = ipos[d]; rs = iseq[d]; rn = icnt[d]; rhi = tail_hi; rpos = tail_lo
	    :: else -> rn = 0
	    fi);
#endif
	if
	:: rn == 0 -> goto free
	:: else
	fi;
#if defined(BUG_OLD_WON)
	/* v1: the tail (a consistent pair) moved past the intent, the head
	 * has not landed, and no live producer holds the same intent */
	RST(rhi = tail_hi; rpos = tail_lo);
	RST(w = word[SL(rs)]);
	won = (WSEQ(rhi) > rs && rpos > rp && !RESOLVED(w, rs));
	i = 0;
	do
	:: won && i < NPROD ->
		RST(if
		    :: i != d && !repaired[i] && act[i] && ipos[i] == rp && iseq[i] == rs ->
			i = 0; goto restart /* -1: the caller retries later */
		    :: else
		    fi);
		i++
	:: else -> break
	od;
	i = 0;
#else
#ifdef BUG_HELD_FIRST
	RST(rh = held[d]);
	RST(rhi = tail_hi; rpos = tail_lo);
#else
	/* the tail first (acquire), then held_seq */
	RST(rh = held[d]; w = word[SL(rs)]);
#endif
	won = ((WST(rhi) == d + 1 && WSEQ(rhi) == rs + rn) || rh == rs + rn);
#ifdef BUG_POS_MOVED
	won = won && rpos > rp;
#endif
#endif
	if
	:: won ->
#if defined(BUG_OLD_WON) || defined(BUG_HELD_FIRST)
		RST(w = word[SL(rs)]);
#endif
		if
		:: WSEQ(w) < rs || (WSEQ(w) == rs && WST(w) == IN_PROGRESS) ->
			/* not committed: abandon the whole range */
			i = 0;
			do
			:: i < rn ->
				RST(assert(owner[rs + i] == d + 1 && !committed[rs + i]);
				    meta[SL(rs + i)] = rn - i; mseq[SL(rs + i)] = rs + i + 1;
				    word[SL(rs + i)] = W(rs + i, ABANDONED));
				i++
#ifdef BUG_HEAD_ONLY
				; break
#endif
			:: else -> break
			od
		:: WSEQ(w) == rs && WST(w) == COMMITTED ->
			/* complete the commit */
			i = 1;
			do
			:: i < rn ->
				RST(if
				    :: !RESOLVED(word[SL(rs + i)], rs + i) ->
					assert(owner[rs + i] == d + 1 && cstarted[rs + i]);
					word[SL(rs + i)] = W(rs + i, COMMITTED);
					committed[rs + i] = 1
				    :: else
				    fi);
				i++
			:: else -> break
			od
		:: WSEQ(w) == rs && WST(w) == ABANDONED ->
			/* complete the abandon */
			i = 1;
			do
			:: i < rn ->
#ifndef BUG_HEAD_ONLY
				RST(if
				    :: !RESOLVED(word[SL(rs + i)], rs + i) ->
					assert(owner[rs + i] == d + 1 && !committed[rs + i]);
					meta[SL(rs + i)] = rn - i; mseq[SL(rs + i)] = rs + i + 1;
					word[SL(rs + i)] = W(rs + i, ABANDONED)
				    :: else
				    fi);
#endif
				i++
			:: else -> break
			od
		:: WSEQ(w) > rs -> skip /* lapped (overwrite rings only) */
		fi;
		atomic { i = 0; w = 0 }
#if defined(SLEEP) && defined(BUG_REPAIR_WAKE_IF_TOUCHED)
		RST(wake())
#endif
	:: else
	fi;
	RST(act[d] = 0;
	    goto free); /* (goto: keeps the two stores in one step) */
free:
#ifdef LEASE
	/* a lease holder: end its claim window (a revoker may wait on it),
	 * then its lease if the lease names it (CAS) */
#ifndef BUG_LEASE_REPAIR_KEEPS_INCLAIM
	RST(inclaim[d] = 0);
#endif
rlease:
	RST(rh = lease);
	if
	:: LTAG(rh) == d + 1 ->
		RST(if
		    :: lease == rh -> lease = 0
#ifndef BUG_LEASE_KEEPS_REVOKED
		    /* a revoker marked it REVOKING in between: again */
		    :: else -> rh = 0; goto rlease
#else
		    :: else
#endif
		    fi)
	:: else
	fi;
	rh = 0;
#endif
#if defined(PSLEEP) && !defined(BUG_REPAIR_KEEPS_BIT)
	/* a producer that died asleep: retract its announcement */
	RST(prod_sleepers = prod_sleepers & ~(1 << d));
#endif
	/* free_slot; with SLEEP, wake sleepers: d may have died between its
	 * last word store and its wake-up; with PSLEEP, wake producers too:
	 * d may have died between `active := 0` and its wake-up */
	atomic {
#if defined(SLEEP) && !defined(BUG_REPAIR_WAKE_IF_TOUCHED)
		wake();
#endif
		wakep();
#ifdef LEASE
		pmask[d] = 0;
#endif
		repaired[d] = 1
	}
	goto next;
srelease:
	/* hm_ring_release_subscriber: its sleeper bit, free_slot (the mask
	 * bit, then the owner) and wake_producers */
	atomic { sleepers = sleepers & ~(1 << d); submask[d] = 0 }
	SUB_FREE(d);
	goto next;
end:
#ifdef PSLEEP
	/* every producer finished or was repaired: no announcement is left */
	assert(prod_sleepers == 0);
#endif
	skip
}

/* ---- a subscriber: hm_sub_init (join), hermes_sub_poll + release, wait ---- */
proctype Subscriber(byte j)
{
	byte s, start, t, sc0, sc1, k;
	byte dmask;      /* ghost: the sequences delivered */
#ifdef SLEEP
	byte v;
#endif
#if defined(PSLEEP) && defined(BUG_PWAKE_NO_BARRIER)
	bit pw;
#endif

#ifdef EARLY0
	if
	:: j == 0 -> goto poll /* joined before anything happened (see init) */
	:: else
	fi;
#endif
#ifdef EARLY1
	if
	:: j == 1 -> goto poll /* joined before anything happened (see init) */
	:: else
	fi;
#endif
choose:
	/* sub_set_start */
	if
	:: /* HERMES_START_LATEST */
		s = WSEQ(tail_hi)
	:: /* HERMES_START_EARLIEST and HERMES_START_SEQ: hm_ring_earliest */
		t = WSEQ(tail_hi);
		s = (seq_limit > NSLOTS -> seq_limit - NSLOTS : 0);
		do
		:: s < t && WSEQ(word[SL(s)]) == s && WST(word[SL(s)]) == ABANDONED -> s++
		:: else -> break
		od;
		/* HERMES_START_SEQ: any target from the earliest to the tail */
		atomic {
			do
			:: s < t -> s++
			:: break
			od;
			t = 0
		}
	fi;
	/* publish the cursor (take_slot set the mask bit before; the old
	 * cursor it exposes is older, so only more conservative); seq_cst
	 * fence; read every producer's scan counter */
#ifdef PSLEEP
	/* publish_cursor wakes producers between the store and the fence */
	atomic { cur[j] = s; submask[j] = 1; sowner[j] = 1; start = s }
	atomic { wakep() }
	atomic { sc0 = scans[0]; sc1 = scans[1] }
#else
	atomic { cur[j] = s; submask[j] = 1; sowner[j] = 1; start = s; sc0 = scans[0]; sc1 = scans[1] }
#endif
	/* wait out the scans that were running (odd), or their producer's
	 * death; then the limits must not have passed the cursor, else
	 * choose again */
	atomic {
		(sc0 % 2 == 0 || scans[0] != sc0 || repaired[0]) &&
		(sc1 % 2 == 0 || scans[1] != sc1 || repaired[1]) ->
		sc0 = 0;
		sc1 = 0;
		if
		:: seq_limit > s + NSLOTS -> goto choose
		:: else
		fi
	}

	/* ---- hermes_sub_poll + hermes_sub_release ---------------------------
	 * A poll that finds nothing changes nothing, so (except with SLEEP or
	 * SPIN_WAIT) the subscriber simply waits until its slot changes. */
poll:
#if SUB_GONE > 0
	/* a departure is chosen before the poll, so that a wait that never
	 * ends stays a deadlock */
	if
	:: atomic { sgone > 0 -> sgone-- }; goto sdead
	:: goto leave
	:: true
	fi;
#endif
	if
	:: atomic { WSEQ(word[SL(s)]) == s && WST(word[SL(s)]) == COMMITTED ->
		/* meta and payload are this message's, it was committed, it
		 * comes once, in order, and not before the start */
		assert(mseq[SL(s)] == s + 1 && pay[SL(s)] == s + 1 && cstarted[s]);
		assert(s >= start && ((dmask >> s) & 1) == 0);
		dmask = dmask | (1 << s);
		s++
#ifndef HOLD
		RELEASE_IN_POLL /* hermes_sub_release at once */
#endif
		}
#ifdef HOLD
		/* hermes_sub_release later: the bytes were still this
		 * message's until now */
		atomic { assert(pay[SL(s - 1)] == s); cur[j] = s }
#endif
		AFTER_RELEASE
PROGRESS(d)
	:: atomic { WSEQ(word[SL(s)]) == s && WST(word[SL(s)]) == ABANDONED ->
		assert(mseq[SL(s)] == s + 1 && meta[SL(s)] >= 1 && meta[SL(s)] <= MAXB);
		s = s + meta[SL(s)]
#ifndef BUG_SKIP_UNPUBLISHED
		RELEASE_IN_POLL
#endif
		}
		AFTER_RELEASE
PROGRESS(a)
	:: WSEQ(word[SL(s)]) > s -> assert(false) /* a block ring never laps a reader */
#if defined(SLEEP)
	:: atomic { WSEQ(word[SL(s)]) < s || word[SL(s)] == W(s, IN_PROGRESS) ->
		/* nothing yet: hermes_sub_wait's eventcount */
		sleepers = sleepers | (1 << j) }
		v = futex;
		if
		:: RESOLVED(word[SL(s)], s) || WSEQ(word[SL(s)]) > s -> skip
		:: atomic { WSEQ(word[SL(s)]) < s || word[SL(s)] == W(s, IN_PROGRESS) ->
			if
			:: futex != v -> skip
			:: s == WSEQ(tail_hi) && ALL_DONE ->
				sleepers = sleepers & ~(1 << j);
				goto finished
			fi }
		fi;
		/* (killed asleep: the supervisor retracts the bit) */
		SST(sleepers = sleepers & ~(1 << j); v = 0);
#elif defined(SPIN_WAIT)
	:: atomic { WSEQ(word[SL(s)]) < s || word[SL(s)] == W(s, IN_PROGRESS) ->
		if
		:: s == WSEQ(tail_hi) && ALL_DONE -> goto finished
		:: else
		fi }
#else
	:: s == WSEQ(tail_hi) && ALL_DONE -> goto finished
#endif
	fi;
	goto poll;

leave:
	/* hm_sub_fini: free_slot's mask bit first; the process may be killed
	 * at any step */
	SST(submask[j] = 0);
	SUB_FREE_X(j, SST);
	goto end;
sdead:
	/* killed: the kernel tells the supervisor */
	skilled[j] = 1;
	goto end;

finished:
	/* every committed sequence from the start to the tail was delivered,
	 * and nothing else */
	t = WSEQ(tail_hi);
	k = start;
	do
	:: k < t -> assert(committed[k] == ((dmask >> k) & 1)); k++
	:: else -> break
	od;
end:
	skip
}

init
{
	atomic {
#ifdef EARLY0
		submask[0] = 1;
		sowner[0] = 1;
#endif
#ifdef EARLY1
		submask[1] = 1;
		sowner[1] = 1;
#endif
		run Producer(0);
		run Producer(1);
		run Subscriber(0);
#ifndef ONE_SUB
		run Subscriber(1)
#endif
	}
}
