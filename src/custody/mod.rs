//! Key custody (SPEC §14): who holds the key that wraps each master key.
//!
//! One seam, [`KeyCustody`]: wrap and unwrap a 32-byte master key, bound to
//! its version. Four implementations — `file` (the key itself sits in the
//! keyring file), [`aws_kms`], [`transit`] and [`pkcs11`]. Every wrapped
//! version is unwrapped once, when a process starts ([`load`]); nothing on
//! the request path calls a custody, so a KMS outage while serving changes
//! nothing. An unreachable custody is retried for `KEYDROP_KEY_CUSTODY_WAIT`
//! (30 s); a refusal stops at once, naming the key version.
//!
//! Key material in transit is wiped where this code holds it on the way
//! back (the answer's text, the parsed key); a request body that carries a
//! key to be wrapped (`keys init`, `rotate`, `custody`, never `serve`) is
//! handed to the HTTP client, whose buffers — like a PKCS#11 library's — are
//! beyond its reach.
//!
//! The keyring file's format is `crate::crypto::keyring`'s; this module
//! adds the custody calls: load, `keys init`, `keys rotate` and
//! `keys custody --to`.

pub mod aws_credentials;
pub mod aws_kms;
pub mod pkcs11;
pub mod transit;

use crate::config::{CustodyRef, CustodySettings, StoreSettings};
use crate::crypto::keyring::{Keyring, KeyringError, MasterKey, Opened, StoredKey, StoredKeyring};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum CustodyError {
    /// The custody did not answer (retried at start).
    #[error("{0}")]
    Unreachable(String),
    /// The custody answered no: another key, another context, no permission.
    #[error("{0}")]
    Refused(String),
    /// A setting the custody needs is missing or wrong.
    #[error("{0}")]
    Config(String),
}

/// Wrap and unwrap one master key, bound to its version.
pub(crate) trait KeyCustody {
    async fn wrap(&self, version: i64, key: &MasterKey) -> Result<Vec<u8>, CustodyError>;
    async fn unwrap(&self, version: i64, wrapped: &[u8]) -> Result<MasterKey, CustodyError>;
}

/// The `file` custody: nothing wraps the key.
pub struct FileCustody;

impl KeyCustody for FileCustody {
    async fn wrap(&self, _version: i64, key: &MasterKey) -> Result<Vec<u8>, CustodyError> {
        Ok(key.bytes().to_vec())
    }

    async fn unwrap(&self, _version: i64, wrapped: &[u8]) -> Result<MasterKey, CustodyError> {
        let bytes: [u8; 32] = wrapped
            .try_into()
            .map_err(|_| CustodyError::Refused("file: not a 32-byte key".into()))?;
        Ok(MasterKey::from_bytes(bytes))
    }
}

/// A connected custody.
pub enum Custody {
    File(FileCustody),
    AwsKms(aws_kms::AwsKms),
    Transit(transit::Transit),
    Pkcs11(pkcs11::Pkcs11Key),
}

impl Custody {
    /// Reach `custody` as `settings` say (no call to it yet, except to find
    /// AWS credentials or a PKCS#11 token).
    pub async fn connect(
        custody: &CustodyRef,
        settings: &CustodySettings,
    ) -> Result<Self, CustodyError> {
        Ok(match custody {
            CustodyRef::File => Self::File(FileCustody),
            CustodyRef::AwsKms { key } => Self::AwsKms(
                aws_kms::AwsKms::connect(key, settings.aws_kms_endpoint.as_deref(), http_client()?)
                    .await?,
            ),
            CustodyRef::Transit { mount, key } => Self::Transit(transit::Transit::connect(
                mount,
                key,
                settings.vault_addr.as_deref(),
                settings.vault_token_file.as_deref(),
                settings.vault_token.as_ref(),
                http_client()?,
            )?),
            CustodyRef::Pkcs11 { label } => Self::Pkcs11(pkcs11::Pkcs11Key::connect(
                label,
                settings.pkcs11_module.as_deref(),
                settings.pkcs11_token.as_deref(),
                settings.pkcs11_pin_file.as_deref(),
            )?),
        })
    }

    /// `key` of `version` as the keyring file keeps it under this custody.
    pub async fn seal(
        &self,
        custody: &CustodyRef,
        version: i64,
        key: &MasterKey,
    ) -> Result<StoredKey, CustodyError> {
        let wrapped = match self {
            Self::File(_) => return Ok(StoredKey::Plain(key.clone())),
            Self::AwsKms(c) => c.wrap(version, key).await?,
            Self::Transit(c) => c.wrap(version, key).await?,
            Self::Pkcs11(c) => c.wrap(version, key).await?,
        };
        Ok(StoredKey::Wrapped {
            custody: custody.kind().into(),
            key_ref: custody.key_ref(),
            wrapped,
        })
    }

    pub async fn unwrap(&self, version: i64, wrapped: &[u8]) -> Result<MasterKey, CustodyError> {
        match self {
            Self::File(c) => c.unwrap(version, wrapped).await,
            Self::AwsKms(c) => c.unwrap(version, wrapped).await,
            Self::Transit(c) => c.unwrap(version, wrapped).await,
            Self::Pkcs11(c) => c.unwrap(version, wrapped).await,
        }
    }
}

fn http_client() -> Result<reqwest::Client, CustodyError> {
    let timeout = Duration::from_secs(10);
    reqwest::Client::builder()
        .use_rustls_tls()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("keydrop/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| CustodyError::Config(format!("the key custody's HTTP client: {e}")))
}

/// The master key in a JSON answer's base64 field (a KMS `Plaintext`, Transit's
/// `plaintext`), taken out and its text wiped; `None` unless it is base64 of 32 bytes.
pub(crate) fn take_key(field: &mut serde_json::Value) -> Option<MasterKey> {
    let serde_json::Value::String(mut text) = field.take() else {
        return None;
    };
    let key = MasterKey::from_base64(&text).ok();
    zeroize::Zeroize::zeroize(&mut text);
    key
}

/// A transport error in a few words, without the URL's query.
pub(crate) fn describe_http_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection refused or unreachable".into()
    } else {
        e.to_string()
    }
}

/// Why a keyring could not be loaded: one line, no key material.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Keyring(#[from] KeyringError),
    #[error("key version {version}: the key custody refused to unwrap it ({reason})")]
    Refused { version: i64, reason: String },
    #[error("the key custody {custody} is unreachable ({reason}); gave up after {waited} s")]
    Unreachable {
        custody: String,
        reason: String,
        waited: u64,
    },
    #[error("{0}")]
    Config(String),
}

/// Run `op` until it succeeds, is refused, or the custody has been
/// unreachable for `wait`.
async fn patiently<T, F, Fut>(
    custody: &CustodyRef,
    wait: Duration,
    mut op: F,
) -> Result<T, LoadError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, CustodyError>>,
{
    let started = Instant::now();
    let mut pause = Duration::from_millis(250);
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(CustodyError::Unreachable(reason)) if started.elapsed() < wait => {
                tracing::warn!(custody = %custody, %reason, "the key custody is unreachable; trying again");
                tokio::time::sleep(pause.min(wait.saturating_sub(started.elapsed()))).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            Err(CustodyError::Unreachable(reason)) => {
                let name = custody.to_string();
                let reason = reason
                    .strip_prefix(&format!("{name}: "))
                    .unwrap_or(&reason)
                    .to_owned();
                return Err(LoadError::Unreachable {
                    custody: name,
                    reason,
                    waited: started.elapsed().as_secs(),
                });
            }
            Err(CustodyError::Config(reason)) => return Err(LoadError::Config(reason)),
            Err(CustodyError::Refused(reason)) => return Err(LoadError::Config(reason)),
        }
    }
}

/// Connect to `custody`, waiting for it as start-up does.
pub async fn reach(custody: &CustodyRef, settings: &CustodySettings) -> Result<Custody, LoadError> {
    patiently(custody, settings.wait, || {
        Custody::connect(custody, settings)
    })
    .await
}

/// Unwrap every version of a keyring file, each with the custody it
/// records (connected once each).
pub async fn unseal(
    stored: &StoredKeyring,
    settings: &CustodySettings,
) -> Result<Keyring, LoadError> {
    let mut connected: BTreeMap<String, Custody> = BTreeMap::new();
    let mut keys = BTreeMap::new();
    for (version, entry) in &stored.versions {
        let version = *version;
        let key = match entry {
            StoredKey::Plain(key) => (key.clone(), "file".to_owned()),
            StoredKey::Wrapped {
                custody,
                key_ref,
                wrapped,
            } => {
                let custody = CustodyRef::from_parts(custody, key_ref).map_err(|reason| {
                    LoadError::Config(format!("key version {version}: {reason}"))
                })?;
                let label = custody.to_string();
                if !connected.contains_key(&label) {
                    connected.insert(label.clone(), reach(&custody, settings).await?);
                }
                let Some(client) = connected.get(&label) else {
                    return Err(LoadError::Config(format!(
                        "key version {version}: {label} could not be reached"
                    )));
                };
                let key = patiently(&custody, settings.wait, || async {
                    match client.unwrap(version, wrapped).await {
                        Err(CustodyError::Refused(reason)) => Err(CustodyError::Config(
                            LoadError::Refused { version, reason }.to_string(),
                        )),
                        other => other,
                    }
                })
                .await?;
                (key, label)
            }
        };
        keys.insert(version, key);
    }
    Ok(Keyring::from_unwrapped(keys, &stored.path)?)
}

/// The keyring as configured: the environment key, a keyring file (its
/// wrapped versions unwrapped by their custodies), or — with the `file`
/// custody and `may_generate` — a newly generated file.
pub async fn load(settings: &StoreSettings, may_generate: bool) -> Result<Keyring, LoadError> {
    let master_key = settings
        .master_key
        .as_ref()
        .map(secrecy::ExposeSecret::expose_secret);
    let custody = &settings.custody.custody;
    if *custody != CustodyRef::File && master_key.is_some() {
        return Err(LoadError::Config(format!(
            "KEYDROP_MASTER_KEY is a plain key and KEYDROP_KEY_CUSTODY is {custody}: \
             run `keydrop keys init` to wrap it into a keyring file, then unset KEYDROP_MASTER_KEY"
        )));
    }
    if *custody != CustodyRef::File && !settings.keyring_file.exists() {
        return Err(LoadError::Config(format!(
            "there is no keyring file at {}: run `keydrop keys init` (KEYDROP_KEY_CUSTODY is {custody})",
            settings.keyring_file.display()
        )));
    }
    match Keyring::open(
        master_key,
        &settings.keyring_file,
        settings.keyring_file_set,
        may_generate,
    )? {
        Opened::Ready(ring) => Ok(ring),
        Opened::Sealed(stored) => unseal(&stored, &settings.custody).await,
    }
}

/// `keys init`: a new keyring file of one version (the environment key, or
/// a new random one) kept by `custody`. Returns the custody's words about
/// what it did (a PKCS#11 key created).
pub async fn init(
    settings: &StoreSettings,
    custody: &CustodyRef,
) -> Result<Vec<String>, LoadError> {
    let path = &settings.keyring_file;
    if path.exists() {
        return Err(KeyringError::File {
            path: path.clone(),
            reason: "already exists; refusing to overwrite keys".into(),
        }
        .into());
    }
    let key = match &settings.master_key {
        Some(k) => MasterKey::from_base64(secrecy::ExposeSecret::expose_secret(k))?,
        None => MasterKey::generate().map_err(KeyringError::from)?,
    };
    let (client, said) = reach_to_wrap(custody, &settings.custody).await?;
    let stored = seal_checked(&client, custody, 1, &key).await?;
    StoredKeyring {
        path: path.clone(),
        versions: BTreeMap::from([(1, stored)]),
    }
    .write_new()?;
    Ok(said)
}

/// Reach the custody that will wrap keys; for PKCS#11, the AES key is
/// created under its label when the token has none (SPEC §14).
async fn reach_to_wrap(
    custody: &CustodyRef,
    settings: &CustodySettings,
) -> Result<(Custody, Vec<String>), LoadError> {
    let client = reach(custody, settings).await?;
    let mut said = Vec::new();
    if let Custody::Pkcs11(p) = &client {
        if p.ensure_key()
            .map_err(|e| LoadError::Config(e.to_string()))?
        {
            said.push(format!(
                "created the AES-256 key {custody} on the token (sensitive, not extractable)"
            ));
        }
    }
    Ok((client, said))
}

/// Wrap `key` and unwrap it again before anything is written: a custody
/// that cannot give a key back must never be trusted with one.
async fn seal_checked(
    client: &Custody,
    custody: &CustodyRef,
    version: i64,
    key: &MasterKey,
) -> Result<StoredKey, LoadError> {
    let stored = client
        .seal(custody, version, key)
        .await
        .map_err(|e| LoadError::Config(format!("wrapping key version {version}: {e}")))?;
    if let StoredKey::Wrapped { wrapped, .. } = &stored {
        let back = client
            .unwrap(version, wrapped)
            .await
            .map_err(|reason| LoadError::Refused {
                version,
                reason: reason.to_string(),
            })?;
        if back.check_value() != key.check_value() {
            return Err(LoadError::Config(format!(
                "{custody} gave back another key for version {version}; nothing was written"
            )));
        }
    }
    Ok(stored)
}

/// `keys rotate`: a new random version, wrapped by the configured custody,
/// added to the keyring file. The keyring loaded before (every version
/// unwrapped) is passed in; returns the new version.
pub async fn rotate(settings: &StoreSettings, ring: &Keyring) -> Result<(i64, Keyring), LoadError> {
    let mut stored = StoredKeyring::read(&settings.keyring_file)?;
    let version = stored.next_version().max(ring.active_version() + 1);
    let custody = &settings.custody.custody;
    // A keyring a KMS or HSM keeps never gets a plain active key because
    // KEYDROP_KEY_CUSTODY was left unset on this host.
    if *custody == CustodyRef::File {
        if let Some((v, kept)) = stored
            .versions
            .iter()
            .find(|(_, k)| matches!(k, StoredKey::Wrapped { .. }))
            .map(|(v, k)| (*v, k.custody_label()))
        {
            return Err(LoadError::Config(format!(
                "key version {v} is kept by {kept} but KEYDROP_KEY_CUSTODY is file (unset?): \
                 set KEYDROP_KEY_CUSTODY={kept} to rotate under it, or move every version to \
                 file first (`keydrop keys custody --to file`)"
            )));
        }
    }
    let client = reach(custody, &settings.custody).await?;
    let key = MasterKey::generate().map_err(KeyringError::from)?;
    let entry = seal_checked(&client, custody, version, &key).await?;
    stored.versions.insert(version, entry);
    stored.write()?;
    let mut keys: BTreeMap<i64, (MasterKey, String)> = ring
        .versions()
        .into_iter()
        .filter_map(|v| {
            ring.peek(v)
                .map(|k| (v, (k.clone(), ring.custody_of(v).to_owned())))
        })
        .collect();
    keys.insert(version, (key, custody.to_string()));
    Ok((
        version,
        Keyring::from_unwrapped(keys, &settings.keyring_file)?,
    ))
}

/// `keys custody --to`: every version re-wrapped by `to` (the master keys
/// and so every data key unchanged). Returns the versions moved.
pub async fn move_to(
    settings: &StoreSettings,
    ring: &Keyring,
    to: &CustodyRef,
) -> Result<(Vec<i64>, Vec<String>), LoadError> {
    let (client, said) = reach_to_wrap(to, &settings.custody).await?;
    let mut versions = BTreeMap::new();
    for v in ring.versions() {
        let Some(key) = ring.peek(v) else { continue };
        versions.insert(v, seal_checked(&client, to, v, key).await?);
    }
    StoredKeyring {
        path: settings.keyring_file.clone(),
        versions,
    }
    .write()?;
    Ok((ring.versions(), said))
}
