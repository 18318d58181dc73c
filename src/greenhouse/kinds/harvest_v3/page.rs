//! What the customer page says for `harvest_v3`: the steps and how to grant a scope.

use maud::{html, Markup};

pub(super) fn steps(brand: &str, permissions: Markup) -> Markup {
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
                (permissions)
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

pub(super) fn grant_steps() -> Markup {
    html! {
        p {
            "You do not need a new credential. In Greenhouse, click " strong { "Configure" }
            " (the gear icon) → " strong { "Dev Center" } " → " strong { "API Credentials" }
            ", find your credential in the list and open " strong { "Manage Scopes" }
            " on its row. Tick the scopes below, click " strong { "Save" }
            ", then send the same Client ID and Client Secret again."
        }
    }
}
