//! Round trips through a real hermes-bridge on loopback: the pure-Rust codec
//! over a plain TcpStream, then the hermes_net client, both against the same
//! ring that a local publisher and subscriber use.

use hermes::bus::{Policy, Start};
use hermes::net::{Connection, Event, Options, PUB_ACK, PUB_FLUSH};
use hermes::protocol::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

mod common;
use common::{bridge_run, Bridge, TestBus};

/// Reads frames off a socket with the zero-copy decoder, keeping a partial
/// frame for the next read.
struct Reader {
    sock: TcpStream,
    buf: Vec<u8>,
    have: usize,
}

impl Reader {
    /// The next frame (header and an owned payload copy), within 10 s.
    fn frame(&mut self) -> (Header, Vec<u8>) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut d = Decoder::new(&self.buf[..self.have]);
            d.set_role(Role::Client);
            match d.try_next() {
                Ok(f) => {
                    let out = (f.header, f.payload.to_vec());
                    let used = d.consumed();
                    self.buf.copy_within(used..self.have, 0);
                    self.have -= used;
                    return out;
                }
                Err(hermes::Error::NeedMore(_)) => {}
                Err(e) => panic!("bridge sent a bad frame: {}", e),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no frame from the bridge within 10 s");
            self.sock.set_read_timeout(Some(left)).unwrap();
            let n = self.sock.read(&mut self.buf[self.have..]).expect("read from the bridge");
            assert!(n > 0, "the bridge closed the connection");
            self.have += n;
        }
    }

    /// The next frame, which must be of type t; its parsed payload is
    /// checked by the caller through the owned copy.
    fn expect(&mut self, t: MessageType) -> (Header, Vec<u8>) {
        let (h, p) = self.frame();
        if h.msg_type == MessageType::Error {
            panic!("bridge answered ERROR: {:?}", Message::parse(h.msg_type, &p));
        }
        assert_eq!(h.msg_type, t, "wanted {}", t.name());
        (h, p)
    }
}

fn raw_protocol(addr: &str, tb: &TestBus) {
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_nodelay(true).unwrap();
    let mut w = sock.try_clone().unwrap();
    let mut r = Reader { sock, buf: vec![0; 1 << 20], have: 0 };
    let mut enc = Encoder::new(64 * 1024);

    let hello = Hello { min_version: 1, max_version: 1, features: 0, max_frame: DEFAULT_MAX_FRAME, identity: b"" };
    w.write_all(enc.encode_message(0, 0, &Message::Hello(hello)).unwrap()).unwrap();
    let (_, p) = r.expect(MessageType::Welcome);
    match Message::parse(MessageType::Welcome, &p).unwrap() {
        Message::Welcome(wl) => assert_eq!((wl.version, wl.features), (1, 0)),
        m => panic!("{:?}", m),
    }

    // BIND, then PUBLISH with an ack, in one write.
    enc.reset();
    enc.encode_message(1, 0, &Message::Bind { ring: b"orders" }).unwrap();
    enc.encode_frame(MessageType::Publish, FLAG_ACK_REQUESTED, 1, 1, b"hello").unwrap();
    w.write_all(enc.data()).unwrap();
    let (h, p) = r.expect(MessageType::Bound);
    assert_eq!(h.channel, 1);
    assert_eq!(Message::parse(h.msg_type, &p).unwrap(), Message::Bound(RingInfo { max_message: 1024, policy: POLICY_BLOCK }));
    let (h, p) = r.expect(MessageType::PublishAck);
    assert_eq!((h.channel, h.sequence), (1, 1));
    let ring_seq = match Message::parse(h.msg_type, &p).unwrap() {
        Message::PublishAck { ring_sequence } => ring_sequence,
        m => panic!("{:?}", m),
    };

    // The message is in the ring, under the acknowledged sequence.
    let mut local = tb.bus().subscriber("orders", Start::Seq(ring_seq)).unwrap();
    {
        let m = local.poll().unwrap().expect("the published message is not in the ring");
        assert_eq!((m.seq, m.data), (ring_seq, &b"hello"[..]));
    }
    local.release().unwrap();

    // A batch of publishes with acks, encoded for one write.
    enc.reset();
    let batch: Vec<(&[u8], u64)> = vec![(b"b1", 2), (b"b2", 3), (b"b3", 4)];
    w.write_all(enc.encode_batch_frames(MessageType::Publish, FLAG_ACK_REQUESTED, 1, &batch).unwrap()).unwrap();
    for (i, want) in (2u64..5).enumerate() {
        let (h, p) = r.expect(MessageType::PublishAck);
        assert_eq!(h.sequence, want);
        assert_eq!(Message::parse(h.msg_type, &p).unwrap(), Message::PublishAck { ring_sequence: ring_seq + 1 + i as u64 });
    }

    // Subscribe from the first message; a local publish arrives too.
    enc.reset();
    let s = Subscribe { start: START_AT, start_sequence: ring_seq, ring: b"orders" };
    w.write_all(enc.encode_message(2, 0, &Message::Subscribe(s)).unwrap()).unwrap();
    let (h, _) = r.expect(MessageType::Subscribed);
    assert_eq!((h.channel, h.sequence), (2, ring_seq));
    let local_seq = tb.bus().publisher("orders").unwrap().send(b"from the bus").unwrap();
    let want: Vec<(u64, &[u8])> = vec![(ring_seq, b"hello"), (ring_seq + 1, b"b1"), (ring_seq + 2, b"b2"), (ring_seq + 3, b"b3"), (local_seq, b"from the bus")];
    for (seq, data) in want {
        let (h, p) = r.expect(MessageType::Deliver);
        assert_eq!((h.channel, h.sequence, &p[..]), (2, seq, data));
    }

    enc.reset();
    w.write_all(enc.encode(MessageType::Ping, 7, &[]).unwrap()).unwrap();
    let (h, _) = r.expect(MessageType::Pong);
    assert_eq!(h.sequence, 7);
    enc.reset();
    w.write_all(enc.encode_message(0, 0, &Message::Goodbye { code: 0 }).unwrap()).unwrap();
}

fn net_client(addr: &str, tb: &TestBus) {
    let opts = Options { connect_timeout: Some(Duration::from_secs(10)), ..Options::default() };
    let mut conn = Connection::connect(addr, &opts).unwrap();
    assert!(!conn.server_name().is_empty());
    assert!(conn.fd() >= 0);
    let t = Some(Duration::from_secs(10));
    let (ch, info) = conn.bind("orders", t).unwrap();
    assert_eq!((info.max_message, info.policy), (1024, 0));
    let (sub, _) = conn.subscribe("orders", Start::Latest, t).unwrap();
    let pub_seq = conn.publish(ch, b"via net", PUB_ACK | PUB_FLUSH).unwrap();
    conn.ping(42).unwrap();
    let (mut acked, mut got, mut pong) = (None, None, false);
    let deadline = Instant::now() + Duration::from_secs(10);
    while acked.is_none() || got.is_none() || !pong {
        assert!(Instant::now() < deadline, "events missing after 10 s: ack {:?} message {:?} pong {}", acked, got, pong);
        match conn.poll(Some(Duration::from_secs(1))).unwrap() {
            Some(Event::Ack { channel, pub_seq: s, ring_seq }) => {
                assert_eq!((channel, s), (ch, pub_seq));
                acked = Some(ring_seq);
            }
            Some(Event::Message { sub: s, seq, data, .. }) => {
                assert_eq!((s, data), (sub, &b"via net"[..]));
                got = Some(seq);
            }
            Some(Event::Pong { token }) => {
                assert_eq!(token, 42);
                pong = true;
            }
            Some(other) => panic!("unexpected event {:?}", other),
            None => {}
        }
    }
    assert_eq!(acked, got);
    // A user tag crosses the bridge (PROTOCOL.md 8.1).
    conn.publish_tagged(ch, b"typed", 0x2a, PUB_FLUSH).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "the tagged message did not come back within 10 s");
        if let Some(Event::Message { data, tag, .. }) = conn.poll(Some(Duration::from_secs(1))).unwrap() {
            assert_eq!((data, tag), (&b"typed"[..], 0x2a));
            break;
        }
    }
    let e = conn.bind("nosuch", t).unwrap_err();
    assert!(matches!(e, hermes::Error::NotFound(_)), "{}", e);
    conn.unsubscribe(sub).unwrap();
    conn.unbind(ch).unwrap();
    let _ = tb;
}

#[test]
fn round_trips_through_a_real_bridge() {
    let tb = TestBus::with_ring("bridge", "orders", 64 << 10, 1024, Policy::Block);
    let bridge = Bridge::start(&tb);
    let addr = bridge.addr.clone();
    raw_protocol(&addr, &tb);
    net_client(&addr, &tb);
    let refused = Connection::connect("127.0.0.1:1", &Options { connect_timeout: Some(Duration::from_secs(2)), ..Options::default() });
    assert!(refused.is_err());
    bridge.stop();
}

#[test]
fn authenticated_encrypted_session_through_the_net_client() {
    // A build without libsodium has no authentication (CMake says so here).
    if std::env::var("HERMES_TEST_SODIUM").map_or(false, |v| v == "0") {
        eprintln!("skipped: libhermes-ipc was built without libsodium");
        return;
    }
    let tb = TestBus::with_ring("auth", "secure", 64 << 10, 1024, Policy::Block);
    let key = |name: &str| {
        let p = tb.dir.join(format!("{}.key", name));
        bridge_run(&["keygen", name, "--out", p.to_str().unwrap()]);
        p.to_str().unwrap().to_string()
    };
    let (alice, mallory) = (key("alice"), key("mallory"));
    let auth = tb.dir.join("auth.ini");
    std::fs::write(&auth, format!("[identity alice]\nkey_file = {}\npublish = *\nsubscribe = *\n", alice)).unwrap();
    let bridge = Bridge::start_with(&tb, &["--auth", auth.to_str().unwrap()], false);
    let t = Some(Duration::from_secs(10));
    let as_ = |identity: &str, key_file: &str| Options {
        identity: Some(identity.into()),
        key_file: Some(key_file.into()),
        encrypt: Some(true),
        connect_timeout: t,
        ..Options::default()
    };

    let mut conn = Connection::connect(&bridge.addr, &as_("alice", &alice)).unwrap();
    assert_eq!(conn.features() & (FEATURE_AUTH | FEATURE_ENCRYPT), FEATURE_AUTH | FEATURE_ENCRYPT);
    let (ch, _) = conn.bind("secure", t).unwrap();
    conn.publish(ch, b"sealed", PUB_ACK | PUB_FLUSH).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let ring_seq = loop {
        assert!(Instant::now() < deadline, "no ack within 10 s");
        match conn.poll(Some(Duration::from_secs(1))).unwrap() {
            Some(Event::Ack { ring_seq, .. }) => break ring_seq,
            Some(other) => panic!("unexpected event {:?}", other),
            None => {}
        }
    };
    let mut sub = tb.bus().subscriber("secure", Start::Seq(ring_seq)).unwrap();
    assert_eq!(sub.poll().unwrap().unwrap().data, b"sealed");
    sub.release().unwrap();
    drop(conn);

    // A key that is not alice's is refused, and so is an anonymous client.
    let e = Connection::connect(&bridge.addr, &as_("alice", &mallory)).err().expect("a wrong key was accepted");
    assert!(matches!(e, hermes::Error::Permission(_)), "{}", e);
    let anon = Options { connect_timeout: t, ..Options::default() };
    assert!(Connection::connect(&bridge.addr, &anon).is_err());
    bridge.stop();
}
