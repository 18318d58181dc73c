//! The vending transitions of a `vend` credential (SPEC §3, §1.5, §8.9): who may renew its
//! access token right now (the token lease), storing a renewed token (and, for a partner
//! grant, its rotated refresh token), a failed renewal, and a grant Greenhouse killed. Each
//! is ONE conditional statement; the last three run in an audited transaction with their
//! typed event, like every transition in [`super::lifecycle`].
//!
//! The token lease is a lock, not a state change: taking it writes no audit event. It makes
//! renewals of one credential strictly one at a time across every process — for a partner
//! grant that is what keeps a refresh token from ever being presented twice. A lease runs
//! out after its holder's whole Greenhouse budget plus time to store the answer, so a process
//! killed in the middle of a renewal delays the next one but never blocks it.
//!
//! Storing a renewal, and declaring a grant dead, are compare-and-set on the secret the
//! renewal started from (its ciphertext: every rotation reseals it with a fresh nonce), not
//! on the lease: a renewal whose lease ran out while the database was away still stores the
//! pair Greenhouse gave it — the only valid one — as long as nobody changed the secret
//! meanwhile, and a renewal that presented an already-rotated refresh token never
//! disconnects a grant that moved on.

use super::destroy::destroy_in;
use crate::crypto::cipher::Envelope;
use crate::domain::audit::AuditEntry;
use crate::domain::event::DestroyReason;
use crate::store::{Result, Store};
use sqlx::Row;

/// What renewing needs of the row whose token lease was just taken.
#[derive(Debug)]
pub struct Renewing {
    pub drop_id: String,
    pub kind: String,
    pub envelope: Envelope,
    pub refresh_failures: i64,
}

/// What [`Store::take_token_lease`] found.
#[derive(Debug)]
pub enum TokenLease {
    /// The lease is ours until it runs out.
    Taken(Renewing),
    /// No renewal needed: someone renewed meanwhile (the stored token is fresh enough, or
    /// the keep-alive is no longer due).
    Fresh,
    /// Another renewal holds the lease.
    Busy,
    /// A recent renewal failed; the next may start at this time (Unix ms).
    BackingOff(i64),
    /// Not a live `vend` credential any more (destroyed, disconnected, not verified…).
    Gone,
}

/// Fresh enough: a stored token that expires after the parameter `p`.
fn fresh(p: &str) -> String {
    format!("access_sealed IS NOT NULL AND access_expires_at > {p}")
}
/// A keep-alive refresh is due (`$5`: now).
const DUE: &str = "refresh_due_at IS NOT NULL AND refresh_due_at <= $5";

/// When a renewal is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Unless the stored access token is still valid after `after` (Unix ms): a worker
    /// needs a token, or a check needs the grant's.
    Fresh { after: i64 },
    /// Only while the grant's keep-alive refresh is due: a refresh moves the due time on,
    /// so a grant listed as due by two processes is refreshed once.
    Due,
}

/// Renewable: a live `vend` credential (a pending partner grant too: it must be kept alive
/// while its check waits).
const LIVE: &str =
    "release = 'vend' AND status IN ('verified', 'pending') AND delivery <> 'destroyed' \
     AND key_version IS NOT NULL";

impl Store {
    /// Take the token lease of credential `id` for `hold_ms`, unless no renewal is needed
    /// (see [`Need`]), another process holds the lease, or a failed renewal asked to wait.
    pub async fn take_token_lease(
        &self,
        id: &str,
        lease_id: &str,
        need: Need,
        hold_ms: i64,
    ) -> Result<TokenLease> {
        let now = self.now_ms();
        let (due_only, fresh_after) = match need {
            Need::Fresh { after } => (0_i64, after),
            Need::Due => (1, now),
        };
        let mut conn = self.write.acquire().await?;
        let sql = format!(
            "UPDATE credentials SET token_lease_id = $1, token_lease_until = $2 \
             WHERE id = $4 AND {LIVE} AND (token_lease_until IS NULL OR token_lease_until <= $5) \
             AND (($6 = 1 AND {DUE}) OR ($6 = 0 AND NOT ({}))) \
             RETURNING drop_id, kind, key_version, wrapped_key, ciphertext, refresh_failures",
            fresh("$3")
        );
        let row = sqlx::query(&sql)
            .bind(lease_id)
            .bind(now.saturating_add(hold_ms))
            .bind(fresh_after)
            .bind(id)
            .bind(now)
            .bind(due_only)
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(row) = row {
            return Ok(TokenLease::Taken(Renewing {
                drop_id: row.try_get("drop_id")?,
                kind: row.try_get("kind")?,
                envelope: Envelope {
                    key_version: row.try_get("key_version")?,
                    wrapped_key: row.try_get("wrapped_key")?,
                    ciphertext: row.try_get("ciphertext")?,
                },
                refresh_failures: row.try_get("refresh_failures")?,
            }));
        }
        let sql = format!(
            "SELECT CASE WHEN {LIVE} THEN 1 ELSE 0 END AS live, \
             CASE WHEN {} THEN 1 ELSE 0 END AS fresh, \
             CASE WHEN {} THEN 1 ELSE 0 END AS due, \
             token_lease_id, token_lease_until FROM credentials WHERE id = $1",
            fresh("$2"),
            DUE.replace("$5", "$3")
        );
        let row = sqlx::query(&sql)
            .bind(id)
            .bind(fresh_after)
            .bind(now)
            .fetch_optional(&mut *conn)
            .await?;
        let Some(row) = row else {
            return Ok(TokenLease::Gone);
        };
        let live: i64 = row.try_get("live")?;
        // Nothing to renew: the stored token is fresh enough, or (a keep-alive) someone
        // refreshed the grant since it was listed as due.
        let needless = match need {
            Need::Fresh { .. } => row.try_get::<i64, _>("fresh")? == 1,
            Need::Due => row.try_get::<i64, _>("due")? == 0,
        };
        let holder: Option<String> = row.try_get("token_lease_id")?;
        let until: Option<i64> = row.try_get("token_lease_until")?;
        Ok(match (live, until) {
            (0, _) => TokenLease::Gone,
            _ if needless => TokenLease::Fresh,
            (_, Some(until)) if until > now && holder.is_none() => TokenLease::BackingOff(until),
            _ => TokenLease::Busy,
        })
    }

    /// Store a renewal with its audit event, if the stored secret is still `started` (the
    /// ciphertext the renewal read), and release `lease_id` if it still holds the lease.
    /// `access`: the new access token (sealed) and its expiry — `None` when Greenhouse's
    /// answer carried none that could be used, then the renewal counts as failed and the
    /// next one waits until `retry_at`. `ciphertext`: the secret with a rotated refresh
    /// token. `false` when the secret changed or was destroyed meanwhile: nothing is stored.
    #[allow(clippy::too_many_arguments)]
    pub async fn store_renewed(
        &self,
        id: &str,
        lease_id: &str,
        started: &[u8],
        access: Option<(&[u8], i64)>,
        ciphertext: Option<&[u8]>,
        refresh_due_at: Option<i64>,
        retry_at: i64,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin_audited().await?;
        let renewed = i64::from(access.is_some());
        let n = sqlx::query(
            "UPDATE credentials SET access_sealed = COALESCE($1, access_sealed), \
             access_expires_at = COALESCE($2, access_expires_at), \
             ciphertext = COALESCE($3, ciphertext), refresh_due_at = COALESCE($4, refresh_due_at), \
             refresh_failures = CASE WHEN $5 = 1 THEN 0 ELSE refresh_failures + 1 END, \
             token_lease_until = CASE WHEN token_lease_id = $6 OR token_lease_id IS NULL \
               THEN (CASE WHEN $5 = 1 THEN NULL ELSE $7 END) ELSE token_lease_until END, \
             token_lease_id = CASE WHEN token_lease_id = $6 THEN NULL ELSE token_lease_id END \
             WHERE id = $8 AND ciphertext = $9 AND delivery <> 'destroyed'",
        )
        .bind(access.map(|a| a.0.to_vec()))
        .bind(access.map(|a| a.1))
        .bind(ciphertext.map(<[u8]>::to_vec))
        .bind(refresh_due_at)
        .bind(renewed)
        .bind(lease_id)
        .bind(retry_at)
        .bind(id)
        .bind(started.to_vec())
        .execute(tx.conn())
        .await?
        .rows_affected();
        tx.commit_if(n == 1, audit).await
    }

    /// Give the token lease back unused (a renewal that did not send anything).
    pub async fn release_token_lease(&self, id: &str, lease_id: &str) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE credentials SET token_lease_id = NULL, token_lease_until = NULL \
             WHERE id = $1 AND token_lease_id = $2",
        )
        .bind(id)
        .bind(lease_id)
        .execute(&self.write)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// A renewal failed for a reason that may pass: count it, let the lease go, and make the
    /// next renewal wait until `retry_at` (and, for a partner grant, schedule it then).
    pub async fn renew_failed(
        &self,
        id: &str,
        lease_id: &str,
        retry_at: i64,
        partner: bool,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin_audited().await?;
        let n = sqlx::query(
            "UPDATE credentials SET refresh_failures = refresh_failures + 1, \
             token_lease_id = NULL, token_lease_until = $1, \
             refresh_due_at = CASE WHEN $2 = 1 THEN $1 ELSE refresh_due_at END \
             WHERE id = $3 AND token_lease_id = $4",
        )
        .bind(retry_at)
        .bind(i64::from(partner))
        .bind(id)
        .bind(lease_id)
        .execute(tx.conn())
        .await?
        .rows_affected();
        tx.commit_if(n == 1, audit).await
    }

    /// Greenhouse killed the partner grant: status `disconnected`, and its ciphertext
    /// destroyed by the one destroy statement (the refresh token is worthless), both audited,
    /// in one transaction — only if the stored secret is still `presented`, the one whose
    /// refresh token Greenhouse refused (a grant another renewal moved on meanwhile is
    /// alive), and `lease_id` holds the lease.
    pub async fn disconnect(
        &self,
        id: &str,
        lease_id: &str,
        presented: &[u8],
        audit: &AuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin_audited().await?;
        let n = sqlx::query(
            "UPDATE credentials SET status = 'disconnected' \
             WHERE id = $1 AND token_lease_id = $2 AND ciphertext = $3 AND delivery <> 'destroyed'",
        )
        .bind(id)
        .bind(lease_id)
        .bind(presented.to_vec())
        .execute(tx.conn())
        .await?
        .rows_affected();
        if n != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.record(audit).await?;
        let system = crate::domain::event::Origin::system();
        destroy_in(&mut tx, id, DestroyReason::Disconnected, None, &system).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Partner grants whose keep-alive refresh is due, soonest first.
    pub async fn refresh_due(&self, limit: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM credentials WHERE refresh_due_at IS NOT NULL AND refresh_due_at <= $1 \
             ORDER BY refresh_due_at, id LIMIT $2",
        )
        .bind(self.now_ms())
        .bind(limit)
        .fetch_all(self.reader()?)
        .await?)
    }
}
