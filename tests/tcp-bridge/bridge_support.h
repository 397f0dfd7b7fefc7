/* The bridge suites' part of the test kit: their bus (the kit's supervised
 * bus fixture, bus.h), the real hermes-bridge started on it with a port
 * picked by the kernel (started and stopped through process.h), the bridge
 * fixture, raw sessions and frames for byte-level checks, and small
 * measurements (RSS, CPU time). Every wait has a deadline. */
#ifndef HM_TEST_BRIDGE_SUPPORT_H
#define HM_TEST_BRIDGE_SUPPORT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <hermes/hermes.h>
#include <hermes/net.h>

#include "tests/support/bus.h"
#include "tests/support/daemon.h"
#include "tests/support/process.h"
#include "tests/support/testing.h"

typedef struct ht_br_bridge {
	pid_t pid;
	char log[256];
	char notify[256];
	int notify_fd;
	char addr[64]; /* "127.0.0.1:PORT" once started */
	unsigned port;
} ht_br_bridge;

/* The suites' bus: hermesd on a private bus and run directory with room
 * for their rings (the kit's supervised bus fixture, bus.h: the test is
 * attached as b->bus; ht_bus_teardown), and the rings of the table `rings`
 * (NULL: none) made on it, up to the entry with a NULL name. In a table
 * entry a capacity of 0 means 1 MiB and a max_msg of 0 means 4096 bytes
 * (the suites' plain ring, HERMES_POLICY_BLOCK unless the entry says). */
void ht_br_bus_start(ht_bus *b, const char *tag, const hermes_ring_config *rings);

/* The bridge fixture: after ht_br_bus_start (and whatever files the suite
 * writes into the run directory), ht_br_fixture_bridge starts the
 * suite's bridge, ht_br_bridge_start(b, &bus->d, "bridge", extra), and
 * remembers both. ht_br_fixture_teardown, the suite's cmocka teardown, stops
 * the bridge (it must exit 0), then tears the bus down (ht_bus_teardown:
 * hermesd must exit 0, and the test must have closed its handles); it does
 * nothing when no fixture was started. */
void ht_br_fixture_bridge(ht_bus *bus, ht_br_bridge *b, const char *const *extra);
int ht_br_fixture_teardown(void **state);
/* Both in one: ht_br_bus_start(bus, tag, rings), ht_br_fixture_bridge(bus, b,
 * extra). Returns 0, for a cmocka set-up to return. */
int ht_br_fixture(ht_bus *bus, const char *tag, const hermes_ring_config *rings, ht_br_bridge *b,
		  const char *const *extra);

/* Start hermes-bridge --bus d->bus --listen 127.0.0.1:0 --stats-dir
 * d->run_dir --state-dir d->run_dir plus extra (NULL-terminated), and
 * --allow-anonymous unless extra has --auth (or ht_br_no_anonymous is set);
 * log in d->run_dir/<tag>.log; wait (10 s) for its READY=1 and read the
 * port from its STATUS. */
extern bool ht_br_no_anonymous;
/* Non-zero: the RLIMIT_NOFILE (soft and hard) bridges are started with. */
extern unsigned ht_br_child_nofile;
void ht_br_bridge_start(ht_br_bridge *b, const ht_daemon *d, const char *tag, const char *const *extra);
/* The same, listening on listen (NULL: 127.0.0.1:0), run inside network
 * namespace netns (NULL: this one) with `ip netns exec`. */
void ht_br_bridge_start_ns(ht_br_bridge *b, const ht_daemon *d, const char *tag, const char *netns,
			const char *listen, const char *const *extra);
/* Run hermes-bridge with args (argv[0] added) to completion; its exit
 * status, or -1. Output goes to log. */
int ht_br_bridge_run(const char *log, const char *const *args, int timeout_ms);
/* hermes-bridge keygen NAME [opts...] --out DIR/NAME.key (DIR: d's run
 * directory; the path into path), its output in DIR/keygen-NAME.log; its
 * exit status. */
int ht_br_keygen(const ht_daemon *d, const char *name, const char *const *opts, char *path,
	      size_t len);
/* SIGTERM, wait (10 s), fail unless it exits 0. */
void ht_br_bridge_stop(ht_br_bridge *b);
/* Is the bridge still running? */
bool ht_br_bridge_alive(ht_br_bridge *b);

/* For suites whose every test needs libsodium (authentication,
 * encryption): without it, say so and exit 77, so that ctest counts the
 * suite as skipped and neither the tests nor their set-up check for it. */
void ht_br_require_sodium(void);

/* Resident set size and CPU time (user+system) of a process. RssAnon is
 * the private part (heap, buffers), without the bus pages it mapped. */
long ht_br_rss_kb(pid_t pid);
long ht_br_rss_anon_kb(pid_t pid);
uint64_t ht_br_cpu_ns(pid_t pid);

/* Connect with default options and a short timeout; fails the test. */
hermes_net *ht_br_connect(const ht_br_bridge *b);

/* Raw TCP clients, for malformed input and byte-level checks. */
int ht_br_raw_connect(const ht_br_bridge *b);
/* Send all of len bytes (fails the test on error unless tolerate). */
bool ht_br_raw_send(int fd, const void *p, size_t len, bool tolerate);
/* Read until the peer closes or the deadline passes; returns the bytes
 * read (at most cap) and sets *eof when the peer closed. */
size_t ht_br_raw_drain(int fd, uint8_t *buf, size_t cap, int timeout_ms, bool *eof);
/* The first ERROR frame in bytes (as a client decodes them): its code and
 * fatal mark; false if there is none. */
bool ht_br_find_error(const uint8_t *bytes, size_t len, hermes_err *code, bool *fatal);
/* A HELLO frame (identity may be ""), appended to enc. */
void ht_br_encode_hello(hermes_encoder *enc, const char *identity, uint32_t features);
/* A raw connection that has sent HELLO (identity may be ""); nothing read. */
int ht_br_raw_hello(const ht_br_bridge *b, const char *identity, uint32_t features);
/* A clear anonymous session on a raw connection: HELLO offering features,
 * then the WELCOME must come (fails the test otherwise); the features it
 * granted in *granted (may be NULL). */
int ht_br_raw_session(const ht_br_bridge *b, uint32_t features, uint32_t *granted);
/* The bridge's answer up to its close: read (5 s deadline) and fail the
 * test unless the bridge closed the connection; the bytes read (at most
 * cap). The caller closes fd. */
size_t ht_br_raw_answer(int fd, uint8_t *buf, size_t cap);
/* bytes hold an ERROR frame with this code (fails the test otherwise);
 * returns its fatal mark. */
bool ht_br_expect_error(const uint8_t *bytes, size_t len, hermes_err code);
/* Do bytes hold a frame of this type (with this sequence, unless seq is
 * NULL)? */
bool ht_br_has_frame(const uint8_t *bytes, size_t len, uint8_t type, const uint64_t *seq);

/* Frames read and written byte by byte, as a client without the library
 * would: for malformed input and checks of the exact wire form. */
typedef struct ht_br_frame {
	uint8_t type;
	uint16_t flags;
	uint32_t channel;
	uint64_t seq;
	uint32_t len;
	uint8_t payload[2048];
} ht_br_frame;
/* Send one frame: header (this protocol version) and len bytes of payload. */
void ht_br_send_frame(int fd, uint8_t type, uint16_t flags, uint32_t channel, uint64_t seq,
		   const void *payload, uint32_t len);
/* BIND ring to channel ch; SUBSCRIBE id to ring from start (seq: where
 * start is HERMES_WIRE_START_AT). Nothing is read. */
void ht_br_send_bind(int fd, uint32_t ch, const char *ring);
void ht_br_send_subscribe(int fd, uint32_t id, uint8_t start, uint64_t seq, const char *ring);
/* Read exactly n bytes (fails the test after 10 s); false when the peer
 * closed first. */
bool ht_br_read_exact(int fd, uint8_t *p, size_t n);
/* The next frame, its header bytes copied to raw (if not NULL); false when
 * the bridge closed the connection. Fails on a payload over 2048 bytes. */
bool ht_br_next_frame(int fd, ht_br_frame *f, uint8_t *raw);
/* The next frame must be of this type on this channel (fails the test,
 * quoting an ERROR frame's code and text, otherwise). */
void ht_br_expect_frame(int fd, uint8_t type, uint32_t channel, ht_br_frame *f);

/* Raise RLIMIT_NOFILE to at least n (up to the hard limit). */
void ht_br_raise_nofile(unsigned n);

/* A TCP relay on loopback, for a test that stands between a client and a
 * server (a capture, a man in the middle): a thread listens on a port of
 * its own and carries each connection, one at a time, to the target port
 * on 127.0.0.1, both ways, passing a half-close on, until both sides have
 * closed. A connection that comes while target is 0 is closed at once; the
 * test may set target later. With a capture size, the first `max` bytes
 * carried (both ways, as they come) are kept in cap (len of them; the test
 * frees cap). */
typedef struct ht_br_relay {
	int lfd, port;
	atomic_int target;
	atomic_bool stop;
	uint8_t *cap;
	size_t len, max;
	pthread_t thread;
} ht_br_relay;

/* Listen (port set on return) and start the thread; capture 0: none. */
void ht_br_relay_start(ht_br_relay *r, int target, size_t capture);
/* Accept no more; carry the connection in progress on until both sides
 * have closed (10 s deadline), then join the thread and close the port. */
void ht_br_relay_stop(ht_br_relay *r);

#endif
