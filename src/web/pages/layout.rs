//! The document shell every page shares: head, header with the brand, main
//! (ending with whom to contact), footer.

use super::{PageContact, PageContext};
use crate::domain::contact::mailto;
use maud::{html, Markup, DOCTYPE};

/// Where the one stylesheet is served (see `web::static_files`).
pub const STYLESHEET: &str = "/static/keydrop.css";

/// A full HTML document: `title` goes into `<title>` (after the brand is added) and `content`
/// into `<main>`, followed by the contact of `ctx` when there is one.
pub fn layout(ctx: &PageContext, title: &str, content: Markup) -> Markup {
    let brand = ctx.brand.as_str();
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(brand, title))
            body {
                a.skip-link href="#main" { "Skip to content" }
                (site_header(brand))
                main #main {
                    (content)
                    @if let Some(contact) = &ctx.contact {
                        (contact_box(contact))
                    }
                }
                (site_footer())
            }
        }
    }
}

/// "Questions about this link? Write to Jane Doe at jane@example.com."
fn contact_box(c: &PageContact) -> Markup {
    html! {
        aside.contact aria-label="Contact" {
            p {
                "Questions about this link? Write to "
                @if let Some(name) = &c.name {
                    strong { (name) } " at "
                }
                a href=(mailto(&c.email)) translate="no" { (c.email) } "."
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

fn site_header(brand: &str) -> Markup {
    html! {
        header.site-header {
            div.wrap {
                p.brand { (brand) }
            }
        }
    }
}

fn site_footer() -> Markup {
    html! {
        footer.site-footer {
            div.wrap {
                p { "Secured by keydrop" }
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
            assert!(page.contains("Secured by keydrop"));
            assert!(page.contains("Title &lt;b&gt;"));
            assert_safe(&page, brand);
        }
    }

    #[test]
    fn contact_is_shown_escaped_with_a_mailto_link() {
        for h in HOSTILE {
            let ctx = PageContext {
                brand: "Acme".into(),
                contact: Some(PageContact {
                    name: Some(format!("Jane {h}")),
                    email: "o'brien&co@example.com".into(),
                }),
            };
            let page = layout(&ctx, "T", html! { p { "x" } }).into_string();
            assert_safe(&page, h);
            assert!(page.contains(&format!(
                "Write to <strong>{}</strong> at",
                crate::web::pages::testing::escaped(&format!("Jane {h}"))
            )));
            assert!(page.contains(
                r#"<a href="mailto:o%27brien%26co@example.com" translate="no">o'brien&amp;co@example.com</a>"#
            ), "{page}");
        }
        let support = PageContext::new("Acme").with_support(Some("help@example.com"));
        let page = layout(&support, "T", html! {}).into_string();
        assert!(
            page.contains("Write to <a href=\"mailto:help@example.com\""),
            "{page}"
        );
        let none = layout(&PageContext::new("Acme"), "T", html! {}).into_string();
        assert!(!none.contains("Questions about this link"));
    }
}
