/* A tiny streaming JSON writer for hermes-ctl's --json output.
 *
 * The writer tracks nesting and commas, so callers only say what comes next
 * (begin an object, a key, a value). Strings are escaped per RFC 8259 and
 * made valid UTF-8: process names and ring names come from other processes
 * and may hold any byte. Output is indented two spaces per level; the
 * indentation is not part of any documented schema. */
#ifndef HM_TOOLS_JSON_H
#define HM_TOOLS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

typedef struct json_w {
	FILE *f;
	unsigned depth;
	bool after_key;			 /* a key was written; the value follows on the same line */
	bool has_items[JSON_MAX_DEPTH]; /* a comma is due before the next item */
} json_w;

void json_init(json_w *w, FILE *f);
/* A hermes-ctl document on stdout: its object opened, with "schema" and
 * "bus" as the first keys. */
void json_doc_begin(json_w *w, const char *schema, const char *bus);
/* Its object closed and the document ended (json_finish). */
void json_doc_end(json_w *w);

void json_obj_begin(json_w *w);
void json_obj_end(json_w *w);
void json_arr_begin(json_w *w);
void json_arr_end(json_w *w);
void json_key(json_w *w, const char *key);
/* A key whose value is an array or object, opened. */
void json_karr_begin(json_w *w, const char *key);
void json_kobj_begin(json_w *w, const char *key);

void json_str(json_w *w, const char *s);
/* A string of exactly len bytes (may contain NUL). */
void json_strn(json_w *w, const char *s, size_t len);
void json_u64(json_w *w, uint64_t v);
void json_i64(json_w *w, int64_t v);
/* A finite number with `decimals` digits after the point; NaN and infinities
 * (which JSON cannot express) are written as null. */
void json_double(json_w *w, double v, int decimals);
void json_bool(json_w *w, bool v);
void json_null(json_w *w);

/* Key and value in one call. */
void json_kstr(json_w *w, const char *key, const char *s);
void json_ku64(json_w *w, const char *key, uint64_t v);
/* An identifier or a nanosecond timestamp: a 64-bit value as a decimal string
 * ("1733212800123456789"), because JSON numbers above 2^53 lose digits in
 * most readers (jq, JavaScript). */
void json_ku64s(json_w *w, const char *key, uint64_t v);
void json_ki64(json_w *w, const char *key, int64_t v);
void json_kdouble(json_w *w, const char *key, double v, int decimals);
void json_kbool(json_w *w, const char *key, bool v);
void json_knull(json_w *w, const char *key);
/* v under key when have, else null: a value that does not exist (yet). A
 * NULL string is null already (json_kstr). */
void json_ku64_or_null(json_w *w, const char *key, bool have, uint64_t v);
void json_ku64s_or_null(json_w *w, const char *key, bool have, uint64_t v);
void json_ki64_or_null(json_w *w, const char *key, bool have, int64_t v);

/* The uint64_t field at offset off of a struct, under key. */
typedef struct json_u64_field {
	const char *key;
	size_t off;
} json_u64_field;
/* Each of the n fields of *base in turn, as json_ku64. */
void json_ku64_fields(json_w *w, const void *base, const json_u64_field *fields, size_t n);
/* The same with a whole table (an array, not a pointer). */
#define JSON_KU64_TABLE(w, base, table)                                                            \
	json_ku64_fields((w), (base), (table), sizeof(table) / sizeof((table)[0]))

/* Ends the document with a newline. */
void json_finish(json_w *w);

/* Write s (len bytes) as the inside of a JSON string (no quotes) to f.
 * Exposed for the tests and for `tail --format json`. */
void json_escape(FILE *f, const char *s, size_t len);

#endif
