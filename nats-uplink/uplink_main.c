/* hermes-nats: carries rings of a Hermes bus over NATS (core or JetStream).
 *
 * The main thread parses the configuration, attaches to the bus, opens the
 * state file, starts the connection and one or two threads per ring, then
 * waits for SIGTERM/SIGINT while it keeps the heartbeat. */
#include <errno.h>
#include <stddef.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <hermes/hermes.h>

#include "core/futex.h"
#include "core/proc.h"
#include "nats-uplink/uplink.h"
#include "daemon/cli.h"
#include "daemon/notify.h"
#include "daemon/run.h"


/* How often the main thread writes the heartbeat into the state file, and
 * how long closing waits for what the client library still has to send. */
#define HM_NATS_HEARTBEAT_MS 250
#define HM_NATS_CLOSE_TIMEOUT_MS 2000

/* The text of --help (a table: printed as it is). */
static const char usage_text[] =
	"usage: hermes-nats [options]\n"
	"       hermes-nats --stats [--json] [--bus NAME | --state FILE]\n"
	"\n"
	"Carries rings of a Hermes bus over NATS: ring -> subject <prefix>.<ring>,\n"
	"subject -> ring, or both. Local processes keep the shared-memory path; only\n"
	"the configured rings leave the host. One hermes-nats per bus. Runs in the\n"
	"foreground and logs to stderr.\n"
	"\n"
	"  -c, --config FILE        INI file: [uplink], [nats], [ring NAME] sections\n"
	"                           (see nats-uplink/hermes-nats.conf.example)\n"
	"  -b, --bus NAME           the bus (default: [uplink] bus, $HERMES_BUS, 'default')\n"
	"  -u, --url URL            NATS server, nats://HOST:PORT or tls://HOST:PORT; repeat\n"
	"                           it or give a comma list (tried in order, then the\n"
	"                           servers the cluster announces). Default\n"
	"                           $HERMES_NATS_URL or nats://127.0.0.1:4222\n"
	"  -p, --prefix PREFIX      subject prefix (default 'hermes': ring 'orders' is\n"
	"                           subject 'hermes.orders')\n"
	"  -r, --ring SPEC          carry a ring: NAME[:DIRECTION[:MODE[:POLICY]]] with\n"
	"                           DIRECTION out|in|both (default both), MODE\n"
	"                           core|jetstream, POLICY block|drop; repeatable. Other\n"
	"                           per-ring keys (stream, replicas, max_pending...) go in\n"
	"                           the config file\n"
	"  -m, --mode MODE          default mode of rings: core (at most once, lowest\n"
	"                           latency, losses counted) or jetstream (at least once\n"
	"                           into a stream, de-duplicated, applied once per bus)\n"
	"  -P, --policy POLICY      default for rings while NATS is unreachable or\n"
	"                           max_pending is reached: block (hold the ring: its\n"
	"                           producers see it full) or drop (count and drop)\n"
	"      --max-pending SIZE   default per-ring bound on bytes held or in flight\n"
	"                           (default 4M)\n"
	"      --batch N            messages per publish batch / fetch, 1..1024 (default 256)\n"
	"      --flush HOW          immediate (default): a batch that empties its ring is\n"
	"                           written at once; coalesce: the client library writes\n"
	"                           within 1 ms (fewer writes, higher latency)\n"
	"      --replicas N         replicas of streams the uplink creates (default 1)\n"
	"      --name NAME          connection name shown by the server (default hermes-nats)\n"
	"      --state FILE         state and counters file (default\n"
	"                           /dev/shm/hermes-nats.<bus>)\n"
	"      --reconnect-wait D   first reconnect delay, doubled each round (default 100ms)\n"
	"      --reconnect-max-wait D  longest reconnect delay (default 2s)\n"
	"      --ack-timeout D      JetStream: resend a batch not acknowledged by then (5s)\n"
	"  authentication and TLS (passed to the NATS client library):\n"
	"      --user USER          user name; the password from --password-file FILE or\n"
	"                           $HERMES_NATS_PASSWORD (never on the command line)\n"
	"      --password-file FILE\n"
	"      --token-file FILE    token ($HERMES_NATS_TOKEN also works)\n"
	"      --nkey PUBKEY --nkey-seed FILE   NKey authentication\n"
	"      --creds FILE         user credentials file (JWT and NKey seed)\n"
	"      --tls                require TLS (implied by tls:// URLs)\n"
	"      --tls-ca FILE --tls-cert FILE --tls-key FILE --tls-hostname NAME\n"
	"      --tls-skip-verify    do not verify the server's certificate (testing only)\n"
	"  -l, --log-level LEVEL    error, warn, info (default) or debug\n"
	"      --check-config       validate the configuration, print it, and exit\n"
	"      --stats              print the counters of the uplink of --bus and exit\n"
	"      --json               with --stats: one JSON object\n"
	"  -h, --help               this text\n"
	"  -V, --version            print the version\n"
	"\n"
	"Durations: 250ms, 2s, 1m (a bare number is milliseconds). Sizes: 64K, 4M, 1G.\n"
	"Messages carry the NATS headers Hermes-Origin (bus id, hex), Hermes-Seq (ring\n"
	"sequence), Hermes-Ring and Hermes-Pub-Seq (1, 2, 3... per origin and ring; a\n"
	"receiver counts a jump as lost messages); JetStream adds Nats-Msg-Id\n"
	"ORIGIN:RING:SEQ. A message is never sent back to the bus it came from, and a\n"
	"message that came from NATS never leaves its bus again, so any topology of\n"
	"buses and NATS servers is free of loops.\n"
	"\n"
	"Counters: /dev/shm/hermes-nats.<bus> (layout in state_layout.h); see --stats.\n"
	"Signals: SIGTERM/SIGINT stop gracefully (the batch in flight is finished).\n"
	"With $NOTIFY_SOCKET set (systemd Type=notify) it reports READY=1 once its\n"
	"rings are being carried (or waited for); see hermes-nats@.service.\n"
	"Exit status: 0 after a graceful stop, 1 on errors, 2 on usage errors.\n";

/* ---- --stats ---- */

static const char *conn_name(uint64_t s)
{
	static const char *n[] = {"starting", "connected", "reconnecting", "closed", "stopped"};
	return s < 5 ? n[s] : "?";
}

static const char *worker_name(uint64_t s)
{
	static const char *n[] = {"off", "wait-ring", "wait-nats", "running", "blocked", "dropping", "ring-full"};
	return s < 7 ? n[s] : "?";
}

#define LD(p) hm_load_relaxed_u64(&(p))

static void text_of(const hm_nats_state_header *h, char *url, char *err)
{
	for (int tries = 0; tries < 100; tries++) {
		/* Seqlock read: acquire on the first load pairs with the writer's
		 * final release; the acquire fence before the re-check keeps the
		 * copies ahead of it. */
		uint64_t s1 = hm_load_acquire_u64(&h->text_seq);
		memcpy(url, h->url, sizeof h->url);
		memcpy(err, h->last_error, sizeof h->last_error);
		hm_fence_acquire();
		if (!(s1 & 1) && hm_load_relaxed_u64(&h->text_seq) == s1)
			break;
	}
	url[sizeof h->url - 1] = '\0';
	err[sizeof h->last_error - 1] = '\0';
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/* What --stats shows of the uplink as a whole. */
typedef struct stats_top {
	uint64_t pid;
	bool alive;
	double heartbeat_age;
	char url[256], last[256];
} stats_top;

static void json_top(FILE *f, const hm_nats_state_header *h, const stats_top *t)
{
	fprintf(f, "{\"bus\":");
	json_str(f, h->bus);
	fprintf(f, ",\"bus_id\":\"%016" PRIx64 "\",\"pid\":%" PRIu64 ",\"alive\":%s,"
		   "\"heartbeat_age_s\":%.3f,\"runs\":%" PRIu64 ",\"prefix\":",
		h->bus_id, t->pid, t->alive ? "true" : "false", t->heartbeat_age, LD(h->runs));
	json_str(f, h->prefix);
	fprintf(f, ",\"nats\":{\"state\":\"%s\",\"url\":", conn_name(LD(h->conn_state)));
	json_str(f, t->url);
	fprintf(f, ",\"connects\":%" PRIu64 ",\"disconnects\":%" PRIu64 ",\"reconnects\":%" PRIu64
		   ",\"errors\":%" PRIu64 ",\"last_error\":",
		LD(h->connects), LD(h->disconnects), LD(h->reconnects), LD(h->errors));
	json_str(f, t->last);
	fprintf(f, "},\"rings\":[");
}

static void text_top(const hm_nats_state_header *h, const stats_top *t)
{
	printf("uplink of bus '%s' (id %016" PRIx64 "): %s", h->bus, h->bus_id,
	       t->alive ? "running" : "not running");
	if (t->alive)
		printf(" (pid %" PRIu64 ", heartbeat %.1f s ago)", t->pid, t->heartbeat_age);
	printf(", prefix '%s'\n", h->prefix);
	printf("nats: %s %s; connects %" PRIu64 ", disconnects %" PRIu64 ", reconnects %" PRIu64
	       ", errors %" PRIu64 "\n",
	       conn_name(LD(h->conn_state)), t->url, LD(h->connects), LD(h->disconnects),
	       LD(h->reconnects), LD(h->errors));
	if (t->last[0])
		printf("last error: %s\n", t->last);
	printf("%-16s %-4s %-9s %-6s %-9s %10s %9s %8s %9s %9s %9s | %-9s %10s %8s %8s %8s\n",
	       "RING", "DIR", "MODE", "POLICY", "OUT", "SENT", "DROPPED", "BLOCKED", "LOOP_SKIP",
	       "PENDING", "PEND_MAX", "IN", "RECEIVED", "OWN_SKIP", "LOST", "DUP_SKIP");
}

static void json_ring(FILE *f, const hm_nats_ring_state *r, bool first)
{
	fprintf(f, "%s{\"name\":", first ? "" : ",");
	json_str(f, r->name);
	fprintf(f, ",\"subject\":");
	json_str(f, r->subject);
	fprintf(f, ",\"stream\":");
	json_str(f, r->stream);
	fprintf(f,
		",\"direction\":\"%s\",\"mode\":\"%s\",\"policy\":\"%s\","
		"\"max_pending\":%" PRIu64 ",\"out\":{\"state\":\"%s\",\"msgs\":%" PRIu64
		",\"bytes\":%" PRIu64 ",\"batches\":%" PRIu64 ",\"dropped\":%" PRIu64
		",\"dropped_bytes\":%" PRIu64 ",\"blocked_events\":%" PRIu64
		",\"blocked_ns\":%" PRIu64 ",\"skipped_inbound\":%" PRIu64
		",\"ring_lost\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"retries\":%" PRIu64
		",\"duplicates\":%" PRIu64 ",\"pending_bytes\":%" PRIu64
		",\"pending_max\":%" PRIu64 ",\"next_seq\":%" PRIu64 ",\"pub_count\":%" PRIu64
		"},",
		hm_nats_dir_name(r->dir), hm_nats_mode_name(r->mode), hm_nats_policy_name(r->policy),
		r->max_pending, worker_name(LD(r->out.state)), LD(r->out.msgs),
		LD(r->out.bytes), LD(r->out.batches), LD(r->out.dropped),
		LD(r->out.dropped_bytes), LD(r->out.blocked_events), LD(r->out.blocked_ns),
		LD(r->out.skipped_inbound), LD(r->out.ring_lost), LD(r->out.errors),
		LD(r->out.retries), LD(r->out.duplicates), LD(r->out.pending_bytes),
		LD(r->out.pending_max), LD(r->out.next_seq), LD(r->out.pub_count));
	fprintf(f,
		"\"in\":{\"state\":\"%s\",\"msgs\":%" PRIu64 ",\"bytes\":%" PRIu64
		",\"batches\":%" PRIu64 ",\"own_skipped\":%" PRIu64 ",\"dup_skipped\":%" PRIu64
		",\"lost\":%" PRIu64 ",\"gap_events\":%" PRIu64 ",\"client_dropped\":%" PRIu64
		",\"too_big\":%" PRIu64 ",\"ring_full_events\":%" PRIu64 ",\"errors\":%" PRIu64
		",\"consumer_resets\":%" PRIu64 ",\"resolved\":%" PRIu64
		",\"pending_bytes\":%" PRIu64 ",\"applied_stream_seq\":%" PRIu64 "}}",
		worker_name(LD(r->in.state)), LD(r->in.msgs), LD(r->in.bytes),
		LD(r->in.batches), LD(r->in.own_skipped), LD(r->in.dup_skipped),
		LD(r->in.lost), LD(r->in.gap_events), LD(r->in.client_dropped),
		LD(r->in.too_big), LD(r->in.ring_full_events), LD(r->in.errors),
		LD(r->in.consumer_resets), LD(r->in.resolved), LD(r->in.pending_bytes),
		LD(r->inp.applied));
}

static void text_ring(const hm_nats_ring_state *r)
{
	printf("%-16s %-4s %-9s %-6s %-9s %10" PRIu64 " %9" PRIu64 " %7.1fs %9" PRIu64
	       " %9" PRIu64 " %9" PRIu64 " | %-9s %10" PRIu64 " %8" PRIu64 " %8" PRIu64
	       " %8" PRIu64 "\n",
	       r->name, hm_nats_dir_name(r->dir), hm_nats_mode_name(r->mode),
	       hm_nats_policy_name(r->policy), worker_name(LD(r->out.state)), LD(r->out.msgs),
	       LD(r->out.dropped), (double)LD(r->out.blocked_ns) / 1e9,
	       LD(r->out.skipped_inbound), LD(r->out.pending_bytes),
	       LD(r->out.pending_max), worker_name(LD(r->in.state)), LD(r->in.msgs),
	       LD(r->in.own_skipped), LD(r->in.lost), LD(r->in.dup_skipped));
}

static int print_stats(const char *path, bool json)
{
	const hm_nats_state_header *h;
	if (hm_nats_state_map_readonly(path, &h))
		return hm_cli_fail("hermes-nats", 1, hermes_last_error_detail());
	stats_top t = {.pid = LD(h->pid)};
	t.alive = t.pid && hm_proc_alive((pid_t)t.pid, LD(h->start_time));
	uint64_t now = hm_clock_ns(CLOCK_REALTIME);
	t.heartbeat_age = (double)(now - LD(h->heartbeat_ns)) / 1e9;
	text_of(h, t.url, t.last);
	FILE *f = stdout;
	if (json)
		json_top(f, h, &t);
	else
		text_top(h, &t);
	bool first = true;
	for (unsigned i = 0; i < HM_NATS_STATE_MAX_RINGS; i++) {
		const hm_nats_ring_state *r = hm_nats_state_ring((hm_nats_state_header *)h, i);
		if (!hm_load_acquire_u32(&r->configured))
			continue;
		if (json)
			json_ring(f, r, first);
		else
			text_ring(r);
		first = false;
	}
	if (json)
		fprintf(f, "]}\n");
	hm_nats_state_unmap(h);
	return 0;
}

/* ---- running ---- */

static hm_nats_uplink g_up;

enum {
	OPT_MAXPEND = 256, OPT_BATCH, OPT_FLUSH, OPT_REPLICAS, OPT_NAME, OPT_STATE, OPT_RWAIT,
	OPT_RMAX, OPT_ACK, OPT_USER, OPT_PWFILE, OPT_TOKFILE, OPT_NKEY, OPT_NKEYSEED, OPT_CREDS,
	OPT_TLS, OPT_TLSCA, OPT_TLSCERT, OPT_TLSKEY, OPT_TLSHOST, OPT_TLSSKIP, OPT_CHECK, OPT_STATS,
	OPT_JSON,
};

/* The flags: each sets the config key of the same name (in [uplink] unless
 * it says [nats]) through the code that reads the file. */
static const hm_cli_flag flags[] = {
	{"config", 'c', required_argument, NULL, NULL, NULL},
	{"bus", 'b', required_argument, "uplink", "bus", NULL},
	{"url", 'u', required_argument, "uplink", "url", NULL},
	{"prefix", 'p', required_argument, "uplink", "prefix", NULL},
	{"ring", 'r', required_argument, "uplink", "ring", NULL},
	{"mode", 'm', required_argument, "uplink", "mode", NULL},
	{"policy", 'P', required_argument, "uplink", "policy", NULL},
	{"max-pending", OPT_MAXPEND, required_argument, "uplink", "max_pending", NULL},
	{"batch", OPT_BATCH, required_argument, "uplink", "batch", NULL},
	{"flush", OPT_FLUSH, required_argument, "uplink", "flush", NULL},
	{"replicas", OPT_REPLICAS, required_argument, "uplink", "replicas", NULL},
	{"name", OPT_NAME, required_argument, "uplink", "name", NULL},
	{"state", OPT_STATE, required_argument, "uplink", "state", NULL},
	{"reconnect-wait", OPT_RWAIT, required_argument, "uplink", "reconnect_wait", NULL},
	{"reconnect-max-wait", OPT_RMAX, required_argument, "uplink", "reconnect_max_wait", NULL},
	{"ack-timeout", OPT_ACK, required_argument, "uplink", "ack_timeout", NULL},
	{"user", OPT_USER, required_argument, "nats", "user", NULL},
	{"password-file", OPT_PWFILE, required_argument, "nats", "password_file", NULL},
	{"token-file", OPT_TOKFILE, required_argument, "nats", "token_file", NULL},
	{"nkey", OPT_NKEY, required_argument, "nats", "nkey", NULL},
	{"nkey-seed", OPT_NKEYSEED, required_argument, "nats", "nkey_seed", NULL},
	{"creds", OPT_CREDS, required_argument, "nats", "creds", NULL},
	{"tls", OPT_TLS, no_argument, "nats", "tls", "true"},
	{"tls-ca", OPT_TLSCA, required_argument, "nats", "tls_ca", NULL},
	{"tls-cert", OPT_TLSCERT, required_argument, "nats", "tls_cert", NULL},
	{"tls-key", OPT_TLSKEY, required_argument, "nats", "tls_key", NULL},
	{"tls-hostname", OPT_TLSHOST, required_argument, "nats", "tls_hostname", NULL},
	{"tls-skip-verify", OPT_TLSSKIP, no_argument, "nats", "tls_skip_verify", "true"},
	{"log-level", 'l', required_argument, "uplink", "log_level", NULL},
	{"check-config", OPT_CHECK, no_argument, NULL, NULL, NULL},
	{"stats", OPT_STATS, no_argument, NULL, NULL, NULL},
	{"json", OPT_JSON, no_argument, NULL, NULL, NULL},
	{"help", 'h', no_argument, NULL, NULL, NULL},
	{"version", 'V', no_argument, NULL, NULL, NULL},
};

/* --stats and --json, the flags the command line handles itself. */
typedef struct nats_cli {
	bool stats, json;
} nats_cli;

static int stats_flags(void *user, const hm_cli_flag *flag, const char *arg)
{
	(void)arg;
	nats_cli *cli = user;
	if (flag->id == OPT_STATS)
		cli->stats = true;
	else
		cli->json = true;
	return -1;
}

static bool url_flag_seen;

static hermes_err set_flag(void *cfg, const char *section, const char *key, const char *value)
{
	hm_nats_config *c = cfg;
	if (!strcmp(key, "ring"))
		return hm_nats_config_ring_spec(c, value);
	if (!strcmp(key, "url") && !url_flag_seen) {
		/* The first --url replaces the file's and environment's list. */
		url_flag_seen = true;
		c->nurls = 0;
		c->urls_from_file = true;
	}
	return hm_nats_config_set(c, section, key, value);
}

/* The configuration: defaults and the environment, the file, then every
 * flag over it. Returns -1 to go on, else the exit status. */
static int configure(hm_nats_config *c, const hm_cli *cli)
{
	hm_nats_config_defaults(c);
	if (cli->config && hm_nats_config_load_file(c, cli->config) != HERMES_OK)
		return hm_cli_fail("hermes-nats", 1, hermes_last_error_detail());
	return hm_cli_apply(cli, "hermes-nats", set_flag, c);
}

static int stats_of(const hm_nats_config *c, bool json)
{
	char path[HM_NATS_PATH_MAX];
	if (c->state_path[0])
		snprintf(path, sizeof path, "%s", c->state_path);
	else
		snprintf(path, sizeof path, HM_NATS_STATE_PATH_FORMAT, c->bus);
	return print_stats(path, json);
}

static void init_sync(hm_nats_uplink *up)
{
	pthread_mutex_init(&up->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&up->cv, &ca);
	pthread_condattr_destroy(&ca);
}

/* A slot of the state file for every configured ring. */
static bool claim_rings(hm_nats_uplink *up)
{
	const hm_nats_config *c = &up->cfg;
	for (unsigned i = 0; i < c->nrings; i++) {
		hm_nats_ring_ctx *r = &up->rings[up->nrings++];
		r->up = up;
		r->cfg = &c->rings[i];
		r->rs = hm_nats_state_ring_claim(up->st, r->cfg);
		if (!r->rs) {
			hm_dlog(HM_DLOG_ERROR, "no room for ring '%s' in %s", r->cfg->name, c->state_path);
			return false;
		}
		if (r->cfg->dir != HM_NATS_DIR_BOTH)
			hm_nats_range_reset(r->rs);
	}
	return true;
}

static void start_workers(hm_nats_uplink *up)
{
	for (unsigned i = 0; i < up->nrings; i++) {
		hm_nats_ring_ctx *r = &up->rings[i];
		if ((r->cfg->dir & HM_NATS_DIR_OUT) &&
		    pthread_create(&r->out_thread, NULL, hm_nats_out_main, r) == 0)
			r->out_started = true;
		if ((r->cfg->dir & HM_NATS_DIR_IN) && pthread_create(&r->in_thread, NULL, hm_nats_in_main, r) == 0)
			r->in_started = true;
	}
}

/* Every wait for a stop signal: the heartbeat, and the end of the run (1)
 * when the NATS connection is closed for good. */
static int uplink_tick(void *arg)
{
	hm_nats_uplink *up = arg;
	hm_nats_state_heartbeat(up->st);
	if (!natsConnection_IsClosed(up->nc))
		return 0;
	/* The library gave up for good (for instance every server refused our
	 * credentials after a reconnect). Say why and exit non-zero so a
	 * supervisor (systemd Restart=on-failure) starts us again with a fresh
	 * connection. */
	const char *why = NULL;
	natsConnection_GetLastError(up->nc, &why);
	hm_dlog(HM_DLOG_ERROR, "the NATS connection is closed for good (%s); exiting",
		why && *why ? why : "no reason given");
	return 1;
}

static void stop_workers(hm_nats_uplink *up)
{
	atomic_store(&up->stop, true);
	pthread_mutex_lock(&up->mu);
	pthread_cond_broadcast(&up->cv);
	pthread_mutex_unlock(&up->mu);
	for (unsigned i = 0; i < up->nrings; i++) {
		if (up->rings[i].out_started)
			pthread_join(up->rings[i].out_thread, NULL);
		if (up->rings[i].in_started)
			pthread_join(up->rings[i].in_thread, NULL);
	}
	hm_nats_flush_stop(up);
	/* What core mode handed to the library goes out before we close. */
	if (hm_nats_connected(up))
		natsConnection_FlushTimeout(up->nc, HM_NATS_CLOSE_TIMEOUT_MS);
}

static void close_nats(hm_nats_uplink *up)
{
	if (up->nc) {
		natsConnection_Close(up->nc);
		natsConnection_Destroy(up->nc);
	}
	natsOptions_Destroy(up->opts);
	nats_CloseAndWait(HM_NATS_CLOSE_TIMEOUT_MS);
}

/* The state file after a run that ended with rc; seg is the bus's segment. */
static void close_state(hm_nats_uplink *up, int rc, const char *seg)
{
	if (rc == 0)
		hm_nats_state_conn(up->st, HM_NATS_CONN_STOPPED, NULL, NULL);
	else if (hm_load_relaxed_u64(&up->st->conn_state) != HM_NATS_CONN_CLOSED)
		hm_nats_state_conn(up->st, HM_NATS_CONN_CLOSED, NULL, NULL);
	hm_nats_set(&up->st->pid, 0);
	hermes_bus_detach(up->bus);
	/* The state lives as long as the bus: when the bus is gone (hermesd
	 * removed it), so is the reason to keep it. */
	if (access(seg, F_OK) != 0 && errno == ENOENT)
		unlink(up->cfg.state_path);
	close(up->state_fd);
}

/* Attach, open the state file, connect, carry the rings until told to stop.
 * Returns the exit status. */
static int run(hm_nats_uplink *up, const sigset_t *sigs)
{
	const hm_nats_config *c = &up->cfg;
	hermes_err aerr = hm_daemon_attach(c->bus, sigs, &up->bus);
	if (aerr == HERMES_ECLOSED)
		return 0; /* told to stop while waiting for the bus */
	if (aerr != HERMES_OK)
		return 1;
	up->bus_id = hermes_bus_id(up->bus);
	snprintf(up->origin, sizeof up->origin, "%016" PRIx64, up->bus_id);
	char seg[128];
	snprintf(seg, sizeof seg, "/dev/shm/hermes.%s", c->bus);
	if (hm_nats_state_open(c->state_path, c->bus, up->bus_id, seg, &up->st, &up->state_fd)) {
		hm_dlog(HM_DLOG_ERROR, "%s", hermes_last_error_detail());
		hermes_bus_detach(up->bus);
		return 1;
	}
	hm_nats_state_started(up->st, c->prefix);
	int rc = 1;
	if (!claim_rings(up))
		goto out;
	if (nats_Open(-1) != NATS_OK) {
		hm_dlog(HM_DLOG_ERROR, "cannot initialise the NATS library");
		goto out;
	}
	if (hm_nats_options(up) == NATS_OK && hm_nats_connect(up) == NATS_OK && hm_nats_flush_start(up)) {
		hm_dlog(HM_DLOG_INFO, "bus '%s' (id %s): %u ring%s, state %s", c->bus, up->origin,
		       c->nrings, c->nrings == 1 ? "" : "s", c->state_path);
		start_workers(up);
		/* systemd readiness (Type=notify) once the bus is attached, the
		 * state file is ours and the workers run. Readiness does not wait
		 * for NATS: an uplink whose server is down is running (and says so
		 * in its state file), it is not failing to start. */
		hm_notify_ready(NULL);
		rc = hm_daemon_wait_stop(sigs, HM_NATS_HEARTBEAT_MS, uplink_tick, up);
		stop_workers(up);
	}
	close_nats(up);
out:
	close_state(up, rc, seg);
	hm_dlog(HM_DLOG_INFO, "stopped");
	return rc;
}

int main(int argc, char **argv)
{
	nats_cli own = {0};
	char version[64];
	snprintf(version, sizeof version, " (libnats %s)", nats_GetVersion());
	const hm_cli_program program = {
		.name = "hermes-nats",
		.usage = usage_text,
		.version = version,
		.flags = flags,
		.nflags = sizeof flags / sizeof flags[0],
		.other = stats_flags,
		.user = &own,
	};
	hm_cli cli;
	int rc = hm_cli_parse(&cli, &program, argc, argv);
	if (rc >= 0)
		return rc;
	hm_nats_config *c = &g_up.cfg;
	if ((rc = configure(c, &cli)) >= 0)
		return rc;
	if (own.stats)
		return stats_of(c, own.json);
	if (hm_nats_config_finish(c) != HERMES_OK)
		return hm_cli_fail("hermes-nats", 1, hermes_last_error_detail());
	if (cli.check) {
		hm_nats_config_print(c, stdout);
		return 0;
	}
	/* Signals: handled synchronously by this thread; every thread created
	 * from here on (ours and the client library's) inherits the mask. */
	sigset_t sigs;
	hm_daemon_start(c->log_level, &sigs);
	srandom((unsigned)(hm_now_ns() ^ (uint64_t)getpid()));
	init_sync(&g_up);
	return run(&g_up, &sigs);
}
