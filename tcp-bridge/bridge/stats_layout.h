/* The layout of the bridge's counters file, which hermes-ctl reads: the one
 * header of the bridge that tools include (the writer is stats.h).
 *
 * hermes-bridge keeps its counters in a small shared-memory file,
 * /dev/shm/hermes-bridge.<bus>.<port> (the directory is configurable with
 * stats_dir; mode 0600 by default), so any tool can read them without asking
 * the bridge and without the bridge spending anything when idle. The layout:
 *
 *   offset 0     hm_bridge_stats_header (512 B): magic, version, sizes, pid, ...
 *   offset 512   hm_bridge_counters     (512 B): connection, frame, byte, error counters
 *   offset 1024  hm_bridge_link_stats[HM_BRIDGE_STATS_LINKS] (512 B each)
 *
 * Every field is little-endian (the host's; x86-64 and arm64 are both),
 * naturally aligned, fixed width. There is one writer, the bridge's event
 * loop, storing each counter with a relaxed atomic store; readers load them
 * relaxed (each value is exact, two values may be from slightly different
 * moments). The writer stores `magic` last with release when it created the
 * file; a reader that loads it with acquire and sees HM_BRIDGE_STATS_MAGIC
 * sees a complete header. A stale file (the bridge died) is recognised by
 * `pid` no longer running; a restarted bridge truncates and rewrites it. */
#ifndef HM_BRIDGE_STATS_LAYOUT_H
#define HM_BRIDGE_STATS_LAYOUT_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "core/atomics.h"

/* "HMBRSTAT" read as a little-endian u64. */
#define HM_BRIDGE_STATS_MAGIC 0x5441545352424d48ull
#define HM_BRIDGE_STATS_VERSION 1u
#define HM_BRIDGE_STATS_LINKS 16u

typedef struct hm_bridge_stats_header {
	hm_atomic_u64 magic;	      /* HM_BRIDGE_STATS_MAGIC, stored last (release) */
	uint32_t version;	      /* HM_BRIDGE_STATS_VERSION */
	uint32_t size;		      /* bytes of the whole file */
	uint32_t counters_offset;     /* 512 */
	uint32_t links_offset;	      /* 1024 */
	uint32_t link_size;	      /* 512 */
	uint32_t max_links;	      /* HM_BRIDGE_STATS_LINKS */
	uint64_t pid;		      /* the bridge process */
	uint64_t start_realtime_ns;   /* when it started (CLOCK_REALTIME) */
	uint64_t bus_id;	      /* origin id of this bus on links */
	uint32_t nlinks;	      /* link entries in use */
	uint32_t listen_port;
	char bus[64];		      /* NUL-terminated */
	char listen[128];	      /* "127.0.0.1:7400" */
	char name[256 - 64];	      /* server name, NUL-terminated (truncated) */
	uint8_t reserved_[512 - 64 - 64 - 128 - 192];
} hm_bridge_stats_header;

typedef struct hm_bridge_counters {
	hm_atomic_u64 connections_accepted; /* TCP connections accepted, ever */
	hm_atomic_u64 connections_open;	    /* open now */
	hm_atomic_u64 connections_refused;  /* over max_connections */
	hm_atomic_u64 handshakes_ok;	    /* sessions started */
	hm_atomic_u64 auth_failures;	    /* wrong key, unknown identity, auth required */
	hm_atomic_u64 handshake_timeouts;
	hm_atomic_u64 protocol_errors;	    /* connections closed for malformed input */
	hm_atomic_u64 errors_sent;	    /* ERROR frames sent, fatal or not */
	hm_atomic_u64 frames_in;
	hm_atomic_u64 bytes_in;
	hm_atomic_u64 frames_out;
	hm_atomic_u64 bytes_out;
	hm_atomic_u64 publishes;	    /* messages committed for remote publishers */
	hm_atomic_u64 publish_errors;	    /* PUBLISH answered with ERROR */
	hm_atomic_u64 acks;		    /* PUBLISH_ACK sent */
	hm_atomic_u64 delivers;		    /* DELIVER frames sent */
	hm_atomic_u64 drops;		    /* messages not delivered: slow-subscriber drop, too large */
	hm_atomic_u64 loss_notices;	    /* LOSS frames sent */
	hm_atomic_u64 slow_disconnects;	    /* connections closed by the disconnect policy */
	hm_atomic_u64 ring_losses;	    /* messages the bridge's cursors lost on overwrite rings */
	hm_atomic_u64 subscriptions;	    /* open now */
	hm_atomic_u64 channels;		    /* bound now */
	hm_atomic_u64 publish_stalls;	    /* times a full block ring paused a publisher */
	hm_atomic_u64 publish_timeouts;	    /* PUBLISH failed with HERMES_EAGAIN */
	uint8_t reserved_[512 - 24 * 8];
} hm_bridge_counters;

enum hm_link_state {
	HM_LINK_DOWN = 0,	/* not connected; waiting to retry */
	HM_LINK_CONNECTING = 1, /* TCP connect or handshake in progress */
	HM_LINK_UP = 2,		/* session established */
};

typedef struct hm_bridge_link_stats {
	char name[64];		     /* link name from the configuration */
	char peer[128];		     /* HOST:PORT */
	hm_atomic_u64 state;	     /* hm_link_state */
	hm_atomic_u64 connects;	     /* sessions established */
	hm_atomic_u64 disconnects;   /* sessions lost */
	hm_atomic_u64 exported;	     /* messages sent to the peer (acked) */
	hm_atomic_u64 imported;	     /* messages committed here from the peer */
	hm_atomic_u64 export_lag;    /* messages in exported rings not yet acked by the peer */
	hm_atomic_u64 duplicates;    /* resent messages the peer had already committed */
	hm_atomic_u64 losses;	     /* messages the link could not carry (LOSS, lapped) */
	hm_atomic_u64 last_error;    /* hermes_err of the last disconnect */
	uint8_t reserved_[512 - 192 - 9 * 8];
} hm_bridge_link_stats;

typedef struct hm_bridge_stats {
	hm_bridge_stats_header h;
	hm_bridge_counters c;
	hm_bridge_link_stats links[HM_BRIDGE_STATS_LINKS];
} hm_bridge_stats;

static_assert(sizeof(hm_bridge_stats_header) == 512, "stats header size");
static_assert(offsetof(hm_bridge_stats_header, bus) == 64, "stats bus offset");
static_assert(sizeof(hm_bridge_counters) == 512, "stats counters size");
static_assert(sizeof(hm_bridge_link_stats) == 512, "link stats size");
static_assert(offsetof(hm_bridge_stats, c) == 512, "counters offset");
static_assert(offsetof(hm_bridge_stats, links) == 1024, "links offset");
static_assert(sizeof(hm_bridge_stats) == 1024 + 512 * HM_BRIDGE_STATS_LINKS, "stats size");

#endif
