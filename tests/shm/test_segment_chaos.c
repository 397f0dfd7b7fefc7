/* The hostile segment (issue 13): a rogue process with write access to a
 * live bus scribbles random and crafted values into every region of the
 * segment while producers, subscribers, hermes-ctl and hermesd run; then the
 * segment is truncated under them, and hermesd is started on undersized
 * files. For every case: hermesd never dies of a signal nor crash-loops,
 * clients' calls all return within their timeout (an error or data), and the
 * corruption is reported. Run under ASan as well (the asan preset). */
#include "tests/support/daemon.h"
#include "tests/support/testing.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shm/segment.h"

#ifndef HERMES_CTL_PATH
#error "HERMES_CTL_PATH must name the hermes-ctl binary"
#endif

#define CALL_TIMEOUT_NS 50000000ll /* each client call's own timeout */
#define CALL_SLACK_NS 2000000000ull /* what a loaded 2-core machine may add */
#define SCRIBBLE_NS 150000000ull    /* per region */

static ht_daemon dmn; /* each test's own (ht_daemon_setup) */

static void nap_ms(int ms)
{
	/* A poll interval between checks that have deadlines. */
	struct timespec ts = {0, (long)ms * 1000000L};
	nanosleep(&ts, NULL);
}

/* ---- clients ------------------------------------------------------------------ */

typedef struct shared {
	_Atomic int stop;
	_Atomic int ready;
	_Atomic uint64_t calls[4];
	_Atomic uint64_t slowest_ns[4]; /* the longest single call, per client */
} shared;

static shared *sh;

static void record(int who, uint64_t t0)
{
	uint64_t took = ht_now_ns() - t0, prev = atomic_load(&sh->slowest_ns[who]);
	while (took > prev && !atomic_compare_exchange_weak(&sh->slowest_ns[who], &prev, took))
		;
	atomic_fetch_add(&sh->calls[who], 1);
}

/* Clients 0/1 publish to rings "b"/"o", 2/3 subscribe. A failed open (the
 * ring scribbled at that moment) is retried; every call is timed. */
static int client(void *arg)
{
	int who = (int)(intptr_t)arg;
	const char *ring = who % 2 ? "o" : "b";
	hermes_bus *bus;
	if (hermes_bus_attach(dmn.bus, &bus) != HERMES_OK)
		return 2;
	hermes_pub *pub = NULL;
	hermes_sub *sub = NULL;
	uint8_t buf[1024];
	memset(buf, 0xab, sizeof buf);
	atomic_fetch_add(&sh->ready, 1);
	uint64_t n = 0;
	while (!atomic_load(&sh->stop)) {
		uint64_t t0 = ht_now_ns();
		if (who < 2 && !pub) {
			if (hermes_pub_open(bus, ring, &pub) != HERMES_OK)
				pub = NULL;
		} else if (who >= 2 && !sub) {
			if (hermes_sub_open(bus, ring, HERMES_START_LATEST, 0, &sub) != HERMES_OK)
				sub = NULL;
		} else if (who < 2) {
			hermes_err err = hermes_pub_send_timed(pub, buf, (uint32_t)(16 + n++ % 200),
							       NULL, CALL_TIMEOUT_NS);
			if (err == HERMES_ECLOSED) {
				hermes_pub_close(pub);
				pub = NULL;
			}
		} else {
			hermes_msg m;
			hermes_err err = hermes_sub_wait(sub, HERMES_WAIT_BLOCK, CALL_TIMEOUT_NS);
			if (err == HERMES_OK)
				err = hermes_sub_recv(sub, buf, sizeof buf, &m);
			if (err == HERMES_ECLOSED) {
				hermes_sub_close(sub);
				sub = NULL;
			}
		}
		record(who, t0);
		if (!pub && !sub)
			nap_ms(1); /* the ring is unusable right now: retry later */
	}
	if (pub)
		hermes_pub_close(pub);
	if (sub)
		hermes_sub_close(sub);
	hermes_bus_detach(bus);
	return 0;
}

/* hermes-ctl CMD against the scribbled bus: any exit status but a
 * signal, within its deadline. */
static int run_ctl(const char *cmd)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execl(HERMES_CTL_PATH, "hermes-ctl", "--bus", dmn.bus, cmd, (char *)NULL);
		_exit(127);
	}
	int st = ht_wait_child(pid, 20000);
	if (WIFSIGNALED(st))
		fail_msg("hermes-ctl %s died of signal %d", cmd, WTERMSIG(st));
	return WEXITSTATUS(st);
}

/* ---- the rogue ---------------------------------------------------------------- */

typedef struct region {
	const char *what;
	size_t off, len; /* from the segment start, 8-byte aligned */
} region;

static uint64_t crafted(uint64_t *rng, size_t seg_size, uint64_t good)
{
	const uint64_t values[] = {0,
				   UINT64_MAX,
				   UINT64_MAX - 4095,
				   1ull << 63,
				   seg_size,
				   seg_size + (3u << 20),
				   good + 8,
				   good + 16,
				   good ^ 1,
				   good + 4096,
				   (uint64_t)getpid(),
				   1};
	uint64_t r = ht_rand(rng);
	return r % 3 == 0 ? r : values[(r >> 8) % (sizeof values / sizeof values[0])];
}

/* Scribble over one region for SCRIBBLE_NS, then put its bytes back (as a
 * rogue that covers its tracks would: itself a corruption of live words). */
static void scribble(uint8_t *base, size_t seg_size, const region *rg, uint64_t *rng)
{
	uint8_t *saved = malloc(rg->len);
	assert_non_null(saved);
	memcpy(saved, base + rg->off, rg->len);
	uint64_t end = ht_now_ns() + SCRIBBLE_NS;
	unsigned writes = 0;
	while (ht_now_ns() < end) {
		size_t at = rg->off + (ht_rand(rng) % (rg->len / 8)) * 8;
		volatile uint64_t *w = (volatile uint64_t *)(void *)(base + at);
		*w = crafted(rng, seg_size, *w);
		if (++writes % 64 == 0)
			nap_ms(1); /* two cores: let the victims run */
	}
	memcpy(base + rg->off, saved, rg->len);
	free(saved);
}

static void assert_hermesd_alive(const char *after)
{
	if (ht_daemon_alive(&dmn))
		return;
	int st = ht_daemon_wait_exit(&dmn, 1000);
	fail_msg("hermesd exited after scribbling %s (status %d%s%d); see %s", after, st,
		 WIFSIGNALED(st) ? ", signal " : ", exit ", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st),
		 dmn.log);
}

static void test_hostile_segment_live(void **state)
{
	(void)state;
	ht_daemon_start_config(&dmn, "[bus]\nsize = 4M\n[ring b]\ncapacity = 64K\nmax_msg = 1K\n"
				     "[ring o]\ncapacity = 64K\nmax_msg = 1K\npolicy = overwrite\n");

	hermes_bus *bus = ht_daemon_attach(&dmn);
	uint8_t *base = bus->base;
	region regions[16];
	unsigned nr = 0;
	regions[nr++] = (region){"the header", 8, HM_SEG_HEADER_SIZE - 8};
	regions[nr++] = (region){"the allocator", 128, 8};
	regions[nr++] = (region){"the directory", HM_SEG_HEADER_SIZE, HM_MAX_RINGS * sizeof(hm_ring_desc)};
	const char *names[] = {"b", "o"};
	for (int i = 0; i < 2; i++) {
		hm_ring r;
		assert_int_equal(hm_bus_find_ring(bus, names[i], &r, NULL), HERMES_OK);
		size_t h = (size_t)((uint8_t *)r.hdr - base);
		regions[nr++] = (region){"a ring header", h, sizeof(hm_ring_header)};
		regions[nr++] = (region){"the futex words", h + 384, 128};
		regions[nr++] = (region){"producer slots", (size_t)((uint8_t *)r.prods - base),
					 HM_MAX_PRODUCERS * sizeof(hm_prod_slot)};
		regions[nr++] = (region){"subscriber slots", (size_t)((uint8_t *)r.subs - base),
					 HM_MAX_SUBSCRIBERS * sizeof(hm_sub_slot)};
		regions[nr++] = (region){"slot words and metas", (size_t)((uint8_t *)r.slots - base),
					 (size_t)r.nslots * sizeof(hm_slot)};
	}

	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(sh != MAP_FAILED);
	memset(sh, 0, sizeof *sh);
	pid_t kids[4];
	for (int i = 0; i < 4; i++)
		kids[i] = ht_fork(client, (void *)(intptr_t)i);
	uint64_t deadline = ht_now_ns() + 10000000000ull;
	while (atomic_load(&sh->ready) < 4) {
		assert_true(ht_now_ns() < deadline);
		nap_ms(1);
	}

	uint64_t rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
	for (unsigned i = 0; i < nr; i++) {
		scribble(base, bus->size, &regions[i], &rng);
		/* Requests through hermesd while the damage is fresh. */
		hermes_ring_config cfg = {.name = "late", .capacity = 1 << 14, .max_msg = 256};
		if (hermes_ring_create(bus, &cfg) == HERMES_OK)
			hermes_ring_delete(bus, "late", 1);
		run_ctl("list");
		assert_hermesd_alive(regions[i].what);
	}
	/* A corrupt directory entry left in place: reported, and a restart on
	 * it is no crash loop. */
	hm_ring_desc *d0 = &bus->dir[0];
	uint64_t good = d0->offset;
	d0->offset = bus->size + (3u << 20);
	assert_true(ht_daemon_wait_log(&dmn, "quarantined", 1, 5000));
	assert_int_equal(run_ctl("list"), 0);
	ht_daemon_kill(&dmn);
	ht_daemon_start_config(&dmn, NULL);
	assert_true(ht_daemon_alive(&dmn));
	d0->offset = good;
	assert_true(ht_daemon_wait_log(&dmn, "quarantine lifted", 1, 5000));

	atomic_store(&sh->stop, 1);
	for (int i = 0; i < 4; i++) {
		int st = ht_wait_child(kids[i], 20000);
		if (WIFSIGNALED(st))
			fail_msg("client %d died of signal %d", i, WTERMSIG(st));
		assert_int_equal(WEXITSTATUS(st), 0);
		uint64_t slow = atomic_load(&sh->slowest_ns[i]);
		printf("# client %d: %llu calls, slowest %.1f ms\n", i,
		       (unsigned long long)atomic_load(&sh->calls[i]), (double)slow / 1e6);
		assert_true(atomic_load(&sh->calls[i]) > 0);
		assert_true(slow < (uint64_t)CALL_TIMEOUT_NS + CALL_SLACK_NS);
	}
	/* Reported: in hermesd's log and by hermes-ctl's validation. */
	assert_true(ht_daemon_log_has(&dmn, "corrupt"));
	munmap(sh, sizeof *sh);

	/* Truncated under hermesd: it stops with exit 1, no signal. */
	ht_daemon_truncate(&dmn, 8192);
	int st = ht_daemon_wait_exit(&dmn, 10000);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	hermes_bus_detach(bus); /* unmapping touches nothing */
	assert_int_equal(run_ctl("list"), 1);
}

/* Undersized and garbage segment files: hermesd refuses them (exit 1), as
 * do hermes-ctl's readers, none of them by a signal, and a restart does
 * the same (no crash loop). */
static void test_undersized_segment_files_are_refused(void **state)
{
	(void)state;
	static uint8_t bytes[8192];
	hm_seg_header *h = (hm_seg_header *)(void *)bytes;
	const size_t sizes[] = {1, 100, 4095, 4096, 8192};
	char path[96];
	snprintf(path, sizeof path, "/hermes.%s", dmn.bus);
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		memset(bytes, 0x5a, sizeof bytes);
		if (sizes[i] >= 4096) { /* a header that looks right */
			memset(bytes, 0, sizeof bytes);
			h->magic = HM_SEG_MAGIC;
			h->layout_version = HM_LAYOUT_VERSION;
			h->header_size = HM_SEG_HEADER_SIZE;
			h->segment_size = sizes[i];
			h->dir_offset = HM_SEG_HEADER_SIZE;
			h->max_rings = HM_MAX_RINGS;
		}
		int fd = shm_open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, bytes, sizes[i]), (ssize_t)sizes[i]);
		close(fd);
		const char *argv[] = {"hermesd", "--bus", dmn.bus, "--run-dir", dmn.run_dir, NULL};
		for (int twice = 0; twice < 2; twice++)
			if (ht_daemon_run(&dmn, argv, 10000) != 1)
				fail_msg("size %zu: hermesd did not exit 1; see %s", sizes[i], dmn.log);
		assert_int_equal(run_ctl("list"), 1);
		assert_int_equal(run_ctl("metrics"), 1);
	}
	assert_true(ht_daemon_log_has(&dmn, "refusing to touch"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate_setup_teardown(test_hostile_segment_live, ht_daemon_setup,
							 ht_daemon_teardown, &dmn),
		cmocka_unit_test_prestate_setup_teardown(test_undersized_segment_files_are_refused,
							 ht_daemon_setup, ht_daemon_teardown, &dmn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
