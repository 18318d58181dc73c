//! `keydrop webhook add | list | remove` (SPEC §7, §11).

use crate::clock::SharedClock;
use crate::config::StoreSettings;
use crate::domain::event::{Event, Origin};
use crate::service::webhooks::{self, NewEndpoint, WebhookError};
use crate::startup::{open_store, unlock};
use anyhow::{anyhow, bail};
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum WebhookCommand {
    /// Register an endpoint and print its signing secret, once.
    Add {
        /// The receiver, `https://` on a public address.
        url: String,
        /// Comma-separated event types (default: all).
        #[arg(long, value_delimiter = ',')]
        events: Option<Vec<String>>,
        /// What the receiver is for, shown in `webhook list`.
        #[arg(long)]
        description: Option<String>,
        /// Allow a private or loopback address, or plain http (as
        /// KEYDROP_WEBHOOK_ALLOW_PRIVATE). Refused when the service on this database runs
        /// without that setting: it would not deliver there.
        #[arg(long, env = "KEYDROP_WEBHOOK_ALLOW_PRIVATE")]
        allow_private: bool,
    },
    /// List endpoints (never their secrets).
    List,
    /// Delete an endpoint and its deliveries.
    Remove {
        /// The endpoint's id, as `webhook list` shows it.
        id: String,
    },
}

pub async fn run(
    cmd: WebhookCommand,
    settings: &StoreSettings,
    clock: SharedClock,
) -> anyhow::Result<ExitCode> {
    let store = open_store(settings, clock).await?;
    match cmd {
        WebhookCommand::Add {
            url,
            events,
            description,
            allow_private,
        } => {
            let ring = unlock(&store, settings).await?;
            // What the service delivers to, not only what this command was told: a receiver
            // the service would refuse is refused here.
            let served = store
                .recorded_setting(crate::store::instance::WEBHOOK_ALLOW_PRIVATE)
                .await?;
            let service_refuses = served.as_deref() == Some("false");
            if allow_private && service_refuses && needs_private(&url).await {
                bail!(
                    "the service on this database runs without KEYDROP_WEBHOOK_ALLOW_PRIVATE \
                     and would not deliver to this receiver (plain http, or a private or \
                     loopback address): --allow-private is not enough"
                );
            }
            let created = webhooks::create(
                &store,
                &ring,
                &Origin::cli(),
                NewEndpoint {
                    url,
                    events,
                    description,
                },
                allow_private && !service_refuses,
            )
            .await;
            let (endpoint, secret) = match created {
                Ok(c) => c,
                Err(WebhookError::Invalid(m)) => bail!("{m}"),
                Err(WebhookError::Service(e)) => return Err(e.into()),
            };
            eprintln!(
                "registered webhook {} for {}; its signing secret is shown only this once:",
                endpoint.id, endpoint.url
            );
            println!("{}", secret.as_str());
        }
        WebhookCommand::List => {
            println!("{:<36}  {:<8}  {:<30}  url", "id", "enabled", "events");
            for e in store.list_endpoints().await? {
                println!(
                    "{:<36}  {:<8}  {:<30}  {}",
                    e.id,
                    e.enabled,
                    e.events.map_or("all".into(), |v| v.join(",")),
                    e.url
                );
            }
        }
        WebhookCommand::Remove { id } => {
            let id = uuid::Uuid::parse_str(&id)
                .map_err(|_| anyhow!("the webhook id must be a UUID"))?
                .to_string();
            unlock(&store, settings).await?;
            let audit = Origin::cli().entry(Event::WebhookDeleted {
                endpoint: id.clone(),
            });
            if !store.delete_endpoint(&id, &audit).await? {
                bail!("no webhook with id {id}");
            }
            println!("removed webhook {id}");
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Whether `url` passes only with private addresses allowed (plain http, or a host that
/// resolves to a private or loopback address).
async fn needs_private(url: &str) -> bool {
    match webhooks::parse_url(url, false) {
        Err(_) => webhooks::parse_url(url, true).is_ok(),
        Ok(parsed) => {
            webhooks::resolve(&parsed, false).await.is_err()
                && webhooks::resolve(&parsed, true).await.is_ok()
        }
    }
}
