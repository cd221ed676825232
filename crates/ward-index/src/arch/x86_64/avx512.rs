//! AVX-512 kernel: `VPOPCNTDQ` counts the bits of eight 64-bit words at once.
//!
//! Eight hashes (256 bytes, four registers) are XORed with the query, counted per word, and the
//! four word counts of each hash are summed by two rounds of lane permutes, leaving the eight
//! distances in one register to compare with the radius. Hashes stay in their natural layout
//! (`[u64; 4]` each), so the multi-index can read one hash with one cache line.

use std::arch::x86_64::{
    __m512i, _mm512_add_epi64, _mm512_cmple_epu64_mask, _mm512_loadu_si512,
    _mm512_permutex2var_epi64, _mm512_popcnt_epi64, _mm512_set1_epi64, _mm512_set_epi64,
    _mm512_storeu_si512, _mm512_xor_si512,
};

use crate::{arch::scalar, Hash, Hit};

/// Proof that the CPU has AVX-512F and AVX-512 `VPOPCNTDQ`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Kernel(());

impl Kernel {
    /// Returns the kernel if the CPU supports it.
    pub(crate) fn new() -> Option<Self> {
        if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vpopcntdq") {
            Some(Kernel(()))
        } else {
            None
        }
    }

    /// See [`scalar::scan`].
    #[inline]
    pub(crate) fn scan(
        self,
        hashes: &[Hash],
        query: &Hash,
        max_distance: u32,
        id_base: u32,
        out: &mut Vec<Hit>,
    ) {
        // SAFETY: `self` exists only if `new` found both CPU features that `scan` enables.
        unsafe { scan(hashes, query, max_distance, id_base, out) }
    }

    /// See [`scalar::distances`].
    pub(crate) fn distances(self, hashes: &[Hash], query: &Hash, out: &mut [u32]) {
        // SAFETY: as in `scan`.
        unsafe { distances(hashes, query, out) }
    }
}

/// The query repeated in both 256-bit halves of a register.
#[target_feature(enable = "avx512f")]
fn broadcast(q: &Hash) -> __m512i {
    let [a, b, c, d] = q.map(|w| w as i64);
    _mm512_set_epi64(d, c, b, a, d, c, b, a)
}

/// The distances of the eight hashes at `chunk[0..8]` from the query, one per 64-bit lane.
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
#[inline]
fn distances8(chunk: &[Hash], q: __m512i) -> __m512i {
    assert!(chunk.len() >= 8);
    let p = chunk.as_ptr().cast::<__m512i>();
    // SAFETY: the assert guarantees 8 hashes (256 contiguous bytes) at `p`; the four 64-byte
    // loads stay inside them and `loadu` has no alignment requirement.
    let (a, b, c, d) = unsafe {
        (
            _mm512_loadu_si512(p),
            _mm512_loadu_si512(p.add(1)),
            _mm512_loadu_si512(p.add(2)),
            _mm512_loadu_si512(p.add(3)),
        )
    };
    let a = _mm512_popcnt_epi64(_mm512_xor_si512(a, q));
    let b = _mm512_popcnt_epi64(_mm512_xor_si512(b, q));
    let c = _mm512_popcnt_epi64(_mm512_xor_si512(c, q));
    let d = _mm512_popcnt_epi64(_mm512_xor_si512(d, q));
    // Lane pairs (0,1), (2,3), ... of the concatenation of two registers: summing the even and
    // the odd lanes halves the number of partial sums per hash, twice: 4 -> 2 -> 1.
    let even = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0);
    let odd = _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1);
    let ab = _mm512_add_epi64(
        _mm512_permutex2var_epi64(a, even, b),
        _mm512_permutex2var_epi64(a, odd, b),
    );
    let cd = _mm512_add_epi64(
        _mm512_permutex2var_epi64(c, even, d),
        _mm512_permutex2var_epi64(c, odd, d),
    );
    _mm512_add_epi64(
        _mm512_permutex2var_epi64(ab, even, cd),
        _mm512_permutex2var_epi64(ab, odd, cd),
    )
}

/// Stores the eight lanes of `v`.
#[target_feature(enable = "avx512f")]
#[inline]
fn lanes(v: __m512i) -> [u64; 8] {
    let mut out = [0u64; 8];
    // SAFETY: `out` is 64 writable bytes; `storeu` has no alignment requirement.
    unsafe { _mm512_storeu_si512(out.as_mut_ptr().cast::<__m512i>(), v) };
    out
}

#[target_feature(enable = "avx512f,avx512vpopcntdq")]
fn scan(hashes: &[Hash], query: &Hash, max_distance: u32, id_base: u32, out: &mut Vec<Hit>) {
    let q = broadcast(query);
    let limit = _mm512_set1_epi64(i64::from(max_distance));
    let chunks = hashes.chunks_exact(8);
    let tail = chunks.remainder();
    let mut base = id_base;
    for chunk in chunks {
        let d = distances8(chunk, q);
        let mut mask = _mm512_cmple_epu64_mask(d, limit);
        if mask != 0 {
            // Matches are rare in a scan, so spilling the register only when one is found
            // keeps the loop branch-predictable.
            let d = lanes(d);
            while mask != 0 {
                let i = mask.trailing_zeros();
                out.push(Hit {
                    id: base + i,
                    distance: d[i as usize] as u32,
                });
                mask &= mask - 1;
            }
        }
        base += 8;
    }
    scalar::scan(tail, query, max_distance, base, out);
}

#[target_feature(enable = "avx512f,avx512vpopcntdq")]
fn distances(hashes: &[Hash], query: &Hash, out: &mut [u32]) {
    let q = broadcast(query);
    let n = hashes.len().min(out.len());
    let (hashes, out) = (&hashes[..n], &mut out[..n]);
    let mut chunks = hashes.chunks_exact(8);
    let mut outs = out.chunks_exact_mut(8);
    for (chunk, o) in (&mut chunks).zip(&mut outs) {
        for (o, d) in o.iter_mut().zip(lanes(distances8(chunk, q))) {
            *o = d as u32;
        }
    }
    scalar::distances(chunks.remainder(), query, outs.into_remainder());
}
