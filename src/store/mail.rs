//! The mail outbox and link rotation (SPEC §15, §8.14). A message row is written in the
//! transaction that made or rotated its link; the link travels sealed under the keyring
//! (`sealed_link`, bound to the row, its drop and its recipient) until the mail server took
//! the message, and is destroyed then — or when the row is cancelled or given up (every
//! statement that takes a row out of `queued` clears it). The message text is composed at
//! sending and never stored. A sender claims a row with a lease of its own (`lease_id`);
//! only the holder may finish it, so several keydrop processes never send one message at the
//! same time, and a sender whose lease ran out cannot undo another's.

use super::{drops::drop_from_row, Result, Store};
use crate::domain::audit::AuditEntry;
use crate::domain::drop::DropRecord;
use sqlx::{AnyConnection, Row};

/// Why a message is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A new drop's link.
    Link,
    /// Staff sent the drop's link again: a new link, the old one already replaced.
    Again,
    /// The one reminder before expiry, with a new link that replaces the old one once the
    /// reminder reached the mail server.
    Reminder,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Link => "link",
            Self::Again => "again",
            Self::Reminder => "reminder",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "link" => Some(Self::Link),
            "again" => Some(Self::Again),
            "reminder" => Some(Self::Reminder),
            _ => None,
        }
    }
}

/// A message to queue. `sealed_link` is the link token sealed for this row (id, drop,
/// recipient).
#[derive(Clone)]
pub struct NewMail {
    pub id: String,
    pub drop_id: String,
    pub purpose: Purpose,
    pub recipient: String,
    pub key_version: i64,
    pub sealed_link: Vec<u8>,
    /// A reminder's new link (its hash): the drop's link once the reminder is sent.
    pub new_token_hash: Option<String>,
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
    /// This sender's lease: only it may finish the row.
    pub lease: String,
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

/// A queued message whose link is sealed under an older key version (for `keys rewrap`).
pub struct SealedMail {
    pub id: String,
    pub drop_id: String,
    pub recipient: String,
    pub key_version: i64,
    pub sealed_link: Vec<u8>,
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

/// What rotating a drop's link, or queueing its reminder, found.
#[derive(Debug)]
pub enum Rotated {
    /// Done, in one audited transaction.
    Done,
    /// Not open (or past its expiry, or — for a reminder — already reminded): nothing changed.
    NotOpen,
}

/// Insert `mail` (inside the caller's transaction).
pub(crate) async fn insert_mail(conn: &mut AnyConnection, m: &NewMail, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO mail_outbox (id, drop_id, purpose, recipient, key_version, sealed_link, \
         new_token_hash, state, attempts, next_attempt_at, lease_id, lease_until, give_up_at, \
         last_error, created_at, sent_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', 0, $8, NULL, NULL, $9, NULL, $8, NULL, $10)",
    )
    .bind(&m.id)
    .bind(&m.drop_id)
    .bind(m.purpose.as_str())
    .bind(&m.recipient)
    .bind(m.key_version)
    .bind(&m.sealed_link)
    .bind(m.new_token_hash.as_deref())
    .bind(now)
    .bind(m.give_up_at)
    .bind(&m.created_by)
    .execute(conn)
    .await?;
    Ok(())
}

/// Take a queued message out of the queue as `state`: its sealed link destroyed, its lease
/// ended. Every way out of `queued` goes through this.
fn finish(state: &str) -> String {
    format!(
        "UPDATE mail_outbox SET state = '{state}', sealed_link = NULL, key_version = NULL, \
         new_token_hash = NULL, lease_id = NULL, lease_until = NULL"
    )
}

/// Move drop `drop_id`'s current link to `replaced_links` and make `new_hash` its link, if
/// it is open and unexpired at `now`. `true` when it did.
async fn replace_link(
    conn: &mut AnyConnection,
    drop_id: &str,
    new_hash: &str,
    now: i64,
) -> Result<bool> {
    let moved = sqlx::query(
        "INSERT INTO replaced_links (token_hash, drop_id, replaced_at) \
         SELECT token_hash, id, $2 FROM drops WHERE id = $1 AND state = 'open' AND expires_at > $2",
    )
    .bind(drop_id)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if moved != 1 {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE drops SET token_hash = $2, link_sent_at = NULL, updated_at = $3 \
         WHERE id = $1 AND state = 'open'",
    )
    .bind(drop_id)
    .bind(new_hash)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

/// Finished messages (and replaced links) are kept this long, for staff.
const KEEP_MS: i64 = 30 * 86_400_000;
/// A replaced link answers 410 this long after it was replaced (a drop lives at most 30 days).
const KEEP_REPLACED_MS: i64 = 31 * 86_400_000;

impl Store {
    /// A connection of the write pool for one statement; fails at once while the database
    /// is down.
    async fn write_conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>> {
        self.check_up()?;
        Ok(self.write.acquire().await?)
    }

    /// Staff send drop `mail.drop_id`'s link again: `new_hash` becomes its link at once (the
    /// old one answers 410), a message still queued for it is cancelled (its sealed link
    /// destroyed), `mail` is queued, `send_to` and `emailed_at` follow — one audited
    /// transaction. Only an open, unexpired drop.
    pub async fn rotate_link(
        &self,
        new_hash: &str,
        mail: &NewMail,
        audit: &AuditEntry,
    ) -> Result<Rotated> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        if !replace_link(tx.conn(), &mail.drop_id, new_hash, now).await? {
            tx.rollback().await?;
            return Ok(Rotated::NotOpen);
        }
        sqlx::query("UPDATE drops SET send_to = $2, emailed_at = $3 WHERE id = $1")
            .bind(&mail.drop_id)
            .bind(&mail.recipient)
            .bind(now)
            .execute(tx.conn())
            .await?;
        sqlx::query(&format!(
            "{} WHERE drop_id = $1 AND state = 'queued'",
            finish("cancelled")
        ))
        .bind(&mail.drop_id)
        .execute(tx.conn())
        .await?;
        insert_mail(tx.conn(), mail, now).await?;
        tx.record(audit).await?;
        tx.commit().await?;
        Ok(Rotated::Done)
    }

    /// Queue drop `mail.drop_id`'s one reminder (its new link replaces the old one only
    /// once the reminder is sent): `reminded_at` set, audited, one transaction. Only an open,
    /// unexpired drop not reminded yet.
    pub async fn queue_reminder(&self, mail: &NewMail, audit: &AuditEntry) -> Result<Rotated> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let marked = sqlx::query(
            "UPDATE drops SET reminded_at = $2 WHERE id = $1 AND state = 'open' \
             AND expires_at > $2 AND reminded_at IS NULL",
        )
        .bind(&mail.drop_id)
        .bind(now)
        .execute(tx.conn())
        .await?
        .rows_affected();
        if marked != 1 {
            tx.rollback().await?;
            return Ok(Rotated::NotOpen);
        }
        insert_mail(tx.conn(), mail, now).await?;
        tx.record(audit).await?;
        tx.commit().await?;
        Ok(Rotated::Done)
    }

    /// Open drops whose reminder falls due by now: their link e-mailed before the moment
    /// `before_ms` ahead of their expiry, that moment passed, not reminded yet, and a whole
    /// lifetime longer than `before_ms`.
    pub async fn reminders_due(&self, before_ms: i64, limit: i64) -> Result<Vec<DropRecord>> {
        let now = self.now_ms();
        let sql = format!(
            "SELECT {} FROM drops WHERE state = 'open' AND expires_at > $1 \
             AND expires_at <= $1 + $2 AND reminded_at IS NULL AND emailed_at IS NOT NULL \
             AND emailed_at < expires_at - $2 AND expires_at - created_at > $2 \
             ORDER BY expires_at LIMIT $3",
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
        .fetch_all(self.reader()?)
        .await?)
    }

    /// Lease message `id` as `lease` for `lease_ms` and count the attempt, if it is still
    /// queued, due and not leased by another sender (one conditional update decides); then
    /// read it with its drop.
    pub async fn claim_mail(
        &self,
        id: &str,
        lease: &str,
        lease_ms: i64,
    ) -> Result<Option<ClaimedMail>> {
        let now = self.now_ms();
        let claimed = sqlx::query(
            "UPDATE mail_outbox SET lease_id = $4, lease_until = $2, attempts = attempts + 1 \
             WHERE id = $1 AND state = 'queued' AND next_attempt_at <= $3 \
             AND (lease_until IS NULL OR lease_until <= $3)",
        )
        .bind(id)
        .bind(now.saturating_add(lease_ms))
        .bind(now)
        .bind(lease)
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
            lease: lease.to_owned(),
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

    /// The mail server took message `m`: its sealed link destroyed, marked sent, a
    /// reminder's new link made the drop's (the old one answers 410 from now on), the drop's
    /// `link_sent_at` set, `audit` recorded — one transaction. `false` when this sender no
    /// longer held it (nothing recorded).
    pub async fn mail_sent(&self, m: &ClaimedMail, audit: &AuditEntry) -> Result<bool> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let new_hash: Option<Option<String>> = sqlx::query_scalar(
            "SELECT new_token_hash FROM mail_outbox WHERE id = $1 AND state = 'queued' \
             AND lease_id = $2",
        )
        .bind(&m.id)
        .bind(&m.lease)
        .fetch_optional(tx.conn())
        .await?;
        let Some(new_hash) = new_hash else {
            tx.rollback().await?;
            return Ok(false);
        };
        sqlx::query(&format!(
            "{}, sent_at = $2, last_error = NULL WHERE id = $1",
            finish("sent")
        ))
        .bind(&m.id)
        .bind(now)
        .execute(tx.conn())
        .await?;
        if let Some(hash) = new_hash {
            replace_link(tx.conn(), &m.drop.id, &hash, now).await?;
        }
        sqlx::query("UPDATE drops SET link_sent_at = $2 WHERE id = $1")
            .bind(&m.drop.id)
            .bind(now)
            .execute(tx.conn())
            .await?;
        tx.record(audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Sending message `m` failed for now: try again at `next_at`; `error` says why (a
    /// status or category, never the server's text).
    pub async fn mail_retry(&self, m: &ClaimedMail, next_at: i64, error: &str) -> Result<()> {
        sqlx::query(
            "UPDATE mail_outbox SET next_attempt_at = $3, lease_id = NULL, lease_until = NULL, \
             last_error = $4 WHERE id = $1 AND state = 'queued' AND lease_id = $2",
        )
        .bind(&m.id)
        .bind(&m.lease)
        .bind(next_at)
        .bind(error)
        .execute(&mut *self.write_conn().await?)
        .await?;
        Ok(())
    }

    /// Message `id` will not be sent (refused for good, 24 h of failures, or a link that
    /// does not open): its sealed link destroyed, `audit` recorded, one transaction. `lease`:
    /// the sender holding it; `None` for one nobody holds (the sweep). `false` when it was
    /// not so (nothing recorded).
    pub async fn mail_failed(
        &self,
        id: &str,
        lease: Option<&str>,
        error: &str,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin_audited().await?;
        let now = tx.now_ms();
        let changed = sqlx::query(&format!(
            "{}, last_error = $2 WHERE id = $1 AND state = 'queued' \
             AND (lease_id = $3 OR (CAST($3 AS TEXT) IS NULL \
             AND (lease_until IS NULL OR lease_until <= $4)))",
            finish("failed")
        ))
        .bind(id)
        .bind(error)
        .bind(lease)
        .bind(now)
        .execute(tx.conn())
        .await?
        .rows_affected()
            == 1;
        tx.commit_if(changed, audit).await
    }

    /// Withdraw message `m` (its drop no longer takes input): the sealed link is destroyed,
    /// nothing is sent.
    pub async fn cancel_mail(&self, m: &ClaimedMail) -> Result<()> {
        sqlx::query(&format!(
            "{} WHERE id = $1 AND state = 'queued' AND lease_id = $2",
            finish("cancelled")
        ))
        .bind(&m.id)
        .bind(&m.lease)
        .execute(&mut *self.write_conn().await?)
        .await?;
        Ok(())
    }

    /// The outbox sweep, whether or not this process sends e-mail: queued messages of drops
    /// that no longer take input are withdrawn (their sealed links destroyed), finished
    /// messages older than 30 days and replaced links older than 31 days are deleted. Returns
    /// the ids of queued messages past their give-up time that nobody holds, for the caller
    /// to give up one by one (each audited).
    pub async fn sweep_mail(&self, limit: i64) -> Result<Vec<(String, String, i64)>> {
        let now = self.now_ms();
        let mut conn = self.write_conn().await?;
        // From the queued messages (their partial index) to each one's drop: never a walk of
        // every closed drop (an `IN (SELECT … FROM drops …)` read all 100 000 every pass).
        sqlx::query(&format!(
            "{} WHERE state = 'queued' AND EXISTS (SELECT 1 FROM drops d \
             WHERE d.id = mail_outbox.drop_id AND (d.state <> 'open' OR d.expires_at <= $1))",
            finish("cancelled")
        ))
        .bind(now)
        .execute(&mut *conn)
        .await?;
        sqlx::query("DELETE FROM mail_outbox WHERE state <> 'queued' AND created_at < $1")
            .bind(now.saturating_sub(KEEP_MS))
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM replaced_links WHERE replaced_at < $1")
            .bind(now.saturating_sub(KEEP_REPLACED_MS))
            .execute(&mut *conn)
            .await?;
        let rows = sqlx::query(
            "SELECT id, drop_id, attempts FROM mail_outbox WHERE state = 'queued' \
             AND give_up_at <= $1 AND (lease_until IS NULL OR lease_until <= $1) LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    r.try_get("drop_id")?,
                    r.try_get("attempts")?,
                ))
            })
            .collect()
    }

    /// Queued messages whose link is sealed under a version other than `active`, after
    /// `after` (by id), for `keys rewrap`.
    pub async fn mail_to_reseal(
        &self,
        active: i64,
        after: &str,
        limit: i64,
    ) -> Result<Vec<SealedMail>> {
        let rows = sqlx::query(
            "SELECT id, drop_id, recipient, key_version, sealed_link FROM mail_outbox \
             WHERE key_version IS NOT NULL AND key_version <> $1 AND id > $2 \
             ORDER BY id LIMIT $3",
        )
        .bind(active)
        .bind(after)
        .bind(limit)
        .fetch_all(self.reader()?)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SealedMail {
                    id: r.try_get("id")?,
                    drop_id: r.try_get("drop_id")?,
                    recipient: r.try_get("recipient")?,
                    key_version: r.try_get("key_version")?,
                    sealed_link: r.try_get("sealed_link")?,
                })
            })
            .collect()
    }

    /// Store a queued message's link sealed anew (`keys rewrap`), if it is still sealed as
    /// `was` (a message sent or withdrawn meanwhile stays as it is).
    pub async fn reseal_mail(
        &self,
        id: &str,
        was: i64,
        version: i64,
        sealed: &[u8],
    ) -> Result<bool> {
        Ok(sqlx::query(
            "UPDATE mail_outbox SET key_version = $3, sealed_link = $4 \
             WHERE id = $1 AND key_version = $2 AND state = 'queued'",
        )
        .bind(id)
        .bind(was)
        .bind(version)
        .bind(sealed)
        .execute(&mut *self.write_conn().await?)
        .await?
        .rows_affected()
            == 1)
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
