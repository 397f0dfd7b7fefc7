//! The C API of libhermes-ipc (include/hermes/bus.h, net.h), declared by
//! hand. Struct layouts follow the headers field for field; the tests
//! exercise every one of them against the real library.
#![allow(non_camel_case_types, dead_code)]

use std::marker::{PhantomData, PhantomPinned};
use std::os::raw::{c_char, c_int, c_uint, c_void};

pub type hermes_err = c_int;

/// The C API's opaque handles: reached only through the pointers its
/// functions hand out, never made or moved by Rust. Zero-sized here; the
/// marker keeps them !Send, !Sync and !Unpin, since the C side promises none
/// of that for the bare handle (the safe wrappers say what they allow).
macro_rules! opaque_handles {
    ($($name:ident),*) => {$(
        #[repr(C)]
        pub struct $name {
            _p: [u8; 0],
            _marker: PhantomData<(*mut u8, PhantomPinned)>,
        }
    )*};
}

opaque_handles!(hermes_bus, hermes_pub, hermes_sub, hermes_net);

#[repr(C)]
pub struct hermes_ring_config {
    pub name: *const c_char,
    pub capacity: u64,
    pub max_msg: u32,
    pub policy: c_int,
    pub slots: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct hermes_claim {
    pub data: *mut c_void,
    pub len: u32,
    pub n_: u32,
    pub pos_: u64,
    pub seq_: u64,
    pub bytes_: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct hermes_msg {
    pub data: *const c_void,
    pub len: u32,
    pub tag: u32,
    pub seq: u64,
    pub gap: u64,
    pub lost: u64,
}

pub type hermes_handler = extern "C" fn(ctx: *mut c_void, msg: *const hermes_msg);

#[repr(C)]
pub struct hermes_net_options {
    pub identity: *const c_char,
    pub key_file: *const c_char,
    pub encrypt: c_int,
    pub max_frame: u32,
    pub recv_buffer: usize,
    pub send_buffer: usize,
    pub connect_timeout_ns: i64,
    pub features_: u32,
    pub reserved_: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct hermes_net_ring_info {
    pub max_message: u32,
    pub policy: u8,
    pub first_seq: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct hermes_net_event {
    pub type_: c_int,
    pub channel: u32,
    pub seq: u64,
    pub value: u64,
    pub code: c_int,
    pub fatal: u8,
    pub policy: u8,
    pub reserved_: u16,
    pub len: u32,
    pub data: *const c_void,
}

extern "C" {
    pub fn hermes_bus_create(name: *const c_char, size: u64, mode: c_uint, out: *mut *mut hermes_bus) -> hermes_err;
    pub fn hermes_bus_attach(name: *const c_char, out: *mut *mut hermes_bus) -> hermes_err;
    pub fn hermes_bus_attach_readonly(name: *const c_char, out: *mut *mut hermes_bus) -> hermes_err;
    pub fn hermes_bus_detach(bus: *mut hermes_bus);
    pub fn hermes_bus_id(bus: *const hermes_bus) -> u64;
    pub fn hermes_bus_unlink(name: *const c_char) -> hermes_err;
    pub fn hermes_ring_create(bus: *mut hermes_bus, cfg: *const hermes_ring_config) -> hermes_err;
    pub fn hermes_ring_delete(bus: *mut hermes_bus, name: *const c_char, force: c_int) -> hermes_err;

    pub fn hermes_pub_open(bus: *mut hermes_bus, ring: *const c_char, out: *mut *mut hermes_pub) -> hermes_err;
    pub fn hermes_pub_close(p: *mut hermes_pub);
    pub fn hermes_pub_claim(p: *mut hermes_pub, len: u32, claim: *mut hermes_claim) -> hermes_err;
    pub fn hermes_pub_claim_timed(p: *mut hermes_pub, len: u32, claim: *mut hermes_claim, timeout_ns: i64) -> hermes_err;
    pub fn hermes_pub_claim_batch(p: *mut hermes_pub, lens: *const u32, n: u32, ptrs: *mut *mut c_void, claim: *mut hermes_claim) -> hermes_err;
    pub fn hermes_pub_commit(p: *mut hermes_pub, claim: *mut hermes_claim) -> hermes_err;
    pub fn hermes_pub_abort(p: *mut hermes_pub, claim: *mut hermes_claim) -> hermes_err;
    pub fn hermes_pub_send(p: *mut hermes_pub, data: *const c_void, len: u32, seq: *mut u64) -> hermes_err;
    pub fn hermes_pub_send_timed(p: *mut hermes_pub, data: *const c_void, len: u32, seq: *mut u64, timeout_ns: i64) -> hermes_err;
    pub fn hermes_pub_send_tagged(p: *mut hermes_pub, data: *const c_void, len: u32, tag: u32, seq: *mut u64, timeout_ns: i64) -> hermes_err;

    pub fn hermes_sub_open(bus: *mut hermes_bus, ring: *const c_char, start: c_int, seq: u64, out: *mut *mut hermes_sub) -> hermes_err;
    pub fn hermes_sub_close(s: *mut hermes_sub);
    pub fn hermes_sub_poll(s: *mut hermes_sub, msg: *mut hermes_msg) -> hermes_err;
    pub fn hermes_sub_release(s: *mut hermes_sub) -> hermes_err;
    pub fn hermes_sub_poll_batch(s: *mut hermes_sub, f: hermes_handler, ctx: *mut c_void, max: c_uint, count: *mut c_uint) -> hermes_err;
    pub fn hermes_sub_recv(s: *mut hermes_sub, buf: *mut c_void, cap: u32, msg: *mut hermes_msg) -> hermes_err;
    pub fn hermes_sub_wait(s: *mut hermes_sub, mode: c_int, timeout_ns: i64) -> hermes_err;
    pub fn hermes_sub_next_seq(s: *const hermes_sub) -> u64;

    pub fn hermes_net_options_init(o: *mut hermes_net_options);
    pub fn hermes_net_connect(address: *const c_char, o: *const hermes_net_options, out: *mut *mut hermes_net) -> hermes_err;
    pub fn hermes_net_close(n: *mut hermes_net);
    pub fn hermes_net_fd(n: *const hermes_net) -> c_int;
    pub fn hermes_net_server_name(n: *const hermes_net) -> *const c_char;
    pub fn hermes_net_features(n: *const hermes_net) -> u32;
    pub fn hermes_net_bind(n: *mut hermes_net, ring: *const c_char, timeout_ns: i64, channel: *mut u32, info: *mut hermes_net_ring_info) -> hermes_err;
    pub fn hermes_net_unbind(n: *mut hermes_net, channel: u32) -> hermes_err;
    pub fn hermes_net_publish(n: *mut hermes_net, channel: u32, data: *const c_void, len: usize, flags: c_uint, pub_seq: *mut u64) -> hermes_err;
    pub fn hermes_net_publish_tagged(n: *mut hermes_net, channel: u32, data: *const c_void, len: usize, tag: u32, flags: c_uint, pub_seq: *mut u64) -> hermes_err;
    pub fn hermes_net_flush(n: *mut hermes_net, timeout_ns: i64) -> hermes_err;
    pub fn hermes_net_subscribe(n: *mut hermes_net, ring: *const c_char, start: c_int, seq: u64, timeout_ns: i64, sub: *mut u32, info: *mut hermes_net_ring_info) -> hermes_err;
    pub fn hermes_net_unsubscribe(n: *mut hermes_net, sub: u32) -> hermes_err;
    pub fn hermes_net_ping(n: *mut hermes_net, token: u64) -> hermes_err;
    pub fn hermes_net_poll(n: *mut hermes_net, ev: *mut hermes_net_event, timeout_ns: i64) -> hermes_err;
}

pub const HERMES_OK: hermes_err = 0;
pub const HERMES_EAGAIN: hermes_err = 1;
pub const HERMES_ETIMEDOUT: hermes_err = 2;
pub const HERMES_ELOST: hermes_err = 9;
