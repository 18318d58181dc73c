//! `keydrop drop create | list`.

use crate::clock::{from_millis, rfc3339, SharedClock};
use crate::config::{parse_duration, StoreSettings};
use crate::domain::drop::{DropRequest, DropState};
use crate::greenhouse::Kind;
use crate::service;
use crate::startup::open_store;
use anyhow::{anyhow, Context};
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum DropCommand {
    /// Create a one-time link and print it (it is shown only this once).
    Create {
        /// The customer organisation, shown on the page.
        #[arg(long)]
        org: String,
        /// A note shown to the customer.
        #[arg(long)]
        note: Option<String>,
        #[arg(long, help = kind_help())]
        kind: Option<String>,
        /// full-analytics (default) or minimal.
        #[arg(long)]
        profile: Option<String>,
        /// Lifetime, e.g. 72h, 7d, 3600 (300 s … 30 d).
        #[arg(long, default_value = "72h", value_parser = parse_duration)]
        expires_in: std::time::Duration,
        /// Failed submissions before the link locks (1 … 100).
        #[arg(long, default_value_t = 10)]
        max_attempts: i64,
        /// Base of the link.
        #[arg(
            long,
            env = "KEYDROP_PUBLIC_URL",
            default_value = "http://127.0.0.1:8080"
        )]
        public_url: String,
    },
    /// List drops, newest first.
    List {
        /// Only drops in this state.
        #[arg(long)]
        state: Option<String>,
    },
}

/// `--kind` help, from the kind registry: each kind's name and what the customer gives.
fn kind_help() -> String {
    let kinds = crate::greenhouse::registry();
    let lines: Vec<String> = kinds
        .all()
        .map(|k| format!("{}: {}", k.name(), k.summary()))
        .collect();
    format!("The credential kind to ask for. {}", lines.join("; "))
}

pub async fn run(
    cmd: DropCommand,
    settings: &StoreSettings,
    clock: SharedClock,
) -> anyhow::Result<ExitCode> {
    let store = open_store(settings, clock).await?;
    match cmd {
        DropCommand::Create {
            org,
            note,
            kind,
            profile,
            expires_in,
            max_attempts,
            public_url,
        } => {
            let kind = kind
                .map(|k| k.parse::<Kind>())
                .transpose()
                .map_err(|e| anyhow!("{e}"))?;
            let spec = DropRequest {
                org,
                note,
                kind,
                profile,
                required: None,
                optional: None,
                expires_in: Some(i64::try_from(expires_in.as_secs()).unwrap_or(i64::MAX)),
                max_attempts: Some(max_attempts),
            }
            .validate(crate::greenhouse::registry())
            .map_err(|e| anyhow!(e))?;
            let created = service::drops::create(&store, spec, "cli", None, &public_url).await?;
            eprintln!(
                "created drop {} for {}; expires {}. The link is shown only this once:",
                created.drop.id,
                created.drop.org,
                rfc3339(from_millis(created.drop.expires_at))
            );
            println!("{}", created.url());
        }
        DropCommand::List { state } => {
            let state = state
                .map(|s| DropState::parse(&s).ok_or_else(|| anyhow!("unknown state {s:?}")))
                .transpose()?;
            println!(
                "{:<36}  {:<9}  {:<10}  {:<20}  {:>8}  org",
                "id", "state", "kind", "expires", "attempts"
            );
            let mut after = None;
            loop {
                let page = store
                    .list_drops(state, after.as_ref(), 500)
                    .await
                    .context("listing drops")?;
                for d in &page {
                    println!(
                        "{:<36}  {:<9}  {:<10}  {:<20}  {:>4}/{:<3}  {}",
                        d.id,
                        d.state.as_str(),
                        d.kind.as_str(),
                        rfc3339(from_millis(d.expires_at)),
                        d.attempts,
                        d.max_attempts,
                        d.org
                    );
                }
                match page.last() {
                    Some(last) if page.len() == 500 => {
                        after = Some(crate::store::Cursor {
                            created_at: last.created_at,
                            id: last.id.clone(),
                        })
                    }
                    _ => break,
                }
            }
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
