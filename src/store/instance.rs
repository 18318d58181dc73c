//! Settings a running service records on the database for the other processes and the
//! CLI (`instance_settings`): the public URL `keydrop serve` runs with, and whether it
//! delivers webhooks to private addresses — so that `keydrop drop create` prints links that
//! lead to it and `keydrop webhook add` refuses what it would refuse.

use super::{Result, Store};
use crate::domain::event::{Event, Origin};
use sqlx::Row;

/// The base of the links the service hands out.
pub const PUBLIC_URL: &str = "public_url";
/// `true` or `false`: whether the service e-mails links (`KEYDROP_SMTP_URL`), so that
/// `drop create --send-to` queues only what a service will send.
pub const SENDS_MAIL: &str = "sends_mail";
/// `true` or `false`: `KEYDROP_WEBHOOK_ALLOW_PRIVATE` of the service.
pub const WEBHOOK_ALLOW_PRIVATE: &str = "webhook_allow_private";

impl Store {
    /// Record setting `name` of the service on this database; audited when it changes (a
    /// restart with the same value writes nothing). `true` when it changed.
    pub async fn record_setting(&self, name: &str, value: &str) -> Result<bool> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let changed = sqlx::query(
            "INSERT INTO instance_settings (name, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, \
             updated_at = excluded.updated_at \
             WHERE instance_settings.value <> excluded.value",
        )
        .bind(name)
        .bind(value)
        .bind(now)
        .execute(tx.conn())
        .await?
        .rows_affected()
            == 1;
        if changed {
            tx.record(&Origin::system().entry(Event::ServiceSettingRecorded {
                name: name.to_owned(),
                value: value.to_owned(),
            }))
            .await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// Setting `name` as the service last recorded it on this database, if it did.
    pub async fn recorded_setting(&self, name: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM instance_settings WHERE name = $1")
            .bind(name)
            .fetch_optional(self.reader()?)
            .await?;
        Ok(row.map(|r| r.try_get("value")).transpose()?)
    }
}
