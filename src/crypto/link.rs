//! Link tokens (SPEC §2): 32 bytes from the OS CSPRNG, base64url without
//! padding (43 characters). Only their SHA-256 is stored; a presented token
//! is found by its hash, so no comparison of secrets happens at all.

use super::{random, sha256_hex, CryptoError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};

pub const LEN: usize = 43;

/// A drop's link token. Never logged; `Debug` prints nothing of it.
pub struct LinkToken(SecretString);

impl std::fmt::Debug for LinkToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkToken([redacted])")
    }
}

impl LinkToken {
    pub fn generate() -> Result<Self, CryptoError> {
        let raw = zeroize::Zeroizing::new(random::bytes::<32>()?);
        Ok(Self(SecretString::from(B64URL.encode(raw.as_ref()))))
    }

    /// Shape check only: 43 base64url characters. Anything else is unknown.
    pub fn parse(text: &str) -> Option<Self> {
        shaped(text).then(|| Self(SecretString::from(text.to_owned())))
    }

    /// What the database stores and is searched by.
    pub fn hash(&self) -> String {
        sha256_hex(&[b"keydrop link v1\0", self.0.expose_secret().as_bytes()])
    }

    /// The token itself, for the one response that shows the link.
    pub fn reveal(&self) -> &str {
        self.0.expose_secret()
    }
}

/// Whether `text` has the shape of 32 random bytes in unpadded base64url.
fn shaped(text: &str) -> bool {
    text.len() == LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A single-use secret in the link-token shape (32 random bytes, 43 base64url characters)
/// for another purpose — an OAuth `state`, the nonce of a browser's connect cookie — stored
/// only as a hash that names its purpose, so a value of one purpose never matches another.
pub struct Opaque(SecretString);

impl std::fmt::Debug for Opaque {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Opaque([redacted])")
    }
}

impl Opaque {
    pub fn generate() -> Result<Self, CryptoError> {
        let raw = zeroize::Zeroizing::new(random::bytes::<32>()?);
        Ok(Self(SecretString::from(B64URL.encode(raw.as_ref()))))
    }

    /// Shape check only, before any I/O.
    pub fn parse(text: &str) -> Option<Self> {
        shaped(text).then(|| Self(SecretString::from(text.to_owned())))
    }

    /// The stored form, for `purpose` (e.g. `oauth-state`).
    pub fn hash(&self, purpose: &str) -> String {
        sha256_hex(&[
            b"keydrop/",
            purpose.as_bytes(),
            b"/v1\0",
            self.0.expose_secret().as_bytes(),
        ])
    }

    /// The value itself, for the one place it is handed out.
    pub fn reveal(&self) -> &str {
        self.0.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_and_hash() {
        let t = LinkToken::generate().unwrap();
        assert_eq!(t.reveal().len(), LEN);
        let again = LinkToken::parse(t.reveal()).unwrap();
        assert_eq!(again.hash(), t.hash());
        assert_ne!(LinkToken::generate().unwrap().hash(), t.hash());
        assert!(!t.hash().contains(t.reveal()));
        assert!(!format!("{t:?}").contains(t.reveal()));
        for bad in [
            "",
            "short",
            &"a".repeat(44),
            &format!("{}!", "a".repeat(42)),
        ] {
            assert!(LinkToken::parse(bad).is_none(), "{bad}");
            assert!(Opaque::parse(bad).is_none(), "{bad}");
        }
        let o = Opaque::parse(t.reveal()).unwrap();
        assert_ne!(o.hash("oauth-state"), o.hash("connect-browser"));
        assert_ne!(o.hash("oauth-state"), t.hash());
        assert!(!format!("{o:?}").contains(t.reveal()));
    }
}
