/* Running the real hermes-ctl from the tools tests: fork and exec with pipes,
 * feed its stdin, collect its stdout and stderr, all within a deadline. The
 * one runner of test_hermes_ctl and test_hermes_ctl_links. */
#ifndef HT_TOOLS_CTL_RUNNER_H
#define HT_TOOLS_CTL_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "tests/tools/checkers.h"

#define CMD_TIMEOUT_MS 20000 /* generous: sanitizer builds on a loaded 2-core VM */
#define CTL_MAX_ARGS 24

/* A growing NUL-terminated byte buffer (free p). */
typedef struct buf {
	char *p;
	size_t len, cap;
} buf;

void buf_add(buf *b, const char *data, size_t n);

/* Read from fd into b if anything is there; false at end of file. */
bool buf_drain(int fd, buf *b);

/* Fork and exec argv with extra environment ("K=V") and pipes for the
 * requested streams (NULL: inherit, except stdin which becomes /dev/null). */
pid_t ctl_spawn(const char *const *argv, const char *const *env, int *in_fd, int *out_fd,
		int *err_fd);

typedef struct result {
	int code; /* exit status, or 128 + signal */
	buf out, err;
} result;

void result_free(result *r);

/* Run argv to completion, feeding it `in` (in_len bytes; NULL: /dev/null)
 * on stdin, within CMD_TIMEOUT_MS (past it: killed and the test fails);
 * collects stdout and stderr. */
result ctl_exec(const char *const *argv, const char *const *env, const void *in, size_t in_len);

/* hermes-ctl [--bus bus] args... (NULL-terminated; bus NULL: no --bus). */
result ctl_in(const char *bus, const void *in, size_t in_len, const char *const *args);
#define CTL_ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* hermes-ctl [--bus bus] with the words of line as its arguments (split at
 * spaces, no quoting), for tables of command lines. */
result ctl_words(const char *bus, const char *line);

/* The command exited 0 (fails the test with its stderr otherwise);
 * run_ok also frees the result, for commands whose output is not read. */
void expect_ok(const result *r);
void run_ok(result r);

/* A command that must exit 0: its stdout parsed as JSON (checkers.h; free
 * with jfree), or with needle in its stdout (expect_no_out: without). Each
 * frees the result. */
jv *json_of(result r);
void expect_out(result r, const char *needle);
void expect_no_out(result r, const char *needle);

#endif
