//! Background jobs: drop expiry, lease expiry, retention, and re-checks of
//! pending credentials. Each
//! pass is safe to run in every keydrop process at once (conditional
//! updates, row locks), and reads "now" from the store's clock, so tests run
//! a pass directly with a controlled clock instead of waiting.

use crate::service::recheck;
use crate::web::AppState;
use std::sync::Arc;
use std::time::Duration;

/// How often a process runs a pass.
pub const INTERVAL: Duration = Duration::from_secs(5);

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PassReport {
    pub expired_drops: usize,
    pub locked_drops: usize,
    pub rechecked: usize,
    pub expired_leases: usize,
    pub destroyed: usize,
}

/// Run every job once.
pub async fn run_once(state: &AppState) -> PassReport {
    let mut report = PassReport::default();
    match state.store.expire_drops(None, 500).await {
        Ok(ids) => report.expired_drops = ids.len(),
        Err(e) => tracing::error!(error = %e, "drop expiry failed"),
    }
    match state.store.lock_exhausted(None, 500).await {
        Ok(ids) => report.locked_drops = ids.len(),
        Err(e) => tracing::error!(error = %e, "drop lock sweep failed"),
    }
    match state.store.expire_leases(500).await {
        Ok(n) => report.expired_leases = n,
        Err(e) => tracing::error!(error = %e, "lease expiry failed"),
    }
    let retain_ms =
        i64::try_from(state.settings.retain_after_delivery.as_millis()).unwrap_or(i64::MAX);
    match state.store.destroy_retained(retain_ms, 500).await {
        Ok(n) => report.destroyed = n,
        Err(e) => tracing::error!(error = %e, "retention sweep failed"),
    }
    match recheck::run_due(&state.store, &state.keyring, &state.checker, 20).await {
        Ok(n) => report.rechecked = n,
        Err(e) => tracing::error!(error = %e, "pending re-check failed"),
    }
    report
}

/// Run passes every [`INTERVAL`] until aborted.
pub fn spawn(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let report = run_once(&state).await;
            if report != PassReport::default() {
                tracing::info!(
                    expired_drops = report.expired_drops,
                    rechecked = report.rechecked,
                    "background pass"
                );
            }
        }
    })
}

/// The database connectivity probe (see [`crate::store::Store::probe`]):
/// asks every [`crate::store::PROBE_EVERY`] until aborted.
pub fn spawn_probe(store: crate::store::Store) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            store.probe().await;
            tokio::time::sleep(crate::store::PROBE_EVERY).await;
        }
    })
}
