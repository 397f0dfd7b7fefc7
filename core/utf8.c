/* UTF-8 validation for wire texts (see utf8.h). The ranges are those of the
 * Unicode standard's table of well-formed byte sequences. */
#include "core/utf8.h"

#include <hermes/protocol.h>

size_t hm_utf8_char(const unsigned char *p, size_t avail)
{
	unsigned char b = p[0];
	if (b < 0x80)
		return 1;
	size_t n;
	unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
	if (b >= 0xC2 && b <= 0xDF) {
		n = 2;
	} else if (b >= 0xE0 && b <= 0xEF) {
		n = 3;
		if (b == 0xE0)
			lo = 0xA0; /* overlong below U+0800 */
		else if (b == 0xED)
			hi = 0x9F; /* surrogates U+D800..U+DFFF */
	} else if (b >= 0xF0 && b <= 0xF4) {
		n = 4;
		if (b == 0xF0)
			lo = 0x90; /* overlong below U+10000 */
		else if (b == 0xF4)
			hi = 0x8F; /* above U+10FFFF */
	} else {
		return 0; /* continuation byte, C0/C1 (overlong), F5..FF */
	}
	if (avail < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return n;
}

size_t hm_utf8_prefix(const void *text, size_t len)
{
	const unsigned char *p = text;
	size_t i = 0;
	while (i < len && p[i]) {
		size_t n = hm_utf8_char(p + i, len - i);
		if (n == 0)
			break;
		i += n;
	}
	return i;
}

bool hm_utf8_text_ok(const void *p, size_t len)
{
	return len == 0 || (p && hm_utf8_prefix(p, len) == len);
}

bool hm_wire_name_ok(const void *name, size_t len, size_t min)
{
	const unsigned char *p = name;
	if (len < min || len > HERMES_WIRE_NAME_MAX || (len && !p))
		return false;
	for (size_t i = 0; i < len; i++)
		if (p[i] < 0x21 || p[i] > 0x7E)
			return false;
	return true;
}
