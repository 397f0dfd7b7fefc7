/* hermes-ctl's view of a journal (tools/ctl_journal.c, tail --journal in
 * tools/ctl_io.c): the real hermes-ctl against a journal the real recorder
 * wrote. */
#include "tests/journal/journal_support.h"
#include "tests/support/testing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "journal/journal.h"


static hjt T;
static char out[400];

static int teardown(void **state)
{
	(void)state;
	ht_jr_cleanup(&T);
	return 0;
}

/* Run hermes-ctl with args (NULL-terminated), stdout to `out`; its exit status. */
static int ctl(const char *const *args)
{
	snprintf(out, sizeof out, "%s/ctl.out", T.b.d.run_dir);
	return ht_ctl_run(&T.b.d, args, out, false, 60000);
}

/* The sequences at the start of each line of `out` (tail --format hex). */
static size_t out_seqs(uint64_t *seqs, size_t max)
{
	FILE *f = fopen(out, "r");
	assert_non_null(f);
	char line[1024];
	size_t n = 0;
	while (fgets(line, sizeof line, f)) {
		assert_true(n < max);
		seqs[n++] = strtoull(line, NULL, 10);
	}
	fclose(f);
	return n;
}

static void test_tail_reaches_into_the_journal_and_verify_finds_corruption(void **state)
{
	(void)state;
	/* Far more than the 64 KiB ring holds: sequence 0 is long gone from it. */
	ht_jr_journal(&T, "jctl", 64u << 10, "file_size = 256K\n", 10000);

	const char *tail[] = {"tail", T.ring, "--from", "0", "--count", "10000", "--format", "hex",
			      "--journal", T.dir, NULL};
	assert_int_equal(ctl(tail), 0);
	static uint64_t seqs[20000];
	assert_int_equal(out_seqs(seqs, 20000), 10000);
	for (uint64_t q = 0; q < 10000; q++)
		assert_int_equal(seqs[q], q);

	const char *list[] = {"journal", "list", T.dir, NULL};
	assert_int_equal(ctl(list), 0);
	assert_true(ht_file_has(out, "00000000000000000000.hjl"));
	assert_true(ht_file_has(out, "sealed"));
	const char *verify[] = {"journal", "verify", T.dir, NULL};
	assert_int_equal(ctl(verify), 0);
	assert_true(ht_file_has(out, "10000 messages, sequences 0..9999: ok"));
	const char *inspect[] = {"--json", "journal", "inspect", T.dir, NULL};
	assert_int_equal(ctl(inspect), 0);
	assert_true(ht_file_has(out, "\"next_seq\": 10000"));

	/* One flipped payload bit in sequence 5: verify names it and fails;
	 * tail skips it and says so, never printing it. */
	ht_jr_flip(T.dir, 0, 5, 10, 4);
	assert_int_equal(ctl(verify), 1);
	assert_true(ht_file_has(out, "corrupt: sequence 5 (1 sequence(s))"));
	const char *tail10[] = {"tail", T.ring, "--from", "3", "--count", "4", "--format", "hex",
				"--journal", T.dir, NULL};
	assert_int_equal(ctl(tail10), 0);
	assert_int_equal(out_seqs(seqs, 20000), 4);
	assert_int_equal(seqs[0], 3);
	assert_int_equal(seqs[1], 4);
	assert_int_equal(seqs[2], 6);
	assert_int_equal(seqs[3], 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_tail_reaches_into_the_journal_and_verify_finds_corruption, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
