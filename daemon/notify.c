#include "daemon/notify.h"

#include "daemon/log.h"
#include "core/error_detail.h"

#include <errno.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* The send failed with errno value e. */
static hermes_err failed(int e)
{
	return hm_fail(hm_errno_to_err(e), "sd_notify failed: %s", strerror(e));
}

hermes_err hm_notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || (path[0] != '/' && path[0] != '@'))
		return HERMES_OK;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(path);
	if (len >= sizeof sa.sun_path)
		return failed(ENAMETOOLONG);
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace */
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return failed(errno);
	ssize_t n = sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sa,
			   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	int e = errno;
	close(fd);
	return n < 0 ? failed(e) : HERMES_OK;
}

void hm_notify_ready(const char *status)
{
	char msg[512];
	if (status)
		snprintf(msg, sizeof msg, "READY=1\nSTATUS=%s\n", status);
	else
		snprintf(msg, sizeof msg, "READY=1");
	if (hm_notify(msg) != HERMES_OK)
		hm_dlog(HM_DLOG_WARN, "%s", hermes_last_error_detail());
}
