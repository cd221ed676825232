//! House rules checked as a test: every source file opens with a `//!` module comment, and
//! every `unsafe` block lives under `src/arch/` with a `// SAFETY:` comment before it.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn sources_are_documented_and_unsafe_is_confined() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "tests", "benches", "examples"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 10);
    // Spelt in two pieces so that this file does not match itself.
    let unsafe_block = concat!("unsafe", " {");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let rel = file
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        assert!(
            text.starts_with("//!"),
            "{rel}: start with a //! module comment"
        );
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if code.contains(unsafe_block) {
                assert!(
                    rel.starts_with("src/arch/"),
                    "{rel}:{}: unsafe outside src/arch/",
                    i + 1
                );
                let before = lines[..i]
                    .iter()
                    .rev()
                    .take(4)
                    .any(|l| l.contains("// SAFETY:"));
                assert!(
                    before,
                    "{rel}:{}: unsafe block without a // SAFETY: comment",
                    i + 1
                );
            }
        }
    }
}
