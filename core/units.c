/* Sizes and durations (see units.h). */
#include "core/units.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
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

#define NS_PER_MS 1000000ull

/* The number s starts with in *v and the nanoseconds of its unit in *unit
 * (bare_ns when it has none); false on a malformed value. */
static bool duration_parts(const char *s, uint64_t bare_ns, unsigned long long *v, uint64_t *unit)
{
	static const struct {
		const char *suffix;
		uint64_t ns;
	} units[] = {{"ms", NS_PER_MS},		 {"s", 1000 * NS_PER_MS},	 {"m", 60000 * NS_PER_MS},
		     {"h", 3600000 * NS_PER_MS}, {"d", 86400000 * NS_PER_MS}};
	char *end;
	if (!leading_number(s, v, &end))
		return false;
	if (!*end) {
		*unit = bare_ns;
		return true;
	}
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (!strcmp(end, units[i].suffix)) {
			*unit = units[i].ns;
			return true;
		}
	return false;
}

bool hm_parse_duration_ns(const char *s, uint64_t bare_ns, uint64_t *out)
{
	unsigned long long v;
	uint64_t unit;
	if (!duration_parts(s, bare_ns, &v, &unit) || (unit && v > UINT64_MAX / unit))
		return false;
	*out = (uint64_t)v * unit;
	return true;
}

bool hm_parse_duration_ms(const char *s, int64_t *out)
{
	unsigned long long v;
	uint64_t unit;
	if (!duration_parts(s, NS_PER_MS, &v, &unit) || v > (1ull << 40) ||
	    v > (uint64_t)INT64_MAX / (unit / NS_PER_MS))
		return false;
	*out = (int64_t)(v * (unit / NS_PER_MS));
	return true;
}
