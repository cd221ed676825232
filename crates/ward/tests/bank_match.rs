//! `ward bank` and `ward match` end to end, on a real database file.

mod util;
use util::{reference, Ward};

fn pdq_dir(sub: &str) -> String {
    reference()
        .join("pdq")
        .join(sub)
        .to_str()
        .unwrap()
        .to_owned()
}

fn bridge_bank(w: &Ward) {
    w.run(&["bank", "create", "bridge", "--label", "demo"])
        .expect(0);
    let orig = pdq_dir("images/bridge-mods/aaa-orig.jpg");
    let run = w.run(&["bank", "add", "bridge", &orig]).expect(0);
    assert!(run.stdout().contains("added 3 entries"), "{}", run.stdout());
}

#[test]
fn every_bridge_edit_matches_and_unrelated_images_do_not() {
    let w = Ward::new();
    bridge_bank(&w);
    let run = w
        .run(&["match", "--json", &pdq_dir("images/bridge-mods")])
        .expect(0);
    let lines = run.json_lines();
    assert_eq!(lines.len(), 12);
    for v in &lines {
        let m = v["matches"].as_array().unwrap();
        let pdq = m
            .iter()
            .find(|m| m["signal_type"] == "pdq")
            .unwrap_or_else(|| panic!("{v}"));
        assert_eq!(pdq["bank"], "bridge");
        assert!(pdq["distance"].as_u64().unwrap() <= 31);
        assert_eq!(pdq["labels"], serde_json::json!(["demo"]));
    }
    // Unrelated photos: no match (the low-quality ones are said to be skipped).
    let run = w
        .run(&[
            "match",
            "--json",
            &pdq_dir("images/reg-test-input/labelme-subset"),
        ])
        .expect(0);
    for v in run.json_lines() {
        assert_eq!(v["matches"].as_array().unwrap().len(), 0, "{v}");
    }
    let run = w
        .run(&["match", &pdq_dir("images/reg-test-input/labelme-subset")])
        .expect(0);
    assert!(
        run.stderr().contains("q0003.jpg: PDQ quality ") && run.stderr().contains("is under 50"),
        "{}",
        run.stderr()
    );
}

#[test]
fn rotations_match_only_with_dihedral_when_not_normalised() {
    let w = Ward::new();
    bridge_bank(&w);
    let dih = pdq_dir("images/reg-test-input/dih");
    let plain = w
        .run(&["match", "--json", "--no-normalise", &dih])
        .expect(0)
        .json_lines();
    let matched: Vec<_> = plain
        .iter()
        .filter(|v| !v["matches"].as_array().unwrap().is_empty())
        .collect();
    assert_eq!(
        matched.len(),
        1,
        "only the unrotated original matches without --dihedral"
    );
    assert!(matched[0]["path"]
        .as_str()
        .unwrap()
        .ends_with("bridge-1-original.jpg"));
    let all = w
        .run(&["match", "--json", "--no-normalise", "--dihedral", &dih])
        .expect(0)
        .json_lines();
    assert_eq!(all.len(), 8);
    for v in &all {
        let m = &v["matches"][0];
        assert!(m["distance"].as_u64().unwrap() <= 31, "{v}");
    }
    assert!(all.iter().any(|v| v["matches"][0]["via"]
        .as_str()
        .unwrap()
        .starts_with("dihedral-")));
}

#[test]
fn fail_on_match_and_raw_hash_lookup() {
    let w = Ward::new();
    bridge_bank(&w);
    let h = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
    let run = w.run(&["match", "--hash", h]).expect(0);
    assert!(
        run.stdout().starts_with(&format!("{h},bridge,")),
        "{}",
        run.stdout()
    );
    w.run(&["match", "--fail-on-match", "--hash", h]).expect(1);
    let far = "0".repeat(64);
    w.run(&["match", "--fail-on-match", "--hash", &far])
        .expect(0);
    let run = w.run(&["match", "--hash", "abc"]).expect(2);
    assert!(run.stderr().contains("64 hex digits"), "{}", run.stderr());
}

#[test]
fn bad_import_leaves_the_bank_unchanged() {
    let w = Ward::new();
    bridge_bank(&w);
    let good = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
    w.write(
        "bad.txt",
        format!("{good}\n{}\n", "zz".repeat(32)).as_bytes(),
    );
    let run = w.run(&["bank", "import", "bridge", "bad.txt"]).expect(2);
    assert!(
        run.stderr()
            .contains("bad.txt:2: 'z' at column 1 is not a hex digit"),
        "{}",
        run.stderr()
    );
    w.write("empty.txt", b"");
    let run = w.run(&["bank", "import", "bridge", "empty.txt"]).expect(0);
    assert!(run.stdout().contains("imported 0 new entries"));
    let run = w.run(&["bank", "import", "nobank", "empty.txt"]).expect(2);
    assert!(run.stderr().contains("no bank named 'nobank'"));
    let list = w.run(&["bank", "list", "--json"]).expect(0).json_lines();
    assert_eq!(list[0]["active_entries"], 3);
}

#[test]
fn export_import_round_trip_through_files() {
    let w = Ward::new();
    bridge_bank(&w);
    let hay = reference().join("pdq/hash-lists/haystack.txt");
    w.run(&["bank", "import", "bridge", hay.to_str().unwrap()])
        .expect(0);
    w.run(&["bank", "export", "bridge", "-o", "out.csv"])
        .expect(0);
    w.run(&["bank", "create", "copy"]).expect(0);
    w.run(&["bank", "import", "copy", "out.csv"]).expect(0);
    w.run(&["bank", "export", "copy", "-o", "again.csv"])
        .expect(0);
    let a = std::fs::read_to_string(w.path("out.csv")).unwrap();
    let b = std::fs::read_to_string(w.path("again.csv")).unwrap();
    let (mut a, mut b): (Vec<_>, Vec<_>) = (a.lines().collect(), b.lines().collect());
    a.sort();
    b.sort();
    assert_eq!(a, b);
    // Importing the same list twice adds nothing.
    let run = w.run(&["bank", "import", "copy", "out.csv"]).expect(0);
    assert!(
        run.stdout().starts_with("imported 0 new entries"),
        "{}",
        run.stdout()
    );
}

#[test]
fn disabled_entries_stop_matching() {
    let w = Ward::new();
    bridge_bank(&w);
    let img = pdq_dir("images/bridge-mods/blur-a-lot.jpg");
    let v = &w.run(&["match", "--json", &img]).expect(0).json_lines()[0];
    let entry = v["matches"][0]["entry"].as_i64().unwrap().to_string();
    w.run(&["bank", "disable", "bridge", &entry]).expect(0);
    let v = &w.run(&["match", "--json", &img]).expect(0).json_lines()[0];
    assert_eq!(v["matches"].as_array().unwrap().len(), 0);
    w.run(&["bank", "disable", "bridge", "999999"]).expect(2);
}

/// SIGKILL in the middle of a large import: the database opens, the bank is as it was, and a
/// re-run completes.
#[test]
fn killed_import_leaves_the_bank_as_it_was() {
    let w = Ward::new();
    w.run(&["bank", "create", "big"]).expect(0);
    let mut text = String::with_capacity(65 * 400_000);
    let mut s = 0x243f_6a88_85a3_08d3u64;
    for _ in 0..400_000 {
        for _ in 0..4 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            text.push_str(&format!("{s:016x}"));
        }
        text.push('\n');
    }
    w.write("big.txt", text.as_bytes());
    let db = w.path("ward.db");
    // Kill at several points of the import's life. Each time the bank holds either nothing
    // (killed before the commit) or the whole list (killed after it, before the process
    // exited): never part of it.
    let mut killed_midway = 0;
    for delay_ms in [150u64, 400, 900] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ward"))
            .args(["bank", "import", "big", "big.txt"])
            .current_dir(w.dir.path())
            .env("WARD_DB", &db)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let finished = child.try_wait().unwrap().is_some();
        let _ = child.kill(); // SIGKILL on Unix
        let _ = child.wait();
        let list = w.run(&["bank", "list", "--json"]).expect(0).json_lines();
        let n = list[0]["active_entries"].as_u64().unwrap();
        assert!(
            n == 0 || n == 400_000,
            "killed after {delay_ms} ms, the bank has {n} entries"
        );
        if finished || n == 400_000 {
            break;
        }
        killed_midway += 1;
    }
    assert!(
        killed_midway > 0,
        "the import finished before the first kill: make the list longer"
    );
    let run = w.run(&["bank", "import", "big", "big.txt"]).expect(0);
    assert!(
        run.stdout().contains("400000 new entries") || run.stdout().contains("imported 0 new"),
        "{}",
        run.stdout()
    );
    let list = w.run(&["bank", "list", "--json"]).expect(0).json_lines();
    assert_eq!(list[0]["active_entries"], 400_000);
}
