use actix_web::{HttpResponse, post, web};

use crate::api::consent::ConsentStorageRequest;
use crate::domain::consent::normalise_type;
use crate::error::{ApiError, ErrorBody};
use crate::extract::CallbackJson;
use crate::observe::RequestContext;
use crate::services::consent::{self, DecisionCall};
use crate::state::AppState;

/// Store the user's consent decision.
///
/// Appends an immutable record (approved or rejected, the version of the text last served
/// to the process, time, correlation ids). Repeats and changes of mind are kept as
/// history; the latest decision counts. Answers 204 with no body; an unknown consent type
/// is a 404.
#[utoipa::path(
    tag = "callbacks",
    request_body = ConsentStorageRequest,
    responses(
        (status = 204, description = "Decision stored"),
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
#[post("/consent/storage")]
#[tracing::instrument(name = "consent_storage", skip_all, fields(process_id = ?body.0.process_id))]
pub async fn consent_storage(
    state: web::Data<AppState>,
    ctx: RequestContext,
    body: CallbackJson<ConsentStorageRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.0;
    let now = state.clock.now();
    if !state.consents.knows(&req.consent_type) {
        return Err(ApiError::NotFound("unknown consentType".into()));
    }
    let consent_type = normalise_type(&req.consent_type);
    let call = DecisionCall {
        process_id: req.process_id.as_deref(),
        process_type: req.process_type.as_deref(),
        user_id: req.user_id.as_deref(),
        consent_type: &consent_type,
        approved: req.approved,
    };
    let text_version = consent::record_decision(&state.db, call, &ctx, now).await?;
    if text_version.is_none() {
        tracing::warn!("consent decision for a text this process was never served");
    }
    tracing::info!(consent_type = %consent_type, approved = req.approved, "consent decision stored");
    Ok(HttpResponse::NoContent().finish())
}
