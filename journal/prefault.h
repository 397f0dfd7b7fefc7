/* A thread that keeps a writable shared file mapping faulted in ahead of its
 * writer's tail (MADV_POPULATE_WRITE, in chunks), so the writer's appends
 * land on pages the kernel has already allocated, zeroed and mapped: the
 * page-cache work that paces the recorder (bench/README.md, "Journal") moves
 * off the writer's thread. It changes no byte of the file: populating a
 * page only makes it present, so the file's contents and every crash
 * guarantee are what the writer alone makes them.
 *
 * One writer thread drives it (hm_prefault_map, hm_prefault_tail,
 * hm_prefault_unmap are not safe to call from two threads at once). */
#ifndef HM_PREFAULT_H
#define HM_PREFAULT_H

#include <stdbool.h>
#include <stdint.h>

#include <hermes/error.h>

/* Bytes faulted in by one madvise: small enough that a writer that drops
 * the mapping never waits for one, large enough that the system calls cost
 * nothing per message. Also how far the tail moves between wake-ups. */
#define HM_PREFAULT_CHUNK (512u << 10)

typedef struct hm_prefault hm_prefault;

/* Start the thread; it keeps up to `ahead` bytes past the tail faulted in
 * (rounded up to HM_PREFAULT_CHUNK). Errors: HERMES_EINVAL (ahead 0),
 * HERMES_ENOMEM, HERMES_ESYS (no thread). */
hermes_err hm_prefault_start(uint64_t ahead, hm_prefault **out);

/* Fault in map (size bytes) up to `ahead` past the writer's tail, from
 * `done` on (what is before it is present already: written, or faulted in by
 * the writer). The previous mapping, if any, must have been passed to
 * hm_prefault_unmap first. */
void hm_prefault_map(hm_prefault *p, uint8_t *map, uint64_t size, uint64_t tail, uint64_t done);

/* The writer's tail in the current mapping moved to `tail`. Cheap: a store,
 * and a wake-up (futex) only when the thread sleeps and the tail entered a
 * new chunk. */
void hm_prefault_tail(hm_prefault *p, uint64_t tail);

/* Stop faulting map in and unmap it: on the thread, soon (the writer never
 * waits for it, and no other mapping can take its addresses meanwhile;
 * when the thread is inside a madvise on it, once that returns), or now on
 * the caller's thread when the thread has another mapping to unmap still. */
void hm_prefault_unmap(hm_prefault *p, uint8_t *map, uint64_t size);

/* How many mappings the thread has unmapped (hm_prefault_unmap). */
uint64_t hm_prefault_unmapped(const hm_prefault *p);

/* How far the current mapping is faulted in (bytes from its start). */
uint64_t hm_prefault_done(const hm_prefault *p);

/* Make the writer's next file ahead, on the thread, so that roll-over finds
 * it ready: create `path` (a temporary name the writer's recovery removes:
 * ".NAME.tmp"), reserve its `size` bytes with posix_fallocate, map it shared
 * and writable and fault in its first `ahead` bytes (capped at size). It is
 * made before any further chunk of the current mapping; its own chunks come
 * once the current mapping is faulted in as far as it should be. The file stays all zeros: nothing is written to
 * it. One at a time: a call while a file is asked for, being made or ready
 * does nothing. A failure (a full disk) is not reported here: the file is
 * removed and hm_prefault_take finds none, so the writer makes the file
 * itself and reports the error as it would have without this. */
void hm_prefault_prepare(hm_prefault *p, const char *path, uint64_t size);

/* Take the prepared file: true with its descriptor, its mapping (size
 * bytes as asked) and how far it is faulted in, now the caller's, still
 * under the temporary name; false when there is none: the caller makes its
 * file itself. Waits only while the thread is creating it right then: the
 * caller's own work, already under way (and two files made at once could
 * each find no room on a disk with room for one). A request the thread has
 * not started is dropped, for the same reason. After it returns,
 * hm_prefault_prepare may be called again. */
bool hm_prefault_take(hm_prefault *p, int *fd, uint8_t **map, uint64_t *done);

/* Whether a prepared file is ready to take (hm_prefault_take would give
 * it), and *done, how much of it is faulted in. */
bool hm_prefault_next_ready(hm_prefault *p, uint64_t *done);

/* Whether a file asked for is still on its way: asked and neither made nor
 * given up (the thread has not started on it, or is creating it). */
bool hm_prefault_next_pending(hm_prefault *p);

/* Stop and join the thread (after unmapping what it still had to; a
 * prepared file nobody took is unmapped, closed and deleted). NULL is
 * allowed. */
void hm_prefault_stop(hm_prefault *p);

#endif
