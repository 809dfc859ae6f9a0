use actix_web::{post, web};

use super::decide::{DecisionCall, decide, image_summary};
use crate::api::client::{DecisionResponse, DecisionResult, EvaluateRequest};
use crate::error::{ApiError, ErrorBody};
use crate::extract::CallbackJson;
use crate::observe::RequestContext;
use crate::state::AppState;

/// Evaluate the verified documents.
///
/// Accepts every Onboarding Server version: 1.x (`verificationId`, `extractedData`),
/// 2.1/2.2 (`documentCheckResult` with or without extracted data, `rawData` as a string or
/// an object, `DRIVING_LICENCE` or `DRIVING_LICENSE`). Answers `OK`, `NOK` or `WAIT` with a
/// `resultReason` that is never null. Until a decision policy is configured the answer is
/// the configured default outcome (`WAIT` / `MANUAL_REVIEW`), so nobody is approved
/// automatically. The decision is stored with the call's digest; an identical repeated call
/// gets the stored answer. A 1.x caller (no `processType`) cannot handle `WAIT` and gets
/// `NOK` with reason `WAIT_UNSUPPORTED_BY_CALLER` instead.
#[utoipa::path(
    tag = "callbacks",
    request_body = EvaluateRequest,
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
#[post("/client/evaluate")]
#[tracing::instrument(name = "client_evaluate", skip_all, fields(
    process_id = %body.0.process_id,
    identity_verification_id = %body.0.identity_verification_id,
))]
pub async fn client_evaluate(
    state: web::Data<AppState>,
    ctx: RequestContext,
    body: CallbackJson<EvaluateRequest>,
) -> Result<web::Json<DecisionResponse>, ApiError> {
    evaluate(&state, &ctx, body.0).await.map(web::Json)
}

/// The same as `/client/evaluate`, at the path of an early-2025 documentation draft
/// (deprecated alias; the Onboarding Server code never used it).
#[utoipa::path(
    tag = "callbacks",
    request_body = EvaluateRequest,
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
#[post("/client/evaluation")]
pub async fn client_evaluation_alias(
    state: web::Data<AppState>,
    ctx: RequestContext,
    body: CallbackJson<EvaluateRequest>,
) -> Result<web::Json<DecisionResponse>, ApiError> {
    evaluate(&state, &ctx, body.0).await.map(web::Json)
}

async fn evaluate(
    state: &AppState,
    ctx: &RequestContext,
    req: EvaluateRequest,
) -> Result<DecisionResponse, ApiError> {
    let canonical = serde_json::to_vec(&req).map_err(|e| ApiError::Unexpected(e.into()))?;
    let legacy_caller = req.process_type.is_none() && req.document_check_result.is_none();
    let mut summary = serde_json::to_value(&req).map_err(|e| ApiError::Unexpected(e.into()))?;
    redact_images(&mut summary);
    let call = DecisionCall {
        point: "evaluate",
        process_id: req.process_id,
        process_type: req.process_type,
        identity_verification_id: req.identity_verification_id,
        user_id: req.user_id,
        provider: req.provider,
        status: req.status.map(|s| format!("{s:?}").to_uppercase()),
        verification_id: req.verification_id,
        canonical,
        summary,
    };
    let mut answer = decide(state, ctx, call).await?;
    if legacy_caller && answer.result == DecisionResult::Wait {
        answer = DecisionResponse {
            result: DecisionResult::Nok,
            result_reason: "WAIT_UNSUPPORTED_BY_CALLER".into(),
        };
    }
    Ok(answer)
}

/// Replaces every `documentCheckResult.documents[].images[].data` by its size and digest.
fn redact_images(summary: &mut serde_json::Value) {
    let documents = summary
        .pointer_mut("/documentCheckResult/documents")
        .and_then(|d| d.as_array_mut());
    for document in documents.into_iter().flatten() {
        let images = document.get_mut("images").and_then(|i| i.as_array_mut());
        for image in images.into_iter().flatten() {
            if let Some(data) = image.get_mut("data") {
                *data = image_summary(data.as_str());
            }
        }
    }
}
