//! The use cases: the floor between the doors (web, CLI, jobs) and what they combine (the
//! store, the cipher, the Greenhouse checker). The doors parse, authorise, call and map the
//! answer; they hold no product rule, and this floor holds no HTTP or terminal logic.
//!
//! - [`credentials`]: every credential use case, one function each (see its table);
//! - [`drops`]: staff create, find and revoke links;
//! - [`webhooks`], [`tokens`], [`secrets`]: endpoints, API tokens, service secrets;
//! - [`vend`], [`release`], [`delivery`]: the machinery under `credentials` — token
//!   renewal, group-committed audited releases, fail-closed opening of stored secrets.

pub mod audit;
pub mod console;
pub mod credentials;
pub mod delivery;
pub mod drops;
pub mod mail;
pub mod release;
pub mod secrets;
pub mod tokens;
pub mod vend;
pub mod webhooks;

/// Everything the use cases need, built once at start and shared by every door: the HTTP
/// handlers (through `web::AppState`), the background jobs, and `keydrop demo`.
pub struct Services {
    pub store: crate::store::Store,
    pub keyring: std::sync::Arc<crate::crypto::keyring::Keyring>,
    pub settings: crate::config::ServeSettings,
    pub checker: crate::greenhouse::Checker,
    /// Audited releases of secrets and stored access tokens, group-committed.
    pub releases: release::Releases,
    /// Access tokens of `vend` credentials.
    pub vendor: vend::Vendor,
    /// API-token minting and checking (tag key, argon2 threads).
    pub tokens: tokens::Tokens,
    /// Prometheus series (served only with `KEYDROP_METRICS_BIND`).
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
    /// The console's OpenID Connect provider, when one is configured.
    pub oidc: Option<std::sync::Arc<crate::oidc::Provider>>,
    /// The mail server links are e-mailed through (`KEYDROP_SMTP_URL`), when one is set.
    pub mailer: Option<crate::mail::Mailer>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").finish_non_exhaustive()
    }
}

/// A failure that is ours, not the caller's: the HTTP layer answers 500 — or 503 when the
/// database is unreachable, which `store::is_unavailable` finds anywhere in the source
/// chain. The wrapped errors are their own link in that chain (not `transparent`, which
/// would skip them and hide a `StoreError::Unavailable`).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Crypto(#[from] crate::crypto::CryptoError),
    #[error("{0}")]
    Internal(String),
}
