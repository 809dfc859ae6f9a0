//! A real HTTP server standing in for the Onboarding Server's private API: records every
//! call and answers from a script (status, body, delay), then with `200 {"result":"OK"}`.

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
    pub body: Value,
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub delay: Duration,
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
        }
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
    let (reply, default_delay) = {
        let mut s = state.lock().expect("lock");
        s.calls.push(RecordedCall {
            path: req.path().to_owned(),
            authorization: req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        });
        (
            s.script.pop_front().unwrap_or_else(Reply::ok),
            s.default_delay,
        )
    };
    tokio::time::sleep(reply.delay.max(default_delay)).await;
    HttpResponse::build(actix_web::http::StatusCode::from_u16(reply.status).expect("status"))
        .json(reply.body)
}
