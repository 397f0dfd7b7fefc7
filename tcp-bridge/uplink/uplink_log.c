/* Logging for hermes-nats: the daemons' one format (daemon/log.h), with levels. */
#include <stdarg.h>

#include "daemon/log.h"
#include "tcp-bridge/uplink/uplink.h"

int hn_log_level = HN_LOG_INFO;

void hn_log(int level, const char *fmt, ...)
{
	if (level > hn_log_level)
		return;
	va_list ap;
	va_start(ap, fmt);
	hm_dlogv(level, fmt, ap);
	va_end(ap);
}

void hn_log_ring(int level, const char *ring, const char *fmt, ...)
{
	if (level > hn_log_level)
		return;
	va_list ap;
	va_start(ap, fmt);
	hm_dlogv_ring(level, ring, fmt, ap);
	va_end(ap);
}
