/* Tests for tcp-bridge/bridge/origins.c, the link origin tables: tags of messages
 * brought in by a link (split horizon), the per-origin record of what was
 * committed (dedupe after a reconnect, including a commit announced and
 * never recorded), and the state files: kept across opens, made anew for
 * another ring, never a symbolic link or another user's file. */
#include "tests/support/testing.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tcp-bridge/bridge/origins.h"
#include "tests/shm/ring_fixture.h"

/* A fresh state directory per test (removed by the teardown). */
static char dir[64];

static int make_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/hermes-origins-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int remove_dir(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void table_path(char *buf, size_t len, const char *ring)
{
	snprintf(buf, len, "%s/hermes-bridge.b.%s.origins", dir, ring);
}

/* A ring and its table in private memory (no state directory): the state
 * of the in-memory tests. */
typedef struct in_memory {
	ht_ring *f;
	hm_origins *o;
} in_memory;

static int open_in_memory(void **state)
{
	static in_memory m;
	m.f = ht_ring_make(4096, 200, HERMES_POLICY_BLOCK, false);
	ht_assert_ok(hm_origins_open(NULL, "b", "r", &m.f->ring, &m.o));
	assert_non_null(m.o);
	assert_false(m.o->in_file);
	*state = &m;
	return 0;
}

static int close_in_memory(void **state)
{
	in_memory *m = *state;
	hm_origins_close(m->o);
	ht_ring_free(m->f);
	return 0;
}

static void test_tags_mark_link_messages_of_this_lap_only(void **state)
{
	hm_origins *o = ((in_memory *)*state)->o;
	ht_ring *f = ((in_memory *)*state)->f;
	assert_false(hm_origins_imported(o, 5));
	hm_origins_mark(o, 5);
	assert_true(hm_origins_imported(o, 5));
	assert_false(hm_origins_imported(o, 6));
	/* The same slot a lap later is another message. */
	assert_false(hm_origins_imported(o, 5 + f->ring.nslots));
	hm_origins_mark(o, 5 + f->ring.nslots);
	assert_false(hm_origins_imported(o, 5));
}

static void test_records_say_what_each_origin_committed(void **state)
{
	hm_origins *o = ((in_memory *)*state)->o;
	assert_false(hm_origins_seen(o, 7, 0));
	hm_origins_record(o, 7, 10);
	assert_true(hm_origins_seen(o, 7, 0));
	assert_true(hm_origins_seen(o, 7, 10));
	assert_false(hm_origins_seen(o, 7, 11));
	/* Another origin has its own record; records only grow. */
	assert_false(hm_origins_seen(o, 8, 0));
	hm_origins_record(o, 7, 3);
	assert_true(hm_origins_seen(o, 7, 10));
}

static void test_announced_commit_counts_once_its_message_is_in_the_ring(void **state)
{
	hm_origins *o = ((in_memory *)*state)->o;
	ht_ring *f = ((in_memory *)*state)->f;
	hm_origins_record(o, 7, 4);
	/* Announced at ring sequence 0, and the bridge "died" before the
	 * commit: not seen. */
	hm_origins_pending(o, 7, 5, 0);
	assert_false(hm_origins_seen(o, 7, 5));
	assert_true(hm_origins_seen(o, 7, 4));
	/* The message is committed after all (record never written): seen. */
	assert_int_equal(ht_publish(&f->pub, 8, 0), 0);
	assert_true(hm_origins_seen(o, 7, 5));
	assert_false(hm_origins_seen(o, 7, 6));
}

/* The table of ring "r" in the state directory, mapped from its file. */
static hm_origins *open_in_file(const hm_ring *ring)
{
	hm_origins *o;
	ht_assert_ok(hm_origins_open(dir, "b", "r", ring, &o));
	assert_non_null(o);
	assert_true(o->in_file);
	return o;
}

static void test_table_file_is_kept_across_opens_with_mode_0600(void **state)
{
	(void)state;
	ht_ring *f = ht_ring_make(4096, 200, HERMES_POLICY_BLOCK, false);
	hm_origins *o = open_in_file(&f->ring);
	hm_origins_mark(o, 3);
	hm_origins_record(o, 9, 41);
	hm_origins_close(o);
	char path[128];
	table_path(path, sizeof path, "r");
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	o = open_in_file(&f->ring);
	assert_true(hm_origins_imported(o, 3));
	assert_true(hm_origins_seen(o, 9, 41));
	hm_origins_close(o);
	/* Another ring of the same name (made again: another creation time)
	 * starts afresh. */
	ht_ring *g = ht_ring_make(4096, 200, HERMES_POLICY_BLOCK, false);
	g->ring.hdr->created_realtime_ns = f->ring.hdr->created_realtime_ns + 1;
	o = open_in_file(&g->ring);
	assert_false(hm_origins_imported(o, 3));
	assert_false(hm_origins_seen(o, 9, 41));
	hm_origins_close(o);
	ht_ring_free(g);
	ht_ring_free(f);
}

static void test_short_table_file_is_made_anew(void **state)
{
	(void)state;
	ht_ring *f = ht_ring_make(4096, 200, HERMES_POLICY_BLOCK, false);
	char path[128];
	table_path(path, sizeof path, "r");
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "short", 5), 5);
	close(fd);
	hm_origins *o = open_in_file(&f->ring);
	hm_origins_mark(o, f->ring.nslots - 1); /* the last tag: no SIGBUS */
	assert_true(hm_origins_imported(o, f->ring.nslots - 1));
	hm_origins_close(o);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal((uint64_t)st.st_size, HM_ORIGINS_HEADER + f->ring.nslots * sizeof(uint64_t));
	ht_ring_free(f);
}

static void test_symlink_or_open_table_file_is_refused(void **state)
{
	(void)state;
	ht_ring *f = ht_ring_make(4096, 200, HERMES_POLICY_BLOCK, false);
	char path[128], target[128];
	table_path(path, sizeof path, "r");
	snprintf(target, sizeof target, "%s/elsewhere", dir);
	assert_int_equal(symlink(target, path), 0);
	hm_origins *o = (hm_origins *)1;
	/* The bridge logs the detail after "not kept in DIR" and keeps the
	 * table in memory instead (hm_server_origins). */
	ht_assert_fails(hm_origins_open(dir, "b", "r", &f->ring, &o), HERMES_EPERM,
			"Too many levels of symbolic links");
	assert_null(o);
	assert_int_equal(access(target, F_OK), -1);
	/* A file others may read or write is refused too. */
	table_path(path, sizeof path, "s");
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, 0644), 0);
	close(fd);
	o = (hm_origins *)1;
	ht_assert_fails(hm_origins_open(dir, "b", "s", &f->ring, &o), HERMES_EPERM,
			"Operation not permitted: the file there belongs to another user or is not "
			"private");
	assert_null(o);
	ht_ring_free(f);
}

static void test_state_file_of_another_user_or_a_link_is_refused(void **state)
{
	(void)state;
	char path[128], target[128];
	snprintf(path, sizeof path, "%s/mine", dir);
	int fd = 99;
	ht_assert_ok(hm_state_open(path, &fd));
	assert_true(fd >= 0);
	close(fd);
	/* Made earlier by this user, mode 0600: opened again. */
	ht_assert_ok(hm_state_open(path, &fd));
	close(fd);
	snprintf(target, sizeof target, "%s/link", dir);
	assert_int_equal(symlink(path, target), 0);
	ht_assert_fails(hm_state_open(target, &fd), HERMES_EPERM, "Too many levels of symbolic links");
	assert_int_equal(fd, -1);
	snprintf(path, sizeof path, "%s/no-such-dir/file", dir);
	ht_assert_fails(hm_state_open(path, &fd), HERMES_ENOENT, "No such file or directory");
	assert_int_equal(fd, -1);
	if (geteuid() != 0) /* only root can give a file away */
		return;
	snprintf(path, sizeof path, "%s/theirs", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fchown(fd, 65534, 65534), 0);
	close(fd);
	ht_assert_fails(hm_state_open(path, &fd), HERMES_EPERM, "belongs to another user");
	assert_int_equal(fd, -1);
}

static void test_bus_id_is_made_once_and_kept(void **state)
{
	(void)state;
	uint64_t id = 1, again;
	ht_assert_ok(hm_state_bus_id(NULL, "b", &id));
	assert_true(id == 0);
	id = 1;
	ht_assert_ok(hm_state_bus_id("", "b", &id));
	assert_true(id == 0);
	ht_assert_ok(hm_state_bus_id(dir, "b", &id));
	assert_true(id != 0);
	ht_assert_ok(hm_state_bus_id(dir, "b", &again));
	assert_true(again == id);
	ht_assert_ok(hm_state_bus_id(dir, "other", &again));
	assert_true(again != id);
	/* A zero id in the file is made anew. */
	char path[128];
	snprintf(path, sizeof path, "%s/hermes-bridge.b.id", dir);
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	assert_true(fd >= 0);
	uint64_t zero = 0;
	assert_int_equal(write(fd, &zero, sizeof zero), (ssize_t)sizeof zero);
	close(fd);
	ht_assert_ok(hm_state_bus_id(dir, "b", &id));
	assert_true(id != 0);
}

static void test_bus_id_file_not_ours_is_an_error(void **state)
{
	(void)state;
	char path[128];
	snprintf(path, sizeof path, "%s/hermes-bridge.b.id", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, 0644), 0);
	close(fd);
	uint64_t id = 1;
	/* The bridge logs it ("cannot keep the bus id in DIR (DETAIL)") and
	 * picks a random id for this run. */
	ht_assert_fails(hm_state_bus_id(dir, "b", &id), HERMES_EPERM,
			"Operation not permitted: the file there belongs to another user or is not "
			"private");
	assert_true(id == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tags_mark_link_messages_of_this_lap_only, open_in_memory,
						close_in_memory),
		cmocka_unit_test_setup_teardown(test_records_say_what_each_origin_committed, open_in_memory,
						close_in_memory),
		cmocka_unit_test_setup_teardown(test_announced_commit_counts_once_its_message_is_in_the_ring, open_in_memory,
						close_in_memory),
		cmocka_unit_test_setup_teardown(test_table_file_is_kept_across_opens_with_mode_0600,
						make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_short_table_file_is_made_anew, make_dir,
						remove_dir),
		cmocka_unit_test_setup_teardown(test_symlink_or_open_table_file_is_refused, make_dir,
						remove_dir),
		cmocka_unit_test_setup_teardown(test_state_file_of_another_user_or_a_link_is_refused,
						make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_bus_id_is_made_once_and_kept, make_dir,
						remove_dir),
		cmocka_unit_test_setup_teardown(test_bus_id_file_not_ours_is_an_error, make_dir,
						remove_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
