//! Is the User ID the customer gave a Site Admin? (SPEC §1.2)
//!
//! Greenhouse lets only Site Admins list data, and for anyone else it may answer list calls
//! with 200 and an empty array instead of 403. So when a User ID was given, the check asks once
//! `GET {api}/v3/users?ids=<id>&fields=id,site_admin`, as that user:
//!
//! - no row, or the row says `site_admin: false` → the user is not a Site Admin
//!   (`insufficient`, with the Site Admin message; the probes are not sent, their answers
//!   would say nothing about the scopes);
//! - `site_admin: true` → the probes decide, as usual;
//! - anything else → we do not know, and the probes decide, as usual. That includes 403:
//!   the lookup needs the `harvest:users:list` scope itself, so a 403 means either that scope is
//!   missing (then the `users` probe answers 403 too and the report names the scope) or the
//!   user is not a Site Admin and Greenhouse says so with 403 (then every probe answers 403 and
//!   the report says so). Also rows that do not include the asked id (Greenhouse ignored the
//!   filter), a row without `site_admin`, 404, 5xx, time-outs: a lookup that cannot answer
//!   never makes a check `pending` on its own.

use super::session::{get, TokenCell};
use super::token::Creds;
use crate::greenhouse::checker::Checker;
use crate::greenhouse::http::Budget;

/// What the lookup found out about the acting user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SiteAdmin {
    Yes,
    /// Greenhouse returned no row for the id.
    NoRow,
    /// The row says `site_admin: false`.
    No,
    /// The lookup did not tell: the probes decide.
    Unknown,
}

#[tracing::instrument(skip_all)]
pub(super) async fn lookup(
    checker: &Checker,
    budget: Budget,
    creds: &Creds<'_>,
    cell: &TokenCell,
    user_id: &str,
) -> SiteAdmin {
    let query = [("ids", user_id), ("fields", "id,site_admin")];
    let answer = match get(
        checker,
        budget,
        creds,
        cell,
        "users",
        &query,
        "users_lookup",
    )
    .await
    {
        Ok(a) => a,
        Err(t) => {
            tracing::info!(reason = ?t, "the Site Admin lookup gave no answer; the probes decide");
            return SiteAdmin::Unknown;
        }
    };
    let found = match answer.status {
        200 => read(&answer.body, user_id),
        403 => {
            tracing::info!("the Site Admin lookup was refused (403); the probes decide");
            SiteAdmin::Unknown
        }
        status => {
            tracing::warn!(
                status,
                "unexpected answer to the Site Admin lookup; the probes decide"
            );
            SiteAdmin::Unknown
        }
    };
    tracing::info!(found = ?found, "Site Admin lookup");
    found
}

/// The row of `user_id` in a users list.
fn read(body: &str, user_id: &str) -> SiteAdmin {
    let Ok(rows) = serde_json::from_str::<Vec<serde_json::Value>>(body) else {
        tracing::warn!("the Site Admin lookup answer is not a JSON array");
        return SiteAdmin::Unknown;
    };
    if rows.is_empty() {
        return SiteAdmin::NoRow;
    }
    let same_id = |row: &&serde_json::Value| match row.get("id") {
        Some(serde_json::Value::Number(n)) => n.to_string() == user_id,
        Some(serde_json::Value::String(s)) => s == user_id,
        _ => false,
    };
    match rows.iter().find(same_id).map(|r| r.get("site_admin")) {
        Some(Some(serde_json::Value::Bool(true))) => SiteAdmin::Yes,
        Some(Some(serde_json::Value::Bool(false))) => SiteAdmin::No,
        Some(_) => SiteAdmin::Unknown,
        None => {
            tracing::warn!(
                rows = rows.len(),
                "the Site Admin lookup returned other users only"
            );
            SiteAdmin::Unknown
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows() {
        for (body, want) in [
            ("[]", SiteAdmin::NoRow),
            (r#"[{"id":1001,"site_admin":true}]"#, SiteAdmin::Yes),
            (r#"[{"id":"1001","site_admin":false}]"#, SiteAdmin::No),
            (r#"[{"id":1001}]"#, SiteAdmin::Unknown),
            (r#"[{"id":1001,"site_admin":null}]"#, SiteAdmin::Unknown),
            (r#"[{"id":7,"site_admin":true}]"#, SiteAdmin::Unknown),
            (r#"{"message":"nope"}"#, SiteAdmin::Unknown),
            ("", SiteAdmin::Unknown),
        ] {
            assert_eq!(read(body, "1001"), want, "{body}");
        }
    }
}
