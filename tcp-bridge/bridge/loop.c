/* The bridge's event loop: one thread, one epoll set, non-blocking sockets.
 *
 * Each turn: wait for events (not at all while feeds or connections have
 * work left, or in busy-poll mode), read what sockets have (a bounded number
 * of reads per connection per turn, so one flood cannot starve the others),
 * expire deadlines, retry publishers waiting on a full ring, let the ready
 * feeds hand out messages, then write every connection with output in one
 * send() each. Connections are edge-triggered: a flag remembers that a
 * socket may have more to read or can take more, so a paused connection is
 * resumed without another event. Idle, it sleeps in epoll_wait with no
 * timeout, and the watcher thread sleeps on the rings. */
#include "tcp-bridge/bridge/loop.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/futex.h"
#include "daemon/log.h"
#include "daemon/notify.h"
#include "daemon/signals.h"
#include "tcp-bridge/bridge/link.h"
#include "tcp-bridge/client/netaddr.h"

#define TAG_LISTEN 1u
#define TAG_SIGNAL 2u
#define TAG_WATCH 3u
#define TAG_LINK 1u /* low bit of a link pointer */
#define READS_PER_TURN 8
#define CLOSE_GRACE_NS 2000000000ull
#define ACCEPT_PAUSE_NS 100000000ull
#define MAX_SLEEP_MS 60000  /* the longest epoll_wait: timers are re-checked after it */
#define EVENTS_PER_WAIT 256 /* epoll events, and fired watch slots, taken at once */
#define LISTEN_BACKLOG 1024

enum { DL_NONE = 0, DL_HANDSHAKE = 1, DL_CLOSING = 2 };

typedef struct loop {
	hm_bridge_cfg *cfg;
	hm_server srv;
	hermes_bus *bus;
	hm_watch *watch;
	hm_bridge_stats *stats;
	char stats_path[400];
	int epfd, lfd, sfd;
	char listen_str[128];
	unsigned port;
	bool stop, accept_paused;
	uint64_t accept_resume_ns;
	/* Deadline lists: every entry of one list has the same timeout, so
	 * appending keeps them sorted. */
	hm_conn_list dl[3];
	hm_conn *reap;
	/* Sessions by time of their last idle check (appended in time order,
	 * so sorted); see idle_check. */
	hm_conn_list idle;
	int spare_fd; /* kept open to refuse clients promptly at EMFILE */
	hm_link *links[HM_BRIDGE_MAX_LINKS];
	unsigned nlinks;
} loop;

/* ---- deadline lists ----------------------------------------------------------------------- */

static void dl_remove(loop *L, hm_conn *c)
{
	if (c->dl_which == DL_NONE)
		return;
	TAILQ_REMOVE(&L->dl[c->dl_which], c, dl_link);
	c->dl_which = DL_NONE;
}

static void dl_append(loop *L, hm_conn *c, unsigned w, uint64_t deadline)
{
	dl_remove(L, c);
	c->deadline_ns = deadline;
	c->dl_which = (uint8_t)w;
	TAILQ_INSERT_TAIL(&L->dl[w], c, dl_link);
}

/* The first connection of a deadline list whose deadline is at or before
 * now, or NULL. */
static hm_conn *dl_due(loop *L, unsigned w, uint64_t now)
{
	hm_conn *c = TAILQ_FIRST(&L->dl[w]);
	return c && c->deadline_ns <= now ? c : NULL;
}

/* ---- idle sessions ---------------------------------------------------------------------- */

static void idle_remove(loop *L, hm_conn *c)
{
	if (!c->idle_listed)
		return;
	TAILQ_REMOVE(&L->idle, c, idle_link);
	c->idle_listed = false;
}

/* (Re)queue c for a look in half the idle timeout. */
static void idle_append(loop *L, hm_conn *c)
{
	idle_remove(L, c);
	c->idle_listed = true;
	TAILQ_INSERT_TAIL(&L->idle, c, idle_link);
}

static uint64_t idle_half_ns(const loop *L)
{
	return (uint64_t)L->cfg->idle_timeout_ms * 500000u;
}

/* The head of the idle list is due (queued half a timeout ago). Silent for
 * half the timeout: PING it (any answer counts as traffic); silent for the
 * whole timeout, the PING unanswered: close it. Each check is half a
 * timeout after the last, so a silent session is closed after one to one
 * and a half idle timeouts. */
static void idle_check(loop *L, hm_conn *c)
{
	hm_server *s = &L->srv;
	uint64_t half = idle_half_ns(L);
	if (s->now_ns - c->last_rx_ns < half) {
		c->idle_at = s->now_ns;
		idle_append(L, c);
		return;
	}
	if (c->ping_sent) {
		idle_remove(L, c);
		hm_conn_fatal(c, HERMES_ETIMEDOUT, "idle for %u ms (idle_timeout_ms)",
			      L->cfg->idle_timeout_ms);
		return;
	}
	uint8_t *p = hm_conn_out_claim(c, HERMES_MSG_PING, 0, 0, s->now_ns, 0, 0);
	if (p)
		hm_conn_out_commit(c);
	c->ping_sent = true;
	c->idle_at = s->now_ns;
	idle_append(L, c);
}

/* ---- connections -------------------------------------------------------------------------- */

static void conn_abort(loop *L, hm_conn *c)
{
	(void)L;
	c->state = HM_CONN_CLOSED;
}

/* After anything happened to c: move it between deadline lists, shut down
 * or finish closing, queue it for destruction. */
static void conn_sync(loop *L, hm_conn *c)
{
	if (c->state == HM_CONN_SESSION && c->dl_which == DL_HANDSHAKE && !c->draining)
		dl_remove(L, c);
	if (c->state == HM_CONN_SESSION && !c->idle_listed && L->cfg->idle_timeout_ms) {
		c->idle_at = L->srv.now_ns;
		idle_append(L, c);
	}
	if (c->state > HM_CONN_SESSION)
		idle_remove(L, c);
	/* A half-closed peer gets as long as a handshake to take what it is
	 * owed (the same timeout, so the list stays sorted). */
	if (c->state == HM_CONN_SESSION && c->draining && c->dl_which == DL_NONE)
		dl_append(L, c, DL_HANDSHAKE, c->deadline_ns);
	if (c->state == HM_CONN_CLOSING) {
		if (c->dl_which != DL_CLOSING)
			dl_append(L, c, DL_CLOSING, L->srv.now_ns + CLOSE_GRACE_NS);
		/* All we had to say is out: half-close, then wait (bounded) for
		 * the peer to close, so our close does not turn into a reset
		 * that could destroy the error frame in flight. */
		if (!c->shut && hm_conn_out_pending(c) == 0) {
			shutdown(c->fd, SHUT_WR);
			c->shut = true;
		}
		if (c->shut && c->eof)
			c->state = HM_CONN_CLOSED;
	}
	if (c->state == HM_CONN_CLOSED && !c->reaping) {
		c->reaping = true;
		dl_remove(L, c);
		c->reap_next = L->reap;
		L->reap = c;
	}
}

static void conn_read(loop *L, hm_conn *c)
{
	int reads = 0;
	while (c->readable && c->state != HM_CONN_CLOSED) {
		if (c->state == HM_CONN_CLOSING) {
			/* Closing: read and discard until the peer closes. */
			char sink[4096];
			ssize_t r = recv(c->fd, sink, sizeof sink, MSG_DONTWAIT);
			if (r > 0)
				continue;
			if (r < 0 && errno == EINTR)
				continue;
			c->readable = false;
			if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
				c->eof = true;
			break;
		}
		if (!hm_conn_wants_input(c))
			break;
		if (reads++ == READS_PER_TURN) {
			hm_server_mark_wake(&L->srv, c);
			break;
		}
		size_t room;
		uint8_t *p = hm_conn_in_space(c, &room);
		if (room == 0)
			break;
		ssize_t r = recv(c->fd, p, room, MSG_DONTWAIT);
		if (r > 0) {
			hm_conn_input(c, (size_t)r);
		} else if (r == 0) {
			c->readable = false;
			hm_conn_eof(c);
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			c->readable = false;
		} else if (errno != EINTR) {
			/* Reset by the peer: nothing more can be said to it. */
			c->readable = false;
			c->eof = true;
			conn_abort(L, c);
		}
	}
}

static void conn_write(loop *L, hm_conn *c)
{
	while (c->writable && hm_conn_out_pending(c) && c->state != HM_CONN_CLOSED) {
		ssize_t w = send(c->fd, c->out + c->out_off, hm_conn_out_pending(c),
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			hm_conn_output_done(c, (size_t)w);
		} else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			c->writable = false;
		} else if (w < 0 && errno == EINTR) {
			continue;
		} else {
			conn_abort(L, c);
		}
	}
}

static void conn_event(loop *L, hm_conn *c, uint32_t ev)
{
	if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->readable = true;
	if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		c->writable = true;
	if (c->writable)
		conn_write(L, c);
	conn_read(L, c);
	conn_sync(L, c);
}

/* A refusal for a connection we will not serve: one ERROR frame, best
 * effort, then close. */
static void refuse(int fd, hermes_err code, const char *text)
{
	uint8_t buf[512];
	hermes_encoder e;
	hermes_encoder_init(&e, buf, sizeof buf);
	hermes_wire_msg m = {.type = HERMES_MSG_ERROR};
	m.error.code = (uint32_t)code;
	m.error.fatal = 1;
	m.error.text = text;
	m.error.text_len = strlen(text);
	if (hermes_wire_msg_encode(&e, 0, 0, &m, NULL) == HERMES_OK) {
		hermes_wire_bytes b = hermes_encoder_data(&e);
		(void)send(fd, b.data, b.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	close(fd);
}

/* Out of descriptors: free the spare one, take the client and refuse it at
 * once (rather than leave it hanging in the backlog), take the spare back.
 * True when accepting can go on; else errno says why not. */
static bool refuse_with_spare(loop *L)
{
	close(L->spare_fd);
	L->spare_fd = -1;
	int fd = accept4(L->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	int e = errno;
	if (fd >= 0) {
		hm_stat_add(&L->stats->c.connections_refused, 1);
		hm_dlog(HM_DLOG_WARN, "refusing a client: out of file descriptors "
				       "(RLIMIT_NOFILE)");
		refuse(fd, HERMES_ETOOMANY, "the bridge is out of file descriptors");
	}
	L->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && L->spare_fd >= 0)
		return true;
	errno = fd >= 0 ? EMFILE : e;
	return false;
}

/* accept4 failed (errno): true to try again at once. */
static bool accept_failed(loop *L)
{
	if (errno == EINTR || errno == ECONNABORTED)
		return true;
	if ((errno == EMFILE || errno == ENFILE) && L->spare_fd >= 0 && refuse_with_spare(L))
		return true;
	if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
		/* Out of descriptors: stop accepting for a moment rather than
		 * spin on a listen socket that stays readable. */
		hm_dlog(HM_DLOG_WARN, "accept: %s; pausing accepts for 100 ms", strerror(errno));
		epoll_ctl(L->epfd, EPOLL_CTL_DEL, L->lfd, NULL);
		L->accept_paused = true;
		L->accept_resume_ns = L->srv.now_ns + ACCEPT_PAUSE_NS;
	}
	return false;
}

/* Refuse a client over a connection limit: counted, logged with its peer. */
static void refuse_over_limit(loop *L, int fd, const char *peer, const char *why, unsigned n,
			      const char *text)
{
	hm_stat_add(&L->stats->c.connections_refused, 1);
	hm_dlog_kv kv = {0};
	hm_dlog_str(&kv, "peer", peer);
	hm_dlog(HM_DLOG_WARN, "refusing a connection: %u %s%s", n, why, kv.s);
	refuse(fd, HERMES_ETOOMANY, text);
}

/* Is there room for one more client from addr? If not, it is refused. */
static bool admit(loop *L, int fd, const char *peer, const char *addr)
{
	if (L->srv.nconns >= L->cfg->max_connections) {
		refuse_over_limit(L, fd, peer, "already (max_connections)", L->srv.nconns,
				  "too many connections");
		return false;
	}
	unsigned same = 0;
	for (hm_conn *o = L->srv.conns; o; o = o->next)
		same += !strcmp(o->addr, addr);
	if (same >= L->cfg->max_conns_per_address) {
		refuse_over_limit(L, fd, peer,
				  "from that address already (max_connections_per_address)", same,
				  "too many connections from this address");
		return false;
	}
	return true;
}

static void set_client_options(int fd)
{
	int one = 1, idle = 60, intvl = 10, cnt = 6;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	/* Half-open peers (a host that vanished) are found by the kernel, at
	 * no cost to the loop. */
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
}

/* A connection for an admitted client, watched by epoll, on the handshake
 * deadline list. */
static void add_conn(loop *L, int fd, const char *peer, const char *addr)
{
	hm_conn *c = hm_conn_create(&L->srv, fd, peer);
	if (!c) {
		hm_dlog(HM_DLOG_ERROR, "no memory for a connection from %s", peer);
		refuse(fd, HERMES_ENOMEM, "out of memory");
		return;
	}
	snprintf(c->addr, sizeof c->addr, "%s", addr);
	c->writable = true;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
	if (epoll_ctl(L->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		hm_dlog(HM_DLOG_ERROR, "epoll_ctl: %s", strerror(errno));
		hm_conn_destroy(c);
		close(fd);
		return;
	}
	dl_append(L, c, DL_HANDSHAKE, c->deadline_ns);
	hm_dlog_kv kv = {0};
	hm_conn_log_fields(c, &kv);
	hm_dlog(HM_DLOG_DEBUG, "connection accepted%s", kv.s);
}

static void on_accept(loop *L)
{
	for (;;) {
		struct sockaddr_storage sa;
		socklen_t sl = sizeof sa;
		int fd = accept4(L->lfd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (accept_failed(L))
				continue;
			return;
		}
		char peer[64], addr[64] = "?";
		hm_netaddr_format((struct sockaddr *)&sa, peer, sizeof peer);
		getnameinfo((struct sockaddr *)&sa, sl, addr, sizeof addr, NULL, 0, NI_NUMERICHOST);
		if (!admit(L, fd, peer, addr))
			continue;
		set_client_options(fd);
		add_conn(L, fd, peer, addr);
	}
}

static void reap_all(loop *L)
{
	while (L->reap) {
		hm_conn *c = L->reap;
		L->reap = c->reap_next;
		hm_dlog_kv kv = {0};
		hm_conn_log_fields(c, &kv);
		hm_dlog(HM_DLOG_DEBUG, "connection closed (%s)%s", hermes_err_name(c->close_reason),
		       kv.s);
		int fd = c->fd;
		epoll_ctl(L->epfd, EPOLL_CTL_DEL, fd, NULL);
		idle_remove(L, c);
		hm_conn_destroy(c);
		close(fd);
	}
}

/* ---- set-up ------------------------------------------------------------------------------ */

static int open_listener(loop *L)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	if (hm_server_resolve(L->cfg->listen, true, &ss, &sl) != 0) {
		hm_dlog(HM_DLOG_ERROR, "cannot resolve the listen address '%s'", L->cfg->listen);
		return -1;
	}
	/* The contract: anything but loopback needs authentication, or an
	 * explicit --insecure. */
	if (!hm_netaddr_is_loopback((struct sockaddr *)&ss) && !L->cfg->nidents &&
	    !L->cfg->insecure) {
		hm_dlog(HM_DLOG_ERROR,
		       "refusing to listen on %s without authentication: anyone who can reach it "
		       "could publish and subscribe. Configure --auth FILE, or pass --insecure if "
		       "the network is trusted",
		       L->cfg->listen);
		return -1;
	}
	/* Serving clients that do not authenticate is a choice the operator
	 * makes explicitly, even on loopback: the bus's file mode does not
	 * apply to what comes in over TCP (any local user could connect). */
	if (!L->cfg->nidents && !L->cfg->allow_anonymous) {
		hm_dlog(HM_DLOG_ERROR,
		       "refusing to listen on %s: without --auth FILE, every client would be "
		       "anonymous, and any user who can connect (on loopback: any local user) could "
		       "use the bus regardless of its file mode. Configure --auth FILE, or pass "
		       "--allow-anonymous if that is intended",
		       L->cfg->listen);
		return -1;
	}
	L->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (L->lfd < 0 || setsockopt(L->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(L->lfd, (struct sockaddr *)&ss, sl) != 0 || listen(L->lfd, LISTEN_BACKLOG) != 0) {
		hm_dlog(HM_DLOG_ERROR, "cannot listen on %s: %s", L->cfg->listen, strerror(errno));
		return -1;
	}
	sl = sizeof ss;
	getsockname(L->lfd, (struct sockaddr *)&ss, &sl);
	hm_netaddr_format((struct sockaddr *)&ss, L->listen_str, sizeof L->listen_str);
	L->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
					   : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

/* systemd readiness (and, for tests and scripts, the port actually bound
 * when the configuration said port 0). */
static void notify_ready(loop *L)
{
	char status[200];
	snprintf(status, sizeof status, "listening on %s", L->listen_str);
	hm_notify_ready(status);
}

static void raise_fd_limit(unsigned want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	rlim_t need = (rlim_t)want + 64;
	if (rl.rlim_cur < need && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need)
		hm_dlog(HM_DLOG_WARN,
		       "only %llu file descriptors allowed (RLIMIT_NOFILE): fewer than "
		       "max_connections (%u) can be served",
		       (unsigned long long)rl.rlim_cur, want);
}

/* ---- the loop ----------------------------------------------------------------------------- */

static int next_timeout_ms(loop *L, uint64_t links_next)
{
	hm_server *s = &L->srv;
	if (s->ready_head || s->wake || (L->cfg->busy_poll && s->nfeeds))
		return 0;
	/* Right after activity, look again instead of sleeping: the answer to
	 * what we just sent often comes within microseconds, and waking up
	 * through the watcher and epoll costs more than that. Bounded, so an
	 * idle bridge still sleeps. */
	if (s->nfeeds && hm_now_ns() - s->active_ns < (uint64_t)L->cfg->idle_spin_us * 1000u)
		return 0;
	uint64_t next = links_next;
	for (unsigned w = DL_HANDSHAKE; w <= DL_CLOSING; w++) {
		const hm_conn *c = TAILQ_FIRST(&L->dl[w]);
		if (c && c->deadline_ns < next)
			next = c->deadline_ns;
	}
	if (L->accept_paused && L->accept_resume_ns < next)
		next = L->accept_resume_ns;
	const hm_conn *idle = TAILQ_FIRST(&L->idle);
	if (idle && idle->idle_at + idle_half_ns(L) < next)
		next = idle->idle_at + idle_half_ns(L);
	if (s->blocked)
		return 1; /* publishers wait for room in a block ring */
	if (next == UINT64_MAX)
		return -1;
	uint64_t now = hm_now_ns();
	if (next <= now)
		return 0;
	uint64_t ms = (next - now + 999999) / 1000000;
	return ms > MAX_SLEEP_MS ? MAX_SLEEP_MS : (int)ms;
}

/* The bridge's public key, for clients to pin (when it has a secret). */
static void log_public_key(const hm_bridge_cfg *cfg)
{
	if (!cfg->secret)
		return;
	char hex[2 * HERMES_KX_PUBLIC_KEY_SIZE + 1];
	hm_auth_hex(cfg->public_key, sizeof cfg->public_key, hex);
	hm_dlog(HM_DLOG_INFO, "public key %s (fingerprint %.16s)", hex, hex);
}

/* SIGHUP: identities, keys and permissions from the auth file (the rest
 * of the configuration needs a restart). */
static void reload(loop *L)
{
	if (!L->cfg->auth_file[0]) {
		hm_dlog(HM_DLOG_INFO, "SIGHUP: no auth file to reload (restart to change the "
				       "configuration)");
		return;
	}
	unsigned closed = 0;
	if (hm_server_reload_auth(&L->srv, L->cfg, &closed) != HERMES_OK) {
		hm_dlog(HM_DLOG_ERROR, "SIGHUP: %s; the identities loaded before stay",
		       hermes_last_error_detail());
		return;
	}
	hm_dlog(HM_DLOG_INFO,
	       "SIGHUP: %u identities reloaded from %s; %u session(s) of revoked or changed "
	       "identities closed",
	       L->cfg->nidents, L->cfg->auth_file, closed);
	log_public_key(L->cfg);
}

static void on_signals(loop *L)
{
	struct signalfd_siginfo si;
	while (read(L->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGHUP) {
			reload(L);
			continue;
		}
		hm_dlog(HM_DLOG_INFO, "%s: stopping", strsignal((int)si.ssi_signo));
		L->stop = true;
	}
}

static void dispatch(loop *L, const struct epoll_event *evs, int n)
{
	for (int i = 0; i < n; i++) {
		uint64_t tag = evs[i].data.u64;
		if (tag == TAG_LISTEN) {
			on_accept(L);
		} else if (tag == TAG_SIGNAL) {
			on_signals(L);
		} else if (tag == TAG_WATCH) {
			int slots[EVENTS_PER_WAIT];
			unsigned k;
			while ((k = hm_watch_collect(L->watch, slots, EVENTS_PER_WAIT)) > 0)
				hm_feeds_fired(&L->srv, slots, k);
		} else if (tag & TAG_LINK) {
			hm_link_on_io((hm_link *)(uintptr_t)(tag & ~(uint64_t)TAG_LINK), evs[i].events);
		} else {
			conn_event(L, (hm_conn *)evs[i].data.ptr, evs[i].events);
		}
	}
}

/* Handshakes out of time, idle sessions, closings whose grace ran out, and
 * a paused listener whose pause is over. */
static void run_deadlines(loop *L)
{
	hm_server *s = &L->srv;
	hm_conn *c;
	while ((c = dl_due(L, DL_HANDSHAKE, s->now_ns))) {
		dl_remove(L, c);
		hm_conn_timeout(c);
		conn_write(L, c);
		conn_sync(L, c);
	}
	while ((c = TAILQ_FIRST(&L->idle)) && c->idle_at + idle_half_ns(L) <= s->now_ns) {
		idle_check(L, c);
		conn_write(L, c);
		conn_sync(L, c);
	}
	while ((c = dl_due(L, DL_CLOSING, s->now_ns))) {
		dl_remove(L, c);
		c->state = HM_CONN_CLOSED;
		conn_sync(L, c);
	}
	if (L->accept_paused && s->now_ns >= L->accept_resume_ns) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_LISTEN};
		epoll_ctl(L->epfd, EPOLL_CTL_ADD, L->lfd, &ev);
		L->accept_paused = false;
	}
}

/* Connections to look at again: publishers waiting for room in a block
 * ring, and those resumed after a pause, with more to read than one turn's
 * share, or closing. */
static void run_wakes(loop *L)
{
	hm_server *s = &L->srv;
	if (s->blocked)
		for (hm_conn *c = s->conns; c; c = c->next)
			if (c->pub_blocked)
				hm_server_mark_wake(s, c);
	hm_conn *wake = s->wake;
	s->wake = NULL;
	while (wake) {
		hm_conn *c = wake;
		wake = c->wake_next;
		c->in_wake = false;
		hm_conn_process(c);
		conn_read(L, c);
		conn_sync(L, c);
	}
}

/* Write out what this turn produced: one send per connection. */
static void flush_dirty(loop *L)
{
	hm_conn *dirty = L->srv.dirty;
	L->srv.dirty = NULL;
	while (dirty) {
		hm_conn *c = dirty;
		dirty = c->dirty_next;
		c->in_dirty = false;
		conn_write(L, c);
		conn_sync(L, c);
	}
}

/* Let every link do its timed work; the earliest time one wants again, at
 * most `next`. */
static uint64_t tick_links(loop *L, uint64_t next)
{
	for (unsigned i = 0; i < L->nlinks; i++) {
		uint64_t t = hm_link_tick(L->links[i]);
		if (t < next)
			next = t;
	}
	return next;
}

static void run(loop *L)
{
	hm_server *s = &L->srv;
	struct epoll_event evs[EVENTS_PER_WAIT];
	uint64_t links_next = 0;
	while (!L->stop) {
		int timeout = next_timeout_ms(L, links_next);
		if (timeout != 0)
			hm_feeds_watch(s); /* about to sleep: the watcher takes over */
		int n = epoll_wait(L->epfd, evs, EVENTS_PER_WAIT, timeout);
		if (n < 0 && errno != EINTR) {
			hm_dlog(HM_DLOG_ERROR, "epoll_wait: %s", strerror(errno));
			break;
		}
		s->now_ns = hm_now_ns();
		dispatch(L, evs, n);
		run_deadlines(L);
		run_wakes(L);
		if (n == 0 && s->nfeeds && !L->cfg->busy_poll)
			hm_feeds_peek(s);
		links_next = tick_links(L, UINT64_MAX);
		hm_feeds_run(s);
		flush_dirty(L);
		links_next = tick_links(L, links_next);
		reap_all(L);
	}
}

static void shutdown_all(loop *L)
{
	hm_server *s = &L->srv;
	/* Say goodbye to every session (best effort: one send each). */
	for (hm_conn *c = s->conns; c; c = c->next) {
		if (c->state == HM_CONN_SESSION) {
			uint8_t *p = hm_conn_out_claim(c, HERMES_MSG_GOODBYE, 0, 0, 0, 4, 0);
			if (p) {
				memset(p, 0, 4);
				hm_conn_out_commit(c);
			}
			conn_write(L, c);
		}
		c->state = HM_CONN_CLOSED;
		conn_sync(L, c);
	}
	reap_all(L);
	for (unsigned i = 0; i < L->nlinks; i++)
		hm_link_destroy(L->links[i]);
	L->nlinks = 0;
	L->srv.nlinks = 0;
}

/* The ring watcher, unless the loop busy-polls. False: cannot start. */
static bool start_watcher(loop *L)
{
	if (L->cfg->busy_poll)
		return true;
	if (hm_watch_create(&L->watch) != HERMES_OK) {
		hm_dlog(HM_DLOG_ERROR, "%s", hermes_last_error_detail());
		return false;
	}
	if (!hm_watch_precise(L->watch))
		hm_dlog(HM_DLOG_WARN, "futex_waitv is not available (Linux < 5.16): idle rings "
				       "are checked every 5 ms");
	return true;
}

/* Signals by signalfd, and the epoll set: listener, signals, watcher. */
static bool setup_events(loop *L)
{
	L->sfd = hm_signals_fd();
	L->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (L->sfd < 0 || L->epfd < 0) {
		hm_dlog(HM_DLOG_ERROR, "cannot set up the event loop: %s", strerror(errno));
		return false;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_LISTEN};
	epoll_ctl(L->epfd, EPOLL_CTL_ADD, L->lfd, &ev);
	ev.data.u64 = TAG_SIGNAL;
	epoll_ctl(L->epfd, EPOLL_CTL_ADD, L->sfd, &ev);
	if (L->watch) {
		ev.data.u64 = TAG_WATCH;
		epoll_ctl(L->epfd, EPOLL_CTL_ADD, hm_watch_fd(L->watch), &ev);
	}
	return true;
}

static void start_links(loop *L)
{
	for (unsigned i = 0; i < L->cfg->nlinks; i++) {
		hm_link *l = hm_link_create(&L->srv, &L->cfg->links[i], i, L->epfd);
		if (l)
			L->links[L->nlinks++] = l;
		L->srv.links = L->links;
		L->srv.nlinks = L->nlinks;
	}
}

/* The counters file's header, published by its magic, and the log lines
 * that say the bridge is up. */
static void announce(loop *L)
{
	const hm_bridge_cfg *cfg = L->cfg;
	hm_bridge_stats_header *h = &L->stats->h;
	/* Release: a reader that acquires the magic sees the header above. */
	hm_store_release_u64(&h->magic, HM_BRIDGE_STATS_MAGIC);
	hm_dlog(HM_DLOG_INFO, "listening on %s for bus '%s' as '%s'%s%s%s", L->listen_str, cfg->bus,
	       L->srv.name, cfg->nidents ? ", authentication required" : "",
	       cfg->busy_poll ? ", busy-poll" : "", L->stats_path[0] ? "" : ", no counters file");
	if (L->stats_path[0])
		hm_dlog(HM_DLOG_INFO, "counters in %s", L->stats_path);
	log_public_key(cfg);
}

/* Everything set up so far, in reverse. */
static void teardown(loop *L)
{
	shutdown_all(L);
	if (L->lfd >= 0)
		close(L->lfd);
	if (L->srv.cfg)
		hm_server_fini(&L->srv);
	hm_watch_destroy(L->watch);
	if (L->stats)
		hm_stats_close(L->stats, L->stats_path);
	if (L->sfd >= 0)
		close(L->sfd);
	if (L->spare_fd >= 0)
		close(L->spare_fd);
	if (L->epfd >= 0)
		close(L->epfd);
	hermes_bus_detach(L->bus);
	free(L);
}

int hm_bridge_run(hm_bridge_cfg *cfg)
{
	loop *L = calloc(1, sizeof *L);
	if (!L)
		return 1;
	L->cfg = cfg;
	for (unsigned w = 0; w < sizeof L->dl / sizeof L->dl[0]; w++)
		TAILQ_INIT(&L->dl[w]);
	TAILQ_INIT(&L->idle);
	L->epfd = L->lfd = L->sfd = -1;
	L->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int rc = 1;
	hm_dlog_set_level(cfg->log_level);
	raise_fd_limit(cfg->max_connections + 2 * cfg->nlinks);

	hermes_err err = hermes_bus_attach(cfg->bus, &L->bus);
	if (err) {
		hm_dlog(HM_DLOG_ERROR, "cannot attach to bus '%s': %s (%s)%s", cfg->bus,
		       hermes_strerror(err), hermes_last_error_detail(),
		       err == HERMES_ENOENT ? "; is hermesd running for it?" : "");
		goto out;
	}
	if (open_listener(L) != 0)
		goto out;
	if (hm_stats_open(cfg->stats_dir, cfg->bus, L->port, cfg->stats_mode, &L->stats,
			  L->stats_path, sizeof L->stats_path) != HERMES_OK) {
		if (!L->stats) {
			hm_dlog(HM_DLOG_ERROR, "%s", hermes_last_error_detail());
			goto out;
		}
		hm_dlog(HM_DLOG_WARN, "no %s (counting in memory only)", hermes_last_error_detail());
	}
	if (!start_watcher(L))
		goto out;
	if (hm_server_init(&L->srv, cfg, L->bus, L->watch, L->stats) != HERMES_OK) {
		hm_dlog(HM_DLOG_ERROR, "cannot set up: %s", hermes_last_error_detail());
		goto out;
	}
	L->srv.now_ns = hm_now_ns();
	hm_bridge_stats_header *h = &L->stats->h;
	h->bus_id = L->srv.bus_id;
	h->nlinks = cfg->nlinks;
	snprintf(h->listen, sizeof h->listen, "%s", L->listen_str);
	snprintf(h->name, sizeof h->name, "%.191s", L->srv.name);
	if (!setup_events(L))
		goto out;
	start_links(L);
	announce(L);
	notify_ready(L);
	run(L);
	rc = 0;
out:
	teardown(L);
	return rc;
}
