//! A fake Greenhouse: a real HTTP server on `127.0.0.1:0` that answers `/token`,
//! `/introspect`, `/v3/…`,
//! `/v1/…`, the Candidate Ingestion API (`/v1/partner/…`) and the Job Board API
//! (`/v1/boards/<token>`) as SPEC §1's tables say, for tests, benchmarks and `keydrop demo`.
//! One base URL serves as every Greenhouse host.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use keydrop::sandbox::{FakeGreenhouse, V3Client};
//! let gh = FakeGreenhouse::start().await?;
//! gh.add_v3_client(V3Client::new("acme-123", "s3cret").with_all_resources());
//! // CheckerConfig { auth_url: gh.base_url().into(), api_url: gh.base_url().into(), .. }
//! gh.stop().await;
//! # Ok(()) }
//! ```

mod auth;
mod partner;
mod routes;
mod state;

pub use state::{IngestionUser, Introspection, TokenLifetime, V3Client, OWNER_ID};

use actix_web::{web, App, HttpServer};
use routes::{lock, Shared};
use state::State;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running fake. Configure it through its methods at any time; they take effect on the next
/// request. Stops when dropped (or, waiting for it, with [`FakeGreenhouse::stop`]).
pub struct FakeGreenhouse {
    base_url: String,
    state: Shared,
    handle: actix_web::dev::ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl std::fmt::Debug for FakeGreenhouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeGreenhouse")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl FakeGreenhouse {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime (one worker).
    pub async fn start() -> std::io::Result<Self> {
        let state: Shared = Arc::new(Mutex::new(State::new()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let data = web::Data::from(state.clone());
        let mw_state = state.clone();
        let server = HttpServer::new(move || {
            let st = mw_state.clone();
            App::new()
                .app_data(data.clone())
                .wrap_fn(move |req, srv| routes::middleware(st.clone(), req, srv))
                .configure(routes::configure)
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)?
        .run();
        let handle = server.handle();
        let task = tokio::spawn(server);
        Ok(Self {
            base_url: format!("http://127.0.0.1:{port}"),
            state,
            handle,
            task,
        })
    }

    /// `http://127.0.0.1:<port>`: use it as both the auth and the API base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Stops the server and waits for it.
    pub async fn stop(self) {
        self.handle.stop(false).await;
    }

    // ---- fixtures ----

    pub fn add_v3_client(&self, client: V3Client) {
        lock(&self.state)
            .v3_clients
            .insert(client.client_id.clone(), client);
    }

    /// The customer deleted this Harvest v3 credential: its tokens are refused from now on.
    pub fn remove_v3_client(&self, client_id: &str) {
        lock(&self.state).v3_clients.remove(client_id);
    }

    /// Benchmarks: every v3 client id starting with `prefix` is known on first use, with
    /// every resource (so bulk-loaded credentials check as verified).
    pub fn admit_v3_clients_with_prefix(&self, prefix: &str) {
        lock(&self.state).admit_v3_prefix = Some(prefix.to_owned());
    }

    /// The customer unticked a resource of this Harvest v3 credential in Greenhouse (its
    /// list scope is gone from new tokens).
    pub fn remove_v3_resource(&self, client_id: &str, resource: &str) {
        if let Some(c) = lock(&self.state).v3_clients.get_mut(client_id) {
            c.scopes.remove(&format!("harvest:{resource}:list"));
        }
    }

    /// A legacy key permitted to call the given endpoints (`users`, `tags/candidate`, …).
    pub fn add_v1_key<I: IntoIterator<Item = S>, S: AsRef<str>>(&self, key: &str, endpoints: I) {
        let set: BTreeSet<String> = endpoints
            .into_iter()
            .map(|s| s.as_ref().to_owned())
            .collect();
        lock(&self.state).v1_keys.insert(key.to_owned(), set);
    }

    /// A Candidate Ingestion API key (valid for every known user).
    pub fn add_ingestion_key(&self, key: &str) {
        lock(&self.state).ingestion_keys.insert(key.to_owned());
    }

    /// A Greenhouse user the Candidate Ingestion API can act for.
    pub fn add_ingestion_user(&self, user: IngestionUser) {
        lock(&self.state)
            .ingestion_users
            .insert(user.email.to_ascii_lowercase(), user);
    }

    /// A public job board (`GET /v1/boards/<token>`).
    pub fn add_job_board(&self, token: &str, name: &str) {
        lock(&self.state)
            .job_boards
            .insert(token.to_owned(), name.to_owned());
    }

    /// Makes a v3 resource unknown (404), as if Greenhouse had removed it.
    pub fn forget_v3_resource(&self, name: &str) {
        lock(&self.state).v3_resources.remove(name);
    }

    // ---- switches ----

    /// Every request answers 503.
    pub fn set_outage(&self, on: bool) {
        lock(&self.state).outage = on;
    }

    /// A partner OAuth client (`/authorize`, the code and refresh grants).
    pub fn add_partner_client(&self, id: &str, secret: &str) {
        lock(&self.state).partner.add_client(id, secret);
    }

    /// Whether `/authorize` answers `error=access_denied` (the customer declines).
    pub fn set_authorize_denies(&self, on: bool) {
        lock(&self.state).partner.deny = on;
    }

    /// Resources whose `harvest:<r>:list` scope an approval grants, whatever is asked
    /// (`None`: everything asked).
    pub fn set_partner_grants<I: IntoIterator<Item = S>, S: AsRef<str>>(
        &self,
        resources: Option<I>,
    ) {
        lock(&self.state).partner.granted = resources.map(|rs| {
            rs.into_iter()
                .map(|r| format!("harvest:{}:list", r.as_ref()))
                .collect()
        });
    }

    /// Partner token answers with `expires_at` (ISO 8601, by the real clock) instead of
    /// `expires_in`.
    pub fn set_partner_expires_at(&self, on: bool) {
        lock(&self.state).partner.expires_at = on;
    }

    /// How long each refresh takes (widens races).
    pub fn set_refresh_delay(&self, delay: Duration) {
        lock(&self.state).partner.refresh_delay = delay;
    }

    /// Answer the next `count` code exchanges or refreshes with a 200 that carries the
    /// (rotated) refresh token but an empty access token.
    pub fn odd_token_answers(&self, count: u32) {
        lock(&self.state).partner.odd_answers = count;
    }

    /// A grant of partner client `client_id` with every v3 scope, as if a customer approved:
    /// `(refresh_token, access_token)`.
    pub fn new_partner_grant(&self, client_id: &str) -> (String, String) {
        let mut s = lock(&self.state);
        let scopes = s
            .v3_resources
            .iter()
            .map(|r| format!("harvest:{r}:list"))
            .collect();
        let (refresh, access, _) = partner::new_grant(&mut s, client_id, scopes);
        (refresh, access)
    }

    /// Every refresh token the fake ever issued (for leak scans).
    pub fn issued_refresh_tokens(&self) -> Vec<String> {
        lock(&self.state).partner.issued_refresh_tokens()
    }

    /// Refresh-token grants answered so far.
    pub fn partner_refreshes(&self) -> u64 {
        lock(&self.state).partner.refreshes
    }

    /// The most refresh-token grants in flight at once.
    pub fn max_refreshes_in_flight(&self) -> u64 {
        lock(&self.state).partner.max_refreshes_in_flight
    }

    /// Spent refresh tokens presented again (each killed its grant).
    pub fn refresh_reuses(&self) -> u64 {
        lock(&self.state).partner.reuses
    }

    /// Grants still alive.
    pub fn alive_grants(&self) -> usize {
        lock(&self.state).partner.alive_grants()
    }

    /// Kill every grant (the customers disconnected the app in Greenhouse).
    pub fn kill_partner_grants(&self) {
        lock(&self.state).partner.kill_all();
    }

    /// Every access token issued to a partner grant so far stops working, as each does at
    /// the end of its hour (the fake keeps no time of its own; the test moves keydrop's
    /// clock and calls this). Refresh tokens are untouched.
    pub fn expire_partner_access_tokens(&self) {
        lock(&self.state)
            .tokens
            .retain(|_, issued| !issued.client_id.starts_with("partner-grant-"));
    }

    /// The organisation that approves new partner grants (introspection names it).
    pub fn set_partner_organization(&self, id: u64, name: &str) {
        lock(&self.state).partner.organization = Some((id, name.to_owned()));
    }

    /// Only `/token` answers 503.
    pub fn set_token_outage(&self, on: bool) {
        lock(&self.state).token_outage = on;
    }

    /// Every request except `/token` answers 503.
    pub fn set_api_outage(&self, on: bool) {
        lock(&self.state).api_outage = on;
    }

    /// Delays every answer.
    pub fn set_delay(&self, delay: Duration) {
        lock(&self.state).delay = delay;
    }

    /// The next `count` requests answer 429 with `Retry-After: retry_after_secs`.
    pub fn rate_limit_next(&self, count: u32, retry_after_secs: u64) {
        let mut s = lock(&self.state);
        s.rate_limited = count;
        s.retry_after_secs = retry_after_secs;
    }

    /// The status for a v1 key lacking an endpoint's permission (403 by default; 401 is seen
    /// in the wild too).
    pub fn set_v1_permission_status(&self, status: u16) {
        lock(&self.state).v1_permission_status = status;
    }

    /// The next `count` v3 resource requests with a valid token revoke it and answer 401.
    pub fn revoke_next_tokens(&self, count: u32) {
        lock(&self.state).revoke_next = count;
    }

    /// Which lifetime field `/token` answers with (default `expires_in: 3600`).
    pub fn set_token_lifetime(&self, lifetime: TokenLifetime) {
        lock(&self.state).token_lifetime = lifetime;
    }

    /// A user who is not a Site Admin gets 200 with an empty array where the scope is granted,
    /// instead of 403 ("will not return results").
    pub fn set_non_admin_empty(&self, on: bool) {
        lock(&self.state).non_admin_empty = on;
    }

    /// How `POST /introspect` answers (default: as SPEC §1.1 says).
    pub fn set_introspection(&self, mode: Introspection) {
        lock(&self.state).introspection = mode;
    }

    // ---- counters ----

    pub fn total_requests(&self) -> u64 {
        lock(&self.state).total
    }

    /// Requests to an exact path, e.g. `/token` or `/v3/users`.
    pub fn requests_to(&self, path: &str) -> u64 {
        lock(&self.state).per_path.get(path).copied().unwrap_or(0)
    }

    /// The query strings sent to an exact path, oldest first.
    pub fn queries_to(&self, path: &str) -> Vec<String> {
        lock(&self.state)
            .queries
            .get(path)
            .cloned()
            .unwrap_or_default()
    }

    /// The most requests that were being answered at the same moment.
    pub fn max_in_flight(&self) -> u64 {
        lock(&self.state).max_in_flight
    }

    /// Every access token issued so far, oldest first.
    pub fn issued_tokens(&self) -> Vec<String> {
        lock(&self.state).issued_order.clone()
    }

    /// Sets every counter back to zero.
    pub fn reset_counters(&self) {
        let mut s = lock(&self.state);
        s.total = 0;
        s.per_path.clear();
        s.queries.clear();
        s.max_in_flight = s.in_flight;
    }
}

impl Drop for FakeGreenhouse {
    fn drop(&mut self) {
        // Sends the stop command at once; the returned future only waits for completion.
        drop(self.handle.stop(false));
        self.task.abort();
    }
}
