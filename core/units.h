/* Sizes and durations in configuration values and flags: one syntax for the
 * daemons (hermesd, hermes-bridge, hermes-nats, hermes-journal) and
 * hermes-ctl. Internal to libhermes-ipc (hm_ names, not exported). */
#ifndef HERMES_CORE_UNITS_H
#define HERMES_CORE_UNITS_H

#include <stdbool.h>
#include <stdint.h>

/* "64M" -> 67108864: decimal digits, then optionally K, M, G or T (powers of
 * 1024, either case, optionally followed by "i"), then optionally "B".
 * False on anything else (signs, spaces, other suffixes) and on overflow. */
bool hm_parse_size(const char *s, uint64_t *out);

/* "250ms", "2s", "1m", "1h", "7d": decimal digits, then optionally one of
 * those units; a bare number counts the caller's unit, bare_ns nanoseconds
 * (what its key documents: milliseconds for most, seconds for
 * hermes-journal's retention). Nanoseconds in *out; false on anything else
 * (signs, spaces, other suffixes) and when the result overflows 64 bits. */
bool hm_parse_duration_ns(const char *s, uint64_t bare_ns, uint64_t *out);

/* The same syntax, a bare number in milliseconds, the result in
 * milliseconds; at most 2^40 of the given unit. */
bool hm_parse_duration_ms(const char *s, int64_t *out);

#endif
