//! What earns a cautious customer's trust before they paste anything: the
//! link's facts (who, for whom, until when), what happens to the credential,
//! and the one thing to do before creating the secret.

use super::components::{notice, possessive, relative_time, time_tag};
use super::{DropPage, Handling};
use crate::greenhouse::kinds::Intake;
use maud::{html, Markup};
use std::time::Duration;

/// Until when the link works (in UTC and relative) and what it accepts (who asks and for
/// whom are in the heading and the header).
pub fn facts(p: &DropPage) -> Markup {
    html! {
        dl.facts {
            div {
                dt { "Link works until" }
                dd {
                    (time_tag(p.expires_at))
                    " (" (relative_time(p.now, p.expires_at)) ")"
                }
            }
            div {
                dt { "Accepts" }
                dd {
                    @if p.kind.intake() == Intake::Connect { "one connection" }
                    @else { "one credential" }
                }
            }
        }
    }
}

/// "This link works until … (in 3 days)." in one line.
pub fn expiry_line(p: &DropPage) -> Markup {
    html! {
        @if expires_soon(p) {
            (expiry_warning(p))
        } @else {
            p.expiry {
                "This link works until " (time_tag(p.expires_at))
                " (" (relative_time(p.now, p.expires_at)) ") and accepts one credential."
            }
        }
    }
}

/// Whether the link runs out within [`EXPIRES_SOON`].
fn expires_soon(p: &DropPage) -> bool {
    p.expires_at - p.now <= EXPIRES_SOON
}

/// When the link runs out soon: a warning that says so and whom to ask for a new one
/// (nothing otherwise).
pub fn expiry_warning(p: &DropPage) -> Markup {
    html! {
        @if expires_soon(p) {
            (notice("warning", html! {
                p.expiry {
                    strong { "This link expires " (relative_time(p.now, p.expires_at)) "." }
                    " Creating a credential in Greenhouse takes a few minutes: if you cannot "
                    "send it before " (time_tag(p.expires_at)) ", ask " (p.ctx.whom())
                    " for a new link first."
                }
            }))
        }
    }
}

/// How close to its expiry a link's page warns that time is short.
pub const EXPIRES_SOON: time::Duration = time::Duration::minutes(15);

/// "What happens to your credential", in plain words.
pub fn handling_box(brand: &str, h: &Handling, intake: Intake) -> Markup {
    html! {
        section.handling aria-labelledby="handling-title" {
            h2 #handling-title {
                @if intake == Intake::Connect { "What happens to your connection" }
                @else { "What happens to your credential" }
            }
            ul {
                li {
                    strong { "Checked once" } " with Greenhouse, right away; the next page "
                    "shows the result."
                    @if !h.egress_ips.is_empty() {
                        " If your Greenhouse accepts API calls only from listed IP addresses, "
                        "allow " (ip_list(&h.egress_ips)) " first."
                    }
                }
                li { strong { "Encrypted" } " as soon as it arrives." }
                @if h.vend {
                    li {
                        strong { "Never handed out." } " " (possessive(brand)) " named import systems "
                        "receive only access tokens that expire within the hour; every one is "
                        "written to an audit log."
                    }
                    li {
                        strong { "Kept" } " encrypted for as long as " (brand)
                        " imports your data, and deleted when they stop (or when you disconnect "
                        "it in Greenhouse)."
                    }
                } @else {
                    li {
                        strong { "Released only" } " to " (possessive(brand)) " named import systems; "
                        "every release is written to an audit log."
                    }
                    li {
                        strong { "Deleted" } " " (after_collection(h.retain_after_delivery))
                        "."
                    }
                }
                // A connection has nothing the customer could send by mistake.
                @if intake == Intake::Paste {
                    li { "Never send it by e-mail or chat: only through this page." }
                }
            }
        }
    }
}

/// "203.0.113.7, 198.51.100.0/24 and 192.0.2.1", each kept from translation.
fn ip_list(ips: &[String]) -> Markup {
    html! {
        @for (i, ip) in ips.iter().enumerate() {
            @if i > 0 {
                @if i + 1 == ips.len() { " and " } @else { ", " }
            }
            code translate="no" { (ip) }
        }
    }
}

/// "7 days after it has been collected", or "as soon as it has been collected".
pub fn after_collection(retain: Duration) -> String {
    match duration_words(retain) {
        Some(words) => format!("{words} after it has been collected"),
        None => "as soon as it has been collected".to_owned(),
    }
}

/// "7 days", "1 day", "12 hours", "30 minutes"; `None` for less than a minute.
fn duration_words(d: Duration) -> Option<String> {
    let mins = d.as_secs() / 60;
    let (n, unit) = match mins {
        0 => return None,
        m if m % (24 * 60) == 0 => (m / (24 * 60), "day"),
        m if m % 60 == 0 => (m / 60, "hour"),
        m => (m, "minute"),
    };
    Some(if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    })
}

/// Said before the steps: the secret is shown once, so the tab stays open.
pub fn keep_tab_open() -> Markup {
    notice(
        "warning",
        html! {
            p {
                strong { "Before you start: " }
                "Greenhouse shows a new secret or key only once. Keep the Greenhouse tab open "
                "until this page says " strong { "Received and verified" } "."
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handling_names_the_addresses_only_when_set() {
        let mut h = Handling::default();
        let html = handling_box("Acme", &h, Intake::Paste).into_string();
        assert!(html.contains("Checked once"));
        assert!(html.contains("Encrypted"));
        assert!(html.contains("audit log"));
        assert!(html.contains("Deleted</strong> 7 days after it has been collected"));
        assert!(!html.contains("IP addresses"));
        h.egress_ips = vec!["203.0.113.7".into(), "198.51.100.0/24".into()];
        h.retain_after_delivery = Duration::ZERO;
        let html = handling_box("Acme", &h, Intake::Paste).into_string();
        assert!(html.contains(
            r#"allow <code translate="no">203.0.113.7</code> and <code translate="no">198.51.100.0/24</code> first"#
        ));
        assert!(html.contains("as soon as it has been collected"));
    }

    #[test]
    fn durations_in_words() {
        assert_eq!(
            duration_words(Duration::from_secs(86_400)).unwrap(),
            "1 day"
        );
        assert_eq!(
            duration_words(Duration::from_secs(7200)).unwrap(),
            "2 hours"
        );
        assert_eq!(
            duration_words(Duration::from_secs(90 * 60)).unwrap(),
            "90 minutes"
        );
        assert!(duration_words(Duration::from_secs(59)).is_none());
    }
}
