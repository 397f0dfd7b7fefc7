/* hermes-bench: latency and throughput of Hermes rings between two processes,
 * measured in the same run as a bare shared-memory ring doing the same work.
 *
 * The bare ring is the reference: a single-producer single-consumer ring of
 * fixed-size slots with nothing but a head and a tail index. Whatever Hermes
 * costs beyond it is the price of its features (many producers, broadcast
 * cursors, variable sizes, crash repair, futex wake-ups). To keep that
 * comparison honest, both transports run the very same measurement loops:
 * the loops below are written once, over a small table of operations, and
 * instantiated per transport with the table as a constant so the compiler
 * inlines the operations into each copy.
 *
 * Processes: every measurement forks one child. Latency: the parent pings,
 * the child echoes. Throughput: the child produces, the parent consumes and
 * measures. Every wait has a deadline (PEER_TIMEOUT_NS), children are always
 * reaped, and each bus is unlinked when its measurement ends, on SIGINT and
 * SIGTERM too.
 *
 * Subcommands are rows of `commands` at the bottom; each names the options it
 * accepts from `options`.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hermes/bus.h>
#include <hermes/error.h>

#include "core/atomics.h"
#include "shm/ring.h"

#include "hdr_histogram.h"

#define NS_PER_S 1000000000ull
/* A peer that sends nothing for this long is taken to be gone or stuck. */
#define PEER_TIMEOUT_NS (5 * NS_PER_S)
/* Blocking waits sleep in slices this long, so signals and a dead peer are
 * noticed promptly even though hermes_sub_wait itself sleeps through EINTR. */
#define WAIT_SLICE_NS (100 * 1000 * 1000ull)
/* Empty polls between two looks at the clock and the stop flags. */
#define CHECK_EVERY 1024u

#define MIN_SIZE 8u /* room for the timestamp or sequence number */
#define MAX_SIZE 65536u
#define MAX_BATCH 1024u
#define MAX_RUNS 3u
#define LAT_MIN_CAPACITY (64u * 1024u)
#define TP_MIN_CAPACITY (4u * 1024u * 1024u)
/* Wall-clock budget of one latency measurement (see lat_params). */
#define LAT_QUICK_BUDGET_S 5u
#define LAT_FULL_BUDGET_S 60u
/* hermes_sub_wait(HERMES_WAIT_BLOCK) checks the ring this many times before
 * it sleeps; the bare ring's blocking wait does the same, so the block-mode
 * comparison isolates the rings rather than two spin policies. */
#define BLOCK_SPIN_CHECKS 2048u

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* ---- process-wide state ---- */

/* Set by SIGINT/SIGTERM (and, in a child, by the parent's death through
 * PR_SET_PDEATHSIG); every loop checks it at its periodic look. */
static volatile sig_atomic_t g_stop;
/* Set by SIGCHLD: the peer process ended. */
static volatile sig_atomic_t g_child_exited;
static pid_t g_main_pid;
/* The bus currently in existence, so that every way out unlinks it. */
static char g_bus_name[HERMES_NAME_MAX + 1];
static unsigned g_bus_serial;

/* One shared page, mapped before any fork: the flag by which the measuring
 * side ends a run (consumer to producer; pinging to echoing side), on its
 * own 128-byte block. */
typedef struct bench_ctl {
	hm_atomic_u32 stop;
	uint8_t pad_[HM_FALSE_SHARING - 4];
} bench_ctl;
static bench_ctl *g_ctl;

static void on_stop_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static void on_child_signal(int sig)
{
	(void)sig;
	g_child_exited = 1;
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static void say_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say_error(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	fprintf(stderr, "hermes-bench[%d]: %s\n", (int)getpid(), buf);
}

/* A control-path failure: the code, its text and the detail message. */
static void say_hermes_error(hermes_err err, const char *what)
{
	const char *detail = hermes_last_error_detail();
	say_error("%s: %s (%s)%s%s", what, hermes_strerror(err), hermes_err_name(err),
		  detail[0] ? ": " : "", detail);
}

/* A hot-path failure: those leave no detail, and a stale one would mislead. */
static void say_hot_error(hermes_err err, const char *what)
{
	say_error("%s: %s (%s)", what, hermes_strerror(err), hermes_err_name(err));
}

/* ---- options and commands ---- */

enum opt_id {
	OPT_QUICK,
	OPT_SIZE,
	OPT_COUNT,
	OPT_WAIT,
	OPT_CPU,
	OPT_SECONDS,
	OPT_BATCH,
	OPT_JSON,
	OPT_CSV,
	OPT_HIST,
	OPT_HELP,
	OPT_N_
};

#define OPT(id) (1u << (id))

typedef struct opt_def {
	const char *name;
	const char *meta; /* NULL: a flag without a value */
	const char *help;
} opt_def;

static const opt_def options[OPT_N_] = {
	[OPT_QUICK] = {"quick", NULL, "short run: 100,000 round trips; 0.5 s x 1 run"},
	[OPT_SIZE] = {"size", "BYTES", "message size, 8..65536 (default 64)"},
	[OPT_COUNT] = {"count", "N", "measured round trips (default 1,000,000; +10% warm-up)"},
	[OPT_WAIT] = {"wait", "spin|block|both", "how receivers wait (default spin)"},
	[OPT_CPU] = {"cpu", "A,B",
		     "pin the two processes to allowed CPUs A and B (default: no pinning)"},
	[OPT_SECONDS] = {"seconds", "S", "seconds per measurement (default 3)"},
	[OPT_BATCH] = {"batch", "N", "messages per claim, 1..1024 (default 1)"},
	[OPT_JSON] = {"json", NULL, "print results as JSON instead of tables"},
	[OPT_CSV] = {"csv", "FILE", "append result rows to a CSV file"},
	[OPT_HIST] = {"hist", "FILE", "write latency percentile distributions (gnuplot blocks)"},
	[OPT_HELP] = {"help", NULL, "show this help"},
};

enum { WAIT_SPIN = 1, WAIT_BLOCK = 2 };

typedef struct bench_opts {
	bool quick;
	bool json;
	uint32_t size;
	uint64_t count; /* 0: the default for quick or full runs */
	unsigned waits; /* WAIT_SPIN | WAIT_BLOCK */
	bool pin;
	int cpu[2];
	double seconds; /* 0: the default */
	uint32_t batch;
	const char *csv;
	const char *hist;
} bench_opts;

typedef struct machine_info {
	char cpu[128];
	long cores;
	char kernel[200];
	/* How busy the CPUs were (percent of all of them) over a short sample
	 * just before the run: other busy processes on a small machine distort
	 * every figure, so the reader should know. Negative when unknown. */
	double busy_pct;
} machine_info;

typedef struct lat_result {
	const char *transport;
	const char *wait;
	uint32_t size;
	uint64_t count;
	uint64_t p50, p90, p99, p999, p9999, max, min;
	double mean;
} lat_result;

typedef struct tp_result {
	const char *transport;
	uint32_t size;
	uint32_t batch;
	unsigned runs;
	double seconds;
	double mps[MAX_RUNS]; /* messages per second, one per run */
	double median, min, max;
} tp_result;

#define MAX_RESULTS 16

typedef struct results {
	lat_result lat[MAX_RESULTS];
	unsigned nlat;
	tp_result tp[MAX_RESULTS];
	unsigned ntp;
	FILE *hist; /* open while latency runs, when --hist was given */
} results;

typedef struct bench_command {
	const char *name;
	const char *summary;
	unsigned accepts; /* OPT() bits */
	int (*run)(const bench_opts *o);
} bench_command;

/* ---- processes ---- */

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a blocking poll() must come back with EINTR so the
	 * loop around it sees the flag. */
	sa.sa_handler = on_stop_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_child_signal;
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
}

static int pin_to(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) != 0) {
		say_error("sched_setaffinity(cpu %d): %s", cpu, strerror(errno));
		return -1;
	}
	return 0;
}

/* Tell the parent that set-up is done. */
static int signal_ready(int fd)
{
	char c = 'R';
	ssize_t n;
	do
		n = write(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	return n == 1 ? 0 : -1;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Wait for `pid` to end, up to timeout_ms; then SIGKILL it and wait for
 * that. Returns its wait status. Never leaves a zombie behind. */
static int reap(pid_t pid, unsigned timeout_ms)
{
	int status = 0;
	for (unsigned waited = 0;; waited++) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		if (waited >= timeout_ms) {
			say_error("process %d did not exit; killing it", (int)pid);
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			return status;
		}
		sleep_ms(1);
	}
}

typedef struct pair_spec {
	const char *child_role;	 /* "echo", "producer": for messages */
	int (*child)(void *arg, int ready_fd);
	int (*parent)(void *arg);
	void *arg;
	const bench_opts *o;
} pair_spec;

/* Fork the child of one measurement, wait until it reports ready, run the
 * parent's side, then reap the child. Returns 0 when both sides succeeded. */
static int run_pair(const pair_spec *ps)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0) {
		say_error("pipe2: %s", strerror(errno));
		return -1;
	}
	g_child_exited = 0;
	pid_t parent_pid = getpid();
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		say_error("fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		/* If the parent dies (even by SIGKILL), we get SIGTERM, whose
		 * handler stops our loops; the check after it covers a parent
		 * that died before the prctl. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		int rc = 1;
		if (getppid() == parent_pid && (!ps->o->pin || pin_to(ps->o->cpu[1]) == 0))
			rc = ps->child(ps->arg, fds[1]) ? 1 : 0;
		/* An orphan removes the bus its parent can no longer remove. */
		if (getppid() != parent_pid && g_bus_name[0])
			hermes_bus_unlink(g_bus_name);
		_exit(g_stop ? 3 : rc);
	}
	close(fds[1]);

	int rc = -1;
	uint64_t deadline = now_ns() + PEER_TIMEOUT_NS;
	for (;;) {
		struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
		int n = poll(&pfd, 1, 100);
		if (g_stop)
			break;
		if (n > 0) {
			char c;
			ssize_t got = read(fds[0], &c, 1);
			if (got == 1) {
				rc = 0;
			} else if (got == 0) {
				say_error("the %s process ended during set-up", ps->child_role);
			} else if (errno == EINTR) {
				continue;
			} else {
				say_error("reading from the %s process: %s", ps->child_role,
					  strerror(errno));
			}
			break;
		}
		if (n < 0 && errno != EINTR) {
			say_error("poll: %s", strerror(errno));
			break;
		}
		if (now_ns() >= deadline) {
			say_error("the %s process did not get ready within %llu s", ps->child_role,
				  (unsigned long long)(PEER_TIMEOUT_NS / NS_PER_S));
			break;
		}
	}
	close(fds[0]);
	if (rc == 0)
		rc = ps->parent(ps->arg);
	/* A healthy child ends on its own once our side is done; any other
	 * outcome (failure, interrupt) asks it to stop. */
	bool asked = rc != 0 || g_stop;
	if (asked) {
		kill(pid, SIGTERM);
		kill(pid, SIGCONT); /* a stopped child could not act on it */
	}
	int status = reap(pid, asked ? 1000 : 5000);
	if (rc == 0 && !g_stop) {
		if (status < 0) {
			say_error("waitpid: %s", strerror(errno));
			rc = -1;
		} else if (WIFSIGNALED(status)) {
			say_error("the %s process was killed by signal %d", ps->child_role,
				  WTERMSIG(status));
			rc = -1;
		} else if (WEXITSTATUS(status) != 0) {
			say_error("the %s process failed (exit status %d)", ps->child_role,
				  WEXITSTATUS(status));
			rc = -1;
		}
	}
	return g_stop ? -1 : rc;
}

/* ---- buses ---- */

static uint64_t pow2_at_least(uint64_t v)
{
	uint64_t p = 1;
	while (p < v)
		p <<= 1;
	return p;
}

static uint64_t pow2_at_most(uint64_t v)
{
	uint64_t p = 1;
	while (p * 2 <= v)
		p <<= 1;
	return p;
}

static uint32_t aligned8(uint32_t len)
{
	return (len + 7u) & ~7u;
}

/* A ring shape both transports share: `capacity` data bytes, and for
 * Hermes as many slots as messages of `size` bytes fit (at least its minimum
 * of 64), so it runs out of bytes no sooner than the bare ring does. */
typedef struct ring_shape {
	uint64_t capacity;
	uint32_t slots;
} ring_shape;

static ring_shape shape_for(uint64_t min_capacity, uint64_t need_bytes, uint32_t size)
{
	ring_shape s;
	s.capacity = pow2_at_least(need_bytes > min_capacity ? need_bytes : min_capacity);
	uint64_t slots = pow2_at_most(s.capacity / aligned8(size));
	s.slots = (uint32_t)(slots < 64 ? 64 : slots);
	return s;
}

static void bus_forget(void)
{
	if (g_bus_name[0]) {
		hermes_bus_unlink(g_bus_name);
		g_bus_name[0] = '\0';
	}
}

static void cleanup_at_exit(void)
{
	if (getpid() == g_main_pid)
		bus_forget();
}

/* Create a fresh bus named for this process, holding `n` rings. */
static hermes_bus *bus_create(const hermes_ring_config *rings, unsigned n)
{
	uint64_t size = 64 * 1024; /* header, directory and slack */
	for (unsigned i = 0; i < n; i++)
		size += hm_ring_block_size(rings[i].capacity, rings[i].slots) + 4096;
	snprintf(g_bus_name, sizeof g_bus_name, "bench-%d-%u", (int)getpid(), ++g_bus_serial);
	hermes_bus *bus = NULL;
	hermes_err err = hermes_bus_create(g_bus_name, size, 0600, &bus);
	if (err == HERMES_EEXIST) {
		/* Left by an earlier run whose pid we now have: it is ours. */
		hermes_bus_unlink(g_bus_name);
		err = hermes_bus_create(g_bus_name, size, 0600, &bus);
	}
	if (err) {
		say_hermes_error(err, "hermes_bus_create");
		g_bus_name[0] = '\0';
		return NULL;
	}
	for (unsigned i = 0; i < n; i++) {
		err = hermes_ring_create(bus, &rings[i]);
		if (err) {
			say_hermes_error(err, "hermes_ring_create");
			hermes_bus_detach(bus);
			bus_forget();
			return NULL;
		}
	}
	return bus;
}

static void bus_destroy(hermes_bus *bus)
{
	hermes_bus_detach(bus);
	bus_forget();
}

/* ---- the bare ring ---- */

/* Single producer, single consumer, fixed-size slots: the least a
 * shared-memory ring can do. head and tail each have a 128-byte block to
 * themselves (the adjacent-line prefetcher pulls lines in pairs), and the
 * optional sleeper handshake has a third. The slots start on a page, as the
 * data area of a Hermes ring does. */
typedef struct bare_ring {
	hm_atomic_u64 head; /* next slot the producer fills; producer writes */
	uint8_t pad0_[HM_FALSE_SHARING - 8];
	hm_atomic_u64 tail; /* next slot the consumer frees; consumer writes */
	uint8_t pad1_[HM_FALSE_SHARING - 8];
	hm_atomic_u32 waiters; /* consumers about to sleep */
	hm_atomic_u32 futex;   /* bumped by the producer before FUTEX_WAKE */
	uint8_t pad2_[HM_FALSE_SHARING - 8];
} bare_ring;

static_assert(sizeof(bare_ring) == 3 * HM_FALSE_SHARING, "bare ring header size");
#define BARE_DATA_OFFSET 4096u

typedef struct bare_mem {
	bare_ring *ring;
	size_t bytes;
	uint64_t nslots;
	uint32_t stride;
	uint32_t size;
} bare_mem;

/* Map a bare ring before fork (MAP_SHARED | MAP_ANONYMOUS: both processes
 * see the same pages) and touch every page, as formatting a Hermes ring
 * does, so neither transport pays first-touch faults the other does not. */
static int bare_create(bare_mem *m, ring_shape shape, uint32_t size)
{
	m->size = size;
	m->stride = aligned8(size);
	/* The same data bytes as the Hermes ring, in whole slots. */
	m->nslots = pow2_at_most(shape.capacity / m->stride);
	m->bytes = BARE_DATA_OFFSET + (size_t)m->nslots * m->stride;
	void *p = mmap(NULL, m->bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		say_error("mmap of %zu bytes for the bare ring: %s", m->bytes, strerror(errno));
		return -1;
	}
	memset(p, 0, m->bytes);
	m->ring = p;
	return 0;
}

static void bare_destroy(bare_mem *m)
{
	if (m->ring)
		munmap(m->ring, m->bytes);
	m->ring = NULL;
}

/* One process's end of a bare ring. `pos` is its own index (head for the
 * producer, tail for the consumer); `cached` its last view of the other's,
 * so it touches the other's line only when its cached view runs out. */
typedef struct bare_end {
	bare_ring *r;
	uint8_t *slots;
	uint64_t mask;
	uint64_t nslots;
	uint32_t stride;
	uint32_t size;
	uint64_t pos;
	uint64_t cached;
} bare_end;

static void bare_end_init(bare_end *e, const bare_mem *m)
{
	e->r = m->ring;
	e->slots = (uint8_t *)m->ring + BARE_DATA_OFFSET;
	e->nslots = m->nslots;
	e->mask = m->nslots - 1;
	e->stride = m->stride;
	e->size = m->size;
	e->pos = 0;
	e->cached = 0;
}

static inline uint8_t *bare_slot(const bare_end *e, uint64_t i)
{
	return e->slots + (i & e->mask) * e->stride;
}

/* Producer: room for n more slots? */
ALWAYS_INLINE bool bare_has_room(bare_end *e, uint32_t n)
{
	if (e->pos + n - e->cached <= e->nslots)
		return true;
	/* Acquire: pairs with the consumer's release of tail, so its reads of
	 * the slots we are about to reuse are finished. */
	e->cached = hm_load_acquire_u64(&e->r->tail);
	return e->pos + n - e->cached <= e->nslots;
}

/* Producer: make slots up to e->pos visible. */
ALWAYS_INLINE void bare_publish(bare_end *e, bool wake)
{
	/* Release: pairs with the consumer's acquire of head; the slot
	 * contents are visible before the index that covers them. */
	hm_store_release_u64(&e->r->head, e->pos);
	if (!wake)
		return;
	/* Dekker against bare_sleep: we stored head, then read waiters; the
	 * sleeper bumped waiters, then reads head. A seq_cst fence between the
	 * two on each side means one of us sees the other's store. Only the
	 * blocking variant pays this: a spinning consumer never sleeps. */
	hm_fence_seq_cst();
	if (hm_load_relaxed_u32(&e->r->waiters)) {
		/* seq_cst RMW: a sleeper that loads the new value sees our head. */
		hm_fetch_add_seq_cst_u32(&e->r->futex, 1);
		syscall(SYS_futex, &e->r->futex, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	}
}

/* Consumer: how many filled slots are there to read? */
ALWAYS_INLINE uint64_t bare_available(bare_end *e)
{
	if (e->cached == e->pos)
		/* Acquire: pairs with bare_publish's release of head. */
		e->cached = hm_load_acquire_u64(&e->r->head);
	return e->cached - e->pos;
}

/* Consumer: give the slots read so far back to the producer. */
ALWAYS_INLINE void bare_release(bare_end *e)
{
	/* Release: our reads of the slots happen before the producer, which
	 * acquires tail, writes over them. */
	hm_store_release_u64(&e->r->tail, e->pos);
}

/* Consumer: wait for a filled slot until `until` (CLOCK_MONOTONIC ns), the
 * way HERMES_WAIT_BLOCK does: a bounded spin, then a futex sleep announced
 * in `waiters`. */
static void bare_sleep(bare_end *e, uint64_t until)
{
	for (unsigned i = 0; i < BLOCK_SPIN_CHECKS; i++) {
		if (bare_available(e))
			return;
		hm_cpu_relax();
	}
	/* seq_cst RMW: the announcement, ordered before the fence below. */
	hm_fetch_add_seq_cst_u32(&e->r->waiters, 1);
	for (;;) {
		/* Read the futex word before looking at head: a wake that comes
		 * after our look changes the word, and FUTEX_WAIT then returns
		 * at once instead of sleeping through it. */
		uint32_t v = hm_load_acquire_u32(&e->r->futex);
		/* Pairs with the fence in bare_publish. */
		hm_fence_seq_cst();
		if (bare_available(e))
			break;
		uint64_t now = now_ns();
		if (now >= until)
			break;
		struct timespec rel = {(time_t)((until - now) / NS_PER_S),
				       (long)((until - now) % NS_PER_S)};
		syscall(SYS_futex, &e->r->futex, FUTEX_WAIT, v, &rel, NULL, 0);
	}
	hm_fetch_sub_seq_cst_u32(&e->r->waiters, 1);
}

/* ---- latency: the measurement loops ---- */

/* One side of a ping-pong, as the loops see it. Both sides of both
 * transports run lat_ping/lat_echo over one of these tables. */
typedef struct lat_ops {
	/* Publish len bytes from src: 1 sent, 0 no room yet, -1 error. */
	int (*send)(void *ctx, const void *src, uint32_t len);
	/* The next message without waiting: 1 (data and len set, valid until
	 * done), 0 none yet, -1 error. */
	int (*peek)(void *ctx, const void **data, uint32_t *len);
	/* Release the message peek returned. */
	void (*done)(void *ctx);
	/* Sleep until a message may be there or `until` passes: 0, or -1 on an
	 * error. */
	int (*sleep)(void *ctx, uint64_t until);
} lat_ops;

typedef struct lat_params {
	const char *label; /* "hermes spin", for messages */
	const char *peer;  /* "echo" or "ping" */
	bool block;
	uint32_t size;
	uint64_t warmup;
	uint64_t count;
	/* The pinging side ends the run early once this much time has passed
	 * (0: never), so a machine where every wake-up costs a scheduler
	 * round trip still finishes in bounded time. */
	uint64_t budget_ns;
} lat_params;

static bool peer_gone(void)
{
	return g_stop || g_child_exited;
}

/* Wait for the next message: spin on peek, or, when blocking, sleep between
 * peeks. Looks at the clock and the stop flags only every CHECK_EVERY empty
 * spins, so the spinning path is just the peek (and a pause). Returns 0 with
 * a message, 1 when the pinging side ended the run, -1 on an error. */
ALWAYS_INLINE int lat_wait(const lat_ops *ops, void *ctx, const lat_params *p, const void **data,
			   uint32_t *len)
{
	uint64_t deadline = 0;
	unsigned spins = 0;
	for (;;) {
		int r = ops->peek(ctx, data, len);
		if (r != 0)
			return r > 0 ? 0 : -1;
		if (!p->block && ++spins % CHECK_EVERY != 0) {
			/* A pause between polls: a tight load loop on a line
			 * the other core is about to write slows the hand-off
			 * itself (here by about 40 ns a round trip, on both
			 * transports alike). */
			hm_cpu_relax();
			continue;
		}
		uint64_t now = now_ns();
		if (!deadline)
			deadline = now + PEER_TIMEOUT_NS;
		/* Relaxed: "the run is over" carries no data with it. */
		if (hm_load_relaxed_u32(&g_ctl->stop))
			return 1;
		if (peer_gone() || now >= deadline) {
			/* The peer may have sent its last message just before it
			 * left: one more look. */
			r = ops->peek(ctx, data, len);
			if (r != 0)
				return r > 0 ? 0 : -1;
			if (g_stop)
				return -1;
			if (g_child_exited)
				say_error("%s: the %s process ended mid-run", p->label, p->peer);
			else
				say_error("%s: nothing from the %s process for %llu s", p->label,
					  p->peer, (unsigned long long)(PEER_TIMEOUT_NS / NS_PER_S));
			return -1;
		}
		if (p->block) {
			uint64_t until = now + WAIT_SLICE_NS < deadline ? now + WAIT_SLICE_NS : deadline;
			if (ops->sleep(ctx, until) < 0)
				return -1;
		}
	}
}

/* Publish, retrying while the ring is full (only possible if the peer lags
 * a whole ring behind, which a ping-pong never does), with a deadline. */
ALWAYS_INLINE int lat_send(const lat_ops *ops, void *ctx, const lat_params *p, const void *src,
			   uint32_t len)
{
	uint64_t deadline = 0;
	for (unsigned spins = 1;; spins++) {
		int r = ops->send(ctx, src, len);
		if (r != 0)
			return r > 0 ? 0 : -1;
		if (spins % CHECK_EVERY)
			continue;
		uint64_t now = now_ns();
		if (!deadline)
			deadline = now + PEER_TIMEOUT_NS;
		if (peer_gone() || now >= deadline) {
			if (!g_stop)
				say_error("%s: the ring stayed full; the %s process stopped reading",
					  p->label, p->peer);
			return -1;
		}
	}
}

/* The pinging side: stamp, send, wait for the echo, stamp; record the round
 * trip after the warm-up. The echo must carry our stamp back, which also
 * proves it is the reply to this ping and not an older one. */
ALWAYS_INLINE int lat_ping(const lat_ops *ops, void *ctx, const lat_params *p, uint8_t *buf,
			   hm_hist *hist)
{
	uint64_t total = p->warmup + p->count;
	uint64_t start = now_ns();
	for (uint64_t i = 0; i < total; i++) {
		uint64_t t0 = now_ns();
		if (p->budget_ns && i % CHECK_EVERY == 0 && t0 - start >= p->budget_ns) {
			/* Relaxed: nothing is in flight now; the echo side
			 * only needs to learn, eventually, that no ping comes. */
			hm_store_relaxed_u32(&g_ctl->stop, 1);
			break;
		}
		memcpy(buf, &t0, sizeof t0);
		if (lat_send(ops, ctx, p, buf, p->size) < 0)
			return -1;
		const void *data;
		uint32_t len;
		if (lat_wait(ops, ctx, p, &data, &len) != 0)
			return -1;
		uint64_t echoed;
		memcpy(&echoed, data, sizeof echoed);
		ops->done(ctx);
		uint64_t t1 = now_ns();
		if (echoed != t0 || len != p->size) {
			say_error("%s: round trip %" PRIu64 " came back wrong (%u bytes, stamp %" PRIu64
				  ", expected %u bytes, stamp %" PRIu64 ")",
				  p->label, i, len, echoed, p->size, t0);
			return -1;
		}
		if (i >= p->warmup)
			hm_hist_record(hist, t1 - t0);
	}
	return 0;
}

/* The echoing side: send every message straight back, copied from the
 * incoming ring into the outgoing one, then release it. */
ALWAYS_INLINE int lat_echo(const lat_ops *ops, void *ctx, const lat_params *p)
{
	uint64_t total = p->warmup + p->count;
	for (uint64_t i = 0; i < total; i++) {
		const void *data;
		uint32_t len;
		int r = lat_wait(ops, ctx, p, &data, &len);
		if (r != 0)
			return r > 0 ? 0 : -1;
		if (lat_send(ops, ctx, p, data, len) < 0)
			return -1;
		ops->done(ctx);
	}
	return 0;
}

/* ---- latency: Hermes ---- */

typedef struct hx_lat {
	hermes_pub *pub;
	hermes_sub *sub;
	hermes_msg msg;
} hx_lat;

static int hx_lat_send(void *vc, const void *src, uint32_t len)
{
	hx_lat *c = vc;
	hermes_claim claim;
	hermes_err err = hermes_pub_claim(c->pub, len, &claim);
	if (err == HERMES_EAGAIN)
		return 0;
	if (err) {
		say_hot_error(err, "hermes_pub_claim");
		return -1;
	}
	memcpy(claim.data, src, len);
	err = hermes_pub_commit(c->pub, &claim);
	if (err) {
		say_hot_error(err, "hermes_pub_commit");
		return -1;
	}
	return 1;
}

static int hx_lat_peek(void *vc, const void **data, uint32_t *len)
{
	hx_lat *c = vc;
	hermes_err err = hermes_sub_poll(c->sub, &c->msg);
	if (err == HERMES_OK) {
		*data = c->msg.data;
		*len = c->msg.len;
		return 1;
	}
	if (err == HERMES_EAGAIN)
		return 0;
	say_hot_error(err, "hermes_sub_poll");
	return -1;
}

static void hx_lat_done(void *vc)
{
	hx_lat *c = vc;
	hermes_sub_release(c->sub);
}

static int hx_lat_sleep(void *vc, uint64_t until)
{
	hx_lat *c = vc;
	uint64_t now = now_ns();
	int64_t timeout = until > now ? (int64_t)(until - now) : 0;
	hermes_err err = hermes_sub_wait(c->sub, HERMES_WAIT_BLOCK, timeout);
	if (err == HERMES_OK || err == HERMES_ETIMEDOUT)
		return 0;
	say_hot_error(err, "hermes_sub_wait");
	return -1;
}

static const lat_ops hx_lat_ops = {hx_lat_send, hx_lat_peek, hx_lat_done, hx_lat_sleep};

/* ---- latency: bare ring ---- */

typedef struct bare_lat {
	bare_end out; /* we produce */
	bare_end in;  /* we consume */
} bare_lat;

ALWAYS_INLINE int bare_lat_send_common(bare_lat *c, const void *src, uint32_t len, bool wake)
{
	if (!bare_has_room(&c->out, 1))
		return 0;
	memcpy(bare_slot(&c->out, c->out.pos), src, len);
	c->out.pos++;
	bare_publish(&c->out, wake);
	return 1;
}

static int bare_lat_send_spin(void *vc, const void *src, uint32_t len)
{
	return bare_lat_send_common(vc, src, len, false);
}

static int bare_lat_send_block(void *vc, const void *src, uint32_t len)
{
	return bare_lat_send_common(vc, src, len, true);
}

static int bare_lat_peek(void *vc, const void **data, uint32_t *len)
{
	bare_lat *c = vc;
	if (!bare_available(&c->in))
		return 0;
	*data = bare_slot(&c->in, c->in.pos);
	*len = c->in.size;
	return 1;
}

static void bare_lat_done(void *vc)
{
	bare_lat *c = vc;
	c->in.pos++;
	bare_release(&c->in);
}

static int bare_lat_sleep(void *vc, uint64_t until)
{
	bare_lat *c = vc;
	bare_sleep(&c->in, until);
	return 0;
}

static const lat_ops bare_lat_spin_ops = {bare_lat_send_spin, bare_lat_peek, bare_lat_done,
					  bare_lat_sleep};
static const lat_ops bare_lat_block_ops = {bare_lat_send_block, bare_lat_peek, bare_lat_done,
					   bare_lat_sleep};

/* The loops, instantiated per table (constant tables: the calls inline). */
static int hx_ping(hx_lat *c, const lat_params *p, uint8_t *buf, hm_hist *h)
{
	return lat_ping(&hx_lat_ops, c, p, buf, h);
}
static int hx_echo(hx_lat *c, const lat_params *p)
{
	return lat_echo(&hx_lat_ops, c, p);
}
static int bare_ping_spin(bare_lat *c, const lat_params *p, uint8_t *buf, hm_hist *h)
{
	return lat_ping(&bare_lat_spin_ops, c, p, buf, h);
}
static int bare_echo_spin(bare_lat *c, const lat_params *p)
{
	return lat_echo(&bare_lat_spin_ops, c, p);
}
static int bare_ping_block(bare_lat *c, const lat_params *p, uint8_t *buf, hm_hist *h)
{
	return lat_ping(&bare_lat_block_ops, c, p, buf, h);
}
static int bare_echo_block(bare_lat *c, const lat_params *p)
{
	return lat_echo(&bare_lat_block_ops, c, p);
}

/* ---- latency: runs ---- */

typedef struct lat_run {
	lat_params ping;
	lat_params echo;
	hm_hist *hist;
	uint8_t *buf; /* the outgoing message, --size bytes */
	/* Hermes */
	const char *bus;
	/* bare ring */
	bare_mem to_echo;
	bare_mem to_ping;
} lat_run;

static int hx_echo_child(void *arg, int ready_fd)
{
	lat_run *lr = arg;
	hermes_bus *bus = NULL;
	hx_lat c = {0};
	int rc = -1;
	hermes_err err = hermes_bus_attach(lr->bus, &bus);
	if (err) {
		say_hermes_error(err, "echo: hermes_bus_attach");
		return -1;
	}
	if ((err = hermes_sub_open(bus, "ping", HERMES_START_LATEST, 0, &c.sub)) != HERMES_OK)
		say_hermes_error(err, "echo: hermes_sub_open(ping)");
	else if ((err = hermes_pub_open(bus, "pong", &c.pub)) != HERMES_OK)
		say_hermes_error(err, "echo: hermes_pub_open(pong)");
	else if (signal_ready(ready_fd) == 0)
		rc = hx_echo(&c, &lr->echo);
	hermes_pub_close(c.pub);
	hermes_sub_close(c.sub);
	hermes_bus_detach(bus);
	return rc;
}

static int hx_ping_parent(void *arg)
{
	lat_run *lr = arg;
	hermes_bus *bus = NULL;
	hx_lat c = {0};
	int rc = -1;
	hermes_err err = hermes_bus_attach(lr->bus, &bus);
	if (err) {
		say_hermes_error(err, "ping: hermes_bus_attach");
		return -1;
	}
	if ((err = hermes_sub_open(bus, "pong", HERMES_START_LATEST, 0, &c.sub)) != HERMES_OK)
		say_hermes_error(err, "ping: hermes_sub_open(pong)");
	else if ((err = hermes_pub_open(bus, "ping", &c.pub)) != HERMES_OK)
		say_hermes_error(err, "ping: hermes_pub_open(ping)");
	else
		rc = hx_ping(&c, &lr->ping, lr->buf, lr->hist);
	hermes_pub_close(c.pub);
	hermes_sub_close(c.sub);
	hermes_bus_detach(bus);
	return rc;
}

static int bare_echo_child(void *arg, int ready_fd)
{
	lat_run *lr = arg;
	bare_lat c;
	bare_end_init(&c.in, &lr->to_echo);
	bare_end_init(&c.out, &lr->to_ping);
	if (signal_ready(ready_fd) != 0)
		return -1;
	return lr->echo.block ? bare_echo_block(&c, &lr->echo) : bare_echo_spin(&c, &lr->echo);
}

static int bare_ping_parent(void *arg)
{
	lat_run *lr = arg;
	bare_lat c;
	bare_end_init(&c.out, &lr->to_echo);
	bare_end_init(&c.in, &lr->to_ping);
	return lr->ping.block ? bare_ping_block(&c, &lr->ping, lr->buf, lr->hist)
			      : bare_ping_spin(&c, &lr->ping, lr->buf, lr->hist);
}

static void lat_fill_result(lat_result *r, const char *transport, const char *wait,
			    uint32_t size, const hm_hist *h)
{
	r->transport = transport;
	r->wait = wait;
	r->size = size;
	r->count = h->total;
	r->p50 = hm_hist_percentile(h, 50.0);
	r->p90 = hm_hist_percentile(h, 90.0);
	r->p99 = hm_hist_percentile(h, 99.0);
	r->p999 = hm_hist_percentile(h, 99.9);
	r->p9999 = hm_hist_percentile(h, 99.99);
	r->max = h->max;
	r->min = h->total ? h->min : 0;
	r->mean = hm_hist_mean(h);
}

/* One latency measurement: `transport` over `wait`, recorded into *res. */
static int latency_one(const bench_opts *o, bool hermes, bool block, results *res)
{
	const char *transport = hermes ? "hermes" : "bare-ring";
	const char *wait = block ? "block" : "spin";
	char label[64];
	snprintf(label, sizeof label, "latency %s %s", transport, wait);
	uint64_t count = o->count ? o->count : (o->quick ? 100000u : 1000000u);

	lat_run lr;
	memset(&lr, 0, sizeof lr);
	lr.ping = (lat_params){label, "echo", block, o->size, count / 10, count,
			       (o->quick ? LAT_QUICK_BUDGET_S : LAT_FULL_BUDGET_S) * NS_PER_S};
	lr.echo = lr.ping;
	lr.echo.peer = "ping";
	lr.hist = malloc(sizeof *lr.hist);
	lr.buf = malloc(o->size);
	if (!lr.hist || !lr.buf) {
		say_error("out of memory");
		free(lr.hist);
		free(lr.buf);
		return -1;
	}
	hm_hist_init(lr.hist);
	/* Relaxed: the fork below orders it before anything the child does. */
	hm_store_relaxed_u32(&g_ctl->stop, 0);
	/* The payload beyond the stamp: arbitrary but not all zero. */
	for (uint32_t i = 0; i < o->size; i++)
		lr.buf[i] = (uint8_t)(i * 31u + 7u);

	ring_shape shape = shape_for(LAT_MIN_CAPACITY, 8ull * aligned8(o->size), o->size);
	pair_spec ps = {"echo", NULL, NULL, &lr, o};
	int rc = -1;
	if (hermes) {
		hermes_ring_config rings[2] = {
			{"ping", shape.capacity, o->size, HERMES_POLICY_BLOCK, shape.slots},
			{"pong", shape.capacity, o->size, HERMES_POLICY_BLOCK, shape.slots},
		};
		hermes_bus *bus = bus_create(rings, 2);
		if (bus) {
			lr.bus = g_bus_name;
			ps.child = hx_echo_child;
			ps.parent = hx_ping_parent;
			rc = run_pair(&ps);
			bus_destroy(bus);
		}
	} else if (bare_create(&lr.to_echo, shape, o->size) == 0 &&
		   bare_create(&lr.to_ping, shape, o->size) == 0) {
		ps.child = bare_echo_child;
		ps.parent = bare_ping_parent;
		rc = run_pair(&ps);
	}
	bare_destroy(&lr.to_echo);
	bare_destroy(&lr.to_ping);

	if (rc == 0 && lr.hist->total == 0) {
		say_error("%s: the time budget ran out during the warm-up; nothing was measured",
			  label);
		rc = -1;
	}
	if (rc == 0) {
		if (res->nlat < MAX_RESULTS)
			lat_fill_result(&res->lat[res->nlat++], transport, wait, o->size, lr.hist);
		if (res->hist) {
			fprintf(res->hist,
				"# hermes-bench latency: transport=%s wait=%s size=%u unit=ns "
				"(round trip)\n",
				transport, wait, o->size);
			hm_hist_print_percentiles(lr.hist, res->hist, 5, 1.0);
			fprintf(res->hist, "\n\n");
		}
	}
	free(lr.hist);
	free(lr.buf);
	return rc;
}

/* ---- throughput: the measurement loops ---- */

typedef struct tp_check {
	uint64_t expected; /* the sequence number the next message must carry */
	uint32_t size;
	uint32_t bad;
} tp_check;

/* What the consumer does with every message, on both transports: check it
 * is the next one in order and has the right size. */
static inline void tp_check_msg(tp_check *c, const void *data, uint32_t len)
{
	uint64_t seq;
	memcpy(&seq, data, sizeof seq);
	c->bad |= (seq != c->expected) | (len != c->size);
	c->expected++;
}

typedef struct tp_ops {
	/* Claim n messages of len bytes (ptrs[i] receive where they go): 1 ok,
	 * 0 ring full, -1 error. */
	int (*claim)(void *ctx, uint32_t n, uint32_t len, void **ptrs);
	/* Publish the claimed messages: 0, or -1 on an error. */
	int (*commit)(void *ctx);
	/* Take up to max messages, check each, release them: 0 (*got set) or
	 * -1 on an error. */
	int (*drain)(void *ctx, unsigned max, tp_check *chk, unsigned *got);
} tp_ops;

typedef struct tp_params {
	const char *label;
	uint32_t size;
	uint32_t batch;
	uint64_t warmup_ns;
	uint64_t measure_ns;
	const uint8_t *payload; /* size bytes to copy into every message */
} tp_params;

typedef struct tp_outcome {
	uint64_t msgs;
	uint64_t ns;
} tp_outcome;

/* Messages the consumer takes per drain: it releases once per drain. */
#define TP_DRAIN_MAX 256u

/* The producer: claim, fill every message (payload, then its sequence
 * number in the first 8 bytes), commit, until the consumer says stop. */
ALWAYS_INLINE int tp_produce(const tp_ops *ops, void *ctx, const tp_params *p)
{
	void *ptrs[MAX_BATCH];
	uint64_t seq = 0, full_since = 0;
	unsigned full = 0;
	/* Relaxed: the flag carries no data, only "stop"; a late view costs a
	 * few more messages. */
	while (!hm_load_relaxed_u32(&g_ctl->stop) && !g_stop) {
		int r = ops->claim(ctx, p->batch, p->size, ptrs);
		if (r < 0)
			return -1;
		if (r == 0) {
			hm_cpu_relax(); /* as in lat_wait */
			if (++full % CHECK_EVERY)
				continue;
			uint64_t now = now_ns();
			if (!full_since) {
				full_since = now;
			} else if (now - full_since >= PEER_TIMEOUT_NS) {
				say_error("%s: the ring stayed full for %llu s; the consumer stopped",
					  p->label, (unsigned long long)(PEER_TIMEOUT_NS / NS_PER_S));
				return -1;
			}
			continue;
		}
		full = 0;
		full_since = 0;
		for (uint32_t i = 0; i < p->batch; i++, seq++) {
			memcpy(ptrs[i], p->payload, p->size);
			memcpy(ptrs[i], &seq, sizeof seq);
		}
		if (ops->commit(ctx) < 0)
			return -1;
	}
	return g_stop ? -1 : 0;
}

/* The consumer: drain, count, and time a window of measure_ns after a
 * warm-up of warmup_ns from the first message; then tell the producer to
 * stop. The clock is read every 64 productive drains, not per message. */
ALWAYS_INLINE int tp_consume(const tp_ops *ops, void *ctx, const tp_params *p, tp_outcome *out)
{
	tp_check chk = {0, p->size, 0};
	enum { WAITING, WARMING, MEASURING } phase = WAITING;
	uint64_t received = 0, mark_msgs = 0, mark_ns = 0, idle_since = 0;
	unsigned empty = 0, drains = 0;
	for (;;) {
		unsigned got = 0;
		if (ops->drain(ctx, TP_DRAIN_MAX, &chk, &got) < 0)
			return -1;
		if (got == 0) {
			hm_cpu_relax(); /* as in lat_wait */
			if (++empty % CHECK_EVERY)
				continue;
			uint64_t now = now_ns();
			if (!idle_since)
				idle_since = now;
			if (g_stop)
				return -1;
			if (g_child_exited || now - idle_since >= PEER_TIMEOUT_NS) {
				say_error("%s: %s", p->label,
					  g_child_exited ? "the producer process ended mid-run"
							 : "no message from the producer for 5 s");
				return -1;
			}
			continue;
		}
		if (chk.bad) {
			say_error("%s: message %" PRIu64 " is out of order or has the wrong size",
				  p->label, chk.expected - 1);
			return -1;
		}
		empty = 0;
		idle_since = 0;
		received += got;
		if (phase != WAITING && ++drains % 64)
			continue;
		uint64_t now = now_ns();
		if (phase == WAITING) {
			phase = WARMING;
			mark_ns = now;
		} else if (phase == WARMING && now - mark_ns >= p->warmup_ns) {
			phase = MEASURING;
			mark_ns = now;
			mark_msgs = received;
		} else if (phase == MEASURING && now - mark_ns >= p->measure_ns) {
			out->msgs = received - mark_msgs;
			out->ns = now - mark_ns;
			/* Relaxed: see tp_produce. */
			hm_store_relaxed_u32(&g_ctl->stop, 1);
			return 0;
		}
	}
}

/* ---- throughput: Hermes ---- */

typedef struct hx_tp {
	hermes_pub *pub;
	hermes_sub *sub;
	hermes_claim claim;
	uint32_t lens[MAX_BATCH];
} hx_tp;

static int hx_tp_claim(void *vc, uint32_t n, uint32_t len, void **ptrs)
{
	hx_tp *c = vc;
	hermes_err err;
	if (n == 1) {
		err = hermes_pub_claim(c->pub, len, &c->claim);
		ptrs[0] = c->claim.data;
	} else {
		err = hermes_pub_claim_batch(c->pub, c->lens, n, ptrs, &c->claim);
	}
	if (err == HERMES_OK)
		return 1;
	if (err == HERMES_EAGAIN)
		return 0;
	say_hot_error(err, n == 1 ? "hermes_pub_claim" : "hermes_pub_claim_batch");
	return -1;
}

static int hx_tp_commit(void *vc)
{
	hx_tp *c = vc;
	hermes_err err = hermes_pub_commit(c->pub, &c->claim);
	if (err) {
		say_hot_error(err, "hermes_pub_commit");
		return -1;
	}
	return 0;
}

static void hx_tp_on_msg(void *ctx, const hermes_msg *m)
{
	tp_check_msg(ctx, m->data, m->len);
}

static int hx_tp_drain(void *vc, unsigned max, tp_check *chk, unsigned *got)
{
	hx_tp *c = vc;
	hermes_err err = hermes_sub_poll_batch(c->sub, hx_tp_on_msg, chk, max, got);
	if (err) {
		say_hot_error(err, "hermes_sub_poll_batch");
		return -1;
	}
	return 0;
}

static const tp_ops hx_tp_ops = {hx_tp_claim, hx_tp_commit, hx_tp_drain};

/* ---- throughput: bare ring ---- */

typedef struct bare_tp {
	bare_end end;
	uint32_t claimed;
} bare_tp;

static int bare_tp_claim(void *vc, uint32_t n, uint32_t len, void **ptrs)
{
	bare_tp *c = vc;
	(void)len; /* fixed-size slots */
	if (!bare_has_room(&c->end, n))
		return 0;
	for (uint32_t i = 0; i < n; i++)
		ptrs[i] = bare_slot(&c->end, c->end.pos + i);
	c->claimed = n;
	return 1;
}

static int bare_tp_commit(void *vc)
{
	bare_tp *c = vc;
	c->end.pos += c->claimed;
	bare_publish(&c->end, false);
	return 0;
}

static int bare_tp_drain(void *vc, unsigned max, tp_check *chk, unsigned *got)
{
	bare_tp *c = vc;
	uint64_t n = bare_available(&c->end);
	if (n > max)
		n = max;
	for (uint64_t i = 0; i < n; i++)
		tp_check_msg(chk, bare_slot(&c->end, c->end.pos + i), c->end.size);
	if (n) {
		c->end.pos += n;
		bare_release(&c->end);
	}
	*got = (unsigned)n;
	return 0;
}

static const tp_ops bare_tp_ops = {bare_tp_claim, bare_tp_commit, bare_tp_drain};

static int hx_produce(hx_tp *c, const tp_params *p)
{
	return tp_produce(&hx_tp_ops, c, p);
}
static int hx_consume(hx_tp *c, const tp_params *p, tp_outcome *out)
{
	return tp_consume(&hx_tp_ops, c, p, out);
}
static int bare_produce(bare_tp *c, const tp_params *p)
{
	return tp_produce(&bare_tp_ops, c, p);
}
static int bare_consume(bare_tp *c, const tp_params *p, tp_outcome *out)
{
	return tp_consume(&bare_tp_ops, c, p, out);
}

/* ---- throughput: runs ---- */

typedef struct tp_run {
	tp_params params;
	tp_outcome out;
	const char *bus;
	hermes_sub *sub; /* the consumer's, opened before the producer exists */
	bare_mem mem;
} tp_run;

static int hx_producer_child(void *arg, int ready_fd)
{
	tp_run *t = arg;
	hermes_bus *bus = NULL;
	/* About 4 KiB of lengths: keep them off the stack. */
	hx_tp *c = calloc(1, sizeof *c);
	int rc = -1;
	if (!c) {
		say_error("out of memory");
		return -1;
	}
	for (uint32_t i = 0; i < MAX_BATCH; i++)
		c->lens[i] = t->params.size;
	hermes_err err = hermes_bus_attach(t->bus, &bus);
	if (err)
		say_hermes_error(err, "producer: hermes_bus_attach");
	else if ((err = hermes_pub_open(bus, "tp", &c->pub)) != HERMES_OK)
		say_hermes_error(err, "producer: hermes_pub_open(tp)");
	else if (signal_ready(ready_fd) == 0)
		rc = hx_produce(c, &t->params);
	hermes_pub_close(c->pub);
	hermes_bus_detach(bus);
	free(c);
	return rc;
}

static int hx_consumer_parent(void *arg)
{
	tp_run *t = arg;
	hx_tp *c = calloc(1, sizeof *c);
	if (!c) {
		say_error("out of memory");
		return -1;
	}
	c->sub = t->sub;
	int rc = hx_consume(c, &t->params, &t->out);
	free(c);
	return rc;
}

static int bare_producer_child(void *arg, int ready_fd)
{
	tp_run *t = arg;
	bare_tp c = {0};
	bare_end_init(&c.end, &t->mem);
	if (signal_ready(ready_fd) != 0)
		return -1;
	return bare_produce(&c, &t->params);
}

static int bare_consumer_parent(void *arg)
{
	tp_run *t = arg;
	bare_tp c = {0};
	bare_end_init(&c.end, &t->mem);
	return bare_consume(&c, &t->params, &t->out);
}

/* One throughput run; on success *mps receives messages per second. */
static int throughput_one(const bench_opts *o, bool hermes, const uint8_t *payload, double *mps)
{
	const char *transport = hermes ? "hermes" : "bare-ring";
	char label[64];
	snprintf(label, sizeof label, "throughput %s batch %u", transport, o->batch);
	double seconds = o->seconds > 0 ? o->seconds : (o->quick ? 0.5 : 3.0);

	tp_run t;
	memset(&t, 0, sizeof t);
	t.params.label = label;
	t.params.size = o->size;
	t.params.batch = o->batch;
	t.params.measure_ns = (uint64_t)(seconds * 1e9);
	t.params.warmup_ns = t.params.measure_ns / 10;
	t.params.payload = payload;
	/* Relaxed: the fork below orders it before anything the child does. */
	hm_store_relaxed_u32(&g_ctl->stop, 0);

	/* Room for 8 messages, and a batch may take at most a quarter of a
	 * Hermes ring. */
	uint64_t need = 8ull * aligned8(o->size);
	if (4ull * o->batch * aligned8(o->size) > need)
		need = 4ull * o->batch * aligned8(o->size);
	ring_shape shape = shape_for(TP_MIN_CAPACITY, need, o->size);
	if (shape.slots < 4u * o->batch)
		shape.slots = (uint32_t)pow2_at_least(4u * o->batch);

	pair_spec ps = {"producer", NULL, NULL, &t, o};
	int rc = -1;
	if (hermes) {
		hermes_ring_config ring = {"tp", shape.capacity, o->size, HERMES_POLICY_BLOCK,
					   shape.slots};
		hermes_bus *bus = bus_create(&ring, 1);
		if (!bus)
			return -1;
		hermes_err err = hermes_sub_open(bus, "tp", HERMES_START_LATEST, 0, &t.sub);
		if (err) {
			say_hermes_error(err, "consumer: hermes_sub_open(tp)");
		} else {
			t.bus = g_bus_name;
			ps.child = hx_producer_child;
			ps.parent = hx_consumer_parent;
			rc = run_pair(&ps);
			hermes_sub_close(t.sub);
		}
		bus_destroy(bus);
	} else {
		if (bare_create(&t.mem, shape, o->size) != 0)
			return -1;
		ps.child = bare_producer_child;
		ps.parent = bare_consumer_parent;
		rc = run_pair(&ps);
		bare_destroy(&t.mem);
	}
	if (rc == 0)
		*mps = (double)t.out.msgs * 1e9 / (double)t.out.ns;
	return rc;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Both transports at the current options, interleaved run by run so drift
 * in the machine affects them alike. */
static int throughput_pair(const bench_opts *o, results *res)
{
	unsigned runs = o->quick ? 1u : MAX_RUNS;
	uint8_t *payload = malloc(o->size);
	if (!payload) {
		say_error("out of memory");
		return -1;
	}
	for (uint32_t i = 0; i < o->size; i++)
		payload[i] = (uint8_t)(i * 31u + 7u);
	tp_result r[2];
	memset(r, 0, sizeof r);
	int rc = 0;
	for (unsigned run = 0; run < runs && rc == 0; run++) {
		for (int k = 0; k < 2 && rc == 0; k++)
			rc = throughput_one(o, k == 0, payload, &r[k].mps[run]);
	}
	free(payload);
	if (rc != 0)
		return rc;
	for (int k = 0; k < 2; k++) {
		tp_result *x = &r[k];
		x->transport = k == 0 ? "hermes" : "bare-ring";
		x->size = o->size;
		x->batch = o->batch;
		x->runs = runs;
		x->seconds = o->seconds > 0 ? o->seconds : (o->quick ? 0.5 : 3.0);
		double sorted[MAX_RUNS];
		memcpy(sorted, x->mps, sizeof sorted);
		qsort(sorted, runs, sizeof sorted[0], cmp_double);
		x->min = sorted[0];
		x->max = sorted[runs - 1];
		x->median = sorted[runs / 2];
		if (res->ntp < MAX_RESULTS)
			res->tp[res->ntp++] = *x;
	}
	return 0;
}

/* ---- machine ---- */

/* Jiffies all CPUs spent busy and in total, from /proc/stat. */
static int cpu_times(unsigned long long *busy, unsigned long long *total)
{
	FILE *f = fopen("/proc/stat", "re");
	if (!f)
		return -1;
	unsigned long long v[8] = {0};
	int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
		       &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n < 5)
		return -1;
	*total = 0;
	for (int i = 0; i < 8; i++)
		*total += v[i];
	*busy = *total - v[3] - v[4]; /* less idle and iowait */
	return 0;
}

static void machine_probe(machine_info *m)
{
	snprintf(m->cpu, sizeof m->cpu, "unknown CPU");
	FILE *f = fopen("/proc/cpuinfo", "re");
	if (f) {
		char line[512];
		while (fgets(line, sizeof line, f)) {
			/* x86 says "model name"; some arm64 kernels say "Processor". */
			if (strncmp(line, "model name", 10) && strncmp(line, "Processor", 9))
				continue;
			char *v = strchr(line, ':');
			if (!v)
				continue;
			v++;
			while (*v == ' ' || *v == '\t')
				v++;
			v[strcspn(v, "\n")] = '\0';
			snprintf(m->cpu, sizeof m->cpu, "%s", v);
			break;
		}
		fclose(f);
	}
	m->cores = sysconf(_SC_NPROCESSORS_ONLN);
	m->busy_pct = -1.0;
	unsigned long long busy0, total0, busy1, total1;
	if (cpu_times(&busy0, &total0) == 0) {
		sleep_ms(200);
		if (cpu_times(&busy1, &total1) == 0 && total1 > total0)
			m->busy_pct = 100.0 * (double)(busy1 - busy0) / (double)(total1 - total0);
	}
	struct utsname u;
	if (uname(&u) == 0)
		snprintf(m->kernel, sizeof m->kernel, "%s %s %s", u.sysname, u.release, u.machine);
	else
		snprintf(m->kernel, sizeof m->kernel, "unknown kernel");
}

static void pinning_text(const bench_opts *o, char *buf, size_t len)
{
	if (o->pin)
		snprintf(buf, len, "CPU %d (ping / consumer) and CPU %d (echo / producer)", o->cpu[0],
			 o->cpu[1]);
	else
		snprintf(buf, len, "none (the scheduler places both processes)");
}

/* ---- output ---- */

static const lat_result *find_lat(const results *res, const char *transport, const char *wait,
				  uint32_t size)
{
	for (unsigned i = 0; i < res->nlat; i++) {
		const lat_result *r = &res->lat[i];
		if (!strcmp(r->transport, transport) && !strcmp(r->wait, wait) && r->size == size)
			return r;
	}
	return NULL;
}

static const tp_result *find_tp(const results *res, const char *transport, uint32_t size,
				uint32_t batch)
{
	for (unsigned i = 0; i < res->ntp; i++) {
		const tp_result *r = &res->tp[i];
		if (!strcmp(r->transport, transport) && r->size == size && r->batch == batch)
			return r;
	}
	return NULL;
}

static double ratio(double a, double b)
{
	return b > 0 ? a / b : 0.0;
}

static void print_lat_header(void)
{
	printf("%-10s %-6s %6s %9s %9s %9s %9s %9s %9s %9s\n", "transport", "wait", "size", "p50",
	       "p90", "p99", "p99.9", "p99.99", "max", "mean");
}

static void print_lat_row(const lat_result *r)
{
	printf("%-10s %-6s %6u %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %9" PRIu64
	       " %9" PRIu64 " %9.0f\n",
	       r->transport, r->wait, r->size, r->p50, r->p90, r->p99, r->p999, r->p9999, r->max,
	       r->mean);
}

static void print_lat_ratio(const results *res, const char *wait, uint32_t size)
{
	const lat_result *h = find_lat(res, "hermes", wait, size);
	const lat_result *b = find_lat(res, "bare-ring", wait, size);
	if (h && b)
		printf("ratio vs bare ring (%s, %u B): p50 %.2fx, p99 %.2fx\n", wait, size,
		       ratio((double)h->p50, (double)b->p50), ratio((double)h->p99, (double)b->p99));
}

static void print_tp_header(void)
{
	printf("%-10s %6s %6s %14s %14s %14s %10s\n", "transport", "size", "batch", "msgs/s median",
	       "min", "max", "MB/s");
}

static void print_tp_row(const tp_result *r)
{
	printf("%-10s %6u %6u %14.0f %14.0f %14.0f %10.1f\n", r->transport, r->size, r->batch,
	       r->median, r->min, r->max, r->median * r->size / 1e6);
}

static void print_tp_ratio(const results *res, uint32_t size, uint32_t batch)
{
	const tp_result *h = find_tp(res, "hermes", size, batch);
	const tp_result *b = find_tp(res, "bare-ring", size, batch);
	if (h && b)
		printf("ratio vs bare ring (batch %u, %u B): median msgs/s %.2fx\n", batch, size,
		       ratio(h->median, b->median));
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void print_json(const char *command, const bench_opts *o, const machine_info *m,
		       const results *res)
{
	printf("{\n  \"command\": ");
	json_string(stdout, command);
	printf(",\n  \"quick\": %s,\n  \"machine\": {\"cpu\": ", o->quick ? "true" : "false");
	json_string(stdout, m->cpu);
	printf(", \"cores\": %ld, \"kernel\": ", m->cores);
	json_string(stdout, m->kernel);
	printf(", \"busy_before_pct\": %.1f},\n  \"cpu_pinning\": ", m->busy_pct);
	if (o->pin)
		printf("[%d, %d]", o->cpu[0], o->cpu[1]);
	else
		printf("null");
	printf(",\n  \"latency\": [");
	for (unsigned i = 0; i < res->nlat; i++) {
		const lat_result *r = &res->lat[i];
		const lat_result *b = find_lat(res, "bare-ring", r->wait, r->size);
		printf("%s\n    {\"transport\": \"%s\", \"wait\": \"%s\", \"size\": %u, "
		       "\"metric\": \"round_trip_ns\", \"count\": %" PRIu64 ", \"p50\": %" PRIu64
		       ", \"p90\": %" PRIu64 ", \"p99\": %" PRIu64 ", \"p99_9\": %" PRIu64
		       ", \"p99_99\": %" PRIu64 ", \"max\": %" PRIu64 ", \"min\": %" PRIu64
		       ", \"mean\": %.1f",
		       i ? "," : "", r->transport, r->wait, r->size, r->count, r->p50, r->p90, r->p99,
		       r->p999, r->p9999, r->max, r->min, r->mean);
		if (b)
			printf(", \"p50_vs_bare\": %.3f, \"p99_vs_bare\": %.3f",
			       ratio((double)r->p50, (double)b->p50),
			       ratio((double)r->p99, (double)b->p99));
		printf("}");
	}
	printf("%s],\n  \"throughput\": [", res->nlat ? "\n  " : "");
	for (unsigned i = 0; i < res->ntp; i++) {
		const tp_result *r = &res->tp[i];
		const tp_result *b = find_tp(res, "bare-ring", r->size, r->batch);
		printf("%s\n    {\"transport\": \"%s\", \"size\": %u, \"batch\": %u, \"runs\": %u, "
		       "\"seconds\": %.3f, \"msgs_per_s\": {\"median\": %.0f, \"min\": %.0f, "
		       "\"max\": %.0f}, \"mb_per_s\": {\"median\": %.1f, \"min\": %.1f, \"max\": "
		       "%.1f}",
		       i ? "," : "", r->transport, r->size, r->batch, r->runs, r->seconds, r->median,
		       r->min, r->max, r->median * r->size / 1e6, r->min * r->size / 1e6,
		       r->max * r->size / 1e6);
		if (b)
			printf(", \"median_vs_bare\": %.3f", ratio(r->median, b->median));
		printf("}");
	}
	printf("%s]\n}\n", res->ntp ? "\n  " : "");
}

/* Append every result as a row; the header goes in when the file is new. */
static int write_csv(const char *path, const char *command, const results *res)
{
	FILE *f = fopen(path, "ae");
	if (!f) {
		say_error("%s: %s", path, strerror(errno));
		return -1;
	}
	if (ftell(f) == 0)
		fprintf(f, "command,kind,transport,wait,size,batch,count,p50_ns,p90_ns,p99_ns,"
			   "p99_9_ns,p99_99_ns,max_ns,mean_ns,msgs_per_s_median,msgs_per_s_min,"
			   "msgs_per_s_max,mb_per_s_median\n");
	for (unsigned i = 0; i < res->nlat; i++) {
		const lat_result *r = &res->lat[i];
		fprintf(f,
			"%s,latency,%s,%s,%u,,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
			",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.1f,,,,\n",
			command, r->transport, r->wait, r->size, r->count, r->p50, r->p90, r->p99,
			r->p999, r->p9999, r->max, r->mean);
	}
	for (unsigned i = 0; i < res->ntp; i++) {
		const tp_result *r = &res->tp[i];
		fprintf(f, "%s,throughput,%s,,%u,%u,,,,,,,,,%.0f,%.0f,%.0f,%.1f\n", command,
			r->transport, r->size, r->batch, r->median, r->min, r->max,
			r->median * r->size / 1e6);
	}
	bool ok = !ferror(f);
	if (fclose(f) != 0 || !ok) {
		say_error("writing %s failed", path);
		return -1;
	}
	return 0;
}

static void print_markdown(const bench_opts *o, const machine_info *m, const results *res)
{
	char pin[128];
	pinning_text(o, pin, sizeof pin);
	printf("\n## hermes-bench summary%s\n\n", o->quick ? " (quick)" : "");
	printf("Machine: %s, %ld cores, %s; CPUs %.0f%% busy just before the run. CPU pinning: "
	       "%s.\n\n",
	       m->cpu, m->cores, m->kernel, m->busy_pct, pin);
	if (res->nlat) {
		printf("| latency, round trip (ns) | wait | size | p50 | p90 | p99 | p99.9 | p99.99 "
		       "| max | mean | p50 vs bare | p99 vs bare |\n");
		printf("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
		for (unsigned i = 0; i < res->nlat; i++) {
			const lat_result *r = &res->lat[i];
			const lat_result *b = find_lat(res, "bare-ring", r->wait, r->size);
			printf("| %s | %s | %u | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " | %" PRIu64
			       " | %" PRIu64 " | %" PRIu64 " | %.0f |",
			       r->transport, r->wait, r->size, r->p50, r->p90, r->p99, r->p999,
			       r->p9999, r->max, r->mean);
			if (b)
				printf(" %.2fx | %.2fx |\n", ratio((double)r->p50, (double)b->p50),
				       ratio((double)r->p99, (double)b->p99));
			else
				printf(" - | - |\n");
		}
		printf("\n");
	}
	if (res->ntp) {
		printf("| throughput 1→1 | size | batch | msgs/s (median) | min | max | MB/s | vs "
		       "bare |\n");
		printf("|---|--:|--:|--:|--:|--:|--:|--:|\n");
		for (unsigned i = 0; i < res->ntp; i++) {
			const tp_result *r = &res->tp[i];
			const tp_result *b = find_tp(res, "bare-ring", r->size, r->batch);
			printf("| %s | %u | %u | %.0f | %.0f | %.0f | %.1f |", r->transport, r->size,
			       r->batch, r->median, r->min, r->max, r->median * r->size / 1e6);
			if (b)
				printf(" %.2fx |\n", ratio(r->median, b->median));
			else
				printf(" - |\n");
		}
	}
}

/* ---- commands ---- */

static void print_preamble(const char *what, const bench_opts *o)
{
	char pin[128];
	pinning_text(o, pin, sizeof pin);
	printf("%s\ncpu pinning: %s\n", what, pin);
}

static int do_latency(const bench_opts *o, results *res)
{
	uint64_t count = o->count ? o->count : (o->quick ? 100000u : 1000000u);
	if (!o->json) {
		char what[160];
		snprintf(what, sizeof what,
			 "latency: round trip in ns between two processes, %" PRIu64
			 " round trips after %" PRIu64 " of warm-up",
			 count, count / 10);
		print_preamble(what, o);
	}
	for (int w = 0; w < 2; w++) {
		bool block = w == 1;
		if (!(o->waits & (block ? WAIT_BLOCK : WAIT_SPIN)))
			continue;
		for (int k = 0; k < 2; k++)
			if (latency_one(o, k == 0, block, res) != 0)
				return -1;
		if (!o->json) {
			print_lat_header();
			print_lat_row(find_lat(res, "hermes", block ? "block" : "spin", o->size));
			print_lat_row(find_lat(res, "bare-ring", block ? "block" : "spin", o->size));
			print_lat_ratio(res, block ? "block" : "spin", o->size);
			for (int k = 0; k < 2; k++) {
				const lat_result *r = find_lat(res, k ? "bare-ring" : "hermes",
							       block ? "block" : "spin", o->size);
				if (r->count < count)
					printf("note: %s %s hit its %u s budget after %" PRIu64
					       " measured round trips\n",
					       r->transport, r->wait,
					       o->quick ? LAT_QUICK_BUDGET_S : LAT_FULL_BUDGET_S,
					       r->count);
			}
			fflush(stdout);
		}
	}
	return 0;
}

static int do_throughput(const bench_opts *o, results *res)
{
	if (!o->json) {
		char what[160];
		double s = o->seconds > 0 ? o->seconds : (o->quick ? 0.5 : 3.0);
		snprintf(what, sizeof what,
			 "throughput: 1 producer -> 1 consumer process, counted by the consumer, "
			 "%.2g s x %u run%s",
			 s, o->quick ? 1u : MAX_RUNS, o->quick ? "" : "s (median, min, max)");
		print_preamble(what, o);
	}
	if (throughput_pair(o, res) != 0)
		return -1;
	if (!o->json) {
		print_tp_header();
		print_tp_row(find_tp(res, "hermes", o->size, o->batch));
		print_tp_row(find_tp(res, "bare-ring", o->size, o->batch));
		print_tp_ratio(res, o->size, o->batch);
		fflush(stdout);
	}
	return 0;
}

/* Runs `body` with a results set, then prints JSON, CSV and histograms as
 * asked. */
static int with_results(const char *command, const bench_opts *o,
			int (*body)(const bench_opts *, results *), bool summary)
{
	results *res = calloc(1, sizeof *res);
	if (!res) {
		say_error("out of memory");
		return 1;
	}
	if (o->hist) {
		res->hist = fopen(o->hist, "we");
		if (!res->hist) {
			say_error("%s: %s", o->hist, strerror(errno));
			free(res);
			return 1;
		}
	}
	machine_info m;
	machine_probe(&m);
	if (m.busy_pct >= 20.0)
		fprintf(stderr,
			"hermes-bench: warning: the CPUs were %.0f%% busy before the run; other "
			"processes will distort the figures\n",
			m.busy_pct);
	int rc = body(o, res);
	if (res->hist && fclose(res->hist) != 0) {
		say_error("writing %s failed", o->hist);
		rc = -1;
	}
	if (rc == 0 && o->json)
		print_json(command, o, &m, res);
	else if (rc == 0 && summary)
		print_markdown(o, &m, res);
	if (rc == 0 && o->csv && write_csv(o->csv, command, res) != 0)
		rc = -1;
	free(res);
	if (g_stop) {
		say_error("interrupted");
		return 130;
	}
	return rc == 0 ? 0 : 1;
}

static int cmd_latency(const bench_opts *o)
{
	return with_results("latency", o, do_latency, false);
}

static int cmd_throughput(const bench_opts *o)
{
	return with_results("throughput", o, do_throughput, false);
}

static int do_all(const bench_opts *o, results *res)
{
	bench_opts x = *o;
	x.waits = WAIT_SPIN | WAIT_BLOCK;
	if (do_latency(&x, res) != 0)
		return -1;
	x.batch = 1;
	if (!x.json)
		printf("\n");
	if (do_throughput(&x, res) != 0)
		return -1;
	x.batch = 32;
	if (!x.json)
		printf("\n");
	return do_throughput(&x, res);
}

static int cmd_all(const bench_opts *o)
{
	return with_results("all", o, do_all, true);
}

static const bench_command commands[] = {
	{"latency", "ping-pong round trips between two processes: Hermes and the bare ring",
	 OPT(OPT_QUICK) | OPT(OPT_SIZE) | OPT(OPT_COUNT) | OPT(OPT_WAIT) | OPT(OPT_CPU) |
		 OPT(OPT_JSON) | OPT(OPT_CSV) | OPT(OPT_HIST),
	 cmd_latency},
	{"throughput", "1 producer -> 1 consumer process: Hermes and the bare ring",
	 OPT(OPT_QUICK) | OPT(OPT_SIZE) | OPT(OPT_SECONDS) | OPT(OPT_BATCH) | OPT(OPT_CPU) |
		 OPT(OPT_JSON) | OPT(OPT_CSV),
	 cmd_throughput},
	{"all", "latency (spin, block) and throughput (batch 1, 32), then a Markdown summary",
	 OPT(OPT_QUICK) | OPT(OPT_SIZE) | OPT(OPT_CPU) | OPT(OPT_JSON) | OPT(OPT_CSV) |
		 OPT(OPT_HIST),
	 cmd_all},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

/* ---- command line ---- */

static void usage(FILE *f, const bench_command *c)
{
	if (!c) {
		fprintf(f, "usage: hermes-bench COMMAND [OPTIONS]\n\ncommands:\n");
		for (size_t i = 0; i < N_COMMANDS; i++)
			fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
		fprintf(f, "\n'hermes-bench COMMAND --help' lists a command's options.\n");
		return;
	}
	fprintf(f, "usage: hermes-bench %s [OPTIONS]\n%s\n\noptions:\n", c->name, c->summary);
	for (int i = 0; i < OPT_N_; i++) {
		if (!(c->accepts & OPT(i)) && i != OPT_HELP)
			continue;
		char left[48];
		snprintf(left, sizeof left, "--%s%s%s", options[i].name, options[i].meta ? " " : "",
			 options[i].meta ? options[i].meta : "");
		fprintf(f, "  %-26s %s\n", left, options[i].help);
	}
}

static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	if (!s || !*s || *s == '-')
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static int parse_value(bench_opts *o, int id, const char *v)
{
	uint64_t n;
	switch (id) {
	case OPT_SIZE:
		if (!parse_u64(v, MIN_SIZE, MAX_SIZE, &n))
			return -1;
		o->size = (uint32_t)n;
		return 0;
	case OPT_COUNT:
		if (!parse_u64(v, 1, 1000000000ull, &n))
			return -1;
		o->count = n;
		return 0;
	case OPT_WAIT:
		if (!strcmp(v, "spin"))
			o->waits = WAIT_SPIN;
		else if (!strcmp(v, "block"))
			o->waits = WAIT_BLOCK;
		else if (!strcmp(v, "both"))
			o->waits = WAIT_SPIN | WAIT_BLOCK;
		else
			return -1;
		return 0;
	case OPT_CPU: {
		char a[32];
		snprintf(a, sizeof a, "%s", v);
		char *comma = strchr(a, ',');
		uint64_t x, y;
		if (!comma)
			return -1;
		*comma = '\0';
		if (!parse_u64(a, 0, CPU_SETSIZE - 1, &x) ||
		    !parse_u64(comma + 1, 0, CPU_SETSIZE - 1, &y))
			return -1;
		/* Refuse CPUs we may not run on now, rather than after the
		 * first fork. */
		cpu_set_t allowed;
		if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 ||
		    !CPU_ISSET((int)x, &allowed) || !CPU_ISSET((int)y, &allowed))
			return -1;
		o->pin = true;
		o->cpu[0] = (int)x;
		o->cpu[1] = (int)y;
		return 0;
	}
	case OPT_SECONDS: {
		char *end;
		errno = 0;
		double d = strtod(v, &end);
		if (errno || *end || !(d >= 0.05 && d <= 600.0))
			return -1;
		o->seconds = d;
		return 0;
	}
	case OPT_BATCH:
		if (!parse_u64(v, 1, MAX_BATCH, &n))
			return -1;
		o->batch = (uint32_t)n;
		return 0;
	case OPT_CSV:
		o->csv = v;
		return 0;
	case OPT_HIST:
		o->hist = v;
		return 0;
	default:
		return -1;
	}
}

/* Fill *o from argv (after the command name). Returns 0, 1 for --help, or
 * -1 after printing what was wrong. */
static int parse_args(const bench_command *c, int argc, char **argv, bench_opts *o)
{
	memset(o, 0, sizeof *o);
	o->size = 64;
	o->waits = WAIT_SPIN;
	o->batch = 1;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0) {
			say_error("%s: unexpected argument '%s'", c->name, a);
			return -1;
		}
		a += 2;
		size_t n = strcspn(a, "=");
		int id = -1;
		for (int k = 0; k < OPT_N_; k++)
			if (strlen(options[k].name) == n && !strncmp(a, options[k].name, n))
				id = k;
		if (id < 0 || (id != OPT_HELP && !(c->accepts & OPT(id)))) {
			say_error("%s: unknown option '--%.*s'", c->name, (int)n, a);
			return -1;
		}
		if (id == OPT_HELP)
			return 1;
		if (!options[id].meta) {
			if (a[n] == '=') {
				say_error("%s: --%s takes no value", c->name, options[id].name);
				return -1;
			}
			if (id == OPT_QUICK)
				o->quick = true;
			else if (id == OPT_JSON)
				o->json = true;
			continue;
		}
		const char *v = a[n] == '=' ? a + n + 1 : (i + 1 < argc ? argv[++i] : NULL);
		if (!v || parse_value(o, id, v) != 0) {
			say_error("%s: --%s needs %s: %s", c->name, options[id].name,
				  options[id].meta, options[id].help);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout, NULL);
		return argc < 2 ? 2 : 0;
	}
	const bench_command *c = NULL;
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (!strcmp(argv[1], commands[i].name))
			c = &commands[i];
	if (!c) {
		say_error("unknown command '%s'", argv[1]);
		usage(stderr, NULL);
		return 2;
	}
	bench_opts o;
	int pr = parse_args(c, argc - 2, argv + 2, &o);
	if (pr != 0) {
		usage(pr > 0 ? stdout : stderr, c);
		return pr > 0 ? 0 : 2;
	}

	g_main_pid = getpid();
	g_ctl = mmap(NULL, sizeof *g_ctl, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g_ctl == MAP_FAILED) {
		say_error("mmap: %s", strerror(errno));
		return 1;
	}
	install_signals();
	atexit(cleanup_at_exit);
	if (o.pin && pin_to(o.cpu[0]) != 0)
		return 1;
	return c->run(&o);
}
