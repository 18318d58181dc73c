//! Harvest v3 as Greenhouse answers it in 2026 (SPEC §1.1, §1.2): token lifetimes in either
//! field or none, non-Site-Admin users answered with 200 and empty arrays, the Site Admin
//! lookup, advisory introspection, and cheap probes.

use crate::helpers::*;
use keydrop::greenhouse::kinds::{mint_harvest_v3_token, HARVEST_V3};
use keydrop::greenhouse::{Named, Outcome, Profile, TokenError};
use keydrop::sandbox::{Introspection, TokenLifetime, V3Client};
use std::time::{Duration, Instant};
use time::macros::datetime;

const READER: &str = "3003";

#[tokio::test]
async fn every_token_lifetime_shape_is_read() {
    let e = env(|_| {}).await;
    e.gh.add_v3_client(full_client());
    for (lifetime, expires_at) in [
        (
            TokenLifetime::ExpiresIn(600),
            datetime!(2026-11-23 09:10 UTC),
        ),
        (
            TokenLifetime::ExpiresAt(datetime!(2026-11-23 09:45 UTC)),
            datetime!(2026-11-23 09:45 UTC),
        ),
        // Neither field: one hour.
        (TokenLifetime::Neither, datetime!(2026-11-23 10:00 UTC)),
    ] {
        e.gh.set_token_lifetime(lifetime);
        let minted = mint_harvest_v3_token(&e.checker, &v3_secret(None))
            .await
            .unwrap();
        assert_eq!(minted.expires_at, expires_at, "{lifetime:?}");
        assert_eq!(
            e.gh.issued_tokens().last().map(String::as_str),
            Some(minted.token.as_str())
        );
        assert!(!format!("{minted:?}").contains(minted.token.as_str()));
        // And a whole check works with that answer.
        let v = e.checker.check(&v3_secret(None), &full_v3()).await;
        assert_eq!(v.outcome, Outcome::Verified, "{lifetime:?}: {}", v.message);
    }
    let wrong = parse_v3(CLIENT_ID, "wrong-secret", None).unwrap();
    match mint_harvest_v3_token(&e.checker, &wrong).await {
        Err(TokenError::Refused(code)) => assert_eq!(code, "invalid_client"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn probes_ask_for_one_id_only() {
    let e = env(|_| {}).await;
    e.gh.add_v3_client(full_client());
    let v = e.checker.check(&v3_secret(None), &full_v3()).await;
    assert_eq!(v.outcome, Outcome::Verified, "{}", v.message);
    for r in ["users", "jobs", "candidates", "user_job_permissions"] {
        assert_eq!(
            e.gh.queries_to(&format!("/v3/{r}")),
            ["per_page=1&fields=id"],
            "{r}"
        );
    }
}

#[tokio::test]
async fn an_empty_users_list_means_not_a_site_admin() {
    let e = env(|_| {}).await;
    e.gh.set_non_admin_empty(true);
    // The service account is not an admin: every granted scope answers 200 [].
    e.gh.add_v3_client(full_client().service_account_admin(false));
    let v = e.checker.check(&v3_secret(None), &full_v3()).await;
    assert_eq!(v.outcome, Outcome::Insufficient, "{}", v.message);
    assert!(v.message.contains("listed no users"), "{}", v.message);
    assert!(v.message.contains("Site Admin"), "{}", v.message);
    assert!(v.message.contains("service account"), "{}", v.message);
    assert!(v.missing_required.is_empty());

    // Also when a scope is missing: the report says both.
    let e = env(|_| {}).await;
    e.gh.set_non_admin_empty(true);
    e.gh.add_v3_client(
        V3Client::new(CLIENT_ID, CLIENT_SECRET)
            .with_resources(["users", "jobs"])
            .service_account_admin(false),
    );
    let v = e.checker.check(&v3_secret(None), &full_v3()).await;
    assert_eq!(v.outcome, Outcome::Insufficient);
    assert!(v.message.contains("listed no users"), "{}", v.message);
    assert!(v.message.contains("harvest:offers:list"), "{}", v.message);

    // A minimal profile (users only) is caught too; an admin's non-empty list is not.
    let minimal = Profile::named(HARVEST_V3, "minimal").unwrap();
    assert_eq!(
        e.checker.check(&v3_secret(None), &minimal).await.outcome,
        Outcome::Insufficient
    );
    let e = env(|_| {}).await;
    e.gh.set_non_admin_empty(true);
    e.gh.add_v3_client(full_client());
    assert_eq!(
        e.checker.check(&v3_secret(None), &minimal).await.outcome,
        Outcome::Verified
    );
}

#[tokio::test]
async fn a_user_id_that_is_not_a_site_admin_is_insufficient() {
    let e = env(|_| {}).await;
    e.gh.set_non_admin_empty(true);
    e.gh.add_v3_client(full_client().with_users([NOT_ADMIN]).with_readers([READER]));

    // 200 [] for a non-admin: the lookup finds no row.
    let v = e
        .checker
        .check(&v3_secret(Some(NOT_ADMIN)), &full_v3())
        .await;
    assert_eq!(v.outcome, Outcome::Insufficient, "{}", v.message);
    assert!(
        v.message
            .contains("User ID you entered is not a Site Admin"),
        "{}",
        v.message
    );
    assert!(!v.message.contains(NOT_ADMIN));
    assert_eq!(
        e.gh.queries_to("/v3/users"),
        [format!("ids={NOT_ADMIN}&fields=id%2Csite_admin")]
    );
    assert_eq!(
        e.gh.requests_to("/v3/jobs"),
        0,
        "no probes after the lookup"
    );

    // A user who may list but whose row says site_admin: false.
    e.gh.reset_counters();
    let v = e.checker.check(&v3_secret(Some(READER)), &full_v3()).await;
    assert_eq!(v.outcome, Outcome::Insufficient, "{}", v.message);
    assert!(v.message.contains("not a Site Admin"), "{}", v.message);
    assert_eq!(e.gh.requests_to("/v3/users"), 1, "the lookup only");
    // It is about the User ID, not the scopes: none is listed as missing.
    assert_eq!(v.field, Some("user_id"));
    assert!(v.missing_required.is_empty() && v.missing_optional.is_empty());

    // Same, when Greenhouse answers non-admins with 403: the lookup is refused, so the
    // probes decide. Every one refused for the User ID given: the User ID is what to change,
    // and no scope is listed as missing (none can be judged through that user).
    e.gh.set_non_admin_empty(false);
    let v = e
        .checker
        .check(&v3_secret(Some(NOT_ADMIN)), &full_v3())
        .await;
    assert_eq!(v.outcome, Outcome::Insufficient);
    assert!(
        v.message
            .contains("refused every permission for the User ID you entered"),
        "{}",
        v.message
    );
    assert_eq!(v.field, Some("user_id"));
    assert!(v.missing_required.is_empty(), "{:?}", v.missing_required);
}

#[tokio::test]
async fn a_site_admin_user_id_is_verified_after_one_lookup() {
    let e = env(|_| {}).await;
    e.gh.set_non_admin_empty(true);
    e.gh.add_v3_client(full_client().service_account_admin(false));
    let v = e.checker.check(&v3_secret(Some(ADMIN)), &full_v3()).await;
    assert_eq!(v.outcome, Outcome::Verified, "{}", v.message);
    assert_eq!(
        e.gh.queries_to("/v3/users"),
        [
            format!("ids={ADMIN}&fields=id%2Csite_admin"),
            "per_page=1&fields=id".to_owned()
        ]
    );
    assert_eq!(e.gh.requests_to("/v3/users"), 2);
}

#[tokio::test]
async fn a_refused_lookup_falls_back_to_the_probes() {
    // Every scope but users: the lookup answers 403, the users probe too.
    let e = env(|_| {}).await;
    let profile = full_v3();
    let others: Vec<&String> = profile
        .required
        .iter()
        .chain(&profile.optional)
        .filter(|r| r.as_str() != "users")
        .collect();
    e.gh.add_v3_client(
        V3Client::new(CLIENT_ID, CLIENT_SECRET)
            .with_resources(others)
            .with_site_admins([ADMIN]),
    );
    let v = e.checker.check(&v3_secret(Some(ADMIN)), &profile).await;
    assert_eq!(v.outcome, Outcome::Insufficient);
    assert_eq!(v.missing_required, ["harvest:users:list"]);
    assert!(!v.message.contains("not a Site Admin"), "{}", v.message);

    // A lookup Greenhouse cannot make sense of (here: 404) is ignored too.
    let e2 = env(|_| {}).await;
    e2.gh.add_v3_client(full_client());
    e2.gh.forget_v3_resource("users");
    let v = e2
        .checker
        .check(
            &v3_secret(Some(ADMIN)),
            &Profile::named(HARVEST_V3, "full-analytics").unwrap(),
        )
        .await;
    // users is unknown (404) to this Greenhouse: flagged on our side, lookup ignored.
    assert_eq!(v.outcome, Outcome::Insufficient);
    assert_eq!(v.missing_required, ["harvest:users:list"]);
    assert!(v.message.contains("problem on our side"), "{}", v.message);
}

#[tokio::test]
async fn introspection_names_the_organisation() {
    let e = env(|_| {}).await;
    e.gh.add_v3_client(full_client().with_organization(77, "Initech\u{202E}moc \u{7}Sandbox"));
    let v = e.checker.check(&v3_secret(Some(ADMIN)), &full_v3()).await;
    assert_eq!(v.outcome, Outcome::Verified, "{}", v.message);
    assert_eq!(
        v.organization,
        Some(Named {
            id: "77".into(),
            name: "Initechmoc Sandbox".into()
        })
    );
    assert_eq!(e.gh.requests_to("/introspect"), 1);
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["organization"]["id"], "77");

    // Insufficient reports carry it too; invalid ones never call it.
    e.gh.add_v3_client(V3Client::new("partial-88", CLIENT_SECRET).with_resources(["users"]));
    let v = e
        .checker
        .check(
            &parse_v3("partial-88", CLIENT_SECRET, None).unwrap(),
            &full_v3(),
        )
        .await;
    assert_eq!(v.outcome, Outcome::Insufficient);
    assert_eq!(v.organization.map(|o| o.name).as_deref(), Some("Initech"));
    e.gh.reset_counters();
    let v = e
        .checker
        .check(
            &parse_v3(CLIENT_ID, "wrong-secret", None).unwrap(),
            &full_v3(),
        )
        .await;
    assert_eq!((v.outcome, v.organization), (Outcome::Invalid, None));
    assert_eq!(e.gh.requests_to("/introspect"), 0);
}

#[tokio::test]
async fn introspection_missing_failing_or_slow_changes_nothing() {
    let e = env(|c| c.total_budget = Duration::from_secs(3)).await;
    e.gh.add_v3_client(full_client());
    for mode in [
        Introspection::NotFound,
        Introspection::Fails,
        Introspection::Slow(Duration::from_secs(5)),
    ] {
        e.gh.set_introspection(mode);
        e.gh.reset_counters();
        let started = Instant::now();
        let v = e.checker.check(&v3_secret(None), &full_v3()).await;
        let took = started.elapsed();
        assert_eq!(v.outcome, Outcome::Verified, "{mode:?}: {}", v.message);
        assert_eq!(v.organization, None, "{mode:?}");
        assert_eq!(v.granted.len(), 27);
        // A tenth of the 3 s budget at most, then the probes.
        assert!(took < Duration::from_millis(1500), "{mode:?} took {took:?}");
        assert!(e.gh.requests_to("/introspect") >= 1);
    }
}
