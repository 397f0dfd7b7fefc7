/* A log-linear latency histogram in the style of HdrHistogram, for the
 * benchmarks.
 *
 * Values are non-negative integers (the benchmarks record nanoseconds).
 * Values below HM_HIST_SUB_BUCKETS are counted exactly; above that, every
 * power of two [2^k, 2^(k+1)) is split into HM_HIST_SUB_BUCKETS equal
 * sub-buckets, so a recorded value is known to within 1/128 (< 0.8 %) of
 * itself: two significant decimal digits everywhere in the range. The range
 * ends at HM_HIST_MAX_VALUE (2^42 - 1 ns, about 73 minutes); larger values are
 * counted in the last bucket and reported as saturated.
 *
 * The counters are a fixed array inside the struct, so hm_hist_record never
 * allocates, locks or makes a system call: it is safe to call in a measured
 * loop. A histogram is about 36 KiB; keep it off small thread stacks.
 * Not thread-safe: one writer, and read it only when the writer is done.
 */
#ifndef HM_BENCH_HDR_HISTOGRAM_H
#define HM_BENCH_HDR_HISTOGRAM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define HM_HIST_SUB_BITS 7
#define HM_HIST_SUB_BUCKETS (1u << HM_HIST_SUB_BITS) /* 128 per power of two */
#define HM_HIST_MAX_BITS 42
#define HM_HIST_MAX_VALUE ((UINT64_C(1) << HM_HIST_MAX_BITS) - 1)
/* One exact run of 128 counters for [0, 128), then 128 per power of two
 * from 2^7 up to 2^41. */
#define HM_HIST_COUNTERS (HM_HIST_SUB_BUCKETS * (HM_HIST_MAX_BITS - HM_HIST_SUB_BITS + 1))

typedef struct hm_hist {
	uint64_t total;
	uint64_t saturated; /* values above HM_HIST_MAX_VALUE */
	uint64_t min;
	uint64_t max;
	double sum;	/* for the mean */
	double sum_sq;	/* for the standard deviation */
	uint64_t counts[HM_HIST_COUNTERS];
} hm_hist;

/* Empty `h` (caller's memory). */
void hm_hist_init(hm_hist *h);

/* Count one value. Values above HM_HIST_MAX_VALUE are clamped to it (and
 * counted in h->saturated). Never allocates. */
void hm_hist_record(hm_hist *h, uint64_t value);

/* Add every count of `from` into `into`. */
void hm_hist_merge(hm_hist *into, const hm_hist *from);

/* The value below or at which `percentile` percent (0..100) of the recorded
 * values lie, as the highest value equivalent to the bucket that holds it
 * (never above the largest value recorded). 0 for an empty histogram. */
uint64_t hm_hist_percentile(const hm_hist *h, double percentile);

double hm_hist_mean(const hm_hist *h);
double hm_hist_stddev(const hm_hist *h);

/* The bucket index of `value`, and the lowest and highest values that share
 * it. Exposed for tests and for readers who want to check the precision. */
unsigned hm_hist_index(uint64_t value);
uint64_t hm_hist_lowest_equivalent(unsigned index);
uint64_t hm_hist_highest_equivalent(unsigned index);

/* Print the percentile distribution in the classic HdrHistogram text form:
 * a header line, then "Value Percentile TotalCount 1/(1-Percentile)" rows
 * with `ticks_per_half` reporting steps for every halving of the distance to
 * 100 % (5 is customary), then "#[Mean ...]" footer lines. Values are divided
 * by `unit_scale` (e.g. 1000.0 to print microseconds from nanoseconds).
 * gnuplot reads it directly: plot column 4 (log x) against column 1.
 * Returns false on a write error. */
bool hm_hist_print_percentiles(const hm_hist *h, FILE *out, unsigned ticks_per_half,
			       double unit_scale);

#endif
