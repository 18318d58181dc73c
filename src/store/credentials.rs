//! Drops and credentials: the rows the customer flow and workers change.

use super::{Result, Store};
use crate::crypto::cipher::Envelope;
use crate::domain::audit::AuditEntry;
use sqlx::Row;

/// A drop to create. The link token itself is never here: only its hash.
#[derive(Debug, Clone)]
pub struct NewDrop {
    pub id: String,
    pub token_hash: String,
    pub org: String,
    pub note: Option<String>,
    pub kind: String,
    pub profile_json: String,
    pub expires_at: i64,
    pub max_attempts: i64,
    pub created_by: String,
}

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
    pub async fn insert_drop(&self, d: &NewDrop, audit: &AuditEntry) -> Result<()> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        sqlx::query(
            "INSERT INTO drops (id, token_hash, org, note, kind, profile, state, created_at, expires_at, \
             attempts, max_attempts, credential_id, created_by, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8, 0, $9, NULL, $10, $7)",
        )
        .bind(&d.id)
        .bind(&d.token_hash)
        .bind(&d.org)
        .bind(d.note.as_deref())
        .bind(&d.kind)
        .bind(&d.profile_json)
        .bind(now)
        .bind(d.expires_at)
        .bind(d.max_attempts)
        .bind(&d.created_by)
        .execute(tx.conn())
        .await?;
        tx.record(audit).await?;
        tx.commit().await
    }

    /// Accept a credential for an open, unexpired drop: one conditional
    /// update moves the drop to `submitted`, and the credential row and the
    /// audit event are written in the same transaction. `false` when the
    /// drop no longer accepts input (another submission won, or it closed).
    pub async fn accept_credential(&self, c: &NewCredential, audit: &AuditEntry) -> Result<bool> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let moved = sqlx::query(
            "UPDATE drops SET state = 'submitted', credential_id = $1, updated_at = $2 \
             WHERE id = $3 AND state = 'open' AND expires_at > $2",
        )
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
        .fetch_optional(self.reader())
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
