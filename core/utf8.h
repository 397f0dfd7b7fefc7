/* The one check for the text fields of the wire protocol (PROTOCOL.md
 * section 1): error texts are UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF, no truncated sequence) without NUL
 * bytes; names (identities, server names, ring names) are printable ASCII
 * without spaces, a subset of that. The codec checks every text it parses or
 * writes with these; the bridge cuts the texts it builds with hm_utf8_prefix
 * so a cut never splits a character. */
#ifndef HM_CORE_UTF8_H
#define HM_CORE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Bytes of the well-formed character at p (1 to 4; avail > 0), or 0 when p
 * does not start one within avail bytes. */
size_t hm_utf8_char(const unsigned char *p, size_t avail);

/* Is [p, p + len) UTF-8 text without NUL? (len 0: yes.) */
bool hm_utf8_text_ok(const void *p, size_t len);

/* The longest prefix of [p, p + len) that is text without NUL (stops at the
 * first byte that is not). For cutting a text to a limit: pass the limit. */
size_t hm_utf8_prefix(const void *p, size_t len);

/* Is [p, p + len) a wire name: printable ASCII without spaces (0x21 to
 * 0x7E), at least min and at most 255 bytes? */
bool hm_wire_name_ok(const void *p, size_t len, size_t min);

#endif
