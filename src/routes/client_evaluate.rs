use actix_web::{post, web};

use crate::api::client::{DecisionResponse, DecisionResult, EvaluateRequest};
use crate::error::{ApiError, ErrorBody};
use crate::extract::CallbackJson;
use crate::observe::RequestContext;
use crate::services::decide::{self, DecisionRequest, Deps};
use crate::state::AppState;

/// Evaluate the verified documents.
///
/// Accepts every Onboarding Server version: 1.x (`verificationId`, `extractedData`),
/// 2.1/2.2 (`documentCheckResult` with or without extracted data, `rawData` as a string or
/// an object, `DRIVING_LICENCE` or `DRIVING_LICENSE`). Answers `OK`, `NOK` or `WAIT` with a
/// `resultReason` that is never null: the codes of the policy rules that decided (joined by
/// `,`; empty for a plain `OK`). Images are decoded and checked (an invalid image is a fact
/// for the policy, not an error) and kept as evidence. The decision, its facts and rule
/// trace are stored with the call's digest; an identical repeated call gets the stored
/// answer, and a `WAIT` opens one review case. A 1.x caller (no `processType`) cannot
/// handle `WAIT` and gets `NOK` with reason `WAIT_UNSUPPORTED_BY_CALLER` instead.
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
    mut req: EvaluateRequest,
) -> Result<DecisionResponse, ApiError> {
    // Dates sent as instants mean a day in the Onboarding Server's zone (`api::dates`).
    if let Some(zone) = state.settings.onboarding_server.time_zone {
        req.apply_time_zone(zone);
    }
    let deps = Deps {
        db: &state.db,
        settings: &state.settings,
        decider: &state.decider,
    };
    let request = DecisionRequest::Evaluate(req);
    let answer = decide::decide(deps, ctx, request, state.clock.now()).await?;
    Ok(DecisionResponse {
        result: DecisionResult::from_outcome(&answer.outcome),
        result_reason: answer.result_reason,
    })
}
