/* Running a daemon (see run.h). */
#include "daemon/run.h"

#include <errno.h>
#include <stdint.h>
#include <time.h>

#include <hermes/error.h>

#include "core/futex.h"
#include "daemon/log.h"
#include "daemon/signals.h"

#define NS_PER_MS 1000000ll

void hm_daemon_start(int log_level, sigset_t *sigs)
{
	hm_dlog_set_level(log_level);
	hm_signals_block(sigs);
}

static struct timespec ms_timespec(int ms)
{
	return (struct timespec){.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * NS_PER_MS};
}

hermes_err hm_daemon_attach(const char *bus, const sigset_t *sigs, hermes_bus **out)
{
	uint64_t next_log = 0;
	for (;;) {
		hermes_err err = hermes_bus_attach(bus, out);
		if (err == HERMES_OK)
			return HERMES_OK;
		if (err != HERMES_ENOENT && err != HERMES_ENOTREADY) {
			hm_dlog(HM_DLOG_ERROR, "cannot attach to bus '%s': %s (%s)", bus,
				hermes_strerror(err), hermes_last_error_detail());
			return err;
		}
		uint64_t now = hm_now_ns();
		if (now >= next_log) {
			hm_dlog(HM_DLOG_WARN, "bus '%s': %s (is hermesd running?); waiting", bus,
				hermes_strerror(err));
			next_log = now + (uint64_t)HM_DAEMON_ATTACH_LOG_MS * NS_PER_MS;
		}
		struct timespec ts = ms_timespec(HM_DAEMON_ATTACH_RETRY_MS);
		if (sigtimedwait(sigs, NULL, &ts) > 0)
			return HERMES_ECLOSED;
	}
}

int hm_daemon_wait_stop(const sigset_t *sigs, int tick_ms, int (*tick)(void *arg), void *arg)
{
	for (;;) {
		int sig;
		if (tick) {
			struct timespec ts = ms_timespec(tick_ms);
			sig = sigtimedwait(sigs, NULL, &ts);
			int rc = tick(arg);
			if (rc != 0)
				return rc;
		} else {
			sig = sigwaitinfo(sigs, NULL);
		}
		if (sig == SIGTERM || sig == SIGINT) {
			hm_dlog(HM_DLOG_INFO, "stopping (signal %d)", sig);
			return 0;
		}
		if (sig == SIGHUP)
			hm_dlog(HM_DLOG_INFO, "SIGHUP ignored: restart %s to change its rings",
				program_invocation_short_name);
	}
}
