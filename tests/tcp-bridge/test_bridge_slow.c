/* A remote subscriber that stops reading while 1 GiB of 64 KiB messages is
 * published (HERMES_TEST_SCALE scales it), next to one that keeps reading:
 * the bridge's private memory stays under a fixed bound (HM_BOUND_KIB:
 * its output buffers, not the backlog), the slow-subscriber policy of the
 * ring is applied (drop: a LOSS notice with the exact count; disconnect: a
 * fatal ERROR and a close; hold: the block ring holds its producer back and
 * nothing is lost), and the reading subscriber gets every message in order.
 *
 * The producer is paced by the reading subscriber (a window of 8 messages):
 * the point is a subscriber that keeps up while another one does not, not a
 * race between the producer and TCP. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/endian.h"
#include "tests/tcp-bridge/bridge_support.h"

#define MSG (64u * 1024u)
#define WINDOW 8
/* The bridge's private memory may grow by at most this much: a few output
 * buffers (1 MiB each) and the allocator's slack, never the backlog. */
#ifdef HERMES_TSAN
/* ThreadSanitizer's shadow memory is counted in RssAnon too. */
#define HM_BOUND_KIB (96 * 1024)
#else
#define HM_BOUND_KIB (24 * 1024)
#endif

static ht_bus bus;
static ht_br_bridge br;

static int setup(void **state)
{
	(void)state;
	static const hermes_ring_config rings[] = {
		{"drop1", 8u << 20, MSG}, {"disc1", 8u << 20, MSG}, {"hold1", 8u << 20, MSG}, {0}};
	ht_br_bus_start(&bus, "brslow", rings);
	char conf[256];
	snprintf(conf, sizeof conf, "%s/bridge.conf", bus.d.run_dir);
	ht_write_file(conf, "[bridge]\nout_buffer = 1M\nlog_level = warn\n"
			    "[ring drop1]\nslow_policy = drop\n"
			    "[ring disc1]\nslow_policy = disconnect\n"
			    "[ring hold1]\nslow_policy = hold\n");
	const char *extra[] = {"--config", conf, NULL};
	ht_br_fixture_bridge(&bus, &br, extra);
	return 0;
}

static void fill(uint8_t *p, uint64_t i)
{
	memset(p, (int)(i & 0xff), MSG);
	hm_put_le64(p, i);
	hm_put_le64(p + MSG / 2, i);
	hm_put_le64(p + MSG - 8, i);
}

static bool check(const void *data, uint32_t len, uint64_t i)
{
	const uint8_t *p = data;
	return len == MSG && hm_get_le64(p) == i && hm_get_le64(p + MSG / 2) == i &&
	       hm_get_le64(p + MSG - 8) == i && p[100] == (uint8_t)(i & 0xff);
}

typedef struct reader {
	hermes_net *n;
	uint64_t first, expect, got;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char error[200];
} reader;

static void *read_all(void *arg)
{
	reader *r = arg;
	uint64_t deadline = ht_now_ns() + 300000000000ull;
	while (r->got < r->expect && !r->error[0]) {
		hermes_net_event ev;
		hermes_err err = hermes_net_poll(r->n, &ev, 1000000000ll);
		if (err == HERMES_ETIMEDOUT && ht_now_ns() < deadline)
			continue;
		if (err) {
			snprintf(r->error, sizeof r->error, "poll: %s after %llu", hermes_strerror(err),
				 (unsigned long long)r->got);
			break;
		}
		if (ev.type != HERMES_NET_MESSAGE || ev.seq != r->first + r->got ||
		    !check(ev.data, ev.len, r->got)) {
			snprintf(r->error, sizeof r->error, "event %d seq %llu at message %llu", ev.type,
				 (unsigned long long)ev.seq, (unsigned long long)r->got);
			break;
		}
		pthread_mutex_lock(&r->mu);
		r->got++;
		pthread_cond_signal(&r->cv);
		pthread_mutex_unlock(&r->mu);
	}
	pthread_mutex_lock(&r->mu);
	r->expect = r->got; /* wake the producer for good */
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

static hermes_net *subscriber(const char *ring, uint64_t *first)
{
	hermes_net *n = ht_br_connect(&br);
	uint32_t sub;
	hermes_net_ring_info info;
	assert_int_equal(hermes_net_subscribe(n, ring, HERMES_START_LATEST, 0, 5000000000ll, &sub, &info),
			 HERMES_OK);
	*first = info.first_seq;
	return n;
}

/* One slow-subscriber case: a subscriber that stalls (it reads only when the
 * test says), one that reads everything in a thread, and a local publisher
 * on the same ring. */
typedef struct slow_case {
	hermes_net *slow;
	uint64_t slow_first;
	reader r;
	hermes_bus *b;
	hermes_pub *pub;
	long anon0; /* the bridge's private memory before the first message */
	uint64_t t0;
	pthread_t t;
} slow_case;

static void case_start(slow_case *sc, const char *ring, uint64_t count)
{
	uint64_t fast_first;
	sc->slow = subscriber(ring, &sc->slow_first);
	sc->r = (reader){.n = subscriber(ring, &fast_first), .expect = count};
	sc->r.first = fast_first;
	pthread_mutex_init(&sc->r.mu, NULL);
	pthread_cond_init(&sc->r.cv, NULL);
	assert_int_equal(hermes_bus_attach(bus.name, &sc->b), HERMES_OK);
	assert_int_equal(hermes_pub_open(sc->b, ring, &sc->pub), HERMES_OK);
	sc->anon0 = ht_br_rss_anon_kb(br.pid);
	sc->t0 = ht_now_ns();
	pthread_create(&sc->t, NULL, read_all, &sc->r);
}

/* Wait for the reading subscriber; fails the test on what it saw wrong. */
static void case_join_reader(slow_case *sc)
{
	pthread_join(sc->t, NULL);
	if (sc->r.error[0])
		fail_msg("reading subscriber: %s", sc->r.error);
}

static void case_close(slow_case *sc)
{
	hermes_net_close(sc->slow);
	hermes_net_close(sc->r.n);
	hermes_pub_close(sc->pub);
	hermes_bus_detach(sc->b);
}

/* Publish count messages, never more than WINDOW ahead of the reader;
 * returns the peak growth of the bridge's private memory (KiB). */
static long produce_paced(hermes_pub *pub, reader *r, uint64_t count, long anon0)
{
	long peak = 0;
	for (uint64_t i = 0; i < count; i++) {
		pthread_mutex_lock(&r->mu);
		while (i >= r->got + WINDOW && r->got < r->expect && !r->error[0]) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 30;
			if (pthread_cond_timedwait(&r->cv, &r->mu, &ts) != 0) {
				pthread_mutex_unlock(&r->mu);
				fail_msg("the reading subscriber is stuck at %llu", (unsigned long long)r->got);
			}
		}
		bool stop = r->error[0] || r->got >= r->expect;
		pthread_mutex_unlock(&r->mu);
		if (stop)
			break;
		hermes_claim c;
		assert_int_equal(hermes_pub_claim_timed(pub, MSG, &c, 30000000000ll), HERMES_OK);
		fill(c.data, i);
		hermes_pub_commit(pub, &c);
		if ((i & 255) == 0) {
			long g = ht_br_rss_anon_kb(br.pid) - anon0;
			if (g > peak)
				peak = g;
		}
	}
	return peak;
}

/* Start a case on ring and publish count messages paced by the reading
 * subscriber, which must get them all; the bridge's peak memory growth. */
static long case_stream(slow_case *sc, const char *ring, uint64_t count)
{
	case_start(sc, ring, count);
	long peak = produce_paced(sc->pub, &sc->r, count, sc->anon0);
	case_join_reader(sc);
	assert_int_equal(sc->r.got, count);
	return peak;
}

static void test_slow_subscriber_is_dropped_with_a_loss_notice(void **state)
{
	(void)state;
	uint64_t count = ht_scaled(16384);
	static slow_case sc;
	long peak = case_stream(&sc, "drop1", count);
	double secs = (double)(ht_now_ns() - sc.t0) / 1e9;
	hermes_net *slow = sc.slow;
	hermes_pub *pub = sc.pub;
	uint64_t slow_first = sc.slow_first;

	/* The slow one reads now: what fitted its buffers, in order, and LOSS
	 * notices whose counts cover exactly the gaps (a notice goes out as
	 * soon as there is room for it, at the latest with the next message). */
	uint64_t got = 0, lost = 0, next = slow_first;
	hermes_net_event ev;
	while (hermes_net_poll(slow, &ev, 200000000) == HERMES_OK) {
		if (ev.type == HERMES_NET_LOSS) {
			assert_int_equal(ev.seq, next + ev.value);
			lost += ev.value;
			next = ev.seq;
			continue;
		}
		assert_int_equal(ev.type, HERMES_NET_MESSAGE);
		assert_int_equal(ev.seq, next);
		assert_true(check(ev.data, ev.len, ev.seq - slow_first));
		got++;
		next++;
	}
	/* ...and the next message, after the notice of the rest, if any. */
	uint64_t marker = count;
	hermes_claim c;
	assert_int_equal(hermes_pub_claim_timed(pub, MSG, &c, 10000000000ll), HERMES_OK);
	fill(c.data, marker);
	hermes_pub_commit(pub, &c);
	assert_int_equal(hermes_net_poll(slow, &ev, 10000000000ll), HERMES_OK);
	if (ev.type == HERMES_NET_LOSS) {
		assert_int_equal(ev.seq, next + ev.value);
		lost += ev.value;
		next = ev.seq;
		assert_int_equal(hermes_net_poll(slow, &ev, 10000000000ll), HERMES_OK);
	}
	assert_true(lost > 0);
	assert_int_equal(ev.type, HERMES_NET_MESSAGE);
	assert_int_equal(ev.seq, slow_first + count);
	assert_int_equal(next, slow_first + count);
	assert_true(check(ev.data, ev.len, marker));
	printf("drop: %.0f MiB published in %.2f s; the reading subscriber got all %llu; the stalled "
	       "one got %llu, and LOSS %llu (= the rest); bridge private memory grew %ld KiB at most "
	       "(bound %d KiB)\n",
	       (double)count * MSG / 1048576.0, secs, (unsigned long long)sc.r.got,
	       (unsigned long long)got, (unsigned long long)lost, peak, HM_BOUND_KIB);
	assert_int_equal(got + lost, count);
	assert_true(peak < HM_BOUND_KIB);
	case_close(&sc);
}

static void test_slow_subscriber_is_disconnected(void **state)
{
	(void)state;
	uint64_t count = ht_scaled(16384);
	static slow_case sc;
	long peak = case_stream(&sc, "disc1", count);
	hermes_net *slow = sc.slow;
	uint64_t slow_first = sc.slow_first;
	uint64_t got = 0;
	hermes_net_event ev;
	hermes_err err;
	while ((err = hermes_net_poll(slow, &ev, 5000000000ll)) == HERMES_OK &&
	       ev.type == HERMES_NET_MESSAGE) {
		assert_int_equal(ev.seq, slow_first + got);
		got++;
	}
	assert_int_equal(err, HERMES_OK);
	assert_int_equal(ev.type, HERMES_NET_ERROR);
	assert_int_equal(ev.code, HERMES_EAGAIN);
	assert_true(ev.fatal);
	assert_int_equal(hermes_net_poll(slow, &ev, 5000000000ll), HERMES_OK);
	assert_int_equal(ev.type, HERMES_NET_CLOSED);
	printf("disconnect: the stalled subscriber got %llu messages, then ERROR HERMES_EAGAIN (fatal) "
	       "and the close; the reading one got all %llu; bridge private memory grew %ld KiB at "
	       "most\n",
	       (unsigned long long)got, (unsigned long long)sc.r.got, peak);
	assert_true(got < count);
	assert_true(peak < HM_BOUND_KIB);
	case_close(&sc);
}

/* hold: the stalled subscriber keeps its own cursor in the block ring, so the
 * ring fills and its producer is held back (exactly as by a stalled local
 * subscriber); once it reads again, both subscribers get everything. */
static void test_slow_subscriber_held_loses_nothing(void **state)
{
	(void)state;
	/* At least enough to fill the ring and every buffer on the way. */
	uint64_t count = ht_scaled(2048) < 1024 ? 1024 : ht_scaled(2048);
	static slow_case sc;
	case_start(&sc, "hold1", count);
	hermes_net *slow = sc.slow;
	hermes_pub *pub = sc.pub;
	uint64_t slow_first = sc.slow_first;
	/* Publish until the ring pushes back. */
	uint64_t i = 0;
	hermes_claim c;
	for (; i < count; i++) {
		hermes_err err = hermes_pub_claim_timed(pub, MSG, &c, 500000000ll);
		if (err == HERMES_ETIMEDOUT)
			break;
		assert_int_equal(err, HERMES_OK);
		fill(c.data, i);
		hermes_pub_commit(pub, &c);
	}
	long peak = ht_br_rss_anon_kb(br.pid) - sc.anon0;
	printf("hold: the ring pushed back after %llu messages (%.0f MiB); bridge private memory grew "
	       "%ld KiB\n",
	       (unsigned long long)i, (double)i * MSG / 1048576.0, peak);
	assert_true(i < count);
	/* The stalled subscriber reads again: everything flows. */
	uint64_t got = 0, deadline = ht_now_ns() + 120000000000ull;
	while (got < count && ht_now_ns() < deadline) {
		hermes_net_event ev;
		hermes_err err = hermes_net_poll(slow, &ev, i < count ? 0 : 1000000000ll);
		if (err == HERMES_OK) {
			assert_int_equal(ev.type, HERMES_NET_MESSAGE);
			assert_int_equal(ev.seq, slow_first + got);
			assert_true(check(ev.data, ev.len, got));
			got++;
		} else if (err != HERMES_EAGAIN && err != HERMES_ETIMEDOUT) {
			fail_msg("stalled subscriber: %s", hermes_strerror(err));
		}
		if (i < count && hermes_pub_claim(pub, MSG, &c) == HERMES_OK) {
			fill(c.data, i++);
			hermes_pub_commit(pub, &c);
		}
	}
	case_join_reader(&sc);
	printf("hold: both subscribers got all %llu messages in order\n", (unsigned long long)count);
	assert_int_equal(got, count);
	assert_int_equal(sc.r.got, count);
	assert_true(peak < HM_BOUND_KIB);
	case_close(&sc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slow_subscriber_is_dropped_with_a_loss_notice),
		cmocka_unit_test(test_slow_subscriber_is_disconnected),
		cmocka_unit_test(test_slow_subscriber_held_loses_nothing),
	};
	return cmocka_run_group_tests(tests, setup, ht_br_fixture_teardown);
}
