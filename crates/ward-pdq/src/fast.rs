//! The fast downsample: the reference's arithmetic, reorganised so that no full-size float
//! buffer is ever made.
//!
//! The reference runs four box-filter passes over full-size float copies of the image (rows,
//! columns, rows, columns) and then keeps 64×64 of the result. Every output value depends only
//! on the order of the additions inside its own running sum, so the same values come out of a
//! streaming pipeline that works on a few rows at a time while they are in cache:
//!
//! 1. luma for a block of eight rows, then pass 1 (along rows) on them: the eight rows are
//!    interleaved (eight floats a column) so that their eight independent running sums are
//!    one vector;
//! 2. pass 2 (along columns) keeps one running sum per column, fed from a ring of pass-1 rows
//!    just long enough for the window; its adds are independent across columns (vectorised);
//! 3. pass 3 (along rows) on blocks of pass-2 rows as pass 1, keeping only the 64 sampled
//!    columns;
//! 4. pass 4 (along columns) on those 64 columns, their 64 running sums side by side,
//!    dividing and keeping only the 64 sampled rows.
//!
//! Divisions are done as the reference does them (`sum / count`), on the same `f32` values.

use crate::stages::{decimate_index, window_size};

/// Rows processed together in the row passes.
const BLOCK: usize = 8;

/// Where the luma of row `r` comes from: `fill(r, out)` writes `out.len()` values.
pub trait LumaRows {
    /// Width in pixels.
    fn cols(&self) -> usize;
    /// Height in pixels.
    fn rows(&self) -> usize;
    /// Writes the luma of row `r` into `out` (of length `cols()`).
    fn fill(&self, r: usize, out: &mut [f32]);
}

/// The count each output of a box filter is divided by, per output index: it grows over the
/// first half window, stays at `window`, and shrinks over the last half window.
fn divisors(len: usize, window: usize) -> Vec<f32> {
    let half = (window + 2) / 2;
    let mut d = Vec::with_capacity(len);
    let mut cur = half - 1;
    for _ in 0..window - half + 1 {
        cur += 1;
        d.push(cur as f32);
    }
    for _ in 0..len - window {
        d.push(cur as f32);
    }
    for _ in 0..half - 1 {
        cur -= 1;
        d.push(cur as f32);
    }
    d
}

/// The running sums of the reference's `box1d` along each of up to `BLOCK` rows of `input`
/// (row-major, `cols` wide; missing rows count as zeros), with the rows interleaved first
/// (`BLOCK` floats a column) so that the `BLOCK` independent running sums are one vector
/// register: the same adds and subtractions on the same values in the same order per row, a
/// quarter of the instructions.
#[inline(always)]
fn box_sums_block(input: &[f32], cols: usize, window: usize) -> Vec<[f32; BLOCK]> {
    let mut t = vec![[0f32; BLOCK]; cols];
    for (k, row) in input.chunks_exact(cols).take(BLOCK).enumerate() {
        for (tx, &v) in t.iter_mut().zip(row) {
            tx[k] = v;
        }
    }
    let mut o = vec![[0f32; BLOCK]; cols];
    let half = (window + 2) / 2;
    let (p1, p2, p3, p4) = (half - 1, window - half + 1, cols - window, half - 1);
    let mut s = [0f32; BLOCK];
    let (mut li, mut ri, mut oi) = (0usize, 0usize, 0usize);
    for _ in 0..p1 {
        for k in 0..BLOCK {
            s[k] += t[ri][k];
        }
        ri += 1;
    }
    for _ in 0..p2 {
        for k in 0..BLOCK {
            s[k] += t[ri][k];
        }
        o[oi] = s;
        ri += 1;
        oi += 1;
    }
    for _ in 0..p3 {
        for k in 0..BLOCK {
            s[k] += t[ri][k];
            s[k] -= t[li][k];
        }
        o[oi] = s;
        li += 1;
        ri += 1;
        oi += 1;
    }
    for _ in 0..p4 {
        for k in 0..BLOCK {
            s[k] -= t[li][k];
        }
        o[oi] = s;
        li += 1;
        oi += 1;
    }
    o
}

/// Pass 1 or 3 on `n <= BLOCK` rows of `input`: `out(k, i, value)` receives the filtered
/// value (the running sum divided by its count, as the reference's `box1d`) of row `k` at
/// column `wanted[i]` (`None`: every column, `i` being the column).
#[inline(always)]
fn box_rows(
    input: &[f32],
    n: usize,
    (cols, window): (usize, usize),
    div: &[f32],
    wanted: Option<&[usize]>,
    mut out: impl FnMut(usize, usize, f32),
) {
    // A short last block runs as a full one; the lanes past `n` are never read.
    let o = box_sums_block(&input[..n * cols], cols, window);
    match wanted {
        None => {
            for k in 0..n {
                for (j, (ox, d)) in o.iter().zip(div).enumerate() {
                    out(k, j, ox[k] / d);
                }
            }
        }
        Some(js) => {
            for k in 0..n {
                for (i, &j) in js.iter().enumerate() {
                    let (ox, d) = (&o[j], div[j]);
                    out(k, i, ox[k] / d);
                }
            }
        }
    }
}

/// The 64×64 downsample of the image that `src` describes, equal bit for bit to
/// [`crate::reference::downsample`] on the same luma.
///
/// On x86-64 CPUs with AVX2 the same code is compiled a second time for it (twice the
/// vector width in the luma and column passes); the arithmetic, and so every bit, is the
/// same: no fused multiply-add, no reassociation.
pub fn downsample(src: &impl LumaRows) -> [[f32; 64]; 64] {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        #[allow(unsafe_code)]
        // SAFETY: the CPU has AVX2, checked just above; that is the only requirement of a
        // `#[target_feature(enable = "avx2")]` function.
        return unsafe { downsample_avx2(src) };
    }
    downsample_portable(src)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn downsample_avx2(src: &impl LumaRows) -> [[f32; 64]; 64] {
    downsample_body(src)
}

/// [`downsample`] for any CPU (baseline instructions only).
pub fn downsample_portable(src: &impl LumaRows) -> [[f32; 64]; 64] {
    downsample_body(src)
}

#[inline(always)]
fn downsample_body(src: &impl LumaRows) -> [[f32; 64]; 64] {
    let (rows, cols) = (src.rows(), src.cols());
    let wr = window_size(cols, 64);
    let wc = window_size(rows, 64);
    let div_r = divisors(cols, wr);
    let div_c = divisors(rows, wc);
    let sample_cols: Vec<usize> = (0..64).map(|j| decimate_index(j, cols, 64)).collect();

    // Pass-1 rows live in a ring long enough for the column window plus one block; a
    // multiple of BLOCK, so that a block never wraps.
    let cap = (wc + BLOCK).div_ceil(BLOCK) * BLOCK;
    let mut ring = vec![0f32; cap * cols];
    let mut luma = vec![0f32; BLOCK * cols];
    let mut produced = 0usize;
    // Functions, not closures, so that they are compiled into the AVX2 instance too.
    #[inline(always)]
    fn produce(
        src: &impl LumaRows,
        luma: &mut [f32],
        ring: &mut [f32],
        produced: &mut usize,
        (cap, wr): (usize, usize),
        div_r: &[f32],
    ) {
        let (rows, cols) = (src.rows(), src.cols());
        let n = BLOCK.min(rows - *produced);
        for k in 0..n {
            src.fill(*produced + k, &mut luma[k * cols..(k + 1) * cols]);
        }
        let slot = (*produced % cap) * cols;
        let out = &mut ring[slot..slot + n * cols];
        box_rows(luma, n, (cols, wr), div_r, None, |k, j, v| {
            out[k * cols + j] = v
        });
        *produced += n;
    }

    // Pass 2 state: one running sum per column; its outputs gather in a block for pass 3.
    let mut acc = vec![0f32; cols];
    let mut c1 = vec![0f32; BLOCK * cols];
    let mut c1_rows = 0usize;
    let mut r2 = vec![0f32; rows * 64];
    let mut r2_rows = 0usize;
    #[inline(always)]
    fn flush(
        (c1, n): (&[f32], usize),
        (r2, r2_rows): (&mut [f32], &mut usize),
        (cols, wr): (usize, usize),
        sample_cols: &[usize],
        div_r: &[f32],
    ) {
        let base = *r2_rows * 64;
        box_rows(c1, n, (cols, wr), div_r, Some(sample_cols), |k, i, v| {
            r2[base + k * 64 + i] = v
        });
        *r2_rows += n;
    }

    let half = (wc + 2) / 2;
    let (p1, p2, p3, p4) = (half - 1, wc - half + 1, rows - wc, half - 1);
    let (mut li, mut ri, mut oi) = (0usize, 0usize, 0usize);
    let row_at = |r: usize| (r % cap) * cols..(r % cap + 1) * cols;
    for step in 0..p1 + p2 + p3 + p4 {
        let add = step < p1 + p2 + p3;
        let sub = step >= p1 + p2;
        if add && ri >= produced {
            produce(src, &mut luma, &mut ring, &mut produced, (cap, wr), &div_r);
        }
        match (add, sub) {
            (true, false) => {
                let a = &ring[row_at(ri)];
                acc.iter_mut().zip(a).for_each(|(s, &x)| *s += x);
            }
            (true, true) => {
                let (a, b) = (&ring[row_at(ri)], &ring[row_at(li)]);
                for ((s, &x), &y) in acc.iter_mut().zip(a).zip(b) {
                    *s += x;
                    *s -= y;
                }
            }
            _ => {
                let b = &ring[row_at(li)];
                acc.iter_mut().zip(b).for_each(|(s, &y)| *s -= y);
            }
        }
        if add {
            ri += 1;
        }
        if sub {
            li += 1;
        }
        if step >= p1 {
            let d = div_c[oi];
            let dst = &mut c1[c1_rows * cols..(c1_rows + 1) * cols];
            dst.iter_mut().zip(&acc).for_each(|(o, &s)| *o = s / d);
            c1_rows += 1;
            oi += 1;
            if c1_rows == BLOCK {
                flush(
                    (&c1, BLOCK),
                    (&mut r2, &mut r2_rows),
                    (cols, wr),
                    &sample_cols,
                    &div_r,
                );
                c1_rows = 0;
            }
        }
    }
    if c1_rows > 0 {
        flush(
            (&c1, c1_rows),
            (&mut r2, &mut r2_rows),
            (cols, wr),
            &sample_cols,
            &div_r,
        );
    }

    // Pass 4 on the 64 sampled columns, all 64 running sums side by side (one sum per column,
    // as the reference's `box1d` down that column), keeping only the 64 sampled rows.
    let sample_rows: Vec<usize> = (0..64).map(|i| decimate_index(i, rows, 64)).collect();
    let mut out = [[0f32; 64]; 64];
    #[inline(always)]
    fn emit(
        acc: &[f32; 64],
        oi: usize,
        (sample_rows, next): (&[usize], &mut usize),
        div_c: &[f32],
        out: &mut [[f32; 64]; 64],
    ) {
        while *next < 64 && sample_rows[*next] == oi {
            let d = div_c[oi];
            for (o, &a) in out[*next].iter_mut().zip(acc) {
                *o = a / d;
            }
            *next += 1;
        }
    }
    let row64 = |r: usize| -> &[f32; 64] { r2[r * 64..r * 64 + 64].try_into().expect("64") };
    let mut acc = [0f32; 64];
    let mut next = 0usize;
    // The reference's four phases: add; add and output; add, subtract and output; subtract
    // and output. `step_out` is the output row.
    let (mut li, mut ri, mut step_out) = (0usize, 0usize, 0usize);
    for _ in 0..p1 {
        let a = row64(ri);
        for j in 0..64 {
            acc[j] += a[j];
        }
        ri += 1;
    }
    for _ in 0..p2 {
        let a = row64(ri);
        for j in 0..64 {
            acc[j] += a[j];
        }
        emit(&acc, step_out, (&sample_rows, &mut next), &div_c, &mut out);
        ri += 1;
        step_out += 1;
    }
    for _ in 0..p3 {
        let (a, b) = (row64(ri), row64(li));
        for j in 0..64 {
            acc[j] += a[j];
            acc[j] -= b[j];
        }
        emit(&acc, step_out, (&sample_rows, &mut next), &div_c, &mut out);
        li += 1;
        ri += 1;
        step_out += 1;
    }
    for _ in 0..p4 {
        let b = row64(li);
        for j in 0..64 {
            acc[j] -= b[j];
        }
        emit(&acc, step_out, (&sample_rows, &mut next), &div_c, &mut out);
        li += 1;
        step_out += 1;
    }
    out
}
