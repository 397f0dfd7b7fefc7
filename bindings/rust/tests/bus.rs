//! hermes::bus against the real library: a bus created by the test (rings
//! made in place, no hermesd), removed at the end.

use hermes::bus::{Bus, Policy, Start, WaitMode};
use hermes::Error;
use std::time::{Duration, Instant};

mod common;
use common::TestBus;

#[test]
fn claim_commit_poll_release_zero_copy() {
    let tb = TestBus::with_ring("zc", "orders", 64 << 10, 1024, Policy::Block);
    let (mut publisher, mut sub) = tb.pair("orders", Start::Earliest);
    assert!(sub.poll().unwrap().is_none());

    let mut claim = publisher.claim(5).unwrap();
    claim.copy_from_slice(b"hello");
    let want = claim.seq();
    let ring_ptr = claim.as_ptr() as usize;
    assert_eq!(claim.commit().unwrap(), want);
    let seq2 = publisher.send(b"world").unwrap();
    assert_eq!(seq2, want + 1);

    {
        let a = sub.poll().unwrap().unwrap();
        let b = sub.poll().unwrap().unwrap(); // several before one release
        assert_eq!((a.data, a.seq, a.gap), (&b"hello"[..], want, 0));
        assert_eq!(a.data.as_ptr() as usize, ring_ptr, "poll must hand out the bytes in the ring");
        assert_eq!((b.data, b.seq), (&b"world"[..], seq2));
        assert!(sub.poll().unwrap().is_none());
    }
    sub.release().unwrap();
    assert_eq!(sub.next_seq(), seq2 + 1);
}

#[test]
fn dropped_claims_abort_and_batches_commit_together() {
    let tb = TestBus::with_ring("batch", "r", 64 << 10, 1024, Policy::Block);
    let (mut p, mut sub) = tb.pair("r", Start::Earliest);

    {
        let mut c = p.claim(3).unwrap();
        c.copy_from_slice(b"abc");
    } // dropped: aborted
    let lens = [1u32, 2, 3];
    let mut batch = p.claim_batch(&lens).unwrap();
    assert_eq!(batch.len(), 3);
    for i in 0..3 {
        batch.get_mut(i).fill(b'a' + i as u8);
    }
    assert!(sub.poll().unwrap().is_none(), "a batch is invisible before its commit");
    let first = batch.commit().unwrap();
    {
        let m = sub.poll().unwrap().unwrap();
        assert_eq!((m.seq, m.gap, m.data), (first, 1, &b"a"[..]));
        assert_eq!(sub.poll().unwrap().unwrap().data, b"bb");
        assert_eq!(sub.poll().unwrap().unwrap().data, b"ccc");
    }
    sub.release().unwrap();

    // An aborted batch leaves a gap of its size; a dropped one too.
    p.claim_batch(&lens).unwrap().abort().unwrap();
    drop(p.claim_batch(&lens).unwrap());
    let s = p.send(b"after").unwrap();
    let m = sub.poll().unwrap().unwrap();
    assert_eq!((m.seq, m.gap), (s, 6));
    assert!(matches!(p.claim_batch(&[]), Err(Error::Invalid(_))));
}

#[test]
fn user_tags_reach_poll_and_recv() {
    let tb = TestBus::with_ring("tags", "typed", 64 << 10, 1024, Policy::Block);
    let (mut p, mut sub) = tb.pair("typed", Start::Earliest);
    p.send_tagged(b"a", 0x2a, Some(Duration::ZERO)).unwrap();
    p.send(b"b").unwrap();
    p.send_tagged(b"c", u32::MAX, None).unwrap();
    {
        let m = sub.poll().unwrap().unwrap();
        assert_eq!((m.data, m.tag), (&b"a"[..], 0x2a));
        assert_eq!(sub.poll().unwrap().unwrap().tag, 0);
    }
    sub.release().unwrap();
    let mut buf = [0u8; 8];
    let r = sub.recv(&mut buf).unwrap().unwrap();
    assert_eq!((r.len, r.tag), (1, u32::MAX));
}

#[test]
fn full_block_ring_errors_and_copying_receive() {
    let tb = TestBus::with_ring("full", "small", 4096, 256, Policy::Block);
    let (mut p, mut sub) = tb.pair("small", Start::Latest);
    assert!(matches!(p.claim(257), Err(Error::MessageSize(_))));
    let mut sent = 0;
    loop {
        match p.send(&[1u8; 200]) {
            Ok(_) => sent += 1,
            Err(Error::Again(_)) => break,
            Err(e) => panic!("{}", e),
        }
        assert!(sent < 1000, "a 4 KiB block ring never filled");
    }
    let t = Instant::now();
    assert!(matches!(p.send_timed(&[1u8; 200], Some(Duration::from_millis(20))), Err(Error::TimedOut(_))));
    assert!(t.elapsed() >= Duration::from_millis(20));

    let mut small = [0u8; 10];
    match sub.recv(&mut small) {
        Err(Error::NoBuffers(_)) => {}
        other => panic!("recv into 10 bytes: {:?}", other),
    }
    let mut buf = [0u8; 256];
    let mut got = 0;
    while let Some(r) = sub.recv(&mut buf).unwrap() {
        assert_eq!(r.len, 200);
        got += 1;
    }
    assert_eq!(got, sent);
    p.send(&[2u8; 200]).unwrap(); // room again after the subscriber released
}

#[test]
fn wait_times_out_then_wakes_on_a_publish_from_another_thread() {
    let tb = TestBus::with_ring("wait", "w", 64 << 10, 1024, Policy::Block);
    let bus = tb.bus();
    let mut sub = bus.subscriber("w", Start::Latest).unwrap();
    let t = Instant::now();
    assert!(!sub.wait(WaitMode::Block, Some(Duration::from_millis(30))).unwrap());
    assert!(t.elapsed() >= Duration::from_millis(30));

    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel();
        s.spawn(move || {
            let mut p = bus.publisher("w").unwrap();
            rx.recv().unwrap(); // after the subscriber started waiting (or about to)
            p.send(b"wake").unwrap();
        });
        tx.send(()).unwrap();
        assert!(sub.wait(WaitMode::Block, Some(Duration::from_secs(10))).unwrap(), "no wake-up within 10 s");
    });
    assert_eq!(sub.poll().unwrap().unwrap().data, b"wake");
    sub.release().unwrap();

    let mut n = 0;
    let mut p = bus.publisher("w").unwrap();
    for i in 0..10u8 {
        p.send(&[i]).unwrap();
    }
    let delivered = sub.poll_batch(0, |m| {
        assert_eq!(m.data, [n as u8]);
        n += 1;
    });
    assert_eq!((delivered.unwrap(), n), (10, 10));
}

#[test]
fn lapped_subscriber_of_an_overwrite_ring_learns_how_many_it_lost() {
    let tb = TestBus::with_ring("lap", "ow", 4096, 256, Policy::Overwrite);
    let (mut p, mut sub) = tb.pair("ow", Start::Earliest);
    let mut last = 0;
    for i in 0..200u32 {
        last = p.send(&i.to_le_bytes().repeat(25)).unwrap();
    }
    let lost = match sub.poll() {
        Err(e @ Error::Lost(_)) => {
            assert!(e.to_string().contains("lost"), "{}", e);
            e.lost().unwrap()
        }
        other => panic!("expected Lost, got {:?}", other.map(|m| m.map(|m| m.seq))),
    };
    assert!(lost > 0);
    let mut seen = 0;
    let mut prev = None;
    while let Some(m) = sub.poll().unwrap() {
        if let Some(prev) = prev {
            assert_eq!(m.seq, prev + 1);
        }
        prev = Some(m.seq);
        seen += 1;
    }
    assert_eq!(prev, Some(last));
    assert_eq!(lost + seen, 200);
    sub.release().unwrap();
}

#[test]
fn errors_say_what_and_why() {
    let missing = common::unique("nobus");
    let e = Bus::attach(Some(&missing)).err().expect("attached a bus that does not exist");
    assert!(matches!(e, Error::NotFound(_)), "{:?}", e);
    assert!(e.to_string().contains("HERMES_ENOENT"), "{}", e);
    assert!(e.detail().message().contains(&missing), "detail '{}' does not name the bus", e.detail().message());

    let tb = TestBus::new("err");
    let e = tb.bus().publisher("nosuch").err().unwrap();
    assert!(matches!(e, Error::NotFound(_)));
    assert!(matches!(tb.bus().subscriber("bad\0name", Start::Latest), Err(Error::Invalid(_))));
    let cfg = hermes::bus::RingConfig { name: "odd", capacity: 5000, max_msg: 16, policy: Policy::Block, slots: 0 };
    let e = tb.bus().create_ring(&cfg).unwrap_err();
    assert!(matches!(e, Error::Invalid(_)));
    assert!(!e.detail().message().is_empty(), "no detail for a bad capacity");
    let e: Box<dyn std::error::Error> = Box::new(e);
    assert!(!e.to_string().is_empty());

    tb.ring("ro", 4096, 16, Policy::Block);
    let ro = Bus::attach_readonly(Some(&tb.name)).unwrap();
    assert_eq!(ro.id(), tb.bus().id());
    assert!(matches!(ro.publisher("ro"), Err(Error::Permission(_))));
}
