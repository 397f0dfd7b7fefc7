/* One journal segment file, as a buffer it is handed (a mapping, or memory a
 * test built by hand): format a header, append records, read and validate
 * them, find a sequence through the sparse index, recover a torn tail.
 * Layout in journal/format.h. Nothing here opens files or allocates.
 *
 * A file's bytes are hostile to readers: every offset, length and sequence is
 * checked before use, with overflow-safe arithmetic, here and only here. */
#ifndef HM_JFILE_H
#define HM_JFILE_H

#include <stdbool.h>
#include <stdint.h>

#include <hermes/error.h>

#include "journal/format.h"

typedef struct hm_jfile_info {
	uint64_t file_size;
	uint64_t first_seq;
	uint64_t created_ns;
	uint64_t bus_id;
	uint32_t index_offset;
	uint32_t index_count;
	uint32_t index_stride;
	uint32_t data_offset;
	char ring[HM_JH_RING_LEN];
} hm_jfile_info;

/* One record as read. For MSG count is 1; for GAP and LOST the payload's
 * count; for END 0 (seq is where the next file starts). */
typedef struct hm_jrec {
	uint64_t off;	   /* where it starts */
	uint64_t next_off; /* where the following record starts */
	uint64_t seq;
	uint64_t count;
	uint64_t time_ns;
	const uint8_t *payload; /* points into the buffer */
	uint32_t len;
	uint32_t type;
	uint32_t tag; /* MSG: the user tag, 0 = none (version 1 files: 0) */
} hm_jrec;

/* Write a fresh header for a file of `size` bytes (already zeroed) whose
 * first record will carry first_seq, and fill *fi. HERMES_EINVAL when size
 * or stride is out of range (detail says which). */
hermes_err hm_jfile_format(uint8_t *buf, uint64_t size, uint64_t first_seq, uint64_t created_ns,
			   uint64_t bus_id, const char *ring, uint32_t stride, hm_jfile_info *fi);

/* Validate the header of a file of `size` bytes and fill *fi. Errors:
 * HERMES_ETRUNCATED (shorter than a header or than its header says),
 * HERMES_EBADSEGMENT (magic, checksum or a field out of range),
 * HERMES_EVERSION (another format version). */
hermes_err hm_jfile_header(const uint8_t *buf, uint64_t size, hm_jfile_info *fi);

/* Read the record at off, which must start at sequence expect. HERMES_OK
 * with *rec; HERMES_EAGAIN when nothing is committed at off (the end, for
 * now); HERMES_EBADSEGMENT when what is there is not a valid record that
 * starts at expect (see hm_jfile_resync). Safe against a concurrent writer:
 * the commit word is loaded with acquire. */
hermes_err hm_jfile_read(const uint8_t *buf, const hm_jfile_info *fi, uint64_t off, uint64_t expect,
			 hm_jrec *rec);

/* After a bad record at off (expected to start at sequence expect): find
 * the next valid record, first right after the bad one when its length is
 * plausible, else through the sparse index. true with *rec (a valid record
 * whose sequence is beyond expect: the sequences in between are corrupt);
 * false when nothing valid follows: a torn tail. */
bool hm_jfile_resync(const uint8_t *buf, const hm_jfile_info *fi, uint64_t off, uint64_t expect,
		     hm_jrec *rec);

/* Largest indexed record position at or before sequence target: *off and
 * *seq (the sequence it starts at). Index entries are validated; without a
 * usable one, the start of the data. */
void hm_jfile_seek(const uint8_t *buf, const hm_jfile_info *fi, uint64_t target, uint64_t *off,
		   uint64_t *seq);

/* Does a record of len payload bytes fit at off, leaving room for END? */
bool hm_jfile_fits(const hm_jfile_info *fi, uint64_t off, uint32_t len);

/* Append a record at off (the tail; hm_jfile_fits must hold) and its index
 * entry when it is the first at or past a stride boundary. The commit word is
 * stored last, with release. Returns the new tail. For GAP and LOST, pass
 * the count as payload (8 bytes, little-endian) or use hm_jfile_put_range. */
uint64_t hm_jfile_put(uint8_t *buf, const hm_jfile_info *fi, uint64_t off, uint32_t type, uint64_t seq,
		      uint64_t time_ns, const void *payload, uint32_t len);
uint64_t hm_jfile_put_range(uint8_t *buf, const hm_jfile_info *fi, uint64_t off, uint32_t type,
			    uint64_t first, uint64_t count, uint64_t time_ns);
/* As hm_jfile_put, with a MSG record's user tag (0 = none). */
uint64_t hm_jfile_put_tagged(uint8_t *buf, const hm_jfile_info *fi, uint64_t off, uint32_t type,
			     uint64_t seq, uint64_t time_ns, uint32_t tag, const void *payload,
			     uint32_t len);

/* What a full scan found. */
typedef struct hm_jscan {
	uint64_t tail_off; /* where the next record goes */
	uint64_t next_seq; /* the sequence it must carry */
	uint64_t records;
	uint64_t messages;
	uint64_t last_time_ns;
	bool sealed;	     /* ends with END */
	bool torn;	     /* bytes after tail_off were not a valid record */
	uint64_t corrupt;    /* corrupt records skipped (sequences) */
	uint64_t corrupt_first; /* first corrupt sequence, when corrupt */
} hm_jscan;

/* Called for each corrupt range found by hm_jfile_scan. */
typedef void (*hm_jcorrupt_fn)(void *ctx, uint64_t first_seq, uint64_t count, uint64_t off);

/* Walk every record of the file, reporting corrupt ranges, and find the tail.
 * Read-only. */
void hm_jfile_scan(const uint8_t *buf, const hm_jfile_info *fi, hm_jscan *out, hm_jcorrupt_fn fn,
		   void *ctx);

/* Zero every non-zero byte from off to the end of the file (a torn tail, or
 * an uncommitted record a killed writer left), so the next record written at
 * off is followed by zeros. Returns how many bytes were non-zero. */
uint64_t hm_jfile_cut(uint8_t *buf, const hm_jfile_info *fi, uint64_t off);

#endif
