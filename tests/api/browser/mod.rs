//! The customer page in a real headless Chromium with JavaScript disabled:
//! open the link, fill the form, submit, see the answer. Full-page
//! screenshots go to target/browser-screenshots/; any CSP violation fails.

mod axe;
mod console;
mod console_pages;
mod console_sso;
mod pages;
mod selftest;
mod tour;

use crate::support::helpers::{
    spawn_app_with, AppOptions, Backend, TestApp, GOOD_ID, GOOD_SECRET, PARTIAL_ID, PARTIAL_SECRET,
};
use crate::support::webdriver::Browser;
use serde_json::json;
use std::path::PathBuf;

fn shot(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/browser-screenshots")
        .join(name)
}

async fn open_link(app: &TestApp, browser: &Browser, org: &str) {
    let d = app
        .create_drop(json!({"org": org, "note": "Needed for the analytics sync <b>not bold</b>"}))
        .await;
    browser
        .goto(
            d["url"]
                .as_str()
                .unwrap()
                .replace("http://127.0.0.1", &app.address)
                .as_str(),
        )
        .await;
}

async fn fill_and_submit(browser: &Browser, id: &str, secret: &str) {
    browser.find("#client_id").await.type_exactly(id).await;
    browser
        .find("#client_secret")
        .await
        .type_exactly(secret)
        .await;
    let before = browser.title().await;
    browser.find("button[type=submit]").await.click().await;
    // The form posts to `#send`: a click need not wait for that navigation,
    // so wait for the next page (by its title) before reading it.
    let started = std::time::Instant::now();
    while browser.title().await == before && started.elapsed() < std::time::Duration::from_secs(20)
    {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

fn assert_no_csp_violations(browser: &Browser) {
    let v = browser.csp_violations();
    assert!(v.is_empty(), "CSP violations: {v:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    keydrop_no_browser,
    ignore = "browser: set KEYDROP_TEST_CHROMEDRIVER=/usr/bin/chromedriver to run"
)]
async fn a_customer_submits_a_credential_that_verifies() {
    let browser = Browser::start(false).await;
    let app = spawn_app_with(Backend::Sqlite, AppOptions::default()).await;
    open_link(&app, &browser, "Initech").await;
    assert!(
        browser.title().await.contains("Acme Analytics")
            || browser.page_source().await.contains("Acme Analytics")
    );
    let note = browser.find(".note, [class*=note]").await.text().await;
    assert!(
        note.contains("<b>not bold</b>"),
        "the note is shown as text: {note}"
    );
    assert_eq!(
        browser
            .find("#client_secret")
            .await
            .attr("type")
            .await
            .as_deref(),
        Some("password")
    );
    browser.screenshot_full_page(&shot("drop-page.png")).await;
    fill_and_submit(&browser, GOOD_ID, GOOD_SECRET).await;
    let h1 = browser.find("h1").await.text().await;
    assert_eq!(h1, "Received and verified");
    let source = browser.page_source().await;
    assert!(!source.contains(GOOD_SECRET));
    assert!(source.contains("harvest:<wbr>users:<wbr>list"));
    browser.screenshot_full_page(&shot("verified.png")).await;
    browser.browser_log().await;
    assert_no_csp_violations(&browser);
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    keydrop_no_browser,
    ignore = "browser: set KEYDROP_TEST_CHROMEDRIVER=/usr/bin/chromedriver to run"
)]
async fn a_customer_sees_which_permissions_are_missing() {
    let browser = Browser::start(false).await;
    let app = spawn_app_with(Backend::Sqlite, AppOptions::default()).await;
    open_link(&app, &browser, "Globex").await;
    fill_and_submit(&browser, PARTIAL_ID, PARTIAL_SECRET).await;
    let list = browser.find("#missing").await.text().await;
    for scope in [
        "harvest:offers:list",
        "harvest:candidates:list",
        "harvest:applications:list",
    ] {
        assert!(list.contains(scope), "{scope} not in the list:\n{list}");
    }
    assert!(browser.find("[role=alert]").await.text().await.len() > 10);
    assert_eq!(
        browser
            .find("#client_secret")
            .await
            .attr("value")
            .await
            .unwrap_or_default(),
        "",
        "secret not refilled"
    );
    browser
        .screenshot_full_page(&shot("insufficient.png"))
        .await;
    browser.browser_log().await;
    assert_no_csp_violations(&browser);
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    keydrop_no_browser,
    ignore = "browser: set KEYDROP_TEST_CHROMEDRIVER=/usr/bin/chromedriver to run"
)]
async fn a_customer_submits_a_candidate_ingestion_key_that_verifies() {
    use keydrop::sandbox::IngestionUser;
    const KEY: &str = "ing-browser-7Qk2m9Xv4Lp8Rt1Zs6Nw";
    const EMAIL: &str = "bob.basic@umbrella.example";
    let browser = Browser::start(false).await;
    let app = spawn_app_with(Backend::Sqlite, AppOptions::default()).await;
    let fake = app.fake.as_ref().unwrap();
    fake.add_ingestion_key(KEY);
    fake.add_ingestion_user(IngestionUser::basic(4002, EMAIL, "Bob Basic"));
    fake.add_job_board("umbrella", "Umbrella");
    crate::support::helpers::remember_secret(KEY);
    crate::support::helpers::remember_secret(EMAIL);
    let d = app
        .create_drop(json!({"org": "Umbrella", "kind": "candidate_ingestion"}))
        .await;
    browser
        .goto(
            d["url"]
                .as_str()
                .unwrap()
                .replace("http://127.0.0.1", &app.address)
                .as_str(),
        )
        .await;
    let steps = browser.find(".instructions").await.text().await;
    for s in ["Candidate Ingestion", "Unlisted vendor", "only once"] {
        assert!(steps.contains(s), "{s} not in the steps:\n{steps}");
    }
    assert_eq!(
        browser.find("#api_key").await.attr("type").await.as_deref(),
        Some("password")
    );
    browser
        .screenshot_full_page(&shot("ingestion-drop-page.png"))
        .await;
    browser.find("#api_key").await.type_exactly(KEY).await;
    browser.find("#user_email").await.type_exactly(EMAIL).await;
    browser
        .find("#job_board_token")
        .await
        .type_exactly("umbrella")
        .await;
    browser.find("button[type=submit]").await.click().await;
    // On a loaded machine the answer may still be on its way: wait for the
    // next page (by its title, which never goes stale) before reading it.
    let started = std::time::Instant::now();
    while !browser.title().await.contains("Received and verified")
        && started.elapsed() < std::time::Duration::from_secs(20)
    {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        browser.find("h1").await.text().await,
        "Received and verified"
    );
    let source = browser.page_source().await;
    assert!(source.contains("Bob Basic"));
    assert!(
        browser
            .find("main")
            .await
            .text()
            .await
            .contains("GET /v1/partner/candidates"),
        "missing optional listed"
    );
    assert!(!source.contains(KEY) && !source.contains(EMAIL));
    browser
        .screenshot_full_page(&shot("ingestion-verified.png"))
        .await;
    browser.browser_log().await;
    assert_no_csp_violations(&browser);
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    keydrop_no_browser,
    ignore = "browser: set KEYDROP_TEST_CHROMEDRIVER=/usr/bin/chromedriver to run"
)]
async fn a_customer_connects_with_greenhouse() {
    use crate::partner::{PARTNER_ID, PARTNER_SECRET};
    let browser = Browser::start(false).await;
    let app = spawn_app_with(
        Backend::Sqlite,
        AppOptions {
            real_public_url: true,
            tune: Some(|s| {
                s.partner = Some(keydrop::greenhouse::PartnerClient::new(
                    PARTNER_ID,
                    zeroize::Zeroizing::new(PARTNER_SECRET.to_owned()),
                ))
            }),
            ..AppOptions::default()
        },
    )
    .await;
    let fake = app.fake.as_ref().unwrap();
    fake.add_partner_client(PARTNER_ID, PARTNER_SECRET);
    let d = app
        .create_drop(json!({"org": "Initech", "kind": "harvest_v3_partner", "profile": "minimal"}))
        .await;
    browser.goto(d["url"].as_str().unwrap()).await;
    let steps = browser.find(".instructions").await.text().await;
    for s in ["Site Admin", "Authorize using a service account"] {
        assert!(steps.contains(s), "{s} not in the steps:\n{steps}");
    }
    browser
        .screenshot_full_page(&shot("partner-drop-page.png"))
        .await;
    // One click: to Greenhouse (the sandbox approves at once) and back.
    browser.find("button[type=submit]").await.click().await;
    let started = std::time::Instant::now();
    while !browser.title().await.contains("Connected and verified")
        && started.elapsed() < std::time::Duration::from_secs(20)
    {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        browser.find("h1").await.text().await,
        "Connected and verified"
    );
    let source = browser.page_source().await;
    for t in fake
        .issued_refresh_tokens()
        .iter()
        .chain(&fake.issued_tokens())
    {
        assert!(!source.contains(t.as_str()), "a token on the page");
    }
    browser
        .screenshot_full_page(&shot("partner-verified.png"))
        .await;
    browser.browser_log().await;
    assert_no_csp_violations(&browser);
    browser.quit().await;
}
