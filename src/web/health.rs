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
    // The keyring is loaded and checked before the server starts; the database
    // is the part that can come and go.
    if state.store.ping().await {
        HttpResponse::Ok().json(json!({ "status": "ready" }))
    } else {
        HttpResponse::ServiceUnavailable().json(json!({
            "error": { "code": "unavailable", "message": "the database does not answer" }
        }))
    }
}
