use crate::helpers::*;
use keydrop::greenhouse::Outcome;
use std::time::{Duration, Instant};

#[tokio::test]
async fn token_outage_is_pending() {
    let e = env(|c| c.total_budget = Duration::from_millis(800)).await;
    e.gh.add_v3_client(full_client());
    e.gh.set_token_outage(true);
    let v = e.checker.check(&v3_secret(None), &full_v3()).await;
    assert_eq!(v.outcome, Outcome::Pending);
    assert!(
        v.message.contains("not answering right now"),
        "{}",
        v.message
    );
    assert!(v.message.contains("stored your credential encrypted"));
    assert!(e.gh.requests_to("/token") >= 2, "retried");
    assert_eq!(e.gh.requests_to("/v3/users"), 0);
}

#[tokio::test]
async fn full_outage_stays_within_the_budget() {
    let budget = Duration::from_secs(2);
    let e = env(|c| c.total_budget = budget).await;
    e.gh.add_v3_client(full_client());
    e.gh.add_v1_key(V1_KEY, ["users"]);
    e.gh.set_outage(true);
    for secret in [v3_secret(None), parse_v1(V1_KEY).unwrap()] {
        let profile = default_profile(&secret);
        let started = Instant::now();
        let v = e.checker.check(&secret, &profile).await;
        let took = started.elapsed();
        assert_eq!(v.outcome, Outcome::Pending);
        assert!(took < budget + Duration::from_secs(1), "{took:?}");
    }
}

#[tokio::test]
async fn api_outage_after_a_good_token_is_pending() {
    let budget = Duration::from_millis(800);
    let e = env(|c| c.total_budget = budget).await;
    e.gh.add_v3_client(full_client());
    e.gh.set_api_outage(true);
    let started = Instant::now();
    let v = e.checker.check(&v3_secret(None), &full_v3()).await;
    assert_eq!(v.outcome, Outcome::Pending, "{}", v.message);
    assert!(
        v.message.contains("not answering right now"),
        "{}",
        v.message
    );
    assert_eq!(e.gh.requests_to("/token"), 1);
    assert!(e.gh.requests_to("/v3/users") >= 2, "probes were retried");
    assert!(started.elapsed() < budget + Duration::from_secs(1));
}

#[tokio::test]
async fn slowness_times_out_as_pending() {
    let e = env(|c| {
        c.request_timeout = Duration::from_millis(100);
        c.total_budget = Duration::from_millis(700);
    })
    .await;
    e.gh.add_v3_client(full_client());
    e.gh.set_delay(Duration::from_millis(400));
    let started = Instant::now();
    let v = e.checker.check(&v3_secret(None), &full_v3()).await;
    assert_eq!(v.outcome, Outcome::Pending);
    assert!(
        v.message.contains("did not answer in time"),
        "{}",
        v.message
    );
    assert!(started.elapsed() < Duration::from_millis(1700));
}

#[tokio::test]
async fn rate_limit_beyond_the_budget_is_pending() {
    let e = env(|c| c.total_budget = Duration::from_secs(1)).await;
    e.gh.add_v3_client(full_client());
    e.gh.rate_limit_next(1000, 5);
    let started = Instant::now();
    let v = e.checker.check(&v3_secret(None), &full_v3()).await;
    assert_eq!(v.outcome, Outcome::Pending);
    assert!(v.message.contains("slow down"), "{}", v.message);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "did not wait 5 s"
    );
    assert_eq!(e.gh.requests_to("/token"), 1);
}

#[tokio::test]
async fn rate_limit_then_success_is_verified() {
    let e = env(|c| c.total_budget = Duration::from_secs(3)).await;
    e.gh.add_v3_client(full_client());
    e.gh.rate_limit_next(1, 1);
    let started = Instant::now();
    let v = e.checker.check(&v3_secret(None), &full_v3()).await;
    assert_eq!(v.outcome, Outcome::Verified, "{}", v.message);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    assert_eq!(e.gh.requests_to("/token"), 2);
}

#[tokio::test]
async fn retry_after_zero_is_not_a_tight_loop() {
    let budget = Duration::from_secs(10);
    let e = env(|c| c.total_budget = budget).await;
    e.gh.add_v3_client(full_client());
    e.gh.rate_limit_next(1000, 0);
    let started = Instant::now();
    let v = e.checker.check(&v3_secret(None), &full_v3()).await;
    let took = started.elapsed();
    assert_eq!(v.outcome, Outcome::Pending);
    assert!(v.message.contains("slow down"), "{}", v.message);
    // A few attempts, each after at least the normal backoff, then it gives up
    // well before the budget runs out.
    let sent = e.gh.total_requests();
    assert!((2..=5).contains(&sent), "{sent} requests");
    assert_eq!(e.gh.requests_to("/token"), sent);
    assert!(took >= Duration::from_millis(700), "{took:?}");
    assert!(took < budget, "{took:?}");
}
