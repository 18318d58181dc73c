//! `/healthz` (the process is up) and `/readyz` (it can serve).

use crate::health::TaskHealth;
use crate::web::AppState;
use actix_web::{route, web, HttpResponse};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;

#[route("/healthz", method = "GET", method = "HEAD")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Ready when the keyring fits the stored data, every background task is
/// running and passing (a scheduled task that has not passed for several of
/// its intervals is degraded) and the database answers. Both answers list the background
/// tasks (name, state, restarts, last successful pass): nothing secret, and
/// no error text, which goes to the log only.
#[route("/readyz", method = "GET", method = "HEAD")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    // The keyring is loaded and checked before the server starts, but data
    // sealed by a newer keyring (another process, after a rotation) shows
    // this one is stale; the database is the part that can come and go.
    let missing = state.keyring.missing_versions();
    let tasks = state.tasks.registry().snapshot();
    let now = std::time::Instant::now();
    let down: Vec<&str> = tasks
        .iter()
        .filter(|t| t.is_down())
        .map(|t| t.name.as_str())
        .collect();
    let degraded: Vec<&str> = tasks
        .iter()
        .filter(|t| t.is_degraded(now))
        .map(|t| t.name.as_str())
        .collect();
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!(
            "this process's keyring lacks master key version(s) {missing:?} used by stored data; \
             restart it with the current keyring"
        ));
    }
    if !down.is_empty() {
        problems.push(format!(
            "background task(s) down, restarting: {}",
            down.join(", ")
        ));
    }
    if !degraded.is_empty() {
        problems.push(format!(
            "background task(s) running but failing every pass: {}",
            degraded.join(", ")
        ));
    }
    // The ping waits for the database (bounded); not needed to say "not ready".
    if problems.is_empty() && !state.store.ping().await {
        problems.push("the database does not answer".to_owned());
    }
    let listed: Vec<Value> = tasks.iter().map(|t| task_json(t, now)).collect();
    if problems.is_empty() {
        HttpResponse::Ok().json(json!({ "status": "ready", "tasks": listed }))
    } else {
        let message = problems.join("; ");
        HttpResponse::ServiceUnavailable()
            .insert_header((actix_web::http::header::RETRY_AFTER, "5"))
            .json(json!({
                "error": { "code": "unavailable", "message": message },
                "tasks_down": down,
                "tasks_degraded": degraded,
                "tasks": listed,
            }))
    }
}

fn task_json(t: &TaskHealth, now: std::time::Instant) -> Value {
    json!({
        "name": t.name,
        "state": t.state.as_str(),
        "degraded": t.is_degraded(now),
        "restarts": t.restarts,
        "last_pass": t.last_pass.and_then(|at| at.format(&Rfc3339).ok()),
    })
}
