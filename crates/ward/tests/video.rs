//! `ward hash` on videos, end to end, as a user runs it.

mod util;
use util::{reference, Ward};

fn video(name: &str) -> String {
    reference()
        .join("vpdq/videos")
        .join(name)
        .to_str()
        .unwrap()
        .to_owned()
}

fn expected(file: &str) -> String {
    std::fs::read_to_string(reference().join("vpdq/hashes-ffmpeg5.1").join(file)).unwrap()
}

#[test]
fn format_vpdq_prints_the_reference_file_byte_for_byte() {
    let w = Ward::new();
    let v = video("test-padded-dimensions.mp4");
    let run = w
        .run(&["hash", "--format", "vpdq", "--seconds-per-hash", "0", &v])
        .expect(0);
    assert_eq!(run.stdout(), expected("test-padded-dimensions.txt"));
    let run = w
        .run(&[
            "hash",
            "--format",
            "vpdq",
            "--seconds-per-hash",
            "0",
            "--vpdq-downscale",
            "128",
            &v,
        ])
        .expect(0);
    assert_eq!(run.stdout(), expected("test-padded-dimensions-128x128.txt"));
}

#[test]
fn default_lines_name_the_signal_type_and_path_one_second_apart() {
    let w = Ward::new();
    let v = video("pattern-sd-grey-bar.mp4");
    let run = w.run(&["hash", &v]).expect(0);
    let every = expected("pattern-sd-grey-bar.txt");
    let want: Vec<String> = every
        .lines()
        .filter(|l| l.split(',').next().unwrap().parse::<u32>().unwrap() % 30 == 0)
        .map(|l| format!("vpdq,{l},{v}"))
        .collect();
    assert_eq!(run.stdout().lines().collect::<Vec<_>>(), want);
    assert_eq!(want.len(), 7);
}

#[test]
fn json_line_has_frames_digests_and_stream_facts() {
    let w = Ward::new();
    let v = video("doorknob-hd-no-bar.mp4");
    let run = w
        .run(&["hash", "--json", "--seconds-per-hash", "0.5", &v])
        .expect(0);
    let lines = run.json_lines();
    assert_eq!(lines.len(), 1);
    let o = &lines[0];
    let keys: Vec<&str> = o.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["path", "vpdq", "md5", "sha256", "width", "height", "fps", "duration"]
    );
    assert_eq!(
        (o["width"].as_u64(), o["height"].as_u64()),
        (Some(1280), Some(720))
    );
    assert_eq!(o["fps"].as_f64(), Some(30.0));
    assert_eq!(o["duration"].as_f64(), Some(4.0));
    assert_eq!(o["sha256"].as_str().unwrap().len(), 64);
    // int(0.5 × 30) = every 15th frame of 120: 0, 15, ..., 105, at their reference values.
    let every = expected("doorknob-hd-no-bar.txt");
    let frames = o["vpdq"].as_array().unwrap();
    assert_eq!(frames.len(), 8);
    for (f, i) in frames.iter().zip((0..120).step_by(15)) {
        let want: Vec<&str> = every.lines().nth(i).unwrap().split(',').collect();
        assert_eq!(f["frame"].as_u64(), Some(i as u64));
        assert_eq!(f["quality"].to_string(), want[1]);
        assert_eq!(f["hash"], want[2]);
        assert_eq!(format!("{:.3}", f["timestamp"].as_f64().unwrap()), want[3]);
    }
    assert_eq!(frames[1]["timestamp"].as_f64(), Some(0.5));
}

#[test]
fn a_folder_of_images_videos_and_bad_files_goes_on_past_the_bad_ones() {
    let w = Ward::new();
    let bytes = std::fs::read(video("pattern-sd-grey-bar.mp4")).unwrap();
    // Content decides, not the name: a video called .png and an image called .mp4.
    w.write("in/a-video.png", &bytes);
    let img = std::fs::read(reference().join("pdq/lossless/misc-images__wee.png")).unwrap();
    w.write("in/b-image.mp4", &img);
    w.write("in/c-text.mp4", b"not a video\n");
    w.write("in/d-truncated.mp4", &bytes[..bytes.len() / 2]);
    let st = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-f", "lavfi"])
        .args(["-i", "sine=duration=1", "-c:a", "aac"])
        .arg(w.path("in/e-audio.mp4"))
        .status()
        .expect("this test needs ffmpeg on PATH: apt-get install ffmpeg");
    assert!(st.success());

    let run = w.run(&["hash", "--json", "in"]).expect(2);
    let lines = run.json_lines();
    assert_eq!(lines.len(), 5, "{}", run.stdout());
    assert_eq!(lines[0]["vpdq"].as_array().unwrap().len(), 7);
    assert!(lines[1]["pdq"]["hash"].is_string());
    let err = |i: usize| lines[i]["error"].as_str().unwrap_or("").to_owned();
    assert!(
        err(2).contains("or video") && err(2).contains("looks like text"),
        "{}",
        err(2)
    );
    assert!(err(3).contains("truncated video"), "{}", err(3));
    assert!(
        err(4).contains("no video stream") && err(4).contains("audio only"),
        "{}",
        err(4)
    );

    // Text mode: 7 frame lines and 1 image line on stdout, one line per bad file on stderr.
    let run = w.run(&["hash", "in"]).expect(2);
    let out = run.stdout();
    assert_eq!(out.lines().filter(|l| l.starts_with("vpdq,")).count(), 7);
    assert_eq!(out.lines().filter(|l| l.starts_with("pdq,")).count(), 1);
    assert_eq!(run.stderr().lines().count(), 3, "{}", run.stderr());
}

#[test]
fn video_limits_and_bad_flags_are_reported() {
    let w = Ward::new();
    let v = video("pattern-sd-grey-bar.mp4");
    let run = w.run(&["hash", "--max-duration", "2", &v]).expect(2);
    assert!(
        run.stderr().contains("over the limit of 2 s"),
        "{}",
        run.stderr()
    );
    let run = w.run(&["hash", "--timeout", "0.001", &v]).expect(2);
    assert!(run.stderr().contains("--timeout"), "{}", run.stderr());
    let run = w.run(&["hash", "--seconds-per-hash=-1", &v]).expect(2);
    assert!(
        run.stderr().contains("--seconds-per-hash"),
        "{}",
        run.stderr()
    );
    let run = w.run(&["hash", "--json", "--format", "vpdq", &v]).expect(2);
    assert!(
        run.stderr().contains("cannot be used with"),
        "{}",
        run.stderr()
    );
}
