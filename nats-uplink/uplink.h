/* hermes-nats internals shared by its modules.
 *
 * One process per bus. The main thread owns start-up, signals and the
 * heartbeat; one NATS connection (libnats, thread-safe) is shared by every
 * worker; each configured ring gets an "out" thread (ring -> NATS) and/or an
 * "in" thread (NATS -> ring). Workers only block in bounded waits (at most
 * HN_SLICE_MS at a time), so a stop request is noticed promptly.
 */
#ifndef HN_UPLINK_H
#define HN_UPLINK_H

#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <hermes/bus.h>

#include "daemon/log.h"
#include "nats-uplink/uplink_config.h"
#include "nats-uplink/state_layout.h"

#define HN_SLICE_MS 100
/* A worker that cannot go on (its ring is missing, NATS refuses) tries again
 * after HN_RETRY_MS; failed batches back off, doubling, up to
 * HN_BACKOFF_MAX_MS; a round trip to the server (flush, JetStream API call)
 * gives up after HN_NATS_CALL_MS: a failure only means "try again". */
#define HN_RETRY_MS 1000
#define HN_BACKOFF_MAX_MS 1000
#define HN_NATS_CALL_MS 2000

/* NATS headers every message carries. */
#define HN_HDR_ORIGIN "Hermes-Origin"   /* bus id of the bus it was published on, 16 hex */
#define HN_HDR_SEQ "Hermes-Seq"	        /* its sequence in that bus's ring */
#define HN_HDR_RING "Hermes-Ring"       /* that ring's name */
#define HN_HDR_PUBSEQ "Hermes-Pub-Seq"  /* per origin and ring: 1, 2, 3... as the
					 * origin's uplink sent (or dropped) them */
/* Only on tagged messages: the user tag (hermes_msg.tag), decimal 1..2^32-1.
 * Any NATS client may set it; a malformed one is ignored (untagged). */
#define HN_HDR_TAG "Hermes-Tag"

typedef struct hn_uplink hn_uplink;

typedef struct hn_ring_ctx {
	hn_uplink *up;
	const hn_ring_cfg *cfg;
	hn_ring_state *rs; /* this ring's block of the state file */
	pthread_t out_thread, in_thread;
	bool out_started, in_started;
} hn_ring_ctx;

struct hn_uplink {
	hn_config cfg;
	hermes_bus *bus;
	uint64_t bus_id;
	char origin[17]; /* bus id, 16 lower-case hex digits */

	/* The state file. */
	int state_fd;
	hn_state_header *st;

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

	hn_ring_ctx rings[HN_MAX_RINGS];
	unsigned nrings;
};

/* ---- the state file (uplink_state.c) ---- */

/* Open or create the state file at path for bus `bus` (id bus_id), take its
 * exclusive lock, validate it and reset it when it belongs to an older
 * incarnation of the bus. `mode_from` names the bus segment, whose mode and
 * group the file copies. Returns the descriptor and sets *out, or -1 with
 * err filled in (another uplink holds the lock, incompatible file...). */
int hn_state_open(const char *path, const char *bus, uint64_t bus_id, const char *mode_from,
		  hn_state_header **out, char *err, size_t errlen);

/* Map a state file read-only (for --stats and tests). NULL with err set. */
const hn_state_header *hn_state_map_readonly(const char *path, char *err, size_t errlen);
void hn_state_unmap(const hn_state_header *h);

/* The block of ring `name` (its persistent state kept from earlier runs),
 * configured from cfg and marked in use; NULL when all blocks are taken by
 * other configured rings. */
hn_ring_state *hn_state_ring_claim(hn_state_header *h, const hn_ring_cfg *cfg);

/* Mark this run's process in the header (pid, start time, runs). */
void hn_state_started(hn_state_header *h, const char *prefix);
void hn_state_heartbeat(hn_state_header *h);
void hn_state_conn(hn_state_header *h, unsigned conn_state, const char *url, const char *error);

/* Counter helpers: single writer, relaxed (readers tolerate a counter a
 * little behind another; a torn value cannot happen with 64-bit atomics). */
static inline void hn_add(hm_atomic_u64 *c, uint64_t v)
{
	hm_store_relaxed_u64(c, hm_load_relaxed_u64(c) + v);
}
static inline void hn_set(hm_atomic_u64 *c, uint64_t v)
{
	hm_store_relaxed_u64(c, v);
}

/* Range log (loop prevention). The in thread records the ring sequences it
 * is about to commit; the out thread asks whether a sequence is one of them.
 * See uplink_state.c for the ordering argument. */
bool hn_range_add(hn_ring_state *rs, uint64_t first, uint64_t count, const atomic_bool *stop);
typedef struct hn_range_cursor {
	uint64_t k; /* index of the first entry that may still matter */
} hn_range_cursor;
void hn_range_cursor_init(hn_ring_state *rs, hn_range_cursor *cur);
bool hn_range_contains(hn_ring_state *rs, hn_range_cursor *cur, uint64_t seq);
/* Forget entries that end before `seq` (the out thread no longer needs them,
 * even after a restart). */
void hn_range_trim(hn_ring_state *rs, uint64_t seq);
void hn_range_reset(hn_ring_state *rs);

/* ---- workers (uplink_out.c, uplink_in.c) ---- */
void *hn_out_main(void *ring_ctx);
void *hn_in_main(void *ring_ctx);

/* JetStream receiver after a restart: the state says a batch (ring
 * sequence, stream sequence up to) was announced before a commit that may
 * not have happened. Looks at the ring: committed -> `applied` moves to the
 * batch's last stream sequence; not committed (claim abandoned, or still in
 * progress with its owner dead) -> `applied` stays, the batch is fetched
 * again. Clears the record. Returns whether it was committed. */
bool hn_in_resolve_pending(hermes_bus *bus, const char *ring, hn_ring_state *rs);

/* ---- shared helpers (uplink_nats.c) ---- */

/* Build the connection options from the configuration (URLs, auth, TLS,
 * reconnect with backoff, buffers) and the callbacks that keep the state
 * file's connection block and wake workers. NATS_OK or the failing status,
 * with a message logged. */
natsStatus hn_nats_options(hn_uplink *up);

/* Options for a JetStream out thread's own publishing connection: same
 * servers, credentials and TLS as the shared one, but it never reconnects
 * and has no callbacks. The caller owns *out (natsOptions_Destroy). */
natsStatus hn_nats_publisher_options(hn_uplink *up, natsOptions **out);

/* Start connecting; the connection retries in the background until it
 * succeeds or the uplink stops. */
natsStatus hn_nats_connect(hn_uplink *up);

bool hn_connected(hn_uplink *up);

/* The flush thread: start (when [uplink] flush = immediate), ask it to
 * put what the library buffered on the wire now, stop (after `stop`). */
bool hn_flush_start(hn_uplink *up);
void hn_flush_kick(hn_uplink *up);
void hn_flush_stop(hn_uplink *up);

/* Wait up to ms for a (re)connection or a stop; true when connected. */
bool hn_wait_connected(hn_uplink *up, int ms);

/* Sleep up to ms, returning early (true) on stop. */
bool hn_sleep(hn_uplink *up, int ms);

/* Make sure the JetStream stream for cfg exists and takes cfg->subject
 * (created with the configured replicas, duplicate window and limits, or the
 * subject added to an existing stream). *first and *last (may be NULL)
 * receive the stream's first and last sequence (0 for a new stream). */
natsStatus hn_js_ensure_stream(hn_uplink *up, jsCtx *js, const hn_ring_cfg *cfg, uint64_t *first,
			       uint64_t *last);

/* Open the ring's hm_ring facts (capacity, slots, max message, policy). */
hermes_err hn_ring_facts(hn_uplink *up, const char *name, uint64_t *cap, uint64_t *slots,
			 uint32_t *max_msg, uint32_t *policy);

uint64_t hn_now_ns(void);
uint64_t hn_realtime_ns(void);

#endif
