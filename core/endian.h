/* Explicit little-endian field access for wire and file formats.
 *
 * Every multi-byte field Hermes puts on the wire is little-endian and is read
 * or written through these helpers, at any alignment. Casting a struct onto
 * received bytes would tie the format to the compiler's padding and the host's
 * byte order, and would be undefined behaviour on misaligned input.
 *
 * On little-endian hosts the memcpy form compiles to one plain load or store;
 * elsewhere the shifts spell out the byte order. */
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
#if HM_HOST_LE
	memcpy(p, &v, sizeof v);
#else
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
#endif
}

static inline void hm_put_le32(uint8_t *p, uint32_t v)
{
#if HM_HOST_LE
	memcpy(p, &v, sizeof v);
#else
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
#endif
}

static inline void hm_put_le64(uint8_t *p, uint64_t v)
{
#if HM_HOST_LE
	memcpy(p, &v, sizeof v);
#else
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
#endif
}

static inline uint16_t hm_get_le16(const uint8_t *p)
{
#if HM_HOST_LE
	uint16_t v;
	memcpy(&v, p, sizeof v);
	return v;
#else
	return (uint16_t)(p[0] | (p[1] << 8));
#endif
}

static inline uint32_t hm_get_le32(const uint8_t *p)
{
#if HM_HOST_LE
	uint32_t v;
	memcpy(&v, p, sizeof v);
	return v;
#else
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
#endif
}

static inline uint64_t hm_get_le64(const uint8_t *p)
{
#if HM_HOST_LE
	uint64_t v;
	memcpy(&v, p, sizeof v);
	return v;
#else
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
#endif
}

#endif
