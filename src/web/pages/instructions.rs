//! Step-by-step instructions for creating the credential in Greenhouse, per kind, with the
//! permissions to grant listed at the step where they are ticked. They sit in a `<details>`
//! (no JavaScript needed): open on the first visit, closed once the customer has seen them.

use super::components::resource_list;
use crate::greenhouse::{CredentialKind, Profile, Resource};
use maud::{html, Markup};

/// The "How to create the credential" section for `kind`: the kind's own steps, with the
/// profile's permissions at the step where they are granted; `open` on the first visit.
pub fn instructions(
    brand: &str,
    kind: &dyn CredentialKind,
    profile: &Profile,
    open: bool,
) -> Markup {
    let required = profile.required_resources(kind);
    let optional = profile.optional_resources(kind);
    html! {
        details.instructions open[open] {
            summary {
                @if kind.connects() {
                    "How connecting works"
                } @else {
                    "How to create the credential in Greenhouse"
                }
            }
            div.details-body {
                (kind.instructions(brand, permission_groups(&required, &optional)))
            }
        }
    }
}

/// The required permissions and, when there are any, the optional ones.
fn permission_groups(required: &[&Resource], optional: &[&Resource]) -> Markup {
    html! {
        div.permission-group #permissions {
            p.group-title { strong { "Required" } " — the data cannot be read without these:" }
            (resource_list(required))
            @if !optional.is_empty() {
                p.group-title {
                    strong { "Optional" } " — tick these too if you can; they add detail:"
                }
                (resource_list(optional))
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
        assert!(html.contains("V3 credential instead"));
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
}
