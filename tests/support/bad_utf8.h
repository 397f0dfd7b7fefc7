/* Malformed UTF-8: one sample of each way text can break the encoding
 * (bytes that never occur, NUL, overlong forms, surrogates, code points past
 * U+10FFFF, stray and missing continuation bytes), for every test of a
 * decoder or of a peer that must refuse such text. */
#ifndef HM_BAD_UTF8_H
#define HM_BAD_UTF8_H

#include <stddef.h>

typedef struct ht_bad_text {
	const char *what; /* what is wrong, with its bytes in hex */
	const char *bytes;
	size_t len;
} ht_bad_text;

extern const ht_bad_text ht_bad_utf8[];
extern const size_t ht_bad_utf8_count;

#endif
