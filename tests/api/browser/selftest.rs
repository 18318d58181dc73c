//! Self-test of the WebDriver client against a tiny server started here:
//! a form that works without JavaScript, a strict CSP, an inline script and
//! an inline style that the CSP must block, and a full-page screenshot.
//!
//! Ignored unless `KEYDROP_TEST_CHROMEDRIVER` is set (see `build.rs`). The two tests run in
//! parallel, each with its own chromedriver and profile.

use crate::support::webdriver::Browser;
use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpResponse, HttpServer};
use maud::{html, Markup, DOCTYPE};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

const CSP: &str = "default-src 'none'; style-src 'self'; form-action 'self'";

fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) }
                link rel="stylesheet" href="/style.css";
            }
            body { (body) }
        }
    }
}

fn with_csp(markup: Markup) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", CSP))
        .body(markup.into_string())
}

async fn form() -> HttpResponse {
    with_csp(page(
        "form",
        html! {
            h1 { "Upload" }
            form id="drop" method="post" action="/form" {
                label for="name" { "Name" }
                input id="name" name="name" type="text";
                label for="secret" { "Secret" }
                input id="secret" name="secret" type="password";
                button type="submit" { "Send" }
            }
            // Long enough that a full-page screenshot is taller than the window.
            @for i in 0..120 { p { "filler line " (i) } }
            p id="bottom" { "bottom of the page" }
        },
    ))
}

async fn echo(form: web::Form<HashMap<String, String>>) -> HttpResponse {
    let name = form.get("name").map_or("", String::as_str);
    let secret_len = form.get("secret").map_or(0, String::len);
    with_csp(page(
        "echo",
        html! {
            p id="got" { "got " (name) }
            p id="secret-len" { (secret_len) }
        },
    ))
}

fn inline_page() -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { "inline" } }
            body {
                p id="styled" style="color:red" { "inline style" }
                script { (maud::PreEscaped("document.title='js ran'")) }
            }
        }
    }
}

async fn inline() -> HttpResponse {
    with_csp(inline_page())
}

/// The same page without a CSP: whether its script runs shows whether
/// JavaScript is on.
async fn inline_no_csp() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(inline_page().into_string())
}

async fn style() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css")
        .insert_header(("Content-Security-Policy", CSP))
        .body("body { font-family: sans-serif; background: #eef; } h1 { color: #036; }")
}

async fn spawn_server() -> (String, ServerHandle) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(|| {
        App::new()
            .route("/form", web::get().to(form))
            .route("/form", web::post().to(echo))
            .route("/inline", web::get().to(inline))
            .route("/inline-no-csp", web::get().to(inline_no_csp))
            .route("/style.css", web::get().to(style))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    (base, handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    keydrop_no_browser,
    ignore = "browser: set KEYDROP_TEST_CHROMEDRIVER=/usr/bin/chromedriver to run"
)]
async fn without_javascript_forms_work_and_csp_blocks_inline_style() {
    let started = Instant::now();
    let browser = Browser::start(false).await;
    println!("browser (JS off) started in {:?}", browser.startup_time());
    assert!(!browser.javascript_requested());
    let (base, server) = spawn_server().await;

    // The form works with JavaScript off, and the page itself breaks no rule.
    browser.goto(&format!("{base}/form")).await;
    assert_eq!(browser.title().await, "form");
    assert_eq!(browser.find("label[for=name]").await.text().await, "Name");
    let name = browser.find("#name").await;
    name.send_keys("wrong").await;
    name.clear().await;
    name.send_keys("<b>Tom & \"Jerry\"</b>").await;
    assert_eq!(name.attr("type").await.as_deref(), Some("text"));
    browser.find("#secret").await.send_keys("s3cret").await;
    assert_eq!(browser.find_all("input").await.len(), 2);
    assert!(browser.try_find("#no-such-thing").await.is_none());

    let shot =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser-screenshots/selftest.png");
    let size = browser.screenshot_full_page(&shot).await;
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(png.len(), size);
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        shot.display()
    );
    assert!(size > 10_000, "suspiciously small screenshot: {size} bytes");
    // IHDR height: the whole page, not just the 2000px window.
    let height = u32::from_be_bytes([png[20], png[21], png[22], png[23]]);
    assert!(
        height > 2000,
        "screenshot is {height}px high: not the full page"
    );

    browser.submit("#drop").await;
    assert_eq!(browser.current_url().await, format!("{base}/form"));
    assert_eq!(browser.title().await, "echo");
    assert_eq!(
        browser.find("#got").await.text().await,
        "got <b>Tom & \"Jerry\"</b>"
    );
    assert_eq!(browser.find("#secret-len").await.text().await, "6");
    assert!(browser
        .page_source()
        .await
        .contains("got &lt;b&gt;Tom &amp;"));
    let violations = browser.csp_violations();
    assert!(violations.is_empty(), "form and echo pages: {violations:?}");

    // The inline script does not run, and the inline style is reported.
    browser.goto(&format!("{base}/inline-no-csp")).await;
    assert_eq!(
        browser.title().await,
        "inline",
        "JavaScript ran although disabled"
    );
    browser.clear_log().await;
    assert!(browser.recorded_log().is_empty());
    browser.goto(&format!("{base}/inline")).await;
    assert_eq!(browser.title().await, "inline");
    let violations = browser.csp_violations();
    assert!(
        violations
            .iter()
            .any(|v| v.contains("inline style") && v.contains("style-src")),
        "no inline-style violation in {:#?}",
        browser.browser_log().await
    );
    let entry = browser
        .browser_log()
        .await
        .into_iter()
        .find(|e| e.is_csp_violation())
        .unwrap();
    assert_eq!(
        (entry.level.as_str(), entry.source.as_str()),
        ("SEVERE", "security")
    );
    // With JavaScript off the blocked script is never evaluated, so Chromium
    // reports no script violation for it.
    assert!(
        !violations.iter().any(|v| v.contains("inline script")),
        "{violations:?}"
    );
    assert!(!browser.javascript_enabled().await);

    let t = Instant::now();
    browser.quit().await;
    println!("quit took {:?}", t.elapsed());
    server.stop(true).await;
    println!("JS-off self-test took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    keydrop_no_browser,
    ignore = "browser: set KEYDROP_TEST_CHROMEDRIVER=/usr/bin/chromedriver to run"
)]
async fn with_javascript_the_control_page_runs_script_and_csp_blocks_both() {
    let browser = Browser::start(true).await;
    println!("browser (JS on) started in {:?}", browser.startup_time());
    let (base, server) = spawn_server().await;

    browser.goto(&format!("{base}/inline-no-csp")).await;
    assert_eq!(browser.title().await, "js ran");
    assert!(browser.csp_violations().is_empty());

    browser.goto(&format!("{base}/inline")).await;
    assert_eq!(
        browser.title().await,
        "inline",
        "the CSP let the inline script run"
    );
    let violations = browser.csp_violations();
    assert!(
        violations.iter().any(|v| v.contains("inline style")),
        "{violations:?}"
    );
    assert!(
        violations.iter().any(|v| v.contains("inline script")),
        "{violations:?}"
    );
    assert!(browser.javascript_enabled().await);

    // Dropped without quit(): Drop must end the session and clean up too.
    let t = Instant::now();
    drop(browser);
    println!("dropping the browser took {:?}", t.elapsed());
    let t = Instant::now();
    server.stop(true).await;
    println!("stopping the server took {:?}", t.elapsed());
}
