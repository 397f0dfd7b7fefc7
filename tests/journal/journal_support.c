/* Harness for the journal tests. See journal_support.h. */
#include "tests/journal/journal_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "journal/journal.h"
#include "tests/support/process.h"
#include "tests/support/testing.h"

#ifndef HERMES_JOURNAL_PATH
#error "HERMES_JOURNAL_PATH must name the hermes-journal binary"
#endif

void ht_jr_init(hjt *t, const char *tag, uint64_t seg_size, uint64_t capacity, uint32_t max_msg,
	      const char *journal_root)
{
	memset(t, 0, sizeof *t);
	t->notify_fd = -1;
	char size[32];
	snprintf(size, sizeof size, "%llu", (unsigned long long)seg_size);
	const char *extra[] = {"--size", size, NULL};
	ht_bus_supervised(&t->b, tag, extra);
	snprintf(t->ring, sizeof t->ring, "rec");
	ht_bus_ring(&t->b, t->ring, capacity, max_msg, HERMES_POLICY_BLOCK);
	const char *run_dir = t->b.d.run_dir;
	snprintf(t->dir, sizeof t->dir, "%s/journal", journal_root ? journal_root : run_dir);
	snprintf(t->conf, sizeof t->conf, "%s/hermes-journal.conf", run_dir);
	snprintf(t->log, sizeof t->log, "%s/hermes-journal.log", run_dir);
	snprintf(t->notify, sizeof t->notify, "%s/jnotify", run_dir);
}

void ht_jr_begin(hjt *t, const char *tag, uint64_t capacity, const char *conf)
{
	ht_jr_init(t, tag, 64u << 20, capacity, 1024, NULL);
	ht_jr_config(t, conf);
	ht_jr_start(t, true);
}

void ht_jr_config(hjt *t, const char *extra)
{
	FILE *f = fopen(t->conf, "w");
	assert_non_null(f);
	fprintf(f, "[journal]\nbus = %s\nlog_level = debug\n\n[ring %s]\njournal = %s\n%s", t->b.name, t->ring,
		t->dir, extra ? extra : "");
	fclose(f);
}

/* The recorder reads its run directory from the environment too; the
 * config file says everything it needs. */
static void recorder_env(void)
{
	unsetenv("HERMES_RUN_DIR");
}

void ht_jr_start(hjt *t, bool wait_ready)
{
	if (t->notify_fd < 0)
		t->notify_fd = ht_notify_open(t->notify);
	const char *argv[] = {"hermes-journal", "-c", t->conf, NULL};
	ht_spawn_spec s = {.path = HERMES_JOURNAL_PATH, .argv = argv, .log = t->log,
			   .notify = t->notify, .prepare = recorder_env};
	t->rec = ht_spawn(&s);
	if (wait_ready)
		ht_await_ready(t->notify_fd, &t->rec, 10000, "hermes-journal", t->log);
}

void ht_jr_stop(hjt *t)
{
	ht_proc_stop(&t->rec, 10000, "hermes-journal", t->log);
}

void ht_jr_kill(hjt *t)
{
	ht_proc_kill(&t->rec);
}

/* The journal's next sequence, from its files (a reader's view). */
static uint64_t journal_next(const hjt *t)
{
	hm_jreader *r;
	if (hm_jreader_open(t->dir, 0, &r) != HERMES_OK)
		return 0;
	hm_jitem it;
	while (hm_jreader_next(r, &it) == HERMES_OK)
		hm_jreader_release(r);
	uint64_t n = hm_jreader_next_seq(r);
	hm_jreader_close(r);
	return n;
}

bool ht_jr_wait_journaled(hjt *t, uint64_t next, int timeout_ms)
{
	uint64_t deadline = ht_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	while (journal_next(t) < next) {
		if (ht_now_ns() > deadline)
			return false;
		usleep(1000); /* polling a file: there is nothing to block on */
	}
	return journal_next(t) == next;
}

const hm_rec_stats *ht_jr_stats(hjt *t)
{
	const hm_rec_stats *s;
	return hm_rec_stats_open_readonly(t->dir, &s) == HERMES_OK ? s : NULL;
}

static uint32_t len_of(uint64_t seq)
{
	return 16 + (uint32_t)(seq * 11 % 100);
}

static void fill(uint8_t *p, uint32_t len, uint64_t seq)
{
	memcpy(p, &seq, 8);
	for (uint32_t k = 8; k < len; k++)
		p[k] = (uint8_t)(seq * 7 + k);
}

uint32_t ht_jr_fill(uint8_t *p, uint64_t seq)
{
	uint32_t len = len_of(seq);
	fill(p, len, seq);
	return len;
}

bool ht_jr_msg_ok(const void *data, uint32_t len, uint64_t seq)
{
	uint8_t p[128];
	if (len != len_of(seq))
		return false;
	fill(p, len, seq);
	return memcmp(p, data, len) == 0;
}

void ht_jr_publish(hjt *t, hermes_pub *pub, uint64_t from, uint64_t to)
{
	(void)t;
	for (uint64_t i = from; i < to; i++) {
		uint8_t p[128];
		uint32_t len = ht_jr_fill(p, i);
		uint64_t seq;
		hermes_err e = hermes_pub_send_timed(pub, p, len, &seq, 10000000000ll);
		if (e != HERMES_OK)
			fail_msg("publish %llu: %s", (unsigned long long)i, hermes_strerror(e));
		assert_int_equal(seq, i);
	}
}

hermes_pub *ht_jr_pub(hjt *t)
{
	hermes_pub *pub;
	assert_int_equal(hermes_pub_open(t->b.bus, t->ring, &pub), HERMES_OK);
	return pub;
}

void ht_jr_send(hjt *t, uint64_t from, uint64_t to)
{
	hermes_pub *pub = ht_jr_pub(t);
	ht_jr_publish(t, pub, from, to);
	hermes_pub_close(pub);
}

void ht_jr_publish_journaled(hjt *t, hermes_pub *pub, uint64_t from, uint64_t to, int timeout_ms)
{
	ht_jr_publish(t, pub, from, to);
	if (!ht_jr_wait_journaled(t, to, timeout_ms))
		fail_msg("the journal does not end at %llu %d ms after publishing (see %s)",
			 (unsigned long long)to, timeout_ms, t->log);
}

void ht_jr_record(hjt *t, uint64_t from, uint64_t to, int timeout_ms)
{
	hermes_pub *pub = ht_jr_pub(t);
	ht_jr_publish_journaled(t, pub, from, to, timeout_ms);
	hermes_pub_close(pub);
}

void ht_jr_journal(hjt *t, const char *tag, uint64_t capacity, const char *conf, uint64_t n)
{
	ht_jr_begin(t, tag, capacity, conf);
	ht_jr_record(t, 0, n, 10000);
	ht_jr_stop(t);
}

uint64_t ht_jr_ring_seq(hjt *t, hermes_start start)
{
	hermes_sub *s;
	assert_int_equal(hermes_sub_open(t->b.bus, t->ring, start, 0, &s), HERMES_OK);
	uint64_t seq = hermes_sub_next_seq(s);
	hermes_sub_close(s);
	return seq;
}

int ht_jr_produce(void *producer)
{
	const ht_jr_producer *a = producer;
	hermes_bus *bus;
	if (hermes_bus_attach(a->bus, &bus) != HERMES_OK)
		return 2;
	hermes_pub *pub;
	if (hermes_pub_open(bus, a->ring, &pub) != HERMES_OK)
		return 3;
	ht_jr_publish(NULL, pub, a->from, a->to);
	hermes_pub_close(pub);
	hermes_bus_detach(bus);
	return 0;
}

void ht_jr_verify_journal(hjt *t, uint64_t from, uint64_t to)
{
	hm_jreader *r;
	assert_int_equal(hm_jreader_open(t->dir, from, &r), HERMES_OK);
	hm_jitem it;
	uint64_t next = from;
	while (next < to) {
		hermes_err e = hm_jreader_next(r, &it);
		if (e != HERMES_OK)
			fail_msg("journal ends at %llu, expected %llu", (unsigned long long)next, (unsigned long long)to);
		if (it.kind != HM_JREAD_MSG || it.seq != next || !ht_jr_msg_ok(it.data, it.len, it.seq))
			fail_msg("journal at %llu: kind %d seq %llu count %llu len %u", (unsigned long long)next,
				 it.kind, (unsigned long long)it.seq, (unsigned long long)it.count, it.len);
		next++;
		hm_jreader_release(r);
	}
	assert_int_equal(hm_jreader_next(r, &it), HERMES_EAGAIN);
	hm_jreader_close(r);
}

uint64_t ht_jr_oldest_file(hjt *t, char *path, size_t len)
{
	uint64_t *seqs;
	size_t n;
	assert_int_equal(hm_jdir_list(t->dir, &seqs, &n), HERMES_OK);
	assert_true(n >= 2);
	hm_jdir_path(path, len, t->dir, seqs[0]);
	uint64_t second = seqs[1];
	free(seqs);
	return second;
}

void ht_jr_flip(const char *dir, uint64_t first, uint64_t seq, uint32_t at, uint8_t mask)
{
	char path[400];
	hm_jdir_path(path, sizeof path, dir, first);
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	long size = ftell(f);
	assert_true(size > 0);
	rewind(f);
	uint8_t *buf = malloc((size_t)size);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
	hm_jfile_info fi;
	assert_int_equal(hm_jfile_header(buf, (uint64_t)size, &fi), HERMES_OK);
	/* Walk the records to seq's (a gap or loss record covers several). */
	uint64_t off = fi.data_offset, next = first;
	hm_jrec rec;
	while (hm_jfile_read(buf, &fi, off, next, &rec) == HERMES_OK && rec.seq != seq) {
		off = rec.next_off;
		next = rec.seq + rec.count;
	}
	assert_int_equal(rec.seq, seq);
	assert_int_equal(fseek(f, (long)(off + HM_JR_HDR + at), SEEK_SET), 0);
	fputc(buf[off + HM_JR_HDR + at] ^ mask, f);
	fclose(f);
	free(buf);
}

void ht_jr_cleanup(hjt *t)
{
	ht_jr_kill(t);
	if (t->notify_fd >= 0)
		close(t->notify_fd);
	t->notify_fd = -1;
	const char *run_dir = t->b.d.run_dir;
	if (t->dir[0] && strncmp(t->dir, run_dir, strlen(run_dir)) != 0)
		ht_remove_tree(t->dir);
	ht_bus_teardown(&t->b);
}
