//! Token vending (SPEC §3 `vend`, §1.5 keep-alive, §8.9): workers of a `vend` credential get
//! short-lived Greenhouse access tokens; the secret behind them (client credentials, or a
//! partner grant's refresh token) never leaves keydrop.
//!
//! One path serves every token: [`Vendor::access_token`] asks the release batcher for the
//! stored token (group-committed with its audit event, like a secret release); only when
//! none is stored that stays valid for [`FRESH_MS`] does it renew one, then asks again.
//!
//! Renewing is one at a time per credential, twice over: within a process a per-credential
//! gate lets one caller renew while the others wait for its result; across processes the
//! token lease (`store::vending`) does the same, so a refresh token is never presented
//! twice. A renewed token is committed (sealed, audited) before anyone is given it. The
//! partner keep-alive ([`Vendor::keep_alive`]) runs through the same renewal.
//!
//! A rotated pair is never dropped while it is the only valid one (SPEC §8.9):
//!
//! - the lease covers the worst case — the whole Greenhouse budget plus
//!   [`COMMIT_ALLOWANCE_MS`] to store the answer — and before sending, the renewal checks
//!   that what is left of it still covers both;
//! - the refresh is sent once, with the whole budget as its deadline (an answer that comes
//!   late is still the answer), never repeated after Greenhouse may have acted on it;
//! - once Greenhouse answered 200, whatever refresh token it sent is stored, even when the
//!   access token beside it is missing or malformed (that costs a retry, not the grant);
//! - the commit is a compare-and-set on the secret the renewal started from, not on the
//!   lease; if the database does not answer, the pair is kept in memory and the commit
//!   retried with backoff ([`Vendor`] keeps this process's gate for the credential closed
//!   meanwhile) until it does;
//! - a renewal that gets `invalid_grant` disconnects the grant only if the stored secret is
//!   still the one it presented.
//!
//! The window that remains: Greenhouse rotates the refresh token when it answers. If keydrop
//! dies (kill -9, power loss) after Greenhouse answered and before the new pair is
//! committed, or the answer is lost on the network, the stored refresh token is the old,
//! spent one. That is made visible: the next refresh gets `invalid_grant`, and the
//! credential becomes `disconnected` (audited, webhook `credential.disconnected`), never
//! silently broken.
//!
//! *Over 400 lines:* the token lease, the renewal and its failure handling are one protocol (SPEC §8.9: one renewal per grant at a time, a rotated refresh token stored before use); split, the order of its steps would be harder to check.

use super::release::{Releases, ACCESS_PURPOSE};
use super::ServiceError;
use crate::crypto::cipher::{self, Binding};
use crate::crypto::keyring::Keyring;
use crate::domain::credential::CredentialMeta;
use crate::domain::event::{Event, Origin};
use crate::domain::release::Release;
use crate::greenhouse::oauth::TokenError;
use crate::greenhouse::{Budget, Checker};
use crate::store::{Need, SecretRead, Store, TokenLease, Want};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use zeroize::Zeroizing;

/// A token handed out stays valid at least this long (SPEC §4: ≥ 5 minutes).
pub const FRESH_MS: i64 = 5 * 60_000;
/// How long a caller waits for another process's renewal before answering 503.
const WAIT_FOR_OTHERS: Duration = Duration::from_secs(20);
/// Time the token lease keeps beyond the Greenhouse budget for storing the answer.
pub const COMMIT_ALLOWANCE_MS: i64 = 10_000;
/// The least time worth sending a renewal with (beyond the commit allowance).
const MIN_REQUEST_MS: i64 = 500;
/// Retrying the commit of a rotated pair: first wait, and the longest.
const COMMIT_RETRY_FIRST: Duration = Duration::from_millis(200);
const COMMIT_RETRY_MAX: Duration = Duration::from_secs(5);

/// An access token as handed out.
pub struct AccessToken {
    pub token: Zeroizing<String>,
    /// Unix ms.
    pub expires_at: i64,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Why no token was handed out.
#[derive(Debug, thiserror::Error)]
pub enum VendError {
    #[error("no such credential")]
    NotFound,
    #[error("this credential was destroyed")]
    Destroyed,
    #[error("this credential is not verified")]
    NotVerified,
    #[error("this credential's release mode is {0}")]
    WrongMode(Release),
    #[error("Greenhouse disconnected this grant; send the customer a new link")]
    Disconnected,
    /// Greenhouse could not give a token now; try again after this many seconds.
    #[error("Greenhouse cannot issue an access token right now")]
    Unavailable(u64),
    #[error("{0}")]
    Service(#[from] ServiceError),
}

impl From<crate::store::StoreError> for VendError {
    fn from(e: crate::store::StoreError) -> Self {
        VendError::Service(e.into())
    }
}

/// Why a renewal ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// A worker needed a token and the stored one was too old.
    OnDemand,
    /// The partner keep-alive schedule.
    KeepAlive,
}

impl Why {
    fn as_str(self) -> &'static str {
        match self {
            Why::OnDemand => "on_demand",
            Why::KeepAlive => "keep_alive",
        }
    }
}

/// The vending service; cheap to clone (shared state inside).
#[derive(Clone)]
pub struct Vendor {
    store: Store,
    keyring: Arc<Keyring>,
    checker: Checker,
    releases: Releases,
    /// Keep-alive interval of partner grants.
    refresh_every: Duration,
    gates: Arc<Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>>,
    metrics: Option<Arc<crate::metrics::Metrics>>,
}

impl std::fmt::Debug for Vendor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vendor").finish_non_exhaustive()
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredAccess {
    access_token: String,
    expires_at: i64,
}

impl Drop for StoredAccess {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.access_token.zeroize();
    }
}

impl Vendor {
    pub fn new(
        store: Store,
        keyring: Arc<Keyring>,
        checker: Checker,
        releases: Releases,
        refresh_every: Duration,
    ) -> Self {
        Self {
            store,
            keyring,
            checker,
            releases,
            refresh_every,
            gates: Arc::default(),
            metrics: None,
        }
    }

    /// Count renewals (`keydrop_token_renewals_total`).
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    fn count(&self, how: &'static str, outcome: &'static str) {
        if let Some(m) = &self.metrics {
            m.token_renewal(how, outcome);
        }
    }

    /// An access token of `vend` credential `id`, valid for at least [`FRESH_MS`], its issue
    /// audited (never the token) before it is returned.
    pub async fn access_token(
        &self,
        id: &str,
        origin: &Origin,
    ) -> Result<(CredentialMeta, AccessToken), VendError> {
        for _ in 0..3 {
            let fresh_after = self.store.now_ms().saturating_add(FRESH_MS);
            let audit = origin.entry(Event::AccessTokenIssued {
                credential: id.to_owned(),
            });
            let read = self
                .releases
                .release(id.to_owned(), Want::Access { fresh_after }, audit)
                .await?;
            match read {
                SecretRead::Released(meta, plain) => {
                    let stored: StoredAccess = serde_json::from_slice(&plain).map_err(|_| {
                        ServiceError::Internal("a stored access token is malformed".into())
                    })?;
                    let token = AccessToken {
                        token: Zeroizing::new(stored.access_token.clone()),
                        expires_at: stored.expires_at,
                    };
                    return Ok((*meta, token));
                }
                SecretRead::Stale(meta) => self.renew(&meta.id, Why::OnDemand).await?,
                SecretRead::Destroyed => return Err(VendError::Destroyed),
                SecretRead::NotVerified => return Err(VendError::NotVerified),
                SecretRead::NotFound => return Err(VendError::NotFound),
                SecretRead::WrongMode(r) => return Err(VendError::WrongMode(r)),
                SecretRead::Disconnected => return Err(VendError::Disconnected),
            }
        }
        // Renewed three times and still not fresh: Greenhouse hands out tokens that live
        // less than five minutes.
        tracing::error!(
            credential = id,
            "renewed access tokens expire too soon to hand out"
        );
        Err(VendError::Unavailable(30))
    }

    /// The keep-alive refresh of partner grant `id` (SPEC §1.5 step 3), whatever the age of
    /// its access token — if it is still due (another process may have just done it).
    pub async fn keep_alive(&self, id: &str) -> Result<(), VendError> {
        self.renew(id, Why::KeepAlive).await
    }

    /// Make sure `vend` credential `id` holds an access token valid for [`FRESH_MS`]
    /// (renewing it if needed), e.g. before a partner grant's stored token is used to check it.
    pub async fn ensure_fresh(&self, id: &str) -> Result<(), VendError> {
        self.renew(id, Why::OnDemand).await
    }

    fn gate(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut gates = self.gates.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(g) = gates.get(id).and_then(Weak::upgrade) {
            return g;
        }
        gates.retain(|_, g| g.strong_count() > 0);
        let g = Arc::new(tokio::sync::Mutex::new(()));
        gates.insert(id.to_owned(), Arc::downgrade(&g));
        g
    }

    /// Renew the access token of `id` unless someone else just did.
    async fn renew(&self, id: &str, why: Why) -> Result<(), VendError> {
        let gate = self.gate(id);
        let one_here = gate.lock_owned().await;
        let budget_ms =
            i64::try_from(self.checker.config().total_budget.as_millis()).unwrap_or(i64::MAX / 4);
        let hold_ms = budget_ms.saturating_add(COMMIT_ALLOWANCE_MS);
        let keep_alive = why == Why::KeepAlive;
        let waited_since = tokio::time::Instant::now();
        let lease_id = crate::crypto::random::uuid()
            .map_err(|e| ServiceError::Internal(e.to_string()))?
            .to_string();
        let row = loop {
            let taken_at = self.store.now_ms();
            let need = if keep_alive {
                Need::Due
            } else {
                Need::Fresh {
                    after: taken_at.saturating_add(FRESH_MS),
                }
            };
            match self
                .store
                .take_token_lease(id, &lease_id, need, hold_ms)
                .await?
            {
                TokenLease::Taken(row) => break (row, taken_at.saturating_add(hold_ms)),
                TokenLease::Fresh | TokenLease::Gone => return Ok(()),
                TokenLease::BackingOff(until) => {
                    let secs = (until - self.store.now_ms()).max(1000) / 1000;
                    return Err(VendError::Unavailable(u64::try_from(secs).unwrap_or(1)));
                }
                TokenLease::Busy => {
                    if keep_alive || waited_since.elapsed() > WAIT_FOR_OTHERS {
                        // A keep-alive leaves it to whoever holds the lease.
                        return if keep_alive {
                            Ok(())
                        } else {
                            Err(VendError::Unavailable(2))
                        };
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        let (row, lease_until) = row;
        self.renew_leased(id, &lease_id, row, lease_until, why, one_here)
            .await
    }

    async fn renew_leased(
        &self,
        id: &str,
        lease_id: &str,
        row: crate::store::Renewing,
        lease_until: i64,
        why: Why,
        one_here: tokio::sync::OwnedMutexGuard<()>,
    ) -> Result<(), VendError> {
        let binding = Binding {
            credential_id: id,
            drop_id: &row.drop_id,
            kind: &row.kind,
        };
        let plain = match cipher::decrypt(&self.keyring, binding, &row.envelope) {
            Ok(p) => p,
            Err(e) => {
                let origin = Origin::system();
                return Err(super::delivery::decrypt_failed(&self.store, id, &origin, e)
                    .await
                    .into());
            }
        };
        let kinds = self.checker.kinds();
        let secret = kinds
            .secret_from_json(&plain)
            .map_err(|e| ServiceError::Internal(format!("credential {id}: {e}")))?;
        std::mem::drop(plain);
        let kind = kinds
            .by_name(&row.kind)
            .ok_or_else(|| ServiceError::Internal(format!("credential {id}: unknown kind")))?;
        // What is left of the lease must cover the request and storing its answer.
        let left_ms = lease_until
            .saturating_sub(self.store.now_ms())
            .saturating_sub(COMMIT_ALLOWANCE_MS);
        let total = self.checker.config().total_budget;
        let request = Duration::from_millis(u64::try_from(left_ms).unwrap_or(0)).min(total);
        if left_ms < MIN_REQUEST_MS {
            tracing::warn!(
                credential = id,
                "too little of the token lease left to renew safely; not sending"
            );
            let _ = self.store.release_token_lease(id, lease_id).await;
            return Err(VendError::Unavailable(1));
        }
        let budget = Budget::new(request);
        let system = Origin::system();
        match kind.renew(&self.checker, budget, &secret).await {
            Ok(renewed) => {
                let expires_at = renewed.tokens.as_ref().map(|t| t.expires_at);
                let (envelope, rotated) = match &renewed.secret {
                    Some(new_secret) => {
                        let json = Zeroizing::new(
                            serde_json::to_vec(new_secret)
                                .map_err(|e| ServiceError::Internal(e.to_string()))?,
                        );
                        let env = cipher::reseal(&self.keyring, binding, &row.envelope, &json)
                            .map_err(ServiceError::from)?;
                        (env, true)
                    }
                    None => (row.envelope.clone(), false),
                };
                let how = if rotated { "refresh" } else { "mint" };
                let sealed = match &renewed.tokens {
                    Some(tokens) => {
                        let access = Zeroizing::new(
                            serde_json::to_vec(&StoredAccess {
                                access_token: tokens.access_token.to_string(),
                                expires_at: tokens.expires_at,
                            })
                            .map_err(|e| ServiceError::Internal(e.to_string()))?,
                        );
                        Some(
                            cipher::seal_aux(
                                &self.keyring,
                                binding,
                                &envelope,
                                ACCESS_PURPOSE,
                                &access,
                            )
                            .map_err(ServiceError::from)?,
                        )
                    }
                    None => None,
                };
                let retry_at = self.store.now_ms().saturating_add(RETRY_ODD_MS);
                let (audit, refresh_due_at) = match expires_at {
                    Some(expires_at) => (
                        system.entry(Event::AccessTokenRenewed {
                            credential: id.to_owned(),
                            how,
                            why: why.as_str(),
                            expires_at,
                        }),
                        rotated.then(|| self.next_refresh()),
                    ),
                    // Greenhouse acted (the secret is kept) but gave no usable access token.
                    None => (
                        system.entry(Event::RenewFailed {
                            credential: id.to_owned(),
                            reason: "unexpected: no usable access token in the answer; the \
                                     rotated refresh token was kept"
                                .into(),
                            failures: row.refresh_failures.saturating_add(1),
                        }),
                        rotated.then_some(retry_at),
                    ),
                };
                let pending = PendingRenewal {
                    id: id.to_owned(),
                    lease_id: lease_id.to_owned(),
                    started: row.envelope.ciphertext.clone(),
                    access: sealed.map(|s| (s, expires_at.unwrap_or(0))),
                    ciphertext: rotated.then(|| envelope.ciphertext.clone()),
                    refresh_due_at,
                    retry_at,
                    audit,
                };
                let stored = match self.store_pending(&pending).await {
                    Ok(stored) => stored,
                    Err(e) if rotated => {
                        // The old refresh token is spent: this pair is the only valid one.
                        tracing::warn!(
                            credential = id,
                            error = %e,
                            "cannot store a rotated refresh token yet; retrying until the \
                             database answers"
                        );
                        self.keep_committing(pending, one_here);
                        return Err(VendError::Unavailable(5));
                    }
                    Err(e) => return Err(e.into()),
                };
                drop(one_here);
                if !stored {
                    tracing::error!(
                        credential = id,
                        "the credential's secret changed or was destroyed during a renewal; \
                         its answer was not stored"
                    );
                    return Err(VendError::Unavailable(5));
                }
                if expires_at.is_none() {
                    self.count(how, "failed");
                    return Err(VendError::Unavailable(
                        u64::try_from(RETRY_ODD_MS / 1000).unwrap_or(1),
                    ));
                }
                self.count(how, "ok");
                tracing::info!(
                    credential = id,
                    why = why.as_str(),
                    rotated,
                    "access token renewed"
                );
                Ok(())
            }
            Err(e) if e.kills_grant() && kind.connector().is_some() => {
                let audit = system.entry(Event::CredentialDisconnected {
                    credential: id.to_owned(),
                    error: "invalid_grant".into(),
                });
                if !self
                    .store
                    .disconnect(id, lease_id, &row.envelope.ciphertext, &audit)
                    .await?
                {
                    // Another renewal stored a newer refresh token meanwhile: the grant lives.
                    tracing::warn!(
                        credential = id,
                        "invalid_grant for a refresh token that was already replaced"
                    );
                    return Err(VendError::Unavailable(1));
                }
                self.count("refresh", "disconnected");
                tracing::warn!(credential = id, "Greenhouse disconnected a partner grant");
                Err(VendError::Disconnected)
            }
            Err(e) => {
                let failures = row.refresh_failures.saturating_add(1);
                let wait_ms = retry_delay_ms(failures, &e);
                let reason = match &e {
                    TokenError::Refused(code) => format!("refused: {code}"),
                    TokenError::Transient(t) => format!("unavailable: {t:?}"),
                };
                let audit = system.entry(Event::RenewFailed {
                    credential: id.to_owned(),
                    reason,
                    failures,
                });
                let partner = kind.connector().is_some();
                let retry_at = self.store.now_ms().saturating_add(wait_ms);
                self.store
                    .renew_failed(id, lease_id, retry_at, partner, &audit)
                    .await?;
                self.count(if partner { "refresh" } else { "mint" }, "failed");
                Err(VendError::Unavailable(
                    u64::try_from(wait_ms / 1000).unwrap_or(1).max(1),
                ))
            }
        }
    }

    async fn store_pending(&self, p: &PendingRenewal) -> Result<bool, crate::store::StoreError> {
        self.store
            .store_renewed(
                &p.id,
                &p.lease_id,
                &p.started,
                p.access.as_ref().map(|(s, at)| (s.as_slice(), *at)),
                p.ciphertext.as_deref(),
                p.refresh_due_at,
                p.retry_at,
                &p.audit,
            )
            .await
    }

    /// Store `pending` (a rotated pair, the only valid one) in the background, retrying
    /// with backoff until the database answers. This process's gate for the credential
    /// stays closed until then, so nothing here presents the spent refresh token.
    fn keep_committing(&self, pending: PendingRenewal, gate: tokio::sync::OwnedMutexGuard<()>) {
        let vendor = self.clone();
        tokio::spawn(async move {
            let mut wait = COMMIT_RETRY_FIRST;
            loop {
                tokio::time::sleep(wait).await;
                match vendor.store_pending(&pending).await {
                    Ok(true) => {
                        vendor.count("refresh", "ok");
                        tracing::info!(
                            credential = pending.id,
                            "rotated refresh token stored after the database came back"
                        );
                        break;
                    }
                    Ok(false) => {
                        tracing::error!(
                            credential = pending.id,
                            "the credential's secret changed or was destroyed before a \
                             rotated refresh token could be stored"
                        );
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(
                            credential = pending.id,
                            error = %e,
                            "still cannot store a rotated refresh token; retrying"
                        );
                        wait = (wait * 2).min(COMMIT_RETRY_MAX);
                    }
                }
            }
            drop(gate);
        });
    }

    /// When the next keep-alive refresh of a grant refreshed now is due.
    fn next_refresh(&self) -> i64 {
        let every = i64::try_from(self.refresh_every.as_millis()).unwrap_or(i64::MAX / 4);
        self.store.now_ms().saturating_add(every)
    }
}

/// A renewal's answer, ready to store (sealed). Its `Debug` shows no secret.
struct PendingRenewal {
    id: String,
    lease_id: String,
    /// The ciphertext the renewal started from (the compare-and-set).
    started: Vec<u8>,
    access: Option<(Vec<u8>, i64)>,
    ciphertext: Option<Vec<u8>>,
    refresh_due_at: Option<i64>,
    retry_at: i64,
    audit: crate::domain::audit::AuditEntry,
}

/// After an answer with no usable access token: wait this long before renewing again.
const RETRY_ODD_MS: i64 = 5_000;

/// How long to wait before renewing again after `failures` failures in a row: from 5 s,
/// doubling, capped at 10 minutes (a refused credential waits a minute at least).
fn retry_delay_ms(failures: i64, e: &TokenError) -> i64 {
    let base = 5_000i64.saturating_mul(1i64 << failures.clamp(1, 8).saturating_sub(1));
    let floor = if matches!(e, TokenError::Refused(_)) {
        60_000
    } else {
        0
    };
    base.max(floor).min(600_000)
}
