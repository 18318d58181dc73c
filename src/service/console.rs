//! The staff console's people and sessions (SPEC §13, §8.12): single-use sign-in links
//! (`keydrop console link`) and OpenID Connect sign-in, sessions with idle and absolute ends,
//! sign-out. Who may sign in, and as what, is decided here ([`decide`]) from what the provider
//! vouched for (`crate::oidc` checks the tokens). Secrets — a link's token, a session's id — are 256-bit random
//! values handed out once and stored only as hashes that name their purpose.
//!
//! Every change is audited with the person as `actor` (`user:<e-mail>`).

use super::ServiceError;
use crate::config::OidcSettings;
use crate::crypto::link::Opaque;
use crate::domain::contact::check_email;
use crate::domain::event::{Event, Origin};
use crate::domain::role::Role;
use crate::oidc::{Identity, OidcError, Provider};
use crate::store::{NewSession, Store};
use std::time::Duration;

/// Hash purpose of an OIDC sign-in's `state`.
const OIDC_STATE: &str = "console-oidc-state";
/// Hash purpose binding an OIDC sign-in to the browser that started it.
const OIDC_BROWSER: &str = "console-oidc-browser";
/// Derivation purposes of the PKCE verifier and the nonce, from the browser's secret.
const OIDC_PKCE: &str = "console-oidc-pkce";
const OIDC_NONCE: &str = "console-oidc-nonce";
/// How long a person has at the provider to sign in.
pub const OIDC_SIGN_IN_TTL: Duration = Duration::from_secs(600);

/// Hash purpose of a sign-in link's token.
const LINK: &str = "console-link";
/// Hash purpose of a session id.
const SESSION: &str = "console-session";
/// The longest a sign-in link lives (SPEC §7: ttl ≤ 1 h).
pub const MAX_LINK_TTL: Duration = Duration::from_secs(3600);

/// A signed-in person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub email: String,
    pub role: Role,
}

impl Person {
    /// How the person is named in the audit log.
    pub fn actor(&self) -> String {
        format!("user:{}", self.email)
    }
}

/// Why no sign-in link was made: the caller's to fix.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Service(#[from] ServiceError),
}

/// A single-use sign-in link's token for `email` as `role`, valid for `ttl` (at most an
/// hour); audited by `origin`. Workers are machines: they get API tokens, not sessions.
pub async fn create_link(
    store: &Store,
    email: &str,
    role: Role,
    ttl: Duration,
    origin: &Origin,
) -> Result<Opaque, LinkError> {
    let email = check_email("email", email).map_err(LinkError::Invalid)?;
    if role == Role::Worker {
        return Err(LinkError::Invalid(
            "the console is for people: role must be admin, issuer or auditor".into(),
        ));
    }
    if ttl.is_zero() || ttl > MAX_LINK_TTL {
        return Err(LinkError::Invalid("a sign-in link lives at most 1h".into()));
    }
    let token = Opaque::generate().map_err(ServiceError::from)?;
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    let audit = origin.entry(Event::ConsoleLinkCreated {
        email: email.clone(),
        role: role.as_str().to_owned(),
    });
    store
        .insert_console_link(
            &token.hash(LINK),
            &email,
            role,
            store.now_ms().saturating_add(ttl_ms),
            &audit,
        )
        .await
        .map_err(ServiceError::from)?;
    Ok(token)
}

/// Who a sign-in link would sign in, if it is still usable (the `GET` of the link: it never
/// consumes it).
pub async fn link_holder(store: &Store, token: &str) -> Result<Option<Person>, ServiceError> {
    let Some(token) = Opaque::parse(token) else {
        return Ok(None);
    };
    Ok(store
        .console_link(&token.hash(LINK))
        .await?
        .map(|(email, role)| Person { email, role }))
}

/// Use a sign-in link (the `POST`): a new session for its person, lasting at most
/// `max_age`. `None` when the link is unknown, used or expired — and only one of any number
/// of simultaneous uses signs in.
pub async fn sign_in_with_link(
    store: &Store,
    token: &str,
    max_age: Duration,
    ip: Option<String>,
) -> Result<Option<(Opaque, Person)>, ServiceError> {
    let Some(token) = Opaque::parse(token) else {
        return Ok(None);
    };
    let session = Opaque::generate()?;
    let max_age_ms = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
    let expires_at = store.now_ms().saturating_add(max_age_ms);
    let id_hash = session.hash(SESSION);
    let signed_in = store
        .sign_in_with_link(
            &token.hash(LINK),
            |email, role| NewSession {
                id_hash,
                email: email.to_owned(),
                role,
                expires_at,
                ip: ip.clone(),
            },
            |email, role| {
                Origin::new(format!("user:{email}"), ip.clone()).entry(Event::ConsoleSignIn {
                    email: email.to_owned(),
                    how: "link".into(),
                    role: role.as_str().to_owned(),
                })
            },
        )
        .await?;
    Ok(signed_in.map(|s| {
        (
            session,
            Person {
                email: s.email,
                role: s.role,
            },
        )
    }))
}

/// The person of live session `id` (seen within `idle`), touched as seen now.
pub async fn session(
    store: &Store,
    id: &str,
    idle: Duration,
) -> Result<Option<Person>, ServiceError> {
    let Some(id) = Opaque::parse(id) else {
        return Ok(None);
    };
    let idle_ms = i64::try_from(idle.as_millis()).unwrap_or(i64::MAX);
    Ok(store
        .console_session(&id.hash(SESSION), idle_ms)
        .await?
        .map(|s| Person {
            email: s.email,
            role: s.role,
        }))
}

/// End session `id` of `person`; audited. `false` when it was not live.
pub async fn sign_out(
    store: &Store,
    id: &str,
    person: &Person,
    ip: Option<String>,
) -> Result<bool, ServiceError> {
    let Some(id) = Opaque::parse(id) else {
        return Ok(false);
    };
    let audit = Origin::new(person.actor(), ip).entry(Event::ConsoleSignOut {
        email: person.email.clone(),
    });
    Ok(store.end_console_session(&id.hash(SESSION), &audit).await?)
}

/// A live session as an admin sees it: whose, since when, last seen, from where; `key` is
/// its id's hash (what revoking names; never the id).
#[derive(Debug, Clone)]
pub struct LiveSession {
    pub key: String,
    pub email: String,
    pub role: Role,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub ip: Option<String>,
}

/// Every live session (seen within `idle`), most recently seen first.
pub async fn live_sessions(
    store: &Store,
    idle: Duration,
) -> Result<Vec<LiveSession>, ServiceError> {
    let idle_ms = i64::try_from(idle.as_millis()).unwrap_or(i64::MAX);
    Ok(store
        .live_console_sessions(idle_ms)
        .await?
        .into_iter()
        .map(|(key, s, ip)| LiveSession {
            key,
            email: s.email,
            role: s.role,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
            ip,
        })
        .collect())
}

/// End the session whose id hashes to `key`, by `admin`; audited with the admin as actor. It
/// stops at once: every request looks its session up. `false` when it was not live.
pub async fn revoke_session(
    store: &Store,
    key: &str,
    admin: &Person,
    ip: Option<String>,
) -> Result<bool, ServiceError> {
    if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(false);
    }
    let Some(email) = store.console_session_owner(key).await? else {
        return Ok(false);
    };
    let audit = Origin::new(admin.actor(), ip).entry(Event::ConsoleSessionRevoked { email });
    Ok(store.end_console_session(key, &audit).await?)
}

/// The console page a sign-in lands on: `next` when it is a path of the console itself
/// (`/console`, `/console/…`, `/console?…`), else `/console` — never another site, never a
/// scheme-relative `//host` or a backslash trick.
pub fn landing(next: Option<&str>) -> String {
    let Some(next) = next else {
        return "/console".into();
    };
    let own = next
        .strip_prefix("/console")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'));
    let tricky = next.contains("//")
        || next.contains('\\')
        || next.contains("/.")
        || next.chars().any(|c| c.is_control() || c.is_whitespace())
        || next.len() > 512;
    if own && !tricky {
        next.to_owned()
    } else {
        "/console".into()
    }
}

/// Who may sign in, and as what: a verified e-mail in an allowed domain, and a group or that
/// e-mail named for a role (the highest role wins). `Err` is the refusal's reason.
pub fn decide(settings: &OidcSettings, id: &Identity) -> Result<Person, &'static str> {
    let Some(email) = id.email.as_deref() else {
        return Err("no_email");
    };
    if !id.email_verified {
        return Err("email_unverified");
    }
    let Ok(email) = check_email("email", email) else {
        return Err("no_email");
    };
    let email = email.to_ascii_lowercase();
    let domain = email.rsplit('@').next().unwrap_or("");
    if !settings.allowed_domains.is_empty() && !settings.allowed_domains.iter().any(|d| d == domain)
    {
        return Err("domain_not_allowed");
    }
    let groups: Vec<String> = id
        .groups
        .iter()
        .map(|g| g.trim().to_ascii_lowercase())
        .collect();
    let named = |list: &[String]| list.iter().any(|x| *x == email || groups.contains(x));
    let role = if named(&settings.admins) {
        Role::Admin
    } else if named(&settings.issuers) {
        Role::Issuer
    } else if named(&settings.auditors) {
        Role::Auditor
    } else {
        return Err("no_role");
    };
    Ok(Person { email, role })
}

/// An OpenID Connect sign-in begun: where to send the browser, and the secret the browser
/// keeps (in a cookie) to finish it.
pub struct OidcStart {
    pub redirect: String,
    pub browser: Opaque,
}

/// Why an OpenID Connect sign-in did not end in a session.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The provider is down or out of contract: try later, or use a sign-in link.
    #[error("{0}")]
    Unavailable(String),
    /// A bad, used or expired `state`, another browser's callback, or a token that fails a
    /// check.
    #[error("{0}")]
    Rejected(String),
    /// The provider vouched for someone the console does not let in (audited).
    #[error("refused: {0}")]
    Refused(&'static str),
    #[error("{0}")]
    Service(#[from] ServiceError),
}

impl From<OidcError> for SignInError {
    fn from(e: OidcError) -> Self {
        match e {
            OidcError::Unavailable(m) => Self::Unavailable(m),
            OidcError::Rejected(m) => Self::Rejected(m),
        }
    }
}

/// Begin a sign-in at the provider, to land on `next` (see [`landing`]). Nothing secret is
/// stored: the `state`'s hash and the hash of the browser's secret; the PKCE verifier and the
/// nonce are derived from the browser's secret at the callback.
pub async fn start_oidc(
    store: &Store,
    provider: &Provider,
    next: Option<&str>,
) -> Result<OidcStart, SignInError> {
    let browser = Opaque::generate().map_err(ServiceError::from)?;
    let state = Opaque::generate().map_err(ServiceError::from)?;
    let redirect = provider
        .authorization_url(
            state.reveal(),
            &browser.hash(OIDC_NONCE),
            &crate::crypto::pkce_challenge(&browser.hash(OIDC_PKCE)),
        )
        .await?;
    let ttl_ms = i64::try_from(OIDC_SIGN_IN_TTL.as_millis()).unwrap_or(i64::MAX);
    store
        .insert_oidc_state(
            &state.hash(OIDC_STATE),
            &browser.hash(OIDC_BROWSER),
            &landing(next),
            store.now_ms().saturating_add(ttl_ms),
        )
        .await
        .map_err(ServiceError::from)?;
    Ok(OidcStart { redirect, browser })
}

/// Finish a sign-in at the callback: take the `state` once, check it was this `browser`'s,
/// exchange the `code`, check the ID token, decide who this is. A new session (a new id,
/// whatever the browser held before) and the page to land on; a refusal is audited.
pub async fn finish_oidc(
    store: &Store,
    provider: &Provider,
    browser: Option<&str>,
    state: &str,
    code: &str,
    max_age: Duration,
    ip: Option<String>,
) -> Result<(Opaque, Person, String), SignInError> {
    let gone = || SignInError::Rejected("this sign-in is not known, was used, or expired".into());
    let Some(state) = Opaque::parse(state) else {
        return Err(gone());
    };
    if code.is_empty() || code.len() > 2048 || code.chars().any(char::is_control) {
        return Err(SignInError::Rejected(
            "the callback carries no usable code".into(),
        ));
    }
    let (browser_hash, next) = store
        .take_oidc_state(&state.hash(OIDC_STATE))
        .await
        .map_err(ServiceError::from)?
        .ok_or_else(gone)?;
    let browser = browser
        .and_then(Opaque::parse)
        .ok_or_else(|| SignInError::Rejected("this browser did not start this sign-in".into()))?;
    let same = subtle::ConstantTimeEq::ct_eq(
        browser.hash(OIDC_BROWSER).as_bytes(),
        browser_hash.as_bytes(),
    );
    if !bool::from(same) {
        return Err(SignInError::Rejected(
            "this browser did not start this sign-in".into(),
        ));
    }
    let identity = provider
        .sign_in(code, &browser.hash(OIDC_PKCE), &browser.hash(OIDC_NONCE))
        .await?;
    let person = match decide(provider.settings(), &identity) {
        Ok(p) => p,
        Err(reason) => {
            let who = match (&identity.email, identity.email_verified) {
                (Some(e), true) => e.to_ascii_lowercase(),
                _ => format!(
                    "sub:{}",
                    identity.subject.chars().take(200).collect::<String>()
                ),
            };
            let audit = Origin::new(format!("user:{who}"), ip).entry(Event::ConsoleSignInRefused {
                who,
                reason: reason.into(),
            });
            store
                .record_only(&audit)
                .await
                .map_err(ServiceError::from)?;
            return Err(SignInError::Refused(reason));
        }
    };
    let session = Opaque::generate().map_err(ServiceError::from)?;
    let max_age_ms = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
    let new = NewSession {
        id_hash: session.hash(SESSION),
        email: person.email.clone(),
        role: person.role,
        expires_at: store.now_ms().saturating_add(max_age_ms),
        ip: ip.clone(),
    };
    let audit = Origin::new(person.actor(), ip).entry(Event::ConsoleSignIn {
        email: person.email.clone(),
        how: "oidc".into(),
        role: person.role.as_str().to_owned(),
    });
    store
        .start_console_session(&new, &audit)
        .await
        .map_err(ServiceError::from)?;
    Ok((session, person, next))
}
