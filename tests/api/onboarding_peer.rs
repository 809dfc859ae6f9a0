//! A real HTTP server standing in for the Onboarding Server's private API: records every
//! call and answers from a script (status, body, delay), then with `200 {"result":"OK"}`.
//!
//! With [`Peer::require_oauth`] it is also the identity provider: `POST /oauth/token`
//! (client credentials, HTTP Basic) issues tokens that expire after the given lifetime, and
//! a private-API call without a live token is answered 401 as Spring Security does (no
//! JSON body), before the script is consulted.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

pub const PEER_USER: &str = "bank-callback";
pub const PEER_PASSWORD: &str = "bank-callback-secret";

#[derive(Debug, Clone)]
pub struct RecordedCall {
    pub path: String,
    pub authorization: Option<String>,
    pub traceparent: Option<String>,
    pub api_key: Option<String>,
    pub body: Value,
}

pub const OAUTH_CLIENT: &str = "adapter-client";
pub const OAUTH_SECRET: &str = "adapter-client-secret";

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub delay: Duration,
    pub retry_after: Option<u64>,
}

impl Reply {
    pub fn ok() -> Self {
        Self::status(200, json!({"result": "OK", "resultReason": null}))
    }
    pub fn status(status: u16, body: Value) -> Self {
        Self {
            status,
            body,
            delay: Duration::ZERO,
            retry_after: None,
        }
    }
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

#[derive(Default)]
struct PeerState {
    calls: Vec<RecordedCall>,
    script: VecDeque<Reply>,
    default_delay: Duration,
    /// Token lifetime when the peer requires OAuth 2.0 bearer tokens.
    oauth_lifetime: Option<Duration>,
    /// Issued tokens and when each expires.
    tokens: Vec<(String, std::time::Instant)>,
    token_requests: usize,
    refused_for_token: usize,
}

pub struct Peer {
    pub url: String,
    state: Arc<Mutex<PeerState>>,
    handle: actix_web::dev::ServerHandle,
}

impl Peer {
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(PeerState::default()));
        let (tx, rx) = std::sync::mpsc::channel();
        let shared = state.clone();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(web::Data::new(shared.clone()))
                        .default_service(web::to(answer))
                })
                .workers(2)
                .bind(("127.0.0.1", 0))
                .expect("bind peer");
                let url = format!("http://127.0.0.1:{}", server.addrs()[0].port());
                let server = server.run();
                tx.send((url, server.handle())).expect("send");
                let _ = server.await;
            });
        });
        let (url, handle) = rx.recv().expect("peer started");
        Self { url, state, handle }
    }

    /// Answers the next calls with `replies`, in order.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.lock().expect("lock").script.extend(replies);
    }

    /// Requires bearer tokens from its own token endpoint, living `lifetime` each.
    pub fn require_oauth(&self, lifetime: Duration) {
        self.state.lock().expect("lock").oauth_lifetime = Some(lifetime);
    }

    /// Forgets every issued token (as an identity provider revoking them).
    pub fn revoke_tokens(&self) {
        self.state.lock().expect("lock").tokens.clear();
    }

    /// Token requests answered, and private-API calls refused for want of a live token.
    pub fn oauth_counts(&self) -> (usize, usize) {
        let s = self.state.lock().expect("lock");
        (s.token_requests, s.refused_for_token)
    }

    pub fn set_default_delay(&self, delay: Duration) {
        self.state.lock().expect("lock").default_delay = delay;
    }

    pub fn calls(&self) -> Vec<RecordedCall> {
        self.state.lock().expect("lock").calls.clone()
    }

    pub async fn wait_for_calls(&self, n: usize, within: Duration) -> Vec<RecordedCall> {
        let deadline = std::time::Instant::now() + within;
        loop {
            let calls = self.calls();
            if calls.len() >= n || std::time::Instant::now() > deadline {
                return calls;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

async fn answer(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<Mutex<PeerState>>>,
) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    if req.path() == "/oauth/token" {
        return issue_token(&state, header("authorization"), &body);
    }
    let (reply, default_delay) = {
        let mut s = state.lock().expect("lock");
        if s.oauth_lifetime.is_some() {
            let now = std::time::Instant::now();
            let presented =
                header("authorization").and_then(|a| a.strip_prefix("Bearer ").map(str::to_owned));
            let live = presented.is_some_and(|t| {
                s.tokens
                    .iter()
                    .any(|(token, until)| *token == t && now < *until)
            });
            if !live {
                s.refused_for_token += 1;
                return HttpResponse::Unauthorized().finish();
            }
        }
        s.calls.push(RecordedCall {
            path: req.path().to_owned(),
            authorization: header("authorization"),
            traceparent: header("traceparent"),
            api_key: header("x-api-key"),
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        });
        (
            s.script.pop_front().unwrap_or_else(Reply::ok),
            s.default_delay,
        )
    };
    tokio::time::sleep(reply.delay.max(default_delay)).await;
    let mut response =
        HttpResponse::build(actix_web::http::StatusCode::from_u16(reply.status).expect("status"));
    if let Some(seconds) = reply.retry_after {
        response.insert_header(("Retry-After", seconds.to_string()));
    }
    response.json(reply.body)
}

/// The client-credentials grant, checked as an identity provider does.
fn issue_token(
    state: &Arc<Mutex<PeerState>>,
    authorization: Option<String>,
    body: &[u8],
) -> HttpResponse {
    use base64::Engine;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{OAUTH_CLIENT}:{OAUTH_SECRET}"))
    );
    let form = String::from_utf8_lossy(body);
    if authorization.as_deref() != Some(expected.as_str())
        || !form
            .split('&')
            .any(|p| p == "grant_type=client_credentials")
    {
        return HttpResponse::Unauthorized().json(json!({"error": "invalid_client"}));
    }
    let mut s = state.lock().expect("lock");
    let lifetime = s.oauth_lifetime.unwrap_or(Duration::from_secs(60));
    s.token_requests += 1;
    let token = format!(
        "token-{}-{}",
        s.token_requests,
        uuid::Uuid::new_v4().simple()
    );
    s.tokens
        .push((token.clone(), std::time::Instant::now() + lifetime));
    HttpResponse::Ok().json(json!({
        "access_token": token, "token_type": "Bearer", "expires_in": lifetime.as_secs_f64(),
    }))
}
