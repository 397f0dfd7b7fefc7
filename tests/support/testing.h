/* Small shared helpers for the cmocka suites: deadlines, unique names,
 * temporary run directories, log files, child processes. Every wait here is
 * bounded by a deadline. The rest of the test kit builds on this:
 * process.h (spawn, readiness, stop and kill by pid), daemon.h (hermesd),
 * bus.h (a bus with rings, private or under hermesd), traffic.h (checked
 * multi-producer traffic), threads.h (worker threads, timed blocking calls),
 * bad_utf8.h (malformed UTF-8 samples). */
#ifndef HM_TESTING_H
#define HM_TESTING_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>

#include <hermes/error.h>

/* Clear every variable the product reads (HERMES_* except the HERMES_TEST_*
 * and HERMES_STRESS_* knobs, NOTIFY_SOCKET, XDG_RUNTIME_DIR). Runs before
 * main in every test binary; tests that want one of them set it explicitly,
 * for the child they start. */
void ht_hermetic_env(void);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t ht_now_ns(void);

/* A bus name unique to this process and call ("t<pid>-<tag>-<n>"), written
 * into buf (at least 64 bytes). */
const char *ht_unique_name(char *buf, size_t len, const char *tag);

/* A fresh directory /tmp/hermes-test-XXXXXX (mode 0755, so a daemon under
 * test may serve sockets in it) written into buf (at least 32 bytes); fails
 * the test when it cannot be made. */
const char *ht_temp_dir(char *buf, size_t len);

/* Remove the tree at path (files, sockets, directories; links are not
 * followed). Quiet when it is not there; says on stderr what it could not
 * remove. */
void ht_remove_tree(const char *path);

/* cmocka fixtures of a test that wants a fresh temporary directory:
 * ht_dir_setup makes one (ht_temp_dir) and hands its path to the test as
 * *state; ht_dir_teardown removes the tree, whatever the test left in it. */
int ht_dir_setup(void **state);
int ht_dir_teardown(void **state);

/* Write text as the file at path (created or truncated, mode 0644); fails
 * the test when it cannot. */
void ht_write_file(const char *path, const char *text);

/* How many lines of the file at path contain needle (0 when the file cannot
 * be read), whether one does, and a wait (deadline timeout_ms) until at
 * least `count` lines do: true when they do. For the logs of processes
 * under test. */
int ht_file_count(const char *path, const char *needle);
bool ht_file_has(const char *path, const char *needle);
bool ht_file_wait(const char *path, const char *needle, int count, int timeout_ms);

/* Fails the test unless text contains needle, showing both (an error
 * message that must name what it refused, a line that must hold a field). */
void ht_assert_says(const char *text, const char *needle);

/* Fails the test unless err is HERMES_OK, showing its name and the detail
 * the failing call left (hermes_last_error_detail()). */
void ht_assert_ok(hermes_err err);

/* Fails the test unless err is want and the detail the call left says
 * needle (a refusal that must name what it refused), showing both. */
void ht_assert_fails(hermes_err err, hermes_err want, const char *needle);

/* One case of a table-driven refusal test: an input (a configuration text)
 * that must be refused, and what the refusal must say. */
typedef struct ht_refusal {
	const char *text, *says;
} ht_refusal;

/* Copy the file at path (its first 200 lines) to stderr between marker
 * lines, so a failing test shows what a process under test logged. */
void ht_file_dump(const char *path);

/* Wait for child pid to exit within timeout_ms. Returns its wait status, or
 * fails the test (after killing the child) when the deadline passes. */
int ht_wait_child(pid_t pid, int timeout_ms);

/* The same, for a child that must exit: returns its exit code, or fails the
 * test naming the signal that killed it. */
int ht_child_exit(pid_t pid, int timeout_ms);

/* Fork; the child runs fn(arg) and exits with its return value (0 = ok).
 * The child never returns into cmocka. */
pid_t ht_fork(int (*fn)(void *), void *arg);

/* Skip the test (cmocka skip(), saying so with `why`) unless it runs as
 * root, for what only root may do (switch users, mount, make namespaces). */
void ht_require_root(const char *why);

/* A simple deterministic PRNG for tests (xorshift64*). */
uint64_t ht_rand(uint64_t *state);

/* FNV-1a over bytes, used as a payload checksum. */
uint64_t ht_fnv1a(const void *data, size_t len);

/* Environment knob for long tests: HERMES_TEST_SCALE (default 1.0) scales
 * message counts down for sanitizer builds. Returns max(1, n * scale). */
uint64_t ht_scaled(uint64_t n);

#endif
