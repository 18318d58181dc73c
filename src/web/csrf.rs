//! Form tokens for the customer page. Stateless: `<issued ms>.<tag>` where
//! the tag is HMAC-SHA256 over the drop id and the issue time. A token is
//! valid for 12 hours (the page says to reload after that).
//!
//! The key's root is a dedicated secret, not a master key: 32 random bytes
//! made on the first start, stored in the database sealed under the active
//! master key ([`crate::service::secrets::FORM_KEY`]), and moved to a new
//! key version by `keys rewrap` like every data key. Why this and not a
//! derivation (even HKDF with its own label) from the oldest master key:
//!
//! * a key that signs something the public sees never shares its root with
//!   the keys that protect credentials, so nothing about a master key rides
//!   on the form tokens, and the form key can be replaced without touching
//!   the keyring (delete its row and restart every process);
//! * every process on the database reads the same secret, so each accepts
//!   the forms the others issued, whatever keyring file it was given;
//! * `keys rotate` (and, later, retiring old versions) never changes it, so
//!   forms open in customers' browsers stay valid across a rotation and a
//!   restart.
//!
//! The root goes through HMAC with a label once more, so the same secret
//! could serve other purposes under other labels.

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
    /// The form key from its root secret (see the module docs).
    pub fn from_root(root: &[u8; 32]) -> Self {
        let k = hmac::Key::new(hmac::HMAC_SHA256, root);
        let derived = hmac::sign(&k, b"keydrop csrf key v2");
        Self(hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()))
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

    #[test]
    fn tokens_bind_drop_and_time() {
        let key = CsrfKey::from_root(&[7u8; 32]);
        let t = key.issue("d1", 1_000_000);
        assert!(key.verify("d1", &t, 1_000_000 + 1000));
        assert!(!key.verify("d2", &t, 1_000_000));
        assert!(!key.verify("d1", &t, 1_000_000 + VALID_MS + 1));
        assert!(!key.verify("d1", "", 0));
        assert!(!key.verify("d1", "1.abc", 0));
        let other = CsrfKey::from_root(&[8u8; 32]);
        assert!(!other.verify("d1", &t, 1_000_000));
        // Same root, another process: same key.
        assert!(CsrfKey::from_root(&[7u8; 32]).verify("d1", &t, 1_000_000));
    }

    #[test]
    fn the_form_key_is_not_the_root_itself() {
        let root = [9u8; 32];
        let t = CsrfKey::from_root(&root).issue("d1", 5);
        let raw = hmac::Key::new(hmac::HMAC_SHA256, &root);
        let tag = B64URL.encode(hmac::sign(&raw, b"d1\x005").as_ref());
        assert_ne!(t, format!("5.{tag}"));
    }
}
