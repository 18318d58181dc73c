//! An in-process OpenID Connect provider on loopback, for what a real one will not do on
//! demand: a bad signature, `alg: none`, an HMAC-signed token, the wrong `aud` or `iss`, an
//! expired token, the wrong `nonce`, an unverified e-mail, a rotated signing key, being down.
//! It checks what keydrop sends: PKCE S256, `client_secret_basic`, the `redirect_uri`.

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
pub const CLIENT_ID: &str = "keydrop-console";
pub const CLIENT_SECRET: &str = "idp-client-secret-1f0a9c2e";

/// What the next ID token does wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mischief {
    Nothing,
    BadSignature,
    AlgNone,
    Hs256,
    WrongAudience,
    WrongIssuer,
    Expired,
    WrongNonce,
    UnverifiedEmail,
    /// The ID token carries only `sub`; e-mail and groups are at the userinfo endpoint.
    ClaimsInUserinfo,
}

struct Key {
    kid: String,
    pkcs8: Vec<u8>,
    x: String,
    y: String,
}

fn new_key(kid: &str) -> Key {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .unwrap()
        .as_ref()
        .to_vec();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng).unwrap();
    let point = pair.public_key().as_ref();
    Key {
        kid: kid.into(),
        x: B64.encode(&point[1..33]),
        y: B64.encode(&point[33..65]),
        pkcs8,
    }
}

struct Grant {
    nonce: String,
    challenge: String,
    redirect_uri: String,
}

pub struct Person {
    pub email: String,
    pub email_verified: bool,
    pub groups: Vec<String>,
}

struct State {
    issuer: String,
    key: Key,
    mischief: Mischief,
    person: Person,
    codes: HashMap<String, Grant>,
    down: bool,
    jwks_fetches: usize,
    auth_methods: Vec<String>,
}

pub struct FakeIdp {
    pub issuer: String,
    state: Arc<Mutex<State>>,
    handle: actix_web::dev::ServerHandle,
}

impl FakeIdp {
    pub async fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let state = Arc::new(Mutex::new(State {
            issuer: issuer.clone(),
            key: new_key("k1"),
            mischief: Mischief::Nothing,
            person: Person {
                email: "grace@acme.example".into(),
                email_verified: true,
                groups: vec!["keydrop-issuers".into()],
            },
            codes: HashMap::new(),
            down: false,
            jwks_fetches: 0,
            auth_methods: Vec::new(),
        }));
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route(
                    "/.well-known/openid-configuration",
                    web::get().to(discovery),
                )
                .route("/jwks", web::get().to(jwks))
                .route("/authorize", web::get().to(authorize))
                .route("/token", web::post().to(token))
                .route("/userinfo", web::get().to(userinfo))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        crate::support::helpers::remember_secret(CLIENT_SECRET);
        Self {
            issuer,
            state,
            handle,
        }
    }

    /// keydrop's settings for this provider: a confidential client; `keydrop-admins` are
    /// admins, `keydrop-issuers` issuers, `keydrop-auditors` auditors; any domain.
    pub fn settings(&self) -> keydrop::config::OidcSettings {
        let mut s = keydrop::config::OidcSettings::new(
            &self.issuer,
            CLIENT_ID,
            Some(CLIENT_SECRET),
            "http://127.0.0.1/console/oidc/callback",
        );
        s.admins = vec!["keydrop-admins".into()];
        s.issuers = vec!["keydrop-issuers".into()];
        s.auditors = vec!["keydrop-auditors".into()];
        s
    }

    pub fn misbehave(&self, m: Mischief) {
        self.state.lock().unwrap().mischief = m;
    }

    pub fn person(&self, email: &str, groups: &[&str]) {
        let mut st = self.state.lock().unwrap();
        st.person = Person {
            email: email.into(),
            email_verified: true,
            groups: groups.iter().map(|g| g.to_string()).collect(),
        };
    }

    /// A new signing key with a new `kid`; the old one is gone from the JWKS.
    pub fn rotate_key(&self, kid: &str) {
        self.state.lock().unwrap().key = new_key(kid);
    }

    pub fn set_down(&self, down: bool) {
        self.state.lock().unwrap().down = down;
    }

    pub fn jwks_fetches(&self) -> usize {
        self.state.lock().unwrap().jwks_fetches
    }

    /// How keydrop authenticated at the token endpoint, per request.
    pub fn auth_methods(&self) -> Vec<String> {
        self.state.lock().unwrap().auth_methods.clone()
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

type Data = web::Data<Mutex<State>>;

fn unavailable() -> HttpResponse {
    HttpResponse::ServiceUnavailable().finish()
}

async fn discovery(st: Data) -> HttpResponse {
    let st = st.lock().unwrap();
    if st.down {
        return unavailable();
    }
    let i = &st.issuer;
    HttpResponse::Ok().json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "jwks_uri": format!("{i}/jwks"),
        "userinfo_endpoint": format!("{i}/userinfo"),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(st: Data) -> HttpResponse {
    let mut st = st.lock().unwrap();
    if st.down {
        return unavailable();
    }
    st.jwks_fetches += 1;
    let k = &st.key;
    HttpResponse::Ok().json(json!({ "keys": [
        // An encryption key keydrop must skip, and the signing key.
        { "kty": "RSA", "use": "enc", "alg": "RSA-OAEP-256", "kid": "enc-1", "n": "sXch", "e": "AQAB" },
        { "kty": "EC", "use": "sig", "alg": "ES256", "crv": "P-256", "kid": k.kid, "x": k.x, "y": k.y },
    ]}))
}

async fn authorize(st: Data, q: web::Query<HashMap<String, String>>) -> HttpResponse {
    let mut st = st.lock().unwrap();
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    if get("response_type") != "code"
        || get("client_id") != CLIENT_ID
        || get("code_challenge_method") != "S256"
        || get("code_challenge").len() != 43
        || get("nonce").is_empty()
        || get("state").is_empty()
        || !get("scope").split(' ').any(|s| s == "openid")
    {
        return HttpResponse::BadRequest().body("bad authorization request");
    }
    let code = B64.encode(
        ring::rand::generate::<[u8; 24]>(&ring::rand::SystemRandom::new())
            .unwrap()
            .expose(),
    );
    let redirect_uri = get("redirect_uri");
    st.codes.insert(
        code.clone(),
        Grant {
            nonce: get("nonce"),
            challenge: get("code_challenge"),
            redirect_uri: redirect_uri.clone(),
        },
    );
    let mut to = reqwest::Url::parse(&redirect_uri).unwrap();
    to.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &get("state"));
    HttpResponse::SeeOther()
        .insert_header(("Location", to.to_string()))
        .finish()
}

fn refuse(error: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({ "error": error }))
}

async fn token(
    st: Data,
    req: HttpRequest,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let mut st = st.lock().unwrap();
    if st.down {
        return unavailable();
    }
    // client_secret_basic, as keydrop prefers.
    let basic = req
        .headers()
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    match basic {
        Some(pair) if pair == format!("{CLIENT_ID}:{CLIENT_SECRET}") => {
            st.auth_methods.push("client_secret_basic".into())
        }
        Some(_) => return HttpResponse::Unauthorized().json(json!({ "error": "invalid_client" })),
        None if form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET) => {
            st.auth_methods.push("client_secret_post".into())
        }
        None => return HttpResponse::Unauthorized().json(json!({ "error": "invalid_client" })),
    }
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    if get("grant_type") != "authorization_code" {
        return refuse("unsupported_grant_type");
    }
    let Some(grant) = st.codes.remove(&get("code")) else {
        return refuse("invalid_grant");
    };
    let verifier_hash = B64.encode(ring::digest::digest(
        &ring::digest::SHA256,
        get("code_verifier").as_bytes(),
    ));
    if verifier_hash != grant.challenge || get("redirect_uri") != grant.redirect_uri {
        return refuse("invalid_grant");
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let m = st.mischief;
    let mut claims = json!({
        "iss": if m == Mischief::WrongIssuer { format!("{}/other", st.issuer) } else { st.issuer.clone() },
        "sub": "subject-7f3a",
        "aud": if m == Mischief::WrongAudience { "someone-else".to_string() } else { CLIENT_ID.to_string() },
        "iat": if m == Mischief::Expired { now - 900 } else { now },
        "exp": if m == Mischief::Expired { now - 600 } else { now + 300 },
        "nonce": if m == Mischief::WrongNonce { "not-this-sign-ins".to_string() } else { grant.nonce.clone() },
    });
    if m != Mischief::ClaimsInUserinfo {
        claims["email"] = json!(st.person.email);
        claims["email_verified"] =
            json!(st.person.email_verified && m != Mischief::UnverifiedEmail);
        claims["groups"] = json!(st.person.groups);
    }
    let id_token = match m {
        Mischief::AlgNone => format!(
            "{}.{}.",
            B64.encode(json!({ "alg": "none", "kid": st.key.kid }).to_string()),
            B64.encode(claims.to_string())
        ),
        Mischief::Hs256 => {
            let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
            h.kid = Some(st.key.kid.clone());
            jsonwebtoken::encode(
                &h,
                &claims,
                &jsonwebtoken::EncodingKey::from_secret(CLIENT_SECRET.as_bytes()),
            )
            .unwrap()
        }
        _ => {
            let stray;
            let key = if m == Mischief::BadSignature {
                stray = new_key(&st.key.kid);
                &stray
            } else {
                &st.key
            };
            let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
            h.kid = Some(key.kid.clone());
            jsonwebtoken::encode(
                &h,
                &claims,
                &jsonwebtoken::EncodingKey::from_ec_der(&key.pkcs8),
            )
            .unwrap()
        }
    };
    HttpResponse::Ok().json(json!({
        "access_token": "idp-access-token-for-userinfo",
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    }))
}

async fn userinfo(st: Data, req: HttpRequest) -> HttpResponse {
    let st = st.lock().unwrap();
    if req
        .headers()
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        != Some("Bearer idp-access-token-for-userinfo")
    {
        return HttpResponse::Unauthorized().finish();
    }
    HttpResponse::Ok().json(json!({
        "sub": "subject-7f3a",
        "email": st.person.email,
        "email_verified": st.person.email_verified,
        "groups": st.person.groups,
    }))
}
