//! `GET /api/v1/openapi.json`: the OpenAPI 3 document of the internal API.
//! A test compares it with the routes the handlers declare and with what
//! the running router answers, so the two cannot drift apart.
//!
//! *Over 400 lines:* the document is data (every route and schema) and its drift tests are inline.

use crate::domain::credential::{Delivery, Status};
use crate::domain::drop::DropState;
use crate::domain::role::{Capability, Role};
use crate::domain::text::{plain_nonblank_pattern, shown_pattern};
use crate::greenhouse::{Checker, Registry};
use crate::store::Cursor;
use crate::web::middleware::auth::Caller;
use crate::web::AppState;
use actix_web::{get, web, HttpResponse};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

#[get("/openapi.json")]
pub async fn document(_caller: Caller, state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(&*spec_for(&state.checker))
}

fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn body(name: &str) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": r(name) } } })
}

fn ok(status: &str, description: &str, schema: Option<Value>) -> (String, Value) {
    let mut v = json!({ "description": description });
    if let Some(s) = schema {
        v["content"] = json!({ "application/json": { "schema": s } });
    }
    (status.to_owned(), v)
}

fn err(status: &str) -> (String, Value) {
    let description = match status {
        "400" => "Malformed JSON (`malformed_request`), or the body did not arrive within 10 s (`body_timeout`; the connection is then closed)",
        "401" => "Missing or invalid API token (`WWW-Authenticate: Bearer`)",
        "403" => "The token's role may not make this call",
        "404" => "Not found",
        "409" => "Conflict with the current state",
        "410" => "Gone: the credential was destroyed",
        "413" => "Body over 64 KiB",
        "415" => "Body is not application/json",
        "422" => "Unknown field or bad value",
        "429" => "Too many invalid API tokens from this address (`Retry-After`)",
        "503" => "Too many API token checks at once (`Retry-After`)",
        _ => "Error",
    };
    (
        status.to_owned(),
        json!({ "description": description, "content": { "application/json": { "schema": r("Error") } } }),
    )
}

/// The roles that may do `what`, as the document lists them ("admin, issuer").
fn roles(what: Capability) -> String {
    Role::ALL
        .into_iter()
        .filter(|r| r.may(what))
        .map(Role::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

fn op(summary: &str, roles: &str, responses: Vec<(String, Value)>) -> Value {
    let mut all: Vec<(String, Value)> = responses;
    all.push(err("401"));
    all.push(err("403"));
    all.push(err("429"));
    all.push(err("503"));
    let map: serde_json::Map<String, Value> = all.into_iter().collect();
    json!({ "summary": summary, "description": format!("Roles: {roles}."), "responses": map })
}

fn with(mut op: Value, key: &str, value: Value) -> Value {
    op[key] = value;
    op
}

/// An id: the hyphenated UUID form, either case ([`super::parse_uuid`]).
fn uuid_schema() -> Value {
    json!({ "type": "string", "format": "uuid", "pattern": super::UUID_PATTERN })
}

fn id_param(what: &str) -> Value {
    json!([{ "name": "id", "in": "path", "required": true, "description": format!("The {what}'s id"), "schema": uuid_schema() }])
}

/// Query parameters of a list call. Each may be sent empty, which is the
/// same as leaving it out (`?state=&limit=` lists everything).
fn query(params: &[(&str, Value, &str)]) -> Value {
    Value::Array(
        params
            .iter()
            .map(|(n, s, d)| json!({ "name": n, "in": "query", "required": false, "allowEmptyValue": true, "schema": s, "description": d }))
            .collect(),
    )
}

/// `limit` of every list call: a larger value is clamped, not refused.
fn limit() -> (&'static str, Value, &'static str) {
    (
        "limit",
        json!({ "type": "integer", "minimum": 1, "default": 100 }),
        "Page size, at most 500: a larger value is clamped to 500; zero, negative or not a whole number is a 422",
    )
}

/// A free-text filter ([`super::query_text::QueryText`]).
fn text_filter() -> Value {
    json!({ "type": "string", "maxLength": super::query_text::MAX_CHARS, "pattern": super::query_text::PATTERN })
}

fn enum_of(names: impl IntoIterator<Item = &'static str>) -> Value {
    json!({ "type": "string", "enum": names.into_iter().collect::<Vec<_>>() })
}

fn paging(extra: &[(&str, Value, &str)]) -> Value {
    let mut p = extra.to_vec();
    p.push(limit());
    p.push((
        "after",
        json!({ "type": "string", "pattern": Cursor::PATTERN, "maxLength": 55 }),
        "The `next` cursor of the previous page, as it was given",
    ));
    query(&p)
}

/// The document for this process's configuration: the kinds it cannot
/// create drops of (a partner kind without a partner client) are left out
/// of `DropCreate`. Built once per such set.
pub fn spec_for(checker: &Checker) -> Arc<Value> {
    type Built = Vec<(Vec<&'static str>, Arc<Value>)>;
    static DOCS: Mutex<Built> = Mutex::new(Vec::new());
    let kinds = checker.kinds();
    let unavailable: Vec<&'static str> = kinds
        .all()
        .filter(|k| k.unavailable(checker).is_some())
        .map(|k| k.name())
        .collect();
    let Ok(mut docs) = DOCS.lock() else {
        return Arc::new(build_for(kinds, &unavailable));
    };
    if let Some((_, doc)) = docs.iter().find(|(u, _)| *u == unavailable) {
        return doc.clone();
    }
    let doc = Arc::new(build_for(kinds, &unavailable));
    docs.push((unavailable, doc.clone()));
    doc
}

/// The kind names and every kind's secret schema.
fn kind_schemas(kinds: &Registry) -> (Value, Value) {
    let names: Vec<&str> = kinds.names();
    let secrets: Vec<Value> = kinds.all().map(|k| k.secret_schema()).collect();
    (
        json!({ "type": "string", "enum": names, "description": kinds
            .all()
            .map(|k| format!("`{}`: {}", k.name(), k.summary()))
            .collect::<Vec<_>>()
            .join("; ") }),
        json!({ "oneOf": secrets }),
    )
}

/// `DropCreate`: one schema per kind drops can be created of, each in two
/// forms (a named or the default profile; explicit `required`/`optional`
/// lists), so that every combination the server refuses — a profile of
/// another kind, a resource it does not have, a release mode it does not
/// allow, a profile and lists together, `optional` alone — the document
/// refuses too. `null` is the same as leaving a field out.
fn drop_create(kinds: &Registry, unavailable: &[&str]) -> Value {
    let shown_line =
        json!({ "type": "string", "maxLength": 200, "pattern": shown_pattern(false, true) });
    let common = json!({
        "org": shown_line.clone(),
        "note": { "type": ["string", "null"], "maxLength": 2000, "pattern": shown_pattern(true, false), "description": "Shown to the customer; line breaks allowed; blank means none" },
        "expires_in": { "type": ["integer", "null"], "minimum": crate::domain::drop::EXPIRES_IN.start(), "maximum": crate::domain::drop::EXPIRES_IN.end(), "default": crate::domain::drop::DEFAULT_EXPIRES_IN },
        "max_attempts": { "type": ["integer", "null"], "minimum": crate::domain::drop::MAX_ATTEMPTS.start(), "maximum": crate::domain::drop::MAX_ATTEMPTS.end(), "default": crate::domain::drop::DEFAULT_MAX_ATTEMPTS },
        "contact": { "oneOf": [r("Contact"), { "type": "null" }] },
        "external_id": { "type": ["string", "null"], "minLength": 1, "maxLength": 200, "pattern": shown_pattern(false, false), "description": "The vendor's own id for this customer; unique among open drops (409)" },
        "metadata": { "oneOf": [r("Metadata"), { "type": "null" }] },
        "send_to": send_to(),
    });
    let default = kinds.default().map(|k| k.name());
    let mut variants = Vec::new();
    for k in kinds.all().filter(|k| !unavailable.contains(&k.name())) {
        let resources: Vec<&str> = k.resources().iter().map(|r| r.name).collect();
        let mut profiles: Vec<Value> = k.profiles().iter().map(|p| json!(p.name)).collect();
        profiles.push(Value::Null);
        let mut modes: Vec<Value> = k
            .release_modes()
            .0
            .iter()
            .map(|m| json!(m.as_str()))
            .collect();
        modes.push(Value::Null);
        let is_default = default == Some(k.name());
        let kind = if is_default {
            json!({ "enum": [k.name(), null], "description": "Left out or null: this kind" })
        } else {
            json!({ "const": k.name() })
        };
        let list = json!({ "type": "array", "minItems": 1, "items": { "enum": resources } });
        let nullable_list = json!({ "type": ["array", "null"], "items": { "enum": resources } });
        for explicit in [false, true] {
            let mut props = common.clone();
            props["kind"] = kind.clone();
            props["release"] =
                json!({ "enum": modes, "description": "Left out or null: the kind's first mode" });
            let mut required = vec!["org"];
            if !is_default {
                required.push("kind");
            }
            if explicit {
                props["profile"] = json!({ "type": "null" });
                props["required"] = list.clone();
                props["optional"] = nullable_list.clone();
                required.push("required");
            } else {
                props["profile"] = json!({ "enum": profiles, "description": "Left out or null: the kind's first (default) profile" });
                props["required"] = json!({ "type": "null" });
                props["optional"] = json!({ "type": "null" });
            }
            let title = format!(
                "{} with {}",
                k.name(),
                if explicit {
                    "explicit resource lists"
                } else {
                    "a named profile"
                }
            );
            variants.push(json!({ "title": title, "type": "object", "additionalProperties": false, "required": required, "properties": props }));
        }
    }
    json!({ "oneOf": variants })
}

/// `send_to` (SPEC §15): where keydrop e-mails the link.
fn send_to() -> Value {
    json!({ "oneOf": [email_schema(), { "type": "null" }], "description": "E-mail the link to this address (SPEC §15); a 422 when keydrop has no mail server (KEYDROP_SMTP_URL)" })
}

/// The e-mail addresses [`crate::domain::contact::check_email`] takes, with
/// the surrounding whitespace it trims.
fn email_schema() -> Value {
    let space = "[\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]*";
    let atom = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
    let label = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
    json!({
        "type": "string",
        "maxLength": crate::domain::contact::EMAIL_MAX,
        "pattern": format!("^{space}{atom}(?:\\.{atom})*@{label}(?:\\.{label})+{space}$"),
        // The local part is at most 64 characters.
        "not": { "pattern": "[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{65}@" },
        "description": "local@domain: ASCII letters, digits and .!#$%&'*+/=?^_`{|}~- before the @ (at most 64, no leading, trailing or doubled dot), at least two dot-separated labels after it"
    })
}

/// The document with every kind creatable.
pub fn build(kinds: &Registry) -> Value {
    build_for(kinds, &[])
}

/// The document for the kinds of `kinds`, less `unavailable` ones in `DropCreate`.
pub fn build_for(kinds: &Registry, unavailable: &[&str]) -> Value {
    let (kind_schema, secret_schema) = kind_schemas(kinds);
    let time = json!({ "type": "string", "format": "date-time" });
    let uuid = uuid_schema();
    let nullable_time = json!({ "type": ["string", "null"], "format": "date-time" });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "keydrop internal API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Staff create one-time upload links (drops); ingestion workers claim, read and acknowledge the credentials customers submitted. Every call needs `Authorization: Bearer kd_…`. Errors are always `{\"error\":{\"code\",\"message\"}}`. Times are RFC 3339 UTC; ids are UUIDs."
        },
        "servers": [{ "url": "/api/v1" }],
        "security": [{ "bearer": [] }],
        "paths": {
            "/drops": {
                "post": with(op("Create a drop; the response holds the link, shown only this once", &roles(Capability::ManageDrops),
                    vec![ok("201", "The new drop with its `url`", Some(r("DropCreated"))), err("400"),
                        ("409".to_owned(), json!({ "description": "Another drop that is not revoked has this `external_id`", "content": { "application/json": { "schema": r("Error") } } })),
                        err("413"), err("415"), err("422")]),
                    "requestBody", body("DropCreate")),
                "get": with(op("List drops, newest first", &roles(Capability::ReadDrops),
                    vec![ok("200", "A page of drops", Some(json!({ "type": "object", "required": ["drops", "next"], "properties": { "drops": { "type": "array", "items": r("Drop") }, "next": { "type": ["string", "null"] } } }))), err("422")]),
                    "parameters", paging(&[
                        ("state", enum_of(DropState::ALL.map(DropState::as_str)), "Only drops in this state"),
                        ("external_id", text_filter(), "Only drops with exactly this `external_id` (revoked ones included)"),
                    ]))
            },
            "/drops/{id}": {
                "get": with(op("A drop, with its credential's metadata when there is one", &roles(Capability::ReadDrops),
                    vec![ok("200", "The drop", Some(r("DropWithCredential"))), err("404")]), "parameters", id_param("drop"))
            },
            "/drops/{id}/revoke": {
                "post": with(op("Revoke an open drop", &roles(Capability::ManageDrops),
                    vec![ok("200", "The revoked drop", Some(r("Drop"))), err("404"), err("409")]), "parameters", id_param("drop"))
            },
            "/drops/{id}/send": {
                "post": with(with(op("E-mail a new link for an open drop; the previous link answers 410 from now on (SPEC §15)", &roles(Capability::ManageDrops),
                    vec![ok("200", "The drop, its new link on its way", Some(r("Drop"))), err("400"), err("404"), err("409"), err("413"), err("415"), err("422")]), "parameters", id_param("drop")),
                    "requestBody", json!({ "required": false, "content": { "application/json": { "schema": r("SendRequest") } } }))
            },
            "/credentials": {
                "get": with(op("List credentials (metadata only), newest first", &roles(Capability::ReadCredentials),
                    vec![ok("200", "A page of credentials", Some(json!({ "type": "object", "required": ["credentials", "next"], "properties": { "credentials": { "type": "array", "items": r("Credential") }, "next": { "type": ["string", "null"] } } }))), err("422")]),
                    "parameters", paging(&[
                        ("status", enum_of(Status::ALL.map(Status::as_str)), "Only this status"),
                        ("delivery", enum_of(Delivery::ALL.map(Delivery::as_str)), "Only this delivery state"),
                    ]))
            },
            "/credentials/claim": {
                "post": with(op("Lease the oldest verified credential that is waiting or whose lease ran out, with its secret", &roles(Capability::Release),
                    vec![ok("200", "Leased", Some(r("Claim"))), ok("204", "Nothing to claim", None), err("400"), err("413"), err("415"), err("422")]),
                    "requestBody", json!({ "required": false, "content": { "application/json": { "schema": r("ClaimRequest") } } }))
            },
            "/credentials/{id}": {
                "get": with(op("A credential's metadata", &roles(Capability::ReadCredentials),
                    vec![ok("200", "The credential", Some(r("Credential"))), err("404")]), "parameters", id_param("credential")),
                "delete": with(op("Destroy the ciphertext and wrapped data key; metadata stays", &roles(Capability::Destroy),
                    vec![ok("200", "The credential, `delivery: destroyed`", Some(r("Credential"))), err("404")]), "parameters", id_param("credential"))
            },
            "/credentials/{id}/ack": {
                "post": with(with(op("Acknowledge delivery under the current lease", &roles(Capability::Release),
                    vec![ok("200", "The credential, now delivered", Some(r("Credential"))), err("400"), err("404"), err("409"), err("413"), err("415"), err("422")]),
                    "parameters", id_param("credential")), "requestBody", body("AckRequest"))
            },
            "/credentials/{id}/secret": {
                "get": with(op("Read the secret (audited); 409 for a `vend` credential", &roles(Capability::Release),
                    vec![ok("200", "The secret", Some(r("Secret"))), err("404"), err("409"), err("410")]), "parameters", id_param("credential"))
            },
            "/credentials/{id}/access-token": {
                "post": with(op("A Greenhouse access token of a `vend` credential, valid at least 5 minutes (audited, never the token itself)", &roles(Capability::Release),
                    vec![ok("200", "The access token", Some(r("AccessToken"))), err("404"), err("409"), err("410"), err("503")]), "parameters", id_param("credential"))
            },
            "/credentials/{id}/relink": {
                "post": with(with(op("A new drop whose credential will replace this one: the same org, kind, release, contact, external_id, metadata and profile unless given; the link is shown only in this response", &roles(Capability::ManageDrops),
                    vec![ok("201", "The new drop, with its link once and `replaces`", Some(r("DropCreated"))), err("400"), err("404"), err("409"), err("413"), err("415"), err("422")]), "parameters", id_param("credential")),
                    "requestBody", json!({ "required": false, "content": { "application/json": { "schema": r("RelinkRequest") } } }))
            },
            "/credentials/{id}/verify": {
                "post": with(op("Re-run the Greenhouse check; the caller never sees the secret", &roles(Capability::Recheck),
                    vec![ok("200", "The credential with the new report", Some(r("Credential"))), err("404"), err("410")]), "parameters", id_param("credential"))
            },
            "/tokens": {
                "post": with(op("Create an API token; the token is shown only this once", &roles(Capability::ManageTokens),
                    vec![ok("201", "The new token", Some(r("TokenCreated"))), err("400"), err("413"), err("415"), err("422")]),
                    "requestBody", body("TokenCreate")),
                "get": op("List API tokens (never their secrets)", &roles(Capability::ManageTokens),
                    vec![ok("200", "All tokens", Some(json!({ "type": "object", "required": ["tokens"], "properties": { "tokens": { "type": "array", "items": r("Token") } } })))])
            },
            "/tokens/{id}": {
                "delete": with(op("Revoke an API token: at once in the process that serves this call, within 2 s in every other (the spec bound is 5 s)", &roles(Capability::ManageTokens),
                    vec![ok("200", "The revoked token", Some(r("Token"))), err("404")]), "parameters", id_param("token"))
            },
            "/audit": {
                "get": with(op("The audit log, oldest first, optionally filtered; filters combine with each other and with `after`/`limit`", &roles(Capability::ReadAudit),
                    vec![ok("200", "A page of events", Some(json!({ "type": "object", "required": ["events", "next"], "properties": { "events": { "type": "array", "items": r("AuditEvent") }, "next": { "type": ["string", "null"] } } }))), err("422")]),
                    "parameters", query(&[
                        ("after", json!({ "type": "integer", "minimum": 0, "maximum": i64::MAX }), "Events with a greater seq (the `next` of the previous page)"),
                        limit(),
                        ("subject", text_filter(), "Only events about exactly this subject, e.g. `drop:<id>`, `credential:<id>`, `token:<id>`"),
                        ("action", text_filter(), "Only this action (`credential.claim`), or, ending in `.`, every action with that prefix (`credential.`)"),
                        ("actor", text_filter(), "Only events caused by exactly this actor: `token:<id>`, `user:<e-mail>`, `cli`, `public`, `system`"),
                        ("since", json!({ "type": "string", "format": "date-time" }), "Only events at or after this RFC 3339 time"),
                        ("until", json!({ "type": "string", "format": "date-time" }), "Only events before this RFC 3339 time"),
                    ]))
            },
            "/webhooks": {
                "post": with(op("Register a webhook endpoint; the response holds its signing secret, shown only this once", &roles(Capability::ManageWebhooks),
                    vec![ok("201", "The endpoint with its `secret`", Some(r("WebhookCreated"))), err("400"), err("413"), err("415"), err("422")]),
                    "requestBody", body("WebhookCreate")),
                "get": op("List webhook endpoints (never their secrets)", &roles(Capability::ManageWebhooks),
                    vec![ok("200", "All endpoints", Some(json!({ "type": "object", "required": ["webhooks"], "properties": { "webhooks": { "type": "array", "items": r("Webhook") } } })))])
            },
            "/webhooks/{id}": {
                "get": with(op("A webhook endpoint", &roles(Capability::ManageWebhooks), vec![ok("200", "The endpoint", Some(r("Webhook"))), err("404")]), "parameters", id_param("webhook")),
                "patch": with(with(op("Change an endpoint's events, description or enabled flag", &roles(Capability::ManageWebhooks),
                    vec![ok("200", "The endpoint", Some(r("Webhook"))), err("400"), err("404"), err("413"), err("415"), err("422")]),
                    "parameters", id_param("webhook")), "requestBody", body("WebhookUpdate")),
                "delete": with(op("Delete an endpoint and its deliveries", &roles(Capability::ManageWebhooks), vec![ok("200", "The deleted endpoint", Some(r("Webhook"))), err("404")]), "parameters", id_param("webhook"))
            },
            "/webhooks/{id}/rotate-secret": {
                "post": with(op("A new signing secret, shown only this once; for 24 h deliveries are signed with both", &roles(Capability::ManageWebhooks),
                    vec![ok("200", "The new secret", Some(json!({ "type": "object", "required": ["id", "secret"], "properties": { "id": uuid, "secret": { "type": "string" }, "previous_secret_valid_for_s": { "type": "integer" } } }))), err("404"), err("422")]),
                    "parameters", id_param("webhook"))
            },
            "/webhooks/{id}/deliveries": {
                "get": with(op("Deliveries of an endpoint, newest first (kept 30 days)", &roles(Capability::ManageWebhooks),
                    vec![ok("200", "Deliveries", Some(json!({ "type": "object", "required": ["deliveries"], "properties": { "deliveries": { "type": "array", "items": r("Delivery") } } }))), err("404"), err("422")]),
                    "parameters", json!([id_param("webhook")[0], query(&[limit()])[0]]))
            },
            "/webhooks/{id}/deliveries/{delivery_id}/retry": {
                "post": with(op("Send a delivery again now (409 while a dispatcher is sending it)", &roles(Capability::ManageWebhooks),
                    vec![ok("202", "Queued", Some(json!({ "type": "object", "properties": { "id": uuid, "status": { "type": "string" } } }))), err("404"), err("409")]),
                    "parameters", json!([id_param("webhook")[0], { "name": "delivery_id", "in": "path", "required": true, "schema": uuid_schema() }]))
            },
            "/webhooks/{id}/ping": {
                "post": with(op("Queue a `webhook.ping` for this endpoint", &roles(Capability::ManageWebhooks),
                    vec![ok("202", "Queued", Some(json!({ "type": "object", "properties": { "webhook_id": { "type": "string" } } }))), err("404")]),
                    "parameters", id_param("webhook"))
            },
            "/openapi.json": {
                "get": op("This document", "any", vec![ok("200", "OpenAPI 3 document", Some(json!({ "type": "object" })))])
            }
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "description": "An API token: `kd_` followed by 86 base64url characters (64 for tokens minted before 2026-12-06)" } },
            "schemas": {
                "Error": { "type": "object", "required": ["error"], "properties": { "error": { "type": "object", "required": ["code", "message"], "properties": { "code": { "type": "string", "description": "snake_case" }, "message": { "type": "string" } } } } },
                "Kind": kind_schema,
                "WebhookCreate": { "type": "object", "additionalProperties": false, "required": ["url"], "properties": {
                    "url": { "type": "string", "format": "uri", "maxLength": 2048, "description": "https on a public address, without user name or password (plain http and private addresses only with KEYDROP_WEBHOOK_ALLOW_PRIVATE); its host must resolve, and to public addresses only" },
                    "events": { "type": ["array", "null"], "minItems": 1, "maxItems": 32, "items": { "type": "string", "enum": crate::domain::webhook::TYPES }, "description": "Left out or null: every type" },
                    "description": { "type": ["string", "null"], "maxLength": 500, "pattern": super::query_text::PATTERN } } },
                "WebhookUpdate": { "type": "object", "additionalProperties": false, "properties": {
                    "events": { "type": ["array", "null"], "minItems": 1, "items": { "type": "string", "enum": crate::domain::webhook::TYPES }, "description": "null: every type" },
                    "description": { "type": ["string", "null"], "maxLength": 500, "pattern": super::query_text::PATTERN },
                    "enabled": { "type": ["boolean", "null"], "description": "null: unchanged" } } },
                "Webhook": { "type": "object", "required": ["id", "url", "events", "enabled", "created_at"], "properties": {
                    "id": uuid, "url": { "type": "string" }, "description": { "type": ["string", "null"] },
                    "events": { "type": ["array", "null"], "items": { "type": "string" } }, "enabled": { "type": "boolean" },
                    "disabled_reason": { "type": ["string", "null"] }, "created_at": time, "updated_at": time } },
                "WebhookCreated": { "allOf": [r("Webhook"), { "type": "object", "required": ["secret"], "properties": { "secret": { "type": "string", "description": "whsec_ + base64 of 32 random bytes; shown only this once" } } }] },
                "Delivery": { "type": "object", "required": ["id", "webhook_id", "type", "status", "attempts"], "properties": {
                    "id": uuid, "webhook_id": { "type": "string", "description": "The `webhook-id` header, the same on every retry" },
                    "type": { "type": "string" }, "status": { "type": "string", "enum": ["pending", "succeeded", "failed"] },
                    "attempts": { "type": "integer" }, "last_status_code": { "type": ["integer", "null"] },
                    "last_error": { "type": ["string", "null"] }, "next_attempt_at": nullable_time, "created_at": time, "updated_at": time } },
                "Profile": { "type": "object", "required": ["name", "required", "optional"], "properties": { "name": { "type": "string" }, "required": { "type": "array", "items": { "type": "string" } }, "optional": { "type": "array", "items": { "type": "string" } } } },
                "Contact": { "type": "object", "additionalProperties": false, "required": ["name", "email"], "description": "The staff member the customer can reach; shown on every page of the link", "properties": {
                    "name": { "type": "string", "maxLength": 200, "pattern": shown_pattern(false, true), "description": "No control, invisible or text-direction characters (as `org`); trimmed, not blank" },
                    "email": email_schema()
                } },
                "Metadata": { "type": "object", "additionalProperties": { "type": "string" }, "description": "Staff's own key/value notes, at most 4096 bytes as JSON; never shown to the customer, copied onto the credential" },
                "DropCreate": drop_create(kinds, unavailable),
                "Release": { "type": "string", "enum": ["handoff", "vend"], "description": "handoff: workers receive the secret; vend: only short-lived access tokens (harvest_v3, harvest_v3_partner). Default: the kind's first mode (handoff for harvest_v3)" },
                "AccessToken": { "type": "object", "required": ["access_token", "token_type", "expires_at", "api_url"], "properties": {
                    "kind": r("Kind"), "access_token": { "type": "string" }, "token_type": { "const": "Bearer" }, "expires_at": time,
                    "api_url": { "type": "string", "description": "Base URL of the Harvest API the token is for" }
                } },
                "Drop": { "type": "object", "required": ["id", "org", "note", "kind", "profile", "release", "contact", "external_id", "metadata", "state", "created_at", "expires_at", "attempts", "max_attempts", "credential_id", "replaces", "send_to", "link_sent_at"], "properties": {
                    "id": uuid, "org": { "type": "string" }, "note": { "type": ["string", "null"] }, "kind": r("Kind"), "profile": r("Profile"), "release": r("Release"),
                    "contact": { "oneOf": [r("Contact"), { "type": "null" }] }, "external_id": { "type": ["string", "null"] }, "metadata": { "oneOf": [r("Metadata"), { "type": "null" }] },
                    "state": { "type": "string", "enum": ["open", "submitted", "expired", "revoked", "locked"] },
                    "created_at": time, "expires_at": time, "attempts": { "type": "integer" }, "max_attempts": { "type": "integer" },
                    "credential_id": { "type": ["string", "null"], "format": "uuid" },
                    "replaces": { "type": ["string", "null"], "format": "uuid", "description": "A relink's drop: the credential its credential replaces once accepted (SPEC §15)" },
                    "send_to": { "type": ["string", "null"], "description": "Where its link was last e-mailed (SPEC §15)" },
                    "link_sent_at": nullable_time
                } },
                "SendRequest": { "type": "object", "additionalProperties": false, "properties": {
                    "send_to": { "oneOf": [email_schema(), { "type": "null" }], "description": "Default: where its link was e-mailed before (a 422 when it never was)" }
                } },
                "DropCreated": { "allOf": [r("Drop"), { "type": "object", "required": ["url", "warnings"], "properties": { "url": { "type": "string", "description": "The one-time link; shown only in this response" }, "warnings": { "type": "array", "items": { "type": "string" }, "description": "What staff should know before sending the link (e.g. harvest_v1: Greenhouse retired these keys); the drop is created all the same" } } }] },
                "DropWithCredential": { "allOf": [r("Drop"), { "type": "object", "properties": { "credential": r("Credential") } }] },
                "Verification": { "type": "object", "required": ["outcome", "checked_at", "granted", "missing_required", "missing_optional", "message"], "properties": {
                    "outcome": { "type": "string", "enum": ["verified", "insufficient", "invalid", "pending"] }, "checked_at": time,
                    "granted": { "type": "array", "items": { "type": "string" } }, "missing_required": { "type": "array", "items": { "type": "string" } },
                    "missing_optional": { "type": "array", "items": { "type": "string" } }, "message": { "type": "string" },
                    "organization": { "oneOf": [{ "type": "null" }, r("NamedObject")], "description": "The Greenhouse organisation, when Greenhouse said" },
                    "greenhouse_user": { "oneOf": [{ "type": "null" }, r("NamedObject")], "description": "The Greenhouse user the credential acts as, when Greenhouse said" },
                    "organization_mismatch": { "type": "boolean", "description": "Greenhouse named an organisation other than the drop's org (case, punctuation and legal forms aside): the credential may belong to another account" }
                } },
                "NamedObject": { "type": "object", "required": ["id", "name"], "properties": { "id": { "type": "string" }, "name": { "type": "string" } } },
                "Credential": { "type": "object", "required": ["id", "drop_id", "org", "external_id", "metadata", "kind", "release", "status", "hint", "verification", "delivery", "created_at", "delivered_at", "destroyed_at", "superseded_by", "last_checked_at", "last_check_failed"], "properties": {
                    "id": uuid, "drop_id": uuid, "org": { "type": "string" },
                    "external_id": { "type": ["string", "null"], "description": "The drop's, copied when the credential was accepted" },
                    "metadata": { "oneOf": [r("Metadata"), { "type": "null" }], "description": "The drop's, copied when the credential was accepted" },
                    "kind": r("Kind"), "release": r("Release"),
                    "status": { "type": "string", "enum": ["pending", "verified", "insufficient", "invalid", "disconnected"] },
                    "hint": { "type": "string", "description": "The last 4 characters of the client id or key" },
                    "verification": r("Verification"),
                    "delivery": { "type": "string", "enum": ["waiting", "leased", "delivered", "destroyed"] },
                    "created_at": time, "delivered_at": nullable_time, "destroyed_at": nullable_time,
                    "superseded_by": { "type": ["string", "null"], "format": "uuid", "description": "The credential of a relink that replaced this one (destroyed with it)" },
                    "last_checked_at": nullable_time,
                    "last_check_failed": { "type": "boolean", "description": "The last health check could not reach Greenhouse (the credential stays verified; it is tried again sooner)" }
                } },
                "Secret": secret_schema,
                "RelinkRequest": { "type": "object", "additionalProperties": false, "properties": {
                    "expires_in": { "type": ["integer", "null"], "minimum": crate::domain::drop::EXPIRES_IN.start(), "maximum": crate::domain::drop::EXPIRES_IN.end(), "default": crate::domain::drop::DEFAULT_EXPIRES_IN },
                    "profile": { "type": ["string", "null"], "description": "A profile of the credential's kind; default: the replaced credential's drop's permissions" },
                    "required": { "type": ["array", "null"], "items": { "type": "string" } },
                    "optional": { "type": ["array", "null"], "items": { "type": "string" } },
                    "send_to": send_to()
                } },
                "ClaimRequest": { "type": "object", "additionalProperties": false, "properties": { "lease_seconds": { "type": ["integer", "null"], "minimum": 10, "maximum": 3600, "default": 300 } } },
                "Claim": { "type": "object", "required": ["credential", "secret", "lease"], "properties": {
                    "credential": r("Credential"), "secret": { "oneOf": [r("Secret"), r("AccessToken")], "description": "The secret; for a `vend` credential an access token instead" },
                    "lease": { "type": "object", "required": ["id", "expires_at"], "properties": { "id": uuid, "expires_at": time } }
                } },
                "AckRequest": { "type": "object", "additionalProperties": false, "required": ["lease_id"], "properties": { "lease_id": uuid_schema() } },
                "TokenCreate": { "type": "object", "additionalProperties": false, "required": ["name", "role"], "properties": { "name": { "type": "string", "maxLength": 100, "pattern": plain_nonblank_pattern(), "description": "No control characters; trimmed, not blank" }, "role": enum_of(Role::ALL.map(Role::as_str)) } },
                "Token": { "type": "object", "required": ["id", "name", "role", "created_at", "revoked_at"], "properties": { "id": uuid, "name": { "type": "string" }, "role": enum_of(Role::ALL.map(Role::as_str)), "created_at": time, "revoked_at": nullable_time } },
                "TokenCreated": { "type": "object", "required": ["id", "name", "role", "token", "created_at"], "properties": { "id": uuid, "name": { "type": "string" }, "role": enum_of(Role::ALL.map(Role::as_str)), "token": { "type": "string", "description": "Shown only in this response" }, "created_at": time } },
                "AuditEvent": { "type": "object", "required": ["seq", "at", "actor", "action", "subject", "ip", "details", "hash"], "properties": {
                    "seq": { "type": "integer" }, "at": time, "actor": { "type": "string" }, "action": { "type": "string" }, "subject": { "type": "string" },
                    "ip": { "type": ["string", "null"] }, "details": { "type": "object", "description": "What the event says about itself; never a secret. Times in it are RFC 3339 UTC" }, "hash": { "type": "string", "description": "SHA-256 hex over the previous hash and this event's canonical content" }
                } }
            }
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::domain::contact::Contact;

    fn re(pattern: &str) -> regex_lite::Regex {
        regex_lite::Regex::new(pattern).unwrap()
    }

    /// Whether `text` fits a string schema: `pattern`, `not.pattern` and the
    /// length bounds (in characters, as JSON Schema counts them).
    fn fits(schema: &Value, text: &str) -> bool {
        let n = text.chars().count();
        let pattern = schema["pattern"]
            .as_str()
            .is_none_or(|p| re(p).is_match(text));
        let not = schema["not"]["pattern"]
            .as_str()
            .is_none_or(|p| !re(p).is_match(text));
        let max = schema["maxLength"].as_u64().is_none_or(|m| n as u64 <= m);
        let min = schema["minLength"].as_u64().is_none_or(|m| n as u64 >= m);
        pattern && not && max && min
    }

    #[test]
    fn cursor_and_id_patterns_are_what_the_server_reads() {
        let id = "0b7e2f4c-7f7c-4b8e-9a51-3f2d9c1e8a6b";
        let cursor = json!({ "pattern": Cursor::PATTERN, "maxLength": 55 });
        for text in [
            format!("1764979200000.{id}"),
            format!("0.{id}"),
            format!("{}.{id}", "9".repeat(18)),
            format!("{}.{id}", "9".repeat(19)),
            format!("-1.{id}"),
            format!("+1.{id}"),
            format!("1.{}", id.to_uppercase()),
            format!("1.{id}\n"),
            format!("1.{}", id.replace('-', "")),
            format!("1 .{id}"),
            format!(".{id}"),
            "1.x".into(),
            String::new(),
        ] {
            assert_eq!(
                fits(&cursor, &text),
                Cursor::decode(&text).is_some(),
                "{text:?}"
            );
        }
        let uuid = uuid_schema();
        for text in [
            id.to_owned(),
            id.to_uppercase(),
            id.replace('-', ""),
            format!("{{{id}}}"),
            format!("urn:uuid:{id}"),
            format!("{id}\n"),
            "claim".into(),
        ] {
            assert_eq!(
                fits(&uuid, &text),
                super::super::parse_uuid(&text).is_some(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn text_filter_pattern_is_what_query_text_takes() {
        let schema = text_filter();
        let long = "é".repeat(200);
        let longer = "é".repeat(201);
        for text in [
            "", "cust-1", "a\0b", "a\nb", "\u{85}", "\u{7f}", "\u{200b}", &long, &longer,
        ] {
            let parsed = super::super::query_text::QueryText::parse(text).is_ok();
            assert_eq!(fits(&schema, text), parsed, "{text:?}");
        }
    }

    #[test]
    fn email_schema_is_what_a_contact_takes() {
        let schema = email_schema();
        let ok = |email: &str| {
            Contact {
                name: "Jane".into(),
                email: email.into(),
            }
            .validate("contact")
            .is_ok()
        };
        let local64 = format!("{}@example.com", "a".repeat(64));
        let local65 = format!("{}@example.com", "a".repeat(65));
        let dotted65 = format!("{}.b@example.com", "a".repeat(63));
        let label63 = format!("a@{}.com", "b".repeat(63));
        let label64 = format!("a@{}.com", "b".repeat(64));
        let long = format!("a@{}.com", vec!["b".repeat(60); 4].join("."));
        let padded = format!(" {} ", &long[..long.len() - 2]);
        for email in [
            "jane@example.com",
            " jane.doe+keys@sub.example.co.uk ",
            "\tjane@example.com\u{3000}\u{85}",
            "o'brien&co@example.com",
            "x@a-b.io",
            "a/b=c?d^e`f{g|h}i~j@example.com",
            "",
            "jane",
            "@example.com",
            "jane@",
            "jane@localhost",
            "jane@@example.com",
            "ja ne@example.com",
            ".jane@example.com",
            "jane.@example.com",
            "ja..ne@example.com",
            "jane@-example.com",
            "jane@example-.com",
            "jane@example..com",
            "jane@exa_mple.com",
            "\"jane\"@example.com",
            "jäne@example.com",
            "jane@exam\nple.com",
            "<jane@example.com>",
            "jane@example.com\u{200b}",
            &local64,
            &local65,
            &dotted65,
            &label63,
            &label64,
            &long,
            &padded,
        ] {
            assert_eq!(fits(&schema, email), ok(email), "{email:?}");
        }
    }

    #[test]
    fn drop_create_has_one_form_per_kind_and_profile_choice() {
        let doc = build(crate::greenhouse::registry());
        let variants = doc["components"]["schemas"]["DropCreate"]["oneOf"]
            .as_array()
            .unwrap();
        assert_eq!(
            variants.len(),
            2 * crate::greenhouse::registry().names().len()
        );
        let partner = crate::greenhouse::registry()
            .all()
            .find(|k| k.connector().is_some())
            .map(|k| k.name())
            .unwrap();
        let without = build_for(crate::greenhouse::registry(), &[partner]);
        let listed = without["components"]["schemas"]["DropCreate"].to_string();
        assert!(!listed.contains(&format!("\"{partner}\"")), "{partner}");
    }
}
