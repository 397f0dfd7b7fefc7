/* Ring -> NATS: one thread per ring with direction out or both.
 *
 * The thread is an ordinary subscriber of the ring. It takes up to `batch`
 * messages (and at most max_pending bytes) at a time, leaves out the ones
 * the uplink itself committed from NATS (the range log), hands the rest to
 * the client library with the Hermes headers, and only then releases them.
 *
 *  - core: the batch goes to the library's write buffer (it coalesces the
 *    messages into few socket writes); released at once. At most once.
 *  - jetstream: the batch is published asynchronously with a Nats-Msg-Id of
 *    origin:ring:sequence, and the thread waits for every acknowledgement
 *    before it releases the batch and records the resume point. A batch that
 *    is not fully acknowledged is sent again, whole: the stream drops the
 *    copies it already has. At least once into the stream, and once after
 *    the server's de-duplication.
 *
 *    De-duplication only removes copies; it cannot put messages back in
 *    order, so every copy must reach the stream in ring order. That holds
 *    when each connection delivers a prefix of what it was given, in order:
 *    a message is then stored at its first arrival, and the first arrivals
 *    of in-order sequences are in order. The shared connection does not
 *    deliver a prefix across a reconnection: what is handed to it while it
 *    is down waits in its reconnect buffer and is written to the next
 *    server first, after the part of the batch that died with the old
 *    socket, and ahead of our resend (a NATS outage stored batches as
 *    tail, then head). So JetStream publications go over a connection of
 *    the thread's own that never reconnects: when it breaks it is closed,
 *    what it had not written is gone, and the next attempt opens a new
 *    one. The shared connection still decides when NATS is reachable.
 *
 * While NATS is unreachable, policy block stops taking messages (the ring
 * fills behind the cursor and producers see HERMES_EAGAIN); policy drop
 * keeps draining the ring, counting each message in out.dropped and
 * advancing Hermes-Pub-Seq so that receivers count the gap too.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/futex.h"
#include "nats-uplink/uplink.h"

typedef struct held {
	const void *data;
	uint32_t len;
	uint32_t tag; /* user tag; 0 = none (no Hermes-Tag header) */
	uint64_t seq;
	uint64_t pubseq;
} held;

/* Acknowledgements of the batch in flight (JetStream); written by the
 * library's callback thread. */
typedef struct acks {
	atomic_uint_fast64_t ok, dup, failed;
	char why[160];
} acks;

typedef struct out {
	hm_nats_ring_ctx *rc;
	hm_nats_uplink *up;
	const hm_nats_ring_cfg *cfg;
	hm_nats_ring_state *rs;
	hermes_sub *sub;
	bool overwrite;	  /* copy out of the ring instead of holding it */
	uint8_t *arena;	  /* overwrite rings: the copies */
	size_t arena_cap;
	held *batch;
	unsigned n;
	uint64_t bytes;
	uint64_t pubseq; /* Hermes-Pub-Seq of the last message sent or dropped */
	hm_nats_range_cursor rcur;
	natsOptions *popts; /* JetStream: for pnc, never reconnecting */
	natsConnection *pnc; /* JetStream: this thread's publishing connection */
	jsCtx *js;	     /* on pnc */
	acks acks;
	uint64_t blocked_since; /* 0 = not blocked */
	bool drained;		/* the last gather emptied the ring */
} out;

static void ack_handler(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	acks *a = closure;
	(void)js;
	if (pa) {
		atomic_fetch_add(pa->Duplicate ? &a->dup : &a->ok, 1);
	} else {
		if (atomic_fetch_add(&a->failed, 1) == 0 && pae)
			snprintf(a->why, sizeof a->why, "%s",
				 pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err));
	}
	natsMsg_Destroy(msg);
}

static void set_state(out *o, unsigned s)
{
	hm_nats_set(&o->rs->out.state, s);
}

static void blocked_begin(out *o)
{
	if (o->blocked_since)
		return;
	o->blocked_since = hm_now_ns();
	hm_nats_add(&o->rs->out.blocked_events, 1);
	set_state(o, HM_NATS_W_BLOCKED);
}

static void blocked_end(out *o)
{
	if (!o->blocked_since)
		return;
	hm_nats_add(&o->rs->out.blocked_ns, hm_now_ns() - o->blocked_since);
	o->blocked_since = 0;
	set_state(o, HM_NATS_W_RUNNING);
}

static void pending(out *o, uint64_t bytes)
{
	hm_nats_set(&o->rs->out.pending_bytes, bytes);
	if (bytes > hm_load_relaxed_u64(&o->rs->out.pending_max))
		hm_nats_set(&o->rs->out.pending_max, bytes);
}

/* Persist where a restart resumes: the copy not in use is written, then the
 * index flips to it (release), so a kill at any point leaves one complete
 * copy. Only this thread writes these fields. */
static void save_resume(hm_nats_ring_state *rs, uint64_t next_seq, uint64_t pubseq)
{
	uint64_t idx = hm_load_relaxed_u64(&rs->resume.idx);
	unsigned w = idx == 1 ? 1 : 0; /* idx 1 means copy 0 is valid: write copy 1 */
	hm_store_relaxed_u64(&rs->resume.ring_seq[w], next_seq);
	hm_store_relaxed_u64(&rs->resume.pub_count[w], pubseq);
	/* Release: whoever loads idx with acquire (the next run) sees the copy. */
	hm_store_release_u64(&rs->resume.idx, w + 1);
}

static bool load_resume(hm_nats_ring_state *rs, uint64_t *next_seq, uint64_t *pubseq)
{
	/* Acquire pairs with save_resume's release (of an earlier run). */
	uint64_t idx = hm_load_acquire_u64(&rs->resume.idx);
	if (idx != 1 && idx != 2)
		return false;
	*next_seq = hm_load_relaxed_u64(&rs->resume.ring_seq[idx - 1]);
	*pubseq = hm_load_relaxed_u64(&rs->resume.pub_count[idx - 1]);
	return true;
}

static natsStatus make_msg(out *o, const held *h, natsMsg **out_msg)
{
	char v[24];
	natsMsg *m = NULL;
	natsStatus s = natsMsg_Create(&m, o->cfg->subject, NULL, h->data, (int)h->len);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, HM_NATS_HDR_ORIGIN, o->up->origin);
	if (s == NATS_OK) {
		snprintf(v, sizeof v, "%" PRIu64, h->seq);
		s = natsMsgHeader_Set(m, HM_NATS_HDR_SEQ, v);
	}
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, HM_NATS_HDR_RING, o->cfg->name);
	if (s == NATS_OK) {
		snprintf(v, sizeof v, "%" PRIu64, h->pubseq);
		s = natsMsgHeader_Set(m, HM_NATS_HDR_PUBSEQ, v);
	}
	if (s == NATS_OK && h->tag) {
		snprintf(v, sizeof v, "%" PRIu32, h->tag);
		s = natsMsgHeader_Set(m, HM_NATS_HDR_TAG, v);
	}
	if (s != NATS_OK) {
		natsMsg_Destroy(m);
		m = NULL;
	}
	*out_msg = m;
	return s;
}

/* Count the batch as dropped (policy drop). Its Hermes-Pub-Seq values are
 * spent, so receivers see the gap. */
static void drop_batch(out *o)
{
	hm_nats_add(&o->rs->out.dropped, o->n);
	hm_nats_add(&o->rs->out.dropped_bytes, o->bytes);
}

/* Core: hand the batch to the library. Returns false when it refused some
 * (connection lost under us: its reconnect buffer is full or closed). */
static bool publish_core(out *o)
{
	for (unsigned i = 0; i < o->n; i++) {
		natsMsg *m;
		natsStatus s = make_msg(o, &o->batch[i], &m);
		if (s == NATS_OK)
			s = natsConnection_PublishMsg(o->up->nc, m);
		natsMsg_Destroy(m);
		if (s != NATS_OK) {
			hm_nats_add(&o->rs->out.errors, 1);
			if (o->cfg->policy == HM_NATS_POLICY_DROP) {
				/* The rest of the batch is dropped, counted. */
				hm_nats_add(&o->rs->out.dropped, o->n - i);
				for (unsigned j = i; j < o->n; j++)
					hm_nats_add(&o->rs->out.dropped_bytes, o->batch[j].len);
				return true;
			}
			/* Block: keep what is left and try again once connected. */
			memmove(o->batch, o->batch + i, (o->n - i) * sizeof *o->batch);
			o->n -= i;
			return false;
		}
		hm_nats_add(&o->rs->out.msgs, 1);
		hm_nats_add(&o->rs->out.bytes, o->batch[i].len);
		hm_nats_set(&o->rs->out.pub_count, o->batch[i].pubseq);
	}
	hm_nats_add(&o->rs->out.batches, 1);
	return true;
}

/* The publishing connection (JetStream). Usable while the library says
 * connected; once it broke it stays closed (no reconnection). */
static bool pub_conn_ok(out *o)
{
	return o->pnc && natsConnection_Status(o->pnc) == NATS_CONN_STATUS_CONNECTED;
}

static void pub_conn_close(out *o)
{
	if (o->js) {
		jsCtx_Destroy(o->js);
		o->js = NULL;
	}
	if (o->pnc) {
		natsConnection_Destroy(o->pnc); /* closes it first */
		o->pnc = NULL;
	}
}

/* Have a working publishing connection and its JetStream context: keep
 * the current one, or replace one that broke. Blocks up to the connect
 * timeout per URL. */
static natsStatus pub_conn_open(out *o)
{
	if (pub_conn_ok(o))
		return NATS_OK;
	pub_conn_close(o);
	natsStatus s = NATS_OK;
	if (!o->popts)
		s = hm_nats_publisher_options(o->up, &o->popts);
	if (s == NATS_OK)
		s = natsConnection_Connect(&o->pnc, o->popts);
	if (s != NATS_OK) {
		o->pnc = NULL;
		return s;
	}
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = o->up->cfg.ack_timeout_ms;
	jo.PublishAsync.MaxPending = o->up->cfg.batch + 16;
	jo.PublishAsync.AckHandler = ack_handler;
	jo.PublishAsync.AckHandlerClosure = &o->acks;
	s = natsConnection_JetStream(&o->js, o->pnc, &jo);
	if (s != NATS_OK) {
		o->js = NULL;
		pub_conn_close(o);
	}
	return s;
}

/* JetStream: publish the batch and wait for every acknowledgement. True
 * when the stream has all of it. */
static bool publish_js_once(out *o)
{
	atomic_store(&o->acks.ok, 0);
	atomic_store(&o->acks.dup, 0);
	atomic_store(&o->acks.failed, 0);
	o->acks.why[0] = '\0';
	unsigned sent = 0;
	char id[HERMES_NAME_MAX + 48];
	for (unsigned i = 0; i < o->n; i++) {
		natsMsg *m;
		natsStatus s = make_msg(o, &o->batch[i], &m);
		if (s == NATS_OK) {
			jsPubOptions po;
			jsPubOptions_Init(&po);
			snprintf(id, sizeof id, "%s:%s:%" PRIu64, o->up->origin, o->cfg->name,
				 o->batch[i].seq);
			po.MsgId = id;
			s = js_PublishMsgAsync(o->js, &m, &po);
		}
		natsMsg_Destroy(m); /* no-op when the library took it */
		if (s != NATS_OK) {
			snprintf(o->acks.why, sizeof o->acks.why, "publish: %s", natsStatus_GetText(s));
			break;
		}
		sent++;
	}
	/* We are about to wait for the acknowledgements anyway: have the batch
	 * written now rather than after the library's coalescing delay (a
	 * PING: the PONG comes before the acknowledgements, so the wait costs
	 * nothing extra; its failure is the acknowledgements' to report). */
	if (o->up->cfg.flush_immediate && sent > 0)
		natsConnection_FlushTimeout(o->pnc, o->up->cfg.ack_timeout_ms);
	jsPubOptions wait;
	jsPubOptions_Init(&wait);
	wait.MaxWait = o->up->cfg.ack_timeout_ms;
	natsStatus s = js_PublishAsyncComplete(o->js, &wait);
	if (s != NATS_OK) {
		/* Take back what is still unacknowledged; it is sent again, whole,
		 * with the same ids. */
		natsMsgList l;
		if (js_PublishAsyncGetPendingList(&l, o->js) == NATS_OK)
			natsMsgList_Destroy(&l);
		if (!o->acks.why[0])
			snprintf(o->acks.why, sizeof o->acks.why, "acknowledgements: %s",
				 natsStatus_GetText(s));
		return false;
	}
	uint64_t ok = atomic_load(&o->acks.ok), dup = atomic_load(&o->acks.dup);
	if (sent != o->n || atomic_load(&o->acks.failed) || ok + dup != o->n)
		return false;
	hm_nats_add(&o->rs->out.duplicates, dup);
	return true;
}

/* JetStream with retries. Policy block: until it succeeds or the uplink
 * stops (the ring is held meanwhile). Policy drop: one try while connected;
 * a failure drops the batch, counted. Returns false only on stop. */
static bool publish_js(out *o)
{
	int backoff = 50;
	for (;;) {
		if (!hm_nats_connected(o->up)) {
			if (o->cfg->policy == HM_NATS_POLICY_DROP) {
				drop_batch(o);
				return true;
			}
			blocked_begin(o);
			while (!hm_nats_wait_connected(o->up, HM_NATS_SLICE_MS))
				if (atomic_load(&o->up->stop))
					return false;
		}
		natsStatus cs = pub_conn_open(o);
		if (cs != NATS_OK) {
			/* NATS is reachable for the shared connection but not (yet)
			 * for ours: try again shortly. */
			hm_nats_add(&o->rs->out.errors, 1);
			hm_dlog_ring(HM_DLOG_DEBUG, o->cfg->name, "publishing connection: %s",
				    natsStatus_GetText(cs));
			if (o->cfg->policy == HM_NATS_POLICY_DROP) {
				drop_batch(o);
				return true;
			}
			blocked_begin(o);
			if (hm_nats_sleep(o->up, backoff))
				return false;
			backoff = backoff * 2 > HM_NATS_BACKOFF_MAX_MS ? HM_NATS_BACKOFF_MAX_MS : backoff * 2;
			continue;
		}
		if (publish_js_once(o)) {
			blocked_end(o);
			hm_nats_add(&o->rs->out.msgs, o->n);
			hm_nats_add(&o->rs->out.bytes, o->bytes);
			hm_nats_add(&o->rs->out.batches, 1);
			hm_nats_set(&o->rs->out.pub_count, o->batch[o->n - 1].pubseq);
			return true;
		}
		hm_nats_add(&o->rs->out.errors, 1);
		hm_dlog_ring(HM_DLOG_DEBUG, o->cfg->name, "batch of %u not acknowledged (%s)", o->n,
			    o->acks.why);
		/* A connection that broke is not used again (it never reconnects);
		 * the resend goes over a new one. One still up is kept: what it
		 * was given reaches the server in order before the resend. */
		if (!pub_conn_ok(o))
			pub_conn_close(o);
		if (o->cfg->policy == HM_NATS_POLICY_DROP) {
			drop_batch(o);
			return true;
		}
		hm_nats_add(&o->rs->out.retries, 1);
		blocked_begin(o);
		if (hm_nats_sleep(o->up, backoff))
			return false;
		backoff = backoff * 2 > HM_NATS_BACKOFF_MAX_MS ? HM_NATS_BACKOFF_MAX_MS : backoff * 2;
	}
}

/* Take the next batch from the ring. Returns HERMES_OK (possibly n == 0 when
 * everything available came from NATS), HERMES_EAGAIN when nothing was
 * there, or HERMES_ECLOSED when the ring was deleted. */
static hermes_err gather(out *o)
{
	o->n = 0;
	o->bytes = 0;
	o->drained = false;
	size_t used = 0;
	bool any = false;
	while (o->n < o->up->cfg.batch && o->bytes < o->cfg->max_pending) {
		hermes_msg m;
		hermes_err err;
		if (o->overwrite) {
			err = hermes_sub_recv(o->sub, o->arena + used, (uint32_t)(o->arena_cap - used), &m);
			if (err == HERMES_ENOBUFS)
				break;
			m.data = o->arena + used;
		} else {
			err = hermes_sub_poll(o->sub, &m);
		}
		if (err == HERMES_EAGAIN) {
			o->drained = true;
			break;
		}
		if (err == HERMES_ELOST) {
			/* Lapped on an overwrite ring: those never leave the bus. Spend
			 * their Pub-Seq values so receivers count them as lost too. */
			hm_nats_add(&o->rs->out.ring_lost, m.lost);
			o->pubseq += m.lost;
			any = true;
			continue;
		}
		if (err == HERMES_ECLOSED)
			return err;
		if (err != HERMES_OK) {
			hm_nats_add(&o->rs->out.errors, 1);
			break;
		}
		any = true;
		if (hm_nats_range_contains(o->rs, &o->rcur, m.seq)) {
			/* Loop prevention: it came from NATS through this uplink. */
			hm_nats_add(&o->rs->out.skipped_inbound, 1);
			continue;
		}
		held *h = &o->batch[o->n++];
		h->data = m.data;
		h->len = m.len;
		h->tag = m.tag;
		h->seq = m.seq;
		h->pubseq = ++o->pubseq;
		o->bytes += m.len;
		if (o->overwrite)
			used += (m.len + 7u) & ~7u;
	}
	return any ? HERMES_OK : HERMES_EAGAIN;
}

static void release(out *o)
{
	if (!o->overwrite && hermes_sub_release(o->sub) == HERMES_ELOST)
		hm_nats_add(&o->rs->out.errors, 1);
}

/* Drain available messages while NATS is unreachable (policy drop). */
static hermes_err drain_dropping(out *o)
{
	set_state(o, HM_NATS_W_DROPPING);
	hermes_err err = gather(o);
	if (err == HERMES_OK) {
		drop_batch(o);
		release(o);
		save_resume(o->rs, hermes_sub_next_seq(o->sub), o->pubseq);
		hm_nats_range_trim(o->rs, hermes_sub_next_seq(o->sub));
	}
	return err;
}

static hermes_err run(out *o)
{
	const hm_nats_ring_cfg *cfg = o->cfg;
	set_state(o, HM_NATS_W_RUNNING);
	for (;;) {
		if (atomic_load(&o->up->stop))
			return HERMES_OK;
		bool connected = hm_nats_connected(o->up);
		if (!connected && cfg->policy == HM_NATS_POLICY_BLOCK) {
			/* Hold the ring: take nothing until the server is back. */
			blocked_begin(o);
			hm_nats_wait_connected(o->up, HM_NATS_SLICE_MS);
			continue;
		}
		if (cfg->mode == HM_NATS_MODE_CORE && connected) {
			/* The library's buffer is the pending data of core mode. */
			int buffered = natsConnection_Buffered(o->up->nc);
			pending(o, buffered > 0 ? (uint64_t)buffered : 0);
			if (buffered > 0 && (uint64_t)buffered >= cfg->max_pending) {
				if (cfg->policy == HM_NATS_POLICY_BLOCK) {
					blocked_begin(o);
					hm_nats_sleep(o->up, 1);
					continue;
				}
				connected = false; /* drop until it drains */
			}
		}
		if (connected) {
			blocked_end(o); /* the server is back and there is room */
			set_state(o, HM_NATS_W_RUNNING);
		}
		hermes_err err = hermes_sub_wait(o->sub, HERMES_WAIT_BLOCK, HM_NATS_SLICE_MS * 1000000ll);
		if (err == HERMES_ECLOSED)
			return err;
		if (err != HERMES_OK)
			continue; /* timeout or signal: look at the flags again */
		if (!connected) {
			if ((err = drain_dropping(o)) == HERMES_ECLOSED)
				return err;
			continue;
		}
		err = gather(o);
		if (err == HERMES_ECLOSED)
			return err;
		if (err == HERMES_EAGAIN)
			continue;
		hm_nats_set(&o->rs->out.next_seq, hermes_sub_next_seq(o->sub));
		if (o->n > 0) {
			if (cfg->mode == HM_NATS_MODE_JETSTREAM) {
				pending(o, o->bytes);
				if (!publish_js(o))
					return HERMES_OK; /* stopping: the batch stays unacknowledged */
				pending(o, 0);
			} else {
				while (!publish_core(o)) {
					/* Block policy, connection lost mid-batch: wait, then
					 * send the rest. */
					blocked_begin(o);
					while (!hm_nats_wait_connected(o->up, HM_NATS_SLICE_MS))
						if (atomic_load(&o->up->stop))
							return HERMES_OK;
				}
				blocked_end(o);
				if (o->drained)
					hm_nats_flush_kick(o->up);
			}
		}
		release(o);
		uint64_t next = hermes_sub_next_seq(o->sub);
		save_resume(o->rs, next, o->pubseq);
		hm_nats_range_trim(o->rs, next);
	}
}

static hermes_err open_ring(out *o)
{
	uint64_t cap, slots;
	uint32_t max_msg, policy;
	hermes_err err = hm_nats_ring_facts(o->up, o->cfg->name, &cap, &slots, &max_msg, &policy);
	if (err)
		return err;
	o->overwrite = policy == HERMES_POLICY_OVERWRITE;
	if (o->overwrite) {
		size_t want = (size_t)o->cfg->max_pending + max_msg + 8;
		if (want != o->arena_cap) {
			free(o->arena);
			o->arena = malloc(want);
			o->arena_cap = o->arena ? want : 0;
			if (!o->arena)
				return HERMES_ENOMEM;
		}
	}
	uint64_t resume_seq = 0, pubseq = 0;
	bool have = load_resume(o->rs, &resume_seq, &pubseq);
	o->pubseq = have ? pubseq : 0;
	/* JetStream resumes where the stream's acknowledgements ended (messages
	 * the ring still holds); core starts with what comes next. */
	bool resume = have && o->cfg->mode == HM_NATS_MODE_JETSTREAM;
	err = hermes_sub_open(o->up->bus, o->cfg->name, resume ? HERMES_START_SEQ : HERMES_START_LATEST,
			      resume ? resume_seq : 0, &o->sub);
	if (err)
		return err;
	if (resume)
		hm_dlog_ring(HM_DLOG_INFO, o->cfg->name,
			    "resuming publication at sequence %" PRIu64 " (Hermes-Pub-Seq %" PRIu64
			    ")",
			    resume_seq, pubseq);
	hm_nats_range_cursor_init(o->rs, &o->rcur);
	hm_nats_set(&o->rs->out.next_seq, hermes_sub_next_seq(o->sub));
	return HERMES_OK;
}

static bool setup_js(out *o)
{
	while (!atomic_load(&o->up->stop)) {
		set_state(o, HM_NATS_W_WAIT_NATS);
		if (!hm_nats_wait_connected(o->up, HM_NATS_RETRY_MS))
			continue;
		natsStatus s = pub_conn_open(o);
		if (s != NATS_OK) {
			hm_dlog_ring(HM_DLOG_WARN, o->cfg->name,
				    "publishing connection: %s; retrying", natsStatus_GetText(s));
			hm_nats_sleep(o->up, HM_NATS_RETRY_MS);
			continue;
		}
		s = hm_nats_js_ensure_stream(o->up, o->js, o->cfg, NULL, NULL);
		if (s == NATS_OK)
			return true;
		hm_nats_add(&o->rs->out.errors, 1);
		hm_dlog_ring(HM_DLOG_WARN, o->cfg->name, "stream %s not available yet (%s); retrying",
			    o->cfg->stream,
			    nats_GetLastError(NULL) ? nats_GetLastError(NULL)
						    : natsStatus_GetText(s));
		hm_nats_sleep(o->up, HM_NATS_RETRY_MS);
	}
	return false;
}

void *hm_nats_out_main(void *arg)
{
	hm_nats_ring_ctx *rc = arg;
	out o = {.rc = rc, .up = rc->up, .cfg = rc->cfg, .rs = rc->rs};
	o.batch = calloc(o.up->cfg.batch, sizeof *o.batch);
	if (!o.batch) {
		hm_dlog_ring(HM_DLOG_ERROR, o.cfg->name, "out of memory");
		return NULL;
	}
	bool waiting_logged = false;
	while (!atomic_load(&o.up->stop)) {
		hermes_err err = open_ring(&o);
		if (err == HERMES_ENOENT) {
			set_state(&o, HM_NATS_W_WAIT_RING);
			if (!waiting_logged)
				hm_dlog_ring(HM_DLOG_WARN, o.cfg->name,
					    "ring does not exist on bus '%s' (yet); checking every "
					    "second",
					    o.up->cfg.bus);
			waiting_logged = true;
			hm_nats_sleep(o.up, HM_NATS_RETRY_MS);
			continue;
		}
		if (err) {
			hm_dlog_ring(HM_DLOG_ERROR, o.cfg->name, "cannot subscribe: %s (%s)",
				    hermes_strerror(err), hermes_last_error_detail());
			hm_nats_sleep(o.up, HM_NATS_RETRY_MS);
			continue;
		}
		waiting_logged = false;
		if (o.cfg->mode == HM_NATS_MODE_JETSTREAM && !setup_js(&o)) {
			hermes_sub_close(o.sub);
			o.sub = NULL;
			break;
		}
		hm_dlog_ring(HM_DLOG_INFO, o.cfg->name, "ring -> %s (%s, policy %s)", o.cfg->subject,
			    hm_nats_mode_name(o.cfg->mode), hm_nats_policy_name(o.cfg->policy));
		err = run(&o);
		blocked_end(&o);
		hermes_sub_close(o.sub);
		o.sub = NULL;
		if (err == HERMES_ECLOSED) {
			hm_dlog_ring(HM_DLOG_WARN, o.cfg->name,
				    "ring was deleted; waiting for it to come back");
			hm_nats_sleep(o.up, HM_NATS_RETRY_MS);
		}
	}
	pub_conn_close(&o);
	if (o.popts)
		natsOptions_Destroy(o.popts);
	free(o.arena);
	free(o.batch);
	set_state(&o, HM_NATS_W_OFF);
	return NULL;
}
