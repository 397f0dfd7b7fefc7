//! The Hermes wire protocol (docs/PROTOCOL.md), in pure Rust: a frame
//! encoder over a buffer it owns, a zero-copy decoder, and the structured
//! payloads. It applies the same rules as the C codec in libhermes-ipc, so
//! what one encodes the other decodes, byte for byte; the crate's tests check
//! every worked example of PROTOCOL.md and talk to a real hermes-bridge.
//!
//! ```
//! use hermes::protocol::{Decoder, Encoder, MessageType, HEADER_SIZE};
//! let mut encoder = Encoder::new(64 * 1024);
//! let frame = encoder.encode(MessageType::Ping, 7, &[]).unwrap().to_vec();
//! assert_eq!(frame.len(), HEADER_SIZE);
//! let mut decoder = Decoder::new(&frame);
//! let (header, payload) = decoder.next().unwrap();
//! assert_eq!((header.msg_type, header.sequence, payload.len()), (MessageType::Ping, 7, 0));
//! ```
//!
//! Nothing here allocates except [`Encoder::new`], blocks, or does I/O.
//! Errors are [`crate::Error`] codes without detail (the codec's failures
//! are fully described by their code).

use crate::error::{Detail, Error, Result};

/// Every frame starts with this many header bytes.
pub const HEADER_SIZE: usize = 24;
/// The first two bytes of every frame, "HM", read as a little-endian u16.
pub const MAGIC: u16 = 0x4D48;
/// The protocol version this codec speaks (header byte 2).
pub const PROTOCOL_VERSION: u8 = 1;
/// Default largest frame (header included) an encoder produces and a decoder accepts.
pub const DEFAULT_MAX_FRAME: u32 = 1024 * 1024;
/// Every peer accepts frames of at least this many bytes.
pub const MIN_MAX_FRAME: u32 = 4096;
/// The largest max frame that can be configured.
pub const FRAME_LIMIT: u32 = 1 << 30;
/// Buffer size [`Encoder::new`] uses when asked for capacity 0.
pub const DEFAULT_CAPACITY: usize = 64 * 1024;

/// Header flag: PUBLISH asks for a PUBLISH_ACK.
pub const FLAG_ACK_REQUESTED: u16 = 0x0001;
/// Header flag: the payload is sealed (session encryption).
pub const FLAG_ENCRYPTED: u16 = 0x0002;
/// Header flag: PUBLISH or DELIVER payload starts with a non-zero u32 user
/// tag (only where [`FEATURE_TAGS`] was negotiated; PROTOCOL.md 8.1).
pub const FLAG_TAGGED: u16 = 0x0004;
/// HELLO/WELCOME feature: authenticate with a pre-shared key.
pub const FEATURE_AUTH: u32 = 0x1;
/// HELLO/WELCOME feature: seal every frame after AUTH_OK.
pub const FEATURE_ENCRYPT: u32 = 0x2;
/// HELLO/WELCOME feature: a link between buses (PROTOCOL.md section 15).
pub const FEATURE_LINK: u32 = 0x4;
/// HELLO/WELCOME feature: user tags travel ([`FLAG_TAGGED`]).
pub const FEATURE_TAGS: u32 = 0x10;
/// Bytes [`FLAG_TAGGED`] puts before the message.
pub const WIRE_TAG_SIZE: usize = 4;

pub const NONCE_SIZE: usize = 32;
pub const KX_PUBLIC_KEY_SIZE: usize = 32;
pub const AUTH_TAG_SIZE: usize = 32;
pub const SEAL_TAG_SIZE: usize = 16;
/// Longest identity, server name or ring name.
pub const WIRE_NAME_MAX: usize = 255;
/// Longest ERROR text.
pub const ERROR_TEXT_MAX: usize = 1024;
pub const HELLO_MAX: usize = 12 + WIRE_NAME_MAX;
pub const SUBSCRIBE_MAX: usize = 16 + WIRE_NAME_MAX;
pub const ERROR_MAX: usize = 8 + ERROR_TEXT_MAX;
/// Bytes of the longest authentication transcript.
pub const AUTH_TRANSCRIPT_MAX: usize = 16 + 2 * HELLO_MAX + 4 * NONCE_SIZE;

/// SUBSCRIBE start: only messages committed from now on.
pub const START_LATEST: u8 = 0;
/// SUBSCRIBE start: the oldest message still in the ring.
pub const START_EARLIEST: u8 = 1;
/// SUBSCRIBE start: the given sequence.
pub const START_AT: u8 = 2;
/// Ring policy in BOUND / SUBSCRIBED: block (reliable).
pub const POLICY_BLOCK: u8 = 0;
/// Ring policy in BOUND / SUBSCRIBED: overwrite (lossy).
pub const POLICY_OVERWRITE: u8 = 1;

#[cold]
fn err(code: u32) -> Error {
    Error::from_code(code, Detail::none())
}
const E_INVAL: u32 = 3;
const E_BADMAGIC: u32 = 17;
const E_BADVERSION: u32 = 18;
const E_BADTYPE: u32 = 19;
const E_BADFLAGS: u32 = 20;
const E_TOOBIG: u32 = 21;
const E_NEEDMORE: u32 = 22;
const E_HANDSHAKE: u32 = 23;
const E_NOBUFS: u32 = 24;
const E_BADPAYLOAD: u32 = 28;

/// Message types (header byte 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageType {
    Hello = 0x01,
    Welcome = 0x02,
    AuthChallenge = 0x03,
    AuthResponse = 0x04,
    AuthOk = 0x05,
    Bind = 0x10,
    Bound = 0x11,
    Unbind = 0x12,
    Publish = 0x13,
    PublishAck = 0x14,
    Subscribe = 0x20,
    Subscribed = 0x21,
    Unsubscribe = 0x22,
    Deliver = 0x23,
    Loss = 0x24,
    Ping = 0x30,
    Pong = 0x31,
    Error = 0x3E,
    Goodbye = 0x3F,
}

/// Where a connection is in its life; a decoder set to a phase accepts only
/// the types allowed in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    Any = 0,
    Hello = 1,
    Auth = 2,
    Session = 3,
}

/// Which end reads the frames: a server-side decoder accepts only what
/// clients send, and the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Role {
    Any = 0,
    Server = 1,
    Client = 2,
}

// Accept bits: the phases and receiving roles that allow a type (as in the C
// codec). A decoder's mask has one phase bit and one role bit.
const P_ANY: u8 = 1 << 0;
const P_HELLO: u8 = 1 << 1;
const P_AUTH: u8 = 1 << 2;
const P_SESSION: u8 = 1 << 3;
const R_ANY: u8 = 1 << 4;
const R_SERVER: u8 = 1 << 5; // sent by clients
const R_CLIENT: u8 = 1 << 6; // sent by servers
const C2S: u8 = R_ANY | R_SERVER;
const S2C: u8 = R_ANY | R_CLIENT;
const BOTH: u8 = R_ANY | R_SERVER | R_CLIENT;
const IN_HELLO: u8 = P_ANY | P_HELLO;
const IN_AUTH: u8 = P_ANY | P_AUTH;
const IN_SESSION: u8 = P_ANY | P_SESSION;
const IN_ALL: u8 = P_ANY | P_HELLO | P_AUTH | P_SESSION;
const F_CHANNEL: u8 = 1;
const F_SEQUENCE: u8 = 2;
const ANY_LEN: u32 = u32::MAX;

/// What PROTOCOL.md's type table says about one type.
#[derive(Clone, Copy)]
struct Rule {
    min_len: u32,
    max_len: u32,
    flags: u16,
    accept: u8, // 0: not a message type
    fields: u8,
    t: MessageType,
}

const fn rule(t: MessageType, min_len: u32, max_len: u32, flags: u16, accept: u8, fields: u8) -> Rule {
    Rule { min_len, max_len, flags, accept, fields, t }
}

/// Every type's rule at the index of its code (the top two bits of a type
/// byte are never used); entries with accept 0 are not types. One table, so
/// the decoder's check is a lookup, as in the C codec.
static RULES: [Rule; 64] = {
    use MessageType::*;
    const E: u16 = FLAG_ENCRYPTED;
    const A: u16 = FLAG_ACK_REQUESTED;
    const T: u16 = FLAG_TAGGED;
    const HELLO_FIXED: u32 = 12;
    // Handshake types are never sealed and use no header fields.
    let list = [
        rule(Hello, HELLO_FIXED, HELLO_MAX as u32, 0, IN_HELLO | C2S, 0),
        rule(Welcome, HELLO_FIXED, HELLO_MAX as u32, 0, IN_HELLO | S2C, 0),
        rule(AuthChallenge, 64, 64, 0, IN_AUTH | S2C, 0),
        rule(AuthResponse, 96, 96, 0, IN_AUTH | C2S, 0),
        rule(AuthOk, 32, 32, 0, IN_AUTH | S2C, 0),
        rule(Bind, 1, WIRE_NAME_MAX as u32, E, IN_SESSION | C2S, F_CHANNEL),
        rule(Bound, 8, 8, E, IN_SESSION | S2C, F_CHANNEL),
        rule(Unbind, 0, 0, E, IN_SESSION | C2S, F_CHANNEL),
        rule(Publish, 0, ANY_LEN, E | A | T, IN_SESSION | C2S, F_CHANNEL | F_SEQUENCE),
        rule(PublishAck, 8, 8, E, IN_SESSION | S2C, F_CHANNEL | F_SEQUENCE),
        rule(Subscribe, 17, SUBSCRIBE_MAX as u32, E, IN_SESSION | C2S, F_CHANNEL),
        rule(Subscribed, 8, 8, E, IN_SESSION | S2C, F_CHANNEL | F_SEQUENCE),
        rule(Unsubscribe, 0, 0, E, IN_SESSION | C2S, F_CHANNEL),
        rule(Deliver, 0, ANY_LEN, E | T, IN_SESSION | S2C, F_CHANNEL | F_SEQUENCE),
        rule(Loss, 8, 8, E, IN_SESSION | S2C, F_CHANNEL | F_SEQUENCE),
        rule(Ping, 0, 0, E, IN_SESSION | BOTH, F_SEQUENCE),
        rule(Pong, 0, 0, E, IN_SESSION | BOTH, F_SEQUENCE),
        rule(Error, 8, ERROR_MAX as u32, E, IN_ALL | BOTH, F_CHANNEL | F_SEQUENCE),
        rule(Goodbye, 4, 4, E, IN_ALL | BOTH, 0),
    ];
    let mut table = [rule(Hello, 0, 0, 0, 0, 0); 64];
    let mut i = 0;
    while i < list.len() {
        table[list[i].t as usize] = list[i];
        i += 1;
    }
    table
};

impl MessageType {
    /// Every type, in code order.
    pub const ALL: [MessageType; 19] = [
        MessageType::Hello,
        MessageType::Welcome,
        MessageType::AuthChallenge,
        MessageType::AuthResponse,
        MessageType::AuthOk,
        MessageType::Bind,
        MessageType::Bound,
        MessageType::Unbind,
        MessageType::Publish,
        MessageType::PublishAck,
        MessageType::Subscribe,
        MessageType::Subscribed,
        MessageType::Unsubscribe,
        MessageType::Deliver,
        MessageType::Loss,
        MessageType::Ping,
        MessageType::Pong,
        MessageType::Error,
        MessageType::Goodbye,
    ];

    /// The type with this code, if it is one.
    pub fn from_u8(code: u8) -> Option<MessageType> {
        RULES.get(code as usize).filter(|r| r.accept != 0).map(|r| r.t)
    }

    /// The name PROTOCOL.md uses ("PUBLISH_ACK").
    pub fn name(self) -> &'static str {
        use MessageType::*;
        match self {
            Hello => "HELLO",
            Welcome => "WELCOME",
            AuthChallenge => "AUTH_CHALLENGE",
            AuthResponse => "AUTH_RESPONSE",
            AuthOk => "AUTH_OK",
            Bind => "BIND",
            Bound => "BOUND",
            Unbind => "UNBIND",
            Publish => "PUBLISH",
            PublishAck => "PUBLISH_ACK",
            Subscribe => "SUBSCRIBE",
            Subscribed => "SUBSCRIBED",
            Unsubscribe => "UNSUBSCRIBE",
            Deliver => "DELIVER",
            Loss => "LOSS",
            Ping => "PING",
            Pong => "PONG",
            Error => "ERROR",
            Goodbye => "GOODBYE",
        }
    }

    /// The plaintext payload size range (PROTOCOL.md section 3); None as
    /// the upper end means "any" (up to the receiver's max frame).
    pub fn payload_range(self) -> (u32, Option<u32>) {
        let r = self.rule();
        (r.min_len, if r.max_len == ANY_LEN { None } else { Some(r.max_len) })
    }

    /// The header flags the type allows.
    pub fn allowed_flags(self) -> u16 {
        self.rule().flags
    }

    /// Whether the header's channel and sequence fields carry meaning.
    pub fn has_channel(self) -> bool {
        self.rule().fields & F_CHANNEL != 0
    }

    /// See [`MessageType::has_channel`].
    pub fn has_sequence(self) -> bool {
        self.rule().fields & F_SEQUENCE != 0
    }

    #[inline]
    fn rule(self) -> &'static Rule {
        &RULES[self as usize]
    }
}

/// The payload size range of r, widened by the seal tag for sealed frames
/// and by the user tag for tagged ones.
#[inline]
fn len_ok(r: &Rule, flags: u16, len: u64) -> bool {
    let extra = if flags & FLAG_ENCRYPTED != 0 { SEAL_TAG_SIZE as u64 } else { 0 }
        + if flags & FLAG_TAGGED != 0 { WIRE_TAG_SIZE as u64 } else { 0 };
    len >= r.min_len as u64 + extra && len <= r.max_len as u64 + extra
}

/// Header checks of an encoder (which has the whole header), in wire order.
/// Codes instead of Errors inside the codec: the hot paths never build an
/// Error, the public functions turn a code into one.
type Code<T> = std::result::Result<T, u32>;

#[inline]
fn check_fields(r: &Rule, flags: u16, len: usize, max_payload: usize, channel: u32, seq: u64) -> Code<()> {
    if flags & !r.flags != 0 {
        return Err(E_BADFLAGS);
    }
    if len > max_payload {
        return Err(E_TOOBIG);
    }
    if !len_ok(r, flags, len as u64) {
        return Err(E_BADPAYLOAD);
    }
    if channel != 0 && r.fields & F_CHANNEL == 0 {
        return Err(E_BADFLAGS);
    }
    if seq != 0 && r.fields & F_SEQUENCE == 0 {
        return Err(E_BADFLAGS);
    }
    Ok(())
}

#[inline]
fn le16(p: &[u8]) -> u16 {
    u16::from_le_bytes([p[0], p[1]])
}
#[inline]
fn le32(p: &[u8]) -> u32 {
    u32::from_le_bytes([p[0], p[1], p[2], p[3]])
}
#[inline]
fn le64(p: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&p[..8]);
    u64::from_le_bytes(b)
}

/// A decoded frame header, in host values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Protocol version (header byte 2).
    pub version: u8,
    pub msg_type: MessageType,
    /// `FLAG_*` bits.
    pub flags: u16,
    /// Payload bytes after the header.
    pub length: u32,
    /// Publishing channel or subscription id; 0 = the connection.
    pub channel: u32,
    /// Meaning depends on the type (publish sequence, ring sequence, token); 0 where unused.
    pub sequence: u64,
}

/// One decoded frame: its header, its payload and all its bytes, borrowed
/// from the decoder's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub header: Header,
    pub payload: &'a [u8],
    pub bytes: &'a [u8],
}

#[inline]
fn put_header(p: &mut [u8], t: MessageType, flags: u16, len: u32, channel: u32, seq: u64) {
    // Built in registers, stored at once.
    let mut h = [0u8; HEADER_SIZE];
    h[0..2].copy_from_slice(&MAGIC.to_le_bytes());
    h[2] = PROTOCOL_VERSION;
    h[3] = t as u8;
    h[4..6].copy_from_slice(&flags.to_le_bytes());
    h[8..12].copy_from_slice(&len.to_le_bytes());
    h[12..16].copy_from_slice(&channel.to_le_bytes());
    h[16..24].copy_from_slice(&seq.to_le_bytes());
    p[..HEADER_SIZE].copy_from_slice(&h);
}

/// Frame encoder over a buffer it allocates once, in [`Encoder::new`].
///
/// Each encode appends a frame and returns its bytes; frames accumulate back
/// to back until [`Encoder::reset`], so many can go out in one write
/// ([`Encoder::data`]). A frame that does not fit the space left fails with
/// [`Error::NoBuffers`] (write out, reset, encode again); one that can never
/// fit (longer than the max frame or the buffer) with [`Error::TooBig`].
/// Nothing is appended on error.
pub struct Encoder {
    buf: Box<[u8]>,
    len: usize,
    max_frame: u32,
    max_payload: usize,
}

impl Encoder {
    /// An encoder with a buffer of `capacity` bytes (0: [`DEFAULT_CAPACITY`]);
    /// the only allocation. Panics if capacity is below [`HEADER_SIZE`].
    pub fn new(capacity: usize) -> Encoder {
        let capacity = if capacity == 0 { DEFAULT_CAPACITY } else { capacity };
        assert!(capacity >= HEADER_SIZE, "Encoder::new: capacity {} is below the {}-byte header", capacity, HEADER_SIZE);
        let mut e = Encoder { buf: vec![0u8; capacity].into_boxed_slice(), len: 0, max_frame: DEFAULT_MAX_FRAME, max_payload: 0 };
        e.limits();
        e
    }

    fn limits(&mut self) {
        let frame = (self.max_frame as usize).min(self.buf.len());
        self.max_payload = frame - HEADER_SIZE;
    }

    /// Limit frames to `max_frame` bytes (header included), normally the
    /// peer's advertised limit. Error: [`Error::Invalid`] outside
    /// [`MIN_MAX_FRAME`]..=[`FRAME_LIMIT`] (the old limit stays).
    pub fn set_max_frame(&mut self, max_frame: u32) -> Result<()> {
        if !(MIN_MAX_FRAME..=FRAME_LIMIT).contains(&max_frame) {
            return Err(err(E_INVAL));
        }
        self.max_frame = max_frame;
        self.limits();
        Ok(())
    }

    /// The buffer's size.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Forget every frame encoded so far; the buffer is reused from its start.
    #[inline]
    pub fn reset(&mut self) {
        self.len = 0;
    }

    /// Every byte encoded since the last reset, ready for one write.
    pub fn data(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Check a frame and reserve its space; returns where it starts.
    #[inline]
    fn reserve(&mut self, t: MessageType, flags: u16, channel: u32, seq: u64, len: usize) -> Result<usize> {
        check_fields(t.rule(), flags, len, self.max_payload, channel, seq).map_err(err)?;
        let need = HEADER_SIZE + len;
        if need > self.buf.len() - self.len {
            return Err(err(E_NOBUFS));
        }
        let at = self.len;
        put_header(&mut self.buf[at..at + HEADER_SIZE], t, flags, len as u32, channel, seq);
        self.len += need;
        Ok(at)
    }

    /// Append one frame of type `t` with sequence `seq`, channel 0 and flags
    /// 0, and return its bytes. Errors: [`Error::BadFlags`] (seq not 0 for a
    /// type without a sequence), [`Error::BadPayload`] (length outside the
    /// type's range), [`Error::TooBig`], [`Error::NoBuffers`].
    #[inline]
    pub fn encode(&mut self, t: MessageType, seq: u64, payload: &[u8]) -> Result<&[u8]> {
        self.encode_frame(t, 0, 0, seq, payload)
    }

    /// Append one frame with every header field given. With
    /// [`FLAG_ENCRYPTED`], `payload` is the sealed payload (plaintext + 16).
    /// Errors as [`Encoder::encode`], and [`Error::BadFlags`] for flags the
    /// type does not allow or a channel where it has none.
    #[inline]
    pub fn encode_frame(&mut self, t: MessageType, flags: u16, channel: u32, seq: u64, payload: &[u8]) -> Result<&[u8]> {
        let at = self.reserve(t, flags, channel, seq, payload.len())?;
        let end = self.len;
        self.buf[at + HEADER_SIZE..end].copy_from_slice(payload);
        Ok(&self.buf[at..end])
    }

    /// Append a frame header for `len` payload bytes and hand out the payload
    /// space to write in place (zero copy). Errors as [`Encoder::encode_frame`].
    pub fn claim(&mut self, t: MessageType, flags: u16, channel: u32, seq: u64, len: usize) -> Result<&mut [u8]> {
        let at = self.reserve(t, flags, channel, seq, len)?;
        let end = self.len;
        Ok(&mut self.buf[at + HEADER_SIZE..end])
    }

    /// Append one PUBLISH frame per `(payload, sequence)`, back to back for
    /// one write, on channel 0 without flags, and return their bytes. All
    /// or nothing: on error nothing is appended ([`Error::NoBuffers`]: write
    /// out, reset, and send the batch in parts).
    pub fn encode_batch(&mut self, messages: &[(&[u8], u64)]) -> Result<&[u8]> {
        self.encode_batch_frames(MessageType::Publish, 0, 0, messages)
    }

    /// As [`Encoder::encode_batch`] with the type, flags and channel of every
    /// frame given (e.g. PUBLISH on a bound channel with [`FLAG_ACK_REQUESTED`]).
    pub fn encode_batch_frames(&mut self, t: MessageType, flags: u16, channel: u32, messages: &[(&[u8], u64)]) -> Result<&[u8]> {
        let r = t.rule();
        let start = self.len;
        let mut pos = start;
        for (payload, seq) in messages {
            let len = payload.len();
            check_fields(r, flags, len, self.max_payload, channel, *seq).map_err(err)?;
            if HEADER_SIZE + len > self.buf.len() - pos {
                return Err(err(E_NOBUFS));
            }
            put_header(&mut self.buf[pos..pos + HEADER_SIZE], t, flags, len as u32, channel, *seq);
            self.buf[pos + HEADER_SIZE..pos + HEADER_SIZE + len].copy_from_slice(payload);
            pos += HEADER_SIZE + len;
        }
        self.len = pos;
        Ok(&self.buf[start..pos])
    }

    /// Append a structured message as a frame with flags 0 (see
    /// [`Message::write`] for its validation). Errors as
    /// [`Message::write`] and [`Encoder::encode_frame`].
    pub fn encode_message(&mut self, channel: u32, seq: u64, msg: &Message<'_>) -> Result<&[u8]> {
        let size = msg.size()?;
        let at = self.reserve(msg.msg_type(), 0, channel, seq, size)?;
        let end = self.len;
        msg.put(&mut self.buf[at + HEADER_SIZE..end]);
        Ok(&self.buf[at..end])
    }
}

/// Zero-copy frame decoder over received bytes.
///
/// Iterating yields `(Header, payload)` with the payload borrowed from the
/// buffer; it stops at the end of the buffer, at a partial frame
/// ([`Error::NeedMore`]) or at a malformed one: [`Decoder::try_next`] says
/// which. Header fields are checked in wire order, each as soon as its bytes
/// are there, as PROTOCOL.md section 11 asks, so the verdict does not depend
/// on how TCP split the stream.
#[derive(Debug, Clone)]
pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
    max_payload: usize,
    max_frame: u32,
    phase: Phase,
    role: Role,
    accept: u8,
}

#[inline]
fn accept_mask(phase: Phase, role: Role) -> u8 {
    (1u8 << phase as u8) | (1u8 << (4 + role as u8))
}

impl<'a> Decoder<'a> {
    /// A decoder over `buf` with the default limits: max frame
    /// [`DEFAULT_MAX_FRAME`], [`Phase::Any`], [`Role::Any`].
    #[inline]
    pub fn new(buf: &'a [u8]) -> Decoder<'a> {
        Decoder {
            buf,
            pos: 0,
            max_payload: DEFAULT_MAX_FRAME as usize - HEADER_SIZE,
            max_frame: DEFAULT_MAX_FRAME,
            phase: Phase::Any,
            role: Role::Any,
            accept: accept_mask(Phase::Any, Role::Any),
        }
    }

    /// Point the decoder at new bytes, keeping its limits, phase and role.
    pub fn set_buffer(&mut self, buf: &'a [u8]) {
        self.buf = buf;
        self.pos = 0;
    }

    /// Reject frames longer than `max_frame` bytes (header included) as soon
    /// as their length field is read. [`Error::Invalid`] outside
    /// [`MIN_MAX_FRAME`]..=[`FRAME_LIMIT`].
    pub fn set_max_frame(&mut self, max_frame: u32) -> Result<()> {
        if !(MIN_MAX_FRAME..=FRAME_LIMIT).contains(&max_frame) {
            return Err(err(E_INVAL));
        }
        self.max_frame = max_frame;
        self.max_payload = max_frame as usize - HEADER_SIZE;
        Ok(())
    }

    /// Accept only the types allowed in `phase`.
    pub fn set_phase(&mut self, phase: Phase) {
        self.phase = phase;
        self.accept = accept_mask(self.phase, self.role);
    }

    /// Accept only the types sent towards `role`.
    pub fn set_role(&mut self, role: Role) {
        self.role = role;
        self.accept = accept_mask(self.phase, self.role);
    }

    /// The largest frame accepted.
    pub fn max_frame(&self) -> u32 {
        self.max_frame
    }

    /// Bytes at the start of the buffer taken by frames already returned.
    pub fn consumed(&self) -> usize {
        self.pos
    }

    /// The bytes not decoded yet (a partial frame to keep for the next read).
    pub fn remaining(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Check the first `have` bytes of a header field by field, in wire order.
    #[inline(always)]
    fn check_header(&self, p: &[u8]) -> Code<Header> {
        let have = p.len().min(HEADER_SIZE);
        if have < 1 {
            return Err(E_NEEDMORE);
        }
        if p[0] != (MAGIC & 0xFF) as u8 {
            return Err(E_BADMAGIC);
        }
        if have < 2 {
            return Err(E_NEEDMORE);
        }
        if p[1] != (MAGIC >> 8) as u8 {
            return Err(E_BADMAGIC);
        }
        if have < 3 {
            return Err(E_NEEDMORE);
        }
        if p[2] != PROTOCOL_VERSION {
            return Err(E_BADVERSION);
        }
        if have < 4 {
            return Err(E_NEEDMORE);
        }
        let r = &RULES[(p[3] & 0x3F) as usize];
        if p[3] > 0x3F || r.accept == 0 {
            return Err(E_BADTYPE);
        }
        if r.accept & self.accept != self.accept {
            return Err(E_HANDSHAKE);
        }
        if have < 6 {
            return Err(E_NEEDMORE);
        }
        let flags = le16(&p[4..]);
        if flags & !r.flags != 0 {
            return Err(E_BADFLAGS);
        }
        if have < 8 {
            return Err(E_NEEDMORE);
        }
        if le16(&p[6..]) != 0 {
            return Err(E_BADFLAGS);
        }
        if have < 12 {
            return Err(E_NEEDMORE);
        }
        let length = le32(&p[8..]);
        if length as usize > self.max_payload {
            return Err(E_TOOBIG);
        }
        if !len_ok(&r, flags, length as u64) {
            return Err(E_BADPAYLOAD);
        }
        if have < 16 {
            return Err(E_NEEDMORE);
        }
        let channel = le32(&p[12..]);
        if channel != 0 && r.fields & F_CHANNEL == 0 {
            return Err(E_BADFLAGS);
        }
        if have < 24 {
            return Err(E_NEEDMORE);
        }
        let sequence = le64(&p[16..]);
        if sequence != 0 && r.fields & F_SEQUENCE == 0 {
            return Err(E_BADFLAGS);
        }
        Ok(Header { version: p[2], msg_type: r.t, flags, length, channel, sequence })
    }

    /// Decode the next frame. Errors (the decoder does not move; calling
    /// again gives the same answer): [`Error::NeedMore`] when the buffer
    /// ends before the next frame does (keep [`Decoder::remaining`], read
    /// more, [`Decoder::set_buffer`]); [`Error::BadMagic`],
    /// [`Error::BadVersion`], [`Error::BadType`], [`Error::Handshake`],
    /// [`Error::BadFlags`], [`Error::TooBig`], [`Error::BadPayload`]: the
    /// stream cannot be trusted from here.
    #[inline]
    pub fn try_next(&mut self) -> Result<Frame<'a>> {
        self.next_code().map_err(err)
    }

    #[inline]
    fn next_code(&mut self) -> Code<Frame<'a>> {
        let buf: &'a [u8] = self.buf;
        let p = &buf[self.pos..];
        // A whole header on the hot path: its length is known, so every
        // "have the bytes of this field" test folds away.
        let h = if p.len() >= HEADER_SIZE { self.check_header(&p[..HEADER_SIZE]) } else { self.check_header(p) }?;
        let end = HEADER_SIZE + h.length as usize;
        if p.len() < end {
            return Err(E_NEEDMORE);
        }
        self.pos += end;
        Ok(Frame { header: h, payload: &p[HEADER_SIZE..end], bytes: &p[..end] })
    }

    /// After [`Error::NeedMore`]: the least number of further bytes that can
    /// make progress; 0 when the next call would not answer NeedMore.
    pub fn needed(&self) -> usize {
        let p = &self.buf[self.pos..];
        match self.check_header(p) {
            Err(E_NEEDMORE) => HEADER_SIZE - p.len(),
            Err(_) => 0,
            Ok(h) => (HEADER_SIZE + h.length as usize).saturating_sub(p.len()),
        }
    }
}

impl<'a> Iterator for Decoder<'a> {
    type Item = (Header, &'a [u8]);

    /// The next frame's header and payload (borrowed from the buffer), or
    /// None at the end, at a partial frame, or at a malformed frame.
    #[inline]
    fn next(&mut self) -> Option<(Header, &'a [u8])> {
        self.next_code().ok().map(|f| (f.header, f.payload))
    }
}

/// HELLO (C→S).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello<'a> {
    pub min_version: u8,
    pub max_version: u8,
    pub features: u32,
    pub max_frame: u32,
    /// 0..=255 bytes 0x21-0x7E; empty = anonymous.
    pub identity: &'a [u8],
}

/// WELCOME (S→C).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Welcome<'a> {
    pub version: u8,
    pub features: u32,
    pub max_frame: u32,
    pub name: &'a [u8],
}

/// AUTH_CHALLENGE (S→C).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthChallenge {
    pub nonce: [u8; NONCE_SIZE],
    pub kx_public_key: [u8; KX_PUBLIC_KEY_SIZE],
}

/// AUTH_RESPONSE (C→S).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthResponse {
    pub nonce: [u8; NONCE_SIZE],
    pub kx_public_key: [u8; KX_PUBLIC_KEY_SIZE],
    pub tag: [u8; AUTH_TAG_SIZE],
}

/// BOUND and SUBSCRIBED: what the client should know about the ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingInfo {
    pub max_message: u32,
    /// [`POLICY_BLOCK`] or [`POLICY_OVERWRITE`].
    pub policy: u8,
}

/// SUBSCRIBE (C→S).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscribe<'a> {
    /// [`START_LATEST`], [`START_EARLIEST`] or [`START_AT`].
    pub start: u8,
    /// With [`START_AT`]; 0 otherwise.
    pub start_sequence: u64,
    pub ring: &'a [u8],
}

/// ERROR (both ways).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorFrame<'a> {
    /// A `hermes_err` code, never 0 (see [`crate::Error::from_code`]).
    pub code: u32,
    /// The sender closes the connection after this frame.
    pub fatal: bool,
    /// UTF-8 without NUL bytes, for humans; untrusted: escape it before logging.
    pub text: &'a str,
}

/// Any frame's payload, by type; byte fields borrow the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    Hello(Hello<'a>),
    Welcome(Welcome<'a>),
    AuthChallenge(AuthChallenge),
    AuthResponse(AuthResponse),
    AuthOk { tag: [u8; AUTH_TAG_SIZE] },
    Bind { ring: &'a [u8] },
    Bound(RingInfo),
    Unbind,
    Publish(&'a [u8]),
    PublishAck { ring_sequence: u64 },
    Subscribe(Subscribe<'a>),
    Subscribed(RingInfo),
    Unsubscribe,
    Deliver(&'a [u8]),
    Loss { count: u64 },
    Ping,
    Pong,
    Error(ErrorFrame<'a>),
    Goodbye { code: u32 },
}

fn name_ok(s: &[u8], min: usize) -> bool {
    s.len() >= min && s.len() <= WIRE_NAME_MAX && s.iter().all(|&c| (0x21..=0x7E).contains(&c))
}

fn arr32(p: &[u8]) -> [u8; 32] {
    let mut a = [0u8; 32];
    a.copy_from_slice(&p[..32]);
    a
}

impl<'a> Message<'a> {
    /// The frame type that carries this message.
    pub fn msg_type(&self) -> MessageType {
        use MessageType as T;
        match self {
            Message::Hello(_) => T::Hello,
            Message::Welcome(_) => T::Welcome,
            Message::AuthChallenge(_) => T::AuthChallenge,
            Message::AuthResponse(_) => T::AuthResponse,
            Message::AuthOk { .. } => T::AuthOk,
            Message::Bind { .. } => T::Bind,
            Message::Bound(_) => T::Bound,
            Message::Unbind => T::Unbind,
            Message::Publish(_) => T::Publish,
            Message::PublishAck { .. } => T::PublishAck,
            Message::Subscribe(_) => T::Subscribe,
            Message::Subscribed(_) => T::Subscribed,
            Message::Unsubscribe => T::Unsubscribe,
            Message::Deliver(_) => T::Deliver,
            Message::Loss { .. } => T::Loss,
            Message::Ping => T::Ping,
            Message::Pong => T::Pong,
            Message::Error(_) => T::Error,
            Message::Goodbye { .. } => T::Goodbye,
        }
    }

    /// Validate and size the payload; every check mirrors one in `parse`.
    fn size(&self) -> Result<usize> {
        let inval = || err(E_INVAL);
        Ok(match self {
            Message::Hello(h) => {
                if h.min_version < 1 || h.min_version > h.max_version || h.max_frame < MIN_MAX_FRAME || !name_ok(h.identity, 0) {
                    return Err(inval());
                }
                12 + h.identity.len()
            }
            Message::Welcome(w) => {
                if w.version < 1 || w.max_frame < MIN_MAX_FRAME || !name_ok(w.name, 0) {
                    return Err(inval());
                }
                12 + w.name.len()
            }
            Message::AuthChallenge(_) => 64,
            Message::AuthResponse(_) => 96,
            Message::AuthOk { .. } => 32,
            Message::Bind { ring } => {
                if !name_ok(ring, 1) {
                    return Err(inval());
                }
                ring.len()
            }
            Message::Bound(i) | Message::Subscribed(i) => {
                if i.policy > POLICY_OVERWRITE {
                    return Err(inval());
                }
                8
            }
            Message::Subscribe(s) => {
                if s.start > START_AT || (s.start != START_AT && s.start_sequence != 0) || !name_ok(s.ring, 1) {
                    return Err(inval());
                }
                16 + s.ring.len()
            }
            Message::PublishAck { .. } | Message::Loss { .. } => 8,
            Message::Error(e) => {
                if e.code == 0 || e.text.len() > ERROR_TEXT_MAX || e.text.contains('\0') {
                    return Err(inval());
                }
                8 + e.text.len()
            }
            Message::Goodbye { .. } => 4,
            Message::Unbind | Message::Unsubscribe | Message::Ping | Message::Pong => 0,
            Message::Publish(d) | Message::Deliver(d) => {
                if d.len() > FRAME_LIMIT as usize {
                    return Err(err(E_TOOBIG));
                }
                d.len()
            }
        })
    }

    /// Write a payload already validated by `size` into its exact space.
    fn put(&self, p: &mut [u8]) {
        match self {
            Message::Hello(h) => {
                p[..4].copy_from_slice(&[h.min_version, h.max_version, h.identity.len() as u8, 0]);
                p[4..8].copy_from_slice(&h.features.to_le_bytes());
                p[8..12].copy_from_slice(&h.max_frame.to_le_bytes());
                p[12..].copy_from_slice(h.identity);
            }
            Message::Welcome(w) => {
                p[..4].copy_from_slice(&[w.version, 0, w.name.len() as u8, 0]);
                p[4..8].copy_from_slice(&w.features.to_le_bytes());
                p[8..12].copy_from_slice(&w.max_frame.to_le_bytes());
                p[12..].copy_from_slice(w.name);
            }
            Message::AuthChallenge(c) => {
                p[..32].copy_from_slice(&c.nonce);
                p[32..].copy_from_slice(&c.kx_public_key);
            }
            Message::AuthResponse(r) => {
                p[..32].copy_from_slice(&r.nonce);
                p[32..64].copy_from_slice(&r.kx_public_key);
                p[64..].copy_from_slice(&r.tag);
            }
            Message::AuthOk { tag } => p.copy_from_slice(tag),
            Message::Bind { ring } => p.copy_from_slice(ring),
            Message::Bound(i) | Message::Subscribed(i) => {
                p[..4].copy_from_slice(&i.max_message.to_le_bytes());
                p[4..].copy_from_slice(&[i.policy, 0, 0, 0]);
            }
            Message::Subscribe(s) => {
                p[..8].copy_from_slice(&[s.start, 0, 0, 0, 0, 0, 0, 0]);
                p[8..16].copy_from_slice(&s.start_sequence.to_le_bytes());
                p[16..].copy_from_slice(s.ring);
            }
            Message::PublishAck { ring_sequence: v } | Message::Loss { count: v } => p.copy_from_slice(&v.to_le_bytes()),
            Message::Error(e) => {
                p[..4].copy_from_slice(&e.code.to_le_bytes());
                p[4..6].copy_from_slice(&(e.text.len() as u16).to_le_bytes());
                p[6..8].copy_from_slice(&[e.fatal as u8, 0]);
                p[8..].copy_from_slice(e.text.as_bytes());
            }
            Message::Goodbye { code } => p.copy_from_slice(&code.to_le_bytes()),
            Message::Publish(d) | Message::Deliver(d) => p.copy_from_slice(d),
            Message::Unbind | Message::Unsubscribe | Message::Ping | Message::Pong => {}
        }
    }

    /// Write the payload into `out`; returns its size. Errors:
    /// [`Error::Invalid`] for a field out of range, [`Error::NoBuffers`] when
    /// `out` is too small (nothing written).
    pub fn write(&self, out: &mut [u8]) -> Result<usize> {
        let size = self.size()?;
        if size > out.len() {
            return Err(err(E_NOBUFS));
        }
        self.put(&mut out[..size]);
        Ok(size)
    }

    /// Split the plaintext payload of a PUBLISH or DELIVER with header
    /// `flags` into its user tag (0 without [`FLAG_TAGGED`]) and message.
    /// [`Error::BadPayload`] for a tagged payload shorter than the tag, or
    /// a tag of 0.
    pub fn tag_split(flags: u16, p: &'a [u8]) -> Result<(u32, &'a [u8])> {
        if flags & FLAG_TAGGED == 0 {
            return Ok((0, p));
        }
        if p.len() < WIRE_TAG_SIZE || le32(p) == 0 {
            return Err(err(E_BADPAYLOAD));
        }
        Ok((le32(p), &p[WIRE_TAG_SIZE..]))
    }

    /// Parse the plaintext payload of a frame of type `t`, strictly: exact
    /// sizes, reserved bytes zero, names of allowed bytes, values in range
    /// ([`Error::BadPayload`] otherwise). Nothing is copied but fixed-size
    /// keys and tags.
    pub fn parse(t: MessageType, p: &'a [u8]) -> Result<Message<'a>> {
        let bad = || err(E_BADPAYLOAD);
        if !len_ok(t.rule(), 0, p.len() as u64) {
            return Err(bad());
        }
        use MessageType as T;
        Ok(match t {
            T::Hello => {
                if p[3] != 0 || p.len() != 12 + p[2] as usize {
                    return Err(bad());
                }
                let h = Hello { min_version: p[0], max_version: p[1], features: le32(&p[4..]), max_frame: le32(&p[8..]), identity: &p[12..] };
                if h.min_version < 1 || h.min_version > h.max_version || h.max_frame < MIN_MAX_FRAME || !name_ok(h.identity, 0) {
                    return Err(bad());
                }
                Message::Hello(h)
            }
            T::Welcome => {
                if p[1] != 0 || p[3] != 0 || p.len() != 12 + p[2] as usize {
                    return Err(bad());
                }
                let w = Welcome { version: p[0], features: le32(&p[4..]), max_frame: le32(&p[8..]), name: &p[12..] };
                if w.version < 1 || w.max_frame < MIN_MAX_FRAME || !name_ok(w.name, 0) {
                    return Err(bad());
                }
                Message::Welcome(w)
            }
            T::AuthChallenge => Message::AuthChallenge(AuthChallenge { nonce: arr32(p), kx_public_key: arr32(&p[32..]) }),
            T::AuthResponse => Message::AuthResponse(AuthResponse { nonce: arr32(p), kx_public_key: arr32(&p[32..]), tag: arr32(&p[64..]) }),
            T::AuthOk => Message::AuthOk { tag: arr32(p) },
            T::Bind => {
                if !name_ok(p, 1) {
                    return Err(bad());
                }
                Message::Bind { ring: p }
            }
            T::Bound | T::Subscribed => {
                let i = RingInfo { max_message: le32(p), policy: p[4] };
                if i.policy > POLICY_OVERWRITE || p[5..8] != [0, 0, 0] {
                    return Err(bad());
                }
                if t == T::Bound {
                    Message::Bound(i)
                } else {
                    Message::Subscribed(i)
                }
            }
            T::Subscribe => {
                let s = Subscribe { start: p[0], start_sequence: le64(&p[8..]), ring: &p[16..] };
                if s.start > START_AT || p[1..8].iter().any(|&b| b != 0) || (s.start != START_AT && s.start_sequence != 0) || !name_ok(s.ring, 1) {
                    return Err(bad());
                }
                Message::Subscribe(s)
            }
            T::PublishAck => Message::PublishAck { ring_sequence: le64(p) },
            T::Loss => Message::Loss { count: le64(p) },
            T::Error => {
                let text_len = le16(&p[4..]) as usize;
                if p.len() != 8 + text_len {
                    return Err(bad());
                }
                let text = std::str::from_utf8(&p[8..]).map_err(|_| bad())?;
                let e = ErrorFrame { code: le32(p), fatal: p[6] == 1, text };
                if e.code == 0 || p[6] > 1 || p[7] != 0 || text.contains('\0') {
                    return Err(bad());
                }
                Message::Error(e)
            }
            T::Goodbye => Message::Goodbye { code: le32(p) },
            T::Publish => Message::Publish(p),
            T::Deliver => Message::Deliver(p),
            T::Unbind => Message::Unbind,
            T::Unsubscribe => Message::Unsubscribe,
            T::Ping => Message::Ping,
            T::Pong => Message::Pong,
        })
    }
}

/// The bytes one side authenticates (PROTOCOL.md section 6): a 16-byte label
/// ("hermes auth v1 C" for the client's proof, "...S" for the server's), the
/// HELLO and WELCOME payloads, the challenge, and the client's nonce and
/// public key. The tag is HMAC-SHA-512/256 of these under the pre-shared key.
#[derive(Clone)]
pub struct Transcript {
    buf: [u8; AUTH_TRANSCRIPT_MAX],
    len: usize,
}

impl Transcript {
    /// Build the transcript `prover` ([`Role::Client`] or [`Role::Server`])
    /// signs. Error: [`Error::Invalid`] for another role, or a hello or
    /// welcome that [`Message::write`] would reject.
    pub fn new(prover: Role, hello: &Hello<'_>, welcome: &Welcome<'_>, challenge: &AuthChallenge, response: &AuthResponse) -> Result<Transcript> {
        let label: &[u8; 16] = match prover {
            Role::Client => b"hermes auth v1 C",
            Role::Server => b"hermes auth v1 S",
            Role::Any => return Err(err(E_INVAL)),
        };
        let mut t = Transcript { buf: [0; AUTH_TRANSCRIPT_MAX], len: 16 };
        t.buf[..16].copy_from_slice(label);
        let inval = |_| err(E_INVAL);
        t.len += Message::Hello(*hello).write(&mut t.buf[t.len..t.len + HELLO_MAX]).map_err(inval)?;
        t.len += Message::Welcome(*welcome).write(&mut t.buf[t.len..t.len + HELLO_MAX]).map_err(inval)?;
        for part in [&challenge.nonce, &challenge.kx_public_key, &response.nonce, &response.kx_public_key] {
            t.buf[t.len..t.len + 32].copy_from_slice(part);
            t.len += 32;
        }
        Ok(t)
    }

    /// The transcript's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}
