/* Hermes bus: shared-memory rings with zero-copy publish and subscribe.
 *
 * A bus is one shared-memory segment (/dev/shm/hermes.<name>) holding many
 * named rings. Producers claim space in a ring, write in place and commit;
 * every committed message gets a per-ring 64-bit sequence number. Each
 * subscriber has its own cursor in the segment and sees every message
 * (broadcast), in sequence order.
 *
 * Thread-safety, in one place:
 *   - hermes_bus: attach/detach from one thread; once attached, the handle may
 *     be shared by any number of threads opening publishers and subscribers.
 *   - hermes_pub and hermes_sub: one thread at a time (no internal locking).
 *     Open one per thread; any number may exist per ring, in any processes.
 *   - Everything on the publish and poll paths is lock-free, allocation-free
 *     and makes no system call, except FUTEX_WAKE when a subscriber sleeps.
 *
 * Errors are hermes_err codes (see hermes/error.h). Control-path calls leave a
 * detail message readable with hermes_last_error_detail().
 */
#ifndef HERMES_BUS_H
#define HERMES_BUS_H

#include <stddef.h>
#include <stdint.h>

#include <hermes/error.h>
#include <hermes/export.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HERMES_NAME_MAX 47 /* longest bus or ring name, in bytes */

typedef struct hermes_bus hermes_bus;
typedef struct hermes_pub hermes_pub;
typedef struct hermes_sub hermes_sub;

typedef enum hermes_policy {
	/* Reliable: a producer never overwrites a record a live subscriber has
	 * not released; a full ring makes publish return HERMES_EAGAIN (or wait
	 * up to a timeout). */
	HERMES_POLICY_BLOCK = 0,
	/* Lossy, never blocks producers (not even while another producer holds
	 * a claim or is stopped: its bytes are stepped around): a lapped
	 * subscriber gets HERMES_ELOST with the exact count, then resumes at the
	 * oldest record still there. */
	HERMES_POLICY_OVERWRITE = 1,
} hermes_policy;

typedef struct hermes_ring_config {
	const char *name;	/* 1..HERMES_NAME_MAX bytes of [A-Za-z0-9._-] */
	uint64_t capacity;	/* data bytes; a power of two, 4 KiB .. 4 GiB */
	uint32_t max_msg;	/* largest payload; at most capacity / 8 and 16 MiB - 1 */
	hermes_policy policy;
	/* Messages the ring can hold (16 bytes of index each); a power of two
	 * >= 64, or 0 for capacity / 64. A ring is full when either its bytes
	 * or its slots run out. */
	uint32_t slots;
} hermes_ring_config;

/* ---- bus ------------------------------------------------------------------ */

/* Create the segment of bus `name` with `size` bytes in total and file mode
 * `mode` (e.g. 0600), and attach to it. The supervisor is the production
 * caller; tests and embedded uses may call it directly.
 * Errors: HERMES_EINVAL (bad name or size), HERMES_EEXIST (a segment of that
 * name exists: attach instead, or remove it with hermes_bus_unlink),
 * HERMES_EACCES, HERMES_ESYS. On success *out is owned by the caller and
 * released with hermes_bus_detach. Blocks only in system calls. */
HERMES_API hermes_err hermes_bus_create(const char *name, uint64_t size, unsigned mode,
					hermes_bus **out);

/* Attach to the existing segment of bus `name` (NULL: $HERMES_BUS, else
 * "default"), and connect to its supervisor's control socket when one is
 * running (found through the segment itself). Refuses anything it cannot
 * trust: HERMES_ENOENT (no such bus: is hermesd running?), HERMES_EBADSEGMENT
 * (not a Hermes segment or corrupt), HERMES_EVERSION (made by an incompatible
 * Hermes), HERMES_ETRUNCATED (file shorter than its header says),
 * HERMES_ENOTREADY (still being created: retry), HERMES_EACCES. Never writes
 * to a segment it refuses. The process is named as by hermes_bus_attach_opts
 * with NULL options ($HERMES_APP_NAME, else the program name): HERMES_EINVAL
 * when $HERMES_APP_NAME or $HERMES_APP_INSTANCE is not a valid name. */
HERMES_API hermes_err hermes_bus_attach(const char *name, hermes_bus **out);

/* Attach read-only (for inspection tools): the mapping is PROT_READ, so
 * opening publishers or subscribers fails with HERMES_EPERM. */
HERMES_API hermes_err hermes_bus_attach_readonly(const char *name, hermes_bus **out);

#define HERMES_APP_NAME_MAX 31	   /* longest application name, in bytes */
#define HERMES_APP_INSTANCE_MAX 15 /* longest instance id, in bytes */

/* hermes_attach_opts.flags: attach read-only (hermes_bus_attach_readonly). */
#define HERMES_ATTACH_READONLY 1u

/* Options of hermes_bus_attach_opts. `size` is sizeof the struct the caller
 * was compiled with, so fields can be added at the end: a library reads only
 * the fields within `size`, and refuses a larger struct whose bytes beyond the
 * fields it knows are not zero. Start from HERMES_ATTACH_OPTS_INIT:
 *
 *   hermes_attach_opts o = HERMES_ATTACH_OPTS_INIT;
 *   o.app_name = "order-router";
 *   o.instance = "eu-1";
 *
 * app_name names this process to hermesd, `hermes-ctl clients` and
 * `inspect`, the metrics (label client) and the supervisor's log lines
 * (field client=), instead of the kernel's 15-byte process name. NULL:
 * $HERMES_APP_NAME when set, else the program name (argv[0] without its
 * directory; bytes a name may not hold become '_'). 1..HERMES_APP_NAME_MAX
 * bytes of printable UTF-8 without spaces, '=', '"' or '\'.
 * instance tells apart processes of one application (label client_instance,
 * field instance=): NULL: $HERMES_APP_INSTANCE, else none. 0..
 * HERMES_APP_INSTANCE_MAX bytes, the same characters. Both are copied.
 * A read-only attach never talks to hermesd, so it does not read the two
 * variables (a bad one does not stop inspection tools). */
typedef struct hermes_attach_opts {
	uint32_t size;
	uint32_t flags; /* HERMES_ATTACH_* */
	const char *app_name;
	const char *instance;
} hermes_attach_opts;

#define HERMES_ATTACH_OPTS_INIT {sizeof(hermes_attach_opts), 0, NULL, NULL}

/* Attach to bus `name` as hermes_bus_attach does (NULL opts: the defaults,
 * which is what hermes_bus_attach does), naming this process with
 * opts->app_name and opts->instance (or their defaults), which the library
 * sends to hermesd on each (re)connection of the control channel.
 * Errors: those of hermes_bus_attach, and HERMES_EINVAL with a detail naming
 * the culprit: a name or instance (or $HERMES_APP_NAME, $HERMES_APP_INSTANCE)
 * that is too long, empty (the name) or holds a character it may not; opts->
 * size smaller than the first version of the struct, or larger with non-zero
 * bytes this library does not know; unknown flags. A hermesd older than this
 * library ignores the name (it shows the process name). Blocks as
 * hermes_bus_attach (at most 2 s per supervisor request); call it from one
 * thread per handle, like hermes_bus_attach (any number of threads may attach
 * handles of their own at once). */
HERMES_API hermes_err hermes_bus_attach_opts(const char *name, const hermes_attach_opts *opts,
					     hermes_bus **out);

/* The application name and instance id this handle attached with (instance:
 * "" for none). Constant for the handle's life; any thread; never NULL. */
HERMES_API const char *hermes_bus_app_name(const hermes_bus *bus);
HERMES_API const char *hermes_bus_app_instance(const hermes_bus *bus);

/* Unmap the segment and free the handle. Publishers and subscribers opened
 * on it must be closed first. NULL is ignored. */
HERMES_API void hermes_bus_detach(hermes_bus *bus);

/* The bus's identity: a random non-zero 64-bit number fixed when its segment
 * was created (bridges and uplinks use it to tag where a message came from). */
HERMES_API uint64_t hermes_bus_id(const hermes_bus *bus);

/* Remove the segment name (like shm_unlink): processes attached keep their
 * mapping. Errors: HERMES_ENOENT, HERMES_EACCES. */
HERMES_API hermes_err hermes_bus_unlink(const char *name);

/* Create a ring. On a bus this process created (embedded use) the ring is
 * made in place; on an attached bus the request goes to the supervisor, which
 * owns allocation. Errors: HERMES_EINVAL (see hermes_ring_config; the detail
 * says which field), HERMES_EEXIST, HERMES_ENOSPC (segment full, or 64 rings
 * already), HERMES_ENOSUPERVISOR (attached, and no hermesd reachable).
 * Blocks until the supervisor answers (at most 5 s). */
HERMES_API hermes_err hermes_ring_create(hermes_bus *bus, const hermes_ring_config *cfg);

/* Delete a ring, through the supervisor as hermes_ring_create. Refused with
 * HERMES_EBUSY while publishers or subscribers have it open, unless force:
 * then their next slow-path call (a full ring, a blocking wait) returns
 * HERMES_ECLOSED, and the ring's memory is reused only after they all close
 * or die. Errors: HERMES_ENOENT, HERMES_EBUSY, HERMES_ENOSUPERVISOR. */
HERMES_API hermes_err hermes_ring_delete(hermes_bus *bus, const char *name, int force);

/* ---- publishing ----------------------------------------------------------- */

/* A claimed region, in the caller's memory. `data` is where the payload goes
 * (len bytes; for a batch, the first message). The other fields are private. */
typedef struct hermes_claim {
	void *data;
	uint32_t len;
	uint32_t n_;
	uint64_t pos_;
	uint64_t seq_;
	uint64_t bytes_;
} hermes_claim;

/* The sequence of a claim's (first) message: the one subscribers will see
 * once it is committed. */
static inline uint64_t hermes_claim_seq(const hermes_claim *claim)
{
	return claim->seq_;
}

/* Open a publisher on `ring`. Errors: HERMES_ENOENT (no such ring),
 * HERMES_ETOOMANY (all producer slots taken), HERMES_EPERM (read-only
 * attach), HERMES_ENOMEM. */
HERMES_API hermes_err hermes_pub_open(hermes_bus *bus, const char *ring, hermes_pub **out);

/* Close a publisher; an outstanding claim is aborted. NULL is ignored. */
HERMES_API void hermes_pub_close(hermes_pub *pub);

/* Claim room for one message of len bytes and point claim->data at it.
 * Never blocks. Errors: HERMES_EAGAIN (block ring full: retry, or use
 * hermes_pub_claim_timed; also, rarely, when this publisher takes over a
 * block ring from a lone producer that is preempted or stopped inside a
 * claim: the detail says so), HERMES_EMSGSIZE (len > max_msg), HERMES_ECLOSED
 * (the ring was deleted), HERMES_EINVAL (a claim is already outstanding),
 * HERMES_ENOSPC (the ring used up its 2^56 sequences: recreate it). A
 * publisher holds one claim (single or batch) at a time; commit or abort it. */
HERMES_API hermes_err hermes_pub_claim(hermes_pub *pub, uint32_t len, hermes_claim *claim);

/* As hermes_pub_claim, but waits up to timeout_ns (negative = no limit) for
 * room on a full block ring: it checks a few times (hermes_pub_set_spin),
 * then sleeps on a futex in the segment until a subscriber's release (or a
 * commit, a repair, a leave) frees room. Releases make that wake system call
 * only while a producer sleeps. An overwrite ring is never full. Errors:
 * HERMES_ETIMEDOUT, HERMES_EAGAIN (a signal interrupted the sleep: check your
 * flags, then call again), HERMES_ECLOSED (the ring was deleted, also while
 * asleep), and those of hermes_pub_claim. */
HERMES_API hermes_err hermes_pub_claim_timed(hermes_pub *pub, uint32_t len, hermes_claim *claim,
					     int64_t timeout_ns);

/* How many times a timed claim (or send) checks a full ring, with a CPU
 * pause between checks, before it goes to sleep (default 256, about 10 µs;
 * 0 sleeps at once: best when the producer shares its CPU with the
 * subscribers it waits for). Not thread-safe against calls on the same
 * publisher; never fails. */
HERMES_API void hermes_pub_set_spin(hermes_pub *pub, uint32_t checks);

/* Claim n messages with one atomic step; ptrs[i] receives where message i's
 * lens[i] payload bytes go. All n are committed together by hermes_pub_commit
 * (subscribers see none of them before, all of them after). Errors as
 * hermes_pub_claim, plus HERMES_EINVAL for n == 0 or n > 1024. */
HERMES_API hermes_err hermes_pub_claim_batch(hermes_pub *pub, const uint32_t *lens, uint32_t n,
					     void **ptrs, hermes_claim *claim);

/* Publish a claim: its messages become visible to subscribers, and any
 * subscriber sleeping on the ring is woken (a system call only when one
 * sleeps; no fence otherwise). Returns HERMES_EINVAL when the claim is not
 * this publisher's outstanding claim, and, on an overwrite ring only,
 * HERMES_ELOST when the claim was held so long that newer messages lapped it:
 * it is then gone (subscribers count it lost), the claim is finished all the
 * same. */
HERMES_API hermes_err hermes_pub_commit(hermes_pub *pub, hermes_claim *claim);

/* Give a claim back: its sequence numbers are skipped (subscribers see the
 * gap in hermes_msg.gap). */
HERMES_API hermes_err hermes_pub_abort(hermes_pub *pub, hermes_claim *claim);

/* User tags: a 32-bit value of the application's choosing per message (a
 * message type, a schema id; iceoryx's user header, Aeron's reserved value),
 * delivered in hermes_msg.tag, carried by the bridge, the NATS uplink and the
 * journal. 0 means "no tag": an untagged message costs nothing extra. The tag
 * is fixed at claim time. Errors and blocking as the untagged calls. */
HERMES_API hermes_err hermes_pub_claim_tagged(hermes_pub *pub, uint32_t len, uint32_t tag,
					      hermes_claim *claim);

/* As hermes_pub_claim_batch, with tags[i] for message i (tags may be NULL:
 * no tags). */
HERMES_API hermes_err hermes_pub_claim_batch_tagged(hermes_pub *pub, const uint32_t *lens,
						    const uint32_t *tags, uint32_t n, void **ptrs,
						    hermes_claim *claim);

/* Claim, copy len bytes, commit, with a tag. timeout_ns as in
 * hermes_pub_claim_timed; 0 never blocks (HERMES_EAGAIN on a full ring). */
HERMES_API hermes_err hermes_pub_send_tagged(hermes_pub *pub, const void *data, uint32_t len,
					     uint32_t tag, uint64_t *seq, int64_t timeout_ns);

/* Copying helper: claim, copy len bytes, commit. Never blocks; errors as
 * hermes_pub_claim. When seq is not NULL it receives the message's sequence. */
HERMES_API hermes_err hermes_pub_send(hermes_pub *pub, const void *data, uint32_t len,
				      uint64_t *seq);

/* As hermes_pub_send, waiting up to timeout_ns for room on a full ring. */
HERMES_API hermes_err hermes_pub_send_timed(hermes_pub *pub, const void *data, uint32_t len,
					    uint64_t *seq, int64_t timeout_ns);

/* ---- subscribing ---------------------------------------------------------- */

typedef enum hermes_start {
	HERMES_START_LATEST = 0,   /* only messages committed after the open */
	HERMES_START_EARLIEST = 1, /* the oldest message still in the ring */
	HERMES_START_SEQ = 2,	   /* a given sequence (clamped to what is retained) */
} hermes_start;

typedef enum hermes_wait_mode {
	HERMES_WAIT_SPIN = 0,  /* busy-spin: lowest latency, burns a core */
	HERMES_WAIT_YIELD = 1, /* spin, then sched_yield between checks */
	HERMES_WAIT_BLOCK = 2, /* spin briefly, then sleep on a futex */
} hermes_wait_mode;

typedef struct hermes_msg {
	const void *data; /* points into the ring: valid until hermes_sub_release */
	uint32_t len;
	uint32_t tag; /* the publisher's user tag (hermes_pub_send_tagged); 0 = none */
	uint64_t seq;
	uint64_t gap;  /* sequences skipped just before this one (aborted or repaired) */
	uint64_t lost; /* with HERMES_ELOST: messages this subscriber lost */
} hermes_msg;

/* Open a subscriber with its own cursor. `seq` is used with
 * HERMES_START_SEQ only: a sequence older than the oldest retained one starts
 * there and the first poll reports the difference as lost; a future one skips
 * messages until it. Errors: HERMES_ENOENT, HERMES_ETOOMANY, HERMES_EPERM,
 * HERMES_ENOMEM; on block rings the join can fail rather than start unsafely:
 * HERMES_ETIMEDOUT (a producer stopped in the middle of a limit scan for 2 s:
 * retry, or find the stopped process) or HERMES_EBUSY (producers kept moving
 * past every start chosen: retry). */
HERMES_API hermes_err hermes_sub_open(hermes_bus *bus, const char *ring, hermes_start start,
				      uint64_t seq, hermes_sub **out);

/* Close a subscriber: its cursor stops holding back producers. */
HERMES_API void hermes_sub_close(hermes_sub *sub);

/* Take the next message without copying. Returns HERMES_OK with *msg filled,
 * HERMES_EAGAIN when there is none yet, HERMES_ELOST with msg->lost set
 * when the subscriber was lapped (overwrite ring; the next poll returns the
 * oldest message still there), or HERMES_ECORRUPT when the record at msg->seq
 * failed validation (something scribbled on the segment): it is not
 * delivered, it is counted (hermes-ctl inspect, metrics), the detail names
 * ring and sequence, and the subscriber has moved past it: poll again.
 * Pointers stay valid until hermes_sub_release. Never blocks. */
HERMES_API hermes_err hermes_sub_poll(hermes_sub *sub, hermes_msg *msg);

/* Release every message polled so far, letting producers reuse the space.
 * On an overwrite ring, returns HERMES_ELOST if any of them may have been
 * overwritten while the caller was reading them (including those handed out
 * before a poll that reported a lap): discard what was derived from them.
 * Otherwise HERMES_OK. */
HERMES_API hermes_err hermes_sub_release(hermes_sub *sub);

/* Handler form: calls fn for up to max messages (0 = no limit beyond what is
 * available), then releases them. *count receives how many were delivered.
 * Returns HERMES_OK (possibly with *count == 0), or HERMES_ELOST as
 * hermes_sub_poll/hermes_sub_release. */
typedef void (*hermes_handler)(void *ctx, const hermes_msg *msg);
HERMES_API hermes_err hermes_sub_poll_batch(hermes_sub *sub, hermes_handler fn, void *ctx,
					    unsigned max, unsigned *count);

/* Copying receive, validated: copies the next message into buf (cap bytes)
 * and releases it. Safe on overwrite rings against concurrent overwrite.
 * Errors: HERMES_EAGAIN, HERMES_ELOST, HERMES_ENOBUFS (msg->len says how much
 * room is needed; the message stays unread). */
HERMES_API hermes_err hermes_sub_recv(hermes_sub *sub, void *buf, uint32_t cap, hermes_msg *msg);

/* Wait until a message is available or timeout_ns passes (negative = no
 * limit). Returns HERMES_OK when a poll would return a message (or a loss),
 * HERMES_ETIMEDOUT at the deadline, HERMES_EAGAIN when a signal interrupted a
 * HERMES_WAIT_BLOCK sleep (check your flags, then wait again), HERMES_ECLOSED
 * when the ring was deleted. HERMES_WAIT_BLOCK sleeps on a futex in the
 * segment; producers only make the wake system call when someone sleeps. */
HERMES_API hermes_err hermes_sub_wait(hermes_sub *sub, hermes_wait_mode mode, int64_t timeout_ns);

/* The sequence the subscriber will deliver next (for logging/debugging). */
HERMES_API uint64_t hermes_sub_next_seq(const hermes_sub *sub);

/* How many times hermes_sub_wait with HERMES_WAIT_BLOCK or HERMES_WAIT_YIELD
 * checks the ring, with a CPU pause between checks, before it sleeps or
 * yields (default 2048, about 100 µs; 0 sleeps at once: best when the
 * subscriber shares its CPU with the producer it waits for). Not thread-safe
 * against calls on the same subscriber; never fails. */
HERMES_API void hermes_sub_set_spin(hermes_sub *sub, uint32_t checks);

/* ---- who is listening ------------------------------------------------------ */

/* How many subscribers the publisher's ring has now: those whose open has
 * completed and who have not closed, died (a killed subscriber stops being
 * counted once the supervisor releases its slot, within 1 s) or been
 * released. A message this publisher claims after a count that included a
 * subscriber is delivered to it (its start was fixed before). Lock-free, never blocks, no system
 * call; the answer may be stale by the time it is used. Same thread rules as
 * the publisher's other calls. */
HERMES_API unsigned hermes_pub_subscribers(const hermes_pub *pub);

/* Wait until the ring has at least min subscribers (as counted above), up to
 * timeout_ns (negative = no limit, 0 = just check). Sleeps on a futex in the
 * segment that every join and leave bumps and wakes (a join or leave makes
 * that one system call; publishing is unaffected). Returns HERMES_OK,
 * HERMES_ETIMEDOUT, HERMES_EAGAIN (a signal interrupted the sleep: check your
 * flags, then call again) or HERMES_ECLOSED (the ring was deleted, also
 * while asleep). Blocks up to timeout_ns; same thread rules as the
 * publisher's other calls. */
HERMES_API hermes_err hermes_pub_wait_subscribers(hermes_pub *pub, unsigned min,
						  int64_t timeout_ns);

/* ---- ring discovery -------------------------------------------------------- */

/* One ring's configuration and who has it open, read from the segment. */
typedef struct hermes_ring_info {
	char name[HERMES_NAME_MAX + 1];
	hermes_policy policy;
	uint64_t capacity; /* data bytes */
	uint32_t max_msg;
	uint32_t slots;	      /* message slots */
	uint32_t producers;   /* producer slots taken now */
	uint32_t subscribers; /* joined subscribers now (hermes_pub_subscribers) */
	uint64_t next_seq;    /* the sequence the next message will get */
} hermes_ring_info;

/* List the bus's rings, in directory order: up to cap of them into out, and
 * their total number into *count (so a caller with cap too small learns how
 * many to make room for; cap 0 with out NULL just counts). Deleted, half
 * created and corrupt rings are left out (hermes-ctl list shows the corrupt
 * ones). Works on read-only attaches; lock-free, never blocks; any thread.
 * Errors: HERMES_EINVAL (bus or count NULL, or out NULL with cap > 0). */
HERMES_API hermes_err hermes_bus_rings(hermes_bus *bus, hermes_ring_info *out, unsigned cap,
				       unsigned *count);

/* One ring by name. Errors: HERMES_EINVAL, HERMES_ENOENT (no such ring),
 * HERMES_EBADSEGMENT (its record in the segment is corrupt; detail says
 * why). Lock-free, never blocks; any thread. */
HERMES_API hermes_err hermes_bus_ring_info(hermes_bus *bus, const char *name,
					   hermes_ring_info *info);

/* ---- wait sets: one thread, many rings -------------------------------------- */

/* A wait set waits on many subscribers (any rings, any buses) and file
 * descriptors (a bridge connection's hermes_net_fd, a socket, a timerfd) at
 * once and says which are ready. Nothing ready: it checks for a while
 * (hermes_waitset_set_spin), then sleeps in the kernel on the rings' futex
 * words with futex_waitv(2) (Linux 5.16+), announced the way a blocking
 * hermes_sub_wait announces itself, so publishers pay nothing extra while
 * nobody sleeps and one wake system call when someone does. Older kernels:
 * it sleeps on one ring's word at a time for at most 1 ms each (a message on
 * another ring may wait up to 1 ms to be seen; about 1000 wake-ups a second
 * while idle). With descriptors in the set, a helper thread of the set does
 * the ring sleep and the caller sleeps in ppoll(2): one extra wake-up hop.
 * docs/ARCHITECTURE.md ("Wait sets") has the design and its costs.
 *
 * Thread-safety: a wait set is used by one thread at a time, like a
 * subscriber, and the subscribers in it are polled by that thread only;
 * hermes_waitset_wake is the exception (any thread, and signal handlers). A
 * subscriber is in at most one wait set and is not waited on with
 * hermes_sub_wait while it is in one (they would share its sleeper bit).
 * Remove a member before closing it (or its bus). A set that has started
 * its helper thread (descriptors, or hermes_waitset_fd) is not usable in a
 * child after fork(2): the thread is not there; make a new set. */
typedef struct hermes_waitset hermes_waitset;

#define HERMES_WAITSET_MAX 256 /* members of one wait set */

typedef enum hermes_ready_flags {
	HERMES_READY_DATA = 1,	 /* subscriber: a poll returns something; fd: readable */
	HERMES_READY_CLOSED = 2, /* subscriber: its ring was deleted; fd: hang-up or error */
} hermes_ready_flags;

typedef struct hermes_ready {
	void *user;	 /* as given when the member was added */
	hermes_sub *sub; /* the subscriber, or NULL for a descriptor */
	int fd;		 /* the descriptor, or -1 for a subscriber */
	uint32_t flags;	 /* HERMES_READY_* */
} hermes_ready;

/* Make an empty wait set. Errors: HERMES_EINVAL (out NULL), HERMES_ENOMEM,
 * HERMES_ESYS (no eventfd). The caller owns *out; free it with
 * hermes_waitset_destroy. Never blocks; any thread. */
HERMES_API hermes_err hermes_waitset_create(hermes_waitset **out);

/* Free a wait set (its helper thread, if any, is stopped and joined; its
 * descriptor closed). Members are not closed. NULL is ignored. Blocks only
 * while the helper thread stops (microseconds; up to 1 ms without
 * futex_waitv). No other call on the set may run meanwhile. */
HERMES_API void hermes_waitset_destroy(hermes_waitset *ws);

/* Add a subscriber; `user` comes back in hermes_ready. Errors: HERMES_EINVAL
 * (NULL), HERMES_EEXIST (already in this set), HERMES_ETOOMANY
 * (HERMES_WAITSET_MAX members, or subscribers on more than 127 distinct
 * rings: futex_waitv takes 128 words), HERMES_ENOMEM or HERMES_ESYS (the
 * helper thread a set with descriptors needs could not start; detail says
 * why). Never blocks, except for waiting out the helper thread's current
 * check when the set has a descriptor (microseconds). */
HERMES_API hermes_err hermes_waitset_add_sub(hermes_waitset *ws, hermes_sub *sub, void *user);

/* Add a descriptor, reported ready when readable (POLLIN) or hung up. For a
 * bridge connection pass hermes_net_fd(n): when it is reported, call
 * hermes_net_poll with timeout 0 until HERMES_EAGAIN before waiting again
 * (events already read into its buffer do not make the socket readable).
 * Errors: HERMES_EINVAL (fd < 0), HERMES_EEXIST, HERMES_ETOOMANY, HERMES_ESYS
 * (epoll refused it, with hermes_waitset_fd in use), and those of starting
 * the helper thread. Blocking as hermes_waitset_add_sub. */
HERMES_API hermes_err hermes_waitset_add_fd(hermes_waitset *ws, int fd, void *user);

/* Remove a member. The sleeper announcement the set made for a subscriber is
 * taken back before this returns, so the subscriber may then be closed.
 * Errors: HERMES_ENOENT (not in the set). Blocking as hermes_waitset_add_sub. */
HERMES_API hermes_err hermes_waitset_remove_sub(hermes_waitset *ws, hermes_sub *sub);
HERMES_API hermes_err hermes_waitset_remove_fd(hermes_waitset *ws, int fd);

/* Wait until at least one member is ready or timeout_ns passes (negative =
 * no limit, 0 = just check), then report up to cap ready members in ready[]
 * and their number in *n (members past cap are reported first next time, so
 * none starves). Returns HERMES_OK (*n >= 1), HERMES_ETIMEDOUT (*n == 0),
 * HERMES_EAGAIN (*n == 0: a signal or hermes_waitset_wake interrupted the
 * sleep, or a wake came since the last call), HERMES_EINVAL (ws, ready or n
 * NULL, or cap 0). A member ready when the call starts is reported without any
 * system call when the set has no descriptors; a deleted ring reports its
 * subscriber with HERMES_READY_CLOSED. Blocks up to timeout_ns. */
HERMES_API hermes_err hermes_waitset_wait(hermes_waitset *ws, hermes_ready *ready, unsigned cap,
					  unsigned *n, int64_t timeout_ns);

/* Make a thread blocked in hermes_waitset_wait on ws return HERMES_EAGAIN
 * (or the next call, if none is blocked now). Any thread; async-signal-safe.
 * Never blocks. */
HERMES_API void hermes_waitset_wake(hermes_waitset *ws);

/* How many rounds of checks hermes_waitset_wait makes, with a CPU pause
 * between them, before it sleeps (default 2048, about 100 µs with a few
 * rings; 0 sleeps at once). Descriptors are checked once, not in the spin.
 * Never fails. */
HERMES_API void hermes_waitset_set_spin(hermes_waitset *ws, uint32_t checks);

/* A descriptor for an application's own epoll or poll loop: readable when a
 * member may be ready. When it is, call hermes_waitset_wait with timeout 0 to
 * learn which (that also drains it), handle them, and go back to the loop;
 * the descriptor stays readable while the last call reported members and
 * turns readable again when a member becomes ready after a call that
 * reported none (level-triggered; one spurious wake-up per busy period).
 * The first call starts the set's helper thread: it sleeps in futex_waitv
 * on the member rings and signals an eventfd, so each wake-up costs one
 * extra thread hop (a few microseconds) over hermes_waitset_wait. The set
 * owns the descriptor (an epoll instance holding the eventfd and the member
 * descriptors): do not close it. Errors: HERMES_ENOMEM, HERMES_ESYS
 * (epoll_create1 or pthread_create failed; detail says which). Idempotent.
 * Never blocks. */
HERMES_API hermes_err hermes_waitset_fd(hermes_waitset *ws, int *fd);

#ifdef __cplusplus
}
#endif

#endif
