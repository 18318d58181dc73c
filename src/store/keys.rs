//! Key-check values and re-wrapping of data keys.

use super::{Result, Store};
use crate::crypto::cipher::{self, Binding, Envelope};
use crate::crypto::keyring::Keyring;
use crate::domain::event::{Event, Origin};
use sqlx::Row;

/// Why the keyring does not fit the database. Each names the version only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyMismatch {
    #[error("master key version {0} does not match the key-check value stored in the database: wrong KEYDROP_MASTER_KEY or keyring file")]
    WrongKey(i64),
    #[error("the database holds {uses} sealed under master key version {version}, which is not in the keyring")]
    MissingVersion { version: i64, uses: KeyUses },
}

/// What one [`Store::rewrap_batch`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RewrapBatch {
    /// Data keys now wrapped by the active version.
    pub moved: usize,
    /// Credentials whose data key could not be unwrapped; left as they were.
    pub failed: Vec<String>,
    /// The last credential id looked at; `None` when there was nothing left.
    pub last: Option<String>,
}

/// What stored data is sealed under one master key version. Everything
/// that needs the version to be opened counts: credentials' data keys (and
/// with them their access tokens), the service's own secrets, and webhook
/// signing secrets — current ones, and previous ones while their overlap
/// after a rotation lasts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyUses {
    pub credentials: i64,
    pub service_secrets: i64,
    pub webhook_secrets: i64,
    /// Links of e-mails still queued (SPEC §8.14), sealed until sent.
    pub mail_links: i64,
}

impl KeyUses {
    pub fn total(&self) -> i64 {
        self.credentials + self.service_secrets + self.webhook_secrets + self.mail_links
    }
}

impl std::fmt::Display for KeyUses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} credential(s), {} service secret(s), {} webhook signing secret(s), {} queued \
             e-mail link(s)",
            self.credentials, self.service_secrets, self.webhook_secrets, self.mail_links
        )
    }
}

/// What `keys status` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyVersionStatus {
    pub version: i64,
    pub in_keyring: bool,
    /// `Some(true)` matches, `Some(false)` mismatches, `None` not yet recorded.
    pub check_matches: Option<bool>,
    pub uses: KeyUses,
}

/// Per version, how many sealed things of each sort: one query over every
/// table that holds something sealed directly under a master key.
const USES: &str = "\
    SELECT 'c' AS what, key_version AS v, COUNT(*) AS n FROM credentials \
      WHERE key_version IS NOT NULL GROUP BY key_version \
    UNION ALL SELECT 's', key_version, COUNT(*) FROM service_secrets GROUP BY key_version \
    UNION ALL SELECT 'w', secret_version, COUNT(*) FROM webhook_endpoints GROUP BY secret_version \
    UNION ALL SELECT 'w', previous_version, COUNT(*) FROM webhook_endpoints \
      WHERE previous_version IS NOT NULL AND previous_until > $1 GROUP BY previous_version \
    UNION ALL SELECT 'm', key_version, COUNT(*) FROM mail_outbox \
      WHERE key_version IS NOT NULL GROUP BY key_version";

impl Store {
    /// Audit a start whose key custodies unwrapped `versions` (SPEC §14).
    pub async fn record_keys_unsealed(
        &self,
        custody: Vec<String>,
        versions: Vec<i64>,
    ) -> Result<()> {
        let mut tx = self.begin_audited().await?;
        tx.record(&Origin::system().entry(Event::KeysUnsealed { custody, versions }))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// What is sealed under each master key version, by sort.
    pub async fn key_uses(&self) -> Result<std::collections::BTreeMap<i64, KeyUses>> {
        let rows = sqlx::query(USES)
            .bind(self.now_ms())
            .fetch_all(self.reader()?)
            .await?;
        let mut uses = std::collections::BTreeMap::<i64, KeyUses>::new();
        for r in &rows {
            let what: String = r.try_get("what")?;
            let version: i64 = r.try_get("v")?;
            let n: i64 = r.try_get("n")?;
            let u = uses.entry(version).or_default();
            match what.as_str() {
                "c" => u.credentials += n,
                "s" => u.service_secrets += n,
                "m" => u.mail_links += n,
                _ => u.webhook_secrets += n,
            }
        }
        Ok(uses)
    }

    /// Per version: in the keyring? check value matches? what is sealed
    /// under it? Only looks at the keyring: a version it lacks is not
    /// "missing" to `/readyz` unless stored data under it is really opened.
    pub async fn key_status(&self, keyring: &Keyring) -> Result<Vec<KeyVersionStatus>> {
        let checks: Vec<(i64, String)> = sqlx::query("SELECT version, check_value FROM key_checks")
            .fetch_all(self.reader()?)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("version")?, r.try_get("check_value")?)))
            .collect::<Result<_>>()?;
        let uses = self.key_uses().await?;
        let mut versions: Vec<i64> = keyring.versions();
        versions.extend(checks.iter().map(|c| c.0));
        versions.extend(uses.keys().copied());
        versions.sort_unstable();
        versions.dedup();
        Ok(versions
            .into_iter()
            .map(|v| {
                let key = keyring.peek(v);
                let stored = checks.iter().find(|c| c.0 == v).map(|c| c.1.as_str());
                KeyVersionStatus {
                    version: v,
                    in_keyring: key.is_some(),
                    check_matches: match (key, stored) {
                        (Some(k), Some(s)) => Some(k.check_value() == s),
                        _ => None,
                    },
                    uses: uses.get(&v).copied().unwrap_or_default(),
                }
            })
            .collect())
    }

    /// Refuse a keyring that does not fit the data, then record check values
    /// for versions the database has not seen. Run before serving.
    pub async fn ensure_key_checks(&self, keyring: &Keyring) -> Result<Result<(), KeyMismatch>> {
        let status = self.key_status(keyring).await?;
        for s in &status {
            if s.check_matches == Some(false) {
                return Ok(Err(KeyMismatch::WrongKey(s.version)));
            }
            if !s.in_keyring && s.uses.total() > 0 {
                return Ok(Err(KeyMismatch::MissingVersion {
                    version: s.version,
                    uses: s.uses,
                }));
            }
        }
        let new: Vec<i64> = status
            .iter()
            .filter(|s| s.in_keyring && s.check_matches.is_none())
            .map(|s| s.version)
            .collect();
        if new.is_empty() {
            return Ok(Ok(()));
        }
        let mut tx = self.begin_audited().await?;
        for v in &new {
            let check = keyring
                .peek(*v)
                .map(|k| k.check_value())
                .unwrap_or_default();
            let now = tx.now_ms();
            // Another process may have recorded it meanwhile; the stored one wins.
            sqlx::query(
                "INSERT INTO key_checks (version, check_value, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (version) DO NOTHING",
            )
            .bind(*v)
            .bind(check)
            .bind(now)
            .execute(tx.conn())
            .await?;
            tx.record(&Origin::system().entry(Event::KeyCheckRecorded { version: *v }))
                .await?;
        }
        tx.commit().await?;
        // Re-read: if another process recorded a different value, this fails.
        Box::pin(self.ensure_key_checks_recorded(keyring)).await
    }

    async fn ensure_key_checks_recorded(
        &self,
        keyring: &Keyring,
    ) -> Result<Result<(), KeyMismatch>> {
        for s in self.key_status(keyring).await? {
            if s.check_matches == Some(false) {
                return Ok(Err(KeyMismatch::WrongKey(s.version)));
            }
        }
        Ok(Ok(()))
    }

    /// How many credentials still have data keys wrapped by an older version.
    pub async fn count_needing_rewrap(&self, active: i64) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM credentials WHERE key_version IS NOT NULL AND key_version <> $1",
        )
        .bind(active)
        .fetch_one(self.reader()?)
        .await?)
    }

    /// Re-wrap up to `limit` data keys whose credential id sorts after
    /// `after`, under the active master key, in one audited transaction.
    /// A data key that cannot be unwrapped (a tampered or damaged row) is
    /// skipped and named in [`RewrapBatch::failed`] instead of stopping the
    /// run: the caller goes on from [`RewrapBatch::last`], so such a row is
    /// met once per run and never blocks the others. Safe to interrupt and
    /// to run again: each row moves at most once.
    pub async fn rewrap_batch(
        &self,
        keyring: &Keyring,
        after: Option<&str>,
        limit: i64,
    ) -> Result<RewrapBatch> {
        let active = keyring.active_version();
        let mut tx = self.begin_audited().await?;
        let sql = format!(
            "SELECT id, drop_id, kind, key_version, wrapped_key, ciphertext FROM credentials \
             WHERE key_version IS NOT NULL AND key_version <> $1 AND id > $2 ORDER BY id LIMIT $3{}",
            self.backend.for_update()
        );
        let rows = sqlx::query(&sql)
            .bind(active)
            .bind(after.unwrap_or(""))
            .bind(limit)
            .fetch_all(tx.conn())
            .await?;
        let mut batch = RewrapBatch::default();
        for row in &rows {
            let id: String = row.try_get("id")?;
            let drop_id: String = row.try_get("drop_id")?;
            let kind: String = row.try_get("kind")?;
            let old = Envelope {
                key_version: row.try_get("key_version")?,
                wrapped_key: row.try_get("wrapped_key")?,
                ciphertext: row.try_get("ciphertext")?,
            };
            let binding = Binding {
                credential_id: &id,
                drop_id: &drop_id,
                kind: &kind,
            };
            batch.last = Some(id.clone());
            let new = match cipher::rewrap(keyring, binding, &old) {
                Ok(new) => new,
                Err(e) => {
                    tracing::error!(credential = %id, error = %e, "data key cannot be re-wrapped; skipped");
                    batch.failed.push(id);
                    continue;
                }
            };
            sqlx::query(
                "UPDATE credentials SET key_version = $1, wrapped_key = $2 WHERE id = $3 AND key_version = $4",
            )
            .bind(new.key_version)
            .bind(new.wrapped_key)
            .bind(&id)
            .bind(old.key_version)
            .execute(tx.conn())
            .await?;
            batch.moved += 1;
        }
        if batch.moved > 0 || !batch.failed.is_empty() {
            tx.record(&Origin::cli().entry(Event::KeysRewrapped {
                version: active,
                credentials: u64::try_from(batch.moved).unwrap_or(0),
                failed: batch.failed.clone(),
            }))
            .await?;
        }
        tx.commit().await?;
        Ok(batch)
    }
}
