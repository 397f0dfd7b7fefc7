/* Uses only the installed public headers: create a bus, publish and read one
 * message, clean up; check the library's version against the headers; and
 * call into the remote client with a key file, so a static link must bring
 * libsodium too. Exit status 0 on success. */
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
	if (!ok) {
		printf("consumer: %s\n", hermes_last_error_detail());
		return 1;
	}
	if (strcmp(hermes_version(), HERMES_VERSION_STRING) != 0 ||
	    hermes_version_number() != HERMES_VERSION_NUMBER) {
		printf("consumer: library %s, headers %s\n", hermes_version(), HERMES_VERSION_STRING);
		return 1;
	}
	/* Nothing listens on port 1 and the key file does not exist: this must
	 * fail, not crash or fail to link. */
	hermes_net_options o;
	hermes_net_options_init(&o);
	o.key_file = "/nonexistent/hermes-install-test.key";
	hermes_net *n = NULL;
	if (hermes_net_connect("127.0.0.1:1", &o, &n) == HERMES_OK) {
		hermes_net_close(n);
		printf("consumer: connected to 127.0.0.1:1?\n");
		return 1;
	}
	printf("consumer: ok (hermes %s)\n", hermes_version());
	return 0;
}
