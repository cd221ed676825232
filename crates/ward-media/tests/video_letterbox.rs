//! Letterbox removal on the reference's sample videos: the `-bar` (pillarboxed) and `-no-bar`
//! versions of one clip match 0 % in the reference (`match-matrix.csv`); hashing the content
//! rectangle of the `-bar` video makes them match, at the defaults of the comparison, while
//! the plain hashes stay exactly the reference's and unrelated videos still do not match.
//!
//! The pairs are compared as `match-matrix.csv` compares them: every frame on both sides. The
//! `-no-bar` side is read from `hashes-ffmpeg5.1/`, which `video_reference.rs` shows to be
//! ward's own plain output to the bit (hashing those videos again here would double the
//! run time for nothing).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use ward_media::letterbox::Rect;
use ward_media::{hash_video_file, VideoOptions, VideoSignals};
use ward_pdq::vpdq::{compare, parse_lines, CompareOptions, VpdqFrame};

fn vpdq_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/vpdq")
}

fn hash(name: &str, seconds_per_hash: f64) -> VideoSignals {
    let opts = VideoOptions {
        seconds_per_hash,
        remove_letterbox: true,
        ..VideoOptions::default()
    };
    let path = vpdq_dir().join("videos").join(format!("{name}.mp4"));
    hash_video_file(&path, &opts).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The reference's every-frame hashes of a sample video.
fn reference(name: &str) -> Vec<VpdqFrame> {
    let text = std::fs::read_to_string(
        vpdq_dir()
            .join("hashes-ffmpeg5.1")
            .join(format!("{name}.txt")),
    )
    .unwrap();
    parse_lines(&text).unwrap()
}

/// The `-bar` videos of the pattern clip (the chair clip has no `-no-bar` version).
const PATTERN_BAR: [&str; 3] = [
    "pattern-sd-grey-bar",
    "pattern-sd-with-small-logo-bar",
    "pattern-sd-with-large-logo-bar",
];
const PATTERN_NO_BAR: [&str; 2] = ["pattern-hd-no-bar", "pattern-longer-no-bar"];

/// Every video the tests look at, hashed once with letterbox removal: the pattern `-bar`
/// videos every frame (the matrix's convention), the others once a second.
fn with_removal(name: &str) -> &'static VideoSignals {
    static CACHE: OnceLock<Vec<(String, VideoSignals)>> = OnceLock::new();
    let all = CACHE.get_or_init(|| {
        let every = PATTERN_BAR.iter().map(|n| (n, 0.0));
        let once = ["chair-19-sd-bar", "doorknob-hd-no-bar"]
            .iter()
            .chain(&PATTERN_NO_BAR)
            .map(|n| (n, 1.0));
        every
            .chain(once)
            .map(|(n, s)| (n.to_string(), hash(n, s)))
            .collect()
    });
    &all.iter().find(|(n, _)| n == name).unwrap().1
}

fn cropped(name: &str) -> &'static [VpdqFrame] {
    let s = with_removal(name);
    &s.vpdq_cropped
        .as_ref()
        .unwrap_or_else(|| panic!("{name}: no bars found"))
        .vpdq
}

/// The reference's percentages for the pair, from `match-matrix.csv`.
fn reference_pct(query: &str, compared: &str) -> (f64, f64) {
    let csv = std::fs::read_to_string(vpdq_dir().join("match-matrix.csv")).unwrap();
    csv.lines()
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|f| f[0] == query && f[1] == compared)
        .map(|f| (f[2].parse().unwrap(), f[3].parse().unwrap()))
        .unwrap()
}

#[test]
fn bars_are_found_where_they_are_and_nowhere_else() {
    // The pattern and chair SD videos are 480x720 with black bars of about 30 px left and
    // right; the content is about 416 px wide.
    for name in PATTERN_BAR.iter().chain(&["chair-19-sd-bar"]) {
        let s = with_removal(name);
        let r = s.vpdq_cropped.as_ref().unwrap().content;
        println!("{name}: content {r}");
        assert_eq!((r.y, r.height), (0, 720), "{name}: {r}");
        assert!((28..=36).contains(&r.x), "{name}: {r}");
        assert!((408..=422).contains(&r.width), "{name}: {r}");
        assert_eq!(s.vpdq_cropped.as_ref().unwrap().vpdq.len(), s.vpdq.len());
    }
    for name in PATTERN_NO_BAR.iter().chain(&["doorknob-hd-no-bar"]) {
        let s = with_removal(name);
        assert!(
            s.vpdq_cropped.is_none(),
            "{name}: {:?}",
            s.vpdq_cropped.as_ref().map(|c| c.content)
        );
    }
}

#[test]
fn plain_hashes_stay_the_reference_convention() {
    // Letterbox removal adds hashes; it changes none: the reference's output to the
    // character (every frame, or every 30th at one a second).
    for name in PATTERN_BAR.iter().chain(&["chair-19-sd-bar"]) {
        let step = if name.starts_with("chair") { 30 } else { 1 };
        let want: Vec<String> = reference(name)
            .into_iter()
            .filter(|f| f.frame % step == 0)
            .map(|f| f.to_string())
            .collect();
        let ours: Vec<String> = with_removal(name)
            .vpdq
            .iter()
            .map(|f| f.to_string())
            .collect();
        assert_eq!(ours, want, "{name}");
    }
}

#[test]
fn bar_and_no_bar_versions_match_after_removal() {
    let opts = CompareOptions::default();
    for bar in PATTERN_BAR {
        for no_bar in PATTERN_NO_BAR {
            let bank = reference(no_bar);
            let plain = compare(&with_removal(bar).vpdq, &bank, &opts);
            let after = compare(cropped(bar), &bank, &opts);
            // A query hashed once a second, as a quick check would hash it.
            let once: Vec<VpdqFrame> = cropped(bar)
                .iter()
                .filter(|f| f.frame % 30 == 0)
                .copied()
                .collect();
            let once = compare(&once, &bank, &opts);
            let (rq, rc) = reference_pct(bar, no_bar);
            println!(
                "{bar} ~ {no_bar} (query / compared %): reference {rq:.2} / {rc:.2}; ward plain {:.2} / {:.2}; cropped {:.2} / {:.2}; cropped, query 1/s {:.2} / {:.2}",
                plain.query_match_pct,
                plain.compared_match_pct,
                after.query_match_pct,
                after.compared_match_pct,
                once.query_match_pct,
                once.compared_match_pct,
            );
            assert_eq!(plain.query_match_pct, rq, "{bar} ~ {no_bar}");
            assert!(!plain.is_match, "{bar} ~ {no_bar} without removal");
            if bar.contains("large-logo") {
                // A logo over a large part of the picture defeats vPDQ with or without bars
                // (the reference matches it ~1 % against the same clip's other SD copies).
                continue;
            }
            assert!(after.is_match, "{bar} ~ {no_bar}: {after:?}");
            assert!(after.query_match_pct >= 80.0, "{bar} ~ {no_bar}: {after:?}");
            assert!(once.is_match, "{bar} ~ {no_bar}, query 1/s: {once:?}");
        }
    }
}

#[test]
fn unrelated_videos_still_do_not_match() {
    let opts = CompareOptions::default();
    let chair = cropped("chair-19-sd-bar");
    for other in PATTERN_NO_BAR.iter().chain(&["doorknob-hd-no-bar"]) {
        let c = compare(chair, &reference(other), &opts);
        println!("chair-19-sd-bar (cropped) ~ {other}: {c:?}");
        assert!(!c.is_match, "{other}: {c:?}");
        assert!(c.query_match_pct < 10.0, "{other}: {c:?}");
    }
    for bar in PATTERN_BAR {
        let c = compare(cropped(bar), &reference("chair-19-sd-bar"), &opts);
        assert!(!c.is_match, "{bar}: {c:?}");
        let c = compare(cropped(bar), chair, &opts);
        assert!(!c.is_match, "{bar} ~ chair, both cropped: {c:?}");
    }
}

#[test]
fn downscaled_mode_crops_the_same_content() {
    // In the 128x128 mode the bars are found in the downscaled frames and the rectangle is
    // mapped back to the frame's own pixels before ffmpeg crops.
    let opts = VideoOptions {
        seconds_per_hash: 1.0,
        downscale: Some((128, 128)),
        remove_letterbox: true,
        ..VideoOptions::default()
    };
    let path = vpdq_dir().join("videos/pattern-sd-grey-bar.mp4");
    let s = hash_video_file(&path, &opts).unwrap();
    let c = s.vpdq_cropped.expect("bars in the 128x128 frames");
    let Rect { x, width, .. } = c.content;
    assert!(
        (28..=40).contains(&x) && (400..=422).contains(&width),
        "{}",
        c.content
    );
    let no_bar = hash_video_file(&vpdq_dir().join("videos/pattern-hd-no-bar.mp4"), &opts).unwrap();
    let m = compare(&c.vpdq, &no_bar.vpdq, &CompareOptions::default());
    println!("128x128: content {}, {m:?}", c.content);
    assert!(m.is_match, "{m:?}");
}

/// A generated clip (moving test pattern, 320×240) framed as re-uploads frame it: a white
/// caption band with dark "text" above it, and a dark phone frame with UI bars around it.
/// The fixed layout is found on the sampled frames by the image detectors and the content
/// hashed as a second pass; a clip without a frame gets none.
#[test]
fn caption_bands_and_phone_frames_are_found_on_video() {
    let dir = tempfile::tempdir().unwrap();
    let make = |name: &str, vf: &str| {
        let path = dir.path().join(name);
        let status = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-f", "lavfi", "-i"])
            .arg("testsrc2=size=320x240:rate=10:duration=4")
            .args(["-vf", vf, "-c:v", "libx264", "-pix_fmt", "yuv420p"])
            .arg(&path)
            .status()
            .expect("ffmpeg runs (.ci/run installs it)");
        assert!(status.success(), "{name}");
        path
    };
    // Text-like strokes: a row of small dark boxes.
    let strokes = |y: &str, colour: &str| {
        (0..12)
            .map(|i| {
                format!(
                    "drawbox=x={}:y={y}:w=8:h=14:color={colour}:t=fill",
                    20 + i * 24
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let caption = make(
        "caption.mp4",
        &format!("pad=320:288:0:48:white,{}", strokes("16", "black")),
    );
    let phone = make(
        "phone.mp4",
        &format!(
            "pad=320:480:0:120:0x101010,{},{}",
            strokes("40", "white"),
            strokes("400", "white")
        ),
    );
    let plain = make("plain.mp4", "null");
    let opts = VideoOptions {
        seconds_per_hash: 0.0,
        remove_letterbox: true,
        ..VideoOptions::default()
    };
    let near = |r: Rect, want: (u32, u32, u32, u32)| {
        r.x.abs_diff(want.0) <= 4
            && r.y.abs_diff(want.1) <= 4
            && (r.x + r.width).abs_diff(want.0 + want.2) <= 4
            && (r.y + r.height).abs_diff(want.1 + want.3) <= 4
    };
    for (path, want) in [(&caption, (0, 48, 320, 240)), (&phone, (0, 120, 320, 240))] {
        let s = hash_video_file(path, &opts).unwrap();
        let c = s.vpdq_cropped.as_ref().expect("a content rectangle");
        assert!(
            near(c.content, want),
            "{path:?}: {} via {}",
            c.content,
            c.via
        );
        assert_ne!(c.via, "trim-letterbox");
        // The content's hashes are the plain clip's, near enough to match.
        let original = hash_video_file(&plain, &opts).unwrap();
        assert!(original.vpdq_cropped.is_none());
        let close = c
            .vpdq
            .iter()
            .zip(&original.vpdq)
            .filter(|(a, b)| a.hash.distance(&b.hash) <= 31)
            .count();
        assert!(
            close * 10 >= c.vpdq.len() * 9,
            "{close} of {} frames",
            c.vpdq.len()
        );
    }
}
