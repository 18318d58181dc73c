//! Harvest v1 (legacy): probe each endpoint with Basic `<key>:`.

use crate::greenhouse::checker::{nothing_to_probe, Checker};
use crate::greenhouse::http::{send, Budget, EndpointClass as Class};
use crate::greenhouse::profile::Profile;
use crate::greenhouse::report::{Finding, Probe, Transient, Verdict};
use crate::greenhouse::resources::Resource;
use crate::greenhouse::scrub::excerpt;

/// Why Greenhouse refused the key outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    BadKey,
    Retired,
}

impl Refusal {
    fn message(self) -> String {
        match self {
            Refusal::BadKey => {
                "Greenhouse refused this API key. Check that you copied all of it; if it was \
                 deleted or you cannot see it any more, create a new key."
            }
            Refusal::Retired => {
                "Greenhouse no longer accepts Harvest v1/v2 API keys. Create a \"Harvest V3 (OAuth)\" \
                 credential in Configure → Dev Center → API Credentials instead."
            }
        }
        .to_owned()
    }
}

/// A v1 probe either finds something about the endpoint or learns the key is refused.
enum V1Probe {
    Found(Probe),
    Refused(Refusal),
}

pub(crate) async fn check(
    checker: &Checker,
    budget: Budget,
    api_key: &str,
    profile: &Profile,
) -> Verdict {
    let plan = profile.planned(&super::HarvestV1);
    let Some((first, first_required)) = plan.first().copied() else {
        return nothing_to_probe();
    };
    // One probe alone first: a refused key answers the same everywhere, so do not send the
    // rest of the profile just to hear it again.
    let first_probe = match probe(checker, budget, api_key, first).await {
        V1Probe::Refused(r) => return Verdict::Refused(r.message()),
        V1Probe::Found(p) => p,
    };
    let refused = std::sync::Mutex::new(None);
    let refused_ref = &refused;
    let mut findings = checker
        .probe_all(plan[1..].to_vec(), |r| async move {
            match probe(checker, budget, api_key, r).await {
                V1Probe::Found(p) => p,
                V1Probe::Refused(why) => {
                    if let Ok(mut g) = refused_ref.lock() {
                        *g = Some(why);
                    }
                    Probe::Unresolved(Transient::Unexpected)
                }
            }
        })
        .await;
    if let Some(why) = refused.lock().ok().and_then(|g| *g) {
        return Verdict::Refused(why.message());
    }
    findings.insert(
        0,
        Finding {
            permission: first.permission(),
            required: first_required,
            probe: first_probe,
        },
    );
    Verdict::Probed(findings)
}

async fn probe(checker: &Checker, budget: Budget, api_key: &str, r: &'static Resource) -> V1Probe {
    let url = format!("{}/v1/{}", checker.config.api_url, r.name);
    let build = || {
        checker
            .client
            .get(&url)
            .query(&[("per_page", "1"), ("skip_count", "true")])
            .basic_auth(api_key, Some(""))
    };
    let a = match send(checker, Class::Resource, &build, budget, r.name).await {
        Ok(a) => a,
        Err(t) => return V1Probe::Found(Probe::Unresolved(t)),
    };
    let lower = a.body.to_ascii_lowercase();
    let found = match a.status {
        200 => Probe::Granted,
        401 | 403 if lower.contains("does not have permission for this endpoint") => {
            Probe::Forbidden
        }
        401 => {
            if !lower.contains("invalid basic auth credentials") {
                tracing::warn!(endpoint = r.name, answer = %excerpt(&a.body, &[api_key]), "unrecognised v1 401");
            }
            return V1Probe::Refused(Refusal::BadKey);
        }
        403 => Probe::Forbidden,
        404 => {
            tracing::warn!(
                endpoint = r.name,
                "Greenhouse does not know this v1 endpoint: our catalogue is wrong, or v1 is gone"
            );
            Probe::NotFound
        }
        410 => return V1Probe::Refused(Refusal::Retired),
        status => {
            tracing::warn!(endpoint = r.name, status, answer = %excerpt(&a.body, &[api_key]), "unexpected answer to a v1 probe");
            Probe::Unresolved(Transient::Unexpected)
        }
    };
    V1Probe::Found(found)
}
