/* A publisher and a subscriber on one ring, in one process, with
 * include/hermes/hermes.hpp: creates a private bus (no hermesd needed),
 * publishes zero-copy, reads in place. Built as hermes-cpp-pubsub. */
#include <hermes/hermes.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

int main()
{
	std::string name = "cpp-example-" + std::to_string(getpid());
	try {
		hermes::bus bus = hermes::bus::create(name, 16u << 20);
		bus.create_ring({"orders", 1u << 16, 1024});
		hermes::subscriber sub(bus, "orders", hermes::start::latest());

		std::thread producer([&bus] {
			hermes::publisher pub(bus, "orders");
			for (int i = 0; i < 5; i++) {
				std::string text = "order " + std::to_string(i);
				hermes::claim c = pub.claim_wait(static_cast<std::uint32_t>(text.size()),
								 std::chrono::seconds(5));
				std::memcpy(c.data().data(), text.data(), text.size()); /* in place */
				c.commit(); /* not committed: aborted at scope exit */
			}
		});
		int seen = 0;
		while (seen < 5 && sub.wait(hermes::wait_mode::block, std::chrono::seconds(5)))
			while (auto m = sub.poll()) { /* a lease on bytes in the ring */
				std::printf("%llu: %.*s\n", static_cast<unsigned long long>(m->seq()),
					    static_cast<int>(m->data().size()), m->data().str().data());
				seen++;
			}
		producer.join();
	} catch (const hermes::error &e) {
		std::fprintf(stderr, "pubsub: %s\n", e.what());
		hermes_bus_unlink(name.c_str());
		return 1;
	}
	hermes::bus::unlink(name);
	return 0;
}
