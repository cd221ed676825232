//! The stages after the 64×64 downsample, shared by the reference and the fast path: the
//! quality metric, the 16×16 DCT, the median threshold and the dihedral coefficient
//! transforms. Each mirrors Meta's C++ `pdqhashing.cpp` operation for operation, because a
//! float summed in another order gives another bit.

use crate::Hash256;
use std::sync::OnceLock;

/// Images narrower or shorter than this hash to all zeros with quality 0, as in the reference.
pub const MIN_HASHABLE_DIM: usize = 5;

/// The 16×64 DCT-II basis (rows 1..=16 of the 64-point DCT, skipping DC), computed as the
/// reference computes it: a `float` scale factor times a `double` cosine, stored as `float`.
fn dct_matrix() -> &'static [[f32; 64]; 16] {
    static M: OnceLock<[[f32; 64]; 16]> = OnceLock::new();
    M.get_or_init(|| {
        const PI: f64 = std::f64::consts::PI;
        let scale = (2.0f64 / 64.0).sqrt() as f32;
        let mut m = [[0f32; 64]; 16];
        for (i, row) in m.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                let angle = (PI / 2.0 / 64.0) * (i + 1) as f64 * (2 * j + 1) as f64;
                *v = (f64::from(scale) * angle.cos()) as f32;
            }
        }
        m
    })
}

/// The reference's image-domain quality: the sum of quantised gradients of the 64×64
/// downsample, scaled into 0..=100.
pub fn quality(a: &[[f32; 64]; 64]) -> u8 {
    let mut sum: i32 = 0;
    for pair in a.windows(2) {
        for (u, v) in pair[0].iter().zip(&pair[1]) {
            let d = ((u - v) * 100.0 / 255.0) as i32;
            sum += d.abs();
        }
    }
    for row in a.iter() {
        for j in 0..63 {
            let d = ((row[j] - row[j + 1]) * 100.0 / 255.0) as i32;
            sum += d.abs();
        }
    }
    (sum / 90).min(100) as u8
}

/// `B = D A Dᵀ` with `D` the 16×64 basis, summed in the reference's order (k ascending).
pub fn dct64_to_16(a: &[[f32; 64]; 64]) -> [[f32; 16]; 16] {
    let d = dct_matrix();
    let mut t = [[0f32; 64]; 16];
    for i in 0..16 {
        // The reference walks k innermost per (i, j); summing row-wise over j keeps each
        // (i, j) accumulator's order the same while letting the compiler vectorise over j.
        let mut acc = [0f32; 64];
        for k in 0..64 {
            let dik = d[i][k];
            for j in 0..64 {
                acc[j] += dik * a[k][j];
            }
        }
        t[i] = acc;
    }
    let mut b = [[0f32; 16]; 16];
    for i in 0..16 {
        for j in 0..16 {
            let mut s = 0f32;
            for k in 0..64 {
                s += t[i][k] * d[j][k];
            }
            b[i][j] = s;
        }
    }
    b
}

/// One bit per coefficient: set where it is above the median (the 128th smallest, which is
/// what the reference's Torben median returns for 256 values).
pub fn bits(b: &[[f32; 16]; 16]) -> Hash256 {
    let mut flat = [0f32; 256];
    for (i, row) in b.iter().enumerate() {
        flat[i * 16..i * 16 + 16].copy_from_slice(row);
    }
    let mut sorted = flat;
    sorted.sort_unstable_by(f32::total_cmp);
    // total_cmp orders -0.0 before 0.0; both compare equal below, so either is fine.
    let median = sorted[127];
    let mut h = Hash256::ZERO;
    for (k, &v) in flat.iter().enumerate() {
        if v > median {
            h.set_bit(k);
        }
    }
    h
}

/// The eight dihedral transforms in the reference's order: original, rotate 90, rotate 180,
/// rotate 270, flip x, flip y, flip plus-1 (transpose), flip minus-1 (transverse). Each acts on
/// the DCT coefficients (sign changes of odd frequencies and a transpose), so all eight cost one
/// downsample.
pub fn dihedral(b: &[[f32; 16]; 16]) -> [[[f32; 16]; 16]; 8] {
    let mut out = [[[0f32; 16]; 16]; 8];
    for i in 0..16 {
        for j in 0..16 {
            let v = b[i][j];
            let neg = |odd: bool| if odd { v } else { -v };
            out[0][i][j] = v;
            out[1][j][i] = neg(j & 1 == 1);
            out[2][i][j] = if (i + j) & 1 == 1 { -v } else { v };
            out[3][j][i] = neg(i & 1 == 1);
            out[4][i][j] = neg(i & 1 == 1);
            out[5][i][j] = neg(j & 1 == 1);
            out[6][j][i] = v;
            out[7][j][i] = if (i + j) & 1 == 1 { -v } else { v };
        }
    }
    out
}

/// The reference's Jarosz window: half of the input pixels per output pixel, rounded up.
pub fn window_size(old: usize, new: usize) -> usize {
    old.div_ceil(2 * new)
}

/// The input index the reference samples for output `out` of `n_out` (pixel centres).
pub fn decimate_index(out: usize, n_in: usize, n_out: usize) -> usize {
    (((out as f64 + 0.5) * n_in as f64) / n_out as f64) as usize
}
