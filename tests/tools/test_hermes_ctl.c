/* Tests for hermes-ctl (tools/): the real binary against a real bus, with a
 * real hermesd started per test (its own bus name and run directory, removed
 * afterwards). Every wait has a deadline; processes are stopped by pid. */
#include "tests/support/testing.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hermes/version.h>

#include "shm/layout.h"
#include "shm/segment.h"
#include "tests/support/daemon.h"
#include "tests/support/process.h"
#include "tests/tools/ctl_runner.h"
#include "tests/tools/checkers.h"

#ifndef HERMES_CTL_PATH
#error "HERMES_CTL_PATH must name the hermes-ctl binary"
#endif

static void nap_ms(int ms)
{
	/* A poll interval between checks of a condition that has a deadline. */
	struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)ms * 1000000L};
	nanosleep(&ts, NULL);
}

/* ---- the bus under test ---------------------------------------------------------- */

/* hermesd on the fixture's own bus and run directory (the test kit's
 * ht_daemon), started per test. */
typedef struct fixture {
	ht_daemon d;
} fixture;

static int setup(void **state)
{
	fixture *fx = calloc(1, sizeof *fx);
	assert_non_null(fx);
	ht_daemon_init(&fx->d, "ctl");
	static const char *const extra[] = {"--remove-on-exit", "--size", "8M", NULL};
	ht_daemon_start(&fx->d, extra);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	fixture *fx = *state;
	/* SIGTERM first: --remove-on-exit removes the segment unless hermesd
	 * was killed; ht_daemon_cleanup removes what is left. */
	if (fx->d.pid > 0)
		ht_proc_terminate(&fx->d.pid, 10000);
	ht_daemon_cleanup(&fx->d);
	free(fx);
	return 0;
}

/* hermes-ctl --bus <fixture bus> args... (fx NULL: no --bus). */
static const char *bus_of(const fixture *fx)
{
	return fx ? fx->d.bus : NULL;
}
#define CTL(fx, ...) ctl_in(bus_of(fx), NULL, 0, CTL_ARGS(__VA_ARGS__))
#define CTL_STDIN(fx, in, len, ...) ctl_in(bus_of(fx), (in), (len), CTL_ARGS(__VA_ARGS__))

/* The next line of the text at *at, its newline replaced by NUL (fails the
 * test when there is none); *at moves past it. */
static char *next_line(char **at)
{
	char *line = *at, *nl = strchr(line, '\n');
	assert_non_null(nl);
	*nl = '\0';
	*at = nl + 1;
	return line;
}

static const jv *ring_in_list(const jv *list, const char *name)
{
	const jv *rings = jget(list, "rings");
	assert_non_null(rings);
	assert_int_equal(rings->t, J_ARR);
	for (size_t i = 0; i < rings->n; i++) {
		const jv *nm = jget(rings->items[i], "name");
		if (nm && nm->t == J_STR && !strcmp(nm->text, name))
			return rings->items[i];
	}
	return NULL;
}

/* ---- round trips ------------------------------------------------------------------- */

/* The text format's escaping, undone: \\ \n \r \t \xNN. */
static size_t unescape(const char *s, size_t len, uint8_t *out)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '\\') {
			out[n++] = (uint8_t)s[i];
			continue;
		}
		char e = s[++i];
		if (e == 'n')
			out[n++] = '\n';
		else if (e == 'r')
			out[n++] = '\r';
		else if (e == 't')
			out[n++] = '\t';
		else if (e == '\\')
			out[n++] = '\\';
		else if (e == 'x') {
			unsigned v;
			sscanf(s + i + 1, "%2x", &v);
			out[n++] = (uint8_t)v;
			i += 2;
		} else {
			fail_msg("unknown escape \\%c in tail output", e);
		}
	}
	return n;
}

static void test_pub_then_tail_round_trips_text(void **state)
{
	fixture *fx = *state;
	static const char *msgs[] = {"hello world", "tab\there", "back\\slash", "caf\xc3\xa9",
				     "bell\x07 and del\x7f", "", "  spaces  "};
	const unsigned n = sizeof msgs / sizeof msgs[0];
	buf in = {0};
	for (unsigned i = 0; i < n; i++) {
		buf_add(&in, msgs[i], strlen(msgs[i]));
		buf_add(&in, "\n", 1);
	}
	run_ok(CTL_STDIN(fx, in.p, in.len, "pub", "events"));
	/* One more as an argument. */
	run_ok(CTL(fx, "pub", "events", "from argv"));

	char count[16];
	snprintf(count, sizeof count, "%u", n + 1);
	result r = CTL(fx, "tail", "events", "--from", "earliest", "--count", count);
	expect_ok(&r);
	char *line = r.out.p;
	for (unsigned i = 0; i <= n; i++) {
		const char *want = i < n ? msgs[i] : "from argv";
		char *nl = strchr(line, '\n');
		assert_non_null(nl);
		uint8_t bytes[256];
		size_t len = unescape(line, (size_t)(nl - line), bytes);
		assert_int_equal(len, strlen(want));
		assert_memory_equal(bytes, want, len);
		line = nl + 1;
	}
	assert_string_equal(line, "");
	/* Escapes are as documented. */
	assert_non_null(strstr(r.out.p, "tab\\there\n"));
	assert_non_null(strstr(r.out.p, "caf\\xc3\\xa9\n"));
	assert_non_null(strstr(r.out.p, "bell\\x07 and del\\x7f\n"));
	result_free(&r);
	free(in.p);
}

/* Deterministic binary messages: every byte value, newlines, NULs, an empty
 * one, lengths below MSG_CAP. */
#define MSG_CAP 300
static size_t make_message(unsigned i, uint8_t *out)
{
	uint64_t st = 0x9e3779b97f4a7c15ull * (i + 1);
	size_t len = i == 3 ? 0 : (size_t)(ht_rand(&st) % MSG_CAP);
	for (size_t k = 0; k < len; k++)
		out[k] = (uint8_t)(i == 0 ? k : ht_rand(&st));
	return len;
}

static void publish_hex(fixture *fx, const char *ring, unsigned n)
{
	buf in = {0};
	for (unsigned i = 0; i < n; i++) {
		uint8_t m[MSG_CAP];
		size_t len = make_message(i, m);
		for (size_t k = 0; k < len; k++) {
			char hx[4];
			snprintf(hx, sizeof hx, k % 7 == 6 ? "%02X " : "%02x", m[k]);
			buf_add(&in, hx, strlen(hx));
		}
		buf_add(&in, "\n", 1);
	}
	run_ok(CTL_STDIN(fx, in.p, in.len, "pub", ring, "--hex"));
	free(in.p);
}

/* One line of `tail --format hex`: "SEQ HEX", message i of len bytes; the
 * bytes into got. */
static void hex_line(const char *text, unsigned i, size_t len, uint8_t *got)
{
	const char *sp = strchr(text, ' ');
	assert_non_null(sp);
	assert_int_equal(strtoull(text, NULL, 10), i);
	size_t hexlen = strlen(sp + 1);
	assert_int_equal(hexlen, 2 * len);
	for (size_t k = 0; k < len; k++) {
		unsigned v;
		assert_int_equal(sscanf(sp + 1 + 2 * k, "%2x", &v), 1);
		got[k] = (uint8_t)v;
	}
}

/* One line of `tail --format json`: seq, tag, len and base64 data exactly. */
static void json_line(const char *text, unsigned i, size_t len, uint8_t *got)
{
	jv *v = jparse_or_fail(text);
	assert_int_equal(v->t, J_OBJ);
	assert_int_equal(v->n, 4);
	assert_int_equal(ju64_at(v, "seq"), i);
	assert_int_equal(ju64_at(v, "tag"), 0);
	assert_int_equal(ju64_at(v, "len"), len);
	const jv *data = jget(v, "data");
	assert_non_null(data);
	assert_int_equal(data->t, J_STR);
	assert_int_equal(b64_decode(data->text, data->len, got, MSG_CAP), (long)len);
	jfree(v);
}

/* Publish 40 binary messages with pub --hex, tail them from `from` in
 * `format`, and decode every line back to what was published. */
static void tail_round_trip(fixture *fx, const char *ring, const char *from, const char *format,
			    void (*decode)(const char *, unsigned, size_t, uint8_t *))
{
	const unsigned n = 40;
	publish_hex(fx, ring, n);
	result r = CTL(fx, "tail", ring, "--from", from, "--count", "40", "--format", format);
	expect_ok(&r);
	char *line = r.out.p;
	for (unsigned i = 0; i < n; i++) {
		uint8_t want[MSG_CAP], got[MSG_CAP];
		size_t len = make_message(i, want);
		decode(next_line(&line), i, len, got);
		assert_memory_equal(got, want, len);
	}
	assert_string_equal(line, "");
	result_free(&r);
}

static void test_pub_hex_then_tail_hex_round_trips_binary(void **state)
{
	tail_round_trip(*state, "events", "earliest", "hex", hex_line);
}

static void test_pub_hex_then_tail_json_round_trips_binary(void **state)
{
	tail_round_trip(*state, "telemetry", "0", "json", json_line);
}

static void expect_fail(result r, int code, const char *needle);

/* pub --tag sets the user tag (decimal or 0x hex); tail shows it: "tag=0x2a "
 * before the data in text and hex only when there is one, "tag" always in
 * JSON (issue 18). */
static void test_pub_tag_then_tail_shows_the_tag(void **state)
{
	fixture *fx = *state;
	run_ok(CTL(fx, "pub", "events", "--tag", "42", "tagged"));
	run_ok(CTL(fx, "pub", "events", "plain"));
	run_ok(CTL(fx, "pub", "events", "--tag", "0xFFFFFFFF", "--hex", "00ff"));

	result r = CTL(fx, "tail", "events", "--from", "earliest", "--count", "3");
	expect_ok(&r);
	assert_string_equal(r.out.p, "tag=0x2a tagged\nplain\ntag=0xffffffff \\x00\\xff\n");
	result_free(&r);
	r = CTL(fx, "tail", "events", "--from", "earliest", "--count", "3", "--format", "hex");
	expect_ok(&r);
	assert_string_equal(r.out.p, "0 tag=0x2a 746167676564\n1 706c61696e\n2 tag=0xffffffff 00ff\n");
	result_free(&r);
	r = CTL(fx, "tail", "events", "--from", "earliest", "--count", "3", "--format", "json");
	expect_ok(&r);
	static const uint64_t tags[] = {42, 0, UINT32_MAX};
	char *line = r.out.p;
	for (unsigned i = 0; i < 3; i++) {
		jv *v = jparse_or_fail(next_line(&line));
		assert_int_equal(v->n, 4);
		assert_int_equal(ju64_at(v, "seq"), i);
		assert_int_equal(ju64_at(v, "tag"), tags[i]);
		jfree(v);
	}
	result_free(&r);

	expect_fail(CTL(fx, "pub", "events", "--tag", "0", "x"), 2, "--tag wants a user tag");
	expect_fail(CTL(fx, "pub", "events", "--tag", "4294967296", "x"), 2, "--tag wants");
	expect_fail(CTL(fx, "pub", "events", "--tag", "0x", "x"), 2, "--tag wants");
	expect_fail(CTL(fx, "pub", "events", "--tag", "0x1g", "x"), 2, "--tag wants");
}

/* ---- list, inspect, clients ---------------------------------------------------------- */

/* A client of the fixture's bus attached as app/instance, subscribed to
 * "events" from the latest message; its bus handle in *bus. */
static hermes_sub *named_subscriber(fixture *fx, const char *app, const char *instance,
				    hermes_bus **bus)
{
	hermes_attach_opts o = HERMES_ATTACH_OPTS_INIT;
	o.app_name = app;
	o.instance = instance;
	assert_int_equal(hermes_bus_attach_opts(fx->d.bus, &o, bus), HERMES_OK);
	hermes_sub *sub;
	assert_int_equal(hermes_sub_open(*bus, "events", HERMES_START_LATEST, 0, &sub), HERMES_OK);
	return sub;
}

static void test_list_and_inspect_json_match_what_was_published_and_consumed(void **state)
{
	fixture *fx = *state;
	const unsigned n = 50, k = 20;
	hermes_bus *bus;
	hermes_sub *sub = named_subscriber(fx, "order-router", "eu-1", &bus);

	/* Messages "m0".."m49": lengths 2 and 3, so the byte counts below are
	 * easy to check by hand too. */
	buf in = {0};
	uint64_t payload[64], data_bytes_left = 0, consumed_bytes = 0;
	for (unsigned i = 0; i < n; i++) {
		char m[16];
		int len = snprintf(m, sizeof m, "m%u\n", i);
		buf_add(&in, m, (size_t)len);
		payload[i] = (uint64_t)len - 1;
		if (i >= k)
			data_bytes_left += hm_data_bytes((uint32_t)payload[i]);
		else
			consumed_bytes += payload[i];
	}
	run_ok(CTL_STDIN(fx, in.p, in.len, "pub", "events"));
	free(in.p);
	for (unsigned i = 0; i < k; i++) {
		hermes_msg m;
		assert_int_equal(hermes_sub_poll(sub, &m), HERMES_OK);
		assert_int_equal(m.seq, i);
	}
	assert_int_equal(hermes_sub_release(sub), HERMES_OK);

	jv *list = json_of(CTL(fx, "list", "--json", "--interval", "50"));
	const jv *v = jget(list, "schema");
	assert_non_null(v);
	assert_string_equal(v->text, "hermes-ctl.list/1");
	assert_string_equal(jget(list, "bus")->text, fx->d.bus);
	assert_int_equal(jpath(list, "supervisor", "up", NULL)->b, true);
	assert_int_equal(ju64_at(list, "interval_ms"), 50);
	const jv *ev = ring_in_list(list, "events");
	assert_non_null(ev);
	assert_string_equal(jget(ev, "policy")->text, "block");
	assert_int_equal(ju64_at(ev, "capacity_bytes"), 1 << 20);
	assert_int_equal(ju64_at(ev, "messages"), n);
	assert_int_equal(ju64_at(ev, "producers"), 0);
	assert_int_equal(ju64_at(ev, "subscribers"), 1);
	assert_int_equal(ju64_at(ev, "fill_messages"), n - k);
	assert_int_equal(ju64_at(ev, "fill_bytes"), data_bytes_left);
	assert_int_equal(ju64_at(ev, "lost_messages"), 0);
	double rate;
	assert_true(jnum(jget(ev, "messages_per_sec"), &rate));
	assert_true(rate == 0.0); /* nothing was published while it sampled */
	assert_non_null(ring_in_list(list, "telemetry"));
	jfree(list);

	jv *ins = json_of(CTL(fx, "inspect", "events", "--json"));
	assert_string_equal(jget(ins, "schema")->text, "hermes-ctl.inspect/1");
	const jv *ring = jget(ins, "ring");
	assert_int_equal(ju64_at(ring, "last_seq"), n - 1);
	assert_int_equal(ju64_at(ring, "tail_seq"), n);
	const jv *subs = jget(ins, "subscribers");
	assert_non_null(subs);
	assert_int_equal(subs->n, 1);
	const jv *s0 = subs->items[0];
	assert_int_equal(ju64_at(s0, "pid"), (uint64_t)getpid());
	assert_string_equal(jget(s0, "client")->text, "order-router");
	assert_string_equal(jget(s0, "instance")->text, "eu-1");
	assert_int_equal(jget(s0, "alive")->b, true);
	assert_int_equal(ju64_at(s0, "next_seq"), k);
	assert_int_equal(ju64_at(s0, "lag_messages"), n - k);
	assert_int_equal(ju64_at(s0, "lag_bytes"), data_bytes_left);
	assert_int_equal(ju64_at(s0, "messages"), k);
	assert_int_equal(ju64_at(s0, "bytes"), consumed_bytes);
	assert_int_equal(jget(ins, "producers")->n, 0);
	jfree(ins);

	/* The text forms carry the same facts. */
	result r = CTL(fx, "inspect", "events");
	expect_ok(&r);
	assert_non_null(strstr(r.out.p, "last sequence 49"));
	assert_non_null(strstr(r.out.p, "subscribers: 1"));
	assert_non_null(strstr(r.out.p, " order-router/eu-1 "));
	result_free(&r);
	r = CTL(fx, "list");
	expect_ok(&r);
	assert_non_null(strstr(r.out.p, "supervisor up"));
	assert_non_null(strstr(r.out.p, "events"));
	result_free(&r);

	/* clients: this process, connected to hermesd, holding a subscriber. */
	jv *cl = json_of(CTL(fx, "clients", "--json"));
	assert_int_equal(jget(cl, "supervisor_answered")->b, true);
	const jv *list2 = jget(cl, "clients");
	bool found = false;
	for (size_t i = 0; i < list2->n; i++) {
		const jv *c = list2->items[i];
		if (ju64_at(c, "pid") != (uint64_t)getpid())
			continue;
		found = true;
		assert_string_equal(jget(c, "client")->text, "order-router");
		assert_string_equal(jget(c, "instance")->text, "eu-1");
		assert_int_equal(jget(c, "connected")->b, true);
		const jv *holds = jget(c, "holds");
		assert_int_equal(holds->n, 1);
		assert_string_equal(jget(holds->items[0], "ring")->text, "events");
		assert_string_equal(jget(holds->items[0], "role")->text, "subscriber");
	}
	assert_true(found);
	jfree(cl);
	r = CTL(fx, "clients");
	expect_ok(&r);
	assert_non_null(strstr(r.out.p, " order-router "));
	assert_non_null(strstr(r.out.p, " eu-1 "));
	result_free(&r);

	hermes_sub_close(sub);
	hermes_bus_detach(bus);
}

/* ---- metrics ----------------------------------------------------------------------------- */

static void check_prom(const char *text)
{
	char err[512];
	if (!prom_check(text, err, sizeof err))
		fail_msg("not Prometheus text format: %s", err);
}

static void test_metrics_is_prometheus_text_with_the_counters(void **state)
{
	fixture *fx = *state;
	/* Series of a slot name its client (issue 17 point 7, with issue 18
	 * point 4's names), its instance, and keep the pid. */
	hermes_bus *bus;
	hermes_sub *sub = named_subscriber(fx, "metrics-test", "m1", &bus);
	static const char in[] = "a\nbb\nccc\n";
	run_ok(CTL_STDIN(fx, in, sizeof in - 1, "pub", "events"));

	result r = CTL(fx, "metrics");
	expect_ok(&r);
	check_prom(r.out.p);
	char lbl[256];
	double v;
	snprintf(lbl, sizeof lbl, "bus=\"%s\"", fx->d.bus);
	assert_true(prom_value(r.out.p, "hermes_supervisor_up", lbl, &v));
	assert_true(v == 1);
	snprintf(lbl, sizeof lbl, "bus=\"%s\",ring=\"events\"", fx->d.bus);
	assert_true(prom_value(r.out.p, "hermes_ring_messages_total", lbl, &v));
	assert_true(v == 3);
	assert_true(prom_value(r.out.p, "hermes_ring_subscribers", lbl, &v));
	assert_true(v == 1);
	snprintf(lbl, sizeof lbl,
		 "bus=\"%s\",ring=\"events\",slot=\"0\",client=\"metrics-test\",client_instance=\"m1\","
		 "pid=\"%d\"",
		 fx->d.bus, (int)getpid());
	assert_true(prom_value(r.out.p, "hermes_subscriber_lag_messages", lbl, &v));
	assert_true(v == 3);
	assert_non_null(strstr(r.out.p, "# TYPE hermes_ring_messages_total counter\n"));
	assert_non_null(strstr(r.out.p, "\nhermes_build_info{version=\"" HERMES_VERSION_STRING "\",layout=\""));
	/* Prometheus naming: every counter ends in _total; no unit-less times. */
	for (const char *t = r.out.p; (t = strstr(t, "# TYPE ")) != NULL; t++) {
		char name[128], type[16];
		assert_int_equal(sscanf(t, "# TYPE %127s %15s", name, type), 2);
		size_t n = strlen(name);
		if (!strcmp(type, "counter"))
			assert_true(n > 6 && !strcmp(name + n - 6, "_total"));
		assert_null(strstr(name, "_ms"));
		assert_null(strstr(name, "_ns"));
	}
	result_free(&r);
	hermes_sub_close(sub);
	hermes_bus_detach(bus);
}

static int connect_loopback(unsigned port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	return fd;
}

/* Send one request and read the whole response (the server closes). */
static void http_get(unsigned port, const char *path, buf *resp)
{
	int fd = connect_loopback(port);
	char req[256];
	int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path);
	assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
	uint64_t deadline = ht_now_ns() + (uint64_t)CMD_TIMEOUT_MS * 1000000u;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (ht_now_ns() > deadline)
			fail_msg("no complete HTTP response within %d ms", CMD_TIMEOUT_MS);
		if (poll(&p, 1, 100) <= 0)
			continue;
		char tmp[4096];
		ssize_t r = read(fd, tmp, sizeof tmp);
		if (r <= 0)
			break;
		buf_add(resp, tmp, (size_t)r);
	}
	close(fd);
}

static void test_metrics_serve_answers_http_on_loopback(void **state)
{
	fixture *fx = *state;
	const char *argv[] = {HERMES_CTL_PATH, "--bus", fx->d.bus, "metrics", "--serve",
			      "127.0.0.1:0", NULL};
	int err_fd;
	pid_t pid = ctl_spawn(argv, NULL, NULL, NULL, &err_fd);
	buf err = {0};
	buf_add(&err, "", 0);
	unsigned port = 0;
	uint64_t deadline = ht_now_ns() + (uint64_t)CMD_TIMEOUT_MS * 1000000u;
	while (!port) {
		if (ht_now_ns() > deadline) {
			ht_proc_kill(&pid);
			fail_msg("metrics --serve did not say where it listens: %s", err.p);
		}
		struct pollfd p = {.fd = err_fd, .events = POLLIN};
		if (poll(&p, 1, 100) > 0 && !buf_drain(err_fd, &err))
			fail_msg("metrics --serve exited: %s", err.p);
		const char *at = strstr(err.p, "http://127.0.0.1:");
		if (at && strstr(at, "/metrics"))
			port = (unsigned)strtoul(at + strlen("http://127.0.0.1:"), NULL, 10);
	}
	buf resp = {0};
	buf_add(&resp, "", 0);
	http_get(port, "/metrics", &resp);
	assert_true(!strncmp(resp.p, "HTTP/1.1 200 OK\r\n", 17));
	assert_non_null(strstr(resp.p, "Content-Type: text/plain; version=0.0.4"));
	char *body = strstr(resp.p, "\r\n\r\n");
	assert_non_null(body);
	check_prom(body + 4);
	assert_non_null(strstr(body, "hermes_ring_messages_total{"));
	resp.len = 0;
	http_get(port, "/nothing", &resp);
	assert_true(!strncmp(resp.p, "HTTP/1.1 404", 12));
	free(resp.p);

	kill(pid, SIGTERM);
	int status = ht_wait_child(pid, CMD_TIMEOUT_MS);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(err_fd);
	free(err.p);
}

/* ---- supervisor down ------------------------------------------------------------------- */

static void test_read_commands_work_with_hermesd_killed(void **state)
{
	fixture *fx = *state;
	run_ok(CTL(fx, "pub", "events", "before the crash"));
	ht_daemon_kill(&fx->d);

	result r = CTL(fx, "list");
	expect_ok(&r);
	assert_non_null(strstr(r.out.p, "supervisor DOWN"));
	assert_non_null(strstr(r.out.p, "events"));
	result_free(&r);

	jv *list = json_of(CTL(fx, "list", "--json", "--interval", "0"));
	assert_int_equal(jpath(list, "supervisor", "up", NULL)->b, false);
	assert_string_equal(jpath(list, "supervisor", "state", NULL)->text, "gone");
	assert_int_equal(jget(list, "interval_ms")->t, J_NULL);
	assert_int_equal(ju64_at(ring_in_list(list, "events"), "messages"), 1);
	jfree(list);

	run_ok(CTL(fx, "inspect", "events"));
	expect_out(CTL(fx, "clients"), "slot owners only");
	r = CTL(fx, "metrics");
	expect_ok(&r);
	check_prom(r.out.p);
	double v;
	char lbl[128];
	snprintf(lbl, sizeof lbl, "bus=\"%s\"", fx->d.bus);
	assert_true(prom_value(r.out.p, "hermes_supervisor_up", lbl, &v));
	assert_true(v == 0);
	result_free(&r);

	/* The data path needs no supervisor... */
	r = CTL(fx, "tail", "events", "--from", "earliest", "--count", "1");
	expect_ok(&r);
	assert_string_equal(r.out.p, "before the crash\n");
	result_free(&r);
	/* ...ring management does, and says so. */
	r = CTL(fx, "create", "late", "--capacity", "64K");
	assert_int_equal(r.code, 1);
	assert_non_null(strstr(r.err.p, "needs hermesd"));
	assert_non_null(strstr(r.err.p, "hermesd --bus"));
	result_free(&r);
}

/* ---- errors ---------------------------------------------------------------------------- */

static void expect_fail(result r, int code, const char *needle)
{
	if (r.code != code || !strstr(r.err.p, needle))
		fail_msg("wanted exit %d and '%s' on stderr; got exit %d and: %s", code, needle, r.code,
			 r.err.p);
	assert_string_equal(r.out.p, "");
	result_free(&r);
}

static void test_errors_have_exit_codes_and_say_what_to_do(void **state)
{
	fixture *fx = *state;
	char msg[256];
	fixture other = {0};
	snprintf(other.d.bus, sizeof other.d.bus, "%.40s-gone", fx->d.bus);
	snprintf(msg, sizeof msg, "/dev/shm/hermes.%s does not exist; is hermesd running? (hermesd --bus %s)",
		 other.d.bus, other.d.bus);
	expect_fail(CTL(&other, "list"), 1, msg);
	expect_fail(CTL(&other, "inspect", "events"), 1, msg);
	expect_fail(CTL(&other, "tail", "events"), 1, msg);
	/* Command line, exit code, what stderr must say. */
	static const struct {
		const char *line;
		int code;
		const char *needle;
	} cases[] = {
		{"inspect nope", 1, "no ring 'nope' (rings: events, telemetry)"},
		{"tail nope --count 1", 1, "no ring 'nope'"},
		{"pub nope x", 1, "no ring 'nope'"},
		{"list --frobnicate", 2, "unknown option '--frobnicate'"},
		{"inspect", 2, "which ring?"},
		{"tail events --count many", 2, "--count wants a positive number"},
		{"tail events --from yesterday", 2, "--from wants earliest"},
		{"tail events --format xml", 2, "--format wants text, hex or json"},
		{"tail events --json", 2, "use --format json"},
		{"list --interval", 2, "needs a value"},
		{"frobnicate", 2, "unknown command 'frobnicate'"},
		{"pub events a b", 2, "unexpected argument 'b'"},
		{"pub events --hex xyz", 2, "not hex"},
		{"create r --capacity 3000", 2, "power of two"},
		{"create r", 2, "--capacity is required"},
		{"metrics --serve 0.0.0.0:9464", 2, "refusing non-loopback"},
		{"metrics --serve 0.0.0.0:9464", 2, "--allow-remote"},
		{"metrics --allow-remote", 2, "--allow-remote goes with --serve"},
		/* Nothing listens on port 1: a clear error naming the address. */
		{"tail events --remote 127.0.0.1:1", 1, "--remote 127.0.0.1:1: cannot connect"},
		{"pub events x --remote 127.0.0.1:1", 1, "--remote 127.0.0.1:1: cannot connect"},
		{"keygen", 2, "which identity?"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_fail(ctl_words(bus_of(fx), cases[i].line), cases[i].code, cases[i].needle);
	fixture bad = {.d.bus = "bad/name"};
	expect_fail(CTL(&bad, "list"), 2, "bad bus name");

	/* A message larger than the ring takes (telemetry: 4 KiB). */
	char big[5000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	expect_fail(CTL(fx, "pub", "telemetry", big), 1, "at most 4096");

	/* --help is not an error, on every command. */
	static const char *cmds[] = {"list", "inspect", "clients", "tail", "pub",
				     "create", "delete", "watch", "metrics"};
	for (unsigned i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		result r = CTL(fx, cmds[i], "--help");
		expect_ok(&r);
		assert_non_null(strstr(r.out.p, "usage: hermes-ctl"));
		result_free(&r);
	}

	/* HERMES_BUS picks the bus when --bus is absent. */
	char env[96];
	snprintf(env, sizeof env, "HERMES_BUS=%s", fx->d.bus);
	const char *argv[] = {HERMES_CTL_PATH, "list", "--interval", "0", NULL};
	const char *envp[] = {env, NULL};
	result r = ctl_exec(argv, envp, NULL, 0);
	expect_ok(&r);
	snprintf(msg, sizeof msg, "bus '%s'", fx->d.bus);
	assert_non_null(strstr(r.out.p, msg));
	result_free(&r);
}

/* ---- watch, create/delete, tail signals, full rings ------------------------------------ */

static unsigned count_of(const char *hay, const char *needle)
{
	unsigned n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static void test_watch_without_a_tty_prints_plain_snapshots(void **state)
{
	fixture *fx = *state;
	result r = CTL(fx, "watch", "--interval", "50", "--iterations", "2");
	expect_ok(&r);
	char bus_line[192];
	snprintf(bus_line, sizeof bus_line, "bus '%s': /dev/shm/hermes.%s", fx->d.bus, fx->d.bus);
	assert_int_equal(count_of(r.out.p, bus_line), 2);
	assert_int_equal(count_of(r.out.p, "\nevents "), 2);
	assert_int_equal(count_of(r.out.p, "\ntelemetry "), 2);
	assert_int_equal(count_of(r.out.p, "[....................]"), 4);
	assert_null(strchr(r.out.p, '\033')); /* no escapes when not a terminal */
	result_free(&r);
}

static void test_create_and_delete_round_trip_through_hermesd(void **state)
{
	fixture *fx = *state;
	expect_out(CTL(fx, "create", "rt", "--capacity", "64K", "--max-msg", "1K", "--policy",
		       "overwrite", "--slots", "128"), "ring 'rt' created");

	jv *list = json_of(CTL(fx, "list", "--json", "--interval", "0"));
	const jv *rt = ring_in_list(list, "rt");
	assert_non_null(rt);
	assert_string_equal(jget(rt, "policy")->text, "overwrite");
	assert_int_equal(ju64_at(rt, "capacity_bytes"), 65536);
	assert_int_equal(ju64_at(rt, "max_msg_bytes"), 1024);
	assert_int_equal(ju64_at(rt, "slots"), 128);
	jfree(list);

	expect_fail(CTL(fx, "create", "rt", "--capacity", "64K"), 1, "already");

	/* In use: refused without --force. */
	hermes_bus *bus;
	hermes_pub *pub;
	assert_int_equal(hermes_bus_attach(fx->d.bus, &bus), HERMES_OK);
	assert_int_equal(hermes_pub_open(bus, "rt", &pub), HERMES_OK);
	expect_fail(CTL(fx, "delete", "rt"), 1, "is in use");
	hermes_pub_close(pub);
	hermes_bus_detach(bus);

	run_ok(CTL(fx, "delete", "rt"));
	list = json_of(CTL(fx, "list", "--json", "--interval", "0"));
	assert_null(ring_in_list(list, "rt"));
	jfree(list);
	expect_fail(CTL(fx, "delete", "rt"), 1, "no ring 'rt'");

	/* --force deletes a ring that is in use. */
	run_ok(CTL(fx, "create", "rt2", "--capacity", "4K", "--max-msg", "256"));
	assert_int_equal(hermes_bus_attach(fx->d.bus, &bus), HERMES_OK);
	assert_int_equal(hermes_pub_open(bus, "rt2", &pub), HERMES_OK);
	run_ok(CTL(fx, "delete", "rt2", "--force"));
	hermes_pub_close(pub);
	hermes_bus_detach(bus);

	/* --run-dir names the socket directly; a wrong one is reported with
	 * the path it tried. */
	run_ok(CTL(fx, "create", "viadir", "--capacity", "8K", "--run-dir", fx->d.run_dir));
	/* hermesd's reason for a refusal comes through as it does by way of
	 * the library. */
	char want[192];
	snprintf(want, sizeof want,
		 "create ring 'viadir': already exists: bus '%s' already has a ring 'viadir'",
		 fx->d.bus);
	expect_fail(CTL(fx, "create", "viadir", "--capacity", "8K", "--run-dir", fx->d.run_dir), 1,
		    want);
	run_ok(CTL(fx, "delete", "viadir", "--run-dir", fx->d.run_dir));
	expect_fail(CTL(fx, "delete", "viadir", "--run-dir", fx->d.run_dir), 1, "no ring 'viadir'");
	snprintf(want, sizeof want, "none answers at /nonexistent/%s.sock", fx->d.bus);
	expect_fail(CTL(fx, "create", "viadir", "--capacity", "8K", "--run-dir", "/nonexistent"), 1,
		    want);
}

/* Is pid the owner of a subscriber slot of `ring`? (Read-only look.) */
static bool subscribed(const fixture *fx, const char *ring, pid_t pid)
{
	hermes_bus *bus;
	if (hermes_bus_attach_readonly(fx->d.bus, &bus) != HERMES_OK)
		return false;
	hm_ring r;
	bool found = false;
	if (hm_bus_find_ring(bus, ring, &r, NULL) == HERMES_OK)
		for (unsigned i = 0; i < HM_MAX_SUBSCRIBERS; i++)
			found |= hm_load_relaxed_u64(&r.subs[i].owner) == (uint64_t)pid;
	hermes_bus_detach(bus);
	return found;
}

static void tail_stops_cleanly_on(fixture *fx, int sig)
{
	const char *argv[] = {HERMES_CTL_PATH, "--bus", fx->d.bus, "tail", "events", NULL};
	int out_fd;
	pid_t pid = ctl_spawn(argv, NULL, NULL, &out_fd, NULL);
	uint64_t deadline = ht_now_ns() + (uint64_t)CMD_TIMEOUT_MS * 1000000u;
	while (!subscribed(fx, "events", pid)) {
		if (ht_now_ns() > deadline) {
			ht_proc_kill(&pid);
			fail_msg("tail did not subscribe within %d ms", CMD_TIMEOUT_MS);
		}
		nap_ms(1);
	}
	hermes_bus *bus;
	hermes_pub *pub;
	assert_int_equal(hermes_bus_attach(fx->d.bus, &bus), HERMES_OK);
	assert_int_equal(hermes_pub_open(bus, "events", &pub), HERMES_OK);
	assert_int_equal(hermes_pub_send(pub, "ping", 4, NULL), HERMES_OK);
	buf out = {0};
	buf_add(&out, "", 0);
	while (!strstr(out.p, "ping\n")) {
		if (ht_now_ns() > deadline) {
			ht_proc_kill(&pid);
			fail_msg("tail did not print the message: '%s'", out.p);
		}
		struct pollfd p = {.fd = out_fd, .events = POLLIN};
		if (poll(&p, 1, 100) > 0)
			buf_drain(out_fd, &out);
	}
	kill(pid, sig);
	int status = ht_wait_child(pid, CMD_TIMEOUT_MS);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* It closed its subscriber on the way out. */
	assert_false(subscribed(fx, "events", pid));
	hermes_pub_close(pub);
	hermes_bus_detach(bus);
	close(out_fd);
	free(out.p);
}

static void test_tail_exits_zero_on_sigint_and_sigterm(void **state)
{
	tail_stops_cleanly_on(*state, SIGINT);
	tail_stops_cleanly_on(*state, SIGTERM);
}

/* Standard input for pub: 100 lines of 127 times c, 128 bytes each with
 * the newline (free .p). */
static buf lines_of(char c)
{
	buf in = {0};
	char line[128];
	memset(line, c, 127);
	line[127] = '\n';
	for (int i = 0; i < 100; i++)
		buf_add(&in, line, sizeof line);
	return in;
}

static void test_pub_on_a_full_block_ring_times_out(void **state)
{
	fixture *fx = *state;
	run_ok(CTL(fx, "create", "small", "--capacity", "4K", "--max-msg", "512"));
	/* A subscriber that never reads holds the ring full. */
	hermes_bus *bus;
	hermes_sub *sub;
	assert_int_equal(hermes_bus_attach(fx->d.bus, &bus), HERMES_OK);
	assert_int_equal(hermes_sub_open(bus, "small", HERMES_START_LATEST, 0, &sub), HERMES_OK);
	buf in = lines_of('p');
	result r = CTL_STDIN(fx, in.p, in.len, "pub", "small", "--timeout", "100", "--print-seq");
	assert_int_equal(r.code, 1);
	assert_non_null(strstr(r.err.p, "stayed full for 100 ms"));
	/* 4 KiB holds 32 messages of 128 bytes: exactly those were published. */
	assert_int_equal(count_of(r.out.p, "\n"), 32);
	assert_non_null(strstr(r.out.p, "\n31\n"));
	result_free(&r);
	free(in.p);
	hermes_sub_close(sub);
	hermes_bus_detach(bus);
}

static void test_tail_reports_lost_messages_on_stderr(void **state)
{
	fixture *fx = *state;
	run_ok(CTL(fx, "create", "lossy", "--capacity", "4K", "--max-msg", "512", "--policy",
		       "overwrite"));
	buf in = lines_of('q');
	run_ok(CTL_STDIN(fx, in.p, in.len, "pub", "lossy"));
	free(in.p);
	/* Sequence 0 was overwritten long ago: the loss is reported, then the
	 * oldest retained messages follow. */
	result r = CTL(fx, "tail", "lossy", "--from", "0", "--count", "3", "--format", "hex");
	expect_ok(&r);
	assert_non_null(strstr(r.err.p, "lost"));
	assert_non_null(strstr(r.err.p, "lapped this subscriber"));
	assert_int_equal(count_of(r.out.p, "\n"), 3);
	result_free(&r);
}

/* A ring whose directory entry fails validation is not silently dropped:
 * list and list --json show it as corrupt, inspect says why, metrics count
 * it. */
static void test_corrupt_rings_are_shown_not_hidden(void **state)
{
	fixture *fx = *state;
	hermes_bus *bus;
	hm_ring r;
	uint32_t idx;
	assert_int_equal(hermes_bus_attach(fx->d.bus, &bus), HERMES_OK);
	assert_int_equal(hm_bus_find_ring(bus, "events", &r, &idx), HERMES_OK);
	const uint64_t good = bus->dir[idx].offset;
	bus->dir[idx].offset = good + 16; /* in range, not aligned */
	result res = CTL(fx, "list");
	expect_ok(&res);
	assert_non_null(strstr(res.out.p, "CORRUPT ring"));
	assert_non_null(strstr(res.out.p, "'events'"));
	assert_non_null(strstr(res.out.p, "telemetry"));
	result_free(&res);
	res = CTL(fx, "list", "--json", "--interval", "0");
	expect_ok(&res);
	jv *v = jparse_or_fail(res.out.p);
	const jv *corrupt = jget(v, "corrupt");
	assert_non_null(corrupt);
	assert_int_equal(corrupt->t, J_ARR);
	assert_int_equal(corrupt->n, 1);
	const jv *nm = jget(corrupt->items[0], "name");
	assert_true(nm && nm->t == J_STR && !strcmp(nm->text, "events"));
	assert_null(ring_in_list(v, "events"));
	jfree(v);
	result_free(&res);
	res = CTL(fx, "inspect", "events");
	assert_int_equal(res.code, 1);
	assert_non_null(strstr(res.err.p, "corrupt"));
	assert_non_null(strstr(res.err.p, "aligned"));
	result_free(&res);
	res = CTL(fx, "metrics");
	expect_ok(&res);
	const char *line = strstr(res.out.p, "\nhermes_rings_corrupt{");
	assert_non_null(line);
	line = strchr(line + 1, '}');
	assert_non_null(line);
	assert_memory_equal(line, "} 1\n", 4);
	result_free(&res);
	bus->dir[idx].offset = good;
	hermes_bus_detach(bus);
}

/* destroy removes a bus's segment, but never under anybody's feet unless
 * told to. */
static void test_destroy_refuses_while_attached_unless_forced(void **state)
{
	fixture *fx = *state;
	char path[128], expect[64];
	snprintf(path, sizeof path, "/dev/shm/hermes.%s", fx->d.bus);
	result r = CTL(NULL, "destroy", fx->d.bus);
	assert_int_equal(r.code, 1);
	assert_non_null(strstr(r.err.p, "a live hermesd holds it"));
	result_free(&r);
	assert_int_equal(access(path, F_OK), 0);
	/* hermesd gone (killed, so the segment stays), a process still maps it. */
	ht_daemon_kill(&fx->d);
	hermes_bus *bus;
	assert_int_equal(hermes_bus_attach_readonly(fx->d.bus, &bus), HERMES_OK);
	r = CTL(NULL, "destroy", fx->d.bus);
	assert_int_equal(r.code, 1);
	snprintf(expect, sizeof expect, "pid %d", (int)getpid());
	assert_non_null(strstr(r.err.p, expect));
	result_free(&r);
	hermes_bus_detach(bus);
	r = CTL(NULL, "destroy");
	assert_int_equal(r.code, 2);
	result_free(&r);
	expect_out(CTL(NULL, "destroy", fx->d.bus), "destroyed");
	assert_int_equal(access(path, F_OK), -1);
	r = CTL(NULL, "destroy", fx->d.bus);
	assert_int_equal(r.code, 1);
	assert_non_null(strstr(r.err.p, "does not exist"));
	result_free(&r);
}

static void test_destroy_force_stops_a_live_hermesd(void **state)
{
	fixture *fx = *state;
	run_ok(CTL(NULL, "destroy", fx->d.bus, "--force"));
	int st = ht_wait_child(fx->d.pid, 10000);
	fx->d.pid = 0;
	assert_true(WIFEXITED(st));
	assert_true(ht_file_has(fx->d.log, "was removed"));
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_pub_then_tail_round_trips_text),
		T(test_pub_hex_then_tail_hex_round_trips_binary),
		T(test_pub_hex_then_tail_json_round_trips_binary),
		T(test_pub_tag_then_tail_shows_the_tag),
		T(test_list_and_inspect_json_match_what_was_published_and_consumed),
		T(test_metrics_is_prometheus_text_with_the_counters),
		T(test_metrics_serve_answers_http_on_loopback),
		T(test_read_commands_work_with_hermesd_killed),
		T(test_errors_have_exit_codes_and_say_what_to_do),
		T(test_watch_without_a_tty_prints_plain_snapshots),
		T(test_create_and_delete_round_trip_through_hermesd),
		T(test_tail_exits_zero_on_sigint_and_sigterm),
		T(test_pub_on_a_full_block_ring_times_out),
		T(test_tail_reports_lost_messages_on_stderr),
		T(test_corrupt_rings_are_shown_not_hidden),
		T(test_destroy_refuses_while_attached_unless_forced),
		T(test_destroy_force_stops_a_live_hermesd),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
