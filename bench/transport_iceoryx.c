/* iceoryx through its C binding, with the bench's own iox-roudi.
 *
 * The coordinator starts iox-roudi once (with a config whose one memory pool
 * fits --size messages) and stops it at the end; it never initialises an
 * iceoryx runtime itself, since that does not survive fork. Each worker
 * registers its own runtime with a unique name.
 *
 * Latency: a publisher/subscriber pair each way ("ping", "pong"); the echo
 * side copies each ping into a loaned pong chunk, as the Hermes echo copies
 * between rings. spin: busy-poll iox_sub_take_chunk; block: a WaitSet on
 * the subscriber's HAS_DATA state. Throughput (1->1): loan, write, publish
 * per message; the publisher waits for a slow subscriber and the
 * subscriber's queue blocks the producer when full (no loss), as a Hermes
 * block ring does.
 */
#include "bench_loops.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_ICEORYX

#include <iceoryx_binding_c/enums.h>
#include <iceoryx_binding_c/log.h>
#include <iceoryx_binding_c/publisher.h>
#include <iceoryx_binding_c/runtime.h>
#include <iceoryx_binding_c/subscriber.h>
#include <iceoryx_binding_c/wait_set.h>

/* The subscriber queue: iceoryx's largest. */
#define IOX_QUEUE 256u

static pid_t g_roudi = -1;
static char g_instance[64];

/* One memory pool whose chunks hold a --size message and iceoryx's chunk
 * header; count bounded so the segment stays below 128 MiB. */
static int write_roudi_config(const char *path, uint32_t size)
{
	FILE *f = fopen(path, "we");
	if (!f) {
		say_error("%s: %s", path, strerror(errno));
		return -1;
	}
	uint64_t chunk = ((uint64_t)size + 128u + 63u) & ~UINT64_C(63);
	uint64_t count = (128u << 20) / chunk;
	if (count > 20000)
		count = 20000;
	if (count < 1024)
		count = 1024;
	fprintf(f,
		"[general]\nversion = 1\n\n[[segment]]\n\n[[segment.mempool]]\nsize = %llu\n"
		"count = %llu\n",
		(unsigned long long)chunk, (unsigned long long)count);
	return fclose(f) == 0 ? 0 : -1;
}

/* A server_await test: has RouDi written to its log (path) that it is
 * ready? */
static bool roudi_ready(const void *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	char line[512];
	bool found = false;
	while (!found && fgets(line, sizeof line, f))
		found = strstr(line, "RouDi is ready for clients") != NULL;
	fclose(f);
	return found;
}

/* The last line of a log that is not empty (it says why RouDi stopped),
 * without its newline; "" when there is none. */
static void log_last_line(const char *path, char *out, size_t len)
{
	out[0] = '\0';
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	char line[200];
	while (fgets(line, sizeof line, f))
		if (line[0] && line[0] != '\n')
			snprintf(out, len, "%s", line);
	fclose(f);
	out[strcspn(out, "\n")] = '\0';
}

static int iox_open(const bench_opts *o, char *why, size_t len)
{
	char roudi[512];
	if (find_executable("iox-roudi", roudi, sizeof roudi) != 0) {
		snprintf(why, len, "skipped: iox-roudi not found (install the iceoryx package)");
		return -1;
	}
	char cfg[256], log[256];
	snprintf(cfg, sizeof cfg, "%s/roudi.toml", bench_tmpdir());
	snprintf(log, sizeof log, "%s/roudi.log", bench_tmpdir());
	if (write_roudi_config(cfg, o->size) != 0) {
		snprintf(why, len, "skipped: could not write the RouDi config");
		return -1;
	}
	/* Monitoring stays on: a worker the bench had to kill is then
	 * forgotten by RouDi, which would otherwise signal its (by then
	 * possibly reused) pid when it shuts down. */
	char *argv[] = {roudi, "-c", cfg, "-m", "on", "-l", "info", NULL};
	g_roudi = server_spawn(roudi, argv, log);
	if (g_roudi < 0) {
		snprintf(why, len, "skipped: could not start iox-roudi");
		return -1;
	}
	if (server_await(g_roudi, roudi_ready, log) != 0) {
		g_roudi = -1;
		char reason[200];
		log_last_line(log, reason, sizeof reason);
		snprintf(why, len, "skipped: iox-roudi did not start (another RouDi running?)%s%s",
			 reason[0] ? ": " : "", reason);
		return -1;
	}
	snprintf(g_instance, sizeof g_instance, "hb%d", (int)getpid());
	return 0;
}

static void iox_close(void)
{
	server_stop(g_roudi, SERVER_STOP_MS);
	g_roudi = -1;
}

/* A measurement's state: the event name of its topics. */
static int iox_state_new(void **state)
{
	return job_name_new(state, "m");
}

/* One worker's ports. */
typedef struct iend {
	iox_pub_storage_t pub_store;
	iox_sub_storage_t sub_store;
	iox_ws_storage_t ws_store;
	iox_pub_t pub;
	iox_sub_t sub;
	iox_ws_t ws;
	const void *held; /* the chunk taken and not yet released */
	uint32_t size;
	void *claimed;
	const char *label;
} iend;

static void iox_runtime_start(const char *role, unsigned index)
{
	char name[96];
	iox_set_loglevel(Iceoryx_LogLevel_Warn);
	snprintf(name, sizeof name, "%s-%s%u-%d", g_instance, role, index, (int)getpid());
	iox_runtime_init(name);
}

static int iend_open(iend *e, const char *event, const char *in, const char *out, bool wait,
		     uint32_t size, const char *label)
{
	memset(e, 0, sizeof *e);
	e->size = size;
	e->label = label;
	char topic_in[64], topic_out[64];
	snprintf(topic_in, sizeof topic_in, "%s-%s", event, in ? in : "");
	snprintf(topic_out, sizeof topic_out, "%s-%s", event, out ? out : "");
	if (in) {
		iox_sub_options_t so;
		iox_sub_options_init(&so);
		so.queueCapacity = IOX_QUEUE;
		so.historyRequest = 0;
		so.queueFullPolicy = QueueFullPolicy_BLOCK_PRODUCER;
		e->sub = iox_sub_init(&e->sub_store, "hermes-bench", g_instance, topic_in, &so);
	}
	if (out) {
		iox_pub_options_t po;
		iox_pub_options_init(&po);
		po.historyCapacity = 0;
		po.subscriberTooSlowPolicy = ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER;
		e->pub = iox_pub_init(&e->pub_store, "hermes-bench", g_instance, topic_out, &po);
	}
	if ((in && !e->sub) || (out && !e->pub)) {
		say_error("%s: %s failed", label, in && !e->sub ? "iox_sub_init" : "iox_pub_init");
		return -1;
	}
	if (in && wait) {
		e->ws = iox_ws_init(&e->ws_store);
		if (!e->ws || iox_ws_attach_subscriber_state(e->ws, e->sub, SubscriberState_HAS_DATA,
							    0, NULL) != WaitSetResult_SUCCESS) {
			say_error("%s: iceoryx WaitSet set-up failed", label);
			return -1;
		}
	}
	return 0;
}

/* Wait until our subscriber is connected to a publisher and our publisher
 * has a subscriber (as asked), which RouDi arranges asynchronously. */
static int iend_connected(iend *e, bool need_sub, bool need_pub)
{
	uint64_t deadline = now_ns() + 2 * PEER_TIMEOUT_NS;
	for (;;) {
		bool ok = (!need_sub || iox_sub_get_subscription_state(e->sub) ==
						SubscribeState_SUBSCRIBED) &&
			  (!need_pub || iox_pub_has_subscribers(e->pub));
		if (ok)
			return 0;
		if (worker_stopping() || now_ns() >= deadline) {
			if (!worker_stopping())
				say_error("%s: iceoryx ports did not connect", e->label);
			return -1;
		}
		sleep_ns(POLL_NS);
	}
}

static void iend_close(iend *e)
{
	if (e->held && e->sub)
		iox_sub_release_chunk(e->sub, e->held);
	if (e->ws) {
		if (e->sub)
			iox_ws_detach_subscriber_state(e->ws, e->sub, SubscriberState_HAS_DATA);
		iox_ws_deinit(e->ws);
	}
	if (e->sub)
		iox_sub_deinit(e->sub);
	if (e->pub)
		iox_pub_deinit(e->pub);
	iox_runtime_shutdown();
}

/* ---- latency ---- */

static int il_send(void *vc, const void *src, uint32_t len)
{
	iend *e = vc;
	void *chunk;
	enum iox_AllocationResult r = iox_pub_loan_chunk(e->pub, &chunk, len);
	if (r == AllocationResult_RUNNING_OUT_OF_CHUNKS)
		return 0;
	if (r != AllocationResult_SUCCESS) {
		say_error("%s: iox_pub_loan_chunk failed (%d)", e->label, (int)r);
		return -1;
	}
	memcpy(chunk, src, len);
	iox_pub_publish_chunk(e->pub, chunk);
	return 1;
}

static int il_peek(void *vc, const void **data, uint32_t *len)
{
	iend *e = vc;
	const void *chunk;
	enum iox_ChunkReceiveResult r = iox_sub_take_chunk(e->sub, &chunk);
	if (r == ChunkReceiveResult_NO_CHUNK_AVAILABLE)
		return 0;
	if (r != ChunkReceiveResult_SUCCESS) {
		say_error("%s: iox_sub_take_chunk failed (%d)", e->label, (int)r);
		return -1;
	}
	e->held = chunk;
	*data = chunk;
	*len = e->size; /* fixed-size messages */
	return 1;
}

static void il_done(void *vc)
{
	iend *e = vc;
	iox_sub_release_chunk(e->sub, e->held);
	e->held = NULL;
}

static int il_sleep(void *vc, uint64_t until)
{
	iend *e = vc;
	uint64_t now = now_ns();
	uint64_t left = until > now ? until - now : 0;
	struct timespec ts = {(time_t)(left / NS_PER_S), (long)(left % NS_PER_S)};
	iox_notification_info_t info[1];
	uint64_t missed = 0;
	iox_ws_timed_wait(e->ws, ts, info, 1, &missed);
	return 0;
}

static const lat_ops iox_lat_spin_ops = {il_send, il_peek, il_done, NULL};
static const lat_ops iox_lat_block_ops = {il_send, il_peek, il_done, il_sleep};

static int iox_lat_side(lat_job *j, bool pinging, hm_hist *h)
{
	iend e;
	int rc = -1;
	bool block = j->wait != W_SPIN;
	iox_runtime_start(pinging ? "ping" : "echo", 0);
	if (iend_open(&e, j->state, pinging ? "pong" : "ping", pinging ? "ping" : "pong", block,
		      j->size, j->label) != 0)
		goto out;
	/* The echo side is started first and cannot see the ping side's
	 * ports yet; the ping side waits for both directions. */
	if (pinging && iend_connected(&e, true, true) != 0)
		goto out;
	rc = block ? lat_side_run(&iox_lat_block_ops, &e, j, pinging, true, h)
		   : lat_side_run(&iox_lat_spin_ops, &e, j, pinging, false, h);
out:
	iend_close(&e);
	return rc;
}

/* ---- throughput ---- */

static int it_claim(void *vc, uint32_t n, uint32_t len, void **ptrs)
{
	iend *e = vc;
	(void)n; /* no batch API: always 1 */
	enum iox_AllocationResult r = iox_pub_loan_chunk(e->pub, &e->claimed, len);
	if (r == AllocationResult_RUNNING_OUT_OF_CHUNKS)
		return 0;
	if (r != AllocationResult_SUCCESS) {
		say_error("%s: iox_pub_loan_chunk failed (%d)", e->label, (int)r);
		return -1;
	}
	ptrs[0] = e->claimed;
	return 1;
}

static int it_commit(void *vc)
{
	iend *e = vc;
	iox_pub_publish_chunk(e->pub, e->claimed);
	return 0;
}

static int it_drain(void *vc, unsigned max, tp_check *chk, unsigned *got)
{
	iend *e = vc;
	unsigned n = 0;
	while (n < max) {
		const void *chunk;
		enum iox_ChunkReceiveResult r = iox_sub_take_chunk(e->sub, &chunk);
		if (r == ChunkReceiveResult_NO_CHUNK_AVAILABLE)
			break;
		if (r != ChunkReceiveResult_SUCCESS) {
			say_error("%s: iox_sub_take_chunk failed (%d)", e->label, (int)r);
			return -1;
		}
		tp_check_msg(chk, chunk, e->size);
		iox_sub_release_chunk(e->sub, chunk);
		n++;
	}
	*got = n;
	return 0;
}

static const tp_ops iox_tp_ops = {it_claim, it_commit, it_drain};

/* The producer publishes "tp" once it has its subscriber; the consumer
 * subscribes to it. */
static int iox_tp_side(tp_job *j, unsigned index, bool producing)
{
	iend e;
	int rc = -1;
	iox_runtime_start(producing ? "producer" : "consumer", index);
	if (iend_open(&e, j->state, producing ? NULL : "tp", producing ? "tp" : NULL, false,
		      j->size, j->label) == 0 &&
	    (!producing || iend_connected(&e, false, true) == 0) && worker_ready() == 0)
		rc = producing ? tp_produce(&iox_tp_ops, &e, j, index)
			       : tp_consume(&iox_tp_ops, &e, j, index, false);
	iend_close(&e);
	return rc;
}

static int iox_tp_produce(tp_job *j, unsigned index)
{
	return iox_tp_side(j, index, true);
}

static int iox_tp_consume(tp_job *j, unsigned index)
{
	return iox_tp_side(j, index, false);
}

#define IOX_HOOKS                                                                               \
	.open = iox_open, .close = iox_close, .waits = (1u << W_SPIN) | (1u << W_BLOCK),          \
	.topos = 1u << TOPO_1_1, .state_new = iox_state_new, .lat_side = iox_lat_side,            \
	.tp_produce = iox_tp_produce, .tp_consume = iox_tp_consume

#else /* !HAVE_ICEORYX */

#define IOX_HOOKS                                                                               \
	.missing = "skipped: built without iceoryx_binding_c (install iceoryx and "               \
		   "libiceoryx-binding-c-dev, rebuild)"

#endif

const transport transport_iceoryx = {
	.name = "iceoryx",
	.about = "iceoryx 2 C binding, bench-started iox-roudi: loan/publish, take/release; "
		 "block = WaitSet",
	IOX_HOOKS,
};
