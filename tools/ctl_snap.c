#include "tools/ctl_snap.h"

#include <stdio.h>
#include <string.h>

#include "core/atomics.h"
#include "core/futex.h"
#include "core/proc.h"
#include "shm/ring.h"
#include "shm/segment.h"
#include "tools/ctl_fmt.h"

/* Memory ordering, once for the whole file: every counter and cursor read
 * here is advisory and has a single writer (its slot's owner, or the
 * supervisor). We never act on what we read, only print it, so relaxed loads
 * are enough; a snapshot may mix values a few instructions apart, and the
 * code below clamps where that could show a negative lag. The exceptions are
 * the loads the library already pairs for us: the directory state (acquire,
 * inside hm_bus_ring_view) so a READY ring's header is complete, the tail
 * (hm_ring_tail's consistent pair), and the supervisor pid (below). */

static void read_supervisor(hermes_bus *bus, ctl_sup *sup, uint64_t now)
{
	hm_seg_header *h = bus->hdr;
	memset(sup, 0, sizeof *sup);
	/* Acquire: pairs with hermesd's release store of its pid, made after it
	 * wrote its start time, first heartbeat and control path. */
	uint64_t pid = hm_load_acquire_u64(&h->supervisor_pid);
	uint64_t start = hm_load_relaxed_u64(&h->supervisor_start);
	uint64_t beat = hm_load_relaxed_u64(&h->supervisor_heartbeat_ns);
	memcpy(sup->control_path, h->control_path, sizeof sup->control_path);
	sup->control_path[sizeof sup->control_path - 1] = '\0';
	sup->pid = (pid_t)pid;
	sup->heartbeat_age_ns = beat == 0 ? UINT64_MAX : (now > beat ? now - beat : 0);
	if (pid == 0 || pid > INT32_MAX)
		sup->state = CTL_SUP_NEVER;
	else if (!hm_proc_alive((pid_t)pid, start))
		sup->state = CTL_SUP_GONE;
	else if (sup->heartbeat_age_ns > CTL_HEARTBEAT_STALE_NS)
		sup->state = CTL_SUP_STALLED;
	else
		sup->state = CTL_SUP_UP;
}

static void owner_facts(ctl_owner *o, uint32_t slot, uint64_t pid, uint64_t start, bool procs)
{
	o->slot = slot;
	o->pid = (pid_t)pid;
	o->start = start;
	if (procs && pid <= INT32_MAX) {
		o->alive = hm_proc_alive((pid_t)pid, start);
		if (o->alive)
			hm_proc_comm((pid_t)pid, o->comm, sizeof o->comm);
		else
			snprintf(o->comm, sizeof o->comm, "?");
	} else {
		o->alive = true;
		snprintf(o->comm, sizeof o->comm, "?");
	}
}

/* A slot's owner can change while we read it (closed, then taken by another
 * process). Reading the owner before and after the fields and retrying on a
 * change keeps one owner's counters from being shown under another's pid. */
#define SLOT_TRIES 4

static bool read_prod(const hm_prod_slot *p, uint32_t i, ctl_prod *out, bool procs)
{
	for (int t = 0; t < SLOT_TRIES; t++) {
		uint64_t owner = hm_load_relaxed_u64(&p->owner);
		if (owner == 0)
			return false;
		uint64_t start = hm_load_relaxed_u64(&p->owner_start);
		out->active = hm_load_relaxed_u32(&p->active) != 0;
		out->intent_seq = hm_load_relaxed_u64(&p->intent_seq);
		out->intent_count = hm_load_relaxed_u32(&p->intent_count);
		out->msgs = hm_load_relaxed_u64(&p->msgs);
		out->bytes = hm_load_relaxed_u64(&p->bytes);
		out->full_events = hm_load_relaxed_u64(&p->full_events);
		out->aborts = hm_load_relaxed_u64(&p->aborts);
		if (hm_load_relaxed_u64(&p->owner) == owner) {
			owner_facts(&out->o, i, owner, start, procs);
			return true;
		}
	}
	return false;
}

static bool read_sub(const hm_sub_slot *s, uint32_t i, uint64_t sleepers, ctl_sub *out, bool procs)
{
	for (int t = 0; t < SLOT_TRIES; t++) {
		uint64_t owner = hm_load_relaxed_u64(&s->owner);
		if (owner == 0)
			return false;
		uint64_t start = hm_load_relaxed_u64(&s->owner_start);
		out->pos = hm_load_relaxed_u64(&s->pos);
		out->seq = hm_load_relaxed_u64(&s->seq);
		out->wait_mode = hm_load_relaxed_u32(&s->wait_mode);
		out->sleeping = (sleepers >> (i % 64)) & 1;
		out->corrupt = hm_load_relaxed_u64(&s->corrupt);
		out->msgs = hm_load_relaxed_u64(&s->msgs);
		out->bytes = hm_load_relaxed_u64(&s->bytes);
		out->lost = hm_load_relaxed_u64(&s->lost);
		out->skipped = hm_load_relaxed_u64(&s->skipped);
		if (hm_load_relaxed_u64(&s->owner) == owner) {
			/* A durable subscriber's orphaned slot (include/hermes/
			 * durable.h): no process, its name instead. */
			out->orphaned = owner >= HM_SUB_ORPHAN - 1;
			owner_facts(&out->o, i, out->orphaned ? 0 : owner, start, procs && !out->orphaned);
			if (out->orphaned) {
				char name[32];
				hm_sub_durable_name(s, name);
				name[sizeof out->o.comm - 1] = '\0'; /* as a process name */
				memcpy(out->o.comm, name, sizeof out->o.comm);
				out->o.alive = false;
			}
			return true;
		}
	}
	return false;
}

static uint64_t ahead(uint64_t tail, uint64_t cursor)
{
	/* Sequences and positions only grow; a cursor read a moment after the
	 * tail may be past it, which is "no lag", not a huge number. */
	return (int64_t)(tail - cursor) > 0 ? tail - cursor : 0;
}

static void read_ring(const hm_ring *r, uint32_t index, const hm_ring_desc *d, ctl_ring *o,
		      bool procs)
{
	memset(o, 0, offsetof(ctl_ring, prods));
	o->index = index;
	memcpy(o->name, d->name, sizeof o->name);
	o->name[sizeof o->name - 1] = '\0';
	/* Written once before the descriptor turned READY (acquired by the
	 * view): plain reads. */
	o->created_ns = r->hdr->created_realtime_ns;
	o->policy = r->policy;
	o->capacity = r->cap;
	o->slots = r->nslots;
	o->max_msg = r->max_msg;

	for (uint32_t i = 0; i < HM_MAX_PRODUCERS; i++)
		if (read_prod(&r->prods[i], i, &o->prods[o->nprods], procs))
			o->nprods++;
	/* Relaxed: advisory, like every counter here. */
	uint64_t sleepers = hm_load_relaxed_u64(&r->hdr->sleepers);
	for (uint32_t i = 0; i < HM_MAX_SUBSCRIBERS; i++)
		if (read_sub(&r->subs[i], i, sleepers, &o->subs[o->nsubs], procs))
			o->nsubs++;

	/* The tail after the cursors: a cursor never passes the tail, so this
	 * order shows lag that is at worst slightly too large, never negative. */
	hm_ring_tail(r, &o->tail_pos, &o->tail_seq);
	o->limit = hm_load_relaxed_u64(&r->hdr->limit);
	o->seq_limit = hm_load_relaxed_u64(&r->hdr->seq_limit);
	o->waiters = (uint32_t)__builtin_popcountll(sleepers);
	o->corrupt = hm_load_relaxed_u64(&r->hdr->corrupt);
	o->repairs = hm_load_relaxed_u64(&r->hdr->repairs);
	o->repaired_msgs = hm_load_relaxed_u64(&r->hdr->repaired_msgs);
	o->limit_scans = hm_load_relaxed_u64(&r->hdr->limit_scans);
	o->dead_subs = hm_load_relaxed_u64(&r->hdr->dead_subscribers);
	o->deleted = hm_load_relaxed_u32(&r->hdr->deleted) != 0;

	for (unsigned i = 0; i < o->nsubs; i++) {
		ctl_sub *s = &o->subs[i];
		s->lag_msgs = ahead(o->tail_seq, s->seq);
		s->lag_bytes = ahead(o->tail_pos, s->pos);
		/* Every owned cursor counts, dead or alive: that is what
		 * producers of a block ring wait for until the supervisor frees
		 * a dead subscriber's slot. */
		uint64_t fb = s->lag_bytes < o->capacity ? s->lag_bytes : o->capacity;
		uint64_t fm = s->lag_msgs < o->slots ? s->lag_msgs : o->slots;
		if (fb > o->fill_bytes)
			o->fill_bytes = fb;
		if (fm > o->fill_msgs)
			o->fill_msgs = fm;
		o->lost += s->lost;
		o->skipped += s->skipped;
	}
	double rb = (double)o->fill_bytes / (double)o->capacity;
	double rm = (double)o->fill_msgs / (double)o->slots;
	o->fill_ratio = rb > rm ? rb : rm;
}

void ctl_snap_take(hermes_bus *bus, ctl_snap *s, bool procs)
{
	hm_seg_header *h = bus->hdr;
	s->taken_ns = hm_now_ns();
	snprintf(s->bus, sizeof s->bus, "%s", bus->name);
	snprintf(s->path, sizeof s->path, "/dev/shm/hermes.%s", bus->name);
	s->segment_size = h->segment_size;
	s->created_ns = h->created_realtime_ns;
	s->dir_generation = hm_load_relaxed_u64(&h->dir_generation);
	read_supervisor(bus, &s->sup, s->taken_ns);
	s->nrings = 0;
	s->ncorrupt = 0;
	for (uint32_t i = 0; i < HM_MAX_RINGS; i++) {
		hm_ring r;
		hermes_err err = hm_bus_ring_view(bus, i, &r);
		if (err == HERMES_OK) {
			read_ring(&r, i, &bus->dir[i], &s->rings[s->nrings++], procs);
			continue;
		}
		if (err != HERMES_EBADSEGMENT)
			continue; /* free, being created, deleted */
		/* Corrupt: the entry itself, or a ready ring's block. */
		ctl_corrupt *c = &s->corrupt[s->ncorrupt++];
		snprintf(c->why, sizeof c->why, "%s", hermes_last_error_detail());
		hm_ring_entry e;
		hm_bus_ring_entry(bus, i, &e);
		c->index = i;
		memcpy(c->name, e.name, sizeof c->name);
	}
}

const ctl_corrupt *ctl_snap_corrupt(const ctl_snap *s, const char *name)
{
	for (unsigned i = 0; i < s->ncorrupt; i++)
		if (!strcmp(s->corrupt[i].name, name))
			return &s->corrupt[i];
	return NULL;
}

const ctl_ring *ctl_snap_ring(const ctl_snap *s, const char *name)
{
	for (unsigned i = 0; i < s->nrings; i++)
		if (!strcmp(s->rings[i].name, name))
			return &s->rings[i];
	return NULL;
}

const ctl_ring *ctl_snap_same_ring(const ctl_snap *s, const ctl_ring *r)
{
	const ctl_ring *o = ctl_snap_ring(s, r->name);
	return o && o->created_ns == r->created_ns && o->index == r->index ? o : NULL;
}

const char *ctl_sup_describe(const ctl_sup *sup, char *buf, size_t len)
{
	double age = sup->heartbeat_age_ns == UINT64_MAX ? -1 : (double)sup->heartbeat_age_ns / 1e9;
	switch (sup->state) {
	case CTL_SUP_UP:
		snprintf(buf, len, "supervisor up (pid %d, heartbeat %.1f s ago)", (int)sup->pid, age);
		break;
	case CTL_SUP_NEVER:
		snprintf(buf, len, "supervisor DOWN (no hermesd owns this bus)");
		break;
	case CTL_SUP_GONE:
		snprintf(buf, len, "supervisor DOWN (hermesd pid %d is gone)", (int)sup->pid);
		break;
	case CTL_SUP_STALLED:
		snprintf(buf, len, "supervisor DOWN (hermesd pid %d alive, heartbeat %.1f s old: stalled?)",
			 (int)sup->pid, age);
		break;
	}
	return buf;
}

const char *ctl_policy_name(uint32_t policy)
{
	static const char *const n[] = {[HERMES_POLICY_BLOCK] = "block",
					[HERMES_POLICY_OVERWRITE] = "overwrite"};
	return FMT_NAME_OF(policy, n);
}

const char *ctl_wait_mode_name(uint32_t mode)
{
	static const char *const n[] = {
		[HERMES_WAIT_SPIN] = "spin", [HERMES_WAIT_YIELD] = "yield", [HERMES_WAIT_BLOCK] = "block"};
	return FMT_NAME_OF(mode, n);
}
