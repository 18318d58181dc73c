//! Form tokens for the customer page. Stateless: `<issued ms>.<tag>` where
//! the tag is HMAC-SHA256 over the drop id and the issue time, under a key
//! derived from the keyring's oldest master key — so every keydrop process
//! with the same keyring accepts the forms of every other one. A token is
//! valid for 12 hours (the page says to reload after that).

use crate::crypto::keyring::Keyring;
use crate::crypto::CryptoError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use ring::hmac;

pub const VALID_MS: i64 = 12 * 3600 * 1000;
/// Clock skew tolerated between processes.
const SKEW_MS: i64 = 5 * 60 * 1000;

pub struct CsrfKey(hmac::Key);

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey([redacted])")
    }
}

impl CsrfKey {
    pub fn derive(keyring: &Keyring) -> Result<Self, CryptoError> {
        let oldest = keyring.versions().first().copied().unwrap_or(1);
        let master = keyring.get(oldest)?;
        let k = hmac::Key::new(hmac::HMAC_SHA256, master.bytes());
        let derived = hmac::sign(&k, b"keydrop csrf key v1");
        Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref())))
    }

    fn tag(&self, drop_id: &str, issued_ms: i64) -> hmac::Tag {
        hmac::sign(&self.0, format!("{drop_id}\0{issued_ms}").as_bytes())
    }

    pub fn issue(&self, drop_id: &str, now_ms: i64) -> String {
        format!(
            "{now_ms}.{}",
            B64URL.encode(self.tag(drop_id, now_ms).as_ref())
        )
    }

    /// Constant-time check of the tag (ring's `verify`), then of its age.
    pub fn verify(&self, drop_id: &str, token: &str, now_ms: i64) -> bool {
        let Some((issued, tag)) = token.split_once('.') else {
            return false;
        };
        let (Ok(issued_ms), Ok(tag)) = (issued.parse::<i64>(), B64URL.decode(tag)) else {
            return false;
        };
        let msg = format!("{drop_id}\0{issued_ms}");
        hmac::verify(&self.0, msg.as_bytes(), &tag).is_ok()
            && issued_ms <= now_ms + SKEW_MS
            && now_ms - issued_ms <= VALID_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::keyring::MasterKey;

    #[test]
    fn tokens_bind_drop_and_time() {
        let ring = Keyring::single(MasterKey::generate().unwrap());
        let key = CsrfKey::derive(&ring).unwrap();
        let t = key.issue("d1", 1_000_000);
        assert!(key.verify("d1", &t, 1_000_000 + 1000));
        assert!(!key.verify("d2", &t, 1_000_000));
        assert!(!key.verify("d1", &t, 1_000_000 + VALID_MS + 1));
        assert!(!key.verify("d1", "", 0));
        assert!(!key.verify("d1", "1.abc", 0));
        let other = CsrfKey::derive(&Keyring::single(MasterKey::generate().unwrap())).unwrap();
        assert!(!other.verify("d1", &t, 1_000_000));
        // Same keyring, another process: same key.
        assert!(CsrfKey::derive(&ring).unwrap().verify("d1", &t, 1_000_000));
    }
}
