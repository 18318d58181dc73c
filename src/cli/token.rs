//! `keydrop token create | list | revoke`.

use crate::clock::{from_millis, rfc3339, SharedClock};
use crate::config::StoreSettings;
use crate::domain::event::{Event, Origin};
use crate::domain::role::Role;
use crate::service::tokens::{self, validate_name};
use crate::startup::{open_store, unlock};
use anyhow::{anyhow, Context};
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once.
    Create {
        /// What the token is for, e.g. "ingest-eu" (shown in `token list` and the audit log).
        #[arg(long)]
        name: String,
        /// admin, issuer, worker or auditor (reads drops, metadata and the audit log; changes
        /// nothing).
        #[arg(long)]
        role: Role,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by id.
    Revoke {
        /// The token's id, as `token list` shows it.
        id: String,
    },
}

impl clap::ValueEnum for Role {
    fn value_variants<'a>() -> &'a [Self] {
        &Role::ALL
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.as_str()))
    }
}

pub async fn run(
    cmd: TokenCommand,
    settings: &StoreSettings,
    clock: SharedClock,
) -> anyhow::Result<ExitCode> {
    let store = open_store(settings, clock.clone()).await?;
    match cmd {
        TokenCommand::Create { name, role } => {
            let name = validate_name(&name).map_err(|e| anyhow!(e))?;
            // Tokens are tagged with a key sealed under the keyring.
            let keyring = unlock(&store, settings).await?;
            let keys = tokens::Tokens::load(&store, &keyring).await?;
            let (record, token) = tokens::create(&store, &keys, name, role, "cli", None).await?;
            eprintln!(
                "created {} token {} ({}); it is shown only this once:",
                role, record.id, record.name
            );
            println!("{}", token.reveal());
        }
        TokenCommand::List => {
            println!(
                "{:<36}  {:<7}  {:<20}  {:<20}  name",
                "id", "role", "created", "revoked"
            );
            for t in store.list_tokens().await? {
                println!(
                    "{:<36}  {:<7}  {:<20}  {:<20}  {}",
                    t.id,
                    t.role,
                    rfc3339(from_millis(t.created_at)),
                    t.revoked_at
                        .map_or("-".into(), |ms| rfc3339(from_millis(ms))),
                    t.name
                );
            }
        }
        TokenCommand::Revoke { id } => {
            let id = uuid::Uuid::parse_str(&id).context("the token id must be a UUID")?;
            unlock(&store, settings).await?;
            let audit = Origin::cli().entry(Event::TokenRevoked { token: id });
            let t = store
                .revoke_token(id, &audit)
                .await?
                .ok_or_else(|| anyhow!("no token with id {id}"))?;
            println!("revoked {} token {} ({})", t.role, t.id, t.name);
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
