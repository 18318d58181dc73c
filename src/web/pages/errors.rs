//! Pages for links that cannot be used and for errors: 410, 404, 429 and a generic one.

use super::components::{notice, page_heading};
use super::layout::layout;
use super::PageContext;
use maud::{html, Markup};

/// Why a link is dead (410).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoneReason {
    /// A credential was already accepted through the link.
    Submitted,
    /// The link is past its expiry time.
    Expired,
    /// Staff withdrew the link.
    Revoked,
    /// Too many refused attempts.
    Locked,
}

impl GoneReason {
    fn explain(self, brand: &str) -> Markup {
        match self {
            GoneReason::Submitted => html! {
                "A credential was already received through this link. If you sent it, there "
                "is nothing more to do."
            },
            GoneReason::Expired => html! { "This link has expired." },
            GoneReason::Revoked => html! { "This link was withdrawn by " (brand) "." },
            GoneReason::Locked => html! {
                "Too many attempts were made with this link, so it was locked to protect you. "
                "Nothing was stored."
            },
        }
    }
}

/// 410: the link is no longer usable, why, and whom to ask for a new one.
pub fn gone_page(ctx: &PageContext, reason: GoneReason) -> Markup {
    let title = "This link no longer works";
    layout(
        ctx,
        title,
        html! {
            (page_heading(title, None))
            (notice("warning", html! { p { (reason.explain(&ctx.brand)) } }))
            p { "If you still need to send a credential, ask " (ctx.whom()) " for a new link." }
        },
    )
}

/// 404: the token is not one keydrop knows (so there is no drop contact,
/// only the support address, if any).
pub fn not_found_page(ctx: &PageContext) -> Markup {
    let brand = ctx.brand.as_str();
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
            p { "If it still does not work, ask " (brand) " for a new link." }
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
                "Please wait " (wait_words(retry_after_secs)) " and then try again. "
                "Nothing you sent was lost or stored."
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
            p.done { "If this keeps happening, contact " (ctx.brand) "." }
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

    const REASONS: [GoneReason; 4] = [
        GoneReason::Submitted,
        GoneReason::Expired,
        GoneReason::Revoked,
        GoneReason::Locked,
    ];

    #[test]
    fn gone_says_which_and_whom_to_ask() {
        let text = |r| gone_page(&acme(), r).into_string();
        assert!(text(GoneReason::Submitted)
            .contains("A credential was already received through this link"));
        assert!(text(GoneReason::Expired).contains("has expired"));
        assert!(text(GoneReason::Revoked).contains("withdrawn by Acme"));
        assert!(text(GoneReason::Locked).contains("Too many attempts"));
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
                html.contains("ask Jane Doe at Acme for a new link"),
                "{html}"
            );
            assert!(html.contains("mailto:jane@example.com"));
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
            ];
            pages.extend(REASONS.map(|r| gone_page(&ctx, r).into_string()));
            for html in pages {
                assert_page_ok(&html, h);
                assert!(html.contains(&escaped(h)));
            }
        }
    }
}
