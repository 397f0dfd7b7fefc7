/* Log-linear histogram; see hdr_histogram.h for the bucket layout. */
#include "hdr_histogram.h"

#include <math.h>
#include <string.h>

void hm_hist_init(hm_hist *h)
{
	memset(h, 0, sizeof *h);
	h->min = UINT64_MAX;
}

unsigned hm_hist_index(uint64_t value)
{
	if (value > HM_HIST_MAX_VALUE)
		value = HM_HIST_MAX_VALUE;
	if (value < HM_HIST_SUB_BUCKETS)
		return (unsigned)value;
	/* For value in [2^msb, 2^(msb+1)), keep its top HM_HIST_SUB_BITS + 1
	 * bits: the leading one selects nothing (it is implied by msb), the
	 * seven below it pick the sub-bucket. */
	unsigned msb = 63u - (unsigned)__builtin_clzll(value);
	unsigned shift = msb - HM_HIST_SUB_BITS;
	unsigned sub = (unsigned)(value >> shift) - HM_HIST_SUB_BUCKETS;
	return (msb - HM_HIST_SUB_BITS + 1u) * HM_HIST_SUB_BUCKETS + sub;
}

uint64_t hm_hist_lowest_equivalent(unsigned index)
{
	if (index < HM_HIST_SUB_BUCKETS)
		return index;
	unsigned band = index / HM_HIST_SUB_BUCKETS; /* 1 for [128, 256), ... */
	unsigned sub = index % HM_HIST_SUB_BUCKETS;
	return (uint64_t)(HM_HIST_SUB_BUCKETS + sub) << (band - 1u);
}

uint64_t hm_hist_highest_equivalent(unsigned index)
{
	if (index < HM_HIST_SUB_BUCKETS)
		return index;
	unsigned band = index / HM_HIST_SUB_BUCKETS;
	return hm_hist_lowest_equivalent(index) + (UINT64_C(1) << (band - 1u)) - 1u;
}

void hm_hist_record(hm_hist *h, uint64_t value)
{
	if (value > HM_HIST_MAX_VALUE)
		h->saturated++;
	h->counts[hm_hist_index(value)]++;
	h->total++;
	h->sum += (double)value;
	if (value < h->min)
		h->min = value;
	if (value > h->max)
		h->max = value;
}

void hm_hist_merge(hm_hist *into, const hm_hist *from)
{
	for (unsigned i = 0; i < HM_HIST_COUNTERS; i++)
		into->counts[i] += from->counts[i];
	into->total += from->total;
	into->saturated += from->saturated;
	into->sum += from->sum;
	if (from->total && from->min < into->min)
		into->min = from->min;
	if (from->max > into->max)
		into->max = from->max;
}

/* A bucket's reported value: its highest equivalent value, but never
 * outside what was really recorded, so p100 is the exact maximum and a
 * histogram of one repeated value reports that value. */
static uint64_t reported_value(const hm_hist *h, unsigned index)
{
	uint64_t v = hm_hist_highest_equivalent(index);
	if (v > h->max)
		v = h->max;
	if (v < h->min)
		v = h->min;
	return v;
}

uint64_t hm_hist_percentile(const hm_hist *h, double percentile)
{
	if (h->total == 0)
		return 0;
	if (percentile < 0.0)
		percentile = 0.0;
	if (percentile > 100.0)
		percentile = 100.0;
	/* The rank of the value asked for, counting from 1: the smallest count
	 * that covers `percentile` percent of the values. */
	uint64_t rank = (uint64_t)ceil(percentile / 100.0 * (double)h->total);
	if (rank < 1)
		rank = 1;
	if (rank > h->total)
		rank = h->total;
	uint64_t seen = 0;
	for (unsigned i = 0; i < HM_HIST_COUNTERS; i++) {
		seen += h->counts[i];
		if (seen >= rank)
			return reported_value(h, i);
	}
	return h->max;
}

double hm_hist_mean(const hm_hist *h)
{
	return h->total ? h->sum / (double)h->total : 0.0;
}

double hm_hist_stddev(const hm_hist *h)
{
	if (h->total == 0)
		return 0.0;
	/* From the buckets (at their midpoints) rather than a running sum of
	 * squares, which loses all precision for large nanosecond values. */
	double mean = hm_hist_mean(h), acc = 0.0;
	for (unsigned i = 0; i < HM_HIST_COUNTERS; i++) {
		if (!h->counts[i])
			continue;
		double mid = ((double)hm_hist_lowest_equivalent(i) +
			      (double)hm_hist_highest_equivalent(i)) / 2.0;
		acc += (double)h->counts[i] * (mid - mean) * (mid - mean);
	}
	return sqrt(acc / (double)h->total);
}

/* The next percentile to report after `level`: the distance left to 100 %
 * is cut into halves, and each half into `ticks` steps, so reporting gets
 * finer towards the tail (50, 55, ... 75, 77.5, ... 87.5, 88.75, ...). */
static double next_level(double level, unsigned ticks)
{
	double halvings = floor(log2(100.0 / (100.0 - level))) + 1.0;
	return level + 100.0 / (pow(2.0, halvings) * (double)ticks);
}

bool hm_hist_print_percentiles(const hm_hist *h, FILE *out, unsigned ticks_per_half,
			       double unit_scale)
{
	if (ticks_per_half == 0)
		ticks_per_half = 5;
	if (unit_scale <= 0.0)
		unit_scale = 1.0;
	fprintf(out, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount",
		"1/(1-Percentile)");
	double level = 0.0;
	uint64_t seen = 0;
	for (unsigned i = 0; i < HM_HIST_COUNTERS && seen < h->total; i++) {
		if (!h->counts[i])
			continue;
		seen += h->counts[i];
		double v = (double)reported_value(h, i) / unit_scale;
		/* Every reporting level this bucket reaches gets a row; the
		 * bucket holding the last value ends the table with the 100 %
		 * row (whose 1/(1-p) column would be infinite). */
		while ((double)seen * 100.0 >= level * (double)h->total) {
			if (seen == h->total) {
				if (level < 100.0)
					fprintf(out, "%12.3f %2.12f %10llu %14.2f\n", v, level / 100.0,
						(unsigned long long)seen, 100.0 / (100.0 - level));
				fprintf(out, "%12.3f %2.12f %10llu\n", v, 1.0,
					(unsigned long long)seen);
				break;
			}
			fprintf(out, "%12.3f %2.12f %10llu %14.2f\n", v, level / 100.0,
				(unsigned long long)seen, 100.0 / (100.0 - level));
			level = next_level(level, ticks_per_half);
		}
	}
	unsigned used_bands = 0;
	if (h->total)
		used_bands = hm_hist_index(h->max) / HM_HIST_SUB_BUCKETS + 1u;
	fprintf(out, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n", hm_hist_mean(h) / unit_scale,
		hm_hist_stddev(h) / unit_scale);
	fprintf(out, "#[Max     = %12.3f, Total count    = %12llu]\n",
		(double)(h->total ? h->max : 0) / unit_scale, (unsigned long long)h->total);
	fprintf(out, "#[Buckets = %12u, SubBuckets     = %12u]\n", used_bands, HM_HIST_SUB_BUCKETS);
	return !ferror(out);
}
