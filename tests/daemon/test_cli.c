/* Tests for daemon/cli.c, the daemons' command line, daemon/run.c's waits,
 * and daemon/ini.c's boolean values, named choices and line errors. */
#include "tests/support/testing.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "daemon/cli.h"
#include "daemon/ini.h"
#include "daemon/log.h"
#include "daemon/run.h"

enum { OPT_SWITCH = 256, OPT_OWN };

static const hm_cli_flag flags[] = {
	{"config", 'c', required_argument, NULL, NULL, NULL},
	{"bus", 'b', required_argument, "main", "bus", NULL},
	{"size", 's', required_argument, NULL, "size", NULL},
	{"switch", OPT_SWITCH, no_argument, "other", "switch", "true"},
	{"own", OPT_OWN, required_argument, NULL, NULL, NULL},
	{"check-config", 'k', no_argument, NULL, NULL, NULL},
	{"help", 'h', no_argument, NULL, NULL, NULL},
	{"version", 'V', no_argument, NULL, NULL, NULL},
};

static const char *own_arg;

static int own_flag(void *user, const hm_cli_flag *flag, const char *arg)
{
	assert_ptr_equal(user, &own_arg);
	assert_string_equal(flag->name, "own");
	own_arg = arg;
	return strcmp(arg, "exit") ? -1 : 7;
}

static const hm_cli_program program = {
	.name = "test-daemon",
	.usage = "usage: test-daemon [options]\n",
	.version = " (test)",
	.flags = flags,
	.nflags = sizeof flags / sizeof flags[0],
	.other = own_flag,
	.user = &own_arg,
};

static int parse(hm_cli *cli, const char **args)
{
	char *argv[16] = {"test-daemon"};
	int argc = 1;
	while (*args)
		argv[argc++] = (char *)*args++;
	return hm_cli_parse(cli, &program, argc, argv);
}

static void test_flags_with_keys_are_kept_in_order_with_their_values(void **state)
{
	(void)state;
	hm_cli cli;
	own_arg = NULL;
	const char *args[] = {"--size", "4M", "-c", "/etc/x.conf", "--switch", "-b", "one",
			      "--own", "mine", "--bus", "two", "-k", NULL};
	assert_int_equal(parse(&cli, args), -1);
	assert_string_equal(cli.config, "/etc/x.conf");
	assert_true(cli.check);
	assert_string_equal(own_arg, "mine");
	assert_int_equal(cli.nsets, 4);
	const char *keys[] = {"size", "switch", "bus", "bus"}, *values[] = {"4M", "true", "one", "two"};
	for (unsigned i = 0; i < 4; i++) {
		assert_string_equal(cli.sets[i].flag->key, keys[i]);
		assert_string_equal(cli.sets[i].value, values[i]);
	}
	assert_string_equal(cli.sets[1].flag->section, "other");
}

static void test_help_version_and_usage_errors_give_the_exit_status(void **state)
{
	(void)state;
	hm_cli cli;
	const char *help[] = {"--size", "1", "--help", NULL};
	assert_int_equal(parse(&cli, help), 0);
	const char *version[] = {"-V", NULL};
	assert_int_equal(parse(&cli, version), 0);
	const char *unknown[] = {"--no-such-flag", NULL};
	assert_int_equal(parse(&cli, unknown), 2);
	const char *missing[] = {"--bus", NULL};
	assert_int_equal(parse(&cli, missing), 2);
	const char *stray[] = {"-b", "x", "stray", NULL};
	assert_int_equal(parse(&cli, stray), 2);
	const char *own[] = {"--own", "exit", "--bus", "x", NULL};
	assert_int_equal(parse(&cli, own), 7);
}

/* A parse that stopped inside a group of short options (-Vk) leaves the
 * next one unaffected. */
static void test_a_parse_starts_afresh(void **state)
{
	(void)state;
	hm_cli cli;
	const char *grouped[] = {"-Vk", NULL};
	assert_int_equal(parse(&cli, grouped), 0);
	const char *next[] = {"-b", "x", NULL};
	assert_int_equal(parse(&cli, next), -1);
	assert_false(cli.check);
	assert_int_equal(cli.nsets, 1);
	assert_string_equal(cli.sets[0].value, "x");
}

static void test_too_many_flags_are_a_usage_error(void **state)
{
	(void)state;
	static char *argv[2 * HM_CLI_MAX_SETS + 4];
	int argc = 0;
	argv[argc++] = "test-daemon";
	for (int i = 0; i <= HM_CLI_MAX_SETS; i++) {
		argv[argc++] = "-s";
		argv[argc++] = "1";
	}
	static hm_cli cli;
	assert_int_equal(hm_cli_parse(&cli, &program, argc, argv), 2);
}

typedef struct fake_cfg {
	char seen[64];
} fake_cfg;

static hermes_err fake_set(void *cfg, const char *section, const char *key, const char *value)
{
	fake_cfg *c = cfg;
	if (!strcmp(value, "bad"))
		return hm_fail(HERMES_EINVAL, "'%s' is bad", value);
	size_t n = strlen(c->seen);
	snprintf(c->seen + n, sizeof c->seen - n, "%s/%s=%s;", section ? section : "-", key, value);
	return HERMES_OK;
}

static void test_apply_sets_each_flag_in_order_and_stops_at_a_bad_one(void **state)
{
	(void)state;
	hm_cli cli;
	const char *args[] = {"-s", "1", "--switch", "-b", "bad", "-s", "2", NULL};
	assert_int_equal(parse(&cli, args), -1);
	fake_cfg c = {0};
	assert_int_equal(hm_cli_apply(&cli, "test-daemon", fake_set, &c), 2);
	assert_string_equal(c.seen, "-/size=1;other/switch=true;");
	assert_string_equal(hermes_last_error_detail(), "'bad' is bad");
	const char *good[] = {"-b", "x", NULL};
	assert_int_equal(parse(&cli, good), -1);
	memset(&c, 0, sizeof c);
	assert_int_equal(hm_cli_apply(&cli, "test-daemon", fake_set, &c), -1);
	assert_string_equal(c.seen, "main/bus=x;");
}

static void test_booleans_have_one_syntax(void **state)
{
	(void)state;
	const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
	for (unsigned i = 0; i < 4; i++) {
		bool v = false;
		assert_true(hm_ini_bool(yes[i], &v) && v);
		assert_true(hm_ini_bool(no[i], &v) && !v);
	}
	const char *bad[] = {"", "TRUE", "y", "2", "true ", "of"};
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		bool v = true;
		assert_false(hm_ini_bool(bad[i], &v));
		assert_true(v);
	}
}

static void test_choices_are_looked_up_by_their_whole_name(void **state)
{
	(void)state;
	static const hm_ini_choice names[] = {{"none", 0}, {"interval", 1}, {"batch", 2}, {"all", 2}};
	unsigned v = 9;
	assert_true(HM_INI_CHOOSE("interval", names, &v) && v == 1);
	assert_true(HM_INI_CHOOSE("all", names, &v) && v == 2);
	assert_true(HM_INI_CHOOSE("none", names, &v) && v == 0);
	v = 9;
	const char *bad[] = {"", "None", "inter", "batches", " none"};
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_false(HM_INI_CHOOSE(bad[i], names, &v));
	assert_int_equal(v, 9);
}

static void test_log_level_values_are_the_four_levels(void **state)
{
	(void)state;
	int level = -7;
	hm_clear_detail();
	assert_true(hm_ini_log_level("debug", &level));
	assert_int_equal(level, HM_DLOG_DEBUG);
	assert_true(hm_ini_log_level("error", &level));
	assert_int_equal(level, HM_DLOG_ERROR);
	assert_string_equal(hermes_last_error_detail(), "");
	assert_false(hm_ini_log_level("loud", &level));
	assert_int_equal(level, HM_DLOG_ERROR);
	assert_string_equal(hermes_last_error_detail(),
			    "log_level 'loud' must be error, warn, info or debug");
}

/* A handler for hm_ini_load: key "n" takes a number, anything else is
 * refused; it counts the entries it is given. */
static int number_handler(void *user, const char *section, const char *key, const char *value)
{
	(void)section;
	unsigned *calls = user;
	++*calls;
	if (strcmp(key, "n"))
		HM_INI_FAIL("unknown key '%s'", key);
	if (strspn(value, "0123456789") != strlen(value) || !*value)
		HM_INI_FAIL("n '%s' is not a number", value);
	return 1;
}

/* The load's error says the line and the reason of the same entry: the first
 * that failed (libinih reads on after it; nothing more is handled), a syntax
 * error where no handler spoke, a file that cannot be read. */
static void test_ini_errors_name_the_first_failing_line_and_its_reason(void **state)
{
	(void)state;
	unsigned calls = 0;
	assert_int_equal(hm_ini_load(NULL, "[s]\nn = 1\nn = 2\n", number_handler, &calls), HERMES_OK);
	assert_int_equal(calls, 2);
	calls = 0;
	assert_int_equal(hm_ini_load(NULL, "[s]\nn = 1\nn = x\ncolour = red\n", number_handler,
				     &calls),
			 HERMES_EINVAL);
	assert_string_equal(hermes_last_error_detail(), "line 3: n 'x' is not a number");
	assert_int_equal(calls, 2); /* line 4 was not handled */
	assert_int_equal(hm_ini_load(NULL, "[s]\nn = 1\nno equals sign\n", number_handler, &calls),
			 HERMES_EINVAL);
	assert_string_equal(hermes_last_error_detail(), "line 3: syntax error");
	/* A syntax error, then a handler's refusal: the first, with its own
	 * reason, never the later line's reason under the earlier number. */
	assert_int_equal(hm_ini_load(NULL, "[s]\nn = 1\nno equals sign\nn = 2\nn = x\n",
				     number_handler, &calls),
			 HERMES_EINVAL);
	assert_string_equal(hermes_last_error_detail(), "line 3: syntax error");
	/* Lines are counted as libinih counts them, continuation lines and
	 * lines without a final newline included. */
	assert_int_equal(hm_ini_load(NULL, "[s]\n; note\n\nn = 1\n  2\nn = y", number_handler,
				     &calls),
			 HERMES_EINVAL);
	assert_string_equal(hermes_last_error_detail(), "line 6: n 'y' is not a number");
	char dir[64], path[128];
	ht_temp_dir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/daemon.conf", dir);
	ht_write_file(path, "[s]\nwidth = 3\n");
	assert_int_equal(hm_ini_load(path, NULL, number_handler, &calls), HERMES_EINVAL);
	char want[256];
	snprintf(want, sizeof want, "%s:2: unknown key 'width'", path);
	assert_string_equal(hermes_last_error_detail(), want);
	ht_write_file(path, "[s]\nbad line\nwidth = 3\n");
	assert_int_equal(hm_ini_load(path, NULL, number_handler, &calls), HERMES_EINVAL);
	snprintf(want, sizeof want, "%s:2: syntax error", path);
	assert_string_equal(hermes_last_error_detail(), want);
	ht_remove_tree(dir);
	assert_int_equal(hm_ini_load(path, NULL, number_handler, &calls), HERMES_EINVAL);
	snprintf(want, sizeof want, "%s: cannot read: No such file or directory", path);
	assert_string_equal(hermes_last_error_detail(), want);
}

static int ticks;

static int tick_until_third(void *arg)
{
	assert_ptr_equal(arg, &ticks);
	return ++ticks == 3 ? 5 : 0;
}

/* A stop signal already pending ends the waits at once: the wait for the
 * bus with HERMES_ECLOSED, the wait for a stop with 0; a tick ends it with
 * its status. */
static void test_waits_end_at_a_stop_signal_or_a_tick(void **state)
{
	(void)state;
	sigset_t sigs, old;
	pthread_sigmask(SIG_SETMASK, NULL, &old);
	hm_daemon_start(-1, &sigs);
	ticks = 0;
	assert_int_equal(hm_daemon_wait_stop(&sigs, 1, tick_until_third, &ticks), 5);
	assert_int_equal(ticks, 3);
	raise(SIGTERM);
	hermes_bus *bus = NULL;
	assert_int_equal(hm_daemon_attach("no-such-bus-for-test-cli", &sigs, &bus), HERMES_ECLOSED);
	assert_null(bus);
	raise(SIGINT);
	assert_int_equal(hm_daemon_wait_stop(&sigs, 0, NULL, NULL), 0);
	raise(SIGHUP); /* ignored: the tick ends this wait */
	ticks = 2;
	assert_int_equal(hm_daemon_wait_stop(&sigs, 1, tick_until_third, &ticks), 5);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flags_with_keys_are_kept_in_order_with_their_values),
		cmocka_unit_test(test_help_version_and_usage_errors_give_the_exit_status),
		cmocka_unit_test(test_a_parse_starts_afresh),
		cmocka_unit_test(test_too_many_flags_are_a_usage_error),
		cmocka_unit_test(test_apply_sets_each_flag_in_order_and_stops_at_a_bad_one),
		cmocka_unit_test(test_booleans_have_one_syntax),
		cmocka_unit_test(test_choices_are_looked_up_by_their_whole_name),
		cmocka_unit_test(test_log_level_values_are_the_four_levels),
		cmocka_unit_test(test_ini_errors_name_the_first_failing_line_and_its_reason),
		cmocka_unit_test(test_waits_end_at_a_stop_signal_or_a_tick),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
