//! A check's result applied to a stored credential, and taking a due background re-check.

use super::destroy::destroy_in;
use super::CheckBy;
use crate::domain::credential::{CredentialMeta, Status, FIRST_RECHECK_MS};
use crate::domain::event::{DestroyReason, Event, Origin};
use crate::domain::verification::{Outcome, Verification};
use crate::store::credentials::{meta_from_row, META};
use crate::store::{Result, Store};

impl Store {
    /// was destroyed, or (for a re-check) it is no longer pending.
    pub async fn apply_verification(
        &self,
        id: &str,
        verification: &Verification,
        by: CheckBy,
        origin: &Origin,
    ) -> Result<Option<CredentialMeta>> {
        let status = Status::from_outcome(verification.outcome);
        let json = serde_json::to_string(verification)
            .map_err(|e| crate::store::StoreError::Corrupt(format!("verification: {e}")))?;
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let (new_status, next_check, failures, only_pending, next_at) = match by {
            // A staff check that Greenhouse could not answer records its report but changes
            // no status: a verified credential stays verified (its workers keep their
            // tokens), and a pending one keeps (or gets) its background re-check.
            CheckBy::Staff => (
                "CASE WHEN $1 = 'pending' THEN status ELSE $1 END",
                "CASE WHEN $1 = 'pending' AND status = 'pending' \
                 THEN COALESCE(next_check_at, $4) ELSE NULL END",
                "check_failures",
                "",
                Some(now.saturating_add(FIRST_RECHECK_MS)),
            ),
            CheckBy::Recheck { next_check_at } => (
                "$1",
                "$4",
                "CASE WHEN $1 = 'pending' THEN check_failures + 1 ELSE check_failures END",
                " AND status = 'pending'",
                next_check_at,
            ),
        };
        let sql = format!(
            "UPDATE credentials SET status = {new_status}, verification = $2, \
             next_check_at = {next_check}, check_failures = {failures} \
             WHERE id = $3 AND delivery <> 'destroyed'{only_pending} RETURNING {META}"
        );
        let Some(row) = sqlx::query(&sql)
            .bind(status.as_str())
            .bind(&json)
            .bind(id)
            .bind(next_at)
            .fetch_optional(tx.conn())
            .await?
        else {
            tx.rollback().await?;
            return Ok(None);
        };
        let mut meta = meta_from_row(&row)?;
        let outcome = verification.outcome.as_str().to_owned();
        let missing_required = verification.missing_required.clone();
        let credential = id.to_owned();
        let organization_mismatch = verification.organization_mismatch;
        tx.record(&origin.entry(match by {
            CheckBy::Staff => Event::CredentialReverified {
                credential,
                outcome,
                missing_required,
                organization_mismatch,
            },
            CheckBy::Recheck { .. } => Event::CredentialRechecked {
                credential,
                outcome,
                missing_required,
                organization_mismatch,
            },
        }))
        .await?;
        // A relink's credential accepted pending replaces the old one once it verifies.
        if meta.status == Status::Verified {
            let replaces: Option<String> =
                sqlx::query_scalar("SELECT replaces FROM drops WHERE id = $1")
                    .bind(&meta.drop_id)
                    .fetch_optional(tx.conn())
                    .await?
                    .flatten();
            if let Some(old) = replaces {
                super::accept::supersede_in(&mut tx, &old, id, &meta.drop_id).await?;
            }
        }
        if matches!(
            verification.outcome,
            Outcome::Invalid | Outcome::Insufficient
        ) {
            let system = Origin::system();
            if let Some(m) = destroy_in(&mut tx, id, DestroyReason::Refused, None, &system).await? {
                meta = m;
            }
        }
        tx.commit().await?;
        Ok(Some(meta))
    }

    /// process takes it meanwhile. `false` when someone else took it.
    pub async fn claim_recheck(&self, id: &str, hold_until: i64) -> Result<bool> {
        let mut conn = self.write.acquire().await?;
        let n = sqlx::query(
            "UPDATE credentials SET next_check_at = $1 WHERE id = $2 AND status = 'pending' \
             AND delivery <> 'destroyed' AND next_check_at <= $3",
        )
        .bind(hold_until)
        .bind(id)
        .bind(self.now_ms())
        .execute(&mut *conn)
        .await?
        .rows_affected();
        Ok(n == 1)
    }
}
