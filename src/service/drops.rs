//! Creating drops: a fresh link token, only its hash stored, the link shown once.

use super::ServiceError;
use crate::crypto::link::LinkToken;
use crate::crypto::random;
use crate::domain::drop::{DropRecord, DropSpec};
use crate::domain::event::{Event, Origin};
use crate::store::{NewDrop, Store};

/// A new drop and its link. The link holds the token: show it once, never log it.
#[derive(Debug)]
pub struct CreatedDrop {
    pub drop: DropRecord,
    link: LinkToken,
    public_url: String,
}

impl CreatedDrop {
    /// `{public_url}/d/{token}`.
    pub fn url(&self) -> String {
        format!("{}/d/{}", self.public_url, self.link.reveal())
    }
}

pub async fn create(
    store: &Store,
    spec: DropSpec,
    actor: &str,
    ip: Option<String>,
    public_url: &str,
) -> Result<CreatedDrop, ServiceError> {
    let link = LinkToken::generate()?;
    let id = random::uuid()?.to_string();
    let now = store.now_ms();
    let expires_at = now.saturating_add(spec.expires_in.saturating_mul(1000));
    let profile_json =
        serde_json::to_string(&spec.profile).map_err(|e| ServiceError::Internal(e.to_string()))?;
    let new = NewDrop {
        id: id.clone(),
        token_hash: link.hash(),
        org: spec.org.clone(),
        note: spec.note.clone(),
        kind: spec.kind.as_str().to_owned(),
        profile_json,
        expires_at,
        max_attempts: spec.max_attempts,
        created_by: actor.to_owned(),
    };
    let audit = Origin::new(actor, ip).entry(Event::DropCreated {
        drop: id.clone(),
        org: spec.org.clone(),
        kind: spec.kind.as_str().to_owned(),
        profile: spec.profile.name.clone(),
        expires_at,
        max_attempts: spec.max_attempts,
    });
    store.insert_drop(&new, &audit).await?;
    let drop = store
        .drop_by_id(&id)
        .await?
        .ok_or_else(|| ServiceError::Internal("the new drop could not be read back".into()))?;
    Ok(CreatedDrop {
        drop,
        link,
        public_url: public_url.trim_end_matches('/').to_owned(),
    })
}
