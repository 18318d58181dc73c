//! The Connect button of a `harvest_v3_partner` drop (SPEC §1.5): a plain form posting back
//! to the page's own URL (no JavaScript, no token in the page), and, after a declined or
//! refused connection, the reason first with "Connect again".

use super::components::{attempts, permission_list};
use super::{DropPage, Problem};
use maud::{html, Markup};

pub fn connect_section(p: &DropPage, problem: Option<&Problem>) -> Markup {
    html! {
        section.form-section aria-labelledby="form-title" {
            h2 #form-title { "Connect with Greenhouse" }
            @if let Some(problem) = problem {
                div.error-summary role="alert" aria-labelledby="error-title" {
                    h3 #error-title { "The connection was not completed" }
                    p { (problem.message) }
                    p.attempts-left {
                        @if problem.not_counted {
                            "This did not use an attempt: you still have "
                            strong { (attempts(p.attempts_left)) } "."
                        } @else {
                            "You have " strong { (attempts(p.attempts_left)) }
                            " left on this link. Nothing was stored."
                        }
                    }
                }
                @if !problem.missing_required.is_empty() {
                    h3 { "Permissions the approval did not include" }
                    (permission_list(p.kind, &problem.missing_required))
                }
            }
            p {
                "Keep this tab open: Greenhouse sends you back here, and this page then says "
                "whether everything arrived."
            }
            form.credential-form method="post" action={ "#" (super::drop::FORM_ANCHOR) } {
                input type="hidden" name="csrf_token" value=(p.csrf_token);
                input type="hidden" name="connect" value="1";
                p.attempts { "Attempts left on this link: " strong { (p.attempts_left.max(0)) } }
                button.button type="submit" {
                    @if problem.is_some() { "Connect again" } @else { "Connect with Greenhouse" }
                }
            }
        }
    }
}
