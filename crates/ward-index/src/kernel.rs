//! Run-time choice of the popcount kernel that flat scans use.

use std::sync::OnceLock;

use crate::{arch, Hash, Hit};

/// A popcount kernel usable on this CPU: AVX-512 `VPOPCNTDQ`, AVX2, or the portable scalar twin.
///
/// [`Kernel::detect`] picks the fastest once per process. The others are exposed so that tests
/// can check every kernel against the scalar one and benchmarks can compare them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kernel(Choice);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Choice {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Avx2(arch::x86_64::avx2::Kernel),
    #[cfg(target_arch = "x86_64")]
    Avx512(arch::x86_64::avx512::Kernel),
}

/// Hashes per block in a batched scan: 16 KiB, so a block stays in L1 while every query of the
/// batch is compared with it, and the bank is read from memory once per batch, not per query.
const BATCH_BLOCK: usize = 512;

impl Kernel {
    /// The fastest kernel this CPU supports, detected on first use and cached.
    pub fn detect() -> Kernel {
        static BEST: OnceLock<Kernel> = OnceLock::new();
        *BEST.get_or_init(|| Kernel::available()[0])
    }

    /// The portable kernel (`u64::count_ones`), available everywhere.
    pub fn scalar() -> Kernel {
        Kernel(Choice::Scalar)
    }

    /// Every kernel this CPU supports, fastest first; the last is always [`Kernel::scalar`].
    pub fn available() -> Vec<Kernel> {
        #[allow(unused_mut)] // Only x86-64 has more than the scalar kernel.
        let mut kernels = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if let Some(k) = arch::x86_64::avx512::Kernel::new() {
                kernels.push(Kernel(Choice::Avx512(k)));
            }
            if let Some(k) = arch::x86_64::avx2::Kernel::new() {
                kernels.push(Kernel(Choice::Avx2(k)));
            }
        }
        kernels.push(Kernel::scalar());
        kernels
    }

    /// A short name for reports: `avx512-vpopcntdq`, `avx2` or `scalar`.
    pub fn name(self) -> &'static str {
        match self.0 {
            Choice::Scalar => "scalar",
            #[cfg(target_arch = "x86_64")]
            Choice::Avx2(_) => "avx2",
            #[cfg(target_arch = "x86_64")]
            Choice::Avx512(_) => "avx512-vpopcntdq",
        }
    }

    /// Writes `distance(&hashes[i], query)` into `out[i]` for every `i` both slices have.
    pub fn distances(self, hashes: &[Hash], query: &Hash, out: &mut [u32]) {
        match self.0 {
            Choice::Scalar => arch::scalar::distances(hashes, query, out),
            #[cfg(target_arch = "x86_64")]
            Choice::Avx2(k) => k.distances(hashes, query, out),
            #[cfg(target_arch = "x86_64")]
            Choice::Avx512(k) => k.distances(hashes, query, out),
        }
    }

    /// Appends `Hit { id: id_base + i, .. }` for every `hashes[i]` within `max_distance`, in
    /// order of `i`. The caller guarantees `id_base + hashes.len()` fits in `u32`.
    #[inline]
    pub(crate) fn scan(
        self,
        hashes: &[Hash],
        query: &Hash,
        max_distance: u32,
        id_base: u32,
        out: &mut Vec<Hit>,
    ) {
        match self.0 {
            Choice::Scalar => arch::scalar::scan(hashes, query, max_distance, id_base, out),
            #[cfg(target_arch = "x86_64")]
            Choice::Avx2(k) => k.scan(hashes, query, max_distance, id_base, out),
            #[cfg(target_arch = "x86_64")]
            Choice::Avx512(k) => k.scan(hashes, query, max_distance, id_base, out),
        }
    }

    /// [`Kernel::scan`] for many queries: `outs[j]` receives the hits of `queries[j]`, in order
    /// of id. The bank is walked once, block by block, each block compared with every query.
    pub(crate) fn scan_batch(
        self,
        hashes: &[Hash],
        queries: &[Hash],
        max_distance: u32,
        id_base: u32,
        outs: &mut [Vec<Hit>],
    ) {
        let mut base = id_base;
        for block in hashes.chunks(BATCH_BLOCK) {
            for (query, out) in queries.iter().zip(outs.iter_mut()) {
                self.scan(block, query, max_distance, base, out);
            }
            base += block.len() as u32;
        }
    }
}

impl Default for Kernel {
    fn default() -> Self {
        Kernel::detect()
    }
}
