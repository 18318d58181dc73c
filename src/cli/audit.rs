//! `keydrop audit verify`.

use crate::clock::SharedClock;
use crate::config::StoreSettings;
use crate::startup::{check_keyring, load_keyring, open_store};
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain; exits non-zero naming the first bad seq.
    Verify,
}

pub async fn run(
    cmd: AuditCommand,
    settings: &StoreSettings,
    clock: SharedClock,
) -> anyhow::Result<ExitCode> {
    let AuditCommand::Verify = cmd;
    let store = open_store(settings, clock).await?;
    // The MACs need the keyring: a chain that someone with write access to the database
    // rewrote (hashes recomputed) passes a check of the hashes alone.
    let keyring = load_keyring(settings)?;
    check_keyring(&store, &keyring).await?;
    let key = crate::service::secrets::existing_audit_key(&store, &keyring).await?;
    let has_key = key.is_some();
    if let Some(key) = key {
        store.use_audit_key(key);
    }
    let result = store.verify_audit().await?;
    let head = store.audit_head().await?;
    store.close().await;
    match result {
        Ok(_) if head.keyed_from.is_none() && has_key => {
            eprintln!(
                "keydrop: audit log tampered: the audit key exists but the chain's head no \
                 longer says where keying began"
            );
            Ok(ExitCode::from(2))
        }
        Ok(n) if head.keyed_from.is_none() => {
            println!(
                "audit log intact: {n} events (hash chain only: not keyed yet, no keydrop \
                 with the audit key has written to it)"
            );
            Ok(ExitCode::SUCCESS)
        }
        Ok(n) => {
            println!("audit log intact: {n} events (hash chain and MACs under the audit key)");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("keydrop: audit log tampered: {e}");
            Ok(ExitCode::from(2))
        }
    }
}
