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

/// A failure that is ours, not the caller's: the HTTP layer answers 500.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Crypto(#[from] crate::crypto::CryptoError),
    #[error("{0}")]
    Internal(String),
}
