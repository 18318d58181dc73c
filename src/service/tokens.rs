//! API tokens as a use case: name rules, minting (argon2 on the hashing
//! threads, tagged with the deployment's tag key), storing with the audit
//! event, and the first admin token. The HTTP handlers, the CLI and
//! start-up all call these.

use super::ServiceError;
use crate::crypto::hasher::Hasher;
use crate::crypto::keyring::Keyring;
use crate::crypto::token::{ApiToken, TagKey};
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

/// The service secret that keys API-token tags ([`crate::crypto::token`]).
pub const TAG_KEY: &str = "api_token_tag";

/// What minting and checking API tokens needs: the deployment's tag key and
/// the argon2 threads. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub tag: TagKey,
    pub hasher: Hasher,
}

impl Tokens {
    /// The tag key (created on first use, shared by every process through
    /// the database) and fresh argon2 threads.
    pub async fn load(store: &Store, keyring: &Keyring) -> Result<Self, ServiceError> {
        let root = super::secrets::get_or_create(store, keyring, TAG_KEY).await?;
        Ok(Self {
            tag: TagKey::from_bytes(&root),
            hasher: Hasher::start()?,
        })
    }
}

/// Mint a token: returns the record to store and the token to show once.
async fn mint(
    tokens: &Tokens,
    name: String,
    role: Role,
    now_ms: i64,
) -> Result<(TokenRecord, ApiToken), ServiceError> {
    let (token, hash) = tokens.hasher.mint(tokens.tag.clone()).await?;
    let record = TokenRecord {
        id: token.id(),
        name,
        role,
        hash,
        created_at: now_ms,
        revoked_at: None,
    };
    Ok((record, token))
}

/// Mint and store a token, audited as made by `actor` from `ip`. `name`
/// must have passed [`validate_name`].
pub async fn create(
    store: &Store,
    tokens: &Tokens,
    name: String,
    role: Role,
    actor: &str,
    ip: Option<String>,
) -> Result<(TokenRecord, ApiToken), ServiceError> {
    let (record, token) = mint(tokens, name, role, store.now_ms()).await?;
    let audit = Origin::new(actor, ip).entry(Event::TokenCreated {
        token: record.id,
        name: record.name.clone(),
        role: record.role,
        bootstrap: false,
    });
    store.insert_token(&record, &audit).await?;
    Ok((record, token))
}

/// Revoke token `id`, audited by `origin`. `None` when there is no such token. The caller
/// also tells its token cache to forget the id.
pub async fn revoke(
    store: &Store,
    id: uuid::Uuid,
    origin: &Origin,
) -> Result<Option<TokenRecord>, ServiceError> {
    let audit = origin.entry(Event::TokenRevoked { token: id });
    Ok(store.revoke_token(id, &audit).await?)
}

/// On an empty database, create the first admin token and hand it to
/// `deliver` before it is committed: if delivery fails, no token exists
/// that nobody holds, and the next start tries again. `Ok(false)`: the
/// database already had tokens, nothing was created or delivered.
pub async fn bootstrap_admin<E>(
    store: &Store,
    tokens: &Tokens,
    deliver: impl FnOnce(&ApiToken) -> Result<(), E>,
) -> Result<Result<bool, E>, ServiceError> {
    if !store.list_tokens().await?.is_empty() {
        return Ok(Ok(false));
    }
    let (record, token) = mint(
        tokens,
        "bootstrap admin".into(),
        Role::Admin,
        store.now_ms(),
    )
    .await?;
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
