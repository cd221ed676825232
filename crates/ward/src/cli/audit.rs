//! `ward audit …`: verify and read the hash-chained audit log.

use clap::Subcommand;
use std::process::ExitCode;
use ward_engine::ward_store::{evidence, hex, AuditEntry, AuditVerdict};
use ward_engine::Ward;

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Walk the whole chain: print OK with the count and the head hash (record the head
    /// elsewhere: only a recorded head shows that the newest entries were cut off), or name
    /// the first entry that does not check out and exit 1.
    Verify,
    /// Print the newest entries, oldest first.
    Tail {
        /// How many.
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: u32,
        /// One JSON object per line (with the hashes).
        #[arg(long)]
        json: bool,
    },
    /// Print entries after an id, oldest first.
    List {
        /// Only entries with a larger id.
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// At most this many.
        #[arg(long, default_value_t = 1000)]
        limit: u32,
        /// One JSON object per line (with the hashes).
        #[arg(long)]
        json: bool,
    },
}

fn print(entries: &[AuditEntry], json: bool) {
    for e in entries {
        if json {
            println!("{}", evidence::audit_json(e));
        } else {
            println!(
                "{}\t{}\t{}\t{}\t{}\t{}",
                e.id, e.at, e.actor, e.action, e.subject, e.detail
            );
        }
    }
}

pub fn run(cmd: AuditCommand, ward: Ward) -> anyhow::Result<ExitCode> {
    let store = ward.store();
    match cmd {
        AuditCommand::Verify => {
            match store.audit_verify()? {
                AuditVerdict::Intact { count, head } => {
                    println!("OK {count} entries, head {}", hex(&head));
                    Ok(ExitCode::SUCCESS)
                }
                AuditVerdict::Tampered {
                    id,
                    reason,
                    verified,
                } => {
                    println!("TAMPERED entry {id}: {reason}");
                    eprintln!("ward: audit log broken at entry {id} ({verified} entries before it check out)");
                    Ok(ExitCode::from(1))
                }
            }
        }
        AuditCommand::Tail { lines, json } => {
            print(&store.audit_tail(lines)?, json);
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::List { after, limit, json } => {
            print(&store.audit_entries(after, limit)?, json);
            Ok(ExitCode::SUCCESS)
        }
    }
}
