#include "shm/control.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/error_detail.h"
#include "core/futex.h"

/* No supervisor at path, and why (errno value e). */
static hermes_err unreachable(const char *path, int e)
{
	return hm_fail(HERMES_ENOSUPERVISOR, "cannot connect to %s: %s", path, strerror(e));
}

hermes_err hm_ctl_connect(const char *path, int *fd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	*fd = -1;
	if (strlen(path) >= sizeof sa.sun_path)
		return unreachable(path, ENAMETOOLONG);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return unreachable(path, errno);
	int r;
	do
		r = connect(s, (struct sockaddr *)&sa, sizeof sa);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		hermes_err err = unreachable(path, errno);
		close(s);
		return err;
	}
	*fd = s;
	return HERMES_OK;
}

hermes_err hm_ctl_call(int fd, const hm_ctl_req *req, hm_ctl_resp *resp, int timeout_ms)
{
	if (fd < 0)
		return HERMES_ENOSUPERVISOR;
	ssize_t n;
	do
		n = send(fd, req, sizeof *req, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof *req)
		return HERMES_ENOSUPERVISOR;
	uint64_t deadline = hm_deadline_after((int64_t)timeout_ms * 1000000);
	for (;;) {
		uint64_t now = hm_now_ns();
		if (now >= deadline)
			return HERMES_ETIMEDOUT;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, (int)((deadline - now) / 1000000) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		memset(resp, 0, sizeof *resp);
		n = recv(fd, resp, sizeof *resp, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < (ssize_t)offsetof(hm_ctl_resp, u) || resp->magic != HM_CTL_MAGIC ||
		    resp->op != req->op)
			return HERMES_ENOSUPERVISOR;
		resp->detail[sizeof resp->detail - 1] = '\0';
		return HERMES_OK;
	}
}

pid_t hm_ctl_peer_pid(const char *path)
{
	int fd;
	if (hm_ctl_connect(path, &fd) != HERMES_OK)
		return 0;
	struct ucred cred;
	socklen_t len = sizeof cred;
	pid_t pid = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ? cred.pid : 0;
	close(fd);
	return pid;
}
