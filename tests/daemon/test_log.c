/* Tests for daemon/log.c: the daemons' one log format, and syslog priority
 * prefixes when stderr is the journal ($JOURNAL_STREAM names it). */
#include "tests/support/testing.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/log.h"
#include "tests/support/daemon.h"

static size_t fmt(char *buf, size_t n, int journal, int level, const char *f, ...)
	__attribute__((format(printf, 5, 6)));
static size_t fmt(char *buf, size_t n, int journal, int level, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	size_t len = hm_dlog_format(buf, n, journal, level, f, ap);
	va_end(ap);
	return len;
}

static void test_plain_format_names_program_pid_level(void **state)
{
	(void)state;
	char want[128], buf[256];
	snprintf(want, sizeof want, "%s[%d]: warn: ring gone ring=orders client=42\n",
		 program_invocation_short_name, (int)getpid());
	size_t len = fmt(buf, sizeof buf, 0, HM_DLOG_WARN, "ring gone ring=%s client=%d", "orders", 42);
	assert_string_equal(buf, want);
	assert_int_equal(len, strlen(want));
}

static void test_journal_format_has_syslog_priorities(void **state)
{
	(void)state;
	static const char *const want[] = {"<3>error: x\n", "<4>warn: x\n", "<6>info: x\n", "<7>debug: x\n"};
	char buf[64];
	for (int level = HM_DLOG_ERROR; level <= HM_DLOG_DEBUG; level++) {
		fmt(buf, sizeof buf, 1, level, "x");
		assert_string_equal(buf, want[level]);
	}
}

static void test_one_message_is_one_line_even_truncated(void **state)
{
	(void)state;
	char buf[32];
	fmt(buf, sizeof buf, 1, HM_DLOG_INFO, "a\nb\rc %s", "a long tail that does not fit in the buffer");
	assert_int_equal(strlen(buf), sizeof buf - 1);
	assert_int_equal(buf[sizeof buf - 2], '\n');
	assert_null(strchr(buf, '\r'));
	assert_ptr_equal(strchr(buf, '\n'), buf + sizeof buf - 2);
	assert_true(strncmp(buf, "<6>info: a b c a long", 21) == 0);
}

/* Everything readable from fd until end of file, into out (NUL terminated,
 * cut at cap - 1 bytes); how many bytes. */
static size_t read_all(int fd, char *out, size_t cap)
{
	size_t got = 0;
	ssize_t n;
	while (got < cap - 1 && (n = read(fd, out + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	return got;
}

/* The test's stderr on a pipe, as under systemd with StandardError=journal
 * (JOURNAL_STREAM unset until a test sets it). */
typedef struct capture {
	int fds[2];
	int saved;
} capture;

static void capture_start(capture *c)
{
	assert_int_equal(pipe(c->fds), 0);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->saved >= 0);
	assert_int_equal(dup2(c->fds[1], STDERR_FILENO), STDERR_FILENO);
	unsetenv("JOURNAL_STREAM");
}

/* stderr back; what was written to it meanwhile into out (read_all). */
static size_t capture_end(capture *c, char *out, size_t cap)
{
	dup2(c->saved, STDERR_FILENO);
	close(c->saved);
	close(c->fds[1]);
	size_t got = read_all(c->fds[0], out, cap);
	close(c->fds[0]);
	return got;
}

static void set_journal_stream_to(int fd, long ino_delta)
{
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	char v[64];
	snprintf(v, sizeof v, "%ju:%ju", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino + (uintmax_t)ino_delta);
	assert_int_equal(setenv("JOURNAL_STREAM", v, 1), 0);
}

static void test_journal_detected_only_for_stderr_itself(void **state)
{
	(void)state;
	capture c;
	capture_start(&c);
	int none = hm_dlog_stderr_is_journal();
	set_journal_stream_to(c.fds[1], 0);
	int same = hm_dlog_stderr_is_journal();
	hm_dlog(HM_DLOG_ERROR, "disk full ring=%s", "r");
	set_journal_stream_to(c.fds[1], 1);
	int other = hm_dlog_stderr_is_journal();
	hm_dlog(HM_DLOG_ERROR, "disk full ring=%s", "r");
	setenv("JOURNAL_STREAM", "garbage", 1);
	int garbage = hm_dlog_stderr_is_journal();
	unsetenv("JOURNAL_STREAM");
	char out[256];
	size_t n = capture_end(&c, out, sizeof out);
	assert_int_equal(none, 0);
	assert_int_equal(same, 1);
	assert_int_equal(other, 0);
	assert_int_equal(garbage, 0);
	assert_true(n > 0);
	char want[160];
	snprintf(want, sizeof want, "<3>error: disk full ring=r\n%s[%d]: error: disk full ring=r\n",
		 program_invocation_short_name, (int)getpid());
	assert_string_equal(out, want);
}

/* One --log-level filter for every daemon: messages above it are left out,
 * all of them below zero; every level until a daemon sets it. */
static void test_level_filter_leaves_out_what_is_above_it(void **state)
{
	(void)state;
	capture c;
	capture_start(&c);
	int initial = hm_dlog_level();
	hm_dlog_set_level(HM_DLOG_WARN);
	hm_dlog(HM_DLOG_INFO, "left out");
	hm_dlog_ring(HM_DLOG_DEBUG, "r", "left out");
	hm_dlog(HM_DLOG_WARN, "kept");
	hm_dlog_ring(HM_DLOG_ERROR, "r", "kept");
	hm_dlog_set_level(-1);
	hm_dlog(HM_DLOG_ERROR, "left out");
	hm_dlog_set_level(initial);
	char out[256];
	size_t n = capture_end(&c, out, sizeof out);
	assert_int_equal(initial, HM_DLOG_DEBUG);
	assert_int_equal(hm_dlog_level_named("error"), HM_DLOG_ERROR);
	assert_int_equal(hm_dlog_level_named("warn"), HM_DLOG_WARN);
	assert_int_equal(hm_dlog_level_named("info"), HM_DLOG_INFO);
	assert_int_equal(hm_dlog_level_named("debug"), HM_DLOG_DEBUG);
	assert_int_equal(hm_dlog_level_named("WARN"), -1);
	assert_int_equal(hm_dlog_level_named(""), -1);
	assert_true(n > 0);
	char want[160];
	snprintf(want, sizeof want, "%s[%d]: warn: kept\n%s[%d]: error: kept ring=r\n",
		 program_invocation_short_name, (int)getpid(), program_invocation_short_name,
		 (int)getpid());
	assert_string_equal(out, want);
}

/* Fields: names stand bare; anything that would split a key=value line
 * (spaces, '=', quotes, controls, nothing at all) is quoted and escaped. */
static void test_fields_are_bare_or_quoted_and_escaped(void **state)
{
	(void)state;
	hm_dlog_kv kv = {0};
	hm_dlog_str(&kv, "ring", "orders.eu-1");
	hm_dlog_str(&kv, "client", "größe");
	hm_dlog_int(&kv, "pid", -7);
	hm_dlog_str(&kv, "why", "no such ring");
	hm_dlog_str(&kv, "odd", "a=b\"c\\d\n\x01");
	hm_dlog_str(&kv, "empty", "");
	hm_dlog_str(&kv, "null", NULL);
	assert_string_equal(kv.s, " ring=orders.eu-1 client=größe pid=-7 why=\"no such ring\" "
				  "odd=\"a=b\\\"c\\\\d\\n\\x01\" empty=\"\" null=\"\"");
	assert_int_equal(kv.len, strlen(kv.s));
	char buf[512];
	fmt(buf, sizeof buf, 1, HM_DLOG_INFO, "subscriber died%s", kv.s);
	assert_true(strncmp(buf, "<6>info: subscriber died ring=orders.eu-1 ", 42) == 0);
}

/* A field that does not fit is left out whole, never cut inside its value
 * (a cut quote would swallow the rest of the line). */
static void test_fields_that_do_not_fit_are_left_out_whole(void **state)
{
	(void)state;
	hm_dlog_kv kv = {0};
	char big[200];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	hm_dlog_str(&kv, "a", big);
	size_t before = kv.len;
	assert_int_equal(before, 3 + sizeof big - 1);
	hm_dlog_str(&kv, "b", big);
	assert_int_equal(kv.len, before);
	hm_dlog_str(&kv, "c", "fits in the rest");
	assert_non_null(strstr(kv.s, " c=\"fits in the rest\""));
	big[100] = ' ';
	hm_dlog_kv q = {0};
	for (int i = 0; i < 4; i++)
		hm_dlog_str(&q, "q", big);
	assert_int_equal(q.len, strlen(q.s));
	assert_int_equal(q.s[q.len - 1], '"');
	assert_true(q.len < sizeof q.s);
}

static void ring_line(const char *ring, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ring_line(const char *ring, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	hm_dlogv_ring(HM_DLOG_WARN, ring, fmt, ap);
	va_end(ap);
}

/* The bridge's and the uplink's lines about a ring (hm_log_ring,
 * hm_nats_log_ring) end in its ring= field, quoted when it has to be. */
static void test_ring_lines_end_in_a_ring_field(void **state)
{
	(void)state;
	capture c;
	capture_start(&c);
	ring_line("orders", "journal %s unreadable", "/var/j");
	ring_line("odd ring", "x");
	char buf[512];
	capture_end(&c, buf, sizeof buf);
	assert_non_null(strstr(buf, ": warn: journal /var/j unreadable ring=orders\n"));
	assert_non_null(strstr(buf, ": warn: x ring=\"odd ring\"\n"));
}

/* The real hermesd logs through this module: an error it reports under the
 * journal carries priority 3, so journalctl -p err shows it. */
static void test_hermesd_errors_reach_the_journal_as_err(void **state)
{
	(void)state;
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], STDERR_FILENO);
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		set_journal_stream_to(STDERR_FILENO, 0);
		execl(ht_hermesd_path(), "hermesd", "--bus", "logtest", "--run-dir",
		      "/proc/hermes-no-such-dir", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	assert_true(ht_wait_child(pid, 10000) >= 0);
	char out[1024];
	read_all(fds[0], out, sizeof out);
	close(fds[0]);
	assert_true(strncmp(out, "<3>error: ", 10) == 0);
	assert_non_null(strstr(out, "/proc/hermes-no-such-dir"));
	assert_null(strstr(out, "hermesd["));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_format_names_program_pid_level),
		cmocka_unit_test(test_journal_format_has_syslog_priorities),
		cmocka_unit_test(test_one_message_is_one_line_even_truncated),
		cmocka_unit_test(test_fields_are_bare_or_quoted_and_escaped),
		cmocka_unit_test(test_fields_that_do_not_fit_are_left_out_whole),
		cmocka_unit_test(test_ring_lines_end_in_a_ring_field),
		cmocka_unit_test(test_journal_detected_only_for_stderr_itself),
		cmocka_unit_test(test_level_filter_leaves_out_what_is_above_it),
		cmocka_unit_test(test_hermesd_errors_reach_the_journal_as_err),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
