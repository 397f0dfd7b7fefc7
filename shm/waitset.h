/* Wait sets (hermes_waitset_*, include/hermes/bus.h): one thread waiting on
 * many rings and descriptors. The public calls are the interface; this header
 * only adds what tests need to reach the paths a given kernel does not take.
 * docs/ARCHITECTURE.md ("Wait sets") describes the design. */
#ifndef HM_WAITSET_H
#define HM_WAITSET_H

#include <stdbool.h>

#include <hermes/bus.h>

/* Tests: behave as on a kernel without futex_waitv (sleep on one ring's
 * word at a time, each sleep bounded), for this set and its helper thread.
 * Call before the first wait. */
void hm_waitset_force_fallback(hermes_waitset *ws, bool on);

#endif
