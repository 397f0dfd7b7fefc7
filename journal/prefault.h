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

/* Stop faulting map in and unmap it: now, or, when the thread is inside a
 * madvise on it, by the thread as soon as that returns (the writer never
 * waits for it, and no other mapping can take its addresses meanwhile). */
void hm_prefault_unmap(hm_prefault *p, uint8_t *map, uint64_t size);

/* How far the current mapping is faulted in (bytes from its start). */
uint64_t hm_prefault_done(const hm_prefault *p);

/* Stop and join the thread (after unmapping what it still had to). NULL is
 * allowed. */
void hm_prefault_stop(hm_prefault *p);

#endif
