/* Strict checkers for hermes-ctl's machine-readable output, written
 * independently of the code they check: a small RFC 8259 JSON parser that
 * builds a tree (so tests can compare numbers), and a line checker for the
 * Prometheus text exposition format. */
#ifndef HT_TOOLS_CHECKERS_H
#define HT_TOOLS_CHECKERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype;

typedef struct jv {
	jtype t;
	bool b;
	char *text; /* J_NUM: the number as written; J_STR: the decoded bytes */
	size_t len; /* J_STR: decoded length */
	size_t n;   /* J_ARR, J_OBJ: item count */
	struct jv **items;
	char **keys; /* J_OBJ */
} jv;

/* Parse exactly one JSON document (surrounding whitespace allowed). Returns
 * NULL and a message in err (errlen bytes) when the text is not strict JSON:
 * trailing commas, control characters in strings, leading zeros, bad escapes,
 * duplicate keys and trailing garbage are all refused. */
jv *jparse(const char *text, size_t len, char *err, size_t errlen);
void jfree(jv *v);

/* Member `key` of an object, or NULL. */
const jv *jget(const jv *obj, const char *key);
/* Walk a path of keys (NULL-terminated varargs); NULL if any is missing. */
const jv *jpath(const jv *v, ...);
/* An integer number as uint64 (false if v is not a non-negative integer). */
bool ju64(const jv *v, uint64_t *out);
/* A number as double. */
bool jnum(const jv *v, double *out);

/* The same, failing the test (cmocka) instead of returning false: the parsed
 * document of text (free with jfree), and member key as an unsigned integer. */
jv *jparse_or_fail(const char *text);
uint64_t ju64_at(const jv *v, const char *key);

/* Check a Prometheus text exposition: every line a "# HELP"/"# TYPE" comment
 * or `name{label="value",...} value`, each family's samples after its TYPE
 * line and contiguous. Returns false with the offending line in err. */
bool prom_check(const char *text, char *err, size_t errlen);

/* The value of the sample whose name and label set match exactly
 * (labels given as `bus="x",ring="y"`, in output order). */
bool prom_value(const char *text, const char *name, const char *labels, double *out);

/* Standard base64 decode; returns the byte count or -1. */
long b64_decode(const char *s, size_t len, uint8_t *out, size_t cap);

#endif
