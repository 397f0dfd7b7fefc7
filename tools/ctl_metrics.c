/* `hermes-ctl metrics`: every counter of a bus in the Prometheus text
 * exposition format (version 0.0.4), printed once or served over HTTP on a
 * loopback address for a scraper.
 *
 * The metric families are a table: each names its level (bus, ring,
 * producer slot, subscriber slot) and which snapshot field it shows, so the
 * HELP/TYPE lines and the samples of a family always come out together, as
 * the format requires. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hermes/hermes.h>

#include "core/futex.h"
#include "shm/layout.h"
#include "tcp-bridge/bridge/stats_layout.h"
#include "nats-uplink/state_layout.h"
#include "tools/ctl.h"
#include "tools/ctl_fmt.h"
#include "tools/ctl_gw_snap.h"
#include "tools/ctl_names.h"
#include "tools/ctl_snap.h"

typedef enum level { LV_BUS, LV_RING, LV_PROD, LV_SUB } level;

/* How a field is stored, which is how its sample is read. */
typedef enum field_kind { K_U64, K_U32, K_BOOL, K_DOUBLE } field_kind;
#define KIND_OF(x) _Generic((x), uint64_t: K_U64, uint32_t: K_U32, bool: K_BOOL, double: K_DOUBLE)

/* A family's level and the field its samples show, in the snapshot (bus),
 * a ctl_ring, a ctl_prod or a ctl_sub. */
#define SNAP(f) LV_BUS, offsetof(ctl_snap, f), KIND_OF(((ctl_snap *)0)->f)
#define RING(f) LV_RING, offsetof(ctl_ring, f), KIND_OF(((ctl_ring *)0)->f)
#define PROD(f) LV_PROD, offsetof(ctl_prod, f), KIND_OF(((ctl_prod *)0)->f)
#define SUB(f) LV_SUB, offsetof(ctl_sub, f), KIND_OF(((ctl_sub *)0)->f)

/* The families whose samples are more than their field. */
enum {
	SP_SUP_UP = 1, /* 1 when the supervisor's state is up */
	SP_HEARTBEAT,  /* seconds, and no sample without a heartbeat */
	SP_POLICY,     /* a policy label besides bus and ring */
};

typedef struct metric {
	level lv;
	size_t off;
	field_kind kind;
	const char *name, *help;
	int special; /* SP_*, or 0 */
} metric;

static const metric metrics[] = {
	{SNAP(sup.state), "hermes_supervisor_up",
	 "1 when hermesd is alive and its heartbeat is under 2 s old", SP_SUP_UP},
	{SNAP(sup.heartbeat_age_ns), "hermes_supervisor_heartbeat_age_seconds",
	 "Age of the supervisor's last heartbeat", SP_HEARTBEAT},
	{SNAP(segment_size), "hermes_segment_size_bytes", "Size of the bus segment"},
	{SNAP(nrings), "hermes_rings", "Rings on the bus"},
	{SNAP(ncorrupt), "hermes_rings_corrupt",
	 "Ring directory entries that fail validation (quarantined)"},
	{RING(capacity), "hermes_ring_capacity_bytes", "Data capacity of the ring",
	 SP_POLICY},
	{RING(max_msg), "hermes_ring_max_message_bytes", "Largest message the ring takes"},
	{RING(slots), "hermes_ring_slots", "Messages the ring can hold"},
	{RING(tail_seq), "hermes_ring_messages_total",
	 "Sequences claimed on the ring (the next sequence number)"},
	{RING(tail_pos), "hermes_ring_bytes_total",
	 "Data-area bytes claimed on the ring (payloads rounded up to 8, plus wrap padding)"},
	{RING(fill_bytes), "hermes_ring_fill_bytes",
	 "Bytes between the slowest subscriber's cursor and the tail"},
	{RING(fill_msgs), "hermes_ring_fill_messages",
	 "Messages between the slowest subscriber's cursor and the tail"},
	{RING(fill_ratio), "hermes_ring_fill_ratio",
	 "Fill as a fraction of the ring: the larger of bytes/capacity and messages/slots"},
	{RING(nprods), "hermes_ring_producers", "Producer slots in use"},
	{RING(nsubs), "hermes_ring_subscribers", "Subscriber slots in use"},
	{RING(lost), "hermes_ring_lost_messages",
	 "Messages lost by the ring's current subscribers (overwrite rings)"},
	{RING(repairs), "hermes_ring_repairs_total",
	 "Claims of dead producers repaired by the supervisor"},
	{RING(repaired_msgs), "hermes_ring_repaired_messages_total",
	 "Sequences abandoned by supervisor repairs"},
	{RING(dead_subs), "hermes_ring_dead_subscribers_total",
	 "Dead subscribers whose cursors the supervisor released"},
	{RING(limit_scans), "hermes_ring_limit_scans_total",
	 "Times a producer found its cached limits short and scanned cursors"},
	{RING(waiters), "hermes_ring_waiters", "Subscribers sleeping on the ring's futex"},
	{RING(corrupt), "hermes_ring_corrupt_records_total",
	 "Records that failed validation and were not delivered (HERMES_ECORRUPT)"},
	{PROD(o.alive), "hermes_producer_up", "1 when the producer's process is alive"},
	{PROD(msgs), "hermes_producer_messages_total", "Messages committed by the producer"},
	{PROD(bytes), "hermes_producer_bytes_total", "Payload bytes committed by the producer"},
	{PROD(full_events), "hermes_producer_full_events_total",
	 "Claims the producer saw refused because the ring was full"},
	{PROD(aborts), "hermes_producer_aborts_total", "Claims the producer aborted"},
	{SUB(o.alive), "hermes_subscriber_up", "1 when the subscriber's process is alive"},
	{SUB(msgs), "hermes_subscriber_messages_total", "Messages the subscriber consumed"},
	{SUB(bytes), "hermes_subscriber_bytes_total", "Payload bytes the subscriber consumed"},
	{SUB(lost), "hermes_subscriber_lost_messages_total",
	 "Messages the subscriber lost (lapped on an overwrite ring)"},
	{SUB(skipped), "hermes_subscriber_skipped_messages_total",
	 "Sequences the subscriber skipped (aborted or repaired claims)"},
	{SUB(lag_msgs), "hermes_subscriber_lag_messages",
	 "Messages between the subscriber's released cursor and the tail"},
	{SUB(lag_bytes), "hermes_subscriber_lag_bytes",
	 "Data-area bytes between the subscriber's released cursor and the tail"},
	{SUB(sleeping), "hermes_subscriber_sleeping",
	 "1 while the subscriber sleeps in a blocking wait"},
};
#undef SNAP
#undef RING
#undef PROD
#undef SUB
#undef KIND_OF

#define NMETRICS (sizeof metrics / sizeof metrics[0])

/* A label value: backslash, double quote and newline escaped (the format's
 * three escapes). Bus and ring names cannot hold them, but nothing here
 * relies on that. */
static void label(FILE *f, const char *key, const char *v, bool first)
{
	fprintf(f, "%s%s=\"", first ? "" : ",", key);
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
	fputc('"', f);
}

/* The HELP and TYPE lines of a family. Its type follows from its name, by
 * the exposition format's convention: a counter's name ends in _total, and
 * every other family here is a gauge. */
static void family(FILE *f, const char *name, const char *help)
{
	size_t n = strlen(name);
	const char *type = n > 6 && !strcmp(name + n - 6, "_total") ? "counter" : "gauge";
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample_u64(FILE *f, uint64_t v)
{
	fprintf(f, " %llu\n", (unsigned long long)v);
}

static uint64_t field(const void *base, size_t off)
{
	uint64_t v;
	memcpy(&v, (const char *)base + off, sizeof v);
	return v;
}

/* The sample of m's field in base (a ctl_snap, ctl_ring, ctl_prod or
 * ctl_sub, as m's level says). */
static void sample_field(FILE *f, const metric *m, const void *base)
{
	const char *p = (const char *)base + m->off;
	uint32_t u32;
	bool b;
	double d;
	switch (m->kind) {
	case K_U64:
		sample_u64(f, field(base, m->off));
		break;
	case K_U32:
		memcpy(&u32, p, sizeof u32);
		sample_u64(f, u32);
		break;
	case K_BOOL:
		memcpy(&b, p, sizeof b);
		sample_u64(f, b);
		break;
	case K_DOUBLE:
		memcpy(&d, p, sizeof d);
		fprintf(f, " %.6f\n", d);
		break;
	}
}

static void bus_sample(FILE *f, const metric *m, const ctl_snap *s)
{
	if (m->special == SP_HEARTBEAT && s->sup.heartbeat_age_ns == UINT64_MAX)
		return; /* no supervisor ever beat: no sample rather than a made-up age */
	fprintf(f, "%s{", m->name);
	label(f, "bus", s->bus, true);
	fputc('}', f);
	if (m->special == SP_SUP_UP)
		sample_u64(f, s->sup.state == CTL_SUP_UP);
	else if (m->special == SP_HEARTBEAT)
		fprintf(f, " %.3f\n", (double)s->sup.heartbeat_age_ns / 1e9);
	else
		sample_field(f, m, s);
}

static void ring_labels(FILE *f, const ctl_snap *s, const ctl_ring *r)
{
	label(f, "bus", s->bus, true);
	label(f, "ring", r->name, false);
}

static void ring_sample(FILE *f, const metric *m, const ctl_snap *s, const ctl_ring *r)
{
	fprintf(f, "%s{", m->name);
	ring_labels(f, s, r);
	if (m->special == SP_POLICY)
		label(f, "policy", ctl_policy_name(r->policy), false);
	fputc('}', f);
	sample_field(f, m, r);
}

static void slot_labels(FILE *f, const ctl_snap *s, const ctl_ring *r, const ctl_owner *o)
{
	char n[24];
	ring_labels(f, s, r);
	snprintf(n, sizeof n, "%u", o->slot);
	label(f, "slot", n, false);
	/* Who: the application name it attached with (the process name when
	 * hermesd does not say), its instance ("" for none; not "instance",
	 * which Prometheus gives every scraped target), and the pid, which keeps
	 * series of two processes of one name and instance apart. */
	label(f, "client", ctl_owner_client(o), false);
	label(f, "client_instance", o->named ? o->instance : "", false);
	snprintf(n, sizeof n, "%d", (int)o->pid);
	label(f, "pid", n, false);
}

/* A producer's or subscriber's sample: o is its owner, base the ctl_prod
 * or ctl_sub. */
static void slot_sample(FILE *f, const metric *m, const ctl_snap *s, const ctl_ring *r,
			const ctl_owner *o, const void *base)
{
	fprintf(f, "%s{", m->name);
	slot_labels(f, s, r, o);
	fputc('}', f);
	sample_field(f, m, base);
}

/* The build that reports: join on it to see versions across hosts. */
static void write_build_info(FILE *f)
{
	fprintf(f, "# HELP hermes_build_info hermes-ctl's version, bus layout and wire protocol; always 1\n"
		   "# TYPE hermes_build_info gauge\n"
		   "hermes_build_info{version=\"%s\",layout=\"%u\",protocol=\"%u\"} 1\n",
		hermes_version(), (unsigned)HM_LAYOUT_VERSION, (unsigned)HERMES_PROTOCOL_VERSION);
}

static void write_metrics(FILE *f, const ctl_snap *s)
{
	write_build_info(f);
	fprintf(f, "# HELP hermes_bus_up 1 when the bus segment exists and could be read\n"
		   "# TYPE hermes_bus_up gauge\n"
		   "hermes_bus_up{");
	label(f, "bus", s->bus, true);
	fprintf(f, "} 1\n");
	for (unsigned i = 0; i < NMETRICS; i++) {
		const metric *m = &metrics[i];
		family(f, m->name, m->help);
		for (unsigned k = 0; k < (m->lv == LV_BUS ? 1u : s->nrings); k++) {
			const ctl_ring *r = &s->rings[k];
			switch (m->lv) {
			case LV_BUS:
				bus_sample(f, m, s);
				break;
			case LV_RING:
				ring_sample(f, m, s, r);
				break;
			case LV_PROD:
				for (unsigned j = 0; j < r->nprods; j++)
					slot_sample(f, m, s, r, &r->prods[j].o, &r->prods[j]);
				break;
			case LV_SUB:
				for (unsigned j = 0; j < r->nsubs; j++)
					slot_sample(f, m, s, r, &r->subs[j].o, &r->subs[j]);
				break;
			}
		}
	}
}

/* What a scrape of a bus that is not there says: the bus is down, and
 * nothing else is known. */
static void write_bus_down(FILE *f, const char *bus)
{
	write_build_info(f);
	fprintf(f, "# HELP hermes_bus_up 1 when the bus segment exists and could be read\n"
		   "# TYPE hermes_bus_up gauge\n"
		   "hermes_bus_up{");
	label(f, "bus", bus, true);
	fprintf(f, "} 0\n");
}

/* ---- gateways: bridges and the uplink ---------------------------------------- */

#define NONE ((size_t)-1)

/* A family of bridge counters: the field of ctl_bridge_counters it shows,
 * or two fields shown as direction="in" and direction="out". */
typedef struct bridge_metric {
	const char *name, *help;
	size_t in, out; /* offsetof(ctl_bridge_counters, ...); out NONE: no direction */
} bridge_metric;

#define BC(f) offsetof(ctl_bridge_counters, f)
static const bridge_metric bridge_metrics[] = {
	{"hermes_bridge_connections_open", "TCP connections open now",
	 BC(connections_open), NONE},
	{"hermes_bridge_connections_accepted_total", "TCP connections accepted",
	 BC(connections_accepted), NONE},
	{"hermes_bridge_connections_refused_total",
	 "TCP connections refused over max_connections", BC(connections_refused), NONE},
	{"hermes_bridge_handshakes_total", "Sessions started (handshakes completed)",
	 BC(handshakes_ok), NONE},
	{"hermes_bridge_handshake_timeouts_total", "Handshakes that timed out",
	 BC(handshake_timeouts), NONE},
	{"hermes_bridge_auth_failures_total",
	 "Authentication failures (wrong key, unknown identity, authentication required)",
	 BC(auth_failures), NONE},
	{"hermes_bridge_protocol_errors_total", "Connections closed for malformed input",
	 BC(protocol_errors), NONE},
	{"hermes_bridge_errors_sent_total", "ERROR frames sent", BC(errors_sent), NONE},
	{"hermes_bridge_frames_total", "Frames received (in) and sent (out)",
	 BC(frames_in), BC(frames_out)},
	{"hermes_bridge_bytes_total", "Bytes received (in) and sent (out) on connections",
	 BC(bytes_in), BC(bytes_out)},
	{"hermes_bridge_publishes_total", "Messages committed for remote publishers",
	 BC(publishes), NONE},
	{"hermes_bridge_publish_errors_total", "PUBLISH frames answered with ERROR",
	 BC(publish_errors), NONE},
	{"hermes_bridge_publish_stalls_total", "Times a full block ring paused a publisher",
	 BC(publish_stalls), NONE},
	{"hermes_bridge_publish_timeouts_total",
	 "Publishes that failed because a block ring stayed full", BC(publish_timeouts), NONE},
	{"hermes_bridge_acks_total", "PUBLISH_ACK frames sent", BC(acks), NONE},
	{"hermes_bridge_delivers_total", "DELIVER frames sent", BC(delivers), NONE},
	{"hermes_bridge_drops_total",
	 "Messages not delivered (slow-subscriber drop, too large)", BC(drops), NONE},
	{"hermes_bridge_loss_notices_total", "LOSS frames sent", BC(loss_notices), NONE},
	{"hermes_bridge_slow_disconnects_total",
	 "Connections closed by the slow-subscriber disconnect policy", BC(slow_disconnects), NONE},
	{"hermes_bridge_ring_lost_messages_total",
	 "Messages the bridge's cursors lost on overwrite rings", BC(ring_losses), NONE},
	{"hermes_bridge_subscriptions", "Remote subscriptions open now", BC(subscriptions),
	 NONE},
	{"hermes_bridge_channels", "Remote publishing channels bound now", BC(channels), NONE},
};
#undef BC

typedef struct link_metric {
	const char *name, *help;
	size_t off; /* offsetof(ctl_bridge_link, ...); NONE: 1 when the link is up */
} link_metric;

#define LC(f) offsetof(ctl_bridge_link, f)
static const link_metric link_metrics[] = {
	{"hermes_bridge_link_up", "1 when the link's session to its peer is established", NONE},
	{"hermes_bridge_link_connects_total", "Sessions the link established", LC(connects)},
	{"hermes_bridge_link_disconnects_total", "Sessions the link lost", LC(disconnects)},
	{"hermes_bridge_link_exported_total", "Messages sent to the peer and acked",
	 LC(exported)},
	{"hermes_bridge_link_imported_total", "Messages committed here from the peer",
	 LC(imported)},
	{"hermes_bridge_link_export_lag_messages",
	 "Messages in exported rings not yet acked by the peer", LC(export_lag)},
	{"hermes_bridge_link_duplicates_total",
	 "Resent messages the peer had already committed", LC(duplicates)},
	{"hermes_bridge_link_losses_total",
	 "Messages the link could not carry (LOSS, lapped)", LC(losses)},
};
#undef LC

/* A family of per-ring uplink counters: the field shown for direction
 * "out" and for "in" (NONE: not in that direction), or with `reason`, one
 * sample per named field. */
typedef struct uplink_metric {
	const char *name, *help;
	size_t out, in; /* offsetof(ctl_uplink_ring, ...) */
} uplink_metric;

#define UR(f) offsetof(ctl_uplink_ring, f)
static const uplink_metric uplink_metrics[] = {
	{"hermes_uplink_messages_total",
	 "Messages published to NATS (out) and committed into the ring from NATS (in)", UR(out.msgs),
	 UR(in.msgs)},
	{"hermes_uplink_bytes_total", "Payload bytes of those messages", UR(out.bytes),
	 UR(in.bytes)},
	{"hermes_uplink_lost_total",
	 "Messages lost: lapped on an overwrite ring before sending (out), gaps in the "
	 "publishers' sequences (in)",
	 UR(out.ring_lost), UR(in.lost)},
	{"hermes_uplink_dropped_total",
	 "Messages dropped: policy drop while NATS was unreachable (out), by the NATS client as a "
	 "slow consumer (in)",
	 UR(out.dropped), UR(in.client_dropped)},
	{"hermes_uplink_too_big_total", "Inbound messages larger than the ring takes",
	 NONE, UR(in.too_big)},
	{"hermes_uplink_blocked_total",
	 "Times the outbound cursor stopped (policy block: NATS unreachable or max_pending)",
	 UR(out.blocked_events), NONE},
	{"hermes_uplink_ring_full_total", "Times inbound messages waited for a full ring",
	 NONE, UR(in.ring_full_events)},
	{"hermes_uplink_ring_errors_total", "Failed publishes or acks (out), errors (in)",
	 UR(out.errors), UR(in.errors)},
	{"hermes_uplink_pending_bytes", "Bytes held or in flight, not yet done",
	 UR(out.pending_bytes), UR(in.pending_bytes)},
};
#undef UR



static void bridge_labels(FILE *f, const char *bus, const ctl_bridge *b)
{
	label(f, "bus", bus, true);
	label(f, "listen", b->listen, false);
}

static void write_bridge_metrics(FILE *f, const char *bus, const ctl_bridges *bs)
{
	if (bs->n == 0)
		return;
	family(f, "hermes_bridge_up", "1 when the bridge process of the counters file is running");
	for (unsigned i = 0; i < bs->n; i++) {
		fputs("hermes_bridge_up{", f);
		bridge_labels(f, bus, &bs->v[i]);
		fputc('}', f);
		sample_u64(f, bs->v[i].alive);
	}
	/* A dead bridge's counters are what it left behind, not a state of the
	 * bus: only hermes_bridge_up speaks for it. */
	for (size_t m = 0; m < sizeof bridge_metrics / sizeof bridge_metrics[0]; m++) {
		const bridge_metric *bm = &bridge_metrics[m];
		family(f, bm->name, bm->help);
		for (unsigned i = 0; i < bs->n; i++) {
			const ctl_bridge *b = &bs->v[i];
			if (!b->alive)
				continue;
			for (int d = 0; d < (bm->out == NONE ? 1 : 2); d++) {
				fprintf(f, "%s{", bm->name);
				bridge_labels(f, bus, b);
				if (bm->out != NONE)
					label(f, "direction", d ? "out" : "in", false);
				fputc('}', f);
				sample_u64(f, field(&b->c, d ? bm->out : bm->in));
			}
		}
	}
	for (size_t m = 0; m < sizeof link_metrics / sizeof link_metrics[0]; m++) {
		const link_metric *lm = &link_metrics[m];
		family(f, lm->name, lm->help);
		for (unsigned i = 0; i < bs->n; i++) {
			const ctl_bridge *b = &bs->v[i];
			for (unsigned k = 0; b->alive && k < b->nlinks; k++) {
				const ctl_bridge_link *l = &b->links[k];
				fprintf(f, "%s{", lm->name);
				bridge_labels(f, bus, b);
				label(f, "link", l->name, false);
				label(f, "peer", l->peer, false);
				fputc('}', f);
				sample_u64(f, lm->off == NONE ? l->state == HM_LINK_UP
							    : field(l, lm->off));
			}
		}
	}
}

static void bus_label_sample(FILE *f, const char *name, const char *bus, uint64_t v)
{
	fprintf(f, "%s{", name);
	label(f, "bus", bus, true);
	fputc('}', f);
	sample_u64(f, v);
}

/* The per-ring families of uplink_metrics, for the directions each ring is
 * configured for. */
static void write_uplink_ring_metrics(FILE *f, const char *bus, const ctl_uplink *u)
{
	for (size_t m = 0; m < sizeof uplink_metrics / sizeof uplink_metrics[0]; m++) {
		const uplink_metric *um = &uplink_metrics[m];
		family(f, um->name, um->help);
		for (unsigned i = 0; i < u->nrings; i++) {
			const ctl_uplink_ring *r = &u->rings[i];
			for (int d = 0; d < 2; d++) {
				size_t off = d ? um->in : um->out;
				/* Only the directions the ring is configured for. */
				if (off == NONE || !(r->dir & (d ? HM_NATS_DIR_IN : HM_NATS_DIR_OUT)))
					continue;
				fprintf(f, "%s{", um->name);
				label(f, "bus", bus, true);
				label(f, "ring", r->name, false);
				label(f, "direction", d ? "in" : "out", false);
				fputc('}', f);
				sample_u64(f, field(r, off));
			}
		}
	}
}

/* hermes_uplink_skipped_total, by reason. */
static void write_uplink_skipped(FILE *f, const char *bus, const ctl_uplink *u)
{
	family(f, "hermes_uplink_skipped_total",
	       "Messages deliberately not carried: loop prevention (loop: came from NATS; own: "
	       "our own bus's) and JetStream redeliveries already applied (duplicate)");
	for (unsigned i = 0; i < u->nrings; i++) {
		const ctl_uplink_ring *r = &u->rings[i];
		const struct {
			const char *reason;
			unsigned dir;
			uint64_t v;
		} k[] = {{"loop", HM_NATS_DIR_OUT, r->out.skipped_inbound},
			 {"own", HM_NATS_DIR_IN, r->in.own_skipped},
			 {"duplicate", HM_NATS_DIR_IN, r->in.dup_skipped}};
		for (unsigned j = 0; j < 3; j++) {
			if (!(r->dir & k[j].dir))
				continue;
			fputs("hermes_uplink_skipped_total{", f);
			label(f, "bus", bus, true);
			label(f, "ring", r->name, false);
			label(f, "reason", k[j].reason, false);
			fputc('}', f);
			sample_u64(f, k[j].v);
		}
	}
}

/* hermes_uplink_blocked_seconds_total, for the outbound rings. */
static void write_uplink_blocked(FILE *f, const char *bus, const ctl_uplink *u)
{
	family(f, "hermes_uplink_blocked_seconds_total", "Time the outbound cursor stood blocked");
	for (unsigned i = 0; i < u->nrings; i++) {
		const ctl_uplink_ring *r = &u->rings[i];
		if (!(r->dir & HM_NATS_DIR_OUT))
			continue;
		fputs("hermes_uplink_blocked_seconds_total{", f);
		label(f, "bus", bus, true);
		label(f, "ring", r->name, false);
		fprintf(f, "} %.3f\n", (double)r->out.blocked_ns / 1e9);
	}
}

static void write_uplink_metrics(FILE *f, const char *bus, const ctl_uplink *u)
{
	if (u->file != CTL_UPLINK_OK)
		return;
	family(f, "hermes_uplink_up",
	       "1 when the NATS uplink runs and its heartbeat is under 2 s old");
	bus_label_sample(f, "hermes_uplink_up", bus, u->up);
	family(f, "hermes_uplink_connected",
	       "1 when the uplink runs and is connected to a NATS server");
	bus_label_sample(f, "hermes_uplink_connected",
	 bus, u->up && u->conn_state == HM_NATS_CONN_CONNECTED);
	if (!u->up)
		return; /* as for bridges: a dead uplink's counters are history */
	if (u->heartbeat_age_ns != UINT64_MAX) {
		family(f, "hermes_uplink_heartbeat_age_seconds",
		       "Age of the uplink's last heartbeat");
		fputs("hermes_uplink_heartbeat_age_seconds{", f);
		label(f, "bus", bus, true);
		fprintf(f, "} %.3f\n", (double)u->heartbeat_age_ns / 1e9);
	}
	family(f, "hermes_uplink_connects_total", "Connections to NATS made, first and re-");
	bus_label_sample(f, "hermes_uplink_connects_total", bus, u->connects);
	family(f, "hermes_uplink_disconnects_total", "Connections to NATS lost");
	bus_label_sample(f, "hermes_uplink_disconnects_total", bus, u->disconnects);
	family(f, "hermes_uplink_reconnects_total", "Reconnections to NATS");
	bus_label_sample(f, "hermes_uplink_reconnects_total", bus, u->reconnects);
	family(f, "hermes_uplink_errors_total", "Asynchronous errors the NATS client reported");
	bus_label_sample(f, "hermes_uplink_errors_total", bus, u->errors);
	write_uplink_ring_metrics(f, bus, u);
	write_uplink_skipped(f, bus, u);
	write_uplink_blocked(f, bus, u);
}

/* The gateways' families, read afresh from ctx->stats_dir. Missing or
 * unreadable files contribute nothing: the bus's own metrics never fail
 * because of a gateway. */
static void write_gw_metrics(FILE *f, const ctl_ctx *ctx)
{
	ctl_bridges *bs = calloc(1, sizeof *bs);
	ctl_uplink *u = calloc(1, sizeof *u);
	if (bs && ctl_bridges_read(ctx->stats_dir, ctx->bus, bs) == HERMES_OK)
		write_bridge_metrics(f, ctx->bus, bs);
	if (u) {
		ctl_uplink_read(ctx->stats_dir, ctx->bus, u);
		write_uplink_metrics(f, ctx->bus, u);
	}
	free(bs);
	free(u);
}

/* ---- HTTP ------------------------------------------------------------------- */

#define REQUEST_MAX 8192
#define CLIENT_TIMEOUT_MS 2000

/* Parse ADDR:PORT ("127.0.0.1:9464", "[::1]:9464", "localhost:9464") into a
 * socket address, loopback only unless allow_remote. Returns 0, or 2 after a
 * usage error. */
static int parse_listen(const ctl_ctx *ctx, const char *arg, bool allow_remote,
			struct sockaddr_storage *ss, socklen_t *sl)
{
	char host[128];
	const char *port;
	if (arg[0] == '[') {
		const char *end = strchr(arg, ']');
		if (!end || end[1] != ':' || (size_t)(end - arg - 1) >= sizeof host)
			return ctl_usage_error(ctx, "--serve wants ADDR:PORT, e.g. [::1]:9464, not '%s'", arg);
		memcpy(host, arg + 1, (size_t)(end - arg - 1));
		host[end - arg - 1] = '\0';
		port = end + 2;
	} else {
		const char *colon = strrchr(arg, ':');
		if (!colon || (size_t)(colon - arg) >= sizeof host)
			return ctl_usage_error(ctx, "--serve wants ADDR:PORT, e.g. 127.0.0.1:9464, not '%s'",
					       arg);
		memcpy(host, arg, (size_t)(colon - arg));
		host[colon - arg] = '\0';
		port = colon + 1;
	}
	uint64_t p;
	if (!parse_u64(port, 65535, &p))
		return ctl_usage_error(ctx, "--serve: bad port '%s'", port);
	if (!strcmp(host, "localhost"))
		snprintf(host, sizeof host, "127.0.0.1");
	memset(ss, 0, sizeof *ss);
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)p);
		*sl = sizeof *v4;
		if ((ntohl(v4->sin_addr.s_addr) >> 24) == 127 || allow_remote)
			return 0;
	} else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)p);
		*sl = sizeof *v6;
		if (IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr) || allow_remote)
			return 0;
	} else {
		return ctl_usage_error(ctx, "--serve: '%s' is not an IP address or localhost", host);
	}
	return ctl_usage_error(ctx,
			       "--serve: refusing non-loopback address '%s': the metrics endpoint has "
			       "no authentication; listen on 127.0.0.1 or ::1 and let the scraper reach "
			       "it locally, or add --allow-remote if a firewall guards the port",
			       host);
}

/* Send all of buf within the deadline. */
static bool send_all(int fd, const char *buf, size_t len, uint64_t deadline)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return false;
		uint64_t now = hm_now_ns();
		if (now >= deadline)
			return false;
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		if (ctl_poll(&p, 1, (int)((deadline - now) / 1000000u) + 1) < 0 && ctl_stop)
			return false;
	}
	return true;
}

static void respond(int fd, const char *status, const char *ctype, const char *body, size_t blen,
		    bool head, uint64_t deadline)
{
	char hdr[256];
	int n = snprintf(hdr, sizeof hdr,
			 "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: "
			 "close\r\n\r\n",
			 status, ctype, blen);
	if (send_all(fd, hdr, (size_t)n, deadline) && !head)
		send_all(fd, body, blen, deadline);
}

/* One connection: read the request head (bounded in size and time), answer,
 * close. Single-threaded on purpose: a scraper asks every few seconds, and
 * a client that stalls holds the server for at most CLIENT_TIMEOUT_MS. */
static void serve_one(int fd, const ctl_ctx *ctx, ctl_snap *snap)
{
	char req[REQUEST_MAX + 1];
	size_t used = 0;
	uint64_t deadline = hm_now_ns() + (uint64_t)CLIENT_TIMEOUT_MS * 1000000u;
	while (used < REQUEST_MAX) {
		req[used] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
		ssize_t n = recv(fd, req + used, REQUEST_MAX - used, MSG_DONTWAIT);
		if (n > 0) {
			used += (size_t)n;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			break;
		uint64_t now = hm_now_ns();
		if (now >= deadline)
			return;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (ctl_poll(&p, 1, (int)((deadline - now) / 1000000u) + 1) < 0 && ctl_stop)
			return;
	}
	req[used] = '\0';
	char method[16], target[256];
	if (sscanf(req, "%15s %255s HTTP/", method, target) != 2) {
		static const char msg[] = "bad request\n";
		respond(fd, "400 Bad Request", "text/plain", msg, sizeof msg - 1, false, deadline);
		return;
	}
	bool head = !strcmp(method, "HEAD");
	if (strcmp(method, "GET") && !head) {
		static const char msg[] = "only GET\n";
		respond(fd, "405 Method Not Allowed", "text/plain", msg, sizeof msg - 1, false, deadline);
		return;
	}
	char *q = strchr(target, '?');
	if (q)
		*q = '\0';
	if (!strcmp(target, "/")) {
		static const char msg[] = "hermes-ctl: metrics at /metrics\n";
		respond(fd, "200 OK", "text/plain; charset=utf-8", msg, sizeof msg - 1, head, deadline);
		return;
	}
	if (strcmp(target, "/metrics")) {
		static const char msg[] = "not found: try /metrics\n";
		respond(fd, "404 Not Found", "text/plain", msg, sizeof msg - 1, head, deadline);
		return;
	}
	char *body = NULL;
	size_t blen = 0;
	FILE *mf = open_memstream(&body, &blen);
	if (!mf) {
		static const char msg[] = "out of memory\n";
		respond(fd, "500 Internal Server Error", "text/plain", msg, sizeof msg - 1, head,
			deadline);
		return;
	}
	/* Attach per scrape: a restarted hermesd's new segment is read, not a
	 * stale mapping of the old one. */
	hermes_bus *bus;
	if (hermes_bus_attach_readonly(ctx->bus, &bus) == HERMES_OK) {
		ctl_snap_take(bus, snap, true);
		ctl_names_snap(ctx, bus, snap);
		hermes_bus_detach(bus);
		write_metrics(mf, snap);
	} else {
		write_bus_down(mf, ctx->bus);
	}
	write_gw_metrics(mf, ctx);
	fclose(mf);
	respond(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", body, blen, head, deadline);
	free(body);
}

static int serve(const ctl_ctx *ctx, const char *addr, struct sockaddr_storage ss, socklen_t sl,
		 ctl_snap *snap)
{
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 16) != 0) {
		ctl_error("--serve %s: cannot listen: %s", addr, strerror(errno));
		if (fd >= 0)
			close(fd);
		return CTL_EXIT_ERR;
	}
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	sl = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
			port = ntohs(v4->sin_port);
		} else {
			struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
			port = ntohs(v6->sin6_port);
		}
	}
	fprintf(stderr, "hermes-ctl: serving metrics of bus '%s' at http://%s%s%s:%u/metrics\n",
		ctx->bus, ss.ss_family == AF_INET6 ? "[" : "", host, ss.ss_family == AF_INET6 ? "]" : "",
		port);
	fflush(stderr);
	while (!ctl_should_stop()) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (ctl_poll(&p, 1, -1) <= 0)
			continue;
		int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (cfd < 0)
			continue;
		serve_one(cfd, ctx, snap);
		close(cfd);
	}
	close(fd);
	return CTL_EXIT_OK;
}

int cmd_metrics(ctl_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"serve", required_argument, NULL, 's'},
		{"allow-remote", no_argument, NULL, 'R'},
		CTL_COMMON_OPTIONS,
		{0},
	};
	const char *addr = NULL;
	bool allow_remote = false;
	int c, r;
	while ((c = getopt_long(argc, argv, CTL_COMMON_SHORT "s:", opts, NULL)) != -1) {
		if (c == 's')
			addr = optarg;
		else if (c == 'R')
			allow_remote = true;
		else if ((r = ctl_common_option(ctx, c, argv)) >= 0)
			return r;
	}
	if ((r = ctl_operands(ctx, argc, argv, 0, NULL)) >= 0)
		return r;
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	if (allow_remote && !addr)
		return ctl_usage_error(ctx, "--allow-remote goes with --serve");
	if (addr && (r = parse_listen(ctx, addr, allow_remote, &ss, &sl)) != 0)
		return r;

	hermes_bus *bus;
	if ((r = ctl_attach(ctx, true, &bus)) != 0)
		return r;
	ctl_snap *snap = calloc(1, sizeof *snap);
	if (!snap) {
		hermes_bus_detach(bus);
		ctl_error("out of memory");
		return CTL_EXIT_ERR;
	}
	if (addr) {
		hermes_bus_detach(bus);
		ctl_install_signals(true);
		r = serve(ctx, addr, ss, sl, snap);
	} else {
		ctl_snap_take(bus, snap, true);
		ctl_names_snap(ctx, bus, snap);
		hermes_bus_detach(bus);
		write_metrics(stdout, snap);
		write_gw_metrics(stdout, ctx);
		r = ctl_flush(NULL);
	}
	free(snap);
	return r;
}
