//! Handing a credential out: claim (with the quarantine of a row that cannot be opened),
//! ack, giving a lease back, and leases that run out.

use super::destroy::destroy_in;
use super::{claimable, live_lease, AckResult, Lease, OpenFailure};
use crate::crypto::cipher::Envelope;
use crate::domain::credential::CredentialMeta;
use crate::domain::event::{DestroyReason, Event, Origin};
use crate::domain::release::Release;
use crate::store::credentials::{meta_from_row, META};
use crate::store::{AuditedTx, Result, Store};
use sqlx::Row;

impl Store {
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
            crate::store::Backend::Sqlite => "",
            crate::store::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
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
