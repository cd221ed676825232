//! PDQ straight from 4:2:0 video planes, with the RGB that libswscale would have made.
//!
//! The reference's vPDQ converts every decoded frame to RGB24 with libswscale (`SWS_AREA`, no
//! colour-space override) and hashes that. For an 8-bit `yuv420p` frame of even height at the
//! same size, libswscale takes its unscaled special converter, and on x86 that is the MMX/SSSE3
//! routine: 16-bit fixed point, no dithering, chroma shared by each 2×2 block. Its arithmetic
//! is, per pixel (BT.601 limited range, `pmulhw` = `(a × b) >> 16`):
//!
//! ```text
//! y = pmulhw((Y << 3) - 128, 9539)
//! u = (U << 3) - 1024,  v = (V << 3) - 1024
//! R = clamp(y + pmulhw(v, 13075)),  B = clamp(y + pmulhw(u, 16525)),
//! G = clamp(y + pmulhw(u, -3209) + pmulhw(v, -6660))
//! ```
//!
//! the constants being libswscale's own (`ff_yuv2rgb_c_init_tables`: the ITU-R 601
//! coefficients scaled by 255/219 and 2^13, rounded to 16 bits). ward's test checks this
//! formula against the installed FFmpeg on all 2^24 (Y, U, V) triples, and video hashes made
//! from the planes against those made from FFmpeg's RGB24.
//!
//! Hashing from the planes halves the bytes that travel from the decoder (1.5 bytes a pixel
//! instead of 3) and folds the colour conversion into the luma pass of PDQ: RGB is never
//! stored. The luma is the reference's `0.299 R + 0.587 G + 0.114 B` in `f32`, the same
//! products added in the same order as for RGB input, so the hash is bit-identical.
//!
//! Only for that case: other pixel formats, odd heights (libswscale then takes its general
//! path) and other architectures (other SIMD, other rounding) go through RGB24 from FFmpeg.

use crate::fast::LumaRows;
use crate::PdqError;

const Y_OFFSET: i16 = 128;
const Y_COEFF: i16 = 9539;
const UV_OFFSET: i16 = 1024;
const VR_COEFF: i16 = 13075;
const UB_COEFF: i16 = 16525;
const UG_COEFF: i16 = -3209;
const VG_COEFF: i16 = -6660;

/// `pmulhw`: the high 16 bits of the signed 32-bit product.
#[inline(always)]
fn mulhi(a: i16, b: i16) -> i16 {
    ((i32::from(a) * i32::from(b)) >> 16) as i16
}

#[inline(always)]
fn clamp_u8(v: i16) -> u8 {
    v.clamp(0, 255) as u8
}

/// The luma term of a Y byte.
#[inline(always)]
fn y_term(y: u8) -> i16 {
    mulhi((i16::from(y) << 3) - Y_OFFSET, Y_COEFF)
}

/// The (red, green, blue) chroma terms of a U and a V byte.
#[inline(always)]
fn chroma_terms(u: u8, v: u8) -> (i16, i16, i16) {
    let u = (i16::from(u) << 3) - UV_OFFSET;
    let v = (i16::from(v) << 3) - UV_OFFSET;
    (
        mulhi(v, VR_COEFF),
        mulhi(u, UG_COEFF) + mulhi(v, VG_COEFF),
        mulhi(u, UB_COEFF),
    )
}

/// One pixel's RGB, as libswscale's x86 unscaled `yuv420p` → `rgb24` converter makes it.
pub fn yuv_to_rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
    let yy = y_term(y);
    let (r, g, b) = chroma_terms(u, v);
    [clamp_u8(yy + r), clamp_u8(yy + g), clamp_u8(yy + b)]
}

/// A borrowed 8-bit 4:2:0 frame, planar and tightly packed as FFmpeg's `yuv420p` rawvideo:
/// Y (`width × height`), then U and V (`⌈width/2⌉ × ⌈height/2⌉` each).
#[derive(Clone, Copy, Debug)]
pub struct Yuv420<'a> {
    y: &'a [u8],
    u: &'a [u8],
    v: &'a [u8],
    width: usize,
    height: usize,
}

impl<'a> Yuv420<'a> {
    /// The byte length of a packed frame of this size (`None` on overflow).
    pub fn frame_len(width: usize, height: usize) -> Option<usize> {
        let c = width.div_ceil(2).checked_mul(height.div_ceil(2))?;
        width.checked_mul(height)?.checked_add(c.checked_mul(2)?)
    }

    /// Splits a packed frame into its planes; the length must be [`Yuv420::frame_len`].
    pub fn new(data: &'a [u8], width: usize, height: usize) -> Result<Self, PdqError> {
        let want = Self::frame_len(width, height);
        if want != Some(data.len()) {
            return Err(PdqError::BufferSize {
                got: data.len(),
                want: want.unwrap_or(usize::MAX),
                width,
                height,
                channels: 0,
            });
        }
        let luma = width * height;
        let chroma = width.div_ceil(2) * height.div_ceil(2);
        let (y, rest) = data.split_at(luma);
        let (u, v) = rest.split_at(chroma);
        Ok(Yuv420 {
            y,
            u,
            v,
            width,
            height,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The whole frame as interleaved RGB24 (for callers that need the picture itself, such as
    /// border detection on a few sampled frames).
    pub fn to_rgb(&self) -> Vec<u8> {
        let (w, cw) = (self.width, self.width.div_ceil(2));
        let mut out = Vec::with_capacity(w * self.height * 3);
        for r in 0..self.height {
            let yrow = &self.y[r * w..(r + 1) * w];
            let c = (r / 2) * cw;
            for (x, &yv) in yrow.iter().enumerate() {
                out.extend_from_slice(&yuv_to_rgb(yv, self.u[c + x / 2], self.v[c + x / 2]));
            }
        }
        out
    }
}

impl LumaRows for Yuv420<'_> {
    fn cols(&self) -> usize {
        self.width
    }

    fn rows(&self) -> usize {
        self.height
    }

    #[inline(always)]
    fn fill(&self, r: usize, out: &mut [f32]) {
        let (w, cw) = (self.width, self.width.div_ceil(2));
        let yrow = &self.y[r * w..(r + 1) * w];
        let c = (r / 2) * cw;
        let (urow, vrow) = (&self.u[c..c + cw], &self.v[c..c + cw]);
        // Fixed-size chunks (64 pixels, then 16, then single ones): the chroma terms spread to
        // every pixel first, then one straight-line pass the compiler turns into vector code.
        let mut x = luma_chunks::<64>(yrow, urow, vrow, out, 0);
        x = luma_chunks::<16>(yrow, urow, vrow, out, x);
        for x in x..w {
            let (a, b, d) = chroma_terms(urow[x / 2], vrow[x / 2]);
            out[x] = luma_of(y_term(yrow[x]), a, b, d);
        }
    }
}

/// Fills `out` from column `x0` (even) in whole chunks of `C` pixels; returns where it
/// stopped.
#[inline(always)]
fn luma_chunks<const C: usize>(
    yrow: &[u8],
    urow: &[u8],
    vrow: &[u8],
    out: &mut [f32],
    x0: usize,
) -> usize {
    let mut x = x0;
    while x + C <= yrow.len() {
        let ys = &yrow[x..x + C];
        let (us, vs) = (&urow[x / 2..x / 2 + C / 2], &vrow[x / 2..x / 2 + C / 2]);
        let os = &mut out[x..x + C];
        let (mut er, mut eg, mut eb) = ([0i16; C], [0i16; C], [0i16; C]);
        for j in 0..C / 2 {
            let (a, b, d) = chroma_terms(us[j], vs[j]);
            er[2 * j] = a;
            er[2 * j + 1] = a;
            eg[2 * j] = b;
            eg[2 * j + 1] = b;
            eb[2 * j] = d;
            eb[2 * j + 1] = d;
        }
        for i in 0..C {
            os[i] = luma_of(y_term(ys[i]), er[i], eg[i], eb[i]);
        }
        x += C;
    }
    x
}

/// The reference's luma of the pixel with luma term `y` and chroma terms (`r`, `g`, `b`):
/// its products, in its order, `(0.299 R + 0.587 G) + 0.114 B`.
#[inline(always)]
fn luma_of(y: i16, r: i16, g: i16, b: i16) -> f32 {
    let rr = f32::from(clamp_u8(y + r));
    let gg = f32::from(clamp_u8(y + g));
    let bb = f32::from(clamp_u8(y + b));
    0.299f32 * rr + 0.587f32 * gg + 0.114f32 * bb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_len_counts_rounded_up_chroma() {
        assert_eq!(Yuv420::frame_len(4, 4), Some(16 + 2 * 4));
        assert_eq!(Yuv420::frame_len(5, 3), Some(15 + 2 * 6));
        assert!(Yuv420::new(&[0u8; 23], 4, 4).is_err());
    }

    #[test]
    fn rows_equal_the_rgb_path() {
        // Any frame (chunks of 64 and 16 and a tail): its luma rows from the planes equal the rows of its
        // RGB conversion.
        let (w, h) = (229usize, 10usize);
        let n = Yuv420::frame_len(w, h).unwrap();
        let data: Vec<u8> = (0..n).map(|i| ((i * 7919 + 13) % 256) as u8).collect();
        let f = Yuv420::new(&data, w, h).unwrap();
        let rgb = f.to_rgb();
        let px = crate::Pixels::rgb(&rgb, w, h).unwrap();
        let (mut a, mut b) = (vec![0f32; w], vec![0f32; w]);
        for r in 0..h {
            f.fill(r, &mut a);
            px.fill(r, &mut b);
            assert_eq!(a, b, "row {r}");
        }
        assert_eq!(crate::pdq_yuv420(&f), crate::pdq(&px));
    }

    #[test]
    fn known_colours_convert_as_libswscale() {
        // Limited-range black, white and grey, and the BT.601 primaries: what FFmpeg 5.1's
        // libswscale printed for these 2×2 frames (the primaries land one or two short of 255,
        // the fixed point's truncation).
        assert_eq!(yuv_to_rgb(16, 128, 128), [0, 0, 0]);
        assert_eq!(yuv_to_rgb(235, 128, 128), [255, 255, 255]);
        assert_eq!(yuv_to_rgb(126, 128, 128), [128, 128, 128]);
        assert_eq!(yuv_to_rgb(81, 90, 240), [253, 0, 0]);
        assert_eq!(yuv_to_rgb(145, 54, 34), [0, 254, 0]);
        assert_eq!(yuv_to_rgb(41, 240, 110), [0, 0, 254]);
    }
}
