#include "shm/control.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/futex.h"

int hm_ctl_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int r;
	do
		r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
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
	int fd = hm_ctl_connect(path);
	if (fd < 0)
		return 0;
	struct ucred cred;
	socklen_t len = sizeof cred;
	pid_t pid = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ? cred.pid : 0;
	close(fd);
	return pid;
}
