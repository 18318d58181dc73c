//! Harvest v3: mint a client-credentials token; then, together, introspect it (advisory: the
//! organisation) and, when a User ID was given, ask whether that user is a Site Admin; then
//! probe each resource of the profile with `GET {api}/v3/<resource>?per_page=1&fields=id`.
//!
//! Greenhouse may answer a user who is not a Site Admin with 200 and empty arrays rather than
//! 403 (SPEC §1.2), so besides the lookup ([`admin`](super::admin)) an empty `users` list is
//! read as "not a Site Admin": a real organisation always has users.

use super::admin::{lookup, SiteAdmin};
use super::session::{get, TokenCell};
use super::token::{mint, Creds, MintError};
use crate::greenhouse::checker::{nothing_to_probe, Checker};
use crate::greenhouse::http::Budget;
use crate::greenhouse::introspect;
use crate::greenhouse::kinds::Checked;
use crate::greenhouse::profile::Profile;
use crate::greenhouse::report::{Probe, Verdict};
use crate::greenhouse::resources::Resource;
use crate::greenhouse::scrub::excerpt;
use std::sync::atomic::{AtomicBool, Ordering};

/// Every probe asks for one record's id only: the cheapest answer Greenhouse can give.
const PROBE_QUERY: &[(&str, &str)] = &[("per_page", "1"), ("fields", "id")];

/// The resource whose empty list betrays a user who is not a Site Admin.
const USERS: &str = "users";

pub(crate) async fn check(
    checker: &Checker,
    budget: Budget,
    client_id: &str,
    client_secret: &str,
    user_id: Option<&str>,
    profile: &Profile,
) -> Checked {
    let creds = Creds {
        client_id,
        client_secret,
        user_id,
    };
    let plan = profile.planned(&super::HarvestV3);
    if plan.is_empty() {
        return nothing_to_probe().into();
    }
    let token = match mint(checker, budget, &creds).await {
        Ok(t) => t,
        Err(MintError::Refused(r)) => return Verdict::Refused(r.message().to_owned()).into(),
        Err(MintError::Pending(t)) => return Verdict::Pending(t).into(),
    };
    let first = token.token.clone();
    let cell = TokenCell::new(token);
    let (cell, creds) = (&cell, &creds);
    let (organization, admin) = tokio::join!(
        introspect::organization(checker, budget, client_id, client_secret, &first),
        async {
            match user_id {
                Some(id) => lookup(checker, budget, creds, cell, id).await,
                None => SiteAdmin::Unknown,
            }
        }
    );
    drop(first);
    let verdict = if matches!(admin, SiteAdmin::NoRow | SiteAdmin::No) {
        Verdict::NotSiteAdmin {
            message: USER_ID_NOT_ADMIN.to_owned(),
            findings: Vec::new(),
            field: Some("user_id"),
        }
    } else {
        let users_empty = AtomicBool::new(false);
        let users_empty = &users_empty;
        let findings = checker
            .probe_all(plan, |r| {
                probe(checker, budget, creds, cell, r, users_empty)
            })
            .await;
        if users_empty.load(Ordering::Relaxed) {
            tracing::info!("Greenhouse listed no users: the acting user is not a Site Admin");
            let message = if user_id.is_some() {
                EMPTY_USERS_WITH_USER_ID
            } else {
                EMPTY_USERS_SERVICE_ACCOUNT
            };
            Verdict::NotSiteAdmin {
                message: message.to_owned(),
                findings,
                field: user_id.is_some().then_some("user_id"),
            }
        } else if user_id.is_some()
            && !findings.is_empty()
            && findings.iter().all(|f| f.probe == Probe::Forbidden)
        {
            // Every permission refused for the user named: the user, not the scopes, is
            // what to change first (the scopes cannot be judged through this user).
            tracing::info!("every probe refused for the User ID given: probably not a Site Admin");
            Verdict::NotSiteAdmin {
                message: ALL_REFUSED_WITH_USER_ID.to_owned(),
                findings: Vec::new(),
                field: Some("user_id"),
            }
        } else {
            Verdict::Probed(findings)
        }
    };
    Checked {
        verdict,
        organization,
        greenhouse_user: None,
    }
}

const USER_ID_NOT_ADMIN: &str =
    "Greenhouse says the User ID you entered is not a Site Admin of this Greenhouse account, \
     and Greenhouse only lets Site Admins list data. Enter the User ID of a Site Admin (the \
     number at the end of their page address, app.greenhouse.io/account/users/<number>), or \
     leave the User ID empty to use the credential's own service account, and submit again.";

const EMPTY_USERS_WITH_USER_ID: &str =
    "Greenhouse answered, but listed no users at all: it does that when the acting user is not \
     a Site Admin, so the User ID you entered is almost certainly not a Site Admin. Enter the \
     User ID of a Site Admin (app.greenhouse.io/account/users/<number>), or leave it empty, and \
     submit again.";

const ALL_REFUSED_WITH_USER_ID: &str =
    "Greenhouse refused every permission for the User ID you entered: it does that when the \
     user is not a Site Admin. Enter the User ID of a Site Admin (the number at the end of their \
     page address, app.greenhouse.io/account/users/<number>), or leave the User ID empty to use \
     the credential's own service account, and submit again. If that user is a Site Admin, the \
     credential has no permissions ticked yet: tick those listed on this page.";

const EMPTY_USERS_SERVICE_ACCOUNT: &str =
    "Greenhouse answered, but listed no users at all: it does that when the acting user is not \
     a Site Admin, so the credential's service account cannot read your data. Enter the User ID \
     of a Site Admin (app.greenhouse.io/account/users/<number>) in the form and submit again.";

async fn probe(
    checker: &Checker,
    budget: Budget,
    creds: &Creds<'_>,
    cell: &TokenCell,
    r: &'static Resource,
    users_empty: &AtomicBool,
) -> Probe {
    let answer = match get(checker, budget, creds, cell, r.name, PROBE_QUERY, r.name).await {
        Ok(a) => a,
        Err(t) => return Probe::Unresolved(t),
    };
    match answer.status {
        200 => {
            if r.name == USERS && is_empty_array(&answer.body) {
                users_empty.store(true, Ordering::Relaxed);
            }
            Probe::Granted
        }
        403 => Probe::Forbidden,
        404 => {
            tracing::warn!(
                resource = r.name,
                "Greenhouse does not know this v3 resource: our catalogue is wrong"
            );
            Probe::NotFound
        }
        status => {
            tracing::warn!(
                resource = r.name,
                status,
                answer = %excerpt(&answer.body, &creds.secrets()),
                "unexpected answer to a v3 probe"
            );
            Probe::Unresolved(crate::greenhouse::report::Transient::Unexpected)
        }
    }
}

/// `[]` (whitespace allowed).
fn is_empty_array(body: &str) -> bool {
    matches!(serde_json::from_str::<serde_json::Value>(body), Ok(serde_json::Value::Array(a)) if a.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_array() {
        assert!(is_empty_array("[]"));
        assert!(is_empty_array(" [ ]\n"));
        assert!(!is_empty_array(r#"[{"id":1}]"#));
        assert!(!is_empty_array("{}"));
        assert!(!is_empty_array(""));
    }
}
