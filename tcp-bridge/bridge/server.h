/* The bridge's core, without sockets: connections as protocol state machines
 * over their buffers (conn.c), ring feeds that fan messages out to remote
 * subscribers (feed.c), and the server state they share (server.c). The
 * event loop (loop.c) owns the sockets and moves bytes in and out; the fuzz
 * target (fuzz/fuzz_bridge_conn.c) drives the same code with no socket at
 * all. Everything here runs on the loop thread. */
#ifndef HM_BRIDGE_SERVER_H
#define HM_BRIDGE_SERVER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <hermes/hermes.h>

#include "daemon/log.h"
#include "journal/journal.h"
#include "shm/ring.h"
#include "tcp-bridge/client/client.h"
#include "tcp-bridge/bridge/config.h"
#include "tcp-bridge/bridge/origins.h"
#include "tcp-bridge/bridge/stats.h"
#include "tcp-bridge/bridge/watch.h"

/* Room every output buffer keeps for one control frame (a sealed ERROR is at
 * most 24 + 1032 + 16 bytes): feeds never fill it, so an answer or a fatal
 * error can always be queued. */
#define HM_CTRL_RESERVE 1280u
/* What each output buffer holds above the configured out_buffer: the control
 * reserve and one LOSS frame (sealed: 24 + 8 + 16 bytes). So a frame as large
 * as out_buffer always fits in an empty buffer next to a LOSS and the
 * reserve, and every message the peer's max_frame allows is either delivered
 * or reported lost: a subscription never waits for room that cannot come. */
#define HM_LOSS_FRAME_MAX (24u + 8u + 16u)
#define HM_OUT_SLACK (HM_CTRL_RESERVE + HM_LOSS_FRAME_MAX)
/* Messages one feed hands out before the loop looks at its sockets again. */
#define HM_FEED_BUDGET 2048u
#define HM_MAX_RINGREFS 128u
/* Before authentication a peer may send frames of at most this size (a
 * HELLO or AUTH_RESPONSE is far smaller) and gets buffers of this size:
 * an unauthenticated connection costs the bridge a few KiB, no more. */
#define HM_PREAUTH_FRAME HERMES_MIN_MAX_FRAME
/* A session's input buffer starts at this size and grows to hold a larger
 * frame (up to max_frame) from the server's memory_limit budget. */
#define HM_IN_BASE (64u * 1024u)
/* Cursors (feeds) the bridge takes on one ring at most: half its
 * subscriber slots. */
#define HM_RING_FEEDS_MAX (HM_MAX_SUBSCRIBERS / 2u)
/* Distinct origin buses one link identity may bring messages of. */
#define HM_ORIGINS_PER_IDENT 4u
/* Failed authentications logged per second; the rest are counted. */
#define HM_AUTH_LOG_PER_SEC 10u

typedef struct hm_server hm_server;
typedef struct hm_conn hm_conn;
typedef struct hm_feed hm_feed;
typedef struct hm_subref hm_subref;
typedef struct hm_ringref hm_ringref;
typedef struct hm_link hm_link;
/* A list of connections in the order they were appended (sys/queue.h). */
typedef TAILQ_HEAD(hm_conn_list, hm_conn) hm_conn_list;

/* One remote subscription (or one exported ring of a link). */
struct hm_subref {
	hm_feed *feed;
	hm_conn *conn;	    /* the subscriber's connection, or NULL for a link */
	hm_link *link;	    /* a link exporting this ring */
	unsigned link_ring; /* which of the link's rings */
	uint32_t id;	    /* subscription id on the connection */
	uint64_t start;	    /* deliver sequences from here on */
	uint64_t stop;	    /* the peer half-closed: deliver below this, then end */
	uint64_t pending_loss;
	hm_slow_policy policy; /* DROP, DISCONNECT or HOLD (never AUTO) */
	bool local_only;       /* skip messages that links imported (split horizon) */
	bool held;	       /* counted in its identity's HOLD subscriptions */
	bool dead;
};

enum hm_feed_state { HM_FEED_ARMED = 0, HM_FEED_READY = 1, HM_FEED_STALLED = 2 };

/* A cursor in a local ring and the subscriptions it serves; or, with jr,
 * a journal feed: one subscription resuming at a sequence the ring no
 * longer holds, read from the ring's journal until it reaches what the ring
 * has (feed.c, "Resuming from the journal"). */
struct hm_feed {
	hm_server *srv;
	hm_ringref *rr;
	hermes_sub *sub;    /* NULL for a journal feed */
	hm_jreader *jr;	    /* a journal feed's reader, else NULL */
	uint64_t jnext;	    /* a journal feed's next sequence */
	bool jtried;	    /* the ring was found past jtried_at once already */
	uint64_t jtried_at;
	bool shared; /* the ring's feed for drop/disconnect subscriptions */
	bool hold;   /* one HOLD subscription: polls only with room to deliver */
	hm_subref **subs;
	unsigned nsubs, cap;
	int watch_slot;
	bool watched; /* registered with the watcher (armed and handed over) */
	enum hm_feed_state state;
	bool in_ready;
	hm_feed *ready_next;
	hm_feed *ring_next; /* the ring's feeds */
	hm_feed *all_next;  /* every feed of the server */
};

/* What the bridge knows about one local ring. */
struct hm_ringref {
	bool used, stale;
	char name[HM_BRIDGE_NAME_MAX];
	hm_ring ring;
	hermes_pub *pub; /* shared by every channel bound to the ring */
	unsigned pub_refs, feeds;
	hm_feed *shared;
	hm_feed *feed_list; /* every feed on the ring */
	hm_slow_policy slow; /* from [ring NAME], AUTO if none */
	const char *journal; /* from [ring NAME] or --journal: its directory, or "" */
	/* Which messages links brought in, and link dedupe state (origins.h);
	 * opened when the ring is first used by or for a link. */
	hm_origins *org;
};

enum hm_conn_state {
	HM_CONN_HELLO = 0,
	HM_CONN_AUTH = 1,
	HM_CONN_SESSION = 2,
	HM_CONN_CLOSING = 3, /* flush what is queued, then close */
	HM_CONN_CLOSED = 4,  /* the loop may destroy it */
};

typedef struct hm_chan {
	uint32_t id;
	hm_ringref *rr;
} hm_chan;

struct hm_conn {
	hm_server *srv;
	int fd; /* owned by the loop; -1 without a socket */
	uint64_t serial;
	char peer[64];
	char addr[64]; /* the peer's address without the port (per-address limit) */
	enum hm_conn_state state;
	hermes_err close_reason;
	uint64_t deadline_ns; /* handshake or closing grace; 0 = none */

	/* Input: [in_off, in_len) not yet processed. */
	uint8_t *in;
	size_t in_cap, in_off, in_len;
	hermes_decoder dec;
	/* Output: [out_off, out_len) not yet written. */
	uint8_t *out;
	size_t out_cap, out_off, out_len;

	/* Handshake and identity. */
	uint32_t features, peer_max_frame;
	char identity[HERMES_WIRE_NAME_MAX + 1];
	const hm_ident *ident;
	int ident_ix;	     /* counted in the server's per-identity state; -1: not yet */
	uint64_t link_origin; /* LINK sessions: the one origin bus they carry, 0 = none yet */
	size_t in_grown;     /* input bytes above HM_IN_BASE, from the memory budget */
	uint64_t last_rx_ns; /* idle timeout: when the peer last sent anything */
	bool ping_sent;
	bool idle_listed;
	uint64_t idle_at; /* the loop: when it was queued on the idle list */
	TAILQ_ENTRY(hm_conn) idle_link; /* the loop's idle list, while idle_listed */
	hermes_wire_hello hello;
	hermes_wire_welcome welcome;
	hermes_wire_auth_challenge challenge;
	uint8_t kx_sk[HERMES_KX_PUBLIC_KEY_SIZE];
	bool sealed;
	uint8_t rx_key[HERMES_AUTH_KEY_SIZE], tx_key[HERMES_AUTH_KEY_SIZE];
	uint64_t rx_ctr, tx_ctr;

	/* Session. */
	hm_chan *chans;
	unsigned nchans;
	hm_subref **subs;
	unsigned nsubs;
	hm_slow_policy slow; /* from the identity, AUTO if none */

	/* Flow. */
	bool paused;	    /* input waits for output room */
	bool pub_blocked;   /* input waits for room in a block ring */
	uint64_t pub_blocked_since;
	bool stalled_feeds; /* some HOLD feed waits for our output room */
	bool eof;	    /* the peer closed its sending side */
	bool draining;	    /* eof with subscriptions: delivering what is owed */
	bool readable;	    /* the loop: the socket may have more to read */
	bool writable;	    /* the loop: the socket took everything so far */
	bool shut;	    /* the loop: our sending side is shut down */
	bool reaping;	    /* the loop: on its list of connections to destroy */
	hm_conn *reap_next;
	bool in_dirty, in_wake;
	hm_conn *dirty_next, *wake_next;
	hm_conn *prev, *next; /* the server's list */
	/* The loop's deadline lists (handshake, closing grace): the one it is
	 * on (dl_which, 0 for none) and its place there. */
	TAILQ_ENTRY(hm_conn) dl_link;
	uint8_t dl_which;
	/* The frame at in_off is already opened (a blocked publish retries it). */
	bool opened;
	uint8_t *claim; /* frame being written by hm_conn_out_claim */
	size_t claim_len;
};

struct hm_server {
	const hm_bridge_cfg *cfg;
	hermes_bus *bus;
	hm_bridge_stats *stats;
	hm_watch *watch; /* NULL: feeds are polled every loop turn (busy poll, fuzzing) */
	uint64_t bus_id;
	uint64_t now_ns;
	uint64_t serial;
	char name[HERMES_WIRE_NAME_MAX + 1];
	hm_ringref rings[HM_MAX_RINGREFS];
	hm_feed *by_slot[HM_WATCH_SLOTS];
	hm_feed *ready_head, *ready_tail;
	hm_feed *feeds; /* all of them */
	unsigned nfeeds;
	/* Last time anything moved (a frame processed, a message delivered):
	 * the loop spins briefly after activity before it sleeps. */
	uint64_t active_ns;
	hm_conn *conns;
	unsigned nconns;
	hm_conn *dirty;
	hm_conn *wake;
	unsigned blocked; /* connections with pub_blocked */
	hm_link **links;
	unsigned nlinks;
	uint8_t *scratch;
	size_t scratch_cap;
	uint8_t unknown_key[HERMES_AUTH_KEY_SIZE];
	uint8_t unknown_pk[HERMES_KX_PUBLIC_KEY_SIZE]; /* its public key (public-key mode) */
	/* Per identity (index in cfg->idents; cfg->nidents: anonymous). */
	struct hm_ident_state {
		unsigned conns, holds;
		uint64_t origins[HM_ORIGINS_PER_IDENT];
	} *ident_state;
	uint64_t mem_used; /* grown input buffers, against cfg->memory_limit */
	uint64_t auth_log_window_ns;
	unsigned auth_log_count, auth_log_suppressed;
};

/* ---- server.c ------------------------------------------------------------------------- */

/* The fields that name connection c on a log line (daemon/log.h):
 * client=IDENTITY once its HELLO named one (the wire's only client name;
 * hermesd's lines use client= the same way), conn=SERIAL, peer=ADDRESS. */
struct hm_dlog_kv;
void hm_conn_log_fields(const hm_conn *c, struct hm_dlog_kv *kv);

/* Set up the server core over an attached bus (no sockets). watch may be
 * NULL. stats must point at a counters block (hm_stats_open). */
hermes_err hm_server_init(hm_server *s, const hm_bridge_cfg *cfg, hermes_bus *bus,
			  hm_watch *watch, hm_bridge_stats *stats);
void hm_server_fini(hm_server *s);

/* SIGHUP: read cfg->auth_file (and the bridge's key_file) again and switch
 * to its identities. Sessions of identities removed, or whose key or
 * permissions changed, are closed (HERMES_EPERM; *closed counts them); the
 * others go on under the new entries. On error (detail set) nothing
 * changes. */
hermes_err hm_server_reload_auth(hm_server *s, hm_bridge_cfg *cfg, unsigned *closed);

/* The ring named name (a valid bus ring name), looked up in the bus. */
hermes_err hm_server_ring(hm_server *s, const char *name, hm_ringref **out);
/* Forget the entry of a deleted ring once nothing uses it. */
void hm_server_ring_unused(hm_server *s, hm_ringref *rr);
/* A shared publisher on the ring (refcounted). */
hermes_err hm_server_pub_get(hm_server *s, hm_ringref *rr);
void hm_server_pub_put(hm_server *s, hm_ringref *rr);

/* The ring's origin table (origins.h), opened on first use; NULL if it
 * cannot be made (logged). */
hm_origins *hm_server_origins(hm_server *s, hm_ringref *rr);
/* Commit a message that a link brought in, with its user tag utag (0:
 * none): mark it first (split horizon), announce it for origin's dedupe
 * (origin 0: none), publish, record. HERMES_EAGAIN when the ring is full. */
hermes_err hm_server_commit_imported(hm_server *s, hm_ringref *rr, const void *data, uint32_t len,
				     uint32_t utag, uint64_t origin, uint64_t oseq, uint64_t *seq);

/* Lists of connections the loop must look at. */
void hm_server_mark_dirty(hm_server *s, hm_conn *c);
void hm_server_mark_wake(hm_server *s, hm_conn *c);

/* ADDRESS ("HOST:PORT") of the configuration resolved into *ss, *sl (passive:
 * for a listener). 0, or -1 when it does not split or resolve. */
int hm_server_resolve(const char *address, bool passive, struct sockaddr_storage *ss,
		      socklen_t *sl);

/* ---- feed.c --------------------------------------------------------------------------- */

/* Subscribe a connection's subscription id to ring from start (wire start
 * mode and sequence). On success *out is attached to a feed, and *first is
 * the sequence of the first message it will get. Errors are non-fatal for
 * the connection: HERMES_ENOENT, HERMES_ETOOMANY, HERMES_ENOMEM. */
hermes_err hm_feed_subscribe(hm_server *s, hm_ringref *rr, hm_subref *ref, uint8_t start,
			     uint64_t start_seq, uint64_t *first);
/* Has a half-closed subscriber's feed passed ref->stop (everything owed
 * delivered or counted lost)? */
bool hm_feed_sub_done(const hm_subref *ref);
/* Detach a subscription from its feed (closing the feed if it was the
 * last). Never called inside a feed pass. */
void hm_feed_unsubscribe(hm_server *s, hm_subref *ref);

/* Hand out what the ready feeds have (each up to its budget); arm the
 * drained ones. Returns true if some feed is still ready (poll again soon). */
bool hm_feeds_run(hm_server *s);
/* The watcher fired for these slots. */
void hm_feeds_fired(hm_server *s, const int *slots, unsigned n);
/* A connection made output room: resume the HOLD feeds that waited for it. */
void hm_feeds_resume_conn(hm_server *s, hm_conn *c);
/* Mark a feed ready (link: room again). */
void hm_feed_make_ready(hm_server *s, hm_feed *f);
/* The bridge itself committed into rr: its armed feeds have work now (no
 * need to wait for the watcher). */
void hm_feeds_ring_committed(hm_server *s, hm_ringref *rr);
/* Look at every armed feed's next slot; make ready those with a message.
 * For the loop's short spin after activity. Returns how many. */
unsigned hm_feeds_peek(hm_server *s);
/* The loop is about to sleep: hand every drained feed to the watcher. */
void hm_feeds_watch(hm_server *s);

/* ---- conn.c --------------------------------------------------------------------------- */

/* A new connection with buffers allocated now (bounded: input holds one
 * max frame, output cfg->out_buffer). NULL on allocation failure. */
hm_conn *hm_conn_create(hm_server *s, int fd, const char *peer);
/* Release everything (subscriptions, channels, buffers). The loop closes
 * the socket. Never called inside a feed pass. */
void hm_conn_destroy(hm_conn *c);

/* Where to read into (compacting first), and how much room. */
uint8_t *hm_conn_in_space(hm_conn *c, size_t *room);
/* n bytes arrived: process complete frames. */
void hm_conn_input(hm_conn *c, size_t n);
/* Resume processing buffered input (after a pause or a blocked publish). */
void hm_conn_process(hm_conn *c);
/* Should the loop read more? */
bool hm_conn_wants_input(const hm_conn *c);
/* The peer closed its sending side. With subscriptions, the connection
 * drains: each gets the messages its ring held at that moment (by the
 * slow-subscriber policy, within the handshake timeout), then GOODBYE. */
void hm_conn_eof(hm_conn *c);
/* A draining connection: if every subscription had what it is owed, tell
 * the remaining losses, say GOODBYE and close. */
void hm_conn_drain_check(hm_conn *c);
/* The handshake deadline passed. */
void hm_conn_timeout(hm_conn *c);
/* n bytes of [out_off, out_len) were written. */
void hm_conn_output_done(hm_conn *c, size_t n);
/* The ring of subscription ref was deleted: tell the peer, forget it. */
void hm_conn_sub_ended(hm_conn *c, hm_subref *ref);
/* Close with a fatal ERROR (queued when the phase allows). */
void hm_conn_fatal(hm_conn *c, hermes_err code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline size_t hm_conn_out_pending(const hm_conn *c)
{
	return c->out_len - c->out_off;
}

/* Reserve an output frame of len payload bytes (compacting if needed) and
 * return where its payload goes; NULL when it does not fit in the room above
 * `keep`. hm_conn_out_commit seals it (if the session is sealed) and counts
 * it. */
uint8_t *hm_conn_out_claim(hm_conn *c, uint8_t type, uint16_t flags, uint32_t channel,
			   uint64_t seq, size_t len, size_t keep);
void hm_conn_out_commit(hm_conn *c);
/* Bytes a frame of len payload bytes takes on this connection. */
static inline size_t hm_conn_frame_size(const hm_conn *c, size_t len)
{
	return HERMES_HEADER_SIZE + len + (c->sealed ? HERMES_SEAL_TAG_SIZE : 0);
}
/* Largest DELIVER payload the peer accepts. */
size_t hm_conn_max_deliver(const hm_conn *c);

/* ---- link.c ----------------------------------------------------------------------------- */

/* Deliver one message of an exported ring to the link; false when its
 * buffer has no room (the feed holds). */
bool hm_link_export(hm_link *l, hm_subref *ref, const hermes_msg *m);
/* Room for the largest message of ring? */
bool hm_link_has_room(hm_link *l, size_t len);
/* A HOLD feed of the link waits for room. */
void hm_link_stalled(hm_link *l);
/* The exported ring of ref was deleted. */
void hm_link_ring_ended(hm_link *l, hm_subref *ref);

#endif
