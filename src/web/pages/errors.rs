//! Pages for links that cannot be used and for errors: 410, 404, 429, the link locked by the
//! last attempt, and a generic one. Each names whom to ask, with their address.

use super::components::{notice, page_heading};
use super::layout::layout;
use super::PageContext;
use crate::domain::contact::mailto;
use maud::{html, Markup};

/// Why a link is dead (410).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoneReason {
    /// A credential was already accepted through the link.
    Submitted,
    /// The link is past its expiry time.
    Expired,
    /// The link ran out while the customer was making the credential: a paste posted after
    /// the expiry. The credential they just made in Greenhouse still works.
    ExpiredBeforeSent,
    /// Staff withdrew the link.
    Revoked,
    /// Too many refused attempts.
    Locked,
    /// A newer link for the same request was sent (send again, a reminder; SPEC §15).
    Replaced,
}

impl GoneReason {
    fn title(self) -> &'static str {
        match self {
            GoneReason::Submitted => "Already received",
            GoneReason::Expired => "This link has expired",
            GoneReason::ExpiredBeforeSent => "This link expired before your credential arrived",
            GoneReason::Revoked => "This link was withdrawn",
            GoneReason::Locked => "This link is locked",
            GoneReason::Replaced => "A newer link was sent to you",
        }
    }

    fn explain(self, ctx: &PageContext) -> Markup {
        match self {
            GoneReason::Submitted => html! {
                "A credential was already received through this link"
                @if let Some(org) = &ctx.org { " for " strong { (org) } }
                ". If you sent it, there is nothing more to do."
                @if let Some(reference) = &ctx.reference {
                    " Its reference is " strong translate="no" { (reference) } "."
                }
            },
            GoneReason::Expired => html! {
                "Links work for a limited time, and this one has run out. Nothing was stored."
            },
            GoneReason::ExpiredBeforeSent => html! {
                "Links work for a limited time, and this one ran out before your credential "
                "arrived, so nothing was stored or sent to Greenhouse. The credential you "
                "created in Greenhouse is still active: send it through a new link (the same "
                "values work), or delete it in Greenhouse's Dev Center if you no longer need it."
            },
            GoneReason::Revoked => html! { (ctx.brand) " withdrew this link. Nothing was stored." },
            GoneReason::Locked => html! {
                "Too many attempts were refused, so the link was locked to protect your "
                "account. Nothing was stored."
            },
            GoneReason::Replaced => html! {
                (ctx.brand) " sent you a newer link"
                @if let Some(org) = &ctx.org { " for " strong { (org) } }
                ", so this one no longer works. Nothing was stored. Use the link in the most "
                "recent e-mail."
            },
        }
    }
}

/// "Ask Jane Doe at Acme for a new link: jane@example.com."
fn ask_for_new_link(ctx: &PageContext, lead: &str) -> Markup {
    html! {
        p {
            (lead) " ask " (ctx.whom()) " for a new link"
            @if let Some(c) = &ctx.contact {
                ": " a href=(mailto(&c.email)) translate="no" { (c.email) }
            }
            "."
        }
    }
}

/// 410: the link is no longer usable, why, and whom to ask for a new one.
pub fn gone_page(ctx: &PageContext, reason: GoneReason) -> Markup {
    let title = reason.title();
    let tone = if reason == GoneReason::Submitted {
        "success"
    } else {
        "warning"
    };
    layout(
        ctx,
        title,
        html! {
            (page_heading(title, None))
            (notice(tone, html! { p { (reason.explain(ctx)) } }))
            @if reason == GoneReason::Replaced {
                (ask_for_new_link(ctx, "If you cannot find it,"))
            } @else {
                (ask_for_new_link(ctx, "If you still need to send a credential,"))
            }
        },
    )
}

/// 422: the submission that used the last attempt was refused, so the link is now locked.
pub fn locked_now_page(ctx: &PageContext, reason: &str) -> Markup {
    let title = "This link is now locked";
    layout(
        ctx,
        title,
        html! {
            (page_heading(title, None))
            (notice("warning", html! {
                p { (reason) }
                p {
                    "That was the last attempt this link allows, so it was locked to protect "
                    "your account. Nothing was stored."
                }
            }))
            (ask_for_new_link(ctx, "To try again,"))
        },
    )
}

/// 404: the token is not one keydrop knows (so there is no drop contact,
/// only the support address, if any).
pub fn not_found_page(ctx: &PageContext) -> Markup {
    let title = "Link not recognised";
    layout(
        ctx,
        title,
        html! {
            (page_heading(title, None))
            p {
                "This link is not one we recognise. Check that it was copied whole: links are "
                "long and e-mail programs sometimes break them across lines."
            }
            (ask_for_new_link(ctx, "If it still does not work,"))
        },
    )
}

/// 429: the client sent too many requests.
pub fn rate_limited_page(ctx: &PageContext, retry_after_secs: u64) -> Markup {
    let title = "Too many requests";
    layout(
        ctx,
        title,
        html! {
            (page_heading(title, None))
            p {
                "Please wait " (wait_words(retry_after_secs)) ", then go back and send the "
                "form again. Nothing you sent was lost or stored, and no attempt was used."
            }
        },
    )
}

/// Any other error, e.g. 403 "The form expired — reload the page and try again", 413, 400, 500.
pub fn error_page(ctx: &PageContext, title: &str, message: &str) -> Markup {
    layout(
        ctx,
        title,
        html! {
            (page_heading(title, None))
            p { (message) }
            @if let Some(c) = &ctx.contact {
                p.done {
                    "Stuck? Write to " (ctx.whom()) ": "
                    a href=(mailto(&c.email)) translate="no" { (c.email) } "."
                }
            }
        },
    )
}

/// "30 seconds", "1 minute", "3 minutes".
fn wait_words(secs: u64) -> String {
    let secs = secs.max(1);
    if secs < 60 {
        return if secs == 1 {
            "1 second".into()
        } else {
            format!("{secs} seconds")
        };
    }
    let mins = secs.div_ceil(60);
    if mins == 1 {
        "1 minute".into()
    } else {
        format!("{mins} minutes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::contact::Contact;
    use crate::web::pages::testing::{assert_page_ok, escaped, HOSTILE};

    fn acme() -> PageContext {
        PageContext::new("Acme")
    }

    const REASONS: [GoneReason; 5] = [
        GoneReason::Submitted,
        GoneReason::Expired,
        GoneReason::Revoked,
        GoneReason::Locked,
        GoneReason::Replaced,
    ];

    #[test]
    fn gone_says_which_and_whom_to_ask() {
        let text = |r| gone_page(&acme(), r).into_string();
        assert!(text(GoneReason::Submitted).contains("<h1>Already received</h1>"));
        assert!(text(GoneReason::Submitted)
            .contains("A credential was already received through this link"));
        assert!(text(GoneReason::Expired).contains("has expired"));
        assert!(text(GoneReason::Revoked).contains("Acme withdrew this link"));
        assert!(text(GoneReason::Locked).contains("Too many attempts"));
        let mut received = acme();
        received.org = Some("Initech".into());
        received.reference = Some("3F2A9C1B".into());
        let html = gone_page(&received, GoneReason::Submitted).into_string();
        assert!(html.contains("for <strong>Initech</strong>"));
        assert!(html.contains("reference is <strong translate=\"no\">3F2A9C1B</strong>"));
        for r in REASONS {
            assert!(text(r).contains("ask Acme for a new link"));
        }
        let jane = Contact {
            name: "Jane Doe".into(),
            email: "jane@example.com".into(),
        };
        let ctx = acme()
            .with_contact(Some(&jane))
            .with_support(Some("help@example.com"));
        for r in REASONS {
            let html = gone_page(&ctx, r).into_string();
            assert!(
                html.contains(
                    "ask Jane Doe at Acme for a new link: <a href=\"mailto:jane@example.com\""
                ),
                "{html}"
            );
            assert!(
                !html.contains("help@example.com"),
                "the drop's contact wins"
            );
        }
        let support = acme().with_support(Some("help@example.com"));
        let html = gone_page(&support, GoneReason::Locked).into_string();
        assert!(html.contains("ask Acme for a new link"));
        assert!(html.contains("mailto:help@example.com"));
    }

    #[test]
    fn not_found_rate_limited_and_generic() {
        let nf = not_found_page(&acme()).into_string();
        assert!(nf.contains("copied whole"));
        assert!(nf.contains("ask Acme for a new link"));
        let rl = rate_limited_page(&acme(), 90).into_string();
        assert!(rl.contains("Please wait 2 minutes"));
        assert_eq!(wait_words(0), "1 second");
        assert_eq!(wait_words(30), "30 seconds");
        assert_eq!(wait_words(60), "1 minute");
        let e = error_page(
            &acme(),
            "The form expired",
            "Reload the page and try again.",
        )
        .into_string();
        assert!(e.contains("<h1>The form expired</h1>"));
        assert!(e.contains("Reload the page"));
        assert!(!e.contains("keeps happening"));
        let jane = Contact {
            name: "Jane Doe".into(),
            email: "jane@example.com".into(),
        };
        let ctx = acme().with_contact(Some(&jane));
        let locked = locked_now_page(&ctx, "Greenhouse refused it.").into_string();
        assert!(locked.contains("Greenhouse refused it."));
        assert!(locked.contains("last attempt"));
        assert!(locked
            .contains("ask Jane Doe at Acme for a new link: <a href=\"mailto:jane@example.com\""));
        assert!(!locked.contains("keeps happening"));
    }

    #[test]
    fn hostile_values_are_escaped() {
        for h in HOSTILE {
            let contact = Contact {
                name: h.to_string(),
                email: "jane@example.com".into(),
            };
            let ctx = PageContext::new(h).with_contact(Some(&contact));
            let mut pages = vec![
                not_found_page(&ctx).into_string(),
                rate_limited_page(&ctx, 5).into_string(),
                error_page(&ctx, h, h).into_string(),
                locked_now_page(&ctx, h).into_string(),
            ];
            pages.extend(REASONS.map(|r| gone_page(&ctx, r).into_string()));
            for html in pages {
                assert_page_ok(&html, h);
                assert!(html.contains(&escaped(h)));
            }
        }
    }
}
