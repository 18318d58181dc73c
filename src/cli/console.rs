//! `keydrop console link`: a single-use sign-in link to the staff console (SPEC §7, §13) —
//! for the first sign-in, and whenever the identity provider is down.

use crate::clock::SharedClock;
use crate::config::{parse_duration, StoreSettings};
use crate::domain::event::Origin;
use crate::domain::role::Role;
use crate::service::console::{self, LinkError};
use crate::startup::{open_store, unlock};
use anyhow::bail;
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum ConsoleCommand {
    /// Print a single-use sign-in link (shown only this once).
    Link {
        /// The person's e-mail address; the audit log names them by it.
        #[arg(long)]
        email: String,
        /// admin, issuer or auditor.
        #[arg(long, value_parser = ["admin", "issuer", "auditor"])]
        role: String,
        /// How long the link works (at most 1h).
        #[arg(long, default_value = "10m", value_parser = parse_duration)]
        ttl: std::time::Duration,
        /// Base of the link. Default: the public URL `keydrop serve` recorded.
        #[arg(long, env = "KEYDROP_PUBLIC_URL")]
        public_url: Option<String>,
    },
}

pub async fn run(
    cmd: ConsoleCommand,
    settings: &StoreSettings,
    clock: SharedClock,
) -> anyhow::Result<ExitCode> {
    let ConsoleCommand::Link {
        email,
        role,
        ttl,
        public_url,
    } = cmd;
    let store = open_store(settings, clock).await?;
    unlock(&store, settings).await?;
    let role: Role = role.parse()?;
    let (base, warning) = crate::service::drops::link_base(&store, public_url.as_deref()).await?;
    let token = match console::create_link(&store, &email, role, ttl, &Origin::cli()).await {
        Ok(t) => t,
        Err(LinkError::Invalid(m)) => bail!("{m}"),
        Err(LinkError::Service(e)) => return Err(e.into()),
    };
    if let Some(warning) = warning {
        eprintln!("keydrop: warning: {warning}");
    }
    eprintln!(
        "a sign-in link for {email} ({}), shown only this once:",
        role.as_str()
    );
    println!("{base}/console/link/{}", token.reveal());
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
