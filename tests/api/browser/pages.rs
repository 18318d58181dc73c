//! Every customer page in headless Chromium with JavaScript off, at a desktop
//! (1280 px) and a phone (390 px) width, in light and dark mode: full-page
//! screenshots in target/browser-screenshots/pages/, each page's height in
//! target/browser-screenshots/pages/heights.tsv, what each page must say, and
//! (with `KEYDROP_TEST_AXE`) axe-core's accessibility check of each.

use crate::browser::axe::{axe_source, serious_violations};
use crate::browser::tour::{
    assert_reason_first, branded, drop_body, fill, link, text, Tour, MALFORMED, MAX_ANY_390,
    MAX_INSUFFICIENT_390,
};
use crate::support::helpers::{
    spawn_app_with, AppOptions, Backend, GOOD_ID, GOOD_SECRET, PARTIAL_ID, PARTIAL_SECRET,
};
use crate::support::webdriver::Browser;
use serde_json::json;

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

    // A newer link was sent (send again, a reminder): the old one says so, and whom to ask.
    let replaced = app.create_drop(drop_body(json!({}))).await;
    keydrop::service::mail::send_again(
        &app.store,
        &app.state.keyring,
        replaced["id"].as_str().unwrap(),
        Some("it@initech.example".into()),
        &keydrop::domain::event::Origin::cli(),
    )
    .await
    .unwrap();
    b.goto(&link(&app, &replaced)).await;
    t.look("410-replaced").await;
    assert_eq!(text(b, "h1").await, "A newer link was sent to you");
    assert!(text(b, "main").await.contains("Jane Doe"));

    // The link e-mail itself (its HTML part, as a mail client shows it), first and reminder.
    let from: lettre::message::Mailbox = "Acme Analytics <links@acme-analytics.example>"
        .parse()
        .unwrap();
    let contact = keydrop::domain::contact::Contact {
        name: "Jane Doe".into(),
        email: "jane.doe@acme-analytics.example".into(),
    };
    for (name, why) in [
        ("email-link", keydrop::mail::Why::First),
        ("email-again", keydrop::mail::Why::Again),
        ("email-reminder", keydrop::mail::Why::Reminder),
    ] {
        let mail = keydrop::mail::LinkMail {
            mail_id: "mail_demo",
            from: &from,
            to: "it@initech.example",
            brand: "Acme Analytics",
            org: "Initech",
            note: Some("We need read access to candidates and jobs for the nightly sync."),
            url:
                "https://keys.acme-analytics.example/d/3q2-Fx9Yv0aZk8Lm1Np4Rs7Tu6Wx5Yz0Ab3Cd2Ef1Gh",
            expires_at: 1_795_683_600_000,
            contact: Some(&contact),
            support: None,
            why,
            connect: false,
            logo: None,
            now_ms: 1_795_424_400_000,
        };
        let file = std::env::temp_dir().join(format!("keydrop-{name}-{}.html", std::process::id()));
        std::fs::write(&file, mail.html().into_string()).unwrap();
        b.goto(&format!("file://{}", file.display())).await;
        // Not `look`: an e-mail has no page chrome (header logo, CSP). Screenshots only.
        if t.screenshots {
            for (width, mobile) in [(1280, false), (390, true)] {
                for dark in [false, true] {
                    let scheme = if dark { "dark" } else { "light" };
                    let shot = crate::browser::tour::out_dir()
                        .join(format!("{name}-{width}-{scheme}.png"));
                    b.screenshot_at(&shot, width, mobile, dark).await;
                }
            }
        }
        let body = text(b, "body").await;
        assert!(
            body.contains("Do not forward it") && body.contains("UTC"),
            "{body}"
        );
        let _ = std::fs::remove_file(&file);
    }

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

    // Connect with Greenhouse: one button near the top, the permissions folded.
    let partner = app
        .create_drop(drop_body(json!({"kind": "harvest_v3_partner"})))
        .await;
    b.goto(&link(&app, &partner)).await;
    t.look("form-partner").await;
    let main = text(b, "main").await;
    assert!(main.contains("Connect with Greenhouse"), "{main}");
    assert!(main.contains("The permissions Greenhouse will ask you to approve"));
    assert!(!main.contains("Never send it by e-mail"));
    assert!(main.contains("What happens to your connection") && main.contains("one connection"));
    assert!(
        main.contains("You approve Acme Analytics' access"),
        "{main}"
    );

    // A User ID that is not a Site Admin: the page leads with the User ID, nothing to tick.
    let admin = app.create_drop(drop_body(json!({}))).await;
    b.goto(&link(&app, &admin)).await;
    fill(
        b,
        &[
            ("client_id", GOOD_ID),
            ("client_secret", GOOD_SECRET),
            ("user_id", "4001234"),
        ],
    )
    .await;
    let (_, alert) = t.look("422-user-not-admin").await;
    assert_reason_first(b, "422-user-not-admin", alert).await;
    let summary = text(b, "[role=alert]").await;
    assert!(
        summary.starts_with("Almost there") && summary.contains("not a Site Admin"),
        "{summary}"
    );
    assert!(!summary.contains("permissions are missing"), "{summary}");
    assert_eq!(
        b.find("#user_id")
            .await
            .attr("aria-invalid")
            .await
            .as_deref(),
        Some("true")
    );

    // The credential belongs to another organisation's Greenhouse than the drop's.
    app.fake.as_ref().unwrap().add_v3_client(
        keydrop::sandbox::V3Client::new("demo-other-7007", "gh-secret-OTHER-5d4c3b2a1f0e9d8c7b")
            .with_all_resources()
            .with_organization(7_000_001, "Demo Customer Inc."),
    );
    crate::support::helpers::remember_secret("gh-secret-OTHER-5d4c3b2a1f0e9d8c7b");
    let other = app.create_drop(drop_body(json!({}))).await;
    b.goto(&link(&app, &other)).await;
    fill(
        b,
        &[
            ("client_id", "demo-other-7007"),
            ("client_secret", "gh-secret-OTHER-5d4c3b2a1f0e9d8c7b"),
        ],
    )
    .await;
    t.look("verified-other-account").await;
    let main = text(b, "main").await;
    assert!(
        main.contains("Is this the right Greenhouse account?")
            && main.contains("Demo Customer Inc."),
        "{main}"
    );

    // Little time left, then a paste that arrives after the end.
    let soon = app.create_drop(drop_body(json!({"expires_in": 600}))).await;
    b.goto(&link(&app, &soon)).await;
    t.look("form-expires-soon").await;
    assert!(
        text(b, "main")
            .await
            .contains("This link expires in 10 minutes"),
        "no warning"
    );
    app.clock
        .as_ref()
        .unwrap()
        .advance(std::time::Duration::from_secs(601));
    fill(b, &[("client_id", GOOD_ID), ("client_secret", GOOD_SECRET)]).await;
    t.look("410-expired-before-sent").await;
    assert!(text(b, "main").await.contains("is still active"));

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
    // JavaScript on, for axe only: see `browser::axe`.
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_brand_logo_is_served_under_the_page_headers() {
    let app = spawn_app_with(
        Backend::Sqlite,
        AppOptions {
            tune: Some(branded),
            ..AppOptions::default()
        },
    )
    .await;
    let res = app
        .get("/static/brand/logo.svg", None)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let h = res.headers();
    assert_eq!(h["content-type"], "image/svg+xml");
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(res.text().await.unwrap().contains("<svg"));
    for other in ["/static/brand/logo.png", "/static/brand/..%2Fkeydrop.css"] {
        let res = app.get(other, None).send().await.unwrap();
        assert_eq!(res.status(), 404, "{other}");
    }
    let d = app.create_drop(json!({"org": "Initech"})).await;
    let (_, html) = app
        .page(&crate::support::helpers::TestApp::link_path(
            d["url"].as_str().unwrap(),
        ))
        .await;
    assert!(html.contains(r#"<img class="brand-logo" src="/static/brand/logo.svg" alt=""#));
    let plain = spawn_app_with(Backend::Sqlite, AppOptions::default()).await;
    let res = plain
        .get("/static/brand/logo.svg", None)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}
