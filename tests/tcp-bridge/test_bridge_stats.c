/* Tests for tcp-bridge/bridge/stats.c, the bridge's counters file: made with
 * the configured mode and removed at close, and when it cannot be made (no
 * such directory, a symbolic link planted in its place) an error with a
 * detail the bridge logs, while the counters go on in private memory. */
#include "tests/support/testing.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tcp-bridge/bridge/stats.h"

/* Where the file cannot be made (no such directory; a symbolic link in
 * its place, never followed): an error with the detail the bridge logs as
 * "no DETAIL (counting in memory only)", no path to remove at close, and the
 * counters in private memory all the same. */
static void test_file_that_cannot_be_made_is_an_error_and_counting_goes_on(void **state)
{
	const char *dir = *state;
	char missing[128], link[128], target[128], want[192];
	snprintf(missing, sizeof missing, "%s/none", dir);
	snprintf(want, sizeof want, "counters file in %s: No such file or directory", missing);
	snprintf(link, sizeof link, "%s/hermes-bridge.b.1", dir);
	snprintf(target, sizeof target, "%s/elsewhere", dir);
	assert_int_equal(symlink(target, link), 0);
	const struct {
		const char *dir;
		hermes_err err;
		const char *says;
	} cases[] = {
		{missing, HERMES_ENOENT, want},
		{dir, HERMES_ESYS, "Too many levels of symbolic links"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		hm_bridge_stats *s = NULL;
		char path[256] = "x";
		ht_assert_fails(hm_stats_open(cases[i].dir, "b", 1, 0600, &s, path, sizeof path),
				cases[i].err, cases[i].says);
		assert_non_null(s);
		assert_string_equal(path, "");
		hm_stat_add(&s->c.protocol_errors, 1);
		hm_stats_close(s, path);
	}
	assert_int_equal(access(target, F_OK), -1);
}

static void test_counters_file_is_made_with_its_mode_and_removed_at_close_or_in_memory(void **state)
{
	const char *dir = *state;
	hm_bridge_stats *s = NULL;
	char path[256];
	ht_assert_ok(hm_stats_open(dir, "b", 7400, 0640, &s, path, sizeof path));
	assert_non_null(s);
	char want[256];
	snprintf(want, sizeof want, "%s/hermes-bridge.b.7400", dir);
	assert_string_equal(path, want);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal((size_t)st.st_size, sizeof *s);
	assert_int_equal(s->h.listen_port, 7400);
	assert_string_equal(s->h.bus, "b");
	hm_stats_close(s, path);
	assert_int_equal(access(want, F_OK), -1);
	/* Without a directory (stats_dir = none): private memory, no path. */
	s = NULL;
	snprintf(path, sizeof path, "x");
	ht_assert_ok(hm_stats_open(NULL, "b", 1, 0600, &s, path, sizeof path));
	assert_non_null(s);
	assert_string_equal(path, "");
	hm_stat_add(&s->c.protocol_errors, 2);
	assert_int_equal(hm_load_relaxed_u64(&s->c.protocol_errors), 2);
	hm_stats_close(s, path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_file_that_cannot_be_made_is_an_error_and_counting_goes_on,
						ht_dir_setup, ht_dir_teardown),
		cmocka_unit_test_setup_teardown(test_counters_file_is_made_with_its_mode_and_removed_at_close_or_in_memory,
						ht_dir_setup, ht_dir_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
