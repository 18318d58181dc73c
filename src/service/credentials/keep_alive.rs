//! The partner keep-alive (SPEC §1.5 step 3): a connected grant's refresh token dies if it
//! is not used, so each grant is refreshed on a schedule (`KEYDROP_PARTNER_REFRESH_EVERY`),
//! through the one renewal path of `service::vend` (one renewal per grant at a time, across
//! processes; the rotated pair committed before anyone uses it).
//!
//! Safe in every process at once, and each grant is refreshed once per due time: a
//! keep-alive takes a grant's token lease only while its refresh is still due, and a
//! refresh moves the due time on, so a second process that listed the same grant finds it
//! no longer due and leaves it.

use crate::service::vend::VendError;
use crate::service::Services;
use std::time::Duration;

/// Most partner grants one keep-alive pass refreshes.
pub const REFRESH_BATCH: i64 = 50;
/// Longest a keep-alive pass keeps starting refreshes (the rest wait for the next pass).
pub const REFRESH_PASS_LIMIT: Duration = Duration::from_secs(60);
/// Pause between two keep-alive refreshes, so a pass does not burst at Greenhouse's token
/// endpoint (it has its own rate window).
const REFRESH_SPACING: Duration = Duration::from_millis(200);

/// What one keep-alive pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct KeepAlivePass {
    /// Grants that were due when the pass started.
    pub due: usize,
    /// Whether every refresh went through: a grant another process is refreshing right
    /// now, or one Greenhouse refused, counts as through; only keydrop's own faults fail
    /// the pass.
    pub ok: bool,
}

impl Services {
    /// One keep-alive pass: refresh every partner grant whose refresh is due, one after
    /// another.
    pub async fn keep_alive_pass(&self) -> KeepAlivePass {
        let due = match self.store.refresh_due(REFRESH_BATCH).await {
            Ok(ids) => ids,
            Err(e) => {
                tracing::error!(error = %e, "could not list partner grants due for a refresh");
                return KeepAlivePass { due: 0, ok: false };
            }
        };
        let mut ok = true;
        let started = std::time::Instant::now();
        for (i, id) in due.iter().enumerate() {
            if i > 0 {
                if started.elapsed() > REFRESH_PASS_LIMIT {
                    break; // the rest are still due: the next pass takes them
                }
                tokio::time::sleep(REFRESH_SPACING).await;
            }
            match self.vendor.keep_alive(id).await {
                Ok(()) => {}
                Err(e @ VendError::Service(_)) => {
                    tracing::error!(credential = %id, error = %e, "keep-alive refresh failed");
                    ok = false;
                }
                // Greenhouse's answer, recorded on the credential (and retried with
                // backoff): not a fault of this pass.
                Err(e) => {
                    tracing::info!(credential = %id, error = %e, "keep-alive refresh did not complete")
                }
            }
        }
        KeepAlivePass { due: due.len(), ok }
    }
}
