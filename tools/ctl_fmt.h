/* Formatting and parsing helpers for hermes-ctl: human-readable sizes,
 * aligned text tables, message payload encodings (escaped text, hex, base64)
 * and strict number parsing for command-line values. */
#ifndef HM_TOOLS_CTL_FMT_H
#define HM_TOOLS_CTL_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* "0 B", "512 B", "1.5 KiB", "64 MiB": binary units, one decimal, a
 * trailing ".0" dropped. Returns buf. */
const char *fmt_bytes(char *buf, size_t len, double bytes);

/* "0", "950", "12.3k", "4.5M": a rate or count for narrow columns. */
const char *fmt_count(char *buf, size_t len, double v);

/* An aligned table: columns are as wide as their widest cell; `align` has
 * one letter per column, 'l' (left) or 'r' (right). Cells are copied (and cut
 * at TABLE_CELL - 1 bytes). */
#define TABLE_MAX_COLS 16
#define TABLE_CELL 128

typedef struct table {
	unsigned ncols, nrows, cap;
	char align[TABLE_MAX_COLS];
	char (*cells)[TABLE_MAX_COLS][TABLE_CELL];
} table;

void table_init(table *t, const char *align);
/* Add a row of ncols cells (const char *). */
void table_row(table *t, ...);
/* Print with `indent` leading spaces and two spaces between columns (lines
 * longer than max_width, 0: no limit, are cut), then free the table. */
void table_flush(table *t, FILE *f, unsigned indent, unsigned max_width);

/* Message payloads. */

/* Printable ASCII as is; backslash as \\; \n \r \t; everything else \xNN. */
void fmt_escaped(FILE *f, const uint8_t *data, size_t len);
/* Lowercase hex, two digits per byte, no separators. */
void fmt_hex(FILE *f, const uint8_t *data, size_t len);
/* Standard base64 (RFC 4648, '+' '/', '=' padding). */
void fmt_base64(FILE *f, const uint8_t *data, size_t len);

/* Parse hex digits (spaces and tabs between bytes allowed) into out (cap
 * bytes). Returns the byte count, or -1 on an odd digit count, a non-hex
 * character or overflow of cap. */
long parse_hex(const char *s, size_t len, uint8_t *out, size_t cap);

/* Strict unsigned parsing: the whole string must be a decimal number (no
 * sign, no spaces) within max. */
bool parse_u64(const char *s, uint64_t max, uint64_t *out);
/* Which of the n names s is: its index, or -1 for none. */
int parse_choice(const char *s, const char *const *names, size_t n);

/* The name of value v in a table indexed by value (designated initializers
 * leave gaps NULL): "?" past the end or in a gap. */
const char *fmt_name_of(uint64_t v, const char *const *names, size_t n);
#define FMT_NAME_OF(v, names) fmt_name_of((v), (names), sizeof(names) / sizeof((names)[0]))

#endif
