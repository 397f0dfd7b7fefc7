/* The bus segment: create, attach (with validation), the ring directory, and
 * opening publishers and subscribers on rings by name. */
#include "shm/segment.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <hermes/durable.h>
#include <hermes/version.h>

#include "core/error_detail.h"
#include "core/futex.h"
#include "core/proc.h"
#include "shm/app_name.h"
#include "shm/control.h"

#define MIN_SEGMENT_SIZE (64u * 1024u)
#define MAX_SEGMENT_SIZE (1ull << 44) /* the error message says 2^44 */
/* The ring directory ends, and every ring block starts, on a page: a block
 * is then never sharing a page with its neighbour (hole punching and
 * madvise work per page). */
#define SEG_PAGE 4096u
/* How long a short control request (hello, name, slot registration) waits
 * for hermesd's answer: it answers these at once, so a hermesd silent for
 * 2 s is stuck, and what we asked is left to its pid check. */
#define CTL_SHORT_MS 2000
/* How long a ring request (create, delete) waits: hermesd formats and
 * reserves the block first, which takes longer on a big ring. */
#define CTL_RING_MS 5000
/* Slots held by this process, as first allocated; doubled when full. */
#define HELD_INITIAL 16u
/* 64-bit FNV-1a, which hashes a durable subscriber's name into its key. */
#define FNV1A_OFFSET 0xcbf29ce484222325ull
#define FNV1A_PRIME 0x100000001b3ull

bool hm_segment_name_ok(const char *name)
{
	/* Ring-name rules, and no leading '.' (the file lives in /dev/shm). */
	return hm_name_ok(name) && name[0] != '.';
}

hermes_err hm_segment_path(const char *name, char *buf, size_t len)
{
	if (!hm_segment_name_ok(name))
		return hm_fail(HERMES_EINVAL,
			       "bus name '%s' must be 1..%d characters of A-Z a-z 0-9 . _ - "
			       "(not starting with '.')",
			       name ? name : "(null)", HERMES_NAME_MAX);
	snprintf(buf, len, "/hermes.%s", name);
	return HERMES_OK;
}

static size_t dir_bytes(void)
{
	return HM_MAX_RINGS * sizeof(hm_ring_desc);
}

uint64_t hm_segment_page_up(uint64_t n)
{
	return (n + SEG_PAGE - 1) & ~(uint64_t)(SEG_PAGE - 1);
}

static uint64_t first_block_offset(void)
{
	return hm_segment_page_up(HM_SEG_HEADER_SIZE + dir_bytes());
}

/* A plain (non-atomic) field of the shared segment, read exactly once: the
 * value checked is the value used, whatever another process writes after. */
static uint64_t rd_u64(const uint64_t *p)
{
	return *(const volatile uint64_t *)p;
}

static hermes_err check_create_args(const char *name, uint64_t *size, unsigned mode, char *path,
				    size_t path_len)
{
	hermes_err err = hm_segment_path(name, path, path_len);
	if (err)
		return err;
	if (mode & 0002)
		return hm_fail(HERMES_EINVAL, "bus '%s': mode %04o is world-writable; refused", name,
			       mode);
	if (*size < MIN_SEGMENT_SIZE || *size > MAX_SEGMENT_SIZE)
		return hm_fail(HERMES_EINVAL, "bus '%s': size %llu must be between %u and 2^44 bytes",
			       name, (unsigned long long)*size, MIN_SEGMENT_SIZE);
	*size = hm_segment_page_up(*size);
	return HERMES_OK;
}

/* Reserve every byte of the segment now, so that a small /dev/shm (a
 * container's default --shm-size is 64 MiB) is an error here, with advice,
 * rather than a SIGBUS in whichever process first touches a missing page. */
static hermes_err reserve(int fd, const char *name, const char *path, uint64_t size)
{
	int e = posix_fallocate(fd, 0, (off_t)size);
	if (e == 0)
		return HERMES_OK;
	struct statvfs vfs;
	char free_txt[48] = "an unknown amount";
	if (statvfs("/dev/shm", &vfs) == 0)
		snprintf(free_txt, sizeof free_txt, "%llu bytes",
			 (unsigned long long)vfs.f_bavail * (unsigned long long)vfs.f_frsize);
	if (e == ENOSPC || e == EFBIG)
		return hm_fail(HERMES_ENOSPC,
			       "bus '%s' needs %llu bytes of shared memory but /dev/shm has %s "
			       "free: choose a smaller [bus] size (hermesd --size), free space in "
			       "/dev/shm, or give the container more (docker run --shm-size)",
			       name, (unsigned long long)size, free_txt);
	errno = e;
	return hm_fail_errno("posix_fallocate", path);
}

/* Format a new segment in fd (an empty file of the bus, open read-write);
 * fd stays open and owned by the caller. */
static hermes_err create_on_fd(const char *name, const char *path, int fd, uint64_t size,
			       unsigned mode, hermes_bus **out)
{
	hermes_err err;
	/* The umask may have narrowed the mode; the caller's mode is the
	 * contract (e.g. 0660 for a group). */
	if (fchmod(fd, mode & 0777) != 0 || ftruncate(fd, (off_t)size) != 0)
		return hm_fail_errno("fchmod/ftruncate", path);
	if ((err = reserve(fd, name, path, size)) != HERMES_OK)
		return err;
	void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		return hm_fail_errno("mmap", path);
	hermes_bus *bus = calloc(1, sizeof *bus);
	if (!bus) {
		munmap(base, size);
		return hm_fail(HERMES_ENOMEM, "bus handle");
	}
	hm_seg_header *h = base;
	h->layout_version = HM_LAYOUT_VERSION;
	h->header_size = HM_SEG_HEADER_SIZE;
	h->segment_size = size;
	h->dir_offset = HM_SEG_HEADER_SIZE;
	h->max_rings = HM_MAX_RINGS;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	h->created_realtime_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	snprintf(h->bus_name, sizeof h->bus_name, "%s", name);
	hm_store_relaxed_u64(&h->alloc_next, first_block_offset());
	/* Not secret, only unique: getrandom, falling back to time and pid. */
	if (getrandom(&h->bus_id, sizeof h->bus_id, 0) != (ssize_t)sizeof h->bus_id)
		h->bus_id = h->created_realtime_ns ^ ((uint64_t)getpid() << 32);
	if (!h->bus_id)
		h->bus_id = 1;
	hm_ring_desc *dir = (hm_ring_desc *)(void *)((uint8_t *)base + h->dir_offset);
	for (unsigned i = 0; i < HM_MAX_RINGS; i++)
		dir[i].index = i;
	/* Release: everything above is visible to a process that acquires the
	 * magic in hermes_bus_attach. Until then it answers "not ready". */
	hm_store_release_u64(&h->magic, HM_SEG_MAGIC);
	bus->base = base;
	bus->size = size;
	bus->hdr = h;
	bus->dir = dir;
	bus->owner = true;
	pthread_mutex_init(&bus->mu, NULL);
	bus->ctl_fd = -1;
	snprintf(bus->name, sizeof bus->name, "%s", name);
	*out = bus;
	return HERMES_OK;
}

hermes_err hermes_bus_create(const char *name, uint64_t size, unsigned mode, hermes_bus **out)
{
	char path[80];
	hm_clear_detail();
	if (!out)
		return hm_fail(HERMES_EINVAL, "out is NULL");
	hermes_err err = check_create_args(name, &size, mode, path, sizeof path);
	if (err)
		return err;
	int fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0777);
	if (fd < 0) {
		if (errno == EEXIST)
			return hm_fail(HERMES_EEXIST,
				       "bus '%s' already exists (/dev/shm%s): attach to it, or "
				       "hermes-ctl destroy it if nothing uses it",
				       name, path);
		return hm_fail_errno("shm_open", path);
	}
	err = create_on_fd(name, path, fd, size, mode, out);
	close(fd);
	if (err)
		shm_unlink(path); /* nothing half-made is left behind */
	return err;
}

hermes_err hm_bus_create_fd(const char *name, int fd, uint64_t size, unsigned mode,
			    hermes_bus **out)
{
	char path[80];
	hm_clear_detail();
	hermes_err err = check_create_args(name, &size, mode, path, sizeof path);
	return err ? err : create_on_fd(name, path, fd, size, mode, out);
}

/* ---- the bus lock ------------------------------------------------------------ */

hermes_err hm_segment_lock(const char *name, unsigned mode, int *fd_out, bool *fresh)
{
	char path[80];
	*fd_out = -1;
	hermes_err err = hm_segment_path(name, path, sizeof path);
	if (err)
		return err;
	int fd = shm_open(path, O_RDWR | O_CREAT | O_CLOEXEC, mode & 0777);
	if (fd < 0) {
		if (errno == EACCES)
			return hm_fail(HERMES_EACCES, "bus '%s' (/dev/shm%s): permission denied",
				       name, path);
		return hm_fail_errno("shm_open", path);
	}
	/* An open file description lock: tied to this fd, not to the process
	 * or a run directory, released by the kernel when the holder dies. */
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	struct stat st;
	if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
		int e = errno;
		close(fd);
		if (e == EAGAIN || e == EACCES)
			return hm_fail(HERMES_EBUSY, "bus '%s' is locked by a live hermesd", name);
		errno = e;
		return hm_fail_errno("fcntl(F_OFD_SETLK)", path);
	}
	if (fstat(fd, &st) != 0) {
		close(fd);
		return hm_fail_errno("fstat", path);
	}
	*fresh = st.st_size == 0;
	*fd_out = fd;
	return HERMES_OK;
}

int hm_segment_locked(const char *name)
{
	char path[80];
	if (hm_segment_path(name, path, sizeof path))
		return -1;
	int fd = shm_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	int r = fcntl(fd, F_OFD_GETLK, &fl);
	close(fd);
	return r != 0 ? -1 : fl.l_type != F_UNLCK;
}

static void register_slot(hermes_bus *bus, const struct hm_held *h)
{
	if (bus->ctl_fd < 0)
		return;
	hm_ctl_req req = {.magic = HM_CTL_MAGIC,
			  .op = HM_CTL_SLOT,
			  .flags = h->sub ? HM_CTL_SUB : 0,
			  .slots = h->ring,
			  .policy = h->slot,
			  .capacity = (uint64_t)getpid()};
	hm_ctl_resp resp;
	/* A refusal or no answer leaves the slot to the pid check. */
	(void)hm_ctl_call(bus->ctl_fd, &req, &resp, CTL_SHORT_MS);
}

/* (Re)connect the control channel, if the segment names a supervisor. */
static void connect_supervisor(hermes_bus *bus)
{
	char path[sizeof bus->hdr->control_path];
	if (bus->ctl_fd >= 0)
		close(bus->ctl_fd);
	bus->ctl_fd = -1;
	memcpy(path, bus->hdr->control_path, sizeof path);
	path[sizeof path - 1] = '\0';
	if (!path[0])
		return;
	int fd;
	if (hm_ctl_connect(path, &fd) != HERMES_OK)
		return;
	hm_ctl_req req = {.magic = HM_CTL_MAGIC, .op = HM_CTL_HELLO};
	snprintf(req.name, sizeof req.name, "%s", bus->name);
	hm_ctl_resp resp;
	if (hm_ctl_call(fd, &req, &resp, CTL_SHORT_MS) != HERMES_OK || resp.err != HERMES_OK) {
		close(fd);
		return;
	}
	/* Who we are; a hermesd older than this request refuses it, and shows
	 * the process name instead. */
	req = (hm_ctl_req){.magic = HM_CTL_MAGIC, .op = HM_CTL_NAME};
	hm_app_pack(req.name, bus->app_name, bus->app_instance);
	(void)hm_ctl_call(fd, &req, &resp, CTL_SHORT_MS);
	bus->ctl_fd = fd;
	/* A new hermesd (or a new connection) learns every slot we hold. */
	for (unsigned i = 0; i < bus->nheld; i++)
		register_slot(bus, &bus->held[i]);
}

/* Has hermesd hung up on us (it stopped or restarted)? */
static bool supervisor_gone(const hermes_bus *bus)
{
	struct pollfd p = {.fd = bus->ctl_fd, .events = POLLIN};
	/* Any readiness is a hang-up: hermesd never speaks unasked. */
	return bus->ctl_fd < 0 || poll(&p, 1, 0) != 0;
}

/* Remember a slot this handle took, and tell hermesd (when one answers) so
 * it can free the slot if this process dies. Without a hermesd the slot is
 * registered on the next connection (ARCHITECTURE.md, "What hermesd
 * trusts"). */
static void hold_slot(hermes_bus *bus, const hm_ring *r, uint32_t ring, uint32_t slot, bool sub)
{
	pthread_mutex_lock(&bus->mu);
	if (bus->nheld == bus->capheld) {
		unsigned cap = bus->capheld ? 2 * bus->capheld : HELD_INITIAL;
		struct hm_held *h = realloc(bus->held, cap * sizeof *h);
		if (!h) {
			pthread_mutex_unlock(&bus->mu);
			return; /* out of memory: left to the pid check */
		}
		bus->held = h;
		bus->capheld = cap;
	}
	struct hm_held *h = &bus->held[bus->nheld++];
	*h = (struct hm_held){.ring_hdr = r->hdr, .ring = ring, .slot = slot, .sub = sub};
	if (supervisor_gone(bus))
		connect_supervisor(bus); /* registers everything held, h too */
	else
		register_slot(bus, h);
	pthread_mutex_unlock(&bus->mu);
}

static void drop_slot(hermes_bus *bus, const void *ring_hdr, uint32_t slot, bool sub)
{
	pthread_mutex_lock(&bus->mu);
	for (unsigned i = 0; i < bus->nheld; i++)
		if (bus->held[i].ring_hdr == ring_hdr && bus->held[i].slot == slot &&
		    bus->held[i].sub == sub) {
			bus->held[i] = bus->held[--bus->nheld];
			break;
		}
	pthread_mutex_unlock(&bus->mu);
}

static const char *default_bus_name(void)
{
	const char *env = getenv("HERMES_BUS");
	return env && *env ? env : "default";
}

/* The fields of hermes_attach_opts this library knows (its first version). */
#define ATTACH_OPTS_V1 (offsetof(hermes_attach_opts, instance) + sizeof(const char *))

/* The name and instance this process attaches with: the options', else the
 * environment's (not for a read-only attach, which never tells hermesd: a
 * bad variable must not stop inspection tools), else the program name (and
 * no instance); checked here. */
static hermes_err app_identity(const hermes_attach_opts *o, bool env, char *name, char *instance)
{
	const char *n = o ? o->app_name : NULL, *in = o ? o->instance : NULL;
	const char *nwhat = "app_name", *iwhat = "instance";
	if (!n && env && (n = getenv("HERMES_APP_NAME")) != NULL)
		nwhat = "HERMES_APP_NAME";
	if (!in && env && (in = getenv("HERMES_APP_INSTANCE")) != NULL)
		iwhat = "HERMES_APP_INSTANCE";
	hermes_err err = HERMES_OK;
	if (n && (err = hm_app_label_check(nwhat, n, 0)) != HERMES_OK)
		return err;
	if (in && (err = hm_app_label_check(iwhat, in, 1)) != HERMES_OK)
		return err;
	if (n)
		snprintf(name, HM_APP_NAME_SIZE, "%s", n);
	else
		hm_app_default_name(name);
	snprintf(instance, HM_APP_INSTANCE_SIZE, "%s", in ? in : "");
	return HERMES_OK;
}

/* Is o a struct this library can read: at least the first version, and
 * nothing it does not know set in a newer, larger one? */
static hermes_err attach_opts_check(const hermes_attach_opts *o)
{
	if (!o)
		return HERMES_OK;
	if (o->size < ATTACH_OPTS_V1)
		return hm_fail(HERMES_EINVAL,
			       "hermes_attach_opts.size is %u, less than %zu: start from "
			       "HERMES_ATTACH_OPTS_INIT",
			       o->size, ATTACH_OPTS_V1);
	for (size_t i = sizeof *o; i < o->size; i++)
		if (((const unsigned char *)o)[i])
			return hm_fail(HERMES_EINVAL,
				       "hermes_attach_opts has options this library (%s) does not "
				       "know (non-zero byte %zu of %u)",
				       HERMES_VERSION_STRING, i, o->size);
	if (o->flags & ~HERMES_ATTACH_READONLY)
		return hm_fail(HERMES_EINVAL, "hermes_attach_opts.flags 0x%x: unknown flags",
			       o->flags & ~HERMES_ATTACH_READONLY);
	return HERMES_OK;
}

/* Open the segment file of bus `name`, with advice for the usual failures. */
static hermes_err open_segment(const char *name, const char *path, bool readonly, int *fd)
{
	*fd = shm_open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC, 0);
	if (*fd >= 0)
		return HERMES_OK;
	if (errno == ENOENT)
		return hm_fail(HERMES_ENOENT,
			       "bus '%s' does not exist (/dev/shm%s): is hermesd running "
			       "for it? (HERMES_BUS selects the bus)",
			       name, path);
	if (errno == EACCES)
		return hm_fail(HERMES_EACCES,
			       "bus '%s' (/dev/shm%s): permission denied; the segment's mode "
			       "and group decide who may attach",
			       name, path);
	return hm_fail_errno("shm_open", path);
}

/* Map all of the segment file fd, once it is long enough for a header. */
static hermes_err map_segment(int fd, const char *name, const char *path, bool readonly,
			      void **base, size_t *size)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return hm_fail_errno("fstat", path);
	if (st.st_size == 0)
		return hm_fail(HERMES_ENOTREADY, "bus '%s' (/dev/shm%s) is still being created",
			       name, path);
	if ((uint64_t)st.st_size < HM_SEG_HEADER_SIZE)
		return hm_fail(HERMES_ETRUNCATED,
			       "/dev/shm%s is %lld bytes, shorter than a Hermes header (%u)", path,
			       (long long)st.st_size, HM_SEG_HEADER_SIZE);
	*size = (size_t)st.st_size;
	*base = mmap(NULL, *size, readonly ? PROT_READ : PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (*base == MAP_FAILED)
		return hm_fail_errno("mmap", path);
	return HERMES_OK;
}

/* Is the mapped header (size bytes mapped) one this library can use: ready,
 * Hermes, this layout, and consistent with the file's size? */
static hermes_err check_header(hm_seg_header *h, size_t size, const char *path)
{
	/* Acquire: pairs with the creator's release store of the magic. */
	uint64_t magic = hm_load_acquire_u64(&h->magic);
	if (magic == 0)
		return hm_fail(HERMES_ENOTREADY,
			       "/dev/shm%s has no magic yet: still being created (or not Hermes)",
			       path);
	if (magic != HM_SEG_MAGIC)
		return hm_fail(HERMES_EBADSEGMENT, "/dev/shm%s is not a Hermes segment (bad magic)",
			       path);
	if (h->layout_version != HM_LAYOUT_VERSION)
		return hm_fail(HERMES_EVERSION,
			       "/dev/shm%s has layout version %u; this Hermes understands %u: run "
			       "matching versions or recreate the bus",
			       path, h->layout_version, HM_LAYOUT_VERSION);
	if (h->header_size != HM_SEG_HEADER_SIZE || h->dir_offset != HM_SEG_HEADER_SIZE ||
	    h->max_rings != HM_MAX_RINGS)
		return hm_fail(HERMES_EBADSEGMENT, "/dev/shm%s has an inconsistent header", path);
	uint64_t seg_size = rd_u64(&h->segment_size);
	if (seg_size > size)
		return hm_fail(HERMES_ETRUNCATED, "/dev/shm%s is %zu bytes but its header says %llu",
			       path, size, (unsigned long long)seg_size);
	if (seg_size < first_block_offset() || size < first_block_offset())
		return hm_fail(HERMES_EBADSEGMENT,
			       "/dev/shm%s is %llu bytes, too small for its ring directory (%llu): "
			       "not a segment hermesd made",
			       path, (unsigned long long)seg_size,
			       (unsigned long long)first_block_offset());
	return HERMES_OK;
}

/* The handle over a checked mapping; NULL when out of memory. */
static hermes_bus *bus_new(void *base, size_t size, const char *name, bool readonly,
			   const char *app, const char *instance)
{
	hermes_bus *bus = calloc(1, sizeof *bus);
	if (!bus)
		return NULL;
	hm_seg_header *h = base;
	bus->base = base;
	bus->size = size;
	bus->hdr = h;
	bus->dir = (hm_ring_desc *)(void *)((uint8_t *)base + h->dir_offset);
	bus->readonly = readonly;
	pthread_mutex_init(&bus->mu, NULL);
	bus->ctl_fd = -1;
	snprintf(bus->name, sizeof bus->name, "%s", name);
	memcpy(bus->app_name, app, HM_APP_NAME_SIZE);
	memcpy(bus->app_instance, instance, HM_APP_INSTANCE_SIZE);
	return bus;
}

static hermes_err attach(const char *name, const hermes_attach_opts *opts, hermes_bus **out)
{
	char path[80], app[HM_APP_NAME_SIZE], instance[HM_APP_INSTANCE_SIZE];
	hm_clear_detail();
	if (!out)
		return hm_fail(HERMES_EINVAL, "out is NULL");
	hermes_err err = attach_opts_check(opts);
	if (err)
		return err;
	bool readonly = opts && (opts->flags & HERMES_ATTACH_READONLY);
	if (!name)
		name = default_bus_name();
	if ((err = hm_segment_path(name, path, sizeof path)) != HERMES_OK)
		return err;
	if ((err = app_identity(opts, !readonly, app, instance)) != HERMES_OK)
		return err;
	int fd;
	if ((err = open_segment(name, path, readonly, &fd)) != HERMES_OK)
		return err;
	void *base = MAP_FAILED;
	size_t size = 0;
	if ((err = map_segment(fd, name, path, readonly, &base, &size)) != HERMES_OK ||
	    (err = check_header(base, size, path)) != HERMES_OK)
		goto fail;
	hermes_bus *bus = bus_new(base, size, name, readonly, app, instance);
	if (!bus) {
		err = hm_fail(HERMES_ENOMEM, "bus handle");
		goto fail;
	}
	close(fd);
	if (!readonly)
		connect_supervisor(bus);
	*out = bus;
	return HERMES_OK;
fail:
	if (base != MAP_FAILED)
		munmap(base, size);
	close(fd);
	return err;
}

hermes_err hermes_bus_attach(const char *name, hermes_bus **out)
{
	return attach(name, NULL, out);
}

hermes_err hermes_bus_attach_readonly(const char *name, hermes_bus **out)
{
	hermes_attach_opts o = HERMES_ATTACH_OPTS_INIT;
	o.flags = HERMES_ATTACH_READONLY;
	return attach(name, &o, out);
}

hermes_err hermes_bus_attach_opts(const char *name, const hermes_attach_opts *opts,
				  hermes_bus **out)
{
	return attach(name, opts, out);
}

const char *hermes_bus_app_name(const hermes_bus *bus)
{
	return bus ? bus->app_name : "";
}

const char *hermes_bus_app_instance(const hermes_bus *bus)
{
	return bus ? bus->app_instance : "";
}

void hermes_bus_detach(hermes_bus *bus)
{
	if (!bus)
		return;
	if (bus->ctl_fd >= 0)
		close(bus->ctl_fd);
	munmap(bus->base, bus->size);
	free(bus->held);
	pthread_mutex_destroy(&bus->mu);
	free(bus);
}

uint64_t hermes_bus_id(const hermes_bus *bus)
{
	return bus ? bus->hdr->bus_id : 0;
}

hermes_err hermes_bus_unlink(const char *name)
{
	char path[80];
	hermes_err err = hm_segment_path(name, path, sizeof path);
	if (err)
		return err;
	if (shm_unlink(path) != 0)
		return hm_fail_errno("shm_unlink", path);
	return HERMES_OK;
}

/* ---- ring directory -------------------------------------------------------- */

/* Is [off, off + len) a place a ring block may lie: after the directory,
 * page aligned (the layout's promise: the tail pair and every 128-byte block
 * inside the ring stay aligned), inside the mapping? Overflow-safe. */
static const char *block_extent_error(const hermes_bus *bus, uint64_t off, uint64_t len)
{
	if (off < first_block_offset())
		return "its block overlaps the segment header or directory";
	if (off % SEG_PAGE || len % SEG_PAGE)
		return "its block is not page aligned";
	if (len < sizeof(hm_ring_header))
		return "its block is too small for a ring header";
	if (off > bus->size || len > bus->size - off)
		return "its block lies outside the segment";
	return NULL;
}

hermes_err hm_bus_ring_entry(hermes_bus *bus, uint32_t index, hm_ring_entry *e)
{
	memset(e, 0, sizeof *e);
	if (index >= HM_MAX_RINGS)
		return hm_fail(HERMES_EINVAL, "ring index %u out of range", index);
	hm_ring_desc *d = &bus->dir[index];
	/* Acquire: pairs with the release store of READY (or DELETED), so the
	 * descriptor and the formatted ring block are visible. */
	e->state = hm_load_acquire_u32(&d->state);
	memcpy(e->name, d->name, sizeof e->name);
	e->name[sizeof e->name - 1] = '\0';
	for (char *c = e->name; *c; c++)
		if (*c < 0x21 || *c > 0x7e)
			*c = '?'; /* printable in logs and tables, whatever was written */
	if (e->state == HM_RING_FREE || e->state == HM_RING_CREATING)
		return HERMES_ENOENT;
	const char *why = NULL;
	if (e->state != HM_RING_READY && e->state != HM_RING_DELETED) {
		why = "its directory entry has an unknown state";
	} else {
		e->offset = rd_u64(&d->offset);
		e->block_size = rd_u64(&d->block_size);
		why = block_extent_error(bus, e->offset, e->block_size);
	}
	if (why) {
		e->corrupt = true;
		return hm_fail(HERMES_EBADSEGMENT, "bus '%s': ring %u ('%s') is corrupt: %s",
			       bus->name, index, e->name, why);
	}
	e->block = (uint8_t *)bus->base + e->offset;
	return HERMES_OK;
}

hermes_err hm_bus_ring_open_index(hermes_bus *bus, uint32_t index, bool deleted, hm_ring *ring)
{
	hm_ring_entry e;
	hermes_err err = hm_bus_ring_entry(bus, index, &e);
	if (err)
		return err;
	if (e.state != HM_RING_READY && !(deleted && e.state == HM_RING_DELETED))
		return HERMES_ENOENT;
	err = hm_ring_view(ring, e.block, (size_t)e.block_size);
	if (err) {
		char why[200];
		snprintf(why, sizeof why, "%s", hermes_last_error_detail());
		return hm_fail(HERMES_EBADSEGMENT, "bus '%s': ring %u ('%s') is corrupt: %s",
			       bus->name, index, e.name, why);
	}
	return HERMES_OK;
}

hermes_err hm_bus_ring_view(hermes_bus *bus, uint32_t index, hm_ring *ring)
{
	return hm_bus_ring_open_index(bus, index, false, ring);
}

hermes_err hm_bus_find_ring(hermes_bus *bus, const char *name, hm_ring *ring, uint32_t *index)
{
	for (uint32_t i = 0; i < HM_MAX_RINGS; i++) {
		hm_ring_desc *d = &bus->dir[i];
		if (hm_load_acquire_u32(&d->state) != HM_RING_READY)
			continue;
		if (!name || strncmp(d->name, name, HM_NAME_MAX) != 0)
			continue;
		hermes_err err = hm_bus_ring_view(bus, i, ring);
		if (err)
			return err;
		if (index)
			*index = i;
		return HERMES_OK;
	}
	return hm_fail(HERMES_ENOENT, "bus '%s' has no ring '%s' (hermes-ctl list shows the rings)",
		       bus->name, name ? name : "(null)");
}

void hm_bus_set_owner(hermes_bus *bus)
{
	bus->owner = true;
}

bool hm_ring_in_use(const hm_ring *r)
{
	for (unsigned i = 0; i < HM_MAX_PRODUCERS; i++)
		if (hm_load_acquire_u64(&r->prods[i].owner))
			return true;
	/* An orphaned durable subscriber is no process: it goes with the ring. */
	for (unsigned i = 0; i < HM_MAX_SUBSCRIBERS; i++) {
		uint64_t o = hm_load_acquire_u64(&r->subs[i].owner);
		if (o && o < HM_SUB_ORPHAN - 1)
			return true;
	}
	return false;
}

/* A deleted ring's block may be reused once nobody holds a slot in it (a
 * force-deleted ring's old handles could otherwise write into the new one). */
static bool block_reusable(hermes_bus *bus, uint32_t index, uint64_t need, hm_ring_entry *e)
{
	if (hm_bus_ring_entry(bus, index, e) != HERMES_OK || e->state != HM_RING_DELETED ||
	    e->block_size < need)
		return false; /* a corrupt entry is never reused: it stays quarantined */
	hm_ring r;
	if (hm_ring_view(&r, e->block, (size_t)e->block_size))
		return true; /* never formatted: nothing can be using it */
	return !hm_ring_in_use(&r);
}

/* Does [off, off + len) overlap the block of a ring in the directory? The
 * allocator's word is shared memory: a bad value must not hand out space
 * over a live ring. */
static bool overlaps_a_ring(hermes_bus *bus, uint64_t off, uint64_t len)
{
	for (uint32_t i = 0; i < HM_MAX_RINGS; i++) {
		hm_ring_entry e;
		if (hm_bus_ring_entry(bus, i, &e) != HERMES_OK)
			continue;
		if (off < e.offset + e.block_size && e.offset < off + len)
			return true;
	}
	hm_clear_detail();
	return false;
}

/* Take `need` bytes from the bump allocator, validating its word. */
static hermes_err alloc_take(hermes_bus *bus, uint64_t need, const char *ring, uint64_t *out)
{
	hm_seg_header *h = bus->hdr;
	uint64_t off = hm_load_relaxed_u64(&h->alloc_next);
	do {
		if (off < first_block_offset() || off % SEG_PAGE || off > bus->size)
			return hm_fail(HERMES_EBADSEGMENT,
				       "bus '%s': the segment's allocator is corrupt (next block at "
				       "%llu of %zu bytes); recreate the bus",
				       bus->name, (unsigned long long)off, bus->size);
		if (need > bus->size - off)
			return hm_fail(HERMES_ENOSPC,
				       "bus '%s' has %llu bytes free, ring '%s' needs %llu: create "
				       "the bus with a larger size",
				       bus->name, (unsigned long long)(bus->size - off), ring,
				       (unsigned long long)need);
		if (overlaps_a_ring(bus, off, need))
			return hm_fail(HERMES_EBADSEGMENT,
				       "bus '%s': the segment's allocator points into an existing "
				       "ring (next block at %llu); recreate the bus",
				       bus->name, (unsigned long long)off);
		/* Relaxed: the block is published by the READY store. */
	} while (!atomic_compare_exchange_weak_explicit(&h->alloc_next, &off, off + need,
							memory_order_relaxed, memory_order_relaxed));
	*out = off;
	return HERMES_OK;
}

hermes_err hm_bus_create_ring_local(hermes_bus *bus, const hermes_ring_config *cfg)
{
	hermes_err err = hm_ring_check_config(cfg);
	if (err)
		return err;
	hm_ring existing;
	err = hm_bus_find_ring(bus, cfg->name, &existing, NULL);
	if (err == HERMES_OK)
		return hm_fail(HERMES_EEXIST, "bus '%s' already has a ring '%s'", bus->name,
			       cfg->name);
	if (err == HERMES_EBADSEGMENT)
		return err; /* the name belongs to a quarantined ring */
	hm_clear_detail();
	uint64_t need = hm_segment_page_up(hm_ring_block_size(cfg->capacity, hm_ring_slots(cfg)));
	hm_seg_header *h = bus->hdr;
	hm_ring_desc *d = NULL;
	uint64_t off = 0;
	uint32_t prev_state_on_failure = HM_RING_FREE;
	/* First a deleted ring's block that is big enough and unused, then a
	 * free descriptor with fresh space from the bump allocator. */
	for (unsigned i = 0; i < HM_MAX_RINGS && !d; i++) {
		uint32_t expected = HM_RING_DELETED;
		hm_ring_entry e;
		if (block_reusable(bus, i, need, &e) &&
		    hm_cas_acq_rel_u32(&bus->dir[i].state, &expected, HM_RING_CREATING)) {
			d = &bus->dir[i];
			off = e.offset;
			need = e.block_size;
			prev_state_on_failure = HM_RING_DELETED;
		}
	}
	for (unsigned i = 0; i < HM_MAX_RINGS && !d; i++) {
		uint32_t expected = HM_RING_FREE;
		/* acq_rel: we own the descriptor from here; nobody reads it
		 * until it turns READY. */
		if (hm_cas_acq_rel_u32(&bus->dir[i].state, &expected, HM_RING_CREATING)) {
			d = &bus->dir[i];
			err = alloc_take(bus, need, cfg->name, &off);
			if (err) {
				hm_store_release_u32(&d->state, HM_RING_FREE);
				return err;
			}
		}
	}
	if (!d)
		return hm_fail(HERMES_ENOSPC, "bus '%s' already has %u rings", bus->name, HM_MAX_RINGS);
	err = hm_ring_format((uint8_t *)bus->base + off, (size_t)need, cfg);
	if (err) {
		hm_store_release_u32(&d->state, prev_state_on_failure);
		return err;
	}
	d->offset = off;
	d->block_size = need;
	memset(d->name, 0, sizeof d->name);
	snprintf(d->name, sizeof d->name, "%s", cfg->name);
	/* Release: pairs with the acquire in hm_bus_ring_view; the formatted
	 * ring block and the descriptor fields become visible together. */
	hm_store_release_u32(&d->state, HM_RING_READY);
	/* Release: a reader that sees the new generation (acquire) sees the
	 * directory change that caused it. */
	atomic_fetch_add_explicit(&h->dir_generation, 1, memory_order_release);
	return HERMES_OK;
}

hermes_err hm_bus_delete_ring_local(hermes_bus *bus, const char *name, bool force)
{
	hm_ring r;
	uint32_t index;
	hermes_err err = hm_bus_find_ring(bus, name, &r, &index);
	if (err)
		return err;
	if (!force && hm_ring_in_use(&r))
		return hm_fail(HERMES_EBUSY,
			       "ring '%s' has publishers or subscribers; close them first or delete "
			       "with force",
			       name);
	/* Release: handles still open see `deleted` in their slow paths and
	 * stop with HERMES_ECLOSED. */
	hm_store_release_u32(&r.hdr->deleted, 1);
	hm_store_release_u32(&bus->dir[index].state, HM_RING_DELETED);
	/* Release: as in hm_bus_create_ring_local. */
	atomic_fetch_add_explicit(&bus->hdr->dir_generation, 1, memory_order_release);
	/* Wake sleepers, subscribers and producers, so they notice. */
	hm_ring_wake_all(&r);
	return HERMES_OK;
}

/* Send a ring request to the supervisor, reconnecting once if the
 * connection broke (hermesd restarted). */
static hermes_err supervisor_call(hermes_bus *bus, hm_ctl_req *req, hm_ctl_resp *resp)
{
	hermes_err err = HERMES_ENOSUPERVISOR;
	pthread_mutex_lock(&bus->mu);
	for (int attempt = 0; attempt < 2; attempt++) {
		if (bus->ctl_fd < 0 || attempt > 0)
			connect_supervisor(bus);
		err = hm_ctl_call(bus->ctl_fd, req, resp, CTL_RING_MS);
		if (err != HERMES_ENOSUPERVISOR)
			break;
	}
	pthread_mutex_unlock(&bus->mu);
	if (err == HERMES_ENOSUPERVISOR)
		return hm_fail(HERMES_ENOSUPERVISOR,
			       "no hermesd answers for bus '%s'%s%s: start it (hermesd --bus %s)",
			       bus->name, bus->hdr->control_path[0] ? " at " : "",
			       bus->hdr->control_path, bus->name);
	if (err)
		return hm_fail(err, "hermesd for bus '%s' did not answer in time", bus->name);
	if (resp->err)
		return hm_fail((hermes_err)resp->err, "%s", resp->detail);
	return HERMES_OK;
}

hermes_err hermes_ring_create(hermes_bus *bus, const hermes_ring_config *cfg)
{
	hm_clear_detail();
	if (!bus)
		return hm_fail(HERMES_EINVAL, "bus is NULL");
	if (bus->readonly)
		return hm_fail(HERMES_EPERM, "bus '%s' is attached read-only", bus->name);
	hermes_err err = hm_ring_check_config(cfg);
	if (err)
		return err;
	if (bus->owner)
		return hm_bus_create_ring_local(bus, cfg);
	hm_ctl_req req = {.magic = HM_CTL_MAGIC,
			  .op = HM_CTL_CREATE,
			  .policy = (uint32_t)cfg->policy,
			  .capacity = cfg->capacity,
			  .max_msg = cfg->max_msg,
			  .slots = cfg->slots};
	snprintf(req.name, sizeof req.name, "%s", cfg->name);
	hm_ctl_resp resp;
	return supervisor_call(bus, &req, &resp);
}

hermes_err hermes_ring_delete(hermes_bus *bus, const char *name, int force)
{
	hm_clear_detail();
	if (!bus || !name)
		return hm_fail(HERMES_EINVAL, "bus or name is NULL");
	if (bus->readonly)
		return hm_fail(HERMES_EPERM, "bus '%s' is attached read-only", bus->name);
	if (bus->owner)
		return hm_bus_delete_ring_local(bus, name, force != 0);
	hm_ctl_req req = {.magic = HM_CTL_MAGIC, .op = HM_CTL_DELETE, .flags = force ? HM_CTL_FORCE : 0};
	snprintf(req.name, sizeof req.name, "%s", name);
	hm_ctl_resp resp;
	return supervisor_call(bus, &req, &resp);
}

/* ---- publishers and subscribers -------------------------------------------- */

/* What opening a publisher and a subscriber share: checks, the ring, the
 * handle's memory and a slot. `sub` says which kind. */
/* Opening a publisher or subscriber needs a bus attached read-write. */
static hermes_err check_writable(const hermes_bus *bus, const void *out)
{
	if (!bus || !out)
		return hm_fail(HERMES_EINVAL, "bus or out is NULL");
	if (bus->readonly)
		return hm_fail(HERMES_EPERM, "bus '%s' is attached read-only", bus->name);
	return HERMES_OK;
}

/* A handle being opened: its memory (h), its ring and the slot it took. */
typedef struct opening {
	void *h;
	hm_ring r;
	uint32_t index; /* the ring's directory entry */
	int slot;
} opening;

static hermes_err open_handle(hermes_bus *bus, const char *ring, bool sub, size_t size,
			      const void *out, opening *o)
{
	hm_clear_detail();
	hermes_err err = check_writable(bus, out);
	if (err || (err = hm_bus_find_ring(bus, ring, &o->r, &o->index)) != HERMES_OK)
		return err;
	o->h = malloc(size);
	if (!o->h)
		return hm_fail(HERMES_ENOMEM, "%s handle", sub ? "subscriber" : "publisher");
	uint64_t pid = (uint64_t)getpid(), start = hm_proc_start_time(0);
	o->slot = sub ? hm_ring_take_sub_slot(&o->r, pid, start)
		      : hm_ring_take_prod_slot(&o->r, pid, start);
	if (o->slot < 0) {
		free(o->h);
		return hm_fail(HERMES_ETOOMANY, "ring '%s' has all %u %s slots in use", ring,
			       sub ? HM_MAX_SUBSCRIBERS : HM_MAX_PRODUCERS,
			       sub ? "subscriber" : "producer");
	}
	return HERMES_OK;
}

hermes_err hermes_pub_open(hermes_bus *bus, const char *ring, hermes_pub **out)
{
	opening o;
	hermes_err err = open_handle(bus, ring, false, sizeof(hermes_pub), out, &o);
	if (err)
		return err;
	hermes_pub *p = o.h;
	hm_pub_init(p, &o.r, o.slot);
	p->bus = bus;
	/* Registered once the handle is set up: a slot with an owner looks
	 * open to everyone else. */
	hold_slot(bus, &o.r, o.index, (uint32_t)o.slot, false);
	*out = p;
	return HERMES_OK;
}

void hermes_pub_close(hermes_pub *pub)
{
	if (!pub)
		return;
	drop_slot(pub->bus, pub->ring.hdr, pub->slot_index, false);
	hm_pub_fini(pub);
	free(pub);
}

hermes_err hermes_sub_open(hermes_bus *bus, const char *ring, hermes_start start, uint64_t seq,
			   hermes_sub **out)
{
	if (start != HERMES_START_LATEST && start != HERMES_START_EARLIEST &&
	    start != HERMES_START_SEQ)
		return hm_fail(HERMES_EINVAL, "start must be latest, earliest or a sequence");
	opening o;
	hermes_err err = open_handle(bus, ring, true, sizeof(hermes_sub), out, &o);
	if (err)
		return err;
	hermes_sub *s = o.h;
	err = hm_sub_init(s, &o.r, o.slot, start, seq);
	if (err) {
		hm_sub_fini(s);
		free(s);
		return err;
	}
	s->bus = bus;
	hold_slot(bus, &o.r, o.index, (uint32_t)o.slot, true);
	*out = s;
	return HERMES_OK;
}

void hermes_sub_close(hermes_sub *sub)
{
	if (!sub)
		return;
	drop_slot(sub->bus, sub->ring.hdr, sub->slot_index, true);
	/* Relaxed: our own slot's key, which only we wrote. */
	if (hm_load_relaxed_u64(&sub->slot->durable))
		hm_ring_orphan_subscriber(&sub->ring, sub->slot_index); /* include/hermes/durable.h */
	else
		hm_sub_fini(sub);
	free(sub);
}

/* ---- durable subscribers (include/hermes/durable.h) ------------------------- */

/* The key of a durable name (FNV-1a 64; never 0, which means "not
 * durable"), or 0 for a name that is not 1..31 of [A-Za-z0-9._:-]. */
static uint64_t durable_key(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n >= sizeof(((hm_sub_slot *)0)->durable_name))
		return 0;
	uint64_t h = FNV1A_OFFSET;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '.' || ch == '_' || ch == ':' || ch == '-'))
			return 0;
		h = (h ^ (uint8_t)ch) * FNV1A_PRIME;
	}
	return h ? h : 1;
}

/* The slot holding durable `key` (orphaned or not), or -1. */
static int durable_slot(const hm_ring *r, uint64_t key, uint64_t *owner)
{
	for (uint32_t i = 0; i < HM_MAX_SUBSCRIBERS; i++) {
		/* Acquire: pairs with the release of the key (after the name). */
		if (hm_load_acquire_u64(&r->subs[i].durable) != key)
			continue;
		*owner = hm_load_acquire_u64(&r->subs[i].owner);
		if (*owner)
			return (int)i;
	}
	return -1;
}

hermes_err hermes_sub_open_durable(hermes_bus *bus, const char *ring, const char *name,
				   hermes_start start, uint64_t seq, hermes_sub **out, int *adopted)
{
	hm_clear_detail();
	uint64_t key = durable_key(name);
	if (!key)
		return hm_fail(HERMES_EINVAL, "durable subscriber name: 1..31 of [A-Za-z0-9._:-]");
	hm_ring r;
	uint32_t index;
	hermes_err err = check_writable(bus, out);
	if (err || (err = hm_bus_find_ring(bus, ring, &r, &index)) != HERMES_OK)
		return err;
	uint64_t owner;
	int slot = durable_slot(&r, key, &owner);
	if (slot >= 0 && owner < HM_SUB_ORPHAN - 1)
		return hm_fail(HERMES_EBUSY, "durable subscriber '%s' of ring '%s' is open in pid %llu",
			       name, ring, (unsigned long long)owner);
	slot = hm_ring_adopt_sub_slot(&r, key, (uint64_t)getpid(), hm_proc_start_time(0));
	if (slot >= 0) {
		hermes_sub *s = malloc(sizeof *s);
		if (!s) {
			hm_ring_orphan_subscriber(&r, (uint32_t)slot); /* give it back */
			return hm_fail(HERMES_ENOMEM, "subscriber handle");
		}
		hm_sub_adopt(s, &r, slot);
		s->bus = bus;
		hold_slot(bus, &r, index, (uint32_t)slot, true);
		if (adopted)
			*adopted = 1;
		*out = s;
		return HERMES_OK;
	}
	err = hermes_sub_open(bus, ring, start, seq, out);
	if (err)
		return err;
	hm_sub_slot *sl = (*out)->slot;
	memset(sl->durable_name, 0, sizeof sl->durable_name);
	memcpy(sl->durable_name, name, strlen(name));
	/* Release: the name before the key (readers acquire the key). From
	 * here on hermesd orphans the slot instead of freeing it. */
	hm_store_release_u64(&sl->durable, key);
	if (adopted)
		*adopted = 0;
	return HERMES_OK;
}

hermes_err hermes_sub_drop_durable(hermes_bus *bus, const char *ring, const char *name)
{
	hm_clear_detail();
	uint64_t key = durable_key(name);
	if (!key)
		return hm_fail(HERMES_EINVAL, "durable subscriber name: 1..31 of [A-Za-z0-9._:-]");
	if (!bus)
		return hm_fail(HERMES_EINVAL, "bus is NULL");
	if (bus->readonly)
		return hm_fail(HERMES_EPERM, "bus '%s' is attached read-only", bus->name);
	hm_ring r;
	hermes_err err = hm_bus_find_ring(bus, ring, &r, NULL);
	if (err)
		return err;
	uint64_t owner;
	int slot = durable_slot(&r, key, &owner);
	if (slot < 0)
		return hm_fail(HERMES_ENOENT, "ring '%s' has no durable subscriber '%s'", ring, name);
	if (owner != HM_SUB_ORPHAN || !hm_ring_drop_durable(&r, (uint32_t)slot))
		return hm_fail(HERMES_EBUSY,
			       "durable subscriber '%s' of ring '%s' is open in pid %llu: stop it first",
			       name, ring, (unsigned long long)owner);
	return HERMES_OK;
}
