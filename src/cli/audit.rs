//! `keydrop audit verify` and `keydrop audit export`.

use crate::clock::SharedClock;
use crate::config::StoreSettings;
use crate::domain::audit::{ActionFilter, AuditFilter};
use crate::service::audit::Format;
use crate::startup::{check_keyring, load_keyring, open_store};
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain; exits non-zero naming the first bad seq.
    Verify,
    /// Write the audit log to standard output, oldest first (streamed: any length).
    Export {
        /// ndjson (one event per line, as the API shows it) or csv (formula-safe cells).
        #[arg(long, default_value = "ndjson", value_parser = ["ndjson", "csv"])]
        format: String,
        /// Only events at or after this RFC 3339 time, e.g. 2026-12-01T00:00:00Z.
        #[arg(long)]
        since: Option<String>,
        /// Only events before this RFC 3339 time.
        #[arg(long)]
        until: Option<String>,
        /// Only events caused by this actor (token:<id>, user:<e-mail>, cli, public, system).
        #[arg(long)]
        actor: Option<String>,
        /// Only this action, or every action under a prefix ending in `.` (credential.).
        #[arg(long)]
        action: Option<String>,
        /// Only events about this subject (drop:<id>, credential:<id>, …).
        #[arg(long)]
        subject: Option<String>,
    },
}

pub async fn run(
    cmd: AuditCommand,
    settings: &StoreSettings,
    clock: SharedClock,
) -> anyhow::Result<ExitCode> {
    let store = open_store(settings, clock).await?;
    if let AuditCommand::Export {
        format,
        since,
        until,
        actor,
        action,
        subject,
    } = cmd
    {
        let time = |flag: &str, v: Option<String>| -> anyhow::Result<Option<i64>> {
            v.map(|t| {
                crate::clock::parse_rfc3339(&t)
                    .map(crate::clock::to_millis)
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "--{flag} takes an RFC 3339 time, such as 2026-12-01T00:00:00Z"
                        )
                    })
            })
            .transpose()
        };
        let filter = AuditFilter {
            subject,
            action: action.as_deref().map(ActionFilter::parse),
            actor,
            since: time("since", since)?,
            until: time("until", until)?,
        };
        let format = Format::parse(&format).unwrap_or(Format::Ndjson);
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
        let n = crate::service::audit::export(&store, &filter, format, &mut out).await?;
        drop(out);
        store.close().await;
        eprintln!("exported {n} audit events");
        return Ok(ExitCode::SUCCESS);
    }
    // The MACs need the keyring: a chain that someone with write access to the database
    // rewrote (hashes recomputed) passes a check of the hashes alone.
    let keyring = load_keyring(settings).await?;
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
