/* The test kit's processes: start a program under test with its output in a
 * log, wait for its readiness notification, stop it (SIGTERM, deadline) or
 * kill it (SIGKILL), always by pid and always reaped. hermesd (daemon.h),
 * hermes-bridge (bridge_support.h) and nats-server/hermes-nats
 * (nats_harness.h) are started through these. */
#ifndef HM_TEST_PROCESS_H
#define HM_TEST_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* What to start. stdout and stderr go to log (appended; NULL: they stay the
 * test's), except that stdout goes to out when out is not NULL (the file
 * truncated first: a command's output the test reads back), and stderr too
 * when err_to_out;
 * NOTIFY_SOCKET is set to notify, or cleared when notify is NULL;
 * HERMES_BUS is cleared; prepare (may be NULL) runs in the child just before
 * exec, for the program's own environment and limits. path NULL:
 * execvp(argv[0]). */
typedef struct ht_spawn_spec {
	const char *path;
	const char *const *argv;
	const char *log;
	const char *notify;
	void (*prepare)(void);
	const char *out;
	bool err_to_out;
} ht_spawn_spec;

/* Fork and exec; fails the test when fork fails. The child exits 127 when
 * exec fails. */
pid_t ht_spawn(const ht_spawn_spec *s);

/* Run to completion: ht_spawn, then wait for the exit within timeout_ms
 * (past it: SIGKILL and fail the test). Returns the exit status, or -1 when
 * it ended by a signal. */
int ht_run(const ht_spawn_spec *s, int timeout_ms);

/* A datagram socket bound at path (replacing a stale one) for a child's
 * sd_notify messages; fails the test on error. */
int ht_notify_open(const char *path);

typedef enum ht_ready {
	HT_READY,   /* READY=1 came; msg holds the whole message */
	HT_EXITED,  /* the child exited first; *status is its wait status */
	HT_TIMEOUT, /* no READY=1 within timeout_ms; the child was killed */
} ht_ready;

/* Wait for a READY=1 message from *pid on notify_fd, polling for its exit
 * too. On HT_EXITED and HT_TIMEOUT the child has been reaped and *pid is 0. */
ht_ready ht_wait_ready(int notify_fd, pid_t *pid, int timeout_ms, char *msg, size_t cap,
		       int *status);

/* ht_wait_ready that fails the test unless READY=1 comes: naming `what`
 * (e.g. "hermesd") and showing its log (ht_file_dump) when it exited first
 * or did not report in time. */
void ht_await_ready(int notify_fd, pid_t *pid, int timeout_ms, const char *what, const char *log);

/* SIGTERM *pid (> 0) and reap it within timeout_ms (past it: SIGKILL and
 * fail the test); *pid becomes 0. Returns the wait status. */
int ht_proc_terminate(pid_t *pid, int timeout_ms);

/* Stop a program under test: unless *pid is 0 (not running), SIGTERM and
 * reap it within timeout_ms, and fail the test (naming `what`, showing its
 * log) unless it exited with status 0. *pid becomes 0. */
void ht_proc_stop(pid_t *pid, int timeout_ms, const char *what, const char *log);

/* SIGKILL and reap *pid unless it is 0 (nothing running); *pid becomes 0. */
void ht_proc_kill(pid_t *pid);

/* A kB field of /proc/PID/status (field with its colon, "VmLck:"); -1
 * when the process or the field is not there. */
long ht_proc_status_kb(pid_t pid, const char *field);

#endif
