"""hermes_ipc.protocol: the worked examples of docs/PROTOCOL.md decode and
re-encode byte for byte; decoding is zero copy and split-proof."""

import os
import re
import unittest

from hermes_ipc import HermesError, errors, protocol as P

DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "docs", "PROTOCOL.md")


def blocks():
    with open(DOC) as f:
        text = f.read()
    out = {}
    for m in re.finditer(r"^```hex (frame|bytes) (\S+)\n(.*?)^```", text, re.S | re.M):
        data = bytes(int(t, 16) for line in m.group(3).splitlines() for t in line.split("#")[0].split())
        out[(m.group(1), m.group(2))] = data
    return out


class TestProtocol(unittest.TestCase):
    def test_doc_examples_round_trip(self):
        all_blocks = blocks()
        frames = {k[1]: v for k, v in all_blocks.items() if k[0] == "frame"}
        self.assertEqual(len(frames), 35)
        self.assertEqual(len(all_blocks), 38)
        enc = P.Encoder()
        for name, data in frames.items():
            d = P.Decoder(data)
            h, payload = next(d)
            self.assertEqual(d.consumed, len(data), name)
            self.assertIsNotNone(P.type_name(h.type), name)
            enc.reset()
            again = enc.encode(h.type, h.sequence, payload, flags=h.flags, channel=h.channel)
            self.assertEqual(bytes(again), data, name)
        h, payload = next(P.Decoder(frames["publish"]))
        self.assertEqual((h.type, h.flags, h.channel, h.sequence, bytes(payload)),
                         (P.PUBLISH, P.FLAG_ACK_REQUESTED, 1, 1, b"hello"))

    def test_zero_copy_batches_and_split_streams(self):
        enc = P.Encoder(4096)
        enc.encode(P.PING, 7)
        enc.encode_batch([(b"a", 1), (b"bb", 2)], channel=3, flags=P.FLAG_ACK_REQUESTED)
        stream = bytearray(enc.data())
        frames = list(P.Decoder(stream))
        self.assertEqual([(h.type, h.sequence, bytes(p)) for h, p in frames],
                         [(P.PING, 7, b""), (P.PUBLISH, 1, b"a"), (P.PUBLISH, 2, b"bb")])
        stream[-1:] = b"X"  # the payload view is into the caller's buffer
        self.assertEqual(bytes(frames[2][1]), b"bX")
        for cut in range(len(stream)):
            d = P.Decoder(bytes(stream[:cut]))
            n = len(list(d))
            self.assertEqual(d.error, None if cut in (0, 24, 49) else errors.ENEEDMORE, cut)
            if d.error:
                self.assertGreater(d.needed, 0)
            self.assertLessEqual(n, 3)
        bad = P.Decoder(b"\x00")
        self.assertEqual(list(bad), [])
        self.assertEqual(bad.error, errors.EBADMAGIC)
        with self.assertRaises(HermesError) as cm:
            enc.encode(P.PING, 1, b"payload")
        self.assertEqual(cm.exception.code, errors.EBADPAYLOAD)
        small = P.Encoder(64)
        with self.assertRaises(HermesError) as cm:
            small.encode(P.PUBLISH, 1, b"x" * 100)
        self.assertEqual(cm.exception.code, errors.ETOOBIG)


if __name__ == "__main__":
    unittest.main()
