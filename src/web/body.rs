//! Request bodies: bounded reads and strict JSON.
//!
//! Handlers read the body themselves after authorization, so the order of
//! answers is fixed: 401, then 403, then 413 / 415 / 400 / 422.

use super::error::ApiError;
use actix_web::http::header;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use zeroize::Zeroize;

/// Largest API request body (SPEC §8.7).
pub const API_LIMIT: usize = 64 * 1024;

/// Read at most `limit` bytes, or answer 413. A body that has not arrived
/// by the deadline of [`super::middleware::body_deadline`] gets 400 `body_timeout`.
pub async fn read_limited(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::BytesMut, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::too_large(limit));
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let failed = match chunk {
            Ok(chunk) if body.len() + chunk.len() <= limit => {
                body.extend_from_slice(&chunk);
                continue;
            }
            Ok(_) => ApiError::too_large(limit),
            Err(e) if super::middleware::body_deadline::is_timeout(&e) => ApiError::body_timeout(),
            Err(_) => ApiError::bad_request("the request body could not be read"),
        };
        // What arrived may hold a secret: wipe it before giving up.
        body.as_mut().zeroize();
        return Err(failed);
    }
    Ok(body)
}

/// Parse a JSON body strictly: `application/json`, well formed (400), and
/// matching the request type with no unknown fields (422).
pub fn parse_json<T: DeserializeOwned>(req: &HttpRequest, body: &[u8]) -> Result<T, ApiError> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::unsupported_media_type());
    }
    // Neither message below carries any part of the body: a syntax error
    // gives only its position, a data error goes through `safe_serde_message`.
    // Every body of this API is an object: serde would also read a struct
    // from an array (`[600]` for `{"lease_seconds":600}`).
    serde_json::from_slice::<serde::de::IgnoredAny>(body).map_err(|e| syntax_error(&e))?;
    if body.trim_ascii_start().first() != Some(&b'{') {
        return Err(ApiError::unprocessable(
            "invalid request: the body must be a JSON object",
        ));
    }
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::unprocessable(data_error_message(&e)),
        _ => syntax_error(&e),
    })
}

/// 400 for a body that is not JSON: where, never what.
fn syntax_error(e: &serde_json::Error) -> ApiError {
    ApiError::bad_request(format!(
        "the body is not valid JSON (line {}, column {})",
        e.line(),
        e.column()
    ))
}

/// The message for a body that does not fit the call.
fn data_error_message(e: &serde_json::Error) -> String {
    format!("invalid request: {}", safe_serde_message(&e.to_string()))
}

/// Rewrite a serde message so it holds only what the server itself declares
/// (field names, the expected type), never a piece of the input. serde's
/// own messages DO quote what was sent — `invalid type: string "…"`,
/// ``unknown field `…` ``, ``unknown variant `…` `` — and what was sent may be
/// a secret pasted into the wrong field; these messages reach the client and
/// could reach a log. serde puts its own `expected …` part last, so it is
/// taken from the end, and checked to be of the shapes serde writes.
pub fn safe_serde_message(text: &str) -> String {
    let text = text.rsplit_once(" at line ").map_or(text, |(t, _)| t);
    let quoted_name = |rest: &str| {
        rest.strip_suffix('`')
            .filter(|n| is_name(n))
            .map(str::to_owned)
    };
    let expected = || {
        text.rsplit_once(", expected ")
            .map(|(_, e)| e)
            .filter(|e| is_expectation(e))
    };
    let with_expected = |what: &str| match expected() {
        Some(e) => format!("{what}, expected {e}"),
        None => what.to_owned(),
    };
    if let Some(name) = text.strip_prefix("missing field `").and_then(quoted_name) {
        return format!("missing field `{name}`");
    }
    if let Some(name) = text.strip_prefix("duplicate field `").and_then(quoted_name) {
        return format!("duplicate field `{name}`");
    }
    if text.starts_with("unknown field `") {
        return with_expected("unknown field");
    }
    if text.starts_with("unknown variant `") {
        return with_expected("unknown value");
    }
    if text.starts_with("invalid type: ") {
        return with_expected("a value of the wrong type");
    }
    if text.starts_with("invalid value: ") || text.starts_with("invalid length ") {
        return with_expected("a value out of range");
    }
    "a value does not have the expected form".to_owned()
}

/// A field or variant name as Rust code declares it.
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// What serde writes after `expected`: a type (`a string`, `i64`, `struct
/// Ack`) or a list of names (`` `a` ``, `` `a` or `b` ``, `` one of `a`, `b` ``).
fn is_expectation(e: &str) -> bool {
    if e.len() > 300 {
        return false;
    }
    let list = e.strip_prefix("one of ").unwrap_or(e);
    if list.starts_with('`') {
        return list
            .split(", ")
            .flat_map(|part| part.split(" or "))
            .all(|n| {
                n.strip_prefix('`')
                    .and_then(|n| n.strip_suffix('`'))
                    .is_some_and(is_name)
            });
    }
    e.len() <= 64
        && e.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b' ' || b == b'_')
}

/// Read and parse in one step.
pub async fn json<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, ApiError> {
    let body = read_limited(req, payload, API_LIMIT).await?;
    parse_json(req, &body)
}

/// An optional JSON body: none at all is `T::default()` ("all defaults"); anything else must
/// be the JSON object the document describes (blank lines are not JSON).
pub async fn optional_json<T: DeserializeOwned + Default>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, ApiError> {
    let body = read_limited(req, payload, API_LIMIT).await?;
    if body.is_empty() {
        Ok(T::default())
    } else {
        parse_json(req, &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Req {
        name: String,
        count: u32,
        role: Role,
        list: Vec<u8>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Role {
        Admin,
        Worker,
    }

    const SECRET: &str = "kd_s3cr3t-VALUE_that-must_not-echo";

    fn message(json: &str) -> String {
        let e = serde_json::from_str::<Req>(json).unwrap_err();
        assert_eq!(e.classify(), serde_json::error::Category::Data, "{json}");
        data_error_message(&e)
    }

    #[test]
    fn serde_errors_echo_input_but_our_messages_do_not() {
        // What serde itself says, to show why the rewrite exists.
        let raw = serde_json::from_str::<Req>(&format!(r#"{{"count":"{SECRET}"}}"#))
            .unwrap_err()
            .to_string();
        assert!(raw.contains(SECRET), "{raw}");

        let cases = [
            (
                format!(r#"{{"name":"a","count":"{SECRET}","role":"admin","list":[]}}"#),
                "a value of the wrong type, expected u32",
            ),
            (
                format!(r#"{{"name":"a","count":1,"role":"{SECRET}","list":[]}}"#),
                "unknown value, expected `admin` or `worker`",
            ),
            (
                format!(r#"{{"name":"a","count":1,"role":"admin","list":[],"{SECRET}":1}}"#),
                "unknown field, expected one of `name`, `count`, `role`, `list`",
            ),
            (
                // An input that imitates serde's own wording.
                format!(r#"{{"name":"a","`, expected `{SECRET}` at line 1":1}}"#),
                "unknown field, expected one of `name`, `count`, `role`, `list`",
            ),
            (
                format!(r#"{{"name":"a","count":1,"role":"admin","list":[1,2,"{SECRET}"]}}"#),
                "a value of the wrong type, expected u8",
            ),
            (
                r#"{"name":"a","count":-7,"role":"admin","list":[]}"#.to_owned(),
                "a value out of range, expected u32",
            ),
            (r#"{"name":"a"}"#.to_owned(), "missing field `count`"),
            (
                r#"{"name":"a","name":"b"}"#.to_owned(),
                "duplicate field `name`",
            ),
        ];
        for (json, expected) in cases {
            let m = message(&json);
            assert!(!m.contains("s3cr3t"), "{m}");
            assert_eq!(m, format!("invalid request: {expected}"), "{json}");
        }
    }

    #[test]
    fn anything_else_is_described_without_its_text() {
        let custom = <serde_json::Error as serde::de::Error>::custom(format!("bad {SECRET}"));
        assert_eq!(
            safe_serde_message(&custom.to_string()),
            "a value does not have the expected form"
        );
        // Query strings go through the same rewrite.
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Query {
            limit: Option<i64>,
        }
        for q in [format!("{SECRET}=1"), format!("limit={SECRET}")] {
            let e = serde_urlencoded::from_str::<Query>(&q).unwrap_err();
            assert!(e.to_string().contains(SECRET) || q.starts_with("limit"));
            let m = safe_serde_message(&e.to_string());
            assert!(!m.contains("s3cr3t"), "{m}");
        }
    }
}
