//! Exporting the audit log (SPEC §7 `audit export`, §13 the console's export): every event a
//! filter passes, oldest first, as NDJSON (one event per line, as the API shows it) or CSV —
//! streamed page by page, so a log of any length exports in constant memory.
//!
//! CSV cells are quoted as RFC 4180 says, and a cell that a spreadsheet would read as a
//! formula (it starts with `=`, `+`, `-`, `@`, a tab or a carriage return) is prefixed with
//! `'`: an actor, subject or detail written by a client must not run in the reader's
//! spreadsheet.

use super::ServiceError;
use crate::domain::audit::{AuditEvent, AuditFilter};
use crate::store::Store;
use std::io::Write;

/// Events read from the store at a time.
const PAGE: i64 = 2000;

/// How the export is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    Csv,
}

impl Format {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ndjson" => Some(Self::Ndjson),
            "csv" => Some(Self::Csv),
            _ => None,
        }
    }
}

/// The CSV columns, in order.
pub const CSV_COLUMNS: [&str; 8] = [
    "seq", "at", "actor", "action", "subject", "ip", "details", "hash",
];

/// Write every event `filter` passes to `out` in `format`; returns how many. An error of
/// `out` (a closed pipe) ends the export.
pub async fn export(
    store: &Store,
    filter: &AuditFilter,
    format: Format,
    out: &mut impl Write,
) -> Result<u64, ServiceError> {
    let mut failed = None;
    let written = export_chunks(store, filter, format, |chunk| {
        let ok = failed.is_none() && out.write_all(&chunk).is_ok();
        if !ok && failed.is_none() {
            failed = Some(());
        }
        std::future::ready(ok)
    })
    .await?;
    if failed.is_some() || out.flush().is_err() {
        return Err(ServiceError::Internal("cannot write the export".into()));
    }
    Ok(written)
}

/// The export as chunks (about a page of events each) handed to `emit`, which answers
/// whether to go on (a download whose reader went away stops the export); returns how many
/// events were handed over. The console streams its download with this.
pub async fn export_chunks<F, Fut>(
    store: &Store,
    filter: &AuditFilter,
    format: Format,
    mut emit: F,
) -> Result<u64, ServiceError>
where
    F: FnMut(Vec<u8>) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut chunk = Vec::with_capacity(256 * 1024);
    if format == Format::Csv {
        chunk.extend_from_slice(CSV_COLUMNS.join(",").as_bytes());
        chunk.extend_from_slice(b"\r\n");
    }
    let mut after = 0;
    let mut written = 0_u64;
    loop {
        let page = store.search_audit(filter, after, PAGE).await?;
        for event in &page {
            match format {
                Format::Ndjson => {
                    serde_json::to_writer(&mut chunk, event)
                        .map_err(|e| ServiceError::Internal(e.to_string()))?;
                    chunk.push(b'\n');
                }
                Format::Csv => csv_row(event, &mut chunk),
            }
            written += 1;
        }
        let full = i64::try_from(page.len()).unwrap_or(0) == PAGE;
        if !chunk.is_empty() {
            let next = Vec::with_capacity(chunk.capacity());
            if !emit(std::mem::replace(&mut chunk, next)).await {
                return Ok(written);
            }
        }
        match page.last() {
            Some(last) if full => after = last.seq,
            _ => break,
        }
    }
    Ok(written)
}

fn csv_row(e: &AuditEvent, out: &mut Vec<u8>) {
    let at = crate::clock::rfc3339(crate::clock::from_millis(e.at));
    let details = e.details.to_string();
    let cells: [&str; 8] = [
        &e.seq.to_string(),
        &at,
        &e.actor,
        &e.action,
        &e.subject,
        e.ip.as_deref().unwrap_or(""),
        &details,
        &e.hash,
    ];
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        csv_cell(cell, out);
    }
    out.extend_from_slice(b"\r\n");
}

/// One cell: formula-safe, then quoted when it must be.
fn csv_cell(text: &str, out: &mut Vec<u8>) {
    let formula = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = formula || text.contains([',', '"', '\n', '\r']);
    if quote {
        out.push(b'"');
    }
    if formula {
        out.push(b'\'');
    }
    for b in text.bytes() {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    if quote {
        out.push(b'"');
    }
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    fn cell(text: &str) -> String {
        let mut out = Vec::new();
        csv_cell(text, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn cells_are_quoted_and_formula_safe() {
        assert_eq!(cell("drop.create"), "drop.create");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        for formula in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            let c = cell(formula);
            assert!(c.starts_with("\"'"), "{formula:?} -> {c:?}");
        }
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
    }
}
