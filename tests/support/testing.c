#include "tests/support/testing.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Variables a test may use as knobs (HERMES_TEST_SCALE, HERMES_TEST_SEED,
 * HERMES_STRESS_SECONDS); every other HERMES_* variable configures the
 * product and is cleared. */
static bool test_knob(const char *var)
{
	return !strncmp(var, "HERMES_TEST_", 12) || !strncmp(var, "HERMES_STRESS_", 14);
}

void ht_hermetic_env(void)
{
	static const char *const others[] = {"NOTIFY_SOCKET", "XDG_RUNTIME_DIR"};
	for (unsigned i = 0; i < sizeof others / sizeof others[0]; i++)
		unsetenv(others[i]);
	/* unsetenv changes environ: start over after each removal. */
	for (bool again = true; again;) {
		again = false;
		for (char **e = environ; e && *e; e++) {
			char name[128];
			size_t n = strcspn(*e, "=");
			if (strncmp(*e, "HERMES_", 7) != 0 || test_knob(*e) || n >= sizeof name)
				continue;
			memcpy(name, *e, n);
			name[n] = '\0';
			unsetenv(name);
			again = true;
			break;
		}
	}
}

/* Every test binary links this file: clear the environment before main so
 * that a developer's exported HERMES_BUS or HERMES_RUN_DIR never reaches the
 * tests or the processes they start. */
__attribute__((constructor)) static void hermetic_at_start(void)
{
	ht_hermetic_env();
}

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

const char *ht_temp_dir(char *buf, size_t len)
{
	snprintf(buf, len, "/tmp/hermes-test-XXXXXX");
	if (!mkdtemp(buf))
		fail_msg("mkdtemp: %s", strerror(errno));
	chmod(buf, 0755);
	return buf;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (remove(path) != 0 && errno != ENOENT)
		fprintf(stderr, "could not remove %s: %s (type %d)\n", path, strerror(errno), type);
	return 0;
}

void ht_remove_tree(const char *path)
{
	/* Depth first, so each directory is empty when its turn comes. */
	if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
		fprintf(stderr, "could not remove %s: %s\n", path, strerror(errno));
}

int ht_dir_setup(void **state)
{
	static char dir[64];
	*state = (void *)ht_temp_dir(dir, sizeof dir);
	return 0;
}

int ht_dir_teardown(void **state)
{
	ht_remove_tree(*state);
	return 0;
}

void ht_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		fail_msg("write %s: %s", path, strerror(errno));
	fputs(text, f);
	if (fclose(f) != 0)
		fail_msg("write %s: %s", path, strerror(errno));
}

int ht_file_count(const char *path, const char *needle)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	char line[2048];
	int found = 0;
	while (fgets(line, sizeof line, f))
		found += strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

bool ht_file_has(const char *path, const char *needle)
{
	return ht_file_count(path, needle) > 0;
}

bool ht_file_wait(const char *path, const char *needle, int count, int timeout_ms)
{
	uint64_t deadline = ht_now_ns() + (uint64_t)timeout_ms * 1000000u;
	while (ht_file_count(path, needle) < count) {
		if (ht_now_ns() > deadline)
			return false;
		/* A poll interval while the process works toward the line. */
		struct timespec nap = {0, 2000000};
		nanosleep(&nap, NULL);
	}
	return true;
}

void ht_file_dump(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	char line[2048];
	unsigned n = 0;
	fprintf(stderr, "---- %s ----\n", path);
	while (fgets(line, sizeof line, f) && n++ < 200)
		fputs(line, stderr);
	fprintf(stderr, "---- end of %s ----\n", path);
	fclose(f);
}

void ht_assert_says(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		fail_msg("'%s' does not say '%s'", text, needle);
}

void ht_assert_ok(hermes_err err)
{
	if (err != HERMES_OK)
		fail_msg("%s: %s", hermes_err_name(err), hermes_last_error_detail());
}

void ht_assert_fails(hermes_err err, hermes_err want, const char *needle)
{
	if (err != want)
		fail_msg("%s, expected %s: %s", hermes_err_name(err), hermes_err_name(want),
			 hermes_last_error_detail());
	ht_assert_says(hermes_last_error_detail(), needle);
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

int ht_child_exit(pid_t pid, int timeout_ms)
{
	int st = ht_wait_child(pid, timeout_ms);
	if (!WIFEXITED(st))
		fail_msg("child %d died of signal %d", (int)pid, WTERMSIG(st));
	return WEXITSTATUS(st);
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

void ht_require_root(const char *why)
{
	if (geteuid() == 0)
		return;
	print_message("skipped: needs root %s\n", why);
	skip();
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
