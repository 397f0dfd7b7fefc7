/* hermes-bench internals shared by its modules.
 *
 * The benchmark runs as one coordinator process and short-lived worker
 * processes. The coordinator never touches a peer library (ZeroMQ, iceoryx,
 * NATS keep threads and global state that do not survive fork): it sets up
 * what must exist before the workers start (a Hermes bus, a bare ring, a
 * listening socket, a server), forks the workers, tells them when to go and
 * when to stop through one shared page (bench_ctl), and reads their results
 * from shared memory (the latency histogram, the consumers' counters).
 *
 * Each transport is one row of the table all_transports (hermes_bench.c).
 * A transport fills in the hooks it supports: its workers (lat_side,
 * tp_produce, tp_consume) open their end and run the generic loops of
 * bench_loops.h (lat_side_run, tp_produce, tp_consume) over a small constant
 * table of its operations, so every transport runs the very same
 * measurement code; the coordinator's hooks (open/close, the setups) may be
 * left NULL where the defaults do.
 */
#ifndef HM_BENCH_H
#define HM_BENCH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "core/atomics.h"

#include "hdr_histogram.h"

#define NS_PER_S 1000000000ull
#define NS_PER_MS 1000000ull
/* A peer that sends nothing for this long is taken to be gone or stuck. */
#define PEER_TIMEOUT_NS (5 * NS_PER_S)
/* Blocking waits sleep at most this long at a time, so stop flags and a dead
 * peer are noticed promptly (socket receive timeouts use it too). */
#define WAIT_SLICE_NS (100 * NS_PER_MS)
/* How often the coordinator and a worker setting up look again at what
 * they wait for (workers ending, a server or peer ports getting ready). */
#define POLL_NS NS_PER_MS
/* Empty polls between two looks at the clock and the stop flags. */
#define CHECK_EVERY 1024u

#define MIN_SIZE 8u /* room for the timestamp or sequence number */
#define MAX_SIZE 65536u
#define MAX_BATCH 1024u
#define MAX_RUNS 9u
#define MAX_PRODUCERS 4u
#define MAX_CONSUMERS 4u
#define MAX_WORKERS (MAX_PRODUCERS + MAX_CONSUMERS)
#define MAX_CPUS 16u
/* hermes_sub_wait(HERMES_WAIT_BLOCK) checks the ring this many times before
 * it sleeps; the bare ring's "block" wait does the same, so that comparison
 * isolates the rings rather than two spin policies. */
#define BLOCK_SPIN_CHECKS 2048u

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* ---- options ---- */

/* How a latency receiver waits. */
typedef enum wait_kind {
	W_SPIN,	 /* busy-poll */
	W_BLOCK, /* the transport's blocking receive (Hermes, bare ring: spin, then futex) */
	W_FUTEX, /* bare ring only: straight to the futex, no spin */
	W_N_
} wait_kind;

typedef enum topology {
	TOPO_1_1, /* one producer, one consumer */
	TOPO_4_1, /* four producers into one ring, one consumer */
	TOPO_1_4, /* one producer, four subscribers each seeing every message */
	TOPO_N_
} topology;

typedef struct bench_opts {
	bool quick;
	bool json;
	uint32_t size;
	uint64_t count;	      /* latency round trips per run; 0: default */
	unsigned waits;	      /* bits of wait_kind; 0: the command's default */
	unsigned topos;	      /* bits of topology; 0: the command's default */
	unsigned runs;	      /* repetitions; 0: default (1 quick, 3 full) */
	int cpus[MAX_CPUS];   /* --cpu: worker i runs on cpus[i % ncpus] */
	unsigned ncpus;	      /* 0: no pinning */
	int rt_prio;	      /* --rt: SCHED_FIFO priority of workers; 0: none */
	int busy_poll_us;     /* --busy-poll: SO_BUSY_POLL on sockets; 0: none */
	int spin_yield_us;    /* --spin-yield: yield after this long spinning; -1 never */
	bool bridge_busy_poll; /* --bridge-busy-poll: start hermes-bridge with --busy-poll */
	double seconds;	      /* throughput window; 0: default */
	uint32_t batch;	      /* the batch run's messages per claim */
	const char *peers;    /* --peers: comma list of transport names; NULL: all */
	const char *csv;
	const char *hist;
	const char *out;      /* `all`: results directory */
} bench_opts;

/* Defaults that depend on quick/full. */
unsigned opt_runs(const bench_opts *o);
uint64_t opt_lat_count(const bench_opts *o);
uint64_t opt_lat_budget_ns(const bench_opts *o);
double opt_tp_seconds(const bench_opts *o);

/* ---- process-wide state (bench_proc.c) ---- */

/* Set by SIGINT/SIGTERM (and, in a worker, by the coordinator's death
 * through PR_SET_PDEATHSIG). */
extern volatile sig_atomic_t g_stop;

/* One per consumer, on its own 128-byte block: written by that consumer only. */
typedef struct bench_counter {
	hm_atomic_u64 received; /* messages taken so far */
	hm_atomic_u64 lost;	/* gaps seen (lossy transports) */
	hm_atomic_u32 bad;	/* a message out of order or of the wrong size */
	uint8_t pad_[HM_FALSE_SHARING - 20];
} bench_counter;

/* The shared page through which the coordinator steers its workers (see
 * ctl_get and friends below for the memory order). */
typedef struct bench_ctl {
	hm_atomic_u32 go;    /* producers may start */
	hm_atomic_u32 stop;  /* the measurement is over: pinging side, producers end */
	hm_atomic_u32 done;  /* the producers have ended: consumers may end too */
	hm_atomic_u32 abort; /* a worker failed: everyone ends */
	uint8_t pad_[HM_FALSE_SHARING - 16];
	bench_counter cons[MAX_CONSUMERS];
} bench_ctl;

extern bench_ctl *g_ctl;

/* Every access to the control page goes through these four. Relaxed is
 * enough for all of them: a flag carries no data with it (a late view costs
 * a few more messages or polls), a counter is a sample of a monotonic value,
 * and what a worker leaves there at its end (lost, bad) is read by the
 * coordinator only after waitpid, which orders everything the worker did
 * before what the coordinator does after. */
static inline uint32_t ctl_get(const hm_atomic_u32 *flag)
{
	return hm_load_relaxed_u32(flag);
}

static inline void ctl_put(hm_atomic_u32 *flag, uint32_t v)
{
	hm_store_relaxed_u32(flag, v);
}

static inline uint64_t ctl_count(const hm_atomic_u64 *counter)
{
	return hm_load_relaxed_u64(counter);
}

static inline void ctl_put_count(hm_atomic_u64 *counter, uint64_t v)
{
	hm_store_relaxed_u64(counter, v);
}
/* Where the pinging worker records round trips; shared with the coordinator. */
extern hm_hist *g_shared_hist;

uint64_t now_ns(void);
void sleep_ns(uint64_t ns);
void say_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void say_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Signals, the shared page, the shared histogram. 0 or -1. */
int bench_proc_init(void);

/* A message of size bytes in the pattern every transport sends (arbitrary
 * but not all zero), for the caller to free(); NULL when out of memory. */
uint8_t *payload_new(uint32_t size);
/* Free a transport's job state (*state, from its setup) and clear it. */
void job_state_free(void **state);
/* The longest name job_name_new makes, with its terminating NUL. */
#define JOB_NAME_MAX 32u
/* A job state that is a name of its own (a char string): prefix, then a
 * number that counts the measurements of this run. 0 or -1. */
int job_name_new(void **state, const char *prefix);

/* Worker side: the set-up is done (connected, subscribed). 0 or -1. */
int worker_ready(void);
/* Worker side: should this worker give up now (interrupt, coordinator gone,
 * another worker failed)? */
static inline bool worker_stopping(void)
{
	return g_stop || ctl_get(&g_ctl->abort);
}

typedef struct worker {
	const char *role; /* "echo", "ping", "producer", "consumer": for messages */
	int (*fn)(void *arg, unsigned index);
	void *arg;
	unsigned index; /* within its role (producer 0..3), passed to fn */
	unsigned slot;	/* position in the group: picks the CPU when pinning */
	pid_t pid;
	int status;
	bool running;
} worker;

/* Fork the workers in order, each one ready before the next starts (so
 * consumers are subscribed before producers exist). Workers are pinned and
 * given RT priority per the options. On failure every worker started is
 * stopped and reaped; returns -1. */
int group_start(const bench_opts *o, worker *w, unsigned n);
/* Reap workers that ended. Returns -1 as soon as one failed (and then
 * raises abort), else 0. */
int group_poll(worker *w, unsigned n);
/* Wait up to timeout_ns for workers [from, to) to end; stop the rest with
 * SIGTERM, then SIGKILL. Returns -1 when any of them failed or had to be
 * stopped. */
int group_finish(worker *w, unsigned from, unsigned to, uint64_t timeout_ns);
/* Sleep ns, watching the workers; -1 as soon as one fails or on interrupt. */
int group_sleep(worker *w, unsigned n, uint64_t ns);

/* Start a helper server (nats-server, iox-roudi) with its output going to
 * log_path. Returns its pid or -1. */
pid_t server_spawn(const char *path, char *const argv[], const char *log_path);
/* How long a helper server may take to be ready, and how often
 * server_await looks. */
#define SERVER_START_NS (10 * NS_PER_S)
#define SERVER_POLL_NS (5 * NS_PER_MS)
/* How long server_stop waits for a server to exit before SIGKILL: when its
 * transport closes, when the bench exits, when it failed to start. */
#define SERVER_STOP_MS 5000u
#define SERVER_EXIT_STOP_MS 2000u
#define SERVER_ABORT_STOP_MS 1000u
/* Wait for the server started as pid to be ready (ready(arg) holds). 0, or
 * -1 when it exited, was not ready within SERVER_START_NS or a signal came;
 * it is then stopped. */
int server_await(pid_t pid, bool (*ready)(const void *arg), const void *arg);
/* A server_await test: does 127.0.0.1 accept TCP connections at the port
 * (an unsigned) arg points at? */
bool tcp_port_accepts(const void *port);
/* SIGTERM, wait up to timeout_ms, then SIGKILL; always reaps. */
void server_stop(pid_t pid, unsigned timeout_ms);
/* Find an executable by name: $PATH, then /usr/bin, /usr/sbin, /usr/local/bin,
 * /usr/local/sbin, /usr/lib/<name>/. Copies the path into out; 0 or -1. */
int find_executable(const char *name, char *out, size_t len);
/* The directory of this program, in buf ("." when it cannot be read). */
const char *exe_dir(char *buf, size_t len);
/* An executable of this build tree: rel, a path from this program's
 * directory, when it is there; else name (NULL: none) by find_executable.
 * Copies the path into out; 0 or -1 (without name, out is the path tried). */
int find_beside(const char *rel, const char *name, char *out, size_t len);
/* A TCP port on 127.0.0.1 that was free a moment ago; 0 on failure. */
unsigned free_tcp_port(void);
/* A private temporary directory for sockets, configs and logs (made once,
 * removed at exit). */
const char *bench_tmpdir(void);

/* ---- measurements ---- */

/* One latency measurement, set up in the coordinator before the fork. */
typedef struct lat_job {
	const bench_opts *o;
	wait_kind wait;
	uint32_t size;
	uint64_t warmup;
	uint64_t count;
	uint64_t budget_ns; /* the pinging side ends the run after this long */
	const char *label;  /* "latency hermes spin", for messages */
	void *state;	    /* the transport's */
} lat_job;

/* One throughput measurement. */
typedef struct tp_job {
	const bench_opts *o;
	topology topo;
	unsigned producers;
	unsigned consumers;
	uint32_t size;
	uint32_t batch;
	/* More workers than CPUs: idle waits yield at once instead of spinning. */
	bool yield;
	const char *label;
	const uint8_t *payload; /* size bytes copied into every message */
	void *state;
} tp_job;

typedef struct transport {
	const char *name;  /* "hermes", "bare-ring", "unix", ... */
	const char *about; /* how it is measured, one line */
	unsigned waits;	   /* latency: bits of wait_kind */
	unsigned topos;	   /* throughput: bits of topology */
	bool batch;	   /* throughput with batch > 1 means something */
	bool lossy;	   /* its throughput may drop messages (they are counted) */
	/* Compiled out (its library was not found): why its rows are
	 * skipped. NULL: built in. */
	const char *missing;
	/* Coordinator, once per command: find what the transport needs and
	 * start its server. 0, or -1 with a reason to skip it. NULL: none. */
	int (*open)(const bench_opts *o, char *why, size_t len);
	void (*close)(void);
	/* Coordinator, around each measurement: make what its workers share
	 * (j->state). 0 or -1. A NULL setup calls state_new (when set); a
	 * NULL teardown is job_state_free. */
	int (*lat_setup)(lat_job *j);
	void (*lat_teardown)(lat_job *j);
	int (*tp_setup)(tp_job *j);
	void (*tp_teardown)(tp_job *j);
	/* A measurement's state, the same for latency and throughput: one
	 * allocation (job_state_free frees it). 0 or -1. */
	int (*state_new)(void **state);
	/* Coordinator, once every worker is ready: drop what only the
	 * workers need (descriptors whose peer must see end-of-file when a
	 * worker exits). NULL: nothing. */
	void (*started)(void *state);
	/* Workers. Each calls worker_ready() once set up. 0 or -1. One side
	 * of a ping-pong: the pinging one records its round trips in h. */
	int (*lat_side)(lat_job *j, bool pinging, hm_hist *h);
	int (*tp_produce)(tp_job *j, unsigned index);
	int (*tp_consume)(tp_job *j, unsigned index);
} transport;

/* Every transport, in table order; compiled-out peers are rows whose `open`
 * says why. */
extern const transport *const all_transports[];
extern const unsigned n_transports;
const transport *transport_find(const char *name);

extern const transport transport_hermes;
extern const transport transport_hermes_waitset;
extern const transport transport_bare;
extern const transport transport_pipe;
extern const transport transport_unix;
extern const transport transport_tcp;
extern const transport transport_zmq_ipc;
extern const transport transport_zmq_tcp;
extern const transport transport_iceoryx;
extern const transport transport_nats;
extern const transport transport_bridge;

/* Socket helpers (transport_socket.c), used by the bridge rows too. */
int sock_set_timeouts(int fd, uint64_t ns);
void sock_tune(int fd, const bench_opts *o, bool tcp);

/* ---- results ---- */

#define LAT_NPCT 6 /* p50, p90, p99, p99.9, p99.99, max */
extern const double lat_pcts[LAT_NPCT];
extern const char *const lat_pct_names[LAT_NPCT];

typedef struct lat_result {
	const char *transport;
	const char *wait;
	uint32_t size;
	unsigned runs;
	uint64_t count;		      /* round trips measured, all runs */
	uint64_t v[LAT_NPCT][MAX_RUNS]; /* per run */
	uint64_t med[LAT_NPCT], lo[LAT_NPCT], hi[LAT_NPCT];
	double mean;
	hm_hist *merged; /* every run's round trips, for the plot */
	bool skipped;
	bool partial; /* a run hit its time budget */
	char note[160];
} lat_result;

typedef struct tp_result {
	const char *transport;
	topology topo;
	uint32_t size;
	uint32_t batch;
	unsigned runs;
	double seconds;
	double mps[MAX_RUNS]; /* messages per second (per subscriber for 1->4) */
	double median, min, max;
	uint64_t lost;
	bool skipped;
	char note[160];
} tp_result;

typedef struct codec_row {
	const char *key;
	const char *label;
	double ns[MAX_RUNS];
	unsigned runs;
	double median, min, max;
	double goal_ns; /* 0: none */
} codec_row;

#define MAX_LAT 48
#define MAX_TP 64
#define MAX_CODEC 8

typedef struct results {
	lat_result lat[MAX_LAT];
	unsigned nlat;
	tp_result tp[MAX_TP];
	unsigned ntp;
	codec_row codec[MAX_CODEC];
	unsigned ncodec;
	bool bridge_skipped;
	char bridge_note[160];
	char spin_note[200]; /* how spinning waits behave, for the output */
} results;

/* The names of the waits and topologies, as options and output say them. */
extern const char *const wait_names[W_N_];
extern const char *const topo_names[TOPO_N_];
const char *wait_name(wait_kind w);
const char *topo_name(topology t);

const lat_result *find_lat(const results *r, const char *name, const char *wait, uint32_t size);
const tp_result *find_tp(const results *r, const char *name, topology topo, uint32_t size,
			 uint32_t batch);

/* ---- machine ---- */

typedef struct machine_info {
	char cpu[128];
	long cores;
	char kernel[200];
	double load1;	 /* load average over the last minute, before the run */
	double load1_after; /* and after it: other work during the run shows here */
	double busy_pct; /* how busy the CPUs were just before the run; < 0 unknown */
} machine_info;

void machine_probe(machine_info *m);
/* The load average now, or -1. */
double machine_load(void);
void pinning_text(const bench_opts *o, char *buf, size_t len);

/* ---- codec and component micro-benchmarks (codec_bench.c) ---- */

/* Fill rows (at most MAX_CODEC) with ring operation, mmap write, protocol
 * encode, batch encode and decode, each the median of `runs`. Returns the
 * number of rows, or -1. */
int codec_bench_run(bool quick, unsigned runs, codec_row *rows);

/* ---- output (report.c) ---- */

void report_lat_header(void);
void report_lat_row(const lat_result *r);
void report_tp_header(void);
void report_tp_row(const tp_result *r);
void report_codec(const results *res);
void report_markdown(FILE *f, const char *command, const bench_opts *o, const machine_info *m,
		     const results *res, bool targets);
void report_json(const char *command, const bench_opts *o, const machine_info *m,
		 const results *res, bool targets);
int report_csv(const char *path, const char *command, const results *res, bool append);
/* Open the CSV file at path (append: keep its rows) and write the header
 * line when it is empty: the stream, or NULL after saying why. The rows of
 * report_csv and of hermes-nats-bench have these columns. */
FILE *report_csv_open(const char *path, bool append);
int report_hist(const char *path, const results *res);
/* Write dir/latency.gp, which plots dir/latency.hgrm (report_hist), and run
 * gnuplot on it when it is installed, making dir/latency.png. Returns 0 when
 * the PNG was made, 1 when gnuplot is missing, -1 on an error. */
int report_plot(const char *dir, const results *res);
/* The targets of the issue, met/missed with the measured ratios. */
void report_targets(FILE *f, const results *res, bool markdown);

#endif
