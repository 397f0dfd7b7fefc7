/* Tests for core/error.c: every code has a distinct name and a message; the
 * thread-local detail. */
#include "tests/support/testing.h"

#include <string.h>

#include <hermes/error.h>

#include "core/error_detail.h"

static void test_every_code_has_name_and_text(void **state)
{
	(void)state;
	for (int e = 0; e < HERMES_ERR_COUNT_; e++) {
		const char *name = hermes_err_name((hermes_err)e);
		assert_non_null(name);
		assert_true(strncmp(name, "HERMES_", 7) == 0);
		assert_string_not_equal(name, "HERMES_E?");
		assert_string_not_equal(hermes_strerror((hermes_err)e), "unknown error");
		for (int f = 0; f < e; f++)
			assert_string_not_equal(name, hermes_err_name((hermes_err)f));
	}
}

static void test_unknown_code_is_reported_not_crashed(void **state)
{
	(void)state;
	assert_string_equal(hermes_strerror((hermes_err)9999), "unknown error");
	assert_string_equal(hermes_strerror((hermes_err)-1), "unknown error");
}

/* A caller puts its context before its callee's reason: the detail may be
 * an argument of the hm_fail that replaces it. */
static void test_fail_may_quote_the_detail_it_replaces(void **state)
{
	(void)state;
	assert_int_equal(hm_fail(HERMES_ENOENT, "open %s: gone", "/x"), HERMES_ENOENT);
	assert_int_equal(hm_fail(HERMES_EINVAL, "key_file: %s", hermes_last_error_detail()),
			 HERMES_EINVAL);
	assert_string_equal(hermes_last_error_detail(), "key_file: open /x: gone");
	hm_clear_detail();
	assert_string_equal(hermes_last_error_detail(), "");
}

/* A configuration error ("FILE:LINE: " and a reason quoting a path) keeps
 * up to 511 bytes, as the daemons' loaders need. */
static void test_a_long_detail_keeps_511_bytes(void **state)
{
	(void)state;
	char long_path[600];
	memset(long_path, 'p', sizeof long_path - 1);
	long_path[sizeof long_path - 1] = '\0';
	hm_fail(HERMES_EINVAL, "%s", long_path);
	assert_int_equal(strlen(hermes_last_error_detail()), 511);
	assert_memory_equal(hermes_last_error_detail(), long_path, 511);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_code_has_name_and_text),
		cmocka_unit_test(test_unknown_code_is_reported_not_crashed),
		cmocka_unit_test(test_fail_may_quote_the_detail_it_replaces),
		cmocka_unit_test(test_a_long_detail_keeps_511_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
