//! `test_doorbell`: a connecting kind that exists only in this test suite. Its customers
//! connect (no form of secrets), its "Greenhouse" is this file: the code exchange, the
//! check and the renewal answer from memory. It uses nothing but the public seam —
//! [`CredentialKind`] with a [`Connector`] — and is registered with one line
//! (`registry().with(&DOORBELL)`), exactly as a built-in kind is.
//!
//! Codes: `ok-<grant>` connects grant `<grant>`; `refused` is refused (RFC 6749
//! `invalid_grant`); anything else finds the authorization server unavailable. Every grant
//! starts at generation 0; each renewal moves it on one and retires the older tokens, so a
//! check or a renewal with a stale token fails as a real one would.

use futures_util::future::BoxFuture;
use keydrop::domain::release::ReleaseModes;
use keydrop::greenhouse::kinds::{
    Advice, Authorize, Checked, ConnectError, Connected, Connector, FieldSpec, InputMode, Keep,
    NamedProfile, Probe, Transient, Verdict,
};
use keydrop::greenhouse::oauth::Tokens;
use keydrop::greenhouse::{
    Budget, Checker, CredentialKind, Fields, Profile, Renewed, Resource, Secret, TokenError,
    ValidationError,
};
use maud::Markup;
use std::collections::HashMap;
use std::sync::Mutex;
use zeroize::Zeroizing;

pub struct Doorbell;
pub static DOORBELL: Doorbell = Doorbell;

/// How long an access token lives.
const LIFETIME_MS: i64 = 3_600_000;

/// What the doorbell's authorization server knows: each grant's current generation and how
/// often it was renewed. Shared by every test in the process, so grants are named apart.
static GRANTS: Mutex<Option<HashMap<String, Grant>>> = Mutex::new(None);

#[derive(Default, Clone, Copy)]
struct Grant {
    generation: u32,
    renewals: u32,
}

fn grants<T>(f: impl FnOnce(&mut HashMap<String, Grant>) -> T) -> T {
    let mut g = GRANTS.lock().unwrap();
    f(g.get_or_insert_with(HashMap::new))
}

/// Renewals of `grant` so far.
pub fn renewals(grant: &str) -> u32 {
    grants(|g| g.get(grant).map_or(0, |x| x.renewals))
}

/// The tokens of `grant` at `generation`: (refresh, access).
pub fn tokens_of(grant: &str, generation: u32) -> (String, String) {
    (
        format!("dbr.{grant}.{generation}.refresh-Xq81"),
        format!("dba.{grant}.{generation}.access-Lm27"),
    )
}

/// Which grant and generation a token belongs to, if it is the current one.
fn current(token: &str, prefix: &str) -> Option<String> {
    let rest = token.strip_prefix(prefix)?;
    let mut parts = rest.split('.');
    let (grant, generation) = (parts.next()?, parts.next()?.parse::<u32>().ok()?);
    grants(|g| g.get(grant).map(|x| x.generation) == Some(generation)).then(|| grant.to_owned())
}

static FIELDS: &[FieldSpec] = &[
    field("refresh_token", true),
    field("access_token", true),
    field("expires_at", false),
];

const fn field(name: &'static str, secret: bool) -> FieldSpec {
    FieldSpec {
        name,
        label: name,
        help: "",
        looks_like: None,
        secret,
        required: true,
        input: InputMode::Text,
        keep: Keep::Never,
    }
}

static RESOURCES: &[Resource] = &[Resource::labelled("door", "Open: Door", "The front door")];
static PROFILES: &[NamedProfile] = &[NamedProfile {
    name: "lobby",
    required: &["door"],
    optional: &[],
}];

impl Doorbell {
    fn secret(&self, grant: &str, generation: u32, expires_at: i64) -> Secret {
        let (refresh, access) = tokens_of(grant, generation);
        Secret::new(
            self,
            vec![
                ("refresh_token", Some(refresh)),
                ("access_token", Some(access)),
                ("expires_at", Some(expires_at.to_string())),
            ],
        )
    }
}

impl Connector for Doorbell {
    fn authorize(&self, checker: &Checker, profile: &Profile) -> Option<Authorize> {
        Some(Authorize {
            endpoint: format!("{}/authorize", checker.config().auth_url),
            client_id: "doorbell-client".into(),
            scope: profile.required.join(" "),
        })
    }

    fn exchange<'a>(
        &'a self,
        checker: &'a Checker,
        _: Budget,
        code: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Connected, ConnectError>> {
        Box::pin(async move {
            if code == "refused" {
                return Err(ConnectError::Refused("invalid_grant".into()));
            }
            let grant = code.strip_prefix("ok-").ok_or(ConnectError::Unavailable)?;
            grants(|g| g.insert(grant.to_owned(), Grant::default()));
            let expires_at = checker.now_ms() + LIFETIME_MS;
            Ok(Connected {
                secret: self.secret(grant, 0, expires_at),
                access_token: Zeroizing::new(tokens_of(grant, 0).1),
                expires_at,
            })
        })
    }
}

impl CredentialKind for Doorbell {
    fn name(&self) -> &'static str {
        "test_doorbell"
    }
    fn label(&self) -> &'static str {
        "Test doorbell"
    }
    fn summary(&self) -> &'static str {
        "a doorbell connection (tests only)"
    }
    fn fields(&self) -> &'static [FieldSpec] {
        FIELDS
    }
    fn connector(&self) -> Option<&dyn Connector> {
        Some(self)
    }
    fn parse(&self, form: &Fields) -> Result<Secret, ValidationError> {
        for f in ["refresh_token", "access_token", "expires_at"] {
            if form.get(f).is_empty() {
                return Err(ValidationError::new(f, "Missing."));
            }
        }
        Ok(Secret::new(
            self,
            ["refresh_token", "access_token", "expires_at"]
                .into_iter()
                .map(|f| (f, Some(form.get(f).to_owned())))
                .collect(),
        ))
    }
    fn hint(&self, _: &Secret) -> String {
        String::new()
    }
    fn resources(&self) -> &'static [Resource] {
        RESOURCES
    }
    fn profiles(&self) -> &'static [NamedProfile] {
        PROFILES
    }
    fn release_modes(&self) -> ReleaseModes {
        ReleaseModes::VEND_ONLY
    }
    /// The door opens for the grant's current access token only.
    fn check<'a>(
        &'a self,
        checker: &'a Checker,
        _: Budget,
        secret: &'a Secret,
        profile: &'a Profile,
    ) -> BoxFuture<'a, Checked> {
        Box::pin(async move {
            let token = secret.get("access_token").unwrap_or("");
            if current(token, "dba.").is_none() {
                return Verdict::Pending(Transient::TokenRejected).into();
            }
            let findings = checker
                .probe_all(profile.planned(self), |_| async { Probe::Granted })
                .await;
            Verdict::Probed(findings).into()
        })
    }
    /// A refresh with rotation: the presented refresh token must be the current one.
    fn renew<'a>(
        &'a self,
        checker: &'a Checker,
        _: Budget,
        secret: &'a Secret,
    ) -> BoxFuture<'a, Result<Renewed, TokenError>> {
        Box::pin(async move {
            let presented = secret.get("refresh_token").unwrap_or("");
            let Some(grant) = current(presented, "dbr.") else {
                return Err(TokenError::Refused("invalid_grant".into()));
            };
            let generation = grants(|g| {
                let x = g.entry(grant.clone()).or_default();
                x.generation += 1;
                x.renewals += 1;
                x.generation
            });
            let expires_at = checker.now_ms() + LIFETIME_MS;
            let (refresh, access) = tokens_of(&grant, generation);
            Ok(Renewed {
                tokens: Some(Tokens {
                    access_token: Zeroizing::new(access),
                    refresh_token: Some(Zeroizing::new(refresh)),
                    expires_at,
                }),
                secret: Some(self.secret(&grant, generation, expires_at)),
            })
        })
    }
    fn advice(&self, _: &Secret, _: Advice) -> String {
        "Ring again.".into()
    }
    fn instructions(&self, brand: &str, permissions: Markup) -> Markup {
        maud::html! { ol.steps { li { "Ring the bell for " (brand) "." (permissions) } } }
    }
    fn grant_steps(&self) -> Markup {
        maud::html! { "Ask the porter." }
    }
}
