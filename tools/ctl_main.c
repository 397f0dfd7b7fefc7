/* hermes-ctl: inspect and operate a Hermes bus.
 *
 * This file holds what every subcommand shares: global options, the command
 * table and help texts, attaching with errors that say what to do, signals,
 * and output flushing. The commands themselves live in ctl_read.c,
 * ctl_metrics.c and ctl_io.c. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shm/segment.h"
#include "tools/ctl.h"
#include "tools/ctl_gw_snap.h"

#define GLOBAL_HELP                                                                                \
	"Global options (before or after the command):\n"                                          \
	"  --bus NAME      the bus (default: $HERMES_BUS, else 'default')\n"                          \
	"  --run-dir DIR   where hermesd's control socket is (default: $HERMES_RUN_DIR, else\n"     \
	"                  the path the running hermesd recorded in the segment)\n"                 \
	"  --json          machine-readable output (list, inspect, clients, bridges, uplink)\n"      \
	"  --stats-dir DIR where hermes-bridge and hermes-nats keep their counters files\n"        \
	"                  (default /dev/shm; list, metrics, bridges, uplink)\n"                      \
	"  -h, --help      help for hermes-ctl or for one command\n"

static const ctl_cmd commands[] = {
	{"list", cmd_list, "rings with capacity, fill, rates, producers, subscribers",
	 "usage: hermes-ctl list [--interval MS] [--json]\n"
	 "\n"
	 "One line per ring: policy, capacity, fill (what the slowest subscriber holds\n"
	 "back, in bytes and % of the ring), producers, subscribers, messages ever\n"
	 "published, messages/s and bytes/s (the tail sampled twice, MS apart; default\n"
	 "200, 0 skips the rates), messages lost by subscribers, and supervisor repairs.\n"
	 "The first line names the bus, its segment and whether hermesd is up; a last\n"
	 "line sums up the bus's bridges and NATS uplink when they have counters files.\n"
	 "Reads the segment only: works while hermesd is down.\n",
	 true, true},
	{"inspect", cmd_inspect, "one ring's cursors, lag, owners and counters",
	 "usage: hermes-ctl inspect RING [--json]\n"
	 "\n"
	 "Every producer and subscriber slot in use: owner pid, client name (NAME: the\n"
	 "application name/instance it attached with, as hermesd tells; else its process\n"
	 "name), whether it is alive, cursor (sequence and position), lag behind the\n"
	 "tail in messages and bytes, wait mode, whether it sleeps, and its counters;\n"
	 "then the ring's own counters and its last sequence. Works while hermesd is\n"
	 "down.\n",
	 true},
	{"clients", cmd_clients, "processes attached to the bus",
	 "usage: hermes-ctl clients [--json]\n"
	 "\n"
	 "Processes connected to hermesd (pid, client name and instance they attached\n"
	 "with, process name, uid, since when), merged with the owners of producer and\n"
	 "subscriber slots and what each holds. With hermesd down, the slot owners only\n"
	 "(no client names).\n",
	 true},
	{"tail", cmd_tail, "print a ring's messages as they come",
	 "usage: hermes-ctl tail RING [--from earliest|latest|SEQ] [--count N]\n"
	 "                            [--format text|hex|json] [--remote HOST:PORT]\n"
	 "                            [--journal DIR]\n"
	 "\n"
	 "Subscribes to RING and prints each message on its own line until Ctrl-C,\n"
	 "SIGTERM or N messages (exit status 0).\n"
	 "  --from      where to start: the oldest retained message, only new ones\n"
	 "              (the default), or a sequence number\n"
	 "  --count N   stop after N messages\n"
	 "  --format    text: the payload, with \\\\ \\n \\r \\t and \\xNN for anything not\n"
	 "              printable ASCII (default); hex: '<seq> <hex bytes>';\n"
	 "              json: {\"seq\":N,\"len\":N,\"tag\":N,\"data\":\"<base64>\"}\n"
	 "              (a user tag shows as 'tag=0x2a ' before the payload in text\n"
	 "              and hex, only when the message has one)\n"
	 "  --remote    subscribe through the hermes-bridge at HOST:PORT instead of\n"
	 "              the local segment (identity, key file and encryption from\n"
	 "              $HERMES_NET_IDENTITY, $HERMES_NET_KEY_FILE, $HERMES_NET_ENCRYPT)\n"
	 "  --journal   with --from SEQ or earliest: read what the ring no longer holds\n"
	 "              from the ring's journal DIR (hermes-journal), then go on live\n"
	 "              from the ring without gap or duplicate; journal only when the\n"
	 "              bus is not there\n"
	 "Lost messages (an overwrite ring lapped the subscriber) and skipped sequences\n"
	 "(aborted or repaired claims) are reported on stderr.\n",
	 false},
	{"pub", cmd_pub, "publish a message (or one per line of stdin)",
	 "usage: hermes-ctl pub RING [MESSAGE] [--hex] [--timeout MS] [--print-seq]\n"
	 "                           [--tag TAG] [--remote HOST:PORT]\n"
	 "\n"
	 "Publishes MESSAGE, or each line of stdin (without its newline) when MESSAGE\n"
	 "is absent.\n"
	 "  --hex         MESSAGE and lines are hex bytes (spaces allowed between bytes)\n"
	 "  --timeout MS  how long to wait for room on a full block ring (default 5000)\n"
	 "  --print-seq   print each message's sequence number\n"
	 "  --tag TAG     the messages' user tag (hermes_msg.tag), 1..4294967295,\n"
	 "                decimal or 0x hex\n"
	 "  --remote      publish through the hermes-bridge at HOST:PORT, each message\n"
	 "                acknowledged with its ring sequence (auth as for tail)\n",
	 false},
	{"keygen", cmd_keygen, "make a key pair (or a pre-shared key) for a bridge identity",
	 "usage: hermes-ctl keygen NAME [--server-key HEX | --psk] [--out FILE]\n"
	 "\n"
	 "Writes the secret half of a new X25519 key pair for NAME to FILE (default\n"
	 "NAME.key), mode 0600, refusing to overwrite, and prints the public half\n"
	 "(public_key = HEX) for the bridge's auth file ([identity NAME] public_key =\n"
	 "HEX). --server-key HEX pins the bridge's public key in the file, which the\n"
	 "client then uses ($HERMES_NET_KEY_FILE): public-key mode. --psk writes a\n"
	 "pre-shared key instead (the same file goes into the auth file as key_file).\n"
	 "Needs a build with libsodium.\n",
	 false},
	{"create", cmd_create, "create a ring (through hermesd)",
	 "usage: hermes-ctl create RING --capacity SIZE [--max-msg SIZE]\n"
	 "                              [--policy block|overwrite] [--slots N]\n"
	 "\n"
	 "Asks hermesd to create RING. SIZE takes K, M, G suffixes (1K = 1024).\n"
	 "  --capacity   data bytes: a power of two, 4K .. 4G\n"
	 "  --max-msg    largest message (default: capacity/8, at most 64K)\n"
	 "  --policy     block (reliable, default) or overwrite (lossy)\n"
	 "  --slots      messages the ring can hold: a power of two >= 64\n"
	 "               (default capacity/64)\n",
	 false},
	{"delete", cmd_delete, "delete a ring (through hermesd)",
	 "usage: hermes-ctl delete RING [--force]\n"
	 "\n"
	 "Asks hermesd to delete RING. Refused while producers or subscribers have it\n"
	 "open, unless --force: then their next blocking call reports the ring closed.\n",
	 false},
	{"destroy", cmd_destroy, "remove a bus's segment (nothing may be attached)",
	 "usage: hermes-ctl destroy BUS [--force]\n"
	 "\n"
	 "Removes /dev/shm/hermes.BUS, with every ring and message in it (to resize a\n"
	 "bus, or to clear a corrupt one). Refused while a hermesd holds the bus or any\n"
	 "process maps the segment, unless --force: then processes that have it mapped\n"
	 "keep their mapping until they exit, and a running hermesd stops.\n",
	 false},
	{"watch", cmd_watch, "live view of rates, fill and lag",
	 "usage: hermes-ctl watch [--interval MS] [--iterations N]\n"
	 "\n"
	 "Refreshes every MS milliseconds (default 1000): per ring message and byte\n"
	 "rates, a fill bar, and each subscriber's lag. Full-screen on a terminal\n"
	 "(Ctrl-C exits and restores it); otherwise one plain block per refresh.\n"
	 "  --iterations N   stop after N refreshes\n",
	 false},
	{"metrics", cmd_metrics, "counters in Prometheus text format",
	 "usage: hermes-ctl metrics [--serve ADDR:PORT [--allow-remote]]\n"
	 "\n"
	 "Prints every counter of the bus in the Prometheus text exposition format.\n"
	 "  --serve ADDR:PORT   serve GET /metrics over HTTP instead, on a loopback\n"
	 "                      address (127.0.0.1:9464, [::1]:9464, localhost:9464;\n"
	 "                      port 0 picks a free one); stops on SIGTERM or Ctrl-C\n"
	 "  --allow-remote      let --serve listen on any address (no authentication:\n"
	 "                      only behind a firewall that admits the scraper)\n"
	 "The counters of the bus's bridges and NATS uplink (their files in --stats-dir)\n"
	 "are included. Producer and subscriber series are labelled slot, client (the\n"
	 "application name the process attached with; its process name when hermesd\n"
	 "does not say), client_instance (\"\" for none) and pid.\n",
	 false, true},
	{"journal", cmd_journal, "a ring's journal on disk: list, inspect, verify",
	 "usage: hermes-ctl journal list|inspect|verify DIR [--json]\n"
	 "\n"
	 "Reads the journal hermes-journal writes for a ring (its 'journal = DIR'),\n"
	 "read-only; the bus and the recorder need not run.\n"
	 "  list      every segment file: first and next sequence, messages, bytes,\n"
	 "            how full, sealed/open/torn, created, last record\n"
	 "  inspect   the sequences covered, problems found, the recorder's counters\n"
	 "  verify    checks every record's CRC32C and the sequence chain across files;\n"
	 "            prints each corrupt record by sequence, torn tails and holes;\n"
	 "            exit status 1 when a record is corrupt, a file unreadable or\n"
	 "            sequences missing between files\n",
	 true},
	{"durable", cmd_durable, "drop a durable subscriber whose process is gone",
	 "usage: hermes-ctl durable drop RING NAME\n"
	 "\n"
	 "A durable subscriber (hermes-journal with durable = true, or any\n"
	 "hermes_sub_open_durable) keeps its cursor when its process dies or stops:\n"
	 "'inspect RING' shows it as \"durable, orphaned\", and on a block ring it holds\n"
	 "producers back until its process comes back and adopts it. 'drop' frees it,\n"
	 "so producers go on; what they publish meanwhile is not recorded by it.\n"
	 "Refused while a live process has it open.\n",
	 false},
	{"bridges", cmd_bridges, "TCP bridges of the bus: connections, frames, links",
	 "usage: hermes-ctl bridges [--stats-dir DIR] [--json]\n"
	 "\n"
	 "Every hermes-bridge serving the bus, from its counters file\n"
	 "DIR/hermes-bridge.BUS.PORT (DIR: --stats-dir, default /dev/shm): pid and\n"
	 "whether it runs, listen address, connections open and accepted, handshakes,\n"
	 "authentication failures, protocol errors, frames and bytes in and out,\n"
	 "publishes, acks, delivers, drops, loss notices, slow-subscriber disconnects;\n"
	 "then each link to another bridge: peer, state, messages exported and\n"
	 "imported, export lag, duplicates and losses. Needs neither hermesd nor the\n"
	 "bridge's cooperation.\n",
	 true, true},
	{"uplink", cmd_uplink, "the NATS uplink of the bus: connection, per-ring counters",
	 "usage: hermes-ctl uplink [--stats-dir DIR] [--json]\n"
	 "\n"
	 "The hermes-nats uplink of the bus, from its state file DIR/hermes-nats.BUS\n"
	 "(DIR: --stats-dir, default /dev/shm): pid, whether it runs, heartbeat, the\n"
	 "NATS connection (state, server URL, last error) and, per ring, direction,\n"
	 "mode, policy, the state of each direction and its counters: messages and\n"
	 "bytes, dropped, blocked, skipped (loop prevention, duplicates) and lost.\n"
	 "A bus without an uplink is not an error.\n",
	 true, true},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
	fprintf(f, "usage: hermes-ctl [global options] COMMAND [options]\n\n"
		   "Inspect and operate a Hermes bus. Commands:\n");
	for (unsigned i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n" GLOBAL_HELP
		   "  -V, --version   print the version\n"
		   "\n"
		   "'hermes-ctl COMMAND --help' describes a command. Exit status: 0 ok, 1 error,\n"
		   "2 usage error.\n");
}

static void command_help(const ctl_cmd *cmd, FILE *f)
{
	fputs(cmd->help, f);
	fputs("\n" GLOBAL_HELP, f);
}

void ctl_error(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	fflush(stdout);
	fprintf(stderr, "hermes-ctl: %s\n", buf);
}

int ctl_usage_error(const ctl_ctx *ctx, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (ctx && ctx->cmd)
		fprintf(stderr, "hermes-ctl %s: %s (see 'hermes-ctl %s --help')\n", ctx->cmd->name, buf,
			ctx->cmd->name);
	else
		fprintf(stderr, "hermes-ctl: %s (see 'hermes-ctl --help')\n", buf);
	return CTL_EXIT_USAGE;
}

int ctl_common_option(ctl_ctx *ctx, int c, char **argv)
{
	switch (c) {
	case CTL_OPT_BUS:
		ctx->bus = optarg;
		return -1;
	case CTL_OPT_RUN_DIR:
		ctx->run_dir = optarg;
		return -1;
	case CTL_OPT_STATS_DIR:
		if (!ctx->cmd->stats_dir)
			return ctl_usage_error(ctx, "--stats-dir is not supported here");
		if (!*optarg)
			return ctl_usage_error(ctx, "--stats-dir wants a directory");
		ctx->stats_dir = optarg;
		return -1;
	case CTL_OPT_JSON:
		if (!ctx->cmd->json)
			return ctl_usage_error(ctx, "--json is not supported here%s",
					       !strcmp(ctx->cmd->name, "tail") ? "; use --format json" : "");
		ctx->json = true;
		return -1;
	case 'h':
	case CTL_OPT_HELP:
		command_help(ctx->cmd, stdout);
		return CTL_EXIT_OK;
	case ':':
		return ctl_usage_error(ctx, "option '%s' needs a value", argv[optind - 1]);
	case '?':
		if (optopt)
			return ctl_usage_error(ctx, "unknown option '-%c'", optopt);
		return ctl_usage_error(ctx, "unknown option '%s'", argv[optind - 1]);
	default:
		return ctl_usage_error(ctx, "unexpected option");
	}
}

int ctl_operands(const ctl_ctx *ctx, int argc, char **argv, int n, const char *missing)
{
	if (argc - optind < n)
		return ctl_usage_error(ctx, "%s", missing);
	if (argc - optind > n)
		return ctl_usage_error(ctx, "unexpected argument '%s'", argv[optind + n]);
	return -1;
}

int ctl_common_options_only(ctl_ctx *ctx, int argc, char **argv, int n, const char *missing)
{
	static const struct option opts[] = {
		CTL_COMMON_OPTIONS,
		{0},
	};
	int c, r;
	while ((c = getopt_long(argc, argv, CTL_COMMON_SHORT, opts, NULL)) != -1)
		if ((r = ctl_common_option(ctx, c, argv)) >= 0)
			return r;
	return n < 0 ? -1 : ctl_operands(ctx, argc, argv, n, missing);
}

int ctl_check_bus_name(const ctl_ctx *ctx)
{
	if (hm_segment_name_ok(ctx->bus))
		return CTL_EXIT_OK;
	return ctl_usage_error(ctx,
			       "bad bus name '%s': 1..%d characters of A-Z a-z 0-9 . _ - "
			       "(not starting with '.')",
			       ctx->bus, HERMES_NAME_MAX);
}

int ctl_attach(const ctl_ctx *ctx, bool readonly, hermes_bus **bus)
{
	const char *name = ctx->bus;
	int r = ctl_check_bus_name(ctx);
	if (r != CTL_EXIT_OK)
		return r;
	hermes_err err = readonly ? hermes_bus_attach_readonly(name, bus) : hermes_bus_attach(name, bus);
	if (err == HERMES_OK)
		return CTL_EXIT_OK;
	char path[96];
	snprintf(path, sizeof path, "/dev/shm/hermes.%s", name);
	switch (err) {
	case HERMES_ENOENT:
		ctl_error("bus '%s': %s does not exist; is hermesd running? (hermesd --bus %s)", name,
			  path, name);
		break;
	case HERMES_EACCES:
		ctl_error("bus '%s': %s: permission denied; the segment's owner, group and mode "
			  "decide who may attach (ls -l %s)",
			  name, path, path);
		break;
	case HERMES_ENOTREADY:
		ctl_error("bus '%s': %s is still being created; retry in a moment", name, path);
		break;
	default:
		ctl_error("bus '%s': %s: %s (%s)", name, path, hermes_strerror(err),
			  hermes_last_error_detail());
		break;
	}
	return CTL_EXIT_ERR;
}

void ctl_control_path(const ctl_ctx *ctx, hermes_bus *bus, char *buf, size_t len)
{
	if (ctx->run_dir && *ctx->run_dir) {
		snprintf(buf, len, "%s/%s.sock", ctx->run_dir, ctx->bus);
		return;
	}
	size_t n = sizeof bus->hdr->control_path;
	if (n > len)
		n = len;
	memcpy(buf, bus->hdr->control_path, n);
	buf[n - 1] = '\0';
}

/* ---- signals -------------------------------------------------------------- */

volatile sig_atomic_t ctl_stop;
static bool signals_installed;
static sigset_t unblocked; /* the mask to sleep with: INT and TERM deliverable */

static void on_signal(int sig)
{
	(void)sig;
	ctl_stop = 1;
}

/* With `block` (watch, metrics --serve), INT and TERM stay blocked except
 * while we sleep in ppoll (ctl_nap, ctl_poll), which unblocks them
 * atomically: a signal that arrives just before a sleep is delivered when the
 * sleep starts, so it cannot be missed for a whole interval. Without `block`
 * (tail, pub), the handler interrupts whatever blocks (a futex wait, a read
 * of stdin), and the caller checks ctl_stop. */
void ctl_install_signals(bool block)
{
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (!block)
		return;
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, &unblocked);
	sigdelset(&unblocked, SIGINT);
	sigdelset(&unblocked, SIGTERM);
	signals_installed = true;
}

bool ctl_should_stop(void)
{
	if (ctl_stop)
		return true;
	sigset_t pending;
	if (sigpending(&pending) == 0 &&
	    (sigismember(&pending, SIGINT) == 1 || sigismember(&pending, SIGTERM) == 1))
		ctl_stop = 1; /* stays pending; delivered (harmlessly) by the next ppoll */
	return ctl_stop != 0;
}

bool ctl_nap(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	if (ctl_should_stop())
		return false;
	ppoll(NULL, 0, &ts, signals_installed ? &unblocked : NULL);
	return !ctl_stop;
}

int ctl_poll(struct pollfd *fds, nfds_t n, int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	if (ctl_should_stop())
		return -1;
	return ppoll(fds, n, ms < 0 ? NULL : &ts, signals_installed ? &unblocked : NULL);
}

int ctl_flush(bool *closed)
{
	if (fflush(stdout) == 0)
		return CTL_EXIT_OK;
	if (errno == EPIPE) {
		if (closed)
			*closed = true;
		return CTL_EXIT_OK;
	}
	int e = errno;
	fprintf(stderr, "hermes-ctl: writing output: %s\n", strerror(e));
	return CTL_EXIT_ERR;
}

/* ---- main ------------------------------------------------------------------ */

static const ctl_cmd *find_command(const char *name)
{
	for (unsigned i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* The options before the command name (into *ctx; *stats_dir: --stats-dir
 * when given). Returns -1 to go on, else the exit status. */
static int global_options(ctl_ctx *ctx, int argc, char **argv, const char **stats_dir)
{
	static const struct option opts[] = {
		{"bus", required_argument, NULL, CTL_OPT_BUS},
		{"run-dir", required_argument, NULL, CTL_OPT_RUN_DIR},
		{"json", no_argument, NULL, CTL_OPT_JSON},
		{"stats-dir", required_argument, NULL, CTL_OPT_STATS_DIR},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	opterr = 0;
	int c;
	/* '+': stop at the command name; the command parses the rest. */
	while ((c = getopt_long(argc, argv, "+:hV", opts, NULL)) != -1) {
		switch (c) {
		case CTL_OPT_BUS:
			ctx->bus = optarg;
			break;
		case CTL_OPT_RUN_DIR:
			ctx->run_dir = optarg;
			break;
		case CTL_OPT_JSON:
			ctx->json = true;
			break;
		case CTL_OPT_STATS_DIR:
			if (!*optarg)
				return ctl_usage_error(NULL, "--stats-dir wants a directory");
			*stats_dir = ctx->stats_dir = optarg;
			break;
		case 'h':
			usage(stdout);
			return CTL_EXIT_OK;
		case 'V':
			printf("hermes-ctl %d.%d.%d\n", HERMES_VERSION_MAJOR, HERMES_VERSION_MINOR,
			       HERMES_VERSION_PATCH);
			return CTL_EXIT_OK;
		case ':':
			return ctl_usage_error(NULL, "option '%s' needs a value", argv[optind - 1]);
		default:
			if (optopt)
				return ctl_usage_error(NULL, "unknown option '-%c'", optopt);
			return ctl_usage_error(NULL, "unknown option '%s'", argv[optind - 1]);
		}
	}
	return -1;
}

/* `hermes-ctl help [COMMAND]`; topic is NULL for the command list. */
static int help(const char *topic)
{
	if (!topic) {
		usage(stdout);
		return CTL_EXIT_OK;
	}
	const ctl_cmd *cmd = find_command(topic);
	if (!cmd)
		return ctl_usage_error(NULL, "unknown command '%s'", topic);
	command_help(cmd, stdout);
	return CTL_EXIT_OK;
}

int main(int argc, char **argv)
{
	ctl_ctx ctx = {0};
	const char *env = getenv("HERMES_BUS");
	ctx.bus = env && *env ? env : "default";
	env = getenv("HERMES_RUN_DIR");
	ctx.run_dir = env && *env ? env : NULL;
	ctx.stats_dir = CTL_STATS_DIR_DEFAULT;
	const char *global_stats_dir = NULL;
	int r = global_options(&ctx, argc, argv, &global_stats_dir);
	if (r >= 0)
		return r;
	if (optind >= argc) {
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	const char *name = argv[optind];
	if (!strcmp(name, "help"))
		return help(optind + 1 < argc ? argv[optind + 1] : NULL);
	const ctl_cmd *cmd = find_command(name);
	if (!cmd)
		return ctl_usage_error(NULL, "unknown command '%s'", name);
	ctx.cmd = cmd;
	if (ctx.json && !cmd->json)
		return ctl_usage_error(&ctx, "--json is not supported here");
	if (global_stats_dir && !cmd->stats_dir)
		return ctl_usage_error(&ctx, "--stats-dir is not supported here");
	int sub_argc = argc - optind;
	char **sub_argv = argv + optind;
	/* 0 re-initialises getopt for the command's own argument vector, whose
	 * element 0 is the command name. */
	optind = 0;
	return cmd->run(&ctx, sub_argc, sub_argv);
}
