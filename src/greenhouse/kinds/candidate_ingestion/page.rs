//! What the customer page says for `candidate_ingestion`: the steps on Greenhouse's screens
//! and how to give the acting user a permission.

use maud::{html, Markup};

pub(super) fn steps(brand: &str, permissions: Markup) -> Markup {
    html! {
        p {
            "You need a Greenhouse user with the permission "
            strong { "Can manage ALL organization's API Credentials" }
            " (under Developer permissions; Site Admins usually have it). "
            "It takes about five minutes."
        }
        ol.steps {
            li { "Sign in to Greenhouse and click " strong { "Configure" } " (the gear icon)." }
            li {
                "Open " strong { "Dev Center" } ", then "
                strong { "API Credential Management" } "."
            }
            li {
                "Click " strong { "Create New API Key" } ". As " strong { "API type" }
                ", choose " strong { "Candidate Ingestion" } ". As " strong { "Partner" }
                ", choose " strong { (brand) } " if it is listed, otherwise "
                strong { "Unlisted vendor" } ". As description, write something such as “"
                (brand) "”. Create the key."
            }
            li {
                "Copy the " strong { "API key" } " and paste it into the form below. "
                strong { "Greenhouse shows the key only once" }
                ", so paste it before you leave the Greenhouse page."
            }
            li {
                "Enter the e-mail address of an " strong { "active" } " Greenhouse user for "
                (brand) " to act for — usually yours, as the key's creator. Greenhouse "
                "answers with that user's permissions, so the user must be able to:"
                (permissions)
            }
            li {
                "Optional: your " strong { "job board token" } ", the last part of your job "
                "board's address " code { "boards.greenhouse.io/" var { "token" } } "."
            }
        }
    }
}

pub(super) fn grant_steps() -> Markup {
    html! {
        p {
            "The key works; what it may do follows the Greenhouse user whose e-mail you "
            "entered. In Greenhouse, click " strong { "Configure" } " → " strong { "Users" }
            ", open that user and raise their permission level (a Site Admin may do "
            "everything) so that the requests below are allowed — or enter the e-mail of a "
            "user who may. Then send the same key again."
        }
    }
}
