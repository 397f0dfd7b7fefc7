/* The hermes-nats suites' part of the test kit: nats-server processes on
 * loopback (single, JetStream, clusters), hermes-nats processes (both
 * started and stopped through process.h), buses under hermesd (daemon.h),
 * the uplink's state file, producer/consumer threads that check what
 * crossed over, and the pair fixture that puts them together.
 *
 * Every process is started by the test and stopped or killed by its pid;
 * every wait has a deadline. Servers, buses and uplinks must be static
 * objects of the test: they are registered, and ht_nats_teardown (the tests'
 * cmocka teardown) cleans up whatever a failed test left. */
#ifndef HM_NATS_TEST_NATS_HARNESS_H
#define HM_NATS_TEST_NATS_HARNESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <hermes/bus.h>

#include "nats-uplink/uplink.h"
#include "tests/support/daemon.h"

/* cmocka teardown: kill and remove whatever the test started and did not
 * clean up itself (it failed half-way). */
int ht_nats_teardown(void **state);

/* The nats-server binary, or NULL when it is not installed. */
const char *ht_nats_nats_server_path(void);

/* The uplink suites' cmocka group setup: exit 77 (skipped) with a message
 * when nats-server is missing; stdout line-buffered, so the tests' "# "
 * report lines come out in order with cmocka's. */
int ht_nats_group_setup(void **state);

/* A free TCP port on 127.0.0.1 (bound to port 0, then released). */
int ht_nats_free_port(void);

typedef struct ht_nats_server {
	pid_t pid;
	char name[16];
	int port;
	int cluster_port; /* 0: not clustered */
	bool js;
	char dir[128]; /* JetStream store and the log */
	char log[160];
	char routes[256];
	char cluster_name[32];
	const char *user, *pass;
} ht_nats_server;

/* Names, ports and a fresh directory; nothing runs yet. */
void ht_nats_server_init(ht_nats_server *s, const char *name, bool js);

/* Make s1..sN one cluster: cluster ports, and each routes to the others. */
void ht_nats_cluster_init(ht_nats_server *s, unsigned n, const char *cluster_name);

/* Start (or restart, same ports and store) and wait until it accepts
 * connections (10 s deadline). */
void ht_nats_server_start(ht_nats_server *s);

/* SIGTERM and reap / SIGKILL and reap. */
void ht_nats_server_stop(ht_nats_server *s);
void ht_nats_server_kill(ht_nats_server *s);

/* Kill if running and remove the directory. */
void ht_nats_server_cleanup(ht_nats_server *s);

/* "nats://127.0.0.1:PORT" */
void ht_nats_server_url(const ht_nats_server *s, char *buf, size_t len);

/* A Hermes bus run by a real hermesd, with rings from an INI snippet such
 * as "[ring x]\ncapacity = 16M\n". */
typedef struct ht_nats_bus {
	ht_daemon d;
	hermes_bus *bus;
	char state_path[160];
} ht_nats_bus;

void ht_nats_bus_start(ht_nats_bus *b, const char *tag, const char *rings_ini);
void ht_nats_bus_cleanup(ht_nats_bus *b);

/* A hermes-nats process for a bus. */
typedef struct ht_nats_uplink {
	pid_t pid;
	char bus[64];
	char log[192];
	const char *argv[40];
	int argc;
	char store[32][160];
} ht_nats_uplink;

/* Prepare the command line: --bus, the log, then the given arguments
 * (NULL-terminated). */
void ht_nats_uplink_init(ht_nats_uplink *u, const ht_nats_bus *b, const char *const *args);

/* Start; wait (deadline ms) until the state file shows this process with
 * every configured direction running. */
void ht_nats_uplink_start(ht_nats_uplink *u, int deadline_ms);

/* Start without waiting (the server may be down). */
void ht_nats_uplink_spawn(ht_nats_uplink *u);

/* Wait until every configured direction of this uplink is running. */
void ht_nats_uplink_wait_running(ht_nats_uplink *u, int deadline_ms);

void ht_nats_uplink_stop(ht_nats_uplink *u); /* SIGTERM, expect exit status 0 */
void ht_nats_uplink_kill(ht_nats_uplink *u); /* SIGKILL */

/* Anonymous resident memory of a process, in bytes (RssAnon). */
uint64_t ht_nats_rss_anon(pid_t pid);

/* The uplink's state file of a bus (read-only mapping; unmapped at exit). */
const hm_nats_state_header *ht_nats_state(const ht_nats_bus *b);
const hm_nats_ring_state *ht_nats_ring_state(const hm_nats_state_header *h, const char *ring);
#define HT_NATS_LD(f) hm_load_relaxed_u64(&(f))

/* ---- traffic ---- */

/* Producer k publishes `count` messages on ring (ht_traffic format),
 * waiting for room as long as it takes (the ring may be held back on
 * purpose) until stop. rate_per_s 0: as fast as the ring takes them. */
typedef struct ht_nats_producer {
	hermes_bus *bus;
	const char *ring;
	uint32_t k;
	uint64_t count;
	uint64_t rate_per_s;
	bool forever; /* ignore count, produce until stop */
	atomic_uint_fast64_t produced;
	atomic_uint_fast64_t full_waits; /* claims that found the ring full */
	atomic_bool stop;
	hermes_err err;
	pthread_t thread;
} ht_nats_producer;

void ht_nats_producer_start(ht_nats_producer *p);
void ht_nats_producer_join(ht_nats_producer *p);

/* A checking consumer: per producer, messages must come in order with no
 * duplicates; gaps are counted (core mode may lose, and must say so). */
#define HT_NATS_MAX_K 4
typedef struct ht_nats_consumer {
	hermes_bus *bus;
	const char *ring;
	hermes_sub *sub;
	atomic_uint_fast64_t received[HT_NATS_MAX_K];
	atomic_uint_fast64_t missing[HT_NATS_MAX_K]; /* counters skipped */
	atomic_uint_fast64_t bad;		 /* duplicates, reorders, corrupt */
	atomic_uint_fast64_t total;
	int64_t next[HT_NATS_MAX_K];		 /* -1: nothing yet */
	atomic_int_fast64_t first[HT_NATS_MAX_K];	 /* first counter seen, -1: none */
	char first_error[200];
	atomic_bool stop;
	pthread_t thread;
} ht_nats_consumer;

/* Opens the subscription (earliest) before returning. */
void ht_nats_consumer_start(ht_nats_consumer *c, hermes_bus *bus, const char *ring);
void ht_nats_consumer_join(ht_nats_consumer *c);

/* Wait until cond(arg) or the deadline; false at the deadline. */
bool ht_nats_wait_until(bool (*cond)(void *), void *arg, int deadline_ms);

/* Conditions for ht_nats_wait_until. ht_nats_reached: want of producer k's messages
 * reached consumer c (with rs, core mode: received plus the losses the uplink
 * counted on that ring plus the lead it skipped), or c saw a bad message. */
typedef struct ht_nats_progress {
	ht_nats_consumer *c;
	unsigned k;
	uint64_t want;
	const hm_nats_ring_state *rs;
} ht_nats_progress;
bool ht_nats_reached(void *arg);

/* The pair fixture, the usual shape of an uplink test: one nats-server,
 * buses a and b with the same rings, an uplink on each, and traffic between
 * them. Like every harness object it must be a static object of the test. */
typedef struct ht_nats_pair {
	ht_nats_server s;
	char url[64]; /* s's URL once started */
	ht_nats_bus a, b;
	ht_nats_uplink ua, ub;
	ht_nats_consumer ca, cb;
	ht_nats_producer pa, pb;
	const hm_nats_state_header *ha, *hb; /* the uplinks' state files, once mapped */
} ht_nats_pair;

/* Server s (initialised by ht_nats_server_init, credentials set if any)
 * started, buses a and b (tags <tag>a and <tag>b) started with rings_ini. */
void ht_nats_pair_start(ht_nats_pair *p, const char *tag, const char *rings_ini);
/* Both steps for a server without credentials: ht_nats_server_init(&p->s,
 * name, js), then ht_nats_pair_start(p, name, rings_ini). */
void ht_nats_pair_begin(ht_nats_pair *p, const char *name, bool js, const char *rings_ini);

/* Buses a and b alone (for a server the test runs itself, e.g. a cluster). */
void ht_nats_pair_buses(ht_nats_pair *p, const char *tag, const char *rings_ini);

/* Uplinks ua (arguments args_a) and ub (args_b) started, ub first so that
 * the receiving side is subscribed before the sending side sends; each
 * waits deadline_ms until every configured direction runs. */
/* ha and hb: the state files of both uplinks (ht_nats_state), unmapped by
 * ht_nats_pair_stop. */
void ht_nats_pair_states(ht_nats_pair *p);
void ht_nats_pair_uplinks(ht_nats_pair *p, const char *const *args_a, const char *const *args_b,
		      int deadline_ms);

/* Traffic on ring: producer 0 sends n messages on bus a (rate_per_s 0: as
 * fast as the ring takes them) to consumer cb on bus b; both_ways: also
 * producer 1 on bus b, and consumer ca on bus a. The consumers subscribe
 * before the producers start. */
void ht_nats_pair_traffic(ht_nats_pair *p, const char *ring, uint64_t n, uint64_t rate_per_s,
		      bool both_ways);

/* Both ways: wait (deadline_ms each) until each consumer has all n messages
 * of both producers; false if one did not get there. */
bool ht_nats_pair_wait_crossed(ht_nats_pair *p, uint64_t n, int deadline_ms);

/* The end of traffic both ways: both producers joined; wait (deadline_ms
 * each) until each consumer has all n messages of both producers; then
 * quiet_ms in which neither consumer may receive anything more (else
 * something came back or circulated); both consumers joined and the state
 * files mapped (ht_nats_pair_states). */
typedef struct ht_nats_drained {
	bool crossed;	     /* each consumer got all n of both in time */
	uint64_t crossed_ns; /* when that wait ended (ht_now_ns) */
	bool more;	     /* something arrived during the quiet time */
} ht_nats_drained;
ht_nats_drained ht_nats_pair_drain(ht_nats_pair *p, uint64_t n, int deadline_ms, int quiet_ms);

/* Both ways, exactly once: no bad message on either bus (the first one is
 * the failure message), and each bus holds n of each producer, none
 * missing, 2n in all. */
void ht_nats_pair_expect_exact(ht_nats_pair *p, uint64_t n);

/* Stop both uplinks (each must exit 0), remove both buses, stop the server. */
void ht_nats_pair_stop(ht_nats_pair *p);

/* Seconds from the environment variable, else the default. */
double ht_nats_env_seconds(const char *name, double dflt);

#endif
