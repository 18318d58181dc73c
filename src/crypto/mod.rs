//! Everything that touches key material. The rest of the code never sees a
//! nonce, a key or an AEAD call: it asks [`cipher`] to seal and open, and
//! [`token`] to mint and verify tokens.

pub mod audit;
pub mod cipher;
pub mod hasher;
pub mod keyring;
pub mod link;
pub mod random;
pub mod token;

/// A cryptographic operation failed. Deliberately vague: the reason never
/// reaches a client, and a failure always fails closed.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the operating system's random source failed")]
    Random,
    #[error("decryption failed: wrong key, wrong row, or tampered data")]
    Decrypt,
    #[error("encryption failed")]
    Encrypt,
    #[error("key version {0} is not in the keyring")]
    UnknownKeyVersion(i64),
    #[error("password hashing failed")]
    Hash,
}

/// Lowercase hex of a byte string. By table, not `write!("{b:02x}")`: every
/// page view hashes its link token, and the formatter cost more than the
/// SHA-256 itself.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// The PKCE S256 challenge of `verifier` (RFC 7636 §4.2): base64url, no padding, of its
/// SHA-256.
pub fn pkce_challenge(verifier: &str) -> String {
    use base64::Engine;
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// SHA-256, hex encoded.
pub fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    hex(ctx.finish().as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_two_lowercase_digits_per_byte() {
        let every: Vec<u8> = (0..=255).collect();
        let expected: String = every.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex(&every), expected);
        assert_eq!(hex(&[]), "");
        // FIPS 180-2's "abc", split across parts.
        assert_eq!(
            sha256_hex(&[b"a", b"bc"]),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
