/* Scheduling of a daemon: the cpus = and rt_priority = settings of
 * hermesd and hermes-bridge. Not part of libhermes-ipc: an application
 * schedules itself. */
#ifndef HERMES_DAEMON_SCHED_H
#define HERMES_DAEMON_SCHED_H

#include <sched.h>
#include <stdbool.h>

/* "0,2-3" -> set; false on syntax errors or CPUs beyond CPU_SETSIZE. */
bool hm_parse_cpus(const char *s, cpu_set_t *set);

/* Pin this process to cpus (when given) and run it with SCHED_FIFO priority
 * rt_priority (when > 0). A step that fails ("cpu affinity" or "rt
 * priority") is logged as a warning (daemon/log.h) and the daemon goes on:
 * scheduling is an optimisation, not a requirement. Returns 0, or -1 with
 * errno when a step failed. */
int hm_apply_scheduling(const cpu_set_t *cpus, int rt_priority);

#endif
