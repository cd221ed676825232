//! Everything that reaches the terminal: line formats, JSON objects, progress bars, and the
//! walk from command-line paths to files.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use ward_media::ImageSignals;

/// A file to process, or a path that could not be walked and why.
pub type FileItem = Result<PathBuf, (PathBuf, String)>;

/// Expands files and folders (recursively, in a stable sorted order) into files.
pub fn expand_paths(paths: &[PathBuf]) -> Vec<FileItem> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            for entry in walkdir::WalkDir::new(p).sort_by_file_name() {
                match entry {
                    Ok(e) if e.file_type().is_file() => out.push(Ok(e.into_path())),
                    Ok(_) => {}
                    Err(e) => {
                        let path = e.path().map(Path::to_path_buf).unwrap_or_else(|| p.clone());
                        out.push(Err((path, e.to_string())));
                    }
                }
            }
        } else if p.exists() {
            out.push(Ok(p.clone()));
        } else {
            out.push(Err((p.clone(), "no such file or folder".to_owned())));
        }
    }
    out
}

/// A path as JSON text (lossy for non-UTF-8 names).
pub fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The `--json` object of `ward hash`.
pub fn signals_json(path: &Path, s: &ImageSignals) -> Value {
    let mut v = json!({
        "path": path_str(path),
        "pdq": {"hash": s.pdq.hash.to_hex(), "quality": s.pdq.quality},
        "md5": s.digests.md5_hex(),
        "sha256": s.digests.sha256_hex(),
        "width": s.width,
        "height": s.height,
    });
    if let Some(d) = &s.dihedral {
        v["pdq_dihedral"] = d.iter().map(|h| Value::from(h.to_hex())).collect();
    }
    v
}

/// Writes one JSON value and a newline.
pub fn write_json_line(out: &mut impl Write, v: &Value) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, v)?;
    out.write_all(b"\n")
}

/// Whether an error is a closed stdout (`ward hash | head`).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// A progress bar on stderr when it is a terminal; nothing otherwise.
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar for `total` items.
    pub fn new(total: u64) -> Self {
        if !std::io::stderr().is_terminal() || total < 2 {
            return Progress(None);
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        let style =
            ProgressStyle::with_template("{bar:40} {pos}/{len} files, {per_sec}, eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        Progress(Some(bar))
    }

    /// One more item done.
    pub fn inc(&self) {
        if let Some(b) = &self.0 {
            b.inc(1);
        }
    }

    /// Runs `f` with the bar hidden, so a message does not tear it.
    pub fn suspend(&self, f: impl FnOnce()) {
        match &self.0 {
            Some(b) => b.suspend(f),
            None => f(),
        }
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}
