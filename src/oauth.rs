//! OAuth 2.0 client credentials (RFC 6749 §4.4) for outbound calls: fetches an access token
//! from the configured token endpoint, keeps it until shortly before it expires, and fetches
//! a new one when the peer refuses the cached one.
//!
//! Single flight: callers wait on one lock while a token is fetched, so a burst of
//! deliveries makes one token request, not one each. The token and the client secret are
//! `SecretString`s: never logged, never in an error text.

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::configuration::{OAuth2ClientAuth, OAuth2Settings};
use crate::outbound::{describe, read_capped};

/// Longest token response read (a JWT with many claims is a few KiB).
const MAX_TOKEN_RESPONSE: usize = 64 * 1024;
/// Lifetime assumed when the token response gives no `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
/// A token is renewed this long before it expires at most (a quarter of its lifetime for
/// short-lived tokens).
const MAX_REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// Why no token could be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    /// The token endpoint could not be reached or failed (5xx, timeout): try again later.
    #[error("token endpoint unavailable: {0}")]
    Unavailable(String),
    /// The token endpoint refused the client (4xx, e.g. `invalid_client`) or answered
    /// something that is no bearer token: a configuration problem.
    #[error("token endpoint refused the client: {0}")]
    Refused(String),
}

struct Cached {
    token: SecretString,
    renew_at: Instant,
}

/// A cached client-credentials token for one token endpoint and client.
pub struct TokenSource {
    http: reqwest::Client,
    settings: OAuth2Settings,
    cached: tokio::sync::Mutex<Option<Cached>>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("token_url", &self.settings.token_url)
            .field("client_id", &self.settings.client_id)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: SecretString,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<f64>,
}

/// The RFC 6749 error body (`{"error": "invalid_client", …}`): only the code is kept.
#[derive(Deserialize)]
struct TokenErrorBody {
    error: String,
}

impl TokenSource {
    pub fn new(http: reqwest::Client, settings: OAuth2Settings) -> Self {
        Self {
            http,
            settings,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// A token valid for a while yet: the cached one, or a new one.
    ///
    /// # Errors
    /// See [`TokenError`].
    pub async fn token(&self) -> Result<SecretString, TokenError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && Instant::now() < c.renew_at
        {
            return Ok(c.token.clone());
        }
        let fresh = self.fetch().await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Forgets `refused` (the peer answered 401 to it), unless another caller has replaced
    /// it already; the next [`TokenSource::token`] fetches a new one.
    pub async fn forget(&self, refused: &SecretString) {
        let mut cached = self.cached.lock().await;
        if cached
            .as_ref()
            .is_some_and(|c| c.token.expose_secret() == refused.expose_secret())
        {
            *cached = None;
        }
    }

    async fn fetch(&self) -> Result<Cached, TokenError> {
        let s = &self.settings;
        let mut form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
        if let Some(scope) = &s.scope {
            form.push(("scope", scope));
        }
        if let Some(audience) = &s.audience {
            form.push(("audience", audience));
        }
        let mut request = self
            .http
            .post(&s.token_url)
            .header(reqwest::header::ACCEPT, "application/json");
        match s.client_auth {
            OAuth2ClientAuth::Basic => {
                // RFC 6749 §2.3.1: id and secret form-encoded, then Basic.
                let encode =
                    |v: &str| form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
                request = request.basic_auth(
                    encode(&s.client_id),
                    Some(encode(s.client_secret.expose_secret())),
                );
            }
            OAuth2ClientAuth::Post => {
                form.push(("client_id", &s.client_id));
                form.push(("client_secret", s.client_secret.expose_secret()));
            }
        }
        let requested_at = Instant::now();
        let response = request
            .form(&form)
            .send()
            .await
            .map_err(|e| TokenError::Unavailable(describe(&e)))?;
        let status = response.status();
        let body = read_capped(response, MAX_TOKEN_RESPONSE)
            .await
            .map_err(TokenError::Unavailable)?;
        if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
            return Err(TokenError::Unavailable(format!("HTTP {}", status.as_u16())));
        }
        if !status.is_success() {
            let code = serde_json::from_slice::<TokenErrorBody>(&body)
                .map(|b| b.error.chars().take(64).collect::<String>())
                .unwrap_or_default();
            return Err(TokenError::Refused(format!(
                "HTTP {} {code}",
                status.as_u16()
            )));
        }
        let answer: TokenResponse = serde_json::from_slice(&body)
            .map_err(|_| TokenError::Refused("a token response without access_token".into()))?;
        if answer
            .token_type
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
        {
            return Err(TokenError::Refused(
                "a token that is not a bearer token".into(),
            ));
        }
        let lifetime = answer
            .expires_in
            .filter(|s| s.is_finite() && *s > 0.0)
            .map_or(DEFAULT_LIFETIME, |s| {
                Duration::from_secs_f64(s.min(86_400.0 * 365.0))
            });
        let margin = (lifetime / 4).min(MAX_REFRESH_MARGIN);
        tracing::info!(
            token_url = %s.token_url,
            lifetime_ms = u64::try_from(lifetime.as_millis()).unwrap_or(u64::MAX),
            "access token fetched"
        );
        Ok(Cached {
            token: answer.access_token,
            renew_at: requested_at + lifetime - margin,
        })
    }
}
