//! Reading credential rows: metadata, sealed secrets for a check, and
//! re-check scheduling. Every change of a row is in [`super::lifecycle`].

use super::{Result, Store, StoreError};
use crate::crypto::cipher::Envelope;
use crate::domain::credential::{CredentialMeta, Delivery, Status};
use crate::domain::release::Release;
use sqlx::any::AnyRow;
use sqlx::Row;

impl Store {
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

/// The metadata columns of a credential row (never its sealed secret).
pub(super) const META: &str =
    "id, drop_id, org, external_id, metadata, kind, release, status, hint, verification, delivery, \
     lease_expires_at, created_at, delivered_at, destroyed_at, superseded_by, last_checked_at, \
     health_failures";

impl Store {
    pub async fn credential_meta(&self, id: &str) -> Result<Option<CredentialMeta>> {
        let sql = format!("SELECT {META} FROM credentials WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.reader()?)
            .await?;
        row.as_ref().map(meta_from_row).transpose()
    }

    /// The drops whose credential has the receipt reference `reference` (the first 8 hex
    /// digits of its id, any case; see `web::pages::short_reference`). Usually one; two
    /// credentials may share a reference, rarely.
    pub async fn drops_by_reference(&self, reference: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT drop_id FROM credentials \
             WHERE LOWER(SUBSTR(REPLACE(id, '-', ''), 1, 8)) = $1 ORDER BY created_at",
        )
        .bind(reference.to_ascii_lowercase())
        .fetch_all(self.reader()?)
        .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>("drop_id")?))
            .collect()
    }

    /// How many credentials there are by `(status, delivery)`, for metrics.
    pub async fn credential_counts(&self) -> Result<Vec<(String, String, i64)>> {
        let rows = sqlx::query(
            "SELECT status, delivery, COUNT(*) AS n FROM credentials GROUP BY status, delivery",
        )
        .fetch_all(self.reader()?)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("status")?,
                    r.try_get("delivery")?,
                    r.try_get("n")?,
                ))
            })
            .collect()
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
    let metadata: Option<String> = row.try_get("metadata")?;
    let release: String = row.try_get("release")?;
    Ok(CredentialMeta {
        id: row.try_get("id")?,
        drop_id: row.try_get("drop_id")?,
        org: row.try_get("org")?,
        external_id: row.try_get("external_id")?,
        metadata: metadata
            .map(|m| serde_json::from_str(&m))
            .transpose()
            .map_err(|_| corrupt("metadata"))?,
        kind: kind.parse().map_err(|_| corrupt("kind"))?,
        release: Release::parse(&release).ok_or_else(|| corrupt("release"))?,
        status: Status::parse(&status).ok_or_else(|| corrupt("status"))?,
        hint: row.try_get("hint")?,
        verification: serde_json::from_str(&verification).map_err(|_| corrupt("verification"))?,
        delivery: Delivery::parse(&delivery).ok_or_else(|| corrupt("delivery"))?,
        lease_expires_at: row.try_get("lease_expires_at")?,
        created_at: row.try_get("created_at")?,
        delivered_at: row.try_get("delivered_at")?,
        destroyed_at: row.try_get("destroyed_at")?,
        superseded_by: row.try_get("superseded_by")?,
        last_checked_at: row.try_get("last_checked_at")?,
        health_failures: row.try_get("health_failures")?,
    })
}
