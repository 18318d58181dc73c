//! Background re-checks of `pending` credentials (SPEC §3): the first within
//! a minute of acceptance, then backing off to at most every 30 minutes,
//! until Greenhouse gives a definite answer. Safe in every process at once:
//! a due check is taken by one conditional update before it runs.

use super::ServiceError;
use crate::crypto::keyring::Keyring;
use crate::domain::event::Origin;
use crate::greenhouse::{Checker, Outcome};
use crate::store::{CheckBy, Store};
use futures_util::stream::{self, StreamExt};

/// Longest wait between checks.
pub const MAX_INTERVAL_MS: i64 = 30 * 60 * 1000;
/// How long a taken check is held from other processes while it runs.
const HOLD_MS: i64 = 5 * 60 * 1000;

/// Wait before the next check after `failures` pending answers: 1, 2, 4 … 30 min.
pub fn backoff_ms(failures: i64) -> i64 {
    let exp = u32::try_from(failures.clamp(0, 16)).unwrap_or(16);
    (60_000_i64.saturating_mul(1_i64 << exp)).min(MAX_INTERVAL_MS)
}

/// What one pass of re-checks did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RecheckPass {
    /// Checks that ran to the end.
    pub ran: usize,
    /// Checks that failed on keydrop's side (logged; the hold lapses and a
    /// later pass takes them again).
    pub failed: usize,
}

/// Run every due re-check (up to `limit`), at most `concurrency` at once,
/// so one slow Greenhouse answer does not hold up the others.
pub async fn run_due(
    store: &Store,
    keyring: &Keyring,
    checker: &Checker,
    limit: i64,
    concurrency: usize,
) -> Result<RecheckPass, ServiceError> {
    let due = store.pending_due(limit).await?;
    let results: Vec<Result<bool, ServiceError>> = stream::iter(due)
        .map(|id| async move {
            let now = store.now_ms();
            if !store.claim_recheck(&id, now + HOLD_MS).await? {
                return Ok(false);
            }
            recheck_one(store, keyring, checker, &id).await?;
            Ok(true)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut pass = RecheckPass::default();
    for result in results {
        match result {
            Ok(true) => pass.ran += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::error!(error = %e, "a pending re-check failed");
                pass.failed += 1;
            }
        }
    }
    Ok(pass)
}

async fn recheck_one(
    store: &Store,
    keyring: &Keyring,
    checker: &Checker,
    id: &str,
) -> Result<(), ServiceError> {
    let system = Origin::system();
    let Some(verification) =
        super::delivery::check_stored(store, keyring, checker, id, &system).await?
    else {
        return Ok(());
    };
    let next_check_at = if verification.outcome == Outcome::Pending {
        let failures = store.check_failures(id).await?;
        Some(store.now_ms() + backoff_ms(failures))
    } else {
        None
    };
    store
        .apply_verification(
            id,
            &verification,
            CheckBy::Recheck { next_check_at },
            &system,
        )
        .await?;
    tracing::info!(credential = %id, outcome = verification.outcome.as_str(), "pending credential re-checked");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::backoff_ms;

    #[test]
    fn backoff_doubles_to_thirty_minutes() {
        assert_eq!(backoff_ms(0), 60_000);
        assert_eq!(backoff_ms(1), 120_000);
        assert_eq!(backoff_ms(4), 960_000);
        assert_eq!(backoff_ms(5), 1_800_000);
        assert_eq!(backoff_ms(100), 1_800_000);
    }
}
