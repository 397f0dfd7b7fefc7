/* Recording one ring. See recorder.h.
 *
 * The subscriber's cursor is the durability boundary: the recorder releases
 * ring space only after the messages are in the journal's mapping (and, with
 * fsync = batch, on disk). On a block ring the cursor therefore holds
 * producers back while the recorder is behind or the disk is full, so
 * nothing is missing from the journal. After a restart the recorder opens
 * its subscriber at the journal's next sequence (HERMES_START_SEQ): as long
 * as the ring still holds it, nothing is missed or recorded twice. What the
 * ring no longer holds is recorded as LOST, never silently skipped. */
#include "journal/recorder/recorder.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <hermes/durable.h>

#include "core/futex.h"
#include "core/proc.h"
#include "daemon/log.h"

#define BATCH_MAX 4096u
#define WAIT_NS 100000000ll	   /* longest sleep on the ring: stop is seen within it */
#define RETRY_NS 200000000ull	   /* disk full or ring missing: retry this often */
#define TICK_NS 1000000000ull	   /* retention and heartbeat */
/* After a batch with messages, wait this long yielding before sleeping on
 * the ring: while messages flow the recorder stays awake, so producers
 * never pay a wake-up system call for it and it loses no time waking up
 * (bench/README.md, "Journal"); an idle ring still costs nothing after it. */
#define AWAKE_NS 100000ull

static void nap(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000ull), .tv_nsec = (long)(ns % 1000000000ull)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Counters are written by this thread only: relaxed stores of a value it
 * owns (readers want a recent value, not a consistent set). */
static void add(hm_atomic_u64 *c, uint64_t v)
{
	hm_store_relaxed_u64(c, hm_load_relaxed_u64(c) + v);
}

static void set(hm_atomic_u64 *c, uint64_t v)
{
	hm_store_relaxed_u64(c, v);
}

hermes_err hm_rec_recorder_open(hm_rec_recorder *r, hermes_bus *bus, const hm_rec_ring_conf *cfg, uint64_t bus_id,
			    const atomic_bool *stop)
{
	memset(r, 0, sizeof *r);
	r->cfg = cfg;
	r->bus = bus;
	r->stop = stop;
	/* The durable subscriber's name: one per journal directory (two
	 * recorders may journal one ring into two directories). hermes-ctl
	 * inspect shows it; the log line below says which journal it is. */
	uint64_t h = 0xcbf29ce484222325ull;
	for (const char *p = cfg->dir; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	snprintf(r->durable_name, sizeof r->durable_name, "journal:%08x", (unsigned)(h ^ (h >> 32)));
	if (cfg->durable)
		hm_dlog(HM_DLOG_INFO, "ring %s: durable cursor '%s' (journal %s)", cfg->name, r->durable_name,
		       cfg->dir);
	hm_jrecovery rep;
	hermes_err e = hm_jwriter_open(cfg->dir, cfg->name, bus_id, &cfg->opts, &r->w, &rep);
	if (e) {
		hm_dlog(HM_DLOG_ERROR, "ring %s: journal %s: %s", cfg->name, cfg->dir, hermes_last_error_detail());
		return e;
	}
	if ((e = hm_rec_stats_open(cfg->dir, &r->stats)) != HERMES_OK) {
		hm_dlog(HM_DLOG_ERROR, "ring %s: %s", cfg->name, hermes_last_error_detail());
		hm_jwriter_close(r->w);
		r->w = NULL;
		return e;
	}
	set(&r->stats->pid, (uint64_t)getpid());
	set(&r->stats->start_time, hm_proc_start_time(0));
	set(&r->stats->heartbeat_ns, hm_clock_ns(CLOCK_REALTIME));
	add(&r->stats->restarts, 1);
	set(&r->stats->next_seq, rep.next_seq);
	if (rep.torn || rep.cut_bytes) {
		add(&r->stats->torn_cuts, 1);
		hm_dlog(HM_DLOG_WARN, "ring %s: journal tail %s: cut %" PRIu64 " bytes after sequence %" PRIu64,
		       cfg->name, rep.torn ? "torn (bad checksum)" : "uncommitted", rep.cut_bytes,
		       rep.next_seq == HM_JSEQ_NONE ? 0 : rep.next_seq);
	}
	if (rep.temp_removed)
		hm_dlog(HM_DLOG_INFO, "ring %s: removed %" PRIu64 " left-over temporary file(s) of a killed recorder "
				    "(a file being made, or the next file made ahead)",
		       cfg->name, rep.temp_removed);
	if (rep.corrupt)
		hm_dlog(HM_DLOG_WARN, "ring %s: %" PRIu64 " corrupt record(s) from sequence %" PRIu64
				    " in the newest journal file; readers skip them",
		       cfg->name, rep.corrupt, rep.corrupt_first);
	if (rep.next_seq == HM_JSEQ_NONE)
		hm_dlog(HM_DLOG_INFO, "ring %s: new journal in %s (%s fsync%s)", cfg->name, cfg->dir,
		       hm_rec_fsync_name(cfg->fsync), cfg->durable ? ", durable" : "");
	else
		hm_dlog(HM_DLOG_INFO, "ring %s: journal %s resumes at sequence %" PRIu64 " (%" PRIu64 " files)",
		       cfg->name, cfg->dir, rep.next_seq, rep.files);
	return HERMES_OK;
}

/* A failed write: count it, say why once per episode. */
static void write_failed(hm_rec_recorder *r, hermes_err e)
{
	if (e == HERMES_ENOSPC)
		add(&r->stats->disk_full, 1);
	else
		add(&r->stats->write_errors, 1);
	set(&r->stats->state, HM_REC_STATE_DISK_FULL);
	if (!r->disk_full) {
		r->disk_full = true;
		hm_rec_stats_error(r->stats, hermes_last_error_detail());
		hm_dlog(HM_DLOG_ERROR, "ring %s: %s; %s", r->cfg->name, hermes_last_error_detail(),
		       r->cfg->durable ? "holding the ring until there is room (durable)"
				       : "dropping messages until there is room (recorded as LOST)");
	}
}

/* Append m, with what comes before it: LOST for sequences the ring no
 * longer had, GAP for those it skipped. Idempotent per message, so a write
 * that failed half-way is simply retried. */
static hermes_err record(hm_rec_recorder *r, const hermes_msg *m)
{
	uint64_t next = hm_jwriter_next_seq(r->w);
	uint64_t first = m->gap <= m->seq ? m->seq - m->gap : 0;
	hermes_err e;
	if (next != HM_JSEQ_NONE) {
		if (m->seq < next)
			return HERMES_OK; /* already journaled */
		if (first < next)
			first = next;
		if (first > next) {
			if ((e = hm_jwriter_range(r->w, HM_JR_LOST, next, first - next)))
				return e;
			add(&r->stats->lost, first - next);
			hm_dlog(HM_DLOG_WARN, "ring %s: sequences %" PRIu64 "..%" PRIu64 " were no longer in the ring: recorded as lost",
			       r->cfg->name, next, first - 1);
		}
	}
	if (m->seq > first) {
		if ((e = hm_jwriter_range(r->w, HM_JR_GAP, first, m->seq - first)))
			return e;
		add(&r->stats->gaps, m->seq - first);
	}
	if ((e = hm_jwriter_msg_tagged(r->w, m->seq, m->tag, m->data, m->len)))
		return e;
	add(&r->stats->messages, 1);
	add(&r->stats->bytes, m->len);
	return HERMES_OK;
}

/* Append a run of polled messages in order: each in line with the journal
 * and its predecessor (no gap) goes with its neighbours in one
 * hm_jwriter_msgs (one clock read, counters stored once); any other through
 * record(). *done: how many are in the journal now (or were already). */
static hermes_err record_run(hm_rec_recorder *r, const hermes_msg *run, unsigned k, unsigned *done)
{
	unsigned i = 0;
	uint64_t msgs = 0, bytes = 0;
	hermes_err e = HERMES_OK;
	while (i < k) {
		uint64_t next = hm_jwriter_next_seq(r->w);
		if (run[i].gap || (next != HM_JSEQ_NONE && run[i].seq != next)) {
			if ((e = record(r, &run[i])))
				break;
			i++;
			continue;
		}
		unsigned j = i + 1, wrote;
		while (j < k && !run[j].gap && run[j].seq == run[j - 1].seq + 1)
			j++;
		e = hm_jwriter_msgs(r->w, run + i, j - i, &wrote);
		for (unsigned x = i; x < i + wrote; x++)
			bytes += run[x].len;
		msgs += wrote;
		i += wrote;
		if (e)
			break;
	}
	if (msgs) {
		add(&r->stats->messages, msgs);
		add(&r->stats->bytes, bytes);
	}
	*done = i;
	return e;
}

static void sync_now(hm_rec_recorder *r)
{
	if (hm_jwriter_sync(r->w) == HERMES_OK) {
		add(&r->stats->syncs, 1);
	} else {
		add(&r->stats->write_errors, 1);
		hm_dlog(HM_DLOG_ERROR, "ring %s: %s", r->cfg->name, hermes_last_error_detail());
	}
	r->last_sync_ns = hm_now_ns();
}

/* Let the ring reuse what was polled: after it is in the journal, and with
 * fsync = batch, on disk. */
static void release(hm_rec_recorder *r)
{
	if (r->cfg->fsync == HM_REC_FSYNC_BATCH)
		sync_now(r);
	if (hermes_sub_release(r->sub) == HERMES_ELOST)
		hm_dlog(HM_DLOG_WARN, "ring %s: an overwrite ring reused messages while they were being recorded",
		       r->cfg->name);
}

static void tick(hm_rec_recorder *r, uint64_t now)
{
	r->last_tick_ns = now;
	set(&r->stats->heartbeat_ns, hm_clock_ns(CLOCK_REALTIME));
	set(&r->stats->next_seq, hm_jwriter_next_seq(r->w));
	uint64_t deleted = 0;
	if (hm_jwriter_retain(r->w, hm_clock_ns(CLOCK_REALTIME), &deleted) != HERMES_OK)
		hm_dlog(HM_DLOG_ERROR, "ring %s: retention: %s", r->cfg->name, hermes_last_error_detail());
	if (deleted) {
		add(&r->stats->files_deleted, deleted);
		hm_dlog(HM_DLOG_DEBUG, "ring %s: retention deleted %" PRIu64 " file(s)", r->cfg->name, deleted);
	}
}

/* A journal ahead of its ring: the ring was deleted and created again (its
 * sequences restart at 0), or the journal belongs to another bus. Opening at
 * the journal's next sequence would silently skip everything up to it. */
static bool ring_behind_journal(hm_rec_recorder *r, uint64_t next)
{
	hermes_sub *probe;
	if (next == HM_JSEQ_NONE || hermes_sub_open(r->bus, r->cfg->name, HERMES_START_LATEST, 0, &probe) != HERMES_OK)
		return false;
	uint64_t tail = hermes_sub_next_seq(probe);
	hermes_sub_close(probe);
	if (tail >= next)
		return false;
	char msg[640];
	snprintf(msg, sizeof msg, "ring %s is at sequence %" PRIu64 ", behind its journal (next %" PRIu64
				  "): it was re-created; move the journal %.150s away to record it again",
		 r->cfg->name, tail, next, r->cfg->dir);
	if (hm_load_relaxed_u64(&r->stats->state) != HM_REC_STATE_WAIT_RING) {
		hm_dlog(HM_DLOG_ERROR, "%s", msg);
		hm_rec_stats_error(r->stats, msg);
	}
	set(&r->stats->state, HM_REC_STATE_WAIT_RING);
	return true;
}

/* A restarted durable recorder took its orphaned cursor back at sequence
 * `at`. The journal ends at `next`. Equal: nothing was missed. Behind: the
 * last recorder wrote [at, next) but died before releasing it; those come
 * again and record() skips them. Ahead: [next, at) was released but is not
 * in the journal (its tail was lost, e.g. unsynced pages at a machine crash,
 * or the journal was replaced): the ring may no longer have it, so it is
 * recorded as LOST when the next message comes, never skipped silently. */
static void adopted_cursor(hm_rec_recorder *r, uint64_t next)
{
	uint64_t at = hermes_sub_next_seq(r->sub);
	if (next == HM_JSEQ_NONE || at == next)
		hm_dlog(HM_DLOG_INFO, "ring %s: durable cursor '%s' adopted at sequence %" PRIu64, r->cfg->name,
		       r->durable_name, at);
	else if (at < next)
		hm_dlog(HM_DLOG_INFO, "ring %s: durable cursor '%s' adopted at sequence %" PRIu64 "; %" PRIu64
				    " message(s) up to %" PRIu64 " are journaled already and skipped",
		       r->cfg->name, r->durable_name, at, next - at, next - 1);
	else
		hm_dlog(HM_DLOG_ERROR, "ring %s: durable cursor '%s' is at sequence %" PRIu64 ", ahead of the "
				     "journal (next %" PRIu64 "): %" PRIu64 " message(s) released earlier are not "
				     "in the journal (a lost tail, or a replaced journal); recorded as lost",
		       r->cfg->name, r->durable_name, at, next, at - next);
}

bool hm_rec_recorder_subscribe(hm_rec_recorder *r)
{
	uint64_t next = hm_jwriter_next_seq(r->w);
	if (ring_behind_journal(r, next)) {
		r->sub = NULL;
		return false;
	}
	hermes_start start = next == HM_JSEQ_NONE ? HERMES_START_EARLIEST : HERMES_START_SEQ;
	uint64_t from = next == HM_JSEQ_NONE ? 0 : next;
	hermes_err e;
	if (r->cfg->durable) {
		/* A durable subscriber: its cursor outlives this process, so
		 * producers wait while the recorder is down (killed or
		 * stopped), and a restarted recorder adopts it. */
		int adopted = 0;
		e = hermes_sub_open_durable(r->bus, r->cfg->name, r->durable_name, start, from, &r->sub,
					    &adopted);
		if (e == HERMES_OK && adopted)
			adopted_cursor(r, next);
	} else {
		e = hermes_sub_open(r->bus, r->cfg->name, start, from, &r->sub);
	}
	if (e == HERMES_OK) {
		set(&r->stats->state, HM_REC_STATE_RECORDING);
		hm_dlog(HM_DLOG_INFO, "ring %s: recording from sequence %" PRIu64, r->cfg->name,
		       hermes_sub_next_seq(r->sub));
		return true;
	}
	if (hm_load_relaxed_u64(&r->stats->state) != HM_REC_STATE_WAIT_RING)
		hm_dlog(e == HERMES_ENOENT ? HM_DLOG_INFO : HM_DLOG_ERROR, "ring %s: %s (%s); retrying",
		       r->cfg->name, hermes_strerror(e), hermes_last_error_detail());
	set(&r->stats->state, HM_REC_STATE_WAIT_RING);
	r->sub = NULL;
	return false;
}

/* Write the run polled so far. false: a durable recorder holds it (from the
 * message that failed) until there is room; the caller must not release. */
static bool flush(hm_rec_recorder *r, const hermes_msg *run, unsigned k)
{
	unsigned done;
	hermes_err e = record_run(r, run, k, &done);
	if (e == HERMES_OK) {
		if (r->disk_full) {
			r->disk_full = false;
			set(&r->stats->state, HM_REC_STATE_RECORDING);
			hm_dlog(HM_DLOG_INFO, "ring %s: writing again", r->cfg->name);
		}
		return true;
	}
	write_failed(r, e);
	r->retry_ns = hm_now_ns() + RETRY_NS;
	if (r->cfg->durable) {
		/* Keep them (and everything after them) in the ring. */
		r->held_n = k - done;
		memmove(r->held, run + done, r->held_n * sizeof *run);
		return false;
	}
	add(&r->stats->dropped, k - done);
	r->drop_end = run[k - 1].seq + 1;
	return true;
}

unsigned hm_rec_recorder_step(hm_rec_recorder *r)
{
	hermes_msg run[HM_REC_RUN_MAX];
	unsigned n = 0, k = 0;
	while (n < BATCH_MAX) {
		hermes_err e = hermes_sub_poll(r->sub, &run[k]);
		if (e == HERMES_EAGAIN)
			break;
		if (e == HERMES_ELOST)
			continue; /* the next message's sequence shows the hole */
		if (e != HERMES_OK) {
			hm_dlog(HM_DLOG_ERROR, "ring %s: poll: %s", r->cfg->name, hermes_strerror(e));
			break;
		}
		n++;
		/* In a disk-full episode a non-durable journal drops without
		 * trying the disk for every message: one try per RETRY_NS. */
		if (r->disk_full && !r->cfg->durable && hm_now_ns() < r->retry_ns) {
			add(&r->stats->dropped, 1);
			r->drop_end = run[k].seq + 1;
			continue;
		}
		if (++k == HM_REC_RUN_MAX) {
			if (!flush(r, run, k))
				return n;
			k = 0;
		}
	}
	if (k && !flush(r, run, k))
		return n;
	if (n)
		release(r);
	return n;
}

/* Not durable, after a disk-full episode: record what was dropped as LOST
 * as soon as there is room, not only when the next message comes. */
static void record_drops(hm_rec_recorder *r, uint64_t now)
{
	uint64_t next = hm_jwriter_next_seq(r->w);
	if (!r->disk_full || r->cfg->durable || now < r->retry_ns || next == HM_JSEQ_NONE || r->drop_end <= next)
		return;
	hermes_err e = hm_jwriter_range(r->w, HM_JR_LOST, next, r->drop_end - next);
	if (e != HERMES_OK) {
		write_failed(r, e);
		r->retry_ns = now + RETRY_NS;
		return;
	}
	add(&r->stats->lost, r->drop_end - next);
	r->disk_full = false;
	set(&r->stats->state, HM_REC_STATE_RECORDING);
	hm_dlog(HM_DLOG_INFO, "ring %s: writing again; %" PRIu64 " dropped message(s) recorded as lost",
	       r->cfg->name, r->drop_end - next);
}

void *hm_rec_recorder_run(void *arg)
{
	hm_rec_recorder *r = arg;
	r->last_sync_ns = r->last_tick_ns = hm_now_ns();
	uint64_t active_ns = 0; /* the last batch with messages */
	while (!atomic_load_explicit(r->stop, memory_order_relaxed)) {
		uint64_t now = hm_now_ns();
		if (now - r->last_tick_ns >= TICK_NS)
			tick(r, now);
		if (!r->sub && !hm_rec_recorder_subscribe(r)) {
			nap(RETRY_NS);
			continue;
		}
		if (r->held_n) {
			unsigned done;
			hermes_err e = record_run(r, r->held, r->held_n, &done);
			r->held_n -= done;
			memmove(r->held, r->held + done, r->held_n * sizeof r->held[0]);
			if (e != HERMES_OK) {
				write_failed(r, e);
				tick(r, now); /* retention may make room */
				nap(RETRY_NS);
				continue;
			}
			r->disk_full = false;
			set(&r->stats->state, HM_REC_STATE_RECORDING);
			hm_dlog(HM_DLOG_INFO, "ring %s: writing again", r->cfg->name);
			if (!hm_rec_recorder_step(r))
				release(r); /* what was held is journaled */
			continue;
		}
		record_drops(r, now);
		hermes_err e = now - active_ns < AWAKE_NS
				       ? hermes_sub_wait(r->sub, HERMES_WAIT_YIELD, (int64_t)(AWAKE_NS - (now - active_ns)))
				       : hermes_sub_wait(r->sub, HERMES_WAIT_BLOCK, WAIT_NS);
		if (e == HERMES_ECLOSED) {
			hm_dlog(HM_DLOG_WARN, "ring %s was deleted; waiting for it to come back", r->cfg->name);
			hermes_sub_close(r->sub);
			r->sub = NULL;
			continue;
		}
		if (hm_rec_recorder_step(r))
			active_ns = hm_now_ns();
		if (r->cfg->fsync == HM_REC_FSYNC_INTERVAL && hm_now_ns() - r->last_sync_ns >= r->cfg->fsync_interval_ns)
			sync_now(r);
	}
	return NULL;
}

void hm_rec_recorder_close(hm_rec_recorder *r)
{
	if (r->sub) {
		if (!r->held_n)
			hermes_sub_release(r->sub);
		hermes_sub_close(r->sub);
		r->sub = NULL;
	}
	if (r->w) {
		if (r->cfg->fsync != HM_REC_FSYNC_NONE)
			hm_jwriter_sync(r->w);
		set(&r->stats->next_seq, hm_jwriter_next_seq(r->w));
		hm_jwriter_close(r->w);
		r->w = NULL;
	}
	if (r->stats) {
		set(&r->stats->state, HM_REC_STATE_STOPPED);
		set(&r->stats->pid, 0);
		hm_rec_stats_close(r->stats);
		r->stats = NULL;
	}
}
