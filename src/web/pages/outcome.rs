//! The pages after an accepted submission: verified (200) and pending (202). Each is a receipt:
//! a reference to quote, what was received, what happens next and whom to contact.

use super::components::{full_stop, notice, page_heading, permission_list, possessive, time_tag};
use super::layout::layout;
use super::trust::after_collection;
use super::PageContext;
use crate::domain::contact::mailto;
use crate::greenhouse::kinds::Intake;
use crate::greenhouse::{CredentialKind, Verification};
use maud::{html, Markup};
use time::OffsetDateTime;

/// What the receipt quotes about the stored credential.
#[derive(Debug, Clone)]
pub struct Receipt {
    /// The credential id's short form (see [`super::short_reference`]).
    pub reference: Option<String>,
    pub received_at: OffsetDateTime,
}

/// 200: the credential was received and Greenhouse confirmed it.
pub fn verified_page(
    ctx: &PageContext,
    org: &str,
    kind: &dyn CredentialKind,
    v: &Verification,
    receipt: &Receipt,
) -> Markup {
    let brand = ctx.brand.as_str();
    let title = if kind.intake() == Intake::Connect {
        "Connected and verified"
    } else {
        "Received and verified"
    };
    layout(
        ctx,
        title,
        html! {
            (page_heading(title, Some(html! {
                @if kind.intake() == Intake::Connect {
                    "Thank you. " strong { (brand) } " is now connected to the Greenhouse of "
                    strong { (org) } ", and Greenhouse confirmed that the connection works."
                } @else {
                    "Thank you. " strong { (brand) } " received the credential for "
                    strong { (org) } ", and Greenhouse confirmed that it works. "
                    "You can close the Greenhouse tab now."
                }
            })))
            @if v.organization_mismatch {
                @if let Some(gh) = &v.organization {
                    (notice("warning", html! {
                        h2 { "Is this the right Greenhouse account?" }
                        p {
                            "This credential belongs to the Greenhouse account of "
                            strong { (gh.name) } ", but this link was made for "
                            strong { (org) } (full_stop(org)) " "
                            "If that is not right, tell " (ctx.whom())
                            @if let Some(c) = &ctx.contact {
                                " (" a href=(mailto(&c.email)) translate="no" { (c.email) } ")"
                            }
                            @if let Some(reference) = &receipt.reference {
                                " and quote your reference, " strong translate="no" { (reference) }
                            }
                            ". " (ctx.brand) " sees this warning too."
                        }
                    }))
                }
            }
            (receipt_box(receipt, org, html! {
                @if let Some(gh) = &v.organization {
                    div { dt { "Greenhouse account" } dd { "Connected to the account of " strong { (gh.name) } } }
                }
                @if let Some(user) = &v.greenhouse_user {
                    div { dt { "Acts as" } dd { (user.name) " (Greenhouse user " (user.id) ")" } }
                }
                div { dt { "Checked" } dd { (v.message) } }
            }))
            (next_steps(ctx, receipt, html! {
                li {
                    @if ctx.handling.vend {
                        (possessive(brand)) " import system starts reading your Greenhouse data."
                    } @else {
                        (possessive(brand)) " import system collects the credential."
                    }
                }
            }))
            @if !v.missing_optional.is_empty() {
                section aria-labelledby="optional-title" {
                    h2 #optional-title { "Optional permissions not granted" }
                    p {
                        (brand) " can work without these, with less detail. "
                        (kind.how_to_add_optional())
                    }
                    (permission_list(kind, &v.missing_optional))
                }
            }
            @if !v.granted.is_empty() {
                details.granted {
                    summary { "Permissions granted (" (v.granted.len()) ")" }
                    (permission_list(kind, &v.granted))
                }
            }
        },
    )
}

/// 202: the credential was received; Greenhouse could not be asked yet.
pub fn pending_page(ctx: &PageContext, org: &str, receipt: &Receipt) -> Markup {
    let brand = ctx.brand.as_str();
    let title = "Received — we will verify it shortly";
    layout(
        ctx,
        title,
        html! {
            (page_heading(title, Some(html! {
                "Thank you. " strong { (brand) } " received the credential for "
                strong { (org) } (full_stop(org))
            })))
            (notice("info", html! {
                p {
                    "Greenhouse did not answer in time, so the credential will be checked again "
                    "in the background, first within a minute. It is stored encrypted in the "
                    "meantime. You can close the Greenhouse tab."
                }
            }))
            (receipt_box(receipt, org, html! {}))
            (next_steps(ctx, receipt, html! {
                li {
                    "Once Greenhouse confirms it, " (possessive(brand)) " import system "
                    @if ctx.handling.vend { "starts reading your Greenhouse data" } @else { "collects it" }
                    ". If Greenhouse refuses it, " (ctx.whom()) " will contact you."
                }
            }))
        },
    )
}

/// The receipt: reference, time, organisation, and `extra` rows.
fn receipt_box(receipt: &Receipt, org: &str, extra: Markup) -> Markup {
    html! {
        section.receipt aria-labelledby="receipt-title" {
            h2 #receipt-title { "Your receipt" }
            dl.facts {
                @if let Some(reference) = &receipt.reference {
                    div { dt { "Reference" } dd { strong.reference translate="no" { (reference) } } }
                }
                div { dt { "Received" } dd { (time_tag(receipt.received_at)) } }
                div { dt { "For" } dd { (org) } }
                (extra)
            }
        }
    }
}

/// "What happens next": `first`, then deletion, withdrawal and whom to contact.
fn next_steps(ctx: &PageContext, receipt: &Receipt, first: Markup) -> Markup {
    html! {
        section aria-labelledby="next-title" {
            h2 #next-title { "What happens next" }
            ol.next {
                (first)
                @if ctx.handling.vend {
                    li {
                        "It stays encrypted with keydrop; " (ctx.brand)
                        "'s systems receive only access tokens that expire within the hour."
                    }
                    li {
                        "You can withdraw access at any time in Greenhouse (Configure → Dev "
                        "Center): delete the credential, or disconnect the app."
                    }
                } @else {
                    li {
                        "The encrypted copy is deleted "
                        (after_collection(ctx.handling.retain_after_delivery)) "."
                    }
                    li {
                        "You can withdraw access at any time by deleting the credential in "
                        "Greenhouse (Configure → Dev Center)."
                    }
                }
                li {
                    "Questions? Write to " (ctx.whom())
                    @if let Some(c) = &ctx.contact {
                        " (" a href=(mailto(&c.email)) translate="no" { (c.email) } ")"
                    }
                    @if let Some(reference) = &receipt.reference {
                        " and quote " strong translate="no" { (reference) }
                    }
                    "."
                }
            }
            p.done {
                "This link no longer works. To send another credential, ask " (ctx.whom())
                " for a new link."
            }
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

    fn receipt() -> Receipt {
        Receipt {
            reference: Some("3F2A9C1B".into()),
            received_at: datetime!(2026-11-23 09:00 UTC),
        }
    }

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
            field: None,
            organization_mismatch: false,
        }
    }

    #[test]
    fn verified_lists_granted_in_plain_words() {
        let v = verification("All required permissions are granted.", vec![]);
        let html = verified_page(
            &PageContext::new("Acme"),
            "Initech",
            HARVEST_V3,
            &v,
            &receipt(),
        )
        .into_string();
        assert!(html.contains("Received and verified"));
        assert!(html.contains("harvest:<wbr>users:<wbr>list</code>"));
        assert!(html.contains("Users — the people"));
        assert!(html.contains("Jobs — the positions"));
        assert!(html.contains("Your receipt"));
        assert!(html.contains("3F2A9C1B"));
        assert!(html.contains("What happens next"));
        assert!(html.contains("7 days after it has been collected"));
        assert!(html.contains("close the Greenhouse tab"));
        assert!(html.contains("no longer works"));
        assert!(!html.contains("Connected to"));
        assert!(!html.contains("Optional permissions not granted"));
        let v = verification("ok", vec!["harvest:notes:list".into()]);
        let html = verified_page(
            &PageContext::new("Acme"),
            "Initech",
            HARVEST_V3,
            &v,
            &receipt(),
        )
        .into_string();
        assert!(html.contains("Optional permissions not granted"));
        assert!(html.contains("harvest:<wbr>notes:<wbr>list"));
    }

    #[test]
    fn verified_names_the_greenhouse_user() {
        let mut v = verification("ok", vec![]);
        assert!(!verified_page(
            &PageContext::new("Acme"),
            "Initech",
            HARVEST_V3,
            &v,
            &receipt()
        )
        .into_string()
        .contains("Acts as"));
        v.greenhouse_user = Some(crate::greenhouse::Named {
            id: "4001".into(),
            name: "Ada <Admin>".into(),
        });
        let html = verified_page(
            &PageContext::new("Acme"),
            "Initech",
            HARVEST_V3,
            &v,
            &receipt(),
        )
        .into_string();
        assert!(html.contains("Ada &lt;Admin&gt; (Greenhouse user 4001)"));
        v.organization = Some(crate::greenhouse::Named {
            id: "1".into(),
            name: "Acme <Corp>".into(),
        });
        let html = verified_page(
            &PageContext::new("Acme"),
            "Initech",
            HARVEST_V3,
            &v,
            &receipt(),
        )
        .into_string();
        assert!(html.contains("Connected to the account of <strong>Acme &lt;Corp&gt;</strong>"));
    }

    #[test]
    fn verified_names_the_organisation() {
        let mut v = verification("ok", vec![]);
        let ctx = PageContext::new("Acme");
        assert!(!verified_page(&ctx, "Initech", HARVEST_V3, &v, &receipt())
            .into_string()
            .contains("Connected to"));
        v.organization = Some(crate::greenhouse::Named {
            id: "4000001".into(),
            name: "Acme <Corp> & \"Sons\"".into(),
        });
        let html = verified_page(&ctx, "Initech", HARVEST_V3, &v, &receipt()).into_string();
        assert!(
            html.contains("Acme &lt;Corp&gt; &amp; &quot;Sons&quot;"),
            "{html}"
        );
        assert!(!html.contains("Is this the right Greenhouse account?"));
        // Another organisation than the drop's: said first, with whom to tell.
        let v = v.judged_for("Initech");
        assert!(v.organization_mismatch);
        let html = verified_page(&ctx, "Initech", HARVEST_V3, &v, &receipt()).into_string();
        let warning = html.find("Is this the right Greenhouse account?").unwrap();
        assert!(warning < html.find("Your receipt").unwrap(), "{html}");
        assert!(html.contains("but this link was made for <strong>Initech</strong>."));
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
            verified_page(&ctx, "Initech", HARVEST_V3, &v, &receipt()).into_string(),
            pending_page(&ctx, "Initech", &receipt()).into_string(),
        ] {
            assert!(
                html.contains("ask Jane Doe at Acme for a new link"),
                "{html}"
            );
            assert!(html
                .contains("Write to Jane Doe at Acme (<a href=\"mailto:jane@example.com\" translate=\"no\">jane@example.com</a>) and quote <strong translate=\"no\">3F2A9C1B"));
            assert!(html.contains("mailto:jane@example.com"));
        }
    }

    #[test]
    fn pending_says_nothing_more_to_do() {
        let html = pending_page(&PageContext::new("Acme"), "Initech", &receipt()).into_string();
        assert!(html.contains("we will verify it shortly"));
        assert!(html.contains("checked again in the background"));
        assert!(html.contains("Acme will contact you"));
        assert!(html.contains("Your receipt"));
        assert!(html.contains("3F2A9C1B"));
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
                verified_page(&ctx, h, HARVEST_V3, &v, &receipt()).into_string(),
                verified_page(&ctx, h, HARVEST_V1, &v, &receipt()).into_string(),
                pending_page(&ctx, h, &receipt()).into_string(),
            ] {
                assert_page_ok(&html, h);
                assert!(html.contains(&escaped(h)));
            }
        }
    }
}
