//! Tests of the link page and the 422 page.
use super::*;
use crate::greenhouse::kinds::Intake;
use crate::greenhouse::kinds::{CredentialKind, HARVEST_V1, HARVEST_V3};
use crate::greenhouse::Profile;
use crate::web::pages::testing::{assert_page_ok, escaped, tags, HOSTILE};
use time::macros::datetime;

fn page(kind: &'static dyn CredentialKind, hostile: &str) -> DropPage {
    let mut ctx = crate::web::pages::PageContext::new(&format!("Brand {hostile}"));
    ctx.org = Some(format!("Org {hostile}"));
    ctx.contact = Some(crate::web::pages::PageContact {
        name: Some(format!("Contact {hostile}")),
        email: "jane@example.com".into(),
    });
    DropPage {
        ctx,
        org: format!("Org {hostile}"),
        note: Some(format!("Note {hostile}")),
        kind,
        profile: Profile::default_for(kind),
        expires_at: datetime!(2026-11-23 09:00 UTC),
        now: datetime!(2026-11-20 09:00 UTC),
        csrf_token: "csrf-abc".to_owned(),
        attempts_left: 7,
        returning: false,
    }
}

fn problem(hostile: &str) -> Problem {
    Problem {
        message: format!("Missing {hostile}"),
        missing_required: vec!["harvest:jobs:list".into(), "harvest:offers:list".into()],
        missing_optional: vec!["harvest:notes:list".into()],
        field: Some("client_id"),
        kept: vec![
            ("client_id", format!("cid-{hostile}-12345")),
            ("user_id", format!("42{hostile}")),
        ],
        not_counted: false,
    }
}

fn all_pages(hostile: &str) -> Vec<String> {
    let mut out = Vec::new();
    for kind in crate::greenhouse::registry().all() {
        let p = page(kind, hostile);
        out.push(drop_page(&p, None).into_string());
        out.push(drop_page(&p, Some(&problem(hostile))).into_string());
    }
    out
}

#[test]
fn hostile_values_are_escaped_everywhere() {
    for h in HOSTILE {
        for html in all_pages(h) {
            assert_page_ok(&html, h);
            assert!(html.contains(&escaped(&format!("Org {h}"))));
            assert!(html.contains(&escaped(&format!("Note {h}"))));
            assert!(html.contains(&escaped(&format!("Brand {h}"))));
            assert!(html.contains(&escaped(&format!("Contact {h}"))));
        }
    }
}

#[test]
fn page_shows_who_for_whom_note_and_expiry() {
    let html = drop_page(&page(HARVEST_V3, "x"), None).into_string();
    assert!(html.contains("<strong>Brand x</strong> asks for"));
    assert!(html.contains("<strong>Org x</strong>"));
    assert!(html.contains("Note x"));
    assert!(html.contains(
        r#"<time datetime="2026-11-23T09:00:00Z">Monday 23 November 2026, 09:00 UTC</time> (in 3 days)"#
    ));
    assert!(html.contains("Encrypted"));
    assert!(html.contains("audit"));
    assert!(html.contains("Never send it by e-mail"));
    assert!(html.contains("Keep the Greenhouse tab open until this page says"));
    assert!(html.contains("<details class=\"instructions\" open>"));
    assert!(!html.contains("role=\"alert\""));
    let no_note = DropPage {
        note: None,
        ..page(HARVEST_V3, "x")
    };
    assert!(!drop_page(&no_note, None)
        .into_string()
        .contains("A note from"));
    assert!(html.contains("Your contact: <strong>Contact x</strong>, "));
    assert!(html.contains("href=\"mailto:jane@example.com\""));
}

#[test]
fn a_problem_from_the_shape_checks_says_no_attempt_was_used() {
    let p = page(HARVEST_V3, "x");
    let counted = drop_page(&p, Some(&problem("x"))).into_string();
    assert!(counted.contains("You have <strong>7 attempts</strong> left"));
    let local = Problem {
        not_counted: true,
        ..problem("x")
    };
    let html = drop_page(&p, Some(&local)).into_string();
    assert!(html.contains("did not use an attempt: you still have <strong>7 attempts</strong>"));
}

#[test]
fn form_posts_back_to_its_anchor() {
    for html in all_pages("x") {
        let t = tags(&html);
        let forms: Vec<_> = t.iter().filter(|t| t.name == "form").collect();
        assert_eq!(forms.len(), 1);
        assert_eq!(forms[0].attr("method"), Some("post"));
        assert_eq!(forms[0].attr("action"), Some("#send"));
        assert_eq!(t.iter().filter(|t| t.attr("id") == Some("send")).count(), 1);
        let csrf = t
            .iter()
            .find(|t| t.attr("name") == Some("csrf_token"))
            .unwrap();
        assert_eq!(csrf.attr("type"), Some("hidden"));
        assert_eq!(csrf.attr("value"), Some("csrf-abc"));
        assert_eq!(t.iter().filter(|t| t.name == "button").count(), 1);
        assert_eq!(
            t.iter()
                .filter(|t| t.attr("type") == Some("submit"))
                .count(),
            1
        );
    }
}

#[test]
fn inputs_per_kind_and_secrets_are_never_filled() {
    for kind in crate::greenhouse::registry().all() {
        let p = page(kind, "x");
        for html in [
            drop_page(&p, None).into_string(),
            drop_page(&p, Some(&problem("x"))).into_string(),
        ] {
            let t = tags(&html);
            let input = |n: &str| {
                t.iter()
                    .find(|t| t.name == "input" && t.attr("name") == Some(n))
            };
            if kind.intake() == Intake::Connect {
                // A Connect button and nothing to type: no credential input at all.
                for f in kind.fields() {
                    assert!(input(f.name).is_none(), "{} on a connect page", f.name);
                }
                assert!(input("connect").is_some());
                continue;
            }
            let secrets: &[&str] = match kind.name() {
                "harvest_v3" => &["client_secret"],
                _ => &["api_key"],
            };
            for s in secrets {
                let i = input(s).unwrap();
                assert_eq!(i.attr("type"), Some("password"));
                assert_eq!(i.attr("autocomplete"), Some("off"));
                assert_eq!(i.attr("translate"), Some("no"));
                assert_eq!(i.attr("spellcheck"), Some("false"));
                assert!(i.attr("value").is_none());
                assert!(i.attr("aria-describedby").is_some());
            }
            if kind.name() == "harvest_v3" {
                let c = input("client_id").unwrap();
                assert_eq!(c.attr("type"), Some("text"));
                assert_eq!(c.attr("autocomplete"), Some("off"));
                assert_eq!(c.attr("spellcheck"), Some("false"));
                assert_eq!(c.attr("translate"), Some("no"));
                let u = input("user_id").unwrap();
                assert_eq!(u.attr("inputmode"), Some("numeric"));
                assert!(u.attr("required").is_none());
                assert!(input("api_key").is_none());
            } else {
                assert!(input("client_id").is_none());
                assert!(input("client_secret").is_none());
            }
        }
    }
}

#[test]
fn problem_comes_first_then_the_form_then_the_folded_steps() {
    let p = page(HARVEST_V3, "x");
    let pr = problem("x");
    let html = drop_page(&p, Some(&pr)).into_string();
    let main = &html[html.find("<main").unwrap()..];
    assert!(
        main.starts_with(r##"<main id="main"><div class="error-summary" id="send" role="alert" tabindex="-1" autofocus aria-labelledby="error-title"><h1 id="error-title">"##),
        "{main}"
    );
    assert!(html.contains(r##"<a href="#client_id">Client ID</a>: Missing x"##));
    assert!(html.contains("<strong>7 attempts</strong> left"));
    let form = html.find("<form").unwrap();
    assert!(html.find("role=\"alert\"").unwrap() < form);
    assert!(form < html.find("<details class=\"instructions\">").unwrap());
    assert!(!html.contains("<details class=\"instructions\" open>"));
    assert!(html.find("Jobs &gt; List jobs").unwrap() < form);
    assert_eq!(
        html.matches("Manage Scopes").count(),
        2,
        "the steps once, the folded guide once"
    );
    assert!(html.contains("1 optional"));
    assert!(html.contains("<title>Error: "));
    let t = tags(&html);
    let cid = t
        .iter()
        .find(|t| t.attr("name") == Some("client_id"))
        .unwrap();
    assert_eq!(cid.attr("value"), Some("cid-x-12345"));
    assert_eq!(cid.attr("aria-invalid"), Some("true"));
    assert_eq!(
        cid.attr("aria-describedby"),
        Some("client_id-error client_id-help")
    );
    assert!(
        cid.attr("autofocus").is_none(),
        "the summary takes the focus"
    );
    assert!(t.iter().any(|t| t.attr("id") == Some("client_id-error")));
    let uid = t
        .iter()
        .find(|t| t.attr("name") == Some("user_id"))
        .unwrap();
    assert_eq!(uid.attr("value"), Some("42x"));
    assert!(uid.attr("aria-invalid").is_none());
}

#[test]
fn kept_client_id_appears_but_no_secret_field_has_a_value() {
    let pr = Problem {
        kept: vec![("client_id", "cid-12345".into())],
        field: Some("client_secret"),
        ..problem("x")
    };
    for kind in crate::greenhouse::registry().all() {
        let html = drop_page(&page(kind, "x"), Some(&pr)).into_string();
        assert_eq!(
            html.contains("value=\"cid-12345\""),
            kind.name() == "harvest_v3"
        );
        for t in tags(&html).iter().filter(|t| t.name == "input") {
            if t.attr("type") == Some("password") {
                assert!(t.attr("value").is_none());
            }
        }
    }
}

#[test]
fn v1_problem_table_says_how_to_edit_the_key() {
    let p = page(HARVEST_V1, "x");
    let pr = Problem {
        message: "Missing".into(),
        missing_required: vec!["GET: List Users".into()],
        field: Some("api_key"),
        ..Problem::default()
    };
    let html = drop_page(&p, Some(&pr)).into_string();
    assert!(html.contains("<span class=\"scope-label\">Users</span>"));
    assert!(html
        .replace("<wbr>", "")
        .contains(">GET: List Users</code>"));
    assert!(html.contains("Manage permissions"));
    assert!(html.contains("2026-08-31"));
    let t = tags(&html);
    let key = t
        .iter()
        .find(|t| t.attr("name") == Some("api_key"))
        .unwrap();
    assert_eq!(key.attr("aria-invalid"), Some("true"));
}

#[test]
fn candidate_ingestion_page_has_its_fields_and_steps() {
    let p = page(crate::greenhouse::kinds::CANDIDATE_INGESTION, "x");
    let pr = Problem {
        message: "Missing".into(),
        missing_required: vec!["GET /v1/partner/jobs".into()],
        field: Some("user_email"),
        kept: vec![("user_email", "ada@initech.example".into())],
        ..Problem::default()
    };
    for html in [
        drop_page(&p, None).into_string(),
        drop_page(&p, Some(&pr)).into_string(),
    ] {
        for s in [
            "Candidate Ingestion API key",
            "Dev Center",
            "API Credential Management",
            "Create New API Key",
            "<strong>Candidate Ingestion</strong>",
            "Unlisted vendor",
            "only once",
            "Can manage ALL organization's API Credentials",
            "GET /v1/partner/jobs",
            "boards.greenhouse.io/",
        ] {
            assert!(html.replace("<wbr>", "").contains(s), "missing {s}");
        }
        let t = tags(&html);
        let input = |n: &str| {
            t.iter()
                .find(|t| t.name == "input" && t.attr("name") == Some(n))
                .unwrap()
        };
        assert_eq!(input("api_key").attr("type"), Some("password"));
        assert_eq!(input("user_email").attr("inputmode"), Some("email"));
        assert!(input("user_email").attr("required").is_some());
        assert!(input("job_board_token").attr("required").is_none());
    }
    let html = drop_page(&p, Some(&pr)).into_string();
    let t = tags(&html);
    let email = t
        .iter()
        .find(|t| t.attr("name") == Some("user_email"))
        .unwrap();
    assert_eq!(email.attr("value"), Some("ada@initech.example"));
    assert_eq!(email.attr("aria-invalid"), Some("true"));
    assert!(html.contains("raise their permission level"));
}

#[test]
fn egress_addresses_are_shown_when_set() {
    let mut p = page(HARVEST_V3, "x");
    assert!(!drop_page(&p, None).into_string().contains("203.0.113.7"));
    p.ctx.handling.egress_ips = vec!["203.0.113.7".into()];
    let html = drop_page(&p, None).into_string();
    assert!(html.contains("allow <code translate=\"no\">203.0.113.7</code> first"));
    let invalid = Problem {
        message: "Refused".into(),
        ..Problem::default()
    };
    let html = drop_page(&p, Some(&invalid)).into_string();
    assert!(html.contains("allow 203.0.113.7 too"));
    assert!(html.contains(r##"<a href="#client_id">The credential</a>: Refused"##));
}

#[test]
fn v3_page_lists_every_required_scope() {
    let p = page(HARVEST_V3, "x");
    let html = drop_page(&p, None).into_string();
    for name in &p.profile.required {
        assert!(html.contains(&format!(
            "<code class=\"perm-name\" translate=\"no\">harvest:<wbr>{name}:<wbr>list</code>"
        )));
    }
}
