"""Loading libhermes-ipc and declaring its C API for ctypes (by hand, from
include/hermes/*.h). CDLL releases the GIL around every call, so blocking
waits let other Python threads run."""

import ctypes
import ctypes.util
import os
from ctypes import (POINTER, Structure, c_char_p, c_int, c_int64, c_size_t, c_uint, c_uint8,
                    c_uint16, c_uint32, c_uint64, c_void_p)


def _load():
    """$HERMES_IPC_LIBRARY (a path), else the system's libhermes-ipc."""
    path = os.environ.get("HERMES_IPC_LIBRARY")
    if path:
        return ctypes.CDLL(path)
    found = ctypes.util.find_library("hermes-ipc")
    for name in ([found] if found else []) + ["libhermes-ipc.so.0", "libhermes-ipc.so"]:
        try:
            return ctypes.CDLL(name)
        except OSError:
            pass
    raise ImportError("libhermes-ipc not found: install Hermes, or set HERMES_IPC_LIBRARY "
                      "to the path of libhermes-ipc.so")


lib = _load()


class RingConfig(Structure):
    _fields_ = [("name", c_char_p), ("capacity", c_uint64), ("max_msg", c_uint32),
                ("policy", c_int), ("slots", c_uint32)]


class Claim(Structure):
    _fields_ = [("data", c_void_p), ("len", c_uint32), ("n_", c_uint32), ("pos_", c_uint64),
                ("seq_", c_uint64), ("bytes_", c_uint64)]


class Msg(Structure):
    _fields_ = [("data", c_void_p), ("len", c_uint32), ("tag", c_uint32),
                ("seq", c_uint64), ("gap", c_uint64), ("lost", c_uint64)]


HANDLER = ctypes.CFUNCTYPE(None, c_void_p, POINTER(Msg))


class RingInfo(Structure):
    _fields_ = [("name", ctypes.c_char * 48), ("policy", c_int), ("capacity", c_uint64),
                ("max_msg", c_uint32), ("slots", c_uint32), ("producers", c_uint32),
                ("subscribers", c_uint32), ("next_seq", c_uint64)]


class Ready(Structure):
    _fields_ = [("user", c_void_p), ("sub", c_void_p), ("fd", c_int), ("flags", c_uint32)]


class NetOptions(Structure):
    _fields_ = [("identity", c_char_p), ("key_file", c_char_p), ("encrypt", c_int),
                ("max_frame", c_uint32), ("recv_buffer", c_size_t), ("send_buffer", c_size_t),
                ("connect_timeout_ns", c_int64), ("features_", c_uint32), ("reserved_", c_uint32)]


class NetRingInfo(Structure):
    _fields_ = [("max_message", c_uint32), ("policy", c_uint8), ("first_seq", c_uint64)]


class NetEvent(Structure):
    _fields_ = [("type", c_int), ("channel", c_uint32), ("seq", c_uint64), ("value", c_uint64),
                ("code", c_int), ("fatal", c_uint8), ("policy", c_uint8), ("reserved_", c_uint16),
                ("len", c_uint32), ("data", c_void_p)]


class FrameHeader(Structure):
    _fields_ = [("version", c_uint8), ("type", c_uint8), ("flags", c_uint16), ("length", c_uint32),
                ("channel", c_uint32), ("sequence", c_uint64)]


class Frame(Structure):
    _fields_ = [("header", FrameHeader), ("payload", c_void_p), ("bytes", c_void_p)]


class WireBytes(Structure):
    _fields_ = [("data", c_void_p), ("len", c_size_t)]


class Decoder(Structure):
    _fields_ = [("buf", c_void_p), ("len", c_size_t), ("pos", c_size_t), ("max_payload", c_size_t),
                ("max_frame", c_uint32), ("accept", c_uint8), ("phase", c_uint8), ("role", c_uint8)]


class BatchItem(Structure):
    _fields_ = [("payload", c_void_p), ("len", c_size_t), ("sequence", c_uint64)]


P = c_void_p  # opaque handles
_protos = {
    "hermes_strerror": (c_char_p, [c_int]),
    "hermes_err_name": (c_char_p, [c_int]),
    "hermes_last_error_detail": (c_char_p, []),
    "hermes_bus_create": (c_int, [c_char_p, c_uint64, c_uint, POINTER(P)]),
    "hermes_bus_attach": (c_int, [c_char_p, POINTER(P)]),
    "hermes_bus_attach_readonly": (c_int, [c_char_p, POINTER(P)]),
    "hermes_bus_detach": (None, [P]),
    "hermes_bus_id": (c_uint64, [P]),
    "hermes_bus_unlink": (c_int, [c_char_p]),
    "hermes_ring_create": (c_int, [P, POINTER(RingConfig)]),
    "hermes_ring_delete": (c_int, [P, c_char_p, c_int]),
    "hermes_pub_open": (c_int, [P, c_char_p, POINTER(P)]),
    "hermes_pub_close": (None, [P]),
    "hermes_pub_claim": (c_int, [P, c_uint32, POINTER(Claim)]),
    "hermes_pub_claim_timed": (c_int, [P, c_uint32, POINTER(Claim), c_int64]),
    "hermes_pub_claim_batch": (c_int, [P, POINTER(c_uint32), c_uint32, POINTER(c_void_p), POINTER(Claim)]),
    "hermes_pub_commit": (c_int, [P, POINTER(Claim)]),
    "hermes_pub_abort": (c_int, [P, POINTER(Claim)]),
    "hermes_pub_send": (c_int, [P, c_char_p, c_uint32, POINTER(c_uint64)]),
    "hermes_pub_send_timed": (c_int, [P, c_char_p, c_uint32, POINTER(c_uint64), c_int64]),
    "hermes_pub_send_tagged": (c_int, [P, c_char_p, c_uint32, c_uint32, POINTER(c_uint64), c_int64]),
    "hermes_sub_open": (c_int, [P, c_char_p, c_int, c_uint64, POINTER(P)]),
    "hermes_sub_close": (None, [P]),
    "hermes_sub_poll": (c_int, [P, POINTER(Msg)]),
    "hermes_sub_release": (c_int, [P]),
    "hermes_sub_poll_batch": (c_int, [P, HANDLER, c_void_p, c_uint, POINTER(c_uint)]),
    "hermes_sub_recv": (c_int, [P, c_void_p, c_uint32, POINTER(Msg)]),
    "hermes_sub_wait": (c_int, [P, c_int, c_int64]),
    "hermes_sub_next_seq": (c_uint64, [P]),
    "hermes_pub_subscribers": (c_uint, [P]),
    "hermes_pub_wait_subscribers": (c_int, [P, c_uint, c_int64]),
    "hermes_bus_rings": (c_int, [P, POINTER(RingInfo), c_uint, POINTER(c_uint)]),
    "hermes_waitset_create": (c_int, [POINTER(P)]),
    "hermes_waitset_destroy": (None, [P]),
    "hermes_waitset_add_sub": (c_int, [P, P, c_void_p]),
    "hermes_waitset_add_fd": (c_int, [P, c_int, c_void_p]),
    "hermes_waitset_remove_sub": (c_int, [P, P]),
    "hermes_waitset_remove_fd": (c_int, [P, c_int]),
    "hermes_waitset_wait": (c_int, [P, POINTER(Ready), c_uint, POINTER(c_uint), c_int64]),
    "hermes_waitset_wake": (None, [P]),
    "hermes_waitset_set_spin": (None, [P, c_uint32]),
    "hermes_waitset_fd": (c_int, [P, POINTER(c_int)]),
    "hermes_net_options_init": (None, [POINTER(NetOptions)]),
    "hermes_net_connect": (c_int, [c_char_p, POINTER(NetOptions), POINTER(P)]),
    "hermes_net_close": (None, [P]),
    "hermes_net_fd": (c_int, [P]),
    "hermes_net_server_name": (c_char_p, [P]),
    "hermes_net_features": (c_uint32, [P]),
    "hermes_net_bind": (c_int, [P, c_char_p, c_int64, POINTER(c_uint32), POINTER(NetRingInfo)]),
    "hermes_net_unbind": (c_int, [P, c_uint32]),
    "hermes_net_publish": (c_int, [P, c_uint32, c_char_p, c_size_t, c_uint, POINTER(c_uint64)]),
    "hermes_net_publish_tagged": (c_int, [P, c_uint32, c_char_p, c_size_t, c_uint32, c_uint,
                                          POINTER(c_uint64)]),
    "hermes_net_flush": (c_int, [P, c_int64]),
    "hermes_net_subscribe": (c_int, [P, c_char_p, c_int, c_uint64, c_int64, POINTER(c_uint32), POINTER(NetRingInfo)]),
    "hermes_net_unsubscribe": (c_int, [P, c_uint32]),
    "hermes_net_ping": (c_int, [P, c_uint64]),
    "hermes_net_poll": (c_int, [P, POINTER(NetEvent), c_int64]),
    "hermes_encoder_create": (c_int, [c_size_t, POINTER(P)]),
    "hermes_encoder_destroy": (None, [P]),
    "hermes_encoder_reset": (None, [P]),
    "hermes_encoder_set_max_frame": (c_int, [P, c_uint32]),
    "hermes_encoder_data": (WireBytes, [P]),
    "hermes_encode_frame": (c_int, [P, POINTER(FrameHeader), c_char_p, c_size_t, POINTER(WireBytes)]),
    "hermes_encode_batch": (c_int, [P, POINTER(FrameHeader), POINTER(BatchItem), c_size_t, POINTER(c_size_t), POINTER(WireBytes)]),
    "hermes_decoder_init": (c_int, [POINTER(Decoder), c_void_p, c_size_t]),
    "hermes_decoder_set_max_frame": (c_int, [POINTER(Decoder), c_uint32]),
    "hermes_decoder_next": (c_int, [POINTER(Decoder), POINTER(Frame)]),
    "hermes_decoder_consumed": (c_size_t, [POINTER(Decoder)]),
    "hermes_decoder_needed": (c_size_t, [POINTER(Decoder)]),
    "hermes_msg_type_name": (c_char_p, [c_uint]),
}
for _name, (_res, _args) in _protos.items():
    _f = getattr(lib, _name)
    _f.restype = _res
    _f.argtypes = _args


def view(address, length, readonly):
    """A memoryview of length bytes at address (zero copy)."""
    if length == 0:
        return memoryview(b"")
    mv = memoryview((ctypes.c_ubyte * length).from_address(address)).cast("B")
    return mv.toreadonly() if readonly else mv


def timeout_ns(timeout):
    """Seconds (float) to nanoseconds for C; None means no limit (-1)."""
    if timeout is None:
        return -1
    return max(0, int(timeout * 1e9))


class Closable:
    """close() at the end of a ``with`` block and when garbage-collected."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()
