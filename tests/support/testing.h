/* Small shared helpers for the cmocka suites: deadlines, unique names,
 * child processes. Every wait here is bounded by a deadline. */
#ifndef HM_TESTING_H
#define HM_TESTING_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>

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

/* Wait for child pid to exit within timeout_ms. Returns its wait status, or
 * fails the test (after killing the child) when the deadline passes. */
int ht_wait_child(pid_t pid, int timeout_ms);

/* Fork; the child runs fn(arg) and exits with its return value (0 = ok).
 * The child never returns into cmocka. */
pid_t ht_fork(int (*fn)(void *), void *arg);

/* A simple deterministic PRNG for tests (xorshift64*). */
uint64_t ht_rand(uint64_t *state);

/* FNV-1a over bytes, used as a payload checksum. */
uint64_t ht_fnv1a(const void *data, size_t len);

/* Environment knob for long tests: HERMES_TEST_SCALE (default 1.0) scales
 * message counts down for sanitizer builds. Returns max(1, n * scale). */
uint64_t ht_scaled(uint64_t n);

#endif
