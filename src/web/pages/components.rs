//! Small building blocks shared by several pages.

use crate::clock::rfc3339;
use crate::greenhouse::{CredentialKind, Resource};
use maud::{html, Markup};
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// A time in UTC for people: "Monday 23 November 2026, 09:00 UTC".
pub fn human_time(t: OffsetDateTime) -> String {
    let fmt = format_description!(
        "[weekday] [day padding:none] [month repr:long] [year], [hour]:[minute] UTC"
    );
    let utc = t.to_offset(UtcOffset::UTC);
    utc.format(&fmt).unwrap_or_else(|_| rfc3339(utc))
}

/// `<time datetime="2026-11-23T09:00:00Z">Monday 23 November 2026, 09:00 UTC</time>`.
pub fn time_tag(t: OffsetDateTime) -> Markup {
    html! { time datetime=(rfc3339(t)) { (human_time(t)) } }
}

/// The page's main heading with an optional line under it.
pub fn page_heading(title: &str, lead: Option<Markup>) -> Markup {
    html! {
        h1 { (title) }
        @if let Some(lead) = lead {
            p.lead { (lead) }
        }
    }
}

/// A highlighted box; `tone` is one of `info`, `success`, `warning`.
pub fn notice(tone: &'static str, content: Markup) -> Markup {
    html! { div class={ "notice notice-" (tone) } { (content) } }
}

/// One permission in plain words with its exact name and, when Greenhouse's screen labels it
/// differently, that label ("Candidates > List candidates").
pub fn permission_item(description: &str, permission: &str, screen: Option<&str>) -> Markup {
    html! {
        li {
            span.perm-desc { (description) }
            " "
            span.perm-names {
                code.perm-name { (permission) }
                (screen_label(screen))
            }
        }
    }
}

/// " (Candidates > List candidates)" beside an exact permission name, or nothing.
pub fn screen_label(screen: Option<&str>) -> Markup {
    html! {
        @if let Some(label) = screen {
            " "
            span.perm-screen title="As Greenhouse's screen shows it" { "(" (label) ")" }
        }
    }
}

/// A list of catalogue resources as permissions.
pub fn resource_list(resources: &[&Resource]) -> Markup {
    html! {
        ul.permissions {
            @for r in resources {
                (permission_item(r.description, &r.permission(), r.screen_label()))
            }
        }
    }
}

/// A list of permission strings (as in a `Verification`), described where the catalogue
/// knows them.
pub fn permission_list(kind: &dyn CredentialKind, permissions: &[String]) -> Markup {
    html! {
        ul.permissions {
            @for p in permissions {
                (permission_item(describe(kind, p), p, kind.screen_label(p)))
            }
        }
    }
}

/// Plain words for a permission string, or a neutral fallback.
pub fn describe(kind: &dyn CredentialKind, permission: &str) -> &'static str {
    kind.resource_by_permission(permission)
        .map(|r| r.description)
        .unwrap_or("A Greenhouse permission this service needs")
}

/// "1 attempt" / "3 attempts".
pub fn attempts(n: i64) -> String {
    let n = n.max(0);
    if n == 1 {
        "1 attempt".to_owned()
    } else {
        format!("{n} attempts")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::greenhouse::kinds::HARVEST_V3;
    use time::macros::datetime;

    #[test]
    fn times_are_utc_and_readable() {
        let t = datetime!(2026-11-23 10:05 +01:00);
        assert_eq!(human_time(t), "Monday 23 November 2026, 09:05 UTC");
        assert_eq!(
            time_tag(t).into_string(),
            r#"<time datetime="2026-11-23T09:05:00Z">Monday 23 November 2026, 09:05 UTC</time>"#
        );
    }

    #[test]
    fn permissions_are_described() {
        let html = permission_list(
            HARVEST_V3,
            &["harvest:users:list".to_owned(), "<x>".to_owned()],
        )
        .into_string();
        assert!(html.contains("<code class=\"perm-name\">harvest:users:list</code>"));
        assert!(html.contains("Users — the people"));
        assert!(html.contains("(Users &gt; List users)"));
        assert!(html.contains("&lt;x&gt;"));
        assert_eq!(attempts(1), "1 attempt");
        assert_eq!(attempts(-2), "0 attempts");
    }
}
