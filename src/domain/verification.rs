//! The outcome of one check against Greenhouse, as stored with a credential
//! (SPEC §1.2, §3 `verification`). How a check reaches it lives in
//! `greenhouse`; what it is lives here.

use crate::clock::serde_rfc3339;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// What one check concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The credential works and every required resource answered 200.
    Verified,
    /// The credential works but at least one required permission is missing.
    Insufficient,
    /// Greenhouse refused the credential itself.
    Invalid,
    /// Greenhouse gave no usable answer in time; check again later.
    Pending,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Verified => "verified",
            Outcome::Insufficient => "insufficient",
            Outcome::Invalid => "invalid",
            Outcome::Pending => "pending",
        }
    }
}

/// The report stored with a credential: `{"outcome","checked_at","granted":[…],
/// "missing_required":[…],"missing_optional":[…],"message","organization","greenhouse_user"}`.
/// The lists hold permission strings (`harvest:users:list` for v3, `GET: List Users` for v1),
/// in profile order. `organization` and `greenhouse_user` were added later: reports stored
/// before them read back as `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    pub outcome: Outcome,
    #[serde(with = "serde_rfc3339")]
    pub checked_at: OffsetDateTime,
    pub granted: Vec<String>,
    pub missing_required: Vec<String>,
    pub missing_optional: Vec<String>,
    /// Plain words for the customer; never contains a secret or a Greenhouse response body.
    pub message: String,
    /// The Greenhouse organisation the credential belongs to, when Greenhouse said
    /// (`harvest_v3`: token introspection, advisory; the name is stripped of control and
    /// text-direction characters but not escaped: pages escape it).
    #[serde(default)]
    pub organization: Option<Named>,
    /// The Greenhouse user the credential acts as, when Greenhouse said (Candidate Ingestion:
    /// the `On-Behalf-Of` user). Never the user's e-mail.
    #[serde(default)]
    pub greenhouse_user: Option<Named>,
    /// Greenhouse named the organisation, and it is not the one the drop was made for
    /// ([`same_organization`]): the credential may belong to another customer's account.
    /// Stored reports from before this field read back as `false`.
    #[serde(default)]
    pub organization_mismatch: bool,
    /// The form field the customer must change, when the outcome is about one field rather
    /// than the credential (a User ID that is not a Site Admin): the page marks it. Only for
    /// the answer to a submission; never stored or sent.
    #[serde(skip)]
    pub field: Option<&'static str>,
}

impl Verification {
    /// This report, judged for a drop made for `org`: sets
    /// [`organization_mismatch`](Self::organization_mismatch).
    pub fn judged_for(mut self, org: &str) -> Self {
        self.organization_mismatch = self
            .organization
            .as_ref()
            .is_some_and(|gh| !same_organization(org, &gh.name));
        self
    }
}

/// Legal forms that do not tell two organisations apart ("Initech" and "Initech, Inc.").
const LEGAL_FORMS: &[&str] = &[
    "inc",
    "incorporated",
    "llc",
    "llp",
    "lp",
    "ltd",
    "limited",
    "corp",
    "corporation",
    "co",
    "company",
    "plc",
    "gmbh",
    "ag",
    "sa",
    "sas",
    "sarl",
    "srl",
    "spa",
    "bv",
    "nv",
    "ab",
    "as",
    "oy",
    "pty",
    "pte",
    "kk",
    "the",
];

/// Whether `asked` (a drop's `org`, typed by staff) and `greenhouse` (the organisation
/// Greenhouse named) plausibly name the same organisation: equal once case, punctuation and
/// legal forms are set aside, or one's words begin the other's ("Initech" and "Initech
/// Europe"). Lenient on purpose: a mismatch is a warning staff act on, so it is raised only
/// when the names clearly differ.
pub fn same_organization(asked: &str, greenhouse: &str) -> bool {
    fn words(s: &str) -> Vec<String> {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .filter(|w| !LEGAL_FORMS.contains(&w.as_str()))
            .collect()
    }
    let (a, g) = (words(asked), words(greenhouse));
    if a.is_empty() || g.is_empty() {
        return true; // nothing to compare: no warning
    }
    a.starts_with(&g) || g.starts_with(&a)
}

/// A Greenhouse object named in a report: `{"id","name"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Named {
    pub id: String,
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organisations_match_despite_case_punctuation_and_legal_forms() {
        for (a, g) in [
            ("Initech", "Initech, Inc."),
            ("initech inc", "INITECH"),
            ("Initech", "Initech Europe GmbH"),
            ("Demo Customer Inc.", "Demo Customer"),
            ("Société Générale", "SOCIÉTÉ GÉNÉRALE S.A."),
        ] {
            assert!(same_organization(a, g), "{a} / {g}");
        }
        for (a, g) in [
            ("Initech", "Demo Customer Inc."),
            ("Initrode", "Initech"),
            ("Acme Analytics", "Acme Widgets"),
        ] {
            assert!(!same_organization(a, g), "{a} / {g}");
        }
        let named = |name: &str| Named {
            id: "1".into(),
            name: name.into(),
        };
        let old = r#"{"outcome":"verified","checked_at":"2026-11-23T09:00:00Z","granted":[],
            "missing_required":[],"missing_optional":[],"message":"ok"}"#;
        let v: Verification = serde_json::from_str(old).unwrap();
        assert!(!v.organization_mismatch);
        let v = Verification {
            organization: Some(named("Demo Customer Inc.")),
            ..v
        };
        assert!(v.clone().judged_for("Initech").organization_mismatch);
        assert!(!v.judged_for("Demo Customer").organization_mismatch);
    }

    #[test]
    fn reports_stored_before_the_identity_fields_still_parse() {
        let old = r#"{"outcome":"verified","checked_at":"2026-11-23T09:00:00Z","granted":[],
            "missing_required":[],"missing_optional":[],"message":"ok"}"#;
        let v: Verification = serde_json::from_str(old).unwrap();
        assert_eq!((v.organization, v.greenhouse_user), (None, None));
        let j = serde_json::to_value(Verification {
            greenhouse_user: Some(Named {
                id: "42".into(),
                name: "Ada".into(),
            }),
            ..serde_json::from_str(old).unwrap()
        })
        .unwrap();
        assert_eq!(
            j["greenhouse_user"],
            serde_json::json!({"id":"42","name":"Ada"})
        );
        assert_eq!(j["organization"], serde_json::Value::Null);
    }
}
