/* Hermes for C++17: header-only RAII over the C API of libhermes-ipc.
 *
 *   hermes::bus bus = hermes::bus::attach("default");
 *   hermes::publisher pub(bus, "orders");
 *   if (auto c = pub.try_claim(5)) {              // zero copy: write in place
 *           std::memcpy(c->data().data(), "hello", 5);
 *           c->commit();                          // not committed: aborted at scope exit
 *   }
 *   hermes::subscriber sub(bus, "orders", hermes::start::earliest());
 *   while (sub.wait(hermes::wait_mode::block, std::chrono::seconds(1)))
 *           while (auto m = sub.poll())           // a lease on bytes in the ring
 *                   handle(m->seq(), m->data());  // released when the last lease ends
 *
 * Errors are exceptions: hermes::error (a std::runtime_error) with the
 * hermes_err code, the library's detail message, and for HERMES_ELOST the
 * count. The hot path does not throw for the ordinary cases: a full ring
 * (try_claim, try_send: std::nullopt), no message yet (poll: std::nullopt),
 * a timeout (wait: false). Codes this header does not know are reported like
 * any other, by number and by hermes_strerror.
 *
 * Lifetimes: publishers and subscribers must not outlive their bus; claims
 * and messages must not outlive their publisher or subscriber. Publishers
 * and subscribers are neither copyable nor movable (leases point back at
 * them); hold them by value or in a std::unique_ptr. Thread-safety is the C
 * API's: a bus may be shared by threads; a publisher or subscriber, with
 * its claims and messages, is used by one thread at a time.
 *
 * The remote client (hermes_net_*, hermes/net.h) has no wrapper here; call
 * the C API directly.
 */
#ifndef HERMES_HPP
#define HERMES_HPP

#include <hermes/bus.h>
#include <hermes/error.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hermes {

/* A failed Hermes call. */
class error : public std::runtime_error {
public:
	error(hermes_err code, std::string detail, std::uint64_t lost = 0)
		: std::runtime_error(describe(code, detail, lost)), code_(code),
		  detail_(std::move(detail)), lost_(lost)
	{
	}
	hermes_err code() const noexcept { return code_; }
	/* The library's detail message for control-path calls, else "". */
	const std::string &detail() const noexcept { return detail_; }
	/* With HERMES_ELOST: how many messages were lost. */
	std::uint64_t lost() const noexcept { return lost_; }

private:
	static std::string describe(hermes_err code, const std::string &detail, std::uint64_t lost)
	{
		std::string s = hermes_strerror(code);
		s += " (";
		s += hermes_err_name(code);
		s += ")";
		if (code == HERMES_ELOST && lost)
			s += ": " + std::to_string(lost) + " messages lost";
		if (!detail.empty())
			s += ": " + detail;
		return s;
	}
	hermes_err code_;
	std::string detail_;
	std::uint64_t lost_;
};

namespace detail {
/* Control path: throw with the thread's detail message. */
inline void check(hermes_err e)
{
	if (e != HERMES_OK)
		throw error(e, hermes_last_error_detail());
}
/* Hot path: throw with the code only. */
inline void check_bare(hermes_err e)
{
	if (e != HERMES_OK)
		throw error(e, std::string());
}
inline std::int64_t to_ns(std::optional<std::chrono::nanoseconds> t)
{
	return t ? static_cast<std::int64_t>(t->count()) : -1;
}
} // namespace detail

/* A view of bytes owned by someone else (std::span-like). */
template <class T> class basic_bytes {
public:
	basic_bytes() noexcept = default;
	basic_bytes(T *p, std::size_t n) noexcept : p_(p), n_(n) {}
	T *data() const noexcept { return p_; }
	std::size_t size() const noexcept { return n_; }
	bool empty() const noexcept { return n_ == 0; }
	T *begin() const noexcept { return p_; }
	T *end() const noexcept { return p_ + n_; }
	T &operator[](std::size_t i) const noexcept { return p_[i]; }
	std::string_view str() const noexcept
	{
		return std::string_view(reinterpret_cast<const char *>(p_), n_);
	}

private:
	T *p_ = nullptr;
	std::size_t n_ = 0;
};
using bytes = basic_bytes<unsigned char>;
using const_bytes = basic_bytes<const unsigned char>;

enum class policy { block = HERMES_POLICY_BLOCK, overwrite = HERMES_POLICY_OVERWRITE };
enum class wait_mode { spin = HERMES_WAIT_SPIN, yield = HERMES_WAIT_YIELD, block = HERMES_WAIT_BLOCK };

/* Where a subscriber starts. */
struct start {
	hermes_start mode;
	std::uint64_t seq;
	static start latest() noexcept { return {HERMES_START_LATEST, 0}; }
	static start earliest() noexcept { return {HERMES_START_EARLIEST, 0}; }
	static start at(std::uint64_t seq) noexcept { return {HERMES_START_SEQ, seq}; }
};

struct ring_config {
	std::string name;      /* 1..47 bytes of [A-Za-z0-9._-] */
	std::uint64_t capacity; /* data bytes: a power of two, 4 KiB .. 4 GiB */
	std::uint32_t max_msg;  /* largest payload: <= capacity / 8 */
	hermes::policy policy = policy::block;
	std::uint32_t slots = 0; /* 0: capacity / 64 */
};

/* An attached bus; detached on destruction. Movable. */
class bus {
public:
	/* Create the segment and attach (embedded use: rings are made in place). */
	static bus create(const std::string &name, std::uint64_t size, unsigned mode = 0600)
	{
		hermes_bus *b = nullptr;
		detail::check(hermes_bus_create(name.c_str(), size, mode, &b));
		return bus(b);
	}
	/* Attach to bus name ("" : $HERMES_BUS, else "default"). */
	static bus attach(const std::string &name = std::string())
	{
		hermes_bus *b = nullptr;
		detail::check(hermes_bus_attach(name.empty() ? nullptr : name.c_str(), &b));
		return bus(b);
	}
	static bus attach_readonly(const std::string &name = std::string())
	{
		hermes_bus *b = nullptr;
		detail::check(hermes_bus_attach_readonly(name.empty() ? nullptr : name.c_str(), &b));
		return bus(b);
	}
	/* Remove the segment's name; attached processes keep their mapping. */
	static void unlink(const std::string &name) { detail::check(hermes_bus_unlink(name.c_str())); }

	bus(bus &&o) noexcept : b_(std::exchange(o.b_, nullptr)) {}
	bus &operator=(bus &&o) noexcept
	{
		if (this != &o) {
			hermes_bus_detach(b_);
			b_ = std::exchange(o.b_, nullptr);
		}
		return *this;
	}
	bus(const bus &) = delete;
	bus &operator=(const bus &) = delete;
	~bus() { hermes_bus_detach(b_); }

	std::uint64_t id() const noexcept { return hermes_bus_id(b_); }
	void create_ring(const ring_config &c)
	{
		hermes_ring_config cfg{c.name.c_str(), c.capacity, c.max_msg,
				       static_cast<hermes_policy>(c.policy), c.slots};
		detail::check(hermes_ring_create(b_, &cfg));
	}
	void delete_ring(const std::string &name, bool force = false)
	{
		detail::check(hermes_ring_delete(b_, name.c_str(), force ? 1 : 0));
	}
	/* Every ring with its configuration and who has it open now
	 * (hermes_bus_rings). */
	std::vector<hermes_ring_info> rings() const
	{
		std::vector<hermes_ring_info> v(16);
		unsigned n = 0;
		for (;;) {
			detail::check(hermes_bus_rings(b_, v.data(), static_cast<unsigned>(v.size()), &n));
			if (n <= v.size())
				break;
			v.resize(n); /* rings were made meanwhile: once more */
		}
		v.resize(n);
		return v;
	}
	hermes_bus *get() const noexcept { return b_; }

private:
	explicit bus(hermes_bus *b) noexcept : b_(b) {}
	hermes_bus *b_;
};

/* A claimed region in a ring: write data(), then commit(); a claim still
 * open at scope exit is aborted (its sequence becomes a gap). Movable. */
class claim {
public:
	claim(claim &&o) noexcept : p_(o.p_), c_(o.c_), open_(std::exchange(o.open_, false)) {}
	claim &operator=(claim &&) = delete;
	claim(const claim &) = delete;
	~claim()
	{
		if (open_)
			hermes_pub_abort(p_, &c_);
	}
	/* The payload space of the (first) message. */
	bytes data() noexcept { return bytes(static_cast<unsigned char *>(c_.data), c_.len); }
	/* The sequence of the (first) message. */
	std::uint64_t seq() const noexcept { return hermes_claim_seq(&c_); }
	/* Publish; returns the (first) sequence. */
	std::uint64_t commit()
	{
		open_ = false;
		detail::check_bare(hermes_pub_commit(p_, &c_));
		return seq();
	}
	void abort()
	{
		open_ = false;
		detail::check_bare(hermes_pub_abort(p_, &c_));
	}

protected:
	friend class publisher;
	claim(hermes_pub *p, const hermes_claim &c) noexcept : p_(p), c_(c), open_(true) {}
	hermes_pub *p_;
	hermes_claim c_;
	bool open_;
};

/* Several messages claimed at once, committed or aborted together. */
class batch_claim : public claim {
public:
	std::size_t size() const noexcept { return n_; }
	/* Message i's payload space. */
	bytes data(std::size_t i) const noexcept
	{
		return bytes(static_cast<unsigned char *>(ptrs_[i]), lens_[i]);
	}

private:
	friend class publisher;
	batch_claim(hermes_pub *p, const hermes_claim &c, void *const *ptrs, const std::uint32_t *lens,
		    std::size_t n) noexcept
		: claim(p, c), ptrs_(ptrs), lens_(lens), n_(n)
	{
	}
	void *const *ptrs_;
	const std::uint32_t *lens_;
	std::size_t n_;
};

/* A producer on one ring; closed on destruction. */
class publisher {
public:
	publisher(bus &b, const std::string &ring) { detail::check(hermes_pub_open(b.get(), ring.c_str(), &p_)); }
	publisher(const publisher &) = delete;
	publisher &operator=(const publisher &) = delete;
	~publisher() { hermes_pub_close(p_); }

	/* Claim len bytes; std::nullopt when a block ring is full. Throws for
	 * HERMES_EMSGSIZE, HERMES_ECLOSED, HERMES_EINVAL (a claim is open). */
	std::optional<claim> try_claim(std::uint32_t len)
	{
		hermes_claim c;
		hermes_err e = hermes_pub_claim(p_, len, &c);
		if (e == HERMES_EAGAIN)
			return std::nullopt;
		detail::check_bare(e);
		return claim(p_, c);
	}
	/* Claim, waiting up to timeout for room (std::nullopt: no limit);
	 * throws HERMES_ETIMEDOUT. */
	claim claim_wait(std::uint32_t len, std::optional<std::chrono::nanoseconds> timeout)
	{
		hermes_claim c;
		detail::check_bare(hermes_pub_claim_timed(p_, len, &c, detail::to_ns(timeout)));
		return claim(p_, c);
	}
	/* Claim lens.size() messages (1..1024) in one step; std::nullopt when
	 * the ring is full. lens must outlive the claim. */
	std::optional<batch_claim> try_claim_batch(const std::vector<std::uint32_t> &lens)
	{
		ptrs_.resize(lens.size());
		hermes_claim c;
		hermes_err e = hermes_pub_claim_batch(p_, lens.data(), static_cast<std::uint32_t>(lens.size()),
						      ptrs_.data(), &c);
		if (e == HERMES_EAGAIN)
			return std::nullopt;
		detail::check_bare(e);
		return batch_claim(p_, c, ptrs_.data(), lens.data(), lens.size());
	}
	/* Copy and publish; the sequence, or std::nullopt when the ring is full. */
	std::optional<std::uint64_t> try_send(const void *data, std::uint32_t len)
	{
		std::uint64_t seq;
		hermes_err e = hermes_pub_send(p_, data, len, &seq);
		if (e == HERMES_EAGAIN)
			return std::nullopt;
		detail::check_bare(e);
		return seq;
	}
	std::optional<std::uint64_t> try_send(std::string_view s)
	{
		return try_send(s.data(), static_cast<std::uint32_t>(s.size()));
	}
	/* Copy and publish, waiting up to timeout for room; throws HERMES_ETIMEDOUT. */
	std::uint64_t send(std::string_view s, std::optional<std::chrono::nanoseconds> timeout)
	{
		std::uint64_t seq;
		detail::check_bare(hermes_pub_send_timed(p_, s.data(), static_cast<std::uint32_t>(s.size()),
							 &seq, detail::to_ns(timeout)));
		return seq;
	}
	/* As send, with a user tag (message::tag for subscribers; 0 = none).
	 * A timeout of 0 never waits. */
	std::uint64_t send_tagged(std::string_view s, std::uint32_t tag,
				  std::optional<std::chrono::nanoseconds> timeout)
	{
		std::uint64_t seq;
		detail::check_bare(hermes_pub_send_tagged(p_, s.data(),
							  static_cast<std::uint32_t>(s.size()), tag, &seq,
							  detail::to_ns(timeout)));
		return seq;
	}
	/* Joined subscribers of the ring now (hermes_pub_subscribers). */
	unsigned subscribers() const noexcept { return hermes_pub_subscribers(p_); }
	/* Wait until the ring has at least min subscribers: true, or false at
	 * the timeout (std::nullopt: no limit) or on a signal. Throws
	 * HERMES_ECLOSED. */
	bool wait_subscribers(unsigned min, std::optional<std::chrono::nanoseconds> timeout)
	{
		hermes_err e = hermes_pub_wait_subscribers(p_, min, detail::to_ns(timeout));
		if (e == HERMES_ETIMEDOUT || e == HERMES_EAGAIN)
			return false;
		detail::check_bare(e);
		return true;
	}
	hermes_pub *get() const noexcept { return p_; }

private:
	hermes_pub *p_ = nullptr;
	std::vector<void *> ptrs_;
};

class subscriber;

/* A message polled from a ring, read in place, and a lease on it: the
 * subscriber releases the ring space once no lease is left. Movable. */
class message {
public:
	message(message &&o) noexcept : s_(std::exchange(o.s_, nullptr)), m_(o.m_) {}
	message &operator=(message &&) = delete;
	message(const message &) = delete;
	inline ~message();
	const_bytes data() const noexcept
	{
		return const_bytes(static_cast<const unsigned char *>(m_.data), m_.len);
	}
	std::uint64_t seq() const noexcept { return m_.seq; }
	/* Sequences skipped just before this one (aborted claims). */
	std::uint64_t gap() const noexcept { return m_.gap; }
	/* The publisher's user tag (publisher::send_tagged); 0 = none. */
	std::uint32_t tag() const noexcept { return m_.tag; }

private:
	friend class subscriber;
	message(subscriber *s, const hermes_msg &m) noexcept : s_(s), m_(m) {}
	subscriber *s_;
	hermes_msg m_;
};

/* A consumer with its own cursor on one ring; closed on destruction. */
class subscriber {
public:
	subscriber(bus &b, const std::string &ring, start from = start::latest())
	{
		detail::check(hermes_sub_open(b.get(), ring.c_str(), from.mode, from.seq, &s_));
	}
	subscriber(const subscriber &) = delete;
	subscriber &operator=(const subscriber &) = delete;
	~subscriber() { hermes_sub_close(s_); }

	/* The next message, or std::nullopt when there is none yet. Throws
	 * hermes::error HERMES_ELOST (with lost()) when an overwrite ring lapped
	 * this subscriber; the next poll returns the oldest message left. */
	std::optional<message> poll()
	{
		hermes_msg m;
		hermes_err e = hermes_sub_poll(s_, &m);
		if (e == HERMES_EAGAIN)
			return std::nullopt;
		if (e == HERMES_ELOST)
			throw error(e, std::string(), m.lost);
		detail::check_bare(e);
		leases_++;
		return message(this, m);
	}
	/* Wait until a poll would return something: true, or false at the
	 * timeout (std::nullopt: no limit) or on a signal. Throws HERMES_ECLOSED. */
	bool wait(wait_mode mode, std::optional<std::chrono::nanoseconds> timeout)
	{
		hermes_err e = hermes_sub_wait(s_, static_cast<hermes_wait_mode>(mode), detail::to_ns(timeout));
		if (e == HERMES_ETIMEDOUT || e == HERMES_EAGAIN)
			return false;
		detail::check_bare(e);
		return true;
	}
	/* Call f(const_bytes data, uint64_t seq) for up to max messages (0: all),
	 * then release them; returns how many. Not while leases are held. */
	template <class F> unsigned poll_batch(F &&f, unsigned max = 0)
	{
		unsigned n = 0;
		auto tramp = [](void *ctx, const hermes_msg *m) {
			(*static_cast<F *>(ctx))(const_bytes(static_cast<const unsigned char *>(m->data), m->len),
						 m->seq);
		};
		hermes_err e = hermes_sub_poll_batch(s_, tramp, &f, max, &n);
		if (e == HERMES_ELOST)
			throw error(e, std::string());
		detail::check_bare(e);
		return n;
	}
	/* True once if a release found that a message may have been overwritten
	 * while it was read (overwrite rings): discard what came from it. */
	bool take_overwritten() noexcept { return std::exchange(overwritten_, false); }
	std::uint64_t next_seq() const noexcept { return hermes_sub_next_seq(s_); }
	/* Leases (messages) alive. */
	unsigned leases() const noexcept { return leases_; }
	hermes_sub *get() const noexcept { return s_; }

private:
	friend class message;
	void end_lease() noexcept
	{
		if (--leases_ == 0 && hermes_sub_release(s_) == HERMES_ELOST)
			overwritten_ = true;
	}
	hermes_sub *s_ = nullptr;
	unsigned leases_ = 0;
	bool overwritten_ = false;
};

inline message::~message()
{
	if (s_)
		s_->end_lease();
}

/* One thread waiting on many subscribers and descriptors (hermes_waitset_*,
 * bus.h): members must outlive their membership; one thread at a time,
 * except wake(). */
class waitset {
public:
	waitset() { detail::check(hermes_waitset_create(&w_)); }
	waitset(const waitset &) = delete;
	waitset &operator=(const waitset &) = delete;
	~waitset() { hermes_waitset_destroy(w_); }

	void add(subscriber &s, void *user = nullptr) { detail::check(hermes_waitset_add_sub(w_, s.get(), user)); }
	void add_fd(int fd, void *user = nullptr) { detail::check(hermes_waitset_add_fd(w_, fd, user)); }
	void remove(subscriber &s) { detail::check(hermes_waitset_remove_sub(w_, s.get())); }
	void remove_fd(int fd) { detail::check(hermes_waitset_remove_fd(w_, fd)); }
	/* Up to cap ready members into ready; how many (0: the timeout passed,
	 * std::nullopt = no limit, or wake() or a signal interrupted). */
	unsigned wait(hermes_ready *ready, unsigned cap, std::optional<std::chrono::nanoseconds> timeout)
	{
		unsigned n = 0;
		hermes_err e = hermes_waitset_wait(w_, ready, cap, &n, detail::to_ns(timeout));
		if (e == HERMES_ETIMEDOUT || e == HERMES_EAGAIN)
			return 0;
		detail::check_bare(e);
		return n;
	}
	/* Any thread, or a signal handler: the wait returns 0. */
	void wake() noexcept { hermes_waitset_wake(w_); }
	void set_spin(std::uint32_t checks) noexcept { hermes_waitset_set_spin(w_, checks); }
	/* For an epoll loop: readable when a member may be ready. */
	int fd()
	{
		int f = -1;
		detail::check(hermes_waitset_fd(w_, &f));
		return f;
	}
	hermes_waitset *get() const noexcept { return w_; }

private:
	hermes_waitset *w_ = nullptr;
};

} // namespace hermes

#endif
