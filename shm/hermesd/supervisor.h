/* The supervisor's repair pass: find producer and subscriber slots whose
 * owning process is dead, repair what they held, free the slots. */
#ifndef HM_SUPERVISOR_H
#define HM_SUPERVISOR_H

#include <stdbool.h>
#include <stdint.h>

#include "shm/segment.h"

typedef struct hm_sup_counters {
	uint64_t producers_repaired;   /* dead producers' slots freed */
	uint64_t messages_repaired;    /* sequences marked abandoned */
	uint64_t subscribers_released; /* dead subscribers' cursors freed */
	uint64_t corrupt_mask;	       /* directory indexes quarantined now */
	uint64_t corrupt_events;       /* rings found corrupt, in total */
} hm_sup_counters;

typedef void (*hm_sup_log_fn)(int level, const char *fmt, ...);

/* Producer and subscriber slots that clients registered over their control
 * connections (bit k of prods[i]: producer slot k of ring i). */
typedef struct hm_sup_watch {
	uint64_t prods[HM_MAX_RINGS];
	uint64_t subs[HM_MAX_RINGS];
} hm_sup_watch;

/* One pass over every ring of the bus (ready or deleted): validates each
 * (quarantining corrupt ones) and, with by_pid, frees slots whose owner pid
 * is dead by the pid recorded in the slot, except the `watched` ones, which
 * hm_sup_release frees when the kernel says their process died. Returns how
 * many dead producers could not be repaired yet (a live producer races for
 * the same claim): call again shortly. */
unsigned hm_sup_scan(hermes_bus *bus, hm_sup_counters *counters, hm_sup_log_fn log,
		     const hm_sup_watch *watched, bool by_pid);

/* The process that registered slot `slot` (producer, or subscriber with
 * `sub`) of ring `ring` with owner value `owner` is dead: free the slot
 * (repairing a producer's claim) if it still holds that owner. Returns 1
 * when done (or nothing to do), 0 when a producer repair must be retried. */
int hm_sup_release(hermes_bus *bus, uint32_t ring, bool sub, uint32_t slot, uint64_t owner,
		   hm_sup_counters *counters, hm_sup_log_fn log);

#endif
