/* The bridge's counters file, written by its event loop. The layout, and
 * how readers read it, is stats_layout.h. */
#ifndef HM_BRIDGE_STATS_H
#define HM_BRIDGE_STATS_H

#include <stddef.h>
#include <stdint.h>

#include <hermes/error.h>

#include "tcp-bridge/bridge/stats_layout.h"

/* Single-writer increment: relaxed load and store (no RMW needed, nobody
 * else writes; readers only need each value to be untorn). */
static inline void hm_stat_add(hm_atomic_u64 *c, uint64_t n)
{
	hm_store_relaxed_u64(c, hm_load_relaxed_u64(c) + n);
}
static inline void hm_stat_set(hm_atomic_u64 *c, uint64_t v)
{
	hm_store_relaxed_u64(c, v);
}

/* Create (or take over) dir/hermes-bridge.<bus>.<port>, mapped into *out,
 * its path into path. Without a directory (stats disabled) or when the file
 * cannot be made, *out points to process-private memory so the bridge counts
 * all the same: HERMES_OK, or when the file could not be made the error of
 * the system call with the detail "counters file in DIR: REASON" (the caller
 * logs it and goes on). *out is NULL only when not even memory could be had. */
hermes_err hm_stats_open(const char *dir, const char *bus, unsigned port, unsigned mode,
			 hm_bridge_stats **out, char *path, size_t pathlen);
void hm_stats_close(hm_bridge_stats *s, const char *path);

#endif
