//! `keydrop audit verify`.

use crate::clock::SharedClock;
use crate::config::StoreSettings;
use crate::startup::open_store;
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
    let result = store.verify_audit().await?;
    store.close().await;
    match result {
        Ok(n) => {
            println!("audit log intact: {n} events");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("keydrop: audit log tampered: {e}");
            Ok(ExitCode::from(2))
        }
    }
}
