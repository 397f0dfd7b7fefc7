/* hermes-bridge: serve a Hermes bus over TCP, and link buses on different
 * hosts. Also `hermes-bridge keygen NAME`, which makes pre-shared key files.
 * The work is in loop.c (event loop), conn.c (protocol), feed.c (fan-out),
 * link.c (links), auth.c (libsodium). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hermes/hermes.h>

#include "tcp-bridge/client/auth.h"
#include "daemon/cli.h"
#include "daemon/log.h"
#include "daemon/sched.h"
#include "tcp-bridge/bridge/config.h"
#include "tcp-bridge/bridge/loop.h"

/* The text of --help (a table: printed as it is). */
static const char usage_text[] =
	"usage: hermes-bridge [options]\n"
	"       hermes-bridge keygen NAME [--server-key HEX | --psk] [--out FILE]\n"
	"\n"
	"Serves one Hermes bus over TCP: remote clients (libhermes-ipc's hermes_net_*\n"
	"API, docs/PROTOCOL.md) publish into its rings and subscribe to them, and links\n"
	"mirror rings between buses on different hosts. Runs in the foreground; logs to\n"
	"stderr. The bus must exist (start hermesd first).\n"
	"\n"
	"  -c, --config FILE        INI file (see hermes-bridge.conf.example); flags given\n"
	"                           on the command line override it\n"
	"  -b, --bus NAME           bus to serve (default: $HERMES_BUS, else 'default')\n"
	"  -L, --listen ADDR:PORT   where to listen (default 127.0.0.1:7400; port 0 picks\n"
	"                           a free one, reported in the log and to systemd).\n"
	"                           A non-loopback address needs --auth or --insecure\n"
	"  -a, --auth FILE          identities, their key files and permissions (INI:\n"
	"                           [identity NAME] key_file=, publish=, subscribe=,\n"
	"                           hold=, link=); with it every client must authenticate\n"
	"      --allow-anonymous    serve clients that do not authenticate (with every\n"
	"                           permission). Without --auth this must be given: any\n"
	"                           local user can reach a loopback listener, whatever\n"
	"                           the bus's file mode\n"
	"      --encrypt MODE       required (default: refuse authenticated clients that\n"
	"                           do not encrypt), optional (opt-out: plaintext when the\n"
	"                           client does not ask) or off\n"
	"      --insecure           allow a non-loopback listen address without --auth\n"
	"  -k, --link SPEC          link to another bridge: HOST:PORT/RING[,RING...],\n"
	"                           each RING optionally :in (subscribe there, publish\n"
	"                           here), :out (the reverse) or :both (default).\n"
	"                           Repeatable. Example: --link 10.0.0.2:7400/orders,quotes:in\n"
	"      --link-identity NAME identity the --link connections authenticate as\n"
	"      --link-key FILE      its key file (made with 'keygen')\n"
	"      --link-encrypt       require encryption on the --link sessions (the\n"
	"                           default with --link-key)\n"
	"      --link-plaintext     do not encrypt the --link sessions (opt-out)\n"
	"      --name NAME          server name sent to clients (default hermes-bridge@HOST)\n"
	"      --key FILE           the bridge's X25519 secret key (keygen --pair): clients\n"
	"                           with a public_key in the auth file authenticate by it\n"
	"      --bus-id N           this bus's origin id on links (default: random, kept\n"
	"                           in the state directory; must differ between linked buses)\n"
	"      --slow-policy P      what to do with a subscriber that cannot keep up: drop\n"
	"                           (skip ahead, send LOSS), disconnect, hold (stop its\n"
	"                           cursor: a block ring then holds back producers) or auto\n"
	"                           (default: hold on block rings, drop on overwrite rings)\n"
	"      --out-buffer SIZE    output buffer per connection, the most the bridge holds\n"
	"                           for a slow peer (default 1M; K, M, G suffixes)\n"
	"      --max-frame SIZE     largest frame accepted, header included (default 1M)\n"
	"      --max-connections N  (default 4096; raises RLIMIT_NOFILE as needed)\n"
	"      --max-connections-per-address N  from one IP address (default 256)\n"
	"      --max-connections-per-identity N of one identity, anonymous counting as\n"
	"                           one (default 1024)\n"
	"      --max-holds-per-identity N  holding subscriptions of one identity over all\n"
	"                           its connections (default 16)\n"
	"      --idle-timeout MS    PING a session silent for half of this, close it when\n"
	"                           silent for all of it (default 300000; 0: never)\n"
	"      --memory-limit SIZE  input buffers grown for frames over 64K, all\n"
	"                           connections together (default 256M)\n"
	"      --handshake-timeout MS  close connections that do not finish the handshake\n"
	"                           in time (default 10000)\n"
	"      --publish-timeout MS how long a PUBLISH waits for room in a full block ring\n"
	"                           before it fails with HERMES_EAGAIN (default 1000)\n"
	"      --cpu LIST           pin the bridge to CPUs, e.g. 3 or 2,3 (keep it off the\n"
	"                           cores local publishers and subscribers spin on)\n"
	"      --rt-priority N      run with SCHED_FIFO priority N (1..99)\n"
	"      --busy-poll          spin on rings and sockets instead of sleeping: lowest\n"
	"                           latency, one core at 100%\n"
	"      --idle-spin US       after activity, keep looking for this long before\n"
	"                           sleeping (default 50; 0: sleep at once)\n"
	"      --stats-dir DIR      where the counters file hermes-bridge.BUS.PORT goes\n"
	"                           (default /dev/shm; 'none' for no file)\n"
	"      --journal RING:DIR   the ring's journal (hermes-journal): a remote subscriber\n"
	"                           that resumes at a sequence the ring no longer holds\n"
	"                           gets it from there, then live (repeatable)\n"
	"      --state-dir DIR      where the bus id (hermes-bridge.BUS.id) and the link\n"
	"                           origin tables (hermes-bridge.BUS.RING.origins) go,\n"
	"                           shared by the bus's bridges and kept across restarts;\n"
	"                           files must be this user's, mode 0600 (default\n"
	"                           $STATE_DIRECTORY, else /var/lib/hermes; 'none': in\n"
	"                           memory only)\n"
	"      --link-import-timeout MS  how long a link waits for room in a full local\n"
	"                           ring before it drops that message (default 5000; 0:\n"
	"                           forever, which can deadlock two saturated buses)\n"
	"  -l, --log-level LEVEL    error, warn, info (default) or debug\n"
	"      --check-config       validate the configuration, print it, and exit\n"
	"  -h, --help               this text\n"
	"  -V, --version            print the version\n"
	"\n"
	"keygen NAME [--server-key HEX]: a new X25519 key pair for NAME (public-key\n"
	"mode): the secret half to FILE (default NAME.key, mode 0600; never overwritten),\n"
	"the public half printed (public_key = HEX) for the bridge's auth file, or, for\n"
	"the bridge's own pair (--key FILE), for its clients' --server-key, which pins\n"
	"it in the client's key file (HERMES_NET_KEY_FILE, a link's key_file).\n"
	"keygen NAME --psk: a pre-shared key instead; the same file goes to the client\n"
	"and, as key_file, into the bridge's auth file.\n"
	"\n"
	"Signals: SIGHUP reloads the auth file (identities, keys, permissions; the\n"
	"sessions of removed or changed identities are closed) and --key. SIGTERM/SIGINT stop\n"
	"gracefully (clients get GOODBYE). With\n"
	"$NOTIFY_SOCKET set (systemd Type=notify) it reports READY=1 and the address.\n"
	"Exit status: 0 after a graceful stop, 1 on errors, 2 on usage errors.\n";

static int keygen(int argc, char **argv)
{
	static const char use[] =
		"usage: hermes-bridge keygen NAME [--server-key HEX | --psk] [--out FILE]\n";
	const char *name = NULL, *out = NULL, *server = NULL;
	bool pair = true; /* the default: a key pair (public-key mode) */
	for (int i = 2; i < argc; i++) {
		if ((!strcmp(argv[i], "--out") || !strcmp(argv[i], "-o")) && i + 1 < argc)
			out = argv[++i];
		else if (!strcmp(argv[i], "--pair"))
			pair = true;
		else if (!strcmp(argv[i], "--psk"))
			pair = false;
		else if (!strcmp(argv[i], "--server-key") && i + 1 < argc)
			server = argv[++i];
		else if (argv[i][0] == '-' || name) {
			fputs(use, stderr);
			return 2;
		} else
			name = argv[i];
	}
	uint8_t pin[HERMES_KX_PUBLIC_KEY_SIZE];
	if (!name || (server && (!pair || hm_auth_parse_key(server, pin) != HERMES_OK))) {
		fputs(use, stderr);
		return 2;
	}
	char path[512];
	if (hm_auth_key_path(name, out, path, sizeof path) != HERMES_OK) {
		fprintf(stderr, "hermes-bridge: %s\n", hermes_last_error_detail());
		return 2;
	}
	uint8_t pub[HERMES_KX_PUBLIC_KEY_SIZE];
	hermes_err err = hm_auth_keygen_file(path, name, pair, server ? pin : NULL, pub);
	if (err) {
		fprintf(stderr, "hermes-bridge: keygen: %s\n", hermes_last_error_detail());
		return 1;
	}
	printf("%s\n", path);
	if (pair) {
		/* The public half is no secret: it goes to the other side. */
		char hex[2 * HERMES_KX_PUBLIC_KEY_SIZE + 1];
		hm_auth_hex(pub, sizeof pub, hex);
		printf("public_key = %s\n", hex);
		fprintf(stderr,
			"wrote %s (mode 0600, the secret half; it never leaves this host).\n"
			"Fingerprint %.16s. Where %s is an identity, the bridge's auth file gets the\n"
			"public half only, and grants only what %s needs:\n"
			"  [identity %s]\n  public_key = %s\n"
			"  publish = RING ...      ; the rings it may publish to (patterns allowed)\n"
			"  subscribe = RING ...    ; the rings it may read\n"
			"Where %s is a bridge, its config says key_file = %s, and each client's key\n"
			"is made with --server-key %s (the pin).\n",
			path, hex, name, name, name, hex, name, path, hex);
		return 0;
	}
	/* Least privilege: the operator names the rings; nothing is granted
	 * by a copy-paste. */
	fprintf(stderr,
		"wrote %s (mode 0600). In the bridge's auth file, grant only what %s needs:\n"
		"  [identity %s]\n  key_file = %s\n"
		"  publish = RING ...      ; the rings it may publish to (patterns allowed)\n"
		"  subscribe = RING ...    ; the rings it may read\n"
		"  # hold = true           ; may hold back producers of block rings\n"
		"  # link = true           ; only for another bridge's link\n",
		path, name, name, path);
	return 0;
}

enum {
	O_ENCRYPT = 256, O_INSECURE, O_LINK_ID, O_LINK_KEY, O_LINK_ENC, O_NAME, O_BUS_ID,
	O_SLOW, O_OUTBUF, O_MAXFRAME, O_MAXCONN, O_HSTIMEOUT, O_PUBTIMEOUT, O_BUSY,
	O_STATSDIR, O_STATEDIR, O_IMPORT_TIMEOUT, O_SPIN, O_CHECK, O_CPU, O_RT, O_ANON,
	O_LINK_PLAIN, O_PERADDR, O_PERID, O_HOLDS, O_IDLE, O_MEMLIMIT, O_KEY, O_JOURNAL
};

/* The flags: most set the config key of the same meaning, applied after
 * the config file, in order, with the same validation as its keys; links
 * and journals are added after them (the --link-* flags apply to every
 * --link). */
static const hm_cli_flag flags[] = {
	{"config", 'c', required_argument, NULL, NULL, NULL},
	{"bus", 'b', required_argument, NULL, "bus", NULL},
	{"listen", 'L', required_argument, NULL, "listen", NULL},
	{"auth", 'a', required_argument, NULL, "auth", NULL},
	{"encrypt", O_ENCRYPT, required_argument, NULL, "encrypt", NULL},
	{"insecure", O_INSECURE, no_argument, NULL, "insecure", "true"},
	{"allow-anonymous", O_ANON, no_argument, NULL, "allow_anonymous", "true"},
	{"link-plaintext", O_LINK_PLAIN, no_argument, NULL, NULL, NULL},
	{"max-connections-per-address", O_PERADDR, required_argument, NULL, "max_connections_per_address", NULL},
	{"max-connections-per-identity", O_PERID, required_argument, NULL, "max_connections_per_identity", NULL},
	{"max-holds-per-identity", O_HOLDS, required_argument, NULL, "max_holds_per_identity", NULL},
	{"idle-timeout", O_IDLE, required_argument, NULL, "idle_timeout_ms", NULL},
	{"memory-limit", O_MEMLIMIT, required_argument, NULL, "memory_limit", NULL},
	{"link", 'k', required_argument, NULL, NULL, NULL},
	{"link-identity", O_LINK_ID, required_argument, NULL, NULL, NULL},
	{"link-key", O_LINK_KEY, required_argument, NULL, NULL, NULL},
	{"link-encrypt", O_LINK_ENC, no_argument, NULL, NULL, NULL},
	{"name", O_NAME, required_argument, NULL, "name", NULL},
	{"key", O_KEY, required_argument, NULL, "key_file", NULL},
	{"bus-id", O_BUS_ID, required_argument, NULL, "bus_id", NULL},
	{"slow-policy", O_SLOW, required_argument, NULL, "slow_policy", NULL},
	{"out-buffer", O_OUTBUF, required_argument, NULL, "out_buffer", NULL},
	{"max-frame", O_MAXFRAME, required_argument, NULL, "max_frame", NULL},
	{"max-connections", O_MAXCONN, required_argument, NULL, "max_connections", NULL},
	{"handshake-timeout", O_HSTIMEOUT, required_argument, NULL, "handshake_timeout_ms", NULL},
	{"publish-timeout", O_PUBTIMEOUT, required_argument, NULL, "publish_timeout_ms", NULL},
	{"busy-poll", O_BUSY, no_argument, NULL, "busy_poll", "true"},
	{"cpu", O_CPU, required_argument, NULL, "cpu_affinity", NULL},
	{"rt-priority", O_RT, required_argument, NULL, "rt_priority", NULL},
	{"idle-spin", O_SPIN, required_argument, NULL, "idle_spin_us", NULL},
	{"stats-dir", O_STATSDIR, required_argument, NULL, "stats_dir", NULL},
	{"state-dir", O_STATEDIR, required_argument, NULL, "state_dir", NULL},
	{"journal", O_JOURNAL, required_argument, NULL, NULL, NULL},
	{"link-import-timeout", O_IMPORT_TIMEOUT, required_argument, NULL, "link_import_timeout_ms", NULL},
	{"log-level", 'l', required_argument, NULL, "log_level", NULL},
	{"check-config", O_CHECK, no_argument, NULL, NULL, NULL},
	{"help", 'h', no_argument, NULL, NULL, NULL},
	{"version", 'V', no_argument, NULL, NULL, NULL},
};

/* The links and journals of the command line, added after its other flags. */
typedef struct bridge_links {
	unsigned nlinks, njournals;
	const char *links[HM_BRIDGE_MAX_LINKS];
	const char *journals[HM_BRIDGE_MAX_RINGCFG];
	const char *link_id, *link_key;
	bool link_enc, link_plain;
} bridge_links;

/* Append arg to list (n of max taken). Returns -1 to go on, else the exit
 * status (2: full). */
static int append(const char **list, unsigned *n, unsigned max, const char *what, const char *arg)
{
	if (*n == max) {
		fprintf(stderr, "hermes-bridge: at most %u %s\n", max, what);
		return 2;
	}
	list[(*n)++] = arg;
	return -1;
}

/* A flag without a config key: note it in the links. Returns -1 to go on,
 * else the exit status. */
static int link_flag(void *user, const hm_cli_flag *flag, const char *arg)
{
	bridge_links *l = user;
	switch (flag->id) {
	case 'k': return append(l->links, &l->nlinks, HM_BRIDGE_MAX_LINKS, "links", arg);
	case O_JOURNAL: return append(l->journals, &l->njournals, HM_BRIDGE_MAX_RINGCFG, "journals", arg);
	case O_LINK_ID: l->link_id = arg; break;
	case O_LINK_KEY: l->link_key = arg; break;
	case O_LINK_ENC: l->link_enc = true; break;
	default: l->link_plain = true; break; /* O_LINK_PLAIN */
	}
	return -1;
}

static hermes_err set_flag(void *cfg, const char *section, const char *key, const char *value)
{
	(void)section;
	return hm_bridge_cfg_set(cfg, key, value);
}

/* The links and journals of the command line. 0, or 2 (said). */
static int add_links(hm_bridge_cfg *cfg, const bridge_links *l)
{
	for (unsigned i = 0; i < l->nlinks; i++) {
		if (hm_bridge_cfg_add_link(cfg, l->links[i], l->link_id, l->link_key, l->link_enc))
			return hm_cli_fail("hermes-bridge", 2, hermes_last_error_detail());
		cfg->links[cfg->nlinks - 1].plaintext = l->link_plain;
	}
	for (unsigned i = 0; i < l->njournals; i++)
		if (hm_bridge_cfg_add_journal(cfg, l->journals[i]))
			return hm_cli_fail("hermes-bridge", 2, hermes_last_error_detail());
	return 0;
}

/* The configuration: the file, then the flags, links and journals of the
 * command line, checked, and the auth file. Returns -1 to go on, else the
 * exit status (cfg finished then). */
static int configure(hm_bridge_cfg *cfg, const hm_cli *cli, const bridge_links *l)
{
	hm_bridge_cfg_defaults(cfg);
	if (cli->config && hm_bridge_cfg_load(cfg, cli->config))
		return hm_cli_fail("hermes-bridge", 1, hermes_last_error_detail());
	int rc = hm_cli_apply(cli, "hermes-bridge", set_flag, cfg);
	if (rc >= 0)
		return rc;
	if (add_links(cfg, l))
		return 2;
	if (hm_bridge_cfg_check(cfg) || (cfg->auth_file[0] && hm_bridge_cfg_load_auth(cfg))) {
		fprintf(stderr, "hermes-bridge: %s\n", hermes_last_error_detail());
		hm_bridge_cfg_fini(cfg);
		return 1;
	}
	return -1;
}

/* --check-config: the configuration as the bridge will run it. */
static void print_config(const hm_bridge_cfg *c)
{
	printf("bus %s, listen %s, %s, encryption %s, slow policy %s, out buffer %llu, "
	       "max frame %u\n",
	       c->bus, c->listen,
	       c->nidents	     ? (c->allow_anonymous ? "authentication or anonymous"
							   : "authentication required")
	       : c->allow_anonymous ? "anonymous clients"
				    : "no clients allowed (neither --auth nor --allow-anonymous)",
	       c->encrypt == HM_ENC_OFF ? "off" : c->encrypt == HM_ENC_REQUIRED ? "required" : "optional",
	       hm_slow_policy_name(c->slow), (unsigned long long)c->out_buffer, c->max_frame);
	for (unsigned i = 0; i < c->nidents; i++)
		printf("  identity %s: publish '%s', subscribe '%s'%s%s\n", c->idents[i].name,
		       c->idents[i].publish, c->idents[i].subscribe,
		       c->idents[i].hold ? ", hold" : "", c->idents[i].link ? ", link" : "");
	for (unsigned i = 0; i < c->nrings; i++)
		printf("  ring %s: slow policy %s\n", c->rings[i].name,
		       hm_slow_policy_name(c->rings[i].slow));
	for (unsigned i = 0; i < c->nlinks; i++) {
		printf("  link %s to %s:", c->links[i].name, c->links[i].address);
		for (unsigned k = 0; k < c->links[i].nrings; k++)
			printf(" %s:%s", c->links[i].rings[k].name,
			       c->links[i].rings[k].in && c->links[i].rings[k].out ? "both"
			       : c->links[i].rings[k].in			   ? "in"
										   : "out");
		printf("\n");
	}
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "keygen"))
		return keygen(argc, argv);
	static bridge_links links;
	char version[64];
	snprintf(version, sizeof version, " (protocol %d%s)", HERMES_PROTOCOL_VERSION,
		 hm_auth_available() ? ", libsodium" : ", without libsodium");
	const hm_cli_program program = {
		.name = "hermes-bridge",
		.usage = usage_text,
		.version = version,
		.flags = flags,
		.nflags = sizeof flags / sizeof flags[0],
		.other = link_flag,
		.user = &links,
	};
	static hm_cli cli;
	int rc = hm_cli_parse(&cli, &program, argc, argv);
	if (rc >= 0)
		return rc;
	static hm_bridge_cfg cfg;
	rc = configure(&cfg, &cli, &links);
	if (rc >= 0)
		return rc;
	if (cli.check) {
		print_config(&cfg);
		hm_bridge_cfg_fini(&cfg);
		return 0;
	}
	/* Keys and session keys are in this process's memory: no core dumps,
	 * no ptrace by other processes of the user. */
	hm_auth_protect_process();
	hm_dlog_set_level(cfg.log_level);
	hm_apply_scheduling(cfg.have_cpus ? &cfg.cpus : NULL, cfg.rt_priority);
	rc = hm_bridge_run(&cfg);
	hm_bridge_cfg_fini(&cfg);
	return rc;
}
