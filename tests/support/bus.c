/* The bus fixture. See bus.h. */
#include "tests/support/bus.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm/ring.h"
#include "shm/segment.h"
#include "tests/support/process.h"
#include "tests/support/testing.h"

void ht_bus_private(ht_bus *b, const char *tag, uint64_t size)
{
	memset(b, 0, sizeof *b);
	b->d.notify_fd = -1;
	ht_unique_name(b->name, sizeof b->name, tag);
	hermes_err e = hermes_bus_create(b->name, size, 0600, &b->bus);
	if (e != HERMES_OK)
		fail_msg("create bus %s (%llu bytes): %s", b->name, (unsigned long long)size,
			 hermes_strerror(e));
}

void ht_bus_supervised(ht_bus *b, const char *tag, const char *const *hermesd_args)
{
	memset(b, 0, sizeof *b);
	b->supervised = true;
	ht_daemon_init(&b->d, tag);
	snprintf(b->name, sizeof b->name, "%s", b->d.bus);
	ht_daemon_start(&b->d, hermesd_args);
	b->bus = ht_daemon_attach(&b->d);
}

void ht_bus_ring(ht_bus *b, const char *ring, uint64_t capacity, uint32_t max_msg,
		 hermes_policy policy)
{
	hermes_ring_config cfg = {.name = ring, .capacity = capacity, .max_msg = max_msg,
				  .policy = policy};
	ht_bus_ring_cfg(b, &cfg);
}

void ht_bus_ring_cfg(ht_bus *b, const hermes_ring_config *cfg)
{
	hermes_err e = hermes_ring_create(b->bus, cfg);
	if (e != HERMES_OK)
		fail_msg("create ring %s on bus %s: %s", cfg->name, b->name, hermes_strerror(e));
}

/* Slots of this process still taken on the bus's rings: handles the test
 * opened and did not close. Writes the first into what. */
static unsigned slots_left(hermes_bus *bus, char *what, size_t cap)
{
	hermes_ring_info info[HM_MAX_RINGS];
	unsigned count = 0, left = 0;
	if (hermes_bus_rings(bus, info, HM_MAX_RINGS, &count) != HERMES_OK)
		return 0;
	uint64_t me = (uint64_t)getpid();
	for (unsigned i = 0; i < count && i < HM_MAX_RINGS; i++) {
		hm_ring r;
		if (hm_bus_find_ring(bus, info[i].name, &r, NULL) != HERMES_OK)
			continue;
		for (unsigned k = 0; k < HM_MAX_PRODUCERS; k++)
			if (hm_load_acquire_u64(&r.prods[k].owner) == me && !left++)
				snprintf(what, cap, "a publisher of ring %.48s", info[i].name);
		for (unsigned k = 0; k < HM_MAX_SUBSCRIBERS; k++)
			if (hm_load_acquire_u64(&r.subs[k].owner) == me && !left++)
				snprintf(what, cap, "a subscriber of ring %.48s", info[i].name);
	}
	return left;
}

void ht_bus_teardown(ht_bus *b)
{
	if (!b->name[0])
		return;
	char what[96] = "";
	unsigned left = b->bus ? slots_left(b->bus, what, sizeof what) : 0;
	hermes_bus_detach(b->bus);
	b->bus = NULL;
	int st = 0;
	if (b->supervised && b->d.pid > 0)
		st = ht_proc_terminate(&b->d.pid, 10000);
	if (b->supervised)
		ht_daemon_cleanup(&b->d);
	else
		hermes_bus_unlink(b->name);
	char name[64];
	memcpy(name, b->name, sizeof name);
	bool segment_left = hermes_bus_unlink(name) != HERMES_ENOENT;
	struct stat sb;
	bool dir_left = b->supervised && stat(b->d.run_dir, &sb) == 0;
	b->name[0] = '\0';
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("hermesd of bus %s did not stop cleanly (status 0x%x)", name, st);
	if (left)
		fail_msg("bus %s: the test left %u handle(s) open, %s among them", name, left, what);
	if (segment_left)
		fail_msg("bus %s: the segment was still there after teardown", name);
	if (dir_left)
		fail_msg("bus %s: run directory %s was still there after teardown", name, b->d.run_dir);
}

hermes_pub *ht_child_pub(const char *name, const char *ring)
{
	hermes_bus *bus;
	hermes_pub *pub;
	if (hermes_bus_attach(name, &bus) != HERMES_OK)
		return NULL;
	return hermes_pub_open(bus, ring, &pub) == HERMES_OK ? pub : NULL;
}

hermes_sub *ht_child_sub(const char *name, const char *ring, hermes_start start)
{
	hermes_bus *bus;
	hermes_sub *sub;
	if (hermes_bus_attach(name, &bus) != HERMES_OK)
		return NULL;
	return hermes_sub_open(bus, ring, start, 0, &sub) == HERMES_OK ? sub : NULL;
}

int ht_bus_teardown_state(void **state)
{
	ht_bus_teardown(*state);
	return 0;
}

hermes_msg ht_sub_next(hermes_sub *sub, int timeout_ms, const char *what)
{
	hermes_msg m;
	hermes_err err;
	uint64_t deadline = ht_now_ns() + (uint64_t)timeout_ms * 1000000u;
	while ((err = hermes_sub_poll(sub, &m)) == HERMES_EAGAIN) {
		if (ht_now_ns() > deadline)
			fail_msg("no message %s within %d s", what, timeout_ms / 1000);
		(void)hermes_sub_wait(sub, HERMES_WAIT_BLOCK, 100000000);
	}
	assert_int_equal(err, HERMES_OK);
	return m;
}
