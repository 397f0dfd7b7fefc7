/* The smallest complete Hermes program: create a bus with one ring, publish
 * three messages (one zero-copy, two copied), read them back, clean up.
 * In production, hermesd creates the bus and rings; a client only calls
 * hermes_bus_attach. */
#include <stdio.h>
#include <string.h>

#include <hermes/hermes.h>

static int fail(const char *what, hermes_err err)
{
	fprintf(stderr, "%s: %s (%s)\n", what, hermes_strerror(err), hermes_last_error_detail());
	return 1;
}

int main(void)
{
	hermes_bus *bus;
	hermes_err err = hermes_bus_create("example", 1 << 20, 0600, &bus);
	if (err)
		return fail("create bus", err);
	hermes_ring_config cfg = {.name = "greetings", .capacity = 64 * 1024, .max_msg = 1024,
				  .policy = HERMES_POLICY_BLOCK};
	if ((err = hermes_ring_create(bus, &cfg)))
		return fail("create ring", err);

	hermes_sub *sub;
	hermes_pub *pub;
	if ((err = hermes_sub_open(bus, "greetings", HERMES_START_LATEST, 0, &sub)))
		return fail("open subscriber", err);
	if ((err = hermes_pub_open(bus, "greetings", &pub)))
		return fail("open publisher", err);

	/* Zero-copy: claim room in the ring, write in place, commit. */
	hermes_claim claim;
	if ((err = hermes_pub_claim(pub, 5, &claim)))
		return fail("claim", err);
	memcpy(claim.data, "hello", 5);
	hermes_pub_commit(pub, &claim);
	/* Copying helper. */
	hermes_pub_send(pub, "from", 4, NULL);
	hermes_pub_send(pub, "hermes", 6, NULL);

	/* Wait (futex) until something is there, then drain. */
	hermes_msg m;
	while (hermes_sub_wait(sub, HERMES_WAIT_BLOCK, 1000000000) == HERMES_OK &&
	       hermes_sub_poll(sub, &m) == HERMES_OK) {
		printf("seq %llu: %.*s\n", (unsigned long long)m.seq, (int)m.len, (const char *)m.data);
		if (m.seq == 2)
			break;
	}
	hermes_sub_release(sub); /* the pointers above are invalid from here */

	hermes_pub_close(pub);
	hermes_sub_close(sub);
	hermes_bus_detach(bus);
	hermes_bus_unlink("example");
	return 0;
}
