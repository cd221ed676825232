//! What can go wrong with a media file, in words a user can act on.

use std::path::PathBuf;

/// Why a media file could not be hashed. Every variant but `Io` and `FfmpegMissing` is the
/// file's fault.
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
    /// The path is not a regular file (a folder, FIFO or device): media is read from files only,
    /// so that a never-ending stream cannot hold a worker.
    #[error("not a regular file")]
    NotAFile,
    /// The bytes are neither an image nor a video container ward reads.
    #[error("not a supported image (JPEG, PNG, GIF, WebP, BMP, TIFF, PNM) or video (MP4/MOV, Matroska/WebM, AVI, FLV, MPEG-TS/PS, ASF, Ogg){0}")]
    NotMedia(String),
    /// ffprobe or ffmpeg could not be started. The machine's fault, not the file's.
    #[error("cannot run {program}: {source} (install FFmpeg, e.g. `apt-get install ffmpeg`)")]
    FfmpegMissing {
        /// The program that failed to start.
        program: String,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// ffprobe could not read the file as a video.
    #[error("not a video ffmpeg can read{0}")]
    NotVideo(String),
    /// The container holds no video stream.
    #[error("no video stream in the file{0}")]
    NoVideoStream(String),
    /// The video is longer than the duration limit; decoding was stopped or never started.
    #[error("video runs at least {seconds:.1} s, over the limit of {limit} s (raise it with --max-duration)")]
    TooLong {
        /// Seconds known so far (declared, or decoded before stopping).
        seconds: f64,
        /// The limit in force, in seconds.
        limit: f64,
    },
    /// The video's frames have more pixels than the limit allows; nothing was decoded.
    #[error("video frames are {width}x{height} = {pixels} pixels, over the limit of {limit} (raise it with --max-frame-pixels)")]
    FrameTooLarge {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// width × height.
        pixels: u64,
        /// The limit in force.
        limit: u64,
    },
    /// Probing and decoding took longer than the wall-clock limit; ffmpeg was killed.
    #[error("decoding took longer than {seconds} s and was stopped (raise it with --timeout)")]
    Timeout {
        /// The limit in force, in seconds.
        seconds: f64,
    },
    /// The container points at data past the end of the file.
    #[error("truncated video: the file ends before the video data does")]
    TruncatedVideo,
    /// ffmpeg failed while decoding; its last words.
    #[error("ffmpeg failed: {0}")]
    Ffmpeg(String),
}
