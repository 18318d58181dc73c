//! `keydrop keys init | rotate | rewrap | status | custody`.

use crate::clock::SharedClock;
use crate::config::{CustodyRef, StoreSettings};
use crate::crypto::keyring::KeyringSource;
use crate::startup::{check_keyring, load_keyring, open_store, unlock};
use anyhow::{bail, Context};
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Write a new keyring file (or move KEYDROP_MASTER_KEY into one).
    Init {
        /// Who keeps the master key (SPEC §14): file, aws-kms:<key>,
        /// transit:<mount>/<key> or pkcs11:<label>. Default: KEYDROP_KEY_CUSTODY.
        #[arg(long)]
        custody: Option<String>,
    },
    /// Add a new master key version, wrapped by KEYDROP_KEY_CUSTODY, and make it the active one.
    Rotate,
    /// Re-wrap every data key under the active master key (resumable).
    Rewrap,
    /// Show key versions, their custody, check values and what they protect.
    Status,
    /// Re-wrap every master key version with another custody (the data keys are untouched).
    Custody {
        /// The custody to move to: file, aws-kms:<key>, transit:<mount>/<key> or pkcs11:<label>.
        #[arg(long)]
        to: String,
    },
}

const BATCH: i64 = 100;

pub async fn run(
    cmd: KeysCommand,
    settings: &StoreSettings,
    clock: SharedClock,
) -> anyhow::Result<ExitCode> {
    match cmd {
        KeysCommand::Init { custody } => init(settings, custody.as_deref()).await,
        KeysCommand::Rotate => rotate(settings, clock).await,
        KeysCommand::Rewrap => rewrap(settings, clock).await,
        KeysCommand::Status => status(settings, clock).await,
        KeysCommand::Custody { to } => move_custody(settings, clock, &to).await,
    }
}

async fn init(settings: &StoreSettings, custody: Option<&str>) -> anyhow::Result<ExitCode> {
    let path = &settings.keyring_file;
    let custody = match custody {
        Some(text) => CustodyRef::parse(text)
            .map_err(|e| anyhow::anyhow!(e.replacen("KEYDROP_KEY_CUSTODY", "--custody", 1)))?,
        None => settings.custody.custody.clone(),
    };
    for said in crate::custody::init(settings, &custody).await? {
        println!("{said}");
    }
    let kept = match custody {
        CustodyRef::File => "(mode 0600)".to_owned(),
        _ => format!("wrapped by {custody}; the file alone opens nothing"),
    };
    if settings.master_key.is_some() {
        println!(
            "wrote KEYDROP_MASTER_KEY into {} as key version 1 {kept}; unset KEYDROP_MASTER_KEY and set KEYDROP_KEYRING_FILE to use it",
            path.display()
        );
    } else {
        println!(
            "wrote a new keyring with key version 1 to {} {kept}",
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn rotate(settings: &StoreSettings, clock: SharedClock) -> anyhow::Result<ExitCode> {
    if settings.master_key.is_some() {
        bail!(
            "KEYDROP_MASTER_KEY holds a single key and cannot rotate; run `keydrop keys init` to move it into a keyring file first"
        );
    }
    let path = &settings.keyring_file;
    if !path.exists() {
        bail!(
            "keyring file {}: does not exist (create it with `keydrop keys init`)",
            path.display()
        );
    }
    let ring = load_keyring(settings).await?;
    let store = open_store(settings, clock).await?;
    check_keyring(&store, &ring).await?;
    store.use_audit_key(crate::service::secrets::audit_key(&store, &ring).await?);
    let (version, ring) = crate::custody::rotate(settings, &ring).await?;
    check_keyring(&store, &ring).await?;
    let pending = store.count_needing_rewrap(version).await?;
    store.close().await;
    println!(
        "key version {version} is now active in {} ({})",
        path.display(),
        ring.custody_of(version)
    );
    println!("{pending} credential(s) still use older versions: give the new keyring to every keydrop process and restart them, then run `keydrop keys rewrap`");
    Ok(ExitCode::SUCCESS)
}

async fn rewrap(settings: &StoreSettings, clock: SharedClock) -> anyhow::Result<ExitCode> {
    let store = open_store(settings, clock).await?;
    let ring = unlock(&store, settings).await?;
    let active = ring.active_version();
    let total = store.count_needing_rewrap(active).await?;
    let bar = indicatif::ProgressBar::new(u64::try_from(total).unwrap_or(0));
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "rewrapping {bar:40} {pos}/{len} data keys ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style);
    }
    let mut moved = 0u64;
    let mut failed: Vec<String> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let batch = store
            .rewrap_batch(&ring, after.as_deref(), BATCH)
            .await
            .context("rewrap stopped; run it again to resume")?;
        let Some(last) = batch.last else {
            break;
        };
        after = Some(last);
        let seen = batch.moved + batch.failed.len();
        moved += batch.moved as u64;
        failed.extend(batch.failed);
        bar.inc(seen as u64);
    }
    bar.finish_and_clear();
    // The service's own secrets (the form-token key) move along.
    let resealed = crate::service::secrets::reseal_all(&store, &ring)
        .await
        .context("re-sealing the service secrets failed; run it again to resume")?;
    let webhook_secrets = crate::service::webhooks::reseal_all(&store, &ring)
        .await
        .context("re-sealing the webhook signing secrets failed; run it again to resume")?;
    let mail_links = crate::service::mail::reseal_all(&store, &ring)
        .await
        .context("re-sealing the links of queued e-mails failed; run it again to resume")?;
    store.close().await;
    println!("{moved} data key(s) now wrapped by key version {active}");
    if resealed > 0 {
        println!("{resealed} service secret(s) now sealed by key version {active}");
    }
    if webhook_secrets > 0 {
        println!("{webhook_secrets} webhook signing secret(s) now sealed by key version {active}");
    }
    if mail_links > 0 {
        println!("{mail_links} queued e-mail link(s) now sealed by key version {active}");
    }
    if !failed.is_empty() {
        bail!(
            "{} credential(s) could not be decrypted and keep their old key version \
             (damaged or tampered; each is named in the audit log): {}",
            failed.len(),
            failed.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn status(settings: &StoreSettings, clock: SharedClock) -> anyhow::Result<ExitCode> {
    let ring = load_keyring(settings).await?;
    let store = open_store(settings, clock).await?;
    let rows = store.key_status(&ring).await?;
    store.close().await;
    let source = match ring.source() {
        KeyringSource::Generated(p) | KeyringSource::File(p) => p.display().to_string(),
        KeyringSource::Environment => "KEYDROP_MASTER_KEY".into(),
    };
    println!(
        "keyring: {source}; active version {}",
        ring.active_version()
    );
    println!(
        "{:>7}  {:<10}  {:<12}  {:>11}  {:>15}  {:>15}  {:>12}  custody",
        "version",
        "in keyring",
        "check value",
        "credentials",
        "service secrets",
        "webhook secrets",
        "e-mail links"
    );
    let mut ok = true;
    let mut removable = Vec::new();
    for r in rows {
        let check = match r.check_matches {
            Some(true) => "matches",
            Some(false) => "MISMATCH",
            None => "not recorded",
        };
        ok &= r.check_matches != Some(false) && (r.in_keyring || r.uses.total() == 0);
        if r.in_keyring && r.uses.total() == 0 && r.version != ring.active_version() {
            removable.push(r.version.to_string());
        }
        println!(
            "{:>7}  {:<10}  {:<12}  {:>11}  {:>15}  {:>15}  {:>12}  {}",
            r.version,
            if r.in_keyring { "yes" } else { "NO" },
            check,
            r.uses.credentials,
            r.uses.service_secrets,
            r.uses.webhook_secrets,
            r.uses.mail_links,
            if r.in_keyring {
                ring.custody_of(r.version)
            } else {
                "-"
            }
        );
    }
    if !removable.is_empty() {
        println!(
            "nothing is sealed under version(s) {} any more: they may be removed from the keyring",
            removable.join(", ")
        );
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `keys custody --to`: every version re-wrapped by another custody; the
/// master keys stay the same, so no data key moves and the check values
/// still match.
async fn move_custody(
    settings: &StoreSettings,
    clock: SharedClock,
    to: &str,
) -> anyhow::Result<ExitCode> {
    let to = CustodyRef::parse(to)
        .map_err(|e| anyhow::anyhow!(e.replacen("KEYDROP_KEY_CUSTODY", "--to", 1)))?;
    if settings.master_key.is_some() {
        bail!("KEYDROP_MASTER_KEY is not a keyring file; run `keydrop keys init --custody {to}` instead");
    }
    let ring = load_keyring(settings).await?;
    let store = open_store(settings, clock).await?;
    check_keyring(&store, &ring).await?;
    store.close().await;
    let (moved, said) = crate::custody::move_to(settings, &ring, &to).await?;
    for said in said {
        println!("{said}");
    }
    let list = moved
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    println!(
        "key version(s) {list} in {} are now kept by {to}; set KEYDROP_KEY_CUSTODY={to} so new versions are too",
        settings.keyring_file.display()
    );
    Ok(ExitCode::SUCCESS)
}
