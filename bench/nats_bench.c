/* hermes-nats-bench: bus -> NATS -> bus through two hermes-nats uplinks,
 * next to bare NATS (one client publishing, one subscribing), in one run on
 * one machine and one nats-server.
 *
 * Latency: one message every 1/rate s carrying its send time
 * (CLOCK_MONOTONIC); the receiver records now - sent. One-way, so both ends
 * are in this process (bus A's producer and bus B's subscriber; for bare
 * NATS the publishing and the subscribing connection). Percentiles over all
 * messages after a warm-up, median of the runs.
 * Throughput: `tp-count` messages as fast as the path takes them; rate =
 * messages received / (time of the last arrival - time of the first send).
 *
 * The buses are embedded (this process creates them; no hermesd), the
 * uplinks are real hermes-nats processes, nats-server is started on a free
 * loopback port unless --url names one. Output: the table rows of
 * hermes-bench (and its CSV columns with --csv), so the rows fold into its
 * report as transports "nats-uplink" and "nats". */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "nats-uplink/uplink.h"

#ifndef HERMES_NATS_PATH
#define HERMES_NATS_PATH "hermes-nats"
#endif

#define NRUNS_MAX 9

typedef struct opts {
	const char *url;
	const char *uplink;
	const char *csv;
	uint64_t count;	   /* latency messages per run */
	uint64_t rate;	   /* latency messages per second */
	uint64_t tp_count; /* throughput messages per run */
	uint32_t size;
	unsigned runs;
	bool jetstream;
	bool quick;
} opts;

typedef struct lat_row {
	char transport[24];
	uint64_t p[6];	  /* p50 p90 p99 p99.9 p99.99 max, median over runs */
	uint64_t p50_lo, p50_hi, p99_lo, p99_hi;
	double mean;
	uint64_t count;
	uint64_t lost;
	unsigned runs;
	bool skipped;
	char note[160];
} lat_row;

typedef struct tp_row {
	char transport[24];
	double median, min, max;
	unsigned batch;
	uint64_t lost;
	unsigned runs;
	bool skipped;
	char note[160];
} tp_row;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static pid_t g_server = 0, g_up[2] = {0, 0};
static char g_dir[64], g_bus[2][48];

static void cleanup(void)
{
	for (unsigned i = 0; i < 2; i++) {
		server_stop(g_up[i], SERVER_STOP_MS);
		g_up[i] = 0;
	}
	server_stop(g_server, SERVER_STOP_MS);
	g_server = 0;
	for (unsigned i = 0; i < 2; i++)
		if (g_bus[i][0])
			hermes_bus_unlink(g_bus[i]);
	if (g_dir[0]) {
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
		if (system(cmd) != 0)
			(void)0;
	}
}

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "hermes-nats-bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	cleanup();
	exit(1);
}

/* Start path with argv, its output going to log (server_spawn), or die. */
static pid_t spawn(const char *path, const char *const *argv, const char *log)
{
	pid_t pid = server_spawn(path, (char *const *)argv, log);
	if (pid < 0)
		die("cannot start %s", path);
	return pid;
}

static void start_server(opts *o, char *url, size_t len)
{
	char bin[512], port[16], store[96], log[96];
	if (find_executable("nats-server", bin, sizeof bin) != 0)
		die("nats-server is not installed (Debian: apt-get install nats-server), or give --url");
	unsigned p = free_tcp_port();
	if (!p)
		die("no free port: %s", strerror(errno));
	snprintf(port, sizeof port, "%u", p);
	snprintf(store, sizeof store, "%s/js", g_dir);
	snprintf(log, sizeof log, "%s/nats-server.log", g_dir);
	const char *argv[] = {"nats-server", "-a", "127.0.0.1", "-p", port, "-js", "-sd", store, NULL};
	g_server = spawn(bin, argv, log);
	snprintf(url, len, "nats://127.0.0.1:%u", p);
	if (server_await(g_server, tcp_port_accepts, &p) != 0) {
		g_server = 0; /* server_await stopped it */
		die("nats-server did not come up; see %s", log);
	}
	(void)o;
}

static bool uplink_running(const char *state, pid_t pid)
{
	const hm_nats_state_header *h;
	if (hm_nats_state_map_readonly(state, &h))
		return false;
	bool ok = (pid_t)hm_load_relaxed_u64(&h->pid) == pid;
	for (unsigned i = 0; ok && i < HM_NATS_STATE_MAX_RINGS; i++) {
		const hm_nats_ring_state *r = hm_nats_state_ring((hm_nats_state_header *)h, i);
		if (!hm_load_acquire_u32(&r->configured))
			continue;
		if ((r->dir & HM_NATS_DIR_OUT) && hm_load_relaxed_u64(&r->out.state) != HM_NATS_W_RUNNING)
			ok = false;
		if ((r->dir & HM_NATS_DIR_IN) && hm_load_relaxed_u64(&r->in.state) != HM_NATS_W_RUNNING)
			ok = false;
	}
	hm_nats_state_unmap(h);
	return ok;
}

static void start_uplinks(opts *o, const char *url)
{
	const char *mode = o->jetstream ? "jetstream" : "core";
	for (unsigned i = 0; i < 2; i++) {
		char state[96], log[96], lat[64], tp[64];
		snprintf(state, sizeof state, "%s/uplink-%u.state", g_dir, i);
		snprintf(log, sizeof log, "%s/uplink-%u.log", g_dir, i);
		snprintf(lat, sizeof lat, "lat:%s:%s", i == 0 ? "out" : "in", mode);
		snprintf(tp, sizeof tp, "tp:%s:%s", i == 0 ? "out" : "in", mode);
		const char *argv[] = {"hermes-nats", "--bus", g_bus[i], "--url", url, "--state", state,
				      "--ring", lat, "--ring", tp, "--max-pending", "64M",
				      "--prefix", "hbench", "--log-level", "warn", NULL};
		g_up[i] = spawn(o->uplink, argv, log);
		uint64_t deadline = now_ns() + 30000000000ull;
		while (!uplink_running(state, g_up[i])) {
			int st;
			if (waitpid(g_up[i], &st, WNOHANG) == g_up[i]) {
				g_up[i] = 0;
				die("hermes-nats exited (status %d); see %s", st, log);
			}
			if (now_ns() > deadline)
				die("hermes-nats did not come up within 30 s; see %s", log);
			sleep_ns(20000000);
		}
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Percentiles of one run: p50 p90 p99 p99.9 p99.99 max. */
static void percentiles(uint64_t *v, uint64_t n, uint64_t out[6], double *mean)
{
	static const double q[5] = {0.50, 0.90, 0.99, 0.999, 0.9999};
	qsort(v, n, sizeof *v, cmp_u64);
	for (unsigned i = 0; i < 5; i++) {
		uint64_t at = (uint64_t)ceil(q[i] * (double)n);
		out[i] = v[at ? at - 1 : 0];
	}
	out[5] = v[n - 1];
	double sum = 0;
	for (uint64_t i = 0; i < n; i++)
		sum += (double)v[i];
	*mean = sum / (double)n;
}

static uint64_t median_u64(uint64_t *v, unsigned n)
{
	qsort(v, n, sizeof *v, cmp_u64);
	return v[n / 2];
}

static void sort_doubles(double *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = i + 1; j < n; j++)
			if (v[j] < v[i]) {
				double x = v[i];
				v[i] = v[j];
				v[j] = x;
			}
}

/* Fold the runs' percentiles into a row: median of each, p50/p99 range. */
static void fold(lat_row *r, uint64_t per[NRUNS_MAX][6], double *means, unsigned runs)
{
	uint64_t col[NRUNS_MAX];
	for (unsigned j = 0; j < 6; j++) {
		for (unsigned i = 0; i < runs; i++)
			col[i] = per[i][j];
		r->p[j] = median_u64(col, runs);
		if (j == 0) {
			r->p50_lo = col[0];
			r->p50_hi = col[runs - 1];
		}
		if (j == 2) {
			r->p99_lo = col[0];
			r->p99_hi = col[runs - 1];
		}
	}
	double m[NRUNS_MAX];
	memcpy(m, means, runs * sizeof *m);
	sort_doubles(m, runs);
	r->mean = m[runs / 2];
	r->runs = runs;
}

/* ---- bus -> NATS -> bus ---- */

typedef struct bus_pair {
	hermes_bus *a, *b;
} bus_pair;

static void create_buses(bus_pair *bp)
{
	hermes_bus *bus[2];
	for (unsigned i = 0; i < 2; i++) {
		snprintf(g_bus[i], sizeof g_bus[i], "nbench-%d-%c", (int)getpid(), 'a' + i);
		hermes_bus_unlink(g_bus[i]);
		hermes_err err = hermes_bus_create(g_bus[i], 128u << 20, 0600, &bus[i]);
		if (err)
			die("cannot create bus %s: %s", g_bus[i], hermes_strerror(err));
		hermes_ring_config lat = {.name = "lat", .capacity = 4u << 20, .max_msg = 65536,
					  .policy = HERMES_POLICY_BLOCK};
		hermes_ring_config tp = {.name = "tp", .capacity = 32u << 20, .max_msg = 65536,
					 .policy = HERMES_POLICY_BLOCK};
		if (hermes_ring_create(bus[i], &lat) || hermes_ring_create(bus[i], &tp))
			die("cannot create rings: %s", hermes_last_error_detail());
	}
	bp->a = bus[0];
	bp->b = bus[1];
}

static bool bus_latency_run(opts *o, bus_pair *bp, uint64_t *lat, uint64_t *got)
{
	hermes_pub *pub;
	hermes_sub *sub;
	if (hermes_pub_open(bp->a, "lat", &pub) || hermes_sub_open(bp->b, "lat", HERMES_START_LATEST, 0, &sub))
		die("cannot open the latency ring");
	uint8_t *buf = calloc(1, o->size);
	uint64_t warm = o->count / 10, total = o->count + warm, n = 0;
	uint64_t period = 1000000000ull / o->rate, start = now_ns();
	uint64_t next_send = start, sent = 0, deadline = 0;
	while (n < total) {
		uint64_t now = now_ns();
		if (sent < total && now >= next_send) {
			memcpy(buf, &now, 8);
			if (hermes_pub_send(pub, buf, o->size, NULL) == HERMES_OK) {
				sent++;
				next_send += period;
				if (sent == total)
					deadline = now + 5000000000ull;
			}
		}
		hermes_msg m;
		while (hermes_sub_poll(sub, &m) == HERMES_OK) {
			uint64_t t;
			memcpy(&t, m.data, 8);
			uint64_t arrived = now_ns();
			if (n >= warm)
				lat[n - warm] = arrived - t;
			n++;
		}
		hermes_sub_release(sub);
		if (deadline && now_ns() > deadline)
			break;
		/* Between sends, sleep in the futex until a message or the next
		 * send is due. */
		uint64_t t2 = now_ns();
		int64_t wait = sent < total ? (int64_t)(next_send > t2 ? next_send - t2 : 0) : 100000000;
		if (wait > 0)
			hermes_sub_wait(sub, HERMES_WAIT_BLOCK, wait);
	}
	free(buf);
	hermes_sub_close(sub);
	hermes_pub_close(pub);
	*got = n > warm ? n - warm : 0;
	return *got > 0;
}

static double bus_tp_run(opts *o, bus_pair *bp, uint64_t *lost)
{
	hermes_pub *pub;
	hermes_sub *sub;
	if (hermes_pub_open(bp->a, "tp", &pub) || hermes_sub_open(bp->b, "tp", HERMES_START_LATEST, 0, &sub))
		die("cannot open the throughput ring");
	uint8_t *buf = calloc(1, o->size);
	uint64_t n = 0, sent = 0, start = now_ns(), last = start, idle_deadline = 0;
	while (n < o->tp_count) {
		for (unsigned i = 0; i < 256 && sent < o->tp_count; i++) {
			if (hermes_pub_send(pub, buf, o->size, NULL) != HERMES_OK)
				break;
			sent++;
		}
		hermes_msg m;
		unsigned got = 0;
		while (hermes_sub_poll(sub, &m) == HERMES_OK)
			got++;
		hermes_sub_release(sub);
		uint64_t now = now_ns();
		if (got) {
			n += got;
			last = now;
			idle_deadline = 0;
		} else if (sent == o->tp_count) {
			if (!idle_deadline)
				idle_deadline = now + 2000000000ull;
			if (now > idle_deadline)
				break; /* core mode lost some: stop waiting for them */
			hermes_sub_wait(sub, HERMES_WAIT_BLOCK, 10000000);
		}
	}
	free(buf);
	hermes_sub_close(sub);
	hermes_pub_close(pub);
	*lost = o->tp_count - n;
	return (double)n / ((double)(last - start) / 1e9);
}

/* ---- bare NATS ---- */

typedef struct nats_rx {
	uint64_t *lat;
	uint64_t warm, n, limit;
	atomic_uint_fast64_t count;
	atomic_uint_fast64_t last_ns;
} nats_rx;

static void on_lat(natsConnection *nc, natsSubscription *s, natsMsg *m, void *closure)
{
	(void)nc;
	(void)s;
	nats_rx *rx = closure;
	uint64_t t;
	memcpy(&t, natsMsg_GetData(m), 8);
	uint64_t arrived = now_ns();
	if (rx->n >= rx->warm && rx->n - rx->warm < rx->limit)
		rx->lat[rx->n - rx->warm] = arrived - t;
	rx->n++;
	atomic_store(&rx->count, rx->n);
	natsMsg_Destroy(m);
}

static void on_tp(natsConnection *nc, natsSubscription *s, natsMsg *m, void *closure)
{
	(void)nc;
	(void)s;
	nats_rx *rx = closure;
	atomic_store(&rx->last_ns, now_ns());
	atomic_fetch_add(&rx->count, 1);
	natsMsg_Destroy(m);
}

/* Bare NATS at its best for each measure: for latency the publisher writes
 * every message at once (SendAsap; the library's default would hold it up
 * to 1 ms for company), for throughput it buffers (the default). */
static void nats_pair(const char *url, bool asap, natsConnection **pub, natsConnection **sub)
{
	natsOptions *no;
	if (natsOptions_Create(&no) != NATS_OK || natsOptions_SetURL(no, url) != NATS_OK ||
	    natsOptions_SetSendAsap(no, asap) != NATS_OK)
		die("NATS options");
	if (natsConnection_Connect(pub, no) != NATS_OK || natsConnection_ConnectTo(sub, url) != NATS_OK)
		die("cannot connect to %s", url);
	natsOptions_Destroy(no);
}

static bool nats_latency_run(opts *o, const char *url, uint64_t *lat, uint64_t *got)
{
	natsConnection *pc, *sc;
	nats_pair(url, true, &pc, &sc);
	nats_rx rx = {.lat = lat, .warm = o->count / 10, .limit = o->count};
	natsSubscription *s;
	natsConnection_Subscribe(&s, sc, "hbench.bare.lat", on_lat, &rx);
	natsSubscription_SetPendingLimits(s, -1, -1);
	natsConnection_Flush(sc);
	uint8_t *buf = calloc(1, o->size);
	uint64_t total = o->count + rx.warm, period = 1000000000ull / o->rate, next = now_ns();
	for (uint64_t i = 0; i < total; i++) {
		uint64_t now = now_ns();
		if (next > now)
			sleep_ns(next - now);
		now = now_ns();
		memcpy(buf, &now, 8);
		natsConnection_Publish(pc, "hbench.bare.lat", buf, (int)o->size);
		next += period;
	}
	natsConnection_Flush(pc);
	uint64_t deadline = now_ns() + 5000000000ull;
	while (atomic_load(&rx.count) < total && now_ns() < deadline)
		sleep_ns(1000000);
	natsSubscription_Unsubscribe(s);
	natsSubscription_Destroy(s);
	natsConnection_Destroy(pc);
	natsConnection_Destroy(sc);
	free(buf);
	uint64_t n = atomic_load(&rx.count);
	*got = n > rx.warm ? n - rx.warm : 0;
	if (*got > o->count)
		*got = o->count;
	return *got > 0;
}

static double nats_tp_run(opts *o, const char *url, uint64_t *lost)
{
	natsConnection *pc, *sc;
	nats_pair(url, false, &pc, &sc);
	nats_rx rx = {0};
	natsSubscription *s;
	natsConnection_Subscribe(&s, sc, "hbench.bare.tp", on_tp, &rx);
	natsSubscription_SetPendingLimits(s, -1, -1);
	natsConnection_Flush(sc);
	uint8_t *buf = calloc(1, o->size);
	uint64_t start = now_ns();
	for (uint64_t i = 0; i < o->tp_count; i++)
		natsConnection_Publish(pc, "hbench.bare.tp", buf, (int)o->size);
	natsConnection_Flush(pc);
	uint64_t deadline = now_ns() + 10000000000ull;
	uint64_t seen = 0, idle = now_ns();
	while (atomic_load(&rx.count) < o->tp_count && now_ns() < deadline) {
		uint64_t c = atomic_load(&rx.count);
		if (c != seen) {
			seen = c;
			idle = now_ns();
		} else if (now_ns() - idle > 2000000000ull) {
			break;
		}
		sleep_ns(1000000);
	}
	uint64_t n = atomic_load(&rx.count), last = atomic_load(&rx.last_ns);
	natsSubscription_Unsubscribe(s);
	natsSubscription_Destroy(s);
	natsConnection_Destroy(pc);
	natsConnection_Destroy(sc);
	free(buf);
	*lost = o->tp_count - n;
	return last > start ? (double)n / ((double)(last - start) / 1e9) : 0;
}

/* ---- output (hermes-bench's rows and CSV columns) ---- */

static void lat_header(void)
{
	printf("%-12s %-6s %6s %9s %9s %9s %9s %9s %10s %9s  %s\n", "transport", "wait", "size", "p50",
	       "p90", "p99", "p99.9", "p99.99", "max", "mean", "p50 over runs");
}

static void lat_print(const lat_row *r, const opts *o)
{
	printf("%-12s %-6s %6u %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %9" PRIu64
	       " %10" PRIu64 " %9.0f  %" PRIu64 "..%" PRIu64 " (%u run%s)%s%s\n",
	       r->transport, "block", o->size, r->p[0], r->p[1], r->p[2], r->p[3], r->p[4], r->p[5],
	       r->mean, r->p50_lo, r->p50_hi, r->runs, r->runs == 1 ? "" : "s", r->note[0] ? " " : "",
	       r->note);
}

static void tp_header(void)
{
	printf("%-12s %-4s %6s %6s %14s %14s %14s %10s %s\n", "transport", "topo", "size", "batch",
	       "msgs/s median", "min", "max", "MB/s", "lost");
}

static void tp_print(const tp_row *r, const opts *o)
{
	printf("%-12s %-4s %6u %6u %14.0f %14.0f %14.0f %10.1f %" PRIu64 "%s%s\n", r->transport, "1-1",
	       o->size, r->batch, r->median, r->min, r->max, r->median * o->size / 1e6, r->lost,
	       r->note[0] ? " " : "", r->note);
}

static void csv_write(const opts *o, const lat_row *lat, unsigned nlat, const tp_row *tp, unsigned ntp)
{
	FILE *f = report_csv_open(o->csv, true);
	if (!f)
		die("cannot write the CSV file %s", o->csv);
	for (unsigned i = 0; i < nlat; i++) {
		const lat_row *r = &lat[i];
		fprintf(f,
			"nats,latency,%s,block,1-1,%u,,%u,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
			",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.1f,%" PRIu64 ",%" PRIu64 ",%" PRIu64
			",%" PRIu64 ",,,,,%" PRIu64 ",,,,\"%s\"\n",
			r->transport, o->size, r->runs, r->count, r->p[0], r->p[1], r->p[2], r->p[3],
			r->p[4], r->p[5], r->mean, r->p50_lo, r->p50_hi, r->p99_lo, r->p99_hi, r->lost,
			r->note);
	}
	for (unsigned i = 0; i < ntp; i++) {
		const tp_row *r = &tp[i];
		fprintf(f,
			"nats,throughput,%s,,1-1,%u,%u,%u,%" PRIu64 ",,,,,,,,,,,,%.0f,%.0f,%.0f,%.1f,%" PRIu64
			",,,,\"%s\"\n",
			r->transport, o->size, r->batch, r->runs, o->tp_count, r->median, r->min, r->max,
			r->median * o->size / 1e6, r->lost, r->note);
	}
	fclose(f);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hermes-nats-bench [options]\n"
		"\n"
		"Latency and throughput of bus -> NATS -> bus through two hermes-nats uplinks,\n"
		"next to bare NATS (one publishing and one subscribing client), in one run on\n"
		"one nats-server. Rows in hermes-bench's format (transports 'nats-uplink' and\n"
		"'nats').\n"
		"\n"
		"  --url URL         use this nats-server (default: start one on a free port)\n"
		"  --mode MODE       core (default) or jetstream for the uplinks\n"
		"  --count N         latency messages per run (default 20000; --quick 5000)\n"
		"  --rate R          latency messages per second (default 10000)\n"
		"  --tp-count N      throughput messages per run (default 200000; --quick 50000)\n"
		"  --size BYTES      payload size, 8..65536 (default 64)\n"
		"  --runs N          runs per row, median reported (default 3; --quick 1)\n"
		"  --quick           a short smoke run\n"
		"  --csv FILE        append rows to FILE with hermes-bench's CSV columns\n"
		"  --uplink PATH     the hermes-nats binary (default: the one built with this)\n"
		"  -h, --help        this text\n");
}

/* -1: run with *o; otherwise the exit status (help, or a usage error). */
static int parse_opts(int argc, char **argv, opts *o)
{
	*o = (opts){.uplink = HERMES_NATS_PATH, .count = 0, .rate = 10000, .tp_count = 0, .size = 64};
	static const struct option lo[] = {
		{"url", required_argument, NULL, 'u'},   {"mode", required_argument, NULL, 'm'},
		{"count", required_argument, NULL, 'n'}, {"rate", required_argument, NULL, 'r'},
		{"tp-count", required_argument, NULL, 't'}, {"size", required_argument, NULL, 's'},
		{"runs", required_argument, NULL, 'R'},  {"quick", no_argument, NULL, 'q'},
		{"csv", required_argument, NULL, 'c'},   {"uplink", required_argument, NULL, 'U'},
		{"help", no_argument, NULL, 'h'},        {0, 0, 0, 0}};
	int ch;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'u': o->url = optarg; break;
		case 'm':
			if (strcmp(optarg, "core") && strcmp(optarg, "jetstream")) {
				usage(stderr);
				return 2;
			}
			o->jetstream = !strcmp(optarg, "jetstream");
			break;
		case 'n': o->count = strtoull(optarg, NULL, 10); break;
		case 'r': o->rate = strtoull(optarg, NULL, 10); break;
		case 't': o->tp_count = strtoull(optarg, NULL, 10); break;
		case 's': o->size = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'R': o->runs = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'q': o->quick = true; break;
		case 'c': o->csv = optarg; break;
		case 'U': o->uplink = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (o->size < 8 || o->size > 65536 || o->rate == 0 || o->runs > NRUNS_MAX) {
		usage(stderr);
		return 2;
	}
	if (!o->count)
		o->count = o->quick ? 5000 : 20000;
	if (!o->tp_count)
		o->tp_count = o->quick ? 50000 : 200000;
	if (!o->runs)
		o->runs = o->quick ? 1 : 3;
	return -1;
}

/* Latency through the uplink (lr[0]) and bare NATS (lr[1]), o->runs each. */
static void latency_rows(opts *o, bus_pair *bp, const char *url, lat_row lr[2])
{
	uint64_t *lat = calloc(o->count, sizeof *lat);
	uint64_t per[NRUNS_MAX][6];
	double means[NRUNS_MAX];
	for (unsigned t = 0; t < 2; t++) {
		for (unsigned run = 0; run < o->runs; run++) {
			uint64_t got = 0;
			bool ok = t == 0 ? bus_latency_run(o, bp, lat, &got)
					 : nats_latency_run(o, url, lat, &got);
			if (!ok)
				die("%s: no latency sample arrived", lr[t].transport);
			percentiles(lat, got, per[run], &means[run]);
			lr[t].lost += o->count - got;
			lr[t].count = got;
		}
		fold(&lr[t], per, means, o->runs);
		if (lr[t].lost)
			snprintf(lr[t].note, sizeof lr[t].note, "[%" PRIu64 " lost]", lr[t].lost);
	}
	free(lat);
}

/* Throughput through the uplink (tr[0]) and bare NATS (tr[1]): median, min
 * and max of o->runs runs. */
static void throughput_rows(opts *o, bus_pair *bp, const char *url, tp_row tr[2])
{
	for (unsigned t = 0; t < 2; t++) {
		double v[NRUNS_MAX];
		for (unsigned run = 0; run < o->runs; run++) {
			uint64_t lost = 0;
			v[run] = t == 0 ? bus_tp_run(o, bp, &lost) : nats_tp_run(o, url, &lost);
			tr[t].lost += lost;
		}
		sort_doubles(v, o->runs);
		tr[t].median = v[o->runs / 2];
		tr[t].min = v[0];
		tr[t].max = v[o->runs - 1];
		tr[t].runs = o->runs;
	}
}

int main(int argc, char **argv)
{
	opts o;
	int rc = parse_opts(argc, argv, &o);
	if (rc >= 0)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	snprintf(g_dir, sizeof g_dir, "/tmp/hermes-nats-bench-XXXXXX");
	if (!mkdtemp(g_dir))
		die("mkdtemp: %s", strerror(errno));
	char url[128];
	if (o.url)
		snprintf(url, sizeof url, "%s", o.url);
	else
		start_server(&o, url, sizeof url);
	bus_pair bp;
	create_buses(&bp);
	start_uplinks(&o, url);

	printf("hermes-nats-bench: bus -> NATS -> bus (hermes-nats, %s mode) next to bare NATS; "
	       "nats-server at %s; %u-byte messages, latency at %" PRIu64 " msg/s, %u run%s\n",
	       o.jetstream ? "jetstream" : "core", url, o.size, o.rate, o.runs, o.runs == 1 ? "" : "s");
	lat_row lr[2] = {{.transport = "nats-uplink"}, {.transport = "nats"}};
	tp_row tr[2] = {{.transport = "nats-uplink", .batch = 256}, {.transport = "nats", .batch = 1}};
	latency_rows(&o, &bp, url, lr);
	lat_header();
	lat_print(&lr[0], &o);
	lat_print(&lr[1], &o);
	throughput_rows(&o, &bp, url, tr);
	printf("\n");
	tp_header();
	tp_print(&tr[0], &o);
	tp_print(&tr[1], &o);
	if (o.csv)
		csv_write(&o, lr, 2, tr, 2);
	hermes_bus_detach(bp.a);
	hermes_bus_detach(bp.b);
	cleanup();
	return 0;
}
