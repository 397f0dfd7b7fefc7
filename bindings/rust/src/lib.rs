//! Rust bindings for Hermes, the shared-memory message bus.
//!
//! - [`protocol`]: the wire protocol of docs/PROTOCOL.md in pure Rust (the
//!   original Hermes API: [`protocol::Encoder`], [`protocol::Decoder`]);
//! - [`bus`]: the shared-memory bus over libhermes-ipc: attach, rings,
//!   zero-copy publish and subscribe;
//! - [`net`]: the remote client of a hermes-bridge (`hermes_net_*`);
//! - [`Error`]: one error type for all of them.
//!
//! Quick start, as the original integration guide has it:
//!
//! ```
//! # fn process_message(_seq: u64, _payload: &[u8]) {}
//! # fn main() -> std::io::Result<()> {
//! # use std::io::Write;
//! # let mut socket: Vec<u8> = Vec::new();
//! # let (sequence, payload) = (1u64, &b"hello"[..]);
//! use hermes::protocol::{Encoder, MessageType};
//! let mut encoder = Encoder::new(64 * 1024);
//! let encoded = encoder.encode(MessageType::Publish, sequence, payload).unwrap(); // &[u8], no allocation
//! socket.write_all(encoded)?;
//! encoder.reset();
//! # let messages: Vec<(&[u8], u64)> = vec![(b"a", 2), (b"b", 3)];
//! let batch = encoder.encode_batch(&messages).unwrap();       // messages: Vec<(&[u8], u64)>
//! # socket.write_all(batch)?;
//!
//! use hermes::protocol::{Decoder, HEADER_SIZE};
//! # let buf = socket.clone(); let n = buf.len();
//! let mut decoder = Decoder::new(&buf[..n]);
//! while let Some((header, payload)) = decoder.next() {        // payload borrows buf: zero copy
//!     process_message(header.sequence, payload);
//! }
//! # assert_eq!(decoder.consumed(), 3 * HEADER_SIZE + 7);
//! # Ok(())
//! # }
//! ```

pub mod bus;
mod error;
mod ffi;
pub mod net;
pub mod protocol;

pub use error::{Detail, Error, Result, KNOWN_CODES};
