//! The one error type of the crate.

use std::fmt;

/// What can go wrong when building or updating an index.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// More hashes than `u32` ids can name ([`MAX_LEN`](crate::MAX_LEN)); the caller's fault.
    TooManyHashes {
        /// How many hashes the index would have held.
        len: usize,
    },
    /// An id that the index never handed out; the caller's fault.
    UnknownId {
        /// The id asked for.
        id: u32,
        /// How many ids the index has (valid ids are `0..len`).
        len: usize,
    },
    /// A substring count the multi-index cannot use; the caller's fault.
    InvalidSubstrings {
        /// The substring count asked for.
        substrings: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TooManyHashes { len } => write!(
                f,
                "{len} hashes do not fit in u32 ids (at most {}): split the bank",
                crate::MAX_LEN
            ),
            Error::UnknownId { id, len } => {
                write!(f, "unknown id {id}: the index has ids 0..{len}")
            }
            Error::InvalidSubstrings { substrings } => write!(
                f,
                "cannot split 256 bits into {substrings} substrings: use {}..={}",
                crate::mih::MIN_SUBSTRINGS,
                crate::mih::MAX_SUBSTRINGS
            ),
        }
    }
}

impl std::error::Error for Error {}
