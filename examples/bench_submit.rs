//! Benchmark: a submission's overhead beyond Greenhouse's own answer time
//! (SPEC §10: < 5 ms p50). Runs keydrop (SQLite, synchronous=FULL) and the
//! fake Greenhouse in this process; for N fresh drops it times the checker
//! alone against the same credential, then a full `POST /d/{token}`
//! (CSRF, rate limit, attempt, check, encrypt, store, audit, page), and
//! prints the p50/p90 of both and of their difference.
//!
//! cargo run --release --example bench_submit [-- N]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use keydrop::clock::SystemClock;
use keydrop::config::{DatabaseUrl, ServeSettings, StoreSettings};
use keydrop::greenhouse::Profile;
use keydrop::sandbox::{FakeGreenhouse, V3Client};
use keydrop::startup::Application;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p) as usize]
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeGreenhouse::start().await.unwrap();
    fake.add_v3_client(V3Client::new("bench-client-1", "bench-secret").with_all_resources());
    let store = StoreSettings {
        data_dir: dir.path().into(),
        database_url: DatabaseUrl::new(format!("sqlite://{}", dir.path().join("k.db").display())),
        keyring_file: dir.path().join("keyring.json"),
        keyring_file_set: false,
        master_key: None,
        custody: keydrop::config::CustodySettings::file(),
    };
    let settings = ServeSettings {
        bind: "127.0.0.1:0".parse().unwrap(),
        public_url: "http://127.0.0.1".into(),
        brand_name: "bench".into(),
        support_email: None,
        brand_logo: None,
        egress_ips: Vec::new(),
        greenhouse_auth_url: fake.base_url().into(),
        greenhouse_api_url: fake.base_url().into(),
        greenhouse_ingestion_url: fake.base_url().into(),
        greenhouse_boards_url: fake.base_url().into(),
        greenhouse_timeout: Duration::from_secs(5),
        greenhouse_budget: Duration::from_secs(15),
        retain_after_delivery: Duration::from_secs(86_400),
        rate_limit: None,
        webhook_allow_private: false,
        metrics_bind: None,
        partner: None,
        partner_refresh_every: std::time::Duration::from_secs(8 * 3600),
        health_check_every: Some(std::time::Duration::from_secs(24 * 3600)),
        smtp: None,
        reminder_before: None,
        trusted_proxies: Vec::new(),
        body_timeout: keydrop::config::BODY_TIMEOUT,
        console: keydrop::config::ConsoleSettings::default(),
        jobs: keydrop::jobs::JobSettings::default(),
    };
    let app = Application::build(&store, settings, Arc::new(SystemClock))
        .await
        .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::new();
    let v3 = keydrop::greenhouse::kinds::HARVEST_V3;
    let secret = v3
        .parse(&keydrop::greenhouse::Fields::from([
            ("client_id", "bench-client-1"),
            ("client_secret", "bench-secret"),
        ]))
        .unwrap();
    let profile = Profile::named(v3, "full-analytics").unwrap();
    let (mut check, mut full, mut overhead) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        let spec = keydrop::domain::drop::DropRequest {
            org: "Bench".into(),
            ..Default::default()
        }
        .validate(keydrop::greenhouse::registry())
        .unwrap();
        let d = keydrop::service::drops::create(
            &state.store,
            &state.checker,
            spec,
            &keydrop::domain::event::Origin::new("bench", None),
            &base,
            None,
        )
        .await
        .unwrap();
        let url = d.url();
        let page = http.get(&url).send().await.unwrap().text().await.unwrap();
        let csrf = page
            .split("name=\"csrf_token\"")
            .nth(1)
            .unwrap()
            .split("value=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        let t = Instant::now();
        let v = state.checker.check(&secret, &profile).await;
        let c = t.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(v.outcome.as_str(), "verified");
        let t = Instant::now();
        let res = http
            .post(&url)
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("client_id", "bench-client-1"),
                ("client_secret", "bench-secret"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.bytes().await.unwrap();
        let f = t.elapsed().as_secs_f64() * 1000.0;
        check.push(c);
        full.push(f);
        overhead.push(f - c);
    }
    println!("{n} submissions, full-analytics profile (28 probes), SQLite synchronous=FULL");
    println!(
        "checker alone   p50 {:.2} ms  p90 {:.2} ms",
        pct(&mut check, 0.5),
        pct(&mut check, 0.9)
    );
    println!(
        "full POST       p50 {:.2} ms  p90 {:.2} ms",
        pct(&mut full, 0.5),
        pct(&mut full, 0.9)
    );
    println!(
        "overhead        p50 {:.2} ms  p90 {:.2} ms",
        pct(&mut overhead, 0.5),
        pct(&mut overhead, 0.9)
    );
    fake.stop().await;
}
