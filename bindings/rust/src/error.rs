//! One error type for the whole crate: the `hermes_err` codes of
//! `include/hermes/error.h`, each with an optional detail message.

use std::ffi::CStr;
use std::fmt;
use std::os::raw::{c_char, c_int};

extern "C" {
    fn hermes_strerror(err: c_int) -> *const c_char;
    fn hermes_last_error_detail() -> *const c_char;
}

/// What an error carries besides its code: the detail message the C library
/// left (control path only; empty on the hot path, where nothing allocates),
/// and for [`Error::Lost`] how many messages were lost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Detail {
    text: Option<Box<str>>,
    count: u64,
}

impl Detail {
    /// No detail (allocates nothing).
    pub const fn none() -> Detail {
        Detail { text: None, count: 0 }
    }
    /// A detail message.
    pub fn text(text: &str) -> Detail {
        Detail { text: if text.is_empty() { None } else { Some(text.into()) }, count: 0 }
    }
    pub(crate) fn count(count: u64) -> Detail {
        Detail { text: None, count }
    }
    /// The message, or "" when there is none.
    pub fn message(&self) -> &str {
        self.text.as_deref().unwrap_or("")
    }
}

macro_rules! errors {
    ($($(#[$doc:meta])* $variant:ident = $code:literal, $name:literal;)*) => {
        /// A Hermes error: the `hermes_err` code as a variant, with its [`Detail`].
        /// Codes this crate does not know (a newer libhermes-ipc) come as
        /// [`Error::Unknown`] with the number.
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum Error {
            $($(#[$doc])* $variant(Detail),)*
            /// A code this version of the crate does not know.
            Unknown(u32, Detail),
        }

        impl Error {
            /// The error for a non-zero `hermes_err` code, with a detail.
            pub fn from_code(code: u32, detail: Detail) -> Error {
                match code {
                    $($code => Error::$variant(detail),)*
                    _ => Error::Unknown(code, detail),
                }
            }
            /// The numeric `hermes_err` code (stable, also used on the wire).
            pub fn code(&self) -> u32 {
                match self {
                    $(Error::$variant(_) => $code,)*
                    Error::Unknown(c, _) => *c,
                }
            }
            /// The symbolic name, as `hermes_err_name` gives it ("HERMES_EAGAIN").
            pub fn name(&self) -> &'static str {
                match self {
                    $(Error::$variant(_) => $name,)*
                    Error::Unknown(..) => "HERMES_EUNKNOWN",
                }
            }
            /// What else is known: the detail message, a loss count.
            pub fn detail(&self) -> &Detail {
                match self {
                    $(Error::$variant(d) => d,)*
                    Error::Unknown(_, d) => d,
                }
            }
        }

        /// Every code this crate knows, with its name (for tests and tools).
        pub const KNOWN_CODES: &[(u32, &str)] = &[$(($code, $name),)*];
    };
}

errors! {
    /// Nothing to do right now: a block ring is full, or a ring has no message.
    Again = 1, "HERMES_EAGAIN";
    /// A timed operation reached its deadline.
    TimedOut = 2, "HERMES_ETIMEDOUT";
    /// An argument is out of range or inconsistent; nothing was changed.
    Invalid = 3, "HERMES_EINVAL";
    /// Memory could not be allocated.
    NoMemory = 4, "HERMES_ENOMEM";
    /// The segment has no room left.
    NoSpace = 5, "HERMES_ENOSPC";
    /// No bus, ring or file of that name.
    NotFound = 6, "HERMES_ENOENT";
    /// A bus or ring of that name already exists.
    Exists = 7, "HERMES_EEXIST";
    /// A message is larger than the ring's maximum message size.
    MessageSize = 8, "HERMES_EMSGSIZE";
    /// A subscriber was lapped; [`Error::lost`] says how many messages were lost.
    Lost = 9, "HERMES_ELOST";
    /// Not a Hermes segment, or corrupt.
    BadSegment = 10, "HERMES_EBADSEGMENT";
    /// The segment was made by an incompatible layout version.
    Version = 11, "HERMES_EVERSION";
    /// The segment file is shorter than its header says.
    Truncated = 12, "HERMES_ETRUNCATED";
    /// The segment is still being created: retry shortly.
    NotReady = 13, "HERMES_ENOTREADY";
    /// Not allowed to open the segment or socket.
    Access = 14, "HERMES_EACCES";
    /// All producer or subscriber slots of the ring are in use.
    TooMany = 15, "HERMES_ETOOMANY";
    /// An operating-system call failed; the detail names it.
    System = 16, "HERMES_ESYS";
    /// Wire protocol: the frame does not start with the magic "HM".
    BadMagic = 17, "HERMES_EBADMAGIC";
    /// Wire protocol: unsupported protocol version.
    BadVersion = 18, "HERMES_EBADVERSION";
    /// Wire protocol: unknown message type.
    BadType = 19, "HERMES_EBADTYPE";
    /// Wire protocol: a flag not allowed for the type, or a reserved field not zero.
    BadFlags = 20, "HERMES_EBADFLAGS";
    /// Wire protocol: the frame is longer than the maximum frame (or the buffer).
    TooBig = 21, "HERMES_ETOOBIG";
    /// Wire protocol: the buffer ends inside a frame; read more bytes.
    NeedMore = 22, "HERMES_ENEEDMORE";
    /// Wire protocol: a type not allowed in this phase or direction.
    Handshake = 23, "HERMES_EHANDSHAKE";
    /// An output buffer is too small (for an encoder: write out, reset, retry).
    NoBuffers = 24, "HERMES_ENOBUFS";
    /// The handle was closed, or the ring was deleted.
    Closed = 25, "HERMES_ECLOSED";
    /// Authentication failed or a permission was refused.
    Permission = 26, "HERMES_EPERM";
    /// The operation needs a feature this build does not have.
    NotSupported = 27, "HERMES_ENOTSUP";
    /// Wire protocol: a payload is malformed for its message type.
    BadPayload = 28, "HERMES_EBADPAYLOAD";
    /// The operation needs the bus supervisor (hermesd) and none is reachable.
    NoSupervisor = 29, "HERMES_ENOSUPERVISOR";
    /// The ring is in use; retry, or delete with force.
    Busy = 30, "HERMES_EBUSY";
}

impl Error {
    /// For [`Error::Lost`]: how many messages were lost (0 when not known).
    pub fn lost(&self) -> Option<u64> {
        match self {
            Error::Lost(d) => Some(d.count),
            _ => None,
        }
    }

    /// The error for code, with the detail message the C library left on
    /// this thread (control-path calls).
    pub(crate) fn last(code: c_int) -> Error {
        // SAFETY: hermes_last_error_detail returns a NUL-terminated string
        // (never NULL) valid until the next Hermes call on this thread; it
        // is copied at once.
        let text = unsafe { CStr::from_ptr(hermes_last_error_detail()) };
        Error::from_code(code as u32, Detail::text(&text.to_string_lossy()))
    }

    /// The error for code without a detail (hot path: allocates nothing).
    #[cold]
    pub(crate) fn bare(code: c_int) -> Error {
        Error::from_code(code as u32, Detail::none())
    }

    /// The library's constant description of the code.
    pub fn description(&self) -> String {
        // SAFETY: hermes_strerror returns a constant NUL-terminated string
        // for any value, "unknown error" included.
        let s = unsafe { CStr::from_ptr(hermes_strerror(self.code() as c_int)) };
        s.to_string_lossy().into_owned()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.description(), self.name())?;
        if let Error::Lost(d) = self {
            if d.count > 0 {
                write!(f, ": {} messages lost", d.count)?;
            }
        }
        let d = self.detail().message();
        if !d.is_empty() {
            write!(f, ": {}", d)?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Turn a control-path `hermes_err` into a Result, with the detail message.
pub(crate) fn check(code: c_int) -> Result<()> {
    if code == 0 {
        Ok(())
    } else {
        Err(Error::last(code))
    }
}

/// Turn a hot-path `hermes_err` into a Result, without allocating.
#[inline]
pub(crate) fn check_bare(code: c_int) -> Result<()> {
    if code == 0 {
        Ok(())
    } else {
        Err(Error::bare(code))
    }
}
