//! `keydrop drop create | list | show | revoke`, through the same services
//! as the API (never its handlers).

use crate::clock::{from_millis, rfc3339, SharedClock};
use crate::config::{parse_duration, partner_client, PartnerArgs, StoreSettings};
use crate::domain::contact::Contact;
use crate::domain::credential::CredentialMeta;
use crate::domain::drop::{DropRecord, DropRequest, DropState};
use crate::domain::event::Origin;
use crate::domain::release::Release;
use crate::greenhouse::{Checker, CheckerConfig, Kind};
use crate::service;
use crate::service::drops::Revoked;
use crate::startup::{open_store, unlock};
use crate::store::DropFilter;
use anyhow::{anyhow, Context};
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum DropCommand {
    /// Create a one-time link and print it (it is shown only this once).
    Create(Box<CreateArgs>),
    /// E-mail a new link for an open drop (the previous link stops working).
    Send {
        /// The drop's id.
        id: String,
        /// The address; default: where its link was e-mailed before.
        #[arg(long)]
        to: Option<String>,
    },
    /// List drops, newest first.
    List {
        /// Only drops in this state.
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(
            DropState::ALL.map(DropState::as_str)
        ))]
        state: Option<String>,
        /// Only drops with this external id.
        #[arg(long)]
        external_id: Option<String>,
    },
    /// Show one drop's fields (never its link) and its credential's status.
    Show {
        /// The drop's id, as `drop create` and `drop list` show it.
        #[arg(required_unless_present = "reference")]
        id: Option<String>,
        /// Instead of the id: the 8-character reference on the customer's receipt
        /// (e.g. F7A45D80).
        #[arg(long, conflicts_with = "id")]
        reference: Option<String>,
    },
    /// Revoke an open drop (audited); fails if it is not open.
    Revoke {
        /// The drop's id.
        id: String,
    },
}

/// `drop create`'s flags.
#[derive(clap::Args)]
pub struct CreateArgs {
    /// The customer organisation, shown on the page.
    #[arg(long)]
    org: String,
    /// A note shown to the customer.
    #[arg(long)]
    note: Option<String>,
    #[arg(long, help = kind_help())]
    kind: Option<String>,
    #[arg(long, help = profile_help())]
    profile: Option<String>,
    /// Lifetime, e.g. 72h, 7d, 3600 (5m … 30d).
    #[arg(long, default_value = "72h", value_parser = parse_lifetime)]
    expires_in: std::time::Duration,
    /// Failed submissions before the link locks (1 … 100).
    #[arg(long, default_value_t = 10)]
    max_attempts: i64,
    /// The staff member the customer can reach (with --contact-email);
    /// shown on every page of the link.
    #[arg(long, requires = "contact_email")]
    contact_name: Option<String>,
    /// The contact's e-mail address (with --contact-name).
    #[arg(long, requires = "contact_name")]
    contact_email: Option<String>,
    /// Your own id for this customer; unique among drops that are not revoked.
    #[arg(long)]
    external_id: Option<String>,
    /// handoff (workers receive the secret) or vend (workers receive short-lived
    /// access tokens only; harvest_v3 and harvest_v3_partner).
    #[arg(long, value_parser = ["handoff", "vend"])]
    release: Option<String>,
    /// Base of the link. Default: the public URL `keydrop serve` announced on this
    /// database (the CLI warns when none did, or when this one differs).
    #[arg(long, env = "KEYDROP_PUBLIC_URL")]
    public_url: Option<String>,
    /// E-mail the link to this address (the running service sends it; SPEC §15).
    #[arg(long)]
    send_to: Option<String>,
    #[command(flatten)]
    partner: Box<PartnerArgs>,
}

/// `--expires-in`: a duration within what a drop allows, refused in the flag's own units.
fn parse_lifetime(text: &str) -> Result<std::time::Duration, String> {
    let d = parse_duration(text)?;
    let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    if secs < *crate::domain::drop::EXPIRES_IN.start() {
        return Err(format!("{text} is too short: at least 5m"));
    }
    if secs > *crate::domain::drop::EXPIRES_IN.end() {
        return Err(format!("{text} is too long: at most 30d"));
    }
    Ok(d)
}

/// `--profile` help, from the kind registry: each kind's named profiles, default first.
fn profile_help() -> String {
    let lines: Vec<String> = crate::greenhouse::registry()
        .all()
        .map(|k| {
            let names: Vec<&str> = k.profiles().iter().map(|p| p.name).collect();
            format!(
                "{}: {} (default {})",
                k.name(),
                names.join(", "),
                names.first().copied().unwrap_or("-")
            )
        })
        .collect();
    format!(
        "The named permission profile, per kind. {}",
        lines.join("; ")
    )
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
    let store = open_store(settings, clock.clone()).await?;
    match cmd {
        DropCommand::Create(args) => {
            let CreateArgs {
                org,
                note,
                kind,
                profile,
                expires_in,
                max_attempts,
                contact_name,
                contact_email,
                external_id,
                release,
                public_url,
                send_to,
                partner,
            } = *args;
            let keyring = unlock(&store, settings).await?;
            let release = release
                .map(|r| {
                    Release::parse(&r)
                        .ok_or_else(|| anyhow!("--release must be handoff or vend, not {r:?}"))
                })
                .transpose()?;
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
                contact: contact_name
                    .zip(contact_email)
                    .map(|(name, email)| Contact { name, email }),
                external_id,
                metadata: None,
                release,
                send_to,
            }
            .validate(crate::greenhouse::registry())
            .map_err(|e| anyhow!(e))?;
            // The same rule as the API's: a kind this configuration cannot serve is refused.
            let checker = Checker::new(
                CheckerConfig {
                    partner: partner_client(&partner).map_err(|e| anyhow!(e))?,
                    ..CheckerConfig::default()
                },
                clock,
            )?;
            let (public_url, warning) =
                service::drops::link_base(&store, public_url.as_deref()).await?;
            let mail = service::mail::recorded_mail(&store, &keyring).await?;
            let created =
                service::drops::create(&store, &checker, spec, &Origin::cli(), &public_url, mail)
                    .await
                    .map_err(|e| match e {
                        service::drops::CreateError::NoMail => {
                            anyhow!(service::mail::NO_RECORDED_MAIL)
                        }
                        e => anyhow!(e),
                    })?;
            for warning in warning.iter().chain(&created.warnings) {
                eprintln!("keydrop: warning: {warning}");
            }
            eprintln!(
                "created drop {} for {}; expires {}. The link is shown only this once:",
                created.drop.id,
                created.drop.org,
                rfc3339(from_millis(created.drop.expires_at))
            );
            if let Some(to) = &created.drop.send_to {
                eprintln!("keydrop: the service e-mails it to {to}");
            }
            println!("{}", created.url());
        }
        DropCommand::Send { id, to } => {
            use service::mail::SentAgain;
            let id = drop_id(&id)?;
            let keyring = unlock(&store, settings).await?;
            let to = to
                .as_deref()
                .map(|t| crate::domain::contact::check_email("--to", t))
                .transpose()
                .map_err(|e| anyhow!(e))?;
            let Some(keyring) = service::mail::recorded_mail(&store, &keyring).await? else {
                return Err(anyhow!(service::mail::NO_RECORDED_MAIL));
            };
            match service::mail::send_again(&store, keyring, &id, to, &Origin::cli()).await? {
                SentAgain::Queued(d) => println!(
                    "a new link for drop {} ({}) is on its way to {}; the previous link no longer works",
                    d.id,
                    d.org,
                    d.send_to.as_deref().unwrap_or("?")
                ),
                SentAgain::NotOpen(d) => return Err(anyhow!("{}", Revoked::reason(&d))),
                SentAgain::NoRecipient => {
                    return Err(anyhow!(
                        "this drop's link was never e-mailed: give the address with --to"
                    ))
                }
                SentAgain::NotFound => return Err(anyhow!("no drop with id {id}")),
            }
        }
        DropCommand::List { state, external_id } => {
            let filter = DropFilter {
                state: state.as_deref().and_then(DropState::parse),
                external_id,
                ..DropFilter::default()
            };
            println!(
                "{:<36}  {:<9}  {:<18}  {:<12}  {:<9}  {:<20}  {:>8}  org",
                "id", "state", "kind", "credential", "reference", "expires", "attempts"
            );
            let mut after = None;
            loop {
                let page = store
                    .list_drops(&filter, after.as_ref(), 500)
                    .await
                    .context("listing drops")?;
                for d in &page {
                    let credential = match &d.credential_id {
                        Some(id) => store.credential_meta(id).await?,
                        None => None,
                    };
                    let (status, reference) =
                        credential
                            .as_ref()
                            .map_or(("-".to_owned(), "-".to_owned()), |c| {
                                (
                                    c.status.as_str().to_owned(),
                                    crate::web::pages::short_reference(&c.id),
                                )
                            });
                    println!(
                        "{:<36}  {:<9}  {:<18}  {:<12}  {:<9}  {:<20}  {:>8}  {}",
                        d.id,
                        d.state.as_str(),
                        d.kind.as_str(),
                        status,
                        reference,
                        rfc3339(from_millis(d.expires_at)),
                        format!("{}/{}", d.attempts, d.max_attempts),
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
        DropCommand::Show { id, reference } => {
            let ids = match (id, reference) {
                (Some(id), _) => vec![drop_id(&id)?],
                (None, Some(reference)) => {
                    let r = reference.trim();
                    if r.len() != 8 || !r.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(anyhow!(
                            "--reference takes the 8 characters on the customer's receipt, \
                             such as F7A45D80"
                        ));
                    }
                    let ids = store.drops_by_reference(r).await?;
                    if ids.is_empty() {
                        return Err(anyhow!(
                            "no credential with reference {}",
                            r.to_ascii_uppercase()
                        ));
                    }
                    ids
                }
                (None, None) => return Err(anyhow!("give a drop id or --reference")),
            };
            for (i, id) in ids.iter().enumerate() {
                let (drop, credential) = service::drops::find(&store, id)
                    .await?
                    .ok_or_else(|| anyhow!("no drop with id {id}"))?;
                if i > 0 {
                    println!();
                }
                print!("{}", show(&drop, credential.as_ref()));
            }
        }
        DropCommand::Revoke { id } => {
            let id = drop_id(&id)?;
            unlock(&store, settings).await?;
            match service::drops::revoke(&store, &id, &Origin::cli()).await? {
                Revoked::Now(d) => println!("revoked drop {} ({})", d.id, d.org),
                Revoked::NotOpen(d) => return Err(anyhow!("{}", Revoked::reason(&d))),
                Revoked::NotFound => return Err(anyhow!("no drop with id {id}")),
            }
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

fn drop_id(text: &str) -> anyhow::Result<String> {
    uuid::Uuid::parse_str(text.trim())
        .map(|u| u.to_string())
        .map_err(|_| anyhow!("the drop id must be a UUID"))
}

/// One `field  value` line per field of the drop; the link is not one of
/// them (only its hash is stored).
fn show(d: &DropRecord, credential: Option<&CredentialMeta>) -> String {
    let time = |ms: i64| rfc3339(from_millis(ms));
    let or_dash = |v: Option<&str>| v.unwrap_or("-").to_owned();
    // Staff text is printed on one line: line ends in a note become `\n`.
    let one_line = |v: &str| v.replace('\n', "\\n").replace('\t', " ");
    let mut rows = vec![
        ("id", d.id.clone()),
        ("org", d.org.clone()),
        ("note", or_dash(d.note.as_deref().map(one_line).as_deref())),
        ("kind", d.kind.as_str().to_owned()),
        (
            "profile",
            format!(
                "{} (required: {}; optional: {})",
                d.profile.name,
                d.profile.required.join(", "),
                if d.profile.optional.is_empty() {
                    "-".to_owned()
                } else {
                    d.profile.optional.join(", ")
                }
            ),
        ),
        ("state", d.state.as_str().to_owned()),
        (
            "contact",
            d.contact
                .as_ref()
                .map_or("-".into(), |c| format!("{} <{}>", c.name, c.email)),
        ),
        ("external_id", or_dash(d.external_id.as_deref())),
        (
            "metadata",
            d.metadata
                .as_ref()
                .and_then(|m| serde_json::to_string(m).ok())
                .unwrap_or_else(|| "-".into()),
        ),
        ("created_at", time(d.created_at)),
        ("expires_at", time(d.expires_at)),
        ("attempts", format!("{}/{}", d.attempts, d.max_attempts)),
        ("credential", or_dash(d.credential_id.as_deref())),
    ];
    if let Some(c) = credential {
        rows.push((
            "credential_status",
            format!("{} ({})", c.status.as_str(), c.delivery.as_str()),
        ));
        rows.push(("reference", crate::web::pages::short_reference(&c.id)));
        if let Some(gh) = &c.verification.organization {
            rows.push((
                "greenhouse_org",
                if c.verification.organization_mismatch {
                    format!(
                        "{} (WARNING: not {}; the credential may belong to another account)",
                        one_line(&gh.name),
                        d.org
                    )
                } else {
                    one_line(&gh.name)
                },
            ));
        }
    }
    rows.iter().map(|(k, v)| format!("{k:<18} {v}\n")).collect()
}
