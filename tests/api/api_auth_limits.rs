//! API authentication under a flood of wrong tokens: real tokens keep
//! working, per-client failures are limited, and nothing waits for ever.

use crate::helpers::{remember_secret, spawn_app_with, AppOptions, Backend, Fetch, TestApp};
use crate::on_both_backends;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use keydrop::web::client_addr::IpNet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

on_both_backends!(
    a_flood_of_forged_tokens_for_a_known_id_does_not_stall_real_tokens,
    a_client_with_many_failures_gets_429_before_any_hashing,
    a_wrong_secret_for_a_cached_token_does_not_lock_it_out,
);

/// Clients are told apart by `X-Forwarded-For`, set by the test.
async fn app(backend: Backend) -> TestApp {
    spawn_app_with(
        backend,
        AppOptions {
            greenhouse: false,
            trusted_proxies: vec![IpNet::parse("127.0.0.1").unwrap()],
            ..Default::default()
        },
    )
    .await
}

/// A well-formed token carrying the id of `real` and a wrong secret.
fn forged(real: &str, n: u32) -> String {
    let mut raw = B64URL.decode(&real[3..]).unwrap();
    raw[16..20].copy_from_slice(&n.to_be_bytes());
    raw[20..].fill(0x5a);
    format!("kd_{}", B64URL.encode(raw))
}

async fn tokens_call(app: &TestApp, token: &str, client: &str) -> reqwest::Response {
    app.get("/api/v1/tokens", Some(token))
        .header("x-forwarded-for", client)
        .send()
        .await
        .unwrap()
}

async fn a_flood_of_forged_tokens_for_a_known_id_does_not_stall_real_tokens(backend: Backend) {
    let app = Arc::new(app(backend).await);
    // Never used yet, so its first call is a cold check (an argon2 run).
    let (_, real) = app.create_token("real", "admin").await;
    let known = app.admin_token.clone();

    // 200 callers, each from its own address, keep sending forged tokens
    // for the admin token's id until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let mut flood = Vec::new();
    for i in 0..200u32 {
        let (app, stop, known) = (app.clone(), stop.clone(), known.clone());
        flood.push(tokio::spawn(async move {
            let client = format!("203.0.{}.{}", i / 250, i % 250 + 1);
            let mut statuses = Vec::new();
            let mut n = i * 1000;
            loop {
                let res = tokens_call(&app, &forged(&known, n), &client).await;
                statuses.push(res.status().as_u16());
                n += 1;
                if stop.load(Ordering::SeqCst) {
                    return statuses;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let answered = tokio::time::timeout(
        Duration::from_secs(5),
        tokens_call(&app, &real, "198.51.100.7"),
    )
    .await;
    let cached = tokens_call(&app, &known, "198.51.100.8").await.status();
    stop.store(true, Ordering::SeqCst);
    let mut all = Vec::new();
    for f in flood {
        all.extend(f.await.unwrap());
    }

    let res = answered.expect("a real token is not stuck behind the flood");
    assert_eq!(res.status(), 200, "the real token authenticates");
    assert_eq!(cached, 200, "a cached token keeps working");
    assert!(all.len() >= 200, "the flood was in flight");
    assert!(
        all.iter().all(|s| [401, 429, 503].contains(s)),
        "forged tokens are refused: {:?}",
        all.iter()
            .filter(|s| ![401, 429, 503].contains(*s))
            .collect::<Vec<_>>()
    );
}

async fn a_client_with_many_failures_gets_429_before_any_hashing(backend: Backend) {
    let app = app(backend).await;
    let (_, cold) = app.create_token("cold", "admin").await;
    let attacker = "192.0.2.66";
    let limit = keydrop::web::auth::FAILURES_PER_CLIENT.requests;
    let unknown = format!("kd_{}", "A".repeat(64));
    for _ in 0..limit {
        assert_eq!(tokens_call(&app, &unknown, attacker).await.status(), 401);
    }
    for token in [unknown.as_str(), forged(&cold, 1).as_str(), cold.as_str()] {
        let res = tokens_call(&app, token, attacker).await;
        assert_eq!(res.status(), 429);
        let wait: u64 = res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "rate_limited");
    }
    // IPv6 neighbours in the same /64 share the count; v4-mapped is IPv4.
    let mapped = format!("::ffff:{attacker}");
    assert_eq!(tokens_call(&app, &unknown, &mapped).await.status(), 429);
    // A token already verified keeps working from that address...
    assert_eq!(
        tokens_call(&app, &app.admin_token, attacker).await.status(),
        200
    );
    // ...and other addresses are not affected.
    assert_eq!(tokens_call(&app, &cold, "198.51.100.7").await.status(), 200);
    // The header is believed only from a trusted proxy: a spoofed left-most
    // entry does not give the attacker a fresh address.
    let spoofed = app
        .get("/api/v1/tokens", Some(&unknown))
        .header("x-forwarded-for", format!("6.6.6.6, {attacker}"))
        .fetch_status()
        .await;
    assert_eq!(spoofed, 429);
}

async fn a_wrong_secret_for_a_cached_token_does_not_lock_it_out(backend: Backend) {
    let app = app(backend).await;
    let (_, token) = app.create_token("w", "admin").await;
    remember_secret(&token);
    let client = "198.51.100.9";
    assert_eq!(tokens_call(&app, &token, client).await.status(), 200);
    for n in 0..3 {
        let res = tokens_call(&app, &forged(&token, n), "203.0.113.1").await;
        assert_eq!(res.status(), 401);
        assert_eq!(
            res.headers()["www-authenticate"],
            "Bearer realm=\"keydrop\""
        );
    }
    assert_eq!(tokens_call(&app, &token, client).await.status(), 200);
}
