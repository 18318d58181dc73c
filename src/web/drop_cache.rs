//! A one-second cache of open drops for `GET /d/{token}`, so a page view
//! costs no database read when the same link is opened again at once (link
//! previewers, reloads, load). Only *showing* the page uses it: every
//! submission reads the database, and every state change is a conditional
//! statement there, so a stale entry can never let input in. Changes made by
//! this process evict at once; another process's change shows within 1 s.

use crate::domain::drop::DropRecord;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const TTL: Duration = Duration::from_secs(1);
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Default)]
pub struct DropCache {
    entries: Mutex<HashMap<String, (DropRecord, Instant)>>,
}

impl DropCache {
    pub fn get(&self, token_hash: &str) -> Option<DropRecord> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(token_hash)
            .filter(|(_, at)| at.elapsed() < TTL)
            .map(|(d, _)| d.clone())
    }

    pub fn put(&self, token_hash: String, drop: DropRecord) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.retain(|_, (_, at)| at.elapsed() < TTL);
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
            }
            entries.insert(token_hash, (drop, Instant::now()));
        }
    }

    /// Forget a drop that changed.
    pub fn evict(&self, drop_id: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, (d, _)| d.id != drop_id);
        }
    }
}
