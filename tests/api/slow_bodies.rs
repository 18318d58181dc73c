//! Request bodies that never finish: they hold no connection past the body
//! bound, junk links are answered before any body is read, and everyone
//! else is served meanwhile.

use crate::support::helpers::{
    spawn_app_with, AppOptions, Backend, Fetch, TestApp, GOOD_ID, GOOD_SECRET,
};
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const STALLED: usize = 100;
const BOUND: Duration = Duration::from_secs(3);

/// One raw connection that sent its headers and only part of its body.
struct Stalled {
    open_link: bool,
    chunked: bool,
    sent_at: Instant,
    stream: TcpStream,
}

impl Stalled {
    async fn start(addr: &str, path: &str, open_link: bool, chunked: bool) -> Self {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let head = "Host: keydrop\r\nContent-Type: application/x-www-form-urlencoded\r\n";
        // 1000 bytes announced (or a 100-byte chunk), 60 sent.
        let request = if chunked {
            format!(
                "POST {path} HTTP/1.1\r\n{head}Transfer-Encoding: chunked\r\n\r\n64\r\ncsrf_token={}",
                "a".repeat(49)
            )
        } else {
            format!(
                "POST {path} HTTP/1.1\r\n{head}Content-Length: 1000\r\n\r\ncsrf_token={}",
                "a".repeat(49)
            )
        };
        stream.write_all(request.as_bytes()).await.unwrap();
        Self {
            open_link,
            chunked,
            sent_at: Instant::now(),
            stream,
        }
    }

    /// Everything the server sends until it closes the connection, and when
    /// the close came; fails if it does not close within the bound and a
    /// generous margin.
    async fn answer(mut self) -> (Self, String, Duration) {
        let mut buf = Vec::new();
        let read = tokio::time::timeout(BOUND + Duration::from_secs(15), async {
            self.stream.read_to_end(&mut buf).await
        })
        .await;
        let what = format!(
            "a stalled {} body on {} link",
            if self.chunked { "chunked" } else { "sized" },
            if self.open_link {
                "an open"
            } else {
                "an unknown"
            }
        );
        assert!(read.is_ok(), "{what} was never closed");
        let elapsed = self.sent_at.elapsed();
        (self, String::from_utf8_lossy(&buf).into_owned(), elapsed)
    }
}

fn unknown_link(i: usize) -> String {
    format!("/d/{:Z<43}", format!("nope{i}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_bodies_are_cut_off_and_never_block_anyone_else() {
    let app = spawn_app_with(
        Backend::Sqlite,
        AppOptions {
            body_timeout: Some(BOUND),
            ..Default::default()
        },
    )
    .await;
    let stalled_drop = app.create_drop(json!({"org": "Stalled Inc."})).await;
    let stalled_path = TestApp::link_path(stalled_drop["url"].as_str().unwrap());
    let good_drop = app.create_drop(json!({"org": "Initech"})).await;
    let good_path = TestApp::link_path(good_drop["url"].as_str().unwrap());
    let addr = app.address.trim_start_matches("http://").to_owned();

    // Half on an open link, half on links that do not exist; every fifth
    // one sends its body chunked.
    let mut stalled = Vec::new();
    for i in 0..STALLED {
        let open_link = i % 2 == 0;
        let path = if open_link {
            stalled_path.clone()
        } else {
            unknown_link(i)
        };
        stalled.push(Stalled::start(&addr, &path, open_link, i % 5 == 0).await);
    }

    // Meanwhile another client is served: health, and a whole submission.
    let fast = Duration::from_secs(10);
    let health = app.get("/healthz", None).timeout(fast).fetch_status().await;
    assert_eq!(health, 200);
    let (status, page) = app
        .submit(
            &good_path,
            &[
                ("client_id", GOOD_ID),
                ("client_secret", GOOD_SECRET),
                ("user_id", ""),
            ],
        )
        .await;
    assert_eq!(status, 200, "{page}");

    let answers = futures_util::future::join_all(stalled.into_iter().map(Stalled::answer)).await;
    for (conn, answer, elapsed) in answers {
        let status_line = answer.lines().next().unwrap_or_default().to_owned();
        if conn.open_link {
            // Held until the bound, then answered and closed.
            assert!(
                status_line.starts_with("HTTP/1.1 400"),
                "chunked={}: {status_line:?}",
                conn.chunked
            );
            assert!(answer.contains("took too long"), "{answer}");
            assert!(elapsed >= BOUND, "answered after {elapsed:?}");
        } else {
            // Looked up first: 404 without waiting for the body, then closed.
            assert!(
                status_line.starts_with("HTTP/1.1 404"),
                "chunked={}: {status_line:?}",
                conn.chunked
            );
        }
        assert!(
            answer.to_ascii_lowercase().contains("connection: close"),
            "{answer}"
        );
    }

    // Nothing was consumed on the stalled link, and the server is fine.
    let id = stalled_drop["id"].as_str().unwrap();
    let drop = app
        .get(&format!("/api/v1/drops/{id}"), Some(&app.admin_token))
        .fetch_json()
        .await;
    assert_eq!(drop["state"], "open");
    assert_eq!(drop["attempts"], 0);
    assert_eq!(app.get("/healthz", None).fetch_status().await, 200);
}

/// The API bounds its bodies the same way, answering in its JSON shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_api_body_gets_400_body_timeout_and_is_closed() {
    let app = spawn_app_with(
        Backend::Sqlite,
        AppOptions {
            body_timeout: Some(Duration::from_millis(500)),
            ..Default::default()
        },
    )
    .await;
    let addr = app.address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /api/v1/tokens HTTP/1.1\r\nHost: keydrop\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{{\"name\":",
        app.admin_token
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(15), stream.read_to_end(&mut buf))
        .await
        .expect("the connection is closed after the answer")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains(r#""code":"body_timeout""#), "{answer}");
    // No token was made.
    let list = app
        .get("/api/v1/tokens", Some(&app.admin_token))
        .fetch_json()
        .await;
    assert_eq!(list["tokens"].as_array().unwrap().len(), 1);
}
