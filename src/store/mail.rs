//! The mail outbox and link rotation (SPEC §15, §8.14). A message row is written in the
//! transaction that made or rotated its link; the link travels sealed under the keyring
//! (`sealed_link`, bound to the row) until the mail server took the message, and is destroyed
//! then — or when the row is cancelled or given up. The message text is composed at sending
//! and never stored. Every sender claims a row with a lease (one conditional update), so
//! several keydrop processes never send one message at the same time.

use super::{drops::drop_from_row, Result, Store};
use crate::domain::audit::AuditEntry;
use crate::domain::drop::DropRecord;
use sqlx::{AnyConnection, Row};

/// Why a message is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A new link: at creation, or sent again by staff.
    Link,
    /// The one reminder before expiry, with a new link.
    Reminder,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Link => "link",
            Self::Reminder => "reminder",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "link" => Some(Self::Link),
            "reminder" => Some(Self::Reminder),
            _ => None,
        }
    }
}

/// A message to queue. `sealed_link` is the link token sealed for this row (id and drop).
#[derive(Clone)]
pub struct NewMail {
    pub id: String,
    pub drop_id: String,
    pub purpose: Purpose,
    pub recipient: String,
    pub key_version: i64,
    pub sealed_link: Vec<u8>,
    /// When to stop retrying (created + 24 h).
    pub give_up_at: i64,
    pub created_by: String,
}

impl std::fmt::Debug for NewMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewMail")
            .field("id", &self.id)
            .field("drop_id", &self.drop_id)
            .field("purpose", &self.purpose)
            .finish_non_exhaustive()
    }
}

/// A message this process has leased for sending, with its drop as it is now.
pub struct ClaimedMail {
    pub id: String,
    pub purpose: Purpose,
    pub recipient: String,
    pub key_version: Option<i64>,
    pub sealed_link: Option<Vec<u8>>,
    /// Attempts so far, this one included.
    pub attempts: i64,
    pub give_up_at: i64,
    pub drop: DropRecord,
}

impl std::fmt::Debug for ClaimedMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimedMail")
            .field("id", &self.id)
            .field("drop", &self.drop.id)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// A message as staff see it (no link: it is sealed or gone).
#[derive(Debug, Clone)]
pub struct MailRow {
    pub id: String,
    pub purpose: String,
    pub recipient: String,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    pub next_attempt_at: i64,
}

/// What rotating a drop's link found.
#[derive(Debug)]
pub enum Rotated {
    /// The new link is the drop's; the old one answers 410 from now on.
    Done,
    /// Not open (or past its expiry, or — for a reminder — already reminded): nothing changed.
    NotOpen,
}

/// Insert `mail` (inside the caller's transaction).
pub(crate) async fn insert_mail(conn: &mut AnyConnection, m: &NewMail, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO mail_outbox (id, drop_id, purpose, recipient, key_version, sealed_link, \
         state, attempts, next_attempt_at, lease_until, give_up_at, last_error, created_at, \
         sent_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, 'queued', 0, $7, NULL, $8, NULL, $7, NULL, $9)",
    )
    .bind(&m.id)
    .bind(&m.drop_id)
    .bind(m.purpose.as_str())
    .bind(&m.recipient)
    .bind(m.key_version)
    .bind(&m.sealed_link)
    .bind(now)
    .bind(m.give_up_at)
    .bind(&m.created_by)
    .execute(conn)
    .await?;
    Ok(())
}

/// Withdraw a queued message: its sealed link destroyed, never sent.
const CANCEL: &str = "UPDATE mail_outbox SET state = 'cancelled', sealed_link = NULL, \
     key_version = NULL, lease_until = NULL";

impl Store {
    /// A connection of the write pool for one statement; fails at once while the database
    /// is down.
    async fn write_conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>> {
        self.check_up()?;
        Ok(self.write.acquire().await?)
    }

    /// Give drop `mail.drop_id` a new link (`new_hash`) and queue `mail` with it, in one
    /// audited transaction: the old link's hash goes to `replaced_links` (it answers 410), a
    /// message still queued with the old link is cancelled (its sealed link destroyed), and
    /// `drops.send_to` becomes the recipient. Only an open, unexpired drop; a reminder only
    /// once per drop.
    pub async fn rotate_link(
        &self,
        new_hash: &str,
        mail: &NewMail,
        audit: &AuditEntry,
    ) -> Result<Rotated> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let reminder = mail.purpose == Purpose::Reminder;
        let moved = sqlx::query(
            "INSERT INTO replaced_links (token_hash, drop_id, replaced_at) \
             SELECT token_hash, id, $2 FROM drops WHERE id = $1 AND state = 'open' \
             AND expires_at > $2 AND ($3 = 0 OR reminded_at IS NULL)",
        )
        .bind(&mail.drop_id)
        .bind(now)
        .bind(i64::from(reminder))
        .execute(tx.conn())
        .await?
        .rows_affected();
        if moved != 1 {
            tx.rollback().await?;
            return Ok(Rotated::NotOpen);
        }
        sqlx::query(
            "UPDATE drops SET token_hash = $2, send_to = $3, updated_at = $4, \
             reminded_at = CASE WHEN $5 = 1 THEN $4 ELSE reminded_at END WHERE id = $1",
        )
        .bind(&mail.drop_id)
        .bind(new_hash)
        .bind(&mail.recipient)
        .bind(now)
        .bind(i64::from(reminder))
        .execute(tx.conn())
        .await?;
        sqlx::query(&format!("{CANCEL} WHERE drop_id = $1 AND state = 'queued'"))
            .bind(&mail.drop_id)
            .execute(tx.conn())
            .await?;
        insert_mail(tx.conn(), mail, now).await?;
        tx.record(audit).await?;
        tx.commit().await?;
        Ok(Rotated::Done)
    }

    /// Open e-mailed drops whose reminder falls due by now: `before_ms` before their
    /// expiry, not reminded yet, and whose whole lifetime is longer than `before_ms`.
    pub async fn reminders_due(&self, before_ms: i64, limit: i64) -> Result<Vec<DropRecord>> {
        let now = self.now_ms();
        let sql = format!(
            "SELECT {} FROM drops WHERE state = 'open' AND send_to IS NOT NULL \
             AND reminded_at IS NULL AND expires_at > $1 AND expires_at <= $1 + $2 \
             AND expires_at - created_at > $2 ORDER BY expires_at LIMIT $3",
            super::drops::COLUMNS
        );
        let rows = sqlx::query(&sql)
            .bind(now)
            .bind(before_ms)
            .bind(limit)
            .fetch_all(self.reader()?)
            .await?;
        rows.iter().map(drop_from_row).collect()
    }

    /// Ids of queued messages due now and not leased, oldest due first.
    pub async fn mail_due(&self, limit: i64) -> Result<Vec<String>> {
        let now = self.now_ms();
        Ok(sqlx::query_scalar(
            "SELECT id FROM mail_outbox WHERE state = 'queued' AND next_attempt_at <= $1 \
             AND (lease_until IS NULL OR lease_until <= $1) ORDER BY next_attempt_at, id LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *self.write_conn().await?)
        .await?)
    }

    /// Lease message `id` for `lease_ms` and count the attempt, if it is still queued, due
    /// and not leased by another sender (one conditional update decides); then read it with
    /// its drop.
    pub async fn claim_mail(&self, id: &str, lease_ms: i64) -> Result<Option<ClaimedMail>> {
        let now = self.now_ms();
        let claimed = sqlx::query(
            "UPDATE mail_outbox SET lease_until = $2, attempts = attempts + 1 \
             WHERE id = $1 AND state = 'queued' AND next_attempt_at <= $3 \
             AND (lease_until IS NULL OR lease_until <= $3)",
        )
        .bind(id)
        .bind(now.saturating_add(lease_ms))
        .bind(now)
        .execute(&mut *self.write_conn().await?)
        .await?
        .rows_affected();
        if claimed != 1 {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT purpose, recipient, key_version, sealed_link, attempts, give_up_at, drop_id \
             FROM mail_outbox WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&mut *self.write_conn().await?)
        .await?;
        let drop_id: String = row.try_get("drop_id")?;
        let Some(drop) = self.drop_by_id(&drop_id).await? else {
            return Err(super::StoreError::Corrupt(format!(
                "mail {id} names drop {drop_id}, which does not exist"
            )));
        };
        let purpose: String = row.try_get("purpose")?;
        Ok(Some(ClaimedMail {
            id: id.to_owned(),
            purpose: Purpose::parse(&purpose)
                .ok_or_else(|| super::StoreError::Corrupt(format!("mail {id} purpose")))?,
            recipient: row.try_get("recipient")?,
            key_version: row.try_get("key_version")?,
            sealed_link: row.try_get("sealed_link")?,
            attempts: row.try_get("attempts")?,
            give_up_at: row.try_get("give_up_at")?,
            drop,
        }))
    }

    /// The mail server took message `id`: destroy its sealed link, mark it sent and its
    /// drop's link sent, and record `audit` — one transaction. `false` when it was no
    /// longer queued (nothing recorded).
    pub async fn mail_sent(&self, id: &str, drop_id: &str, audit: &AuditEntry) -> Result<bool> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let changed = sqlx::query(
            "UPDATE mail_outbox SET state = 'sent', sealed_link = NULL, key_version = NULL, \
             lease_until = NULL, last_error = NULL, sent_at = $2 WHERE id = $1 AND state = 'queued'",
        )
        .bind(id)
        .bind(now)
        .execute(tx.conn())
        .await?
        .rows_affected()
            == 1;
        if changed {
            sqlx::query("UPDATE drops SET link_sent_at = $2 WHERE id = $1")
                .bind(drop_id)
                .bind(now)
                .execute(tx.conn())
                .await?;
        }
        tx.commit_if(changed, audit).await
    }

    /// Sending message `id` failed for a while: try again at `next_at`; `error` says why
    /// (a status and category, never the server's text).
    pub async fn mail_retry(&self, id: &str, next_at: i64, error: &str) -> Result<()> {
        sqlx::query(
            "UPDATE mail_outbox SET next_attempt_at = $2, lease_until = NULL, last_error = $3 \
             WHERE id = $1 AND state = 'queued'",
        )
        .bind(id)
        .bind(next_at)
        .bind(error)
        .execute(&mut *self.write_conn().await?)
        .await?;
        Ok(())
    }

    /// Message `id` will not be sent (refused for good, or 24 h of failures): its sealed
    /// link destroyed, `audit` recorded, one transaction. `false` when it was not queued.
    pub async fn mail_failed(&self, id: &str, error: &str, audit: &AuditEntry) -> Result<bool> {
        let mut tx = self.begin_audited().await?;
        let changed = sqlx::query(
            "UPDATE mail_outbox SET state = 'failed', sealed_link = NULL, key_version = NULL, \
             lease_until = NULL, last_error = $2 WHERE id = $1 AND state = 'queued'",
        )
        .bind(id)
        .bind(error)
        .execute(tx.conn())
        .await?
        .rows_affected()
            == 1;
        tx.commit_if(changed, audit).await
    }

    /// Withdraw queued message `id` (its drop no longer takes input): the sealed link is
    /// destroyed, nothing is sent.
    pub async fn cancel_mail(&self, id: &str) -> Result<()> {
        sqlx::query(&format!("{CANCEL} WHERE id = $1 AND state = 'queued'"))
            .bind(id)
            .execute(&mut *self.write_conn().await?)
            .await?;
        Ok(())
    }

    /// The messages of drop `drop_id`, newest first, for staff.
    pub async fn mail_of_drop(&self, drop_id: &str) -> Result<Vec<MailRow>> {
        let rows = sqlx::query(
            "SELECT id, purpose, recipient, state, attempts, last_error, created_at, sent_at, \
             next_attempt_at FROM mail_outbox WHERE drop_id = $1 ORDER BY created_at DESC, id",
        )
        .bind(drop_id)
        .fetch_all(self.reader()?)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MailRow {
                    id: r.try_get("id")?,
                    purpose: r.try_get("purpose")?,
                    recipient: r.try_get("recipient")?,
                    state: r.try_get("state")?,
                    attempts: r.try_get("attempts")?,
                    last_error: r.try_get("last_error")?,
                    created_at: r.try_get("created_at")?,
                    sent_at: r.try_get("sent_at")?,
                    next_attempt_at: r.try_get("next_attempt_at")?,
                })
            })
            .collect()
    }
}
