//! Credential kinds as plug-ins (STYLE lesson 11).
//!
//! Each kind of Greenhouse credential is one type implementing [`CredentialKind`], in its own
//! folder, plus one line in [`registry`]'s list. The kind owns everything that differs between
//! kinds: its name and label, its form fields (label, help, secret or kept on a 422, input
//! attributes), the local shape checks that turn posted fields into a [`Secret`], the hint, its
//! resource catalogue and named profiles, its check against Greenhouse, its instructions and
//! "how to grant" markup, and its secret's OpenAPI schema. The customer page, submission,
//! reports, the CLI help and the OpenAPI document iterate the [`Registry`] instead of matching
//! on the kind.
//!
//! Design choices:
//! - [`Kind`](crate::domain::kind::Kind) stays in the domain as a small `Copy` *name*; the
//!   domain asks the registry what a name means through
//!   [`KindCatalog`](crate::domain::kind::KindCatalog), so dependencies keep pointing down.
//! - The submitted form is a generic field map ([`Fields`]); a [`Secret`] is the kind name plus
//!   its fields' values (strings or `null`), in the kind's field order. That is exactly the
//!   secret JSON of SPEC §4 for every kind, so ciphertexts written before the registry existed
//!   still open and parse.
//! - A check is "whatever the kind does" behind one boxed future returning [`Checked`]; probing
//!   a list of resources ([`Checker::probe_all`](super::Checker)) is a helper a kind may use, not
//!   the shape every kind must have. An empty probe plan simply yields no findings.
//! - The [`Registry`] is a value: [`registry()`] is the built-in one, and
//!   [`Registry::with`] builds one with extra kinds (tests register a tiny kind that way, and
//!   a [`Checker`](super::Checker) can be given any registry).

mod candidate_ingestion;
pub mod connect;
mod fields;
#[cfg(test)]
mod harvest_tests;
mod harvest_v1;
mod harvest_v3;
mod harvest_v3_partner;
mod registry;
#[cfg(test)]
mod tests;

pub use connect::{Authorize, ConnectError, Connected, Connector};
pub use fields::{FieldSpec, Fields, InputMode, Keep};
pub use harvest_v3::mint_access_token as mint_harvest_v3_token;
pub use registry::{registry, Registry, SecretFormatError};

use super::checker::Checker;
use super::http::Budget;
use super::oauth::{TokenError, Tokens};
use super::profile::Profile;
use super::resources::Resource;
use super::secret::Secret;
use super::validation::ValidationError;
use crate::domain::kind::Kind;
use crate::domain::release::ReleaseModes;
use crate::domain::verification::Named;
use futures_util::future::BoxFuture;
use maud::Markup;
use std::fmt;

pub use super::report::{Finding, Probe, Transient, Verdict};

/// The built-in kinds, for code and tests that name one directly.
pub static HARVEST_V3: &dyn CredentialKind = &harvest_v3::HarvestV3;
pub static HARVEST_V1: &dyn CredentialKind = &harvest_v1::HarvestV1;
pub static CANDIDATE_INGESTION: &dyn CredentialKind = &candidate_ingestion::CandidateIngestion;
pub static HARVEST_V3_PARTNER: &dyn CredentialKind = &harvest_v3_partner::HarvestV3Partner;
pub use harvest_v3_partner::HarvestV3Partner;

/// A named permission profile of one kind (SPEC §1.3, §1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamedProfile {
    pub name: &'static str,
    pub required: &'static [&'static str],
    pub optional: &'static [&'static str],
}

/// What a check found out, before it is put into words.
pub struct Checked {
    pub verdict: Verdict,
    /// The Greenhouse organisation the credential belongs to, when the check learnt it
    /// (advisory: it never changes the outcome).
    pub organization: Option<Named>,
    /// The Greenhouse user the credential acts as, when the check learnt it.
    pub greenhouse_user: Option<Named>,
}

impl From<Verdict> for Checked {
    fn from(verdict: Verdict) -> Self {
        Checked {
            verdict,
            organization: None,
            greenhouse_user: None,
        }
    }
}

/// What a renewal got: a new access token, and the secret to store when the secret itself
/// changed (a rotated refresh token). A renewal whose answer rotated the secret but carried
/// no usable access token still returns the secret (`tokens: None`): it must be stored, the
/// old one is spent.
#[derive(Debug)]
pub struct Renewed {
    pub tokens: Option<Tokens>,
    pub secret: Option<Secret>,
}

/// How a customer hands a credential of a kind over, as the customer pages show it: a form
/// of the kind's fields, or a Connect button (the kind has a [`Connector`]). Presentation
/// only: what a post does is decided in `service::credentials`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intake {
    Paste,
    Connect,
}

/// Which piece of advice the report needs from the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advice {
    /// Every probe answered 403.
    AllRefused,
    /// Some required permissions are missing: how to add them.
    MissingRequired,
}

/// One kind of Greenhouse credential. Implementations are unit structs registered in
/// [`registry`]; everything kind-specific lives behind these methods.
pub trait CredentialKind: Send + Sync + 'static {
    /// The wire name (`harvest_v3`): drops, credentials and the secret JSON carry it.
    fn name(&self) -> &'static str;
    /// The product name as customers see it in Greenhouse ("Harvest V3 (OAuth) API credential").
    fn label(&self) -> &'static str;
    /// One line for staff (CLI help, README): what the customer gives.
    fn summary(&self) -> &'static str;
    /// The form inputs, in page order. Their names are also the secret JSON's keys.
    fn fields(&self) -> &'static [FieldSpec];
    /// For a kind whose customers connect through Greenhouse (OAuth, SPEC §1.5) instead of
    /// filling in [`fields`](CredentialKind::fields): what the connect flow needs of it.
    fn connector(&self) -> Option<&dyn Connector> {
        None
    }
    /// What staff should know before sending a link for this kind, if anything (a retired
    /// kind): the API returns it in `warnings`, the CLI prints it. The drop is still created.
    fn staff_warning(&self) -> Option<&'static str> {
        None
    }
    /// Why drops of this kind cannot be created with this configuration, if they cannot.
    fn unavailable(&self, checker: &Checker) -> Option<String> {
        let _ = checker;
        None
    }
    /// Local shape checks, before any I/O: the posted fields (trimmed by [`Fields::get`]) or a
    /// secret read back, as a [`Secret`] of this kind. Errors name the field, never the value.
    fn parse(&self, form: &Fields) -> Result<Secret, ValidationError>;
    /// The last 4 characters of the identifying value (client id, key), never more.
    fn hint(&self, secret: &Secret) -> String {
        let first = self.fields().first().map_or("", |f| f.name);
        last_chars(secret.get(first).unwrap_or(""), 4)
    }
    /// Every resource this kind can probe, in catalogue order.
    fn resources(&self) -> &'static [Resource];
    /// The named profiles; the first is the default.
    fn profiles(&self) -> &'static [NamedProfile];
    /// Asks Greenhouse about `secret` (of this kind) for `profile`. Never fails: what
    /// Greenhouse does not answer becomes [`Verdict::Pending`].
    fn check<'a>(
        &'a self,
        checker: &'a Checker,
        budget: Budget,
        secret: &'a Secret,
        profile: &'a Profile,
    ) -> BoxFuture<'a, Checked>;
    /// The release modes this kind allows (SPEC §3); the first is the default.
    fn release_modes(&self) -> ReleaseModes {
        ReleaseModes::HANDOFF
    }
    /// A fresh access token for a `vend` credential of this kind (SPEC §3, §1.5): minted with
    /// client credentials, or a partner grant refreshed (then [`Renewed::secret`] holds the
    /// secret with its rotated refresh token, to be stored before the token is used). Kinds
    /// that only hand off never get here.
    fn renew<'a>(
        &'a self,
        checker: &'a Checker,
        budget: Budget,
        secret: &'a Secret,
    ) -> BoxFuture<'a, Result<Renewed, TokenError>> {
        let _ = (checker, budget, secret);
        Box::pin(async { Err(TokenError::Refused("unsupported".into())) })
    }
    /// Customer-facing advice for the report (see [`Advice`]).
    fn advice(&self, secret: &Secret, advice: Advice) -> String;
    /// How the customer adds required permissions the check found missing, one sentence
    /// after "N required permissions are missing." on the 422 page.
    fn how_to_add(&self) -> &'static str {
        "Tick them in Greenhouse as listed below, then send it again."
    }
    /// How the customer adds optional permissions that were not granted, on the receipt.
    fn how_to_add_optional(&self) -> &'static str {
        "To add them, tick them on the same credential in Greenhouse; you do not need to send \
         it again."
    }
    /// The numbered steps for creating the credential in Greenhouse. `permissions` is the
    /// rendered list of required and optional permissions, to place at the step where they
    /// are granted. Depends on nothing but its arguments: link pages keep the rendered
    /// section per kind, profile and brand (`web::pages` instructions).
    fn instructions(&self, brand: &str, permissions: Markup) -> Markup;
    /// How to add missing permissions to the credential the customer already made (where to
    /// find it again in Greenhouse, what to tick, and that the same values are sent again),
    /// written once above the list of what to tick.
    fn grant_steps(&self) -> Markup;
    /// The JSON schema of this kind's secret (SPEC §4), for the OpenAPI document: by default
    /// every field, the optional ones `null` when not given.
    fn secret_schema(&self) -> serde_json::Value {
        let mut required = vec![serde_json::json!("kind")];
        let mut props = serde_json::Map::new();
        props.insert("kind".into(), serde_json::json!({ "const": self.name() }));
        for f in self.fields() {
            required.push(serde_json::json!(f.name));
            let ty = if f.required {
                serde_json::json!("string")
            } else {
                serde_json::json!(["string", "null"])
            };
            props.insert(f.name.into(), serde_json::json!({ "type": ty }));
        }
        serde_json::json!({ "type": "object", "required": required, "properties": props })
    }

    // ---- provided ----

    /// How the customer hands the credential over, for the pages to show.
    fn intake(&self) -> Intake {
        if self.connector().is_some() {
            Intake::Connect
        } else {
            Intake::Paste
        }
    }

    /// The domain name of this kind.
    fn kind(&self) -> Kind {
        Kind::from_static(self.name())
    }

    /// The catalogue entry called `name`.
    fn resource(&self, name: &str) -> Option<&'static Resource> {
        self.resources().iter().find(|r| r.name == name)
    }

    /// The catalogue entry whose permission string is `permission` (as in a report).
    fn resource_by_permission(&self, permission: &str) -> Option<&'static Resource> {
        self.resources()
            .iter()
            .find(|r| r.permission() == permission)
    }

    /// The label Greenhouse's screen shows for `permission` (a permission string, as in a
    /// report), when it differs from the string: "Candidates > List candidates" for
    /// `harvest:candidates:list`.
    fn screen_label(&self, permission: &str) -> Option<String> {
        self.resource_by_permission(permission)
            .map(Resource::screen_label)
    }

    /// The default profile (the first named one).
    fn default_profile(&self) -> Profile {
        match self.profiles().first() {
            Some(p) => p.to_profile(),
            None => Profile {
                name: "default".into(),
                required: Vec::new(),
                optional: Vec::new(),
            },
        }
    }
}

impl NamedProfile {
    pub fn to_profile(&self) -> Profile {
        Profile {
            name: self.name.to_owned(),
            required: self.required.iter().map(|s| (*s).to_owned()).collect(),
            optional: self.optional.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

impl fmt::Debug for dyn CredentialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CredentialKind({})", self.name())
    }
}

/// The last `n` characters of `s` (fewer if it is shorter).
pub fn last_chars(s: &str, n: usize) -> String {
    let count = s.chars().count();
    s.chars().skip(count.saturating_sub(n)).collect()
}
