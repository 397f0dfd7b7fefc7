/* Running a daemon (hermesd, hermes-bridge, hermes-nats, hermes-journal):
 * the steps after the configuration (daemon/cli.h) that every daemon takes
 * the same way: its log level and signals, waiting for its bus, waiting to
 * be told to stop. Not part of libhermes-ipc. */
#ifndef HERMES_DAEMON_RUN_H
#define HERMES_DAEMON_RUN_H

#include <signal.h>

#include <hermes/bus.h>

/* How long one wait for the bus lasts before it is tried again, and how
 * often a daemon still waiting says so. */
#define HM_DAEMON_ATTACH_RETRY_MS 200
#define HM_DAEMON_ATTACH_LOG_MS 10000

/* Before starting threads: the --log-level (daemon/log.h), and SIGTERM,
 * SIGINT and SIGHUP blocked and put in *sigs (hm_signals_block), so that
 * threads started from then on leave them to the thread that waits. */
void hm_daemon_start(int log_level, sigset_t *sigs);

/* Attach to bus, waiting while it does not exist or is not ready (hermesd
 * not started yet), with a warning at once and every
 * HM_DAEMON_ATTACH_LOG_MS. Returns HERMES_OK with *out set, HERMES_ECLOSED
 * when SIGTERM, SIGINT or SIGHUP came while it waited, or the error
 * hermes_bus_attach returned (logged). Blocks. */
hermes_err hm_daemon_attach(const char *bus, const sigset_t *sigs, hermes_bus **out);

/* Wait for SIGTERM or SIGINT (logged: "stopping (signal N)") and return 0.
 * With tick, wait at most tick_ms at a time and call tick(arg) after each
 * wait; a tick that returns non-zero ends the wait with that status. SIGHUP
 * is logged and ignored ("restart NAME to change its rings"). */
int hm_daemon_wait_stop(const sigset_t *sigs, int tick_ms, int (*tick)(void *arg), void *arg);

#endif
