/* Buses linked through their bridges: two buses (two hermesd, two bridges)
 * linked both ways, and three in a triangle, each bus publishing into its
 * ring "mirror": every bus sees every message of every other bus exactly
 * once, per origin in order, and none comes back to where it started (a
 * loop would show as a duplicate). As root, the two-bus case runs again
 * between two network namespaces the test makes and removes (veth,
 * 10.199.7.0/30 inside the namespaces only); skipped when that is not
 * possible. Origin tables that cannot be kept in the state directory are
 * kept in memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/tcp-bridge/bridge_support.h"

#define PROBE 0xFF
#define MAXN 3
#define WINDOW 8192

typedef struct node {
	ht_bus fx; /* the node's bus, hermesd and run directory */
	ht_br_bridge b;
	hermes_bus *bus;
	hermes_pub *pub;
	hermes_sub *sub;
	uint8_t id;
	uint64_t next[MAXN];
	bool probed[MAXN];
	char error[200];
} node;

/* Everything a test started, so a failing test still cleans up. */
static node *started[8];
static unsigned nstarted;
static char ns_a[32], ns_b[32];

static void node_start(node *n, uint8_t id, const char *tag)
{
	memset(n, 0, sizeof *n);
	started[nstarted++] = n;
	n->id = id;
	static const hermes_ring_config rings[] = {{"mirror", 4u << 20}, {0}};
	ht_br_bus_start(&n->fx, tag, rings);
	n->bus = n->fx.bus;
	assert_int_equal(hermes_pub_open(n->bus, "mirror", &n->pub), HERMES_OK);
	assert_int_equal(hermes_sub_open(n->bus, "mirror", HERMES_START_LATEST, 0, &n->sub), HERMES_OK);
}

static void node_stop(node *n)
{
	for (unsigned i = 0; i < nstarted; i++)
		if (started[i] == n)
			started[i] = started[--nstarted];
	ht_br_bridge_stop(&n->b);
	hermes_sub_close(n->sub);
	hermes_pub_close(n->pub);
	ht_bus_teardown(&n->fx);
}

/* n[count-1] down to n[0]. */
static void nodes_stop(node *n, unsigned count)
{
	while (count)
		node_stop(&n[--count]);
}

/* Nodes n[0..count) on buses <tag>A, <tag>B, ... */
static void nodes_start(node *n, unsigned count, const char *tag)
{
	for (unsigned i = 0; i < count; i++) {
		char name[32];
		snprintf(name, sizeof name, "%s%c", tag, 'A' + i);
		node_start(&n[i], (uint8_t)i, name);
	}
}

/* Their bridges: n[0]'s listens alone; each next one also links `ring` to
 * every earlier bridge (B to A; C to A and B). */
static void bridges_linked(node *n, unsigned count, const char *ring)
{
	char links[MAXN][128];
	const char *extra[2 * MAXN + 1];
	for (unsigned i = 0; i < count; i++) {
		unsigned k = 0;
		for (unsigned j = 0; j < i; j++) {
			snprintf(links[j], sizeof links[j], "%s/%s", n[j].b.addr, ring);
			extra[k++] = "--link";
			extra[k++] = links[j];
		}
		extra[k] = NULL;
		char tag[16];
		snprintf(tag, sizeof tag, "bridge%c", 'A' + i);
		ht_br_bridge_start(&n[i].b, &n[i].fx.d, tag, extra);
	}
}

/* Read what is there; check each message's origin counter. */
static void drain(node *n)
{
	hermes_msg m;
	hermes_err err;
	while ((err = hermes_sub_poll(n->sub, &m)) == HERMES_OK) {
		const uint8_t *p = m.data;
		if (m.len != 9 || (p[0] >= MAXN && p[0] != PROBE)) {
			snprintf(n->error, sizeof n->error, "bus %u: a message of %u bytes", n->id, m.len);
			continue;
		}
		uint64_t k;
		memcpy(&k, p + 1, 8);
		if (p[0] == PROBE) {
			if (k < MAXN)
				n->probed[k] = true;
			continue;
		}
		if (k != n->next[p[0]] && !n->error[0])
			snprintf(n->error, sizeof n->error,
				 "bus %u: message %llu of bus %u arrived when %llu was due (%s)", n->id,
				 (unsigned long long)k, p[0], (unsigned long long)n->next[p[0]],
				 k < n->next[p[0]] ? "a duplicate" : "a gap");
		n->next[p[0]]++;
	}
	hermes_sub_release(n->sub);
	if (err != HERMES_EAGAIN && !n->error[0])
		snprintf(n->error, sizeof n->error, "bus %u: poll %s", n->id, hermes_strerror(err));
}

static void send_msg(node *n, uint8_t origin, uint64_t k, node *all, unsigned count)
{
	uint8_t p[9] = {origin};
	memcpy(p + 1, &k, 8);
	uint64_t deadline = ht_now_ns() + 30000000000ull;
	while (hermes_pub_send(n->pub, p, sizeof p, NULL) == HERMES_EAGAIN) {
		for (unsigned i = 0; i < count; i++)
			drain(&all[i]);
		if (ht_now_ns() > deadline)
			fail_msg("bus %u: ring full for 30 s", n->id);
		hermes_sub_wait(all[0].sub, HERMES_WAIT_YIELD, 100000);
	}
}

/* Wait until a probe from `from` shows up on `to`: the link between them
 * carries traffic in that direction. */
static void await_flow(node *all, unsigned count, unsigned from, unsigned to)
{
	uint64_t deadline = ht_now_ns() + 20000000000ull;
	while (!all[to].probed[from]) {
		send_msg(&all[from], PROBE, from, all, count);
		uint64_t until = ht_now_ns() + 20000000ull;
		while (!all[to].probed[from] && ht_now_ns() < until) {
			hermes_sub_wait(all[to].sub, HERMES_WAIT_BLOCK, 5000000);
			for (unsigned i = 0; i < count; i++)
				drain(&all[i]);
		}
		if (ht_now_ns() > deadline) {
			ht_file_dump(all[to].b.log);
			ht_file_dump(all[from].b.log);
			fail_msg("no traffic from bus %u to bus %u within 20 s", from, to);
		}
	}
}

/* Every bus publishes `per` messages; every bus must get all of them.
 * midway (may be NULL) runs when half of them are published. */
static void exchange_with(node *all, unsigned count, uint64_t per, void (*midway)(node *all))
{
	for (unsigned a = 0; a < count; a++)
		for (unsigned b = 0; b < count; b++)
			if (a != b)
				await_flow(all, count, a, b);
	for (unsigned i = 0; i < count; i++) {
		drain(&all[i]);
		memset(all[i].next, 0, sizeof all[i].next);
	}
	uint64_t t0 = ht_now_ns();
	for (uint64_t k = 0; k < per; k++) {
		/* Producers stay at most WINDOW messages ahead of every bus they
		 * feed: an end-to-end window, as a real application's flow
		 * control would keep it. Unbounded, both rings fill with
		 * messages waiting for the other side (see tcp-bridge/bridge/link.c). */
		uint64_t deadline = ht_now_ns() + 60000000000ull;
		for (;;) {
			bool ok = true;
			for (unsigned i = 0; i < count; i++)
				for (unsigned j = 0; j < count; j++)
					ok &= i == j || all[j].next[i] + WINDOW > k;
			if (ok)
				break;
			if (ht_now_ns() > deadline)
				fail_msg("no progress for 60 s at message %llu", (unsigned long long)k);
			hermes_sub_wait(all[0].sub, HERMES_WAIT_BLOCK, 1000000);
			for (unsigned i = 0; i < count; i++) {
				drain(&all[i]);
				if (all[i].error[0])
					fail_msg("%s", all[i].error);
			}
		}
		for (unsigned i = 0; i < count; i++)
			send_msg(&all[i], all[i].id, k, all, count);
		if ((k & 255) == 0)
			for (unsigned i = 0; i < count; i++)
				drain(&all[i]);
		if (midway && k == per / 2)
			midway(all);
	}
	/* A marker from each bus, after everything: whatever a loop would send
	 * back arrives before it. */
	for (unsigned i = 0; i < count; i++)
		send_msg(&all[i], all[i].id, per, all, count);
	uint64_t deadline = ht_now_ns() + 120000000000ull;
	for (;;) {
		bool done = true;
		for (unsigned i = 0; i < count; i++) {
			drain(&all[i]);
			if (all[i].error[0])
				fail_msg("%s", all[i].error);
			for (unsigned o = 0; o < count; o++)
				done &= all[i].next[o] == per + 1;
		}
		if (done)
			break;
		if (ht_now_ns() > deadline) {
			for (unsigned i = 0; i < count; i++)
				fprintf(stderr, "bus %u: %llu %llu %llu\n", i,
					(unsigned long long)all[i].next[0],
					(unsigned long long)all[i].next[1],
					(unsigned long long)all[i].next[2]);
			fail_msg("not every message arrived within 120 s");
		}
		hermes_sub_wait(all[0].sub, HERMES_WAIT_BLOCK, 10000000);
	}
	double secs = (double)(ht_now_ns() - t0) / 1e9;
	printf("%u buses, %llu messages from each: every bus got every message exactly once, per "
	       "origin in order, none came back (%.2f s)\n",
	       count, (unsigned long long)per, secs);
}

static void exchange(node *all, unsigned count, uint64_t per)
{
	exchange_with(all, count, per, NULL);
}

static char crash_listen[64];

/* kill -9 bus A's bridge while messages flow both ways, start it again. */
static void crash_bridge_a(node *all)
{
	ht_proc_kill(&all[0].b.pid);
	ht_br_bridge_start_ns(&all[0].b, &all[0].fx.d, "bridgeA-restarted", NULL, crash_listen, NULL);
	printf("bus A's bridge killed (SIGKILL) in mid-stream and restarted\n");
}

/* Publish a message of len bytes (pattern tag) on from until it shows up on
 * to: the link mirrors it (the first ones may go before the link is up). */
static void await_large(node *from, node *to, hermes_sub *on_from, hermes_sub *on_to, uint32_t len,
			uint8_t tag)
{
	static uint8_t msg[1u << 20];
	memset(msg, tag, len);
	hermes_pub *pub;
	assert_int_equal(hermes_pub_open(from->bus, "big", &pub), HERMES_OK);
	uint64_t deadline = ht_now_ns() + 30000000000ull;
	for (;;) {
		hermes_err err = hermes_pub_send_timed(pub, msg, len, NULL, 10000000000ll);
		if (err)
			fail_msg("bus %u: the ring stayed full for 10 s (%s): its link holds it",
				 from->id, hermes_strerror(err));
		/* Our own subscriber of the block ring keeps up, so it never
		 * holds the producer. */
		hermes_msg own;
		while (hermes_sub_poll(on_from, &own) == HERMES_OK)
			;
		uint64_t until = ht_now_ns() + 200000000ull;
		while (ht_now_ns() < until) {
			hermes_msg m;
			hermes_err got = hermes_sub_poll(on_to, &m);
			if (got == HERMES_OK && m.len == len && ((const uint8_t *)m.data)[len - 1] == tag) {
				hermes_pub_close(pub);
				return;
			}
			if (got == HERMES_EAGAIN)
				hermes_sub_wait(on_to, HERMES_WAIT_BLOCK, 20000000);
		}
		if (ht_now_ns() > deadline) {
			ht_file_dump(from->b.log);
			ht_file_dump(to->b.log);
			fail_msg("a message of %u bytes never crossed from bus %u to bus %u", len, from->id,
				 to->id);
		}
	}
}

/* Rings whose largest message is the largest a link can carry (the far
 * bridge's max_frame, 1 MiB, less the header and the 16-byte origin
 * prefix): both directions get through. The exporting side used to wait
 * forever for room its output buffer could never have. */
static void test_a_link_carries_the_largest_messages_both_ways(void **state)
{
	(void)state;
	static node n[2];
	const uint32_t largest = (1u << 20) - 24 - 16;
	nodes_start(n, 2, "lkbig");
	hermes_sub *sub[2];
	for (int i = 0; i < 2; i++) {
		ht_bus_ring(&n[i].fx, "big", 16u << 20, largest, HERMES_POLICY_BLOCK);
		assert_int_equal(hermes_sub_open(n[i].bus, "big", HERMES_START_LATEST, 0, &sub[i]),
				 HERMES_OK);
	}
	bridges_linked(n, 2, "big");
	await_large(&n[0], &n[1], sub[0], sub[1], largest, 0xA1);
	await_large(&n[1], &n[0], sub[1], sub[0], largest, 0xB2);
	printf("a link carries messages of %u bytes both ways\n", largest);
	for (int i = 0; i < 2; i++)
		hermes_sub_close(sub[i]);
	nodes_stop(n, 2);
}

/* count buses, each bridge linking mirror to every earlier one, exchange
 * `per` messages from each. */
static void linked_exchange(unsigned count, const char *tag, uint64_t per)
{
	static node n[MAXN];
	nodes_start(n, count, tag);
	bridges_linked(n, count, "mirror");
	exchange(n, count, per);
	nodes_stop(n, count);
}

static void test_two_buses_linked_both_ways(void **state)
{
	(void)state;
	linked_exchange(2, "lk", ht_scaled(200000));
}

static void test_three_buses_in_a_triangle(void **state)
{
	(void)state;
	linked_exchange(3, "tr", ht_scaled(50000));
}

/* A link that breaks (the far bridge restarts) comes back by itself. */
static void test_a_link_reconnects_after_the_peer_restarts(void **state)
{
	(void)state;
	static node n[2];
	nodes_start(n, 2, "rc");
	bridges_linked(n, 2, "mirror");
	char listen[64];
	snprintf(listen, sizeof listen, "%s", n[0].b.addr);
	exchange(n, 2, ht_scaled(20000));
	/* Restart A's bridge on the same port: B's link retries with backoff. */
	ht_br_bridge_stop(&n[0].b);
	ht_br_bridge_start_ns(&n[0].b, &n[0].fx.d, "bridgeA2", NULL, listen, NULL);
	for (unsigned i = 0; i < 2; i++)
		memset(n[i].probed, 0, sizeof n[i].probed);
	exchange(n, 2, ht_scaled(20000));
	assert_true(ht_file_has(n[1].b.log, "lost"));
	nodes_stop(n, 2);
}

/* Origin tables the state directory cannot keep (a symbolic link in the
 * file's place, a file others may read) are kept in memory: the link works
 * all the same, nothing is written through the link, and each bridge says
 * why in its log. */
static void test_unusable_origin_table_files_fall_back_to_memory(void **state)
{
	(void)state;
	static node n[2];
	nodes_start(n, 2, "of");
	char path[2][300], target[300];
	for (unsigned i = 0; i < 2; i++)
		snprintf(path[i], sizeof path[i], "%s/hermes-bridge.%s.mirror.origins",
			 n[i].fx.d.run_dir, n[i].fx.d.bus);
	snprintf(target, sizeof target, "%s/elsewhere", n[0].fx.d.run_dir);
	assert_int_equal(symlink(target, path[0]), 0);
	int fd = open(path[1], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, 0644), 0);
	close(fd);
	bridges_linked(n, 2, "mirror");
	exchange(n, 2, ht_scaled(2000));
	assert_true(ht_file_has(n[0].b.log, "(Too many levels of symbolic links); in memory only"));
	assert_true(ht_file_has(n[1].b.log, "(Operation not permitted: the file there belongs to "
					    "another user or is not private); in memory only"));
	assert_int_equal(access(target, F_OK), -1);
	nodes_stop(n, 2);
}

static bool sh(const char *cmd);

/* After a failure: kill what is left, remove namespaces. */
static int cleanup(void **state)
{
	(void)state;
	while (nstarted) {
		node *n = started[--nstarted];
		ht_proc_kill(&n->b.pid);
		ht_daemon_cleanup(&n->fx.d);
	}
	char cmd[128];
	if (ns_a[0]) {
		snprintf(cmd, sizeof cmd, "ip netns del %s", ns_a);
		sh(cmd);
		ns_a[0] = '\0';
	}
	if (ns_b[0]) {
		snprintf(cmd, sizeof cmd, "ip netns del %s", ns_b);
		sh(cmd);
		ns_b[0] = '\0';
	}
	return 0;
}

static bool sh(const char *cmd)
{
	char full[512];
	snprintf(full, sizeof full, "%s >/dev/null 2>&1", cmd);
	return system(full) == 0;
}

static void test_two_buses_in_two_network_namespaces(void **state)
{
	(void)state;
	if (geteuid() != 0 || !sh("command -v ip")) {
		printf("not root, or no `ip`: skipped\n");
		skip();
	}
	char a[32], b[32], va[16], vb[16], cmd[256];
	int pid = (int)getpid() % 100000;
	snprintf(a, sizeof a, "hmA%d", pid);
	snprintf(b, sizeof b, "hmB%d", pid);
	snprintf(va, sizeof va, "hva%d", pid);
	snprintf(vb, sizeof vb, "hvb%d", pid);
	bool ok = true;
#define RUN(...)                                                                                   \
	do {                                                                                       \
		snprintf(cmd, sizeof cmd, __VA_ARGS__);                                            \
		ok = ok && sh(cmd);                                                                \
	} while (0)
	RUN("ip netns add %s", a);
	if (ok)
		snprintf(ns_a, sizeof ns_a, "%s", a);
	RUN("ip netns add %s", b);
	if (ok)
		snprintf(ns_b, sizeof ns_b, "%s", b);
	RUN("ip link add %s type veth peer name %s", va, vb);
	RUN("ip link set %s netns %s", va, a);
	RUN("ip link set %s netns %s", vb, b);
	RUN("ip -n %s addr add 10.199.7.1/30 dev %s", a, va);
	RUN("ip -n %s addr add 10.199.7.2/30 dev %s", b, vb);
	RUN("ip -n %s link set %s up", a, va);
	RUN("ip -n %s link set %s up", b, vb);
	RUN("ip -n %s link set lo up", a);
	RUN("ip -n %s link set lo up", b);
	if (!ok) {
		cleanup(NULL);
		printf("cannot make network namespaces here: skipped\n");
		skip();
	}
	static node n[2];
	nodes_start(n, 2, "ns");
	/* A non-loopback address: without --auth the bridge insists on
	 * --insecure (refusing otherwise is tested below). */
	const char *refuse[] = {"--bus", n[0].fx.name, "--listen", "10.199.7.1:0", NULL};
	char log[300];
	snprintf(log, sizeof log, "%s/refused.log", n[0].fx.d.run_dir);
	assert_int_equal(ht_br_bridge_run(log, refuse, 10000), 1);
	assert_true(ht_file_has(log, "--insecure"));
	const char *ea[] = {"--insecure", NULL};
	ht_br_bridge_start_ns(&n[0].b, &n[0].fx.d, "bridgeA", a, "10.199.7.1:0", ea);
	char link[128];
	snprintf(link, sizeof link, "%s/mirror", n[0].b.addr);
	const char *eb[] = {"--link", link, NULL};
	ht_br_bridge_start_ns(&n[1].b, &n[1].fx.d, "bridgeB", b, NULL, eb);
	printf("bridge A in netns %s on %s; bridge B in netns %s links to it\n", a, n[0].b.addr, b);
	exchange(n, 2, ht_scaled(50000));
	nodes_stop(n, 2);
	cleanup(NULL);
}

/* The far bridge dies mid-stream: its link peer reconnects, and nothing is
 * lost or duplicated either way (exports resend what was not acked, the
 * restarted bridge drops what it already committed; imports resubscribe
 * where they stopped; the origin tables survive in the state directory). */
static void test_links_resume_exactly_once_when_the_far_bridge_crashes(void **state)
{
	(void)state;
	static node n[2];
	nodes_start(n, 2, "cr");
	bridges_linked(n, 2, "mirror");
	snprintf(crash_listen, sizeof crash_listen, "%s", n[0].b.addr);
	exchange_with(n, 2, ht_scaled(100000), crash_bridge_a);
	nodes_stop(n, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_two_buses_linked_both_ways, cleanup),
		cmocka_unit_test_teardown(test_a_link_carries_the_largest_messages_both_ways, cleanup),
		cmocka_unit_test_teardown(test_three_buses_in_a_triangle, cleanup),
		cmocka_unit_test_teardown(test_a_link_reconnects_after_the_peer_restarts, cleanup),
		cmocka_unit_test_teardown(test_unusable_origin_table_files_fall_back_to_memory, cleanup),
		cmocka_unit_test_teardown(test_links_resume_exactly_once_when_the_far_bridge_crashes,
					  cleanup),
		cmocka_unit_test_teardown(test_two_buses_in_two_network_namespaces, cleanup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
