//! Customer-facing HTML pages (SPEC §4 "Public"), built with maud from small components around
//! one [`layout`](layout::layout).
//!
//! Every page is a full document that works with JavaScript disabled and under the strict
//! Content-Security-Policy: no scripts, no inline styles, one stylesheet at
//! `/static/keydrop.css`. maud escapes every interpolated value, so customer and staff input
//! (`org`, `note`, the brand, kept form values) can never become markup. Handlers choose the
//! status code; these functions only render.

mod components;
mod connect;
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

use crate::domain::contact::Contact;
use crate::greenhouse::{CredentialKind, Profile};
use time::OffsetDateTime;

/// Whom the customer can write to about a link: the drop's `contact`, or
/// else the operator's `KEYDROP_SUPPORT_EMAIL` (no name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageContact {
    pub name: Option<String>,
    pub email: String,
}

/// What every page around a link shows besides its own content: who is
/// asking (`KEYDROP_BRAND_NAME`) and whom to contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageContext {
    pub brand: String,
    pub contact: Option<PageContact>,
}

impl PageContext {
    /// The brand alone, no contact.
    pub fn new(brand: &str) -> Self {
        Self {
            brand: brand.to_owned(),
            contact: None,
        }
    }

    /// A link's pages: the drop's contact when it has one.
    pub fn with_contact(mut self, contact: Option<&Contact>) -> Self {
        if let Some(c) = contact {
            self.contact = Some(PageContact {
                name: Some(c.name.clone()),
                email: c.email.clone(),
            });
        }
        self
    }

    /// The support address, when no contact was set before.
    pub fn with_support(mut self, email: Option<&str>) -> Self {
        if self.contact.is_none() {
            self.contact = email.map(|e| PageContact {
                name: None,
                email: e.to_owned(),
            });
        }
        self
    }

    /// Whom to ask for a new link: "Jane Doe at Acme" when the drop names
    /// a contact, else the brand.
    pub fn whom(&self) -> String {
        match self.contact.as_ref().and_then(|c| c.name.as_deref()) {
            Some(name) => format!("{name} at {}", self.brand),
            None => self.brand.clone(),
        }
    }
}

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
    /// Whom to contact about the link (shown on the page).
    pub contact: Option<PageContact>,
}

impl DropPage {
    /// The page context of this drop's pages.
    pub fn context(&self) -> PageContext {
        PageContext {
            brand: self.brand.clone(),
            contact: self.contact.clone(),
        }
    }
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
    /// Refused by the local shape checks, before Greenhouse: no attempt was used.
    pub not_counted: bool,
}
