// The installed C++ header, from a project outside this one: it compiles on
// its own with warnings as errors, links through pkg-config, and reports a
// missing bus as a hermes::error carrying HERMES_ENOENT.
#include <hermes/hermes.hpp>

#include <cstdio>

int main()
{
	try {
		hermes::bus b = hermes::bus::attach("install-test-no-such-bus");
		std::fprintf(stderr, "attached to a bus that does not exist\n");
		return 1;
	} catch (const hermes::error &e) {
		if (e.code() != HERMES_ENOENT) {
			std::fprintf(stderr, "unexpected error %s\n", e.what());
			return 1;
		}
	}
	std::puts("C++ header: ok");
	return 0;
}
