//! The WAIT loop: a review case per WAIT decision, resolution by a reviewer or by the
//! deadline policy, and the outbox message that carries the resolution to the Onboarding
//! Server's private API — written in the same transaction as the resolution.

use chrono::{DateTime, Duration, Utc};
use entity::review_case;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, TransactionTrait};
use serde_json::json;

use crate::api::client::{DecisionResponse, DecisionResult};
use crate::configuration::{Outcome, Settings};
use crate::error::ApiError;
use crate::observe::RequestContext;
use crate::persistence::{audit, decisions, outbox, processes, review};

pub const EVALUATE_PATH: &str = "/api/private/client/evaluate";
pub const APPROVE_PATH: &str = "/api/private/client/approve";

/// The answer for a re-call of evaluate/approve when a case exists: WAIT while it is open,
/// the resolution once it is resolved or expired.
///
/// # Errors
/// Database errors.
pub async fn existing_answer(
    db: &impl ConnectionTrait,
    identity_verification_id: &str,
    decision_point: &str,
) -> Result<Option<DecisionResponse>, DbErr> {
    let Some(case) = review::find_for(db, identity_verification_id, decision_point).await? else {
        return Ok(None);
    };
    Ok(Some(match (&case.resolution, &case.resolution_reason) {
        (Some(result), reason) if case.status != review::OPEN => DecisionResponse {
            result: DecisionResult::from_outcome(result),
            result_reason: reason.clone().unwrap_or_default(),
        },
        _ => DecisionResponse {
            result: DecisionResult::Wait,
            result_reason: case.wait_reason,
        },
    }))
}

/// When an open case is resolved automatically: `deadline_secs` after opening, but never
/// later than `expiry_margin_secs` before the identity verification expires.
pub fn deadline(
    settings: &Settings,
    now: DateTime<Utc>,
    process_first_seen: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    let r = &settings.review;
    let by_review = now + secs(r.deadline_secs);
    let by_expiry = process_first_seen
        .map(|first| first + secs(r.process_expiry_secs) - secs(r.expiry_margin_secs));
    match by_expiry {
        Some(e) => by_review.min(e.max(now)),
        None => by_review,
    }
}

fn secs(s: u64) -> Duration {
    Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1000))
}

/// Opens (once) the review case of a stored WAIT decision.
///
/// # Errors
/// Database errors.
pub async fn open_for_wait(
    db: &impl ConnectionTrait,
    settings: &Settings,
    decision: &decisions::Decided,
    now: DateTime<Utc>,
) -> Result<review_case::Model, DbErr> {
    let first_seen = processes::find(db, &decision.process_id)
        .await?
        .map(|p| p.first_seen_at);
    review::open(
        db,
        review::NewCase {
            identity_verification_id: decision.identity_verification_id.clone(),
            decision_point: decision.decision_point.clone(),
            decision_id: decision.id,
            process_id: decision.process_id.clone(),
            process_type: decision.process_type.clone(),
            user_id: decision.user_id.clone(),
            wait_reason: decision.result_reason.clone(),
            deadline_at: deadline(settings, now, first_seen),
        },
        now,
    )
    .await
}

/// Who resolves a case.
#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    pub role: &'static str,
}

/// Resolves an open case with `result` (OK/NOK), enqueues the callback and writes the
/// audit entry, all in one transaction.
///
/// # Errors
/// 404 unknown case, 409 case no longer open, database errors.
#[allow(clippy::too_many_arguments)]
pub async fn resolve(
    db: &DatabaseConnection,
    settings: &Settings,
    case_id: i64,
    status: &'static str,
    result: Outcome,
    reason: &str,
    note: Option<String>,
    actor: &Actor,
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<review_case::Model, ApiError> {
    let case = review::get(db, case_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such review case".into()))?;
    let txn = db.begin().await?;
    let closed = review::close(
        &txn,
        case_id,
        &review::Resolution {
            status,
            result: result.as_str().to_owned(),
            reason: reason.to_owned(),
            note: note.clone(),
            by: actor.name.clone(),
        },
        now,
    )
    .await?;
    if !closed {
        txn.rollback().await?;
        return Err(ApiError::Conflict(
            "the review case is no longer open".into(),
        ));
    }
    let (path, field) = if case.decision_point == "approve" {
        (APPROVE_PATH, "approvalResult")
    } else {
        (EVALUATE_PATH, "evaluationResult")
    };
    let mut payload = json!({
        "processId": case.process_id,
        "userId": case.user_id,
        "identityVerificationId": case.identity_verification_id,
        "resultReason": reason,
    });
    payload[field] = json!(result.as_str());
    outbox::enqueue(
        &txn,
        outbox::NewMessage {
            review_case_id: case_id,
            path: path.into(),
            payload,
            give_up_at: now + secs(settings.delivery.horizon_secs),
        },
        now,
    )
    .await?;
    audit::record(
        &txn,
        audit::Entry {
            actor: &actor.name,
            role: actor.role,
            action: if status == review::EXPIRED {
                "case.expire"
            } else {
                "case.resolve"
            },
            target: Some(format!("case:{case_id}")),
            detail: json!({"result": result.as_str(), "reasonCode": reason, "note": note}),
        },
        ctx,
        now,
    )
    .await?;
    txn.commit().await?;
    tracing::info!(case_id, result = result.as_str(), reason, by = %actor.name, "review case resolved");
    review::get(db, case_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such review case".into()))
}

/// Resolves every open case past its deadline with the configured expiry outcome.
///
/// # Errors
/// Database errors (cases resolved concurrently elsewhere are skipped, not errors).
pub async fn expire_overdue(
    db: &DatabaseConnection,
    settings: &Settings,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let mut expired = 0;
    let system = Actor {
        name: "system:deadline".into(),
        role: "system",
    };
    for case in review::overdue(db, now, 100).await? {
        let ctx = RequestContext {
            correlation_id: uuid::Uuid::new_v4().to_string(),
            request_id: uuid::Uuid::new_v4().to_string(),
        };
        match resolve(
            db,
            settings,
            case.id,
            review::EXPIRED,
            settings.review.expiry_outcome,
            &settings.review.expiry_reason,
            Some("resolved automatically at the review deadline".into()),
            &system,
            &ctx,
            now,
        )
        .await
        {
            Ok(_) => expired += 1,
            Err(ApiError::Conflict(_)) => {}
            Err(ApiError::Unexpected(e) | ApiError::Unavailable(e)) => return Err(e),
            Err(e) => return Err(anyhow::anyhow!("case {}: {e}", case.id)),
        }
    }
    Ok(expired)
}
