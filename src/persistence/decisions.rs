//! Stored decisions of `/client/evaluate` and `/client/approve`.

use chrono::{DateTime, Utc};
use entity::decision;
use sea_orm::{ActiveValue::NotSet, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use super::is_unique_violation;
use crate::observe::RequestContext;

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
    pub input_summary: serde_json::Value,
    pub outcome: String,
    pub result_reason: String,
    pub policy_version: String,
    pub rule_trace: serde_json::Value,
    pub duration_us: i64,
    pub facts: serde_json::Value,
    pub reason_codes: Vec<String>,
}

/// Stores `d` unless the identical call (same identity verification, decision point and
/// input digest) was stored before — then `None`: the caller answers the stored decision
/// (see [`find`]). On PostgreSQL a unique violation aborts the transaction, so a caller in a
/// transaction rolls it back on `None`.
///
/// # Errors
/// Database errors.
pub async fn insert_new(
    db: &impl ConnectionTrait,
    d: NewDecision,
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<Option<decision::Model>, DbErr> {
    let mut stored = decision::Model {
        id: 0,
        identity_verification_id: d.identity_verification_id,
        decision_point: d.decision_point.to_owned(),
        input_digest: d.input_digest,
        process_id: d.process_id,
        process_type: d.process_type,
        user_id: d.user_id,
        provider: d.provider,
        status: d.status,
        verification_id: d.verification_id,
        input_summary: d.input_summary,
        outcome: d.outcome,
        result_reason: d.result_reason,
        policy_version: d.policy_version,
        rule_trace: d.rule_trace,
        duration_us: d.duration_us,
        created_at: now,
        correlation_id: ctx.correlation_id.clone(),
        request_id: ctx.request_id.clone(),
        facts: Some(d.facts),
        reason_codes: Some(serde_json::json!(d.reason_codes)),
    };
    let mut model: decision::ActiveModel = stored.clone().into();
    model.id = NotSet;
    // The stored row is the one built here plus its id: reading it back (RETURNING) would
    // parse its JSON columns (facts, trace, summary) again for nothing.
    match decision::Entity::insert(model).exec(db).await {
        Ok(inserted) => {
            stored.id = inserted.last_insert_id;
            Ok(Some(stored))
        }
        Err(e) if is_unique_violation(&e) => Ok(None),
        Err(e) => Err(e),
    }
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
    decision::Entity::find()
        .filter(decision::Column::IdentityVerificationId.eq(identity_verification_id))
        .filter(decision::Column::DecisionPoint.eq(decision_point))
        .all(db)
        .await
}
