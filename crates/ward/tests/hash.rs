//! `ward hash` end to end, as a user runs it.

mod util;
use util::{reference, Ward};

#[test]
fn folder_in_line_format_matches_reference() {
    let w = Ward::new();
    let dir = reference().join("pdq/lossless");
    let run = w.run(&["hash", dir.to_str().unwrap()]).expect(0);
    let expected = std::fs::read_to_string(reference().join("pdq/expected.csv")).unwrap();
    let mut n = 0;
    for line in run.stdout().lines() {
        let f: Vec<&str> = line.splitn(4, ',').collect();
        assert_eq!(f[0], "pdq");
        let name = std::path::Path::new(f[3])
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        let want = expected
            .lines()
            .find(|l| l.starts_with(&format!("lossless/{name},")))
            .unwrap();
        let want: Vec<&str> = want.split(',').collect();
        assert_eq!((f[1], f[2]), (want[5], want[6]), "{name}");
        n += 1;
    }
    assert_eq!(n, 14);
}

#[test]
fn json_has_every_field_and_dihedral_in_reference_order() {
    let w = Ward::new();
    let img = reference().join("pdq/lossless/misc-images__wee.png");
    let run = w
        .run(&["hash", "--json", "--dihedral", img.to_str().unwrap()])
        .expect(0);
    let v = &run.json_lines()[0];
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "path",
            "pdq",
            "md5",
            "sha256",
            "width",
            "height",
            "pdq_dihedral"
        ]
    );
    assert_eq!(
        v["pdq"]["hash"],
        "6227401f601ff4ccafcc9fad4b0d95d371a2eb7265a3285234d228ca94deeb2d"
    );
    assert_eq!(v["pdq"]["quality"], 100);
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(34), Some(42))
    );
    let bytes = std::fs::read(&img).unwrap();
    assert_eq!(v["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(v["md5"].as_str().unwrap().len(), 32);
    assert_eq!(v["pdq_dihedral"].as_array().unwrap().len(), 8);
    assert_eq!(v["pdq_dihedral"][0], v["pdq"]["hash"]);
    assert!(!bytes.is_empty());
}

#[test]
fn bad_files_are_reported_and_the_run_goes_on() {
    let w = Ward::new();
    let jpeg = std::fs::read(reference().join("pdq/images/bridge-mods/aaa-orig.jpg")).unwrap();
    w.write("in/a-truncated.jpg", &jpeg[..jpeg.len() / 2]);
    w.write("in/b-empty.jpg", b"");
    w.write("in/c-text.png", b"hello, I am text\n");
    w.write("in/d-good.jpg", &jpeg);
    let mut huge = b"\x89PNG\r\n\x1a\n".to_vec();
    // IHDR 100000x100000 with a valid CRC, then a tiny IDAT and IEND.
    huge.extend(hex("0000000d49484452000186a0000186a00802000000"));
    huge.extend(crc(&huge[12..29]).to_be_bytes());
    huge.extend(hex("0000000449444154789c0300"));
    huge.extend(crc(&huge[huge.len() - 8..]).to_be_bytes());
    huge.extend(hex("0000000049454e44ae426082"));
    w.write("in/e-huge.png", &huge);

    let run = w.run(&["hash", "--json", "in"]).expect(2);
    let lines = run.json_lines();
    assert_eq!(lines.len(), 5);
    let err = |i: usize| lines[i]["error"].as_str().unwrap_or("").to_owned();
    assert!(err(0).contains("truncated jpeg"), "{}", err(0));
    assert_eq!(err(1), "empty file");
    assert!(err(2).contains("not a supported image"), "{}", err(2));
    assert!(lines[3]["pdq"]["hash"].is_string());
    assert!(
        err(4).contains("100000x100000") && err(4).contains("over the limit"),
        "{}",
        err(4)
    );

    // Text mode: good lines on stdout, one line per bad file on stderr.
    let run = w.run(&["hash", "in"]).expect(2);
    assert_eq!(run.stdout().lines().count(), 1);
    assert_eq!(run.stderr().lines().count(), 4, "{}", run.stderr());
    assert!(!run.stderr().contains("panicked"));
}

#[test]
fn missing_path_is_exit_2() {
    let w = Ward::new();
    let run = w.run(&["hash", "nope.jpg"]).expect(2);
    assert!(run.stderr().contains("nope.jpg: no such file or folder"));
}

#[test]
fn exif_option_changes_what_is_hashed() {
    let w = Ward::new();
    let img = reference().join("pdq/images/reg-test-input/exif-rotn/exif-rotn-6.jpg");
    let plain = w
        .run(&["hash", "--json", img.to_str().unwrap()])
        .expect(0)
        .json_lines();
    let seen = w
        .run(&[
            "hash",
            "--json",
            "--exif-orientation",
            img.to_str().unwrap(),
        ])
        .expect(0)
        .json_lines();
    assert_eq!(
        (plain[0]["width"].as_u64(), seen[0]["width"].as_u64()),
        (Some(4032), Some(3024))
    );
    assert_ne!(plain[0]["pdq"]["hash"], seen[0]["pdq"]["hash"]);
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn crc(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 == 1 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}
