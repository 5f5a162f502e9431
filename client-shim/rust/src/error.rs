//! The error codes of libtokenwell (`tokenwell.h`), as a Rust enum.
//!
//! Same names, numbers and texts as the C library, so a log line from a Rust
//! service reads like one from any other client.

use std::fmt;

/// What went wrong; `code()` and `name()` are the C library's.
///
/// ```ignore
/// match reader.read("redis") {
///     Ok(c) => auth(c.username(), c.token()),
///     Err(Error::ENoValue { expires_at, .. }) => warn!("expired at {expires_at}"),
///     Err(e) => warn!("tokenwell: {e} ({})", e.name()),
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// `TOKENWELL_EINVAL` (1): a bad argument, e.g. a name of 0 or more than 64 bytes.
    EInval,
    /// `TOKENWELL_ENOTFOUND` (2): no credential or keyset of that name (or not of that kind).
    ENotFound,
    /// `TOKENWELL_ENOVALUE` (3): known, but not fetched yet or expired. The
    /// entry's expiry (unix seconds, 0 = none) and generation come along; the
    /// secret never does.
    ENoValue { expires_at: i64, generation: u64 },
    /// `TOKENWELL_EUNAVAILABLE` (4): no segment (agent not started, wrong directory).
    EUnavailable,
    /// `TOKENWELL_EFORMAT` (5): segment truncated, wrong magic, bad sizes, or a malformed entry.
    EFormat,
    /// `TOKENWELL_EVERSION` (6): segment written for a newer, incompatible reader.
    EVersion,
    /// `TOKENWELL_ETOOSMALL` (7): a buffer too small (never returned here: values are allocated).
    ETooSmall,
    /// `TOKENWELL_ETIMEOUT` (8): a wait timed out.
    ETimeout,
    /// `TOKENWELL_EBUSY` (9): the value changed on every one of 1,000 attempts.
    EBusy,
    /// `TOKENWELL_ENOMEM` (10): out of memory.
    ENoMem,
    /// `TOKENWELL_ESYSTEM` (11): an unexpected system call failure.
    ESystem,
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The C library's number for this error (`TOKENWELL_*`).
    pub fn code(&self) -> i32 {
        match self {
            Error::EInval => 1,
            Error::ENotFound => 2,
            Error::ENoValue { .. } => 3,
            Error::EUnavailable => 4,
            Error::EFormat => 5,
            Error::EVersion => 6,
            Error::ETooSmall => 7,
            Error::ETimeout => 8,
            Error::EBusy => 9,
            Error::ENoMem => 10,
            Error::ESystem => 11,
        }
    }

    /// The C library's name without the `TOKENWELL_` prefix: `"ENOVALUE"`.
    pub fn name(&self) -> &'static str {
        match self {
            Error::EInval => "EINVAL",
            Error::ENotFound => "ENOTFOUND",
            Error::ENoValue { .. } => "ENOVALUE",
            Error::EUnavailable => "EUNAVAILABLE",
            Error::EFormat => "EFORMAT",
            Error::EVersion => "EVERSION",
            Error::ETooSmall => "ETOOSMALL",
            Error::ETimeout => "ETIMEOUT",
            Error::EBusy => "EBUSY",
            Error::ENoMem => "ENOMEM",
            Error::ESystem => "ESYSTEM",
        }
    }

    /// `tokenwell_strerror()`'s text for this error.
    pub fn text(&self) -> &'static str {
        match self {
            Error::EInval => "invalid argument",
            Error::ENotFound => "no credential or keyset of that name",
            Error::ENoValue { .. } => "no valid value (not fetched yet or expired)",
            Error::EUnavailable => "segment unavailable (agent not running or wrong directory)",
            Error::EFormat => "segment malformed (truncated, bad magic or bad sizes)",
            Error::EVersion => "segment written by a newer, incompatible version",
            Error::ETooSmall => "buffer too small",
            Error::ETimeout => "timed out",
            Error::EBusy => "value changing too fast, try again",
            Error::ENoMem => "out of memory",
            Error::ESystem => "unexpected system error",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_names_and_texts_are_the_c_librarys() {
        // tokenwell.h's enum and tokenwell_strerror(), in order.
        let all = [
            (Error::EInval, "EINVAL", "invalid argument"),
            (
                Error::ENotFound,
                "ENOTFOUND",
                "no credential or keyset of that name",
            ),
            (
                Error::ENoValue {
                    expires_at: 0,
                    generation: 0,
                },
                "ENOVALUE",
                "no valid value (not fetched yet or expired)",
            ),
            (
                Error::EUnavailable,
                "EUNAVAILABLE",
                "segment unavailable (agent not running or wrong directory)",
            ),
            (
                Error::EFormat,
                "EFORMAT",
                "segment malformed (truncated, bad magic or bad sizes)",
            ),
            (
                Error::EVersion,
                "EVERSION",
                "segment written by a newer, incompatible version",
            ),
            (Error::ETooSmall, "ETOOSMALL", "buffer too small"),
            (Error::ETimeout, "ETIMEOUT", "timed out"),
            (Error::EBusy, "EBUSY", "value changing too fast, try again"),
            (Error::ENoMem, "ENOMEM", "out of memory"),
            (Error::ESystem, "ESYSTEM", "unexpected system error"),
        ];
        for (i, (e, name, text)) in all.iter().enumerate() {
            assert_eq!(e.code(), i as i32 + 1);
            assert_eq!(e.name(), *name);
            assert_eq!(e.to_string(), *text);
        }
    }
}
