"""The remote client (include/hermes/net.h): publish and subscribe through a
hermes-bridge over TCP, with the handshake, authentication and encryption
done by libhermes-ipc. Blocking calls release the GIL."""

import ctypes
from collections import namedtuple

from . import _lib
from ._lib import lib
from .bus import LATEST, _name
from .errors import EAGAIN, ETIMEDOUT, check, check_bare

PUB_ACK = 0x1  # the bridge answers with the ring sequence (an "ack" event)
PUB_FLUSH = 0x2  # write the send buffer now

EVENT_NAMES = {1: "message", 2: "ack", 3: "loss", 4: "error", 5: "pong", 6: "bound",
               7: "subscribed", 8: "closed"}

# kind: one of EVENT_NAMES' values; channel: channel or subscription; seq and
# value as net.h's hermes_net_event says for the kind; code, fatal: ERROR and
# CLOSED; data: message payload or error text, a memoryview into the receive
# buffer valid until the next call on the connection; tag: a message's user
# tag (0 = none).
Event = namedtuple("Event", "kind channel seq value code fatal policy data tag")
RingInfo = namedtuple("RingInfo", "max_message policy first_seq")


class Connection(_lib.Closable):
    """One TCP connection to a bridge; close() (or the end of a ``with``)
    sends GOODBYE. Options left None keep the library default or their
    environment variable ($HERMES_NET_IDENTITY, _KEY_FILE, _ENCRYPT,
    _TIMEOUT_MS)."""

    def __init__(self, address, identity=None, key_file=None, encrypt=None, max_frame=None,
                 connect_timeout=None):
        self._h = None
        o = _lib.NetOptions()
        lib.hermes_net_options_init(ctypes.byref(o))
        if identity is not None:
            o.identity = _name(identity)
        if key_file is not None:
            o.key_file = str(key_file).encode()
        if encrypt is not None:
            o.encrypt = int(bool(encrypt))
        if max_frame is not None:
            o.max_frame = max_frame
        if connect_timeout is not None:
            o.connect_timeout_ns = max(1, _lib.timeout_ns(connect_timeout))
        h = ctypes.c_void_p()
        check(lib.hermes_net_connect(_name(address), ctypes.byref(o), ctypes.byref(h)))
        self._h = h
        self._ev = _lib.NetEvent()
        self._view = None
        self._seq = ctypes.c_uint64()

    def _drop_view(self):
        if self._view is not None:
            self._view.release()
            self._view = None

    @property
    def server_name(self):
        return lib.hermes_net_server_name(self._h).decode(errors="replace")

    @property
    def features(self):
        return lib.hermes_net_features(self._h)

    def fileno(self):
        """The socket, for select/poll (readable: poll may have something)."""
        return lib.hermes_net_fd(self._h)

    def bind(self, ring, timeout=10.0):
        """Bind a publishing channel to ring; returns (channel, RingInfo)."""
        self._drop_view()
        ch, info = ctypes.c_uint32(), _lib.NetRingInfo()
        check(lib.hermes_net_bind(self._h, _name(ring), _lib.timeout_ns(timeout), ctypes.byref(ch),
                                  ctypes.byref(info)))
        return ch.value, RingInfo(info.max_message, info.policy, info.first_seq)

    def unbind(self, channel):
        check(lib.hermes_net_unbind(self._h, channel))

    def publish(self, channel, data, flags=0, tag=0):
        """Queue a message (flags PUB_ACK, PUB_FLUSH) with user tag tag (0:
        none); returns the publish sequence its ack or error event carries."""
        data = bytes(data)
        check_bare(lib.hermes_net_publish_tagged(self._h, channel, data, len(data), tag, flags,
                                                 ctypes.byref(self._seq)))
        return self._seq.value

    def flush(self, timeout=10.0):
        check_bare(lib.hermes_net_flush(self._h, _lib.timeout_ns(timeout)))

    def subscribe(self, ring, start=LATEST, seq=0, timeout=10.0):
        """Subscribe; returns (subscription id, RingInfo)."""
        self._drop_view()
        sub, info = ctypes.c_uint32(), _lib.NetRingInfo()
        check(lib.hermes_net_subscribe(self._h, _name(ring), start, seq, _lib.timeout_ns(timeout),
                                       ctypes.byref(sub), ctypes.byref(info)))
        return sub.value, RingInfo(info.max_message, info.policy, info.first_seq)

    def unsubscribe(self, sub):
        check(lib.hermes_net_unsubscribe(self._h, sub))

    def ping(self, token):
        check_bare(lib.hermes_net_ping(self._h, token))

    def poll(self, timeout=0.0):
        """The next Event, waiting up to timeout seconds (None: no limit), or
        None. Raises HermesError ECLOSED after the closed event."""
        self._drop_view()
        ev = self._ev
        code = lib.hermes_net_poll(self._h, ctypes.byref(ev), _lib.timeout_ns(timeout))
        if code in (EAGAIN, ETIMEDOUT):
            return None
        check_bare(code)
        self._view = _lib.view(ev.data or 0, ev.len, True)
        return Event(EVENT_NAMES.get(ev.type, str(ev.type)), ev.channel, ev.seq, ev.value, ev.code,
                     bool(ev.fatal), ev.policy, self._view, ev.value if ev.type == 1 else 0)

    def close(self):
        if self._h:
            self._drop_view()
            lib.hermes_net_close(self._h)
            self._h = None
