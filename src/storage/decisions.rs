//! Stored decisions of `/client/evaluate` and `/client/approve`.

use chrono::{DateTime, Utc};
use entity::decision;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use serde_json::Value;

use super::insert_unless_exists;
use crate::observe::RequestContext;

/// A decision to store.
#[derive(Debug, Clone)]
pub struct NewDecision {
    pub identity_verification_id: String,
    pub decision_point: &'static str,
    pub input_digest: String,
    pub process_id: String,
    pub process_type: Option<String>,
    pub user_id: String,
    pub provider: Option<String>,
    pub status: Option<String>,
    pub verification_id: Option<String>,
    pub input_summary: Value,
    pub outcome: String,
    pub result_reason: String,
    pub policy_version: String,
    pub rule_trace: Value,
    pub duration_us: i64,
    pub facts: Value,
    /// A list of strings.
    pub reason_codes: Value,
}

/// A stored decision without its JSON columns: what answering the call, recording the
/// process, opening the review case and keeping the evidence need.
#[derive(Debug, Clone)]
pub struct Decided {
    pub id: i64,
    pub identity_verification_id: String,
    pub decision_point: String,
    pub process_id: String,
    pub process_type: Option<String>,
    pub user_id: String,
    pub outcome: String,
    pub result_reason: String,
    pub policy_version: String,
    pub duration_us: i64,
    pub created_at: DateTime<Utc>,
}

impl From<decision::Model> for Decided {
    fn from(d: decision::Model) -> Self {
        Self {
            id: d.id,
            identity_verification_id: d.identity_verification_id,
            decision_point: d.decision_point,
            process_id: d.process_id,
            process_type: d.process_type,
            user_id: d.user_id,
            outcome: d.outcome,
            result_reason: d.result_reason,
            policy_version: d.policy_version,
            duration_us: d.duration_us,
            created_at: d.created_at,
        }
    }
}

/// Stores `d` unless the identical call (same identity verification, decision point and
/// input digest) was stored before; then `None`, and the caller answers the stored decision
/// (see [`for_call`]). One statement; a duplicate leaves the caller's transaction usable.
///
/// # Errors
/// Database errors.
pub async fn insert_new(
    db: &impl ConnectionTrait,
    d: NewDecision,
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<Option<Decided>, DbErr> {
    use decision::Column as C;
    // The stored decision's answer, before the JSON moves into the statement (not copied).
    let decided = Decided {
        id: 0,
        identity_verification_id: d.identity_verification_id.clone(),
        decision_point: d.decision_point.to_owned(),
        process_id: d.process_id.clone(),
        process_type: d.process_type.clone(),
        user_id: d.user_id.clone(),
        outcome: d.outcome.clone(),
        result_reason: d.result_reason.clone(),
        policy_version: d.policy_version.clone(),
        duration_us: d.duration_us,
        created_at: now,
    };
    let model = decision::ActiveModel {
        identity_verification_id: Set(d.identity_verification_id),
        decision_point: Set(d.decision_point.to_owned()),
        input_digest: Set(d.input_digest),
        process_id: Set(d.process_id),
        process_type: Set(d.process_type),
        user_id: Set(d.user_id),
        provider: Set(d.provider),
        status: Set(d.status),
        verification_id: Set(d.verification_id),
        input_summary: Set(d.input_summary),
        outcome: Set(d.outcome),
        result_reason: Set(d.result_reason),
        policy_version: Set(d.policy_version),
        rule_trace: Set(d.rule_trace),
        duration_us: Set(d.duration_us),
        created_at: Set(now),
        correlation_id: Set(ctx.correlation_id.clone()),
        request_id: Set(ctx.request_id.clone()),
        facts: Set(Some(d.facts)),
        reason_codes: Set(Some(d.reason_codes)),
        ..Default::default()
    };
    let key = [C::IdentityVerificationId, C::DecisionPoint, C::InputDigest];
    let inserted = insert_unless_exists(db, model, key).await?;
    Ok(inserted.map(|id| Decided { id, ..decided }))
}

/// # Errors
/// Database errors.
pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<Option<decision::Model>, DbErr> {
    decision::Entity::find_by_id(id).one(db).await
}

/// Every decision taken for this identity verification at this decision point (usually
/// none; a few when the call was repeated with other data).
///
/// # Errors
/// Database errors.
pub async fn for_call(
    db: &impl ConnectionTrait,
    identity_verification_id: &str,
    decision_point: &str,
) -> Result<Vec<decision::Model>, DbErr> {
    use decision::Column as C;
    decision::Entity::find()
        .filter(C::IdentityVerificationId.eq(identity_verification_id))
        .filter(C::DecisionPoint.eq(decision_point))
        .all(db)
        .await
}
