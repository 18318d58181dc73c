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

/// Lowercase hex of a byte string.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// SHA-256, hex encoded.
pub fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    hex(ctx.finish().as_ref())
}
