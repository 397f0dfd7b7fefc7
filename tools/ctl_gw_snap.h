/* Snapshots of the bus's gateways: the TCP bridges (hermes-bridge) and the
 * NATS uplink (hermes-nats). Each keeps its counters in a small file of its
 * own next to the bus segment (tcp-bridge/bridge/stats_layout.h and
 * nats-uplink/state_layout.h describe the layouts and how to read
 * them); these functions copy them, lock-free and read-only, into plain
 * structs that the `bridges`, `uplink`, `list` and `metrics` commands
 * render.
 *
 * Like ctl_snap.c, nothing here writes to the files or waits for their
 * writers: counters are loaded relaxed while the gateways run, so two
 * counters may come from slightly different moments, but none is torn. */
#ifndef HM_TOOLS_CTL_GW_SNAP_H
#define HM_TOOLS_CTL_GW_SNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <hermes/error.h>

#define CTL_STATS_DIR_DEFAULT "/dev/shm"

/* At most this many bridge files of one bus are read (one per port). */
#define CTL_GW_MAX_BRIDGES 32
#define CTL_GW_MAX_LINKS 16	 /* HM_BRIDGE_STATS_LINKS, asserted in the .c */
#define CTL_GW_MAX_UPLINK_RINGS 64 /* HM_NATS_STATE_MAX_RINGS, asserted in the .c */

typedef struct ctl_bridge_link {
	char name[64];
	char peer[128];
	uint64_t state; /* hm_link_state: 0 down, 1 connecting, 2 up */
	uint64_t connects, disconnects, exported, imported, export_lag, duplicates, losses;
	uint64_t last_error; /* hermes_err of the last disconnect, 0 if none */
} ctl_bridge_link;

/* The counters of one bridge, named as in hm_bridge_counters. */
typedef struct ctl_bridge_counters {
	uint64_t connections_accepted, connections_open, connections_refused;
	uint64_t handshakes_ok, auth_failures, handshake_timeouts, protocol_errors, errors_sent;
	uint64_t frames_in, bytes_in, frames_out, bytes_out;
	uint64_t publishes, publish_errors, acks, delivers, drops, loss_notices, slow_disconnects;
	uint64_t ring_losses, subscriptions, channels, publish_stalls, publish_timeouts;
} ctl_bridge_counters;

typedef struct ctl_bridge {
	char path[512];
	pid_t pid;
	bool alive; /* the recorded pid runs (the file records no start time) */
	uint64_t start_ns; /* CLOCK_REALTIME */
	uint64_t bus_id;
	unsigned port;
	char listen[128];
	char name[192];
	ctl_bridge_counters c;
	unsigned nlinks;
	ctl_bridge_link links[CTL_GW_MAX_LINKS];
} ctl_bridge;

/* A bridge file that could not be read, and why ("not ready yet: ...",
 * "incompatible: ..."). */
typedef struct ctl_gw_skip {
	char path[512];
	char why[160];
} ctl_gw_skip;

typedef struct ctl_bridges {
	char dir[256];
	unsigned n, nskipped;
	ctl_bridge v[CTL_GW_MAX_BRIDGES];
	ctl_gw_skip skipped[CTL_GW_MAX_BRIDGES];
} ctl_bridges;

/* Read every DIR/hermes-bridge.<bus>.<port>. An error, with its detail,
 * only when the directory itself cannot be read (a missing directory is no
 * error: no bridges). Files that are half-written, of another version or
 * for another bus (by their header) are listed in skipped[]. */
hermes_err ctl_bridges_read(const char *dir, const char *bus, ctl_bridges *out);

typedef struct ctl_uplink_ring {
	char name[48];
	char subject[144];
	char stream[64];
	uint32_t dir, mode, policy; /* hm_nats_dir, hm_nats_mode, hm_nats_policy */
	uint64_t max_pending;
	struct {
		uint64_t state, msgs, bytes, batches, dropped, dropped_bytes, blocked_events,
			blocked_ns, skipped_inbound, ring_lost, errors, retries, duplicates,
			pending_bytes, pending_max, next_seq;
	} out;
	struct {
		uint64_t state, msgs, bytes, batches, own_skipped, dup_skipped, lost, gap_events,
			client_dropped, too_big, ring_full_events, errors, consumer_resets, resolved,
			pending_bytes, applied;
	} in;
} ctl_uplink_ring;

typedef enum ctl_uplink_file {
	CTL_UPLINK_ABSENT = 0,	   /* no file: no uplink ever ran on this bus */
	CTL_UPLINK_NOT_READY,	   /* the file exists but is not initialised yet */
	CTL_UPLINK_UNREADABLE,	   /* cannot be opened, another layout, not a state file */
	CTL_UPLINK_OK,
} ctl_uplink_file;

/* The uplink's heartbeat moves every 250 ms; older than this is stalled. */
#define CTL_UPLINK_STALE_NS 2000000000ull

typedef struct ctl_uplink {
	char path[512];
	ctl_uplink_file file;
	char why[192]; /* for NOT_READY and UNREADABLE */
	char bus[48];
	uint64_t bus_id;
	pid_t pid;
	bool alive;		   /* pid with the recorded start time runs */
	bool up;		   /* alive and the heartbeat is fresh */
	uint64_t heartbeat_age_ns; /* UINT64_MAX when there is no heartbeat */
	uint64_t started_ns, runs;
	char prefix[88];
	uint64_t conn_state; /* hm_nats_conn_state */
	uint64_t connects, disconnects, reconnects, errors, changed_ns;
	bool text_consistent; /* url and last_error were read between writes */
	char url[256];
	char last_error[256];
	unsigned nrings;
	ctl_uplink_ring rings[CTL_GW_MAX_UPLINK_RINGS];
} ctl_uplink;

/* Read DIR/hermes-nats.<bus> into *u (u->file says what was found). */
void ctl_uplink_read(const char *dir, const char *bus, ctl_uplink *u);

/* "running", "stalled" (alive, heartbeat stale), "stopped" (exited
 * cleanly), "gone" (died). */
const char *ctl_uplink_process_state(const ctl_uplink *u);
const char *ctl_link_state_name(uint64_t s);
const char *ctl_uplink_conn_name(uint64_t s);
const char *ctl_uplink_worker_name(uint64_t s);
const char *ctl_uplink_dir_name(uint32_t d);
const char *ctl_uplink_mode_name(uint32_t m);
const char *ctl_uplink_policy_name(uint32_t p);

#endif
