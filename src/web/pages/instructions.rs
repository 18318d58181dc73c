//! Step-by-step instructions for creating the credential in Greenhouse, per kind, with the
//! permissions to grant listed at the step where they are ticked. They sit in a `<details>`
//! (no JavaScript needed): open on the first visit, closed once the customer has seen them.
//!
//! The section is most of a link page (every permission of the profile with its screen label,
//! its purpose and its exact name) and about 70 % of the cost of rendering one, yet it depends
//! on nothing but the kind, the profile, the brand and whether it is open. So it is rendered
//! once per such combination and kept ([`KEPT`] at most; a process sees a handful).

use super::components::resource_list;
use crate::greenhouse::kinds::Intake;
use crate::greenhouse::{CredentialKind, Profile, Resource};
use maud::{html, Markup, PreEscaped};
use std::sync::{Mutex, OnceLock};

/// Most sections kept; past that the store starts again (custom profiles could be many).
const KEPT: usize = 64;

/// One rendered section and what it was rendered from.
struct Kept {
    kind: &'static str,
    brand: String,
    profile: Profile,
    open: bool,
    html: String,
}

fn kept() -> &'static Mutex<Vec<Kept>> {
    static KEPT_SECTIONS: OnceLock<Mutex<Vec<Kept>>> = OnceLock::new();
    KEPT_SECTIONS.get_or_init(|| Mutex::new(Vec::new()))
}

/// The "How to create the credential" section for `kind`: the kind's own steps, with the
/// profile's permissions at the step where they are granted; `open` on the first visit.
pub fn instructions(
    brand: &str,
    kind: &dyn CredentialKind,
    profile: &Profile,
    open: bool,
) -> Markup {
    let same = |k: &Kept| {
        k.open == open && k.kind == kind.name() && k.brand == brand && k.profile == *profile
    };
    let found = kept()
        .lock()
        .ok()
        .and_then(|all| all.iter().find(|k| same(k)).map(|k| k.html.clone()));
    if let Some(html) = found {
        return PreEscaped(html);
    }
    let html = render(brand, kind, profile, open).into_string();
    if let Ok(mut all) = kept().lock() {
        if all.len() >= KEPT {
            all.clear();
        }
        if !all.iter().any(same) {
            all.push(Kept {
                kind: kind.name(),
                brand: brand.to_owned(),
                profile: profile.clone(),
                open,
                html: html.clone(),
            });
        }
    }
    PreEscaped(html)
}

fn render(brand: &str, kind: &dyn CredentialKind, profile: &Profile, open: bool) -> Markup {
    let required = profile.required_resources(kind);
    let optional = profile.optional_resources(kind);
    html! {
        details.instructions open[open] {
            summary {
                @if kind.intake() == Intake::Connect {
                    "How connecting works"
                } @else {
                    "How to create the credential in Greenhouse"
                }
            }
            div.details-body {
                (kind.instructions(brand, permission_groups(kind.intake(), &required, &optional)))
            }
        }
    }
}

/// The required permissions and, when there are any, the optional ones, folded (a
/// `<details>`, no JavaScript) so the form stays near: the optional ones always; for a kind
/// that connects, the whole list, which Greenhouse's consent screen shows anyway.
fn permission_groups(intake: Intake, required: &[&Resource], optional: &[&Resource]) -> Markup {
    let groups = html! {
        p.group-title { strong { "Required" } " — the data cannot be read without these:" }
        (resource_list(required))
        @if !optional.is_empty() {
            details.permission-fold {
                summary {
                    strong { "Optional" } " — " (optional.len())
                    @if intake == Intake::Connect { " more that add detail" }
                    @else { " more to tick if you can; they add detail" }
                }
                (resource_list(optional))
            }
        }
    };
    html! {
        div.permission-group #permissions {
            @if intake == Intake::Connect {
                details.permission-fold {
                    summary {
                        "The permissions Greenhouse will ask you to approve ("
                        (required.len() + optional.len()) ")"
                    }
                    (groups)
                }
            } @else {
                (groups)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::greenhouse::kinds::{HARVEST_V1, HARVEST_V3};

    const V1_RETIRED_ON: &str = "2026-08-31";

    #[test]
    fn v3_lists_every_scope_and_the_key_steps() {
        let p = Profile::default_for(HARVEST_V3);
        let html = instructions("Acme", HARVEST_V3, &p, true).into_string();
        for r in p.required_resources(HARVEST_V3) {
            assert!(html.contains(&format!(
                "<code class=\"perm-name\" translate=\"no\">harvest:<wbr>{}:<wbr>list</code>",
                r.name
            )));
        }
        for r in p.optional_resources(HARVEST_V3) {
            assert!(html.contains(&format!("harvest:<wbr>{}:<wbr>list", r.name)));
        }
        // Each scope also by the label Greenhouse's screen shows.
        for r in p
            .required_resources(HARVEST_V3)
            .into_iter()
            .chain(p.optional_resources(HARVEST_V3))
        {
            let label = r.screen_label().replace('>', "&gt;");
            assert!(html.contains(&label), "{label}");
        }
        assert!(html.contains("Candidates &gt; List candidates"));
        assert!(html.contains("Job Interview Stages &gt; List job interview stages"));
        for s in [
            "Dev Center",
            "API Credentials",
            "Create new API credential",
            "Harvest V3 (OAuth)",
            "Manage Scopes",
            "shown only once",
            "app.greenhouse.io/account/users/",
        ] {
            assert!(html.contains(s), "missing {s}");
        }
        assert!(!html.contains(V1_RETIRED_ON));
    }

    #[test]
    fn v1_says_keys_are_retired() {
        let p = Profile::default_for(HARVEST_V1);
        let html = instructions("Acme", HARVEST_V1, &p, true).into_string();
        assert!(html.contains("2026-08-31"));
        assert!(html.contains("V3 (OAuth) credential"));
        // Nothing futile: no step asks to create a key Greenhouse no longer issues.
        assert!(html.contains("no longer creates new ones"));
        assert!(!html.contains("Create New API Key"), "{html}");
        for r in p.required_resources(HARVEST_V1) {
            assert!(
                html.replace("<wbr>", "").contains(&r.permission()),
                "{}",
                r.name
            );
        }
    }

    #[test]
    fn minimal_profile_has_no_optional_group() {
        let p = Profile::named(HARVEST_V3, "minimal").unwrap();
        let html = instructions("Acme", HARVEST_V3, &p, true).into_string();
        assert!(html.contains("harvest:<wbr>users:<wbr>list"));
        assert!(!html.contains("Optional</strong>"));
        assert!(html.contains("<details class=\"instructions\" open>"));
        let closed = instructions("Acme", HARVEST_V3, &p, false).into_string();
        assert!(closed.contains("<details class=\"instructions\">"));
    }

    #[test]
    fn a_kept_section_is_the_one_rendered_for_its_kind_profile_brand_and_state() {
        for round in 0..2 {
            for kind in crate::greenhouse::registry().all() {
                for named in kind.profiles() {
                    let p = Profile::named(kind, named.name).unwrap();
                    for (brand, open) in [("Acme", true), ("Acme", false), ("Glo<bex", true)] {
                        let shown = instructions(brand, kind, &p, open).into_string();
                        let fresh = render(brand, kind, &p, open).into_string();
                        assert_eq!(
                            shown,
                            fresh,
                            "{} {} {brand} {open} {round}",
                            kind.name(),
                            p.name
                        );
                    }
                }
            }
        }
        // Same name, other lists: another section.
        let default = Profile::default_for(HARVEST_V3);
        let mut fewer = default.clone();
        fewer.optional.clear();
        let a = instructions("Acme", HARVEST_V3, &default, true).into_string();
        let b = instructions("Acme", HARVEST_V3, &fewer, true).into_string();
        assert_ne!(a, b);
        assert!(!b.contains("Optional</strong>"));
        // A full store starts again; every answer stays right.
        for i in 0..(KEPT + 5) {
            let brand = format!("Brand {i}");
            assert_eq!(
                instructions(&brand, HARVEST_V3, &fewer, false).into_string(),
                render(&brand, HARVEST_V3, &fewer, false).into_string()
            );
        }
    }
}
