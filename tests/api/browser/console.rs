//! The console's first pages in headless Chromium with JavaScript off: a sign-in link's page,
//! the dashboard after signing in, sign-out — at 1280 and 390 px, light and dark, with
//! screenshots in target/browser-screenshots/console/ and no CSP violation.

use crate::support::helpers::{spawn_app_with, AppOptions, Backend};
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

async fn look(browser: &Browser, name: &str) {
    std::fs::create_dir_all(shot("")).unwrap();
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
    }
    let v = browser.csp_violations();
    assert!(v.is_empty(), "{name}: CSP violations: {v:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    keydrop_no_browser,
    ignore = "browser: set KEYDROP_TEST_CHROMEDRIVER=/usr/bin/chromedriver to run"
)]
async fn a_person_signs_in_to_the_console_with_a_link_and_out() {
    let browser = Browser::start(false).await;
    let app = spawn_app_with(
        Backend::Sqlite,
        AppOptions {
            real_public_url: true,
            ..AppOptions::default()
        },
    )
    .await;
    app.create_drop(serde_json::json!({"org": "Initech"})).await;
    let token = keydrop::service::console::create_link(
        &app.store,
        "ada@acme.example",
        Role::Issuer,
        Duration::from_secs(600),
        &Origin::cli(),
    )
    .await
    .unwrap();
    crate::support::helpers::remember_secret(token.reveal());

    browser.goto(&app.url("/console")).await;
    assert_eq!(
        browser.find("h1").await.text().await,
        "Sign in to the console"
    );
    look(&browser, "sign-in").await;

    browser
        .goto(&app.url(&format!("/console/link/{}", token.reveal())))
        .await;
    assert!(browser
        .find("main")
        .await
        .text()
        .await
        .contains("ada@acme.example"));
    look(&browser, "link").await;
    browser.find("button[type=submit]").await.click().await;
    let started = std::time::Instant::now();
    while !browser.title().await.contains("Console") && started.elapsed() < Duration::from_secs(20)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let main = browser.find("main").await.text().await;
    assert!(
        main.contains("signed in as ada@acme.example (issuer)"),
        "{main}"
    );
    assert!(main.contains("Links by state"), "{main}");
    // Staff words, not a customer's.
    let header = browser.find("header").await.text().await;
    assert!(
        header.contains("Staff console") && !header.contains("credential request"),
        "{header}"
    );
    let footer = browser.find("footer").await.text().await;
    assert!(
        footer.contains("audit log") && !footer.contains("drop box"),
        "{footer}"
    );
    look(&browser, "dashboard").await;

    browser.find("button[type=submit]").await.click().await;
    let started = std::time::Instant::now();
    while !browser.title().await.contains("Sign in") && started.elapsed() < Duration::from_secs(20)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        browser.find("h1").await.text().await,
        "Sign in to the console"
    );
    // Signed out: the console sends the browser to sign in again.
    browser.goto(&app.url("/console")).await;
    assert_eq!(
        browser.find("h1").await.text().await,
        "Sign in to the console"
    );
}
