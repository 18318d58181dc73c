//! The internal JSON API under `/api/v1`.

pub mod audit;
pub mod credentials;
pub mod drops;
pub mod openapi;
pub mod query_text;
pub mod tokens;
pub mod views;
pub mod webhooks;

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
        // `claim` before `{id}` routes so "claim" is never taken for an id,
        // whatever the method: its other methods are a 405.
        .service(credentials::claim)
        .service(super::methods::api_path("/credentials/claim"))
        .service(credentials::list)
        .service(credentials::get)
        .service(credentials::ack)
        .service(credentials::secret)
        .service(credentials::access_token)
        .service(credentials::verify)
        .service(credentials::destroy)
        .service(webhooks::create)
        .service(webhooks::list)
        .service(webhooks::get)
        .service(webhooks::update)
        .service(webhooks::remove)
        .service(webhooks::rotate_secret)
        .service(webhooks::deliveries)
        .service(webhooks::retry)
        .service(webhooks::ping)
        .service(openapi::document);
}

/// The id in a path, as the canonical UUID text; anything else is a 404
/// naming `what` (an id that cannot exist is simply not found).
pub fn path_id(id: &str, what: &str) -> Result<String, super::error::ApiError> {
    uuid::Uuid::parse_str(id)
        .map(|u| u.to_string())
        .map_err(|_| super::error::ApiError::not_found(what))
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

/// Largest page of a list call; a larger `limit` is clamped to it.
pub const MAX_PAGE: i64 = 500;
/// The page size when no `limit` is given.
pub const DEFAULT_PAGE: i64 = 100;

/// `limit` for list calls: default [`DEFAULT_PAGE`]; above [`MAX_PAGE`] it is
/// clamped (SPEC §4), however large; zero, negative or not a number: 422.
pub fn page_limit(limit: Option<&str>) -> Result<i64, super::error::ApiError> {
    let Some(text) = limit.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(DEFAULT_PAGE);
    };
    let digits = text.strip_prefix('+').unwrap_or(text);
    match text.parse::<i64>() {
        Ok(n) if n >= 1 => Ok(n.min(MAX_PAGE)),
        // Too many digits for an i64: still just "very large".
        Err(_) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => Ok(MAX_PAGE),
        _ => Err(super::error::ApiError::unprocessable(format!(
            "limit must be a whole number from 1 (larger than {MAX_PAGE} means {MAX_PAGE})"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_limits_clamp_large_and_refuse_small() {
        assert_eq!(page_limit(None).unwrap(), DEFAULT_PAGE);
        assert_eq!(page_limit(Some("")).unwrap(), DEFAULT_PAGE);
        assert_eq!(page_limit(Some("1")).unwrap(), 1);
        assert_eq!(page_limit(Some("500")).unwrap(), 500);
        assert_eq!(page_limit(Some("501")).unwrap(), MAX_PAGE);
        assert_eq!(page_limit(Some("+7")).unwrap(), 7);
        assert_eq!(
            page_limit(Some("99999999999999999999999999")).unwrap(),
            MAX_PAGE
        );
        for bad in [
            "0",
            "-1",
            "-99999999999999999999999",
            "abc",
            "1.5",
            "+",
            "1e3",
        ] {
            assert!(page_limit(Some(bad)).is_err(), "{bad}");
        }
    }
}
