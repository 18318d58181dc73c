//! Customer-facing HTML pages (SPEC §4 "Public"), built with maud from small components around
//! one [`layout`](layout::layout).
//!
//! Every page is a full document that works with JavaScript disabled and under the strict
//! Content-Security-Policy: no scripts, no inline styles, one stylesheet at
//! `/static/keydrop.css`. maud escapes every interpolated value, so customer and staff input
//! (`org`, `note`, the brand, kept form values) can never become markup. Handlers choose the
//! status code; these functions only render.

mod components;
mod drop;
mod errors;
mod form;
mod instructions;
mod layout;
mod outcome;
mod problem;
#[cfg(test)]
mod testing;

pub use drop::drop_page;
pub use errors::{error_page, gone_page, not_found_page, rate_limited_page, GoneReason};
pub use outcome::{pending_page, verified_page};

use crate::greenhouse::{CredentialKind, Profile};
use time::OffsetDateTime;

/// Everything the `GET /d/{token}` page shows about one open drop.
#[derive(Debug, Clone)]
pub struct DropPage {
    /// Who is asking (`KEYDROP_BRAND_NAME`).
    pub brand: String,
    /// For whom: the customer organisation.
    pub org: String,
    /// Staff's note to the customer.
    pub note: Option<String>,
    /// The drop's kind: its label, instructions and form fields.
    pub kind: &'static dyn CredentialKind,
    pub profile: Profile,
    pub expires_at: OffsetDateTime,
    /// The form token, sent back in a hidden field.
    pub csrf_token: String,
    /// Submissions left before the link locks.
    pub attempts_left: i64,
}

/// Why the last submission was refused, shown above the form on a 422 page.
#[derive(Debug, Clone, Default)]
pub struct Problem {
    /// Plain words for the customer; never contains a secret.
    pub message: String,
    /// Permission strings (`harvest:users:list`, `GET: List Users`) that must be granted.
    pub missing_required: Vec<String>,
    /// Permission strings that would be good to grant.
    pub missing_optional: Vec<String>,
    /// The form field that is wrong (`client_id`, `client_secret`, `user_id`, `api_key`).
    pub field: Option<&'static str>,
    /// Values to put back in the form, by field name (never a secret field's: the form
    /// refuses those whatever is passed here).
    pub kept: Vec<(&'static str, String)>,
}
