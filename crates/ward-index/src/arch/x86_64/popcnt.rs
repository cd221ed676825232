//! `POPCNT` and prefetch hints for the multi-index probe loop.
//!
//! The probe loop verifies thousands of candidates at random addresses. Compiled for baseline
//! x86-64, each `count_ones` is a dozen instructions, which both costs time and fills the
//! reorder window that would otherwise overlap the cache misses; so the loop (generic, inlined)
//! is instantiated here inside a `#[target_feature(enable = "popcnt")]` function, with
//! `PREFETCHT0` hints to start the next candidates' misses early.

use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
use std::sync::OnceLock;

use crate::mih::{MihIndex, Prefetch, Probe};
use crate::{Hash, Hit};

/// Proof that the CPU has `POPCNT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Kernel(());

impl Kernel {
    /// Returns the kernel if the CPU supports it.
    pub(crate) fn new() -> Option<Self> {
        if is_x86_feature_detected!("popcnt") {
            Some(Kernel(()))
        } else {
            None
        }
    }

    /// [`Kernel::new`], detected once per process.
    pub(crate) fn detect() -> Option<Self> {
        static DETECTED: OnceLock<Option<Kernel>> = OnceLock::new();
        *DETECTED.get_or_init(Kernel::new)
    }

    /// See `MihIndex::probe_with`.
    pub(crate) fn probe(
        self,
        index: &MihIndex,
        query: &Hash,
        t: u32,
        plan: &[Probe],
        out: &mut Vec<Hit>,
    ) {
        // SAFETY: `self` exists only if `new` found POPCNT, the one feature `probe` enables.
        unsafe { probe(index, query, t, plan, out) }
    }
}

/// `PREFETCHT0`: into all cache levels.
struct Hint;

impl Prefetch for Hint {
    #[inline(always)]
    fn prefetch<T>(&self, data: &T) {
        // SAFETY: a prefetch is a hint without architectural effect (it cannot fault), and SSE,
        // which provides it, is part of baseline x86-64.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((data as *const T).cast::<i8>()) }
    }
}

#[target_feature(enable = "popcnt")]
fn probe(index: &MihIndex, query: &Hash, t: u32, plan: &[Probe], out: &mut Vec<Hit>) {
    index.probe_with(query, t, plan, out, &Hint);
}
