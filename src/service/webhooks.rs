//! Webhook endpoints and signing (SPEC §11, Standard Webhooks).
//!
//! - A signing secret is `whsec_` + base64 of 32 random bytes; the bytes
//!   are the HMAC-SHA256 key. It is shown once and stored sealed under the
//!   keyring (named `webhook:<endpoint>:<generation>`, so a sealed secret
//!   moved to another endpoint does not open).
//! - `webhook-signature` is `v1,<base64 HMAC(key, "<id>.<timestamp>.<body>")>`,
//!   one per live secret, space-separated (both during a rotation's 24 h).
//! - Targets must be `https://` on a public address (after DNS
//!   resolution, re-checked on every delivery and pinned for it) unless
//!   `KEYDROP_WEBHOOK_ALLOW_PRIVATE`; no userinfo; redirects are never followed.
//!
//! *Over 400 lines:* its unit tests (signatures against the Standard Webhooks vectors) are inline; the code is ~420 lines.

use super::ServiceError;
use crate::crypto::cipher;
use crate::crypto::keyring::Keyring;
use crate::domain::event::{Event, Origin};
use crate::store::webhooks::Endpoint;
use crate::store::Store;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use std::net::{IpAddr, SocketAddr};
use zeroize::Zeroizing;

/// How long the secret before a rotation still signs.
pub const ROTATION_OVERLAP_MS: i64 = 24 * 3600 * 1000;

/// Why an endpoint request was refused (a 422 upstream).
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Service(#[from] ServiceError),
}

impl From<crate::store::StoreError> for WebhookError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Service(e.into())
    }
}

impl From<crate::crypto::CryptoError> for WebhookError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        Self::Service(e.into())
    }
}

/// What a new endpoint asks for.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub url: String,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
}

/// A checked target: the URL, its host, and the address to pin.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: reqwest::Url,
    pub host: String,
    pub addr: SocketAddr,
}

/// Check a URL's shape (no I/O).
pub fn parse_url(text: &str, allow_private: bool) -> Result<reqwest::Url, String> {
    if text.len() > 2048 {
        return Err("the url is longer than 2048 characters".into());
    }
    let url = reqwest::Url::parse(text).map_err(|_| "the url is not a valid absolute URL")?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => {
            return Err("the url must start with https:// (plain http only with \
                 KEYDROP_WEBHOOK_ALLOW_PRIVATE, for internal receivers)"
                .into())
        }
        _ => return Err("the url must start with https://".into()),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the url must not contain a user name or password".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the url has no host".into());
    }
    Ok(url)
}

/// Whether `ip` is not a public unicast address a webhook may go to: loopback, private
/// ranges, link-local, carrier-grade NAT, benchmarking, reserved, unique-local, site-local,
/// unspecified, multicast, documentation… An IPv4 address carried inside an IPv6 one
/// (mapped, compatible, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) is judged as that IPv4
/// address (SPEC §8.10); tunnels whose inner address is hidden or local (Teredo, the IETF
/// protocol block `2001::/23`, local-use NAT64 `64:ff9b:1::/48`) are refused outright.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 192 && o[1] == 88 && o[2] == 99) // 6to4 relay anycast
                || (o[0] == 198 && (18..20).contains(&o[1])) // benchmarking
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_ipv4(v6) {
                return is_private(IpAddr::V4(v4));
            }
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique-local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x2001 && s[1] < 0x0200) // 2001::/23: Teredo, benchmarking, ORCHID…
                || (s[0] == 0x0064 && s[1] == 0xff9b && s[2] == 0x0001) // local-use NAT64
                || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0) // discard-only
                || (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0 && s[4] == 0)
            // ::/80 rest
        }
    }
}

/// The IPv4 address an IPv6 address carries, for the forms that reach it: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) and 6to4
/// (`2002:aabb:ccdd::/48`).
fn embedded_ipv4(v6: std::net::Ipv6Addr) -> Option<std::net::Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = v6.segments();
    let o = v6.octets();
    let last = std::net::Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    if s[..6] == [0, 0, 0, 0, 0, 0] && !v6.is_loopback() && !v6.is_unspecified() {
        return Some(last); // IPv4-compatible (deprecated)
    }
    if s[..6] == [0x0064, 0xff9b, 0, 0, 0, 0] {
        return Some(last); // NAT64, well-known prefix
    }
    if s[0] == 0x2002 {
        return Some(std::net::Ipv4Addr::new(o[2], o[3], o[4], o[5])); // 6to4
    }
    None
}

/// Resolve the URL's host and check every address it resolves to: one
/// private address is enough to refuse (an attacker's DNS may answer
/// differently next time). The first address is the one to pin.
pub async fn resolve(url: &reqwest::Url, allow_private: bool) -> Result<Target, String> {
    let host = url.host_str().unwrap_or_default().to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((bare.as_str(), port))
            .await
            .map_err(|_| format!("the host {host} does not resolve"))?
            .collect(),
    };
    let Some(first) = addrs.first().copied() else {
        return Err(format!("the host {host} does not resolve"));
    };
    if !allow_private && addrs.iter().any(|a| is_private(a.ip())) {
        return Err(format!(
            "{host} resolves to a private, loopback or link-local address; webhooks go to public \
             addresses only (set KEYDROP_WEBHOOK_ALLOW_PRIVATE for internal receivers)"
        ));
    }
    Ok(Target {
        url: url.clone(),
        host: bare,
        addr: first,
    })
}

fn check_events(events: &Option<Vec<String>>) -> Result<(), String> {
    if let Some(list) = events {
        if list.is_empty() || list.len() > 32 {
            return Err("events must list 1 to 32 event types (or be left out for all)".into());
        }
        // Never quote what was sent: it may be anything pasted by mistake.
        if let Some(i) = list
            .iter()
            .position(|e| !crate::domain::webhook::is_type(e))
        {
            return Err(format!(
                "events[{i}] is not an event type; known types: {}",
                crate::domain::webhook::TYPES.join(", ")
            ));
        }
    }
    Ok(())
}

fn check_description(d: &Option<String>) -> Result<(), String> {
    match d {
        Some(d) if d.chars().count() > 500 || d.chars().any(char::is_control) => {
            Err("description must be at most 500 printable characters".into())
        }
        _ => Ok(()),
    }
}

fn secret_name(endpoint: &str, generation: i64) -> String {
    format!("webhook:{endpoint}:{generation}")
}

/// `whsec_` + base64 of the key.
fn whsec(key: &[u8; 32]) -> Zeroizing<String> {
    Zeroizing::new(format!("whsec_{}", B64.encode(key)))
}

/// Register an endpoint; returns it and its signing secret (shown once).
pub async fn create(
    store: &Store,
    keyring: &Keyring,
    origin: &Origin,
    new: NewEndpoint,
    allow_private: bool,
) -> Result<(Endpoint, Zeroizing<String>), WebhookError> {
    let url = parse_url(&new.url, allow_private).map_err(WebhookError::Invalid)?;
    resolve(&url, allow_private)
        .await
        .map_err(WebhookError::Invalid)?;
    check_events(&new.events).map_err(WebhookError::Invalid)?;
    check_description(&new.description).map_err(WebhookError::Invalid)?;
    let id = crate::crypto::random::uuid()?.to_string();
    let (key, sealed) = cipher::new_service_secret(keyring, &secret_name(&id, 1))?;
    let endpoint = Endpoint {
        id: id.clone(),
        url: url.to_string(),
        description: new.description,
        events: new.events,
        enabled: true,
        disabled_reason: None,
        secret_generation: 1,
        secret: sealed,
        previous: None,
        created_at: 0,
        updated_at: 0,
    };
    let audit = origin.entry(Event::WebhookCreated {
        endpoint: id.clone(),
        url_host: url.host_str().unwrap_or_default().to_owned(),
    });
    store.insert_endpoint(&endpoint, &audit).await?;
    let stored = store
        .endpoint(&id)
        .await?
        .ok_or_else(|| ServiceError::Internal("the new endpoint could not be read back".into()))?;
    Ok((stored, whsec(&key)))
}

/// A new signing secret; the old one signs too for [`ROTATION_OVERLAP_MS`].
/// Remove endpoint `id` and its pending deliveries, audited by `origin`; what it was, or
/// `None` when there is no such endpoint.
pub async fn remove(
    store: &Store,
    origin: &Origin,
    id: &str,
) -> Result<Option<Endpoint>, ServiceError> {
    let Some(e) = store.endpoint(id).await? else {
        return Ok(None);
    };
    let audit = origin.entry(Event::WebhookDeleted {
        endpoint: id.to_owned(),
    });
    Ok(store.delete_endpoint(id, &audit).await?.then_some(e))
}

pub async fn rotate(
    store: &Store,
    keyring: &Keyring,
    origin: &Origin,
    id: &str,
) -> Result<Option<Zeroizing<String>>, WebhookError> {
    let Some(e) = store.endpoint(id).await? else {
        return Ok(None);
    };
    let generation = e.secret_generation + 1;
    let (key, sealed) = cipher::new_service_secret(keyring, &secret_name(id, generation))?;
    let until = store.now_ms().saturating_add(ROTATION_OVERLAP_MS);
    let audit = origin.entry(Event::WebhookSecretRotated {
        endpoint: id.to_owned(),
    });
    if !store
        .rotate_endpoint_secret(id, generation, &sealed, until, &audit)
        .await?
    {
        return Err(WebhookError::Invalid(
            "the secret was rotated at the same moment by another request; try again".into(),
        ));
    }
    Ok(Some(whsec(&key)))
}

/// The keys that sign now: the current secret, and the previous one while
/// its overlap lasts.
pub fn signing_keys(
    keyring: &Keyring,
    e: &Endpoint,
    now_ms: i64,
) -> Result<Vec<Zeroizing<[u8; 32]>>, crate::crypto::CryptoError> {
    let mut keys = vec![cipher::open_service_secret(
        keyring,
        &secret_name(&e.id, e.secret_generation),
        &e.secret,
    )?];
    if let Some((generation, sealed, until)) = &e.previous {
        if *until > now_ms {
            keys.push(cipher::open_service_secret(
                keyring,
                &secret_name(&e.id, *generation),
                sealed,
            )?);
        }
    }
    Ok(keys)
}

/// The `webhook-signature` header value for one message.
pub fn signature(keys: &[Zeroizing<[u8; 32]>], id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter()
        .map(|k| sign_one(k.as_ref(), id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

fn sign_one(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let mut ctx = ring::hmac::Context::with_key(&key);
    ctx.update(id.as_bytes());
    ctx.update(b".");
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    format!("v1,{}", B64.encode(ctx.sign().as_ref()))
}

/// Send one delivery again now (`…/retry`), audited as `webhook.retry`; refused while a
/// dispatcher holds it.
pub async fn retry(
    store: &Store,
    origin: &Origin,
    endpoint: &str,
    delivery: &str,
) -> Result<crate::store::webhooks::Retried, ServiceError> {
    let audit = origin.entry(Event::WebhookDeliveryRetried {
        endpoint: endpoint.to_owned(),
        delivery: delivery.to_owned(),
    });
    Ok(store.retry_delivery(endpoint, delivery, &audit).await?)
}

/// Queue a `webhook.ping` for one endpoint. `None`: no such endpoint.
pub async fn ping(
    store: &Store,
    origin: &Origin,
    id: &str,
) -> Result<Option<String>, ServiceError> {
    let message = crate::domain::webhook::Message {
        kind: "webhook.ping",
        data: serde_json::json!({ "endpoint_id": id }),
    };
    let audit = origin.entry(Event::WebhookPinged {
        endpoint: id.to_owned(),
    });
    Ok(store.enqueue_for(id, &message, &audit).await?)
}

/// Seal every endpoint's signing secrets under the active master key (part
/// of `keys rewrap`): the current one and, while its overlap after a
/// rotation lasts, the previous one, each on its own (a previous secret is
/// kept for the rest of its 24 h, so receivers that have not switched yet
/// still verify). Previous secrets whose overlap is over are forgotten.
/// Returns how many secrets moved.
pub async fn reseal_all(store: &Store, keyring: &Keyring) -> Result<usize, ServiceError> {
    store.drop_expired_previous_secrets().await?;
    let active = keyring.active_version();
    let now = store.now_ms();
    let mut moved = 0;
    for e in store.list_endpoints().await? {
        if e.secret.key_version != active {
            let name = secret_name(&e.id, e.secret_generation);
            let new = cipher::reseal_service_secret(keyring, &name, &e.secret)?;
            let audit = Origin::cli().entry(Event::WebhookSecretResealed {
                endpoint: e.id.clone(),
                generation: e.secret_generation,
                key_version: active,
            });
            if store
                .reseal_endpoint_secret(
                    &e.id,
                    e.secret_generation,
                    e.secret.key_version,
                    &new,
                    &audit,
                )
                .await?
            {
                moved += 1;
            }
        }
        if let Some((generation, sealed, until)) = &e.previous {
            if *until <= now || sealed.key_version == active {
                continue;
            }
            let name = secret_name(&e.id, *generation);
            let new = cipher::reseal_service_secret(keyring, &name, sealed)?;
            let audit = Origin::cli().entry(Event::WebhookSecretResealed {
                endpoint: e.id.clone(),
                generation: *generation,
                key_version: active,
            });
            if store
                .reseal_previous_endpoint_secret(
                    &e.id,
                    *generation,
                    sealed.key_version,
                    &new,
                    &audit,
                )
                .await?
            {
                moved += 1;
            }
        }
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_webhooks_test_vector() {
        let key = B64.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            sign_one(
                &key,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn private_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            // IPv4 embedded in IPv6 is judged as IPv4.
            "::127.0.0.1",
            "::10.1.2.3",
            "64:ff9b::10.0.0.1",
            "64:ff9b::127.0.0.1",
            "64:ff9b::169.254.169.254",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::1",
            "2002:c0a8:0101::",
            // Tunnels and special blocks.
            "64:ff9b:1::8.8.8.8",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:2::1",
            "fec0::1",
            "100::1",
            "::ffff:0:0",
            "198.18.0.1",
            "198.19.255.254",
            "192.88.99.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "2606:4700::1111",
            "8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:0808:0808::1",
            "::ffff:8.8.8.8",
            "198.20.0.1",
        ] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn url_shapes() {
        assert!(parse_url("https://hooks.example.com/x", false).is_ok());
        assert!(parse_url("http://hooks.example.com/x", false).is_err());
        assert!(parse_url("http://127.0.0.1:9/x", true).is_ok());
        assert!(parse_url("https://user:pw@hooks.example.com/", false).is_err());
        assert!(parse_url("ftp://hooks.example.com/", true).is_err());
        assert!(parse_url("not a url", true).is_err());
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused() {
        let url = parse_url("https://localhost/hook", false).unwrap();
        assert!(resolve(&url, false).await.is_err());
        assert!(resolve(&url, true).await.is_ok());
        let url = parse_url("https://127.0.0.1/hook", false).unwrap();
        assert!(resolve(&url, false).await.is_err());
    }
}
