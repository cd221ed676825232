//! Exact Hamming range search over 256-bit hashes (PDQ).
//!
//! **Architecture Invariant:** every search is exact (recall 1.0): a hash within the requested
//! distance is never missed and never reported twice. The crate knows nothing of banks, labels,
//! SQL or async runtimes, and does not depend on `ward-pdq`; a hash is just
//! [`Hash`](type@Hash), and an entry is a dense `u32` id that the caller maps to whatever it
//! stands for.
//!
//! # The key design decision
//!
//! A bank of millions of hashes is searched with **multi-index hashing** ([`MihIndex`], after
//! Norouzi, Punjani and Fleet, "Fast Search in Hamming Space with Multi-Index Hashing"): the 256
//! bits are cut into `m` disjoint substrings of about `log2(N)` bits, each with its own table, and
//! the pigeonhole principle turns one radius-`t` query into a few small-radius lookups whose
//! candidates are verified against the full hash. Small banks, large radii (where the lookups
//! would cost more than reading every hash) and the recently added delta are answered by a
//! **SIMD flat scan** ([`FlatIndex`], AVX-512 `VPOPCNTDQ`, AVX2 or portable scalar, picked at run
//! time). [`Index`] combines both with incremental adds and disables; it is what the engine uses.
//!
//! ```
//! use ward_index::{Index, IndexOptions, Hit};
//!
//! let mut index = Index::build(vec![[1, 2, 3, 4], [!0, 0, 0, 0]], IndexOptions::default())?;
//! let id = index.add([1, 2, 3, 5])?;
//! index.disable(0)?;
//! let hits = index.search(&[1, 2, 3, 4], 31);
//! assert_eq!(hits, vec![Hit { id, distance: 1 }]);
//! # Ok::<(), ward_index::Error>(())
//! ```
//!
//! Useful for: exact near-duplicate lookup of perceptual hashes at the field's thresholds
//! (PDQ: 31 of 256 bits). Not useful for: approximate nearest-neighbour search in float spaces,
//! or radii near 128, where nothing beats reading every hash (and the flat scan does).
#![deny(unsafe_code)]

mod arch;
mod bitset;
mod error;
mod flat;
mod index;
mod kernel;
mod mih;

pub use error::Error;
pub use flat::FlatIndex;
pub use index::{Index, IndexOptions};
pub use kernel::Kernel;
pub use mih::{MihIndex, MihOptions, MEMORY_BUDGET};

use std::cmp::Ordering;

/// A 256-bit hash as four 64-bit words.
///
/// The word and bit order are the caller's choice: Hamming distance does not depend on it, as
/// long as every hash in one index uses the same order.
pub type Hash = [u64; 4];

/// The largest meaningful distance between two hashes; larger search radii are clamped to it.
pub const MAX_DISTANCE: u32 = 256;

/// The Hamming distance between two hashes: the number of bits in which they differ.
#[inline]
pub fn distance(a: &Hash, b: &Hash) -> u32 {
    (a[0] ^ b[0]).count_ones()
        + (a[1] ^ b[1]).count_ones()
        + (a[2] ^ b[2]).count_ones()
        + (a[3] ^ b[3]).count_ones()
}

/// One search result: the id of a stored hash and its distance from the query.
///
/// Results are ordered by `(distance, id)`, nearest first, which is the order every search
/// returns them in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Hit {
    /// The dense id of the stored hash (its position in insertion order).
    pub id: u32,
    /// The Hamming distance from the query, `0..=256`.
    pub distance: u32,
}

impl Ord for Hit {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.distance, self.id).cmp(&(other.distance, other.id))
    }
}

impl PartialOrd for Hit {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The largest number of hashes one index holds: ids are `u32` (`u32::MAX` itself is kept
/// unused so that `len` always fits in a `u32` too).
pub const MAX_LEN: usize = u32::MAX as usize;

/// Checks that `len` hashes fit in `u32` ids.
fn check_len(len: usize) -> Result<(), Error> {
    if len > MAX_LEN {
        Err(Error::TooManyHashes { len })
    } else {
        Ok(())
    }
}
