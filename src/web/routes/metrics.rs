//! `GET /metrics` (SPEC §12), served only on the `KEYDROP_METRICS_BIND`
//! listener, never on the public one.

use crate::metrics::Snapshot;
use crate::web::AppState;
use actix_web::{get, web, HttpResponse};

/// The content type of the Prometheus text format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[get("/metrics")]
pub async fn scrape(state: web::Data<AppState>) -> HttpResponse {
    let credentials = match state.store.credential_counts().await {
        Ok(rows) => Some(rows),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot count credentials");
            None
        }
    };
    let webhook_queue = match state.store.pending_deliveries().await {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot count pending webhook deliveries");
            None
        }
    };
    let snap = Snapshot {
        credentials,
        webhook_queue,
        tasks: state.tasks.registry().snapshot(),
    };
    match state.metrics.render(&snap) {
        Ok(text) => HttpResponse::Ok().content_type(CONTENT_TYPE).body(text),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

/// The metrics listener's routes: `/metrics` and nothing else.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(scrape)
        .default_service(web::to(HttpResponse::NotFound));
}
