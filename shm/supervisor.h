/* The supervisor's repair pass: find producer and subscriber slots whose
 * owning process is dead, repair what they held, free the slots. */
#ifndef HM_SUPERVISOR_H
#define HM_SUPERVISOR_H

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

/* One pass over every ring of the bus (ready or deleted). Returns how many
 * dead producers could not be repaired yet (a live producer races for the
 * same claim): call again shortly. */
unsigned hm_sup_scan(hermes_bus *bus, hm_sup_counters *counters, hm_sup_log_fn log);

#endif
