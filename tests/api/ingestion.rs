//! `candidate_ingestion` drops end to end (SPEC §1.4, §4): creation, the customer page, every
//! outcome through real HTTP against the fake Greenhouse, the background re-check, and a
//! worker's claim — on both backends.

use crate::on_both_backends;
use crate::support::helpers::{
    assert_no_secret_in, captured_logs, csrf_from, remember_secret, spawn_app_with, AppOptions,
    Backend, Fetch, TestApp,
};
use keydrop::sandbox::{FakeGreenhouse, IngestionUser};
use serde_json::{json, Value};
use std::time::Duration;

on_both_backends!(
    ingestion_drop_goes_from_creation_to_a_workers_claim,
    ingestion_refusals_answer_422_with_the_reason,
    ingestion_pending_is_stored_and_rechecked_in_the_background,
    ingestion_profiles_are_validated_per_kind,
    no_ingestion_key_or_email_reaches_logs_or_database,
);

const KEY: &str = "ing-7Qk2m9Xv4Lp8Rt1Zs6Nw3Yb5Hc0Jd";
const ADMIN: &str = "ada.admin@initech.example";
const BASIC: &str = "bob.basic@initech.example";
const GONE: &str = "dora.gone@initech.example";

fn fixtures(fake: &FakeGreenhouse) {
    fake.add_ingestion_key(KEY);
    fake.add_ingestion_user(IngestionUser::site_admin(4001, ADMIN, "Ada Admin"));
    fake.add_ingestion_user(IngestionUser::basic(4002, BASIC, "Bob Basic"));
    fake.add_ingestion_user(IngestionUser::site_admin(4003, GONE, "Dora Gone").disabled());
    fake.add_job_board("initech", "Initech");
    remember_secret(KEY);
    for e in [ADMIN, BASIC, GONE] {
        remember_secret(e);
    }
}

async fn app(backend: Backend, opts: AppOptions) -> TestApp {
    let app = spawn_app_with(backend, opts).await;
    fixtures(app.fake.as_ref().unwrap());
    app
}

async fn new_link(app: &TestApp, body: Value) -> (String, String) {
    let d = app.create_drop(body).await;
    assert_eq!(d["kind"], "candidate_ingestion");
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

fn fields<'a>(key: &'a str, email: &'a str, board: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("api_key", key),
        ("user_email", email),
        ("job_board_token", board),
    ]
}

async fn ingestion_drop_goes_from_creation_to_a_workers_claim(backend: Backend) {
    let app = app(backend, AppOptions::default()).await;
    let (id, path) = new_link(
        &app,
        json!({"org": "Initech", "kind": "candidate_ingestion"}),
    )
    .await;
    let d = drop_json(&app, &id).await;
    assert_eq!(
        d["profile"],
        json!({"name": "ingestion", "required": ["jobs"], "optional": ["candidates", "prospect_pools"]})
    );
    let (status, html) = app.page(&path).await;
    assert_eq!(status, 200);
    for s in [
        "Candidate Ingestion API key",
        "name=\"user_email\"",
        "name=\"job_board_token\"",
        "Unlisted vendor",
    ] {
        assert!(html.contains(s), "{s}");
    }
    // A Basic user: verified, with the optional permissions it lacks listed.
    let (status, html) = app.submit(&path, &fields(KEY, BASIC, "initech")).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Received and verified"));
    assert!(html.contains("Bob Basic"), "the Greenhouse user is named");
    // Its permissions follow the user's role: nothing to "tick" on the key.
    assert!(!html.contains("tick them"), "{html}");
    assert!(
        html.contains("follow the Greenhouse role of the user"),
        "{html}"
    );
    assert!(html.contains("GET /v1/partner/candidates"));
    assert!(!html.contains(KEY) && !html.contains(BASIC));
    let c = &drop_json(&app, &id).await["credential"];
    assert_eq!(c["kind"], "candidate_ingestion");
    assert_eq!(c["status"], "verified");
    assert_eq!(c["hint"], "c0Jd");
    assert_eq!(
        c["verification"]["greenhouse_user"],
        json!({"id": "4002", "name": "Bob Basic"})
    );
    assert_eq!(c["verification"]["organization"], Value::Null);
    assert_eq!(
        c["verification"]["missing_optional"],
        json!([
            "GET /v1/partner/candidates",
            "GET /v1/partner/prospect_pools"
        ])
    );
    // A worker claims it: the secret is exactly SPEC §4's shape.
    let (_, w) = app.create_token("w", "worker").await;
    let res = app
        .post("/api/v1/credentials/claim", Some(&w))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let claim: Value = res.json().await.unwrap();
    assert_eq!(claim["credential"]["id"], c["id"]);
    assert_eq!(
        claim["secret"],
        json!({"kind": "candidate_ingestion", "api_key": KEY, "user_email": BASIC, "job_board_token": "initech"})
    );
    let ack = app
        .post(
            &format!("/api/v1/credentials/{}/ack", c["id"].as_str().unwrap()),
            Some(&w),
        )
        .json(&json!({"lease_id": claim["lease"]["id"]}))
        .fetch_status()
        .await;
    assert_eq!(ack, 200);
    // An issuer re-runs the check: the stored secret opens and parses.
    let res: Value = app
        .post(
            &format!("/api/v1/credentials/{}/verify", c["id"].as_str().unwrap()),
            Some(&app.admin_token),
        )
        .fetch_json()
        .await;
    assert_eq!(res["verification"]["outcome"], "verified", "{res}");
    assert!(app.store.verify_audit().await.unwrap().is_ok());
}

async fn ingestion_refusals_answer_422_with_the_reason(backend: Backend) {
    let app = app(backend, AppOptions::default()).await;
    let (id, path) = new_link(
        &app,
        json!({"org": "Initech", "kind": "candidate_ingestion"}),
    )
    .await;
    for (key, email) in [
        (KEY, "nobody@initech.example"),
        (KEY, GONE),
        ("ing-WRONG-0000000000000000000000", ADMIN),
    ] {
        let (status, html) = app.submit(&path, &fields(key, email, "")).await;
        assert_eq!(status, 422, "{email}");
        assert!(
            html.contains("API key") && html.contains("active"),
            "{html}"
        );
        assert!(!html.contains(key));
    }
    // An unknown job board: the message names the field; the e-mail is kept, the key is not.
    let (status, html) = app
        .submit(&path, &fields(KEY, ADMIN, "no-such-board"))
        .await;
    assert_eq!(status, 422);
    assert!(html.contains("job_board_token"), "{html}");
    assert!(html.contains(&format!("value=\"{ADMIN}\"")));
    assert!(!html.contains(KEY));
    assert!(!html.contains("value=\"no-such-board\""));
    // A malformed e-mail is refused before Greenhouse is asked, naming the field.
    let before = app.fake.as_ref().unwrap().total_requests();
    let (status, html) = app.submit(&path, &fields(KEY, "ada at initech", "")).await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"user_email-error\""), "{html}");
    assert_eq!(app.fake.as_ref().unwrap().total_requests(), before);
    assert_eq!(drop_json(&app, &id).await["state"], "open");
    // A user who may not list jobs (required): insufficient, with how to grant it.
    let mut none = IngestionUser::basic(4005, "nina.none@initech.example", "Nina None");
    none.can_list.clear();
    app.fake.as_ref().unwrap().add_ingestion_user(none);
    let (status, html) = app
        .submit(&path, &fields(KEY, "nina.none@initech.example", ""))
        .await;
    assert_eq!(status, 422);
    // Names may break only at `<wbr>` (after a `/` or `:`) on narrow screens.
    let text = html.replace("<wbr>", "");
    assert!(text.contains(">GET /v1/partner/jobs</code>"), "{html}");
    assert!(html.contains("raise their permission level"));
}

async fn ingestion_pending_is_stored_and_rechecked_in_the_background(backend: Backend) {
    let app = app(backend, AppOptions::with_manual_clock()).await;
    let clock = app.clock.clone().unwrap();
    let fake = app.fake.as_ref().unwrap();
    let (id, path) = new_link(
        &app,
        json!({"org": "Initech", "kind": "candidate_ingestion", "profile": "minimal"}),
    )
    .await;
    let (_, html) = app.page(&path).await;
    let csrf = csrf_from(&html).unwrap();
    fake.set_outage(true);
    let mut form = vec![("csrf_token", csrf.as_str())];
    form.extend(fields(KEY, ADMIN, "initech"));
    let res = app.post(&path, None).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 202);
    assert_eq!(
        drop_json(&app, &id).await["credential"]["status"],
        "pending"
    );
    clock.advance(Duration::from_secs(31));
    assert_eq!(keydrop::jobs::run_once(&app.state).await.rechecked, 1);
    assert_eq!(
        drop_json(&app, &id).await["credential"]["status"],
        "pending"
    );
    fake.set_outage(false);
    clock.advance(Duration::from_secs(61));
    assert_eq!(keydrop::jobs::run_once(&app.state).await.rechecked, 1);
    let c = &drop_json(&app, &id).await["credential"];
    assert_eq!(c["status"], "verified", "{c}");
    assert_eq!(
        c["verification"]["granted"],
        json!(["GET /v1/partner/current_user"])
    );
    assert_eq!(c["verification"]["greenhouse_user"]["name"], "Ada Admin");
}

async fn ingestion_profiles_are_validated_per_kind(backend: Backend) {
    let app = app(backend, AppOptions::default()).await;
    let create = |body: Value| {
        app.post("/api/v1/drops", Some(&app.admin_token))
            .json(&body)
            .fetch_status()
    };
    assert_eq!(
        create(json!({"org": "A", "kind": "candidate_ingestion", "profile": "minimal"})).await,
        201
    );
    for bad in [
        json!({"org": "A", "kind": "candidate_ingestion", "profile": "full-analytics"}),
        json!({"org": "A", "kind": "candidate_ingestion", "required": ["users"]}),
        json!({"org": "A", "kind": "harvest_v3", "profile": "ingestion"}),
        json!({"org": "A", "kind": "Candidate Ingestion"}),
    ] {
        assert_eq!(create(bad.clone()).await, 422, "{bad}");
    }
    let ok = app
        .create_drop(
            json!({"org": "A", "kind": "candidate_ingestion", "required": ["jobs", "candidates"]}),
        )
        .await;
    assert_eq!(ok["profile"]["required"], json!(["jobs", "candidates"]));
}

async fn no_ingestion_key_or_email_reaches_logs_or_database(backend: Backend) {
    let app = app(backend, AppOptions::default()).await;
    let (_, path) = new_link(
        &app,
        json!({"org": "Initech", "kind": "candidate_ingestion"}),
    )
    .await;
    let (_, path2) = new_link(
        &app,
        json!({"org": "Initech", "kind": "candidate_ingestion"}),
    )
    .await;
    app.submit(&path2, &fields(KEY, GONE, "")).await;
    app.submit(&path2, &fields(KEY, ADMIN, "no-such-board"))
        .await;
    app.submit(&path, &fields(KEY, ADMIN, "initech")).await;
    let secrets: Vec<String> = [KEY, ADMIN, GONE, "@initech.example"]
        .iter()
        .map(|s| (*s).to_owned())
        .chain([path[3..].to_owned(), path2[3..].to_owned()])
        .collect();
    assert_no_secret_in(captured_logs().as_bytes(), &secrets, "the logs");
    app.store.close().await;
    assert_no_secret_in(&app.db.raw_dump().await, &secrets, "the database");
}
