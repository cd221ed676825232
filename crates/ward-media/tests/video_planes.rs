//! Hashing from 4:2:0 planes is exact: ward's conversion equals the installed FFmpeg's
//! libswscale on every (Y, U, V) triple, and video hashes made from planes equal those made
//! from FFmpeg's RGB24.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use ward_media::{hash_video_file, VideoOptions};
use ward_pdq::yuv::yuv_to_rgb;

fn videos_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/vpdq/videos")
}

/// ffmpeg's RGB24 of one raw `yuv420p` frame, through the filter chain the RGB path uses.
fn ffmpeg_rgb(yuv: &[u8], w: usize, h: usize) -> Vec<u8> {
    let mut child = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s"])
        .arg(format!("{w}x{h}"))
        .args(["-i", "-", "-vf"])
        .arg(format!(
            "setparams=range=unknown:colorspace=unknown,scale={w}:{h}:flags=area,format=rgb24"
        ))
        .args(["-f", "rawvideo", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("ffmpeg runs (.ci/run installs it)");
    let mut stdin = child.stdin.take().unwrap();
    let input = yuv.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    writer.join().unwrap().unwrap();
    assert!(child.wait().unwrap().success());
    out
}

/// A 4096×4096 frame holding every (Y, U, V) triple once: chroma block (bx, by) has U = bx
/// mod 256, V = by mod 256, and its four luma samples are 4g..4g+3 for the block's group g
/// (0..64), so the 64 blocks sharing a (U, V) pair cover all 256 Y values.
#[test]
fn conversion_equals_libswscale_on_every_triple() {
    let (w, h) = (4096usize, 4096usize);
    let (cw, ch) = (w / 2, h / 2);
    let mut frame = vec![0u8; w * h + 2 * cw * ch];
    let (y, rest) = frame.split_at_mut(w * h);
    let (u, v) = rest.split_at_mut(cw * ch);
    for by in 0..ch {
        for bx in 0..cw {
            let g = (bx / 256 + 8 * (by / 256)) as u8;
            u[by * cw + bx] = (bx % 256) as u8;
            v[by * cw + bx] = (by % 256) as u8;
            for (k, (dy, dx)) in [(0, 0), (0, 1), (1, 0), (1, 1)].into_iter().enumerate() {
                y[(2 * by + dy) * w + 2 * bx + dx] = 4 * g + k as u8;
            }
        }
    }
    let want = ffmpeg_rgb(&frame, w, h);
    assert_eq!(want.len(), w * h * 3);
    let (y, rest) = frame.split_at(w * h);
    let (u, v) = rest.split_at(cw * ch);
    let mut wrong = 0usize;
    let mut first = None;
    for r in 0..h {
        for c in 0..w {
            let ci = (r / 2) * cw + c / 2;
            let got = yuv_to_rgb(y[r * w + c], u[ci], v[ci]);
            let i = (r * w + c) * 3;
            if got[..] != want[i..i + 3] {
                wrong += 1;
                first.get_or_insert((
                    y[r * w + c],
                    u[ci],
                    v[ci],
                    got,
                    [want[i], want[i + 1], want[i + 2]],
                ));
            }
        }
    }
    assert_eq!(wrong, 0, "first (Y, U, V, ward, ffmpeg): {first:?}");
}

/// Every frame of two sample videos and of a generated one of odd width (FFV1 in Matroska:
/// H.264 wants even sizes), hashed from planes and from RGB24.
#[test]
fn planes_and_rgb_give_the_same_video_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("odd-width.mkv");
    let made = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=241x136:rate=10:duration=3")
        .args(["-pix_fmt", "yuv420p", "-c:v", "ffv1"])
        .arg(&odd)
        .status()
        .expect("ffmpeg runs");
    assert!(made.success());
    let paths = [
        videos_dir().join("chair-22-sd-grey-bar.mp4"),
        videos_dir().join("test-padded-dimensions.mp4"),
        odd,
    ];
    for path in &paths {
        let name = path.file_name().unwrap().to_string_lossy();
        let run = |planes: bool| {
            let opts = VideoOptions {
                seconds_per_hash: 0.0,
                hash_from_planes: planes,
                remove_letterbox: true,
                ..VideoOptions::default()
            };
            hash_video_file(path, &opts).unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        let (a, b) = (run(true), run(false));
        assert!(a.vpdq.len() >= 30, "{name}: {} frames", a.vpdq.len());
        assert_eq!(a.vpdq, b.vpdq, "{name}");
        // The sampled frames the bar detector sees are the same pictures either way.
        assert_eq!(
            a.vpdq_cropped.as_ref().map(|c| (c.content, &c.vpdq)),
            b.vpdq_cropped.as_ref().map(|c| (c.content, &c.vpdq)),
            "{name}"
        );
    }
}
