/* A ring's journal directory: writer (recovery, roll-over, retention) and
 * reader (from any sequence, across files). See journal.h. */
#include "journal/journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/endian.h"
#include "core/error_detail.h"
#include "core/futex.h"
#include "journal/prefault.h"

#define DEFAULT_FILE_SIZE (64ull << 20)

/* A record's time: the coarse clock (a few ms of resolution, enough for
 * retention by age and for people) costs a few ns where the precise one
 * costs ~80 ns on a VM: as much as building the record itself. */
static uint64_t record_ns(void)
{
	return hm_clock_ns(CLOCK_REALTIME_COARSE);
}

void hm_jdir_path(char *buf, size_t len, const char *dir, uint64_t first_seq)
{
	snprintf(buf, len, "%s/%020" PRIu64 HM_JOURNAL_SUFFIX, dir, first_seq);
}

/* "00000000000000000042.hjl" -> 42; false for any other name. */
static bool parse_name(const char *name, uint64_t *seq)
{
	if (strlen(name) != 20 + strlen(HM_JOURNAL_SUFFIX) || strcmp(name + 20, HM_JOURNAL_SUFFIX) != 0)
		return false;
	uint64_t v = 0;
	for (int i = 0; i < 20; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
		unsigned d = (unsigned)(name[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*seq = v;
	return true;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

hermes_err hm_jdir_list(const char *dir, uint64_t **seqs, size_t *n)
{
	*seqs = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return hm_fail_errno("opendir", dir);
	size_t cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		uint64_t s;
		if (!parse_name(de->d_name, &s))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			uint64_t *p = realloc(*seqs, cap * sizeof *p);
			if (!p) {
				closedir(d);
				free(*seqs);
				*seqs = NULL;
				*n = 0;
				return hm_fail(HERMES_ENOMEM, "listing journal %s", dir);
			}
			*seqs = p;
		}
		(*seqs)[(*n)++] = s;
	}
	closedir(d);
	if (*n)
		qsort(*seqs, *n, sizeof **seqs, cmp_u64);
	return HERMES_OK;
}

/* Map a whole journal file; *size gets its length. */
static hermes_err map_file(const char *path, bool writable, uint8_t **map, uint64_t *size, int *fd_out)
{
	int fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return hm_fail_errno("open", path);
	struct stat st;
	if (fstat(fd, &st) != 0) {
		hermes_err e = hm_fail_errno("fstat", path);
		close(fd);
		return e;
	}
	if (st.st_size < (off_t)HM_JH_SIZE) {
		close(fd);
		return hm_fail(HERMES_ETRUNCATED, "journal file %s is %lld bytes", path, (long long)st.st_size);
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		hermes_err e = hm_fail_errno("mmap", path);
		close(fd);
		return e;
	}
	*map = p;
	*size = (uint64_t)st.st_size;
	if (fd_out)
		*fd_out = fd;
	else
		close(fd);
	return HERMES_OK;
}

/* ---- writer ------------------------------------------------------------- */

/* What retention needs of each file, read once (not every tick). */
typedef struct jseg {
	uint64_t first;
	uint64_t bytes;
	uint64_t created_ns;
} jseg;

struct hm_jwriter {
	char dir[PATH_MAX];
	char ring[HM_JH_RING_LEN];
	uint64_t bus_id;
	hm_jopts o;
	int lock_fd;
	int fd; /* current file, -1 when none */
	uint8_t *map;
	hm_jfile_info fi;
	uint64_t tail;
	uint64_t synced;
	uint64_t next_seq;
	uint64_t prefaulted; /* chunks of the current file faulted in ahead */
	hm_prefault *pf; /* the thread that does it; NULL: this thread does */
	char next_tmp[PATH_MAX + 16]; /* the next file while the thread makes it */
	bool next_asked; /* the thread was asked for it during this file */
	jseg *files; /* ascending, the current one last */
	size_t nfiles, cap;
};

static hermes_err make_dir(const char *dir)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp)
		return hm_fail(HERMES_EINVAL, "journal directory path too long");
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0750) != 0 && errno != EEXIST)
			return hm_fail_errno("mkdir", tmp);
		*p = '/';
	}
	if (mkdir(tmp, 0750) != 0 && errno != EEXIST)
		return hm_fail_errno("mkdir", tmp);
	return HERMES_OK;
}

/* Remove what a writer killed while creating a file left behind. */
static uint64_t remove_temps(const char *dir)
{
	uint64_t n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (de->d_name[0] == '.' && l > 4 && strcmp(de->d_name + l - 4, ".tmp") == 0 &&
		    unlinkat(dirfd(d), de->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static void unmap_current(hm_jwriter *w)
{
	if (w->map && w->pf) {
		hm_prefault_unmap(w->pf, w->map, w->fi.file_size);
		w->map = NULL;
	} else if (w->map) {
		munmap(w->map, w->fi.file_size);
		w->map = NULL;
	}
	if (w->fd >= 0) {
		close(w->fd);
		w->fd = -1;
	}
}

static hermes_err push_file(hm_jwriter *w, uint64_t seq, uint64_t bytes, uint64_t created_ns)
{
	if (w->nfiles == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		jseg *p = realloc(w->files, cap * sizeof *p);
		if (!p)
			return hm_fail(HERMES_ENOMEM, "journal file list");
		w->files = p;
		w->cap = cap;
	}
	w->files[w->nfiles++] = (jseg){.first = seq, .bytes = bytes, .created_ns = created_ns};
	return HERMES_OK;
}

static uint64_t file_bytes(const char *dir, uint64_t first, uint64_t *created_ns)
{
	char path[PATH_MAX + 32];
	hm_jdir_path(path, sizeof path, dir, first);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	struct stat st;
	uint8_t h[HM_JH_USED];
	uint64_t bytes = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	*created_ns = pread(fd, h, sizeof h, 0) == (ssize_t)sizeof h ? hm_get_le64(h + HM_JH_CREATED_NS) : 0;
	close(fd);
	return bytes;
}

/* A writer killed between making a new file and sealing the one before
 * with END leaves that one open-ended; seal it now (readers cope without,
 * but more slowly: they have to look for the next file). */
static void seal_previous(hm_jwriter *w)
{
	if (w->nfiles < 2)
		return;
	char path[PATH_MAX + 32];
	hm_jdir_path(path, sizeof path, w->dir, w->files[w->nfiles - 2].first);
	uint8_t *map;
	uint64_t size;
	hm_jfile_info fi;
	if (map_file(path, true, &map, &size, NULL) != HERMES_OK)
		return;
	hm_jscan s;
	if (hm_jfile_header(map, size, &fi) == HERMES_OK) {
		hm_jfile_scan(map, &fi, &s, NULL, NULL);
		if (!s.sealed && !s.torn && s.next_seq == w->files[w->nfiles - 1].first &&
		    s.tail_off <= fi.file_size - HM_JR_HDR) {
			hm_jfile_cut(map, &fi, s.tail_off);
			hm_jfile_put(map, &fi, s.tail_off, HM_JR_END, s.next_seq, hm_clock_ns(CLOCK_REALTIME), NULL, 0);
		}
	}
	munmap(map, size);
}

static hermes_err recover_newest(hm_jwriter *w, hm_jrecovery *rep)
{
	char path[PATH_MAX + 32];
	uint64_t first = w->files[w->nfiles - 1].first;
	hm_jdir_path(path, sizeof path, w->dir, first);
	uint64_t size;
	hermes_err e = map_file(path, true, &w->map, &size, &w->fd);
	if (e)
		return e;
	e = hm_jfile_header(w->map, size, &w->fi);
	if (!e && w->fi.first_seq != first)
		e = hm_fail(HERMES_EBADSEGMENT, "first sequence %" PRIu64 " in the header", w->fi.first_seq);
	if (e) {
		e = hm_fail(e, "journal file %s: %s; move it away to go on", path, hermes_last_error_detail());
		munmap(w->map, size);
		w->map = NULL;
		return e;
	}
	hm_jscan s;
	hm_jfile_scan(w->map, &w->fi, &s, NULL, NULL);
	rep->torn = s.torn;
	rep->corrupt = s.corrupt;
	rep->corrupt_first = s.corrupt_first;
	rep->cut_bytes = hm_jfile_cut(w->map, &w->fi, s.tail_off);
	w->next_seq = s.next_seq;
	w->tail = s.tail_off;
	w->synced = s.tail_off;
	if (s.sealed)
		unmap_current(w);
	return HERMES_OK;
}

hermes_err hm_jwriter_open(const char *dir, const char *ring, uint64_t bus_id, const hm_jopts *opts,
			   hm_jwriter **out, hm_jrecovery *rep)
{
	hm_jrecovery dummy;
	if (!rep)
		rep = &dummy;
	memset(rep, 0, sizeof *rep);
	*out = NULL;
	if (!dir || !*dir)
		return hm_fail(HERMES_EINVAL, "journal directory is empty");
	hm_jwriter *w = calloc(1, sizeof *w);
	if (!w)
		return hm_fail(HERMES_ENOMEM, "journal writer");
	w->fd = -1;
	w->lock_fd = -1;
	w->bus_id = bus_id;
	w->next_seq = HM_JSEQ_NONE;
	snprintf(w->dir, sizeof w->dir, "%s", dir);
	snprintf(w->next_tmp, sizeof w->next_tmp, "%s/" HM_JOURNAL_NEXT_NAME, w->dir);
	snprintf(w->ring, sizeof w->ring, "%s", ring ? ring : "");
	w->o = *opts;
	if (!w->o.prefault_ahead)
		w->o.prefault_ahead = HM_JPREFAULT_AHEAD;
	if (!w->o.file_size)
		w->o.file_size = DEFAULT_FILE_SIZE;
	if (!w->o.index_stride)
		w->o.index_stride = HM_JOURNAL_DEFAULT_STRIDE;
	hermes_err e;
	if (w->o.file_size < HM_JOURNAL_MIN_FILE || w->o.file_size > HM_JOURNAL_MAX_FILE ||
	    w->o.file_size % 4096) {
		e = hm_fail(HERMES_EINVAL, "journal file_size %" PRIu64 ": a multiple of 4096 in 64K..1T",
			    w->o.file_size);
		goto fail;
	}
	if ((e = make_dir(w->dir)))
		goto fail;
	char lock[PATH_MAX + 8];
	snprintf(lock, sizeof lock, "%s/.lock", w->dir);
	w->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (w->lock_fd < 0) {
		e = hm_fail_errno("open", lock);
		goto fail;
	}
	if (flock(w->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		e = errno == EWOULDBLOCK ? hm_fail(HERMES_EBUSY, "journal %s is being written by another recorder", w->dir)
					 : hm_fail_errno("flock", lock);
		goto fail;
	}
	/* Before the thread could make one: the next file a killed writer's
	 * thread made ahead is one of these. */
	rep->temp_removed = remove_temps(w->dir);
	uint64_t *seqs;
	size_t n;
	if ((e = hm_jdir_list(w->dir, &seqs, &n)))
		goto fail;
	for (size_t i = 0; i < n && !e; i++) {
		uint64_t created = 0;
		uint64_t bytes = file_bytes(w->dir, seqs[i], &created);
		e = push_file(w, seqs[i], bytes, created);
	}
	free(seqs);
	if (e)
		goto fail;
	rep->files = n;
	if (n && (e = recover_newest(w, rep)))
		goto fail;
	seal_previous(w);
	/* Without a thread the writer faults in itself, as it does with
	 * HM_JPREFAULT_INLINE: slower, not wrong. */
	if (w->o.prefault_ahead != HM_JPREFAULT_INLINE && hm_prefault_start(w->o.prefault_ahead, &w->pf) == HERMES_OK &&
	    w->map)
		hm_prefault_map(w->pf, w->map, w->fi.file_size, w->tail, w->tail);
	rep->next_seq = w->next_seq;
	*out = w;
	return HERMES_OK;
fail:
	hm_jwriter_close(w);
	return e;
}

uint64_t hm_jwriter_next_seq(const hm_jwriter *w)
{
	return w->next_seq;
}

/* Create tmp at the journal's file size, reserved (posix_fallocate: a full
 * disk is HERMES_ENOSPC here, never a SIGBUS later) and mapped; on an error
 * nothing is left. */
static hermes_err make_file(const hm_jwriter *w, const char *tmp, int *fd_out, uint8_t **map_out)
{
	int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return hm_fail_errno("open", tmp);
	hermes_err e = HERMES_OK;
	int r = posix_fallocate(fd, 0, (off_t)w->o.file_size);
	void *p = MAP_FAILED;
	if (r != 0)
		e = r == ENOSPC ? hm_fail(HERMES_ENOSPC, "journal %s: no space for a new %" PRIu64
						      "-byte file (disk full)", w->dir, w->o.file_size)
				: (errno = r, hm_fail_errno("posix_fallocate", tmp));
	else if ((p = mmap(NULL, w->o.file_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED)
		e = hm_fail_errno("mmap", tmp);
	if (p == MAP_FAILED) {
		close(fd);
		unlink(tmp);
		return e;
	}
	*fd_out = fd;
	*map_out = p;
	return HERMES_OK;
}

/* Make the file that starts at first: created under a temporary name at its
 * full size, formatted, then renamed into place, so a reader or a recovering
 * writer never meets a half-made file. The prefault thread's file when it
 * has one ready (made the same way, ahead: prefault()), else one made here.
 * *faulted: how much of it is faulted in already. */
static hermes_err create_file(hm_jwriter *w, uint64_t first, int *fd_out, uint8_t **map_out,
			      hm_jfile_info *fi, uint64_t *faulted)
{
	char tmp[PATH_MAX + 32], path[PATH_MAX + 32];
	hm_jdir_path(path, sizeof path, w->dir, first);
	int fd;
	uint8_t *p;
	hermes_err e;
	*faulted = 0;
	if (w->pf && hm_prefault_take(w->pf, &fd, &p, faulted)) {
		snprintf(tmp, sizeof tmp, "%s", w->next_tmp);
	} else {
		snprintf(tmp, sizeof tmp, "%s/.%020" PRIu64 ".tmp", w->dir, first);
		if ((e = make_file(w, tmp, &fd, &p)))
			return e;
	}
	e = hm_jfile_format(p, w->o.file_size, first, hm_clock_ns(CLOCK_REALTIME), w->bus_id, w->ring,
			    w->o.index_stride, fi);
	if (!e && rename(tmp, path) != 0)
		e = hm_fail_errno("rename", path);
	if (e) {
		munmap(p, w->o.file_size);
		goto fail;
	}
	*fd_out = fd;
	*map_out = p;
	return HERMES_OK;
fail:
	close(fd);
	unlink(tmp);
	return e;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#define PREFAULT_BYTES (2u << 20)

/* Fault in the next PREFAULT_BYTES of the mapping writable in one call
 * whenever the tail enters a new such chunk: one system call instead of a
 * page fault every 4 KiB on the append path. With a prefault thread, tell it
 * where the tail is instead: it keeps prefault_ahead bytes faulted in. */
static void prefault(hm_jwriter *w)
{
	if (w->pf) {
		hm_prefault_tail(w->pf, w->tail);
		/* Half-way through a file, the next one: well before it is
		 * needed, yet one file's room, not more, taken early. */
		if (!w->next_asked && w->tail >= w->fi.file_size / 2) {
			w->next_asked = true;
			hm_prefault_prepare(w->pf, w->next_tmp, w->o.file_size);
		}
		return;
	}
	uint64_t chunk = w->tail / PREFAULT_BYTES;
	if (chunk < w->prefaulted)
		return;
	uint64_t from = (chunk + 1) * PREFAULT_BYTES;
	w->prefaulted = chunk + 1;
	if (from >= w->fi.file_size)
		return;
	uint64_t len = w->fi.file_size - from < PREFAULT_BYTES ? w->fi.file_size - from : PREFAULT_BYTES;
	(void)madvise(w->map + from, len, MADV_POPULATE_WRITE);
}

/* Make room for a record of len bytes starting at seq: the current file,
 * or a new one (the current one sealed with END once the new one exists). */
static hermes_err room_for(hm_jwriter *w, uint64_t seq, uint32_t len)
{
	if (w->map && hm_jfile_fits(&w->fi, w->tail, len))
		return HERMES_OK;
	int fd = -1;
	uint8_t *map = NULL;
	hm_jfile_info fi;
	uint64_t faulted;
	hermes_err e = create_file(w, seq, &fd, &map, &fi, &faulted);
	if (e)
		return e;
	if (!hm_jfile_fits(&fi, fi.data_offset, len)) {
		char path[PATH_MAX + 32];
		hm_jdir_path(path, sizeof path, w->dir, seq);
		unlink(path);
		munmap(map, fi.file_size);
		close(fd);
		return hm_fail(HERMES_EMSGSIZE, "a %u-byte message does not fit a %" PRIu64 "-byte journal file",
			       len, w->o.file_size);
	}
	if ((e = push_file(w, seq, fi.file_size, fi.created_ns))) {
		munmap(map, fi.file_size);
		close(fd);
		return e;
	}
	if (w->map) {
		hm_jfile_put(w->map, &w->fi, w->tail, HM_JR_END, seq, hm_clock_ns(CLOCK_REALTIME), NULL, 0);
		msync(w->map, w->fi.file_size, MS_ASYNC);
		unmap_current(w);
	}
	w->fd = fd;
	w->map = map;
	w->fi = fi;
	w->tail = w->synced = fi.data_offset;
	w->prefaulted = 0;
	w->next_asked = false;
	/* The first chunk now, here, whatever does the rest: the writer is
	 * about to write it. Not when the thread made the file ahead: it
	 * faulted in more than that already. */
	uint64_t first = w->pf ? HM_PREFAULT_CHUNK : PREFAULT_BYTES;
	first = first < fi.file_size ? first : fi.file_size;
	if (faulted < first)
		(void)madvise(w->map, first, MADV_POPULATE_WRITE);
	if (w->pf)
		hm_prefault_map(w->pf, w->map, fi.file_size, w->tail, faulted > first ? faulted : first);
	return HERMES_OK;
}

static hermes_err check_seq(const hm_jwriter *w, uint64_t seq)
{
	if (w->next_seq != HM_JSEQ_NONE && seq != w->next_seq)
		return hm_fail(HERMES_EINVAL, "journal %s expects sequence %" PRIu64 ", not %" PRIu64, w->dir,
			       w->next_seq, seq);
	return HERMES_OK;
}

hermes_err hm_jwriter_msg(hm_jwriter *w, uint64_t seq, const void *data, uint32_t len)
{
	return hm_jwriter_msg_tagged(w, seq, 0, data, len);
}

hermes_err hm_jwriter_msg_tagged(hm_jwriter *w, uint64_t seq, uint32_t tag, const void *data,
				 uint32_t len)
{
	hermes_msg m = {.data = data, .len = len, .tag = tag, .seq = seq};
	unsigned done;
	return hm_jwriter_msgs(w, &m, 1, &done);
}

/* One clock read, one room check per file and one prefault check per run:
 * per message only the record itself (the recorder's per-message cost,
 * bench/README.md "Journal"). */
hermes_err hm_jwriter_msgs(hm_jwriter *w, const hermes_msg *msgs, unsigned n, unsigned *done)
{
	*done = 0;
	uint64_t now = record_ns();
	unsigned i = 0;
	hermes_err e = HERMES_OK;
	while (i < n) {
		const hermes_msg *m = &msgs[i];
		if ((e = check_seq(w, m->seq)))
			break;
		if (m->seq == UINT64_MAX) {
			e = hm_fail(HERMES_EINVAL, "sequence out of range");
			break;
		}
		/* hm_jfile_fits, without a call: the tail never passes the
		 * file's end. */
		if (!w->map || m->len > HM_JOURNAL_MAX_PAYLOAD ||
		    hm_jr_size(m->len) + HM_JR_HDR > w->fi.file_size - w->tail) {
			if ((e = room_for(w, m->seq, m->len)))
				break;
		}
		w->tail = hm_jfile_put_tagged(w->map, &w->fi, w->tail, HM_JR_MSG, m->seq, now, m->tag, m->data,
					      m->len);
		w->next_seq = m->seq + 1;
		*done = ++i;
	}
	prefault(w);
	return e;
}

hermes_err hm_jwriter_range(hm_jwriter *w, uint32_t type, uint64_t first, uint64_t count)
{
	if ((type != HM_JR_GAP && type != HM_JR_LOST) || count == 0 || count > UINT64_MAX - first)
		return hm_fail(HERMES_EINVAL, "bad journal range record");
	hermes_err e = check_seq(w, first);
	if (e || (e = room_for(w, first, 8)))
		return e;
	w->tail = hm_jfile_put_range(w->map, &w->fi, w->tail, type, first, count, record_ns());
	w->next_seq = first + count;
	return HERMES_OK;
}

hermes_err hm_jwriter_sync(hm_jwriter *w)
{
	if (!w->map || w->synced == w->tail)
		return HERMES_OK;
	uint64_t from = w->synced & ~(uint64_t)4095;
	if (msync(w->map + from, w->tail - from, MS_SYNC) != 0)
		return hm_fail_errno("msync", w->dir);
	w->synced = w->tail;
	return HERMES_OK;
}

bool hm_jwriter_next_ready(const hm_jwriter *w, uint64_t *faulted)
{
	*faulted = 0;
	return w->pf && hm_prefault_next_ready(w->pf, faulted);
}

bool hm_jwriter_next_pending(const hm_jwriter *w)
{
	return w->pf && hm_prefault_next_pending(w->pf);
}

uint64_t hm_jwriter_bytes(const hm_jwriter *w)
{
	uint64_t total = 0;
	for (size_t i = 0; i < w->nfiles; i++)
		total += w->files[i].bytes;
	return total;
}

hermes_err hm_jwriter_retain(hm_jwriter *w, uint64_t now_ns, uint64_t *deleted)
{
	uint64_t n = 0;
	if (deleted)
		*deleted = 0;
	if (!w->o.retain_bytes && !w->o.retain_age_ns)
		return HERMES_OK;
	uint64_t total = hm_jwriter_bytes(w);
	/* The oldest file goes while the journal is over its byte budget, or
	 * when the file after it (created when the oldest one was closed) is
	 * older than the age limit: then every record in it is. The file being
	 * written is never deleted. */
	while (w->nfiles > 1) {
		uint64_t closed_ns = w->files[1].created_ns;
		uint64_t bytes = w->files[0].bytes;
		bool over = w->o.retain_bytes && total > w->o.retain_bytes;
		bool old = w->o.retain_age_ns && closed_ns && now_ns > closed_ns &&
			   now_ns - closed_ns > w->o.retain_age_ns;
		if (!over && !old)
			break;
		char path[PATH_MAX + 32];
		hm_jdir_path(path, sizeof path, w->dir, w->files[0].first);
		if (unlink(path) != 0 && errno != ENOENT)
			return hm_fail_errno("unlink", path);
		total -= bytes < total ? bytes : total;
		memmove(w->files, w->files + 1, (w->nfiles - 1) * sizeof *w->files);
		w->nfiles--;
		n++;
	}
	if (deleted)
		*deleted = n;
	return HERMES_OK;
}

void hm_jwriter_close(hm_jwriter *w)
{
	if (!w)
		return;
	unmap_current(w);
	hm_prefault_stop(w->pf);
	if (w->lock_fd >= 0)
		close(w->lock_fd);
	free(w->files);
	free(w);
}

hermes_err hm_jdir_scan(const char *dir, void (*fn)(void *ctx, const hm_jfile_report *rep),
			hm_jcorrupt_fn corrupt, void *ctx)
{
	uint64_t *seqs;
	size_t n;
	hermes_err e = hm_jdir_list(dir, &seqs, &n);
	if (e)
		return e;
	for (size_t i = 0; i < n; i++) {
		hm_jfile_report rep;
		memset(&rep, 0, sizeof rep);
		rep.first_seq = seqs[i];
		char path[PATH_MAX + 32];
		hm_jdir_path(path, sizeof path, dir, seqs[i]);
		uint8_t *map = NULL;
		rep.header = map_file(path, false, &map, &rep.bytes, NULL);
		if (!rep.header) {
			rep.header = hm_jfile_header(map, rep.bytes, &rep.fi);
			if (!rep.header && rep.fi.first_seq != seqs[i])
				rep.header = hm_fail(HERMES_EBADSEGMENT, "header says first sequence %" PRIu64
									 ", the name %" PRIu64,
						     rep.fi.first_seq, seqs[i]);
		}
		if (rep.header)
			snprintf(rep.error, sizeof rep.error, "%s", hermes_last_error_detail());
		else
			hm_jfile_scan(map, &rep.fi, &rep.scan, corrupt, ctx);
		if (map)
			munmap(map, rep.bytes);
		fn(ctx, &rep);
	}
	free(seqs);
	return HERMES_OK;
}

/* ---- reader ------------------------------------------------------------- */

typedef struct retired {
	struct retired *next;
	uint8_t *map;
	uint64_t size;
} retired;

struct hm_jreader {
	char dir[PATH_MAX];
	uint64_t next; /* the sequence the caller gets next */
	uint8_t *map;  /* current file, NULL when none */
	uint64_t size;
	hm_jfile_info fi;
	uint64_t off; /* next record of the current file */
	uint64_t seq; /* the sequence it starts at */
	uint64_t looked_ns; /* when the directory was last listed at an end */
	retired *old;
};

hermes_err hm_jreader_open(const char *dir, uint64_t from, hm_jreader **out)
{
	*out = NULL;
	struct stat st;
	if (stat(dir, &st) != 0)
		return hm_fail_errno("stat", dir);
	if (!S_ISDIR(st.st_mode))
		return hm_fail(HERMES_ENOENT, "%s is not a journal directory", dir);
	hm_jreader *r = calloc(1, sizeof *r);
	if (!r)
		return hm_fail(HERMES_ENOMEM, "journal reader");
	snprintf(r->dir, sizeof r->dir, "%s", dir);
	r->next = from;
	*out = r;
	return HERMES_OK;
}

uint64_t hm_jreader_next_seq(const hm_jreader *r)
{
	return r->next;
}

static void retire(hm_jreader *r)
{
	if (!r->map)
		return;
	retired *o = malloc(sizeof *o);
	if (o) {
		o->map = r->map;
		o->size = r->size;
		o->next = r->old;
		r->old = o;
	}
	/* Without memory for the list the mapping is leaked, not unmapped
	 * under a message the caller may still hold. */
	r->map = NULL;
}

void hm_jreader_release(hm_jreader *r)
{
	while (r->old) {
		retired *o = r->old;
		r->old = o->next;
		munmap(o->map, o->size);
		free(o);
	}
}

/* Open the file holding r->next. HERMES_OK with the file mapped, or with
 * *it set to a LOST/CORRUPT item (returns HERMES_ELOST then), or
 * HERMES_EAGAIN when no file holds it yet. */
static hermes_err open_file(hm_jreader *r, hm_jitem *it)
{
	uint64_t *seqs;
	size_t n;
	hermes_err e = hm_jdir_list(r->dir, &seqs, &n);
	if (e)
		return e == HERMES_ENOENT ? HERMES_EAGAIN : e;
	size_t i = n;
	while (i > 0 && seqs[i - 1] > r->next)
		i--;
	if (i == 0) {
		if (n == 0) {
			free(seqs);
			return HERMES_EAGAIN;
		}
		/* Retention dropped it, or it was never recorded. */
		*it = (hm_jitem){.kind = HM_JREAD_LOST, .seq = r->next, .count = seqs[0] - r->next};
		r->next = seqs[0];
		free(seqs);
		return HERMES_ELOST;
	}
	uint64_t first = seqs[i - 1];
	uint64_t after = i < n ? seqs[i] : HM_JSEQ_NONE;
	free(seqs);
	char path[PATH_MAX + 32];
	hm_jdir_path(path, sizeof path, r->dir, first);
	e = map_file(path, false, &r->map, &r->size, NULL);
	if (e == HERMES_ENOENT)
		return HERMES_EAGAIN; /* retention raced us: list again */
	if (!e && ((e = hm_jfile_header(r->map, r->size, &r->fi)) || r->fi.first_seq != first))
		e = HERMES_EBADSEGMENT;
	if (e) {
		if (r->map)
			munmap(r->map, r->size);
		r->map = NULL;
		if (after == HM_JSEQ_NONE)
			return HERMES_EAGAIN;
		/* A file whose header cannot be trusted: all it covers is corrupt. */
		*it = (hm_jitem){.kind = HM_JREAD_CORRUPT, .seq = r->next, .count = after - r->next};
		r->next = after;
		return HERMES_ELOST;
	}
	hm_jfile_seek(r->map, &r->fi, r->next, &r->off, &r->seq);
	return HERMES_OK;
}

/* Nothing more in the current file. Normally the writer appends to it or
 * seals it with END; but a writer killed between making the next file and
 * writing END (or a file cut short by a crash) leaves a file that simply
 * stops while a later one exists. Every 2 ms at most, look for one. */
static bool later_file(hm_jreader *r, uint64_t *first)
{
	uint64_t now = hm_now_ns();
	if (now - r->looked_ns < 2000000)
		return false;
	r->looked_ns = now;
	uint64_t *seqs;
	size_t n;
	if (hm_jdir_list(r->dir, &seqs, &n) != HERMES_OK)
		return false;
	bool found = false;
	for (size_t i = 0; i < n && !found; i++) {
		if (seqs[i] > r->fi.first_seq) {
			*first = seqs[i];
			found = true;
		}
	}
	free(seqs);
	return found;
}

hermes_err hm_jreader_next(hm_jreader *r, hm_jitem *it)
{
	return hm_jreader_next_ex(r, it, true);
}

hermes_err hm_jreader_next_ex(hm_jreader *r, hm_jitem *it, bool look_later)
{
	for (;;) {
		if (!r->map) {
			hermes_err e = open_file(r, it);
			if (e == HERMES_ELOST)
				return HERMES_OK;
			if (e)
				return e;
		}
		hm_jrec rec;
		uint64_t first;
		hermes_err e = hm_jfile_read(r->map, &r->fi, r->off, r->seq, &rec);
		if (e != HERMES_OK && !(e == HERMES_EBADSEGMENT && hm_jfile_resync(r->map, &r->fi, r->off, r->seq, &rec))) {
			/* The end of this file for now, or a torn tail. */
			if (!look_later || !later_file(r, &first) || first < r->seq)
				return HERMES_EAGAIN;
			/* Re-read: END may have landed since the first look. */
			if (hm_jfile_read(r->map, &r->fi, r->off, r->seq, &rec) == HERMES_OK)
				continue;
			retire(r);
			if (first > r->next) {
				*it = (hm_jitem){.kind = HM_JREAD_LOST, .seq = r->next, .count = first - r->next};
				r->next = first;
				return HERMES_OK;
			}
			continue;
		}
		if (e) {
			/* A corrupt record, with a valid one after it. */
			uint64_t bad = r->seq;
			r->off = rec.off;
			r->seq = rec.seq;
			if (rec.seq > r->next) {
				uint64_t from = bad > r->next ? bad : r->next;
				*it = (hm_jitem){.kind = HM_JREAD_CORRUPT, .seq = from, .count = rec.seq - from};
				r->next = rec.seq;
				return HERMES_OK;
			}
			continue;
		}
		if (rec.type == HM_JR_END) {
			retire(r);
			if (rec.seq > r->next)
				r->next = rec.seq;
			continue;
		}
		r->off = rec.next_off;
		r->seq = rec.seq + rec.count;
		if (r->seq <= r->next)
			continue; /* before the start: walking from an index entry */
		uint64_t from = rec.seq > r->next ? rec.seq : r->next;
		*it = (hm_jitem){.seq = from, .count = r->seq - from, .time_ns = rec.time_ns};
		if (rec.type == HM_JR_MSG) {
			it->kind = HM_JREAD_MSG;
			it->data = rec.payload;
			it->len = rec.len;
			it->tag = rec.tag;
		} else {
			it->kind = rec.type == HM_JR_GAP ? HM_JREAD_GAP : HM_JREAD_LOST;
		}
		r->next = r->seq;
		return HERMES_OK;
	}
}

void hm_jreader_close(hm_jreader *r)
{
	if (!r)
		return;
	retire(r);
	hm_jreader_release(r);
	free(r);
}
