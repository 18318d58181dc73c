//! `candidate_ingestion` against the fake Greenhouse (SPEC §1.4): every row of the table and
//! every outcome.

use crate::helpers::*;
use keydrop::greenhouse::{Named, Outcome};
use std::time::Duration;

const JOBS: &str = "GET /v1/partner/jobs";
const CANDIDATES: &str = "GET /v1/partner/candidates";
const PROSPECTS: &str = "GET /v1/partner/prospect_pools";

async fn ready() -> Env {
    let e = env(|_| {}).await;
    ingestion_fixtures(&e.gh);
    e
}

#[tokio::test]
async fn valid_key_and_admin_user_is_verified_with_the_user_named() {
    let e = ready().await;
    let v = e
        .checker
        .check(
            &ingestion_secret(INGESTION_KEY, ADMIN_EMAIL, ""),
            &ingestion_profile("ingestion"),
        )
        .await;
    assert_eq!(v.outcome, Outcome::Verified, "{}", v.message);
    assert_eq!(v.granted, [JOBS, CANDIDATES, PROSPECTS]);
    assert!(v.missing_required.is_empty() && v.missing_optional.is_empty());
    assert_eq!(
        v.greenhouse_user,
        Some(Named {
            id: "4001".into(),
            name: "Ada Admin".into()
        })
    );
    assert_eq!(v.organization, None);
    assert_eq!(e.gh.requests_to("/v1/partner/current_user"), 1);
    assert_eq!(
        e.gh.requests_to("/v1/boards/initech"),
        0,
        "no board given, none checked"
    );
    // The e-mail is matched case-insensitively by Greenhouse.
    let v = e
        .checker
        .check(
            &ingestion_secret(INGESTION_KEY, &ADMIN_EMAIL.to_uppercase(), BOARD),
            &ingestion_profile("ingestion"),
        )
        .await;
    assert_eq!(v.outcome, Outcome::Verified, "{}", v.message);
    assert_eq!(e.gh.requests_to("/v1/boards/initech"), 1);
}

#[tokio::test]
async fn a_401_is_invalid_and_says_to_check_key_and_email() {
    let e = ready().await;
    for (key, email) in [
        (INGESTION_KEY, NOBODY_EMAIL),
        (INGESTION_KEY, DISABLED_EMAIL),
        ("ffffffffffffffffffffffffffffffff", ADMIN_EMAIL),
    ] {
        let v = e
            .checker
            .check(
                &ingestion_secret(key, email, BOARD),
                &ingestion_profile("ingestion"),
            )
            .await;
        assert_eq!(v.outcome, Outcome::Invalid, "{email}: {}", v.message);
        for words in ["API key", "e-mail", "active"] {
            assert!(v.message.contains(words), "{words}: {}", v.message);
        }
        assert!(!v.message.contains(email) && !v.message.contains(key));
        assert_eq!(v.greenhouse_user, None);
        assert!(v.granted.is_empty());
    }
    assert_eq!(
        e.gh.requests_to("/v1/partner/jobs"),
        0,
        "nothing probed after a 401"
    );
}

#[tokio::test]
async fn basic_user_lacking_candidates_is_verified_with_missing_optionals() {
    let e = ready().await;
    let v = e
        .checker
        .check(
            &ingestion_secret(INGESTION_KEY, BASIC_EMAIL, BOARD),
            &ingestion_profile("ingestion"),
        )
        .await;
    assert_eq!(v.outcome, Outcome::Verified, "{}", v.message);
    assert_eq!(v.granted, [JOBS]);
    assert_eq!(v.missing_optional, [CANDIDATES, PROSPECTS]);
    assert_eq!(v.greenhouse_user.unwrap().name, "Bob Basic");
}

#[tokio::test]
async fn a_403_on_a_required_resource_is_insufficient() {
    let e = ready().await;
    let v = e
        .checker
        .check(
            &ingestion_secret(INGESTION_KEY, NO_RIGHTS_EMAIL, ""),
            &ingestion_profile("ingestion"),
        )
        .await;
    assert_eq!(v.outcome, Outcome::Insufficient, "{}", v.message);
    assert_eq!(v.missing_required, [JOBS]);
    assert!(v.message.contains("permission"), "{}", v.message);
    // Required only `jobs`, explicitly: still insufficient, with the how-to advice.
    let only_jobs = keydrop::greenhouse::Profile::explicit(
        keydrop::greenhouse::kinds::CANDIDATE_INGESTION,
        ["jobs"],
        ["candidates"],
    )
    .unwrap();
    let v = e
        .checker
        .check(
            &ingestion_secret(INGESTION_KEY, NO_RIGHTS_EMAIL, ""),
            &only_jobs,
        )
        .await;
    assert_eq!(v.outcome, Outcome::Insufficient, "{}", v.message);
}

#[tokio::test]
async fn unknown_board_token_is_invalid_naming_the_field() {
    let e = ready().await;
    let v = e
        .checker
        .check(
            &ingestion_secret(INGESTION_KEY, ADMIN_EMAIL, "no-such-board"),
            &ingestion_profile("ingestion"),
        )
        .await;
    assert_eq!(v.outcome, Outcome::Invalid, "{}", v.message);
    // In the customer's words: no internal field name (the page marks the field itself).
    assert!(!v.message.contains("job_board_token"), "{}", v.message);
    assert!(v.message.contains("job board"), "{}", v.message);
    assert_eq!(e.gh.requests_to("/v1/boards/no-such-board"), 1);
}

#[tokio::test]
async fn minimal_profile_asks_only_for_the_current_user() {
    let e = ready().await;
    let v = e
        .checker
        .check(
            &ingestion_secret(INGESTION_KEY, NO_RIGHTS_EMAIL, ""),
            &ingestion_profile("minimal"),
        )
        .await;
    assert_eq!(v.outcome, Outcome::Verified, "{}", v.message);
    assert_eq!(v.granted, ["GET /v1/partner/current_user"]);
    assert_eq!(e.gh.requests_to("/v1/partner/current_user"), 1);
    assert_eq!(
        e.gh.total_requests(),
        1,
        "an empty probe plan sends nothing more"
    );
}

#[tokio::test]
async fn greenhouse_down_or_slow_is_pending() {
    let e = env(|c| c.total_budget = Duration::from_millis(800)).await;
    ingestion_fixtures(&e.gh);
    let secret = ingestion_secret(INGESTION_KEY, ADMIN_EMAIL, BOARD);
    e.gh.set_outage(true);
    let v = e
        .checker
        .check(&secret, &ingestion_profile("ingestion"))
        .await;
    assert_eq!(v.outcome, Outcome::Pending, "{}", v.message);
    assert!(v.message.contains("check it again"), "{}", v.message);
    e.gh.set_outage(false);
    // A 429 with Retry-After inside the budget is waited out.
    e.gh.rate_limit_next(1, 0);
    let v = e
        .checker
        .check(&secret, &ingestion_profile("ingestion"))
        .await;
    assert_eq!(v.outcome, Outcome::Verified, "{}", v.message);
    // Too slow for the budget: pending too.
    e.gh.set_delay(Duration::from_secs(2));
    let v = e
        .checker
        .check(&secret, &ingestion_profile("minimal"))
        .await;
    assert_eq!(v.outcome, Outcome::Pending, "{}", v.message);
}
