#include "tests/tools/ctl_runner.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/process.h"
#include "tests/support/testing.h"
#include "tests/tools/checkers.h"

#ifndef HERMES_CTL_PATH
#error "HERMES_CTL_PATH must name the hermes-ctl binary"
#endif

pid_t ctl_spawn(const char *const *argv, const char *const *env, int *in_fd, int *out_fd,
		int *err_fd)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
	if (in_fd)
		assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	if (out_fd)
		assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	if (err_fd)
		assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		dup2(in_fd ? in[0] : devnull, 0);
		if (out_fd)
			dup2(out[1], 1);
		if (err_fd)
			dup2(err[1], 2);
		for (; env && *env; env++)
			putenv((char *)*env);
		/* The test ignores SIGPIPE; the child must not inherit that. */
		signal(SIGPIPE, SIG_DFL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (in_fd) {
		close(in[0]);
		*in_fd = in[1];
	}
	if (out_fd) {
		close(out[1]);
		*out_fd = out[0];
	}
	if (err_fd) {
		close(err[1]);
		*err_fd = err[0];
	}
	return pid;
}

void buf_add(buf *b, const char *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = realloc(b->p, cap);
		assert_non_null(b->p);
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

bool buf_drain(int fd, buf *b)
{
	char tmp[4096];
	ssize_t n = read(fd, tmp, sizeof tmp);
	if (n > 0) {
		buf_add(b, tmp, (size_t)n);
		return true;
	}
	return n < 0 && (errno == EAGAIN || errno == EINTR);
}

void result_free(result *r)
{
	free(r->out.p);
	free(r->err.p);
	memset(r, 0, sizeof *r);
}

result ctl_exec(const char *const *argv, const char *const *env, const void *in, size_t in_len)
{
	result r = {0};
	buf_add(&r.out, "", 0);
	buf_add(&r.err, "", 0);
	int in_fd = -1, out_fd, err_fd;
	pid_t pid = ctl_spawn(argv, env, in ? &in_fd : NULL, &out_fd, &err_fd);
	if (in_fd >= 0)
		fcntl(in_fd, F_SETFL, O_NONBLOCK);
	size_t written = 0;
	if (in_fd >= 0 && in_len == 0) {
		close(in_fd);
		in_fd = -1;
	}
	uint64_t deadline = ht_now_ns() + (uint64_t)CMD_TIMEOUT_MS * 1000000u;
	bool out_open = true, err_open = true;
	while (out_open || err_open) {
		struct pollfd p[3] = {{.fd = out_open ? out_fd : -1, .events = POLLIN},
				      {.fd = err_open ? err_fd : -1, .events = POLLIN},
				      {.fd = in_fd, .events = POLLOUT}};
		uint64_t now = ht_now_ns();
		if (now > deadline) {
			ht_proc_kill(&pid);
			fail_msg("%s %s... did not finish within %d ms; stderr: %s", argv[0], argv[1],
				 CMD_TIMEOUT_MS, r.err.p);
		}
		poll(p, 3, (int)((deadline - now) / 1000000u) + 1);
		if (p[0].revents)
			out_open = buf_drain(out_fd, &r.out);
		if (p[1].revents)
			err_open = buf_drain(err_fd, &r.err);
		if (in_fd >= 0 && p[2].revents) {
			ssize_t n = write(in_fd, (const char *)in + written, in_len - written);
			if (n > 0)
				written += (size_t)n;
			if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == in_len) {
				close(in_fd);
				in_fd = -1;
			}
		}
	}
	if (in_fd >= 0)
		close(in_fd);
	close(out_fd);
	close(err_fd);
	int status = ht_wait_child(pid, CMD_TIMEOUT_MS);
	r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return r;
}

result ctl_in(const char *bus, const void *in, size_t in_len, const char *const *args)
{
	const char *argv[CTL_MAX_ARGS + 4] = {HERMES_CTL_PATH};
	unsigned n = 1;
	if (bus) {
		argv[n++] = "--bus";
		argv[n++] = bus;
	}
	for (; *args && n < CTL_MAX_ARGS; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	return ctl_exec(argv, NULL, in, in_len);
}

result ctl_words(const char *bus, const char *line)
{
	char copy[512], *save = NULL;
	const char *args[CTL_MAX_ARGS + 1];
	unsigned n = 0;
	if (snprintf(copy, sizeof copy, "%s", line) >= (int)sizeof copy)
		fail_msg("command line too long for ctl_words: %s", line);
	for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (n == CTL_MAX_ARGS)
			fail_msg("more than %d words: %s", CTL_MAX_ARGS, line);
		args[n++] = w;
	}
	args[n] = NULL;
	return ctl_in(bus, NULL, 0, args);
}

void expect_ok(const result *r)
{
	if (r->code != 0)
		fail_msg("exit status %d; stderr: %s", r->code, r->err.p);
}

void run_ok(result r)
{
	expect_ok(&r);
	result_free(&r);
}

jv *json_of(result r)
{
	expect_ok(&r);
	jv *doc = jparse_or_fail(r.out.p);
	result_free(&r);
	return doc;
}

static void check_out(result r, const char *needle, bool want)
{
	expect_ok(&r);
	if ((strstr(r.out.p, needle) != NULL) != want)
		fail_msg("'%s' %s the output:\n%s", needle, want ? "not in" : "in", r.out.p);
	result_free(&r);
}

void expect_out(result r, const char *needle)
{
	check_out(r, needle, true);
}

void expect_no_out(result r, const char *needle)
{
	check_out(r, needle, false);
}
