//! A small W3C WebDriver client over reqwest, driving a headless Chromium
//! through chromedriver, for tests that need a real browser.
//!
//! Browser tests are opt-in: set `KEYDROP_TEST_CHROMEDRIVER=/usr/bin/chromedriver`
//! (and optionally `KEYDROP_TEST_CHROMIUM`, default `/usr/bin/chromium`).
//! Without it they are built `#[ignore]`d with that reason (see `build.rs`),
//! and [`Browser::start`] panics if one is run anyway.
//!
//! Every [`Browser`] runs its own chromedriver on its own loopback port with its
//! own throw-away profile, so browser tests can run in parallel. Dropping a
//! `Browser` ends the session, kills chromedriver and the browser, and removes
//! the profile.
//!
//! The methods panic with a message naming the command and the page on any
//! WebDriver error: they are test helpers. [`Browser::command`] is the
//! fallible escape hatch for anything not covered here.
//!
//! *Over 400 lines:* a complete, small W3C WebDriver client (session, elements, screenshots, process control) used by every browser test.

use anyhow::{anyhow, bail, Context};
use base64::Engine;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Path of the chromedriver binary; unset means "skip browser tests".
pub const CHROMEDRIVER_ENV: &str = "KEYDROP_TEST_CHROMEDRIVER";
/// Path of the Chromium binary; defaults to [`DEFAULT_CHROMIUM`].
pub const CHROMIUM_ENV: &str = "KEYDROP_TEST_CHROMIUM";
pub const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";

/// The W3C key under which an element reference travels.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Flags that keep headless Chromium quiet and off the (closed) network.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,2000",
];

pub fn chromedriver_path() -> Option<PathBuf> {
    std::env::var_os(CHROMEDRIVER_ENV)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

pub fn chromium_path() -> PathBuf {
    std::env::var_os(CHROMIUM_ENV)
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_CHROMIUM), PathBuf::from)
}

/// One entry of the browser's console log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// `SEVERE`, `WARNING`, `INFO`, `DEBUG`.
    pub level: String,
    /// Chromium's message; CSP violations are prefixed with the page URL.
    pub message: String,
    /// Chromium's source: `security` for CSP violations, `console-api`,
    /// `network`, `javascript`, ….
    pub source: String,
}

impl LogEntry {
    pub fn is_csp_violation(&self) -> bool {
        self.message.contains("Content Security Policy") || self.message.contains("Refused to")
    }
}

/// A headless Chromium session behind its own chromedriver.
pub struct Browser {
    http: reqwest::Client,
    port: u16,
    /// `http://127.0.0.1:{port}/session/{id}`.
    base: String,
    session_id: Option<String>,
    driver: Child,
    browser_pid: Option<u32>,
    javascript: bool,
    /// Every browser log entry fetched so far; Chromium's log endpoint drains.
    log: Mutex<Vec<LogEntry>>,
    /// Holds `profile/` (the Chromium user data dir) and `chromedriver.log`;
    /// removed on drop.
    _dir: tempfile::TempDir,
    startup: Duration,
}

/// An element found on the current page.
pub struct Element<'b> {
    browser: &'b Browser,
    id: String,
    css: String,
}

impl Browser {
    /// Spawn chromedriver on a free loopback port and open a session. With
    /// `javascript == false` the profile blocks JavaScript for every site
    /// (the same content setting a user or an enterprise policy would set).
    ///
    /// Panics if `KEYDROP_TEST_CHROMEDRIVER` is unset or the browser does not start.
    pub async fn start(javascript: bool) -> Browser {
        let started = Instant::now();
        let driver_path = chromedriver_path().unwrap_or_else(|| {
            panic!("this test needs a browser: set {CHROMEDRIVER_ENV}=/usr/bin/chromedriver")
        });
        let mut last_err = None;
        // A port picked by binding :0 can be taken again before chromedriver
        // binds it; try a few.
        for _ in 0..3 {
            match Self::try_start(&driver_path, javascript, started).await {
                Ok(browser) => return browser,
                Err(e) => last_err = Some(e),
            }
        }
        panic!(
            "could not start a browser with {}: {:#}",
            driver_path.display(),
            last_err.unwrap_or_else(|| anyhow!("no attempt made"))
        );
    }

    async fn try_start(
        driver_path: &Path,
        javascript: bool,
        started: Instant,
    ) -> anyhow::Result<Browser> {
        let dir = tempfile::Builder::new()
            .prefix("keydrop-browser-")
            .tempdir()?;
        let profile = dir.path().join("profile");
        std::fs::create_dir(&profile)?;
        let driver_log = dir.path().join("chromedriver.log");
        let port = free_port()?;
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", driver_log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("spawning {}", driver_path.display()))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?;
        let mut browser = Browser {
            http,
            port,
            base: String::new(),
            session_id: None,
            driver,
            browser_pid: None,
            javascript,
            log: Mutex::new(Vec::new()),
            _dir: dir,
            startup: Duration::ZERO,
        };
        // From here on, Drop cleans up whatever was started.
        browser.wait_until_ready().await?;

        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let mut options = json!({
            "binary": chromium_path(),
            "args": args,
        });
        if !javascript {
            options["prefs"] = json!({ "profile.managed_default_content_settings.javascript": 2 });
        }
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": options,
                    "goog:loggingPrefs": { "browser": "ALL" },
                }
            }
        });
        let res = browser
            .raw(
                reqwest::Method::POST,
                &format!("http://127.0.0.1:{port}/session"),
                Some(caps),
            )
            .await
            .map_err(|e| anyhow!("{e:#}\nchromedriver log tail:\n{}", tail(&driver_log)))?;
        let id = res["sessionId"]
            .as_str()
            .ok_or_else(|| anyhow!("new session answered without a sessionId: {res}"))?;
        browser.base = format!("http://127.0.0.1:{port}/session/{id}");
        browser.session_id = Some(id.to_owned());
        browser.browser_pid = res["capabilities"]["goog:processID"]
            .as_u64()
            .and_then(|p| u32::try_from(p).ok());
        browser.startup = started.elapsed();
        Ok(browser)
    }

    async fn wait_until_ready(&mut self) -> anyhow::Result<()> {
        let url = format!("http://127.0.0.1:{}/status", self.port);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.driver.try_wait()? {
                bail!("chromedriver exited early ({status}) on port {}", self.port);
            }
            if let Ok(res) = self
                .http
                .get(&url)
                .timeout(Duration::from_secs(2))
                .send()
                .await
            {
                if let Ok(body) = res.json::<Value>().await {
                    if body["value"]["ready"] == json!(true) {
                        return Ok(());
                    }
                }
            }
            if Instant::now() > deadline {
                bail!("chromedriver on port {} not ready after 20s", self.port);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// How long [`Browser::start`] took, chromedriver and session included.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// Whether this browser was started with JavaScript enabled.
    pub fn javascript_requested(&self) -> bool {
        self.javascript
    }

    /// Send one WebDriver command relative to the session URL (`path` is
    /// e.g. `"/url"`, or `""` for the session itself) and return its `value`.
    pub async fn command(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        self.raw(method, &format!("{}{path}", self.base), body)
            .await
    }

    async fn raw(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self.http.request(method.clone(), url);
        // chromedriver wants a JSON body on every POST, even an empty one.
        if method == reqwest::Method::POST {
            req = req.json(&body.unwrap_or_else(|| json!({})));
        }
        let res = req
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = res.status();
        let body: Value = res
            .json()
            .await
            .with_context(|| format!("{method} {url}: answer is not JSON ({status})"))?;
        let value = body.get("value").cloned().unwrap_or(Value::Null);
        if !status.is_success() {
            bail!(
                "{method} {url}: {status} {}: {}",
                value["error"].as_str().unwrap_or("?"),
                value["message"]
                    .as_str()
                    .unwrap_or("")
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("(Session info"))
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(" / ")
            );
        }
        Ok(value)
    }

    /// `command`, panicking with the command and the error.
    async fn must(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        match self.command(method, path, body).await {
            Ok(v) => v,
            Err(e) => panic!("webdriver: {e:#}"),
        }
    }

    /// Navigate and wait for the page load; then collect the browser log.
    pub async fn goto(&self, url: &str) {
        self.must(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
        self.collect_log().await;
    }

    pub async fn current_url(&self) -> String {
        string(self.must(reqwest::Method::GET, "/url", None).await)
    }

    pub async fn title(&self) -> String {
        string(self.must(reqwest::Method::GET, "/title", None).await)
    }

    pub async fn page_source(&self) -> String {
        string(self.must(reqwest::Method::GET, "/source", None).await)
    }

    /// The first element matching `css`, or `None`.
    pub async fn try_find(&self, css: &str) -> Option<Element<'_>> {
        let body = json!({ "using": "css selector", "value": css });
        match self
            .command(reqwest::Method::POST, "/element", Some(body))
            .await
        {
            Ok(v) => Some(self.element(css, &v)),
            Err(e) if format!("{e}").contains("no such element") => None,
            Err(e) => panic!("webdriver: {e:#}"),
        }
    }

    /// The first element matching `css`; panics naming the selector and page if none.
    pub async fn find(&self, css: &str) -> Element<'_> {
        match self.try_find(css).await {
            Some(el) => el,
            None => {
                let alert = match self.try_find("[role=alert]").await {
                    Some(a) => a.text().await,
                    None => String::new(),
                };
                panic!(
                    "no element matches `{css}` on {} (title {:?}, alert {alert:?})",
                    self.current_url().await,
                    self.title().await
                )
            }
        }
    }

    /// Every element matching `css`, in document order.
    pub async fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        let body = json!({ "using": "css selector", "value": css });
        let found = self
            .must(reqwest::Method::POST, "/elements", Some(body))
            .await;
        found
            .as_array()
            .map(|list| list.iter().map(|v| self.element(css, v)).collect())
            .unwrap_or_default()
    }

    fn element(&self, css: &str, v: &Value) -> Element<'_> {
        let id = v[ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("webdriver: not an element reference: {v}"));
        Element {
            browser: self,
            id: id.to_owned(),
            css: css.to_owned(),
        }
    }

    /// Click the submit button of the form matching `form_css` (an
    /// `input[type=submit]`, `button[type=submit]` or type-less `button`),
    /// as a user would; the browser performs the submission itself.
    pub async fn submit(&self, form_css: &str) {
        let css = format!(
            "{form_css} input[type=submit], {form_css} button[type=submit], {form_css} button:not([type])"
        );
        self.find(&css).await.click().await;
    }

    /// Write a PNG of the whole page, beyond the viewport, to `path`
    /// (parent directories are created). Returns the PNG's size in bytes.
    pub async fn screenshot_full_page(&self, path: &Path) -> usize {
        let cdp = json!({
            "cmd": "Page.captureScreenshot",
            "params": { "captureBeyondViewport": true, "format": "png" },
        });
        let b64 = match self
            .command(reqwest::Method::POST, "/goog/cdp/execute", Some(cdp))
            .await
        {
            Ok(v) => string(v["data"].clone()),
            // Without DevTools access: grow the window to the document and
            // take a standard (viewport) screenshot.
            Err(_) => self.screenshot_by_resizing().await,
        };
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .unwrap_or_else(|e| panic!("webdriver: screenshot is not base64: {e}"));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("creating {}: {e}", parent.display()));
        }
        std::fs::write(path, &png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        png.len()
    }

    async fn screenshot_by_resizing(&self) -> String {
        let script = json!({
            "script": "return Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0)",
            "args": [],
        });
        let height = self
            .must(reqwest::Method::POST, "/execute/sync", Some(script))
            .await
            .as_u64()
            .unwrap_or(2000);
        let old = self.must(reqwest::Method::GET, "/window/rect", None).await;
        let rect = json!({ "width": 1280, "height": height.clamp(200, 16_000) + 150 });
        self.must(reqwest::Method::POST, "/window/rect", Some(rect))
            .await;
        let shot = string(self.must(reqwest::Method::GET, "/screenshot", None).await);
        let restore = json!({ "width": old["width"], "height": old["height"] });
        self.must(reqwest::Method::POST, "/window/rect", Some(restore))
            .await;
        shot
    }

    /// Run one Chrome DevTools Protocol command (chromedriver's
    /// `goog/cdp/execute`) and return its result.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        let body = json!({ "cmd": cmd, "params": params });
        self.must(reqwest::Method::POST, "/goog/cdp/execute", Some(body))
            .await
    }

    /// Lay the page out as on a screen `width` CSS pixels wide and
    /// `height` high (a phone when `mobile`), in light or dark mode
    /// (`prefers-color-scheme`).
    pub async fn emulate(&self, width: u32, height: u64, mobile: bool, dark: bool) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile }),
        )
        .await;
        let scheme = if dark { "dark" } else { "light" };
        self.cdp(
            "Emulation.setEmulatedMedia",
            json!({ "features": [{ "name": "prefers-color-scheme", "value": scheme }] }),
        )
        .await;
    }

    /// A PNG of the whole page laid out `width` CSS pixels wide, written
    /// to `path`; returns the page's height. The screen is made as tall as
    /// the page and shot as it is (`captureBeyondViewport` with an emulated
    /// phone screen can stall Chromium).
    pub async fn screenshot_at(&self, path: &Path, width: u32, mobile: bool, dark: bool) -> u64 {
        // Measured on a short screen: a page shorter than the screen would
        // otherwise count as the screen's height.
        self.emulate(width, 100, mobile, dark).await;
        let height = self.page_height().await;
        self.emulate(width, height.clamp(200, 16_000), mobile, dark)
            .await;
        let shot = self
            .cdp("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(string(shot["data"].clone()).as_bytes())
            .unwrap_or_else(|e| panic!("webdriver: screenshot is not base64: {e}"));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("creating {}: {e}", parent.display()));
        }
        std::fs::write(path, &png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        self.emulate(width, 900, mobile, dark).await;
        height
    }

    /// Run `script` (a function body; `arguments` holds `args`) in the page
    /// through WebDriver. This works even when the page itself may not run
    /// JavaScript: the browser's content setting blocks the page's own
    /// scripts, not the automation channel.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        let body = json!({ "script": script, "args": args });
        self.must(reqwest::Method::POST, "/execute/sync", Some(body))
            .await
    }

    /// `execute` for an asynchronous script: it ends by calling
    /// `arguments[arguments.length - 1](result)`.
    pub async fn execute_async(&self, script: &str, args: Vec<Value>) -> Value {
        let body = json!({ "script": script, "args": args });
        self.must(reqwest::Method::POST, "/execute/async", Some(body))
            .await
    }

    /// The laid-out height of the whole document, in CSS pixels.
    pub async fn page_height(&self) -> u64 {
        self.execute(
            "return Math.ceil(Math.max(document.documentElement.scrollHeight, \
             document.body ? document.body.scrollHeight : 0))",
            vec![],
        )
        .await
        .as_u64()
        .unwrap_or(0)
    }

    /// Fetch new entries from the browser's console log (Chromium's legacy
    /// `POST /session/{id}/se/log`, which drains what it returns) and add them
    /// to this browser's record. Returns every entry recorded so far.
    pub async fn browser_log(&self) -> Vec<LogEntry> {
        self.collect_log().await;
        self.recorded_log()
    }

    pub async fn collect_log(&self) {
        let entries = self
            .must(
                reqwest::Method::POST,
                "/se/log",
                Some(json!({ "type": "browser" })),
            )
            .await;
        let new = entries.as_array().into_iter().flatten().map(|e| LogEntry {
            level: e["level"].as_str().unwrap_or_default().to_owned(),
            message: e["message"].as_str().unwrap_or_default().to_owned(),
            source: e["source"].as_str().unwrap_or_default().to_owned(),
        });
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(new);
    }

    /// The log entries recorded so far, without asking the browser.
    pub fn recorded_log(&self) -> Vec<LogEntry> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Forget the recorded log (the browser's pending entries are fetched
    /// and dropped too), e.g. before loading the page under test.
    pub async fn clear_log(&self) {
        self.collect_log().await;
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Messages of the recorded CSP violations. The log is collected after
    /// every [`Browser::goto`] and [`Element::click`]; call
    /// [`Browser::browser_log`] first to pick up anything later.
    pub fn csp_violations(&self) -> Vec<String> {
        self.recorded_log()
            .into_iter()
            .filter(LogEntry::is_csp_violation)
            .map(|e| e.message)
            .collect()
    }

    /// Whether pages can run script: loads a `data:` page whose inline script
    /// changes its title. This navigates away from the current page.
    /// (WebDriver's own execute-script still works with JavaScript blocked,
    /// so it proves nothing.)
    pub async fn javascript_enabled(&self) -> bool {
        self.goto(
            "data:text/html;charset=utf-8,%3Ctitle%3Eoff%3C%2Ftitle%3E%3Cscript%3Edocument.title%3D%22on%22%3C%2Fscript%3E",
        )
        .await;
        self.title().await == "on"
    }

    /// End the session (closing the browser) and clean up.
    pub async fn quit(mut self) {
        if let Some(id) = self.session_id.take() {
            let url = format!("http://127.0.0.1:{}/session/{id}", self.port);
            if let Err(e) = self.raw(reqwest::Method::DELETE, &url, None).await {
                eprintln!("webdriver: ending session: {e:#}");
                self.session_id = Some(id);
            }
        }
        // Drop kills chromedriver and removes the profile.
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Killing chromedriver leaves Chromium running, so end the session
        // first; Drop cannot await, so speak HTTP/1.1 by hand.
        if let Some(id) = self.session_id.take() {
            delete_session_blocking(self.port, &id);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        if let Some(pid) = self.browser_pid {
            // Still there if the DELETE failed.
            if Path::new(&format!("/proc/{pid}")).exists() {
                let _ = Command::new("kill")
                    .args(["-9", &pid.to_string()])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        // `_dir` (profile and chromedriver log) is removed when the field drops.
    }
}

impl Element<'_> {
    /// The rendered text (as `innerText`).
    pub async fn text(&self) -> String {
        string(self.get("text").await)
    }

    /// The attribute or, failing that, the property of that name.
    pub async fn attr(&self, name: &str) -> Option<String> {
        match self.get(&format!("attribute/{name}")).await {
            Value::Null => None,
            Value::String(s) => Some(s),
            other => Some(other.to_string()),
        }
    }

    /// Type `text` into the element, as key presses.
    pub async fn send_keys(&self, text: &str) {
        self.post("value", json!({ "text": text })).await;
    }

    /// The live DOM property (e.g. an input's current `value`).
    pub async fn property(&self, name: &str) -> Option<String> {
        match self.get(&format!("property/{name}")).await {
            Value::Null => None,
            Value::String(s) => Some(s),
            other => Some(other.to_string()),
        }
    }

    /// Type `text` into an empty input and check that all of it arrived
    /// (on a loaded machine a key press can be lost); a few tries.
    pub async fn type_exactly(&self, text: &str) {
        for _ in 0..3 {
            self.clear().await;
            self.send_keys(text).await;
            if self.property("value").await.as_deref() == Some(text) {
                return;
            }
        }
        panic!("the input did not take the typed text");
    }

    /// Click like a user (scrolls into view; fails if covered). Waits for a
    /// navigation it starts, then collects the browser log.
    pub async fn click(&self) {
        self.post("click", json!({})).await;
        self.browser.collect_log().await;
    }

    pub async fn clear(&self) {
        self.post("clear", json!({})).await;
    }

    async fn get(&self, what: &str) -> Value {
        let path = format!("/element/{}/{what}", self.id);
        match self
            .browser
            .command(reqwest::Method::GET, &path, None)
            .await
        {
            Ok(v) => v,
            Err(e) => panic!("webdriver: element `{}`: {e:#}", self.css),
        }
    }

    async fn post(&self, what: &str, body: Value) {
        let path = format!("/element/{}/{what}", self.id);
        if let Err(e) = self
            .browser
            .command(reqwest::Method::POST, &path, Some(body))
            .await
        {
            panic!("webdriver: element `{}`: {e:#}", self.css);
        }
    }
}

fn string(v: Value) -> String {
    match v {
        Value::String(s) => s,
        other => panic!("webdriver: expected a string, got {other}"),
    }
}

fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

fn delete_session_blocking(port: u16, id: &str) {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(15)));
    let request = format!(
        "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return;
    }
    // chromedriver keeps the connection open despite `Connection: close`:
    // read until the whole answer (headers and Content-Length body) is in.
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n @ 1..) = stream.read(&mut chunk) {
        answer.extend_from_slice(&chunk[..n]);
        if answer_complete(&answer) {
            break;
        }
    }
}

fn answer_complete(answer: &[u8]) -> bool {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    answer.len() >= end + 4 + length
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
