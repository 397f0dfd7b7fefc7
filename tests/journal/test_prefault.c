/* Tests for journal/prefault.c: the thread that keeps a journal file faulted
 * in ahead of its writer, alone and under hm_jwriter (the journal's pages
 * ahead of the tail are in the page cache before the writer gets there; the
 * file's contents are the writer's alone; a mapping dropped while the thread
 * works on it is unmapped safely), and that makes the writer's next file
 * ahead of roll-over (roll-over faults nothing in on the writer's thread;
 * the file is all zeros, never listed, removed by close and by the next
 * writer after a kill; a full disk is still reported by the roll-over that
 * needs the room, never before). */
#include "tests/support/testing.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* The writer's other cost at roll-over: tearing down the old file's
 * mapping (1.4-2.2 ms for 16 MiB on the development VM, strace). The thread
 * does it; the caller's hm_prefault_unmap only hands it over. */
static void test_dropped_mapping_is_unmapped_by_the_thread(void **state)
{
	(void)state;
	int fd;
	uint8_t *m = new_file("u", 2 * MIB, &fd);
	hm_prefault *p;
	assert_int_equal(hm_prefault_start(MIB, &p), HERMES_OK);
	hm_prefault_map(p, m, 2 * MIB, 0, 0);
	wait_done(p, MIB);
	hm_prefault_unmap(p, m, 2 * MIB);
	uint64_t end = ht_now_ns() + WAIT_NS;
	while (hm_prefault_unmapped(p) < 1) {
		assert_true(ht_now_ns() < end);
		sched_yield();
	}
	/* Gone: mincore says the range is not mapped. */
	unsigned char vec[512];
	assert_int_equal(mincore(m, 2 * MIB, vec), -1);
	hm_prefault_stop(p);
	close(fd);
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

/* ---- the next file, made ahead of roll-over ---------------------------- */

#define REC_LEN (4096u - HM_JR_HDR) /* a record of one page */

static uint8_t page_msg[REC_LEN];

/* A journal directory `name` in the test's directory and the path its next
 * file made ahead has. */
static void jpaths(const char *name, char jdir[128], char next[256])
{
	snprintf(jdir, 128, "%s/%s", dir, name);
	snprintf(next, 256, "%s/%s", jdir, HM_JOURNAL_NEXT_NAME);
}

/* r reads messages [from, to) next. */
static void expect_msgs(hm_jreader *r, uint64_t from, uint64_t to)
{
	hm_jitem it;
	for (uint64_t s = from; s < to; s++) {
		assert_int_equal(hm_jreader_next(r, &it), HERMES_OK);
		assert_int_equal(it.kind, HM_JREAD_MSG);
		assert_int_equal(it.seq, s);
		hm_jreader_release(r);
	}
}

static void count_file(void *ctx, const hm_jfile_report *rep)
{
	(void)rep;
	++*(int *)ctx;
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* How many one-page records the file of jdir starting at first holds. */
static uint64_t records_per_file(const char *jdir, uint64_t first)
{
	char path[256];
	hm_jdir_path(path, sizeof path, jdir, first);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	uint8_t *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(m != MAP_FAILED);
	hm_jfile_info fi;
	assert_int_equal(hm_jfile_header(m, (uint64_t)st.st_size, &fi), HERMES_OK);
	uint64_t n = 0;
	for (uint64_t off = fi.data_offset; hm_jfile_fits(&fi, off, REC_LEN); off += hm_jr_size(REC_LEN))
		n++;
	munmap(m, (size_t)st.st_size);
	close(fd);
	return n;
}

/* Wait (deadline WAIT_NS) until w's thread has the next file made and
 * faulted in at least `want` bytes. */
static void wait_next_ready(const hm_jwriter *w, uint64_t want)
{
	uint64_t end = ht_now_ns() + WAIT_NS, faulted;
	while (!hm_jwriter_next_ready(w, &faulted) || faulted < want) {
		assert_true(ht_now_ns() < end);
		sched_yield();
	}
}

/* Wait until the whole file of jdir starting at first is in the page cache
 * (the prefault thread reached its end). */
static void wait_cached(const char *jdir, uint64_t first, uint64_t size)
{
	char path[256];
	hm_jdir_path(path, sizeof path, jdir, first);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	uint64_t end = ht_now_ns() + WAIT_NS;
	while (cached_pages(fd, size, 0, size) < size / 4096) {
		assert_true(ht_now_ns() < end);
		sched_yield();
	}
	close(fd);
}

static long thread_minflt(void)
{
	struct rusage ru;
	assert_int_equal(getrusage(RUSAGE_THREAD, &ru), 0);
	return ru.ru_minflt + ru.ru_majflt;
}

/* Page faults on this thread (GUP faults of madvise(MADV_POPULATE_WRITE)
 * included: the kernel counts them to the thread that populates) during the
 * append that rolls a journal over, with everything the writer's thread
 * could have had ready beforehand ready. */
static long roll_over_faults(uint64_t prefault_ahead, const char *name)
{
	char jdir[128], next[256];
	jpaths(name, jdir, next);
	const uint64_t size = 4 * MIB;
	hm_jopts o = {.file_size = size, .prefault_ahead = prefault_ahead};
	hm_jwriter *w;
	assert_int_equal(hm_jwriter_open(jdir, "r", 1, &o, &w, NULL), HERMES_OK);
	assert_int_equal(hm_jwriter_msg(w, 0, page_msg, REC_LEN), HERMES_OK);
	uint64_t per_file = records_per_file(jdir, 0);
	for (uint64_t s = 1; s < per_file; s++)
		assert_int_equal(hm_jwriter_msg(w, s, page_msg, REC_LEN), HERMES_OK);
	if (prefault_ahead != HM_JPREFAULT_INLINE) {
		/* The thread's work done: all of the current file, the
		 * next one made and its first MiB faulted in. */
		wait_cached(jdir, 0, size);
		wait_next_ready(w, MIB);
	}
	uint64_t *seqs;
	size_t n;
	assert_int_equal(hm_jdir_list(jdir, &seqs, &n), HERMES_OK);
	assert_int_equal(n, 1);
	free(seqs);
	long before = thread_minflt();
	assert_int_equal(hm_jwriter_msg(w, per_file, page_msg, REC_LEN), HERMES_OK);
	long faults = thread_minflt() - before;
	/* It rolled over: the next file is in place under its name (the one
	 * made ahead, when there is a thread). */
	char path[256];
	hm_jdir_path(path, sizeof path, jdir, per_file);
	assert_true(exists(path));
	assert_false(exists(next));
	hm_jwriter_close(w);
	print_message("%s: %ld faults on the writer's thread at roll-over\n", name, faults);
	return faults;
}

/* The finding: the next file was made at roll-over on the writer's thread
 * (the recorder's), and its first 512 KiB faulted in there: 128 page faults
 * or more and a posix_fallocate in the middle of an append, with a block ring's
 * producers waiting. Now the thread has it ready: the roll-over's writes
 * (END, the header, the first record) land on pages already there. The
 * inline writer shows the count sees madvise's faults. */
static void test_roll_over_faults_nothing_in_on_the_writers_thread(void **state)
{
	(void)state;
	/* Both counts need MADV_POPULATE_WRITE (Linux 5.14). */
	int fd;
	uint8_t *m = new_file("probe", MIB, &fd);
	bool populate = madvise(m, 4096, 23 /* MADV_POPULATE_WRITE */) == 0;
	munmap(m, MIB);
	close(fd);
	if (!populate)
		skip();
	assert_true(roll_over_faults(HM_JPREFAULT_INLINE, "inline") >= 128);
	/* 0 here; a sanitizer's shadow memory adds ~20 of its own. */
	assert_true(roll_over_faults(MIB, "thread") < 64);
}

/* The next file while it waits: all zeros (the format's "zero when made"),
 * no journal file to readers, the lister or the scanner, and the file a
 * roll-over then uses under its sequence's name (no other file made). */
static void test_next_file_is_zeros_unlisted_and_used_by_the_roll_over(void **state)
{
	(void)state;
	char jdir[128], next[256];
	jpaths("next", jdir, next);
	hm_jopts o = {.file_size = MIB, .prefault_ahead = MIB / 2};
	hm_jwriter *w;
	assert_int_equal(hm_jwriter_open(jdir, "r", 1, &o, &w, NULL), HERMES_OK);
	assert_int_equal(hm_jwriter_msg(w, 0, page_msg, REC_LEN), HERMES_OK);
	uint64_t per_file = records_per_file(jdir, 0);
	/* Not before the tail is half-way: one file's room taken early, no
	 * more. */
	for (uint64_t s = 1; s < per_file / 2 - 1; s++)
		assert_int_equal(hm_jwriter_msg(w, s, page_msg, REC_LEN), HERMES_OK);
	uint64_t faulted;
	for (int i = 0; i < 100; i++)
		sched_yield();
	assert_false(hm_jwriter_next_ready(w, &faulted));
	assert_false(exists(next));
	for (uint64_t s = per_file / 2 - 1; s < per_file; s++)
		assert_int_equal(hm_jwriter_msg(w, s, page_msg, REC_LEN), HERMES_OK);
	wait_next_ready(w, MIB / 2);
	/* All zeros, at the full size. */
	int fd = open(next, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	static uint8_t buf[MIB];
	assert_int_equal(pread(fd, buf, MIB, 0), MIB);
	close(fd);
	for (size_t i = 0; i < MIB; i++)
		assert_int_equal(buf[i], 0);
	/* Not a journal file to anyone. */
	uint64_t *seqs;
	size_t n;
	assert_int_equal(hm_jdir_list(jdir, &seqs, &n), HERMES_OK);
	assert_int_equal(n, 1);
	free(seqs);
	int scanned = 0;
	assert_int_equal(hm_jdir_scan(jdir, count_file, NULL, &scanned), HERMES_OK);
	assert_int_equal(scanned, 1);
	hm_jreader *r;
	assert_int_equal(hm_jreader_open(jdir, 0, &r), HERMES_OK);
	expect_msgs(r, 0, per_file);
	hm_jitem it;
	assert_int_equal(hm_jreader_next(r, &it), HERMES_EAGAIN);
	/* The roll-over renames it into place: the reader goes on into it. */
	for (uint64_t s = per_file; s < per_file + 3; s++)
		assert_int_equal(hm_jwriter_msg(w, s, page_msg, REC_LEN), HERMES_OK);
	assert_false(exists(next));
	expect_msgs(r, per_file, per_file + 3);
	hm_jreader_close(r);
	/* A graceful close leaves no prepared file behind (the new file is
	 * not yet half-way, so there is none; write past half for one). */
	for (uint64_t s = per_file + 3; s < per_file + per_file / 2 + 2; s++)
		assert_int_equal(hm_jwriter_msg(w, s, page_msg, REC_LEN), HERMES_OK);
	wait_next_ready(w, 0);
	assert_true(exists(next));
	hm_jwriter_close(w);
	assert_false(exists(next));
}

/* kill -9 with the next file made: the next writer removes it at open
 * (counted as a left-over temporary file) and goes on as if it never was. */
static void test_next_file_of_a_killed_writer_is_removed_by_the_next_one(void **state)
{
	(void)state;
	char jdir[128], next[256];
	jpaths("killed", jdir, next);
	hm_jopts o = {.file_size = MIB, .prefault_ahead = MIB / 2};
	uint64_t per_file = 0;
	{
		hm_jwriter *w;
		assert_int_equal(hm_jwriter_open(jdir, "r", 1, &o, &w, NULL), HERMES_OK);
		assert_int_equal(hm_jwriter_msg(w, 0, page_msg, REC_LEN), HERMES_OK);
		per_file = records_per_file(jdir, 0);
		hm_jwriter_close(w);
	}
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		hm_jwriter *w;
		if (hm_jwriter_open(jdir, "r", 1, &o, &w, NULL) != HERMES_OK)
			_exit(2);
		for (uint64_t s = 1; s < per_file - 1; s++)
			if (hm_jwriter_msg(w, s, page_msg, REC_LEN) != HERMES_OK)
				_exit(3);
		uint64_t faulted, end = ht_now_ns() + WAIT_NS;
		while (!hm_jwriter_next_ready(w, &faulted) && ht_now_ns() < end)
			sched_yield();
		raise(SIGKILL);
		_exit(4);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	assert_true(exists(next));
	hm_jwriter *w;
	hm_jrecovery rep;
	assert_int_equal(hm_jwriter_open(jdir, "r", 1, &o, &w, &rep), HERMES_OK);
	assert_int_equal(rep.temp_removed, 1);
	assert_int_equal(rep.next_seq, per_file - 1);
	for (uint64_t s = per_file - 1; s < 2 * per_file; s++)
		assert_int_equal(hm_jwriter_msg(w, s, page_msg, REC_LEN), HERMES_OK);
	hm_jwriter_close(w);
	assert_false(exists(next));
	hm_jreader *r;
	assert_int_equal(hm_jreader_open(jdir, 0, &r), HERMES_OK);
	expect_msgs(r, 0, 2 * per_file);
	hm_jitem it;
	assert_int_equal(hm_jreader_next(r, &it), HERMES_EAGAIN);
	hm_jreader_close(r);
}

static char mnt[128];

static int teardown_mnt(void **state)
{
	if (mnt[0]) {
		umount2(mnt, MNT_DETACH);
		rmdir(mnt);
		mnt[0] = '\0';
	}
	return teardown(state);
}

/* A full disk (a 1 MiB tmpfs, four 256 KiB files): the thread cannot make
 * the fifth file ahead, and says nothing; the append that needs it, and
 * only that one, fails with HERMES_ENOSPC and the message it always had,
 * having written nothing. With room again the writer goes on. */
static void test_full_disk_is_reported_by_the_roll_over_that_needs_room_not_before(void **state)
{
	(void)state;
	ht_require_root("to mount a small tmpfs");
	snprintf(mnt, sizeof mnt, "%s/disk", dir);
	assert_int_equal(mkdir(mnt, 0755), 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m") != 0) {
		rmdir(mnt);
		mnt[0] = '\0';
		skip();
	}
	char jdir[160], next[256];
	snprintf(jdir, sizeof jdir, "%s/j", mnt);
	snprintf(next, sizeof next, "%s/%s", jdir, HM_JOURNAL_NEXT_NAME);
	hm_jopts o = {.file_size = 256u << 10, .prefault_ahead = 128u << 10};
	hm_jwriter *w;
	assert_int_equal(hm_jwriter_open(jdir, "r", 1, &o, &w, NULL), HERMES_OK);
	assert_int_equal(hm_jwriter_msg(w, 0, page_msg, REC_LEN), HERMES_OK);
	uint64_t per_file = records_per_file(jdir, 0), s = 1;
	/* Four files fill the disk; every append up to the last record of
	 * the fourth succeeds (the third file's prepared fourth included). */
	for (; s < 4 * per_file; s++) {
		if (s % per_file == per_file - 1) {
			/* The thread has tried the next file by now (made
			 * it, or found no room). */
			if (s < 3 * per_file)
				wait_next_ready(w, o.prefault_ahead);
		}
		assert_int_equal(hm_jwriter_msg(w, s, page_msg, REC_LEN), HERMES_OK);
	}
	/* The thread was asked for the fifth file half-way through the
	 * fourth: wait until it has given up (no room), then nothing of it
	 * is left. */
	uint64_t end = ht_now_ns() + WAIT_NS, faulted;
	while (hm_jwriter_next_pending(w)) {
		assert_true(ht_now_ns() < end);
		sched_yield();
	}
	assert_false(hm_jwriter_next_ready(w, &faulted));
	assert_false(exists(next));
	/* The fifth file: no room. */
	assert_int_equal(hm_jwriter_msg(w, s, page_msg, REC_LEN), HERMES_ENOSPC);
	ht_assert_says(hermes_last_error_detail(), "no space");
	assert_int_equal(hm_jwriter_next_seq(w), s);
	/* Room again (an operator deletes the oldest file): it goes on. */
	char path[256];
	hm_jdir_path(path, sizeof path, jdir, 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(hm_jwriter_msg(w, s, page_msg, REC_LEN), HERMES_OK);
	hm_jwriter_close(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_thread_keeps_its_distance_ahead_of_the_tail_and_no_more, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mapping_dropped_while_the_thread_works_on_it_is_unmapped_once,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_dropped_mapping_is_unmapped_by_the_thread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_with_its_thread_and_without_writes_the_same_journal, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_writer_has_its_file_faulted_in_ahead_of_the_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roll_over_faults_nothing_in_on_the_writers_thread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_next_file_is_zeros_unlisted_and_used_by_the_roll_over, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_next_file_of_a_killed_writer_is_removed_by_the_next_one, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_full_disk_is_reported_by_the_roll_over_that_needs_room_not_before,
						setup, teardown_mnt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
