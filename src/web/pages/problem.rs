//! What went wrong with the last submission: the error summary at the top of the form and, for
//! missing permissions, a table saying how to grant each one.

use super::components::{attempts, describe, screen_label};
use super::{DropPage, Problem};
use crate::greenhouse::CredentialKind;
use maud::{html, Markup};

/// The summary (`role="alert"`) and, when permissions are missing, the table.
pub fn problem_summary(p: &DropPage, problem: &Problem) -> Markup {
    html! {
        div.error-summary role="alert" aria-labelledby="error-title" {
            h3 #error-title { "The credential was not accepted" }
            p { (problem.message) }
            @if let Some(field) = problem.field {
                p { a href={ "#" (field) } { "Go to the field to correct" } }
            }
            p.attempts-left {
                @if problem.not_counted {
                    "This was checked here, before anything was sent to Greenhouse, and did not "
                    "use an attempt: you still have " strong { (attempts(p.attempts_left)) } ". "
                } @else {
                    "You have " strong { (attempts(p.attempts_left)) } " left on this link. "
                }
                "Nothing was stored, and the secret was not kept: paste it again."
            }
        }
        @if !problem.missing_required.is_empty() || !problem.missing_optional.is_empty() {
            (missing_table(p.kind, problem))
        }
    }
}

fn missing_table(kind: &dyn CredentialKind, problem: &Problem) -> Markup {
    let rows = problem
        .missing_required
        .iter()
        .map(|m| (m, true))
        .chain(problem.missing_optional.iter().map(|m| (m, false)));
    html! {
        div.table-wrap {
            table.missing {
                caption { "Permissions to grant, then send the form again" }
                thead {
                    tr {
                        th scope="col" { "Permission" }
                        th scope="col" { "What it is" }
                        th scope="col" { "Needed" }
                        th scope="col" { "How to grant it" }
                    }
                }
                tbody {
                    @for (permission, required) in rows {
                        tr {
                            td data-label="Permission" {
                                code { (permission) }
                                (screen_label(kind.screen_label(permission)))
                            }
                            td data-label="What it is" { (describe(kind, permission)) }
                            td data-label="Needed" {
                                @if required {
                                    strong.tag.tag-required { "Required" }
                                } @else {
                                    span.tag.tag-optional { "Optional" }
                                }
                            }
                            td data-label="How to grant it" { (kind.how_to_grant(permission)) }
                        }
                    }
                }
            }
        }
    }
}
