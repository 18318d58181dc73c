//! API authentication under a flood of wrong tokens: real tokens keep
//! working — never refused because other requests failed, from the same
//! address or for the same token id (SPEC §5) — and nothing waits for ever.

use crate::on_both_backends;
use crate::support::helpers::{
    remember_secret, spawn_app_with, AppOptions, Backend, Fetch, TestApp,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use keydrop::crypto::token::ApiToken;
use keydrop::domain::audit::AuditEntry;
use keydrop::domain::net::IpNet;
use keydrop::domain::role::Role;
use keydrop::store::TokenRecord;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

on_both_backends!(
    a_flood_of_forged_tokens_for_a_known_id_does_not_stall_real_tokens,
    failures_from_one_address_never_lock_out_a_good_token,
    a_legacy_token_under_attack_waits_with_429_never_401,
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

/// A well-formed token carrying the id of `real` and a wrong secret (its
/// tag, computed without the key, is wrong too).
fn forged(real: &str, n: u32) -> String {
    let mut raw = B64URL.decode(&real[3..]).unwrap();
    raw[16..20].copy_from_slice(&n.to_be_bytes());
    raw[20..].fill(0x5a);
    format!("kd_{}", B64URL.encode(raw))
}

/// The same, in the layout of tokens minted before tags: id and randomness
/// only. keydrop cannot tell such a forgery without an argon2 run.
fn forged_legacy(real: &str, n: u32) -> String {
    let raw = B64URL
        .decode(forged(real, n).trim_start_matches("kd_"))
        .unwrap();
    format!("kd_{}", B64URL.encode(&raw[..48]))
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
                let token = if n % 2 == 0 {
                    forged(&known, n)
                } else {
                    forged_legacy(&known, n)
                };
                let res = tokens_call(&app, &token, &client).await;
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

/// The red team's case: behind a proxy that is not configured as trusted,
/// every client shares one address. Bogus and forged tokens from it — of
/// both layouts, for unknown ids and for the id of a token never used yet
/// — must not keep that token out.
async fn failures_from_one_address_never_lock_out_a_good_token(backend: Backend) {
    let app = spawn_app_with(
        backend,
        AppOptions {
            greenhouse: false,
            ..Default::default()
        },
    )
    .await;
    let (_, cold) = app.create_token("cold", "admin").await;
    let unknown = [
        format!("kd_{}", "A".repeat(86)),
        format!("kd_{}", "A".repeat(64)),
    ];
    for n in 0..40u32 {
        let token = match n % 4 {
            0 | 1 => unknown[n as usize % 2].clone(),
            2 => forged(&cold, n),
            _ => forged_legacy(&cold, n),
        };
        let res = app
            .get("/api/v1/tokens", Some(&token))
            .send()
            .await
            .unwrap();
        assert!(
            [401, 429].contains(&res.status().as_u16()),
            "{n}: {}",
            res.status()
        );
        if res.status() == 429 {
            assert!(res.headers().get("retry-after").is_some());
        }
    }
    // The good token, from the same address, never used before: accepted.
    assert_eq!(
        app.get("/api/v1/tokens", Some(&cold)).fetch_status().await,
        200
    );
    // And a token already verified keeps working too.
    assert_eq!(
        app.get("/api/v1/tokens", Some(&app.admin_token))
            .fetch_status()
            .await,
        200
    );
    // A forgery is still just a 401, with the challenge.
    let res = app
        .get("/api/v1/tokens", Some(&forged(&cold, 99)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers()["www-authenticate"],
        "Bearer realm=\"keydrop\""
    );
}

/// A token minted before tags existed cannot be told from a forgery of its
/// id without an argon2 run, so its id backs off after a wrong secret — but
/// the answer is 429 with `Retry-After` (a worker retries), never 401 (a
/// worker would read "revoked"), and the token passes once the wait is over.
async fn a_legacy_token_under_attack_waits_with_429_never_401(backend: Backend) {
    let app = app(backend).await;
    let tagged = {
        let tag = app.state.tokens.tag.clone();
        ApiToken::generate(&tag).unwrap()
    };
    let legacy_text = format!(
        "kd_{}",
        B64URL.encode(&B64URL.decode(&tagged.reveal()[3..]).unwrap()[..48])
    );
    remember_secret(&legacy_text);
    let legacy = ApiToken::parse(&legacy_text).unwrap();
    let record = TokenRecord {
        id: legacy.id(),
        name: "old worker".into(),
        role: Role::Admin,
        hash: legacy.hash().unwrap(),
        created_at: 0,
        revoked_at: None,
    };
    app.store
        .insert_token(&record, &AuditEntry::untyped("test", "token.create", "t"))
        .await
        .unwrap();
    // An attacker who knows the id sends a wrong secret: one argon2 run, 401.
    let attacker = "203.0.113.50";
    assert_eq!(
        tokens_call(&app, &forged_legacy(&legacy_text, 1), attacker)
            .await
            .status(),
        401
    );
    // The holder, elsewhere, is asked to wait — not told it was revoked.
    let res = tokens_call(&app, &legacy_text, "198.51.100.20").await;
    assert_eq!(res.status(), 429);
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    // The attacker is asked to wait too, without an argon2 run.
    assert_eq!(
        tokens_call(&app, &forged_legacy(&legacy_text, 2), attacker)
            .await
            .status(),
        429
    );
    // Once the window is over, the holder gets in (and is then cached).
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        tokens_call(&app, &legacy_text, "198.51.100.20")
            .await
            .status(),
        200
    );
    assert_eq!(
        tokens_call(&app, &forged_legacy(&legacy_text, 3), attacker)
            .await
            .status(),
        401
    );
    assert_eq!(
        tokens_call(&app, &legacy_text, "198.51.100.20")
            .await
            .status(),
        200,
        "a cached token keeps working whatever its id's back-off"
    );
    // A tagged token is never held back by attacks on its id.
    let (_, fresh) = app.create_token("fresh", "admin").await;
    for n in 0..5 {
        assert_eq!(
            tokens_call(&app, &forged_legacy(&fresh, n), attacker)
                .await
                .status()
                .as_u16()
                / 100,
            4
        );
    }
    assert_eq!(
        tokens_call(&app, &fresh, "198.51.100.21").await.status(),
        200
    );
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
