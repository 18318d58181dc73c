//! Checking a stored credential again with Greenhouse (SPEC §3, §4 `verify`): by staff on
//! request, or by the system for `pending` credentials — the first within a minute of
//! acceptance, then backing off to at most every 30 minutes, until Greenhouse gives a
//! definite answer.
//!
//! Either way, a kind that connects (its check uses the grant's stored access token) has
//! that token renewed first if it is about to expire — by the one renewal path of
//! `service::vend`, never by the check itself, which must not spend a refresh token. A
//! pending partner grant therefore reaches a definite outcome even after its first access
//! token expired.
//!
//! The background pass is safe in every process at once: a due check is taken by one
//! conditional update before it runs.

use super::super::vend::VendError;
use crate::domain::credential::{CredentialMeta, Delivery};
use crate::domain::event::Origin;
use crate::greenhouse::{Outcome, Verification};
use crate::service::delivery::{decrypt_failed, open};
use crate::service::{ServiceError, Services};
use crate::store::CheckBy;
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

/// What a staff check came to.
#[derive(Debug)]
pub enum Rechecked {
    /// The credential as it is after the check (a refused one is destroyed).
    Checked(Box<CredentialMeta>),
    NotFound,
    /// Destroyed before: nothing left to check.
    Destroyed,
}

/// What one pass of health checks did (SPEC §15).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HealthPass {
    /// Checks that ran to the end.
    pub ran: usize,
    /// Of those, credentials Greenhouse refused: now `invalid` / `insufficient`, destroyed.
    pub broken: usize,
    /// Checks that failed on keydrop's side (logged; the hold lapses and a later pass
    /// takes them again).
    pub failed: usize,
}

/// What one pass of background re-checks did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RecheckPass {
    /// Checks that ran to the end.
    pub ran: usize,
    /// Checks that failed on keydrop's side (logged; the hold lapses and a
    /// later pass takes them again).
    pub failed: usize,
}

impl Services {
    /// Staff asked for credential `id` to be checked again (`POST …/verify`).
    pub async fn check(&self, id: &str, origin: &Origin) -> Result<Rechecked, VendError> {
        let Some(meta) = self.store.credential_meta(id).await? else {
            return Ok(Rechecked::NotFound);
        };
        if meta.delivery == Delivery::Destroyed {
            return Ok(Rechecked::Destroyed);
        }
        self.renew_before_check(&meta).await?;
        let Some(verification) = self.check_stored(id, origin).await? else {
            return Ok(Rechecked::NotFound);
        };
        Ok(
            match self
                .store
                .apply_verification(id, &verification, CheckBy::Staff, origin)
                .await?
            {
                Some(meta) => Rechecked::Checked(Box::new(meta)),
                None => Rechecked::NotFound,
            },
        )
    }

    /// Run every due background re-check (up to `limit`), at most `concurrency` at once, so
    /// one slow Greenhouse answer does not hold up the others.
    pub async fn recheck_due(
        &self,
        limit: i64,
        concurrency: usize,
    ) -> Result<RecheckPass, ServiceError> {
        let due = self.store.pending_due(limit).await?;
        let results: Vec<Result<bool, ServiceError>> = stream::iter(due)
            .map(|id| async move {
                let now = self.store.now_ms();
                if !self.store.claim_recheck(&id, now + HOLD_MS).await? {
                    return Ok(false);
                }
                self.recheck_one(&id).await
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

    /// Run the health checks that are due (up to `limit`), at most `concurrency` at once,
    /// after giving every live credential its place in the period `every` (SPEC §15). Safe
    /// in every process at once: a due check is taken by one conditional update.
    pub async fn health_check_due(
        &self,
        every: std::time::Duration,
        limit: i64,
        concurrency: usize,
    ) -> Result<HealthPass, ServiceError> {
        let every_ms = i64::try_from(every.as_millis()).unwrap_or(i64::MAX).max(1);
        // 2000 a pass: a million credentials get their places within an hour of an upgrade,
        // and one pass never holds SQLite's writer for long.
        self.store
            .schedule_health_checks(every_ms, HOLD_MS, 2000)
            .await?;
        let due = self.store.health_due(limit).await?;
        let results: Vec<Result<Option<Outcome>, ServiceError>> = stream::iter(due)
            .map(|id| async move {
                let now = self.store.now_ms();
                if !self.store.claim_health_check(&id, now + HOLD_MS).await? {
                    return Ok(None);
                }
                let checked = self.health_check_one(&id, every_ms).await;
                if checked.is_err() {
                    // Failed on our side (a row that does not decrypt is audited once per
                    // period, not at every hold): its next place in the period.
                    let next = crate::store::next_health_slot(&id, self.store.now_ms(), every_ms);
                    self.store.defer_health_check(&id, next).await?;
                }
                checked
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        let mut pass = HealthPass::default();
        for result in results {
            match result {
                Ok(Some(outcome)) => {
                    pass.ran += 1;
                    if matches!(outcome, Outcome::Invalid | Outcome::Insufficient) {
                        pass.broken += 1;
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(error = %e, "a health check failed");
                    pass.failed += 1;
                }
            }
        }
        Ok(pass)
    }

    /// One taken health check. A grant whose access token is about to expire is renewed
    /// first by the one renewal path (as for every check), never by the check itself; when
    /// Greenhouse cannot renew it now, the hold lapses and a later pass tries again.
    async fn health_check_one(
        &self,
        id: &str,
        every_ms: i64,
    ) -> Result<Option<Outcome>, ServiceError> {
        let system = Origin::system();
        let Some(meta) = self.store.credential_meta(id).await? else {
            return Ok(None);
        };
        match self.renew_before_check(&meta).await {
            Ok(()) => {}
            Err(VendError::Service(e)) => return Err(e),
            Err(e) => {
                tracing::info!(credential = %id, reason = %e, "health check waits");
                return Ok(None);
            }
        }
        let Some(verification) = self.check_stored(id, &system).await? else {
            return Ok(None);
        };
        let now = self.store.now_ms();
        // Greenhouse could not answer: try again sooner (1, 2, 4 … 30 min), never later
        // than the period.
        let next_due = if verification.outcome == Outcome::Pending {
            now + backoff_ms(meta.health_failures).min(every_ms)
        } else {
            crate::store::next_health_slot(id, now, every_ms)
        };
        let outcome = verification.outcome;
        if self
            .store
            .apply_health_check(id, &verification, next_due)
            .await?
            .is_none()
        {
            return Ok(None);
        }
        match outcome {
            Outcome::Invalid | Outcome::Insufficient => {
                tracing::warn!(credential = %id, outcome = outcome.as_str(), "a health check found the credential broken");
            }
            Outcome::Pending => {
                tracing::info!(credential = %id, "a health check could not reach a verdict; the credential stays verified");
            }
            Outcome::Verified => {}
        }
        Ok(Some(outcome))
    }

    /// One taken re-check; `false` when it could not run now (Greenhouse could not renew
    /// the grant's token: the hold lapses and a later pass tries again).
    async fn recheck_one(&self, id: &str) -> Result<bool, ServiceError> {
        let system = Origin::system();
        let Some(meta) = self.store.credential_meta(id).await? else {
            return Ok(false);
        };
        match self.renew_before_check(&meta).await {
            Ok(()) => {}
            Err(VendError::Service(e)) => return Err(e),
            Err(VendError::Unavailable(_)) => {
                tracing::info!(credential = %id, "re-check waits: Greenhouse could not renew the grant's token");
                return Ok(false);
            }
            // Disconnected (and destroyed) or no longer live: nothing left to check.
            Err(e) => {
                tracing::info!(credential = %id, reason = %e, "re-check skipped");
                return Ok(false);
            }
        }
        let Some(verification) = self.check_stored(id, &system).await? else {
            return Ok(false);
        };
        let next_check_at = if verification.outcome == Outcome::Pending {
            let failures = self.store.check_failures(id).await?;
            Some(self.store.now_ms() + backoff_ms(failures))
        } else {
            None
        };
        self.store
            .apply_verification(
                id,
                &verification,
                CheckBy::Recheck { next_check_at },
                &system,
            )
            .await?;
        tracing::info!(credential = %id, outcome = verification.outcome.as_str(), "pending credential re-checked");
        Ok(true)
    }

    /// A kind that connects is checked with its stored access token: renew it first if it
    /// is about to expire.
    async fn renew_before_check(&self, meta: &CredentialMeta) -> Result<(), VendError> {
        let connects = self
            .checker
            .kinds()
            .get(meta.kind)
            .is_some_and(|k| k.connector().is_some());
        if connects {
            self.vendor.ensure_fresh(&meta.id).await?;
        }
        Ok(())
    }

    /// Open a stored credential and check it against Greenhouse with its drop's profile.
    /// `None` when there is no such credential (or it was destroyed). A decryption failure
    /// is audited and fails closed.
    async fn check_stored(
        &self,
        id: &str,
        origin: &Origin,
    ) -> Result<Option<Verification>, ServiceError> {
        let Some((drop_id, kind, env)) = self.store.credential_envelope(id).await? else {
            return Ok(None);
        };
        let Some(drop) = self.store.drop_by_id(&drop_id).await? else {
            return Ok(None);
        };
        let plaintext = match open(&self.keyring, id, &drop_id, &kind, &env) {
            Ok(p) => p,
            Err(e) => return Err(decrypt_failed(&self.store, id, origin, e).await),
        };
        let secret = self
            .checker
            .kinds()
            .secret_from_json(&plaintext)
            .map_err(|e| ServiceError::Internal(format!("credential {id}: {e}")))?;
        std::mem::drop(plaintext);
        Ok(Some(
            self.checker
                .check(&secret, &drop.profile)
                .await
                .judged_for(&drop.org),
        ))
    }
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
