#include "tools/ctl_fmt.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/hex.h"

const char *fmt_bytes(char *buf, size_t len, double v)
{
	static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	unsigned u = 0;
	while (v >= 1024.0 && u + 1 < sizeof units / sizeof units[0]) {
		v /= 1024.0;
		u++;
	}
	if (u == 0 || v >= 100.0 || v == (double)(uint64_t)v)
		snprintf(buf, len, "%.0f %s", v, units[u]);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

const char *fmt_count(char *buf, size_t len, double v)
{
	static const char *units[] = {"", "k", "M", "G", "T"};
	unsigned u = 0;
	while (v >= 1000.0 && u + 1 < sizeof units / sizeof units[0]) {
		v /= 1000.0;
		u++;
	}
	if (u == 0 && v == (double)(uint64_t)v)
		snprintf(buf, len, "%.0f", v);
	else if (u == 0 || v >= 100.0)
		snprintf(buf, len, "%.0f%s", v, units[u]);
	else
		snprintf(buf, len, "%.1f%s", v, units[u]);
	return buf;
}

void table_init(table *t, const char *align)
{
	memset(t, 0, sizeof *t);
	t->ncols = (unsigned)strlen(align);
	if (t->ncols > TABLE_MAX_COLS)
		t->ncols = TABLE_MAX_COLS;
	memcpy(t->align, align, t->ncols);
}

void table_row(table *t, ...)
{
	if (t->nrows == t->cap) {
		unsigned cap = t->cap ? t->cap * 2 : 16;
		void *p = realloc(t->cells, cap * sizeof *t->cells);
		if (!p)
			return; /* out of memory: the row is dropped, never a crash */
		t->cells = p;
		t->cap = cap;
	}
	va_list ap;
	va_start(ap, t);
	for (unsigned c = 0; c < t->ncols; c++) {
		const char *s = va_arg(ap, const char *);
		snprintf(t->cells[t->nrows][c], TABLE_CELL, "%s", s ? s : "");
	}
	va_end(ap);
	t->nrows++;
}

static void table_print(const table *t, FILE *f, unsigned indent, unsigned max_width)
{
	size_t width[TABLE_MAX_COLS] = {0};
	for (unsigned r = 0; r < t->nrows; r++)
		for (unsigned c = 0; c < t->ncols; c++) {
			size_t n = strlen(t->cells[r][c]);
			if (n > width[c])
				width[c] = n;
		}
	char line[1024];
	for (unsigned r = 0; r < t->nrows; r++) {
		size_t used = 0;
		int n = snprintf(line, sizeof line, "%*s", (int)indent, "");
		used = n > 0 ? (size_t)n : 0;
		for (unsigned c = 0; c < t->ncols && used < sizeof line; c++) {
			const char *cell = t->cells[r][c];
			bool last = c + 1 == t->ncols;
			if (t->align[c] == 'r')
				n = snprintf(line + used, sizeof line - used, "%*s", (int)width[c], cell);
			else if (last)
				n = snprintf(line + used, sizeof line - used, "%s", cell);
			else
				n = snprintf(line + used, sizeof line - used, "%-*s", (int)width[c], cell);
			used += n > 0 ? (size_t)n : 0;
			if (!last && used < sizeof line)
				used += (size_t)snprintf(line + used, sizeof line - used, "  ");
		}
		if (used >= sizeof line)
			used = sizeof line - 1;
		while (used > 0 && line[used - 1] == ' ')
			used--;
		if (max_width && used > max_width)
			used = max_width;
		fprintf(f, "%.*s\n", (int)used, line);
	}
}

static void table_fini(table *t)
{
	free(t->cells);
	t->cells = NULL;
	t->nrows = t->cap = 0;
}

void table_flush(table *t, FILE *f, unsigned indent, unsigned max_width)
{
	table_print(t, f, indent, max_width);
	table_fini(t);
}

void fmt_escaped(FILE *f, const uint8_t *d, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t c = d[i];
		if (c == '\\')
			fputs("\\\\", f);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\r')
			fputs("\\r", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c >= 0x20 && c < 0x7f)
			fputc(c, f);
		else
			fprintf(f, "\\x%02x", c);
	}
}

void fmt_hex(FILE *f, const uint8_t *d, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		fputc(digits[d[i] >> 4], f);
		fputc(digits[d[i] & 15], f);
	}
}

void fmt_base64(FILE *f, const uint8_t *d, size_t len)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i = 0;
	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
		fputc(tab[v >> 18], f);
		fputc(tab[(v >> 12) & 63], f);
		fputc(tab[(v >> 6) & 63], f);
		fputc(tab[v & 63], f);
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)d[i] << 16;
		fputc(tab[v >> 18], f);
		fputc(tab[(v >> 12) & 63], f);
		fputs("==", f);
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8;
		fputc(tab[v >> 18], f);
		fputc(tab[(v >> 12) & 63], f);
		fputc(tab[(v >> 6) & 63], f);
		fputc('=', f);
	}
}

long parse_hex(const char *s, size_t len, uint8_t *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < len;) {
		if (s[i] == ' ' || s[i] == '\t') {
			i++;
			continue;
		}
		if (i + 1 >= len)
			return -1;
		int hi = hm_hex_digit((unsigned char)s[i]), lo = hm_hex_digit((unsigned char)s[i + 1]);
		if (hi < 0 || lo < 0 || n == cap)
			return -1;
		out[n++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	return (long)n;
}

int parse_choice(const char *s, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s, names[i]))
			return (int)i;
	return -1;
}

const char *fmt_name_of(uint64_t v, const char *const *names, size_t n)
{
	return v < n && names[v] ? names[v] : "?";
}

bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	if (!s || !isdigit((unsigned char)*s))
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}
