//! The document shell every page shares: head, header with the brand, main, footer.

use maud::{html, Markup, DOCTYPE};

/// Where the one stylesheet is served (see `web::static_files`).
pub const STYLESHEET: &str = "/static/keydrop.css";

/// A full HTML document: `title` goes into `<title>` (after the brand is added) and `content`
/// into `<main>`.
pub fn layout(brand: &str, title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(brand, title))
            body {
                a.skip-link href="#main" { "Skip to content" }
                (site_header(brand))
                main #main { (content) }
                (site_footer())
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
            let page = layout(brand, "Title <b>", html! { p { "x" } }).into_string();
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
}
