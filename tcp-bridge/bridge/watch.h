/* The ring watcher: how an idle bridge learns, without spinning and without
 * a timer, that a ring it streams to remote subscribers has a new message.
 *
 * One helper thread sleeps in futex_waitv(2) on the eventcount futex of every
 * ring that has an armed feed (the same word hermes_sub_wait sleeps on, so
 * producers wake it exactly as they wake a local subscriber), plus a private
 * control futex of its own. When a watched slot shows a message it tells the
 * event loop through an eventfd. docs/ARCHITECTURE.md ("The bridge") says why
 * this design. The loop arms a feed once it has drained it and collects the
 * fired ones after the eventfd turns readable.
 *
 * Thread-safety: hm_watch_arm/disarm/collect/slot_* are called by the loop
 * thread only; the watcher thread shares the table with it under a mutex. */
#ifndef HM_BRIDGE_WATCH_H
#define HM_BRIDGE_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include <hermes/error.h>

#include "shm/ring.h"

#define HM_WATCH_SLOTS 4096u

typedef struct hm_watch hm_watch;

/* Start the watcher thread into *out. HERMES_OK; else *out is NULL and the
 * error of the system call, with the detail "cannot start the ring watcher:
 * REASON". */
hermes_err hm_watch_create(hm_watch **out);
/* Stop and join the thread; free everything. */
void hm_watch_destroy(hm_watch *w);

/* The eventfd to put in epoll (readable when feeds fired). */
int hm_watch_fd(const hm_watch *w);

/* A slot for one feed, or -1 when all HM_WATCH_SLOTS are taken. */
int hm_watch_slot_alloc(hm_watch *w);
/* Give the slot back; it is disarmed and will not be reported again. Returns
 * once the watcher no longer announces the slot's subscriber bit (waking it
 * and waiting for its round to end if need be): only then may the feed close
 * its subscriber slot, which another may take and announce at once. */
void hm_watch_slot_free(hm_watch *w, int slot);

/* Report slot when ring has a message (or an abandoned record, or was
 * lapped past) at sequence seq, or was deleted. May fire at once. sub_index:
 * the feed's subscriber slot, whose bit announces the watcher as a sleeper. */
void hm_watch_arm(hm_watch *w, int slot, const hm_ring *ring, unsigned sub_index, uint64_t seq);
void hm_watch_disarm(hm_watch *w, int slot);

/* The slots that fired since the last call (at most max), in slots; each is
 * disarmed. Also drains the eventfd. */
unsigned hm_watch_collect(hm_watch *w, int *slots, unsigned max);

/* Did futex_waitv work (false: kernel older than 5.16; the watcher then
 * checks every 5 ms and logs nothing itself). */
bool hm_watch_precise(const hm_watch *w);

#endif
