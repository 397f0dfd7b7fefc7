"""Python bindings for Hermes (ctypes over libhermes-ipc, standard library
only): the shared-memory bus with zero-copy memoryviews, the remote client
of a hermes-bridge, the wire codec, and hermes-ctl's view of a bus.

    from hermes_ipc import Bus, EARLIEST
    bus = Bus.attach("default")
    pub = bus.publisher("orders")
    with pub.claim(5) as c:          # commit at the end of the block
        c.data[:] = b"hello"
    sub = bus.subscriber("orders", EARLIEST)
    while sub.wait(timeout=1.0):
        with sub.poll() as m:        # m.data: a view into the ring until release
            print(m.seq, bytes(m.data))

The library is $HERMES_IPC_LIBRARY, else the system's libhermes-ipc.
"""

from .bus import (AT_SEQ, BLOCK, EARLIEST, LATEST, OVERWRITE, WAIT_BLOCK, WAIT_SPIN, WAIT_YIELD, Bus,
                  Claim, Message, Publisher, Subscriber, WaitSet)
from .errors import HermesError
from . import ctl, errors, net, protocol

__all__ = ["Bus", "Publisher", "Subscriber", "Claim", "Message", "WaitSet", "HermesError", "BLOCK", "OVERWRITE",
           "LATEST", "EARLIEST", "AT_SEQ", "WAIT_SPIN", "WAIT_YIELD", "WAIT_BLOCK", "ctl", "errors",
           "net", "protocol"]
__version__ = "0.1.0"
