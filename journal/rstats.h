/* The recorder's counters for one ring: a small file DIR/.recorder in the
 * ring's journal directory, part of the journal's on-disk format (so it
 * lives with the library's journal code; hermes-journal writes it). Mapped
 * shared, written by the recorder's ring thread only and read without locks
 * by tests, `hermes-journal --stats` and tools. Every field is a 64-bit counter written with relaxed stores (each is
 * independent; readers want a recent value, not a consistent set), except
 * the error text, guarded by a sequence count (seqlock). */
#ifndef HM_REC_RSTATS_H
#define HM_REC_RSTATS_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include <hermes/error.h>

#include "core/atomics.h"

#define HM_REC_STATS_MAGIC 0x5453524e524a4d48ull /* "HMJRNRST" */
#define HM_REC_STATS_VERSION 1u
#define HM_REC_STATS_FILE ".recorder"

enum hm_rec_state {
	HM_REC_STATE_STOPPED = 0,
	HM_REC_STATE_WAIT_RING = 1, /* the ring does not exist (yet) */
	HM_REC_STATE_RECORDING = 2,
	HM_REC_STATE_DISK_FULL = 3, /* cannot write: holding the ring (durable) or dropping */
};

typedef struct hm_rec_stats {
	uint64_t magic;
	uint64_t version;
	hm_atomic_u64 pid;
	hm_atomic_u64 start_time; /* of pid, to tell it from a reused pid */
	hm_atomic_u64 heartbeat_ns;
	hm_atomic_u64 state;
	hm_atomic_u64 next_seq; /* the sequence the journal expects next */
	hm_atomic_u64 messages;
	hm_atomic_u64 bytes;
	hm_atomic_u64 gaps;	    /* sequences recorded as GAP */
	hm_atomic_u64 lost;	    /* sequences recorded as LOST */
	hm_atomic_u64 dropped;	    /* messages dropped for a full disk (not durable) */
	hm_atomic_u64 disk_full;    /* times a write found the disk full */
	hm_atomic_u64 write_errors; /* other failed writes */
	hm_atomic_u64 syncs;
	hm_atomic_u64 files_deleted;
	hm_atomic_u64 restarts; /* recorder starts on this journal */
	hm_atomic_u64 torn_cuts; /* recoveries that cut a torn tail */
	hm_atomic_u64 text_seq;
	char last_error[256];
} hm_rec_stats;

static_assert(offsetof(hm_rec_stats, text_seq) == 18 * 8, "stats layout");
static_assert(sizeof(hm_rec_stats) == 19 * 8 + 256, "stats layout");

/* Map DIR/.recorder read-write into *out, creating or resetting it when it
 * is not a valid stats file. HERMES_OK; else *out is NULL and the error of
 * the system call, with the detail "counters file in DIR: REASON". */
hermes_err hm_rec_stats_open(const char *dir, hm_rec_stats **out);

/* Map it read-only for inspection into *out. HERMES_OK; else *out is NULL,
 * the detail is "DIR/.recorder: REASON" and the code HERMES_ENOENT (never
 * recorded there), HERMES_EBADSEGMENT (not a counters file: another size or
 * magic), HERMES_EVERSION (another layout) or another system call's. */
hermes_err hm_rec_stats_open_readonly(const char *dir, const hm_rec_stats **out);

void hm_rec_stats_close(const hm_rec_stats *s);

/* Set the error text (recorder thread only). */
void hm_rec_stats_error(hm_rec_stats *s, const char *text);

/* Copy the error text consistently into buf (sizeof last_error bytes). */
void hm_rec_stats_error_text(const hm_rec_stats *s, char *buf);

#endif
