//! The compact "missing permissions" answer: the steps once (the kind's words, including where
//! to find the existing credential again), then one short list of exactly what to tick,
//! grouped and ordered the way Greenhouse's screen shows them, each with the screen's label
//! and the exact name. Optional ones fold away under their own summary.

use super::components::permission_code;
use super::Problem;
use crate::greenhouse::CredentialKind;
use maud::{html, Markup};

/// Anchor of the list, linked from the error summary.
pub const MISSING_ANCHOR: &str = "missing";

/// The section, or nothing when no permission is missing.
pub fn missing_permissions(kind: &dyn CredentialKind, problem: &Problem) -> Markup {
    let required = &problem.missing_required;
    let optional = &problem.missing_optional;
    if required.is_empty() && optional.is_empty() {
        return html! {};
    }
    html! {
        section.missing id=(MISSING_ANCHOR) aria-labelledby="missing-title" {
            h2 #missing-title {
                @if required.is_empty() {
                    "Optional permissions you could add"
                } @else if required.len() == 1 {
                    "Add 1 permission in Greenhouse"
                } @else {
                    "Add " (required.len()) " permissions in Greenhouse"
                }
            }
            div.grant-steps { (kind.grant_steps()) }
            @if !required.is_empty() {
                (grouped(kind, required))
            }
            @if !optional.is_empty() {
                details.optional-missing open[required.is_empty()] {
                    summary {
                        "Also, if you can: " (optional.len()) " optional"
                    }
                    (grouped(kind, optional))
                }
            }
        }
    }
}

/// Permissions by the group Greenhouse's screen shows them under, in the order the link
/// page's steps list them (the profile's order, as the report gives them); a permission the
/// catalogue does not know is listed by its name.
fn grouped(kind: &dyn CredentialKind, permissions: &[String]) -> Markup {
    let mut groups: Vec<(String, Vec<(String, &str)>)> = Vec::new();
    for p in permissions {
        let label = kind
            .resource_by_permission(p)
            .map(|r| r.screen_label())
            .unwrap_or_else(|| format!("Other > {p}"));
        let (group, entry) = label
            .split_once(" > ")
            .map(|(g, e)| (g.to_owned(), e.to_owned()))
            .unwrap_or_else(|| (label.clone(), String::new()));
        match groups.iter_mut().find(|(g, _)| *g == group) {
            Some((_, entries)) => entries.push((entry, p.as_str())),
            None => groups.push((group, vec![(entry, p.as_str())])),
        }
    }
    html! {
        ul.scope-list {
            @for (group, entries) in &groups {
                @if let [(entry, permission)] = entries.as_slice() {
                    li {
                        span.scope-label {
                            (group)
                            @if entry.as_str() != *permission && !entry.is_empty() { " > " (entry) }
                        }
                        " " (permission_code(permission))
                    }
                } @else {
                    li {
                        span.scope-label { (group) }
                        ul {
                            @for (entry, permission) in entries {
                                li {
                                    @if entry.as_str() != *permission {
                                        span.scope-label { (entry) }
                                    }
                                    " " (permission_code(permission))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::greenhouse::kinds::{CANDIDATE_INGESTION, HARVEST_V1, HARVEST_V3};

    fn problem(required: &[&str], optional: &[&str]) -> Problem {
        Problem {
            message: "Missing".into(),
            missing_required: required.iter().map(|s| s.to_string()).collect(),
            missing_optional: optional.iter().map(|s| s.to_string()).collect(),
            ..Problem::default()
        }
    }

    #[test]
    fn steps_once_then_one_line_per_scope_in_the_pages_order() {
        let pr = problem(
            &["harvest:offers:list", "harvest:candidates:list", "<x>"],
            &["harvest:notes:list"],
        );
        let html = missing_permissions(HARVEST_V3, &pr).into_string();
        assert!(html.contains("Add 3 permissions in Greenhouse"));
        assert_eq!(
            html.matches("Manage Scopes").count(),
            1,
            "steps written once"
        );
        assert!(html.contains("same Client ID and Client Secret"));
        let cand = html.find("Candidates &gt; List candidates").unwrap();
        let offers = html.find("Offers &gt; List offers").unwrap();
        assert!(
            offers < cand,
            "in the order the report (and the page's steps) give"
        );
        assert!(html.contains("harvest:<wbr>offers:<wbr>list"));
        assert!(html.contains("<span class=\"scope-label\">Other</span> <code"));
        assert!(html.contains("&lt;x&gt;</code>"));
        assert!(html.contains("1 optional"));
        assert!(html.contains("Notes &gt; List notes"));
    }

    #[test]
    fn every_kind_says_how_to_add_them() {
        let v1 = missing_permissions(HARVEST_V1, &problem(&["GET: List Users"], &[])).into_string();
        assert!(v1.contains("Add 1 permission"));
        assert!(v1.contains("Manage permissions"));
        assert!(v1.contains("<span class=\"scope-label\">Users</span>"));
        assert!(v1.replace("<wbr>", "").contains(">GET: List Users</code>"));
        let ing = missing_permissions(
            CANDIDATE_INGESTION,
            &problem(&["GET /v1/partner/jobs"], &[]),
        )
        .into_string();
        assert!(ing.contains("raise their permission level"));
        assert!(missing_permissions(HARVEST_V3, &problem(&[], &[]))
            .into_string()
            .is_empty());
    }
}
