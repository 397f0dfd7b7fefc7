/* The read-only commands: list, inspect, clients, watch. Each attaches with
 * a PROT_READ mapping, takes snapshots (ctl_snap.c) and renders them as text
 * or JSON; none of them needs hermesd except for the connected-clients part
 * of `clients`. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/proc.h"
#include "shm/control.h"
#include "shm/segment.h"
#include "tools/ctl.h"
#include "tools/ctl_fmt.h"
#include "tools/ctl_names.h"
#include "tools/ctl_snap.h"
#include "tools/json.h"

#define DEFAULT_LIST_INTERVAL_MS 200
#define DEFAULT_WATCH_INTERVAL_MS 1000
#define MAX_INTERVAL_MS 3600000u

static ctl_snap *snap_new(void)
{
	ctl_snap *s = calloc(1, sizeof *s);
	if (!s)
		ctl_error("out of memory");
	return s;
}

/* Attach read-only and allocate n snapshots into s[]. Returns the exit
 * status: 0 when attached with every snapshot allocated. */
static int attach_snaps(const ctl_ctx *ctx, hermes_bus **bus, ctl_snap **s, unsigned n)
{
	int r = ctl_attach(ctx, true, bus);
	if (r != 0)
		return r;
	bool ok = true;
	for (unsigned i = 0; i < n; i++)
		ok &= (s[i] = snap_new()) != NULL;
	if (ok)
		return CTL_EXIT_OK;
	for (unsigned i = 0; i < n; i++)
		free(s[i]);
	hermes_bus_detach(*bus);
	return CTL_EXIT_ERR;
}

/* The first line of every text view. */
static void print_bus_line(FILE *f, const ctl_snap *s)
{
	char size[32], sup[160];
	fprintf(f, "bus '%s': %s (%s), %s\n", s->bus, s->path,
		fmt_bytes(size, sizeof size, (double)s->segment_size),
		ctl_sup_describe(&s->sup, sup, sizeof sup));
}

/* Rings that failed validation: one line each, after the table. */
static void print_corrupt(FILE *f, const ctl_snap *s)
{
	for (unsigned i = 0; i < s->ncorrupt; i++)
		fprintf(f, "CORRUPT ring %u '%s': %s (quarantined by hermesd)\n",
			s->corrupt[i].index, s->corrupt[i].name, s->corrupt[i].why);
}

static void json_corrupt(json_w *w, const ctl_snap *s)
{
	json_karr_begin(w, "corrupt");
	for (unsigned i = 0; i < s->ncorrupt; i++) {
		json_obj_begin(w);
		json_ku64(w, "index", s->corrupt[i].index);
		json_kstr(w, "name", s->corrupt[i].name);
		json_kstr(w, "error", s->corrupt[i].why);
		json_obj_end(w);
	}
	json_arr_end(w);
}

static const char *sup_state_name(ctl_sup_state st)
{
	static const char *const n[] = {[CTL_SUP_UP] = "up", [CTL_SUP_NEVER] = "none",
					[CTL_SUP_GONE] = "gone", [CTL_SUP_STALLED] = "stalled"};
	return FMT_NAME_OF(st, n);
}

/* A document about the bus of snapshot s: its object opened, with the bus
 * and its supervisor. */
static void json_bus(json_w *w, const char *schema, const ctl_snap *s)
{
	json_doc_begin(w, schema, s->bus);
	json_kstr(w, "segment", s->path);
	json_ku64(w, "segment_size_bytes", s->segment_size);
	json_ku64s(w, "created_unix_ns", s->created_ns);
	json_kobj_begin(w, "supervisor");
	json_kbool(w, "up", s->sup.state == CTL_SUP_UP);
	json_kstr(w, "state", sup_state_name(s->sup.state));
	json_ki64_or_null(w, "pid", s->sup.state != CTL_SUP_NEVER, s->sup.pid);
	json_ku64_or_null(w, "heartbeat_age_ms", s->sup.heartbeat_age_ns != UINT64_MAX,
			  s->sup.heartbeat_age_ns / 1000000u);
	json_kstr(w, "control_path", s->sup.control_path[0] ? s->sup.control_path : NULL);
	json_obj_end(w);
}

static void json_ring_fields(json_w *w, const ctl_ring *r)
{
	json_kstr(w, "name", r->name);
	json_kstr(w, "policy", ctl_policy_name(r->policy));
	json_ku64(w, "capacity_bytes", r->capacity);
	json_ku64(w, "max_msg_bytes", r->max_msg);
	json_ku64(w, "slots", r->slots);
	json_ku64s(w, "created_unix_ns", r->created_ns);
	json_ku64(w, "messages", r->tail_seq);
	json_ku64(w, "bytes", r->tail_pos);
	json_ku64(w, "fill_bytes", r->fill_bytes);
	json_ku64(w, "fill_messages", r->fill_msgs);
	json_kdouble(w, "fill_ratio", r->fill_ratio, 6);
	json_ku64(w, "producers", r->nprods);
	json_ku64(w, "subscribers", r->nsubs);
	json_ku64(w, "lost_messages", r->lost);
	json_ku64(w, "skipped_messages", r->skipped);
	json_ku64(w, "repairs", r->repairs);
	json_ku64(w, "repaired_messages", r->repaired_msgs);
	json_ku64(w, "dead_subscribers_released", r->dead_subs);
	json_ku64(w, "limit_scans", r->limit_scans);
	json_ku64(w, "waiters", r->waiters);
	json_ku64(w, "corrupt_records", r->corrupt);
}

static void json_owner(json_w *w, const ctl_owner *o)
{
	json_ku64(w, "slot", o->slot);
	json_ki64(w, "pid", o->pid);
	json_kstr(w, "comm", o->comm);
	json_kstr(w, "client", o->named ? o->app : NULL);
	json_kstr(w, "instance", o->named ? o->instance : NULL);
	json_kbool(w, "alive", o->alive);
}

/* Messages and bytes per second between two snapshots of the same ring;
 * negative when there is no earlier sample. */
static void ring_rates(const ctl_snap *prev, const ctl_snap *cur, const ctl_ring *r, double *mps,
		       double *bps)
{
	*mps = *bps = -1;
	const ctl_ring *p = prev ? ctl_snap_same_ring(prev, r) : NULL;
	if (!p || cur->taken_ns <= prev->taken_ns)
		return;
	double dt = (double)(cur->taken_ns - prev->taken_ns) / 1e9;
	*mps = (double)(r->tail_seq - p->tail_seq) / dt;
	*bps = (double)(r->tail_pos - p->tail_pos) / dt;
}

static const char *fmt_rate_count(char *buf, size_t len, double v)
{
	return v < 0 ? "-" : fmt_count(buf, len, v);
}

static const char *fmt_rate_bytes(char *buf, size_t len, double v)
{
	if (v < 0)
		return "-";
	fmt_bytes(buf, len, v);
	size_t n = strlen(buf);
	snprintf(buf + n, len - n, "/s");
	return buf;
}

static const char *u64s(char *buf, size_t len, uint64_t v)
{
	snprintf(buf, len, "%llu", (unsigned long long)v);
	return buf;
}

/* ---- list ------------------------------------------------------------------ */

/* list --json: the bus, then each ring with its rates (null without an
 * interval). */
static void list_json(const ctl_snap *prev, const ctl_snap *cur, uint64_t interval)
{
	json_w w;
	json_bus(&w, "hermes-ctl.list/1", cur);
	json_ku64_or_null(&w, "interval_ms", prev != NULL, interval);
	json_karr_begin(&w, "rings");
	for (unsigned i = 0; i < cur->nrings; i++) {
		const ctl_ring *ring = &cur->rings[i];
		double mps, bps;
		ring_rates(prev, cur, ring, &mps, &bps);
		json_obj_begin(&w);
		json_ring_fields(&w, ring);
		json_kdouble(&w, "messages_per_sec", mps < 0 ? NAN : mps, 3);
		json_kdouble(&w, "bytes_per_sec", bps < 0 ? NAN : bps, 3);
		json_obj_end(&w);
	}
	json_arr_end(&w);
	json_corrupt(&w, cur);
	json_doc_end(&w);
}

/* The rings table of `hermes-ctl list`. */
static void list_table(const ctl_snap *prev, const ctl_snap *cur)
{
	table t;
	table_init(&t, "llrrrrrrrrrr");
	table_row(&t, "RING", "POLICY", "CAPACITY", "FILL", "FILL%", "PRODUCERS", "SUBSCRIBERS",
		  "MESSAGES", "MSG/S", "BYTES/S", "LOST", "REPAIRS");
	for (unsigned i = 0; i < cur->nrings; i++) {
		const ctl_ring *ring = &cur->rings[i];
		char cap[32], fill[32], pct[16], np[16], ns[16], msgs[32], mr[32], br[32], lost[32],
			rep[32];
		double mps, bps;
		ring_rates(prev, cur, ring, &mps, &bps);
		snprintf(pct, sizeof pct, "%.1f%%", ring->fill_ratio * 100.0);
		table_row(&t, ring->name, ctl_policy_name(ring->policy),
			  fmt_bytes(cap, sizeof cap, (double)ring->capacity),
			  fmt_bytes(fill, sizeof fill, (double)ring->fill_bytes), pct,
			  u64s(np, sizeof np, ring->nprods), u64s(ns, sizeof ns, ring->nsubs),
			  u64s(msgs, sizeof msgs, ring->tail_seq), fmt_rate_count(mr, sizeof mr, mps),
			  fmt_rate_bytes(br, sizeof br, bps), u64s(lost, sizeof lost, ring->lost),
			  u64s(rep, sizeof rep, ring->repairs));
	}
	table_flush(&t, stdout, 0, 0);
}

/* list as text: the bus line, the rings, corrupt entries, gateways. */
static void list_text(const ctl_ctx *ctx, const ctl_snap *prev, const ctl_snap *cur)
{
	print_bus_line(stdout, cur);
	if (cur->nrings == 0 && cur->ncorrupt == 0)
		printf("no rings (hermes-ctl create RING --capacity SIZE adds one)\n");
	else
		list_table(prev, cur);
	print_corrupt(stdout, cur);
	ctl_gw_summary(ctx, stdout);
}

int cmd_list(ctl_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"interval", required_argument, NULL, 'i'},
		CTL_COMMON_OPTIONS,
		{0},
	};
	uint64_t interval = DEFAULT_LIST_INTERVAL_MS;
	int c, r;
	while ((c = getopt_long(argc, argv, CTL_COMMON_SHORT "i:", opts, NULL)) != -1) {
		if (c == 'i') {
			if (!parse_u64(optarg, MAX_INTERVAL_MS, &interval))
				return ctl_usage_error(ctx, "--interval wants milliseconds, not '%s'", optarg);
		} else if ((r = ctl_common_option(ctx, c, argv)) >= 0) {
			return r;
		}
	}
	if ((r = ctl_operands(ctx, argc, argv, 0, NULL)) >= 0)
		return r;

	hermes_bus *bus;
	ctl_snap *snaps[2];
	if ((r = attach_snaps(ctx, &bus, snaps, 2)) != 0)
		return r;
	ctl_snap *a = snaps[0], *b = snaps[1];
	ctl_snap *prev = NULL, *cur = a;
	if (interval > 0) {
		ctl_snap_take(bus, a, false);
		ctl_nap((int)interval);
		prev = a;
		cur = b;
	}
	ctl_snap_take(bus, cur, true);
	hermes_bus_detach(bus);
	if (ctx->json)
		list_json(prev, cur, interval);
	else
		list_text(ctx, prev, cur);
	free(a);
	free(b);
	return ctl_flush(NULL);
}

/* ---- inspect --------------------------------------------------------------- */

static int ring_not_found(const ctl_ctx *ctx, const ctl_snap *s, const char *name)
{
	char names[512] = "";
	size_t used = 0;
	for (unsigned i = 0; i < s->nrings && used < sizeof names; i++)
		used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "",
					 s->rings[i].name);
	ctl_error("bus '%s': no ring '%s' (%s%s); 'hermes-ctl list' shows the rings, 'hermes-ctl "
		  "create' makes one",
		  ctx->bus, name, s->nrings ? "rings: " : "the bus has no rings", names);
	return CTL_EXIT_ERR;
}

static void inspect_text(const ctl_snap *s, const ctl_ring *r)
{
	char a[32], b[32], c[32];
	print_bus_line(stdout, s);
	printf("ring '%s': %s, capacity %s, max message %s, %llu slots\n", r->name,
	       ctl_policy_name(r->policy), fmt_bytes(a, sizeof a, (double)r->capacity),
	       fmt_bytes(b, sizeof b, (double)r->max_msg), (unsigned long long)r->slots);
	if (r->tail_seq)
		printf("  last sequence %llu; tail at sequence %llu, byte position %llu\n",
		       (unsigned long long)(r->tail_seq - 1), (unsigned long long)r->tail_seq,
		       (unsigned long long)r->tail_pos);
	else
		printf("  no message yet; tail at sequence 0, byte position %llu\n",
		       (unsigned long long)r->tail_pos);
	printf("  fill %s (%.1f%%): %llu message(s) held back by the slowest subscriber\n",
	       fmt_bytes(c, sizeof c, (double)r->fill_bytes), r->fill_ratio * 100.0,
	       (unsigned long long)r->fill_msgs);
	printf("  repairs %llu (%llu message(s)), dead subscribers released %llu, limit scans "
	       "%llu, sleeping waiters %u, corrupt records %llu%s\n",
	       (unsigned long long)r->repairs, (unsigned long long)r->repaired_msgs,
	       (unsigned long long)r->dead_subs, (unsigned long long)r->limit_scans, r->waiters,
	       (unsigned long long)r->corrupt,
	       r->deleted ? ", DELETED" : "");

	printf("producers: %u\n", r->nprods);
	if (r->nprods) {
		table t;
		table_init(&t, "rrlllrrrr");
		table_row(&t, "SLOT", "PID", "NAME", "ALIVE", "CLAIMING", "MESSAGES", "BYTES",
			  "FULL", "ABORTS");
		for (unsigned i = 0; i < r->nprods; i++) {
			const ctl_prod *p = &r->prods[i];
			char slot[16], pid[16], claim[48], msgs[32], bytes[32], full[32], ab[32],
				who[HM_APP_NAME_SIZE + HM_APP_INSTANCE_SIZE];
			if (p->active)
				snprintf(claim, sizeof claim, "seq %llu x%u",
					 (unsigned long long)p->intent_seq, p->intent_count);
			else
				snprintf(claim, sizeof claim, "no");
			table_row(&t, u64s(slot, sizeof slot, p->o.slot),
				  u64s(pid, sizeof pid, (uint64_t)p->o.pid),
				  ctl_owner_label(&p->o, who, sizeof who),
				  p->o.alive ? "yes" : "NO", claim,
				  u64s(msgs, sizeof msgs, p->msgs),
				  fmt_bytes(bytes, sizeof bytes, (double)p->bytes),
				  u64s(full, sizeof full, p->full_events),
				  u64s(ab, sizeof ab, p->aborts));
		}
		table_flush(&t, stdout, 2, 0);
	}
	printf("subscribers: %u\n", r->nsubs);
	if (r->nsubs) {
		table t;
		table_init(&t, "rrllrrrllrrrr");
		table_row(&t, "SLOT", "PID", "NAME", "ALIVE", "NEXT_SEQ", "LAG_MSGS", "LAG_BYTES",
			  "WAIT", "SLEEPING", "MESSAGES", "BYTES", "LOST", "SKIPPED");
		for (unsigned i = 0; i < r->nsubs; i++) {
			const ctl_sub *s2 = &r->subs[i];
			char slot[16], pid[16], seq[32], lm[32], lb[32], msgs[32], bytes[32],
				lost[32], sk[32], who[HM_APP_NAME_SIZE + HM_APP_INSTANCE_SIZE];
			table_row(&t, u64s(slot, sizeof slot, s2->o.slot),
				  u64s(pid, sizeof pid, (uint64_t)s2->o.pid),
				  ctl_owner_label(&s2->o, who, sizeof who),
				  s2->orphaned ? "durable, orphaned" : s2->o.alive ? "yes" : "NO",
				  u64s(seq, sizeof seq, s2->seq),
				  u64s(lm, sizeof lm, s2->lag_msgs),
				  fmt_bytes(lb, sizeof lb, (double)s2->lag_bytes),
				  ctl_wait_mode_name(s2->wait_mode), s2->sleeping ? "yes" : "no",
				  u64s(msgs, sizeof msgs, s2->msgs),
				  fmt_bytes(bytes, sizeof bytes, (double)s2->bytes),
				  u64s(lost, sizeof lost, s2->lost), u64s(sk, sizeof sk, s2->skipped));
		}
		table_flush(&t, stdout, 2, 0);
	}
}

/* The plain counters of inspect's ring, producer and subscriber objects. */
#define RF(f) offsetof(ctl_ring, f)
static const json_u64_field ring_positions[] = {
	{"tail_seq", RF(tail_seq)}, {"tail_pos", RF(tail_pos)}, {"limit_pos", RF(limit)},
	{"limit_seq", RF(seq_limit)},
};
#undef RF
#define PF(f) offsetof(ctl_prod, f)
static const json_u64_field prod_counters[] = {
	{"messages", PF(msgs)}, {"bytes", PF(bytes)}, {"full_events", PF(full_events)},
	{"aborts", PF(aborts)},
};
#undef PF
#define SF(f) offsetof(ctl_sub, f)
static const json_u64_field sub_cursor[] = {
	{"next_seq", SF(seq)}, {"pos", SF(pos)}, {"lag_messages", SF(lag_msgs)},
	{"lag_bytes", SF(lag_bytes)},
};
static const json_u64_field sub_counters[] = {
	{"messages", SF(msgs)}, {"bytes", SF(bytes)}, {"lost_messages", SF(lost)},
	{"skipped_messages", SF(skipped)},
};
#undef SF

static void json_prod(json_w *w, const ctl_prod *p)
{
	json_obj_begin(w);
	json_owner(w, &p->o);
	json_kbool(w, "claiming", p->active);
	json_ku64_or_null(w, "claim_seq", p->active, p->intent_seq);
	json_ku64_or_null(w, "claim_count", p->active, p->intent_count);
	JSON_KU64_TABLE(w, p, prod_counters);
	json_obj_end(w);
}

static void json_sub(json_w *w, const ctl_sub *sb)
{
	json_obj_begin(w);
	json_owner(w, &sb->o);
	JSON_KU64_TABLE(w, sb, sub_cursor);
	json_kstr(w, "wait_mode", ctl_wait_mode_name(sb->wait_mode));
	json_kbool(w, "sleeping", sb->sleeping);
	JSON_KU64_TABLE(w, sb, sub_counters);
	json_obj_end(w);
}

static void inspect_json(const ctl_snap *s, const ctl_ring *r)
{
	json_w w;
	json_bus(&w, "hermes-ctl.inspect/1", s);
	json_kobj_begin(&w, "ring");
	json_ring_fields(&w, r);
	json_ku64_or_null(&w, "last_seq", r->tail_seq != 0, r->tail_seq - 1);
	JSON_KU64_TABLE(&w, r, ring_positions);
	json_kbool(&w, "deleted", r->deleted);
	json_obj_end(&w);
	json_karr_begin(&w, "producers");
	for (unsigned i = 0; i < r->nprods; i++)
		json_prod(&w, &r->prods[i]);
	json_arr_end(&w);
	json_karr_begin(&w, "subscribers");
	for (unsigned i = 0; i < r->nsubs; i++)
		json_sub(&w, &r->subs[i]);
	json_arr_end(&w);
	json_doc_end(&w);
}

int cmd_inspect(ctl_ctx *ctx, int argc, char **argv)
{
	int r = ctl_common_options_only(ctx, argc, argv, 1,
					"which ring? (hermes-ctl inspect RING)");
	if (r >= 0)
		return r;
	const char *name = argv[optind];

	hermes_bus *bus;
	ctl_snap *s;
	if ((r = attach_snaps(ctx, &bus, &s, 1)) != 0)
		return r;
	ctl_snap_take(bus, s, true);
	ctl_names_snap(ctx, bus, s);
	hermes_bus_detach(bus);
	const ctl_ring *ring = ctl_snap_ring(s, name);
	const ctl_corrupt *bad = ring ? NULL : ctl_snap_corrupt(s, name);
	if (bad) {
		ctl_error("%s; hermesd quarantines it (no repairs, opens refused)", bad->why);
		free(s);
		return CTL_EXIT_ERR;
	}
	if (!ring) {
		r = ring_not_found(ctx, s, name);
		free(s);
		return r;
	}
	if (ctx->json)
		inspect_json(s, ring);
	else
		inspect_text(s, ring);
	free(s);
	return ctl_flush(NULL);
}

/* ---- clients --------------------------------------------------------------- */

typedef struct hold {
	char ring[HM_NAME_MAX];
	bool producer;
	uint32_t slot;
} hold;

typedef struct client {
	pid_t pid;
	bool alive, connected, have_uid;
	uint32_t uid;
	uint64_t since_ns;
	char comm[17];
	bool named; /* hermesd told its application name (and instance) */
	char app[HM_APP_NAME_SIZE], instance[HM_APP_INSTANCE_SIZE];
	unsigned nholds, cap;
	hold *holds;
} client;

typedef struct clients {
	unsigned n, cap;
	client *v;
} clients;

static client *client_get(clients *cs, pid_t pid)
{
	for (unsigned i = 0; i < cs->n; i++)
		if (cs->v[i].pid == pid)
			return &cs->v[i];
	if (cs->n == cs->cap) {
		unsigned cap = cs->cap ? cs->cap * 2 : 16;
		void *p = realloc(cs->v, cap * sizeof *cs->v);
		if (!p)
			return NULL;
		cs->v = p;
		cs->cap = cap;
	}
	client *c = &cs->v[cs->n++];
	memset(c, 0, sizeof *c);
	c->pid = pid;
	return c;
}

static void client_hold(client *c, const char *ring, bool producer, uint32_t slot)
{
	if (c->nholds == c->cap) {
		unsigned cap = c->cap ? c->cap * 2 : 4;
		void *p = realloc(c->holds, cap * sizeof *c->holds);
		if (!p)
			return;
		c->holds = p;
		c->cap = cap;
	}
	hold *h = &c->holds[c->nholds++];
	snprintf(h->ring, sizeof h->ring, "%s", ring);
	h->producer = producer;
	h->slot = slot;
}

static void slot_owner(clients *cs, const ctl_owner *o, const char *ring, bool producer)
{
	client *c = client_get(cs, o->pid);
	if (!c)
		return;
	if (!c->comm[0] || !strcmp(c->comm, "?"))
		snprintf(c->comm, sizeof c->comm, "%s", o->comm);
	c->alive = o->alive;
	client_hold(c, ring, producer, o->slot);
}

/* Ask hermesd who is connected. An error, with its detail, when it cannot
 * be asked. */
static hermes_err supervisor_clients(const ctl_ctx *ctx, hermes_bus *bus, clients *cs)
{
	hm_ctl_resp *resp = NULL;
	hermes_err err = ctl_supervisor_ask(ctx, bus, HM_CTL_CLIENTS, &resp);
	if (err)
		return err;
	pid_t self = getpid();
	for (uint32_t i = 0; i < resp->count && i < HM_CTL_MAX_CLIENTS; i++) {
		const hm_ctl_client *k = &resp->u.clients[i];
		if (k->pid == self)
			continue; /* our own question, not a client of the bus */
		client *c = client_get(cs, k->pid);
		if (!c)
			break;
		c->connected = true;
		c->have_uid = true;
		c->uid = k->uid;
		c->since_ns = k->since_realtime_ns;
		c->alive = hm_proc_alive(k->pid, 0);
		memcpy(c->comm, k->comm, sizeof k->comm);
		c->comm[sizeof k->comm] = '\0';
	}
	free(resp);
	return HERMES_OK;
}

static void fmt_since(char *buf, size_t len, uint64_t ns)
{
	time_t t = (time_t)(ns / 1000000000u);
	struct tm tm;
	if (!ns || !localtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, len, "-");
}

/* "events (producer), telemetry (subscriber x2)" */
static void fmt_holds(char *buf, size_t len, const client *c)
{
	size_t used = 0;
	buf[0] = '\0';
	for (unsigned i = 0; i < c->nholds && used < len; i++) {
		const hold *h = &c->holds[i];
		bool seen = false;
		unsigned n = 0;
		for (unsigned j = 0; j < c->nholds; j++) {
			bool same = !strcmp(c->holds[j].ring, h->ring) && c->holds[j].producer == h->producer;
			if (same && j < i)
				seen = true;
			n += same;
		}
		if (seen)
			continue;
		char count[16] = "";
		if (n > 1)
			snprintf(count, sizeof count, " x%u", n);
		used += (size_t)snprintf(buf + used, len - used, "%s%s (%s%s)", used ? ", " : "",
					 h->ring, h->producer ? "producer" : "subscriber", count);
	}
	if (!buf[0])
		snprintf(buf, len, "-");
}

/* Every process that owns a producer or subscriber slot is a client. */
static void clients_from_slots(clients *cs, const ctl_snap *s)
{
	for (unsigned i = 0; i < s->nrings; i++) {
		const ctl_ring *ring = &s->rings[i];
		for (unsigned k = 0; k < ring->nprods; k++)
			slot_owner(cs, &ring->prods[k].o, ring->name, true);
		for (unsigned k = 0; k < ring->nsubs; k++)
			if (!ring->subs[k].orphaned) /* no process: not a client */
				slot_owner(cs, &ring->subs[k].o, ring->name, false);
	}
}

/* Fill in the uid from /proc and the name the client gave hermesd (names is
 * NULL when hermesd did not answer). */
static void clients_complete(clients *cs, const ctl_names *names)
{
	for (unsigned i = 0; i < cs->n; i++) {
		client *k = &cs->v[i];
		struct stat st;
		char proc[32];
		snprintf(proc, sizeof proc, "/proc/%d", (int)k->pid);
		if (!k->have_uid && k->alive && stat(proc, &st) == 0) {
			k->have_uid = true;
			k->uid = (uint32_t)st.st_uid;
		}
		const hm_ctl_label *l = names ? ctl_names_find(names, k->pid) : NULL;
		if (l) {
			k->named = true;
			memcpy(k->app, l->app, sizeof k->app);
			memcpy(k->instance, l->instance, sizeof k->instance);
		}
	}
}

/* One client's object in clients --json. */
static void json_client(json_w *w, const client *k)
{
	json_obj_begin(w);
	json_ki64(w, "pid", k->pid);
	json_kstr(w, "client", k->named ? k->app : NULL);
	json_kstr(w, "instance", k->named ? k->instance : NULL);
	json_kstr(w, "comm", k->comm[0] ? k->comm : "?");
	json_kbool(w, "alive", k->alive);
	json_ku64_or_null(w, "uid", k->have_uid, k->uid);
	json_kbool(w, "connected", k->connected);
	json_ku64s_or_null(w, "connected_since_unix_ns", k->connected, k->since_ns);
	json_karr_begin(w, "holds");
	for (unsigned j = 0; j < k->nholds; j++) {
		json_obj_begin(w);
		json_kstr(w, "ring", k->holds[j].ring);
		json_kstr(w, "role", k->holds[j].producer ? "producer" : "subscriber");
		json_ku64(w, "slot", k->holds[j].slot);
		json_obj_end(w);
	}
	json_arr_end(w);
	json_obj_end(w);
}

static void clients_json(const ctl_snap *s, const clients *cs, bool asked)
{
	json_w w;
	json_bus(&w, "hermes-ctl.clients/1", s);
	json_kbool(&w, "supervisor_answered", asked);
	json_karr_begin(&w, "clients");
	for (unsigned i = 0; i < cs->n; i++)
		json_client(&w, &cs->v[i]);
	json_arr_end(&w);
	json_doc_end(&w);
}

/* clients as text; why says why hermesd was not asked or did not answer. */
static void clients_text(const ctl_snap *s, const clients *cs, bool asked, const char *why)
{
	print_bus_line(stdout, s);
	if (!asked)
		printf("connected clients unknown (%s): showing slot owners only\n", why);
	if (cs->n == 0) {
		printf("no clients\n");
		return;
	}
	table t;
	table_init(&t, "rlllllrll");
	table_row(&t, "PID", "CLIENT", "INSTANCE", "PROCESS", "ALIVE", "CONNECTED", "UID", "SINCE",
		  "HOLDS");
	for (unsigned i = 0; i < cs->n; i++) {
		const client *k = &cs->v[i];
		char pid[16], uid[16], since[32], holds[TABLE_CELL];
		if (k->have_uid)
			snprintf(uid, sizeof uid, "%u", k->uid);
		else
			snprintf(uid, sizeof uid, "-");
		fmt_since(since, sizeof since, k->connected ? k->since_ns : 0);
		fmt_holds(holds, sizeof holds, k);
		table_row(&t, u64s(pid, sizeof pid, (uint64_t)k->pid), k->named ? k->app : "-",
			  k->named && k->instance[0] ? k->instance : "-", k->comm[0] ? k->comm : "?",
			  k->alive ? "yes" : "NO", asked ? (k->connected ? "yes" : "no") : "?", uid,
			  since, holds);
	}
	table_flush(&t, stdout, 0, 0);
}

int cmd_clients(ctl_ctx *ctx, int argc, char **argv)
{
	int r = ctl_common_options_only(ctx, argc, argv, 0, NULL);
	if (r >= 0)
		return r;

	hermes_bus *bus;
	ctl_snap *s;
	if ((r = attach_snaps(ctx, &bus, &s, 1)) != 0)
		return r;
	ctl_snap_take(bus, s, true);
	clients cs = {0};
	char why[384] = "";
	bool asked = false;
	if (s->sup.state == CTL_SUP_UP || (ctx->run_dir && *ctx->run_dir)) {
		asked = supervisor_clients(ctx, bus, &cs) == HERMES_OK;
		if (!asked)
			snprintf(why, sizeof why, "%s", hermes_last_error_detail());
	} else {
		snprintf(why, sizeof why, "supervisor down");
	}
	static ctl_names names;
	if (asked)
		(void)ctl_names_fetch(ctx, bus, &names); /* none: no names shown */
	hermes_bus_detach(bus);
	clients_from_slots(&cs, s);
	clients_complete(&cs, asked ? &names : NULL);
	if (ctx->json)
		clients_json(s, &cs, asked);
	else
		clients_text(s, &cs, asked, why);
	for (unsigned i = 0; i < cs.n; i++)
		free(cs.v[i].holds);
	free(cs.v);
	free(s);
	return ctl_flush(NULL);
}

/* ---- watch ----------------------------------------------------------------- */

#define BAR_WIDTH 20

static void fill_bar(char *buf, double ratio)
{
	int n = (int)(ratio * BAR_WIDTH + 0.5);
	if (n == 0 && ratio > 0)
		n = 1; /* anything held back shows */
	if (n > BAR_WIDTH)
		n = BAR_WIDTH;
	buf[0] = '[';
	for (int i = 0; i < BAR_WIDTH; i++)
		buf[1 + i] = i < n ? '#' : '.';
	buf[BAR_WIDTH + 1] = ']';
	buf[BAR_WIDTH + 2] = '\0';
}

/* One frame into f: the bus line, the rings, the subscribers. */
static void watch_frame(FILE *f, const ctl_ctx *ctx, const ctl_snap *prev, const ctl_snap *cur,
			bool attached, unsigned width)
{
	char now[32];
	time_t t = time(NULL);
	struct tm tm;
	if (!localtime_r(&t, &tm) || !strftime(now, sizeof now, "%H:%M:%S", &tm))
		snprintf(now, sizeof now, "?");
	if (!attached) {
		fprintf(f, "%s  bus '%s': /dev/shm/hermes.%s does not exist (waiting; is hermesd "
			   "running? hermesd --bus %s)\n",
			now, ctx->bus, ctx->bus, ctx->bus);
		return;
	}
	fprintf(f, "%s  ", now);
	print_bus_line(f, cur);
	if (cur->nrings == 0) {
		fprintf(f, "no rings\n");
		return;
	}
	table t2;
	table_init(&t2, "llllrrrrrr");
	table_row(&t2, "RING", "POLICY", "FILL", "", "MSG/S", "BYTES/S", "PRODUCERS", "SUBSCRIBERS",
		  "LOST", "REPAIRS");
	unsigned nsubs = 0;
	for (unsigned i = 0; i < cur->nrings; i++) {
		const ctl_ring *r = &cur->rings[i];
		char bar[BAR_WIDTH + 3], pct[16], mr[32], br[32], np[16], ns[16], lost[32], rep[32];
		double mps, bps;
		ring_rates(prev, cur, r, &mps, &bps);
		fill_bar(bar, r->fill_ratio);
		snprintf(pct, sizeof pct, "%5.1f%%", r->fill_ratio * 100.0);
		table_row(&t2, r->name, ctl_policy_name(r->policy), bar, pct,
			  fmt_rate_count(mr, sizeof mr, mps), fmt_rate_bytes(br, sizeof br, bps),
			  u64s(np, sizeof np, r->nprods), u64s(ns, sizeof ns, r->nsubs),
			  u64s(lost, sizeof lost, r->lost), u64s(rep, sizeof rep, r->repairs));
		nsubs += r->nsubs;
	}
	table_flush(&t2, f, 0, width);
	if (!nsubs)
		return;
	fprintf(f, "\n");
	table_init(&t2, "lrllrrlr");
	table_row(&t2, "SUBSCRIBER OF", "PID", "NAME", "ALIVE", "LAG_MSGS", "LAG_BYTES", "WAIT",
		  "LOST");
	for (unsigned i = 0; i < cur->nrings; i++) {
		const ctl_ring *r = &cur->rings[i];
		for (unsigned k = 0; k < r->nsubs; k++) {
			const ctl_sub *s = &r->subs[k];
			char pid[16], lm[32], lb[32], wait[32], lost[32];
			snprintf(wait, sizeof wait, "%s%s", ctl_wait_mode_name(s->wait_mode),
				 s->sleeping ? " (asleep)" : "");
			table_row(&t2, r->name, u64s(pid, sizeof pid, (uint64_t)s->o.pid), s->o.comm,
				  s->o.alive ? "yes" : "NO", u64s(lm, sizeof lm, s->lag_msgs),
				  fmt_bytes(lb, sizeof lb, (double)s->lag_bytes), wait,
				  u64s(lost, sizeof lost, s->lost));
		}
	}
	table_flush(&t2, f, 0, width);
}

/* Write a frame to the terminal: home the cursor, each line cut to the
 * width (a wrapped line would push the frame off the screen) and cleared to
 * its end, at most `rows` lines, then clear what the last frame left below. */
static void paint(const char *frame, unsigned rows, unsigned width)
{
	fputs("\033[H", stdout);
	unsigned line = 0;
	for (const char *p = frame; *p && line + 1 < rows; line++) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		fwrite(p, 1, width && n > width ? width : n, stdout);
		fputs("\033[K\r\n", stdout);
		p = nl ? nl + 1 : p + n;
	}
	fputs("\033[J", stdout);
}

/* Parse watch's options. Returns -1 to go on, else the exit status. */
static int watch_parse(ctl_ctx *ctx, int argc, char **argv, uint64_t *interval, uint64_t *iterations)
{
	static const struct option opts[] = {
		{"interval", required_argument, NULL, 'i'},
		{"iterations", required_argument, NULL, 'n'},
		CTL_COMMON_OPTIONS,
		{0},
	};
	int c, r;
	while ((c = getopt_long(argc, argv, CTL_COMMON_SHORT "i:n:", opts, NULL)) != -1) {
		if (c == 'i') {
			if (!parse_u64(optarg, MAX_INTERVAL_MS, interval) || *interval < 10)
				return ctl_usage_error(ctx, "--interval wants milliseconds (>= 10), not '%s'",
						       optarg);
		} else if (c == 'n') {
			if (!parse_u64(optarg, UINT32_MAX, iterations) || *iterations == 0)
				return ctl_usage_error(ctx, "--iterations wants a positive count, not '%s'",
						       optarg);
		} else if ((r = ctl_common_option(ctx, c, argv)) >= 0) {
			return r;
		}
	}
	return ctl_operands(ctx, argc, argv, 0, NULL);
}

/* Render one frame and show it: painted over the last one on a terminal,
 * else printed after it. Returns CTL_EXIT_OK or CTL_EXIT_ERR. */
static int watch_show(const ctl_ctx *ctx, const ctl_snap *prev, const ctl_snap *cur, bool attached,
		      bool tty)
{
	char *frame = NULL;
	size_t flen = 0;
	FILE *mf = open_memstream(&frame, &flen);
	if (!mf) {
		ctl_error("out of memory");
		return CTL_EXIT_ERR;
	}
	unsigned width = 0, rows = 0;
	struct winsize ws;
	if (tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0) {
		width = ws.ws_col;
		rows = ws.ws_row;
	}
	watch_frame(mf, ctx, prev, cur, attached, width);
	fclose(mf);
	if (tty)
		paint(frame, rows ? rows : 24, width);
	else
		printf("%s\n", frame);
	free(frame);
	return CTL_EXIT_OK;
}

/* Show a frame every interval until the iterations, a stop signal or a
 * closed pipe. */
static int watch_loop(const ctl_ctx *ctx, ctl_snap *prev, ctl_snap *cur, uint64_t interval,
		      uint64_t iterations, bool tty)
{
	bool have_prev = false, closed = false;
	int status = CTL_EXIT_OK;
	for (uint64_t n = 0; !iterations || n < iterations; n++) {
		if (n > 0 && !ctl_nap((int)interval))
			break;
		/* Attach afresh each time: a hermesd restarted with a new
		 * segment is followed rather than a stale mapping kept. */
		hermes_bus *bus;
		bool attached = hermes_bus_attach_readonly(ctx->bus, &bus) == HERMES_OK;
		if (attached) {
			ctl_snap_take(bus, cur, true);
			hermes_bus_detach(bus);
		}
		if ((status = watch_show(ctx, attached && have_prev ? prev : NULL, cur, attached,
					 tty)) != 0)
			break;
		if ((status = ctl_flush(&closed)) != 0 || closed)
			break;
		if (attached) {
			ctl_snap *t = prev;
			prev = cur;
			cur = t;
		}
		have_prev = attached;
	}
	return status;
}

int cmd_watch(ctl_ctx *ctx, int argc, char **argv)
{
	uint64_t interval = DEFAULT_WATCH_INTERVAL_MS, iterations = 0;
	int r = watch_parse(ctx, argc, argv, &interval, &iterations);
	if (r >= 0)
		return r;
	/* Fail early when the bus is not there at all; later a missing bus
	 * (hermesd restarting) is shown in the frame and watched for. */
	hermes_bus *bus;
	if ((r = ctl_attach(ctx, true, &bus)) != 0)
		return r;
	hermes_bus_detach(bus);

	ctl_snap *a = snap_new(), *b = snap_new();
	if (!a || !b) {
		free(a);
		free(b);
		return CTL_EXIT_ERR;
	}
	ctl_install_signals(true);
	const char *term = getenv("TERM");
	bool tty = isatty(STDOUT_FILENO) && !(term && !strcmp(term, "dumb"));
	if (tty)
		fputs("\033[?1049h\033[?25l", stdout); /* alternate screen, hide cursor */
	int status = watch_loop(ctx, a, b, interval, iterations, tty);
	if (tty) {
		fputs("\033[?25h\033[?1049l", stdout); /* cursor back, main screen back */
		fflush(stdout);
	}
	free(a);
	free(b);
	return status;
}
