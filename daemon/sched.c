/* Scheduling of a daemon (see sched.h). */
#include "daemon/sched.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/log.h"

bool hm_parse_cpus(const char *s, cpu_set_t *set)
{
	CPU_ZERO(set);
	if (!s || !*s)
		return false;
	while (*s) {
		char *end;
		if (!isdigit((unsigned char)*s))
			return false;
		unsigned long a = strtoul(s, &end, 10), b = a;
		if (*end == '-') {
			if (!isdigit((unsigned char)end[1]))
				return false;
			b = strtoul(end + 1, &end, 10);
		}
		if (b < a || b >= CPU_SETSIZE)
			return false;
		for (unsigned long i = a; i <= b; i++)
			CPU_SET(i, set);
		if (*end == ',')
			end++;
		else if (*end)
			return false;
		s = end;
	}
	return true;
}

/* Returns 0, or -1 with errno and *what naming the step that failed. */
static int apply(const cpu_set_t *cpus, int rt_priority, const char **what)
{
	if (cpus && sched_setaffinity(0, sizeof *cpus, cpus) != 0) {
		*what = "cpu affinity";
		return -1;
	}
	if (rt_priority > 0) {
		struct sched_param sp = {.sched_priority = rt_priority};
		if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0) {
			*what = "rt priority (needs CAP_SYS_NICE or an rtprio limit)";
			return -1;
		}
	}
	return 0;
}

int hm_apply_scheduling(const cpu_set_t *cpus, int rt_priority)
{
	const char *what = "";
	if (apply(cpus, rt_priority, &what) == 0)
		return 0;
	int e = errno;
	hm_dlog(HM_DLOG_WARN, "%s not applied: %s", what, strerror(e));
	errno = e;
	return -1;
}
