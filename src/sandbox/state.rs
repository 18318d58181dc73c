//! Fixtures, switches and counters of the fake Greenhouse.

use crate::greenhouse::kinds::{HARVEST_V1, HARVEST_V3};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;
use time::OffsetDateTime;

/// The id of the user every fake organisation has: its owner, a Site Admin.
pub const OWNER_ID: &str = "1";

/// A v3 client-credentials credential known to the fake.
#[derive(Debug, Clone)]
pub struct V3Client {
    pub client_id: String,
    pub client_secret: String,
    /// Granted scopes, e.g. `harvest:users:list`.
    pub scopes: BTreeSet<String>,
    /// User ids that are Site Admins (accepted as `sub` and allowed to list).
    pub site_admins: BTreeSet<String>,
    /// User ids `/token` refuses as `sub` (400 `invalid_request`).
    pub refused_subs: BTreeSet<String>,
    /// Whether the credential's own service account (no `sub`) reads as a Site Admin.
    pub service_account_admin: bool,
    /// Users of the organisation who are not Site Admins (accepted as `sub`, listed by
    /// `GET /v3/users` with `site_admin: false`). The organisation also has its owner,
    /// [`OWNER_ID`], a Site Admin.
    pub users: BTreeSet<String>,
    /// Users who are not Site Admins but whom the fake lets list anyway (listed with
    /// `site_admin: false`): what the Site Admin lookup must catch.
    pub readers: BTreeSet<String>,
    /// The organisation `(id, name)` token introspection names.
    pub organization: (u64, String),
}

impl V3Client {
    /// A client with no scopes whose service account is a Site Admin.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            scopes: BTreeSet::new(),
            site_admins: BTreeSet::new(),
            refused_subs: BTreeSet::new(),
            service_account_admin: true,
            users: BTreeSet::new(),
            readers: BTreeSet::new(),
            organization: (4_000_001, "Initech".to_owned()),
        }
    }

    /// Users who are not Site Admins.
    pub fn with_users<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, ids: I) -> Self {
        self.users
            .extend(ids.into_iter().map(|s| s.as_ref().to_owned()));
        self
    }

    /// Users who are not Site Admins but may list (e.g. custom permissions).
    pub fn with_readers<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, ids: I) -> Self {
        for id in ids {
            self.readers.insert(id.as_ref().to_owned());
            self.users.insert(id.as_ref().to_owned());
        }
        self
    }

    /// Whether `sub` (or the service account, `None`) may list data.
    pub(crate) fn can_list(&self, sub: Option<&str>) -> bool {
        match sub {
            Some(sub) => {
                sub == OWNER_ID || self.site_admins.contains(sub) || self.readers.contains(sub)
            }
            None => self.service_account_admin,
        }
    }

    /// The organisation introspection names (default `4000001`, "Initech": the org the test
    /// suite's drops are made for).
    pub fn with_organization(mut self, id: u64, name: impl Into<String>) -> Self {
        self.organization = (id, name.into());
        self
    }

    /// Every user of the organisation, by id, with whether it is a Site Admin.
    pub(crate) fn directory(&self) -> BTreeMap<String, bool> {
        let mut d: BTreeMap<String, bool> = self.users.iter().map(|u| (u.clone(), false)).collect();
        d.extend(self.site_admins.iter().map(|u| (u.clone(), true)));
        d.insert(OWNER_ID.to_owned(), true);
        d
    }

    /// Grants `harvest:<r>:list` for each resource name.
    pub fn with_resources<I: IntoIterator<Item = S>, S: AsRef<str>>(
        mut self,
        resources: I,
    ) -> Self {
        for r in resources {
            self.scopes.insert(format!("harvest:{}:list", r.as_ref()));
        }
        self
    }

    /// Grants the list scope of every v3 resource keydrop knows.
    pub fn with_all_resources(self) -> Self {
        self.with_resources(HARVEST_V3.resources().iter().map(|r| r.name))
    }

    pub fn with_site_admins<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, ids: I) -> Self {
        self.site_admins
            .extend(ids.into_iter().map(|s| s.as_ref().to_owned()));
        self
    }

    pub fn with_refused_subs<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, ids: I) -> Self {
        self.refused_subs
            .extend(ids.into_iter().map(|s| s.as_ref().to_owned()));
        self
    }

    pub fn service_account_admin(mut self, admin: bool) -> Self {
        self.service_account_admin = admin;
        self
    }
}

/// A Greenhouse user the Candidate Ingestion API can act for (`On-Behalf-Of`).
#[derive(Debug, Clone)]
pub struct IngestionUser {
    pub id: u64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// A deactivated user is refused (401) like an unknown one.
    pub active: bool,
    /// Resources the user may list (`jobs`, `candidates`, `prospect_pools`); others answer 403.
    pub can_list: BTreeSet<String>,
}

impl IngestionUser {
    /// An active Site Admin: may list everything.
    pub fn site_admin(id: u64, email: impl Into<String>, name: &str) -> Self {
        let (first, last) = name.split_once(' ').unwrap_or((name, ""));
        Self {
            id,
            email: email.into(),
            first_name: first.to_owned(),
            last_name: last.to_owned(),
            active: true,
            can_list: ["jobs", "candidates", "prospect_pools"]
                .into_iter()
                .map(str::to_owned)
                .collect(),
        }
    }

    /// A "Basic" user: may list jobs (and read itself), not candidates or prospects.
    pub fn basic(id: u64, email: impl Into<String>, name: &str) -> Self {
        let mut u = Self::site_admin(id, email, name);
        u.can_list = ["jobs".to_owned()].into_iter().collect();
        u
    }

    /// Deactivated in Greenhouse.
    pub fn disabled(mut self) -> Self {
        self.active = false;
        self
    }
}

/// Which lifetime field `/token` answers with (SPEC §1.1: either, or neither).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenLifetime {
    /// `"expires_in": <seconds>` (the default, 3600).
    ExpiresIn(u64),
    /// `"expires_at": "<RFC 3339>"`.
    ExpiresAt(OffsetDateTime),
    /// No lifetime field at all.
    Neither,
}

/// How `POST /introspect` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Introspection {
    /// As SPEC §1.1 says (the default).
    Answer,
    /// 404, as if Greenhouse had no such endpoint.
    NotFound,
    /// 500 every time.
    Fails,
    /// The normal answer, after this long.
    Slow(Duration),
}

/// An access token the fake issued.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub client_id: String,
    pub sub: Option<String>,
}

/// Everything the fake knows; behind one mutex, never held across an await.
#[derive(Debug)]
pub(crate) struct State {
    pub v3_clients: BTreeMap<String, V3Client>,
    /// Benchmarks: a v3 client id with this prefix is known on first use, with every
    /// resource, whatever its secret (bulk-loaded credentials check as verified).
    pub admit_v3_prefix: Option<String>,
    pub v1_keys: BTreeMap<String, BTreeSet<String>>,
    pub ingestion_keys: BTreeSet<String>,
    /// By lower-cased e-mail.
    pub ingestion_users: BTreeMap<String, IngestionUser>,
    /// Job board token → board name.
    pub job_boards: BTreeMap<String, String>,
    pub v3_resources: BTreeSet<String>,
    pub v1_endpoints: BTreeSet<String>,
    pub tokens: HashMap<String, Issued>,
    pub issued_order: Vec<String>,
    // switches
    pub outage: bool,
    pub token_outage: bool,
    pub api_outage: bool,
    pub delay: Duration,
    pub rate_limited: u32,
    pub retry_after_secs: u64,
    pub v1_permission_status: u16,
    pub revoke_next: u32,
    pub token_lifetime: TokenLifetime,
    /// A user who is not a Site Admin gets 200 `[]` (not 403) where the scope is granted.
    pub non_admin_empty: bool,
    pub introspection: Introspection,
    /// Partner OAuth: clients, codes, grants (`fake::partner`).
    pub partner: super::partner::PartnerState,
    // counters
    pub total: u64,
    pub per_path: BTreeMap<String, u64>,
    /// The query strings sent to each path, in order.
    pub queries: BTreeMap<String, Vec<String>>,
    pub in_flight: u64,
    pub max_in_flight: u64,
}

impl State {
    pub fn new() -> Self {
        Self {
            partner: Default::default(),
            v3_clients: BTreeMap::new(),
            admit_v3_prefix: None,
            v1_keys: BTreeMap::new(),
            ingestion_keys: BTreeSet::new(),
            ingestion_users: BTreeMap::new(),
            job_boards: BTreeMap::new(),
            v3_resources: HARVEST_V3
                .resources()
                .iter()
                .map(|r| r.name.to_owned())
                .collect(),
            v1_endpoints: HARVEST_V1
                .resources()
                .iter()
                .map(|r| r.name.to_owned())
                .collect(),
            tokens: HashMap::new(),
            issued_order: Vec::new(),
            outage: false,
            token_outage: false,
            api_outage: false,
            delay: Duration::ZERO,
            rate_limited: 0,
            retry_after_secs: 1,
            v1_permission_status: 403,
            revoke_next: 0,
            token_lifetime: TokenLifetime::ExpiresIn(3600),
            non_admin_empty: false,
            introspection: Introspection::Answer,
            total: 0,
            per_path: BTreeMap::new(),
            queries: BTreeMap::new(),
            in_flight: 0,
            max_in_flight: 0,
        }
    }
}
