/* Lock-free snapshots of the bridge and uplink counters files (see
 * ctl_gw_snap.h). The layouts and the readers' protocols are the writers'
 * own headers; this file follows them:
 *
 *   bridge (tcp-bridge/bridge/stats_layout.h): `magic` loaded with acquire; then every
 *   header field is complete; counters are single-writer relaxed stores,
 *   loaded relaxed; stale when the recorded pid is gone.
 *
 *   uplink (nats-uplink/state_layout.h): `magic` acquire; pid and
 *   start time say whether it runs; per ring, `configured` acquire before
 *   the configuration fields; the two text fields under the `text_seq`
 *   seqlock.
 *
 * A restarted bridge truncates its file to zero and sizes it again; a page
 * of our mapping that the truncation removed raises SIGBUS when touched.
 * The copies therefore run under a guard that turns SIGBUS into "not ready
 * yet" instead of killing hermes-ctl (a long-running `metrics --serve`
 * included). */
#include "tools/ctl_fmt.h"
#include "tools/ctl_gw_snap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/atomics.h"
#include "core/error_detail.h"
#include "core/proc.h"
#include "tcp-bridge/bridge/stats_layout.h"
#include "nats-uplink/state_layout.h"

static_assert(CTL_GW_MAX_LINKS == HM_BRIDGE_STATS_LINKS, "one ctl_bridge_link per file entry");
static_assert(CTL_GW_MAX_UPLINK_RINGS == HM_NATS_STATE_MAX_RINGS, "one ctl_uplink_ring per block");
static_assert(sizeof(((ctl_bridge_link *)0)->name) == sizeof(((hm_bridge_link_stats *)0)->name),
	      "link name size");
static_assert(sizeof(((ctl_bridge_link *)0)->peer) == sizeof(((hm_bridge_link_stats *)0)->peer),
	      "link peer size");
static_assert(sizeof(((ctl_uplink_ring *)0)->name) == sizeof(((hm_nats_ring_state *)0)->name),
	      "uplink ring name size");
static_assert(sizeof(((ctl_uplink *)0)->url) == sizeof(((hm_nats_state_header *)0)->url), "url size");
static_assert(sizeof(((ctl_uplink *)0)->last_error) == sizeof(((hm_nats_state_header *)0)->last_error),
	      "last_error size");

#define LD(x) hm_load_relaxed_u64(&(x))
/* Seqlock reads of the uplink's text before it is shown as inconsistent. */
#define TEXT_READ_TRIES 100

/* Copy a fixed-size text field that another process wrote, always ending
 * it with a NUL (the writer's may be cut). */
static void text_copy(char *dst, const char *src, size_t len)
{
	memcpy(dst, src, len);
	dst[len - 1] = '\0';
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the SIGBUS guard ---------------------------------------------------- */

static sigjmp_buf guard_jmp;
static volatile sig_atomic_t guard_armed;

static void on_sigbus(int sig)
{
	if (guard_armed) {
		guard_armed = 0;
		siglongjmp(guard_jmp, 1);
	}
	/* Not ours: die of it as we would have without the handler. */
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Run copy(arg) with SIGBUS caught; false when it was interrupted. copy
 * keeps all its state in *arg (memory), never in locals that a longjmp
 * would leave undefined. Single-threaded, like hermes-ctl. */
static bool guarded(void (*copy)(void *), void *arg)
{
	struct sigaction sa = {.sa_handler = on_sigbus}, old;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old);
	volatile bool ok = false; /* volatile: read after a siglongjmp */
	if (sigsetjmp(guard_jmp, 1) == 0) {
		guard_armed = 1;
		copy(arg);
		guard_armed = 0;
		ok = true;
	}
	sigaction(SIGBUS, &old, NULL);
	return ok;
}

/* Map a regular file read-only, at least `need` bytes of it, into *out.
 * HERMES_OK; else *out is NULL and HERMES_ENOENT (not there),
 * HERMES_ENOTREADY (shorter than need: its writer is making it) or another
 * code, with the detail "cannot read: REASON". */
static hermes_err map_file(const char *path, size_t need, const void **out)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return hm_fail(hm_errno_to_err(errno), "cannot read: %s", strerror(errno));
	struct stat st;
	const void *p = MAP_FAILED;
	int e = 0;
	if (fstat(fd, &st) != 0)
		e = errno;
	else if (!S_ISREG(st.st_mode))
		e = EINVAL;
	else if ((uint64_t)st.st_size < need)
		e = ENODATA;
	else if ((p = mmap(NULL, need, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED)
		e = errno;
	close(fd);
	if (e)
		return hm_fail(e == ENODATA ? HERMES_ENOTREADY : hm_errno_to_err(e), "cannot read: %s",
			       strerror(e));
	*out = p;
	return HERMES_OK;
}

/* ---- bridges ---------------------------------------------------------------- */

typedef struct bridge_copy {
	const hm_bridge_stats *s;
	const char *bus;
	ctl_bridge *b;
	char *why;
	size_t whylen;
	bool ok;
} bridge_copy;

/* Is the header one this hermes-ctl reads, of this bus? Else says why in
 * a->why. */
static bool bridge_header_ok(bridge_copy *a)
{
	const hm_bridge_stats *s = a->s;
	/* Acquire pairs with the release store of the magic that the bridge
	 * makes after filling in the header (tcp-bridge/bridge/loop.c): seeing the
	 * magic, we see the version, pid, listen address and link names. */
	uint64_t magic = hm_load_acquire_u64(&s->h.magic);
	if (magic == 0) {
		snprintf(a->why, a->whylen, "not ready yet (the bridge is starting)");
		return false;
	}
	if (magic != HM_BRIDGE_STATS_MAGIC) {
		snprintf(a->why, a->whylen, "incompatible: not a hermes-bridge counters file");
		return false;
	}
	if (s->h.version != HM_BRIDGE_STATS_VERSION || s->h.counters_offset != offsetof(hm_bridge_stats, c) ||
	    s->h.links_offset != offsetof(hm_bridge_stats, links) ||
	    s->h.link_size != sizeof(hm_bridge_link_stats) || s->h.max_links != HM_BRIDGE_STATS_LINKS) {
		snprintf(a->why, a->whylen,
			 "incompatible: written by another hermes-bridge version (layout %u, this "
			 "hermes-ctl reads %u)",
			 s->h.version, HM_BRIDGE_STATS_VERSION);
		return false;
	}
	char bus[sizeof s->h.bus];
	text_copy(bus, s->h.bus, sizeof bus);
	if (strcmp(bus, a->bus)) {
		snprintf(a->why, a->whylen, "belongs to bus '%.64s'", bus);
		return false;
	}
	return true;
}

static void copy_counters(ctl_bridge_counters *o, const hm_bridge_counters *c)
{
	o->connections_accepted = LD(c->connections_accepted);
	o->connections_open = LD(c->connections_open);
	o->connections_refused = LD(c->connections_refused);
	o->handshakes_ok = LD(c->handshakes_ok);
	o->auth_failures = LD(c->auth_failures);
	o->handshake_timeouts = LD(c->handshake_timeouts);
	o->protocol_errors = LD(c->protocol_errors);
	o->errors_sent = LD(c->errors_sent);
	o->frames_in = LD(c->frames_in);
	o->bytes_in = LD(c->bytes_in);
	o->frames_out = LD(c->frames_out);
	o->bytes_out = LD(c->bytes_out);
	o->publishes = LD(c->publishes);
	o->publish_errors = LD(c->publish_errors);
	o->acks = LD(c->acks);
	o->delivers = LD(c->delivers);
	o->drops = LD(c->drops);
	o->loss_notices = LD(c->loss_notices);
	o->slow_disconnects = LD(c->slow_disconnects);
	o->ring_losses = LD(c->ring_losses);
	o->subscriptions = LD(c->subscriptions);
	o->channels = LD(c->channels);
	o->publish_stalls = LD(c->publish_stalls);
	o->publish_timeouts = LD(c->publish_timeouts);
}

static void copy_links(ctl_bridge *b, const hm_bridge_stats *s)
{
	b->nlinks = s->h.nlinks < HM_BRIDGE_STATS_LINKS ? s->h.nlinks : HM_BRIDGE_STATS_LINKS;
	for (unsigned i = 0; i < b->nlinks; i++) {
		const hm_bridge_link_stats *l = &s->links[i];
		ctl_bridge_link *k = &b->links[i];
		text_copy(k->name, l->name, sizeof k->name);
		text_copy(k->peer, l->peer, sizeof k->peer);
		k->state = LD(l->state);
		k->connects = LD(l->connects);
		k->disconnects = LD(l->disconnects);
		k->exported = LD(l->exported);
		k->imported = LD(l->imported);
		k->export_lag = LD(l->export_lag);
		k->duplicates = LD(l->duplicates);
		k->losses = LD(l->losses);
		k->last_error = LD(l->last_error);
	}
}

static void copy_bridge(void *arg)
{
	bridge_copy *a = arg;
	const hm_bridge_stats *s = a->s;
	ctl_bridge *b = a->b;
	if (!bridge_header_ok(a))
		return;
	b->pid = s->h.pid <= INT_MAX ? (pid_t)s->h.pid : 0;
	b->start_ns = s->h.start_realtime_ns;
	b->bus_id = s->h.bus_id;
	b->port = s->h.listen_port;
	text_copy(b->listen, s->h.listen, sizeof b->listen);
	text_copy(b->name, s->h.name, sizeof b->name);
	copy_counters(&b->c, &s->c);
	copy_links(b, s);
	a->ok = true;
}

/* Is `name` hermes-bridge.<bus>.<port>? */
static bool bridge_file_name(const char *name, const char *bus, unsigned *port)
{
	static const char prefix[] = "hermes-bridge.";
	size_t pl = sizeof prefix - 1, bl = strlen(bus);
	if (strncmp(name, prefix, pl) || strncmp(name + pl, bus, bl) || name[pl + bl] != '.')
		return false;
	/* The port ends the name: a bus "a" must not claim the files of bus
	 * "a.b" (hermes-bridge.a.b.7400), whose rest is not all digits. */
	const char *p = name + pl + bl + 1;
	size_t n = strspn(p, "0123456789");
	if (n == 0 || n > 5 || p[n] != '\0')
		return false;
	unsigned long v = strtoul(p, NULL, 10);
	if (v > 65535)
		return false;
	*port = (unsigned)v;
	return true;
}

static int by_port(const void *a, const void *b)
{
	const ctl_bridge *x = a, *y = b;
	return (x->port > y->port) - (x->port < y->port);
}

hermes_err ctl_bridges_read(const char *dir, const char *bus, ctl_bridges *out)
{
	memset(out, 0, sizeof *out);
	snprintf(out->dir, sizeof out->dir, "%s", dir);
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? HERMES_OK : hm_fail_errno("cannot read", dir);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		unsigned port;
		if (!bridge_file_name(e->d_name, bus, &port))
			continue;
		if (out->n == CTL_GW_MAX_BRIDGES)
			break;
		ctl_bridge *b = &out->v[out->n];
		memset(b, 0, sizeof *b);
		snprintf(b->path, sizeof b->path, "%s/%s", dir, e->d_name);
		char why[160] = "";
		const void *m;
		hermes_err err = map_file(b->path, sizeof(hm_bridge_stats), &m);
		const hm_bridge_stats *s = m;
		if (err == HERMES_ENOENT)
			continue; /* removed by its bridge meanwhile */
		if (err == HERMES_ENOTREADY)
			snprintf(why, sizeof why, "not ready yet (the bridge is starting)");
		else if (err)
			snprintf(why, sizeof why, "%s", hermes_last_error_detail());
		else {
			bridge_copy a = {.s = s, .bus = bus, .b = b, .why = why, .whylen = sizeof why};
			if (!guarded(copy_bridge, &a))
				snprintf(why, sizeof why, "not ready yet (the bridge is restarting)");
			munmap((void *)s, sizeof *s);
			if (a.ok) {
				b->port = b->port ? b->port : port;
				b->alive = b->pid > 0 && hm_proc_alive(b->pid, 0);
				out->n++;
				continue;
			}
		}
		if (!strncmp(why, "belongs to bus", 14) || out->nskipped == CTL_GW_MAX_BRIDGES)
			continue; /* a name that only looks like ours, or too many to list */
		ctl_gw_skip *k = &out->skipped[out->nskipped++];
		memcpy(k->path, b->path, sizeof k->path); /* same size, both NUL-terminated */
		snprintf(k->why, sizeof k->why, "%s", why);
	}
	closedir(d);
	qsort(out->v, out->n, sizeof out->v[0], by_port);
	return HERMES_OK;
}

const char *ctl_link_state_name(uint64_t s)
{
	static const char *const n[] = {
		[HM_LINK_DOWN] = "down", [HM_LINK_CONNECTING] = "connecting", [HM_LINK_UP] = "up"};
	return FMT_NAME_OF(s, n);
}

/* ---- uplink ----------------------------------------------------------------- */

typedef struct uplink_copy {
	const hm_nats_state_header *h;
	ctl_uplink *u;
} uplink_copy;

static const hm_nats_ring_state *ring_block(const hm_nats_state_header *h, unsigned i)
{
	return (const hm_nats_ring_state *)((const char *)h + sizeof(hm_nats_state_header) +
				       (size_t)i * sizeof(hm_nats_ring_state));
}

static void copy_uplink_text(const hm_nats_state_header *h, ctl_uplink *u)
{
	u->text_consistent = false;
	for (int tries = 0; tries < TEXT_READ_TRIES && !u->text_consistent; tries++) {
		/* Seqlock read. The acquire load pairs with the writer's release
		 * store that makes the count even again after the text, so
		 * when we see an even count we see the text of that write at
		 * least. The acquire fence keeps our copies ahead of the
		 * re-check: if the count is unchanged afterwards, no write
		 * overlapped the copies. An odd count forever means a writer
		 * died mid-write: we keep the last copy and say so. */
		uint64_t s1 = hm_load_acquire_u64(&h->text_seq);
		memcpy(u->url, h->url, sizeof u->url);
		memcpy(u->last_error, h->last_error, sizeof u->last_error);
		hm_fence_acquire();
		u->text_consistent = !(s1 & 1) && hm_load_relaxed_u64(&h->text_seq) == s1;
	}
	u->url[sizeof u->url - 1] = '\0';
	u->last_error[sizeof u->last_error - 1] = '\0';
}

static void copy_uplink_ring(const hm_nats_ring_state *r, ctl_uplink_ring *o)
{
	text_copy(o->name, r->name, sizeof o->name);
	text_copy(o->subject, r->subject, sizeof o->subject);
	text_copy(o->stream, r->stream, sizeof o->stream);
	o->dir = r->dir;
	o->mode = r->mode;
	o->policy = r->policy;
	o->max_pending = r->max_pending;
	o->out.state = LD(r->out.state);
	o->out.msgs = LD(r->out.msgs);
	o->out.bytes = LD(r->out.bytes);
	o->out.batches = LD(r->out.batches);
	o->out.dropped = LD(r->out.dropped);
	o->out.dropped_bytes = LD(r->out.dropped_bytes);
	o->out.blocked_events = LD(r->out.blocked_events);
	o->out.blocked_ns = LD(r->out.blocked_ns);
	o->out.skipped_inbound = LD(r->out.skipped_inbound);
	o->out.ring_lost = LD(r->out.ring_lost);
	o->out.errors = LD(r->out.errors);
	o->out.retries = LD(r->out.retries);
	o->out.duplicates = LD(r->out.duplicates);
	o->out.pending_bytes = LD(r->out.pending_bytes);
	o->out.pending_max = LD(r->out.pending_max);
	o->out.next_seq = LD(r->out.next_seq);
	o->in.state = LD(r->in.state);
	o->in.msgs = LD(r->in.msgs);
	o->in.bytes = LD(r->in.bytes);
	o->in.batches = LD(r->in.batches);
	o->in.own_skipped = LD(r->in.own_skipped);
	o->in.dup_skipped = LD(r->in.dup_skipped);
	o->in.lost = LD(r->in.lost);
	o->in.gap_events = LD(r->in.gap_events);
	o->in.client_dropped = LD(r->in.client_dropped);
	o->in.too_big = LD(r->in.too_big);
	o->in.ring_full_events = LD(r->in.ring_full_events);
	o->in.errors = LD(r->in.errors);
	o->in.consumer_resets = LD(r->in.consumer_resets);
	o->in.resolved = LD(r->in.resolved);
	o->in.pending_bytes = LD(r->in.pending_bytes);
	o->in.applied = LD(r->inp.applied);
}

static void copy_uplink(void *arg)
{
	uplink_copy *a = arg;
	const hm_nats_state_header *h = a->h;
	ctl_uplink *u = a->u;
	/* Acquire pairs with the uplink's release store of the magic after it
	 * filled in (or reset) every other header field. */
	uint64_t magic = hm_load_acquire_u64(&h->magic);
	if (magic == 0) {
		u->file = CTL_UPLINK_NOT_READY;
		snprintf(u->why, sizeof u->why, "not initialised yet");
		return;
	}
	if (magic != HM_NATS_STATE_MAGIC) {
		u->file = CTL_UPLINK_UNREADABLE;
		snprintf(u->why, sizeof u->why, "not a hermes-nats state file");
		return;
	}
	if (h->version != HM_NATS_STATE_VERSION || h->header_size != sizeof(hm_nats_state_header) ||
	    h->ring_size != sizeof(hm_nats_ring_state) || h->max_rings != HM_NATS_STATE_MAX_RINGS) {
		u->file = CTL_UPLINK_UNREADABLE;
		snprintf(u->why, sizeof u->why,
			 "written by another hermes-nats version (layout %u, this hermes-ctl reads %u)",
			 h->version, HM_NATS_STATE_VERSION);
		return;
	}
	text_copy(u->bus, h->bus, sizeof u->bus);
	u->bus_id = h->bus_id;
	uint64_t pid = LD(h->pid);
	u->pid = pid <= INT_MAX ? (pid_t)pid : 0;
	u->alive = u->pid > 0 && hm_proc_alive(u->pid, LD(h->start_time));
	uint64_t hb = LD(h->heartbeat_ns), now = realtime_ns();
	u->heartbeat_age_ns = hb == 0 ? UINT64_MAX : now > hb ? now - hb : 0;
	u->up = u->alive && u->heartbeat_age_ns < CTL_UPLINK_STALE_NS;
	u->started_ns = LD(h->started_ns);
	u->runs = LD(h->runs);
	/* The prefix is written before the pid at each start, both relaxed; a
	 * reader racing a start may see it cut or mixed, never out of bounds. */
	text_copy(u->prefix, h->prefix, sizeof u->prefix);
	u->conn_state = LD(h->conn_state);
	u->connects = LD(h->connects);
	u->disconnects = LD(h->disconnects);
	u->reconnects = LD(h->reconnects);
	u->errors = LD(h->errors);
	u->changed_ns = LD(h->changed_ns);
	copy_uplink_text(h, u);
	for (unsigned i = 0; i < HM_NATS_STATE_MAX_RINGS; i++) {
		const hm_nats_ring_state *r = ring_block(h, i);
		/* Acquire pairs with the release store of `configured` that
		 * follows the ring's configuration fields (hm_nats_state_ring_claim). */
		if (hm_load_acquire_u32(&r->configured) != 1)
			continue;
		copy_uplink_ring(r, &u->rings[u->nrings++]);
	}
	u->file = CTL_UPLINK_OK;
}

void ctl_uplink_read(const char *dir, const char *bus, ctl_uplink *u)
{
	memset(u, 0, sizeof *u);
	u->heartbeat_age_ns = UINT64_MAX;
	snprintf(u->path, sizeof u->path, "%s/hermes-nats.%s", dir, bus);
	const void *m;
	hermes_err err = map_file(u->path, HM_NATS_STATE_SIZE, &m);
	const hm_nats_state_header *h = m;
	if (err) {
		if (err == HERMES_ENOENT) {
			u->file = CTL_UPLINK_ABSENT;
		} else if (err == HERMES_ENOTREADY) {
			u->file = CTL_UPLINK_NOT_READY;
			snprintf(u->why, sizeof u->why, "not initialised yet");
		} else {
			u->file = CTL_UPLINK_UNREADABLE;
			snprintf(u->why, sizeof u->why, "%s", hermes_last_error_detail());
		}
		return;
	}
	uplink_copy a = {.h = h, .u = u};
	if (!guarded(copy_uplink, &a)) {
		u->nrings = 0;
		u->file = CTL_UPLINK_NOT_READY;
		snprintf(u->why, sizeof u->why, "the file shrank while being read");
	}
	munmap((void *)h, HM_NATS_STATE_SIZE);
}

const char *ctl_uplink_process_state(const ctl_uplink *u)
{
	if (u->up)
		return "running";
	if (u->alive)
		return "stalled";
	if (u->pid == 0)
		return "starting";
	return u->conn_state == HM_NATS_CONN_STOPPED ? "stopped" : "gone";
}

const char *ctl_uplink_conn_name(uint64_t s)
{
	static const char *const n[] = {"starting", "connected", "reconnecting", "closed", "stopped"};
	return FMT_NAME_OF(s, n);
}

const char *ctl_uplink_worker_name(uint64_t s)
{
	static const char *const n[] = {"off",	   "wait-ring", "wait-nats", "running",
					"blocked", "dropping",	"ring-full"};
	return FMT_NAME_OF(s, n);
}

const char *ctl_uplink_dir_name(uint32_t d)
{
	static const char *const n[] = {[HM_NATS_DIR_OUT] = "out", [HM_NATS_DIR_IN] = "in", [HM_NATS_DIR_BOTH] = "both"};
	return FMT_NAME_OF(d, n);
}

const char *ctl_uplink_mode_name(uint32_t m)
{
	static const char *const n[] = {[HM_NATS_MODE_CORE] = "core", [HM_NATS_MODE_JETSTREAM] = "jetstream"};
	return FMT_NAME_OF(m, n);
}

const char *ctl_uplink_policy_name(uint32_t p)
{
	static const char *const n[] = {[HM_NATS_POLICY_BLOCK] = "block", [HM_NATS_POLICY_DROP] = "drop"};
	return FMT_NAME_OF(p, n);
}
