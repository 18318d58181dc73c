//! The `GET /d/{token}` page (and the 422 page, which is the same with a [`Problem`]).
//!
//! First visit: who asks and for what, the facts of the link, what happens to the credential,
//! the one thing to know before starting, the steps (open), then the form. After a refused
//! attempt the reason comes first, the form directly under it, and the steps collapse: the
//! customer has seen them.

use super::components::{full_stop, page_heading};
use super::form::credential_form;
use super::instructions::instructions;
use super::layout::layout;
use super::problem::problem_summary;
use super::trust::{expiry_line, expiry_warning, facts, handling_box, keep_tab_open};
use super::{DropPage, Problem};
use crate::greenhouse::kinds::Intake;
use maud::{html, Markup};

/// The fragment the form posts to (`action="#send"`), so the answer opens at the form. On a
/// 422 page it is the error summary's id: the browser scrolls to it *and focuses it* (a
/// fragment's focusable target is focused on load; `autofocus` would be skipped because the
/// URL has a fragment), with the form directly under it.
pub const FORM_ANCHOR: &str = "send";

/// The page of an open drop, with `problem` (a 422 page) after a refused attempt.
pub fn drop_page(p: &DropPage, problem: Option<&Problem>) -> Markup {
    let brand = p.brand();
    // A partner drop ("Connect with Greenhouse") has a Connect button instead of the form.
    let title = if p.kind.intake() == Intake::Connect {
        "Connect your Greenhouse account"
    } else {
        "Share your Greenhouse credential"
    };
    match problem {
        None => layout(
            &p.ctx,
            title,
            html! {
                (page_heading(title, Some(html! {
                    strong { (brand) } " asks for a " (p.kind.label()) " for "
                    strong { (p.org) } (full_stop(&p.org))
                })))
                (note(brand, p.note.as_deref()))
                (facts(p))
                (expiry_warning(p))
                // Returning with the credential in hand: straight to the form.
                p.jump {
                    @if p.kind.intake() == Intake::Connect {
                        "Ready to approve? " a href={ "#" (FORM_ANCHOR) } { "Go to the Connect button" }
                    } @else {
                        "Already have the credential? " a href={ "#" (FORM_ANCHOR) } { "Go to the form" }
                    }
                }
                (handling_box(brand, &p.ctx.handling, p.kind.intake()))
                @if p.kind.intake() == Intake::Paste {
                    // A connection shows no secret to lose; its button says to keep the tab.
                    (keep_tab_open())
                }
                (instructions(brand, p.kind, &p.profile, !p.returning))
                div id=(FORM_ANCHOR) {
                    @if p.kind.intake() == Intake::Connect {
                        (super::connect::connect_section(p, None))
                    } @else {
                        (credential_form(p, None))
                    }
                }
            },
        ),
        Some(problem) if p.kind.intake() == Intake::Connect => layout(
            &p.ctx,
            "Error: the connection was not completed",
            html! {
                div id=(FORM_ANCHOR) {
                    (super::connect::connect_section(p, Some(problem)))
                }
                (instructions(brand, p.kind, &p.profile, false))
                (handling_box(brand, &p.ctx.handling, p.kind.intake()))
                (note(brand, p.note.as_deref()))
                (expiry_line(p))
            },
        ),
        Some(problem) => layout(
            &p.ctx,
            "Error: the credential was not accepted",
            html! {
                (problem_summary(p, problem))
                (credential_form(p, Some(problem)))
                (instructions(brand, p.kind, &p.profile, false))
                (handling_box(brand, &p.ctx.handling, p.kind.intake()))
                (note(brand, p.note.as_deref()))
                (expiry_line(p))
            },
        ),
    }
}

fn note(brand: &str, note: Option<&str>) -> Markup {
    html! {
        @if let Some(text) = note.filter(|n| !n.trim().is_empty()) {
            aside.note aria-label="Note" {
                p.note-from { "A note from " (brand) ":" }
                p.note-text { (text) }
            }
        }
    }
}

#[cfg(test)]
#[path = "drop_tests.rs"]
mod tests;
