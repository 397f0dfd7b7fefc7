/* The hermes-nats state file: counters for hermes-ctl, and the little state
 * an uplink must keep across its own crashes.
 *
 * One file per bus, /dev/shm/hermes-nats.<bus> (shm_open name
 * "hermes-nats.<bus>"), created by hermes-nats with the bus segment's mode
 * and group (never world-writable). Everything in it lives exactly as long
 * as the bus segment does (both are in tmpfs): a SIGKILLed uplink loses none
 * of it, and a re-created bus (new bus id) resets it.
 *
 * Readers (hermes-ctl, tests, `hermes-nats --stats`) map it read-only and
 * never lock. The layout is fixed-width, little-endian on the platforms we
 * support, host byte order, offsets asserted below. A reader:
 *
 *   1. maps the file; fewer than sizeof(hm_nats_state_header) bytes, or magic 0:
 *      "no uplink has run on this bus yet" (not an error);
 *   2. loads `magic` with acquire (pairs with the release store that the
 *      uplink makes after it filled in every other header field); another
 *      magic or `version` != HM_NATS_STATE_VERSION: incompatible, say so;
 *   3. the uplink is alive when hermes proc facts say pid `pid` with start
 *      time `start_time` exists (like the bus supervisor); `heartbeat_ns`
 *      (CLOCK_REALTIME) moves every 250 ms while it runs;
 *   4. ring i is at offset header_size + i * ring_size; it is in use when
 *      `configured` (acquire) is 1.
 * Counters are single-writer, monotonic 64-bit values read with relaxed
 * loads: a reader can see one counter a little behind another, never a torn
 * value. The two text fields of the header (`url`, `last_error`) are
 * written under the `text_seq` seqlock (odd while writing).
 */
#ifndef HM_NATS_UPLINK_STATE_H
#define HM_NATS_UPLINK_STATE_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "core/atomics.h"

#define HM_NATS_STATE_MAGIC UINT64_C(0x314b4e4c50555348) /* "HSUPLNK1" little-endian */
#define HM_NATS_STATE_VERSION 1u
#define HM_NATS_STATE_MAX_RINGS 64u
/* Ranges of ring sequences committed by the uplink itself, per ring (see
 * hm_nats_ring_state.rl). Merged when contiguous, so this bounds interleavings of
 * local and inbound traffic not yet published, not messages. */
#define HM_NATS_RANGE_LOG 256u
#define HM_NATS_STATE_NAME_MAX 48u

/* hm_nats_state_header.conn_state */
enum hm_nats_conn_state {
	HM_NATS_CONN_STARTING = 0,	  /* not connected yet (first connection in progress) */
	HM_NATS_CONN_CONNECTED = 1,
	HM_NATS_CONN_RECONNECTING = 2, /* lost the server; trying the URL list with backoff */
	HM_NATS_CONN_CLOSED = 3,	  /* given up (auth refused, fatal error); see last_error */
	HM_NATS_CONN_STOPPED = 4,	  /* the uplink exited cleanly */
};

/* hm_nats_ring_state.dir, .mode, .policy */
enum hm_nats_dir { HM_NATS_DIR_OUT = 1, HM_NATS_DIR_IN = 2, HM_NATS_DIR_BOTH = 3 };
enum hm_nats_mode { HM_NATS_MODE_CORE = 0, HM_NATS_MODE_JETSTREAM = 1 };
enum hm_nats_policy { HM_NATS_POLICY_BLOCK = 0, HM_NATS_POLICY_DROP = 1 };

/* hm_nats_ring_state.out.state and .in.state */
enum hm_nats_worker_state {
	HM_NATS_W_OFF = 0,	    /* this direction is not configured */
	HM_NATS_W_WAIT_RING = 1, /* the ring does not exist (yet): retried every second */
	HM_NATS_W_WAIT_NATS = 2, /* waiting for the connection or the JetStream stream */
	HM_NATS_W_RUNNING = 3,
	HM_NATS_W_BLOCKED = 4,   /* out, policy block: NATS unreachable or max_pending
			     * reached; the uplink's cursor holds the ring back */
	HM_NATS_W_DROPPING = 5,  /* out, policy drop: NATS unreachable; messages are
			     * taken from the ring and counted in out.dropped */
	HM_NATS_W_RING_FULL = 6, /* in: the local ring is full; inbound waits */
};

/* 1 KiB. Identity first (written before `magic`), then a block per writer. */
typedef struct hm_nats_state_header {
	hm_atomic_u64 magic; /* HM_NATS_STATE_MAGIC, stored last with release */
	uint32_t version;    /* HM_NATS_STATE_VERSION */
	uint32_t header_size;
	uint32_t ring_size;
	uint32_t max_rings;
	uint32_t range_log;
	uint32_t reserved0;
	uint64_t bus_id; /* hermes_bus_id() of the bus this state belongs to */
	char bus[HM_NATS_STATE_NAME_MAX];
	uint8_t pad0[128 - 88];

	/* The running uplink: written at its start, heartbeat every 250 ms. */
	hm_atomic_u64 pid;
	hm_atomic_u64 start_time;   /* /proc/PID/stat field 22, against pid reuse */
	hm_atomic_u64 started_ns;   /* CLOCK_REALTIME */
	hm_atomic_u64 heartbeat_ns; /* CLOCK_REALTIME */
	hm_atomic_u64 runs;	    /* how many times an uplink started on this file */
	char prefix[88];	    /* subject prefix in use */

	/* The NATS connection: written by the client library's callbacks. */
	hm_atomic_u64 conn_state; /* enum hm_nats_conn_state */
	hm_atomic_u64 connects;	  /* successful connections, first and re- */
	hm_atomic_u64 disconnects;
	hm_atomic_u64 reconnects;
	hm_atomic_u64 errors;	  /* asynchronous errors reported by the client */
	hm_atomic_u64 changed_ns; /* CLOCK_REALTIME of the last state change */
	hm_atomic_u64 text_seq;	  /* seqlock over url and last_error */
	uint8_t pad2[256 - 56];
	char url[256];	      /* the server connected to (or last tried) */
	char last_error[256]; /* the last error the client or the uplink reported */
} hm_nats_state_header;

/* One range [first, last] of ring sequences the uplink committed itself. */
typedef struct hm_nats_range {
	hm_atomic_u64 first;
	hm_atomic_u64 last;
} hm_nats_range;

/* Per ring, 128-byte blocks by writer. "out" = ring -> NATS, "in" = NATS ->
 * ring; each has its own thread, the only writer of its blocks. */
typedef struct hm_nats_ring_state {
	/* Configuration, written at start before `configured` (release). */
	char name[HM_NATS_STATE_NAME_MAX];
	char subject[144];
	char stream[64];
	uint32_t dir;	 /* enum hm_nats_dir */
	uint32_t mode;	 /* enum hm_nats_mode */
	uint32_t policy; /* enum hm_nats_policy (out direction) */
	uint32_t replicas;
	uint64_t max_pending; /* bytes */
	hm_atomic_u32 configured;
	uint32_t reserved1;
	uint8_t pad0[512 - 288];

	/* Ring -> NATS (the out thread). */
	struct {
		hm_atomic_u64 state;	       /* enum hm_nats_worker_state */
		hm_atomic_u64 msgs;	       /* published (core: handed to the client;
						* JetStream: acknowledged by the stream) */
		hm_atomic_u64 bytes;	       /* payload bytes of those */
		hm_atomic_u64 batches;
		hm_atomic_u64 dropped;	       /* policy drop: taken from the ring, not sent */
		hm_atomic_u64 dropped_bytes;
		hm_atomic_u64 blocked_events;  /* policy block: times the cursor stopped */
		hm_atomic_u64 blocked_ns;      /* total time it stood */
		hm_atomic_u64 skipped_inbound; /* loop prevention: came from NATS, not sent */
		hm_atomic_u64 ring_lost;       /* lapped on an overwrite ring before sending */
		hm_atomic_u64 errors;	       /* failed publishes / acks */
		hm_atomic_u64 retries;	       /* JetStream batches sent again */
		hm_atomic_u64 duplicates;      /* JetStream acks saying "duplicate" (resends) */
		hm_atomic_u64 pending_bytes;   /* now: held or in flight, not yet done */
		hm_atomic_u64 pending_max;     /* high-water mark of pending_bytes */
		hm_atomic_u64 next_seq;	       /* ring sequence the cursor is at */
		hm_atomic_u64 pub_count;       /* Hermes-Pub-Seq of the last message */
		uint8_t pad[384 - 136];
	} out;

	/* Ring -> NATS resume point (JetStream), persistent: two copies, the
	 * index of the valid one stored last (release) so a kill between the
	 * writes leaves the previous copy intact. */
	struct {
		hm_atomic_u64 idx;
		hm_atomic_u64 ring_seq[2];  /* next ring sequence to publish */
		hm_atomic_u64 pub_count[2]; /* Hermes-Pub-Seq before it */
		uint8_t pad[128 - 40];
	} resume;

	/* NATS -> ring (the in thread). */
	struct {
		hm_atomic_u64 state;	       /* enum hm_nats_worker_state */
		hm_atomic_u64 msgs;	       /* committed into the ring */
		hm_atomic_u64 bytes;
		hm_atomic_u64 batches;
		hm_atomic_u64 own_skipped;     /* loop prevention: our own bus's messages */
		hm_atomic_u64 dup_skipped;     /* JetStream: stream sequence already applied */
		hm_atomic_u64 lost;	       /* gaps in Hermes-Pub-Seq: messages that left
						* another bus and never arrived here */
		hm_atomic_u64 gap_events;      /* how many such gaps */
		hm_atomic_u64 client_dropped;  /* dropped by the NATS client (slow consumer) */
		hm_atomic_u64 too_big;	       /* larger than the ring's max message: dropped */
		hm_atomic_u64 ring_full_events;
		hm_atomic_u64 errors;
		hm_atomic_u64 consumer_resets; /* JetStream consumer (re)created */
		hm_atomic_u64 resolved;	       /* restarts that found an unfinished commit */
		hm_atomic_u64 pending_bytes;   /* held by the client for us, now */
		uint8_t pad[256 - 120];
	} in;

	/* NATS -> ring persistent state (JetStream). `applied` is the last
	 * stream sequence whose fate in the ring is final. Before a batch is
	 * committed, `pend_*` records it (pend_valid stored last, release); after
	 * the commit `applied` moves and pend_valid is cleared. */
	struct {
		hm_atomic_u64 applied;
		hm_atomic_u64 pend_valid;
		hm_atomic_u64 pend_ring_seq;
		hm_atomic_u64 pend_count;
		hm_atomic_u64 pend_stream_last;
		uint8_t pad[128 - 40];
	} inp;

	/* The range log: ring sequences the in thread committed, so the out
	 * thread of the same ring never sends them back (loop prevention that
	 * survives a restart of the uplink). The in thread writes entries and
	 * `tail`; the out thread moves `head` past entries it no longer needs. */
	struct {
		hm_atomic_u64 head;
		uint8_t pad[120];
	} rl_head;
	struct {
		hm_atomic_u64 tail;
		uint8_t pad[120];
	} rl_tail;
	hm_nats_range rl[HM_NATS_RANGE_LOG];
} hm_nats_ring_state;

static_assert(sizeof(hm_nats_state_header) == 1024, "state header is 1 KiB");
static_assert(offsetof(hm_nats_state_header, pid) == 128, "process block at 128");
static_assert(offsetof(hm_nats_state_header, conn_state) == 256, "connection block at 256");
static_assert(offsetof(hm_nats_state_header, url) == 512, "url at 512");
static_assert(offsetof(hm_nats_ring_state, out) == 512, "out block at 512");
static_assert(offsetof(hm_nats_ring_state, resume) == 896, "resume block at 896");
static_assert(offsetof(hm_nats_ring_state, in) == 1024, "in block at 1024");
static_assert(offsetof(hm_nats_ring_state, inp) == 1280, "in persistent block at 1280");
static_assert(offsetof(hm_nats_ring_state, rl_head) == 1408, "range head at 1408");
static_assert(offsetof(hm_nats_ring_state, rl_tail) == 1536, "range tail at 1536");
static_assert(offsetof(hm_nats_ring_state, rl) == 1664, "range log at 1664");
static_assert(sizeof(hm_nats_ring_state) == 1664 + 16 * HM_NATS_RANGE_LOG, "ring state size");
static_assert(sizeof(hm_nats_ring_state) % 128 == 0, "ring states are 128-byte aligned");

/* The file of bus BUS when --state does not name another: printf format with
 * one %s, the bus. */
#define HM_NATS_STATE_PATH_FORMAT "/dev/shm/hermes-nats.%s"

#define HM_NATS_STATE_SIZE (sizeof(hm_nats_state_header) + HM_NATS_STATE_MAX_RINGS * sizeof(hm_nats_ring_state))

static inline hm_nats_ring_state *hm_nats_state_ring(hm_nats_state_header *h, unsigned i)
{
	return (hm_nats_ring_state *)((char *)h + sizeof(hm_nats_state_header) + (size_t)i * sizeof(hm_nats_ring_state));
}

#endif
