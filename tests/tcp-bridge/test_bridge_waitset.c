/* A bridge connection in a wait set: one thread sleeps on a local ring and on
 * a hermes_net connection (hermes_net_fd) at once, and is woken by whichever
 * has something, through the real hermes-bridge on loopback. */
#include <sched.h>
#include <string.h>

#include "tests/support/threads.h"
#include "tests/tcp-bridge/bridge_support.h"

#include "shm/ring.h"

#define LONG_NS 10000000000ll
#define SOON_NS 5000000000ull

static ht_bus bus;
static ht_br_bridge br;

static int setup(void **state)
{
	(void)state;
	static const hermes_ring_config rings[] = {{"local"}, {"remote"}, {0}};
	return ht_br_fixture(&bus, "brws", rings, &br, NULL);
}

/* One wait on the set and what it found, for ht_timed_start. */
typedef struct waited {
	hermes_waitset *ws;
	unsigned n;
	hermes_ready ready[4];
} waited;

static hermes_err wait_set(void *ctx)
{
	waited *w = ctx;
	return hermes_waitset_wait(w->ws, w->ready, 4, &w->n, LONG_NS);
}

/* The set's helper thread has announced itself on the local ring: the
 * waiter sleeps (or is about to) on both the ring and the socket. */
static void await_announced(const hermes_sub *sub)
{
	uint64_t deadline = ht_now_ns() + SOON_NS;
	while (!(hm_load_relaxed_u64(&sub->ring.hdr->sleepers) & (1ull << sub->slot_index))) {
		if (ht_now_ns() > deadline)
			fail_msg("the wait set never announced itself on the local ring");
		sched_yield();
	}
}

/* Everything the connection has now, as the contract says: poll with
 * timeout 0 until HERMES_EAGAIN. Returns the MESSAGE events seen. */
static unsigned drain_net(hermes_net *n, const char *want)
{
	unsigned msgs = 0;
	hermes_net_event ev;
	hermes_err err;
	while ((err = hermes_net_poll(n, &ev, 0)) == HERMES_OK)
		if (ev.type == HERMES_NET_MESSAGE) {
			assert_int_equal(ev.len, strlen(want));
			assert_memory_equal(ev.data, want, ev.len);
			msgs++;
		}
	assert_int_equal(err, HERMES_EAGAIN);
	return msgs;
}

static void test_bridge_connection_and_ring_in_one_wait_set(void **state)
{
	(void)state;
	hermes_bus *b;
	assert_int_equal(hermes_bus_attach(bus.name, &b), HERMES_OK);
	hermes_sub *sub;
	hermes_pub *local_pub, *remote_pub;
	assert_int_equal(hermes_sub_open(b, "local", HERMES_START_LATEST, 0, &sub), HERMES_OK);
	assert_int_equal(hermes_pub_open(b, "local", &local_pub), HERMES_OK);
	assert_int_equal(hermes_pub_open(b, "remote", &remote_pub), HERMES_OK);
	hermes_net *net = ht_br_connect(&br);
	uint32_t subid;
	assert_int_equal(hermes_net_subscribe(net, "remote", HERMES_START_LATEST, 0, LONG_NS, &subid,
					      NULL),
			 HERMES_OK);
	drain_net(net, "");

	hermes_waitset *ws;
	int ring_tag, net_tag;
	assert_int_equal(hermes_waitset_create(&ws), HERMES_OK);
	assert_int_equal(hermes_waitset_add_sub(ws, sub, &ring_tag), HERMES_OK);
	assert_int_equal(hermes_waitset_add_fd(ws, hermes_net_fd(net), &net_tag), HERMES_OK);
	hermes_waitset_set_spin(ws, 0);

	for (int round = 0; round < 6; round++) {
		bool remote = round % 2 == 0;
		waited w = {.ws = ws};
		ht_timed t;
		ht_timed_start(&t, wait_set, &w);
		await_announced(sub);
		if (remote) /* reaches the waiter through the bridge and TCP */
			assert_int_equal(hermes_pub_send(remote_pub, "far", 3, NULL), HERMES_OK);
		else
			assert_int_equal(hermes_pub_send(local_pub, "near", 4, NULL), HERMES_OK);
		ht_timed_expect(&t, HERMES_OK, SOON_NS);
		assert_int_equal(w.n, 1);
		if (remote) {
			assert_ptr_equal(w.ready[0].user, &net_tag);
			assert_int_equal(w.ready[0].fd, hermes_net_fd(net));
			assert_int_equal(drain_net(net, "far"), 1);
		} else {
			assert_ptr_equal(w.ready[0].user, &ring_tag);
			assert_ptr_equal(w.ready[0].sub, sub);
			hermes_msg m;
			assert_int_equal(hermes_sub_poll(sub, &m), HERMES_OK);
			assert_memory_equal(m.data, "near", 4);
			hermes_sub_release(sub);
		}
	}
	assert_int_equal(hermes_waitset_remove_fd(ws, hermes_net_fd(net)), HERMES_OK);
	assert_int_equal(hermes_waitset_remove_sub(ws, sub), HERMES_OK);
	hermes_waitset_destroy(ws);
	hermes_net_close(net);
	hermes_pub_close(local_pub);
	hermes_pub_close(remote_pub);
	hermes_sub_close(sub);
	hermes_bus_detach(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bridge_connection_and_ring_in_one_wait_set, setup,
						ht_br_fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
