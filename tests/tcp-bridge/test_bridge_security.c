/* hermes-bridge against the attacks of issue 14, one test each (label
 * "security"): each worked against the bridge before its fix.
 *
 *   1 authenticated sessions are encrypted unless both ends opt out;
 *   2 LINK is a permission, a link carries one origin, an identity a few;
 *     the bus id is random and kept in the state directory;
 *   3 our own link reflected onto our own listener is refused;
 *   4 an identity without `hold` cannot stop a block ring's producers; the
 *     holds of one identity are bounded, and the bridge never takes all of a
 *     ring's subscriber slots;
 *   5 frames before authentication are small; connections per address are
 *     bounded; silent sessions are pinged, then closed; buffers for large
 *     frames come from a bounded budget; out of descriptors, clients are
 *     refused at once;
 *   6 without --auth, the bridge serves nobody unless --allow-anonymous;
 *   7 state files another user (or mode) could have planted are not used;
 *     one cut short does not crash the bridge;
 *   8 the auth file must not be writable by others; keygen grants nothing;
 *     successful authentications are logged at info, failures at a bounded
 *     rate; identity keys are locked in memory.
 * Skipped (77) in a build without libsodium. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/endian.h"
#include "tcp-bridge/client/auth.h"
#include "tcp-bridge/client/client.h"
#include "tests/tcp-bridge/bridge_support.h"

static ht_bus bus;
static ht_br_bridge br; /* --auth, defaults otherwise */
static char auth_path[300], key_alice[300], key_mesh[300], key_reader[300];
#define RING_SLOTS 256u /* "blk": 256 messages of 256 bytes */
/* PROTOCOL.md 6.1's vector (public-key mode), in hex; also checked with an
 * independent X25519/BLAKE2b/HMAC implementation when it was written. */
#define VEC_CS "07a37cbc142093c8b755dc1b10e86cb426374ad16aa853ed0bdfc0b2b86d1c7c"
#define VEC_SS "5869aff450549732cbaaed5e5df9b30a6da31cb0e5742bad5ad4a1a768f1a67b"
#define VEC_CE "64b101b1d0be5a8704bd078f9895001fc03e8e9f9522f188dd128d9846d48466"
#define VEC_SE "244fe3b963e899dd295baffce248d3530f3a9a7479ba063002680ebfe7adad49"
#define VEC_TAGC "2bb6a325e7ce3e9f7769850affd14bc826a0a58b05be62a4eb4652bdaa72654b"
#define VEC_TAGS "4f10ce8803129bba2518c68c62aa3060f990fd7c8984c7f86630bf5a089a5372"
#define VEC_C2S "1e222a1aae7534b2d875458f1959777b2828b1194ecda4acb05535d34e53d003"
#define VEC_S2C "279de2575ae3db2d3e8aee548f8c86e43c494243d67718f5258e22ab81fa165c"
#define VEC_CTAG "9341ecbc61a753faeb0659972b22f8fc06cd531c058069f2c0fd91e22d674497"
#define VEC_STAG "84faf67450ae3fcc8e7f349640e8f0ae48e7b0584971b1063f2460e9e7ffdb02"
/* The far bus whose messages "mesh" links in. */
static const uint64_t far = 0x1234567890abcdefull;

static void keygen(const char *name, char *path, size_t len)
{
	static const char *const psk[] = {"--psk", NULL};
	assert_int_equal(ht_br_keygen(&bus.d, name, psk, path, len), 0);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	ht_write_file(path, text);
	assert_int_equal(chmod(path, mode), 0);
}

/* Bridges a test starts besides the main one: if it fails half-way, the
 * group teardown stops them (by pid). */
static pid_t extra_pids[8];

static void start_extra(ht_br_bridge *b, const char *tag, const char *const *extra)
{
	ht_br_bridge_start(b, &bus.d, tag, extra);
	for (unsigned i = 0; i < 8; i++)
		if (!extra_pids[i]) {
			extra_pids[i] = b->pid;
			break;
		}
}

static void stop_extra(ht_br_bridge *b)
{
	for (unsigned i = 0; i < 8; i++)
		if (extra_pids[i] == b->pid)
			extra_pids[i] = 0;
	ht_br_bridge_stop(b);
}

static void start_main(const char *tag)
{
	const char *extra[] = {"--auth", auth_path, NULL};
	ht_br_bridge_start(&br, &bus.d, tag, extra);
}

static int setup(void **state)
{
	(void)state;
	static const hermes_ring_config rings[] = {{"blk", RING_SLOTS * 256, 256},
						   {"feed", 64u << 10, 256},
						   {"plant", 64u << 10, 256},
						   {"trunc", 64u << 10, 256},
						   {0}};
	ht_br_bus_start(&bus, "brsec", rings);
	keygen("alice", key_alice, sizeof key_alice);
	keygen("mesh", key_mesh, sizeof key_mesh);
	keygen("reader", key_reader, sizeof key_reader);
	snprintf(auth_path, sizeof auth_path, "%s/auth.conf", bus.d.run_dir);
	write_file(auth_path,
		   "[identity alice]\nkey_file = alice.key\npublish = feed blk\nsubscribe = feed\n"
		   "[identity mesh]\nkey_file = mesh.key\npublish = *\nsubscribe = *\nlink = true\n"
		   "[identity reader]\nkey_file = reader.key\npublish = nothing\nsubscribe = *\n",
		   0644);
	start_main("bridge");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ht_br_bridge_stop(&br);
	for (unsigned i = 0; i < 8; i++)
		ht_proc_kill(&extra_pids[i]);
	ht_bus_teardown(&bus);
	return 0;
}

static hermes_err connect_opts(const char *addr, const char *identity, const char *key,
			       int encrypt, uint32_t features, hermes_net **n)
{
	hermes_net_options o;
	hermes_net_options_init(&o);
	o.identity = identity;
	o.key_file = key;
	o.encrypt = encrypt;
	o.features_ = features;
	o.connect_timeout_ns = 5000000000ll;
	return hermes_net_connect(addr, &o, n);
}

/* A bridge's log has a line with needle, or gets one within 10 s. */
static bool log_wait(const char *log, const char *needle)
{
	return ht_file_wait(log, needle, 1, 10000);
}

/* ---- 1 ------------------------------------------------------------------------------ */

static void test_1_authenticated_sessions_are_encrypted_by_default(void **state)
{
	(void)state;
	hermes_net *n;
	/* Client defaults: encrypted. */
	assert_int_equal(connect_opts(br.addr, "alice", key_alice, 0, 0, &n), HERMES_OK);
	assert_true(hermes_net_features(n) & HERMES_FEATURE_ENCRYPT);
	hermes_net_close(n);
	/* A client (or a man in the middle rewriting its HELLO) without
	 * encryption: the server's default refuses it. */
	assert_int_equal(connect_opts(br.addr, "alice", key_alice, -1, 0, &n), HERMES_EPERM);
	printf("plaintext client refused by default: %s\n", hermes_last_error_detail());
	/* A server that opted out still gets encryption from a default client. */
	ht_br_bridge opt;
	const char *extra[] = {"--auth", auth_path, "--encrypt", "optional", NULL};
	start_extra(&opt, "bridge-optional", extra);
	assert_int_equal(connect_opts(opt.addr, "alice", key_alice, 0, 0, &n), HERMES_OK);
	assert_true(hermes_net_features(n) & HERMES_FEATURE_ENCRYPT);
	hermes_net_close(n);
	/* Only both ends opting out give plaintext. */
	assert_int_equal(connect_opts(opt.addr, "alice", key_alice, -1, 0, &n), HERMES_OK);
	assert_false(hermes_net_features(n) & HERMES_FEATURE_ENCRYPT);
	hermes_net_close(n);
	stop_extra(&opt);
}

/* ---- 2 ------------------------------------------------------------------------------ */

/* A LINK session as a bridge's link would open it, bound to ring. */
static hermes_err link_open(const char *identity, const char *key, const char *ring,
			    hermes_net **n, uint32_t *ch)
{
	hermes_err err = connect_opts(br.addr, identity, key, 0, HM_FEATURE_LINK, n);
	if (err)
		return err;
	err = hermes_net_bind(*n, ring, 5000000000ll, ch, NULL);
	if (err)
		hermes_net_close(*n);
	return err;
}

/* Publish one link message (origin prefix + text), acked; the ack's
 * result, or the error/close that came instead. */
static hermes_err link_publish(hermes_net *n, uint32_t ch, uint64_t origin, uint64_t oseq,
			       uint64_t *ring_seq)
{
	uint8_t msg[HM_LINK_PREFIX + 8];
	hm_put_le64(msg, origin);
	hm_put_le64(msg + 8, oseq);
	memcpy(msg + HM_LINK_PREFIX, "linkmsg", 8);
	hermes_err err = hermes_net_publish(n, ch, msg, sizeof msg,
					    HERMES_NET_PUB_ACK | HERMES_NET_PUB_FLUSH, NULL);
	if (err)
		return err;
	hermes_net_event ev;
	for (;;) {
		err = hermes_net_poll(n, &ev, 5000000000ll);
		if (err)
			return err;
		if (ev.type == HERMES_NET_ACK) {
			if (ring_seq)
				*ring_seq = ev.value;
			return HERMES_OK;
		}
		if (ev.type == HERMES_NET_ERROR || ev.type == HERMES_NET_CLOSED)
			return ev.code;
	}
}

static uint64_t fnv1a(const char *s, uint64_t h)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

static void test_2_link_is_a_permission_and_origins_are_bounded(void **state)
{
	(void)state;
	hermes_net *n;
	uint32_t ch;
	/* alice may publish to blk, but not act as a link: before, she could
	 * claim a far bus's origin with a huge sequence and have its real
	 * messages dropped as duplicates. */
	assert_int_equal(link_open("alice", key_alice, "blk", &n, &ch), HERMES_EPERM);
	printf("LINK without the permission: %s\n", hermes_last_error_detail());

	/* mesh may: one origin per connection. */
	assert_int_equal(link_open("mesh", key_mesh, "blk", &n, &ch), HERMES_OK);
	assert_int_equal(link_publish(n, ch, far, 1, NULL), HERMES_OK);
	assert_int_equal(link_publish(n, ch, far + 1, 1, NULL), HERMES_EPERM);
	hermes_net_close(n);
	/* An identity brings in at most 4 buses (it cannot fill the table). */
	for (uint64_t k = 1; k < 4; k++) {
		assert_int_equal(link_open("mesh", key_mesh, "blk", &n, &ch), HERMES_OK);
		assert_int_equal(link_publish(n, ch, far + 100 + k, 1, NULL), HERMES_OK);
		hermes_net_close(n);
	}
	assert_int_equal(link_open("mesh", key_mesh, "blk", &n, &ch), HERMES_OK);
	assert_int_equal(link_publish(n, ch, far + 200, 1, NULL), HERMES_EPERM);
	hermes_net_close(n);
	/* ... while the ones it has keep working. */
	assert_int_equal(link_open("mesh", key_mesh, "blk", &n, &ch), HERMES_OK);
	assert_int_equal(link_publish(n, ch, far, 2, NULL), HERMES_OK);
	hermes_net_close(n);

	/* The bus id: random, kept (0600) in the state directory, not the
	 * guessable hash of host and bus names. */
	char path[400];
	snprintf(path, sizeof path, "%s/hermes-bridge.%s.id", bus.d.run_dir, bus.name);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	FILE *f = fopen(path, "re");
	assert_non_null(f);
	uint64_t id = 0;
	assert_int_equal(fread(&id, sizeof id, 1, f), 1);
	fclose(f);
	char host[256] = "localhost";
	gethostname(host, sizeof host - 1);
	assert_true(id != 0);
	assert_true(id != fnv1a(bus.name, fnv1a("/", fnv1a(host, 0xcbf29ce484222325ull))));
}

/* ---- 3 ------------------------------------------------------------------------------ */

static void test_3_reflected_link_is_refused(void **state)
{
	(void)state;
	/* A bridge whose link (the shared "mesh" identity and key) the man in
	 * the middle, a relay, turns back onto the bridge's own listener (its
	 * port is known once the bridge runs). */
	ht_br_relay m;
	ht_br_relay_start(&m, 0, 0);
	char link[128];
	snprintf(link, sizeof link, "127.0.0.1:%d/feed", m.port);
	ht_br_bridge r;
	const char *extra[] = {"--auth", auth_path, "--link", link, "--link-identity", "mesh",
			       "--link-key", key_mesh, NULL};
	start_extra(&r, "bridge-reflect", extra);
	atomic_store(&m.target, (int)r.port);
	bool refused = log_wait(r.log, "reflected back");
	bool up = ht_file_has(r.log, "is up");
	ht_br_relay_stop(&m);
	stop_extra(&r);
	if (!refused || up)
		ht_file_dump(r.log);
	assert_true(refused);
	assert_false(up);

	/* A link pinned to its server (server =) refuses another one, though
	 * it holds the right key: the WELCOME name is proved by the server. */
	char conf[300], text[1024];
	snprintf(conf, sizeof conf, "%s/pinned.conf", bus.d.run_dir);
	snprintf(text, sizeof text,
		 "[link pinned]\nconnect = %s\nrings = feed\nidentity = mesh\nkey_file = %s\n"
		 "server = bridge-elsewhere\n",
		 br.addr, key_mesh);
	write_file(conf, text, 0600);
	const char *pe[] = {"--config", conf, NULL};
	start_extra(&r, "bridge-pinned", pe);
	bool pinned = log_wait(r.log, "not 'bridge-elsewhere'");
	up = ht_file_has(r.log, "is up");
	stop_extra(&r);
	if (!pinned || up)
		ht_file_dump(r.log);
	assert_true(pinned);
	assert_false(up);
}

/* ---- 4 ------------------------------------------------------------------------------ */

/* Subscribe k times to ring; how many were granted. */
static unsigned subscribe_many(hermes_net *n, const char *ring, unsigned k)
{
	unsigned ok = 0;
	for (unsigned i = 0; i < k; i++) {
		uint32_t sub;
		hermes_err err = hermes_net_subscribe(n, ring, HERMES_START_LATEST, 0, 5000000000ll,
						      &sub, NULL);
		assert_true(err == HERMES_OK || err == HERMES_ETOOMANY);
		ok += err == HERMES_OK;
	}
	return ok;
}

/* A local subscriber can still join, and a local producer can publish
 * twice the ring's capacity without waiting on the remote subscribers. */
static void producers_unhindered(void)
{
	hermes_bus *b;
	assert_int_equal(hermes_bus_attach(bus.name, &b), HERMES_OK);
	hermes_sub *s;
	assert_int_equal(hermes_sub_open(b, "blk", HERMES_START_LATEST, 0, &s), HERMES_OK);
	hermes_sub_close(s);
	hermes_pub *p;
	assert_int_equal(hermes_pub_open(b, "blk", &p), HERMES_OK);
	uint8_t msg[64] = {0};
	for (unsigned i = 0; i < 2 * RING_SLOTS; i++)
		assert_int_equal(hermes_pub_send_timed(p, msg, sizeof msg, NULL, 2000000000ll),
				 HERMES_OK);
	hermes_pub_close(p);
	hermes_bus_detach(b);
}

static void test_4_readers_cannot_stop_producers(void **state)
{
	(void)state;
	/* reader: subscribe only, no hold. 64 subscriptions to a block ring
	 * used to take all 64 subscriber slots and stall its producers. */
	hermes_net *n;
	assert_int_equal(connect_opts(br.addr, "reader", key_reader, 0, 0, &n), HERMES_OK);
	assert_int_equal(subscribe_many(n, "blk", 64), 64);
	producers_unhindered();
	hermes_net_close(n);

	/* An identity that may hold: at most max_holds_per_identity (16). */
	assert_int_equal(connect_opts(br.addr, "mesh", key_mesh, 0, 0, &n), HERMES_OK);
	unsigned got = subscribe_many(n, "blk", 20);
	printf("holding subscriptions granted to one identity: %u of 20\n", got);
	assert_int_equal(got, 16);
	hermes_net_close(n);

	/* Anonymous clients (allowed) with a higher hold limit: the bridge still
	 * leaves half the ring's subscriber slots to local subscribers. */
	ht_br_bridge anon;
	const char *extra[] = {"--max-holds-per-identity", "1000", NULL};
	start_extra(&anon, "bridge-anon", extra);
	hermes_net *a, *b2;
	assert_int_equal(connect_opts(anon.addr, NULL, NULL, 0, 0, &a), HERMES_OK);
	assert_int_equal(connect_opts(anon.addr, NULL, NULL, 0, 0, &b2), HERMES_OK);
	got = subscribe_many(a, "blk", 64) + subscribe_many(b2, "blk", 64);
	printf("holding subscriptions granted on one ring: %u of 128\n", got);
	assert_true(got <= 32);
	hermes_bus *bb;
	assert_int_equal(hermes_bus_attach(bus.name, &bb), HERMES_OK);
	hermes_sub *s;
	assert_int_equal(hermes_sub_open(bb, "blk", HERMES_START_LATEST, 0, &s), HERMES_OK);
	hermes_sub_close(s);
	hermes_bus_detach(bb);
	hermes_net_close(a);
	hermes_net_close(b2);
	stop_extra(&anon);
}

/* ---- 5 ------------------------------------------------------------------------------ */

/* A frame header announcing len payload bytes (which need not follow). */
static void raw_header(uint8_t *p, uint8_t type, uint32_t channel, uint32_t len)
{
	memset(p, 0, HERMES_HEADER_SIZE);
	hm_put_le16(p, HERMES_MAGIC);
	p[2] = HERMES_PROTOCOL_VERSION;
	p[3] = type;
	hm_put_le32(p + 8, len);
	hm_put_le32(p + 12, channel);
	hm_put_le64(p + 16, channel ? 1 : 0);
}

static void test_5_connections_and_memory_are_bounded(void **state)
{
	(void)state;
	static uint8_t in[65536];
	hermes_err code;
	bool fatal;
	/* A HELLO announced as 1 MiB: refused at once, nothing buffered. */
	uint8_t hdr[HERMES_HEADER_SIZE];
	raw_header(hdr, HERMES_MSG_HELLO, 0, 1u << 20);
	int fd = ht_br_raw_connect(&br);
	ht_br_raw_send(fd, hdr, sizeof hdr, false);
	size_t got = ht_br_raw_answer(fd, in, sizeof in);
	close(fd);
	assert_true(ht_br_find_error(in, got, &code, &fatal));
	printf("1 MiB HELLO: %s\n", hermes_err_name(code));

	ht_br_bridge lim;
	const char *extra[] = {"--idle-timeout", "400", "--memory-limit", "1M", "--max-frame", "1M",
			       NULL};
	start_extra(&lim, "bridge-limits", extra);
	/* Idle: a session that says nothing is pinged, then closed. */
	fd = ht_br_raw_hello(&lim, "", 0);
	uint64_t t0 = ht_now_ns();
	got = ht_br_raw_answer(fd, in, sizeof in);
	uint64_t ms = (ht_now_ns() - t0) / 1000000;
	close(fd);
	assert_true(ht_br_has_frame(in, got, HERMES_MSG_PING, NULL));
	ht_br_expect_error(in, got, HERMES_ETIMEDOUT);
	printf("silent session: pinged, closed after %llu ms\n", (unsigned long long)ms);

	/* Large frames come from the 1 MiB budget: one 900 KiB partial frame
	 * fits, a second one is refused (before: 1 MiB of RSS each). */
	int big[2];
	for (int i = 0; i < 2; i++) {
		big[i] = ht_br_raw_hello(&lim, "", 0);
		raw_header(hdr, HERMES_MSG_PUBLISH, 1, 900u << 10);
		ht_br_raw_send(big[i], hdr, sizeof hdr, false);
		ht_br_raw_send(big[i], in, 1000, false);
	}
	got = ht_br_raw_answer(big[1], in, sizeof in);
	ht_br_expect_error(in, got, HERMES_ENOMEM);
	close(big[0]);
	close(big[1]);
	stop_extra(&lim);

	/* Per address: the ninth from 127.0.0.1 is refused. */
	const char *pa[] = {"--max-connections-per-address", "8", NULL};
	start_extra(&lim, "bridge-peraddr", pa);
	int fds[9];
	for (int i = 0; i < 8; i++)
		fds[i] = ht_br_raw_connect(&lim);
	fds[8] = ht_br_raw_connect(&lim);
	got = ht_br_raw_answer(fds[8], in, sizeof in);
	ht_br_expect_error(in, got, HERMES_ETOOMANY);
	for (int i = 0; i < 9; i++)
		close(fds[i]);

	stop_extra(&lim);

	/* Out of descriptors: refused at once, not left hanging. */
	ht_br_child_nofile = 40;
	ht_br_bridge few;
	start_extra(&few, "bridge-fds", NULL);
	ht_br_child_nofile = 0;
	enum { N = 48 };
	int c[N];
	unsigned answered = 0, refused = 0;
	for (int i = 0; i < N; i++) {
		c[i] = ht_br_raw_connect(&few);
		uint8_t buf[1024];
		hermes_encoder e;
		hermes_encoder_init(&e, buf, sizeof buf);
		ht_br_encode_hello(&e, "", 0);
		ht_br_raw_send(c[i], buf, hermes_encoder_data(&e).len, true);
		struct pollfd p = {.fd = c[i], .events = POLLIN};
		if (poll(&p, 1, 5000) == 1) {
			answered++;
			ssize_t r = recv(c[i], in, sizeof in, 0);
			if (r > 0 && ht_br_find_error(in, (size_t)r, &code, &fatal) &&
			    code == HERMES_ETOOMANY)
				refused++;
		}
	}
	for (int i = 0; i < N; i++)
		close(c[i]);
	stop_extra(&few);
	printf("with 40 descriptors: %u of %d clients answered, %u refused\n", answered, N, refused);
	assert_int_equal(answered, N);
	assert_true(refused > 0);
}

/* ---- 6 ------------------------------------------------------------------------------ */

static void test_6_anonymous_access_is_an_explicit_choice(void **state)
{
	(void)state;
	char log[300];
	snprintf(log, sizeof log, "%s/anon-refused.log", bus.d.run_dir);
	const char *args[] = {"--bus", bus.name, "--listen", "127.0.0.1:0", "--stats-dir",
			      bus.d.run_dir, "--state-dir", bus.d.run_dir, NULL};
	assert_int_equal(ht_br_bridge_run(log, args, 5000), 1);
	assert_true(ht_file_has(log, "--allow-anonymous"));
	/* With identities, anonymous clients are refused. */
	hermes_net *n;
	assert_int_equal(connect_opts(br.addr, NULL, NULL, 0, 0, &n), HERMES_EPERM);
}

/* ---- 7 ------------------------------------------------------------------------------ */

static void test_7_state_files_cannot_be_planted_or_cut(void **state)
{
	(void)state;
	/* Planted: an origin table made before the bridge, writable by all. */
	char planted[400];
	snprintf(planted, sizeof planted, "%s/hermes-bridge.%s.plant.origins", bus.d.run_dir, bus.name);
	write_file(planted, "", 0666);
	hermes_net *n;
	uint32_t ch;
	assert_int_equal(link_open("mesh", key_mesh, "plant", &n, &ch), HERMES_OK);
	assert_int_equal(link_publish(n, ch, far, 1, NULL), HERMES_OK);
	hermes_net_close(n);
	struct stat st;
	assert_int_equal(stat(planted, &st), 0);
	assert_int_equal(st.st_size, 0); /* never used */
	assert_true(log_wait(br.log, "not kept"));

	/* Cut short: a valid table truncated while the bridge was down. */
	char cut[400];
	snprintf(cut, sizeof cut, "%s/hermes-bridge.%s.trunc.origins", bus.d.run_dir, bus.name);
	assert_int_equal(link_open("mesh", key_mesh, "trunc", &n, &ch), HERMES_OK);
	assert_int_equal(link_publish(n, ch, far, 1, NULL), HERMES_OK);
	hermes_net_close(n);
	assert_int_equal(stat(cut, &st), 0);
	assert_true(st.st_size > 4096);
	ht_br_bridge_stop(&br);
	assert_int_equal(truncate(cut, 4096), 0);
	start_main("bridge-restarted");
	assert_int_equal(link_open("mesh", key_mesh, "trunc", &n, &ch), HERMES_OK);
	uint64_t seq;
	assert_int_equal(link_publish(n, ch, far, 9, &seq), HERMES_OK);
	assert_true(seq != UINT64_MAX); /* committed (made anew, not a duplicate) */
	hermes_net_close(n);
	assert_true(ht_br_bridge_alive(&br));
}

/* ---- 8 ------------------------------------------------------------------------------ */

static void test_8_keys_and_logs(void **state)
{
	(void)state;
	/* An auth file others may write is refused. */
	char bad[300], log[300];
	snprintf(bad, sizeof bad, "%s/auth-writable.conf", bus.d.run_dir);
	write_file(bad, "[identity alice]\nkey_file = alice.key\npublish = *\nsubscribe = *\n", 0666);
	snprintf(log, sizeof log, "%s/auth-writable.log", bus.d.run_dir);
	const char *args[] = {"--bus", bus.name, "--listen", "127.0.0.1:0", "--auth", bad,
			      "--stats-dir", bus.d.run_dir, "--state-dir", bus.d.run_dir, NULL};
	assert_int_equal(ht_br_bridge_run(log, args, 5000), 1);
	assert_true(ht_file_has(log, "not writable by group or others"));

	/* keygen suggests no blanket permission. */
	char kl[300];
	snprintf(kl, sizeof kl, "%s/keygen-alice.log", bus.d.run_dir);
	assert_true(ht_file_has(kl, "[identity alice]"));
	assert_false(ht_file_has(kl, "publish = *"));
	assert_false(ht_file_has(kl, "subscribe = *"));

	/* Successful authentications at info (the bridge's default level). */
	hermes_net *n;
	assert_int_equal(connect_opts(br.addr, "reader", key_reader, 0, 0, &n), HERMES_OK);
	hermes_net_close(n);
	assert_true(log_wait(br.log, "authenticated, encrypted client=reader conn="));

	/* Failures at a bounded rate. */
	unsigned before = (unsigned)ht_file_count(br.log, "authentication failed client=");
	uint64_t t0 = ht_now_ns();
	enum { TRIES = 100 };
	for (int i = 0; i < TRIES; i++)
		assert_int_equal(connect_opts(br.addr, "reader", key_alice, 0, 0, &n), HERMES_EPERM);
	uint64_t secs = (ht_now_ns() - t0) / 1000000000ull + 1;
	unsigned logged = (unsigned)ht_file_count(br.log, "authentication failed client=") - before;
	printf("%d failed authentications in < %llu s: %u logged\n", TRIES,
	       (unsigned long long)secs, logged);
	assert_true(logged <= 10 * secs);
	assert_true(logged < TRIES);

	/* Identity keys are locked in memory (VmLck). */
	long locked = ht_proc_status_kb(br.pid, "VmLck:");
	assert_true(locked >= 0); /* the bridge's status and its VmLck line are there */
	printf("bridge VmLck: %ld kB\n", locked);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	/* The sanitizers turn mlock into a no-op. */
	(void)locked;
#else
	assert_true(locked > 0);
#endif
}

/* ---- keys and permissions reload on SIGHUP ----------------------------------------- */

static void test_sighup_reloads_identities_and_closes_revoked_sessions(void **state)
{
	(void)state;
	char conf[300], tmp[310], key_new[300];
	snprintf(conf, sizeof conf, "%s/auth-reload.conf", bus.d.run_dir);
	snprintf(tmp, sizeof tmp, "%s.new", conf);
	keygen("newbie", key_new, sizeof key_new);
	write_file(conf,
		   "[identity alice]\nkey_file = alice.key\npublish = feed blk\nsubscribe = feed\n"
		   "[identity reader]\nkey_file = reader.key\npublish = nothing\nsubscribe = *\n"
		   "[identity mesh]\nkey_file = mesh.key\npublish = *\nsubscribe = *\n",
		   0644);
	ht_br_bridge r;
	const char *extra[] = {"--auth", conf, NULL};
	start_extra(&r, "bridge-reload", extra);
	hermes_net *alice, *reader, *mesh, *n;
	uint32_t sub;
	assert_int_equal(connect_opts(r.addr, "alice", key_alice, 0, 0, &alice), HERMES_OK);
	assert_int_equal(connect_opts(r.addr, "reader", key_reader, 0, 0, &reader), HERMES_OK);
	assert_int_equal(connect_opts(r.addr, "mesh", key_mesh, 0, 0, &mesh), HERMES_OK);
	assert_int_equal(hermes_net_subscribe(reader, "feed", HERMES_START_LATEST, 0, 5000000000ll,
					      &sub, NULL),
			 HERMES_OK);
	assert_int_equal(connect_opts(r.addr, "newbie", key_new, 0, 0, &n), HERMES_EPERM);

	/* reader revoked, mesh's permissions narrowed, newbie added; written
	 * whole, then renamed, as an operator's tool would. */
	write_file(tmp,
		   "[identity alice]\nkey_file = alice.key\npublish = feed blk\nsubscribe = feed\n"
		   "[identity mesh]\nkey_file = mesh.key\npublish = feed\nsubscribe = feed\n"
		   "[identity newbie]\nkey_file = newbie.key\npublish = feed\nsubscribe = feed\n",
		   0644);
	assert_int_equal(rename(tmp, conf), 0);
	assert_int_equal(kill(r.pid, SIGHUP), 0);
	assert_true(log_wait(r.log, "SIGHUP: 3 identities reloaded"));
	assert_true(ht_file_has(r.log, "2 session(s) of revoked or changed identities closed"));

	/* The revoked and the changed sessions are told and closed ... */
	hermes_net *gone[2] = {reader, mesh};
	for (int i = 0; i < 2; i++) {
		hermes_net_event ev;
		hermes_err err, code = HERMES_OK;
		while ((err = hermes_net_poll(gone[i], &ev, 5000000000ll)) == HERMES_OK)
			if (ev.type == HERMES_NET_ERROR && ev.fatal)
				code = ev.code;
		assert_int_equal(err, HERMES_ECLOSED);
		assert_int_equal(code, HERMES_EPERM);
		hermes_net_close(gone[i]);
	}
	/* ... the unchanged one goes on, reader is refused, newbie is in. */
	assert_int_equal(hermes_net_ping(alice, 7), HERMES_OK);
	hermes_net_event ev;
	assert_int_equal(hermes_net_poll(alice, &ev, 5000000000ll), HERMES_OK);
	assert_int_equal(ev.type, HERMES_NET_PONG);
	hermes_net_close(alice);
	assert_int_equal(connect_opts(r.addr, "reader", key_reader, 0, 0, &n), HERMES_EPERM);
	assert_int_equal(connect_opts(r.addr, "newbie", key_new, 0, 0, &n), HERMES_OK);
	hermes_net_close(n);

	/* A broken file changes nothing. */
	write_file(tmp, "[identity broken\n", 0644);
	assert_int_equal(rename(tmp, conf), 0);
	assert_int_equal(kill(r.pid, SIGHUP), 0);
	assert_true(log_wait(r.log, "the identities loaded before stay"));
	assert_int_equal(connect_opts(r.addr, "newbie", key_new, 0, 0, &n), HERMES_OK);
	hermes_net_close(n);
	stop_extra(&r);
}

/* ---- public-key mode ---------------------------------------------------------------- */

/* The "public_key = HEX" keygen --pair printed into log. */
static void read_public(const char *log, char hex[65])
{
	FILE *f = fopen(log, "re");
	assert_non_null(f);
	char line[512];
	hex[0] = '\0';
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "public_key = ", 13))
			snprintf(hex, 65, "%.64s", line + 13);
	fclose(f);
	assert_int_equal(strlen(hex), 64);
}

static void keygen_pair(const char *name, const char *server_hex, char *path, size_t len,
			char hex[65])
{
	const char *opts[] = {"--pair", server_hex ? "--server-key" : NULL, server_hex, NULL};
	assert_int_equal(ht_br_keygen(&bus.d, name, opts, path, len), 0);
	char log[300];
	snprintf(log, sizeof log, "%s/keygen-%s.log", bus.d.run_dir, name);
	read_public(log, hex);
}

static void test_public_key_identities(void **state)
{
	(void)state;
	char bkey[300], bhex[65], carol[300], chex[65], mallory[300], mhex[65];
	keygen_pair("pkbridge", NULL, bkey, sizeof bkey, bhex);
	keygen_pair("carol", bhex, carol, sizeof carol, chex);
	keygen_pair("mallory", bhex, mallory, sizeof mallory, mhex);
	/* carol's secret with a pin that is not the bridge's. */
	char wrongpin[300], text[512];
	snprintf(wrongpin, sizeof wrongpin, "%s/carol-wrongpin.key", bus.d.run_dir);
	FILE *f = fopen(carol, "re");
	assert_non_null(f);
	char line[256], secret[65] = "";
	while (fgets(line, sizeof line, f))
		if (line[0] != '#' && strncmp(line, "server", 6))
			snprintf(secret, sizeof secret, "%.64s", line);
	fclose(f);
	snprintf(text, sizeof text, "%s\nserver %s\n", secret, mhex);
	write_file(wrongpin, text, 0600);

	/* The bridge holds carol's public key only; alice keeps her PSK. */
	char conf[300];
	snprintf(conf, sizeof conf, "%s/auth-pk.conf", bus.d.run_dir);
	snprintf(text, sizeof text,
		 "[identity carol]\npublic_key = %s\npublish = feed\nsubscribe = feed\n"
		 "[identity alice]\nkey_file = alice.key\npublish = feed\nsubscribe = feed\n",
		 chex);
	write_file(conf, text, 0644);
	ht_br_bridge r;
	const char *extra[] = {"--auth", conf, "--key", bkey, NULL};
	start_extra(&r, "bridge-pk", extra);
	assert_true(ht_file_has(r.log, bhex));

	hermes_net *n;
	assert_int_equal(connect_opts(r.addr, "carol", carol, 0, 0, &n), HERMES_OK);
	assert_int_equal(hermes_net_features(n) & (HERMES_FEATURE_PUBKEY | HERMES_FEATURE_ENCRYPT),
			 HERMES_FEATURE_PUBKEY | HERMES_FEATURE_ENCRYPT);
	uint32_t ch;
	assert_int_equal(hermes_net_bind(n, "feed", 5000000000ll, &ch, NULL), HERMES_OK);
	assert_int_equal(hermes_net_publish(n, ch, "pk", 2, HERMES_NET_PUB_ACK | HERMES_NET_PUB_FLUSH,
					    NULL),
			 HERMES_OK);
	hermes_net_event ev;
	assert_int_equal(hermes_net_poll(n, &ev, 5000000000ll), HERMES_OK);
	assert_int_equal(ev.type, HERMES_NET_ACK);
	hermes_net_close(n);
	assert_true(log_wait(r.log, "authenticated by public key, encrypted client=carol conn="));
	/* Another secret key claiming to be carol. */
	assert_int_equal(connect_opts(r.addr, "carol", mallory, 0, 0, &n), HERMES_EPERM);
	/* carol's key, but pinned to another bridge's public key: the bridge
	 * cannot prove it holds that one. */
	assert_int_equal(connect_opts(r.addr, "carol", wrongpin, 0, 0, &n), HERMES_EPERM);
	printf("wrong pin: %s\n", hermes_last_error_detail());
	/* carol's key against a bridge without a key pair: refused. */
	assert_int_equal(connect_opts(br.addr, "carol", carol, 0, 0, &n), HERMES_EPERM);
	/* Pre-shared keys remain a mode. */
	assert_int_equal(connect_opts(r.addr, "alice", key_alice, 0, 0, &n), HERMES_OK);
	assert_false(hermes_net_features(n) & HERMES_FEATURE_PUBKEY);
	hermes_net_close(n);

	/* A link authenticates by public key too (server_key pins the far
	 * bridge). */
	char lkey[300], lhex[65], lconf[300];
	keygen_pair("linker", NULL, lkey, sizeof lkey, lhex);
	snprintf(text, sizeof text,
		 "[identity carol]\npublic_key = %s\npublish = feed\nsubscribe = feed\n"
		 "[identity linker]\npublic_key = %s\npublish = feed\nsubscribe = feed\n"
		 "link = true\n",
		 chex, lhex);
	write_file(conf, text, 0644);
	assert_int_equal(kill(r.pid, SIGHUP), 0);
	assert_true(log_wait(r.log, "SIGHUP: 2 identities reloaded"));
	snprintf(lconf, sizeof lconf, "%s/link-pk.conf", bus.d.run_dir);
	snprintf(text, sizeof text,
		 "[link pk]\nconnect = %s\nrings = feed:out\nidentity = linker\nkey_file = %s\n"
		 "server_key = %s\n",
		 r.addr, lkey, bhex);
	write_file(lconf, text, 0600);
	ht_br_bridge l;
	const char *le[] = {"--config", lconf, NULL};
	start_extra(&l, "bridge-pk-link", le);
	bool up = log_wait(l.log, "is up");
	bool by_pk = log_wait(r.log, "authenticated by public key, encrypted, link client=linker conn=");
	stop_extra(&l);
	if (!up || !by_pk) {
		ht_file_dump(l.log);
		ht_file_dump(r.log);
	}
	assert_true(up);
	assert_true(by_pk);

	/* The bridge's key pair rotates on SIGHUP: clients pinned to the old
	 * public key are refused, those pinned to the new one get in. */
	char nkey[300], nhex[65], carol_new[300];
	keygen_pair("pkbridge2", NULL, nkey, sizeof nkey, nhex);
	assert_int_equal(rename(nkey, bkey), 0);
	assert_int_equal(kill(r.pid, SIGHUP), 0);
	assert_true(log_wait(r.log, nhex));
	assert_int_equal(connect_opts(r.addr, "carol", carol, 0, 0, &n), HERMES_EPERM);
	snprintf(carol_new, sizeof carol_new, "%s/carol-new.key", bus.d.run_dir);
	snprintf(text, sizeof text, "%s\nserver %s\n", secret, nhex);
	write_file(carol_new, text, 0600);
	assert_int_equal(connect_opts(r.addr, "carol", carol_new, 0, 0, &n), HERMES_OK);
	hermes_net_close(n);
	stop_extra(&r);
}

static void fill(uint8_t *p, size_t n, uint8_t first)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(first + i);
}

/* PROTOCOL.md 6.1's test vector, computed by both sides. */
static void test_public_key_vectors(void **state)
{
	(void)state;
	uint8_t cs[32], ss[32], ce[32], se[32], CS[32], SS[32], CE[32], SE[32];
	fill(cs, 32, 0x01);
	fill(ss, 32, 0x21);
	fill(ce, 32, 0x41);
	fill(se, 32, 0x61);
	assert_int_equal(hm_auth_pk_public(cs, CS), HERMES_OK);
	assert_int_equal(hm_auth_pk_public(ss, SS), HERMES_OK);
	assert_int_equal(hm_auth_pk_public(ce, CE), HERMES_OK);
	assert_int_equal(hm_auth_pk_public(se, SE), HERMES_OK);
	uint32_t feat = HERMES_FEATURE_AUTH | HERMES_FEATURE_ENCRYPT | HERMES_FEATURE_PUBKEY;
	hermes_wire_hello h = {.min_version = 1, .max_version = 1, .features = feat,
			       .max_frame = 1u << 20, .identity = "carol", .identity_len = 5};
	hermes_wire_welcome w = {.version = 1, .features = feat, .max_frame = 1u << 20,
				 .name = "bridge", .name_len = 6};
	hermes_wire_auth_challenge c;
	hermes_wire_auth_response r;
	fill(c.nonce, 32, 0xA0);
	memcpy(c.kx_public_key, SE, 32);
	fill(r.nonce, 32, 0xC0);
	memcpy(r.kx_public_key, CE, 32);
	uint8_t t[HERMES_AUTH_TRANSCRIPT_MAX], tc[32], ts[32];
	size_t tlen;
	assert_int_equal(hermes_auth_transcript(HERMES_ROLE_CLIENT, &h, &w, &c, &r, t, &tlen),
			 HERMES_OK);
	hm_pk_keys kc, ks;
	assert_int_equal(hm_auth_pk_derive(HERMES_ROLE_CLIENT, cs, ce, SS, SE, t, tlen, &kc),
			 HERMES_OK);
	assert_int_equal(hm_auth_pk_derive(HERMES_ROLE_SERVER, ss, se, CS, CE, t, tlen, &ks),
			 HERMES_OK);
	assert_memory_equal(&kc, &ks, sizeof kc);
	assert_int_equal(hm_auth_tag(kc.tag_c, t, tlen, tc), HERMES_OK);
	size_t slen;
	uint8_t t2[HERMES_AUTH_TRANSCRIPT_MAX];
	assert_int_equal(hermes_auth_transcript(HERMES_ROLE_SERVER, &h, &w, &c, &r, t2, &slen),
			 HERMES_OK);
	assert_int_equal(hm_auth_tag(kc.tag_s, t2, slen, ts), HERMES_OK);
	char hex[65];
	const struct {
		const char *what;
		const uint8_t *v;
		const char *want;
	} vec[] = {
		{"client static public", CS, VEC_CS},
		{"server static public", SS, VEC_SS},
		{"client ephemeral public", CE, VEC_CE},
		{"server ephemeral public", SE, VEC_SE},
		{"tag key c", kc.tag_c, VEC_TAGC},
		{"tag key s", kc.tag_s, VEC_TAGS},
		{"c2s", kc.c2s, VEC_C2S},
		{"s2c", kc.s2c, VEC_S2C},
		{"client tag", tc, VEC_CTAG},
		{"server tag", ts, VEC_STAG},
	};
	bool same = true;
	for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
		hm_auth_hex(vec[i].v, 32, hex);
		printf("%-24s %s%s\n", vec[i].what, hex, strcmp(hex, vec[i].want) ? " (differs)" : "");
		same &= !strcmp(hex, vec[i].want);
	}
	assert_true(same);
}

int main(void)
{
	ht_br_require_sodium();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_1_authenticated_sessions_are_encrypted_by_default),
		cmocka_unit_test(test_2_link_is_a_permission_and_origins_are_bounded),
		cmocka_unit_test(test_3_reflected_link_is_refused),
		cmocka_unit_test(test_4_readers_cannot_stop_producers),
		cmocka_unit_test(test_5_connections_and_memory_are_bounded),
		cmocka_unit_test(test_6_anonymous_access_is_an_explicit_choice),
		cmocka_unit_test(test_8_keys_and_logs),
		cmocka_unit_test(test_sighup_reloads_identities_and_closes_revoked_sessions),
		cmocka_unit_test(test_public_key_identities),
		cmocka_unit_test(test_public_key_vectors),
		cmocka_unit_test(test_7_state_files_cannot_be_planted_or_cut),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
