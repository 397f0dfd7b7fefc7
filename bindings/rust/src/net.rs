//! The remote client: publish and subscribe through a hermes-bridge over TCP
//! (include/hermes/net.h), with the handshake, authentication and encryption
//! done by libhermes-ipc.
//!
//! ```no_run
//! use hermes::bus::Start;
//! use hermes::net::{Connection, Event, Options, PUB_ACK};
//! use std::time::Duration;
//! let mut conn = Connection::connect("127.0.0.1:7400", &Options::default())?;
//! let (channel, _) = conn.bind("orders", Some(Duration::from_secs(5)))?;
//! conn.publish(channel, b"hi", PUB_ACK)?;
//! let (sub, _) = conn.subscribe("orders", Start::Latest, Some(Duration::from_secs(5)))?;
//! while let Some(ev) = conn.poll(Some(Duration::from_secs(1)))? {
//!     if let Event::Message { seq, data, .. } = ev {
//!         println!("{} {:?}", seq, data); // points into the receive buffer
//!     }
//! }
//! # Ok::<(), hermes::Error>(())
//! ```

use crate::bus::{cstr, timeout_ns, Start};
use crate::error::{check, check_bare, Detail, Error, Result};
use crate::ffi;
use std::ffi::CStr;
use std::ptr::{self, NonNull};
use std::time::Duration;

/// publish flag: the bridge answers with the ring sequence ([`Event::Ack`]).
pub const PUB_ACK: u32 = 0x1;
/// publish flag: write the send buffer now (lowest latency).
pub const PUB_FLUSH: u32 = 0x2;

/// Connection settings. Fields left None keep the library default, or the
/// environment variable named beside them.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Identity to authenticate as ($HERMES_NET_IDENTITY).
    pub identity: Option<String>,
    /// File with the identity's pre-shared key ($HERMES_NET_KEY_FILE).
    pub key_file: Option<String>,
    /// Ask for session encryption and refuse a bridge without it ($HERMES_NET_ENCRYPT).
    pub encrypt: Option<bool>,
    /// Largest frame accepted (default 1 MiB).
    pub max_frame: Option<u32>,
    /// Receive buffer bytes.
    pub recv_buffer: Option<usize>,
    /// Send buffer bytes.
    pub send_buffer: Option<usize>,
    /// Deadline for connect plus handshake (default 10 s; $HERMES_NET_TIMEOUT_MS).
    pub connect_timeout: Option<Duration>,
}

/// Ring facts a bind or subscription reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingInfo {
    pub max_message: u32,
    /// 0 block, 1 overwrite.
    pub policy: u8,
    /// Subscriptions: the sequence of the first message.
    pub first_seq: u64,
}

/// What [`Connection::poll`] hands out; byte fields point into the receive
/// buffer and borrow the connection until the next call on it.
#[derive(Debug, Clone, Copy)]
pub enum Event<'c> {
    /// A message of subscription `sub`, with the publisher's user tag
    /// (0 = none).
    Message { sub: u32, seq: u64, data: &'c [u8], tag: u32 },
    /// A publish with [`PUB_ACK`] was committed as `ring_seq`.
    Ack { channel: u32, pub_seq: u64, ring_seq: u64 },
    /// `count` messages were dropped; delivery goes on at `next_seq`.
    Loss { sub: u32, next_seq: u64, count: u64 },
    /// The bridge refused something on `channel` (publish sequence `seq`).
    Error { channel: u32, seq: u64, code: u32, fatal: bool, text: &'c [u8] },
    /// The answer to [`Connection::ping`].
    Pong { token: u64 },
    Bound { channel: u32, max_message: u64, policy: u8 },
    Subscribed { sub: u32, first_seq: u64, max_message: u64, policy: u8 },
    /// The bridge closed the connection; `code` says why (0: normally).
    Closed { code: u32 },
}

/// One TCP connection to a bridge. Closed on drop (sends GOODBYE and
/// flushes for up to 1 s).
pub struct Connection {
    raw: NonNull<ffi::hermes_net>,
}

// SAFETY: a connection is used by one thread at a time; it may move.
unsafe impl Send for Connection {}

impl Connection {
    /// Connect to `address` ("HOST:PORT", IPv6 as `"[::1]:7400"`) and complete
    /// the handshake. Errors: [`Error::Invalid`], [`Error::NotFound`],
    /// [`Error::System`] (refused: the detail says), [`Error::TimedOut`],
    /// [`Error::Permission`] (authentication), [`Error::NotSupported`],
    /// [`Error::BadVersion`], [`Error::Handshake`].
    pub fn connect(address: &str, options: &Options) -> Result<Connection> {
        let addr = cstr(address)?;
        let identity = options.identity.as_deref().map(cstr).transpose()?;
        let key_file = options.key_file.as_deref().map(cstr).transpose()?;
        let mut o = ffi::hermes_net_options {
            identity: ptr::null(),
            key_file: ptr::null(),
            encrypt: 0,
            max_frame: 0,
            recv_buffer: 0,
            send_buffer: 0,
            connect_timeout_ns: 0,
            features_: 0,
            reserved_: 0,
        };
        // SAFETY: o is a valid options struct to fill.
        unsafe { ffi::hermes_net_options_init(&mut o) };
        // identity and key_file outlive the connect call below.
        if let Some(s) = &identity {
            o.identity = s.as_ptr();
        }
        if let Some(s) = &key_file {
            o.key_file = s.as_ptr();
        }
        if let Some(e) = options.encrypt {
            o.encrypt = e as i32;
        }
        if let Some(v) = options.max_frame {
            o.max_frame = v;
        }
        if let Some(v) = options.recv_buffer {
            o.recv_buffer = v;
        }
        if let Some(v) = options.send_buffer {
            o.send_buffer = v;
        }
        if let Some(t) = options.connect_timeout {
            o.connect_timeout_ns = timeout_ns(Some(t)).max(1);
        }
        let mut raw = ptr::null_mut();
        // SAFETY: every string o points to outlives the call.
        check(unsafe { ffi::hermes_net_connect(addr.as_ptr(), &o, &mut raw) })?;
        Ok(Connection { raw: NonNull::new(raw).expect("no connection") })
    }

    /// The socket, for waiting in your own poll/epoll (readable: poll may
    /// have something). Do not read or write it.
    pub fn fd(&self) -> i32 {
        // SAFETY: valid handle.
        unsafe { ffi::hermes_net_fd(self.raw.as_ptr()) }
    }

    /// The bridge's name.
    pub fn server_name(&self) -> String {
        // SAFETY: a NUL-terminated string owned by the connection.
        unsafe { CStr::from_ptr(ffi::hermes_net_server_name(self.raw.as_ptr())) }.to_string_lossy().into_owned()
    }

    /// The features the bridge granted (`protocol::FEATURE_*`).
    pub fn features(&self) -> u32 {
        // SAFETY: valid handle.
        unsafe { ffi::hermes_net_features(self.raw.as_ptr()) }
    }

    /// Bind a publishing channel to `ring`, waiting up to `timeout` for the
    /// answer. Errors: [`Error::NotFound`], [`Error::Permission`],
    /// [`Error::TooMany`], [`Error::TimedOut`], [`Error::NoBuffers`] (poll
    /// the events that filled the buffer, then retry), [`Error::Closed`].
    pub fn bind(&mut self, ring: &str, timeout: Option<Duration>) -> Result<(u32, RingInfo)> {
        let ring = cstr(ring)?;
        let (mut ch, mut info) = (0u32, ffi::hermes_net_ring_info::default());
        // SAFETY: valid handle, C string and out pointers.
        check(unsafe { ffi::hermes_net_bind(self.raw.as_ptr(), ring.as_ptr(), timeout_ns(timeout), &mut ch, &mut info) })?;
        Ok((ch, ring_info(&info)))
    }

    /// Release a channel.
    pub fn unbind(&mut self, channel: u32) -> Result<()> {
        // SAFETY: valid handle.
        check(unsafe { ffi::hermes_net_unbind(self.raw.as_ptr(), channel) })
    }

    /// Queue a message for the ring of `channel` (flags [`PUB_ACK`],
    /// [`PUB_FLUSH`]); returns the publish sequence its Ack or Error event
    /// will carry. Blocks only while the send buffer is full (up to 10 s).
    /// Errors: [`Error::MessageSize`], [`Error::TimedOut`], [`Error::Closed`].
    pub fn publish(&mut self, channel: u32, data: &[u8], flags: u32) -> Result<u64> {
        let mut seq = 0;
        // SAFETY: data holds data.len() bytes.
        check_bare(unsafe {
            ffi::hermes_net_publish(self.raw.as_ptr(), channel, data.as_ptr().cast(), data.len(), flags, &mut seq)
        })?;
        Ok(seq)
    }

    /// As [`Connection::publish`], with a user tag that subscribers get
    /// (0 = no tag). [`Error::NotSupported`] for a non-zero tag on a bridge
    /// that did not grant the TAGS feature.
    pub fn publish_tagged(&mut self, channel: u32, data: &[u8], tag: u32, flags: u32) -> Result<u64> {
        let mut seq = 0;
        // SAFETY: data holds data.len() bytes.
        check_bare(unsafe {
            ffi::hermes_net_publish_tagged(self.raw.as_ptr(), channel, data.as_ptr().cast(), data.len(), tag, flags, &mut seq)
        })?;
        Ok(seq)
    }

    /// Write everything queued, waiting up to `timeout`.
    pub fn flush(&mut self, timeout: Option<Duration>) -> Result<()> {
        // SAFETY: valid handle.
        check_bare(unsafe { ffi::hermes_net_flush(self.raw.as_ptr(), timeout_ns(timeout)) })
    }

    /// Subscribe to `ring` from `start`, waiting up to `timeout` for the
    /// answer; returns the subscription id Message events carry. Errors as
    /// [`Connection::bind`].
    pub fn subscribe(&mut self, ring: &str, start: Start, timeout: Option<Duration>) -> Result<(u32, RingInfo)> {
        let ring = cstr(ring)?;
        let (mode, seq) = start.raw();
        let (mut sub, mut info) = (0u32, ffi::hermes_net_ring_info::default());
        // SAFETY: valid handle, C string and out pointers.
        check(unsafe {
            ffi::hermes_net_subscribe(self.raw.as_ptr(), ring.as_ptr(), mode, seq, timeout_ns(timeout), &mut sub, &mut info)
        })?;
        Ok((sub, ring_info(&info)))
    }

    /// End a subscription.
    pub fn unsubscribe(&mut self, sub: u32) -> Result<()> {
        // SAFETY: valid handle.
        check(unsafe { ffi::hermes_net_unsubscribe(self.raw.as_ptr(), sub) })
    }

    /// Send PING with `token`; the Pong comes back as an event.
    pub fn ping(&mut self, token: u64) -> Result<()> {
        // SAFETY: valid handle.
        check_bare(unsafe { ffi::hermes_net_ping(self.raw.as_ptr(), token) })
    }

    /// The next event, waiting up to `timeout` (None: no limit;
    /// `Duration::ZERO`: do not wait): Ok(None) when none came in time.
    /// Queued publishes are written when no event is ready. Errors:
    /// [`Error::Closed`] after the Closed event was delivered.
    pub fn poll(&mut self, timeout: Option<Duration>) -> Result<Option<Event<'_>>> {
        let mut ev = ffi::hermes_net_event {
            type_: 0,
            channel: 0,
            seq: 0,
            value: 0,
            code: 0,
            fatal: 0,
            policy: 0,
            reserved_: 0,
            len: 0,
            data: ptr::null(),
        };
        // SAFETY: valid handle and event.
        match unsafe { ffi::hermes_net_poll(self.raw.as_ptr(), &mut ev, timeout_ns(timeout)) } {
            ffi::HERMES_OK => {}
            ffi::HERMES_EAGAIN | ffi::HERMES_ETIMEDOUT => return Ok(None),
            code => return Err(Error::bare(code)),
        }
        let data: &[u8] = if ev.len == 0 || ev.data.is_null() {
            &[]
        } else {
            // SAFETY: data points at len bytes of the receive buffer, valid
            // until the next call on the connection, which needs &mut self.
            unsafe { std::slice::from_raw_parts(ev.data as *const u8, ev.len as usize) }
        };
        Ok(Some(match ev.type_ {
            // A MESSAGE's value is its user tag (net.h).
            1 => Event::Message { sub: ev.channel, seq: ev.seq, data, tag: ev.value as u32 },
            2 => Event::Ack { channel: ev.channel, pub_seq: ev.seq, ring_seq: ev.value },
            3 => Event::Loss { sub: ev.channel, next_seq: ev.seq, count: ev.value },
            4 => Event::Error { channel: ev.channel, seq: ev.seq, code: ev.code as u32, fatal: ev.fatal != 0, text: data },
            5 => Event::Pong { token: ev.seq },
            6 => Event::Bound { channel: ev.channel, max_message: ev.value, policy: ev.policy },
            7 => Event::Subscribed { sub: ev.channel, first_seq: ev.seq, max_message: ev.value, policy: ev.policy },
            8 => Event::Closed { code: ev.code as u32 },
            t => return Err(Error::Unknown(ev.code as u32, Detail::text(&format!("unknown hermes_net event type {}", t)))),
        }))
    }
}

fn ring_info(i: &ffi::hermes_net_ring_info) -> RingInfo {
    RingInfo { max_message: i.max_message, policy: i.policy, first_seq: i.first_seq }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // SAFETY: valid handle, not used after this.
        unsafe { ffi::hermes_net_close(self.raw.as_ptr()) }
    }
}
