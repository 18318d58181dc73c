//! The one random source: the operating system's CSPRNG, through ring.

use super::CryptoError;
use ring::rand::{SecureRandom, SystemRandom};
use std::sync::OnceLock;

fn rng() -> &'static SystemRandom {
    static RNG: OnceLock<SystemRandom> = OnceLock::new();
    RNG.get_or_init(SystemRandom::new)
}

/// Fill `buf` from the OS CSPRNG.
pub fn fill(buf: &mut [u8]) -> Result<(), CryptoError> {
    rng().fill(buf).map_err(|_| CryptoError::Random)
}

/// `N` fresh random bytes.
pub fn bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut b = [0u8; N];
    fill(&mut b)?;
    Ok(b)
}

/// A random version-4 UUID from the same source.
pub fn uuid() -> Result<uuid::Uuid, CryptoError> {
    Ok(uuid::Builder::from_random_bytes(bytes::<16>()?).into_uuid())
}
