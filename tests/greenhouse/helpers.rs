use keydrop::clock::{ManualClock, SharedClock};
use keydrop::greenhouse::kinds::{HARVEST_V1, HARVEST_V3};
use keydrop::greenhouse::{Checker, CheckerConfig, CredentialKind, Fields, Profile, Secret};
use keydrop::sandbox::{FakeGreenhouse, V3Client};
use std::sync::Arc;
use std::time::Duration;
use time::macros::datetime;
use time::OffsetDateTime;

pub const NOW: OffsetDateTime = datetime!(2026-11-23 09:00 UTC);
pub const CLIENT_ID: &str = "acme-analytics-4821";
pub const CLIENT_SECRET: &str = "Zq8Xv1c9-SECRET-value-n0t-for-logs";
pub const ADMIN: &str = "1001";
pub const NOT_ADMIN: &str = "2002";
pub const V1_KEY: &str = "a7183e1b7e9ab09b8a5cfa87d1934c3c";

pub struct Env {
    pub gh: FakeGreenhouse,
    pub checker: Checker,
}

/// A fake Greenhouse and a checker pointed at it, with short timeouts so tests stay fast.
pub async fn env(tune: impl FnOnce(&mut CheckerConfig)) -> Env {
    let gh = FakeGreenhouse::start()
        .await
        .expect("fake greenhouse starts");
    let mut config = CheckerConfig {
        auth_url: gh.base_url().to_owned(),
        api_url: gh.base_url().to_owned(),
        ingestion_url: gh.base_url().to_owned(),
        boards_url: gh.base_url().to_owned(),
        request_timeout: Duration::from_millis(500),
        total_budget: Duration::from_secs(2),
        max_in_flight: 4,
        partner: None,
    };
    tune(&mut config);
    let clock: SharedClock = Arc::new(ManualClock::new(NOW));
    let checker = Checker::new(config, clock).expect("checker builds");
    Env { gh, checker }
}

/// The standard client: every scope, service account and user 1001 are Site Admins.
pub fn full_client() -> V3Client {
    V3Client::new(CLIENT_ID, CLIENT_SECRET)
        .with_all_resources()
        .with_site_admins([ADMIN])
}

pub fn v3_secret(user: Option<&str>) -> Secret {
    parse_v3(CLIENT_ID, CLIENT_SECRET, user).expect("valid shape")
}

/// A pasted `harvest_v3` credential, through the kind's local checks.
pub fn parse_v3(
    client_id: &str,
    client_secret: &str,
    user_id: Option<&str>,
) -> Result<Secret, keydrop::greenhouse::ValidationError> {
    HARVEST_V3.parse(&Fields::from([
        ("client_id", client_id),
        ("client_secret", client_secret),
        ("user_id", user_id.unwrap_or("")),
    ]))
}

/// A pasted `harvest_v1` key, through the kind's local checks.
pub fn parse_v1(api_key: &str) -> Result<Secret, keydrop::greenhouse::ValidationError> {
    HARVEST_V1.parse(&Fields::from([("api_key", api_key)]))
}

/// The default profile of a secret's kind.
pub fn default_profile(secret: &Secret) -> Profile {
    Profile::default_for(
        keydrop::greenhouse::registry()
            .get(secret.kind())
            .expect("registered"),
    )
}

pub fn full_v3() -> Profile {
    Profile::named(HARVEST_V3, "full-analytics").expect("profile")
}

pub fn full_v1() -> Profile {
    Profile::named(HARVEST_V1, "full-analytics").expect("profile")
}

pub fn permissions(kind: &dyn CredentialKind, names: &[String]) -> Vec<String> {
    names
        .iter()
        .map(|n| kind.resource(n).expect("known").permission())
        .collect()
}

/// No report ever carries a secret value.
pub fn assert_no_secret(text: &str) {
    for s in [CLIENT_SECRET, CLIENT_ID, V1_KEY] {
        assert!(!text.contains(s), "leaked {s:?} in {text:?}");
    }
}

pub const INGESTION_KEY: &str = "c1d2e3f4a5b60718293a4b5c6d7e8f90";
pub const ADMIN_EMAIL: &str = "ada.admin@initech.example";
pub const BASIC_EMAIL: &str = "bob.basic@initech.example";
pub const DISABLED_EMAIL: &str = "dora.gone@initech.example";
pub const NOBODY_EMAIL: &str = "nobody@initech.example";
pub const NO_RIGHTS_EMAIL: &str = "nina.none@initech.example";
pub const BOARD: &str = "initech";

/// The Candidate Ingestion fixtures: one key, an admin, a Basic user, a deactivated user, a
/// user who may list nothing, and one job board.
pub fn ingestion_fixtures(gh: &FakeGreenhouse) {
    use keydrop::sandbox::IngestionUser;
    gh.add_ingestion_key(INGESTION_KEY);
    gh.add_ingestion_user(IngestionUser::site_admin(4001, ADMIN_EMAIL, "Ada Admin"));
    gh.add_ingestion_user(IngestionUser::basic(4002, BASIC_EMAIL, "Bob Basic"));
    gh.add_ingestion_user(IngestionUser::site_admin(4003, DISABLED_EMAIL, "Dora Gone").disabled());
    let mut none = IngestionUser::basic(4004, NO_RIGHTS_EMAIL, "Nina None");
    none.can_list.clear();
    gh.add_ingestion_user(none);
    gh.add_job_board(BOARD, "Initech");
}

/// A pasted `candidate_ingestion` credential, through the kind's local checks.
pub fn ingestion_secret(key: &str, email: &str, board: &str) -> Secret {
    keydrop::greenhouse::kinds::CANDIDATE_INGESTION
        .parse(&Fields::from([
            ("api_key", key),
            ("user_email", email),
            ("job_board_token", board),
        ]))
        .expect("valid shape")
}

pub fn ingestion_profile(name: &str) -> Profile {
    Profile::named(keydrop::greenhouse::kinds::CANDIDATE_INGESTION, name).expect("profile")
}
