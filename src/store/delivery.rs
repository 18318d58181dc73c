//! Releasing credentials to workers: claim with a lease, ack, secret reads,
//! destruction, and the sweeps for lapsed leases and retention. Every change
//! and every release is audited in its own transaction, and a secret leaves
//! only after that transaction committed.

use super::credentials::meta_from_row;
use super::{Cursor, Result, Store};
use crate::crypto::cipher::Envelope;
use crate::domain::audit::AuditEntry;
use crate::domain::credential::{CredentialMeta, Delivery, Status};
use serde_json::json;
use sqlx::Row;

const META: &str =
    "id, drop_id, org, kind, status, hint, verification, delivery, lease_expires_at, \
                    created_at, delivered_at, destroyed_at";

/// The predicate of a claimable credential: verified, sealed, and waiting
/// or with a lease that ran out at `now` (a bound parameter). The claim's
/// select, its update and a quarantine all use this one rule. Its first
/// three terms are, word for word, the WHERE clause of the partial index
/// `credentials_claimable` (migration 0005), so the oldest claimable row
/// is found without sorting every verified row.
fn claimable(now: &str) -> String {
    format!(
        "status = 'verified' AND key_version IS NOT NULL AND delivery IN ('waiting', 'leased') \
         AND (delivery = 'waiting' OR (delivery = 'leased' AND lease_expires_at <= {now}))"
    )
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
    Delivered(Box<CredentialMeta>),
    /// The lease is not the current one, or it ran out.
    WrongLease,
    NotFound,
}

/// What a secret read found.
#[derive(Debug)]
pub enum SecretRead<T> {
    Released(Box<CredentialMeta>, T),
    Destroyed,
    NotVerified,
    NotFound,
}

impl Store {
    pub async fn list_credentials(
        &self,
        status: Option<Status>,
        delivery: Option<Delivery>,
        after: Option<&Cursor>,
        limit: i64,
    ) -> Result<Vec<CredentialMeta>> {
        // Only the filters given appear in the SQL, and the cursor is a row
        // value, so each planner sees plain equalities and an index range
        // (`credentials_claim` for both filters, `credentials_created`
        // otherwise) instead of `$1 IS NULL OR …`, which no index serves:
        // with that form every page read and sorted the whole table.
        let mut clauses = Vec::new();
        let mut n = 0;
        let mut param = || {
            n += 1;
            format!("${n}")
        };
        if status.is_some() {
            clauses.push(format!("status = {}", param()));
        }
        if delivery.is_some() {
            clauses.push(format!("delivery = {}", param()));
        }
        if after.is_some() {
            clauses.push(format!("(created_at, id) < ({}, {})", param(), param()));
        }
        let limit_param = param();
        let filter = if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        };
        // A status alone: walk newest first and filter, rather than sort
        // every row of that status (SQLite would pick `credentials_claim`).
        let hint = if status.is_some() && delivery.is_none() {
            self.backend.indexed_by("credentials_created")
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT {META} FROM credentials{hint}{filter} \
             ORDER BY created_at DESC, id DESC LIMIT {limit_param}"
        );
        let mut query = sqlx::query(&sql);
        if let Some(s) = status {
            query = query.bind(s.as_str());
        }
        if let Some(d) = delivery {
            query = query.bind(d.as_str());
        }
        if let Some(c) = after {
            query = query.bind(c.created_at).bind(c.id.as_str());
        }
        let rows = query.bind(limit).fetch_all(self.reader()).await?;
        rows.iter().map(meta_from_row).collect()
    }

    /// Lease the oldest verified credential that is waiting or whose lease
    /// ran out. `open` turns the sealed secret into what is released; if it
    /// fails nothing is leased, and when the failure asks for it the row is
    /// set aside (quarantined) in the same transaction, under the same row
    /// lock and by the same predicate as the claim itself, so a quarantine
    /// can never overwrite a lease another process took in between.
    pub async fn claim<T, E, F>(
        &self,
        lease_ms: i64,
        lease_id: &str,
        audit: &AuditEntry,
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
                        let until = now.saturating_add(hold_ms);
                        let sql = format!(
                            "UPDATE credentials SET delivery = 'leased', lease_id = 'quarantined', \
                             lease_expires_at = $1 WHERE id = $2 AND {}",
                            claimable("$3")
                        );
                        let moved = sqlx::query(&sql)
                            .bind(until)
                            .bind(&id)
                            .bind(now)
                            .execute(tx.conn())
                            .await?
                            .rows_affected();
                        let mut audit = audit;
                        audit.subject = format!("credential:{id}");
                        tx.record(&audit).await?;
                        if moved == 1 {
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
        let mut audit = audit.clone();
        audit.subject = format!("credential:{id}");
        audit.details = json!({
            "lease": lease_id,
            "lease_expires_at": crate::clock::rfc3339(crate::clock::from_millis(expires_at)),
            "drop": drop_id,
        });
        tx.record(&audit).await?;
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

    /// Mark a leased credential delivered, if `lease_id` is its live lease.
    /// With `destroy_now` the ciphertext goes in the same statement.
    pub async fn ack(
        &self,
        id: &str,
        lease_id: &str,
        destroy_now: bool,
        audit: &AuditEntry,
    ) -> Result<AckResult> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let sql = if destroy_now {
            format!(
                "UPDATE credentials SET delivery = 'destroyed', delivered_at = $1, destroyed_at = $1, \
                 lease_id = NULL, lease_expires_at = NULL, key_version = NULL, wrapped_key = NULL, ciphertext = NULL \
                 WHERE id = $2 AND delivery = 'leased' AND lease_id = $3 AND lease_expires_at > $1 RETURNING {META}"
            )
        } else {
            format!(
                "UPDATE credentials SET delivery = 'delivered', delivered_at = $1, lease_id = NULL, lease_expires_at = NULL \
                 WHERE id = $2 AND delivery = 'leased' AND lease_id = $3 AND lease_expires_at > $1 RETURNING {META}"
            )
        };
        let row = sqlx::query(&sql)
            .bind(now)
            .bind(id)
            .bind(lease_id)
            .fetch_optional(tx.conn())
            .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(match self.credential_meta(id).await? {
                Some(_) => AckResult::WrongLease,
                None => AckResult::NotFound,
            });
        };
        let meta = meta_from_row(&row)?;
        tx.record(audit).await?;
        if destroy_now {
            tx.record(
                &AuditEntry::new("system", "credential.destroy", format!("credential:{id}"))
                    .details(json!({ "reason": "retention" })),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(AckResult::Delivered(Box::new(meta)))
    }

    /// Release the secrets of several credentials in ONE audited
    /// transaction (group commit: one fsync for the whole batch). Each
    /// request's audit event is written for each secret released; the
    /// caller decrypts only after this returned, i.e. after the commit.
    pub async fn read_secrets(
        &self,
        requests: &[(String, AuditEntry)],
    ) -> Result<Vec<SecretRead<(String, Envelope)>>> {
        let mut tx = self.begin_audited().await?;
        // One statement reads (and on PostgreSQL locks) every requested row;
        // one statement writes every audit event: a batch costs a handful of
        // round trips and one fsync, however large.
        let placeholders: Vec<String> = (1..=requests.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {META}, key_version, wrapped_key, ciphertext FROM credentials WHERE id IN ({}) ORDER BY id{}",
            placeholders.join(", "),
            self.backend.for_update()
        );
        let mut query = sqlx::query(&sql);
        for (id, _) in requests {
            query = query.bind(id.clone());
        }
        let rows = query.fetch_all(tx.conn()).await?;
        let mut found = std::collections::HashMap::with_capacity(rows.len());
        for row in &rows {
            let meta = meta_from_row(row)?;
            let key_version: Option<i64> = row.try_get("key_version")?;
            let wrapped: Option<Vec<u8>> = row.try_get("wrapped_key")?;
            let ciphertext: Option<Vec<u8>> = row.try_get("ciphertext")?;
            found.insert(meta.id.clone(), (meta, key_version, wrapped, ciphertext));
        }
        let mut out = Vec::with_capacity(requests.len());
        let mut audits = Vec::new();
        for (id, audit) in requests {
            let Some((meta, key_version, wrapped, ciphertext)) = found.get(id) else {
                out.push(SecretRead::NotFound);
                continue;
            };
            let Some(key_version) = key_version.filter(|_| meta.delivery != Delivery::Destroyed)
            else {
                out.push(SecretRead::Destroyed);
                continue;
            };
            if meta.status != Status::Verified {
                out.push(SecretRead::NotVerified);
                continue;
            }
            let envelope = Envelope {
                key_version,
                wrapped_key: wrapped.clone().unwrap_or_default(),
                ciphertext: ciphertext.clone().unwrap_or_default(),
            };
            audits.push(audit.clone());
            out.push(SecretRead::Released(
                Box::new(meta.clone()),
                (meta.drop_id.clone(), envelope),
            ));
        }
        tx.record_many(&audits).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Replace a credential's verification (staff re-check).
    pub async fn update_verification(
        &self,
        id: &str,
        status: Status,
        verification_json: &str,
        audit: &AuditEntry,
    ) -> Result<Option<CredentialMeta>> {
        let mut tx = self.begin_audited().await?;
        // A verified credential that re-checks as pending gets a background
        // re-check like a new one, so it cannot be stranded.
        let first_recheck = tx.now_ms() + crate::service::submission::FIRST_RECHECK_MS;
        let sql = format!(
            "UPDATE credentials SET status = $1, verification = $2, \
             next_check_at = CASE WHEN $1 = 'pending' THEN COALESCE(next_check_at, $4) ELSE NULL END \
             WHERE id = $3 AND delivery <> 'destroyed' RETURNING {META}"
        );
        let Some(row) = sqlx::query(&sql)
            .bind(status.as_str())
            .bind(verification_json)
            .bind(id)
            .bind(first_recheck)
            .fetch_optional(tx.conn())
            .await?
        else {
            tx.rollback().await?;
            return Ok(None);
        };
        let meta = meta_from_row(&row)?;
        tx.record(audit).await?;
        tx.commit().await?;
        Ok(Some(meta))
    }

    /// Destroy the ciphertext and wrapped key; metadata stays. Already
    /// destroyed: returned unchanged, nothing recorded. `None`: no such row.
    pub async fn destroy_credential(
        &self,
        id: &str,
        audit: &AuditEntry,
    ) -> Result<Option<CredentialMeta>> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let sql = format!(
            "UPDATE credentials SET delivery = 'destroyed', destroyed_at = $1, lease_id = NULL, lease_expires_at = NULL, \
             key_version = NULL, wrapped_key = NULL, ciphertext = NULL, next_check_at = NULL \
             WHERE id = $2 AND delivery <> 'destroyed' RETURNING {META}"
        );
        match sqlx::query(&sql)
            .bind(now)
            .bind(id)
            .fetch_optional(tx.conn())
            .await?
        {
            Some(row) => {
                let meta = meta_from_row(&row)?;
                tx.record(audit).await?;
                tx.commit().await?;
                Ok(Some(meta))
            }
            None => {
                tx.rollback().await?;
                self.credential_meta(id).await
            }
        }
    }
}
