#include "tests/nats-uplink/nats_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nats-uplink/uplink.h"
#include "tests/support/process.h"
#include "tests/support/testing.h"
#include "tests/support/traffic.h"

#ifndef HERMES_NATS_PATH
#error "HERMES_NATS_PATH must name the hermes-nats binary"
#endif
#ifndef NATS_SERVER_PATH
#define NATS_SERVER_PATH ""
#endif

/* What the tests started, so that a failed test (cmocka jumps out of it)
 * still leaves no process, bus or directory behind: ht_nats_teardown cleans up
 * whatever is registered. The objects are the tests' static ones. */
#define MAX_REG 16
enum { REG_PRODUCER, REG_CONSUMER, REG_UPLINK, REG_BUS, REG_SERVER, REG_KINDS };
static void *reg[REG_KINDS][MAX_REG];

static void reg_add(unsigned kind, void *p)
{
	for (unsigned i = 0; i < MAX_REG; i++)
		if (reg[kind][i] == p)
			return;
	for (unsigned i = 0; i < MAX_REG; i++)
		if (!reg[kind][i]) {
			reg[kind][i] = p;
			return;
		}
}

static void reg_del(unsigned kind, void *p)
{
	for (unsigned i = 0; i < MAX_REG; i++)
		if (reg[kind][i] == p)
			reg[kind][i] = NULL;
}

/* How ht_nats_teardown undoes each kind, in the order of the kinds:
 * threads first, then the processes and buses they use, servers last. */
static void undo_producer(void *obj)
{
	ht_nats_producer *p = obj;
	atomic_store(&p->stop, true);
	pthread_join(p->thread, NULL);
}

static void undo_consumer(void *obj)
{
	ht_nats_consumer_join(obj);
}

static void undo_uplink(void *obj)
{
	ht_nats_uplink_kill(obj);
}

static void undo_bus(void *obj)
{
	ht_nats_bus_cleanup(obj);
}

static void undo_server(void *obj)
{
	ht_nats_server_cleanup(obj);
}

int ht_nats_teardown(void **state)
{
	(void)state;
	static void (*const undo[REG_KINDS])(void *) = {undo_producer, undo_consumer, undo_uplink,
							  undo_bus, undo_server};
	for (unsigned k = 0; k < REG_KINDS; k++)
		for (unsigned i = 0; i < MAX_REG; i++) {
			void *obj = reg[k][i];
			reg[k][i] = NULL;
			if (obj)
				undo[k](obj);
		}
	return 0;
}

/* A child we start dies with the test process, whatever happens to it. */
static void die_with_parent(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static void nap_ms(int ms)
{
	/* A poll interval between checks of a condition with a deadline. */
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

const char *ht_nats_nats_server_path(void)
{
	static char found[512];
	if (found[0])
		return found;
	if (NATS_SERVER_PATH[0] && access(NATS_SERVER_PATH, X_OK) == 0) {
		snprintf(found, sizeof found, "%s", NATS_SERVER_PATH);
		return found;
	}
	const char *path = getenv("PATH");
	char dirs[1024];
	snprintf(dirs, sizeof dirs, "%s:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin",
		 path ? path : "");
	for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(found, sizeof found, "%s/nats-server", d);
		if (access(found, X_OK) == 0)
			return found;
	}
	found[0] = '\0';
	return NULL;
}

int ht_nats_group_setup(void **state)
{
	(void)state;
	if (!ht_nats_nats_server_path()) {
		printf("SKIP: nats-server is not installed (Debian: apt-get install nats-server); "
		       "the NATS uplink tests need it\n");
		exit(77);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	return 0;
}

int ht_nats_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sa;
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		fail_msg("cannot find a free port: %s", strerror(errno));
	close(fd);
	return ntohs(sa.sin_port);
}

void ht_nats_server_init(ht_nats_server *s, const char *name, bool js)
{
	memset(s, 0, sizeof *s);
	snprintf(s->name, sizeof s->name, "%s", name);
	s->js = js;
	s->port = ht_nats_free_port();
	snprintf(s->dir, sizeof s->dir, "/tmp/hermes-nats-test-XXXXXX");
	if (!mkdtemp(s->dir))
		fail_msg("mkdtemp: %s", strerror(errno));
	snprintf(s->log, sizeof s->log, "%s/server.log", s->dir);
	reg_add(REG_SERVER, s);
}

void ht_nats_cluster_init(ht_nats_server *s, unsigned n, const char *cluster_name)
{
	for (unsigned i = 0; i < n; i++) {
		s[i].cluster_port = ht_nats_free_port();
		snprintf(s[i].cluster_name, sizeof s[i].cluster_name, "%s", cluster_name);
	}
	for (unsigned i = 0; i < n; i++) {
		size_t at = 0;
		for (unsigned j = 0; j < n; j++)
			if (j != i)
				at += (size_t)snprintf(s[i].routes + at, sizeof s[i].routes - at,
						       "%snats://127.0.0.1:%d", at ? "," : "",
						       s[j].cluster_port);
	}
}

void ht_nats_server_url(const ht_nats_server *s, char *buf, size_t len)
{
	snprintf(buf, len, "nats://127.0.0.1:%d", s->port);
}

static bool port_open(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

void ht_nats_server_start(ht_nats_server *s)
{
	char port[16], cport[64], store[160];
	snprintf(port, sizeof port, "%d", s->port);
	snprintf(cport, sizeof cport, "nats://127.0.0.1:%d", s->cluster_port);
	snprintf(store, sizeof store, "%s/js", s->dir);
	const char *argv[32] = {"nats-server", "-a", "127.0.0.1", "-p", port, "-n", s->name};
	int n = 7;
	if (s->js) {
		argv[n++] = "-js";
		argv[n++] = "-sd";
		argv[n++] = store;
	}
	if (s->cluster_port) {
		argv[n++] = "--cluster";
		argv[n++] = cport;
		argv[n++] = "--cluster_name";
		argv[n++] = s->cluster_name;
		argv[n++] = "--routes";
		argv[n++] = s->routes;
	}
	if (s->user) {
		argv[n++] = "--user";
		argv[n++] = s->user;
		argv[n++] = "--pass";
		argv[n++] = s->pass;
	}
	argv[n] = NULL;
	ht_spawn_spec spec = {.path = ht_nats_nats_server_path(), .argv = argv, .log = s->log,
			      .prepare = die_with_parent};
	pid_t pid = ht_spawn(&spec);
	s->pid = pid;
	uint64_t deadline = ht_now_ns() + 10000000000ull;
	while (!port_open(s->port)) {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			s->pid = 0;
			fail_msg("nats-server %s exited during start-up (status %d); see %s", s->name, st,
				 s->log);
		}
		if (ht_now_ns() > deadline) {
			ht_nats_server_kill(s);
			fail_msg("nats-server %s did not accept connections within 10 s; see %s",
				 s->name, s->log);
		}
		nap_ms(10);
	}
}

void ht_nats_server_stop(ht_nats_server *s)
{
	if (s->pid <= 0)
		return;
	ht_proc_terminate(&s->pid, 15000);
}

void ht_nats_server_kill(ht_nats_server *s)
{
	if (s->pid <= 0)
		return;
	ht_proc_kill(&s->pid);
	/* The port is free again once the process is reaped: wait until no
	 * listener answers, so a restart cannot race the old socket. */
	uint64_t deadline = ht_now_ns() + 5000000000ull;
	while (port_open(s->port) && ht_now_ns() < deadline)
		nap_ms(10);
}

void ht_nats_server_cleanup(ht_nats_server *s)
{
	reg_del(REG_SERVER, s);
	ht_nats_server_kill(s);
	if (!s->dir[0])
		return;
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", s->dir);
}

/* ---- buses ---- */

void ht_nats_bus_start(ht_nats_bus *b, const char *tag, const char *rings_ini)
{
	memset(b, 0, sizeof *b);
	ht_daemon_init(&b->d, tag);
	reg_add(REG_BUS, b);
	char text[1024];
	if ((size_t)snprintf(text, sizeof text, "[bus]\nsize = 256M\n%s", rings_ini) >= sizeof text)
		fail_msg("hermesd.conf of bus %s: the rings take over %zu bytes", tag, sizeof text);
	/* ht_nats_bus_cleanup kills hermesd and removes the segment itself. */
	ht_daemon_start_config(&b->d, text);
	b->bus = ht_daemon_attach(&b->d);
	snprintf(b->state_path, sizeof b->state_path, "/dev/shm/hermes-nats.%s", b->d.bus);
}

void ht_nats_bus_cleanup(ht_nats_bus *b)
{
	reg_del(REG_BUS, b);
	if (b->bus)
		hermes_bus_detach(b->bus);
	b->bus = NULL;
	ht_daemon_cleanup(&b->d);
	unlink(b->state_path);
}

/* ---- uplinks ---- */

void ht_nats_uplink_init(ht_nats_uplink *u, const ht_nats_bus *b, const char *const *args)
{
	memset(u, 0, sizeof *u);
	snprintf(u->bus, sizeof u->bus, "%s", b->d.bus);
	snprintf(u->log, sizeof u->log, "%s/hermes-nats.log", b->d.run_dir);
	u->argv[u->argc++] = "hermes-nats";
	u->argv[u->argc++] = "--bus";
	u->argv[u->argc++] = u->bus;
	unsigned n = 0;
	for (; args && *args; args++, n++) {
		if (n == 32)
			fail_msg("too many uplink arguments");
		snprintf(u->store[n], sizeof u->store[n], "%s", *args);
		u->argv[u->argc++] = u->store[n];
	}
	u->argv[u->argc] = NULL;
}

/* In the child: die with the test, and no URL from the developer's shell. */
static void uplink_env(void)
{
	die_with_parent();
	unsetenv("HERMES_NATS_URL");
}

void ht_nats_uplink_spawn(ht_nats_uplink *u)
{
	ht_spawn_spec spec = {.path = HERMES_NATS_PATH, .argv = u->argv, .log = u->log,
			      .prepare = uplink_env};
	pid_t pid = ht_spawn(&spec);
	u->pid = pid;
	reg_add(REG_UPLINK, u);
}

static bool directions_running(const hm_nats_state_header *h, pid_t pid)
{
	if ((pid_t)HT_NATS_LD(h->pid) != pid)
		return false;
	bool any = false;
	for (unsigned i = 0; i < HM_NATS_STATE_MAX_RINGS; i++) {
		const hm_nats_ring_state *r = hm_nats_state_ring((hm_nats_state_header *)h, i);
		if (!hm_load_acquire_u32(&r->configured))
			continue;
		any = true;
		if ((r->dir & HM_NATS_DIR_OUT) && HT_NATS_LD(r->out.state) != HM_NATS_W_RUNNING)
			return false;
		if ((r->dir & HM_NATS_DIR_IN) && HT_NATS_LD(r->in.state) != HM_NATS_W_RUNNING)
			return false;
	}
	return any;
}

void ht_nats_uplink_wait_running(ht_nats_uplink *u, int deadline_ms)
{
	char path[160];
	snprintf(path, sizeof path, "/dev/shm/hermes-nats.%s", u->bus);
	uint64_t deadline = ht_now_ns() + (uint64_t)deadline_ms * 1000000u;
	for (;;) {
		int st;
		if (waitpid(u->pid, &st, WNOHANG) == u->pid) {
			u->pid = 0;
			fail_msg("hermes-nats exited during start-up (status %d); see %s", st, u->log);
		}
		const hm_nats_state_header *h;
		bool ok = hm_nats_state_map_readonly(path, &h) == HERMES_OK && directions_running(h, u->pid);
		hm_nats_state_unmap(h);
		if (ok)
			return;
		if (ht_now_ns() > deadline)
			fail_msg("hermes-nats (pid %d) was not running every ring within %d ms; see %s",
				 (int)u->pid, deadline_ms, u->log);
		nap_ms(20);
	}
}

void ht_nats_uplink_start(ht_nats_uplink *u, int deadline_ms)
{
	ht_nats_uplink_spawn(u);
	ht_nats_uplink_wait_running(u, deadline_ms);
}

void ht_nats_uplink_stop(ht_nats_uplink *u)
{
	reg_del(REG_UPLINK, u);
	ht_proc_stop(&u->pid, 20000, "hermes-nats", u->log);
}

void ht_nats_uplink_kill(ht_nats_uplink *u)
{
	ht_proc_kill(&u->pid);
}

uint64_t ht_nats_rss_anon(pid_t pid)
{
	long kb = ht_proc_status_kb(pid, "RssAnon:");
	return kb > 0 ? (uint64_t)kb * 1024 : 0;
}

const hm_nats_state_header *ht_nats_state(const ht_nats_bus *b)
{
	const hm_nats_state_header *h;
	hermes_err err = hm_nats_state_map_readonly(b->state_path, &h);
	if (err)
		fail_msg("uplink state: %s", hermes_last_error_detail());
	return h;
}

const hm_nats_ring_state *ht_nats_ring_state(const hm_nats_state_header *h, const char *ring)
{
	for (unsigned i = 0; i < HM_NATS_STATE_MAX_RINGS; i++) {
		const hm_nats_ring_state *r = hm_nats_state_ring((hm_nats_state_header *)h, i);
		if (!strcmp(r->name, ring))
			return r;
	}
	fail_msg("ring '%s' is not in the uplink state", ring);
	return NULL;
}

/* ---- traffic ---- */

static void *produce(void *arg)
{
	ht_nats_producer *p = arg;
	hermes_pub *pub;
	p->err = hermes_pub_open(p->bus, p->ring, &pub);
	if (p->err)
		return NULL;
	uint64_t start = ht_now_ns();
	for (uint64_t i = 0; (p->forever || i < p->count) && !atomic_load(&p->stop); i++) {
		if (p->rate_per_s) {
			/* Pace: message i is due at start + i / rate. */
			uint64_t due = start + i * 1000000000ull / p->rate_per_s;
			uint64_t now = ht_now_ns();
			if (due > now + 1000000)
				nap_ms((int)((due - now) / 1000000));
		}
		uint32_t len = ht_traffic_len(p->k, i);
		hermes_claim c;
		hermes_err err;
		bool counted = false;
		/* Wait for room as long as it takes: the ring may be held back on
		 * purpose (policy block while NATS is away). */
		while ((err = hermes_pub_claim_timed(pub, len, &c, 50000000)) ==
			       HERMES_ETIMEDOUT &&
		       !atomic_load(&p->stop))
			if (!counted) {
				counted = true;
				atomic_fetch_add(&p->full_waits, 1);
			}
		if (err == HERMES_ETIMEDOUT)
			break;
		if (err) {
			p->err = err;
			break;
		}
		ht_traffic_fill(c.data, len, p->k, i);
		hermes_pub_commit(pub, &c);
		atomic_fetch_add(&p->produced, 1);
	}
	hermes_pub_close(pub);
	return NULL;
}

void ht_nats_producer_start(ht_nats_producer *p)
{
	atomic_store(&p->produced, 0);
	atomic_store(&p->full_waits, 0);
	atomic_store(&p->stop, false);
	p->err = HERMES_OK;
	if (pthread_create(&p->thread, NULL, produce, p) != 0)
		fail_msg("pthread_create");
	reg_add(REG_PRODUCER, p);
}

void ht_nats_producer_join(ht_nats_producer *p)
{
	reg_del(REG_PRODUCER, p);
	pthread_join(p->thread, NULL);
	if (p->err)
		fail_msg("producer %u on %s: %s", p->k, p->ring, hermes_strerror(p->err));
}

static void check(ht_nats_consumer *c, const hermes_msg *m)
{
	const uint8_t *p = m->data;
	uint32_t k;
	uint64_t i, sum;
	const char *what = NULL;
	if (m->len < 20) {
		what = "short message";
		k = 0;
		i = 0;
	} else {
		memcpy(&sum, p, 8);
		memcpy(&k, p + 8, 4);
		memcpy(&i, p + 12, 8);
		if (sum != ht_fnv1a(p + 8, m->len - 8))
			what = "checksum mismatch";
		else if (k >= HT_NATS_MAX_K)
			what = "unknown producer";
		else if (m->len != ht_traffic_len(k, i))
			what = "wrong length";
		else if (c->next[k] >= 0 && (int64_t)i < c->next[k])
			what = "duplicate or out of order";
	}
	atomic_fetch_add(&c->total, 1);
	if (what) {
		if (atomic_fetch_add(&c->bad, 1) == 0)
			snprintf(c->first_error, sizeof c->first_error,
				 "ring seq %llu: %s (producer %u counter %llu, expected %lld)",
				 (unsigned long long)m->seq, what, k, (unsigned long long)i,
				 k < HT_NATS_MAX_K ? (long long)c->next[k] : -1ll);
		return;
	}
	if (c->next[k] < 0)
		atomic_store(&c->first[k], (int64_t)i);
	uint64_t expect = c->next[k] < 0 ? 0 : (uint64_t)c->next[k];
	if (i > expect)
		atomic_fetch_add(&c->missing[k], i - expect);
	c->next[k] = (int64_t)i + 1;
	atomic_fetch_add(&c->received[k], 1);
}

static void on_msg(void *ctx, const hermes_msg *m)
{
	check(ctx, m);
}

static void *consume(void *arg)
{
	ht_nats_consumer *c = arg;
	while (!atomic_load(&c->stop)) {
		hermes_err err = hermes_sub_wait(c->sub, HERMES_WAIT_BLOCK, 100000000);
		if (err != HERMES_OK)
			continue;
		unsigned n;
		hermes_sub_poll_batch(c->sub, on_msg, c, 4096, &n);
	}
	return NULL;
}

void ht_nats_consumer_start(ht_nats_consumer *c, hermes_bus *bus, const char *ring)
{
	memset(c, 0, sizeof *c);
	c->bus = bus;
	c->ring = ring;
	for (unsigned k = 0; k < HT_NATS_MAX_K; k++) {
		c->next[k] = -1;
		atomic_store(&c->first[k], -1);
	}
	hermes_err err = hermes_sub_open(bus, ring, HERMES_START_EARLIEST, 0, &c->sub);
	if (err)
		fail_msg("subscribe %s: %s", ring, hermes_strerror(err));
	if (pthread_create(&c->thread, NULL, consume, c) != 0)
		fail_msg("pthread_create");
	reg_add(REG_CONSUMER, c);
}

void ht_nats_consumer_join(ht_nats_consumer *c)
{
	reg_del(REG_CONSUMER, c);
	atomic_store(&c->stop, true);
	pthread_join(c->thread, NULL);
	hermes_sub_close(c->sub);
	c->sub = NULL;
}

bool ht_nats_wait_until(bool (*cond)(void *), void *arg, int deadline_ms)
{
	uint64_t deadline = ht_now_ns() + (uint64_t)deadline_ms * 1000000u;
	while (!cond(arg)) {
		if (ht_now_ns() > deadline)
			return false;
		nap_ms(10);
	}
	return true;
}

double ht_nats_env_seconds(const char *name, double dflt)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return dflt;
	char *end;
	double d = strtod(v, &end);
	return *end || d < 0 ? dflt : d;
}

bool ht_nats_reached(void *arg)
{
	ht_nats_progress *p = arg;
	uint64_t got = atomic_load(&p->c->received[p->k]);
	if (p->rs) {
		int64_t first = atomic_load(&p->c->first[p->k]);
		got += HT_NATS_LD(p->rs->in.lost) + (uint64_t)(first > 0 ? first : 0);
	}
	return got >= p->want || atomic_load(&p->c->bad);
}

/* Either consumer's total changed since total[] was taken. */
typedef struct quiet {
	ht_nats_consumer *c[2];
	uint64_t total[2];
} quiet;

static bool moved(void *arg)
{
	quiet *q = arg;
	return atomic_load(&q->c[0]->total) != q->total[0] || atomic_load(&q->c[1]->total) != q->total[1];
}

void ht_nats_pair_buses(ht_nats_pair *p, const char *tag, const char *rings_ini)
{
	char tag_a[32], tag_b[32];
	snprintf(tag_a, sizeof tag_a, "%sa", tag);
	snprintf(tag_b, sizeof tag_b, "%sb", tag);
	ht_nats_bus_start(&p->a, tag_a, rings_ini);
	ht_nats_bus_start(&p->b, tag_b, rings_ini);
}

void ht_nats_pair_start(ht_nats_pair *p, const char *tag, const char *rings_ini)
{
	ht_nats_server_start(&p->s);
	ht_nats_server_url(&p->s, p->url, sizeof p->url);
	ht_nats_pair_buses(p, tag, rings_ini);
}

void ht_nats_pair_begin(ht_nats_pair *p, const char *name, bool js, const char *rings_ini)
{
	ht_nats_server_init(&p->s, name, js);
	ht_nats_pair_start(p, name, rings_ini);
}

void ht_nats_pair_uplinks(ht_nats_pair *p, const char *const *args_a, const char *const *args_b,
		      int deadline_ms)
{
	ht_nats_uplink_init(&p->ua, &p->a, args_a);
	ht_nats_uplink_init(&p->ub, &p->b, args_b);
	ht_nats_uplink_start(&p->ub, deadline_ms);
	ht_nats_uplink_start(&p->ua, deadline_ms);
}

void ht_nats_pair_traffic(ht_nats_pair *p, const char *ring, uint64_t n, uint64_t rate_per_s,
		      bool both_ways)
{
	if (both_ways)
		ht_nats_consumer_start(&p->ca, p->a.bus, ring);
	ht_nats_consumer_start(&p->cb, p->b.bus, ring);
	p->pa = (ht_nats_producer){.bus = p->a.bus, .ring = ring, .k = 0, .count = n,
			       .rate_per_s = rate_per_s};
	p->pb = (ht_nats_producer){.bus = p->b.bus, .ring = ring, .k = 1, .count = n,
			       .rate_per_s = rate_per_s};
	ht_nats_producer_start(&p->pa);
	if (both_ways)
		ht_nats_producer_start(&p->pb);
}

bool ht_nats_pair_wait_crossed(ht_nats_pair *p, uint64_t n, int deadline_ms)
{
	ht_nats_progress w[4] = {{&p->ca, 0, n, NULL}, {&p->ca, 1, n, NULL}, {&p->cb, 0, n, NULL},
			     {&p->cb, 1, n, NULL}};
	bool all = true;
	for (unsigned i = 0; i < 4; i++)
		all &= ht_nats_wait_until(ht_nats_reached, &w[i], deadline_ms);
	return all;
}

ht_nats_drained ht_nats_pair_drain(ht_nats_pair *p, uint64_t n, int deadline_ms, int quiet_ms)
{
	ht_nats_drained d;
	ht_nats_producer_join(&p->pa);
	ht_nats_producer_join(&p->pb);
	d.crossed = ht_nats_pair_wait_crossed(p, n, deadline_ms);
	d.crossed_ns = ht_now_ns();
	quiet q = {{&p->ca, &p->cb}, {atomic_load(&p->ca.total), atomic_load(&p->cb.total)}};
	d.more = ht_nats_wait_until(moved, &q, quiet_ms);
	ht_nats_consumer_join(&p->ca);
	ht_nats_consumer_join(&p->cb);
	ht_nats_pair_states(p);
	return d;
}

void ht_nats_pair_expect_exact(ht_nats_pair *p, uint64_t n)
{
	if (atomic_load(&p->ca.bad))
		fail_msg("bus A: %s", p->ca.first_error);
	if (atomic_load(&p->cb.bad))
		fail_msg("bus B: %s", p->cb.first_error);
	for (unsigned k = 0; k < 2; k++) {
		assert_int_equal(atomic_load(&p->ca.received[k]), n);
		assert_int_equal(atomic_load(&p->cb.received[k]), n);
		assert_int_equal(atomic_load(&p->ca.missing[k]), 0);
		assert_int_equal(atomic_load(&p->cb.missing[k]), 0);
	}
	assert_int_equal(atomic_load(&p->ca.total), 2 * n);
	assert_int_equal(atomic_load(&p->cb.total), 2 * n);
}

void ht_nats_pair_states(ht_nats_pair *p)
{
	p->ha = ht_nats_state(&p->a);
	p->hb = ht_nats_state(&p->b);
}

void ht_nats_pair_stop(ht_nats_pair *p)
{
	if (p->ha)
		hm_nats_state_unmap(p->ha);
	if (p->hb)
		hm_nats_state_unmap(p->hb);
	p->ha = p->hb = NULL;
	ht_nats_uplink_stop(&p->ua);
	ht_nats_uplink_stop(&p->ub);
	ht_nats_bus_cleanup(&p->a);
	ht_nats_bus_cleanup(&p->b);
	ht_nats_server_cleanup(&p->s);
}
