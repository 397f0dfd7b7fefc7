#include "tests/support/process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/testing.h"

pid_t ht_spawn(const ht_spawn_spec *s)
{
	/* Flush first, or the child's exit would print our buffered output
	 * again if exec fails. */
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (pid > 0)
		return pid;
	int fd = s->log ? open(s->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1;
	if (fd >= 0) {
		dup2(fd, STDERR_FILENO);
		dup2(fd, STDOUT_FILENO);
	}
	if (s->out) {
		fd = open(s->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			_exit(126);
		dup2(fd, STDOUT_FILENO);
		if (s->err_to_out)
			dup2(fd, STDERR_FILENO);
	}
	if (s->notify)
		setenv("NOTIFY_SOCKET", s->notify, 1);
	else
		unsetenv("NOTIFY_SOCKET");
	unsetenv("HERMES_BUS");
	if (s->prepare)
		s->prepare();
	if (s->path)
		execv(s->path, (char *const *)s->argv);
	else
		execvp(s->argv[0], (char *const *)s->argv);
	_exit(127);
}

int ht_run(const ht_spawn_spec *s, int timeout_ms)
{
	int st = ht_wait_child(ht_spawn(s), timeout_ms);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int ht_notify_open(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%.100s", path);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
		fail_msg("notify socket: %s", strerror(errno));
	return fd;
}

ht_ready ht_wait_ready(int notify_fd, pid_t *pid, int timeout_ms, char *msg, size_t cap,
		       int *status)
{
	uint64_t deadline = ht_now_ns() + (uint64_t)timeout_ms * 1000000u;
	for (;;) {
		/* 100 ms slices, so a child that dies is noticed promptly. */
		struct pollfd p = {.fd = notify_fd, .events = POLLIN};
		if (poll(&p, 1, 100) == 1) {
			memset(msg, 0, cap);
			if (recv(notify_fd, msg, cap - 1, 0) > 0 && strstr(msg, "READY=1"))
				return HT_READY;
		}
		if (waitpid(*pid, status, WNOHANG) == *pid) {
			*pid = 0;
			return HT_EXITED;
		}
		if (ht_now_ns() > deadline) {
			ht_proc_kill(pid);
			return HT_TIMEOUT;
		}
	}
}

void ht_await_ready(int notify_fd, pid_t *pid, int timeout_ms, const char *what, const char *log)
{
	char msg[64];
	int st = 0;
	switch (ht_wait_ready(notify_fd, pid, timeout_ms, msg, sizeof msg, &st)) {
	case HT_READY:
		return;
	case HT_EXITED:
		ht_file_dump(log);
		fail_msg("%s exited during start-up (status %d); see %s", what, st, log);
		break;
	case HT_TIMEOUT:
		ht_file_dump(log);
		fail_msg("%s did not report READY=1 within %d ms; see %s", what, timeout_ms, log);
		break;
	}
}

int ht_proc_terminate(pid_t *pid, int timeout_ms)
{
	kill(*pid, SIGTERM);
	int st = ht_wait_child(*pid, timeout_ms);
	*pid = 0;
	return st;
}

void ht_proc_stop(pid_t *pid, int timeout_ms, const char *what, const char *log)
{
	if (*pid <= 0)
		return;
	int st = ht_proc_terminate(pid, timeout_ms);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		ht_file_dump(log);
		fail_msg("%s did not stop cleanly (status 0x%x); see %s", what, st, log);
	}
}

void ht_proc_kill(pid_t *pid)
{
	if (*pid <= 0)
		return;
	kill(*pid, SIGKILL);
	waitpid(*pid, NULL, 0);
	*pid = 0;
}

long ht_proc_status_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	long kb = -1;
	if (!f)
		return -1;
	size_t n = strlen(field);
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, field, n))
			kb = strtol(line + n, NULL, 10);
	fclose(f);
	return kb;
}
