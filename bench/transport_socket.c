/* Kernel transports: a pipe, a Unix stream socket and TCP over loopback.
 *
 * Each is used the way a program would use it for fixed-size messages over
 * a byte stream: blocking reads and writes (the kernel wakes the reader),
 * one write per message with the single-message API, one write of the
 * whole batch with the batch API, and a consumer that reads whatever is
 * there (up to 256 messages or 256 KiB) with one read. TCP has TCP_NODELAY.
 * The coordinator makes the connected descriptors before the fork (a pipe,
 * socketpair, or a loopback connect/accept); each worker closes the ends it
 * does not use, so a peer that dies shows up as end-of-file. Sockets have
 * 100 ms send and receive timeouts so the stop flags are seen; a pipe has
 * none, and a blocking pipe call is interrupted by the SIGTERM that stops a
 * worker.
 */
#include "bench_loops.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

typedef enum sock_kind { SK_PIPE, SK_UNIX, SK_TCP } sock_kind;

int sock_set_timeouts(int fd, uint64_t ns)
{
	struct timeval tv = {(time_t)(ns / NS_PER_S), (suseconds_t)((ns % NS_PER_S) / 1000)};
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
		return -1;
	return 0;
}

void sock_tune(int fd, const bench_opts *o, bool tcp)
{
	int one = 1;
	if (tcp && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
		say_warning("TCP_NODELAY: %s", strerror(errno));
	if (o->busy_poll_us > 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &o->busy_poll_us, sizeof o->busy_poll_us) != 0)
		say_warning("SO_BUSY_POLL %d: %s", o->busy_poll_us, strerror(errno));
}

/* Two connected descriptors: fd[0] is written, fd[1] read (a pipe), or both
 * ends of a socket (either way). */
typedef struct chan {
	int fd[2];
} chan;

static void chan_close(chan *c)
{
	for (int i = 0; i < 2; i++)
		if (c->fd[i] >= 0) {
			close(c->fd[i]);
			c->fd[i] = -1;
		}
}

/* A connected TCP pair over 127.0.0.1: listen on an ephemeral port, connect,
 * accept. Loopback connects complete from the listen backlog, so one
 * process can do all three. */
static int tcp_pair(int fd[2])
{
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int cfd = -1, afd = -1;
	if (lfd < 0)
		goto fail;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof a;
	if (bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 1) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) != 0)
		goto fail;
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cfd < 0 || connect(cfd, (struct sockaddr *)&a, sizeof a) != 0)
		goto fail;
	afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (afd < 0)
		goto fail;
	close(lfd);
	fd[0] = cfd;
	fd[1] = afd;
	return 0;
fail:
	say_error("TCP loopback pair: %s", strerror(errno));
	if (lfd >= 0)
		close(lfd);
	if (cfd >= 0)
		close(cfd);
	return -1;
}

/* Make a channel of `kind` in the coordinator. */
static int chan_make(chan *c, sock_kind kind, const bench_opts *o)
{
	c->fd[0] = c->fd[1] = -1;
	int rc;
	switch (kind) {
	case SK_PIPE:
		rc = pipe2(c->fd, O_CLOEXEC);
		break;
	case SK_UNIX:
		rc = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, c->fd);
		break;
	default:
		rc = tcp_pair(c->fd);
		break;
	}
	if (rc != 0) {
		say_error("making a channel: %s", strerror(errno));
		return -1;
	}
	if (kind != SK_PIPE)
		for (int i = 0; i < 2; i++) {
			sock_tune(c->fd[i], o, kind == SK_TCP);
			sock_set_timeouts(c->fd[i], WAIT_SLICE_NS);
		}
	return 0;
}

/* One worker's ends: it writes to wfd and reads from rfd. */
typedef struct sock_end {
	int rfd;
	int wfd;
	uint32_t size;
	uint8_t *buf;	 /* received bytes */
	size_t cap;	 /* bytes buf holds */
	size_t have;	 /* bytes in buf */
	size_t msg_off;	 /* latency: where the message handed out starts */
	uint8_t *obuf;	 /* throughput producer: a batch of outgoing messages */
	uint32_t claimed;
	const char *label;
} sock_end;

/* Write all of len bytes. Returns 1, or -1 on an error or a stop. */
static int write_all(sock_end *e, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(e->wfd, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (worker_stopping() || ctl_get(&g_ctl->stop))
				return -1;
			continue;
		}
		if (!worker_stopping() && !ctl_get(&g_ctl->stop))
			say_error("%s: write: %s", e->label, n < 0 ? strerror(errno) : "wrote 0");
		return -1;
	}
	return 1;
}

/* Read what is there (blocking up to the socket timeout when nothing is)
 * into buf after `have`. Returns bytes read, 0 on a timeout, -1 on end of
 * file or an error (quietly when the run is over). */
static ssize_t read_some(sock_end *e)
{
	ssize_t n = read(e->rfd, e->buf + e->have, e->cap - e->have);
	if (n > 0) {
		e->have += (size_t)n;
		return n;
	}
	if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	bool over = ctl_get(&g_ctl->stop) || ctl_get(&g_ctl->done);
	if (over)
		return 0;
	if (!worker_stopping())
		say_error("%s: read: %s", e->label, n < 0 ? strerror(errno) : "the peer closed");
	return -1;
}

static int sock_end_init(sock_end *e, int rfd, int wfd, uint32_t size, size_t cap,
			 size_t ocap, const char *label)
{
	memset(e, 0, sizeof *e);
	e->rfd = rfd;
	e->wfd = wfd;
	e->size = size;
	e->cap = cap;
	e->label = label;
	e->buf = malloc(cap);
	e->obuf = ocap ? malloc(ocap) : NULL;
	if (!e->buf || (ocap && !e->obuf)) {
		say_error("out of memory");
		return -1;
	}
	return 0;
}

static void sock_end_fini(sock_end *e)
{
	free(e->buf);
	free(e->obuf);
}

/* ---- latency ---- */

static int sk_lat_send(void *vc, const void *src, uint32_t len)
{
	sock_end *e = vc;
	return write_all(e, src, len);
}

static int sk_lat_peek(void *vc, const void **data, uint32_t *len)
{
	sock_end *e = vc;
	/* A message is exactly size bytes; ping-pong never has more than one
	 * in flight, but a read may return it in pieces. */
	while (e->have < e->size) {
		ssize_t n = read_some(e);
		if (n < 0)
			return -1;
		if (n == 0 && e->have == 0)
			return 0;
		if (n == 0 && (worker_stopping() || ctl_get(&g_ctl->stop)))
			return -1;
	}
	*data = e->buf;
	*len = e->size;
	return 1;
}

static void sk_lat_done(void *vc)
{
	sock_end *e = vc;
	memmove(e->buf, e->buf + e->size, e->have - e->size);
	e->have -= e->size;
}

static const lat_ops sk_lat_ops = {sk_lat_send, sk_lat_peek, sk_lat_done, NULL};

typedef struct sk_state {
	sock_kind kind;
	chan a; /* latency: ping -> echo; throughput: producer -> consumer */
	chan b; /* latency: echo -> ping */
} sk_state;

/* A measurement's channels, none made yet; NULL when out of memory. */
static sk_state *sk_state_new(void **state, sock_kind kind)
{
	sk_state *s = calloc(1, sizeof *s);
	if (s) {
		s->kind = kind;
		s->a.fd[0] = s->a.fd[1] = s->b.fd[0] = s->b.fd[1] = -1;
	}
	*state = s;
	return s;
}

static int sk_lat_setup_kind(lat_job *j, sock_kind kind)
{
	sk_state *s = sk_state_new(&j->state, kind);
	if (!s || chan_make(&s->a, kind, j->o) != 0)
		return -1;
	/* Sockets are two-way: one is enough. */
	if (kind == SK_PIPE && chan_make(&s->b, kind, j->o) != 0)
		return -1;
	return 0;
}

static void sk_teardown(void **state)
{
	sk_state *s = *state;
	if (s) {
		chan_close(&s->a);
		chan_close(&s->b);
		free(s);
	}
	*state = NULL;
}

/* The workers have their own copies now; ours would keep a pipe from ever
 * reporting end-of-file to a worker whose peer exited. */
static void sk_started(void *state)
{
	sk_state *s = state;
	chan_close(&s->a);
	chan_close(&s->b);
}

static void sk_lat_teardown(lat_job *j)
{
	sk_teardown(&j->state);
}

/* The descriptors of one latency side, closing the others' in this process
 * so the peer's exit shows as end of file. */
static void sk_lat_fds(sk_state *s, bool pinging, int *rfd, int *wfd)
{
	if (s->kind == SK_PIPE) {
		/* a carries pings, b echoes; a pipe's fd[1] is its write end. */
		int a_r = s->a.fd[0], a_w = s->a.fd[1], b_r = s->b.fd[0], b_w = s->b.fd[1];
		*wfd = pinging ? a_w : b_w;
		*rfd = pinging ? b_r : a_r;
		close(pinging ? a_r : a_w);
		close(pinging ? b_w : b_r);
	} else {
		int mine = pinging ? s->a.fd[0] : s->a.fd[1];
		close(pinging ? s->a.fd[1] : s->a.fd[0]);
		*rfd = *wfd = mine;
	}
}

static int sk_lat_side(lat_job *j, bool pinging, hm_hist *h)
{
	int rfd, wfd;
	sk_lat_fds(j->state, pinging, &rfd, &wfd);
	sock_end e;
	int rc = -1;
	if (sock_end_init(&e, rfd, wfd, j->size, 2u * j->size, 0, j->label) == 0)
		rc = lat_side_run(&sk_lat_ops, &e, j, pinging, true, h);
	sock_end_fini(&e);
	return rc;
}

/* ---- throughput ---- */

#define SK_READ_MAX (256u * 1024u)

static int sk_tp_claim(void *vc, uint32_t n, uint32_t len, void **ptrs)
{
	sock_end *e = vc;
	return claim_in_buffer(e->obuf, &e->claimed, n, len, ptrs);
}

static int sk_tp_commit(void *vc)
{
	sock_end *e = vc;
	return write_all(e, e->obuf, (size_t)e->claimed * e->size) > 0 ? 0 : -1;
}

static int sk_tp_drain(void *vc, unsigned max, tp_check *chk, unsigned *got)
{
	sock_end *e = vc;
	*got = 0;
	if (read_some(e) < 0)
		return -1;
	size_t n = e->have / e->size;
	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++)
		tp_check_msg(chk, e->buf + i * e->size, e->size);
	size_t used = n * e->size;
	/* Keep a partial message for the next read. */
	memmove(e->buf, e->buf + used, e->have - used);
	e->have -= used;
	*got = (unsigned)n;
	return 0;
}

static const tp_ops sk_tp_ops = {sk_tp_claim, sk_tp_commit, sk_tp_drain, true};

static int sk_tp_setup_kind(tp_job *j, sock_kind kind)
{
	sk_state *s = sk_state_new(&j->state, kind);
	return s ? chan_make(&s->a, kind, j->o) : -1;
}

static void sk_tp_teardown(tp_job *j)
{
	sk_teardown(&j->state);
}

static int sk_tp_produce(tp_job *j, unsigned index)
{
	sk_state *s = j->state;
	/* A pipe writes fd[1]; a socket pair's producer takes fd[0]. */
	int wfd = s->kind == SK_PIPE ? s->a.fd[1] : s->a.fd[0];
	close(s->kind == SK_PIPE ? s->a.fd[0] : s->a.fd[1]);
	sock_end e;
	int rc = -1;
	if (sock_end_init(&e, -1, wfd, j->size, 16, (size_t)j->batch * j->size, j->label) == 0 &&
	    worker_ready() == 0)
		rc = tp_produce(&sk_tp_ops, &e, j, index);
	sock_end_fini(&e);
	return rc;
}

static int sk_tp_consume(tp_job *j, unsigned index)
{
	sk_state *s = j->state;
	int rfd = s->kind == SK_PIPE ? s->a.fd[0] : s->a.fd[1];
	close(s->kind == SK_PIPE ? s->a.fd[1] : s->a.fd[0]);
	size_t cap = (size_t)TP_DRAIN_MAX * j->size;
	if (cap > SK_READ_MAX)
		cap = SK_READ_MAX;
	if (cap < 2u * j->size)
		cap = 2u * j->size;
	sock_end e;
	int rc = -1;
	if (sock_end_init(&e, rfd, -1, j->size, cap, 0, j->label) == 0 && worker_ready() == 0)
		rc = tp_consume(&sk_tp_ops, &e, j, index, false);
	sock_end_fini(&e);
	return rc;
}

/* ---- the rows ---- */

/* The three rows share one blocking read/write end per worker; only the
 * kind of descriptor their set-ups make differs. */
#define SOCKET_TRANSPORT(id, kind, text)                                                          \
	static int id##_lat_setup(lat_job *j)                                                     \
	{                                                                                         \
		return sk_lat_setup_kind(j, kind);                                                \
	}                                                                                         \
	static int id##_tp_setup(tp_job *j)                                                       \
	{                                                                                         \
		return sk_tp_setup_kind(j, kind);                                                 \
	}                                                                                         \
	const transport transport_##id = {                                                        \
		.name = #id, .about = text, .waits = 1u << W_BLOCK, .topos = 1u << TOPO_1_1,      \
		.batch = true, .started = sk_started, .lat_setup = id##_lat_setup,                \
		.lat_teardown = sk_lat_teardown, .lat_side = sk_lat_side,                         \
		.tp_setup = id##_tp_setup, .tp_teardown = sk_tp_teardown,                          \
		.tp_produce = sk_tp_produce, .tp_consume = sk_tp_consume,                          \
	}

SOCKET_TRANSPORT(pipe, SK_PIPE, "two pipes (latency), one pipe (throughput); blocking read/write");
SOCKET_TRANSPORT(unix, SK_UNIX, "AF_UNIX SOCK_STREAM pair; blocking read/write");
SOCKET_TRANSPORT(tcp, SK_TCP, "TCP over 127.0.0.1, TCP_NODELAY; blocking read/write");
