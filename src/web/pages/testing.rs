//! Test helpers: hostile input and checks that a rendered page is safe under the CSP.

/// Values built to break escaping.
pub const HOSTILE: [&str; 3] = [
    r#"" ' & < >"#,
    "<script>alert(1)</script>",
    r#""><img src=x onerror=alert(1)>"#,
];

/// One start tag: its name and attributes (value `None` for a bare attribute).
#[derive(Debug)]
pub struct Tag {
    pub name: String,
    pub attrs: Vec<(String, Option<String>)>,
}

impl Tag {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_deref().unwrap_or(""))
    }
}

/// The start tags of a maud-rendered page. maud always double-quotes attribute values and
/// escapes `<`, `>`, `"` and `&` inside them, so a plain scan is exact here.
pub fn tags(page: &str) -> Vec<Tag> {
    let mut out = Vec::new();
    let mut rest = page;
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        let end = rest.find('>').expect("unclosed tag");
        let inner = &rest[..end];
        rest = &rest[end + 1..];
        if inner.starts_with('/') || inner.starts_with('!') {
            continue;
        }
        out.push(parse_tag(inner.trim_end_matches('/')));
    }
    out
}

fn parse_tag(inner: &str) -> Tag {
    let name_end = inner.find(char::is_whitespace).unwrap_or(inner.len());
    let name = inner[..name_end].to_ascii_lowercase();
    let mut attrs = Vec::new();
    let mut s = inner[name_end..].trim_start();
    while !s.is_empty() {
        let n_end = s
            .find(|c: char| c.is_whitespace() || c == '=')
            .unwrap_or(s.len());
        let attr = s[..n_end].to_ascii_lowercase();
        s = &s[n_end..];
        let value = if let Some(v) = s.strip_prefix("=\"") {
            let close = v.find('"').expect("unclosed attribute value");
            s = &v[close + 1..];
            Some(v[..close].to_owned())
        } else {
            None
        };
        attrs.push((attr, value));
        s = s.trim_start();
    }
    Tag { name, attrs }
}

/// How maud writes `s` into HTML text and attribute values.
pub fn escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// No script, no inline style, no event handler, and `hostile` never appears raw.
pub fn assert_safe(page: &str, hostile: &str) {
    let lower = page.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "script tag in page");
    assert!(!lower.contains("<style"), "style element in page");
    assert!(!lower.contains("style="), "style attribute in page");
    assert!(!lower.contains("javascript:"), "javascript: URL in page");
    for tag in tags(page) {
        assert!(
            !["script", "style", "iframe", "object", "embed", "base"].contains(&tag.name.as_str()),
            "unexpected <{}> tag",
            tag.name
        );
        if tag.name == "img" {
            // Only the brand logo, served by keydrop itself.
            let src = tag.attr("src").unwrap_or_default();
            assert!(
                src.starts_with("/static/brand/"),
                "unexpected <img src={src:?}>"
            );
        }
        for (attr, _) in &tag.attrs {
            assert!(
                !attr.starts_with("on"),
                "event attribute {attr} on <{}>",
                tag.name
            );
            assert!(attr != "style", "style attribute on <{}>", tag.name);
        }
    }
    if hostile.contains(['<', '>', '"', '&']) {
        assert!(!page.contains(hostile), "unescaped hostile value in page");
    }
}

/// Every visible `<input>` has an `id` and a `<label for>` naming it.
pub fn assert_labelled(page: &str) {
    let all = tags(page);
    let labels: Vec<&str> = all
        .iter()
        .filter(|t| t.name == "label")
        .filter_map(|t| t.attr("for"))
        .collect();
    for input in all.iter().filter(|t| t.name == "input") {
        if input.attr("type") == Some("hidden") {
            continue;
        }
        let id = input.attr("id").expect("input without id");
        assert!(labels.contains(&id), "no <label for={id:?}>");
    }
}

/// A whole page passes every general check for every hostile value it was built with.
pub fn assert_page_ok(page: &str, hostile: &str) {
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert_safe(page, hostile);
    assert_labelled(page);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_scanner_reads_attributes() {
        let t = tags(r#"<p>x</p><input type="text" id="a" required><br/>"#);
        assert_eq!(t.len(), 3);
        assert_eq!(t[1].name, "input");
        assert_eq!(t[1].attr("id"), Some("a"));
        assert_eq!(t[1].attr("required"), Some(""));
        assert_eq!(t[1].attr("value"), None);
        assert_eq!(
            escaped(r#"<a href="x">&"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;"
        );
    }

    #[test]
    fn checks_catch_bad_markup() {
        let bad = [
            r#"<p onclick="x">a</p>"#,
            r#"<p style="color:red">a</p>"#,
            "<script>alert(1)</script>",
            r#"<img src="x">"#,
            "<p>BAD&<</p>",
        ];
        for page in bad {
            let r = std::panic::catch_unwind(|| assert_safe(page, "BAD&<"));
            assert!(r.is_err(), "not caught: {page}");
        }
        assert_safe("<p>BAD&amp;&lt; onerror=x</p>", "BAD&<");
        let r = std::panic::catch_unwind(|| assert_labelled(r#"<input type="text" id="a">"#));
        assert!(r.is_err());
        assert_labelled(
            r#"<label for="a">A</label><input type="text" id="a"><input type="hidden">"#,
        );
    }
}
