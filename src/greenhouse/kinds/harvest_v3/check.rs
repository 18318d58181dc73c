//! Harvest v3: mint a client-credentials token, then probe each resource with it.

use crate::greenhouse::checker::{nothing_to_probe, Checker};
use crate::greenhouse::http::{send, Answer, Budget, EndpointClass as Class};
use crate::greenhouse::profile::Profile;
use crate::greenhouse::report::{Probe, Transient, Verdict};
use crate::greenhouse::resources::Resource;
use crate::greenhouse::scrub::excerpt;
use tokio::sync::Mutex;
use zeroize::Zeroizing;

struct Creds<'a> {
    client_id: &'a str,
    client_secret: &'a str,
    user_id: Option<&'a str>,
}

impl Creds<'_> {
    fn secrets(&self) -> [&str; 2] {
        [self.client_id, self.client_secret]
    }
}

/// Why Greenhouse refused the credential outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    BadClient,
    MalformedClientId,
    UserIdRefused,
    UnauthorizedClient,
    InvalidScope,
    Other,
}

impl Refusal {
    fn message(self) -> &'static str {
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

enum MintError {
    Refused(Refusal),
    Pending(Transient),
}

/// The current access token; re-minted at most once per check when Greenhouse answers 401.
struct TokenCell {
    state: Mutex<TokenState>,
}

struct TokenState {
    generation: u32,
    token: Zeroizing<String>,
    reminted: bool,
}

pub(crate) async fn check(
    checker: &Checker,
    budget: Budget,
    client_id: &str,
    client_secret: &str,
    user_id: Option<&str>,
    profile: &Profile,
) -> Verdict {
    let creds = Creds {
        client_id,
        client_secret,
        user_id,
    };
    let plan = profile.planned(&super::HarvestV3);
    if plan.is_empty() {
        return nothing_to_probe();
    }
    let token = match mint(checker, budget, &creds).await {
        Ok(t) => t,
        Err(MintError::Refused(r)) => return Verdict::Refused(r.message().to_owned()),
        Err(MintError::Pending(t)) => return Verdict::Pending(t),
    };
    let cell = TokenCell {
        state: Mutex::new(TokenState {
            generation: 0,
            token,
            reminted: false,
        }),
    };
    let (cell, creds) = (&cell, &creds);
    let findings = checker
        .probe_all(plan, |r| probe(checker, budget, creds, cell, r))
        .await;
    Verdict::Probed(findings)
}

#[tracing::instrument(skip_all, fields(sub_given = creds.user_id.is_some()))]
async fn mint(
    checker: &Checker,
    budget: Budget,
    creds: &Creds<'_>,
) -> Result<Zeroizing<String>, MintError> {
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
    classify_token(&answer, creds)
}

#[derive(serde::Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
struct TokenBody {
    access_token: String,
}

fn classify_token(a: &Answer, creds: &Creds<'_>) -> Result<Zeroizing<String>, MintError> {
    let status = a.status;
    if status == 200 {
        return match serde_json::from_str::<TokenBody>(&a.body) {
            Ok(t) if !t.access_token.is_empty() => Ok(Zeroizing::new(t.access_token.clone())),
            _ => {
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

async fn probe(
    checker: &Checker,
    budget: Budget,
    creds: &Creds<'_>,
    cell: &TokenCell,
    r: &'static Resource,
) -> Probe {
    let url = format!("{}/v3/{}", checker.config.api_url, r.name);
    let (mut generation, mut token) = {
        let s = cell.state.lock().await;
        (s.generation, s.token.clone())
    };
    for _ in 0..2 {
        let build = || {
            checker
                .client
                .get(&url)
                .query(&[("per_page", "1")])
                .bearer_auth(token.as_str())
        };
        let answer = match send(checker, Class::Resource, &build, budget, r.name).await {
            Ok(a) => a,
            Err(t) => return Probe::Unresolved(t),
        };
        match answer.status {
            200 => return Probe::Granted,
            403 => return Probe::Forbidden,
            404 => {
                tracing::warn!(
                    resource = r.name,
                    "Greenhouse does not know this v3 resource: our catalogue is wrong"
                );
                return Probe::NotFound;
            }
            401 => match remint(checker, budget, creds, cell, generation).await {
                Some((g, t)) => {
                    generation = g;
                    token = t;
                }
                None => return Probe::Unresolved(Transient::TokenRejected),
            },
            status => {
                tracing::warn!(
                    resource = r.name,
                    status,
                    answer = %excerpt(&answer.body, &creds.secrets()),
                    "unexpected answer to a v3 probe"
                );
                return Probe::Unresolved(Transient::Unexpected);
            }
        }
    }
    tracing::warn!(
        resource = r.name,
        "Greenhouse refused a freshly minted token"
    );
    Probe::Unresolved(Transient::TokenRejected)
}

/// A token newer than `seen`: the one another probe already minted, or a new one (once).
async fn remint(
    checker: &Checker,
    budget: Budget,
    creds: &Creds<'_>,
    cell: &TokenCell,
    seen: u32,
) -> Option<(u32, Zeroizing<String>)> {
    let mut s = cell.state.lock().await;
    if s.generation != seen {
        return Some((s.generation, s.token.clone()));
    }
    if s.reminted {
        return None;
    }
    s.reminted = true;
    tracing::info!("Greenhouse answered 401 to a probe; minting a new token once");
    match mint(checker, budget, creds).await {
        Ok(t) => {
            s.generation += 1;
            s.token = t;
            Some((s.generation, s.token.clone()))
        }
        Err(_) => None,
    }
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
