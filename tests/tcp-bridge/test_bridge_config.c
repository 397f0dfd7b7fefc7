/* hermes-bridge configuration (tcp-bridge/bridge/config.c): the example file
 * parses, flags and --link specs are validated like file keys, bad input is
 * refused with its line, and permission patterns match as documented. */
#include <stdio.h>
#include <string.h>

#include "tcp-bridge/bridge/config.h"
#include "tests/support/testing.h"

/* c from its defaults and then the file at path, or with path NULL text:
 * the load must give HERMES_OK (else the test fails saying why). */
static void load(hm_bridge_cfg *c, const char *path, const char *text)
{
	hm_bridge_cfg_defaults(c);
	hermes_err err = path ? hm_bridge_cfg_load(c, path) : hm_bridge_cfg_load_string(c, text);
	if (err != HERMES_OK)
		fail_msg("%s: %s", hermes_err_name(err), hermes_last_error_detail());
}

/* text must be refused with HERMES_EINVAL, its message naming `where`
 * (":3:", the line). */
static void refused_at(const char *text, const char *where)
{
	hm_bridge_cfg c;
	hm_bridge_cfg_defaults(&c);
	ht_assert_fails(hm_bridge_cfg_load_string(&c, text), HERMES_EINVAL, where);
}

static void test_the_example_config_parses(void **state)
{
	(void)state;
	hm_bridge_cfg c;
	load(&c, HERMES_SOURCE_DIR "/tcp-bridge/bridge/hermes-bridge.conf.example", NULL);
	assert_int_equal(hm_bridge_cfg_check(&c), HERMES_OK);
	assert_string_equal(c.listen, "127.0.0.1:7400");
	assert_int_equal(c.out_buffer, 1u << 20);
	assert_int_equal(c.slow, HM_SLOW_AUTO);
	hm_bridge_cfg_fini(&c);
}

static void test_sections_keys_and_their_errors(void **state)
{
	(void)state;
	hm_bridge_cfg c;
	load(&c, NULL, "[bridge]\nslow_policy = block\nout_buffer = 4M\n"
		 "[ring orders]\nslow_policy = disconnect\n"
		 "[link west]\nconnect = 10.0.0.2:7400\n"
		 "rings = orders events:out, quotes:in\n");
	assert_int_equal(c.slow, HM_SLOW_HOLD); /* "block" is an alias of hold */
	assert_int_equal(c.out_buffer, 4u << 20);
	assert_int_equal(c.nrings, 1);
	assert_int_equal(c.rings[0].slow, HM_SLOW_DISCONNECT);
	assert_int_equal(c.nlinks, 1);
	assert_int_equal(c.links[0].nrings, 3);
	assert_true(c.links[0].rings[0].in && c.links[0].rings[0].out);
	assert_true(!c.links[0].rings[1].in && c.links[0].rings[1].out);
	assert_true(c.links[0].rings[2].in && !c.links[0].rings[2].out);

	static const char *const bad[] = {
		"[bridge]\nnosuchkey = 1\n",	      "[nosuch]\nx = 1\n",
		"[bridge]\nlisten = nowhere\n",	      "[bridge]\nout_buffer = 1K\n",
		"[bridge]\nslow_policy = sometimes\n", "[bridge]\nstats_mode = 0666\n",
		"[link x]\nrings = a:sideways\n",      "[bridge]\nmax_frame = 100\n",
	};
	/* The message names the line. */
	for (unsigned i = 0; i < sizeof bad / sizeof *bad; i++)
		refused_at(bad[i], ":");
	refused_at("[bridge]\nlisten = 0.0.0.0:1\nbogus\n", ":3:");
	/* With two bad lines, the message is the first one's, with its line. */
	refused_at("[bridge]\nlisten = nowhere\nslow_policy = sometimes\n",
		   "(string):2: listen: 'nowhere' is not ADDR:PORT");
}

static void test_ring_journals_from_the_file_and_the_flag(void **state)
{
	(void)state;
	hm_bridge_cfg c;
	load(&c, NULL, "[ring orders]\njournal = /var/lib/hermes/journal/orders\n");
	assert_int_equal(c.nrings, 1);
	assert_string_equal(c.rings[0].journal, "/var/lib/hermes/journal/orders");
	/* The flag adds a ring, or sets the journal of one already there. */
	assert_int_equal(hm_bridge_cfg_add_journal(&c, "events:/j/events"), HERMES_OK);
	assert_int_equal(hm_bridge_cfg_add_journal(&c, "orders:/j/orders"), HERMES_OK);
	assert_int_equal(c.nrings, 2);
	assert_string_equal(c.rings[0].journal, "/j/orders");
	assert_string_equal(c.rings[1].name, "events");
	assert_string_equal(c.rings[1].journal, "/j/events");
	/* Relative directories, a missing colon, bad ring names: refused. */
	static const char *const bad_flags[] = {"events", "events:", "events:rel/dir", ":/j/x", ".x:/j/x"};
	for (unsigned i = 0; i < sizeof bad_flags / sizeof *bad_flags; i++)
		assert_int_equal(hm_bridge_cfg_add_journal(&c, bad_flags[i]), HERMES_EINVAL);
	ht_assert_says(hermes_last_error_detail(), "--journal '.x:/j/x': bad ring name");
	refused_at("[ring orders]\njournal = relative/dir\n", ":2:");
}

static void test_link_flags_and_checks(void **state)
{
	(void)state;
	hm_bridge_cfg c;
	hm_bridge_cfg_defaults(&c);
	assert_int_equal(hm_bridge_cfg_add_link(&c, "[::1]:7401/a,b:in", "me", NULL, false), HERMES_OK);
	assert_string_equal(c.links[0].address, "[::1]:7401");
	assert_string_equal(c.links[0].identity, "me");
	assert_int_equal(c.links[0].nrings, 2);
	assert_int_equal(hm_bridge_cfg_add_link(&c, "host:7401", NULL, NULL, false), HERMES_EINVAL);
	assert_int_equal(hm_bridge_cfg_add_link(&c, "host/a", NULL, NULL, false), HERMES_EINVAL);
	assert_int_equal(hm_bridge_cfg_add_link(&c, "host:0/a", NULL, NULL, false), HERMES_EINVAL);
	assert_string_equal(hermes_last_error_detail(), "--link 'host:0/a': 'host:0' is not HOST:PORT");
	/* Encryption without a key cannot work. */
	hm_bridge_cfg_defaults(&c);
	assert_int_equal(hm_bridge_cfg_add_link(&c, "h:1/a", NULL, NULL, true), HERMES_OK);
	assert_int_equal(hm_bridge_cfg_check(&c), HERMES_EINVAL);
	assert_string_equal(hermes_last_error_detail(), "link link1: encrypt needs a key_file");
	/* encrypt = required needs an auth file. */
	hm_bridge_cfg_defaults(&c);
	assert_int_equal(hm_bridge_cfg_set(&c, "encrypt", "required"), HERMES_OK);
	assert_int_equal(hm_bridge_cfg_check(&c), HERMES_EINVAL);
}

static void test_permission_patterns(void **state)
{
	(void)state;
	assert_true(hm_patterns_match("orders telemetry.*", "telemetry.cpu"));
	assert_true(hm_patterns_match("orders telemetry.*", "orders"));
	assert_false(hm_patterns_match("orders telemetry.*", "orders2"));
	assert_true(hm_patterns_match("*", "anything"));
	assert_false(hm_patterns_match("", "anything"));
	assert_false(hm_patterns_match("nothing", "secure-in"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_example_config_parses),
		cmocka_unit_test(test_sections_keys_and_their_errors),
		cmocka_unit_test(test_ring_journals_from_the_file_and_the_flag),
		cmocka_unit_test(test_link_flags_and_checks),
		cmocka_unit_test(test_permission_patterns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
