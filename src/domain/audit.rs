//! The tamper-evident audit log (SPEC §8.6).
//!
//! Each event's `hash` is SHA-256 over the previous event's hash and the
//! event's canonical content: a JSON object of `seq`, `at` (Unix
//! milliseconds), `actor`, `action`, `subject`, `ip` and `details`, with every
//! object's keys sorted and no insignificant whitespace. The first event's
//! previous hash is 64 zeros. Editing, deleting or reordering any row breaks
//! the chain from that row on; `audit_head` in the database holds the last
//! `seq` and hash, so truncating the tail is caught too.
//!
//! That chain is public, so someone who can write the database could rewrite
//! it and recompute every hash. So events and the head also carry MACs under
//! the audit key ([`crate::crypto::audit`]), which only a holder of the
//! keyring can make; [`ChainVerifier`] checks both.
//!
//! *Over 400 lines:* its unit tests (tampering of every kind) are inline; the code is ~360 lines.

use crate::crypto::sha256_hex;
use serde::Serialize;
use serde_json::{Map, Value};

pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a state change says about itself; the store adds `seq`, `at` and the hash.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// `token:<id>` for API callers, `public` for customers, `cli`, `system`.
    pub actor: String,
    /// A dotted verb, e.g. `token.create`.
    pub action: String,
    /// What it acted on, e.g. `token:<id>`.
    pub subject: String,
    pub ip: Option<String>,
    /// Never a secret.
    pub details: Value,
    /// The webhook messages of this change, written to the outbox in the
    /// same transaction as the entry (SPEC §8.10).
    pub webhooks: Vec<super::webhook::Message>,
}

impl AuditEntry {
    /// The entry of a typed [`Event`](super::event::Event) (see `Event::by`):
    /// the only way keydrop itself writes the log.
    pub(crate) fn of(actor: String, event: &super::event::Event) -> Self {
        Self {
            actor,
            action: event.action().to_owned(),
            subject: event.subject(),
            ip: None,
            details: event.details(),
            webhooks: event.webhooks(),
        }
    }

    /// A free-form entry, for tests and tools that exercise the log itself.
    /// keydrop's own changes are recorded as typed events instead.
    pub fn untyped(actor: impl Into<String>, action: &str, subject: impl Into<String>) -> Self {
        Self {
            actor: actor.into(),
            action: action.to_owned(),
            subject: subject.into(),
            ip: None,
            details: Value::Object(Map::new()),
            webhooks: Vec::new(),
        }
    }

    pub fn ip(mut self, ip: Option<String>) -> Self {
        self.ip = ip;
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

/// Which events a listing returns (`GET /api/v1/audit?subject=&action=`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Exactly this subject, e.g. `drop:<id>`.
    pub subject: Option<String>,
    pub action: Option<ActionFilter>,
    /// Exactly this actor, e.g. `token:<id>`, `user:<e-mail>`, `cli`, `system`.
    pub actor: Option<String>,
    /// At or after this time (Unix ms).
    pub since: Option<i64>,
    /// Before this time (Unix ms).
    pub until: Option<i64>,
}

/// One action, or every action under a dotted prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionFilter {
    Exact(String),
    /// Ends in `.`, e.g. `credential.`.
    Prefix(String),
}

impl ActionFilter {
    /// `credential.` is a prefix, `credential.read` one action.
    pub fn parse(text: &str) -> Self {
        if text.ends_with('.') {
            Self::Prefix(text.to_owned())
        } else {
            Self::Exact(text.to_owned())
        }
    }

    /// For a prefix, the half-open byte range `[from, to)` of the actions
    /// that start with it: `credential.` … `credential/` (`/` follows `.`).
    pub fn prefix_range(&self) -> Option<(String, String)> {
        match self {
            Self::Exact(_) => None,
            Self::Prefix(p) => {
                let stem = p.strip_suffix('.').unwrap_or(p);
                Some((p.clone(), format!("{stem}/")))
            }
        }
    }

    pub fn matches(&self, action: &str) -> bool {
        match self {
            Self::Exact(a) => action == a,
            Self::Prefix(p) => action.starts_with(p.as_str()),
        }
    }
}

/// A stored event, as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditEvent {
    pub seq: i64,
    #[serde(serialize_with = "at_rfc3339")]
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub ip: Option<String>,
    pub details: Value,
    pub hash: String,
    /// The event's MAC under the audit key (`<version>:<hex>`); `None` for events written
    /// before the chain was keyed, or by a process without the keyring. Not shown by the
    /// API: it proves nothing to someone without the key.
    #[serde(skip)]
    pub mac: Option<String>,
}

fn at_rfc3339<S: serde::Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::clock::rfc3339(crate::clock::from_millis(*ms)))
}

/// The content the hash covers.
///
/// Written straight out in key order (`action`, `actor`, `at`, `details`,
/// `ip`, `seq`, `subject` sort this way) rather than through a map: this
/// runs once per event when a whole log is verified.
#[allow(clippy::too_many_arguments)]
pub fn canonical(
    seq: i64,
    at: i64,
    actor: &str,
    action: &str,
    subject: &str,
    ip: Option<&str>,
    details: &Value,
) -> String {
    let mut out = String::with_capacity(160 + actor.len() + action.len() + subject.len());
    out.push_str("{\"action\":");
    write_str(action, &mut out);
    out.push_str(",\"actor\":");
    write_str(actor, &mut out);
    out.push_str(",\"at\":");
    out.push_str(&at.to_string());
    out.push_str(",\"details\":");
    write_canonical(details, &mut out);
    out.push_str(",\"ip\":");
    match ip {
        Some(ip) => write_str(ip, &mut out),
        None => out.push_str("null"),
    }
    out.push_str(",\"seq\":");
    out.push_str(&seq.to_string());
    out.push_str(",\"subject\":");
    write_str(subject, &mut out);
    out.push('}');
    out
}

/// A JSON string literal, escaped exactly as `serde_json` does.
fn write_str(s: &str, out: &mut String) {
    match serde_json::to_string(s) {
        Ok(quoted) => out.push_str(&quoted),
        // Serializing a `str` cannot fail; keep the old path regardless.
        Err(_) => out.push_str(&Value::from(s).to_string()),
    }
}

/// JSON with sorted keys, whatever order the map keeps them in.
fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(k, out);
                out.push(':');
                if let Some(inner) = m.get(k) {
                    write_canonical(inner, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::String(s) => write_str(s, out),
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The chain link: SHA-256 over the previous hash, a newline, and the content.
pub fn chain_hash(prev_hash: &str, canonical_content: &str) -> String {
    sha256_hex(&[prev_hash.as_bytes(), b"\n", canonical_content.as_bytes()])
}

/// Recompute an event's hash from its stored fields.
pub fn event_hash(prev_hash: &str, e: &AuditEvent) -> String {
    chain_hash(
        prev_hash,
        &canonical(
            e.seq,
            e.at,
            &e.actor,
            &e.action,
            &e.subject,
            e.ip.as_deref(),
            &e.details,
        ),
    )
}

/// Why a chain does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("audit event seq {seq}: hash does not match its content and the previous event")]
    BadHash { seq: i64 },
    #[error("audit event seq {seq}: expected seq {expected} (a row is missing or out of order)")]
    Gap { seq: i64, expected: i64 },
    #[error("audit log ends at seq {last} but its head says {head}: events were removed")]
    Truncated { last: i64, head: i64 },
    #[error(
        "audit event seq {seq}: its MAC does not fit (the event, or one before it, was \
         rewritten by someone without the keyring)"
    )]
    BadMac { seq: i64 },
    #[error(
        "audit log: the events after seq {after} are not authenticated by the audit key \
         (appended or rewritten by someone without the keyring)"
    )]
    Unauthenticated { after: i64 },
    #[error("audit log: the chain is keyed, and checking it needs the keyring")]
    KeyNeeded,
}

/// The stored head of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub seq: i64,
    pub hash: String,
    /// Its MAC under the audit key (see [`crate::crypto::audit`]).
    pub mac: Option<String>,
    /// The first `seq` written with the audit key; `None` while the chain was never keyed.
    pub keyed_from: Option<i64>,
}

/// Incremental verifier, fed events in `seq` order: the public hash chain, and each MAC
/// under `key` (without a key, a keyed chain cannot be verified).
#[derive(Debug)]
pub struct ChainVerifier {
    prev_hash: String,
    next_seq: i64,
    key: Option<crate::crypto::audit::AuditKey>,
    /// The last event whose MAC fit.
    last_keyed: i64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self::new(None)
    }
}

impl ChainVerifier {
    pub fn new(key: Option<crate::crypto::audit::AuditKey>) -> Self {
        Self {
            prev_hash: GENESIS_HASH.to_owned(),
            next_seq: 1,
            key,
            last_keyed: 0,
        }
    }

    pub fn push(&mut self, e: &AuditEvent) -> Result<(), ChainError> {
        if e.seq != self.next_seq {
            return Err(ChainError::Gap {
                seq: e.seq,
                expected: self.next_seq,
            });
        }
        if event_hash(&self.prev_hash, e) != e.hash {
            return Err(ChainError::BadHash { seq: e.seq });
        }
        if let Some(mac) = &e.mac {
            let key = self.key.as_ref().ok_or(ChainError::KeyNeeded)?;
            if !key.fits_event(mac, e.seq, &e.hash) {
                return Err(ChainError::BadMac { seq: e.seq });
            }
            self.last_keyed = e.seq;
        }
        self.prev_hash.clone_from(&e.hash);
        self.next_seq += 1;
        Ok(())
    }

    /// Compare the end of the chain with the stored head, and, once the chain is keyed,
    /// check the head's MAC: it vouches for every event up to the head, those written
    /// without the key (during a rolling upgrade, say) included.
    pub fn finish(self, head: &ChainHead) -> Result<i64, ChainError> {
        let last = self.next_seq - 1;
        if last != head.seq || self.prev_hash != head.hash {
            return Err(ChainError::Truncated {
                last,
                head: head.seq,
            });
        }
        if let Some(keyed_from) = head.keyed_from {
            let key = self.key.as_ref().ok_or(ChainError::KeyNeeded)?;
            let fits = head
                .mac
                .as_deref()
                .is_some_and(|mac| key.fits_head(mac, head.seq, &head.hash, keyed_from));
            if !fits {
                return Err(ChainError::Unauthenticated {
                    after: self.last_keyed.max(keyed_from - 1),
                });
            }
        }
        Ok(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(seq: i64, prev: &str, details: Value) -> AuditEvent {
        let mut e = AuditEvent {
            seq,
            at: 1_700_000_000_000 + seq,
            actor: "cli".into(),
            action: "token.create".into(),
            subject: format!("token:{seq}"),
            ip: None,
            details,
            hash: String::new(),
            mac: None,
        };
        e.hash = event_hash(prev, &e);
        e
    }

    #[test]
    fn action_filters_take_a_trailing_dot_as_a_prefix() {
        let prefix = ActionFilter::parse("credential.");
        let (from, to) = prefix.prefix_range().unwrap();
        for action in [
            "credential.read",
            "credential.decrypt_failed",
            "credential.",
        ] {
            assert!(prefix.matches(action));
            assert!(from.as_str() <= action && action < to.as_str(), "{action}");
        }
        for action in [
            "credentials.read",
            "credential",
            "drop.submit",
            "credential/x",
        ] {
            assert!(!prefix.matches(action), "{action}");
            assert!(
                !(from.as_str() <= action && action < to.as_str()),
                "{action}"
            );
        }
        let exact = ActionFilter::parse("drop.submit");
        assert_eq!(exact, ActionFilter::Exact("drop.submit".into()));
        assert!(exact.prefix_range().is_none());
        assert!(exact.matches("drop.submit") && !exact.matches("drop.submitted"));
    }

    #[test]
    fn canonical_form_sorts_keys_at_every_depth() {
        let a = canonical(
            1,
            2,
            "a",
            "b",
            "c",
            None,
            &json!({"z": 1, "a": {"y": 2, "b": [3, {"d": 4, "c": 5}]}}),
        );
        assert_eq!(
            a,
            r#"{"action":"b","actor":"a","at":2,"details":{"a":{"b":[3,{"c":5,"d":4}],"y":2},"z":1},"ip":null,"seq":1,"subject":"c"}"#
        );
    }

    /// The direct writer gives exactly what a sorted map of the seven
    /// fields, written by the generic canonical writer, gives.
    #[test]
    fn canonical_matches_the_generic_form() {
        let details = json!({"z": "é\u{1}\"\\/", "a": [1.5, -2, null, true, {"y": "", "b": {}}]});
        for ip in [None, Some("2001:db8::1")] {
            let mut m = Map::new();
            m.insert("seq".into(), 42.into());
            m.insert("at".into(), (-7_i64).into());
            m.insert("actor".into(), "token:\u{2028}x".into());
            m.insert("action".into(), "drop.create".into());
            m.insert("subject".into(), "drop:\"q\"".into());
            m.insert("ip".into(), ip.map_or(Value::Null, Value::from));
            m.insert("details".into(), details.clone());
            let mut generic = String::new();
            write_canonical(&Value::Object(m), &mut generic);
            assert_eq!(
                canonical(
                    42,
                    -7,
                    "token:\u{2028}x",
                    "drop.create",
                    "drop:\"q\"",
                    ip,
                    &details
                ),
                generic
            );
        }
    }

    /// Someone who can write the database but not read the keyring rewrites an event and
    /// recomputes every hash: the public chain fits, the MACs do not.
    #[test]
    fn a_rewritten_chain_fails_its_macs() {
        use crate::crypto::audit::AuditKey;
        let key = AuditKey::new(1, &[9u8; 32]);
        let keyed = |mut e: AuditEvent| {
            e.mac = Some(key.event_mac(e.seq, &e.hash));
            e
        };
        let e1 = event(1, GENESIS_HASH, json!({"role": "admin"}));
        let e2 = keyed(event(2, &e1.hash, json!({})));
        let e3 = keyed(event(3, &e2.hash, json!({})));
        let head = ChainHead {
            seq: 3,
            hash: e3.hash.clone(),
            mac: Some(key.head_mac(3, &e3.hash, 2)),
            keyed_from: Some(2),
        };
        let mut v = ChainVerifier::new(Some(key.clone()));
        for e in [&e1, &e2, &e3] {
            v.push(e).unwrap();
        }
        assert_eq!(v.finish(&head), Ok(3));
        // Without the key, a keyed chain cannot be checked.
        let mut v = ChainVerifier::default();
        v.push(&e1).unwrap();
        assert_eq!(v.push(&e2), Err(ChainError::KeyNeeded));
        // The unkeyed first event is rewritten, the hashes recomputed: the first MAC after
        // it fails (it vouched for e1 through e2's hash).
        let r1 = event(1, GENESIS_HASH, json!({"role": "worker"}));
        let mut r2 = event(2, &r1.hash, json!({}));
        r2.mac = e2.mac.clone();
        let mut v = ChainVerifier::new(Some(key.clone()));
        v.push(&r1).unwrap();
        assert_eq!(v.push(&r2), Err(ChainError::BadMac { seq: 2 }));
        // A forged event appended (no MAC) with a recomputed head: the head is not
        // authenticated, so the events after the last MAC are reported.
        let e4 = event(4, &e3.hash, json!({"forged": true}));
        let mut v = ChainVerifier::new(Some(key.clone()));
        for e in [&e1, &e2, &e3, &e4] {
            v.push(e).unwrap();
        }
        let forged_head = ChainHead {
            seq: 4,
            hash: e4.hash.clone(),
            ..head.clone()
        };
        assert_eq!(
            v.finish(&forged_head),
            Err(ChainError::Unauthenticated { after: 3 })
        );
    }

    #[test]
    fn chain_verifies_and_catches_edits() {
        let e1 = event(1, GENESIS_HASH, json!({"role": "admin"}));
        let e2 = event(2, &e1.hash, json!({}));
        let mut v = ChainVerifier::default();
        v.push(&e1).unwrap();
        v.push(&e2).unwrap();
        let head = |seq: i64, hash: &str| ChainHead {
            seq,
            hash: hash.to_owned(),
            mac: None,
            keyed_from: None,
        };
        assert_eq!(v.finish(&head(2, &e2.hash)).unwrap(), 2);

        let mut edited = e1.clone();
        edited.details = json!({"role": "worker"});
        assert_eq!(
            ChainVerifier::default().push(&edited),
            Err(ChainError::BadHash { seq: 1 })
        );

        let mut v = ChainVerifier::default();
        v.push(&e1).unwrap();
        assert!(matches!(
            v.finish(&head(2, &e2.hash)),
            Err(ChainError::Truncated { .. })
        ));

        let mut v = ChainVerifier::default();
        assert_eq!(
            v.push(&e2),
            Err(ChainError::Gap {
                seq: 2,
                expected: 1
            })
        );
    }
}
