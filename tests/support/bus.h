/* The test kit's bus fixture: a bus under test with rings of a given policy
 * and size, attached for the test, and torn down after it with a check that
 * nothing is left behind.
 *
 *  - private (ht_bus_private): the test creates the segment itself
 *    (hermes_bus_create, the embedded use); no supervisor runs and rings are
 *    made in place. For tests of the library's rings, waits and segment.
 *  - supervised (ht_bus_supervised): a real hermesd (daemon.h) on a unique
 *    bus and a fresh run directory; the test attaches as a client and rings
 *    are made through hermesd.
 *
 * ht_bus_teardown detaches, stops hermesd (SIGTERM; it must exit 0), removes
 * the segment and the run directory, and then fails the test when this
 * process still held a publisher or subscriber slot on one of the bus's
 * rings (a handle the test did not close), or when the segment or the run
 * directory is still there. Slots of children the test killed are not this
 * process's and are not counted. Every step has a deadline. */
#ifndef HM_TEST_BUS_H
#define HM_TEST_BUS_H

#include <stdbool.h>
#include <stdint.h>

#include <hermes/bus.h>

#include "tests/support/daemon.h"

typedef struct ht_bus {
	char name[64];	 /* the bus name, unique to this process and call */
	hermes_bus *bus; /* the test's attachment; NULL once torn down */
	bool supervised; /* d runs hermesd for this bus */
	ht_daemon d;	 /* supervised: hermesd, its log and run directory */
} ht_bus;

/* Create a private bus of `size` bytes (mode 0600) named for tag, attached
 * as its creator. Fails the test on error. */
void ht_bus_private(ht_bus *b, const char *tag, uint64_t size);

/* Start hermesd for a bus named for tag, with extra hermesd arguments (NULL
 * terminated, may be NULL; e.g. {"--size", "64M", NULL}), wait for its
 * readiness and attach. Fails the test on error. */
void ht_bus_supervised(ht_bus *b, const char *tag, const char *const *hermesd_args);

/* Create ring `ring` with the given capacity (data bytes), largest message
 * and policy (slots: the default). Fails the test on error. */
void ht_bus_ring(ht_bus *b, const char *ring, uint64_t capacity, uint32_t max_msg,
		 hermes_policy policy);

/* The same for a whole configuration (e.g. with .slots). */
void ht_bus_ring_cfg(ht_bus *b, const hermes_ring_config *cfg);

/* Tear down as described above. Does nothing for a fixture never set up or
 * already torn down (a zeroed ht_bus), so teardown functions can call it
 * whatever the test reached. */
void ht_bus_teardown(ht_bus *b);

/* For a child process, which must not fail the test but exit with a status
 * of its own: attach to bus `name` and open a publisher, or a subscriber
 * joined at `start`, on `ring`; NULL on any error. The attachment lasts
 * until the child exits. */
hermes_pub *ht_child_pub(const char *name, const char *ring);
hermes_sub *ht_child_sub(const char *name, const char *ring, hermes_start start);

/* A cmocka teardown for tests whose setup pointed *state at their ht_bus:
 * ht_bus_teardown(*state). */
int ht_bus_teardown_state(void **state);

/* The next message of sub, waiting for it (blocking waits) up to
 * timeout_ms; past that the test fails with "no message WHAT within N s". */
hermes_msg ht_sub_next(hermes_sub *sub, int timeout_ms, const char *what);

#endif
