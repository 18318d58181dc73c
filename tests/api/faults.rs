//! keydrop's own faults: a process that dies mid-check, a database that
//! fails under a submission, a database that goes away. None of them may
//! cost the customer an attempt, strand a link, or hang a caller.

use crate::on_both_backends;
use crate::support::helpers::Fetch;
use crate::support::helpers::{
    spawn_app_with, AppOptions, Backend, TestApp, TestDb, GOOD_ID, GOOD_SECRET,
};
use keydrop::domain::audit::AuditEntry;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

on_both_backends!(
    a_check_left_in_flight_by_a_dead_process_ends_by_time,
    an_internal_failure_gives_the_attempt_back,
);

/// A TCP hop between keydrop and PostgreSQL that can turn into a black hole:
/// connections stay open but nothing crosses — the worst kind of outage
/// (a partition), where nothing fails fast on its own.
struct BlackHole {
    port: u16,
    on: Arc<AtomicBool>,
}

impl BlackHole {
    async fn start(target: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let on = Arc::new(AtomicBool::new(false));
        let flag = on.clone();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let flag = flag.clone();
                let target = target.clone();
                tokio::spawn(async move {
                    if flag.load(Ordering::SeqCst) {
                        // Accept and say nothing until the outage ends.
                        while flag.load(Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        return;
                    }
                    let Ok(outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    let (ri, wi) = inbound.into_split();
                    let (ro, wo) = outbound.into_split();
                    tokio::join!(pipe(ri, wo, flag.clone()), pipe(ro, wi, flag));
                });
            }
        });
        Self { port, on }
    }

    fn set(&self, on: bool) {
        self.on.store(on, Ordering::SeqCst);
    }
}

/// Copy bytes until either side closes; during an outage hold everything,
/// then drop the connection once it is over (as a partition would).
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    on: Arc<AtomicBool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if on.load(Ordering::SeqCst) {
            while on.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// PostgreSQL stops answering (a partition): every caller hears 503 with
/// `Retry-After` within seconds — never a hang, never a 500 — and all is
/// well again once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    keydrop_no_postgres,
    ignore = "PostgreSQL: set KEYDROP_TEST_POSTGRES_URL to run"
)]
async fn a_database_outage_answers_503_quickly_and_recovers() {
    crate::support::helpers::require_postgres();
    let mut db = TestDb::new(Backend::Postgres).await;
    let (scheme, rest) = db.url.split_once('@').unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    let hole = BlackHole::start(authority.to_owned()).await;
    db.url = format!("{scheme}@127.0.0.1:{}/{path}", hole.port);
    let app =
        crate::support::helpers::spawn_app_on(db, Arc::new(keydrop::clock::SystemClock)).await;
    let (id, path) = new_link(&app, json!({"org": "A"})).await;
    assert_eq!(app.page(&path).await.0, 200);
    let credential = crate::support::helpers::seed_verified(
        &app.store,
        &app.state.keyring,
        crate::support::helpers::Seed {
            org: "A".into(),
            kind: "harvest_v3",
            release: keydrop::domain::release::Release::Handoff,
            secret: &crate::support::helpers::numbered_secret(1),
            hint: "0001".into(),
            verification_json: crate::support::helpers::SEEDED_VERIFICATION,
            refresh_due_at: None,
        },
    )
    .await;
    let secret_path = format!("/api/v1/credentials/{credential}/secret");
    assert_eq!(
        app.get(&secret_path, Some(&app.admin_token))
            .fetch_status()
            .await,
        200
    );

    hole.set(true);
    // Once the probe has seen the outage (one probe: ≤ 1 s) but while the admin token is
    // still a fresh cache entry (< 2 s), a release reaches the release batch, whose failure
    // must be told as what it is: 503, not a 500.
    assert!(!app.store.probe().await);
    let started = Instant::now();
    let res = app
        .get(&secret_path, Some(&app.admin_token))
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(res.status(), 503, "a release during the outage");
    assert!(res.headers().get("retry-after").is_some());
    // Past the page cache and the token cache, so both must ask the database.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let timed = |what: &'static str, req: reqwest::RequestBuilder| async move {
        let started = Instant::now();
        let res = req.send().await.unwrap();
        let took = started.elapsed();
        assert!(took < Duration::from_secs(2), "{what} took {took:?}");
        assert_eq!(res.status(), 503, "{what}");
        assert!(res.headers().get("retry-after").is_some(), "{what}");
        res.text().await.unwrap()
    };
    let body = timed("readyz", app.get("/readyz", None)).await;
    assert!(body.contains("database"), "{body}");
    let body = timed("api", app.get("/api/v1/drops", Some(&app.admin_token))).await;
    assert!(body.contains("\"unavailable\""), "{body}");
    let body = timed("page", app.get(&path, None)).await;
    assert!(body.contains("briefly unavailable"), "{body}");
    let csrf = "x".repeat(40);
    let form = app.http.post(app.url(&path)).form(&[
        ("csrf_token", csrf.as_str()),
        ("client_id", GOOD_ID),
        ("client_secret", GOOD_SECRET),
    ]);
    timed("submit", form).await;

    hole.set(false);
    let started = Instant::now();
    while app.get("/readyz", None).fetch_status().await != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never recovered"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.page(&path).await.0, 200);
    assert_eq!(drop_json(&app, &id).await["attempts"], 0);
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

fn good<'a>() -> [(&'a str, &'a str); 2] {
    [("client_id", GOOD_ID), ("client_secret", GOOD_SECRET)]
}

/// A process took the last attempt and died (kill -9) before its check
/// ended: the link must not stay "open" with a form that every POST refuses.
async fn a_check_left_in_flight_by_a_dead_process_ends_by_time(backend: Backend) {
    let app = spawn_app_with(backend, AppOptions::with_manual_clock()).await;
    let clock = app.clock.clone().unwrap();
    let (a, path_a) = new_link(&app, json!({"org": "A", "max_attempts": 1})).await;
    let (b, _) = new_link(&app, json!({"org": "B", "max_attempts": 1})).await;
    for id in [&a, &b] {
        let audit = AuditEntry::untyped("public", "drop.attempt", format!("drop:{id}"));
        let drop = app.store.drop_by_id(id).await.unwrap().unwrap();
        let reserved = app
            .store
            .reserve_attempt(&drop, 60_000, &audit)
            .await
            .unwrap();
        assert!(reserved.is_some());
        // …and the process is gone: nothing ends this check.
    }
    // While the check could still be running, the link is neither usable
    // nor locked (that check may yet be accepted).
    assert_eq!(app.submit(&path_a, &good()).await.0, 410);
    assert_eq!(drop_json(&app, &a).await["state"], "open");
    // Once it cannot be running any more, the link locks: on access…
    clock.advance(Duration::from_secs(61));
    let (status, html) = app.page(&path_a).await;
    assert_eq!(status, 410, "{html}");
    assert!(
        html.contains("locked") || html.contains("attempts"),
        "{html}"
    );
    assert_eq!(drop_json(&app, &a).await["state"], "locked");
    // …and by the background sweep, without any restart.
    let report = keydrop::jobs::run_once(&app.state).await;
    assert_eq!(report.locked_drops, 1);
    assert_eq!(drop_json(&app, &b).await["state"], "locked");
}

/// The database fails while a customer's check is running: the customer
/// gets a 500 page, and the attempt is given back.
async fn an_internal_failure_gives_the_attempt_back(backend: Backend) {
    let app = spawn_app_with(backend, AppOptions::default()).await;
    let fake = app.fake.as_ref().unwrap();
    let (id, path) = new_link(
        &app,
        json!({"org": "A", "max_attempts": 1, "profile": "minimal"}),
    )
    .await;
    fake.set_delay(Duration::from_millis(300));
    let submit = {
        let page = app.page(&path).await.1;
        let csrf = crate::support::helpers::csrf_from(&page).unwrap();
        let req = app.http.post(app.url(&path)).form(&[
            ("csrf_token", csrf.as_str()),
            ("client_id", GOOD_ID),
            ("client_secret", GOOD_SECRET),
        ]);
        tokio::spawn(async move { req.send().await.unwrap() })
    };
    // While Greenhouse answers, the credentials table goes away.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let mut raw = app.db.raw().await;
    sqlx::query("ALTER TABLE credentials RENAME TO credentials_away")
        .execute(&mut raw)
        .await
        .unwrap();
    let res = submit.await.unwrap();
    sqlx::query("ALTER TABLE credentials_away RENAME TO credentials")
        .execute(&mut raw)
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    let d = drop_json(&app, &id).await;
    assert_eq!(d["state"], "open", "{d}");
    assert_eq!(d["attempts"], 0, "our fault costs no attempt: {d}");
    // The customer tries again and it works.
    fake.set_delay(Duration::ZERO);
    assert_eq!(app.submit(&path, &good()).await.0, 200);
    assert_eq!(drop_json(&app, &id).await["state"], "submitted");
}
