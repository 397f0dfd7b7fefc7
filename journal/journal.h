/* A ring's journal: a directory of segment files (journal/format.h).
 *
 * hm_jwriter appends (the recorder; one writer per directory, enforced with
 * an flock on DIR/.lock): recovery of the newest file at open (a torn or
 * uncommitted tail is cut), roll-over to a new file when one is full,
 * retention by bytes and age, msync on request.
 *
 * hm_jreader reads from any sequence (replay, hermes-ctl), zero-copy from
 * read-only mappings, concurrently with the writer, across files; corrupt
 * records are reported by sequence and skipped, never delivered. */
#ifndef HM_JOURNAL_H
#define HM_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hermes/bus.h>
#include <hermes/error.h>

#include "journal/jfile.h"

#define HM_JSEQ_NONE UINT64_MAX /* an empty journal's next sequence */

typedef struct hm_jopts {
	uint64_t file_size;	 /* bytes per segment file (default 64 MiB) */
	uint32_t index_stride;	 /* data bytes per index entry (default 64 KiB) */
	uint64_t retain_bytes;	 /* 0: no limit */
	uint64_t retain_age_ns;	 /* 0: no limit */
	/* Bytes past the tail a thread of the writer keeps faulted in
	 * (journal/prefault.h); 0: HM_JPREFAULT_AHEAD; HM_JPREFAULT_INLINE:
	 * no thread, the writer faults the next 2 MiB in itself. */
	uint64_t prefault_ahead;
} hm_jopts;

#define HM_JPREFAULT_AHEAD (8ull << 20)
#define HM_JPREFAULT_INLINE UINT64_MAX

/* What the writer's open found and repaired. */
typedef struct hm_jrecovery {
	uint64_t files;
	uint64_t next_seq;	/* HM_JSEQ_NONE when empty */
	uint64_t cut_bytes;	/* non-zero bytes zeroed after the tail */
	bool torn;		/* the tail did not hold a valid record */
	uint64_t corrupt;	/* corrupt sequences found in the newest file */
	uint64_t corrupt_first;
	uint64_t temp_removed;	/* half-created files of a killed writer */
} hm_jrecovery;

typedef struct hm_jwriter hm_jwriter;

/* Open (creating DIR when missing) the journal of `ring` for appending.
 * Errors: HERMES_EBUSY (another writer holds DIR), HERMES_EBADSEGMENT or
 * HERMES_EVERSION (the newest file cannot be trusted: the detail names it),
 * HERMES_EINVAL (options), HERMES_ESYS/HERMES_EACCES. Blocks in file I/O. */
hermes_err hm_jwriter_open(const char *dir, const char *ring, uint64_t bus_id, const hm_jopts *opts,
			   hm_jwriter **out, hm_jrecovery *rep);

/* The sequence the next record must carry; HM_JSEQ_NONE when the journal is
 * empty (any first sequence is accepted). */
uint64_t hm_jwriter_next_seq(const hm_jwriter *w);

/* Append a message with sequence seq (== next_seq, unless empty). Rolls over
 * to a new file when the current one is full. Errors: HERMES_EINVAL (wrong
 * sequence), HERMES_EMSGSIZE (cannot fit even an empty file), HERMES_ENOSPC
 * (no room on the file system for the next file: nothing was written; retry
 * later), HERMES_ESYS. */
hermes_err hm_jwriter_msg(hm_jwriter *w, uint64_t seq, const void *data, uint32_t len);
/* The same with the message's user tag (hermes_msg.tag; 0 = none). */
hermes_err hm_jwriter_msg_tagged(hm_jwriter *w, uint64_t seq, uint32_t tag, const void *data,
				 uint32_t len);

/* Append n messages in order, each with its sequence, tag, data and len
 * (consecutive sequences, the first == next_seq unless empty; gap and lost
 * are not looked at), stamped with one time. *done receives how many were
 * appended, all of them on HERMES_OK; on an error (as hm_jwriter_msg) the
 * first *done are in the journal and the rest may be retried. */
hermes_err hm_jwriter_msgs(hm_jwriter *w, const hermes_msg *msgs, unsigned n, unsigned *done);

/* Append a range of count sequences from first: HM_JR_GAP (aborted or
 * repaired on the ring) or HM_JR_LOST (the recorder could not get them).
 * Errors as hm_jwriter_msg. */
hermes_err hm_jwriter_range(hm_jwriter *w, uint32_t type, uint64_t first, uint64_t count);

/* msync what was written since the last sync (MS_SYNC). HERMES_ESYS. */
hermes_err hm_jwriter_sync(hm_jwriter *w);

/* Delete the oldest files beyond the retention limits, never the one being
 * written. *deleted (may be NULL) receives how many. */
hermes_err hm_jwriter_retain(hm_jwriter *w, uint64_t now_ns, uint64_t *deleted);

/* Whether the writer's thread has the next file made ahead, ready for the
 * next roll-over (DIR/.next.tmp, journal/prefault.h), and *faulted, how
 * much of it is faulted in. For tests and benchmarks; never blocks. */
bool hm_jwriter_next_ready(const hm_jwriter *w, uint64_t *faulted);

/* Whether the next file the writer asked its thread for is still on its
 * way (hm_prefault_next_pending). For tests; never blocks for long. */
bool hm_jwriter_next_pending(const hm_jwriter *w);

/* Bytes of all files of the journal. */
uint64_t hm_jwriter_bytes(const hm_jwriter *w);

void hm_jwriter_close(hm_jwriter *w);

/* The files of DIR, ascending: first sequences into *seqs (allocated; free()
 * it). Errors: HERMES_ENOENT (no such directory), HERMES_ESYS, HERMES_ENOMEM. */
hermes_err hm_jdir_list(const char *dir, uint64_t **seqs, size_t *n);

/* The path of the file starting at first_seq. */
void hm_jdir_path(char *buf, size_t len, const char *dir, uint64_t first_seq);

/* One file of a journal as a read-only scan found it (tools: list,
 * verify). */
typedef struct hm_jfile_report {
	uint64_t first_seq; /* from the name */
	uint64_t bytes;
	hermes_err header;  /* HERMES_OK, or why the header is refused */
	char error[160];    /* its detail */
	hm_jfile_info fi;   /* when the header is good */
	hm_jscan scan;	    /* idem */
} hm_jfile_report;

/* Scan every file of DIR, oldest first, without writing: fn gets each
 * file's report, corrupt (may be NULL) each corrupt range with the file's
 * first sequence. Errors: as hm_jdir_list. */
hermes_err hm_jdir_scan(const char *dir, void (*fn)(void *ctx, const hm_jfile_report *rep),
			hm_jcorrupt_fn corrupt, void *ctx);

typedef struct hm_jreader hm_jreader;

/* What hm_jreader_next reports. */
typedef enum hm_jread_kind {
	HM_JREAD_MSG = 1,     /* a message: seq, data, len */
	HM_JREAD_GAP = 2,     /* count sequences skipped on the ring */
	HM_JREAD_LOST = 3,    /* count sequences the journal does not have */
	HM_JREAD_CORRUPT = 4, /* count sequences from seq failed their checksum */
} hm_jread_kind;

typedef struct hm_jitem {
	hm_jread_kind kind;
	uint32_t len;
	uint32_t tag; /* MSG: the user tag, 0 = none */
	uint64_t seq;
	uint64_t count;
	uint64_t time_ns;
	const void *data; /* MSG: into the mapping, valid until hm_jreader_release */
} hm_jitem;

/* Open a reader on DIR positioned at sequence `from`. A sequence older than
 * the oldest file is reported as LOST first. Errors: HERMES_ENOENT (no such
 * directory), HERMES_ESYS, HERMES_ENOMEM. Never writes to the journal. */
hermes_err hm_jreader_open(const char *dir, uint64_t from, hm_jreader **out);

/* The next item: HERMES_OK with *it, or HERMES_EAGAIN when the journal has
 * nothing more yet. Non-blocking. At the end of a file that has no END
 * record (the writer is still on it, or died), it lists the directory for a
 * later file, at most every 2 ms (a listing costs about 0.1 ms). */
hermes_err hm_jreader_next(hm_jreader *r, hm_jitem *it);

/* The same, with that look for a later file only when look_later: for a
 * reader about to go to the live ring instead, which holds what a later
 * file would (hermes_replay: the look waits until a hand-over finds the
 * ring moved on). */
hermes_err hm_jreader_next_ex(hm_jreader *r, hm_jitem *it, bool look_later);

/* The sequence the next item starts at. */
uint64_t hm_jreader_next_seq(const hm_jreader *r);

/* Let go of mappings of files the reader has left (items read from them
 * become invalid). */
void hm_jreader_release(hm_jreader *r);

void hm_jreader_close(hm_jreader *r);

#endif
