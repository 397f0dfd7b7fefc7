/* Tests for journal/jfile.c and journal/crc32c.c on files built by hand in
 * ordinary memory: header validation, records, the sparse index, torn tails
 * (cut) and corrupt records (reported by sequence, skipped). */
#include "tests/support/testing.h"

#include <stdlib.h>
#include <string.h>

#include "core/endian.h"
#include "journal/crc32c.h"
#include "journal/jfile.h"

#define FSIZE (256u * 1024u)

typedef struct jf {
	uint8_t *buf;
	hm_jfile_info fi;
	uint64_t tail;
	uint64_t offs[4096]; /* offset of the record of each sequence */
} jf;

static jf *make_file(uint64_t first, uint32_t stride)
{
	jf *f = calloc(1, sizeof *f);
	assert_non_null(f);
	f->buf = calloc(1, FSIZE);
	assert_non_null(f->buf);
	assert_int_equal(hm_jfile_format(f->buf, FSIZE, first, 1, 7, "orders", stride, &f->fi), HERMES_OK);
	f->tail = f->fi.data_offset;
	return f;
}

static void free_file(jf *f)
{
	free(f->buf);
	free(f);
}

/* Message i: i % 200 + 1 bytes of (i + k) & 0xff. */
static uint32_t put_msg(jf *f, uint64_t seq)
{
	uint8_t p[256];
	uint32_t len = (uint32_t)(seq % 200) + 1;
	for (uint32_t k = 0; k < len; k++)
		p[k] = (uint8_t)(seq + k);
	assert_true(hm_jfile_fits(&f->fi, f->tail, len));
	f->offs[seq % 4096] = f->tail;
	f->tail = hm_jfile_put(f->buf, &f->fi, f->tail, HM_JR_MSG, seq, 100 + seq, p, len);
	return len;
}

/* A file (index stride 4096) holding messages [first, end). */
static jf *file_of(uint64_t first, uint64_t end)
{
	jf *f = make_file(first, 4096);
	for (uint64_t q = first; q < end; q++)
		put_msg(f, q);
	return f;
}

/* Scan f's file: its written part ends at tail_off, torn there or not,
 * and the next message is next_seq; returns the scan for its counts. */
static hm_jscan scan_ends(const jf *f, bool torn, uint64_t tail_off, uint64_t next_seq)
{
	hm_jscan s;
	hm_jfile_scan(f->buf, &f->fi, &s, NULL, NULL);
	assert_int_equal(s.torn, torn);
	assert_int_equal(s.tail_off, tail_off);
	assert_int_equal(s.next_seq, next_seq);
	return s;
}

/* Cut f's file at tail: something was cleared, everything from tail on is
 * zero, and writing goes on there. */
static void cut_at(jf *f, uint64_t tail)
{
	assert_true(hm_jfile_cut(f->buf, &f->fi, tail) > 0);
	for (uint64_t o = tail; o < FSIZE; o++)
		assert_int_equal(f->buf[o], 0);
	f->tail = tail;
}

/* A file of messages [0, n), then message n for the test to damage; *good
 * is where the file ends without it. */
static jf *file_and_one_more(uint64_t n, uint64_t *good)
{
	jf *f = file_of(0, n);
	*good = f->tail;
	put_msg(f, n);
	return f;
}

static void check_msg(const hm_jrec *r, uint64_t seq)
{
	assert_int_equal(r->type, HM_JR_MSG);
	assert_int_equal(r->seq, seq);
	assert_int_equal(r->len, seq % 200 + 1);
	for (uint32_t k = 0; k < r->len; k++)
		assert_int_equal(r->payload[k], (uint8_t)(seq + k));
}

static void test_crc32c_matches_the_standard_check_value_in_hardware_and_software(void **state)
{
	(void)state;
	assert_int_equal(hm_crc32c_soft(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(hm_crc32c(0, "123456789", 9), 0xE3069283u);
	uint64_t rs = 42;
	uint8_t buf[1031];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)ht_rand(&rs);
	for (size_t start = 0; start < 9; start++)
		for (size_t len = 0; len < 300; len += 7) {
			uint32_t a = hm_crc32c(0, buf + start, len);
			assert_int_equal(a, hm_crc32c_soft(0, buf + start, len));
			/* Continuing a CRC over a split buffer gives the same value. */
			uint32_t b = hm_crc32c(hm_crc32c_soft(0, buf + start, len / 2), buf + start + len / 2,
					       len - len / 2);
			assert_int_equal(a, b);
			/* A record's checksum in one call: its 8-byte commit
			 * word, then the rest. */
			uint64_t word;
			memcpy(&word, buf + start, 8);
			assert_int_equal(hm_crc32c_rec(word, buf + start + 8, len),
					 hm_crc32c(hm_crc32c_soft(0, buf + start, 8), buf + start + 8, len));
		}
}

/* Long buffers go through three streams joined by table lookups (blocks of
 * 3 x 256 and 3 x 64 bytes from 768 bytes on, crc32c.c): every length
 * around and between the block edges, at every alignment, equals the
 * software CRC, and so does a CRC continued across a split anywhere. */
static void test_crc32c_of_long_buffers_matches_software_at_every_block_edge(void **state)
{
	(void)state;
	uint64_t rs = 7;
	enum { MAX = 4 * 3 * 256 + 3 * 3 * 64 + 64 };
	static uint8_t buf[MAX + 16];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)ht_rand(&rs);
	static const size_t edges[] = {3 * 64, 3 * 256, 3 * 256 + 3 * 64, 2 * 3 * 256,
				       4 * 3 * 256 + 3 * 3 * 64};
	for (size_t start = 0; start < 9; start++) {
		for (size_t e = 0; e < sizeof edges / sizeof edges[0]; e++)
			for (size_t len = edges[e] - 17; len <= edges[e] + 17; len++) {
				uint32_t soft = hm_crc32c_soft(0, buf + start, len);
				assert_int_equal(hm_crc32c(0, buf + start, len), soft);
				size_t cut = (len * 5) / 9;
				assert_int_equal(hm_crc32c(hm_crc32c(0, buf + start, cut), buf + start + cut,
							   len - cut),
						 soft);
				uint64_t word;
				memcpy(&word, buf + start, 8);
				assert_int_equal(hm_crc32c_rec(word, buf + start + 8, len - 8), soft);
			}
		for (size_t len = 0; len <= MAX; len += 61)
			assert_int_equal(hm_crc32c(0, buf + start, len), hm_crc32c_soft(0, buf + start, len));
	}
}

static void test_header_is_validated_before_anything_is_trusted(void **state)
{
	(void)state;
	jf *f = make_file(1000, 4096);
	hm_jfile_info fi;
	assert_int_equal(hm_jfile_header(f->buf, FSIZE, &fi), HERMES_OK);
	assert_int_equal(fi.first_seq, 1000);
	assert_int_equal(fi.bus_id, 7);
	assert_string_equal(fi.ring, "orders");
	assert_int_equal(fi.data_offset % 4096, 0);
	/* Shorter than its header says, or than a header. */
	assert_int_equal(hm_jfile_header(f->buf, FSIZE - 8, &fi), HERMES_ETRUNCATED);
	assert_int_equal(hm_jfile_header(f->buf, 100, &fi), HERMES_ETRUNCATED);
	/* Any flipped bit in the fields fails the checksum. */
	for (unsigned off = 0; off < HM_JH_USED; off += 5) {
		f->buf[off] ^= 0x10;
		assert_int_not_equal(hm_jfile_header(f->buf, FSIZE, &fi), HERMES_OK);
		f->buf[off] ^= 0x10;
	}
	/* Another version, with a correct checksum, is "incompatible", not "corrupt". */
	hm_put_le32(f->buf + HM_JH_VERSION, HM_JOURNAL_VERSION + 1);
	hm_put_le32(f->buf + HM_JH_CRC, hm_crc32c(0, f->buf, HM_JH_CRC));
	assert_int_equal(hm_jfile_header(f->buf, FSIZE, &fi), HERMES_EVERSION);
	/* Fields out of range with a correct checksum: refused. */
	hm_put_le32(f->buf + HM_JH_VERSION, HM_JOURNAL_VERSION);
	hm_put_le32(f->buf + HM_JH_DATA_OFFSET, FSIZE);
	hm_put_le32(f->buf + HM_JH_CRC, hm_crc32c(0, f->buf, HM_JH_CRC));
	assert_int_equal(hm_jfile_header(f->buf, FSIZE, &fi), HERMES_EBADSEGMENT);
	memcpy(f->buf, "NOTAJRNL", 8);
	assert_int_equal(hm_jfile_header(f->buf, FSIZE, &fi), HERMES_EBADSEGMENT);
	free_file(f);
}

static void test_records_read_back_in_order_with_gaps(void **state)
{
	(void)state;
	jf *f = make_file(10, 4096);
	hm_jscan s = scan_ends(f, false, f->fi.data_offset, 10);
	assert_int_equal(s.records, 0);
	for (uint64_t q = 10; q < 20; q++)
		put_msg(f, q);
	f->tail = hm_jfile_put_range(f->buf, &f->fi, f->tail, HM_JR_GAP, 20, 3, 5);
	put_msg(f, 23);
	hm_jrec r;
	uint64_t off = f->fi.data_offset, seq = 10;
	for (int i = 0; i < 12; i++) {
		assert_int_equal(hm_jfile_read(f->buf, &f->fi, off, seq, &r), HERMES_OK);
		if (i == 10) {
			assert_int_equal(r.type, HM_JR_GAP);
			assert_int_equal(r.seq, 20);
			assert_int_equal(r.count, 3);
		} else {
			check_msg(&r, seq);
		}
		off = r.next_off;
		seq = r.seq + r.count;
	}
	assert_int_equal(hm_jfile_read(f->buf, &f->fi, off, seq, &r), HERMES_EAGAIN);
	/* A record read at the wrong expected sequence is refused. */
	assert_int_equal(hm_jfile_read(f->buf, &f->fi, f->fi.data_offset, 11, &r), HERMES_EBADSEGMENT);
	s = scan_ends(f, false, f->tail, 24);
	assert_int_equal(s.records, 12);
	assert_int_equal(s.messages, 11);
	assert_false(s.sealed);
	free_file(f);
}

static void test_index_finds_any_sequence(void **state)
{
	(void)state;
	jf *f = make_file(0, 4096);
	uint64_t n = 0;
	while (hm_jfile_fits(&f->fi, f->tail, 200))
		put_msg(f, n++);
	assert_true(n > 1000);
	for (uint64_t target = 0; target < n; target += 37) {
		uint64_t off, seq;
		hm_jfile_seek(f->buf, &f->fi, target, &off, &seq);
		assert_true(seq <= target);
		/* Within one stride of it, never past it. */
		assert_true(f->offs[target % 4096] - off <= 4096 + 256);
		hm_jrec r;
		while (seq < target) {
			assert_int_equal(hm_jfile_read(f->buf, &f->fi, off, seq, &r), HERMES_OK);
			off = r.next_off;
			seq++;
		}
		assert_int_equal(hm_jfile_read(f->buf, &f->fi, off, target, &r), HERMES_OK);
		check_msg(&r, target);
	}
	/* A forged index entry pointing at garbage is not followed. */
	hm_put_le64(f->buf + f->fi.index_offset + 3 * HM_JI_SIZE + HM_JI_SEQ, 2);
	uint64_t off, seq;
	hm_jfile_seek(f->buf, &f->fi, 2, &off, &seq);
	assert_int_equal(off, f->fi.data_offset);
	assert_int_equal(seq, 0);
	free_file(f);
}

static void test_torn_tail_is_detected_by_checksum_and_cut(void **state)
{
	(void)state;
	/* A record whose commit word reached the file but whose body did not:
	 * write it whole, then damage the payload's end. */
	uint64_t good_tail;
	jf *f = file_and_one_more(50, &good_tail);
	f->buf[f->offs[50] + HM_JR_HDR + 20] ^= 0xff;
	hm_jscan s = scan_ends(f, true, good_tail, 50);
	assert_int_equal(s.messages, 50);
	assert_int_equal(s.corrupt, 0);
	cut_at(f, s.tail_off);
	scan_ends(f, false, good_tail, 50);
	/* Writing goes on at the cut, and reads back. */
	put_msg(f, 50);
	scan_ends(f, false, f->tail, 51);
	free_file(f);
}

static void test_uncommitted_record_of_a_killed_writer_is_cleared(void **state)
{
	(void)state;
	/* Body written, commit word not: the writer was killed in between. */
	uint64_t tail;
	jf *f = file_and_one_more(5, &tail);
	memset(f->buf + tail, 0, 8);
	scan_ends(f, false, tail, 5);
	/* The stale body would otherwise show through after a shorter record. */
	cut_at(f, tail);
	f->tail = hm_jfile_put(f->buf, &f->fi, f->tail, HM_JR_MSG, 5, 0, "x", 1);
	hm_jrec r;
	assert_int_equal(hm_jfile_read(f->buf, &f->fi, f->tail, 6, &r), HERMES_EAGAIN);
	free_file(f);
}

typedef struct corrupt_log {
	int n;
	uint64_t first[8], count[8];
} corrupt_log;

static void log_corrupt(void *ctx, uint64_t first, uint64_t count, uint64_t off)
{
	(void)off;
	corrupt_log *l = ctx;
	if (l->n < 8) {
		l->first[l->n] = first;
		l->count[l->n] = count;
	}
	l->n++;
}

static void test_corrupt_record_is_reported_by_sequence_and_skipped(void **state)
{
	(void)state;
	jf *f = file_of(100, 130);
	f->buf[f->offs[117] + HM_JR_HDR + 3] ^= 0x01; /* one bit of one payload */
	corrupt_log l = {0};
	hm_jscan s;
	hm_jfile_scan(f->buf, &f->fi, &s, log_corrupt, &l);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.first[0], 117);
	assert_int_equal(l.count[0], 1);
	assert_int_equal(s.corrupt, 1);
	assert_int_equal(s.corrupt_first, 117);
	assert_int_equal(s.messages, 29);
	assert_int_equal(s.next_seq, 130);
	assert_false(s.torn);
	/* The reader's primitives: refuse it, resume right after it. */
	hm_jrec r;
	assert_int_equal(hm_jfile_read(f->buf, &f->fi, f->offs[117], 117, &r), HERMES_EBADSEGMENT);
	assert_true(hm_jfile_resync(f->buf, &f->fi, f->offs[117], 117, &r));
	check_msg(&r, 118);
	free_file(f);
}

static void test_corrupt_length_resyncs_through_the_index(void **state)
{
	(void)state;
	jf *f = file_of(0, 400);
	/* A length that points into the middle of the next record. */
	hm_put_le32(f->buf + f->offs[10], 3000);
	corrupt_log l = {0};
	hm_jscan s;
	hm_jfile_scan(f->buf, &f->fi, &s, log_corrupt, &l);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.first[0], 10);
	assert_true(l.count[0] >= 1);
	assert_int_equal(s.next_seq, 400);
	assert_int_equal(s.messages, 400 - l.count[0]);
	/* It resumed at the first record of the next index stride: everything
	 * from there on is delivered. */
	uint64_t q = 10;
	while (f->offs[q] - f->fi.data_offset < 4096)
		q++;
	assert_int_equal(l.count[0], q - 10);
	free_file(f);
}

static void test_end_record_seals_a_file(void **state)
{
	(void)state;
	jf *f = make_file(0, 4096);
	put_msg(f, 0);
	put_msg(f, 1);
	f->tail = hm_jfile_put(f->buf, &f->fi, f->tail, HM_JR_END, 2, 0, NULL, 0);
	hm_jscan s;
	hm_jfile_scan(f->buf, &f->fi, &s, NULL, NULL);
	assert_true(s.sealed);
	assert_int_equal(s.next_seq, 2);
	assert_int_equal(s.messages, 2);
	/* A message never fits where END needs its room. */
	assert_false(hm_jfile_fits(&f->fi, FSIZE - HM_JR_HDR - 8, 1));
	free_file(f);
}

/* Hostile bytes: random damage anywhere in a valid file (header, index,
 * records). Whatever scan, seek and read make of it, they stay inside the
 * buffer (ASan checks) and never hand out a message whose bytes differ from
 * what was written for its sequence. */
static void test_random_damage_never_crashes_or_delivers_wrong_data(void **state)
{
	(void)state;
	jf *orig = make_file(0, 4096);
	uint64_t n = 0;
	while (hm_jfile_fits(&orig->fi, orig->tail, 200) && n < 1500)
		put_msg(orig, n++);
	uint8_t *buf = malloc(FSIZE);
	assert_non_null(buf);
	uint64_t rs = 7;
	for (int round = 0; round < 300; round++) {
		memcpy(buf, orig->buf, FSIZE);
		int flips = 1 + (int)(ht_rand(&rs) % 8);
		for (int k = 0; k < flips; k++) {
			uint64_t r = ht_rand(&rs);
			/* Mostly where it matters: the header, the index, the records. */
			uint64_t at = r % 4 == 0 ? r % HM_JH_USED
				    : r % 4 == 1 ? orig->fi.index_offset + r % 256
						 : orig->fi.data_offset + r % (orig->tail - orig->fi.data_offset);
			buf[at] ^= (uint8_t)(1u << (r >> 32) % 8);
		}
		hm_jfile_info fi;
		if (hm_jfile_header(buf, FSIZE, &fi) != HERMES_OK)
			continue;
		hm_jscan sc;
		hm_jfile_scan(buf, &fi, &sc, NULL, NULL);
		assert_true(sc.tail_off <= FSIZE);
		/* Walk as a reader does, from a few starting points. */
		for (uint64_t target = 0; target < n; target += 311) {
			uint64_t off, seq;
			hm_jfile_seek(buf, &fi, target, &off, &seq);
			for (int steps = 0; steps < 2000; steps++) {
				hm_jrec r;
				hermes_err e = hm_jfile_read(buf, &fi, off, seq, &r);
				if (e == HERMES_EBADSEGMENT && !hm_jfile_resync(buf, &fi, off, seq, &r))
					break;
				if (e == HERMES_EAGAIN)
					break;
				if (r.type == HM_JR_MSG && r.seq < n) {
					assert_true(r.off + HM_JR_HDR + r.len <= FSIZE);
					check_msg(&r, r.seq);
				}
				if (r.type == HM_JR_END)
					break;
				assert_true(r.next_off > off);
				off = r.next_off;
				seq = r.seq + r.count;
			}
		}
	}
	free(buf);
	free_file(orig);
}

/* Format version 2 (issue 18): a MSG record's user tag at offset 12, under
 * the checksum; other records must have 0 there; a version-1 file (which
 * wrote 0) reads as untagged. */
static void test_user_tags_are_recorded_and_version_1_still_reads(void **state)
{
	(void)state;
	jf *f = make_file(0, 4096);
	hm_jfile_info fi;
	assert_int_equal(hm_jfile_header(f->buf, FSIZE, &fi), HERMES_OK);
	assert_int_equal(hm_get_le32(f->buf + HM_JH_VERSION), 2);
	uint64_t off = f->tail;
	f->tail = hm_jfile_put_tagged(f->buf, &f->fi, f->tail, HM_JR_MSG, 0, 1, 0x2a, "tagged", 6);
	uint64_t off1 = f->tail;
	put_msg(f, 1);
	uint64_t off2 = f->tail;
	f->tail = hm_jfile_put_range(f->buf, &f->fi, f->tail, HM_JR_GAP, 2, 1, 1);
	hm_jrec r;
	assert_int_equal(hm_jfile_read(f->buf, &f->fi, off, 0, &r), HERMES_OK);
	assert_int_equal(r.tag, 0x2a);
	assert_memory_equal(r.payload, "tagged", 6);
	assert_int_equal(hm_jfile_read(f->buf, &f->fi, off1, 1, &r), HERMES_OK);
	assert_int_equal(r.tag, 0);
	/* The tag is under the checksum. */
	f->buf[off + HM_JR_TAG] ^= 1;
	assert_int_equal(hm_jfile_read(f->buf, &f->fi, off, 0, &r), HERMES_EBADSEGMENT);
	f->buf[off + HM_JR_TAG] ^= 1;
	/* A GAP with a "tag", checksum fixed up: not a valid record. */
	hm_put_le32(f->buf + off2 + HM_JR_TAG, 7);
	uint32_t len = hm_get_le32(f->buf + off2);
	uint32_t c = hm_crc32c(0, f->buf + off2, 8);
	c = hm_crc32c(c, f->buf + off2 + HM_JR_TAG, HM_JR_HDR - HM_JR_TAG + len);
	hm_put_le32(f->buf + off2 + HM_JR_CRC, c);
	assert_int_equal(hm_jfile_read(f->buf, &f->fi, off2, 2, &r), HERMES_EBADSEGMENT);
	/* The same file as version 1 reads, records and all; version 0 does not. */
	hm_put_le32(f->buf + HM_JH_VERSION, 1);
	hm_put_le32(f->buf + HM_JH_CRC, hm_crc32c(0, f->buf, HM_JH_CRC));
	assert_int_equal(hm_jfile_header(f->buf, FSIZE, &fi), HERMES_OK);
	assert_int_equal(hm_jfile_read(f->buf, &fi, off1, 1, &r), HERMES_OK);
	check_msg(&r, 1);
	hm_put_le32(f->buf + HM_JH_VERSION, 0);
	hm_put_le32(f->buf + HM_JH_CRC, hm_crc32c(0, f->buf, HM_JH_CRC));
	assert_int_equal(hm_jfile_header(f->buf, FSIZE, &fi), HERMES_EVERSION);
	free_file(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_matches_the_standard_check_value_in_hardware_and_software),
		cmocka_unit_test(test_crc32c_of_long_buffers_matches_software_at_every_block_edge),
		cmocka_unit_test(test_header_is_validated_before_anything_is_trusted),
		cmocka_unit_test(test_records_read_back_in_order_with_gaps),
		cmocka_unit_test(test_index_finds_any_sequence),
		cmocka_unit_test(test_torn_tail_is_detected_by_checksum_and_cut),
		cmocka_unit_test(test_uncommitted_record_of_a_killed_writer_is_cleared),
		cmocka_unit_test(test_corrupt_record_is_reported_by_sequence_and_skipped),
		cmocka_unit_test(test_corrupt_length_resyncs_through_the_index),
		cmocka_unit_test(test_end_record_seals_a_file),
		cmocka_unit_test(test_random_damage_never_crashes_or_delivers_wrong_data),
		cmocka_unit_test(test_user_tags_are_recorded_and_version_1_still_reads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
