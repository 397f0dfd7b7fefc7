#include "tests/support/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hermes/bus.h>

#include "tests/support/process.h"
#include "tests/support/testing.h"

#ifndef HERMESD_PATH
#error "HERMESD_PATH must name the hermesd binary"
#endif

const char *ht_hermesd_path(void)
{
	return HERMESD_PATH;
}

void ht_daemon_init(ht_daemon *d, const char *tag)
{
	memset(d, 0, sizeof *d);
	d->notify_fd = -1;
	ht_unique_name(d->bus, sizeof d->bus, tag);
	snprintf(d->run_dir, sizeof d->run_dir, "/tmp/hermes-test-XXXXXX");
	if (!mkdtemp(d->run_dir))
		fail_msg("mkdtemp: %s", strerror(errno));
	chmod(d->run_dir, 0755);
	snprintf(d->log, sizeof d->log, "%s/hermesd.log", d->run_dir);
	snprintf(d->notify, sizeof d->notify, "%s/notify", d->run_dir);
}

/* hermesd reads its run directory from the environment too; the test's
 * --run-dir must be the one it uses. */
static void daemon_env(void)
{
	unsetenv("HERMES_RUN_DIR");
}

static pid_t spawn(ht_daemon *d, const char *const *argv, bool notify)
{
	ht_spawn_spec s = {.path = HERMESD_PATH, .argv = argv, .log = d->log,
			   .notify = notify ? d->notify : NULL, .prepare = daemon_env};
	return ht_spawn(&s);
}

void ht_daemon_start(ht_daemon *d, const char *const *extra)
{
	const char *argv[32] = {"hermesd", "--bus", d->bus, "--run-dir", d->run_dir};
	int n = 5;
	for (; extra && *extra && n < 31; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	if (d->notify_fd < 0)
		d->notify_fd = ht_notify_open(d->notify);
	d->pid = spawn(d, argv, true);
	char msg[64];
	int st = 0;
	switch (ht_wait_ready(d->notify_fd, &d->pid, 10000, msg, sizeof msg, &st)) {
	case HT_READY:
		return;
	case HT_EXITED:
		fail_msg("hermesd exited during start-up (status %d); see %s", st, d->log);
		break;
	case HT_TIMEOUT:
		fail_msg("hermesd did not report READY=1 within 10 s; see %s", d->log);
		break;
	}
}

int ht_daemon_run(ht_daemon *d, const char *const *args, int timeout_ms)
{
	pid_t pid = spawn(d, args, false);
	int st = ht_wait_child(pid, timeout_ms);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void ht_daemon_stop(ht_daemon *d)
{
	if (d->pid <= 0)
		return;
	int st = ht_proc_terminate(&d->pid, 10000);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("hermesd did not stop cleanly (status %d); see %s", st, d->log);
}

void ht_daemon_kill(ht_daemon *d)
{
	ht_proc_kill(&d->pid);
}

void ht_daemon_cleanup(ht_daemon *d)
{
	ht_daemon_kill(d);
	if (d->notify_fd >= 0)
		close(d->notify_fd);
	d->notify_fd = -1;
	hermes_bus_unlink(d->bus);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", d->run_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", d->run_dir);
}

int ht_daemon_log_count(const ht_daemon *d, const char *needle)
{
	FILE *f = fopen(d->log, "re");
	if (!f)
		return 0;
	char line[1024];
	int found = 0;
	while (fgets(line, sizeof line, f))
		found += strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

int ht_daemon_log_has(const ht_daemon *d, const char *needle)
{
	return ht_daemon_log_count(d, needle) > 0;
}

int ht_daemon_wait_log(const ht_daemon *d, const char *needle, int count, int timeout_ms)
{
	uint64_t deadline = ht_now_ns() + (uint64_t)timeout_ms * 1000000u;
	while (ht_daemon_log_count(d, needle) < count) {
		if (ht_now_ns() > deadline)
			return 0;
		/* A poll interval while the daemon works toward the line. */
		struct timespec nap = {0, 2000000};
		nanosleep(&nap, NULL);
	}
	return 1;
}

int ht_daemon_alive(const ht_daemon *d)
{
	siginfo_t si = {0};
	if (d->pid <= 0)
		return 0;
	/* WNOWAIT: look without reaping, so ht_daemon_stop still can. */
	if (waitid(P_PID, (id_t)d->pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
		return 0;
	return si.si_pid == 0;
}
