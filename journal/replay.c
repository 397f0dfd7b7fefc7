/* hermes_replay_*: the journal, then the live ring. See include/hermes/replay.h.
 *
 * The hand-over ("replay merge"). The replay reads the journal until it has
 * nothing more at sequence `next`. Only then does it open a live subscriber,
 * at exactly `next` (HERMES_START_SEQ), so a long replay never holds a block
 * ring's producers back. The recorder is never ahead of the ring, so the
 * ring has committed every sequence before `next`, and from the moment the
 * subscriber exists its cursor keeps a block ring from reusing `next`
 * onwards: everything from `next` comes from the ring, everything before it
 * came from the journal, nothing twice. The race: between the journal's end
 * and the open, the recorder may append more and the ring may reuse
 * `next` (an overwrite ring, or a block ring with no other reader). The
 * subscriber's first poll then reports a loss; the replay closes it and goes
 * back to the journal, which now holds those sequences. Only when a second
 * attempt at the same `next` finds the journal unchanged is the loss real,
 * and it is reported with its first sequence and count. */
#include <hermes/replay.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error_detail.h"
#include "core/futex.h"
#include "journal/journal.h"

/* How often a wait at the journal's end (no ring to hand over to) looks
 * again: from 100 us, doubling up to 1 ms. */
#define REPLAY_NAP_MIN_NS 100000L
#define REPLAY_NAP_MAX_NS 1000000L

struct hermes_replay {
	hermes_bus *bus;
	char ring[HERMES_NAME_MAX + 1];
	hm_jreader *jr;
	hermes_sub *sub; /* open once live */
	uint64_t next;	 /* the sequence delivered next */
	uint64_t gap;	 /* GAP sequences to report on the next message */
	bool have_item;	 /* item was read from the journal, not yet delivered */
	hm_jitem item;
	bool tried;	      /* a hand-over at tried_at found the ring lapped */
	bool no_ring;	      /* a hand-over found no ring to open */
	uint64_t tried_at;
};

hermes_err hermes_replay_open(hermes_bus *bus, const char *ring, const char *dir, uint64_t seq,
			      hermes_replay **out)
{
	*out = NULL;
	if (!ring || !dir || strlen(ring) > HERMES_NAME_MAX)
		return hm_fail(HERMES_EINVAL, "hermes_replay_open: a ring name and a journal directory");
	hermes_replay *r = calloc(1, sizeof *r);
	if (!r)
		return hm_fail(HERMES_ENOMEM, "replay");
	hermes_err e = hm_jreader_open(dir, seq, &r->jr);
	if (e) {
		free(r);
		return e;
	}
	r->bus = bus;
	strcpy(r->ring, ring);
	r->next = seq;
	*out = r;
	return HERMES_OK;
}

void hermes_replay_close(hermes_replay *r)
{
	if (!r)
		return;
	hermes_sub_close(r->sub);
	hm_jreader_close(r->jr);
	free(r);
}

int hermes_replay_is_live(const hermes_replay *r)
{
	return r->sub != NULL;
}

uint64_t hermes_replay_next_seq(const hermes_replay *r)
{
	return r->next;
}

/* A message from the live ring, with the journal's pending gap folded in. */
static hermes_err live_poll(hermes_replay *r, hermes_msg *msg)
{
	hermes_err e;
	/* Never before next: the subscriber was opened there. A ring that says
	 * otherwise is not believed twice. */
	while ((e = hermes_sub_poll(r->sub, msg)) == HERMES_OK && msg->seq < r->next)
		;
	if (e == HERMES_OK) {
		/* Sequences between next and this one were skipped on the ring
		 * (its gap), whatever the ring's own count says. */
		msg->gap = r->gap + (msg->seq - r->next);
		r->gap = 0;
		r->next = msg->seq + 1;
	} else if (e == HERMES_ELOST) {
		msg->seq = r->next;
		r->next += msg->lost;
		r->gap = 0;
	}
	return e;
}

/* At the end of a journal file, look in the directory for a later one? Not
 * while the ring can take over: the hand-over at r->next is right whether or
 * not a later file exists (the ring holds what it would, or the first poll
 * reports the ring moved on and we come back here, tried), and a listing
 * costs about 0.1 ms of the hand-over's stall. */
static bool look_later(const hermes_replay *r)
{
	return !r->bus || r->tried || r->no_ring;
}

/* The journal has nothing at r->next: go live there. HERMES_OK with a
 * message or HERMES_ELOST (a real loss), HERMES_EAGAIN (live with nothing
 * yet, or back to the journal for one more look). */
static hermes_err hand_over(hermes_replay *r, hermes_msg *msg)
{
	hermes_err e = hermes_sub_open(r->bus, r->ring, HERMES_START_SEQ, r->next, &r->sub);
	if (e) {
		r->sub = NULL;
		r->no_ring = true; /* the journal may go on without it: look */
		return e == HERMES_ENOENT ? HERMES_EAGAIN : e;
	}
	e = live_poll(r, msg);
	if (e != HERMES_ELOST)
		return e;
	if (r->tried && r->tried_at == msg->seq)
		return e; /* the journal did not grow since: the loss is real */
	/* Undo: back to the journal at the same place, for one more look. */
	r->next = msg->seq;
	r->tried = true;
	r->tried_at = msg->seq;
	hermes_sub_close(r->sub);
	r->sub = NULL;
	return HERMES_EAGAIN;
}

hermes_err hermes_replay_poll(hermes_replay *r, hermes_msg *msg)
{
	if (r->sub)
		return live_poll(r, msg);
	for (;;) {
		if (!r->have_item) {
			hermes_err e = hm_jreader_next_ex(r->jr, &r->item, look_later(r));
			if (e == HERMES_EAGAIN)
				return r->bus ? hand_over(r, msg) : HERMES_EAGAIN;
			if (e)
				return e;
		}
		r->have_item = false;
		const hm_jitem *it = &r->item;
		r->next = it->seq + it->count;
		memset(msg, 0, sizeof *msg);
		msg->seq = it->seq;
		switch (it->kind) {
		case HM_JREAD_MSG:
			msg->data = it->data;
			msg->len = it->len;
			msg->tag = it->tag;
			msg->gap = r->gap;
			r->gap = 0;
			return HERMES_OK;
		case HM_JREAD_GAP:
			r->gap += it->count;
			continue;
		case HM_JREAD_LOST:
			msg->lost = it->count;
			r->gap = 0;
			return HERMES_ELOST;
		default:
			msg->lost = it->count;
			return HERMES_EBADSEGMENT;
		}
	}
}

hermes_err hermes_replay_release(hermes_replay *r)
{
	hm_jreader_release(r->jr);
	return r->sub ? hermes_sub_release(r->sub) : HERMES_OK;
}

hermes_err hermes_replay_wait(hermes_replay *r, hermes_wait_mode mode, int64_t timeout_ns)
{
	uint64_t deadline = hm_deadline_after(timeout_ns);
	long nap_ns = REPLAY_NAP_MIN_NS;
	for (;;) {
		if (r->sub) {
			uint64_t now = hm_now_ns();
			int64_t left = deadline == UINT64_MAX ? -1 : now >= deadline ? 0 : (int64_t)(deadline - now);
			return hermes_sub_wait(r->sub, mode, left);
		}
		if (r->have_item)
			return HERMES_OK;
		hermes_err e = hm_jreader_next_ex(r->jr, &r->item, look_later(r));
		if (e == HERMES_OK) {
			r->have_item = true;
			return HERMES_OK;
		}
		/* At the journal's end with a ring to go to: the next poll hands
		 * over (and a wait after it sleeps on the ring). */
		if (e != HERMES_EAGAIN || r->bus)
			return HERMES_OK;
		if (hm_now_ns() >= deadline)
			return HERMES_ETIMEDOUT;
		/* The journal's writer has no wake-up for readers: look again
		 * soon, backing off to 1 ms. */
		struct timespec ts = {0, nap_ns};
		nanosleep(&ts, NULL);
		if (nap_ns < REPLAY_NAP_MAX_NS)
			nap_ns *= 2;
	}
}
