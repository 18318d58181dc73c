//! Credential rows: accepted secrets (sealed) and their metadata.

use super::{Result, Store, StoreError};
use crate::crypto::cipher::Envelope;
use crate::domain::audit::AuditEntry;
use crate::domain::credential::{CredentialMeta, Delivery, Status};
use sqlx::any::AnyRow;
use sqlx::Row;

/// An accepted credential: metadata plus its sealed secret.
#[derive(Debug, Clone)]
pub struct NewCredential {
    pub id: String,
    pub drop_id: String,
    pub org: String,
    pub kind: String,
    pub status: String,
    pub hint: String,
    pub verification_json: String,
    pub envelope: Envelope,
    pub next_check_at: Option<i64>,
}

impl Store {
    /// Accept a credential for an open, unexpired drop: one conditional
    /// update moves the drop to `submitted`, and the credential row and the
    /// audit event are written in the same transaction. `false` when the
    /// drop no longer accepts input (another submission won, or it closed).
    pub async fn accept_credential(&self, c: &NewCredential, audit: &AuditEntry) -> Result<bool> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let sql = "UPDATE drops SET state = 'submitted', credential_id = $1, updated_at = $2, checking = 0 \
             WHERE id = $3 AND state = 'open' AND expires_at > $2";
        let moved = sqlx::query(sql)
            .bind(&c.id)
            .bind(now)
            .bind(&c.drop_id)
            .execute(tx.conn())
            .await?
            .rows_affected();
        if moved != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO credentials (id, drop_id, org, kind, status, hint, verification, delivery, \
             key_version, wrapped_key, ciphertext, next_check_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'waiting', $8, $9, $10, $11, $12)",
        )
        .bind(&c.id)
        .bind(&c.drop_id)
        .bind(&c.org)
        .bind(&c.kind)
        .bind(&c.status)
        .bind(&c.hint)
        .bind(&c.verification_json)
        .bind(c.envelope.key_version)
        .bind(c.envelope.wrapped_key.clone())
        .bind(c.envelope.ciphertext.clone())
        .bind(c.next_check_at)
        .bind(now)
        .execute(tx.conn())
        .await?;
        tx.record(audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The sealed secret of a credential with its binding: `(drop_id, kind, envelope)`.
    /// `None` when there is no such credential or it was destroyed.
    pub async fn credential_envelope(
        &self,
        id: &str,
    ) -> Result<Option<(String, String, Envelope)>> {
        let row = sqlx::query(
            "SELECT drop_id, kind, key_version, wrapped_key, ciphertext FROM credentials \
             WHERE id = $1 AND key_version IS NOT NULL",
        )
        .bind(id)
        .fetch_optional(self.reader()?)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some((
            row.try_get("drop_id")?,
            row.try_get("kind")?,
            Envelope {
                key_version: row.try_get("key_version")?,
                wrapped_key: row.try_get("wrapped_key")?,
                ciphertext: row.try_get("ciphertext")?,
            },
        )))
    }
}

const META: &str =
    "id, drop_id, org, kind, status, hint, verification, delivery, lease_expires_at, \
                    created_at, delivered_at, destroyed_at";

impl Store {
    pub async fn credential_meta(&self, id: &str) -> Result<Option<CredentialMeta>> {
        let sql = format!("SELECT {META} FROM credentials WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.reader()?)
            .await?;
        row.as_ref().map(meta_from_row).transpose()
    }

    /// Pending credentials whose next check is due, oldest first.
    pub async fn pending_due(&self, limit: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM credentials WHERE status = 'pending' AND delivery <> 'destroyed' \
             AND next_check_at <= $1 ORDER BY next_check_at LIMIT $2",
        )
        .bind(self.now_ms())
        .bind(limit)
        .fetch_all(self.reader()?)
        .await?)
    }

    /// Take a due re-check: push its next check to `hold_until` so no other
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

    /// Store the result of a re-check. `next_check_at` is `None` once the
    /// outcome is definite; a still-pending one counts a failure.
    pub async fn finish_recheck(
        &self,
        id: &str,
        status: &str,
        verification_json: &str,
        next_check_at: Option<i64>,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let n = sqlx::query(
            // A credential Greenhouse now refuses was never acceptable:
            // like a rejected submission it is not kept (metadata stays).
            "UPDATE credentials SET status = $1, verification = $2, next_check_at = $3, \
             check_failures = CASE WHEN $1 = 'pending' THEN check_failures + 1 ELSE check_failures END, \
             delivery = CASE WHEN $1 IN ('invalid', 'insufficient') THEN 'destroyed' ELSE delivery END, \
             destroyed_at = CASE WHEN $1 IN ('invalid', 'insufficient') THEN $5 ELSE destroyed_at END, \
             key_version = CASE WHEN $1 IN ('invalid', 'insufficient') THEN NULL ELSE key_version END, \
             wrapped_key = CASE WHEN $1 IN ('invalid', 'insufficient') THEN NULL ELSE wrapped_key END, \
             ciphertext = CASE WHEN $1 IN ('invalid', 'insufficient') THEN NULL ELSE ciphertext END \
             WHERE id = $4 AND status = 'pending' AND delivery <> 'destroyed'",
        )
        .bind(status)
        .bind(verification_json)
        .bind(next_check_at)
        .bind(id)
        .bind(now)
        .execute(tx.conn())
        .await?
        .rows_affected();
        if n != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.record(audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// How many times a credential's check has come back pending.
    pub async fn check_failures(&self, id: &str) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT check_failures FROM credentials WHERE id = $1")
                .bind(id)
                .fetch_optional(self.reader()?)
                .await?
                .unwrap_or(0),
        )
    }
}

pub(crate) fn meta_from_row(row: &AnyRow) -> Result<CredentialMeta> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("credential {what}"));
    let kind: String = row.try_get("kind")?;
    let status: String = row.try_get("status")?;
    let delivery: String = row.try_get("delivery")?;
    let verification: String = row.try_get("verification")?;
    Ok(CredentialMeta {
        id: row.try_get("id")?,
        drop_id: row.try_get("drop_id")?,
        org: row.try_get("org")?,
        kind: kind.parse().map_err(|_| corrupt("kind"))?,
        status: Status::parse(&status).ok_or_else(|| corrupt("status"))?,
        hint: row.try_get("hint")?,
        verification: serde_json::from_str(&verification).map_err(|_| corrupt("verification"))?,
        delivery: Delivery::parse(&delivery).ok_or_else(|| corrupt("delivery"))?,
        lease_expires_at: row.try_get("lease_expires_at")?,
        created_at: row.try_get("created_at")?,
        delivered_at: row.try_get("delivered_at")?,
        destroyed_at: row.try_get("destroyed_at")?,
    })
}
