"""The wire protocol codec of docs/PROTOCOL.md, over the C codec of
libhermes-ipc: frames out of an Encoder's own buffer, zero-copy decoding of
received bytes. Structured payloads (HELLO, SUBSCRIBE, ...) are left to the
remote client (hermes_ipc.net), which speaks the whole protocol."""

import ctypes
from collections import namedtuple

from . import _lib
from ._lib import lib
from .errors import ENEEDMORE, HermesError, check_bare

HEADER_SIZE = 24
FLAG_ACK_REQUESTED = 0x1
FLAG_ENCRYPTED = 0x2

# Message types (header byte 3).
HELLO, WELCOME, AUTH_CHALLENGE, AUTH_RESPONSE, AUTH_OK = 0x01, 0x02, 0x03, 0x04, 0x05
BIND, BOUND, UNBIND, PUBLISH, PUBLISH_ACK = 0x10, 0x11, 0x12, 0x13, 0x14
SUBSCRIBE, SUBSCRIBED, UNSUBSCRIBE, DELIVER, LOSS = 0x20, 0x21, 0x22, 0x23, 0x24
PING, PONG, ERROR, GOODBYE = 0x30, 0x31, 0x3E, 0x3F

Header = namedtuple("Header", "version type flags length channel sequence")


def type_name(t):
    """"PUBLISH" for 0x13; None when t is not a message type."""
    n = lib.hermes_msg_type_name(t)
    return n.decode() if n else None


class Encoder:
    """Frames appended back to back into one buffer allocated here (capacity
    bytes, 0: 64 KiB), for one write; reset() reuses it. Each encode returns
    a memoryview of the frame inside the buffer, valid until reset()."""

    def __init__(self, capacity=64 * 1024):
        self._h = None
        h = ctypes.c_void_p()
        check_bare(lib.hermes_encoder_create(capacity, ctypes.byref(h)))
        self._h = h
        self._hdr = _lib.FrameHeader()
        self._out = _lib.WireBytes()

    def set_max_frame(self, max_frame):
        check_bare(lib.hermes_encoder_set_max_frame(self._h, max_frame))

    def encode(self, msg_type, seq, payload=b"", flags=0, channel=0):
        """Append one frame; raises HermesError (EBADTYPE, EBADFLAGS,
        EBADPAYLOAD, ETOOBIG, or ENOBUFS: write out, reset, retry)."""
        h = self._hdr
        h.type, h.flags, h.channel, h.sequence = msg_type, flags, channel, seq
        payload = bytes(payload)
        check_bare(lib.hermes_encode_frame(self._h, ctypes.byref(h), payload, len(payload),
                                           ctypes.byref(self._out)))
        return _lib.view(self._out.data, self._out.len, True)

    def encode_batch(self, messages, msg_type=PUBLISH, flags=0, channel=0):
        """Append one frame per (payload, sequence), back to back; returns
        their bytes. On error the frames before the failing one stay."""
        n = len(messages)
        keep = [bytes(p) for p, _ in messages]
        items = (_lib.BatchItem * n)()
        for i, (p, (_, seq)) in enumerate(zip(keep, messages)):
            items[i].payload = ctypes.cast(ctypes.c_char_p(p), ctypes.c_void_p)
            items[i].len = len(p)
            items[i].sequence = seq
        h = self._hdr
        h.type, h.flags, h.channel, h.sequence = msg_type, flags, channel, 0
        done = ctypes.c_size_t()
        check_bare(lib.hermes_encode_batch(self._h, ctypes.byref(h), items, n, ctypes.byref(done),
                                           ctypes.byref(self._out)))
        return _lib.view(self._out.data, self._out.len, True)

    def data(self):
        """Everything encoded since the last reset."""
        d = lib.hermes_encoder_data(self._h)
        return _lib.view(d.data or 0, d.len, True)

    def reset(self):
        lib.hermes_encoder_reset(self._h)

    def close(self):
        if self._h:
            lib.hermes_encoder_destroy(self._h)
            self._h = None

    def __del__(self):
        self.close()


class Decoder:
    """Iterates (Header, payload) over received bytes (bytes, or a writable
    buffer such as a bytearray); payload is a memoryview slice of those bytes
    (zero copy; other read-only buffers are copied once).
    Iteration stops at the end, at a partial frame or at a malformed one:
    error then holds None (all decoded), ENEEDMORE, or the code that makes the
    stream untrustworthy; consumed says how many bytes the frames took."""

    def __init__(self, buf, max_frame=None):
        mv = memoryview(buf).cast("B")
        if mv.readonly and not isinstance(buf, bytes):
            buf = bytes(mv)  # read-only and not bytes: its address is not reachable, copy once
        n = len(mv)
        if isinstance(buf, bytes):
            # c_char_p over a bytes object points at its own storage: no copy.
            self._keep = ctypes.c_char_p(buf)
            base = ctypes.cast(self._keep, ctypes.c_void_p).value or 0
            self._mv = memoryview(buf)
        else:
            self._keep = (ctypes.c_char * n).from_buffer(mv)
            base = ctypes.addressof(self._keep)
            self._mv = mv
        self._base = base
        self._d = _lib.Decoder()
        check_bare(lib.hermes_decoder_init(ctypes.byref(self._d), base if n else None, n))
        if max_frame is not None:
            check_bare(lib.hermes_decoder_set_max_frame(ctypes.byref(self._d), max_frame))
        self._f = _lib.Frame()
        self.error = None

    def __iter__(self):
        return self

    def __next__(self):
        code = lib.hermes_decoder_next(ctypes.byref(self._d), ctypes.byref(self._f))
        if code:
            self.error = None if code == ENEEDMORE and self.consumed == len(self._mv) else code
            raise StopIteration
        h = self._f.header
        off = self._f.payload - self._base
        return (Header(h.version, h.type, h.flags, h.length, h.channel, h.sequence),
                self._mv[off:off + h.length])

    def next_or_raise(self):
        """The next (Header, payload); raises HermesError (ENEEDMORE at a
        partial frame or the end)."""
        try:
            return next(self)
        except StopIteration:
            raise HermesError(self.error or ENEEDMORE) from None

    @property
    def consumed(self):
        return lib.hermes_decoder_consumed(ctypes.byref(self._d))

    @property
    def needed(self):
        """After a partial frame: at least how many more bytes to read."""
        return lib.hermes_decoder_needed(ctypes.byref(self._d))
