//! Release mode `vend` (SPEC §3, §4 `access-token`): workers of a `harvest_v3` credential get
//! short-lived access tokens, never the client secret — through the claim and through
//! `POST …/access-token` — minted once and reused until five minutes before expiry, one mint
//! at a time however many callers ask at once; on both backends.

use crate::on_both_backends;
use crate::support::helpers::{
    assert_no_secret_in, captured_logs, spawn_app_with, AppOptions, Backend, Fetch, TestApp,
    GOOD_ID, GOOD_SECRET,
};
use serde_json::{json, Value};
use std::time::Duration;

on_both_backends!(
    a_vend_drop_goes_from_link_to_a_workers_access_token,
    concurrent_callers_share_one_mint_and_tokens_renew_before_expiry,
    release_modes_are_checked_per_kind_and_per_route,
    a_token_endpoint_outage_answers_503_and_gives_the_lease_back,
    a_credential_greenhouse_refuses_is_kept_and_retried_slowly,
);

async fn vend_credential(app: &TestApp) -> String {
    let d = app
        .create_drop(json!({"org": "Initech", "profile": "minimal", "release": "vend"}))
        .await;
    assert_eq!(d["release"], "vend");
    let path = TestApp::link_path(d["url"].as_str().unwrap());
    let (status, page) = app
        .submit(
            &path,
            &[("client_id", GOOD_ID), ("client_secret", GOOD_SECRET)],
        )
        .await;
    assert_eq!(status, 200);
    // The customer is told the secret itself is never collected.
    assert!(
        page.contains("starts reading your Greenhouse data"),
        "{page}"
    );
    assert!(page.contains("receive only access tokens"), "{page}");
    assert!(!page.contains("collects the credential"), "{page}");
    let d: Value = app
        .get(
            &format!("/api/v1/drops/{}", d["id"].as_str().unwrap()),
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    d["credential_id"].as_str().unwrap().to_owned()
}

/// `POST …/access-token`, the whole answer.
async fn ask_for_token(app: &TestApp, token: &str, id: &str) -> reqwest::Response {
    app.post(
        &format!("/api/v1/credentials/{id}/access-token"),
        Some(token),
    )
    .send()
    .await
    .unwrap()
}

async fn access_token(app: &TestApp, token: &str, id: &str) -> (u16, Value) {
    let res = ask_for_token(app, token, id).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn audit_count(app: &TestApp, action: &str) -> usize {
    let v: Value = app
        .get(
            &format!("/api/v1/audit?action={action}&limit=1000"),
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    v["events"].as_array().unwrap().len()
}

async fn a_vend_drop_goes_from_link_to_a_workers_access_token(backend: Backend) {
    let app = spawn_app_with(
        backend,
        AppOptions {
            retain: Some(Duration::ZERO),
            ..AppOptions::default()
        },
    )
    .await;
    let fake = app.fake.as_ref().unwrap();
    let (_, worker) = app.create_token("worker", "worker").await;
    let id = vend_credential(&app).await;
    let meta: Value = app
        .get(&format!("/api/v1/credentials/{id}"), Some(&worker))
        .fetch_json()
        .await;
    assert_eq!(meta["release"], "vend");

    // The claim carries an access token, not the secret.
    let res = app
        .post("/api/v1/credentials/claim", Some(&worker))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(
        !text.contains(GOOD_SECRET),
        "the client secret left keydrop"
    );
    let claimed: Value = serde_json::from_str(&text).unwrap();
    let secret = &claimed["secret"];
    assert_eq!(secret["kind"], "harvest_v3");
    assert_eq!(secret["token_type"], "Bearer");
    assert_eq!(secret["api_url"], fake.base_url());
    let token = secret["access_token"].as_str().unwrap().to_owned();
    assert!(
        fake.issued_tokens().contains(&token),
        "a token Greenhouse issued"
    );
    let expires = keydrop::clock::parse_rfc3339(secret["expires_at"].as_str().unwrap()).unwrap();
    let left = expires - keydrop::clock::Clock::now(&keydrop::clock::SystemClock);
    assert!(left > time::Duration::minutes(55), "{left}");
    // …and the token works against Greenhouse.
    let probe = reqwest::Client::new()
        .get(format!("{}/v3/users?per_page=1", fake.base_url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(probe.status(), 200);

    // Ack; retention 0 does not destroy a vend credential.
    let lease = claimed["lease"]["id"].as_str().unwrap();
    let acked: Value = app
        .post(&format!("/api/v1/credentials/{id}/ack"), Some(&worker))
        .json(&json!({"lease_id": lease}))
        .fetch_json()
        .await;
    assert_eq!(acked["delivery"], "delivered");
    app.state.store.destroy_retained(0, 100).await.unwrap();

    // The cached token is reused: no new mint.
    let mints = fake.requests_to("/token");
    let (status, again) = access_token(&app, &worker, &id).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["access_token"], token.as_str());
    assert_eq!(again["token_type"], "Bearer");
    assert!(again.get("kind").is_none());
    assert_eq!(fake.requests_to("/token"), mints);

    // The secret itself is never released.
    let res = app
        .get(&format!("/api/v1/credentials/{id}/secret"), Some(&worker))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    assert!(!res.text().await.unwrap().contains(GOOD_SECRET));

    // Both issues are counted in the metrics, never with the token.
    let metrics = app
        .state
        .metrics
        .render(&keydrop::metrics::Snapshot::default())
        .unwrap();
    assert!(
        metrics.contains("keydrop_access_tokens_issued_total 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"keydrop_token_renewals_total{how="mint",outcome="ok"} 1"#),
        "{metrics}"
    );
    assert!(!metrics.contains(&token) && !metrics.contains(GOOD_SECRET));

    // Every issue is audited, never with the token.
    assert_eq!(audit_count(&app, "credential.access_token").await, 2);
    assert_eq!(audit_count(&app, "credential.token_renew").await, 1);
    let audit = app
        .get("/api/v1/audit?limit=1000", Some(&app.admin_token))
        .fetch_text()
        .await;
    let secrets = vec![token.clone(), GOOD_SECRET.to_owned()];
    assert_no_secret_in(audit.as_bytes(), &secrets, "the audit log");
    assert_no_secret_in(captured_logs().as_bytes(), &secrets, "the logs");
    app.store.close().await;
    assert_no_secret_in(&app.db.raw_dump().await, &secrets, "the database");
}

async fn concurrent_callers_share_one_mint_and_tokens_renew_before_expiry(backend: Backend) {
    let app = spawn_app_with(backend, AppOptions::with_manual_clock()).await;
    let fake = app.fake.as_ref().unwrap();
    let (_, worker) = app.create_token("worker", "worker").await;
    let id = vend_credential(&app).await;
    // Slow Greenhouse: a wide window for callers to pile up behind one mint.
    fake.set_delay(Duration::from_millis(300));
    let before = fake.requests_to("/token");
    let calls = (0..50).map(|_| {
        let (app, worker, id) = (&app, &worker, &id);
        async move { access_token(app, worker, id).await }
    });
    let answers = futures_util::future::join_all(calls).await;
    let first = answers[0].1["access_token"].as_str().unwrap().to_owned();
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body["access_token"], first.as_str());
    }
    assert_eq!(
        fake.requests_to("/token") - before,
        1,
        "one mint for 50 callers"
    );
    assert_eq!(audit_count(&app, "credential.access_token").await, 50);

    // 54 minutes later the token still has 6 minutes: reused.
    let clock = app.clock.as_ref().unwrap();
    clock.advance(Duration::from_secs(54 * 60));
    let (_, same) = access_token(&app, &worker, &id).await;
    assert_eq!(same["access_token"], first.as_str());
    // 2 more minutes: under 5 minutes left, so a new one is minted first.
    clock.advance(Duration::from_secs(2 * 60));
    let (status, renewed) = access_token(&app, &worker, &id).await;
    assert_eq!(status, 200);
    assert_ne!(renewed["access_token"], first.as_str());
    assert_eq!(fake.requests_to("/token") - before, 2);

    // A Greenhouse that issues tokens living under 5 minutes: 503, not a token about to die.
    fake.set_delay(Duration::ZERO);
    fake.set_token_lifetime(keydrop::sandbox::TokenLifetime::ExpiresIn(120));
    clock.advance(Duration::from_secs(3600));
    let res = ask_for_token(&app, &worker, &id).await;
    assert_eq!(res.status(), 503);
    assert!(res.headers().get("retry-after").is_some());
}

async fn release_modes_are_checked_per_kind_and_per_route(backend: Backend) {
    let app = spawn_app_with(backend, AppOptions::default()).await;
    let (_, worker) = app.create_token("worker", "worker").await;
    // Only kinds that can vend accept it.
    for (kind, release, status) in [
        ("harvest_v1", "vend", 422),
        ("candidate_ingestion", "vend", 422),
        ("harvest_v3", "lend", 422),
        ("harvest_v1", "handoff", 201),
    ] {
        let res = app
            .post("/api/v1/drops", Some(&app.admin_token))
            .json(&json!({"org": "Initech", "kind": kind, "release": release}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), status, "{kind} {release}");
    }
    let d = app.create_drop(json!({"org": "Initech"})).await;
    assert_eq!(d["release"], "handoff", "harvest_v3 hands off by default");
    // A handoff credential has no access tokens.
    let id = crate::credentials::verified_credential(&app).await;
    let (status, body) = access_token(&app, &worker, &id).await;
    assert_eq!(status, 409, "{body}");
    // Roles: issuers may not get tokens; unknown ids are 404; malformed ids 400/404.
    let (_, issuer) = app.create_token("issuer", "issuer").await;
    let vend = vend_credential(&app).await;
    assert_eq!(access_token(&app, &issuer, &vend).await.0, 403);
    assert_eq!(
        access_token(&app, &worker, "00000000-0000-4000-8000-000000000000")
            .await
            .0,
        404
    );
    // A destroyed vend credential: 410.
    app.delete(
        &format!("/api/v1/credentials/{vend}"),
        Some(&app.admin_token),
    )
    .fetch_status()
    .await;
    assert_eq!(access_token(&app, &worker, &vend).await.0, 410);
}

async fn a_token_endpoint_outage_answers_503_and_gives_the_lease_back(backend: Backend) {
    let app = spawn_app_with(
        backend,
        AppOptions {
            tune: Some(|s| s.greenhouse_budget = Duration::from_secs(1)),
            ..AppOptions::default()
        },
    )
    .await;
    let fake = app.fake.as_ref().unwrap();
    let (_, worker) = app.create_token("worker", "worker").await;
    let id = vend_credential(&app).await;
    fake.set_token_outage(true);
    let res = app
        .post("/api/v1/credentials/claim", Some(&worker))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().get("retry-after").is_some());
    // The lease was given back: the credential is claimable again at once.
    let meta: Value = app
        .get(&format!("/api/v1/credentials/{id}"), Some(&worker))
        .fetch_json()
        .await;
    assert_eq!(meta["delivery"], "waiting");
    assert_eq!(audit_count(&app, "credential.refresh_failed").await, 1);
    // While the failure backs off, callers are told to wait without asking Greenhouse.
    let before = fake.requests_to("/token");
    assert_eq!(access_token(&app, &worker, &id).await.0, 503);
    assert_eq!(fake.requests_to("/token"), before);
}

/// The customer deleted the credential in Greenhouse: minting is refused. Workers get 503
/// (and a wait of at least a minute), the audit names the OAuth error code, and the
/// credential is kept as it was (a refusal may be undone; staff decide with `verify`).
async fn a_credential_greenhouse_refuses_is_kept_and_retried_slowly(backend: Backend) {
    let app = spawn_app_with(backend, AppOptions::default()).await;
    let fake = app.fake.as_ref().unwrap();
    let (_, worker) = app.create_token("worker", "worker").await;
    let id = vend_credential(&app).await;
    fake.remove_v3_client(GOOD_ID);
    let res = ask_for_token(&app, &worker, &id).await;
    assert_eq!(res.status(), 503);
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait >= 60, "Retry-After {wait}");
    let body = res.text().await.unwrap();
    assert!(
        !body.contains(GOOD_SECRET) && !body.contains(GOOD_ID),
        "{body}"
    );
    let audit: Value = app
        .get(
            "/api/v1/audit?action=credential.refresh_failed",
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    let details = &audit["events"][0]["details"];
    assert_eq!(details["reason"], "refused: invalid_client", "{audit}");
    assert_eq!(details["failures"], 1, "{audit}");
    let meta: Value = app
        .get(&format!("/api/v1/credentials/{id}"), Some(&worker))
        .fetch_json()
        .await;
    assert_eq!(meta["status"], "verified", "{meta}");
    // Asked again at once: no second call to Greenhouse.
    let before = fake.requests_to("/token");
    assert_eq!(access_token(&app, &worker, &id).await.0, 503);
    assert_eq!(fake.requests_to("/token"), before);
}
