/* Sizes and durations (see units.h). */
#include "core/units.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The shift of a size suffix letter, or -1 for none. */
static int size_shift(char c)
{
	switch (toupper((unsigned char)c)) {
	case 'K': return 10;
	case 'M': return 20;
	case 'G': return 30;
	case 'T': return 40;
	default: return -1;
	}
}

/* The decimal number s starts with (no sign, no space) in *v, *end after
 * it; false when s does not start with a digit or the number overflows. */
static bool leading_number(const char *s, unsigned long long *v, char **end)
{
	if (!s || !isdigit((unsigned char)*s))
		return false;
	errno = 0;
	*v = strtoull(s, end, 10);
	return errno == 0;
}

bool hm_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;
	if (!leading_number(s, &v, &end))
		return false;
	int shift = size_shift(*end);
	if (shift < 0)
		shift = 0;
	else if (toupper((unsigned char)*++end) == 'I')
		end++;
	if (toupper((unsigned char)*end) == 'B')
		end++;
	if (*end || v > (UINT64_MAX >> shift))
		return false;
	*out = (uint64_t)v << shift;
	return true;
}

bool hm_parse_duration_ms(const char *s, int64_t *out)
{
	unsigned long long v;
	char *end;
	if (!leading_number(s, &v, &end) || v > (1ull << 40))
		return false;
	int64_t mul;
	if (!strcmp(end, "") || !strcmp(end, "ms"))
		mul = 1;
	else if (!strcmp(end, "s"))
		mul = 1000;
	else if (!strcmp(end, "m"))
		mul = 60 * 1000;
	else if (!strcmp(end, "h"))
		mul = 3600 * 1000;
	else
		return false;
	*out = (int64_t)v * mul;
	return true;
}
