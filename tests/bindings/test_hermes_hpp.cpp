/* include/hermes/hermes.hpp against the real library: RAII of bus,
 * publisher, subscriber, claims and message leases, and exceptions with
 * codes and details. The bus is created by the test (rings in place, no
 * hermesd) and unlinked at the end. Built with -Wall -Wextra -Werror and,
 * in the asan preset, run under AddressSanitizer. */
#include <hermes/hermes.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

/* The test's bus, removed on failure too (a failed check exits at once). */
static std::string bus_name;

#define CHECK(cond)                                                                       \
	do {                                                                              \
		if (!(cond)) {                                                            \
			std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
				     #cond);                                              \
			hermes_bus_unlink(bus_name.c_str());                              \
			std::exit(1);                                                     \
		}                                                                         \
	} while (0)

template <class F> static hermes_err code_of(F &&f)
{
	try {
		f();
	} catch (const hermes::error &e) {
		CHECK(std::string(e.what()).find(hermes_err_name(e.code())) != std::string::npos);
		return e.code();
	}
	return HERMES_OK;
}

static void claims_commit_or_abort(hermes::bus &bus)
{
	bus.create_ring({"orders", 64 * 1024, 1024});
	hermes::publisher pub(bus, "orders");
	hermes::subscriber sub(bus, "orders", hermes::start::earliest());
	CHECK(!sub.poll());

	std::uint64_t first;
	{
		auto c = pub.try_claim(5);
		CHECK(c);
		std::memcpy(c->data().data(), "hello", 5);
		first = c->commit();
	}
	{
		auto c = pub.try_claim(3); /* not committed: aborted at scope exit */
		CHECK(c && c->data().size() == 3);
	}
	std::vector<std::uint32_t> lens{1, 2};
	{
		auto b = pub.try_claim_batch(lens);
		CHECK(b && b->size() == 2);
		std::memcpy(b->data(0).data(), "a", 1);
		std::memcpy(b->data(1).data(), "bb", 2);
		b->commit();
	}
	/* Start over with a fresh subscriber so the lease count is simple. */
	hermes::subscriber again(bus, "orders", hermes::start::earliest());
	{
		auto m1 = again.poll();
		auto m2 = again.poll();
		auto m3 = again.poll();
		CHECK(m1 && m2 && m3 && !again.poll());
		CHECK(m1->data().str() == "hello" && m1->seq() == first && m1->gap() == 0);
		CHECK(m2->data().str() == "a" && m2->seq() == first + 2 && m2->gap() == 1);
		CHECK(m3->data().str() == "bb");
		CHECK(again.leases() == 3);
		hermes::message moved(std::move(*m1));
		m1.reset();
		CHECK(again.leases() == 3 && moved.data().str() == "hello");
	}
	CHECK(again.leases() == 0); /* the last lease released the ring space */
	CHECK(again.next_seq() == first + 4);

	auto s = pub.try_send("x");
	CHECK(s && *s == first + 4);
	unsigned seen = 0;
	CHECK(again.poll_batch([&](hermes::const_bytes d, std::uint64_t seq) {
		CHECK(d.str() == "x" && seq == first + 4);
		seen++;
	}) == 1);
	CHECK(seen == 1);

	/* User tags. */
	std::uint64_t t = pub.send_tagged("typed", 0x2a, std::chrono::nanoseconds(0));
	pub.try_send("plain");
	{
		auto a = again.poll(), b = again.poll();
		CHECK(a && a->seq() == t && a->tag() == 0x2a && a->data().str() == "typed");
		CHECK(b && b->tag() == 0);
	}
}

static void full_rings_waits_and_errors(hermes::bus &bus)
{
	bus.create_ring({"small", 4096, 256});
	hermes::publisher pub(bus, "small");
	hermes::subscriber sub(bus, "small");
	std::string big(200, 'z');
	int sent = 0;
	while (pub.try_send(big))
		CHECK(++sent < 1000);
	CHECK(!pub.try_claim(200));
	CHECK(code_of([&] { pub.send(big, std::chrono::milliseconds(10)); }) == HERMES_ETIMEDOUT);
	CHECK(code_of([&] { pub.try_claim(257); }) == HERMES_EMSGSIZE);
	int got = 0;
	while (auto m = sub.poll()) {
		CHECK(m->data().size() == 200);
		got++;
	}
	CHECK(got == sent);

	auto t0 = std::chrono::steady_clock::now();
	CHECK(!sub.wait(hermes::wait_mode::block, std::chrono::milliseconds(20)));
	CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(20));
	std::thread producer([&bus] {
		hermes::publisher p(bus, "small");
		p.send("wake", std::chrono::seconds(10));
	});
	CHECK(sub.wait(hermes::wait_mode::block, std::chrono::seconds(10)));
	producer.join();
	auto m = sub.poll();
	CHECK(m && m->data().str() == "wake");

	CHECK(code_of([&] { hermes::publisher p(bus, "nosuch"); }) == HERMES_ENOENT);
	try {
		bus.create_ring({"odd", 5000, 16});
		CHECK(false);
	} catch (const hermes::error &e) {
		CHECK(e.code() == HERMES_EINVAL && !e.detail().empty());
	}
}

static void lapped_subscriber(hermes::bus &bus)
{
	bus.create_ring({"ow", 4096, 256, hermes::policy::overwrite});
	hermes::publisher pub(bus, "ow");
	hermes::subscriber sub(bus, "ow", hermes::start::earliest());
	std::string msg(100, 'o');
	for (int i = 0; i < 200; i++)
		CHECK(pub.try_send(msg));
	std::uint64_t lost = 0;
	try {
		sub.poll();
	} catch (const hermes::error &e) {
		CHECK(e.code() == HERMES_ELOST);
		lost = e.lost();
	}
	CHECK(lost > 0);
	std::uint64_t seen = 0;
	while (auto m = sub.poll())
		seen++;
	CHECK(lost + seen == 200);
}

/* A wait set over two rings, subscriber counts, the ring list. */
static void many_rings_one_thread(hermes::bus &bus)
{
	bus.create_ring({"left", 64 * 1024, 256});
	bus.create_ring({"right", 64 * 1024, 256});
	hermes::publisher right(bus, "right");
	CHECK(right.subscribers() == 0);
	CHECK(!right.wait_subscribers(1, std::chrono::milliseconds(1)));
	hermes::subscriber l(bus, "left"), r(bus, "right");
	CHECK(right.subscribers() == 1);
	CHECK(right.wait_subscribers(1, std::nullopt));
	hermes::waitset ws;
	int ltag = 0, rtag = 0;
	ws.add(l, &ltag);
	ws.add(r, &rtag);
	hermes_ready ready[4];
	CHECK(ws.wait(ready, 4, std::chrono::milliseconds(1)) == 0);
	std::thread t([&] { right.try_send("x"); });
	unsigned n = ws.wait(ready, 4, std::chrono::seconds(10));
	t.join();
	CHECK(n == 1 && ready[0].user == &rtag && ready[0].sub == r.get());
	CHECK(r.poll());
	ws.wake();
	CHECK(ws.wait(ready, 4, std::nullopt) == 0);
	ws.remove(l);
	ws.remove(r);
	bool found = false;
	for (const hermes_ring_info &i : bus.rings())
		if (std::string(i.name) == "right")
			found = i.producers == 1 && i.subscribers == 1 && i.max_msg == 256;
	CHECK(found);
}

int main()
{
	bus_name = "cpp-" + std::to_string(getpid());
	const std::string &name = bus_name;
	CHECK(code_of([&] { hermes::bus::attach(name); }) == HERMES_ENOENT);
	int rc = 0;
	{
		hermes::bus bus = hermes::bus::create(name, 16u << 20);
		hermes::bus moved = std::move(bus);
		CHECK(moved.id() != 0);
		claims_commit_or_abort(moved);
		full_rings_waits_and_errors(moved);
		lapped_subscriber(moved);
		many_rings_one_thread(moved);
		hermes::bus ro = hermes::bus::attach_readonly(name);
		CHECK(ro.id() == moved.id());
		CHECK(code_of([&] { hermes::publisher p(ro, "orders"); }) == HERMES_EPERM);
	}
	hermes::bus::unlink(name);
	std::puts("test_hermes_hpp: all checks passed");
	return rc;
}
