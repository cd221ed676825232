//! A line-by-line port of the reference's downsampling (full-size float buffers, one
//! `box1DFloat` call per row and per column). It is slow and kept on purpose: it is the twin
//! the fast path in [`crate::fast`] is tested against, and the first thing to read when a
//! hash disagrees with Meta's.

use crate::stages::{decimate_index, window_size};

/// Luma of interleaved 8-bit RGB, `0.299 R + 0.587 G + 0.114 B` in `f32`, summed left to right
/// without fused multiply-add, exactly as the reference's `fillFloatLumaFromRGB`.
#[inline(always)]
pub fn luma(r: u8, g: u8, b: u8) -> f32 {
    0.299f32 * f32::from(r) + 0.587f32 * f32::from(g) + 0.114f32 * f32::from(b)
}

/// The reference's `box1DFloat`: a running-sum box filter whose window is cut short at both
/// ends, reading `len` values `stride` apart.
pub fn box1d(input: &[f32], output: &mut [f32], len: usize, stride: usize, window: usize) {
    let half = (window + 2) / 2;
    let (p1, p2, p3, p4) = (half - 1, window - half + 1, len - window, half - 1);
    let (mut li, mut ri, mut oi) = (0, 0, 0);
    let mut sum = 0f32;
    let mut cur = 0usize;
    for _ in 0..p1 {
        sum += input[ri];
        cur += 1;
        ri += stride;
    }
    for _ in 0..p2 {
        sum += input[ri];
        cur += 1;
        output[oi] = sum / cur as f32;
        ri += stride;
        oi += stride;
    }
    for _ in 0..p3 {
        sum += input[ri];
        sum -= input[li];
        output[oi] = sum / cur as f32;
        li += stride;
        ri += stride;
        oi += stride;
    }
    for _ in 0..p4 {
        sum -= input[li];
        cur -= 1;
        output[oi] = sum / cur as f32;
        li += stride;
        oi += stride;
    }
}

/// Two passes of (rows, then columns) box filtering in place on `buf1`, then the 64×64
/// centre-sampled decimation: the reference's `jaroszFilterFloat` + `decimateFloat`.
pub fn downsample(buf1: &mut [f32], rows: usize, cols: usize) -> [[f32; 64]; 64] {
    let wr = window_size(cols, 64);
    let wc = window_size(rows, 64);
    let mut buf2 = vec![0f32; rows * cols];
    for _ in 0..2 {
        for i in 0..rows {
            box1d(&buf1[i * cols..], &mut buf2[i * cols..], cols, 1, wr);
        }
        for j in 0..cols {
            box1d(&buf2[j..], &mut buf1[j..], rows, cols, wc);
        }
    }
    let mut out = [[0f32; 64]; 64];
    for (oi, row) in out.iter_mut().enumerate() {
        let ii = decimate_index(oi, rows, 64);
        for (oj, v) in row.iter_mut().enumerate() {
            *v = buf1[ii * cols + decimate_index(oj, cols, 64)];
        }
    }
    out
}
