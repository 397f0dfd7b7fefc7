/* The daemons' command lines (see cli.h). */
#include "daemon/cli.h"

#include <stdio.h>
#include <string.h>

#include <hermes/version.h>

/* getopt_long's tables for p's flags: long options (ending in a zero entry)
 * and the short option string. */
static void getopt_tables(const hm_cli_program *p, struct option *longopts, char *shortopts)
{
	size_t n = 0;
	for (size_t i = 0; i < p->nflags; i++) {
		const hm_cli_flag *f = &p->flags[i];
		longopts[i] = (struct option){f->name, f->has_arg, NULL, f->id};
		if (f->id < 256) {
			shortopts[n++] = (char)f->id;
			if (f->has_arg == required_argument)
				shortopts[n++] = ':';
		}
	}
	longopts[p->nflags] = (struct option){0};
	shortopts[n] = '\0';
}

static const hm_cli_flag *flag_of(const hm_cli_program *p, int id)
{
	for (size_t i = 0; i < p->nflags; i++)
		if (p->flags[i].id == id)
			return &p->flags[i];
	return NULL;
}

/* One flag f with argument arg: -1 to go on, else the exit status. */
static int take(hm_cli *cli, const hm_cli_program *p, const hm_cli_flag *f, const char *arg)
{
	if (f->key) {
		if (cli->nsets == HM_CLI_MAX_SETS) {
			fprintf(stderr, "%s: more than %d options\n", p->name, HM_CLI_MAX_SETS);
			return 2;
		}
		cli->sets[cli->nsets++] = (hm_cli_set){f, f->has_arg == no_argument ? f->value : arg};
	} else if (!strcmp(f->name, "config")) {
		cli->config = arg;
	} else if (!strcmp(f->name, "check-config")) {
		cli->check = true;
	} else if (!strcmp(f->name, "help")) {
		fputs(p->usage, stdout);
		return 0;
	} else if (!strcmp(f->name, "version")) {
		printf("%s %d.%d.%d%s\n", p->name, HERMES_VERSION_MAJOR, HERMES_VERSION_MINOR,
		       HERMES_VERSION_PATCH, p->version ? p->version : "");
		return 0;
	} else if (p->other) {
		return p->other(p->user, f, arg);
	}
	return -1;
}

int hm_cli_parse(hm_cli *cli, const hm_cli_program *p, int argc, char **argv)
{
	memset(cli, 0, sizeof *cli);
	struct option longopts[HM_CLI_MAX_FLAGS + 1];
	char shortopts[2 * HM_CLI_MAX_FLAGS + 1];
	if (p->nflags > HM_CLI_MAX_FLAGS) {
		fprintf(stderr, "%s: more than %d flags in its table\n", p->name, HM_CLI_MAX_FLAGS);
		return 2;
	}
	getopt_tables(p, longopts, shortopts);
	optind = 0; /* glibc: start afresh, even after a parse that stopped early */
	int id;
	while ((id = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		const hm_cli_flag *f = flag_of(p, id);
		if (!f) { /* getopt_long said what was wrong */
			fprintf(stderr, "%s: usage error; %s --help lists the options\n", p->name,
				p->name);
			return 2;
		}
		int rc = take(cli, p, f, optarg);
		if (rc >= 0)
			return rc;
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", p->name, argv[optind]);
		return 2;
	}
	return -1;
}

int hm_cli_fail(const char *name, int status, const char *error)
{
	fprintf(stderr, "%s: %s\n", name, error);
	return status;
}

int hm_cli_apply(const hm_cli *cli, const char *name, hm_cli_setter set, void *cfg)
{
	for (unsigned i = 0; i < cli->nsets; i++) {
		const hm_cli_set *s = &cli->sets[i];
		if (set(cfg, s->flag->section, s->flag->key, s->value) != HERMES_OK) {
			fprintf(stderr, "%s: --%s: %s\n", name, s->flag->name,
				hermes_last_error_detail());
			return 2;
		}
	}
	return -1;
}
