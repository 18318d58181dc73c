//! Envelope encryption of credentials (SPEC §8.2).
//!
//! Each credential gets a fresh random 256-bit data key. The secret is sealed
//! with AES-256-GCM under the data key; the data key is sealed ("wrapped")
//! under the active master key. Both carry associated data that names the row
//! (credential id, drop id, kind), and the wrapped key's associated data also
//! names the master key version, so a ciphertext or wrapped key copied to
//! another row, or relabelled with another version, fails to open.
//!
//! The binding is the drop *id*, not its `org` or other metadata: those are
//! plain columns an attacker with write access to the database could edit
//! without touching a ciphertext. So workers must map a credential to its
//! tenant by `drop_id` (or the drop's `external_id`, read through the API),
//! never by the `org` text; the README's Worker API section says so.
//!
//! Stored layout of both blobs: 12-byte nonce ‖ ciphertext ‖ 16-byte tag.
//! `rewrap` re-seals only the data key; the secret's ciphertext is untouched
//! and no plaintext secret is produced.
//!
//! *Over 400 lines:* its unit tests are inline (the code is ~290 lines).

use super::keyring::Keyring;
use super::{random, CryptoError};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use zeroize::Zeroizing;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// What a ciphertext is bound to.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    pub credential_id: &'a str,
    pub drop_id: &'a str,
    pub kind: &'a str,
}

impl Binding<'_> {
    fn data_aad(&self) -> Vec<u8> {
        format!(
            "keydrop/data/v1\0cred={}\0drop={}\0kind={}",
            self.credential_id, self.drop_id, self.kind
        )
        .into_bytes()
    }

    fn aux_aad(&self, purpose: &str) -> Vec<u8> {
        format!(
            "keydrop/aux/v1\0purpose={}\0cred={}\0drop={}\0kind={}",
            purpose, self.credential_id, self.drop_id, self.kind
        )
        .into_bytes()
    }

    fn wrap_aad(&self, key_version: i64) -> Vec<u8> {
        format!(
            "keydrop/wrap/v1\0cred={}\0drop={}\0kind={}\0kv={}",
            self.credential_id, self.drop_id, self.kind, key_version
        )
        .into_bytes()
    }
}

/// A sealed secret as it is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope {
    pub key_version: i64,
    pub wrapped_key: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Envelope")
            .field("key_version", &self.key_version)
            .field("wrapped_key_len", &self.wrapped_key.len())
            .field("ciphertext_len", &self.ciphertext.len())
            .finish()
    }
}

fn seal(key: &[u8; 32], plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| CryptoError::Encrypt)?;
    let nonce = random::bytes::<NONCE_LEN>()?;
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| CryptoError::Encrypt)?;
    let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

fn open(key: &[u8; 32], blob: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if blob.len() < NONCE_LEN + TAG_LEN {
        return Err(CryptoError::Decrypt);
    }
    let (nonce, sealed) = blob.split_at(NONCE_LEN);
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| CryptoError::Decrypt)?;
    cipher
        .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad })
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Decrypt)
}

/// Unwrap an envelope's data key. Only for verification tools and tests
/// that must prove the key never reaches storage; it stays zeroized on drop.
pub fn unwrap_data_key(
    keyring: &Keyring,
    binding: Binding<'_>,
    envelope: &Envelope,
) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let kek = keyring.get(envelope.key_version)?;
    let raw = open(
        kek.bytes(),
        &envelope.wrapped_key,
        &binding.wrap_aad(envelope.key_version),
    )?;
    let mut dk = Zeroizing::new([0u8; 32]);
    if raw.len() != dk.len() {
        return Err(CryptoError::Decrypt);
    }
    dk.copy_from_slice(&raw);
    Ok(dk)
}

/// Seal `plaintext` for the row named by `binding` under the active master key.
pub fn encrypt(
    keyring: &Keyring,
    binding: Binding<'_>,
    plaintext: &[u8],
) -> Result<Envelope, CryptoError> {
    let (version, kek) = keyring.active()?;
    let data_key = Zeroizing::new(random::bytes::<32>()?);
    let ciphertext = seal(&data_key, plaintext, &binding.data_aad())?;
    let wrapped_key = seal(kek.bytes(), data_key.as_ref(), &binding.wrap_aad(version))?;
    Ok(Envelope {
        key_version: version,
        wrapped_key,
        ciphertext,
    })
}

/// Open an envelope. Any mismatch — key, version, row, a flipped bit — fails.
pub fn decrypt(
    keyring: &Keyring,
    binding: Binding<'_>,
    envelope: &Envelope,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let dk = unwrap_data_key(keyring, binding, envelope)?;
    open(&dk, &envelope.ciphertext, &binding.data_aad())
}

/// Seal a new secret for the same row under its existing data key (a fresh nonce): a partner
/// grant's rotated refresh token. The wrapped key and its version stay as they are, so a
/// concurrent `keys rewrap` (which changes only those) and this (which changes only the
/// ciphertext) never undo each other.
pub fn reseal(
    keyring: &Keyring,
    binding: Binding<'_>,
    envelope: &Envelope,
    plaintext: &[u8],
) -> Result<Envelope, CryptoError> {
    let dk = unwrap_data_key(keyring, binding, envelope)?;
    Ok(Envelope {
        key_version: envelope.key_version,
        wrapped_key: envelope.wrapped_key.clone(),
        ciphertext: seal(&dk, plaintext, &binding.data_aad())?,
    })
}

/// Seal a companion value of a row (e.g. its current access token, `purpose` "access") under
/// the row's data key. Its associated data names the purpose as well as the row, so it can
/// neither be moved to another row nor swapped with the secret itself; key rotation covers it
/// because it shares the data key.
pub fn seal_aux(
    keyring: &Keyring,
    binding: Binding<'_>,
    envelope: &Envelope,
    purpose: &str,
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let dk = unwrap_data_key(keyring, binding, envelope)?;
    seal(&dk, plaintext, &binding.aux_aad(purpose))
}

/// Open a value sealed by [`seal_aux`].
pub fn open_aux(
    keyring: &Keyring,
    binding: Binding<'_>,
    envelope: &Envelope,
    purpose: &str,
    blob: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let dk = unwrap_data_key(keyring, binding, envelope)?;
    open(&dk, blob, &binding.aux_aad(purpose))
}

/// Re-wrap the data key under the active master key. The secret's ciphertext
/// is kept as it is; the data key exists in memory only, zeroized on return.
pub fn rewrap(
    keyring: &Keyring,
    binding: Binding<'_>,
    envelope: &Envelope,
) -> Result<Envelope, CryptoError> {
    let dk = unwrap_data_key(keyring, binding, envelope)?;
    let (version, kek) = keyring.active()?;
    Ok(Envelope {
        key_version: version,
        wrapped_key: seal(kek.bytes(), dk.as_ref(), &binding.wrap_aad(version))?,
        ciphertext: envelope.ciphertext.clone(),
    })
}

/// A 32-byte secret of the service itself (e.g. the form-token key), sealed
/// directly under a master key version. The associated data names the
/// secret and the version, so a sealed secret moved to another name or
/// relabelled with another version fails to open.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret {
    pub key_version: i64,
    pub sealed: Vec<u8>,
}

impl std::fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedSecret")
            .field("key_version", &self.key_version)
            .finish_non_exhaustive()
    }
}

fn service_aad(name: &str, key_version: i64) -> Vec<u8> {
    format!("keydrop/service-secret/v1\0name={name}\0kv={key_version}").into_bytes()
}

/// A fresh random 32-byte service secret `name`, sealed under the active
/// master key; the plaintext is returned too, zeroized on drop.
pub fn new_service_secret(
    keyring: &Keyring,
    name: &str,
) -> Result<(Zeroizing<[u8; 32]>, SealedSecret), CryptoError> {
    let secret = Zeroizing::new(random::bytes::<32>()?);
    let sealed = seal_service_secret(keyring, name, &secret)?;
    Ok((secret, sealed))
}

fn seal_service_secret(
    keyring: &Keyring,
    name: &str,
    secret: &[u8; 32],
) -> Result<SealedSecret, CryptoError> {
    let (version, kek) = keyring.active()?;
    Ok(SealedSecret {
        key_version: version,
        sealed: seal(kek.bytes(), secret, &service_aad(name, version))?,
    })
}

/// Open the service secret `name`.
pub fn open_service_secret(
    keyring: &Keyring,
    name: &str,
    sealed: &SealedSecret,
) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let kek = keyring.get(sealed.key_version)?;
    let raw = open(
        kek.bytes(),
        &sealed.sealed,
        &service_aad(name, sealed.key_version),
    )?;
    let mut secret = Zeroizing::new([0u8; 32]);
    if raw.len() != secret.len() {
        return Err(CryptoError::Decrypt);
    }
    secret.copy_from_slice(&raw);
    Ok(secret)
}

/// Seal the service secret `name` again under the active master key.
pub fn reseal_service_secret(
    keyring: &Keyring,
    name: &str,
    sealed: &SealedSecret,
) -> Result<SealedSecret, CryptoError> {
    let secret = open_service_secret(keyring, name, sealed)?;
    seal_service_secret(keyring, name, &secret)
}

/// Where a link in the mail outbox goes: its message, drop and recipient.
#[derive(Debug, Clone, Copy)]
pub struct MailBinding<'a> {
    pub mail_id: &'a str,
    pub drop_id: &'a str,
    pub recipient: &'a str,
}

impl MailBinding<'_> {
    fn aad(&self, key_version: i64) -> Vec<u8> {
        format!(
            "keydrop/mail-link/v1\0mail={}\0drop={}\0to={}\0kv={key_version}",
            self.mail_id, self.drop_id, self.recipient
        )
        .into_bytes()
    }
}

/// A link token in the mail outbox (SPEC §8.14), sealed directly under the active master key
/// until the message is sent. The associated data names the outbox row, its drop, its
/// recipient and the key version, so a sealed link moved to another message or drop, or
/// redirected to another address in the database, fails to open.
pub fn seal_link(
    keyring: &Keyring,
    to: MailBinding<'_>,
    token: &[u8],
) -> Result<SealedSecret, CryptoError> {
    let (version, kek) = keyring.active()?;
    Ok(SealedSecret {
        key_version: version,
        sealed: seal(kek.bytes(), token, &to.aad(version))?,
    })
}

/// Open a link sealed by [`seal_link`].
pub fn open_link(
    keyring: &Keyring,
    to: MailBinding<'_>,
    sealed: &SealedSecret,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let kek = keyring.get(sealed.key_version)?;
    open(kek.bytes(), &sealed.sealed, &to.aad(sealed.key_version))
}

/// Seal a queued link again under the active master key (`keys rewrap`).
pub fn reseal_link(
    keyring: &Keyring,
    to: MailBinding<'_>,
    sealed: &SealedSecret,
) -> Result<SealedSecret, CryptoError> {
    let token = open_link(keyring, to, sealed)?;
    seal_link(keyring, to, &token)
}

#[cfg(test)]
mod aux_tests {
    use super::*;

    #[test]
    fn a_sealed_link_opens_only_for_its_row() {
        let keyring = Keyring::single(super::super::keyring::MasterKey::generate().unwrap());
        let to = |mail_id, drop_id, recipient| MailBinding {
            mail_id,
            drop_id,
            recipient,
        };
        let sealed = seal_link(&keyring, to("m1", "d1", "a@x.example"), b"token").unwrap();
        let open = |b| open_link(&keyring, b, &sealed);
        assert_eq!(&open(to("m1", "d1", "a@x.example")).unwrap()[..], b"token");
        assert!(open(to("m2", "d1", "a@x.example")).is_err());
        assert!(open(to("m1", "d2", "a@x.example")).is_err());
        assert!(open(to("m1", "d1", "b@x.example")).is_err());
        assert!(!sealed.sealed.windows(5).any(|w| w == b"token"));
    }

    #[test]
    fn aux_values_are_bound_to_row_and_purpose_and_survive_rewrap_and_reseal() {
        let keyring = Keyring::single(crate::crypto::keyring::MasterKey::generate().unwrap());
        let b = Binding {
            credential_id: "c1",
            drop_id: "d1",
            kind: "harvest_v3",
        };
        let env = encrypt(&keyring, b, b"secret").unwrap();
        let aux = seal_aux(&keyring, b, &env, "access", b"tok").unwrap();
        assert_eq!(
            &open_aux(&keyring, b, &env, "access", &aux).unwrap()[..],
            b"tok"
        );
        assert!(open_aux(&keyring, b, &env, "other", &aux).is_err());
        let moved = Binding {
            credential_id: "c2",
            ..b
        };
        assert!(open_aux(&keyring, moved, &env, "access", &aux).is_err());
        // The aux value is not the secret, and the secret is not an aux value.
        let as_secret = Envelope {
            ciphertext: aux.clone(),
            ..env.clone()
        };
        assert!(decrypt(&keyring, b, &as_secret).is_err());
        assert!(open_aux(&keyring, b, &env, "access", &env.ciphertext).is_err());
        let resealed = reseal(&keyring, b, &env, b"rotated").unwrap();
        assert_eq!(resealed.wrapped_key, env.wrapped_key);
        assert_eq!(&decrypt(&keyring, b, &resealed).unwrap()[..], b"rotated");
        assert_eq!(
            &open_aux(&keyring, b, &resealed, "access", &aux).unwrap()[..],
            b"tok"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::keyring::MasterKey;

    const B: Binding<'static> = Binding {
        credential_id: "c1",
        drop_id: "d1",
        kind: "harvest_v3",
    };
    const SECRET: &[u8] = br#"{"client_secret":"s3cr3t-value"}"#;

    fn ring() -> Keyring {
        Keyring::single(MasterKey::generate().unwrap())
    }

    #[test]
    fn round_trip() {
        let k = ring();
        let env = encrypt(&k, B, SECRET).unwrap();
        assert_eq!(decrypt(&k, B, &env).unwrap().as_slice(), SECRET);
        assert!(!env.ciphertext.windows(SECRET.len()).any(|w| w == SECRET));
    }

    #[test]
    fn two_encryptions_differ() {
        let k = ring();
        let a = encrypt(&k, B, SECRET).unwrap();
        let b = encrypt(&k, B, SECRET).unwrap();
        assert_ne!(a.ciphertext, b.ciphertext);
        assert_ne!(a.wrapped_key, b.wrapped_key);
        assert_ne!(a.ciphertext[..NONCE_LEN], b.ciphertext[..NONCE_LEN]);
    }

    #[test]
    fn a_flipped_bit_fails_anywhere() {
        let k = ring();
        let env = encrypt(&k, B, SECRET).unwrap();
        for i in 0..env.ciphertext.len() {
            let mut bad = env.clone();
            bad.ciphertext[i] ^= 0x01;
            assert!(decrypt(&k, B, &bad).is_err(), "ciphertext byte {i}");
        }
        for i in 0..env.wrapped_key.len() {
            let mut bad = env.clone();
            bad.wrapped_key[i] ^= 0x80;
            assert!(decrypt(&k, B, &bad).is_err(), "wrapped key byte {i}");
        }
    }

    #[test]
    fn truncation_fails() {
        let k = ring();
        let env = encrypt(&k, B, SECRET).unwrap();
        for n in [
            0,
            1,
            NONCE_LEN,
            NONCE_LEN + TAG_LEN,
            env.ciphertext.len() - 1,
        ] {
            let mut bad = env.clone();
            bad.ciphertext.truncate(n);
            assert!(decrypt(&k, B, &bad).is_err(), "truncated to {n}");
        }
        let mut bad = env.clone();
        bad.wrapped_key.truncate(env.wrapped_key.len() - 1);
        assert!(decrypt(&k, B, &bad).is_err());
    }

    #[test]
    fn copied_to_another_row_fails() {
        let k = ring();
        let env = encrypt(&k, B, SECRET).unwrap();
        for other in [
            Binding {
                credential_id: "c2",
                ..B
            },
            Binding { drop_id: "d2", ..B },
            Binding {
                kind: "harvest_v1",
                ..B
            },
        ] {
            assert!(decrypt(&k, other, &env).is_err(), "{other:?}");
        }
        let relabelled = Envelope {
            key_version: 2,
            ..env
        };
        assert!(decrypt(&k, B, &relabelled).is_err());
    }

    #[test]
    fn wrong_key_fails() {
        let env = encrypt(&ring(), B, SECRET).unwrap();
        assert!(matches!(
            decrypt(&ring(), B, &env),
            Err(CryptoError::Decrypt)
        ));
    }

    #[test]
    fn rotate_rewrap_decrypt_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.json");
        let mut k = Keyring::load(None, &path, false).unwrap();
        let env = encrypt(&k, B, SECRET).unwrap();
        assert_eq!(env.key_version, 1);
        k.rotate(&path).unwrap();
        let moved = rewrap(&k, B, &env).unwrap();
        assert_eq!(moved.key_version, 2);
        assert_eq!(moved.ciphertext, env.ciphertext);
        assert_eq!(decrypt(&k, B, &moved).unwrap().as_slice(), SECRET);
    }
}

#[cfg(test)]
mod service_secret_tests {
    use super::*;
    use crate::crypto::keyring::MasterKey;

    #[test]
    fn service_secrets_are_bound_to_name_and_version_and_survive_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.json");
        let mut ring = Keyring::load(None, &path, false).unwrap();
        let (secret, sealed) = new_service_secret(&ring, "csrf").unwrap();
        assert_eq!(sealed.key_version, 1);
        assert_ne!(secret.as_ref(), ring.get(1).unwrap().bytes());
        assert_eq!(open_service_secret(&ring, "csrf", &sealed).unwrap(), secret);
        assert!(open_service_secret(&ring, "other", &sealed).is_err());
        let relabelled = SealedSecret {
            key_version: 2,
            ..sealed.clone()
        };
        assert!(open_service_secret(&ring, "csrf", &relabelled).is_err());
        let other = Keyring::single(MasterKey::generate().unwrap());
        assert!(open_service_secret(&other, "csrf", &sealed).is_err());
        // A rotation leaves the secret as it is; a reseal moves it to the new version.
        ring.rotate(&path).unwrap();
        assert_eq!(open_service_secret(&ring, "csrf", &sealed).unwrap(), secret);
        let moved = reseal_service_secret(&ring, "csrf", &sealed).unwrap();
        assert_eq!(moved.key_version, 2);
        assert_eq!(open_service_secret(&ring, "csrf", &moved).unwrap(), secret);
        assert!(!format!("{moved:?}").contains("sealed:"));
    }
}
