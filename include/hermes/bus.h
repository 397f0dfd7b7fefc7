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
 * to a segment it refuses. */
HERMES_API hermes_err hermes_bus_attach(const char *name, hermes_bus **out);

/* Attach read-only (for inspection tools): the mapping is PROT_READ, so
 * opening publishers or subscribers fails with HERMES_EPERM. */
HERMES_API hermes_err hermes_bus_attach_readonly(const char *name, hermes_bus **out);

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
 * hermes_pub_claim_timed), HERMES_EMSGSIZE (len > max_msg), HERMES_ECLOSED
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

#ifdef __cplusplus
}
#endif

#endif
