//! API tokens (SPEC §5).
//!
//! Layout: `kd_` followed by unpadded base64url of 48 bytes — a 16-byte token
//! id (a random UUID, also the row's primary key) and 32 bytes (256 bits) of
//! secret randomness. The id lets a request find its row without trying every
//! hash; the whole token is stored only as an argon2id PHC string.

use super::{random, CryptoError};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

pub const PREFIX: &str = "kd_";
const RAW_LEN: usize = 48;
const ENCODED_LEN: usize = 64; // 48 bytes in unpadded base64url

/// A plaintext API token: created, shown once, then only its hash exists.
#[derive(Clone)]
pub struct ApiToken {
    id: Uuid,
    text: SecretString,
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiToken {{ id: {}, token: [redacted] }}", self.id)
    }
}

/// Why a presented token was turned away before any database lookup.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed API token")]
pub struct MalformedToken;

impl ApiToken {
    /// Mint a new token.
    pub fn generate() -> Result<Self, CryptoError> {
        let id = random::uuid()?;
        let mut raw = zeroize::Zeroizing::new([0u8; RAW_LEN]);
        raw[..16].copy_from_slice(id.as_bytes());
        random::fill(&mut raw[16..])?;
        let text = SecretString::from(format!("{PREFIX}{}", B64URL.encode(raw.as_ref())));
        Ok(Self { id, text })
    }

    /// Check the shape of a presented token and read its id. No I/O, no hash.
    pub fn parse(text: &str) -> Result<Self, MalformedToken> {
        let body = text.strip_prefix(PREFIX).ok_or(MalformedToken)?;
        if body.len() != ENCODED_LEN {
            return Err(MalformedToken);
        }
        let raw = zeroize::Zeroizing::new(B64URL.decode(body).map_err(|_| MalformedToken)?);
        let id =
            Uuid::from_slice(raw.get(..16).ok_or(MalformedToken)?).map_err(|_| MalformedToken)?;
        Ok(Self {
            id,
            text: SecretString::from(text.to_owned()),
        })
    }

    pub fn id(&self) -> Uuid {
        self.id
    }

    /// The token itself, for the one place it is shown.
    pub fn reveal(&self) -> &str {
        self.text.expose_secret()
    }

    /// The argon2id PHC string that is stored instead of the token.
    pub fn hash(&self) -> Result<String, CryptoError> {
        let salt_bytes = random::bytes::<16>()?;
        let salt = SaltString::encode_b64(&salt_bytes).map_err(|_| CryptoError::Hash)?;
        hasher()?
            .hash_password(self.text.expose_secret().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|_| CryptoError::Hash)
    }

    /// Whether this token matches a stored PHC string (constant time inside argon2).
    pub fn verify(&self, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        let Ok(h) = hasher() else { return false };
        h.verify_password(self.text.expose_secret().as_bytes(), &parsed)
            .is_ok()
    }

    /// A keyed digest of the token, for the verified-token cache: it identifies
    /// a token without being one, so a dump of the cache yields nothing usable.
    pub fn cache_key(&self, key: &ring::hmac::Key) -> [u8; 32] {
        let tag = ring::hmac::sign(key, self.text.expose_secret().as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }
}

/// argon2id with OWASP's minimum parameters (19 MiB, 2 passes, 1 lane). The
/// tokens carry 256 random bits, so the hash guards a stolen database against
/// nothing weaker than brute force of the full space; cost stays modest.
fn hasher() -> Result<Argon2<'static>, CryptoError> {
    let params = Params::new(19 * 1024, 2, 1, Some(32)).map_err(|_| CryptoError::Hash)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_round_trip() {
        let t = ApiToken::generate().unwrap();
        assert!(t.reveal().starts_with("kd_"));
        assert_eq!(t.reveal().len(), 3 + ENCODED_LEN);
        let again = ApiToken::parse(t.reveal()).unwrap();
        assert_eq!(again.id(), t.id());
        let phc = t.hash().unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(!phc.contains(t.reveal()));
        assert!(again.verify(&phc));
        assert!(!ApiToken::generate().unwrap().verify(&phc));
    }

    #[test]
    fn malformed_tokens_are_rejected_early() {
        for bad in [
            "",
            "kd_",
            "kd_short",
            "xx_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "kd_!!!!AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert_eq!(ApiToken::parse(bad).unwrap_err(), MalformedToken, "{bad}");
        }
    }

    #[test]
    fn debug_hides_the_token() {
        let t = ApiToken::generate().unwrap();
        assert!(!format!("{t:?}").contains(t.reveal()));
    }

    #[test]
    fn two_tokens_differ() {
        let a = ApiToken::generate().unwrap();
        let b = ApiToken::generate().unwrap();
        assert_ne!(a.reveal(), b.reveal());
        assert_ne!(a.id(), b.id());
    }
}
