//! `/api/v1/webhooks` (admin): endpoints, their signing secrets (shown
//! once), deliveries, retries and pings (SPEC §11).

use crate::clock::{from_millis, rfc3339};
use crate::domain::event::Event;
use crate::domain::role::Capability;
use crate::service::webhooks::{self, NewEndpoint, WebhookError};
use crate::store::webhooks::{DeliveryRow, Endpoint, Retried};
use crate::web::error::ApiError;
use crate::web::middleware::auth::Caller;
use crate::web::{body, AppState};
use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

fn endpoint_json(e: &Endpoint) -> Value {
    json!({
        "id": e.id,
        "url": e.url,
        "description": e.description,
        "events": e.events,
        "enabled": e.enabled,
        "disabled_reason": e.disabled_reason,
        "created_at": rfc3339(from_millis(e.created_at)),
        "updated_at": rfc3339(from_millis(e.updated_at)),
    })
}

fn delivery_json(d: &DeliveryRow) -> Value {
    json!({
        "id": d.id,
        "webhook_id": d.message_id,
        "type": d.kind,
        "status": d.status,
        "attempts": d.attempts,
        "last_status_code": d.last_status,
        "last_error": d.last_error,
        "next_attempt_at": d.next_attempt_at.map(|ms| rfc3339(from_millis(ms))),
        "created_at": rfc3339(from_millis(d.created_at)),
        "updated_at": rfc3339(from_millis(d.updated_at)),
    })
}

fn from_webhook_error(e: WebhookError) -> ApiError {
    match e {
        WebhookError::Invalid(m) => ApiError::unprocessable(m),
        WebhookError::Service(e) => e.into(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    url: String,
    events: Option<Vec<String>>,
    description: Option<String>,
}

#[post("/webhooks")]
pub async fn create(
    req: HttpRequest,
    caller: Caller,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Capability::ManageWebhooks)?;
    let input: CreateBody = body::json(&req, payload).await?;
    let (endpoint, secret) = webhooks::create(
        &state.store,
        &state.keyring,
        &caller.origin(&req),
        NewEndpoint {
            url: input.url,
            events: input.events,
            description: input.description,
        },
        state.settings.webhook_allow_private,
    )
    .await
    .map_err(from_webhook_error)?;
    let mut body = endpoint_json(&endpoint);
    body["secret"] = json!(secret.as_str());
    Ok(HttpResponse::Created().json(body))
}

#[get("/webhooks")]
pub async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    caller.require(Capability::ManageWebhooks)?;
    let all: Vec<Value> = state
        .store
        .list_endpoints()
        .await?
        .iter()
        .map(endpoint_json)
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "webhooks": all })))
}

#[get("/webhooks/{id}")]
pub async fn get(
    caller: Caller,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Capability::ManageWebhooks)?;
    let e = state
        .store
        .endpoint(&super::path_id(&id, "webhook")?)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))?;
    Ok(HttpResponse::Ok().json(endpoint_json(&e)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    #[serde(default, deserialize_with = "present")]
    events: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    description: Option<Option<String>>,
    enabled: Option<bool>,
}

/// A field that is present (even as `null`) is `Some`; absent is `None`.
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

#[patch("/webhooks/{id}")]
pub async fn update(
    req: HttpRequest,
    caller: Caller,
    id: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Capability::ManageWebhooks)?;
    let id = super::path_id(&id, "webhook")?;
    let input: UpdateBody = body::json(&req, payload).await?;
    if let Some(Some(events)) = &input.events {
        if events.is_empty() || events.iter().any(|e| !crate::domain::webhook::is_type(e)) {
            return Err(ApiError::unprocessable(
                "events must list known event types (or be null for all)",
            ));
        }
    }
    if let Some(Some(d)) = &input.description {
        if d.chars().count() > 500 || d.chars().any(char::is_control) {
            return Err(ApiError::unprocessable(
                "description must be at most 500 printable characters",
            ));
        }
    }
    let audit = caller.origin(&req).entry(Event::WebhookUpdated {
        endpoint: id.clone(),
    });
    let e = state
        .store
        .update_endpoint(
            &id,
            input.events.as_ref().map(Option::as_ref),
            input.description.as_ref().map(|d| d.as_deref()),
            input.enabled,
            &audit,
        )
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))?;
    Ok(HttpResponse::Ok().json(endpoint_json(&e)))
}

#[delete("/webhooks/{id}")]
pub async fn remove(
    req: HttpRequest,
    caller: Caller,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Capability::ManageWebhooks)?;
    let id = super::path_id(&id, "webhook")?;
    let e = webhooks::remove(&state.store, &caller.origin(&req), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))?;
    Ok(HttpResponse::Ok().json(endpoint_json(&e)))
}

#[post("/webhooks/{id}/rotate-secret")]
pub async fn rotate_secret(
    req: HttpRequest,
    caller: Caller,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Capability::ManageWebhooks)?;
    let id = super::path_id(&id, "webhook")?;
    let secret = webhooks::rotate(&state.store, &state.keyring, &caller.origin(&req), &id)
        .await
        .map_err(from_webhook_error)?
        .ok_or_else(|| ApiError::not_found("webhook"))?;
    Ok(HttpResponse::Ok().json(json!({
        "id": id,
        "secret": secret.as_str(),
        "previous_secret_valid_for_s": webhooks::ROTATION_OVERLAP_MS / 1000,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveriesQuery {
    limit: Option<String>,
}

#[get("/webhooks/{id}/deliveries")]
pub async fn deliveries(
    caller: Caller,
    id: web::Path<String>,
    query: web::Query<DeliveriesQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Capability::ManageWebhooks)?;
    let id = super::path_id(&id, "webhook")?;
    if state.store.endpoint(&id).await?.is_none() {
        return Err(ApiError::not_found("webhook"));
    }
    let limit = super::page_limit(query.limit.as_deref())?;
    let rows: Vec<Value> = state
        .store
        .list_deliveries(&id, limit)
        .await?
        .iter()
        .map(delivery_json)
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "deliveries": rows })))
}

#[post("/webhooks/{id}/deliveries/{delivery_id}/retry")]
pub async fn retry(
    req: HttpRequest,
    caller: Caller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Capability::ManageWebhooks)?;
    let (id, delivery) = path.into_inner();
    let id = super::path_id(&id, "webhook")?;
    let delivery = super::path_id(&delivery, "delivery")?;
    match webhooks::retry(&state.store, &caller.origin(&req), &id, &delivery).await? {
        Retried::Queued => {
            Ok(HttpResponse::Accepted().json(json!({ "id": delivery, "status": "pending" })))
        }
        Retried::Busy => Err(ApiError::conflict(
            "this delivery is being sent right now; retry it once that attempt is recorded",
        )),
        Retried::NotFound => Err(ApiError::not_found("delivery")),
    }
}

#[post("/webhooks/{id}/ping")]
pub async fn ping(
    req: HttpRequest,
    caller: Caller,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Capability::ManageWebhooks)?;
    let id = super::path_id(&id, "webhook")?;
    let message = webhooks::ping(&state.store, &caller.origin(&req), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))?;
    Ok(HttpResponse::Accepted().json(json!({ "webhook_id": message })))
}
