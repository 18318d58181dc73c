//! `harvest_v1` (legacy): a Harvest v1/v2 Basic-auth API key (SPEC §1.1), for drops that
//! explicitly ask. Checked by listing each endpoint of the profile with Basic `<key>:`.

mod check;
mod page;
mod resources;

use super::fields::{FieldSpec, Fields, InputMode, Keep};
use super::{Advice, Checked, CredentialKind, NamedProfile};
use crate::greenhouse::checker::Checker;
use crate::greenhouse::http::Budget;
use crate::greenhouse::profile::{Profile, DEFAULT_PROFILE};
use crate::greenhouse::resources::Resource;
use crate::greenhouse::secret::{check_token_like, Secret};
use crate::greenhouse::validation::ValidationError;
use futures_util::future::BoxFuture;
use maud::Markup;

/// The `harvest_v1` kind.
pub struct HarvestV1;

/// Loose length bounds for a legacy API key (all documented keys are 32 hex characters).
pub const KEY_CHARS: std::ops::RangeInclusive<usize> = 20..=128;

static FIELDS: &[FieldSpec] = &[FieldSpec {
    name: "api_key",
    label: "Harvest API key",
    help: "Shown once, when the key is created in Dev Center → API Credential Management.",
    looks_like: Some("32 letters and digits, such as 3f9c…e1a7"),
    secret: true,
    required: true,
    input: InputMode::Text,
    keep: Keep::Never,
}];

static PROFILES: &[NamedProfile] = &[
    NamedProfile {
        name: DEFAULT_PROFILE,
        required: &[
            "users",
            "user_roles",
            "jobs",
            "job_posts",
            "job_stages",
            "departments",
            "offices",
            "candidates",
            "applications",
            "scheduled_interviews",
            "scorecards",
            "offers",
            "sources",
            "rejection_reasons",
            "close_reasons",
            "custom_fields",
        ],
        optional: &["tags/candidate", "prospect_pools"],
    },
    NamedProfile {
        name: "minimal",
        required: &["users"],
        optional: &[],
    },
];

impl CredentialKind for HarvestV1 {
    fn name(&self) -> &'static str {
        "harvest_v1"
    }

    fn label(&self) -> &'static str {
        "Harvest API key (legacy)"
    }

    fn summary(&self) -> &'static str {
        "legacy Harvest v1/v2 API key (retired by Greenhouse on 2026-08-31)"
    }

    fn fields(&self) -> &'static [FieldSpec] {
        FIELDS
    }

    fn parse(&self, form: &Fields) -> Result<Secret, ValidationError> {
        let api_key = form.get("api_key");
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
        if !KEY_CHARS.contains(&n) {
            return Err(ValidationError::new(
                "api_key",
                format!(
                    "The API key should be between {} and {} characters long (Greenhouse keys \
                     are usually 32); this one has {n}. Check that you copied all of it.",
                    KEY_CHARS.start(),
                    KEY_CHARS.end()
                ),
            ));
        }
        Ok(Secret::new(
            self,
            vec![("api_key", Some(api_key.to_owned()))],
        ))
    }

    fn resources(&self) -> &'static [Resource] {
        resources::RESOURCES
    }

    fn profiles(&self) -> &'static [NamedProfile] {
        PROFILES
    }

    fn check<'a>(
        &'a self,
        checker: &'a Checker,
        budget: Budget,
        secret: &'a Secret,
        profile: &'a Profile,
    ) -> BoxFuture<'a, Checked> {
        Box::pin(async move {
            check::check(
                checker,
                budget,
                secret.get("api_key").unwrap_or(""),
                profile,
            )
            .await
            .into()
        })
    }

    fn advice(&self, _: &Secret, advice: Advice) -> String {
        match advice {
            Advice::AllRefused => {
                "Every permission was refused: this API key probably has no permissions \
                 selected. In Configure → Dev Center → API Credentials, edit the key and select \
                 the permissions listed below (or \"Select all\")."
            }
            Advice::MissingRequired => {
                "Edit the key in Configure → Dev Center → API Credentials, select these \
                 permissions, save, and submit the key again."
            }
        }
        .to_owned()
    }

    fn instructions(&self, brand: &str, permissions: Markup) -> Markup {
        page::steps(brand, permissions)
    }

    fn staff_warning(&self) -> Option<&'static str> {
        Some(
            "Greenhouse retired Harvest v1/v2 API keys on 2026-08-31 and no longer creates new \
             ones: this link works only for a customer who still holds a key. Send a harvest_v3 \
             link unless you know they do.",
        )
    }

    fn grant_steps(&self) -> Markup {
        page::grant_steps()
    }
}
