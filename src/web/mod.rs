//! HTTP: routes, pages, middleware. Handlers are thin: they check the
//! caller, parse input into domain types, and call the store.

pub mod api;
pub mod body;
pub mod cookies;
pub mod csrf;
pub mod drop_cache;
pub mod error;
pub mod middleware;
pub mod page_error;
pub mod pages;
pub mod routes;

use middleware::{auth, methods, rate_limit};
use routes::{
    connect, console, console_admin, console_audit, console_drops, health, public, static_files,
};

use actix_web::middleware::from_fn;
use actix_web::{web, HttpRequest, HttpResponse};
use error::ApiError;
use std::sync::Arc;

/// What every handler may reach: the services (the one door to every use case, also
/// reachable as `state.store`, `state.vendor`…), and what only the web needs.
#[derive(Debug)]
pub struct AppState {
    pub services: Arc<crate::service::Services>,
    pub csrf: csrf::CsrfKey,
    pub limiter: Option<rate_limit::RateLimiter>,
    pub drop_cache: drop_cache::DropCache,
    /// Runs the background tasks; `/readyz` reads their health.
    pub tasks: crate::jobs::supervisor::Supervisor,
    /// The Content-Security-Policy of pages with a Connect button ([`connect_policy`](middleware::headers::connect_policy)).
    pub connect_csp: Option<actix_web::http::header::HeaderValue>,
}

impl std::ops::Deref for AppState {
    type Target = crate::service::Services;

    fn deref(&self) -> &Self::Target {
        &self.services
    }
}

/// The address a request came from (SPEC §8.11): the TCP peer, unless it is
/// one of `KEYDROP_TRUSTED_PROXIES`; then `X-Forwarded-For` walked from the
/// right through trusted proxies ([`crate::domain::net::resolve`]). Always canonical
/// (an IPv4-mapped IPv6 peer is its IPv4 address).
pub fn client_addr(req: &HttpRequest) -> Option<std::net::IpAddr> {
    let peer = req.peer_addr()?.ip();
    let trusted = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.settings.trusted_proxies.as_slice())
        .unwrap_or_default();
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .map(|v| v.to_str().unwrap_or(""))
        .collect();
    Some(crate::domain::net::resolve(peer, &forwarded, trusted))
}

/// [`client_addr`] as text, for the audit log.
pub fn client_ip(req: &HttpRequest) -> Option<String> {
    client_addr(req).map(|a| a.to_string())
}

/// What a listener serves (SPEC §13: with `KEYDROP_CONSOLE_BIND`, the console only on its
/// own listener, and the main listener answers 404 under `/console`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// Everything (no `KEYDROP_CONSOLE_BIND`).
    All,
    /// Links, the API and health, without the console.
    Main,
    /// The console alone (and the stylesheet its pages use).
    Console,
}

/// Routes and per-scope configuration, shared by the server and tests.
pub fn routes(cfg: &mut web::ServiceConfig) {
    routes_for(cfg, Listener::All)
}

/// The console's pages.
fn console_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(console::dashboard)
        .service(console::sign_in_page)
        .service(console::sign_in_start)
        .service(console::oidc_callback)
        .service(console::link_page)
        .service(console::link_sign_in)
        .service(console::sign_out_page)
        .service(console::sign_out)
        // `/console/drops/new` before `/console/drops/{id}`.
        .service(console_drops::new_form)
        .service(console_drops::create)
        .service(console_drops::list)
        .service(console_drops::detail)
        .service(console_drops::revoke)
        .service(console_drops::recheck)
        .service(console_drops::relink)
        .service(console_drops::send)
        .service(console_drops::destroy)
        .service(console_audit::log)
        .service(console_audit::export)
        .service(console_admin::tokens_page)
        .service(console_admin::token_create)
        .service(console_admin::token_revoke)
        .service(console_admin::webhooks_page)
        .service(console_admin::webhook_create)
        .service(console_admin::webhook_rotate)
        .service(console_admin::webhook_remove)
        .service(console_admin::webhook_deliveries)
        .service(console_admin::sessions_page)
        .service(console_admin::session_revoke)
        .service(console_admin::status_page);
}

/// The routes of one listener.
pub fn routes_for(cfg: &mut web::ServiceConfig, listener: Listener) {
    cfg.app_data(web::QueryConfig::default().error_handler(|e, _| {
        // Never the raw serde text: it quotes the query's values. The
        // validated text type's own rules quote nothing and pass as they are.
        let detail = match &e {
            actix_web::error::QueryPayloadError::Deserialize(de) => {
                let text = de.to_string();
                if api::query_text::QueryText::is_own_message(&text) {
                    text
                } else {
                    body::safe_serde_message(&text)
                }
            }
            _ => "the query string could not be read".to_owned(),
        };
        ApiError::unprocessable(format!("invalid query: {detail}")).into()
    }))
    .service(static_files::brand_logo)
    .service(static_files::serve);
    if listener != Listener::Console {
        cfg.service(health::healthz)
            .service(health::readyz)
            .service(public::show)
            .service(public::submit)
            .service(public::connect)
            .service(connect::callback);
    }
    if listener != Listener::Main {
        console_routes(cfg);
    }
    if listener == Listener::Console {
        cfg.service(methods::public())
            .default_service(web::to(public::not_found));
        return;
    }
    cfg.service(
        web::scope("/api/v1")
            .app_data(
                web::PathConfig::default()
                    .error_handler(|_, _| ApiError::not_found("resource").into()),
            )
            .wrap(from_fn(auth::authenticate))
            .configure(api::configure)
            // Last: a method a route lacks is a 405, an unknown path a 404.
            .service(methods::api())
            .default_service(web::to(api_not_found)),
    )
    .service(methods::public())
    .default_service(web::to(public::not_found));
}

async fn api_not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found("route"))
}
