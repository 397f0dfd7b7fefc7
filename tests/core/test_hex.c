/* Tests for core/hex.h: every character's digit value, and bytes written as
 * hex read back the same. */
#include "tests/support/testing.h"

#include <string.h>

#include "core/hex.h"

static void test_digit_values(void **state)
{
	(void)state;
	for (int c = 0; c < 256; c++) {
		int want = c >= '0' && c <= '9'	  ? c - '0'
			   : c >= 'a' && c <= 'f' ? c - 'a' + 10
			   : c >= 'A' && c <= 'F' ? c - 'A' + 10
						  : -1;
		if (hm_hex_digit(c) != want)
			fail_msg("hm_hex_digit(%d) is %d, not %d", c, hm_hex_digit(c), want);
	}
	assert_int_equal(hm_hex_digit(-1), -1);
}

static void test_encode_reads_back(void **state)
{
	(void)state;
	uint8_t bytes[256], back[256];
	for (int i = 0; i < 256; i++)
		bytes[i] = (uint8_t)(255 - i);
	char text[2 * sizeof bytes + 1];
	memset(text, 'x', sizeof text);
	hm_hex_encode(bytes, sizeof bytes, text);
	assert_int_equal(strlen(text), 2 * sizeof bytes);
	assert_memory_equal(text, "fffefdfc", 8);
	for (size_t i = 0; i < sizeof bytes; i++) {
		int hi = hm_hex_digit(text[2 * i]), lo = hm_hex_digit(text[2 * i + 1]);
		assert_true(hi >= 0 && lo >= 0);
		assert_true(text[2 * i] < 'A' || text[2 * i] > 'F'); /* lowercase */
		back[i] = (uint8_t)(hi << 4 | lo);
	}
	assert_memory_equal(back, bytes, sizeof bytes);
	hm_hex_encode(bytes, 0, text);
	assert_string_equal(text, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_digit_values),
		cmocka_unit_test(test_encode_reads_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
