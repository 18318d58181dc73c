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
        .service(drops::send)
        // `claim` before `{id}` routes so "claim" is never taken for an id,
        // whatever the method: its other methods are a 405.
        .service(credentials::claim)
        .service(super::middleware::methods::api_path("/credentials/claim"))
        .service(credentials::list)
        .service(credentials::get)
        .service(credentials::ack)
        .service(credentials::secret)
        .service(credentials::access_token)
        .service(credentials::verify)
        .service(credentials::relink)
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

/// An id as the API writes and reads it: the hyphenated UUID form, either
/// case ([`UUID_PATTERN`]); the braced, URN and unhyphenated forms that
/// `uuid` would also take are not ids of this API.
pub fn parse_uuid(text: &str) -> Option<uuid::Uuid> {
    (text.len() == 36)
        .then(|| uuid::Uuid::parse_str(text).ok())
        .flatten()
}

/// [`parse_uuid`] as the OpenAPI document states it.
pub const UUID_PATTERN: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// A JSON body's id field, read by [`parse_uuid`].
pub fn uuid_field<'de, D: serde::Deserializer<'de>>(d: D) -> Result<uuid::Uuid, D::Error> {
    let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
    parse_uuid(&text).ok_or_else(|| {
        serde::de::Error::custom("invalid value: a string, expected a UUID (8-4-4-4-12 hex digits)")
    })
}

/// The id in a path, as the canonical UUID text; anything else is a 404
/// naming `what` (an id that cannot exist is simply not found).
pub fn path_id(id: &str, what: &str) -> Result<String, super::error::ApiError> {
    parse_uuid(id)
        .map(|u| u.to_string())
        .ok_or_else(|| super::error::ApiError::not_found(what))
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
/// Digits only, as the OpenAPI document's `integer` (no sign, no spaces);
/// empty is as if absent.
pub fn page_limit(limit: Option<&str>) -> Result<i64, super::error::ApiError> {
    let Some(text) = limit.filter(|s| !s.is_empty()) else {
        return Ok(DEFAULT_PAGE);
    };
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(super::error::ApiError::unprocessable(format!(
            "limit must be a whole number from 1 (larger than {MAX_PAGE} means {MAX_PAGE})"
        )));
    }
    match text.parse::<i64>() {
        Ok(n) if n >= 1 => Ok(n.min(MAX_PAGE)),
        Ok(_) => Err(super::error::ApiError::unprocessable(format!(
            "limit must be a whole number from 1 (larger than {MAX_PAGE} means {MAX_PAGE})"
        ))),
        // Too many digits for an i64: still just "very large".
        Err(_) => Ok(MAX_PAGE),
    }
}

/// A sequence number from the query (`after` of the audit log): digits
/// only, at most `i64::MAX`; empty is as if absent (`None`).
pub fn query_seq(text: Option<&str>, name: &str) -> Result<Option<i64>, super::error::ApiError> {
    let Some(text) = text.filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    text.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| text.parse::<i64>().ok())
        .flatten()
        .map(Some)
        .ok_or_else(|| {
            super::error::ApiError::unprocessable(format!(
                "{name} must be a whole number from 0 to {}",
                i64::MAX
            ))
        })
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
            "+7",
            " 7",
            "7 ",
        ] {
            assert!(page_limit(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn sequence_numbers_are_digits_up_to_i64_max() {
        assert_eq!(query_seq(None, "after").unwrap(), None);
        assert_eq!(query_seq(Some(""), "after").unwrap(), None);
        assert_eq!(query_seq(Some("0"), "after").unwrap(), Some(0));
        assert_eq!(
            query_seq(Some("9223372036854775807"), "after").unwrap(),
            Some(i64::MAX)
        );
        for bad in [
            "-1",
            "+1",
            " 1",
            "1.0",
            "9223372036854775808",
            "18446744073709551616",
            "x",
        ] {
            assert!(query_seq(Some(bad), "after").is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_are_hyphenated_uuids_only() {
        let id = "0b7e2f4c-7f7c-4b8e-9a51-3f2d9c1e8a6b";
        assert_eq!(path_id(id, "x").unwrap(), id);
        assert_eq!(path_id(&id.to_uppercase(), "x").unwrap(), id);
        for bad in [
            "0b7e2f4c7f7c4b8e9a513f2d9c1e8a6b",
            "{0b7e2f4c-7f7c-4b8e-9a51-3f2d9c1e8a6b}",
            "urn:uuid:0b7e2f4c-7f7c-4b8e-9a51-3f2d9c1e8a6b",
            "claim",
            "",
        ] {
            assert!(path_id(bad, "x").is_err(), "{bad}");
        }
    }
}
