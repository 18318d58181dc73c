//! The fake's HTTP answers, following SPEC §1's table.

use super::auth::{introspect, token};
use super::state::State;
use actix_web::body::BoxBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use futures_util::future::LocalBoxFuture;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

pub(crate) type Shared = Arc<Mutex<State>>;

pub(crate) fn lock(s: &Shared) -> MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/token", web::post().to(token))
        .route("/authorize", web::get().to(super::partner::authorize))
        .route("/introspect", web::post().to(introspect))
        .route("/v3/{tail:.*}", web::get().to(v3))
        .route("/v1/partner/{resource}", web::get().to(partner))
        .route("/v1/boards/{token}", web::get().to(board))
        .route("/v1/{tail:.*}", web::get().to(v1))
        // The sandbox's own controls (no Greenhouse has these): what a customer does in
        // Greenhouse while keydrop holds their credential, for `keydrop demo` and by hand.
        .route("/_sandbox/v3/{client_id}/revoke", web::post().to(revoke_v3))
        .route(
            "/_sandbox/v3/{client_id}/remove/{resource}",
            web::post().to(remove_v3_resource),
        )
        .route("/_sandbox/partner/disconnect", web::post().to(kill_grants))
        .default_service(web::to(|| async {
            HttpResponse::NotFound().json(json!({"message":"Resource not found"}))
        }));
}

/// The customer deleted a Harvest v3 credential in Greenhouse.
async fn revoke_v3(path: web::Path<String>, state: web::Data<Mutex<State>>) -> HttpResponse {
    let removed = state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .v3_clients
        .remove(path.as_str())
        .is_some();
    if removed {
        HttpResponse::Ok().json(json!({ "revoked": path.as_str() }))
    } else {
        HttpResponse::NotFound().json(json!({ "message": "no such client" }))
    }
}

/// The customer unticked a resource of a Harvest v3 credential (`candidates`, `jobs`, …).
async fn remove_v3_resource(
    path: web::Path<(String, String)>,
    state: web::Data<Mutex<State>>,
) -> HttpResponse {
    let (client_id, resource) = path.into_inner();
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    match s.v3_clients.get_mut(&client_id) {
        Some(c) => {
            let removed = c.scopes.remove(&format!("harvest:{resource}:list"));
            HttpResponse::Ok().json(json!({ "client_id": client_id, "removed": removed }))
        }
        None => HttpResponse::NotFound().json(json!({ "message": "no such client" })),
    }
}

/// Every customer disconnected the partner app in Greenhouse: every grant dies.
async fn kill_grants(state: web::Data<Mutex<State>>) -> HttpResponse {
    state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .partner
        .kill_all();
    HttpResponse::Ok().json(json!({ "disconnected": true }))
}

/// Decrements the in-flight counter however the request ends.
struct InFlight(Shared);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut s = lock(&self.0);
        s.in_flight = s.in_flight.saturating_sub(1);
    }
}

/// Counting, slowness, outages and rate limiting, before any route; rate-limit headers after.
pub(crate) fn middleware<S>(
    state: Shared,
    req: ServiceRequest,
    srv: &S,
) -> LocalBoxFuture<'static, Result<ServiceResponse<BoxBody>, actix_web::Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<BoxBody>, Error = actix_web::Error>,
    S::Future: 'static,
{
    let path = req.path().to_owned();
    let (delay, short) = {
        let mut s = lock(&state);
        s.total += 1;
        *s.per_path.entry(path.clone()).or_insert(0) += 1;
        s.queries
            .entry(path.clone())
            .or_default()
            .push(req.query_string().to_owned());
        s.in_flight += 1;
        s.max_in_flight = s.max_in_flight.max(s.in_flight);
        let short = if s.outage
            || (s.token_outage && path == "/token")
            || (s.api_outage && path != "/token")
        {
            Some(HttpResponse::ServiceUnavailable().json(json!({"message":"Service Unavailable"})))
        } else if s.rate_limited > 0 {
            s.rate_limited -= 1;
            Some(
                HttpResponse::TooManyRequests()
                    .insert_header(("Retry-After", s.retry_after_secs.to_string()))
                    .json(json!({"message":"Too Many Requests"})),
            )
        } else {
            None
        };
        (s.delay, short)
    };
    let guard = InFlight(state);
    match short {
        Some(resp) => {
            let (http_req, _) = req.into_parts();
            Box::pin(async move {
                tokio::time::sleep(delay).await;
                let mut res = ServiceResponse::new(http_req, resp);
                rate_headers(&mut res, &guard.0);
                drop(guard);
                Ok(res)
            })
        }
        None => {
            let fut = srv.call(req);
            Box::pin(async move {
                tokio::time::sleep(delay).await;
                let mut res = fut.await?;
                rate_headers(&mut res, &guard.0);
                drop(guard);
                Ok(res)
            })
        }
    }
}

fn rate_headers(res: &mut ServiceResponse<BoxBody>, state: &Shared) {
    let (remaining, limited) = {
        let s = lock(state);
        (75u64.saturating_sub(s.total % 75), s.rate_limited)
    };
    let remaining = if res.status() == StatusCode::TOO_MANY_REQUESTS || limited > 0 {
        0
    } else {
        remaining
    };
    let h = res.headers_mut();
    for (name, value) in [
        ("x-ratelimit-limit", "75".to_owned()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-reset", "1800000000".to_owned()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(HeaderName::from_static(name), v);
        }
    }
}

/// `(user, password)` from `Authorization: Basic …`.
pub(super) fn basic(req: &HttpRequest) -> Option<(String, String)> {
    let v = req.headers().get("authorization")?.to_str().ok()?;
    let b64 = v.strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let (u, p) = raw.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

pub(super) fn has_suffix(id: &str) -> bool {
    id.rsplit_once('-')
        .is_some_and(|(_, d)| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

pub(super) fn params(req: &HttpRequest, body: &[u8]) -> HashMap<String, String> {
    let mut out: HashMap<String, String> =
        web::Query::<HashMap<String, String>>::from_query(req.query_string())
            .map(|q| q.into_inner())
            .unwrap_or_default();
    let body = String::from_utf8_lossy(body);
    let from_body: HashMap<String, String> = if body.trim_start().starts_with('{') {
        serde_json::from_str::<HashMap<String, serde_json::Value>>(&body)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
            .collect()
    } else {
        web::Query::<HashMap<String, String>>::from_query(&body)
            .map(|q| q.into_inner())
            .unwrap_or_default()
    };
    out.extend(from_body);
    out
}

async fn v3(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<Mutex<State>>,
) -> HttpResponse {
    let resource = path.into_inner();
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    if !s.v3_resources.contains(&resource) {
        return HttpResponse::NotFound().json(json!({"message":"Resource not found"}));
    }
    let unauthorized = || {
        HttpResponse::Unauthorized().json(json!({"message":"Unauthorized","errors":[
            "Token could not be decoded. Please ensure your token is from a trusted source."
        ]}))
    };
    let bearer = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let Some(issued) = bearer.as_ref().and_then(|t| s.tokens.get(t)).cloned() else {
        return unauthorized();
    };
    if s.revoke_next > 0 {
        s.revoke_next -= 1;
        if let Some(t) = &bearer {
            s.tokens.remove(t);
        }
        return unauthorized();
    }
    let Some(client) = s.v3_clients.get(&issued.client_id) else {
        return unauthorized();
    };
    let admin = client.can_list(issued.sub.as_deref());
    let forbidden = || {
        HttpResponse::Forbidden().json(json!({"message":"Forbidden","errors":[
            "You do not have access to this resource"
        ]}))
    };
    let q = web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default();
    let per_page = match q.get("per_page").map(|v| v.parse::<usize>()) {
        None => 100,
        Some(Ok(n)) if (1..=500).contains(&n) => n,
        Some(_) => {
            return HttpResponse::UnprocessableEntity()
                .json(json!({"message":"per_page must be between 1 and 500"}))
        }
    };
    if !client.scopes.contains(&format!("harvest:{resource}:list")) {
        return forbidden();
    }
    if !admin {
        return if s.non_admin_empty {
            HttpResponse::Ok().json(json!([]))
        } else {
            forbidden()
        };
    }
    let mut rows: Vec<serde_json::Value> = if resource == "users" {
        let ids: Option<Vec<&str>> = q.get("ids").map(|v| v.split(',').map(str::trim).collect());
        client
            .directory()
            .into_iter()
            .filter(|(id, _)| ids.as_ref().is_none_or(|ids| ids.contains(&id.as_str())))
            .map(|(id, site_admin)| {
                let id = id.parse::<u64>().map_or_else(|_| json!(id), |n| json!(n));
                json!({"id": id, "first_name": "User", "site_admin": site_admin})
            })
            .collect()
    } else {
        vec![json!({"id": 1, "name": "Example"})]
    };
    let more = rows.len() > per_page;
    rows.truncate(per_page);
    if let Some(fields) = q.get("fields") {
        let keep: Vec<&str> = fields.split(',').map(str::trim).collect();
        for row in &mut rows {
            if let serde_json::Value::Object(map) = row {
                map.retain(|k, _| keep.contains(&k.as_str()));
            }
        }
    }
    let host = req.connection_info().host().to_owned();
    let mut resp = HttpResponse::Ok();
    if more || resource != "users" {
        resp.insert_header((
            "Link",
            format!("<http://{host}/v3/{resource}?cursor=abc>; rel=\"next\""),
        ));
    }
    resp.json(rows)
}

async fn v1(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<Mutex<State>>,
) -> HttpResponse {
    let endpoint = path.into_inner();
    let s = state.lock().unwrap_or_else(|e| e.into_inner());
    let permitted = match basic(&req).and_then(|(key, _)| s.v1_keys.get(&key)) {
        Some(p) => p,
        None => {
            return HttpResponse::Unauthorized()
                .json(json!({"message":"Invalid Basic Auth credentials"}))
        }
    };
    if !s.v1_endpoints.contains(&endpoint) {
        return HttpResponse::NotFound().json(json!({"message":"Resource not found"}));
    }
    if !permitted.contains(&endpoint) {
        let status = StatusCode::from_u16(s.v1_permission_status).unwrap_or(StatusCode::FORBIDDEN);
        return HttpResponse::build(status)
            .json(json!({"message":"This API Key does not have permission for this endpoint"}));
    }
    HttpResponse::Ok().json(json!([]))
}

/// Candidate Ingestion (SPEC §1.4): Basic `<key>:` and `On-Behalf-Of: <e-mail>`; a bad key,
/// a missing header or an unknown or deactivated user all answer 401.
async fn partner(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<Mutex<State>>,
) -> HttpResponse {
    let resource = path.into_inner();
    let s = state.lock().unwrap_or_else(|e| e.into_inner());
    let error = |status: StatusCode, message: &str, field: Option<&str>| {
        HttpResponse::build(status).json(json!({"errors":[{"message": message, "field": field}]}))
    };
    let key_ok = basic(&req).is_some_and(|(key, _)| s.ingestion_keys.contains(&key));
    let user = req
        .headers()
        .get("on-behalf-of")
        .and_then(|v| v.to_str().ok())
        .and_then(|e| s.ingestion_users.get(&e.trim().to_ascii_lowercase()))
        .filter(|u| u.active);
    let Some(user) = user.filter(|_| key_ok) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "Invalid Basic Auth credentials or On-Behalf-Of user",
            None,
        );
    };
    match resource.as_str() {
        "current_user" => HttpResponse::Ok().json(json!({
            "id": user.id,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "full_name": format!("{} {}", user.first_name, user.last_name).trim(),
            "email": user.email,
        })),
        "jobs" | "candidates" | "prospect_pools" => {
            if user.can_list.contains(&resource) {
                HttpResponse::Ok().json(json!([]))
            } else {
                error(
                    StatusCode::FORBIDDEN,
                    "The user does not have permission to perform this action",
                    None,
                )
            }
        }
        _ => error(StatusCode::NOT_FOUND, "Resource not found", None),
    }
}

/// The public Job Board API: a board's name and intro, or 404.
async fn board(path: web::Path<String>, state: web::Data<Mutex<State>>) -> HttpResponse {
    let s = state.lock().unwrap_or_else(|e| e.into_inner());
    match s.job_boards.get(path.as_str()) {
        Some(name) => HttpResponse::Ok().json(json!({"name": name, "content": "<p>Join us</p>"})),
        None => {
            HttpResponse::NotFound().json(json!({"status": 404, "error": "Job board not found"}))
        }
    }
}
