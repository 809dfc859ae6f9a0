//! What `/client/evaluate` and `/client/approve` share: the digest of the call, the stored
//! decision, and idempotent repeats.

use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::api::client::{DecisionResponse, DecisionResult};
use crate::configuration::Outcome;
use crate::error::ApiError;
use crate::observe::RequestContext;
use crate::persistence::{decisions, processes};
use crate::review;
use crate::state::AppState;

/// The identifying fields of an evaluate or approve call.
pub struct DecisionCall {
    pub point: &'static str,
    pub process_id: String,
    pub process_type: Option<String>,
    pub identity_verification_id: String,
    pub user_id: String,
    pub provider: Option<String>,
    pub status: Option<String>,
    pub verification_id: Option<String>,
    /// Canonical JSON of the whole request, for the digest.
    pub canonical: Vec<u8>,
    /// The request as stored: images replaced by their size and digest.
    pub summary: serde_json::Value,
}

/// Digest of a base64 image for the stored summary: `{bytes, sha256}` of the text sent.
pub fn image_summary(data: Option<&str>) -> serde_json::Value {
    match data {
        Some(d) => serde_json::json!({
            "base64Length": d.len(),
            "sha256": hex::encode(Sha256::digest(d.as_bytes())),
        }),
        None => serde_json::Value::Null,
    }
}

/// Decides (for now: the configured default outcome) and stores the decision; an
/// identical repeated call returns the stored decision.
///
/// # Errors
/// Database errors.
pub async fn decide(
    state: &AppState,
    ctx: &RequestContext,
    call: DecisionCall,
) -> Result<DecisionResponse, ApiError> {
    let started = Instant::now();
    let now = state.clock.now();
    // A re-call for a verification under review: WAIT while open, the resolution after.
    if let Some(answer) =
        review::existing_answer(&state.db, &call.identity_verification_id, call.point).await?
    {
        tracing::info!(decision_point = call.point, result = ?answer.result, "answered from the review case");
        return Ok(answer);
    }
    let input_digest = hex::encode(Sha256::digest(&call.canonical));
    let settings = &state.settings.decision;
    let outcome = settings.default_outcome;
    let reason = match outcome {
        Outcome::Ok => String::new(),
        _ => settings.default_reason.clone(),
    };
    let trace = serde_json::json!([{
        "rule": "default_outcome",
        "result": "applied",
        "message": "no decision policy is configured; the configured default outcome applies",
    }]);
    let stored = decisions::insert_or_get(
        &state.db,
        decisions::NewDecision {
            identity_verification_id: call.identity_verification_id.clone(),
            decision_point: call.point,
            input_digest,
            process_id: call.process_id.clone(),
            process_type: call.process_type.clone(),
            user_id: call.user_id.clone(),
            provider: call.provider,
            status: call.status,
            verification_id: call.verification_id,
            input_summary: call.summary,
            outcome: outcome.as_str().to_owned(),
            result_reason: reason,
            policy_version: "default".into(),
            rule_trace: trace,
            duration_us: i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX),
        },
        ctx,
        now,
    )
    .await?;
    processes::touch(
        &state.db,
        processes::ProcessSeen {
            process_id: &call.process_id,
            process_type: call.process_type.as_deref(),
            user_id: Some(&call.user_id),
            identity_verification_id: Some(&call.identity_verification_id),
            callback: call.point,
        },
        now,
    )
    .await?;
    if stored.outcome == "WAIT" {
        review::open_for_wait(&state.db, &state.settings, &stored, now).await?;
    }
    let result = match stored.outcome.as_str() {
        "OK" => DecisionResult::Ok,
        "NOK" => DecisionResult::Nok,
        _ => DecisionResult::Wait,
    };
    tracing::info!(decision_point = call.point, result = %stored.outcome, reason = %stored.result_reason, "decision answered");
    Ok(DecisionResponse {
        result,
        result_reason: stored.result_reason,
    })
}
