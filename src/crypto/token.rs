//! API tokens (SPEC §5).
//!
//! Layout: `kd_` followed by unpadded base64url of 64 bytes — a 16-byte token
//! id (a random UUID, also the row's primary key), 32 bytes (256 bits) of
//! secret randomness, and a 16-byte tag: HMAC-SHA256 of id and randomness
//! under the deployment's [`TagKey`] (a service secret sealed under the
//! keyring), cut to 128 bits. The id lets a request find its row without
//! trying every hash; the whole token is stored only as an argon2id PHC
//! string.
//!
//! The tag is what lets keydrop throttle argon2 work without ever locking
//! out the holder of a good token: nobody without the tag key can make a
//! token that passes it, so a forged token is refused by one HMAC, before
//! any database read or argon2 run, and a token that passes is genuine —
//! its argon2 check is never refused because of other callers' failures.
//!
//! Tokens minted before the tag existed (`kd_` + 48 bytes: id and
//! randomness) still work; their cold checks keep a per-id back-off
//! (`web::middleware::auth_throttle`), and README asks operators to re-issue them.

use super::{random, CryptoError};
use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

pub const PREFIX: &str = "kd_";
const ID_LEN: usize = 16;
const SECRET_LEN: usize = 32;
const TAG_LEN: usize = 16;
const RAW_LEN: usize = ID_LEN + SECRET_LEN + TAG_LEN;
const ENCODED_LEN: usize = 86; // 64 bytes in unpadded base64url
const LEGACY_RAW_LEN: usize = ID_LEN + SECRET_LEN;
const LEGACY_ENCODED_LEN: usize = 64; // 48 bytes in unpadded base64url
/// A stored hash asking for more memory than this (KiB) is refused rather
/// than run: keydrop writes 19 MiB ones.
const MAX_M_COST: u32 = 64 * 1024;

/// The key that tags API tokens (see the module docs). Never printed.
#[derive(Clone)]
pub struct TagKey(ring::hmac::Key);

impl TagKey {
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        Self(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, bytes))
    }

    fn tag(&self, id_and_secret: &[u8]) -> [u8; TAG_LEN] {
        let mut ctx = ring::hmac::Context::with_key(&self.0);
        ctx.update(b"keydrop api token tag v1\0");
        ctx.update(id_and_secret);
        let full = ctx.sign();
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(&full.as_ref()[..TAG_LEN]);
        out
    }
}

impl std::fmt::Debug for TagKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TagKey([redacted])")
    }
}

/// How a presented token is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Carries a tag (every token minted now).
    Tagged,
    /// From before tags; no way to tell a forgery without an argon2 run.
    Legacy,
}

/// A plaintext API token: created, shown once, then only its hash exists.
#[derive(Clone)]
pub struct ApiToken {
    id: Uuid,
    layout: Layout,
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
    /// Mint a new token, tagged with `tag`.
    pub fn generate(tag: &TagKey) -> Result<Self, CryptoError> {
        let id = random::uuid()?;
        let mut raw = zeroize::Zeroizing::new([0u8; RAW_LEN]);
        raw[..ID_LEN].copy_from_slice(id.as_bytes());
        random::fill(&mut raw[ID_LEN..LEGACY_RAW_LEN])?;
        let t = tag.tag(&raw[..LEGACY_RAW_LEN]);
        raw[LEGACY_RAW_LEN..].copy_from_slice(&t);
        let text = SecretString::from(format!("{PREFIX}{}", B64URL.encode(raw.as_ref())));
        Ok(Self {
            id,
            layout: Layout::Tagged,
            text,
        })
    }

    /// Check the shape of a presented token and read its id. No I/O, no hash.
    pub fn parse(text: &str) -> Result<Self, MalformedToken> {
        let body = text.strip_prefix(PREFIX).ok_or(MalformedToken)?;
        let layout = match body.len() {
            ENCODED_LEN => Layout::Tagged,
            LEGACY_ENCODED_LEN => Layout::Legacy,
            _ => return Err(MalformedToken),
        };
        let raw = zeroize::Zeroizing::new(B64URL.decode(body).map_err(|_| MalformedToken)?);
        let id = Uuid::from_slice(raw.get(..ID_LEN).ok_or(MalformedToken)?)
            .map_err(|_| MalformedToken)?;
        Ok(Self {
            id,
            layout,
            text: SecretString::from(text.to_owned()),
        })
    }

    pub fn id(&self) -> Uuid {
        self.id
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Whether a tagged token's tag is right under `tag` (constant time).
    /// `false` for a legacy token, which has none.
    pub fn tag_is_valid(&self, tag: &TagKey) -> bool {
        if self.layout != Layout::Tagged {
            return false;
        }
        let Some(body) = self.text.expose_secret().strip_prefix(PREFIX) else {
            return false;
        };
        let Ok(raw) = B64URL.decode(body).map(zeroize::Zeroizing::new) else {
            return false;
        };
        if raw.len() != RAW_LEN {
            return false;
        }
        let expected = tag.tag(&raw[..LEGACY_RAW_LEN]);
        use subtle::ConstantTimeEq as _;
        expected.ct_eq(&raw[LEGACY_RAW_LEN..]).into()
    }

    /// The token itself, for the one place it is shown.
    pub fn reveal(&self) -> &str {
        self.text.expose_secret()
    }

    /// The argon2id PHC string that is stored instead of the token. Allocates
    /// its own argon2 memory: for tools and tests; the service hashes on
    /// [`super::hasher::Hasher`].
    pub fn hash(&self) -> Result<String, CryptoError> {
        self.hash_in(&mut Vec::new())
    }

    /// [`ApiToken::hash`] with `memory` as argon2's working memory (grown
    /// if needed, wiped after).
    pub fn hash_in(&self, memory: &mut Vec<Block>) -> Result<String, CryptoError> {
        let salt_bytes = random::bytes::<16>()?;
        let salt = SaltString::encode_b64(&salt_bytes).map_err(|_| CryptoError::Hash)?;
        let params = params()?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let output = with_memory(memory, params.block_count(), |blocks| {
            Output::init_with(params.output_len().unwrap_or(32), |out| {
                argon
                    .hash_password_into_with_memory(
                        self.text.expose_secret().as_bytes(),
                        &salt_bytes,
                        out,
                        blocks,
                    )
                    .map_err(|_| argon2::password_hash::Error::Crypto)
            })
            .map_err(|_| CryptoError::Hash)
        })?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: (&params).try_into().map_err(|_| CryptoError::Hash)?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        };
        Ok(phc.to_string())
    }

    /// Whether this token matches a stored PHC string. Allocates its own
    /// argon2 memory: for tools and tests; the service verifies on
    /// [`super::hasher::Hasher`].
    pub fn verify(&self, phc: &str) -> bool {
        self.verify_in(phc, &mut Vec::new())
    }

    /// [`ApiToken::verify`] with `memory` as argon2's working memory (grown
    /// if needed, wiped after). The comparison is constant time
    /// (`password_hash::Output`'s equality).
    pub fn verify_in(&self, phc: &str, memory: &mut Vec<Block>) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        if parsed.algorithm != Algorithm::Argon2id.ident()
            || parsed.version != Some(Version::V0x13.into())
        {
            return false;
        }
        let (Some(expected), Some(salt)) = (parsed.hash, parsed.salt) else {
            return false;
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return false;
        };
        if params.m_cost() > MAX_M_COST {
            return false;
        }
        let mut salt_buf = [0u8; 64];
        let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
            return false;
        };
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let computed = with_memory(memory, params.block_count(), |blocks| {
            Output::init_with(expected.len(), |out| {
                argon
                    .hash_password_into_with_memory(
                        self.text.expose_secret().as_bytes(),
                        salt,
                        out,
                        blocks,
                    )
                    .map_err(|_| argon2::password_hash::Error::Crypto)
            })
            .map_err(|_| CryptoError::Hash)
        });
        computed.is_ok_and(|c| c == expected)
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

/// Run `f` on the first `blocks` blocks of `memory` (grown if needed), then
/// wipe them: they are derived from the token.
fn with_memory<T>(memory: &mut Vec<Block>, blocks: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let used = &mut memory[..blocks];
    let out = f(used);
    used.fill(Block::default());
    out
}

/// argon2id with OWASP's minimum parameters (19 MiB, 2 passes, 1 lane). The
/// tokens carry 256 random bits, so the hash guards a stolen database against
/// nothing weaker than brute force of the full space; cost stays modest.
fn params() -> Result<Params, CryptoError> {
    Params::new(19 * 1024, 2, 1, Some(32)).map_err(|_| CryptoError::Hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag() -> TagKey {
        TagKey::from_bytes(&[5u8; 32])
    }

    #[test]
    fn layout_and_round_trip() {
        let t = ApiToken::generate(&tag()).unwrap();
        assert!(t.reveal().starts_with("kd_"));
        assert_eq!(t.reveal().len(), 3 + ENCODED_LEN);
        let again = ApiToken::parse(t.reveal()).unwrap();
        assert_eq!(again.id(), t.id());
        assert_eq!(again.layout(), Layout::Tagged);
        let phc = t.hash().unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!phc.contains(t.reveal()));
        assert!(again.verify(&phc));
        assert!(!ApiToken::generate(&tag()).unwrap().verify(&phc));
    }

    #[test]
    fn hashes_made_by_the_library_still_verify() {
        // Hashes stored before keydrop ran argon2 with its own memory.
        use argon2::password_hash::PasswordHasher;
        let t = ApiToken::generate(&tag()).unwrap();
        let salt = SaltString::encode_b64(&[9u8; 16]).unwrap();
        let phc = Argon2::new(Algorithm::Argon2id, Version::V0x13, params().unwrap())
            .hash_password(t.reveal().as_bytes(), &salt)
            .unwrap()
            .to_string();
        let mut memory = Vec::new();
        assert!(t.verify_in(&phc, &mut memory));
        assert_eq!(memory.len(), 19 * 1024, "one block per KiB, kept for reuse");
        assert!(
            memory.iter().all(|b| b.as_ref().iter().all(|x| *x == 0)),
            "wiped"
        );
        let own = t.hash_in(&mut memory).unwrap();
        assert!(t.verify_in(&own, &mut memory));
        // Anything but argon2id v19 with a sane cost is refused unrun.
        let weak = phc.replace("$argon2id$", "$argon2i$");
        assert!(!t.verify_in(&weak, &mut memory));
        let huge = phc.replace("m=19456", "m=4000000");
        assert!(!t.verify_in(&huge, &mut memory));
        assert_eq!(memory.len(), 19 * 1024);
    }

    #[test]
    fn the_tag_tells_genuine_tokens_from_forgeries() {
        let t = ApiToken::generate(&tag()).unwrap();
        assert!(ApiToken::parse(t.reveal()).unwrap().tag_is_valid(&tag()));
        assert!(!ApiToken::parse(t.reveal())
            .unwrap()
            .tag_is_valid(&TagKey::from_bytes(&[6u8; 32])));
        // Same id, another secret: the tag no longer fits.
        let mut raw = B64URL.decode(&t.reveal()[3..]).unwrap();
        raw[20] ^= 1;
        let forged = format!("kd_{}", B64URL.encode(&raw));
        assert!(!ApiToken::parse(&forged).unwrap().tag_is_valid(&tag()));
        // Legacy tokens (id + randomness, no tag) still parse, untagged.
        let legacy = format!("kd_{}", B64URL.encode(&raw[..LEGACY_RAW_LEN]));
        let legacy = ApiToken::parse(&legacy).unwrap();
        assert_eq!(legacy.layout(), Layout::Legacy);
        assert_eq!(legacy.id(), t.id());
        assert!(!legacy.tag_is_valid(&tag()));
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
        let t = ApiToken::generate(&tag()).unwrap();
        assert!(!format!("{t:?}").contains(t.reveal()));
    }

    #[test]
    fn two_tokens_differ() {
        let a = ApiToken::generate(&tag()).unwrap();
        let b = ApiToken::generate(&tag()).unwrap();
        assert_ne!(a.reveal(), b.reveal());
        assert_ne!(a.id(), b.id());
    }
}
