//! `harvest_v3`: Harvest v3 OAuth client credentials (SPEC §1.1) — Client ID, Client Secret
//! and an optional numeric User ID (a Site Admin to act as). Checked by minting a
//! client-credentials token and listing each resource of the profile with it; when a User ID
//! was given, also by asking whether that user is a Site Admin; token introspection adds the
//! organisation the credential belongs to (advisory).

mod admin;
mod check;
mod page;
pub(in crate::greenhouse::kinds) mod resources;
mod session;
mod shape;
mod token;

use super::fields::{FieldSpec, Fields, InputMode, Keep};
use super::{Advice, Checked, CredentialKind, NamedProfile, Renewed};
use crate::domain::release::ReleaseModes;
use crate::greenhouse::checker::Checker;
use crate::greenhouse::http::Budget;
use crate::greenhouse::oauth::{MintedToken, TokenError, Tokens};
use crate::greenhouse::profile::{Profile, DEFAULT_PROFILE};
use crate::greenhouse::resources::Resource;
use crate::greenhouse::secret::{check_token_like, Secret};
use crate::greenhouse::validation::ValidationError;
use futures_util::future::BoxFuture;
use maud::Markup;

/// The `harvest_v3` kind.
pub struct HarvestV3;

/// Mints a client-credentials access token for a `harvest_v3` secret, within the checker's
/// total budget, and says when it expires (`expires_in`, `expires_at` or one hour). For the
/// `vend` release (SPEC §3), which hands out such tokens instead of the secret. A refusal
/// is named by its OAuth error code, as the other token requests' are; the customer-facing
/// words of the check's own refusals go to the log.
pub async fn mint_access_token(
    checker: &Checker,
    secret: &Secret,
) -> Result<MintedToken, TokenError> {
    if secret.kind() != HarvestV3.kind() {
        return Err(TokenError::Refused("unsupported".into()));
    }
    let creds = token::Creds {
        client_id: secret.get("client_id").unwrap_or(""),
        client_secret: secret.get("client_secret").unwrap_or(""),
        user_id: secret.get("user_id"),
    };
    let budget = Budget::new(checker.config().total_budget);
    token::mint(checker, budget, &creds)
        .await
        .map_err(|e| match e {
            token::MintError::Refused(r) => {
                tracing::warn!(
                    error = r.code(),
                    reason = r.message(),
                    "Greenhouse refused to mint a token"
                );
                TokenError::Refused(r.code().into())
            }
            token::MintError::Pending(t) => TokenError::Transient(t),
        })
}

const NAME: &str = "harvest_v3";

/// A User ID is a number of up to 20 digits.
fn is_user_id(v: &str) -> bool {
    !v.is_empty() && v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit())
}

static FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "client_id",
        label: "Client ID",
        help: "Configure → Dev Center → API Credentials, next to your credential.",
        looks_like: Some("9b1f4e-4471 (it ends in a dash and a number)"),
        secret: false,
        required: true,
        input: InputMode::Text,
        // Shown again only when Greenhouse accepted it as one (missing permissions), so a
        // secret pasted into the wrong box never is.
        keep: Keep::IfCredentialWorked,
    },
    FieldSpec {
        name: "client_secret",
        label: "Client Secret",
        help: "Shown only once, right after you create the credential; if it is gone, \
               create a new credential.",
        looks_like: Some("a long random string"),
        secret: true,
        required: true,
        input: InputMode::Text,
        keep: Keep::Never,
    },
    FieldSpec {
        name: "user_id",
        label: "User ID to act as (optional)",
        help: "The number at the end of a Site Admin's profile address. Leave empty unless \
               you were asked for it.",
        looks_like: Some("4001234"),
        secret: false,
        required: false,
        input: InputMode::Numeric,
        keep: Keep::IfWellFormed(is_user_id),
    },
];

const FULL_REQUIRED: &[&str] = &[
    "users",
    "user_roles",
    "jobs",
    "job_posts",
    "job_interview_stages",
    "openings",
    "departments",
    "offices",
    "candidates",
    "applications",
    "application_stages",
    "interviews",
    "scorecards",
    "offers",
    "sources",
    "rejection_reasons",
    "close_reasons",
    "custom_fields",
    "custom_field_options",
];
const FULL_OPTIONAL: &[&str] = &[
    "job_owners",
    "job_hiring_managers",
    "interviewers",
    "referrers",
    "notes",
    "candidate_tags",
    "prospect_pools",
    "user_job_permissions",
];

pub(in crate::greenhouse::kinds) static PROFILES: &[NamedProfile] = &[
    NamedProfile {
        name: DEFAULT_PROFILE,
        required: FULL_REQUIRED,
        optional: FULL_OPTIONAL,
    },
    NamedProfile {
        name: "minimal",
        required: &["users"],
        optional: &[],
    },
];

impl CredentialKind for HarvestV3 {
    fn name(&self) -> &'static str {
        NAME
    }

    fn label(&self) -> &'static str {
        "Harvest V3 (OAuth) API credential"
    }

    fn summary(&self) -> &'static str {
        "Harvest v3 OAuth client credentials: Client ID, Client Secret, optional User ID (default)"
    }

    fn fields(&self) -> &'static [FieldSpec] {
        FIELDS
    }

    /// An empty `user_id` means "none" (the credential's own service account acts).
    fn parse(&self, form: &Fields) -> Result<Secret, ValidationError> {
        let (client_id, client_secret, user_id) = (
            form.get("client_id"),
            form.get("client_secret"),
            form.get("user_id"),
        );
        check_token_like("client_id", "Client ID", client_id)?;
        if client_id.contains(':') {
            return Err(ValidationError::new(
                "client_id",
                "The Client ID cannot contain a colon (:). Copy the Client ID shown under \
                 Dev Center → API Credentials again.",
            ));
        }
        check_token_like("client_secret", "Client Secret", client_secret)?;
        shape::secret_not_in_id(client_id, client_secret)?;
        let user_id = match user_id {
            "" => None,
            u if is_user_id(u) => Some(u.to_owned()),
            _ => {
                return Err(ValidationError::new(
                    "user_id",
                    "The User ID must be a number of up to 20 digits: the number at the \
                     end of the user's page address in Greenhouse \
                     (app.greenhouse.io/account/users/<number>). Leave it empty to use \
                     the credential's own service account.",
                ))
            }
        };
        Ok(Secret::new(
            self,
            vec![
                ("client_id", Some(client_id.to_owned())),
                ("client_secret", Some(client_secret.to_owned())),
                ("user_id", user_id),
            ],
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
                secret.get("client_id").unwrap_or(""),
                secret.get("client_secret").unwrap_or(""),
                secret.get("user_id"),
                profile,
            )
            .await
        })
    }

    fn release_modes(&self) -> ReleaseModes {
        ReleaseModes::EITHER
    }

    fn renew<'a>(
        &'a self,
        checker: &'a Checker,
        budget: Budget,
        secret: &'a Secret,
    ) -> BoxFuture<'a, Result<Renewed, TokenError>> {
        let _ = budget;
        Box::pin(async move {
            let minted = mint_access_token(checker, secret).await?;
            Ok(Renewed {
                tokens: Some(Tokens {
                    access_token: minted.token.clone(),
                    refresh_token: None,
                    expires_at: crate::clock::to_millis(minted.expires_at),
                }),
                secret: None,
            })
        })
    }

    fn advice(&self, secret: &Secret, advice: Advice) -> String {
        let user_id_given = secret.get("user_id").is_some();
        match (advice, user_id_given) {
            (Advice::AllRefused, true) => {
                "Every permission was refused: the User ID you entered is probably not a Site \
                 Admin, and Greenhouse only lets Site Admins list data. Enter the User ID of a \
                 Site Admin, or leave it empty, and check that the credential's scopes include \
                 the permissions listed below."
            }
            (Advice::AllRefused, false) => {
                "Every permission was refused: the acting user is probably not a Site Admin, or \
                 the credential has no scopes. Greenhouse only lets Site Admins list data: enter \
                 the User ID of a Site Admin, and check under Manage Scopes that the credential \
                 has the permissions listed below."
            }
            (Advice::MissingRequired, true) => {
                "Open the credential in Configure → Dev Center → API Credentials, add them under \
                 Manage Scopes, save, and submit the same Client ID and Client Secret again. \
                 The User ID you entered must belong to a Site Admin."
            }
            (Advice::MissingRequired, false) => {
                "Open the credential in Configure → Dev Center → API Credentials, add them under \
                 Manage Scopes, save, and submit the same Client ID and Client Secret again."
            }
        }
        .to_owned()
    }

    fn instructions(&self, brand: &str, permissions: Markup) -> Markup {
        page::steps(brand, permissions)
    }

    fn grant_steps(&self) -> Markup {
        page::grant_steps()
    }
}
