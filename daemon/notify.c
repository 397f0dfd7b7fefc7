#include "daemon/notify.h"

#include "daemon/log.h"

#include <errno.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int hm_notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || (path[0] != '/' && path[0] != '@'))
		return 0;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(path);
	if (len >= sizeof sa.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace */
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	ssize_t n = sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sa,
			   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	int e = errno;
	close(fd);
	errno = e;
	return n < 0 ? -1 : 0;
}

void hm_notify_ready(const char *status)
{
	char msg[512];
	if (status)
		snprintf(msg, sizeof msg, "READY=1\nSTATUS=%s\n", status);
	else
		snprintf(msg, sizeof msg, "READY=1");
	if (hm_notify(msg) != 0)
		hm_dlog(HM_DLOG_WARN, "sd_notify failed: %s", strerror(errno));
}
