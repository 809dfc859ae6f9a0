use actix_web::{post, web};

use crate::api::client::{ApproveRequest, DecisionResponse, DecisionResult};
use crate::error::{ApiError, ErrorBody};
use crate::extract::CallbackJson;
use crate::observe::RequestContext;
use crate::services::decide::{self, DecisionRequest, Deps};
use crate::state::AppState;

/// Approve the onboarding (2.1+).
///
/// Called after the presence check (and the identity-verification OTP, if enabled) with
/// the presence-check `status`, `score`, provider and the selfie `frame`. Answers `OK`,
/// `NOK` or `WAIT`; `resultReason` is always a string (the Onboarding Server fails the
/// approval on null): the codes of the policy rules that decided, empty for a plain `OK`.
/// The selfie is decoded, checked and kept as evidence. Identical repeated calls get the
/// stored answer; a `WAIT` opens one review case.
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
    let deps = Deps {
        db: &state.db,
        settings: &state.settings,
        decider: &state.decider,
    };
    let request = DecisionRequest::Approve(req);
    let answer = decide::decide(deps, ctx, request, state.clock.now()).await?;
    Ok(DecisionResponse {
        result: DecisionResult::from_outcome(&answer.outcome),
        result_reason: answer.result_reason,
    })
}
