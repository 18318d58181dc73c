//! Secrets of the service itself: 32 random bytes each, made by whichever
//! process needs one first, stored sealed under the active master key and
//! shared by every process on the database.

use super::ServiceError;
use crate::crypto::cipher;
use crate::crypto::keyring::Keyring;
use crate::store::Store;
use zeroize::Zeroizing;

/// The root of the form-token (CSRF) key: see [`crate::web::csrf`].
pub const FORM_KEY: &str = "form_key";

/// The service secret `name`, created on first use.
pub async fn get_or_create(
    store: &Store,
    keyring: &Keyring,
    name: &str,
) -> Result<Zeroizing<[u8; 32]>, ServiceError> {
    if store.service_secret(name).await?.is_none() {
        let (_, sealed) = cipher::new_service_secret(keyring, name)?;
        if store.insert_service_secret(name, &sealed).await? {
            tracing::info!(secret = name, "service secret created");
        }
    }
    // Read back: when processes race, the first one stored is everyone's.
    let sealed = store
        .service_secret(name)
        .await?
        .ok_or_else(|| ServiceError::Internal(format!("service secret {name} was not stored")))?;
    cipher::open_service_secret(keyring, name, &sealed).map_err(|e| {
        ServiceError::Internal(format!(
            "cannot open the stored service secret {name} (sealed under master key version {}): {e}",
            sealed.key_version
        ))
    })
}

/// The audit chain's key ([`crate::crypto::audit`]), created on first use.
pub async fn audit_key(
    store: &Store,
    keyring: &Keyring,
) -> Result<crate::crypto::audit::AuditKey, ServiceError> {
    use crate::crypto::audit::{secret_name, AuditKey, CURRENT};
    let bytes = get_or_create(store, keyring, &secret_name(CURRENT)).await?;
    Ok(AuditKey::new(CURRENT, &bytes))
}

/// The audit chain's key if one was ever made (never creates one: for `audit verify`).
pub async fn existing_audit_key(
    store: &Store,
    keyring: &Keyring,
) -> Result<Option<crate::crypto::audit::AuditKey>, ServiceError> {
    use crate::crypto::audit::{secret_name, AuditKey, CURRENT};
    let name = secret_name(CURRENT);
    let Some(sealed) = store.service_secret(&name).await? else {
        return Ok(None);
    };
    let bytes = cipher::open_service_secret(keyring, &name, &sealed)?;
    Ok(Some(AuditKey::new(CURRENT, &bytes)))
}

/// Seal every service secret under the active master key (part of `keys
/// rewrap`); returns how many moved.
pub async fn reseal_all(store: &Store, keyring: &Keyring) -> Result<usize, ServiceError> {
    let active = keyring.active_version();
    let mut moved = 0;
    for name in store.service_secrets_needing_reseal(active).await? {
        let Some(sealed) = store.service_secret(&name).await? else {
            continue;
        };
        let new = cipher::reseal_service_secret(keyring, &name, &sealed)?;
        if store
            .reseal_service_secret(&name, sealed.key_version, &new)
            .await?
        {
            moved += 1;
        }
    }
    Ok(moved)
}
