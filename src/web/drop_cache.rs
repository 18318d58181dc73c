//! A one-second cache of open drops — and of their rendered page — for
//! `GET /d/{token}`, so opening the same link again at once (link
//! previewers, reloads, load) costs no database read and no rendering. Only
//! *showing* the page uses it: every submission reads the database, and
//! every state change is a conditional statement there, so a stale entry
//! can never let input in. Changes made by this process's requests evict at
//! once; another process's change — or a link the mailer replaced with a
//! reminder's — shows within 1 s. The form token in a cached
//! page is the same for everyone who sees it within that second; it is bound
//! to the drop and its issue time, not to a viewer.

use crate::domain::drop::DropRecord;
use actix_web::web::Bytes;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const TTL: Duration = Duration::from_secs(1);
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug)]
struct Entry {
    drop: DropRecord,
    /// The rendered page and the value of the cookie it is served with.
    page: Option<(Bytes, String)>,
    at: Instant,
}

#[derive(Debug, Default)]
pub struct DropCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl DropCache {
    /// The drop (and its page, once rendered) if cached less than 1 s ago.
    pub fn get(&self, token_hash: &str) -> Option<(DropRecord, Option<Bytes>)> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(token_hash)
            .filter(|e| e.at.elapsed() < TTL)
            .map(|e| (e.drop.clone(), e.page.as_ref().map(|(p, _)| p.clone())))
    }

    /// The rendered page alone, without cloning the drop: the hot path.
    pub fn page(&self, token_hash: &str, now_ms: i64) -> Option<(Bytes, String)> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(token_hash)
            .filter(|e| e.at.elapsed() < TTL && e.drop.accepts_input(now_ms))
            .and_then(|e| e.page.clone())
    }

    pub fn put(&self, token_hash: String, drop: DropRecord) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.retain(|_, e| e.at.elapsed() < TTL);
                if entries.len() > MAX_ENTRIES / 2 {
                    entries.clear();
                }
            }
            entries.insert(
                token_hash,
                Entry {
                    drop,
                    page: None,
                    at: Instant::now(),
                },
            );
        }
    }

    /// Keep the page rendered for a cached drop, with the value of the cookie it is served
    /// with (computed once, not per view).
    pub fn put_page(&self, token_hash: &str, drop_id: &str, page: Bytes, cookie: String) {
        if let Ok(mut entries) = self.entries.lock() {
            if let Some(e) = entries.get_mut(token_hash).filter(|e| e.drop.id == drop_id) {
                e.page = Some((page, cookie));
            }
        }
    }

    /// Forget a drop that changed.
    pub fn evict(&self, drop_id: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, e| e.drop.id != drop_id);
        }
    }
}
