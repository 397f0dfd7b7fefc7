/* Zero-copy publishing: build each message in place in the ring, and publish
 * a batch of them with one atomic claim.
 *
 *   HERMES_BUS=default hermes-example-zerocopy events
 */
#include <stdio.h>
#include <string.h>

#include <hermes/hermes.h>

struct tick {
	uint64_t instrument;
	int64_t price;
	uint32_t quantity;
	uint32_t flags;
};

int main(int argc, char **argv)
{
	const char *ring = argc > 1 ? argv[1] : "events";
	hermes_bus *bus;
	hermes_pub *pub;
	hermes_err err = hermes_bus_attach(NULL, &bus);
	if (!err)
		err = hermes_pub_open(bus, ring, &pub);
	if (err) {
		fprintf(stderr, "zerocopy: %s: %s\n", hermes_strerror(err), hermes_last_error_detail());
		return 1;
	}
	/* One message: claim, fill in place, commit. */
	hermes_claim c;
	if ((err = hermes_pub_claim_timed(pub, sizeof(struct tick), &c, 1000000000)) == HERMES_OK) {
		struct tick *t = c.data; /* 8-byte aligned inside the ring */
		*t = (struct tick){.instrument = 42, .price = 101250, .quantity = 7};
		hermes_pub_commit(pub, &c);
	}
	/* Sixteen messages, one claim: subscribers see none of them before the
	 * commit and all of them after. */
	uint32_t lens[16];
	void *ptrs[16];
	for (int i = 0; i < 16; i++)
		lens[i] = sizeof(struct tick);
	if (!err && (err = hermes_pub_claim_batch(pub, lens, 16, ptrs, &c)) == HERMES_OK) {
		for (int i = 0; i < 16; i++)
			*(struct tick *)ptrs[i] = (struct tick){.instrument = 42, .price = 101250 + i,
								.quantity = 1};
		hermes_pub_commit(pub, &c);
		printf("published 17 ticks, the batch from sequence %llu\n",
		       (unsigned long long)hermes_claim_seq(&c));
	}
	if (err)
		fprintf(stderr, "zerocopy: %s\n", hermes_strerror(err));
	hermes_pub_close(pub);
	hermes_bus_detach(bus);
	return err ? 1 : 0;
}
