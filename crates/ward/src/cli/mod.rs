//! Command-line arguments (what was typed) and their conversion into library options.

mod audit;
mod bank;
mod evidence;
mod hash;
mod matching;
mod serve;
mod token;

use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// ward finds copies of known terrorist and violent-extremist propaganda among uploads,
/// sends matches to human review, and keeps the evidence.
#[derive(Parser, Debug)]
#[command(name = "ward", version, about, max_term_width = 100)]
pub struct Cli {
    /// The database file (created on first use).
    #[arg(
        long,
        global = true,
        env = "WARD_DB",
        default_value = "ward.db",
        value_name = "PATH"
    )]
    db: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Hash image and video files and folders (recursively): PDQ or vPDQ, MD5 and SHA-256.
    Hash(hash::HashArgs),
    /// Keep hash banks: create, list, import, export, add media, disable entries.
    #[command(subcommand)]
    Bank(bank::BankCommand),
    /// Hash files (or take a hash) and match them against every active bank.
    Match(matching::MatchArgs),
    /// Run the HTTP service: the native API (/v1), HMA-compatible endpoints, /metrics.
    Serve(serve::ServeArgs),
    /// Manage API tokens for `ward serve`.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Read and verify the hash-chained audit log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Export a case as an evidence package an investigator can verify offline.
    #[command(subcommand)]
    Evidence(evidence::EvidenceCommand),
}

/// Runs the parsed command and returns the exit code.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Hash(args) => hash::run(args),
        Command::Bank(cmd) => bank::run(cmd, open(&cli.db)?),
        Command::Match(args) => matching::run(args, open(&cli.db)?),
        Command::Serve(args) => serve::run(args, &cli.db),
        Command::Token(cmd) => token::run(cmd, open(&cli.db)?),
        Command::Audit(cmd) => audit::run(cmd, open(&cli.db)?),
        Command::Evidence(cmd) => evidence::run(cmd, open(&cli.db)?, &cli.db),
    }
}

/// Opens the store and wraps it in the engine.
fn open(db: &Path) -> anyhow::Result<ward_engine::Ward> {
    let mut store = ward_engine::ward_store::Store::open(db)?;
    // Writes that name no actor (disable, revoke, …) are recorded in the audit log as this user.
    store.set_actor(&actor());
    Ok(ward_engine::Ward::new(store))
}

/// Who is acting, for the record of who added what.
fn actor() -> String {
    std::env::var("USER")
        .map(|u| format!("cli:{u}"))
        .unwrap_or_else(|_| "cli".to_owned())
}

/// Options shared by every command that decodes media.
#[derive(clap::Args, Debug, Clone)]
pub struct MediaArgs {
    /// Hash what a viewer sees: apply the EXIF orientation first. Off by default, as in the
    /// reference implementations, so that hashes match the lists platforms exchange.
    #[arg(long)]
    pub exif_orientation: bool,
    /// Refuse images with more pixels than this (width × height).
    #[arg(long, default_value_t = 200_000_000, value_name = "N")]
    pub max_pixels: u64,
    /// Refuse files larger than this many bytes.
    #[arg(long, default_value_t = 256 << 20, value_name = "N")]
    pub max_bytes: u64,
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,
}

impl MediaArgs {
    fn decode_options(&self) -> ward_media::DecodeOptions {
        ward_media::DecodeOptions {
            max_pixels: self.max_pixels,
            max_bytes: self.max_bytes,
            exif_orientation: self.exif_orientation,
        }
    }

    fn thread_pool(&self) -> anyhow::Result<rayon::ThreadPool> {
        let mut b = rayon::ThreadPoolBuilder::new();
        if let Some(n) = self.threads {
            anyhow::ensure!(n > 0, "--threads must be at least 1");
            b = b.num_threads(n);
        }
        Ok(b.build()?)
    }
}
