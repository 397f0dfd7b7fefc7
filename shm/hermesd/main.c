/* hermesd: the bus supervisor. Creates (or re-adopts) the segment of one bus,
 * creates and deletes rings, serves the control socket, and repairs the bus
 * when a client dies. The data path never goes through it.
 *
 * One thread, one epoll loop: the listening socket, client connections, a
 * signalfd (TERM/INT: stop, HUP: reload) and a timerfd that drives the
 * heartbeat and the periodic repair pass. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <hermes/hermes.h>

#include "core/error_detail.h"
#include "core/futex.h"
#include "core/proc.h"
#include "daemon/cli.h"
#include "daemon/log.h"
#include "daemon/notify.h"
#include "daemon/sched.h"
#include "daemon/signals.h"
#include "shm/app_name.h"
#include "shm/hermesd/config.h"
#include "shm/control.h"
#include "shm/segment.h"
#include "shm/hermesd/supervisor.h"

#define SCAN_INTERVAL_MS 200
#define MAX_CLIENTS 1024
#define LISTEN_BACKLOG 128
#define EVENTS_PER_WAIT 64
#define REPAIR_RETRY_MS 20 /* a repair pass that left work retries this soon */

/* A ring slot a client registered (HM_CTL_SLOT) and the owner value it
 * holds there. */
typedef struct held_slot {
	uint32_t ring, slot;
	bool sub;
	uint64_t owner;
} held_slot;

#define MAX_HELD (HM_MAX_RINGS * (HM_MAX_PRODUCERS + HM_MAX_SUBSCRIBERS))

/* A control connection. Its process is known from the kernel: pid and uid
 * from SO_PEERCRED (in our PID namespace), a pidfd that turns readable when
 * the process has exited, and its pid in its own namespace from NSpid. */
typedef struct client {
	int fd;	   /* -1 once it hung up (kept while its slots wait for the pidfd) */
	int pidfd; /* -1 when unavailable or after it fired */
	pid_t pid;
	uid_t uid;
	uint64_t ns_pid; /* 0: unknown (e.g. /proc hidden) */
	uint64_t since_ns;
	char comm[16];
	/* Its application name and instance (HM_CTL_NAME), checked; until it
	 * sends them (or from an older library), the process name. */
	char app[HM_APP_NAME_SIZE];
	char instance[HM_APP_INSTANCE_SIZE];
	held_slot *held;
	unsigned nheld, capheld;
} client;

static struct {
	hm_config cfg;
	const char *config_path;
	hermes_bus *bus;
	int epfd, listen_fd, sig_fd, timer_fd, lock_fd;
	int bus_fd;	   /* the segment file, holding the bus lock */
	bool bus_fresh;	   /* the bus lock found (or made) an empty file */
	bool segment_lost; /* truncated or removed under us: touch it no more */
	int exit_code;
	char sock_path[256], lock_path[256], pid_path[256];
	client clients[MAX_CLIENTS];
	unsigned nclients;
	hm_sup_counters counters;
	unsigned pending_repairs;
	bool pid_checks; /* may judge unregistered slots by their pid (see add_client) */
	bool stop;
} d = {.epfd = -1, .listen_fd = -1, .sig_fd = -1, .timer_fd = -1, .lock_fd = -1, .bus_fd = -1};

/* The fields that name client c on a log line: client=NAME [instance=ID]
 * [pid=PID] (its pid in our namespace, from the kernel). */
static void client_name_fields(const client *c, hm_dlog_kv *kv)
{
	hm_dlog_str(kv, "client", c->app);
	if (c->instance[0])
		hm_dlog_str(kv, "instance", c->instance);
}

static void client_fields(const client *c, hm_dlog_kv *kv)
{
	client_name_fields(c, kv);
	hm_dlog_int(kv, "pid", c->pid);
}

/* The client whose slots hm_sup_release is freeing, for release_log. */
static const client *releasing;

/* hm_sup_release's log: its lines (which name the ring, the slot and the
 * owner value) get the fields of the client they are about. */
static void release_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void release_log(int level, const char *fmt, ...)
{
	hm_dlog_kv kv = {0};
	if (releasing)
		client_name_fields(releasing, &kv); /* the line has the slot's pid */
	va_list ap;
	va_start(ap, fmt);
	hm_dlogv_kv(level, &kv, fmt, ap);
	va_end(ap);
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The text of --help (a table: printed as it is). */
static const char usage_text[] =
	"usage: hermesd [options]\n"
	"\n"
	"The Hermes bus supervisor: creates (or re-adopts) the shared-memory segment of\n"
	"one bus, creates its rings, serves the control socket, and repairs the bus when\n"
	"a producer or subscriber process dies. Runs in the foreground; logs to stderr.\n"
	"\n"
	"  -c, --config FILE      read FILE (INI; see hermesd.conf.example). Without it an\n"
	"                         embedded default is used: bus 'default', 64 MiB, mode\n"
	"                         0600, rings 'events' (block) and 'telemetry' (overwrite)\n"
	"  -b, --bus NAME         bus name (default: [bus] name, $HERMES_BUS, 'default')\n"
	"  -r, --run-dir DIR      directory for the control socket, lock and pid files\n"
	"                         (default: $HERMES_RUN_DIR, /run/hermes as root,\n"
	"                         $XDG_RUNTIME_DIR/hermes, /tmp/hermes-UID)\n"
	"  -s, --size SIZE        segment size, e.g. 256M (default 64M)\n"
	"  -m, --mode MODE        segment and socket mode, octal (default 0600)\n"
	"  -g, --group GROUP      group owning the segment and socket (with --mode 0660)\n"
	"      --remove-on-exit   remove the segment on SIGTERM/SIGINT (default: keep it,\n"
	"                         so a restarted hermesd re-adopts every ring and message)\n"
	"      --cpu LIST         pin the supervisor to CPUs, e.g. 2 or 2,3 or 4-7\n"
	"      --rt-priority N    run with SCHED_FIFO priority N (1..99)\n"
	"  -l, --log-level LEVEL  error, warn, info (default) or debug\n"
	"      --check-config     validate the configuration, print it, and exit\n"
	"  -f, --foreground       run in the foreground (the default and only mode;\n"
	"                         use systemd or a supervisor to background it)\n"
	"  -h, --help             this text\n"
	"  -V, --version          print the version\n"
	"\n"
	"Signals: SIGTERM/SIGINT stop gracefully; SIGHUP re-reads the config file and\n"
	"creates newly declared rings. With $NOTIFY_SOCKET set (systemd Type=notify) it\n"
	"reports READY=1 once the bus is usable.\n"
	"Exit status: 0 after a graceful stop, 1 on errors (bad config, a live hermesd\n"
	"already owns the bus, an invalid existing segment), 2 on usage errors.\n";

/* ---- set-up ----------------------------------------------------------------- */

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[256];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* The bus is someone else's (EACCES): say whose, never advise removing it. */
static void report_foreign_bus(void)
{
	char path[128];
	struct stat st;
	snprintf(path, sizeof path, "/dev/shm/hermes.%s", d.cfg.bus);
	if (stat(path, &st) == 0)
		hm_dlog(HM_DLOG_ERROR,
		       "bus '%s' exists and belongs to uid %u, gid %u (mode %04o); this hermesd "
		       "runs as uid %u and may not open it. Run hermesd as its owner (or a "
		       "member of its group), or choose another --bus",
		       d.cfg.bus, (unsigned)st.st_uid, (unsigned)st.st_gid,
		       (unsigned)(st.st_mode & 0777), (unsigned)geteuid());
	else
		hm_dlog(HM_DLOG_ERROR, "bus '%s': %s", d.cfg.bus, hermes_last_error_detail());
}

/* Another hermesd holds the bus lock: name it. Its pid comes from the
 * kernel (SO_PEERCRED of its control socket) when the socket answers, else
 * from the segment's record, said as such. */
static void report_live_supervisor(void)
{
	char where[256] = "";
	uint64_t recorded = 0;
	hermes_bus *bus;
	if (hermes_bus_attach_readonly(d.cfg.bus, &bus) == HERMES_OK) {
		memcpy(where, bus->hdr->control_path, sizeof where);
		where[sizeof where - 1] = '\0';
		recorded = hm_load_acquire_u64(&bus->hdr->supervisor_pid);
		hermes_bus_detach(bus);
	}
	pid_t pid = where[0] ? hm_ctl_peer_pid(where) : 0;
	char who[96];
	if (pid > 0)
		snprintf(who, sizeof who, "pid %d", (int)pid);
	else if (recorded)
		snprintf(who, sizeof who, "pid %llu as the segment records it",
			 (unsigned long long)recorded);
	else
		snprintf(who, sizeof who, "pid unknown");
	hm_dlog(HM_DLOG_ERROR,
	       "bus '%s' already has a live hermesd (%s%s%s); stop it first, or choose another "
	       "--bus",
	       d.cfg.bus, who, where[0] ? ", control socket " : "", where);
}

/* One supervisor per bus, whatever the run directory: the bus lock on the
 * segment file itself (hm_segment_lock). */
static int take_bus_lock(void)
{
	hermes_err err = hm_segment_lock(d.cfg.bus, d.cfg.mode, &d.bus_fd, &d.bus_fresh);
	if (err == HERMES_EBUSY)
		report_live_supervisor();
	else if (err == HERMES_EACCES)
		report_foreign_bus();
	else if (err)
		hm_dlog(HM_DLOG_ERROR, "bus '%s': %s", d.cfg.bus, hermes_last_error_detail());
	return err ? -1 : 0;
}

/* The run directory's lock and pid file (for the socket file and for
 * people); the bus lock above is what keeps supervisors apart. */
static int take_lock(void)
{
	d.lock_fd = open(d.lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (d.lock_fd < 0) {
		hm_dlog(HM_DLOG_ERROR, "cannot open %s: %s", d.lock_path, strerror(errno));
		return -1;
	}
	if (flock(d.lock_fd, LOCK_EX | LOCK_NB) != 0) {
		char pid[32] = "?";
		FILE *f = fopen(d.pid_path, "re");
		if (f) {
			if (!fgets(pid, sizeof pid, f))
				snprintf(pid, sizeof pid, "?");
			pid[strcspn(pid, "\n")] = '\0';
			fclose(f);
		}
		hm_dlog(HM_DLOG_ERROR,
		       "bus '%s' already has a live hermesd (pid %s, lock %s); stop it first, or "
		       "choose another --bus",
		       d.cfg.bus, pid, d.lock_path);
		return -1;
	}
	FILE *f = fopen(d.pid_path, "we");
	if (f) {
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
	return 0;
}

static hermes_err create_missing_rings(void)
{
	for (unsigned i = 0; i < d.cfg.nrings; i++) {
		hm_ring_decl *rd = &d.cfg.rings[i];
		hm_ring existing;
		if (hm_bus_find_ring(d.bus, rd->name, &existing, NULL) == HERMES_OK) {
			if (existing.cap != rd->cfg.capacity || existing.max_msg != rd->cfg.max_msg ||
			    existing.policy != (uint32_t)rd->cfg.policy)
				hm_dlog(HM_DLOG_WARN,
				       "ring '%s' exists with a different configuration; keeping the "
				       "existing one (delete and recreate it to change it)",
				       rd->name);
			continue;
		}
		hermes_err err = hm_bus_create_ring_local(d.bus, &rd->cfg);
		if (err == HERMES_EBADSEGMENT) {
			/* A corrupt ring or allocator in a segment we re-adopted:
			 * say so and serve the rest rather than exit (and be
			 * restarted, and exit again). */
			hm_dlog(HM_DLOG_ERROR, "cannot create ring: %s ring=%s", hermes_last_error_detail(),
			       rd->name);
			continue;
		}
		if (err) {
			hm_dlog(HM_DLOG_ERROR, "cannot create ring: %s (%s) ring=%s", hermes_strerror(err),
			       hermes_last_error_detail(), rd->name);
			return err;
		}
		hm_dlog(HM_DLOG_INFO, "ring created: %llu bytes, max message %u, %s ring=%s",
		       (unsigned long long)rd->cfg.capacity, rd->cfg.max_msg,
		       rd->cfg.policy == HERMES_POLICY_BLOCK ? "block" : "overwrite", rd->name);
	}
	return HERMES_OK;
}

/* Attach to an existing segment (re-adopt), or create a new one in the
 * empty file the bus lock made. */
static int open_segment(bool *created)
{
	*created = false;
	hermes_err err = d.bus_fresh ? HERMES_ENOENT : hermes_bus_attach(d.cfg.bus, &d.bus);
	if (err == HERMES_OK) {
		unsigned n = 0;
		for (unsigned i = 0; i < HM_MAX_RINGS; i++)
			n += hm_load_acquire_u32(&d.bus->dir[i].state) == HM_RING_READY;
		hm_dlog(HM_DLOG_INFO, "re-adopting the existing segment of bus '%s' with %u ring(s)",
		       d.cfg.bus, n);
		uint64_t want = hm_segment_page_up(d.cfg.size);
		if (want != d.bus->size)
			hm_dlog(HM_DLOG_WARN,
			       "bus '%s': size %llu is configured but the existing segment has %llu; "
			       "keeping the segment as it is (stop hermesd, hermes-ctl destroy %s, "
			       "start hermesd to resize)",
			       d.cfg.bus, (unsigned long long)d.cfg.size,
			       (unsigned long long)d.bus->size, d.cfg.bus);
		/* The library connected to the old socket if it still answered;
		 * we hold the lock, so nobody does. */
		if (d.bus->ctl_fd >= 0) {
			close(d.bus->ctl_fd);
			d.bus->ctl_fd = -1;
		}
	} else if (err == HERMES_ENOENT) {
		err = hm_bus_create_fd(d.cfg.bus, d.bus_fd, d.cfg.size, d.cfg.mode, &d.bus);
		if (err) {
			hm_dlog(HM_DLOG_ERROR, "cannot create bus '%s': %s (%s)", d.cfg.bus,
			       hermes_strerror(err), hermes_last_error_detail());
			return -1;
		}
		*created = true;
		if (d.cfg.group != (gid_t)-1) {
			char path[128];
			snprintf(path, sizeof path, "/dev/shm/hermes.%s", d.cfg.bus);
			if (chown(path, (uid_t)-1, d.cfg.group) != 0) {
				hm_dlog(HM_DLOG_ERROR, "cannot give %s to group %u: %s", path,
				       (unsigned)d.cfg.group, strerror(errno));
				return -1;
			}
		}
		hm_dlog(HM_DLOG_INFO, "bus '%s' created: /dev/shm/hermes.%s, %llu bytes, mode %04o",
		       d.cfg.bus, d.cfg.bus, (unsigned long long)d.cfg.size, d.cfg.mode);
	} else if (err == HERMES_EACCES) {
		report_foreign_bus();
		return -1;
	} else {
		hm_dlog(HM_DLOG_ERROR,
		       "refusing to touch the existing segment of bus '%s': %s (%s). If no process "
		       "uses it, hermes-ctl destroy %s removes it (it refuses while anything is "
		       "attached)",
		       d.cfg.bus, hermes_strerror(err), hermes_last_error_detail(), d.cfg.bus);
		return -1;
	}
	hm_bus_set_owner(d.bus);
	return 0;
}

static int open_socket(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(d.sock_path) >= sizeof sa.sun_path) {
		hm_dlog(HM_DLOG_ERROR, "socket path %s is too long: choose a shorter --run-dir",
		       d.sock_path);
		return -1;
	}
	memcpy(sa.sun_path, d.sock_path, strlen(d.sock_path) + 1);
	/* We hold the lock: a socket file left here belongs to a dead hermesd. */
	unlink(d.sock_path);
	d.listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (d.listen_fd < 0 || bind(d.listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    chmod(d.sock_path, d.cfg.mode & 0777) != 0 ||
	    (d.cfg.group != (gid_t)-1 && chown(d.sock_path, (uid_t)-1, d.cfg.group) != 0) ||
	    listen(d.listen_fd, LISTEN_BACKLOG) != 0) {
		hm_dlog(HM_DLOG_ERROR, "cannot listen on %s: %s", d.sock_path, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- clients and requests ---------------------------------------------------- */

/* The pid of process `pid` (ours) in its own, innermost PID namespace:
 * the last field of NSpid in /proc/PID/status; 0 when hidden. */
static uint64_t ns_pid_of(pid_t pid)
{
	char line[256];
	if (!hm_proc_status(pid, "NSpid:", line, sizeof line))
		return 0;
	uint64_t v = 0;
	char *p = line, *end;
	for (;;) {
		unsigned long long x = strtoull(p, &end, 10);
		if (end == p)
			break;
		v = x;
		p = end;
	}
	return v;
}

static void add_client(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	if (d.nclients == MAX_CLIENTS || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
		hm_dlog(HM_DLOG_WARN, "refusing a control connection: %s",
		       d.nclients == MAX_CLIENTS ? "too many clients" : strerror(errno));
		close(fd);
		return;
	}
	client *c = &d.clients[d.nclients++];
	*c = (client){.fd = fd, .pid = cred.pid, .uid = cred.uid, .since_ns = realtime_ns()};
	c->pidfd = (int)syscall(SYS_pidfd_open, cred.pid, 0);
	c->ns_pid = ns_pid_of(cred.pid);
	hm_proc_comm(cred.pid, c->comm, sizeof c->comm);
	static_assert(sizeof c->app >= sizeof c->comm, "a process name fits a client name");
	memcpy(c->app, c->comm, sizeof c->comm);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = fd};
	epoll_ctl(d.epfd, EPOLL_CTL_ADD, fd, &ev);
	if (c->pidfd >= 0) {
		struct epoll_event pev = {.events = EPOLLIN, .data.fd = c->pidfd};
		epoll_ctl(d.epfd, EPOLL_CTL_ADD, c->pidfd, &pev);
	}
	hm_dlog_kv kv = {0};
	client_fields(c, &kv);
	hm_dlog_int(&kv, "uid", (long long)c->uid);
	hm_dlog_int(&kv, "ns_pid", (long long)c->ns_pid);
	hm_dlog(HM_DLOG_DEBUG, "client connected%s", kv.s);
}

static void free_client(unsigned i)
{
	client *c = &d.clients[i];
	if (c->fd >= 0) {
		epoll_ctl(d.epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	if (c->pidfd >= 0) {
		epoll_ctl(d.epfd, EPOLL_CTL_DEL, c->pidfd, NULL);
		close(c->pidfd);
	}
	free(c->held);
	d.clients[i] = d.clients[--d.nclients];
}

/* Forget registrations of slots the process has since closed (the slot no
 * longer holds its owner value), so a long-lived client that opens and
 * closes handles, or detaches and stays, costs nothing. */
static void prune_held(client *c)
{
	unsigned k = 0;
	for (unsigned i = 0; i < c->nheld; i++) {
		const held_slot *h = &c->held[i];
		hm_ring r;
		if (hm_bus_ring_open_index(d.bus, h->ring, true, &r) != HERMES_OK)
			continue;
		hm_atomic_u64 *o = h->sub ? &r.subs[h->slot].owner : &r.prods[h->slot].owner;
		if (hm_load_acquire_u64(o) == h->owner)
			c->held[k++] = *h;
	}
	c->nheld = k;
	hm_clear_detail();
}

/* The connection hung up. Slots the process still holds stay watched until
 * its pidfd says it is gone (it may only have closed the connection). */
static void drop_client(unsigned i)
{
	client *c = &d.clients[i];
	hm_dlog_kv kv = {0};
	client_fields(c, &kv);
	hm_dlog(HM_DLOG_DEBUG, "client disconnected%s", kv.s);
	prune_held(c);
	if (c->nheld && c->pidfd >= 0) {
		epoll_ctl(d.epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
		return;
	}
	free_client(i);
}

/* Free what a dead client held; returns how many producer repairs must be
 * retried (they stay in its list). */
static unsigned release_held(client *c)
{
	unsigned k = 0;
	releasing = c;
	for (unsigned i = 0; i < c->nheld; i++) {
		held_slot *h = &c->held[i];
		if (!hm_sup_release(d.bus, h->ring, h->sub, h->slot, h->owner, &d.counters,
				    release_log))
			c->held[k++] = *h;
	}
	releasing = NULL;
	c->nheld = k;
	return k;
}

/* The pidfd fired: the process has exited (its mappings are gone, it
 * writes nothing more), so its slots are freed now. */
static void client_died(unsigned i)
{
	client *c = &d.clients[i];
	epoll_ctl(d.epfd, EPOLL_CTL_DEL, c->pidfd, NULL);
	close(c->pidfd);
	c->pidfd = -1;
	hm_dlog_kv kv = {0};
	client_fields(c, &kv);
	hm_dlog(HM_DLOG_DEBUG, "client exited%s", kv.s);
	d.pending_repairs += release_held(c);
	if (c->fd < 0 && c->nheld == 0)
		free_client(i);
}

/* Every slot a live (or not yet released) connection watches. */
static void watched_slots(hm_sup_watch *w)
{
	memset(w, 0, sizeof *w);
	for (unsigned i = 0; i < d.nclients; i++)
		for (unsigned k = 0; k < d.clients[i].nheld; k++) {
			const held_slot *h = &d.clients[i].held[k];
			if (h->sub)
				w->subs[h->ring] |= 1ull << h->slot;
			else
				w->prods[h->ring] |= 1ull << h->slot;
		}
}

/* Releases still owed by dead clients, then the scan of every ring. */
static void repair_pass(void)
{
	unsigned retry = 0;
	for (unsigned i = d.nclients; i-- > 0;) {
		client *c = &d.clients[i];
		if (c->pidfd >= 0 || !c->nheld)
			continue; /* alive, or nothing owed */
		retry += release_held(c);
		if (c->fd < 0 && c->nheld == 0)
			free_client(i);
	}
	static hm_sup_watch w;
	watched_slots(&w);
	d.pending_repairs = retry + hm_sup_scan(d.bus, &d.counters, hm_dlog, &w, d.pid_checks);
}

/* HM_CTL_SLOT: the client's process holds a slot. Accepted only when the
 * slot's owner word holds that process's own pid (as the kernel gives it,
 * when /proc lets us see it), so a client cannot have another's slot freed. */
static hermes_err register_slot(client *c, const hm_ctl_req *req)
{
	uint32_t ring = req->slots, slot = req->policy;
	bool sub = req->flags & HM_CTL_SUB;
	uint64_t owner = req->capacity;
	if (ring >= HM_MAX_RINGS || slot >= (sub ? HM_MAX_SUBSCRIBERS : HM_MAX_PRODUCERS))
		return hm_fail(HERMES_EINVAL, "slot %u of ring %u does not exist", slot, ring);
	if (c->ns_pid && owner != c->ns_pid)
		return hm_fail(HERMES_EPERM, "pid %llu is not this process (pid %llu)",
			       (unsigned long long)owner, (unsigned long long)c->ns_pid);
	hm_ring r;
	hermes_err err = hm_bus_ring_view(d.bus, ring, &r);
	if (err)
		return err;
	hm_atomic_u64 *o = sub ? &r.subs[slot].owner : &r.prods[slot].owner;
	if (hm_load_acquire_u64(o) != owner)
		return hm_fail(HERMES_EPERM, "slot %u of ring %u is not held by pid %llu", slot, ring,
			       (unsigned long long)owner);
	/* The newest registration of a slot wins (its previous holder closed
	 * it); the same slot is never watched twice. */
	for (unsigned i = 0; i < d.nclients; i++) {
		client *o2 = &d.clients[i];
		for (unsigned k = 0; k < o2->nheld; k++)
			if (o2->held[k].ring == ring && o2->held[k].slot == slot &&
			    o2->held[k].sub == sub)
				o2->held[k--] = o2->held[--o2->nheld];
	}
	if (c->nheld == c->capheld)
		prune_held(c);
	if (c->nheld == c->capheld) {
		unsigned cap = c->capheld ? 2 * c->capheld : 8;
		held_slot *h = cap <= MAX_HELD ? realloc(c->held, cap * sizeof *h) : NULL;
		if (!h)
			return hm_fail(HERMES_ENOMEM, "too many slots registered");
		c->held = h;
		c->capheld = cap;
	}
	c->held[c->nheld++] = (held_slot){.ring = ring, .slot = slot, .sub = sub, .owner = owner};
	return HERMES_OK;
}

/* The fields of a ring change's log line: the ring, then who asked. */
static void ring_fields(client *c, const char *name, hm_dlog_kv *kv)
{
	hm_dlog_str(kv, "ring", name);
	client_fields(c, kv);
}

static hermes_err on_create(client *c, const char *name, const hm_ctl_req *req)
{
	hermes_ring_config cfg = {.name = name, .capacity = req->capacity,
				  .max_msg = req->max_msg, .policy = (hermes_policy)req->policy,
				  .slots = req->slots};
	hermes_err err = hm_bus_create_ring_local(d.bus, &cfg);
	if (!err) {
		hm_dlog_kv kv = {0};
		ring_fields(c, name, &kv);
		hm_dlog(HM_DLOG_INFO, "ring created: %llu bytes, %s%s",
		       (unsigned long long)cfg.capacity,
		       cfg.policy == HERMES_POLICY_BLOCK ? "block" : "overwrite", kv.s);
	}
	return err;
}

static hermes_err on_delete(client *c, const char *name, const hm_ctl_req *req)
{
	hermes_err err = hm_bus_delete_ring_local(d.bus, name, req->flags & HM_CTL_FORCE);
	if (!err) {
		hm_dlog_kv kv = {0};
		ring_fields(c, name, &kv);
		hm_dlog(HM_DLOG_INFO, "ring deleted%s%s",
		       req->flags & HM_CTL_FORCE ? " (forced)" : "", kv.s);
	}
	return err;
}

/* NAME: the client says who it is (application name and instance). */
static hermes_err on_name(client *c, const hm_ctl_req *req)
{
	hm_dlog_kv kv = {0};
	char app[HM_APP_NAME_SIZE], instance[HM_APP_INSTANCE_SIZE];
	hermes_err err = hm_app_unpack(req->name, app, instance);
	if (err) {
		client_fields(c, &kv);
		hm_dlog_str(&kv, "error", hermes_last_error_detail());
		hm_dlog(HM_DLOG_WARN, "client name refused%s", kv.s);
		return err;
	}
	memcpy(c->app, app, sizeof app);
	memcpy(c->instance, instance, sizeof instance);
	client_fields(c, &kv);
	hm_dlog_str(&kv, "comm", c->comm);
	hm_dlog(HM_DLOG_DEBUG, "client named%s", kv.s);
	return HERMES_OK;
}

/* NAMES and CLIENTS: the connected clients (not those that hung up, whose
 * slots are not yet released), as labels or as processes. */
static void list_clients(hm_ctl_resp *resp, bool labels)
{
	for (unsigned i = 0; i < d.nclients && resp->count < HM_CTL_MAX_CLIENTS; i++) {
		const client *k = &d.clients[i];
		if (k->fd < 0)
			continue;
		if (labels) {
			hm_ctl_label *o = &resp->u.labels[resp->count++];
			o->pid = k->pid;
			memcpy(o->app, k->app, sizeof o->app);
			memcpy(o->instance, k->instance, sizeof o->instance);
		} else {
			hm_ctl_client *o = &resp->u.clients[resp->count++];
			o->pid = k->pid;
			o->uid = k->uid;
			o->since_realtime_ns = k->since_ns;
			memcpy(o->comm, k->comm, sizeof o->comm);
		}
	}
}

static void handle_request(client *c, const hm_ctl_req *req, hm_ctl_resp *resp)
{
	hermes_err err = HERMES_OK;
	char name[HM_NAME_MAX];
	memcpy(name, req->name, sizeof name);
	name[sizeof name - 1] = '\0';
	hm_clear_detail();
	switch (req->op) {
	case HM_CTL_HELLO:
		snprintf(resp->detail, sizeof resp->detail, "hermesd %d.%d.%d bus %s",
			 HERMES_VERSION_MAJOR, HERMES_VERSION_MINOR, HERMES_VERSION_PATCH, d.cfg.bus);
		break;
	case HM_CTL_CREATE:
		err = on_create(c, name, req);
		break;
	case HM_CTL_DELETE:
		err = on_delete(c, name, req);
		break;
	case HM_CTL_NAME:
		err = on_name(c, req);
		break;
	case HM_CTL_CLIENTS:
	case HM_CTL_NAMES:
		list_clients(resp, req->op == HM_CTL_NAMES);
		break;
	case HM_CTL_LIST:
		for (unsigned i = 0; i < HM_MAX_RINGS; i++)
			if (hm_load_acquire_u32(&d.bus->dir[i].state) == HM_RING_READY)
				memcpy(resp->u.names[resp->count++], d.bus->dir[i].name, HM_NAME_MAX);
		break;
	case HM_CTL_SLOT:
		err = register_slot(c, req);
		break;
	default:
		err = HERMES_EINVAL;
		snprintf(resp->detail, sizeof resp->detail, "unknown control request %u", req->op);
	}
	resp->err = err;
	if (err && !resp->detail[0])
		snprintf(resp->detail, sizeof resp->detail, "%s", hermes_last_error_detail());
}

static void serve_client(unsigned i)
{
	client *c = &d.clients[i];
	hm_ctl_req req;
	ssize_t n = recv(c->fd, &req, sizeof req, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		drop_client(i);
		return;
	}
	static hm_ctl_resp resp;
	memset(&resp, 0, offsetof(hm_ctl_resp, u));
	resp.magic = HM_CTL_MAGIC;
	resp.op = req.op;
	if (n != (ssize_t)sizeof req || req.magic != HM_CTL_MAGIC) {
		resp.err = HERMES_EINVAL;
		snprintf(resp.detail, sizeof resp.detail,
			 "malformed control request (%zd bytes); client and hermesd versions differ?",
			 n);
		hm_dlog_kv kv = {0};
		client_fields(c, &kv);
		hm_dlog(HM_DLOG_WARN, "malformed control request; closing it%s", kv.s);
		send(c->fd, &resp, offsetof(hm_ctl_resp, u), MSG_NOSIGNAL | MSG_DONTWAIT);
		drop_client(i);
		return;
	}
	handle_request(c, &req, &resp);
	size_t len = offsetof(hm_ctl_resp, u);
	if (req.op == HM_CTL_LIST)
		len += resp.count * sizeof resp.u.names[0];
	else if (req.op == HM_CTL_CLIENTS)
		len += resp.count * sizeof resp.u.clients[0];
	else if (req.op == HM_CTL_NAMES)
		len += resp.count * sizeof resp.u.labels[0];
	if (send(c->fd, &resp, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		drop_client(i);
}

/* ---- a segment truncated or removed under us ------------------------------------ */

static void segment_lost(const char *what)
{
	d.segment_lost = true;
	d.stop = true;
	d.exit_code = 1;
	hm_dlog(HM_DLOG_ERROR,
	       "bus '%s': the segment %s; stopping. Clients that touch its missing pages get "
	       "SIGBUS: stop them, hermes-ctl destroy %s, then start hermesd again",
	       d.cfg.bus, what, d.cfg.bus);
}

/* Checked on every tick, before the segment is touched: the file is still
 * whole and still the bus's. */
static bool segment_shrunk(void)
{
	struct stat st;
	char what[160];
	if (fstat(d.bus_fd, &st) != 0)
		return false;
	if ((uint64_t)st.st_size < d.bus->size) {
		snprintf(what, sizeof what, "was truncated to %lld of its %zu bytes",
			 (long long)st.st_size, d.bus->size);
		segment_lost(what);
		return true;
	}
	if (st.st_nlink == 0) {
		segment_lost("file /dev/shm/hermes.<bus> was removed (hermes-ctl destroy --force?)");
		return true;
	}
	return false;
}

/* A SIGBUS inside the mapping between two checks (the file truncated in the
 * meantime): jump back to main, which stops cleanly. Anything else keeps the
 * default action. */
static sigjmp_buf bus_fault;
static volatile sig_atomic_t bus_fault_armed;

static void on_sigbus(int sig, siginfo_t *si, void *uctx)
{
	(void)uctx;
	uintptr_t a = (uintptr_t)si->si_addr;
	if (bus_fault_armed && d.bus && a >= (uintptr_t)d.bus->base &&
	    a - (uintptr_t)d.bus->base < d.bus->size) {
		bus_fault_armed = 0;
		siglongjmp(bus_fault, 1);
	}
	signal(sig, SIG_DFL); /* returning re-runs the access, which now kills */
}

static void on_timer(void)
{
	uint64_t ticks;
	if (read(d.timer_fd, &ticks, sizeof ticks) < 0)
		return;
	if (segment_shrunk())
		return;
	/* Relaxed: advisory, read by hermes-ctl. */
	hm_store_relaxed_u64(&d.bus->hdr->supervisor_heartbeat_ns, hm_now_ns());
	repair_pass();
}

static int build_config(hm_config *c);

/* What SIGHUP cannot change: say so rather than ignore it silently. */
static void warn_restart_only(const hm_config *next)
{
	const hm_config *c = &d.cfg;
	if (next->size != c->size)
		hm_dlog(HM_DLOG_WARN,
		       "SIGHUP: [bus] size changed from %llu to %llu and is ignored: a segment keeps "
		       "its size (stop hermesd, hermes-ctl destroy %s, start hermesd to resize)",
		       (unsigned long long)c->size, (unsigned long long)next->size, c->bus);
	const struct {
		const char *key;
		bool changed;
	} keys[] = {
		{"name", strcmp(next->bus, c->bus) != 0},
		{"run_dir", strcmp(next->run_dir, c->run_dir) != 0},
		{"mode", next->mode != c->mode},
		{"group", next->group != c->group},
		{"remove_on_exit", next->remove_on_exit != c->remove_on_exit},
		{"cpu_affinity", next->have_cpus != c->have_cpus ||
					 (c->have_cpus && !CPU_EQUAL(&next->cpus, &c->cpus))},
		{"rt_priority", next->rt_priority != c->rt_priority},
	};
	for (unsigned i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (keys[i].changed)
			hm_dlog(HM_DLOG_WARN, "SIGHUP: [bus] %s changed; it takes effect only after a restart",
			       keys[i].key);
}

static void reload(void)
{
	if (!d.config_path) {
		hm_dlog(HM_DLOG_INFO, "SIGHUP: no config file to re-read (embedded default)");
		return;
	}
	static hm_config next;
	if (build_config(&next) != 0) {
		hm_dlog(HM_DLOG_ERROR, "SIGHUP: %s; keeping the running configuration",
			hermes_last_error_detail());
		return;
	}
	warn_restart_only(&next);
	/* Only rings and the log level change at run time. */
	memcpy(d.cfg.rings, next.rings, sizeof next.rings);
	d.cfg.nrings = next.nrings;
	for (unsigned i = 0; i < d.cfg.nrings; i++)
		d.cfg.rings[i].cfg.name = d.cfg.rings[i].name;
	d.cfg.log_level = next.log_level;
	hm_dlog_set_level(d.cfg.log_level);
	hm_dlog(HM_DLOG_INFO, "SIGHUP: re-read %s", d.config_path);
	create_missing_rings();
}

static void on_signal(void)
{
	struct signalfd_siginfo si;
	while (read(d.sig_fd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGHUP) {
			reload();
		} else {
			hm_dlog(HM_DLOG_INFO, "%s: stopping", strsignal((int)si.ssi_signo));
			d.stop = true;
		}
	}
}

/* ---- main ------------------------------------------------------------------------ */

enum { O_REMOVE = 256, O_CPU, O_RT, O_CHECK };

/* The flags: each sets the [bus] key of the same meaning, applied over the
 * file and the environment by the same code that reads the file's keys, so
 * a bad one is a usage error (exit 2) that names the flag. */
static const hm_cli_flag flags[] = {
	{"config", 'c', required_argument, NULL, NULL, NULL},
	{"bus", 'b', required_argument, NULL, "name", NULL},
	{"run-dir", 'r', required_argument, NULL, "run_dir", NULL},
	{"size", 's', required_argument, NULL, "size", NULL},
	{"mode", 'm', required_argument, NULL, "mode", NULL},
	{"group", 'g', required_argument, NULL, "group", NULL},
	{"remove-on-exit", O_REMOVE, no_argument, NULL, "remove_on_exit", "true"},
	{"cpu", O_CPU, required_argument, NULL, "cpu_affinity", NULL},
	{"rt-priority", O_RT, required_argument, NULL, "rt_priority", NULL},
	{"log-level", 'l', required_argument, NULL, "log_level", NULL},
	{"check-config", O_CHECK, no_argument, NULL, NULL, NULL},
	{"foreground", 'f', no_argument, NULL, NULL, NULL}, /* the only mode */
	{"help", 'h', no_argument, NULL, NULL, NULL},
	{"version", 'V', no_argument, NULL, NULL, NULL},
};

static const hm_cli_program program = {
	.name = "hermesd",
	.usage = usage_text,
	.flags = flags,
	.nflags = sizeof flags / sizeof flags[0],
};

static hm_cli cli;

static hermes_err set_flag(void *cfg, const char *section, const char *key, const char *value)
{
	(void)section;
	return hm_config_set(cfg, key, value);
}

/* defaults < config file < environment < flags. 0, or 1 (the file, or the
 * whole configuration, is wrong; the detail says why) or 2 (a flag is: said
 * on stderr). */
static int build_config(hm_config *c)
{
	hm_config_defaults(c);
	if (d.config_path) {
		if (hm_config_load_file(c, d.config_path))
			return 1;
		hm_config_apply_env(c);
	}
	if (hm_cli_apply(&cli, program.name, set_flag, c) >= 0)
		return 2;
	return hm_config_check(c) ? 1 : 0;
}

static int load_config(bool check)
{
	int r = build_config(&d.cfg);
	if (r == 1)
		return hm_cli_fail(program.name, 1, hermes_last_error_detail());
	if (r)
		return r;
	if (check) {
		printf("bus %s: size %llu, mode %04o, run_dir %s, %u ring(s)\n", d.cfg.bus,
		       (unsigned long long)d.cfg.size, d.cfg.mode, d.cfg.run_dir, d.cfg.nrings);
		for (unsigned i = 0; i < d.cfg.nrings; i++)
			printf("  ring %s: capacity %llu, max_msg %u, %s\n", d.cfg.rings[i].name,
			       (unsigned long long)d.cfg.rings[i].cfg.capacity,
			       d.cfg.rings[i].cfg.max_msg,
			       d.cfg.rings[i].cfg.policy == HERMES_POLICY_BLOCK ? "block" : "overwrite");
	}
	return 0;
}

static void shutdown_all(bool created_and_failed)
{
	for (unsigned i = d.nclients; i-- > 0;)
		free_client(i);
	if (d.listen_fd >= 0) {
		close(d.listen_fd);
		unlink(d.sock_path);
	}
	if (d.bus) {
		bool remove = d.cfg.remove_on_exit || created_and_failed;
		if (!created_and_failed && !d.segment_lost)
			hm_store_relaxed_u64(&d.bus->hdr->supervisor_pid, 0);
		hermes_bus_detach(d.bus);
		if (remove && !d.segment_lost) {
			hermes_bus_unlink(d.cfg.bus);
			hm_dlog(HM_DLOG_INFO, "segment /dev/shm/hermes.%s removed", d.cfg.bus);
		}
	} else if (d.bus_fresh) {
		/* The empty file the bus lock made, never formatted: nothing
		 * half-made is left behind. */
		hermes_bus_unlink(d.cfg.bus);
	}
	if (d.lock_fd >= 0) {
		unlink(d.pid_path);
		unlink(d.lock_path);
		close(d.lock_fd);
	}
	if (d.bus_fd >= 0)
		close(d.bus_fd);
}

/* The run directory and the paths in it. Slots no connection registered are
 * judged by the pid in the slot, which needs /proc to show every process:
 * not so under hidepid for a non-root hermesd, where a live client would
 * look dead. */
static int prepare_run_dir(void)
{
	d.pid_checks = geteuid() == 0 || access("/proc/1/status", R_OK) == 0;
	if (!d.pid_checks)
		hm_dlog(HM_DLOG_WARN, "/proc hides other users' processes (hidepid): slots are freed "
				    "only for clients connected to hermesd");
	if (mkdir_p(d.cfg.run_dir, 0755) != 0) {
		hm_dlog(HM_DLOG_ERROR, "cannot create run directory %s: %s", d.cfg.run_dir,
		       strerror(errno));
		return 1;
	}
	snprintf(d.sock_path, sizeof d.sock_path, "%s/%s.sock", d.cfg.run_dir, d.cfg.bus);
	snprintf(d.lock_path, sizeof d.lock_path, "%s/%s.lock", d.cfg.run_dir, d.cfg.bus);
	snprintf(d.pid_path, sizeof d.pid_path, "%s/%s.pid", d.cfg.run_dir, d.cfg.bus);
	return 0;
}

/* The supervisor's fields in the segment header, the pid last. */
static void publish_supervisor(void)
{
	hm_seg_header *h = d.bus->hdr;
	snprintf(h->control_path, sizeof h->control_path, "%s", d.sock_path);
	hm_store_relaxed_u64(&h->supervisor_start, hm_proc_start_time(0));
	hm_store_relaxed_u64(&h->supervisor_heartbeat_ns, hm_now_ns());
	/* Release: hermes-ctl reading the pid (acquire) sees the fields above. */
	hm_store_release_u64(&h->supervisor_pid, (uint64_t)getpid());
}

/* SIGTERM, SIGINT and SIGHUP through a signalfd, the scan timer, and the
 * epoll set of those and the control socket. 0, or 1 (logged). */
static int setup_event_loop(void)
{
	d.sig_fd = hm_signals_fd();
	d.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	struct itimerspec its = {.it_interval = {0, SCAN_INTERVAL_MS * 1000000L},
				 .it_value = {0, SCAN_INTERVAL_MS * 1000000L}};
	d.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d.sig_fd < 0 || d.timer_fd < 0 || d.epfd < 0 ||
	    timerfd_settime(d.timer_fd, 0, &its, NULL) != 0) {
		hm_dlog(HM_DLOG_ERROR, "cannot set up the event loop: %s", strerror(errno));
		return 1;
	}
	int fds[] = {d.listen_fd, d.sig_fd, d.timer_fd};
	for (unsigned i = 0; i < 3; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = fds[i]};
		epoll_ctl(d.epfd, EPOLL_CTL_ADD, fds[i], &ev);
	}
	return 0;
}

/* One ready descriptor: the control socket, the signalfd, the timer, or a
 * client's connection or pidfd. */
static void dispatch(int fd)
{
	if (fd == d.listen_fd) {
		int cfd;
		while ((cfd = accept4(d.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0)
			add_client(cfd);
	} else if (fd == d.sig_fd) {
		on_signal();
	} else if (fd == d.timer_fd) {
		on_timer();
	} else {
		for (unsigned k = 0; k < d.nclients; k++)
			if (d.clients[k].fd == fd) {
				serve_client(k);
				break;
			} else if (d.clients[k].pidfd == fd) {
				client_died(k);
				break;
			}
	}
}

static void event_loop(void)
{
	while (!d.stop) {
		struct epoll_event evs[EVENTS_PER_WAIT];
		int n = epoll_wait(d.epfd, evs, EVENTS_PER_WAIT, d.pending_repairs ? REPAIR_RETRY_MS : -1);
		if (n < 0 && errno != EINTR) {
			hm_dlog(HM_DLOG_ERROR, "epoll_wait: %s", strerror(errno));
			break;
		}
		if (n == 0 && d.pending_repairs)
			repair_pass();
		for (int i = 0; i < n; i++)
			dispatch(evs[i].data.fd);
	}
}

int main(int argc, char **argv)
{
	int r = hm_cli_parse(&cli, &program, argc, argv);
	if (r >= 0)
		return r;
	d.config_path = cli.config;
	if ((r = load_config(cli.check)) != 0 || cli.check)
		return r;
	hm_dlog_set_level(d.cfg.log_level);

	hm_apply_scheduling(d.cfg.have_cpus ? &d.cfg.cpus : NULL, d.cfg.rt_priority);
	if (prepare_run_dir() != 0 || take_bus_lock() != 0)
		return 1;
	if (take_lock() != 0) {
		shutdown_all(false);
		return 1;
	}

	struct sigaction sa = {.sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	if (sigsetjmp(bus_fault, 1)) {
		segment_lost("was truncated under hermesd (SIGBUS on a page of it)");
		shutdown_all(false);
		return 1;
	}
	bool created;
	if (open_segment(&created) != 0) {
		shutdown_all(false);
		return 1;
	}
	bus_fault_armed = 1;
	if (create_missing_rings() != HERMES_OK || open_socket() != 0) {
		/* A segment we made a moment ago and cannot finish is removed:
		 * nothing half-made is left behind. */
		shutdown_all(created);
		return 1;
	}
	publish_supervisor();
	if (setup_event_loop() != 0) {
		shutdown_all(false);
		return 1;
	}
	/* A first repair pass right away: after a restart, clients may have
	 * died while no supervisor was watching. */
	repair_pass();
	hm_dlog(HM_DLOG_INFO, "ready: bus '%s', control socket %s", d.cfg.bus, d.sock_path);
	hm_notify_ready(NULL); /* systemd readiness (Type=notify) */

	event_loop();
	hm_dlog(HM_DLOG_INFO,
	       "stopped: %llu producer slot(s) repaired (%llu sequence(s) abandoned), %llu "
	       "subscriber(s) released",
	       (unsigned long long)d.counters.producers_repaired,
	       (unsigned long long)d.counters.messages_repaired,
	       (unsigned long long)d.counters.subscribers_released);
	shutdown_all(false);
	return d.exit_code;
}
