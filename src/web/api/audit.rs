//! `/api/v1/audit`: the audit log, oldest first, paged by `seq`, filtered
//! by subject, by action (exact, or a prefix ending in `.`), by actor and by time.

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
    actor: Option<QueryText>,
    since: Option<QueryText>,
    until: Option<QueryText>,
}

/// An RFC 3339 time in a query, as Unix ms; a message naming the parameter otherwise.
fn time_param(value: Option<QueryText>, name: &str) -> Result<Option<i64>, String> {
    value
        .and_then(QueryText::filter)
        .map(|t| {
            crate::clock::parse_rfc3339(&t)
                .map(crate::clock::to_millis)
                .map_err(|_| {
                    format!("{name} must be an RFC 3339 time, such as 2026-12-01T00:00:00Z")
                })
        })
        .transpose()
}

/// The audit filters of a query string — the API's and the console's (page and export):
/// `subject`, `action` (exact, or a prefix ending in `.`), `actor`, `since`, `until`. The
/// error is the message for a 422.
#[derive(Deserialize, Default)]
pub struct FilterQuery {
    pub subject: Option<QueryText>,
    pub action: Option<QueryText>,
    pub actor: Option<QueryText>,
    pub since: Option<QueryText>,
    pub until: Option<QueryText>,
}

impl FilterQuery {
    pub fn filter(self) -> Result<AuditFilter, String> {
        Ok(AuditFilter {
            subject: self.subject.and_then(QueryText::filter),
            action: self
                .action
                .and_then(QueryText::filter)
                .as_deref()
                .map(ActionFilter::parse),
            actor: self.actor.and_then(QueryText::filter),
            since: time_param(self.since, "since")?,
            until: time_param(self.until, "until")?,
        })
    }
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
    let filter = FilterQuery {
        subject: query.subject,
        action: query.action,
        actor: query.actor,
        since: query.since,
        until: query.until,
    }
    .filter()
    .map_err(ApiError::unprocessable)?;
    let events = state.store.search_audit(&filter, after, limit).await?;
    let next = match events.last() {
        Some(last) if i64::try_from(events.len()).unwrap_or(0) == limit => {
            Some(last.seq.to_string())
        }
        _ => None,
    };
    Ok(HttpResponse::Ok().json(json!({ "events": events, "next": next })))
}
