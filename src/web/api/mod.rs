//! The internal JSON API under `/api/v1`.

pub mod audit;
pub mod credentials;
pub mod drops;
pub mod openapi;
pub mod tokens;
pub mod views;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(tokens::create)
        .service(tokens::list)
        .service(tokens::revoke)
        .service(audit::list)
        .service(drops::create)
        .service(drops::list)
        .service(drops::get)
        .service(drops::revoke)
        // `claim` before `{id}` routes so "claim" is never taken for an id.
        .service(credentials::claim)
        .service(credentials::list)
        .service(credentials::get)
        .service(credentials::ack)
        .service(credentials::secret)
        .service(credentials::verify)
        .service(credentials::destroy)
        .service(openapi::document);
}

/// An optional enum filter from the query string; empty means none.
pub fn filter<T>(
    value: Option<&str>,
    parse: fn(&str) -> Option<T>,
    message: &str,
) -> Result<Option<T>, super::error::ApiError> {
    value
        .filter(|s| !s.is_empty())
        .map(|s| parse(s).ok_or_else(|| super::error::ApiError::unprocessable(message)))
        .transpose()
}

/// The `after` cursor of a list call.
pub fn after(value: Option<&str>) -> Result<Option<crate::store::Cursor>, super::error::ApiError> {
    filter(
        value,
        crate::store::Cursor::decode,
        "after is not a cursor from this API",
    )
}

/// The `next` cursor: the last row's, when the page was full.
pub fn next<T>(
    items: &[T],
    limit: i64,
    cursor: impl Fn(&T) -> crate::store::Cursor,
) -> Option<String> {
    match items.last() {
        Some(last) if i64::try_from(items.len()).unwrap_or(0) == limit => {
            Some(cursor(last).encode())
        }
        _ => None,
    }
}

/// `limit` for list calls: 1…500, default 100.
pub fn page_limit(limit: Option<i64>) -> Result<i64, super::error::ApiError> {
    match limit {
        None => Ok(100),
        Some(n) if (1..=500).contains(&n) => Ok(n),
        Some(_) => Err(super::error::ApiError::unprocessable(
            "limit must be between 1 and 500",
        )),
    }
}
