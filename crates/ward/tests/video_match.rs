//! `ward bank add` / `ward bank import` of videos and `ward match` for videos, end to end:
//! which seconds of an upload match which seconds of a known video (issue 4's segment tests,
//! with clips cut and assembled by ffmpeg from the benign sample videos).

mod util;
use std::process::Command;
use util::{reference, Ward};

fn video(name: &str) -> String {
    reference()
        .join("vpdq/videos")
        .join(name)
        .to_str()
        .unwrap()
        .to_owned()
}

fn ffmpeg(w: &Ward, args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .current_dir(w.dir.path())
        .output()
        .expect("ffmpeg must be installed for the video tests (apt-get install ffmpeg)");
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn bank_with_chair(w: &Ward) {
    w.run(&["bank", "create", "vids", "--label", "known-video"])
        .expect(0);
    let run = w
        .run(&["bank", "add", "vids", &video("chair-orig-22-sd-bar.mp4")])
        .expect(0);
    assert!(run.stdout().contains("added 3 entries"), "{}", run.stdout());
}

fn vpdq_match(w: &Ward, file: &str) -> serde_json::Value {
    let lines = w.run(&["match", "--json", file]).expect(0).json_lines();
    let m = lines[0]["matches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["signal_type"] == "vpdq")
        .unwrap_or_else(|| panic!("no video match: {}", lines[0]))
        .clone();
    assert_eq!(m["bank"], "vids");
    assert_eq!(m["labels"], serde_json::json!(["known-video"]));
    m
}

fn assert_segment(m: &serde_json::Value, query: (f64, f64), bank: (f64, f64)) {
    let segs = m["segments"].as_array().unwrap();
    let s = segs
        .iter()
        .max_by(|a, b| {
            let len = |s: &serde_json::Value| {
                s["query"][1].as_f64().unwrap() - s["query"][0].as_f64().unwrap()
            };
            len(a).total_cmp(&len(b))
        })
        .unwrap_or_else(|| panic!("no segment: {m}"));
    let got = |k: &str, i: usize| s[k][i].as_f64().unwrap();
    for (k, want) in [("query", query), ("bank", bank)] {
        assert!(
            (got(k, 0) - want.0).abs() <= 1.0,
            "{k} start {} vs {}: {m}",
            got(k, 0),
            want.0
        );
        assert!(
            (got(k, 1) - want.1).abs() <= 1.0,
            "{k} end {} vs {}: {m}",
            got(k, 1),
            want.1
        );
    }
}

#[test]
fn a_cut_from_the_middle_is_found_with_its_place_in_the_known_video() {
    let w = Ward::new();
    bank_with_chair(&w);
    ffmpeg(
        &w,
        &[
            "-ss",
            "8",
            "-i",
            &video("chair-orig-22-sd-bar.mp4"),
            "-t",
            "6",
            "-an",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "cut.mp4",
        ],
    );
    let m = vpdq_match(&w, "cut.mp4");
    assert_eq!(m["verdict"], "copy", "{m}");
    assert_segment(&m, (0.0, 6.0), (8.0, 14.0));
}

#[test]
fn a_report_quoting_five_seconds_is_a_part_not_a_copy() {
    let w = Ward::new();
    bank_with_chair(&w);
    // 6 s of synthetic footage, 5 s of the known video from its 10th second, 6 s more.
    ffmpeg(
        &w,
        &[
            "-f", "lavfi", "-i", "testsrc2=size=480x720:rate=30:duration=6",
            "-ss", "10", "-t", "5", "-i", &video("chair-orig-22-sd-bar.mp4"),
            "-f", "lavfi", "-i", "mandelbrot=size=480x720:rate=30",
            "-filter_complex",
            "[0:v]format=yuv420p,setsar=1[a];[1:v]format=yuv420p,setsar=1[b];[2:v]trim=duration=6,format=yuv420p,setsar=1[c];[a][b][c]concat=n=3:v=1:a=0[v]",
            "-map", "[v]", "-c:v", "libx264", "-preset", "veryfast", "report.mp4",
        ],
    );
    let m = vpdq_match(&w, "report.mp4");
    assert_eq!(m["verdict"], "contains-part", "{m}");
    assert!(m["query_match_pct"].as_f64().unwrap() < 50.0, "{m}");
    assert_segment(&m, (6.0, 11.0), (10.0, 15.0));
    // Unrelated footage alone matches nothing.
    ffmpeg(
        &w,
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=480x720:rate=30:duration=4",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "other.mp4",
        ],
    );
    let lines = w
        .run(&["match", "--json", "other.mp4"])
        .expect(0)
        .json_lines();
    assert_eq!(
        lines[0]["matches"].as_array().unwrap().len(),
        0,
        "{}",
        lines[0]
    );
}

#[test]
fn vpdq_files_import_as_one_entry_and_letterboxed_copies_match() {
    let w = Ward::new();
    w.run(&["bank", "create", "vids", "--label", "known-video"])
        .expect(0);
    let file = reference().join("vpdq/hashes-ffmpeg5.1/pattern-hd-no-bar.txt");
    let run = w
        .run(&["bank", "import", "vids", file.to_str().unwrap()])
        .expect(0);
    assert!(
        run.stdout().contains("imported 1 new video entries"),
        "{}",
        run.stdout()
    );
    let run = w
        .run(&["bank", "import", "vids", file.to_str().unwrap()])
        .expect(0);
    assert!(
        run.stdout()
            .contains("imported 0 new video entries into vids (1 already present)"),
        "{}",
        run.stdout()
    );
    // The letterboxed copy matches only through the content inside its bars.
    let m = vpdq_match(&w, &video("pattern-sd-grey-bar.mp4"));
    assert!(
        m["via"].as_str().unwrap().starts_with("trim-letterbox"),
        "{m}"
    );
    assert_eq!(m["verdict"], "copy", "{m}");
    let plain = w
        .run(&[
            "match",
            "--json",
            "--keep-letterbox",
            &video("pattern-sd-grey-bar.mp4"),
        ])
        .expect(0)
        .json_lines();
    assert_eq!(
        plain[0]["matches"].as_array().unwrap().len(),
        0,
        "{}",
        plain[0]
    );
    // Export writes the entry back as the same vPDQ file; importing it adds nothing new.
    w.run(&["bank", "export", "vids", "--format", "vpdq", "-o", "out"])
        .expect(0);
    let exported: Vec<_> = std::fs::read_dir(w.path("out"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(exported.len(), 1);
    let want = std::fs::read_to_string(&file).unwrap();
    let got = std::fs::read_to_string(&exported[0]).unwrap();
    assert_eq!(
        got.lines().collect::<Vec<_>>(),
        want.lines().collect::<Vec<_>>()
    );
    let run = w
        .run(&["bank", "import", "vids", exported[0].to_str().unwrap()])
        .expect(0);
    assert!(
        run.stdout().contains("(1 already present)"),
        "{}",
        run.stdout()
    );
    let run = w.run(&["bank", "export", "vids"]).expect(0);
    assert!(
        run.stderr()
            .contains("1 video entries are not in this format"),
        "{}",
        run.stderr()
    );
    // A bad vPDQ line names the file and line.
    w.write("bad.txt", b"0,100,0000000000000000000000000000000000000000000000000000000000000000,0.000\n1,xx,00,0.1\n");
    let run = w
        .run(&["bank", "import", "vids", "--format", "vpdq", "bad.txt"])
        .expect(2);
    assert!(run.stderr().contains("bad.txt:2:"), "{}", run.stderr());
}
