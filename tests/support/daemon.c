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

static pid_t spawn(ht_daemon *d, const char *const *argv, bool notify)
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, STDERR_FILENO);
			dup2(fd, STDOUT_FILENO);
		}
		if (notify)
			setenv("NOTIFY_SOCKET", d->notify, 1);
		else
			unsetenv("NOTIFY_SOCKET");
		unsetenv("HERMES_BUS");
		unsetenv("HERMES_RUN_DIR");
		execv(HERMESD_PATH, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

void ht_daemon_start(ht_daemon *d, const char *const *extra)
{
	const char *argv[32] = {"hermesd", "--bus", d->bus, "--run-dir", d->run_dir};
	int n = 5;
	for (; extra && *extra && n < 31; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	if (d->notify_fd < 0) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		snprintf(sa.sun_path, sizeof sa.sun_path, "%.100s", d->notify);
		d->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		unlink(d->notify);
		if (d->notify_fd < 0 || bind(d->notify_fd, (struct sockaddr *)&sa, sizeof sa) != 0)
			fail_msg("notify socket: %s", strerror(errno));
	}
	d->pid = spawn(d, argv, true);
	uint64_t deadline = ht_now_ns() + 10000000000ull;
	for (;;) {
		struct pollfd p = {.fd = d->notify_fd, .events = POLLIN};
		int r = poll(&p, 1, 100);
		if (r == 1) {
			char buf[64] = {0};
			if (recv(d->notify_fd, buf, sizeof buf - 1, 0) > 0 && strstr(buf, "READY=1"))
				return;
		}
		int st;
		if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
			d->pid = 0;
			fail_msg("hermesd exited during start-up (status %d); see %s", st, d->log);
		}
		if (ht_now_ns() > deadline) {
			ht_daemon_kill(d);
			fail_msg("hermesd did not report READY=1 within 10 s; see %s", d->log);
		}
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
	kill(d->pid, SIGTERM);
	int st = ht_wait_child(d->pid, 10000);
	d->pid = 0;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("hermesd did not stop cleanly (status %d); see %s", st, d->log);
}

void ht_daemon_kill(ht_daemon *d)
{
	if (d->pid <= 0)
		return;
	kill(d->pid, SIGKILL);
	waitpid(d->pid, NULL, 0);
	d->pid = 0;
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
