//! The binding's cost next to the C library, on one core:
//!   - codec: encode and decode ns per 64-byte PUBLISH, Rust vs the C codec;
//!   - bus: send + poll + release ns per 64-byte message, the Rust wrappers
//!     vs the same C calls made directly.
//! cargo run --release --example bench [MESSAGES]   (not a test: numbers only)
use hermes::bus::{Bus, Policy, RingConfig, Start};
use hermes::protocol::{Decoder, Encoder, MessageType};
use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_void};
use std::time::Instant;

#[path = "../tests/common/c_codec.rs"]
mod c_codec;

#[repr(C)]
struct Msg {
    data: *const c_void,
    len: u32,
    reserved: u32,
    seq: u64,
    gap: u64,
    lost: u64,
}

extern "C" {
    fn hermes_bus_attach(name: *const c_char, out: *mut *mut c_void) -> c_int;
    fn hermes_bus_detach(bus: *mut c_void);
    fn hermes_pub_open(bus: *mut c_void, ring: *const c_char, out: *mut *mut c_void) -> c_int;
    fn hermes_pub_close(p: *mut c_void);
    fn hermes_pub_send(p: *mut c_void, data: *const c_void, len: u32, seq: *mut u64) -> c_int;
    fn hermes_sub_open(bus: *mut c_void, ring: *const c_char, start: c_int, seq: u64, out: *mut *mut c_void) -> c_int;
    fn hermes_sub_close(s: *mut c_void);
    fn hermes_sub_poll(s: *mut c_void, msg: *mut Msg) -> c_int;
    fn hermes_sub_release(s: *mut c_void) -> c_int;
}

/// std::hint::black_box is newer than Rust 1.63: a volatile read keeps the
/// value observed, so the work that made it is not optimised away.
fn black_box<T>(x: T) -> T {
    // SAFETY: reads the value x owns, then forgets x: ownership moves once.
    unsafe {
        let r = std::ptr::read_volatile(&x);
        std::mem::forget(x);
        r
    }
}

const BATCH: usize = 64; // messages per release
const PAYLOAD: [u8; 64] = [7; 64];

fn ns_per(n: usize, t: Instant) -> f64 {
    t.elapsed().as_nanos() as f64 / n as f64
}

fn best<F: FnMut() -> f64>(mut f: F) -> f64 {
    (0..5).map(|_| f()).fold(f64::MAX, f64::min)
}

/// Best of 7 rounds of each, alternating, so that load changes on a shared
/// machine hit both sides alike.
fn interleaved<A: FnMut() -> f64, B: FnMut() -> f64>(mut a: A, mut b: B) -> (f64, f64) {
    let (mut x, mut y) = (f64::MAX, f64::MAX);
    for _ in 0..7 {
        y = y.min(b());
        x = x.min(a());
    }
    (x, y)
}

fn codec(n: usize) {
    let frames = 1000; // per buffer
    let mut enc = Encoder::new(frames * 100);
    let mut enc_rust = || {
        let t = Instant::now();
        for i in 0..n {
            if i % frames == 0 {
                enc.reset();
            }
            black_box(enc.encode(MessageType::Publish, i as u64, &PAYLOAD).unwrap().len());
        }
        ns_per(n, t)
    };
    let mut c = std::ptr::null_mut();
    // SAFETY: plain calls on an encoder owned here, destroyed below.
    let mut enc_c = || unsafe {
        assert_eq!(c_codec::hermes_encoder_create(frames * 100, &mut c), 0);
        let mut out = c_codec::hermes_wire_bytes { data: std::ptr::null(), len: 0 };
        let t = Instant::now();
        for i in 0..n {
            if i % frames == 0 {
                c_codec::hermes_encoder_reset(c);
            }
            assert_eq!(c_codec::hermes_encode(c, 0x13, i as u64, PAYLOAD.as_ptr(), PAYLOAD.len(), &mut out), 0);
            black_box(out.len);
        }
        let r = ns_per(n, t);
        c_codec::hermes_encoder_destroy(c);
        r
    };
    let (rust_enc, c_enc) = interleaved(&mut enc_rust, &mut enc_c);
    let mut enc = Encoder::new(frames * 100);
    for i in 0..frames {
        enc.encode(MessageType::Publish, i as u64, &PAYLOAD).unwrap();
    }
    let buf = enc.data().to_vec();
    let rounds = n / frames;
    let dec_rust = || {
        let t = Instant::now();
        for _ in 0..rounds {
            let mut sum = 0u64;
            for (h, p) in Decoder::new(&buf) {
                sum += h.sequence + p.len() as u64;
            }
            black_box(sum);
        }
        ns_per(rounds * frames, t)
    };
    // SAFETY: the decoder reads buf, alive throughout.
    let dec_c = || unsafe {
        let t = Instant::now();
        for _ in 0..rounds {
            let mut d = c_codec::decoder(&buf);
            let mut f = c_codec::hermes_frame { header: Default::default(), payload: std::ptr::null(), bytes: std::ptr::null() };
            let mut sum = 0u64;
            while c_codec::hermes_decoder_next(&mut d, &mut f) == 0 {
                sum += f.header.sequence + f.header.length as u64;
            }
            black_box(sum);
        }
        ns_per(rounds * frames, t)
    };
    let (rust_dec, c_dec) = interleaved(dec_rust, dec_c);
    println!("| encode 64 B PUBLISH | {:.1} | {:.1} | {:+.0} % |", rust_enc, c_enc, (rust_enc / c_enc - 1.0) * 100.0);
    println!("| decode 64 B PUBLISH | {:.1} | {:.1} | {:+.0} % |", rust_dec, c_dec, (rust_dec / c_dec - 1.0) * 100.0);
}

fn bus(n: usize) {
    let name = format!("rust-bench-{}", std::process::id());
    let b = Bus::create(&name, 64 << 20, 0o600).unwrap();
    b.create_ring(&RingConfig { name: "bench", capacity: 1 << 20, max_msg: 1024, policy: Policy::Block, slots: 0 }).unwrap();
    let rust_round = || {
        let mut p = b.publisher("bench").unwrap();
        let mut s = b.subscriber("bench", Start::Latest).unwrap();
        let t = Instant::now();
        for _ in 0..n / BATCH {
            for _ in 0..BATCH {
                p.send(&PAYLOAD).unwrap();
            }
            for _ in 0..BATCH {
                black_box(s.poll().unwrap().unwrap().data.len());
            }
            s.release().unwrap();
        }
        ns_per(n / BATCH * BATCH, t)
    };
    let cname = CString::new(name.clone()).unwrap();
    let ring = CString::new("bench").unwrap();
    // SAFETY: handles opened and closed here, in order.
    let c_round = || unsafe {
        let (mut cb, mut cp, mut cs) = (std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
        assert_eq!(hermes_bus_attach(cname.as_ptr(), &mut cb), 0);
        assert_eq!(hermes_pub_open(cb, ring.as_ptr(), &mut cp), 0);
        assert_eq!(hermes_sub_open(cb, ring.as_ptr(), 0, 0, &mut cs), 0);
        let mut m = Msg { data: std::ptr::null(), len: 0, reserved: 0, seq: 0, gap: 0, lost: 0 };
        let mut seq = 0;
        let t = Instant::now();
        for _ in 0..n / BATCH {
            for _ in 0..BATCH {
                assert_eq!(hermes_pub_send(cp, PAYLOAD.as_ptr().cast(), 64, &mut seq), 0);
            }
            for _ in 0..BATCH {
                assert_eq!(hermes_sub_poll(cs, &mut m), 0);
                black_box(m.len);
            }
            assert_eq!(hermes_sub_release(cs), 0);
        }
        let r = ns_per(n / BATCH * BATCH, t);
        hermes_sub_close(cs);
        hermes_pub_close(cp);
        hermes_bus_detach(cb);
        r
    };
    let (rust, c) = interleaved(rust_round, c_round);
    // Draining a filled ring with the C calls alone: the figure the Python
    // binding's subscriber benchmark (bindings/python/examples) compares with.
    // SAFETY: as c_round.
    let drain = best(|| unsafe {
        let (mut cb, mut cp, mut cs) = (std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
        assert_eq!(hermes_bus_attach(cname.as_ptr(), &mut cb), 0);
        assert_eq!(hermes_pub_open(cb, ring.as_ptr(), &mut cp), 0);
        assert_eq!(hermes_sub_open(cb, ring.as_ptr(), 0, 0, &mut cs), 0);
        let mut m = Msg { data: std::ptr::null(), len: 0, reserved: 0, seq: 0, gap: 0, lost: 0 };
        let (mut seq, mut total, mut ns) = (0, 0usize, 0u128);
        while total < n {
            for _ in 0..8192 {
                assert_eq!(hermes_pub_send(cp, PAYLOAD.as_ptr().cast(), 64, &mut seq), 0);
            }
            let t = Instant::now();
            for i in 0..8192 {
                assert_eq!(hermes_sub_poll(cs, &mut m), 0);
                black_box(m.len);
                if i % BATCH == BATCH - 1 {
                    assert_eq!(hermes_sub_release(cs), 0);
                }
            }
            ns += t.elapsed().as_nanos();
            total += 8192;
        }
        hermes_sub_close(cs);
        hermes_pub_close(cp);
        hermes_bus_detach(cb);
        ns as f64 / total as f64
    });
    println!("| send + poll 64 B (release per {}) | {:.1} | {:.1} | {:+.0} % |", BATCH, rust, c, (rust / c - 1.0) * 100.0);
    println!("| C only: drain a filled ring, poll (release per {}) | | {:.1} ({:.0} M msgs/s) | |", BATCH, drain, 1e3 / drain);
    drop(b);
    Bus::unlink(&name).unwrap();
}

fn main() {
    let n: usize = std::env::args().nth(1).map(|s| s.parse().expect("MESSAGES")).unwrap_or(2_000_000);
    println!("| ns per message ({} messages, best of 7, alternating) | Rust | C | Rust over C |", n);
    println!("|---|---|---|---|");
    codec(n);
    bus(n);
}
