/* hermes-journal: records rings of a Hermes bus into journals on disk.
 *
 * The main thread parses the configuration, attaches to the bus, opens each
 * ring's journal (recovering its tail), starts one recording thread per
 * ring, reports readiness and waits for SIGTERM/SIGINT. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <hermes/hermes.h>

#include "core/proc.h"
#include "daemon/cli.h"
#include "daemon/log.h"
#include "daemon/notify.h"
#include "daemon/run.h"
#include "journal/recorder/recorder.h"

/* The text of --help (a table: printed as it is). */
static const char usage_text[] =
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
	"Signals: SIGTERM/SIGINT stop gracefully; SIGHUP is ignored (restart it to\n"
	"change its rings). With $NOTIFY_SOCKET set it reports READY=1 once every\n"
	"journal is open. Exit status: 0 after a graceful stop, 1 on errors, 2 on\n"
	"usage errors.\n";

static int print_stats(const char *dir)
{
	const hm_rec_stats *s;
	if (hm_rec_stats_open_readonly(dir, &s) != HERMES_OK) {
		fprintf(stderr, "hermes-journal: %s\n", hermes_last_error_detail());
		return 1;
	}
	static const char *states[] = {"stopped", "waiting for the ring", "recording", "disk full"};
#define LD(f) hm_load_relaxed_u64(&s->f)
	uint64_t pid = LD(pid), st = LD(state);
	bool alive = pid && hm_proc_alive((pid_t)pid, LD(start_time));
	char err[sizeof s->last_error];
	hm_rec_stats_error_text(s, err);
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
	hm_rec_stats_close(s);
	return 0;
}

static atomic_bool stop;

enum { OPT_CHECK = 256, OPT_STATS };

static const hm_cli_flag flags[] = {
	{"config", 'c', required_argument, NULL, NULL, NULL},
	{"bus", 'b', required_argument, NULL, "bus", NULL},
	{"ring", 'r', required_argument, NULL, "ring", NULL},
	{"log-level", 'l', required_argument, NULL, "log_level", NULL},
	{"check-config", OPT_CHECK, no_argument, NULL, NULL, NULL},
	{"stats", OPT_STATS, required_argument, NULL, NULL, NULL},
	{"help", 'h', no_argument, NULL, NULL, NULL},
	{"version", 'V', no_argument, NULL, NULL, NULL},
};

/* --stats DIR, the one flag the command line handles itself. */
static int stats_flag(void *user, const hm_cli_flag *flag, const char *dir)
{
	(void)user;
	(void)flag;
	return print_stats(dir);
}

static const hm_cli_program program = {
	.name = "hermes-journal",
	.usage = usage_text,
	.flags = flags,
	.nflags = sizeof flags / sizeof flags[0],
	.other = stats_flag,
};

static hermes_err set_flag(void *cfg, const char *section, const char *key, const char *value)
{
	return hm_rec_config_set(cfg, section, key, value);
}

/* defaults < the file < $HERMES_BUS < flags, checked. Returns -1 to go on,
 * else the exit status. */
static int configure(hm_rec_config *cfg, const hm_cli *cli)
{
	hm_rec_config_defaults(cfg);
	if (cli->config && hm_rec_config_load_file(cfg, cli->config) != HERMES_OK)
		return hm_cli_fail(program.name, 1, hermes_last_error_detail());
	hm_rec_config_apply_env(cfg);
	int rc = hm_cli_apply(cli, program.name, set_flag, cfg);
	if (rc >= 0)
		return rc;
	if (hm_rec_config_check(cfg) != HERMES_OK)
		return hm_cli_fail(program.name, 1, hermes_last_error_detail());
	return -1;
}

/* --check-config: the configuration as the recorder will run it. */
static void print_config(const hm_rec_config *cfg)
{
	printf("bus %s\n", cfg->bus);
	for (unsigned i = 0; i < cfg->nrings; i++) {
		const hm_rec_ring_conf *r = &cfg->rings[i];
		printf("ring %s: journal %s file_size %" PRIu64 " retention_bytes %" PRIu64
		       " retention_age_s %" PRIu64 " fsync %s durable %s\n",
		       r->name, r->dir, r->opts.file_size, r->opts.retain_bytes,
		       (uint64_t)(r->opts.retain_age_ns / 1000000000u), hm_rec_fsync_name(r->fsync),
		       r->durable ? "true" : "false");
	}
}

/* Open every ring's journal, record each in a thread of its own until
 * SIGTERM/SIGINT, then stop them. Returns the exit status. */
static int record(const hm_rec_config *cfg, hermes_bus *hb, const sigset_t *sigs)
{
	static hm_rec_recorder recs[HM_REC_MAX_RINGS];
	static pthread_t threads[HM_REC_MAX_RINGS];
	unsigned opened = 0, started = 0;
	int status = 1;
	for (; opened < cfg->nrings; opened++) {
		if (hm_rec_recorder_open(&recs[opened], hb, &cfg->rings[opened], hermes_bus_id(hb), &stop) != HERMES_OK)
			goto out;
		hm_rec_recorder_subscribe(&recs[opened]);
	}
	for (; started < opened; started++)
		if ((errno = pthread_create(&threads[started], NULL, hm_rec_recorder_run, &recs[started])) != 0) {
			hm_dlog(HM_DLOG_ERROR, "pthread_create: %s", strerror(errno));
			goto out;
		}
	hm_notify_ready(NULL);
	hm_dlog(HM_DLOG_INFO, "recording %u ring(s) of bus %s", cfg->nrings, cfg->bus);
	status = hm_daemon_wait_stop(sigs, 0, NULL, NULL);
out:
	atomic_store(&stop, true);
	for (unsigned i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	for (unsigned i = 0; i < opened; i++)
		hm_rec_recorder_close(&recs[i]);
	return status;
}

int main(int argc, char **argv)
{
	hm_cli cli;
	int rc = hm_cli_parse(&cli, &program, argc, argv);
	if (rc >= 0)
		return rc;
	static hm_rec_config cfg;
	if ((rc = configure(&cfg, &cli)) >= 0)
		return rc;
	if (cli.check) {
		print_config(&cfg);
		return 0;
	}
	hm_dlog_set_level(cfg.log_level); /* the filter of recorder.c's hm_rec_log */
	sigset_t sigs;
	hm_daemon_start(cfg.log_level, &sigs);
	hermes_bus *hb = NULL;
	hermes_err e = hm_daemon_attach(cfg.bus, &sigs, &hb);
	if (e != HERMES_OK)
		return e == HERMES_ECLOSED ? 0 : 1;
	rc = record(&cfg, hb, &sigs);
	hermes_bus_detach(hb);
	return rc;
}
