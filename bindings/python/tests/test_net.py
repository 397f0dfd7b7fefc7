"""hermes_ipc.net through a real hermes-bridge on loopback, and
hermes_ipc.ctl's view of the same bus."""

import time
import unittest

from hermes_ipc import EARLIEST, HermesError, ctl, errors, net
from support import Bridge, BusCase, tool


class TestNet(BusCase):
    def test_publish_subscribe_through_a_bridge(self):
        self.bus.create_ring("orders", 64 << 10, 1024)
        bridge = Bridge(self.bus_name, self.dir)
        try:
            with net.Connection(bridge.addr, connect_timeout=10) as conn:
                self.assertTrue(conn.server_name)
                ch, info = conn.bind("orders")
                self.assertEqual((info.max_message, info.policy), (1024, 0))
                sub, _ = conn.subscribe("orders", EARLIEST)
                pub_seq = conn.publish(ch, b"via net", net.PUB_ACK | net.PUB_FLUSH, tag=0x2A)
                local = self.bus.publisher("orders").send(b"from the bus", tag=7)
                conn.ping(9)
                got, acked, pong = [], None, False
                deadline = time.monotonic() + 10
                while len(got) < 2 or acked is None or not pong:
                    self.assertLess(time.monotonic(), deadline, (got, acked, pong))
                    ev = conn.poll(timeout=1.0)
                    if ev is None:
                        continue
                    if ev.kind == "message":
                        self.assertEqual(ev.channel, sub)
                        got.append((ev.seq, bytes(ev.data), ev.tag))
                    elif ev.kind == "ack":
                        self.assertEqual((ev.channel, ev.seq), (ch, pub_seq))
                        acked = ev.value
                    elif ev.kind == "pong":
                        self.assertEqual(ev.seq, 9)
                        pong = True
                    else:
                        self.fail("unexpected event %r" % (ev,))
                self.assertEqual(sorted(got), sorted([(acked, b"via net", 0x2A), (local, b"from the bus", 7)]))
                with self.assertRaises(HermesError) as cm:
                    conn.bind("nosuch")
                self.assertEqual(cm.exception.code, errors.ENOENT)
        finally:
            bridge.stop()

    def test_ctl_list_and_inspect_as_dicts(self):
        tool("HERMES_CTL", "hermes-ctl")
        self.bus.create_ring("orders", 64 << 10, 1024)
        pub = self.bus.publisher("orders")
        pub.send(b"x")
        pub.close()
        listing = ctl.list_rings(self.bus_name)
        self.assertEqual(listing["bus"], self.bus_name)
        ring = [r for r in listing["rings"] if r["name"] == "orders"]
        self.assertEqual(len(ring), 1)
        self.assertEqual((ring[0]["messages"], ring[0]["max_msg_bytes"], ring[0]["policy"]), (1, 1024, "block"))
        info = ctl.inspect_ring("orders", self.bus_name)
        self.assertEqual(info["bus"], self.bus_name)
        self.assertIn("producers", info)


if __name__ == "__main__":
    unittest.main()
