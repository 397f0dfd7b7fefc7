/* Test harness for the journal: a real hermesd with a ring, the real
 * hermes-journal recorder (started, stopped, killed by pid), and checks of
 * what the journal holds. Every wait has a deadline. */
#ifndef HT_JOURNAL_SUPPORT_H
#define HT_JOURNAL_SUPPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <hermes/bus.h>

#include "journal/rstats.h"
#include "tests/support/bus.h"

typedef struct hjt {
	ht_bus b;	    /* the bus under hermesd, its run directory */
	char ring[32];
	char dir[300];	    /* the ring's journal directory */
	char conf[300];	    /* the recorder's config file */
	char log[300];	    /* the recorder's stderr */
	char notify[300];
	int notify_fd;
	pid_t rec;	    /* the recorder, 0 when not running */
} hjt;

/* Start hermesd (segment of seg_size bytes), attach, create ring "rec"
 * (block policy) with the given capacity; the journal directory is made
 * under the run directory (or under journal_root when not NULL). */
void ht_jr_init(hjt *t, const char *tag, uint64_t seg_size, uint64_t capacity, uint32_t max_msg,
	      const char *journal_root);

/* The usual start: ht_jr_init with a 64 MiB segment, 1 KiB messages and the
 * journal under the run directory, ht_jr_config(conf), ht_jr_start waiting for
 * READY=1. */
void ht_jr_begin(hjt *t, const char *tag, uint64_t capacity, const char *conf);

/* Write the recorder's config: the ring's section gets `extra` lines
 * (e.g. "durable = true\nfile_size = 256K\n"). */
void ht_jr_config(hjt *t, const char *extra);

/* Start hermes-journal -c conf; wait for READY=1 when wait_ready (10 s). */
void ht_jr_start(hjt *t, bool wait_ready);

/* SIGTERM and reap (must exit 0); SIGKILL and reap. */
void ht_jr_stop(hjt *t);
void ht_jr_kill(hjt *t);

/* Wait until the journal's next sequence (read from the journal files
 * themselves) is `next`, within timeout_ms. Returns true when it is. */
bool ht_jr_wait_journaled(hjt *t, uint64_t next, int timeout_ms);

/* The recorder's counters (NULL when the file is not there yet). */
const hm_rec_stats *ht_jr_stats(hjt *t);

/* Publish message i (ht_jr_fill's payload, sequence i) for i in [from, to) on
 * pub, any bus (t is not used: NULL is fine). */
void ht_jr_publish(hjt *t, hermes_pub *pub, uint64_t from, uint64_t to);

/* A publisher on t's ring (fails the test when it cannot be opened). */
hermes_pub *ht_jr_pub(hjt *t);

/* Open a publisher on t's ring, publish messages [from, to) as
 * ht_jr_publish, close it. */
void ht_jr_send(hjt *t, uint64_t from, uint64_t to);

/* ht_jr_publish on pub, then wait until the journal holds everything before
 * `to` (ht_jr_wait_journaled within timeout_ms); fails the test when it does
 * not. ht_jr_record does the same with a publisher of its own (ht_jr_send). */
void ht_jr_publish_journaled(hjt *t, hermes_pub *pub, uint64_t from, uint64_t to, int timeout_ms);
void ht_jr_record(hjt *t, uint64_t from, uint64_t to, int timeout_ms);

/* A finished journal of messages [0, n): ht_jr_begin, ht_jr_record (10 s), and
 * the recorder stopped. */
void ht_jr_journal(hjt *t, const char *tag, uint64_t capacity, const char *conf, uint64_t n);

/* The sequence a subscriber joining t's ring at `start` would read next
 * (HERMES_START_LATEST: the ring's tail; HERMES_START_EARLIEST: the oldest
 * message it holds). */
uint64_t ht_jr_ring_seq(hjt *t, hermes_start start);

/* A producer process for ht_fork: attaches to bus, publishes messages
 * [from, to) of ht_jr_publish into ring, exits 0 (else 2 or 3). */
typedef struct ht_jr_producer {
	const char *bus;
	const char *ring;
	uint64_t from, to;
} ht_jr_producer;
int ht_jr_produce(void *producer);

/* Write message seq of ht_jr_publish into p (128 bytes); returns its length. */
uint32_t ht_jr_fill(uint8_t *p, uint64_t seq);

/* Check a message's payload is message seq of ht_jr_publish. */
bool ht_jr_msg_ok(const void *data, uint32_t len, uint64_t seq);

/* Read the whole journal from `from` and verify every sequence up to `to`
 * is there once, in order, intact, with nothing lost, corrupt or gapped. */
void ht_jr_verify_journal(hjt *t, uint64_t from, uint64_t to);

/* The path of t's oldest journal file in path (len bytes); returns the first
 * sequence of the file after it (fails the test when there are fewer than
 * two files). */
uint64_t ht_jr_oldest_file(hjt *t, char *path, size_t len);

/* Damage the journal file of dir whose first sequence is `first` in place,
 * as a bad disk would: flip the bits `mask` of payload byte `at` of message
 * seq (which the file must hold). */
void ht_jr_flip(const char *dir, uint64_t first, uint64_t seq, uint32_t at, uint8_t mask);

/* Stop everything started, remove segment, run and journal directories;
 * fails the test when a handle on the bus was left open or hermesd did not
 * stop cleanly (ht_bus_teardown). */
void ht_jr_cleanup(hjt *t);

#endif
