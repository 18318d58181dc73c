use crate::helpers::*;
use keydrop::greenhouse::kinds::HARVEST_V1;
use keydrop::greenhouse::{Outcome, Profile, Secret};

fn key() -> Secret {
    parse_v1(V1_KEY).unwrap()
}

#[tokio::test]
async fn v1_verified() {
    let e = env(|_| {}).await;
    let profile = full_v1();
    e.gh.add_v1_key(V1_KEY, profile.required.iter().chain(&profile.optional));
    let v = e.checker.check(&key(), &profile).await;
    assert_eq!(v.outcome, Outcome::Verified, "{}", v.message);
    assert_eq!(v.granted.len(), 18);
    assert!(v.granted.contains(&"GET: List Users".to_owned()));
    assert!(v.granted.contains(&"GET: List Candidate Tags".to_owned()));
    assert_eq!(e.gh.requests_to("/v1/tags/candidate"), 1);
}

#[tokio::test]
async fn v1_missing_permissions_at_403_or_401() {
    for status in [403, 401] {
        let e = env(|_| {}).await;
        e.gh.set_v1_permission_status(status);
        let profile = full_v1();
        let allowed: Vec<&String> = profile
            .required
            .iter()
            .filter(|r| r.as_str() != "jobs")
            .collect();
        e.gh.add_v1_key(V1_KEY, allowed);
        let v = e.checker.check(&key(), &profile).await;
        assert_eq!(v.outcome, Outcome::Insufficient, "{status}: {}", v.message);
        assert_eq!(v.missing_required, ["GET: List Jobs"]);
        assert_eq!(
            v.missing_optional,
            permissions(HARVEST_V1, &profile.optional)
        );
    }
}

#[tokio::test]
async fn v1_key_with_no_permissions() {
    let e = env(|_| {}).await;
    e.gh.add_v1_key(V1_KEY, [""; 0]);
    let v = e.checker.check(&key(), &full_v1()).await;
    assert_eq!(v.outcome, Outcome::Insufficient);
    assert!(
        v.message.contains("no permissions selected"),
        "{}",
        v.message
    );
}

#[tokio::test]
async fn v1_bad_key_is_invalid_after_one_request() {
    let e = env(|_| {}).await;
    e.gh.add_v1_key("ffffffffffffffffffffffffffffffff", ["users"]);
    let v = e.checker.check(&key(), &full_v1()).await;
    assert_eq!(v.outcome, Outcome::Invalid);
    assert!(v.message.contains("refused this API key"), "{}", v.message);
    assert_eq!(e.gh.total_requests(), 1);
    assert_no_secret(&v.message);
}

#[tokio::test]
async fn v1_minimal_profile() {
    let e = env(|_| {}).await;
    e.gh.add_v1_key(V1_KEY, ["users"]);
    let minimal = Profile::named(HARVEST_V1, "minimal").unwrap();
    let v = e.checker.check(&key(), &minimal).await;
    assert_eq!(v.outcome, Outcome::Verified);
    assert_eq!(v.granted, ["GET: List Users"]);
}
