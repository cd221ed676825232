//! Still images: format by content, limits before allocation, conversion to 8-bit RGB the way
//! the reference pipeline (Pillow's `convert("RGB")`) does it.

use crate::MediaError;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader};
use std::io::Cursor;

/// Limits and conventions for decoding untrusted images.
#[derive(Clone, Debug)]
pub struct DecodeOptions {
    /// Most pixels (width × height) an image may declare. Default 200 megapixels.
    pub max_pixels: u64,
    /// Most bytes a file may have. Default 256 MiB.
    pub max_bytes: u64,
    /// Apply the EXIF orientation (hash what a viewer sees). Off by default, as in the C++
    /// library, Java, python-threatexchange and HMA, whose hash lists ward must match.
    pub exif_orientation: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_pixels: 200_000_000,
            max_bytes: 256 << 20,
            exif_orientation: false,
        }
    }
}

/// A decoded image: tightly packed 8-bit RGB.
#[derive(Clone, Debug)]
pub struct RgbImage {
    /// `width * height * 3` bytes, row-major.
    pub rgb: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The format found in the bytes.
    pub format: &'static str,
}

impl RgbImage {
    /// The pixels as PDQ takes them.
    pub fn pixels(&self) -> ward_pdq::Pixels<'_> {
        // The buffer always matches its dimensions: it is built that way in `decode_image`.
        ward_pdq::Pixels::rgb(&self.rgb, self.width as usize, self.height as usize)
            .unwrap_or_else(|_| unreachable!("RgbImage invariant"))
    }
}

fn format_name(f: ImageFormat) -> &'static str {
    match f {
        ImageFormat::Jpeg => "jpeg",
        ImageFormat::Png => "png",
        ImageFormat::Gif => "gif",
        ImageFormat::WebP => "webp",
        ImageFormat::Bmp => "bmp",
        ImageFormat::Tiff => "tiff",
        ImageFormat::Pnm => "pnm",
        _ => "image",
    }
}

/// Decodes an image held in memory to 8-bit RGB under the limits of `opts`.
pub fn decode_image(bytes: &[u8], opts: &DecodeOptions) -> Result<RgbImage, MediaError> {
    if bytes.is_empty() {
        return Err(MediaError::Empty);
    }
    if bytes.len() as u64 > opts.max_bytes {
        return Err(MediaError::TooManyBytes {
            limit: opts.max_bytes,
        });
    }
    let format = image::guess_format(bytes).map_err(|_| {
        let hint = if bytes.iter().take(512).all(|b| b.is_ascii()) {
            ": it looks like text"
        } else {
            ""
        };
        MediaError::Unsupported(hint.to_owned())
    })?;
    let name = format_name(format);
    if !matches!(
        format,
        ImageFormat::Jpeg
            | ImageFormat::Png
            | ImageFormat::Gif
            | ImageFormat::WebP
            | ImageFormat::Bmp
            | ImageFormat::Tiff
            | ImageFormat::Pnm
    ) {
        return Err(MediaError::Unsupported(format!(": found {format:?}")));
    }
    if format == ImageFormat::Jpeg && jpeg_is_truncated(bytes) {
        return Err(MediaError::Truncated { format: name });
    }
    let map = |e: ImageError| map_error(e, name);

    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    // Room for the decoded RGBA (or 16-bit) buffer and a converted copy, no more.
    limits.max_alloc = Some(opts.max_pixels.saturating_mul(8).max(64 << 20));
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(map)?;
    let (w, h) = decoder.dimensions();
    let pixels = u64::from(w) * u64::from(h);
    if pixels > opts.max_pixels {
        return Err(MediaError::TooManyPixels {
            width: w,
            height: h,
            pixels,
            limit: opts.max_pixels,
        });
    }
    let orientation = if opts.exif_orientation {
        decoder.orientation().ok()
    } else {
        None
    };
    let mut img = DynamicImage::from_decoder(decoder).map_err(map)?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    let (width, height) = (img.width(), img.height());
    // `into_rgb8` drops alpha without blending and replicates grey, as Pillow's convert does.
    let rgb = match img {
        DynamicImage::ImageRgb8(buf) => buf.into_raw(),
        other => other.into_rgb8().into_raw(),
    };
    Ok(RgbImage {
        rgb,
        width,
        height,
        format: name,
    })
}

fn map_error(e: ImageError, format: &'static str) -> MediaError {
    match e {
        ImageError::Limits(l) => MediaError::TooMuchMemory(l.to_string()),
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            MediaError::Truncated { format }
        }
        ImageError::Unsupported(u) => MediaError::Unsupported(format!(": {u}")),
        other => {
            let reason = other.to_string();
            let lower = reason.to_lowercase();
            if lower.contains("eof")
                || lower.contains("end of file")
                || lower.contains("unexpected end")
            {
                MediaError::Truncated { format }
            } else {
                MediaError::Corrupt { format, reason }
            }
        }
    }
}

/// Whether a JPEG stops before its end-of-image marker.
///
/// Some JPEG decoders, zune-jpeg among them, fill the missing part of a truncated file with
/// grey and report success; a hash of that would be a hash of an image nobody uploaded. This
/// walks the marker segments (skipping APPn payloads, where an EXIF thumbnail carries its own
/// EOI) and the entropy-coded data (where `FF` is followed by `00` or a restart marker) and
/// answers whether a real EOI is reached.
fn jpeg_is_truncated(b: &[u8]) -> bool {
    let mut i = 2; // after SOI
    loop {
        // Find the next marker (fill bytes FF may repeat).
        while i < b.len() && b[i] != 0xFF {
            i += 1;
        }
        while i < b.len() && b[i] == 0xFF {
            i += 1;
        }
        let Some(&m) = b.get(i) else { return true };
        i += 1;
        match m {
            0xD9 => return false,
            0x01 | 0xD0..=0xD7 => continue,
            _ => {
                let Some(len) = b
                    .get(i..i + 2)
                    .map(|s| usize::from(u16::from_be_bytes([s[0], s[1]])))
                else {
                    return true;
                };
                i += len;
                if i > b.len() {
                    return true;
                }
                if m == 0xDA {
                    // Entropy-coded data: runs until a marker that is not stuffing or RSTn.
                    loop {
                        while i < b.len() && b[i] != 0xFF {
                            i += 1;
                        }
                        if i + 1 >= b.len() {
                            return true;
                        }
                        match b[i + 1] {
                            0x00 | 0xD0..=0xD7 | 0xFF => i += 1,
                            _ => break,
                        }
                    }
                }
            }
        }
    }
}
