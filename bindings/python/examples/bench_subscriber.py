"""Throughput of a Python subscriber draining a ring (64-byte messages),
with a handler (poll_batch) and with a poll loop; compare with the C figure
of the Rust binding's benchmark (cargo run --release --example bench).
    PYTHONPATH=bindings/python python3 bindings/python/examples/bench_subscriber.py [MESSAGES]
Not a test: numbers only."""

import os
import sys
import time

from hermes_ipc import LATEST, Bus

N = int(sys.argv[1]) if len(sys.argv) > 1 else 500_000
CHUNK = 8192
PAYLOAD = b"\7" * 64


def run(name, drain):
    best = 0.0
    for _ in range(3):
        total, spent = 0, 0.0
        while total < N:
            for _ in range(CHUNK):
                pub.send(PAYLOAD)
            t = time.perf_counter()
            got = drain()
            spent += time.perf_counter() - t
            assert got == CHUNK, got
            total += got
        best = max(best, total / spent)
    print("| Python: %s | %.2f M msgs/s | %.0f ns/msg |" % (name, best / 1e6, 1e9 / best))


def with_handler():
    seen = [0]

    def handler(data, seq):
        seen[0] += len(data)

    n = sub.poll_batch(handler)
    return n


def with_poll_loop():
    n = 0
    while True:
        m = sub.poll()
        if m is None:
            break
        len(m.data)
        n += 1
        if n % 64 == 0:
            sub.release()
    sub.release()
    return n


bus_name = "py-bench-%d" % os.getpid()
bus = Bus.create(bus_name, 64 << 20)
try:
    bus.create_ring("bench", 1 << 20, 1024)
    pub = bus.publisher("bench")
    sub = bus.subscriber("bench", LATEST)
    print("| %d messages of 64 B, best of 3 | rate | per message |" % N)
    print("|---|---|---|")
    run("poll_batch(handler)", with_handler)
    run("poll() loop, release per 64", with_poll_loop)
finally:
    bus.close()
    Bus.unlink(bus_name)
