//! What the customer page says for `harvest_v1`: a warning that the keys are retired, the
//! steps, and how to grant a permission.

use maud::{html, Markup};

/// The date Greenhouse retired Harvest v1/v2 API keys (SPEC §1).
const V1_RETIRED_ON: &str = "2026-08-31";

pub(super) fn steps(brand: &str, permissions: Markup) -> Markup {
    html! {
        div class="notice notice-warning" {
            p {
                strong { "This link asks for a Harvest API key you already have. " }
                "Greenhouse retired these keys (Harvest v1/v2) on "
                time datetime=(V1_RETIRED_ON) { (V1_RETIRED_ON) }
                " and no longer creates new ones. If you do not have one saved, do not try to "
                "make one: ask " (brand) " for a link for a Harvest V3 (OAuth) credential "
                "instead."
            }
        }
        ol.steps {
            li {
                "Find the Harvest API key you saved when it was created (Greenhouse showed it "
                "only once and cannot show it again)."
            }
            li {
                "Check its permissions: in Greenhouse, " strong { "Configure" } " → "
                strong { "Dev Center" } " → " strong { "API Credential Management" }
                ", find the key, click " strong { "Edit" } ", then "
                strong { "Manage permissions" } ". In the Harvest section, tick each of these "
                "permissions, then save."
                (permissions)
            }
            li { "Paste the " strong { "API key" } " into the form below." }
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
