//! Broken, hostile and never-ending videos: a precise error each, promptly, no panic, and
//! ffmpeg never left running.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use ward_media::{
    hash_media_file, hash_video_file, HashOptions, MediaError, MediaSignals, VideoOptions,
};

fn video(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/vpdq/videos")
        .join(name)
}

/// `pattern-sd-grey-bar.mp4`: 6.9 s, 480×720, its index (`moov`) at the front.
fn sample() -> PathBuf {
    video("pattern-sd-grey-bar.mp4")
}

fn opts() -> VideoOptions {
    VideoOptions {
        timeout: Duration::from_secs(30),
        ..VideoOptions::default()
    }
}

/// Hashes `path` and returns the error, checking it came back promptly.
fn fails(path: &Path, opts: &VideoOptions) -> MediaError {
    let start = Instant::now();
    let r = hash_video_file(path, opts);
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    match r {
        Ok(s) => panic!("{}: hashed {} frames", path.display(), s.vpdq.len()),
        Err(e) => e,
    }
}

fn ffmpeg(args: &[&str]) {
    let st = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .status()
        .expect("these tests need ffmpeg on PATH: apt-get install ffmpeg");
    assert!(st.success(), "ffmpeg {args:?}");
}

#[test]
fn truncated_mp4_data_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(sample()).unwrap();
    // The index survives, the frames it points at do not.
    let p = dir.path().join("half.mp4");
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let err = fails(&p, &opts());
    assert!(matches!(err, MediaError::TruncatedVideo), "{err}");
    assert_eq!(
        err.to_string(),
        "truncated video: the file ends before the video data does"
    );
    // The index itself is cut: ffprobe cannot read the header.
    let p = dir.path().join("head.mp4");
    std::fs::write(&p, &bytes[..3000]).unwrap();
    let err = fails(&p, &opts());
    assert!(matches!(err, MediaError::NotVideo(_)), "{err}");
    assert!(
        err.to_string().contains("not a video ffmpeg can read"),
        "{err}"
    );
}

#[test]
fn text_named_mp4_is_not_a_video() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("clip.mp4");
    std::fs::write(&p, "this is not a video, only text with a video's name\n").unwrap();
    let err = fails(&p, &opts());
    assert!(matches!(err, MediaError::NotVideo(_)), "{err}");
    assert!(err.to_string().contains("looks like text"), "{err}");
    // Through the image-or-video entry point, the message names both.
    let err = hash_media_file(&p, &HashOptions::default(), &opts()).unwrap_err();
    assert!(matches!(err, MediaError::NotMedia(_)), "{err}");
    assert!(err.to_string().contains("or video"), "{err}");
    // Empty stays empty.
    let p = dir.path().join("empty.mp4");
    std::fs::write(&p, b"").unwrap();
    assert!(matches!(fails(&p, &opts()), MediaError::Empty));
}

#[test]
fn audio_only_mp4_has_no_video_stream() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("tone.mp4");
    let out = p.to_str().unwrap();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=1",
        "-c:a",
        "aac",
        out,
    ]);
    let err = fails(&p, &opts());
    assert!(matches!(err, MediaError::NoVideoStream(_)), "{err}");
    assert_eq!(
        err.to_string(),
        "no video stream in the file: it has audio only"
    );
}

#[test]
fn a_fifo_is_refused_before_anything_reads_it() {
    // A FIFO is a file that never ends until its writer says so: reading it (to digest it,
    // or in ffprobe) would wait forever. Nothing writes to this one.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("stream.mp4");
    let st = Command::new("mkfifo").arg(&p).status().unwrap();
    assert!(st.success());
    let err = fails(&p, &opts());
    assert!(matches!(err, MediaError::NotAFile), "{err}");
    let err = hash_media_file(&p, &HashOptions::default(), &opts()).unwrap_err();
    assert!(matches!(err, MediaError::NotAFile), "{err}");
}

#[test]
fn the_timeout_stops_ffmpeg() {
    // Far too little time for a 6.9 s video at full size: the deadline fires mid-decode or
    // mid-probe, and the call returns at once with the child killed.
    for ms in [1, 300] {
        let o = VideoOptions {
            timeout: Duration::from_millis(ms),
            seconds_per_hash: 0.0,
            ..opts()
        };
        let start = Instant::now();
        let err = fails(&video("pattern-hd-no-bar.mp4"), &o);
        assert!(matches!(err, MediaError::Timeout { .. }), "{ms} ms: {err}");
        assert!(
            start.elapsed() < Duration::from_millis(ms + 1500),
            "{:?}",
            start.elapsed()
        );
        assert!(err.to_string().contains("raise it with --timeout"), "{err}");
    }
}

#[test]
fn limits_are_checked_before_decoding() {
    let o = VideoOptions {
        max_duration: 5.0,
        ..opts()
    };
    let err = fails(&sample(), &o);
    assert!(
        matches!(err, MediaError::TooLong { seconds, limit } if seconds > 6.8 && limit == 5.0),
        "{err}"
    );
    let o = VideoOptions {
        max_frame_pixels: 480 * 720 - 1,
        ..opts()
    };
    let err = fails(&sample(), &o);
    assert!(
        matches!(
            err,
            MediaError::FrameTooLarge {
                width: 480,
                height: 720,
                ..
            }
        ),
        "{err}"
    );
    let o = VideoOptions {
        max_bytes: 1000,
        ..opts()
    };
    assert!(matches!(
        fails(&sample(), &o),
        MediaError::TooManyBytes { limit: 1000 }
    ));
}

#[test]
fn memory_limit_stops_the_decoder() {
    // 40 MiB of data memory cannot hold ffmpeg's decoder and filter chain for 480x720
    // frames: the allocation fails in the child and the file gets a memory error.
    let o = VideoOptions {
        max_memory: Some(40 << 20),
        ..opts()
    };
    let err = fails(&sample(), &o);
    assert!(matches!(err, MediaError::TooMuchMemory(_)), "{err}");
    // The automatic limit leaves room for the same file.
    let v = hash_video_file(&sample(), &opts()).unwrap();
    assert_eq!(v.vpdq.len(), 7);
    assert!(opts().auto_memory_limit(480, 720) >= 256 << 20);
}

#[test]
fn missing_ffmpeg_is_named() {
    let o = VideoOptions {
        ffprobe: "/nonexistent/ffprobe".into(),
        ..opts()
    };
    let err = fails(&sample(), &o);
    assert!(matches!(err, MediaError::FfmpegMissing { .. }), "{err}");
    assert!(err.to_string().contains("apt-get install ffmpeg"), "{err}");
}

#[test]
fn corrupt_frames_do_not_crash_or_hang() {
    // Garbage over a stretch of the frame data (the index is intact): the decoder conceals
    // what it can. Whatever ffmpeg makes of it, the answer is a result, not a hang or panic.
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(sample()).unwrap();
    let mut x = 0x2545_f491_u32;
    let n = bytes.len();
    for b in &mut bytes[n / 3..n / 3 + 20_000] {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    let p = dir.path().join("corrupt.mp4");
    std::fs::write(&p, &bytes).unwrap();
    let start = Instant::now();
    match hash_video_file(&p, &opts()) {
        Ok(s) => assert!(!s.vpdq.is_empty() && s.vpdq.len() <= 7, "{}", s.vpdq.len()),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    assert!(start.elapsed() < Duration::from_secs(20));
}

#[test]
fn content_decides_image_or_video_not_the_name() {
    let dir = tempfile::tempdir().unwrap();
    // A video named .jpg is a video.
    let p = dir.path().join("holiday.jpg");
    std::fs::copy(sample(), &p).unwrap();
    match hash_media_file(&p, &HashOptions::default(), &opts()).unwrap() {
        MediaSignals::Video(v) => assert_eq!(v.vpdq.len(), 7),
        MediaSignals::Image(_) => panic!("a video taken for an image"),
    }
    // An image named .mp4 is an image.
    let img = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/pdq/lossless/misc-images__wee.png");
    let p = dir.path().join("clip.mp4");
    std::fs::copy(img, &p).unwrap();
    assert!(matches!(
        hash_media_file(&p, &HashOptions::default(), &opts()).unwrap(),
        MediaSignals::Image(_)
    ));
}
