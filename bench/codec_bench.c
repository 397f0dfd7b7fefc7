/* The component table: what one message costs in each piece of Hermes, in
 * one thread, with nothing else in the way.
 *
 *   ring operation   hermes_pub_claim + 64-byte write + hermes_pub_commit +
 *                    hermes_sub_poll + hermes_sub_release, one thread, one
 *                    ring of a private bus
 *   mmap write       64-byte memcpy into a MAP_SHARED page (the floor under
 *                    any shared-memory transport)
 *   protocol encode  hermes_encode of one PUBLISH frame, the buffer written
 *                    out and reset when full, as a sender does
 *   batch encode     hermes_encode_batch of 64 DELIVER frames per call, per
 *                    message
 *   protocol decode  hermes_decoder_next over a buffer of back-to-back frames
 *
 * Each loop is timed as a whole and divided by its message count; each runs
 * `runs` times after a warm-up and the table shows the median with min and
 * max. The codec lives in another translation unit, but nothing stops an
 * LTO build from inlining it, so every result is fed to an empty asm
 * statement that claims to read it and to touch memory: the compiler must
 * produce each frame, each decoded header and each write.
 */
#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <hermes/bus.h>
#include <hermes/protocol.h>

#include "shm/ring.h"

#define PAYLOAD 64
#define BATCH 64
#define GOAL_NS 10.0

static inline void consume(const void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

static uint8_t payload[PAYLOAD];
static uint8_t encode_buf[HERMES_ENCODER_DEFAULT_CAPACITY];

static void say_codec(const char *what, hermes_err err)
{
	say_error("codec: %s: %s", what, hermes_strerror(err));
}

static double bench_encode(uint64_t n)
{
	hermes_encoder enc;
	hermes_wire_bytes f;
	hermes_err err = hermes_encoder_init(&enc, encode_buf, sizeof encode_buf);
	if (err) {
		say_codec("encoder_init", err);
		return -1;
	}
	uint64_t t0 = now_ns();
	for (uint64_t i = 0; i < n; i++) {
		err = hermes_encode(&enc, HERMES_MSG_PUBLISH, i, payload, PAYLOAD, &f);
		if (err == HERMES_ENOBUFS) {
			/* Where a sender would write() the buffer out. */
			consume(hermes_encoder_data(&enc).data);
			hermes_encoder_reset(&enc);
			err = hermes_encode(&enc, HERMES_MSG_PUBLISH, i, payload, PAYLOAD, &f);
		}
		if (err) {
			say_codec("encode", err);
			return -1;
		}
		consume(f.data);
	}
	return (double)(now_ns() - t0) / (double)n;
}

static double bench_batch(uint64_t n)
{
	hermes_encoder enc;
	hermes_batch_item items[BATCH];
	hermes_frame_header tmpl = {.type = HERMES_MSG_DELIVER, .channel = 1};
	hermes_err err = hermes_encoder_init(&enc, encode_buf, sizeof encode_buf);
	if (err) {
		say_codec("encoder_init", err);
		return -1;
	}
	for (size_t i = 0; i < BATCH; i++)
		items[i] = (hermes_batch_item){payload, PAYLOAD, i};
	uint64_t batches = n / BATCH;
	uint64_t t0 = now_ns();
	for (uint64_t b = 0; b < batches; b++) {
		hermes_wire_bytes frames;
		size_t done;
		items[0].sequence = b; /* not the same batch every time */
		hermes_encoder_reset(&enc);
		err = hermes_encode_batch(&enc, &tmpl, items, BATCH, &done, &frames);
		if (err) {
			say_codec("encode_batch", err);
			return -1;
		}
		consume(frames.data);
	}
	return (double)(now_ns() - t0) / (double)(batches * BATCH);
}

static double bench_decode(uint64_t n)
{
	/* A receive buffer full of frames, decoded over and over. */
	hermes_encoder enc;
	hermes_err err = hermes_encoder_init(&enc, encode_buf, sizeof encode_buf);
	if (err) {
		say_codec("encoder_init", err);
		return -1;
	}
	uint64_t frames = 0;
	while (hermes_encode(&enc, HERMES_MSG_DELIVER, frames, payload, PAYLOAD, NULL) == HERMES_OK)
		frames++;
	hermes_wire_bytes wire = hermes_encoder_data(&enc);

	uint64_t done = 0, sum = 0;
	hermes_decoder dec;
	hermes_frame f;
	uint64_t t0 = now_ns();
	while (done < n) {
		hermes_decoder_init(&dec, wire.data, wire.len);
		while ((err = hermes_decoder_next(&dec, &f)) == HERMES_OK) {
			sum += f.header.sequence + f.header.length;
			consume(f.payload);
		}
		if (err != HERMES_ENEEDMORE) {
			say_codec("decode", err);
			return -1;
		}
		done += frames;
	}
	double ns = (double)(now_ns() - t0) / (double)done;
	consume(&sum);
	return ns;
}

/* ---- ring operation ---- */

static char g_ring_bus[HERMES_NAME_MAX + 1];
static hermes_bus *g_rbus;
static hermes_pub *g_rpub;
static hermes_sub *g_rsub;

static void ring_close(void)
{
	hermes_pub_close(g_rpub);
	hermes_sub_close(g_rsub);
	hermes_bus_detach(g_rbus);
	if (g_ring_bus[0])
		hermes_bus_unlink(g_ring_bus);
	g_rpub = NULL;
	g_rsub = NULL;
	g_rbus = NULL;
	g_ring_bus[0] = '\0';
}

static int ring_open(void)
{
	snprintf(g_ring_bus, sizeof g_ring_bus, "bench-codec-%d", (int)getpid());
	hermes_bus_unlink(g_ring_bus); /* left by an earlier run with our pid */
	hermes_ring_config rc = {"op", 1u << 20, 4096, HERMES_POLICY_BLOCK, 0};
	hermes_err err = hermes_bus_create(g_ring_bus, 4u << 20, 0600, &g_rbus);
	if (!err)
		err = hermes_ring_create(g_rbus, &rc);
	if (!err)
		err = hermes_sub_open(g_rbus, "op", HERMES_START_LATEST, 0, &g_rsub);
	if (!err)
		err = hermes_pub_open(g_rbus, "op", &g_rpub);
	if (err) {
		say_error("ring operation: %s: %s", hermes_strerror(err), hermes_last_error_detail());
		ring_close();
		return -1;
	}
	return 0;
}

static double bench_ring(uint64_t n)
{
	hermes_claim c;
	hermes_msg m;
	uint64_t sum = 0;
	uint64_t t0 = now_ns();
	for (uint64_t i = 0; i < n; i++) {
		if (hermes_pub_claim(g_rpub, PAYLOAD, &c) != HERMES_OK)
			return -1;
		memcpy(c.data, payload, PAYLOAD);
		hermes_pub_commit(g_rpub, &c);
		if (hermes_sub_poll(g_rsub, &m) != HERMES_OK)
			return -1;
		sum += m.seq;
		consume(m.data);
		hermes_sub_release(g_rsub);
	}
	double ns = (double)(now_ns() - t0) / (double)n;
	consume(&sum);
	return ns;
}

/* ---- mmap write ---- */

static uint8_t *g_page;
static size_t g_page_bytes;

static double bench_mmap(uint64_t n)
{
	/* Walk a 64 KiB shared mapping (L1/L2-resident, like a ring's hot
	 * area) one 64-byte slot at a time. */
	size_t slots = g_page_bytes / PAYLOAD;
	uint64_t t0 = now_ns();
	for (uint64_t i = 0; i < n; i++) {
		uint8_t *dst = g_page + (i % slots) * PAYLOAD;
		memcpy(dst, payload, PAYLOAD);
		consume(dst);
	}
	return (double)(now_ns() - t0) / (double)n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int measure(codec_row *r, double (*fn)(uint64_t), uint64_t n, unsigned runs)
{
	if (fn(n / 4) < 0) /* warm-up: caches, branch predictors, page faults */
		return -1;
	r->runs = runs;
	for (unsigned i = 0; i < runs; i++) {
		r->ns[i] = fn(n);
		if (r->ns[i] < 0)
			return -1;
	}
	double sorted[MAX_RUNS];
	memcpy(sorted, r->ns, sizeof sorted);
	qsort(sorted, runs, sizeof sorted[0], cmp_double);
	r->min = sorted[0];
	r->median = sorted[runs / 2];
	r->max = sorted[runs - 1];
	return 0;
}

int codec_bench_run(bool quick, unsigned runs, codec_row *rows)
{
	for (size_t i = 0; i < PAYLOAD; i++)
		payload[i] = (uint8_t)(i * 7 + 1);
	if (runs > MAX_RUNS)
		runs = MAX_RUNS;
	if (runs < 1)
		runs = 1;
	const uint64_t n = quick ? 1000000 : 20000000;
	int nrows = 0;

	if (ring_open() != 0)
		return -1;
	rows[nrows] = (codec_row){"ring_op", "Ring operation (claim+commit+poll)", {0}, 0, 0, 0, 0, 0};
	int rc = measure(&rows[nrows++], bench_ring, n / 4, runs);
	ring_close();
	if (rc != 0) {
		say_error("ring operation: a claim or poll failed");
		return -1;
	}

	g_page_bytes = 64 * 1024;
	g_page = mmap(NULL, g_page_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g_page == MAP_FAILED) {
		say_error("mmap: %s", strerror(errno));
		return -1;
	}
	memset(g_page, 0, g_page_bytes);
	rows[nrows] = (codec_row){"mmap_write", "mmap write (64 B memcpy)", {0}, 0, 0, 0, 0, 0};
	rc = measure(&rows[nrows++], bench_mmap, n, runs);
	munmap(g_page, g_page_bytes);
	if (rc != 0)
		return -1;

	rows[nrows] = (codec_row){"encode", "Protocol encode", {0}, 0, 0, 0, 0, GOAL_NS};
	if (measure(&rows[nrows++], bench_encode, n, runs) != 0)
		return -1;
	rows[nrows] = (codec_row){"batch_encode", "Batch encode (per msg)", {0}, 0, 0, 0, 0, GOAL_NS};
	if (measure(&rows[nrows++], bench_batch, n, runs) != 0)
		return -1;
	rows[nrows] = (codec_row){"decode", "Protocol decode (zero-copy)", {0}, 0, 0, 0, 0, GOAL_NS};
	if (measure(&rows[nrows++], bench_decode, n, runs) != 0)
		return -1;
	return nrows;
}
