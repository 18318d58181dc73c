//! The Candidate Ingestion check: who the key acts for, what that user may list, and whether
//! the job board exists.

use crate::greenhouse::checker::Checker;
use crate::greenhouse::http::{send, Budget, EndpointClass as Class};
use crate::greenhouse::kinds::Checked;
use crate::greenhouse::profile::Profile;
use crate::greenhouse::report::{Finding, Named, Probe, Transient, Verdict};
use crate::greenhouse::resources::Resource;
use crate::greenhouse::scrub::excerpt;
use crate::greenhouse::secret::Secret;

/// The resource answered by the first call itself.
const CURRENT_USER: &str = "current_user";

const REFUSED: &str = "Greenhouse refused this API key together with the e-mail address you \
    entered, and it does not say which of the two is wrong. Check both: that you copied the \
    whole Candidate Ingestion API key (and that it was not deleted), and that the e-mail is \
    exactly the one a Greenhouse user signs in with. The user must be active: a deactivated \
    user is refused too.";

const NO_BOARD: &str = "Greenhouse has no job board with this token. It is the last part of \
    your job board's address, boards.greenhouse.io/<token>: correct it, or leave the field \
    empty.";

struct Creds<'a> {
    api_key: &'a str,
    user_email: &'a str,
}

impl Creds<'_> {
    /// Values to scrub from anything Greenhouse echoes before it is logged.
    fn secrets(&self) -> [&str; 2] {
        [self.api_key, self.user_email]
    }
}

#[derive(serde::Deserialize)]
struct CurrentUser {
    id: serde_json::Value,
    #[serde(default)]
    full_name: Option<String>,
}

enum Who {
    User(Named),
    Forbidden,
}

pub(super) async fn check(
    checker: &Checker,
    budget: Budget,
    secret: &Secret,
    profile: &Profile,
) -> Checked {
    let creds = Creds {
        api_key: secret.get("api_key").unwrap_or(""),
        user_email: secret.get("user_email").unwrap_or(""),
    };
    let who = match current_user(checker, budget, &creds).await {
        Ok(w) => w,
        Err(verdict) => return verdict.into(),
    };
    let (current, greenhouse_user) = match who {
        Who::User(u) => (Probe::Granted, Some(u)),
        Who::Forbidden => (Probe::Forbidden, None),
    };
    let kind = &super::CandidateIngestion;
    let mut findings = Vec::new();
    let mut rest = Vec::new();
    for (r, required) in profile.planned(kind) {
        if r.name == CURRENT_USER {
            findings.push((r, required, Some(current)));
        } else {
            findings.push((r, required, None));
            rest.push((r, required));
        }
    }
    // The rest of the plan (empty for `minimal`) with the same headers.
    let creds = &creds;
    let mut probed = checker
        .probe_all(rest, |r| probe(checker, budget, creds, r))
        .await
        .into_iter();
    let findings: Vec<Finding> = findings
        .into_iter()
        .map(|(r, required, known)| Finding {
            permission: r.permission(),
            required,
            probe: known
                .or_else(|| probed.next().map(|f| f.probe))
                .unwrap_or(Probe::Unresolved(Transient::Unexpected)),
        })
        .collect();
    let verdict = match secret.get("job_board_token") {
        None => Verdict::Probed(findings),
        Some(token) => match board(checker, budget, token).await {
            Ok(()) => Verdict::Probed(findings),
            Err(v) => v,
        },
    };
    Checked {
        verdict,
        organization: None,
        greenhouse_user,
    }
}

fn partner_get(checker: &Checker, creds: &Creds<'_>, path: &str) -> reqwest::RequestBuilder {
    checker
        .client
        .get(format!(
            "{}/v1/partner/{path}",
            checker.config.ingestion_url
        ))
        .basic_auth(creds.api_key, Some(""))
        .header("On-Behalf-Of", creds.user_email)
}

async fn current_user(
    checker: &Checker,
    budget: Budget,
    creds: &Creds<'_>,
) -> Result<Who, Verdict> {
    let build = || partner_get(checker, creds, CURRENT_USER);
    let a = send(checker, Class::Ingestion, &build, budget, CURRENT_USER)
        .await
        .map_err(Verdict::Pending)?;
    match a.status {
        200 => match serde_json::from_str::<CurrentUser>(&a.body) {
            Ok(u) => {
                let id = match u.id {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                Ok(Who::User(Named {
                    id,
                    name: u.full_name.unwrap_or_default(),
                }))
            }
            Err(_) => {
                tracing::error!("Greenhouse current_user answer had no id");
                Err(Verdict::Pending(Transient::Unexpected))
            }
        },
        401 => {
            tracing::info!("Greenhouse refused the Candidate Ingestion key or user");
            Err(Verdict::Refused(REFUSED.to_owned()))
        }
        403 => Ok(Who::Forbidden),
        status => {
            tracing::warn!(
                status,
                answer = %excerpt(&a.body, &creds.secrets()),
                "unexpected answer to current_user; check KEYDROP_GREENHOUSE_INGESTION_URL"
            );
            Err(Verdict::Pending(Transient::Unexpected))
        }
    }
}

async fn probe(
    checker: &Checker,
    budget: Budget,
    creds: &Creds<'_>,
    r: &'static Resource,
) -> Probe {
    let build = || partner_get(checker, creds, r.name).query(&[("per_page", "1")]);
    let a = match send(checker, Class::Ingestion, &build, budget, r.name).await {
        Ok(a) => a,
        Err(t) => return Probe::Unresolved(t),
    };
    match a.status {
        200 => Probe::Granted,
        403 => Probe::Forbidden,
        404 => {
            tracing::warn!(
                resource = r.name,
                "Greenhouse does not know this Candidate Ingestion resource: our catalogue is wrong"
            );
            Probe::NotFound
        }
        status => {
            tracing::warn!(
                resource = r.name,
                status,
                answer = %excerpt(&a.body, &creds.secrets()),
                "unexpected answer to a Candidate Ingestion probe"
            );
            Probe::Unresolved(Transient::Unexpected)
        }
    }
}

/// `GET {boards}/v1/boards/<token>` (public, no credentials): 404 means no such board.
async fn board(checker: &Checker, budget: Budget, token: &str) -> Result<(), Verdict> {
    let url = format!("{}/v1/boards/{token}", checker.config.boards_url);
    let build = || checker.client.get(&url);
    let a = send(checker, Class::Boards, &build, budget, "job_board")
        .await
        .map_err(Verdict::Pending)?;
    match a.status {
        200 => Ok(()),
        404 => Err(Verdict::Refused(NO_BOARD.to_owned())),
        status => {
            tracing::warn!(status, "unexpected answer from the job board API");
            Err(Verdict::Pending(Transient::Unexpected))
        }
    }
}
