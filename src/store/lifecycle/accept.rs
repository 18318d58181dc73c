//! Accepting a credential: stored sealed, the drop `submitted`, in one transaction — and,
//! for a relink's drop (SPEC §15) whose credential is accepted `verified`, the credential it
//! replaces superseded and destroyed and the other open drops that would replace it revoked,
//! in that same transaction ([`supersede_in`]; a relink accepted `pending` supersedes when a
//! later check verifies it, `verify.rs`). Only a verified credential ever replaces one: a
//! key that does not work never costs the customer one that does.

use super::destroy::destroy_in;
use super::NewCredential;
use crate::domain::audit::AuditEntry;
use crate::domain::event::{DestroyReason, Event, Origin};
use crate::store::{AuditedTx, Result, Store};

/// Credential `new` (of relink drop `drop`) replaces credential `old`: marked superseded,
/// destroyed, audited `credential.superseded`, and the other open drops that would replace
/// `old` revoked. `false` when `old` was already superseded (another relink won): nothing
/// was changed. Audited transactions queue on the audit head (`begin_audited`), so two
/// relinks verified at once run one after the other and the conditional update decides.
pub(super) async fn supersede_in(
    tx: &mut AuditedTx,
    old: &str,
    new: &str,
    drop: &str,
) -> Result<bool> {
    let marked = sqlx::query(
        "UPDATE credentials SET superseded_by = $1 WHERE id = $2 AND superseded_by IS NULL",
    )
    .bind(new)
    .bind(old)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if marked != 1 {
        return Ok(false);
    }
    let now = tx.now_ms();
    let system = Origin::system();
    destroy_in(tx, old, DestroyReason::Superseded, None, &system).await?;
    tx.record(&system.entry(Event::CredentialSuperseded {
        credential: old.to_owned(),
        by: new.to_owned(),
        drop: drop.to_owned(),
    }))
    .await?;
    let others: Vec<String> = sqlx::query_scalar(
        "UPDATE drops SET state = 'revoked', updated_at = $1 \
         WHERE replaces = $2 AND state = 'open' AND id <> $3 RETURNING id",
    )
    .bind(now)
    .bind(old)
    .bind(drop)
    .fetch_all(tx.conn())
    .await?;
    for drop in others {
        tx.record(&system.entry(Event::DropRevoked { drop }))
            .await?;
    }
    Ok(true)
}

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
        // A relink's credential accepted verified replaces the old one now — unless another
        // relink already did: then this drop was revoked by it, and nothing is accepted.
        if let Some(old) = replaces.as_deref().filter(|_| c.status == "verified") {
            if !supersede_in(&mut tx, old, &c.id, &c.drop_id).await? {
                tx.rollback().await?;
                return Ok(false);
            }
        }
        tx.commit().await?;
        Ok(true)
    }
}
