//! The audit chain's key (SPEC §8.6; README "Security model").
//!
//! The chain itself is public: each event's `hash` is SHA-256 over the previous hash and
//! the event's canonical content, so anyone can recompute it from what the API shows —
//! and so could anyone who can write the database, after rewriting history. Each event
//! also gets a MAC: HMAC-SHA256 of its `seq` and `hash` under this key, a random 32-byte
//! service secret sealed under the keyring (`audit_chain_key:<version>`), and so does the
//! head row (its `seq`, `hash` and the `seq` keying began at). A MAC over an event's hash
//! vouches for every event before it, because the hash commits to them all. Without the
//! keyring nobody can recompute MACs: a rewritten, reordered, deleted or appended event
//! shows up as the first MAC that no longer fits. Stored as `<version>:<hex>`, so another
//! key version could take over later without invalidating earlier MACs.

use super::hex;

/// One version of the audit chain's key. Never printed.
#[derive(Clone)]
pub struct AuditKey {
    version: u32,
    key: ring::hmac::Key,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "AuditKey {{ version: {}, key: [redacted] }}",
            self.version
        )
    }
}

/// The service secret holding version `version` of the key.
pub fn secret_name(version: u32) -> String {
    format!("audit_chain_key:{version}")
}

/// The version new MACs are made with.
pub const CURRENT: u32 = 1;

impl AuditKey {
    pub fn new(version: u32, bytes: &[u8; 32]) -> Self {
        Self {
            version,
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, bytes),
        }
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    fn tag(&self, parts: &[&[u8]]) -> ring::hmac::Tag {
        let mut ctx = ring::hmac::Context::with_key(&self.key);
        for p in parts {
            ctx.update(p);
        }
        ctx.sign()
    }

    fn event_parts(seq: i64, hash: &str) -> [Vec<u8>; 3] {
        [
            b"keydrop audit event v1\0".to_vec(),
            seq.to_be_bytes().to_vec(),
            hash.as_bytes().to_vec(),
        ]
    }

    fn head_parts(seq: i64, hash: &str, keyed_from: i64) -> [Vec<u8>; 4] {
        [
            b"keydrop audit head v1\0".to_vec(),
            seq.to_be_bytes().to_vec(),
            keyed_from.to_be_bytes().to_vec(),
            hash.as_bytes().to_vec(),
        ]
    }

    fn format(&self, tag: &ring::hmac::Tag) -> String {
        format!("{}:{}", self.version, hex(tag.as_ref()))
    }

    /// The MAC of event `seq` whose chain hash is `hash`.
    pub fn event_mac(&self, seq: i64, hash: &str) -> String {
        let parts = Self::event_parts(seq, hash);
        self.format(&self.tag(&parts.each_ref().map(Vec::as_slice)))
    }

    /// The MAC of the chain's head: its last `seq` and `hash`, and where keying began.
    pub fn head_mac(&self, seq: i64, hash: &str, keyed_from: i64) -> String {
        let parts = Self::head_parts(seq, hash, keyed_from);
        self.format(&self.tag(&parts.each_ref().map(Vec::as_slice)))
    }

    /// Whether `mac` is this key's MAC of event `seq` with `hash` (constant time).
    pub fn fits_event(&self, mac: &str, seq: i64, hash: &str) -> bool {
        let parts = Self::event_parts(seq, hash);
        self.fits(mac, &parts.each_ref().map(Vec::as_slice))
    }

    /// Whether `mac` is this key's MAC of the head (constant time).
    pub fn fits_head(&self, mac: &str, seq: i64, hash: &str, keyed_from: i64) -> bool {
        let parts = Self::head_parts(seq, hash, keyed_from);
        self.fits(mac, &parts.each_ref().map(Vec::as_slice))
    }

    fn fits(&self, mac: &str, parts: &[&[u8]]) -> bool {
        let Some((version, tag)) = mac.split_once(':') else {
            return false;
        };
        if version.parse::<u32>().ok() != Some(self.version) || tag.len() != 64 {
            return false;
        }
        let mut raw = [0u8; 32];
        for (i, pair) in tag.as_bytes().chunks(2).enumerate() {
            let Ok(text) = std::str::from_utf8(pair) else {
                return false;
            };
            let Ok(byte) = u8::from_str_radix(text, 16) else {
                return false;
            };
            raw[i] = byte;
        }
        let data: Vec<u8> = parts.concat();
        ring::hmac::verify(&self.key, &data, &raw).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_bind_seq_hash_and_purpose() {
        let k = AuditKey::new(1, &[3u8; 32]);
        let mac = k.event_mac(7, "abc");
        assert!(mac.starts_with("1:") && mac.len() == 66, "{mac}");
        assert!(k.fits_event(&mac, 7, "abc"));
        assert!(!k.fits_event(&mac, 8, "abc"));
        assert!(!k.fits_event(&mac, 7, "abd"));
        assert!(
            !k.fits_head(&mac, 7, "abc", 1),
            "an event MAC is no head MAC"
        );
        let head = k.head_mac(7, "abc", 3);
        assert!(k.fits_head(&head, 7, "abc", 3));
        assert!(!k.fits_head(&head, 7, "abc", 4));
        assert!(!AuditKey::new(1, &[4u8; 32]).fits_event(&mac, 7, "abc"));
        assert!(!AuditKey::new(2, &[3u8; 32]).fits_event(&mac, 7, "abc"));
        for bad in ["", "1:", "1:zz", "x:00", &mac[..65]] {
            assert!(!k.fits_event(bad, 7, "abc"), "{bad}");
        }
        assert!(!format!("{k:?}").contains("3, 3"));
    }
}
