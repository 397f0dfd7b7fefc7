/* hermes-ctl: what the subcommand modules share. ctl_main.c parses the
 * global options and dispatches; ctl_read.c (list, inspect, clients, watch),
 * ctl_metrics.c (metrics) and ctl_io.c (tail, pub, create, delete) each
 * implement their commands as `int cmd_x(ctl_ctx *, int argc, char **argv)`
 * returning the exit status. */
#ifndef HM_TOOLS_CTL_H
#define HM_TOOLS_CTL_H

#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include <hermes/hermes.h>

/* Exit statuses (SPEC §5). */
#define CTL_EXIT_OK 0
#define CTL_EXIT_ERR 1
#define CTL_EXIT_USAGE 2

typedef struct ctl_cmd ctl_cmd;

typedef struct ctl_ctx {
	const char *bus;     /* --bus, $HERMES_BUS, "default" */
	const char *run_dir; /* --run-dir, $HERMES_RUN_DIR, or NULL */
	const char *stats_dir; /* --stats-dir: where gateways keep counters files */
	bool json;
	const ctl_cmd *cmd; /* the subcommand running */
} ctl_ctx;

struct ctl_cmd {
	const char *name;
	int (*run)(ctl_ctx *ctx, int argc, char **argv);
	const char *summary; /* one line, for the command list */
	const char *help;    /* full --help text after the synopsis line */
	bool json;	     /* accepts --json */
	bool stats_dir;	     /* accepts --stats-dir (reads gateway counters) */
};

/* Options every subcommand accepts; put CTL_COMMON_OPTIONS at the end of its
 * option table (before the terminating zero entry) and pass unknown option
 * characters to ctl_common_option. */
enum {
	CTL_OPT_BUS = 1000,
	CTL_OPT_RUN_DIR,
	CTL_OPT_JSON,
	CTL_OPT_HELP,
	CTL_OPT_REMOTE,
	CTL_OPT_STATS_DIR,
};
#define CTL_COMMON_OPTIONS                                                                          \
	{"bus", required_argument, NULL, CTL_OPT_BUS},                                              \
		{"run-dir", required_argument, NULL, CTL_OPT_RUN_DIR},                              \
		{"json", no_argument, NULL, CTL_OPT_JSON}, {"help", no_argument, NULL, CTL_OPT_HELP}, \
		{"stats-dir", required_argument, NULL, CTL_OPT_STATS_DIR}
/* Short options every subcommand's optstring starts with (":" reports a
 * missing value as ':' rather than '?'). */
#define CTL_COMMON_SHORT ":h"

/* Handle one getopt_long result that the subcommand did not recognise.
 * Returns -1 when it was a global option (keep parsing), else the exit status
 * to return now: 0 after printing --help, 2 after a usage error. */
int ctl_common_option(ctl_ctx *ctx, int c, char **argv);

/* After a command's options: exactly n operands from argv[optind], missing
 * being the usage error when there are fewer. Returns -1 to go on, else 2
 * after a usage error. */
int ctl_operands(const ctl_ctx *ctx, int argc, char **argv, int n, const char *missing);

/* Parse a command that takes only the common options, then ctl_operands
 * (n < 0: any number of operands, left to the caller). Returns -1 to go on
 * (argv[optind] is then the first operand), else the exit status to return
 * now, as ctl_common_option. */
int ctl_common_options_only(ctl_ctx *ctx, int argc, char **argv, int n, const char *missing);

/* Print "hermes-ctl: <message>" on stderr. */
void ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A usage error: the message, then a pointer to --help. Returns 2. */
int ctl_usage_error(const ctl_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Attach to the bus (read-only for inspection; read-write to publish,
 * subscribe, create and delete). On failure prints an error naming the bus,
 * the segment path and what to do, and returns the exit status; 0 on
 * success. */
int ctl_attach(const ctl_ctx *ctx, bool readonly, hermes_bus **bus);

/* The control socket: <run_dir>/<bus>.sock when a run directory was given,
 * else the path the running hermesd recorded in the segment. */
void ctl_control_path(const ctl_ctx *ctx, hermes_bus *bus, char *buf, size_t len);

/* SIGINT and SIGTERM set ctl_stop (no SA_RESTART, so slow system calls
 * return EINTR); SIGPIPE is ignored so a closed pipe is an EPIPE error.
 * With block, the two stay blocked outside ctl_nap/ctl_poll (see there). */
extern volatile sig_atomic_t ctl_stop;
void ctl_install_signals(bool block);

/* Has SIGINT or SIGTERM arrived (also while blocked)? */
bool ctl_should_stop(void);

/* Sleep up to ms milliseconds; returns early (false) when a stop signal
 * arrives. */
bool ctl_nap(int ms);

/* poll(2) that a stop signal interrupts (returns -1, errno EINTR); ms < 0
 * waits without limit. */
int ctl_poll(struct pollfd *fds, nfds_t n, int ms);

/* Flush stdout; returns 0, or an exit status after a write error. A closed
 * pipe (`hermes-ctl tail | head`) counts as a clean exit. */
int ctl_flush(bool *closed);

/* `--remote HOST:PORT` (tail and pub): the bridge does not exist yet. */

/* Check the bus name before it becomes part of a file name (a name with
 * '/' must not reach outside the stats directory). Returns 0, or 2 after a
 * usage error. */
int ctl_check_bus_name(const ctl_ctx *ctx);

/* One line about the bus's bridges and uplink ("bridges: 1 (127.0.0.1:7400,
 * 3 connections); uplink: connected to nats://..."), or nothing when neither
 * has a counters file in ctx->stats_dir. */
void ctl_gw_summary(const ctl_ctx *ctx, FILE *f);

/* Subcommands. */
int cmd_list(ctl_ctx *ctx, int argc, char **argv);
int cmd_inspect(ctl_ctx *ctx, int argc, char **argv);
int cmd_clients(ctl_ctx *ctx, int argc, char **argv);
int cmd_watch(ctl_ctx *ctx, int argc, char **argv);
int cmd_metrics(ctl_ctx *ctx, int argc, char **argv);
int cmd_tail(ctl_ctx *ctx, int argc, char **argv);
int cmd_journal(ctl_ctx *ctx, int argc, char **argv);
int cmd_durable(ctl_ctx *ctx, int argc, char **argv);
int cmd_keygen(ctl_ctx *ctx, int argc, char **argv);
int cmd_pub(ctl_ctx *ctx, int argc, char **argv);
int cmd_create(ctl_ctx *ctx, int argc, char **argv);
int cmd_delete(ctl_ctx *ctx, int argc, char **argv);
int cmd_destroy(ctl_ctx *ctx, int argc, char **argv);
int cmd_bridges(ctl_ctx *ctx, int argc, char **argv);
int cmd_uplink(ctl_ctx *ctx, int argc, char **argv);

#endif
