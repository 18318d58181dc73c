//! What the customer page says for `harvest_v1`: a warning that the keys are retired, the
//! steps, and how to grant a permission.

use maud::{html, Markup};

/// The date Greenhouse retired Harvest v1/v2 API keys (SPEC §1).
const V1_RETIRED_ON: &str = "2026-08-31";

pub(super) fn steps(brand: &str, permissions: Markup) -> Markup {
    html! {
        div class="notice notice-warning" {
            p {
                strong { "This link asks for a legacy Harvest API key. " }
                "Greenhouse retired these keys (Harvest v1/v2) on "
                time datetime=(V1_RETIRED_ON) { (V1_RETIRED_ON) }
                ", so a key may no longer be accepted. A Harvest V3 (OAuth) credential is "
                "preferred: if you can, ask " (brand) " for a new link for a V3 credential "
                "instead."
            }
        }
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
                (permissions)
            }
            li {
                "Copy the " strong { "API key" } " and paste it into the form below. "
                strong { "Greenhouse shows the key only once" } "."
            }
        }
    }
}

pub(super) fn grant_steps() -> Markup {
    html! {
        p {
            "You do not need a new key. In Greenhouse, click " strong { "Configure" }
            " → " strong { "Dev Center" } " → " strong { "API Credential Management" }
            ", find your key and click " strong { "Edit" } ", then "
            strong { "Manage permissions" } ". Under Harvest, tick the permissions below, "
            "save, and send the same key again."
        }
    }
}
