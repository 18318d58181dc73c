//! The outcome of one check against Greenhouse, as stored with a credential
//! (SPEC §1.2, §3 `verification`). How a check reaches it lives in
//! `greenhouse`; what it is lives here.

use crate::clock::serde_rfc3339;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// What one check concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The credential works and every required resource answered 200.
    Verified,
    /// The credential works but at least one required permission is missing.
    Insufficient,
    /// Greenhouse refused the credential itself.
    Invalid,
    /// Greenhouse gave no usable answer in time; check again later.
    Pending,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Verified => "verified",
            Outcome::Insufficient => "insufficient",
            Outcome::Invalid => "invalid",
            Outcome::Pending => "pending",
        }
    }
}

/// The report stored with a credential: `{"outcome","checked_at","granted":[…],
/// "missing_required":[…],"missing_optional":[…],"message"}`. The lists hold permission strings
/// (`harvest:users:list` for v3, `GET: List Users` for v1), in profile order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    pub outcome: Outcome,
    #[serde(with = "serde_rfc3339")]
    pub checked_at: OffsetDateTime,
    pub granted: Vec<String>,
    pub missing_required: Vec<String>,
    pub missing_optional: Vec<String>,
    /// Plain words for the customer; never contains a secret or a Greenhouse response body.
    pub message: String,
}
