//! `harvest_v3_partner`: "Connect with Greenhouse" (SPEC §1.5). The operator is a Greenhouse
//! partner with its own OAuth client; the customer pastes nothing — they click **Connect**,
//! sign in to Greenhouse as a Site Admin and approve. keydrop exchanges the authorization
//! code for an access token and a refresh token, probes the profile's resources with the
//! access token (same catalogue and profiles as `harvest_v3`), and keeps the grant alive by
//! refreshing it: the refresh token rotates on every use and never leaves keydrop, so the
//! only release mode is `vend`.
//!
//! The stored secret is `{"kind":"harvest_v3_partner","refresh_token","access_token",
//! "expires_at"}` (`expires_at` in Unix ms, as a string). It is never released.

mod check;
mod page;

use super::connect::{Authorize, ConnectError, Connected, Connector};
use super::fields::{FieldSpec, Fields, InputMode, Keep};
use super::harvest_v3::{resources, PROFILES};
use super::{Advice, Checked, CredentialKind, NamedProfile, Renewed};
use crate::domain::release::ReleaseModes;
use crate::greenhouse::checker::Checker;
use crate::greenhouse::http::Budget;
use crate::greenhouse::oauth::{self, TokenError, Tokens};
use crate::greenhouse::profile::Profile;
use crate::greenhouse::resources::Resource;
use crate::greenhouse::secret::Secret;
use crate::greenhouse::validation::ValidationError;
use futures_util::future::BoxFuture;
use maud::Markup;

/// The `harvest_v3_partner` kind.
pub struct HarvestV3Partner;

const NAME: &str = "harvest_v3_partner";
/// Longest token keydrop stores (Greenhouse's are JWTs of well under 2 KiB).
const MAX_TOKEN: usize = 4096;

/// Never shown as inputs (the customer connects instead): these name the secret's parts.
static FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "refresh_token",
        label: "Refresh token",
        help: "",
        secret: true,
        required: true,
        input: InputMode::Text,
        keep: Keep::Never,
        looks_like: None,
    },
    FieldSpec {
        name: "access_token",
        label: "Access token",
        help: "",
        secret: true,
        required: true,
        input: InputMode::Text,
        keep: Keep::Never,
        looks_like: None,
    },
    FieldSpec {
        name: "expires_at",
        label: "Access token expiry",
        help: "",
        secret: false,
        required: true,
        input: InputMode::Numeric,
        keep: Keep::Never,
        looks_like: None,
    },
];

fn token_field(name: &'static str, value: &str) -> Result<String, ValidationError> {
    if value.is_empty()
        || value.len() > MAX_TOKEN
        || value.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(ValidationError::new(
            name,
            "Greenhouse sent a malformed token.",
        ));
    }
    Ok(value.to_owned())
}

impl HarvestV3Partner {
    /// The secret to store for tokens Greenhouse just issued.
    fn secret_of(&self, tokens: &Tokens) -> Result<Secret, ValidationError> {
        let refresh = tokens.refresh_token.as_deref().map_or("", String::as_str);
        let mut f = Fields::new();
        f.insert("refresh_token", refresh);
        f.insert("access_token", tokens.access_token.as_str());
        f.insert("expires_at", tokens.expires_at.to_string());
        self.parse(&f)
    }
}

impl Connector for HarvestV3Partner {
    /// The operator's partner client at `{auth_url}/authorize`, with the scope
    /// `harvest:<resource>:list` for every resource of the profile, required and optional.
    fn authorize(&self, checker: &Checker, profile: &Profile) -> Option<Authorize> {
        let client = checker.config().partner.as_ref()?;
        let scope = profile
            .required
            .iter()
            .chain(&profile.optional)
            .map(|r| format!("harvest:{r}:list"))
            .collect::<Vec<_>>()
            .join(" ");
        Some(Authorize {
            endpoint: format!("{}/authorize", checker.config().auth_url),
            client_id: client.client_id.clone(),
            scope,
        })
    }

    fn exchange<'a>(
        &'a self,
        checker: &'a Checker,
        budget: Budget,
        code: &'a str,
        redirect_uri: &'a str,
    ) -> BoxFuture<'a, Result<Connected, ConnectError>> {
        Box::pin(async move {
            let client = checker
                .config()
                .partner
                .as_ref()
                .ok_or(ConnectError::Unavailable)?;
            let tokens =
                oauth::exchange_code(checker, budget, client.into(), code, redirect_uri).await?;
            let secret = self.secret_of(&tokens).map_err(|e| {
                tracing::error!(field = e.field, "Greenhouse sent a malformed token");
                ConnectError::Unavailable
            })?;
            Ok(Connected {
                secret,
                access_token: tokens.access_token.clone(),
                expires_at: tokens.expires_at,
            })
        })
    }
}

impl CredentialKind for HarvestV3Partner {
    fn name(&self) -> &'static str {
        NAME
    }

    fn label(&self) -> &'static str {
        "Greenhouse connection"
    }

    fn summary(&self) -> &'static str {
        "Connect with Greenhouse (partner OAuth): the customer approves in Greenhouse and pastes \
         nothing; workers get access tokens only"
    }

    fn fields(&self) -> &'static [FieldSpec] {
        FIELDS
    }

    fn connector(&self) -> Option<&dyn Connector> {
        Some(self)
    }

    fn parse(&self, form: &Fields) -> Result<Secret, ValidationError> {
        let refresh = token_field("refresh_token", form.get("refresh_token"))?;
        let access = token_field("access_token", form.get("access_token"))?;
        let expires = form.get("expires_at");
        if expires.parse::<i64>().is_err() {
            return Err(ValidationError::new(
                "expires_at",
                "Greenhouse sent a malformed token expiry.",
            ));
        }
        Ok(Secret::new(
            self,
            vec![
                ("refresh_token", Some(refresh)),
                ("access_token", Some(access)),
                ("expires_at", Some(expires.to_owned())),
            ],
        ))
    }

    /// Nothing of a token is ever shown, not even its end.
    fn hint(&self, _secret: &Secret) -> String {
        String::new()
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
                secret.get("access_token").unwrap_or(""),
                profile,
            )
            .await
        })
    }

    fn release_modes(&self) -> ReleaseModes {
        ReleaseModes::VEND_ONLY
    }

    fn unavailable(&self, checker: &Checker) -> Option<String> {
        checker.config().partner.is_none().then(|| {
            "kind harvest_v3_partner needs the operator's Greenhouse partner client: set \
             KEYDROP_GREENHOUSE_PARTNER_CLIENT_ID and KEYDROP_GREENHOUSE_PARTNER_CLIENT_SECRET \
             (or …_SECRET_FILE)"
                .to_owned()
        })
    }

    /// A refresh: the new pair replaces the old one (the old refresh token is now spent).
    /// Once Greenhouse answered 200, its refresh token is kept whatever else the answer
    /// held: an access token that is missing or malformed costs a retry later, with the new
    /// refresh token — never the grant.
    fn renew<'a>(
        &'a self,
        checker: &'a Checker,
        budget: Budget,
        secret: &'a Secret,
    ) -> BoxFuture<'a, Result<Renewed, TokenError>> {
        Box::pin(async move {
            let Some(client) = checker.config().partner.as_ref() else {
                return Err(TokenError::Refused("unauthorized_client".into()));
            };
            let presented = secret.get("refresh_token").unwrap_or("");
            let answer = oauth::refresh(checker, budget, client.into(), presented).await?;
            // Without a rotated token Greenhouse kept the old one: store that again.
            let refresh = match answer.refresh_token {
                Some(t) => t,
                None => {
                    tracing::error!("Greenhouse answered a refresh without a new refresh token");
                    zeroize::Zeroizing::new(presented.to_owned())
                }
            };
            if token_field("refresh_token", &refresh).is_err() {
                tracing::error!("Greenhouse sent an odd refresh token; kept as it is");
            }
            let tokens = answer
                .access
                .filter(|(access, _)| {
                    let ok = token_field("access_token", access).is_ok();
                    if !ok {
                        tracing::error!("Greenhouse sent a malformed access token; not used");
                    }
                    ok
                })
                .map(|(access_token, expires_at)| Tokens {
                    access_token,
                    refresh_token: Some(refresh.clone()),
                    expires_at,
                });
            let (access, expires_at) = tokens.as_ref().map_or((String::new(), 0), |t| {
                (t.access_token.to_string(), t.expires_at)
            });
            let secret = Secret::new(
                self,
                vec![
                    ("refresh_token", Some(refresh.to_string())),
                    ("access_token", Some(access)),
                    ("expires_at", Some(expires_at.to_string())),
                ],
            );
            Ok(Renewed {
                tokens,
                secret: Some(secret),
            })
        })
    }

    fn advice(&self, _secret: &Secret, advice: Advice) -> String {
        match advice {
            Advice::AllRefused => {
                "Greenhouse connected, but every permission was refused: the person who approved \
                 is probably not a Site Admin, or did not tick “Authorize using a service \
                 account”. Ask a Site Admin to connect again and tick that box."
            }
            Advice::MissingRequired => {
                "Greenhouse connected, but the approval did not include every permission needed. \
                 Connect again and approve every permission listed."
            }
        }
        .to_owned()
    }

    fn how_to_add(&self) -> &'static str {
        "Connect again and approve every permission listed below."
    }

    fn how_to_add_optional(&self) -> &'static str {
        "To add them later, connect again through a new link and approve them."
    }

    fn instructions(&self, brand: &str, permissions: Markup) -> Markup {
        page::steps(brand, permissions)
    }

    fn grant_steps(&self) -> Markup {
        page::grant_steps()
    }
}
