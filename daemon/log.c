/* The daemons' log lines (see log.h). */
#include "daemon/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const int level_priorities[] = {3, 4, 6, 7};

int hm_dlog_stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	if (!v || !*v)
		return 0;
	char *end;
	errno = 0;
	uintmax_t dev = strtoumax(v, &end, 10);
	if (errno || end == v || *end != ':')
		return 0;
	const char *ino_s = end + 1;
	uintmax_t ino = strtoumax(ino_s, &end, 10);
	if (errno || end == ino_s || *end)
		return 0;
	struct stat st;
	if (fstat(STDERR_FILENO, &st) != 0)
		return 0;
	return (uintmax_t)st.st_dev == dev && (uintmax_t)st.st_ino == ino;
}

size_t hm_dlog_format(char *buf, size_t n, int journal, int level, const char *fmt, va_list ap)
{
	if (n < 2)
		return 0;
	if (level < HM_DLOG_ERROR)
		level = HM_DLOG_ERROR;
	if (level > HM_DLOG_DEBUG)
		level = HM_DLOG_DEBUG;
	int p = journal ? snprintf(buf, n, "<%d>%s: ", level_priorities[level], level_names[level])
			: snprintf(buf, n, "%s[%d]: %s: ", program_invocation_short_name, (int)getpid(),
				   level_names[level]);
	size_t len = p < 0 ? 0 : (size_t)p < n - 1 ? (size_t)p : n - 2;
	int m = vsnprintf(buf + len, n - 1 - len, fmt, ap);
	if (m > 0)
		len += (size_t)m < n - 1 - len ? (size_t)m : n - 2 - len;
	/* One message is one line: a newline inside would start a line the
	 * journal and log parsers take for a message of its own. */
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\n' || buf[i] == '\r')
			buf[i] = ' ';
	buf[len++] = '\n';
	buf[len] = '\0';
	return len;
}

static int max_level = HM_DLOG_DEBUG;

void hm_dlog_set_level(int level)
{
	max_level = level;
}

int hm_dlog_level(void)
{
	return max_level;
}

int hm_dlog_level_named(const char *name)
{
	for (int i = 0; i < (int)(sizeof level_names / sizeof level_names[0]); i++)
		if (!strcmp(name, level_names[i]))
			return i;
	return -1;
}

static int left_out(int level)
{
	return level > max_level || max_level < 0;
}

void hm_dlogv(int level, const char *fmt, va_list ap)
{
	if (left_out(level))
		return;
	/* Checked on each message: cheap next to the write, and right after a
	 * daemon re-opens its stderr. */
	char line[1024];
	size_t len = hm_dlog_format(line, sizeof line, hm_dlog_stderr_is_journal(), level, fmt, ap);
	if (write(STDERR_FILENO, line, len) < 0)
		(void)0;
}

void hm_dlog(int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	hm_dlogv(level, fmt, ap);
	va_end(ap);
}

/* A value that splits as one field without quotes. */
static int bare(const char *v)
{
	if (!*v)
		return 0;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p <= ' ' || *p == 0x7f || *p == '=' || *p == '"' || *p == '\\')
			return 0;
	return 1;
}

void hm_dlog_str(hm_dlog_kv *kv, const char *key, const char *value)
{
	char field[sizeof kv->s];
	size_t n = 0, cap = sizeof field - 1;
	if (!value)
		value = "";
	int k = snprintf(field, sizeof field, " %s=", key);
	if (k < 0 || (size_t)k >= cap)
		return;
	n = (size_t)k;
	if (bare(value)) {
		size_t v = strlen(value);
		if (n + v > cap)
			return;
		memcpy(field + n, value, v);
		n += v;
	} else {
		field[n++] = '"';
		for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
			char esc[5];
			size_t e;
			if (*p == '"' || *p == '\\')
				e = (size_t)snprintf(esc, sizeof esc, "\\%c", *p);
			else if (*p == '\n')
				e = (size_t)snprintf(esc, sizeof esc, "\\n");
			else if (*p == '\r')
				e = (size_t)snprintf(esc, sizeof esc, "\\r");
			else if (*p == '\t')
				e = (size_t)snprintf(esc, sizeof esc, "\\t");
			else if (*p < ' ' || *p == 0x7f)
				e = (size_t)snprintf(esc, sizeof esc, "\\x%02x", *p);
			else
				e = (size_t)snprintf(esc, sizeof esc, "%c", *p);
			if (n + e + 1 > cap)
				return;
			memcpy(field + n, esc, e);
			n += e;
		}
		field[n++] = '"';
	}
	if (kv->len + n >= sizeof kv->s)
		return;
	memcpy(kv->s + kv->len, field, n);
	kv->len += n;
	kv->s[kv->len] = '\0';
}

void hm_dlog_int(hm_dlog_kv *kv, const char *key, long long value)
{
	char v[24];
	snprintf(v, sizeof v, "%lld", value);
	hm_dlog_str(kv, key, v);
}

void hm_dlogv_kv(int level, const hm_dlog_kv *kv, const char *fmt, va_list ap)
{
	if (left_out(level))
		return;
	char msg[1024];
	vsnprintf(msg, sizeof msg, fmt, ap);
	hm_dlog(level, "%s%s", msg, kv->s);
}

void hm_dlogv_ring(int level, const char *ring, const char *fmt, va_list ap)
{
	hm_dlog_kv kv = {0};
	hm_dlog_str(&kv, "ring", ring);
	hm_dlogv_kv(level, &kv, fmt, ap);
}

void hm_dlog_ring(int level, const char *ring, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	hm_dlogv_ring(level, ring, fmt, ap);
	va_end(ap);
}
