//! `/api/v1/audit`: the audit log, oldest first, paged by `seq`, filtered
//! by subject and by action (exact, or a prefix ending in `.`).

use super::page_limit;
use super::query_text::QueryText;
use crate::domain::audit::{ActionFilter, AuditFilter};
use crate::domain::role::Capability;
use crate::web::error::ApiError;
use crate::web::middleware::auth::Caller;
use crate::web::AppState;
use actix_web::{get, web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    after: Option<String>,
    limit: Option<String>,
    subject: Option<QueryText>,
    action: Option<QueryText>,
}

#[get("/audit")]
pub async fn list(
    caller: Caller,
    query: web::Query<Page>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Capability::ReadAudit)?;
    let query = query.into_inner();
    let limit = page_limit(query.limit.as_deref())?;
    let after = super::query_seq(query.after.as_deref(), "after")?.unwrap_or(0);
    let filter = AuditFilter {
        subject: query.subject.and_then(QueryText::filter),
        action: query
            .action
            .and_then(QueryText::filter)
            .as_deref()
            .map(ActionFilter::parse),
    };
    let events = state.store.search_audit(&filter, after, limit).await?;
    let next = match events.last() {
        Some(last) if i64::try_from(events.len()).unwrap_or(0) == limit => {
            Some(last.seq.to_string())
        }
        _ => None,
    };
    Ok(HttpResponse::Ok().json(json!({ "events": events, "next": next })))
}
