//! What a customer pastes: the secret JSON of SPEC §4, with the local shape checks of SPEC §1.

use super::validation::ValidationError;
use crate::domain::kind::Kind;
use serde::{Deserialize, Serialize};
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Longest Client ID, Client Secret or API key we accept, in characters.
pub const MAX_FIELD_CHARS: usize = 256;
/// Loose length bounds for a legacy API key (all documented keys are 32 hex characters).
pub const V1_KEY_CHARS: std::ops::RangeInclusive<usize> = 20..=128;

/// A Greenhouse credential. Serialized exactly as SPEC §4:
/// `{"kind":"harvest_v3","client_id","client_secret","user_id":<string or null>}` or
/// `{"kind":"harvest_v1","api_key"}`. Zeroized on drop; `Debug` shows no secret value.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Secret {
    HarvestV3 {
        client_id: String,
        client_secret: String,
        #[serde(default)]
        user_id: Option<String>,
    },
    HarvestV1 {
        api_key: String,
    },
}

impl Secret {
    /// Checks a pasted v3 credential. An empty `user_id` means "none" (the credential's own
    /// service account acts).
    pub fn parse_v3(
        client_id: &str,
        client_secret: &str,
        user_id: Option<&str>,
    ) -> Result<Self, ValidationError> {
        check_token_like("client_id", "Client ID", client_id)?;
        if client_id.contains(':') {
            return Err(ValidationError::new(
                "client_id",
                "The Client ID cannot contain a colon (:). Copy the Client ID shown under \
                 Dev Center → API Credentials again.",
            ));
        }
        check_token_like("client_secret", "Client Secret", client_secret)?;
        let user_id = match user_id {
            None | Some("") => None,
            Some(u) => {
                if u.is_empty() || u.len() > 20 || !u.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ValidationError::new(
                        "user_id",
                        "The User ID must be a number of up to 20 digits: the number at the \
                         end of the user's page address in Greenhouse \
                         (app.greenhouse.io/account/users/<number>). Leave it empty to use \
                         the credential's own service account.",
                    ));
                }
                Some(u.to_owned())
            }
        };
        Ok(Secret::HarvestV3 {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            user_id,
        })
    }

    /// Checks a pasted legacy (v1/v2) API key.
    pub fn parse_v1(api_key: &str) -> Result<Self, ValidationError> {
        check_token_like("api_key", "API key", api_key)?;
        if !api_key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(ValidationError::new(
                "api_key",
                "The API key may contain only letters, digits and dashes. Copy it again from \
                 Greenhouse.",
            ));
        }
        let n = api_key.chars().count();
        if !V1_KEY_CHARS.contains(&n) {
            return Err(ValidationError::new(
                "api_key",
                format!(
                    "The API key should be between {} and {} characters long (Greenhouse keys \
                     are usually 32); this one has {n}. Check that you copied all of it.",
                    V1_KEY_CHARS.start(),
                    V1_KEY_CHARS.end()
                ),
            ));
        }
        Ok(Secret::HarvestV1 {
            api_key: api_key.to_owned(),
        })
    }

    /// Re-runs the local checks, e.g. on a secret read back from JSON.
    pub fn validate(&self) -> Result<(), ValidationError> {
        match self {
            Secret::HarvestV3 {
                client_id,
                client_secret,
                user_id,
            } => Self::parse_v3(client_id, client_secret, user_id.as_deref()).map(drop),
            Secret::HarvestV1 { api_key } => Self::parse_v1(api_key).map(drop),
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Secret::HarvestV3 { .. } => Kind::HarvestV3,
            Secret::HarvestV1 { .. } => Kind::HarvestV1,
        }
    }

    /// The last 4 characters of the client id or API key (fewer if it is shorter).
    pub fn hint(&self) -> String {
        match self {
            Secret::HarvestV3 { client_id, .. } => last_chars(client_id, 4),
            Secret::HarvestV1 { api_key } => last_chars(api_key, 4),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::HarvestV3 { user_id, .. } => f
                .debug_struct("HarvestV3")
                .field("client_id", &format_args!("…{}", self.hint()))
                .field("client_secret", &format_args!("[redacted]"))
                .field(
                    "user_id",
                    &format_args!("{}", if user_id.is_some() { "[set]" } else { "none" }),
                )
                .finish(),
            Secret::HarvestV1 { .. } => f
                .debug_struct("HarvestV1")
                .field("api_key", &format_args!("[redacted]"))
                .finish(),
        }
    }
}

fn last_chars(s: &str, n: usize) -> String {
    let count = s.chars().count();
    s.chars().skip(count.saturating_sub(n)).collect()
}

/// Non-empty, not over-long, no whitespace or control characters anywhere.
fn check_token_like(field: &'static str, label: &str, value: &str) -> Result<(), ValidationError> {
    if value.is_empty() {
        return Err(ValidationError::new(
            field,
            format!("The {label} is empty."),
        ));
    }
    if value.chars().count() > MAX_FIELD_CHARS {
        return Err(ValidationError::new(
            field,
            format!(
                "The {label} is longer than {MAX_FIELD_CHARS} characters; it is probably not \
                 the right value. Copy it again."
            ),
        ));
    }
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_whitespace() || c.is_control());
    if edge(value.chars().next()) || edge(value.chars().last()) {
        return Err(ValidationError::new(
            field,
            format!(
                "The {label} starts or ends with a space or line break. Paste it again without \
                 them."
            ),
        ));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ValidationError::new(
            field,
            format!(
                "The {label} contains a space or line break. Copy it again in one piece from \
                 Greenhouse."
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "acme-client-12345";
    const SECRET: &str = "s3cr3t-VALUE-never-shown";

    #[test]
    fn v3_ok_and_serde_shape() {
        let s = Secret::parse_v3(ID, SECRET, Some("4242")).unwrap();
        let v: serde_json::Value = serde_json::to_value(&s).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"kind":"harvest_v3","client_id":ID,"client_secret":SECRET,"user_id":"4242"})
        );
        let back: Secret = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
        let none = Secret::parse_v3(ID, SECRET, Some("")).unwrap();
        assert_eq!(
            serde_json::to_value(&none).unwrap()["user_id"],
            serde_json::Value::Null
        );
        assert_eq!(none.kind(), Kind::HarvestV3);
        assert_eq!(none.hint(), "2345");
    }

    #[test]
    fn v1_ok_and_serde_shape() {
        let key = "a7183e1b7e9ab09b8a5cfa87d1934c3c";
        let s = Secret::parse_v1(key).unwrap();
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            serde_json::json!({"kind":"harvest_v1","api_key":key})
        );
        assert_eq!(s.hint(), "4c3c");
        assert_eq!(s.kind(), Kind::HarvestV1);
        let back: Secret =
            serde_json::from_str(&format!(r#"{{"kind":"harvest_v1","api_key":"{key}"}}"#)).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn unknown_kind_or_fields_rejected() {
        assert!(serde_json::from_str::<Secret>(r#"{"kind":"harvest_v2","api_key":"x"}"#).is_err());
        assert!(
            serde_json::from_str::<Secret>(r#"{"kind":"harvest_v1","api_key":"x","extra":1}"#)
                .is_err()
        );
    }

    #[test]
    fn debug_shows_no_secret() {
        let s = Secret::parse_v3(ID, SECRET, Some("4242")).unwrap();
        let d = format!("{s:?}");
        assert!(
            !d.contains(SECRET) && !d.contains(ID) && !d.contains("4242"),
            "{d}"
        );
        assert!(d.contains("2345"));
        let k = Secret::parse_v1("a7183e1b7e9ab09b8a5cfa87d1934c3c").unwrap();
        assert!(!format!("{k:?}").contains("a7183e1b"));
    }

    #[test]
    fn hint_is_short_for_short_values() {
        let s = Secret::HarvestV3 {
            client_id: "ab".into(),
            client_secret: "x".into(),
            user_id: None,
        };
        assert_eq!(s.hint(), "ab");
        let s = Secret::HarvestV3 {
            client_id: "ééééé".into(),
            client_secret: "x".into(),
            user_id: None,
        };
        assert_eq!(s.hint(), "éééé");
    }

    fn v3_err(id: &str, secret: &str, user: Option<&str>) -> ValidationError {
        Secret::parse_v3(id, secret, user).unwrap_err()
    }

    #[test]
    fn v3_shape_errors_name_the_field_and_hide_the_value() {
        let cases: &[(&str, &str, Option<&str>, &str)] = &[
            ("", SECRET, None, "client_id"),
            (" acme-1", SECRET, None, "client_id"),
            ("acme-1\n", SECRET, None, "client_id"),
            ("acme 1", SECRET, None, "client_id"),
            ("acme:1", SECRET, None, "client_id"),
            (ID, "", None, "client_secret"),
            (ID, "sec ret", None, "client_secret"),
            (ID, "secret\t", None, "client_secret"),
            (ID, SECRET, Some("12a"), "user_id"),
            (ID, SECRET, Some(" 12"), "user_id"),
            (ID, SECRET, Some("123456789012345678901"), "user_id"),
            (ID, SECRET, Some("-1"), "user_id"),
        ];
        for (id, secret, user, field) in cases {
            let e = v3_err(id, secret, *user);
            assert_eq!(e.field, *field, "{id:?} {secret:?} {user:?}");
            for v in [id, secret] {
                if v.trim().len() > 2 {
                    assert!(!e.message.contains(v.trim()), "{}", e.message);
                }
            }
        }
        let long = "x".repeat(MAX_FIELD_CHARS + 1);
        assert_eq!(v3_err(&long, SECRET, None).field, "client_id");
        assert_eq!(v3_err(ID, &long, None).field, "client_secret");
        assert!(!v3_err(ID, &long, None).message.contains(&long));
        // Exactly at the limit is fine; a missing `-<digits>` suffix is left to Greenhouse.
        assert!(Secret::parse_v3(&"x".repeat(MAX_FIELD_CHARS), SECRET, None).is_ok());
        assert!(Secret::parse_v3("notaclient", SECRET, None).is_ok());
        assert!(Secret::parse_v3(ID, SECRET, Some("12345678901234567890")).is_ok());
    }

    #[test]
    fn v1_shape_errors() {
        for bad in [
            "",
            "short-key-123",
            &"a".repeat(129),
            "a7183e1b7e9ab09b8a5cfa87d1934c3c ",
            "a7183e1b7e9ab09b8a5cfa87d1934c3c:",
            "a7183e1b7e9ab09b8a5cfa87_1934c3c",
            "a7183e1b7e9ab09b8a5cfa87d1934c3é",
        ] {
            let e = Secret::parse_v1(bad).unwrap_err();
            assert_eq!(e.field, "api_key");
            if !bad.is_empty() {
                assert!(!e.message.contains(bad.trim()));
            }
        }
        assert!(Secret::parse_v1(&"a".repeat(20)).is_ok());
        assert!(Secret::parse_v1(&"A-9".repeat(42)).is_ok());
    }

    #[test]
    fn validate_rechecks_deserialized_values() {
        let s: Secret = serde_json::from_str(
            r#"{"kind":"harvest_v3","client_id":"a:b","client_secret":"x","user_id":null}"#,
        )
        .unwrap();
        assert_eq!(s.validate().unwrap_err().field, "client_id");
    }
}
