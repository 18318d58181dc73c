//! Supervised background work (SPEC §12): tasks that stop are restarted and
//! shown down on `/readyz` meanwhile; re-checks stuck on a slow Greenhouse
//! hold up neither the sweeps nor more than a few checks at once.

use crate::on_both_backends;
use crate::support::helpers::Fetch;
use crate::support::helpers::{
    assert_no_secret_in, spawn_app, spawn_app_with, AppOptions, Backend, TestApp, GOOD_ID,
    GOOD_SECRET,
};
use keydrop::jobs::supervisor::Backoff;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

on_both_backends!(
    a_panicking_task_is_restarted_and_readyz_names_it_while_down,
    sweeps_go_on_while_rechecks_wait_on_a_slow_greenhouse,
    a_task_that_fails_every_pass_is_degraded_until_it_passes,
);

async fn readyz(app: &TestApp) -> (u16, Value) {
    let res = app.get("/readyz", None).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn a_panicking_task_is_restarted_and_readyz_names_it_while_down(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<&str> = body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "database_probe",
            "partner_refresher",
            "rechecks",
            "release_batcher",
            "sweeps",
            "webhook_dispatcher"
        ],
        "{body}"
    );
    assert!(body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["state"] == "up" && t["restarts"] == 0));

    let runs = Arc::new(AtomicU32::new(0));
    let counter = runs.clone();
    app.state.tasks.supervise_with(
        "partner_refresher",
        Backoff {
            first: Duration::from_millis(800),
            max: Duration::from_millis(800),
        },
        move |beat| {
            let run = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if run == 0 {
                    panic!("a bug in the first run");
                }
                beat.pass();
                std::future::pending::<()>().await;
                Ok(())
            }
        },
    );
    // Down between the panic and the restart: 503, naming it.
    let started = Instant::now();
    let body = loop {
        let (status, body) = readyz(&app).await;
        if status == 503 {
            break body;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{body}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(body["tasks_down"], json!(["partner_refresher"]), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("partner_refresher"),
        "{body}"
    );
    // Restarted after the backoff: ready again, with the restart counted.
    let body = loop {
        let (status, body) = readyz(&app).await;
        if status == 200 {
            break body;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let task = body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "partner_refresher")
        .unwrap()
        .clone();
    assert_eq!(task["state"], "up");
    assert_eq!(task["restarts"], 1);
    assert!(task["last_pass"].is_string(), "{task}");
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert!(
        !body.to_string().contains("a bug"),
        "no error text is served"
    );
    assert_no_secret_in(
        body.to_string().as_bytes(),
        &crate::support::helpers::remembered_secrets(),
        "/readyz",
    );
}

/// Quick passes, and a check budget long enough to be "stuck" for a while.
fn quick_jobs_slow_checks(s: &mut keydrop::config::ServeSettings) {
    s.jobs.interval = Duration::from_millis(100);
    s.greenhouse_timeout = Duration::from_secs(5);
    s.greenhouse_budget = Duration::from_secs(10);
}

async fn drop_state(app: &TestApp, id: &str) -> String {
    app.get(&format!("/api/v1/drops/{id}"), Some(&app.admin_token))
        .fetch_json()
        .await["state"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn sweeps_go_on_while_rechecks_wait_on_a_slow_greenhouse(backend: Backend) {
    let app = spawn_app_with(
        backend,
        AppOptions {
            tune: Some(quick_jobs_slow_checks),
            ..AppOptions::with_manual_clock()
        },
    )
    .await;
    let clock = app.clock.clone().unwrap();
    let fake = app.fake.as_ref().unwrap();
    // Six pending credentials: Greenhouse asks to come back later than the budget.
    for n in 0..6 {
        let d = app
            .create_drop(json!({"org": format!("Org {n}"), "profile": "minimal"}))
            .await;
        let path = TestApp::link_path(d["url"].as_str().unwrap());
        fake.rate_limit_next(1, 600);
        let (status, _) = app
            .submit(
                &path,
                &[("client_id", GOOD_ID), ("client_secret", GOOD_SECRET)],
            )
            .await;
        assert_eq!(status, 202);
    }
    let short = app
        .create_drop(json!({"org": "Short", "expires_in": 300}))
        .await;
    let short_id = short["id"].as_str().unwrap();

    // Greenhouse turns very slow; the re-checks fall due and get stuck.
    fake.set_delay(Duration::from_secs(30));
    fake.reset_counters();
    clock.advance(Duration::from_secs(61));
    let started = Instant::now();
    while fake.requests_to("/token") < 4 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no re-check began"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rechecks = app.state.tasks.registry().get("rechecks").unwrap();

    // The sweeps go on meanwhile: the short link expires by sweep.
    clock.advance(Duration::from_secs(240));
    let started = Instant::now();
    let mut state = String::new();
    while started.elapsed() < Duration::from_secs(3) {
        let mut raw = app.db.raw().await;
        state = sqlx::query_scalar("SELECT state FROM drops WHERE id = $1")
            .bind(short_id)
            .fetch_one(&mut raw)
            .await
            .unwrap();
        if state == "expired" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state, "expired", "the sweep did not run");
    assert_eq!(drop_state(&app, short_id).await, "expired");
    // …while that re-check pass is still waiting on Greenhouse…
    assert_eq!(
        app.state
            .tasks
            .registry()
            .get("rechecks")
            .unwrap()
            .last_pass,
        rechecks.last_pass,
        "the re-check pass had not finished"
    );
    // …with never more than four checks at once.
    assert!(fake.max_in_flight() <= 4, "{}", fake.max_in_flight());
    let (status, body) = readyz(&app).await;
    assert_eq!(status, 200, "{body}");
    fake.set_delay(Duration::ZERO);
}

/// A task that runs but fails every pass (here: the sweeps, once the drops table is
/// gone) is reported degraded — `/readyz` 503 naming it, and the
/// `keydrop_task_degraded` gauge — until it passes again.
async fn a_task_that_fails_every_pass_is_degraded_until_it_passes(backend: Backend) {
    let app = spawn_app_with(
        backend,
        AppOptions {
            tune: Some(|s| s.jobs.interval = Duration::from_millis(50)),
            ..AppOptions::default()
        },
    )
    .await;
    assert_eq!(readyz(&app).await.0, 200);
    let mut raw = app.db.raw().await;
    sqlx::query("ALTER TABLE drops RENAME TO drops_away")
        .execute(&mut raw)
        .await
        .unwrap();
    let started = Instant::now();
    let body = loop {
        let (status, body) = readyz(&app).await;
        if status == 503 {
            break body;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(body["tasks_degraded"], json!(["sweeps"]), "{body}");
    assert_eq!(body["tasks_down"], json!([]), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("failing every pass: sweeps"),
        "{body}"
    );
    let sweeps = body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "sweeps")
        .unwrap()
        .clone();
    assert_eq!(
        (sweeps["state"].as_str(), sweeps["degraded"].as_bool()),
        (Some("up"), Some(true))
    );
    let metrics = app
        .state
        .metrics
        .render(&keydrop::metrics::Snapshot {
            tasks: app.state.tasks.registry().snapshot(),
            ..Default::default()
        })
        .unwrap();
    assert!(
        metrics.contains("keydrop_task_degraded{task=\"sweeps\"} 1"),
        "{metrics}"
    );
    sqlx::query("ALTER TABLE drops_away RENAME TO drops")
        .execute(&mut raw)
        .await
        .unwrap();
    let started = Instant::now();
    while readyz(&app).await.0 != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never recovered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
