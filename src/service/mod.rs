//! Use cases that combine the store, the cipher and the Greenhouse checker.
//! The web layer and the CLI call these; they hold no HTTP or terminal logic.

pub mod connect;
pub mod delivery;
pub mod drops;
pub mod recheck;
pub mod release;
pub mod secrets;
pub mod submission;
pub mod tokens;
pub mod vend;
pub mod webhooks;

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
