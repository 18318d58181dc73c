//! Token introspection (SPEC §1.1): `POST {auth}/introspect` with HTTP Basic client
//! credentials and the form `token=<jwt>&token_type_hint=access_token`. Greenhouse answers
//! `{"active":true,"client_id","sub","scope","https://auth.greenhouse.io/claims":
//! {"organization":{"id","name"},"user_role"}}`.
//!
//! Advisory only: it names the organisation a credential belongs to, so staff can tell a
//! sandbox or the wrong account, but it never changes an outcome (the probes are the authority
//! on what is granted), it may be missing (404) or fail, and it gets at most a short slice of
//! the check's budget ([`SLICE`]), without retries beyond that slice.

use super::checker::Checker;
use super::http::{send, Budget, EndpointClass as Class};
use super::report::Named;
use crate::domain::text::clean_shown;
use std::time::Duration;

/// The most of a check's budget introspection may use.
pub(crate) const SLICE: Duration = Duration::from_millis(1500);
/// Longest organisation name or id kept, in characters.
const MAX_NAME: usize = 200;
const MAX_ID: usize = 64;
const CLAIMS: &str = "https://auth.greenhouse.io/claims";

/// The organisation the access token belongs to, when Greenhouse says; `None` whatever goes
/// wrong (logged, without the answer: it could hold the token).
#[tracing::instrument(skip_all)]
pub(crate) async fn organization(
    checker: &Checker,
    budget: Budget,
    client_id: &str,
    client_secret: &str,
    token: &str,
) -> Option<Named> {
    let url = format!("{}/introspect", checker.config.auth_url);
    let form = [("token", token), ("token_type_hint", "access_token")];
    let build = || {
        checker
            .client
            .post(&url)
            .basic_auth(client_id, Some(client_secret))
            .form(&form)
    };
    // A tenth of the budget, and never more than SLICE.
    let slice = budget.slice(SLICE.min(checker.config.total_budget / 10));
    let answer = match send(checker, Class::Introspect, &build, slice, "introspect").await {
        Ok(a) => a,
        Err(t) => {
            tracing::info!(reason = ?t, "token introspection gave no answer; going on without it");
            return None;
        }
    };
    if answer.status != 200 {
        tracing::info!(
            status = answer.status,
            "token introspection refused or absent; going on without it"
        );
        return None;
    }
    let org = parse(&answer.body);
    if org.is_none() {
        tracing::info!("token introspection named no organisation");
    }
    org
}

/// The organisation of an active token's introspection answer.
fn parse(body: &str) -> Option<Named> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    if v.get("active").and_then(serde_json::Value::as_bool) != Some(true) {
        return None;
    }
    let org = v.get(CLAIMS)?.get("organization")?;
    let id = match org.get("id")? {
        serde_json::Value::String(s) => clean_shown(s, MAX_ID),
        serde_json::Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let name = clean_shown(org.get("name")?.as_str()?, MAX_NAME);
    (!id.is_empty() && !name.is_empty()).then_some(Named { id, name })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(org: serde_json::Value) -> String {
        serde_json::json!({
            "active": true, "client_id": "acme-1", "sub": "1001", "scope": "harvest:users:list",
            CLAIMS: {"organization": org, "user_role": "site_admin"}
        })
        .to_string()
    }

    #[test]
    fn reads_the_organisation() {
        let n = parse(&body(serde_json::json!({"id": 4242, "name": "Acme Corp"}))).unwrap();
        assert_eq!((n.id.as_str(), n.name.as_str()), ("4242", "Acme Corp"));
        let n = parse(&body(
            serde_json::json!({"id": "org-7", "name": "Evil\u{202E}moc Corp\n"}),
        ))
        .unwrap();
        assert_eq!((n.id.as_str(), n.name.as_str()), ("org-7", "Evilmoc Corp"));
        let long = "x".repeat(500);
        assert_eq!(
            parse(&body(serde_json::json!({"id": 1, "name": long})))
                .unwrap()
                .name
                .len(),
            MAX_NAME
        );
    }

    #[test]
    fn anything_else_is_none() {
        for b in [
            String::new(),
            "[]".to_owned(),
            r#"{"active":false}"#.to_owned(),
            body(serde_json::json!({"id": 1})),
            body(serde_json::json!({"id": 1, "name": "\u{200B} "})),
            body(serde_json::json!({"id": null, "name": "Acme"})),
            body(serde_json::json!("Acme")),
            serde_json::json!({"active": true, "sub": "1"}).to_string(),
        ] {
            assert_eq!(parse(&b), None, "{b}");
        }
    }
}
