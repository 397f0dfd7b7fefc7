/* hermes-journal configuration: an INI file (libinih), then flags.
 *
 *   [journal]
 *   bus = default            ; HERMES_BUS overrides, --bus overrides both
 *   log_level = info         ; error, warn, info, debug
 *
 *   [ring orders]            ; one section per journaled ring
 *   journal = /var/lib/hermes/journal/orders   ; the ring's directory (required)
 *   file_size = 64M          ; bytes per segment file (multiple of 4K, 64K..1T)
 *   retention_bytes = 0      ; delete the oldest files beyond this (0 = keep all)
 *   retention_age = 0        ; and files older than this (7d, 12h, 30m, 10s; 0 = keep)
 *   fsync = none             ; none: the kernel writes back when it likes;
 *                            ; interval: msync every fsync_interval;
 *                            ; batch: msync each batch before the ring space is released
 *   fsync_interval = 1s
 *   durable = false          ; true: never drop; a full disk holds the ring
 *                            ; (a block ring's producers wait) instead of losing
 *
 * Unknown sections and keys, empty values and duplicates are errors,
 * reported with their line. */
#ifndef HM_REC_RCONFIG_H
#define HM_REC_RCONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <hermes/bus.h>

#include "journal/journal.h"

#define HM_REC_MAX_RINGS 64

enum hm_rec_fsync { HM_REC_FSYNC_NONE = 0, HM_REC_FSYNC_INTERVAL = 1, HM_REC_FSYNC_BATCH = 2 };

typedef struct hm_rec_ring_conf {
	char name[HERMES_NAME_MAX + 1];
	char dir[PATH_MAX];
	hm_jopts opts;
	int fsync;
	uint64_t fsync_interval_ns;
	bool durable;
	unsigned seen; /* keys given, to refuse duplicates */
} hm_rec_ring_conf;

typedef struct hm_rec_config {
	char bus[HERMES_NAME_MAX + 1];
	int log_level; /* HM_DLOG_* (daemon/log.h) */
	unsigned nrings;
	hm_rec_ring_conf rings[HM_REC_MAX_RINGS];
	unsigned seen;
} hm_rec_config;

void hm_rec_config_defaults(hm_rec_config *c);

/* Read an INI file (or a string, for tests) over c. HERMES_EINVAL on any
 * problem, the detail (hermes_last_error_detail()) naming the line: "FILE:LINE:
 * why". Every function here that fails says why in the detail. */
hermes_err hm_rec_config_load_file(hm_rec_config *c, const char *path);
hermes_err hm_rec_config_load_string(hm_rec_config *c, const char *text);

/* Add a ring from the command line: NAME:DIR (defaults for the rest). */
hermes_err hm_rec_config_add_ring(hm_rec_config *c, const char *spec);

/* A flag (daemon/cli.h's hm_cli_setter): key "ring" adds a ring
 * (hm_rec_config_add_ring); "bus" and "log_level" set the [journal] keys over
 * the file's. HERMES_EINVAL with the reason in the detail on a bad value. */
hermes_err hm_rec_config_set(hm_rec_config *c, const char *section, const char *key, const char *value);

/* $HERMES_BUS, unless the file named the bus. */
void hm_rec_config_apply_env(hm_rec_config *c);

/* Every ring has a directory, no two share one. */
hermes_err hm_rec_config_check(hm_rec_config *c);


const char *hm_rec_fsync_name(int f);

#endif
