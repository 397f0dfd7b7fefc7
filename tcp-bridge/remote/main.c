/* hermes-remote: a remote producer and consumer through hermes-bridge, using
 * only the public client API (<hermes/net.h>). For demos and quick checks:
 *
 *   hermes-remote --connect 127.0.0.1:7400 --ring events            round trips
 *   hermes-remote --connect 127.0.0.1:7400 --ring events --stream   throughput
 *   hermes-remote ... --publish N      publish N messages (acked), then exit
 *   hermes-remote ... --subscribe N    print N messages received, then exit
 *
 * Round trips: the client subscribes to the ring and publishes into it; each
 * message goes client -> bridge -> ring -> bridge -> client, and the time is
 * taken when it comes back. Prints percentiles. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hermes/hermes.h>
#include <hermes/net.h>

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

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hermes-remote [--connect HOST:PORT] [--ring RING] [options]\n"
		"\n"
		"  -c, --connect HOST:PORT  the bridge (default 127.0.0.1:7400)\n"
		"  -r, --ring RING          ring to use (default events)\n"
		"  -n, --count N            messages (default 100000 round trips)\n"
		"  -s, --size BYTES         message size (default 64)\n"
		"      --stream             throughput: publish N without waiting, receive them back\n"
		"      --publish N          only publish N messages with acks\n"
		"      --subscribe N        only receive N messages (from now on) and print them\n"
		"      --identity NAME      authenticate as NAME ($HERMES_NET_IDENTITY)\n"
		"      --key FILE           with this key file ($HERMES_NET_KEY_FILE)\n"
		"      --encrypt            encrypt the session\n"
		"  -h, --help\n");
}

static int fail(const char *what, hermes_err err)
{
	fprintf(stderr, "hermes-remote: %s: %s (%s)\n", what, hermes_strerror(err),
		hermes_last_error_detail());
	return 1;
}

enum { MODE_ROUND_TRIPS, MODE_STREAM, MODE_PUBLISH, MODE_SUBSCRIBE };
#define HELP_SHOWN (-1) /* parse_args: --help printed; exit 0 */

/* What the command line asks for. */
struct args {
	const char *addr, *ring;
	uint64_t count;
	size_t size;
	int mode;
	hermes_net_options opt;
};

/* 0: run; HELP_SHOWN; or the exit status of a usage error. */
static int parse_args(int argc, char **argv, struct args *a)
{
	enum { O_STREAM = 256, O_PUBLISH, O_SUBSCRIBE, O_IDENTITY, O_KEY, O_ENCRYPT };
	static const struct option opts[] = {
		{"connect", required_argument, NULL, 'c'}, {"ring", required_argument, NULL, 'r'},
		{"count", required_argument, NULL, 'n'},   {"size", required_argument, NULL, 's'},
		{"stream", no_argument, NULL, O_STREAM},   {"publish", required_argument, NULL, O_PUBLISH},
		{"subscribe", required_argument, NULL, O_SUBSCRIBE},
		{"identity", required_argument, NULL, O_IDENTITY},
		{"key", required_argument, NULL, O_KEY},   {"encrypt", no_argument, NULL, O_ENCRYPT},
		{"help", no_argument, NULL, 'h'},	   {0},
	};
	*a = (struct args){.addr = "127.0.0.1:7400", .ring = "events", .count = 100000, .size = 64};
	hermes_net_options_init(&a->opt);
	int o;
	while ((o = getopt_long(argc, argv, "c:r:n:s:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c': a->addr = optarg; break;
		case 'r': a->ring = optarg; break;
		case 'n': a->count = strtoull(optarg, NULL, 10); break;
		case 's': a->size = strtoul(optarg, NULL, 10); break;
		case O_STREAM: a->mode = MODE_STREAM; break;
		case O_PUBLISH: a->mode = MODE_PUBLISH; a->count = strtoull(optarg, NULL, 10); break;
		case O_SUBSCRIBE: a->mode = MODE_SUBSCRIBE; a->count = strtoull(optarg, NULL, 10); break;
		case O_IDENTITY: a->opt.identity = optarg; break;
		case O_KEY: a->opt.key_file = optarg; break;
		case O_ENCRYPT: a->opt.encrypt = 1; break;
		case 'h': usage(stdout); return HELP_SHOWN;
		default: usage(stderr); return 2;
		}
	}
	if (a->count == 0 || a->size < 8 || a->size > 1u << 20) {
		usage(stderr);
		return 2;
	}
	return 0;
}

/* Each message published, then waited for until it comes back; prints the
 * percentiles of the round trips. */
static int round_trips(hermes_net *n, uint32_t ch, uint8_t *msg, const struct args *a)
{
	uint64_t *rtt = calloc(a->count, sizeof *rtt);
	if (!rtt)
		return fail("memory", HERMES_ENOMEM);
	hermes_net_event ev;
	hermes_err err;
	for (uint64_t i = 0; i < a->count; i++) {
		uint64_t t = now_ns();
		memcpy(msg, &t, 8);
		if ((err = hermes_net_publish(n, ch, msg, a->size, HERMES_NET_PUB_FLUSH, NULL)))
			return fail("publish", err);
		for (;;) {
			if ((err = hermes_net_poll(n, &ev, 5000000000ll)))
				return fail("receive", err);
			if (ev.type == HERMES_NET_MESSAGE && ev.len >= 8 && !memcmp(ev.data, &t, 8))
				break;
		}
		rtt[i] = now_ns() - t;
	}
	uint64_t count = a->count;
	qsort(rtt, count, sizeof *rtt, cmp_u64);
	printf("%llu round trips of %zu bytes through the bridge (ns): p50 %llu  p90 %llu  "
	       "p99 %llu  p99.9 %llu  max %llu\n",
	       (unsigned long long)count, a->size, (unsigned long long)rtt[count / 2],
	       (unsigned long long)rtt[count * 9 / 10], (unsigned long long)rtt[count * 99 / 100],
	       (unsigned long long)rtt[count * 999 / 1000], (unsigned long long)rtt[count - 1]);
	free(rtt);
	return 0;
}

struct tally {
	uint64_t got, acks, lost;
};

static void count_event(struct tally *t, const hermes_net_event *ev)
{
	t->got += ev->type == HERMES_NET_MESSAGE;
	t->acks += ev->type == HERMES_NET_ACK;
	t->lost += ev->type == HERMES_NET_LOSS ? ev->value : 0;
}

/* --stream (messages come back) or --publish (acks come back). */
static int stream(hermes_net *n, uint32_t ch, uint8_t *msg, const struct args *a)
{
	bool acked = a->mode == MODE_PUBLISH;
	uint64_t t0 = now_ns(), count = a->count;
	struct tally t = {0};
	hermes_net_event ev;
	hermes_err err;
	for (uint64_t i = 0; i < count; i++) {
		memcpy(msg, &i, 8);
		if ((err = hermes_net_publish(n, ch, msg, a->size, acked ? HERMES_NET_PUB_ACK : 0,
					      NULL)))
			return fail("publish", err);
		/* Take what has come back (without waiting) every so often. */
		while ((i & 1023) == 1023 && hermes_net_poll(n, &ev, 0) == HERMES_OK)
			count_event(&t, &ev);
	}
	while ((acked ? t.acks : t.got + t.lost) < count) {
		if ((err = hermes_net_poll(n, &ev, 5000000000ll)))
			return fail("receive", err);
		count_event(&t, &ev);
	}
	double secs = (double)(now_ns() - t0) / 1e9;
	if (!acked)
		printf("streamed %llu messages of %zu bytes out and back in %.2f s: %.2f M msgs/s "
		       "each way%s\n",
		       (unsigned long long)count, a->size, secs, (double)count / secs / 1e6,
		       t.lost ? " (some reported lost)" : "");
	else
		printf("published %llu messages of %zu bytes, all acked, in %.2f s (%.2f M "
		       "msgs/s)\n",
		       (unsigned long long)count, a->size, secs, (double)count / secs / 1e6);
	return 0;
}

/* --subscribe: print what arrives until count messages came. */
static int print_messages(hermes_net *n, uint64_t count)
{
	hermes_net_event ev;
	hermes_err err;
	for (uint64_t got = 0; got < count;) {
		if ((err = hermes_net_poll(n, &ev, -1)))
			return fail("receive", err);
		if (ev.type == HERMES_NET_MESSAGE) {
			printf("seq %llu: %u bytes\n", (unsigned long long)ev.seq, ev.len);
			got++;
		} else if (ev.type == HERMES_NET_LOSS) {
			printf("lost %llu messages\n", (unsigned long long)ev.value);
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct args a;
	int rc = parse_args(argc, argv, &a);
	if (rc)
		return rc == HELP_SHOWN ? 0 : rc;
	hermes_net *n;
	hermes_err err = hermes_net_connect(a.addr, &a.opt, &n);
	if (err)
		return fail("connect", err);
	printf("connected to %s (%s)%s\n", a.addr, hermes_net_server_name(n),
	       hermes_net_features(n) & HERMES_FEATURE_ENCRYPT ? ", encrypted" : "");
	uint32_t ch = 0, sub = 0;
	hermes_net_ring_info info;
	if (a.mode != MODE_PUBLISH &&
	    (err = hermes_net_subscribe(n, a.ring, HERMES_START_LATEST, 0, 5000000000ll, &sub,
					&info)))
		return fail("subscribe", err);
	if (a.mode != MODE_SUBSCRIBE && (err = hermes_net_bind(n, a.ring, 5000000000ll, &ch, NULL)))
		return fail("bind", err);
	uint8_t *msg = calloc(1, a.size);
	if (!msg)
		return fail("memory", HERMES_ENOMEM);
	if (a.mode == MODE_ROUND_TRIPS)
		rc = round_trips(n, ch, msg, &a);
	else if (a.mode == MODE_SUBSCRIBE)
		rc = print_messages(n, a.count);
	else
		rc = stream(n, ch, msg, &a);
	if (rc)
		return rc;
	hermes_net_close(n);
	free(msg);
	return 0;
}
