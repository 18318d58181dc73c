//! The result of one check (SPEC §1 "Outcome of one check", §3 `verification`) and the
//! customer-facing words for each case.

use super::kinds::{Advice, Checked, CredentialKind};
use super::messages::pending_message;
use super::secret::Secret;
pub use crate::domain::verification::{Named, Outcome, Verification};
use time::OffsetDateTime;

/// Why Greenhouse gave no definite answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transient {
    RateLimited,
    TimedOut,
    Unavailable,
    Redirected,
    Unexpected,
    TokenRejected,
}

/// What one probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    Granted,
    Forbidden,
    NotFound,
    Unresolved(Transient),
}

/// One probed resource: its permission string, whether it is required, and what it answered.
pub struct Finding {
    pub permission: String,
    pub required: bool,
    pub probe: Probe,
}

/// The raw conclusion of a check, before it is put into words.
pub enum Verdict {
    /// The credential itself was refused; the kind's words for why (never a value).
    Refused(String),
    Pending(Transient),
    Probed(Vec<Finding>),
    /// The credential works, but Greenhouse said (or answered as it does) that the acting user
    /// is not a Site Admin: `insufficient` whatever the findings (SPEC §1.2). `message` is the
    /// kind's words; `findings` are whatever was probed (possibly nothing).
    NotSiteAdmin {
        message: String,
        findings: Vec<Finding>,
        /// The kind's form field that named the acting user (`user_id`), when one did: the
        /// customer changes that field, nothing in Greenhouse.
        field: Option<&'static str>,
    },
}

fn list(items: &[String]) -> String {
    items.join(", ")
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Turns what a check of `secret` (of `kind`) found into the stored report.
pub(crate) fn report(
    kind: &dyn CredentialKind,
    secret: &Secret,
    checked: Checked,
    checked_at: OffsetDateTime,
) -> Verification {
    let Checked {
        verdict,
        organization,
        greenhouse_user,
    } = checked;
    let empty = |outcome, message, organization, greenhouse_user| Verification {
        outcome,
        checked_at,
        granted: Vec::new(),
        missing_required: Vec::new(),
        missing_optional: Vec::new(),
        message,
        organization,
        greenhouse_user,
        field: None,
        organization_mismatch: false,
    };
    let (findings, not_site_admin) = match verdict {
        Verdict::Refused(message) => return empty(Outcome::Invalid, message, None, None),
        Verdict::Pending(t) => {
            return empty(
                Outcome::Pending,
                pending_message(t),
                organization,
                greenhouse_user,
            )
        }
        Verdict::Probed(f) => (f, None),
        Verdict::NotSiteAdmin {
            message,
            findings,
            field,
        } => (findings, Some((message, field))),
    };

    let pick = |req: bool, f: &dyn Fn(Probe) -> bool| -> Vec<String> {
        findings
            .iter()
            .filter(|x| x.required == req && f(x.probe))
            .map(|x| x.permission.clone())
            .collect()
    };
    let missing = |p: Probe| matches!(p, Probe::Forbidden | Probe::NotFound);
    let granted: Vec<String> = findings
        .iter()
        .filter(|x| x.probe == Probe::Granted)
        .map(|x| x.permission.clone())
        .collect();
    let missing_required = pick(true, &missing);
    let missing_optional = pick(false, &missing);
    let field = not_site_admin.as_ref().and_then(|(_, field)| *field);
    let unknown: Vec<String> = findings
        .iter()
        .filter(|x| x.probe == Probe::NotFound)
        .map(|x| x.permission.clone())
        .collect();
    let unresolved_required: Vec<Transient> = findings
        .iter()
        .filter_map(|x| match (x.required, x.probe) {
            (true, Probe::Unresolved(t)) => Some(t),
            _ => None,
        })
        .collect();
    let unresolved_optional = pick(false, &|p| matches!(p, Probe::Unresolved(_)));
    let all_forbidden =
        !findings.is_empty() && findings.iter().all(|x| x.probe == Probe::Forbidden);

    let mut notes = Vec::new();
    if !unknown.is_empty() {
        notes.push(format!(
            "Greenhouse does not know {} ({}); that is a problem on our side, not yours, and \
             we have been told.",
            if unknown.len() == 1 {
                "this resource"
            } else {
                "these resources"
            },
            list(&unknown)
        ));
    }

    let (outcome, mut message) = if let Some((mut m, _)) = not_site_admin {
        // Scopes refused besides (a kind passes findings only where a refusal still means
        // a missing scope, e.g. a 403 beside the empty lists of a non-admin).
        if !missing_required.is_empty() {
            m.push_str(&format!(
                " Also, {} missing: {}.",
                plural(
                    missing_required.len(),
                    "required permission is",
                    "required permissions are"
                ),
                list(&missing_required)
            ));
        }
        (Outcome::Insufficient, m)
    } else if let Some(t) = unresolved_required.first() {
        (Outcome::Pending, pending_message(*t))
    } else if all_forbidden {
        (
            Outcome::Insufficient,
            kind.advice(secret, Advice::AllRefused),
        )
    } else if !missing_required.is_empty() {
        let how = kind.advice(secret, Advice::MissingRequired);
        let m = format!(
            "The credential works, but {} missing: {}. {how}",
            plural(
                missing_required.len(),
                "required permission is",
                "required permissions are"
            ),
            list(&missing_required)
        );
        (Outcome::Insufficient, m)
    } else {
        let mut m = String::from(
            "Greenhouse accepted this credential and granted every required permission.",
        );
        if !missing_optional.is_empty() {
            m.push_str(&format!(
                " {} not granted ({}); we can work without {}, but some reports will be less \
                 complete.",
                plural(
                    missing_optional.len(),
                    "optional permission is",
                    "optional permissions are"
                ),
                list(&missing_optional),
                if missing_optional.len() == 1 {
                    "it"
                } else {
                    "them"
                }
            ));
        }
        (Outcome::Verified, m)
    };
    if outcome != Outcome::Pending && !unresolved_optional.is_empty() {
        notes.push(format!(
            "Greenhouse did not answer for {} ({}); {} not counted.",
            plural(
                unresolved_optional.len(),
                "optional permission",
                "optional permissions"
            ),
            list(&unresolved_optional),
            if unresolved_optional.len() == 1 {
                "it was"
            } else {
                "they were"
            }
        ));
    }
    for n in notes {
        message.push(' ');
        message.push_str(&n);
    }
    Verification {
        outcome,
        checked_at,
        granted,
        missing_required,
        missing_optional,
        message,
        organization,
        greenhouse_user,
        field,
        organization_mismatch: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::greenhouse::kinds::{Fields, HARVEST_V1, HARVEST_V3};
    use time::macros::datetime;

    fn v3(user_id: bool) -> Secret {
        let user = if user_id { "4242" } else { "" };
        HARVEST_V3
            .parse(&Fields::from([
                ("client_id", "acme-12345"),
                ("client_secret", "s3cret"),
                ("user_id", user),
            ]))
            .unwrap()
    }

    fn v1() -> Secret {
        HARVEST_V1
            .parse(&Fields::from([(
                "api_key",
                "a7183e1b7e9ab09b8a5cfa87d1934c3c",
            )]))
            .unwrap()
    }

    fn f(p: &str, required: bool, probe: Probe) -> Finding {
        Finding {
            permission: p.into(),
            required,
            probe,
        }
    }

    #[test]
    fn serde_round_trip() {
        let v = report(
            HARVEST_V3,
            &v3(false),
            Verdict::Probed(vec![
                f("harvest:users:list", true, Probe::Granted),
                f("harvest:notes:list", false, Probe::Forbidden),
            ])
            .into(),
            datetime!(2026-11-23 09:00 UTC),
        );
        assert_eq!(v.outcome, Outcome::Verified);
        let j = serde_json::to_value(&v).unwrap();
        assert_eq!(j["outcome"], "verified");
        assert_eq!(j["checked_at"], "2026-11-23T09:00:00Z");
        assert_eq!(j["granted"], serde_json::json!(["harvest:users:list"]));
        assert_eq!(
            j["missing_optional"],
            serde_json::json!(["harvest:notes:list"])
        );
        assert!(j["message"]
            .as_str()
            .unwrap()
            .contains("harvest:notes:list"));
        let back: Verification = serde_json::from_value(j).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn outcomes() {
        let t = datetime!(2026-11-23 09:00 UTC);
        let pending = report(
            HARVEST_V3,
            &v3(false),
            Verdict::Probed(vec![
                f("a", true, Probe::Granted),
                f("b", true, Probe::Unresolved(Transient::TimedOut)),
                f("c", true, Probe::Forbidden),
            ])
            .into(),
            t,
        );
        assert_eq!(pending.outcome, Outcome::Pending);
        assert!(pending.message.contains("did not answer in time"));
        let all403 = report(
            HARVEST_V3,
            &v3(true),
            Verdict::Probed(vec![
                f("a", true, Probe::Forbidden),
                f("b", false, Probe::Forbidden),
            ])
            .into(),
            t,
        );
        assert_eq!(all403.outcome, Outcome::Insufficient);
        assert!(all403.message.contains("Site Admin"));
        let invalid = report(
            HARVEST_V1,
            &v1(),
            Verdict::Refused("Greenhouse refused this API key.".into()).into(),
            t,
        );
        assert_eq!(invalid.outcome, Outcome::Invalid);
        let optional_unknown = report(
            HARVEST_V3,
            &v3(false),
            Verdict::Probed(vec![
                f("a", true, Probe::Granted),
                f("b", false, Probe::NotFound),
                f("c", false, Probe::Unresolved(Transient::RateLimited)),
            ])
            .into(),
            t,
        );
        assert_eq!(optional_unknown.outcome, Outcome::Verified);
        assert_eq!(optional_unknown.missing_optional, ["b"]);
        assert!(optional_unknown.message.contains("problem on our side"));
        assert!(optional_unknown.message.contains("not counted"));
    }

    #[test]
    fn outcome_names() {
        for (o, s) in [
            (Outcome::Verified, "verified"),
            (Outcome::Insufficient, "insufficient"),
            (Outcome::Invalid, "invalid"),
            (Outcome::Pending, "pending"),
        ] {
            assert_eq!(o.as_str(), s);
            assert_eq!(serde_json::to_string(&o).unwrap(), format!("\"{s}\""));
        }
    }
}
