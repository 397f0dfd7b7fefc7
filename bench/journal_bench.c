/* hermes-journal-bench: what journaling costs, beside the disk's own speed.
 *
 *   hermes-journal-bench [--dir DIR] [--count N] [--mb MB] [--live] [--prefault P]
 *   hermes-journal-bench --paced [--runs R] [--seconds S] [--dir DIR] [--prefault P]
 *   hermes-journal-bench --instructions [--dir DIR]
 *
 * Rows, in one run, on the file system of DIR (default /var/tmp):
 *   append     the journal writer alone (hm_jwriter_msg into the mapping,
 *              page cache), 64-byte and 4 KiB messages
 *   roll-over  the same into 16 MiB files, MB MiB: the appends that roll over
 *              to a new file, their time and page faults on the writer's
 *              thread (the next file is made ahead by its prefault thread)
 *   record     the real recorder loop (journal/recorder) on a ring of an
 *              embedded bus: a producer thread publishes, the recorder
 *              thread journals; the time until the last one is in the journal
 *   fsync      the record row with fsync = interval (msync every 10 ms) and
 *              fsync = batch (msync before each batch is released)
 *   replay     hermes_replay_* reading the journal back, zero-copy
 *   live       a live subscriber's rate on the same ring, without and with the
 *              recorder journaling it (what recording costs the ring's readers)
 *   dd         the disk: dd bs=1M conv=fdatasync (bulk) and bs=4k oflag=dsync
 *              (one synchronous write at a time)
 * Rows with a recorder also give its thread's CPU time per message
 * (getrusage), which the rest of the machine's load moves far less than
 * rates. --prefault inline makes the journal writer fault the file in itself
 * instead of on its prefault thread (journal/prefault.h), to compare.
 * --paced instead: fixed offered loads (2, 5, 10 M msgs/s of 64 B; 0.5 and
 * 1 GB/s of 4 KiB), S seconds each, a live subscriber's delivered rate and
 * latency (p50/p99/max from the scheduled send time in the payload) without,
 * with and with a durable recorder, R runs interleaved, medians.
 * --handover instead: a replay from sequence 0 started half-way through 1 s
 * of 1 M msgs/s (64 B) on a journaled ring, reading the journal, then
 * handing over to the live ring: every sequence once, in order, and the
 * stall at the hand-over (issue 15: no stall > 1 ms), R runs.
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hermes/bus.h>
#include <hermes/replay.h>

#include "callgrind.h"
#include "core/futex.h"
#include "hdr_histogram.h"
#include "journal/journal.h"
#include "journal/recorder/recorder.h"

static char base[256];
/* The recorders' hm_jopts.prefault_ahead (--prefault): a thread (0: its
 * default distance) or the writer itself (HM_JPREFAULT_INLINE). */
static uint64_t prefault_ahead;

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
	hm_jopts o = {.file_size = 256u << 20, .prefault_ahead = prefault_ahead};
	hm_jwriter *w;
	if (hm_jwriter_open(dir, "bench", 1, &o, &w, NULL) != HERMES_OK) {
		fprintf(stderr, "journal %s: %s\n", dir, hermes_last_error_detail());
		exit(1);
	}
	static uint8_t msg[4096];
	memset(msg, 0xab, sizeof msg);
	uint64_t t0 = hm_now_ns();
	for (uint64_t i = 0; i < n; i++)
		if (hm_jwriter_msg(w, i, msg, size) != HERMES_OK) {
			fprintf(stderr, "append: %s\n", hermes_last_error_detail());
			exit(1);
		}
	uint64_t t1 = hm_now_ns();
	hm_jwriter_close(w);
	row("append (writer, page cache)", size, n, t1 - t0, "memcpy + CRC32C into the mapping");
	rm_rf(dir);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t thread_faults(void)
{
	struct rusage ru;
	getrusage(RUSAGE_THREAD, &ru);
	return (uint64_t)(ru.ru_minflt + ru.ru_majflt);
}

#define ROLL_FILE (16u << 20)
#define ROLL_MAX 4096

/* The writer alone into 16 MiB files, mb MiB of size-byte messages: what the
 * appends that roll over cost the writer's thread (wall time, and page
 * faults, madvise's included) next to the others. */
static void bench_rollover(uint32_t size, uint64_t mb)
{
	char dir[300];
	snprintf(dir, sizeof dir, "%s/rollover-%u", base, size);
	hm_jopts o = {.file_size = ROLL_FILE, .prefault_ahead = prefault_ahead};
	hm_jwriter *w;
	if (hm_jwriter_open(dir, "bench", 1, &o, &w, NULL) != HERMES_OK) {
		fprintf(stderr, "journal %s: %s\n", dir, hermes_last_error_detail());
		exit(1);
	}
	static uint8_t msg[4096];
	static uint64_t roll_ns[ROLL_MAX], roll_faults[ROLL_MAX];
	memset(msg, 0xab, sizeof msg);
	uint64_t n = (mb << 20) / hm_jr_size(size), rolls = 0, per_file = 0, in_file = 0;
	uint64_t bytes = 0, slow = 0; /* other appends over 100 us */
	uint64_t t0 = hm_now_ns();
	for (uint64_t i = 0; i < n; i++) {
		/* Faults only where a roll-over is due (from the second
		 * file on, when a file's record count is known): a
		 * getrusage per append would cost more than the append. */
		bool due = per_file && in_file == per_file;
		uint64_t f0 = due ? thread_faults() : 0, a = hm_now_ns();
		if (hm_jwriter_msg(w, i, msg, size) != HERMES_OK) {
			fprintf(stderr, "append: %s\n", hermes_last_error_detail());
			exit(1);
		}
		uint64_t b = hm_now_ns(), now_bytes = hm_jwriter_bytes(w);
		in_file++;
		if (now_bytes == bytes) {
			slow += b - a > 100000;
			continue;
		}
		/* A new file: the journal's first (i == 0), or a roll-over. */
		if (bytes && !per_file)
			per_file = in_file - 1;
		if (bytes && rolls < ROLL_MAX) {
			roll_ns[rolls] = b - a;
			roll_faults[rolls++] = due ? thread_faults() - f0 : UINT64_MAX;
		}
		bytes = now_bytes;
		in_file = 1;
	}
	uint64_t t1 = hm_now_ns();
	hm_jwriter_close(w);
	char note[300];
	if (rolls) {
		qsort(roll_ns, rolls, sizeof *roll_ns, cmp_u64);
		qsort(roll_faults, rolls, sizeof *roll_faults, cmp_u64);
		/* The first roll-over's faults were not counted (UINT64_MAX:
		 * sorted last). */
		uint64_t counted = rolls - 1;
		snprintf(note, sizeof note,
			 "16 MiB files; %" PRIu64 " roll-overs: append %.0f us median, %.0f us max; writer-thread faults "
			 "%" PRIu64 " median; %" PRIu64 " other appends > 100 us",
			 rolls, (double)roll_ns[rolls / 2] / 1e3, (double)roll_ns[rolls - 1] / 1e3,
			 counted ? roll_faults[counted / 2] : 0, slow);
	} else {
		snprintf(note, sizeof note, "no roll-over");
	}
	row("roll-over (writer, page cache)", size, n, t1 - t0, note);
	rm_rf(dir);
}

typedef struct rec_run {
	hm_rec_recorder rec;
	atomic_bool stop;
	uint64_t user_ns, sys_ns; /* the recorder thread's CPU time */
} rec_run;

/* hm_rec_recorder_run, then the CPU time its thread used (getrusage
 * RUSAGE_THREAD): what recording costs the recorder's own thread, whatever
 * else the machine runs; the writer's prefault thread is not in it. */
static void *recorder_thread(void *p)
{
	rec_run *run = p;
	hm_rec_recorder_run(&run->rec);
	struct rusage ru;
	getrusage(RUSAGE_THREAD, &ru);
	run->user_ns = (uint64_t)ru.ru_utime.tv_sec * 1000000000ull + (uint64_t)ru.ru_utime.tv_usec * 1000u;
	run->sys_ns = (uint64_t)ru.ru_stime.tv_sec * 1000000000ull + (uint64_t)ru.ru_stime.tv_usec * 1000u;
	return NULL;
}

/* "recorder thread N ns/msg (M system)" for a row's notes. */
static const char *cpu_note(char *buf, size_t len, const rec_run *run, uint64_t n)
{
	snprintf(buf, len, "recorder thread CPU %.0f ns/msg (%.0f system)", (double)(run->user_ns + run->sys_ns) / (double)n,
		 (double)run->sys_ns / (double)n);
	return buf;
}

/* The recorder's own loop on an embedded bus, fed by this thread. */
#define INTERVAL_NS 10000000ull /* fsync = interval rows: every 10 ms */

/* Replay the n messages of `size` bytes that bench_record journaled in dir. */
static void bench_replay(const char *dir, uint32_t size, uint64_t n)
{
	hermes_replay *r;
	hermes_replay_open(NULL, "bench", dir, 0, &r);
	uint64_t got = 0, bytes = 0;
	uint64_t t0 = hm_now_ns();
	hermes_msg m;
	while (hermes_replay_poll(r, &m) == HERMES_OK) {
		bytes += m.len;
		if (++got % 1024 == 0)
			hermes_replay_release(r);
	}
	uint64_t t1 = hm_now_ns();
	hermes_replay_close(r);
	if (got != n || bytes != n * size) {
		fprintf(stderr, "replay read %" PRIu64 " of %" PRIu64 "\n", got, n);
		exit(1);
	}
	row("replay (journal, zero-copy)", size, n, t1 - t0, "hermes_replay_poll");
}

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
	static hm_rec_ring_conf conf;
	memset(&conf, 0, sizeof conf);
	snprintf(conf.name, sizeof conf.name, "bench");
	snprintf(conf.dir, sizeof conf.dir, "%s", dir);
	conf.opts.file_size = 256u << 20;
	conf.opts.prefault_ahead = prefault_ahead;
	conf.fsync = fsync;
	/* A row lasts well under the default second: sync often enough to
	 * count. */
	conf.fsync_interval_ns = INTERVAL_NS;
	conf.durable = true;
	static rec_run run;
	atomic_store(&run.stop, false);
	if (hm_rec_recorder_open(&run.rec, bus, &conf, hermes_bus_id(bus), &run.stop) != HERMES_OK)
		exit(1);
	hm_rec_recorder_subscribe(&run.rec);
	pthread_t th;
	pthread_create(&th, NULL, recorder_thread, &run);
	hermes_pub *pub;
	hermes_pub_open(bus, "bench", &pub);
	static uint8_t msg[4096];
	memset(msg, 0xcd, sizeof msg);
	uint64_t t0 = hm_now_ns();
	for (uint64_t i = 0; i < n; i++)
		if (hermes_pub_send_timed(pub, msg, size, NULL, 10000000000ll) != HERMES_OK) {
			fprintf(stderr, "publish %" PRIu64 " timed out\n", i);
			exit(1);
		}
	/* Done when the recorder has released the last one: its cursor is past
	 * it only after the message is in the journal. */
	while (hm_load_relaxed_u64(&run.rec.stats->messages) != n)
		sched_yield();
	uint64_t t1 = hm_now_ns();
	atomic_store(&run.stop, true);
	pthread_join(th, NULL);
	hm_rec_recorder_close(&run.rec);
	static const char *names[] = {"record (ring -> journal)", "record, fsync = interval",
				      "record, fsync = batch"};
	static const char *how[] = {"producer to journaled", "msync(MS_SYNC) of what is new every 10 ms",
				    "msync(MS_SYNC) before each batch is released"};
	char note[160], cpu[100];
	snprintf(note, sizeof note, "%s; %s", how[fsync], cpu_note(cpu, sizeof cpu, &run, n));
	row(names[fsync], size, n, t1 - t0, note);
	if (replay)
		bench_replay(dir, size, n);
	hermes_pub_close(pub);
	hermes_bus_detach(bus);
	hermes_bus_unlink(bus_name);
	rm_rf(dir);
}

/* A 4 MiB block ring on an embedded bus with, as `recorder` says, no
 * recorder (0), a recorder (1) or a durable recorder (2) journaling it on a
 * thread: what the live rows and the paced rows run on. */
typedef struct live_ring {
	char dir[300], bus_name[64];
	hermes_bus *bus;
	hermes_pub *pub;
	int recorder;
	rec_run *run;
	pthread_t rec_th;
} live_ring;

static void live_ring_open(live_ring *lr, const char *tag, uint32_t size, int recorder)
{
	snprintf(lr->dir, sizeof lr->dir, "%s/%s-%u", base, tag, size);
	snprintf(lr->bus_name, sizeof lr->bus_name, "jbench-%s-%d", tag, (int)getpid());
	hermes_ring_config rc = {.name = "bench", .capacity = 4u << 20, .max_msg = 4096,
				 .policy = HERMES_POLICY_BLOCK};
	if (hermes_bus_create(lr->bus_name, 96u << 20, 0600, &lr->bus) != HERMES_OK ||
	    hermes_ring_create(lr->bus, &rc) != HERMES_OK) {
		fprintf(stderr, "bus: %s\n", hermes_last_error_detail());
		exit(1);
	}
	static hm_rec_ring_conf conf;
	memset(&conf, 0, sizeof conf);
	snprintf(conf.name, sizeof conf.name, "bench");
	snprintf(conf.dir, sizeof conf.dir, "%s", lr->dir);
	conf.opts.file_size = 256u << 20;
	conf.opts.prefault_ahead = prefault_ahead;
	conf.durable = recorder == 2;
	static rec_run run;
	lr->run = &run;
	lr->recorder = recorder;
	atomic_store(&run.stop, false);
	if (recorder) {
		if (hm_rec_recorder_open(&run.rec, lr->bus, &conf, hermes_bus_id(lr->bus), &run.stop) != HERMES_OK)
			exit(1);
		hm_rec_recorder_subscribe(&run.rec);
		pthread_create(&lr->rec_th, NULL, recorder_thread, &run);
	}
	hermes_pub_open(lr->bus, "bench", &lr->pub);
}

/* Once the recorder has journaled n messages (it is at most a ring behind
 * the live reader: it holds the ring), stop it and remove everything. */
static void live_ring_close(live_ring *lr, uint64_t n)
{
	if (lr->recorder) {
		uint64_t t0 = hm_now_ns();
		while (hm_load_relaxed_u64(&lr->run->rec.stats->messages) < n && hm_now_ns() - t0 < 10000000000ull)
			sched_yield();
		atomic_store(&lr->run->stop, true);
		pthread_join(lr->rec_th, NULL);
		hm_rec_recorder_close(&lr->run->rec);
	}
	hermes_pub_close(lr->pub);
	hermes_bus_detach(lr->bus);
	hermes_bus_unlink(lr->bus_name);
	rm_rf(lr->dir);
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
		if (hm_now_ns() - a->t0 > 60000000000ull) {
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
	a->ns = hm_now_ns() - a->t0;
	hermes_sub_close(sub);
	return NULL;
}

/* The live subscriber's rate on a block ring, alone (recorder 0), beside a
 * recorder (1), beside a durable recorder (2). */
static void bench_live(uint32_t size, uint64_t n, int recorder)
{
	bool recording = recorder != 0;
	live_ring lr;
	live_ring_open(&lr, "live", size, recorder);
	pthread_t live_th;
	live_arg la = {.n = n, .t0 = hm_now_ns()};
	if (hermes_sub_open(lr.bus, "bench", HERMES_START_LATEST, 0, &la.sub) != HERMES_OK)
		exit(1);
	pthread_create(&live_th, NULL, live_reader, &la);
	static uint8_t msg[4096];
	for (uint64_t i = 0; i < n; i++)
		if (hermes_pub_send_timed(lr.pub, msg, size, NULL, 10000000000ll) != HERMES_OK)
			exit(1);
	pthread_join(live_th, NULL);
	live_ring_close(&lr, n);
	char note[200], cpu[100];
	snprintf(note, sizeof note, "producer start to last message read%s%s",
		 recording ? ", journaled meanwhile; " : "", recording ? cpu_note(cpu, sizeof cpu, lr.run, n) : "");
	row(recorder == 2 ? "live subscriber, durable recorder" : recording ? "live subscriber, recorder on" : "live subscriber, no recorder",
	    size, n, la.ns, note);
}

/* ---- paced: a fixed offered load, the live subscriber's rate and latency ---- */

/* How the paced rows are run (--paced). */
static uint64_t paced_ns = 1000000000ull; /* offered load per row */
static int paced_runs = 3;

typedef struct paced_arg {
	hermes_sub *sub;
	uint64_t n;
	uint64_t t0;   /* the first message's scheduled time */
	uint64_t last; /* when the last one was read */
	uint64_t got;
	hm_hist *hist; /* read time - scheduled time, ns */
} paced_arg;

/* The live subscriber: a latency-minded one, waiting on an empty ring with
 * HERMES_WAIT_YIELD (spin, then sched_yield: it never sleeps on the futex,
 * which would make the producer pay a wake-up system call per commit until
 * it runs again; on a busy 2-vCPU VM that alone held the producer to
 * 0.5-1.5 M msgs/s of 64 B). Latency is the read time minus the message's scheduled send time
 * (in its first 8 bytes), so time a producer spent held back counts. The
 * clock is read once per 32 messages (76 ns on this VM): a latency is late
 * by at most the time 32 messages take to read. */
static void *paced_reader(void *p)
{
	paced_arg *a = p;
	uint64_t now = hm_now_ns();
	unsigned since = 0;
	while (a->got < a->n) {
		hermes_msg m;
		hermes_err e = hermes_sub_poll(a->sub, &m);
		if (e == HERMES_OK) {
			uint64_t sent;
			memcpy(&sent, m.data, sizeof sent);
			if (++since == 32) {
				now = hm_now_ns();
				since = 0;
			}
			hm_hist_record(a->hist, now > sent ? now - sent : 0);
			if (++a->got % 256 == 0)
				hermes_sub_release(a->sub);
			continue;
		}
		if (e != HERMES_EAGAIN)
			continue;
		hermes_sub_release(a->sub);
		if (hm_now_ns() > a->t0 + paced_ns + 60000000000ull)
			break;
		hermes_sub_wait(a->sub, HERMES_WAIT_YIELD, 100000000);
		now = hm_now_ns();
		since = 0;
	}
	a->last = hm_now_ns();
	hermes_sub_release(a->sub);
	return NULL;
}

typedef struct paced_result {
	double rate; /* delivered, msgs/s */
	uint64_t p50, p99, max;
	double cpu_ns; /* the recorder thread's CPU time per message */
} paced_result;

/* One paced row: `rate` messages/s of `size` bytes for paced_ns, published
 * on a 4 MiB block ring as they fall due (the producer sleeps 20 µs when
 * none is due, so messages go in small bursts; each carries its scheduled
 * time), read by a live subscriber, with no recorder (0), a recorder (1) or
 * a durable recorder (2) on the ring. */
static paced_result bench_paced(uint32_t size, double rate, int recorder)
{
	live_ring lr;
	live_ring_open(&lr, "paced", size, recorder);
	pthread_t live_th;
	static hm_hist hist;
	hm_hist_init(&hist);
	uint64_t n = (uint64_t)(rate * (double)paced_ns / 1e9);
	paced_arg a = {.n = n, .hist = &hist};
	if (hermes_sub_open(lr.bus, "bench", HERMES_START_LATEST, 0, &a.sub) != HERMES_OK)
		exit(1);
	static uint8_t msg[4096];
	a.t0 = hm_now_ns() + 1000000;
	pthread_create(&live_th, NULL, paced_reader, &a);
	double period = 1e9 / rate;
	uint64_t i = 0;
	while (i < n) {
		uint64_t now = hm_now_ns();
		uint64_t due = now < a.t0 ? 0 : (uint64_t)((double)(now - a.t0) / period) + 1;
		if (due > n)
			due = n;
		if (due <= i) {
			struct timespec ts = {.tv_nsec = 20000};
			nanosleep(&ts, NULL);
			continue;
		}
		for (; i < due; i++) {
			uint64_t sent = a.t0 + (uint64_t)((double)i * period);
			memcpy(msg, &sent, sizeof sent);
			if (hermes_pub_send_timed(lr.pub, msg, size, NULL, 10000000000ll) != HERMES_OK) {
				fprintf(stderr, "paced publish %" PRIu64 " timed out\n", i);
				exit(1);
			}
		}
	}
	pthread_join(live_th, NULL);
	hermes_sub_close(a.sub);
	live_ring_close(&lr, n);
	if (a.got != n) {
		fprintf(stderr, "paced: the live subscriber read %" PRIu64 " of %" PRIu64 "\n", a.got, n);
		exit(1);
	}
	return (paced_result){.rate = (double)n / ((double)(a.last - a.t0) / 1e9),
			      .cpu_ns = recorder ? (double)(lr.run->user_ns + lr.run->sys_ns) / (double)n : 0,
			      .p50 = hm_hist_percentile(&hist, 50),
			      .p99 = hm_hist_percentile(&hist, 99),
			      .max = hist.max};
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void loadavg(char *buf, size_t len)
{
	FILE *f = fopen("/proc/loadavg", "r");
	buf[0] = '\0';
	if (f) {
		if (fgets(buf, (int)len, f))
			buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
	}
}

#define PACED_LOADS 5
#define PACED_MAX_RUNS 15

/* --paced: every offered load without, with and with a durable recorder,
 * paced_runs times interleaved (a slow moment of the machine hits all three
 * alike) in an order that changes from run to run, then medians: delivered rate (and its ratio to the same run's
 * no-recorder row), latency p50/p99/max in µs. */
static void bench_paced_all(void)
{
	static const struct {
		uint32_t size;
		double rate;
	} loads[PACED_LOADS] = {{64, 2e6}, {64, 5e6}, {64, 10e6}, {4096, 0.5e9 / 4096}, {4096, 1e9 / 4096}};
	static const char *names[3] = {"no recorder", "recorder", "durable recorder"};
	static paced_result res[PACED_LOADS][3][PACED_MAX_RUNS];
	char la0[128], la1[128];
	loadavg(la0, sizeof la0);
	/* Run r takes the three rows in the order orders[r % 6]: on the
	 * development VM a row that journals right after another one did
	 * reuses the pages it freed, one after a pause pays for fresh pages
	 * (bench/README.md), so no kind may always follow the same one. */
	static const int orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {2, 0, 1}, {1, 2, 0}, {2, 1, 0}};
	for (int r = 0; r < paced_runs; r++)
		for (int l = 0; l < PACED_LOADS; l++)
			for (int j = 0; j < 3; j++) {
				int k = orders[r % 6][j];
				res[l][k][r] = bench_paced(loads[l].size, loads[l].rate, k);
			}
	loadavg(la1, sizeof la1);
	printf("\nPaced: %.1f s per row, %d runs, medians; load average before: %s, after: %s; "
	       "prefault %s\n\n",
	       (double)paced_ns / 1e9, paced_runs, la0, la1,
	       prefault_ahead == HM_JPREFAULT_INLINE ? "inline" : "thread");
	printf("| offered | message | reader beside | delivered (median) | vs no recorder (median of runs) | "
	       "p50 µs | p99 µs | max µs | recorder thread CPU ns/msg | delivered, each run (M msgs/s) |\n"
	       "|---|---|---|---|---|---|---|---|---|---|\n");
	for (int l = 0; l < PACED_LOADS; l++) {
		for (int k = 0; k < 3; k++) {
			double rate[PACED_MAX_RUNS], ratio[PACED_MAX_RUNS], p50[PACED_MAX_RUNS], p99[PACED_MAX_RUNS],
				mx[PACED_MAX_RUNS], cpu[PACED_MAX_RUNS];
			char each[200] = "";
			for (int r = 0; r < paced_runs; r++) {
				const paced_result *x = &res[l][k][r];
				rate[r] = x->rate;
				ratio[r] = x->rate / res[l][0][r].rate;
				p50[r] = (double)x->p50 / 1e3;
				p99[r] = (double)x->p99 / 1e3;
				mx[r] = (double)x->max / 1e3;
				cpu[r] = x->cpu_ns;
				size_t at = strlen(each);
				snprintf(each + at, sizeof each - at, "%s%.2f", r ? ", " : "", x->rate / 1e6);
			}
			char offered[40];
			if (loads[l].size >= 4096)
				snprintf(offered, sizeof offered, "%.2f GB/s", loads[l].rate * loads[l].size / 1e9);
			else
				snprintf(offered, sizeof offered, "%.0f M msgs/s", loads[l].rate / 1e6);
			double d = median(rate, paced_runs);
			char cpus[24] = "-";
			if (k)
				snprintf(cpus, sizeof cpus, "%.0f", median(cpu, paced_runs));
			printf("| %s | %u B | %s | %.2f M msgs/s (%.2f GB/s) | %+.1f %% | %.0f | %.0f | %.0f | %s | %s |\n",
			       offered, loads[l].size, names[k], d / 1e6, d * loads[l].size / 1e9,
			       (median(ratio, paced_runs) - 1) * 100, median(p50, paced_runs), median(p99, paced_runs),
			       median(mx, paced_runs), cpus, each);
		}
	}
	fflush(stdout);
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

/* ---- hand-over: a replay from the journal meeting the live ring ---------- */

#define HANDOVER_RATE 1000000.0 /* msgs/s, 64 B */
#define HANDOVER_AFTER_NS 10000000ull /* the window after the hand-over */

typedef struct handover_prod {
	hermes_pub *pub;
	uint64_t n, t0;
} handover_prod;

/* Publish n 64-byte messages at HANDOVER_RATE from t0, each carrying its
 * scheduled time (as the paced rows). */
static void *handover_producer(void *p)
{
	handover_prod *a = p;
	uint8_t msg[64] = {0};
	uint64_t i = 0;
	while (i < a->n) {
		uint64_t now = hm_now_ns();
		uint64_t due = now < a->t0 ? 0 : (uint64_t)((double)(now - a->t0) * HANDOVER_RATE / 1e9) + 1;
		if (due > a->n)
			due = a->n;
		if (due <= i) {
			struct timespec ts = {.tv_nsec = 20000};
			nanosleep(&ts, NULL);
			continue;
		}
		for (; i < due; i++) {
			uint64_t sent = a->t0 + (uint64_t)((double)i * 1e9 / HANDOVER_RATE);
			memcpy(msg, &sent, sizeof sent);
			if (hermes_pub_send_timed(a->pub, msg, sizeof msg, NULL, 10000000000ll) != HERMES_OK) {
				fprintf(stderr, "hand-over: publish %" PRIu64 " timed out\n", i);
				exit(1);
			}
		}
	}
	return NULL;
}

/* One hand-over: 1 s of messages at HANDOVER_RATE on a 4 MiB block ring
 * with a recorder; half-way, a replay from sequence 0 (long gone from the
 * ring) reads the journal, catches up and goes live. The stall: from the
 * last message out of the journal (or, when later, the first live
 * message's scheduled send time) to that first live message's delivery.
 * Every sequence is checked: once each, in order. */
static void bench_handover_once(uint64_t *seq, uint64_t *stall, uint64_t *first_lat, uint64_t *after_max)
{
	live_ring lr;
	live_ring_open(&lr, "handover", 64, 1);
	handover_prod a = {.pub = lr.pub, .n = (uint64_t)HANDOVER_RATE, .t0 = hm_now_ns() + 1000000};
	pthread_t th;
	pthread_create(&th, NULL, handover_producer, &a);
	struct timespec half = {.tv_nsec = 500000000};
	nanosleep(&half, NULL);
	hermes_replay *r;
	if (hermes_replay_open(lr.bus, "bench", lr.dir, 0, &r) != HERMES_OK) {
		fprintf(stderr, "hand-over: %s\n", hermes_last_error_detail());
		exit(1);
	}
	uint64_t got = 0, prev = 0, live_at = 0;
	*seq = *stall = *first_lat = *after_max = 0;
	while (got < a.n) {
		hermes_msg m;
		hermes_err e = hermes_replay_poll(r, &m);
		if (e == HERMES_EAGAIN) {
			hermes_replay_release(r);
			hermes_replay_wait(r, HERMES_WAIT_YIELD, 1000000);
			if (hm_now_ns() - a.t0 > 60000000000ull)
				break;
			continue;
		}
		if (e != HERMES_OK || m.seq != got) {
			fprintf(stderr, "hand-over: %s at sequence %" PRIu64 " (expected %" PRIu64 ")\n",
				hermes_strerror(e), m.seq, got);
			exit(1);
		}
		uint64_t now = hm_now_ns(), sent;
		memcpy(&sent, m.data, sizeof sent);
		if (!live_at && hermes_replay_is_live(r)) {
			live_at = now;
			*seq = m.seq;
			*stall = now - (prev > sent ? prev : sent);
			*first_lat = now > sent ? now - sent : 0;
		} else if (live_at && now - live_at < HANDOVER_AFTER_NS && now > sent && now - sent > *after_max) {
			*after_max = now - sent;
		}
		prev = now;
		if (++got % 256 == 0)
			hermes_replay_release(r);
	}
	hermes_replay_close(r);
	pthread_join(th, NULL);
	live_ring_close(&lr, a.n);
	if (got != a.n || !live_at) {
		fprintf(stderr, "hand-over: read %" PRIu64 " of %" PRIu64 "%s\n", got, a.n,
			live_at ? "" : ", never live");
		exit(1);
	}
}

/* --handover: runs of bench_handover_once, one table row each. */
static void bench_handover(void)
{
	char load[128];
	loadavg(load, sizeof load);
	printf("Hand-over: 1 M msgs/s of 64 B, replay from sequence 0 after 0.5 s; load average %s\n\n", load);
	printf("| run | live from sequence | stall (µs) | first live message's latency (µs) | "
	       "max latency, next 10 ms (µs) |\n|---|---|---|---|---|\n");
	for (int i = 0; i < paced_runs; i++) {
		uint64_t seq, stall, first, after;
		bench_handover_once(&seq, &stall, &first, &after);
		printf("| %d | %" PRIu64 " | %.1f | %.1f | %.1f |\n", i + 1, seq, (double)stall / 1e3,
		       (double)first / 1e3, (double)after / 1e3);
		fflush(stdout);
	}
}

static void usage(void)
{
	printf("usage: hermes-journal-bench [--dir DIR] [--count N64] [--mb MB4K] [--live]\n"
	       "                            [--prefault thread|inline|MB]\n"
	       "       hermes-journal-bench --paced [--runs R] [--seconds S] [--dir DIR] [--prefault ...]\n"
	       "       hermes-journal-bench --handover [--runs R] [--dir DIR]\n"
	       "       hermes-journal-bench --instructions [--dir DIR]\n"
	       "  N64 64-byte messages (default 2000000) and MB4K MiB of 4 KiB messages\n"
	       "  (default 256) per row, written under DIR (default /var/tmp);\n"
	       "  --live: only the live-subscriber rows;\n"
	       "  --paced: a live subscriber's delivered rate and latency at fixed offered\n"
	       "  loads (2, 5, 10 M msgs/s of 64 B; 0.5, 1 GB/s of 4 KiB), S seconds each\n"
	       "  (default 1), without and with a recorder, R runs (default 3), medians;\n"
	       "  --prefault: the recorder's prefault thread (default; MB: its distance)\n"
	       "  or inline (the writer faults the journal in itself);\n"
	       "  --handover: a replay from sequence 0 handing over to the live ring while\n"
	       "  1 M msgs/s are published: the stall at the hand-over, R runs;\n"
	       "  --instructions: the recorder's instructions per message under callgrind\n");
}

/* What the command line asks for; parse_args fills it from argv. */
struct bench_args {
	const char *dir;
	uint64_t count, mb;
	int live_only, instructions, paced, handover; /* getopt_long flags */
};

/* Returns -1 to go on, else the exit status (0 after --help, 2 on a bad option). */
static int parse_args(int argc, char **argv, struct bench_args *a)
{
	const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
					     {"count", required_argument, NULL, 'n'},
					     {"mb", required_argument, NULL, 'm'},
					     {"live", no_argument, &a->live_only, 1},
					     {"paced", no_argument, &a->paced, 1},
					     {"runs", required_argument, NULL, 'r'},
					     {"seconds", required_argument, NULL, 's'},
					     {"prefault", required_argument, NULL, 'f'},
					     {"instructions", no_argument, &a->instructions, 1},
					     {"handover", no_argument, &a->handover, 1},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "d:n:m:r:s:f:h", opts, NULL)) != -1) {
		switch (c) {
		case 0: /* a flag: getopt_long set it */
			break;
		case 'r':
			paced_runs = atoi(optarg);
			if (paced_runs < 1 || paced_runs > PACED_MAX_RUNS)
				return 2;
			break;
		case 's':
			paced_ns = (uint64_t)(strtod(optarg, NULL) * 1e9);
			if (paced_ns < 10000000 || paced_ns > 60000000000ull)
				return 2;
			break;
		case 'f':
			if (!strcmp(optarg, "inline"))
				prefault_ahead = HM_JPREFAULT_INLINE;
			else if (!strcmp(optarg, "thread"))
				prefault_ahead = 0;
			else if ((prefault_ahead = strtoull(optarg, NULL, 10) << 20) == 0)
				return 2;
			break;
		case 'd':
			a->dir = optarg;
			break;
		case 'n':
			a->count = strtoull(optarg, NULL, 10);
			break;
		case 'm':
			a->mb = strtoull(optarg, NULL, 10);
			break;
		case 'h':
			usage();
			return 0;
		default:
			return 2;
		}
	}
	return a->count == 0 || a->mb == 0 ? 2 : -1;
}

/* The throughput table: appends, recorder rows, live subscribers, then dd for scale. */
static void bench_rates(const struct bench_args *a)
{
	uint64_t count = a->count, n4k = a->mb * 256;
	printf("| row | message | rate | bandwidth | notes |\n|---|---|---|---|---|\n");
	if (!a->live_only) {
		bench_append(64, count);
		bench_append(4096, n4k);
		bench_rollover(64, a->mb);
		bench_rollover(4096, a->mb);
		bench_record(64, count, HM_REC_FSYNC_NONE, true);
		bench_record(4096, n4k, HM_REC_FSYNC_NONE, true);
		bench_record(64, count / 4, HM_REC_FSYNC_INTERVAL, false);
		bench_record(4096, n4k / 4, HM_REC_FSYNC_INTERVAL, false);
		bench_record(64, count / 4, HM_REC_FSYNC_BATCH, false);
		bench_record(4096, n4k / 4, HM_REC_FSYNC_BATCH, false);
	}
	for (int rec = 0; rec <= 2; rec++)
		bench_live(64, count, rec);
	for (int rec = 0; rec <= 2; rec++)
		bench_live(4096, n4k, rec);
	if (a->live_only)
		return;
	bench_dd("conv=fdatasync", "dd (bulk, one fdatasync)", 1u << 20, a->mb);
	bench_dd("oflag=dsync", "dd (every write synchronous)", 4096, 2000);
}

int main(int argc, char **argv)
{
	struct bench_args a = {.dir = "/var/tmp", .count = 2000000, .mb = 256};
	int rc = parse_args(argc, argv, &a);
	if (rc >= 0)
		return rc;
	snprintf(base, sizeof base, "%s/hermes-journal-bench.%d", a.dir, (int)getpid());
	hm_dlog_set_level(HM_DLOG_WARN);
	if (a.instructions)
		return bench_instructions(argv[0]);
	if (a.paced || a.handover) {
		if (mkdir(base, 0700) != 0 && errno != EEXIST)
			return 1;
		if (a.paced)
			bench_paced_all();
		else
			bench_handover();
	} else {
		bench_rates(&a);
	}
	rm_rf(base);
	return 0;
}
