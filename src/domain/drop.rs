//! Drops (SPEC §2): one-time upload links and the rules for creating them.

use super::contact::Contact;
use super::kind::{Kind, KindCatalog, ProfileChoice};
use super::profile::Profile;
use super::release::Release;
use super::text::check_shown;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const DEFAULT_EXPIRES_IN: i64 = 72 * 3600;
pub const EXPIRES_IN: std::ops::RangeInclusive<i64> = 300..=2_592_000;
pub const DEFAULT_MAX_ATTEMPTS: i64 = 10;
pub const MAX_ATTEMPTS: std::ops::RangeInclusive<i64> = 1..=100;
/// `external_id`: the vendor's own id for the customer, in characters.
pub const EXTERNAL_ID_CHARS: std::ops::RangeInclusive<usize> = 1..=200;
/// Largest `metadata`, in bytes of its JSON.
pub const METADATA_MAX_BYTES: usize = 4096;

/// Staff's own key/value notes on a drop (string values only), copied onto
/// its credential and never shown to the customer.
pub type Metadata = BTreeMap<String, String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropState {
    Open,
    Submitted,
    Expired,
    Revoked,
    Locked,
}

impl DropState {
    pub const ALL: [DropState; 5] = [
        DropState::Open,
        DropState::Submitted,
        DropState::Expired,
        DropState::Revoked,
        DropState::Locked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DropState::Open => "open",
            DropState::Submitted => "submitted",
            DropState::Expired => "expired",
            DropState::Revoked => "revoked",
            DropState::Locked => "locked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// A stored drop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropRecord {
    pub id: String,
    pub org: String,
    pub note: Option<String>,
    pub kind: Kind,
    pub profile: Profile,
    pub release: Release,
    pub contact: Option<Contact>,
    pub external_id: Option<String>,
    pub metadata: Option<Metadata>,
    pub state: DropState,
    pub created_at: i64,
    pub expires_at: i64,
    pub attempts: i64,
    pub max_attempts: i64,
    pub credential_id: Option<String>,
    /// The credential this drop's credential replaces once accepted (a relink, SPEC §15).
    pub replaces: Option<String>,
    /// Where its link was last e-mailed (SPEC §15): shown to staff, never logged.
    pub send_to: Option<String>,
    /// When a message with its current link last reached the mail server.
    pub link_sent_at: Option<i64>,
    /// The hash its current link token is found by (not a secret: SHA-256 of 256 random
    /// bits); a submission names the link it came through with it.
    pub link_hash: String,
}

impl DropRecord {
    /// Open and not yet past its expiry at `now_ms`.
    pub fn accepts_input(&self, now_ms: i64) -> bool {
        self.state == DropState::Open && self.expires_at > now_ms
    }
}

/// What staff ask for, before validation (API body and CLI flags).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropRequest {
    pub org: String,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub kind: Option<Kind>,
    #[serde(default)]
    pub profile: Option<String>,
    #[serde(default)]
    pub required: Option<Vec<String>>,
    #[serde(default)]
    pub optional: Option<Vec<String>>,
    /// A whole number; `300.0` is one too (JSON Schema's `integer`).
    #[serde(default, deserialize_with = "super::number::whole")]
    pub expires_in: Option<i64>,
    #[serde(default, deserialize_with = "super::number::whole")]
    pub max_attempts: Option<i64>,
    #[serde(default)]
    pub contact: Option<Contact>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub metadata: Option<Metadata>,
    #[serde(default)]
    pub release: Option<Release>,
    /// E-mail the link to this address (SPEC §15).
    #[serde(default)]
    pub send_to: Option<String>,
}

/// A validated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropSpec {
    pub org: String,
    pub note: Option<String>,
    pub kind: Kind,
    pub profile: Profile,
    pub release: Release,
    pub expires_in: i64,
    pub max_attempts: i64,
    pub contact: Option<Contact>,
    pub external_id: Option<String>,
    pub metadata: Option<Metadata>,
    /// The checked address to e-mail the link to.
    pub send_to: Option<String>,
}

impl DropRequest {
    /// Check every field; the message names the field and the rule. `kinds` knows which
    /// credential kinds exist and what their profile names mean.
    pub fn validate(self, kinds: &dyn KindCatalog) -> Result<DropSpec, String> {
        // Bounds and characters apply to the text as sent (as the OpenAPI
        // document states them); surrounding whitespace is trimmed after.
        check_shown("org", &self.org, false)?;
        let org = self.org.trim().to_owned();
        if self.org.chars().count() > 200 || org.is_empty() {
            return Err("org must be 1 to 200 characters".into());
        }
        // Windows line ends become `\n`; any other carriage return is refused.
        let note = match self.note {
            Some(n) => {
                if n.chars().count() > 2000 {
                    return Err("note must be at most 2000 characters".into());
                }
                let n = n.replace("\r\n", "\n");
                check_shown("note", &n, true)?;
                Some(n.trim().to_owned()).filter(|n| !n.is_empty())
            }
            None => None,
        };
        let kind = match self.kind {
            Some(k) => {
                kinds.check_kind(k)?;
                k
            }
            None => kinds.default_kind(),
        };
        let choice = match (self.profile, self.required, self.optional) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err("give either profile or required/optional lists, not both".into())
            }
            (Some(name), None, None) => ProfileChoice::Named(name),
            (None, Some(required), optional) => ProfileChoice::Explicit {
                required,
                optional: optional.unwrap_or_default(),
            },
            (None, None, Some(_)) => return Err("optional needs a required list as well".into()),
            (None, None, None) => ProfileChoice::Default,
        };
        let profile = kinds.profile(kind, choice)?;
        let release = kinds
            .release_modes(kind)
            .choose(kind.as_str(), self.release)?;
        let expires_in = self.expires_in.unwrap_or(DEFAULT_EXPIRES_IN);
        if !EXPIRES_IN.contains(&expires_in) {
            return Err("expires_in must be between 300 and 2592000 seconds".into());
        }
        let max_attempts = self.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
        if !MAX_ATTEMPTS.contains(&max_attempts) {
            return Err("max_attempts must be between 1 and 100".into());
        }
        let contact = self.contact.map(|c| c.validate("contact")).transpose()?;
        if let Some(id) = &self.external_id {
            if !EXTERNAL_ID_CHARS.contains(&id.chars().count()) {
                return Err("external_id must be 1 to 200 characters".into());
            }
            check_shown("external_id", id, false)?;
        }
        if let Some(m) = &self.metadata {
            let size = serde_json::to_string(m).map_or(usize::MAX, |j| j.len());
            if size > METADATA_MAX_BYTES {
                return Err(format!(
                    "metadata must be at most {METADATA_MAX_BYTES} bytes as JSON (it is {size})"
                ));
            }
        }
        Ok(DropSpec {
            org,
            note,
            kind,
            profile,
            release,
            expires_in,
            max_attempts,
            contact,
            external_id: self.external_id,
            metadata: self.metadata,
            send_to: self
                .send_to
                .as_deref()
                .map(|to| super::contact::check_email("send_to", to))
                .transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A two-profile catalogue standing in for the kind registry (the domain does not see it).
    struct Stub;

    impl KindCatalog for Stub {
        fn default_kind(&self) -> Kind {
            Kind::from_static("harvest_v3")
        }
        fn check_kind(&self, kind: Kind) -> Result<(), String> {
            (kind == self.default_kind())
                .then_some(())
                .ok_or_else(|| format!("unknown kind {kind}"))
        }
        fn profile(&self, _: Kind, choice: ProfileChoice) -> Result<Profile, String> {
            let p = |name: &str, req: &[&str]| Profile {
                name: name.into(),
                required: req.iter().map(|s| (*s).to_owned()).collect(),
                optional: vec![],
            };
            match choice {
                ProfileChoice::Default => Ok(p("full-analytics", &["users", "jobs"])),
                ProfileChoice::Named(n) if n == "minimal" => Ok(p("minimal", &["users"])),
                ProfileChoice::Named(n) => Err(format!("unknown profile {n}")),
                ProfileChoice::Explicit { required, .. } => match required
                    .iter()
                    .find(|r| !["users", "jobs"].contains(&r.as_str()))
                {
                    Some(bad) => Err(format!("unknown resource {bad}")),
                    None => Ok(Profile {
                        name: "custom".into(),
                        required,
                        optional: vec![],
                    }),
                },
            }
        }
    }

    fn req(org: &str) -> DropRequest {
        DropRequest {
            org: org.into(),
            ..Default::default()
        }
    }

    #[test]
    fn defaults() {
        let s = req("Initech").validate(&Stub).unwrap();
        assert_eq!(s.kind, Kind::from_static("harvest_v3"));
        assert_eq!(s.profile.name, "full-analytics");
        assert_eq!((s.expires_in, s.max_attempts), (259_200, 10));
    }

    #[test]
    fn bounds() {
        assert!(req("").validate(&Stub).is_err());
        assert!(req("   ").validate(&Stub).is_err());
        assert!(req(&"x".repeat(200)).validate(&Stub).is_ok());
        assert!(req(&"x".repeat(201)).validate(&Stub).is_err());
        assert!(req("a\u{0}b").validate(&Stub).is_err());
        let mut r = req("x");
        r.note = Some("n".repeat(2001));
        assert!(r.validate(&Stub).is_err());
        for (e, ok) in [
            (299, false),
            (300, true),
            (2_592_000, true),
            (2_592_001, false),
        ] {
            let mut r = req("x");
            r.expires_in = Some(e);
            assert_eq!(r.validate(&Stub).is_ok(), ok, "{e}");
        }
        for (m, ok) in [(0, false), (1, true), (100, true), (101, false)] {
            let mut r = req("x");
            r.max_attempts = Some(m);
            assert_eq!(r.validate(&Stub).is_ok(), ok, "{m}");
        }
    }

    #[test]
    fn shown_text_has_no_invisible_or_control_characters() {
        for c in [
            '\u{202E}', '\u{200B}', '\u{FEFF}', '\u{2066}', '\u{00AD}', '\u{7}',
        ] {
            let e = req(&format!("Init{c}ech")).validate(&Stub).unwrap_err();
            assert!(e.starts_with("org must not contain"), "{e}");
            let mut r = req("Initech");
            r.note = Some(format!("Hello{c}"));
            let e = r.validate(&Stub).unwrap_err();
            assert!(e.starts_with("note must not contain"), "{e}");
        }
        let mut r = req("Initech");
        r.note = Some("line one\r\nline two\n\tthree".into());
        assert_eq!(
            r.validate(&Stub).unwrap().note.as_deref(),
            Some("line one\nline two\n\tthree")
        );
        let mut r = req("Initech");
        r.note = Some("over\rwritten".into());
        assert!(r.validate(&Stub).is_err());
    }

    #[test]
    fn contact_external_id_and_metadata() {
        let mut r = req("x");
        r.contact = Some(Contact {
            name: " Jane ".into(),
            email: "jane@example.com".into(),
        });
        r.external_id = Some("cust-42".into());
        r.metadata = Some(Metadata::from([("crm".into(), "0031".into())]));
        let s = r.validate(&Stub).unwrap();
        assert_eq!(s.contact.unwrap().name, "Jane");
        assert_eq!(s.external_id.as_deref(), Some("cust-42"));
        assert_eq!(s.metadata.unwrap()["crm"], "0031");

        let mut r = req("x");
        r.contact = Some(Contact {
            name: "Jane".into(),
            email: "not an address".into(),
        });
        assert!(r.validate(&Stub).unwrap_err().starts_with("contact.email"));
        for (id, ok) in [
            (String::new(), false),
            ("x".repeat(200), true),
            ("x".repeat(201), false),
            ("a\u{202E}b".into(), false),
            ("a\nb".into(), false),
        ] {
            let mut r = req("x");
            r.external_id = Some(id.clone());
            assert_eq!(r.validate(&Stub).is_ok(), ok, "{id:?}");
        }
        // `{"k":"<v>"}` is 8 bytes plus the value.
        for (len, ok) in [(4088, true), (4089, false)] {
            let mut r = req("x");
            r.metadata = Some(Metadata::from([("k".into(), "v".repeat(len))]));
            let res = r.validate(&Stub);
            assert_eq!(res.is_ok(), ok, "{len}");
            if !ok {
                assert!(res
                    .unwrap_err()
                    .starts_with("metadata must be at most 4096"));
            }
        }
    }

    #[test]
    fn profiles() {
        let mut r = req("x");
        r.required = Some(vec!["users".into(), "nonsense".into()]);
        assert!(r.validate(&Stub).unwrap_err().contains("nonsense"));
        let mut r = req("x");
        r.profile = Some("minimal".into());
        assert_eq!(r.validate(&Stub).unwrap().profile.required, vec!["users"]);
        let mut r = req("x");
        r.profile = Some("minimal".into());
        r.required = Some(vec!["users".into()]);
        assert!(r.validate(&Stub).is_err());
        let mut r = req("x");
        r.kind = Some("harvest_v9".parse().unwrap());
        assert!(r.validate(&Stub).unwrap_err().contains("harvest_v9"));
    }
}
