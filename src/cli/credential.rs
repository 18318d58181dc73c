//! `keydrop credential relink ID [--send-to ADDR]` (SPEC §7, §15).

use crate::clock::{from_millis, rfc3339, SharedClock};
use crate::config::{partner_client, PartnerArgs, StoreSettings};
use crate::greenhouse::{Checker, CheckerConfig};
use crate::service;
use crate::service::drops::RelinkRequest;
use crate::startup::{open_store, unlock};
use anyhow::anyhow;
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum CredentialCommand {
    /// Make a new link whose credential will replace this one (same org, kind, release,
    /// contact, external id, metadata and permissions); print the link, once.
    Relink {
        id: String,
        /// E-mail the link to this address (SPEC §15).
        #[arg(long)]
        send_to: Option<String>,
        /// Base of the link. Default: the public URL `keydrop serve` recorded.
        #[arg(long, env = "KEYDROP_PUBLIC_URL")]
        public_url: Option<String>,
        #[command(flatten)]
        partner: Box<PartnerArgs>,
    },
}

pub async fn run(
    cmd: CredentialCommand,
    settings: &StoreSettings,
    clock: SharedClock,
) -> anyhow::Result<ExitCode> {
    let store = open_store(settings, clock.clone()).await?;
    match cmd {
        CredentialCommand::Relink {
            id,
            send_to,
            public_url,
            partner,
        } => {
            let keyring = unlock(&store, settings).await?;
            let mail = service::mail::recorded_mail(&store, &keyring).await?;
            let checker = Checker::new(
                CheckerConfig {
                    partner: partner_client(&partner).map_err(|e| anyhow!(e))?,
                    ..CheckerConfig::default()
                },
                clock,
            )?;
            let (public_url, warning) =
                service::drops::link_base(&store, public_url.as_deref()).await?;
            let request = RelinkRequest {
                send_to,
                ..RelinkRequest::default()
            };
            let created = service::drops::relink(
                &store,
                &checker,
                id.trim(),
                request,
                &crate::domain::event::Origin::cli(),
                &public_url,
                mail,
            )
            .await
            .map_err(|e| match e {
                service::drops::RelinkError::Create(service::drops::CreateError::NoMail) => {
                    anyhow!(service::mail::NO_RECORDED_MAIL)
                }
                e => anyhow!(e),
            })?;
            for warning in warning.iter().chain(&created.warnings) {
                eprintln!("keydrop: warning: {warning}");
            }
            eprintln!(
                "created drop {} for {}, replacing credential {} once its credential is accepted; expires {}. The link is shown only this once:",
                created.drop.id,
                created.drop.org,
                id.trim(),
                rfc3339(from_millis(created.drop.expires_at))
            );
            println!("{}", created.url());
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
