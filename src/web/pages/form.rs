//! The credential form. It posts back to the page's own URL with only a fragment as `action`
//! (`#send`), so the link token never has to appear in the page and the answer opens at the
//! form. Secret fields are never given a value.

use super::drop::FORM_ANCHOR;
use super::{DropPage, Problem};
use crate::greenhouse::kinds::{FieldSpec, InputMode};
use maud::{html, Markup};

/// The whole form section; after a refused attempt the wrong field is marked.
pub fn credential_form(p: &DropPage, problem: Option<&Problem>) -> Markup {
    let wrong = problem.and_then(|x| x.field);
    let kept = |name: &str| {
        problem.and_then(|x| {
            x.kept
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
        })
    };
    html! {
        section.form-section aria-labelledby="form-title" {
            h2 #form-title {
                @if problem.is_some() { "Send the credential again" } @else { "Send the credential" }
            }
            form.credential-form method="post" action={ "#" (FORM_ANCHOR) } {
                input type="hidden" name="csrf_token" value=(p.csrf_token);
                @for f in p.kind.fields() {
                    (field(f, kept(f.name), wrong, problem))
                }
                p.attempts { "Attempts left on this link: " strong { (p.attempts_left.max(0)) } }
                button.button type="submit" { "Send securely" }
            }
        }
    }
}

/// One labelled input with its help text and, when it is the wrong one, the error.
fn field(
    f: &FieldSpec,
    value: Option<&str>,
    wrong: Option<&str>,
    problem: Option<&Problem>,
) -> Markup {
    let invalid = wrong == Some(f.name);
    let help_id = format!("{}-help", f.name);
    let error_id = format!("{}-error", f.name);
    let described = if invalid {
        format!("{error_id} {help_id}")
    } else {
        help_id.clone()
    };
    // The secret is never echoed back, whatever the caller passes.
    let value = if f.secret {
        None
    } else {
        value.filter(|v| !v.is_empty())
    };
    html! {
        div.field.field-invalid[invalid] {
            label for=(f.name) { (f.label) }
            p.help id=(help_id) {
                (f.help)
                @if let Some(looks) = f.looks_like {
                    " " span.looks-like { "Looks like: " (looks) "." }
                }
            }
            @if invalid {
                @if let Some(problem) = problem {
                    p.field-error id=(error_id) { (problem.message) }
                }
            }
            input
                type=(if f.secret { "password" } else { "text" })
                id=(f.name)
                name=(f.name)
                autocomplete="off"
                autocapitalize="off"
                autocorrect="off"
                spellcheck="false"
                translate="no"
                inputmode=[inputmode(f.input)]
                pattern=[(f.input == InputMode::Numeric).then_some("[0-9]*")]
                aria-describedby=(described)
                aria-invalid=[invalid.then_some("true")]
                required[f.required]
                value=[value];
        }
    }
}

fn inputmode(mode: InputMode) -> Option<&'static str> {
    match mode {
        InputMode::Text => None,
        InputMode::Numeric => Some("numeric"),
        InputMode::Email => Some("email"),
    }
}
