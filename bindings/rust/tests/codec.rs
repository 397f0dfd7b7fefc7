//! The Rust codec on its own and next to the C codec: the quick start,
//! allocation-freedom after Encoder::new, streams split anywhere, and the
//! same verdict as libhermes-ipc on malformed headers.

use hermes::protocol::*;
use hermes::Error;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

// Counts allocations of the current thread (the test harness allocates on
// other threads meanwhile).
struct Counting;
thread_local!(static ALLOCS: Cell<u64> = Cell::new(0));
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|a| a.set(a.get() + 1));
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
}
#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(|a| a.get())
}

#[test]
fn quick_start_round_trip() {
    let mut socket: Vec<u8> = Vec::new();
    let mut encoder = Encoder::new(64 * 1024);
    let encoded = encoder.encode(MessageType::Publish, 1, b"first").unwrap();
    socket.extend_from_slice(encoded);
    encoder.reset();
    let messages: Vec<(&[u8], u64)> = vec![(b"a", 2), (b"", 3), (&[7u8; 1000], 4)];
    let batch = encoder.encode_batch(&messages).unwrap();
    assert_eq!(batch.len(), 3 * HEADER_SIZE + 1001);
    socket.extend_from_slice(batch);

    let buf = socket;
    let n = buf.len();
    let mut decoder = Decoder::new(&buf[..n]);
    let mut seen = Vec::new();
    while let Some((header, payload)) = decoder.next() {
        assert_eq!(header.msg_type, MessageType::Publish);
        // Zero copy: the payload lies inside buf.
        let off = payload.as_ptr() as usize - buf.as_ptr() as usize;
        assert!(off + payload.len() <= n);
        seen.push((header.sequence, payload.to_vec()));
    }
    assert_eq!(decoder.consumed(), n);
    assert_eq!(seen.len(), 4);
    assert_eq!(seen[0], (1, b"first".to_vec()));
    assert_eq!(seen[3].1.len(), 1000);
}

#[test]
fn nothing_allocates_after_new() {
    let mut enc = Encoder::new(64 * 1024);
    let messages: Vec<(&[u8], u64)> = (0..100u64).map(|i| (&b"payload"[..], i)).collect();
    let mut copy = vec![0u8; 64 * 1024];
    let before = allocs();
    for round in 0..100u64 {
        enc.reset();
        enc.encode(MessageType::Publish, round, b"hello").unwrap();
        enc.encode_frame(MessageType::Publish, FLAG_ACK_REQUESTED, 1, round, b"x").unwrap();
        enc.encode_batch(&messages).unwrap();
        enc.encode_message(2, 0, &Message::Subscribe(Subscribe { start: START_EARLIEST, start_sequence: 0, ring: b"orders" })).unwrap();
        enc.claim(MessageType::Deliver, 0, 2, round, 16).unwrap().fill(1);
        let n = enc.data().len();
        copy[..n].copy_from_slice(enc.data());
        let mut d = Decoder::new(&copy[..n]);
        let mut count = 0;
        while let Some((h, p)) = d.next() {
            Message::parse(h.msg_type, p).unwrap();
            count += 1;
        }
        assert_eq!(count, 104);
        assert!(d.try_next().is_err());
        assert_eq!(enc.encode(MessageType::Ping, 1, b"not empty").map(|_| ()), Err(Error::BadPayload(Default::default())));
    }
    assert_eq!(allocs() - before, 0, "the codec allocated after Encoder::new");
}

#[test]
fn a_stream_split_anywhere_decodes_the_same() {
    let mut enc = Encoder::new(0);
    enc.encode_frame(MessageType::Publish, FLAG_ACK_REQUESTED, 1, 1, b"hello").unwrap();
    enc.encode_message(2, 0, &Message::Bind { ring: b"orders" }).unwrap();
    enc.encode(MessageType::Ping, 7, &[]).unwrap();
    let stream = enc.data().to_vec();
    for cut in 0..=stream.len() {
        // Feed the first `cut` bytes, then everything: the frames before the
        // cut come out whole, the partial one is NeedMore with the right count.
        let mut d = Decoder::new(&stream[..cut]);
        let mut got = 0;
        loop {
            match d.try_next() {
                Ok(_) => got += 1,
                Err(Error::NeedMore(_)) => break,
                Err(e) => panic!("cut {}: {}", cut, e),
            }
        }
        let kept = d.consumed();
        if kept < cut || cut < stream.len() {
            assert!(d.needed() > 0 && d.needed() <= stream.len() - kept, "cut {}: needed {}", cut, d.needed());
        }
        d.set_buffer(&stream[kept..]);
        while d.try_next().is_ok() {
            got += 1;
        }
        assert_eq!(got, 3, "cut {}", cut);
    }
}

#[test]
fn malformed_headers_get_the_c_codecs_verdict() {
    let mut enc = Encoder::new(0);
    let frames: Vec<Vec<u8>> = vec![
        enc.encode_frame(MessageType::Publish, FLAG_ACK_REQUESTED, 1, 9, b"hello").unwrap().to_vec(),
        enc.encode_message(0, 0, &Message::Hello(Hello { min_version: 1, max_version: 1, features: 3, max_frame: 1 << 20, identity: b"me" })).unwrap().to_vec(),
        enc.encode_message(3, 0, &Message::Error(ErrorFrame { code: 6, fatal: false, text: "no" })).unwrap().to_vec(),
        enc.encode(MessageType::Pong, 5, &[]).unwrap().to_vec(),
    ];
    let values = [0x00u8, 0x01, 0x02, 0x03, 0x10, 0x13, 0x30, 0x3F, 0x40, 0x48, 0x4D, 0x80, 0xFF];
    let mut checked = 0;
    for frame in &frames {
        for pos in 0..HEADER_SIZE {
            for &v in &values {
                let mut f = frame.clone();
                f[pos] = v;
                for (phase, role) in [(Phase::Any, Role::Any), (Phase::Hello, Role::Server), (Phase::Session, Role::Client), (Phase::Auth, Role::Any)] {
                    // Whole, and cut at every length of the header.
                    for cut in [f.len(), pos + 1, HEADER_SIZE - 1] {
                        let b = &f[..cut.min(f.len())];
                        let mut d = Decoder::new(b);
                        d.set_phase(phase);
                        d.set_role(role);
                        let rust = d.try_next().map(|fr| (fr.header.msg_type as u8, fr.header.flags, fr.header.length, fr.header.channel, fr.header.sequence)).map_err(|e| e.code());
                        let c = common::c_codec::decode_first(b, phase as u8, role as u8).map(|(h, _)| (h.type_, h.flags, h.length, h.channel, h.sequence));
                        assert_eq!(rust, c, "byte {} = {:#x}, cut {}, {:?}/{:?}", pos, v, cut, phase, role);
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 3000);
}

#[test]
fn specific_errors() {
    let ok = Encoder::new(0).encode(MessageType::Ping, 1, &[]).unwrap().to_vec();
    let verdict = |b: &[u8]| Decoder::new(b).try_next().map(|_| ()).map_err(|e| e.name());
    assert_eq!(verdict(&[0x00]), Err("HERMES_EBADMAGIC")); // one stray byte is refused at once
    assert_eq!(verdict(&[0x48]), Err("HERMES_ENEEDMORE"));
    let mut b = ok.clone();
    b[2] = 2;
    assert_eq!(verdict(&b), Err("HERMES_EBADVERSION"));
    b = ok.clone();
    b[3] = 0;
    assert_eq!(verdict(&b), Err("HERMES_EBADTYPE"));
    b = ok.clone();
    b[4] = 1; // ACK_REQUESTED on PING
    assert_eq!(verdict(&b), Err("HERMES_EBADFLAGS"));
    b = ok.clone();
    b[12] = 1; // a channel on PING
    assert_eq!(verdict(&b), Err("HERMES_EBADFLAGS"));
    b = ok.clone();
    b[8] = 1; // PING has no payload
    assert_eq!(verdict(&b), Err("HERMES_EBADPAYLOAD"));
    let mut big = Encoder::new(0).claim(MessageType::Deliver, 0, 1, 1, 0).unwrap().to_vec();
    big = [Encoder::new(0).encode(MessageType::Deliver, 1, &[]).unwrap(), &big[..]].concat();
    big[8..12].copy_from_slice(&(DEFAULT_MAX_FRAME).to_le_bytes());
    assert_eq!(verdict(&big[..12]), Err("HERMES_ETOOBIG")); // before any payload byte
    let mut d = Decoder::new(&ok);
    d.set_phase(Phase::Hello);
    assert_eq!(d.try_next().map(|_| ()).map_err(|e| e.name()), Err("HERMES_EHANDSHAKE"));

    // Encoder: TooBig never fits, NoBuffers fits after a reset; nothing is
    // appended on error, and a batch is all or nothing.
    let mut enc = Encoder::new(100);
    assert!(matches!(enc.encode(MessageType::Publish, 1, &[0; 77]), Err(Error::TooBig(_))));
    enc.encode(MessageType::Publish, 1, &[0; 50]).unwrap();
    assert!(matches!(enc.encode(MessageType::Publish, 2, &[0; 10]), Err(Error::NoBuffers(_))));
    assert_eq!(enc.data().len(), 74);
    let two: Vec<(&[u8], u64)> = vec![(b"", 1), (b"", 2)];
    assert!(matches!(enc.encode_batch(&two), Err(Error::NoBuffers(_))));
    assert_eq!(enc.data().len(), 74);
    enc.reset();
    assert_eq!(enc.encode_batch(&two).unwrap().len(), 48);
    assert!(matches!(enc.encode(MessageType::Bind, 5, b"orders"), Err(Error::BadFlags(_)))); // BIND has no sequence
    assert!(matches!(enc.encode_message(1, 0, &Message::Bind { ring: b"has space" }), Err(Error::Invalid(_))));
    assert!(enc.set_max_frame(100).is_err());
    enc.set_max_frame(MIN_MAX_FRAME).unwrap();
}

#[test]
fn rust_encodes_what_c_encodes() {
    use common::c_codec::*;
    let mut enc = Encoder::new(0);
    let mut c: *mut hermes_encoder = std::ptr::null_mut();
    // SAFETY: plain calls on an encoder we own; destroyed at the end.
    unsafe {
        assert_eq!(hermes_encoder_create(0, &mut c), 0);
        let payload = b"some payload bytes..";
        let mut out = hermes_wire_bytes { data: std::ptr::null(), len: 0 };
        for (t, flags, ch, seq, len) in [(0x13u8, 1u16, 4u32, 99u64, 18usize), (0x23, 0, 2, 1 << 40, 0), (0x30, 0, 0, 7, 0), (0x3F, 2, 0, 0, 20)] {
            let h = hermes_frame_header { version: 1, type_: t, flags, length: 0, channel: ch, sequence: seq };
            assert_eq!(hermes_encode_frame(c, &h, payload.as_ptr(), len, &mut out), 0);
            let want = std::slice::from_raw_parts(out.data, out.len).to_vec();
            let got = enc.encode_frame(MessageType::from_u8(t).unwrap(), flags, ch, seq, &payload[..len]).unwrap();
            assert_eq!(got, &want[..]);
        }
        let items: Vec<hermes_batch_item> = (0..5u64).map(|i| hermes_batch_item { payload: payload.as_ptr(), len: i as usize, sequence: i + 1 }).collect();
        let tmpl = hermes_frame_header { version: 1, type_: 0x13, flags: 0, length: 0, channel: 0, sequence: 0 };
        let mut done = 0usize;
        assert_eq!(hermes_encode_batch(c, &tmpl, items.as_ptr(), items.len(), &mut done, &mut out), 0);
        let want = std::slice::from_raw_parts(out.data, out.len).to_vec();
        let msgs: Vec<(&[u8], u64)> = (0..5u64).map(|i| (&payload[..i as usize], i + 1)).collect();
        assert_eq!(enc.encode_batch(&msgs).unwrap(), &want[..]);
        hermes_encoder_destroy(c);
    }
}

mod common;
