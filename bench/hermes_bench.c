/* hermes-bench: Hermes next to a bare shared-memory ring and to the peers a
 * user would pick instead, measured in one run on one machine.
 *
 * Subcommands are rows of `commands` at the bottom; each names the options it
 * accepts from `options`. A command builds a plan (latency cases: transport
 * and wait; throughput cases: transport, topology and batch), and run_plan
 * measures it: transports with a server start it once, every case runs
 * `runs` times with the repetitions interleaved (run 1 of every case, then
 * run 2, ...) so drift in the machine affects all alike, and the results are
 * printed as tables, JSON, CSV, percentile distributions and a chart.
 *
 * The measurement code itself is in bench_loops.h (the loops every
 * transport shares), transport_*.c (one file per kind of transport) and
 * codec_bench.c (the one-thread component table); report.c prints.
 */
#include "bench.h"
#include "callgrind.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define LAT_QUICK_COUNT 50000u
#define LAT_FULL_COUNT 1000000u
#define LAT_QUICK_BUDGET_S 2u
#define LAT_FULL_BUDGET_S 20u
#define TP_QUICK_SECONDS 0.5
#define TP_FULL_SECONDS 3.0
#define DEFAULT_BATCH 32u
/* The throughput warm-up: a tenth of the window, at least this long. */
#define TP_MIN_WARMUP_NS (50 * NS_PER_MS)

/* ---- transports ---- */

const transport *const all_transports[] = {
	&transport_hermes,  &transport_hermes_waitset, &transport_bare, &transport_pipe,
	&transport_unix,    &transport_tcp,	 &transport_zmq_ipc,
	&transport_zmq_tcp, &transport_iceoryx, &transport_nats,
	&transport_bridge,
};
const unsigned n_transports = sizeof all_transports / sizeof all_transports[0];

const transport *transport_find(const char *name)
{
	for (unsigned i = 0; i < n_transports; i++)
		if (!strcmp(all_transports[i]->name, name))
			return all_transports[i];
	return NULL;
}

/* ---- defaults ---- */

unsigned opt_runs(const bench_opts *o)
{
	return o->runs ? o->runs : (o->quick ? 1u : 3u);
}

uint64_t opt_lat_count(const bench_opts *o)
{
	return o->count ? o->count : (o->quick ? LAT_QUICK_COUNT : LAT_FULL_COUNT);
}

uint64_t opt_lat_budget_ns(const bench_opts *o)
{
	return (uint64_t)(o->quick ? LAT_QUICK_BUDGET_S : LAT_FULL_BUDGET_S) * NS_PER_S;
}

double opt_tp_seconds(const bench_opts *o)
{
	return o->seconds > 0 ? o->seconds : (o->quick ? TP_QUICK_SECONDS : TP_FULL_SECONDS);
}

static unsigned online_cpus(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0)
		return (unsigned)CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1u;
}

/* ---- one measurement ---- */

typedef struct lat_ctx {
	const transport *t;
	lat_job job;
} lat_ctx;

static int lat_echo_worker(void *arg, unsigned index)
{
	(void)index;
	lat_ctx *c = arg;
	return c->t->lat_side(&c->job, false, NULL);
}

static int lat_ping_worker(void *arg, unsigned index)
{
	(void)index;
	lat_ctx *c = arg;
	return c->t->lat_side(&c->job, true, g_shared_hist);
}

/* A measurement's state when the transport has no setup of its own. */
static int job_state_new(const transport *t, void **state)
{
	*state = NULL;
	return t->state_new ? t->state_new(state) : 0;
}

static void ctl_reset(void)
{
	/* Relaxed: no worker exists yet; fork orders these before them. */
	ctl_put(&g_ctl->go, 0);
	ctl_put(&g_ctl->stop, 0);
	ctl_put(&g_ctl->done, 0);
	ctl_put(&g_ctl->abort, 0);
	for (unsigned i = 0; i < MAX_CONSUMERS; i++) {
		ctl_put_count(&g_ctl->cons[i].received, 0);
		ctl_put_count(&g_ctl->cons[i].lost, 0);
		ctl_put(&g_ctl->cons[i].bad, 0);
	}
}

/* One latency run of t with wait w; the round trips land in *out. */
static int lat_run_one(const bench_opts *o, const transport *t, wait_kind w, hm_hist *out)
{
	char label[64];
	snprintf(label, sizeof label, "latency %s %s", t->name, wait_name(w));
	uint64_t count = opt_lat_count(o);
	lat_ctx c = {t, {o, w, o->size, count / 10, count, opt_lat_budget_ns(o), label, NULL}};
	ctl_reset();
	hm_hist_init(g_shared_hist);
	int rc = t->lat_setup ? t->lat_setup(&c.job) : job_state_new(t, &c.job.state);
	if (rc == 0) {
		worker wk[2] = {{"echo", lat_echo_worker, &c, 0, 0, 0, 0, false},
				{"ping", lat_ping_worker, &c, 0, 0, 0, 0, false}};
		rc = group_start(o, wk, 2);
		if (rc == 0 && t->started)
			t->started(c.job.state);
		/* The measurement is the pinging side's: once it has ended well,
		 * an echo side slow to leave (a peer library's teardown on a
		 * loaded machine) costs a warning, not the result. */
		if (rc == 0)
			rc = group_finish(wk, 1, 2, c.job.budget_ns + 3 * PEER_TIMEOUT_NS);
		if (rc == 0 && group_finish(wk, 0, 1, PEER_TIMEOUT_NS) != 0 && !g_stop)
			say_warning("%s: the echo process had to be stopped; the round trips "
				    "measured are kept",
				    label);
		if (rc != 0)
			group_finish(wk, 0, 1, NS_PER_S);
	}
	if (t->lat_teardown)
		t->lat_teardown(&c.job);
	else
		job_state_free(&c.job.state);
	if (rc == 0 && g_shared_hist->total == 0) {
		say_error("%s: the time budget ran out during the warm-up; nothing was measured",
			  label);
		rc = -1;
	}
	if (rc == 0)
		memcpy(out, g_shared_hist, sizeof *out);
	return rc;
}

typedef struct tp_ctx {
	const transport *t;
	tp_job job;
} tp_ctx;

static int tp_produce_worker(void *arg, unsigned index)
{
	tp_ctx *c = arg;
	return c->t->tp_produce(&c->job, index);
}

static int tp_consume_worker(void *arg, unsigned index)
{
	tp_ctx *c = arg;
	return c->t->tp_consume(&c->job, index);
}

static uint64_t consumed(unsigned n)
{
	uint64_t sum = 0;
	for (unsigned i = 0; i < n; i++)
		/* Relaxed: a sample of monotonic counters. */
		sum += ctl_count(&g_ctl->cons[i].received);
	return sum;
}

/* One throughput run. The coordinator, not a worker, times the window: it
 * samples the consumers' counters at its start and end. */
static int tp_run_one(const bench_opts *o, const transport *t, topology topo, uint32_t batch,
		      const uint8_t *payload, double *mps, uint64_t *lost)
{
	char label[64];
	snprintf(label, sizeof label, "throughput %s %s batch %u", t->name, topo_name(topo), batch);
	unsigned P = topo == TOPO_4_1 ? 4u : 1u, C = topo == TOPO_1_4 ? 4u : 1u;
	tp_ctx c = {t, {o, topo, P, C, o->size, batch, P + C > online_cpus(), label, payload, NULL}};
	double seconds = opt_tp_seconds(o);
	uint64_t window = (uint64_t)(seconds * 1e9), warm = window / 10;
	if (warm < TP_MIN_WARMUP_NS)
		warm = TP_MIN_WARMUP_NS;
	ctl_reset();
	int rc = t->tp_setup ? t->tp_setup(&c.job) : job_state_new(t, &c.job.state);
	worker wk[MAX_WORKERS];
	memset(wk, 0, sizeof wk);
	for (unsigned i = 0; i < C; i++)
		wk[i] = (worker){"consumer", tp_consume_worker, &c, i, 0, 0, 0, false};
	for (unsigned i = 0; i < P; i++)
		wk[C + i] = (worker){"producer", tp_produce_worker, &c, i, 0, 0, 0, false};
	uint64_t c0 = 0, c1 = 0, t0 = 0, t1 = 0;
	if (rc == 0)
		rc = group_start(o, wk, P + C);
	if (rc == 0 && t->started)
		t->started(c.job.state);
	if (rc == 0) {
		ctl_put(&g_ctl->go, 1);
		rc = group_sleep(wk, P + C, warm);
		c0 = consumed(C);
		t0 = now_ns();
		if (rc == 0)
			rc = group_sleep(wk, P + C, window);
		c1 = consumed(C);
		t1 = now_ns();
		ctl_put(&g_ctl->stop, 1);
		int prc = group_finish(wk, C, C + P, 2 * PEER_TIMEOUT_NS);
		ctl_put(&g_ctl->done, 1);
		int crc = group_finish(wk, 0, C, 2 * PEER_TIMEOUT_NS);
		if (rc == 0)
			rc = prc ? prc : crc;
	}
	if (t->tp_teardown)
		t->tp_teardown(&c.job);
	else
		job_state_free(&c.job.state);
	*lost = 0;
	for (unsigned i = 0; i < C; i++) {
		*lost += ctl_count(&g_ctl->cons[i].lost);
		if (ctl_get(&g_ctl->cons[i].bad))
			rc = -1;
	}
	if (rc == 0 && c1 <= c0) {
		say_error("%s: no message arrived in the measured window", label);
		rc = -1;
	}
	if (rc == 0)
		*mps = (double)(c1 - c0) * 1e9 / (double)(t1 - t0) / (topo == TOPO_1_4 ? C : 1u);
	return rc;
}

/* ---- plans ---- */

#define MAX_OPEN 16

/* One case of a plan: a transport and what to measure (a latency wait, or
 * a throughput topology and batch), with its result row. */
typedef struct bench_case {
	const transport *t;
	wait_kind w;
	topology topo;
	uint32_t batch;
	lat_result *lat; /* a latency case's row, else NULL */
	tp_result *tp;	 /* a throughput case's row, else NULL */
} bench_case;

/* What every result row has, latency or throughput. */
typedef struct row_status {
	bool *skipped;
	unsigned *runs;
	char *note;
	size_t note_len;
} row_status;

static row_status lat_status(lat_result *r)
{
	return (row_status){&r->skipped, &r->runs, r->note, sizeof r->note};
}

static row_status tp_status(tp_result *r)
{
	return (row_status){&r->skipped, &r->runs, r->note, sizeof r->note};
}

static row_status case_status(const bench_case *c)
{
	return c->lat ? lat_status(c->lat) : tp_status(c->tp);
}

typedef struct plan {
	const transport *ts[MAX_OPEN]; /* the transports taking part */
	unsigned nts;
	unsigned waits; /* bits of wait_kind */
	unsigned topos; /* bits of topology */
	bool batch;	/* also the batch run (o->batch) */
	bool latency;
	bool throughput;
	bool codec;
} plan;

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void lat_finalize(lat_result *r)
{
	for (int k = 0; k < LAT_NPCT; k++) {
		uint64_t s[MAX_RUNS];
		memcpy(s, r->v[k], sizeof s);
		qsort(s, r->runs, sizeof s[0], cmp_u64);
		r->lo[k] = s[0];
		r->hi[k] = s[r->runs - 1];
		r->med[k] = s[r->runs / 2];
	}
	r->mean = hm_hist_mean(r->merged);
	r->count = r->merged->total;
}

static void tp_finalize(tp_result *r)
{
	double s[MAX_RUNS];
	memcpy(s, r->mps, sizeof s);
	qsort(s, r->runs, sizeof s[0], cmp_double);
	r->min = s[0];
	r->max = s[r->runs - 1];
	r->median = s[r->runs / 2];
}

static bool is_reference(const transport *t)
{
	return t == &transport_hermes || t == &transport_bare;
}

/* Set by run_plan when a Hermes or bare-ring measurement failed: the exit
 * status says so (a peer that fails is reported and skipped). */
static bool g_core_failed;

static void fail_note(char *note, size_t len, unsigned run)
{
	snprintf(note, len, "failed in run %u (see the messages above)", run + 1);
}

static void print_latency_tables(const results *res)
{
	report_lat_header();
	for (unsigned i = 0; i < res->nlat; i++)
		report_lat_row(&res->lat[i]);
	for (int w = 0; w < W_N_; w++) {
		const lat_result *h = find_lat(res, "hermes", wait_name((wait_kind)w),
					       res->nlat ? res->lat[0].size : 0);
		const lat_result *b = find_lat(res, "bare-ring", wait_name((wait_kind)w),
					       res->nlat ? res->lat[0].size : 0);
		if (h && b && !h->skipped && !b->skipped)
			printf("ratio vs bare ring (%s, %u B): p50 %.2fx, p99 %.2fx\n", h->wait,
			       h->size, (double)h->med[0] / (double)b->med[0],
			       (double)h->med[2] / (double)b->med[2]);
	}
}

static void print_tp_tables(const results *res)
{
	report_tp_header();
	for (unsigned i = 0; i < res->ntp; i++)
		report_tp_row(&res->tp[i]);
	for (unsigned i = 0; i < res->ntp; i++) {
		const tp_result *h = &res->tp[i];
		if (strcmp(h->transport, "hermes") || h->skipped)
			continue;
		const tp_result *b = find_tp(res, "bare-ring", h->topo, h->size, h->batch);
		if (b && !b->skipped)
			printf("ratio vs bare ring (%s, batch %u, %u B): median msgs/s %.2fx\n",
			       topo_name(h->topo), h->batch, h->size, h->median / b->median);
	}
}

/* One plan being run: its transports (opened or why not) and its cases,
 * each pointing at its result row. */
typedef struct plan_run {
	const bench_opts *o;
	const plan *p;
	results *res;
	unsigned runs;
	char why[MAX_OPEN][sizeof ((lat_result *)0)->note];
	bool open_ok[MAX_OPEN];
	bench_case lc[MAX_LAT];
	bench_case tc[MAX_TP];
	unsigned nlc, ntc;
} plan_run;

/* A row of a transport that did not open: skipped, with the reason. */
static bool unopened(const plan_run *pr, unsigned i, row_status st)
{
	if (pr->open_ok[i])
		return false;
	*st.skipped = true;
	snprintf(st.note, st.note_len, "%.150s", pr->why[i]);
	return true;
}

/* A row that a signal left without runs drops its claim to a result. */
static void interrupted_row(row_status st)
{
	if (*st.skipped || *st.runs)
		return;
	*st.skipped = true;
	snprintf(st.note, st.note_len, "interrupted");
}

static void run_done(const bench_opts *o, const char *what, unsigned run, unsigned runs)
{
	if (!o->json && runs > 1) {
		printf("  %s run %u/%u done\n", what, run + 1, runs);
		fflush(stdout);
	}
}

static void plan_open(plan_run *pr)
{
	const plan *p = pr->p;
	for (unsigned i = 0; i < p->nts; i++) {
		const transport *t = p->ts[i];
		snprintf(pr->why[i], sizeof pr->why[i], "%s", t->missing ? t->missing : "");
		pr->open_ok[i] = !t->missing &&
				 (!t->open || t->open(pr->o, pr->why[i], sizeof pr->why[i]) == 0);
		if (!pr->open_ok[i] && !pr->o->json)
			printf("%s: %s\n", p->ts[i]->name, pr->why[i]);
	}
	fflush(stdout);
}

/* The latency cases, in table order, with a result row each. Returns -1
 * when out of memory. */
static int plan_lat_cases(plan_run *pr)
{
	const plan *p = pr->p;
	results *res = pr->res;
	for (unsigned i = 0; p->latency && i < p->nts; i++)
		for (int w = 0; w < W_N_; w++) {
			const transport *t = p->ts[i];
			if (!(p->waits & t->waits & (1u << w)) || res->nlat >= MAX_LAT)
				continue;
			lat_result *r = &res->lat[res->nlat++];
			memset(r, 0, sizeof *r);
			r->transport = t->name;
			r->wait = wait_name((wait_kind)w);
			r->size = pr->o->size;
			if (unopened(pr, i, lat_status(r)))
				continue;
			r->merged = malloc(sizeof *r->merged);
			if (!r->merged)
				return -1;
			hm_hist_init(r->merged);
			pr->lc[pr->nlc++] = (bench_case){.t = t, .w = (wait_kind)w, .lat = r};
		}
	return 0;
}

/* The throughput cases: each topology, transport and batch size. */
static void plan_tp_cases(plan_run *pr)
{
	const plan *p = pr->p;
	const bench_opts *o = pr->o;
	results *res = pr->res;
	for (int topo = 0; p->throughput && topo < TOPO_N_; topo++)
		for (unsigned i = 0; i < p->nts; i++) {
			const transport *t = p->ts[i];
			if (!(p->topos & t->topos & (1u << topo)))
				continue;
			uint32_t batches[2] = {1, o->batch};
			unsigned nb = p->batch && t->batch && o->batch > 1 ? 2 : 1;
			for (unsigned b = 0; b < nb && res->ntp < MAX_TP; b++) {
				tp_result *r = &res->tp[res->ntp++];
				memset(r, 0, sizeof *r);
				r->transport = t->name;
				r->topo = (topology)topo;
				r->size = o->size;
				r->batch = batches[b];
				r->seconds = opt_tp_seconds(o);
				if (unopened(pr, i, tp_status(r)))
					continue;
				pr->tc[pr->ntc++] = (bench_case){
					.t = t, .topo = (topology)topo, .batch = batches[b], .tp = r};
			}
		}
}

/* Measure case c once (its run `run`) into its row: 0, or -1 when it
 * failed. rep: a histogram to measure latency into; payload: what a
 * throughput producer sends. */
static int case_measure(const bench_opts *o, const bench_case *c, unsigned run, hm_hist *rep,
			const uint8_t *payload)
{
	if (c->lat) {
		lat_result *r = c->lat;
		if (lat_run_one(o, c->t, c->w, rep) != 0)
			return -1;
		for (int k = 0; k < LAT_NPCT; k++)
			r->v[k][run] = hm_hist_percentile(rep, lat_pcts[k]);
		r->partial |= rep->total < opt_lat_count(o);
		hm_hist_merge(r->merged, rep);
		return 0;
	}
	uint64_t lost = 0;
	if (tp_run_one(o, c->t, c->topo, c->batch, payload, &c->tp->mps[run], &lost) != 0)
		return -1;
	c->tp->lost += lost;
	return 0;
}

/* Every case, run after run (run 1 of each, then run 2, ...), then each
 * row's medians. A case that fails is skipped from then on. */
static void plan_measure(plan_run *pr, const bench_case *cs, unsigned n, const char *what,
			 hm_hist *rep, const uint8_t *payload)
{
	for (unsigned run = 0; run < pr->runs && !g_stop; run++) {
		for (unsigned i = 0; i < n && !g_stop; i++) {
			row_status st = case_status(&cs[i]);
			if (*st.skipped)
				continue;
			if (case_measure(pr->o, &cs[i], run, rep, payload) != 0) {
				if (g_stop)
					break;
				*st.skipped = true;
				fail_note(st.note, st.note_len, run);
				g_core_failed |= is_reference(cs[i].t);
				continue;
			}
			*st.runs = run + 1;
		}
		run_done(pr->o, what, run, pr->runs);
	}
	for (unsigned i = 0; i < n; i++) {
		row_status st = case_status(&cs[i]);
		if (*st.skipped || !*st.runs)
			continue;
		if (cs[i].lat)
			lat_finalize(cs[i].lat);
		else
			tp_finalize(cs[i].tp);
	}
}

/* Every latency case, run after run (rep: a histogram to measure into). */
static void plan_latency(plan_run *pr, hm_hist *rep)
{
	const bench_opts *o = pr->o;
	if (!o->json) {
		printf("\nlatency: round trip (ns) of a %u-byte message between two "
		       "processes; %" PRIu64 " round trips after %" PRIu64
		       " of warm-up, at most %" PRIu64 " s, per run; %u run%s\n",
		       o->size, opt_lat_count(o), opt_lat_count(o) / 10,
		       (uint64_t)(opt_lat_budget_ns(o) / NS_PER_S), pr->runs, pr->runs == 1 ? "" : "s");
		fflush(stdout);
	}
	plan_measure(pr, pr->lc, pr->nlc, "latency", rep, NULL);
	if (!o->json && !g_stop)
		print_latency_tables(pr->res);
}

static void tp_explain(const bench_opts *o, const plan *p, unsigned runs)
{
	printf("\nthroughput: messages per second counted by the consumers over "
	       "%.2g s after %.2g s of warm-up, %u run%s (median, min, max); 1-4 "
	       "is per subscriber\n",
	       opt_tp_seconds(o),
	       fmax(opt_tp_seconds(o) / 10, (double)TP_MIN_WARMUP_NS / NS_PER_S), runs,
	       runs == 1 ? "" : "s");
	if (p->topos & ((1u << TOPO_4_1) | (1u << TOPO_1_4)))
		printf("4-1 and 1-4 run 5 processes on %u CPUs: oversubscribed, so their "
		       "idle waits yield the CPU (sched_yield) instead of spinning\n",
		       online_cpus());
	fflush(stdout);
}

/* Every throughput case, run after run. */
static void plan_throughput(plan_run *pr, const uint8_t *payload)
{
	const bench_opts *o = pr->o;
	if (!o->json)
		tp_explain(o, pr->p, pr->runs);
	plan_measure(pr, pr->tc, pr->ntc, "throughput", NULL, payload);
	if (!o->json && !g_stop)
		print_tp_tables(pr->res);
}

/* Close the transports. A run cut short by a signal leaves rows without
 * runs: drop their claims to a result. */
static void plan_close(plan_run *pr)
{
	for (unsigned i = 0; i < pr->p->nts; i++)
		if (pr->open_ok[i] && pr->p->ts[i]->close)
			pr->p->ts[i]->close();
	for (unsigned i = 0; i < pr->nlc; i++)
		interrupted_row(case_status(&pr->lc[i]));
	for (unsigned i = 0; i < pr->ntc; i++)
		interrupted_row(case_status(&pr->tc[i]));
}

/* The codec benchmark (in process). Returns 0 or -1. */
static int plan_codec(const bench_opts *o, results *res)
{
	if (!o->json)
		printf("\n");
	int n = codec_bench_run(o->quick, opt_runs(o) < 3 ? 3 : opt_runs(o), res->codec);
	if (n < 0) {
		g_core_failed = true;
		return -1;
	}
	res->ncodec = (unsigned)n;
	if (!o->json)
		report_codec(res);
	return 0;
}

static int run_plan(const bench_opts *o, const plan *p, results *res)
{
	plan_run *pr = calloc(1, sizeof *pr);
	if (!pr)
		return -1;
	*pr = (plan_run){.o = o, .p = p, .res = res, .runs = opt_runs(o)};
	plan_open(pr);
	hm_hist *rep = NULL;
	uint8_t *payload = NULL;
	if (plan_lat_cases(pr) != 0)
		goto fail;
	plan_tp_cases(pr);
	rep = malloc(sizeof *rep);
	payload = payload_new(o->size);
	if (!rep || !payload)
		goto fail;
	if (pr->nlc)
		plan_latency(pr, rep);
	if (pr->ntc && !g_stop)
		plan_throughput(pr, payload);
	free(rep);
	free(payload);
	plan_close(pr);
	free(pr);
	int rc = 0;
	if (p->codec && !g_stop)
		rc = plan_codec(o, res);
	return g_stop ? -1 : rc;
fail:
	free(rep);
	free(payload);
	free(pr);
	return -1;
}

/* ---- commands ---- */

typedef struct bench_command {
	const char *name;
	const char *summary;
	unsigned accepts; /* OPT() bits */
	int (*run)(const bench_opts *o);
} bench_command;

/* The transports of a command: --peers, or the command's default set. */
static int plan_transports(plan *p, const bench_opts *o, bool all)
{
	p->nts = 0;
	if (o->peers) {
		char list[512];
		snprintf(list, sizeof list, "%s", o->peers);
		char *save = NULL;
		for (char *n = strtok_r(list, ",", &save); n; n = strtok_r(NULL, ",", &save)) {
			const transport *t = transport_find(n);
			if (!t) {
				say_error("--peers: unknown transport '%s'", n);
				return -1;
			}
			if (p->nts < MAX_OPEN)
				p->ts[p->nts++] = t;
		}
		return 0;
	}
	if (all) {
		for (unsigned i = 0; i < n_transports && p->nts < MAX_OPEN; i++)
			p->ts[p->nts++] = all_transports[i];
	} else {
		p->ts[p->nts++] = &transport_hermes;
		p->ts[p->nts++] = &transport_hermes_waitset;
		p->ts[p->nts++] = &transport_bare;
	}
	return 0;
}

static void spin_note(const bench_opts *o, results *res)
{
	if (o->spin_yield_us < 0)
		snprintf(res->spin_note, sizeof res->spin_note,
			 "Busy-spin waits poll with a pause instruction and never yield.");
	else
		snprintf(res->spin_note, sizeof res->spin_note,
			 "Busy-spin waits poll with a pause instruction; after about %d us "
			 "without a message they sched_yield, so two spinners sharing a CPU still "
			 "make progress (--spin-yield).",
			 o->spin_yield_us);
}

static int mkdir_p(const char *path)
{
	char tmp[PATH_MAX + 32];
	snprintf(tmp, sizeof tmp, "%s", path);
	for (char *s = tmp + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* The results directory of `all` (--out, else results/ beside the
 * executable): results.csv, summary.md, latency.hgrm and a chart. Returns
 * 0 or -1. */
static int write_results_dir(const char *command, const bench_opts *o, const machine_info *m,
			     const results *res, bool targets)
{
	char exe[PATH_MAX], dir[PATH_MAX + 16];
	if (o->out)
		snprintf(dir, sizeof dir, "%s", o->out);
	else
		snprintf(dir, sizeof dir, "%s/results", exe_dir(exe, sizeof exe));
	if (mkdir_p(dir) != 0) {
		say_error("%s: %s", dir, strerror(errno));
		return -1;
	}
	int rc = 0;
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/results.csv", dir);
	if (report_csv(path, command, res, false) != 0)
		rc = -1;
	snprintf(path, sizeof path, "%s/summary.md", dir);
	FILE *f = fopen(path, "we");
	if (f) {
		report_markdown(f, command, o, m, res, targets);
		fclose(f);
	}
	snprintf(path, sizeof path, "%s/latency.hgrm", dir);
	if (report_hist(path, res) != 0)
		rc = -1;
	int pr = res->nlat ? report_plot(dir, res) : -1;
	FILE *to = o->json ? stderr : stdout;
	fprintf(to, "results: %s/{results.csv,summary.md,latency.hgrm%s}\n", dir,
		pr == 0 ? ",latency.gp,latency.png" : "");
	if (pr == 1)
		fprintf(to, "no chart: gnuplot is not installed (Debian: "
			    "gnuplot-nox)\n");
	return rc;
}

/* Print and write what the run found. Returns 0 or -1. */
static int report_all(const char *command, const bench_opts *o, const machine_info *m,
		      const results *res, bool targets, bool write_dir)
{
	int rc = 0;
	if (o->json)
		report_json(command, o, m, res, targets);
	else if (targets || !strcmp(command, "peers"))
		report_markdown(stdout, command, o, m, res, targets);
	if (o->csv && report_csv(o->csv, command, res, true) != 0)
		rc = -1;
	if (o->hist && report_hist(o->hist, res) != 0)
		rc = -1;
	if (write_dir && write_results_dir(command, o, m, res, targets) != 0)
		rc = -1;
	return rc;
}

/* When the plan has the bridge and its latency case was skipped, say why
 * in the report. */
static void note_bridge_skip(const bench_opts *o, const plan *p, results *res)
{
	bool bridge_in = false;
	for (unsigned i = 0; i < p->nts; i++)
		bridge_in |= p->ts[i] == &transport_bridge;
	if (!bridge_in)
		return;
	const lat_result *b = find_lat(res, "bridge", "block", o->size);
	if (b && b->skipped) {
		res->bridge_skipped = true;
		snprintf(res->bridge_note, sizeof res->bridge_note, "%s", b->note);
	}
}

/* Run a plan with a fresh results set; print, write CSV/histograms and, for
 * `all`, the results directory. */
static int execute(const char *command, const bench_opts *o, const plan *p, bool targets,
		   bool write_dir)
{
	results *res = calloc(1, sizeof *res);
	if (!res) {
		say_error("out of memory");
		return 1;
	}
	machine_info m;
	machine_probe(&m);
	spin_note(o, res);
	if (m.busy_pct >= 20.0)
		say_warning("the CPUs were %.0f%% busy before the run (load average %.2f); other "
			    "processes will distort the figures",
			    m.busy_pct, m.load1);
	if (!o->json) {
		char pin[200];
		pinning_text(o, pin, sizeof pin);
		printf("hermes-bench %s%s: %s, %ld cores, %s\ncpu pinning: %s\n%s\n", command,
		       o->quick ? " --quick" : "", m.cpu, m.cores, m.kernel, pin, res->spin_note);
		fflush(stdout);
	}
	int rc = run_plan(o, p, res);
	/* The run keeps two to five processes busy itself; much more than that
	 * means other work shared the machine with it. */
	m.load1_after = machine_load();
	note_bridge_skip(o, p, res);
	if ((rc == 0 || !g_stop) && report_all(command, o, &m, res, targets, write_dir) != 0)
		rc = -1;
	for (unsigned i = 0; i < res->nlat; i++)
		free(res->lat[i].merged);
	free(res);
	if (g_stop) {
		say_error("interrupted");
		return 130;
	}
	return rc == 0 && !g_core_failed ? 0 : 1;
}

static int cmd_latency(const bench_opts *o)
{
	plan p = {0};
	if (plan_transports(&p, o, false) != 0)
		return 2;
	p.latency = true;
	p.waits = o->waits ? o->waits : (1u << W_SPIN) | (1u << W_BLOCK);
	return execute("latency", o, &p, false, false);
}

static int cmd_throughput(const bench_opts *o)
{
	plan p = {0};
	if (plan_transports(&p, o, false) != 0)
		return 2;
	p.throughput = true;
	p.batch = true;
	p.topos = o->topos ? o->topos : (1u << TOPO_N_) - 1;
	return execute("throughput", o, &p, false, false);
}

static int cmd_peers(const bench_opts *o)
{
	plan p = {0};
	if (plan_transports(&p, o, true) != 0)
		return 2;
	p.latency = p.throughput = p.batch = true;
	p.waits = o->waits ? o->waits : (1u << W_N_) - 1;
	p.topos = o->topos ? o->topos : (1u << TOPO_N_) - 1;
	return execute("peers", o, &p, false, false);
}

static int cmd_codec(const bench_opts *o)
{
	plan p = {0};
	p.codec = true;
	return execute("codec", o, &p, false, false);
}

/* Instructions per message under callgrind for one hermes-bench-loop mode:
 * two runs of different lengths, so start-up cancels out. -1 on failure. */
static double loop_instructions(const char *loop, const char *mode)
{
	const unsigned long n[2] = {32000, 64000};
	unsigned long long ir[2];
	for (int i = 0; i < 2; i++) {
		char args[PATH_MAX + 64];
		snprintf(args, sizeof args, "'%s' %s %lu", loop, mode, n[i]);
		if ((ir[i] = callgrind_ir(args)) == 0)
			return -1;
	}
	return (double)(ir[1] - ir[0]) / (double)(n[1] - n[0]);
}

static int cmd_instructions(const bench_opts *o)
{
	(void)o;
	char loop[PATH_MAX + 32];
	if (find_beside("hermes-bench-loop", NULL, loop, sizeof loop) != 0) {
		fprintf(stderr, "hermes-bench: %s not found (it is built beside hermes-bench)\n", loop);
		return 1;
	}
	if (system("valgrind --version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "hermes-bench: instructions needs valgrind (apt-get install valgrind)\n");
		return 1;
	}
	static const struct {
		const char *mode, *what;
	} rows[] = {
		{"bare", "bare SPSC ring: copy in, copy out"},
		{"single", "Hermes: send + poll + release"},
		{"batch", "Hermes: batch-32 claim/commit + polls + release"},
		{"batch-handler", "Hermes: batch-32 claim/commit + poll_batch"},
	};
	double bare = 0;
	printf("instructions per 64-byte message (valgrind --tool=callgrind, one thread)\n");
	printf("%-50s %10s %10s\n", "loop", "instr/msg", "x bare");
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		double v = loop_instructions(loop, rows[i].mode);
		if (v < 0) {
			fprintf(stderr, "hermes-bench: the %s loop failed under valgrind\n", rows[i].mode);
			return 1;
		}
		if (i == 0)
			bare = v;
		printf("%-50s %10.1f %10.2f\n", rows[i].what, v, bare > 0 ? v / bare : 0.0);
	}
	return 0;
}

static int cmd_bridge(const bench_opts *o)
{
	plan p = {0};
	if (o->peers) {
		if (plan_transports(&p, o, false) != 0)
			return 2;
	} else {
		/* The bridge and what its targets compare it with. */
		p.ts[p.nts++] = &transport_tcp;
		p.ts[p.nts++] = &transport_zmq_tcp;
		p.ts[p.nts++] = &transport_nats;
		p.ts[p.nts++] = &transport_bridge;
	}
	p.latency = p.throughput = true;
	p.waits = 1u << W_BLOCK;
	p.topos = 1u << TOPO_1_1;
	return execute("bridge", o, &p, true, false);
}

/* bus -> NATS -> bus next to bare NATS: measured by hermes-nats-bench (built
 * beside this program when the uplink is, with libnats), run here so `all`
 * carries the row.
 * It starts and stops its own nats-server and uplinks. */
static void run_uplink_rows(const bench_opts *o)
{
	char path[PATH_MAX + 64];
	printf("\n## bus -> NATS -> bus (two hermes-nats uplinks) next to bare NATS\n\n");
	fflush(stdout);
	if (find_beside("hermes-nats-bench", "hermes-nats-bench", path, sizeof path) != 0) {
		printf("skipped: hermes-nats-bench not built (the uplink needs libnats-dev)\n");
		return;
	}
	char size[16];
	snprintf(size, sizeof size, "%u", o->size ? o->size : 64);
	const char *argv[10] = {path, "--size", size};
	int k = 3;
	if (o->quick)
		argv[k++] = "--quick";
	if (o->csv) {
		argv[k++] = "--csv";
		argv[k++] = o->csv;
	}
	argv[k] = NULL;
	pid_t pid = fork();
	if (pid == 0) {
		execv(path, (char *const *)argv);
		_exit(127);
	}
	int st = 0;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		printf("hermes-nats-bench did not complete (status %d): no uplink rows\n", st);
}

static int cmd_all(const bench_opts *o)
{
	plan p = {0};
	if (plan_transports(&p, o, true) != 0)
		return 2;
	p.latency = p.throughput = p.batch = p.codec = true;
	p.waits = o->waits ? o->waits : (1u << W_N_) - 1;
	p.topos = o->topos ? o->topos : (1u << TOPO_N_) - 1;
	int r = execute("all", o, &p, true, true);
	if (!o->json)
		run_uplink_rows(o);
	return r;
}

/* ---- options ---- */

enum opt_id {
	OPT_QUICK,
	OPT_SIZE,
	OPT_COUNT,
	OPT_WAIT,
	OPT_TOPO,
	OPT_BATCH,
	OPT_SECONDS,
	OPT_RUNS,
	OPT_PEERS,
	OPT_CPU,
	OPT_RT,
	OPT_BUSY_POLL,
	OPT_SPIN_YIELD,
	OPT_BRIDGE_BUSY_POLL,
	OPT_JSON,
	OPT_CSV,
	OPT_HIST,
	OPT_OUT,
	OPT_HELP,
	OPT_N_
};

#define OPT(id) (1u << (id))

typedef struct opt_def {
	const char *name;
	const char *meta; /* NULL: a flag without a value */
	const char *help;
	uint64_t min, max; /* a whole number in [min, max]; max 0: not one */
} opt_def;

static const opt_def options[OPT_N_] = {
	[OPT_QUICK] = {"quick", NULL,
		       "smoke run: 50,000 round trips (2 s at most), 0.5 s x 1 throughput run"},
	[OPT_SIZE] = {"size", "BYTES", "message size, 8..65536 (default 64)", MIN_SIZE, MAX_SIZE},
	[OPT_COUNT] = {"count", "N", "round trips per latency run (default 1,000,000; +10% warm-up)",
		       1, 1000000000ull},
	[OPT_WAIT] = {"wait", "LIST",
		      "latency waits: spin,block,futex or all (latency default: spin,block)"},
	[OPT_TOPO] = {"topology", "LIST", "throughput topologies: 1-1,4-1,1-4 (default: all)"},
	[OPT_BATCH] = {"batch", "N",
		       "messages per claim of the batch runs, 1..1024 (default 32; 1: none)", 1,
		       MAX_BATCH},
	[OPT_SECONDS] = {"seconds", "S", "measured seconds per throughput run (default 3)"},
	[OPT_RUNS] = {"runs", "N", "repetitions of every case, 1..9 (default 3; --quick 1)", 1,
		      MAX_RUNS},
	[OPT_PEERS] = {"peers", "LIST",
		       "transports: hermes,bare-ring,pipe,unix,tcp,zmq-ipc,zmq-tcp,iceoryx,"
		       "nats,bridge"},
	[OPT_CPU] = {"cpu", "A,B[,..]",
		     "pin worker k (start order: echo, ping; consumers, producers) to CPU k mod n"},
	[OPT_RT] = {"rt", "PRIO", "run workers SCHED_FIFO at PRIO (1..99; needs CAP_SYS_NICE)", 1,
		    99},
	[OPT_BUSY_POLL] = {"busy-poll", "US", "SO_BUSY_POLL on unix/tcp sockets", 1, 1000000},
	[OPT_SPIN_YIELD] = {"spin-yield", "US|off",
			    "spinning waits yield after about US us idle (default 50)"},
	[OPT_BRIDGE_BUSY_POLL] = {"bridge-busy-poll", NULL,
				  "start hermes-bridge with --busy-poll (spins a core)"},
	[OPT_JSON] = {"json", NULL, "print results as JSON instead of tables"},
	[OPT_CSV] = {"csv", "FILE", "append result rows to a CSV file"},
	[OPT_HIST] = {"hist", "FILE", "write latency percentile distributions (gnuplot blocks)"},
	[OPT_OUT] = {"out", "DIR",
		     "where `all` writes results.csv, summary.md, latency.{hgrm,gp,png} "
		     "(default: results/ next to the binary)"},
	[OPT_HELP] = {"help", NULL, "show this help"},
};

#define COMMON                                                                                  \
	(OPT(OPT_QUICK) | OPT(OPT_SIZE) | OPT(OPT_RUNS) | OPT(OPT_PEERS) | OPT(OPT_CPU) |        \
	 OPT(OPT_RT) | OPT(OPT_SPIN_YIELD) | OPT(OPT_BRIDGE_BUSY_POLL) | OPT(OPT_JSON) |          \
	 OPT(OPT_CSV))
#define LAT_OPTS (OPT(OPT_COUNT) | OPT(OPT_WAIT) | OPT(OPT_HIST) | OPT(OPT_BUSY_POLL))
#define TP_OPTS (OPT(OPT_TOPO) | OPT(OPT_BATCH) | OPT(OPT_SECONDS) | OPT(OPT_BUSY_POLL))

static const bench_command commands[] = {
	{"latency",
	 "ping-pong round trips between two processes, Hermes and the bare ring, busy-spin and "
	 "futex-blocking",
	 COMMON | LAT_OPTS, cmd_latency},
	{"throughput",
	 "1->1, 4->1 and 1->4 over a ring, single-message and batch claim, Hermes and the bare "
	 "ring",
	 COMMON | TP_OPTS, cmd_throughput},
	{"peers",
	 "the latency and throughput workloads over every transport: bare ring, pipe, Unix "
	 "socket, TCP, ZeroMQ, iceoryx, NATS (and the bridge)",
	 COMMON | LAT_OPTS | TP_OPTS, cmd_peers},
	{"codec",
	 "component table: ring operation, mmap write, protocol encode, batch encode, decode",
	 OPT(OPT_QUICK) | OPT(OPT_RUNS) | OPT(OPT_JSON) | OPT(OPT_CSV), cmd_codec},
	{"bridge",
	 "round trips and streaming through hermes-bridge on loopback, next to TCP, ZeroMQ "
	 "tcp:// and NATS",
	 COMMON | LAT_OPTS | TP_OPTS, cmd_bridge},
	{"instructions",
	 "instructions per message under callgrind (exact on any machine): Hermes single and "
	 "batch-32 next to a bare ring",
	 0, cmd_instructions},
	{"all",
	 "everything, then a Markdown table with ratios and targets, a CSV and a latency chart",
	 COMMON | LAT_OPTS | TP_OPTS | OPT(OPT_OUT), cmd_all},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f, const bench_command *c)
{
	if (!c) {
		fprintf(f, "usage: hermes-bench COMMAND [OPTIONS]\n\ncommands:\n");
		for (size_t i = 0; i < N_COMMANDS; i++)
			fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].summary);
		fprintf(f, "\n'hermes-bench COMMAND --help' lists a command's options; "
			   "bench/README.md explains the numbers.\n");
		return;
	}
	fprintf(f, "usage: hermes-bench %s [OPTIONS]\n%s\n\noptions:\n", c->name, c->summary);
	for (int i = 0; i < OPT_N_; i++) {
		if (!(c->accepts & OPT(i)) && i != OPT_HELP)
			continue;
		char left[48];
		snprintf(left, sizeof left, "--%s%s%s", options[i].name, options[i].meta ? " " : "",
			 options[i].meta ? options[i].meta : "");
		fprintf(f, "  %-24s %s\n", left, options[i].help);
	}
}

static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	if (!s || !*s || *s == '-')
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* A comma list of names, each one bit: returns the bits, 0 on a bad name. */
static unsigned parse_names(const char *v, const char *const *names, unsigned n)
{
	char list[256];
	snprintf(list, sizeof list, "%s", v);
	unsigned bits = 0;
	char *save = NULL;
	for (char *s = strtok_r(list, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
		if (!strcmp(s, "all")) {
			bits |= (1u << n) - 1;
			continue;
		}
		unsigned k;
		for (k = 0; k < n; k++)
			if (!strcmp(s, names[k]))
				break;
		if (k == n)
			return 0;
		bits |= 1u << k;
	}
	return bits;
}

/* --seconds: 0.05 to 600. */
static int parse_seconds(const char *v, double *seconds)
{
	char *end;
	errno = 0;
	double d = strtod(v, &end);
	if (errno || *end || !(d >= 0.05 && d <= 600.0))
		return -1;
	*seconds = d;
	return 0;
}

/* --cpu LIST: CPUs this process may run on now. */
static int parse_cpus(const char *v, bench_opts *o)
{
	char list[128];
	snprintf(list, sizeof list, "%s", v);
	cpu_set_t allowed;
	if (sched_getaffinity(0, sizeof allowed, &allowed) != 0)
		return -1;
	o->ncpus = 0;
	char *save = NULL;
	uint64_t n;
	for (char *s = strtok_r(list, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
		/* Refuse CPUs we may not run on now, rather than after
		 * the first fork. */
		if (o->ncpus >= MAX_CPUS || !parse_u64(s, 0, CPU_SETSIZE - 1, &n) ||
		    !CPU_ISSET((int)n, &allowed))
			return -1;
		o->cpus[o->ncpus++] = (int)n;
	}
	return o->ncpus ? 0 : -1;
}

/* --spin-yield: microseconds, or off (-1). */
static int parse_spin_yield(const char *v, int *us)
{
	uint64_t n;
	if (!strcmp(v, "off")) {
		*us = -1;
		return 0;
	}
	if (!parse_u64(v, 0, 10000000, &n))
		return -1;
	*us = (int)n;
	return 0;
}

/* Store the value v of option id in *o: 0, or -1 when v is not one the
 * option takes. Whole numbers and strings kept as they are go where the
 * tables point; the rest are parsed here. */
static int parse_value(bench_opts *o, int id, const char *v)
{
	uint32_t *const u32s[OPT_N_] = {[OPT_SIZE] = &o->size, [OPT_BATCH] = &o->batch,
					[OPT_RUNS] = &o->runs};
	int *const ints[OPT_N_] = {[OPT_RT] = &o->rt_prio, [OPT_BUSY_POLL] = &o->busy_poll_us};
	const char **const strs[OPT_N_] = {[OPT_PEERS] = &o->peers, [OPT_CSV] = &o->csv,
					   [OPT_HIST] = &o->hist, [OPT_OUT] = &o->out};
	uint64_t n = 0;
	if (options[id].max && !parse_u64(v, options[id].min, options[id].max, &n))
		return -1;
	if (u32s[id] || ints[id] || strs[id]) {
		if (u32s[id])
			*u32s[id] = (uint32_t)n;
		else if (ints[id])
			*ints[id] = (int)n;
		else
			*strs[id] = v;
		return 0;
	}
	switch (id) {
	case OPT_COUNT:
		o->count = n;
		return 0;
	case OPT_WAIT:
		o->waits = parse_names(v, wait_names, W_N_);
		return o->waits ? 0 : -1;
	case OPT_TOPO:
		o->topos = parse_names(v, topo_names, TOPO_N_);
		return o->topos ? 0 : -1;
	case OPT_SECONDS:
		return parse_seconds(v, &o->seconds);
	case OPT_CPU:
		return parse_cpus(v, o);
	case OPT_SPIN_YIELD:
		return parse_spin_yield(v, &o->spin_yield_us);
	default:
		return -1;
	}
}

/* Fill *o from argv (after the command name). Returns 0, 1 for --help, or
 * -1 after printing what was wrong. */
static int parse_args(const bench_command *c, int argc, char **argv, bench_opts *o)
{
	memset(o, 0, sizeof *o);
	o->size = 64;
	o->batch = DEFAULT_BATCH;
	o->spin_yield_us = 50;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0) {
			say_error("%s: unexpected argument '%s'", c->name, a);
			return -1;
		}
		a += 2;
		size_t n = strcspn(a, "=");
		int id = -1;
		for (int k = 0; k < OPT_N_; k++)
			if (strlen(options[k].name) == n && !strncmp(a, options[k].name, n))
				id = k;
		if (id < 0 || (id != OPT_HELP && !(c->accepts & OPT(id)))) {
			say_error("%s: unknown option '--%.*s'", c->name, (int)n, a);
			return -1;
		}
		if (id == OPT_HELP)
			return 1;
		if (!options[id].meta) {
			if (a[n] == '=') {
				say_error("%s: --%s takes no value", c->name, options[id].name);
				return -1;
			}
			if (id == OPT_QUICK)
				o->quick = true;
			else if (id == OPT_JSON)
				o->json = true;
			else if (id == OPT_BRIDGE_BUSY_POLL)
				o->bridge_busy_poll = true;
			continue;
		}
		const char *v = a[n] == '=' ? a + n + 1 : (i + 1 < argc ? argv[++i] : NULL);
		if (!v || parse_value(o, id, v) != 0) {
			say_error("%s: --%s needs %s: %s", c->name, options[id].name,
				  options[id].meta, options[id].help);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout, NULL);
		return argc < 2 ? 2 : 0;
	}
	const bench_command *c = NULL;
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (!strcmp(argv[1], commands[i].name))
			c = &commands[i];
	if (!c) {
		say_error("unknown command '%s'", argv[1]);
		usage(stderr, NULL);
		return 2;
	}
	bench_opts o;
	int pr = parse_args(c, argc - 2, argv + 2, &o);
	if (pr != 0) {
		usage(pr > 0 ? stdout : stderr, c);
		return pr > 0 ? 0 : 2;
	}
	if (bench_proc_init() != 0)
		return 1;
	return c->run(&o);
}
