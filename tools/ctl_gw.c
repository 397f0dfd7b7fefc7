/* `bridges` and `uplink`: the counters of the bus's gateways (hermes-bridge
 * and hermes-nats), read from their counters files (ctl_gw_snap.c), and the
 * one-line summary that `list` prints about them. Neither command attaches
 * to the bus: the files live on their own, so the commands work while
 * hermesd is down and say what a dead gateway last counted. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nats-uplink/state_layout.h"
#include "tools/ctl.h"
#include "tools/ctl_fmt.h"
#include "tools/ctl_gw_snap.h"
#include "tools/json.h"

static const char *u64s(char *buf, size_t len, uint64_t v)
{
	snprintf(buf, len, "%llu", (unsigned long long)v);
	return buf;
}

static unsigned long long ull(uint64_t v)
{
	return (unsigned long long)v;
}

/* "3m12s", "2h05m", "4d03h": how long ago start_ns (CLOCK_REALTIME) was. */
static const char *fmt_uptime(char *buf, size_t len, uint64_t start_ns)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	if (!start_ns || start_ns > now) {
		snprintf(buf, len, "?");
		return buf;
	}
	uint64_t s = (now - start_ns) / 1000000000u;
	if (s < 60)
		snprintf(buf, len, "%llus", ull(s));
	else if (s < 3600)
		snprintf(buf, len, "%llum%02llus", ull(s / 60), ull(s % 60));
	else if (s < 86400)
		snprintf(buf, len, "%lluh%02llum", ull(s / 3600), ull(s / 60 % 60));
	else
		snprintf(buf, len, "%llud%02lluh", ull(s / 86400), ull(s / 3600 % 24));
	return buf;
}

/* Options of both commands. Returns -1 to go on, else the exit status to
 * return now (0 after --help). */
static int parse_args(ctl_ctx *ctx, int argc, char **argv)
{
	int r = ctl_common_options_only(ctx, argc, argv, 0, NULL);
	if (r >= 0)
		return r;
	r = ctl_check_bus_name(ctx);
	return r == CTL_EXIT_OK ? -1 : r;
}

/* ---- bridges --------------------------------------------------------------- */

static const char *link_error(uint64_t code)
{
	return code ? hermes_strerror((hermes_err)code) : NULL;
}

/* A bridge's counters, as fields of its object. */
#define BC(f) offsetof(ctl_bridge_counters, f)
static const json_u64_field bridge_counter_fields[] = {
	{"connections_open", BC(connections_open)},
	{"connections_accepted", BC(connections_accepted)},
	{"connections_refused", BC(connections_refused)}, {"handshakes", BC(handshakes_ok)},
	{"handshake_timeouts", BC(handshake_timeouts)}, {"auth_failures", BC(auth_failures)},
	{"protocol_errors", BC(protocol_errors)}, {"errors_sent", BC(errors_sent)},
	{"frames_in", BC(frames_in)}, {"frames_out", BC(frames_out)}, {"bytes_in", BC(bytes_in)},
	{"bytes_out", BC(bytes_out)}, {"publishes", BC(publishes)},
	{"publish_errors", BC(publish_errors)}, {"publish_stalls", BC(publish_stalls)},
	{"publish_timeouts", BC(publish_timeouts)}, {"acks", BC(acks)}, {"delivers", BC(delivers)},
	{"drops", BC(drops)}, {"loss_notices", BC(loss_notices)},
	{"slow_disconnects", BC(slow_disconnects)}, {"ring_lost_messages", BC(ring_losses)},
	{"subscriptions", BC(subscriptions)}, {"channels", BC(channels)},
};
#undef BC

/* A link's counters, between its state and its last error. */
#define LC(f) offsetof(ctl_bridge_link, f)
static const json_u64_field link_counter_fields[] = {
	{"connects", LC(connects)}, {"disconnects", LC(disconnects)}, {"exported", LC(exported)},
	{"imported", LC(imported)}, {"export_lag", LC(export_lag)}, {"duplicates", LC(duplicates)},
	{"losses", LC(losses)},
};
#undef LC

static void json_bridge_link(json_w *w, const ctl_bridge_link *l)
{
	json_obj_begin(w);
	json_kstr(w, "name", l->name);
	json_kstr(w, "peer", l->peer);
	json_kstr(w, "state", ctl_link_state_name(l->state));
	JSON_KU64_TABLE(w, l, link_counter_fields);
	json_kstr(w, "last_error", link_error(l->last_error)); /* null: none */
	json_obj_end(w);
}

static void json_bridge(json_w *w, const ctl_bridge *b)
{
	json_obj_begin(w);
	json_kstr(w, "path", b->path);
	json_ki64(w, "pid", b->pid);
	json_kbool(w, "alive", b->alive);
	json_kstr(w, "state", b->alive ? "running" : "stale");
	json_ku64s(w, "started_unix_ns", b->start_ns);
	json_ku64s(w, "bus_id", b->bus_id);
	json_kstr(w, "server_name", b->name);
	json_kstr(w, "listen", b->listen);
	json_ku64(w, "port", b->port);
	JSON_KU64_TABLE(w, &b->c, bridge_counter_fields);
	json_karr_begin(w, "links");
	for (unsigned k = 0; k < b->nlinks; k++)
		json_bridge_link(w, &b->links[k]);
	json_arr_end(w);
	json_obj_end(w);
}

static void bridges_json(const ctl_ctx *ctx, const ctl_bridges *bs)
{
	json_w w;
	json_doc_begin(&w, "hermes-ctl.bridges/1", ctx->bus);
	json_kstr(&w, "stats_dir", bs->dir);
	json_karr_begin(&w, "bridges");
	for (unsigned i = 0; i < bs->n; i++)
		json_bridge(&w, &bs->v[i]);
	json_arr_end(&w);
	json_karr_begin(&w, "unreadable");
	for (unsigned i = 0; i < bs->nskipped; i++) {
		json_obj_begin(&w);
		json_kstr(&w, "path", bs->skipped[i].path);
		json_kstr(&w, "reason", bs->skipped[i].why);
		json_obj_end(&w);
	}
	json_arr_end(&w);
	json_doc_end(&w);
}

static void bridge_text(const ctl_bridge *b)
{
	const ctl_bridge_counters *c = &b->c;
	char up[32], bi[32], bo[32];
	printf("bridge %s", b->listen[0] ? b->listen : "?");
	if (b->name[0])
		printf(" ('%s')", b->name);
	if (b->alive)
		printf(": running (pid %d, up %s)", (int)b->pid, fmt_uptime(up, sizeof up, b->start_ns));
	else
		printf(": NOT RUNNING (pid %d is gone; counters as it left them)", (int)b->pid);
	printf(", %s\n", b->path);
	printf("  connections: %llu open, %llu accepted, %llu refused; handshakes %llu, auth "
	       "failures %llu, handshake timeouts %llu, protocol errors %llu, errors sent %llu\n",
	       ull(c->connections_open), ull(c->connections_accepted), ull(c->connections_refused),
	       ull(c->handshakes_ok), ull(c->auth_failures), ull(c->handshake_timeouts),
	       ull(c->protocol_errors), ull(c->errors_sent));
	printf("  frames: %llu in, %llu out; bytes: %s in, %s out; subscriptions %llu, channels "
	       "%llu\n",
	       ull(c->frames_in), ull(c->frames_out), fmt_bytes(bi, sizeof bi, (double)c->bytes_in),
	       fmt_bytes(bo, sizeof bo, (double)c->bytes_out), ull(c->subscriptions),
	       ull(c->channels));
	printf("  publishes %llu (errors %llu, stalls %llu, timeouts %llu), acks %llu, delivers "
	       "%llu, drops %llu, loss notices %llu, slow disconnects %llu, ring losses %llu\n",
	       ull(c->publishes), ull(c->publish_errors), ull(c->publish_stalls),
	       ull(c->publish_timeouts), ull(c->acks), ull(c->delivers), ull(c->drops),
	       ull(c->loss_notices), ull(c->slow_disconnects), ull(c->ring_losses));
	if (!b->nlinks)
		return;
	printf("  links: %u\n", b->nlinks);
	table t;
	table_init(&t, "lllrrrrrrrl");
	table_row(&t, "NAME", "PEER", "STATE", "EXPORTED", "IMPORTED", "EXPORT_LAG", "DUPLICATES",
		  "LOSSES", "CONNECTS", "DISCONNECTS", "LAST_ERROR");
	for (unsigned k = 0; k < b->nlinks; k++) {
		const ctl_bridge_link *l = &b->links[k];
		char ex[32], im[32], lag[32], dup[32], lo[32], co[32], dc[32];
		table_row(&t, l->name, l->peer, ctl_link_state_name(l->state),
			  u64s(ex, sizeof ex, l->exported), u64s(im, sizeof im, l->imported),
			  u64s(lag, sizeof lag, l->export_lag), u64s(dup, sizeof dup, l->duplicates),
			  u64s(lo, sizeof lo, l->losses), u64s(co, sizeof co, l->connects),
			  u64s(dc, sizeof dc, l->disconnects),
			  l->last_error ? link_error(l->last_error) : "-");
	}
	table_flush(&t, stdout, 4, 0);
}

int cmd_bridges(ctl_ctx *ctx, int argc, char **argv)
{
	int r = parse_args(ctx, argc, argv);
	if (r >= 0)
		return r;
	ctl_bridges *bs = calloc(1, sizeof *bs);
	if (!bs) {
		ctl_error("out of memory");
		return CTL_EXIT_ERR;
	}
	if (ctl_bridges_read(ctx->stats_dir, ctx->bus, bs) != HERMES_OK) {
		ctl_error("bus '%s': %s", ctx->bus, hermes_last_error_detail());
		free(bs);
		return CTL_EXIT_ERR;
	}
	if (ctx->json) {
		bridges_json(ctx, bs);
	} else {
		if (bs->n == 0 && bs->nskipped == 0)
			printf("bus '%s': no bridges (no %s/hermes-bridge.%s.PORT)\n", ctx->bus,
			       bs->dir, ctx->bus);
		else
			printf("bus '%s': %u bridge(s), counters in %s\n", ctx->bus, bs->n, bs->dir);
		for (unsigned i = 0; i < bs->n; i++)
			bridge_text(&bs->v[i]);
		for (unsigned i = 0; i < bs->nskipped; i++)
			printf("unreadable: %s: %s\n", bs->skipped[i].path, bs->skipped[i].why);
	}
	free(bs);
	return ctl_flush(NULL);
}

/* ---- uplink ---------------------------------------------------------------- */

static const char *file_state_name(ctl_uplink_file f)
{
	static const char *const n[] = {[CTL_UPLINK_ABSENT] = "absent",
					[CTL_UPLINK_NOT_READY] = "not_ready",
					[CTL_UPLINK_UNREADABLE] = "unreadable", [CTL_UPLINK_OK] = "ok"};
	return FMT_NAME_OF(f, n);
}

/* The uplink's NATS connection, as the "nats" object. */
static void json_uplink_nats(json_w *w, const ctl_uplink *u)
{
	json_kobj_begin(w, "nats");
	json_kstr(w, "state", ctl_uplink_conn_name(u->conn_state));
	json_kstr(w, "url", u->url);
	json_kstr(w, "last_error", u->last_error[0] ? u->last_error : NULL);
	json_kbool(w, "text_consistent", u->text_consistent);
	json_ku64(w, "connects", u->connects);
	json_ku64(w, "disconnects", u->disconnects);
	json_ku64(w, "reconnects", u->reconnects);
	json_ku64(w, "errors", u->errors);
	json_ku64s(w, "changed_unix_ns", u->changed_ns);
	json_obj_end(w);
}

/* The counters of a ring's two workers in the order `hermes-ctl uplink
 * --json` shows them: the key, and where the value sits in ctl_uplink_ring
 * for the outbound (ring to NATS) and the inbound worker (NO_FIELD: that
 * worker has no such counter). */
#define NO_FIELD ((size_t)-1)
#define OUT_IN(key, o, i) {key, offsetof(ctl_uplink_ring, out.o), offsetof(ctl_uplink_ring, in.i)}
#define OUT_ONLY(key, o) {key, offsetof(ctl_uplink_ring, out.o), NO_FIELD}
#define IN_ONLY(key, i) {key, NO_FIELD, offsetof(ctl_uplink_ring, in.i)}
static const struct worker_counter {
	const char *key;
	size_t out, in;
} worker_counters[] = {
	OUT_IN("messages", msgs, msgs),
	OUT_IN("bytes", bytes, bytes),
	OUT_IN("batches", batches, batches),
	OUT_ONLY("dropped", dropped),
	OUT_ONLY("dropped_bytes", dropped_bytes),
	OUT_ONLY("blocked_events", blocked_events),
	OUT_ONLY("blocked_ns", blocked_ns),
	OUT_ONLY("skipped_inbound", skipped_inbound),
	IN_ONLY("own_skipped", own_skipped),
	IN_ONLY("duplicates_skipped", dup_skipped),
	OUT_IN("lost", ring_lost, lost),
	IN_ONLY("gap_events", gap_events),
	IN_ONLY("client_dropped", client_dropped),
	IN_ONLY("too_big", too_big),
	IN_ONLY("ring_full_events", ring_full_events),
	OUT_IN("errors", errors, errors),
	OUT_ONLY("retries", retries),
	OUT_ONLY("duplicates", duplicates),
	IN_ONLY("consumer_resets", consumer_resets),
	IN_ONLY("resolved", resolved),
	OUT_IN("pending_bytes", pending_bytes, pending_bytes),
	OUT_ONLY("pending_max_bytes", pending_max),
	OUT_ONLY("next_seq", next_seq),
	IN_ONLY("applied_stream_seq", applied),
};

/* One of a ring's workers, as the "out" or the "in" object. */
static void json_uplink_worker(json_w *w, const ctl_uplink_ring *r, bool in)
{
	json_key(w, in ? "in" : "out");
	json_obj_begin(w);
	json_kstr(w, "state", ctl_uplink_worker_name(in ? r->in.state : r->out.state));
	for (size_t i = 0; i < sizeof worker_counters / sizeof worker_counters[0]; i++) {
		size_t off = in ? worker_counters[i].in : worker_counters[i].out;
		uint64_t v;
		if (off == NO_FIELD)
			continue;
		memcpy(&v, (const char *)r + off, sizeof v);
		json_ku64(w, worker_counters[i].key, v);
	}
	json_obj_end(w);
}

static void json_uplink_ring(json_w *w, const ctl_uplink_ring *r)
{
	json_obj_begin(w);
	json_kstr(w, "name", r->name);
	json_kstr(w, "subject", r->subject);
	json_kstr(w, "stream", r->stream);
	json_kstr(w, "direction", ctl_uplink_dir_name(r->dir));
	json_kstr(w, "mode", ctl_uplink_mode_name(r->mode));
	json_kstr(w, "policy", ctl_uplink_policy_name(r->policy));
	json_ku64(w, "max_pending_bytes", r->max_pending);
	json_uplink_worker(w, r, false);
	json_uplink_worker(w, r, true);
	json_obj_end(w);
}

/* The "uplink" object: the process, its connection, its rings. */
static void json_uplink_process(json_w *w, const ctl_uplink *u)
{
	json_kobj_begin(w, "uplink");
	json_ki64(w, "pid", u->pid);
	json_kbool(w, "alive", u->alive);
	json_kbool(w, "up", u->up);
	json_kstr(w, "state", ctl_uplink_process_state(u));
	json_ku64_or_null(w, "heartbeat_age_ms", u->heartbeat_age_ns != UINT64_MAX,
			  u->heartbeat_age_ns / 1000000u);
	json_ku64s(w, "started_unix_ns", u->started_ns);
	json_ku64(w, "runs", u->runs);
	json_ku64s(w, "bus_id", u->bus_id);
	json_kstr(w, "prefix", u->prefix);
	json_uplink_nats(w, u);
	json_karr_begin(w, "rings");
	for (unsigned i = 0; i < u->nrings; i++)
		json_uplink_ring(w, &u->rings[i]);
	json_arr_end(w);
	json_obj_end(w);
}

static void uplink_json(const ctl_ctx *ctx, const ctl_uplink *u)
{
	json_w w;
	json_doc_begin(&w, "hermes-ctl.uplink/1", ctx->bus);
	json_kstr(&w, "stats_dir", ctx->stats_dir);
	json_kstr(&w, "path", u->path);
	json_kstr(&w, "file", file_state_name(u->file));
	json_kstr(&w, "reason", u->why[0] ? u->why : NULL);
	if (u->file == CTL_UPLINK_OK)
		json_uplink_process(&w, u);
	else
		json_knull(&w, "uplink");
	json_doc_end(&w);
}

static void uplink_text(const ctl_ctx *ctx, const ctl_uplink *u)
{
	printf("uplink of bus '%s': %s", ctx->bus, ctl_uplink_process_state(u));
	if (u->pid)
		printf(" (pid %d", (int)u->pid);
	if (u->pid && u->heartbeat_age_ns != UINT64_MAX)
		printf(", heartbeat %.1f s ago", (double)u->heartbeat_age_ns / 1e9);
	if (u->pid)
		printf(", %llu run(s))", ull(u->runs));
	printf(", %s\n", u->path);
	printf("nats: %s%s%s%s; connects %llu, disconnects %llu, reconnects %llu, errors %llu\n",
	       ctl_uplink_conn_name(u->conn_state), u->url[0] ? " (" : "", u->url,
	       u->url[0] ? ")" : "", ull(u->connects),
	       ull(u->disconnects), ull(u->reconnects), ull(u->errors));
	if (u->last_error[0])
		printf("last error: %s\n", u->last_error);
	if (!u->text_consistent)
		printf("(url and last error may be mixed: they changed while being read)\n");
	printf("subject prefix '%s'\n", u->prefix);
	if (u->nrings == 0) {
		printf("no rings configured\n");
		return;
	}
	/* Two tables, out (ring -> NATS) and in (NATS -> ring), each with the
	 * rings configured for that direction. */
	unsigned nin = 0;
	for (unsigned i = 0; i < u->nrings; i++)
		nin += (u->rings[i].dir & HM_NATS_DIR_IN) != 0;
	table t;
	table_init(&t, "lllllrrrrrrrrr");
	table_row(&t, "RING", "DIR", "MODE", "POLICY", "OUT", "SENT", "BYTES", "DROPPED", "BLOCKED",
		  "BLOCKED_S", "LOOP_SKIP", "LOST", "ERRORS", "PENDING");
	for (unsigned i = 0; i < u->nrings; i++) {
		const ctl_uplink_ring *r = &u->rings[i];
		char m[32], b[32], d[32], be[32], bs[32], sk[32], lo[32], er[32], pe[32];
		if (!(r->dir & HM_NATS_DIR_OUT)) {
			table_row(&t, r->name, ctl_uplink_dir_name(r->dir),
				  ctl_uplink_mode_name(r->mode), "-", "-", "-", "-", "-", "-", "-", "-",
				  "-", "-", "-");
			continue;
		}
		snprintf(bs, sizeof bs, "%.1f", (double)r->out.blocked_ns / 1e9);
		table_row(&t, r->name, ctl_uplink_dir_name(r->dir), ctl_uplink_mode_name(r->mode),
			  ctl_uplink_policy_name(r->policy), ctl_uplink_worker_name(r->out.state),
			  u64s(m, sizeof m, r->out.msgs), fmt_bytes(b, sizeof b, (double)r->out.bytes),
			  u64s(d, sizeof d, r->out.dropped), u64s(be, sizeof be, r->out.blocked_events),
			  bs, u64s(sk, sizeof sk, r->out.skipped_inbound),
			  u64s(lo, sizeof lo, r->out.ring_lost), u64s(er, sizeof er, r->out.errors),
			  fmt_bytes(pe, sizeof pe, (double)r->out.pending_bytes));
	}
	table_flush(&t, stdout, 0, 0);
	if (!nin)
		return;
	table_init(&t, "llrrrrrrrrrr");
	table_row(&t, "RING", "IN", "RECEIVED", "BYTES", "OWN_SKIP", "DUP_SKIP", "LOST", "GAPS",
		  "CLIENT_DROP", "TOO_BIG", "RING_FULL", "ERRORS");
	for (unsigned i = 0; i < u->nrings; i++) {
		const ctl_uplink_ring *r = &u->rings[i];
		char m[32], b[32], os[32], ds[32], lo[32], ga[32], cd[32], tb[32], rf[32], er[32];
		if (!(r->dir & HM_NATS_DIR_IN))
			continue;
		table_row(&t, r->name, ctl_uplink_worker_name(r->in.state),
			  u64s(m, sizeof m, r->in.msgs), fmt_bytes(b, sizeof b, (double)r->in.bytes),
			  u64s(os, sizeof os, r->in.own_skipped), u64s(ds, sizeof ds, r->in.dup_skipped),
			  u64s(lo, sizeof lo, r->in.lost), u64s(ga, sizeof ga, r->in.gap_events),
			  u64s(cd, sizeof cd, r->in.client_dropped), u64s(tb, sizeof tb, r->in.too_big),
			  u64s(rf, sizeof rf, r->in.ring_full_events), u64s(er, sizeof er, r->in.errors));
	}
	table_flush(&t, stdout, 0, 0);
}

int cmd_uplink(ctl_ctx *ctx, int argc, char **argv)
{
	int r = parse_args(ctx, argc, argv);
	if (r >= 0)
		return r;
	ctl_uplink *u = calloc(1, sizeof *u);
	if (!u) {
		ctl_error("out of memory");
		return CTL_EXIT_ERR;
	}
	ctl_uplink_read(ctx->stats_dir, ctx->bus, u);
	int status = CTL_EXIT_OK;
	if (ctx->json) {
		uplink_json(ctx, u);
	} else if (u->file == CTL_UPLINK_ABSENT) {
		printf("bus '%s': no uplink (%s does not exist; has hermes-nats run on this bus?)\n",
		       ctx->bus, u->path);
	} else if (u->file == CTL_UPLINK_NOT_READY) {
		printf("bus '%s': uplink starting: %s %s\n", ctx->bus, u->path, u->why);
	} else if (u->file == CTL_UPLINK_OK) {
		uplink_text(ctx, u);
	}
	if (u->file == CTL_UPLINK_UNREADABLE) {
		ctl_error("bus '%s': %s: %s", ctx->bus, u->path, u->why);
		status = CTL_EXIT_ERR;
	}
	free(u);
	r = ctl_flush(NULL);
	return r ? r : status;
}

/* ---- the summary line of `list` ------------------------------------------- */

void ctl_gw_summary(const ctl_ctx *ctx, FILE *f)
{
	ctl_bridges *bs = calloc(1, sizeof *bs);
	ctl_uplink *u = calloc(1, sizeof *u);
	if (!bs || !u || ctl_bridges_read(ctx->stats_dir, ctx->bus, bs) != HERMES_OK) {
		free(bs);
		free(u);
		return;
	}
	ctl_uplink_read(ctx->stats_dir, ctx->bus, u);
	char line[1024] = "";
	size_t used = 0;
#define ADD(...)                                                                                   \
	do {                                                                                       \
		if (used < sizeof line)                                                            \
			used += (size_t)snprintf(line + used, sizeof line - used, __VA_ARGS__);    \
	} while (0)
	unsigned running = 0, stale = 0;
	for (unsigned i = 0; i < bs->n; i++) {
		if (bs->v[i].alive)
			running++;
		else
			stale++;
	}
	if (bs->n) {
		ADD("bridges: %u (", running);
		unsigned shown = 0;
		for (unsigned i = 0; i < bs->n; i++) {
			const ctl_bridge *b = &bs->v[i];
			if (!b->alive)
				continue;
			ADD("%s%s, %llu connection%s", shown++ ? "; " : "", b->listen,
			    ull(b->c.connections_open), b->c.connections_open == 1 ? "" : "s");
		}
		ADD("%s%s", running ? "" : "none running", ")");
		if (stale)
			ADD(", %u stale file%s", stale, stale == 1 ? "" : "s");
	}
	if (u->file == CTL_UPLINK_OK) {
		ADD("%suplink: ", used ? "; " : "");
		if (!u->up)
			ADD("%s (pid %d)", ctl_uplink_process_state(u), (int)u->pid);
		else if (u->conn_state == HM_NATS_CONN_CONNECTED)
			ADD("connected to %s", u->url);
		else
			ADD("%s%s%s", ctl_uplink_conn_name(u->conn_state),
			    u->last_error[0] ? ": " : "", u->last_error);
	} else if (u->file == CTL_UPLINK_NOT_READY) {
		ADD("%suplink: starting", used ? "; " : "");
	} else if (u->file == CTL_UPLINK_UNREADABLE) {
		ADD("%suplink: unreadable (%s)", used ? "; " : "", u->why);
	}
#undef ADD
	if (used)
		fprintf(f, "%s\n", line);
	free(bs);
	free(u);
}
