//! Every console page in headless Chromium (SPEC §13): screenshots at 1280 and 390 px, light
//! and dark, in target/browser-screenshots/console/ (JavaScript off, no CSP violation, no
//! horizontal scrolling at 390 px), and axe-core on each (JavaScript on for axe only, as for
//! the customer pages: see `browser::axe`).

use crate::browser::axe::{axe_source, serious_violations};
use crate::support::helpers::{
    remember_secret, spawn_app_with, AppOptions, Backend, TestApp, GOOD_ID, GOOD_SECRET,
};
use crate::support::webdriver::Browser;
use keydrop::domain::event::Origin;
use keydrop::domain::role::Role;
use std::path::PathBuf;
use std::time::Duration;

fn shot(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/browser-screenshots/console")
        .join(name)
}

/// An app with something on every page: a verified credential, an open link, one that
/// lapsed, a revoked one, a worker token, a webhook endpoint; and a browser signed in as an
/// admin. Returns the verified drop's id.
async fn seeded(browser: &Browser) -> (TestApp, String) {
    let app = spawn_app_with(
        Backend::Sqlite,
        AppOptions {
            real_public_url: true,
            manual_clock: true,
            ..AppOptions::default()
        },
    )
    .await;
    let verified = app
        .create_drop(
            serde_json::json!({"org": "Initech", "external_id": "cust-4410",
            "contact": {"name": "Ada Lovelace", "email": "ada@acme.example"}}),
        )
        .await;
    let (status, _) = app
        .submit(
            &TestApp::link_path(verified["url"].as_str().unwrap()),
            &[("client_id", GOOD_ID), ("client_secret", GOOD_SECRET)],
        )
        .await;
    assert_eq!(status, 200);
    app.create_drop(serde_json::json!({"org": "Hooli", "expires_in": 300}))
        .await;
    let revoked = app
        .create_drop(serde_json::json!({"org": "Umbrella Corporation"}))
        .await;
    let id = revoked["id"].as_str().unwrap();
    assert_eq!(
        app.post(
            &format!("/api/v1/drops/{id}/revoke"),
            Some(&app.admin_token)
        )
        .send()
        .await
        .unwrap()
        .status(),
        200
    );
    app.clock
        .as_ref()
        .unwrap()
        .advance(Duration::from_secs(600));
    app.create_drop(serde_json::json!({"org": "Globex", "external_id": "cust-0007"}))
        .await;
    app.create_token("ingest-worker-1", "worker").await;
    let res = app
        .post("/api/v1/webhooks", Some(&app.admin_token))
        .json(&serde_json::json!({"url": "http://127.0.0.1:9/keydrop", "description": "billing sync"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    remember_secret(
        res.json::<serde_json::Value>().await.unwrap()["secret"]
            .as_str()
            .unwrap(),
    );

    let token = keydrop::service::console::create_link(
        &app.store,
        "grace@acme.example",
        Role::Admin,
        Duration::from_secs(600),
        &Origin::cli(),
    )
    .await
    .unwrap();
    remember_secret(token.reveal());
    browser
        .goto(&app.url(&format!("/console/link/{}", token.reveal())))
        .await;
    browser.find("button[type=submit]").await.click().await;
    wait_for(browser, "Console").await;
    (app, verified["id"].as_str().unwrap().to_owned())
}

async fn wait_for(browser: &Browser, title: &str) {
    let started = std::time::Instant::now();
    while !browser.title().await.contains(title) {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no page titled {title:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every GET page of the console, by screenshot name.
fn pages(drop_id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("dashboard", "/console".into()),
        ("drops", "/console/drops".into()),
        ("drops-filtered", "/console/drops?state=open&q=glo".into()),
        ("new-drop", "/console/drops/new".into()),
        ("drop", format!("/console/drops/{drop_id}")),
        ("audit", "/console/audit?verify=1".into()),
        ("admin-tokens", "/console/admin/tokens".into()),
        ("admin-webhooks", "/console/admin/webhooks".into()),
        ("admin-sessions", "/console/admin/sessions".into()),
        ("admin-status", "/console/admin/status".into()),
        ("sign-out", "/console/sign-out".into()),
    ]
}

async fn look(browser: &Browser, name: &str) {
    for (width, mobile) in [(1280, false), (390, true)] {
        for dark in [false, true] {
            let scheme = if dark { "dark" } else { "light" };
            browser
                .screenshot_at(
                    &shot(&format!("{name}-{width}-{scheme}.png")),
                    width,
                    mobile,
                    dark,
                )
                .await;
        }
        // Usable at 390 px: nothing wider than the screen but the tables, which scroll in
        // their own box.
        browser.emulate(width, 900, mobile, false).await;
        let wide = browser
            .execute(
                "return document.documentElement.scrollWidth > window.innerWidth + 1",
                vec![],
            )
            .await;
        assert_eq!(
            wide,
            serde_json::json!(false),
            "{name} scrolls sideways at {width}px"
        );
    }
    let v = browser.csp_violations();
    assert!(v.is_empty(), "{name}: CSP violations: {v:?}");
    let source = browser.page_source().await;
    for secret in crate::support::helpers::remembered_secrets() {
        if name.ends_with("-once") {
            continue;
        }
        assert!(!source.contains(&secret), "a secret on {name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    keydrop_no_browser,
    ignore = "browser: set KEYDROP_TEST_CHROMEDRIVER=/usr/bin/chromedriver to run"
)]
async fn every_console_page_at_1280_and_390() {
    let browser = Browser::start(false).await;
    let (app, drop_id) = seeded(&browser).await;
    for (name, path) in pages(&drop_id) {
        browser.goto(&app.url(&path)).await;
        assert!(
            !browser.title().await.contains("not"),
            "{name}: {}",
            browser.title().await
        );
        look(&browser, name).await;
    }
    // The pages that show something once: a new link, a new token.
    browser.goto(&app.url("/console/drops/new")).await;
    browser.find("#org").await.send_keys("Pied Piper").await;
    browser
        .find("#external_id")
        .await
        .send_keys("cust-9001")
        .await;
    browser.submit("form.stack").await;
    wait_for(&browser, "Link created").await;
    look(&browser, "link-created-once").await;
    browser.goto(&app.url("/console/admin/tokens")).await;
    browser
        .find("input[name=name]")
        .await
        .send_keys("ingest-worker-2")
        .await;
    browser.submit("form.filters").await;
    wait_for(&browser, "Token created").await;
    look(&browser, "token-created-once").await;
    // The 403 page a role without the right sees.
    let token = keydrop::service::console::create_link(
        &app.store,
        "audrey@acme.example",
        Role::Auditor,
        Duration::from_secs(600),
        &Origin::cli(),
    )
    .await
    .unwrap();
    browser
        .goto(&app.url(&format!("/console/link/{}", token.reveal())))
        .await;
    browser.find("button[type=submit]").await.click().await;
    wait_for(&browser, "Console").await;
    browser.goto(&app.url("/console/drops/new")).await;
    wait_for(&browser, "Not for your role").await;
    look(&browser, "forbidden").await;
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
async fn every_console_page_passes_axe() {
    let browser = Browser::start(true).await;
    let axe = axe_source();
    let (app, drop_id) = seeded(&browser).await;
    let mut violations = Vec::new();
    let mut all = pages(&drop_id);
    all.push(("sign-in", "/console/sign-in".into()));
    for (name, path) in all {
        browser.goto(&app.url(&path)).await;
        for (width, mobile) in [(1280, false), (390, true)] {
            for dark in [false, true] {
                browser.emulate(width, 900, mobile, dark).await;
                for v in serious_violations(&browser, &axe).await {
                    violations.push(format!(
                        "{name} {width} {}: {v}",
                        if dark { "dark" } else { "light" }
                    ));
                }
            }
        }
    }
    assert!(violations.is_empty(), "axe:\n{}", violations.join("\n"));
}
