//! Query-side normalisation of videos on generated clips: each edit family a re-upload makes
//! (a border of any colour, a pillarbox around a portrait clip, a caption band with text, a
//! phone frame with UI text above and below) must yield the content rectangle, within a few
//! pixels, and hashes of it that match the unedited clip; clips without an edit, including
//! one with a still but textured part, must yield none.
//!
//! The clips are made by ffmpeg's lavfi (a Mandelbrot zoom: every part of it moves), small
//! and short, so that the whole file runs in seconds. "Text" is drawn with `drawbox` strokes
//! so that no font is needed.

use std::path::{Path, PathBuf};
use ward_media::letterbox::Rect;
use ward_media::{hash_video_file, VideoOptions, VideoSignals};

/// A 320×180, 10 fps, 4 s zoom; `vf` edits it (`null`: none).
fn clip(dir: &Path, name: &str, size: &str, vf: &str) -> PathBuf {
    let path = dir.join(name);
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!(
            "mandelbrot=size={size}:rate=10:start_scale=2:end_scale=0.2:end_pts=40"
        ))
        .args([
            "-frames:v",
            "40",
            "-vf",
            vf,
            "-c:v",
            "libx264",
            "-crf",
            "23",
        ])
        .args(["-pix_fmt", "yuv420p"])
        .arg(&path)
        .output()
        .expect("ffmpeg runs (.ci/run installs it)");
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

/// A row of small boxes standing in for a line of text, at `y`.
fn strokes(y: u32, colour: &str, x0: u32, n: u32) -> String {
    (0..n)
        .map(|i| {
            format!(
                "drawbox=x={}:y={y}:w=9:h=14:color={colour}:t=fill",
                x0 + i * 16
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn hash(path: &Path) -> VideoSignals {
    let opts = VideoOptions {
        seconds_per_hash: 0.0,
        remove_letterbox: true,
        ..VideoOptions::default()
    };
    hash_video_file(path, &opts).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// Within 3 pixels on every edge.
fn near(r: Rect, want: Rect) -> bool {
    r.x.abs_diff(want.x) <= 3
        && r.y.abs_diff(want.y) <= 3
        && (r.x + r.width).abs_diff(want.x + want.width) <= 3
        && (r.y + r.height).abs_diff(want.y + want.height) <= 3
}

fn rect(x: u32, y: u32, width: u32, height: u32) -> Rect {
    Rect {
        x,
        y,
        width,
        height,
    }
}

/// Checks that an edited clip yields `want` by one of `via`, and that the content's hashes match
/// the original's frame by frame (the frames are the same ones: every frame is hashed).
fn check(edited: &Path, original: &VideoSignals, want: Rect, via: &[&str]) {
    let s = hash(edited);
    let c = s
        .vpdq_cropped
        .as_ref()
        .unwrap_or_else(|| panic!("{edited:?}: no content rectangle"));
    assert!(
        near(c.content, want),
        "{edited:?}: {} via {}, want {want}",
        c.content,
        c.via
    );
    assert!(
        via.contains(&c.via),
        "{edited:?}: {} via {}",
        c.content,
        c.via
    );
    assert_eq!(c.vpdq.len(), original.vpdq.len());
    let close = c
        .vpdq
        .iter()
        .zip(&original.vpdq)
        .filter(|(a, b)| a.hash.distance(&b.hash) <= 31)
        .count();
    assert!(
        close * 10 >= c.vpdq.len() * 9,
        "{edited:?}: {close} of {} frames within 31 bits",
        c.vpdq.len()
    );
    // The plain hashes are still those of the whole frame, far from the original's.
    let plain_close = s
        .vpdq
        .iter()
        .zip(&original.vpdq)
        .filter(|(a, b)| a.hash.distance(&b.hash) <= 31)
        .count();
    assert!(
        plain_close * 2 < s.vpdq.len(),
        "{edited:?}: the edit is too mild to test anything"
    );
}

#[test]
fn a_border_of_any_colour_is_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    let original = hash(&clip(dir.path(), "plain.mp4", "320x180", "null"));
    for (i, colour) in ["0x3060c0", "white", "0x808080"].iter().enumerate() {
        let edited = clip(
            dir.path(),
            &format!("border-{i}.mp4"),
            "320x180",
            &format!("pad=400:260:40:40:{colour}"),
        );
        // Uniform bars of any colour: the letterbox detector may name them as well.
        check(
            &edited,
            &original,
            rect(40, 40, 320, 180),
            &["trim-border", "trim-letterbox"],
        );
    }
}

#[test]
fn a_portrait_clip_pillarboxed_to_16_9_is_found() {
    // The content keeps 31 % of the width: under the half that black-bar detection asks.
    let dir = tempfile::tempdir().unwrap();
    let original = hash(&clip(dir.path(), "plain.mp4", "180x320", "null"));
    let edited = clip(
        dir.path(),
        "pillar.mp4",
        "180x320",
        "pad=576:320:198:0:black",
    );
    check(
        &edited,
        &original,
        rect(198, 0, 180, 320),
        &["trim-border", "trim-letterbox"],
    );
}

#[test]
fn a_caption_band_with_text_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let original = hash(&clip(dir.path(), "plain.mp4", "320x180", "null"));
    let edited = clip(
        dir.path(),
        "caption.mp4",
        "320x180",
        &format!("pad=320:232:0:52:white,{}", strokes(18, "black", 40, 14)),
    );
    check(&edited, &original, rect(0, 52, 320, 180), &["caption-band"]);
}

#[test]
fn the_clip_inside_a_phone_frame_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let original = hash(&clip(dir.path(), "plain.mp4", "320x180", "null"));
    let edited = clip(
        dir.path(),
        "phone.mp4",
        "320x180",
        &format!(
            "pad=320:568:0:194:0x101010,{},{}",
            strokes(60, "white", 90, 8),
            strokes(470, "white", 40, 14)
        ),
    );
    check(
        &edited,
        &original,
        rect(0, 194, 320, 180),
        &["inner-region"],
    );
}

#[test]
fn clips_without_an_edit_get_no_rectangle() {
    let dir = tempfile::tempdir().unwrap();
    // A picture that moves all over.
    let plain = hash(&clip(dir.path(), "plain.mp4", "320x180", "null"));
    assert!(plain.vpdq_cropped.is_none(), "{:?}", plain.vpdq_cropped);
    // A picture whose top third never moves but is no band: colour bars and a ramp.
    let path = dir.path().join("still-top.mp4");
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("smptebars=size=320x60:rate=10")
        .args(["-f", "lavfi", "-i"])
        .arg("mandelbrot=size=320x120:rate=10:start_scale=2:end_scale=0.2:end_pts=40")
        .args([
            "-filter_complex",
            "[0][1]vstack=shortest=1",
            "-frames:v",
            "40",
        ])
        .args(["-c:v", "libx264", "-crf", "23", "-pix_fmt", "yuv420p"])
        .arg(&path)
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = hash(&path);
    assert!(
        s.vpdq_cropped.is_none(),
        "{:?}",
        s.vpdq_cropped.map(|c| (c.content, c.via))
    );
}
