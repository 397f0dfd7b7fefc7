/* Logging for hermes-nats: stderr, one line per write, with levels. */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "tcp-bridge/uplink/uplink.h"

int hn_log_level = HN_LOG_INFO;

void hn_log(int level, const char *fmt, ...)
{
	static const char *names[] = {"error", "warn", "info", "debug"};
	if (level > hn_log_level)
		return;
	char buf[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	/* One write per line so lines of several threads and processes do not mix. */
	char line[700];
	int n = snprintf(line, sizeof line, "hermes-nats[%d]: %s: %s\n", (int)getpid(), names[level], buf);
	if (n > 0 && write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1) < 0)
		(void)0;
}
