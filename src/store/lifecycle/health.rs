//! Health checks (SPEC §15): every live credential — verified, its ciphertext kept, not
//! replaced — is due for a check once per period, the due times spread evenly over it;
//! one process takes a due check by one conditional update; the answer is applied by one
//! audited rule: a definite refusal changes the status and destroys the ciphertext
//! (`credential.broken`), a transient failure never demotes.

use super::destroy::destroy_in;
use crate::domain::credential::{CredentialMeta, Status};
use crate::domain::event::{DestroyReason, Event, Origin};
use crate::domain::verification::{Outcome, Verification};
use crate::store::credentials::{meta_from_row, META};
use crate::store::{Result, Store};

/// What makes a credential live for health checks.
const LIVE: &str = "status = 'verified' AND delivery <> 'destroyed' AND superseded_by IS NULL";

/// Where in a period of `every_ms` the checks of credential `id` fall: the same offset
/// every period, spread evenly across ids (their first 8 hex digits).
pub fn offset_ms(id: &str, every_ms: i64) -> i64 {
    let hex: String = id.chars().filter(char::is_ascii_hexdigit).take(8).collect();
    let n = i64::from_str_radix(&hex, 16).unwrap_or(0);
    n.rem_euclid(every_ms.max(1))
}

/// The next moment after `now` at credential `id`'s place in a period of `every_ms`: where
/// every check of it falls, so the checks stay spread however late one ran.
pub fn next_slot(id: &str, now: i64, every_ms: i64) -> i64 {
    let every = every_ms.max(1);
    let into = (now - offset_ms(id, every)).rem_euclid(every);
    now + (every - into)
}

impl Store {
    /// The credentials table for a health-check query: on SQLite pinned to the partial index
    /// on `health_due_at` (without statistics its planner prefers `credentials_claim` for
    /// `status = 'verified'` and then visits every live credential — 100 000 rows every pass
    /// at scale, the cost the benchmark showed); PostgreSQL's planner chooses with statistics.
    fn health_table(&self) -> &'static str {
        match self.backend {
            crate::store::Backend::Sqlite => "credentials INDEXED BY credentials_health_due",
            crate::store::Backend::Postgres => "credentials",
        }
    }

    /// Give live credentials without a due time (new ones, or all of them after an upgrade)
    /// one within the next period, and bring in those due further out than a period (after
    /// `KEYDROP_HEALTH_CHECK_EVERY` shrank). Returns how many were scheduled.
    /// A check held by a claim (until at most `hold_ms` from now) is left alone.
    pub async fn schedule_health_checks(
        &self,
        every_ms: i64,
        hold_ms: i64,
        limit: i64,
    ) -> Result<usize> {
        let now = self.now_ms();
        let horizon = now.saturating_add(every_ms.max(hold_ms));
        // Two index searches (never due yet; due beyond the period), not one OR that scans.
        let table = self.health_table();
        let mut ids: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT id FROM {table} WHERE {LIVE} AND health_due_at IS NULL LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(self.reader()?)
        .await?;
        let more = limit.saturating_sub(i64::try_from(ids.len()).unwrap_or(limit));
        if more > 0 {
            ids.extend(
                sqlx::query_scalar::<_, String>(&format!(
                    "SELECT id FROM {table} WHERE {LIVE} AND health_due_at > $1 LIMIT $2"
                ))
                .bind(horizon)
                .bind(more)
                .fetch_all(self.reader()?)
                .await?,
            );
        }
        if ids.is_empty() {
            return Ok(0);
        }
        // One transaction for the batch: a write each, one commit (SQLite: one sync).
        let mut tx = self.begin().await?;
        for id in &ids {
            let due = next_slot(id, now, every_ms);
            sqlx::query(&format!(
                "UPDATE credentials SET health_due_at = $1 WHERE id = $2 AND {LIVE} \
                 AND (health_due_at IS NULL OR health_due_at > $3)"
            ))
            .bind(due)
            .bind(id)
            .bind(horizon)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(ids.len())
    }

    /// Put a credential's next health check off until `at` (its check failed on keydrop's
    /// side: it waits for its next place in the period instead of every hold).
    pub async fn defer_health_check(&self, id: &str, at: i64) -> Result<()> {
        let mut conn = self.write.acquire().await?;
        sqlx::query(&format!(
            "UPDATE credentials SET health_due_at = $1 WHERE id = $2 AND {LIVE}"
        ))
        .bind(at)
        .bind(id)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Live credentials whose health check is due, oldest due first.
    pub async fn health_due(&self, limit: i64) -> Result<Vec<String>> {
        let sql = format!(
            "SELECT id FROM {} WHERE {LIVE} AND health_due_at <= $1 \
             ORDER BY health_due_at, id LIMIT $2",
            self.health_table()
        );
        Ok(sqlx::query_scalar(&sql)
            .bind(self.now_ms())
            .bind(limit)
            .fetch_all(self.reader()?)
            .await?)
    }

    /// Take a due health check: hold it until `hold_until` so no other process takes it
    /// meanwhile. `false` when someone else took it (or it is no longer live or due).
    pub async fn claim_health_check(&self, id: &str, hold_until: i64) -> Result<bool> {
        let mut conn = self.write.acquire().await?;
        let n = sqlx::query(&format!(
            "UPDATE credentials SET health_due_at = $1 WHERE id = $2 AND {LIVE} \
             AND health_due_at <= $3"
        ))
        .bind(hold_until)
        .bind(id)
        .bind(self.now_ms())
        .execute(&mut *conn)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Apply a health check's answer to a live credential, due again at `next_due`.
    /// `verified`: the new report. `pending` (Greenhouse could not answer): the report and
    /// status stay, `health_failures` counts up. `invalid` / `insufficient`: the new status
    /// and report, `credential.broken`, and the ciphertext destroyed — one transaction.
    /// `None` when the credential is no longer live.
    pub async fn apply_health_check(
        &self,
        id: &str,
        verification: &Verification,
        next_due: i64,
    ) -> Result<Option<CredentialMeta>> {
        let json = serde_json::to_string(verification)
            .map_err(|e| crate::store::StoreError::Corrupt(format!("verification: {e}")))?;
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let broken = matches!(
            verification.outcome,
            Outcome::Invalid | Outcome::Insufficient
        );
        let set = match verification.outcome {
            Outcome::Pending => {
                "health_failures = health_failures + 1, last_checked_at = $1, health_due_at = $2"
            }
            Outcome::Verified => {
                "verification = $3, health_failures = 0, last_checked_at = $1, health_due_at = $2"
            }
            Outcome::Invalid | Outcome::Insufficient => {
                "status = $4, verification = $3, health_failures = 0, last_checked_at = $1, \
                 health_due_at = NULL"
            }
        };
        let sql = format!("UPDATE credentials SET {set} WHERE id = $5 AND {LIVE} RETURNING {META}");
        let Some(row) = sqlx::query(&sql)
            .bind(now)
            .bind(next_due)
            .bind(&json)
            .bind(Status::from_outcome(verification.outcome).as_str())
            .bind(id)
            .fetch_optional(tx.conn())
            .await?
        else {
            tx.rollback().await?;
            return Ok(None);
        };
        let mut meta = meta_from_row(&row)?;
        if broken {
            let system = Origin::system();
            tx.record(&system.entry(Event::CredentialBroken {
                credential: id.to_owned(),
                outcome: verification.outcome.as_str().to_owned(),
                missing_required: verification.missing_required.clone(),
            }))
            .await?;
            if let Some(m) = destroy_in(&mut tx, id, DestroyReason::Refused, None, &system).await? {
                meta = m;
            }
        }
        tx.commit().await?;
        Ok(Some(meta))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_spread_over_the_period() {
        let day = 86_400_000;
        let ids = [
            "00000000-0000-4000-8000-000000000000",
            "80000000-0000-4000-8000-000000000000",
            "ffffffff-0000-4000-8000-000000000000",
        ];
        let offsets: Vec<i64> = ids.iter().map(|id| offset_ms(id, day)).collect();
        assert!(offsets.iter().all(|o| (0..day).contains(o)), "{offsets:?}");
        assert_ne!(offsets[0], offsets[1]);
        assert_eq!(
            offset_ms(ids[1], day),
            offsets[1],
            "the same place every period"
        );
    }
}
