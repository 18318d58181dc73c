//! JSON shapes of drops and credentials (SPEC §2, §3). Never a secret.

use crate::clock::{from_millis, rfc3339};
use crate::domain::credential::CredentialMeta;
use crate::domain::drop::DropRecord;
use serde_json::{json, Value};

fn time(ms: i64) -> String {
    rfc3339(from_millis(ms))
}

pub fn drop_json(d: &DropRecord) -> Value {
    json!({
        "id": d.id,
        "org": d.org,
        "note": d.note,
        "kind": d.kind.as_str(),
        "profile": d.profile,
        "release": d.release.as_str(),
        "contact": d.contact,
        "external_id": d.external_id,
        "metadata": d.metadata,
        "state": d.state.as_str(),
        "created_at": time(d.created_at),
        "expires_at": time(d.expires_at),
        "attempts": d.attempts,
        "max_attempts": d.max_attempts,
        "credential_id": d.credential_id,
        "replaces": d.replaces,
        "send_to": d.send_to,
        "link_sent_at": d.link_sent_at.map(time),
    })
}

pub fn credential_json(c: &CredentialMeta) -> Value {
    json!({
        "id": c.id,
        "drop_id": c.drop_id,
        "org": c.org,
        "external_id": c.external_id,
        "metadata": c.metadata,
        "kind": c.kind.as_str(),
        "release": c.release.as_str(),
        "status": c.status.as_str(),
        "hint": c.hint,
        "verification": c.verification,
        "delivery": c.delivery.as_str(),
        "created_at": time(c.created_at),
        "delivered_at": c.delivered_at.map(time),
        "destroyed_at": c.destroyed_at.map(time),
        "superseded_by": c.superseded_by,
        "last_checked_at": c.last_checked_at.map(time),
        "last_check_failed": c.health_failures > 0,
    })
}
