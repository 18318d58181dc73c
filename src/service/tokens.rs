//! API tokens as a use case: name rules, minting (argon2 off the async
//! threads), storing with the audit event, and the first admin token. The
//! HTTP handlers, the CLI and start-up all call these.

use super::ServiceError;
use crate::crypto::token::ApiToken;
use crate::domain::event::{Event, Origin};
use crate::domain::role::Role;
use crate::store::{Store, TokenRecord};

/// Check a token name: 1–100 printable characters.
pub fn validate_name(name: &str) -> Result<String, String> {
    // The rules apply to the name as sent (as the OpenAPI document states
    // them); surrounding whitespace is trimmed after.
    if name.chars().any(char::is_control) {
        return Err("name must not contain control characters".into());
    }
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err("name must be 1 to 100 characters".into());
    }
    Ok(name.trim().to_owned())
}

/// Mint a token: returns the record to store and the token to show once.
/// Hashing takes an argon2 run; call it off the async threads ([`create`]
/// does).
pub fn mint(
    name: String,
    role: Role,
    now_ms: i64,
) -> Result<(TokenRecord, ApiToken), crate::crypto::CryptoError> {
    let token = ApiToken::generate()?;
    let record = TokenRecord {
        id: token.id(),
        name,
        role,
        hash: token.hash()?,
        created_at: now_ms,
        revoked_at: None,
    };
    Ok((record, token))
}

async fn mint_blocking(
    store: &Store,
    name: String,
    role: Role,
) -> Result<(TokenRecord, ApiToken), ServiceError> {
    let now = store.now_ms();
    tokio::task::spawn_blocking(move || mint(name, role, now))
        .await
        .map_err(|e| ServiceError::Internal(format!("token minting stopped: {e}")))?
        .map_err(ServiceError::from)
}

/// Mint and store a token, audited as made by `actor` from `ip`. `name`
/// must have passed [`validate_name`].
pub async fn create(
    store: &Store,
    name: String,
    role: Role,
    actor: &str,
    ip: Option<String>,
) -> Result<(TokenRecord, ApiToken), ServiceError> {
    let (record, token) = mint_blocking(store, name, role).await?;
    let audit = Origin::new(actor, ip).entry(Event::TokenCreated {
        token: record.id,
        name: record.name.clone(),
        role: record.role,
        bootstrap: false,
    });
    store.insert_token(&record, &audit).await?;
    Ok((record, token))
}

/// On an empty database, create the first admin token and hand it to
/// `deliver` before it is committed: if delivery fails, no token exists
/// that nobody holds, and the next start tries again. `Ok(false)`: the
/// database already had tokens, nothing was created or delivered.
pub async fn bootstrap_admin<E>(
    store: &Store,
    deliver: impl FnOnce(&ApiToken) -> Result<(), E>,
) -> Result<Result<bool, E>, ServiceError> {
    if !store.list_tokens().await?.is_empty() {
        return Ok(Ok(false));
    }
    let (record, token) = mint_blocking(store, "bootstrap admin".into(), Role::Admin).await?;
    let audit = Origin::system().entry(Event::TokenCreated {
        token: record.id,
        name: record.name.clone(),
        role: record.role,
        bootstrap: true,
    });
    Ok(store
        .bootstrap_admin(&record, &audit, || deliver(&token))
        .await?)
}
