/* Tests for journal/prefault.c: the thread that keeps a journal file faulted
 * in ahead of its writer, alone and under hm_jwriter (the journal's pages
 * ahead of the tail are in the page cache before the writer gets there; the
 * file's contents are the writer's alone; a mapping dropped while the thread
 * works on it is unmapped safely). */
#include "tests/support/testing.h"

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "journal/journal.h"
#include "journal/prefault.h"

#define MIB (1u << 20)
#define WAIT_NS 20000000000ull

static char dir[64];

static int setup(void **state)
{
	(void)state;
	ht_temp_dir(dir, sizeof dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ht_remove_tree(dir);
	return 0;
}

/* A fresh file of size bytes, fallocated as the journal's are, mapped
 * shared and writable. */
static uint8_t *new_file(const char *name, uint64_t size, int *fd)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	*fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(*fd >= 0);
	assert_int_equal(posix_fallocate(*fd, 0, (off_t)size), 0);
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	assert_true(p != MAP_FAILED);
	return p;
}

/* Pages of [from, to) of fd's file in the page cache, through a mapping of
 * our own (read-only, never touched: mincore does not fault). */
static uint64_t cached_pages(int fd, uint64_t size, uint64_t from, uint64_t to)
{
	uint8_t *m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(m != MAP_FAILED);
	size_t pages = (size_t)((to - from) / 4096);
	unsigned char *vec = malloc(pages);
	assert_non_null(vec);
	assert_int_equal(mincore(m + from, to - from, vec), 0);
	uint64_t n = 0;
	for (size_t i = 0; i < pages; i++)
		n += vec[i] & 1;
	free(vec);
	munmap(m, size);
	return n;
}

/* Wait (deadline WAIT_NS) until the thread has faulted in at least `want`. */
static void wait_done(const hm_prefault *p, uint64_t want)
{
	uint64_t end = ht_now_ns() + WAIT_NS;
	while (hm_prefault_done(p) < want) {
		assert_true(ht_now_ns() < end);
		sched_yield();
	}
}

static void test_thread_keeps_its_distance_ahead_of_the_tail_and_no_more(void **state)
{
	(void)state;
	int fd;
	uint64_t size = 8 * MIB;
	uint8_t *m = new_file("a", size, &fd);
	hm_prefault *p;
	assert_int_equal(hm_prefault_start(1 * MIB, &p), HERMES_OK);
	hm_prefault_map(p, m, size, 0, 0);
	wait_done(p, 1 * MIB);
	assert_int_equal(cached_pages(fd, size, 0, 1 * MIB), 256);
	/* It stops there: a chunk more only when the tail moves. */
	for (int i = 0; i < 100; i++)
		sched_yield();
	assert_int_equal(hm_prefault_done(p), 1 * MIB);
	/* The writer's tail moves into the next chunks: the window follows. */
	hm_prefault_tail(p, 3 * MIB + 100);
	wait_done(p, 4 * MIB);
	assert_int_equal(cached_pages(fd, size, 1 * MIB, 4 * MIB), 3 * 256);
	/* Near the end it faults in the rest of the file, not past it. */
	hm_prefault_tail(p, size - 4096);
	wait_done(p, size);
	assert_int_equal(hm_prefault_done(p), size);
	/* Populating wrote nothing: the file still reads as zeros. */
	for (uint64_t off = 0; off < size; off += 4096)
		assert_int_equal(m[off], 0);
	hm_prefault_unmap(p, m, size);
	hm_prefault_stop(p);
	close(fd);
}

static void test_mapping_dropped_while_the_thread_works_on_it_is_unmapped_once(void **state)
{
	(void)state;
	hm_prefault *p;
	assert_int_equal(hm_prefault_start(64 * MIB, &p), HERMES_OK);
	/* Over and over: hand it a mapping, drop it at once (mostly while a
	 * madvise runs on it), hand it the next. ASan and TSan builds check
	 * the hand-over; here, that the thread follows the newest mapping. */
	for (int i = 0; i < 20; i++) {
		int fd;
		char name[16];
		snprintf(name, sizeof name, "f%d", i);
		uint8_t *m = new_file(name, 2 * MIB, &fd);
		hm_prefault_map(p, m, 2 * MIB, 0, 0);
		if (i == 19) {
			wait_done(p, 2 * MIB);
			assert_int_equal(cached_pages(fd, 2 * MIB, 0, 2 * MIB), 512);
		}
		hm_prefault_unmap(p, m, 2 * MIB);
		close(fd);
	}
	hm_prefault_stop(p);
	hm_prefault_stop(NULL);
}

static uint32_t msg_len(uint64_t seq)
{
	return (uint32_t)(seq * 13 % 2000) + 1;
}

static void fill(uint8_t *b, uint64_t seq)
{
	for (uint32_t k = 0; k < msg_len(seq); k++)
		b[k] = (uint8_t)(seq * 5 + k);
}

/* The journal's writer with its thread (the default) and without
 * (HM_JPREFAULT_INLINE): the same journal, read back across roll-overs. */
static void write_and_read_back(uint64_t prefault_ahead)
{
	static int runs;
	char jdir[128];
	snprintf(jdir, sizeof jdir, "%s/j%d", dir, runs++);
	hm_jopts o = {.file_size = MIB / 2, .prefault_ahead = prefault_ahead};
	hm_jwriter *w;
	assert_int_equal(hm_jwriter_open(jdir, "r", 1, &o, &w, NULL), HERMES_OK);
	static uint8_t buf[2048];
	const uint64_t n = 5000; /* ~5 MB: about 10 roll-overs */
	for (uint64_t s = 0; s < n; s++) {
		fill(buf, s);
		assert_int_equal(hm_jwriter_msg(w, s, buf, msg_len(s)), HERMES_OK);
	}
	hm_jwriter_close(w);
	hm_jreader *r;
	assert_int_equal(hm_jreader_open(jdir, 0, &r), HERMES_OK);
	for (uint64_t s = 0; s < n; s++) {
		hm_jitem it;
		assert_int_equal(hm_jreader_next(r, &it), HERMES_OK);
		assert_int_equal(it.kind, HM_JREAD_MSG);
		assert_int_equal(it.seq, s);
		assert_int_equal(it.len, msg_len(s));
		fill(buf, s);
		assert_memory_equal(it.data, buf, it.len);
		hm_jreader_release(r);
	}
	hm_jitem it;
	assert_int_equal(hm_jreader_next(r, &it), HERMES_EAGAIN);
	hm_jreader_close(r);
}

static void test_writer_with_its_thread_and_without_writes_the_same_journal(void **state)
{
	(void)state;
	write_and_read_back(0);
	write_and_read_back(MIB);
	write_and_read_back(HM_JPREFAULT_INLINE);
}

/* The finding (bench/README.md, "Journal"): the writer faulted the next
 * 2 MiB in on its own thread, one chunk at a time, so the kernel's page
 * work stalled it. With the thread, the file is in the page cache a
 * prefault distance ahead of the tail before the writer gets there. */
static void test_writer_has_its_file_faulted_in_ahead_of_the_tail(void **state)
{
	(void)state;
	char jdir[128];
	snprintf(jdir, sizeof jdir, "%s/ahead", dir);
	hm_jopts o = {.file_size = 16 * MIB, .prefault_ahead = 8 * MIB};
	hm_jwriter *w;
	assert_int_equal(hm_jwriter_open(jdir, "r", 1, &o, &w, NULL), HERMES_OK);
	static uint8_t buf[4096];
	for (uint64_t s = 0; s < 256; s++) /* 1 MiB and a bit */
		assert_int_equal(hm_jwriter_msg(w, s, buf, sizeof buf), HERMES_OK);
	char path[256];
	hm_jdir_path(path, sizeof path, jdir, 0);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	/* Up to 8 MiB past a tail just over 1 MiB (within a chunk of it):
	 * all of the first 8 MiB, where the writer alone faulted in 4 MiB
	 * (its first 2 MiB, then the 2 MiB after the tail's). */
	uint64_t end = ht_now_ns() + WAIT_NS;
	while (cached_pages(fd, 16 * MIB, 0, 8 * MIB) < 8 * 256) {
		assert_true(ht_now_ns() < end);
		sched_yield();
	}
	close(fd);
	hm_jwriter_close(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_thread_keeps_its_distance_ahead_of_the_tail_and_no_more, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mapping_dropped_while_the_thread_works_on_it_is_unmapped_once,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_with_its_thread_and_without_writes_the_same_journal, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_writer_has_its_file_faulted_in_ahead_of_the_tail, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
