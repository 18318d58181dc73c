//! Console single sign-on through a real OpenID Connect provider — the npm package
//! `oidc-provider` v9 on loopback, installed by `.ci/run` (`KEYDROP_TEST_OIDC_PROVIDER`) — in
//! headless Chromium with JavaScript off: the sign-in page, the provider's own login and
//! consent forms, and back to the console as the person the provider vouched for.

use crate::support::helpers::{spawn_app_with, AppOptions, Backend};
use crate::support::webdriver::Browser;
use std::path::PathBuf;
use std::time::Duration;

const CLIENT_SECRET: &str = "real-provider-client-secret-5b1d";

/// `node provider.mjs` from the directory where `oidc-provider` is installed; killed when
/// dropped.
struct RealProvider {
    child: std::process::Child,
    issuer: String,
}

impl RealProvider {
    async fn start_on(port: u16, redirect_uri: &str, accounts: serde_json::Value) -> Self {
        let dir = PathBuf::from(std::env::var("KEYDROP_TEST_OIDC_PROVIDER").unwrap());
        std::fs::write(
            dir.join("provider.mjs"),
            include_str!("../../oidc_provider/provider.mjs"),
        )
        .unwrap();
        let child = std::process::Command::new("node")
            .arg("provider.mjs")
            .current_dir(&dir)
            .env("PORT", port.to_string())
            .env("REDIRECT_URI", redirect_uri)
            .env("CLIENT_SECRET", CLIENT_SECRET)
            .env("ACCOUNTS", accounts.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("node");
        let issuer = format!("http://127.0.0.1:{port}");
        let discovery = format!("{issuer}/.well-known/openid-configuration");
        let started = std::time::Instant::now();
        while !reqwest::get(&discovery)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "oidc-provider did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self { child, issuer }
    }
}

impl Drop for RealProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first element matching `css`, waiting for it: after a click the browser may still be
/// following the redirects between keydrop and the provider.
async fn wait_find<'a>(browser: &'a Browser, css: &str) -> crate::support::webdriver::Element<'a> {
    let started = std::time::Instant::now();
    loop {
        if let Some(el) = browser.try_find(css).await {
            return el;
        }
        if started.elapsed() > Duration::from_secs(20) {
            return browser.find(css).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Wait until nothing matches `css` (the page it was on has been left).
async fn wait_gone(browser: &Browser, css: &str) {
    let started = std::time::Instant::now();
    while browser.try_find(css).await.is_some() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "`{css}` is still there after 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_for_title(browser: &Browser, part: &str) {
    let started = std::time::Instant::now();
    while !browser.title().await.contains(part) {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no page titled {part:?}; at {}: {}",
            browser.current_url().await,
            browser.page_source().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    any(keydrop_no_browser, keydrop_no_oidc_provider),
    ignore = "browser and real OIDC provider: set KEYDROP_TEST_CHROMEDRIVER=/usr/bin/chromedriver and KEYDROP_TEST_OIDC_PROVIDER to a directory with the npm package oidc-provider@9 installed (.ci/run does both)"
)]
async fn a_person_signs_in_through_a_real_provider() {
    crate::support::helpers::remember_secret(CLIENT_SECRET);
    let browser = Browser::start(false).await;
    // The provider's port is picked first (keydrop's settings name it); keydrop's own port is
    // chosen up front too, so the provider can be told the redirect URI. keydrop asks for
    // discovery only at the first sign-in, so the provider may start after it.
    let provider_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut oidc = keydrop::config::OidcSettings::new(
        &format!("http://127.0.0.1:{provider_port}"),
        "keydrop-console",
        Some(CLIENT_SECRET),
        "http://127.0.0.1/console/oidc/callback",
    );
    oidc.scopes = "openid email profile groups".into();
    oidc.admins = vec!["keydrop-admins".into()];
    oidc.issuers = vec!["keydrop-issuers".into()];
    oidc.auditors = vec!["keydrop-auditors".into()];
    oidc.allowed_domains = vec!["acme.example".into()];
    let app = spawn_app_with(
        Backend::Sqlite,
        AppOptions {
            real_public_url: true,
            oidc: Some(oidc),
            ..AppOptions::default()
        },
    )
    .await;
    let provider = RealProvider::start_on(
        provider_port,
        &app.url("/console/oidc/callback"),
        serde_json::json!({
            "grace@acme.example": ["keydrop-admins"],
            "mallory@acme.example": ["marketing"],
        }),
    )
    .await;
    assert_eq!(provider.issuer, format!("http://127.0.0.1:{provider_port}"));

    // Sent to sign in, through the provider's own forms, and back to the console.
    browser.goto(&app.url("/console")).await;
    wait_for_title(&browser, "Sign in").await;
    browser.submit("form[action='/console/sign-in']").await;
    wait_find(&browser, "input[name=login]")
        .await
        .send_keys("grace@acme.example")
        .await;
    wait_find(&browser, "input[name=password]")
        .await
        .send_keys("any password")
        .await;
    browser.submit("form").await;
    // The provider's consent page: "Continue" — once the login form is gone (its own submit
    // button would otherwise be found, then go stale as the page changes).
    wait_gone(&browser, "input[name=password]").await;
    wait_find(&browser, "form button[type=submit]").await;
    browser.submit("form").await;
    wait_for_title(&browser, "Console").await;
    let main = browser.find("main").await.text().await;
    assert!(
        main.contains("signed in as grace@acme.example (admin)"),
        "{main}"
    );
    let log = app.store.list_audit(0, 1000).await.unwrap();
    let signed_in = log.iter().find(|e| e.action == "console.sign_in").unwrap();
    assert_eq!(signed_in.actor, "user:grace@acme.example");
    assert_eq!(signed_in.details["how"], "oidc");

    // She creates a drop, the customer hands over a credential, she follows it to verified
    // and sees who did what; then she exports the audit log.
    browser.goto(&app.url("/console/drops/new")).await;
    browser.find("#org").await.send_keys("Initech").await;
    browser.submit("form.stack").await;
    wait_for_title(&browser, "Link created").await;
    let url = browser.find(".link-once code").await.text().await;
    crate::support::helpers::remember_secret(crate::support::helpers::link_token(&url));
    let (status, _) = app
        .submit(
            &crate::support::helpers::TestApp::link_path(&url),
            &[
                ("client_id", crate::support::helpers::GOOD_ID),
                ("client_secret", crate::support::helpers::GOOD_SECRET),
            ],
        )
        .await;
    assert_eq!(status, 200);
    browser
        .find("a[href^='/console/drops/']:not([href$='/new'])")
        .await
        .click()
        .await;
    wait_for_title(&browser, "Initech").await;
    let main = browser.find("main").await.text().await;
    assert!(main.contains("verified"), "{main}");
    assert!(main.contains("Link created — grace@acme.example"), "{main}");
    assert!(
        main.contains("Credential accepted — the customer"),
        "{main}"
    );
    let cookies = browser
        .command(reqwest::Method::GET, "/cookie", None)
        .await
        .unwrap();
    let session = cookies
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "keydrop-console")
        .and_then(|c| c["value"].as_str())
        .unwrap()
        .to_owned();
    crate::support::helpers::remember_secret(&session);
    let export = app
        .get(
            "/console/audit/export?format=ndjson&actor=user%3Agrace%40acme.example",
            None,
        )
        .header(
            reqwest::header::COOKIE,
            format!("keydrop-console={session}"),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let actions: Vec<String> = export
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["action"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        actions.contains(&"console.sign_in".to_owned())
            && actions.contains(&"drop.create".to_owned()),
        "{actions:?}"
    );

    // Someone the provider knows but the console gives no role: told why. Cookies are per
    // host, not per port, so this forgets the provider's session too.
    browser.goto(&app.url("/console")).await;
    browser.submit("form[action='/console/sign-out']").await;
    wait_for_title(&browser, "Sign in").await;
    browser
        .command(reqwest::Method::DELETE, "/cookie", None)
        .await
        .unwrap();
    browser.goto(&app.url("/console/sign-in")).await;
    browser.submit("form[action='/console/sign-in']").await;
    wait_find(&browser, "input[name=login]")
        .await
        .send_keys("mallory@acme.example")
        .await;
    wait_find(&browser, "input[name=password]")
        .await
        .send_keys("any password")
        .await;
    browser.submit("form").await;
    wait_gone(&browser, "input[name=password]").await;
    wait_find(&browser, "form button[type=submit]").await;
    browser.submit("form").await;
    wait_for_title(&browser, "cannot use this console").await;
    let main = browser.find("main").await.text().await;
    assert!(main.contains("not in a group"), "{main}");
    let log = app.store.list_audit(0, 1000).await.unwrap();
    let refused = log
        .iter()
        .find(|e| e.action == "console.sign_in_refused")
        .unwrap();
    assert_eq!(refused.actor, "user:mallory@acme.example");
    assert_eq!(refused.details["reason"], "no_role");
    drop(provider);
}
