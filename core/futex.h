/* Futex waits and wakes on 32-bit words in shared memory (not the private
 * variant: waiters and wakers live in different processes). */
#ifndef HM_FUTEX_H
#define HM_FUTEX_H

#include <stdint.h>

#include "core/atomics.h"

/* Sleep while *addr == expected, until woken or until the absolute
 * CLOCK_MONOTONIC deadline (UINT64_MAX = none). Returns 0 when woken or when
 * the value had already changed, ETIMEDOUT at the deadline, EINTR on a
 * signal; the caller re-checks its condition in every case. */
int hm_futex_wait(hm_atomic_u32 *addr, uint32_t expected, uint64_t deadline_ns);

/* Wake up to n sleepers on addr. */
void hm_futex_wake(hm_atomic_u32 *addr, int n);

/* CLOCK_MONOTONIC now, in nanoseconds (vDSO: no system call). */
uint64_t hm_now_ns(void);

/* now + timeout, saturating; a negative timeout means "no deadline". */
uint64_t hm_deadline_after(int64_t timeout_ns);

#endif
