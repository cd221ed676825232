//! Untrusted media bytes to pixels and signals.
//!
//! This crate is the only one in ward that touches the bytes of an upload. Everything here
//! assumes the bytes are hostile: a file is read once, under a byte limit; the image format is
//! told by content, not by name; the declared dimensions are checked against a pixel limit
//! before a single pixel buffer is allocated; decoders run with allocation limits; every
//! failure is a [`MediaError`] that says what is wrong, never a panic.
//!
//! Conventions follow the hash lists platforms exchange (Meta's C++ library, Java,
//! python-threatexchange and HMA): every decoded pixel is hashed (no pre-resize), alpha is
//! dropped (not blended), grey, palette and CMYK images are converted to 8-bit RGB, and EXIF
//! orientation is **ignored** unless [`DecodeOptions::exif_orientation`] asks for what a viewer
//! sees.

pub mod av_worker;
pub mod derived;
mod digest;
mod error;
mod image_decode;
pub mod letterbox;
pub mod regions;
mod video;
pub mod video_regions;

pub use digest::Digests;
pub use error::MediaError;
pub use image_decode::{decode_image, DecodeOptions, RgbImage};
pub use video::{
    derived_vpdq, hash_media_file, hash_video_file, probe_video, set_default_av_worker,
    sniff_video, MediaSignals, VideoInfo, VideoOptions, VideoSignals, BANK_VIDEO_DERIVED,
    VIDEO_DERIVED_KINDS,
};

use std::path::Path;
use ward_pdq::{Hash256, Pdq};

/// The signals of one image file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageSignals {
    /// PDQ of every decoded pixel.
    pub pdq: Pdq,
    /// The eight dihedral PDQ hashes, when asked for.
    pub dihedral: Option<[Hash256; 8]>,
    /// MD5 and SHA-256 of the file's bytes.
    pub digests: Digests,
    /// Decoded width in pixels (after EXIF orientation, when applied).
    pub width: u32,
    /// Decoded height in pixels.
    pub height: u32,
    /// The format found in the bytes, e.g. `"jpeg"`.
    pub format: &'static str,
}

/// What to compute besides PDQ and the digests.
#[derive(Clone, Debug, Default)]
pub struct HashOptions {
    /// Decoding limits and conventions.
    pub decode: DecodeOptions,
    /// Also compute the eight dihedral hashes (one downsample serves all eight).
    pub dihedral: bool,
}

/// Reads `path` once (under the byte limit) and hashes it.
pub fn hash_file(path: &Path, opts: &HashOptions) -> Result<ImageSignals, MediaError> {
    let bytes = read_bounded(path, opts.decode.max_bytes)?;
    hash_bytes(&bytes, opts)
}

/// Hashes an image held in memory: digests of the bytes, then decode and PDQ.
pub fn hash_bytes(bytes: &[u8], opts: &HashOptions) -> Result<ImageSignals, MediaError> {
    if bytes.len() as u64 > opts.decode.max_bytes {
        return Err(MediaError::TooManyBytes {
            limit: opts.decode.max_bytes,
        });
    }
    let digests = Digests::of(bytes);
    let img = decode_image(bytes, &opts.decode)?;
    let px = img.pixels();
    let (pdq, dihedral) = if opts.dihedral {
        let d = ward_pdq::dihedral(&px);
        (
            Pdq {
                hash: d.hashes[0],
                quality: d.quality,
            },
            Some(d.hashes),
        )
    } else {
        (ward_pdq::pdq(&px), None)
    };
    Ok(ImageSignals {
        pdq,
        dihedral,
        digests,
        width: img.width,
        height: img.height,
        format: img.format,
    })
}

/// What [`hash_file_extra`] computes besides the plain signals.
#[derive(Clone, Debug, Default)]
pub struct ExtraOptions {
    /// Query-side normalisation: the whole image's and each region's eight dihedral hashes
    /// (see [`regions`]). `None`: none.
    pub regions: Option<regions::RegionOptions>,
    /// Bank-side augmentation: the derived hashes of [`derived`].
    pub derived: bool,
}

/// The extra hashes of one image (see [`ExtraOptions`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageExtras {
    /// Query candidates, the whole image first (empty unless asked for).
    pub candidates: Vec<regions::Candidate>,
    /// Derived hashes (empty unless asked for).
    pub derived: Vec<(derived::DerivedKind, Pdq)>,
}

/// Reads an image file once and hashes it as [`hash_file`] does, plus the extras asked for,
/// from the same decode.
pub fn hash_file_extra(
    path: &Path,
    opts: &HashOptions,
    extra: &ExtraOptions,
) -> Result<(ImageSignals, ImageExtras), MediaError> {
    let bytes = read_bounded(path, opts.decode.max_bytes)?;
    hash_bytes_extra(&bytes, opts, extra)
}

/// [`hash_file_extra`] of bytes in memory (an upload).
pub fn hash_bytes_extra(
    bytes: &[u8],
    opts: &HashOptions,
    extra: &ExtraOptions,
) -> Result<(ImageSignals, ImageExtras), MediaError> {
    if bytes.len() as u64 > opts.decode.max_bytes {
        return Err(MediaError::TooManyBytes {
            limit: opts.decode.max_bytes,
        });
    }
    let digests = Digests::of(bytes);
    let img = decode_image(bytes, &opts.decode)?;
    let mut extras = ImageExtras::default();
    if let Some(r) = &extra.regions {
        extras.candidates = regions::query_candidates(&img.rgb, img.width, img.height, r);
    }
    if extra.derived {
        extras.derived = derived::derived_hashes(&img.rgb, img.width, img.height);
    }
    // The candidates start with the whole image's eight transforms: no second downsample.
    let (pdq, dihedral) = match extras.candidates.get(..8) {
        Some(c) if c.iter().all(|c| c.region.is_none()) => {
            let d: [Hash256; 8] = std::array::from_fn(|k| c[k].hash);
            (
                Pdq {
                    hash: d[0],
                    quality: c[0].quality,
                },
                opts.dihedral.then_some(d),
            )
        }
        _ if opts.dihedral => {
            let d = ward_pdq::dihedral(&img.pixels());
            (
                Pdq {
                    hash: d.hashes[0],
                    quality: d.quality,
                },
                Some(d.hashes),
            )
        }
        _ => (ward_pdq::pdq(&img.pixels()), None),
    };
    let signals = ImageSignals {
        pdq,
        dihedral,
        digests,
        width: img.width,
        height: img.height,
        format: img.format,
    };
    Ok((signals, extras))
}

/// Whether the file's first bytes are an image format's (the test [`hash_media_file`] makes
/// before choosing the image path).
pub fn is_image_file(path: &Path) -> Result<bool, MediaError> {
    use std::io::Read;
    let io = |source| MediaError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut head = Vec::with_capacity(64);
    file.take(64).read_to_end(&mut head).map_err(io)?;
    Ok(!head.is_empty() && image::guess_format(&head).is_ok())
}

/// Reads a whole file, refusing one larger than `limit` without reading it all.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, MediaError> {
    use std::io::Read;
    let io = |source| MediaError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len > limit {
        return Err(MediaError::TooManyBytes { limit });
    }
    let mut bytes = Vec::with_capacity(len as usize);
    // `take` guards against a file that grows while it is read.
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(MediaError::TooManyBytes { limit });
    }
    Ok(bytes)
}
