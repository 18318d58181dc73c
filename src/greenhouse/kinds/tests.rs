//! The plug-in seam itself: a kind defined here, in a test, works everywhere once it is in a
//! registry — nothing outside its own code and the registry line changes.

use super::*;
use crate::clock::ManualClock;
use crate::domain::drop::DropRequest;
use crate::domain::kind::KindCatalog;
use crate::greenhouse::{CheckerConfig, Outcome};
use std::sync::{Arc, OnceLock};
use time::macros::datetime;

/// A made-up kind: one secret "badge", checked without asking anyone (an empty probe plan).
struct Badge;

static BADGE_FIELDS: &[FieldSpec] = &[FieldSpec {
    name: "badge",
    label: "Badge number",
    help: "On the back of your badge.",
    looks_like: None,
    secret: true,
    required: true,
    input: InputMode::Numeric,
    keep: Keep::Never,
}];

static BADGE_RESOURCES: &[Resource] = &[Resource::labelled("door", "Open: Door", "The door")];

static BADGE_PROFILES: &[NamedProfile] = &[NamedProfile {
    name: "lobby",
    required: &[],
    optional: &["door"],
}];

impl CredentialKind for Badge {
    fn name(&self) -> &'static str {
        "test_badge"
    }
    fn label(&self) -> &'static str {
        "Test badge"
    }
    fn summary(&self) -> &'static str {
        "a badge number (tests only)"
    }
    fn fields(&self) -> &'static [FieldSpec] {
        BADGE_FIELDS
    }
    fn parse(&self, form: &Fields) -> Result<Secret, ValidationError> {
        let badge = form.get("badge");
        if badge.is_empty() || !badge.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ValidationError::new("badge", "Digits only."));
        }
        Ok(Secret::new(self, vec![("badge", Some(badge.to_owned()))]))
    }
    fn resources(&self) -> &'static [Resource] {
        BADGE_RESOURCES
    }
    fn profiles(&self) -> &'static [NamedProfile] {
        BADGE_PROFILES
    }
    fn check<'a>(
        &'a self,
        checker: &'a Checker,
        _: Budget,
        _: &'a Secret,
        profile: &'a Profile,
    ) -> BoxFuture<'a, Checked> {
        Box::pin(async move {
            // Nothing required, nothing probed: an empty plan is a normal answer.
            let required: Vec<_> = profile
                .planned(self)
                .into_iter()
                .filter(|(_, req)| *req)
                .collect();
            let findings = checker
                .probe_all(required, |_| async { Probe::Granted })
                .await;
            Checked {
                verdict: Verdict::Probed(findings),
                organization: None,
                greenhouse_user: Some(Named {
                    id: "7".into(),
                    name: "Door Keeper".into(),
                }),
            }
        })
    }
    fn advice(&self, _: &Secret, _: Advice) -> String {
        "Ask the front desk.".into()
    }
    fn instructions(&self, brand: &str, permissions: Markup) -> Markup {
        maud::html! { ol.steps { li { "Find your badge for " (brand) "." (permissions) } } }
    }
    fn grant_steps(&self) -> Markup {
        maud::html! { "Ask the front desk for these." }
    }
}

static BADGE: Badge = Badge;

fn with_badge() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| registry().with(&BADGE))
}

#[tokio::test]
async fn a_kind_defined_in_a_test_works_end_to_end() {
    let kinds = with_badge();
    assert!(registry().by_name("test_badge").is_none());
    let kind = kinds.by_name("test_badge").unwrap();

    // Drop creation (the domain asks the registry through `KindCatalog`).
    let spec = DropRequest {
        org: "Initech".into(),
        kind: Some("test_badge".parse().unwrap()),
        ..DropRequest::default()
    }
    .validate(kinds)
    .unwrap();
    assert_eq!(spec.profile.name, "lobby");
    assert!(DropRequest {
        org: "Initech".into(),
        kind: Some("test_badge".parse().unwrap()),
        profile: Some("full-analytics".into()),
        ..DropRequest::default()
    }
    .validate(kinds)
    .unwrap_err()
    .contains("lobby"));
    assert!(registry().check_kind(kind.kind()).is_err());

    // The form, parsing and the secret JSON.
    let bad = kinds
        .parse(kind.kind(), &Fields::from([("badge", "12a")]))
        .unwrap_err();
    assert_eq!(bad.field, "badge");
    let secret = kinds
        .parse(kind.kind(), &Fields::from([("badge", " 424242 ")]))
        .unwrap();
    assert_eq!(secret.hint(), "4242");
    let json = serde_json::to_vec(&secret).unwrap();
    assert_eq!(json, br#"{"kind":"test_badge","badge":"424242"}"#);
    assert_eq!(kinds.secret_from_json(&json).unwrap(), secret);
    assert!(registry().secret_from_json(&json).is_err());

    // The check and its report.
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-23 09:00 UTC)));
    let checker = Checker::new(CheckerConfig::default(), clock)
        .unwrap()
        .with_kinds(kinds);
    let v = checker.check(&secret, &spec.profile).await;
    assert_eq!(v.outcome, Outcome::Verified, "{}", v.message);
    assert_eq!(v.greenhouse_user.unwrap().name, "Door Keeper");

    // The customer page and the OpenAPI document.
    let page = crate::web::pages::drop_page(
        &crate::web::pages::DropPage {
            ctx: crate::web::pages::PageContext::new("Acme"),
            org: "Initech".into(),
            note: None,
            kind,
            profile: spec.profile.clone(),
            expires_at: datetime!(2026-11-23 09:00 UTC),
            now: datetime!(2026-11-22 09:00 UTC),
            csrf_token: "c".into(),
            attempts_left: 3,
            returning: false,
        },
        None,
    )
    .into_string();
    for s in [
        "Test badge",
        "Badge number",
        "name=\"badge\"",
        "Open: Door",
        "type=\"password\"",
    ] {
        assert!(page.replace("<wbr>", "").contains(s), "{s}");
    }
    let doc = crate::web::api::openapi::build(kinds);
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["Kind"]["enum"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("test_badge")));
    assert!(schemas["Secret"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["properties"]["kind"]["const"] == "test_badge"));
}

#[test]
fn builtin_kinds_are_consistent() {
    let names = registry().names();
    assert_eq!(names[0], "harvest_v3", "harvest_v3 is the default kind");
    for kind in registry().all() {
        assert_eq!(kind.name().parse::<Kind>().unwrap(), kind.kind());
        assert!(!kind.fields().is_empty() && !kind.profiles().is_empty());
        let all = kind.resources();
        for (i, r) in all.iter().enumerate() {
            assert!(
                all[i + 1..].iter().all(|o| o.name != r.name),
                "dup {}",
                r.name
            );
            assert!(!r.description.is_empty());
            assert_eq!(kind.resource_by_permission(&r.permission()), Some(r));
        }
        for p in kind.profiles() {
            p.to_profile().validate(kind).unwrap();
        }
        assert_eq!(
            kind.secret_schema()["properties"]["kind"]["const"],
            kind.name()
        );
    }
    let with = registry().with(&BADGE);
    assert_eq!(with.names().len(), names.len() + 1);
    assert_eq!(with.with(&BADGE).names().len(), names.len() + 1);
}
