//! `ward evidence export`: a case as a package an investigator can verify offline.

use super::actor;
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use ward_engine::ward_store::{evidence, hex, MediaDir};
use ward_engine::Ward;

#[derive(Subcommand, Debug)]
pub enum EvidenceCommand {
    /// Write the case's media (named by SHA-256), case.json, audit.jsonl, manifest.json and
    /// SHA256SUMS (check with `sha256sum -c SHA256SUMS`) into a new or empty folder. The
    /// export is recorded in the audit log.
    Export {
        /// The case id.
        case: i64,
        /// The folder to write (must not exist or be empty).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// The media folder `ward serve` keeps (default: `media/` beside the database).
        #[arg(long, value_name = "DIR")]
        media_dir: Option<PathBuf>,
    },
}

pub fn run(cmd: EvidenceCommand, mut ward: Ward, db: &Path) -> anyhow::Result<ExitCode> {
    match cmd {
        EvidenceCommand::Export {
            case,
            out,
            media_dir,
        } => {
            let media = media_dir.map_or_else(|| MediaDir::beside(db), MediaDir::new);
            let summary = evidence::export(ward.store_mut(), &media, case, &out, &actor())?;
            for (path, sha, bytes) in &summary.files {
                println!("{}  {path}  {bytes}", hex(sha));
            }
            eprintln!(
                "exported case {case} to {} ({} files; manifest SHA-256 {}, audit entry {})",
                out.display(),
                summary.files.len(),
                hex(&summary.manifest_sha256),
                summary.audit_id
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
