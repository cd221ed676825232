//! What can go wrong with a media file, in words a user can act on.

use std::path::PathBuf;

/// Why a media file could not be hashed. Every variant but `Io` is the file's fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The file has no bytes.
    #[error("empty file")]
    Empty,
    /// The file is larger than the byte limit.
    #[error("file is larger than the limit of {limit} bytes (raise it with --max-bytes)")]
    TooManyBytes {
        /// The limit in force.
        limit: u64,
    },
    /// The bytes are not an image format ward decodes.
    #[error("not a supported image (JPEG, PNG, GIF, WebP, BMP, TIFF, PNM){0}")]
    Unsupported(String),
    /// The image declares more pixels than the limit allows; nothing was allocated.
    #[error("image is {width}x{height} = {pixels} pixels, over the limit of {limit} (raise it with --max-pixels)")]
    TooManyPixels {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// width × height.
        pixels: u64,
        /// The limit in force.
        limit: u64,
    },
    /// The file ends before the image does.
    #[error("truncated {format}: the file ends before the image data does")]
    Truncated {
        /// The format found in the header.
        format: &'static str,
    },
    /// The decoder found the data corrupt.
    #[error("corrupt {format}: {reason}")]
    Corrupt {
        /// The format found in the header.
        format: &'static str,
        /// The decoder's words.
        reason: String,
    },
    /// Decoding would need more memory than allowed.
    #[error("decoding needs more memory than the limit allows: {0}")]
    TooMuchMemory(String),
}
