#include "tests/support/bad_utf8.h"

const ht_bad_text ht_bad_utf8[] = {
	{"ff fe", "\xff\xfe", 2},
	{"ff", "\xff", 1},
	{"fe", "\xfe", 1},
	{"NUL", "a\0b", 3},
	{"overlong NUL c0 80", "\xc0\x80", 2},
	{"overlong c1 bf", "\xc1\xbf", 2},
	{"overlong e0 80 80", "\xe0\x80\x80", 3},
	{"overlong e0 9f bf", "\xe0\x9f\xbf", 3},
	{"overlong '/' e0 80 af", "\xe0\x80\xaf", 3},
	{"overlong f0 80 80 80", "\xf0\x80\x80\x80", 4},
	{"overlong f0 8f bf bf", "\xf0\x8f\xbf\xbf", 4},
	{"surrogate ed a0 80 (U+D800)", "\xed\xa0\x80", 3},
	{"surrogate ed bf bf (U+DFFF)", "\xed\xbf\xbf", 3},
	{"surrogate pair", "\xed\xa0\xbd\xed\xb8\x80", 6},
	{"above U+10FFFF f4 90 80 80", "\xf4\x90\x80\x80", 4},
	{"f5 80 80 80", "\xf5\x80\x80\x80", 4},
	{"f8 88 80 80 80 (5 bytes)", "\xf8\x88\x80\x80\x80", 5},
	{"stray continuation 80", "\x80", 1},
	{"stray continuation bf", "a\xbf", 2},
	{"truncated c3", "\xc3", 1},
	{"truncated e2 82", "\xe2\x82", 2},
	{"truncated f0 9d 84", "\xf0\x9d\x84", 3},
	{"truncated at the end", "ok \xe2\x82", 5},
	{"bad continuation c3 28", "\xc3\x28", 2},
	{"bad continuation e2 28 a1", "\xe2\x28\xa1", 3},
	{"bad continuation f0 9d 28 9e", "\xf0\x9d\x28\x9e", 4},
};

const size_t ht_bad_utf8_count = sizeof ht_bad_utf8 / sizeof ht_bad_utf8[0];
