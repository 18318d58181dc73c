//! What a customer pastes, as stored and released: the secret JSON of SPEC §4.
//!
//! A secret is its kind's name plus the kind's field values, each a string or `null`, in the
//! kind's field order: `{"kind":"harvest_v3","client_id","client_secret","user_id"}`,
//! `{"kind":"harvest_v1","api_key"}`, `{"kind":"candidate_ingestion","api_key","user_email",
//! "job_board_token"}`. Only a kind builds one (after its shape checks, see
//! [`CredentialKind::parse`]); reading one back from JSON
//! goes through [`Registry::secret_from_json`](super::kinds::Registry::secret_from_json).

use super::kinds::CredentialKind;
use super::validation::ValidationError;
use crate::domain::kind::Kind;
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Longest value of any credential field we accept, in characters.
pub const MAX_FIELD_CHARS: usize = 256;

/// A Greenhouse credential of one kind. Zeroized on drop; `Debug` shows the kind, the hint and
/// which fields are set, never a value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    kind: Kind,
    values: Vec<(&'static str, Option<String>)>,
    hint: String,
}

impl Secret {
    /// A secret of `kind` with `values` (in the kind's field order); the hint is the kind's.
    /// Meant for [`CredentialKind::parse`] implementations.
    pub fn new(kind: &dyn CredentialKind, values: Vec<(&'static str, Option<String>)>) -> Self {
        let mut s = Self {
            kind: kind.kind(),
            values,
            hint: String::new(),
        };
        s.hint = kind.hint(&s);
        s
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The value of field `name`; `None` when it is `null` or not a field of this secret.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// The last 4 characters of the client id or key (fewer if it is shorter).
    pub fn hint(&self) -> String {
        self.hint.clone()
    }

    /// Every value that is set, for scrubbing Greenhouse answers before they are logged.
    pub fn values(&self) -> Vec<&str> {
        self.values
            .iter()
            .filter_map(|(_, v)| v.as_deref())
            .collect()
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.values.len() + 1))?;
        m.serialize_entry("kind", self.kind.as_str())?;
        for (name, value) in &self.values {
            m.serialize_entry(name, value)?;
        }
        m.end()
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        for (_, v) in &mut self.values {
            v.zeroize();
        }
    }
}

impl ZeroizeOnDrop for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Secret");
        d.field("kind", &format_args!("{}", self.kind))
            .field("hint", &format_args!("…{}", self.hint));
        for (name, v) in &self.values {
            d.field(
                name,
                &format_args!("{}", if v.is_some() { "[set]" } else { "none" }),
            );
        }
        d.finish()
    }
}

/// Non-empty, not over-long, no whitespace or control characters anywhere.
pub fn check_token_like(
    field: &'static str,
    label: &str,
    value: &str,
) -> Result<(), ValidationError> {
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

    #[test]
    fn serializes_in_field_order_and_debug_hides_values() {
        let s = Secret {
            kind: Kind::from_static("x_kind"),
            values: vec![("a", Some("secret-value-1".into())), ("b", None)],
            hint: "ue-1".into(),
        };
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"kind":"x_kind","a":"secret-value-1","b":null}"#
        );
        let d = format!("{s:?}");
        assert!(!d.contains("secret-value"), "{d}");
        assert!(
            d.contains("ue-1") && d.contains("[set]") && d.contains("none"),
            "{d}"
        );
        assert_eq!(s.get("a"), Some("secret-value-1"));
        assert_eq!(s.get("b"), None);
        assert_eq!(s.values(), ["secret-value-1"]);
    }
}
