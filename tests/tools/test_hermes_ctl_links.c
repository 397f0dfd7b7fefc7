/* Tests for hermes-ctl's view of the bus's gateways (tools/ctl_gw*.c):
 * `bridges` against a real hermes-bridge that a real remote client used,
 * and `uplink` against a state file written here with the layout of
 * nats-uplink/state_layout.h (no nats-server needed). JSON is checked
 * with the strict parser of checkers.h, `metrics` with the Prometheus
 * checker. Every process started here is stopped by pid; every wait has a
 * deadline. */
#include "tests/support/testing.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hermes/hermes.h>
#include <hermes/net.h>

#include "core/proc.h"
#include "nats-uplink/state_layout.h"
#include "tests/tcp-bridge/bridge_support.h"
#include "tests/support/daemon.h"
#include "tests/tools/checkers.h"
#include "tests/tools/ctl_runner.h"

#ifndef HERMES_CTL_PATH
#error "HERMES_CTL_PATH must name the hermes-ctl binary"
#endif

#define WAIT_MS 10000
#define RING "gw"
#define NMSGS 25

typedef struct fixture {
	ht_bus bus; /* hermesd, its bus and run directory (also the stats directory) */
	ht_br_bridge b;
	bool bridge_started;
} fixture;

static int setup(void **state)
{
	fixture *fx = calloc(1, sizeof *fx);
	assert_non_null(fx);
	static const char *const extra[] = {"--size", "8M", "--remove-on-exit", NULL};
	ht_bus_supervised(&fx->bus, "ctlgw", extra);
	ht_bus_ring(&fx->bus, RING, 64 * 1024, 1024, HERMES_POLICY_BLOCK);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	fixture *fx = *state;
	if (fx->bridge_started)
		ht_proc_kill(&fx->b.pid);
	ht_bus_teardown(&fx->bus);
	free(fx);
	return 0;
}

static void start_bridge(fixture *fx)
{
	ht_br_bridge_start(&fx->b, &fx->bus.d, "bridge", NULL);
	fx->bridge_started = true;
}

/* ---- running hermes-ctl ---------------------------------------------------- */

/* hermes-ctl --bus <fixture bus> args... */
#define CTL(fx, ...) ctl_in((fx)->bus.name, NULL, 0, CTL_ARGS(__VA_ARGS__))

/* A command that must exit with code, and needle (if not NULL) in its
 * stderr. */
static void expect_fail(result r, int code, const char *needle)
{
	if (r.code != code || (needle && !strstr(r.err.p, needle)))
		fail_msg("wanted exit %d and '%s' on stderr; got exit %d and: %s", code,
			 needle ? needle : "", r.code, r.err.p);
	result_free(&r);
}

static void expect_str(const jv *v, const char *key, const char *want)
{
	const jv *s = jget(v, key);
	if (!s || s->t != J_STR || strcmp(s->text, want))
		fail_msg("'%s' is not \"%s\"", key, want);
}

/* Numbers of an object and their wanted values, up to a NULL key. */
typedef struct key_u64 {
	const char *key;
	uint64_t want;
} key_u64;

static void expect_u64s(const jv *v, const key_u64 *k)
{
	for (; k->key; k++) {
		uint64_t got = ju64_at(v, k->key);
		if (got != k->want)
			fail_msg("'%s' is %" PRIu64 ", not %" PRIu64, k->key, got, k->want);
	}
}

static void expect_bool(const jv *v, const char *key, bool want)
{
	const jv *b = jget(v, key);
	if (!b || b->t != J_BOOL || b->b != want)
		fail_msg("'%s' is not %s", key, want ? "true" : "false");
}

static const jv *array_at(const jv *v, const char *key, size_t n)
{
	const jv *a = jget(v, key);
	if (!a || a->t != J_ARR)
		fail_msg("'%s' is not an array", key);
	if (a->n != n)
		fail_msg("'%s' has %zu items, expected %zu", key, a->n, n);
	return a;
}

static char *stats_dir(fixture *fx)
{
	return fx->bus.d.run_dir;
}

/* `metrics` of the fixture's stats directory: it must exit 0 with
 * Prometheus text. */
static result metrics_of(fixture *fx)
{
	result r = CTL(fx, "metrics", "--stats-dir", stats_dir(fx));
	expect_ok(&r);
	char err[512];
	if (!prom_check(r.out.p, err, sizeof err))
		fail_msg("metrics is not Prometheus text: %s", err);
	return r;
}

/* ---- bridges ----------------------------------------------------------------- */

/* `bridges --json` of the fixture's stats directory, parsed; the single
 * bridge object in *b. */
static jv *bridges_json(fixture *fx, const jv **b)
{
	jv *doc = json_of(CTL(fx, "bridges", "--stats-dir", stats_dir(fx), "--json"));
	expect_str(doc, "schema", "hermes-ctl.bridges/1");
	expect_str(doc, "bus", fx->bus.d.bus);
	*b = array_at(doc, "bridges", 1)->items[0];
	return doc;
}

/* Poll `bridges --json` until the counters show what the client did. Most
 * are counted before the bridge answers, but bytes_out only after its
 * write() returns, which may be after the client has read the bytes: so
 * the client having every answer does not mean the file says so yet. */
static jv *bridges_json_when(fixture *fx, const jv **b, uint64_t publishes, uint64_t delivers,
			     uint64_t open)
{
	uint64_t deadline = ht_now_ns() + (uint64_t)WAIT_MS * 1000000u;
	for (;;) {
		jv *doc = bridges_json(fx, b);
		if (ju64_at(*b, "publishes") >= publishes && ju64_at(*b, "acks") >= publishes &&
		    ju64_at(*b, "delivers") >= delivers && ju64_at(*b, "connections_open") == open &&
		    ju64_at(*b, "bytes_out") > NMSGS * 8)
			return doc;
		if (ht_now_ns() > deadline)
			fail_msg("bridge counters did not reach publishes/acks %llu, delivers %llu, "
				 "open %llu, bytes out > %u within %d ms (publishes %llu, acks %llu, "
				 "delivers %llu, open %llu, bytes out %llu)",
				 (unsigned long long)publishes, (unsigned long long)delivers,
				 (unsigned long long)open, NMSGS * 8, WAIT_MS,
				 (unsigned long long)ju64_at(*b, "publishes"),
				 (unsigned long long)ju64_at(*b, "acks"),
				 (unsigned long long)ju64_at(*b, "delivers"),
				 (unsigned long long)ju64_at(*b, "connections_open"),
				 (unsigned long long)ju64_at(*b, "bytes_out"));
		jfree(doc);
		struct timespec ts = {0, 20 * 1000000L}; /* between checks of a deadline */
		nanosleep(&ts, NULL);
	}
}

/* Publish NMSGS with acks on a channel while subscribed to the same ring;
 * returns when every ack and every message is back. */
static void remote_traffic(hermes_net *n)
{
	uint32_t ch, sub;
	hermes_err err = hermes_net_subscribe(n, RING, HERMES_START_LATEST, 0, 5000000000ll, &sub, NULL);
	if (err)
		fail_msg("subscribe: %s (%s)", hermes_strerror(err), hermes_last_error_detail());
	err = hermes_net_bind(n, RING, 5000000000ll, &ch, NULL);
	if (err)
		fail_msg("bind: %s (%s)", hermes_strerror(err), hermes_last_error_detail());
	for (unsigned i = 0; i < NMSGS; i++) {
		char msg[32];
		int len = snprintf(msg, sizeof msg, "remote %u", i);
		assert_int_equal(hermes_net_publish(n, ch, msg, (size_t)len, HERMES_NET_PUB_ACK, NULL),
				 HERMES_OK);
	}
	unsigned acks = 0, msgs = 0;
	uint64_t deadline = ht_now_ns() + (uint64_t)WAIT_MS * 1000000u;
	while (acks < NMSGS || msgs < NMSGS) {
		if (ht_now_ns() > deadline)
			fail_msg("only %u acks and %u messages of %u within %d ms", acks, msgs, NMSGS,
				 WAIT_MS);
		hermes_net_event ev;
		err = hermes_net_poll(n, &ev, 100000000ll);
		if (err == HERMES_ETIMEDOUT)
			continue;
		assert_int_equal(err, HERMES_OK);
		if (ev.type == HERMES_NET_ERROR)
			fail_msg("the bridge answered ERROR %s", hermes_strerror(ev.code));
		acks += ev.type == HERMES_NET_ACK;
		msgs += ev.type == HERMES_NET_MESSAGE && ev.channel == sub;
	}
}

static void test_bridges_json_counts_what_a_remote_client_did(void **state)
{
	fixture *fx = *state;
	start_bridge(fx);
	hermes_net *n = ht_br_connect(&fx->b);
	remote_traffic(n);

	const jv *b;
	jv *doc = bridges_json_when(fx, &b, NMSGS, NMSGS, 1);
	expect_str(doc, "stats_dir", stats_dir(fx));
	array_at(doc, "unreadable", 0);
	assert_int_equal(ju64_at(b, "pid"), (uint64_t)fx->b.pid);
	expect_bool(b, "alive", true);
	expect_str(b, "state", "running");
	expect_str(b, "listen", fx->b.addr);
	assert_int_equal(ju64_at(b, "port"), fx->b.port);
	assert_true(ju64_at(b, "connections_accepted") >= 1);
	assert_true(ju64_at(b, "handshakes") >= 1);
	assert_int_equal(ju64_at(b, "auth_failures"), 0);
	assert_int_equal(ju64_at(b, "protocol_errors"), 0);
	/* HELLO, BIND, SUBSCRIBE and NMSGS PUBLISH frames came in; at least the
	 * acks and the deliveries went out. */
	assert_true(ju64_at(b, "frames_in") >= NMSGS + 3);
	assert_true(ju64_at(b, "frames_out") >= 2 * NMSGS);
	assert_true(ju64_at(b, "bytes_in") > NMSGS * 8);
	assert_true(ju64_at(b, "bytes_out") > NMSGS * 8);
	assert_int_equal(ju64_at(b, "drops"), 0);
	assert_int_equal(ju64_at(b, "subscriptions"), 1);
	assert_int_equal(ju64_at(b, "channels"), 1);
	array_at(b, "links", 0);
	char path[512];
	snprintf(path, sizeof path, "%s/hermes-bridge.%s.%u", stats_dir(fx), fx->bus.d.bus, fx->b.port);
	expect_str(b, "path", path);
	jfree(doc);

	/* The text view says the same. */
	result r = CTL(fx, "bridges", "--stats-dir", stats_dir(fx));
	expect_ok(&r);
	char want[160];
	snprintf(want, sizeof want, "bridge %s", fx->b.addr);
	assert_non_null(strstr(r.out.p, want));
	assert_non_null(strstr(r.out.p, "1 open"));
	snprintf(want, sizeof want, "publishes %u", NMSGS);
	assert_non_null(strstr(r.out.p, want));
	result_free(&r);

	/* metrics: still Prometheus text, with the bridge's families. */
	r = metrics_of(fx);
	char labels[256];
	double v;
	snprintf(labels, sizeof labels, "bus=\"%s\",listen=\"%s\"", fx->bus.d.bus, fx->b.addr);
	assert_true(prom_value(r.out.p, "hermes_bridge_up", labels, &v));
	assert_true(v == 1);
	assert_true(prom_value(r.out.p, "hermes_bridge_connections_open", labels, &v));
	assert_true(v == 1);
	assert_true(prom_value(r.out.p, "hermes_bridge_publishes_total", labels, &v));
	assert_true(v >= NMSGS);
	assert_true(prom_value(r.out.p, "hermes_bridge_acks_total", labels, &v));
	assert_true(v >= NMSGS);
	snprintf(labels, sizeof labels, "bus=\"%s\",listen=\"%s\",direction=\"in\"", fx->bus.d.bus,
		 fx->b.addr);
	assert_true(prom_value(r.out.p, "hermes_bridge_frames_total", labels, &v));
	assert_true(v >= NMSGS + 3);
	snprintf(labels, sizeof labels, "bus=\"%s\",listen=\"%s\",direction=\"out\"", fx->bus.d.bus,
		 fx->b.addr);
	assert_true(prom_value(r.out.p, "hermes_bridge_bytes_total", labels, &v));
	assert_true(v > 0);
	/* The bus's own families are still there. */
	snprintf(labels, sizeof labels, "bus=\"%s\"", fx->bus.d.bus);
	assert_true(prom_value(r.out.p, "hermes_bus_up", labels, &v));
	assert_true(v == 1);
	result_free(&r);

	/* list: one summary line. */
	r = CTL(fx, "list", "--interval", "0", "--stats-dir", stats_dir(fx));
	expect_ok(&r);
	snprintf(want, sizeof want, "bridges: 1 (%s, 1 connection)", fx->b.addr);
	if (!strstr(r.out.p, want))
		fail_msg("no '%s' in list:\n%s", want, r.out.p);
	result_free(&r);

	/* The client leaves: connections_open goes back to 0. */
	hermes_net_close(n);
	doc = bridges_json_when(fx, &b, NMSGS, NMSGS, 0);
	jfree(doc);

	/* A bridge that stops cleanly removes its file: no bridges. */
	ht_br_bridge_stop(&fx->b);
	fx->bridge_started = false;
	doc = json_of(CTL(fx, "bridges", "--stats-dir", stats_dir(fx), "--json"));
	array_at(doc, "bridges", 0);
	jfree(doc);
	expect_no_out(CTL(fx, "list", "--interval", "0", "--stats-dir", stats_dir(fx)), "bridges:");
}

static void test_bridges_reports_a_killed_bridge_as_stale(void **state)
{
	fixture *fx = *state;
	start_bridge(fx);
	ht_proc_kill(&fx->b.pid);
	fx->bridge_started = false;

	const jv *b;
	jv *doc = bridges_json(fx, &b);
	expect_bool(b, "alive", false);
	expect_str(b, "state", "stale");
	jfree(doc);

	expect_out(CTL(fx, "bridges", "--stats-dir", stats_dir(fx)), "NOT RUNNING");

	/* metrics: up 0, and no counters of a dead process. */
	result r = metrics_of(fx);
	char labels[256];
	snprintf(labels, sizeof labels, "bus=\"%s\",listen=\"%s\"", fx->bus.d.bus, fx->b.addr);
	double v;
	assert_true(prom_value(r.out.p, "hermes_bridge_up", labels, &v));
	assert_true(v == 0);
	assert_false(prom_value(r.out.p, "hermes_bridge_connections_open", labels, &v));
	result_free(&r);

	expect_out(CTL(fx, "list", "--interval", "0", "--stats-dir", stats_dir(fx)),
		   "bridges: 0 (none running), 1 stale file");
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void test_bridges_lists_half_written_files_and_ignores_other_buses(void **state)
{
	fixture *fx = *state;
	char path[512];
	/* A bridge between creating its file and sizing it. */
	snprintf(path, sizeof path, "%s/hermes-bridge.%s.7400", stats_dir(fx), fx->bus.d.bus);
	write_file(path, "", 0);
	/* Files of bus "<bus>.x" and names that only start like ours. */
	snprintf(path, sizeof path, "%s/hermes-bridge.%s.x.7401", stats_dir(fx), fx->bus.d.bus);
	write_file(path, "", 0);
	snprintf(path, sizeof path, "%s/hermes-bridge.%s.7402.tmp", stats_dir(fx), fx->bus.d.bus);
	write_file(path, "", 0);

	jv *doc = json_of(CTL(fx, "bridges", "--stats-dir", stats_dir(fx), "--json"));
	array_at(doc, "bridges", 0);
	const jv *u = array_at(doc, "unreadable", 1)->items[0];
	snprintf(path, sizeof path, "%s/hermes-bridge.%s.7400", stats_dir(fx), fx->bus.d.bus);
	expect_str(u, "path", path);
	const jv *why = jget(u, "reason");
	assert_true(why && why->t == J_STR && strstr(why->text, "not ready"));
	jfree(doc);
	/* Something else in a bridge file's place is listed with the reason. */
	snprintf(path, sizeof path, "%s/hermes-bridge.%s.7403", stats_dir(fx), fx->bus.d.bus);
	assert_int_equal(mkdir(path, 0700), 0);
	char want[600];
	snprintf(want, sizeof want, "unreadable: %s: cannot read: Invalid argument", path);
	expect_out(CTL(fx, "bridges", "--stats-dir", stats_dir(fx)), want);

	/* A missing directory is no bridges, not an error. */
	char missing[300];
	snprintf(missing, sizeof missing, "%s/nonexistent", stats_dir(fx));
	expect_out(CTL(fx, "bridges", "--stats-dir", missing), "no bridges");
}

static void test_gateway_commands_check_their_arguments(void **state)
{
	fixture *fx = *state;
	/* A bus name must not walk out of the stats directory. */
	expect_fail(CTL(fx, "--bus", "../x", "bridges", "--stats-dir", stats_dir(fx)), 2, "bad bus name");
	expect_fail(CTL(fx, "uplink", "--bus", "a/b"), 2, NULL);
	/* --stats-dir only where gateway counters are read. */
	expect_fail(CTL(fx, "tail", RING, "--stats-dir", "/tmp"), 2, "--stats-dir is not supported here");
	expect_fail(CTL(fx, "--stats-dir", "/tmp", "inspect", RING), 2, NULL);
	expect_fail(CTL(fx, "bridges", "extra"), 2, NULL);
	expect_out(CTL(fx, "uplink", "--help"), "usage: hermes-ctl uplink");
}

/* ---- uplink ------------------------------------------------------------------ */

static uint64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Counters of a state file and the values to store in them (relaxed, as
 * their writers do), up to the entry with a NULL field. */
typedef struct counter {
	hm_atomic_u64 *at;
	uint64_t value;
} counter;

static void store_counters(const counter *c)
{
	for (; c->at; c++)
		hm_store_relaxed_u64(c->at, c->value);
}

/* A state file as a running hermes-nats leaves it (uplink_state.h): this
 * process poses as the uplink (its pid and start time), connected, with
 * two configured rings and one block left over from an earlier run. */
static void write_uplink_state(const fixture *fx, pid_t pid, uint64_t text_seq)
{
	hm_nats_state_header *h = calloc(1, HM_NATS_STATE_SIZE);
	assert_non_null(h);
	h->version = HM_NATS_STATE_VERSION;
	h->header_size = sizeof(hm_nats_state_header);
	h->ring_size = sizeof(hm_nats_ring_state);
	h->max_rings = HM_NATS_STATE_MAX_RINGS;
	h->range_log = HM_NATS_RANGE_LOG;
	h->bus_id = 0x1234;
	snprintf(h->bus, sizeof h->bus, "%.47s", fx->bus.d.bus);
	uint64_t now = realtime_ns();
	store_counters((const counter[]){{&h->pid, (uint64_t)pid},
					 {&h->start_time, hm_proc_start_time(pid == getpid() ? 0 : pid)},
					 {&h->started_ns, now - 5000000000ull}, {&h->heartbeat_ns, now},
					 {&h->runs, 2}, {&h->conn_state, HM_NATS_CONN_CONNECTED},
					 {&h->connects, 3}, {&h->disconnects, 2}, {&h->reconnects, 2},
					 {&h->errors, 1}, {&h->text_seq, text_seq}, {NULL}});
	snprintf(h->prefix, sizeof h->prefix, "hermes.%s", fx->bus.d.bus);
	snprintf(h->url, sizeof h->url, "nats://127.0.0.1:4222");
	snprintf(h->last_error, sizeof h->last_error, "stale connection");

	hm_nats_ring_state *r = hm_nats_state_ring(h, 0);
	snprintf(r->name, sizeof r->name, "orders");
	snprintf(r->subject, sizeof r->subject, "hermes.%s.orders", fx->bus.d.bus);
	snprintf(r->stream, sizeof r->stream, "ORDERS");
	r->dir = HM_NATS_DIR_BOTH;
	r->mode = HM_NATS_MODE_JETSTREAM;
	r->policy = HM_NATS_POLICY_BLOCK;
	r->max_pending = 1 << 20;
	store_counters((const counter[]){
		{&r->out.state, HM_NATS_W_RUNNING}, {&r->out.msgs, 1001}, {&r->out.bytes, 64064},
		{&r->out.dropped, 0}, {&r->out.blocked_events, 4}, {&r->out.blocked_ns, 1500000000},
		{&r->out.skipped_inbound, 17}, {&r->out.ring_lost, 5},
		{&r->in.state, HM_NATS_W_RING_FULL}, {&r->in.msgs, 77}, {&r->in.bytes, 7700},
		{&r->in.own_skipped, 9}, {&r->in.dup_skipped, 2}, {&r->in.lost, 3},
		{&r->in.client_dropped, 6}, {&r->inp.applied, 88}, {NULL}});
	hm_store_relaxed_u32(&r->configured, 1);

	r = hm_nats_state_ring(h, 1); /* a ring no longer configured: not shown */
	snprintf(r->name, sizeof r->name, "old");
	r->dir = HM_NATS_DIR_OUT;

	r = hm_nats_state_ring(h, 2);
	snprintf(r->name, sizeof r->name, "ticks");
	snprintf(r->subject, sizeof r->subject, "hermes.%s.ticks", fx->bus.d.bus);
	r->dir = HM_NATS_DIR_OUT;
	r->mode = HM_NATS_MODE_CORE;
	r->policy = HM_NATS_POLICY_DROP;
	store_counters((const counter[]){
		{&r->out.state, HM_NATS_W_DROPPING}, {&r->out.msgs, 10}, {&r->out.dropped, 40}, {NULL}});
	hm_store_relaxed_u32(&r->configured, 1);

	/* The magic last, as the uplink does (the reader does not run yet, but
	 * the file is written the way the protocol says). */
	hm_store_release_u64(&h->magic, HM_NATS_STATE_MAGIC);
	char path[512];
	snprintf(path, sizeof path, "%s/hermes-nats.%s", stats_dir((fixture *)fx), fx->bus.d.bus);
	write_file(path, h, HM_NATS_STATE_SIZE);
	free(h);
}

/* Samples of the uplink metrics: family, the labels after bus="<the
 * fixture's bus>" ("" for none), and the value, NAN for a sample that
 * must not be there; up to a NULL family. */
typedef struct sample {
	const char *family, *labels;
	double want;
} sample;

#define ORDERS_OUT ",ring=\"orders\",direction=\"out\""

static void expect_samples(const char *text, const fixture *fx, const sample *s)
{
	for (; s->family; s++) {
		char labels[256];
		double v;
		snprintf(labels, sizeof labels, "bus=\"%s\"%s", fx->bus.d.bus, s->labels);
		bool found = prom_value(text, s->family, labels, &v);
		if (isnan(s->want) ? found : (!found || v != s->want))
			fail_msg("%s{%s}: %s %g, want %g", s->family, labels, found ? "got" : "absent, got",
				 found ? v : NAN, s->want);
	}
}

static const jv *ring_named(const jv *rings, const char *name)
{
	for (size_t i = 0; i < rings->n; i++) {
		const jv *n = jget(rings->items[i], "name");
		if (n && n->t == J_STR && !strcmp(n->text, name))
			return rings->items[i];
	}
	fail_msg("no ring '%s'", name);
	return NULL;
}

static void test_uplink_json_reads_the_state_file_back(void **state)
{
	fixture *fx = *state;
	write_uplink_state(fx, getpid(), 4);
	jv *doc = json_of(CTL(fx, "uplink", "--stats-dir", stats_dir(fx), "--json"));
	expect_str(doc, "schema", "hermes-ctl.uplink/1");
	expect_str(doc, "bus", fx->bus.d.bus);
	expect_str(doc, "file", "ok");
	const jv *u = jget(doc, "uplink");
	assert_true(u && u->t == J_OBJ);
	assert_int_equal(ju64_at(u, "pid"), (uint64_t)getpid());
	expect_bool(u, "alive", true);
	expect_bool(u, "up", true);
	expect_str(u, "state", "running");
	assert_true(ju64_at(u, "heartbeat_age_ms") < 2000);
	assert_int_equal(ju64_at(u, "runs"), 2);
	expect_str(u, "bus_id", "4660"); /* ids are strings: 64 bits do not fit a JSON number */
	const jv *nats = jget(u, "nats");
	assert_non_null(nats);
	expect_str(nats, "state", "connected");
	expect_str(nats, "url", "nats://127.0.0.1:4222");
	expect_str(nats, "last_error", "stale connection");
	expect_bool(nats, "text_consistent", true);
	assert_int_equal(ju64_at(nats, "connects"), 3);
	assert_int_equal(ju64_at(nats, "reconnects"), 2);

	const jv *rings = array_at(u, "rings", 2);
	const jv *o = ring_named(rings, "orders");
	expect_str(o, "direction", "both");
	expect_str(o, "mode", "jetstream");
	expect_str(o, "policy", "block");
	expect_str(o, "stream", "ORDERS");
	const jv *out = jget(o, "out"), *in = jget(o, "in");
	assert_true(out && in);
	expect_str(out, "state", "running");
	expect_u64s(out, (const key_u64[]){{"messages", 1001}, {"bytes", 64064}, {"blocked_events", 4},
					   {"blocked_ns", 1500000000}, {"skipped_inbound", 17},
					   {"lost", 5}, {NULL}});
	expect_str(in, "state", "ring-full");
	expect_u64s(in, (const key_u64[]){{"messages", 77}, {"own_skipped", 9},
					  {"duplicates_skipped", 2}, {"lost", 3}, {"client_dropped", 6},
					  {"applied_stream_seq", 88}, {NULL}});
	const jv *t = ring_named(rings, "ticks");
	expect_str(t, "policy", "drop");
	expect_str(jget(t, "out"), "state", "dropping");
	assert_int_equal(ju64_at(jget(t, "out"), "dropped"), 40);
	expect_str(jget(t, "in"), "state", "off");
	jfree(doc);

	result r = CTL(fx, "uplink", "--stats-dir", stats_dir(fx));
	expect_ok(&r);
	assert_non_null(strstr(r.out.p, "nats: connected (nats://127.0.0.1:4222)"));
	assert_non_null(strstr(r.out.p, "last error: stale connection"));
	assert_non_null(strstr(r.out.p, "orders"));
	assert_null(strstr(r.out.p, "\nold "));
	result_free(&r);

	/* metrics: the uplink families, per ring and direction. */
	r = metrics_of(fx);
	expect_samples(r.out.p, fx,
		       (const sample[]){
			       {"hermes_uplink_up", "", 1},
			       {"hermes_uplink_connected", "", 1},
			       {"hermes_uplink_reconnects_total", "", 2},
			       {"hermes_uplink_messages_total", ORDERS_OUT, 1001},
			       {"hermes_uplink_lost_total", ORDERS_OUT, 5},
			       {"hermes_uplink_messages_total", ",ring=\"orders\",direction=\"in\"", 77},
			       {"hermes_uplink_lost_total", ",ring=\"orders\",direction=\"in\"", 3},
			       {"hermes_uplink_dropped_total", ",ring=\"orders\",direction=\"in\"", 6},
			       {"hermes_uplink_dropped_total", ",ring=\"ticks\",direction=\"out\"", 40},
			       /* ticks only goes out: no inbound sample for it. */
			       {"hermes_uplink_messages_total", ",ring=\"ticks\",direction=\"in\"", NAN},
			       {"hermes_uplink_skipped_total", ",ring=\"orders\",reason=\"loop\"", 17},
			       {NULL},
		       });
	result_free(&r);

	expect_out(CTL(fx, "list", "--interval", "0", "--stats-dir", stats_dir(fx)),
		   "uplink: connected to nats://127.0.0.1:4222");
}

static void test_uplink_of_a_dead_process_is_gone_and_half_written_text_is_flagged(void **state)
{
	fixture *fx = *state;
	/* A child that has exited and been reaped: its pid names no process. */
	pid_t dead = fork();
	assert_true(dead >= 0);
	if (dead == 0)
		_exit(0);
	ht_wait_child(dead, 10000);
	write_uplink_state(fx, dead, 5); /* odd: a writer died inside the seqlock */

	jv *doc = json_of(CTL(fx, "uplink", "--stats-dir", stats_dir(fx), "--json"));
	const jv *u = jget(doc, "uplink");
	expect_bool(u, "alive", false);
	expect_bool(u, "up", false);
	expect_str(u, "state", "gone");
	expect_bool(jget(u, "nats"), "text_consistent", false);
	jfree(doc);

	result r = CTL(fx, "metrics", "--stats-dir", stats_dir(fx));
	expect_ok(&r);
	expect_samples(r.out.p, fx,
		       (const sample[]){{"hermes_uplink_up", "", 0},
					{"hermes_uplink_connected", "", 0},
					{"hermes_uplink_messages_total", ORDERS_OUT, NAN},
					{NULL}});
	result_free(&r);
}

static void test_uplink_absent_is_no_error_and_garbage_is(void **state)
{
	fixture *fx = *state;
	jv *doc = json_of(CTL(fx, "uplink", "--stats-dir", stats_dir(fx), "--json"));
	expect_str(doc, "file", "absent");
	const jv *u = jget(doc, "uplink");
	assert_true(u && u->t == J_NULL);
	jfree(doc);
	expect_out(CTL(fx, "uplink", "--stats-dir", stats_dir(fx)), "no uplink");

	/* Being made (shorter than its layout), then not a file at all. */
	char path[512];
	snprintf(path, sizeof path, "%s/hermes-nats.%s", stats_dir(fx), fx->bus.d.bus);
	write_file(path, "", 0);
	expect_out(CTL(fx, "uplink", "--stats-dir", stats_dir(fx)), "not initialised yet");
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	expect_fail(CTL(fx, "uplink", "--stats-dir", stats_dir(fx)), 1, "cannot read: Invalid argument");
	assert_int_equal(rmdir(path), 0);
	/* Full size, but not our magic. */
	char *junk = malloc(HM_NATS_STATE_SIZE);
	assert_non_null(junk);
	memset(junk, 'x', HM_NATS_STATE_SIZE);
	write_file(path, junk, HM_NATS_STATE_SIZE);
	free(junk);
	expect_fail(CTL(fx, "uplink", "--stats-dir", stats_dir(fx)), 1, "not a hermes-nats state file");
	/* metrics is not spoiled by it. */
	expect_no_out(CTL(fx, "metrics", "--stats-dir", stats_dir(fx)), "hermes_uplink_up");
}

/* pub and tail --remote go through the bridge, and round-trip exactly what
 * went in; keygen makes a private key file and refuses to overwrite it. */
static void test_pub_and_tail_through_a_bridge_and_keygen(void **state)
{
	fixture *fx = *state;
	start_bridge(fx);
	result r = CTL(fx, "pub", RING, "over the bridge", "--remote", fx->b.addr, "--print-seq");
	expect_ok(&r);
	assert_string_equal(r.out.p, "0\n");
	result_free(&r);
	run_ok(CTL(fx, "pub", RING, "--hex", "de ad 00 be ef", "--remote", fx->b.addr));
	r = CTL(fx, "tail", RING, "--from", "earliest", "--count", "2", "--format", "hex", "--remote",
		fx->b.addr);
	expect_ok(&r);
	assert_string_equal(r.out.p, "0 6f7665722074686520627269646765\n"
				   "1 dead00beef\n");
	result_free(&r);
	/* The local view agrees with what went through the bridge. */
	r = CTL(fx, "tail", RING, "--from", "earliest", "--count", "1");
	expect_ok(&r);
	assert_string_equal(r.out.p, "over the bridge\n");
	result_free(&r);
	expect_fail(CTL(fx, "pub", "no-such-ring", "x", "--remote", fx->b.addr), 1, "no-such-ring");
	expect_fail(CTL(fx, "tail", RING, "--remote", "127.0.0.1:1", "--count", "1"), 1, NULL);

	char key[300];
	snprintf(key, sizeof key, "%s/alice.key", fx->bus.d.run_dir);
	r = CTL(fx, "keygen", "alice", "--out", key);
#ifdef HERMES_HAVE_SODIUM
	expect_ok(&r);
	/* A key pair by default: the public half is printed. */
	assert_non_null(strstr(r.out.p, "public_key = "));
	struct stat st;
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	result_free(&r);
	r = CTL(fx, "keygen", "alice", "--out", key);
	assert_int_equal(r.code, 1);
	assert_non_null(strstr(r.err.p, "exists"));
#else
	assert_int_equal(r.code, 1);
#endif
	result_free(&r);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_pub_and_tail_through_a_bridge_and_keygen),
		T(test_bridges_json_counts_what_a_remote_client_did),
		T(test_bridges_reports_a_killed_bridge_as_stale),
		T(test_bridges_lists_half_written_files_and_ignores_other_buses),
		T(test_gateway_commands_check_their_arguments),
		T(test_uplink_json_reads_the_state_file_back),
		T(test_uplink_of_a_dead_process_is_gone_and_half_written_text_is_flagged),
		T(test_uplink_absent_is_no_error_and_garbage_is),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
