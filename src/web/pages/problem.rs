//! What went wrong with the last submission, first on the 422 page: an error summary in the
//! manner of the GOV.UK design system (`role="alert"`, focused on load, each error a link to
//! the field at fault) and, for missing permissions, the compact list of what to tick.

use super::components::attempts;
use super::drop::FORM_ANCHOR;
use super::missing::{missing_permissions, MISSING_ANCHOR};
use super::{DropPage, Problem};
use maud::{html, Markup};

/// `text` up to the end of its first sentence (all of it when it has one sentence).
fn first_sentence(text: &str) -> &str {
    match text.find(". ") {
        Some(end) => &text[..=end],
        None => text,
    }
}

/// The summary and, when permissions are missing, the list.
pub fn problem_summary(p: &DropPage, problem: &Problem) -> Markup {
    let missing = !problem.missing_required.is_empty() || !problem.missing_optional.is_empty();
    // Where the error link leads: the field at fault; the list of what to tick; or, when
    // Greenhouse refused the credential as a whole, its first field.
    let target = match problem.field {
        Some(field) => field,
        None if missing => MISSING_ANCHOR,
        None => p
            .kind
            .fields()
            .first()
            .map_or("credential-form", |f| f.name),
    };
    let ips = &p.ctx.handling.egress_ips;
    let required = problem.missing_required.len();
    // The checker's words list every missing permission; the list below already does, so the
    // summary says it in one line (advice that is more than the list, e.g. "not a Site
    // Admin", is kept).
    let lists_them = required > 0
        && problem
            .missing_required
            .iter()
            .all(|m| problem.message.contains(m.as_str()));
    // The headline matches the weight of the news: a paste mistake caught here and a
    // credential that works but needs one more change are "almost there"; only a credential
    // Greenhouse refused is "not accepted".
    let headline = if problem.not_counted {
        "Check what you pasted"
    } else if required > 0 || problem.field.is_some() {
        "Almost there"
    } else {
        "The credential was not accepted"
    };
    // Each error is a short link naming where to look, then plain words.
    let label = match problem.field {
        Some(name) => p
            .kind
            .fields()
            .iter()
            .find(|f| f.name == name)
            .map_or("The form", |f| f.label),
        None if missing => "Missing permissions",
        None => "The credential",
    };
    html! {
        div.error-summary id=(FORM_ANCHOR) role="alert" tabindex="-1" autofocus
            aria-labelledby="error-title" {
            h1 #error-title { (headline) }
            ul.error-list {
                @if required > 0 {
                    li {
                        a href={ "#" (MISSING_ANCHOR) } { "Missing permissions" }
                        ": the credential works, but " (required)
                        @if required == 1 { " required permission is" }
                        @else { " required permissions are" }
                        " missing. " (p.kind.how_to_add())
                    }
                }
                @if !lists_them {
                    // At a field, the summary gives the first sentence; the field says the
                    // rest. Elsewhere the whole message is here.
                    li {
                        a href={ "#" (target) } { (label) } ": "
                        @if problem.field.is_some() { (first_sentence(&problem.message)) }
                        @else { (problem.message) }
                    }
                }
            }
            @if !problem.not_counted && !ips.is_empty() {
                p {
                    "If your Greenhouse accepts API calls only from listed IP addresses, "
                    "allow " (ips.join(", ")) " too."
                }
            }
            p.attempts-left {
                @if problem.not_counted {
                    "This was caught here, before anything was sent to Greenhouse, and did not "
                    "use an attempt: you still have " strong { (attempts(p.attempts_left)) } ". "
                } @else {
                    "You have " strong { (attempts(p.attempts_left)) } " left on this link. "
                }
                "Nothing was stored, and the secret was not kept: paste it again."
            }
        }
        (missing_permissions(p.kind, problem))
    }
}
