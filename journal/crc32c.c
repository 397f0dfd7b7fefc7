/* CRC32C, reflected polynomial 0x82F63B78. The software path is slicing by 8
 * over tables built once; the hardware path feeds the SSE4.2 crc32
 * instruction 8 bytes at a time. Both keep the same pre/post inversion, so a
 * CRC started on one may be continued on the other. */
#include "journal/crc32c.h"

#include <pthread.h>
#include <string.h>

#define POLY 0x82F63B78u

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_table(void)
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
		table[0][n] = c;
	}
	for (uint32_t n = 0; n < 256; n++)
		for (int t = 1; t < 8; t++)
			table[t][n] = (table[t - 1][n] >> 8) ^ table[0][table[t - 1][n] & 0xff];
}

uint32_t hm_crc32c_soft(uint32_t crc, const void *data, size_t len)
{
	pthread_once(&table_once, build_table);
	const uint8_t *p = data;
	crc = ~crc;
	while (len && ((uintptr_t)p & 7)) {
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
		len--;
	}
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8); /* little-endian hosts only, as the journal format */
		w ^= crc;
		crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
		      table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^
		      table[2][(w >> 40) & 0xff] ^ table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

#if defined(__x86_64__)
/* One crc32 instruction over the 8, 4 or 2 bytes at p (any alignment). */
__attribute__((target("sse4.2"), always_inline)) static inline uint64_t crc_hw_8(uint64_t c,
										const uint8_t *p)
{
	uint64_t w;
	memcpy(&w, p, 8);
	return __builtin_ia32_crc32di(c, w);
}

__attribute__((target("sse4.2"), always_inline)) static inline uint32_t crc_hw_4(uint32_t c,
										const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return __builtin_ia32_crc32si(c, v);
}

__attribute__((target("sse4.2"), always_inline)) static inline uint32_t crc_hw_2(uint32_t c,
										const uint8_t *p)
{
	uint16_t h;
	memcpy(&h, p, 2);
	return __builtin_ia32_crc32hi(c, h);
}

/* Fewer than 8 bytes with the 4-, 2- and 1-byte forms of the instruction:
 * the unaligned edges of a buffer (a record's checksummed bytes start 4 off
 * an 8-byte boundary: one instruction instead of four). */
__attribute__((target("sse4.2"))) static uint32_t crc_hw_short(uint32_t c, const uint8_t *p, size_t len)
{
	if (len & 4) {
		c = crc_hw_4(c, p);
		p += 4;
	}
	if (len & 2) {
		c = crc_hw_2(c, p);
		p += 2;
	}
	return len & 1 ? __builtin_ia32_crc32qi(c, *p) : c;
}

/* The CRC state without the pre/post inversion. Inlined into both callers:
 * a record's checksum is one call deep. */
__attribute__((target("sse4.2"), always_inline)) static inline uint32_t crc_hw_raw(uint32_t c32, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t head = (8 - ((uintptr_t)p & 7)) & 7;
	if (head > len)
		head = len;
	c32 = crc_hw_short(c32, p, head);
	p += head;
	len -= head;
	uint64_t c = c32;
	/* Four at a time, then one at a time: the loop's own work once per
	 * 32 bytes (the four steps unroll). */
	for (; len >= 32; p += 32, len -= 32)
		for (int i = 0; i < 4; i++)
			c = crc_hw_8(c, p + 8 * i);
	for (; len >= 8; p += 8, len -= 8)
		c = crc_hw_8(c, p);
	return crc_hw_short((uint32_t)c, p, len);
}

__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const void *data, size_t len)
{
	return ~crc_hw_raw(~crc, data, len);
}

__attribute__((target("sse4.2"))) static uint32_t crc_hw_rec(uint64_t first, const void *data, size_t len)
{
	return ~crc_hw_raw((uint32_t)__builtin_ia32_crc32di(0xFFFFFFFFu, first), data, len);
}

int hm_crc32c_hw(void)
{
	return __builtin_cpu_supports("sse4.2");
}

/* The CPU cannot change under a running process: decide once. A racing
 * first call computes the same answer, so a relaxed store is enough. */
static int use_hw(void)
{
	static int hw = -1;
	int h = __atomic_load_n(&hw, __ATOMIC_RELAXED);
	if (h < 0) {
		h = hm_crc32c_hw();
		__atomic_store_n(&hw, h, __ATOMIC_RELAXED);
	}
	return h;
}

uint32_t hm_crc32c(uint32_t crc, const void *data, size_t len)
{
	return use_hw() ? crc_hw(crc, data, len) : hm_crc32c_soft(crc, data, len);
}

uint32_t hm_crc32c_rec(uint64_t first, const void *data, size_t len)
{
	return use_hw() ? crc_hw_rec(first, data, len) : hm_crc32c(hm_crc32c_soft(0, &first, 8), data, len);
}
#else
int hm_crc32c_hw(void)
{
	return 0;
}

uint32_t hm_crc32c(uint32_t crc, const void *data, size_t len)
{
	return hm_crc32c_soft(crc, data, len);
}

uint32_t hm_crc32c_rec(uint64_t first, const void *data, size_t len)
{
	return hm_crc32c_soft(hm_crc32c_soft(0, &first, 8), data, len);
}
#endif
