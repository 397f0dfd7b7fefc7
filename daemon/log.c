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

void hm_dlogv(int level, const char *fmt, va_list ap)
{
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
