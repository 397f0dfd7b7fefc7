/* Tests for journal/recorder/rconfig.c: hermes-journal's configuration. */
#include "tests/support/testing.h"

#include "journal/recorder/rconfig.h"

static void test_documented_format_is_accepted(void **state)
{
	(void)state;
	static hm_rec_config c;
	hm_rec_config_defaults(&c);
	assert_int_equal(hm_rec_config_load_string(&c, "; comment\n[journal]\nbus = trading\nlog_level = warn\n"
						   "[ring orders]\njournal = /var/lib/hermes/orders\n"
						   "file_size = 1M\nretention_bytes = 10G\nretention_age = 7d\n"
						   "fsync = batch\nfsync_interval = 250ms\ndurable = true\n"
						   "[ring fills]\njournal = /var/lib/hermes/fills\n"
						   "retention_age = 2\n"),
			 HERMES_OK);
	assert_int_equal(hm_rec_config_check(&c), HERMES_OK);
	assert_string_equal(c.bus, "trading");
	assert_int_equal(c.log_level, 1);
	assert_int_equal(c.nrings, 2);
	const hm_rec_ring_conf *r = &c.rings[0];
	assert_string_equal(r->name, "orders");
	assert_string_equal(r->dir, "/var/lib/hermes/orders");
	assert_int_equal(r->opts.file_size, 1u << 20);
	assert_int_equal(r->opts.retain_bytes, 10ull << 30);
	assert_int_equal(r->opts.retain_age_ns, 7ull * 86400 * 1000000000ull);
	assert_int_equal(r->fsync, HM_REC_FSYNC_BATCH);
	assert_int_equal(r->fsync_interval_ns, 250000000ull);
	assert_true(r->durable);
	r = &c.rings[1];
	assert_int_equal(r->opts.file_size, 64u << 20);
	assert_int_equal(r->opts.retain_age_ns, 2000000000ull); /* a bare number: seconds */
	assert_int_equal(r->fsync, HM_REC_FSYNC_NONE);
	assert_false(r->durable);
	assert_int_equal(hm_rec_config_add_ring(&c, "quotes:/data/quotes"), HERMES_OK);
	assert_int_equal(c.nrings, 3);
	assert_int_equal(hm_rec_config_check(&c), HERMES_OK);
}

static void test_bad_entries_are_errors_with_their_line(void **state)
{
	(void)state;
	static const ht_refusal cases[] = {
		{"[ring a]\njournal = /j/a\ncolour = blue\n", "line 3: unknown key 'colour'"},
		{"[ring a]\njournal = /j/a\njournal = /j/b\n", "line 3: duplicate key 'journal'"},
		{"[ring a]\njournal =\n", "line 2: 'journal' has no value"},
		{"[ring a]\njournal = relative/dir\n", "line 2: journal = 'relative/dir'"},
		{"[ring a]\njournal = /j/a\nfsync = sometimes\n", "line 3: fsync = 'sometimes'"},
		{"[ring a]\njournal = /j/a\nfile_size = 1000\n", "line 3: file_size"},
		{"[ring a]\njournal = /j/a\nretention_age = soon\n", "line 3: retention_age"},
		{"[ring a]\njournal = /j/a\nretention_age = 1w\n", "line 3: retention_age"},
		{"[ring a]\njournal = /j/a\ndurable = maybe\n", "line 3: durable"},
		{"[rings]\nx = 1\n", "line 2: unknown section [rings]"},
		{"[ring bad/name]\njournal = /j\n", "not a ring name"},
		{"[journal]\nbus = a\nbus = b\n", "line 3: bus"},
		{"[ring a]\nfsync = none\n", "[ring a] has no journal"},
		{"[ring a]\njournal = /j\n[ring b]\njournal = /j\n", "share the journal /j"},
		{"[journal]\nbus = x\n", "no ring to journal"},
		/* With two bad lines, the message is the first one's, with its line. */
		{"[ring a]\ncolour = blue\nshade = red\n", "line 2: unknown key 'colour'"},
	};
	static hm_rec_config c;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		hm_rec_config_defaults(&c);
		hermes_err e = hm_rec_config_load_string(&c, cases[i].text);
		ht_assert_fails(e ? e : hm_rec_config_check(&c), HERMES_EINVAL, cases[i].says);
	}
	/* Flags: the same reasons, without a line. */
	hm_rec_config_defaults(&c);
	assert_int_equal(hm_rec_config_add_ring(&c, "nocolon"), HERMES_EINVAL);
	assert_string_equal(hermes_last_error_detail(), "'nocolon': NAME:DIR");
	assert_int_equal(hm_rec_config_set(&c, NULL, "ring", "a:relative"), HERMES_EINVAL);
	assert_string_equal(hermes_last_error_detail(), "journal = 'relative': an absolute directory path");
	assert_int_equal(hm_rec_config_set(&c, NULL, "log_level", "loud"), HERMES_EINVAL);
	assert_string_equal(hermes_last_error_detail(), "log_level 'loud' must be error, warn, info or debug");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_documented_format_is_accepted),
		cmocka_unit_test(test_bad_entries_are_errors_with_their_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
