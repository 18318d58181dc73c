//! Small building blocks shared by several pages.

use crate::clock::rfc3339;
use crate::greenhouse::{CredentialKind, Resource};
use maud::{html, Markup};
use time::OffsetDateTime;

pub use crate::domain::text::possessive;

/// `text` followed by a full stop, unless it already ends with one ("Demo Customer Inc.").
pub fn full_stop(text: &str) -> &'static str {
    if text.ends_with('.') {
        ""
    } else {
        "."
    }
}

pub use crate::clock::human_time;

/// `<time datetime="2026-11-23T09:00:00Z">Monday 23 November 2026, 09:00 UTC</time>`.
pub fn time_tag(t: OffsetDateTime) -> Markup {
    html! { time datetime=(rfc3339(t)) { (human_time(t)) } }
}

/// How far off `t` is, in words: "in 3 days", "in 5 hours", "in 12 minutes"
/// (rounded to the nearest unit), or "now" once it has passed.
pub fn relative_time(now: OffsetDateTime, t: OffsetDateTime) -> String {
    let minutes = (t - now).whole_minutes();
    let (n, unit) = if minutes <= 0 {
        return "now".to_owned();
    } else if minutes < 90 {
        (minutes, "minute")
    } else if minutes < 36 * 60 {
        ((minutes + 30) / 60, "hour")
    } else {
        ((minutes + 12 * 60) / (24 * 60), "day")
    };
    if n == 1 {
        format!("in 1 {unit}")
    } else {
        format!("in {n} {unit}s")
    }
}

/// An exact permission name that may break only after its `:` or `/` on a narrow screen
/// (never inside a word).
pub fn permission_code(permission: &str) -> Markup {
    let parts: Vec<&str> = permission.split_inclusive([':', '/']).collect();
    html! {
        code.perm-name translate="no" {
            @for (i, part) in parts.iter().enumerate() {
                @if i > 0 { wbr; }
                (part)
            }
        }
    }
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
            @if let Some(label) = screen {
                span.perm-label { (label_beside(label, permission)) }
                " "
            }
            span.perm-desc { (description) }
            " "
            (permission_code(permission))
        }
    }
}

/// The screen's label to show beside the exact name: its group alone when the entry is the
/// name itself ("Users > GET: List Users" beside `GET: List Users` is just "Users").
pub fn label_beside(screen_label: &str, permission: &str) -> String {
    match screen_label.split_once(" > ") {
        Some((group, entry)) if entry == permission => group.to_owned(),
        _ => screen_label.to_owned(),
    }
}

/// A list of catalogue resources as the screen shows them ("Candidates > List candidates")
/// with the exact permission name, and what each is for.
pub fn resource_list(resources: &[&Resource]) -> Markup {
    html! {
        ul.permissions.compact {
            @for r in resources {
                li {
                    span.perm-label { (label_beside(&r.screen_label(), &r.permission())) }
                    " "
                    span.perm-what {
                        "— " (r.description.split_once(" — ").map_or(r.description, |(_, d)| d))
                    }
                    " "
                    (permission_code(&r.permission()))
                }
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
                (permission_item(describe(kind, p), p, kind.screen_label(p).as_deref()))
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
    fn possessives_and_full_stops_read_right() {
        assert_eq!(possessive("Acme Analytics"), "Acme Analytics'");
        assert_eq!(possessive("Acme"), "Acme's");
        assert_eq!(
            format!("for Demo Customer Inc{}", full_stop("Inc")),
            "for Demo Customer Inc."
        );
        assert_eq!(full_stop("Demo Customer Inc."), "");
    }

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
        assert!(html.contains(
            "<code class=\"perm-name\" translate=\"no\">harvest:<wbr>users:<wbr>list</code>"
        ));
        assert!(html.contains("Users — the people"));
        assert!(html.contains("Users &gt; List users"));
        assert!(html.contains("&lt;x&gt;"));
        assert_eq!(attempts(1), "1 attempt");
        assert_eq!(attempts(-2), "0 attempts");
    }

    #[test]
    fn relative_times_round_to_the_nearest_unit() {
        let now = datetime!(2026-11-23 09:00 UTC);
        let r = |mins: i64| relative_time(now, now + time::Duration::minutes(mins));
        assert_eq!(r(-5), "now");
        assert_eq!(r(1), "in 1 minute");
        assert_eq!(r(45), "in 45 minutes");
        assert_eq!(r(90), "in 2 hours");
        assert_eq!(r(35 * 60), "in 35 hours");
        assert_eq!(r(72 * 60), "in 3 days");
        assert_eq!(r(71 * 60 + 59), "in 3 days");
    }
}
