//! Destruction: the ciphertext and the wrapped data key gone, metadata kept — by staff, by
//! the retention rule, by a refused check, by a dead partner grant. One statement for all.

use super::destroyed_at;
use crate::domain::credential::CredentialMeta;
use crate::domain::event::{DestroyReason, Event, Origin};
use crate::store::credentials::{meta_from_row, META};
use crate::store::{AuditedTx, Result, Store};

impl Store {
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
}

/// The one destroy statement: any credential not yet destroyed — or, with
/// `delivered_before`, only one delivered at or before that time (the
/// retention rule) — recorded as destroyed for `reason` by `origin`.
/// `None` when it did not apply.
pub(super) async fn destroy_in(
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
