/* Tests for journal/journal.c: a journal directory written and read back
 * across files, recovery of a writer's tail, retention, corrupt records in
 * the reader's path, one writer per directory. */
#include "tests/support/testing.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/endian.h"
#include "journal/journal.h"

#define FSIZE (64u * 1024u)

static char dir[128];

static int setup(void **state)
{
	(void)state;
	char name[64];
	snprintf(dir, sizeof dir, "/tmp/hermes-test-%s", ht_unique_name(name, sizeof name, "jn"));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
		rmdir(dir);
	}
	return 0;
}

static uint32_t msg_len(uint64_t seq)
{
	return (uint32_t)(seq * 7 % 300) + 1;
}

static void fill(uint8_t *p, uint64_t seq)
{
	for (uint32_t k = 0; k < msg_len(seq); k++)
		p[k] = (uint8_t)(seq * 3 + k);
}

static hm_jwriter *open_writer(hm_jrecovery *rep, uint64_t retain_bytes)
{
	hm_jopts o = {.file_size = FSIZE, .index_stride = 4096, .retain_bytes = retain_bytes};
	hm_jwriter *w = NULL;
	assert_int_equal(hm_jwriter_open(dir, "orders", 9, &o, &w, rep), HERMES_OK);
	return w;
}

static void write_msgs(hm_jwriter *w, uint64_t from, uint64_t to)
{
	uint8_t p[512];
	for (uint64_t q = from; q < to; q++) {
		fill(p, q);
		assert_int_equal(hm_jwriter_msg(w, q, p, msg_len(q)), HERMES_OK);
	}
}

/* A journal of messages [0, n), its writer closed. */
static void write_journal(uint64_t n)
{
	hm_jwriter *w = open_writer(NULL, 0);
	write_msgs(w, 0, n);
	hm_jwriter_close(w);
}

/* Read from `from` until the journal has nothing more; check each message
 * and return the sequence after the last one. */
static uint64_t read_all(uint64_t from, uint64_t *msgs, uint64_t *gaps, uint64_t *lost, uint64_t *corrupt)
{
	hm_jreader *r;
	assert_int_equal(hm_jreader_open(dir, from, &r), HERMES_OK);
	uint64_t next = from;
	hm_jitem it;
	hermes_err e;
	while ((e = hm_jreader_next(r, &it)) == HERMES_OK) {
		assert_int_equal(it.seq, next);
		if (it.kind == HM_JREAD_MSG) {
			uint8_t p[512];
			fill(p, it.seq);
			assert_int_equal(it.len, msg_len(it.seq));
			assert_memory_equal(it.data, p, it.len);
			(*msgs)++;
		} else if (it.kind == HM_JREAD_GAP) {
			*gaps += it.count;
		} else if (it.kind == HM_JREAD_LOST) {
			*lost += it.count;
		} else {
			*corrupt += it.count;
		}
		next = it.seq + it.count;
		hm_jreader_release(r);
	}
	assert_int_equal(e, HERMES_EAGAIN);
	assert_int_equal(hm_jreader_next_seq(r), next);
	hm_jreader_close(r);
	return next;
}

static size_t count_files(void)
{
	uint64_t *s;
	size_t n;
	assert_int_equal(hm_jdir_list(dir, &s, &n), HERMES_OK);
	free(s);
	return n;
}

/* Map the journal's file `back` files before the newest (0: the newest)
 * read-write, as a damaged disk would present it; *fi gets its header and
 * *newest (when not NULL) the first sequence of the newest file. Unmap with
 * munmap(m, FSIZE). */
static uint8_t *map_file(size_t back, hm_jfile_info *fi, uint64_t *newest)
{
	uint64_t *s;
	size_t n;
	assert_int_equal(hm_jdir_list(dir, &s, &n), HERMES_OK);
	assert_true(n > back);
	char path[300];
	hm_jdir_path(path, sizeof path, dir, s[n - 1 - back]);
	if (newest)
		*newest = s[n - 1];
	free(s);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	uint8_t *m = mmap(NULL, FSIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(m != MAP_FAILED);
	close(fd);
	assert_int_equal(hm_jfile_header(m, FSIZE, fi), HERMES_OK);
	return m;
}

static uint8_t *map_newest(hm_jfile_info *fi)
{
	return map_file(0, fi, NULL);
}

static void test_written_journal_reads_back_from_any_sequence_across_files(void **state)
{
	(void)state;
	hm_jrecovery rep;
	hm_jwriter *w = open_writer(&rep, 0);
	assert_int_equal(rep.next_seq, HM_JSEQ_NONE);
	write_msgs(w, 0, 3000);
	assert_int_equal(hm_jwriter_range(w, HM_JR_GAP, 3000, 5), HERMES_OK);
	write_msgs(w, 3005, 3100);
	/* Wrong sequences are refused. */
	assert_int_equal(hm_jwriter_msg(w, 3099, "x", 1), HERMES_EINVAL);
	assert_int_equal(hm_jwriter_msg(w, 3101, "x", 1), HERMES_EINVAL);
	assert_true(count_files() > 5);
	for (uint64_t from = 0; from < 3100; from += 211) {
		uint64_t m = 0, g = 0, l = 0, c = 0;
		assert_int_equal(read_all(from, &m, &g, &l, &c), 3100);
		assert_int_equal(m, from <= 3000 ? 3095 - from : 3100 - from);
		assert_int_equal(g, from <= 3000 ? 5 : from < 3005 ? 3005 - from : 0);
		assert_int_equal(l + c, 0);
	}
	hm_jwriter_close(w);
}

/* hm_jwriter_msgs (the recorder's runs): a run crossing file roll-overs reads
 * back whole; a run with a sequence out of line stops there, says how many
 * went in, and the rest can be written after. */
static void test_runs_of_messages_cross_files_and_stop_at_a_wrong_sequence(void **state)
{
	(void)state;
	hm_jwriter *w = open_writer(NULL, 0);
	static uint8_t p[600][512];
	static hermes_msg run[600];
	for (uint64_t q = 0; q < 600; q++) {
		fill(p[q], q);
		run[q] = (hermes_msg){.data = p[q], .len = msg_len(q), .seq = q};
	}
	unsigned done = 0;
	assert_int_equal(hm_jwriter_msgs(w, run, 500, &done), HERMES_OK);
	assert_int_equal(done, 500);
	assert_true(count_files() > 1);
	run[520].seq = 999; /* out of line */
	assert_int_equal(hm_jwriter_msgs(w, run + 500, 100, &done), HERMES_EINVAL);
	assert_int_equal(done, 20);
	assert_int_equal(hm_jwriter_next_seq(w), 520);
	run[520].seq = 520;
	assert_int_equal(hm_jwriter_msgs(w, run + 520, 80, &done), HERMES_OK);
	assert_int_equal(done, 80);
	uint64_t m = 0, g = 0, l = 0, c = 0;
	assert_int_equal(read_all(0, &m, &g, &l, &c), 600);
	assert_int_equal(m, 600);
	assert_int_equal(g + l + c, 0);
	hm_jwriter_close(w);
}

static void test_reader_follows_a_live_writer(void **state)
{
	(void)state;
	hm_jwriter *w = open_writer(NULL, 0);
	hm_jreader *r;
	assert_int_equal(hm_jreader_open(dir, 0, &r), HERMES_OK);
	hm_jitem it;
	assert_int_equal(hm_jreader_next(r, &it), HERMES_EAGAIN); /* no file yet */
	uint64_t next = 0;
	for (uint64_t q = 0; q < 2000; q += 100) {
		write_msgs(w, q, q + 100);
		while (hm_jreader_next(r, &it) == HERMES_OK) {
			assert_int_equal(it.kind, HM_JREAD_MSG);
			assert_int_equal(it.seq, next++);
		}
		assert_int_equal(next, q + 100);
	}
	hm_jreader_close(r);
	hm_jwriter_close(w);
}

static void test_reopened_writer_cuts_a_torn_tail_and_continues(void **state)
{
	(void)state;
	write_journal(100);
	/* Append a committed-looking record with a bad checksum by hand. */
	hm_jfile_info fi;
	uint8_t *m = map_newest(&fi);
	hm_jscan sc;
	hm_jfile_scan(m, &fi, &sc, NULL, NULL);
	assert_false(sc.torn);
	uint64_t tail = sc.tail_off;
	hm_jfile_put(m, &fi, tail, HM_JR_MSG, 100, 0, "torn record", 11);
	m[tail + HM_JR_HDR + 4] ^= 0x40;
	munmap(m, FSIZE);

	/* A reader stops before it and delivers nothing of it. */
	uint64_t msgs = 0, g = 0, l = 0, c = 0;
	assert_int_equal(read_all(0, &msgs, &g, &l, &c), 100);
	assert_int_equal(msgs, 100);

	hm_jrecovery rep;
	hm_jwriter *w = open_writer(&rep, 0);
	assert_true(rep.torn);
	assert_true(rep.cut_bytes > 0);
	assert_int_equal(rep.next_seq, 100);
	assert_int_equal(hm_jwriter_next_seq(w), 100);
	write_msgs(w, 100, 200);
	hm_jwriter_close(w);
	msgs = 0;
	assert_int_equal(read_all(0, &msgs, &g, &l, &c), 200);
	assert_int_equal(msgs, 200);
	assert_int_equal(c, 0);
}

static void test_corrupt_record_reaches_the_reader_as_its_sequence_never_its_data(void **state)
{
	(void)state;
	write_journal(50);
	assert_int_equal(count_files(), 1);
	hm_jfile_info fi;
	uint8_t *m = map_newest(&fi);
	/* Flip one payload byte of sequence 20. */
	uint64_t off = fi.data_offset;
	for (uint64_t q = 0; q < 20; q++)
		off += hm_jr_size(msg_len(q));
	assert_int_equal(hm_get_le64(m + off + HM_JR_SEQ), 20);
	m[off + HM_JR_HDR] ^= 1;
	munmap(m, FSIZE);

	hm_jreader *r;
	assert_int_equal(hm_jreader_open(dir, 15, &r), HERMES_OK);
	hm_jitem it;
	for (uint64_t q = 15; q < 50; q++) {
		assert_int_equal(hm_jreader_next(r, &it), HERMES_OK);
		assert_int_equal(it.seq, q);
		assert_int_equal(it.kind, q == 20 ? HM_JREAD_CORRUPT : HM_JREAD_MSG);
		if (q == 20) {
			assert_int_equal(it.count, 1);
			assert_null(it.data);
		}
	}
	assert_int_equal(hm_jreader_next(r, &it), HERMES_EAGAIN);
	hm_jreader_close(r);
	/* A writer reopening reports it, keeps it (it is not the tail) and goes on. */
	hm_jrecovery rep;
	hm_jwriter *w = open_writer(&rep, 0);
	assert_int_equal(rep.corrupt, 1);
	assert_int_equal(rep.corrupt_first, 20);
	assert_false(rep.torn);
	assert_int_equal(rep.next_seq, 50);
	hm_jwriter_close(w);
}

static void test_file_left_without_end_by_a_killed_roll_over_is_read_through(void **state)
{
	(void)state;
	write_journal(600);
	/* Take the END record out of the second newest file, as if the writer
	 * died right after making the newest one. */
	hm_jfile_info fi;
	uint64_t newest;
	uint8_t *m = map_file(1, &fi, &newest);
	hm_jscan sc;
	hm_jfile_scan(m, &fi, &sc, NULL, NULL);
	assert_true(sc.sealed);
	assert_int_equal(sc.next_seq, newest);
	uint64_t end_off = sc.tail_off - HM_JR_HDR;
	memset(m + end_off, 0, HM_JR_HDR);
	hm_jfile_scan(m, &fi, &sc, NULL, NULL);
	assert_false(sc.sealed);
	/* A reader still gets everything, once. */
	uint64_t msgs = 0, g = 0, l = 0, c = 0;
	assert_int_equal(read_all(0, &msgs, &g, &l, &c), 600);
	assert_int_equal(msgs, 600);
	assert_int_equal(l + c, 0);
	/* A writer reopening seals it again. */
	hm_jwriter *w = open_writer(NULL, 0);
	hm_jfile_scan(m, &fi, &sc, NULL, NULL);
	assert_true(sc.sealed);
	assert_int_equal(sc.next_seq, newest);
	write_msgs(w, 600, 700);
	hm_jwriter_close(w);
	munmap(m, FSIZE);
	msgs = 0;
	assert_int_equal(read_all(0, &msgs, &g, &l, &c), 700);
	assert_int_equal(msgs, 700);
}

static void test_retention_by_bytes_drops_oldest_files_and_readers_learn_the_loss(void **state)
{
	(void)state;
	hm_jwriter *w = open_writer(NULL, 4 * FSIZE);
	write_msgs(w, 0, 5000);
	assert_true(count_files() > 4);
	uint64_t deleted;
	assert_int_equal(hm_jwriter_retain(w, 0, &deleted), HERMES_OK);
	assert_true(deleted > 0);
	assert_int_equal(count_files(), 4);
	assert_true(hm_jwriter_bytes(w) <= 4 * FSIZE);
	uint64_t *s;
	size_t n;
	assert_int_equal(hm_jdir_list(dir, &s, &n), HERMES_OK);
	uint64_t oldest = s[0];
	free(s);
	uint64_t m = 0, g = 0, l = 0, c = 0;
	assert_int_equal(read_all(0, &m, &g, &l, &c), 5000);
	assert_int_equal(l, oldest);
	assert_int_equal(m, 5000 - oldest);
	hm_jwriter_close(w);
}

static void test_retention_by_age_keeps_the_file_being_written(void **state)
{
	(void)state;
	hm_jopts o = {.file_size = FSIZE, .index_stride = 4096, .retain_age_ns = 1000000000ull};
	hm_jwriter *w;
	assert_int_equal(hm_jwriter_open(dir, "orders", 9, &o, &w, NULL), HERMES_OK);
	write_msgs(w, 0, 2000);
	size_t before = count_files();
	assert_true(before > 2);
	uint64_t deleted;
	assert_int_equal(hm_jwriter_retain(w, 1, &deleted), HERMES_OK);
	assert_int_equal(deleted, 0); /* "now" before any file was closed */
	/* A clock an hour ahead: every closed file is too old. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t later = (uint64_t)ts.tv_sec * 1000000000ull + 3600ull * 1000000000ull;
	assert_int_equal(hm_jwriter_retain(w, later, &deleted), HERMES_OK);
	assert_int_equal(deleted, before - 1);
	assert_int_equal(count_files(), 1);
	write_msgs(w, 2000, 2010);
	hm_jwriter_close(w);
}

static void test_one_writer_per_directory(void **state)
{
	(void)state;
	hm_jwriter *w = open_writer(NULL, 0);
	hm_jopts o = {.file_size = FSIZE};
	hm_jwriter *w2;
	assert_int_equal(hm_jwriter_open(dir, "orders", 9, &o, &w2, NULL), HERMES_EBUSY);
	hm_jwriter_close(w);
	assert_int_equal(hm_jwriter_open(dir, "orders", 9, &o, &w2, NULL), HERMES_OK);
	hm_jwriter_close(w2);
}

static void test_message_larger_than_a_file_is_refused(void **state)
{
	(void)state;
	hm_jwriter *w = open_writer(NULL, 0);
	static uint8_t big[FSIZE];
	assert_int_equal(hm_jwriter_msg(w, 0, big, FSIZE), HERMES_EMSGSIZE);
	assert_int_equal(hm_jwriter_msg(w, 0, big, 100), HERMES_OK);
	hm_jwriter_close(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_written_journal_reads_back_from_any_sequence_across_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runs_of_messages_cross_files_and_stop_at_a_wrong_sequence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_follows_a_live_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopened_writer_cuts_a_torn_tail_and_continues, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_record_reaches_the_reader_as_its_sequence_never_its_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_left_without_end_by_a_killed_roll_over_is_read_through, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_by_bytes_drops_oldest_files_and_readers_learn_the_loss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_by_age_keeps_the_file_being_written, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_writer_per_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_larger_than_a_file_is_refused, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
