/* One journal file over a buffer. See jfile.h and format.h. */
#include "journal/jfile.h"

#include <string.h>

#include "core/atomics.h"
#include "core/endian.h"
#include "core/error_detail.h"
#include "journal/crc32c.h"

static uint32_t header_crc(const uint8_t *buf)
{
	return hm_crc32c(0, buf, HM_JH_CRC);
}

hermes_err hm_jfile_format(uint8_t *buf, uint64_t size, uint64_t first_seq, uint64_t created_ns,
			   uint64_t bus_id, const char *ring, uint32_t stride, hm_jfile_info *fi)
{
	if (size < HM_JOURNAL_MIN_FILE || size > HM_JOURNAL_MAX_FILE || size % HM_JR_ALIGN)
		return hm_fail(HERMES_EINVAL, "journal file size %llu: must be a multiple of 8 in 64K..1T",
			       (unsigned long long)size);
	if (stride < HM_JOURNAL_MIN_STRIDE || stride % HM_JR_ALIGN)
		return hm_fail(HERMES_EINVAL, "journal index stride %u: must be a multiple of 8, >= 4096",
			       stride);
	size_t rlen = ring ? strlen(ring) : 0;
	if (rlen >= HM_JH_RING_LEN)
		return hm_fail(HERMES_EINVAL, "ring name '%s' too long for a journal header", ring);
	uint64_t entries = (size - HM_JH_SIZE) / stride + 1;
	uint64_t index_bytes = (entries * HM_JI_SIZE + 4095) & ~(uint64_t)4095;
	uint64_t data = HM_JH_SIZE + index_bytes;
	if (data + 2 * HM_JR_HDR > size || entries > UINT32_MAX)
		return hm_fail(HERMES_EINVAL, "journal file size %llu leaves no room for records",
			       (unsigned long long)size);
	memset(buf, 0, HM_JH_SIZE);
	memcpy(buf + HM_JH_MAGIC, HM_JOURNAL_MAGIC, 8);
	hm_put_le32(buf + HM_JH_VERSION, HM_JOURNAL_VERSION);
	hm_put_le32(buf + HM_JH_HEADER_SIZE, HM_JH_SIZE);
	hm_put_le64(buf + HM_JH_FILE_SIZE, size);
	hm_put_le64(buf + HM_JH_FIRST_SEQ, first_seq);
	hm_put_le64(buf + HM_JH_CREATED_NS, created_ns);
	hm_put_le64(buf + HM_JH_BUS_ID, bus_id);
	hm_put_le32(buf + HM_JH_INDEX_OFFSET, HM_JH_SIZE);
	hm_put_le32(buf + HM_JH_INDEX_COUNT, (uint32_t)entries);
	hm_put_le32(buf + HM_JH_INDEX_STRIDE, stride);
	hm_put_le32(buf + HM_JH_DATA_OFFSET, (uint32_t)data);
	if (rlen)
		memcpy(buf + HM_JH_RING, ring, rlen);
	hm_put_le32(buf + HM_JH_CRC, header_crc(buf));
	return hm_jfile_header(buf, size, fi);
}

hermes_err hm_jfile_header(const uint8_t *buf, uint64_t size, hm_jfile_info *fi)
{
	if (size < HM_JH_SIZE)
		return hm_fail(HERMES_ETRUNCATED, "journal file of %llu bytes is shorter than its header",
			       (unsigned long long)size);
	if (memcmp(buf + HM_JH_MAGIC, HM_JOURNAL_MAGIC, 8) != 0)
		return hm_fail(HERMES_EBADSEGMENT, "not a Hermes journal file (bad magic)");
	if (hm_get_le32(buf + HM_JH_CRC) != header_crc(buf))
		return hm_fail(HERMES_EBADSEGMENT, "journal file header checksum mismatch");
	uint32_t version = hm_get_le32(buf + HM_JH_VERSION);
	if (version < HM_JOURNAL_MIN_VERSION || version > HM_JOURNAL_VERSION)
		return hm_fail(HERMES_EVERSION, "journal format version %u (this build reads %u to %u)",
			       version, HM_JOURNAL_MIN_VERSION, HM_JOURNAL_VERSION);
	memset(fi, 0, sizeof *fi);
	fi->file_size = hm_get_le64(buf + HM_JH_FILE_SIZE);
	fi->first_seq = hm_get_le64(buf + HM_JH_FIRST_SEQ);
	fi->created_ns = hm_get_le64(buf + HM_JH_CREATED_NS);
	fi->bus_id = hm_get_le64(buf + HM_JH_BUS_ID);
	fi->index_offset = hm_get_le32(buf + HM_JH_INDEX_OFFSET);
	fi->index_count = hm_get_le32(buf + HM_JH_INDEX_COUNT);
	fi->index_stride = hm_get_le32(buf + HM_JH_INDEX_STRIDE);
	fi->data_offset = hm_get_le32(buf + HM_JH_DATA_OFFSET);
	memcpy(fi->ring, buf + HM_JH_RING, HM_JH_RING_LEN);
	fi->ring[HM_JH_RING_LEN - 1] = '\0';
	if (hm_get_le32(buf + HM_JH_HEADER_SIZE) != HM_JH_SIZE || fi->file_size < HM_JOURNAL_MIN_FILE ||
	    fi->file_size > HM_JOURNAL_MAX_FILE || fi->file_size % HM_JR_ALIGN ||
	    fi->index_stride < HM_JOURNAL_MIN_STRIDE || fi->index_offset < HM_JH_SIZE ||
	    (uint64_t)fi->index_offset + (uint64_t)fi->index_count * HM_JI_SIZE > fi->data_offset ||
	    fi->data_offset % HM_JR_ALIGN || (uint64_t)fi->data_offset + 2 * HM_JR_HDR > fi->file_size)
		return hm_fail(HERMES_EBADSEGMENT, "journal file header has fields out of range");
	if (fi->file_size > size)
		return hm_fail(HERMES_ETRUNCATED, "journal file is %llu bytes, its header says %llu",
			       (unsigned long long)size, (unsigned long long)fi->file_size);
	return HERMES_OK;
}

static uint32_t record_crc(const uint8_t *r, uint32_t len)
{
	uint32_t c = hm_crc32c(0, r, HM_JR_CRC);
	return hm_crc32c(c, r + HM_JR_CRC + 4, HM_JR_HDR - HM_JR_CRC - 4 + (size_t)len);
}

/* The commit word at off: 0 when nothing is committed there. The acquire
 * pairs with the release store in hm_jfile_put, so the rest of the record,
 * written before it, is visible once the word is. */
static uint64_t commit_word(const uint8_t *buf, uint64_t off)
{
	return hm_load_acquire_u64((const hm_atomic_u64 *)(const void *)(buf + off));
}

/* Structure and checksum of the record at off, whatever its sequence. The
 * only place record bytes are trusted from. */
static bool record_valid(const uint8_t *buf, const hm_jfile_info *fi, uint64_t off, uint64_t word,
			 hm_jrec *rec)
{
	if (off < fi->data_offset || off % HM_JR_ALIGN || off > fi->file_size - HM_JR_HDR)
		return false;
	uint32_t len = (uint32_t)word;
	uint32_t type = (uint32_t)(word >> 32) & 0xffff;
	uint32_t flags = (uint32_t)(word >> 48);
	if (flags || type < HM_JR_MSG || type > HM_JR_END || len > HM_JOURNAL_MAX_PAYLOAD)
		return false;
	if (hm_jr_size(len) > fi->file_size - off)
		return false;
	if ((type == HM_JR_GAP || type == HM_JR_LOST) && len != 8)
		return false;
	if (type == HM_JR_END && len != 0)
		return false;
	const uint8_t *r = buf + off;
	if (hm_get_le32(r + HM_JR_CRC) != record_crc(r, len))
		return false;
	rec->off = off;
	rec->next_off = off + hm_jr_size(len);
	rec->type = type;
	rec->len = len;
	rec->seq = hm_get_le64(r + HM_JR_SEQ);
	rec->time_ns = hm_get_le64(r + HM_JR_TIME);
	rec->payload = r + HM_JR_HDR;
	rec->tag = hm_get_le32(r + HM_JR_TAG);
	if (type != HM_JR_MSG && rec->tag)
		return false;
	rec->count = type == HM_JR_MSG ? 1 : type == HM_JR_END ? 0 : hm_get_le64(r + HM_JR_HDR);
	if ((type == HM_JR_GAP || type == HM_JR_LOST) &&
	    (rec->count == 0 || rec->count > UINT64_MAX - rec->seq))
		return false;
	if (type == HM_JR_MSG && rec->seq == UINT64_MAX)
		return false;
	return true;
}

hermes_err hm_jfile_read(const uint8_t *buf, const hm_jfile_info *fi, uint64_t off, uint64_t expect,
			 hm_jrec *rec)
{
	if (off < fi->data_offset || off % HM_JR_ALIGN || off > fi->file_size - HM_JR_HDR)
		return HERMES_EBADSEGMENT;
	uint64_t word = commit_word(buf, off);
	if (word == 0)
		return HERMES_EAGAIN;
	if (!record_valid(buf, fi, off, word, rec) || rec->seq != expect)
		return HERMES_EBADSEGMENT;
	return HERMES_OK;
}

static bool candidate(const uint8_t *buf, const hm_jfile_info *fi, uint64_t off, uint64_t expect,
		      hm_jrec *rec)
{
	if (off < fi->data_offset || off % HM_JR_ALIGN || off > fi->file_size - HM_JR_HDR)
		return false;
	uint64_t word = commit_word(buf, off);
	return word && record_valid(buf, fi, off, word, rec) && rec->seq > expect;
}

static const uint8_t *index_entry(const uint8_t *buf, const hm_jfile_info *fi, uint32_t i)
{
	return buf + fi->index_offset + (uint64_t)i * HM_JI_SIZE;
}

/* Entry i's record offset, 0 when empty. The acquire pairs with the release
 * in put_index: the entry's seq, stored before, is visible with it. */
static uint64_t index_off(const uint8_t *buf, const hm_jfile_info *fi, uint32_t i)
{
	return hm_load_acquire_u64((const hm_atomic_u64 *)(const void *)(index_entry(buf, fi, i) + HM_JI_OFFSET));
}

bool hm_jfile_resync(const uint8_t *buf, const hm_jfile_info *fi, uint64_t off, uint64_t expect,
		     hm_jrec *rec)
{
	/* The bad record's own length may be intact (a flipped payload bit). */
	uint64_t word = off <= fi->file_size - 8 && off >= fi->data_offset ? commit_word(buf, off) : 0;
	uint32_t len = (uint32_t)word;
	if (word && len <= HM_JOURNAL_MAX_PAYLOAD && candidate(buf, fi, off + hm_jr_size(len), expect, rec))
		return true;
	/* Else the first indexed record past it. */
	for (uint32_t i = 0; i < fi->index_count; i++) {
		uint64_t o = index_off(buf, fi, i);
		if (o > off && candidate(buf, fi, o, expect, rec) &&
		    hm_get_le64(index_entry(buf, fi, i) + HM_JI_SEQ) == rec->seq)
			return true;
	}
	return false;
}

void hm_jfile_seek(const uint8_t *buf, const hm_jfile_info *fi, uint64_t target, uint64_t *off,
		   uint64_t *seq)
{
	*off = fi->data_offset;
	*seq = fi->first_seq;
	/* Entries are written in order, so the used ones form a prefix, except
	 * for holes under a record that spans whole strides. Binary search with
	 * "used and at or before target"; a hole may send it left of the best
	 * entry, which costs a longer forward walk, never a wrong answer. */
	uint32_t lo = 0, hi = fi->index_count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (index_off(buf, fi, mid) != 0 &&
		    hm_get_le64(index_entry(buf, fi, mid) + HM_JI_SEQ) <= target)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (uint32_t i = lo; i-- > 0;) {
		uint64_t o = index_off(buf, fi, i);
		uint64_t s = hm_get_le64(index_entry(buf, fi, i) + HM_JI_SEQ);
		hm_jrec rec;
		if (o && s <= target && s >= fi->first_seq && hm_jfile_read(buf, fi, o, s, &rec) == HERMES_OK) {
			*off = o;
			*seq = s;
			return;
		}
	}
}

bool hm_jfile_fits(const hm_jfile_info *fi, uint64_t off, uint32_t len)
{
	return len <= HM_JOURNAL_MAX_PAYLOAD && off <= fi->file_size &&
	       hm_jr_size(len) + HM_JR_HDR <= fi->file_size - off;
}

static void put_index(uint8_t *buf, const hm_jfile_info *fi, uint64_t off, uint64_t seq)
{
	uint64_t rel = off - fi->data_offset;
	uint32_t stride = fi->index_stride;
	/* The first record to start in stride i. A power-of-two stride (the
	 * default) shifts: a 64-bit division on every append costs tens of
	 * cycles, as much as a small record's checksum. */
	uint64_t i = (stride & (stride - 1)) == 0 ? rel >> __builtin_ctz(stride) : rel / stride;
	if (i >= fi->index_count || index_off(buf, fi, (uint32_t)i) != 0)
		return;
	uint8_t *e = buf + fi->index_offset + i * HM_JI_SIZE;
	hm_put_le64(e + HM_JI_SEQ, seq);
	/* Release: a reader that sees the offset (acquire in index_off) sees
	 * the seq stored just before; it validates the record anyway. */
	hm_store_release_u64((hm_atomic_u64 *)(void *)(e + HM_JI_OFFSET), off);
}

uint64_t hm_jfile_put(uint8_t *buf, const hm_jfile_info *fi, uint64_t off, uint32_t type, uint64_t seq,
		      uint64_t time_ns, const void *payload, uint32_t len)
{
	return hm_jfile_put_tagged(buf, fi, off, type, seq, time_ns, 0, payload, len);
}

uint64_t hm_jfile_put_tagged(uint8_t *buf, const hm_jfile_info *fi, uint64_t off, uint32_t type,
			     uint64_t seq, uint64_t time_ns, uint32_t tag, const void *payload,
			     uint32_t len)
{
	uint8_t *r = buf + off;
	uint64_t size = hm_jr_size(len);
	hm_put_le32(r + HM_JR_TAG, tag);
	hm_put_le64(r + HM_JR_SEQ, seq);
	hm_put_le64(r + HM_JR_TIME, time_ns);
	if (len)
		memcpy(r + HM_JR_HDR, payload, len);
	if (size > HM_JR_HDR + len)
		memset(r + HM_JR_HDR + len, 0, size - HM_JR_HDR - len);
	uint8_t word[8];
	hm_put_le32(word, len);
	hm_put_le16(word + 4, (uint16_t)type);
	hm_put_le16(word + 6, 0);
	uint64_t w;
	memcpy(&w, word, 8);
	hm_put_le32(r + HM_JR_CRC, hm_crc32c_rec(w, r + HM_JR_CRC + 4, HM_JR_HDR - HM_JR_CRC - 4 + (size_t)len));
	/* Release: publishes the record body and checksum stored above to a
	 * reader's acquire load of the commit word (commit_word). */
	hm_store_release_u64((hm_atomic_u64 *)(void *)r, w);
	put_index(buf, fi, off, seq);
	return off + size;
}

uint64_t hm_jfile_put_range(uint8_t *buf, const hm_jfile_info *fi, uint64_t off, uint32_t type,
			    uint64_t first, uint64_t count, uint64_t time_ns)
{
	uint8_t p[8];
	hm_put_le64(p, count);
	return hm_jfile_put(buf, fi, off, type, first, time_ns, p, 8);
}

void hm_jfile_scan(const uint8_t *buf, const hm_jfile_info *fi, hm_jscan *out, hm_jcorrupt_fn fn,
		   void *ctx)
{
	memset(out, 0, sizeof *out);
	uint64_t off = fi->data_offset, seq = fi->first_seq;
	for (;;) {
		hm_jrec rec;
		hermes_err e = hm_jfile_read(buf, fi, off, seq, &rec);
		if (e == HERMES_EAGAIN)
			break;
		if (e != HERMES_OK) {
			if (!hm_jfile_resync(buf, fi, off, seq, &rec)) {
				out->torn = true;
				break;
			}
			if (!out->corrupt)
				out->corrupt_first = seq;
			out->corrupt += rec.seq - seq;
			if (fn)
				fn(ctx, seq, rec.seq - seq, off);
		}
		out->records++;
		out->last_time_ns = rec.time_ns;
		if (rec.type == HM_JR_END) {
			out->sealed = true;
			seq = rec.seq;
			off = rec.next_off;
			break;
		}
		if (rec.type == HM_JR_MSG)
			out->messages++;
		seq = rec.seq + rec.count;
		off = rec.next_off;
	}
	out->tail_off = off;
	out->next_seq = seq;
}

uint64_t hm_jfile_cut(uint8_t *buf, const hm_jfile_info *fi, uint64_t off)
{
	uint64_t cleared = 0;
	/* Page by page, so clean zero pages are only read, never dirtied. */
	for (uint64_t p = off; p < fi->file_size;) {
		uint64_t end = (p | 4095) + 1;
		if (end > fi->file_size)
			end = fi->file_size;
		for (uint64_t q = p; q < end; q++) {
			if (buf[q]) {
				memset(buf + p, 0, end - p);
				cleared += end - p;
				break;
			}
		}
		p = end;
	}
	return cleared;
}
