//! A partner grant's check: probe each resource of the profile with the grant's access token
//! (`GET {api}/v3/<resource>?per_page=1&fields=id`). No token is minted here: a partner
//! grant's tokens come from the code exchange or a refresh (`service::vend`), never from a
//! check, so a check can never spend a refresh token.

use super::super::Checked;
use crate::greenhouse::checker::{nothing_to_probe, Checker};
use crate::greenhouse::http::{send, Budget, EndpointClass as Class};
use crate::greenhouse::introspect;
use crate::greenhouse::profile::Profile;
use crate::greenhouse::report::{Probe, Transient, Verdict};
use crate::greenhouse::resources::Resource;

pub(super) async fn check(
    checker: &Checker,
    budget: Budget,
    access_token: &str,
    profile: &Profile,
) -> Checked {
    let plan = profile.planned(&super::HarvestV3Partner);
    if plan.is_empty() {
        return nothing_to_probe().into();
    }
    // Introspection (with the partner client's credentials) names the organisation that
    // approved; advisory, alongside the probes, which stay the authority.
    let organization = async {
        match checker.config().partner.as_ref() {
            Some(client) => {
                let auth = crate::greenhouse::oauth::ClientAuth::from(client);
                introspect::organization(
                    checker,
                    budget,
                    auth.client_id,
                    auth.client_secret,
                    access_token,
                )
                .await
            }
            None => None,
        }
    };
    let probes = checker.probe_all(plan, |r| probe(checker, budget, access_token, r));
    let (organization, findings) = tokio::join!(organization, probes);
    let verdict = if findings
        .iter()
        .all(|f| f.probe == Probe::Unresolved(Transient::TokenRejected))
    {
        // The access token is gone (expired or revoked): that says nothing about the grant.
        Verdict::Pending(Transient::TokenRejected)
    } else {
        Verdict::Probed(findings)
    };
    Checked {
        verdict,
        organization,
        greenhouse_user: None,
    }
}

async fn probe(checker: &Checker, budget: Budget, token: &str, r: &'static Resource) -> Probe {
    let url = format!("{}/v3/{}", checker.config.api_url, r.name);
    let build = || {
        checker
            .client
            .get(&url)
            .query(&[("per_page", "1"), ("fields", "id")])
            .bearer_auth(token)
    };
    let answer = match send(checker, Class::Resource, &build, budget, r.name).await {
        Ok(a) => a,
        Err(t) => return Probe::Unresolved(t),
    };
    match answer.status {
        // A users list with nobody in it: the grant's user sees nothing (not a Site Admin).
        200 if r.name == "users" && answer.body.trim() == "[]" => Probe::Forbidden,
        200 => Probe::Granted,
        403 => Probe::Forbidden,
        404 => Probe::NotFound,
        401 => Probe::Unresolved(Transient::TokenRejected),
        status => {
            tracing::warn!(resource = r.name, status, "unexpected answer to a v3 probe");
            Probe::Unresolved(Transient::Unexpected)
        }
    }
}
