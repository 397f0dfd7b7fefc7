/* Tests for core/units.c: the one size and duration syntax of the
 * daemons' and hermes-ctl's configuration values and flags. */
#include "tests/support/testing.h"

#include <stdint.h>

#include "core/units.h"

static void test_sizes_take_binary_suffixes_in_either_case(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		uint64_t bytes;
	} ok[] = {
		{"0", 0},
		{"4096", 4096},
		{"100B", 100},
		{"64k", 65536},
		{"64K", 65536},
		{"64KB", 65536},
		{"64KiB", 65536},
		{"64Ki", 65536},
		{"4M", 4u << 20},
		{"1g", 1u << 30},
		{"2T", 2ull << 40},
	};
	for (unsigned i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		uint64_t v = 0;
		if (!hm_parse_size(ok[i].text, &v) || v != ok[i].bytes)
			fail_msg("size \"%s\": %llu, expected %llu", ok[i].text, (unsigned long long)v,
				 (unsigned long long)ok[i].bytes);
	}
}

static void test_sizes_refuse_signs_spaces_other_suffixes_and_overflow(void **state)
{
	(void)state;
	uint64_t v = 7;
	const char *bad[] = {"",    "-1",  "+1",  " 1",  "1 ",	 "1X",		     "1KX",
			     "1KBB", "K",  "1.5M", "0x10", "16777216T", "99999999999999999999"};
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_false(hm_parse_size(bad[i], &v));
		assert_int_equal(v, 7); /* untouched */
	}
	assert_false(hm_parse_size(NULL, &v));
	assert_true(hm_parse_size("16777215T", &v) && v == 16777215ull << 40);
}

/* One syntax: ms, s, m, h, d, or a bare number in the caller's unit
 * (milliseconds for hm_parse_duration_ms; seconds for hermes-journal's keys
 * through hm_parse_duration_ns, which has no cap below 64 bits). */
static void test_durations_take_a_unit_or_count_the_callers(void **state)
{
	(void)state;
	int64_t v = 0;
	assert_true(hm_parse_duration_ms("250", &v) && v == 250);
	assert_true(hm_parse_duration_ms("250ms", &v) && v == 250);
	assert_true(hm_parse_duration_ms("2s", &v) && v == 2000);
	assert_true(hm_parse_duration_ms("3m", &v) && v == 180000);
	assert_true(hm_parse_duration_ms("1h", &v) && v == 3600000);
	assert_true(hm_parse_duration_ms("2d", &v) && v == 172800000);
	const char *bad[] = {"", "-1s", "+1", "2 s", "2w", "1.5s", "2S", "1099511627777"};
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_false(hm_parse_duration_ms(bad[i], &v));
	assert_false(hm_parse_duration_ms(NULL, &v));
	assert_true(hm_parse_duration_ms("1099511627776", &v) && v == 1099511627776ll);
	/* 2^40 days do not fit in 63 bits of milliseconds. */
	assert_false(hm_parse_duration_ms("1099511627776d", &v));
	const uint64_t s = 1000000000ull;
	uint64_t ns = 1;
	assert_true(hm_parse_duration_ns("0", s, &ns) && ns == 0);
	assert_true(hm_parse_duration_ns("2", s, &ns) && ns == 2 * s);
	assert_true(hm_parse_duration_ns("2", 1000000, &ns) && ns == 2000000);
	assert_true(hm_parse_duration_ns("15ms", s, &ns) && ns == 15000000ull);
	assert_true(hm_parse_duration_ns("7d", s, &ns) && ns == 7 * 86400 * s);
	assert_true(hm_parse_duration_ns("18446744073709551615", 1, &ns) && ns == UINT64_MAX);
	const char *bad_ns[] = {"", "-1s", "1w", "2 s", "99999999999999d", "18446744073709551616"};
	for (unsigned i = 0; i < sizeof bad_ns / sizeof bad_ns[0]; i++)
		assert_false(hm_parse_duration_ns(bad_ns[i], s, &ns));
	assert_false(hm_parse_duration_ns(NULL, s, &ns));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes_take_binary_suffixes_in_either_case),
		cmocka_unit_test(test_sizes_refuse_signs_spaces_other_suffixes_and_overflow),
		cmocka_unit_test(test_durations_take_a_unit_or_count_the_callers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
