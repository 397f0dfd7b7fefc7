/* The daemons' command lines (hermesd, hermes-bridge, hermes-nats,
 * hermes-journal): one table says what each flag is, and one parser turns
 * argv into the configuration file to read and the flags to apply over it.
 *
 * Each daemon's main does the same steps with its own configuration:
 *
 *   hm_cli cli;                              parse flags
 *   int rc = hm_cli_parse(&cli, &program, argc, argv);
 *   if (rc >= 0) return rc;                  (--help, --version, usage errors)
 *   defaults, then cli.config's INI file     (exit 1 on an error)
 *   the environment
 *   rc = hm_cli_apply(&cli, name, set, cfg);
 *   if (rc >= 0) return rc;                  each flag through the code that
 *                                            reads the file's keys (exit 2)
 *   check                                    (exit 1)
 *   cli.check: print the configuration, exit 0
 *   hm_daemon_start (daemon/run.h): log level, signals; run.
 *
 * --help, --version, unknown options and stray arguments are handled the
 * same way by all of them. Not part of libhermes-ipc. */
#ifndef HERMES_DAEMON_CLI_H
#define HERMES_DAEMON_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#include <hermes/error.h>

/* One flag. Flags named "config", "check-config", "help" and "version"
 * (without a key) are handled by hm_cli_parse; a flag with a key is
 * recorded for hm_cli_apply; any other goes to the program's other(). */
typedef struct hm_cli_flag {
	const char *name;    /* the long option, without "--" */
	int id;		     /* its short letter, or a number >= 256 */
	int has_arg;	     /* required_argument or no_argument */
	const char *section; /* the INI section of key; NULL where there is one */
	const char *key;     /* the configuration key it sets, or NULL */
	const char *value;   /* what a switch (no_argument) sets key to */
} hm_cli_flag;

#define HM_CLI_MAX_FLAGS 64 /* flags in a table */
#define HM_CLI_MAX_SETS 256 /* flags with a key on one command line */

/* A flag with a key, as given: applied in command-line order. */
typedef struct hm_cli_set {
	const hm_cli_flag *flag;
	const char *value;
} hm_cli_set;

typedef struct hm_cli {
	const char *config; /* --config FILE, or NULL */
	bool check;	    /* --check-config */
	unsigned nsets;
	hm_cli_set sets[HM_CLI_MAX_SETS];
} hm_cli;

typedef struct hm_cli_program {
	const char *name;    /* "hermes-nats": the messages start with it */
	const char *usage;   /* the text of --help */
	const char *version; /* after "NAME X.Y.Z" in --version: "" or " (libnats 3.8)" */
	const hm_cli_flag *flags;
	size_t nflags; /* at most HM_CLI_MAX_FLAGS */
	/* A flag without a key that hm_cli_parse does not handle itself, with
	 * its argument (NULL for a switch): -1 to go on, else the exit status.
	 * NULL where there are none. */
	int (*other)(void *user, const hm_cli_flag *flag, const char *arg);
	void *user;
} hm_cli_program;

/* Parse argv into cli (which it clears). Returns -1 to go on, else the exit
 * status: 0 after --help (the usage on stdout) or --version, 2 after an
 * unknown option, a missing argument, a stray argument or too many flags
 * (said on stderr), or what other() returned. */
int hm_cli_parse(hm_cli *cli, const hm_cli_program *p, int argc, char **argv);

/* "NAME: ERROR" on stderr (a configuration the daemon cannot run with);
 * returns status, the exit status to give. */
int hm_cli_fail(const char *name, int status, const char *error);

/* Sets a key of a daemon's configuration cfg from a flag: HERMES_OK, or an
 * error with the reason in the detail (hermes_last_error_detail()). section
 * is the flag's (NULL where it has none). */
typedef hermes_err (*hm_cli_setter)(void *cfg, const char *section, const char *key,
				    const char *value);

/* Apply the recorded flags of cli to cfg with set, in order. Returns -1 when
 * all applied, else 2 after "NAME: --FLAG: ERROR" on stderr, where ERROR is
 * the detail that set left. */
int hm_cli_apply(const hm_cli *cli, const char *name, hm_cli_setter set, void *cfg);

#endif
