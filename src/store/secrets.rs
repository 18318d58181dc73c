//! Secrets of the service itself (the form-token key), sealed under a
//! master key version; the sealing is done by `crypto::cipher`.

use super::{Result, Store};
use crate::crypto::cipher::SealedSecret;
use crate::domain::event::{Event, Origin};
use sqlx::Row;

impl Store {
    /// The sealed service secret `name`, if one was stored.
    pub async fn service_secret(&self, name: &str) -> Result<Option<SealedSecret>> {
        let row = sqlx::query("SELECT key_version, sealed FROM service_secrets WHERE name = $1")
            .bind(name)
            .fetch_optional(self.reader()?)
            .await?;
        row.map(|r| {
            Ok(SealedSecret {
                key_version: r.try_get("key_version")?,
                sealed: r.try_get("sealed")?,
            })
        })
        .transpose()
    }

    /// Store `secret` as `name` unless one is there already (another
    /// process won the race: the stored one counts). Audited when stored.
    pub async fn insert_service_secret(&self, name: &str, secret: &SealedSecret) -> Result<bool> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let inserted = sqlx::query(
            "INSERT INTO service_secrets (name, key_version, sealed, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(secret.key_version)
        .bind(&secret.sealed)
        .bind(now)
        .execute(tx.conn())
        .await?
        .rows_affected()
            == 1;
        if !inserted {
            return Ok(false);
        }
        tx.record(&Origin::system().entry(Event::ServiceSecretCreated {
            name: name.to_owned(),
        }))
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Replace the sealed form of `name` (same secret, now under
    /// `new.key_version`) if it is still sealed under `old_version`. Audited.
    pub async fn reseal_service_secret(
        &self,
        name: &str,
        old_version: i64,
        new: &SealedSecret,
    ) -> Result<bool> {
        let mut tx = self.begin_audited().await?;
        let moved = sqlx::query(
            "UPDATE service_secrets SET key_version = $1, sealed = $2 \
             WHERE name = $3 AND key_version = $4",
        )
        .bind(new.key_version)
        .bind(&new.sealed)
        .bind(name)
        .bind(old_version)
        .execute(tx.conn())
        .await?
        .rows_affected()
            == 1;
        if !moved {
            return Ok(false);
        }
        tx.record(&Origin::cli().entry(Event::ServiceSecretResealed {
            name: name.to_owned(),
            key_version: new.key_version,
        }))
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The names of service secrets not sealed under `active`.
    pub async fn service_secrets_needing_reseal(&self, active: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT name FROM service_secrets WHERE key_version <> $1 ORDER BY name",
        )
        .bind(active)
        .fetch_all(self.reader()?)
        .await?)
    }
}
