//! The pages after an accepted submission: verified (200) and pending (202).

use super::components::{notice, page_heading, permission_list};
use super::layout::layout;
use super::PageContext;
use crate::greenhouse::{CredentialKind, Verification};
use maud::{html, Markup};

/// 200: the credential was received and Greenhouse confirmed it.
pub fn verified_page(
    ctx: &PageContext,
    org: &str,
    kind: &dyn CredentialKind,
    v: &Verification,
) -> Markup {
    let brand = ctx.brand.as_str();
    let title = "Received and verified";
    layout(
        ctx,
        title,
        html! {
            (page_heading(title, Some(html! {
                "Thank you. " strong { (brand) } " received the credential for "
                strong { (org) } ", and Greenhouse confirmed that it works."
            })))
            (notice("success", html! {
                p { "Checked with Greenhouse: " (v.message) }
                @if let Some(org) = &v.organization {
                    p { "Connected to " strong { (org.name) } "'s Greenhouse." }
                }
                @if let Some(user) = &v.greenhouse_user {
                    p { "It acts as the Greenhouse user " strong { (user.name) }
                        " (ID " (user.id) ")." }
                }
            }))
            @if !v.granted.is_empty() {
                section aria-labelledby="granted-title" {
                    h2 #granted-title { "Permissions granted" }
                    (permission_list(kind, &v.granted))
                }
            }
            @if !v.missing_optional.is_empty() {
                section aria-labelledby="optional-title" {
                    h2 #optional-title { "Optional permissions not granted" }
                    p {
                        (brand) " can work without these, with less detail. If you want to add "
                        "them, tick them on the same credential in Greenhouse; you do not need "
                        "to send it again."
                    }
                    (permission_list(kind, &v.missing_optional))
                }
            }
            (all_done(ctx))
        },
    )
}

/// 202: the credential was received; Greenhouse could not be asked yet.
pub fn pending_page(ctx: &PageContext, org: &str) -> Markup {
    let brand = ctx.brand.as_str();
    let title = "Received — we will verify it shortly";
    layout(
        ctx,
        title,
        html! {
            (page_heading(title, Some(html! {
                "Thank you. " strong { (brand) } " received the credential for "
                strong { (org) } "."
            })))
            (notice("info", html! {
                p {
                    "Greenhouse did not answer in time, so the credential will be checked again "
                    "in the background. It is stored encrypted in the meantime."
                }
            }))
            p {
                "There is nothing more for you to do. " (brand)
                " will contact you if something is missing."
            }
            (all_done(ctx))
        },
    )
}

fn all_done(ctx: &PageContext) -> Markup {
    html! {
        p.done {
            "You can close this page. This link no longer works; if you need to send a "
            "credential again, ask " (ctx.whom()) " for a new link."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::contact::Contact;
    use crate::greenhouse::kinds::{HARVEST_V1, HARVEST_V3};
    use crate::greenhouse::Outcome;
    use crate::web::pages::testing::{assert_page_ok, escaped, HOSTILE};
    use time::macros::datetime;

    fn verification(message: &str, missing_optional: Vec<String>) -> Verification {
        Verification {
            outcome: Outcome::Verified,
            checked_at: datetime!(2026-11-23 09:00 UTC),
            granted: vec!["harvest:users:list".into(), "harvest:jobs:list".into()],
            missing_required: vec![],
            missing_optional,
            message: message.to_owned(),
            organization: None,
            greenhouse_user: None,
        }
    }

    #[test]
    fn verified_lists_granted_in_plain_words() {
        let v = verification("All required permissions are granted.", vec![]);
        let html =
            verified_page(&PageContext::new("Acme"), "Initech", HARVEST_V3, &v).into_string();
        assert!(html.contains("Received and verified"));
        assert!(html.contains("<code class=\"perm-name\">harvest:users:list</code>"));
        assert!(html.contains("Users — the people"));
        assert!(html.contains("Jobs — the positions"));
        assert!(html.contains("You can close this page"));
        assert!(html.contains("no longer works"));
        assert!(!html.contains("Optional permissions not granted"));
        let v = verification("ok", vec!["harvest:notes:list".into()]);
        let html =
            verified_page(&PageContext::new("Acme"), "Initech", HARVEST_V3, &v).into_string();
        assert!(html.contains("Optional permissions not granted"));
        assert!(html.contains("harvest:notes:list"));
    }

    #[test]
    fn verified_names_the_greenhouse_user() {
        let mut v = verification("ok", vec![]);
        assert!(
            !verified_page(&PageContext::new("Acme"), "Initech", HARVEST_V3, &v)
                .into_string()
                .contains("acts as")
        );
        v.greenhouse_user = Some(crate::greenhouse::Named {
            id: "4001".into(),
            name: "Ada <Admin>".into(),
        });
        let html =
            verified_page(&PageContext::new("Acme"), "Initech", HARVEST_V3, &v).into_string();
        assert!(html
            .contains("acts as the Greenhouse user <strong>Ada &lt;Admin&gt;</strong> (ID 4001)"));
    }

    #[test]
    fn verified_names_the_organisation() {
        let mut v = verification("ok", vec![]);
        let ctx = PageContext::new("Acme");
        assert!(!verified_page(&ctx, "Initech", HARVEST_V3, &v)
            .into_string()
            .contains("Connected to"));
        v.organization = Some(crate::greenhouse::Named {
            id: "4000001".into(),
            name: "Acme <Corp> & \"Sons\"".into(),
        });
        let html = verified_page(&ctx, "Initech", HARVEST_V3, &v).into_string();
        assert!(
            html.contains("Connected to <strong>Acme &lt;Corp&gt; &amp; &quot;Sons&quot;</strong>'s Greenhouse."),
            "{html}"
        );
    }

    #[test]
    fn both_name_the_contact() {
        let jane = Contact {
            name: "Jane Doe".into(),
            email: "jane@example.com".into(),
        };
        let ctx = PageContext::new("Acme").with_contact(Some(&jane));
        let v = verification("ok", vec![]);
        for html in [
            verified_page(&ctx, "Initech", HARVEST_V3, &v).into_string(),
            pending_page(&ctx, "Initech").into_string(),
        ] {
            assert!(
                html.contains("ask Jane Doe at Acme for a new link"),
                "{html}"
            );
            assert!(html.contains("mailto:jane@example.com"));
        }
    }

    #[test]
    fn pending_says_nothing_more_to_do() {
        let html = pending_page(&PageContext::new("Acme"), "Initech").into_string();
        assert!(html.contains("we will verify it shortly"));
        assert!(html.contains("nothing more for you to do"));
        assert!(html.contains("contact you if something is missing"));
    }

    #[test]
    fn hostile_values_are_escaped() {
        for h in HOSTILE {
            let v = verification(h, vec![h.to_owned()]);
            let contact = Contact {
                name: h.to_string(),
                email: "jane@example.com".into(),
            };
            let ctx = PageContext::new(h).with_contact(Some(&contact));
            for html in [
                verified_page(&ctx, h, HARVEST_V3, &v).into_string(),
                verified_page(&ctx, h, HARVEST_V1, &v).into_string(),
                pending_page(&ctx, h).into_string(),
            ] {
                assert_page_ok(&html, h);
                assert!(html.contains(&escaped(h)));
            }
        }
    }
}
