//! Versioned master keys (key-encryption keys) and their check values.
//!
//! A keyring comes from exactly one place: `KEYDROP_MASTER_KEY` (one key,
//! version 1), a keyring file, or — on a first start with neither — a file
//! generated in the data directory with mode 0600. The newest version is the
//! active one: new data keys are wrapped with it, older ones only unwrap.
//!
//! *Over 400 lines:* its unit tests are inline (the code is ~360 lines).

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

#[derive(Serialize, Deserialize)]
struct KeyEntry {
    version: i64,
    key: String,
}

impl Drop for KeyEntry {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

const FORMAT: &str = "keydrop-keyring/1";

impl Keyring {
    /// A keyring of one key at version 1.
    pub fn single(key: MasterKey) -> Self {
        Self {
            keys: BTreeMap::from([(1, key)]),
            source: KeyringSource::Environment,
            missing: Default::default(),
        }
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
        match master_key {
            Some(_) if file_was_set => Err(KeyringError::Usage(
                "set only one of KEYDROP_MASTER_KEY and KEYDROP_KEYRING_FILE".into(),
            )),
            Some(text) => Ok(Self::single(MasterKey::from_base64(text)?)),
            None if file.exists() => Self::read(file),
            None if file_was_set => Err(KeyringError::File {
                path: file.to_owned(),
                reason: "does not exist (create it with `keydrop keys init`)".into(),
            }),
            None if !may_generate => Err(KeyringError::NotGenerated(file.to_owned())),
            None => {
                let mut ring = Self {
                    keys: BTreeMap::from([(1, MasterKey::generate()?)]),
                    source: KeyringSource::File(file.to_owned()),
                    missing: Default::default(),
                };
                ring.write_new(file)?;
                ring.source = KeyringSource::Generated(file.to_owned());
                Ok(ring)
            }
        }
    }

    /// Read a keyring file.
    pub fn read(path: &Path) -> Result<Self, KeyringError> {
        let err = |reason: String| KeyringError::File {
            path: path.to_owned(),
            reason,
        };
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?);
        let parsed: KeyringFile = serde_json::from_str(&text)
            .map_err(|_| err("is not a keydrop keyring (bad JSON)".into()))?;
        if parsed.format != FORMAT {
            return Err(err(format!("unknown format {:?}", parsed.format)));
        }
        let mut keys = BTreeMap::new();
        for entry in &parsed.keys {
            let key = MasterKey::from_base64(&entry.key).map_err(|_| {
                err(format!(
                    "key version {} is not base64 of 32 bytes",
                    entry.version
                ))
            })?;
            if entry.version < 1 || keys.insert(entry.version, key).is_some() {
                return Err(err(format!(
                    "bad or repeated key version {}",
                    entry.version
                )));
            }
        }
        if keys.is_empty() {
            return Err(err("holds no keys".into()));
        }
        Ok(Self {
            keys,
            source: KeyringSource::File(path.to_owned()),
            missing: Default::default(),
        })
    }

    /// Write this keyring to a file that must not exist yet (mode 0600).
    pub fn write_new(&self, path: &Path) -> Result<(), KeyringError> {
        if path.exists() {
            return Err(KeyringError::File {
                path: path.to_owned(),
                reason: "already exists; refusing to overwrite keys".into(),
            });
        }
        self.write(path)
    }

    /// Add a new active version and save the file atomically.
    pub fn rotate(&mut self, path: &Path) -> Result<i64, KeyringError> {
        let next = self.active_version() + 1;
        self.keys.insert(next, MasterKey::generate()?);
        self.write(path)?;
        self.source = KeyringSource::File(path.to_owned());
        Ok(next)
    }

    fn write(&self, path: &Path) -> Result<(), KeyringError> {
        let err = |reason: String| KeyringError::File {
            path: path.to_owned(),
            reason,
        };
        let file = KeyringFile {
            format: FORMAT.into(),
            keys: self
                .keys
                .iter()
                .map(|(v, k)| KeyEntry {
                    version: *v,
                    key: k.to_base64().to_string(),
                })
                .collect(),
        };
        let text =
            Zeroizing::new(serde_json::to_string_pretty(&file).map_err(|e| err(e.to_string()))?);
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
    fn env_key_and_file_together_is_an_error() {
        let key = B64.encode([1u8; 32]);
        let err = Keyring::load(Some(&key), Path::new("/nonexistent"), true).unwrap_err();
        assert!(err.to_string().contains("only one"));
    }
}
