//! Customer-facing HTML pages (SPEC §4 "Public"), built with maud from small components around
//! one [`layout`](layout::layout).
//!
//! Every page is a full document that works with JavaScript disabled and under the strict
//! Content-Security-Policy: no scripts, no inline styles, one stylesheet at
//! `/static/keydrop.css` and, when configured, the brand logo from `/static/brand/`. maud escapes every interpolated value, so customer and staff input
//! (`org`, `note`, the brand, kept form values) can never become markup. Handlers choose the
//! status code; these functions only render.

pub mod components;
mod connect;
mod drop;
mod errors;
mod form;
mod instructions;
pub mod layout;
mod missing;
mod outcome;
mod problem;
#[cfg(test)]
mod testing;
mod trust;

pub use drop::drop_page;
pub use errors::{
    error_page, gone_page, locked_now_page, not_found_page, rate_limited_page, GoneReason,
};
pub use outcome::{pending_page, verified_page, Receipt};

use crate::domain::contact::Contact;
use crate::greenhouse::{CredentialKind, Profile};
use std::time::Duration;
use time::OffsetDateTime;

/// Whom the customer can write to about a link: the drop's `contact`, or
/// else the operator's `KEYDROP_SUPPORT_EMAIL` (no name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageContact {
    pub name: Option<String>,
    pub email: String,
}

/// What keydrop does with a credential, for the "what happens to your
/// credential" box and the receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handling {
    /// `KEYDROP_EGRESS_IPS`: the addresses Greenhouse sees keydrop call from.
    pub egress_ips: Vec<String>,
    /// `KEYDROP_RETAIN_AFTER_DELIVERY`: how long after collection the
    /// encrypted copy is kept.
    pub retain_after_delivery: Duration,
    /// The drop's release mode is `vend`: the secret stays with keydrop, which hands out
    /// short-lived access tokens, until staff delete it.
    pub vend: bool,
}

impl Default for Handling {
    fn default() -> Self {
        Self {
            egress_ips: Vec::new(),
            retain_after_delivery: Duration::from_secs(7 * 86_400),
            vend: false,
        }
    }
}

/// What every page around a link shows besides its own content: who is
/// asking (`KEYDROP_BRAND_NAME`, its logo), for whom, and whom to contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageContext {
    pub brand: String,
    /// Path of the brand logo (`/static/brand/…`), when one is configured.
    pub logo: Option<String>,
    /// The customer organisation, once the link is known.
    pub org: Option<String>,
    pub contact: Option<PageContact>,
    /// The short reference of the credential received through the link.
    pub reference: Option<String>,
    pub handling: Handling,
    /// A staff console page: its header and footer speak to staff, not to a customer.
    pub console: bool,
}

impl PageContext {
    /// The brand alone, no contact.
    pub fn new(brand: &str) -> Self {
        Self {
            brand: brand.to_owned(),
            logo: None,
            org: None,
            contact: None,
            reference: None,
            handling: Handling::default(),
            console: false,
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

/// The short form of a credential id, quoted on receipts: its first 8 characters, upper case.
pub fn short_reference(credential_id: &str) -> String {
    credential_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect::<String>()
        .to_ascii_uppercase()
}

/// Everything the `GET /d/{token}` page shows about one open drop.
#[derive(Debug, Clone)]
pub struct DropPage {
    /// Who is asking, for whom, whom to contact (`ctx.org` is the drop's `org`).
    pub ctx: PageContext,
    /// For whom: the customer organisation.
    pub org: String,
    /// Staff's note to the customer.
    pub note: Option<String>,
    /// The drop's kind: its label, instructions and form fields.
    pub kind: &'static dyn CredentialKind,
    pub profile: Profile,
    pub expires_at: OffsetDateTime,
    /// The time the page is rendered (for "in 3 days").
    pub now: OffsetDateTime,
    /// The form token, sent back in a hidden field.
    pub csrf_token: String,
    /// Submissions left before the link locks.
    pub attempts_left: i64,
    /// This browser saw the page before (see `web::routes::public`): the steps start folded.
    pub returning: bool,
}

impl DropPage {
    /// Who is asking (`KEYDROP_BRAND_NAME`).
    pub fn brand(&self) -> &str {
        &self.ctx.brand
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
