/* CRC32C, reflected polynomial 0x82F63B78. The software path is slicing by 8
 * over tables built once; the hardware path feeds the SSE4.2 crc32
 * instruction 8 bytes at a time, over three independent streams for long
 * buffers (below). Both keep the same pre/post inversion, so a CRC started
 * on one may be continued on the other. */
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

/* Three streams. The crc32 instruction takes 3 cycles to give its result
 * and can start one every cycle, so a single chain of them runs at a third
 * of the speed the CPU has (about 9.7 GB/s here). A block of 3 * n bytes is
 * checksummed as three independent chains, the first continuing the state,
 * the other two starting from 0, and the three joined: without the
 * pre/post inversion the CRC is linear, so for blocks A, B, C of n bytes
 *   crc(c, A B C) = S(S(crc(c, A)) ^ crc(0, B)) ^ crc(0, C)
 * where S multiplies the state by x^(8n) modulo the polynomial: the effect
 * of n zero bytes, a linear map of the 32-bit state, applied as four table
 * lookups (one per state byte; the method of Mark Adler's crc32c.c, written
 * here from the identity above). Buffers of 3 * LONG_N bytes or more: blocks
 * of 3 * LONG_N, then of 3 * SHORT_N for what is left, then one chain. The
 * streams are kept close (256 bytes apart): 1 KiB apart, on data not in the
 * cache, they ran slower than one chain (6.7 against 7.8 GB/s, the hardware
 * prefetcher losing the sequential pattern); 256 bytes apart, 11-19 GB/s,
 * and 22 GB/s in the cache against 9.7 (bench/README.md, "Journal"). */
#define LONG_N 256u
#define SHORT_N 64u

static uint32_t shift_long[4][256], shift_short[4][256];
static pthread_once_t shift_once = PTHREAD_ONCE_INIT;

/* The table of S for n zero bytes: S of each basis state (a single bit set),
 * by feeding n zero bytes through the byte-at-a-time update, then for each
 * state byte the XOR of the images of its set bits. */
static void build_shift(uint32_t t[4][256], unsigned n)
{
	uint32_t image[32];
	for (int bit = 0; bit < 32; bit++) {
		uint32_t c = 1u << bit;
		for (unsigned i = 0; i < n; i++)
			c = (c >> 8) ^ table[0][c & 0xff];
		image[bit] = c;
	}
	for (int k = 0; k < 4; k++)
		for (uint32_t v = 0; v < 256; v++) {
			uint32_t x = 0;
			for (int j = 0; j < 8; j++)
				if (v & (1u << j))
					x ^= image[8 * k + j];
			t[k][v] = x;
		}
}

static void build_shifts(void)
{
	pthread_once(&table_once, build_table);
	build_shift(shift_long, LONG_N);
	build_shift(shift_short, SHORT_N);
}

static inline uint32_t shift(uint32_t t[4][256], uint32_t c)
{
	return t[0][c & 0xff] ^ t[1][(c >> 8) & 0xff] ^ t[2][(c >> 16) & 0xff] ^ t[3][c >> 24];
}

/* Blocks of 3 * n bytes at p (8-byte aligned) while len allows; returns the
 * state, *pp and *lenp moved past them. */
__attribute__((target("sse4.2"), always_inline)) static inline uint64_t
crc_hw_3way(uint64_t c, const uint8_t **pp, size_t *lenp, size_t n, uint32_t t[4][256])
{
	const uint8_t *p = *pp;
	size_t len = *lenp;
	for (; len >= 3 * n; p += 3 * n, len -= 3 * n) {
		uint64_t b = 0, d = 0;
		/* Two words per stream per turn: the loop's own work once per
		 * 48 bytes (n is a multiple of 16). */
		for (size_t i = 0; i < n; i += 16) {
			c = crc_hw_8(c, p + i);
			b = crc_hw_8(b, p + n + i);
			d = crc_hw_8(d, p + 2 * n + i);
			c = crc_hw_8(c, p + i + 8);
			b = crc_hw_8(b, p + n + i + 8);
			d = crc_hw_8(d, p + 2 * n + i + 8);
		}
		c = shift(t, shift(t, (uint32_t)c) ^ (uint32_t)b) ^ (uint32_t)d;
	}
	*pp = p;
	*lenp = len;
	return c;
}

/* One chain over len bytes at p (8-byte aligned): four words a turn (the
 * loop's own work once per 32 bytes), then one at a time, then the edge. */
__attribute__((target("sse4.2"), always_inline)) static inline uint32_t crc_hw_chain(uint64_t c, const uint8_t *p,
										    size_t len)
{
	for (; len >= 32; p += 32, len -= 32)
		for (int i = 0; i < 4; i++)
			c = crc_hw_8(c, p + 8 * i);
	for (; len >= 8; p += 8, len -= 8)
		c = crc_hw_8(c, p);
	return crc_hw_short((uint32_t)c, p, len);
}

/* A long buffer (len >= 3 * LONG_N at p, 8-byte aligned): the three-stream
 * blocks, then one chain for the rest. Out of line, so that short records
 * (most of them) keep the small frame of one chain. */
__attribute__((target("sse4.2"), noinline)) static uint32_t crc_hw_long(uint64_t c, const uint8_t *p,
									 size_t len)
{
	pthread_once(&shift_once, build_shifts);
	c = crc_hw_3way(c, &p, &len, LONG_N, shift_long);
	c = crc_hw_3way(c, &p, &len, SHORT_N, shift_short);
	return crc_hw_chain(c, p, len);
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
	if (len >= 3 * LONG_N)
		return crc_hw_long(c32, p, len);
	return crc_hw_chain(c32, p, len);
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
