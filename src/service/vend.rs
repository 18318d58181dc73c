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
//! The unavoidable window: Greenhouse rotates a partner grant's refresh token when it
//! answers the refresh. If keydrop dies (or the answer is lost) after Greenhouse answered
//! and before the new pair is committed, the stored refresh token is the old, now spent, one.
//! keydrop narrows that window — the refresh is sent once and never repeated after
//! Greenhouse may have acted on it (`http::send_unrepeatable`), the commit follows the
//! answer at once, the lease outlives the whole request — and makes it visible: the next
//! refresh gets `invalid_grant`, and the credential becomes `disconnected` (audited, webhook
//! `credential.disconnected`), never silently broken.

use super::release::{Releases, ACCESS_PURPOSE};
use super::ServiceError;
use crate::crypto::cipher::{self, Binding};
use crate::crypto::keyring::Keyring;
use crate::domain::credential::CredentialMeta;
use crate::domain::event::{Event, Origin};
use crate::domain::release::Release;
use crate::greenhouse::oauth::TokenError;
use crate::greenhouse::{Budget, Checker};
use crate::store::{SecretRead, Store, TokenLease, Want};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use zeroize::Zeroizing;

/// A token handed out stays valid at least this long (SPEC §4: ≥ 5 minutes).
pub const FRESH_MS: i64 = 5 * 60_000;
/// How long a caller waits for another process's renewal before answering 503.
const WAIT_FOR_OTHERS: Duration = Duration::from_secs(20);
/// Margin of the token lease beyond the Greenhouse budget.
const LEASE_MARGIN_MS: i64 = 5_000;

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
    #[error(transparent)]
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
    /// its access token.
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
        let _one_here = gate.lock().await;
        let budget_ms =
            i64::try_from(self.checker.config().total_budget.as_millis()).unwrap_or(i64::MAX / 4);
        let hold_ms = budget_ms.saturating_add(LEASE_MARGIN_MS);
        let force = why == Why::KeepAlive;
        let waited_since = tokio::time::Instant::now();
        let lease_id = crate::crypto::random::uuid()
            .map_err(|e| ServiceError::Internal(e.to_string()))?
            .to_string();
        let row = loop {
            let fresh_after = self.store.now_ms().saturating_add(FRESH_MS);
            match self
                .store
                .take_token_lease(id, &lease_id, fresh_after, hold_ms, force)
                .await?
            {
                TokenLease::Taken(row) => break row,
                TokenLease::Fresh | TokenLease::Gone => return Ok(()),
                TokenLease::BackingOff(until) => {
                    let secs = (until - self.store.now_ms()).max(1000) / 1000;
                    return Err(VendError::Unavailable(u64::try_from(secs).unwrap_or(1)));
                }
                TokenLease::Busy => {
                    if force || waited_since.elapsed() > WAIT_FOR_OTHERS {
                        // A keep-alive leaves it to whoever holds the lease.
                        return if force {
                            Ok(())
                        } else {
                            Err(VendError::Unavailable(2))
                        };
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        self.renew_leased(id, &lease_id, row, why).await
    }

    async fn renew_leased(
        &self,
        id: &str,
        lease_id: &str,
        row: crate::store::Renewing,
        why: Why,
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
        let budget = Budget::new(self.checker.config().total_budget);
        let system = Origin::system();
        match kind.renew(&self.checker, budget, &secret).await {
            Ok(renewed) => {
                let expires_at = renewed.tokens.expires_at;
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
                let access = Zeroizing::new(
                    serde_json::to_vec(&StoredAccess {
                        access_token: renewed.tokens.access_token.to_string(),
                        expires_at,
                    })
                    .map_err(|e| ServiceError::Internal(e.to_string()))?,
                );
                let sealed =
                    cipher::seal_aux(&self.keyring, binding, &envelope, ACCESS_PURPOSE, &access)
                        .map_err(ServiceError::from)?;
                let audit = system.entry(Event::AccessTokenRenewed {
                    credential: id.to_owned(),
                    how: if rotated { "refresh" } else { "mint" },
                    why: why.as_str(),
                    expires_at,
                });
                let refresh_due_at = rotated.then(|| self.next_refresh());
                let stored = self
                    .store
                    .store_renewed(
                        id,
                        lease_id,
                        &sealed,
                        expires_at,
                        rotated.then_some(envelope.ciphertext.as_slice()),
                        refresh_due_at,
                        &audit,
                    )
                    .await?;
                if !stored {
                    tracing::error!(
                        credential = id,
                        "lost the token lease before storing a renewed token; the renewal \
                         took longer than the lease allows"
                    );
                    return Err(VendError::Unavailable(5));
                }
                self.count(if rotated { "refresh" } else { "mint" }, "ok");
                tracing::info!(
                    credential = id,
                    why = why.as_str(),
                    rotated,
                    "access token renewed"
                );
                Ok(())
            }
            Err(e) if e.kills_grant() && kind.connects() => {
                let audit = system.entry(Event::CredentialDisconnected {
                    credential: id.to_owned(),
                    error: "invalid_grant".into(),
                });
                self.store.disconnect(id, lease_id, &audit).await?;
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
                let partner = kind.connects();
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

    /// When the next keep-alive refresh of a grant refreshed now is due.
    fn next_refresh(&self) -> i64 {
        let every = i64::try_from(self.refresh_every.as_millis()).unwrap_or(i64::MAX / 4);
        self.store.now_ms().saturating_add(every)
    }
}

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
