//! The one error for input a customer or staff member can fix.

/// A value failed a local check. `message` is customer-facing, names the field and never
/// contains the value itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    /// The form or API field at fault (`client_id`, `client_secret`, `user_id`, `api_key`,
    /// `profile`, `required`, `optional`).
    pub field: &'static str,
    /// Plain words saying what to fix.
    pub message: String,
}

impl ValidationError {
    /// A refusal of `field` (its name, never its value), with what to fix: for a kind's
    /// [`parse`](super::CredentialKind::parse).
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}
