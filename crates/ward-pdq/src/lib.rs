//! PDQ, Meta's perceptual image hash, bit-identical to the C++ reference.
//!
//! PDQ turns an image into 256 bits: luma, a two-pass Jarosz tent filter (box filters along
//! rows and columns, twice), a 64×64 decimation, the 16×16 low-frequency block of a DCT, and one
//! bit per coefficient for "above the median". A quality score (0–100) counts strong gradients;
//! the field ignores hashes below 50.
//!
//! The one design decision of this crate: **the float arithmetic is the reference's, in the
//! reference's order**, because shared hash lists are made with Meta's code and a sum taken in
//! another order flips bits. Speed comes from doing that same arithmetic in a different
//! schedule (see [`fast`]), never from a different formula. The straightforward port in
//! [`mod@reference`] is kept as the twin every fast path is tested against.
//!
//! No I/O, no decoders: callers hand in pixels.
//!
//! ```
//! use ward_pdq::{pdq_rgb, Hash256};
//! let (w, h) = (64, 48);
//! let rgb: Vec<u8> = (0..w * h * 3).map(|i| ((i * 7919) % 251) as u8).collect();
//! let pdq = pdq_rgb(&rgb, w, h).unwrap();
//! assert_eq!(pdq.hash.to_hex().len(), 64);
//! let again: Hash256 = pdq.hash.to_hex().parse().unwrap();
//! assert_eq!(again.distance(&pdq.hash), 0);
//! ```

pub mod fast;
mod hash;
pub mod reference;
pub mod stages;
pub mod vpdq;
pub mod yuv;

pub use hash::{Hash256, ParseHashError};
use stages::MIN_HASHABLE_DIM;
pub use yuv::Yuv420;

/// A PDQ hash with its quality (0–100; the field skips hashes under 50).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pdq {
    /// The 256 bits.
    pub hash: Hash256,
    /// Gradient-based quality, 0..=100.
    pub quality: u8,
}

/// The eight dihedral hashes of one image, from one downsample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dihedral {
    /// In the reference's order: original, rotate 90, rotate 180, rotate 270, flip x
    /// (top-bottom), flip y (mirror), flip plus-1 (transpose), flip minus-1 (transverse).
    pub hashes: [Hash256; 8],
    /// The quality, shared by all eight.
    pub quality: u8,
}

/// The pixels handed to PDQ do not describe an image. Always the caller's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PdqError {
    /// The buffer length is not `width * height * channels`.
    #[error(
        "pixel buffer has {got} bytes, {width}x{height} with {channels} channel(s) needs {want}"
    )]
    BufferSize {
        /// Bytes given.
        got: usize,
        /// Bytes needed.
        want: usize,
        /// Width in pixels.
        width: usize,
        /// Height in pixels.
        height: usize,
        /// Bytes per pixel.
        channels: usize,
    },
}

/// A borrowed, tightly packed 8-bit image: RGB (3 bytes a pixel) or grey (1 byte).
#[derive(Clone, Copy, Debug)]
pub struct Pixels<'a> {
    data: &'a [u8],
    width: usize,
    height: usize,
    channels: usize,
}

impl<'a> Pixels<'a> {
    /// Interleaved RGB, row-major, no padding.
    pub fn rgb(data: &'a [u8], width: usize, height: usize) -> Result<Self, PdqError> {
        Self::new(data, width, height, 3)
    }

    /// One byte of grey a pixel. The reference hashes grey with luma equal to the grey value
    /// (`fillFloatLumaFromGrey`), which is not bit-identical to hashing grey expanded to RGB.
    pub fn grey(data: &'a [u8], width: usize, height: usize) -> Result<Self, PdqError> {
        Self::new(data, width, height, 1)
    }

    fn new(data: &'a [u8], width: usize, height: usize, channels: usize) -> Result<Self, PdqError> {
        let want = width
            .checked_mul(height)
            .and_then(|n| n.checked_mul(channels));
        if want != Some(data.len()) {
            return Err(PdqError::BufferSize {
                got: data.len(),
                want: want.unwrap_or(usize::MAX),
                width,
                height,
                channels,
            });
        }
        Ok(Pixels {
            data,
            width,
            height,
            channels,
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

    /// The full-size float luma, computed pixel by pixel with [`reference::luma`] (the slow
    /// twin of the table-driven rows the fast path uses).
    pub fn luma(&self) -> Vec<f32> {
        if self.channels == 3 {
            self.data
                .chunks_exact(3)
                .map(|p| reference::luma(p[0], p[1], p[2]))
                .collect()
        } else {
            self.data.iter().map(|&v| f32::from(v)).collect()
        }
    }
}

impl fast::LumaRows for Pixels<'_> {
    fn cols(&self) -> usize {
        self.width
    }
    fn rows(&self) -> usize {
        self.height
    }
    #[inline(always)]
    fn fill(&self, r: usize, out: &mut [f32]) {
        let w = self.width;
        if self.channels == 3 {
            // The three products come from tables holding exactly the `f32` products the
            // reference computes; only the two adds (in the reference's order) remain per pixel.
            let t = luma_tables();
            let src = &self.data[r * w * 3..(r + 1) * w * 3];
            for (o, p) in out.iter_mut().zip(src.chunks_exact(3)) {
                *o = t[0][usize::from(p[0])] + t[1][usize::from(p[1])] + t[2][usize::from(p[2])];
            }
        } else {
            let src = &self.data[r * w..(r + 1) * w];
            for (o, &p) in out.iter_mut().zip(src) {
                *o = f32::from(p);
            }
        }
    }
}

/// `0.299 × v`, `0.587 × v` and `0.114 × v` in `f32` for every byte value `v`.
fn luma_tables() -> &'static [[f32; 256]; 3] {
    static T: std::sync::OnceLock<[[f32; 256]; 3]> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let mut t = [[0f32; 256]; 3];
        for v in 0..=255u8 {
            t[0][usize::from(v)] = 0.299f32 * f32::from(v);
            t[1][usize::from(v)] = 0.587f32 * f32::from(v);
            t[2][usize::from(v)] = 0.114f32 * f32::from(v);
        }
        t
    })
}

/// The 16×16 DCT block and quality of an image, or `None` below the minimum size.
fn dct(src: &impl fast::LumaRows, skip_filter_at_64: bool) -> Option<([[f32; 16]; 16], u8)> {
    let (w, h) = (src.cols(), src.rows());
    if w < MIN_HASHABLE_DIM || h < MIN_HASHABLE_DIM {
        return None;
    }
    let a = if skip_filter_at_64 && w == 64 && h == 64 {
        // The reference's single-hash entry point takes a 64×64 image as already downsampled
        // (its video path relies on it); its dihedral entry point does not.
        let mut a = [[0f32; 64]; 64];
        for (r, row) in a.iter_mut().enumerate() {
            src.fill(r, row);
        }
        a
    } else {
        fast::downsample(src)
    };
    let q = stages::quality(&a);
    Some((stages::dct64_to_16(&a), q))
}

/// The hash and quality of a DCT block; the zero hash of quality 0 for `None`.
fn from_dct(d: Option<([[f32; 16]; 16], u8)>) -> Pdq {
    match d {
        Some((b, quality)) => Pdq {
            hash: stages::bits(&b),
            quality,
        },
        None => Pdq {
            hash: Hash256::ZERO,
            quality: 0,
        },
    }
}

/// PDQ of an image, as the reference's `pdqHash256FromFloatLuma`.
pub fn pdq(pixels: &Pixels<'_>) -> Pdq {
    from_dct(dct(pixels, true))
}

/// PDQ of a 4:2:0 video frame, equal bit for bit to [`pdq`] of the RGB24 that libswscale's
/// x86 unscaled converter makes of it (see [`mod@yuv`]).
pub fn pdq_yuv420(frame: &Yuv420<'_>) -> Pdq {
    from_dct(dct(frame, true))
}

/// The eight dihedral hashes, as the reference's `pdqDihedralHash256esFromFloatLuma`.
pub fn dihedral(pixels: &Pixels<'_>) -> Dihedral {
    match dct(pixels, false) {
        Some((b, quality)) => {
            let t = stages::dihedral(&b);
            Dihedral {
                hashes: std::array::from_fn(|i| stages::bits(&t[i])),
                quality,
            }
        }
        None => Dihedral {
            hashes: [Hash256::ZERO; 8],
            quality: 0,
        },
    }
}

/// PDQ of tightly packed RGB pixels.
pub fn pdq_rgb(rgb: &[u8], width: usize, height: usize) -> Result<Pdq, PdqError> {
    Ok(pdq(&Pixels::rgb(rgb, width, height)?))
}
