/* The README's demo: a local producer and consumer in two processes over a
 * Hermes bus. It creates a private bus, forks an echo process, measures
 * round trips over two rings, streams a burst one way, prints a latency and
 * throughput summary, and removes everything it made (also on Ctrl-C).
 *
 *   hermes-demo [--bus NAME] [--round-trips N] [--stream N] [--size BYTES]
 *
 * With --bus it attaches to that bus (run by hermesd) and asks the supervisor
 * for its two rings; without, it creates a private bus of its own.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hermes/hermes.h>

static volatile sig_atomic_t interrupted;
static char bus_name[64];
static bool own_bus;
static pid_t echo_pid;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The echo process: every message on "ping" goes back on "pong". */
static int echo_main(void)
{
	hermes_bus *bus;
	hermes_sub *in;
	hermes_pub *out;
	if (hermes_bus_attach(bus_name, &bus) ||
	    hermes_sub_open(bus, "ping", HERMES_START_EARLIEST, 0, &in) ||
	    hermes_pub_open(bus, "pong", &out)) {
		fprintf(stderr, "echo: %s\n", hermes_last_error_detail());
		return 1;
	}
	int rc = 1;
	for (bool done = false; !done;) {
		if (hermes_sub_wait(in, HERMES_WAIT_YIELD, 5000000000ll) != HERMES_OK)
			break; /* the parent went away */
		hermes_msg m;
		/* Release every 256 messages: a subscriber that keeps pointers
		 * holds the ring back, and under a steady stream the poll loop
		 * might otherwise never end. */
		for (unsigned n = 0; n < 256 && hermes_sub_poll(in, &m) == HERMES_OK; n++) {
			if (m.len == 0) {
				done = true;
				rc = 0;
				break;
			}
			if (hermes_pub_send_timed(out, m.data, m.len, NULL, 5000000000ll)) {
				done = true;
				break;
			}
		}
		hermes_sub_release(in);
	}
	hermes_pub_close(out);
	hermes_sub_close(in);
	hermes_bus_detach(bus);
	return rc;
}

static int fail(const char *what, hermes_err err)
{
	fprintf(stderr, "demo: %s: %s (%s)\n", what, hermes_strerror(err),
		hermes_last_error_detail());
	return 1;
}

static void cleanup(void)
{
	if (echo_pid > 0) {
		kill(echo_pid, SIGTERM);
		waitpid(echo_pid, NULL, 0);
		echo_pid = 0;
	}
	if (own_bus)
		hermes_bus_unlink(bus_name);
}

/* What main sets up and the two measurements use. */
typedef struct demo {
	hermes_bus *bus;
	hermes_pub *out;   /* "ping": to the echo process */
	hermes_sub *back;  /* "pong": what it sends back */
	uint32_t size;
	uint8_t payload[4096];
} demo;

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, uint64_t *round_trips, uint64_t *stream,
		      uint32_t *size)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--bus") && i + 1 < argc)
			snprintf(bus_name, sizeof bus_name, "%s", argv[++i]);
		else if (!strcmp(argv[i], "--round-trips") && i + 1 < argc)
			*round_trips = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--stream") && i + 1 < argc)
			*stream = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--size") && i + 1 < argc)
			*size = (uint32_t)strtoul(argv[++i], NULL, 10);
		else {
			fprintf(stderr,
				"usage: %s [--bus NAME] [--round-trips N] [--stream N] [--size BYTES]\n",
				argv[0]);
			return 2;
		}
	}
	if (*size < 8 || *size > 4096 || *round_trips == 0) {
		fprintf(stderr, "demo: --size must be 8..4096 and --round-trips > 0\n");
		return 2;
	}
	return -1;
}

/* Create (or attach to) the bus, make the two rings and open our ends.
 * Returns 0, or 1 after saying what failed. */
static int open_rings(demo *d)
{
	hermes_err err = own_bus ? hermes_bus_create(bus_name, 16 << 20, 0600, &d->bus)
				 : hermes_bus_attach(bus_name, &d->bus);
	if (err)
		return fail(own_bus ? "create bus" : "attach bus", err);
	/* Through the supervisor when attached: it owns allocation. */
	hermes_ring_config ping = {.name = "ping", .capacity = 4 << 20, .max_msg = 4096};
	hermes_ring_config pong = {.name = "pong", .capacity = 4 << 20, .max_msg = 4096};
	if (((err = hermes_ring_create(d->bus, &ping)) && err != HERMES_EEXIST) ||
	    ((err = hermes_ring_create(d->bus, &pong)) && err != HERMES_EEXIST)) {
		cleanup();
		return fail("create rings", err);
	}
	printf("bus '%s' (/dev/shm/hermes.%s%s): rings 'ping' and 'pong' (4 MiB, block)\n",
	       bus_name, bus_name, own_bus ? ", private" : ", run by hermesd");
	if ((err = hermes_sub_open(d->bus, "pong", HERMES_START_LATEST, 0, &d->back)) ||
	    (err = hermes_pub_open(d->bus, "ping", &d->out))) {
		cleanup();
		return fail("open", err);
	}
	return 0;
}

/* Measure round trips one at a time and print their percentiles. Returns
 * 0, 1 on an error or 130 when interrupted. */
static int ping_pong(demo *d, uint64_t *rtt, uint64_t round_trips)
{
	hermes_err err = HERMES_OK;
	printf("ping-pong: %llu round trips of %u bytes between two processes\n",
	       (unsigned long long)round_trips, d->size);
	for (uint64_t i = 0; i < round_trips && !interrupted; i++) {
		uint64_t t0 = now_ns();
		memcpy(d->payload, &t0, 8);
		if ((err = hermes_pub_send_timed(d->out, d->payload, d->size, NULL, 5000000000ll)))
			break;
		hermes_msg m;
		while ((err = hermes_sub_poll(d->back, &m)) == HERMES_EAGAIN && !interrupted)
			if ((err = hermes_sub_wait(d->back, HERMES_WAIT_SPIN, 5000000000ll)))
				break;
		if (err)
			break;
		rtt[i] = now_ns() - t0;
		hermes_sub_release(d->back);
		if (i % (round_trips / 10 ? round_trips / 10 : 1) == 0) {
			printf("\r  %3llu%%", (unsigned long long)(i * 100 / round_trips));
			fflush(stdout);
		}
	}
	if (err || interrupted) {
		printf("\n%s\n", interrupted ? "interrupted" : "");
		if (err && !interrupted)
			fail("round trip", err);
		return interrupted ? 130 : 1;
	}
	qsort(rtt, round_trips, sizeof *rtt, cmp_u64);
#define PCT(p) (rtt[(uint64_t)((double)(round_trips - 1) * (p))])
	printf("\r  100%%\nround-trip latency (ns): p50 %llu  p90 %llu  p99 %llu  p99.9 %llu  max %llu\n",
	       (unsigned long long)PCT(0.50), (unsigned long long)PCT(0.90),
	       (unsigned long long)PCT(0.99), (unsigned long long)PCT(0.999),
	       (unsigned long long)rtt[round_trips - 1]);
#undef PCT
	return 0;
}

/* Streaming: the echo process sends everything back; count the rate at
 * which it returns. Returns 0, 1 when it stalls or 130 when interrupted. */
static int streaming(demo *d, uint64_t stream)
{
	uint64_t t0 = now_ns(), received = 0, sent = 0;
	while (received < stream && !interrupted) {
		while (sent < stream && sent - received < 4096 &&
		       hermes_pub_send(d->out, d->payload, d->size, NULL) == HERMES_OK)
			sent++;
		hermes_msg m;
		while (hermes_sub_poll(d->back, &m) == HERMES_OK)
			received++;
		hermes_sub_release(d->back);
		if (now_ns() - t0 > 60000000000ull) {
			fprintf(stderr, "demo: streaming stalled\n");
			return 1;
		}
	}
	if (interrupted) {
		printf("\ninterrupted\n");
		return 130;
	}
	double secs = (double)(now_ns() - t0) / 1e9;
	printf("streaming: %llu messages out and back in %.2f s: %.2f M msgs/s each way\n",
	       (unsigned long long)received, secs, (double)received / secs / 1e6);
	return 0;
}

/* Give the echo process 5 s to finish on its own; cleanup() stops it after. */
static void await_echo(void)
{
	for (int i = 0; echo_pid > 0 && i < 500; i++) {
		if (waitpid(echo_pid, NULL, WNOHANG) == echo_pid) {
			echo_pid = 0;
			break;
		}
		usleep(10000);
	}
}

int main(int argc, char **argv)
{
	uint64_t round_trips = 200000, stream = 2000000;
	demo d = {.size = 64};
	int rc = parse_args(argc, argv, &round_trips, &stream, &d.size);
	if (rc >= 0)
		return rc;
	own_bus = !bus_name[0];
	if (own_bus)
		snprintf(bus_name, sizeof bus_name, "demo-%d", (int)getpid());
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if ((rc = open_rings(&d)) != 0)
		return rc;
	fflush(stdout);
	echo_pid = fork();
	if (echo_pid == 0)
		_exit(echo_main());

	uint64_t *rtt = malloc(round_trips * sizeof *rtt);
	rc = ping_pong(&d, rtt, round_trips);
	if (rc == 0)
		rc = streaming(&d, stream);
	hermes_pub_send(d.out, d.payload, 0, NULL); /* tells the echo process to stop */
	await_echo();
	free(rtt);
	hermes_pub_close(d.out);
	hermes_sub_close(d.back);
	hermes_bus_detach(d.bus);
	cleanup();
	if (own_bus)
		printf("stopped: echo process reaped, /dev/shm/hermes.%s removed\n", bus_name);
	else
		printf("stopped: echo process reaped\n");
	return rc;
}
