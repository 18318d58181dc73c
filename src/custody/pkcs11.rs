//! The `pkcs11` custody: an AES-256 key on a PKCS#11 token (an HSM, or
//! SoftHSM2 in tests), used through `cryptoki`. Each master key is sealed
//! with `CKM_AES_GCM` (a random 96-bit IV, a 128-bit tag) and its version as
//! the additional data: `wrapped` = IV ‖ ciphertext ‖ tag. `keys init`
//! creates the key (sensitive, never extractable) when the token has none
//! under the label.
//!
//! The PKCS#11 library is loaded and initialised once per process and never
//! finalised (finalising one context would close every other's sessions).

use super::{CustodyError, KeyCustody};
use crate::crypto::keyring::MasterKey;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use secrecy::SecretString;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

const IV: usize = 12;
const TAG_BITS: u64 = 128;

pub struct Pkcs11Key {
    context: Pkcs11,
    slot: Slot,
    pin: SecretString,
    label: String,
    name: String,
}

/// One loaded and initialised library per module path.
fn library(module: &Path) -> Result<Pkcs11, P11Error> {
    static LOADED: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut loaded = LOADED
        .get_or_init(Default::default)
        .lock()
        .map_err(|_| P11Error::InvalidValue)?;
    if let Some(ctx) = loaded.get(module) {
        return Ok(ctx.clone());
    }
    let ctx = Pkcs11::new(module)?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(P11Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(e),
    }
    loaded.insert(module.to_owned(), ctx.clone());
    Ok(ctx)
}

impl Pkcs11Key {
    pub fn connect(
        label: &str,
        module: Option<&Path>,
        token: Option<&str>,
        pin_file: Option<&Path>,
    ) -> Result<Self, CustodyError> {
        let name = format!("pkcs11:{label}");
        let config = |what: &str| CustodyError::Config(format!("{name}: {what}"));
        let module =
            module.ok_or_else(|| config("set KEYDROP_PKCS11_MODULE (the PKCS#11 library)"))?;
        let token = token.ok_or_else(|| config("set KEYDROP_PKCS11_TOKEN (the token's label)"))?;
        let pin_file = pin_file
            .ok_or_else(|| config("set KEYDROP_PKCS11_PIN_FILE (a file holding the user PIN)"))?;
        let pin = SecretString::from(
            std::fs::read_to_string(pin_file)
                .map_err(|e| {
                    config(&format!(
                        "KEYDROP_PKCS11_PIN_FILE {}: {e}",
                        pin_file.display()
                    ))
                })?
                .trim()
                .to_owned(),
        );
        let context = library(module).map_err(|e| match e {
            P11Error::LibraryLoading(e) => {
                config(&format!("cannot load {}: {e}", module.display()))
            }
            e => CustodyError::Unreachable(format!("{name}: {e}")),
        })?;
        let slots = context
            .get_slots_with_token()
            .map_err(|e| CustodyError::Unreachable(format!("{name}: {e}")))?;
        let slot = slots
            .into_iter()
            .find(|s| {
                context
                    .get_token_info(*s)
                    .is_ok_and(|info| info.label().trim_end() == token)
            })
            .ok_or_else(|| {
                CustodyError::Unreachable(format!("{name}: no token labelled {token:?} is present"))
            })?;
        Ok(Self {
            context,
            slot,
            pin,
            label: label.to_owned(),
            name,
        })
    }

    /// A logged-in session (a token keeps one login for all of a process's sessions).
    fn session(&self, read_write: bool) -> Result<Session, CustodyError> {
        let session = if read_write {
            self.context.open_rw_session(self.slot)
        } else {
            self.context.open_ro_session(self.slot)
        }
        .map_err(|e| CustodyError::Unreachable(format!("{}: {e}", self.name)))?;
        match session.login(UserType::User, Some(&self.pin)) {
            Ok(()) | Err(P11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
            Err(P11Error::Pkcs11(
                RvError::PinIncorrect | RvError::PinLocked | RvError::PinExpired,
                _,
            )) => Err(CustodyError::Refused(format!(
                "{}: the token refused the PIN",
                self.name
            ))),
            Err(e) => Err(CustodyError::Unreachable(format!("{}: {e}", self.name))),
        }
    }

    fn template(&self) -> Vec<Attribute> {
        vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Label(self.label.as_bytes().to_vec()),
        ]
    }

    fn find(&self, session: &Session) -> Result<Option<ObjectHandle>, CustodyError> {
        let found = session
            .find_objects(&self.template())
            .map_err(|e| self.failed("finding the key", e))?;
        match found.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            _ => Err(CustodyError::Refused(format!(
                "{}: several AES keys carry this label; give the key keydrop uses a label of its own",
                self.name
            ))),
        }
    }

    /// The key under the label — only if the token keeps it sensitive and never lets it
    /// out: a key that could be read off the token is no custody.
    fn key(&self, session: &Session) -> Result<ObjectHandle, CustodyError> {
        let handle = self.find(session)?.ok_or_else(|| {
            CustodyError::Refused(format!(
                "{}: the token has no AES key with this label (`keydrop keys init` creates one)",
                self.name
            ))
        })?;
        let attributes = session
            .get_attributes(
                handle,
                &[AttributeType::Sensitive, AttributeType::Extractable],
            )
            .map_err(|e| self.failed("reading the key's attributes", e))?;
        let sensitive = attributes
            .iter()
            .any(|a| matches!(a, Attribute::Sensitive(true)));
        let extractable = attributes
            .iter()
            .any(|a| matches!(a, Attribute::Extractable(true)));
        if !sensitive || extractable {
            return Err(CustodyError::Refused(format!(
                "{}: the key under this label can leave the token (it must be sensitive and not extractable)",
                self.name
            )));
        }
        Ok(handle)
    }

    /// A token's error: the token or device failing is worth waiting for; anything else
    /// (wrong data, wrong key, no permission) is a refusal.
    fn failed(&self, what: &str, e: P11Error) -> CustodyError {
        let shown = format!("{}: {what}: {e}", self.name);
        match e {
            P11Error::Pkcs11(
                RvError::DeviceError
                | RvError::DeviceMemory
                | RvError::DeviceRemoved
                | RvError::TokenNotPresent
                | RvError::TokenNotRecognized
                | RvError::SessionClosed
                | RvError::SessionHandleInvalid
                | RvError::SessionCount
                | RvError::HostMemory
                | RvError::FunctionFailed
                | RvError::CryptokiNotInitialized,
                _,
            ) => CustodyError::Unreachable(shown),
            _ => CustodyError::Refused(shown),
        }
    }

    /// The key under the label, created (AES-256, sensitive, not
    /// extractable) when the token has none. Returns whether it was created.
    pub fn ensure_key(&self) -> Result<bool, CustodyError> {
        let session = self.session(true)?;
        if self.find(&session)?.is_some() {
            return Ok(false);
        }
        let mut template = self.template();
        template.extend([
            Attribute::ValueLen(32u64.into()),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
        ]);
        session
            .generate_key(&Mechanism::AesKeyGen, &template)
            .map_err(|e| CustodyError::Refused(format!("{}: creating the key: {e}", self.name)))?;
        Ok(true)
    }

    fn seal(&self, version: i64, key: &MasterKey) -> Result<Vec<u8>, CustodyError> {
        let session = self.session(false)?;
        let handle = self.key(&session)?;
        let mut iv = [0u8; IV];
        crate::crypto::random::fill(&mut iv)
            .map_err(|e| CustodyError::Refused(format!("{}: {e}", self.name)))?;
        let aad = aad(version);
        let mut iv_param = iv;
        let params = GcmParams::new(&mut iv_param, &aad, TAG_BITS.into())
            .map_err(|e| CustodyError::Refused(format!("{}: {e}", self.name)))?;
        let sealed = session
            .encrypt(&Mechanism::AesGcm(params), handle, key.bytes())
            .map_err(|e| self.failed("encrypt", e))?;
        // The IV the token used (one that makes its own writes it back here).
        let mut out = iv_param.to_vec();
        out.extend(sealed);
        Ok(out)
    }

    fn open(&self, version: i64, wrapped: &[u8]) -> Result<MasterKey, CustodyError> {
        let refused =
            || CustodyError::Refused(format!("{}: the token could not decrypt it", self.name));
        if wrapped.len() <= IV {
            return Err(refused());
        }
        let session = self.session(false)?;
        let handle = self.key(&session)?;
        let mut iv = [0u8; IV];
        iv.copy_from_slice(&wrapped[..IV]);
        let aad = aad(version);
        let params = GcmParams::new(&mut iv, &aad, TAG_BITS.into())
            .map_err(|e| CustodyError::Refused(format!("{}: {e}", self.name)))?;
        let plain = zeroize::Zeroizing::new(
            session
                .decrypt(&Mechanism::AesGcm(params), handle, &wrapped[IV..])
                .map_err(|e| match self.failed("decrypt", e) {
                    CustodyError::Unreachable(reason) => CustodyError::Unreachable(reason),
                    _ => refused(),
                })?,
        );
        let bytes: [u8; 32] = plain.as_slice().try_into().map_err(|_| refused())?;
        let key = MasterKey::from_bytes(bytes);
        Ok(key)
    }
}

fn aad(version: i64) -> Vec<u8> {
    format!("keydrop kek version {version}").into_bytes()
}

impl KeyCustody for Pkcs11Key {
    async fn wrap(&self, version: i64, key: &MasterKey) -> Result<Vec<u8>, CustodyError> {
        self.seal(version, key)
    }

    async fn unwrap(&self, version: i64, wrapped: &[u8]) -> Result<MasterKey, CustodyError> {
        self.open(version, wrapped)
    }
}
