/* Minimal publisher: attach to a bus run by hermesd and send lines from the
 * command line (or "hello N" ten times) to a ring.
 *
 *   HERMES_BUS=default hermes-example-publisher events "first" "second"
 */
#include <stdio.h>
#include <string.h>

#include <hermes/hermes.h>

int main(int argc, char **argv)
{
	const char *ring = argc > 1 ? argv[1] : "events";
	hermes_bus *bus;
	hermes_pub *pub;
	hermes_err err = hermes_bus_attach(NULL, &bus); /* NULL: $HERMES_BUS or "default" */
	if (!err)
		err = hermes_pub_open(bus, ring, &pub);
	if (err) {
		fprintf(stderr, "publisher: %s: %s\n", hermes_strerror(err), hermes_last_error_detail());
		return 1;
	}
	char buf[64];
	int n = argc > 2 ? argc - 2 : 10;
	for (int i = 0; i < n; i++) {
		const char *text = argc > 2 ? argv[i + 2] : buf;
		if (argc <= 2)
			snprintf(buf, sizeof buf, "hello %d", i);
		uint64_t seq;
		/* Wait up to a second for room if the ring is full (block policy). */
		err = hermes_pub_send_timed(pub, text, (uint32_t)strlen(text), &seq, 1000000000);
		if (err) {
			fprintf(stderr, "publisher: %s\n", hermes_strerror(err));
			break;
		}
		printf("published seq %llu: %s\n", (unsigned long long)seq, text);
	}
	hermes_pub_close(pub);
	hermes_bus_detach(bus);
	return err ? 1 : 0;
}
