//! `candidate_ingestion`: a Candidate Ingestion API key (formerly "Partner API"), the e-mail
//! of the Greenhouse user it acts for, and optionally the customer's job board token
//! (SPEC §1.4). Checked with `GET {ingestion}/v1/partner/current_user` (Basic `<key>:`,
//! `On-Behalf-Of: <e-mail>`), then the profile's resources with the same headers, then the job
//! board. The `minimal` profile needs only `current_user`, so nothing more is probed.

mod check;
mod page;

use super::fields::{FieldSpec, Fields, InputMode, Keep};
use super::{Advice, Checked, CredentialKind, NamedProfile};
use crate::greenhouse::checker::Checker;
use crate::greenhouse::http::Budget;
use crate::greenhouse::profile::Profile;
use crate::greenhouse::resources::Resource;
use crate::greenhouse::secret::{check_token_like, Secret};
use crate::greenhouse::validation::ValidationError;
use futures_util::future::BoxFuture;
use maud::Markup;

/// The `candidate_ingestion` kind.
pub struct CandidateIngestion;

/// Longest e-mail address (RFC 5321 path limit).
const MAX_EMAIL: usize = 254;
/// Longest job board token we accept.
const MAX_BOARD_TOKEN: usize = 100;

static FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "api_key",
        label: "Candidate Ingestion API key",
        help: "Shown only once, when the key is created in Dev Center → API Credential \
               Management. If you no longer have it, create a new key.",
        looks_like: Some("a long string of letters and digits"),
        secret: true,
        required: true,
        input: InputMode::Text,
        keep: Keep::Never,
    },
    FieldSpec {
        name: "user_email",
        label: "E-mail of the Greenhouse user to act for",
        help: "An active Greenhouse user, usually whoever created the key. What can be read \
               and sent follows this user's permissions.",
        looks_like: Some("name@yourcompany.com"),
        secret: false,
        required: true,
        input: InputMode::Email,
        keep: Keep::IfWellFormed(is_email),
    },
    FieldSpec {
        name: "job_board_token",
        label: "Job board token (optional)",
        help: "The last part of your job board's address: boards.greenhouse.io/<token>. \
               Leave empty if you were not asked for it.",
        looks_like: Some("a short name, such as yourcompany"),
        secret: false,
        required: false,
        input: InputMode::Text,
        keep: Keep::IfCredentialWorked,
    },
];

static RESOURCES: &[Resource] = &[
    Resource::labelled(
        "current_user",
        "GET /v1/partner/current_user",
        "Your Greenhouse user — who the key acts for",
    ),
    Resource::labelled(
        "jobs",
        "GET /v1/partner/jobs",
        "Jobs — the positions candidates can be sent to",
    ),
    Resource::labelled(
        "candidates",
        "GET /v1/partner/candidates",
        "Candidates — the people already in your Greenhouse account",
    ),
    Resource::labelled(
        "prospect_pools",
        "GET /v1/partner/prospect_pools",
        "Prospect pools — where prospects can be added",
    ),
];

static PROFILES: &[NamedProfile] = &[
    NamedProfile {
        name: "ingestion",
        required: &["jobs"],
        optional: &["candidates", "prospect_pools"],
    },
    NamedProfile {
        name: "minimal",
        required: &["current_user"],
        optional: &[],
    },
];

/// A plain `local@domain.tld` address in ASCII: it goes into an HTTP header.
fn is_email(v: &str) -> bool {
    let Some((local, domain)) = v.split_once('@') else {
        return false;
    };
    v.len() <= MAX_EMAIL
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && v.bytes().all(|b| b.is_ascii_graphic())
}

fn is_board_token(v: &str) -> bool {
    (1..=MAX_BOARD_TOKEN).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl CredentialKind for CandidateIngestion {
    fn name(&self) -> &'static str {
        "candidate_ingestion"
    }

    fn label(&self) -> &'static str {
        "Candidate Ingestion API key"
    }

    fn summary(&self) -> &'static str {
        "Candidate Ingestion API key, the e-mail of a Greenhouse user, optional job board token"
    }

    fn fields(&self) -> &'static [FieldSpec] {
        FIELDS
    }

    fn parse(&self, form: &Fields) -> Result<Secret, ValidationError> {
        let (api_key, user_email, board) = (
            form.get("api_key"),
            form.get("user_email"),
            form.get("job_board_token"),
        );
        check_token_like("api_key", "API key", api_key)?;
        if !api_key.bytes().all(|b| b.is_ascii_graphic()) || api_key.contains(':') {
            return Err(ValidationError::new(
                "api_key",
                "The API key may contain only letters, digits and punctuation (no colon). \
                 Copy it again from Greenhouse.",
            ));
        }
        if user_email.is_empty() {
            return Err(ValidationError::new(
                "user_email",
                "The e-mail of the Greenhouse user is empty.",
            ));
        }
        if user_email == api_key || (!user_email.contains('@') && user_email.len() >= 20) {
            return Err(ValidationError::new(
                "user_email",
                "This looks like the API key, not an e-mail address. Paste the key into the \
                 first box, and enter here the e-mail address of the Greenhouse user \
                 (name@yourcompany.com).",
            ));
        }
        if !is_email(user_email) {
            return Err(ValidationError::new(
                "user_email",
                "The e-mail of the Greenhouse user does not look like an e-mail address \
                 (name@example.com, without spaces). Enter the address the user signs in to \
                 Greenhouse with.",
            ));
        }
        let board = match board {
            "" => None,
            b if is_board_token(b) => Some(b.to_owned()),
            _ => {
                return Err(ValidationError::new(
                    "job_board_token",
                    "The job board token may contain only letters, digits, dashes and \
                     underscores: it is the last part of your job board's address \
                     (boards.greenhouse.io/<token>). Leave it empty if you were not asked \
                     for it.",
                ))
            }
        };
        Ok(Secret::new(
            self,
            vec![
                ("api_key", Some(api_key.to_owned())),
                ("user_email", Some(user_email.to_owned())),
                ("job_board_token", board),
            ],
        ))
    }

    fn resources(&self) -> &'static [Resource] {
        RESOURCES
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
        Box::pin(check::check(checker, budget, secret, profile))
    }

    fn advice(&self, _: &Secret, advice: Advice) -> String {
        match advice {
            Advice::AllRefused => {
                "The key works, but Greenhouse refused everything for the user whose e-mail you \
                 entered: that user's permissions are too low. Enter the e-mail of a user with \
                 more permissions (a Site Admin), or ask a Site Admin to raise this user's \
                 permission level in Configure → Users."
            }
            Advice::MissingRequired => {
                "The user whose e-mail you entered may not do this in Greenhouse. Ask a Site \
                 Admin to raise that user's permission level in Configure → Users, or enter \
                 the e-mail of a user who may, and submit the key again."
            }
        }
        .to_owned()
    }

    fn how_to_add(&self) -> &'static str {
        "They follow the Greenhouse role of the user whose e-mail you entered, not boxes on the \
         key: see below what to change, then send it again."
    }

    fn how_to_add_optional(&self) -> &'static str {
        "They follow the Greenhouse role of the user whose e-mail you entered: a user with a \
         broader role (such as a Site Admin) would add them. Nothing needs to be sent again \
         unless you change the user."
    }

    fn instructions(&self, brand: &str, permissions: Markup) -> Markup {
        page::steps(brand, permissions)
    }

    fn grant_steps(&self) -> Markup {
        page::grant_steps()
    }
}

#[cfg(test)]
mod tests;
