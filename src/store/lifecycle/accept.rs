//! Accepting a credential: stored sealed, the drop `submitted`, in one transaction.

use super::NewCredential;
use crate::domain::audit::AuditEntry;
use crate::store::{Result, Store};

impl Store {
    /// drop no longer accepts input (another submission won, or it closed).
    pub async fn accept_credential(&self, c: &NewCredential, audit: &AuditEntry) -> Result<bool> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let moved = sqlx::query(
            "UPDATE drops SET state = 'submitted', credential_id = $1, updated_at = $2, checking = 0 \
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
             key_version, wrapped_key, ciphertext, next_check_at, created_at, external_id, metadata, release, \
             access_sealed, access_expires_at, refresh_due_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'waiting', $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
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
        .bind(c.external_id.as_deref())
        .bind(c.metadata_json.as_deref())
        .bind(c.release.as_str())
        .bind(c.access.as_ref().map(|(sealed, _)| sealed.clone()))
        .bind(c.access.as_ref().map(|(_, at)| *at))
        .bind(c.refresh_due_at)
        .execute(tx.conn())
        .await?;
        tx.record(audit).await?;
        tx.commit().await?;
        Ok(true)
    }
}
