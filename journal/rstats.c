/* The recorder's counters file. See rstats.h. */
#include "journal/rstats.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void *map_stats(const char *dir, bool writable)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof path, "%s/" HJ_STATS_FILE, dir);
	int fd = open(path, writable ? O_RDWR | O_CREAT | O_CLOEXEC : O_RDONLY | O_CLOEXEC, 0640);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) != 0 || (!writable && st.st_size != (off_t)sizeof(hj_stats)) ||
	    (writable && st.st_size != (off_t)sizeof(hj_stats) && ftruncate(fd, 0) != 0) ||
	    (writable && ftruncate(fd, sizeof(hj_stats)) != 0)) {
		close(fd);
		errno = errno ? errno : EINVAL;
		return NULL;
	}
	void *p = mmap(NULL, sizeof(hj_stats), PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

hj_stats *hj_stats_open(const char *dir)
{
	hj_stats *s = map_stats(dir, true);
	if (s && (s->magic != HJ_STATS_MAGIC || s->version != HJ_STATS_VERSION)) {
		memset(s, 0, sizeof *s);
		s->version = HJ_STATS_VERSION;
		s->magic = HJ_STATS_MAGIC;
	}
	return s;
}

const hj_stats *hj_stats_open_readonly(const char *dir)
{
	const hj_stats *s = map_stats(dir, false);
	if (s && (s->magic != HJ_STATS_MAGIC || s->version != HJ_STATS_VERSION)) {
		hj_stats_close(s);
		errno = EINVAL;
		return NULL;
	}
	return s;
}

void hj_stats_close(const hj_stats *s)
{
	if (s)
		munmap((void *)s, sizeof *s);
}

void hj_stats_error(hj_stats *s, const char *text)
{
	uint64_t q = hm_load_relaxed_u64(&s->text_seq);
	/* Seqlock writer: odd while the text changes. The release fence orders
	 * the odd store before the text stores, the final release store orders
	 * them before the even value (pairs with the reader's acquire loads). */
	hm_store_relaxed_u64(&s->text_seq, q + 1);
	hm_fence_release();
	snprintf(s->last_error, sizeof s->last_error, "%s", text);
	hm_store_release_u64(&s->text_seq, q + 2);
}

void hj_stats_error_text(const hj_stats *s, char *buf)
{
	for (int tries = 0; tries < 100; tries++) {
		/* Acquire pairs with the writer's final release; the acquire fence
		 * keeps the copy ahead of the re-check. */
		uint64_t q = hm_load_acquire_u64(&s->text_seq);
		memcpy(buf, s->last_error, sizeof s->last_error);
		hm_fence_acquire();
		if (!(q & 1) && hm_load_relaxed_u64(&s->text_seq) == q)
			break;
	}
	buf[sizeof s->last_error - 1] = '\0';
}
