//! HTTP Basic authentication of the Onboarding Server's callbacks (and, through
//! [`BasicAuthenticator::tagged`], of the back office), and the password-strength warning.
//!
//! Every configured pair is compared on every request, in constant time, on SHA-256
//! digests of username and password: the time taken does not depend on which username
//! was sent, whether it exists, or how much of a password matched. Failed logins are
//! throttled per source address and user name ([`crate::throttle`]).

use std::sync::Arc;

use actix_web::dev::ServiceRequest;
use actix_web_httpauth::extractors::basic::BasicAuth;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use crate::configuration::Credential;
use crate::error::ApiError;
use crate::throttle::{Attempt, LoginThrottle, Throttled};

#[derive(Clone)]
struct CredentialDigest {
    username: [u8; 32],
    password: [u8; 32],
    /// What the pair grants (a back-office role); empty for callback credentials.
    tag: String,
}

/// The accepted credentials, kept only as digests.
#[derive(Clone)]
pub struct BasicAuthenticator {
    realm: String,
    accepted: Arc<Vec<CredentialDigest>>,
    throttle: Option<LoginThrottle>,
}

impl std::fmt::Debug for BasicAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicAuthenticator")
            .field("realm", &self.realm)
            .field("credentials", &self.accepted.len())
            .finish()
    }
}

fn digest(value: &[u8]) -> [u8; 32] {
    Sha256::digest(value).into()
}

impl BasicAuthenticator {
    pub fn new(realm: &str, credentials: &[Credential]) -> Self {
        Self::tagged(
            realm,
            credentials
                .iter()
                .map(|c| (c.username.as_str(), c.password.expose_secret(), "")),
        )
    }

    /// Credentials that each grant a tag (e.g. a role), see [`BasicAuthenticator::identify`].
    pub fn tagged<'a>(
        realm: &str,
        credentials: impl Iterator<Item = (&'a str, &'a str, &'a str)>,
    ) -> Self {
        let accepted = credentials
            .map(|(user, password, tag)| CredentialDigest {
                username: digest(user.as_bytes()),
                password: digest(password.as_bytes()),
                tag: tag.to_owned(),
            })
            .collect();
        Self {
            realm: realm.to_owned(),
            accepted: Arc::new(accepted),
            throttle: None,
        }
    }

    /// Failed logins are throttled by `throttle` (see [`BasicAuthenticator::login`]).
    #[must_use]
    pub fn with_throttle(mut self, throttle: LoginThrottle) -> Self {
        self.throttle = Some(throttle);
        self
    }

    /// [`BasicAuthenticator::identify`] behind the login throttle: refused unchecked while
    /// the request's source address or user name is throttled.
    ///
    /// # Errors
    /// [`Throttled`], with the seconds to wait.
    pub fn login(
        &self,
        req: &actix_web::HttpRequest,
        username: &str,
        password: &str,
    ) -> Result<Option<&str>, Throttled> {
        match &self.throttle {
            None => Ok(self.identify(username, password)),
            Some(throttle) => throttle.login(
                Attempt {
                    source: throttle.source(req),
                    username,
                },
                || self.identify(username, password),
            ),
        }
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// True when `username`/`password` equals one of the configured pairs.
    pub fn verify(&self, username: &str, password: &str) -> bool {
        self.identify(username, password).is_some()
    }

    /// The tag of the pair `username`/`password` matches. Every pair is compared, each in
    /// constant time, whatever matched.
    pub fn identify(&self, username: &str, password: &str) -> Option<&str> {
        let user = digest(username.as_bytes());
        let pass = digest(password.as_bytes());
        let mut found = None;
        for accepted in self.accepted.iter() {
            let matched: Choice = accepted.username.ct_eq(&user) & accepted.password.ct_eq(&pass);
            if bool::from(matched) {
                found = Some(accepted.tag.as_str());
            }
        }
        found
    }

    pub(crate) fn unauthorized(&self) -> actix_web::Error {
        ApiError::Unauthorized {
            realm: self.realm.clone(),
        }
        .into()
    }
}

/// Validator for `actix_web_httpauth`'s middleware; answers 401 with the JSON error body
/// and `WWW-Authenticate: Basic realm=…` when credentials are absent, malformed or wrong.
///
/// # Errors
/// The 401 error when the request is not authenticated.
pub async fn validate(
    req: ServiceRequest,
    credentials: Option<BasicAuth>,
) -> Result<ServiceRequest, (actix_web::Error, ServiceRequest)> {
    let Some(authenticator) = req.app_data::<actix_web::web::Data<BasicAuthenticator>>() else {
        let err = ApiError::Unexpected(anyhow::anyhow!("authenticator is not configured"));
        return Err((err.into(), req));
    };
    let authenticator = authenticator.clone();
    let Some(credentials) = credentials else {
        tracing::info!("request without Basic credentials rejected");
        return Err((authenticator.unauthorized(), req));
    };
    let password = credentials.password().unwrap_or_default();
    match authenticator.login(req.request(), credentials.user_id(), password) {
        Ok(Some(_)) => Ok(req),
        Ok(None) => {
            tracing::warn!("request with wrong Basic credentials rejected");
            Err((authenticator.unauthorized(), req))
        }
        Err(throttled) => Err((throttled_error(throttled), req)),
    }
}

/// The 429 answer of a throttled login.
pub fn throttled_error(throttled: Throttled) -> actix_web::Error {
    tracing::info!(
        reason = throttled.reason.as_str(),
        retry_after_secs = throttled.retry_after_secs,
        "login refused unchecked: throttled"
    );
    ApiError::TooManyRequests {
        retry_after_secs: throttled.retry_after_secs,
    }
    .into()
}

/// Why a configured password is weak (it is accepted, with a warning at start), if it is:
/// it contains the user name, repeats few characters, or is made of one kind of character
/// or a well-known word. Length is checked, and enforced, by the configuration.
pub fn password_weakness(username: &str, password: &str) -> Option<&'static str> {
    let lower = password.to_lowercase();
    let distinct = lower
        .chars()
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_numeric()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ]
    .into_iter()
    .filter(|present| *present)
    .count();
    if !username.is_empty() && lower.contains(&username.to_lowercase()) {
        Some("it contains the user name")
    } else if [
        "password", "passwort", "heslo", "qwerty", "123456", "letmein", "changeme", "admin",
        "secret",
    ]
    .iter()
    .any(|word| lower.contains(word))
    {
        Some("it contains a well-known word")
    } else if distinct < 8 {
        Some("it has fewer than 8 different characters")
    } else if classes < 2 {
        Some("it has only one kind of character (lower case, upper case, digits, symbols)")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn authenticator() -> BasicAuthenticator {
        let pair = |u: &str, p: &str| Credential {
            username: u.into(),
            password: SecretString::from(p.to_owned()),
        };
        BasicAuthenticator::new("r", &[pair("old", "old-secret"), pair("new", "new-secret")])
    }

    #[test]
    fn every_configured_pair_is_accepted_during_rotation() {
        let a = authenticator();
        assert!(a.verify("old", "old-secret"));
        assert!(a.verify("new", "new-secret"));
    }

    #[test]
    fn wrong_or_crossed_credentials_are_refused() {
        let a = authenticator();
        for (u, p) in [
            ("old", "new-secret"),
            ("new", "old-secret"),
            ("old", ""),
            ("", ""),
            ("nobody", "old-secret"),
            ("OLD", "old-secret"),
        ] {
            assert!(!a.verify(u, p), "{u}:{p} must be refused");
        }
    }

    #[test]
    fn weak_passwords_are_named_and_random_ones_are_not() {
        for (user, password, weak) in [
            ("os", "os-password-2024", true),
            ("callback", "my-CALLBACK-key-9", true),
            ("os", "aaaaaaaaaaaaaaaa", true),
            ("os", "abababababab1212", true),
            ("os", "correcthorsebatterystaple", true),
            ("os", "k7#Vq2!mZp9@xL4w", false),
            ("os", "tiger-lamp-violet-93", false),
        ] {
            assert_eq!(
                password_weakness(user, password).is_some(),
                weak,
                "{user}/{password}: {:?}",
                password_weakness(user, password)
            );
        }
    }

    #[test]
    fn no_configured_credentials_refuse_everybody() {
        let a = BasicAuthenticator::new("r", &[]);
        assert!(!a.verify("", ""));
    }
}
