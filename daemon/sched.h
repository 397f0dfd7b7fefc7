/* Scheduling of a daemon: the cpus = and rt_priority = settings of
 * hermesd and hermes-bridge. Not part of libhermes-ipc: an application
 * schedules itself. */
#ifndef HERMES_DAEMON_SCHED_H
#define HERMES_DAEMON_SCHED_H

#include <sched.h>
#include <stdbool.h>

#include <hermes/error.h>

/* "0,2-3" -> set; false on syntax errors or CPUs beyond CPU_SETSIZE. */
bool hm_parse_cpus(const char *s, cpu_set_t *set);

/* Pin this process to cpus (when given) and run it with SCHED_FIFO priority
 * rt_priority (when > 0). A step that fails ("cpu affinity" or "rt
 * priority") is logged as a warning (daemon/log.h) and the daemon goes on:
 * scheduling is an optimisation, not a requirement. HERMES_OK, or the
 * failed step's error with "STEP not applied: REASON" in the detail. */
hermes_err hm_apply_scheduling(const cpu_set_t *cpus, int rt_priority);

#endif
