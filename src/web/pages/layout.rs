//! The document shell every page shares: head; a header saying who is asking,
//! for whom and whom to contact (on every page, 410s included); main; a footer
//! saying what this page is and what it will never ask for.

use super::components::possessive;
use super::{PageContact, PageContext};
use crate::domain::contact::mailto;
use maud::{html, Markup, DOCTYPE};

/// Where the one stylesheet is served (see `web::routes::static_files`).
pub const STYLESHEET: &str = "/static/keydrop.css";

/// A full HTML document: `title` goes into `<title>` (after the brand is added) and `content`
/// into `<main>`.
pub fn layout(ctx: &PageContext, title: &str, content: Markup) -> Markup {
    let brand = ctx.brand.as_str();
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(brand, title))
            body class=[ctx.console.then_some("console")] {
                a.skip-link href="#main" { "Skip to content" }
                (site_header(ctx))
                main #main {
                    (content)
                }
                @if ctx.console {
                    (console_footer())
                } @else {
                    (site_footer(brand))
                }
            }
        }
    }
}

fn head(brand: &str, title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="referrer" content="no-referrer";
            meta name="robots" content="noindex,nofollow";
            meta name="color-scheme" content="light dark";
            title { (title) " — " (brand) }
            link rel="stylesheet" href=(STYLESHEET);
        }
    }
}

/// The brand (logo and name), then "Secure credential request for Initech" and the contact.
fn site_header(ctx: &PageContext) -> Markup {
    html! {
        header.site-header {
            div.wrap {
                p.brand {
                    @if let Some(logo) = &ctx.logo {
                        img.brand-logo src=(logo) alt="" width="32" height="32";
                    }
                    span.brand-name { (ctx.brand) }
                }
                p.request {
                    @if ctx.console {
                        "Staff console"
                    } @else {
                        "Secure credential request"
                        @if let Some(org) = &ctx.org {
                            " for " strong { (org) }
                        }
                    }
                }
                @if let Some(contact) = &ctx.contact {
                    (contact_line(contact))
                }
            }
        }
    }
}

/// "Your contact: Jane Doe, jane@example.com".
pub fn contact_line(c: &PageContact) -> Markup {
    html! {
        p.contact {
            "Your contact: "
            @if let Some(name) = &c.name {
                strong { (name) } ", "
            }
            a href=(mailto(&c.email)) translate="no" { (c.email) }
        }
    }
}

fn console_footer() -> Markup {
    html! {
        footer.site-footer {
            div.wrap {
                p {
                    "keydrop staff console. Every change made here is written to the audit log "
                    "with your name."
                }
            }
        }
    }
}

fn site_footer(brand: &str) -> Markup {
    html! {
        footer.site-footer {
            div.wrap {
                p {
                    "This page is " (possessive(brand)) " secure drop box for credentials (keydrop). It "
                    "never asks for your Greenhouse password, and it loads nothing from other "
                    "sites. Unsure whether a request is genuine? Ask your contact through a "
                    "channel you already use before you send anything."
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::pages::testing::{assert_safe, HOSTILE};

    #[test]
    fn shell_has_the_required_head_and_escapes_the_brand() {
        for brand in HOSTILE {
            let ctx = PageContext::new(brand);
            let page = layout(&ctx, "Title <b>", html! { p { "x" } }).into_string();
            assert!(page.starts_with("<!DOCTYPE html>"));
            assert!(page.contains(r#"<html lang="en">"#));
            assert!(page.contains(r#"<meta charset="utf-8">"#));
            assert!(page.contains(
                r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#
            ));
            assert!(page.contains(r#"<meta name="referrer" content="no-referrer">"#));
            assert!(page.contains(r#"<meta name="robots" content="noindex,nofollow">"#));
            assert!(page.contains(r#"<link rel="stylesheet" href="/static/keydrop.css">"#));
            assert!(page.contains("<main id=\"main\">"));
            assert!(page.contains("never asks for your Greenhouse password"));
            assert!(page.contains("Title &lt;b&gt;"));
            assert_safe(&page, brand);
        }
    }

    #[test]
    fn contact_is_shown_escaped_with_a_mailto_link() {
        for h in HOSTILE {
            let ctx = PageContext {
                contact: Some(PageContact {
                    name: Some(format!("Jane {h}")),
                    email: "o'brien&co@example.com".into(),
                }),
                ..PageContext::new("Acme")
            };
            let page = layout(&ctx, "T", html! { p { "x" } }).into_string();
            assert_safe(&page, h);
            assert!(page.contains(&format!(
                "Your contact: <strong>{}</strong>, ",
                crate::web::pages::testing::escaped(&format!("Jane {h}"))
            )));
            assert!(page.contains(
                r#"<a href="mailto:o%27brien%26co@example.com" translate="no">o'brien&amp;co@example.com</a>"#
            ), "{page}");
        }
        let support = PageContext::new("Acme").with_support(Some("help@example.com"));
        let page = layout(&support, "T", html! {}).into_string();
        assert!(
            page.contains("Your contact: <a href=\"mailto:help@example.com\""),
            "{page}"
        );
        let none = layout(&PageContext::new("Acme"), "T", html! {}).into_string();
        assert!(!none.contains("Your contact"));
        assert!(!none.contains("<img"));
        let mut logo = PageContext::new("Acme");
        logo.logo = Some("/static/brand/logo.svg".into());
        logo.org = Some("Init<ech".into());
        let page = layout(&logo, "T", html! {}).into_string();
        assert!(page.contains(r#"<img class="brand-logo" src="/static/brand/logo.svg" alt=""#));
        assert!(page.contains("request for <strong>Init&lt;ech</strong>"));
    }
}
