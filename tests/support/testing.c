#include "tests/support/testing.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t ht_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

const char *ht_unique_name(char *buf, size_t len, const char *tag)
{
	static unsigned counter;
	snprintf(buf, len, "t%d-%s-%u", (int)getpid(), tag, counter++);
	return buf;
}

int ht_wait_child(pid_t pid, int timeout_ms)
{
	uint64_t deadline = ht_now_ns() + (uint64_t)timeout_ms * 1000000u;
	for (;;) {
		int status;
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			fail_msg("waitpid %d: %d", (int)pid, errno);
		if (ht_now_ns() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fail_msg("child %d did not exit within %d ms", (int)pid, timeout_ms);
		}
		/* Polling a child's exit: a 1 ms nap between checks is a poll
		 * interval, not a sleep that makes anything pass. */
		struct timespec nap = {0, 1000000};
		nanosleep(&nap, NULL);
	}
}

pid_t ht_fork(int (*fn)(void *), void *arg)
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		fail_msg("fork failed: %d", errno);
	if (pid == 0)
		_exit(fn(arg));
	return pid;
}

uint64_t ht_rand(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

uint64_t ht_fnv1a(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

uint64_t ht_scaled(uint64_t n)
{
	const char *s = getenv("HERMES_TEST_SCALE");
	double scale = s ? strtod(s, NULL) : 1.0;
	if (!(scale > 0))
		scale = 1.0;
	uint64_t v = (uint64_t)((double)n * scale);
	return v ? v : 1;
}
