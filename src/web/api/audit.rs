//! `/api/v1/audit`: the audit log, oldest first, paged by `seq`.

use super::page_limit;
use crate::domain::role::Role;
use crate::web::auth::Caller;
use crate::web::error::ApiError;
use crate::web::AppState;
use actix_web::{get, web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    after: Option<i64>,
    limit: Option<i64>,
}

#[get("/audit")]
pub async fn list(
    caller: Caller,
    query: web::Query<Page>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let limit = page_limit(query.limit)?;
    let after = query.after.unwrap_or(0).max(0);
    let events = state.store.list_audit(after, limit).await?;
    let next = match events.last() {
        Some(last) if i64::try_from(events.len()).unwrap_or(0) == limit => {
            Some(last.seq.to_string())
        }
        _ => None,
    };
    Ok(HttpResponse::Ok().json(json!({ "events": events, "next": next })))
}
