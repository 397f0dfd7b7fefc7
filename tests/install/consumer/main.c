/* Uses only the installed public headers: create a bus, publish and read one
 * message, clean up. Exit status 0 on success. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <hermes/hermes.h>

int main(void)
{
	char name[64];
	snprintf(name, sizeof name, "install-%d", (int)getpid());
	hermes_bus *bus;
	hermes_ring_config cfg = {.name = "r", .capacity = 1 << 16, .max_msg = 256};
	hermes_sub *sub;
	hermes_pub *pub;
	hermes_msg m;
	int ok = hermes_bus_create(name, 1 << 20, 0600, &bus) == HERMES_OK &&
		 hermes_ring_create(bus, &cfg) == HERMES_OK &&
		 hermes_sub_open(bus, "r", HERMES_START_LATEST, 0, &sub) == HERMES_OK &&
		 hermes_pub_open(bus, "r", &pub) == HERMES_OK &&
		 hermes_pub_send(pub, "installed", 9, NULL) == HERMES_OK &&
		 hermes_sub_poll(sub, &m) == HERMES_OK && m.len == 9 &&
		 memcmp(m.data, "installed", 9) == 0;
	if (ok) {
		hermes_pub_close(pub);
		hermes_sub_close(sub);
		hermes_bus_detach(bus);
	}
	hermes_bus_unlink(name);
	printf("consumer: %s\n", ok ? "ok" : hermes_last_error_detail());
	return ok ? 0 : 1;
}
