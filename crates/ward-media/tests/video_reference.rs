//! vPDQ of the reference's sample videos against the reference's own output.
//!
//! `hashes-ffmpeg5.1/` was made by Meta's C++ vPDQ built on the FFmpeg this machine has, so
//! the frames, timestamps and counts must be the same and the hashes identical wherever the
//! pixels are. `hashes/` (the reference on another FFmpeg build) is compared and printed
//! only: its pixels differ.

use std::path::{Path, PathBuf};
use ward_media::{hash_video_file, VideoOptions, VideoSignals};
use ward_pdq::vpdq::{parse_lines, VpdqFrame};

fn vpdq_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/vpdq")
}

fn videos() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(vpdq_dir().join("videos"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "mp4"))
        .map(|p| p.file_stem().unwrap().to_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 14, "{names:?}");
    names
}

fn hash(name: &str, downscale: Option<(u32, u32)>, seconds_per_hash: f64) -> VideoSignals {
    let opts = VideoOptions {
        seconds_per_hash,
        downscale,
        ..VideoOptions::default()
    };
    let path = vpdq_dir().join("videos").join(format!("{name}.mp4"));
    hash_video_file(&path, &opts).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn expected(dir: &str, file: &str) -> Option<Vec<VpdqFrame>> {
    let text = std::fs::read_to_string(vpdq_dir().join(dir).join(file)).ok()?;
    Some(parse_lines(&text).unwrap())
}

/// How close one run is to a reference file.
#[derive(Default)]
struct Agreement {
    frames: usize,
    identical: usize,
    /// Largest distance among frames of quality >= 50 on both sides.
    max_good: u32,
    /// Distances of quality >= 50 frames in buckets 0, 1-2, 3-4, 5-6, 7-10, 11-16, 17+.
    buckets: [usize; 7],
}

impl Agreement {
    fn of(ours: &[VpdqFrame], theirs: &[VpdqFrame], what: &str) -> Agreement {
        assert_eq!(ours.len(), theirs.len(), "{what}: frame count");
        let mut a = Agreement {
            frames: ours.len(),
            ..Agreement::default()
        };
        for (o, t) in ours.iter().zip(theirs) {
            assert_eq!(o.frame, t.frame, "{what}: frame number");
            assert_eq!(
                format!("{:.3}", o.timestamp),
                format!("{:.3}", t.timestamp),
                "{what}: timestamp of frame {}",
                o.frame
            );
            let d = o.hash.distance(&t.hash);
            a.identical += usize::from(d == 0);
            if o.quality >= 50 && t.quality >= 50 {
                a.max_good = a.max_good.max(d);
                let b = match d {
                    0 => 0,
                    1..=2 => 1,
                    3..=4 => 2,
                    5..=6 => 3,
                    7..=10 => 4,
                    11..=16 => 5,
                    _ => 6,
                };
                a.buckets[b] += 1;
            }
        }
        a
    }

    fn line(&self, what: &str) -> String {
        format!(
            "{what:<40} {:>4} frames, identical {:>4} ({:>5.1} %), max {:>2} bits; q>=50 by distance 0|1-2|3-4|5-6|7-10|11-16|17+: {:?}",
            self.frames,
            self.identical,
            100.0 * self.identical as f64 / self.frames.max(1) as f64,
            self.max_good,
            self.buckets
        )
    }
}

/// The tolerance the issue sets on quality >= 50 frames (the low-detail doorknob is looser).
fn tolerance(name: &str) -> u32 {
    if name.starts_with("doorknob") {
        24
    } else {
        10
    }
}

fn check(name: &str, downscale: Option<(u32, u32)>) -> (Agreement, Option<Agreement>) {
    let file = match downscale {
        Some(_) => format!("{name}-128x128.txt"),
        None => format!("{name}.txt"),
    };
    let ours = hash(name, downscale, 0.0).vpdq;
    let want = expected("hashes-ffmpeg5.1", &file).unwrap();
    let same = Agreement::of(&ours, &want, &file);
    assert!(
        same.max_good <= tolerance(name),
        "{}",
        same.line(&format!("{file} vs ffmpeg5.1"))
    );
    // The upstream files lack some variants (test-padded-dimensions-128x128).
    let upstream = expected("hashes", &file).map(|up| Agreement::of(&ours, &up, &file));
    (same, upstream)
}

fn report(rows: &[(String, Agreement, Option<Agreement>)]) {
    let mut total = (0, 0);
    for (file, same, up) in rows {
        println!("{}", same.line(&format!("{file} vs hashes-ffmpeg5.1")));
        if let Some(up) = up {
            println!("{}", up.line(&format!("{file} vs hashes")));
        }
        total.0 += same.identical;
        total.1 += same.frames;
    }
    println!(
        "identical to hashes-ffmpeg5.1: {} of {} frames",
        total.0, total.1
    );
}

/// Every sample video at its own size, every frame.
#[test]
fn every_video_full_size_every_frame() {
    let rows: Vec<_> = videos()
        .iter()
        .map(|n| {
            let (same, up) = check(n, None);
            (format!("{n}.txt"), same, up)
        })
        .collect();
    report(&rows);
    // FFmpeg 5.1 and the same conversion: the very same pixels, so the very same hashes.
    for (file, same, _) in &rows {
        assert_eq!(same.identical, same.frames, "{file}");
    }
}

/// The reference's 128×128 mode, on one video of each family and the odd-sized one (all of
/// them take twice as long as the suite's budget allows; the full-size test covers every
/// video).
#[test]
fn downscaled_128x128_every_frame() {
    let rows: Vec<_> = [
        "chair-19-sd-bar",
        "doorknob-hd-no-bar",
        "pattern-hd-no-bar",
        "test-padded-dimensions",
    ]
    .iter()
    .map(|n| {
        let (same, up) = check(n, Some((128, 128)));
        (format!("{n}-128x128.txt"), same, up)
    })
    .collect();
    report(&rows);
    for (file, same, _) in &rows {
        assert_eq!(same.identical, same.frames, "{file}");
    }
}

/// One hash a second is the every-frame output thinned to every 30th frame (30 fps), with
/// the frames chosen inside ffmpeg rather than here.
#[test]
fn one_second_sampling_is_every_thirtieth_frame() {
    let name = "pattern-sd-grey-bar";
    let every = expected("hashes-ffmpeg5.1", &format!("{name}.txt")).unwrap();
    let s = hash(name, None, 1.0);
    assert_eq!(s.info.fps, 30.0);
    let want: Vec<VpdqFrame> = every.into_iter().filter(|f| f.frame % 30 == 0).collect();
    assert_eq!(s.vpdq.len(), want.len());
    for (o, w) in s.vpdq.iter().zip(&want) {
        assert_eq!(o.to_string(), w.to_string());
    }
    // The digests are of the file's bytes.
    let bytes = std::fs::read(vpdq_dir().join("videos").join(format!("{name}.mp4"))).unwrap();
    assert_eq!(s.digests, ward_media::Digests::of(&bytes));
    assert_eq!((s.info.width, s.info.height), (480, 720));
    assert_eq!(s.info.frame_count, Some(206));
}
