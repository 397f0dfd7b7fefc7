/* Facts about processes, from /proc: start times (to tell a pid apart from a
 * later process that reused it), liveness, names. */
#ifndef HM_PROC_H
#define HM_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Start time of pid in clock ticks since boot (field 22 of /proc/PID/stat);
 * pid 0 means this process (cached, and re-read after fork). 0 when the
 * process does not exist. */
uint64_t hm_proc_start_time(pid_t pid);

/* Is pid a live process that started at `start` (0: any start)? Zombies
 * count as dead: they will never run again. */
bool hm_proc_alive(pid_t pid, uint64_t start);

/* The process's command name (/proc/PID/comm), or "?" . */
void hm_proc_comm(pid_t pid, char *buf, size_t len);

/* The rest of the line of /proc/PID/status that starts with key (such as
 * "NSpid:" or "RssAnon:") into line[len] (256 holds any of its lines but the
 * long lists); false when the process or the line is not there. */
bool hm_proc_status(pid_t pid, const char *key, char *line, size_t len);

#endif
