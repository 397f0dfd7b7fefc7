#include "tests/tcp-bridge/bridge_support.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/endian.h"
#include "tcp-bridge/client/auth.h"
#include "tests/support/process.h"
#include "tests/support/threads.h"

#ifndef HERMES_BRIDGE_PATH
#error "HERMES_BRIDGE_PATH must name the hermes-bridge binary"
#endif

void ht_br_bus_start(ht_bus *b, const char *tag, const hermes_ring_config *rings)
{
	static const char *const args[] = {"--size", "256M", "--remove-on-exit", NULL};
	ht_bus_supervised(b, tag, args);
	for (const hermes_ring_config *r = rings; r && r->name; r++) {
		hermes_ring_config cfg = *r;
		cfg.capacity = cfg.capacity ? cfg.capacity : 1u << 20;
		cfg.max_msg = cfg.max_msg ? cfg.max_msg : 4096;
		ht_bus_ring_cfg(b, &cfg);
	}
}

/* The fixture ht_br_fixture_teardown stops. */
static ht_bus *fixture_bus;
static ht_br_bridge *fixture_bridge;

void ht_br_fixture_bridge(ht_bus *bus, ht_br_bridge *b, const char *const *extra)
{
	ht_br_bridge_start(b, &bus->d, "bridge", extra);
	fixture_bus = bus;
	fixture_bridge = b;
}

int ht_br_fixture(ht_bus *bus, const char *tag, const hermes_ring_config *rings, ht_br_bridge *b,
		  const char *const *extra)
{
	ht_br_bus_start(bus, tag, rings);
	ht_br_fixture_bridge(bus, b, extra);
	return 0;
}

int ht_br_fixture_teardown(void **state)
{
	(void)state;
	if (fixture_bus) {
		ht_br_bridge_stop(fixture_bridge);
		ht_bus_teardown(fixture_bus);
	}
	fixture_bus = NULL;
	fixture_bridge = NULL;
	return 0;
}

unsigned ht_br_child_nofile;
bool ht_br_no_anonymous;

/* In the child: the bridge's own environment and the descriptor limit a
 * test asked for. */
static void bridge_env(void)
{
	unsetenv("STATE_DIRECTORY");
	if (ht_br_child_nofile) {
		struct rlimit rl = {ht_br_child_nofile, ht_br_child_nofile};
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static pid_t spawn_ns(const char *log, const char *notify, const char *netns,
		      const char *const *args)
{
	const char *argv[72] = {"hermes-bridge"};
	int n = 1;
	if (netns) {
		argv[0] = "ip";
		argv[1] = "netns";
		argv[2] = "exec";
		argv[3] = netns;
		argv[4] = HERMES_BRIDGE_PATH;
		n = 5;
	}
	for (; args && *args && n < 71; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	ht_spawn_spec s = {.path = netns ? NULL : HERMES_BRIDGE_PATH, .argv = argv, .log = log,
			   .notify = notify, .prepare = bridge_env};
	return ht_spawn(&s);
}

void ht_br_bridge_start(ht_br_bridge *b, const ht_daemon *d, const char *tag, const char *const *extra)
{
	ht_br_bridge_start_ns(b, d, tag, NULL, NULL, extra);
}

/* "READY=1\nSTATUS=listening on ADDR": the address the kernel picked. */
static void bridge_read_addr(ht_br_bridge *b, char *msg)
{
	char *at = strstr(msg, "listening on ");
	if (!at)
		fail_msg("no address in the readiness message: %s", msg);
	at += strlen("listening on ");
	at[strcspn(at, "\n")] = '\0';
	snprintf(b->addr, sizeof b->addr, "%s", at);
	b->port = (unsigned)atoi(strrchr(b->addr, ':') + 1);
}

void ht_br_bridge_start_ns(ht_br_bridge *b, const ht_daemon *d, const char *tag, const char *netns,
			const char *listen, const char *const *extra)
{
	memset(b, 0, sizeof *b);
	snprintf(b->log, sizeof b->log, "%s/%s.log", d->run_dir, tag);
	snprintf(b->notify, sizeof b->notify, "%s/%s.notify", d->run_dir, tag);
	b->notify_fd = ht_notify_open(b->notify);
	const char *args[64] = {"--bus", d->bus, "--listen", listen ? listen : "127.0.0.1:0",
				"--stats-dir", d->run_dir, "--state-dir", d->run_dir};
	int n = 8;
	/* Tests serve anonymous clients unless they configure identities (or
	 * say otherwise with ht_br_no_anonymous). */
	bool auth = ht_br_no_anonymous;
	for (const char *const *e = extra; e && *e; e++)
		auth |= !strcmp(*e, "--auth");
	if (!auth)
		args[n++] = "--allow-anonymous";
	for (; extra && *extra && n < 63; extra++)
		args[n++] = *extra;
	args[n] = NULL;
	b->pid = spawn_ns(b->log, b->notify, netns, args);
	char msg[256];
	int st = 0;
	switch (ht_wait_ready(b->notify_fd, &b->pid, 10000, msg, sizeof msg, &st)) {
	case HT_READY:
		bridge_read_addr(b, msg);
		return;
	case HT_EXITED:
		ht_file_dump(b->log);
		fail_msg("hermes-bridge exited during start-up (status %d); see %s", st, b->log);
		break;
	case HT_TIMEOUT:
		ht_file_dump(b->log);
		fail_msg("hermes-bridge did not report READY=1 within 10 s");
		break;
	}
}

int ht_br_bridge_run(const char *log, const char *const *args, int timeout_ms)
{
	int st = ht_wait_child(spawn_ns(log, NULL, NULL, args), timeout_ms);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int ht_br_keygen(const ht_daemon *d, const char *name, const char *const *opts, char *path,
	      size_t len)
{
	snprintf(path, len, "%s/%s.key", d->run_dir, name);
	char log[300];
	snprintf(log, sizeof log, "%s/keygen-%s.log", d->run_dir, name);
	const char *args[16] = {"keygen", name};
	int n = 2;
	for (; opts && *opts && n < 13; opts++)
		args[n++] = *opts;
	args[n++] = "--out";
	args[n++] = path;
	args[n] = NULL;
	return ht_br_bridge_run(log, args, 10000);
}

void ht_br_bridge_stop(ht_br_bridge *b)
{
	if (b->pid <= 0)
		return;
	if (b->notify_fd >= 0)
		close(b->notify_fd);
	b->notify_fd = -1;
	ht_proc_stop(&b->pid, 10000, "hermes-bridge", b->log);
}

bool ht_br_bridge_alive(ht_br_bridge *b)
{
	if (b->pid <= 0)
		return false;
	return waitpid(b->pid, NULL, WNOHANG) == 0;
}

void ht_br_require_sodium(void)
{
	if (hm_auth_available())
		return;
	printf("built without libsodium: skipped\n");
	exit(77);
}

long ht_br_rss_anon_kb(pid_t pid)
{
	return ht_proc_status_kb(pid, "RssAnon:");
}

long ht_br_rss_kb(pid_t pid)
{
	return ht_proc_status_kb(pid, "VmRSS:");
}

uint64_t ht_br_cpu_ns(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	unsigned long utime = 0, stime = 0;
	/* Fields after the command: state is 3; utime 14, stime 15. */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
		return 0;
	long hz = sysconf(_SC_CLK_TCK);
	return (uint64_t)(utime + stime) * (1000000000ull / (uint64_t)hz);
}

hermes_net *ht_br_connect(const ht_br_bridge *b)
{
	hermes_net_options o;
	hermes_net_options_init(&o);
	o.connect_timeout_ns = 5000000000ll;
	hermes_net *n;
	hermes_err err = hermes_net_connect(b->addr, &o, &n);
	if (err)
		fail_msg("connect %s: %s (%s)", b->addr, hermes_strerror(err), hermes_last_error_detail());
	return n;
}

void ht_br_raise_nofile(unsigned n)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < n) {
		rl.rlim_cur = rl.rlim_max < n ? rl.rlim_max : n;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* A TCP connection to 127.0.0.1:port (TCP_NODELAY); -1 with errno. */
static int loopback_connect(unsigned port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

int ht_br_raw_connect(const ht_br_bridge *b)
{
	int fd = loopback_connect(b->port);
	if (fd < 0)
		fail_msg("raw connect to %s: %s", b->addr, strerror(errno));
	return fd;
}

bool ht_br_raw_send(int fd, const void *p, size_t len, bool tolerate)
{
	const uint8_t *b = p;
	while (len) {
		ssize_t w = send(fd, b, len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (tolerate)
				return false;
			fail_msg("raw send: %s", strerror(errno));
		}
		b += w;
		len -= (size_t)w;
	}
	return true;
}

size_t ht_br_raw_drain(int fd, uint8_t *buf, size_t cap, int timeout_ms, bool *eof)
{
	uint64_t deadline = ht_now_ns() + (uint64_t)timeout_ms * 1000000u;
	size_t got = 0;
	*eof = false;
	for (;;) {
		uint64_t now = ht_now_ns();
		if (now >= deadline)
			return got;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, (int)((deadline - now) / 1000000u) + 1);
		if (r <= 0)
			continue;
		uint8_t sink[4096];
		uint8_t *at = got < cap ? buf + got : sink;
		size_t room = got < cap ? cap - got : sizeof sink;
		ssize_t n = recv(fd, at, room, 0);
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
			*eof = true;
			return got;
		}
		if (n > 0 && got < cap)
			got += (size_t)n;
	}
}

bool ht_br_find_error(const uint8_t *bytes, size_t len, hermes_err *code, bool *fatal)
{
	hermes_decoder dec;
	hermes_decoder_init(&dec, bytes, len);
	hermes_decoder_set_role(&dec, HERMES_ROLE_CLIENT);
	hermes_frame f;
	while (hermes_decoder_next(&dec, &f) == HERMES_OK) {
		if (f.header.type != HERMES_MSG_ERROR)
			continue;
		hermes_wire_msg m;
		if (hermes_wire_msg_parse(f.header.type, f.payload, f.header.length, &m) != HERMES_OK)
			return false;
		*code = (hermes_err)m.error.code;
		*fatal = m.error.fatal;
		return true;
	}
	return false;
}

void ht_br_encode_hello(hermes_encoder *enc, const char *identity, uint32_t features)
{
	hermes_wire_msg m = {.type = HERMES_MSG_HELLO};
	m.hello = (hermes_wire_hello){.min_version = 1, .max_version = 1, .features = features,
				      .max_frame = HERMES_DEFAULT_MAX_FRAME, .identity = identity,
				      .identity_len = strlen(identity)};
	if (hermes_wire_msg_encode(enc, 0, 0, &m, NULL) != HERMES_OK)
		fail_msg("cannot encode HELLO");
}

int ht_br_raw_hello(const ht_br_bridge *b, const char *identity, uint32_t features)
{
	uint8_t buf[512];
	hermes_encoder e;
	hermes_encoder_init(&e, buf, sizeof buf);
	ht_br_encode_hello(&e, identity, features);
	int fd = ht_br_raw_connect(b);
	ht_br_raw_send(fd, buf, hermes_encoder_data(&e).len, false);
	return fd;
}

int ht_br_raw_session(const ht_br_bridge *b, uint32_t features, uint32_t *granted)
{
	int fd = ht_br_raw_hello(b, "", features);
	ht_br_frame f;
	ht_br_expect_frame(fd, HERMES_MSG_WELCOME, 0, &f);
	hermes_wire_msg m;
	assert_int_equal(hermes_wire_msg_parse(f.type, f.payload, f.len, &m), HERMES_OK);
	if (granted)
		*granted = m.welcome.features;
	return fd;
}

size_t ht_br_raw_answer(int fd, uint8_t *buf, size_t cap)
{
	bool eof;
	size_t got = ht_br_raw_drain(fd, buf, cap, 5000, &eof);
	if (!eof)
		fail_msg("the bridge did not close the connection within 5 s (%zu bytes read)", got);
	return got;
}

bool ht_br_expect_error(const uint8_t *bytes, size_t len, hermes_err code)
{
	hermes_err got = HERMES_OK;
	bool fatal = false;
	if (!ht_br_find_error(bytes, len, &got, &fatal))
		fail_msg("want ERROR %s: no ERROR frame in %zu bytes", hermes_err_name(code), len);
	if (got != code)
		fail_msg("want ERROR %s, got %s", hermes_err_name(code), hermes_err_name(got));
	return fatal;
}

bool ht_br_has_frame(const uint8_t *bytes, size_t len, uint8_t type, const uint64_t *seq)
{
	hermes_decoder d;
	hermes_decoder_init(&d, bytes, len);
	hermes_frame f;
	while (hermes_decoder_next(&d, &f) == HERMES_OK)
		if (f.header.type == type && (!seq || f.header.sequence == *seq))
			return true;
	return false;
}

void ht_br_send_frame(int fd, uint8_t type, uint16_t flags, uint32_t channel, uint64_t seq,
		   const void *payload, uint32_t len)
{
	uint8_t h[HERMES_HEADER_SIZE] = {0x48, 0x4d, HERMES_PROTOCOL_VERSION, type};
	hm_put_le16(h + 4, flags);
	hm_put_le32(h + 8, len);
	hm_put_le32(h + 12, channel);
	hm_put_le64(h + 16, seq);
	ht_br_raw_send(fd, h, sizeof h, false);
	if (len)
		ht_br_raw_send(fd, payload, len, false);
}

void ht_br_send_bind(int fd, uint32_t ch, const char *ring)
{
	ht_br_send_frame(fd, HERMES_MSG_BIND, 0, ch, 0, ring, (uint32_t)strlen(ring));
}

void ht_br_send_subscribe(int fd, uint32_t id, uint8_t start, uint64_t seq, const char *ring)
{
	uint8_t p[16 + 255] = {start};
	size_t n = strlen(ring);
	assert_true(n <= 255);
	hm_put_le64(p + 8, seq);
	memcpy(p + 16, ring, n);
	ht_br_send_frame(fd, HERMES_MSG_SUBSCRIBE, 0, id, 0, p, (uint32_t)(16 + n));
}

bool ht_br_read_exact(int fd, uint8_t *p, size_t n)
{
	uint64_t deadline = ht_now_ns() + 10000000000ull;
	while (n) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		if (ht_now_ns() > deadline)
			fail_msg("no frame from the bridge within 10 s");
		if (poll(&pf, 1, 100) <= 0)
			continue;
		ssize_t r = recv(fd, p, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

bool ht_br_next_frame(int fd, ht_br_frame *f, uint8_t *raw)
{
	uint8_t h[HERMES_HEADER_SIZE];
	if (!ht_br_read_exact(fd, h, sizeof h))
		return false;
	if (raw)
		memcpy(raw, h, sizeof h);
	f->type = h[3];
	f->flags = hm_get_le16(h + 4);
	f->len = hm_get_le32(h + 8);
	f->channel = hm_get_le32(h + 12);
	f->seq = hm_get_le64(h + 16);
	assert_true(f->len <= sizeof f->payload);
	return ht_br_read_exact(fd, f->payload, f->len);
}

void ht_br_expect_frame(int fd, uint8_t type, uint32_t channel, ht_br_frame *f)
{
	if (!ht_br_next_frame(fd, f, NULL))
		fail_msg("want frame 0x%02x on %u: the bridge closed", type, channel);
	if (f->type != type || f->channel != channel)
		fail_msg("want frame 0x%02x on %u, got 0x%02x on %u (code %u: %.*s)", type, channel,
			 f->type, f->channel, f->type == HERMES_MSG_ERROR ? hm_get_le32(f->payload) : 0,
			 f->type == HERMES_MSG_ERROR ? (int)hm_get_le16(f->payload + 4) : 0,
			 (const char *)f->payload + 8);
}

/* How long a stopped relay carries the connection in progress on. */
#define RELAY_DRAIN_NS 10000000000ull

static void relay_record(ht_br_relay *r, const uint8_t *buf, size_t n)
{
	if (!r->cap) /* not capturing */
		return;
	size_t k = n < r->max - r->len ? n : r->max - r->len;
	memcpy(r->cap + r->len, buf, k);
	r->len += k;
}

/* Carry a <-> b until both have closed (each end's close is passed on as a
 * half-close of the other), or RELAY_DRAIN_NS after stop was asked. */
static void relay_carry(ht_br_relay *r, int a, int b)
{
	int fds[2] = {a, b};
	struct pollfd p[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
	int open = 2;
	uint64_t drain_until = 0;
	while (open) {
		if (atomic_load(&r->stop)) {
			if (!drain_until)
				drain_until = ht_now_ns() + RELAY_DRAIN_NS;
			else if (ht_now_ns() > drain_until)
				return;
		}
		if (poll(p, 2, 50) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			uint8_t buf[65536];
			ssize_t n = recv(fds[i], buf, sizeof buf, 0);
			if (n <= 0) {
				shutdown(fds[1 - i], SHUT_WR);
				p[i].fd = -1;
				open--;
				continue;
			}
			relay_record(r, buf, (size_t)n);
			ht_br_raw_send(fds[1 - i], buf, (size_t)n, true);
		}
	}
}

static void *relay_main(void *arg)
{
	ht_br_relay *r = arg;
	while (!atomic_load(&r->stop)) {
		struct pollfd p = {.fd = r->lfd, .events = POLLIN};
		if (poll(&p, 1, 50) != 1)
			continue;
		int a = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (a < 0)
			continue;
		int target = atomic_load(&r->target);
		int b = target ? loopback_connect((unsigned)target) : -1;
		if (b >= 0) {
			relay_carry(r, a, b);
			close(b);
		}
		close(a);
	}
	return NULL;
}

void ht_br_relay_start(ht_br_relay *r, int target, size_t capture)
{
	memset(r, 0, sizeof *r);
	atomic_init(&r->target, target);
	atomic_init(&r->stop, false);
	r->max = capture;
	r->cap = capture ? malloc(capture) : NULL;
	assert_true(!capture || r->cap);
	r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	assert_int_equal(bind(r->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(r->lfd, 8), 0);
	assert_int_equal(getsockname(r->lfd, (struct sockaddr *)&sa, &sl), 0);
	r->port = ntohs(sa.sin_port);
	r->thread = ht_thread_start(relay_main, r);
}

void ht_br_relay_stop(ht_br_relay *r)
{
	atomic_store(&r->stop, true);
	pthread_join(r->thread, NULL);
	close(r->lfd);
}
