//! `ward token …`: API tokens for `ward serve`.

use super::actor;
use clap::Subcommand;
use std::process::ExitCode;
use ward_engine::ward_store::Role;
use ward_engine::Ward;

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a token and print it once (only its SHA-256 is stored: it cannot be shown again).
    Create {
        /// What it may do: submitter (hash, look up, submit), reviewer (cases and media),
        /// curator (banks, and what a submitter may), admin (everything).
        #[arg(long, value_parser = ["submitter", "reviewer", "curator", "admin"])]
        role: String,
        /// A unique name: who or what holds it (e.g. "upload-service").
        #[arg(long)]
        name: String,
    },
    /// List tokens (names, roles, dates; never the tokens themselves).
    List,
    /// Revoke a token by name; a running server refuses it within a second.
    Revoke {
        /// The token's name.
        name: String,
    },
}

pub fn run(cmd: TokenCommand, mut ward: Ward) -> anyhow::Result<ExitCode> {
    let store = ward.store_mut();
    match cmd {
        TokenCommand::Create { role, name } => {
            let role = Role::parse(&role)?;
            let (secret, info) = ward_server::create_token(store, &name, role, &actor())?;
            eprintln!(
                "created {} token '{}': shown once, store it now",
                info.role.as_str(),
                info.name
            );
            println!("{secret}");
        }
        TokenCommand::List => {
            for t in store.tokens()? {
                let state = match t.revoked_at {
                    Some(at) => format!("revoked at {at}"),
                    None => "active".to_owned(),
                };
                println!(
                    "{}\t{}\t{state}\tcreated {} by {}",
                    t.name,
                    t.role.as_str(),
                    t.created_at,
                    t.created_by
                );
            }
        }
        TokenCommand::Revoke { name } => {
            store.revoke_token(&name)?;
            println!("revoked token '{name}'");
        }
    }
    Ok(ExitCode::SUCCESS)
}
