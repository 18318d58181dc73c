//! The fake's partner OAuth (SPEC §1.5, GREENHOUSE.md §5.4): `GET /authorize` redirects
//! straight back with a code (or `error=access_denied`), `POST /token` exchanges a code once
//! (within a minute) and refreshes grants with **rotation and reuse detection**: presenting a
//! refresh token that was already used kills the whole grant, as Greenhouse does. Switches: deny
//! the next approvals, grant fewer scopes, a slow refresh; counters of refreshes (and how many
//! ran at once) and of reuse detections.

use super::routes::{lock, Shared};
use super::state::{Issued, State, V3Client};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// How long an authorization code lives.
const CODE_TTL: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Code {
    client_id: String,
    redirect_uri: String,
    scopes: BTreeSet<String>,
    issued: Instant,
    used: bool,
}

#[derive(Debug)]
struct Grant {
    client_id: String,
    alive: bool,
    current_refresh: String,
}

/// Partner OAuth state, part of the fake's [`State`].
#[derive(Debug, Default)]
pub(crate) struct PartnerState {
    clients: BTreeMap<String, String>,
    codes: HashMap<String, Code>,
    grants: Vec<Grant>,
    /// Every refresh token ever issued → its grant.
    refresh_tokens: HashMap<String, usize>,
    pub deny: bool,
    /// Scopes granted whatever is asked (`None`: what is asked).
    pub granted: Option<BTreeSet<String>>,
    pub refresh_delay: Duration,
    /// Answer the next this many code exchanges or refreshes with a 200 that carries the
    /// (rotated) refresh token but an empty access token — an odd answer keydrop must still
    /// learn the new refresh token from.
    pub odd_answers: u32,
    /// Answer with `expires_at` (by the real clock) instead of `expires_in`.
    pub expires_at: bool,
    /// The organisation new grants belong to (`None`: a v3 client's default).
    pub organization: Option<(u64, String)>,
    pub refreshes: u64,
    pub refreshes_in_flight: u64,
    pub max_refreshes_in_flight: u64,
    pub reuses: u64,
}

fn random() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl PartnerState {
    pub fn add_client(&mut self, id: &str, secret: &str) {
        self.clients.insert(id.to_owned(), secret.to_owned());
    }

    /// Kill every grant (as if each customer disconnected the app in Greenhouse).
    pub fn kill_all(&mut self) {
        for g in &mut self.grants {
            g.alive = false;
        }
    }

    pub fn is_client(&self, id: &str, secret: &str) -> bool {
        self.clients.get(id).is_some_and(|s| s == secret)
    }

    /// Whether `grant_client` (`partner-grant-<n>`) is a grant of partner client `id`.
    pub fn owns(&self, id: &str, grant_client: &str) -> bool {
        grant_client
            .strip_prefix("partner-grant-")
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| self.grants.get(n))
            .is_some_and(|g| g.client_id == id)
    }

    pub fn issued_refresh_tokens(&self) -> Vec<String> {
        self.refresh_tokens.keys().cloned().collect()
    }

    pub fn alive_grants(&self) -> usize {
        self.grants.iter().filter(|g| g.alive).count()
    }
}

/// A new grant of `client_id` with `scopes`: its tokens as the token endpoint would answer.
pub(crate) fn new_grant(
    s: &mut State,
    client_id: &str,
    scopes: BTreeSet<String>,
) -> (String, String, i64) {
    let grant = s.partner.grants.len();
    let v3_id = format!("partner-grant-{grant}");
    let mut client = V3Client::new(v3_id.clone(), String::new());
    client.scopes = scopes;
    if let Some(org) = &s.partner.organization {
        client.organization = org.clone();
    }
    s.v3_clients.insert(v3_id, client);
    let refresh = format!("ghr.{}", random());
    s.partner.grants.push(Grant {
        client_id: client_id.to_owned(),
        alive: true,
        current_refresh: refresh.clone(),
    });
    s.partner.refresh_tokens.insert(refresh.clone(), grant);
    let (access, lifetime) = issue_access(s, grant);
    (refresh, access, lifetime)
}

fn issue_access(s: &mut State, grant: usize) -> (String, i64) {
    let token = format!("ghp.{}", random());
    s.tokens.insert(
        token.clone(),
        Issued {
            client_id: format!("partner-grant-{grant}"),
            sub: None,
        },
    );
    s.issued_order.push(token.clone());
    let lifetime = match s.token_lifetime {
        super::state::TokenLifetime::ExpiresIn(secs) => i64::try_from(secs).unwrap_or(3600),
        _ => 3600,
    };
    (token, lifetime)
}

fn answer(refresh: &str, access: &str, lifetime: i64, expires_at: bool) -> HttpResponse {
    if !expires_at {
        return HttpResponse::Ok().json(json!({
            "access_token": access, "refresh_token": refresh, "token_type": "Bearer",
            "expires_in": lifetime
        }));
    }
    // Greenhouse's partner answers carry `expires_at` (ISO 8601), by the real clock.
    let at = time::OffsetDateTime::UNIX_EPOCH
        + time::Duration::seconds(unix_now().saturating_add(lifetime));
    let at = at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    HttpResponse::Ok().json(json!({
        "access_token": access, "refresh_token": refresh, "token_type": "Bearer", "expires_at": at
    }))
}

#[allow(clippy::disallowed_methods)]
fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn query(req: &HttpRequest) -> HashMap<String, String> {
    web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default()
}

fn redirect(to: String) -> HttpResponse {
    HttpResponse::Found()
        .insert_header(("Location", to))
        .finish()
}

/// `GET /authorize`: the customer "approves" at once (or declines when `deny` is on).
pub(crate) async fn authorize(
    req: HttpRequest,
    state: web::Data<std::sync::Mutex<State>>,
) -> HttpResponse {
    let q = query(&req);
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let (client_id, redirect_uri, state_param) =
        (get("client_id"), get("redirect_uri"), get("state"));
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    if get("response_type") != "code" || !s.partner.clients.contains_key(&client_id) {
        return HttpResponse::BadRequest()
            .content_type("text/html")
            .body("<h1>Invalid authorization request</h1>");
    }
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    let enc = |v: &str| -> String {
        serde_urlencoded::to_string([("v", v)])
            .unwrap_or_default()
            .trim_start_matches("v=")
            .to_owned()
    };
    if s.partner.deny {
        return redirect(format!(
            "{redirect_uri}{sep}error=access_denied&state={}",
            enc(&state_param)
        ));
    }
    let asked: BTreeSet<String> = get("scope")
        .split(' ')
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect();
    let scopes = s.partner.granted.clone().unwrap_or(asked);
    let code = format!("ghc.{}", random());
    s.partner.codes.insert(
        code.clone(),
        Code {
            client_id,
            redirect_uri: redirect_uri.clone(),
            scopes,
            issued: Instant::now(),
            used: false,
        },
    );
    redirect(format!(
        "{redirect_uri}{sep}code={}&state={}",
        enc(&code),
        enc(&state_param)
    ))
}

fn invalid_grant() -> HttpResponse {
    HttpResponse::BadRequest().json(json!({"error":"invalid_grant"}))
}

/// `grant_type=authorization_code`.
pub(crate) fn exchange(
    s: &mut State,
    client: (&str, &str),
    p: &HashMap<String, String>,
) -> HttpResponse {
    if s.partner.clients.get(client.0).map(String::as_str) != Some(client.1) {
        return HttpResponse::Unauthorized().json(json!({"error":"invalid_client"}));
    }
    let code = p.get("code").cloned().unwrap_or_default();
    let Some(c) = s.partner.codes.get_mut(&code) else {
        return invalid_grant();
    };
    if c.used
        || c.issued.elapsed() > CODE_TTL
        || c.client_id != client.0
        || p.get("redirect_uri") != Some(&c.redirect_uri)
    {
        return invalid_grant();
    }
    c.used = true;
    let scopes = c.scopes.clone();
    let (refresh, access, lifetime) = new_grant(s, client.0, scopes);
    if let Some(odd) = odd_answer(s, &refresh) {
        return odd;
    }
    answer(&refresh, &access, lifetime, s.partner.expires_at)
}

/// An odd 200 (see [`PartnerState::odd_answers`]) if one is due.
fn odd_answer(s: &mut State, refresh: &str) -> Option<HttpResponse> {
    if s.partner.odd_answers == 0 {
        return None;
    }
    s.partner.odd_answers -= 1;
    Some(HttpResponse::Ok().json(json!({
        "refresh_token": refresh, "token_type": "Bearer", "access_token": ""
    })))
}

/// `grant_type=refresh_token`, after the refresh delay: rotation, and reuse kills the grant.
pub(crate) async fn refresh(
    shared: &Shared,
    client: (String, String),
    p: HashMap<String, String>,
) -> HttpResponse {
    let delay = {
        let mut s = lock(shared);
        s.partner.refreshes += 1;
        s.partner.refreshes_in_flight += 1;
        s.partner.max_refreshes_in_flight = s
            .partner
            .max_refreshes_in_flight
            .max(s.partner.refreshes_in_flight);
        s.partner.refresh_delay
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut s = lock(shared);
    s.partner.refreshes_in_flight = s.partner.refreshes_in_flight.saturating_sub(1);
    if s.partner.clients.get(&client.0) != Some(&client.1) {
        return HttpResponse::Unauthorized().json(json!({"error":"invalid_client"}));
    }
    let presented = p.get("refresh_token").cloned().unwrap_or_default();
    let Some(&grant) = s.partner.refresh_tokens.get(&presented) else {
        return invalid_grant();
    };
    let g = &mut s.partner.grants[grant];
    if g.client_id != client.0 || !g.alive {
        return invalid_grant();
    }
    if g.current_refresh != presented {
        // A spent refresh token came back: someone else holds the grant. Kill it.
        g.alive = false;
        s.partner.reuses += 1;
        return invalid_grant();
    }
    let refresh = format!("ghr.{}", random());
    g.current_refresh = refresh.clone();
    s.partner.refresh_tokens.insert(refresh.clone(), grant);
    if let Some(odd) = odd_answer(&mut s, &refresh) {
        return odd;
    }
    let (access, lifetime) = issue_access(&mut s, grant);
    answer(&refresh, &access, lifetime, s.partner.expires_at)
}
