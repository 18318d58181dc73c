//! Drops for staff, whether through the API or the CLI: create (a fresh
//! link token, only its hash stored, the link shown once), find, revoke.

use super::ServiceError;
use crate::crypto::keyring::Keyring;
use crate::crypto::link::LinkToken;
use crate::crypto::random;
use crate::domain::credential::CredentialMeta;
use crate::domain::drop::{DropRecord, DropSpec, DropState};
use crate::domain::event::{Event, Origin};
use crate::greenhouse::Checker;
use crate::store::{NewDrop, Purpose, Store};

/// A new drop and its link. The link holds the token: show it once, never log it.
#[derive(Debug)]
pub struct CreatedDrop {
    pub drop: DropRecord,
    link: LinkToken,
    public_url: String,
    /// What staff should know about this link (its kind's warning), for the API's
    /// `warnings` and the CLI.
    pub warnings: Vec<String>,
}

impl CreatedDrop {
    /// `{public_url}/d/{token}`.
    pub fn url(&self) -> String {
        format!("{}/d/{}", self.public_url, self.link.reveal())
    }
}

/// Why no drop was created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// This configuration cannot serve the kind (a partner drop without a partner client):
    /// the caller's to fix (422, or the CLI's message).
    #[error("{0}")]
    KindUnavailable(String),
    /// `send_to` while no mail server is configured (422).
    #[error("{}", super::mail::NO_MAIL)]
    NoMail,
    /// Ours, or `ServiceError::Store(StoreError::Conflict)` when another drop that is not
    /// revoked has the same `external_id`.
    #[error("{0}")]
    Service(#[from] ServiceError),
}

/// Where links made outside a running service (`keydrop drop create`) lead when nobody
/// said: the address `keydrop serve` listens on by default.
pub const DEFAULT_LINK_BASE: &str = "http://127.0.0.1:8080";

/// The base of a link made by the CLI, and a warning for staff when it may not lead to the
/// service. `explicit` is `--public-url` or `KEYDROP_PUBLIC_URL`; otherwise the public URL
/// `keydrop serve` announced on this database; otherwise [`DEFAULT_LINK_BASE`], loudly.
pub async fn link_base(
    store: &Store,
    explicit: Option<&str>,
) -> Result<(String, Option<String>), ServiceError> {
    let announced = store
        .recorded_setting(crate::store::instance::PUBLIC_URL)
        .await?;
    let explicit = explicit.map(|u| u.trim_end_matches('/').to_owned());
    Ok(match (explicit, announced) {
        (Some(url), Some(served)) if url != served => {
            let warning = format!(
                "this link starts with {url} (--public-url or KEYDROP_PUBLIC_URL), but the \
                 service on this database announced {served}: check that the link leads to it"
            );
            (url, Some(warning))
        }
        (Some(url), _) => (url, None),
        (None, Some(served)) if is_local(&served) => {
            let warning = format!(
                "the service on this database runs with the public URL {served}, a local \
                 address customers cannot open: set KEYDROP_PUBLIC_URL on the service (or pass \
                 --public-url here)"
            );
            (served, Some(warning))
        }
        (None, Some(served)) => (served, None),
        (None, None) => (
            DEFAULT_LINK_BASE.to_owned(),
            Some(format!(
                "no keydrop serve has run on this database yet, and neither --public-url nor \
                 KEYDROP_PUBLIC_URL is set: this link assumes {DEFAULT_LINK_BASE} and works \
                 only where the service listens there"
            )),
        ),
    })
}

/// Whether a public URL names this machine or every address (`http://0.0.0.0:8080`, the
/// default of a `serve` started without `KEYDROP_PUBLIC_URL`): a link to it leads nowhere
/// for a customer.
fn is_local(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    let host = parsed.host_str().unwrap_or("");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback() || ip.is_unspecified(),
        Err(_) => host.is_empty() || host.eq_ignore_ascii_case("localhost"),
    }
}

/// Create an open drop, if `checker`'s configuration can serve its kind. `mail`: the keyring
/// a link to e-mail is sealed under until it is sent, when a mail server will send it (the
/// door decides: `Services::mail_keyring`, or the CLI from what the service recorded);
/// `None` refuses `send_to`.
pub async fn create(
    store: &Store,
    checker: &Checker,
    spec: DropSpec,
    origin: &Origin,
    public_url: &str,
    mail: Option<&Keyring>,
) -> Result<CreatedDrop, CreateError> {
    let kind = checker.kinds().get(spec.kind);
    if let Some(why) = kind.and_then(|k| k.unavailable(checker)) {
        return Err(CreateError::KindUnavailable(why));
    }
    let mail = match (&spec.send_to, mail) {
        (None, _) => None,
        (Some(_), None) => return Err(CreateError::NoMail),
        (Some(_), Some(keyring)) => Some(keyring),
    };
    let mut created = insert(store, spec, None, origin, public_url, mail).await?;
    created.warnings = kind
        .and_then(|k| k.staff_warning())
        .map(str::to_owned)
        .into_iter()
        .collect();
    Ok(created)
}

async fn insert(
    store: &Store,
    spec: DropSpec,
    replaces: Option<String>,
    origin: &Origin,
    public_url: &str,
    mail: Option<&Keyring>,
) -> Result<CreatedDrop, ServiceError> {
    let link = LinkToken::generate()?;
    let id = random::uuid()?.to_string();
    let now = store.now_ms();
    let mail = match (&spec.send_to, mail) {
        (Some(to), Some(keyring)) => Some(super::mail::new_mail(
            keyring,
            &id,
            &link,
            to,
            Purpose::Link,
            &origin.actor,
            now,
        )?),
        _ => None,
    };
    let expires_at = now.saturating_add(spec.expires_in.saturating_mul(1000));
    let profile_json =
        serde_json::to_string(&spec.profile).map_err(|e| ServiceError::Internal(e.to_string()))?;
    let metadata_json = spec
        .metadata
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    let new = NewDrop {
        id: id.clone(),
        token_hash: link.hash(),
        org: spec.org.clone(),
        note: spec.note.clone(),
        kind: spec.kind.as_str().to_owned(),
        profile_json,
        expires_at,
        max_attempts: spec.max_attempts,
        created_by: origin.actor.clone(),
        contact: spec.contact.clone(),
        external_id: spec.external_id.clone(),
        metadata_json,
        release: spec.release,
        replaces,
        mail,
    };
    let audit = origin.entry(Event::DropCreated {
        drop: id.clone(),
        org: spec.org.clone(),
        kind: spec.kind.as_str().to_owned(),
        profile: spec.profile.name.clone(),
        expires_at,
        max_attempts: spec.max_attempts,
        external_id: spec.external_id.clone(),
        release: spec.release,
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
        warnings: Vec::new(),
    })
}

/// What staff may change when they relink a credential (SPEC §15); everything else is the
/// replaced credential's drop's.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelinkRequest {
    #[serde(default)]
    pub send_to: Option<String>,
    #[serde(default, deserialize_with = "crate::domain::number::whole")]
    pub expires_in: Option<i64>,
    #[serde(default)]
    pub profile: Option<String>,
    #[serde(default)]
    pub required: Option<Vec<String>>,
    #[serde(default)]
    pub optional: Option<Vec<String>>,
}

/// Why no relink drop was made.
#[derive(Debug, thiserror::Error)]
pub enum RelinkError {
    #[error("no such credential")]
    NotFound,
    /// Another relink's credential already replaced it.
    #[error("this credential was already replaced by credential {0}; relink that one")]
    Replaced(String),
    /// The request does not make a valid drop (422).
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Create(#[from] CreateError),
}

/// A new drop whose credential will replace credential `id` once accepted (SPEC §15): the
/// same org, kind, release, contact, external_id, metadata and limits as the replaced
/// credential's drop, its permissions unless `req` names others. Works for a broken
/// (destroyed) credential too — that is what relinking is for. When the new drop's
/// credential is accepted, the old one is superseded and destroyed in the same transaction
/// and any other open relink of it is revoked (`Store::accept_credential`).
pub async fn relink(
    store: &Store,
    checker: &Checker,
    id: &str,
    req: RelinkRequest,
    origin: &Origin,
    public_url: &str,
    mail: Option<&Keyring>,
) -> Result<CreatedDrop, RelinkError> {
    let Some(old) = store
        .credential_meta(id)
        .await
        .map_err(ServiceError::from)
        .map_err(CreateError::from)?
    else {
        return Err(RelinkError::NotFound);
    };
    if let Some(by) = old.superseded_by {
        return Err(RelinkError::Replaced(by));
    }
    let Some(drop) = store
        .drop_by_id(&old.drop_id)
        .await
        .map_err(ServiceError::from)
        .map_err(CreateError::from)?
    else {
        return Err(RelinkError::NotFound);
    };
    let request = |profile, required, optional| crate::domain::drop::DropRequest {
        org: drop.org.clone(),
        note: drop.note.clone(),
        kind: Some(drop.kind),
        profile,
        required,
        optional,
        expires_in: req.expires_in,
        max_attempts: Some(drop.max_attempts),
        contact: drop.contact.clone(),
        external_id: drop.external_id.clone(),
        metadata: drop.metadata.clone(),
        release: Some(drop.release),
        send_to: req.send_to.clone(),
    };
    let spec = if req.profile.is_some() || req.required.is_some() || req.optional.is_some() {
        request(
            req.profile.clone(),
            req.required.clone(),
            req.optional.clone(),
        )
        .validate(checker.kinds())
        .map_err(RelinkError::Invalid)?
    } else {
        // The old drop's permissions: under its profile's name while the catalogue still
        // means the same by it, else as lists.
        match request(Some(drop.profile.name.clone()), None, None).validate(checker.kinds()) {
            Ok(spec) if spec.profile == drop.profile => spec,
            _ => request(
                None,
                Some(drop.profile.required.clone()),
                Some(drop.profile.optional.clone()),
            )
            .validate(checker.kinds())
            .map_err(RelinkError::Invalid)?,
        }
    };
    let kind = checker.kinds().get(spec.kind);
    if let Some(why) = kind.and_then(|k| k.unavailable(checker)) {
        return Err(CreateError::KindUnavailable(why).into());
    }
    if spec.send_to.is_some() && mail.is_none() {
        return Err(CreateError::NoMail.into());
    }
    let mut created = insert(store, spec, Some(old.id), origin, public_url, mail)
        .await
        .map_err(CreateError::from)?;
    created.warnings = kind
        .and_then(|k| k.staff_warning())
        .map(str::to_owned)
        .into_iter()
        .collect();
    Ok(created)
}

/// A drop and, once one was accepted, its credential's metadata.
pub async fn find(
    store: &Store,
    id: &str,
) -> Result<Option<(DropRecord, Option<CredentialMeta>)>, ServiceError> {
    let Some(drop) = store.drop_by_id(id).await? else {
        return Ok(None);
    };
    let credential = match &drop.credential_id {
        Some(cid) => store.credential_meta(cid).await?,
        None => None,
    };
    Ok(Some((drop, credential)))
}

/// What revoking found.
#[derive(Debug)]
pub enum Revoked {
    /// It was open and is now revoked (audited in the same transaction).
    Now(DropRecord),
    /// It was not open: nothing changed.
    NotOpen(DropRecord),
    NotFound,
}

impl Revoked {
    /// Why a drop that was not open could not be revoked, in one line.
    pub fn reason(drop: &DropRecord) -> String {
        format!(
            "the drop is {}, not open",
            if drop.state == DropState::Open {
                "past its expiry"
            } else {
                drop.state.as_str()
            }
        )
    }
}

/// Revoke an open drop: one conditional update and its `drop.revoke`
/// event by `origin`, in one transaction.
pub async fn revoke(store: &Store, id: &str, origin: &Origin) -> Result<Revoked, ServiceError> {
    let audit = origin.entry(Event::DropRevoked {
        drop: id.to_owned(),
    });
    Ok(
        match store.close_drop(id, DropState::Revoked, &audit).await? {
            None => Revoked::NotFound,
            Some(Ok(drop)) => Revoked::Now(drop),
            Some(Err(drop)) => Revoked::NotOpen(drop),
        },
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn local_public_urls_are_told_apart() {
        for local in [
            "http://0.0.0.0:8080",
            "http://127.0.0.1:8081",
            "http://localhost:8080",
            "http://[::1]:8080",
            "http://[::]:8080",
        ] {
            assert!(super::is_local(local), "{local}");
        }
        for public in ["https://keys.acme.example", "http://10.0.0.7:8080"] {
            assert!(!super::is_local(public), "{public}");
        }
    }
}
