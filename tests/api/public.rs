//! The customer page, through real HTTP against a fake Greenhouse.
//!
//! *Over 400 lines:* one feature's tests read best together.

use crate::on_both_backends;
use crate::support::helpers::Fetch;
use crate::support::helpers::{
    assert_no_secret_in, captured_logs, remembered_secrets, spawn_app_with, AppOptions, Backend,
    TestApp, GOOD_ID, GOOD_SECRET, PARTIAL_ID, PARTIAL_SECRET,
};
use keydrop::config::RateLimit;
use serde_json::{json, Value};
use std::time::Duration;

on_both_backends!(
    page_shows_org_note_steps_and_form_and_get_never_consumes,
    hostile_org_and_note_are_escaped,
    verified_submission_is_accepted_once,
    insufficient_submission_lists_each_missing_scope,
    invalid_submissions_count_attempts_and_lock_malformed_ones_do_not,
    bad_requests_get_a_clear_4xx,
    twelve_simultaneous_valid_submissions_accept_exactly_one,
    expiry_follows_the_clock,
    pending_is_stored_and_rechecked_in_the_background,
    public_posts_are_rate_limited,
    simultaneous_failing_submissions_never_exceed_max_attempts,
    a_link_reached_by_another_spelling_is_still_redacted_in_logs,
    no_secret_or_link_reaches_logs_or_database,
    a_returning_browser_finds_the_steps_folded,
);

async fn app(backend: Backend) -> TestApp {
    spawn_app_with(backend, AppOptions::default()).await
}

async fn new_link(app: &TestApp, body: Value) -> (String, String) {
    let d = app.create_drop(body).await;
    (
        d["id"].as_str().unwrap().to_owned(),
        TestApp::link_path(d["url"].as_str().unwrap()),
    )
}

async fn drop_json(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/api/v1/drops/{id}"), Some(&app.admin_token))
        .fetch_json()
        .await
}

fn good() -> Vec<(&'static str, &'static str)> {
    vec![
        ("client_id", GOOD_ID),
        ("client_secret", GOOD_SECRET),
        ("user_id", ""),
    ]
}

async fn page_shows_org_note_steps_and_form_and_get_never_consumes(backend: Backend) {
    let app = app(backend).await;
    let (id, path) = new_link(
        &app,
        json!({"org": "Initech", "note": "Needed for the Q4 analytics sync"}),
    )
    .await;
    for _ in 0..3 {
        let res = app.get(&path, None).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert_eq!(res.headers()["cache-control"], "no-store");
        assert!(res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'"));
        // Permission names may break only at `<wbr>` on narrow screens.
        let html = res.text().await.unwrap().replace("<wbr>", "");
        for needle in [
            "Acme Analytics",
            "Initech",
            "Needed for the Q4 analytics sync",
            "Dev Center",
            "harvest:offers:list",
            "type=\"password\"",
            "name=\"csrf_token\"",
        ] {
            assert!(html.contains(needle), "page lacks {needle}");
        }
        assert!(
            !html.contains(&path[3..]),
            "the link token is not written into the page"
        );
    }
    assert_eq!(drop_json(&app, &id).await["state"], "open");
    let css = app.get("/static/keydrop.css", None).send().await.unwrap();
    assert_eq!(css.status(), 200);
    assert_eq!(
        app.page("/d/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
            .await
            .0,
        404
    );
    assert_eq!(app.page("/d/short").await.0, 404);
    let v1 = new_link(&app, json!({"org": "Legacy Co", "kind": "harvest_v1"}))
        .await
        .1;
    let (status, html) = app.page(&v1).await;
    assert_eq!(status, 200);
    assert!(html.contains("2026") && html.contains("name=\"api_key\""));
}

async fn hostile_org_and_note_are_escaped(backend: Backend) {
    let app = app(backend).await;
    let evil = r#"<script>alert(1)</script>" ' & < > "><img src=x onerror=alert(1)>"#;
    let (_, path) = new_link(&app, json!({"org": evil, "note": evil})).await;
    let (status, html) = app.page(&path).await;
    assert_eq!(status, 200);
    assert!(!html.contains("<script"), "raw script tag in page");
    assert!(!html.contains("<img"), "raw img tag in page");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&amp;"));
    let (status, html) = app
        .submit(
            &path,
            &[("client_id", PARTIAL_ID), ("client_secret", PARTIAL_SECRET)],
        )
        .await;
    assert_eq!(status, 422);
    assert!(!html.contains("<script") && !html.contains("<img"));
}

async fn verified_submission_is_accepted_once(backend: Backend) {
    let app = app(backend).await;
    let (id, path) = new_link(&app, json!({"org": "Initech"})).await;
    let (status, html) = app.submit(&path, &good()).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Received and verified"));
    assert!(html.replace("<wbr>", "").contains("harvest:users:list"));
    assert!(!html.contains(GOOD_SECRET));
    let d = drop_json(&app, &id).await;
    assert_eq!(d["state"], "submitted");
    let c = &d["credential"];
    assert_eq!(c["status"], "verified");
    assert_eq!(c["delivery"], "waiting");
    assert_eq!(c["hint"], "4471");
    assert_eq!(c["verification"]["outcome"], "verified");
    assert!(c["verification"]["missing_required"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(!d.to_string().contains(GOOD_SECRET));
    // The link is spent.
    assert_eq!(app.submit(&path, &good()).await.0, 410);
    let (status, html) = app.page(&path).await;
    assert_eq!(status, 410);
    assert!(html.contains("already"), "{html}");
    // It decrypts to exactly what was pasted.
    let cid = c["id"].as_str().unwrap();
    let (drop_id, kind, env) = app.store.credential_envelope(cid).await.unwrap().unwrap();
    let b = keydrop::crypto::cipher::Binding {
        credential_id: cid,
        drop_id: &drop_id,
        kind: &kind,
    };
    let plain = keydrop::crypto::cipher::decrypt(&app.state.keyring, b, &env).unwrap();
    let secret: Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(
        secret,
        json!({"kind": "harvest_v3", "client_id": GOOD_ID, "client_secret": GOOD_SECRET, "user_id": null})
    );
    assert!(app.store.verify_audit().await.unwrap().is_ok());
}

async fn insufficient_submission_lists_each_missing_scope(backend: Backend) {
    let app = app(backend).await;
    let (id, path) = new_link(&app, json!({"org": "Initech"})).await;
    let (status, html) = app
        .submit(
            &path,
            &[
                ("client_id", PARTIAL_ID),
                ("client_secret", PARTIAL_SECRET),
                ("user_id", ""),
            ],
        )
        .await;
    assert_eq!(status, 422);
    let text = html.replace("<wbr>", "");
    for scope in [
        "harvest:offers:list",
        "harvest:candidates:list",
        "harvest:scorecards:list",
    ] {
        assert!(text.contains(scope), "missing {scope} in the list");
    }
    assert!(
        html.contains("id=\"missing\""),
        "a list of missing permissions"
    );
    assert!(html.contains("Manage Scopes"));
    assert!(!html.contains(PARTIAL_SECRET), "the secret is never echoed");
    assert!(
        html.contains(PARTIAL_ID),
        "the client id is kept to save retyping"
    );
    let d = drop_json(&app, &id).await;
    assert_eq!(
        (d["state"].as_str(), d["attempts"].as_i64()),
        (Some("open"), Some(1))
    );
    assert!(
        d["credential"].is_null(),
        "rejected submissions are never stored"
    );
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM credentials")
        .fetch_one(&mut app.db.raw().await)
        .await
        .unwrap();
    assert_eq!(n, 0);
    // Fixed in Greenhouse, submitted again: accepted.
    assert_eq!(app.submit(&path, &good()).await.0, 200);
}

/// Changed with SPEC §2's rule "attempts count only what reached
/// Greenhouse": this test used to count a malformed submission (a colon in
/// the Client ID, empty fields) as an attempt and lock the link with it. Now
/// the local shape checks run before an attempt is reserved: malformed
/// submissions answer 422, send nothing to Greenhouse, cost no attempt, write
/// no audit event and can never lock the link; invalid ones still count and
/// lock it at `max_attempts`.
async fn invalid_submissions_count_attempts_and_lock_malformed_ones_do_not(backend: Backend) {
    let app = app(backend).await;
    let fake = app.fake.as_ref().unwrap();
    let (id, path) = new_link(&app, json!({"org": "Initech", "max_attempts": 3})).await;
    let wrong = [
        ("client_id", GOOD_ID),
        ("client_secret", "wrong-secret-value"),
    ];
    let (status, html) = app.submit(&path, &wrong).await;
    assert_eq!(status, 422);
    assert!(!html.contains("wrong-secret-value"));
    assert!(
        !html.contains(GOOD_ID),
        "an invalid credential's id is not echoed"
    );
    assert!(html.contains("You have <strong>2 attempts</strong> left"));
    assert_eq!(drop_json(&app, &id).await["attempts"], 1);
    fake.reset_counters();
    let malformed: [&[(&str, &str)]; 5] = [
        &[("client_id", "has:colon-1"), ("client_secret", "x")],
        &[("client_id", ""), ("client_secret", "")],
        &[("client_id", GOOD_ID), ("client_secret", "")],
        &[
            ("client_id", GOOD_ID),
            ("client_secret", "a secret with spaces"),
        ],
        &[
            ("client_id", GOOD_ID),
            ("client_secret", GOOD_SECRET),
            ("user_id", "42abc"),
        ],
    ];
    // More malformed posts than the link has attempts: none counts.
    for _ in 0..2 {
        for form in malformed {
            let (status, html) = app.submit(&path, form).await;
            assert_eq!(status, 422, "{form:?}");
            assert!(html.contains("aria-invalid"), "the bad field is marked");
            assert!(
                html.contains("did not use an attempt: you still have <strong>2 attempts</strong>"),
                "{form:?}"
            );
            assert!(!html.contains("a secret with spaces"));
        }
    }
    assert_eq!(fake.requests_to("/token"), 0, "nothing reached Greenhouse");
    let d = drop_json(&app, &id).await;
    assert_eq!(
        (d["state"].as_str(), d["attempts"].as_i64()),
        (Some("open"), Some(1))
    );
    assert_eq!(app.submit(&path, &wrong).await.0, 422);
    let (status, html) = app.submit(&path, &wrong).await;
    assert_eq!(status, 422);
    assert!(html.contains("locked"), "{html}");
    let d = drop_json(&app, &id).await;
    assert_eq!(
        (d["state"].as_str(), d["attempts"].as_i64()),
        (Some("locked"), Some(3))
    );
    assert_eq!(app.page(&path).await.0, 410);
    assert_eq!(app.submit(&path, &good()).await.0, 410);
    let audit: Value = app
        .get(
            &format!("/api/v1/audit?limit=500&subject=drop:{id}"),
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    let events = audit["events"].as_array().unwrap();
    let count = |action: &str| events.iter().filter(|e| e["action"] == action).count();
    assert_eq!(count("drop.attempt"), 3, "one reservation per check");
    assert_eq!(count("drop.attempt_failed"), 3);
    assert_eq!(count("drop.lock"), 1);
    assert!(
        events
            .iter()
            .all(|e| e["details"]["outcome"] != "malformed"),
        "malformed submissions are not audited: {audit}"
    );
    assert!(!audit.to_string().contains("wrong-secret-value"));
}

async fn bad_requests_get_a_clear_4xx(backend: Backend) {
    let app = app(backend).await;
    let (id, path) = new_link(&app, json!({"org": "Initech"})).await;
    let post = || app.post(&path, None);
    let big = "a".repeat(17 * 1024);
    let cases = [
        (
            post().form(&[
                ("csrf_token", "nope"),
                ("client_id", GOOD_ID),
                ("client_secret", GOOD_SECRET),
            ]),
            403,
        ),
        (
            post().form(&[("client_id", GOOD_ID), ("client_secret", GOOD_SECRET)]),
            403,
        ),
        (post().form(&[("client_secret", big.as_str())]), 413),
        (
            post().header("content-type", "application/json").body("{}"),
            415,
        ),
        (post().body("no content type"), 415),
        (
            post()
                .header("content-type", "application/x-www-form-urlencoded")
                .body("%%%&&&=\u{0}\u{ff}"),
            403,
        ),
        // Invalid UTF-8 is decoded lossily; the missing form token then refuses it.
        (
            post()
                .header("content-type", "application/x-www-form-urlencoded")
                .body(vec![0xffu8, 0xfe, 0x00, b'=', 0x80]),
            403,
        ),
        (
            post()
                .header("content-type", "application/x-www-form-urlencoded")
                .body("csrf_token=a&csrf_token=b"),
            400,
        ),
        (app.post("/d/unknown", None).form(&good()), 404),
    ];
    for (i, (req, status)) in cases.into_iter().enumerate() {
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), status, "case {i}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "case {i}"
        );
    }
    let d = drop_json(&app, &id).await;
    assert_eq!(
        (d["state"].as_str(), d["attempts"].as_i64()),
        (Some("open"), Some(0)),
        "bad requests change nothing"
    );
    assert_eq!(
        app.submit(&path, &good()).await.0,
        200,
        "the link still works"
    );
}

async fn twelve_simultaneous_valid_submissions_accept_exactly_one(backend: Backend) {
    let app = std::sync::Arc::new(app(backend).await);
    let (id, path) = new_link(&app, json!({"org": "Initech"})).await;
    let (_, html) = app.page(&path).await;
    let csrf = crate::support::helpers::csrf_from(&html).unwrap();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(12));
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let (app, path, csrf, barrier) = (app.clone(), path.clone(), csrf.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let req = app.post(&path, None).form(&[
                ("csrf_token", csrf.as_str()),
                ("client_id", GOOD_ID),
                ("client_secret", GOOD_SECRET),
            ]);
            barrier.wait().await;
            req.fetch_status().await
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 410),
        "{statuses:?}"
    );
    assert_eq!(drop_json(&app, &id).await["state"], "submitted");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM credentials")
        .fetch_one(&mut app.db.raw().await)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

async fn expiry_follows_the_clock(backend: Backend) {
    let app = spawn_app_with(backend, AppOptions::with_manual_clock()).await;
    let clock = app.clock.clone().unwrap();
    let (a, path_a) = new_link(&app, json!({"org": "A", "expires_in": 300})).await;
    let (b, _) = new_link(&app, json!({"org": "B", "expires_in": 300})).await;
    let (c, _) = new_link(&app, json!({"org": "C", "expires_in": 3600})).await;
    // Under 15 minutes left: the page warns, with whom to ask for a new link.
    let (status, html) = app.page(&path_a).await;
    assert_eq!(status, 200);
    assert!(html.contains("This link expires in 5 minutes"), "{html}");
    let (_, html_c) = app.page(&new_link(&app, json!({"org": "D"})).await.1).await;
    assert!(!html_c.contains("This link expires in"), "{html_c}");
    // The customer read the steps, made a credential in Greenhouse, and sends it late.
    let csrf = crate::support::helpers::csrf_from(&html).unwrap();
    clock.advance(Duration::from_secs(299));
    assert_eq!(app.page(&path_a).await.0, 200);
    clock.advance(Duration::from_secs(2));
    let res = app
        .post(&path_a, None)
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("client_id", GOOD_ID),
            ("client_secret", GOOD_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 410);
    let late = res.text().await.unwrap();
    assert!(
        late.contains("expired before your credential arrived")
            && late.contains("is still active")
            && late.contains("new link"),
        "{late}"
    );
    // On access…
    let (status, html) = app.page(&path_a).await;
    assert_eq!(status, 410);
    assert!(html.contains("expired"));
    assert_eq!(drop_json(&app, &a).await["state"], "expired");
    // …and by the sweep.
    let report = keydrop::jobs::run_once(&app.state).await;
    assert_eq!(report.expired_drops, 1);
    assert_eq!(drop_json(&app, &b).await["state"], "expired");
    assert_eq!(drop_json(&app, &c).await["state"], "open");
    assert_eq!(app.submit(&path_a, &good()).await.0, 410);
}

async fn pending_is_stored_and_rechecked_in_the_background(backend: Backend) {
    let app = spawn_app_with(backend, AppOptions::with_manual_clock()).await;
    let clock = app.clock.clone().unwrap();
    let fake = app.fake.as_ref().unwrap();
    let (id, path) = new_link(&app, json!({"org": "Initech", "profile": "minimal"})).await;
    let (_, html) = app.page(&path).await;
    let csrf = crate::support::helpers::csrf_from(&html).unwrap();
    fake.set_outage(true);
    let res = app
        .post(&path, None)
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("client_id", GOOD_ID),
            ("client_secret", GOOD_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let d = drop_json(&app, &id).await;
    assert_eq!(d["state"], "submitted");
    assert_eq!(d["credential"]["status"], "pending");
    // Not due yet: nothing runs.
    assert_eq!(keydrop::jobs::run_once(&app.state).await.rechecked, 0);
    // Greenhouse still down at the first retry (within a minute): still pending, backs off.
    clock.advance(Duration::from_secs(31));
    assert_eq!(keydrop::jobs::run_once(&app.state).await.rechecked, 1);
    assert_eq!(
        drop_json(&app, &id).await["credential"]["status"],
        "pending"
    );
    fake.set_outage(false);
    clock.advance(Duration::from_secs(30));
    assert_eq!(
        keydrop::jobs::run_once(&app.state).await.rechecked,
        0,
        "backing off"
    );
    clock.advance(Duration::from_secs(31));
    assert_eq!(keydrop::jobs::run_once(&app.state).await.rechecked, 1);
    let c = &drop_json(&app, &id).await["credential"];
    assert_eq!(c["status"], "verified");
    assert_eq!(c["verification"]["outcome"], "verified");
    clock.advance(Duration::from_secs(3600));
    assert_eq!(
        keydrop::jobs::run_once(&app.state).await.rechecked,
        0,
        "a definite answer is final"
    );
    assert!(app.store.verify_audit().await.unwrap().is_ok());
}

async fn public_posts_are_rate_limited(backend: Backend) {
    let app = spawn_app_with(
        backend,
        AppOptions {
            rate_limit: Some(RateLimit {
                requests: 3,
                per: Duration::from_secs(60),
            }),
            ..Default::default()
        },
    )
    .await;
    let (id, path) = new_link(&app, json!({"org": "Initech"})).await;
    for _ in 0..3 {
        let res = app
            .post(&path, None)
            .form(&[("csrf_token", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403);
    }
    let res = app
        .post(&path, None)
        .form(&[("csrf_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait));
    assert!(res
        .text()
        .await
        .unwrap()
        .to_lowercase()
        .contains("too many"));
    assert_eq!(app.page(&path).await.0, 200, "GETs are not limited");
    assert_eq!(drop_json(&app, &id).await["attempts"], 0);
}

async fn no_secret_or_link_reaches_logs_or_database(backend: Backend) {
    let app = app(backend).await;
    let (_, path) = new_link(&app, json!({"org": "Initech"})).await;
    let (_, path2) = new_link(&app, json!({"org": "Initech"})).await;
    app.submit(
        &path2,
        &[("client_id", PARTIAL_ID), ("client_secret", PARTIAL_SECRET)],
    )
    .await;
    app.submit(
        &path2,
        &[
            ("client_id", GOOD_ID),
            ("client_secret", "wrong-but-secret-Qx81"),
        ],
    )
    .await;
    app.submit(&path, &good()).await;
    let mut secrets = remembered_secrets();
    secrets.push("wrong-but-secret-Qx81".into());
    secrets.push(path[3..].to_owned());
    secrets.push(path2[3..].to_owned());
    for t in app.fake.as_ref().unwrap().issued_tokens() {
        secrets.push(t);
    }
    assert_no_secret_in(captured_logs().as_bytes(), &secrets, "the logs");
    assert!(
        captured_logs().contains("/d/<redacted>"),
        "access log lines are there, redacted"
    );
    app.store.close().await;
    assert_no_secret_in(&app.db.raw_dump().await, &secrets, "the database");
}

async fn simultaneous_failing_submissions_never_exceed_max_attempts(backend: Backend) {
    let app = std::sync::Arc::new(app(backend).await);
    let (id, path) = new_link(
        &app,
        json!({"org": "Initech", "max_attempts": 2, "profile": "minimal"}),
    )
    .await;
    let (_, html) = app.page(&path).await;
    let csrf = crate::support::helpers::csrf_from(&html).unwrap();
    let fake = app.fake.as_ref().unwrap();
    fake.reset_counters();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (app, path, csrf) = (app.clone(), path.clone(), csrf.clone());
        tasks.push(tokio::spawn(async move {
            let secret = format!("stolen-guess-{i}");
            let form = [
                ("csrf_token", csrf.as_str()),
                ("client_id", GOOD_ID),
                ("client_secret", secret.as_str()),
            ];
            app.post(&path, None).form(&form).fetch_status().await
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 422).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 410).count(),
        6,
        "{statuses:?}"
    );
    assert!(
        fake.requests_to("/token") <= 2,
        "only max_attempts checks reached Greenhouse"
    );
    let d = drop_json(&app, &id).await;
    assert_eq!(
        (d["state"].as_str(), d["attempts"].as_i64()),
        (Some("locked"), Some(2))
    );
}

async fn a_link_reached_by_another_spelling_is_still_redacted_in_logs(backend: Backend) {
    let app = app(backend).await;
    let (_, path) = new_link(&app, json!({"org": "Initech"})).await;
    let token = path[3..].to_owned();
    for spelling in [
        format!("/%64/{token}"),
        format!("//d/{token}"),
        format!("/d/{token}?x=1"),
        // Mistyped links: hidden by shape, wherever the token is.
        format!("//d/{token}."),
        format!("/D/{token}."),
        format!("/d/{token}/{token}."),
        format!("/static/{token}.css"),
        format!("/api/v1/{token}"),
        format!("/healthz?t={token}"),
        // Encoded slashes, escapes, query strings, a very long path.
        format!("/d%2F{token}"),
        format!("/d%2f{token}?next=%2Fd%2F{token}"),
        format!("/%2F%2Fd/{token}"),
        format!("/x/{}%2D{}", &token[..21], &token[22..]),
        format!("/%FF%FE{token}%C0%AF"),
        format!("/x/{}", format!("{token}/").repeat(150)),
    ] {
        let _ = app.get(&spelling, None).send().await.unwrap();
    }
    // Request lines no HTTP client would send: bytes that are not UTF-8, a
    // fragment, an absolute URL. Whatever the server answers (a 400 for most),
    // the token never reaches a log line.
    let addr = app.address.trim_start_matches("http://").to_owned();
    let t = token.as_bytes();
    for target in [
        [b"/d/\xff".as_slice(), t].concat(),
        [b"/\xc3".as_slice(), t, b"\xc3"].concat(),
        [b"/d/".as_slice(), t, b"#", t].concat(),
        [b"http://keydrop/d/".as_slice(), t].concat(),
        [b"/static/".as_slice(), t, b"\x00.css"].concat(),
    ] {
        let request = [
            b"GET ".as_slice(),
            &target,
            b" HTTP/1.1\r\nHost: keydrop\r\nConnection: close\r\n\r\n",
        ]
        .concat();
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut stream, &request)
            .await
            .unwrap();
        let mut answer = Vec::new();
        let read = tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut answer);
        let _ = tokio::time::timeout(Duration::from_secs(10), read).await;
        assert!(answer.starts_with(b"HTTP/1.1 "), "no answer to {target:?}");
    }
    let pieces = [
        token.clone(),
        token[..20].to_owned(),
        token[token.len() - 20..].to_owned(),
    ];
    assert_no_secret_in(captured_logs().as_bytes(), &pieces, "the logs");
}

/// A browser that saw a link page before comes back with the credential in hand: the steps
/// are folded and the form is near. The cookie that remembers it holds no secret and names
/// no drop; another link's page is not folded by it.
async fn a_returning_browser_finds_the_steps_folded(backend: Backend) {
    let app = app(backend).await;
    let (_, path) = new_link(&app, json!({"org": "Initech"})).await;
    let (_, other) = new_link(&app, json!({"org": "Initech"})).await;
    let res = app.get(&path, None).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let set = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set.starts_with("keydrop-seen=")
            && set.contains("HttpOnly")
            && set.contains("SameSite=Lax"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_owned();
    assert!(!cookie.contains(crate::support::helpers::link_token(&path)));
    let first = res.text().await.unwrap();
    assert!(
        first.contains(r#"<details class="instructions" open>"#),
        "open at first"
    );
    // Twice: the second answer may come from the page cache, which must not fold it.
    for _ in 0..2 {
        let again = app
            .get(&path, None)
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            again.contains(r#"<details class="instructions">"#),
            "{again}"
        );
        assert!(again.contains("Go to the form"));
    }
    let elsewhere = app
        .get(&other, None)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(elsewhere.contains(r#"<details class="instructions" open>"#));
}
