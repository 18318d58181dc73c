//! Every customer page in headless Chromium with JavaScript off, at a desktop
//! (1280 px) and a phone (390 px) width, in light and dark mode: full-page
//! screenshots in target/browser-screenshots/pages/, each page's height in
//! target/browser-screenshots/pages/heights.tsv, what each page must say, and
//! (with `KEYDROP_TEST_AXE`) axe-core's accessibility check of each.

use crate::browser_axe::{axe_source, serious_violations};
use crate::helpers::{
    spawn_app_with, AppOptions, Backend, TestApp, GOOD_ID, GOOD_SECRET, PARTIAL_ID, PARTIAL_SECRET,
};
use crate::webdriver::Browser;
use keydrop::config::ServeSettings;
use serde_json::{json, Value};
use std::path::PathBuf;

/// The widths every page is looked at: a laptop and a phone.
const WIDTHS: [(u32, bool); 2] = [(1280, false), (390, true)];

/// The most a page may take on a phone. The "missing permissions" answer
/// was 14 875 px tall at 390 px before it was made compact.
const MAX_INSUFFICIENT_390: u64 = 4_000;
/// Any page at 390 px. The longest is the first visit of a full-analytics
/// link: its steps are open and list 27 scopes, each with the screen's label,
/// what it is for and its exact name.
const MAX_ANY_390: u64 = 6_000;
/// Where a 422 page's reason must start at 390 px: at the top, not below the steps.
const MAX_ALERT_TOP_390: u64 = 400;

fn out_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser-screenshots/pages")
}

/// The brand settings every page is shown with: a logo, egress addresses.
fn branded(s: &mut ServeSettings) {
    let logo = out_dir().join("../brand-logo.svg");
    std::fs::create_dir_all(out_dir()).unwrap();
    std::fs::write(
        &logo,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" width="64" height="64"><rect width="64" height="64" rx="14" fill="#1f5fbf"/><path d="M18 46 32 16 46 46M24 36h16" stroke="#fff" stroke-width="6" fill="none" stroke-linecap="round" stroke-linejoin="round"/></svg>"##,
    )
    .unwrap();
    s.brand_logo = Some(keydrop::config::brand::BrandLogo::load(&logo).unwrap());
    s.egress_ips = keydrop::config::brand::egress_ips(&["203.0.113.7".into()]).unwrap();
}

/// Looks at each page the same way: CSP, logo and contact, screenshots and
/// heights, and axe when asked.
struct Tour<'b> {
    browser: &'b Browser,
    screenshots: bool,
    axe: Option<String>,
    /// Page, height at 1280 and 390 px, and where the error summary starts at 390 px.
    rows: Vec<(String, u64, u64, Option<u64>)>,
    violations: Vec<String>,
}

impl Tour<'_> {
    /// Returns the height at 390 px and where the alert starts there.
    async fn look(&mut self, name: &str) -> (u64, Option<u64>) {
        let b = self.browser;
        assert!(
            b.csp_violations().is_empty(),
            "CSP violations on {name}: {:?}",
            b.csp_violations()
        );
        let source = b.page_source().await;
        assert!(
            source.contains("src=\"/static/brand/logo.svg\""),
            "no logo on {name}"
        );
        assert!(
            source.contains("mailto:jane.doe@acme-analytics.example")
                || source.contains("mailto:help@acme-analytics.example"),
            "no contact on {name}"
        );
        assert!(
            !source.to_ascii_lowercase().contains("<script"),
            "{name} carries a script"
        );
        for secret in [
            GOOD_SECRET,
            PARTIAL_SECRET,
            "wrong-secret-123456",
            "some-secret-value-1234",
            "ing-unknown-key-1234567890",
        ] {
            assert!(!source.contains(secret), "a secret on {name}");
        }
        let mut heights = [0u64; 2];
        for (i, (width, mobile)) in WIDTHS.into_iter().enumerate() {
            for dark in [false, true] {
                let scheme = if dark { "dark" } else { "light" };
                let file = out_dir().join(format!("{name}-{width}-{scheme}.png"));
                if self.screenshots {
                    let height = b.screenshot_at(&file, width, mobile, dark).await;
                    if !dark {
                        heights[i] = height;
                    }
                } else if !dark {
                    b.emulate(width, 100, mobile, dark).await;
                    heights[i] = b.page_height().await;
                }
            }
        }
        b.emulate(390, 100, true, false).await;
        let alert_at = b
            .execute(
                "const a = document.querySelector('[role=alert]'); \
                 return a ? Math.round(a.getBoundingClientRect().top + window.scrollY) : null",
                vec![],
            )
            .await
            .as_u64();
        if let Some(axe) = &self.axe {
            for (width, mobile) in WIDTHS {
                for dark in [false, true] {
                    b.emulate(width, 900, mobile, dark).await;
                    let scheme = if dark { "dark" } else { "light" };
                    for v in serious_violations(b, axe).await {
                        self.violations
                            .push(format!("{name} {width} {scheme}: {v}"));
                    }
                }
            }
        }
        b.emulate(1280, 900, false, false).await;
        self.rows
            .push((name.to_owned(), heights[0], heights[1], alert_at));
        (heights[1], alert_at)
    }

    fn write(&self) {
        let mut tsv = String::from("page\t1280\t390\talert at (390)\n");
        for (name, wide, narrow, alert) in &self.rows {
            let alert = alert.map_or("-".to_owned(), |a| a.to_string());
            tsv.push_str(&format!("{name}\t{wide}\t{narrow}\t{alert}\n"));
        }
        std::fs::create_dir_all(out_dir()).unwrap();
        std::fs::write(out_dir().join("heights.tsv"), &tsv).unwrap();
        eprintln!("page heights (CSS px):\n{tsv}");
    }
}

fn link(app: &TestApp, d: &Value) -> String {
    d["url"]
        .as_str()
        .unwrap()
        .replace("http://127.0.0.1", &app.address)
}

async fn fill(browser: &Browser, fields: &[(&str, &str)]) {
    for (name, value) in fields {
        let input = browser.find(&format!("#{name}")).await;
        if value.is_empty() {
            input.clear().await;
        } else {
            input.type_exactly(value).await;
        }
    }
    // Mark this document, submit, and wait for the next one to be loaded
    // (a click does not always wait for the navigation it starts).
    browser.execute("window.kdOld = true", vec![]).await;
    browser.find("button[type=submit]").await.click().await;
    let started = std::time::Instant::now();
    loop {
        let next = browser
            .execute(
                "return window.kdOld !== true && document.readyState === 'complete'",
                vec![],
            )
            .await;
        if next == json!(true) {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the form's answer did not arrive"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    browser.collect_log().await;
}

async fn text(browser: &Browser, css: &str) -> String {
    browser.find(css).await.text().await
}

/// A 422 page: the reason at the top, focused, the answer opened at the form.
async fn assert_reason_first(b: &Browser, name: &str, alert_at: Option<u64>) {
    let top = alert_at.unwrap_or_else(|| panic!("no [role=alert] on {name}"));
    assert!(
        top <= MAX_ALERT_TOP_390,
        "{name}: the reason starts at {top} px"
    );
    assert!(b.current_url().await.ends_with("#send"), "{name}");
    let focused = b
        .execute(
            "return document.activeElement ? document.activeElement.className : null",
            vec![],
        )
        .await;
    assert_eq!(
        focused,
        json!("error-summary"),
        "{name}: summary not focused"
    );
    let link = b.find(".error-summary a").await.attr("href").await;
    let target = link.unwrap_or_default();
    let id = target.rsplit('#').next().unwrap_or_default().to_owned();
    assert!(
        b.try_find(&format!("[id='{id}']")).await.is_some(),
        "{name}: the error links to #{id}, which is not on the page"
    );
    let first = b
        .execute(
            "const m = document.querySelector('main'); \
             const a = m.querySelector('[role=alert]'); \
             const first = m.querySelector('h1, h2, p, ul, ol, dl, form, section, details'); \
             return !!a && a.contains(first);",
            vec![],
        )
        .await;
    assert_eq!(
        first,
        json!(true),
        "{name}: something comes before the reason"
    );
}

/// Every page, in the order a customer meets them.
async fn tour(t: &mut Tour<'_>) {
    let b = t.browser;
    let app = spawn_app_with(
        Backend::Sqlite,
        AppOptions {
            support_email: Some("help@acme-analytics.example".into()),
            tune: Some(branded),
            ..AppOptions::with_manual_clock()
        },
    )
    .await;

    // The form, then each way a submission can be refused, then success.
    let v3 = app.create_drop(drop_body(json!({}))).await;
    b.goto(&link(&app, &v3)).await;
    t.look("form").await;
    let intro = text(b, "main").await;
    for s in [
        "Keep the Greenhouse tab open until this page says",
        "What happens to your credential",
        "203.0.113.7",
        "Thursday 26 November 2026, 09:00 UTC (in 3 days)",
        "Candidates > List candidates",
    ] {
        assert!(intro.contains(s), "form page lacks {s:?}");
    }
    for input in ["client_id", "client_secret", "user_id"] {
        let el = b.find(&format!("#{input}")).await;
        assert_eq!(el.attr("translate").await.as_deref(), Some("no"));
        assert_eq!(el.attr("spellcheck").await.as_deref(), Some("false"));
    }

    fill(b, MALFORMED).await;
    let (_, alert) = t.look("422-malformed").await;
    assert_reason_first(b, "422-malformed", alert).await;
    assert!(text(b, "[role=alert]").await.contains("space"));

    fill(
        b,
        &[("client_id", GOOD_SECRET), ("client_secret", GOOD_SECRET)],
    )
    .await;
    let (_, alert) = t.look("422-secret-in-id").await;
    assert_reason_first(b, "422-secret-in-id", alert).await;
    assert!(text(b, "[role=alert]")
        .await
        .contains("secret was probably pasted"));
    assert!(text(b, "[role=alert]")
        .await
        .contains("did not use an attempt"));

    fill(
        b,
        &[
            ("client_id", GOOD_ID),
            ("client_secret", "wrong-secret-123456"),
        ],
    )
    .await;
    let (_, alert) = t.look("422-invalid").await;
    assert_reason_first(b, "422-invalid", alert).await;

    fill(
        b,
        &[("client_id", PARTIAL_ID), ("client_secret", PARTIAL_SECRET)],
    )
    .await;
    let (narrow, alert) = t.look("422-insufficient").await;
    assert_reason_first(b, "422-insufficient", alert).await;
    assert!(
        narrow < MAX_INSUFFICIENT_390,
        "the missing-permissions page is {narrow} px tall at 390 px (at most {MAX_INSUFFICIENT_390})"
    );
    let missing = text(b, "#missing").await;
    for s in [
        "Candidates > List candidates",
        "harvest:candidates:list",
        "Offers > List offers",
        "Manage Scopes",
    ] {
        assert!(missing.contains(s), "{s:?} not in the list:\n{missing}");
    }
    assert_eq!(
        missing.matches("Manage Scopes").count(),
        1,
        "the steps are written once"
    );
    let kept = b.find("#client_id").await.property("value").await;
    assert_eq!(
        kept.as_deref(),
        Some(PARTIAL_ID),
        "the accepted Client ID is kept"
    );
    let secret = b.find("#client_secret").await.property("value").await;
    assert_eq!(secret.as_deref(), Some(""), "the secret is never kept");
    assert_eq!(
        b.find("details.instructions").await.attr("open").await,
        None
    );

    fill(b, &[("client_id", GOOD_ID), ("client_secret", GOOD_SECRET)]).await;
    t.look("verified").await;
    assert_eq!(text(b, "h1").await, "Received and verified");
    let receipt = text(b, ".receipt").await;
    assert!(receipt.contains("Reference"), "{receipt}");
    assert!(text(b, "main").await.contains("What happens next"));
    b.goto(&link(&app, &v3)).await;
    t.look("410-submitted").await;
    assert_eq!(text(b, "h1").await, "Already received");
    let reference = receipt
        .lines()
        .skip_while(|l| !l.contains("Reference"))
        .nth(1)
        .unwrap_or_default()
        .trim()
        .to_owned();
    assert!(
        text(b, "main").await.contains(&reference),
        "same reference {reference:?}"
    );

    // Greenhouse down: received, checked later.
    let pending = app.create_drop(drop_body(json!({}))).await;
    b.goto(&link(&app, &pending)).await;
    app.fake.as_ref().unwrap().set_outage(true);
    fill(b, &[("client_id", GOOD_ID), ("client_secret", GOOD_SECRET)]).await;
    app.fake.as_ref().unwrap().set_outage(false);
    t.look("pending").await;
    assert!(text(b, "h1").await.starts_with("Received"));

    // The last attempt fails: the link locks.
    let last = app.create_drop(drop_body(json!({"max_attempts": 1}))).await;
    b.goto(&link(&app, &last)).await;
    fill(
        b,
        &[
            ("client_id", GOOD_ID),
            ("client_secret", "wrong-secret-123456"),
        ],
    )
    .await;
    t.look("422-last-attempt").await;
    let locked = text(b, "main").await;
    assert!(
        locked.contains("ask Jane Doe at Acme Analytics for a new link"),
        "{locked}"
    );
    assert!(!locked.contains("keeps happening"));
    b.goto(&link(&app, &last)).await;
    t.look("410-locked").await;

    let revoked = app.create_drop(drop_body(json!({}))).await;
    let path = format!("/api/v1/drops/{}/revoke", revoked["id"].as_str().unwrap());
    let res = app
        .post(&path, Some(&app.admin_token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    b.goto(&link(&app, &revoked)).await;
    t.look("410-revoked").await;

    // The other kinds.
    let ingestion = app
        .create_drop(drop_body(json!({"kind": "candidate_ingestion"})))
        .await;
    b.goto(&link(&app, &ingestion)).await;
    t.look("form-ingestion").await;
    fill(
        b,
        &[
            ("api_key", "ing-unknown-key-1234567890"),
            ("user_email", "ada@initech.example"),
        ],
    )
    .await;
    let (_, alert) = t.look("422-ingestion-invalid").await;
    assert_reason_first(b, "422-ingestion-invalid", alert).await;
    let kept = b.find("#user_email").await.property("value").await;
    assert_eq!(kept.as_deref(), Some("ada@initech.example"));
    let v1 = app
        .create_drop(drop_body(json!({"kind": "harvest_v1"})))
        .await;
    b.goto(&link(&app, &v1)).await;
    t.look("form-v1").await;

    b.goto(&app.url("/d/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
        .await;
    t.look("404").await;

    let expiring = app.create_drop(drop_body(json!({"expires_in": 300}))).await;
    app.clock
        .as_ref()
        .unwrap()
        .advance(std::time::Duration::from_secs(600));
    b.goto(&link(&app, &expiring)).await;
    t.look("410-expired").await;

    // Too many posts from one address.
    let limited = spawn_app_with(
        Backend::Sqlite,
        AppOptions {
            rate_limit: Some(keydrop::config::RateLimit {
                requests: 1,
                per: std::time::Duration::from_secs(60),
            }),
            support_email: Some("help@acme-analytics.example".into()),
            tune: Some(branded),
            ..AppOptions::default()
        },
    )
    .await;
    let d = limited.create_drop(drop_body(json!({}))).await;
    b.goto(&link(&limited, &d)).await;
    fill(b, MALFORMED).await;
    fill(b, MALFORMED).await;
    t.look("429").await;
    assert_eq!(text(b, "h1").await, "Too many requests");
}

/// The heights hold: every page at 390 px under [`MAX_ANY_390`].
fn assert_heights(t: &Tour<'_>) {
    for (name, _, narrow, _) in &t.rows {
        assert!(
            *narrow < MAX_ANY_390,
            "{name} is {narrow} px tall at 390 px"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    keydrop_no_browser,
    ignore = "browser: set KEYDROP_TEST_CHROMEDRIVER=/usr/bin/chromedriver to run"
)]
async fn every_customer_page_at_desktop_and_phone_width() {
    let browser = Browser::start(false).await;
    assert!(
        !browser.javascript_enabled().await,
        "JavaScript must be off"
    );
    let mut t = Tour {
        browser: &browser,
        screenshots: true,
        axe: None,
        rows: Vec::new(),
        violations: Vec::new(),
    };
    tour(&mut t).await;
    t.write();
    assert_heights(&t);
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    keydrop_no_browser,
    ignore = "browser: set KEYDROP_TEST_CHROMEDRIVER=/usr/bin/chromedriver to run"
)]
#[cfg_attr(
    all(not(keydrop_no_browser), keydrop_no_axe),
    ignore = "accessibility: set KEYDROP_TEST_AXE=…/node_modules/axe-core/axe.min.js to run"
)]
async fn every_customer_page_passes_axe() {
    // JavaScript on, for axe only: see `browser_axe`.
    let browser = Browser::start(true).await;
    assert!(browser.javascript_enabled().await);
    let axe = axe_source();
    // The checker itself works: an unlabelled input on grey text fails it.
    browser
        .goto("data:text/html;charset=utf-8,%3Chtml%20lang%3Den%3E%3Ctitle%3Ex%3C%2Ftitle%3E%3Cmain%3E%3Cp%20style%3D%22color%3A%23bbb%22%3Egrey%3C%2Fp%3E%3Cinput%3E%3C%2Fmain%3E")
        .await;
    let caught = serious_violations(&browser, &axe).await;
    assert!(
        caught.iter().any(|v| v.starts_with("label "))
            && caught.iter().any(|v| v.starts_with("color-contrast ")),
        "axe missed known violations: {caught:?}"
    );
    let mut t = Tour {
        browser: &browser,
        screenshots: false,
        axe: Some(axe),
        rows: Vec::new(),
        violations: Vec::new(),
    };
    tour(&mut t).await;
    assert!(
        t.violations.is_empty(),
        "serious or critical accessibility violations:\n{}",
        t.violations.join("\n")
    );
    browser.quit().await;
}

/// Refused by the local shape checks (a space inside the Client ID).
const MALFORMED: &[(&str, &str)] = &[
    ("client_id", "acme integration 4471"),
    ("client_secret", "some-secret-value-1234"),
];

const CONTACT: &str = r#"{"name": "Jane Doe", "email": "jane.doe@acme-analytics.example"}"#;

fn drop_body(extra: Value) -> Value {
    let mut body = json!({
        "org": "Initech",
        "note": "Needed for the weekly hiring analytics sync.",
        "contact": serde_json::from_str::<Value>(CONTACT).unwrap(),
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    body
}
