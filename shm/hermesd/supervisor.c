#include "shm/hermesd/supervisor.h"

#include <string.h>
#include <sys/types.h>

#include "core/proc.h"
#include "daemon/log.h"
#include "shm/hermesd/config.h"

static bool owner_dead(hm_atomic_u64 *owner, hm_atomic_u64 *start, uint64_t *pid_out)
{
	/* Acquire: pairs with the CAS that took the slot, so owner_start (stored
	 * just after) is read no older than the owner it belongs to... */
	uint64_t pid = hm_load_acquire_u64(owner);
	/* 0: free; HM_SUB_ORPHAN (and HM_SUB_ORPHAN - 1, while an operator
	 * drops it): a durable subscriber slot without a process. */
	if (!pid || pid >= HM_SUB_ORPHAN - 1)
		return false;
	uint64_t st = hm_load_relaxed_u64(start);
	/* ...except for the instant between the CAS and that store, when the
	 * start time may still be 0 or the previous owner's: 0 matches any
	 * start, and a mismatch is re-checked below before acting. */
	if (hm_proc_alive((pid_t)pid, st))
		return false;
	if (hm_load_acquire_u64(owner) != pid || hm_load_relaxed_u64(start) != st)
		return false; /* changed hands while we looked: next pass */
	*pid_out = pid;
	return true;
}

/* A ring that fails validation is quarantined: never repaired, never used,
 * reported once when it turns corrupt and once when it is valid again (a
 * scribbled word put back, or the entry recreated). */
static bool quarantined(hermes_bus *bus, uint32_t i, hermes_err err, hm_sup_counters *c,
			hm_sup_log_fn log)
{
	uint64_t bit = 1ull << i;
	if (err == HERMES_EBADSEGMENT) {
		if (!(c->corrupt_mask & bit)) {
			c->corrupt_mask |= bit;
			c->corrupt_events++;
			if (log) {
				hm_dlog_kv kv = {0};
				hm_dlog_str(&kv, "bus", bus->name);
				hm_dlog_int(&kv, "ring_index", i);
				log(HM_DLOG_ERROR,
				    "%s; quarantined: no repairs, opens refused (the other rings are "
				    "served)%s",
				    hermes_last_error_detail(), kv.s);
			}
		}
		return true;
	}
	if (c->corrupt_mask & bit) {
		c->corrupt_mask &= ~bit;
		if (log) {
			hm_dlog_kv kv = {0};
			hm_dlog_str(&kv, "bus", bus->name);
			hm_dlog_int(&kv, "ring_index", i);
			log(HM_DLOG_WARN, "ring is %s again; quarantine lifted%s",
			    err == HERMES_OK ? "valid" : "gone", kv.s);
		}
	}
	return err != HERMES_OK;
}

/* Free producer slot k of ring r (a dead owner `pid`): 1 done, 0 retry. */
static int repair_producer(hm_ring *r, const char *name, uint32_t k, uint64_t pid,
			   hm_sup_counters *c, hm_sup_log_fn log)
{
	int64_t n = hm_ring_repair_producer(r, k);
	if (n < 0)
		return 0;
	c->producers_repaired++;
	c->messages_repaired += (uint64_t)n;
	if (log) {
		hm_dlog_kv kv = {0};
		hm_dlog_str(&kv, "ring", name);
		hm_dlog_int(&kv, "pid", (long long)pid);
		hm_dlog_int(&kv, "slot", k);
		log(n ? HM_DLOG_WARN : HM_DLOG_INFO,
		    "producer died%s; %lld sequence(s) marked abandoned, slot freed%s",
		    n ? " inside a claim" : "", (long long)n, kv.s);
	}
	return 1;
}

static void release_subscriber(hm_ring *r, const char *name, uint32_t k, uint64_t pid,
			       hm_sup_counters *c, hm_sup_log_fn log)
{
	/* Acquire: pairs with the release that published the key after its
	 * name. A durable subscriber's cursor outlives it: orphaned, it keeps
	 * holding a block ring's producers until a restarted owner adopts it
	 * (hermes_sub_open_durable) or an operator drops it (hermes-ctl
	 * durable drop). */
	if (hm_load_acquire_u64(&r->subs[k].durable)) {
		char dname[sizeof r->subs[k].durable_name];
		hm_sub_durable_name(&r->subs[k], dname);
		hm_ring_orphan_subscriber(r, k);
		c->subscribers_released++;
		if (log)
			log(HM_DLOG_WARN,
			    "ring '%s': durable subscriber '%s' (pid %llu) died at sequence %llu; cursor "
			    "kept, holding producers, until it is adopted again or dropped",
			    name, dname, (unsigned long long)pid,
			    (unsigned long long)hm_load_relaxed_u64(&r->subs[k].seq));
		return;
	}
	hm_ring_release_subscriber(r, k);
	/* Relaxed: a counter for hermes-ctl. */
	hm_fetch_add_relaxed_u64(&r->hdr->dead_subscribers, 1);
	c->subscribers_released++;
	if (log) {
		hm_dlog_kv kv = {0};
		hm_dlog_str(&kv, "ring", name);
		hm_dlog_int(&kv, "pid", (long long)pid);
		hm_dlog_int(&kv, "slot", k);
		log(HM_DLOG_INFO, "subscriber died at sequence %llu; cursor released%s",
		    (unsigned long long)hm_load_relaxed_u64(&r->subs[k].seq), kv.s);
	}
}

/* A validated view of ring i (ready or deleted) and its name, bounded. */
static bool ring_at(hermes_bus *bus, uint32_t i, hm_ring *r, char *name, hm_sup_counters *c,
		    hm_sup_log_fn log)
{
	if (quarantined(bus, i, hm_bus_ring_open_index(bus, i, true, r), c, log))
		return false;
	memcpy(name, r->hdr->name, HM_NAME_MAX);
	name[HM_NAME_MAX - 1] = '\0';
	return true;
}

int hm_sup_release(hermes_bus *bus, uint32_t ring, bool sub, uint32_t slot, uint64_t owner,
		   hm_sup_counters *c, hm_sup_log_fn log)
{
	hm_ring r;
	char name[HM_NAME_MAX];
	if (ring >= HM_MAX_RINGS || slot >= (sub ? HM_MAX_SUBSCRIBERS : HM_MAX_PRODUCERS) ||
	    !ring_at(bus, ring, &r, name, c, log))
		return 1;
	/* Acquire: pairs with the CAS that took the slot. The slot is freed
	 * only if it still holds what the dead process put there: closed and
	 * taken by someone else since, it is not ours to free. */
	hm_atomic_u64 *o = sub ? &r.subs[slot].owner : &r.prods[slot].owner;
	if (hm_load_acquire_u64(o) != owner)
		return 1;
	if (sub) {
		release_subscriber(&r, name, slot, owner, c, log);
		return 1;
	}
	return repair_producer(&r, name, slot, owner, c, log);
}

unsigned hm_sup_scan(hermes_bus *bus, hm_sup_counters *c, hm_sup_log_fn log,
		     const hm_sup_watch *watched, bool by_pid)
{
	unsigned retry = 0;
	for (uint32_t i = 0; i < HM_MAX_RINGS; i++) {
		hm_ring r;
		char name[HM_NAME_MAX];
		if (!ring_at(bus, i, &r, name, c, log) || !by_pid)
			continue;
		/* Slots a client registered over its connection are judged by
		 * the kernel (its pidfd), never by the pid in the slot. */
		for (uint32_t k = 0; k < HM_MAX_PRODUCERS; k++) {
			uint64_t pid;
			if ((watched && (watched->prods[i] >> k) & 1) ||
			    !owner_dead(&r.prods[k].owner, &r.prods[k].owner_start, &pid))
				continue;
			retry += !repair_producer(&r, name, k, pid, c, log);
		}
		for (uint32_t k = 0; k < HM_MAX_SUBSCRIBERS; k++) {
			uint64_t pid;
			if ((watched && (watched->subs[i] >> k) & 1) ||
			    !owner_dead(&r.subs[k].owner, &r.subs[k].owner_start, &pid))
				continue;
			release_subscriber(&r, name, k, pid, c, log);
		}
	}
	return retry;
}
