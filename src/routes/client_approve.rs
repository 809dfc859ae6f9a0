use actix_web::{post, web};

use super::decide::{DecisionCall, decide, image_summary};
use crate::api::client::{ApproveRequest, DecisionResponse};
use crate::error::{ApiError, ErrorBody};
use crate::extract::CallbackJson;
use crate::observe::RequestContext;
use crate::state::AppState;

/// Approve the onboarding (2.1+).
///
/// Called after the presence check (and the identity-verification OTP, if enabled) with
/// the presence-check `status`, `score`, provider and the selfie `frame`. Answers `OK`,
/// `NOK` or `WAIT`; `resultReason` is always a string (the Onboarding Server fails the
/// approval on null). Until a decision policy is configured the answer is the configured
/// default outcome (`WAIT` / `MANUAL_REVIEW`). Identical repeated calls get the stored
/// answer.
#[utoipa::path(
    tag = "callbacks",
    request_body = ApproveRequest,
    responses(
        (status = 200, description = "Decision", body = DecisionResponse),
        (status = 400, description = "Invalid request", body = ErrorBody),
        (status = 401, description = "Missing or wrong credentials", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ),
    security(("basic_auth" = []))
)]
#[post("/client/approve")]
#[tracing::instrument(name = "client_approve", skip_all, fields(
    process_id = %body.0.process_id,
    identity_verification_id = %body.0.identity_verification_id,
))]
pub async fn client_approve(
    state: web::Data<AppState>,
    ctx: RequestContext,
    body: CallbackJson<ApproveRequest>,
) -> Result<web::Json<DecisionResponse>, ApiError> {
    approve(&state, &ctx, body.0).await.map(web::Json)
}

/// The same as `/client/approve`, at the path of an early-2025 documentation draft
/// (deprecated alias; the Onboarding Server code never used it).
#[utoipa::path(
    tag = "callbacks",
    request_body = ApproveRequest,
    responses(
        (status = 200, description = "Decision", body = DecisionResponse),
        (status = 400, description = "Invalid request", body = ErrorBody),
        (status = 401, description = "Missing or wrong credentials", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ),
    security(("basic_auth" = [])),
)]
#[post("/client/approval")]
pub async fn client_approval_alias(
    state: web::Data<AppState>,
    ctx: RequestContext,
    body: CallbackJson<ApproveRequest>,
) -> Result<web::Json<DecisionResponse>, ApiError> {
    approve(&state, &ctx, body.0).await.map(web::Json)
}

async fn approve(
    state: &AppState,
    ctx: &RequestContext,
    req: ApproveRequest,
) -> Result<DecisionResponse, ApiError> {
    let canonical = serde_json::to_vec(&req).map_err(|e| ApiError::Unexpected(e.into()))?;
    let mut summary = serde_json::to_value(&req).map_err(|e| ApiError::Unexpected(e.into()))?;
    if let Some(frame) = summary.pointer_mut("/presenceCheckResult/frame") {
        *frame = image_summary(frame.as_str());
    }
    let call = DecisionCall {
        point: "approve",
        process_id: req.process_id,
        process_type: req.process_type,
        identity_verification_id: req.identity_verification_id,
        user_id: req.user_id,
        provider: req.provider,
        status: req.status.map(|s| format!("{s:?}").to_uppercase()),
        verification_id: None,
        canonical,
        summary,
    };
    decide(state, ctx, call).await
}
