/* hermes-nats modules without a server: configuration (file, flags, ring
 * specs, derived subjects and streams, errors with their line), the state
 * file (create, lock, keep, reset, refuse), the range log that prevents
 * loops, and how a restart settles a commit the previous run left open. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/support/bus.h"
#include "tests/support/testing.h"
#include "tests/nats-uplink/nats_harness.h"

static void test_defaults_and_derived_names(void **state)
{
	(void)state;
	hm_nats_config c;
	unsetenv("HERMES_BUS");
	unsetenv("HERMES_NATS_URL");
	hm_nats_config_defaults(&c);
	assert_int_equal(hm_nats_config_ring_spec(&c, "orders.eu"), HERMES_OK);
	assert_int_equal(hm_nats_config_finish(&c), HERMES_OK);
	assert_string_equal(c.bus, "default");
	assert_int_equal(c.nurls, 1);
	assert_string_equal(c.urls[0], "nats://127.0.0.1:4222");
	assert_string_equal(c.state_path, "/dev/shm/hermes-nats.default");
	const hm_nats_ring_cfg *r = &c.rings[0];
	assert_int_equal(r->dir, HM_NATS_DIR_BOTH);
	assert_int_equal(r->mode, HM_NATS_MODE_CORE);
	assert_int_equal(r->policy, HM_NATS_POLICY_BLOCK);
	assert_string_equal(r->subject, "hermes.orders.eu");
	assert_string_equal(r->stream, "HERMES_ORDERS_EU");
	assert_int_equal(r->max_pending, 4u << 20);
}

static void test_file_sections_and_inheritance(void **state)
{
	(void)state;
	hm_nats_config c;
	hm_nats_config_defaults(&c);
	const char *ini = "[ring a]\n"
			  "direction = out\n"
			  "[uplink]\n"
			  "bus = trading\n"
			  "url = nats://10.0.0.1:4222, nats://10.0.0.2:4222\n"
			  "url = tls://10.0.0.3:4443\n"
			  "prefix = site1.hermes\n"
			  "mode = jetstream\n"
			  "policy = drop\n"
			  "max_pending = 8M\n"
			  "replicas = 3\n"
			  "reconnect_wait = 250ms\n"
			  "reconnect_max_wait = 5s\n"
			  "[nats]\n"
			  "user = u1\n"
			  "password = pw\n"
			  "[ring b]\n"
			  "direction = in\n"
			  "mode = core\n"
			  "stream = MINE\n"
			  "subject = other.subject\n"
			  "max_pending = 64K\n";
	assert_int_equal(hm_nats_config_load_string(&c, ini), HERMES_OK);
	assert_int_equal(hm_nats_config_finish(&c), HERMES_OK);
	assert_string_equal(c.bus, "trading");
	assert_int_equal(c.nurls, 3);
	assert_string_equal(c.urls[1], "nats://10.0.0.2:4222");
	assert_string_equal(c.urls[2], "tls://10.0.0.3:4443");
	assert_int_equal(c.reconnect_wait_ms, 250);
	assert_int_equal(c.reconnect_max_wait_ms, 5000);
	assert_string_equal(c.user, "u1");
	/* Ring a takes every default from [uplink], even though [uplink] came
	 * after it in the file. */
	assert_int_equal(c.rings[0].dir, HM_NATS_DIR_OUT);
	assert_int_equal(c.rings[0].mode, HM_NATS_MODE_JETSTREAM);
	assert_int_equal(c.rings[0].policy, HM_NATS_POLICY_DROP);
	assert_int_equal(c.rings[0].max_pending, 8u << 20);
	assert_int_equal(c.rings[0].replicas, 3);
	assert_string_equal(c.rings[0].subject, "site1.hermes.a");
	assert_string_equal(c.rings[0].stream, "HERMES_A");
	assert_int_equal(c.rings[1].dir, HM_NATS_DIR_IN);
	assert_int_equal(c.rings[1].mode, HM_NATS_MODE_CORE);
	assert_string_equal(c.rings[1].subject, "other.subject");
	assert_string_equal(c.rings[1].stream, "MINE");
	assert_int_equal(c.rings[1].max_pending, 64u << 10);
}

static void expect_error(const char *ini, const char *needle)
{
	hm_nats_config c;
	hm_nats_config_defaults(&c);
	hermes_err err = hm_nats_config_load_string(&c, ini);
	ht_assert_fails(err ? err : hm_nats_config_finish(&c), HERMES_EINVAL, needle);
}

static void test_bad_files_are_refused_with_their_line(void **state)
{
	(void)state;
	expect_error("[uplink]\nbus = b\nspeed = 3\n", "line 3");
	expect_error("[uplink]\nspeed = 3\n", "unknown key 'speed'");
	expect_error("[ring x]\ndirection = sideways\n", "direction 'sideways'");
	expect_error("[ring x]\nmode = turbo\n", "mode 'turbo'");
	expect_error("[ring x]\npolicy = maybe\n", "policy 'maybe'");
	expect_error("[ring x]\nstream = A.B\n", "stream name 'A.B'");
	expect_error("[ring x]\nsubject = a..b\n", "not a valid NATS subject");
	expect_error("[ring x]\nsubject = a.*\n", "not a valid NATS subject");
	expect_error("[uplink]\nprefix = has space\n[ring x]\ndirection = both\n", "prefix");
	expect_error("[uplink]\nurl = http://x\n", "must start with nats://");
	expect_error("[uplink]\nbatch = 5000\n", "batch");
	expect_error("[uplink]\nreconnect_wait = soon\n", "reconnect_wait");
	expect_error("[nats]\nnkey = UABC\n[ring x]\ndirection = in\n", "nkey and nkey_seed");
	expect_error("[ring x]\nsubject = s.t\n[ring y]\nsubject = s.t\n", "both use subject");
	expect_error("[weird]\nk = v\n", "unknown section");
	expect_error("[ring bad/name]\ndirection = in\n", "ring name");
	expect_error("[uplink]\nbus = x\n", "no ring to carry");
	/* With two bad lines, the message is the first one's, with its line. */
	expect_error("[uplink]\nbatch = 0\nflush = later\n", "line 2: batch '0' must be 1..1024");
}

static void test_ring_specs(void **state)
{
	(void)state;
	hm_nats_config c;
	hm_nats_config_defaults(&c);
	assert_int_equal(hm_nats_config_ring_spec(&c, "a:out:jetstream:drop"), HERMES_OK);
	assert_int_equal(hm_nats_config_ring_spec(&c, "b:in"), HERMES_OK);
	ht_assert_fails(hm_nats_config_ring_spec(&c, "c:up"), HERMES_EINVAL,
			"ring 'c': direction 'up' must be out, in or both");
	ht_assert_fails(hm_nats_config_ring_spec(&c, "d:out:core:block:extra"), HERMES_EINVAL,
			"--ring 'd:out:core:block:extra' must be NAME[:");
	assert_int_equal(hm_nats_config_set(&c, "uplink", "mode", "jetstream"), HERMES_OK);
	assert_int_equal(hm_nats_config_finish(&c), HERMES_OK);
	assert_int_equal(c.rings[0].dir, HM_NATS_DIR_OUT);
	assert_int_equal(c.rings[0].mode, HM_NATS_MODE_JETSTREAM);
	assert_int_equal(c.rings[0].policy, HM_NATS_POLICY_DROP);
	/* b did not say: it takes [uplink] mode, set after it. */
	assert_int_equal(c.rings[1].mode, HM_NATS_MODE_JETSTREAM);
	assert_int_equal(c.rings[1].dir, HM_NATS_DIR_IN);
}

/* The shipped example documents every key: it must stay a valid file. */
static void test_example_config_is_valid(void **state)
{
	(void)state;
	hm_nats_config c;
	hm_nats_config_defaults(&c);
	assert_int_equal(hm_nats_config_load_file(&c, HERMES_SOURCE_DIR "/nats-uplink/hermes-nats.conf.example"),
			 HERMES_OK);
	assert_int_equal(hm_nats_config_finish(&c), HERMES_OK);
	assert_int_equal(c.nrings, 2);
	assert_int_equal(c.rings[0].replicas, 3);
	assert_int_equal(c.rings[1].policy, HM_NATS_POLICY_DROP);
}

/* The duration keys take core/units' syntax (tests/core/test_units.c); a
 * bare number is milliseconds. */
static void test_durations(void **state)
{
	(void)state;
	hm_nats_config c;
	hm_nats_config_defaults(&c);
	assert_int_equal(hm_nats_config_set(&c, "uplink", "reconnect_wait", "250"), HERMES_OK);
	assert_int_equal(c.reconnect_wait_ms, 250);
	assert_int_equal(hm_nats_config_set(&c, "uplink", "stream_max_age", "7d"), HERMES_OK);
	assert_int_equal(c.stream_max_age_ms, 7ll * 86400 * 1000);
	assert_int_equal(hm_nats_config_set(&c, "uplink", "connect_timeout", "2 s"), HERMES_EINVAL);
	ht_assert_says(hermes_last_error_detail(), "connect_timeout");
}

/* ---- the state file ---- */

static void state_path(char *buf, size_t len)
{
	snprintf(buf, len, "/tmp/hermes-nats-state-%d", (int)getpid());
}

static hm_nats_ring_cfg ring_cfg(const char *name, unsigned mode)
{
	hm_nats_ring_cfg r = {.dir = HM_NATS_DIR_BOTH, .mode = mode, .max_pending = 1 << 20, .replicas = 1};
	snprintf(r.name, sizeof r.name, "%s", name);
	snprintf(r.subject, sizeof r.subject, "hermes.%s", name);
	snprintf(r.stream, sizeof r.stream, "S");
	return r;
}

/* The state file at path opened for bus "busx" with this id, ring r claimed
 * in it; close_state unmaps and closes it. */
static hm_nats_ring_state *open_state(const char *path, uint64_t id, const hm_nats_ring_cfg *r,
				 hm_nats_state_header **h, int *fd)
{
	ht_assert_ok(hm_nats_state_open(path, "busx", id, NULL, h, fd));
	hm_nats_ring_state *rs = hm_nats_state_ring_claim(*h, r);
	assert_non_null(rs);
	return rs;
}

static void close_state(hm_nats_state_header *h, int fd)
{
	munmap(h, HM_NATS_STATE_SIZE);
	close(fd);
}

static void test_state_file_keeps_resets_and_locks(void **state)
{
	(void)state;
	char path[96];
	state_path(path, sizeof path);
	unlink(path);
	hm_nats_state_header *h;
	int fd;
	hm_nats_ring_cfg r = ring_cfg("x", HM_NATS_MODE_JETSTREAM);
	hm_nats_ring_state *rs = open_state(path, 0x1111, &r, &h, &fd);
	hm_store_relaxed_u64(&rs->inp.applied, 42);
	hm_nats_state_started(h, "hermes");
	/* A second uplink for the same bus is refused while the first lives,
	 * and is told which pid holds it. */
	hm_nats_state_header *h2;
	int fd2;
	char pid[32];
	snprintf(pid, sizeof pid, "pid %d", (int)getpid());
	ht_assert_fails(hm_nats_state_open(path, "busx", 0x1111, NULL, &h2, &fd2), HERMES_EBUSY, pid);
	assert_int_equal(fd2, -1);
	close_state(h, fd);

	/* Same bus: the persistent state is still there; readers see it. */
	rs = open_state(path, 0x1111, &r, &h, &fd);
	assert_int_equal(hm_load_relaxed_u64(&rs->inp.applied), 42);
	const hm_nats_state_header *ro;
	ht_assert_ok(hm_nats_state_map_readonly(path, &ro));
	assert_int_equal(ro->bus_id, 0x1111);
	assert_int_equal(hm_nats_state_ring((hm_nats_state_header *)ro, 0)->configured, 1);
	hm_nats_state_unmap(ro);
	close_state(h, fd);

	/* The bus was re-created (another id): start over. */
	rs = open_state(path, 0x2222, &r, &h, &fd);
	assert_int_equal(hm_load_relaxed_u64(&rs->inp.applied), 0);
	/* Another layout version: refused, never overwritten. */
	h->version = HM_NATS_STATE_VERSION + 1;
	close_state(h, fd);
	ht_assert_fails(hm_nats_state_open(path, "busx", 0x2222, NULL, &h, &fd), HERMES_EVERSION,
			"another hermes-nats version");
	const hm_nats_state_header *ro2;
	ht_assert_fails(hm_nats_state_map_readonly(path, &ro2), HERMES_EVERSION,
			"not a state file of this version");
	assert_null(ro2);
	unlink(path);
	ht_assert_fails(hm_nats_state_map_readonly(path, &ro2), HERMES_ENOENT,
			"(has hermes-nats run on this bus?)");
}

static void test_range_log_finds_inbound_sequences(void **state)
{
	(void)state;
	hm_nats_ring_state *rs = calloc(1, sizeof *rs);
	atomic_bool stop = false;
	/* Inbound batches at 10..12 and 13..14 (merged), 20, then 30..31. */
	assert_true(hm_nats_range_add(rs, 10, 3, &stop));
	assert_true(hm_nats_range_add(rs, 13, 2, &stop));
	assert_true(hm_nats_range_add(rs, 20, 1, &stop));
	assert_true(hm_nats_range_add(rs, 30, 2, &stop));
	assert_int_equal(hm_load_relaxed_u64(&rs->rl_tail.tail), 3);
	hm_nats_range_cursor cur;
	hm_nats_range_cursor_init(rs, &cur);
	bool expect[40] = {0};
	for (unsigned s = 10; s <= 14; s++)
		expect[s] = true;
	expect[20] = expect[30] = expect[31] = true;
	for (unsigned s = 0; s < 40; s++)
		if (hm_nats_range_contains(rs, &cur, s) != expect[s])
			fail_msg("sequence %u: expected %s", s, expect[s] ? "inbound" : "local");
	/* Trim keeps what a restart at 21 still needs, and always the last. */
	hm_nats_range_trim(rs, 21);
	assert_int_equal(hm_load_relaxed_u64(&rs->rl_head.head), 2);
	hm_nats_range_trim(rs, 1000);
	assert_int_equal(hm_load_relaxed_u64(&rs->rl_head.head), 2);
	/* A restarted reader starts at head and still finds 30, 31. */
	hm_nats_range_cursor_init(rs, &cur);
	assert_false(hm_nats_range_contains(rs, &cur, 25));
	assert_true(hm_nats_range_contains(rs, &cur, 30));
	/* Full: the writer waits for the reader; told to stop, it gives up. */
	for (uint64_t i = 0; hm_load_relaxed_u64(&rs->rl_tail.tail) -
				     hm_load_relaxed_u64(&rs->rl_head.head) < HM_NATS_RANGE_LOG;
	     i++)
		assert_true(hm_nats_range_add(rs, 100 + 2 * i, 1, &stop));
	atomic_store(&stop, true);
	assert_false(hm_nats_range_add(rs, 100000, 1, &stop));
	free(rs);
}

/* ---- settling an unfinished commit ---- */

static void test_restart_settles_an_unfinished_commit(void **state)
{
	(void)state;
	ht_bus b;
	ht_bus_private(&b, "resolve", 8u << 20);
	ht_bus_ring(&b, "r", 1 << 16, 1024, HERMES_POLICY_BLOCK);
	hermes_bus *bus = b.bus;
	hermes_pub *pub;
	assert_int_equal(hermes_pub_open(bus, "r", &pub), HERMES_OK);
	hm_nats_ring_state *rs = calloc(1, sizeof *rs);

	/* Committed (seq 0): applied moves to the batch's last stream sequence. */
	uint64_t seq;
	assert_int_equal(hermes_pub_send(pub, "m", 1, &seq), HERMES_OK);
	hm_store_relaxed_u64(&rs->inp.applied, 3);
	hm_store_relaxed_u64(&rs->inp.pend_ring_seq, seq);
	hm_store_relaxed_u64(&rs->inp.pend_stream_last, 7);
	hm_store_relaxed_u64(&rs->inp.pend_valid, 1);
	assert_true(hm_nats_in_resolve_pending(bus, "r", rs));
	assert_int_equal(hm_load_relaxed_u64(&rs->inp.applied), 7);
	assert_int_equal(hm_load_relaxed_u64(&rs->inp.pend_valid), 0);

	/* Abandoned (seq 1, as after a repair), with a later message behind it:
	 * not committed, applied stays, the batch will be fetched again. */
	hermes_claim c;
	assert_int_equal(hermes_pub_claim(pub, 4, &c), HERMES_OK);
	uint64_t abandoned = hermes_claim_seq(&c);
	assert_int_equal(hermes_pub_abort(pub, &c), HERMES_OK);
	assert_int_equal(hermes_pub_send(pub, "n", 1, NULL), HERMES_OK);
	hm_store_relaxed_u64(&rs->inp.pend_ring_seq, abandoned);
	hm_store_relaxed_u64(&rs->inp.pend_stream_last, 12);
	hm_store_relaxed_u64(&rs->inp.pend_valid, 1);
	assert_false(hm_nats_in_resolve_pending(bus, "r", rs));
	assert_int_equal(hm_load_relaxed_u64(&rs->inp.applied), 7);

	/* Still claimed, never committed (its owner gone): not committed. */
	assert_int_equal(hermes_pub_claim(pub, 4, &c), HERMES_OK);
	hm_store_relaxed_u64(&rs->inp.pend_ring_seq, hermes_claim_seq(&c));
	hm_store_relaxed_u64(&rs->inp.pend_stream_last, 20);
	hm_store_relaxed_u64(&rs->inp.pend_valid, 1);
	assert_false(hm_nats_in_resolve_pending(bus, "r", rs));
	assert_int_equal(hm_load_relaxed_u64(&rs->inp.applied), 7);
	assert_int_equal(hm_nats_in_resolve_pending(bus, "r", rs), false); /* nothing pending now */
	hermes_pub_abort(pub, &c);

	free(rs);
	hermes_pub_close(pub);
	ht_bus_teardown(&b);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_derived_names),
		cmocka_unit_test(test_file_sections_and_inheritance),
		cmocka_unit_test(test_bad_files_are_refused_with_their_line),
		cmocka_unit_test(test_ring_specs),
		cmocka_unit_test(test_example_config_is_valid),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_state_file_keeps_resets_and_locks),
		cmocka_unit_test(test_range_log_finds_inbound_sequences),
		cmocka_unit_test(test_restart_settles_an_unfinished_commit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
