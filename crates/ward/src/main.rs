//! `ward`: find re-uploads of known terrorist and violent-extremist media.
//!
//! This binary is the thin front end: it parses arguments, builds typed options for the
//! libraries, prints, and maps outcomes to exit codes (0 ok, 1 a match under
//! `--fail-on-match`, 2 bad input or error). No domain logic lives here.

mod cli;
mod output;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            if output::is_broken_pipe(&err) {
                // `ward hash DIR | head` is a normal thing to do.
                return ExitCode::SUCCESS;
            }
            eprintln!("ward: {err:#}");
            ExitCode::from(2)
        }
    }
}
