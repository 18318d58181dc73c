//! Step-by-step instructions for creating the credential in Greenhouse, per kind, with the
//! permissions to grant listed at the step where they are ticked.

use super::components::{notice, resource_list};
use crate::greenhouse::{Kind, Profile, Resource};
use maud::{html, Markup};

/// The date Greenhouse retired Harvest v1/v2 API keys (SPEC §1).
pub const V1_RETIRED_ON: &str = "2026-08-31";

/// The "How to create the credential" section for `kind`.
pub fn instructions(brand: &str, kind: Kind, profile: &Profile) -> Markup {
    let required = profile.required_resources(kind);
    let optional = profile.optional_resources(kind);
    html! {
        section.instructions aria-labelledby="steps-title" {
            h2 #steps-title { "How to create the credential in Greenhouse" }
            @match kind {
                Kind::HarvestV3 => (v3_steps(brand, &required, &optional)),
                Kind::HarvestV1 => (v1_steps(brand, &required, &optional)),
            }
        }
    }
}

fn v3_steps(brand: &str, required: &[&Resource], optional: &[&Resource]) -> Markup {
    html! {
        p {
            "You need a Greenhouse user who may manage API credentials (usually a Site Admin). "
            "It takes about five minutes."
        }
        ol.steps {
            li { "Sign in to Greenhouse and click " strong { "Configure" } " (the gear icon)." }
            li { "Open " strong { "Dev Center" } ", then " strong { "API Credentials" } "." }
            li { "Click " strong { "Create new API credential" } "." }
            li {
                "Choose the type " strong { "Harvest V3 (OAuth)" } ". As description, write "
                "something that says who it is for, such as “" (brand) "”. Create it."
            }
            li {
                "Click " strong { "Manage Scopes" } " and tick each of these scopes, then save."
                (permission_groups(required, optional))
            }
            li {
                "Copy the " strong { "Client ID" } " and the " strong { "Client Secret" }
                " and paste them into the form below. "
                strong { "The secret is shown only once" }
                ", so paste it before you leave the Greenhouse page."
            }
            li {
                "Optional: the numeric ID of a Site Admin for the credential to act as. Open "
                "that user's profile in Greenhouse; the address ends in "
                code { "app.greenhouse.io/account/users/" var { "ID" } }
                ". Copy only the number."
            }
        }
    }
}

fn v1_steps(brand: &str, required: &[&Resource], optional: &[&Resource]) -> Markup {
    html! {
        (notice("warning", html! {
            p {
                strong { "This link asks for a legacy Harvest API key. " }
                "Greenhouse retired these keys (Harvest v1/v2) on "
                time datetime=(V1_RETIRED_ON) { (V1_RETIRED_ON) }
                ", so a key may no longer be accepted. A Harvest V3 (OAuth) credential is "
                "preferred: if you can, ask " (brand) " for a new link for a V3 credential "
                "instead."
            }
        }))
        ol.steps {
            li { "Sign in to Greenhouse and click " strong { "Configure" } " (the gear icon)." }
            li {
                "Open " strong { "Dev Center" } ", then "
                strong { "API Credential Management" } "."
            }
            li {
                "Click " strong { "Create New API Key" } ", choose the API type "
                strong { "Harvest" } " and a description such as “" (brand) "”."
            }
            li {
                "Under " strong { "Manage permissions" } ", in the Harvest section, tick each "
                "of these permissions, then save."
                (permission_groups(required, optional))
            }
            li {
                "Copy the " strong { "API key" } " and paste it into the form below. "
                strong { "Greenhouse shows the key only once" } "."
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

    #[test]
    fn v3_lists_every_scope_and_the_key_steps() {
        let p = Profile::default_for(Kind::HarvestV3);
        let html = instructions("Acme", Kind::HarvestV3, &p).into_string();
        for r in p.required_resources(Kind::HarvestV3) {
            assert!(html.contains(&format!(
                "<code class=\"perm-name\">harvest:{}:list</code>",
                r.name
            )));
        }
        for r in p.optional_resources(Kind::HarvestV3) {
            assert!(html.contains(&format!("harvest:{}:list", r.name)));
        }
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
        let p = Profile::default_for(Kind::HarvestV1);
        let html = instructions("Acme", Kind::HarvestV1, &p).into_string();
        assert!(html.contains("2026-08-31"));
        assert!(html.contains("V3 credential instead"));
        for r in p.required_resources(Kind::HarvestV1) {
            assert!(html.contains(&r.permission()));
        }
    }

    #[test]
    fn minimal_profile_has_no_optional_group() {
        let p = Profile::named(Kind::HarvestV3, "minimal").unwrap();
        let html = instructions("Acme", Kind::HarvestV3, &p).into_string();
        assert!(html.contains("harvest:users:list"));
        assert!(!html.contains("Optional</strong>"));
    }
}
