/* hermes-nats internals shared by its modules.
 *
 * One process per bus. The main thread owns start-up, signals and the
 * heartbeat; one NATS connection (libnats, thread-safe) is shared by every
 * worker; each configured ring gets an "out" thread (ring -> NATS) and/or an
 * "in" thread (NATS -> ring). Workers only block in bounded waits (at most
 * HM_NATS_SLICE_MS at a time), so a stop request is noticed promptly.
 */
#ifndef HM_NATS_UPLINK_H
#define HM_NATS_UPLINK_H

#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <hermes/bus.h>

#include "daemon/log.h"
#include "nats-uplink/uplink_config.h"
#include "nats-uplink/state_layout.h"

#define HM_NATS_SLICE_MS 100
/* A worker that cannot go on (its ring is missing, NATS refuses) tries again
 * after HM_NATS_RETRY_MS; failed batches back off, doubling, up to
 * HM_NATS_BACKOFF_MAX_MS; a round trip to the server (flush, JetStream API call)
 * gives up after HM_NATS_CALL_MS: a failure only means "try again". */
#define HM_NATS_RETRY_MS 1000
#define HM_NATS_BACKOFF_MAX_MS 1000
#define HM_NATS_CALL_MS 2000

/* NATS headers every message carries. */
#define HM_NATS_HDR_ORIGIN "Hermes-Origin"   /* bus id of the bus it was published on, 16 hex */
#define HM_NATS_HDR_SEQ "Hermes-Seq"	        /* its sequence in that bus's ring */
#define HM_NATS_HDR_RING "Hermes-Ring"       /* that ring's name */
#define HM_NATS_HDR_PUBSEQ "Hermes-Pub-Seq"  /* per origin and ring: 1, 2, 3... as the
					 * origin's uplink sent (or dropped) them */
/* Only on tagged messages: the user tag (hermes_msg.tag), decimal 1..2^32-1.
 * Any NATS client may set it; a malformed one is ignored (untagged). */
#define HM_NATS_HDR_TAG "Hermes-Tag"

typedef struct hm_nats_uplink hm_nats_uplink;

typedef struct hm_nats_ring_ctx {
	hm_nats_uplink *up;
	const hm_nats_ring_cfg *cfg;
	hm_nats_ring_state *rs; /* this ring's block of the state file */
	pthread_t out_thread, in_thread;
	bool out_started, in_started;
} hm_nats_ring_ctx;

struct hm_nats_uplink {
	hm_nats_config cfg;
	hermes_bus *bus;
	uint64_t bus_id;
	char origin[17]; /* bus id, 16 lower-case hex digits */

	/* The state file. */
	int state_fd;
	hm_nats_state_header *st;

	natsOptions *opts;
	natsConnection *nc;

	atomic_bool stop;
	/* Signalled on connect, reconnect and stop, so waiting workers wake. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_uint conn_gen; /* bumped on every (re)connect */

	/* The flush thread (see uplink_nats.c). */
	pthread_t flush_thread;
	bool flush_started;
	pthread_mutex_t flush_mu;
	pthread_cond_t flush_cv;
	bool flush_kicked;

	hm_nats_ring_ctx rings[HM_NATS_MAX_RINGS];
	unsigned nrings;
};

/* ---- the state file (uplink_state.c) ---- */

/* Open or create the state file at path for bus `bus` (id bus_id), take its
 * exclusive lock, validate it and reset it when it belongs to an older
 * incarnation of the bus. `mode_from` names the bus segment, whose mode and
 * group the file copies. HERMES_OK with the mapping in *out and the
 * descriptor in *fd; else *fd = -1 and the detail says why: HERMES_EBUSY
 * (another uplink holds the lock), HERMES_EVERSION or HERMES_EBADSEGMENT (a
 * file of another layout, or not ours), or the error of a system call. */
hermes_err hm_nats_state_open(const char *path, const char *bus, uint64_t bus_id, const char *mode_from,
			      hm_nats_state_header **out, int *fd);

/* Map a state file read-only into *out (for --stats and tests); else *out
 * is NULL and the detail says why: HERMES_ENOTREADY (not initialised yet),
 * HERMES_EVERSION (another layout), or the error of a system call (e.g.
 * HERMES_ENOENT: no uplink has run on the bus). */
hermes_err hm_nats_state_map_readonly(const char *path, const hm_nats_state_header **out);
void hm_nats_state_unmap(const hm_nats_state_header *h);

/* The block of ring `name` (its persistent state kept from earlier runs),
 * configured from cfg and marked in use; NULL when all blocks are taken by
 * other configured rings. */
hm_nats_ring_state *hm_nats_state_ring_claim(hm_nats_state_header *h, const hm_nats_ring_cfg *cfg);

/* Mark this run's process in the header (pid, start time, runs). */
void hm_nats_state_started(hm_nats_state_header *h, const char *prefix);
void hm_nats_state_heartbeat(hm_nats_state_header *h);
void hm_nats_state_conn(hm_nats_state_header *h, unsigned conn_state, const char *url, const char *error);

/* Counter helpers: single writer, relaxed (readers tolerate a counter a
 * little behind another; a torn value cannot happen with 64-bit atomics). */
static inline void hm_nats_add(hm_atomic_u64 *c, uint64_t v)
{
	hm_store_relaxed_u64(c, hm_load_relaxed_u64(c) + v);
}
static inline void hm_nats_set(hm_atomic_u64 *c, uint64_t v)
{
	hm_store_relaxed_u64(c, v);
}

/* Range log (loop prevention). The in thread records the ring sequences it
 * is about to commit; the out thread asks whether a sequence is one of them.
 * See uplink_state.c for the ordering argument. */
bool hm_nats_range_add(hm_nats_ring_state *rs, uint64_t first, uint64_t count, const atomic_bool *stop);
typedef struct hm_nats_range_cursor {
	uint64_t k; /* index of the first entry that may still matter */
} hm_nats_range_cursor;
void hm_nats_range_cursor_init(hm_nats_ring_state *rs, hm_nats_range_cursor *cur);
bool hm_nats_range_contains(hm_nats_ring_state *rs, hm_nats_range_cursor *cur, uint64_t seq);
/* Forget entries that end before `seq` (the out thread no longer needs them,
 * even after a restart). */
void hm_nats_range_trim(hm_nats_ring_state *rs, uint64_t seq);
void hm_nats_range_reset(hm_nats_ring_state *rs);

/* ---- workers (uplink_out.c, uplink_in.c) ---- */
void *hm_nats_out_main(void *ring_ctx);
void *hm_nats_in_main(void *ring_ctx);

/* JetStream receiver after a restart: the state says a batch (ring
 * sequence, stream sequence up to) was announced before a commit that may
 * not have happened. Looks at the ring: committed -> `applied` moves to the
 * batch's last stream sequence; not committed (claim abandoned, or still in
 * progress with its owner dead) -> `applied` stays, the batch is fetched
 * again. Clears the record. Returns whether it was committed. */
bool hm_nats_in_resolve_pending(hermes_bus *bus, const char *ring, hm_nats_ring_state *rs);

/* ---- shared helpers (uplink_nats.c) ---- */

/* Build the connection options from the configuration (URLs, auth, TLS,
 * reconnect with backoff, buffers) and the callbacks that keep the state
 * file's connection block and wake workers. NATS_OK or the failing status,
 * with a message logged. */
natsStatus hm_nats_options(hm_nats_uplink *up);

/* Options for a JetStream out thread's own publishing connection: same
 * servers, credentials and TLS as the shared one, but it never reconnects
 * and has no callbacks. The caller owns *out (natsOptions_Destroy). */
natsStatus hm_nats_publisher_options(hm_nats_uplink *up, natsOptions **out);

/* Start connecting; the connection retries in the background until it
 * succeeds or the uplink stops. */
natsStatus hm_nats_connect(hm_nats_uplink *up);

bool hm_nats_connected(hm_nats_uplink *up);

/* The flush thread: start (when [uplink] flush = immediate), ask it to
 * put what the library buffered on the wire now, stop (after `stop`). */
bool hm_nats_flush_start(hm_nats_uplink *up);
void hm_nats_flush_kick(hm_nats_uplink *up);
void hm_nats_flush_stop(hm_nats_uplink *up);

/* Wait up to ms for a (re)connection or a stop; true when connected. */
bool hm_nats_wait_connected(hm_nats_uplink *up, int ms);

/* Sleep up to ms, returning early (true) on stop. */
bool hm_nats_sleep(hm_nats_uplink *up, int ms);

/* Make sure the JetStream stream for cfg exists and takes cfg->subject
 * (created with the configured replicas, duplicate window and limits, or the
 * subject added to an existing stream). *first and *last (may be NULL)
 * receive the stream's first and last sequence (0 for a new stream). */
natsStatus hm_nats_js_ensure_stream(hm_nats_uplink *up, jsCtx *js, const hm_nats_ring_cfg *cfg, uint64_t *first,
			       uint64_t *last);

/* Open the ring's hm_ring facts (capacity, slots, max message, policy). */
hermes_err hm_nats_ring_facts(hm_nats_uplink *up, const char *name, uint64_t *cap, uint64_t *slots,
			 uint32_t *max_msg, uint32_t *policy);

#endif
