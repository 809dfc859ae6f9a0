//! The client of the Onboarding Server's private API (`/api/private/client/evaluate` and
//! `/api/private/client/approve`), used by the outbox worker: authentication (Basic, a
//! static bearer token or header, OAuth 2.0 client credentials), the W3C `traceparent` of
//! the call, and what came back, read within a size cap and sorted into [`CallOutcome`].

use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::configuration::OnboardingServerSettings;
use crate::oauth::{TokenError, TokenSource};
use crate::outbound::{describe, install_crypto_provider, read_capped};

/// Longest answer body read; the rest is not read (a 200 answer is a few dozen bytes).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// What one call came back with.
#[derive(Debug, Clone)]
pub enum CallOutcome {
    /// HTTP 200 with `{"result": "OK"|"NOK", "resultReason": …}`.
    Answered {
        result: String,
        reason: Option<String>,
    },
    /// Any other HTTP status: the server's own text when the body is its error JSON
    /// (`{"status":"ERROR","responseObject":{"code","message"}}`), an excerpt otherwise,
    /// and the `Retry-After` it asked for.
    Status {
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
    /// No answer: connection refused, timeout, TLS, unreadable body. `maybe_applied` is true
    /// when the request may have reached the server (sent, then the answer was lost).
    Transport { error: String, maybe_applied: bool },
    /// The identity provider refused our client credentials: nothing was sent.
    TokenRefused { error: String },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AckResponse {
    result: String,
    #[serde(default)]
    result_reason: Option<String>,
}

/// Wultra's `ErrorResponse`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorResponse {
    response_object: ErrorObject,
}

#[derive(Debug, Deserialize)]
struct ErrorObject {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

enum Auth {
    None,
    Basic {
        username: String,
        password: Option<SecretString>,
    },
    Bearer(SecretString),
    /// The value is marked sensitive: never in reqwest's debug output.
    Header {
        name: reqwest::header::HeaderName,
        value: reqwest::header::HeaderValue,
    },
    OAuth2(TokenSource),
}

/// One client per process (it holds the connection pool and the cached token).
#[derive(Clone)]
pub struct OnboardingClient {
    http: reqwest::Client,
    url: Option<String>,
    auth: std::sync::Arc<Auth>,
}

impl OnboardingClient {
    /// # Errors
    /// When the HTTP client cannot be built (TLS set-up) or a header name is invalid.
    pub fn new(settings: &OnboardingServerSettings) -> anyhow::Result<Self> {
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
            .timeout(Duration::from_millis(settings.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("onboarding-adapter/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("Failed to build the Onboarding Server HTTP client")?;
        let auth = if let Some(oauth2) = &settings.oauth2 {
            Auth::OAuth2(TokenSource::new(http.clone(), oauth2.clone()))
        } else if let Some(token) = &settings.bearer_token {
            Auth::Bearer(token.clone())
        } else if let Some(header) = &settings.header {
            let mut value = reqwest::header::HeaderValue::from_str(header.value.expose_secret())
                .context("onboarding_server.header.value is not a valid header value")?;
            value.set_sensitive(true);
            Auth::Header {
                name: reqwest::header::HeaderName::try_from(header.name.as_str())
                    .context("onboarding_server.header.name")?,
                value,
            }
        } else if let Some(username) = &settings.username {
            Auth::Basic {
                username: username.clone(),
                password: settings.password.clone(),
            }
        } else {
            Auth::None
        };
        Ok(Self {
            http,
            url: settings.url.clone(),
            auth: std::sync::Arc::new(auth),
        })
    }

    pub fn configured(&self) -> bool {
        self.url.is_some()
    }

    /// POSTs `payload` to `{url}{path}` with the configured authentication. With OAuth 2.0,
    /// a 401 makes the cached token be dropped and the call be sent once more with a new
    /// one (a 401 means the request was not applied).
    pub async fn post(
        &self,
        path: &str,
        payload: &serde_json::Value,
        correlation_id: &str,
        traceparent: &str,
    ) -> CallOutcome {
        let Some(base) = &self.url else {
            return CallOutcome::Transport {
                error: "onboarding_server.url is not configured".into(),
                maybe_applied: false,
            };
        };
        let url = format!("{}{}", base.trim_end_matches('/'), path);
        let first = self.send(&url, payload, correlation_id, traceparent).await;
        match (&*self.auth, first) {
            (Auth::OAuth2(tokens), Sent::Unauthorized(refused)) => {
                tokens.forget(&refused).await;
                tracing::info!(
                    "the Onboarding Server refused the access token; fetching a new one"
                );
                self.send(&url, payload, correlation_id, traceparent)
                    .await
                    .into_outcome()
            }
            (_, sent) => sent.into_outcome(),
        }
    }

    async fn send(
        &self,
        url: &str,
        payload: &serde_json::Value,
        correlation_id: &str,
        traceparent: &str,
    ) -> Sent {
        let mut request = self
            .http
            .post(url)
            .header("X-Correlation-Id", correlation_id)
            .header("traceparent", traceparent)
            .json(payload);
        let mut bearer = None;
        match &*self.auth {
            Auth::None => {}
            Auth::Basic { username, password } => {
                request =
                    request.basic_auth(username, password.as_ref().map(|p| p.expose_secret()));
            }
            Auth::Bearer(token) => request = request.bearer_auth(token.expose_secret()),
            Auth::Header { name, value } => request = request.header(name.clone(), value.clone()),
            Auth::OAuth2(tokens) => match tokens.token().await {
                Ok(token) => {
                    request = request.bearer_auth(token.expose_secret());
                    bearer = Some(token);
                }
                Err(TokenError::Unavailable(e)) => {
                    return Sent::Done(CallOutcome::Transport {
                        error: format!("token endpoint unavailable: {e}"),
                        maybe_applied: false,
                    });
                }
                Err(TokenError::Refused(e)) => {
                    return Sent::Done(CallOutcome::TokenRefused { error: e });
                }
            },
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                // A connect error never reached the server; a timeout or a broken
                // connection after sending may have.
                let maybe_applied = !e.is_connect() && !e.is_builder();
                return Sent::Done(CallOutcome::Transport {
                    error: describe(&e),
                    maybe_applied,
                });
            }
        };
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers());
        let body = match read_capped(response, MAX_RESPONSE_BYTES).await {
            Ok(b) => b,
            Err(error) => {
                return Sent::Done(CallOutcome::Transport {
                    error,
                    maybe_applied: true,
                });
            }
        };
        if status == 401
            && let Some(token) = bearer
        {
            return Sent::Unauthorized(token);
        }
        if status != 200 {
            return Sent::Done(CallOutcome::Status {
                status,
                message: server_message(&body),
                retry_after,
            });
        }
        Sent::Done(match serde_json::from_slice::<AckResponse>(&body) {
            Ok(ack) => CallOutcome::Answered {
                result: ack.result,
                reason: ack.result_reason,
            },
            Err(_) => CallOutcome::Transport {
                error: "HTTP 200 with an unreadable body".into(),
                maybe_applied: true,
            },
        })
    }
}

/// One send: an outcome, or a 401 to an OAuth token (which the caller may renew once).
enum Sent {
    Done(CallOutcome),
    Unauthorized(SecretString),
}

impl Sent {
    fn into_outcome(self) -> CallOutcome {
        match self {
            Self::Done(outcome) => outcome,
            Self::Unauthorized(_) => CallOutcome::Status {
                status: 401,
                message: "the access token was refused".into(),
                retry_after: None,
            },
        }
    }
}

/// The server's text of an error answer: `code: message` of its `ErrorResponse`, or the
/// first 200 characters of whatever else it sent.
fn server_message(body: &[u8]) -> String {
    if let Ok(e) = serde_json::from_slice::<ErrorResponse>(body) {
        let o = e.response_object;
        return match (o.code, o.message) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(text), None) | (None, Some(text)) => text,
            (None, None) => String::new(),
        }
        .chars()
        .take(400)
        .collect();
    }
    String::from_utf8_lossy(body).chars().take(200).collect()
}

/// `Retry-After` as seconds or an HTTP date, at most [`MAX_RETRY_AFTER`].
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let wait = if let Ok(seconds) = value.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
        (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_servers_error_response_gives_its_code_and_message() {
        let body = br#"{"status":"ERROR","responseObject":{"code":"ERROR_GENERIC","message":"Identity verification is not in CLIENT_EVALUATION phase."}}"#;
        assert_eq!(
            server_message(body),
            "ERROR_GENERIC: Identity verification is not in CLIENT_EVALUATION phase."
        );
        assert_eq!(server_message(b"<html>busy</html>"), "<html>busy</html>");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates_and_is_capped() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(reqwest::header::RETRY_AFTER, "999999".parse().unwrap());
        assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER));
        h.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(reqwest::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }
}
