//! The client-credentials token request of `harvest_v3` (SPEC §1.1): `POST {auth}/token` with
//! HTTP Basic `client_id:client_secret` and `grant_type=client_credentials` (plus `sub` when a
//! User ID was given), and what each refusal means for the customer. The answer's lifetime is
//! read by [`oauth`](crate::greenhouse::oauth), so a later token cache can reuse [`mint`].

use crate::greenhouse::checker::Checker;
use crate::greenhouse::http::{send, Answer, Budget, EndpointClass as Class};
use crate::greenhouse::oauth::{parse_token_answer, MintedToken};
use crate::greenhouse::report::Transient;
use crate::greenhouse::scrub::excerpt;

pub(crate) struct Creds<'a> {
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub user_id: Option<&'a str>,
}

impl Creds<'_> {
    pub fn secrets(&self) -> [&str; 2] {
        [self.client_id, self.client_secret]
    }
}

/// Why Greenhouse refused the credential outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    BadClient,
    MalformedClientId,
    UserIdRefused,
    UnauthorizedClient,
    InvalidScope,
    Other,
}

impl Refusal {
    /// The OAuth error code (RFC 6749 §5.2) this refusal stands for; `refused` when none fits.
    /// Never `invalid_grant`: that one means a dead partner grant.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::BadClient | Refusal::MalformedClientId => "invalid_client",
            Refusal::UserIdRefused => "invalid_request",
            Refusal::UnauthorizedClient => "unauthorized_client",
            Refusal::InvalidScope => "invalid_scope",
            Refusal::Other => "refused",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Refusal::BadClient => {
                "Greenhouse refused this Client ID and Client Secret. Check that you copied both \
                 exactly, from the same credential, and that the credential has not been deleted. \
                 If you no longer have the secret, create a new Harvest V3 (OAuth) credential in \
                 Configure → Dev Center → API Credentials."
            }
            Refusal::MalformedClientId => {
                "Greenhouse says this Client ID looks malformed: a Greenhouse Client ID ends with a \
                 dash and digits. Copy the Client ID again from Configure → Dev Center → API \
                 Credentials."
            }
            Refusal::UserIdRefused => {
                "Greenhouse refused the User ID. Check the number (it is at the end of the user's \
                 page address, app.greenhouse.io/account/users/<number>), make sure the user is \
                 active and a Site Admin, or leave the User ID empty."
            }
            Refusal::UnauthorizedClient => {
                "Greenhouse does not allow this credential to be used this way. Create a \
                 \"Harvest V3 (OAuth)\" credential in Configure → Dev Center → API Credentials \
                 and paste its Client ID and Client Secret."
            }
            Refusal::InvalidScope => {
                "Greenhouse refused the permissions (scopes) of this credential. Open the credential \
                 under Configure → Dev Center → API Credentials, check Manage Scopes, and try again."
            }
            Refusal::Other => {
                "Greenhouse refused this credential. Check that you copied it exactly and that it \
                 has not been deleted or disabled."
            }
        }
    }
}

pub(crate) enum MintError {
    Refused(Refusal),
    Pending(Transient),
}

#[tracing::instrument(skip_all, fields(sub_given = creds.user_id.is_some()))]
pub(crate) async fn mint(
    checker: &Checker,
    budget: Budget,
    creds: &Creds<'_>,
) -> Result<MintedToken, MintError> {
    let url = format!("{}/token", checker.config.auth_url);
    let mut form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
    if let Some(sub) = creds.user_id {
        form.push(("sub", sub));
    }
    let build = || {
        checker
            .client
            .post(&url)
            .basic_auth(creds.client_id, Some(creds.client_secret))
            .form(&form)
    };
    let answer = send(checker, Class::Token, &build, budget, "token")
        .await
        .map_err(MintError::Pending)?;
    classify_token(&answer, creds, checker.now())
}

/// A 200 answer is a token (its expiry from `expires_in`, `expires_at` or one hour after
/// `now`); anything else is a refusal or, when it makes no sense, a transient failure.
fn classify_token(
    a: &Answer,
    creds: &Creds<'_>,
    now: time::OffsetDateTime,
) -> Result<MintedToken, MintError> {
    let status = a.status;
    if status == 200 {
        return match parse_token_answer(&a.body, now) {
            Some((token, lifetime)) => {
                tracing::debug!(lifetime = ?lifetime, expires_at = %token.expires_at, "token minted");
                Ok(token)
            }
            None => {
                tracing::error!(status, "Greenhouse token answer had no access_token");
                Err(MintError::Pending(Transient::Unexpected))
            }
        };
    }
    let lower = a.body.to_ascii_lowercase();
    let refusal = if lower.contains("invalid_client") {
        Refusal::BadClient
    } else if lower.contains("client id suffix") {
        Refusal::MalformedClientId
    } else if status == 400 && lower.contains("grant_type") {
        tracing::error!(
            status,
            answer = %excerpt(&a.body, &creds.secrets()),
            "Greenhouse refused our grant_type: this is a bug on our side"
        );
        return Err(MintError::Pending(Transient::Unexpected));
    } else if lower.contains("unauthorized_client") {
        Refusal::UnauthorizedClient
    } else if lower.contains("invalid_scope") {
        Refusal::InvalidScope
    } else if creds.user_id.is_some() && mentions_sub(&lower) {
        Refusal::UserIdRefused
    } else if matches!(status, 404 | 405) || !(400..500).contains(&status) {
        tracing::error!(
            status,
            answer = %excerpt(&a.body, &creds.secrets()),
            "unexpected answer from the Greenhouse token endpoint; check KEYDROP auth URL"
        );
        return Err(MintError::Pending(Transient::Unexpected));
    } else {
        Refusal::Other
    };
    tracing::info!(status, refusal = ?refusal, "Greenhouse refused the token request");
    if refusal == Refusal::Other {
        tracing::warn!(status, answer = %excerpt(&a.body, &creds.secrets()), "unrecognised token refusal");
    }
    Err(MintError::Refused(refusal))
}

/// Whether a (lower-cased) body names the `sub` parameter as a word.
fn mentions_sub(lower: &str) -> bool {
    lower
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|w| w == "sub")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_must_be_a_word() {
        assert!(mentions_sub(
            r#"{"error":"invalid_request","error_description":"bad sub"}"#
        ));
        assert!(mentions_sub("sub=12 is not a user"));
        assert!(!mentions_sub("client id suffix"));
        assert!(!mentions_sub("subject"));
    }
}
