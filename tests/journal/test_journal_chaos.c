/* Faults for the journal: the recorder killed with SIGKILL at random points,
 * over and over, and a full disk (a small tmpfs; needs root, else skipped).
 * The real hermesd and hermes-journal; the test process is the producer. */
#include "tests/journal/journal_support.h"
#include "tests/support/testing.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "journal/journal.h"

static hjt T;
static char mnt[128];
static hermes_pub *pub;

static int teardown(void **state)
{
	(void)state;
	ht_jr_kill(&T);
	hermes_pub_close(pub);
	pub = NULL;
	if (mnt[0]) {
		umount2(mnt, MNT_DETACH);
		rmdir(mnt);
		mnt[0] = '\0';
	}
	ht_jr_cleanup(&T);
	return 0;
}

/* Temporary files in the journal directory (".*.tmp": a file being made,
 * or the next file made ahead of roll-over); *next: whether the latter is
 * one of them. */
static int temp_files(const char *dir, bool *next)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	int n = 0;
	*next = false;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (de->d_name[0] == '.' && l > 4 && strcmp(de->d_name + l - 4, ".tmp") == 0) {
			n++;
			*next |= strcmp(de->d_name, HM_JOURNAL_NEXT_NAME) == 0;
		}
	}
	closedir(d);
	return n;
}

/* Whether a line of the recorder's log contains needle. */
static bool log_has(const char *needle)
{
	FILE *f = fopen(T.log, "r");
	assert_non_null(f);
	char line[800];
	bool found = false;
	while (!found && fgets(line, sizeof line, f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

static void test_recorder_killed_at_random_points_loses_and_duplicates_nothing(void **state)
{
	(void)state;
	/* An application subscriber that reads nothing until the end keeps
	 * everything in the ring (8 MiB, more than the test publishes), so
	 * whatever the recorder had not journaled when it was killed is still
	 * there when it comes back: durable means nothing missing, nothing
	 * twice. Small files put kills inside roll-overs too. */
	ht_jr_init(&T, "jkill", 64u << 20, 8u << 20, 1024, NULL);
	ht_jr_config(&T, "durable = true\nfile_size = 128K\n");
	hermes_sub *app;
	assert_int_equal(hermes_sub_open(T.b.bus, T.ring, HERMES_START_EARLIEST, 0, &app), HERMES_OK);
	pub = ht_jr_pub(&T);
	uint64_t rs = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
	uint64_t sent = 0;
	const int kills = 120;
	int left_next = 0; /* kills that left a next file made ahead */
	for (int i = 0; i < kills; i++) {
		/* Half the kills land during start-up and recovery. */
		ht_jr_start(&T, i % 2 == 0);
		uint64_t burst = ht_rand(&rs) % 700;
		ht_jr_publish(&T, pub, sent, sent + burst);
		sent += burst;
		usleep((useconds_t)(ht_rand(&rs) % 3000));
		ht_jr_kill(&T);
		bool next;
		temp_files(T.dir, &next);
		left_next += next;
	}
	hermes_sub_close(app);
	ht_jr_start(&T, true);
	assert_true(ht_jr_wait_journaled(&T, sent, 30000));
	ht_jr_stop(&T);
	/* Every sequence once, in order, intact; no LOST, GAP or corrupt record. */
	ht_jr_verify_journal(&T, 0, sent);
	/* Next files made ahead were left by kills, removed by the restarted
	 * recorder (it says so), and a graceful stop leaves none. */
	bool next;
	assert_int_equal(temp_files(T.dir, &next), 0);
	assert_true(left_next > 0);
	assert_true(log_has("left-over temporary file"));
	const hm_rec_stats *s = ht_jr_stats(&T);
	assert_non_null(s);
	print_message("%d kills (%d left a next file made ahead), %llu messages, %llu recorder starts, "
		      "%llu tails cut\n",
		      kills, left_next, (unsigned long long)sent, (unsigned long long)hm_load_relaxed_u64(&s->restarts),
		      (unsigned long long)hm_load_relaxed_u64(&s->torn_cuts));
	assert_true(hm_load_relaxed_u64(&s->restarts) >= 2);
	hm_rec_stats_close(s);
}

/* A 1 MiB tmpfs for the journal; false (the test skips) without root. */
static bool small_disk(void)
{
	if (geteuid() != 0)
		return false;
	char name[64];
	snprintf(mnt, sizeof mnt, "/tmp/hermes-test-%s", ht_unique_name(name, sizeof name, "jfull"));
	if (mkdir(mnt, 0755) != 0)
		return false;
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m") != 0) {
		rmdir(mnt);
		mnt[0] = '\0';
		return false;
	}
	return true;
}

static uint64_t counter(hm_atomic_u64 *(*pick)(hm_rec_stats *))
{
	const hm_rec_stats *s = ht_jr_stats(&T);
	uint64_t v = s ? hm_load_relaxed_u64(pick((hm_rec_stats *)s)) : 0;
	hm_rec_stats_close(s);
	return v;
}

static hm_atomic_u64 *disk_full_of(hm_rec_stats *s)
{
	return &s->disk_full;
}

static hm_atomic_u64 *dropped_of(hm_rec_stats *s)
{
	return &s->dropped;
}

static hm_atomic_u64 *state_of(hm_rec_stats *s)
{
	return &s->state;
}

/* Free room as an operator would: delete the oldest journal file. */
static uint64_t delete_oldest_file(void)
{
	char path[400];
	uint64_t second = ht_jr_oldest_file(&T, path, sizeof path);
	assert_int_equal(unlink(path), 0);
	return second;
}

/* One test for a durable journal, one for one that is not: durable is the
 * test's initial state. */
static void full_disk(void **state)
{
	const bool durable = *(bool *)*state;
	if (!small_disk())
		skip();
	ht_jr_init(&T, durable ? "jfulld" : "jfulln", 64u << 20, 64u << 10, 1024, mnt);
	ht_jr_config(&T, durable ? "durable = true\nfile_size = 256K\n" : "file_size = 256K\n");
	ht_jr_start(&T, true);
	pub = ht_jr_pub(&T);
	/* Publish until the disk is full; durable, until the ring is held too:
	 * then the producer's timed send times out instead of anything being
	 * lost. Not durable, producers are never held. */
	uint64_t sent = 0, deadline = ht_now_ns() + 60000000000ull;
	for (;;) {
		assert_true(ht_now_ns() < deadline);
		uint8_t p[128];
		uint32_t len = ht_jr_fill(p, sent);
		hermes_err e = hermes_pub_send_timed(pub, p, len, NULL, 300000000);
		if (e == HERMES_ETIMEDOUT && durable)
			break;
		assert_int_equal(e, HERMES_OK);
		sent++;
		if (!durable && sent % 100 == 0 && counter(disk_full_of) > 0)
			break;
	}
	assert_true(counter(disk_full_of) > 0);
	/* Durable or not, nothing crashed: the recorder is alive and says why. */
	int st;
	assert_int_equal(waitpid(T.rec, &st, WNOHANG), 0);
	assert_int_equal(counter(state_of), HM_REC_STATE_DISK_FULL);
	const hm_rec_stats *s = ht_jr_stats(&T);
	char err[256];
	hm_rec_stats_error_text(s, err);
	hm_rec_stats_close(s);
	assert_non_null(strstr(err, "no space"));
	FILE *f = fopen(T.log, "r");
	assert_non_null(f);
	char line[800];
	bool logged = false;
	while (fgets(line, sizeof line, f))
		logged |= strstr(line, "hermes-journal[") && strstr(line, "]: error: ") && strstr(line, "disk full");
	fclose(f);
	assert_true(logged);
	if (!durable) {
		/* Not durable: producers are never held; messages are dropped and counted. */
		ht_jr_publish(&T, pub, sent, sent + 3000);
		sent += 3000;
		deadline = ht_now_ns() + 10000000000ull;
		while (counter(dropped_of) == 0)
			assert_true(ht_now_ns() < deadline);
	}
	/* Room again: recording resumes by itself. */
	uint64_t from = delete_oldest_file();
	ht_jr_publish(&T, pub, sent, sent + 100);
	sent += 100;
	assert_true(ht_jr_wait_journaled(&T, sent, 20000));
	assert_int_equal(counter(state_of), HM_REC_STATE_RECORDING);
	ht_jr_stop(&T);
	if (durable) {
		ht_jr_verify_journal(&T, from, sent);
	} else {
		/* The dropped messages are one LOST range, the rest intact. */
		hm_jreader *r;
		assert_int_equal(hm_jreader_open(T.dir, from, &r), HERMES_OK);
		hm_jitem it;
		uint64_t lost = 0, msgs = 0;
		while (hm_jreader_next(r, &it) == HERMES_OK) {
			if (it.kind == HM_JREAD_LOST)
				lost += it.count;
			else if (it.kind == HM_JREAD_MSG && ht_jr_msg_ok(it.data, it.len, it.seq))
				msgs++;
			else
				fail_msg("unexpected record kind %d at %llu", it.kind, (unsigned long long)it.seq);
			hm_jreader_release(r);
		}
		assert_int_equal(hm_jreader_next_seq(r), sent);
		assert_true(lost >= counter(dropped_of));
		assert_int_equal(lost + msgs, sent - from);
		hm_jreader_close(r);
	}
}

int main(void)
{
	static bool durable = true, not_durable = false;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_recorder_killed_at_random_points_loses_and_duplicates_nothing, teardown),
		{"test_full_disk_holds_a_durable_ring_with_a_clear_error_and_a_counter", full_disk, NULL,
		 teardown, &durable},
		{"test_full_disk_drops_and_counts_for_a_journal_that_is_not_durable", full_disk, NULL,
		 teardown, &not_durable},
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
