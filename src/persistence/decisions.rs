//! Stored decisions of `/client/evaluate` and `/client/approve`.

use chrono::{DateTime, Utc};
use entity::decision;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, IdenStatic, QueryFilter,
};

use super::{Prepared, PreparedInsert, ReadModels, insert_row, is_unique_violation};
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

/// [`insert_new`]'s insert. The JSON columns get their text as it is; PostgreSQL wants the
/// column's type said, and answers the new id (elsewhere it is the insert's).
static INSERT: PreparedInsert<20> = PreparedInsert::new(|backend, _, values| {
    use decision::Column as C;
    let columns = [
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
    ];
    let json = [C::InputSummary, C::RuleTrace, C::Facts, C::ReasonCodes];
    let values = columns.iter().zip(values).map(|(column, value)| {
        if backend == DbBackend::Postgres && json.iter().any(|j| j.as_str() == column.as_str()) {
            Expr::val(value).cast_as("json")
        } else {
            Expr::val(value)
        }
    });
    let mut insert = insert_row(decision::Entity, columns, values)?;
    if backend == DbBackend::Postgres {
        insert.returning_col(C::Id);
    }
    Ok(insert)
});

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
    let backend = db.get_database_backend();
    let statement = INSERT.statement(
        backend,
        0,
        [
            d.identity_verification_id.as_str().into(),
            d.decision_point.into(),
            d.input_digest.as_str().into(),
            d.process_id.as_str().into(),
            d.process_type.as_deref().into(),
            d.user_id.as_str().into(),
            d.provider.as_deref().into(),
            d.status.as_deref().into(),
            d.verification_id.as_deref().into(),
            d.input_summary.as_str().into(),
            d.outcome.as_str().into(),
            d.result_reason.as_str().into(),
            d.policy_version.as_str().into(),
            d.rule_trace.as_str().into(),
            d.duration_us.into(),
            now.into(),
            ctx.correlation_id.as_str().into(),
            ctx.request_id.as_str().into(),
            d.facts.as_str().into(),
            d.reason_codes.as_str().into(),
        ],
    )?;
    let inserted = if backend == DbBackend::Postgres {
        db.query_one_raw(statement)
            .await
            .and_then(|row| row.ok_or_else(|| DbErr::RecordNotInserted))
            .and_then(|row| row.try_get::<i64>("", decision::Column::Id.as_str()))
    } else {
        db.execute_raw(statement).await.and_then(|done| {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The insert's SQL is kept for every backend (its values bind in their order); on
    /// PostgreSQL the JSON text is cast and the id returned.
    #[test]
    fn the_decision_insert_is_built_once_per_backend() {
        let values = || std::array::from_fn::<sea_orm::Value, 20, _>(|i| i.to_string().into());
        for (slot, backend) in [DbBackend::Sqlite, DbBackend::Postgres, DbBackend::MySql]
            .into_iter()
            .enumerate()
        {
            let first = INSERT.statement(backend, 0, values()).unwrap();
            let kept = INSERT.sql[slot][0].get().unwrap().as_deref();
            assert_eq!(kept, Some(first.sql.as_str()), "{backend:?}");
            let again = INSERT.statement(backend, 0, values()).unwrap();
            assert_eq!(again.sql, first.sql);
            assert_eq!(again.values, first.values);
        }
        let postgres = INSERT
            .statement(DbBackend::Postgres, 0, values())
            .unwrap()
            .sql;
        assert_eq!(postgres.matches("AS json)").count(), 4, "{postgres}");
        assert!(postgres.ends_with(r#"RETURNING "id""#), "{postgres}");
    }
}
