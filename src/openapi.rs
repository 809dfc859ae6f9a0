//! The OpenAPI document: info, tags and the Basic security scheme. Paths and schemas are
//! collected from the handlers by `utoipa_actix_web` in [`crate::startup::app`].

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::configuration::LimitSettings;

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
/// response, so one without gets its status's reason phrase. The answers of the
/// middleware are added here rather than on each handler: 429 (login throttle) on every
/// authenticated operation, and on every state-changing back-office operation 403/415 (the
/// CSRF guard) and, when it has no body, a JSON one (its content type is required).
pub fn complete(doc: &mut utoipa::openapi::OpenApi, limits: &LimitSettings) {
    state_limits(doc, limits);
    use utoipa::openapi::RefOr;
    for item in doc.paths.paths.values_mut() {
        let state_changing = [
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in state_changing.into_iter().flatten() {
            if operation
                .tags
                .as_ref()
                .is_some_and(|t| t.iter().any(|t| t == "backoffice"))
            {
                guarded_against_csrf(operation);
            }
        }
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
            if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
                operation
                    .responses
                    .responses
                    .entry("429".into())
                    .or_insert_with(|| RefOr::T(throttled_response()));
            }
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

fn error_content() -> utoipa::openapi::Content {
    utoipa::openapi::ContentBuilder::new()
        .schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody")))
        .build()
}

fn throttled_response() -> utoipa::openapi::Response {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    utoipa::openapi::ResponseBuilder::new()
        .description(
            "Too many failed logins from this address or for this user name; the credentials \
             were not checked",
        )
        .content("application/json", error_content())
        .header(
            "Retry-After",
            utoipa::openapi::HeaderBuilder::new()
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(1)),
                ))
                .description(Some("Seconds to wait before the next attempt"))
                .build(),
        )
        .build()
}

/// A state-changing back-office operation: 403 for a cross-site request, 415 without a
/// JSON content type; a body-less one is documented with a JSON body (`{}`, ignored), since
/// its content type is required (the service also accepts an empty body with it).
fn guarded_against_csrf(operation: &mut utoipa::openapi::path::Operation) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    for (status, description) in [
        (
            "403",
            "Forbidden: the role does not allow it, or a cross-site request",
        ),
        (
            "415",
            "Unsupported media type: send Content-Type: application/json",
        ),
    ] {
        operation
            .responses
            .responses
            .entry(status.into())
            .or_insert_with(|| {
                RefOr::T(
                    utoipa::openapi::ResponseBuilder::new()
                        .description(description)
                        .content("application/json", error_content())
                        .build(),
                )
            });
    }
    if operation.request_body.is_none() {
        operation.request_body = Some(RefOr::T(
            utoipa::openapi::request_body::RequestBodyBuilder::new()
                .description(Some(
                    "Nothing to send: `{}` (or an empty body), but with Content-Type: \
                     application/json, required against cross-site requests; anything else \
                     is a 400 (413 above 4 KiB)",
                ))
                .required(Some(utoipa::openapi::Required::True))
                .content(
                    "application/json",
                    utoipa::openapi::ContentBuilder::new()
                        .schema(Some(
                            ObjectBuilder::new()
                                .schema_type(Type::Object)
                                .max_properties(Some(0)),
                        ))
                        .build(),
                )
                .build(),
        ));
        operation
            .responses
            .responses
            .entry("413".into())
            .or_insert_with(|| {
                RefOr::T(
                    utoipa::openapi::ResponseBuilder::new()
                        .description("Content too large: the body is over 4 KiB")
                        .content("application/json", error_content())
                        .build(),
                )
            });
    }
}

/// States the configured shape limits (`limits.*`) in the document, where the schema
/// attributes carry the defaults: what the document allows is what the service accepts.
pub fn state_limits(doc: &mut utoipa::openapi::OpenApi, limits: &LimitSettings) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::Schema;
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    let data_texts: &[&str] = &[
        "givenNames",
        "surname",
        "placeOfBirth",
        "sex",
        "nationality",
        "personalNumber",
        "documentNumber",
        "authority",
    ];
    let items: [(&str, &[&str], usize); 3] = [
        ("EvaluateRequest", &["extractedData"], limits.max_documents),
        ("DocumentCheckResult", &["documents"], limits.max_documents),
        (
            "DocumentResult",
            &["images"],
            limits.max_images_per_document,
        ),
    ];
    let texts: [(&str, &[&str]); 4] = [
        ("DocumentResult", &["country"]),
        ("DocumentImage", &["type"]),
        ("Person", &["surname", "givenNames"]),
        ("DocumentData", data_texts),
    ];
    for (schema, names, max) in items {
        for name in names {
            if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(schema)
                && let Some(RefOr::T(Schema::Array(array))) = object.properties.get_mut(*name)
            {
                array.max_items = Some(max);
            }
        }
    }
    for (schema, names) in texts {
        for name in names {
            if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(schema)
                && let Some(RefOr::T(Schema::Object(text))) = object.properties.get_mut(*name)
            {
                text.max_length = Some(limits.max_text_chars);
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
