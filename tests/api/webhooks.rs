//! Webhooks (SPEC §11) to a real local receiver: signed as Standard
//! Webhooks specify (checked here with an independent implementation),
//! metadata only, retried with the same `webhook-id`, 410 disables, rotation
//! signs with both secrets, private targets refused without the flag.
//!
//! *Over 400 lines:* one feature's tests read best together.

use crate::credentials::verified_credential;
use crate::on_both_backends;
use crate::support::helpers::{
    assert_no_secret_in, spawn_app_with, AppOptions, Backend, Fetch, TestApp, GOOD_SECRET,
};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine as _;
use keydrop::config::ServeSettings;
use keydrop::store::webhooks::{Due, Record};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

on_both_backends!(
    events_arrive_signed_and_carry_metadata_only,
    a_failing_receiver_gets_the_same_webhook_id_until_it_answers,
    a_receiver_that_answers_410_is_disabled,
    rotation_signs_with_both_secrets,
    a_restart_in_the_middle_of_the_retry_schedule_loses_nothing,
    a_hanging_receiver_holds_back_only_itself,
    one_dispatcher_holds_an_endpoint_at_a_time,
    forty_hanging_receivers_do_not_starve_one_that_answers,
    retry_is_refused_while_sending_and_audited,
    a_disabled_endpoints_pending_deliveries_leave_the_queue,
);

/// What a receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    id: String,
    timestamp: String,
    signature: String,
    pub(crate) body: String,
}

#[derive(Default)]
struct ReceiverState {
    got: Mutex<Vec<Received>>,
    /// Answer this status to the next N requests.
    fail: Mutex<Vec<u16>>,
    /// Hold each request this long before answering (after noting it).
    delay: Mutex<Option<Duration>>,
}

pub(crate) struct Receiver {
    pub(crate) url: String,
    state: Arc<ReceiverState>,
}

impl Receiver {
    pub(crate) async fn start() -> Self {
        let state = Arc::new(ReceiverState::default());
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(receive))
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .unwrap();
        let port = server.addrs()[0].port();
        tokio::spawn(server.run());
        Self {
            url: format!("http://127.0.0.1:{port}/hooks/keydrop"),
            state,
        }
    }

    fn got(&self) -> Vec<Received> {
        self.state.got.lock().unwrap().clone()
    }

    fn types(&self) -> Vec<String> {
        self.got()
            .iter()
            .map(|r| {
                serde_json::from_str::<Value>(&r.body).unwrap()["type"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    pub(crate) async fn wait_for(&self, n: usize) -> Vec<Received> {
        let started = Instant::now();
        loop {
            let got = self.got();
            if got.len() >= n {
                return got;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "only {} of {n} webhook requests arrived: {:?}",
                got.len(),
                self.types()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<ReceiverState>,
) -> HttpResponse {
    let h = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    state.got.lock().unwrap().push(Received {
        id: h("webhook-id"),
        timestamp: h("webhook-timestamp"),
        signature: h("webhook-signature"),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let delay = *state.delay.lock().unwrap();
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let status = {
        let mut fail = state.fail.lock().unwrap();
        if fail.is_empty() {
            200
        } else {
            fail.remove(0)
        }
    };
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).finish()
}

/// Verify a Standard Webhooks signature the way a receiver library does:
/// some `v1,<sig>` in the header matches HMAC-SHA256(base64-decoded secret).
pub(crate) fn verifies(secret: &str, r: &Received) -> bool {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    let signed = format!("{}.{}.{}", r.id, r.timestamp, r.body);
    r.signature.split(' ').any(|s| {
        let Some(sig) = s.strip_prefix("v1,") else {
            return false;
        };
        let Ok(sig) = base64::engine::general_purpose::STANDARD.decode(sig) else {
            return false;
        };
        ring::hmac::verify(&key, signed.as_bytes(), &sig).is_ok()
    })
}

fn fast(s: &mut ServeSettings) {
    s.jobs.webhook_retries = vec![Duration::from_millis(100); 7];
    s.jobs.webhook_poll = Duration::from_millis(50);
}

async fn app(backend: Backend) -> TestApp {
    spawn_app_with(
        backend,
        AppOptions {
            tune: Some(fast),
            ..AppOptions::default()
        },
    )
    .await
}

async fn register(app: &TestApp, body: Value) -> (u16, Value) {
    let res = app
        .post("/api/v1/webhooks", Some(&app.admin_token))
        .json(&body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn events_arrive_signed_and_carry_metadata_only(backend: Backend) {
    let app = app(backend).await;
    let rx = Receiver::start().await;
    let (status, hook) = register(&app, json!({ "url": rx.url, "description": "ingest" })).await;
    assert_eq!(status, 201, "{hook}");
    let secret = hook["secret"].as_str().unwrap().to_owned();
    crate::support::helpers::remember_secret(&secret);
    assert!(secret.starts_with("whsec_"));
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(&secret[6..])
            .unwrap()
            .len(),
        32
    );
    // The secret is shown once: never listed again.
    let listed = app
        .get("/api/v1/webhooks", Some(&app.admin_token))
        .fetch_text()
        .await;
    assert!(!listed.contains(&secret) && listed.contains(&rx.url));

    // drop.created, credential.received + .verified, then delivered.
    let id = verified_credential(&app).await;
    let (_, w) = app.create_token("w", "worker").await;
    let claim: Value = app
        .post("/api/v1/credentials/claim", Some(&w))
        .fetch_json()
        .await;
    let lease = claim["lease"]["id"].as_str().unwrap();
    let acked = app
        .post(&format!("/api/v1/credentials/{id}/ack"), Some(&w))
        .json(&json!({ "lease_id": lease }))
        .fetch_status()
        .await;
    assert_eq!(acked, 200);
    let got = rx.wait_for(4).await;
    assert_eq!(
        rx.types(),
        [
            "drop.created",
            "credential.received",
            "credential.verified",
            "credential.delivered"
        ],
        "in commit order"
    );
    let mut ids = std::collections::HashSet::new();
    for r in &got {
        assert!(verifies(&secret, r), "signature does not verify: {r:?}");
        assert!(ids.insert(r.id.clone()), "one webhook-id per message");
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
        assert!(body["data"].is_object());
    }
    let received: Value = serde_json::from_str(&got[1].body).unwrap();
    assert_eq!(received["data"]["credential_id"], id.as_str());
    // Every event names its subject the way a receiver files it (SPEC §11): no API call
    // needed to map it to a customer.
    let drop_id = received["data"]["drop_id"].as_str().unwrap().to_owned();
    for r in &got {
        let body: Value = serde_json::from_str(&r.body).unwrap();
        let data = &body["data"];
        assert_eq!(data["drop_id"], drop_id.as_str(), "{body}");
        assert_eq!(data["org"], "Initech", "{body}");
        assert_eq!(data["external_id"], Value::Null, "{body}");
        assert_eq!(data["kind"], "harvest_v3", "{body}");
        assert_eq!(data["release"], "handoff", "{body}");
        if body["type"].as_str().unwrap().starts_with("credential.") {
            assert_eq!(data["credential_id"], id.as_str(), "{body}");
        }
    }
    let d = app
        .create_drop(json!({"org": "Globex", "external_id": "cust-42"}))
        .await;
    app.post(
        &format!("/api/v1/drops/{}/revoke", d["id"].as_str().unwrap()),
        Some(&app.admin_token),
    )
    .fetch_status()
    .await;
    let more = rx.wait_for(6).await;
    for r in &more[4..] {
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["data"]["external_id"], "cust-42", "{body}");
        assert_eq!(body["data"]["org"], "Globex", "{body}");
        assert_eq!(body["data"]["drop_id"], d["id"], "{body}");
    }
    assert_eq!(&rx.types()[4..], ["drop.created", "drop.revoked"]);
    // Metadata only: no secret, no link, no token.
    let all: String = got.iter().map(|r| r.body.clone()).collect();
    let mut secrets = crate::support::helpers::remembered_secrets();
    secrets.push(GOOD_SECRET.to_owned());
    secrets.push(w.clone());
    assert_no_secret_in(all.as_bytes(), &secrets, "webhook bodies");
    assert!(!all.contains("/d/"), "no link in a webhook");
    // The signing secret is kept sealed, like every other secret.
    assert_no_secret_in(&app.db.raw_dump().await, &secrets, "the database");
    // A signature made with another secret does not verify.
    let forged = Received {
        signature: "v1,AAAA".into(),
        ..got[0].clone()
    };
    assert!(!verifies(&secret, &forged));
    // Each delivery is recorded as sent once (the record follows the answer).
    let started = Instant::now();
    loop {
        let deliveries: Value = app
            .get(
                &format!(
                    "/api/v1/webhooks/{}/deliveries",
                    hook["id"].as_str().unwrap()
                ),
                Some(&app.admin_token),
            )
            .fetch_json()
            .await;
        let list = deliveries["deliveries"].as_array().unwrap();
        assert_eq!(list.len(), 6, "{deliveries}");
        if list.iter().all(|d| d["status"] == "succeeded") {
            assert!(list.iter().all(|d| d["attempts"] == 1), "{deliveries}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{deliveries}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_failing_receiver_gets_the_same_webhook_id_until_it_answers(backend: Backend) {
    let app = app(backend).await;
    let rx = Receiver::start().await;
    let (_, hook) = register(&app, json!({ "url": rx.url, "events": ["webhook.ping"] })).await;
    let hook_id = hook["id"].as_str().unwrap();
    *rx.state.fail.lock().unwrap() = vec![500, 503];
    let res = app
        .post(
            &format!("/api/v1/webhooks/{hook_id}/ping"),
            Some(&app.admin_token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let got = rx.wait_for(3).await;
    assert!(
        got.iter().all(|r| r.id == got[0].id),
        "same webhook-id on every retry"
    );
    let secret = hook["secret"].as_str().unwrap();
    assert!(got.iter().all(|r| verifies(secret, r)));
    // The drop created meanwhile is not among its events: filtered out.
    app.create_drop(json!({ "org": "Quiet" })).await;
    let started = Instant::now();
    loop {
        let d: Value = app
            .get(
                &format!("/api/v1/webhooks/{hook_id}/deliveries"),
                Some(&app.admin_token),
            )
            .fetch_json()
            .await;
        let list = d["deliveries"].as_array().unwrap().clone();
        if list.len() == 1 && list[0]["status"] == "succeeded" {
            assert_eq!(list[0]["attempts"], 3, "{d}");
            assert_eq!(list[0]["last_status_code"], 200);
            // Retry now sends it once more, same id.
            let delivery = list[0]["id"].as_str().unwrap();
            let res = app
                .post(
                    &format!("/api/v1/webhooks/{hook_id}/deliveries/{delivery}/retry"),
                    Some(&app.admin_token),
                )
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 202);
            let again = rx.wait_for(4).await;
            assert_eq!(again[3].id, got[0].id);
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{d}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        rx.types().iter().filter(|t| *t == "drop.created").count(),
        0
    );
}

async fn a_receiver_that_answers_410_is_disabled(backend: Backend) {
    let app = app(backend).await;
    let rx = Receiver::start().await;
    let (_, hook) = register(&app, json!({ "url": rx.url })).await;
    let hook_id = hook["id"].as_str().unwrap();
    *rx.state.fail.lock().unwrap() = vec![410];
    app.create_drop(json!({ "org": "Gone Inc" })).await;
    rx.wait_for(1).await;
    let started = Instant::now();
    loop {
        let e: Value = app
            .get(
                &format!("/api/v1/webhooks/{hook_id}"),
                Some(&app.admin_token),
            )
            .fetch_json()
            .await;
        if e["enabled"] == false {
            assert!(e["disabled_reason"].as_str().unwrap().contains("410"));
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{e}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Disabled: nothing more is sent.
    app.create_drop(json!({ "org": "Still Gone" })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.got().len(), 1);
}

async fn rotation_signs_with_both_secrets(backend: Backend) {
    let app = app(backend).await;
    let rx = Receiver::start().await;
    let (_, hook) = register(&app, json!({ "url": rx.url })).await;
    let hook_id = hook["id"].as_str().unwrap();
    let old = hook["secret"].as_str().unwrap().to_owned();
    let rotated: Value = app
        .post(
            &format!("/api/v1/webhooks/{hook_id}/rotate-secret"),
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(old, new);
    app.create_drop(json!({ "org": "Rotated" })).await;
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].signature.split(' ').count(), 2, "{:?}", got[0]);
    assert!(verifies(&old, &got[0]) && verifies(&new, &got[0]));
}

/// Two keydrop processes on one PostgreSQL database: every event is
/// delivered, and none twice (the receiver counts webhook-ids).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    keydrop_no_postgres,
    ignore = "PostgreSQL: set KEYDROP_TEST_POSTGRES_URL to run"
)]
async fn two_processes_deliver_each_event_once() {
    crate::support::helpers::require_postgres();
    let a = app(Backend::Postgres).await;
    let mut settings = crate::support::helpers::serve_settings();
    fast(&mut settings);
    let b = keydrop::startup::Application::build(
        &a.db.store_settings(),
        settings,
        Arc::new(keydrop::clock::SystemClock),
    )
    .await
    .unwrap();
    let b_url = format!("http://127.0.0.1:{}", b.port());
    tokio::spawn(b.run_until_stopped());
    let rx = Receiver::start().await;
    let (status, _) = register(&a, json!({ "url": rx.url, "events": ["drop.created"] })).await;
    assert_eq!(status, 201);
    let n = 40;
    let mut tasks = Vec::new();
    for i in 0..n {
        let url = if i % 2 == 0 {
            a.address.clone()
        } else {
            b_url.clone()
        };
        let http = a.http.clone();
        let token = a.admin_token.clone();
        tasks.push(tokio::spawn(async move {
            http.post(format!("{url}/api/v1/drops"))
                .bearer_auth(token)
                .json(&json!({ "org": format!("Org {i}") }))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 201);
    }
    let got = rx.wait_for(n).await;
    // Both dispatchers poll; give a duplicate the chance to show up.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let got = if rx.got().len() > got.len() {
        rx.got()
    } else {
        got
    };
    let ids: std::collections::HashSet<_> = got.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), n, "every event arrived");
    assert_eq!(got.len(), n, "none twice");
}

/// Two quick retries, then a wait long enough to stop the process and start
/// another one while the third attempt is scheduled.
fn restartable(s: &mut ServeSettings) {
    fast(s);
    s.jobs.webhook_retries[1] = Duration::from_secs(3);
}

/// The deliveries of an endpoint, as `GET …/deliveries` lists them.
async fn deliveries(base: &str, app: &TestApp, hook_id: &str) -> Vec<Value> {
    let d: Value = app
        .http
        .get(format!("{base}/api/v1/webhooks/{hook_id}/deliveries"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    d["deliveries"].as_array().unwrap().clone()
}

/// The receiver fails twice; keydrop is stopped while the third attempt is
/// scheduled, another keydrop starts on the same database, and the event
/// arrives with the same `webhook-id`, once after its success.
async fn a_restart_in_the_middle_of_the_retry_schedule_loses_nothing(backend: Backend) {
    let mut a = spawn_app_with(
        backend,
        AppOptions {
            tune: Some(restartable),
            ..AppOptions::default()
        },
    )
    .await;
    let rx = Receiver::start().await;
    let (_, hook) = register(&a, json!({ "url": rx.url, "events": ["drop.created"] })).await;
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    let secret = hook["secret"].as_str().unwrap().to_owned();
    *rx.state.fail.lock().unwrap() = vec![500, 503];
    let created = a.create_drop(json!({ "org": "Restart Inc" })).await;
    rx.wait_for(2).await;
    // Wait for the second failure to be recorded, with the next attempt due.
    let started = Instant::now();
    let scheduled = loop {
        let list = deliveries(&a.address, &a, &hook_id).await;
        assert_eq!(list.len(), 1, "{list:?}");
        if list[0]["attempts"] == 2 {
            break list[0].clone();
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{list:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(scheduled["status"], "pending", "{scheduled}");
    assert_eq!(scheduled["last_status_code"], 503, "{scheduled}");
    assert!(scheduled["next_attempt_at"].is_string(), "{scheduled}");
    let seen = Instant::now();
    a.stop().await;
    assert!(
        seen.elapsed() < Duration::from_millis(2500),
        "stopping took so long that the retry (3 s after the failure) may have been due"
    );
    assert_eq!(
        a.get("/healthz", None)
            .send()
            .await
            .ok()
            .map(|r| r.status()),
        None,
        "the first process is gone"
    );

    // A new process on the same database, which the receiver now answers.
    let mut settings = crate::support::helpers::serve_settings();
    restartable(&mut settings);
    let b = keydrop::startup::Application::build(
        &a.db.store_settings(),
        settings,
        Arc::new(keydrop::clock::SystemClock),
    )
    .await
    .unwrap();
    let b_url = format!("http://127.0.0.1:{}", b.port());
    tokio::spawn(b.run_until_stopped());
    assert_eq!(rx.got().len(), 2, "nothing is sent while no keydrop runs");
    let got = rx.wait_for(3).await;
    // Give a duplicate the chance to show up.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let got = if rx.got().len() > got.len() {
        rx.got()
    } else {
        got
    };
    assert_eq!(
        got.len(),
        3,
        "two failed attempts, then exactly one success"
    );
    assert!(
        got.iter().all(|r| r.id == got[0].id),
        "the same webhook-id across the restart: {got:?}"
    );
    assert!(got.iter().all(|r| verifies(&secret, r)));
    let body: Value = serde_json::from_str(&got[2].body).unwrap();
    assert_eq!(body["type"], "drop.created");
    assert_eq!(body["data"]["drop_id"], created["id"]);
    assert_eq!(got[2].body, got[0].body, "the very same message");
    let started = Instant::now();
    loop {
        let list = deliveries(&b_url, &a, &hook_id).await;
        if list[0]["status"] == "succeeded" {
            assert_eq!(list[0]["attempts"], 3, "{list:?}");
            assert_eq!(list[0]["last_status_code"], 200, "{list:?}");
            assert!(list[0]["next_attempt_at"].is_null(), "{list:?}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{list:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A receiver that hangs holds back only itself: another endpoint gets each
/// event as it commits (not after the hanging request's 15 s timeout), and
/// the API that produces the events answers at once.
async fn a_hanging_receiver_holds_back_only_itself(backend: Backend) {
    let app = app(backend).await;
    let stuck = Receiver::start().await;
    *stuck.state.delay.lock().unwrap() = Some(Duration::from_secs(120));
    let quick = Receiver::start().await;
    for rx in [&stuck, &quick] {
        let (status, hook) =
            register(&app, json!({ "url": rx.url, "events": ["drop.created"] })).await;
        assert_eq!(status, 201, "{hook}");
    }
    app.create_drop(json!({ "org": "Org 1" })).await;
    // The hanging receiver has the first event and holds the request open.
    stuck.wait_for(1).await;
    quick.wait_for(1).await;
    for n in 2..=4 {
        let started = Instant::now();
        app.create_drop(json!({ "org": format!("Org {n}") })).await;
        let created = started.elapsed();
        assert!(
            created < Duration::from_secs(3),
            "creating a drop took {created:?} while a receiver hangs"
        );
        quick.wait_for(n).await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "event {n} reached the other endpoint after {:?}",
            started.elapsed()
        );
    }
    let orgs: Vec<String> = quick
        .got()
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_str(&r.body).unwrap();
            body["data"]["org"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(
        orgs,
        ["Org 1", "Org 2", "Org 3", "Org 4"],
        "in commit order"
    );
    // (Should the test run past the 15 s timeout, the first event is retried.)
    let first = stuck.got()[0].id.clone();
    assert!(
        stuck.got().iter().all(|r| r.id == first),
        "the hanging endpoint's later events wait for its first"
    );
}

/// A drop created straight through `store` (another process, as far as the app's
/// dispatcher knows: nothing wakes it), with its `drop.created` webhook.
async fn created_elsewhere(store: &keydrop::store::Store, org: &str) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    let audit = keydrop::domain::event::Origin::system().entry(
        keydrop::domain::event::Event::DropCreated {
            drop: id.clone(),
            org: org.into(),
            kind: "harvest_v3".into(),
            profile: "minimal".into(),
            expires_at: i64::MAX / 4,
            max_attempts: 10,
            external_id: None,
            release: keydrop::domain::release::Release::Handoff,
        },
    );
    store
        .insert_drop(
            &keydrop::store::NewDrop {
                release: keydrop::domain::release::Release::Handoff,
                id: id.clone(),
                token_hash: keydrop::crypto::sha256_hex(&[id.as_bytes()]),
                org: org.into(),
                note: None,
                kind: "harvest_v3".into(),
                profile_json: r#"{"name":"minimal","required":["users"],"optional":[]}"#.into(),
                expires_at: i64::MAX / 4,
                max_attempts: 10,
                created_by: "test".into(),
                contact: None,
                external_id: None,
                metadata_json: None,
                replaces: None,
                mail: None,
            },
            &audit,
        )
        .await
        .unwrap();
    id
}

/// One holder per endpoint across dispatchers (processes): while one holds an endpoint,
/// no other takes any of its deliveries; the holder's untried ones come back at once, in
/// order, only under its own lease; a failure backs the whole endpoint off; endpoints that
/// answer are taken before failing ones.
async fn one_dispatcher_holds_an_endpoint_at_a_time(backend: Backend) {
    // The app's own dispatcher sleeps: nothing it commits queues a delivery, and it polls
    // once an hour. Two more stores on the database act as two dispatchers.
    let app = spawn_app_with(
        backend,
        AppOptions {
            tune: Some(|s| s.jobs.webhook_poll = Duration::from_secs(3600)),
            ..AppOptions::default()
        },
    )
    .await;
    let rx = Receiver::start().await;
    let (_, e) = register(&app, json!({ "url": rx.url, "events": ["drop.created"] })).await;
    let (_, f) = register(
        &app,
        json!({ "url": format!("{}/f", rx.url), "events": ["drop.created"] }),
    )
    .await;
    let (e, f) = (
        e["id"].as_str().unwrap().to_owned(),
        f["id"].as_str().unwrap().to_owned(),
    );
    let (a, b) = (app.db.store().await, app.db.store().await);
    for n in 1..=2 {
        created_elsewhere(&a, &format!("Org {n}")).await;
    }
    // A takes both endpoints, two deliveries each, in commit order.
    let taken = a.take_due(8, 8, 16, 60_000).await.unwrap();
    assert_eq!(taken.endpoints.len(), 2, "{taken:?}");
    let held_e = taken.endpoints.iter().find(|t| t.id == e).unwrap().clone();
    assert_eq!(held_e.deliveries.len(), 2);
    assert!(held_e.deliveries[0].body.contains("Org 1"));
    // B gets nothing while A holds them — not even a delivery queued after A took them.
    created_elsewhere(&a, "Org 3").await;
    assert!(b
        .take_due(8, 8, 16, 60_000)
        .await
        .unwrap()
        .endpoints
        .is_empty());
    // A stale holder (another lease) releases nothing.
    let release = |lease: &str, untried: Vec<Due>| Record::Done {
        endpoint_id: e.clone(),
        lease_id: lease.to_owned(),
        untried,
    };
    let mut stale = held_e.deliveries.clone();
    for d in &mut stale {
        d.lease_until -= 1;
    }
    a.record_dispatch(&[release("someone else", stale)])
        .await
        .unwrap();
    assert!(b
        .take_due(8, 8, 16, 60_000)
        .await
        .unwrap()
        .endpoints
        .is_empty());
    // A gives E back: B takes it at once, from the oldest delivery, in order.
    a.record_dispatch(&[release(&taken.lease_id, held_e.deliveries.clone())])
        .await
        .unwrap();
    let again = b.take_due(8, 8, 16, 60_000).await.unwrap();
    assert_eq!(again.endpoints.len(), 1);
    let orgs: Vec<bool> = again.endpoints[0]
        .deliveries
        .iter()
        .zip(["Org 1", "Org 2", "Org 3"])
        .map(|(d, org)| d.body.contains(org))
        .collect();
    assert_eq!(orgs, [true, true, true]);
    // B's first attempt fails: the whole endpoint waits, the later ones included.
    let first = again.endpoints[0].deliveries[0].clone();
    let retry_at = app.store.now_ms() + 60_000;
    b.record_dispatch(&[
        Record::Sent {
            due: first,
            result: keydrop::store::webhooks::SendResult::Failed {
                status: Some(500),
                error: "answered 500".into(),
                next_attempt_at: Some(retry_at),
                endpoint_retry_at: retry_at,
            },
            was_failing: false,
        },
        Record::Done {
            endpoint_id: e.clone(),
            lease_id: again.lease_id.clone(),
            untried: again.endpoints[0].deliveries[1..].to_vec(),
        },
    ])
    .await
    .unwrap();
    assert!(a
        .take_due(8, 8, 16, 60_000)
        .await
        .unwrap()
        .endpoints
        .is_empty());
    // F (answering) goes before a failing endpoint: give F back and let E's wait end.
    let held_f = taken.endpoints.iter().find(|t| t.id == f).unwrap().clone();
    a.record_dispatch(&[Record::Done {
        endpoint_id: f.clone(),
        lease_id: taken.lease_id.clone(),
        untried: held_f.deliveries.clone(),
    }])
    .await
    .unwrap();
    let mut raw = app.db.raw().await;
    sqlx::query("UPDATE webhook_endpoints SET retry_at = NULL WHERE id = $1")
        .bind(&e)
        .execute(&mut raw)
        .await
        .unwrap();
    sqlx::query("UPDATE webhook_deliveries SET next_attempt_at = 0 WHERE endpoint_id = $1")
        .bind(&e)
        .execute(&mut raw)
        .await
        .unwrap();
    let one = a.take_due(1, 1, 16, 60_000).await.unwrap();
    assert_eq!(one.endpoints.len(), 1);
    assert_eq!(one.endpoints[0].id, f, "the endpoint that answers first");
    assert!(!one.endpoints[0].failing);
    let none_failing = b.take_due(8, 0, 16, 60_000).await.unwrap();
    assert!(
        none_failing.endpoints.is_empty(),
        "no lane left for failing endpoints"
    );
    let failing = b.take_due(8, 8, 16, 60_000).await.unwrap();
    assert_eq!(failing.endpoints.len(), 1);
    assert_eq!(failing.endpoints[0].id, e);
    assert!(failing.endpoints[0].failing);
}

/// Forty receivers that never answer (more than the 32 lanes) and one that does: the one
/// that answers gets every event promptly and in commit order — a timeout ends a lane at
/// once and backs its endpoint off, and failing endpoints get at most half the lanes.
async fn forty_hanging_receivers_do_not_starve_one_that_answers(backend: Backend) {
    let app = spawn_app_with(
        backend,
        AppOptions {
            tune: Some(|s| {
                fast(s);
                s.jobs.webhook_timeout = Duration::from_secs(1);
            }),
            ..AppOptions::default()
        },
    )
    .await;
    // One listener stands for forty receivers: it takes each request and never answers.
    let hang = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hang_at = hang.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = hang.accept().await {
            held.push(conn);
        }
    });
    for i in 0..40 {
        let (status, _) = register(
            &app,
            json!({ "url": format!("http://{hang_at}/hook/{i}"), "events": ["drop.created"] }),
        )
        .await;
        assert_eq!(status, 201);
    }
    let quick = Receiver::start().await;
    register(
        &app,
        json!({ "url": quick.url, "events": ["drop.created"] }),
    )
    .await;
    let started = Instant::now();
    for n in 1..=20 {
        app.create_drop(json!({ "org": format!("Org {n}") })).await;
    }
    quick.wait_for(20).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(12), "20 events took {took:?}");
    let orgs: Vec<String> = quick
        .got()
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_str(&r.body).unwrap();
            body["data"]["org"].as_str().unwrap().to_owned()
        })
        .collect();
    let expected: Vec<String> = (1..=20).map(|n| format!("Org {n}")).collect();
    assert_eq!(orgs, expected, "in commit order");
}

/// `…/retry` is refused (409) while a dispatcher is sending that delivery, and otherwise
/// sends it again now and is audited.
async fn retry_is_refused_while_sending_and_audited(backend: Backend) {
    let app = spawn_app_with(
        backend,
        AppOptions {
            tune: Some(|s| {
                s.jobs.webhook_poll = Duration::from_millis(50);
                s.jobs.webhook_timeout = Duration::from_secs(3);
            }),
            ..AppOptions::default()
        },
    )
    .await;
    let rx = Receiver::start().await;
    *rx.state.delay.lock().unwrap() = Some(Duration::from_secs(2));
    *rx.state.fail.lock().unwrap() = vec![500];
    let (_, hook) = register(&app, json!({ "url": rx.url, "events": ["drop.created"] })).await;
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    app.create_drop(json!({ "org": "Retry Inc" })).await;
    rx.wait_for(1).await;
    // Being sent right now (the receiver takes 2 s to answer): 409, nothing changed.
    let list = deliveries(&app.address, &app, &hook_id).await;
    let delivery = list[0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/webhooks/{hook_id}/deliveries/{delivery}/retry");
    let res = app
        .post(&path, Some(&app.admin_token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "conflict");
    // Once the failure (500) is recorded, its next attempt is 5 s away: retry sends it now.
    let started = Instant::now();
    loop {
        let list = deliveries(&app.address, &app, &hook_id).await;
        if list[0]["attempts"] == 1 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{list:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    *rx.state.delay.lock().unwrap() = None;
    let res = app
        .post(&path, Some(&app.admin_token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let got = rx.wait_for(2).await;
    assert_eq!(got[1].id, got[0].id, "the same message again");
    let audit: Value = app
        .get(
            &format!("/api/v1/audit?action=webhook.retry&subject=webhook:{hook_id}"),
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    let events = audit["events"].as_array().unwrap();
    assert_eq!(
        events.len(),
        1,
        "only the retry that changed something: {audit}"
    );
    assert_eq!(events[0]["details"]["delivery"], delivery.as_str());
    assert!(events[0]["actor"].as_str().unwrap().starts_with("token:"));
}

/// The deliveries still pending for an endpoint disabled by a 410 are no queued work: not
/// in the queue depth, and pruned once old.
async fn a_disabled_endpoints_pending_deliveries_leave_the_queue(backend: Backend) {
    let app = spawn_app_with(
        backend,
        AppOptions {
            tune: Some(|s| s.jobs.webhook_poll = Duration::from_secs(3600)),
            ..AppOptions::default()
        },
    )
    .await;
    let rx = Receiver::start().await;
    let (_, hook) = register(&app, json!({ "url": rx.url, "events": ["drop.created"] })).await;
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    let other = app.db.store().await;
    created_elsewhere(&other, "Org 1").await;
    created_elsewhere(&other, "Org 2").await;
    assert_eq!(app.store.pending_deliveries().await.unwrap(), 2);
    // The endpoint says 410 to the first: disabled, the second stays pending.
    let taken = other.take_due(8, 8, 16, 60_000).await.unwrap();
    let held = &taken.endpoints[0];
    other
        .record_dispatch(&[
            Record::Sent {
                due: held.deliveries[0].clone(),
                result: keydrop::store::webhooks::SendResult::Gone,
                was_failing: false,
            },
            Record::Done {
                endpoint_id: hook_id.clone(),
                lease_id: taken.lease_id.clone(),
                untried: held.deliveries[1..].to_vec(),
            },
        ])
        .await
        .unwrap();
    let endpoint: Value = app
        .get(
            &format!("/api/v1/webhooks/{hook_id}"),
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    assert_eq!(endpoint["enabled"], false, "{endpoint}");
    assert_eq!(app.store.pending_deliveries().await.unwrap(), 0);
    let list = deliveries(&app.address, &app, &hook_id).await;
    assert_eq!(list.len(), 2);
    // Old enough, it is pruned like a finished one.
    assert_eq!(app.store.prune_deliveries(0).await.unwrap(), 2);
    assert!(deliveries(&app.address, &app, &hook_id).await.is_empty());
}

/// Two keydrop processes on one PostgreSQL, one endpoint: every first attempt arrives in
/// commit order (the red team saw 194 of 360 out of order when each process held the
/// endpoint's deliveries on its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    keydrop_no_postgres,
    ignore = "PostgreSQL: set KEYDROP_TEST_POSTGRES_URL to run"
)]
async fn two_processes_deliver_to_one_endpoint_in_commit_order() {
    crate::support::helpers::require_postgres();
    let a = app(Backend::Postgres).await;
    let mut settings = crate::support::helpers::serve_settings();
    fast(&mut settings);
    let b = keydrop::startup::Application::build(
        &a.db.store_settings(),
        settings,
        Arc::new(keydrop::clock::SystemClock),
    )
    .await
    .unwrap();
    let b_url = format!("http://127.0.0.1:{}", b.port());
    tokio::spawn(b.run_until_stopped());
    let rx = Receiver::start().await;
    register(&a, json!({ "url": rx.url, "events": ["drop.created"] })).await;
    const EVENTS: usize = 120;
    for n in 0..EVENTS {
        // Alternate the processes, one change after the other: commit order is n.
        let base = if n % 2 == 0 {
            a.address.clone()
        } else {
            b_url.clone()
        };
        let res = a
            .http
            .post(format!("{base}/api/v1/drops"))
            .bearer_auth(&a.admin_token)
            .json(&json!({ "org": format!("Org {n:03}") }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    rx.wait_for(EVENTS).await;
    let mut seen = std::collections::HashSet::new();
    let firsts: Vec<String> = rx
        .got()
        .iter()
        .filter(|r| seen.insert(r.id.clone()))
        .map(|r| {
            let body: Value = serde_json::from_str(&r.body).unwrap();
            body["data"]["org"].as_str().unwrap().to_owned()
        })
        .collect();
    let expected: Vec<String> = (0..EVENTS).map(|n| format!("Org {n:03}")).collect();
    let out_of_order = firsts.windows(2).filter(|w| w[0] > w[1]).count();
    assert_eq!(out_of_order, 0, "{firsts:?}");
    assert_eq!(firsts, expected);
}
