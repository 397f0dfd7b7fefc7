/* Thin wrappers over C11 atomics with the memory order in the name.
 *
 * Shared-memory code calls these instead of <stdatomic.h> directly so that
 * the order of every access is visible at the call site, and each call site
 * carries a comment naming the access it pairs with. Nothing here uses
 * `volatile` for synchronisation.
 *
 * The one operation C11 cannot give us portably is a lock-free 16-byte
 * compare-and-swap (GCC routes __int128 atomics through libatomic, which may
 * fall back to a process-local lock: fatal for shared memory). hm_cas128 is
 * therefore written for each architecture we support.
 */
#ifndef HM_ATOMICS_H
#define HM_ATOMICS_H

#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#if defined(HERMES_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");
static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free");
static_assert(sizeof(_Atomic uint64_t) == 8, "shared layouts assume 8-byte atomics");
static_assert(sizeof(_Atomic uint32_t) == 4, "shared layouts assume 4-byte atomics");

#define HM_CACHELINE 64
/* Independently written shared fields are kept 128 bytes apart: modern x86
 * cores prefetch cache lines in adjacent pairs, so 64 is not enough to stop
 * false sharing. */
#define HM_FALSE_SHARING 128

typedef _Atomic uint64_t hm_atomic_u64;
typedef _Atomic uint32_t hm_atomic_u32;

static inline uint64_t hm_load_relaxed_u64(const hm_atomic_u64 *p)
{
	return atomic_load_explicit(p, memory_order_relaxed);
}
static inline uint64_t hm_load_acquire_u64(const hm_atomic_u64 *p)
{
	return atomic_load_explicit(p, memory_order_acquire);
}
static inline void hm_store_relaxed_u64(hm_atomic_u64 *p, uint64_t v)
{
	atomic_store_explicit(p, v, memory_order_relaxed);
}
static inline void hm_store_release_u64(hm_atomic_u64 *p, uint64_t v)
{
	atomic_store_explicit(p, v, memory_order_release);
}
static inline uint64_t hm_fetch_add_relaxed_u64(hm_atomic_u64 *p, uint64_t v)
{
	return atomic_fetch_add_explicit(p, v, memory_order_relaxed);
}
static inline bool hm_cas_acq_rel_u64(hm_atomic_u64 *p, uint64_t *expected, uint64_t desired)
{
	return atomic_compare_exchange_strong_explicit(p, expected, desired, memory_order_acq_rel,
						       memory_order_acquire);
}

static inline uint32_t hm_load_relaxed_u32(const hm_atomic_u32 *p)
{
	return atomic_load_explicit(p, memory_order_relaxed);
}
static inline uint32_t hm_load_acquire_u32(const hm_atomic_u32 *p)
{
	return atomic_load_explicit(p, memory_order_acquire);
}
static inline void hm_store_relaxed_u32(hm_atomic_u32 *p, uint32_t v)
{
	atomic_store_explicit(p, v, memory_order_relaxed);
}
static inline void hm_store_release_u32(hm_atomic_u32 *p, uint32_t v)
{
	atomic_store_explicit(p, v, memory_order_release);
}
static inline uint32_t hm_fetch_add_seq_cst_u32(hm_atomic_u32 *p, uint32_t v)
{
	return atomic_fetch_add_explicit(p, v, memory_order_seq_cst);
}
static inline uint32_t hm_fetch_sub_seq_cst_u32(hm_atomic_u32 *p, uint32_t v)
{
	return atomic_fetch_sub_explicit(p, v, memory_order_seq_cst);
}
static inline uint32_t hm_load_seq_cst_u32(const hm_atomic_u32 *p)
{
	return atomic_load_explicit(p, memory_order_seq_cst);
}
static inline bool hm_cas_acq_rel_u32(hm_atomic_u32 *p, uint32_t *expected, uint32_t desired)
{
	return atomic_compare_exchange_strong_explicit(p, expected, desired, memory_order_acq_rel,
						       memory_order_acquire);
}

#if defined(HERMES_TSAN)
/* ThreadSanitizer does not model fences (GCC refuses them under
 * -fsanitize=thread). In TSan builds a fence becomes a seq_cst RMW on a
 * private word: still a full barrier on the hardware, and TSan's race
 * detection is unaffected. Release/acquire synchronisation that the code
 * relies on is carried by atomic operations, which TSan does see. */
static _Atomic int hm_tsan_fence_word_;
static inline void hm_fence_seq_cst(void)
{
	atomic_fetch_add_explicit(&hm_tsan_fence_word_, 0, memory_order_seq_cst);
}
static inline void hm_fence_acquire(void)
{
	atomic_fetch_add_explicit(&hm_tsan_fence_word_, 0, memory_order_acq_rel);
}
static inline void hm_fence_release(void)
{
	atomic_fetch_add_explicit(&hm_tsan_fence_word_, 0, memory_order_acq_rel);
}
#else
static inline void hm_fence_seq_cst(void)
{
	atomic_thread_fence(memory_order_seq_cst);
}
static inline void hm_fence_acquire(void)
{
	atomic_thread_fence(memory_order_acquire);
}
static inline void hm_fence_release(void)
{
	atomic_thread_fence(memory_order_release);
}
#endif

/* A hint to the core that we are spinning (PAUSE on x86, YIELD on arm64). */
static inline void hm_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	atomic_signal_fence(memory_order_seq_cst);
#endif
}

/* A 16-byte pair updated as one unit by hm_cas128. Must be 16-byte aligned.
 * Readers load the two halves separately (each a lock-free 8-byte atomic); a
 * torn pair is harmless because every writer goes through hm_cas128, which
 * fails on a torn expected value and makes the caller reload. */
typedef struct hm_pair {
	hm_atomic_u64 lo;
	hm_atomic_u64 hi;
} __attribute__((aligned(16))) hm_pair;

static_assert(sizeof(hm_pair) == 16, "hm_pair must be 16 bytes");

/* Compare-and-swap of both halves at once, with acq_rel ordering on success
 * and acquire on failure (a full barrier on x86, where LOCK CMPXCHG16B is
 * sequentially consistent). On failure the current value is returned through
 * exp_lo/exp_hi. */
static inline bool hm_cas128(hm_pair *p, uint64_t *exp_lo, uint64_t *exp_hi, uint64_t new_lo,
			     uint64_t new_hi)
{
#if defined(HERMES_TSAN)
	/* TSan cannot see inside the assembly below; tell it this is a
	 * release/acquire point on the pair so ring data ordered by it is not
	 * reported as racing. */
	__tsan_release(p);
#endif
#if defined(__x86_64__)
	bool ok;
	uint64_t lo = *exp_lo, hi = *exp_hi;
	__asm__ __volatile__("lock cmpxchg16b %1"
			     : "=@ccz"(ok), "+m"(*p), "+a"(lo), "+d"(hi)
			     : "b"(new_lo), "c"(new_hi)
			     : "memory");
	*exp_lo = lo;
	*exp_hi = hi;
#else
	/* arm64 (with LSE: CASP; without: an LDAXP/STLXP loop) and other
	 * 64-bit targets: the compiler's 16-byte atomic, which is lock-free on
	 * these targets. */
	unsigned __int128 expected = ((unsigned __int128)*exp_hi << 64) | *exp_lo;
	unsigned __int128 desired = ((unsigned __int128)new_hi << 64) | new_lo;
	bool ok = __atomic_compare_exchange_n((unsigned __int128 *)(void *)p, &expected, desired,
					      false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	*exp_lo = (uint64_t)expected;
	*exp_hi = (uint64_t)(expected >> 64);
#endif
#if defined(HERMES_TSAN)
	__tsan_acquire(p);
#endif
	return ok;
}

#endif
