//! Tests of the access log: the redaction, its boundaries, and the middleware.
use super::*;

const T: &str = "nV73Z5EA3yKPNJkvG9eOGB-KGDVWnOJr_upoz1mNbv0";
const API: &str = "kd_nV73Z5EA3yKPNJkvG9eOGB-KGDVWnOJr_upoz1mNbv0nV73Z5EA3yKPNJkvG9eOGB-K";

fn hidden(shown: &str, secret: &str) -> bool {
    !shown.contains(secret) && !shown.contains(&secret[..20]) && shown.contains(REDACTED)
}

#[test]
fn drop_links_are_redacted() {
    assert_eq!(redact_path("/d/abcDEF123"), "/d/<redacted>");
    assert_eq!(redact_path("/d/"), "/d/<redacted>");
    assert_eq!(
        redact_path("/console/link/abcDEF123"),
        "/console/link/<redacted>"
    );
    assert_eq!(redact_path("/api/v1/tokens"), "/api/v1/tokens");
    assert_eq!(redact_path(&format!("/%64/{T}")), "/%64/<redacted>");
    assert_eq!(redact_path(&format!("//d/{T}")), "//d/<redacted>");
    assert!(!redact_path(&format!("/api/v1/credentials/{T}")).contains(T));
}

#[test]
fn mistyped_links_are_redacted_by_shape() {
    for path in [
        format!("//d/{T}."),
        format!("/D/{T}."),
        format!("/d/{T}/{T}."),
        format!("/x/{T}/{T}."),
        format!("/static/{T}.css"),
        format!("/static/{T}"),
        format!("/d%2F{T}"),
        format!("/{T}"),
        format!("/{}%2D{}", &T[..21], &T[22..]),
        format!("/%6E{}", &T[1..]),
        format!("/hello{T}world"),
        format!("/api/v1/{API}"),
        format!("/{}", &API[..12]),
    ] {
        let shown = redact_path(&path);
        let secret = if path.contains("kd_") {
            "kd_nV73Z"
        } else {
            &T[..32]
        };
        assert!(!shown.contains(secret), "{path} -> {shown}");
        assert!(
            hidden(&shown, &T[1..]) || path.contains("kd_"),
            "{path} -> {shown}"
        );
    }
    assert_eq!(
        redact_path(&format!("/static/{T}.css")),
        "/static/<redacted>.css"
    );
    assert_eq!(redact_path(&format!("/D/{T}.")), "/D/<redacted>.");
    assert_eq!(redact_path("/api/v1/kd_abc"), "/api/v1/<redacted>");
}

#[test]
fn query_strings_are_redacted_by_shape() {
    let shown = redact(&format!("/d/x?token={T}&next=%2Fd%2F{T}&k={API}&page=2"));
    assert!(!shown.contains(&T[..32]), "{shown}");
    assert!(!shown.contains("kd_"), "{shown}");
    assert!(shown.ends_with("&page=2"), "{shown}");
}

#[test]
fn ordinary_paths_and_ids_stay_readable() {
    for path in [
        "/api/v1/drops/3f2a9c1e-8b7d-4e6f-a5c4-1b2d3e4f5a6b/revoke",
        "/static/keydrop.css",
        "/healthz",
        "/api/v1/credentials?status=verified",
        "/caf\u{e9}/%zz/%",
    ] {
        assert_eq!(redact(path), path);
    }
    // Just under the shape threshold, outside /d/: kept.
    let short = &T[..31];
    assert_eq!(redact(&format!("/x/{short}")), format!("/x/{short}"));
    assert!(redact_path(&"a/".repeat(300)).ends_with('…'));
}

#[test]
fn routes_with_a_token_segment_log_the_pattern() {
    assert_eq!(
        by_route(Some("/d/{token}")).as_deref(),
        Some("/d/<redacted>")
    );
    assert_eq!(by_route(Some("/api/v1/drops/{id}")), None);
    assert_eq!(by_route(None), None);
}

/// The redaction as first written (a copy of each run, then a second
/// look at it): the one-pass scan must answer exactly the same.
fn reference(text: &str) -> String {
    fn is_uuid(run: &[u8]) -> bool {
        run.len() == 36
            && run.iter().enumerate().all(|(i, b)| match i {
                8 | 13 | 18 | 23 => *b == b'-',
                _ => b.is_ascii_hexdigit(),
            })
    }
    fn unit(s: &[u8], i: usize) -> Option<(usize, u8)> {
        let b = *s.get(i)?;
        if is_b64url(b) {
            return Some((1, b));
        }
        if b != b'%' {
            return None;
        }
        let hex = std::str::from_utf8(s.get(i + 1..i + 3)?).ok()?;
        let decoded = u8::from_str_radix(hex, 16).ok()?;
        is_b64url(decoded).then_some((3, decoded))
    }
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let mut decoded = Vec::new();
        while let Some((len, b)) = unit(bytes, i) {
            decoded.push(b);
            i += len;
        }
        if i > start {
            let api = decoded
                .windows(4)
                .any(|w| w[..3].eq_ignore_ascii_case(b"kd_") && is_b64url(w[3]));
            let secret = api || (decoded.len() >= SECRET_RUN && !is_uuid(&decoded));
            out.push_str(if secret { REDACTED } else { &text[start..i] });
        } else {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Pieces that meet at every boundary the scan has: escapes whole, cut
/// short, of separators and of invalid UTF-8; `kd_` in any case; runs
/// just under and over 32 characters; UUID-shaped runs and near misses.
const PIECES: &[&str] = &[
    "a",
    "Z",
    "9",
    "-",
    "_",
    "/",
    "?",
    "=",
    "&",
    ".",
    "%",
    "%2",
    "%2D",
    "%2d",
    "%5F",
    "%5f",
    "%6B",
    "%64",
    "%2F",
    "%2f",
    "%25",
    "%zz",
    "%G1",
    "%+A",
    "%FF",
    "%C3%A9",
    "%C0%AF",
    "é",
    "\u{fffd}",
    "\u{1F511}",
    "kd_",
    "KD_",
    "Kd%5F",
    "%6Bd_",
    "k",
    "d",
    "kd",
    "3f2a9c1e",
    "8b7d",
    "4e6f-",
    "1b2d3e4f5a6b",
    "nV73Z5EA3yKPNJkvG9eOGB",
    "-KGDVWnOJr_upoz1mNbv0",
    "0123456789abcdef0123456789abcde",
    " ",
    "+",
    "~",
];

#[test]
fn the_one_pass_scan_answers_as_the_reference_does() {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let n = next() % 24;
        let text: String = (0..n)
            .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
            .collect();
        assert_eq!(redact(&text), reference(&text), "{text:?}");
    }
    for text in [
        format!("/{T}"),
        format!("/x?token={T}&next=%2Fd%2F{T}&k={API}&page=2"),
        "/api/v1/drops/3f2a9c1e-8b7d-4e6f-a5c4-1b2d3e4f5a6b/revoke".to_owned(),
        "/api/v1/drops/3f2a9c1e-8b7d-4e6f-a5c4-1b2d3e4f5a6bc/revoke".to_owned(),
        "/api/v1/drops/3f2a9c1e_8b7d-4e6f-a5c4-1b2d3e4f5a6b/revoke".to_owned(),
        "/caf\u{e9}/%zz/%".to_owned(),
        String::new(),
    ] {
        assert_eq!(redact(&text), reference(&text), "{text:?}");
    }
}

#[test]
fn boundaries_of_the_shape() {
    let run = |n: usize| "a".repeat(n);
    assert_eq!(redact(&format!("/{}/", run(31))), format!("/{}/", run(31)));
    assert_eq!(redact(&format!("/{}/", run(32))), "/<redacted>/");
    // A percent-escape counts as the one character it stands for.
    let escaped = format!("{}%61", run(30));
    assert_eq!(redact(&format!("/{escaped}/")), format!("/{escaped}/"));
    assert_eq!(redact(&format!("/{escaped}a/")), "/<redacted>/");
    // `kd_` makes a token of any length, in any case, escaped or not,
    // once a base64url character follows it.
    for t in [
        "kd_x", "KD_x", "xkd_x", "%6Bd_x", "kd%5Fx", "kd%5fx", "a-kd_-",
    ] {
        assert_eq!(redact(&format!("/{t}/")), "/<redacted>/", "{t}");
    }
    for t in ["kd_", "kd", "k_d_x", "kd%5", "kd%5F", "kd_%2Fx"] {
        assert_eq!(redact(&format!("/{t}")), format!("/{t}"), "{t}");
    }
    // A canonical UUID is readable; anything longer, or with a dash
    // elsewhere, is 36+ base64url characters like any other.
    let uuid = "3f2a9c1e-8b7d-4e6f-a5c4-1b2d3e4f5a6b";
    assert_eq!(redact(uuid), uuid);
    assert_eq!(redact(&uuid.to_uppercase()), uuid.to_uppercase());
    assert_eq!(redact(&format!("{uuid}0")), REDACTED);
    assert_eq!(redact(&format!("0{uuid}")), REDACTED);
    assert_eq!(redact(&uuid.replace('-', "_")), REDACTED);
    assert_eq!(redact(&format!("{uuid}/{uuid}")), format!("{uuid}/{uuid}"));
}

#[test]
fn adversarial_spellings_never_show_the_token() {
    let long_run = T.repeat(2_500);
    let long_path = format!("/{}", format!("{T}/").repeat(1_500));
    let near_the_cut = format!("/{}{T}", "ab/".repeat(63));
    for path in [
        // In query strings and fragments (when a whole URL is logged).
        format!("/healthz?t={T}"),
        format!("/x?a=1&token={T}#{T}"),
        format!("https://keydrop.example/d/{T}?again={T}"),
        // Encoded slashes and escaped letters around and inside it.
        format!("/d%2F{T}"),
        format!("/d%2f{T}"),
        format!("%2Fd%2F{T}"),
        format!("/%2F%2Fd/{T}"),
        format!("/x/{}%2D{}", &T[..21], &T[22..]),
        format!("/x/{}%2d{}", &T[..21], &T[22..]),
        format!("/x/%{}", T),
        format!("/x/{T}%"),
        format!("/x/{T}%2"),
        // Escapes that stand for invalid UTF-8, and real non-ASCII, beside it.
        format!("/%FF%FE{T}%C0%AF"),
        format!("/%FF{T}"),
        format!("/\u{fffd}{T}\u{fffd}"),
        format!("/caf\u{e9}{T}\u{e9}"),
        format!("/\u{1F511}{T}"),
        // Very long: one run, many runs, and a token just before the cut.
        long_run,
        long_path,
        near_the_cut,
    ] {
        for shown in [redact(&path), redact_path(&path)] {
            assert!(!shown.contains(&T[..20]), "{path:.80} -> {shown:.120}");
            assert!(
                !shown.contains(&T[T.len() - 20..]),
                "{path:.80} -> {shown:.120}"
            );
            assert!(shown.contains(REDACTED), "{path:.80} -> {shown:.120}");
        }
    }
    // The cut comes after the redaction, and on a character boundary.
    let cut = redact_path(&format!("/{}{T}", "\u{e9}".repeat(MAX_LOGGED - 5)));
    assert!(cut.ends_with('…') && !cut.contains(&T[..8]), "{cut}");
    assert_eq!(cut.chars().count(), MAX_LOGGED + 1);
}

/// Everything the middleware writes, for one test.
#[derive(Clone, Default)]
struct Lines(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut lines) = self.0.lock() {
            lines.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[actix_web::test]
async fn lines_show_the_route_served_and_never_the_token() {
    use actix_web::{middleware::from_fn, test as awtest, web, App, HttpResponse};
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = awtest::init_service(
        App::new()
            .wrap(from_fn(access_log))
            .route("/d/{token}", web::get().to(HttpResponse::Ok))
            .route("/static/{file}", web::get().to(HttpResponse::Ok))
            .default_service(web::to(HttpResponse::NotFound)),
    )
    .await;
    let long = format!("/x/{}", format!("{T}/").repeat(100));
    for (method, uri, status) in [
        ("GET", format!("/d/{T}"), 200),
        ("GET", format!("/d/{T}?t={T}"), 200),
        ("POST", format!("/d/{T}"), 404),
        ("GET", format!("/d/{T}/more"), 404),
        ("GET", format!("/d%2F{T}"), 404),
        ("GET", format!("//d/{T}"), 404),
        ("GET", format!("/static/{T}.css"), 200),
        ("GET", format!("/%FF%FE{T}"), 404),
        ("GET", long, 404),
        ("GET", "/static/keydrop.css".to_owned(), 200),
    ] {
        let req = awtest::TestRequest::default()
            .method(method.parse().unwrap())
            .uri(&uri)
            .to_request();
        let res = awtest::call_service(&app, req).await;
        assert_eq!(res.status().as_u16(), status, "{method} {uri:.60}");
    }
    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    assert_eq!(text.lines().count(), 10, "{text}");
    assert!(
        !text.contains(&T[..20]) && !text.contains(&T[T.len() - 20..]),
        "{text}"
    );
    // Served by the page route: its pattern, whatever the spelling.
    assert_eq!(
        text.matches("path=/d/<redacted> status=200").count(),
        2,
        "{text}"
    );
    // No route served these (a POST, a longer path); a `/d/` path is
    // still hidden whole.
    assert_eq!(
        text.matches("path=/d/<redacted> status=404").count(),
        2,
        "{text}"
    );
    assert!(text.contains("path=/d%<redacted> status=404"), "{text}");
    assert!(
        text.contains("path=/static/<redacted>.css status=200"),
        "{text}"
    );
    assert!(
        text.contains("path=/static/keydrop.css status=200"),
        "{text}"
    );
}

#[actix_web::test]
async fn no_line_below_the_info_level() {
    use actix_web::{middleware::from_fn, test as awtest, web, App, HttpResponse};
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = awtest::init_service(
        App::new()
            .wrap(from_fn(access_log))
            .route("/d/{token}", web::get().to(HttpResponse::Ok)),
    )
    .await;
    let req = awtest::TestRequest::get()
        .uri(&format!("/d/{T}"))
        .to_request();
    assert_eq!(awtest::call_service(&app, req).await.status(), 200);
    assert!(lines.0.lock().unwrap().is_empty());
}
