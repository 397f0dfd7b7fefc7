/* The commands that act on a bus: tail (subscribe and print), pub (publish),
 * create and delete (through hermesd). They attach read-write with the
 * public API, exactly as an application would. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include <hermes/net.h>
#include <hermes/replay.h>

#include "shm/control.h"
#include "tcp-bridge/client/auth.h"
#include "core/error_detail.h"
#include "core/futex.h"
#include "core/proc.h"
#include "core/units.h"
#include "journal/journal.h"
#include "shm/ring.h"
#include "shm/segment.h"
#include "tools/ctl.h"
#include "tools/ctl_fmt.h"

#define TAIL_WAIT_NS 200000000 /* how often tail looks at the stop flag */
#define DEFAULT_PUB_TIMEOUT_MS 5000u
#define MAX_TIMEOUT_MS 86400000u
#define REMOTE_ANSWER_NS 5000000000ll /* a bridge's answer to bind or subscribe */
#define RING_REQUEST_MS 5000          /* hermesd's answer to create or delete */

/* "rings: a, b" or "the bus has no rings", for not-found errors. */
static void ring_names(hermes_bus *bus, char *buf, size_t len)
{
	hermes_ring_info info[HM_MAX_RINGS];
	unsigned n = 0;
	if (hermes_bus_rings(bus, info, HM_MAX_RINGS, &n) != HERMES_OK || n > HM_MAX_RINGS)
		n = 0;
	size_t used = (size_t)snprintf(buf, len, "rings: ");
	size_t start = used;
	for (unsigned i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", used > start ? ", " : "",
					 info[i].name);
	if (used == start)
		snprintf(buf, len, "the bus has no rings");
}

/* Explain a failed hermes_pub_open/hermes_sub_open. */
static int open_failed(const ctl_ctx *ctx, hermes_bus *bus, const char *ring, hermes_err err)
{
	char names[512];
	switch (err) {
	case HERMES_ENOENT:
		ring_names(bus, names, sizeof names);
		ctl_error("bus '%s': no ring '%s' (%s); 'hermes-ctl list' shows the rings, 'hermes-ctl "
			  "create' makes one",
			  ctx->bus, ring, names);
		break;
	case HERMES_ETOOMANY:
		ctl_error("bus '%s': ring '%s': %s; 'hermes-ctl inspect %s' shows who holds them",
			  ctx->bus, ring, hermes_last_error_detail(), ring);
		break;
	default:
		ctl_error("bus '%s': ring '%s': %s (%s)", ctx->bus, ring, hermes_strerror(err),
			  hermes_last_error_detail());
		break;
	}
	return CTL_EXIT_ERR;
}

static uint32_t ring_max_msg(hermes_bus *bus, const char *name)
{
	hermes_ring_info info;
	return hermes_bus_ring_info(bus, name, &info) == HERMES_OK ? info.max_msg : HM_MAX_MSG_LIMIT;
}

/* ---- tail ------------------------------------------------------------------ */

typedef enum tail_format { FMT_TEXT, FMT_HEX, FMT_JSON } tail_format;

/* What `hermes-ctl tail` was asked for. */
typedef struct tail_args {
	const char *ring;
	const char *remote;  /* --remote HOST:PORT, or NULL */
	const char *journal; /* --journal DIR, or NULL */
	hermes_start start;
	uint64_t from_seq;
	uint64_t count; /* 0: no limit */
	tail_format fmt;
} tail_args;


/* A user tag shows as "tag=0x2a " before the data in text and hex, only
 * when there is one; JSON always has "tag" (0: none). */
static void print_message(tail_format fmt, const hermes_msg *m)
{
	const uint8_t *d = m->data;
	switch (fmt) {
	case FMT_TEXT:
		if (m->tag)
			printf("tag=0x%" PRIx32 " ", m->tag);
		fmt_escaped(stdout, d, m->len);
		break;
	case FMT_HEX:
		printf("%llu ", (unsigned long long)m->seq);
		if (m->tag)
			printf("tag=0x%" PRIx32 " ", m->tag);
		fmt_hex(stdout, d, m->len);
		break;
	case FMT_JSON:
		printf("{\"seq\":%llu,\"len\":%u,\"tag\":%" PRIu32 ",\"data\":\"",
		       (unsigned long long)m->seq, m->len, m->tag);
		fmt_base64(stdout, d, m->len);
		fputs("\"}", stdout);
		break;
	}
	fputc('\n', stdout);
}

/* The state every way of tailing (remote, journal, local) keeps: how much
 * it printed, whether stdout was closed, the exit status so far. */
typedef struct tail_run {
	const tail_args *a;
	uint64_t printed;
	bool closed;
	int status;
} tail_run;

/* Unblocked signals: one interrupts a blocking wait at once (the wait then
 * answers HERMES_EAGAIN); one that lands just before the sleep is noticed at
 * the next TAIL_WAIT_NS timeout. */
static void tail_start(tail_run *t, const tail_args *a)
{
	ctl_install_signals(false);
	*t = (tail_run){.a = a, .status = CTL_EXIT_OK};
}

/* Go on: no error, stdout open, the count not reached, no stop signal. */
static bool tail_going(const tail_run *t)
{
	return t->status == CTL_EXIT_OK && !t->closed && (!t->a->count || t->printed < t->a->count) &&
	       !ctl_should_stop();
}

static void tail_print(tail_run *t, const hermes_msg *m)
{
	print_message(t->a->fmt, m);
	t->printed++;
}

/* Flush what was printed; a write error ends the tail with an error. */
static void tail_flush(tail_run *t)
{
	if (ctl_flush(&t->closed) != 0)
		t->status = CTL_EXIT_ERR;
}

/* The exit status, after the last flush. */
static int tail_end(tail_run *t)
{
	if (t->status == CTL_EXIT_OK)
		tail_flush(t);
	return t->status;
}

/* What a subscriber or the replay skipped: claims aborted or repaired. */
static void tail_gap(const hermes_msg *m)
{
	fflush(stdout);
	fprintf(stderr, "hermes-ctl: tail: %llu sequence(s) skipped before %llu (aborted or repaired "
			"claims)\n",
		(unsigned long long)m->gap, (unsigned long long)m->seq);
}

/* ---- through a bridge (--remote) ---------------------------------------------- */

/* Connect to a hermes-bridge; identity, key file and encryption come from
 * $HERMES_NET_IDENTITY, $HERMES_NET_KEY_FILE, $HERMES_NET_ENCRYPT. */
static int net_connect(const char *addr, hermes_net **n)
{
	hermes_net_options o;
	hermes_net_options_init(&o);
	hermes_err err = hermes_net_connect(addr, &o, n);
	if (err) {
		/* The detail names the actual trouble (no such host, refused,
		 * authentication); the code alone can mislead (a name that does
		 * not resolve is HERMES_ENOENT). */
		const char *detail = hermes_last_error_detail();
		ctl_error("--remote %s: cannot connect: %s", addr,
			  *detail ? detail : hermes_strerror(err));
		return CTL_EXIT_ERR;
	}
	return CTL_EXIT_OK;
}

static int tail_remote(const tail_args *a)
{
	hermes_net *n;
	if (net_connect(a->remote, &n))
		return CTL_EXIT_ERR;
	uint32_t sub;
	hermes_err err = hermes_net_subscribe(n, a->ring, a->start, a->from_seq, REMOTE_ANSWER_NS,
					      &sub, NULL);
	if (err) {
		ctl_error("--remote %s: ring '%s': %s (%s)", a->remote, a->ring, hermes_strerror(err),
			  hermes_last_error_detail());
		hermes_net_close(n);
		return CTL_EXIT_ERR;
	}
	tail_run t;
	for (tail_start(&t, a); tail_going(&t); tail_flush(&t)) {
		hermes_net_event ev;
		err = hermes_net_poll(n, &ev, TAIL_WAIT_NS);
		if (err == HERMES_ETIMEDOUT || err == HERMES_EAGAIN)
			continue;
		if (err) {
			ctl_error("--remote %s: %s", a->remote, hermes_strerror(err));
			t.status = CTL_EXIT_ERR;
			break;
		}
		switch (ev.type) {
		case HERMES_NET_MESSAGE: {
			hermes_msg m = {
				.data = ev.data, .len = ev.len, .tag = (uint32_t)ev.value, .seq = ev.seq};
			tail_print(&t, &m);
			break;
		}
		case HERMES_NET_LOSS:
			fflush(stdout);
			fprintf(stderr,
				"hermes-ctl: tail: lost %llu message(s) before sequence %llu (the "
				"bridge dropped them for this subscriber, or the ring lapped it)\n",
				(unsigned long long)ev.value, (unsigned long long)ev.seq);
			break;
		case HERMES_NET_ERROR:
			ctl_error("--remote %s: the bridge reports %s: %.*s", a->remote,
				  hermes_strerror(ev.code), (int)ev.len, (const char *)ev.data);
			if (ev.fatal)
				t.status = CTL_EXIT_ERR;
			break;
		case HERMES_NET_CLOSED:
			ctl_error("--remote %s: the bridge closed the connection (%s)", a->remote,
				  hermes_strerror(ev.code));
			t.status = CTL_EXIT_ERR;
			break;
		default:
			break;
		}
	}
	hermes_net_close(n);
	return t.status;
}

/* tail --journal DIR: from the ring's journal, handed over to the live ring
 * (journal only when the bus is not there). */
static int tail_journal(const ctl_ctx *ctx, const tail_args *a)
{
	const char *ring = a->ring, *dir = a->journal;
	uint64_t from_seq = a->from_seq;
	if (a->start == HERMES_START_EARLIEST) {
		uint64_t *seqs;
		size_t n;
		from_seq = 0;
		if (hm_jdir_list(dir, &seqs, &n) == HERMES_OK) {
			if (n)
				from_seq = seqs[0];
			free(seqs);
		}
	}
	hermes_bus *bus = NULL;
	if (hermes_bus_attach(ctx->bus, &bus) != HERMES_OK)
		bus = NULL; /* the journal alone */
	hermes_replay *r;
	hermes_err err = hermes_replay_open(bus, ring, dir, from_seq, &r);
	if (err) {
		ctl_error("journal %s: %s (%s)", dir, hermes_strerror(err), hermes_last_error_detail());
		hermes_bus_detach(bus);
		return CTL_EXIT_ERR;
	}
	tail_run t;
	tail_start(&t, a);
	while (tail_going(&t)) {
		hermes_msg m;
		err = hermes_replay_poll(r, &m);
		if (err == HERMES_EAGAIN) {
			hermes_replay_release(r);
			tail_flush(&t);
			err = hermes_replay_wait(r, HERMES_WAIT_BLOCK, TAIL_WAIT_NS);
			if (err == HERMES_ECLOSED) {
				ctl_error("bus '%s': ring '%s' was deleted", ctx->bus, ring);
				t.status = CTL_EXIT_ERR;
			}
			continue;
		}
		fflush(stdout);
		if (err == HERMES_ELOST) {
			fprintf(stderr, "hermes-ctl: tail: %llu message(s) from sequence %llu are neither in the "
					"journal nor in the ring\n",
				(unsigned long long)m.lost, (unsigned long long)m.seq);
			continue;
		}
		if (err == HERMES_EBADSEGMENT) {
			fprintf(stderr, "hermes-ctl: tail: journal record(s) from sequence %llu (%llu) failed "
					"their checksum: skipped\n",
				(unsigned long long)m.seq, (unsigned long long)m.lost);
			continue;
		}
		if (err) {
			ctl_error("ring '%s': %s", ring, hermes_strerror(err));
			t.status = CTL_EXIT_ERR;
			break;
		}
		if (m.gap)
			tail_gap(&m);
		tail_print(&t, &m);
	}
	int status = tail_end(&t);
	hermes_replay_close(r);
	hermes_bus_detach(bus);
	return status;
}

/* --from: earliest, latest or a sequence number. */
static bool parse_from(const char *arg, tail_args *a)
{
	static const char *const names[] = {"earliest", "latest"};
	static const hermes_start starts[] = {HERMES_START_EARLIEST, HERMES_START_LATEST};
	int k = parse_choice(arg, names, 2);
	if (k >= 0)
		a->start = starts[k];
	else if (parse_u64(arg, UINT64_MAX, &a->from_seq))
		a->start = HERMES_START_SEQ;
	else
		return false;
	return true;
}

/* Parse tail's options and ring into *a. Returns -1 to go on, else the exit
 * status to return now. */
static int tail_parse(ctl_ctx *ctx, int argc, char **argv, tail_args *a)
{
	static const struct option opts[] = {
		{"from", required_argument, NULL, 'f'},
		{"count", required_argument, NULL, 'n'},
		{"format", required_argument, NULL, 'F'},
		{"remote", required_argument, NULL, CTL_OPT_REMOTE},
		{"journal", required_argument, NULL, 'j'},
		CTL_COMMON_OPTIONS,
		{0},
	};
	static const char *const format_names[] = {[FMT_TEXT] = "text", [FMT_HEX] = "hex",
						   [FMT_JSON] = "json"};
	*a = (tail_args){.start = HERMES_START_LATEST, .fmt = FMT_TEXT};
	int c, r, k;
	while ((c = getopt_long(argc, argv, CTL_COMMON_SHORT "f:n:F:", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (!parse_from(optarg, a))
				return ctl_usage_error(ctx, "--from wants earliest, latest or a sequence "
							    "number, not '%s'",
						       optarg);
			break;
		case 'n':
			if (!parse_u64(optarg, UINT64_MAX, &a->count) || a->count == 0)
				return ctl_usage_error(ctx, "--count wants a positive number, not '%s'",
						       optarg);
			break;
		case 'F':
			if ((k = parse_choice(optarg, format_names, 3)) < 0)
				return ctl_usage_error(ctx, "--format wants text, hex or json, not '%s'",
						       optarg);
			a->fmt = (tail_format)k;
			break;
		case CTL_OPT_REMOTE:
			a->remote = optarg;
			break;
		case 'j':
			a->journal = optarg;
			break;
		default:
			if ((r = ctl_common_option(ctx, c, argv)) >= 0)
				return r;
		}
	}
	if (optind >= argc)
		return ctl_usage_error(ctx, "which ring? (hermes-ctl tail RING)");
	if (a->journal && (a->remote || a->start == HERMES_START_LATEST))
		return ctl_usage_error(ctx, "--journal goes with --from earliest or --from SEQ, locally");
	if (optind + 1 < argc)
		return ctl_usage_error(ctx, "unexpected argument '%s'", argv[optind + 1]);
	a->ring = argv[optind];
	return -1;
}

/* Print what the subscriber has now, up to the count; an error ends the
 * tail (t->status). */
static void tail_drain(const ctl_ctx *ctx, tail_run *t, hermes_sub *sub, uint8_t *buf,
		       uint32_t cap)
{
	const tail_args *a = t->a;
	while (!a->count || t->printed < a->count) {
		hermes_msg m;
		hermes_err err = hermes_sub_recv(sub, buf, cap, &m);
		if (err == HERMES_EAGAIN)
			break;
		if (err == HERMES_ELOST) {
			fflush(stdout);
			fprintf(stderr,
				"hermes-ctl: tail: lost %llu message(s) before sequence %llu: the "
				"overwrite ring '%s' lapped this subscriber\n",
				(unsigned long long)m.lost, (unsigned long long)m.seq, a->ring);
			continue;
		}
		if (err == HERMES_ENOBUFS) {
			/* max_msg bounds every message; a larger one means a
			 * corrupt ring, not a reason to allocate more. */
			ctl_error("bus '%s': ring '%s': message %llu claims %u bytes, more than "
				  "the ring's max_msg %u",
				  ctx->bus, a->ring, (unsigned long long)m.seq, m.len, cap);
			t->status = CTL_EXIT_ERR;
			return;
		}
		if (err) {
			ctl_error("bus '%s': ring '%s': %s", ctx->bus, a->ring, hermes_strerror(err));
			t->status = CTL_EXIT_ERR;
			return;
		}
		if (m.gap)
			tail_gap(&m);
		tail_print(t, &m);
	}
}

/* Wait and print until the count, a stop signal, a closed pipe or an error. */
static int tail_loop(const ctl_ctx *ctx, const tail_args *a, hermes_sub *sub, uint8_t *buf,
		     uint32_t cap)
{
	tail_run t;
	tail_start(&t, a);
	while (tail_going(&t)) {
		hermes_err err = hermes_sub_wait(sub, HERMES_WAIT_BLOCK, TAIL_WAIT_NS);
		if (err == HERMES_ETIMEDOUT || err == HERMES_EAGAIN)
			continue;
		if (err == HERMES_ECLOSED) {
			ctl_error("bus '%s': ring '%s' was deleted", ctx->bus, a->ring);
			t.status = CTL_EXIT_ERR;
			break;
		}
		tail_drain(ctx, &t, sub, buf, cap);
		tail_flush(&t);
	}
	return tail_end(&t);
}

/* tail on the local bus: subscribe to the ring and print. */
static int tail_local(const ctl_ctx *ctx, const tail_args *a)
{
	hermes_bus *bus;
	int r;
	if ((r = ctl_attach(ctx, false, &bus)) != 0)
		return r;
	hermes_sub *sub;
	hermes_err err = hermes_sub_open(bus, a->ring, a->start, a->from_seq, &sub);
	if (err) {
		r = open_failed(ctx, bus, a->ring, err);
		hermes_bus_detach(bus);
		return r;
	}
	uint32_t cap = ring_max_msg(bus, a->ring);
	uint8_t *buf = malloc(cap ? cap : 1);
	if (!buf) {
		ctl_error("out of memory");
		r = CTL_EXIT_ERR;
	} else {
		r = tail_loop(ctx, a, sub, buf, cap);
	}
	free(buf);
	hermes_sub_close(sub);
	hermes_bus_detach(bus);
	return r;
}

int cmd_tail(ctl_ctx *ctx, int argc, char **argv)
{
	tail_args a;
	int r = tail_parse(ctx, argc, argv, &a);
	if (r >= 0)
		return r;
	if (a.remote)
		return tail_remote(&a);
	if (a.journal)
		return tail_journal(ctx, &a);
	return tail_local(ctx, &a);
}

/* ---- pub ------------------------------------------------------------------- */

typedef struct pub_state {
	const ctl_ctx *ctx;
	const char *ring;
	hermes_pub *pub;
	hermes_net *net; /* --remote: publish through a bridge instead */
	const char *remote;
	uint32_t channel;
	uint32_t max_msg;
	int64_t timeout_ns;
	uint64_t timeout_ms;
	uint32_t tag; /* --tag; 0: none */
	bool print_seq;
} pub_state;

/* Publish through the bridge with an ack, and wait for the ack (or the
 * bridge's error) of this very message: its ring sequence. */
static hermes_err publish_remote(pub_state *ps, const void *data, size_t len, uint64_t *seq)
{
	uint64_t pub_seq;
	hermes_err err = hermes_net_publish_tagged(ps->net, ps->channel, data, len, ps->tag,
						   HERMES_NET_PUB_ACK | HERMES_NET_PUB_FLUSH, &pub_seq);
	if (err)
		return err;
	uint64_t deadline = hm_now_ns() + (uint64_t)ps->timeout_ns;
	for (;;) {
		uint64_t now = hm_now_ns();
		if (now >= deadline)
			return HERMES_ETIMEDOUT;
		hermes_net_event ev;
		err = hermes_net_poll(ps->net, &ev, (int64_t)(deadline - now));
		if (err == HERMES_EAGAIN)
			continue;
		if (err)
			return err;
		if (ev.type == HERMES_NET_ACK && ev.seq == pub_seq) {
			*seq = ev.value;
			return HERMES_OK;
		}
		if (ev.type == HERMES_NET_ERROR && (ev.fatal || ev.seq == pub_seq))
			return ev.code ? ev.code : HERMES_EHANDSHAKE;
		if (ev.type == HERMES_NET_CLOSED)
			return HERMES_ECLOSED;
	}
}

static int publish(pub_state *ps, const void *data, size_t len, uint64_t n)
{
	if (len > ps->max_msg) {
		ctl_error("bus '%s': ring '%s': message %llu is %zu bytes; the ring takes at most %u "
			  "(its max_msg)",
			  ps->ctx->bus, ps->ring, (unsigned long long)n, len, ps->max_msg);
		return CTL_EXIT_ERR;
	}
	uint64_t seq;
	hermes_err err = ps->net ? publish_remote(ps, data, len, &seq)
				 : hermes_pub_send_tagged(ps->pub, data, (uint32_t)len, ps->tag, &seq,
							  ps->timeout_ns);
	switch (err) {
	case HERMES_OK:
		if (ps->print_seq)
			printf("%llu\n", (unsigned long long)seq);
		return CTL_EXIT_OK;
	case HERMES_ETIMEDOUT:
		ctl_error("bus '%s': ring '%s' stayed full for %llu ms (message %llu not published): a "
			  "subscriber is not keeping up; 'hermes-ctl inspect %s' shows the lag",
			  ps->ctx->bus, ps->ring, (unsigned long long)ps->timeout_ms,
			  (unsigned long long)n, ps->ring);
		return CTL_EXIT_ERR;
	case HERMES_ECLOSED:
		ctl_error("bus '%s': ring '%s' was deleted", ps->ctx->bus, ps->ring);
		return CTL_EXIT_ERR;
	default:
		ctl_error("bus '%s': ring '%s': %s", ps->ctx->bus, ps->ring, hermes_strerror(err));
		return CTL_EXIT_ERR;
	}
}

static int publish_stdin(pub_state *ps, bool hex)
{
	char *line = NULL;
	size_t cap = 0;
	uint8_t *bin = hex ? malloc(ps->max_msg ? ps->max_msg : 1) : NULL;
	if (hex && !bin) {
		ctl_error("out of memory");
		return CTL_EXIT_ERR;
	}
	int status = CTL_EXIT_OK;
	for (uint64_t n = 1; status == CTL_EXIT_OK; n++) {
		errno = 0;
		ssize_t len = getline(&line, &cap, stdin);
		if (len < 0) {
			if (ctl_stop) {
				/* Ctrl-C while waiting for input: what was sent stays
				 * sent; stopping is not an error. */
			} else if (ferror(stdin)) {
				ctl_error("reading stdin: %s", strerror(errno));
				status = CTL_EXIT_ERR;
			}
			break;
		}
		if (len > 0 && line[len - 1] == '\n')
			len--;
		if (hex) {
			long b = parse_hex(line, (size_t)len, bin, ps->max_msg);
			if (b < 0) {
				ctl_error("stdin line %llu: not hex bytes, or more than the ring's max_msg "
					  "%u bytes",
					  (unsigned long long)n, ps->max_msg);
				status = CTL_EXIT_ERR;
				break;
			}
			status = publish(ps, bin, (size_t)b, n);
		} else {
			status = publish(ps, line, (size_t)len, n);
		}
		if (ctl_should_stop())
			break;
	}
	free(line);
	free(bin);
	return status;
}

/* --tag: 1..2^32-1, decimal or 0x hex (as tail shows it). */
static bool parse_tag(const char *s, uint32_t *tag)
{
	uint64_t v = 0;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		const char *h = s + 2;
		if (!*h || strlen(h) > 8 || strspn(h, "0123456789abcdefABCDEF") != strlen(h))
			return false;
		v = strtoull(h, NULL, 16);
	} else if (!parse_u64(s, UINT32_MAX, &v)) {
		return false;
	}
	*tag = (uint32_t)v;
	return v != 0;
}

/* Parse pub's options into *ps, *hex and *message (NULL: read stdin).
 * Returns -1 to go on, else the exit status to return now. */
static int pub_parse(ctl_ctx *ctx, int argc, char **argv, pub_state *ps, bool *hex,
		     const char **message)
{
	static const struct option opts[] = {
		{"hex", no_argument, NULL, 'x'},
		{"timeout", required_argument, NULL, 't'},
		{"print-seq", no_argument, NULL, 'p'},
		{"tag", required_argument, NULL, 'T'},
		{"remote", required_argument, NULL, CTL_OPT_REMOTE},
		CTL_COMMON_OPTIONS,
		{0},
	};
	int c, r;
	while ((c = getopt_long(argc, argv, CTL_COMMON_SHORT "xt:p", opts, NULL)) != -1) {
		switch (c) {
		case 'T':
			if (!parse_tag(optarg, &ps->tag))
				return ctl_usage_error(ctx, "--tag wants a user tag from 1 to 4294967295 "
							    "(decimal or 0x hex), not '%s'",
						       optarg);
			break;
		case 'x':
			*hex = true;
			break;
		case 't':
			if (!parse_u64(optarg, MAX_TIMEOUT_MS, &ps->timeout_ms))
				return ctl_usage_error(ctx, "--timeout wants milliseconds, not '%s'", optarg);
			break;
		case 'p':
			ps->print_seq = true;
			break;
		case CTL_OPT_REMOTE:
			ps->remote = optarg;
			break;
		default:
			if ((r = ctl_common_option(ctx, c, argv)) >= 0)
				return r;
		}
	}
	if (optind >= argc)
		return ctl_usage_error(ctx, "which ring? (hermes-ctl pub RING [MESSAGE])");
	if (optind + 2 < argc)
		return ctl_usage_error(ctx, "unexpected argument '%s' (quote a message with spaces)",
				       argv[optind + 2]);
	ps->ring = argv[optind];
	*message = optind + 1 < argc ? argv[optind + 1] : NULL;
	ps->timeout_ns = (int64_t)ps->timeout_ms * 1000000;
	return -1;
}

/* Open the ring for publishing: through the bridge with --remote, else on
 * the local bus (*bus). Returns the exit status (0: open). */
static int pub_open(const ctl_ctx *ctx, pub_state *ps, hermes_bus **bus)
{
	hermes_err err;
	int r;
	if (ps->remote) {
		if (net_connect(ps->remote, &ps->net))
			return CTL_EXIT_ERR;
		hermes_net_ring_info info;
		err = hermes_net_bind(ps->net, ps->ring, REMOTE_ANSWER_NS, &ps->channel, &info);
		if (err) {
			ctl_error("--remote %s: ring '%s': %s (%s)", ps->remote, ps->ring,
				  hermes_strerror(err), hermes_last_error_detail());
			hermes_net_close(ps->net);
			ps->net = NULL;
			return CTL_EXIT_ERR;
		}
		ps->max_msg = info.max_message;
		return CTL_EXIT_OK;
	}
	if ((r = ctl_attach(ctx, false, bus)) != 0)
		return r;
	err = hermes_pub_open(*bus, ps->ring, &ps->pub);
	if (err) {
		r = open_failed(ctx, *bus, ps->ring, err);
		hermes_bus_detach(*bus);
		*bus = NULL;
		return r;
	}
	ps->max_msg = ring_max_msg(*bus, ps->ring);
	return CTL_EXIT_OK;
}

/* Publish the MESSAGE argument (hex bytes with --hex). */
static int publish_arg(const ctl_ctx *ctx, pub_state *ps, const char *message, bool hex)
{
	if (!hex)
		return publish(ps, message, strlen(message), 1);
	size_t len = strlen(message);
	uint8_t *bin = malloc(len / 2 + 1);
	long b = bin ? parse_hex(message, len, bin, len / 2 + 1) : -1;
	int r;
	if (b < 0)
		r = bin ? ctl_usage_error(ctx, "MESSAGE is not hex bytes (e.g. 'de ad be ef')")
			: CTL_EXIT_ERR;
	else
		r = publish(ps, bin, (size_t)b, 1);
	free(bin);
	return r;
}

int cmd_pub(ctl_ctx *ctx, int argc, char **argv)
{
	bool hex = false;
	const char *message = NULL;
	pub_state ps = {.ctx = ctx, .timeout_ms = DEFAULT_PUB_TIMEOUT_MS};
	int r = pub_parse(ctx, argc, argv, &ps, &hex, &message);
	if (r >= 0)
		return r;
	hermes_bus *bus = NULL;
	if ((r = pub_open(ctx, &ps, &bus)) != 0)
		return r;
	ctl_install_signals(false);
	r = message ? publish_arg(ctx, &ps, message, hex) : publish_stdin(&ps, hex);
	hermes_pub_close(ps.pub);
	hermes_net_close(ps.net);
	hermes_bus_detach(bus);
	if (r == CTL_EXIT_OK)
		r = ctl_flush(NULL);
	return r;
}

/* ---- keygen -------------------------------------------------------------------- */

int cmd_keygen(ctl_ctx *ctx, int argc, char **argv)
{
	enum { O_PSK = 1000, O_SERVER };
	static const struct option opts[] = {
		{"out", required_argument, NULL, 'o'},
		{"psk", no_argument, NULL, O_PSK},
		{"server-key", required_argument, NULL, O_SERVER},
		CTL_COMMON_OPTIONS,
		{0},
	};
	const char *out = NULL;
	bool pair = true;
	uint8_t pin[HERMES_KX_PUBLIC_KEY_SIZE];
	bool pinned = false;
	int c, r;
	while ((c = getopt_long(argc, argv, CTL_COMMON_SHORT "o:", opts, NULL)) != -1) {
		if (c == 'o')
			out = optarg;
		else if (c == O_PSK)
			pair = false;
		else if (c == O_SERVER) {
			if (hm_auth_parse_key(optarg, pin) != HERMES_OK)
				return ctl_usage_error(ctx, "--server-key wants the bridge's public key, "
							    "64 hex digits");
			pinned = true;
		} else if ((r = ctl_common_option(ctx, c, argv)) >= 0)
			return r;
	}
	if (pinned && !pair)
		return ctl_usage_error(ctx, "--server-key is for key pairs, not --psk");
	if ((r = ctl_operands(ctx, argc, argv, 1,
			      "which identity? (hermes-ctl keygen NAME [--out FILE])")) >= 0)
		return r;
	const char *name = argv[optind];
	char path[512];
	if (hm_auth_key_path(name, out, path, sizeof path) != HERMES_OK)
		return ctl_usage_error(ctx, "%s", hermes_last_error_detail());
	uint8_t pub[HERMES_KX_PUBLIC_KEY_SIZE];
	hermes_err err = hm_auth_keygen_file(path, name, pair, pinned ? pin : NULL, pub);
	if (err) {
		ctl_error("keygen: %s (%s)", hermes_strerror(err), hermes_last_error_detail());
		return CTL_EXIT_ERR;
	}
	printf("%s\n", path);
	if (pair) {
		/* The public half, for the bridge's auth file (or, for a bridge's
		 * own pair, its clients' --server-key); the fingerprint is its
		 * first 16 hex digits, as the bridge logs it. */
		char hex[2 * HERMES_KX_PUBLIC_KEY_SIZE + 1];
		hm_auth_hex(pub, sizeof pub, hex);
		printf("public_key = %s\n", hex);
		fprintf(stderr, "fingerprint %.16s\n", hex);
	}
	return ctl_flush(NULL);
}

/* ---- create / delete ---------------------------------------------------------- */

/* Ring requests go through the library's supervisor channel, as an
 * application's would, which finds hermesd through the socket path recorded
 * in the segment. An explicit run directory (--run-dir, $HERMES_RUN_DIR)
 * sends them to <run_dir>/<bus>.sock instead: the recorded path may not be
 * reachable from here, e.g. in a container that mounts the run directory
 * elsewhere. */
static bool explicit_run_dir(const ctl_ctx *ctx)
{
	return ctx->run_dir && *ctx->run_dir;
}

/* Send req straight to hermesd's control socket. HERMES_OK, or the error
 * with the detail: hermesd's own reason (which may be empty), or none when
 * hermesd was not reached or did not answer (supervisor_failed says it). */
static hermes_err direct_request(const ctl_ctx *ctx, hermes_bus *bus, const hm_ctl_req *req)
{
	char path[256];
	ctl_control_path(ctx, bus, path, sizeof path);
	int fd;
	hermes_err err = hm_ctl_connect(path, &fd);
	if (err)
		return err;
	hm_ctl_resp *resp = malloc(sizeof *resp);
	err = resp ? hm_ctl_call(fd, req, resp, RING_REQUEST_MS) : HERMES_ENOMEM;
	close(fd);
	if (err)
		hm_clear_detail();
	else if (resp->err)
		err = hm_fail((hermes_err)resp->err, "%s", resp->detail);
	free(resp);
	return err;
}

/* Say why a ring request failed with err (its detail, if any, is the
 * thread's). */
static int supervisor_failed(const ctl_ctx *ctx, hermes_bus *bus, const char *what,
			     const char *ring, hermes_err err)
{
	const char *detail = hermes_last_error_detail();
	char path[256];
	ctl_control_path(ctx, bus, path, sizeof path);
	switch (err) {
	case HERMES_ENOSUPERVISOR:
		ctl_error("bus '%s': %s needs hermesd, and none answers%s%s; start it (hermesd --bus "
			  "%s)",
			  ctx->bus, what, path[0] ? " at " : "", path, ctx->bus);
		break;
	case HERMES_ETIMEDOUT:
		ctl_error("bus '%s': hermesd at %s did not answer the %s request in time", ctx->bus,
			  path, what);
		break;
	case HERMES_EBUSY:
		ctl_error("bus '%s': ring '%s' is in use; stop its producers and subscribers "
			  "('hermes-ctl inspect %s' shows them) or use --force",
			  ctx->bus, ring, ring);
		break;
	default:
		ctl_error("bus '%s': %s ring '%s': %s%s%s", ctx->bus, what, ring, hermes_strerror(err),
			  detail[0] ? ": " : "", detail);
		break;
	}
	return CTL_EXIT_ERR;
}

/* Parse create's options and ring into *cfg (max_msg defaults to capacity /
 * 8, at most 64 KiB). Returns -1 to go on, else the exit status. */
static int create_parse(ctl_ctx *ctx, int argc, char **argv, hermes_ring_config *cfg)
{
	static const struct option opts[] = {
		{"capacity", required_argument, NULL, 'c'},
		{"max-msg", required_argument, NULL, 'm'},
		{"policy", required_argument, NULL, 'p'},
		{"slots", required_argument, NULL, 's'},
		CTL_COMMON_OPTIONS,
		{0},
	};
	static const char *const policy_names[] = {"block", "overwrite"};
	uint64_t capacity = 0, max_msg = 0, slots = 0;
	hermes_policy policy = HERMES_POLICY_BLOCK;
	int c, r, k;
	while ((c = getopt_long(argc, argv, CTL_COMMON_SHORT "c:m:p:s:", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (!hm_parse_size(optarg, &capacity))
				return ctl_usage_error(ctx, "--capacity wants a size like 1M, not '%s'",
						       optarg);
			break;
		case 'm':
			if (!hm_parse_size(optarg, &max_msg) || max_msg == 0 || max_msg > UINT32_MAX)
				return ctl_usage_error(ctx, "--max-msg wants a size like 4K, not '%s'",
						       optarg);
			break;
		case 'p':
			if ((k = parse_choice(optarg, policy_names, 2)) < 0)
				return ctl_usage_error(ctx, "--policy wants block or overwrite, not '%s'",
						       optarg);
			policy = k ? HERMES_POLICY_OVERWRITE : HERMES_POLICY_BLOCK;
			break;
		case 's':
			if (!parse_u64(optarg, UINT32_MAX, &slots))
				return ctl_usage_error(ctx, "--slots wants a number, not '%s'", optarg);
			break;
		default:
			if ((r = ctl_common_option(ctx, c, argv)) >= 0)
				return r;
		}
	}
	if ((r = ctl_operands(ctx, argc, argv, 1,
			      "which ring? (hermes-ctl create RING --capacity SIZE)")) >= 0)
		return r;
	if (!capacity)
		return ctl_usage_error(ctx, "--capacity is required (a power of two, e.g. 1M)");
	if (!max_msg)
		max_msg = capacity / 8 < 65536 ? capacity / 8 : 65536;
	*cfg = (hermes_ring_config){.name = argv[optind], .capacity = capacity,
				    .max_msg = (uint32_t)max_msg, .policy = policy,
				    .slots = (uint32_t)slots};
	return -1;
}

/* Ask hermesd to create the ring: straight at its control socket with an
 * explicit --run-dir, else through the library. */
static hermes_err create_request(const ctl_ctx *ctx, hermes_bus *bus, const hermes_ring_config *cfg)
{
	if (explicit_run_dir(ctx)) {
		hm_ctl_req req = {.magic = HM_CTL_MAGIC, .op = HM_CTL_CREATE,
				  .policy = (uint32_t)cfg->policy, .capacity = cfg->capacity,
				  .max_msg = cfg->max_msg, .slots = cfg->slots};
		snprintf(req.name, sizeof req.name, "%s", cfg->name);
		return direct_request(ctx, bus, &req);
	}
	return hermes_ring_create(bus, cfg);
}

int cmd_create(ctl_ctx *ctx, int argc, char **argv)
{
	hermes_ring_config cfg;
	int r = create_parse(ctx, argc, argv, &cfg);
	if (r >= 0)
		return r;
	/* The same check hermesd makes, before bothering it: a bad value is
	 * a usage error, with the library's explanation. */
	if (hm_ring_check_config(&cfg) != HERMES_OK)
		return ctl_usage_error(ctx, "%s", hermes_last_error_detail());

	hermes_bus *bus;
	if ((r = ctl_attach(ctx, false, &bus)) != 0)
		return r;
	hermes_err err = create_request(ctx, bus, &cfg);
	if (err) {
		r = supervisor_failed(ctx, bus, "create", cfg.name, err);
		hermes_bus_detach(bus);
		return r;
	}
	hermes_bus_detach(bus);
	char a[32], b[32];
	printf("bus '%s': ring '%s' created: %s, capacity %s, max message %s, %u slots\n", ctx->bus,
	       cfg.name, cfg.policy == HERMES_POLICY_BLOCK ? "block" : "overwrite",
	       fmt_bytes(a, sizeof a, (double)cfg.capacity), fmt_bytes(b, sizeof b, (double)cfg.max_msg),
	       hm_ring_slots(&cfg));
	return ctl_flush(NULL);
}

/* The options of delete and destroy: --force and exactly one name (then
 * argv[optind]; `missing` is the usage error without it). Returns -1 to go
 * on, else the exit status. */
static int force_and_one_name(ctl_ctx *ctx, int argc, char **argv, bool *force,
			      const char *missing)
{
	static const struct option opts[] = {
		{"force", no_argument, NULL, 'f'},
		CTL_COMMON_OPTIONS,
		{0},
	};
	int c, r;
	while ((c = getopt_long(argc, argv, CTL_COMMON_SHORT "f", opts, NULL)) != -1) {
		if (c == 'f')
			*force = true;
		else if ((r = ctl_common_option(ctx, c, argv)) >= 0)
			return r;
	}
	return ctl_operands(ctx, argc, argv, 1, missing);
}

int cmd_delete(ctl_ctx *ctx, int argc, char **argv)
{
	bool force = false;
	int r = force_and_one_name(ctx, argc, argv, &force,
				   "which ring? (hermes-ctl delete RING)");
	if (r >= 0)
		return r;
	const char *ring = argv[optind];

	hermes_bus *bus;
	if ((r = ctl_attach(ctx, false, &bus)) != 0)
		return r;
	hermes_err err;
	if (explicit_run_dir(ctx)) {
		hm_ctl_req req = {.magic = HM_CTL_MAGIC, .op = HM_CTL_DELETE,
				  .flags = force ? HM_CTL_FORCE : 0};
		snprintf(req.name, sizeof req.name, "%s", ring);
		err = direct_request(ctx, bus, &req);
	} else {
		err = hermes_ring_delete(bus, ring, force);
	}
	if (err == HERMES_ENOENT) {
		char names[512];
		ring_names(bus, names, sizeof names);
		ctl_error("bus '%s': no ring '%s' (%s)", ctx->bus, ring, names);
		hermes_bus_detach(bus);
		return CTL_EXIT_ERR;
	}
	if (err) {
		r = supervisor_failed(ctx, bus, "delete", ring, err);
		hermes_bus_detach(bus);
		return r;
	}
	hermes_bus_detach(bus);
	printf("bus '%s': ring '%s' deleted%s\n", ctx->bus, ring, force ? " (forced)" : "");
	return ctl_flush(NULL);
}

/* ---- destroy ------------------------------------------------------------- */

/* Other processes that map the segment of `bus`, from /proc/PID/maps (as
 * far as this user may read them: hermesd's bus lock and the slots' owners
 * are asked as well). */
static unsigned segment_users(const char *bus, pid_t *pids, unsigned max)
{
	char needle[96];
	size_t nlen = (size_t)snprintf(needle, sizeof needle, "/dev/shm/hermes.%s", bus);
	unsigned n = 0;
	DIR *proc = opendir("/proc");
	if (!proc)
		return 0;
	for (struct dirent *e; (e = readdir(proc));) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0 || pid == (long)getpid())
			continue;
		char path[64], line[512];
		snprintf(path, sizeof path, "/proc/%ld/maps", pid);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		bool maps = false;
		while (!maps && fgets(line, sizeof line, f)) {
			const char *at = strstr(line, needle);
			maps = at && (at[nlen] == '\n' || at[nlen] == ' ' || at[nlen] == '\0');
		}
		fclose(f);
		if (maps) {
			if (n < max)
				pids[n] = (pid_t)pid;
			n++;
		}
	}
	closedir(proc);
	return n;
}

/* Producer and subscriber slots with an owner, over the valid rings. */
static unsigned owned_slots(const char *bus_name)
{
	hermes_bus *bus;
	if (hermes_bus_attach_readonly(bus_name, &bus) != HERMES_OK)
		return 0;
	unsigned n = 0;
	for (uint32_t i = 0; i < HM_MAX_RINGS; i++) {
		hm_ring r;
		if (hm_bus_ring_view(bus, i, &r) != HERMES_OK)
			continue;
		for (unsigned k = 0; k < HM_MAX_PRODUCERS; k++)
			n += hm_load_relaxed_u64(&r.prods[k].owner) != 0;
		for (unsigned k = 0; k < HM_MAX_SUBSCRIBERS; k++)
			n += hm_load_relaxed_u64(&r.subs[k].owner) != 0;
	}
	hermes_bus_detach(bus);
	return n;
}

int cmd_destroy(ctl_ctx *ctx, int argc, char **argv)
{
	bool force = false;
	int r = force_and_one_name(ctx, argc, argv, &force,
				   "which bus? (hermes-ctl destroy BUS)");
	if (r >= 0)
		return r;
	/* The bus is named explicitly, never taken from $HERMES_BUS. */
	ctx->bus = argv[optind];
	if ((r = ctl_check_bus_name(ctx)) != CTL_EXIT_OK)
		return r;
	char path[96];
	snprintf(path, sizeof path, "/dev/shm/hermes.%s", ctx->bus);
	if (access(path, F_OK) != 0) {
		ctl_error("bus '%s' does not exist (%s)", ctx->bus, path);
		return CTL_EXIT_ERR;
	}
	int locked = hm_segment_locked(ctx->bus);
	pid_t pids[8];
	unsigned nusers = segment_users(ctx->bus, pids, 8);
	unsigned slots = owned_slots(ctx->bus);
	if ((locked == 1 || nusers || slots) && !force) {
		char who[256] = "";
		size_t used = 0;
		for (unsigned i = 0; i < nusers && i < 8 && used < sizeof who; i++) {
			char comm[17];
			hm_proc_comm(pids[i], comm, sizeof comm);
			used += (size_t)snprintf(who + used, sizeof who - used, "%spid %d (%s)",
						 i ? ", " : "", (int)pids[i], comm);
		}
		ctl_error("bus '%s' is in use: %s%s%s%s%u producer/subscriber slot(s) held; stop "
			  "them first, or hermes-ctl destroy %s --force",
			  ctx->bus, locked == 1 ? "a live hermesd holds it; " : "", nusers ? "mapped by " : "",
			  who, nusers ? "; " : "", slots, ctx->bus);
		return CTL_EXIT_ERR;
	}
	hermes_err err = hermes_bus_unlink(ctx->bus);
	if (err) {
		ctl_error("bus '%s': %s", ctx->bus, hermes_last_error_detail());
		return CTL_EXIT_ERR;
	}
	printf("bus '%s' destroyed: %s removed%s\n", ctx->bus, path,
	       locked == 1 || nusers ? " (processes that had it mapped keep it until they exit)"
				     : "");
	return ctl_flush(NULL);
}
