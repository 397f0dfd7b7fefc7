/* Minimal subscriber: print every message of a ring as it arrives, sleeping
 * on a futex in between, until Ctrl-C.
 *
 *   HERMES_BUS=default hermes-example-subscriber events
 */
#include <signal.h>
#include <stdio.h>

#include <hermes/hermes.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	const char *ring = argc > 1 ? argv[1] : "events";
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	hermes_bus *bus;
	hermes_sub *sub;
	hermes_err err = hermes_bus_attach(NULL, &bus);
	if (!err)
		err = hermes_sub_open(bus, ring, HERMES_START_EARLIEST, 0, &sub);
	if (err) {
		fprintf(stderr, "subscriber: %s: %s\n", hermes_strerror(err), hermes_last_error_detail());
		return 1;
	}
	while (!stop) {
		/* Returns at a message, after a second, or on a signal. */
		if (hermes_sub_wait(sub, HERMES_WAIT_BLOCK, 1000000000) != HERMES_OK)
			continue;
		hermes_msg m;
		while ((err = hermes_sub_poll(sub, &m)) != HERMES_EAGAIN) {
			if (err == HERMES_ELOST) {
				printf("(lost %llu messages)\n", (unsigned long long)m.lost);
				continue;
			}
			printf("seq %llu: %.*s\n", (unsigned long long)m.seq, (int)m.len,
			       (const char *)m.data);
		}
		hermes_sub_release(sub); /* give the space back to producers */
	}
	hermes_sub_close(sub);
	hermes_bus_detach(bus);
	return 0;
}
