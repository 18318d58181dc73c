//! Every customer page in headless Chromium with JavaScript off, at a desktop
//! (1280 px) and a phone (390 px) width, in light and dark mode: full-page
//! screenshots in target/browser-screenshots/pages/, each page's height in
//! target/browser-screenshots/pages/heights.tsv.

use crate::helpers::{
    spawn_app_with, AppOptions, Backend, TestApp, GOOD_ID, GOOD_SECRET, PARTIAL_ID, PARTIAL_SECRET,
};
use crate::webdriver::Browser;
use serde_json::{json, Value};
use std::path::PathBuf;

/// The widths every page is looked at: a laptop and a phone.
const WIDTHS: [(u32, bool); 2] = [(1280, false), (390, true)];

fn out_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser-screenshots/pages")
}

/// Screenshots of the page now in the browser, at both widths in both
/// schemes; returns the heights at 1280 and 390 px (light mode).
struct Gallery {
    /// Page, height at 1280 and 390 px, and where the error summary starts at 390 px.
    rows: Vec<(String, u64, u64, Option<u64>)>,
}

impl Gallery {
    async fn capture(&mut self, browser: &Browser, name: &str) -> (u64, u64) {
        eprintln!("capturing {name}: {}", browser.title().await);
        assert!(
            browser.csp_violations().is_empty(),
            "CSP violations on {name}: {:?}",
            browser.csp_violations()
        );
        let mut heights = [0u64; 2];
        for (i, (width, mobile)) in WIDTHS.into_iter().enumerate() {
            for dark in [false, true] {
                let scheme = if dark { "dark" } else { "light" };
                let file = out_dir().join(format!("{name}-{width}-{scheme}.png"));
                let height = browser.screenshot_at(&file, width, mobile, dark).await;
                if !dark {
                    heights[i] = height;
                }
            }
        }
        browser.emulate(390, 100, true, false).await;
        let alert_at = browser
            .execute(
                "const a = document.querySelector('[role=alert]'); \
                 return a ? Math.round(a.getBoundingClientRect().top + window.scrollY) : null",
                vec![],
            )
            .await
            .as_u64();
        browser.emulate(1280, 900, false, false).await;
        self.rows
            .push((name.to_owned(), heights[0], heights[1], alert_at));
        (heights[0], heights[1])
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

async fn wait_for_title(browser: &Browser, part: &str) {
    let started = std::time::Instant::now();
    while !browser.title().await.contains(part)
        && started.elapsed() < std::time::Duration::from_secs(20)
    {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    keydrop_no_browser,
    ignore = "browser: set KEYDROP_TEST_CHROMEDRIVER=/usr/bin/chromedriver to run"
)]
async fn every_customer_page_at_desktop_and_phone_width() {
    let browser = Browser::start(false).await;
    let mut g = Gallery { rows: Vec::new() };
    let app = spawn_app_with(
        Backend::Sqlite,
        AppOptions {
            support_email: Some("help@acme-analytics.example".into()),
            ..AppOptions::with_manual_clock()
        },
    )
    .await;

    // The form, then each way a submission can be refused, then success.
    let v3 = app.create_drop(drop_body(json!({}))).await;
    browser.goto(&link(&app, &v3)).await;
    g.capture(&browser, "form").await;
    fill(&browser, MALFORMED).await;
    g.capture(&browser, "422-malformed").await;
    fill(
        &browser,
        &[("client_id", GOOD_SECRET), ("client_secret", GOOD_SECRET)],
    )
    .await;
    g.capture(&browser, "422-secret-in-id").await;
    fill(
        &browser,
        &[("client_id", GOOD_ID), ("client_secret", "wrong-secret-123456")],
    )
    .await;
    g.capture(&browser, "422-invalid").await;
    fill(
        &browser,
        &[("client_id", PARTIAL_ID), ("client_secret", PARTIAL_SECRET)],
    )
    .await;
    g.capture(&browser, "422-insufficient").await;
    fill(
        &browser,
        &[("client_id", GOOD_ID), ("client_secret", GOOD_SECRET)],
    )
    .await;
    wait_for_title(&browser, "verified").await;
    g.capture(&browser, "verified").await;
    browser.goto(&link(&app, &v3)).await;
    g.capture(&browser, "410-submitted").await;

    // Greenhouse down: received, checked later.
    let pending = app.create_drop(drop_body(json!({}))).await;
    browser.goto(&link(&app, &pending)).await;
    app.fake.as_ref().unwrap().set_outage(true);
    fill(
        &browser,
        &[("client_id", GOOD_ID), ("client_secret", GOOD_SECRET)],
    )
    .await;
    wait_for_title(&browser, "Received").await;
    app.fake.as_ref().unwrap().set_outage(false);
    g.capture(&browser, "pending").await;

    // The last attempt fails: the link locks.
    let last = app
        .create_drop(drop_body(json!({"max_attempts": 1})))
        .await;
    browser.goto(&link(&app, &last)).await;
    fill(
        &browser,
        &[("client_id", GOOD_ID), ("client_secret", "wrong-secret-123456")],
    )
    .await;
    g.capture(&browser, "422-last-attempt").await;
    browser.goto(&link(&app, &last)).await;
    g.capture(&browser, "410-locked").await;

    let revoked = app.create_drop(drop_body(json!({}))).await;
    let res = app
        .post(
            &format!("/api/v1/drops/{}/revoke", revoked["id"].as_str().unwrap()),
            Some(&app.admin_token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    browser.goto(&link(&app, &revoked)).await;
    g.capture(&browser, "410-revoked").await;

    // The other kinds.
    let ingestion = app
        .create_drop(drop_body(json!({"kind": "candidate_ingestion"})))
        .await;
    browser.goto(&link(&app, &ingestion)).await;
    g.capture(&browser, "form-ingestion").await;
    fill(
        &browser,
        &[
            ("api_key", "ing-unknown-key-1234567890"),
            ("user_email", "ada@initech.example"),
        ],
    )
    .await;
    g.capture(&browser, "422-ingestion-invalid").await;
    let v1 = app
        .create_drop(drop_body(json!({"kind": "harvest_v1"})))
        .await;
    browser.goto(&link(&app, &v1)).await;
    g.capture(&browser, "form-v1").await;

    browser
        .goto(&app.url("/d/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
        .await;
    g.capture(&browser, "404").await;

    let expiring = app
        .create_drop(drop_body(json!({"expires_in": 300})))
        .await;
    app.clock
        .as_ref()
        .unwrap()
        .advance(std::time::Duration::from_secs(600));
    browser.goto(&link(&app, &expiring)).await;
    g.capture(&browser, "410-expired").await;

    // Too many posts from one address.
    let limited = spawn_app_with(
        Backend::Sqlite,
        AppOptions {
            rate_limit: Some(keydrop::config::RateLimit {
                requests: 1,
                per: std::time::Duration::from_secs(60),
            }),
            support_email: Some("help@acme-analytics.example".into()),
            ..AppOptions::default()
        },
    )
    .await;
    let d = limited.create_drop(drop_body(json!({}))).await;
    browser.goto(&link(&limited, &d)).await;
    fill(&browser, MALFORMED).await;
    fill(&browser, MALFORMED).await;
    g.capture(&browser, "429").await;

    g.write();
    browser.quit().await;
}
