use crate::helpers::*;
use keydrop::greenhouse::kinds::HARVEST_V3;
use keydrop::greenhouse::{Outcome, Profile};
use keydrop::sandbox::V3Client;

#[tokio::test]
async fn verified_without_user_id() {
    let e = env(|_| {}).await;
    e.gh.add_v3_client(full_client());
    let profile = full_v3();
    let v = e.checker.check(&v3_secret(None), &profile).await;
    assert_eq!(v.outcome, Outcome::Verified, "{}", v.message);
    let mut all = profile.required.clone();
    all.extend(profile.optional.clone());
    assert_eq!(v.granted, permissions(HARVEST_V3, &all));
    assert!(v.granted.contains(&"harvest:users:list".to_owned()));
    assert!(v.missing_required.is_empty() && v.missing_optional.is_empty());
    assert_eq!(v.checked_at, NOW);
    assert_eq!(e.gh.requests_to("/token"), 1);
    assert_eq!(e.gh.requests_to("/v3/users"), 1);
    // The token, its introspection, and one probe per resource (no users lookup without a
    // User ID).
    assert_eq!(e.gh.requests_to("/introspect"), 1);
    assert_eq!(e.gh.total_requests(), 1 + 1 + 27);
    assert_no_secret(&v.message);
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["outcome"], "verified");
    assert_eq!(json["checked_at"], "2026-11-23T09:00:00Z");
}

#[tokio::test]
async fn verified_with_a_site_admin_user_id() {
    let e = env(|_| {}).await;
    // The service account is not an admin: only the sub makes the probes pass.
    e.gh.add_v3_client(full_client().service_account_admin(false));
    let v = e.checker.check(&v3_secret(Some(ADMIN)), &full_v3()).await;
    assert_eq!(v.outcome, Outcome::Verified, "{}", v.message);
    assert_eq!(v.granted.len(), 27);
}

#[tokio::test]
async fn missing_scopes_are_named_exactly() {
    let e = env(|_| {}).await;
    let profile = full_v3();
    let granted: Vec<&String> = profile
        .required
        .iter()
        .chain(&profile.optional)
        .filter(|r| !matches!(r.as_str(), "offers" | "scorecards" | "notes"))
        .collect();
    e.gh.add_v3_client(V3Client::new(CLIENT_ID, CLIENT_SECRET).with_resources(granted));
    let v = e.checker.check(&v3_secret(None), &profile).await;
    assert_eq!(v.outcome, Outcome::Insufficient);
    assert_eq!(
        v.missing_required,
        ["harvest:scorecards:list", "harvest:offers:list"]
    );
    assert_eq!(v.missing_optional, ["harvest:notes:list"]);
    assert_eq!(v.granted.len(), 24);
    assert!(v.message.contains("harvest:offers:list"), "{}", v.message);
    assert!(v.message.contains("Manage Scopes"), "{}", v.message);
    assert!(!v.message.contains("probably not a Site Admin"));
}

#[tokio::test]
async fn optional_scopes_missing_still_verifies() {
    let e = env(|_| {}).await;
    let profile = full_v3();
    e.gh.add_v3_client(V3Client::new(CLIENT_ID, CLIENT_SECRET).with_resources(&profile.required));
    let v = e.checker.check(&v3_secret(None), &profile).await;
    assert_eq!(v.outcome, Outcome::Verified);
    assert_eq!(v.missing_optional.len(), 8);
    assert!(
        v.message.contains("8 optional permissions are not granted"),
        "{}",
        v.message
    );
}

#[tokio::test]
async fn every_probe_forbidden_means_not_a_site_admin() {
    let e = env(|_| {}).await;
    e.gh.add_v3_client(full_client().service_account_admin(false));
    let v = e.checker.check(&v3_secret(None), &full_v3()).await;
    assert_eq!(v.outcome, Outcome::Insufficient);
    assert_eq!(v.missing_required.len(), 19);
    assert!(v.granted.is_empty());
    assert!(
        v.message.contains("probably not a Site Admin"),
        "{}",
        v.message
    );
}

#[tokio::test]
async fn a_non_admin_user_id_is_reported() {
    let e = env(|_| {}).await;
    e.gh.add_v3_client(full_client());
    let v = e
        .checker
        .check(&v3_secret(Some(NOT_ADMIN)), &full_v3())
        .await;
    assert_eq!(v.outcome, Outcome::Insufficient);
    assert!(v.message.contains("User ID you entered"), "{}", v.message);
    assert!(v.message.contains("Site Admin"));
    assert!(!v.message.contains(NOT_ADMIN));
}

#[tokio::test]
async fn wrong_secret_and_unknown_client_are_invalid() {
    let e = env(|_| {}).await;
    e.gh.add_v3_client(full_client());
    for secret in [
        parse_v3(CLIENT_ID, "wrong-secret", None).unwrap(),
        parse_v3("someone-else-77", CLIENT_SECRET, None).unwrap(),
    ] {
        let v = e.checker.check(&secret, &full_v3()).await;
        assert_eq!(v.outcome, Outcome::Invalid);
        assert!(v
            .message
            .contains("refused this Client ID and Client Secret"));
        assert!(v.granted.is_empty() && v.missing_required.is_empty());
        assert_no_secret(&v.message);
    }
    // No probe was sent after a refused token.
    assert_eq!(e.gh.total_requests(), 2);
}

#[tokio::test]
async fn malformed_client_id_is_invalid_and_not_echoed() {
    let e = env(|_| {}).await;
    let id = "notaclient-but-long-enough";
    let secret = parse_v3(id, CLIENT_SECRET, None).unwrap();
    let v = e.checker.check(&secret, &full_v3()).await;
    assert_eq!(v.outcome, Outcome::Invalid);
    assert!(
        v.message.contains("Client ID looks malformed"),
        "{}",
        v.message
    );
    assert!(!v.message.contains(id));
}

#[tokio::test]
async fn a_refused_user_id_is_invalid() {
    let e = env(|_| {}).await;
    e.gh.add_v3_client(full_client().with_refused_subs(["999"]));
    let v = e.checker.check(&v3_secret(Some("999")), &full_v3()).await;
    assert_eq!(v.outcome, Outcome::Invalid);
    assert!(v.message.contains("refused the User ID"), "{}", v.message);
}

#[tokio::test]
async fn unknown_resource_404_is_missing_and_flagged() {
    let e = env(|_| {}).await;
    e.gh.add_v3_client(full_client());
    e.gh.forget_v3_resource("notes");
    let v = e.checker.check(&v3_secret(None), &full_v3()).await;
    assert_eq!(v.outcome, Outcome::Verified);
    assert_eq!(v.missing_optional, ["harvest:notes:list"]);
    assert!(v.message.contains("problem on our side"), "{}", v.message);

    e.gh.forget_v3_resource("users");
    let minimal = Profile::named(HARVEST_V3, "minimal").unwrap();
    let v = e.checker.check(&v3_secret(None), &minimal).await;
    assert_eq!(v.outcome, Outcome::Insufficient);
    assert_eq!(v.missing_required, ["harvest:users:list"]);
}

#[tokio::test]
async fn a_401_mints_a_new_token_once() {
    let e = env(|_| {}).await;
    e.gh.add_v3_client(full_client());
    e.gh.revoke_next_tokens(1);
    let v = e.checker.check(&v3_secret(None), &full_v3()).await;
    assert_eq!(v.outcome, Outcome::Verified, "{}", v.message);
    assert_eq!(e.gh.requests_to("/token"), 2);

    // A token that keeps being refused ends as pending, after one re-mint.
    e.gh.reset_counters();
    e.gh.revoke_next_tokens(1000);
    let minimal = Profile::named(HARVEST_V3, "minimal").unwrap();
    let v = e.checker.check(&v3_secret(None), &minimal).await;
    assert_eq!(v.outcome, Outcome::Pending);
    assert!(v.message.contains("stopped accepting"), "{}", v.message);
    assert_eq!(e.gh.requests_to("/token"), 2);
}

#[tokio::test]
async fn probes_stay_within_four_in_flight() {
    let e = env(|c| c.total_budget = std::time::Duration::from_secs(5)).await;
    e.gh.add_v3_client(full_client());
    e.gh.set_delay(std::time::Duration::from_millis(40));
    let v = e.checker.check(&v3_secret(None), &full_v3()).await;
    assert_eq!(v.outcome, Outcome::Verified, "{}", v.message);
    let max = e.gh.max_in_flight();
    assert!(max <= 4, "{max} in flight");
    assert!(max >= 2, "probes did not overlap ({max})");
}

#[tokio::test]
async fn the_fake_answers_the_documented_shapes() {
    let e = env(|_| {}).await;
    e.gh.add_v3_client(full_client());
    let http = reqwest::Client::new();
    let base = e.gh.base_url();
    // grant_type in the query and sub in a JSON body are accepted too.
    let r = http
        .post(format!("{base}/token?grant_type=client_credentials"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .json(&serde_json::json!({"sub": ADMIN}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-ratelimit-limit"));
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["token_type"], "Bearer");
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(e.gh.issued_tokens(), std::slice::from_ref(&token));

    let r = http
        .get(format!("{base}/v3/users?per_page=1&fields=id"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["link"]
        .to_str()
        .unwrap()
        .contains("rel=\"next\""));
    assert_eq!(r.text().await.unwrap(), r#"[{"id":1}]"#);
    let r = http
        .get(format!("{base}/v3/users?ids={ADMIN}&fields=id,site_admin"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.text().await.unwrap(),
        r#"[{"id":1001,"site_admin":true}]"#
    );
    let r = http
        .get(format!("{base}/v3/jobs?per_page=501"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = http
        .post(format!("{base}/introspect"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("token", token.as_str()),
            ("token_type_hint", "access_token"),
        ])
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["active"], true);
    assert_eq!(body["sub"], ADMIN);
    assert!(body["scope"]
        .as_str()
        .unwrap()
        .contains("harvest:users:list"));
    assert_eq!(
        body["https://auth.greenhouse.io/claims"]["organization"],
        serde_json::json!({"id": 4000001, "name": "Initech"})
    );
    let r = http
        .post(format!("{base}/introspect"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("token", "not-a-token")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), r#"{"active":false}"#);

    let r = http.get(format!("{base}/v3/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404, "routes before auth");
    let r = http
        .get(format!("{base}/v3/users"))
        .bearer_auth("bad")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .post(format!("{base}/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("grant_type"));
    let r = http.post(format!("{base}/token")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    for name in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ] {
        assert!(r.headers().contains_key(name), "{name}");
    }
}
