/* Tests for core/error.c: every code has a distinct name and a message. */
#include "tests/support/testing.h"

#include <string.h>

#include <hermes/error.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_code_has_name_and_text),
		cmocka_unit_test(test_unknown_code_is_reported_not_crashed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
