/* Run the real hermesd from tests: start it on a private bus and run
 * directory, wait for its readiness notification, stop or kill it by pid;
 * and hermes-ctl against its bus. */
#ifndef HM_TEST_DAEMON_H
#define HM_TEST_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct ht_daemon {
	pid_t pid;
	char bus[64];
	char run_dir[128];
	char log[192];
	char notify[192];
	char conf[192]; /* ht_daemon_start_config's file */
	int notify_fd;
} ht_daemon;

/* The hermesd binary under test. */
const char *ht_hermesd_path(void);

/* Prepare names: a unique bus and a fresh run directory (mode 0755). */
void ht_daemon_init(ht_daemon *d, const char *tag);

/* Start hermesd --bus d->bus --run-dir d->run_dir plus extra arguments (NULL
 * terminated), with stderr to d->log; wait (10 s deadline) for READY=1 on
 * its NOTIFY_SOCKET. Fails the test if it does not come up. */
void ht_daemon_start(ht_daemon *d, const char *const *extra);

/* Cut d's segment file to `size` bytes under the running hermesd, as a
 * careless operator could; fails the test when the file cannot be opened. */
void ht_daemon_truncate(const ht_daemon *d, off_t size);

/* Wait (timeout_ms; past it: SIGKILL and fail the test) for hermesd to exit
 * by itself; its wait status. d->pid becomes 0. */
int ht_daemon_wait_exit(ht_daemon *d, int timeout_ms);

/* Attach to d's bus (hermes_bus_attach); fails the test, with the error's
 * detail and d->log, when it cannot. Detach with hermes_bus_detach. */
struct hermes_bus *ht_daemon_attach(const ht_daemon *d);

/* Write config as d->conf (d->run_dir/hermesd.conf) and start hermesd with
 * --config d->conf (ht_daemon_start); config NULL: d->conf as it stands (a
 * restart). A test rewrites d->conf and sends SIGHUP to reload. */
void ht_daemon_start_config(ht_daemon *d, const char *config);

/* Run hermesd to completion with the given arguments (bus and run dir are
 * not added), stderr to d->log; returns its exit status (or -1). */
int ht_daemon_run(ht_daemon *d, const char *const *args, int timeout_ms);

/* Run hermes-ctl --bus d->bus with args (NULL terminated) to completion
 * within timeout_ms: its stdout into the file out (made afresh), and its
 * stderr too when with_stderr (else stderr stays the test's). Returns its
 * exit status, -1 when a signal ended it. */
int ht_ctl_run(const ht_daemon *d, const char *const *args, const char *out, bool with_stderr,
	       int timeout_ms);

/* ht_ctl_run with stdout and stderr into d->run_dir/ctl.out (15 s deadline),
 * then that output into buf (NUL terminated, cut at cap - 1 bytes). */
int ht_ctl(const ht_daemon *d, const char *const *args, char *buf, size_t cap);

/* SIGTERM and reap (fails the test after 10 s). */
void ht_daemon_stop(ht_daemon *d);

/* SIGKILL and reap. */
void ht_daemon_kill(ht_daemon *d);

/* Stop if running, remove the segment and the run directory. */
void ht_daemon_cleanup(ht_daemon *d);

/* cmocka set-up and teardown around one hermesd per test, for tests that
 * give their ht_daemon as the initial state
 * (cmocka_unit_test_prestate_setup_teardown(test, ht_daemon_setup,
 * ht_daemon_teardown, &d)): ht_daemon_init, and ht_daemon_cleanup. */
int ht_daemon_setup(void **state);
int ht_daemon_teardown(void **state);

/* Does d->log contain needle? */
int ht_daemon_log_has(const ht_daemon *d, const char *needle);

/* How many lines of d->log contain needle. */
int ht_daemon_log_count(const ht_daemon *d, const char *needle);

/* Wait until at least `count` lines of d->log contain needle (deadline
 * timeout_ms); true when they do. */
int ht_daemon_wait_log(const ht_daemon *d, const char *needle, int count, int timeout_ms);

/* Is d->pid still running (not exited, not a zombie we have not reaped)? */
int ht_daemon_alive(const ht_daemon *d);

#endif
