//! `/healthz` (the process is up) and `/readyz` (it can serve).

use super::AppState;
use actix_web::{get, web, HttpResponse};
use serde_json::json;

#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    // The keyring is loaded and checked before the server starts, but data
    // sealed by a newer keyring (another process, after a rotation) shows
    // this one is stale; the database is the part that can come and go.
    let missing = state.keyring.missing_versions();
    let problem = if !missing.is_empty() {
        Some(format!(
            "this process's keyring lacks master key version(s) {missing:?} used by stored data; \
             restart it with the current keyring"
        ))
    } else if !state.store.ping().await {
        Some("the database does not answer".to_owned())
    } else {
        None
    };
    match problem {
        None => HttpResponse::Ok().json(json!({ "status": "ready" })),
        Some(message) => HttpResponse::ServiceUnavailable()
            .insert_header((actix_web::http::header::RETRY_AFTER, "5"))
            .json(json!({ "error": { "code": "unavailable", "message": message } })),
    }
}
