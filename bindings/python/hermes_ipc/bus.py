"""The shared-memory bus (include/hermes/bus.h): attach, rings, zero-copy
publish and subscribe.

Zero copy: Publisher.claim hands out a writable memoryview into the ring,
Subscriber.poll a read-only memoryview of the message in the ring. A polled
view stays valid until Subscriber.release (or the end of the message's
``with`` block), which releases every view poll handed out, so reading one
afterwards raises ValueError. Views sliced from them are not tracked: take
bytes() of what must outlive the release.

Threads: a Bus may be shared by threads; a Publisher or Subscriber is used
by one thread at a time. Blocking calls (wait, claim/send with a timeout)
release the GIL.
"""

import ctypes
import weakref

from . import _lib
from ._lib import lib
from .errors import EAGAIN, ELOST, ETIMEDOUT, HermesError, check, check_bare

BLOCK, OVERWRITE = 0, 1  # ring policies
LATEST, EARLIEST, AT_SEQ = 0, 1, 2  # subscriber start
WAIT_SPIN, WAIT_YIELD, WAIT_BLOCK = 0, 1, 2  # wait modes


def _closed():
    raise HermesError(25, "the handle was closed")


def _name(s):
    if isinstance(s, str):
        s = s.encode()
    if b"\0" in s:
        raise ValueError("a name must not contain NUL bytes")
    return s


class Bus(_lib.Closable):
    """An attached bus; detached by close() or at the end of a ``with``."""

    def __init__(self, handle):
        self._h = handle
        self._children = weakref.WeakSet()  # closed before the bus detaches

    @classmethod
    def create(cls, name, size, mode=0o600):
        """Create the segment (embedded use: rings are made in place, no
        hermesd needed) and attach to it."""
        h = ctypes.c_void_p()
        check(lib.hermes_bus_create(_name(name), size, mode, ctypes.byref(h)))
        return cls(h)

    @classmethod
    def attach(cls, name=None, readonly=False):
        """Attach to bus name (None: $HERMES_BUS, else "default")."""
        h = ctypes.c_void_p()
        f = lib.hermes_bus_attach_readonly if readonly else lib.hermes_bus_attach
        check(f(None if name is None else _name(name), ctypes.byref(h)))
        return cls(h)

    @staticmethod
    def unlink(name):
        """Remove the segment's name; attached processes keep their mapping."""
        check(lib.hermes_bus_unlink(_name(name)))

    def _handle(self):
        if not self._h:
            raise HermesError(25, "the bus was closed")
        return self._h

    @property
    def id(self):
        return lib.hermes_bus_id(self._handle())

    def create_ring(self, name, capacity, max_msg, policy=BLOCK, slots=0):
        cfg = _lib.RingConfig(_name(name), capacity, max_msg, policy, slots)
        check(lib.hermes_ring_create(self._handle(), ctypes.byref(cfg)))

    def delete_ring(self, name, force=False):
        check(lib.hermes_ring_delete(self._handle(), _name(name), int(force)))

    def rings(self):
        """Every ring: a list of dicts (name, policy, capacity, max_msg,
        slots, producers, subscribers, next_seq), from hermes_bus_rings."""
        n = ctypes.c_uint()
        check(lib.hermes_bus_rings(self._handle(), None, 0, ctypes.byref(n)))
        arr = (_lib.RingInfo * max(n.value, 1))()
        check(lib.hermes_bus_rings(self._handle(), arr, len(arr), ctypes.byref(n)))
        return [{"name": r.name.decode(), "policy": r.policy, "capacity": r.capacity,
                 "max_msg": r.max_msg, "slots": r.slots, "producers": r.producers,
                 "subscribers": r.subscribers, "next_seq": r.next_seq}
                for r in arr[:min(n.value, len(arr))]]

    def publisher(self, ring):
        return Publisher(self, ring)

    def subscriber(self, ring, start=LATEST, seq=0):
        return Subscriber(self, ring, start, seq)

    def close(self):
        """Close the publishers and subscribers still open on it, then detach."""
        if self._h:
            for c in list(self._children):
                c.close()
            lib.hermes_bus_detach(self._h)
            self._h = None


class Claim:
    """Room in the ring for one message (data: a writable memoryview) or a
    batch (views: one per message). commit() publishes, abort() gives the
    room back; as a context manager it commits on a normal exit and aborts
    on an exception. A claim neither committed nor aborted is aborted when
    its publisher claims again or closes."""

    def __init__(self, pub, c, views):
        self._pub = pub
        self._c = c
        self.views = views
        self.data = views[0]
        self.seq = c.seq_

    def _finish(self, f):
        if self._c is None:
            raise HermesError(3, "the claim was already committed or aborted")
        c, self._c = self._c, None
        for v in self.views:
            v.release()
        self._pub._claim = None
        check_bare(f(self._pub._h, ctypes.byref(c)))
        return c.seq_

    def commit(self):
        """Publish; returns the (first) message's sequence."""
        return self._finish(lib.hermes_pub_commit)

    def abort(self):
        self._finish(lib.hermes_pub_abort)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if self._c is not None:
            if exc_type is None:
                self.commit()
            else:
                self.abort()


class Publisher(_lib.Closable):
    """A producer on one ring."""

    def __init__(self, bus, ring):
        self._h = None
        self._bus = bus  # keeps the bus attached
        h = ctypes.c_void_p()
        check(lib.hermes_pub_open(bus._handle(), _name(ring), ctypes.byref(h)))
        self._h = h
        bus._children.add(self)
        self._claim = None
        self._seq = ctypes.c_uint64()

    def _drop_claim(self):
        if self._claim is not None and self._claim._c is not None:
            self._claim.abort()

    def claim(self, size, timeout=0):
        """Claim size bytes; returns a Claim, or None when a block ring is full
        (timeout 0, the default) or stayed full for timeout seconds (None:
        no limit)."""
        self._drop_claim()
        c = _lib.Claim()
        if timeout == 0:
            code = lib.hermes_pub_claim(self._h or _closed(), size, ctypes.byref(c))
        else:
            code = lib.hermes_pub_claim_timed(self._h or _closed(), size, ctypes.byref(c), _lib.timeout_ns(timeout))
        if code in (EAGAIN, ETIMEDOUT):
            return None
        check_bare(code)
        self._claim = Claim(self, c, [_lib.view(c.data or 0, c.len, False)])
        return self._claim

    def claim_batch(self, sizes):
        """Claim len(sizes) messages (1..1024) committed together; Claim.views
        holds one writable view per message. None when the ring is full."""
        self._drop_claim()
        n = len(sizes)
        lens = (ctypes.c_uint32 * n)(*sizes)
        ptrs = (ctypes.c_void_p * n)()
        c = _lib.Claim()
        code = lib.hermes_pub_claim_batch(self._h or _closed(), lens, n, ptrs, ctypes.byref(c))
        if code == EAGAIN:
            return None
        check_bare(code)
        views = [_lib.view(ptrs[i] or 0, sizes[i], False) for i in range(n)]
        self._claim = Claim(self, c, views)
        return self._claim

    def send(self, data, timeout=0, tag=0):
        """Copy data (bytes-like) into the ring as one message; returns its
        sequence, or None when the ring is full (timeout 0) or stayed full for
        timeout seconds (None: no limit). tag: the message's user tag (a
        message type, a schema id; Message.tag for subscribers), 0 = none."""
        self._drop_claim()
        data = bytes(data) if not isinstance(data, bytes) else data
        if tag:
            code = lib.hermes_pub_send_tagged(self._h or _closed(), data, len(data), tag,
                                              ctypes.byref(self._seq), _lib.timeout_ns(timeout))
        elif timeout == 0:
            code = lib.hermes_pub_send(self._h or _closed(), data, len(data), ctypes.byref(self._seq))
        else:
            code = lib.hermes_pub_send_timed(self._h or _closed(), data, len(data), ctypes.byref(self._seq),
                                             _lib.timeout_ns(timeout))
        if code in (EAGAIN, ETIMEDOUT):
            return None
        check_bare(code)
        return self._seq.value

    @property
    def subscribers(self):
        """Joined subscribers of the ring now (hermes_pub_subscribers)."""
        return lib.hermes_pub_subscribers(self._h or _closed())

    def wait_subscribers(self, count=1, timeout=None):
        """Wait (without the GIL) until the ring has at least count
        subscribers: True, or False after timeout seconds (None: no limit)
        or on a signal. A message sent after True reaches them."""
        code = lib.hermes_pub_wait_subscribers(self._h or _closed(), count, _lib.timeout_ns(timeout))
        if code in (ETIMEDOUT, EAGAIN):
            return False
        check_bare(code)
        return True

    def close(self):
        if self._h:
            self._drop_claim()
            lib.hermes_pub_close(self._h)
            self._h = None


class Message:
    """A message polled from the ring: data (read-only memoryview into the
    ring), seq, gap, tag (the publisher's user tag, 0 = none). As a context
    manager it releases its subscriber (and so every message polled so far)
    at the end of the block."""

    __slots__ = ("data", "seq", "gap", "tag", "_sub")

    def __init__(self, sub, data, seq, gap, tag=0):
        self._sub, self.data, self.seq, self.gap, self.tag = sub, data, seq, gap, tag

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._sub.release()


class Subscriber(_lib.Closable):
    """A consumer with its own cursor on one ring."""

    def __init__(self, bus, ring, start=LATEST, seq=0):
        self._h = None
        self._views = []
        self._bus = bus
        h = ctypes.c_void_p()
        check(lib.hermes_sub_open(bus._handle(), _name(ring), start, seq, ctypes.byref(h)))
        self._h = h
        bus._children.add(self)
        self._msg = _lib.Msg()
        self._views = []

    def poll(self):
        """The next Message, or None when there is none yet. Raises
        HermesError ELOST (with .lost) when an overwrite ring lapped this
        subscriber; the next poll returns the oldest message still there."""
        m = self._msg
        code = lib.hermes_sub_poll(self._h or _closed(), ctypes.byref(m))
        if code == EAGAIN:
            return None
        if code == ELOST:
            raise HermesError(ELOST, lost=m.lost)
        check_bare(code)
        v = _lib.view(m.data or 0, m.len, True)
        self._views.append(v)
        return Message(self, v, m.seq, m.gap, m.tag)

    def release(self):
        """Release every message polled so far (their views become unusable).
        Raises HermesError ELOST on an overwrite ring when one of them may
        have been overwritten while it was read: discard what came from it."""
        for v in self._views:
            v.release()
        self._views.clear()
        check_bare(lib.hermes_sub_release(self._h or _closed()))

    def poll_batch(self, handler, max_count=0):
        """Call handler(data, seq) for up to max_count messages (0: all there),
        then release them; data is valid only during the call. Returns how
        many were handled."""
        views = []

        def tramp(_ctx, mp):
            m = mp.contents
            v = _lib.view(m.data or 0, m.len, True)
            views.append(v)
            handler(v, m.seq)

        n = ctypes.c_uint()
        code = lib.hermes_sub_poll_batch(self._h or _closed(), _lib.HANDLER(tramp), None, max_count, ctypes.byref(n))
        for v in views:
            v.release()
        check_bare(code)
        return n.value

    def recv(self, buf):
        """Copy the next message into buf (a writable bytes-like object) and
        release it; returns (length, seq), or None when there is none.
        Raises HermesError ENOBUFS (.lost unused) when buf is too small."""
        arr = (ctypes.c_char * len(buf)).from_buffer(buf)
        m = self._msg
        code = lib.hermes_sub_recv(self._h or _closed(), arr, len(buf), ctypes.byref(m))
        if code == EAGAIN:
            return None
        if code == ELOST:
            raise HermesError(ELOST, lost=m.lost)
        check_bare(code)
        return m.len, m.seq

    def wait(self, timeout=None, mode=WAIT_BLOCK):
        """Wait (without the GIL) until a poll would return something: True,
        or False after timeout seconds (None: no limit) or on a signal."""
        code = lib.hermes_sub_wait(self._h or _closed(), mode, _lib.timeout_ns(timeout))
        if code in (ETIMEDOUT, EAGAIN):
            return False
        check_bare(code)
        return True

    @property
    def next_seq(self):
        return lib.hermes_sub_next_seq(self._h or _closed())

    def close(self):
        if self._h:
            for v in self._views:
                v.release()
            self._views.clear()
            lib.hermes_sub_close(self._h)
            self._h = None


class WaitSet(_lib.Closable):
    """One thread waiting on many subscribers and file descriptors
    (hermes_waitset_*): wait() returns the members that are ready, each as
    the object given to add (a Subscriber, or the fd's key). Members must stay
    open while they are in the set; one thread at a time, except wake()."""

    def __init__(self, capacity=64):
        h = ctypes.c_void_p()
        check(lib.hermes_waitset_create(ctypes.byref(h)))
        self._h = h
        self._members = {}  # token -> object
        self._ready = (_lib.Ready * capacity)()

    def add(self, sub, key=None):
        """Add a Subscriber; wait() reports key (default: the subscriber)."""
        token = id(sub)
        check(lib.hermes_waitset_add_sub(self._h or _closed(), sub._h or _closed(), token))
        self._members[token] = sub if key is None else key

    def add_fd(self, fd, key=None):
        """Add a descriptor (e.g. net.Client.fileno()); reported when readable."""
        fd = fd if isinstance(fd, int) else fd.fileno()
        token = (1 << 62) | fd
        check(lib.hermes_waitset_add_fd(self._h or _closed(), fd, token))
        self._members[token] = fd if key is None else key

    def remove(self, sub):
        check(lib.hermes_waitset_remove_sub(self._h or _closed(), sub._h or _closed()))
        self._members.pop(id(sub), None)

    def remove_fd(self, fd):
        fd = fd if isinstance(fd, int) else fd.fileno()
        check(lib.hermes_waitset_remove_fd(self._h or _closed(), fd))
        self._members.pop((1 << 62) | fd, None)

    def wait(self, timeout=None):
        """Wait (without the GIL) up to timeout seconds (None: no limit);
        the ready members' keys, [] at the timeout or after wake()."""
        n = ctypes.c_uint()
        code = lib.hermes_waitset_wait(self._h or _closed(), self._ready, len(self._ready),
                                       ctypes.byref(n), _lib.timeout_ns(timeout))
        if code in (ETIMEDOUT, EAGAIN):
            return []
        check_bare(code)
        return [self._members.get(r.user) for r in self._ready[:n.value]]

    def wake(self):
        """Make a wait() in another thread return [] (any thread)."""
        lib.hermes_waitset_wake(self._h or _closed())

    def fileno(self):
        """A descriptor for select/selectors/asyncio: readable when a member
        may be ready; then call wait(0)."""
        fd = ctypes.c_int()
        check(lib.hermes_waitset_fd(self._h or _closed(), ctypes.byref(fd)))
        return fd.value

    def close(self):
        if self._h:
            lib.hermes_waitset_destroy(self._h)
            self._h = None
