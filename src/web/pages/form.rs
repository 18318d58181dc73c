//! The credential form. It posts back to the page's own URL (no `action`), so the link token
//! never has to appear in the page. Secret fields are never given a value.

use super::problem::problem_summary;
use super::{DropPage, Problem};
use crate::greenhouse::Kind;
use maud::{html, Markup};

/// What one input is.
struct Field {
    name: &'static str,
    label: &'static str,
    help: &'static str,
    /// Password-type input; never pre-filled.
    secret: bool,
    required: bool,
    numeric: bool,
}

const CLIENT_ID: Field = Field {
    name: "client_id",
    label: "Client ID",
    help: "Shown in Greenhouse next to your V3 credential.",
    secret: false,
    required: true,
    numeric: false,
};
const CLIENT_SECRET: Field = Field {
    name: "client_secret",
    label: "Client Secret",
    help: "Shown only once, when the credential is created. If you no longer have it, \
           create a new credential.",
    secret: true,
    required: true,
    numeric: false,
};
const USER_ID: Field = Field {
    name: "user_id",
    label: "User ID to act as (optional)",
    help: "Digits only: the number at the end of a Site Admin's profile address. \
           Leave empty if you were not asked for it.",
    secret: false,
    required: false,
    numeric: true,
};
const API_KEY: Field = Field {
    name: "api_key",
    label: "Harvest API key",
    help: "From Dev Center → API Credential Management.",
    secret: true,
    required: true,
    numeric: false,
};

/// The whole form section, with the problem summary on top when there is one.
pub fn credential_form(p: &DropPage, problem: Option<&Problem>) -> Markup {
    let wrong = problem.and_then(|x| x.field);
    let kept_client_id = problem.and_then(|x| x.kept_client_id.as_deref());
    let kept_user_id = problem.and_then(|x| x.kept_user_id.as_deref());
    html! {
        section.form-section aria-labelledby="form-title" {
            h2 #form-title { "Send the credential" }
            @if let Some(problem) = problem {
                (problem_summary(p, problem))
            }
            form.credential-form method="post" {
                input type="hidden" name="csrf_token" value=(p.csrf_token);
                @match p.kind {
                    Kind::HarvestV3 => {
                        (field(&CLIENT_ID, kept_client_id, wrong, problem))
                        (field(&CLIENT_SECRET, None, wrong, problem))
                        (field(&USER_ID, kept_user_id, wrong, problem))
                    }
                    Kind::HarvestV1 => {
                        (field(&API_KEY, None, wrong, problem))
                    }
                }
                p.attempts { "Attempts left on this link: " strong { (p.attempts_left.max(0)) } }
                button.button type="submit" { "Send securely" }
            }
        }
    }
}

/// One labelled input with its help text and, when it is the wrong one, the error.
fn field(f: &Field, value: Option<&str>, wrong: Option<&str>, problem: Option<&Problem>) -> Markup {
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
            p.help id=(help_id) { (f.help) }
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
                spellcheck="false"
                inputmode=[f.numeric.then_some("numeric")]
                pattern=[f.numeric.then_some("[0-9]*")]
                aria-describedby=(described)
                aria-invalid=[invalid.then_some("true")]
                autofocus[invalid]
                required[f.required]
                value=[value];
        }
    }
}
