use actix_web::{HttpResponse, post, web};

use crate::api::consent::{ConsentTextRequest, ConsentTextResponse};
use crate::error::{ApiError, ErrorBody};
use crate::extract::CallbackJson;
use crate::observe::RequestContext;
use crate::services::consent::{self, TextServed};
use crate::state::AppState;

/// Fetch the consent text.
///
/// Answers the HTML text of `consentType` in `language` (or the configured fallback
/// language). The version served (SHA-256 of the text) is recorded for the process, so the
/// decision stored later is linked to the exact text the user saw. An unknown consent type
/// is a 404 (no such consent text).
#[utoipa::path(
    tag = "callbacks",
    request_body = ConsentTextRequest,
    responses(
        (status = 200, description = "Consent text", body = ConsentTextResponse),
        (status = 400, description = "Invalid request", body = ErrorBody),
        (status = 401, description = "Missing or wrong credentials", body = ErrorBody),
        (status = 404, description = "Unknown consent type", body = ErrorBody,
            example = json!({"errorCode": "ERROR_GENERIC", "message": "unknown consentType"})),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ),
    security(("basic_auth" = []))
)]
#[post("/consent/text")]
#[tracing::instrument(name = "consent_text", skip_all, fields(process_id = %body.0.process_id))]
pub async fn consent_text(
    state: web::Data<AppState>,
    ctx: RequestContext,
    body: CallbackJson<ConsentTextRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.0;
    let now = state.clock.now();
    let text = state
        .consents
        .text(&req.consent_type, req.language.as_deref())
        .ok_or_else(|| ApiError::NotFound("unknown consentType".into()))?;
    let served = TextServed {
        process_id: &req.process_id,
        process_type: req.process_type.as_deref(),
        user_id: req.user_id.as_deref(),
        consent_type: &text.consent_type,
        language_requested: req.language.as_deref(),
        language_served: &text.language,
        text_version: &text.version,
    };
    consent::record_served(&state.db, served, &ctx, now).await?;
    // Debug: the record stored above says the same, and "request completed" logs the call.
    tracing::debug!(consent_type = %text.consent_type, language = %text.language, version = %text.version, "consent text served");
    Ok(HttpResponse::Ok().json(ConsentTextResponse {
        consent_text: text.html.clone(),
    }))
}
