/* Internal view of an attached bus segment, shared by shm/ modules and the
 * tools that inspect a bus. */
#ifndef HM_SEGMENT_H
#define HM_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hermes/bus.h>

#include "shm/layout.h"
#include "shm/ring.h"

struct hermes_bus {
	void *base;
	size_t size;
	hm_seg_header *hdr;
	hm_ring_desc *dir;
	bool readonly;
	char name[HM_NAME_MAX];
};

/* "/hermes.<name>" for shm_open, after validating the name. */
hermes_err hm_segment_path(const char *name, char *buf, size_t len);

/* A view of the ring in directory slot `index` (HERMES_ENOENT when the slot
 * holds no ready ring). */
hermes_err hm_bus_ring_view(hermes_bus *bus, uint32_t index, hm_ring *ring);

/* Find a ready ring by name. */
hermes_err hm_bus_find_ring(hermes_bus *bus, const char *name, hm_ring *ring, uint32_t *index);

#endif
