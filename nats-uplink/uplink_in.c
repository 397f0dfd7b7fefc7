/* NATS -> ring: one thread per ring with direction in or both.
 *
 * Messages arrive from the ring's subject, are checked (our own bus's
 * messages are never delivered back; Hermes-Pub-Seq gaps are counted as
 * losses), and are committed into the ring in batches, each batch with one
 * claim and one commit.
 *
 *  - core: a plain subscription; the client library holds at most
 *    max_pending bytes for us, beyond that it drops (counted: client_dropped,
 *    and the gap shows in Hermes-Pub-Seq).
 *  - jetstream: a pull consumer created by us at the stream sequence after
 *    the last one applied to this bus (inp.applied, in the state file), with
 *    no server-side acknowledgement: the position is ours. Every batch is
 *    announced in the state file before its commit (write-ahead), so a
 *    restart after a kill at any instruction knows whether the batch made it
 *    into the ring, and nothing is applied twice or skipped.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/futex.h"
#include "nats-uplink/uplink.h"

#define MAX_ORIGINS 64
#define CONSUMER_CHECK_NS (2 * 1000000000ull)

typedef struct origin_seen {
	uint64_t origin;
	uint64_t last; /* last Hermes-Pub-Seq seen from it; 0 = none yet */
} origin_seen;

typedef struct item {
	const void *data;
	uint32_t len;
	uint64_t sseq; /* stream sequence (JetStream), else 0 */
	uint32_t tag;  /* Hermes-Tag, else 0 */
} item;

typedef struct in {
	hm_nats_ring_ctx *rc;
	hm_nats_uplink *up;
	const hm_nats_ring_cfg *cfg;
	hm_nats_ring_state *rs;
	hermes_pub *pub;
	uint64_t cap, slots;
	uint32_t max_msg;
	bool record_ranges; /* direction both: tell the out thread what we commit */

	natsSubscription *sub;
	jsCtx *js;
	char consumer[64];
	uint64_t last_cseq;
	unsigned conn_gen;
	uint64_t client_dropped_base;

	natsMsg **msgs;
	item *items;
	uint32_t *lens;
	uint32_t *tags;
	void **ptrs;
	unsigned nmsgs;
	bool bad_tag_logged;

	origin_seen origins[MAX_ORIGINS];
	unsigned next_origin;
	bool ring_full;
} in;

static void set_state(in *w, unsigned s)
{
	hm_nats_set(&w->rs->in.state, s);
}

static bool parse_u64(const char *s, unsigned base, uint64_t *out)
{
	if (!s || !*s)
		return false;
	char *end;
	unsigned long long v = strtoull(s, &end, (int)base);
	if (*end)
		return false;
	*out = v;
	return true;
}

/* Loss accounting per origin: each origin's uplink numbers what it sends
 * (or drops) on this subject 1, 2, 3...; a jump is messages lost between
 * that bus and this one. Going backwards means the origin's uplink started
 * over (new state) or a resend beyond JetStream's duplicate window; either
 * way we take the new value as the baseline. */
static void account(in *w, uint64_t origin, uint64_t ps)
{
	origin_seen *o = NULL;
	for (unsigned i = 0; i < MAX_ORIGINS && !o; i++)
		if (w->origins[i].origin == origin)
			o = &w->origins[i];
	if (!o) {
		o = &w->origins[w->next_origin++ % MAX_ORIGINS];
		o->origin = origin;
		o->last = 0;
	}
	if (o->last != 0 && ps > o->last + 1) {
		hm_nats_add(&w->rs->in.lost, ps - o->last - 1);
		hm_nats_add(&w->rs->in.gap_events, 1);
	}
	o->last = ps;
}

/* The message's user tag: its Hermes-Tag header, decimal 1..2^32-1. A
 * header that is not one (any NATS client may set it) is ignored: the
 * message goes in untagged, and the first such is logged. */
static uint32_t msg_tag(in *w, natsMsg *m)
{
	const char *v = NULL;
	uint64_t tag = 0;
	if (natsMsgHeader_Get(m, HM_NATS_HDR_TAG, &v) != NATS_OK)
		return 0;
	if (v[0] >= '1' && v[0] <= '9' && parse_u64(v, 10, &tag) && tag <= UINT32_MAX &&
	    strlen(v) <= 10)
		return (uint32_t)tag;
	if (!w->bad_tag_logged) {
		w->bad_tag_logged = true;
		hm_dlog_ring(HM_DLOG_WARN, w->cfg->name,
			    "a message from NATS with %s '%.16s' (not 1..%u); delivered untagged "
			    "(logged once)",
			    HM_NATS_HDR_TAG, v, UINT32_MAX);
	}
	return 0;
}

/* Decide about one message: false when it must not go into the ring. */
static bool admit(in *w, natsMsg *m)
{
	const char *v = NULL;
	uint64_t origin = 0, ps = 0;
	if (natsMsgHeader_Get(m, HM_NATS_HDR_ORIGIN, &v) == NATS_OK && parse_u64(v, 16, &origin)) {
		if (origin == w->up->bus_id) {
			/* Our own bus's message (JetStream hands back everything in the
			 * stream; core never should, with no-echo): never again. */
			hm_nats_add(&w->rs->in.own_skipped, 1);
			return false;
		}
		if (natsMsgHeader_Get(m, HM_NATS_HDR_PUBSEQ, &v) == NATS_OK && parse_u64(v, 10, &ps) &&
		    ps > 0)
			account(w, origin, ps);
	}
	/* No Hermes headers: an ordinary NATS client published on the ring's
	 * subject. It is delivered; there is no origin to account for. */
	if ((uint32_t)natsMsg_GetDataLength(m) > w->max_msg) {
		hm_nats_add(&w->rs->in.too_big, 1);
		hm_dlog_ring(HM_DLOG_WARN, w->cfg->name,
			    "dropped a %d-byte message from NATS (max %u)",
			    natsMsg_GetDataLength(m), w->max_msg);
		return false;
	}
	return true;
}

static void free_msgs(in *w)
{
	for (unsigned i = 0; i < w->nmsgs; i++)
		natsMsg_Destroy(w->msgs[i]);
	w->nmsgs = 0;
}

/* Claim room for n items, waiting while the ring is full. HERMES_OK,
 * HERMES_EMSGSIZE (split the batch), HERMES_ECLOSED (ring deleted), or
 * HERMES_ETIMEDOUT when the uplink stops first. */
static hermes_err claim(in *w, const item *it, unsigned n, hermes_claim *c)
{
	for (unsigned i = 0; i < n; i++) {
		w->lens[i] = it[i].len;
		w->tags[i] = it[i].tag;
	}
	for (;;) {
		hermes_err err = hermes_pub_claim_batch_tagged(w->pub, w->lens, w->tags, n, w->ptrs, c);
		if (err != HERMES_EAGAIN) {
			if (err == HERMES_OK && w->ring_full) {
				w->ring_full = false;
				set_state(w, HM_NATS_W_RUNNING);
			}
			return err;
		}
		/* Block ring held back by a slow local subscriber: inbound waits
		 * (JetStream simply fetches later; core lets the library's buffer
		 * absorb it up to max_pending). */
		if (!w->ring_full) {
			w->ring_full = true;
			hm_nats_add(&w->rs->in.ring_full_events, 1);
			set_state(w, HM_NATS_W_RING_FULL);
		}
		if (atomic_load(&w->up->stop))
			return HERMES_ETIMEDOUT;
		struct timespec ts = {0, 200000};
		nanosleep(&ts, NULL);
	}
}

/* Commit items[0..n) into the ring; `stream_last` (JetStream) is the stream
 * sequence that is final once they are in. HERMES_OK, HERMES_ECLOSED (the
 * ring was deleted) or HERMES_ETIMEDOUT (stopping); on an error the part not
 * committed is not recorded as applied. */
static hermes_err commit(in *w, item *it, unsigned n, uint64_t stream_last)
{
	bool js = w->cfg->mode == HM_NATS_MODE_JETSTREAM;
	hm_nats_ring_state *rs = w->rs;
	/* A batch must fit the ring's limits: 1024 messages, a quarter of its
	 * slots and of its bytes. */
	unsigned limit = 1024;
	if (limit > w->slots / 4)
		limit = (unsigned)(w->slots / 4);
	unsigned at = 0;
	while (at < n) {
		unsigned k = n - at < limit ? n - at : limit;
		uint64_t bytes = 0;
		for (unsigned i = 0; i < k; i++) {
			bytes += (it[at + i].len + 7u) & ~7u;
			if (bytes > w->cap / 4 && i > 0) {
				k = i;
				break;
			}
		}
		hermes_claim c;
		hermes_err err = claim(w, it + at, k, &c);
		if (err == HERMES_EMSGSIZE && k > 1) {
			limit = k / 2; /* should not happen with the limits above */
			continue;
		}
		if (err == HERMES_EMSGSIZE) {
			hm_nats_add(&rs->in.too_big, 1);
			at++;
			continue;
		}
		if (err)
			return err;
		uint64_t seq = hermes_claim_seq(&c);
		uint64_t chunk_last = at + k == n ? stream_last : it[at + k - 1].sseq;
		if (js) {
			/* Write-ahead: the next run finds this record if we die before
			 * `applied` moves, and asks the ring whether `seq` committed.
			 * Release on pend_valid: the fields before it are seen with it. */
			hm_store_relaxed_u64(&rs->inp.pend_ring_seq, seq);
			hm_store_relaxed_u64(&rs->inp.pend_count, k);
			hm_store_relaxed_u64(&rs->inp.pend_stream_last, chunk_last);
			hm_store_release_u64(&rs->inp.pend_valid, 1);
		}
		/* Before the commit: the out thread must find these sequences in
		 * the range log once it can see the messages (see uplink_state.c). */
		if (w->record_ranges && !hm_nats_range_add(rs, seq, k, &w->up->stop)) {
			hermes_pub_abort(w->pub, &c);
			if (js)
				hm_store_release_u64(&rs->inp.pend_valid, 0);
			return HERMES_ETIMEDOUT;
		}
		uint64_t b = 0;
		for (unsigned i = 0; i < k; i++) {
			memcpy(w->ptrs[i], it[at + i].data, it[at + i].len);
			b += it[at + i].len;
		}
		hermes_pub_commit(w->pub, &c);
		if (js) {
			/* Release: the commit above happens before `applied` moves. */
			hm_store_release_u64(&rs->inp.applied, chunk_last);
			hm_store_release_u64(&rs->inp.pend_valid, 0);
		}
		hm_nats_add(&rs->in.msgs, k);
		hm_nats_add(&rs->in.bytes, b);
		hm_nats_add(&rs->in.batches, 1);
		at += k;
	}
	if (js && stream_last > hm_load_relaxed_u64(&rs->inp.applied))
		/* The tail of the batch was all skipped (own, too big): final too. */
		hm_store_release_u64(&rs->inp.applied, stream_last);
	return HERMES_OK;
}

/* What a step asks of the loop. */
enum step { STEP_OK, STEP_RESET, STEP_RING, STEP_STOP };

static enum step step_of(hermes_err err)
{
	return err == HERMES_OK ? STEP_OK : err == HERMES_ECLOSED ? STEP_RING : STEP_STOP;
}

/* ---- core ---- */

static void core_close(in *w)
{
	if (w->sub) {
		natsSubscription_Unsubscribe(w->sub);
		natsSubscription_Destroy(w->sub);
		w->sub = NULL;
	}
}

static bool core_open(in *w)
{
	natsStatus s = natsConnection_SubscribeSync(&w->sub, w->up->nc, w->cfg->subject);
	if (s == NATS_OK)
		/* No limit on the count, max_pending on the bytes the library may
		 * hold for us. */
		s = natsSubscription_SetPendingLimits(w->sub, -1,
						      (int)(w->cfg->max_pending > INT32_MAX
								    ? INT32_MAX
								    : w->cfg->max_pending));
	if (s == NATS_OK)
		/* A round trip: the server has our interest before we say we run
		 * (core delivers only to subscriptions that exist). */
		s = natsConnection_FlushTimeout(w->up->nc, HM_NATS_CALL_MS);
	if (s != NATS_OK) {
		hm_dlog_ring(HM_DLOG_WARN, w->cfg->name, "cannot subscribe to %s: %s",
			    w->cfg->subject, natsStatus_GetText(s));
		core_close(w);
		return false;
	}
	w->client_dropped_base = hm_load_relaxed_u64(&w->rs->in.client_dropped);
	return true;
}

static void core_stats(in *w)
{
	int64_t dropped = 0;
	if (natsSubscription_GetDropped(w->sub, &dropped) == NATS_OK && dropped > 0)
		hm_nats_set(&w->rs->in.client_dropped, w->client_dropped_base + (uint64_t)dropped);
	int pm = 0, pb = 0;
	if (natsSubscription_GetPending(w->sub, &pm, &pb) == NATS_OK)
		hm_nats_set(&w->rs->in.pending_bytes, pb > 0 ? (uint64_t)pb : 0);
}

static enum step core_step(in *w)
{
	natsMsg *m = NULL;
	natsStatus s = natsSubscription_NextMsg(&m, w->sub, HM_NATS_SLICE_MS);
	if (s == NATS_TIMEOUT || s == NATS_SLOW_CONSUMER) {
		core_stats(w);
		return STEP_OK;
	}
	if (s != NATS_OK) {
		hm_nats_add(&w->rs->in.errors, 1);
		hm_nats_sleep(w->up, HM_NATS_SLICE_MS);
		return natsSubscription_IsValid(w->sub) ? STEP_OK : STEP_RESET;
	}
	w->msgs[w->nmsgs++] = m;
	/* Whatever else is already queued joins the batch. */
	int pm = 0, pb = 0;
	if (natsSubscription_GetPending(w->sub, &pm, &pb) == NATS_OK) {
		while (pm-- > 0 && w->nmsgs < w->up->cfg.batch) {
			if (natsSubscription_NextMsg(&m, w->sub, 1) != NATS_OK)
				break;
			w->msgs[w->nmsgs++] = m;
		}
	}
	unsigned n = 0;
	for (unsigned i = 0; i < w->nmsgs; i++)
		if (admit(w, w->msgs[i]))
			w->items[n++] = (item){natsMsg_GetData(w->msgs[i]),
					       (uint32_t)natsMsg_GetDataLength(w->msgs[i]), 0,
					       msg_tag(w, w->msgs[i])};
	hermes_err err = commit(w, w->items, n, 0);
	free_msgs(w);
	core_stats(w);
	return step_of(err);
}

/* ---- JetStream ---- */

/* Drop our consumer. Deleted on the server only when we stop: after an
 * error its server may be gone, and a delete would wait out the API timeout
 * for nothing; unused, it expires by itself (InactiveThreshold). */
static void js_close(in *w, bool delete_consumer)
{
	if (w->sub) {
		natsSubscription_Unsubscribe(w->sub);
		natsSubscription_Destroy(w->sub);
		w->sub = NULL;
	}
	if (delete_consumer && w->consumer[0] && w->js && hm_nats_connected(w->up)) {
		jsErrCode ec = 0;
		js_DeleteConsumer(w->js, w->cfg->stream, w->consumer, NULL, &ec);
	}
	w->consumer[0] = '\0';
}

/* A restart found a batch announced but maybe not committed: ask the ring. */
bool hm_nats_in_resolve_pending(hermes_bus *bus, const char *ring, hm_nats_ring_state *rs)
{
	/* Acquire pairs with the release of pend_valid in commit(). */
	if (!hm_load_acquire_u64(&rs->inp.pend_valid))
		return false;
	uint64_t seq = hm_load_relaxed_u64(&rs->inp.pend_ring_seq);
	uint64_t last = hm_load_relaxed_u64(&rs->inp.pend_stream_last);
	hermes_sub *probe = NULL;
	const char *verdict;
	bool committed = false;
	if (hermes_sub_open(bus, ring, HERMES_START_SEQ, seq, &probe) != HERMES_OK) {
		verdict = "cannot look (assumed not committed)";
	} else {
		hermes_msg m;
		hermes_err err = hermes_sub_poll(probe, &m);
		if (err == HERMES_OK && m.seq == seq) {
			committed = true;
			verdict = "committed";
		} else if (err == HERMES_ELOST) {
			/* The ring moved a whole lap since: whatever happened, the
			 * batch is not there any more to be seen twice. */
			committed = true;
			verdict = "no longer in the ring (taken as committed)";
		} else {
			/* EAGAIN: the claim is still in progress, and its owner (our
			 * previous run: we hold the state file's lock) is dead, so it
			 * never will commit; or a later sequence: it was repaired. */
			verdict = "not committed (will be applied now)";
		}
		hermes_sub_close(probe);
	}
	if (committed)
		hm_store_release_u64(&rs->inp.applied, last);
	hm_store_release_u64(&rs->inp.pend_valid, 0);
	hm_nats_add(&rs->in.resolved, 1);
	hm_dlog_ring(HM_DLOG_INFO, ring,
		    "the previous run stopped inside a commit (ring sequence %" PRIu64
		    ", stream sequence up to %" PRIu64 "): %s",
		    seq, last, verdict);
	return committed;
}

/* Make sure the stream exists and reconcile what this bus applied with what
 * it holds now; *applied: the last stream sequence to start after. */
static bool js_check_stream(in *w, uint64_t *applied)
{
	uint64_t first, last;
	natsStatus s = hm_nats_js_ensure_stream(w->up, w->js, w->cfg, &first, &last);
	if (s != NATS_OK) {
		hm_dlog_ring(HM_DLOG_DEBUG, w->cfg->name, "stream %s not available: %s",
			    w->cfg->stream, natsStatus_GetText(s));
		return false;
	}
	*applied = hm_load_acquire_u64(&w->rs->inp.applied);
	if (*applied > last) {
		/* The stream is behind what we applied: it was deleted and made
		 * again. Its sequences mean something new; start at its beginning. */
		hm_dlog_ring(HM_DLOG_WARN, w->cfg->name,
			    "stream %s ends at sequence %" PRIu64
			    " but this bus applied up to %" PRIu64
			    " (the stream was re-created?): reading it from its start",
			    w->cfg->stream, last, *applied);
		hm_nats_add(&w->rs->in.errors, 1);
		*applied = 0;
		hm_store_release_u64(&w->rs->inp.applied, 0);
	} else if (*applied > 0 && first > *applied + 1) {
		/* Limits (age, bytes) removed messages this bus never applied. */
		hm_dlog_ring(HM_DLOG_WARN, w->cfg->name,
			    "stream %s now starts at sequence %" PRIu64 "; sequences %" PRIu64
			    "..%" PRIu64 " expired before this bus applied them",
			    w->cfg->stream, first, *applied + 1, first - 1);
		hm_nats_add(&w->rs->in.errors, 1);
	}
	return true;
}

/* Our consumer: from after `applied` (or as deliver_new says, on a first
 * run), kept in memory, one replica; the server removes it 30 s after we
 * stop asking. Its config in *cc, its name in w->consumer. */
static bool js_add_consumer(in *w, uint64_t applied, jsConsumerConfig *cc)
{
	jsConsumerConfig_Init(cc);
	cc->AckPolicy = js_AckNone;
	cc->FilterSubject = w->cfg->subject;
	if (applied > 0) {
		cc->DeliverPolicy = js_DeliverByStartSequence;
		cc->OptStartSeq = applied + 1;
	} else {
		cc->DeliverPolicy = w->cfg->deliver_new ? js_DeliverNew : js_DeliverAll;
	}
	cc->MemoryStorage = true;
	cc->Replicas = 1;
	cc->InactiveThreshold = 30ll * 1000000000;
	cc->MaxRequestBatch = 1024;
	jsConsumerInfo *ci = NULL;
	jsErrCode ec = 0;
	natsStatus s = js_AddConsumer(&ci, w->js, w->cfg->stream, cc, NULL, &ec);
	if (s != NATS_OK) {
		hm_dlog_ring(HM_DLOG_DEBUG, w->cfg->name, "cannot create a consumer on %s: %s (%d)",
			    w->cfg->stream, natsStatus_GetText(s), (int)ec);
		return false;
	}
	snprintf(w->consumer, sizeof w->consumer, "%s", ci->Name);
	jsConsumerInfo_Destroy(ci);
	return true;
}

static bool js_open(in *w)
{
	jsErrCode ec = 0;
	natsStatus s;
	if (!w->js) {
		jsOptions jo;
		jsOptions_Init(&jo);
		/* API calls (consumer create/info) give up after 2 s: a failure
		 * only means "try again", and a dead node should not hold us. */
		jo.Wait = HM_NATS_CALL_MS;
		s = natsConnection_JetStream(&w->js, w->up->nc, &jo);
		if (s != NATS_OK)
			return false;
	}
	uint64_t applied;
	jsConsumerConfig cc;
	if (!js_check_stream(w, &applied) || !js_add_consumer(w, applied, &cc))
		return false;
	jsSubOptions so;
	jsSubOptions_Init(&so);
	so.Stream = w->cfg->stream;
	so.Consumer = w->consumer;
	so.ManualAck = true;
	so.Config = cc;
	s = js_PullSubscribe(&w->sub, w->js, w->cfg->subject, w->consumer, NULL, &so, &ec);
	if (s != NATS_OK) {
		hm_dlog_ring(HM_DLOG_DEBUG, w->cfg->name, "cannot bind to consumer %s: %s",
			    w->consumer, natsStatus_GetText(s));
		js_close(w, true);
		return false;
	}
	w->last_cseq = 0;
	hm_nats_add(&w->rs->in.consumer_resets, 1);
	hm_dlog_ring(HM_DLOG_INFO, w->cfg->name,
		    "ring <- stream %s from sequence %" PRIu64 " (consumer %s)", w->cfg->stream,
		    applied + 1, w->consumer);
	return true;
}

/* One fetch. STEP_RESET when the consumer must be made again. */
static enum step js_step(in *w, uint64_t *idle_since)
{
	natsMsgList l = {0};
	jsErrCode ec = 0;
	natsStatus s = natsSubscription_Fetch(&l, w->sub, (int)w->up->cfg.batch, 2 * HM_NATS_SLICE_MS, &ec);
	if (s == NATS_TIMEOUT) {
		natsMsgList_Destroy(&l);
		uint64_t now = hm_now_ns();
		if (!*idle_since)
			*idle_since = now;
		if (now - *idle_since > CONSUMER_CHECK_NS) {
			/* Quiet for a while: is our consumer still there (its server
			 * may have gone)? */
			*idle_since = now;
			jsConsumerInfo *ci = NULL;
			natsStatus cs = js_GetConsumerInfo(&ci, w->js, w->cfg->stream, w->consumer,
							   NULL, &ec);
			if (ci)
				jsConsumerInfo_Destroy(ci);
			if (cs != NATS_OK)
				return STEP_RESET;
		}
		return STEP_OK;
	}
	*idle_since = 0;
	if (s != NATS_OK) {
		natsMsgList_Destroy(&l);
		hm_nats_add(&w->rs->in.errors, 1);
		hm_dlog_ring(HM_DLOG_DEBUG, w->cfg->name, "fetch: %s", natsStatus_GetText(s));
		return STEP_RESET;
	}
	uint64_t applied = hm_load_relaxed_u64(&w->rs->inp.applied); /* we are its writer */
	uint64_t last_final = applied;
	unsigned n = 0;
	bool reset = false;
	for (int i = 0; i < l.Count; i++) {
		natsMsg *m = l.Msgs[i];
		jsMsgMetaData *md = NULL;
		if (natsMsg_GetMetaData(&md, m) != NATS_OK) {
			hm_nats_add(&w->rs->in.errors, 1);
			reset = true;
			break;
		}
		uint64_t sseq = md->Sequence.Stream, cseq = md->Sequence.Consumer;
		jsMsgMetaData_Destroy(md);
		if (cseq != w->last_cseq + 1) {
			/* A delivery went missing between the server and us: start a
			 * consumer again from the last applied sequence. */
			hm_dlog_ring(HM_DLOG_INFO, w->cfg->name,
				    "consumer sequence jumped %" PRIu64 " -> %" PRIu64
				    "; re-creating the consumer",
				    w->last_cseq, cseq);
			reset = true;
			break;
		}
		w->last_cseq = cseq;
		if (sseq <= last_final) {
			hm_nats_add(&w->rs->in.dup_skipped, 1);
			continue;
		}
		last_final = sseq;
		if (admit(w, m))
			w->items[n++] = (item){natsMsg_GetData(m), (uint32_t)natsMsg_GetDataLength(m), sseq,
					       msg_tag(w, m)};
	}
	hermes_err err = HERMES_OK;
	if (last_final > applied)
		err = commit(w, w->items, n, last_final);
	natsMsgList_Destroy(&l);
	if (err)
		return step_of(err);
	return reset ? STEP_RESET : STEP_OK;
}

static hermes_err open_ring(in *w)
{
	uint32_t policy;
	hermes_err err = hm_nats_ring_facts(w->up, w->cfg->name, &w->cap, &w->slots, &w->max_msg, &policy);
	if (err)
		return err;
	return hermes_pub_open(w->up->bus, w->cfg->name, &w->pub);
}

/* Stop reading NATS: the consumer (kept on the server or not) or the core
 * subscription. */
static void close_source(in *w, bool js, bool keep_consumer)
{
	if (js)
		js_close(w, keep_consumer);
	else
		core_close(w);
}

/* Subscribe to NATS once connected, backing off (50 ms doubling to 1 s)
 * while it fails. False: not yet (look again), or stopping. */
static bool open_source(in *w, bool js, int *backoff, bool *stopping)
{
	set_state(w, HM_NATS_W_WAIT_NATS);
	if (!hm_nats_wait_connected(w->up, HM_NATS_SLICE_MS))
		return false;
	w->conn_gen = atomic_load(&w->up->conn_gen);
	if (!(js ? js_open(w) : core_open(w))) {
		if (hm_nats_sleep(w->up, *backoff))
			*stopping = true;
		*backoff = *backoff * 2 > HM_NATS_BACKOFF_MAX_MS ? HM_NATS_BACKOFF_MAX_MS : *backoff * 2;
		return false;
	}
	if (!js)
		hm_dlog_ring(HM_DLOG_INFO, w->cfg->name, "ring <- %s (core)", w->cfg->subject);
	*backoff = 50;
	set_state(w, HM_NATS_W_RUNNING);
	return true;
}

/* Move messages from NATS into the open ring until stopped or the ring
 * fails. */
static void serve_ring(in *w, bool js)
{
	uint64_t idle_since = 0;
	int backoff = 50;
	while (!atomic_load(&w->up->stop)) {
		if (!w->sub) {
			bool stopping = false;
			if (!open_source(w, js, &backoff, &stopping)) {
				if (stopping)
					break;
				continue;
			}
			idle_since = 0;
		}
		enum step st;
		if (js && atomic_load(&w->up->conn_gen) != w->conn_gen)
			/* After a reconnection the consumer may have lived on the
			 * server we lost; making a new one is cheap and exact. */
			st = STEP_RESET;
		else
			st = js ? js_step(w, &idle_since) : core_step(w);
		if (st == STEP_RESET)
			close_source(w, js, false);
		else if (st != STEP_OK)
			break;
	}
	close_source(w, js, true);
}

/* Open the ring to publish into; false (after a second's wait) while it
 * does not exist or cannot be opened. */
static bool wait_ring(in *w, bool *waiting_logged)
{
	hermes_err err = open_ring(w);
	if (err == HERMES_ENOENT) {
		set_state(w, HM_NATS_W_WAIT_RING);
		if (!*waiting_logged)
			hm_dlog_ring(HM_DLOG_WARN, w->cfg->name,
				    "ring does not exist on bus '%s' (yet); checking every second",
				    w->up->cfg.bus);
		*waiting_logged = true;
		hm_nats_sleep(w->up, HM_NATS_RETRY_MS);
		return false;
	}
	if (err) {
		hm_dlog_ring(HM_DLOG_ERROR, w->cfg->name, "cannot publish into it: %s (%s)",
			    hermes_strerror(err), hermes_last_error_detail());
		hm_nats_sleep(w->up, HM_NATS_RETRY_MS);
		return false;
	}
	*waiting_logged = false;
	return true;
}

void *hm_nats_in_main(void *arg)
{
	hm_nats_ring_ctx *rc = arg;
	in w = {.rc = rc, .up = rc->up, .cfg = rc->cfg, .rs = rc->rs};
	unsigned b = w.up->cfg.batch;
	w.msgs = calloc(b, sizeof *w.msgs);
	w.items = calloc(b, sizeof *w.items);
	w.lens = calloc(b, sizeof *w.lens);
	w.tags = calloc(b, sizeof *w.tags);
	w.ptrs = calloc(b, sizeof *w.ptrs);
	w.record_ranges = w.cfg->dir == HM_NATS_DIR_BOTH;
	if (!w.msgs || !w.items || !w.lens || !w.tags || !w.ptrs) {
		hm_dlog_ring(HM_DLOG_ERROR, w.cfg->name, "out of memory");
		goto out;
	}
	bool js = w.cfg->mode == HM_NATS_MODE_JETSTREAM;
	bool waiting_logged = false;
	while (!atomic_load(&w.up->stop)) {
		if (!wait_ring(&w, &waiting_logged))
			continue;
		if (js)
			hm_nats_in_resolve_pending(w.up->bus, w.cfg->name, w.rs);
		serve_ring(&w, js);
		hermes_pub_close(w.pub);
		w.pub = NULL;
	}
out:
	if (w.js)
		jsCtx_Destroy(w.js);
	free(w.msgs);
	free(w.items);
	free(w.lens);
	free(w.tags);
	free(w.ptrs);
	set_state(&w, HM_NATS_W_OFF);
	return NULL;
}
