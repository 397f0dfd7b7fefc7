/* Tests for journal/rstats.c, the recorder's counters file DIR/.recorder:
 * made (or reset) by the recorder and read back, and the refusals with
 * their codes and the details hermes-journal --stats and the recorder print
 * (no file, a file of another size, magic or layout, a directory in its
 * place). */
#include "tests/support/testing.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal/rstats.h"

/* DIR/.recorder holding n bytes of h (a header as a reader sees it). */
static void plant(const char *dir, const hm_rec_stats *h, size_t n)
{
	char path[128];
	snprintf(path, sizeof path, "%s/" HM_REC_STATS_FILE, dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, h, n), (ssize_t)n);
	close(fd);
}

static void test_recorder_makes_the_file_and_readers_see_its_counters(void **state)
{
	const char *dir = *state;
	hm_rec_stats *w = NULL;
	ht_assert_ok(hm_rec_stats_open(dir, &w));
	hm_store_relaxed_u64(&w->messages, 5);
	hm_rec_stats_error(w, "disk full");
	const hm_rec_stats *r = NULL;
	ht_assert_ok(hm_rec_stats_open_readonly(dir, &r));
	assert_int_equal(hm_load_relaxed_u64(&r->messages), 5);
	char text[sizeof r->last_error];
	hm_rec_stats_error_text(r, text);
	assert_string_equal(text, "disk full");
	hm_rec_stats_close(r);
	hm_rec_stats_close(w);
	/* A file of another size or magic is reset by the recorder. */
	hm_rec_stats junk;
	memset(&junk, 0x5a, sizeof junk);
	plant(dir, &junk, 10);
	ht_assert_ok(hm_rec_stats_open(dir, &w));
	assert_true(w->magic == HM_REC_STATS_MAGIC);
	assert_int_equal(hm_load_relaxed_u64(&w->messages), 0);
	hm_rec_stats_close(w);
}

static void test_readers_refuse_a_missing_or_foreign_file_saying_why(void **state)
{
	const char *dir = *state;
	char want[128];
	const hm_rec_stats *r = (const hm_rec_stats *)1;
	snprintf(want, sizeof want, "%s/.recorder: No such file or directory", dir);
	ht_assert_fails(hm_rec_stats_open_readonly(dir, &r), HERMES_ENOENT, want);
	assert_null(r);
	hm_rec_stats h = {.magic = HM_REC_STATS_MAGIC, .version = HM_REC_STATS_VERSION};
	const struct {
		size_t size;
		uint64_t magic, version;
		hermes_err err;
	} cases[] = {
		{10, HM_REC_STATS_MAGIC, HM_REC_STATS_VERSION, HERMES_EBADSEGMENT}, /* cut short */
		{sizeof h, 0, HM_REC_STATS_VERSION, HERMES_EBADSEGMENT},	     /* not ours */
		{sizeof h, HM_REC_STATS_MAGIC, HM_REC_STATS_VERSION + 1, HERMES_EVERSION},
	};
	/* hermes-journal --stats prints "hermes-journal: DETAIL". */
	snprintf(want, sizeof want, "%s/.recorder: Invalid argument", dir);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		h.magic = cases[i].magic;
		h.version = cases[i].version;
		plant(dir, &h, cases[i].size);
		r = (const hm_rec_stats *)1;
		ht_assert_fails(hm_rec_stats_open_readonly(dir, &r), cases[i].err, want);
		assert_null(r);
	}
}

static void test_recorder_refuses_a_directory_in_its_place(void **state)
{
	const char *dir = *state;
	char path[128], want[128];
	snprintf(path, sizeof path, "%s/" HM_REC_STATS_FILE, dir);
	assert_int_equal(mkdir(path, 0700), 0);
	hm_rec_stats *w = (hm_rec_stats *)1;
	/* The recorder logs "ring NAME: DETAIL". */
	snprintf(want, sizeof want, "counters file in %s: Is a directory", dir);
	ht_assert_fails(hm_rec_stats_open(dir, &w), HERMES_ESYS, want);
	assert_null(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_recorder_makes_the_file_and_readers_see_its_counters,
						ht_dir_setup, ht_dir_teardown),
		cmocka_unit_test_setup_teardown(test_readers_refuse_a_missing_or_foreign_file_saying_why,
						ht_dir_setup, ht_dir_teardown),
		cmocka_unit_test_setup_teardown(test_recorder_refuses_a_directory_in_its_place,
						ht_dir_setup, ht_dir_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
