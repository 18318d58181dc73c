//! The credential lifecycle (STYLE 12): every transition of a credential
//! row — accept, claim, quarantine, ack, apply a verification, destroy,
//! lapse a lease, take a re-check — lives here, each ONE conditional
//! statement built from the fragments below, inside an audited transaction
//! that records its typed event. "0 rows" means the row was not in the
//! state the transition needs; nothing is read, checked, then written.
//!
//! ```text
//! accept ─▶ waiting ──claim──▶ leased ──ack──▶ delivered ──retention──▶ destroyed
//!             ▲                  │ lease runs out / quarantine ends
//!             └──────────────────┘
//! any state but destroyed ──staff destroy / refused check──▶ destroyed
//! ```
//!
//! One rule each: a check that comes back `invalid` or `insufficient`
//! (staff re-verify or background re-check alike) destroys the ciphertext in
//! the same transaction — a credential Greenhouse refuses is never kept
//! (SPEC §3), metadata stays; staff send a new link.

use super::credentials::{meta_from_row, META};
use super::{AuditedTx, Result, Store};
use crate::crypto::cipher::Envelope;
use crate::domain::audit::AuditEntry;
use crate::domain::credential::{CredentialMeta, Status, FIRST_RECHECK_MS};
use crate::domain::event::{DestroyReason, Event, Origin};
use crate::domain::release::Release;
use crate::domain::verification::{Outcome, Verification};
use sqlx::Row;

/// Claimable at `now` (a bound parameter): verified, sealed, and waiting or
/// with a lease that ran out. The claim's select, its update and a
/// quarantine all use this one rule. Its first three terms are, word for
/// word, the WHERE clause of the partial index `credentials_claimable`
/// (migration 0005), so the oldest claimable row is found without sorting
/// every verified row.
fn claimable(now: &str) -> String {
    format!(
        "status = 'verified' AND key_version IS NOT NULL AND delivery IN ('waiting', 'leased') \
         AND (delivery = 'waiting' OR (delivery = 'leased' AND lease_expires_at <= {now}))"
    )
}

/// Leased under `lease` and not yet run out at `now`.
fn live_lease(lease: &str, now: &str) -> String {
    format!("delivery = 'leased' AND lease_id = {lease} AND lease_expires_at > {now}")
}

/// What destruction sets, at `now`: the ciphertext and the wrapped data key
/// are gone, metadata stays. The delivering lease id is kept (it is not a
/// secret) so that a repeated ack stays idempotent.
pub(super) fn destroyed_at(now: &str) -> String {
    format!(
        "delivery = 'destroyed', destroyed_at = {now}, lease_expires_at = NULL, \
         key_version = NULL, wrapped_key = NULL, ciphertext = NULL, next_check_at = NULL, \
         access_sealed = NULL, access_expires_at = NULL, token_lease_id = NULL, \
         token_lease_until = NULL, refresh_due_at = NULL"
    )
}

/// An accepted credential: metadata plus its sealed secret.
#[derive(Debug, Clone)]
pub struct NewCredential {
    pub id: String,
    pub drop_id: String,
    pub org: String,
    /// The drop's, copied at acceptance.
    pub external_id: Option<String>,
    /// The drop's metadata object as JSON, copied at acceptance.
    pub metadata_json: Option<String>,
    pub kind: String,
    pub release: Release,
    pub status: String,
    pub hint: String,
    pub verification_json: String,
    pub envelope: Envelope,
    pub next_check_at: Option<i64>,
    /// A `vend` credential's first access token, sealed, and its expiry (partner grants).
    pub access: Option<(Vec<u8>, i64)>,
    /// A partner grant's first keep-alive refresh.
    pub refresh_due_at: Option<i64>,
}

/// Why [`Store::claim`]'s `open` failed, and whether to set the row aside:
/// `quarantine` = (how long, the audit event) for data that cannot be
/// opened; `None` for a fault of this process (e.g. a key version missing
/// from its keyring), which must not park the row for other processes.
#[derive(Debug)]
pub struct OpenFailure<E> {
    pub error: E,
    pub quarantine: Option<Box<(i64, AuditEntry)>>,
}

/// A live lease: its id (a UUID the worker acks with) and when it runs out
/// (Unix ms, by the database's clock).
#[derive(Debug)]
pub struct Lease {
    pub id: String,
    pub expires_at: i64,
}

/// What ack found.
#[derive(Debug)]
pub enum AckResult {
    /// Delivered now, or earlier with this same lease (an idempotent repeat).
    Delivered(Box<CredentialMeta>),
    /// The lease is not the current one, or it ran out.
    WrongLease,
    NotFound,
}

/// Who ran a check whose result is being applied.
#[derive(Debug, Clone, Copy)]
pub enum CheckBy {
    /// Staff re-ran it (`POST …/verify`): any credential not destroyed.
    Staff,
    /// The background re-check of a pending credential: only while it is
    /// still pending (a staff check meanwhile wins), with its next check.
    Recheck { next_check_at: Option<i64> },
}

impl Store {
    /// Accept a credential for an open, unexpired drop: one conditional
    /// update moves the drop to `submitted`, and the credential row and the
    /// audit event are written in the same transaction. `false` when the
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

    /// Lease the oldest claimable credential. `open` turns the sealed
    /// secret into what is released; if it fails nothing is leased, and
    /// when the failure asks for it the row is set aside (quarantined) in
    /// the same transaction, under the same row lock and by the same
    /// predicate as the claim, so a quarantine can never overwrite a lease
    /// another process took in between.
    pub async fn claim<T, E, F>(
        &self,
        lease_ms: i64,
        lease_id: &str,
        origin: &Origin,
        open: F,
    ) -> Result<Option<std::result::Result<(CredentialMeta, T, Lease), E>>>
    where
        F: FnOnce(&str, &str, &str, &Envelope) -> std::result::Result<T, OpenFailure<E>>,
    {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let skip_locked = match self.backend {
            super::Backend::Sqlite => "",
            super::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        };
        let sql = format!(
            "SELECT id, drop_id, kind, key_version, wrapped_key, ciphertext FROM credentials{} \
             WHERE {} ORDER BY created_at, id LIMIT 1{skip_locked}",
            self.backend.indexed_by("credentials_claimable"),
            claimable("$1")
        );
        let Some(row) = sqlx::query(&sql)
            .bind(now)
            .fetch_optional(tx.conn())
            .await?
        else {
            tx.rollback().await?;
            return Ok(None);
        };
        let id: String = row.try_get("id")?;
        let drop_id: String = row.try_get("drop_id")?;
        let kind: String = row.try_get("kind")?;
        let envelope = Envelope {
            key_version: row.try_get("key_version")?,
            wrapped_key: row.try_get("wrapped_key")?,
            ciphertext: row.try_get("ciphertext")?,
        };
        let opened = match open(&id, &drop_id, &kind, &envelope) {
            Ok(v) => v,
            Err(OpenFailure { error, quarantine }) => {
                match quarantine {
                    Some(q) => {
                        let (hold_ms, audit) = *q;
                        if quarantine_in(&mut tx, &id, now, hold_ms).await? {
                            tx.record(&audit).await?;
                            tx.commit().await?;
                        } else {
                            tx.rollback().await?;
                        }
                    }
                    None => tx.rollback().await?,
                }
                return Ok(Some(Err(error)));
            }
        };
        let expires_at = now.saturating_add(lease_ms);
        let sql = format!(
            "UPDATE credentials SET delivery = 'leased', lease_id = $1, lease_expires_at = $2 \
             WHERE id = $3 AND {} RETURNING {META}",
            claimable("$4")
        );
        let Some(row) = sqlx::query(&sql)
            .bind(lease_id)
            .bind(expires_at)
            .bind(&id)
            .bind(now)
            .fetch_optional(tx.conn())
            .await?
        else {
            tx.rollback().await?;
            return Ok(None);
        };
        let meta = meta_from_row(&row)?;
        tx.record(&origin.entry(Event::CredentialClaimed {
            credential: id,
            drop: drop_id,
            lease: lease_id.to_owned(),
            lease_expires_at: expires_at,
        }))
        .await?;
        tx.commit().await?;
        Ok(Some(Ok((
            meta,
            opened,
            Lease {
                id: lease_id.to_owned(),
                expires_at,
            },
        ))))
    }

    /// Mark a leased credential delivered, if `lease_id` is its live lease;
    /// with `destroy_now` (retention `0`) it is destroyed in the same
    /// transaction. Acking again with the lease that delivered it answers
    /// the same credential and changes nothing.
    pub async fn ack(
        &self,
        id: &str,
        lease_id: &str,
        destroy_now: bool,
        origin: &Origin,
    ) -> Result<AckResult> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let sql = format!(
            "UPDATE credentials SET delivery = 'delivered', delivered_at = $1, lease_expires_at = NULL \
             WHERE id = $2 AND {} RETURNING {META}",
            live_lease("$3", "$1")
        );
        let row = sqlx::query(&sql)
            .bind(now)
            .bind(id)
            .bind(lease_id)
            .fetch_optional(tx.conn())
            .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return self.repeated_ack(id, lease_id).await;
        };
        let mut meta = meta_from_row(&row)?;
        tx.record(&origin.entry(Event::CredentialDelivered {
            credential: id.to_owned(),
            lease: lease_id.to_owned(),
        }))
        .await?;
        // A `vend` credential is kept until staff destroy it (SPEC §3).
        if destroy_now && meta.release == Release::Handoff {
            let system = Origin::system();
            if let Some(m) =
                destroy_in(&mut tx, id, DestroyReason::Retention, None, &system).await?
            {
                meta = m;
            }
        }
        tx.commit().await?;
        Ok(AckResult::Delivered(Box::new(meta)))
    }

    /// An ack that changed nothing: the same lease already delivered it
    /// (idempotent), or the lease is wrong, or there is no such credential.
    async fn repeated_ack(&self, id: &str, lease_id: &str) -> Result<AckResult> {
        let sql = format!("SELECT {META}, lease_id FROM credentials WHERE id = $1");
        let Some(row) = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.reader()?)
            .await?
        else {
            return Ok(AckResult::NotFound);
        };
        let meta = meta_from_row(&row)?;
        let lease: Option<String> = row.try_get("lease_id")?;
        Ok(
            if meta.delivered_at.is_some() && lease.as_deref() == Some(lease_id) {
                AckResult::Delivered(Box::new(meta))
            } else {
                AckResult::WrongLease
            },
        )
    }

    /// Apply a check's result to a stored credential: its status and report,
    /// its next background check, and — when Greenhouse refuses it — its
    /// destruction, all in one transaction. `None`: no such credential, it
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
            .map_err(|e| super::StoreError::Corrupt(format!("verification: {e}")))?;
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
        tx.record(&origin.entry(match by {
            CheckBy::Staff => Event::CredentialReverified {
                credential,
                outcome,
                missing_required,
            },
            CheckBy::Recheck { .. } => Event::CredentialRechecked {
                credential,
                outcome,
                missing_required,
            },
        }))
        .await?;
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

    /// Destroy the ciphertext and wrapped key; metadata stays. Already
    /// destroyed: returned unchanged, nothing recorded. `None`: no such row.
    pub async fn destroy_credential(
        &self,
        id: &str,
        origin: &Origin,
    ) -> Result<Option<CredentialMeta>> {
        let mut tx = self.begin_audited().await?;
        let destroyed = destroy_in(&mut tx, id, DestroyReason::Staff, None, origin).await?;
        let Some(meta) = destroyed else {
            tx.rollback().await?;
            return self.credential_meta(id).await;
        };
        tx.commit().await?;
        Ok(Some(meta))
    }

    /// Give a live lease back (the claim could not hand out what it leased, e.g. Greenhouse
    /// could not issue a `vend` credential's access token): the credential is `waiting`
    /// again at once instead of when the lease runs out.
    pub async fn return_lease(&self, id: &str, lease_id: &str, origin: &Origin) -> Result<bool> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let sql = format!(
            "UPDATE credentials SET delivery = 'waiting', lease_id = NULL, lease_expires_at = NULL \
             WHERE id = $2 AND {}",
            live_lease("$3", "$1")
        );
        let n = sqlx::query(&sql)
            .bind(now)
            .bind(id)
            .bind(lease_id)
            .execute(tx.conn())
            .await?
            .rows_affected();
        let audit = origin.entry(Event::LeaseReturned {
            credential: id.to_owned(),
        });
        tx.commit_if(n == 1, &audit).await
    }

    /// Put credentials whose lease ran out back to `waiting`. Returns how many.
    pub async fn expire_leases(&self, limit: i64) -> Result<usize> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let lapsed = "delivery = 'leased' AND lease_expires_at <= $1";
        // Longest due first, in the order of the partial index that finds
        // them (0005): ordered by id, PostgreSQL's generic plan walked the
        // whole table while holding the audit head.
        let select = format!(
            "SELECT id FROM credentials{} WHERE {lapsed} ORDER BY lease_expires_at, id LIMIT $2{}",
            self.backend.indexed_by("credentials_leases"),
            self.backend.for_update()
        );
        let ids: Vec<String> = sqlx::query_scalar(&select)
            .bind(now)
            .bind(limit)
            .fetch_all(tx.conn())
            .await?;
        let update = format!(
            "UPDATE credentials SET delivery = 'waiting', lease_id = NULL, lease_expires_at = NULL \
             WHERE id = $2 AND {lapsed}"
        );
        let mut n = 0;
        for id in ids {
            let q = sqlx::query(&update).bind(now).bind(&id);
            if q.execute(tx.conn()).await?.rows_affected() == 1 {
                tx.record(&Origin::system().entry(Event::LeaseExpired { credential: id }))
                    .await?;
                n += 1;
            }
        }
        tx.commit().await?;
        Ok(n)
    }

    /// Destroy delivered credentials `retain_ms` after their delivery.
    pub async fn destroy_retained(&self, retain_ms: i64, limit: i64) -> Result<usize> {
        let mut tx = self.begin_audited().await?;
        let cutoff = tx.now_ms().saturating_sub(retain_ms);
        let select = format!(
            "SELECT id FROM credentials{} WHERE delivery = 'delivered' AND release = 'handoff' \
             AND delivered_at <= $1 \
             ORDER BY delivered_at, id LIMIT $2{}",
            self.backend.indexed_by("credentials_retention"),
            self.backend.for_update()
        );
        let ids: Vec<String> = sqlx::query_scalar(&select)
            .bind(cutoff)
            .bind(limit)
            .fetch_all(tx.conn())
            .await?;
        let system = Origin::system();
        let mut n = 0;
        for id in ids {
            if destroy_in(
                &mut tx,
                &id,
                DestroyReason::Retention,
                Some(cutoff),
                &system,
            )
            .await?
            .is_some()
            {
                n += 1;
            }
        }
        tx.commit().await?;
        Ok(n)
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
}

/// Set a claimable row aside until `now + hold_ms` (leased to nobody).
async fn quarantine_in(tx: &mut AuditedTx, id: &str, now: i64, hold_ms: i64) -> Result<bool> {
    let sql = format!(
        "UPDATE credentials SET delivery = 'leased', lease_id = 'quarantined', lease_expires_at = $1 \
         WHERE id = $2 AND {}",
        claimable("$3")
    );
    let n = sqlx::query(&sql)
        .bind(now.saturating_add(hold_ms))
        .bind(id)
        .bind(now)
        .execute(tx.conn())
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// The one destroy statement: any credential not yet destroyed — or, with
/// `delivered_before`, only one delivered at or before that time (the
/// retention rule) — recorded as destroyed for `reason` by `origin`.
/// `None` when it did not apply.
async fn destroy_in(
    tx: &mut AuditedTx,
    id: &str,
    reason: DestroyReason,
    delivered_before: Option<i64>,
    origin: &Origin,
) -> Result<Option<CredentialMeta>> {
    let now = tx.now_ms();
    let sql = format!(
        "UPDATE credentials SET {} WHERE id = $2 AND delivery <> 'destroyed' \
         AND (CAST($3 AS BIGINT) IS NULL OR (delivery = 'delivered' AND release = 'handoff' \
         AND delivered_at <= $3)) \
         RETURNING {META}",
        destroyed_at("$1")
    );
    let Some(row) = sqlx::query(&sql)
        .bind(now)
        .bind(id)
        .bind(delivered_before)
        .fetch_optional(tx.conn())
        .await?
    else {
        return Ok(None);
    };
    let meta = meta_from_row(&row)?;
    tx.record(&origin.entry(Event::CredentialDestroyed {
        credential: id.to_owned(),
        reason,
    }))
    .await?;
    Ok(Some(meta))
}
