//! Releasing credentials to workers (SPEC §3, §4): claim, ack, a secret by id, an access
//! token by id — and destroying one. Every release is audited before it leaves (the
//! release batcher or the claim's transaction); what leaves depends on the drop's release
//! mode, decided here once: `handoff` hands the secret over, `vend` only ever an access
//! token.

use crate::domain::credential::CredentialMeta;
use crate::domain::event::{Event, Origin};
use crate::domain::release::Release;
use crate::service::delivery::{self, Plaintext};
use crate::service::vend::{AccessToken, VendError};
use crate::service::{ServiceError, Services};
use crate::store::{AckResult, Lease, SecretRead};

/// What a claim handed out.
pub enum Claimed {
    /// A `handoff` credential: its secret JSON, as stored.
    Secret {
        meta: CredentialMeta,
        secret: Plaintext,
        lease: Lease,
    },
    /// A `vend` credential: an access token, never the secret behind it.
    Token {
        meta: CredentialMeta,
        token: AccessToken,
        lease: Lease,
    },
}

/// Names the credential, never what it holds.
impl std::fmt::Debug for Claimed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (what, meta) = match self {
            Claimed::Secret { meta, .. } => ("Claimed::Secret", meta),
            Claimed::Token { meta, .. } => ("Claimed::Token", meta),
        };
        f.debug_struct(what)
            .field("credential", &meta.id)
            .finish_non_exhaustive()
    }
}

impl Services {
    /// Lease the next waiting credential for `lease_secs` (SPEC §4 `claim`). A `vend`
    /// credential comes with an access token; if none can be had, the lease is given back
    /// at once and the error says why.
    pub async fn claim(
        &self,
        lease_secs: i64,
        origin: &Origin,
    ) -> Result<Option<Claimed>, VendError> {
        let Some((meta, secret, lease)) =
            delivery::claim(&self.store, &self.keyring, lease_secs, origin).await?
        else {
            return Ok(None);
        };
        self.metrics.claim();
        if meta.release == Release::Handoff {
            return Ok(Some(Claimed::Secret {
                meta,
                secret,
                lease,
            }));
        }
        // The secret never leaves keydrop: the claim carries an access token instead.
        std::mem::drop(secret);
        match self.access_token(&meta.id, origin).await {
            Ok(token) => Ok(Some(Claimed::Token { meta, token, lease })),
            Err(e) => {
                if let Err(err) = self.store.return_lease(&meta.id, &lease.id, origin).await {
                    tracing::error!(error = %err, credential = %meta.id, "could not give a lease back");
                }
                Err(e)
            }
        }
    }

    /// Acknowledge delivery under `lease_id`; with no retention the secret is destroyed in
    /// the same transaction.
    pub async fn ack(
        &self,
        id: &str,
        lease_id: &str,
        origin: &Origin,
    ) -> Result<AckResult, ServiceError> {
        let destroy_now = self.settings.retain_after_delivery.is_zero();
        Ok(self.store.ack(id, lease_id, destroy_now, origin).await?)
    }

    /// The secret of `handoff` credential `id`, its read audited first.
    pub async fn secret(
        &self,
        id: &str,
        origin: &Origin,
    ) -> Result<SecretRead<Plaintext>, ServiceError> {
        let audit = origin.entry(Event::SecretRead {
            credential: id.to_owned(),
        });
        let read = self.releases.read(id.to_owned(), audit).await?;
        if matches!(read, SecretRead::Released(..)) {
            self.metrics.release();
        }
        Ok(read)
    }

    /// An access token of `vend` credential `id`, valid at least five minutes, its issue
    /// audited (see `service::vend`).
    pub async fn access_token(&self, id: &str, origin: &Origin) -> Result<AccessToken, VendError> {
        let (_, token) = self.vendor.access_token(id, origin).await?;
        self.metrics.access_token();
        Ok(token)
    }

    /// Destroy credential `id` now (its ciphertext and data key), audited.
    pub async fn destroy(
        &self,
        id: &str,
        origin: &Origin,
    ) -> Result<Option<CredentialMeta>, ServiceError> {
        Ok(self.store.destroy_credential(id, origin).await?)
    }
}
