//! Fixtures, switches and counters of the fake Greenhouse.

use crate::greenhouse::kinds::{HARVEST_V1, HARVEST_V3};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

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
        }
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
    /// `expires_in` of the access tokens `/token` issues.
    pub token_lifetime_secs: i64,
    /// Partner OAuth: clients, codes, grants (`fake::partner`).
    pub partner: super::partner::PartnerState,
    // counters
    pub total: u64,
    pub per_path: BTreeMap<String, u64>,
    pub in_flight: u64,
    pub max_in_flight: u64,
}

impl State {
    pub fn new() -> Self {
        Self {
            token_lifetime_secs: 3600,
            partner: Default::default(),
            v3_clients: BTreeMap::new(),
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
            total: 0,
            per_path: BTreeMap::new(),
            in_flight: 0,
            max_in_flight: 0,
        }
    }
}
