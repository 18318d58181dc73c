//! Text filters of the list calls (`?external_id=`, `?subject=`, `?action=`):
//! a control character (NUL above all: PostgreSQL cannot store it) or an
//! over-long value is a clear 422 in the API's error shape, on both
//! backends, and never reaches the database; what the database refuses
//! anyway (SQLSTATE 22021) is a 422 too, never a 500.

use crate::on_both_backends;
use crate::support::helpers::{spawn_app, Backend, Fetch};
use keydrop::store::{DropFilter, StoreError};
use keydrop::web::error::ApiError;
use serde_json::Value;

on_both_backends!(
    control_characters_and_long_text_in_a_filter_are_a_422,
    printable_text_filters_still_filter,
    text_the_database_cannot_store_is_a_422_not_a_500,
);

/// Every free-text filter of every list call.
const TEXT_FILTERS: &[(&str, &str)] = &[
    ("/api/v1/drops", "external_id"),
    ("/api/v1/audit", "subject"),
    ("/api/v1/audit", "action"),
];

async fn control_characters_and_long_text_in_a_filter_are_a_422(backend: Backend) {
    let app = spawn_app(backend).await;
    let long = "x".repeat(201);
    let bad: &[&str] = &[
        "%00",
        "a%00b",
        "cust%0A1",
        "%0D",
        "%09tab",
        "%1B%5B31m",
        "%7F",
        "%C2%85", // U+0085, a C1 control (NEL)
        &long,
    ];
    for (path, name) in TEXT_FILTERS {
        for value in bad {
            let res = app
                .get(&format!("{path}?{name}={value}"), Some(&app.admin_token))
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            assert_eq!(status, 422, "{path}?{name}={value}: {body}");
            assert_eq!(body["error"]["code"], "invalid_request", "{body}");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(
                message.contains("control character") || message.contains("200 characters"),
                "{message}"
            );
            assert!(
                !message.contains("xxxxxxxx"),
                "the value is echoed: {message}"
            );
        }
    }
}

async fn printable_text_filters_still_filter(backend: Backend) {
    let app = spawn_app(backend).await;
    let longest = "é".repeat(200);
    for (path, name) in TEXT_FILTERS {
        for value in ["", "cust-1", "caf%C3%A9", "drop%3Aabc", longest.as_str()] {
            let status = app
                .get(&format!("{path}?{name}={value}"), Some(&app.admin_token))
                .fetch_status()
                .await;
            assert_eq!(status, 200, "{path}?{name}={value}");
        }
    }
}

/// The backstop: a NUL that does reach the store (a caller without the
/// API's checks) is refused by PostgreSQL with SQLSTATE 22021; the API's
/// one classification turns that into a 422, not a 500. SQLite stores NUL
/// and simply finds nothing.
async fn text_the_database_cannot_store_is_a_422_not_a_500(backend: Backend) {
    let app = spawn_app(backend).await;
    let filter = DropFilter {
        state: None,
        external_id: Some("cust\u{0}1".to_owned()),
        ..DropFilter::default()
    };
    let listed = app.store.list_drops(&filter, None, 10).await;
    match backend {
        Backend::Sqlite => assert!(listed.unwrap().is_empty()),
        Backend::Postgres => {
            let err: StoreError = listed.unwrap_err();
            let shown = format!("{err}");
            let api = ApiError::from(err);
            let res = actix_web::ResponseError::error_response(&api);
            assert_eq!(res.status().as_u16(), 422, "{shown}");
            assert_eq!(api.code(), "invalid_request");
        }
    }
}
