/* hermesd configuration: an INI file (our own strict parser), the embedded
 * default used when no file is given, environment, then flags.
 *
 *   [bus]
 *   name = default          ; HERMES_BUS overrides, --bus overrides both
 *   size = 64M              ; segment bytes (K, M, G suffixes)
 *   mode = 0600             ; segment and socket mode; never world-writable
 *   group =                 ; group name or gid that gets the group bits
 *   run_dir =               ; HERMES_RUN_DIR; default /run/hermes (root) or
 *                           ; $XDG_RUNTIME_DIR/hermes or /tmp/hermes-<uid>
 *   remove_on_exit = false  ; unlink the segment on SIGTERM/SIGINT
 *   cpu_affinity =          ; e.g. 2,3 or 4-7: pin the supervisor
 *   rt_priority = 0         ; SCHED_FIFO priority 1..99, 0 = normal
 *   log_level = info        ; error, warn, info, debug
 *
 *   [ring orders]
 *   capacity = 1M           ; power of two
 *   max_msg = 4096
 *   policy = block          ; or overwrite
 *   slots = 0               ; 0 = capacity / 64
 *
 * Unknown sections and keys, a section or key given twice, a name that does
 * not fit, are errors reported with their line. A [ring NAME] section
 * without keys declares a ring with every default.
 */
#ifndef HM_CONFIG_H
#define HM_CONFIG_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <hermes/bus.h>

#include "daemon/sched.h"
#include "core/units.h"
#include "shm/layout.h"

typedef struct hm_ring_decl {
	char name[HM_NAME_MAX];
	hermes_ring_config cfg; /* cfg.name points at name */
} hm_ring_decl;

typedef struct hm_config {
	char bus[HM_NAME_MAX];
	char run_dir[200];
	uint64_t size;
	unsigned mode;
	gid_t group; /* (gid_t)-1: none */
	bool remove_on_exit;
	bool have_cpus;
	cpu_set_t cpus;
	int rt_priority;
	int log_level; /* HM_DLOG_* (daemon/log.h) */
	unsigned nrings;
	hm_ring_decl rings[HM_MAX_RINGS];
} hm_config;

/* The embedded default: bus "default" (or HERMES_BUS), 64 MiB, mode 0600, the
 * default run directory (or HERMES_RUN_DIR), and two rings: "events" (block,
 * 1 MiB) and "telemetry" (overwrite, 1 MiB). */
void hm_config_defaults(hm_config *c);

/* Read an INI file over the current values. The file's [ring] sections
 * replace the default rings. HERMES_EINVAL on any problem (unreadable file,
 * syntax, unknown key, bad value), the detail (hermes_last_error_detail())
 * saying what and where: "FILE:LINE: why". */
hermes_err hm_config_load_file(hm_config *c, const char *path);

/* The same from a string (tests). */
hermes_err hm_config_load_string(hm_config *c, const char *text);

/* Set one [bus] key from a command-line flag (no line in the detail). */
hermes_err hm_config_set(hm_config *c, const char *key, const char *value);

/* Apply HERMES_BUS and HERMES_RUN_DIR. */
void hm_config_apply_env(hm_config *c);

/* Check the whole configuration (ring sizes fit the segment, ...):
 * HERMES_EINVAL with the reason in the detail. */
hermes_err hm_config_check(hm_config *c);

/* The run directory used when neither config nor HERMES_RUN_DIR says. */
void hm_default_run_dir(char *buf, size_t len);

#endif
