/* hermes-journal's work for one ring: subscribe through the public API,
 * append every message (and every gap) to the ring's journal, sync as the
 * fsync policy says, apply retention, keep the counters file. One thread per
 * ring; the threads share nothing but the bus handle. */
#ifndef HM_REC_RECORDER_H
#define HM_REC_RECORDER_H

#include <stdatomic.h>
#include <stdbool.h>

#include <hermes/bus.h>

#include "journal/journal.h"
#include "journal/recorder/rconfig.h"
#include "journal/rstats.h"

#include "daemon/log.h"


/* Messages polled before they are written with one hm_jwriter_msgs. */
#define HM_REC_RUN_MAX 64u

typedef struct hm_rec_recorder {
	const hm_rec_ring_conf *cfg;
	hermes_bus *bus;
	hm_jwriter *w;
	hm_rec_stats *stats;
	hermes_sub *sub;
	char durable_name[32]; /* durable = true: its durable subscriber's name */
	const atomic_bool *stop;
	hermes_msg held[HM_REC_RUN_MAX]; /* polled messages waiting for room on disk (durable) */
	unsigned held_n;
	bool disk_full;	  /* in a disk-full episode (logged once) */
	uint64_t retry_ns; /* not durable: drop without trying until then */
	uint64_t drop_end; /* not durable: the sequence after the last dropped */
	uint64_t last_sync_ns;
	uint64_t last_tick_ns;
} hm_rec_recorder;

/* Open the ring's journal (recovering its tail) and counters file. Logs what
 * recovery found. HERMES_OK, or the error (logged) that makes the recorder
 * refuse to start. */
hermes_err hm_rec_recorder_open(hm_rec_recorder *r, hermes_bus *bus, const hm_rec_ring_conf *cfg, uint64_t bus_id,
			    const atomic_bool *stop);

/* Open the subscriber at the journal's next sequence (the oldest the ring
 * holds for a new journal). false (logged once) when the ring is not there
 * yet; hm_rec_recorder_run keeps trying. Called before readiness is reported,
 * so that once hermes-journal is ready its cursor holds the ring. */
bool hm_rec_recorder_subscribe(hm_rec_recorder *r);

/* Poll and record what the ring holds now, at most one batch, without
 * waiting; how many messages it polled. hm_rec_recorder_run's step (the
 * instruction-count loop, bench/journal_loop.c, calls it directly). */
unsigned hm_rec_recorder_step(hm_rec_recorder *r);

/* Record until *stop; then sync, release and close. Thread entry. */
void *hm_rec_recorder_run(void *arg);

void hm_rec_recorder_close(hm_rec_recorder *r);

#endif
