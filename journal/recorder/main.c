/* hermes-journal: records rings of a Hermes bus into journals on disk.
 *
 * The main thread parses the configuration, attaches to the bus, opens each
 * ring's journal (recovering its tail), starts one recording thread per
 * ring, reports readiness and waits for SIGTERM/SIGINT. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hermes/hermes.h>

#include "core/proc.h"
#include "journal/recorder/recorder.h"
#include "daemon/notify.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hermes-journal [options]\n"
		"       hermes-journal --stats DIR\n"
		"\n"
		"Records rings of a Hermes bus into journals: memory-mapped segment files\n"
		"with a CRC32C per record and a sparse sequence index, rolled over and\n"
		"deleted by retention. Readers replay them with hermes_replay_* (see\n"
		"<hermes/replay.h>), handed over to the live ring without gap or duplicate.\n"
		"Runs in the foreground and logs to stderr.\n"
		"\n"
		"  -c, --config FILE   INI file: [journal] bus, log_level; [ring NAME] journal,\n"
		"                      file_size, retention_bytes, retention_age, fsync\n"
		"                      (none|interval|batch), fsync_interval, durable\n"
		"                      (see journal/recorder/hermes-journal.conf.example)\n"
		"  -b, --bus NAME      the bus (default: [journal] bus, $HERMES_BUS, 'default')\n"
		"  -r, --ring NAME:DIR journal ring NAME into directory DIR (repeatable)\n"
		"  -l, --log-level L   error, warn, info (default) or debug\n"
		"      --check-config  validate the configuration and exit\n"
		"      --stats DIR     print the recorder's counters of the journal in DIR\n"
		"  -h, --help          this text\n"
		"  -V, --version       print the version\n"
		"\n"
		"durable = true: the recorder releases ring space only once messages are in\n"
		"the journal, and a full disk holds the ring (a block ring's producers wait)\n"
		"instead of dropping; its cursor is a durable subscriber that outlives the\n"
		"recorder (killed or stopped): producers of a block ring wait for it until the\n"
		"restarted recorder adopts it, so not one message is missing from the journal\n"
		"('hermes-ctl durable drop RING NAME' frees a recorder that will not return).\n"
		"Otherwise a restart resumes at the journal's next sequence, so nothing the\n"
		"ring still holds is missed or recorded twice.\n"
		"Signals: SIGTERM/SIGINT stop gracefully. With $NOTIFY_SOCKET set it reports\n"
		"READY=1 once every journal is open. Exit status: 0 after a graceful stop,\n"
		"1 on errors, 2 on usage errors.\n");
}

static int print_stats(const char *dir)
{
	const hj_stats *s = hj_stats_open_readonly(dir);
	if (!s) {
		fprintf(stderr, "hermes-journal: %s/" HJ_STATS_FILE ": %s\n", dir, strerror(errno));
		return 1;
	}
	static const char *states[] = {"stopped", "waiting for the ring", "recording", "disk full"};
#define LD(f) hm_load_relaxed_u64(&s->f)
	uint64_t pid = LD(pid), st = LD(state);
	bool alive = pid && hm_proc_alive((pid_t)pid, LD(start_time));
	char err[sizeof s->last_error];
	hj_stats_error_text(s, err);
	printf("journal %s: %s", dir, alive ? (st < 4 ? states[st] : "?") : "no recorder running");
	if (alive)
		printf(" (pid %" PRIu64 ")", pid);
	printf("\nnext_seq %" PRIu64 " messages %" PRIu64 " bytes %" PRIu64 " gaps %" PRIu64 " lost %" PRIu64
	       " dropped %" PRIu64 "\ndisk_full %" PRIu64 " write_errors %" PRIu64 " syncs %" PRIu64
	       " files_deleted %" PRIu64 " restarts %" PRIu64 " torn_cuts %" PRIu64 "\n",
	       LD(next_seq), LD(messages), LD(bytes), LD(gaps), LD(lost), LD(dropped), LD(disk_full),
	       LD(write_errors), LD(syncs), LD(files_deleted), LD(restarts), LD(torn_cuts));
#undef LD
	if (err[0])
		printf("last error: %s\n", err);
	hj_stats_close(s);
	return 0;
}

static atomic_bool stop;

static hermes_err attach(const char *bus, const sigset_t *sigs, hermes_bus **out)
{
	bool said = false;
	for (;;) {
		hermes_err e = hermes_bus_attach(bus, out);
		if (e != HERMES_ENOENT && e != HERMES_ENOTREADY)
			return e;
		if (!said) {
			hj_log(HJ_LOG_INFO, "bus %s: %s; waiting for it", bus, hermes_strerror(e));
			said = true;
		}
		struct timespec ts = {0, 200000000};
		int sig = sigtimedwait(sigs, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT)
			return HERMES_ECLOSED;
	}
}

int main(int argc, char **argv)
{
	static hj_config cfg;
	hj_config_defaults(&cfg);
	const char *env_bus = getenv("HERMES_BUS");
	const char *config = NULL, *bus = NULL, *level = NULL;
	bool check_only = false;
	enum { OPT_CHECK = 256, OPT_STATS };
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},    {"bus", required_argument, NULL, 'b'},
		{"ring", required_argument, NULL, 'r'},	     {"log-level", required_argument, NULL, 'l'},
		{"check-config", no_argument, NULL, OPT_CHECK}, {"stats", required_argument, NULL, OPT_STATS},
		{"help", no_argument, NULL, 'h'},	     {"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	/* Rings from the command line are added after the file is read. */
	const char *ring_args[HJ_MAX_RINGS];
	unsigned nring_args = 0;
	int c;
	while ((c = getopt_long(argc, argv, "c:b:r:l:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'b':
			bus = optarg;
			break;
		case 'r':
			if (nring_args == HJ_MAX_RINGS) {
				fprintf(stderr, "hermes-journal: at most %d rings\n", HJ_MAX_RINGS);
				return 2;
			}
			ring_args[nring_args++] = optarg;
			break;
		case 'l':
			level = optarg;
			break;
		case OPT_CHECK:
			check_only = true;
			break;
		case OPT_STATS:
			return print_stats(optarg);
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("hermes-journal %d.%d.%d\n", HERMES_VERSION_MAJOR, HERMES_VERSION_MINOR,
			       HERMES_VERSION_PATCH);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hermes-journal: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (config && hj_config_load_file(&cfg, config) != HERMES_OK) {
		fprintf(stderr, "hermes-journal: %s\n", cfg.error);
		return 1;
	}
	for (unsigned i = 0; i < nring_args; i++)
		if (hj_config_add_ring(&cfg, ring_args[i]) != HERMES_OK) {
			fprintf(stderr, "hermes-journal: %s\n", cfg.error);
			return 2;
		}
	if (env_bus && *env_bus && !bus && !(cfg.seen & 1))
		bus = env_bus;
	if (bus)
		snprintf(cfg.bus, sizeof cfg.bus, "%s", bus);
	if (level) {
		static const char *levels[] = {"error", "warn", "info", "debug"};
		int l = 0;
		while (l < 4 && strcmp(level, levels[l]))
			l++;
		if (l == 4) {
			fprintf(stderr, "hermes-journal: --log-level %s: error, warn, info or debug\n", level);
			return 2;
		}
		cfg.log_level = l;
	}
	if (hj_config_check(&cfg) != HERMES_OK) {
		fprintf(stderr, "hermes-journal: %s\n", cfg.error);
		return 1;
	}
	if (check_only) {
		printf("bus %s\n", cfg.bus);
		for (unsigned i = 0; i < cfg.nrings; i++) {
			const hj_ring_conf *r = &cfg.rings[i];
			printf("ring %s: journal %s file_size %" PRIu64 " retention_bytes %" PRIu64
			       " retention_age_s %" PRIu64 " fsync %s durable %s\n",
			       r->name, r->dir, r->opts.file_size, r->opts.retain_bytes,
			       (uint64_t)(r->opts.retain_age_ns / 1000000000u), hj_fsync_name(r->fsync),
			       r->durable ? "true" : "false");
		}
		return 0;
	}
	hj_log_level = cfg.log_level;

	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	hermes_bus *hb = NULL;
	hermes_err e = attach(cfg.bus, &sigs, &hb);
	if (e == HERMES_ECLOSED)
		return 0;
	if (e) {
		hj_log(HJ_LOG_ERROR, "bus %s: %s (%s)", cfg.bus, hermes_strerror(e), hermes_last_error_detail());
		return 1;
	}
	static hj_recorder recs[HJ_MAX_RINGS];
	static pthread_t threads[HJ_MAX_RINGS];
	unsigned opened = 0, started = 0;
	int status = 0;
	for (; opened < cfg.nrings; opened++) {
		if (hj_recorder_open(&recs[opened], hb, &cfg.rings[opened], hermes_bus_id(hb), &stop) != HERMES_OK) {
			status = 1;
			goto out;
		}
		hj_recorder_subscribe(&recs[opened]);
	}
	for (; started < opened; started++)
		if ((errno = pthread_create(&threads[started], NULL, hj_recorder_run, &recs[started])) != 0) {
			hj_log(HJ_LOG_ERROR, "pthread_create: %s", strerror(errno));
			status = 1;
			goto out;
		}
	if (hm_notify("READY=1") != 0)
		hj_log(HJ_LOG_WARN, "sd_notify: %s", strerror(errno));
	hj_log(HJ_LOG_INFO, "recording %u ring(s) of bus %s", cfg.nrings, cfg.bus);
	for (;;) {
		int sig = sigwaitinfo(&sigs, NULL);
		if (sig == SIGTERM || sig == SIGINT) {
			hj_log(HJ_LOG_INFO, "stopping (signal %d)", sig);
			break;
		}
	}
out:
	atomic_store(&stop, true);
	for (unsigned i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	for (unsigned i = 0; i < opened; i++)
		hj_recorder_close(&recs[i]);
	hermes_bus_detach(hb);
	return status;
}
