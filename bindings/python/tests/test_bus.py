"""hermes_ipc.bus against the real library."""

import threading
import time
import unittest

from hermes_ipc import EARLIEST, LATEST, OVERWRITE, Bus, HermesError, errors
from support import BusCase, unique


class TestBus(BusCase):
    def test_claim_commit_poll_release_zero_copy(self):
        self.bus.create_ring("orders", 64 << 10, 1024)
        pub = self.bus.publisher("orders")
        sub = self.bus.subscriber("orders", EARLIEST)
        self.assertIsNone(sub.poll())
        with pub.claim(5) as c:  # committed at the end of the block
            c.data[:] = b"hello"
            first = c.seq
        self.assertEqual(pub.send(b"world"), first + 1)
        with sub.poll() as m:
            self.assertEqual((bytes(m.data), m.seq, m.gap), (b"hello", first, 0))
            self.assertTrue(m.data.readonly)
            m2 = sub.poll()  # several polls before one release
            self.assertEqual(bytes(m2.data), b"world")
        # Released: the views no longer reach the ring.
        with self.assertRaises(ValueError):
            m.data[0]
        with self.assertRaises(ValueError):
            bytes(m2.data)
        self.assertEqual(sub.next_seq, first + 2)

    def test_user_tags_reach_subscribers(self):
        self.bus.create_ring("typed", 64 << 10, 1024)
        pub = self.bus.publisher("typed")
        sub = self.bus.subscriber("typed", EARLIEST)
        pub.send(b"a", tag=0x2A)
        pub.send(b"b")
        pub.send(b"c", timeout=None, tag=0xFFFFFFFF)
        self.assertEqual([(bytes(m.data), m.tag) for m in (sub.poll(), sub.poll(), sub.poll())],
                         [(b"a", 0x2A), (b"b", 0), (b"c", 0xFFFFFFFF)])
        sub.release()

    def test_aborts_and_batches(self):
        self.bus.create_ring("r", 64 << 10, 1024)
        pub = self.bus.publisher("r")
        sub = self.bus.subscriber("r", EARLIEST)
        with self.assertRaises(RuntimeError):
            with pub.claim(3) as c:
                c.data[:] = b"abc"
                raise RuntimeError("aborts the claim")
        b = pub.claim_batch([1, 2, 3])
        for i, v in enumerate(b.views):
            v[:] = bytes([97 + i]) * len(v)
        self.assertIsNone(sub.poll(), "a batch is invisible before its commit")
        first = b.commit()
        got = []
        while True:
            m = sub.poll()
            if m is None:
                break
            got.append((m.seq, m.gap, bytes(m.data)))
        sub.release()
        self.assertEqual(got, [(first, 1, b"a"), (first + 1, 0, b"bb"), (first + 2, 0, b"ccc")])
        pub.claim(4)  # neither committed nor aborted: the next claim aborts it
        seq = pub.send(b"x")
        with sub.poll() as m:
            self.assertEqual((m.seq, m.gap), (seq, 1))

    def test_full_ring_timeouts_and_recv(self):
        self.bus.create_ring("small", 4096, 256)
        pub = self.bus.publisher("small")
        sub = self.bus.subscriber("small", LATEST)
        with self.assertRaises(HermesError) as cm:
            pub.claim(257)
        self.assertEqual(cm.exception.code, errors.EMSGSIZE)
        sent = 0
        while pub.send(b"z" * 200) is not None:
            sent += 1
            self.assertLess(sent, 1000)
        t = time.monotonic()
        self.assertIsNone(pub.send(b"z" * 200, timeout=0.02))
        self.assertGreaterEqual(time.monotonic() - t, 0.02)
        with self.assertRaises(HermesError) as cm:
            sub.recv(bytearray(10))
        self.assertEqual(cm.exception.code, errors.ENOBUFS)
        buf = bytearray(256)
        n = 0
        while (r := sub.recv(buf)) is not None:
            self.assertEqual(r[0], 200)
            n += 1
        self.assertEqual(n, sent)

    def test_wait_releases_the_gil_and_wakes(self):
        self.bus.create_ring("w", 64 << 10, 1024)
        sub = self.bus.subscriber("w", LATEST)
        t = time.monotonic()
        self.assertFalse(sub.wait(timeout=0.03))
        self.assertGreaterEqual(time.monotonic() - t, 0.03)
        ready = threading.Event()

        def produce():
            p = self.bus.publisher("w")
            ready.wait(10)
            p.send(b"wake")
            p.close()

        th = threading.Thread(target=produce)
        th.start()
        ready.set()  # the producer runs while this thread waits without the GIL
        self.assertTrue(sub.wait(timeout=10))
        th.join(10)
        with sub.poll() as m:
            self.assertEqual(bytes(m.data), b"wake")
        pub = self.bus.publisher("w")
        for i in range(10):
            pub.send(bytes([i]))
        seen = []
        self.assertEqual(sub.poll_batch(lambda data, seq: seen.append(bytes(data))), 10)
        self.assertEqual(seen, [bytes([i]) for i in range(10)])

    def test_a_polled_view_is_the_ring_itself(self):
        # Zero copy, shown on an overwrite ring: producers that lap the
        # subscriber rewrite the bytes its unreleased view shows, and the
        # release says so.
        self.bus.create_ring("ow", 4096, 256, OVERWRITE)
        pub = self.bus.publisher("ow")
        sub = self.bus.subscriber("ow", EARLIEST)
        pub.send(b"A" * 100)
        m = sub.poll()
        self.assertEqual(bytes(m.data), b"A" * 100)
        for _ in range(100):
            pub.send(b"B" * 100)
        self.assertNotEqual(bytes(m.data), b"A" * 100)
        with self.assertRaises(HermesError) as cm:
            sub.release()
        self.assertEqual(cm.exception.code, errors.ELOST)

    def test_a_blocking_wait_lets_other_threads_run(self):
        # With the GIL held through the 1 s wait, the other thread could not
        # run Python code inside it: no stamp could fall inside the window.
        self.bus.create_ring("gil", 4096, 64)
        sub = self.bus.subscriber("gil", LATEST)
        stamps, stop = [], threading.Event()

        def stamp():
            while not stop.is_set():
                stamps.append(time.monotonic())

        th = threading.Thread(target=stamp)
        th.start()
        try:
            t0 = time.monotonic()
            self.assertFalse(sub.wait(timeout=1.0))
            t1 = time.monotonic()
        finally:
            stop.set()
            th.join(10)
        inside = [t for t in stamps if t0 + 0.1 < t < t1 - 0.1]
        self.assertTrue(inside, "no other thread ran during the wait: the GIL was held")

    def test_lapped_subscriber_learns_the_loss(self):
        self.bus.create_ring("ow", 4096, 256, OVERWRITE)
        pub = self.bus.publisher("ow")
        sub = self.bus.subscriber("ow", EARLIEST)
        for i in range(200):
            pub.send(b"o" * 100)
        with self.assertRaises(HermesError) as cm:
            sub.poll()
        self.assertEqual(cm.exception.code, errors.ELOST)
        lost = cm.exception.lost
        self.assertGreater(lost, 0)
        self.assertIn("lost", str(cm.exception))
        seen = 0
        while sub.poll() is not None:
            seen += 1
        sub.release()
        self.assertEqual(lost + seen, 200)

    def test_errors_carry_code_name_and_detail(self):
        missing = unique("nobus")
        with self.assertRaises(HermesError) as cm:
            Bus.attach(missing)
        e = cm.exception
        self.assertEqual((e.code, e.name), (errors.ENOENT, "HERMES_ENOENT"))
        self.assertIn(missing, e.detail)
        with self.assertRaises(HermesError) as cm:
            self.bus.create_ring("odd", 5000, 16)
        self.assertEqual(cm.exception.code, errors.EINVAL)
        self.assertTrue(cm.exception.detail)
        self.assertEqual(HermesError(999).code, 999)  # unknown codes work too
        self.bus.create_ring("ro", 4096, 16)
        ro = Bus.attach(self.bus_name, readonly=True)
        self.assertEqual(ro.id, self.bus.id)
        with self.assertRaises(HermesError) as cm:
            ro.publisher("ro")
        self.assertEqual(cm.exception.code, errors.EPERM)
        ro.close()
        # Closing the bus closes what is open on it; using those raises.
        sub = self.bus.subscriber("ro")
        self.bus.close()
        with self.assertRaises(HermesError) as cm:
            sub.poll()
        self.assertEqual(cm.exception.code, errors.ECLOSED)

    def test_wait_set_subscriber_counts_and_ring_list(self):
        from hermes_ipc import WaitSet
        self.bus.create_ring("left", 64 << 10, 256)
        self.bus.create_ring("right", 64 << 10, 256)
        pub = self.bus.publisher("right")
        self.assertEqual(pub.subscribers, 0)
        self.assertFalse(pub.wait_subscribers(1, timeout=0.001))
        left, right = self.bus.subscriber("left"), self.bus.subscriber("right")
        self.assertEqual(pub.subscribers, 1)
        self.assertTrue(pub.wait_subscribers(1))
        with WaitSet() as ws:
            ws.add(left, "L")
            ws.add(right)
            self.assertEqual(ws.wait(0.001), [])
            t = threading.Thread(target=lambda: pub.send(b"x"))
            t.start()
            self.assertEqual(ws.wait(10.0), [right])
            t.join()
            with right.poll() as m:
                self.assertEqual(bytes(m.data), b"x")
            ws.wake()
            self.assertEqual(ws.wait(), [])
            ws.remove(left)
            ws.remove(right)
        info = {r["name"]: r for r in self.bus.rings()}
        self.assertEqual((info["right"]["producers"], info["right"]["subscribers"],
                          info["right"]["max_msg"]), (1, 1, 256))


if __name__ == "__main__":
    unittest.main()
