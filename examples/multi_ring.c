/* One thread serving several rings: subscribe to the rings named on the
 * command line (or, with none, to every ring the bus has: hermes_bus_rings),
 * put the subscribers in a wait set and print what arrives on any of them,
 * sleeping in the kernel while all are quiet, until Ctrl-C.
 *
 *   HERMES_BUS=demo hermes-example-multi-ring             # every ring
 *   HERMES_BUS=demo hermes-example-multi-ring events telemetry
 */
#include <signal.h>
#include <stdio.h>

#include <hermes/hermes.h>

#define MAX_RINGS 64

static hermes_waitset *ws;

static void on_signal(int sig)
{
	(void)sig;
	hermes_waitset_wake(ws); /* async-signal-safe: the wait returns HERMES_EAGAIN */
}

typedef struct served {
	hermes_sub *sub;
	char name[HERMES_NAME_MAX + 1];
	unsigned long long msgs;
} served;

/* Everything the ring has for us now, then give the space back. */
static void drain(served *s)
{
	hermes_msg m;
	hermes_err err;
	while ((err = hermes_sub_poll(s->sub, &m)) != HERMES_EAGAIN) {
		if (err == HERMES_ELOST) {
			printf("%s: (lost %llu messages)\n", s->name, (unsigned long long)m.lost);
			continue;
		}
		if (err != HERMES_OK)
			continue; /* HERMES_ECORRUPT: counted and skipped */
		s->msgs++;
		printf("%s seq %llu: %.*s\n", s->name, (unsigned long long)m.seq, (int)m.len,
		       (const char *)m.data);
	}
	hermes_sub_release(s->sub);
}

int main(int argc, char **argv)
{
	hermes_bus *bus;
	hermes_err err = hermes_bus_attach(NULL, &bus);
	if (!err)
		err = hermes_waitset_create(&ws);
	if (err) {
		fprintf(stderr, "multi-ring: %s: %s\n", hermes_strerror(err),
			hermes_last_error_detail());
		return 1;
	}
	hermes_ring_info info[MAX_RINGS];
	unsigned n = 0;
	if (argc > 1) {
		for (int i = 1; i < argc && n < MAX_RINGS; i++)
			if (hermes_bus_ring_info(bus, argv[i], &info[n]) == HERMES_OK)
				n++;
			else
				fprintf(stderr, "multi-ring: no ring '%s'\n", argv[i]);
	} else {
		hermes_bus_rings(bus, info, MAX_RINGS, &n);
		if (n > MAX_RINGS)
			n = MAX_RINGS;
	}
	static served rings[MAX_RINGS];
	unsigned nserved = 0;
	for (unsigned i = 0; i < n; i++) {
		served *s = &rings[nserved];
		snprintf(s->name, sizeof s->name, "%s", info[i].name);
		err = hermes_sub_open(bus, s->name, HERMES_START_LATEST, 0, &s->sub);
		if (!err)
			err = hermes_waitset_add_sub(ws, s->sub, s); /* s comes back when ready */
		if (err) {
			fprintf(stderr, "multi-ring: %s: %s\n", s->name, hermes_last_error_detail());
			continue;
		}
		printf("serving %s (%s, %llu bytes, max message %u)\n", s->name,
		       info[i].policy == HERMES_POLICY_BLOCK ? "block" : "overwrite",
		       (unsigned long long)info[i].capacity, info[i].max_msg);
		nserved++;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (nserved) {
		hermes_ready ready[16];
		unsigned nready;
		err = hermes_waitset_wait(ws, ready, 16, &nready, -1);
		if (err == HERMES_EAGAIN)
			break; /* woken by the signal handler */
		for (unsigned i = 0; i < nready; i++) {
			served *s = ready[i].user;
			if (ready[i].flags & HERMES_READY_CLOSED) {
				printf("%s: ring deleted\n", s->name);
				hermes_waitset_remove_sub(ws, s->sub);
				hermes_sub_close(s->sub);
				s->sub = NULL;
				nserved--;
				continue;
			}
			drain(s);
		}
	}
	for (unsigned i = 0; i < MAX_RINGS; i++) {
		if (!rings[i].sub)
			continue;
		printf("%s: %llu messages\n", rings[i].name, rings[i].msgs);
		hermes_waitset_remove_sub(ws, rings[i].sub);
		hermes_sub_close(rings[i].sub);
	}
	hermes_waitset_destroy(ws);
	hermes_bus_detach(bus);
	return 0;
}
