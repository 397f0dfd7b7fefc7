/* Internal view of an attached bus segment, shared by shm/ modules and the
 * tools that inspect a bus. */
#ifndef HM_SEGMENT_H
#define HM_SEGMENT_H

#include <pthread.h>
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
	/* This process allocates rings itself (it created the segment, or it is
	 * the supervisor); otherwise ring creation goes through hermesd. */
	bool owner;
	/* Guards ctl_fd and the held list: any number of threads may open and
	 * close publishers and subscribers on one handle (bus.h), and each
	 * open and close talks to hermesd. */
	pthread_mutex_t mu;
	int ctl_fd; /* control connection to hermesd, or -1 */
	/* The slots this handle's publishers and subscribers hold, registered
	 * with hermesd over ctl_fd (again after a reconnect). */
	struct hm_held {
		const void *ring_hdr;
		uint32_t ring, slot;
		bool sub;
	} *held;
	unsigned nheld, capheld;
	char name[HM_NAME_MAX];
	/* Who this process is (hermes_attach_opts), sent to hermesd after
	 * each HELLO. */
	char app_name[HERMES_APP_NAME_MAX + 1];
	char app_instance[HERMES_APP_INSTANCE_MAX + 1];
};

/* Is name a valid bus name (1..HERMES_NAME_MAX of [A-Za-z0-9._-], not
 * starting with '.')? */
bool hm_segment_name_ok(const char *name);

/* "/hermes.<name>" for shm_open, after validating the name. */
hermes_err hm_segment_path(const char *name, char *buf, size_t len);

/* bytes rounded up to whole pages (SEG_PAGE): the segment's size, and each
 * ring block, are laid out in pages. */
uint64_t hm_segment_page_up(uint64_t bytes);

/* ---- creation and the bus lock (hermesd) ---- */

/* The bus lock: open (creating it empty if missing) the segment file of the
 * bus and take an OFD write lock on it, which the kernel drops when the
 * holder's fd closes or the process dies. Exactly one supervisor per bus,
 * whatever its run directory. *fd_out stays open for as long as the lock is
 * wanted; *fresh says the file is empty (to be created with
 * hm_bus_create_fd). HERMES_EBUSY when another process holds it,
 * HERMES_EACCES when the file is not ours to open. */
hermes_err hm_segment_lock(const char *name, unsigned mode, int *fd_out, bool *fresh);

/* Is the bus lock held? 1 yes, 0 no (or no such bus), -1 cannot tell. */
int hm_segment_locked(const char *name);

/* hermes_bus_create on an already open, empty segment file (fd stays open
 * and the caller's; on failure the caller removes the file). */
hermes_err hm_bus_create_fd(const char *name, int fd, uint64_t size, unsigned mode,
			    hermes_bus **out);

/* ---- validation of the directory (the one place; see ARCHITECTURE.md,
 * "What hermesd trusts") ---- */

/* Directory entry `index` as read once from shared memory, validated: the
 * state is known, and for READY and DELETED entries the block is page
 * aligned, after the directory and inside the mapping (overflow-safe). */
typedef struct hm_ring_entry {
	uint32_t state;	    /* hm_ring_state as read */
	bool corrupt;	    /* the entry itself failed validation */
	uint64_t offset;    /* validated copies */
	uint64_t block_size;
	void *block;
	char name[HM_NAME_MAX]; /* NUL-terminated, printable copy */
} hm_ring_entry;

/* HERMES_OK for a valid READY or DELETED entry; HERMES_ENOENT for a free or
 * half-created one; HERMES_EBADSEGMENT (e->corrupt, detail says why) for a
 * corrupt one. */
hermes_err hm_bus_ring_entry(hermes_bus *bus, uint32_t index, hm_ring_entry *e);

/* A validated view of the ring in directory slot `index`: the entry and the
 * ring header (hm_ring_view). HERMES_ENOENT when the slot holds no ready ring
 * (or deleted one, with `deleted`); HERMES_EBADSEGMENT, with a detail naming
 * the ring and the reason, when either is corrupt. */
hermes_err hm_bus_ring_open_index(hermes_bus *bus, uint32_t index, bool deleted, hm_ring *ring);

/* hm_bus_ring_open_index for ready rings only. */
hermes_err hm_bus_ring_view(hermes_bus *bus, uint32_t index, hm_ring *ring);

/* Make this handle the allocator of its segment (the supervisor). */
void hm_bus_set_owner(hermes_bus *bus);

/* Ring creation and deletion done directly in the segment (the owner). */
hermes_err hm_bus_create_ring_local(hermes_bus *bus, const hermes_ring_config *cfg);
hermes_err hm_bus_delete_ring_local(hermes_bus *bus, const char *name, bool force);

/* Does any producer or subscriber slot of the ring have an owner? */
bool hm_ring_in_use(const hm_ring *ring);

/* Find a ready ring by name. */
hermes_err hm_bus_find_ring(hermes_bus *bus, const char *name, hm_ring *ring, uint32_t *index);

#endif
