//! `ward hash PATH...`: images get PDQ, videos vPDQ (told apart by content), every file MD5
//! and SHA-256.

use super::MediaArgs;
use crate::output::{self, Progress};
use rayon::prelude::*;
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use ward_media::regions::Candidate;
use ward_media::{HashOptions, MediaSignals, VideoOptions, VideoSignals};

#[derive(clap::Args, Debug)]
pub struct HashArgs {
    /// Files and folders (folders are walked recursively).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// One JSON object per line, with MD5, SHA-256 and dimensions.
    #[arg(long, conflicts_with = "format")]
    json: bool,
    /// Text format: `ward` prints `pdq,HASH,QUALITY,PATH` for an image and
    /// `vpdq,FRAME,QUALITY,HASH,TIMESTAMP,PATH` per hashed frame of a video; `vpdq` prints the
    /// reference's vPDQ file format `FRAME,QUALITY,HASH,TIMESTAMP` (videos only).
    #[arg(long, value_enum, default_value_t = Format::Ward)]
    format: Format,
    /// Also the eight rotations/flips of images (JSON: "pdq_dihedral", in the reference's
    /// order).
    #[arg(long)]
    dihedral: bool,
    /// Images: also the candidate regions edit-robust matching hashes (content inside
    /// borders, without a caption band, the photo in a screenshot), with --json as
    /// "regions": [{"via", "x", "y", "width", "height", "pdq", "quality"}].
    #[arg(long, requires = "json")]
    regions: bool,
    /// Videos: hash one frame every S seconds (every int(S × fps)-th frame); 0 hashes every
    /// frame. 1 is the reference's default and the hash lists' convention.
    #[arg(long, default_value_t = 1.0, value_name = "S")]
    seconds_per_hash: f64,
    /// Videos: scale frames to N×N before hashing (the reference's 128×128 mode is 128);
    /// 0 hashes every pixel.
    #[arg(long, default_value_t = 0, value_name = "N")]
    vpdq_downscale: u32,
    /// Videos: stop ffmpeg and report an error after this many seconds per file.
    #[arg(long, default_value_t = 600.0, value_name = "SECONDS")]
    timeout: f64,
    /// Videos: refuse videos longer than this many seconds.
    #[arg(long, default_value_t = 4.0 * 3600.0, value_name = "SECONDS")]
    max_duration: f64,
    /// Videos: refuse frames with more pixels than this (width × height).
    #[arg(long, default_value_t = 40_000_000, value_name = "N")]
    max_frame_pixels: u64,
    /// Videos: refuse files larger than this many bytes.
    #[arg(long, default_value_t = 4 << 30, value_name = "N")]
    max_video_bytes: u64,
    #[command(flatten)]
    media: MediaArgs,
}

/// The text output formats.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// ward's lines: a signal type, its fields, the path.
    Ward,
    /// The reference's vPDQ lines, `frame,quality,hash,timestamp`.
    Vpdq,
}

impl HashArgs {
    /// Checks the video flags and builds the library's options.
    fn video_options(&self) -> anyhow::Result<VideoOptions> {
        anyhow::ensure!(
            self.seconds_per_hash.is_finite() && self.seconds_per_hash >= 0.0,
            "--seconds-per-hash must be 0 or more"
        );
        anyhow::ensure!(
            self.timeout.is_finite() && self.timeout > 0.0,
            "--timeout must be more than 0 seconds"
        );
        anyhow::ensure!(
            self.max_duration.is_finite() && self.max_duration > 0.0,
            "--max-duration must be more than 0 seconds"
        );
        anyhow::ensure!(
            self.vpdq_downscale == 0 || self.vpdq_downscale >= 5,
            "--vpdq-downscale must be 0 (off) or at least 5 (PDQ's smallest image)"
        );
        Ok(VideoOptions {
            max_bytes: self.max_video_bytes,
            timeout: Duration::from_secs_f64(self.timeout),
            max_duration: self.max_duration,
            max_frame_pixels: self.max_frame_pixels,
            seconds_per_hash: self.seconds_per_hash,
            downscale: (self.vpdq_downscale > 0)
                .then_some((self.vpdq_downscale, self.vpdq_downscale)),
            ..VideoOptions::default()
        })
    }
}

pub fn run(args: HashArgs) -> anyhow::Result<ExitCode> {
    let opts = HashOptions {
        decode: args.media.decode_options(),
        dihedral: args.dihedral,
    };
    let mut video = args.video_options()?;
    let files = output::expand_paths(&args.paths);
    let pool = args.media.thread_pool()?;
    if files.len() > 1 && pool.current_num_threads() > 1 {
        // Several files at once keep every core busy: one decoder thread each is cheaper than
        // ffmpeg's frame threading (which pays only for a lone file).
        video.decoder_threads = 1;
    }
    let progress = Progress::new(files.len() as u64);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut failed = false;
    // Chunks keep the output in input order while every core works on a chunk. A video's
    // frames are hashed on the same pool, so a lone video still uses every core.
    for chunk in files.chunks(256) {
        // Largest files first, each core taking the next as it frees up, so that a long video
        // does not start last and leave the other cores idle while it finishes.
        let mut order: Vec<(u64, usize)> = chunk
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let size = f.as_ref().ok().and_then(|p| std::fs::metadata(p).ok());
                (size.map_or(0, |m| m.len()), i)
            })
            .collect();
        order.sort_unstable_by(|a, b| b.cmp(a));
        let done: Vec<(usize, Result<_, String>)> = pool.install(|| {
            order
                .into_iter()
                .par_bridge()
                .map(|(_, i)| {
                    let r = match &chunk[i] {
                        Ok(path) => {
                            hash_one(path, &opts, &video, args.regions).map_err(|e| e.to_string())
                        }
                        Err((_, e)) => Err(e.clone()),
                    };
                    progress.inc();
                    (i, r)
                })
                .collect()
        });
        let mut results: Vec<Option<Result<_, String>>> = (0..chunk.len()).map(|_| None).collect();
        for (i, r) in done {
            results[i] = Some(r);
        }
        let results = results.into_iter().map(|r| {
            r.unwrap_or_else(|| Err("internal error: the file was not hashed".to_owned()))
        });
        for (f, r) in chunk.iter().zip(results) {
            let path = match f {
                Ok(p) => p,
                Err((p, _)) => p,
            };
            // Output errors (a closed pipe) end the run; the others are the file's.
            let r = match r {
                Ok((s, regions)) => write_signals(&mut out, &args, path, &s, regions.as_deref())?,
                Err(e) => Err(e),
            };
            if let Err(e) = r {
                failed = true;
                if args.json {
                    let v = json!({"path": output::path_str(path), "error": e});
                    output::write_json_line(&mut out, &v)?;
                } else {
                    out.flush()?;
                    progress.suspend(|| eprintln!("{}: {e}", path.display()));
                }
            }
        }
        out.flush()?;
    }
    progress.finish();
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints one file's signals in the chosen format. The outer `Err` is the output's failure,
/// the inner one a message about the file.
fn write_signals(
    out: &mut impl Write,
    args: &HashArgs,
    path: &Path,
    s: &MediaSignals,
    regions: Option<&[Candidate]>,
) -> std::io::Result<Result<(), String>> {
    match (s, args.json, args.format) {
        (MediaSignals::Image(s), true, _) => {
            let mut v = output::signals_json(path, s);
            if let Some(c) = regions {
                v["regions"] = regions_json(c);
            }
            output::write_json_line(out, &v)?
        }
        (MediaSignals::Video(v), true, _) => output::write_json_line(out, &video_json(path, v))?,
        (MediaSignals::Image(s), false, Format::Ward) => writeln!(
            out,
            "pdq,{},{},{}",
            s.pdq.hash,
            s.pdq.quality,
            path.display()
        )?,
        (MediaSignals::Image(_), false, Format::Vpdq) => {
            return Ok(Err(
                "an image: --format vpdq prints the frames of videos only".to_owned(),
            ))
        }
        (MediaSignals::Video(v), false, Format::Ward) => {
            for f in &v.vpdq {
                writeln!(
                    out,
                    "vpdq,{},{},{},{:.3},{}",
                    f.frame,
                    f.quality,
                    f.hash,
                    f.timestamp,
                    path.display()
                )?;
            }
        }
        (MediaSignals::Video(v), false, Format::Vpdq) => {
            out.write_all(ward_pdq::vpdq::format_lines(&v.vpdq).as_bytes())?
        }
    }
    Ok(Ok(()))
}

/// Hashes one file; with `regions`, an image's candidate regions too (one decode).
fn hash_one(
    path: &Path,
    opts: &HashOptions,
    video: &VideoOptions,
    regions: bool,
) -> Result<(MediaSignals, Option<Vec<Candidate>>), ward_media::MediaError> {
    if regions && ward_media::is_image_file(path)? {
        let extra = ward_media::ExtraOptions {
            regions: Some(ward_media::regions::RegionOptions::default()),
            derived: false,
        };
        let (s, x) = ward_media::hash_file_extra(path, opts, &extra)?;
        return Ok((MediaSignals::Image(s), Some(x.candidates)));
    }
    Ok((ward_media::hash_media_file(path, opts, video)?, None))
}

/// `"regions"`: each region found (not the whole image), as found (transform 0).
fn regions_json(candidates: &[Candidate]) -> Value {
    candidates
        .iter()
        .filter(|c| c.dihedral == 0)
        .filter_map(|c| {
            let r = c.region?;
            Some(json!({
                "via": r.kind.name(),
                "x": r.rect.x,
                "y": r.rect.y,
                "width": r.rect.width,
                "height": r.rect.height,
                "pdq": c.hash.to_hex(),
                "quality": c.quality,
            }))
        })
        .collect()
}

/// The `--json` object of a video.
fn video_json(path: &Path, v: &VideoSignals) -> Value {
    // Timestamps as the reference prints them (milliseconds), not the f32 quotient's tail.
    let ms = |t: f64| (t * 1000.0).round() / 1000.0;
    let frames: Vec<Value> = v
        .vpdq
        .iter()
        .map(|f| {
            json!({
                "frame": f.frame,
                "quality": f.quality,
                "hash": f.hash.to_hex(),
                "timestamp": ms(f.timestamp),
            })
        })
        .collect();
    json!({
        "path": output::path_str(path),
        "vpdq": frames,
        "md5": v.digests.md5_hex(),
        "sha256": v.digests.sha256_hex(),
        "width": v.info.width,
        "height": v.info.height,
        "fps": v.info.fps,
        "duration": v.info.duration,
    })
}
