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
    if std::env::args_os().nth(1).as_deref() == Some(ward_media::av_worker::WORKER_ARG.as_ref()) {
        // A decoding worker started by this binary (see `ward_media::av_worker`).
        return ExitCode::from(u8::try_from(ward_media::av_worker::run_worker()).unwrap_or(2));
    }
    // Videos decode in workers of this very binary, unless WARD_AV_WORKER=0 (then ffprobe
    // and ffmpeg are started per file) or this build has no worker.
    if ward_av::available() && std::env::var_os("WARD_AV_WORKER").is_none_or(|v| v != "0") {
        // /proc/self/exe runs this very binary even after an upgrade replaced its file.
        let proc_exe = std::path::Path::new("/proc/self/exe");
        let exe = if proc_exe.exists() {
            Ok(proc_exe.to_path_buf())
        } else {
            std::env::current_exe()
        };
        if let Ok(exe) = exe {
            ward_media::set_default_av_worker(exe);
        }
    }
    let args = cli::Cli::parse();
    let result = cli::run(args);
    ward_media::av_worker::shutdown();
    match result {
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
