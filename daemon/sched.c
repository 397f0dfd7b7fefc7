/* Scheduling of a daemon (see sched.h). */
#include "daemon/sched.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_detail.h"
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
		if (*end == ',' && end[1]) /* a comma, then another entry */
			end++;
		else if (*end)
			return false;
		s = end;
	}
	return true;
}

/* HERMES_OK, or the error of the step that failed, which the detail names. */
static hermes_err apply(const cpu_set_t *cpus, int rt_priority)
{
	if (cpus && sched_setaffinity(0, sizeof *cpus, cpus) != 0)
		return hm_fail(hm_errno_to_err(errno), "cpu affinity not applied: %s", strerror(errno));
	if (rt_priority > 0) {
		struct sched_param sp = {.sched_priority = rt_priority};
		if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0)
			return hm_fail(hm_errno_to_err(errno),
				       "rt priority (needs CAP_SYS_NICE or an rtprio limit) not applied: %s",
				       strerror(errno));
	}
	return HERMES_OK;
}

hermes_err hm_apply_scheduling(const cpu_set_t *cpus, int rt_priority)
{
	hermes_err err = apply(cpus, rt_priority);
	if (err)
		hm_dlog(HM_DLOG_WARN, "%s", hermes_last_error_detail());
	return err;
}
