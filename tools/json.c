#include "tools/json.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

void json_init(json_w *w, FILE *f)
{
	memset(w, 0, sizeof *w);
	w->f = f;
}

void json_doc_begin(json_w *w, const char *schema, const char *bus)
{
	json_init(w, stdout);
	json_obj_begin(w);
	json_kstr(w, "schema", schema);
	json_kstr(w, "bus", bus);
}

void json_doc_end(json_w *w)
{
	json_obj_end(w);
	json_finish(w);
}

static void indent(json_w *w)
{
	fputc('\n', w->f);
	for (unsigned i = 0; i < w->depth; i++)
		fputs("  ", w->f);
}

/* Everything that starts a value or a key goes through here: a comma if the
 * container already has an item, then a new line at the current depth. A
 * value right after its key stays on the key's line. */
static void item(json_w *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth == 0)
		return;
	if (w->has_items[w->depth])
		fputc(',', w->f);
	w->has_items[w->depth] = true;
	indent(w);
}

static void begin(json_w *w, char c)
{
	item(w);
	fputc(c, w->f);
	if (w->depth + 1 < JSON_MAX_DEPTH)
		w->depth++;
	w->has_items[w->depth] = false;
}

static void end(json_w *w, char c)
{
	bool had = w->has_items[w->depth];
	if (w->depth > 0)
		w->depth--;
	if (had)
		indent(w);
	fputc(c, w->f);
}

void json_obj_begin(json_w *w)
{
	begin(w, '{');
}
void json_obj_end(json_w *w)
{
	end(w, '}');
}
void json_arr_begin(json_w *w)
{
	begin(w, '[');
}
void json_arr_end(json_w *w)
{
	end(w, ']');
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when the
 * bytes there are not valid UTF-8 (overlong forms, surrogates and code points
 * above U+10FFFF included). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void json_escape(FILE *f, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	for (size_t i = 0; i < n;) {
		unsigned c = s[i];
		switch (c) {
		case '"':
			fputs("\\\"", f);
			i++;
			continue;
		case '\\':
			fputs("\\\\", f);
			i++;
			continue;
		case '\n':
			fputs("\\n", f);
			i++;
			continue;
		case '\r':
			fputs("\\r", f);
			i++;
			continue;
		case '\t':
			fputs("\\t", f);
			i++;
			continue;
		case '\b':
			fputs("\\b", f);
			i++;
			continue;
		case '\f':
			fputs("\\f", f);
			i++;
			continue;
		default:
			break;
		}
		if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c);
			i++;
			continue;
		}
		size_t len = utf8_len(s + i, n - i);
		if (len == 0) {
			/* Not UTF-8: a JSON document must be, so the byte becomes
			 * U+FFFD. Names are display data; nothing round-trips
			 * through these strings (message payloads use base64). */
			fputs("\\ufffd", f);
			i++;
			continue;
		}
		fwrite(s + i, 1, len, f);
		i += len;
	}
}

void json_key(json_w *w, const char *key)
{
	item(w);
	fputc('"', w->f);
	json_escape(w->f, key, strlen(key));
	fputs("\": ", w->f);
	w->after_key = true;
}

void json_karr_begin(json_w *w, const char *key)
{
	json_key(w, key);
	json_arr_begin(w);
}

void json_kobj_begin(json_w *w, const char *key)
{
	json_key(w, key);
	json_obj_begin(w);
}

void json_strn(json_w *w, const char *s, size_t len)
{
	item(w);
	fputc('"', w->f);
	json_escape(w->f, s, len);
	fputc('"', w->f);
}

void json_str(json_w *w, const char *s)
{
	if (!s) {
		json_null(w);
		return;
	}
	json_strn(w, s, strlen(s));
}

void json_u64(json_w *w, uint64_t v)
{
	item(w);
	fprintf(w->f, "%llu", (unsigned long long)v);
}

void json_i64(json_w *w, int64_t v)
{
	item(w);
	fprintf(w->f, "%lld", (long long)v);
}

void json_double(json_w *w, double v, int decimals)
{
	if (!isfinite(v)) {
		json_null(w);
		return;
	}
	item(w);
	/* %f never writes an exponent, and hermes-ctl never calls setlocale,
	 * so the decimal point is '.': always a valid JSON number. */
	fprintf(w->f, "%.*f", decimals, v);
}

void json_bool(json_w *w, bool v)
{
	item(w);
	fputs(v ? "true" : "false", w->f);
}

void json_null(json_w *w)
{
	item(w);
	fputs("null", w->f);
}

void json_kstr(json_w *w, const char *key, const char *s)
{
	json_key(w, key);
	json_str(w, s);
}
void json_ku64(json_w *w, const char *key, uint64_t v)
{
	json_key(w, key);
	json_u64(w, v);
}
void json_ku64_or_null(json_w *w, const char *key, bool have, uint64_t v)
{
	have ? json_ku64(w, key, v) : json_knull(w, key);
}
void json_ku64s_or_null(json_w *w, const char *key, bool have, uint64_t v)
{
	have ? json_ku64s(w, key, v) : json_knull(w, key);
}
void json_ki64_or_null(json_w *w, const char *key, bool have, int64_t v)
{
	have ? json_ki64(w, key, v) : json_knull(w, key);
}
void json_ku64_fields(json_w *w, const void *base, const json_u64_field *fields, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v;
		memcpy(&v, (const char *)base + fields[i].off, sizeof v);
		json_ku64(w, fields[i].key, v);
	}
}
void json_ku64s(json_w *w, const char *key, uint64_t v)
{
	char buf[24];
	snprintf(buf, sizeof buf, "%" PRIu64, v);
	json_kstr(w, key, buf);
}
void json_ki64(json_w *w, const char *key, int64_t v)
{
	json_key(w, key);
	json_i64(w, v);
}
void json_kdouble(json_w *w, const char *key, double v, int decimals)
{
	json_key(w, key);
	json_double(w, v, decimals);
}
void json_kbool(json_w *w, const char *key, bool v)
{
	json_key(w, key);
	json_bool(w, v);
}
void json_knull(json_w *w, const char *key)
{
	json_key(w, key);
	json_null(w);
}

void json_finish(json_w *w)
{
	fputc('\n', w->f);
}
