/* hermes-journal-bench: what journaling costs, beside the disk's own speed.
 *
 *   hermes-journal-bench [--dir DIR] [--count N] [--mb MB] [--live]
 *   hermes-journal-bench --instructions [--dir DIR]
 *
 * Rows, in one run, on the file system of DIR (default /var/tmp):
 *   append     the journal writer alone (hm_jwriter_msg into the mapping,
 *              page cache), 64-byte and 4 KiB messages
 *   record     the real recorder loop (journal/recorder) on a ring of an
 *              embedded bus: a producer thread publishes, the recorder
 *              thread journals; the time until the last one is in the journal
 *   fsync      the record row with fsync = batch (msync before each batch is
 *              released) and a sync after every message
 *   replay     hermes_replay_* reading the journal back, zero-copy
 *   live       a live subscriber's rate on the same ring, without and with the
 *              recorder journaling it (what recording costs the ring's readers)
 *   dd         the disk: dd bs=1M conv=fdatasync (bulk) and bs=4k oflag=dsync
 *              (one synchronous write at a time)
 * --instructions instead: instructions per message under callgrind of
 * hermes-journal-loop (beside this executable), the ring alone and with the
 * recorder's step, 64 B and 4 KiB.
 * Output: a Markdown table on stdout. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hermes/bus.h>
#include <hermes/replay.h>

#include "callgrind.h"
#include "journal/journal.h"
#include "journal/recorder/recorder.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static char base[256];

static void rm_rf(const char *path)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", path);
}

static void row(const char *what, uint32_t size, uint64_t n, uint64_t ns, const char *note)
{
	double s = (double)ns / 1e9;
	printf("| %-30s | %6u B | %10.2f M msg/s | %9.1f MB/s | %s |\n", what, size, (double)n / s / 1e6,
	       (double)n * size / s / 1e6, note);
	fflush(stdout);
}

static void bench_append(uint32_t size, uint64_t n)
{
	char dir[300];
	snprintf(dir, sizeof dir, "%s/append-%u", base, size);
	hm_jopts o = {.file_size = 256u << 20};
	hm_jwriter *w;
	if (hm_jwriter_open(dir, "bench", 1, &o, &w, NULL) != HERMES_OK) {
		fprintf(stderr, "journal %s: %s\n", dir, hermes_last_error_detail());
		exit(1);
	}
	static uint8_t msg[4096];
	memset(msg, 0xab, sizeof msg);
	uint64_t t0 = now_ns();
	for (uint64_t i = 0; i < n; i++)
		if (hm_jwriter_msg(w, i, msg, size) != HERMES_OK) {
			fprintf(stderr, "append: %s\n", hermes_last_error_detail());
			exit(1);
		}
	uint64_t t1 = now_ns();
	hm_jwriter_close(w);
	row("append (writer, page cache)", size, n, t1 - t0, "memcpy + CRC32C into the mapping");
	rm_rf(dir);
}

typedef struct rec_run {
	hj_recorder rec;
	atomic_bool stop;
} rec_run;

/* The recorder's own loop on an embedded bus, fed by this thread. */
static void bench_record(uint32_t size, uint64_t n, int fsync, bool replay)
{
	char dir[300], bus_name[64];
	snprintf(dir, sizeof dir, "%s/record-%u-%d", base, size, fsync);
	snprintf(bus_name, sizeof bus_name, "jbench-%d", (int)getpid());
	hermes_bus *bus;
	if (hermes_bus_create(bus_name, 96u << 20, 0600, &bus) != HERMES_OK) {
		fprintf(stderr, "bus: %s\n", hermes_last_error_detail());
		exit(1);
	}
	hermes_ring_config rc = {.name = "bench", .capacity = 32u << 20, .max_msg = 4096,
				 .policy = HERMES_POLICY_BLOCK};
	if (hermes_ring_create(bus, &rc) != HERMES_OK) {
		fprintf(stderr, "ring: %s\n", hermes_last_error_detail());
		exit(1);
	}
	static hj_ring_conf conf;
	memset(&conf, 0, sizeof conf);
	snprintf(conf.name, sizeof conf.name, "bench");
	snprintf(conf.dir, sizeof conf.dir, "%s", dir);
	conf.opts.file_size = 256u << 20;
	conf.fsync = fsync;
	conf.durable = true;
	static rec_run run;
	atomic_store(&run.stop, false);
	if (hj_recorder_open(&run.rec, bus, &conf, hermes_bus_id(bus), &run.stop) != HERMES_OK)
		exit(1);
	hj_recorder_subscribe(&run.rec);
	pthread_t th;
	pthread_create(&th, NULL, hj_recorder_run, &run.rec);
	hermes_pub *pub;
	hermes_pub_open(bus, "bench", &pub);
	static uint8_t msg[4096];
	memset(msg, 0xcd, sizeof msg);
	uint64_t t0 = now_ns();
	for (uint64_t i = 0; i < n; i++)
		if (hermes_pub_send_timed(pub, msg, size, NULL, 10000000000ll) != HERMES_OK) {
			fprintf(stderr, "publish %" PRIu64 " timed out\n", i);
			exit(1);
		}
	/* Done when the recorder has released the last one: its cursor is past
	 * it only after the message is in the journal. */
	while (hm_load_relaxed_u64(&run.rec.stats->messages) != n)
		sched_yield();
	uint64_t t1 = now_ns();
	atomic_store(&run.stop, true);
	pthread_join(th, NULL);
	hj_recorder_close(&run.rec);
	static const char *names[] = {"record (ring -> journal)", "record, fsync = interval",
				      "record, fsync = batch"};
	row(names[fsync], size, n, t1 - t0,
	    fsync == HJ_FSYNC_BATCH ? "msync(MS_SYNC) before each batch is released" : "producer to journaled");
	if (replay) {
		hermes_replay *r;
		hermes_replay_open(NULL, "bench", dir, 0, &r);
		uint64_t got = 0, bytes = 0;
		t0 = now_ns();
		hermes_msg m;
		while (hermes_replay_poll(r, &m) == HERMES_OK) {
			bytes += m.len;
			if (++got % 1024 == 0)
				hermes_replay_release(r);
		}
		t1 = now_ns();
		hermes_replay_close(r);
		if (got != n || bytes != n * size) {
			fprintf(stderr, "replay read %" PRIu64 " of %" PRIu64 "\n", got, n);
			exit(1);
		}
		row("replay (journal, zero-copy)", size, n, t1 - t0, "hermes_replay_poll");
	}
	hermes_pub_close(pub);
	hermes_bus_detach(bus);
	hermes_bus_unlink(bus_name);
	rm_rf(dir);
}

typedef struct live_arg {
	hermes_sub *sub; /* opened before the producer starts: it misses nothing */
	uint64_t n;
	uint64_t t0; /* when the producer started */
	uint64_t ns;
} live_arg;

/* A live subscriber draining the ring as fast as it can. */
static void *live_reader(void *p)
{
	live_arg *a = p;
	hermes_sub *sub = a->sub;
	uint64_t got = 0;
	while (got < a->n) {
		if (now_ns() - a->t0 > 60000000000ull) {
			fprintf(stderr, "live subscriber: %" PRIu64 " of %" PRIu64 " after 60 s\n", got, a->n);
			exit(1);
		}
		hermes_msg m;
		unsigned k = 0;
		while (k < 1024 && hermes_sub_poll(sub, &m) == HERMES_OK)
			k++;
		got += k;
		if (k)
			hermes_sub_release(sub);
		else
			sched_yield();
	}
	a->ns = now_ns() - a->t0;
	hermes_sub_close(sub);
	return NULL;
}

/* The live subscriber's rate on a block ring, alone (recorder 0), beside a
 * recorder (1), beside a durable recorder (2). */
static void bench_live(uint32_t size, uint64_t n, int recorder)
{
	bool recording = recorder != 0;
	char dir[300], bus_name[64];
	snprintf(dir, sizeof dir, "%s/live-%u", base, size);
	snprintf(bus_name, sizeof bus_name, "jbench-live-%d", (int)getpid());
	hermes_bus *bus;
	if (hermes_bus_create(bus_name, 96u << 20, 0600, &bus) != HERMES_OK)
		exit(1);
	hermes_ring_config rc = {.name = "bench", .capacity = 4u << 20, .max_msg = 4096,
				 .policy = HERMES_POLICY_BLOCK};
	if (hermes_ring_create(bus, &rc) != HERMES_OK)
		exit(1);
	static hj_ring_conf conf;
	memset(&conf, 0, sizeof conf);
	snprintf(conf.name, sizeof conf.name, "bench");
	snprintf(conf.dir, sizeof conf.dir, "%s", dir);
	conf.opts.file_size = 256u << 20;
	conf.durable = recorder == 2;
	static rec_run run;
	pthread_t rec_th, live_th;
	atomic_store(&run.stop, false);
	if (recording) {
		if (hj_recorder_open(&run.rec, bus, &conf, hermes_bus_id(bus), &run.stop) != HERMES_OK)
			exit(1);
		hj_recorder_subscribe(&run.rec);
		pthread_create(&rec_th, NULL, hj_recorder_run, &run.rec);
	}
	live_arg la = {.n = n, .t0 = now_ns()};
	if (hermes_sub_open(bus, "bench", HERMES_START_LATEST, 0, &la.sub) != HERMES_OK)
		exit(1);
	pthread_create(&live_th, NULL, live_reader, &la);
	hermes_pub *pub;
	hermes_pub_open(bus, "bench", &pub);
	static uint8_t msg[4096];
	for (uint64_t i = 0; i < n; i++)
		if (hermes_pub_send_timed(pub, msg, size, NULL, 10000000000ll) != HERMES_OK)
			exit(1);
	pthread_join(live_th, NULL);
	if (recording) {
		atomic_store(&run.stop, true);
		pthread_join(rec_th, NULL);
		hj_recorder_close(&run.rec);
	}
	row(recorder == 2 ? "live subscriber, durable recorder" : recording ? "live subscriber, recorder on" : "live subscriber, no recorder",
	    size, n, la.ns,
	    recording ? "producer start to last message read, journaled meanwhile" : "producer start to last message read");
	hermes_pub_close(pub);
	hermes_bus_detach(bus);
	hermes_bus_unlink(bus_name);
	rm_rf(dir);
}

/* dd's own summary line: "... copied, 0.5 s, 512 MB/s". */
static void bench_dd(const char *args, const char *what, uint32_t bs, uint64_t count)
{
	char cmd[600], line[400], last[400] = "";
	snprintf(cmd, sizeof cmd, "dd if=/dev/zero of='%s/dd.bin' bs=%u count=%" PRIu64 " %s 2>&1", base, bs,
		 count, args);
	FILE *p = popen(cmd, "r");
	if (!p)
		return;
	while (fgets(line, sizeof line, p))
		snprintf(last, sizeof last, "%s", line);
	pclose(p);
	char *copied = strstr(last, "copied, ");
	double secs = copied ? strtod(copied + 8, NULL) : 0;
	if (secs > 0)
		row(what, bs, count, (uint64_t)(secs * 1e9), args);
	else
		printf("| %-30s | %6u B | dd said: %s |\n", what, bs, last);
	char f[300];
	snprintf(f, sizeof f, "%s/dd.bin", base);
	unlink(f);
}

/* Instructions per message of one hermes-journal-loop mode under callgrind:
 * two runs of different lengths, so start-up cancels out. -1 on failure. */
static double loop_instructions(const char *loop, const char *mode, uint32_t size)
{
	const unsigned long n[2] = {size > 1024 ? 4000 : 32000, size > 1024 ? 8000 : 64000};
	unsigned long long ir[2];
	for (int i = 0; i < 2; i++) {
		char args[1400];
		snprintf(args, sizeof args, "'%s' %s %u %lu '%s'", loop, mode, size, n[i], base);
		if ((ir[i] = callgrind_ir(args)) == 0)
			return -1;
	}
	return (double)(ir[1] - ir[0]) / (double)(n[1] - n[0]);
}

/* --instructions: the recorder's instructions per message (exact on any
 * machine), beside the ring's own publish + poll + release. */
static int bench_instructions(const char *self)
{
	char loop[1100];
	snprintf(loop, sizeof loop, "%s", self);
	char *slash = strrchr(loop, '/');
	snprintf(slash ? slash + 1 : loop, sizeof loop - (size_t)(slash ? slash + 1 - loop : 0), "hermes-journal-loop");
	if (system("valgrind --version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "hermes-journal-bench: --instructions needs valgrind (apt-get install valgrind)\n");
		return 1;
	}
	if (mkdir(base, 0700) != 0 && errno != EEXIST)
		return 1;
	printf("| message | ring: publish + poll + release | ring + recorder | recorder's share |\n"
	       "|---|---|---|---|\n");
	static const uint32_t sizes[] = {64, 4096};
	for (size_t i = 0; i < 2; i++) {
		double ring = loop_instructions(loop, "ring", sizes[i]);
		double rec = loop_instructions(loop, "record", sizes[i]);
		if (ring < 0 || rec < 0) {
			fprintf(stderr, "hermes-journal-bench: %s failed under valgrind\n", loop);
			rm_rf(base);
			return 1;
		}
		printf("| %u B | %.0f | %.0f | %.0f |\n", sizes[i], ring, rec, rec - ring);
	}
	rm_rf(base);
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = "/var/tmp";
	uint64_t count = 2000000, mb = 256;
	static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
					     {"count", required_argument, NULL, 'n'},
					     {"mb", required_argument, NULL, 'm'},
					     {"live", no_argument, NULL, 'l'},
					     {"instructions", no_argument, NULL, 'i'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int c;
	bool live_only = false, instructions = false;
	while ((c = getopt_long(argc, argv, "d:n:m:lih", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			instructions = true;
			break;
		case 'l':
			live_only = true;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'n':
			count = strtoull(optarg, NULL, 10);
			break;
		case 'm':
			mb = strtoull(optarg, NULL, 10);
			break;
		case 'h':
			printf("usage: hermes-journal-bench [--dir DIR] [--count N64] [--mb MB4K] [--live]\n"
			       "       hermes-journal-bench --instructions [--dir DIR]\n"
			       "  N64 64-byte messages (default 2000000) and MB4K MiB of 4 KiB messages\n"
			       "  (default 256) per row, written under DIR (default /var/tmp);\n"
			       "  --live: only the live-subscriber rows;\n"
			       "  --instructions: the recorder's instructions per message under callgrind\n");
			return 0;
		default:
			return 2;
		}
	}
	if (count == 0 || mb == 0)
		return 2;
	snprintf(base, sizeof base, "%s/hermes-journal-bench.%d", dir, (int)getpid());
	hj_log_level = HJ_LOG_WARN;
	if (instructions)
		return bench_instructions(argv[0]);
	uint64_t n4k = mb * 256;
	printf("| row | message | rate | bandwidth | notes |\n|---|---|---|---|---|\n");
	if (!live_only) {
		bench_append(64, count);
		bench_append(4096, n4k);
		bench_record(64, count, HJ_FSYNC_NONE, true);
		bench_record(4096, n4k, HJ_FSYNC_NONE, true);
		bench_record(64, count / 4, HJ_FSYNC_BATCH, false);
		bench_record(4096, n4k / 4, HJ_FSYNC_BATCH, false);
	}
	for (int rec = 0; rec <= 2; rec++)
		bench_live(64, count, rec);
	for (int rec = 0; rec <= 2; rec++)
		bench_live(4096, n4k, rec);
	if (live_only) {
		rm_rf(base);
		return 0;
	}
	bench_dd("conv=fdatasync", "dd (bulk, one fdatasync)", 1u << 20, mb);
	bench_dd("oflag=dsync", "dd (every write synchronous)", 4096, 2000);
	rm_rf(base);
	return 0;
}
