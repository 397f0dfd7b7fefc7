/* Futex waits and wakes on 32-bit words in shared memory (not the private
 * variant: waiters and wakers live in different processes). */
#ifndef HM_FUTEX_H
#define HM_FUTEX_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/atomics.h"

/* Sleep while *addr == expected, until woken or until the absolute
 * CLOCK_MONOTONIC deadline (UINT64_MAX = none). Returns 0 when woken or when
 * the value had already changed, ETIMEDOUT at the deadline, EINTR on a
 * signal; the caller re-checks its condition in every case. */
int hm_futex_wait(hm_atomic_u32 *addr, uint32_t expected, uint64_t deadline_ns);

/* Wake up to n sleepers on addr. */
void hm_futex_wake(hm_atomic_u32 *addr, int n);

/* One word of a multi-word wait: sleep while *addr == val. Every word is
 * waited on as a shared futex (hm_futex_wake wakes it), wherever it lives:
 * a private wait would not match a shared wake. */
typedef struct hm_futex_word {
	hm_atomic_u32 *addr;
	uint32_t val;
} hm_futex_word;

/* Sleep until any of the n (1..128) words differs from its value, or until
 * the absolute CLOCK_MONOTONIC deadline (UINT64_MAX = none): futex_waitv(2),
 * Linux 5.16 and later. Returns 0 when woken or a value had already
 * changed, ETIMEDOUT, EINTR, or ENOSYS when the kernel (or a seccomp
 * filter: EPERM is reported as ENOSYS too) does not offer the call; the
 * caller re-checks its conditions in every case. */
int hm_futex_waitv(const hm_futex_word *w, unsigned n, uint64_t deadline_ns);

/* Asymmetric fences (membarrier(2)). A process that registers lets a sleeper
 * elsewhere force a full memory barrier on all its running threads, so its
 * hot path needs none. hm_membarrier_register: register this process (call
 * when opening a publisher; idempotent, one system call); false when the
 * kernel or a seccomp filter refuses, and the caller must then fence itself.
 * hm_membarrier_global: run a barrier on every thread of every registered
 * process; false when unavailable (the caller must then bound its sleeps). */
bool hm_membarrier_register(void);
bool hm_membarrier_global(void);

/* A clock's now, in nanoseconds (vDSO: no system call for the monotonic,
 * realtime and coarse clocks). */
static inline uint64_t hm_clock_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC now, in nanoseconds. */
uint64_t hm_now_ns(void);

/* now + timeout, saturating; a negative timeout means "no deadline". */
uint64_t hm_deadline_after(int64_t timeout_ns);

#endif
