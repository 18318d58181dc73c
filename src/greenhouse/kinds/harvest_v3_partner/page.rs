//! What the customer page says for `harvest_v3_partner`: what connecting does, and how to
//! grant a permission (connect again and approve it).

use crate::domain::text::possessive;
use maud::{html, Markup};

pub(super) fn steps(brand: &str, permissions: Markup) -> Markup {
    html! {
        p {
            "There is nothing to create or copy. You approve " (possessive(brand))
            " access inside Greenhouse; it takes about a minute."
        }
        ol.steps {
            li {
                "Click " strong { "Connect with Greenhouse" } " below. Greenhouse opens in this "
                "tab."
            }
            li {
                "Sign in as a " strong { "Site Admin" } " of your Greenhouse account (only Site "
                "Admins can grant access to all of your data)."
            }
            li {
                "Tick " strong { "Authorize using a service account" } ", so the access does not "
                "depend on your own user staying active."
            }
            li {
                "Check the permissions Greenhouse lists — these are what " (brand) " asks for — "
                "and click " strong { "Authorize" } "."
                (permissions)
            }
            li {
                "Greenhouse sends you back here, and this page tells you at once whether every "
                "permission arrived."
            }
        }
        p {
            "You can remove the access at any time in Greenhouse (Configure → Dev Center → "
            "Authorized Applications)."
        }
    }
}

pub(super) fn grant_steps() -> Markup {
    html! {
        p {
            "Nothing to change in Greenhouse: click " strong { "Connect again" } " below and, "
            "when Greenhouse lists the permissions, approve each of these. Sign in as a Site "
            "Admin and tick " strong { "Authorize using a service account" } "."
        }
    }
}
