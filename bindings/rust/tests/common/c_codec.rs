//! The C codec of libhermes-ipc (include/hermes/protocol.h), declared for
//! the tests and the benchmark that compare the Rust codec with it.
#![allow(non_camel_case_types, dead_code)]

use std::os::raw::c_int;

#[repr(C)]
pub struct hermes_encoder {
    _p: [u8; 0],
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct hermes_frame_header {
    pub version: u8,
    pub type_: u8,
    pub flags: u16,
    pub length: u32,
    pub channel: u32,
    pub sequence: u64,
}

#[repr(C)]
pub struct hermes_frame {
    pub header: hermes_frame_header,
    pub payload: *const u8,
    pub bytes: *const u8,
}

#[repr(C)]
pub struct hermes_wire_bytes {
    pub data: *const u8,
    pub len: usize,
}

#[repr(C)]
pub struct hermes_decoder {
    pub buf: *const u8,
    pub len: usize,
    pub pos: usize,
    pub max_payload: usize,
    pub max_frame: u32,
    pub accept: u8,
    pub phase: u8,
    pub role: u8,
}

#[repr(C)]
pub struct hermes_batch_item {
    pub payload: *const u8,
    pub len: usize,
    pub sequence: u64,
}

extern "C" {
    pub fn hermes_encoder_create(capacity: usize, out: *mut *mut hermes_encoder) -> c_int;
    pub fn hermes_encoder_destroy(enc: *mut hermes_encoder);
    pub fn hermes_encoder_reset(enc: *mut hermes_encoder);
    pub fn hermes_encode(enc: *mut hermes_encoder, t: c_int, seq: u64, payload: *const u8, len: usize, frame: *mut hermes_wire_bytes) -> c_int;
    pub fn hermes_encode_frame(enc: *mut hermes_encoder, h: *const hermes_frame_header, payload: *const u8, len: usize, frame: *mut hermes_wire_bytes) -> c_int;
    pub fn hermes_encode_batch(enc: *mut hermes_encoder, tmpl: *const hermes_frame_header, items: *const hermes_batch_item, count: usize, done: *mut usize, frames: *mut hermes_wire_bytes) -> c_int;
    pub fn hermes_decoder_init(dec: *mut hermes_decoder, buf: *const u8, len: usize) -> c_int;
    pub fn hermes_decoder_set_phase(dec: *mut hermes_decoder, phase: c_int) -> c_int;
    pub fn hermes_decoder_set_role(dec: *mut hermes_decoder, role: c_int) -> c_int;
    pub fn hermes_decoder_next(dec: *mut hermes_decoder, frame: *mut hermes_frame) -> c_int;
    pub fn hermes_decoder_needed(dec: *const hermes_decoder) -> usize;
}

/// A C decoder over buf (which must outlive it).
pub fn decoder(buf: &[u8]) -> hermes_decoder {
    let mut d = hermes_decoder { buf: std::ptr::null(), len: 0, pos: 0, max_payload: 0, max_frame: 0, accept: 0, phase: 0, role: 0 };
    // SAFETY: d is valid, buf holds buf.len() bytes.
    assert_eq!(unsafe { hermes_decoder_init(&mut d, buf.as_ptr(), buf.len()) }, 0);
    d
}

/// What the C decoder says about the first frame of buf: Ok(header, payload
/// offset) or the error code.
pub fn decode_first(buf: &[u8], phase: u8, role: u8) -> Result<(hermes_frame_header, usize), u32> {
    let mut d = decoder(buf);
    let mut f = hermes_frame { header: Default::default(), payload: std::ptr::null(), bytes: std::ptr::null() };
    // SAFETY: d reads buf, alive here.
    unsafe {
        assert_eq!(hermes_decoder_set_phase(&mut d, phase as c_int), 0);
        assert_eq!(hermes_decoder_set_role(&mut d, role as c_int), 0);
        match hermes_decoder_next(&mut d, &mut f) {
            0 => Ok((f.header, f.payload as usize - buf.as_ptr() as usize)),
            e => Err(e as u32),
        }
    }
}
