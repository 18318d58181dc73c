//! The console's audit log (SPEC §13): filters (the API's), pages by `seq`, "Verify chain",
//! and the filtered log as a streamed NDJSON or CSV download (`service::audit`, the same
//! export as `keydrop audit export`, formula-safe CSV cells).

use super::console::{internal, page, person_who_may};
use super::console_drops::nav;
use crate::domain::audit::AuditFilter;
use crate::domain::role::Capability;
use crate::service::audit::{export_chunks, Format};
use crate::web::api::audit::FilterQuery;
use crate::web::api::query_text::QueryText;
use crate::web::pages::components::notice;
use crate::web::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{get, web, HttpRequest, HttpResponse};
use maud::html as markup;

/// Events per page.
const PAGE: i64 = 100;

#[derive(serde::Deserialize, Default)]
struct AuditQuery {
    subject: Option<String>,
    action: Option<String>,
    actor: Option<String>,
    since: Option<String>,
    until: Option<String>,
    after: Option<String>,
    verify: Option<String>,
    format: Option<String>,
}

impl AuditQuery {
    /// The filters, checked by the API's rules; the error is the message for a 422 page.
    fn filter(&self) -> Result<AuditFilter, String> {
        let text = |v: &Option<String>, name: &str| -> Result<Option<QueryText>, String> {
            v.as_deref()
                .map(|t| QueryText::parse(t).map_err(|e| format!("{name}: {e}")))
                .transpose()
        };
        FilterQuery {
            subject: text(&self.subject, "subject")?,
            action: text(&self.action, "action")?,
            actor: text(&self.actor, "actor")?,
            since: text(&self.since, "since")?,
            until: text(&self.until, "until")?,
        }
        .filter()
    }

    /// The filters as query pairs, for links that keep them.
    fn pairs(&self) -> Vec<(&'static str, String)> {
        [
            ("subject", &self.subject),
            ("action", &self.action),
            ("actor", &self.actor),
            ("since", &self.since),
            ("until", &self.until),
        ]
        .into_iter()
        .filter_map(|(k, v)| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| (k, s.to_owned()))
        })
        .collect()
    }

    fn link(&self, path: &str, extra: &[(&'static str, String)]) -> String {
        let mut pairs = self.pairs();
        pairs.extend_from_slice(extra);
        format!(
            "{path}?{}",
            serde_urlencoded::to_string(pairs).unwrap_or_default()
        )
    }
}

fn unprocessable(state: &AppState, why: &str) -> HttpResponse {
    page(
        state,
        StatusCode::UNPROCESSABLE_ENTITY,
        "That filter cannot be used",
        None,
        markup! {
            (notice("warning", markup! { p { (why) } }))
            p { a href="/console/audit" { "The whole audit log" } }
        },
    )
}

#[get("/console/audit")]
pub async fn log(
    req: HttpRequest,
    query: web::Query<AuditQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (_, person) = match person_who_may(&req, &state, Capability::ReadAudit).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let filter = match query.filter() {
        Ok(f) => f,
        Err(why) => return unprocessable(&state, &why),
    };
    let after = match query.after.as_deref().filter(|s| !s.is_empty()) {
        None => 0,
        Some(a) => match a.parse::<i64>() {
            Ok(n) if n >= 0 => n,
            _ => return unprocessable(&state, "after must be a seq from this page's links"),
        },
    };
    let verified = if query.verify.as_deref() == Some("1") {
        match state.store.verify_audit().await {
            Ok(r) => Some(r),
            Err(e) => return internal(&state, &e.into()),
        }
    } else {
        None
    };
    let events = match state.store.search_audit(&filter, after, PAGE).await {
        Ok(e) => e,
        Err(e) => return internal(&state, &e.into()),
    };
    let next = match events.last() {
        Some(last) if i64::try_from(events.len()).unwrap_or(0) == PAGE => {
            Some(query.link("/console/audit", &[("after", last.seq.to_string())]))
        }
        _ => None,
    };
    let field = |name: &'static str,
                 label: &'static str,
                 value: &Option<String>,
                 hint: &'static str| {
        markup! {
            label { (label) " "
                input type="text" name=(name) maxlength="200" placeholder=(hint) value=(value.as_deref().unwrap_or(""));
            }
            " "
        }
    };
    page(
        &state,
        StatusCode::OK,
        "Audit log",
        Some(
            markup! { "Every release and change, oldest first, chained so that no one can quietly rewrite it." },
        ),
        markup! {
            (nav(&person))
            @match &verified {
                Some(Ok(n)) => (notice("success", markup! { p { "The chain is intact through seq " (n) "." } })),
                Some(Err(e)) => (notice("warning", markup! { p { "The chain is broken: " (e.to_string()) } })),
                None => {},
            }
            form.filters method="get" action="/console/audit" role="search" {
                (field("subject", "Subject", &query.subject, "drop:<id>"))
                (field("action", "Action", &query.action, "drop. or drop.create"))
                (field("actor", "Actor", &query.actor, "user:ada@example.com"))
                (field("since", "Since", &query.since, "2026-12-01T00:00:00Z"))
                (field("until", "Until", &query.until, "2026-12-31T00:00:00Z"))
                button.button type="submit" { "Filter" }
            }
            p {
                a href=(query.link("/console/audit", &[("verify", "1".into())])) { "Verify chain" }
                " · Download what this filter shows: "
                a href=(query.link("/console/audit/export", &[("format", "ndjson".into())])) { "NDJSON" }
                " · "
                a href=(query.link("/console/audit/export", &[("format", "csv".into())])) { "CSV" }
            }
            @if events.is_empty() {
                p { "No events match." }
            } @else {
                div.table-wrap tabindex="0" role="region" aria-label="Table (scrolls sideways on narrow screens)" {
                    table {
                        caption { "Events" }
                        thead { tr {
                            th scope="col" { "Seq" } th scope="col" { "When" } th scope="col" { "Who" }
                            th scope="col" { "What" } th scope="col" { "Subject" } th scope="col" { "Details" }
                        } }
                        tbody {
                            @for e in &events {
                                tr {
                                    td { (e.seq) }
                                    td.nowrap { (crate::clock::rfc3339(crate::clock::from_millis(e.at)).replace('T', " ")) }
                                    td { (e.actor) @if let Some(ip) = &e.ip { br; small { (ip) } } }
                                    td { code { (e.action) } }
                                    td { (e.subject) }
                                    td { code.details { (e.details.to_string()) } }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = next {
                p { a href=(next) { "Later events →" } }
            }
        },
    )
}

/// The filtered log as a download, streamed a page at a time (constant memory).
#[get("/console/audit/export")]
pub async fn export(
    req: HttpRequest,
    query: web::Query<AuditQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    if let Err(res) = person_who_may(&req, &state, Capability::ReadAudit).await {
        return res;
    }
    let Some(format) = query.format.as_deref().and_then(Format::parse) else {
        return unprocessable(&state, "format must be ndjson or csv");
    };
    let filter = match query.filter() {
        Ok(f) => f,
        Err(why) => return unprocessable(&state, &why),
    };
    // The first page is read before the answer starts, so an unreachable database is a 503
    // page rather than a download cut short.
    if let Err(e) = state.store.search_audit(&filter, 0, 1).await {
        return internal(&state, &e.into());
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(2);
    let store = state.store.clone();
    tokio::spawn(async move {
        let sent = export_chunks(&store, &filter, format, |chunk| {
            let tx = tx.clone();
            async move { tx.send(chunk).await.is_ok() }
        })
        .await;
        if let Err(e) = sent {
            // The download ends short; the reader sees an incomplete file, and the log says why.
            tracing::warn!(error = %e, "console audit export stopped");
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, actix_web::Error>(web::Bytes::from(chunk)), rx))
    });
    let (ext, mime) = match format {
        Format::Ndjson => ("ndjson", "application/x-ndjson"),
        Format::Csv => ("csv", "text/csv; charset=utf-8"),
    };
    let day = crate::clock::rfc3339(crate::clock::from_millis(state.store.now_ms()));
    let day = day.get(..10).unwrap_or("audit");
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, mime))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"keydrop-audit-{day}.{ext}\""),
        ))
        .streaming(body)
}
