//! The shared-memory bus over libhermes-ipc (include/hermes/bus.h).
//!
//! Lifetimes carry the C library's rules: publishers and subscribers borrow
//! the [`Bus`] they were opened on (so it cannot be detached under them), a
//! [`Claim`] borrows its publisher and is committed or aborted exactly once
//! (dropping it aborts), and a polled [`Message`] borrows its subscriber
//! until [`Subscriber::release`], which needs the subscriber exclusively: a
//! message cannot be read after it was released. This does not compile:
//!
//! ```compile_fail,E0502
//! # use hermes::bus::{Bus, Start};
//! # let bus = Bus::attach(Some("doc")).unwrap();
//! let mut sub = bus.subscriber("orders", Start::Earliest).unwrap();
//! let msg = sub.poll().unwrap().unwrap();
//! sub.release().unwrap(); // the ring may now reuse msg's bytes ...
//! println!("{:?}", msg.data); // ... so reading them is refused at compile time
//! ```
//!
//! while reading before the release does:
//!
//! ```no_run
//! # use hermes::bus::{Bus, Start};
//! # let bus = Bus::attach(Some("doc")).unwrap();
//! let mut sub = bus.subscriber("orders", Start::Earliest).unwrap();
//! let msg = sub.poll().unwrap().unwrap();
//! println!("{:?}", msg.data);
//! sub.release().unwrap();
//! ```
//!
//! Threads: a [`Bus`] is shared by reference between threads; a
//! [`Publisher`] or [`Subscriber`] may move to another thread but is used by
//! one at a time (`Send`, not `Sync`), as in C.

use crate::error::{check, check_bare, Detail, Error, Result};
use crate::ffi;
use std::ffi::CString;
use std::marker::PhantomData;
use std::os::raw::{c_int, c_uint, c_void};
use std::ptr::{self, NonNull};
use std::time::Duration;

/// Longest bus or ring name, in bytes.
pub const NAME_MAX: usize = 47;
/// Most messages one batch claim may hold.
pub const MAX_BATCH: usize = 1024;

pub(crate) fn cstr(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::Invalid(Detail::text("a name must not contain NUL bytes")))
}

/// A timeout for C: nanoseconds, negative for none.
pub(crate) fn timeout_ns(t: Option<Duration>) -> i64 {
    match t {
        None => -1,
        Some(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
    }
}

fn msg_len(len: usize) -> Result<u32> {
    u32::try_from(len).map_err(|_| Error::MessageSize(Detail::none()))
}

/// What a full ring does to producers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Reliable: a full ring refuses publishing until subscribers release.
    Block,
    /// Lossy: producers never wait; a lapped subscriber gets [`Error::Lost`].
    Overwrite,
}

/// A ring to create ([`Bus::create_ring`]).
#[derive(Debug, Clone, Copy)]
pub struct RingConfig<'a> {
    /// 1..=47 bytes of `[A-Za-z0-9._-]`.
    pub name: &'a str,
    /// Data bytes: a power of two, 4 KiB .. 4 GiB.
    pub capacity: u64,
    /// Largest payload: at most capacity / 8 and 16 MiB - 1.
    pub max_msg: u32,
    pub policy: Policy,
    /// Messages the ring can hold: a power of two >= 64, or 0 for capacity / 64.
    pub slots: u32,
}

/// Where a new subscriber starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Only messages committed after the open.
    Latest,
    /// The oldest message still in the ring.
    Earliest,
    /// A given sequence (clamped to what is retained; older ones are reported lost).
    Seq(u64),
}

impl Start {
    pub(crate) fn raw(self) -> (c_int, u64) {
        match self {
            Start::Latest => (0, 0),
            Start::Earliest => (1, 0),
            Start::Seq(s) => (2, s),
        }
    }
}

/// How [`Subscriber::wait`] waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitMode {
    /// Busy-spin: lowest latency, burns a core.
    Spin = 0,
    /// Spin, then yield the CPU between checks.
    Yield = 1,
    /// Spin briefly, then sleep on a futex (producers wake it).
    Block = 2,
}

/// An attached bus: one shared-memory segment holding named rings.
/// Detached on drop.
pub struct Bus {
    raw: NonNull<ffi::hermes_bus>,
}

// SAFETY: bus.h: once attached, the handle may be shared by any number of
// threads opening publishers and subscribers; detach needs `self` by value
// (drop), after every borrow of it ended.
unsafe impl Send for Bus {}
unsafe impl Sync for Bus {}

fn bus_from(code: c_int, raw: *mut ffi::hermes_bus) -> Result<Bus> {
    check(code)?;
    Ok(Bus { raw: NonNull::new(raw).expect("libhermes-ipc returned OK and no bus") })
}

impl Bus {
    /// Create the segment of bus `name` (`size` bytes, file mode `mode`, e.g.
    /// 0o600) and attach to it; rings are then created in place (embedded
    /// use: no hermesd needed). Errors: [`Error::Invalid`],
    /// [`Error::Exists`], [`Error::Access`], [`Error::System`].
    pub fn create(name: &str, size: u64, mode: u32) -> Result<Bus> {
        let name = cstr(name)?;
        let mut raw = ptr::null_mut();
        // SAFETY: name is a valid C string and raw a valid out pointer.
        let code = unsafe { ffi::hermes_bus_create(name.as_ptr(), size, mode, &mut raw) };
        bus_from(code, raw)
    }

    /// Attach to bus `name` (None: $HERMES_BUS, else "default"). Errors:
    /// [`Error::NotFound`] (is hermesd running?), [`Error::BadSegment`],
    /// [`Error::Version`], [`Error::Truncated`], [`Error::NotReady`] (retry),
    /// [`Error::Access`].
    pub fn attach(name: Option<&str>) -> Result<Bus> {
        Self::attach_with(name, ffi::hermes_bus_attach)
    }

    /// Attach read-only (inspection): opening publishers or subscribers
    /// fails with [`Error::Permission`].
    pub fn attach_readonly(name: Option<&str>) -> Result<Bus> {
        Self::attach_with(name, ffi::hermes_bus_attach_readonly)
    }

    fn attach_with(
        name: Option<&str>,
        f: unsafe extern "C" fn(*const std::os::raw::c_char, *mut *mut ffi::hermes_bus) -> c_int,
    ) -> Result<Bus> {
        let name = name.map(cstr).transpose()?;
        let mut raw = ptr::null_mut();
        // SAFETY: name is NULL or a valid C string; raw a valid out pointer.
        let code = unsafe { f(name.as_ref().map_or(ptr::null(), |n| n.as_ptr()), &mut raw) };
        bus_from(code, raw)
    }

    /// Remove the segment's name (processes attached keep their mapping).
    pub fn unlink(name: &str) -> Result<()> {
        let name = cstr(name)?;
        // SAFETY: a valid C string.
        check(unsafe { ffi::hermes_bus_unlink(name.as_ptr()) })
    }

    /// The bus's random non-zero identity, fixed at creation.
    pub fn id(&self) -> u64 {
        // SAFETY: self.raw is attached until drop.
        unsafe { ffi::hermes_bus_id(self.raw.as_ptr()) }
    }

    /// Create a ring: in place on a bus this process created, through the
    /// supervisor otherwise (waits up to 5 s for it). Errors:
    /// [`Error::Invalid`] (the detail names the field), [`Error::Exists`],
    /// [`Error::NoSpace`], [`Error::NoSupervisor`].
    pub fn create_ring(&self, cfg: &RingConfig<'_>) -> Result<()> {
        let name = cstr(cfg.name)?;
        let c = ffi::hermes_ring_config {
            name: name.as_ptr(),
            capacity: cfg.capacity,
            max_msg: cfg.max_msg,
            policy: match cfg.policy {
                Policy::Block => 0,
                Policy::Overwrite => 1,
            },
            slots: cfg.slots,
        };
        // SAFETY: c and the name it points to live across the call.
        check(unsafe { ffi::hermes_ring_create(self.raw.as_ptr(), &c) })
    }

    /// Delete a ring; refused with [`Error::Busy`] while it is open, unless
    /// `force`. Errors: [`Error::NotFound`], [`Error::NoSupervisor`].
    pub fn delete_ring(&self, name: &str, force: bool) -> Result<()> {
        let name = cstr(name)?;
        // SAFETY: valid handle and C string.
        check(unsafe { ffi::hermes_ring_delete(self.raw.as_ptr(), name.as_ptr(), force as c_int) })
    }

    /// Open a publisher on `ring`. Errors: [`Error::NotFound`],
    /// [`Error::TooMany`] (all producer slots taken), [`Error::Permission`]
    /// (read-only attach), [`Error::NoMemory`].
    pub fn publisher(&self, ring: &str) -> Result<Publisher<'_>> {
        let name = cstr(ring)?;
        let mut raw = ptr::null_mut();
        // SAFETY: valid handle, C string and out pointer.
        check(unsafe { ffi::hermes_pub_open(self.raw.as_ptr(), name.as_ptr(), &mut raw) })?;
        Ok(Publisher { raw: NonNull::new(raw).expect("no publisher"), ptrs: Vec::new(), _bus: PhantomData })
    }

    /// Open a subscriber on `ring` with its own cursor. Errors:
    /// [`Error::NotFound`], [`Error::TooMany`], [`Error::Permission`],
    /// [`Error::NoMemory`].
    pub fn subscriber(&self, ring: &str, start: Start) -> Result<Subscriber<'_>> {
        let name = cstr(ring)?;
        let (mode, seq) = start.raw();
        let mut raw = ptr::null_mut();
        // SAFETY: valid handle, C string and out pointer.
        check(unsafe { ffi::hermes_sub_open(self.raw.as_ptr(), name.as_ptr(), mode, seq, &mut raw) })?;
        Ok(Subscriber { raw: NonNull::new(raw).expect("no subscriber"), _bus: PhantomData })
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        // SAFETY: every publisher and subscriber borrowed self, so all are
        // closed by now.
        unsafe { ffi::hermes_bus_detach(self.raw.as_ptr()) }
    }
}

/// A producer on one ring. Closed on drop (an outstanding claim cannot
/// exist then: it borrows the publisher).
pub struct Publisher<'b> {
    raw: NonNull<ffi::hermes_pub>,
    ptrs: Vec<*mut c_void>,
    _bus: PhantomData<&'b Bus>,
}

// SAFETY: a publisher is used by one thread at a time (not Sync); moving it
// to another thread is allowed by bus.h.
unsafe impl Send for Publisher<'_> {}

impl<'b> Publisher<'b> {
    fn claim_with(&mut self, c: &mut ffi::hermes_claim, code: c_int) -> Result<Claim<'_>> {
        check_bare(code)?;
        Ok(Claim { o: Outstanding { raw: self.raw, c: *c, done: false }, _p: PhantomData })
    }

    /// Claim room for one message of `len` bytes, to be written in place
    /// (zero copy) and then [`Claim::commit`]ted; dropping the claim aborts
    /// it. Never blocks. Errors: [`Error::Again`] (a block ring is full:
    /// retry, or [`Publisher::claim_timed`]), [`Error::MessageSize`],
    /// [`Error::Closed`] (the ring was deleted).
    #[inline]
    pub fn claim(&mut self, len: usize) -> Result<Claim<'_>> {
        let len = msg_len(len)?;
        let mut c = empty_claim();
        // SAFETY: valid handle; c is written by the call.
        let code = unsafe { ffi::hermes_pub_claim(self.raw.as_ptr(), len, &mut c) };
        self.claim_with(&mut c, code)
    }

    /// As [`Publisher::claim`], waiting up to `timeout` for room (None: no
    /// limit). Errors: [`Error::TimedOut`], [`Error::MessageSize`].
    pub fn claim_timed(&mut self, len: usize, timeout: Option<Duration>) -> Result<Claim<'_>> {
        let len = msg_len(len)?;
        let mut c = empty_claim();
        // SAFETY: as claim.
        let code = unsafe { ffi::hermes_pub_claim_timed(self.raw.as_ptr(), len, &mut c, timeout_ns(timeout)) };
        self.claim_with(&mut c, code)
    }

    /// Claim `lens.len()` messages (1..=1024) in one atomic step; they are
    /// committed together (subscribers see none before, all after). Errors
    /// as [`Publisher::claim`], and [`Error::Invalid`] for 0 or over 1024.
    pub fn claim_batch<'p>(&'p mut self, lens: &'p [u32]) -> Result<BatchClaim<'p>> {
        if lens.is_empty() || lens.len() > MAX_BATCH {
            return Err(Error::Invalid(Detail::none()));
        }
        // The pointer array is kept between batches: no allocation once it
        // has grown to the largest batch.
        self.ptrs.clear();
        self.ptrs.resize(lens.len(), ptr::null_mut());
        let mut c = empty_claim();
        // SAFETY: lens and ptrs both hold lens.len() elements.
        let code = unsafe {
            ffi::hermes_pub_claim_batch(self.raw.as_ptr(), lens.as_ptr(), lens.len() as u32, self.ptrs.as_mut_ptr(), &mut c)
        };
        check_bare(code)?;
        Ok(BatchClaim { o: Outstanding { raw: self.raw, c, done: false }, ptrs: &self.ptrs, lens })
    }

    /// Copy `data` into the ring as one message and publish it; returns its
    /// sequence. Never blocks; errors as [`Publisher::claim`].
    #[inline]
    pub fn send(&mut self, data: &[u8]) -> Result<u64> {
        let len = msg_len(data.len())?;
        let mut seq = 0;
        // SAFETY: data holds len bytes.
        check_bare(unsafe { ffi::hermes_pub_send(self.raw.as_ptr(), data.as_ptr().cast(), len, &mut seq) })?;
        Ok(seq)
    }

    /// As [`Publisher::send`], waiting up to `timeout` for room.
    pub fn send_timed(&mut self, data: &[u8], timeout: Option<Duration>) -> Result<u64> {
        let len = msg_len(data.len())?;
        let mut seq = 0;
        // SAFETY: data holds len bytes.
        check_bare(unsafe {
            ffi::hermes_pub_send_timed(self.raw.as_ptr(), data.as_ptr().cast(), len, &mut seq, timeout_ns(timeout))
        })?;
        Ok(seq)
    }

    /// As [`Publisher::send_timed`], with a user tag (a message type, a
    /// schema id) that subscribers get in [`Message::tag`]; 0 is no tag.
    /// `Some(Duration::ZERO)` never waits.
    pub fn send_tagged(&mut self, data: &[u8], tag: u32, timeout: Option<Duration>) -> Result<u64> {
        let len = msg_len(data.len())?;
        let mut seq = 0;
        // SAFETY: data holds len bytes.
        check_bare(unsafe {
            ffi::hermes_pub_send_tagged(self.raw.as_ptr(), data.as_ptr().cast(), len, tag, &mut seq, timeout_ns(timeout))
        })?;
        Ok(seq)
    }
}

impl Drop for Publisher<'_> {
    fn drop(&mut self) {
        // SAFETY: no claim is outstanding (claims borrow self).
        unsafe { ffi::hermes_pub_close(self.raw.as_ptr()) }
    }
}

fn empty_claim() -> ffi::hermes_claim {
    ffi::hermes_claim { data: ptr::null_mut(), len: 0, n_: 0, pos_: 0, seq_: 0, bytes_: 0 }
}

/// A claim not yet committed or aborted: aborted on drop. Shared by
/// [`Claim`] and [`BatchClaim`].
struct Outstanding {
    raw: NonNull<ffi::hermes_pub>,
    c: ffi::hermes_claim,
    done: bool,
}

impl Outstanding {
    fn finish(&mut self, commit: bool) -> Result<u64> {
        self.done = true;
        // SAFETY: c is this publisher's outstanding claim (finished once).
        let code = unsafe {
            if commit {
                ffi::hermes_pub_commit(self.raw.as_ptr(), &mut self.c)
            } else {
                ffi::hermes_pub_abort(self.raw.as_ptr(), &mut self.c)
            }
        };
        check_bare(code)?;
        Ok(self.c.seq_)
    }
}

impl Drop for Outstanding {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.finish(false);
        }
    }
}

/// Room for one message inside the ring: write the payload through
/// `DerefMut<Target = [u8]>`, then [`Claim::commit`]. Dropped without a
/// commit, it is aborted (subscribers see a gap in sequences).
pub struct Claim<'p> {
    o: Outstanding,
    _p: PhantomData<&'p mut ()>,
}

impl Claim<'_> {
    /// The sequence subscribers will see once it is committed.
    pub fn seq(&self) -> u64 {
        self.o.c.seq_
    }

    /// Publish the message and wake sleeping subscribers; returns its sequence.
    #[inline]
    pub fn commit(mut self) -> Result<u64> {
        self.o.finish(true)
    }

    /// Give the room back; the sequence is skipped.
    pub fn abort(mut self) -> Result<()> {
        self.o.finish(false).map(|_| ())
    }
}

impl std::ops::Deref for Claim<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        if self.o.c.len == 0 {
            return &[];
        }
        // SAFETY: the claim owns c.len bytes at c.data until commit or abort.
        unsafe { std::slice::from_raw_parts(self.o.c.data as *const u8, self.o.c.len as usize) }
    }
}

impl std::ops::DerefMut for Claim<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        if self.o.c.len == 0 {
            return &mut [];
        }
        // SAFETY: as deref; &mut self makes the access exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.o.c.data as *mut u8, self.o.c.len as usize) }
    }
}

/// Room for several messages, committed (or aborted) together; dropping it
/// aborts.
pub struct BatchClaim<'p> {
    o: Outstanding,
    ptrs: &'p [*mut c_void],
    lens: &'p [u32],
}

impl BatchClaim<'_> {
    /// How many messages.
    pub fn len(&self) -> usize {
        self.lens.len()
    }
    /// Never true: a batch holds at least one message.
    pub fn is_empty(&self) -> bool {
        false
    }
    /// The sequence of the first message (the others follow it).
    pub fn seq(&self) -> u64 {
        self.o.c.seq_
    }
    /// Message i's payload space. Panics if i >= len().
    pub fn get_mut(&mut self, i: usize) -> &mut [u8] {
        let len = self.lens[i] as usize;
        if len == 0 {
            return &mut [];
        }
        // SAFETY: the C library pointed ptrs[i] at lens[i] claimed bytes,
        // owned by this claim until commit or abort; &mut self is exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptrs[i] as *mut u8, len) }
    }
    /// Publish all the messages at once; returns the first one's sequence.
    #[inline]
    pub fn commit(mut self) -> Result<u64> {
        self.o.finish(true)
    }
    /// Give all the room back.
    pub fn abort(mut self) -> Result<()> {
        self.o.finish(false).map(|_| ())
    }
}

/// A message read in place from the ring; borrows its subscriber until
/// [`Subscriber::release`].
#[derive(Debug, Clone, Copy)]
pub struct Message<'s> {
    /// The payload, inside the shared-memory ring (zero copy).
    pub data: &'s [u8],
    /// Its sequence in the ring.
    pub seq: u64,
    /// Sequences skipped just before it (aborted or repaired claims).
    pub gap: u64,
    /// The publisher's user tag ([`Publisher::send_tagged`]); 0 = none.
    pub tag: u32,
}

/// What [`Subscriber::recv`] copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub len: usize,
    pub seq: u64,
    pub gap: u64,
    /// The publisher's user tag; 0 = none.
    pub tag: u32,
}

/// A consumer with its own cursor on one ring; sees every message in
/// sequence order. Closed on drop.
pub struct Subscriber<'b> {
    raw: NonNull<ffi::hermes_sub>,
    _bus: PhantomData<&'b Bus>,
}

// SAFETY: used by one thread at a time (not Sync); may move between threads.
unsafe impl Send for Subscriber<'_> {}

#[inline]
fn message<'s>(m: &ffi::hermes_msg) -> Message<'s> {
    let data = if m.len == 0 {
        &[][..]
    } else {
        // SAFETY: the C library points data at len bytes of the ring, valid
        // until hermes_sub_release; the caller ties 's to a borrow of the
        // subscriber that release cannot coexist with.
        unsafe { std::slice::from_raw_parts(m.data as *const u8, m.len as usize) }
    };
    Message { data, seq: m.seq, gap: m.gap, tag: m.tag }
}

fn empty_msg() -> ffi::hermes_msg {
    ffi::hermes_msg { data: ptr::null(), len: 0, tag: 0, seq: 0, gap: 0, lost: 0 }
}

impl<'b> Subscriber<'b> {
    /// Take the next message without copying: Ok(None) when there is none
    /// yet; [`Error::Lost`] (with the count) when an overwrite ring lapped
    /// this subscriber (the next poll returns the oldest message still
    /// there). Several messages may be polled before one release. Never
    /// blocks; allocates nothing.
    #[inline]
    pub fn poll(&self) -> Result<Option<Message<'_>>> {
        let mut m = empty_msg();
        // SAFETY: valid handle; the subscriber is not Sync, so no other
        // thread polls it concurrently.
        match unsafe { ffi::hermes_sub_poll(self.raw.as_ptr(), &mut m) } {
            ffi::HERMES_OK => Ok(Some(message(&m))),
            ffi::HERMES_EAGAIN => Ok(None),
            ffi::HERMES_ELOST => Err(Error::Lost(Detail::count(m.lost))),
            code => Err(Error::bare(code)),
        }
    }

    /// Release every message polled so far, letting producers reuse the
    /// space. On an overwrite ring, [`Error::Lost`] says some of them may
    /// have been overwritten while being read: discard what came from them.
    #[inline]
    pub fn release(&mut self) -> Result<()> {
        // SAFETY: &mut self: no Message of this subscriber is alive.
        check_bare(unsafe { ffi::hermes_sub_release(self.raw.as_ptr()) })
    }

    /// Call `f` for up to `max` messages (0: all available), then release
    /// them; returns how many were delivered. Errors: [`Error::Lost`].
    pub fn poll_batch<F: FnMut(&Message<'_>)>(&mut self, max: u32, mut f: F) -> Result<usize> {
        extern "C" fn trampoline<F: FnMut(&Message<'_>)>(ctx: *mut c_void, m: *const ffi::hermes_msg) {
            // SAFETY: ctx is the &mut F passed below, m a valid message for
            // the duration of the call.
            let (f, m) = unsafe { (&mut *(ctx as *mut F), &*m) };
            f(&message(m));
        }
        let mut count: c_uint = 0;
        // SAFETY: the handler only runs during the call, with ctx = &mut f.
        let code = unsafe {
            ffi::hermes_sub_poll_batch(self.raw.as_ptr(), trampoline::<F>, &mut f as *mut F as *mut c_void, max, &mut count)
        };
        check_bare(code)?;
        Ok(count as usize)
    }

    /// Copy the next message into `buf` and release it (safe on overwrite
    /// rings against concurrent overwrite). Ok(None) when there is none;
    /// [`Error::NoBuffers`] when buf is too small (the message stays
    /// unread); [`Error::Lost`].
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<Option<Received>> {
        let mut m = empty_msg();
        let cap = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        // SAFETY: buf holds at least cap bytes.
        match unsafe { ffi::hermes_sub_recv(self.raw.as_ptr(), buf.as_mut_ptr().cast(), cap, &mut m) } {
            ffi::HERMES_OK => Ok(Some(Received { len: m.len as usize, seq: m.seq, gap: m.gap, tag: m.tag })),
            ffi::HERMES_EAGAIN => Ok(None),
            ffi::HERMES_ELOST => Err(Error::Lost(Detail::count(m.lost))),
            code => Err(Error::bare(code)),
        }
    }

    /// Wait until a poll would return a message (or a loss): true, or false
    /// when `timeout` passed first (None: no limit). Errors: [`Error::Again`]
    /// (a signal interrupted a [`WaitMode::Block`] sleep), [`Error::Closed`]
    /// (the ring was deleted).
    pub fn wait(&self, mode: WaitMode, timeout: Option<Duration>) -> Result<bool> {
        // SAFETY: valid handle, used by this thread only.
        match unsafe { ffi::hermes_sub_wait(self.raw.as_ptr(), mode as c_int, timeout_ns(timeout)) } {
            ffi::HERMES_OK => Ok(true),
            ffi::HERMES_ETIMEDOUT => Ok(false),
            code => Err(Error::bare(code)),
        }
    }

    /// The sequence this subscriber will deliver next.
    pub fn next_seq(&self) -> u64 {
        // SAFETY: valid handle.
        unsafe { ffi::hermes_sub_next_seq(self.raw.as_ptr()) }
    }
}

impl Drop for Subscriber<'_> {
    fn drop(&mut self) {
        // SAFETY: no message is alive (they borrow self).
        unsafe { ffi::hermes_sub_close(self.raw.as_ptr()) }
    }
}
