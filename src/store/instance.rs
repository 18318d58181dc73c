//! Settings a running service records on the database for the other processes and the
//! CLI (`instance_settings`): the public URL `keydrop serve` runs with.

use super::{Result, Store};
use crate::domain::event::{Event, Origin};
use sqlx::Row;

const PUBLIC_URL: &str = "public_url";

impl Store {
    /// Record `url` as the public URL of the service on this database; audited when it
    /// changes (a restart with the same URL writes nothing). `true` when it changed.
    pub async fn announce_public_url(&self, url: &str) -> Result<bool> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let changed = sqlx::query(
            "INSERT INTO instance_settings (name, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, \
             updated_at = excluded.updated_at \
             WHERE instance_settings.value <> excluded.value",
        )
        .bind(PUBLIC_URL)
        .bind(url)
        .bind(now)
        .execute(tx.conn())
        .await?
        .rows_affected()
            == 1;
        if changed {
            tx.record(&Origin::system().entry(Event::PublicUrlAnnounced {
                url: url.to_owned(),
            }))
            .await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// The public URL the service last announced on this database, if any.
    pub async fn announced_public_url(&self) -> Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM instance_settings WHERE name = $1")
            .bind(PUBLIC_URL)
            .fetch_optional(self.reader()?)
            .await?;
        Ok(row.map(|r| r.try_get("value")).transpose()?)
    }
}
