/* The recorder's counters file. See rstats.h. */
#include "journal/rstats.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error_detail.h"

/* The detail of a failure with errno e: the recorder says which journal's
 * counters file, --stats and the tools name the file they were given. */
static hermes_err stats_fail(hermes_err err, const char *dir, bool writable, int e)
{
	if (writable)
		return hm_fail(err, "counters file in %s: %s", dir, strerror(e));
	return hm_fail(err, "%s/" HM_REC_STATS_FILE ": %s", dir, strerror(e));
}

static hermes_err sys_fail(const char *dir, bool writable)
{
	int e = errno;
	return stats_fail(hm_errno_to_err(e), dir, writable, e);
}

/* Map DIR/.recorder into *out; writable: created, or cut to size. */
static hermes_err map_stats(const char *dir, bool writable, void **out)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof path, "%s/" HM_REC_STATS_FILE, dir);
	int fd = open(path, writable ? O_RDWR | O_CREAT | O_CLOEXEC : O_RDONLY | O_CLOEXEC, 0640);
	if (fd < 0)
		return sys_fail(dir, writable);
	hermes_err err = HERMES_OK;
	struct stat st;
	if (fstat(fd, &st) != 0)
		err = sys_fail(dir, writable);
	else if (st.st_size != (off_t)sizeof(hm_rec_stats) && !writable)
		err = stats_fail(HERMES_EBADSEGMENT, dir, false, EINVAL);
	else if ((st.st_size != (off_t)sizeof(hm_rec_stats) && ftruncate(fd, 0) != 0) ||
		 (writable && ftruncate(fd, sizeof(hm_rec_stats)) != 0))
		err = sys_fail(dir, writable);
	if (!err) {
		void *p = mmap(NULL, sizeof(hm_rec_stats), PROT_READ | (writable ? PROT_WRITE : 0),
			       MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			err = sys_fail(dir, writable);
		else
			*out = p;
	}
	close(fd);
	return err;
}

hermes_err hm_rec_stats_open(const char *dir, hm_rec_stats **out)
{
	*out = NULL;
	void *p;
	hermes_err err = map_stats(dir, true, &p);
	if (err)
		return err;
	hm_rec_stats *s = p;
	if (s->magic != HM_REC_STATS_MAGIC || s->version != HM_REC_STATS_VERSION) {
		memset(s, 0, sizeof *s);
		s->version = HM_REC_STATS_VERSION;
		s->magic = HM_REC_STATS_MAGIC;
	}
	*out = s;
	return HERMES_OK;
}

hermes_err hm_rec_stats_open_readonly(const char *dir, const hm_rec_stats **out)
{
	*out = NULL;
	void *p;
	hermes_err err = map_stats(dir, false, &p);
	if (err)
		return err;
	const hm_rec_stats *s = p;
	if (s->magic != HM_REC_STATS_MAGIC || s->version != HM_REC_STATS_VERSION) {
		err = stats_fail(s->magic == HM_REC_STATS_MAGIC ? HERMES_EVERSION : HERMES_EBADSEGMENT,
				 dir, false, EINVAL);
		hm_rec_stats_close(s);
		return err;
	}
	*out = s;
	return HERMES_OK;
}

void hm_rec_stats_close(const hm_rec_stats *s)
{
	if (s)
		munmap((void *)s, sizeof *s);
}

void hm_rec_stats_error(hm_rec_stats *s, const char *text)
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

void hm_rec_stats_error_text(const hm_rec_stats *s, char *buf)
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
