//! The decoding worker (`ward __av-worker`, libavcodec in long-lived child processes) against
//! the ffmpeg program: the same hashes on every reference video, and the same clear errors
//! on broken, hostile and slow files, with the worker killed and replaced where it must be.
//!
//! The library is called directly with `av_worker` set to the built ward binary, so that
//! both paths run on the same files in one test.

mod util;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use util::reference;
use ward_media::{hash_video_file, probe_video, MediaError, VideoOptions, VideoSignals};

fn video(name: &str) -> PathBuf {
    reference().join("vpdq/videos").join(name)
}

fn worker() -> VideoOptions {
    VideoOptions {
        timeout: Duration::from_secs(60),
        av_worker: Some(PathBuf::from(env!("CARGO_BIN_EXE_ward"))),
        ..VideoOptions::default()
    }
}

fn ffmpeg_only() -> VideoOptions {
    VideoOptions {
        av_worker: None,
        ..worker()
    }
}

/// The reference's line format, as `ward hash --format vpdq` prints it.
fn lines(v: &VideoSignals) -> String {
    ward_pdq::vpdq::format_lines(&v.vpdq)
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
fn every_reference_video_hashes_as_the_reference_does() {
    // Every frame (no skipping), and one a second (frames nothing refers to are skipped
    // where the indices stay exact): the reference's own files, byte for byte.
    let expected = |name: &str, suffix: &str| {
        let stem = name.trim_end_matches(".mp4");
        std::fs::read_to_string(
            reference()
                .join("vpdq/hashes-ffmpeg5.1")
                .join(format!("{stem}{suffix}.txt")),
        )
        .ok()
    };
    let mut names: Vec<String> = std::fs::read_dir(reference().join("vpdq/videos"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".mp4"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 14);
    let fallbacks = ward_media::av_worker::fallbacks();
    for name in &names {
        let every = VideoOptions {
            seconds_per_hash: 0.0,
            ..worker()
        };
        let got = hash_video_file(&video(name), &every).unwrap();
        assert_eq!(Some(lines(&got)), expected(name, ""), "{name}, every frame");
        // The stream facts are ffprobe's.
        assert_eq!(
            probe_video(&video(name), &worker()).unwrap(),
            probe_video(&video(name), &ffmpeg_only()).unwrap(),
            "{name}"
        );
        for spf in [1.0, 0.5] {
            let o = VideoOptions {
                seconds_per_hash: spf,
                ..worker()
            };
            let a = hash_video_file(&video(name), &o).unwrap();
            // The every-frame file, thinned to the sampled frames.
            let step = ward_pdq::vpdq::frame_interval(spf, got.info.fps);
            let thinned: Vec<_> = got
                .vpdq
                .iter()
                .filter(|f| f.frame % step == 0)
                .cloned()
                .collect();
            assert_eq!(a.vpdq, thinned, "{name} at {spf} s a hash");
        }
    }
    // None of them needed ffmpeg (the one other test that falls back runs after this one,
    // in this same function: tests run in parallel and share the count).
    assert_eq!(ward_media::av_worker::fallbacks(), fallbacks);
    a_stream_that_changes_size_falls_back_to_ffmpeg();
    assert_eq!(ward_media::av_worker::fallbacks(), fallbacks + 1);
}

#[test]
fn letterbox_passes_agree_with_ffmpeg() {
    // The cropped and nested passes send rectangles of the planes.
    for name in ["chair-19-sd-bar.mp4", "pattern-sd-grey-bar.mp4"] {
        let o = VideoOptions {
            remove_letterbox: true,
            ..worker()
        };
        let a = hash_video_file(&video(name), &o).unwrap();
        let b = hash_video_file(
            &video(name),
            &VideoOptions {
                av_worker: None,
                ..o
            },
        )
        .unwrap();
        let a_crop = a.vpdq_cropped.as_ref().expect("bars found");
        let b_crop = b.vpdq_cropped.as_ref().expect("bars found");
        assert_eq!(a_crop.content, b_crop.content, "{name}");
        assert_eq!(a_crop.vpdq, b_crop.vpdq, "{name}");
        assert_eq!(a.vpdq_nested.len(), b.vpdq_nested.len(), "{name}");
        for (x, y) in a.vpdq_nested.iter().zip(&b.vpdq_nested) {
            assert_eq!((x.content, &x.vpdq), (y.content, &y.vpdq), "{name}");
        }
    }
}

fn a_stream_that_changes_size_falls_back_to_ffmpeg() {
    // Two resolutions in one MPEG-TS stream: the worker stops at the first frame of the new
    // size and the pass is done again by ffmpeg, which scales it to the probed size.
    let dir = tempfile::tempdir().unwrap();
    let (a, b, ts) = (
        dir.path().join("a.ts"),
        dir.path().join("b.ts"),
        dir.path().join("ab.ts"),
    );
    for (p, size) in [(&a, "320x240"), (&b, "240x160")] {
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc2=size={size}:rate=10:duration=2"),
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            p.to_str().unwrap(),
        ]);
    }
    let list = dir.path().join("list.txt");
    std::fs::write(
        &list,
        format!("file '{}'\nfile '{}'\n", a.display(), b.display()),
    )
    .unwrap();
    ffmpeg(&[
        "-f",
        "concat",
        "-safe",
        "0",
        "-i",
        list.to_str().unwrap(),
        "-c",
        "copy",
        ts.to_str().unwrap(),
    ]);
    let o = VideoOptions {
        seconds_per_hash: 0.0,
        ..worker()
    };
    let got = hash_video_file(&ts, &o).unwrap();
    let want = hash_video_file(
        &ts,
        &VideoOptions {
            av_worker: None,
            ..o
        },
    )
    .unwrap();
    assert_eq!(got.vpdq.len(), 40);
    assert_eq!(lines(&got), lines(&want));
}

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

#[test]
fn broken_files_get_the_errors_ffmpeg_gives() {
    let dir = tempfile::tempdir().unwrap();
    let sample = std::fs::read(video("pattern-sd-grey-bar.mp4")).unwrap();
    // The index survives, the frames it points at do not.
    let half = dir.path().join("half.mp4");
    std::fs::write(&half, &sample[..sample.len() / 2]).unwrap();
    // The index itself is cut.
    let head = dir.path().join("head.mp4");
    std::fs::write(&head, &sample[..3000]).unwrap();
    let tone = dir.path().join("tone.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=1",
        "-c:a",
        "aac",
        tone.to_str().unwrap(),
    ]);
    for p in [&half, &head, &tone] {
        let a = fails(p, &worker());
        let b = fails(p, &ffmpeg_only());
        assert_eq!(
            std::mem::discriminant(&a),
            std::mem::discriminant(&b),
            "{}: {a} / {b}",
            p.display()
        );
    }
    assert!(matches!(
        fails(&half, &worker()),
        MediaError::TruncatedVideo
    ));
    assert_eq!(
        fails(&tone, &worker()).to_string(),
        "no video stream in the file: it has audio only"
    );
    assert!(
        fails(&head, &worker())
            .to_string()
            .contains("not a video ffmpeg can read"),
        "{}",
        fails(&head, &worker())
    );
}

#[test]
fn corrupt_frames_do_not_crash_or_hang_the_worker() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(video("pattern-sd-grey-bar.mp4")).unwrap();
    let n = bytes.len();
    let mut x = 0x9e37_79b9_u32;
    for b in &mut bytes[n / 3..n / 3 + 20_000] {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        *b = (x >> 24) as u8;
    }
    let p = dir.path().join("corrupt.mp4");
    std::fs::write(&p, &bytes).unwrap();
    for spf in [0.0, 1.0] {
        let o = VideoOptions {
            seconds_per_hash: spf,
            ..worker()
        };
        let start = Instant::now();
        let a = hash_video_file(&p, &o);
        assert!(start.elapsed() < Duration::from_secs(20));
        let b = hash_video_file(
            &p,
            &VideoOptions {
                av_worker: None,
                ..o
            },
        );
        // Where ffmpeg hashes it, the worker hashes the same frames (a decoding error
        // while frames are skipped sends the pass back to ffmpeg).
        match (a, b) {
            (Ok(a), Ok(b)) => assert_eq!(lines(&a), lines(&b), "{spf}"),
            (a, b) => assert_eq!(a.is_err(), b.is_err(), "{spf}"),
        }
    }
}

#[test]
fn the_timeout_kills_the_worker_and_the_next_file_gets_a_fresh_one() {
    for ms in [1, 200] {
        let o = VideoOptions {
            timeout: Duration::from_millis(ms),
            seconds_per_hash: 0.0,
            ..worker()
        };
        let start = Instant::now();
        let err = fails(&video("pattern-hd-no-bar.mp4"), &o);
        assert!(
            matches!(err, MediaError::Timeout { seconds } if seconds == ms as f64 / 1000.0),
            "{ms} ms: {err}"
        );
        assert!(start.elapsed() < Duration::from_millis(ms + 1500));
        // The next file is served as usual.
        let v = hash_video_file(&video("pattern-sd-grey-bar.mp4"), &worker()).unwrap();
        assert_eq!(v.vpdq.len(), 7);
    }
}

#[test]
fn the_memory_limit_stops_the_decoder_in_the_worker() {
    let o = VideoOptions {
        max_memory: Some(24 << 20),
        ..worker()
    };
    let err = fails(&video("pattern-hd-no-bar.mp4"), &o);
    assert!(matches!(err, MediaError::TooMuchMemory(_)), "{err}");
    // The limit is the worker's own, set for each file: the next file has room again.
    let v = hash_video_file(&video("pattern-hd-no-bar.mp4"), &worker()).unwrap();
    assert!(!v.vpdq.is_empty());
}

#[test]
fn the_cli_decodes_in_workers_unless_told_not_to() {
    // Same output either way; WARD_AV_WORKER=0 is the switch back to ffprobe and ffmpeg.
    let v = video("chair-20-sd-bar.mp4");
    let run = |env: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_ward"))
            .env("WARD_AV_WORKER", env)
            .args(["hash", "--format", "vpdq", "--seconds-per-hash", "0"])
            .arg(&v)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let expected =
        std::fs::read_to_string(reference().join("vpdq/hashes-ffmpeg5.1/chair-20-sd-bar.txt"))
            .unwrap();
    assert_eq!(run("1"), expected);
    assert_eq!(run("0"), expected);
}
