//! AVX2 kernel: popcount by a 4-bit lookup table (`VPSHUFB`), summed per word by `VPSADBW`.
//!
//! AVX2 has no vector popcount, so each byte's count is the sum of two table lookups (low and
//! high nibble), the 32 byte counts of a hash are summed into four words by a sum of absolute
//! differences against zero, and four hashes' word sums are folded into one register of four
//! distances by unpacks and a 128-bit permute. (Harley-Seal carry-save adders pay off when one
//! total is wanted over a long array; here every 32 bytes need their own total.)

use std::arch::x86_64::{
    __m256i, _mm256_add_epi64, _mm256_add_epi8, _mm256_and_si256, _mm256_castsi256_pd,
    _mm256_cmpgt_epi64, _mm256_loadu_si256, _mm256_movemask_pd, _mm256_permute2x128_si256,
    _mm256_sad_epu8, _mm256_set1_epi64x, _mm256_set1_epi8, _mm256_setr_epi64x, _mm256_setr_epi8,
    _mm256_setzero_si256, _mm256_shuffle_epi8, _mm256_srli_epi16, _mm256_storeu_si256,
    _mm256_unpackhi_epi64, _mm256_unpacklo_epi64, _mm256_xor_si256,
};

use crate::{arch::scalar, Hash, Hit};

/// Proof that the CPU has AVX2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Kernel(());

impl Kernel {
    /// Returns the kernel if the CPU supports it.
    pub(crate) fn new() -> Option<Self> {
        if is_x86_feature_detected!("avx2") {
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
        // SAFETY: `self` exists only if `new` found AVX2, the one feature `scan` enables.
        unsafe { scan(hashes, query, max_distance, id_base, out) }
    }

    /// See [`scalar::distances`].
    pub(crate) fn distances(self, hashes: &[Hash], query: &Hash, out: &mut [u32]) {
        // SAFETY: as in `scan`.
        unsafe { distances(hashes, query, out) }
    }
}

/// Per-word bit counts of `x`: four 64-bit lanes, each the popcount of one word.
#[target_feature(enable = "avx2")]
#[inline]
fn popcount_words(x: __m256i) -> __m256i {
    let table = _mm256_setr_epi8(
        0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, //
        0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
    );
    let low = _mm256_set1_epi8(0x0f);
    let lo = _mm256_and_si256(x, low);
    let hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), low);
    let bytes = _mm256_add_epi8(
        _mm256_shuffle_epi8(table, lo),
        _mm256_shuffle_epi8(table, hi),
    );
    _mm256_sad_epu8(bytes, _mm256_setzero_si256())
}

/// The distances of the four hashes at `chunk[0..4]` from the query, one per 64-bit lane.
#[target_feature(enable = "avx2")]
#[inline]
fn distances4(chunk: &[Hash], q: __m256i) -> __m256i {
    assert!(chunk.len() >= 4);
    let p = chunk.as_ptr().cast::<__m256i>();
    // SAFETY: the assert guarantees 4 hashes (128 contiguous bytes) at `p`; the four 32-byte
    // loads stay inside them and `loadu` has no alignment requirement.
    let (a, b, c, d) = unsafe {
        (
            _mm256_loadu_si256(p),
            _mm256_loadu_si256(p.add(1)),
            _mm256_loadu_si256(p.add(2)),
            _mm256_loadu_si256(p.add(3)),
        )
    };
    let a = popcount_words(_mm256_xor_si256(a, q));
    let b = popcount_words(_mm256_xor_si256(b, q));
    let c = popcount_words(_mm256_xor_si256(c, q));
    let d = popcount_words(_mm256_xor_si256(d, q));
    // Within each 128-bit half: [a0+a1, b0+b1 | a2+a3, b2+b3].
    let ab = _mm256_add_epi64(_mm256_unpacklo_epi64(a, b), _mm256_unpackhi_epi64(a, b));
    let cd = _mm256_add_epi64(_mm256_unpacklo_epi64(c, d), _mm256_unpackhi_epi64(c, d));
    // Low halves [a01, b01, c01, d01] plus high halves [a23, b23, c23, d23].
    _mm256_add_epi64(
        _mm256_permute2x128_si256(ab, cd, 0x20),
        _mm256_permute2x128_si256(ab, cd, 0x31),
    )
}

/// Stores the four lanes of `v`.
#[target_feature(enable = "avx2")]
#[inline]
fn lanes(v: __m256i) -> [u64; 4] {
    let mut out = [0u64; 4];
    // SAFETY: `out` is 32 writable bytes; `storeu` has no alignment requirement.
    unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast::<__m256i>(), v) };
    out
}

#[target_feature(enable = "avx2")]
fn query_register(q: &Hash) -> __m256i {
    let [a, b, c, d] = q.map(|w| w as i64);
    _mm256_setr_epi64x(a, b, c, d)
}

#[target_feature(enable = "avx2")]
fn scan(hashes: &[Hash], query: &Hash, max_distance: u32, id_base: u32, out: &mut Vec<Hit>) {
    let q = query_register(query);
    // AVX2 compares only signed "greater than": d <= max is max + 1 > d.
    let limit = _mm256_set1_epi64x(i64::from(max_distance) + 1);
    let chunks = hashes.chunks_exact(4);
    let tail = chunks.remainder();
    let mut base = id_base;
    for chunk in chunks {
        let d = distances4(chunk, q);
        let mut mask = _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(limit, d)));
        if mask != 0 {
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
        base += 4;
    }
    scalar::scan(tail, query, max_distance, base, out);
}

#[target_feature(enable = "avx2")]
fn distances(hashes: &[Hash], query: &Hash, out: &mut [u32]) {
    let q = query_register(query);
    let n = hashes.len().min(out.len());
    let (hashes, out) = (&hashes[..n], &mut out[..n]);
    let mut chunks = hashes.chunks_exact(4);
    let mut outs = out.chunks_exact_mut(4);
    for (chunk, o) in (&mut chunks).zip(&mut outs) {
        for (o, d) in o.iter_mut().zip(lanes(distances4(chunk, q))) {
            *o = d as u32;
        }
    }
    scalar::distances(chunks.remainder(), query, outs.into_remainder());
}
