//! The client of the Onboarding Server's private API (`/api/private/client/evaluate` and
//! `/api/private/client/approve`), used by the outbox worker.

use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::configuration::OnboardingServerSettings;

/// What one call came back with.
#[derive(Debug, Clone)]
pub enum CallOutcome {
    /// HTTP 200 with `{"result": "OK"|"NOK", "resultReason": …}`.
    Answered {
        result: String,
        reason: Option<String>,
    },
    /// Any other HTTP status.
    Status { status: u16, body_excerpt: String },
    /// No answer: connection refused, timeout, TLS, unreadable body. `maybe_applied` is true
    /// when the request may have reached the server (sent, then the answer was lost).
    Transport { error: String, maybe_applied: bool },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AckResponse {
    result: String,
    #[serde(default)]
    result_reason: Option<String>,
}

#[derive(Clone)]
pub struct OnboardingClient {
    http: reqwest::Client,
    settings: OnboardingServerSettings,
}

impl OnboardingClient {
    /// # Errors
    /// When the HTTP client cannot be built (TLS set-up).
    pub fn new(settings: &OnboardingServerSettings) -> anyhow::Result<Self> {
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
            .timeout(Duration::from_millis(settings.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("onboarding-adapter/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("Failed to build the Onboarding Server HTTP client")?;
        Ok(Self {
            http,
            settings: settings.clone(),
        })
    }

    pub fn configured(&self) -> bool {
        self.settings.url.is_some()
    }

    /// POSTs `payload` to `{url}{path}` with the configured authentication.
    pub async fn post(
        &self,
        path: &str,
        payload: &serde_json::Value,
        correlation_id: &str,
    ) -> CallOutcome {
        let Some(base) = &self.settings.url else {
            return CallOutcome::Transport {
                error: "onboarding_server.url is not configured".into(),
                maybe_applied: false,
            };
        };
        let url = format!("{}{}", base.trim_end_matches('/'), path);
        let mut request = self
            .http
            .post(url)
            .header("X-Correlation-Id", correlation_id)
            .json(payload);
        if let Some(token) = &self.settings.bearer_token {
            request = request.bearer_auth(token.expose_secret());
        } else if let Some(user) = &self.settings.username {
            request = request.basic_auth(
                user,
                self.settings.password.as_ref().map(|p| p.expose_secret()),
            );
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                // A connect error never reached the server; a timeout or a broken
                // connection after sending may have.
                let maybe_applied = !e.is_connect() && !e.is_builder();
                return CallOutcome::Transport {
                    error: classify(&e),
                    maybe_applied,
                };
            }
        };
        let status = response.status().as_u16();
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) => {
                return CallOutcome::Transport {
                    error: classify(&e),
                    maybe_applied: true,
                };
            }
        };
        if status != 200 {
            let excerpt: String = String::from_utf8_lossy(&body).chars().take(200).collect();
            return CallOutcome::Status {
                status,
                body_excerpt: excerpt,
            };
        }
        match serde_json::from_slice::<AckResponse>(&body) {
            Ok(ack) => CallOutcome::Answered {
                result: ack.result,
                reason: ack.result_reason,
            },
            Err(_) => CallOutcome::Transport {
                error: "HTTP 200 with an unreadable body".into(),
                maybe_applied: true,
            },
        }
    }
}

fn classify(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "response body"
    } else {
        "request failed"
    };
    // reqwest's Display carries the URL (no credentials: they travel in headers).
    format!("{kind}: {e}")
}

/// rustls needs one process-wide crypto provider; ring is the one the whole tree uses.
pub fn install_crypto_provider() {
    // An error only means a provider is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
