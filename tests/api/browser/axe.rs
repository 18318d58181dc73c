//! The accessibility check of the customer pages: axe-core (the npm package,
//! installed by `.ci/run` outside anything keydrop serves) is injected into
//! the test browser only, through WebDriver, and run on each page in light
//! and dark mode. Serious and critical violations fail the test.
//!
//! Why a second browser session, with JavaScript on: the pages are tested
//! with JavaScript off everywhere else, but axe needs the page's event loop
//! (it schedules its checks with timers and promises), and a page whose
//! JavaScript is blocked by the browser's content setting never runs them
//! (`axe.run` never settles). WebDriver's execute-script can inject code into
//! a JS-off page, but not make its timers fire. So the accessibility test
//! walks the same pages in a JS-on session. It sees the same documents: the
//! pages carry no script at all (the tour asserts it), so JavaScript changes
//! nothing in them. keydrop's CSP is not loosened: code injected through
//! WebDriver (DevTools) is not subject to the page's CSP, and keydrop never
//! serves axe.

use crate::support::webdriver::Browser;
use serde_json::{json, Value};

/// Path of axe-core's `axe.min.js`; unset means "skip the accessibility test".
pub const AXE_ENV: &str = "KEYDROP_TEST_AXE";

/// The axe-core source, or a panic naming the variable.
pub fn axe_source() -> String {
    let path = std::env::var(AXE_ENV)
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| panic!("this test needs axe-core: set {AXE_ENV}=…/axe.min.js"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// Runs axe on the page now in the browser; returns one line per serious or
/// critical violation ("rule (impact): target — summary").
pub async fn serious_violations(browser: &Browser, axe: &str) -> Vec<String> {
    let loaded = browser
        .execute(&format!("{axe}\n;return typeof window.axe;"), vec![])
        .await;
    assert_eq!(loaded, json!("object"), "axe-core did not load");
    let result = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             window.axe.run(document, { resultTypes: ['violations'] })
               .then(r => done(JSON.stringify(r.violations)))
               .catch(e => done(JSON.stringify({ error: String(e) })));",
            vec![],
        )
        .await;
    let text = result.as_str().unwrap_or("[]");
    let parsed: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("axe: {e}: {text}"));
    assert!(parsed.get("error").is_none(), "axe failed: {parsed}");
    let mut out = Vec::new();
    for v in parsed.as_array().into_iter().flatten() {
        let impact = v["impact"].as_str().unwrap_or("");
        if !matches!(impact, "serious" | "critical") {
            continue;
        }
        for node in v["nodes"].as_array().into_iter().flatten() {
            out.push(format!(
                "{} ({impact}): {} — {}",
                v["id"].as_str().unwrap_or("?"),
                node["target"],
                node["failureSummary"]
                    .as_str()
                    .unwrap_or("")
                    .replace('\n', " ")
            ));
        }
    }
    out
}
