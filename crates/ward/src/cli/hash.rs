//! `ward hash PATH...`

use super::MediaArgs;
use crate::output::{self, Progress};
use rayon::prelude::*;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use ward_media::HashOptions;

#[derive(clap::Args, Debug)]
pub struct HashArgs {
    /// Files and folders (folders are walked recursively).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// One JSON object per line, with MD5, SHA-256 and dimensions.
    #[arg(long)]
    json: bool,
    /// Also the eight rotations/flips (JSON: "pdq_dihedral", in the reference's order).
    #[arg(long)]
    dihedral: bool,
    #[command(flatten)]
    media: MediaArgs,
}

pub fn run(args: HashArgs) -> anyhow::Result<ExitCode> {
    let opts = HashOptions {
        decode: args.media.decode_options(),
        dihedral: args.dihedral,
    };
    let files = output::expand_paths(&args.paths);
    let pool = args.media.thread_pool()?;
    let progress = Progress::new(files.len() as u64);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut failed = false;
    // Chunks keep the output in input order while every core works on a chunk.
    for chunk in files.chunks(256) {
        let results: Vec<_> = pool.install(|| {
            chunk
                .par_iter()
                .map(|f| {
                    let r = match f {
                        Ok(path) => ward_media::hash_file(path, &opts).map_err(|e| e.to_string()),
                        Err((_, e)) => Err(e.clone()),
                    };
                    progress.inc();
                    r
                })
                .collect()
        });
        for (f, r) in chunk.iter().zip(results) {
            let path = match f {
                Ok(p) => p,
                Err((p, _)) => p,
            };
            match r {
                Ok(s) if args.json => {
                    output::write_json_line(&mut out, &output::signals_json(path, &s))?
                }
                Ok(s) => writeln!(
                    out,
                    "pdq,{},{},{}",
                    s.pdq.hash,
                    s.pdq.quality,
                    path.display()
                )?,
                Err(e) => {
                    failed = true;
                    if args.json {
                        let v = serde_json::json!({"path": output::path_str(path), "error": e});
                        output::write_json_line(&mut out, &v)?;
                    } else {
                        out.flush()?;
                        progress.suspend(|| eprintln!("{}: {e}", path.display()));
                    }
                }
            }
        }
        out.flush()?;
    }
    progress.finish();
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
