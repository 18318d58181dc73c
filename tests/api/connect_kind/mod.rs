//! The connect seam (`greenhouse::kinds::Connector`) as a plug-in: a connecting kind defined
//! in this folder, registered with one line, goes through the whole product over HTTP —
//! drop creation, the Connect page, the `state` and browser binding, every callback outcome
//! with its attempt accounting, the check, a worker's access tokens, renewal on demand, the
//! keep-alive, a staff re-check — with no change to keydrop. On both backends.

mod doorbell;

use crate::on_both_backends;
use crate::support::helpers::{
    assert_no_secret_in, captured_logs, csrf_from, spawn_app_with, test_client, AppOptions,
    Backend, Fetch, TestApp,
};
use doorbell::{renewals, tokens_of, DOORBELL};
use keydrop::greenhouse::{registry, Registry};
use serde_json::{json, Value};
use std::sync::OnceLock;
use std::time::Duration;

on_both_backends!(a_connecting_kind_defined_in_a_test_works_end_to_end);

/// The one line that registers it.
fn kinds() -> &'static Registry {
    static KINDS: OnceLock<Registry> = OnceLock::new();
    KINDS.get_or_init(|| registry().with(&DOORBELL))
}

/// Click Connect on the drop page at `path`: the authorize URL's query and the cookie.
async fn click_connect(app: &TestApp, path: &str) -> (Vec<(String, String)>, String) {
    let page = app.page(path).await.1;
    let csrf = csrf_from(&page).unwrap();
    let res = test_client()
        .post(app.url(path))
        .form(&[("csrf_token", csrf.as_str()), ("connect", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let to = reqwest::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(to.path(), "/authorize");
    (to.query_pairs().into_owned().collect(), cookie)
}

/// The authorization server sends the browser back with `code`.
async fn come_back(app: &TestApp, path: &str, code: &str) -> (u16, String) {
    let (query, cookie) = click_connect(app, path).await;
    let state = &query.iter().find(|(k, _)| k == "state").unwrap().1;
    let callback = format!(
        "/oauth/greenhouse/callback?{}",
        serde_urlencoded::to_string([("code", code), ("state", state.as_str())]).unwrap()
    );
    let res = test_client()
        .get(app.url(&callback))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn drop_json(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/api/v1/drops/{id}"), Some(&app.admin_token))
        .fetch_json()
        .await
}

async fn access_token(app: &TestApp, worker: &str, id: &str) -> (u16, Value) {
    let res = app
        .post(
            &format!("/api/v1/credentials/{id}/access-token"),
            Some(worker),
        )
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

async fn a_connecting_kind_defined_in_a_test_works_end_to_end(backend: Backend) {
    let app = spawn_app_with(
        backend,
        AppOptions {
            manual_clock: true,
            kinds: Some(kinds()),
            ..AppOptions::default()
        },
    )
    .await;
    let clock = app.clock.as_ref().unwrap();
    let grant = uuid::Uuid::new_v4().simple().to_string();
    for generation in 0..4 {
        let (refresh, access) = tokens_of(&grant, generation);
        crate::support::helpers::remember_secret(&refresh);
        crate::support::helpers::remember_secret(&access);
    }

    // Created like any kind; it vends, as a kind that connects must.
    let d = app
        .create_drop(json!({"org": "Initech", "kind": "test_doorbell"}))
        .await;
    assert_eq!(
        (d["release"].as_str(), d["profile"]["name"].as_str()),
        (Some("vend"), Some("lobby")),
        "{d}"
    );
    let id = d["id"].as_str().unwrap().to_owned();
    let path = TestApp::link_path(d["url"].as_str().unwrap());

    // The page offers Connect, and no secret inputs.
    let page = app.page(&path).await.1;
    assert!(page.contains("Test doorbell"), "{page}");
    assert!(page.contains("Connect"), "{page}");
    assert!(!page.contains("type=\"password\""), "{page}");
    // The authorize URL carries the kind's parameters and the flow's own.
    let (query, _) = click_connect(&app, &path).await;
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("client_id"), Some("doorbell-client"));
    assert_eq!(get("scope"), Some("door"));
    assert_eq!(get("response_type"), Some("code"));
    assert_eq!(
        get("redirect_uri"),
        Some("http://127.0.0.1/oauth/greenhouse/callback")
    );

    // Refused by the authorization server: counted. Unavailable: given back.
    let (status, page) = come_back(&app, &path, "refused").await;
    assert_eq!(status, 422, "{page}");
    assert_eq!(drop_json(&app, &id).await["attempts"], 1);
    let (status, page) = come_back(&app, &path, "server-down").await;
    assert_eq!(status, 503, "{page}");
    assert_eq!(drop_json(&app, &id).await["attempts"], 1);

    // Connected: checked with its first access token and stored, verified.
    let (status, page) = come_back(&app, &path, &format!("ok-{grant}")).await;
    assert_eq!(status, 200, "{page}");
    let d = drop_json(&app, &id).await;
    assert_eq!(d["state"], "submitted", "{d}");
    let cred = d["credential_id"].as_str().unwrap().to_owned();
    let meta: Value = app
        .get(
            &format!("/api/v1/credentials/{cred}"),
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    assert_eq!(
        (meta["kind"].as_str(), meta["status"].as_str()),
        (Some("test_doorbell"), Some("verified")),
        "{meta}"
    );

    // A worker gets the first access token, as the exchange brought it.
    let (_, worker) = app.create_token("worker", "worker").await;
    let (status, body) = access_token(&app, &worker, &cred).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["access_token"], tokens_of(&grant, 0).1);
    assert_eq!(renewals(&grant), 0);
    // The secret itself is never released.
    let status = app
        .get(&format!("/api/v1/credentials/{cred}/secret"), Some(&worker))
        .fetch_status()
        .await;
    assert!(status == 409 || status == 403, "{status}");

    // Close to its end the token is renewed (rotating the refresh token) before use.
    clock.advance(Duration::from_secs(56 * 60));
    let (status, body) = access_token(&app, &worker, &cred).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["access_token"], tokens_of(&grant, 1).1);
    assert_eq!(renewals(&grant), 1);

    // The keep-alive renews it once when due, never before.
    assert_eq!(keydrop::jobs::refresh_pass(&app.state).await, (0, true));
    clock.advance(Duration::from_secs(8 * 3600));
    assert_eq!(keydrop::jobs::refresh_pass(&app.state).await, (1, true));
    assert_eq!(renewals(&grant), 2);

    // Staff re-check two hours later: renewed first, then checked: still verified.
    clock.advance(Duration::from_secs(2 * 3600));
    let checked: Value = app
        .post(
            &format!("/api/v1/credentials/{cred}/verify"),
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    assert_eq!(checked["status"], "verified", "{checked}");
    assert_eq!(renewals(&grant), 3);

    // No token of the grant reached the logs.
    assert_no_secret_in(
        captured_logs().as_bytes(),
        &crate::support::helpers::remembered_secrets(),
        "logs",
    );
}
