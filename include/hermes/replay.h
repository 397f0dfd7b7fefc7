/* Hermes replay: read a ring from any sequence, from its journal on disk
 * while the journal has it, then from the live ring, with no gap and no
 * duplicate at the hand-over.
 *
 * A ring is journaled by hermes-journal (its `journal = DIR` setting). A
 * replay reads the journal's memory-mapped files in place (zero-copy: a
 * message's data points into the mapping) and, when it reaches the end of
 * what is journaled, opens a live subscriber at exactly the next sequence
 * (HERMES_START_SEQ) and goes on from the ring. If the ring no longer holds
 * that sequence (an overwrite ring lapped it), the replay first looks in the
 * journal again, which the recorder may have extended meanwhile, and only
 * then reports the loss.
 *
 * Results are those of hermes_sub_poll, plus:
 *   HERMES_EBADSEGMENT: a journal record failed its checksum; msg->seq is its
 *     first sequence and msg->lost how many sequences it covers. Nothing of
 *     it is delivered; the next poll goes on after it.
 *   HERMES_ELOST: msg->seq is the first sequence neither the journal nor the
 *     ring has (retention dropped it, or the recorder could not record it),
 *     msg->lost how many.
 * Gaps (sequences aborted or repaired on the ring) are reported in
 * msg->gap of the next message, as on the live ring.
 *
 * Thread-safety: a hermes_replay is used by one thread at a time, like a
 * hermes_sub. Any number may read the same journal, also while the recorder
 * writes it. Nothing here writes to the journal.
 */
#ifndef HERMES_REPLAY_H
#define HERMES_REPLAY_H

#include <stdint.h>

#include <hermes/bus.h>
#include <hermes/error.h>
#include <hermes/export.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hermes_replay hermes_replay;

/* Open a replay of `ring` from sequence `seq`, reading the journal in
 * directory `dir` (the ring's `journal =` setting). With bus != NULL the
 * replay hands over to the live ring when the journal runs out; with NULL it
 * reads the journal only (HERMES_EAGAIN at its end, until more is recorded).
 * Errors: HERMES_EINVAL (NULL ring or dir), HERMES_ENOENT (no such
 * directory), HERMES_ENOMEM, HERMES_ESYS. The bus must outlive the replay.
 * Control path: allocates, does not block. */
HERMES_API hermes_err hermes_replay_open(hermes_bus *bus, const char *ring, const char *dir,
					 uint64_t seq, hermes_replay **out);

/* Close the replay: its live subscriber (if any) is closed, its mappings
 * released. NULL is ignored. */
HERMES_API void hermes_replay_close(hermes_replay *r);

/* The next message, without copying: HERMES_OK with *msg filled,
 * HERMES_EAGAIN when there is none yet, HERMES_ELOST or HERMES_EBADSEGMENT
 * as described above. msg->data stays valid until hermes_replay_release.
 * Never blocks. */
HERMES_API hermes_err hermes_replay_poll(hermes_replay *r, hermes_msg *msg);

/* Release what was polled so far (as hermes_sub_release; on a block ring the
 * live subscriber holds producers back until then). */
HERMES_API hermes_err hermes_replay_release(hermes_replay *r);

/* Wait until a poll would return something or timeout_ns passes (negative =
 * no limit). Live: as hermes_sub_wait. From the journal: checks for new
 * records every 100 us to 1 ms. Returns HERMES_OK, HERMES_ETIMEDOUT, or
 * HERMES_ECLOSED (the ring was deleted). */
HERMES_API hermes_err hermes_replay_wait(hermes_replay *r, hermes_wait_mode mode, int64_t timeout_ns);

/* 1 once the replay reads the live ring, 0 while it reads the journal. */
HERMES_API int hermes_replay_is_live(const hermes_replay *r);

/* The sequence the replay will deliver next. */
HERMES_API uint64_t hermes_replay_next_seq(const hermes_replay *r);

#ifdef __cplusplus
}
#endif

#endif
