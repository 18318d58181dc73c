//! Methods a route does not have (SPEC §4): 405 with `Allow`, never 404.
//! In the API the body is the error shape (`method_not_allowed`); on the
//! public side a plain 405.
//!
//! One mechanism for every route, using actix's own bookkeeping: while the
//! router tries each resource whose *path* matches a request, the method
//! guards of the `#[get]`/`#[post]`/… handlers record the methods they would
//! have taken, and a resource without routes answers 405 with exactly those
//! in `Allow` (or a bare 405 when no path matched at all). [`api`] and
//! [`public`] register such a resource after every route of their scope, on
//! a pattern that matches any path, and turn its two answers into
//! keydrop's: the 405, or the scope's own 404. So a new route gets its 405
//! for free, and `Allow` always lists what the router really serves.
//!
//! `HEAD` is served only where a handler declares it (the public pages:
//! `#[route(…, method = "GET", method = "HEAD")]`, whose body actix drops);
//! elsewhere it is a method like any other, answered 405.

use crate::web::error::ApiError;
use crate::web::AppState;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{HttpServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, ResponseError};

/// The catch-all pattern, relative to its scope: any path no route took.
const FALLBACK: &str = "/{unmatched:.*}";

/// Whether a matched route pattern is the catch-all (a request no route
/// took), e.g. for the metrics' `unmatched` label.
pub fn is_fallback(pattern: &str) -> bool {
    pattern.ends_with(FALLBACK)
}

/// The `Allow` of a resource's answer when it was a 405 for a path that
/// exists under other methods; `None` when no route has the path.
fn allowed<B>(res: &ServiceResponse<B>) -> Option<HeaderValue> {
    (res.status() == StatusCode::METHOD_NOT_ALLOWED)
        .then(|| res.headers().get(header::ALLOW).cloned())
        .flatten()
}

/// Register last in the `/api/v1` scope: 405 `method_not_allowed` with
/// `Allow`, else 404 `route not found`.
pub fn api() -> impl HttpServiceFactory {
    api_path(FALLBACK)
}

/// The same for one literal path, registered right after its routes, when
/// a later `{id}` route would take it for an id under another method
/// (`/credentials/claim` beside `GET /credentials/{id}`).
pub fn api_path(path: &str) -> impl HttpServiceFactory {
    web::resource(path).wrap(from_fn(api_answer))
}

async fn api_answer(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?;
    let answer = match allowed(&res) {
        Some(allow) => {
            let error = ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!(
                    "this route does not take that method; it takes {}",
                    allow.to_str().unwrap_or("the methods in `Allow`")
                ),
            );
            let mut answer = error.error_response();
            answer.headers_mut().insert(header::ALLOW, allow);
            answer
        }
        None => ApiError::not_found("route").error_response(),
    };
    Ok(res.into_response(answer))
}

/// Register last among the public routes: a plain 405 with `Allow`, else
/// the 404 page.
pub fn public() -> impl HttpServiceFactory {
    web::resource(FALLBACK).wrap(from_fn(public_answer))
}

async fn public_answer(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let res = next.call(req).await?;
    if allowed(&res).is_some() {
        return Ok(res.map_into_boxed_body());
    }
    let answer = match state {
        Some(state) => crate::web::routes::public::not_found(state).await,
        None => actix_web::HttpResponse::NotFound().finish(),
    };
    Ok(res.into_response(answer))
}
