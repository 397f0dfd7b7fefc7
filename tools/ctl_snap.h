/* A snapshot of a bus, read lock-free from a read-only mapping: the
 * supervisor's presence, every ready ring with its counters, and every
 * producer and subscriber slot in use. All of hermes-ctl's read commands
 * (list, inspect, clients, watch, metrics) render snapshots, so they agree
 * on what each number means.
 *
 * Nothing here takes a lock or writes to the segment: the values are read
 * with relaxed (or, where the ring code offers a consistent reader, acquire)
 * loads while producers and subscribers keep running, so a snapshot is a
 * close approximation of one instant, not an atomic picture. */
#ifndef HM_TOOLS_CTL_SNAP_H
#define HM_TOOLS_CTL_SNAP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <hermes/bus.h>

#include "shm/layout.h"

/* The supervisor counts as up when its pid is alive with the recorded start
 * time and its heartbeat (every 200 ms) is younger than this. */
#define CTL_HEARTBEAT_STALE_NS 2000000000ull

typedef enum ctl_sup_state {
	CTL_SUP_UP = 0,
	CTL_SUP_NEVER,	  /* no hermesd ever owned the segment (or it stopped cleanly) */
	CTL_SUP_GONE,	  /* the recorded pid is dead (e.g. killed) */
	CTL_SUP_STALLED,  /* the pid lives but the heartbeat is stale */
} ctl_sup_state;

typedef struct ctl_sup {
	ctl_sup_state state;
	pid_t pid;
	uint64_t heartbeat_age_ns; /* UINT64_MAX when there is no heartbeat */
	char control_path[256];
} ctl_sup;

typedef struct ctl_owner {
	uint32_t slot;
	pid_t pid;
	uint64_t start; /* clock ticks since boot, as recorded in the slot */
	bool alive;
	char comm[17];
	/* The application name and instance its process attached with, from
	 * hermesd (tools/ctl_names.h); named false when hermesd did not say. */
	bool named;
	char app[HERMES_APP_NAME_MAX + 1];
	char instance[HERMES_APP_INSTANCE_MAX + 1];
} ctl_owner;

typedef struct ctl_prod {
	ctl_owner o;
	bool active; /* a claim may be outstanding */
	uint64_t intent_seq;
	uint32_t intent_count;
	uint64_t msgs, bytes, full_events, aborts;
} ctl_prod;

typedef struct ctl_sub {
	ctl_owner o;
	uint64_t pos, seq; /* released cursor: seq is the next it will read */
	uint64_t lag_msgs, lag_bytes;
	uint32_t wait_mode; /* hermes_wait_mode */
	bool sleeping;
	uint64_t msgs, bytes, lost, skipped, corrupt;
	bool orphaned; /* a durable subscriber without a process (o.comm: its name) */
} ctl_sub;

typedef struct ctl_ring {
	uint32_t index; /* directory slot */
	char name[HM_NAME_MAX];
	uint64_t created_ns; /* CLOCK_REALTIME: with the name, identifies the ring */
	uint32_t policy;
	uint64_t capacity, slots;
	uint32_t max_msg;
	uint64_t tail_pos, tail_seq; /* bytes and messages ever claimed */
	uint64_t limit, seq_limit;
	uint64_t repairs, repaired_msgs, limit_scans, dead_subs;
	uint32_t waiters;
	uint64_t corrupt; /* records that failed validation (HERMES_ECORRUPT) */
	bool deleted;
	/* What the slowest subscriber holds back: bytes and message slots
	 * between its cursor and the tail, capped at the ring's size. */
	uint64_t fill_bytes, fill_msgs;
	double fill_ratio; /* max(bytes / capacity, messages / slots), 0..1 */
	uint64_t lost, skipped; /* sums over the current subscribers */
	unsigned nprods, nsubs;
	ctl_prod prods[HM_MAX_PRODUCERS];
	ctl_sub subs[HM_MAX_SUBSCRIBERS];
} ctl_ring;

/* A directory entry that failed validation (shm/segment.c): hermesd
 * quarantines it, clients cannot open it, the tools show it as corrupt. */
typedef struct ctl_corrupt {
	uint32_t index;
	char name[HM_NAME_MAX];
	char why[240];
} ctl_corrupt;

typedef struct ctl_snap {
	char bus[HM_NAME_MAX];
	char path[96]; /* /dev/shm/hermes.<bus> */
	uint64_t segment_size, created_ns, dir_generation;
	uint64_t taken_ns; /* CLOCK_MONOTONIC when the snapshot was taken */
	ctl_sup sup;
	unsigned nrings;
	ctl_ring rings[HM_MAX_RINGS];
	unsigned ncorrupt;
	ctl_corrupt corrupt[HM_MAX_RINGS];
} ctl_snap;

/* Fill *s from an attached (read-only) bus. With procs false, owners' names
 * and liveness are not looked up in /proc (cheaper, for rate samples). */
void ctl_snap_take(hermes_bus *bus, ctl_snap *s, bool procs);

/* The ring named `name`, or NULL. */
const ctl_ring *ctl_snap_ring(const ctl_snap *s, const char *name);

/* The corrupt entry named `name`, or NULL. */
const ctl_corrupt *ctl_snap_corrupt(const ctl_snap *s, const char *name);

/* The same ring (name and creation time) in another snapshot, or NULL. */
const ctl_ring *ctl_snap_same_ring(const ctl_snap *s, const ctl_ring *r);

/* "up", "DOWN (...)": a short human description of the supervisor. */
const char *ctl_sup_describe(const ctl_sup *sup, char *buf, size_t len);

const char *ctl_policy_name(uint32_t policy);
const char *ctl_wait_mode_name(uint32_t mode);

#endif
