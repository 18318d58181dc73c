//! The staff console's people and sessions (SPEC §13, §8.12): single-use sign-in links
//! (`keydrop console link`; OpenID Connect sign-in comes next), sessions with idle and
//! absolute ends, sign-out. Secrets — a link's token, a session's id — are 256-bit random
//! values handed out once and stored only as hashes that name their purpose.
//!
//! Every change is audited with the person as `actor` (`user:<e-mail>`).

use super::ServiceError;
use crate::crypto::link::Opaque;
use crate::domain::contact::check_email;
use crate::domain::event::{Event, Origin};
use crate::domain::role::Role;
use crate::store::{NewSession, Store};
use std::time::Duration;

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
