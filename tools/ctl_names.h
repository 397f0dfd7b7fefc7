/* Client names for hermes-ctl: the application name and instance each
 * process attached with (hermes_attach_opts), which only hermesd knows: asked
 * over its control socket (HM_CTL_NAMES) and checked here, since the answer
 * comes from another process. clients, inspect and metrics show them beside
 * (or, in metrics labels, instead of) the kernel's 15-byte process name. */
#ifndef HM_TOOLS_CTL_NAMES_H
#define HM_TOOLS_CTL_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "shm/app_name.h"
#include "shm/control.h"
#include "tools/ctl.h"
#include "tools/ctl_snap.h"

/* Send one request with op `op` to the hermesd of the bus (its control
 * socket as ctl_control_path finds it) and wait up to 2 s for the answer:
 * *out, for the caller to free(). An error, with its detail
 * (hermes_last_error_detail), when out of memory or hermesd cannot be asked
 * or refuses. */
hermes_err ctl_supervisor_ask(const ctl_ctx *ctx, hermes_bus *bus, uint32_t op,
			      hm_ctl_resp **out);

typedef struct ctl_names {
	unsigned n;
	hm_ctl_label v[HM_CTL_MAX_CLIENTS];
} ctl_names;

/* Ask the hermesd of the bus (its control socket as ctl_control_path finds
 * it) for the names of its connected clients. An error (n = 0, with its
 * detail) when it cannot be asked or is older than names; records whose
 * name or instance fail the checks of shm/app_name.h are dropped. */
hermes_err ctl_names_fetch(const ctl_ctx *ctx, hermes_bus *bus, ctl_names *out);

/* The record of the client with this pid (as the kernel gives it to
 * hermesd), or NULL. */
const hm_ctl_label *ctl_names_find(const ctl_names *names, pid_t pid);

/* Give every producer and subscriber slot owner of s its client's name (or
 * none: call it after each ctl_snap_take, also when the fetch failed). */
void ctl_names_apply(const ctl_names *names, ctl_snap *s);

/* Fetch (when hermesd is up, or a run directory was given) and apply, for
 * the commands that show owners. */
void ctl_names_snap(const ctl_ctx *ctx, hermes_bus *bus, ctl_snap *s);

/* An owner's client name: its application name, else its process name (an
 * owner hermesd does not know, or hermesd is down). */
const char *ctl_owner_client(const ctl_owner *o);

/* For text tables: "NAME/INSTANCE", "NAME", or the process name. */
const char *ctl_owner_label(const ctl_owner *o, char *buf, size_t len);

#endif
