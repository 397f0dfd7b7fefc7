/* Explicit little-endian field access for wire and file formats.
 *
 * Every multi-byte field Hermes puts on the wire is little-endian and is read
 * or written through these helpers, at any alignment. Casting a struct onto
 * received bytes would tie the format to the compiler's padding and the host's
 * byte order, and would be undefined behaviour on misaligned input.
 *
 * A memcpy is one plain load or store at any alignment; on a big-endian host
 * the byte swap after it (or before it) spells out the order. */
#ifndef HM_ENDIAN_H
#define HM_ENDIAN_H

#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HM_HOST_LE 1
#else
#define HM_HOST_LE 0
#endif

static inline void hm_put_le16(uint8_t *p, uint16_t v)
{
	v = HM_HOST_LE ? v : __builtin_bswap16(v);
	memcpy(p, &v, sizeof v);
}

static inline void hm_put_le32(uint8_t *p, uint32_t v)
{
	v = HM_HOST_LE ? v : __builtin_bswap32(v);
	memcpy(p, &v, sizeof v);
}

static inline void hm_put_le64(uint8_t *p, uint64_t v)
{
	v = HM_HOST_LE ? v : __builtin_bswap64(v);
	memcpy(p, &v, sizeof v);
}

static inline uint16_t hm_get_le16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof v);
	return HM_HOST_LE ? v : __builtin_bswap16(v);
}

static inline uint32_t hm_get_le32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof v);
	return HM_HOST_LE ? v : __builtin_bswap32(v);
}

static inline uint64_t hm_get_le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof v);
	return HM_HOST_LE ? v : __builtin_bswap64(v);
}

#endif
