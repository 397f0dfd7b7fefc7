/* CRC32C (Castagnoli, the iSCSI/ext4 polynomial): the journal's record and
 * header checksum. The SSE4.2 crc32 instruction when the CPU has it, else a
 * table-driven software version giving the same results. */
#ifndef HM_CRC32C_H
#define HM_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC32C: pass 0 for the first buffer, the previous result for
 * the next. hm_crc32c(0, "123456789", 9) == 0xE3069283. Thread-safe. */
uint32_t hm_crc32c(uint32_t crc, const void *data, size_t len);

/* The CRC32C of the 8 bytes of `first` as stored on this (little-endian)
 * host, followed by data: a journal record's checksum (its commit word, then
 * the rest) in one call. Equals hm_crc32c(hm_crc32c(0, &first, 8), data, len). */
uint32_t hm_crc32c_rec(uint64_t first, const void *data, size_t len);

/* The software version, always (tests compare both). */
uint32_t hm_crc32c_soft(uint32_t crc, const void *data, size_t len);

/* Does hm_crc32c use the CPU instruction? */
int hm_crc32c_hw(void);

#endif
