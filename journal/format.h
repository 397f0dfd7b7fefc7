/* The journal's on-disk layout: the one descriptor header shared by the
 * recorder (writer), the replay API and hermes-ctl (readers).
 *
 * A ring's journal is a directory of segment files, each named after the
 * sequence of its first record: "%020llu.hjl" (20 decimal digits, so that
 * name order is sequence order). A file is created at its full size
 * (posix_fallocate: a full disk is reported when the file is made, never as a
 * SIGBUS on a later store), written through a shared mapping, and never
 * reused. It may be made ahead of need, under HM_JOURNAL_NEXT_NAME: still all
 * zeros, with no header, until the roll-over that names it. Readers map the
 * same file and read records in place (zero-copy).
 *
 *   offset 0            file header (HM_JH_SIZE bytes, fields below)
 *   index_offset        sparse index: index_entries x {u64 seq, u64 offset}
 *   data_offset         records, 8-byte aligned, back to back; then zeros
 *
 * Every field is little-endian; the journal is read in place through
 * mappings, so this format is for little-endian hosts (x86-64, arm64).
 *
 * A record is a 32-byte header and its payload, padded to 8 bytes:
 *
 *   0  u32 len         payload bytes
 *   4  u16 type        HM_JR_MSG, HM_JR_GAP, HM_JR_LOST, HM_JR_END (never 0)
 *   6  u16 flags       0
 *   8  u32 crc         CRC32C of bytes 0..7 and 12..(32 + len) of the record
 *   12 u32 tag         MSG: the message's user tag (hermes_msg.tag), 0 = none;
 *                      0 for every other type (version 1: always 0)
 *   16 u64 seq         MSG: its ring sequence; GAP/LOST: the first sequence
 *                      of the range; END: the sequence the next file starts at
 *   24 u64 time_ns     CLOCK_REALTIME when the recorder wrote it
 *   32 payload         MSG: the message; GAP/LOST: u64 count of sequences
 *
 * The first 8 bytes (len, type, flags) are the commit word: the writer stores
 * everything else first and the commit word last, with release; a reader
 * loads it with acquire. 0 means "nothing here yet". Records of a file carry
 * consecutive sequences with no hole: a MSG covers one sequence, a GAP
 * (aborted or repaired on the ring) or LOST (the recorder could not get them)
 * record covers `count`. A file ends with an END record when the writer
 * rolled over to the next file; the last file of a journal has none.
 *
 * Versions: 2 added the user tag at record offset 12, which version 1 wrote
 * as 0. Readers take both (a version-1 file reads as untagged); writers
 * write 2, which a version-1 reader refuses with HERMES_EVERSION instead of
 * dropping the tags unseen.
 */
#ifndef HM_JOURNAL_FORMAT_H
#define HM_JOURNAL_FORMAT_H

#include <assert.h>
#include <stdint.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the journal is read in place: little-endian hosts only"
#endif

#define HM_JOURNAL_MAGIC "HMJOURNL" /* 8 bytes, no NUL */
#define HM_JOURNAL_VERSION 2u	  /* what the writer writes */
#define HM_JOURNAL_MIN_VERSION 1u /* the oldest a reader takes */
#define HM_JOURNAL_SUFFIX ".hjl"
/* The next file while the writer's thread makes it ahead of roll-over: all
 * zeros, no header yet; renamed to its sequence's name when it is used.
 * Like any ".*.tmp" file, removed by the next writer's recovery. */
#define HM_JOURNAL_NEXT_NAME ".next.tmp"

/* File header fields (offsets from the start of the file). */
#define HM_JH_MAGIC 0	      /* char[8] HM_JOURNAL_MAGIC */
#define HM_JH_VERSION 8	      /* u32 HM_JOURNAL_VERSION */
#define HM_JH_HEADER_SIZE 12  /* u32 HM_JH_SIZE */
#define HM_JH_FILE_SIZE 16    /* u64 bytes of the whole file */
#define HM_JH_FIRST_SEQ 24    /* u64 sequence of the first record */
#define HM_JH_CREATED_NS 32   /* u64 CLOCK_REALTIME at creation */
#define HM_JH_BUS_ID 40	      /* u64 hermes_bus_id of the recorded bus */
#define HM_JH_INDEX_OFFSET 48 /* u32 */
#define HM_JH_INDEX_COUNT 52  /* u32 index entries */
#define HM_JH_INDEX_STRIDE 56 /* u32 data bytes between index entries */
#define HM_JH_DATA_OFFSET 60  /* u32 */
#define HM_JH_RING 64	      /* char[48] ring name, NUL padded */
#define HM_JH_FLAGS 112	      /* u32, 0 */
#define HM_JH_CRC 124	      /* u32 CRC32C of bytes 0..123 */
#define HM_JH_USED 128	      /* bytes of the header that carry fields */
#define HM_JH_SIZE 4096u      /* the header's room: one page */
#define HM_JH_RING_LEN 48

/* Record header. */
#define HM_JR_HDR 32u
#define HM_JR_ALIGN 8u
#define HM_JR_LEN 0
#define HM_JR_TYPE 4
#define HM_JR_FLAGS 6
#define HM_JR_CRC 8
#define HM_JR_TAG 12
#define HM_JR_SEQ 16
#define HM_JR_TIME 24

enum hm_jr_type { HM_JR_MSG = 1, HM_JR_GAP = 2, HM_JR_LOST = 3, HM_JR_END = 4 };

/* An index entry: the first record at or after data_offset + i * stride. */
#define HM_JI_SIZE 16u
#define HM_JI_SEQ 0
#define HM_JI_OFFSET 8 /* written last, with release; 0 = empty */

/* Limits a reader enforces before trusting a header. */
#define HM_JOURNAL_MIN_FILE (64u * 1024u)
#define HM_JOURNAL_MAX_FILE (1ull << 40)
#define HM_JOURNAL_MIN_STRIDE 4096u
#define HM_JOURNAL_DEFAULT_STRIDE (64u * 1024u)
#define HM_JOURNAL_MAX_PAYLOAD ((1u << 24) - 1) /* a ring's largest message */

static_assert(HM_JH_CRC + 4 == HM_JH_USED, "header CRC is the last header field");
static_assert(HM_JH_RING + HM_JH_RING_LEN == HM_JH_FLAGS, "ring name fits before flags");
static_assert(HM_JR_TIME + 8 == HM_JR_HDR, "record header is 32 bytes");
static_assert(HM_JR_HDR % HM_JR_ALIGN == 0, "payloads start aligned");

/* Bytes a record with len payload bytes takes in the file. */
static inline uint64_t hm_jr_size(uint32_t len)
{
	return ((uint64_t)HM_JR_HDR + len + HM_JR_ALIGN - 1) & ~(uint64_t)(HM_JR_ALIGN - 1);
}

#endif
