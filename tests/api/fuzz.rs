//! Property-style tests for the routes the schemathesis run of `.ci/run`
//! leaves out: every `/api/v1/webhooks` route (fuzzed URLs would make
//! keydrop resolve arbitrary host names) and `DELETE /api/v1/tokens/{id}`
//! (it would revoke the token of the run). Many generated bad bodies, ids
//! and queries: never a 5xx, every error in the API's shape, no value
//! echoed back, and the admin token still works at the end.
//!
//! The generator is a seeded xorshift, so a failure names its seed and case
//! and replays exactly. URLs it makes never name a host that would be
//! looked up: IP literals, or shapes refused before any lookup.

use crate::on_both_backends;
use crate::support::helpers::{spawn_app, Backend, Fetch, TestApp};
use reqwest::Method;
use serde_json::{json, Map, Value};

on_both_backends!(
    webhook_routes_never_fail_on_generated_input,
    token_revocation_never_fails_on_generated_ids,
);

/// Planted in generated values: no answer may quote it.
const MARKER: &str = "kd_MARKERq7Zx";

struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn coin(&mut self) -> bool {
        self.next() & 1 == 0
    }

    fn text(&mut self) -> String {
        let pieces = [
            "",
            "a",
            " ",
            "\0",
            "\n",
            "\r\n",
            "\t",
            "\u{7f}",
            "\u{85}",
            "\u{202e}",
            "\u{200b}",
            "\u{feff}",
            "é",
            "🚀",
            "\u{10ffff}",
            "%00",
            "'",
            "\"",
            "\\",
            "<script>",
            "../",
            "webhook.ping",
            "drop.",
            MARKER,
        ];
        let mut s = String::new();
        for _ in 0..self.below(6) {
            let piece: &&str = self.pick(&pieces);
            s.push_str(piece);
        }
        match self.below(8) {
            0 => s.push_str(&"x".repeat(*self.pick(&[499usize, 500, 501, 2049, 70_000]))),
            1 => s.push_str(&"é".repeat(501)),
            _ => {}
        }
        s
    }

    fn url(&mut self) -> Value {
        let urls = [
            "http://127.0.0.1:9/hook",
            "https://127.0.0.1:9/hook",
            "http://[::1]:9/h",
            "https://10.0.0.1/h",
            "https://192.0.2.1/h",
            "https://[::ffff:127.0.0.1]/h",
            "ftp://127.0.0.1/h",
            "https://user:pw@127.0.0.1/h",
            "https:///h",
            "https://",
            "not a url",
            "",
            "javascript:alert(1)",
            "http://127.0.0.1:99999/h",
            "http://127.0.0.1/\0",
        ];
        match self.below(10) {
            0 => json!(format!("https://127.0.0.1/{}", "a".repeat(2048))),
            1 => self.scalar(),
            2 => json!(format!("http://127.0.0.1/{}", self.text())),
            _ => json!(self.pick(&urls)),
        }
    }

    fn scalar(&mut self) -> Value {
        match self.below(9) {
            0 => Value::Null,
            1 => json!(self.coin()),
            2 => json!(self.next() as i64),
            3 => json!(1.5),
            4 => json!(-0.0),
            5 => json!(u64::MAX),
            6 => json!([]),
            7 => json!({}),
            _ => json!(self.text()),
        }
    }

    fn events(&mut self) -> Value {
        let types = [
            "drop.submitted",
            "credential.claimed",
            "webhook.ping",
            "nope",
            MARKER,
            "",
        ];
        match self.below(6) {
            0 => Value::Null,
            1 => json!([]),
            2 => self.scalar(),
            3 => json!(vec!["webhook.ping"; 40]),
            _ => {
                let n = self.below(4) + 1;
                Value::Array((0..n).map(|_| json!(self.pick(&types))).collect())
            }
        }
    }

    /// A body for `POST /webhooks` or `PATCH /webhooks/{id}`: one in three
    /// valid, so there are endpoints to change; the rest anything.
    fn webhook_body(&mut self) -> Value {
        if self.below(3) == 0 {
            let url = self
                .pick(&["http://127.0.0.1:9/hook", "https://[::1]:9/h"])
                .to_owned();
            let mut body = json!({ "url": url });
            if self.coin() {
                body["events"] = json!(["webhook.ping", "drop.submitted"]);
            }
            if self.coin() {
                body["description"] = json!("Acme ✓");
            }
            return body;
        }
        let mut m = Map::new();
        if self.below(4) != 0 {
            m.insert("url".into(), self.url());
        }
        if self.coin() {
            m.insert("events".into(), self.events());
        }
        if self.coin() {
            let d = if self.coin() {
                json!(self.text())
            } else {
                self.scalar()
            };
            m.insert("description".into(), d);
        }
        if self.coin() {
            let e = if self.coin() {
                json!(self.coin())
            } else {
                self.scalar()
            };
            m.insert("enabled".into(), e);
        }
        if self.below(5) == 0 {
            m.insert(self.text(), self.scalar());
        }
        match self.below(12) {
            0 => json!([Value::Object(m)]),
            1 => self.scalar(),
            _ => Value::Object(m),
        }
    }

    /// A path segment for an id: real ones, near misses and junk.
    fn id(&mut self, real: &[String]) -> String {
        let real_or_new = || uuid::Uuid::new_v4().to_string();
        match self.below(9) {
            0 | 1 if !real.is_empty() => self.pick(real).clone(),
            2 => real_or_new(),
            3 => real_or_new().to_uppercase(),
            4 => real_or_new().replace('-', ""),
            5 => format!("{{{}}}", real_or_new()),
            6 => "claim".into(),
            7 => "%00".into(),
            _ => url_encode(&self.text()).chars().take(300).collect(),
        }
    }
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Send, and check the answer: no 5xx; a 4xx in the error shape that
/// quotes nothing planted.
async fn probe(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
    content_type: &str,
    case: &str,
) -> (u16, Value) {
    let mut req = app
        .http
        .request(method.clone(), app.url(path))
        .bearer_auth(&app.admin_token);
    if let Some(b) = body {
        req = req.header("content-type", content_type).body(b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert!(status < 500, "{case}: {method} {path}: {status} {text}");
    let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status >= 400 {
        let code = json["error"]["code"].as_str().unwrap_or_else(|| {
            panic!("{case}: {method} {path}: {status} not in the error shape: {text:?}")
        });
        assert!(
            !code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{case}: {code}"
        );
        let message = json["error"]["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "{case}: {text}");
        assert!(
            !message.contains("MARKER"),
            "{case}: the input is quoted: {message}"
        );
    }
    (status, json)
}

/// A body as sent: JSON, or bytes that are not (truncated, not UTF-8, empty).
fn raw_body(gen: &mut Gen, body: &Value) -> (Vec<u8>, &'static str) {
    let json = serde_json::to_vec(body).unwrap();
    let content_type = match gen.below(12) {
        0 => "text/plain",
        1 => "application/x-www-form-urlencoded",
        _ => "application/json",
    };
    let bytes = match gen.below(10) {
        0 => json[..json.len() / 2].to_vec(),
        1 => vec![0xff, 0xfe, b'{'],
        2 => Vec::new(),
        _ => json,
    };
    (bytes, content_type)
}

const CASES: usize = 300;

async fn webhook_routes_never_fail_on_generated_input(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut ids: Vec<String> = Vec::new();
    let mut gen = Gen(0x9e37_79b9_7f4a_7c15);
    let mut created = 0;
    for case in 0..CASES {
        let case = format!("case {case}");
        let id = gen.id(&ids);
        let delivery = gen.id(&[]);
        match gen.below(8) {
            0 | 1 => {
                let body = gen.webhook_body();
                let (bytes, ct) = raw_body(&mut gen, &body);
                let (status, answer) = probe(
                    &app,
                    Method::POST,
                    "/api/v1/webhooks",
                    Some(bytes),
                    ct,
                    &case,
                )
                .await;
                if status == 201 {
                    created += 1;
                    ids.push(answer["id"].as_str().unwrap().to_owned());
                }
            }
            2 | 3 => {
                let body = gen.webhook_body();
                let (bytes, ct) = raw_body(&mut gen, &body);
                let path = format!("/api/v1/webhooks/{id}");
                probe(&app, Method::PATCH, &path, Some(bytes), ct, &case).await;
            }
            4 => {
                let method = gen
                    .pick(&[Method::GET, Method::DELETE, Method::PUT])
                    .clone();
                let path = format!("/api/v1/webhooks/{id}");
                let (status, _) = probe(&app, method.clone(), &path, None, "", &case).await;
                if method == Method::DELETE && status == 200 {
                    ids.retain(|i| *i != id);
                }
            }
            5 => {
                let action = gen.pick(&["rotate-secret", "ping"]);
                let path = format!("/api/v1/webhooks/{id}/{action}");
                probe(&app, Method::POST, &path, None, "", &case).await;
            }
            6 => {
                let limit = gen.pick(&[
                    "",
                    "1",
                    "0",
                    "-1",
                    "501",
                    "99999999999999999999",
                    "x",
                    "%00",
                    "1.5",
                ]);
                let path = format!("/api/v1/webhooks/{id}/deliveries?limit={limit}");
                probe(&app, Method::GET, &path, None, "", &case).await;
            }
            _ => {
                let path = format!("/api/v1/webhooks/{id}/deliveries/{delivery}/retry");
                probe(&app, Method::POST, &path, None, "", &case).await;
            }
        }
    }
    assert!(
        created > 5,
        "only {created} endpoints were created: the generator is off"
    );
    // The real endpoints still answer as documented.
    let listed = app
        .get("/api/v1/webhooks", Some(&app.admin_token))
        .fetch_json()
        .await;
    assert_eq!(listed["webhooks"].as_array().unwrap().len(), ids.len());
}

async fn token_revocation_never_fails_on_generated_ids(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(app.create_token(&format!("t{i}"), "worker").await.0);
    }
    let mut gen = Gen(0x2545_f491_4f6c_dd1d);
    let mut revoked = 0;
    for case in 0..CASES / 2 {
        let case = format!("case {case}");
        let id = gen.id(&ids);
        let path = format!("/api/v1/tokens/{id}");
        let (status, answer) = probe(&app, Method::DELETE, &path, None, "", &case).await;
        assert!(matches!(status, 200 | 404), "{case}: {status}");
        if status == 200 {
            revoked += 1;
            assert!(answer["revoked_at"].is_string(), "{case}: {answer}");
        }
    }
    assert!(revoked >= 5, "{revoked}");
    // The token of the run was never among the ids, and still works.
    let status = app
        .get("/api/v1/tokens", Some(&app.admin_token))
        .fetch_status()
        .await;
    assert_eq!(status, 200);
}
