/* Ring discovery from a program: hermes_bus_rings and hermes_bus_ring_info
 * (bus.h). Everything comes from the segment through the validated views
 * of segment.c (hm_bus_ring_view, hm_bus_find_ring), so a corrupt entry is
 * skipped or refused, never followed. */
#include <stdio.h>
#include <string.h>

#include <hermes/bus.h>

#include "core/atomics.h"
#include "core/error_detail.h"
#include "shm/ring.h"
#include "shm/segment.h"

static void fill(const hm_ring *r, const char *name, hermes_ring_info *info)
{
	memset(info, 0, sizeof *info);
	snprintf(info->name, sizeof info->name, "%s", name);
	/* The view's copies of the header's fixed fields, validated by
	 * hm_ring_view; the counts are live and advisory. */
	info->policy = (hermes_policy)r->policy;
	info->capacity = r->cap;
	info->max_msg = r->max_msg;
	info->slots = (uint32_t)r->nslots;
	/* Relaxed: a count for the caller, ordered with nothing. */
	info->producers = (uint32_t)__builtin_popcountll(hm_load_relaxed_u64(&r->hdr->prod_mask));
	info->subscribers = hm_ring_subscribers(r);
	uint64_t pos;
	hm_ring_tail(r, &pos, &info->next_seq);
}

hermes_err hermes_bus_rings(hermes_bus *bus, hermes_ring_info *out, unsigned cap, unsigned *count)
{
	if (!bus || !count || (!out && cap))
		return hm_fail(HERMES_EINVAL, "hermes_bus_rings: bus and count are required, and "
					      "out when cap > 0");
	unsigned n = 0;
	for (uint32_t i = 0; i < HM_MAX_RINGS; i++) {
		hm_ring_entry e;
		hm_ring r;
		/* The entry (validated name) and the view (validated header);
		 * a ring deleted or made between the two is simply skipped or
		 * listed as it is then. */
		if (hm_bus_ring_entry(bus, i, &e) != HERMES_OK || e.state != HM_RING_READY ||
		    hm_bus_ring_view(bus, i, &r) != HERMES_OK)
			continue;
		if (n < cap)
			fill(&r, e.name, &out[n]);
		n++;
	}
	*count = n;
	return HERMES_OK;
}

hermes_err hermes_bus_ring_info(hermes_bus *bus, const char *name, hermes_ring_info *info)
{
	if (!bus || !name || !info)
		return hm_fail(HERMES_EINVAL, "hermes_bus_ring_info: bus, name and info are required");
	if (!hm_name_ok(name))
		return hm_fail(HERMES_EINVAL, "'%s' is not a ring name", name);
	hm_ring r;
	hermes_err err = hm_bus_find_ring(bus, name, &r, NULL);
	if (err)
		return err;
	fill(&r, name, info);
	return HERMES_OK;
}
