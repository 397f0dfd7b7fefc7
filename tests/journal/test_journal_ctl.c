/* hermes-ctl's view of a journal (tools/ctl_journal.c, tail --journal in
 * tools/ctl_io.c): the real hermes-ctl against a journal the real recorder
 * wrote. */
#include "tests/journal/journal_support.h"
#include "tests/support/testing.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "journal/journal.h"

#ifndef HERMES_CTL_PATH
#error "HERMES_CTL_PATH must name the hermes-ctl binary"
#endif

static hjt T;
static char out[400];

static int teardown(void **state)
{
	(void)state;
	hjt_cleanup(&T);
	return 0;
}

/* Run hermes-ctl with args (NULL-terminated), stdout to `out`; its exit status. */
static int ctl(const char *const *args)
{
	snprintf(out, sizeof out, "%s/ctl.out", T.b.d.run_dir);
	const char *argv[24] = {"hermes-ctl", "--bus", T.b.name};
	int n = 3;
	for (; *args && n < 23; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	fflush(stdout);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			_exit(126);
		dup2(fd, STDOUT_FILENO);
		unsetenv("HERMES_BUS");
		unsetenv("HERMES_RUN_DIR");
		execv(HERMES_CTL_PATH, (char *const *)argv);
		_exit(127);
	}
	int st = ht_wait_child(pid, 60000);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool out_has(const char *needle)
{
	FILE *f = fopen(out, "r");
	assert_non_null(f);
	char line[1024];
	bool found = false;
	while (!found && fgets(line, sizeof line, f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
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
	hjt_init(&T, "jctl", 64u << 20, 64u << 10, 1024, NULL);
	hjt_config(&T, "file_size = 256K\n");
	hjt_start(&T, true);
	hermes_pub *pub;
	assert_int_equal(hermes_pub_open(T.b.bus, T.ring, &pub), HERMES_OK);
	/* Far more than the 64 KiB ring holds: sequence 0 is long gone from it. */
	hjt_publish(&T, pub, 0, 10000);
	hermes_pub_close(pub);
	assert_true(hjt_wait_journaled(&T, 10000, 10000));
	hjt_stop(&T);

	const char *tail[] = {"tail", T.ring, "--from", "0", "--count", "10000", "--format", "hex",
			      "--journal", T.dir, NULL};
	assert_int_equal(ctl(tail), 0);
	static uint64_t seqs[20000];
	assert_int_equal(out_seqs(seqs, 20000), 10000);
	for (uint64_t q = 0; q < 10000; q++)
		assert_int_equal(seqs[q], q);

	const char *list[] = {"journal", "list", T.dir, NULL};
	assert_int_equal(ctl(list), 0);
	assert_true(out_has("00000000000000000000.hjl"));
	assert_true(out_has("sealed"));
	const char *verify[] = {"journal", "verify", T.dir, NULL};
	assert_int_equal(ctl(verify), 0);
	assert_true(out_has("10000 messages, sequences 0..9999: ok"));
	const char *inspect[] = {"--json", "journal", "inspect", T.dir, NULL};
	assert_int_equal(ctl(inspect), 0);
	assert_true(out_has("\"next_seq\": 10000"));

	/* One flipped payload bit in sequence 5: verify names it and fails;
	 * tail skips it and says so, never printing it. */
	char path[400];
	hm_jdir_path(path, sizeof path, T.dir, 0);
	FILE *jf = fopen(path, "r+b");
	assert_non_null(jf);
	static uint8_t head[256u << 10];
	assert_int_equal(fread(head, 1, sizeof head, jf), sizeof head);
	hm_jfile_info fi;
	assert_int_equal(hm_jfile_header(head, sizeof head, &fi), HERMES_OK);
	uint64_t off = fi.data_offset;
	hm_jrec rec;
	for (uint64_t q = 0; q < 5; q++) {
		assert_int_equal(hm_jfile_read(head, &fi, off, q, &rec), HERMES_OK);
		off = rec.next_off;
	}
	assert_int_equal(fseek(jf, (long)(off + HM_JR_HDR + 10), SEEK_SET), 0);
	fputc(head[off + HM_JR_HDR + 10] ^ 4, jf);
	fclose(jf);
	assert_int_equal(ctl(verify), 1);
	assert_true(out_has("corrupt: sequence 5 (1 sequence(s))"));
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
