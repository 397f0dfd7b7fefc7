/* Output of hermes-bench: text tables while it runs, then a Markdown summary
 * with ratios and the targets, JSON, CSV, percentile distributions
 * and the gnuplot chart. */
#include "bench.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const double lat_pcts[LAT_NPCT] = {50.0, 90.0, 99.0, 99.9, 99.99, 100.0};
const char *const lat_pct_names[LAT_NPCT] = {"p50", "p90", "p99", "p99.9", "p99.99", "max"};

enum { P50, P90, P99, P999, P9999, PMAX };

const char *const wait_names[W_N_] = {"spin", "block", "futex"};
const char *const topo_names[TOPO_N_] = {"1-1", "4-1", "1-4"};

const char *wait_name(wait_kind w)
{
	return w < W_N_ ? wait_names[w] : "?";
}

const char *topo_name(topology t)
{
	return t < TOPO_N_ ? topo_names[t] : "?";
}

const lat_result *find_lat(const results *r, const char *name, const char *wait, uint32_t size)
{
	for (unsigned i = 0; i < r->nlat; i++) {
		const lat_result *x = &r->lat[i];
		if (!strcmp(x->transport, name) && !strcmp(x->wait, wait) && x->size == size)
			return x;
	}
	return NULL;
}

const tp_result *find_tp(const results *r, const char *name, topology topo, uint32_t size,
			 uint32_t batch)
{
	for (unsigned i = 0; i < r->ntp; i++) {
		const tp_result *x = &r->tp[i];
		if (!strcmp(x->transport, name) && x->topo == topo && x->size == size &&
		    x->batch == batch)
			return x;
	}
	return NULL;
}

static double ratio(double a, double b)
{
	return b > 0 ? a / b : 0.0;
}

/* ---- text tables, printed as results come ---- */

void report_lat_header(void)
{
	printf("%-14s %-6s %6s %9s %9s %9s %9s %9s %10s %9s  %s\n", "transport", "wait", "size",
	       "p50", "p90", "p99", "p99.9", "p99.99", "max", "mean", "p50 over runs");
}

void report_lat_row(const lat_result *r)
{
	if (r->skipped) {
		printf("%-14s %-6s %6u  %s\n", r->transport, r->wait, r->size, r->note);
		return;
	}
	printf("%-14s %-6s %6u %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %9" PRIu64
	       " %10" PRIu64 " %9.0f  %" PRIu64 "..%" PRIu64 " (%u run%s)%s\n",
	       r->transport, r->wait, r->size, r->med[P50], r->med[P90], r->med[P99],
	       r->med[P999], r->med[P9999], r->med[PMAX], r->mean, r->lo[P50], r->hi[P50], r->runs,
	       r->runs == 1 ? "" : "s", r->partial ? " [time budget hit]" : "");
}

void report_tp_header(void)
{
	printf("%-10s %-4s %6s %6s %14s %14s %14s %10s %s\n", "transport", "topo", "size", "batch",
	       "msgs/s median", "min", "max", "MB/s", "lost");
}

void report_tp_row(const tp_result *r)
{
	if (r->skipped) {
		printf("%-10s %-4s %6u %6u  %s\n", r->transport, topo_name(r->topo), r->size, r->batch,
		       r->note);
		return;
	}
	printf("%-10s %-4s %6u %6u %14.0f %14.0f %14.0f %10.1f %" PRIu64 "\n", r->transport,
	       topo_name(r->topo), r->size, r->batch, r->median, r->min, r->max,
	       r->median * r->size / 1e6, r->lost);
}

void report_codec(const results *res)
{
	printf("components, one thread, 64-byte messages (median of %u runs)\n",
	       res->ncodec ? res->codec[0].runs : 0);
	printf("| %-36s | %8s | %-15s | %12s | %-10s |\n", "component", "ns/msg", "min .. max",
	       "msgs/s", "goal");
	printf("|--------------------------------------|----------|-----------------|--------------"
	       "|------------|\n");
	for (unsigned i = 0; i < res->ncodec; i++) {
		const codec_row *r = &res->codec[i];
		char range[32], goal[24];
		snprintf(range, sizeof range, "%.2f .. %.2f", r->min, r->max);
		if (r->goal_ns > 0)
			snprintf(goal, sizeof goal, "<= %.0f ns %s", r->goal_ns,
				 r->median <= r->goal_ns ? "met" : "MISSED");
		else
			snprintf(goal, sizeof goal, "-");
		printf("| %-36s | %8.2f | %-15s | %12.0f | %-10s |\n", r->label, r->median, range,
		       1e9 / r->median, goal);
	}
}

/* ---- lookups ---- */

static const lat_result *lat_ok(const results *res, const char *t, const char *w, uint32_t size)
{
	const lat_result *r = find_lat(res, t, w, size);
	return r && !r->skipped && r->count ? r : NULL;
}

static const tp_result *tp_ok(const results *res, const char *t, topology topo, uint32_t size,
			      uint32_t batch)
{
	const tp_result *r = find_tp(res, t, topo, size, batch);
	return r && !r->skipped && r->median > 0 ? r : NULL;
}

/* The batch run's size: the largest batch Hermes was measured with. */
static uint32_t batch_of(const results *res, topology topo)
{
	uint32_t b = 0;
	for (unsigned i = 0; i < res->ntp; i++)
		if (!strcmp(res->tp[i].transport, "hermes") && res->tp[i].topo == topo &&
		    res->tp[i].batch > b)
			b = res->tp[i].batch;
	return b;
}

/* ---- targets ---- */

typedef struct target {
	const char *group;
	char what[160];
	char measured[200];
	double value;
	double limit;
	bool at_most; /* value <= limit (else >=; strict < when limit_strict) */
	bool strict;
	bool have;
	char why[160]; /* when not measured */
} target;

#define MAX_TARGETS 24

static void t_ratio(target *t, const char *group, const char *what, double num, double den,
		    const char *num_text, const char *den_text, double limit, bool at_most,
		    bool have)
{
	memset(t, 0, sizeof *t);
	t->group = group;
	snprintf(t->what, sizeof t->what, "%s", what);
	t->limit = limit;
	t->at_most = at_most;
	t->have = have && den > 0;
	if (t->have) {
		t->value = num / den;
		snprintf(t->measured, sizeof t->measured, "%s / %s = %.3g", num_text, den_text,
			 t->value);
	}
}

static const char *t_status(const target *t)
{
	if (!t->have)
		return "n/a";
	bool met = t->at_most ? (t->strict ? t->value < t->limit : t->value <= t->limit)
			      : t->value >= t->limit;
	return met ? "met" : "missed";
}

static void fmt_ns(char *buf, size_t len, uint64_t ns)
{
	snprintf(buf, len, "%" PRIu64 " ns", ns);
}

static void fmt_rate(char *buf, size_t len, double mps)
{
	snprintf(buf, len, "%.2fM/s", mps / 1e6);
}

/* A latency target: num's percentile k at most limit times den's. */
static void t_lat(target *t, const char *group, const char *what, const lat_result *num,
		  const lat_result *den, int k, double limit)
{
	char a[48], b[48];
	fmt_ns(a, sizeof a, num ? num->med[k] : 0);
	fmt_ns(b, sizeof b, den ? den->med[k] : 0);
	t_ratio(t, group, what, num ? (double)num->med[k] : 0, den ? (double)den->med[k] : 0, a, b,
		limit, true, num && den);
}

/* A throughput target: num's median rate at least limit times den's. */
static void t_tp(target *t, const char *what, const tp_result *num, const tp_result *den,
		 double limit)
{
	char a[48], b[48];
	fmt_rate(a, sizeof a, num ? num->median : 0);
	fmt_rate(b, sizeof b, den ? den->median : 0);
	t_ratio(t, "2", what, num ? num->median : 0, den ? den->median : 0, a, b, limit, false,
		num && den);
}

/* The latency targets: num's percentile k at most limit times den's (each
 * side a transport and its wait). Group 1: busy-spin ping-pong against the
 * bare ring and iceoryx; group 3: blocking waits against a bare futex ring
 * and a Unix socket. */
static const struct lat_target {
	const char *group, *what;
	const char *num, *num_wait, *den, *den_wait;
	int k;
	double limit;
	bool strict;
	const char *den_missing; /* why, when den was not measured (NULL: n/a) */
} lat_targets[] = {
	{"1", "shm busy-spin RTT p50 <= 1.1x bare ring p50", "hermes", "spin", "bare-ring", "spin",
	 P50, 1.1, false, NULL},
	{"1", "shm busy-spin RTT p99 <= 2x bare ring p99", "hermes", "spin", "bare-ring", "spin", P99,
	 2.0, false, NULL},
	{"1", "shm busy-spin RTT p50 <= 1/5 of iceoryx p50 (busy-poll)", "hermes", "spin", "iceoryx",
	 "spin", P50, 0.2, false, "iceoryx not measured"},
	{"3", "futex-blocking wait RTT p50 <= 1.2x bare futex ring p50", "hermes", "block",
	 "bare-ring", "block", P50, 1.2, false, NULL},
	{"3", "futex-blocking wait RTT p50 below a Unix socket's p50", "hermes", "block", "unix",
	 "block", P50, 1.0, true, NULL},
	{"3", "spin-then-block (HERMES_WAIT_BLOCK) RTT p50 <= 1.5x busy-spin p50", "hermes", "block",
	 "hermes", "spin", P50, 1.5, false, NULL},
};

/* The latency targets of one group, appended at t[n]; the new n. */
static unsigned targets_lat(const results *res, uint32_t size, const char *group, target *t,
			    unsigned n)
{
	for (size_t i = 0; i < sizeof lat_targets / sizeof lat_targets[0]; i++) {
		const struct lat_target *g = &lat_targets[i];
		if (strcmp(g->group, group))
			continue;
		const lat_result *den = lat_ok(res, g->den, g->den_wait, size);
		t_lat(&t[n], g->group, g->what, lat_ok(res, g->num, g->num_wait, size), den, g->k,
		      g->limit);
		t[n].strict = g->strict;
		if (!den && g->den_missing)
			snprintf(t[n].why, sizeof t[n].why, "%s", g->den_missing);
		n++;
	}
	return n;
}

/* Targets 2: throughput, per topology, against the bare ring and ZeroMQ. */
static unsigned targets_throughput(const results *res, uint32_t size, target *t, unsigned n)
{
	for (int topo = 0; topo < TOPO_N_; topo++) {
		uint32_t nb = batch_of(res, (topology)topo);
		const tp_result *h1 = tp_ok(res, "hermes", (topology)topo, size, 1);
		const tp_result *hn = nb > 1 ? tp_ok(res, "hermes", (topology)topo, size, nb) : NULL;
		const tp_result *b1 = tp_ok(res, "bare-ring", (topology)topo, size, 1);
		const tp_result *z1 = tp_ok(res, "zmq-ipc", (topology)topo, size, 1);
		if (!h1 && !hn)
			continue;
		const char *name = topo_name((topology)topo);
		char what[160];
		snprintf(what, sizeof what, "%s throughput, single-message >= 1x bare ring", name);
		t_tp(&t[n++], what, h1, b1, 1.0);
		snprintf(what, sizeof what,
			 "%s throughput, batch claim (%u) >= 1.5x bare ring single-message", name, nb);
		t_tp(&t[n++], what, hn, b1, 1.5);
		snprintf(what, sizeof what, "%s throughput, single-message >= 5x ZeroMQ ipc://", name);
		t_tp(&t[n++], what, h1, z1, 5.0);
		if (!z1)
			snprintf(t[n - 1].why, sizeof t[n - 1].why, "ZeroMQ not measured");
	}
	return n;
}

/* Targets 4: the bridge, against raw TCP, ZeroMQ tcp:// and NATS. */
static unsigned targets_bridge(const results *res, uint32_t size, target *t, unsigned n)
{
	const lat_result *br = lat_ok(res, "bridge", "block", size);
	const lat_result *tc = lat_ok(res, "tcp", "block", size);
	const lat_result *zt = lat_ok(res, "zmq-tcp", "block", size);
	const lat_result *na = lat_ok(res, "nats", "block", size);
	const tp_result *bst = tp_ok(res, "bridge", TOPO_1_1, size, 1);
	const tp_result *nst = tp_ok(res, "nats", TOPO_1_1, size, 1);
	struct {
		const char *what;
		double num, den, limit;
		bool at_most;
		const char *num_t, *den_t;
	} b4[] = {
		{"bridge RTT p50 <= 2x raw TCP ping-pong p50", br ? (double)br->med[P50] : 0,
		 tc ? (double)tc->med[P50] : 0, 2.0, true, "bridge p50", "tcp p50"},
		{"bridge RTT p99 <= 2x raw TCP ping-pong p99", br ? (double)br->med[P99] : 0,
		 tc ? (double)tc->med[P99] : 0, 2.0, true, "bridge p99", "tcp p99"},
		{"bridge RTT p50 <= 0.5x ZeroMQ tcp:// p50", br ? (double)br->med[P50] : 0,
		 zt ? (double)zt->med[P50] : 0, 0.5, true, "bridge p50", "zmq-tcp p50"},
		{"bridge RTT p50 <= 0.3x NATS request RTT p50", br ? (double)br->med[P50] : 0,
		 na ? (double)na->med[P50] : 0, 0.3, true, "bridge p50", "nats p50"},
		{"bridge streaming >= 3x NATS pub->sub", bst ? bst->median : 0,
		 nst ? nst->median : 0, 3.0, false, "bridge msgs/s", "nats msgs/s"},
		{"bridge streaming >= 3,000,000 msgs/s", bst ? bst->median : 0, bst ? 1.0 : 0,
		 3e6, false, "bridge msgs/s", "1"},
	};
	for (size_t i = 0; i < sizeof b4 / sizeof b4[0]; i++) {
		bool have = b4[i].num > 0 && b4[i].den > 0;
		t_ratio(&t[n++], "4", b4[i].what, b4[i].num, b4[i].den, b4[i].num_t, b4[i].den_t,
			b4[i].limit, b4[i].at_most, have);
		if (have) {
			if (i < 4)
				snprintf(t[n - 1].measured, sizeof t[n - 1].measured,
					 "%s %.0f ns / %s %.0f ns = %.3g", b4[i].num_t, b4[i].num,
					 b4[i].den_t, b4[i].den, t[n - 1].value);
			else if (i == 4)
				snprintf(t[n - 1].measured, sizeof t[n - 1].measured,
					 "%.2fM/s / %.2fM/s = %.3g", b4[i].num / 1e6,
					 b4[i].den / 1e6, t[n - 1].value);
			else
				snprintf(t[n - 1].measured, sizeof t[n - 1].measured,
					 "%.2fM msgs/s = %.3gx the goal", b4[i].num / 1e6,
					 b4[i].num / 3e6);
			if (i == 5)
				t[n - 1].value = b4[i].num / 3e6, t[n - 1].limit = 1.0;
		} else {
			snprintf(t[n - 1].why, sizeof t[n - 1].why, "%s",
				 res->bridge_note[0] ? res->bridge_note : "not measured");
		}
	}
	return n;
}

/* Targets 5: the codec's rows that have a goal. */
static unsigned targets_codec(const results *res, target *t, unsigned n)
{
	for (unsigned i = 0; i < res->ncodec; i++) {
		const codec_row *c = &res->codec[i];
		if (c->goal_ns <= 0)
			continue;
		char what[96];
		snprintf(what, sizeof what, "%s <= 10 ns per 64-byte message", c->label);
		memset(&t[n], 0, sizeof t[n]);
		t[n].group = "5";
		snprintf(t[n].what, sizeof t[n].what, "%s", what);
		t[n].have = true;
		t[n].value = c->median / c->goal_ns;
		t[n].limit = 1.0;
		t[n].at_most = true;
		snprintf(t[n].measured, sizeof t[n].measured, "%.2f ns = %.3gx the goal", c->median,
			 t[n].value);
		n++;
	}
	return n;
}

static unsigned build_targets(const results *res, target *t)
{
	uint32_t size = res->nlat ? res->lat[0].size : (res->ntp ? res->tp[0].size : 64);
	unsigned n = 0;
	n = targets_lat(res, size, "1", t, n);
	n = targets_throughput(res, size, t, n);
	n = targets_lat(res, size, "3", t, n);
	n = targets_bridge(res, size, t, n);
	return targets_codec(res, t, n);
}

void report_targets(FILE *f, const results *res, bool markdown)
{
	target t[MAX_TARGETS];
	unsigned n = build_targets(res, t);
	if (markdown) {
		fprintf(f, "| # | target | measured | ratio | status |\n|---|---|---|--:|---|\n");
		for (unsigned i = 0; i < n; i++) {
			if (t[i].have)
				fprintf(f, "| %s | %s | %s | %.3g | **%s** |\n", t[i].group, t[i].what,
					t[i].measured, t[i].value, t_status(&t[i]));
			else if (t[i].why[0])
				fprintf(f, "| %s | %s | %s | - | n/a |\n", t[i].group, t[i].what,
					t[i].why);
		}
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		/* Targets whose subject this command does not measure at all
		 * are left out; those missing a peer say which. */
		if (!t[i].have && !t[i].why[0])
			continue;
		if (t[i].have)
			fprintf(f, "  [%-6s] %s: %s\n", t_status(&t[i]), t[i].what, t[i].measured);
		else
			fprintf(f, "  [n/a   ] %s: %s\n", t[i].what, t[i].why);
	}
}

/* ---- Markdown ---- */

/* The p50 a transport's latency rows are compared with: the bare ring's
 * with the same wait, or its blocking one for kernel and broker peers. */
static const lat_result *lat_reference(const results *res, const char *t, const lat_result *r)
{
	const lat_result *x = lat_ok(res, t, r->wait, r->size);
	if (!x && strcmp(r->wait, "spin"))
		x = lat_ok(res, t, "block", r->size);
	return x;
}

/* A row's "÷ bare ring" and "hermes ÷ this" cells, "-" where that row was
 * not measured. */
static void md_ratio_cells(FILE *f, bool have_bare, double this_over_bare, bool have_hermes,
			   double hermes_over_this)
{
	if (have_bare)
		fprintf(f, " %.2f |", this_over_bare);
	else
		fprintf(f, " - |");
	if (have_hermes)
		fprintf(f, " %.3g |", hermes_over_this);
	else
		fprintf(f, " - |");
}

/* A table's header row, then its alignment row, made from the header so
 * that the two agree: the first `left` columns (names) left-aligned, the
 * rest (numbers) right-aligned. */
static void md_header(FILE *f, const char *header, unsigned left)
{
	fprintf(f, "%s\n|", header);
	unsigned col = 0;
	for (const char *s = header + 1; *s; s++)
		if (*s == '|')
			fputs(col++ < left ? "---|" : "--:|", f);
	fputc('\n', f);
}

static void md_latency(FILE *f, const results *res)
{
	fprintf(f,
		"Latency: round trip (ns) of a %u-byte message between two processes; "
		"median over runs of each percentile, p50 range over runs; ratios of p50.\n\n",
		res->lat[0].size);
	md_header(f, "| transport | wait | p50 | p90 | p99 | p99.9 | p99.99 | max | p50 runs "
		     "| ÷ bare ring | hermes ÷ this |", 2);
	for (unsigned i = 0; i < res->nlat; i++) {
		const lat_result *r = &res->lat[i];
		if (r->skipped) {
			fprintf(f, "| %s | %s | %s |||||||||\n", r->transport, r->wait, r->note);
			continue;
		}
		const lat_result *b = lat_reference(res, "bare-ring", r);
		const lat_result *h = lat_reference(res, "hermes", r);
		fprintf(f,
			"| %s | %s | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " | %" PRIu64
			" | %" PRIu64 " | %" PRIu64 " | %" PRIu64 "–%" PRIu64 " |",
			r->transport, r->wait, r->med[P50], r->med[P90], r->med[P99], r->med[P999],
			r->med[P9999], r->med[PMAX], r->lo[P50], r->hi[P50]);
		md_ratio_cells(f, b, b ? ratio((double)r->med[P50], (double)b->med[P50]) : 0, h,
			       h ? ratio((double)h->med[P50], (double)r->med[P50]) : 0);
		fprintf(f, "\n");
	}
	fprintf(f, "\n");
}

static void md_throughput(FILE *f, const results *res)
{
	fprintf(f, "Throughput: messages per second (1->4: per subscriber, each sees every "
		   "message), median of runs with min and max.\n\n");
	md_header(f, "| transport | topology | batch | msgs/s | min | max | MB/s | ÷ bare ring | "
		     "hermes ÷ this |", 2);
	for (unsigned i = 0; i < res->ntp; i++) {
		const tp_result *r = &res->tp[i];
		if (r->skipped) {
			fprintf(f, "| %s | %s | %u | %s ||||||\n", r->transport, topo_name(r->topo),
				r->batch, r->note);
			continue;
		}
		const tp_result *b = tp_ok(res, "bare-ring", r->topo, r->size, r->batch);
		const tp_result *h = tp_ok(res, "hermes", r->topo, r->size, r->batch);
		if (!h)
			h = tp_ok(res, "hermes", r->topo, r->size, 1);
		fprintf(f, "| %s | %s | %u | %.0f | %.0f | %.0f | %.1f |", r->transport,
			topo_name(r->topo), r->batch, r->median, r->min, r->max,
			r->median * r->size / 1e6);
		md_ratio_cells(f, b, b ? ratio(r->median, b->median) : 0, h,
			       h ? ratio(h->median, r->median) : 0);
		if (r->lost)
			fprintf(f, " %" PRIu64 " lost", r->lost);
		fprintf(f, "\n");
	}
	fprintf(f, "\n");
}

static void md_codec(FILE *f, const results *res)
{
	fprintf(f, "Components, one thread, 64-byte messages (median of %u runs):\n\n",
		res->codec[0].runs);
	md_header(f, "| component | ns/msg | min | max | msgs/s |", 1);
	for (unsigned i = 0; i < res->ncodec; i++) {
		const codec_row *c = &res->codec[i];
		fprintf(f, "| %s | %.2f | %.2f | %.2f | %.1fM |\n", c->label, c->median, c->min, c->max,
			1e3 / c->median);
	}
	fprintf(f, "\n");
}

void report_markdown(FILE *f, const char *command, const bench_opts *o, const machine_info *m,
		     const results *res, bool targets)
{
	char pin[200];
	pinning_text(o, pin, sizeof pin);
	fprintf(f, "\n## hermes-bench %s%s\n\n", command, o->quick ? " (quick)" : "");
	fprintf(f,
		"Machine: %s, %ld cores, %s; load average %.2f and CPUs %.0f%% busy just before "
		"the run, load average %.2f at its end (the bench itself keeps 2 to 5 processes busy). CPU "
		"pinning: %s.%s\n\n",
		m->cpu, m->cores, m->kernel, m->load1, m->busy_pct, m->load1_after, pin,
		o->rt_prio > 0 ? " Workers asked for SCHED_FIFO." : "");
	if (res->spin_note[0])
		fprintf(f, "%s\n\n", res->spin_note);
	if (res->nlat)
		md_latency(f, res);
	if (res->ntp)
		md_throughput(f, res);
	if (res->ncodec)
		md_codec(f, res);
	if (res->bridge_skipped)
		fprintf(f, "Bridge: %s\n\n", res->bridge_note);
	if (targets) {
		fprintf(f, "Targets (reported, never asserted):\n\n");
		report_targets(f, res, true);
		fprintf(f, "\n");
	}
}

/* ---- JSON ---- */

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* Row i of an array opens: a comma before all but the first, a line each. */
static void json_row(FILE *f, unsigned i)
{
	fprintf(f, "%s\n    {", i ? "," : "");
}

/* A skipped row's reason, and the row's end. */
static void json_skipped_end(FILE *f, const char *note)
{
	fprintf(f, ", \"skipped\": ");
	json_string(f, note);
	fprintf(f, "}");
}

/* The "latency" array's rows. */
static void json_latency(FILE *f, const results *res)
{
	for (unsigned i = 0; i < res->nlat; i++) {
		const lat_result *r = &res->lat[i];
		json_row(f, i);
		fprintf(f, "\"transport\": \"%s\", \"wait\": \"%s\", \"size\": %u", r->transport, r->wait,
			r->size);
		if (r->skipped) {
			json_skipped_end(f, r->note);
			continue;
		}
		fprintf(f, ", \"metric\": \"round_trip_ns\", \"runs\": %u, \"count\": %" PRIu64,
			r->runs, r->count);
		for (int k = 0; k < LAT_NPCT; k++)
			fprintf(f,
				", \"%s\": {\"median\": %" PRIu64 ", \"min\": %" PRIu64
				", \"max\": %" PRIu64 "}",
				lat_pct_names[k], r->med[k], r->lo[k], r->hi[k]);
		fprintf(f, ", \"mean\": %.1f, \"budget_hit\": %s}", r->mean,
			r->partial ? "true" : "false");
	}
}

/* The "throughput" array's rows. */
static void json_throughput(FILE *f, const results *res)
{
	for (unsigned i = 0; i < res->ntp; i++) {
		const tp_result *r = &res->tp[i];
		json_row(f, i);
		fprintf(f, "\"transport\": \"%s\", \"topology\": \"%s\", \"size\": %u, \"batch\": %u",
			r->transport, topo_name(r->topo), r->size, r->batch);
		if (r->skipped) {
			json_skipped_end(f, r->note);
			continue;
		}
		fprintf(f,
			", \"runs\": %u, \"seconds\": %.3f, \"msgs_per_s\": {\"median\": %.0f, "
			"\"min\": %.0f, \"max\": %.0f}, \"mb_per_s\": %.1f, \"lost\": %" PRIu64 "}",
			r->runs, r->seconds, r->median, r->min, r->max, r->median * r->size / 1e6,
			r->lost);
	}
}

/* The "components" array's rows. */
static void json_codec(FILE *f, const results *res)
{
	for (unsigned i = 0; i < res->ncodec; i++) {
		const codec_row *c = &res->codec[i];
		json_row(f, i);
		fprintf(f,
			"\"name\": \"%s\", \"ns_per_msg\": {\"median\": %.3f, \"min\": %.3f, "
			"\"max\": %.3f}, \"msgs_per_s\": %.0f",
			c->key, c->median, c->min, c->max, 1e9 / c->median);
		if (c->goal_ns > 0)
			fprintf(f, ", \"goal_ns\": %.1f, \"goal_met\": %s", c->goal_ns,
				c->median <= c->goal_ns ? "true" : "false");
		fprintf(f, "}");
	}
}

/* The "targets" member. */
static void json_targets(FILE *f, const results *res)
{
	target t[MAX_TARGETS];
	unsigned n = build_targets(res, t);
	fprintf(f, ",\n  \"targets\": [");
	for (unsigned i = 0; i < n; i++) {
		json_row(f, i);
		fprintf(f, "\"group\": %s, \"target\": ", t[i].group);
		json_string(f, t[i].what);
		fprintf(f, ", \"status\": \"%s\"", t_status(&t[i]));
		if (t[i].have) {
			fprintf(f, ", \"ratio\": %.4f, \"measured\": ", t[i].value);
			json_string(f, t[i].measured);
		}
		fprintf(f, "}");
	}
	fprintf(f, "\n  ]");
}

void report_json(const char *command, const bench_opts *o, const machine_info *m,
		 const results *res, bool targets)
{
	FILE *f = stdout;
	fprintf(f, "{\n  \"command\": ");
	json_string(f, command);
	fprintf(f, ",\n  \"quick\": %s,\n  \"machine\": {\"cpu\": ", o->quick ? "true" : "false");
	json_string(f, m->cpu);
	fprintf(f, ", \"cores\": %ld, \"kernel\": ", m->cores);
	json_string(f, m->kernel);
	fprintf(f,
		", \"load1\": %.2f, \"load1_after\": %.2f, \"busy_before_pct\": %.1f},\n  "
		"\"cpu_pinning\": [",
		m->load1, m->load1_after, m->busy_pct);
	for (unsigned i = 0; i < o->ncpus; i++)
		fprintf(f, "%s%d", i ? ", " : "", o->cpus[i]);
	fprintf(f, "],\n  \"latency\": [");
	json_latency(f, res);
	fprintf(f, "%s],\n  \"throughput\": [", res->nlat ? "\n  " : "");
	json_throughput(f, res);
	fprintf(f, "%s],\n  \"components\": [", res->ntp ? "\n  " : "");
	json_codec(f, res);
	fprintf(f, "%s]", res->ncodec ? "\n  " : "");
	if (res->bridge_skipped) {
		fprintf(f, ",\n  \"bridge\": ");
		json_string(f, res->bridge_note);
	}
	if (targets)
		json_targets(f, res);
	fprintf(f, "\n}\n");
}

/* ---- files ---- */

/* Open a file the report writes; NULL after saying why. */
static FILE *out_open(const char *path, const char *mode)
{
	FILE *f = fopen(path, mode);
	if (!f)
		say_error("%s: %s", path, strerror(errno));
	return f;
}

/* Close it: 0, or -1 after saying that writing it failed. */
static int out_close(FILE *f, const char *path)
{
	bool ok = !ferror(f);
	if (fclose(f) != 0 || !ok) {
		say_error("writing %s failed", path);
		return -1;
	}
	return 0;
}

/* The latency rows with a distribution to show. */
static bool lat_has_hist(const lat_result *r)
{
	return !r->skipped && r->merged && r->merged->total;
}

/* ---- CSV ---- */

static void csv_note(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

FILE *report_csv_open(const char *path, bool append)
{
	FILE *f = out_open(path, append ? "ae" : "we");
	if (f && ftell(f) == 0)
		fprintf(f, "command,kind,transport,wait,topology,size,batch,runs,count,p50_ns,p90_ns,"
			   "p99_ns,p99_9_ns,p99_99_ns,max_ns,mean_ns,p50_min_ns,p50_max_ns,p99_min_ns,"
			   "p99_max_ns,msgs_per_s_median,msgs_per_s_min,msgs_per_s_max,"
			   "mb_per_s_median,lost,ns_per_msg_median,ns_per_msg_min,ns_per_msg_max,"
			   "note\n");
	return f;
}

int report_csv(const char *path, const char *command, const results *res, bool append)
{
	FILE *f = report_csv_open(path, append);
	if (!f)
		return -1;
	for (unsigned i = 0; i < res->nlat; i++) {
		const lat_result *r = &res->lat[i];
		if (r->skipped) {
			fprintf(f, "%s,latency,%s,%s,1-1,%u,,,,,,,,,,,,,,,,,,,,,,,", command,
				r->transport, r->wait, r->size);
			csv_note(f, r->note);
			fputc('\n', f);
			continue;
		}
		fprintf(f,
			"%s,latency,%s,%s,1-1,%u,,%u,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
			",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.1f,%" PRIu64 ",%" PRIu64 ",%" PRIu64
			",%" PRIu64 ",,,,,,,,,%s\n",
			command, r->transport, r->wait, r->size, r->runs, r->count, r->med[P50],
			r->med[P90], r->med[P99], r->med[P999], r->med[P9999], r->med[PMAX], r->mean,
			r->lo[P50], r->hi[P50], r->lo[P99], r->hi[P99],
			r->partial ? "\"time budget hit\"" : "");
	}
	for (unsigned i = 0; i < res->ntp; i++) {
		const tp_result *r = &res->tp[i];
		if (r->skipped) {
			fprintf(f, "%s,throughput,%s,,%s,%u,%u,,,,,,,,,,,,,,,,,,,,,,", command,
				r->transport, topo_name(r->topo), r->size, r->batch);
			csv_note(f, r->note);
			fputc('\n', f);
			continue;
		}
		fprintf(f,
			"%s,throughput,%s,,%s,%u,%u,%u,,,,,,,,,,,,,%.0f,%.0f,%.0f,%.1f,%" PRIu64
			",,,,\n",
			command, r->transport, topo_name(r->topo), r->size, r->batch, r->runs,
			r->median, r->min, r->max, r->median * r->size / 1e6, r->lost);
	}
	for (unsigned i = 0; i < res->ncodec; i++) {
		const codec_row *c = &res->codec[i];
		fprintf(f, "%s,component,%s,,,64,,%u,,,,,,,,,,,,,%.0f,,,,,%.3f,%.3f,%.3f,\n", command,
			c->key, c->runs, 1e9 / c->median, c->median, c->min, c->max);
	}
	if (res->bridge_skipped) {
		fprintf(f, "%s,bridge,bridge,,,,,,,,,,,,,,,,,,,,,,,,,,", command);
		csv_note(f, res->bridge_note);
		fputc('\n', f);
	}
	return out_close(f, path);
}

/* ---- percentile distributions and the chart ---- */

int report_hist(const char *path, const results *res)
{
	FILE *f = out_open(path, "we");
	if (!f)
		return -1;
	for (unsigned i = 0; i < res->nlat; i++) {
		const lat_result *r = &res->lat[i];
		if (!lat_has_hist(r))
			continue;
		fprintf(f,
			"# hermes-bench latency: transport=%s wait=%s size=%u unit=us (round trip), "
			"%u run%s merged\n",
			r->transport, r->wait, r->size, r->runs, r->runs == 1 ? "" : "s");
		hm_hist_print_percentiles(r->merged, f, 5, 1000.0);
		fprintf(f, "\n\n");
	}
	return out_close(f, path);
}

int report_plot(const char *dir, const results *res)
{
	char gnuplot[512];
	if (find_executable("gnuplot", gnuplot, sizeof gnuplot) != 0)
		return 1;
	char script[4200];
	snprintf(script, sizeof script, "%s/latency.gp", dir);
	FILE *f = out_open(script, "we");
	if (!f)
		return -1;
	/* Names relative to the directory, where gnuplot runs: the script
	 * stays valid when the directory moves (bench/results in the repo). */
	uint32_t size = res->nlat ? res->lat[0].size : 64;
	fprintf(f,
		"# Latency percentile curves written by hermes-bench; in this directory run:\n"
		"#   gnuplot latency.gp\n"
		"set terminal png size 1280,800 noenhanced\n"
		"set output 'latency.png'\n"
		"set title 'Round trip of a %u-byte message between two processes (hermes-bench)'\n"
		"set logscale x\nset logscale y\nset grid xtics ytics mytics\n"
		"set xlabel 'percentile'\nset ylabel 'round trip (microseconds)'\n"
		"set format y '%%g'\n"
		/* Tic labels are format strings to gnuplot: %%%% is a percent sign. */
		"set xtics ('0%%%%' 1, '50%%%%' 2, '90%%%%' 10, '99%%%%' 100, '99.9%%%%' 1000, "
		"'99.99%%%%' 10000, '99.999%%%%' 100000, '99.9999%%%%' 1000000)\n"
		"set key outside right top\n"
		"plot",
		size);
	unsigned idx = 0;
	for (unsigned i = 0; i < res->nlat; i++) {
		const lat_result *r = &res->lat[i];
		if (!lat_has_hist(r))
			continue;
		/* Column 4 is 1/(1-percentile); the last row has none and is
		 * skipped by gnuplot. Its default palette repeats after eight
		 * lines: name a colour per curve, shared memory solid, the rest
		 * dashed. */
		static const char *const colours[] = {
			"#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628",
			"#f781bf", "#999999", "#1b9e77", "#d95f02", "#7570b3", "#e7298a",
			"#66a61e", "#e6ab02", "#000000", "#17becf"};
		bool shm = !strcmp(r->transport, "hermes") || !strcmp(r->transport, "bare-ring");
		fprintf(f,
			"%s \\\n  'latency.hgrm' index %u using 4:1 with lines lw 2 dt %d "
			"lc rgb '%s' title '%s %s'",
			idx ? "," : "", idx, shm ? 1 : 2, colours[idx % 16], r->transport, r->wait);
		idx++;
	}
	fprintf(f, "\n");
	if (out_close(f, script) != 0)
		return -1;
	if (!idx)
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (chdir(dir) != 0)
			_exit(127);
		execl(gnuplot, "gnuplot", "latency.gp", (char *)NULL);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		say_error("gnuplot %s failed", script);
		return -1;
	}
	return 0;
}
