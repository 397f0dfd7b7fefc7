/* Tests for daemon/sched.c: the cpu_affinity syntax, and scheduling that
 * says why a step was not applied. Never asks for a real-time priority: the
 * test machine's CPUs are shared. */
#include "tests/support/testing.h"

#include <sched.h>

#include "daemon/sched.h"

static void test_cpu_lists_take_numbers_and_ranges_only(void **state)
{
	(void)state;
	cpu_set_t set;
	assert_true(hm_parse_cpus("0,2-3", &set));
	assert_int_equal(CPU_COUNT(&set), 3);
	assert_true(CPU_ISSET(0, &set) && CPU_ISSET(2, &set) && CPU_ISSET(3, &set));
	assert_true(hm_parse_cpus("5", &set) && CPU_COUNT(&set) == 1 && CPU_ISSET(5, &set));
	const char *bad[] = {"", "a", "3-1", "1-", "-1", "1,,2", "1 ", "99999", "2,", ","};
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (hm_parse_cpus(bad[i], &set))
			fail_msg("'%s' parsed as a CPU list", bad[i]);
	assert_false(hm_parse_cpus(NULL, &set));
}

/* A step the kernel refuses is returned and named in the detail (the daemon
 * logs it and goes on); the process keeps its CPUs. */
static void test_a_refused_affinity_is_said_and_returned(void **state)
{
	(void)state;
	cpu_set_t mine, none_online;
	assert_int_equal(sched_getaffinity(0, sizeof mine, &mine), 0);
	ht_assert_ok(hm_apply_scheduling(NULL, 0));
	ht_assert_ok(hm_apply_scheduling(&mine, 0));
	CPU_ZERO(&none_online);
	CPU_SET(CPU_SETSIZE - 1, &none_online);
	assert_int_equal(hm_apply_scheduling(&none_online, 0), HERMES_EINVAL);
	assert_string_equal(hermes_last_error_detail(), "cpu affinity not applied: Invalid argument");
	cpu_set_t after;
	assert_int_equal(sched_getaffinity(0, sizeof after, &after), 0);
	assert_true(CPU_EQUAL(&after, &mine));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpu_lists_take_numbers_and_ranges_only),
		cmocka_unit_test(test_a_refused_affinity_is_said_and_returned),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
