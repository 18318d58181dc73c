//! Versioned master keys (key-encryption keys) and their check values.
//!
//! A keyring comes from exactly one place: `KEYDROP_MASTER_KEY` (one key,
//! version 1), a keyring file, or — on a first start with neither — a file
//! generated in the data directory with mode 0600. The newest version is the
//! active one: new data keys are wrapped with it, older ones only unwrap.
//!
//! A keyring file is format 1 (every version a plain key: the `file`
//! custody) or format 2 (SPEC §14: per version the custody, its key
//! reference and the key as that custody wrapped it). This module reads and
//! writes both ([`StoredKeyring`]) but opens only plain keys; wrapped ones
//! are opened by `crate::custody`, which hands the keys back through
//! [`Keyring::from_unwrapped`]. A keyring never writes a key of another
//! custody in plain.
//!
//! *Over 400 lines:* its unit tests are inline (the code is ~450 lines).

use super::{hex, random, CryptoError};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use zeroize::{Zeroize, Zeroizing};

/// One 256-bit key-encryption key. Never printed.
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl MasterKey {
    pub fn generate() -> Result<Self, CryptoError> {
        let mut k = Zeroizing::new([0u8; 32]);
        random::fill(k.as_mut())?;
        Ok(Self(k))
    }

    /// Parse standard base64 of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, KeyringError> {
        let mut raw = Zeroizing::new(
            B64.decode(text.trim())
                .map_err(|_| KeyringError::BadKey("is not valid base64".into()))?,
        );
        if raw.len() != 32 {
            let n = raw.len();
            raw.zeroize();
            return Err(KeyringError::BadKey(format!(
                "decodes to {n} bytes; exactly 32 are needed"
            )));
        }
        let mut k = Zeroizing::new([0u8; 32]);
        k.copy_from_slice(&raw);
        Ok(Self(k))
    }

    /// A key from its 32 bytes (a custody's unwrap); the array is wiped.
    pub fn from_bytes(mut bytes: [u8; 32]) -> Self {
        let k = Zeroizing::new(bytes);
        bytes.zeroize();
        Self(k)
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(B64.encode(self.0.as_ref()))
    }

    /// A one-way value that tells whether a key is the one the database was
    /// written with, without revealing the key: HMAC-SHA256 over a constant.
    pub fn check_value(&self) -> String {
        let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, self.0.as_ref());
        hex(ring::hmac::sign(&k, b"keydrop key-check value v1").as_ref())
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

/// Where the keyring came from; shown by `keys status` and at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyringSource {
    Environment,
    File(PathBuf),
    Generated(PathBuf),
}

impl std::fmt::Display for KeyringSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Environment => f.write_str("KEYDROP_MASTER_KEY"),
            Self::File(p) => write!(f, "keyring file {}", p.display()),
            Self::Generated(p) => write!(f, "newly generated keyring file {}", p.display()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("KEYDROP_MASTER_KEY {0}")]
    BadKey(String),
    #[error("keyring file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("{0}")]
    Usage(String),
    #[error(
        "no master key is configured and none is generated for a PostgreSQL database \
         (each keydrop process would make a different one): run `keydrop keys init` once, \
         which writes {}, and give that keyring file to every process \
         (KEYDROP_KEYRING_FILE), or set KEYDROP_MASTER_KEY",
        .0.display()
    )]
    NotGenerated(PathBuf),
    #[error("{0}")]
    Crypto(#[from] CryptoError),
}

/// The set of master keys, by version.
#[derive(Clone)]
pub struct Keyring {
    keys: BTreeMap<i64, MasterKey>,
    /// Each version's custody as `KEYDROP_KEY_CUSTODY` writes it (`file`,
    /// `aws-kms:<key>`, …); a version missing here is `file`.
    custody: BTreeMap<i64, String>,
    source: KeyringSource,
    /// Versions that stored data asked for and this keyring lacks (seen
    /// since start; shared by clones). `/readyz` reports them.
    missing: std::sync::Arc<std::sync::Mutex<std::collections::BTreeSet<i64>>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("versions", &self.versions())
            .field("source", &self.source)
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
struct KeyringFile {
    format: String,
    keys: Vec<KeyEntry>,
}

/// One version in a keyring file: `key` (format 1, or custody `file` in
/// format 2), or `custody`, `key_ref` and `wrapped` (format 2).
#[derive(Serialize, Deserialize)]
struct KeyEntry {
    version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    custody: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wrapped: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
}

impl Drop for KeyEntry {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

const FORMAT: &str = "keydrop-keyring/1";
const FORMAT_2: &str = "keydrop-keyring/2";

/// One version as a keyring file holds it.
pub enum StoredKey {
    /// The master key itself (the `file` custody).
    Plain(MasterKey),
    /// The master key as a KMS or HSM wrapped it; only that custody opens it.
    Wrapped {
        /// `aws-kms`, `transit` or `pkcs11`.
        custody: String,
        /// The custody's key: a KMS key id, `mount/key`, a PKCS#11 label.
        key_ref: String,
        wrapped: Vec<u8>,
    },
}

impl StoredKey {
    /// `file`, or the custody and key reference as `KEYDROP_KEY_CUSTODY`
    /// writes them.
    pub fn custody_label(&self) -> String {
        match self {
            Self::Plain(_) => "file".into(),
            Self::Wrapped {
                custody, key_ref, ..
            } => format!("{custody}:{key_ref}"),
        }
    }
}

/// A keyring file as stored: every version, opened or not.
pub struct StoredKeyring {
    pub path: PathBuf,
    pub versions: BTreeMap<i64, StoredKey>,
}

impl StoredKeyring {
    /// Read a keyring file of format 1 or 2.
    pub fn read(path: &Path) -> Result<Self, KeyringError> {
        let err = |reason: String| KeyringError::File {
            path: path.to_owned(),
            reason,
        };
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?);
        let parsed: KeyringFile = serde_json::from_str(&text)
            .map_err(|_| err("is not a keydrop keyring (bad JSON)".into()))?;
        if parsed.format != FORMAT && parsed.format != FORMAT_2 {
            return Err(err(format!("unknown format {:?}", parsed.format)));
        }
        let v2 = parsed.format == FORMAT_2;
        let mut versions = BTreeMap::new();
        for entry in &parsed.keys {
            let v = entry.version;
            let custody = entry.custody.as_deref().unwrap_or("file");
            let stored = match (custody, &entry.key, &entry.wrapped) {
                ("file", Some(key), None) if v2 || entry.custody.is_none() => StoredKey::Plain(
                    MasterKey::from_base64(key)
                        .map_err(|_| err(format!("key version {v} is not base64 of 32 bytes")))?,
                ),
                (kind, None, Some(wrapped)) if v2 && kind != "file" => StoredKey::Wrapped {
                    custody: kind.to_owned(),
                    key_ref: entry.key_ref.clone().unwrap_or_default(),
                    wrapped: B64
                        .decode(wrapped)
                        .map_err(|_| err(format!("key version {v}: `wrapped` is not base64")))?,
                },
                _ => {
                    return Err(err(format!(
                        "key version {v} is neither a key nor a wrapped key of a custody"
                    )))
                }
            };
            if v < 1 || versions.insert(v, stored).is_some() {
                return Err(err(format!("bad or repeated key version {v}")));
            }
        }
        if versions.is_empty() {
            return Err(err("holds no keys".into()));
        }
        Ok(Self {
            path: path.to_owned(),
            versions,
        })
    }

    /// Write to `self.path` atomically (mode 0600): format 1 when every
    /// version is a plain key, else format 2.
    pub fn write(&self) -> Result<(), KeyringError> {
        let all_plain = self
            .versions
            .values()
            .all(|k| matches!(k, StoredKey::Plain(_)));
        let file = KeyringFile {
            format: if all_plain { FORMAT } else { FORMAT_2 }.into(),
            keys: self
                .versions
                .iter()
                .map(|(v, k)| match k {
                    StoredKey::Plain(key) => KeyEntry {
                        version: *v,
                        custody: (!all_plain).then(|| "file".into()),
                        key_ref: None,
                        wrapped: None,
                        key: Some(key.to_base64().to_string()),
                    },
                    StoredKey::Wrapped {
                        custody,
                        key_ref,
                        wrapped,
                    } => KeyEntry {
                        version: *v,
                        custody: Some(custody.clone()),
                        key_ref: Some(key_ref.clone()),
                        wrapped: Some(B64.encode(wrapped)),
                        key: None,
                    },
                })
                .collect(),
        };
        write_file(&self.path, &file)
    }

    /// [`StoredKeyring::write`] to a file that must not exist yet.
    pub fn write_new(&self) -> Result<(), KeyringError> {
        refuse_existing(&self.path)?;
        self.write()
    }

    pub fn next_version(&self) -> i64 {
        self.versions.keys().next_back().copied().unwrap_or(0) + 1
    }
}

/// What [`Keyring::open`] found.
pub enum Opened {
    /// Every key is at hand.
    Ready(Keyring),
    /// A keyring file with versions that a KMS or HSM must unwrap.
    Sealed(StoredKeyring),
}

impl Keyring {
    /// A keyring of one key at version 1.
    pub fn single(key: MasterKey) -> Self {
        Self {
            keys: BTreeMap::from([(1, key)]),
            custody: BTreeMap::new(),
            source: KeyringSource::Environment,
            missing: Default::default(),
        }
    }

    /// A keyring of keys a custody unwrapped: version → (key, its custody
    /// as `KEYDROP_KEY_CUSTODY` writes it).
    pub fn from_unwrapped(
        keys: BTreeMap<i64, (MasterKey, String)>,
        path: &Path,
    ) -> Result<Self, KeyringError> {
        if keys.is_empty() {
            return Err(KeyringError::File {
                path: path.to_owned(),
                reason: "holds no keys".into(),
            });
        }
        let mut ring = Self {
            keys: BTreeMap::new(),
            custody: BTreeMap::new(),
            source: KeyringSource::File(path.to_owned()),
            missing: Default::default(),
        };
        for (v, (key, custody)) in keys {
            ring.keys.insert(v, key);
            ring.custody.insert(v, custody);
        }
        Ok(ring)
    }

    /// The custody of `version` (`file`, `aws-kms:<key>`, …).
    pub fn custody_of(&self, version: i64) -> &str {
        self.custody.get(&version).map_or("file", String::as_str)
    }

    /// Whether every version is a plain key (the `file` custody).
    pub fn is_plain(&self) -> bool {
        self.custody.values().all(|c| c == "file")
    }

    /// The keyring as configured: the environment key, else the file, else a
    /// generated file (the caller warns loudly when `source()` is `Generated`).
    pub fn load(
        master_key: Option<&str>,
        file: &Path,
        file_was_set: bool,
    ) -> Result<Self, KeyringError> {
        Self::load_or(master_key, file, file_was_set, true)
    }

    /// [`Keyring::load`] that never generates a keyring: with no key and no
    /// file it fails with [`KeyringError::NotGenerated`]. For a database
    /// several processes share (PostgreSQL), where each process would
    /// otherwise generate a different key and seal data the others cannot
    /// open.
    pub fn load_shared(
        master_key: Option<&str>,
        file: &Path,
        file_was_set: bool,
    ) -> Result<Self, KeyringError> {
        Self::load_or(master_key, file, file_was_set, false)
    }

    fn load_or(
        master_key: Option<&str>,
        file: &Path,
        file_was_set: bool,
        may_generate: bool,
    ) -> Result<Self, KeyringError> {
        match Self::open(master_key, file, file_was_set, may_generate)? {
            Opened::Ready(ring) => Ok(ring),
            Opened::Sealed(stored) => Err(sealed_error(&stored)),
        }
    }

    /// The keyring as configured, or the keyring file when some of its
    /// versions must be unwrapped by a key custody first. Generates a file
    /// keyring when `may_generate` and there is nothing.
    pub fn open(
        master_key: Option<&str>,
        file: &Path,
        file_was_set: bool,
        may_generate: bool,
    ) -> Result<Opened, KeyringError> {
        if master_key.is_none() && file.exists() {
            let stored = StoredKeyring::read(file)?;
            return Ok(match Self::from_plain(&stored) {
                Some(ring) => Opened::Ready(ring),
                None => Opened::Sealed(stored),
            });
        }
        let ring = match master_key {
            Some(_) if file_was_set => Err(KeyringError::Usage(
                "set only one of KEYDROP_MASTER_KEY and KEYDROP_KEYRING_FILE".into(),
            )),
            Some(text) => Ok(Self::single(MasterKey::from_base64(text)?)),
            None if file_was_set => Err(KeyringError::File {
                path: file.to_owned(),
                reason: "does not exist (create it with `keydrop keys init`)".into(),
            }),
            None if !may_generate => Err(KeyringError::NotGenerated(file.to_owned())),
            None => {
                let mut ring = Self {
                    keys: BTreeMap::from([(1, MasterKey::generate()?)]),
                    custody: BTreeMap::new(),
                    source: KeyringSource::File(file.to_owned()),
                    missing: Default::default(),
                };
                ring.write_new(file)?;
                ring.source = KeyringSource::Generated(file.to_owned());
                Ok(ring)
            }
        }?;
        Ok(Opened::Ready(ring))
    }

    /// The keyring of a file whose versions are all plain keys.
    fn from_plain(stored: &StoredKeyring) -> Option<Self> {
        let mut keys = BTreeMap::new();
        for (v, k) in &stored.versions {
            match k {
                StoredKey::Plain(key) => keys.insert(*v, key.clone()),
                StoredKey::Wrapped { .. } => return None,
            };
        }
        Some(Self {
            keys,
            custody: BTreeMap::new(),
            source: KeyringSource::File(stored.path.clone()),
            missing: Default::default(),
        })
    }

    /// Read a keyring file of plain keys. A version a KMS or HSM wrapped is
    /// refused: only its custody opens it (`crate::custody`).
    pub fn read(path: &Path) -> Result<Self, KeyringError> {
        let stored = StoredKeyring::read(path)?;
        Self::from_plain(&stored).ok_or_else(|| sealed_error(&stored))
    }

    /// Write this keyring to a file that must not exist yet (mode 0600).
    pub fn write_new(&self, path: &Path) -> Result<(), KeyringError> {
        refuse_existing(path)?;
        self.write(path)
    }

    /// Add a new active version and save the file atomically. Only for a
    /// keyring of plain keys: one with keys of a custody rotates through it
    /// (`keydrop keys rotate`).
    pub fn rotate(&mut self, path: &Path) -> Result<i64, KeyringError> {
        let next = self.active_version() + 1;
        let key = MasterKey::generate()?;
        let mut with_next = self.clone();
        with_next.keys.insert(next, key);
        with_next.write(path)?;
        *self = with_next;
        self.source = KeyringSource::File(path.to_owned());
        Ok(next)
    }

    /// Save as a file of plain keys; refused when a version belongs to
    /// another custody (it would be written out unwrapped).
    fn write(&self, path: &Path) -> Result<(), KeyringError> {
        if !self.is_plain() {
            return Err(KeyringError::Usage(format!(
                "this keyring holds keys of a key custody; {} is changed only by `keydrop keys` commands",
                path.display()
            )));
        }
        StoredKeyring {
            path: path.to_owned(),
            versions: self
                .keys
                .iter()
                .map(|(v, k)| (*v, StoredKey::Plain(k.clone())))
                .collect(),
        }
        .write()
    }

    pub fn source(&self) -> &KeyringSource {
        &self.source
    }

    pub fn active_version(&self) -> i64 {
        self.keys.keys().next_back().copied().unwrap_or(1)
    }

    pub fn versions(&self) -> Vec<i64> {
        self.keys.keys().copied().collect()
    }

    /// The key of `version`. A version this keyring lacks is remembered
    /// (see [`Keyring::missing_versions`]) as well as refused.
    pub fn get(&self, version: i64) -> Result<&MasterKey, CryptoError> {
        self.keys.get(&version).ok_or_else(|| {
            if let Ok(mut missing) = self.missing.lock() {
                missing.insert(version);
            }
            CryptoError::UnknownKeyVersion(version)
        })
    }

    /// The key of `version` if this keyring holds it, without remembering a
    /// version it lacks: for looking at the keyring (`keys status`, start-up
    /// checks), where no stored data is being opened.
    pub fn peek(&self, version: i64) -> Option<&MasterKey> {
        self.keys.get(&version)
    }

    /// Key versions that stored data used and this keyring does not hold,
    /// met since start: this process cannot serve those rows until it is
    /// restarted with the current keyring.
    pub fn missing_versions(&self) -> Vec<i64> {
        self.missing
            .lock()
            .map(|m| m.iter().copied().collect())
            .unwrap_or_default()
    }

    pub fn active(&self) -> Result<(i64, &MasterKey), CryptoError> {
        let v = self.active_version();
        Ok((v, self.get(v)?))
    }
}

fn sealed_error(stored: &StoredKeyring) -> KeyringError {
    let (v, custody) = stored
        .versions
        .iter()
        .find(|(_, k)| matches!(k, StoredKey::Wrapped { .. }))
        .map(|(v, k)| (*v, k.custody_label()))
        .unwrap_or((0, String::new()));
    KeyringError::File {
        path: stored.path.clone(),
        reason: format!(
            "key version {v} is wrapped by the key custody {custody} and opens only through it"
        ),
    }
}

fn refuse_existing(path: &Path) -> Result<(), KeyringError> {
    if path.exists() {
        return Err(KeyringError::File {
            path: path.to_owned(),
            reason: "already exists; refusing to overwrite keys".into(),
        });
    }
    Ok(())
}

/// Write a keyring file atomically and durably, mode 0600.
fn write_file(path: &Path, file: &KeyringFile) -> Result<(), KeyringError> {
    let err = |reason: String| KeyringError::File {
        path: path.to_owned(),
        reason,
    };
    let text = Zeroizing::new(serde_json::to_string_pretty(file).map_err(|e| err(e.to_string()))?);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    }
    let tmp = path.with_extension("json.tmp");
    write_private(&tmp, text.as_bytes()).map_err(|e| err(e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| err(e.to_string()))?;
    // Make the rename itself durable: a rotated key must survive a crash.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| err(e.to_string()))?;
    }
    Ok(())
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_key_must_be_32_bytes_of_base64() {
        assert!(MasterKey::from_base64(&B64.encode([7u8; 32])).is_ok());
        assert!(MasterKey::from_base64(&B64.encode([7u8; 31])).is_err());
        assert!(MasterKey::from_base64("not base64!").is_err());
    }

    #[test]
    fn debug_prints_no_key() {
        let text = B64.encode([9u8; 32]);
        let ring = Keyring::single(MasterKey::from_base64(&text).unwrap());
        let shown = format!("{ring:?} {:?}", ring.get(1).unwrap());
        assert!(!shown.contains(&text));
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn generated_file_is_private_and_rotates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.json");
        let mut ring = Keyring::load(None, &path, false).unwrap();
        assert!(matches!(ring.source(), KeyringSource::Generated(_)));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let v1_check = ring.get(1).unwrap().check_value();
        assert_eq!(ring.rotate(&path).unwrap(), 2);
        let again = Keyring::read(&path).unwrap();
        assert_eq!(again.versions(), vec![1, 2]);
        assert_eq!(again.active_version(), 2);
        assert_eq!(again.get(1).unwrap().check_value(), v1_check);
        assert_ne!(again.get(2).unwrap().check_value(), v1_check);
    }

    #[test]
    fn a_shared_database_never_gets_a_generated_keyring() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.json");
        let err = Keyring::load_shared(None, &path, false).unwrap_err();
        assert!(matches!(err, KeyringError::NotGenerated(_)));
        let shown = err.to_string();
        assert!(
            shown.contains("keydrop keys init") && !shown.contains('\n'),
            "{shown}"
        );
        assert!(!path.exists(), "nothing was written");
        // A key or a keyring file is used as usual.
        let key = B64.encode([4u8; 32]);
        assert!(Keyring::load_shared(Some(&key), &path, false).is_ok());
        Keyring::single(MasterKey::generate().unwrap())
            .write_new(&path)
            .unwrap();
        let ring = Keyring::load_shared(None, &path, false).unwrap();
        assert_eq!(ring.source(), &KeyringSource::File(path));
    }

    #[test]
    fn format_2_keeps_wrapped_keys_and_never_writes_them_out_plain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.json");
        let plain = MasterKey::generate().unwrap();
        let stored = StoredKeyring {
            path: path.clone(),
            versions: BTreeMap::from([
                (1, StoredKey::Plain(plain.clone())),
                (
                    2,
                    StoredKey::Wrapped {
                        custody: "aws-kms".into(),
                        key_ref: "alias/keydrop".into(),
                        wrapped: vec![1, 2, 3],
                    },
                ),
            ]),
        };
        stored.write_new().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("keydrop-keyring/2") && text.contains("\"custody\": \"file\""));
        let again = StoredKeyring::read(&path).unwrap();
        assert_eq!(again.versions[&2].custody_label(), "aws-kms:alias/keydrop");
        assert!(
            matches!(&again.versions[&1], StoredKey::Plain(k) if k.check_value() == plain.check_value())
        );
        // Alone, the file opens only its plain versions' keyring: not at all.
        let err = Keyring::read(&path).unwrap_err().to_string();
        assert!(
            err.contains("key version 2 is wrapped by the key custody aws-kms:alias/keydrop"),
            "{err}"
        );
        assert!(matches!(
            Keyring::open(None, &path, true, false).unwrap(),
            Opened::Sealed(_)
        ));
        // A keyring holding a custody's key refuses to save itself in plain.
        let mut ring = Keyring::from_unwrapped(
            BTreeMap::from([(
                2,
                (
                    MasterKey::generate().unwrap(),
                    "aws-kms:alias/keydrop".into(),
                ),
            )]),
            &path,
        )
        .unwrap();
        assert!(ring.rotate(&path).is_err());
        assert_eq!(ring.versions(), vec![2]);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            text,
            "file unchanged"
        );
        // A format-1 file with a custody field, or a wrapped key without one, is refused.
        for bad in [
            r#"{"format":"keydrop-keyring/1","keys":[{"version":1,"custody":"aws-kms","key_ref":"k","wrapped":"AQ=="}]}"#,
            r#"{"format":"keydrop-keyring/2","keys":[{"version":1,"custody":"file","wrapped":"AQ=="}]}"#,
        ] {
            std::fs::write(&path, bad).unwrap();
            assert!(StoredKeyring::read(&path).is_err(), "{bad}");
        }
    }

    #[test]
    fn env_key_and_file_together_is_an_error() {
        let key = B64.encode([1u8; 32]);
        let err = Keyring::load(Some(&key), Path::new("/nonexistent"), true).unwrap_err();
        assert!(err.to_string().contains("only one"));
    }
}
