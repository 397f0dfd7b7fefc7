/* The counters file (see stats.h). */
#include "tcp-bridge/bridge/stats.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error_detail.h"

/* Create dir/hermes-bridge.<bus>.<port> into path and map it into *p. */
static hermes_err map_file(const char *dir, const char *bus, unsigned port, unsigned mode,
			   char *path, size_t pathlen, void **p)
{
	*p = MAP_FAILED;
	snprintf(path, pathlen, "%s/hermes-bridge.%s.%u", dir, bus, port);
	/* O_NOFOLLOW: never write through a link someone planted in a shared
	 * directory. A stale file of a dead bridge is reused. */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, mode & 0775);
	if (fd >= 0 && fchmod(fd, mode & 0775) == 0 && ftruncate(fd, 0) == 0 &&
	    ftruncate(fd, sizeof(hm_bridge_stats)) == 0)
		*p = mmap(NULL, sizeof(hm_bridge_stats), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (*p != MAP_FAILED) {
		close(fd);
		return HERMES_OK;
	}
	hermes_err err = hm_fail(hm_errno_to_err(errno), "counters file in %s: %s", dir, strerror(errno));
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	path[0] = '\0';
	return err;
}

hermes_err hm_stats_open(const char *dir, const char *bus, unsigned port, unsigned mode,
			 hm_bridge_stats **out, char *path, size_t pathlen)
{
	path[0] = '\0';
	void *p = MAP_FAILED;
	hermes_err err = HERMES_OK;
	if (dir && dir[0])
		err = map_file(dir, bus, port, mode, path, pathlen, &p);
	if (p == MAP_FAILED)
		p = mmap(NULL, sizeof(hm_bridge_stats), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		*out = NULL;
		return hm_fail(hm_errno_to_err(errno), "counters in memory: %s", strerror(errno));
	}
	hm_bridge_stats *s = p;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	s->h.version = HM_BRIDGE_STATS_VERSION;
	s->h.size = sizeof *s;
	s->h.counters_offset = offsetof(hm_bridge_stats, c);
	s->h.links_offset = offsetof(hm_bridge_stats, links);
	s->h.link_size = sizeof s->links[0];
	s->h.max_links = HM_BRIDGE_STATS_LINKS;
	s->h.pid = (uint64_t)getpid();
	s->h.start_realtime_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	s->h.listen_port = port;
	snprintf(s->h.bus, sizeof s->h.bus, "%s", bus);
	*out = s;
	return err;
}

void hm_stats_close(hm_bridge_stats *s, const char *path)
{
	if (path && path[0])
		unlink(path);
	if (s)
		munmap(s, sizeof *s);
}
