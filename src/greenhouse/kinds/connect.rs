//! The seam of a kind whose customers connect through Greenhouse's OAuth instead of pasting
//! a secret (SPEC §1.5): what the connect flow needs from the kind — the authorize
//! parameters, the code exchange and the first access token it brings. Renewal is the
//! kind's own [`CredentialKind::renew`](super::CredentialKind::renew), the same for every
//! `vend` kind. The flow itself — the `state` and the browser binding, the attempt, the
//! check, storing, the keep-alive — is written once, in `service::credentials`, and knows
//! no kind by name.

use super::Secret;
use crate::greenhouse::checker::Checker;
use crate::greenhouse::http::Budget;
use crate::greenhouse::oauth::TokenError;
use crate::greenhouse::profile::Profile;
use futures_util::future::BoxFuture;
use zeroize::Zeroizing;

/// What the first exchange brought: the secret to store (it holds the refresh token), and
/// the first access token, which becomes the vending cache.
pub struct Connected {
    pub secret: Secret,
    pub access_token: Zeroizing<String>,
    /// Unix ms.
    pub expires_at: i64,
}

impl std::fmt::Debug for Connected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connected")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Why an exchange gave nothing to store.
#[derive(Debug)]
pub enum ConnectError {
    /// Greenhouse said no (an RFC 6749 code): the approval is not usable; counted.
    Refused(String),
    /// No usable answer — Greenhouse down, or tokens keydrop cannot store: the customer
    /// connects again (the code is spent either way).
    Unavailable,
}

impl From<TokenError> for ConnectError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Refused(code) => Self::Refused(code),
            TokenError::Transient(_) => Self::Unavailable,
        }
    }
}

/// Where the customer is sent to approve, and with what: the flow adds `response_type`,
/// `redirect_uri` and `state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorize {
    /// The authorize endpoint, e.g. `https://auth.greenhouse.io/authorize`.
    pub endpoint: String,
    pub client_id: String,
    /// The `scope` for the drop's profile.
    pub scope: String,
}

/// A kind whose customers connect instead of pasting (see the module docs).
pub trait Connector: Send + Sync {
    /// The authorize parameters for a drop asking for `profile`; `None` when the operator
    /// did not configure the OAuth client (drops of the kind cannot be created then, see
    /// [`CredentialKind::unavailable`](super::CredentialKind::unavailable)).
    fn authorize(&self, checker: &Checker, profile: &Profile) -> Option<Authorize>;
    /// Exchange an authorization code — sent once, never repeated (it lives a minute) —
    /// for what to store.
    fn exchange<'a>(
        &'a self,
        checker: &'a Checker,
        budget: Budget,
        code: &'a str,
        redirect_uri: &'a str,
    ) -> BoxFuture<'a, Result<Connected, ConnectError>>;
}
