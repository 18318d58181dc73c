//! Listing credentials and releasing secrets: a batch of secret reads is
//! audited in ONE transaction (group commit), and a secret leaves only after
//! that transaction committed. Claims, acks and every other change of a row
//! are in [`super::lifecycle`].

use super::credentials::{meta_from_row, META};
use super::{Cursor, Result, Store};
use crate::crypto::cipher::Envelope;
use crate::domain::audit::AuditEntry;
use crate::domain::credential::{CredentialMeta, Delivery, Status};
use crate::domain::release::Release;
use sqlx::Row;

/// What a release asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// The secret itself (`GET …/secret`): `handoff` credentials only.
    Secret,
    /// The stored access token of a `vend` credential, if it is still valid after
    /// `fresh_after` (Unix ms); otherwise [`SecretRead::Stale`] and nothing is audited.
    Access { fresh_after: i64 },
}

/// What a secret read found.
#[derive(Debug)]
pub enum SecretRead<T> {
    Released(Box<CredentialMeta>, T),
    Destroyed,
    NotVerified,
    NotFound,
    /// The credential's release mode does not allow what was asked (the secret of a `vend`
    /// credential, an access token of a `handoff` one).
    WrongMode(Release),
    /// A partner grant Greenhouse killed.
    Disconnected,
    /// An access token was asked for and none is stored that stays valid long enough:
    /// renew it, then ask again. Nothing was released or audited.
    Stale(Box<CredentialMeta>),
}

/// A row's sealed material, as a release read it (opened only after the commit).
#[derive(Debug)]
pub struct Sealed {
    pub drop_id: String,
    pub envelope: Envelope,
    /// For [`Want::Access`]: the sealed access token and when it expires.
    pub access: Option<(Vec<u8>, i64)>,
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
        let rows = query.bind(limit).fetch_all(self.reader()?).await?;
        rows.iter().map(meta_from_row).collect()
    }

    /// Release the secrets of several credentials in ONE audited
    /// transaction (group commit: one fsync for the whole batch). Each
    /// request's audit event is written for each secret released; the
    /// caller decrypts only after this returned, i.e. after the commit.
    pub async fn read_secrets(
        &self,
        requests: &[(String, Want, AuditEntry)],
    ) -> Result<Vec<SecretRead<Sealed>>> {
        let mut tx = self.begin_audited().await?;
        // One statement reads (and on PostgreSQL locks) every requested row;
        // one statement writes every audit event: a batch costs a handful of
        // round trips and one fsync, however large.
        let placeholders: Vec<String> = (1..=requests.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {META}, key_version, wrapped_key, ciphertext, access_sealed, access_expires_at \
             FROM credentials WHERE id IN ({}) ORDER BY id{}",
            placeholders.join(", "),
            self.backend.for_update()
        );
        let mut query = sqlx::query(&sql);
        for (id, _, _) in requests {
            query = query.bind(id.clone());
        }
        let rows = query.fetch_all(tx.conn()).await?;
        let mut found = std::collections::HashMap::with_capacity(rows.len());
        for row in &rows {
            let meta = meta_from_row(row)?;
            let key_version: Option<i64> = row.try_get("key_version")?;
            let wrapped: Option<Vec<u8>> = row.try_get("wrapped_key")?;
            let ciphertext: Option<Vec<u8>> = row.try_get("ciphertext")?;
            let access_sealed: Option<Vec<u8>> = row.try_get("access_sealed")?;
            let access_expires_at: Option<i64> = row.try_get("access_expires_at")?;
            let access = access_sealed.zip(access_expires_at);
            found.insert(
                meta.id.clone(),
                (meta, key_version, wrapped, ciphertext, access),
            );
        }
        let mut out = Vec::with_capacity(requests.len());
        let mut audits = Vec::new();
        for (id, want, audit) in requests {
            let Some((meta, key_version, wrapped, ciphertext, access)) = found.get(id) else {
                out.push(SecretRead::NotFound);
                continue;
            };
            // A killed grant was destroyed too; what the caller needs to hear is why.
            if meta.status == Status::Disconnected {
                out.push(SecretRead::Disconnected);
                continue;
            }
            let Some(key_version) = key_version.filter(|_| meta.delivery != Delivery::Destroyed)
            else {
                out.push(SecretRead::Destroyed);
                continue;
            };
            if meta.status != Status::Verified {
                out.push(SecretRead::NotVerified);
                continue;
            }
            let access = match (*want, meta.release) {
                (Want::Secret, Release::Handoff) => None,
                (Want::Access { fresh_after }, Release::Vend) => {
                    match access.as_ref().filter(|(_, exp)| *exp > fresh_after) {
                        Some(a) => Some(a.clone()),
                        None => {
                            out.push(SecretRead::Stale(Box::new(meta.clone())));
                            continue;
                        }
                    }
                }
                (_, release) => {
                    out.push(SecretRead::WrongMode(release));
                    continue;
                }
            };
            let envelope = Envelope {
                key_version,
                wrapped_key: wrapped.clone().unwrap_or_default(),
                ciphertext: ciphertext.clone().unwrap_or_default(),
            };
            audits.push(audit.clone());
            out.push(SecretRead::Released(
                Box::new(meta.clone()),
                Sealed {
                    drop_id: meta.drop_id.clone(),
                    envelope,
                    access,
                },
            ));
        }
        tx.record_many(&audits).await?;
        tx.commit().await?;
        Ok(out)
    }
}
