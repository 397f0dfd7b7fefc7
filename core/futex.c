#include "core/futex.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

uint64_t hm_now_ns(void)
{
	return hm_clock_ns(CLOCK_MONOTONIC);
}

uint64_t hm_deadline_after(int64_t timeout_ns)
{
	if (timeout_ns < 0)
		return UINT64_MAX;
	uint64_t now = hm_now_ns();
	uint64_t d = now + (uint64_t)timeout_ns;
	return d < now ? UINT64_MAX : d;
}

int hm_futex_wait(hm_atomic_u32 *addr, uint32_t expected, uint64_t deadline_ns)
{
	struct timespec ts, *tsp = NULL;
	if (deadline_ns != UINT64_MAX) {
		ts.tv_sec = (time_t)(deadline_ns / 1000000000u);
		ts.tv_nsec = (long)(deadline_ns % 1000000000u);
		tsp = &ts;
	}
	/* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a
	 * spurious wake-up and retry never stretches the total wait. */
	long r = syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_BITSET, expected, tsp, NULL,
			 FUTEX_BITSET_MATCH_ANY);
	if (r == 0)
		return 0;
	if (errno == EAGAIN)
		return 0;
	return errno;
}

void hm_futex_wake(hm_atomic_u32 *addr, int n)
{
	syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE, n, NULL, NULL, 0);
}

/* TSan cannot see a barrier made by another thread's system call; in TSan
 * builds every producer fences instead (the ordering is the same). */
bool hm_membarrier_register(void)
{
#if defined(HERMES_TSAN)
	return false;
#else
	return syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0;
#endif
}

bool hm_membarrier_global(void)
{
	return syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) == 0;
}

int hm_futex_waitv(const hm_futex_word *w, unsigned n, uint64_t deadline_ns)
{
#ifdef SYS_futex_waitv
	struct futex_waitv fw[128];
	if (n == 0 || n > 128)
		return EINVAL;
	for (unsigned i = 0; i < n; i++)
		fw[i] = (struct futex_waitv){
			.val = w[i].val,
			.uaddr = (uintptr_t)w[i].addr,
			/* FUTEX_32 (2): 32-bit words, shared (no
			 * FUTEX_PRIVATE_FLAG); the header may predate the name. */
			.flags = 2u,
		};
	struct timespec ts, *tsp = NULL;
	if (deadline_ns != UINT64_MAX) {
		ts.tv_sec = (time_t)(deadline_ns / 1000000000u);
		ts.tv_nsec = (long)(deadline_ns % 1000000000u);
		tsp = &ts;
	}
	/* The deadline is absolute on the clock named last, so a spurious
	 * wake-up and retry never stretches the total wait. */
	if (syscall(SYS_futex_waitv, fw, n, 0, tsp, CLOCK_MONOTONIC) >= 0)
		return 0;
	switch (errno) {
	case EAGAIN:
		return 0;
	case ETIMEDOUT:
	case EINTR:
		return errno;
	default:
		return ENOSYS;
	}
#else
	(void)w;
	(void)n;
	(void)deadline_ns;
	return ENOSYS;
#endif
}
