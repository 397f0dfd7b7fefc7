/* core/utf8.c, the one validator of wire text: well-formed UTF-8 per the
 * Unicode table of byte sequences (no overlongs, no surrogates, nothing
 * above U+10FFFF, no truncated sequence, no stray continuation or ff/fe),
 * no NUL; cutting a text never splits a character; names are printable
 * ASCII. Checked against a reference decoder over every 1-, 2- and 3-byte
 * sequence and every 4-byte lead with every second and third byte. */
#include <string.h>

#include "core/utf8.h"
#include "tests/support/bad_utf8.h"
#include "tests/support/testing.h"

/* Reference: decode by the bits, then apply the rules on the code point. */
static size_t reference(const unsigned char *p, size_t avail)
{
	unsigned char b = p[0];
	size_t n;
	unsigned long cp;
	if (b < 0x80)
		return 1;
	if ((b & 0xE0) == 0xC0) {
		n = 2;
		cp = b & 0x1Fu;
	} else if ((b & 0xF0) == 0xE0) {
		n = 3;
		cp = b & 0x0Fu;
	} else if ((b & 0xF8) == 0xF0) {
		n = 4;
		cp = b & 0x07u;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3Fu);
	}
	static const unsigned long min[5] = {0, 0, 0x80, 0x800, 0x10000};
	if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

static void test_every_short_sequence_agrees_with_a_reference_decoder(void **state)
{
	(void)state;
	unsigned char s[4];
	unsigned long checked = 0;
	for (unsigned a = 0; a < 256; a++) {
		s[0] = (unsigned char)a;
		assert_int_equal(hm_utf8_char(s, 1), reference(s, 1));
		for (unsigned b = 0; b < 256; b++) {
			s[1] = (unsigned char)b;
			assert_int_equal(hm_utf8_char(s, 2), reference(s, 2));
			if (a < 0xE0)
				continue;
			for (unsigned c = 0; c < 256; c++) {
				s[2] = (unsigned char)c;
				assert_int_equal(hm_utf8_char(s, 3), reference(s, 3));
				if (a < 0xF0)
					continue;
				static const unsigned char last[] = {0x00, 0x7F, 0x80, 0xBF, 0xC0, 0xFF};
				for (unsigned d = 0; d < sizeof last; d++) {
					s[3] = last[d];
					if (hm_utf8_char(s, 4) != reference(s, 4))
						fail_msg("%02x %02x %02x %02x", a, b, c, last[d]);
					checked++;
				}
			}
		}
	}
	assert_true(checked > 1000000);
}

static bool ok(const char *s, size_t len)
{
	return hm_utf8_text_ok(s, len);
}

static void test_valid_text_is_accepted(void **state)
{
	(void)state;
	assert_true(ok("", 0));
	assert_true(ok(NULL, 0));
	assert_true(ok("no ring 'nosuch'", 16));
	assert_true(ok("\xc2\x80", 2));		    /* U+0080, the first of two bytes */
	assert_true(ok("\xc3\xa9", 2));		    /* é */
	assert_true(ok("\xe0\xa0\x80", 3));	    /* U+0800 */
	assert_true(ok("\xe2\x82\xac", 3));	    /* € */
	assert_true(ok("\xed\x9f\xbf", 3));	    /* U+D7FF, just below the surrogates */
	assert_true(ok("\xee\x80\x80", 3));	    /* U+E000, just above */
	assert_true(ok("\xef\xbf\xbf", 3));	    /* U+FFFF */
	assert_true(ok("\xf0\x90\x80\x80", 4));	    /* U+10000 */
	assert_true(ok("\xf0\x9d\x84\x9e", 4));	    /* 𝄞 */
	assert_true(ok("\xf4\x8f\xbf\xbf", 4));	    /* U+10FFFF, the last */
	assert_true(ok("\x01\x7f\t\n", 4));	    /* controls are text; only NUL is not */
}

static void test_malformed_text_is_refused(void **state)
{
	(void)state;
	for (size_t i = 0; i < ht_bad_utf8_count; i++)
		if (ok(ht_bad_utf8[i].bytes, ht_bad_utf8[i].len))
			fail_msg("accepted: %s", ht_bad_utf8[i].what);
}

static void test_a_cut_never_splits_a_character(void **state)
{
	(void)state;
	static const char s[] = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9d\x84\x9e";
	size_t len = sizeof s - 1;
	/* Cut at every length: the prefix is valid and as long as possible. */
	for (size_t cut = 0; cut <= len; cut++) {
		size_t n = hm_utf8_prefix(s, cut);
		assert_true(n <= cut && hm_utf8_text_ok(s, n));
		assert_true(cut - n < 4);
		if (n < cut)
			assert_false(hm_utf8_text_ok(s, cut));
	}
	assert_int_equal(hm_utf8_prefix(s, 2), 1);    /* "h" + half of é */
	assert_int_equal(hm_utf8_prefix(s, len), len);
	assert_int_equal(hm_utf8_prefix("ab\xff" "cd", 5), 2);
	assert_int_equal(hm_utf8_prefix("ab\0cd", 5), 2);
}

static void test_names_are_printable_ascii_without_spaces(void **state)
{
	(void)state;
	char name[300];
	memset(name, 'a', sizeof name);
	assert_true(hm_wire_name_ok("orders", 6, 1));
	assert_true(hm_wire_name_ok("", 0, 0));
	assert_false(hm_wire_name_ok("", 0, 1));
	assert_true(hm_wire_name_ok("!~", 2, 1));
	assert_false(hm_wire_name_ok("a b", 3, 1));
	assert_false(hm_wire_name_ok("a\x7f", 2, 1));
	assert_false(hm_wire_name_ok("caf\xc3\xa9", 5, 1)); /* UTF-8, but not a name */
	assert_true(hm_wire_name_ok(name, 255, 1));
	assert_false(hm_wire_name_ok(name, 256, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_short_sequence_agrees_with_a_reference_decoder),
		cmocka_unit_test(test_valid_text_is_accepted),
		cmocka_unit_test(test_malformed_text_is_refused),
		cmocka_unit_test(test_a_cut_never_splits_a_character),
		cmocka_unit_test(test_names_are_printable_ascii_without_spaces),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
