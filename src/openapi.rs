//! The OpenAPI document: info, tags and the Basic security scheme. Paths and schemas are
//! collected from the handlers by `utoipa_actix_web` in [`crate::startup::app`].

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "onboarding-adapter",
        description = "External Onboarding Services for Wultra's Onboarding Server: the bank-side \
            callbacks the Onboarding Server calls at its configured BASE_PATH (user lookup, OTP \
            delivery, consent, client evaluation and approval, process events). Every callback \
            is a JSON POST behind HTTP Basic authentication. Every non-2xx answer has the body \
            {\"errorCode\": \"ERROR_GENERIC\" | \"ERROR_UNAUTHORIZED\", \"message\": \"…\"}.",
        license(name = "Apache-2.0"),
    ),
    tags(
        (name = "callbacks", description = "Called by the Onboarding Server"),
        (name = "operations", description = "Health and metrics (no authentication)"),
        (name = "backoffice", description = "Review cases of WAIT decisions, their callbacks and the audit log \
            (own credentials; roles reviewer and admin)"),
    ),
    modifiers(&SecuritySchemes),
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basic_auth",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
        components.add_security_scheme(
            "backoffice_basic",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
    }
}

/// Fills what the collected document lacks: OpenAPI requires a `description` on every
/// response, so one without gets its status's reason phrase.
pub fn complete(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            for (status, response) in &mut operation.responses.responses {
                if let RefOr::T(response) = response
                    && response.description.is_empty()
                {
                    response.description = status
                        .parse::<u16>()
                        .ok()
                        .and_then(|s| actix_web::http::StatusCode::from_u16(s).ok())
                        .and_then(|s| s.canonical_reason())
                        .unwrap_or("Response")
                        .to_owned();
                }
            }
        }
    }
}

/// The document as committed in `openapi/openapi.json` (pretty JSON, trailing newline).
///
/// # Errors
/// Serialisation failure (not expected).
pub fn render(doc: &utoipa::openapi::OpenApi) -> anyhow::Result<String> {
    Ok(format!("{}\n", doc.to_pretty_json()?))
}
