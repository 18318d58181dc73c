//! `harvest_v3_partner` ("Connect with Greenhouse", SPEC §1.5) end to end over real HTTP
//! against the fake Greenhouse's partner OAuth: the connect redirect, every callback outcome,
//! state replay/forgery/expiry, workers' access tokens, refresh with rotation, the keep-alive,
//! `disconnected` on `invalid_grant`, a 50-caller refresh race, and leak scans — on both
//! backends.
//!
//! *Over 400 lines:* one feature's tests (the whole partner OAuth life cycle) read best together.

use crate::on_both_backends;
use crate::support::helpers::{
    assert_no_secret_in, captured_logs, csrf_from, spawn_app_with, start_beside, AppOptions,
    Backend, Fetch, TestApp,
};
use keydrop::greenhouse::PartnerClient;
use serde_json::{json, Value};
use std::time::Duration;

on_both_backends!(
    a_partner_drop_goes_from_connect_to_a_workers_access_token,
    partner_drops_need_a_partner_client_and_vend,
    every_callback_outcome,
    state_replay_forgery_and_expiry_are_400,
    refresh_rotates_keep_alive_runs_and_a_dead_grant_is_disconnected,
    fifty_callers_share_one_refresh_and_no_refresh_token_is_presented_twice,
    the_database_going_away_during_a_refresh_loses_no_grant,
    an_odd_refresh_answer_keeps_the_rotated_refresh_token,
    a_connection_approved_in_another_browser_fills_no_drop,
    callbacks_are_shape_checked_and_rate_limited,
    a_malformed_token_from_greenhouse_costs_no_attempt,
    a_pending_grants_background_recheck_renews_it_first,
    the_callback_gives_the_attempt_back_on_keydrops_own_fault,
    greenhouse_misbehaving_at_the_exchange_is_never_a_500,
    two_processes_keep_each_grant_alive_once_per_pass,
);

pub const PARTNER_ID: &str = "acme-partner-5150";
pub const PARTNER_SECRET: &str = "partner-secret-Zq8m2Lr7Vt4Kx1";

fn partner(s: &mut keydrop::config::ServeSettings) {
    s.partner = Some(PartnerClient::new(
        PARTNER_ID,
        zeroize::Zeroizing::new(PARTNER_SECRET.to_owned()),
    ));
}

async fn app(backend: Backend, manual_clock: bool) -> TestApp {
    let app = spawn_app_with(
        backend,
        AppOptions {
            manual_clock,
            tune: Some(partner),
            ..AppOptions::default()
        },
    )
    .await;
    app.fake
        .as_ref()
        .unwrap()
        .add_partner_client(PARTNER_ID, PARTNER_SECRET);
    crate::support::helpers::remember_secret(PARTNER_SECRET);
    app
}

/// A partner drop: `(drop id, link path)`.
async fn partner_drop(app: &TestApp, profile: &str) -> (String, String) {
    let d = app
        .create_drop(json!({"org": "Initech", "kind": "harvest_v3_partner", "profile": profile}))
        .await;
    assert_eq!(d["release"], "vend");
    (
        d["id"].as_str().unwrap().to_owned(),
        TestApp::link_path(d["url"].as_str().unwrap()),
    )
}

/// Where a browser is in the flow: a URL, and the connect cookie it holds.
#[derive(Clone)]
struct Step {
    url: String,
    cookie: Option<String>,
}

impl Step {
    /// A browser that never clicked Connect here: no cookie.
    fn bare(url: String) -> Self {
        Self { url, cookie: None }
    }
}

/// Click Connect: the authorize URL keydrop redirects to, and the cookie it sets.
async fn click_connect(app: &TestApp, path: &str) -> Step {
    let res = app.get(path, None).send().await.unwrap();
    assert_eq!(res.status(), 200);
    // Its form may lead to Greenhouse's authorize page, and nowhere else.
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    let auth = app.fake.as_ref().unwrap().base_url();
    assert!(
        csp.contains(&format!("form-action 'self' {auth};")),
        "{csp}"
    );
    let page = res.text().await.unwrap();
    assert!(page.contains("Connect with Greenhouse"), "{page}");
    assert!(!page.contains("type=\"password\""));
    let csrf = csrf_from(&page).unwrap();
    let res = crate::support::helpers::test_client()
        .post(app.url(path))
        .form(&[("csrf_token", csrf.as_str()), ("connect", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let set = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    // Bound to this browser: HttpOnly, Lax, never readable by a page.
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_owned();
    assert!(cookie.starts_with("keydrop-connect="), "{cookie}");
    Step {
        url: res.headers()["location"].to_str().unwrap().to_owned(),
        cookie: Some(cookie),
    }
}

/// Greenhouse's answer to the authorize URL: the callback URL on this app (same browser).
async fn approve(app: &TestApp, authorize: &Step) -> Step {
    let res = crate::support::helpers::test_client()
        .get(&authorize.url)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302, "{}", authorize.url);
    let to = res.headers()["location"].to_str().unwrap().to_owned();
    // The test app's public URL has no port: send the browser to the real address.
    let rest = to.strip_prefix("http://127.0.0.1").unwrap();
    Step {
        url: app.url(rest),
        cookie: authorize.cookie.clone(),
    }
}

async fn callback(step: &Step) -> (u16, String) {
    let mut req = crate::support::helpers::test_client().get(&step.url);
    if let Some(c) = &step.cookie {
        req = req.header("cookie", c);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn connect(app: &TestApp, path: &str) -> (u16, String) {
    let authorize = click_connect(app, path).await;
    let back = approve(app, &authorize).await;
    callback(&back).await
}

async fn drop_json(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/api/v1/drops/{id}"), Some(&app.admin_token))
        .fetch_json()
        .await
}

async fn access_token(app: &TestApp, token: &str, id: &str) -> (u16, Value) {
    let res = app
        .post(
            &format!("/api/v1/credentials/{id}/access-token"),
            Some(token),
        )
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn works(app: &TestApp, token: &str) -> bool {
    reqwest::Client::new()
        .get(format!(
            "{}/v3/users?per_page=1",
            app.fake.as_ref().unwrap().base_url()
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        == 200
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

async fn connected_credential(app: &TestApp) -> String {
    let (id, path) = partner_drop(app, "minimal").await;
    let (status, page) = connect(app, &path).await;
    assert_eq!(status, 200, "{page}");
    drop_json(app, &id).await["credential_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn a_partner_drop_goes_from_connect_to_a_workers_access_token(backend: Backend) {
    let app = app(backend, false).await;
    let fake = app.fake.as_ref().unwrap();
    // Only partner pages may send a form to Greenhouse: a pasted-credential page may not.
    let other = app.create_drop(json!({"org": "Initech"})).await;
    let res = app
        .get(&TestApp::link_path(other["url"].as_str().unwrap()), None)
        .send()
        .await
        .unwrap();
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("form-action 'self';"), "{csp}");
    // Greenhouse's partner answers name the expiry as an instant.
    fake.set_partner_expires_at(true);
    let (_, worker) = app.create_token("worker", "worker").await;
    let (id, path) = partner_drop(&app, "minimal").await;
    let authorize = click_connect(&app, &path).await;
    let url = reqwest::Url::parse(&authorize.url).unwrap();
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(url.path(), "/authorize");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], PARTNER_ID);
    assert_eq!(
        q["redirect_uri"],
        "http://127.0.0.1/oauth/greenhouse/callback"
    );
    assert_eq!(q["scope"], "harvest:users:list");
    assert!(q["state"].len() >= 43);
    let (status, page) = callback(&approve(&app, &authorize).await).await;
    assert_eq!(status, 200, "{page}");
    // A consent flow's words: connected, not "received the credential".
    assert!(page.contains("Connected and verified"), "{page}");
    assert!(!page.contains("close the Greenhouse tab"), "{page}");
    assert!(!page.contains("received the credential"), "{page}");
    // Introspection (with the partner client) names the organisation that approved.
    assert!(page.contains("Initech"), "{page}");

    let d = drop_json(&app, &id).await;
    assert_eq!(d["state"], "submitted");
    assert_eq!(d["attempts"], 1);
    let cred = d["credential_id"].as_str().unwrap().to_owned();
    let meta: Value = app
        .get(&format!("/api/v1/credentials/{cred}"), Some(&worker))
        .fetch_json()
        .await;
    assert_eq!(meta["kind"], "harvest_v3_partner");
    assert_eq!(meta["release"], "vend");
    assert_eq!(meta["status"], "verified");
    assert_eq!(meta["hint"], "");
    assert_eq!(meta["verification"]["organization"]["name"], "Initech");

    // The worker's claim carries a working access token; the grant itself never leaves.
    let claimed: Value = app
        .post("/api/v1/credentials/claim", Some(&worker))
        .fetch_json()
        .await;
    assert_eq!(claimed["secret"]["kind"], "harvest_v3_partner");
    let token = claimed["secret"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(works(&app, &token).await);
    assert!(claimed["secret"].get("refresh_token").is_none());
    let (status, again) = access_token(&app, &worker, &cred).await;
    assert_eq!(status, 200);
    assert_eq!(
        again["access_token"],
        token.as_str(),
        "the exchange's token, reused"
    );
    assert_eq!(fake.partner_refreshes(), 0);
    assert_eq!(
        app.get(&format!("/api/v1/credentials/{cred}/secret"), Some(&worker))
            .fetch_status()
            .await,
        409
    );
    assert_eq!(audit_count(&app, "drop.connect").await, 1);

    // No refresh token, access token, client secret or state anywhere.
    let mut secrets = fake.issued_refresh_tokens();
    secrets.extend(fake.issued_tokens());
    secrets.push(PARTNER_SECRET.to_owned());
    secrets.push(q["state"].clone());
    let audit = app
        .get("/api/v1/audit?limit=1000", Some(&app.admin_token))
        .fetch_text()
        .await;
    assert_no_secret_in(audit.as_bytes(), &secrets, "the audit log");
    assert_no_secret_in(captured_logs().as_bytes(), &secrets, "the logs");
    app.store.close().await;
    assert_no_secret_in(&app.db.raw_dump().await, &secrets, "the database");
}

async fn partner_drops_need_a_partner_client_and_vend(backend: Backend) {
    let plain = spawn_app_with(backend, AppOptions::default()).await;
    let res = plain
        .post("/api/v1/drops", Some(&plain.admin_token))
        .json(&json!({"org": "Initech", "kind": "harvest_v3_partner"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("KEYDROP_GREENHOUSE_PARTNER_CLIENT_ID"),
        "{body}"
    );
    let app = app(backend, false).await;
    let res = app
        .post("/api/v1/drops", Some(&app.admin_token))
        .json(&json!({"org": "Initech", "kind": "harvest_v3_partner", "release": "handoff"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    // The connect route is for partner drops only.
    let d = app.create_drop(json!({"org": "Initech"})).await;
    let path = TestApp::link_path(d["url"].as_str().unwrap());
    let (_, page) = app.page(&path).await;
    let csrf = csrf_from(&page).unwrap();
    let res = crate::support::helpers::test_client()
        .post(app.url(&format!("{path}/connect")))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

async fn every_callback_outcome(backend: Backend) {
    let app = app(backend, false).await;
    let fake = app.fake.as_ref().unwrap();

    // Declined: 422 with "Connect again", no attempt used, nothing stored.
    let (id, path) = partner_drop(&app, "minimal").await;
    fake.set_authorize_denies(true);
    let (status, page) = connect(&app, &path).await;
    assert_eq!(status, 422);
    assert!(
        page.contains("not approved") && page.contains("Connect again"),
        "{page}"
    );
    assert_eq!(drop_json(&app, &id).await["attempts"], 0);
    fake.set_authorize_denies(false);

    // Approved without the required scope: 422 naming it, one attempt, nothing stored.
    fake.set_partner_grants(Some(["jobs"]));
    let (status, page) = connect(&app, &path).await;
    assert_eq!(status, 422);
    assert!(
        page.replace("<wbr>", "").contains("harvest:users:list"),
        "{page}"
    );
    let d = drop_json(&app, &id).await;
    assert_eq!(
        (d["attempts"].as_i64(), d["state"].as_str()),
        (Some(1), Some("open"))
    );
    fake.set_partner_grants(None::<[&str; 0]>);

    // Greenhouse down during the exchange: 503, the attempt given back.
    let authorize = click_connect(&app, &path).await;
    let back = approve(&app, &authorize).await;
    fake.set_token_outage(true);
    let (status, page) = callback(&back).await;
    assert_eq!(status, 503, "{page}");
    assert!(page.contains("connect again") || page.contains("Connect with Greenhouse"));
    fake.set_token_outage(false);
    assert_eq!(drop_json(&app, &id).await["attempts"], 1);

    // A code Greenhouse no longer accepts (used already): 422, counted.
    let authorize = click_connect(&app, &path).await;
    let back = approve(&app, &authorize).await;
    let code = reqwest::Url::parse(&back.url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let spent = reqwest::Client::new()
        .post(format!("{}/token", fake.base_url()))
        .basic_auth(PARTNER_ID, Some(PARTNER_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://127.0.0.1/oauth/greenhouse/callback"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(spent.status(), 200);
    let (status, page) = callback(&back).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("did not accept this connection"), "{page}");
    assert_eq!(drop_json(&app, &id).await["attempts"], 2);

    // Probes Greenhouse cannot answer: 202, stored pending (and kept alive).
    let authorize = click_connect(&app, &path).await;
    let back = approve(&app, &authorize).await;
    fake.set_api_outage(true);
    let (status, page) = callback(&back).await;
    assert_eq!(status, 202, "{page}");
    fake.set_api_outage(false);
    let d = drop_json(&app, &id).await;
    assert_eq!(d["state"], "submitted");
    assert_eq!(d["attempts"], 3);

    // Verified, on a new drop.
    let (_, path) = partner_drop(&app, "minimal").await;
    let (status, _) = connect(&app, &path).await;
    assert_eq!(status, 200);
    // The link is now used: its page is 410.
    assert_eq!(app.page(&path).await.0, 410);
}

async fn state_replay_forgery_and_expiry_are_400(backend: Backend) {
    let app = app(backend, true).await;
    let (id, path) = partner_drop(&app, "minimal").await;
    let authorize = click_connect(&app, &path).await;
    let back = approve(&app, &authorize).await;
    // Forged or missing state.
    let forged = Step {
        url: back.url.replace("state=", "state=x"),
        ..back.clone()
    };
    assert_eq!(callback(&forged).await.0, 400);
    for url in [
        "/oauth/greenhouse/callback?code=abc",
        "/oauth/greenhouse/callback",
        "/oauth/greenhouse/callback?state=%ZZ&code=1",
    ] {
        let step = Step {
            url: app.url(url),
            ..back.clone()
        };
        assert_eq!(callback(&step).await.0, 400, "{url}");
    }
    // The right state in a browser without the cookie (or with another one): 400.
    assert_eq!(callback(&Step::bare(back.url.clone())).await.0, 400);
    let other = Step {
        cookie: Some(format!("keydrop-connect={}", "A".repeat(43))),
        ..back.clone()
    };
    assert_eq!(callback(&other).await.0, 400);
    // The real one works once; the replay is 400.
    let (status, page) = callback(&back).await;
    assert_eq!(status, 200, "{page}");
    let (status, page) = callback(&back).await;
    assert_eq!(status, 400);
    assert!(page.contains("already used"), "{page}");
    assert_eq!(drop_json(&app, &id).await["attempts"], 1);

    // A state older than 10 minutes: 400, nothing counted.
    let (id, path) = partner_drop(&app, "minimal").await;
    let authorize = click_connect(&app, &path).await;
    let back = approve(&app, &authorize).await;
    app.clock
        .as_ref()
        .unwrap()
        .advance(Duration::from_secs(10 * 60 + 1));
    assert_eq!(callback(&back).await.0, 400);
    assert_eq!(drop_json(&app, &id).await["attempts"], 0);
}

async fn refresh_rotates_keep_alive_runs_and_a_dead_grant_is_disconnected(backend: Backend) {
    let app = app(backend, true).await;
    let fake = app.fake.as_ref().unwrap();
    let clock = app.clock.as_ref().unwrap();
    let (_, worker) = app.create_token("worker", "worker").await;
    let cred = connected_credential(&app).await;
    let (_, first) = access_token(&app, &worker, &cred).await;

    // 56 minutes on, the token has under 5 minutes left: refreshed (rotated) before use.
    clock.advance(Duration::from_secs(56 * 60));
    let (status, second) = access_token(&app, &worker, &cred).await;
    assert_eq!(status, 200, "{second}");
    assert_ne!(second["access_token"], first["access_token"]);
    assert!(works(&app, second["access_token"].as_str().unwrap()).await);
    assert_eq!(fake.partner_refreshes(), 1);

    // Staff re-check two hours on: the stored token has expired, so it is renewed first
    // (never by the check itself), and the grant checks out as verified, not pending.
    clock.advance(Duration::from_secs(2 * 3600));
    let checked: Value = app
        .post(
            &format!("/api/v1/credentials/{cred}/verify"),
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    assert_eq!(checked["status"], "verified", "{checked}");
    assert_eq!(fake.partner_refreshes(), 2);
    clock.advance(Duration::from_secs(5 * 3600 + 55 * 60));

    // Nothing due yet; 8 hours after the last refresh the keep-alive refreshes.
    assert_eq!(keydrop::jobs::refresh_pass(&app.state).await, (0, true));
    clock.advance(Duration::from_secs(8 * 3600));
    assert_eq!(keydrop::jobs::refresh_pass(&app.state).await, (1, true));
    assert_eq!(fake.partner_refreshes(), 3);
    assert_eq!(fake.refresh_reuses(), 0);
    assert_eq!(fake.alive_grants(), 1);
    let renews: Value = app
        .get(
            "/api/v1/audit?action=credential.token_renew&limit=10",
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    let whys: Vec<&str> = renews["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["details"]["why"].as_str().unwrap())
        .collect();
    assert_eq!(whys, ["on_demand", "on_demand", "keep_alive"]);

    // The customer disconnected the app in Greenhouse: the next refresh gets invalid_grant.
    fake.kill_partner_grants();
    clock.advance(Duration::from_secs(8 * 3600));
    keydrop::jobs::refresh_pass(&app.state).await;
    let meta: Value = app
        .get(&format!("/api/v1/credentials/{cred}"), Some(&worker))
        .fetch_json()
        .await;
    assert_eq!(meta["status"], "disconnected");
    assert_eq!(meta["delivery"], "destroyed");
    let (status, body) = access_token(&app, &worker, &cred).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("disconnected"));
    assert_eq!(audit_count(&app, "credential.disconnect").await, 1);
    let metrics = app
        .state
        .metrics
        .render(&keydrop::metrics::Snapshot::default())
        .unwrap();
    for line in [
        r#"keydrop_token_renewals_total{how="refresh",outcome="ok"} 3"#,
        r#"keydrop_token_renewals_total{how="refresh",outcome="disconnected"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} not in\n{metrics}");
    }
    // Not due any more.
    clock.advance(Duration::from_secs(8 * 3600));
    assert_eq!(keydrop::jobs::refresh_pass(&app.state).await, (0, true));
}

async fn fifty_callers_share_one_refresh_and_no_refresh_token_is_presented_twice(backend: Backend) {
    let app = app(backend, true).await;
    let fake = app.fake.as_ref().unwrap();
    let (_, worker) = app.create_token("worker", "worker").await;
    let cred = connected_credential(&app).await;
    app.clock
        .as_ref()
        .unwrap()
        .advance(Duration::from_secs(58 * 60));
    fake.set_refresh_delay(Duration::from_millis(400));
    let calls = (0..50).map(|_| access_token(&app, &worker, &cred));
    let answers = futures_util::future::join_all(calls).await;
    let first = answers[0].1["access_token"].as_str().unwrap().to_owned();
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body["access_token"], first.as_str());
    }
    assert!(works(&app, &first).await);
    assert_eq!(fake.partner_refreshes(), 1);
    assert_eq!(fake.max_refreshes_in_flight(), 1);
    assert_eq!(fake.refresh_reuses(), 0);
    assert_eq!(fake.alive_grants(), 1);
}

/// The red team's fault: the database goes away while Greenhouse answers a refresh, for
/// longer than the budget plus the old 5 s margin. The rotated pair — the only valid one —
/// is kept and stored once the database is back; nobody presents the spent refresh token
/// (a second caller waits for the lease instead of taking it over), and the grant lives.
async fn the_database_going_away_during_a_refresh_loses_no_grant(backend: Backend) {
    let app = spawn_app_with(
        backend,
        AppOptions {
            manual_clock: true,
            tune: Some(|s| {
                partner(s);
                s.greenhouse_budget = Duration::from_secs(2);
            }),
            ..AppOptions::default()
        },
    )
    .await;
    let fake = app.fake.as_ref().unwrap();
    fake.add_partner_client(PARTNER_ID, PARTNER_SECRET);
    let clock = app.clock.as_ref().unwrap();
    let (_, worker) = app.create_token("worker", "worker").await;
    let cred = connected_credential(&app).await;
    clock.advance(Duration::from_secs(56 * 60));
    fake.set_refresh_delay(Duration::from_millis(800));
    let first = tokio::spawn(
        app.post(
            &format!("/api/v1/credentials/{cred}/access-token"),
            Some(&worker),
        )
        .send(),
    );
    // Greenhouse has the refresh in hand when the credentials table goes away.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut raw = app.db.raw().await;
    sqlx::query("ALTER TABLE credentials RENAME TO credentials_away")
        .execute(&mut raw)
        .await
        .unwrap();
    let res = first.await.unwrap().unwrap();
    assert_eq!(res.status(), 503, "the caller is told to come back");
    assert!(res.headers().get("retry-after").is_some());
    assert_eq!(fake.partner_refreshes(), 1);
    // The outage outlasts the budget and the old lease margin (2 s + 5 s).
    tokio::time::sleep(Duration::from_secs(1)).await;
    clock.advance(Duration::from_secs(8));
    sqlx::query("ALTER TABLE credentials_away RENAME TO credentials")
        .execute(&mut raw)
        .await
        .unwrap();
    let (status, body) = access_token(&app, &worker, &cred).await;
    assert_eq!(status, 200, "{body}");
    assert!(works(&app, body["access_token"].as_str().unwrap()).await);
    assert_eq!(
        fake.partner_refreshes(),
        1,
        "the spent token was never sent"
    );
    assert_eq!(fake.refresh_reuses(), 0);
    assert_eq!(fake.alive_grants(), 1);
    assert_eq!(audit_count(&app, "credential.token_renew").await, 1);
    // And the grant keeps living: the next keep-alive uses the stored (rotated) token.
    fake.set_refresh_delay(Duration::ZERO);
    clock.advance(Duration::from_secs(8 * 3600));
    assert_eq!(keydrop::jobs::refresh_pass(&app.state).await, (1, true));
    assert_eq!(fake.refresh_reuses(), 0);
    assert_eq!(fake.alive_grants(), 1);
}

/// Greenhouse answers a refresh 200 with a rotated refresh token but no usable access
/// token. The old refresh token is spent: keydrop stores the new one (and tries again
/// later for an access token) instead of retrying with the old one, which would kill
/// the grant.
async fn an_odd_refresh_answer_keeps_the_rotated_refresh_token(backend: Backend) {
    let app = app(backend, true).await;
    let fake = app.fake.as_ref().unwrap();
    let clock = app.clock.as_ref().unwrap();
    let (_, worker) = app.create_token("worker", "worker").await;
    let cred = connected_credential(&app).await;
    clock.advance(Duration::from_secs(56 * 60));
    fake.odd_token_answers(1);
    let res = app
        .post(
            &format!("/api/v1/credentials/{cred}/access-token"),
            Some(&worker),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().get("retry-after").is_some());
    let failed: Value = app
        .get(
            "/api/v1/audit?action=credential.refresh_failed",
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    let reason = failed["events"][0]["details"]["reason"].as_str().unwrap();
    assert!(reason.contains("kept"), "{failed}");
    clock.advance(Duration::from_secs(6));
    let (status, body) = access_token(&app, &worker, &cred).await;
    assert_eq!(status, 200, "{body}");
    assert!(works(&app, body["access_token"].as_str().unwrap()).await);
    assert_eq!(fake.partner_refreshes(), 2);
    assert_eq!(
        fake.refresh_reuses(),
        0,
        "the spent token was never sent again"
    );
    assert_eq!(fake.alive_grants(), 1);
    let meta: Value = app
        .get(&format!("/api/v1/credentials/{cred}"), Some(&worker))
        .fetch_json()
        .await;
    assert_eq!(meta["status"], "verified");
}

/// The red team's cross-drop case, as an attacker would run it: they hold link A, start a
/// connection, and get an admin of another organisation to approve that authorize URL in
/// their own browser. The callback arrives without A's cookie — or with the cookie of the
/// approver's own connection for drop V — and is refused: drop A never receives the other
/// organisation's grant, and nothing is counted. In the browser that started it, the flow
/// works as before.
async fn a_connection_approved_in_another_browser_fills_no_drop(backend: Backend) {
    let app = app(backend, false).await;
    let (a, path_a) = partner_drop(&app, "minimal").await;
    let attacker = click_connect(&app, &path_a).await;
    let approved_elsewhere = approve(&app, &Step::bare(attacker.url.clone())).await;
    assert_eq!(approved_elsewhere.cookie, None);
    let (status, page) = callback(&approved_elsewhere).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("this browser"), "{page}");
    let (_v, path_v) = partner_drop(&app, "minimal").await;
    let victim = click_connect(&app, &path_v).await;
    let with_other_cookie = Step {
        url: approved_elsewhere.url.clone(),
        cookie: victim.cookie.clone(),
    };
    assert_eq!(callback(&with_other_cookie).await.0, 400);
    let d = drop_json(&app, &a).await;
    assert_eq!(
        (
            d["state"].as_str(),
            d["attempts"].as_i64(),
            d["credential_id"].as_str()
        ),
        (Some("open"), Some(0), None),
        "{d}"
    );
    // Started and approved in one browser, the connection completes.
    let (status, page) = connect(&app, &path_a).await;
    assert_eq!(status, 200, "{page}");
    // Every answer of the callback clears the cookie.
    let res = crate::support::helpers::test_client()
        .get(app.url("/oauth/greenhouse/callback"))
        .send()
        .await
        .unwrap();
    let cleared = res.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cleared.contains("keydrop-connect=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
}

/// Forged callbacks are refused by their shape before any database work, and they count
/// against the per-address limit of public requests like any POST.
async fn callbacks_are_shape_checked_and_rate_limited(backend: Backend) {
    let app = spawn_app_with(
        backend,
        AppOptions {
            tune: Some(partner),
            rate_limit: Some(keydrop::config::RateLimit {
                requests: 10,
                per: Duration::from_secs(60),
            }),
            ..AppOptions::default()
        },
    )
    .await;
    let cookie = format!("keydrop-connect={}", "B".repeat(43));
    for len in [1usize, 5, 42, 44, 64, 100, 128, 129] {
        let step = Step {
            url: app.url(&format!(
                "/oauth/greenhouse/callback?code=c&state={}",
                "s".repeat(len)
            )),
            cookie: Some(cookie.clone()),
        };
        assert_eq!(callback(&step).await.0, 400, "state of {len} characters");
    }
    let well_shaped = Step {
        url: app.url(&format!(
            "/oauth/greenhouse/callback?code=c&state={}",
            "S".repeat(43)
        )),
        cookie: Some(cookie),
    };
    assert_eq!(callback(&well_shaped).await.0, 400, "unknown");
    assert_eq!(
        callback(&well_shaped).await.0,
        400,
        "still within the limit"
    );
    let (status, page) = callback(&well_shaped).await;
    assert_eq!(status, 429, "{page}");
}

/// Greenhouse answers the code exchange with a token keydrop cannot store: that is
/// Greenhouse's doing, so the customer sees "connect again" (503), not a 500, and the
/// attempt is given back.
async fn a_malformed_token_from_greenhouse_costs_no_attempt(backend: Backend) {
    let app = app(backend, false).await;
    let (id, path) = partner_drop(&app, "minimal").await;
    app.fake.as_ref().unwrap().odd_token_answers(1);
    let (status, page) = connect(&app, &path).await;
    assert_eq!(status, 503, "{page}");
    assert!(page.contains("Connect with Greenhouse"), "{page}");
    let d = drop_json(&app, &id).await;
    assert_eq!(
        (d["state"].as_str(), d["attempts"].as_i64()),
        (Some("open"), Some(0)),
        "{d}"
    );
    assert_eq!(audit_count(&app, "drop.attempt_returned").await, 1);
    let (status, page) = connect(&app, &path).await;
    assert_eq!(status, 200, "{page}");
}

/// A grant stored `pending` (Greenhouse's API was down when it connected) is re-checked in
/// the background after its first access token expired: the re-check renews the token first
/// — once — and reaches a definite outcome, instead of staying `pending` (and workers
/// getting 409) until the 8-hour keep-alive.
async fn a_pending_grants_background_recheck_renews_it_first(backend: Backend) {
    let app = app(backend, true).await;
    let fake = app.fake.as_ref().unwrap();
    let clock = app.clock.as_ref().unwrap();
    let (id, path) = partner_drop(&app, "minimal").await;
    let back = approve(&app, &click_connect(&app, &path).await).await;
    fake.set_api_outage(true);
    let (status, page) = callback(&back).await;
    assert_eq!(status, 202, "{page}");
    fake.set_api_outage(false);
    let cred = drop_json(&app, &id).await["credential_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Two hours on, the first access token is dead at Greenhouse too.
    clock.advance(Duration::from_secs(2 * 3600));
    fake.expire_partner_access_tokens();
    assert_eq!(keydrop::jobs::recheck_pass(&app.state).await, (1, true));
    let meta: Value = app
        .get(
            &format!("/api/v1/credentials/{cred}"),
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    assert_eq!(meta["status"], "verified", "{meta}");
    assert_eq!(fake.partner_refreshes(), 1);
    let renews: Value = app
        .get(
            "/api/v1/audit?action=credential.token_renew&limit=10",
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    assert_eq!(renews["events"].as_array().unwrap().len(), 1, "{renews}");

    // A worker gets the renewed token at once, without another refresh.
    let (_, worker) = app.create_token("worker", "worker").await;
    let (status, body) = access_token(&app, &worker, &cred).await;
    assert_eq!(status, 200, "{body}");
    assert!(works(&app, body["access_token"].as_str().unwrap()).await);
    assert_eq!(fake.partner_refreshes(), 1);
    assert_eq!(fake.refresh_reuses(), 0);
    // Nothing left to re-check.
    clock.advance(Duration::from_secs(3600));
    assert_eq!(keydrop::jobs::recheck_pass(&app.state).await, (0, true));
}

/// keydrop cannot store a connected grant (its own database fails while Greenhouse
/// answers the exchange): the customer is told to try again, the attempt is given back and
/// audited, nothing is stored — and connecting again works.
async fn the_callback_gives_the_attempt_back_on_keydrops_own_fault(backend: Backend) {
    let app = app(backend, false).await;
    let fake = app.fake.as_ref().unwrap();
    let (id, path) = partner_drop(&app, "minimal").await;
    let back = approve(&app, &click_connect(&app, &path).await).await;
    fake.set_delay(Duration::from_millis(300));
    let pending = tokio::spawn(async move { callback(&back).await });
    // While Greenhouse answers the exchange, the credentials table goes away.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let mut raw = app.db.raw().await;
    sqlx::query("ALTER TABLE credentials RENAME TO credentials_away")
        .execute(&mut raw)
        .await
        .unwrap();
    let (status, page) = pending.await.unwrap();
    sqlx::query("ALTER TABLE credentials_away RENAME TO credentials")
        .execute(&mut raw)
        .await
        .unwrap();
    assert_eq!(status, 500, "{page}");
    assert_no_secret_in(page.as_bytes(), &[PARTNER_SECRET.to_owned()], "error page");
    let d = drop_json(&app, &id).await;
    assert_eq!(
        (d["state"].as_str(), d["attempts"].as_i64()),
        (Some("open"), Some(0)),
        "our fault costs no attempt: {d}"
    );
    assert_eq!(audit_count(&app, "drop.attempt_returned").await, 1);
    fake.set_delay(Duration::ZERO);
    let (status, page) = connect(&app, &path).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(drop_json(&app, &id).await["state"], "submitted");
}

/// Whatever Greenhouse does at the code exchange — down, rate limiting, slower than the
/// budget, an answer keydrop cannot store — the customer gets a "connect again" page (503),
/// never a 500, and keeps every attempt.
async fn greenhouse_misbehaving_at_the_exchange_is_never_a_500(backend: Backend) {
    let app = app(backend, false).await;
    let fake = app.fake.as_ref().unwrap();
    let (id, path) = partner_drop(&app, "minimal").await;
    type Fault = fn(&keydrop::sandbox::FakeGreenhouse, bool);
    let faults: [(&str, Fault); 4] = [
        ("token endpoint down", |f, on| f.set_token_outage(on)),
        ("rate limited", |f, on| {
            if on {
                f.rate_limit_next(20, 30)
            } else {
                f.rate_limit_next(0, 0)
            }
        }),
        ("slower than the budget", |f, on| {
            f.set_delay(if on {
                Duration::from_millis(2500)
            } else {
                Duration::ZERO
            })
        }),
        ("an answer keydrop cannot store", |f, on| {
            f.odd_token_answers(u32::from(on))
        }),
    ];
    for (what, fault) in faults {
        let back = approve(&app, &click_connect(&app, &path).await).await;
        fault(fake, true);
        let (status, page) = callback(&back).await;
        fault(fake, false);
        assert_eq!(status, 503, "{what}: {page}");
        assert!(page.contains("Connect with Greenhouse"), "{what}: {page}");
        let d = drop_json(&app, &id).await;
        assert_eq!(
            (d["state"].as_str(), d["attempts"].as_i64()),
            (Some("open"), Some(0)),
            "{what}: {d}"
        );
    }
    assert_eq!(audit_count(&app, "drop.attempt_returned").await, 4);
    let (status, page) = connect(&app, &path).await;
    assert_eq!(status, 200, "{page}");
}

/// Two keydrop processes run their keep-alive passes at the same moment over the same
/// grants: each grant is refreshed once (not once per process), and no refresh token is
/// presented twice.
async fn two_processes_keep_each_grant_alive_once_per_pass(backend: Backend) {
    let app = app(backend, true).await;
    let fake = app.fake.as_ref().unwrap();
    let clock = app.clock.as_ref().unwrap();
    for _ in 0..3 {
        connected_credential(&app).await;
    }
    let other = start_beside(&app).await;
    clock.advance(Duration::from_secs(8 * 3600 + 60));
    let (a, b) = tokio::join!(
        keydrop::jobs::refresh_pass(&app.state),
        keydrop::jobs::refresh_pass(&other.state)
    );
    assert!(a.1 && b.1, "{a:?} {b:?}");
    assert_eq!(
        fake.partner_refreshes(),
        3,
        "one refresh per grant: {a:?} {b:?}"
    );
    assert_eq!(fake.refresh_reuses(), 0);
    assert_eq!(fake.alive_grants(), 3);
    assert_eq!(audit_count(&app, "credential.token_renew").await, 3);
    // The next pass of either finds nothing due.
    assert_eq!(keydrop::jobs::refresh_pass(&other.state).await, (0, true));
}
