//! Opening stored credentials: the store runs a change and its audit event in one
//! transaction; this module supplies the decryption that runs inside it (or before a
//! check) and fails closed — nothing released, an audit event, a generic error.

use super::ServiceError;
use crate::crypto::cipher::{self, Binding, Envelope};
use crate::crypto::keyring::Keyring;
use crate::crypto::CryptoError;
use crate::domain::credential::CredentialMeta;
use crate::domain::event::{Event, Origin};
use crate::store::{Lease, OpenFailure, Store};
use zeroize::Zeroizing;

/// How long a credential that failed to decrypt is skipped by claims.
const QUARANTINE_MS: i64 = 3_600_000;

/// A plaintext secret (the SPEC §4 secret JSON), zeroized on drop.
pub type Plaintext = Zeroizing<Vec<u8>>;

/// Open stored credential `id` (of drop `drop_id`, kind `kind`): the associated data binds
/// the ciphertext to exactly that row.
pub(crate) fn open(
    keyring: &Keyring,
    id: &str,
    drop_id: &str,
    kind: &str,
    env: &Envelope,
) -> Result<Plaintext, CryptoError> {
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

/// Take the next waiting credential under a lease of `lease_secs` and open it, in the
/// claim's transaction; a row that cannot be opened is quarantined (see [`quarantines`]).
pub(crate) async fn claim(
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
                open(keyring, id, drop_id, kind, env).map_err(|error| {
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
