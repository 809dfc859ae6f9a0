//! Back-office authentication: its own credentials and roles (`reviewer`, `admin`), kept
//! apart from the Onboarding Server's callback credentials.

use std::future::{Ready, ready};

use actix_web::dev::{Payload, ServiceRequest};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use actix_web_httpauth::extractors::basic::BasicAuth;
use secrecy::ExposeSecret;

use crate::auth::BasicAuthenticator;
use crate::configuration::{DEMO_ADMIN, DEMO_REVIEWER, Role, Settings};
use crate::error::ApiError;

/// The authenticated back-office user of the request.
#[derive(Debug, Clone)]
pub struct Staff {
    pub username: String,
    pub role: Role,
}

impl Staff {
    /// # Errors
    /// 403 when the user's role is below `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this action needs the {} role",
                role.as_str()
            )))
        }
    }
}

impl FromRequest for Staff {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let staff = req.extensions().get::<Staff>().cloned();
        ready(staff.ok_or_else(|| {
            ApiError::Unauthorized {
                realm: "onboarding-adapter-backoffice".into(),
            }
            .into()
        }))
    }
}

/// Wrapper so the back-office authenticator is a distinct app-data type.
#[derive(Clone, Debug)]
pub struct StaffAuthenticator(pub BasicAuthenticator);

/// The back-office credentials: configured users, or the demo users in demo mode (see
/// [`Settings::demo_mode`]); `None` (every back-office request is refused) otherwise.
pub fn authenticator(settings: &Settings) -> Option<StaffAuthenticator> {
    let b = &settings.backoffice;
    if !b.users.is_empty() {
        return Some(StaffAuthenticator(BasicAuthenticator::tagged(
            &b.realm,
            b.users.iter().map(|u| {
                (
                    u.username.as_str(),
                    u.password.expose_secret(),
                    u.role.as_str(),
                )
            }),
        )));
    }
    if settings.demo_mode().unwrap_or(false) {
        tracing::warn!(
            "demo mode (nothing real configured, loopback listener): accepting the demo back-office users documented in the README"
        );
        return Some(StaffAuthenticator(BasicAuthenticator::tagged(
            &b.realm,
            [
                (DEMO_REVIEWER.0, DEMO_REVIEWER.1, Role::Reviewer.as_str()),
                (DEMO_ADMIN.0, DEMO_ADMIN.1, Role::Admin.as_str()),
            ]
            .into_iter(),
        )));
    }
    tracing::warn!("no backoffice.users configured: the back-office API refuses every request");
    None
}

/// Validator for the `/admin` scope.
///
/// # Errors
/// 401 when credentials are missing or wrong.
pub async fn validate(
    req: ServiceRequest,
    credentials: Option<BasicAuth>,
) -> Result<ServiceRequest, (actix_web::Error, ServiceRequest)> {
    let authenticator = req.app_data::<web::Data<StaffAuthenticator>>().cloned();
    let realm = authenticator
        .as_ref()
        .map_or("onboarding-adapter-backoffice".to_owned(), |a| {
            a.0.realm().to_owned()
        });
    let staff = match (&authenticator, &credentials) {
        (Some(a), Some(c)) => {
            let granted =
                match a
                    .0
                    .login(req.request(), c.user_id(), c.password().unwrap_or_default())
                {
                    Ok(granted) => granted,
                    Err(throttled) => return Err((crate::auth::throttled_error(throttled), req)),
                };
            granted
                .and_then(|tag| match tag {
                    "admin" => Some(Role::Admin),
                    "reviewer" => Some(Role::Reviewer),
                    _ => None,
                })
                .map(|role| Staff {
                    username: c.user_id().to_owned(),
                    role,
                })
        }
        _ => None,
    };
    match staff {
        Some(staff) => {
            tracing::info!(staff = %staff.username, role = staff.role.as_str(), "back-office user authenticated");
            req.extensions_mut().insert(staff);
            Ok(req)
        }
        None => {
            tracing::warn!("back-office request with missing or wrong credentials rejected");
            Err((ApiError::Unauthorized { realm }.into(), req))
        }
    }
}
