//! Stored decisions of `/client/evaluate` and `/client/approve`.

use chrono::{DateTime, Utc};
use entity::decision;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, IdenStatic, QueryFilter,
};

use super::{Prepared, ReadModels, is_unique_violation};
use crate::observe::RequestContext;

/// A decision to store. The JSON columns are JSON text, serialised in the request's own
/// thread: the insert binds them as they are (on PostgreSQL cast to `json`), so the SQLite
/// writer neither copies nor serialises a JSON tree.
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
    /// JSON text.
    pub input_summary: String,
    pub outcome: String,
    pub result_reason: String,
    pub policy_version: String,
    /// JSON text.
    pub rule_trace: String,
    pub duration_us: i64,
    /// JSON text.
    pub facts: String,
    /// JSON text (a list of strings).
    pub reason_codes: String,
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
/// input digest) was stored before — then `None`: the caller answers the stored decision
/// (see [`for_call`]). On PostgreSQL a unique violation aborts the transaction, so a caller
/// in a transaction rolls it back on `None`.
///
/// `d` is borrowed (a unit on SQLite's writer may run again); its text is copied into the
/// statement. The row is not read back: the id is the insert's (RETURNING on PostgreSQL).
///
/// # Errors
/// Database errors.
pub async fn insert_new(
    db: &impl ConnectionTrait,
    d: &NewDecision,
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<Option<Decided>, DbErr> {
    use decision::Column as C;
    let backend = db.get_database_backend();
    // JSON text as it is; PostgreSQL wants the column's type said.
    let json = |text: &str| match backend {
        DbBackend::Postgres => Expr::val(text).cast_as("json"),
        _ => Expr::val(text),
    };
    let mut insert = Query::insert();
    insert
        .into_table(decision::Entity)
        .columns([
            C::IdentityVerificationId,
            C::DecisionPoint,
            C::InputDigest,
            C::ProcessId,
            C::ProcessType,
            C::UserId,
            C::Provider,
            C::Status,
            C::VerificationId,
            C::InputSummary,
            C::Outcome,
            C::ResultReason,
            C::PolicyVersion,
            C::RuleTrace,
            C::DurationUs,
            C::CreatedAt,
            C::CorrelationId,
            C::RequestId,
            C::Facts,
            C::ReasonCodes,
        ])
        .values([
            Expr::val(d.identity_verification_id.as_str()),
            Expr::val(d.decision_point),
            Expr::val(d.input_digest.as_str()),
            Expr::val(d.process_id.as_str()),
            Expr::val(d.process_type.as_deref()),
            Expr::val(d.user_id.as_str()),
            Expr::val(d.provider.as_deref()),
            Expr::val(d.status.as_deref()),
            Expr::val(d.verification_id.as_deref()),
            json(&d.input_summary),
            Expr::val(d.outcome.as_str()),
            Expr::val(d.result_reason.as_str()),
            Expr::val(d.policy_version.as_str()),
            json(&d.rule_trace),
            Expr::val(d.duration_us),
            Expr::val(now),
            Expr::val(ctx.correlation_id.as_str()),
            Expr::val(ctx.request_id.as_str()),
            json(&d.facts),
            json(&d.reason_codes),
        ])
        .map_err(|e| DbErr::Custom(e.to_string()))?;
    let inserted = if backend == DbBackend::Postgres {
        insert.returning_col(C::Id);
        db.query_one(&insert)
            .await
            .and_then(|row| row.ok_or_else(|| DbErr::RecordNotInserted))
            .and_then(|row| row.try_get::<i64>("", C::Id.as_str()))
    } else {
        db.execute(&insert).await.and_then(|done| {
            i64::try_from(done.last_insert_id()).map_err(|e| DbErr::Custom(e.to_string()))
        })
    };
    match inserted {
        Ok(id) => Ok(Some(Decided {
            id,
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
        })),
        Err(e) if is_unique_violation(&e) => Ok(None),
        Err(e) => Err(e),
    }
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
    db: &impl ReadModels,
    identity_verification_id: &str,
    decision_point: &str,
) -> Result<Vec<decision::Model>, DbErr> {
    static FOR_CALL: Prepared<decision::Entity, 2> = Prepared::new(|[iv, point]| {
        decision::Entity::find()
            .filter(decision::Column::IdentityVerificationId.eq(iv))
            .filter(decision::Column::DecisionPoint.eq(point))
    });
    db.prepared(
        &FOR_CALL,
        [identity_verification_id.into(), decision_point.into()],
    )
    .await
}
