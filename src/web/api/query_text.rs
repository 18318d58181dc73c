//! Free text from a query string: the one type every list filter that takes
//! text (`?external_id=`, `?subject=`, `?action=`) is read into, so raw query
//! text never reaches the store.
//!
//! PostgreSQL cannot store a NUL character in text (SQLSTATE 22021), and no
//! id, subject or action keydrop writes holds a control character, so such
//! a filter could only ever find nothing or fail: it is refused here, before
//! any I/O, with a 422 that names the rule and never the value.

use serde::{Deserialize, Deserializer};

/// The longest filter, in characters (as `external_id` itself, SPEC §2).
pub const MAX_CHARS: usize = 200;

/// The 422 messages: fixed text, which the query error handler passes on
/// as it is ([`QueryText::is_own_message`]); they quote nothing of the query.
const TOO_LONG: &str = "a text filter is at most 200 characters";
const CONTROL: &str =
    "a text filter may not contain control characters (such as NUL, tab or a line break)";

/// The same rule as a JSON Schema `pattern` (Unicode category Cc, which is
/// what [`char::is_control`] tests), for the OpenAPI document.
pub const PATTERN: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$";

/// Validated query text: at most [`MAX_CHARS`] characters, none of them a
/// control character. Empty is allowed and means "no filter" ([`Self::filter`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryText(String);

impl QueryText {
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        if text.chars().any(char::is_control) {
            Err(CONTROL)
        } else if text.chars().count() > MAX_CHARS {
            Err(TOO_LONG)
        } else {
            Ok(Self(text.to_owned()))
        }
    }

    /// What to filter on: `None` for an empty value (`?external_id=` lists all).
    pub fn filter(self) -> Option<String> {
        Some(self.0).filter(|s| !s.is_empty())
    }

    /// Whether a deserialization message is one of this type's own, which
    /// may be shown to the client as it is.
    pub fn is_own_message(message: &str) -> bool {
        message == TOO_LONG || message == CONTROL
    }
}

impl<'de> Deserialize<'de> for QueryText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_long_text_are_refused() {
        for bad in [
            "\0",
            "a\0b",
            "line\nbreak",
            "\r",
            "\t",
            "\u{1b}[31m",
            "\u{7f}",
            "\u{85}",
        ] {
            assert_eq!(QueryText::parse(bad), Err(CONTROL), "{bad:?}");
        }
        assert_eq!(QueryText::parse(&"x".repeat(201)), Err(TOO_LONG));
        for good in ["", "cust-1", "drop:abc", "credential.", "café", "\u{200b}"] {
            assert!(QueryText::parse(good).is_ok(), "{good:?}");
        }
        // Characters, not bytes.
        assert!(QueryText::parse(&"é".repeat(200)).is_ok());
    }

    #[test]
    fn empty_means_no_filter() {
        assert_eq!(QueryText::parse("").unwrap().filter(), None);
        assert_eq!(
            QueryText::parse("cust-1").unwrap().filter().as_deref(),
            Some("cust-1")
        );
    }

    #[test]
    fn own_messages_are_recognised_and_quote_nothing() {
        for m in [TOO_LONG, CONTROL] {
            assert!(QueryText::is_own_message(m));
        }
        assert!(!QueryText::is_own_message("invalid digit found in string"));
    }
}
