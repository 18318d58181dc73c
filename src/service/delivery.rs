//! Releasing credentials: the store runs the change and its audit event in
//! one transaction; this module supplies the decryption that runs inside it
//! and fails closed (nothing released, an audit event, a generic error).

use super::ServiceError;
use crate::crypto::cipher::{self, Binding, Envelope};
use crate::crypto::keyring::Keyring;
use crate::crypto::CryptoError;
use crate::domain::credential::CredentialMeta;
use crate::domain::event::{Event, Origin};
use crate::greenhouse::{Checker, Verification};
use crate::store::{CheckBy, Lease, OpenFailure, Store};
use zeroize::Zeroizing;

/// How long a credential that failed to decrypt is skipped by claims.
const QUARANTINE_MS: i64 = 3_600_000;

/// A plaintext secret (the SPEC §4 secret JSON), zeroized on drop.
pub type Plaintext = Zeroizing<Vec<u8>>;

fn opener<'k>(
    keyring: &'k Keyring,
    id: &'k str,
) -> impl FnOnce(&str, &str, &Envelope) -> Result<Plaintext, CryptoError> + 'k {
    move |drop_id, kind, env| {
        cipher::decrypt(
            keyring,
            Binding {
                credential_id: id,
                drop_id,
                kind,
            },
            env,
        )
    }
}

/// The one path for a stored credential that could not be opened outside a
/// claim: a key version this process lacks is its own fault (logged
/// loudly, reported by `/readyz`, not audited against the row); anything
/// else is recorded as `credential.decrypt_failed` in its own transaction.
/// Either way the call fails closed.
pub(crate) async fn decrypt_failed(
    store: &Store,
    id: &str,
    origin: &Origin,
    e: CryptoError,
) -> ServiceError {
    if !quarantines(&e) {
        return keyring_fault(e);
    }
    let audit = origin.entry(Event::DecryptFailed {
        credential: id.to_owned(),
        error: e.to_string(),
        quarantined_for_s: None,
    });
    if let Err(err) = async {
        let mut tx = store.begin_audited().await?;
        tx.record(&audit).await?;
        tx.commit().await
    }
    .await
    {
        tracing::error!(error = %err, "could not audit a decryption failure");
    }
    ServiceError::Crypto(e)
}

pub async fn claim(
    store: &Store,
    keyring: &Keyring,
    lease_secs: i64,
    origin: &Origin,
) -> Result<Option<(CredentialMeta, Plaintext, Lease)>, ServiceError> {
    let lease_id = crate::crypto::random::uuid()?.to_string();
    let result = store
        .claim(
            lease_secs.saturating_mul(1000),
            &lease_id,
            origin,
            |id, drop_id, kind, env| {
                opener(keyring, id)(drop_id, kind, env).map_err(|error| {
                    let quarantine = quarantines(&error).then(|| {
                        let entry = origin.entry(Event::DecryptFailed {
                            credential: id.to_owned(),
                            error: error.to_string(),
                            quarantined_for_s: Some(QUARANTINE_MS / 1000),
                        });
                        Box::new((QUARANTINE_MS, entry))
                    });
                    OpenFailure { error, quarantine }
                })
            },
        )
        .await?;
    match result {
        None => Ok(None),
        Some(Ok(claimed)) => Ok(Some(claimed)),
        Some(Err(e)) if quarantines(&e) => Err(ServiceError::Crypto(e)),
        Some(Err(e)) => Err(keyring_fault(e)),
    }
}

/// Whether a failure to open a row is the row's (set it aside so one bad
/// row cannot stop every claim) or this process's: a key version missing
/// from this process's keyring (say, it started before a rotation) must
/// not park rows that every up-to-date process can open.
fn quarantines(e: &CryptoError) -> bool {
    !matches!(e, CryptoError::UnknownKeyVersion(_))
}

/// A key version this process lacks: say so loudly (the keyring remembers
/// it for `/readyz`), then fail the call.
fn keyring_fault(e: CryptoError) -> ServiceError {
    if let CryptoError::UnknownKeyVersion(v) = e {
        tracing::error!(
            key_version = v,
            "stored data uses a master key version this process's keyring does not hold; \
             restart it with the current keyring (see `keydrop keys status`)"
        );
    }
    ServiceError::Crypto(e)
}

/// Open a stored credential and check it against Greenhouse with its drop's
/// profile. `None` when there is no such credential (or it was destroyed).
/// A decryption failure is audited and fails closed.
pub async fn check_stored(
    store: &Store,
    keyring: &Keyring,
    checker: &Checker,
    id: &str,
    origin: &Origin,
) -> Result<Option<Verification>, ServiceError> {
    let Some((drop_id, kind, env)) = store.credential_envelope(id).await? else {
        return Ok(None);
    };
    let Some(drop) = store.drop_by_id(&drop_id).await? else {
        return Ok(None);
    };
    let plaintext = match opener(keyring, id)(&drop_id, &kind, &env) {
        Ok(p) => p,
        Err(e) => return Err(decrypt_failed(store, id, origin, e).await),
    };
    let secret = checker
        .kinds()
        .secret_from_json(&plaintext)
        .map_err(|e| ServiceError::Internal(format!("credential {id}: {e}")))?;
    std::mem::drop(plaintext);
    Ok(Some(checker.check(&secret, &drop.profile).await))
}

/// Re-run the Greenhouse check on a stored credential; the caller sees only
/// the new report (a refused credential is destroyed, see `store::lifecycle`).
pub async fn reverify(
    store: &Store,
    keyring: &Keyring,
    checker: &Checker,
    id: &str,
    origin: &Origin,
) -> Result<Option<CredentialMeta>, ServiceError> {
    let Some(verification) = check_stored(store, keyring, checker, id, origin).await? else {
        return Ok(None);
    };
    Ok(store
        .apply_verification(id, &verification, CheckBy::Staff, origin)
        .await?)
}
