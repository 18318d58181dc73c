//! Support for the page tour (`browser::pages`): how each page is looked at
//! (screenshots at two widths and two colour schemes, heights, axe), the brand
//! settings the pages are shown with, and filling the form like a customer.

use crate::browser::axe::serious_violations;
use crate::support::helpers::{TestApp, GOOD_SECRET, PARTIAL_SECRET};
use crate::support::webdriver::Browser;
use keydrop::config::ServeSettings;
use serde_json::{json, Value};
use std::path::PathBuf;

/// The widths every page is looked at: a laptop and a phone.
pub const WIDTHS: [(u32, bool); 2] = [(1280, false), (390, true)];

/// The most a page may take on a phone. The "missing permissions" answer
/// was 14 875 px tall at 390 px before it was made compact.
pub const MAX_INSUFFICIENT_390: u64 = 4_000;
/// Any page at 390 px. The longest is the first visit of a full-analytics
/// link: its steps are open and list 27 scopes, each with the screen's label,
/// what it is for and its exact name.
pub const MAX_ANY_390: u64 = 6_000;
/// Where a 422 page's reason must start at 390 px: at the top, not below the steps.
pub const MAX_ALERT_TOP_390: u64 = 400;

pub fn out_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser-screenshots/pages")
}

/// The brand settings every page is shown with: a logo, egress addresses.
pub fn branded(s: &mut ServeSettings) {
    let logo = out_dir().join("../brand-logo.svg");
    std::fs::create_dir_all(out_dir()).unwrap();
    // Written aside and renamed: tests running at once never read half a file.
    let tmp = out_dir().join(format!("../brand-logo.{}.tmp", uuid::Uuid::new_v4()));
    std::fs::write(
        &tmp,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" width="64" height="64"><rect width="64" height="64" rx="14" fill="#1f5fbf"/><path d="M18 46 32 16 46 46M24 36h16" stroke="#fff" stroke-width="6" fill="none" stroke-linecap="round" stroke-linejoin="round"/></svg>"##,
    )
    .unwrap();
    std::fs::rename(&tmp, &logo).unwrap();
    s.brand_logo = Some(keydrop::config::brand::BrandLogo::load(&logo).unwrap());
    s.egress_ips = keydrop::config::brand::egress_ips(&["203.0.113.7".into()]).unwrap();
    // A partner client too, so the tour shows the Connect page.
    s.partner = Some(keydrop::greenhouse::PartnerClient::new(
        crate::partner::PARTNER_ID,
        zeroize::Zeroizing::new(crate::partner::PARTNER_SECRET.to_owned()),
    ));
}

/// Looks at each page the same way: CSP, logo and contact, screenshots and
/// heights, and axe when asked.
pub struct Tour<'b> {
    pub browser: &'b Browser,
    pub screenshots: bool,
    pub axe: Option<String>,
    /// Page, height at 1280 and 390 px, and where the error summary starts at 390 px.
    pub rows: Vec<(String, u64, u64, Option<u64>)>,
    pub violations: Vec<String>,
}

impl Tour<'_> {
    /// Returns the height at 390 px and where the alert starts there.
    pub async fn look(&mut self, name: &str) -> (u64, Option<u64>) {
        let b = self.browser;
        assert!(
            b.csp_violations().is_empty(),
            "CSP violations on {name}: {:?}",
            b.csp_violations()
        );
        let source = b.page_source().await;
        assert!(
            source.contains("src=\"/static/brand/logo.svg\""),
            "no logo on {name}"
        );
        assert!(
            source.contains("mailto:jane.doe@acme-analytics.example")
                || source.contains("mailto:help@acme-analytics.example"),
            "no contact on {name}"
        );
        assert!(
            !source.to_ascii_lowercase().contains("<script"),
            "{name} carries a script"
        );
        for secret in [
            GOOD_SECRET,
            PARTIAL_SECRET,
            "wrong-secret-123456",
            "some-secret-value-1234",
            "ing-unknown-key-1234567890",
        ] {
            assert!(!source.contains(secret), "a secret on {name}");
        }
        let mut heights = [0u64; 2];
        for (i, (width, mobile)) in WIDTHS.into_iter().enumerate() {
            for dark in [false, true] {
                let scheme = if dark { "dark" } else { "light" };
                let file = out_dir().join(format!("{name}-{width}-{scheme}.png"));
                if self.screenshots {
                    let height = b.screenshot_at(&file, width, mobile, dark).await;
                    if !dark {
                        heights[i] = height;
                    }
                } else if !dark {
                    b.emulate(width, 100, mobile, dark).await;
                    heights[i] = b.page_height().await;
                }
            }
        }
        b.emulate(390, 100, true, false).await;
        let alert_at = b
            .execute(
                "const a = document.querySelector('[role=alert]'); \
                 return a ? Math.round(a.getBoundingClientRect().top + window.scrollY) : null",
                vec![],
            )
            .await
            .as_u64();
        if let Some(axe) = &self.axe {
            for (width, mobile) in WIDTHS {
                for dark in [false, true] {
                    b.emulate(width, 900, mobile, dark).await;
                    let scheme = if dark { "dark" } else { "light" };
                    for v in serious_violations(b, axe).await {
                        self.violations
                            .push(format!("{name} {width} {scheme}: {v}"));
                    }
                }
            }
        }
        b.emulate(1280, 900, false, false).await;
        self.rows
            .push((name.to_owned(), heights[0], heights[1], alert_at));
        (heights[1], alert_at)
    }

    pub fn write(&self) {
        let mut tsv = String::from("page\t1280\t390\talert at (390)\n");
        for (name, wide, narrow, alert) in &self.rows {
            let alert = alert.map_or("-".to_owned(), |a| a.to_string());
            tsv.push_str(&format!("{name}\t{wide}\t{narrow}\t{alert}\n"));
        }
        std::fs::create_dir_all(out_dir()).unwrap();
        std::fs::write(out_dir().join("heights.tsv"), &tsv).unwrap();
        eprintln!("page heights (CSS px):\n{tsv}");
    }
}

pub fn link(app: &TestApp, d: &Value) -> String {
    d["url"]
        .as_str()
        .unwrap()
        .replace("http://127.0.0.1", &app.address)
}

pub async fn fill(browser: &Browser, fields: &[(&str, &str)]) {
    for (name, value) in fields {
        let input = browser.find(&format!("#{name}")).await;
        if value.is_empty() {
            input.clear().await;
        } else {
            input.type_exactly(value).await;
        }
    }
    // Mark this document, submit, and wait for the next one to be loaded
    // (a click does not always wait for the navigation it starts).
    browser.execute("window.kdOld = true", vec![]).await;
    browser.find("button[type=submit]").await.click().await;
    let started = std::time::Instant::now();
    loop {
        let next = browser
            .execute(
                "return window.kdOld !== true && document.readyState === 'complete'",
                vec![],
            )
            .await;
        if next == json!(true) {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the form's answer did not arrive"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    browser.collect_log().await;
}

pub async fn text(browser: &Browser, css: &str) -> String {
    browser.find(css).await.text().await
}

/// A 422 page: the reason at the top, focused, the answer opened at the form.
pub async fn assert_reason_first(b: &Browser, name: &str, alert_at: Option<u64>) {
    let top = alert_at.unwrap_or_else(|| panic!("no [role=alert] on {name}"));
    assert!(
        top <= MAX_ALERT_TOP_390,
        "{name}: the reason starts at {top} px"
    );
    assert!(b.current_url().await.ends_with("#send"), "{name}");
    let focused = b
        .execute(
            "return document.activeElement ? document.activeElement.className : null",
            vec![],
        )
        .await;
    assert_eq!(
        focused,
        json!("error-summary"),
        "{name}: summary not focused"
    );
    let link = b.find(".error-summary a").await.attr("href").await;
    let target = link.unwrap_or_default();
    let id = target.rsplit('#').next().unwrap_or_default().to_owned();
    assert!(
        b.try_find(&format!("[id='{id}']")).await.is_some(),
        "{name}: the error links to #{id}, which is not on the page"
    );
    let first = b
        .execute(
            "const m = document.querySelector('main'); \
             const a = m.querySelector('[role=alert]'); \
             const first = m.querySelector('h1, h2, p, ul, ol, dl, form, section, details'); \
             return !!a && a.contains(first);",
            vec![],
        )
        .await;
    assert_eq!(
        first,
        json!(true),
        "{name}: something comes before the reason"
    );
}

/// Refused by the local shape checks (a space inside the Client ID).
pub const MALFORMED: &[(&str, &str)] = &[
    ("client_id", "acme integration 4471"),
    ("client_secret", "some-secret-value-1234"),
];

pub const CONTACT: &str = r#"{"name": "Jane Doe", "email": "jane.doe@acme-analytics.example"}"#;

pub fn drop_body(extra: Value) -> Value {
    let mut body = json!({
        "org": "Initech",
        "note": "Needed for the weekly hiring analytics sync.",
        "contact": serde_json::from_str::<Value>(CONTACT).unwrap(),
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    body
}
