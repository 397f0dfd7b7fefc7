/* Futex waits and wakes on 32-bit words in shared memory (not the private
 * variant: waiters and wakers live in different processes). */
#ifndef HM_FUTEX_H
#define HM_FUTEX_H

#include <stdbool.h>
#include <stdint.h>

#include "core/atomics.h"

/* Sleep while *addr == expected, until woken or until the absolute
 * CLOCK_MONOTONIC deadline (UINT64_MAX = none). Returns 0 when woken or when
 * the value had already changed, ETIMEDOUT at the deadline, EINTR on a
 * signal; the caller re-checks its condition in every case. */
int hm_futex_wait(hm_atomic_u32 *addr, uint32_t expected, uint64_t deadline_ns);

/* Wake up to n sleepers on addr. */
void hm_futex_wake(hm_atomic_u32 *addr, int n);

/* Asymmetric fences (membarrier(2)). A process that registers lets a sleeper
 * elsewhere force a full memory barrier on all its running threads, so its
 * hot path needs none. hm_membarrier_register: register this process (call
 * when opening a publisher; idempotent, one system call); false when the
 * kernel or a seccomp filter refuses, and the caller must then fence itself.
 * hm_membarrier_global: run a barrier on every thread of every registered
 * process; false when unavailable (the caller must then bound its sleeps). */
bool hm_membarrier_register(void);
bool hm_membarrier_global(void);

/* CLOCK_MONOTONIC now, in nanoseconds (vDSO: no system call). */
uint64_t hm_now_ns(void);

/* now + timeout, saturating; a negative timeout means "no deadline". */
uint64_t hm_deadline_after(int64_t timeout_ns);

#endif
