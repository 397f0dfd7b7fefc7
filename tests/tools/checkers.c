#include "tests/tools/checkers.h"

#include "tests/support/testing.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- JSON ------------------------------------------------------------------ */

typedef struct jp {
	const char *s, *end;
	char *err;
	size_t errlen;
	bool failed;
	unsigned depth;
} jp;

static void jfail(jp *p, const char *what)
{
	if (p->failed)
		return;
	p->failed = true;
	size_t at = (size_t)(p->end - p->s);
	snprintf(p->err, p->errlen, "%s (with %zu bytes left: '%.20s')", what, at, p->s);
}

static void ws(jp *p)
{
	while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r'))
		p->s++;
}

static jv *node(jtype t)
{
	jv *v = calloc(1, sizeof *v);
	if (v)
		v->t = t;
	return v;
}

static void push(jv *v, jv *item, char *key)
{
	v->items = realloc(v->items, (v->n + 1) * sizeof *v->items);
	if (v->t == J_OBJ)
		v->keys = realloc(v->keys, (v->n + 1) * sizeof *v->keys);
	v->items[v->n] = item;
	if (v->t == J_OBJ)
		v->keys[v->n] = key;
	v->n++;
}

static void put_utf8(char **buf, size_t *len, unsigned cp)
{
	char tmp[4];
	size_t n;
	if (cp < 0x80) {
		tmp[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		tmp[0] = (char)(0xc0 | cp >> 6);
		tmp[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		tmp[0] = (char)(0xe0 | cp >> 12);
		tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		tmp[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		tmp[0] = (char)(0xf0 | cp >> 18);
		tmp[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		tmp[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		tmp[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	memcpy(*buf + *len, tmp, n);
	*len += n;
}

static int hex4(jp *p)
{
	if (p->end - p->s < 4)
		return -1;
	int v = 0;
	for (int i = 0; i < 4; i++) {
		int c = (unsigned char)p->s[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v * 16 + d;
	}
	p->s += 4;
	return v;
}

/* The byte a one-letter escape (after its backslash) stands for; 0 when e
 * is not one. */
static char simple_escape(char e)
{
	static const char pairs[][2] = {{'"', '"'}, {'\\', '\\'}, {'/', '/'}, {'b', '\b'},
					{'f', '\f'}, {'n', '\n'}, {'r', '\r'}, {'t', '\t'}};
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
		if (pairs[i][0] == e)
			return pairs[i][1];
	return 0;
}

/* A \u escape after its "\u", a surrogate pair joined into one code point;
 * -1 (and jfail saying why) when it is not a valid one. */
static int unicode_escape(jp *p)
{
	int cp = hex4(p);
	if (cp < 0) {
		jfail(p, "bad \\u escape");
		return -1;
	}
	if (cp >= 0xdc00 && cp <= 0xdfff) {
		jfail(p, "lone low surrogate");
		return -1;
	}
	if (cp < 0xd800 || cp > 0xdbff)
		return cp;
	if (p->end - p->s < 6 || p->s[0] != '\\' || p->s[1] != 'u') {
		jfail(p, "lone high surrogate");
		return -1;
	}
	p->s += 2;
	int lo = hex4(p);
	if (lo < 0xdc00 || lo > 0xdfff) {
		jfail(p, "bad low surrogate");
		return -1;
	}
	return 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
}

/* A string's decoded bytes (NUL-terminated copy; *out_len excludes it). */
static char *jstring(jp *p, size_t *out_len)
{
	if (p->s >= p->end || *p->s != '"') {
		jfail(p, "expected a string");
		return NULL;
	}
	p->s++;
	/* Decoding never makes a string longer than its escaped form. */
	char *buf = malloc((size_t)(p->end - p->s) + 1);
	size_t len = 0;
	while (p->s < p->end && *p->s != '"') {
		unsigned char c = (unsigned char)*p->s;
		if (c < 0x20) {
			jfail(p, "control character in a string");
			free(buf);
			return NULL;
		}
		if (c != '\\') {
			buf[len++] = (char)c;
			p->s++;
			continue;
		}
		p->s++;
		if (p->s >= p->end)
			break;
		char e = *p->s++, byte = simple_escape(e);
		if (byte) {
			buf[len++] = byte;
			continue;
		}
		if (e != 'u') {
			jfail(p, "bad escape");
			free(buf);
			return NULL;
		}
		int cp = unicode_escape(p);
		if (cp < 0) {
			free(buf);
			return NULL;
		}
		put_utf8(&buf, &len, (unsigned)cp);
	}
	if (p->s >= p->end) {
		jfail(p, "unterminated string");
		free(buf);
		return NULL;
	}
	p->s++;
	buf[len] = '\0';
	*out_len = len;
	return buf;
}

static jv *jvalue(jp *p);

/* One or more digits, skipped; false (and jfail(why)) when there is none. */
static bool digits(jp *p, const char *why)
{
	if (p->s >= p->end || !isdigit((unsigned char)*p->s)) {
		jfail(p, why);
		return false;
	}
	while (p->s < p->end && isdigit((unsigned char)*p->s))
		p->s++;
	return true;
}

static jv *jnumber(jp *p)
{
	const char *start = p->s;
	if (p->s < p->end && *p->s == '-')
		p->s++;
	if (p->s < p->end && *p->s == '0' && p->s + 1 < p->end && isdigit((unsigned char)p->s[1])) {
		jfail(p, "leading zero");
		return NULL;
	}
	if (!digits(p, "bad number"))
		return NULL;
	if (p->s < p->end && *p->s == '.') {
		p->s++;
		if (!digits(p, "digits must follow '.'"))
			return NULL;
	}
	if (p->s < p->end && (*p->s == 'e' || *p->s == 'E')) {
		p->s++;
		if (p->s < p->end && (*p->s == '+' || *p->s == '-'))
			p->s++;
		if (!digits(p, "bad exponent"))
			return NULL;
	}
	jv *v = node(J_NUM);
	size_t n = (size_t)(p->s - start);
	v->text = malloc(n + 1);
	memcpy(v->text, start, n);
	v->text[n] = '\0';
	return v;
}

static bool literal(jp *p, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(p->end - p->s) >= n && !memcmp(p->s, word, n)) {
		p->s += n;
		return true;
	}
	return false;
}

static jv *jcontainer(jp *p, bool obj)
{
	jv *v = node(obj ? J_OBJ : J_ARR);
	p->s++;
	if (++p->depth > 64) {
		jfail(p, "nested too deep");
		return v;
	}
	ws(p);
	if (p->s < p->end && *p->s == (obj ? '}' : ']')) {
		p->s++;
		p->depth--;
		return v;
	}
	for (;;) {
		char *key = NULL;
		if (obj) {
			ws(p);
			size_t klen;
			key = jstring(p, &klen);
			if (!key)
				return v;
			for (size_t i = 0; i < v->n; i++)
				if (!strcmp(v->keys[i], key)) {
					jfail(p, "duplicate key");
					free(key);
					return v;
				}
			ws(p);
			if (p->s >= p->end || *p->s != ':') {
				jfail(p, "expected ':'");
				free(key);
				return v;
			}
			p->s++;
		}
		jv *item = jvalue(p);
		if (!item) {
			free(key);
			return v;
		}
		push(v, item, key);
		ws(p);
		if (p->s < p->end && *p->s == ',') {
			p->s++;
			continue;
		}
		if (p->s < p->end && *p->s == (obj ? '}' : ']')) {
			p->s++;
			p->depth--;
			return v;
		}
		jfail(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
		return v;
	}
}

static jv *jvalue(jp *p)
{
	ws(p);
	if (p->s >= p->end) {
		jfail(p, "unexpected end");
		return NULL;
	}
	switch (*p->s) {
	case '{':
		return jcontainer(p, true);
	case '[':
		return jcontainer(p, false);
	case '"': {
		size_t len;
		char *s = jstring(p, &len);
		if (!s)
			return NULL;
		jv *v = node(J_STR);
		v->text = s;
		v->len = len;
		return v;
	}
	default:
		break;
	}
	if (literal(p, "true") || literal(p, "false")) {
		jv *v = node(J_BOOL);
		v->b = p->s[-1] == 'e' && p->s[-2] == 'u';
		return v;
	}
	if (literal(p, "null"))
		return node(J_NULL);
	return jnumber(p);
}

jv *jparse(const char *text, size_t len, char *err, size_t errlen)
{
	jp p = {.s = text, .end = text + len, .err = err, .errlen = errlen};
	err[0] = '\0';
	jv *v = jvalue(&p);
	ws(&p);
	if (!p.failed && p.s != p.end)
		jfail(&p, "trailing characters");
	if (p.failed) {
		jfree(v);
		return NULL;
	}
	return v;
}

void jfree(jv *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++) {
		jfree(v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->text);
	free(v);
}

const jv *jget(const jv *obj, const char *key)
{
	if (!obj || obj->t != J_OBJ)
		return NULL;
	for (size_t i = 0; i < obj->n; i++)
		if (!strcmp(obj->keys[i], key))
			return obj->items[i];
	return NULL;
}

const jv *jpath(const jv *v, ...)
{
	va_list ap;
	va_start(ap, v);
	const char *k;
	while (v && (k = va_arg(ap, const char *)) != NULL)
		v = jget(v, k);
	va_end(ap);
	return v;
}

bool ju64(const jv *v, uint64_t *out)
{
	if (!v || v->t != J_NUM || !isdigit((unsigned char)v->text[0]) || strpbrk(v->text, ".eE"))
		return false;
	*out = strtoull(v->text, NULL, 10);
	return true;
}

bool jnum(const jv *v, double *out)
{
	if (!v || v->t != J_NUM)
		return false;
	*out = strtod(v->text, NULL);
	return true;
}

/* ---- Prometheus text format ------------------------------------------------- */

static const char *metric_name(const char *s)
{
	if (!(isalpha((unsigned char)*s) || *s == '_' || *s == ':'))
		return NULL;
	s++;
	while (isalnum((unsigned char)*s) || *s == '_' || *s == ':')
		s++;
	return s;
}

static const char *label_name(const char *s)
{
	if (!(isalpha((unsigned char)*s) || *s == '_'))
		return NULL;
	s++;
	while (isalnum((unsigned char)*s) || *s == '_')
		s++;
	return s;
}

/* `{a="x",b="y"}` from s; returns the character after '}' or NULL. */
static const char *labels(const char *s)
{
	if (*s != '{')
		return NULL;
	s++;
	while (*s != '}') {
		const char *e = label_name(s);
		if (!e || e[0] != '=' || e[1] != '"')
			return NULL;
		s = e + 2;
		while (*s && *s != '"') {
			if (*s == '\\') {
				if (s[1] != '\\' && s[1] != '"' && s[1] != 'n')
					return NULL;
				s++;
			}
			if (*s == '\n')
				return NULL;
			s++;
		}
		if (*s != '"')
			return NULL;
		s++;
		if (*s == ',')
			s++;
		else if (*s != '}')
			return NULL;
	}
	return s + 1;
}

static bool value_ok(const char *s)
{
	if (!strcmp(s, "NaN") || !strcmp(s, "+Inf") || !strcmp(s, "-Inf"))
		return true;
	char *end;
	strtod(s, &end);
	if (end == s)
		return false;
	if (*end == ' ') { /* an optional timestamp */
		long long ts = strtoll(end + 1, &end, 10);
		(void)ts;
	}
	return *end == '\0';
}

bool prom_check(const char *text, char *err, size_t errlen)
{
	char typed[256][128];
	unsigned ntyped = 0;
	char current[128] = "";
	char closed[256][128];
	unsigned nclosed = 0;
	const char *line = text;
	unsigned lineno = 0;
	while (*line) {
		lineno++;
		const char *nl = strchr(line, '\n');
		if (!nl) {
			snprintf(err, errlen, "line %u: no final newline", lineno);
			return false;
		}
		char buf[1024];
		size_t n = (size_t)(nl - line);
		if (n >= sizeof buf) {
			snprintf(err, errlen, "line %u: too long", lineno);
			return false;
		}
		memcpy(buf, line, n);
		buf[n] = '\0';
		line = nl + 1;
		if (buf[0] == '#') {
			char kind[8], name[128], rest[512] = "";
			if (sscanf(buf, "# %7s %127s %511[^\n]", kind, name, rest) >= 2 &&
			    (!strcmp(kind, "HELP") || !strcmp(kind, "TYPE"))) {
				const char *e = metric_name(name);
				if (!e || *e) {
					snprintf(err, errlen, "line %u: bad metric name: %s", lineno, buf);
					return false;
				}
				if (!strcmp(kind, "TYPE")) {
					if (strcmp(rest, "counter") && strcmp(rest, "gauge") &&
					    strcmp(rest, "untyped") && strcmp(rest, "summary") &&
					    strcmp(rest, "histogram")) {
						snprintf(err, errlen, "line %u: bad type: %s", lineno, buf);
						return false;
					}
					for (unsigned i = 0; i < ntyped; i++)
						if (!strcmp(typed[i], name)) {
							snprintf(err, errlen, "line %u: second TYPE for %s",
								 lineno, name);
							return false;
						}
					if (ntyped < 256)
						snprintf(typed[ntyped++], sizeof typed[0], "%s", name);
				}
			}
			continue; /* other comments are allowed */
		}
		const char *e = metric_name(buf);
		if (!e) {
			snprintf(err, errlen, "line %u: not a sample: %s", lineno, buf);
			return false;
		}
		char name[128];
		snprintf(name, sizeof name, "%.*s", (int)(e - buf), buf);
		if (*e == '{' && !(e = labels(e))) {
			snprintf(err, errlen, "line %u: bad labels: %s", lineno, buf);
			return false;
		}
		if (*e != ' ' || !value_ok(e + 1)) {
			snprintf(err, errlen, "line %u: bad value: %s", lineno, buf);
			return false;
		}
		bool has_type = false;
		for (unsigned i = 0; i < ntyped; i++)
			has_type |= !strcmp(typed[i], name);
		if (!has_type) {
			snprintf(err, errlen, "line %u: sample before its TYPE: %s", lineno, buf);
			return false;
		}
		if (strcmp(current, name)) {
			for (unsigned i = 0; i < nclosed; i++)
				if (!strcmp(closed[i], name)) {
					snprintf(err, errlen, "line %u: family %s is not contiguous",
						 lineno, name);
					return false;
				}
			if (current[0] && nclosed < 256)
				snprintf(closed[nclosed++], sizeof closed[0], "%s", current);
			snprintf(current, sizeof current, "%s", name);
		}
	}
	return true;
}

bool prom_value(const char *text, const char *name, const char *lbls, double *out)
{
	char want[512];
	snprintf(want, sizeof want, "%s{%s} ", name, lbls);
	size_t n = strlen(want);
	for (const char *line = text; line && *line;) {
		if (!strncmp(line, want, n)) {
			*out = strtod(line + n, NULL);
			return true;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return false;
}

/* ---- base64 ------------------------------------------------------------------ */

/* A base64 digit's value: its place in the alphabet, or -1 (NUL included). */
static int b64val(int c)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *at = c ? strchr(alphabet, c) : NULL;
	return at ? (int)(at - alphabet) : -1;
}

long b64_decode(const char *s, size_t len, uint8_t *out, size_t cap)
{
	if (len % 4)
		return -1;
	size_t n = 0;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		int pad = 0;
		for (int k = 0; k < 4; k++) {
			if (s[i + k] == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
			} else {
				if (pad || (v[k] = b64val((unsigned char)s[i + k])) < 0)
					return -1;
			}
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
			     (uint32_t)v[3];
		uint8_t bytes[3] = {(uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w};
		for (int k = 0; k < 3 - pad; k++) {
			if (n == cap)
				return -1;
			out[n++] = bytes[k];
		}
	}
	return (long)n;
}

jv *jparse_or_fail(const char *text)
{
	char err[256];
	jv *v = jparse(text, strlen(text), err, sizeof err);
	if (!v)
		fail_msg("not JSON: %s\n%s", err, text);
	return v;
}

uint64_t ju64_at(const jv *v, const char *key)
{
	uint64_t x = 0;
	if (!ju64(jget(v, key), &x))
		fail_msg("'%s' is not an unsigned integer", key);
	return x;
}
