//! A small in-process AWS KMS (`Encrypt` / `Decrypt`, JSON 1.1) for the
//! faults a real one does not produce on demand: throttling, its own
//! failures, a key that comes back different. Its "ciphertext" is the
//! plaintext and the context in the clear — it checks the encryption
//! context, not secrecy.

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct FakeKmsState {
    /// Answer this many requests with `fail_with` before answering again.
    pub failures_left: usize,
    /// Status and `__type` of a failure.
    pub fail_with: (u16, &'static str),
    /// Decrypt returns a different key.
    pub corrupt: bool,
    pub requests: usize,
}

pub struct FakeKms {
    pub url: String,
    pub state: Arc<Mutex<FakeKmsState>>,
    handle: actix_web::dev::ServerHandle,
}

async fn handle(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Mutex<FakeKmsState>>,
) -> HttpResponse {
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let signed = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256 Credential="));
    let mut s = state.lock().unwrap();
    s.requests += 1;
    if !signed {
        return HttpResponse::BadRequest()
            .json(json!({ "__type": "MissingAuthenticationTokenException" }));
    }
    if s.failures_left > 0 {
        s.failures_left -= 1;
        let (status, kind) = s.fail_with;
        return HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
            .json(json!({ "__type": kind, "message": "fake failure" }));
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match target.as_str() {
        "TrentService.Encrypt" => {
            let blob = json!({ "key": body["KeyId"], "ctx": body["EncryptionContext"], "pt": body["Plaintext"] });
            HttpResponse::Ok().json(
                json!({ "CiphertextBlob": B64.encode(blob.to_string()), "KeyId": body["KeyId"] }),
            )
        }
        "TrentService.Decrypt" => {
            let blob: Value = B64
                .decode(body["CiphertextBlob"].as_str().unwrap_or(""))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or(Value::Null);
            if blob["ctx"] != body["EncryptionContext"] || blob["key"] != body["KeyId"] {
                return HttpResponse::BadRequest()
                    .json(json!({ "__type": "InvalidCiphertextException" }));
            }
            let pt = if s.corrupt {
                B64.encode([7u8; 32])
            } else {
                blob["pt"].as_str().unwrap_or("").to_owned()
            };
            HttpResponse::Ok().json(json!({ "Plaintext": pt, "KeyId": body["KeyId"] }))
        }
        _ => HttpResponse::BadRequest().json(json!({ "__type": "UnknownOperationException" })),
    }
}

impl FakeKms {
    pub async fn start() -> Self {
        Self::start_on(std::net::TcpListener::bind("127.0.0.1:0").unwrap())
    }

    pub fn start_on(listener: std::net::TcpListener) -> Self {
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(FakeKmsState::default()));
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(1 << 16))
                .route("/", web::post().to(handle))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { url, state, handle }
    }

    pub fn set(&self, f: impl FnOnce(&mut FakeKmsState)) {
        f(&mut self.state.lock().unwrap());
    }

    pub fn requests(&self) -> usize {
        self.state.lock().unwrap().requests
    }
}

impl Drop for FakeKms {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        tokio::spawn(async move { handle.stop(false).await });
    }
}
