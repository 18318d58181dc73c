//! Accepting a credential: stored sealed, the drop `submitted`, in one transaction — and,
//! for a relink's drop (SPEC §15), the credential it replaces superseded and destroyed and
//! the other open drops that would replace it revoked, in that same transaction.

use super::destroy::destroy_in;
use super::NewCredential;
use crate::domain::audit::AuditEntry;
use crate::domain::event::{DestroyReason, Event, Origin};
use crate::store::{Result, Store};

impl Store {
    /// drop no longer accepts input (another submission won, or it closed), or — for a
    /// relink's drop — another relink of the same credential was accepted first.
    pub async fn accept_credential(&self, c: &NewCredential, audit: &AuditEntry) -> Result<bool> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let replaces: Option<String> =
            sqlx::query_scalar("SELECT replaces FROM drops WHERE id = $1")
                .bind(&c.drop_id)
                .fetch_optional(tx.conn())
                .await?
                .flatten();
        // The replaced credential's row first: two relinks of one credential accepted at
        // once queue here (one lock order: credential, then drops), and only the first
        // supersedes it.
        if let Some(old) = &replaces {
            let marked = sqlx::query(
                "UPDATE credentials SET superseded_by = $1 WHERE id = $2 AND superseded_by IS NULL",
            )
            .bind(&c.id)
            .bind(old)
            .execute(tx.conn())
            .await?
            .rows_affected();
            if marked != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
        }
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
        if let Some(old) = &replaces {
            let system = Origin::system();
            destroy_in(&mut tx, old, DestroyReason::Superseded, None, &system).await?;
            tx.record(&system.entry(Event::CredentialSuperseded {
                credential: old.clone(),
                by: c.id.clone(),
                drop: c.drop_id.clone(),
            }))
            .await?;
            let others: Vec<String> = sqlx::query_scalar(
                "UPDATE drops SET state = 'revoked', updated_at = $1 \
                 WHERE replaces = $2 AND state = 'open' AND id <> $3 RETURNING id",
            )
            .bind(now)
            .bind(old)
            .bind(&c.drop_id)
            .fetch_all(tx.conn())
            .await?;
            for drop in others {
                tx.record(&system.entry(Event::DropRevoked { drop }))
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }
}
