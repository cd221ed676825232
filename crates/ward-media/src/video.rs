//! Videos: decoded in a child process (ward's own decoding worker, or ffmpeg), frames on a
//! pipe, vPDQ on all cores.
//!
//! Two decoders, one contract: [`crate::av_worker`] (long-lived `ward __av-worker` processes
//! calling libavcodec, used when [`VideoOptions::av_worker`] is set and the frames can be sent
//! exactly as 4:2:0 planes) and the ffmpeg program (everything else, and the fallback). Both
//! give the same frames, indices and errors; `crates/ward/tests/video_worker.rs` checks it.
//!
//! The key decision: **decoding happens in another process**. Video decoders are large C code
//! bases fed with hostile bytes; in a child process a crash, a hang or a runaway allocation
//! costs one file, not the service. The child is bounded from here: the file must be a
//! regular file under a byte limit, its container is recognised by its magic bytes and ffmpeg
//! may use only that demuxer and the `file` protocol (no playlists pulling in other files or
//! URLs), the declared frame size and duration are checked before decoding starts, the frame
//! count is checked while it runs, and one wall-clock deadline covers probing and decoding.
//! On every path out (success, error, panic) the child is killed and reaped by [`Reaper`].
//!
//! Pixels follow the reference (vPDQ's C++ `filehasher.cpp`): the first video stream, every
//! decoded frame numbered from 0, converted to RGB24 by libswscale with `SWS_AREA` and the
//! colour-space defaults libswscale picks from the pixel format alone (the reference never
//! calls `sws_setColorspaceDetails`). ffmpeg's `scale` filter would otherwise honour the
//! stream's colour tags, so the frame's range and matrix tags are cleared first
//! (`setparams`). With FFmpeg 5.1 this gives frame hashes identical to the reference built
//! on the same FFmpeg (`tests/video_reference.rs`).
//!
//! With [`VideoOptions::remove_letterbox`], the frames hashed in that pass are also sampled
//! (a dozen at most, spread over the video) and searched for a fixed layout around the
//! picture: what stays still while the picture moves ([`detect_layout`]: bars or a border of
//! any colour, a caption band, a phone frame), else uniform bars ([`detect_letterbox`]) or
//! what the image detectors find on most frames. When one is found, a second pass hashes the
//! content rectangle (one rectangle a video): ffmpeg's `crop` before
//! `scale`, so the cropped frames go through the very conversion (and, in the 128×128 mode,
//! the very downscale) that a bank copy without bars went through. Cropping in ffmpeg rather
//! than slicing the RGB here costs a second decode, but only for videos that have bars (the
//! plain pass is unchanged for the rest), and it needs no guess before the first frame.

use crate::av_worker::{open_request, Msg, Worker};
use crate::letterbox::{detect_letterbox, CroppedVpdq, LetterboxOptions, Rect};
use crate::regions::RegionKind;
use crate::video_regions::{detect_layout, LayoutOptions};
use crate::{Digests, HashOptions, ImageSignals, MediaError};
use rayon::prelude::*;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use ward_pdq::vpdq::{self, VpdqFrame};

/// Limits and settings for hashing one video.
#[derive(Clone, Debug)]
pub struct VideoOptions {
    /// Most bytes a video file may have. Default 4 GiB.
    pub max_bytes: u64,
    /// Wall-clock limit for probing and decoding one file; ffmpeg is killed when it passes.
    /// Default 10 minutes.
    pub timeout: Duration,
    /// Longest video, in seconds, by its declared duration and by the frames decoded.
    /// Default 4 hours.
    pub max_duration: f64,
    /// Most pixels (width × height) a frame may declare. Default 40 million (8K and a bit).
    pub max_frame_pixels: u64,
    /// Hash every `int(seconds_per_hash × fps)`-th frame; 0 hashes every frame. Default 1,
    /// as in the reference and the hash lists the field exchanges.
    pub seconds_per_hash: f64,
    /// Scale frames to this width and height before hashing (the reference's 128×128 mode
    /// is `Some((128, 128))`). Default `None`: every pixel of the frame.
    pub downscale: Option<(u32, u32)>,
    /// Bytes of decoded frames held at once (in the pipe reader's queue and in the batch
    /// being hashed). Default 512 MiB.
    pub frame_memory: u64,
    /// Decoder threads in the ffmpeg child; 0 lets ffmpeg choose (frame threading over
    /// every core). Default 0. When several videos are hashed at once, 1 is cheaper: frame
    /// threading costs CPU (about 10 % more on H.264) that only pays when one file would
    /// otherwise leave cores idle.
    pub decoder_threads: u32,
    /// Most bytes of data memory (`RLIMIT_DATA`: heap and private writable mappings) the
    /// ffmpeg child may use; an allocation past it fails inside ffmpeg and the file gets
    /// [`MediaError::TooMuchMemory`]. `None` (the default) sets it from the frame size:
    /// [`VideoOptions::auto_memory_limit`]. Applied through util-linux's `prlimit`, when it
    /// is installed (every Debian and Ubuntu system has it); without it the child is bounded
    /// by time and frame size only.
    pub max_memory: Option<u64>,
    /// The ffmpeg program. Default `ffmpeg` (found on `PATH`).
    pub ffmpeg: PathBuf,
    /// The ffprobe program. Default `ffprobe`.
    pub ffprobe: PathBuf,
    /// Also hash the content inside letterbox or pillarbox bars, when there are bars
    /// ([`VideoSignals::vpdq_cropped`]); the plain hashes are made as without it. Default off.
    pub remove_letterbox: bool,
    /// How bars are told from content.
    pub letterbox: LetterboxOptions,
    /// Hash 8-bit 4:2:0 frames from their planes ([`ward_pdq::pdq_yuv420`]): ffmpeg sends
    /// half the bytes and no RGB is made, with hashes identical to those of ffmpeg's RGB24
    /// (the conversion is libswscale's, checked against it in the tests). Used where it is
    /// exact: `yuv420p` streams, even frame heights, no downscale, x86-64. Default on; off
    /// makes every frame go through ffmpeg's RGB24 as in the reference.
    pub hash_from_planes: bool,
    /// The program to run as a decoding worker (`PROGRAM __av-worker`: the ward binary):
    /// long-lived processes that decode with libavcodec directly and serve file after file,
    /// instead of an ffprobe and an ffmpeg started per file ([`crate::av_worker`]). Used for
    /// files whose frames it can send exactly (`yuv420p` from the planes, see
    /// [`VideoOptions::hash_from_planes`]); the rest go to ffmpeg. Default: the program set
    /// with [`set_default_av_worker`], if any.
    pub av_worker: Option<PathBuf>,
}

static DEFAULT_AV_WORKER: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Makes `program` (the running ward binary) the default [`VideoOptions::av_worker`] of this
/// process. The first call wins.
pub fn set_default_av_worker(program: PathBuf) {
    let _ = DEFAULT_AV_WORKER.set(program);
}

impl Default for VideoOptions {
    fn default() -> Self {
        VideoOptions {
            max_bytes: 4 << 30,
            timeout: Duration::from_secs(600),
            max_duration: 4.0 * 3600.0,
            max_frame_pixels: 40_000_000,
            seconds_per_hash: 1.0,
            downscale: None,
            frame_memory: 512 << 20,
            decoder_threads: 0,
            max_memory: None,
            ffmpeg: PathBuf::from("ffmpeg"),
            ffprobe: PathBuf::from("ffprobe"),
            remove_letterbox: false,
            letterbox: LetterboxOptions::default(),
            hash_from_planes: true,
            av_worker: DEFAULT_AV_WORKER.get().cloned(),
        }
    }
}

impl VideoOptions {
    /// The data-memory limit for an ffmpeg child decoding `width`×`height` frames: 256 MiB
    /// for the program itself, plus room for the frames a decoder holds (H.264 keeps up to
    /// 16 references, and each frame thread its own set) and the filter chain's copies, at
    /// 3 bytes a pixel. A 720p stream gets about 0.45 GiB, where ffmpeg needs under 0.2.
    pub fn auto_memory_limit(&self, width: u32, height: u32) -> u64 {
        let threads = match self.decoder_threads {
            0 => thread::available_parallelism().map_or(2, |n| n.get() as u64) + 1,
            n => u64::from(n),
        };
        let frame = u64::from(width) * u64::from(height) * 3;
        (256 << 20) + (40 + 8 * threads.min(64)) * frame
    }

    fn memory_limit(&self, width: u32, height: u32) -> u64 {
        self.max_memory
            .unwrap_or_else(|| self.auto_memory_limit(width, height))
    }
}

/// What ffprobe says about the video stream that is hashed.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoInfo {
    /// The demuxer's names, e.g. `mov,mp4,m4a,3gp,3g2,mj2`.
    pub container: String,
    /// The codec, e.g. `h264`.
    pub codec: String,
    /// The decoder's pixel format, e.g. `yuv420p`.
    pub pix_fmt: String,
    /// Index of the stream in the container.
    pub stream_index: u32,
    /// Frame width in pixels, as stored (rotation metadata is ignored, as by the reference).
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Frames a second: the stream's average frame rate, or its base rate when that is
    /// unknown (the reference's choice).
    pub fps: f64,
    /// Declared duration in seconds, when the container gives one.
    pub duration: Option<f64>,
    /// Declared number of frames, when the container gives one.
    pub frame_count: Option<u64>,
}

/// The signals of one video file.
#[derive(Clone, Debug)]
pub struct VideoSignals {
    /// One PDQ hash per sampled frame, in frame order: every pixel of the frame, as the
    /// reference hashes it.
    pub vpdq: Vec<VpdqFrame>,
    /// With [`VideoOptions::remove_letterbox`] and bars found: the content rectangle and the
    /// hashes of the same frames cropped to it. `None` otherwise.
    pub vpdq_cropped: Option<CroppedVpdq>,
    /// Other readings of bars that [`Self::vpdq_cropped`] trimmed, for a video that had black
    /// bars of its own before more were added (they merge, and the content rectangle trims
    /// both): the frame trimmed along one axis only, or the original frame guessed from the
    /// usual aspect ratios along the barred axis (via `trim-added-bars`). Hashed from the
    /// frames of one more decode pass; empty for most videos.
    pub vpdq_nested: Vec<CroppedVpdq>,
    /// MD5 and SHA-256 of the file's bytes.
    pub digests: Digests,
    /// The stream that was hashed.
    pub info: VideoInfo,
}

/// The signals of an image or a video, told apart by content.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // one per file; boxing would only add an allocation
pub enum MediaSignals {
    /// A still image: PDQ.
    Image(ImageSignals),
    /// A video: vPDQ.
    Video(VideoSignals),
}

/// The video containers ward hands to ffmpeg, by magic bytes: the ffmpeg demuxer that may
/// read the file, or `None` when the bytes start no such container.
///
/// `head` should hold the file's first 512 bytes (fewer for a shorter file). ISO-BMFF files
/// whose brand is a still-image format (HEIF, AVIF) are not videos.
pub fn sniff_video(head: &[u8]) -> Option<&'static str> {
    let at = |i: usize, m: &[u8]| head.get(i..i + m.len()) == Some(m);
    if head.len() >= 12 && at(4, b"ftyp") {
        let brand = &head[8..12];
        let still: [&[u8]; 7] = [
            b"avif", b"avis", b"heic", b"heix", b"mif1", b"msf1", b"heim",
        ];
        return (!still.contains(&brand)).then_some("mov");
    }
    // QuickTime files without `ftyp` start with one of these atoms.
    if [b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot"]
        .iter()
        .any(|m| at(4, &m[..]))
    {
        return Some("mov");
    }
    if at(0, &[0x1A, 0x45, 0xDF, 0xA3]) {
        return Some("matroska");
    }
    if at(0, b"RIFF") && at(8, b"AVI ") {
        return Some("avi");
    }
    if at(0, b"FLV\x01") {
        return Some("flv");
    }
    if at(0, &[0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11]) {
        return Some("asf");
    }
    if at(0, b"OggS") {
        return Some("ogg");
    }
    if at(0, &[0, 0, 1, 0xBA]) {
        return Some("mpeg");
    }
    // MPEG-TS: a sync byte every 188 bytes (192 for M2TS, with a 4-byte timecode first).
    if (at(0, &[0x47]) && at(188, &[0x47]) && at(376, &[0x47]))
        || (at(4, &[0x47]) && at(196, &[0x47]) && at(388, &[0x47]))
    {
        return Some("mpegts");
    }
    None
}

/// Hashes a file that may be an image or a video, deciding by its bytes, not its name:
/// image formats first (by their magic numbers), then video containers ([`sniff_video`]).
pub fn hash_media_file(
    path: &Path,
    image: &HashOptions,
    video: &VideoOptions,
) -> Result<MediaSignals, MediaError> {
    let file = open_regular(path)?;
    let head = read_head(&file, path)?;
    if head.is_empty() {
        return Err(MediaError::Empty);
    }
    drop(file);
    if image::guess_format(&head).is_ok() {
        return crate::hash_file(path, image).map(MediaSignals::Image);
    }
    if sniff_video(&head).is_some() {
        return hash_video_file(path, video).map(MediaSignals::Video);
    }
    Err(MediaError::NotMedia(text_hint(&head).to_owned()))
}

/// Hashes a video file: MD5 and SHA-256 of its bytes, then vPDQ of its first video stream.
pub fn hash_video_file(path: &Path, opts: &VideoOptions) -> Result<VideoSignals, MediaError> {
    let deadline = Instant::now() + opts.timeout;
    let (source, file) = file_source(path, opts)?;
    let digests = digest_file(file, path, opts.max_bytes)?;
    let info = probe(&source, opts, deadline)?;
    // The frames of the plain pass are sampled as they are hashed (downscaled, when asked).
    let (sw, sh) = opts.downscale.unwrap_or((info.width, info.height));
    let mut samples = opts
        .remove_letterbox
        .then(|| Samples::new(sw, sh, opts.frame_memory));
    let vpdq = decode_and_hash(&source, &info, opts, deadline, None, samples.as_mut())?;
    let found = samples.and_then(|s| s.detect(&opts.letterbox));
    let content = found.and_then(|(r, via)| {
        scale_rect_inward(r, (sw, sh), (info.width, info.height), opts.letterbox.align)
            .map(|r| (r, via))
    });
    let vpdq_cropped = match content {
        Some((content, via)) => Some(CroppedVpdq {
            content,
            via,
            vpdq: decode_and_hash(&source, &info, opts, deadline, Some(content), None)?,
        }),
        None => None,
    };
    // Nested bars: other frames the bank copy may have had, cropped here from whole frames
    // (exact for 4:2:0 planes at even offsets; not in the downscale mode, whose frames are
    // scaled before they reach us).
    let nested = match (&vpdq_cropped, opts.downscale) {
        (Some(c), None) if matches!(c.via, "trim-letterbox" | "trim-border") => {
            nested_frames(c.content, info.width, info.height, opts.letterbox.align)
        }
        _ => Vec::new(),
    };
    let vpdq_nested = if nested.is_empty() {
        Vec::new()
    } else {
        decode_and_hash_rects(&source, &info, opts, deadline, &nested)?
            .into_iter()
            .zip(nested)
            .map(|(vpdq, content)| CroppedVpdq {
                content,
                via: "trim-added-bars",
                vpdq,
            })
            .collect()
    };
    Ok(VideoSignals {
        vpdq,
        vpdq_cropped,
        vpdq_nested,
        digests,
        info,
    })
}

/// The derived vPDQ kinds [`derived_vpdq`] knows: centre crops, named as the image kinds of
/// [`crate::derived`] (`crop-P-centre`: P % cut from each side), with the share cut.
pub const VIDEO_DERIVED_KINDS: [(&str, f64); 3] = [
    ("crop-2-centre", 0.02),
    ("crop-5-centre", 0.05),
    ("crop-10-centre", 0.10),
];

/// The derived vPDQ `ward bank add` (and the service's bank upload) stores for a video it
/// hashed: 5 % and 10 % centre crops, one decode pass each.
pub const BANK_VIDEO_DERIVED: [&str; 2] = ["crop-5-centre", "crop-10-centre"];

/// Bank-side augmentation of a video: its vPDQ under edits that query-side normalisation
/// cannot undo (a crop takes away picture that nothing brings back), one more decode pass
/// per kind, each frame cropped in ffmpeg before the conversion as the letterbox pass does.
/// `kinds` are names of [`VIDEO_DERIVED_KINDS`] (others are skipped). The frames
/// are those of the plain hashes (same options), so that the derived vPDQ lines up with them.
///
/// For `ward bank add` of a video: derived hashes are ward's own and are never exported.
pub fn derived_vpdq(
    path: &Path,
    opts: &VideoOptions,
    kinds: &[&str],
) -> Result<Vec<(&'static str, Vec<VpdqFrame>)>, MediaError> {
    let deadline = Instant::now() + opts.timeout;
    let (source, _) = file_source(path, opts)?;
    let info = probe(&source, opts, deadline)?;
    let mut out = Vec::new();
    for kind in kinds {
        let Some(&(name, cut)) = VIDEO_DERIVED_KINDS.iter().find(|(n, _)| n == kind) else {
            continue;
        };
        let Some(rect) = centre_crop(info.width, info.height, cut) else {
            continue;
        };
        out.push((
            name,
            decode_and_hash(&source, &info, opts, deadline, Some(rect), None)?,
        ));
    }
    Ok(out)
}

/// The centre of a `w`×`h` frame with `cut` (a share) taken from each side, its corners on
/// even pixels (chroma subsampling); `None` when under 16 pixels are left.
fn centre_crop(w: u32, h: u32, cut: f64) -> Option<Rect> {
    let edge = |d: u32| -> (u32, u32) {
        let a = ((f64::from(d) * cut).ceil() as u32).div_ceil(2) * 2;
        let b = ((f64::from(d) * (1.0 - cut)).floor() as u32) / 2 * 2;
        (a, b)
    };
    let ((x0, x1), (y0, y1)) = (edge(w), edge(h));
    (x1 >= x0 + 16 && y1 >= y0 + 16).then(|| Rect {
        x: x0,
        y: y0,
        width: x1 - x0,
        height: y1 - y0,
    })
}

/// Probes a video file with ffprobe under the same checks and deadline as hashing, without
/// decoding a frame.
pub fn probe_video(path: &Path, opts: &VideoOptions) -> Result<VideoInfo, MediaError> {
    let deadline = Instant::now() + opts.timeout;
    let (source, _) = file_source(path, opts)?;
    probe(&source, opts, deadline)
}

/// What ffmpeg reads: a file through one whitelisted demuxer, or (in tests only) a lavfi
/// graph, which is how a never-ending input is made.
enum Source {
    File {
        /// `file:` and the absolute path, so that no name is taken for an option or a URL.
        url: OsString,
        demuxer: &'static str,
    },
    #[cfg(test)]
    Lavfi(String),
}

impl Source {
    /// The input options and `-i`, for ffprobe and ffmpeg alike.
    fn input_args(&self) -> Vec<OsString> {
        match self {
            Source::File { url, demuxer } => vec![
                "-protocol_whitelist".into(),
                "file".into(),
                "-format_whitelist".into(),
                (*demuxer).into(),
                "-i".into(),
                url.clone(),
            ],
            #[cfg(test)]
            Source::Lavfi(graph) => vec!["-f".into(), "lavfi".into(), "-i".into(), graph.into()],
        }
    }
}

/// Checks that `path` is a regular file under the byte limit holding a known video
/// container, and returns how ffmpeg is to read it, with the opened file for digesting.
fn file_source(path: &Path, opts: &VideoOptions) -> Result<(Source, std::fs::File), MediaError> {
    let file = open_regular(path)?;
    let len = file.metadata().map_err(|e| io_error(path, e))?.len();
    if len == 0 {
        return Err(MediaError::Empty);
    }
    if len > opts.max_bytes {
        return Err(MediaError::TooManyBytes {
            limit: opts.max_bytes,
        });
    }
    let head = read_head(&file, path)?;
    let demuxer = sniff_video(&head).ok_or_else(|| {
        let hint = match text_hint(&head) {
            "" => ": no known video container (MP4/MOV, Matroska/WebM, AVI, FLV, MPEG-TS/PS, ASF, Ogg) at its start",
            h => h,
        };
        MediaError::NotVideo(hint.to_owned())
    })?;
    let abs = std::path::absolute(path).map_err(|e| io_error(path, e))?;
    let mut url = OsString::from("file:");
    url.push(abs.as_os_str());
    Ok((Source::File { url, demuxer }, file))
}

fn io_error(path: &Path, source: std::io::Error) -> MediaError {
    MediaError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Opens `path` if it is a regular file (following links): a FIFO or a device could feed a
/// reader forever, and a folder is no media.
fn open_regular(path: &Path) -> Result<std::fs::File, MediaError> {
    let meta = std::fs::metadata(path).map_err(|e| io_error(path, e))?;
    if !meta.is_file() {
        return Err(MediaError::NotAFile);
    }
    std::fs::File::open(path).map_err(|e| io_error(path, e))
}

/// The first 512 bytes of a file (fewer if it is shorter).
fn read_head(file: &std::fs::File, path: &Path) -> Result<Vec<u8>, MediaError> {
    let mut head = Vec::with_capacity(512);
    // `&File` reads from the current offset, which is the start for a freshly opened file.
    file.take(512)
        .read_to_end(&mut head)
        .map_err(|e| io_error(path, e))?;
    Ok(head)
}

fn text_hint(head: &[u8]) -> &'static str {
    if !head.is_empty() && head.iter().all(|b| b.is_ascii()) {
        ": it looks like text"
    } else {
        ""
    }
}

/// MD5 and SHA-256 of a whole file, streamed (a video need not fit in memory).
fn digest_file(file: std::fs::File, path: &Path, limit: u64) -> Result<Digests, MediaError> {
    use md5::{Digest as _, Md5};
    use std::io::{Seek, SeekFrom};
    let mut file = file;
    file.seek(SeekFrom::Start(0))
        .map_err(|e| io_error(path, e))?;
    let mut md5 = Md5::new();
    let mut sha = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    // `take` guards against a file that grows while it is read.
    let mut r = file.take(limit + 1);
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_error(path, e)),
        };
        total += n as u64;
        if total > limit {
            return Err(MediaError::TooManyBytes { limit });
        }
        md5.update(&buf[..n]);
        sha.update(&buf[..n]);
    }
    Ok(Digests {
        md5: md5.finalize().into(),
        sha256: sha.finalize().into(),
    })
}

/// Whether util-linux's `prlimit` runs here (checked once).
fn have_prlimit() -> bool {
    static HAVE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAVE.get_or_init(|| {
        Command::new("prlimit")
            .arg("--version")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Whether `program` names an executable file: a path as given, a bare name on `PATH`.
fn runnable(program: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let is_exe = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.components().count() > 1 {
        return is_exe(program);
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| is_exe(&dir.join(program))))
}

/// A child process that is killed and reaped however the scope is left.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        // Killing a child that has exited is harmless; `wait` reaps it (no zombie).
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Reaper {
    /// Starts `program` with `args`; with `memory`, under that `RLIMIT_DATA` (through
    /// `prlimit`, which sets the limit and then runs the program in its own process).
    fn spawn(program: &Path, args: &[OsString], memory: Option<u64>) -> Result<Reaper, MediaError> {
        let mut command = match memory.filter(|_| have_prlimit()) {
            Some(bytes) => {
                // `prlimit` would report a missing program as its own failure: look first.
                if !runnable(program) {
                    return Err(MediaError::FfmpegMissing {
                        program: program.display().to_string(),
                        source: std::io::ErrorKind::NotFound.into(),
                    });
                }
                let mut c = Command::new("prlimit");
                c.arg(format!("--data={bytes}")).arg("--").arg(program);
                c
            }
            None => Command::new(program),
        };
        let child = command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| MediaError::FfmpegMissing {
                program: program.display().to_string(),
                source,
            })?;
        Ok(Reaper(child))
    }

    /// Waits for the child to exit, killing it at the deadline.
    fn wait_until(
        &mut self,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<ExitStatus, MediaError> {
        let mut nap = Duration::from_millis(1);
        loop {
            match self.0.try_wait() {
                Ok(Some(status)) => return Ok(status),
                Ok(None) => {}
                Err(e) => return Err(MediaError::Ffmpeg(format!("cannot wait for ffmpeg: {e}"))),
            }
            let now = Instant::now();
            if now >= deadline {
                let _ = self.0.kill();
                return Err(timeout_error(timeout));
            }
            thread::sleep(nap.min(deadline - now));
            nap = (nap * 2).min(Duration::from_millis(20));
        }
    }
}

fn timeout_error(timeout: Duration) -> MediaError {
    MediaError::Timeout {
        seconds: timeout.as_secs_f64(),
    }
}

/// What ffmpeg said on stderr: the last few lines, and whether the demuxer found the file
/// shorter than its index says.
#[derive(Default)]
struct Stderr {
    tail: Vec<String>,
    partial_file: bool,
    out_of_memory: bool,
}

impl Stderr {
    fn collect(child: &mut Child) -> JoinHandle<Stderr> {
        let pipe = child.stderr.take();
        thread::spawn(move || {
            let mut out = Stderr::default();
            let Some(pipe) = pipe else { return out };
            // ffmpeg's log lines are short (it formats them into a 1 KiB buffer), but a line
            // is cut anyway, so that memory stays bounded whatever the child prints.
            for line in BufReader::new(pipe).split(b'\n') {
                let Ok(line) = line else { break };
                let line = String::from_utf8_lossy(&line[..line.len().min(300)]).into_owned();
                out.partial_file |= line.contains("partial file");
                // ENOMEM, or EAGAIN from a thread that could not get its stack under the
                // data limit.
                out.out_of_memory |= line.contains("Cannot allocate memory")
                    || line.contains("Failed to allocate")
                    || line.contains("Resource temporarily unavailable");
                if out.tail.len() == 5 {
                    out.tail.remove(0);
                }
                out.tail.push(line);
            }
            out
        })
    }

    fn message(&self) -> String {
        let lines: Vec<&str> = self
            .tail
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty())
            .collect();
        if lines.is_empty() {
            "no message".to_owned()
        } else {
            lines.join("; ")
        }
    }
}

/// Runs ffprobe on the source and picks the stream to hash.
fn probe(source: &Source, opts: &VideoOptions, deadline: Instant) -> Result<VideoInfo, MediaError> {
    if let (Some(program), Source::File { url, demuxer }) = (usable_worker(opts), source) {
        let memory = opts
            .max_memory
            .unwrap_or_else(|| opts.auto_memory_limit(3840, 2160));
        let mut worker = Worker::checkout(program)?;
        worker.send(&open_request(url, demuxer, 1, true, memory))?;
        return match worker.recv(deadline) {
            None => Err(timeout_error(opts.timeout)),
            Some(Msg::Info(v)) => {
                worker.checkin();
                info_from_probe(&v, opts)
            }
            Some(Msg::Error(e)) if e["kind"] == "unavailable" => {
                // FFmpeg's libraries are not there: ffprobe and ffmpeg from now on.
                AV_UNAVAILABLE.store(true, std::sync::atomic::Ordering::Relaxed);
                probe(source, opts, deadline)
            }
            Some(Msg::Error(e)) => {
                worker.checkin();
                Err(worker_open_error(&e, opts, memory))
            }
            Some(Msg::Gone(m)) => Err(MediaError::Ffmpeg(m)),
            Some(_) => Err(MediaError::Ffmpeg(
                "the decoding worker answered out of turn".to_owned(),
            )),
        };
    }
    let mut args: Vec<OsString> = ["-v", "error", "-hide_banner"]
        .iter()
        .map(OsString::from)
        .collect();
    args.extend(source.input_args());
    args.extend(
        ["-print_format", "json", "-show_format", "-show_streams"]
            .iter()
            .map(OsString::from),
    );
    // Probing decodes a few frames of a size not known yet: the limit of a large frame.
    let memory = opts
        .max_memory
        .unwrap_or_else(|| opts.auto_memory_limit(3840, 2160));
    let mut child = Reaper::spawn(&opts.ffprobe, &args, Some(memory))?;
    let stderr = Stderr::collect(&mut child.0);
    let stdout = child.0.stdout.take();
    // A few kilobytes is usual; a file declaring thousands of streams gets a clear error.
    const LIMIT: u64 = 4 << 20;
    let reader = thread::spawn(move || {
        let mut json = Vec::new();
        if let Some(pipe) = stdout {
            let _ = pipe.take(LIMIT + 1).read_to_end(&mut json);
        }
        json
    });
    let status = child.wait_until(deadline, opts.timeout);
    drop(child);
    let json = reader.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    let status = status?;
    if !status.success() {
        if stderr.out_of_memory {
            return Err(MediaError::TooMuchMemory(format!(
                "ffprobe ran out of its {} MiB ({})",
                memory >> 20,
                stderr.message()
            )));
        }
        return Err(MediaError::NotVideo(format!(": {}", stderr.message())));
    }
    if json.len() as u64 > LIMIT {
        return Err(MediaError::NotVideo(
            ": ffprobe's description of it is over 4 MiB".to_owned(),
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&json)
        .map_err(|e| MediaError::NotVideo(format!(": ffprobe output is not JSON ({e})")))?;
    info_from_probe(&v, opts)
}

/// Set when a worker found no FFmpeg libraries to load.
static AV_UNAVAILABLE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The decoding worker to use, if any.
fn usable_worker(opts: &VideoOptions) -> Option<&Path> {
    opts.av_worker
        .as_deref()
        .filter(|_| !AV_UNAVAILABLE.load(std::sync::atomic::Ordering::Relaxed))
}

/// The error for a worker's `E` answer to an open request: what ffprobe's failure would give.
fn worker_open_error(e: &serde_json::Value, opts: &VideoOptions, memory: u64) -> MediaError {
    let message = e["message"].as_str().unwrap_or("no message");
    match e["kind"].as_str() {
        Some("no-video") => {
            let kinds: Vec<&str> = e["kinds"]
                .as_array()
                .map(|a| a.iter().filter_map(|k| k.as_str()).collect())
                .unwrap_or_default();
            MediaError::NoVideoStream(if kinds.is_empty() {
                ": it has no streams".to_owned()
            } else {
                format!(": it has {} only", kinds.join(", "))
            })
        }
        Some("no-decoder") => match info_from_probe(&e["probe"], opts) {
            Err(e) => e,
            Ok(_) => MediaError::NotVideo(": ffmpeg cannot decode its video codec".to_owned()),
        },
        _ if message.contains("Cannot allocate memory") => MediaError::TooMuchMemory(format!(
            "the decoder ran out of its {} MiB ({message})",
            memory >> 20
        )),
        _ => MediaError::NotVideo(format!(": {message}")),
    }
}

/// Picks the first video stream that is not a cover picture (`attached_pic`) and checks it
/// against the limits.
fn info_from_probe(v: &serde_json::Value, opts: &VideoOptions) -> Result<VideoInfo, MediaError> {
    let streams = v["streams"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let Some(s) = streams.iter().find(|s| {
        s["codec_type"] == "video" && s["disposition"]["attached_pic"].as_i64() != Some(1)
    }) else {
        let kinds: Vec<&str> = streams
            .iter()
            .filter_map(|s| s["codec_type"].as_str())
            .collect();
        let detail = if kinds.is_empty() {
            ": it has no streams".to_owned()
        } else {
            format!(": it has {} only", kinds.join(", "))
        };
        return Err(MediaError::NoVideoStream(detail));
    };
    let text = |key: &str| s[key].as_str().unwrap_or("").to_owned();
    let num = |x: &serde_json::Value| x.as_str().and_then(|t| t.parse::<f64>().ok());
    let dim = |key: &str| {
        s[key]
            .as_u64()
            .and_then(|d| u32::try_from(d).ok())
            .unwrap_or(0)
    };
    let (width, height) = (dim("width"), dim("height"));
    let pix_fmt = text("pix_fmt");
    let codec = text("codec_name");
    if pix_fmt.is_empty() {
        return Err(MediaError::NotVideo(format!(
            ": ffmpeg cannot decode its video codec ({})",
            if codec.is_empty() { "unknown" } else { &codec }
        )));
    }
    if width < 5 || height < 5 {
        return Err(MediaError::NotVideo(format!(
            ": frames are {width}x{height}, under the 5x5 pixels PDQ needs"
        )));
    }
    let pixels = u64::from(width) * u64::from(height);
    if pixels > opts.max_frame_pixels {
        return Err(MediaError::FrameTooLarge {
            width,
            height,
            pixels,
            limit: opts.max_frame_pixels,
        });
    }
    let fps = [&s["avg_frame_rate"], &s["r_frame_rate"]]
        .into_iter()
        .find_map(|r| parse_rate(r.as_str()?))
        .ok_or_else(|| MediaError::NotVideo(": it declares no frame rate".to_owned()))?;
    let duration = num(&s["duration"])
        .or_else(|| num(&v["format"]["duration"]))
        .filter(|d| d.is_finite() && *d >= 0.0);
    if let Some(d) = duration.filter(|&d| d > opts.max_duration) {
        return Err(MediaError::TooLong {
            seconds: d,
            limit: opts.max_duration,
        });
    }
    Ok(VideoInfo {
        container: v["format"]["format_name"].as_str().unwrap_or("").to_owned(),
        codec,
        pix_fmt,
        stream_index: s["index"]
            .as_u64()
            .and_then(|i| u32::try_from(i).ok())
            .unwrap_or(0),
        width,
        height,
        fps,
        duration,
        frame_count: s["nb_frames"].as_str().and_then(|n| n.parse().ok()),
    })
}

/// `"30000/1001"` to 29.97...; `None` for `0/0`, zero or nonsense.
fn parse_rate(r: &str) -> Option<f64> {
    let (n, d) = r.split_once('/')?;
    let (n, d) = (n.trim().parse::<f64>().ok()?, d.trim().parse::<f64>().ok()?);
    let fps = n / d;
    (fps.is_finite() && fps > 0.0).then_some(fps)
}

/// The ffmpeg filter chain: keep every `interval`-th frame (before any conversion, so that
/// skipped frames cost nothing but decoding), crop to the content rectangle when asked, clear
/// the colour tags so that libswscale converts as the reference's does, scale with
/// `SWS_AREA` to `w`×`h` and convert to RGB24.
///
/// Scaling to the probed size even when nothing is resized keeps every frame on the pipe the
/// same size, so a stream that changes resolution cannot desynchronise the reader.
fn filter_chain(interval: u32, crop: Option<Rect>, w: u32, h: u32, planes: bool) -> String {
    let select = if interval > 1 {
        // `n` counts the frames entering the filter from 0: the decoded-frame index.
        format!("select=not(mod(n\\,{interval})),")
    } else {
        String::new()
    };
    let crop = match crop {
        Some(r) => format!("crop={}:{}:{}:{},", r.width, r.height, r.x, r.y),
        None => String::new(),
    };
    if planes {
        // The planes as decoded; the scale only acts on a frame whose size changed mid-stream.
        return format!("{select}{crop}scale={w}:{h}:flags=area,format=yuv420p");
    }
    format!(
        "{select}{crop}setparams=range=unknown:colorspace=unknown,scale={w}:{h}:flags=area,format=rgb24"
    )
}

/// `r`, found in a `from`-sized frame, in a `to`-sized frame of the same picture: edges
/// scaled and moved inward to multiples of `align`. `None` if nothing is left.
fn scale_rect_inward(r: Rect, from: (u32, u32), to: (u32, u32), align: u32) -> Option<Rect> {
    if from == to {
        return Some(r);
    }
    let a = u64::from(align.max(1));
    let edge = |v: u32, f: u32, t: u32, up: bool| -> u64 {
        let (n, d) = (u64::from(v) * u64::from(t), u64::from(f).max(1));
        if up {
            n.div_ceil(d).div_ceil(a) * a
        } else {
            n / d / a * a
        }
    };
    let (x0, x1) = (
        edge(r.x, from.0, to.0, true),
        edge(r.x + r.width, from.0, to.0, false),
    );
    let (y0, y1) = (
        edge(r.y, from.1, to.1, true),
        edge(r.y + r.height, from.1, to.1, false),
    );
    (x1 > x0 && y1 > y0).then(|| Rect {
        x: x0 as u32,
        y: y0 as u32,
        width: (x1 - x0) as u32,
        height: (y1 - y0) as u32,
    })
}

/// Aspect ratios (width / height) that a video's own frame usually has.
const USUAL_ASPECTS: [(u32, u32); 8] = [
    (16, 9),
    (4, 3),
    (3, 2),
    (1, 1),
    (2, 3),
    (3, 4),
    (9, 16),
    (21, 9),
];

/// The frames a video with bars of its own may have had before more bars were added around
/// it, given the content rectangle `c` that trimmed them all in a `w`×`h` frame: with bars on
/// both axes, the frame trimmed along one axis only (the added bars on one axis, the video's
/// own on the other); with bars on one axis, a centred frame of each usual aspect ratio that
/// leaves bars of at least 2 % on both sides of the content and trims at least 2 % of the
/// frame. Corners on multiples of `align`; at most 8.
fn nested_frames(c: Rect, w: u32, h: u32, align: u32) -> Vec<Rect> {
    let a = align.max(2);
    let down = |v: u32| v / a * a;
    let bars_y = h - c.height;
    let bars_x = w - c.width;
    let (min_y, min_x) = (h / 50, w / 50);
    let mut out = Vec::new();
    let mut push = |r: Rect| {
        if r.width >= 16 && r.height >= 16 && !out.contains(&r) && out.len() < 8 {
            out.push(r);
        }
    };
    match (bars_y >= min_y.max(2), bars_x >= min_x.max(2)) {
        (true, true) => {
            push(Rect {
                x: 0,
                y: c.y,
                width: w,
                height: c.height,
            });
            push(Rect {
                x: c.x,
                y: 0,
                width: c.width,
                height: h,
            });
        }
        (true, false) => {
            let ratios = USUAL_ASPECTS.map(|(aw, ah)| (ah, aw));
            for (y, fh) in centred_spans(w, h, (c.y, c.height), min_y, &ratios, down) {
                push(Rect {
                    x: 0,
                    y,
                    width: w,
                    height: fh,
                });
            }
        }
        (false, true) => {
            for (x, fw) in centred_spans(h, w, (c.x, c.width), min_x, &USUAL_ASPECTS, down) {
                push(Rect {
                    x,
                    y: 0,
                    width: fw,
                    height: h,
                });
            }
        }
        (false, false) => {}
    }
    out
}

/// Along one axis of a frame `across` pixels wide and `along` long, whose content spans
/// `content` (start, length): the centred spans of length `across × num / den` for each
/// ratio that leave at least `min` on both sides of the content and of the frame, as
/// (start, length), `down` aligning both.
fn centred_spans(
    across: u32,
    along: u32,
    (start, len): (u32, u32),
    min: u32,
    ratios: &[(u32, u32)],
    down: impl Fn(u32) -> u32,
) -> Vec<(u32, u32)> {
    ratios
        .iter()
        .filter_map(|&(num, den)| {
            let span = down((u64::from(across) * u64::from(num) / u64::from(den)) as u32);
            let at = down(along.saturating_sub(span) / 2);
            (span >= len + 2 * min
                && span + 2 * min <= along
                && at <= start
                && at + span >= start + len)
                .then_some((at, span))
        })
        .collect()
}

/// The rectangle inside both `a` and `b` (which overlap).
fn deeper(a: Rect, b: Rect) -> Rect {
    let (x0, y0) = (a.x.max(b.x), a.y.max(b.y));
    let (x1, y1) = (
        (a.x + a.width).min(b.x + b.width),
        (a.y + a.height).min(b.y + b.height),
    );
    Rect {
        x: x0,
        y: y0,
        width: x1.saturating_sub(x0),
        height: y1.saturating_sub(y0),
    }
}

/// Whether every edge of `a` is at most `d` pixels from the same edge of `b`.
fn within(a: Rect, b: Rect, d: u32) -> bool {
    a.x.abs_diff(b.x) <= d
        && a.y.abs_diff(b.y) <= d
        && (a.x + a.width).abs_diff(b.x + b.width) <= d
        && (a.y + a.height).abs_diff(b.y + b.height) <= d
}

/// Whether `a` lies within `b`.
fn inside(a: Rect, b: Rect) -> bool {
    a.x >= b.x && a.y >= b.y && a.x + a.width <= b.x + b.width && a.y + a.height <= b.y + b.height
}

/// A few of the frames a pass hashes, spread over the video without knowing its length:
/// every `stride`-th, and when twice `keep` are held, every other one is dropped and the
/// stride doubles. At most `2 × keep` frames are held (fewer for large frames).
struct Samples {
    width: u32,
    height: u32,
    keep: usize,
    stride: u64,
    frames: Vec<(u64, Vec<u8>)>,
}

impl Samples {
    fn new(width: u32, height: u32, frame_memory: u64) -> Samples {
        let frame_bytes = (u64::from(width) * u64::from(height) * 3).max(1);
        // A quarter of the frame budget, and 6 to 12 frames: enough to see which lines stay
        // flat while the scene changes.
        let fit = frame_memory / 4 / frame_bytes / 2;
        Samples {
            width,
            height,
            keep: usize::try_from(fit).unwrap_or(6).clamp(1, 6),
            stride: 1,
            frames: Vec::new(),
        }
    }

    /// Whether [`Samples::offer`] would keep the `k`-th frame.
    fn wants(&self, k: u64) -> bool {
        k.is_multiple_of(self.stride)
    }

    /// Forgets the frames offered, for a pass that starts again.
    fn clear(&mut self) {
        self.frames.clear();
        self.stride = 1;
    }

    /// Offers the `k`-th frame of the pass.
    fn offer(&mut self, k: u64, frame: &[u8]) {
        if !self.wants(k) {
            return;
        }
        self.frames.push((k, frame.to_vec()));
        if self.frames.len() >= 2 * self.keep {
            self.stride *= 2;
            let stride = self.stride;
            self.frames.retain(|(i, _)| i.is_multiple_of(stride));
        }
    }

    /// The content rectangle of the sampled frames and what found it: first a layout that
    /// stays still while the picture moves ([`detect_layout`]: borders of any colour, a
    /// caption band, a phone or post frame, with whatever text they carry); then uniform
    /// bars ([`detect_letterbox`]), or a rectangle that the image detectors find on most of
    /// the frames alike, for videos whose picture hardly moves.
    fn detect(&self, opts: &LetterboxOptions) -> Option<(Rect, &'static str)> {
        let frames: Vec<&[u8]> = self.frames.iter().map(|(_, f)| f.as_slice()).collect();
        let still = LayoutOptions {
            align: opts.align,
            ..LayoutOptions::default()
        };
        let bars = detect_letterbox(&frames, self.width, self.height, opts);
        if let Some(r) = detect_layout(&frames, self.width, self.height, &still) {
            // Uniform bars are certain: where they reach deeper (a side whose band the
            // layout test left alone, a picture's edge that hardly moves), they win.
            let rect = bars
                .map(|b| deeper(r.rect, b))
                .filter(|d| d.width >= 16 && d.height >= 16)
                .unwrap_or(r.rect);
            // The image detectors, where most frames agree on nearly the same rectangle,
            // place its edges more exactly (compression rings a few lines beside a sharp
            // edge, which still frames do not tell from the picture).
            let rect = match self.layout(&frames, opts) {
                Some((v, _)) if within(v, rect, 6) => v,
                _ => rect,
            };
            // Plain bars that both detectors see alike keep the letterbox name.
            let via = match bars {
                Some(b) if b == rect && r.kind == RegionKind::TrimBorder => "trim-letterbox",
                _ => r.kind.name(),
            };
            return Some((rect, via));
        }
        let layout = self.layout(&frames, opts);
        match (bars, layout) {
            // A band of text beyond a plain strip: the strip passes for a bar, the detectors
            // see the whole band.
            (Some(b), Some((r, via))) if inside(r, b) && r != b => Some((r, via)),
            (Some(b), _) => Some((b, "trim-letterbox")),
            (None, l) => l,
        }
    }

    /// A rectangle that the image detectors find on most sampled frames alike.
    fn layout(&self, frames: &[&[u8]], opts: &LetterboxOptions) -> Option<(Rect, &'static str)> {
        if frames.len() < opts.min_frames.max(3) {
            return None;
        }
        let ropts = crate::regions::RegionOptions::default();
        let found: Vec<crate::regions::Region> = frames
            .iter()
            .flat_map(|f| crate::regions::detect_regions(f, self.width, self.height, &ropts))
            .collect();
        // Two rectangles agree within 2 % of the frame's size on every edge.
        let (tx, ty) = ((self.width / 50).max(2), (self.height / 50).max(2));
        let near = |a: &Rect, b: &Rect| {
            a.x.abs_diff(b.x) <= tx
                && a.y.abs_diff(b.y) <= ty
                && (a.x + a.width).abs_diff(b.x + b.width) <= tx
                && (a.y + a.height).abs_diff(b.y + b.height) <= ty
        };
        let need = (frames.len() * 3).div_ceil(5);
        let best = found
            .iter()
            .map(|r| {
                let votes: Vec<&crate::regions::Region> =
                    found.iter().filter(|o| near(&o.rect, &r.rect)).collect();
                (votes.len(), r, votes)
            })
            .filter(|(n, _, _)| *n >= need)
            .max_by_key(|(n, _, _)| *n)?;
        // The median of the agreeing rectangles' edges.
        let mut edges: [Vec<u32>; 4] = Default::default();
        for v in &best.2 {
            let r = v.rect;
            edges[0].push(r.x);
            edges[1].push(r.y);
            edges[2].push(r.x + r.width);
            edges[3].push(r.y + r.height);
        }
        let med = |v: &mut Vec<u32>| {
            v.sort_unstable();
            v[v.len() / 2]
        };
        let (x0, y0, x1, y1) = (
            med(&mut edges[0]),
            med(&mut edges[1]),
            med(&mut edges[2]),
            med(&mut edges[3]),
        );
        let r = Rect::aligned_inward((x0, y0), (x1, y1), opts.align);
        (r.width >= 16 && r.height >= 16).then_some((r, best.1.kind.name()))
    }
}

/// Decodes the chosen stream with ffmpeg and hashes the sampled frames on the current rayon
/// pool, in order: whole frames, or the `crop` rectangle of each. `samples`, when given, is
/// offered every frame hashed, as hashed (after the downscale, if any).
fn decode_and_hash(
    source: &Source,
    info: &VideoInfo,
    opts: &VideoOptions,
    deadline: Instant,
    crop: Option<Rect>,
    samples: Option<&mut Samples>,
) -> Result<Vec<VpdqFrame>, MediaError> {
    let mut out = decode_and_hash_inner(source, info, opts, deadline, crop, samples, &[])?;
    Ok(out.pop().unwrap_or_default())
}

/// Decodes whole frames once and hashes each of `rects` (inside the frame, corners on even
/// pixels) cut from every sampled frame: one vPDQ per rectangle, in order. Not for the
/// downscale mode.
fn decode_and_hash_rects(
    source: &Source,
    info: &VideoInfo,
    opts: &VideoOptions,
    deadline: Instant,
    rects: &[Rect],
) -> Result<Vec<Vec<VpdqFrame>>, MediaError> {
    let whole = Rect {
        x: 0,
        y: 0,
        width: info.width,
        height: info.height,
    };
    if opts.downscale.is_some()
        || rects
            .iter()
            .any(|r| !inside(*r, whole) || r.x % 2 == 1 || r.y % 2 == 1)
    {
        return Err(MediaError::Ffmpeg(format!(
            "cannot cut {rects:?} from {}x{} frames",
            info.width, info.height
        )));
    }
    decode_and_hash_inner(source, info, opts, deadline, None, None, rects)
}

/// [`decode_and_hash`], and with `rects` non-empty the vPDQ of each rectangle instead of
/// the whole frame's.
fn decode_and_hash_inner(
    source: &Source,
    info: &VideoInfo,
    opts: &VideoOptions,
    deadline: Instant,
    crop: Option<Rect>,
    mut samples: Option<&mut Samples>,
    rects: &[Rect],
) -> Result<Vec<Vec<VpdqFrame>>, MediaError> {
    let (w, h) = opts.downscale.unwrap_or(match crop {
        Some(r) => (r.width, r.height),
        None => (info.width, info.height),
    });
    if w < 5 || h < 5 {
        return Err(MediaError::NotVideo(format!(
            ": frames scaled to {w}x{h} are under the 5x5 pixels PDQ needs"
        )));
    }
    // Planes where that is exact (see `VideoOptions::hash_from_planes`), RGB24 otherwise.
    let planes = opts.hash_from_planes
        && cfg!(target_arch = "x86_64")
        && info.pix_fmt == "yuv420p"
        && opts.downscale.is_none()
        && h % 2 == 0;
    let frame_bytes = if planes {
        // u32 sides: no overflow in a 64-bit usize.
        ward_pdq::Yuv420::frame_len(w as usize, h as usize).map_or(u64::MAX, |n| n as u64)
    } else {
        u64::from(w) * u64::from(h) * 3
    };
    if u64::from(w) * u64::from(h) > opts.max_frame_pixels {
        return Err(MediaError::FrameTooLarge {
            width: w,
            height: h,
            pixels: u64::from(w) * u64::from(h),
            limit: opts.max_frame_pixels,
        });
    }
    let frame_len = usize::try_from(frame_bytes)
        .map_err(|_| MediaError::TooMuchMemory(format!("{frame_bytes} bytes a frame")))?;
    let interval = vpdq::frame_interval(opts.seconds_per_hash, info.fps);
    let memory = opts.memory_limit(info.width.max(w), info.height.max(h));
    // Frames in flight: half the memory budget queued, half in the batch being hashed, and
    // no more than two per worker either way.
    let per_half = (opts.frame_memory / 2 / frame_bytes.max(1)).max(1);
    let batch_len = usize::try_from(per_half)
        .unwrap_or(usize::MAX)
        .min(2 * rayon::current_num_threads())
        .max(1);
    let mut pass = match (usable_worker(opts), source) {
        (Some(program), Source::File { url, demuxer }) if planes => worker_pass(
            program, url, demuxer, info, opts, deadline, crop, interval, memory,
        )?,
        _ => ffmpeg_pass(
            source,
            info,
            opts,
            crop,
            interval,
            (w, h),
            planes,
            memory,
            frame_len,
            batch_len,
        )?,
    };
    let (width, height) = (w as usize, h as usize);
    let whole = [Rect {
        x: 0,
        y: 0,
        width: w,
        height: h,
    }];
    let rects = if rects.is_empty() { &whole[..] } else { rects };
    let hash = |(index, buf): &(u32, Vec<u8>)| -> Result<Vec<VpdqFrame>, MediaError> {
        rects
            .iter()
            .map(|r| {
                let pdq = if r.width == w && r.height == h {
                    if planes {
                        let frame = ward_pdq::Yuv420::new(buf, width, height);
                        ward_pdq::pdq_yuv420(&frame.map_err(wrong_size)?)
                    } else {
                        ward_pdq::pdq(
                            &ward_pdq::Pixels::rgb(buf, width, height).map_err(wrong_size)?,
                        )
                    }
                } else if planes {
                    let cut = cut_yuv420(buf, width, height, *r);
                    let frame = ward_pdq::Yuv420::new(&cut, r.width as usize, r.height as usize);
                    ward_pdq::pdq_yuv420(&frame.map_err(wrong_size)?)
                } else {
                    let cut = cut_rgb(buf, width, *r);
                    let frame = ward_pdq::Pixels::rgb(&cut, r.width as usize, r.height as usize);
                    ward_pdq::pdq(&frame.map_err(wrong_size)?)
                };
                Ok(VpdqFrame {
                    frame: *index,
                    quality: pdq.quality,
                    hash: pdq.hash,
                    timestamp: vpdq::timestamp(*index, info.fps),
                })
            })
            .collect()
    };
    let mut out: Vec<Vec<VpdqFrame>> = vec![Vec::new(); rects.len()];
    let mut batch: Vec<(u32, Vec<u8>)> = Vec::with_capacity(batch_len);
    let mut flush = |batch: &mut Vec<(u32, Vec<u8>)>| -> Result<Vec<Vec<u8>>, MediaError> {
        let hashed: Result<Vec<Vec<VpdqFrame>>, MediaError> = batch.par_iter().map(hash).collect();
        for frame in hashed? {
            for (o, f) in out.iter_mut().zip(frame) {
                o.push(f);
            }
        }
        Ok(batch.drain(..).map(|(_, buf)| buf).collect())
    };
    let mut k: u64 = 0;
    loop {
        let buf = match pass.next(deadline, opts.timeout, k * u64::from(interval)) {
            Ok(Some(buf)) => buf,
            Ok(None) => break,
            Err(PassError::Media(e)) => return Err(e),
            Err(PassError::Retry) => {
                // A frame the worker cannot send exactly: the whole pass again, with ffmpeg.
                drop(pass);
                crate::av_worker::count_fallback();
                let mut opts = opts.clone();
                opts.av_worker = None;
                if let Some(s) = samples.as_deref_mut() {
                    s.clear();
                }
                return decode_and_hash_inner(source, info, &opts, deadline, crop, samples, rects);
            }
        };
        if let Some(s) = samples.as_deref_mut() {
            if !planes {
                s.offer(k, &buf);
            } else if s.wants(k) {
                // Border detection looks at pictures: RGB of the few sampled frames only.
                let frame = ward_pdq::Yuv420::new(&buf, width, height).map_err(wrong_size)?;
                s.offer(k, &frame.to_rgb());
            }
        }
        let index = k * u64::from(interval);
        k += 1;
        let seconds = index as f64 / info.fps;
        if seconds > opts.max_duration {
            return Err(MediaError::TooLong {
                seconds,
                limit: opts.max_duration,
            });
        }
        let index = u32::try_from(index).map_err(|_| MediaError::TooLong {
            seconds,
            limit: opts.max_duration,
        })?;
        batch.push((index, buf));
        if batch.len() == batch_len {
            for buf in flush(&mut batch)? {
                pass.recycle(buf);
            }
        }
    }
    flush(&mut batch)?;
    pass.finish(deadline, opts, frame_len)?;
    if out.first().is_none_or(Vec::is_empty) {
        return Err(MediaError::NotVideo(
            ": no frame could be decoded".to_owned(),
        ));
    }
    Ok(out)
}

/// Why a pass stopped early.
enum PassError {
    Media(MediaError),
    /// The worker met a frame it cannot send exactly: decode the file with ffmpeg.
    Retry,
}

impl From<MediaError> for PassError {
    fn from(e: MediaError) -> Self {
        PassError::Media(e)
    }
}

/// Where a pass's frames come from: an ffmpeg child, or a decoding worker.
enum Pass {
    Ffmpeg {
        rx: mpsc::Receiver<Vec<u8>>,
        free_tx: mpsc::Sender<Vec<u8>>,
        reader: JoinHandle<std::io::Result<usize>>,
        child: Reaper,
        stderr: JoinHandle<Stderr>,
        memory: u64,
    },
    Worker {
        worker: Worker,
        done: Option<serde_json::Value>,
        memory: u64,
    },
}

impl Pass {
    /// The next frame, expected to be the `index`-th decoded; `None` at the end.
    /// At `deadline`, the error names `limit`, the configured timeout.
    fn next(
        &mut self,
        deadline: Instant,
        limit: Duration,
        index: u64,
    ) -> Result<Option<Vec<u8>>, PassError> {
        let timeout = |_: Instant| PassError::Media(timeout_error(limit));
        match self {
            Pass::Ffmpeg { rx, .. } => {
                let now = Instant::now();
                if now >= deadline {
                    return Err(timeout(deadline));
                }
                match rx.recv_timeout(deadline - now) {
                    Ok(buf) => Ok(Some(buf)),
                    Err(mpsc::RecvTimeoutError::Timeout) => Err(timeout(deadline)),
                    Err(mpsc::RecvTimeoutError::Disconnected) => Ok(None),
                }
            }
            Pass::Worker {
                worker,
                done,
                memory,
            } => {
                if done.is_some() {
                    return Ok(None);
                }
                match worker.recv(deadline) {
                    None => Err(timeout(deadline)),
                    Some(Msg::Frame(i, buf)) if i == index => Ok(Some(buf)),
                    Some(Msg::Frame(i, _)) => Err(PassError::Media(MediaError::Ffmpeg(format!(
                        "the decoding worker sent frame {i} where {index} was due"
                    )))),
                    Some(Msg::Done(v)) => {
                        *done = Some(v);
                        Ok(None)
                    }
                    Some(Msg::Error(e)) if e["kind"] == "changed" => Err(PassError::Retry),
                    Some(Msg::Error(e)) => {
                        let message = e["message"].as_str().unwrap_or("no message");
                        Err(PassError::Media(
                            if message.contains("Cannot allocate memory") {
                                MediaError::TooMuchMemory(format!(
                                    "the decoder ran out of its {} MiB ({message})",
                                    *memory >> 20
                                ))
                            } else {
                                MediaError::Ffmpeg(message.to_owned())
                            },
                        ))
                    }
                    Some(Msg::Gone(m)) => Err(PassError::Media(MediaError::Ffmpeg(m))),
                    Some(Msg::Info(_)) => Err(PassError::Media(MediaError::Ffmpeg(
                        "the decoding worker answered out of turn".to_owned(),
                    ))),
                }
            }
        }
    }

    /// Gives a hashed frame's buffer back to the reader.
    fn recycle(&self, buf: Vec<u8>) {
        match self {
            // The reader may have finished: then the buffer is simply dropped.
            Pass::Ffmpeg { free_tx, .. } => {
                let _ = free_tx.send(buf);
            }
            Pass::Worker { worker, .. } => worker.recycle(buf),
        }
    }

    /// After the last frame: how the decoder ended.
    fn finish(
        self,
        deadline: Instant,
        opts: &VideoOptions,
        frame_len: usize,
    ) -> Result<(), MediaError> {
        match self {
            Pass::Ffmpeg {
                rx,
                free_tx,
                reader,
                mut child,
                stderr,
                memory,
            } => {
                drop((rx, free_tx));
                let torn = reader
                    .join()
                    .map_err(|_| MediaError::Ffmpeg("the frame reader panicked".to_owned()))?
                    .map_err(|e| MediaError::Ffmpeg(format!("reading frames: {e}")))?;
                let status = child.wait_until(deadline, opts.timeout)?;
                drop(child);
                let stderr = stderr.join().unwrap_or_default();
                if stderr.partial_file {
                    return Err(MediaError::TruncatedVideo);
                }
                if !status.success() {
                    if stderr.out_of_memory {
                        return Err(MediaError::TooMuchMemory(format!(
                            "ffmpeg ran out of its {} MiB ({})",
                            memory >> 20,
                            stderr.message()
                        )));
                    }
                    return Err(MediaError::Ffmpeg(stderr.message()));
                }
                if torn != 0 {
                    return Err(MediaError::Ffmpeg(format!(
                        "the last frame has {torn} of its {frame_len} bytes"
                    )));
                }
                Ok(())
            }
            Pass::Worker { worker, done, .. } => {
                let Some(done) = done else {
                    return Err(MediaError::Ffmpeg(
                        "the decoding worker stopped early".to_owned(),
                    ));
                };
                worker.checkin();
                if done["partial_file"] == true {
                    return Err(MediaError::TruncatedVideo);
                }
                Ok(())
            }
        }
    }
}

/// Starts ffmpeg decoding the pass's frames onto a pipe, and a thread reading them.
#[allow(clippy::too_many_arguments)]
fn ffmpeg_pass(
    source: &Source,
    info: &VideoInfo,
    opts: &VideoOptions,
    crop: Option<Rect>,
    interval: u32,
    (w, h): (u32, u32),
    planes: bool,
    memory: u64,
    frame_len: usize,
    batch_len: usize,
) -> Result<Pass, MediaError> {
    let mut args: Vec<OsString> = [
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-noautorotate",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    if opts.decoder_threads > 0 {
        // An input option: the decoder's threads (before `-i`).
        args.push("-threads".into());
        args.push(opts.decoder_threads.to_string().into());
    }
    args.extend(source.input_args());
    args.extend(
        [
            "-map".to_owned(),
            format!("0:{}", info.stream_index),
            "-an".to_owned(),
            "-sn".to_owned(),
            "-dn".to_owned(),
            // Every decoded frame, once: no frame-rate conversion duplicating or dropping.
            "-fps_mode".to_owned(),
            "passthrough".to_owned(),
            "-vf".to_owned(),
            filter_chain(interval, crop, w, h, planes),
            "-f".to_owned(),
            "rawvideo".to_owned(),
            "pipe:1".to_owned(),
        ]
        .into_iter()
        .map(OsString::from),
    );
    let mut child = Reaper::spawn(&opts.ffmpeg, &args, Some(memory))?;
    let stderr = Stderr::collect(&mut child.0);

    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(batch_len);
    let stdout = child.0.stdout.take();
    #[cfg(target_os = "linux")]
    if let Some(pipe) = &stdout {
        // A frame is hundreds of kilobytes: a 1 MiB pipe (Linux's default ceiling for
        // unprivileged processes) instead of 64 KiB wakes each side a tenth as often. Best
        // effort: a smaller pipe only costs time.
        let _ = rustix::pipe::fcntl_setpipe_size(pipe, 1 << 20);
    }
    // Reads whole frames; returns the byte count of a torn last frame (0 when none).
    // Hashed frames' buffers come back to the reader: no allocation, zeroing or page faults
    // per frame. At most the frames in flight above exist at once.
    let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
    let reader = thread::spawn(move || -> std::io::Result<usize> {
        let Some(mut pipe) = stdout else { return Ok(0) };
        loop {
            let mut buf = free_rx.try_recv().unwrap_or_else(|_| vec![0u8; frame_len]);
            let mut got = 0;
            while got < frame_len {
                match pipe.read(&mut buf[got..]) {
                    Ok(0) => return Ok(got),
                    Ok(n) => got += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            if tx.send(buf).is_err() {
                // The receiver gave up (an error or the deadline): stop reading.
                return Ok(0);
            }
        }
    });
    Ok(Pass::Ffmpeg {
        rx,
        free_tx,
        reader,
        child,
        stderr,
        memory,
    })
}

/// Asks a decoding worker for the pass's frames: packed 4:2:0 planes of the whole frame or
/// of `crop`, every `interval`-th decoded frame.
#[allow(clippy::too_many_arguments)]
fn worker_pass(
    program: &Path,
    url: &std::ffi::OsStr,
    demuxer: &str,
    info: &VideoInfo,
    opts: &VideoOptions,
    deadline: Instant,
    crop: Option<Rect>,
    interval: u32,
    memory: u64,
) -> Result<Pass, MediaError> {
    let mut worker = Worker::checkout(program)?;
    worker.send(&open_request(
        url,
        demuxer,
        opts.decoder_threads,
        false,
        memory,
    ))?;
    match worker.recv(deadline) {
        None => return Err(timeout_error(opts.timeout)),
        Some(Msg::Info(v)) => {
            // The same stream as probed, or the pass would not line up.
            let again = info_from_probe(&v, opts)?;
            if (
                again.stream_index,
                again.width,
                again.height,
                &again.pix_fmt,
            ) != (info.stream_index, info.width, info.height, &info.pix_fmt)
            {
                return Err(MediaError::Ffmpeg(
                    "the stream changed between probing and decoding".to_owned(),
                ));
            }
        }
        Some(Msg::Error(e)) => return Err(worker_open_error(&e, opts, memory)),
        Some(Msg::Gone(m)) => return Err(MediaError::Ffmpeg(m)),
        Some(_) => {
            return Err(MediaError::Ffmpeg(
                "the decoding worker answered out of turn".to_owned(),
            ))
        }
    }
    let r = crop.unwrap_or(Rect {
        x: 0,
        y: 0,
        width: info.width,
        height: info.height,
    });
    worker.send(&serde_json::json!({
        "op": "decode",
        "interval": interval,
        "rect": [r.x, r.y, r.width, r.height],
        "memory": memory,
    }))?;
    Ok(Pass::Worker {
        worker,
        done: None,
        memory,
    })
}

/// The rectangle `r` of a packed 4:2:0 frame `width` pixels wide, packed; `r`'s corners on
/// even pixels, so the chroma samples are the frame's own (what ffmpeg's `crop` gives).
fn cut_yuv420(buf: &[u8], width: usize, height: usize, r: Rect) -> Vec<u8> {
    let (x, y, rw, rh) = (
        r.x as usize,
        r.y as usize,
        r.width as usize,
        r.height as usize,
    );
    let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
    let mut out = Vec::with_capacity(ward_pdq::Yuv420::frame_len(rw, rh).unwrap_or(0));
    for row in y..y + rh {
        out.extend_from_slice(&buf[row * width + x..row * width + x + rw]);
    }
    for plane in 0..2 {
        let base = width * height + plane * cw * ch;
        for row in y / 2..(y + rh).div_ceil(2) {
            let start = base + row * cw + x / 2;
            out.extend_from_slice(&buf[start..start + rw.div_ceil(2)]);
        }
    }
    out
}

/// The rectangle `r` of a packed RGB24 frame `width` pixels wide, packed.
fn cut_rgb(buf: &[u8], width: usize, r: Rect) -> Vec<u8> {
    let (x, y, rw, rh) = (
        r.x as usize,
        r.y as usize,
        r.width as usize,
        r.height as usize,
    );
    let mut out = Vec::with_capacity(rw * rh * 3);
    for row in y..y + rh {
        let start = (row * width + x) * 3;
        out.extend_from_slice(&buf[start..start + rw * 3]);
    }
    out
}

/// A frame from ffmpeg that is not the size it was asked for.
fn wrong_size(e: ward_pdq::PdqError) -> MediaError {
    MediaError::Ffmpeg(format!("frame of the wrong size: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The video tests need FFmpeg (`.ci/run` installs it); say so instead of passing quietly.
    fn require_ffmpeg() {
        let ok = Command::new("ffmpeg")
            .arg("-version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "these tests need ffmpeg on PATH: apt-get install ffmpeg"
        );
    }

    #[test]
    fn sniffs_containers_by_magic_bytes() {
        let mut mp4 = b"\0\0\0\x20ftypisom\0\0\x02\0".to_vec();
        assert_eq!(sniff_video(&mp4), Some("mov"));
        mp4[8..12].copy_from_slice(b"heic");
        assert_eq!(sniff_video(&mp4), None, "HEIF is a still image");
        assert_eq!(sniff_video(b"\x1a\x45\xdf\xa3\x01"), Some("matroska"));
        assert_eq!(sniff_video(b"RIFF\0\0\0\0AVI LIST"), Some("avi"));
        assert_eq!(sniff_video(b"RIFF\0\0\0\0WAVEfmt "), None);
        let mut ts = vec![0u8; 512];
        for i in [0, 188, 376] {
            ts[i] = 0x47;
        }
        assert_eq!(sniff_video(&ts), Some("mpegts"));
        assert_eq!(sniff_video(b"hello, I am text"), None);
        assert_eq!(sniff_video(b""), None);
    }

    #[test]
    fn rates_parse_and_reject_nonsense() {
        assert_eq!(parse_rate("30/1"), Some(30.0));
        assert!((parse_rate("30000/1001").unwrap() - 29.97).abs() < 1e-3);
        for bad in ["0/0", "1/0", "x/1", "30", "-30/1"] {
            assert_eq!(parse_rate(bad), None, "{bad}");
        }
    }

    #[test]
    fn filter_selects_before_converting() {
        assert_eq!(
            filter_chain(30, None, 128, 128, false),
            "select=not(mod(n\\,30)),setparams=range=unknown:colorspace=unknown,scale=128:128:flags=area,format=rgb24"
        );
        assert!(filter_chain(1, None, 8, 8, false).starts_with("setparams="));
        let content = Rect {
            x: 32,
            y: 0,
            width: 416,
            height: 720,
        };
        assert_eq!(
            filter_chain(1, Some(content), 416, 720, false),
            "crop=416:720:32:0,setparams=range=unknown:colorspace=unknown,scale=416:720:flags=area,format=rgb24"
        );
        // Planes: no colour conversion in ffmpeg at all.
        assert_eq!(
            filter_chain(30, Some(content), 416, 720, true),
            "select=not(mod(n\\,30)),crop=416:720:32:0,scale=416:720:flags=area,format=yuv420p"
        );
    }

    #[test]
    fn samples_stay_few_and_spread() {
        let mut s = Samples::new(4, 4, 1 << 20);
        assert_eq!(s.keep, 6);
        for k in 0..1000u64 {
            s.offer(k, &[k as u8; 48]);
        }
        let ks: Vec<u64> = s.frames.iter().map(|(k, _)| *k).collect();
        assert!((6..12).contains(&ks.len()), "{ks:?}");
        assert_eq!(ks[0], 0);
        assert!(ks.windows(2).all(|w| w[1] - w[0] == s.stride), "{ks:?}");
        assert!(*ks.last().unwrap() >= 500, "{ks:?}");
        // Large frames: fewer held, at least two.
        assert_eq!(Samples::new(7680, 4320, 512 << 20).keep, 1);
    }

    #[test]
    fn nested_bars_give_the_frames_before_more_bars() {
        // A 480x720 portrait video with pillar bars of its own (content 416 wide),
        // letterboxed to 480x960: bars on both axes, so each axis alone.
        let c = Rect {
            x: 32,
            y: 120,
            width: 416,
            height: 720,
        };
        let n = nested_frames(c, 480, 960, 2);
        assert_eq!(
            n,
            [
                Rect {
                    x: 0,
                    y: 120,
                    width: 480,
                    height: 720
                },
                Rect {
                    x: 32,
                    y: 0,
                    width: 416,
                    height: 960
                },
            ]
        );
        // The same video pillarboxed to 1280x720: its own bars merge with the added ones;
        // the 2:3 frame centred is among the guesses, the whole frame and the content not.
        let c = Rect {
            x: 432,
            y: 0,
            width: 416,
            height: 720,
        };
        let n = nested_frames(c, 1280, 720, 2);
        assert!(
            n.contains(&Rect {
                x: 400,
                y: 0,
                width: 480,
                height: 720
            }),
            "{n:?}"
        );
        assert!(
            n.iter()
                .all(|r| r.width > 416 && r.width < 1280 && r.height == 720),
            "{n:?}"
        );
        // Bars on one axis that leave the content no bars of its own: nothing to guess;
        // a square video with bars of its own, letterboxed to 1080x1440: its square frame.
        let c = Rect {
            x: 0,
            y: 180,
            width: 1080,
            height: 1080,
        };
        assert!(
            nested_frames(c, 1080, 1440, 2).is_empty(),
            "content leaves no bars of its own"
        );
        let c = Rect {
            x: 0,
            y: 300,
            width: 1080,
            height: 840,
        };
        assert!(nested_frames(c, 1080, 1440, 2).contains(&Rect {
            x: 0,
            y: 180,
            width: 1080,
            height: 1080
        }));
        // No bars: nothing.
        assert!(nested_frames(
            Rect {
                x: 0,
                y: 0,
                width: 640,
                height: 360
            },
            640,
            360,
            2
        )
        .is_empty());
    }

    #[test]
    fn cuts_keep_the_planes_aligned() {
        // A 6x4 4:2:0 frame: Y = 10*row + col, U = 100 + 10*row + col, V = 200 + ...
        let (w, h) = (6usize, 4usize);
        let mut buf: Vec<u8> = (0..h)
            .flat_map(|r| (0..w).map(move |c| (10 * r + c) as u8))
            .collect();
        for base in [100, 200] {
            buf.extend((0..2).flat_map(|r| (0..3).map(move |c| (base + 10 * r + c) as u8)));
        }
        let cut = cut_yuv420(
            &buf,
            w,
            h,
            Rect {
                x: 2,
                y: 2,
                width: 4,
                height: 2,
            },
        );
        assert_eq!(cut, [22, 23, 24, 25, 32, 33, 34, 35, 111, 112, 211, 212]);
        let rgb: Vec<u8> = (0..2 * 3 * 3).map(|i| i as u8).collect();
        assert_eq!(
            cut_rgb(
                &rgb,
                3,
                Rect {
                    x: 1,
                    y: 1,
                    width: 2,
                    height: 1
                }
            ),
            [12, 13, 14, 15, 16, 17]
        );
    }

    #[test]
    fn rects_scale_inward() {
        let r = Rect {
            x: 9,
            y: 0,
            width: 110,
            height: 128,
        };
        let big = scale_rect_inward(r, (128, 128), (480, 720), 2).unwrap();
        // 9 * 480 / 128 = 33.75 -> 34; 119 * 480 / 128 = 446.25 -> 446.
        assert_eq!((big.x, big.width, big.y, big.height), (34, 412, 0, 720));
        assert_eq!(scale_rect_inward(r, (128, 128), (128, 128), 2), Some(r));
    }

    /// A lavfi source never ends: the deadline fires, the child is killed, and the call
    /// returns promptly.
    #[test]
    fn never_ending_source_hits_the_timeout() {
        require_ffmpeg();
        let opts = VideoOptions {
            timeout: Duration::from_millis(1500),
            seconds_per_hash: 0.0,
            ..VideoOptions::default()
        };
        let source = Source::Lavfi("testsrc=size=64x64:rate=25".to_owned());
        let start = Instant::now();
        let deadline = start + opts.timeout;
        let info = probe(&source, &opts, deadline).unwrap();
        assert_eq!((info.width, info.height, info.fps), (64, 64, 25.0));
        let err = decode_and_hash(&source, &info, &opts, deadline, None, None).unwrap_err();
        assert!(matches!(err, MediaError::Timeout { .. }), "{err}");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }

    /// With a generous deadline, the duration bound stops the same endless source.
    #[test]
    fn never_ending_source_hits_the_duration_limit() {
        require_ffmpeg();
        let opts = VideoOptions {
            timeout: Duration::from_secs(60),
            max_duration: 2.0,
            seconds_per_hash: 0.5,
            ..VideoOptions::default()
        };
        let source = Source::Lavfi("testsrc=size=32x32:rate=50".to_owned());
        let deadline = Instant::now() + opts.timeout;
        let info = probe(&source, &opts, deadline).unwrap();
        let err = decode_and_hash(&source, &info, &opts, deadline, None, None).unwrap_err();
        match err {
            MediaError::TooLong { seconds, limit } => {
                assert_eq!(limit, 2.0);
                assert!(seconds > 2.0 && seconds < 3.0, "{seconds}");
            }
            other => panic!("{other}"),
        }
    }
}
