"""A publisher and a subscriber on one ring, in one process: creates a
private bus (no hermesd needed), publishes zero-copy, reads in place.
    PYTHONPATH=bindings/python python3 examples/pubsub.py"""

import os
import threading

from hermes_ipc import LATEST, Bus

name = "py-example-%d" % os.getpid()
with Bus.create(name, 16 << 20) as bus:
    bus.create_ring("orders", 1 << 16, 1024)
    sub = bus.subscriber("orders", LATEST)

    def publish():
        with bus.publisher("orders") as pub:
            for i in range(5):
                text = b"order %d" % i
                with pub.claim(len(text)) as c:  # room in the ring, committed at the end
                    c.data[:] = text  # written in place

    threading.Thread(target=publish).start()
    seen = 0
    while seen < 5 and sub.wait(timeout=5.0):  # sleeps without the GIL
        while (m := sub.poll()) is not None:
            print(m.seq, bytes(m.data))  # m.data: a view into the ring
            seen += 1
        sub.release()  # the ring may reuse the space now
Bus.unlink(name)
