/* Feeds: cursors in local rings that fan messages out to remote subscribers.
 *
 * A ring has at most one *shared* feed, serving every subscription whose
 * slow-subscriber policy never waits for the subscriber (drop, disconnect):
 * one cursor in the ring, however many connections, and each message is read
 * once and copied into each subscriber's output buffer. A subscription with
 * the HOLD policy gets a *dedicated* feed (its own cursor, so that holding it
 * back holds back nobody else) that polls only when its connection has room
 * for the largest message, so nothing is read that could not be delivered.
 * A drop/disconnect subscription that starts behind the shared feed's
 * position catches up on a dedicated feed, then joins the shared one.
 *
 * Block rings are read zero-copy (poll, copy into the output buffers,
 * release once per batch). Overwrite rings are read with hermes_sub_recv into
 * one scratch buffer, which validates each message against concurrent
 * overwrite before anything of it is sent.
 *
 * A drained feed is armed with the watcher (watch.c) at its next sequence and
 * costs nothing until that message exists.
 *
 * A subscription at a sequence the ring no longer holds, on a ring with a
 * journal, starts on a *journal feed* and moves to a ring feed when it has
 * caught up ("Resuming from the journal", below). */
#include "tcp-bridge/bridge/server.h"

#include <stdlib.h>
#include <string.h>

#include "core/endian.h"
#include "core/futex.h"

static void ready_push(hm_server *s, hm_feed *f)
{
	f->state = HM_FEED_READY;
	if (f->in_ready)
		return;
	f->in_ready = true;
	f->ready_next = NULL;
	if (s->ready_tail)
		s->ready_tail->ready_next = f;
	else
		s->ready_head = f;
	s->ready_tail = f;
}

static hm_feed *ready_pop(hm_server *s)
{
	hm_feed *f = s->ready_head;
	if (!f)
		return NULL;
	s->ready_head = f->ready_next;
	if (!s->ready_head)
		s->ready_tail = NULL;
	f->in_ready = false;
	return f;
}

static void ready_remove(hm_server *s, hm_feed *f)
{
	if (!f->in_ready)
		return;
	hm_feed *prev = NULL;
	for (hm_feed *x = s->ready_head; x; prev = x, x = x->ready_next)
		if (x == f) {
			if (prev)
				prev->ready_next = f->ready_next;
			else
				s->ready_head = f->ready_next;
			if (s->ready_tail == f)
				s->ready_tail = prev;
			break;
		}
	f->in_ready = false;
}

void hm_feed_make_ready(hm_server *s, hm_feed *f)
{
	if (f->watched) {
		hm_watch_disarm(s->watch, f->watch_slot);
		f->watched = false;
	}
	ready_push(s, f);
}

/* The sequence a feed reads next. */
static uint64_t feed_next(const hm_feed *f)
{
	return f->jr ? f->jnext : hermes_sub_next_seq(f->sub);
}

static bool is_overwrite(const hm_feed *f)
{
	return f->rr->ring.policy == HERMES_POLICY_OVERWRITE;
}

/* Put a new feed on its ring's list and the server's. */
static void feed_link(hm_server *s, hm_ringref *rr, hm_feed *f)
{
	f->ring_next = rr->feed_list;
	rr->feed_list = f;
	f->all_next = s->feeds;
	s->feeds = f;
	rr->feeds++;
	s->nfeeds++;
}

static hm_feed *feed_open(hm_server *s, hm_ringref *rr, hermes_start start, uint64_t seq,
			  hermes_err *err)
{
	/* Remote peers never take all of a ring's subscriber slots (each
	 * holding subscription takes one): local subscribers always find one. */
	if (rr->feeds >= HM_RING_FEEDS_MAX) {
		*err = HERMES_ETOOMANY;
		return NULL;
	}
	if (rr->ring.policy == HERMES_POLICY_OVERWRITE && s->scratch_cap < rr->ring.max_msg) {
		uint8_t *p = realloc(s->scratch, rr->ring.max_msg);
		if (!p) {
			*err = HERMES_ENOMEM;
			return NULL;
		}
		s->scratch = p;
		s->scratch_cap = rr->ring.max_msg;
	}
	hm_feed *f = calloc(1, sizeof *f);
	if (!f) {
		*err = HERMES_ENOMEM;
		return NULL;
	}
	f->srv = s;
	f->rr = rr;
	f->watch_slot = -1;
	if (s->watch && (f->watch_slot = hm_watch_slot_alloc(s->watch)) < 0) {
		free(f);
		*err = HERMES_ETOOMANY;
		return NULL;
	}
	*err = hermes_sub_open(s->bus, rr->name, start, seq, &f->sub);
	if (*err) {
		if (s->watch)
			hm_watch_slot_free(s->watch, f->watch_slot);
		free(f);
		return NULL;
	}
	/* A start older than what the ring retains begins at the oldest
	 * message, and SUBSCRIBED says so: that is not a loss to report. */
	if (f->sub->pending_lost) {
		hermes_msg m;
		(void)hermes_sub_poll(f->sub, &m);
	}
	if (f->watch_slot >= 0)
		s->by_slot[f->watch_slot] = f;
	feed_link(s, rr, f);
	return f;
}

static void feed_close(hm_server *s, hm_feed *f)
{
	ready_remove(s, f);
	if (s->watch && f->watch_slot >= 0) {
		hm_watch_slot_free(s->watch, f->watch_slot);
		s->by_slot[f->watch_slot] = NULL;
	}
	f->watched = false;
	hermes_sub_close(f->sub);
	hm_jreader_close(f->jr);
	if (f->rr->shared == f)
		f->rr->shared = NULL;
	for (hm_feed **pp = &f->rr->feed_list; *pp; pp = &(*pp)->ring_next)
		if (*pp == f) {
			*pp = f->ring_next;
			break;
		}
	for (hm_feed **pp = &s->feeds; *pp; pp = &(*pp)->all_next)
		if (*pp == f) {
			*pp = f->all_next;
			break;
		}
	f->rr->feeds--;
	s->nfeeds--;
	hm_ringref *rr = f->rr;
	free(f->subs);
	free(f);
	hm_server_ring_unused(s, rr);
}

static bool feed_add(hm_feed *f, hm_subref *ref)
{
	if (f->nsubs == f->cap) {
		unsigned cap = f->cap ? 2 * f->cap : 4;
		hm_subref **p = realloc(f->subs, cap * sizeof *p);
		if (!p)
			return false;
		f->subs = p;
		f->cap = cap;
	}
	f->subs[f->nsubs++] = ref;
	ref->feed = f;
	return true;
}

static hermes_err ring_subscribe(hm_server *s, hm_ringref *rr, hm_subref *ref, uint8_t start,
				 uint64_t start_seq, uint64_t *first)
{
	uint64_t tpos, tail, epos, earliest;
	hm_ring_tail(&rr->ring, &tpos, &tail);
	hm_ring_earliest(&rr->ring, &epos, &earliest);
	uint64_t target = start == HERMES_WIRE_START_LATEST     ? tail
			  : start == HERMES_WIRE_START_EARLIEST ? earliest
			  : start_seq < earliest		 ? earliest
								 : start_seq;
	ref->start = target;
	/* Subscriptions that skip what links brought in need the ring's
	 * origin table (tags may be there from earlier or other bridges). */
	if (ref->local_only)
		(void)hm_server_origins(s, rr);
	hm_feed *sh = rr->shared;
	if (ref->policy != HM_SLOW_HOLD && sh && hermes_sub_next_seq(sh->sub) <= target) {
		/* The shared cursor has not passed the start yet: join it; the
		 * start filter skips what comes before. */
		if (!feed_add(sh, ref))
			return HERMES_ENOMEM;
		*first = target;
		return HERMES_OK;
	}
	/* A cursor of its own. A start in the future opens at the tail and lets
	 * the filter wait for it (a ring cursor parked ahead of the tail would
	 * hold nothing back but also read nothing). */
	hermes_start hs = target >= tail ? HERMES_START_LATEST
			  : target <= earliest ? HERMES_START_EARLIEST
					       : HERMES_START_SEQ;
	hermes_err err;
	hm_feed *f = feed_open(s, rr, hs, target, &err);
	if (!f)
		return err;
	uint64_t at = hermes_sub_next_seq(f->sub);
	if (at > ref->start)
		ref->start = at; /* the ring moved on between the look and the open */
	f->hold = ref->policy == HM_SLOW_HOLD;
	if (!f->hold && !rr->shared) {
		f->shared = true;
		rr->shared = f;
	}
	if (!feed_add(f, ref)) {
		feed_close(s, f);
		return HERMES_ENOMEM;
	}
	*first = ref->start;
	ready_push(s, f);
	return HERMES_OK;
}

/* ---- resuming from the journal ------------------------------------------------------------- */

/* A subscription at a sequence the ring no longer holds, on a ring whose
 * journal (hermes-journal) reaches further back than the ring, gets a journal
 * feed: a reader of the journal's files instead of a ring cursor, serving
 * that one subscription. It reads only while the connection has room for
 * the largest message, like a HOLD feed: the journal holds no producer back,
 * so nothing needs dropping whatever the subscription's policy. When the
 * journal has nothing more at jnext, the subscription moves to the ring at
 * exactly jnext, as hermes_replay does: the recorder is never ahead of the
 * ring, so jnext is the ring's, committed or to come, and from the moment a
 * ring cursor at or before jnext exists (the shared feed's, or a new one) a
 * block ring keeps it. Every sequence before jnext came from the journal,
 * every one from jnext on comes from the ring: nothing twice, nothing
 * skipped. Should the ring have moved past jnext meanwhile (an overwrite
 * ring, or the recorder lagging a ring that lapped it), the journal gets
 * one more look, since the recorder may be appending those very sequences;
 * only then is the difference a loss, sent as LOSS, never skipped silently.
 * The journal's own GAP records (sequences aborted or repaired on the ring)
 * are skipped as the ring skips them; its LOST and corrupt records become a
 * LOSS before the next DELIVER. */
static hermes_err jfeed_open(hm_server *s, hm_ringref *rr, hm_subref *ref, uint64_t seq,
			     uint64_t earliest, uint64_t *first)
{
	uint64_t *seqs;
	size_t n;
	if (hm_jdir_list(rr->journal, &seqs, &n) != HERMES_OK) {
		hm_dlog_ring(HM_DLOG_WARN, rr->name,
			    "journal %s cannot be read (%s); serving from the ring", rr->journal,
			    hermes_last_error_detail());
		return HERMES_ENOENT;
	}
	uint64_t oldest = n ? seqs[0] : UINT64_MAX;
	free(seqs);
	if (oldest >= earliest)
		return HERMES_ENOENT; /* the ring reaches as far back: serve from it */
	/* Older than both: start at the oldest there is, as the ring alone
	 * would, and SUBSCRIBED says so (not a loss). */
	if (seq < oldest)
		seq = oldest;
	hm_feed *f = calloc(1, sizeof *f);
	if (!f)
		return HERMES_ENOMEM;
	if (hm_jreader_open(rr->journal, seq, &f->jr) != HERMES_OK) {
		hm_dlog_ring(HM_DLOG_WARN, rr->name,
			    "journal %s cannot be opened (%s); serving from the ring", rr->journal,
			    hermes_last_error_detail());
		free(f);
		return HERMES_ENOENT;
	}
	f->srv = s;
	f->rr = rr;
	f->watch_slot = -1;
	f->jnext = seq;
	f->hold = true;
	if (!feed_add(f, ref)) {
		hm_jreader_close(f->jr);
		free(f);
		return HERMES_ENOMEM;
	}
	feed_link(s, rr, f);
	ref->start = seq;
	*first = seq;
	ready_push(s, f);
	return HERMES_OK;
}

hermes_err hm_feed_subscribe(hm_server *s, hm_ringref *rr, hm_subref *ref, uint8_t start,
			     uint64_t start_seq, uint64_t *first)
{
	if (start == HERMES_WIRE_START_AT && rr->journal && rr->journal[0] && ref->conn) {
		uint64_t epos, earliest;
		hm_ring_earliest(&rr->ring, &epos, &earliest);
		if (start_seq < earliest) {
			hermes_err err = jfeed_open(s, rr, ref, start_seq, earliest, first);
			if (err != HERMES_ENOENT)
				return err;
		}
	}
	return ring_subscribe(s, rr, ref, start, start_seq, first);
}

/* The journal feed f has nothing more at jnext: move its subscription to the
 * ring. Returns true when f was closed (moved, or the subscription ended). */
static bool jfeed_hand_over(hm_server *s, hm_feed *f)
{
	hm_subref *ref = f->subs[0];
	f->nsubs = 0;
	ref->feed = NULL;
	uint64_t first = 0;
	hermes_err err = ring_subscribe(s, f->rr, ref, HERMES_WIRE_START_AT, f->jnext, &first);
	if (err) {
		hm_dlog_ring(HM_DLOG_WARN, f->rr->name,
			    "subscription %u caught up from the journal at %llu but cannot go on "
			    "from the ring: %s",
			    ref->id, (unsigned long long)f->jnext, hermes_strerror(err));
		f->subs[f->nsubs++] = ref;
		ref->feed = f;
		hm_conn_sub_ended(ref->conn, ref); /* closes f with the subscription */
		return true;
	}
	if (first > f->jnext) {
		if (!f->jtried || f->jtried_at != f->jnext) {
			/* The ring is past jnext: the recorder may be appending
			 * those very sequences. Back to the journal for one more
			 * look before they count as lost. */
			hm_feed_unsubscribe(s, ref);
			f->subs[f->nsubs++] = ref;
			ref->feed = f;
			ref->start = f->jnext;
			f->jtried = true;
			f->jtried_at = f->jnext;
			return false;
		}
		ref->pending_loss += first - f->jnext;
		hm_stat_add(&s->stats->c.ring_losses, first - f->jnext);
	}
	hm_dlog_ring(HM_DLOG_DEBUG, f->rr->name,
		    "subscription %u caught up from the journal, live from %llu", ref->id,
		    (unsigned long long)first);
	feed_close(s, f);
	return true;
}

bool hm_feed_sub_done(const hm_subref *ref)
{
	const hm_feed *f = ref->feed;
	return !f || ref->start >= ref->stop || feed_next(f) >= ref->stop;
}

void hm_feed_unsubscribe(hm_server *s, hm_subref *ref)
{
	hm_feed *f = ref->feed;
	if (!f)
		return;
	for (unsigned i = 0; i < f->nsubs; i++)
		if (f->subs[i] == ref) {
			f->subs[i] = f->subs[--f->nsubs];
			break;
		}
	ref->feed = NULL;
	if (f->nsubs == 0)
		feed_close(s, f);
}

/* ---- delivery -------------------------------------------------------------------------------- */

static size_t out_free(const hm_conn *c)
{
	return c->out_cap - (c->out_len - c->out_off);
}

/* Room a HOLD feed needs before it may read the next message. */
static bool hold_has_room(const hm_feed *f)
{
	const hm_subref *ref = f->subs[0];
	if (ref->link)
		return hm_link_has_room(ref->link, f->rr->ring.max_msg);
	const hm_conn *c = ref->conn;
	if (c->state != HM_CONN_SESSION)
		return true; /* closing: it reads and discards */
	if (c->draining && feed_next(f) >= ref->stop)
		return false; /* half-closed: it has had what it is owed */
	size_t biggest = f->rr->ring.max_msg +
			 ((c->features & HERMES_FEATURE_TAGS) ? HERMES_WIRE_TAG_SIZE : 0);
	size_t max = hm_conn_max_deliver(c);
	if (biggest > max)
		biggest = max;
	size_t need = hm_conn_frame_size(c, biggest) + hm_conn_frame_size(c, 8) + HM_CTRL_RESERVE;
	return out_free(c) >= need;
}

/* Tell the subscriber now what it lost, if its buffer has room for the LOSS
 * above the reserve; next is the sequence delivery goes on at. */
static void flush_loss(hm_server *s, hm_subref *ref, uint64_t next)
{
	hm_conn *c = ref->conn;
	if (!ref->pending_loss || c->state != HM_CONN_SESSION)
		return;
	uint8_t *p = hm_conn_out_claim(c, HERMES_MSG_LOSS, 0, ref->id, next, 8, HM_CTRL_RESERVE);
	if (!p)
		return; /* it goes out with the next DELIVER, or when the feed drains */
	hm_put_le64(p, ref->pending_loss);
	hm_conn_out_commit(c);
	ref->pending_loss = 0;
	hm_stat_add(&s->stats->c.loss_notices, 1);
}

static void deliver_conn(hm_server *s, hm_subref *ref, const hermes_msg *m)
{
	hm_conn *c = ref->conn;
	if (c->state != HM_CONN_SESSION)
		return;
	/* A tagged message goes tagged to a client that took TAGS, and without
	 * its tag to one that did not (PROTOCOL.md, "User tags"). */
	bool tagged = m->tag && (c->features & HERMES_FEATURE_TAGS);
	size_t len = m->len + (tagged ? HERMES_WIRE_TAG_SIZE : 0);
	if (len > hm_conn_max_deliver(c)) {
		/* Larger than the subscriber accepts (its max_frame, or our
		 * out_buffer): a loss, reported at once, since nothing may
		 * follow it for a while. */
		ref->pending_loss++;
		hm_stat_add(&s->stats->c.drops, 1);
		flush_loss(s, ref, m->seq + 1);
		return;
	}
	size_t need = hm_conn_frame_size(c, len) + (ref->pending_loss ? hm_conn_frame_size(c, 8) : 0);
	if (out_free(c) < need + HM_CTRL_RESERVE) {
		if (ref->policy == HM_SLOW_DISCONNECT) {
			hm_stat_add(&s->stats->c.slow_disconnects, 1);
			hm_conn_fatal(c, HERMES_EAGAIN, "slow subscriber: subscription %u fell %zu bytes behind",
				      ref->id, c->out_cap);
			return;
		}
		ref->pending_loss++;
		hm_stat_add(&s->stats->c.drops, 1);
		return;
	}
	flush_loss(s, ref, m->seq);
	uint8_t *p = hm_conn_out_claim(c, HERMES_MSG_DELIVER, tagged ? HERMES_FLAG_TAGGED : 0, ref->id,
				       m->seq, len, HM_CTRL_RESERVE);
	if (tagged) {
		hm_put_le32(p, m->tag);
		p += HERMES_WIRE_TAG_SIZE;
	}
	memcpy(p, m->data, m->len);
	hm_conn_out_commit(c);
	hm_stat_add(&s->stats->c.delivers, 1);
}

static void deliver(hm_server *s, hm_feed *f, const hermes_msg *m)
{
	bool imported = f->rr->org && hm_origins_imported(f->rr->org, m->seq);
	for (unsigned i = 0; i < f->nsubs; i++) {
		hm_subref *ref = f->subs[i];
		if (ref->dead || m->seq < ref->start || (ref->local_only && imported))
			continue;
		if (ref->conn && ref->conn->draining && m->seq >= ref->stop)
			continue;
		if (ref->link)
			(void)hm_link_export(ref->link, ref, m);
		else
			deliver_conn(s, ref, m);
	}
}

/* The ring was deleted: end every subscription of the feed; ending the last
 * one closes the feed. */
static void ring_gone(hm_server *s, hm_feed *f)
{
	(void)s;
	hm_dlog_ring(HM_DLOG_INFO, f->rr->name, "ring was deleted: ending %u subscription(s)",
		    f->nsubs);
	for (;;) {
		hm_subref *ref = f->subs[f->nsubs - 1];
		bool last = f->nsubs == 1;
		if (ref->link)
			hm_link_ring_ended(ref->link, ref);
		else
			hm_conn_sub_ended(ref->conn, ref);
		if (last)
			return;
	}
}

/* Move the subscriptions of a dedicated catch-up feed that drained onto the
 * shared feed (or make it the shared one). true if f was closed. */
static bool merge(hm_server *s, hm_feed *f)
{
	hm_ringref *rr = f->rr;
	if (f->hold || f->shared)
		return false;
	if (!rr->shared) {
		f->shared = true;
		rr->shared = f;
		return false;
	}
	uint64_t here = hermes_sub_next_seq(f->sub);
	if (hermes_sub_next_seq(rr->shared->sub) > here)
		return false; /* the shared one is ahead: keep catching up */
	while (f->nsubs) {
		hm_subref *ref = f->subs[--f->nsubs];
		if (ref->start < here)
			ref->start = here;
		if (!feed_add(rr->shared, ref)) {
			f->nsubs++;
			return false;
		}
	}
	feed_close(s, f);
	return true;
}

/* One pass of a journal feed: deliver from the journal while the
 * subscriber has room; at the journal's end, hand over to the ring. */
static void jfeed_pass(hm_server *s, hm_feed *f)
{
	hm_subref *ref = f->subs[0];
	hm_conn *c = ref->conn;
	bool more = true;
	unsigned n;
	for (n = 0; n < HM_FEED_BUDGET; n++) {
		if (!hold_has_room(f)) {
			f->state = HM_FEED_STALLED;
			c->stalled_feeds = true;
			more = false;
			break;
		}
		hm_jitem it;
		/* At a file's end, the ring before a listing of the directory
		 * (as hermes_replay): the hand-over is right whether or not a
		 * later file exists, or finds the ring moved on and sets
		 * jtried, and the journal is looked through then. */
		hermes_err err = hm_jreader_next_ex(f->jr, &it, f->jtried);
		if (err == HERMES_EAGAIN) {
			hm_jreader_release(f->jr);
			if (jfeed_hand_over(s, f))
				return;
			break;
		}
		if (err) {
			/* The journal cannot be read on: what it still had is
			 * lost to this subscriber, which goes on from the ring. */
			hm_dlog_ring(HM_DLOG_WARN, f->rr->name,
				    "journal %s unreadable at %llu: %s", f->rr->journal,
				    (unsigned long long)f->jnext, hermes_last_error_detail());
			hm_jreader_release(f->jr);
			f->jtried = true;
			f->jtried_at = f->jnext;
			if (jfeed_hand_over(s, f))
				return;
			break;
		}
		f->jnext = it.seq + it.count;
		if (it.kind == HM_JREAD_MSG) {
			hermes_msg m = {.data = it.data, .len = it.len, .tag = it.tag, .seq = it.seq};
			deliver(s, f, &m);
		} else if (it.kind != HM_JREAD_GAP) {
			if (it.kind == HM_JREAD_CORRUPT)
				hm_dlog_ring(HM_DLOG_WARN, f->rr->name,
					    "journal %s: record of sequences %llu..%llu failed its "
					    "checksum; sent as lost",
					    f->rr->journal, (unsigned long long)it.seq,
					    (unsigned long long)(it.seq + it.count - 1));
			ref->pending_loss += it.count;
		}
	}
	/* What was delivered is copied into the output buffer: the mappings
	 * of files left behind may go. */
	hm_jreader_release(f->jr);
	if (n)
		s->active_ns = hm_now_ns();
	if (more)
		ready_push(s, f);
	if (c->draining)
		hm_conn_drain_check(c);
}

/* Deliver up to HM_FEED_BUDGET messages of a ring feed. What stopped it:
 * FEED_DRAINED (nothing more now), FEED_STALLED (a holding subscriber's
 * window is full) or FEED_MORE (budget spent, or a poll error). */
enum { FEED_MORE, FEED_DRAINED, FEED_STALLED };
static int feed_read(hm_server *s, hm_feed *f, bool overwrite, unsigned *polled)
{
	for (unsigned n = 0; n < HM_FEED_BUDGET; n++) {
		if (f->hold && !hold_has_room(f))
			return FEED_STALLED;
		hermes_msg m;
		hermes_err err;
		if (overwrite) {
			err = hermes_sub_recv(f->sub, s->scratch, (uint32_t)s->scratch_cap, &m);
			m.data = s->scratch;
		} else {
			err = hermes_sub_poll(f->sub, &m);
		}
		if (err == HERMES_EAGAIN)
			return FEED_DRAINED;
		if (err == HERMES_ELOST) {
			for (unsigned i = 0; i < f->nsubs; i++)
				f->subs[i]->pending_loss += m.lost;
			hm_stat_add(&s->stats->c.ring_losses, m.lost);
			continue;
		}
		if (err)
			break;
		(*polled)++;
		deliver(s, f, &m);
	}
	return FEED_MORE;
}

/* A ring feed with nothing more to read now: tell waiting losses, notice a
 * deleted ring, merge into the shared feed, or arm it. */
static void feed_drained(hm_server *s, hm_feed *f)
{
	/* Losses waiting for a DELIVER to ride on are told now (the sequence
	 * delivery goes on at is the cursor's). */
	for (unsigned i = 0; i < f->nsubs; i++) {
		hm_subref *ref = f->subs[i];
		if (ref->conn && !ref->dead && ref->pending_loss) {
			uint64_t next = hermes_sub_next_seq(f->sub);
			flush_loss(s, ref, next > ref->start ? next : ref->start);
		}
	}
	if (hm_load_relaxed_u32(&f->rr->ring.hdr->deleted)) {
		ring_gone(s, f);
		return;
	}
	if (merge(s, f))
		return;
	if (!s->watch) {
		ready_push(s, f); /* busy poll: look again next turn */
		return;
	}
	/* Drained. The loop peeks at it while it is busy, and hands it to the
	 * watcher only when it is about to sleep (hm_feeds_watch): while
	 * messages flow, no futex wake-ups and no second thread. */
	f->state = HM_FEED_ARMED;
}

static void feed_pass(hm_server *s, hm_feed *f)
{
	if (f->jr) {
		jfeed_pass(s, f);
		return;
	}
	bool overwrite = is_overwrite(f);
	unsigned polled = 0;
	int why = feed_read(s, f, overwrite, &polled);
	/* Half-closed subscribers may have had all they are owed now. */
	for (unsigned i = 0; i < f->nsubs; i++)
		if (f->subs[i]->conn && f->subs[i]->conn->draining)
			hm_conn_drain_check(f->subs[i]->conn);
	if (!overwrite && polled)
		(void)hermes_sub_release(f->sub);
	if (polled)
		s->active_ns = hm_now_ns();
	if (why == FEED_STALLED) {
		f->state = HM_FEED_STALLED;
		if (f->subs[0]->link)
			hm_link_stalled(f->subs[0]->link);
		else
			f->subs[0]->conn->stalled_feeds = true;
		return;
	}
	if (why == FEED_MORE)
		ready_push(s, f);
	else
		feed_drained(s, f);
}

bool hm_feeds_run(hm_server *s)
{
	/* Each feed ready now gets one pass; those it re-queues wait for the
	 * next turn, so that sockets are serviced in between. */
	hm_feed *last = s->ready_tail;
	while (s->ready_head) {
		hm_feed *f = ready_pop(s);
		bool was_last = f == last;
		feed_pass(s, f);
		if (was_last)
			break;
	}
	return s->ready_head != NULL;
}

void hm_feeds_fired(hm_server *s, const int *slots, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		hm_feed *f = slots[i] >= 0 ? s->by_slot[slots[i]] : NULL;
		if (f && f->state == HM_FEED_ARMED) {
			f->watched = false; /* the watcher disarmed it when it fired */
			ready_push(s, f);
		}
	}
}

void hm_feeds_ring_committed(hm_server *s, hm_ringref *rr)
{
	for (hm_feed *f = rr->feed_list; f; f = f->ring_next)
		if (f->state == HM_FEED_ARMED)
			hm_feed_make_ready(s, f);
}

void hm_feeds_watch(hm_server *s)
{
	if (!s->watch)
		return;
	for (hm_feed *f = s->feeds; f; f = f->all_next)
		if (f->state == HM_FEED_ARMED && !f->watched) {
			hm_watch_arm(s->watch, f->watch_slot, &f->rr->ring, f->sub->slot_index,
				     hermes_sub_next_seq(f->sub));
			f->watched = true;
		}
}

unsigned hm_feeds_peek(hm_server *s)
{
	unsigned n = 0;
	for (hm_feed *f = s->feeds; f; f = f->all_next) {
		if (f->state != HM_FEED_ARMED)
			continue;
		/* The same look as the watcher's (and hermes_sub_wait's): the
		 * slot of the next sequence, acquire pairing with the commit. */
		if (hm_ring_ready_at(&f->rr->ring, hermes_sub_next_seq(f->sub))) {
			hm_feed_make_ready(s, f);
			n++;
		}
	}
	return n;
}

void hm_feeds_resume_conn(hm_server *s, hm_conn *c)
{
	c->stalled_feeds = false;
	for (unsigned i = 0; i < c->nsubs; i++) {
		hm_feed *f = c->subs[i]->feed;
		if (f && f->state == HM_FEED_STALLED) {
			if (hold_has_room(f))
				ready_push(s, f);
			else
				c->stalled_feeds = true;
		}
	}
}
