//! HTTP: routes, pages, middleware. Handlers are thin: they check the
//! caller, parse input into domain types, and call the store.

pub mod access_log;
pub mod api;
pub mod auth;
pub mod body;
pub mod csrf;
pub mod drop_cache;
pub mod error;
pub mod headers;
pub mod health;
pub mod pages;
pub mod public;
pub mod rate_limit;
pub mod static_files;

use crate::config::ServeSettings;
use crate::crypto::keyring::Keyring;
use crate::greenhouse::Checker;
use crate::store::Store;
use actix_web::middleware::from_fn;
use actix_web::{web, HttpRequest, HttpResponse};
use error::ApiError;
use std::sync::Arc;

/// What every handler may reach.
#[derive(Debug)]
pub struct AppState {
    pub store: Store,
    pub keyring: Arc<Keyring>,
    pub settings: ServeSettings,
    pub checker: Checker,
    pub csrf: csrf::CsrfKey,
    pub limiter: Option<rate_limit::RateLimiter>,
    pub drop_cache: drop_cache::DropCache,
    pub releases: crate::service::release::Releases,
}

/// The address a request came from, as recorded in the audit log. The peer
/// address is used, not `X-Forwarded-For`, which any client can forge.
pub fn client_ip(req: &HttpRequest) -> Option<String> {
    req.peer_addr().map(|a| a.ip().to_string())
}

/// Routes and per-scope configuration, shared by the server and tests.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::QueryConfig::default()
            .error_handler(|e, _| ApiError::unprocessable(format!("invalid query: {e}")).into()),
    )
    .app_data(
        web::PathConfig::default().error_handler(|_, _| ApiError::not_found("resource").into()),
    )
    .service(health::healthz)
    .service(health::readyz)
    .service(static_files::serve)
    .service(public::show)
    .service(public::submit)
    .service(
        web::scope("/api/v1")
            .wrap(from_fn(auth::authenticate))
            .configure(api::configure)
            .default_service(web::to(api_not_found)),
    )
    .default_service(web::to(public::not_found));
}

async fn api_not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found("route"))
}
