//! Review cases and their resolution. Opening is idempotent (unique per identity
//! verification and decision point); resolving writes the case, the outbox message and the
//! audit entry in one transaction.

use chrono::{DateTime, Utc};
use entity::review_case;
use sea_orm::{
    ActiveValue::NotSet, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};

use super::insert_unless_exists;

pub const OPEN: &str = "OPEN";
pub const RESOLVED: &str = "RESOLVED";
pub const EXPIRED: &str = "EXPIRED";

#[derive(Debug, Clone)]
pub struct NewCase {
    pub identity_verification_id: String,
    pub decision_point: String,
    pub decision_id: i64,
    pub process_id: String,
    pub process_type: Option<String>,
    pub user_id: String,
    pub wait_reason: String,
    pub deadline_at: DateTime<Utc>,
}

/// Opens the case for a WAIT decision unless one exists already (also under concurrent
/// identical calls: the unique key decides). Returns the case either way.
///
/// The case's facts and rule trace are its decision's: the case keeps JSON `null` in those
/// columns and [`facts_and_trace`] reads them through `decision_id` (cases opened by
/// earlier versions carry copies).
///
/// # Errors
/// Database errors.
pub async fn open(
    db: &impl ConnectionTrait,
    case: NewCase,
    now: DateTime<Utc>,
) -> Result<review_case::Model, DbErr> {
    let mut opened = review_case::Model {
        id: 0,
        identity_verification_id: case.identity_verification_id,
        decision_point: case.decision_point,
        decision_id: case.decision_id,
        process_id: case.process_id,
        process_type: case.process_type,
        user_id: case.user_id,
        status: OPEN.into(),
        wait_reason: case.wait_reason,
        facts: serde_json::Value::Null,
        rule_trace: serde_json::Value::Null,
        deadline_at: case.deadline_at,
        created_at: now,
        resolved_at: None,
        resolved_by: None,
        resolution: None,
        resolution_reason: None,
        note: None,
    };
    let mut model: review_case::ActiveModel = opened.clone().into();
    model.id = NotSet;
    let key = [
        review_case::Column::IdentityVerificationId,
        review_case::Column::DecisionPoint,
    ];
    match insert_unless_exists(db, model, key).await? {
        // The case is the one built here plus its id (not read back: its JSON columns
        // would be parsed again for nothing).
        Some(id) => {
            opened.id = id;
            Ok(opened)
        }
        // Already open: that case.
        None => find_for(db, &opened.identity_verification_id, &opened.decision_point)
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("review case just opened".into())),
    }
}

/// The facts and rule trace a case was opened on: its own copies (cases opened by earlier
/// versions), else its decision's.
///
/// # Errors
/// Database errors.
pub async fn facts_and_trace(
    db: &impl ConnectionTrait,
    case: &review_case::Model,
) -> Result<(serde_json::Value, serde_json::Value), DbErr> {
    if !case.facts.is_null() {
        return Ok((case.facts.clone(), case.rule_trace.clone()));
    }
    let decision = super::decisions::get(db, case.decision_id)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("decision {}", case.decision_id)))?;
    Ok((
        decision.facts.unwrap_or(decision.input_summary),
        decision.rule_trace,
    ))
}

/// # Errors
/// Database errors.
pub async fn find_for(
    db: &impl ConnectionTrait,
    identity_verification_id: &str,
    decision_point: &str,
) -> Result<Option<review_case::Model>, DbErr> {
    review_case::Entity::find()
        .filter(review_case::Column::IdentityVerificationId.eq(identity_verification_id))
        .filter(review_case::Column::DecisionPoint.eq(decision_point))
        .one(db)
        .await
}

/// # Errors
/// Database errors.
pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<Option<review_case::Model>, DbErr> {
    review_case::Entity::find_by_id(id).one(db).await
}

#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub status: Option<String>,
    pub decision_point: Option<String>,
    /// Only cases created before this instant (i.e. older than an age).
    pub created_before: Option<DateTime<Utc>>,
}

/// A page of cases, oldest first, and the total matching the filter.
///
/// # Errors
/// Database errors.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &CaseFilter,
    page: u64,
    page_size: u64,
) -> Result<(Vec<review_case::Model>, u64), DbErr> {
    let mut select = review_case::Entity::find();
    if let Some(s) = &filter.status {
        select = select.filter(review_case::Column::Status.eq(s.as_str()));
    }
    if let Some(p) = &filter.decision_point {
        select = select.filter(review_case::Column::DecisionPoint.eq(p.as_str()));
    }
    if let Some(before) = filter.created_before {
        select = select.filter(review_case::Column::CreatedAt.lt(before));
    }
    let total = select.clone().count(db).await?;
    let items = select
        .order_by_asc(review_case::Column::CreatedAt)
        .order_by_asc(review_case::Column::Id)
        .offset(page.saturating_mul(page_size))
        .limit(page_size)
        .all(db)
        .await?;
    Ok((items, total))
}

/// The resolution of an open case.
#[derive(Debug, Clone)]
pub struct Resolution {
    pub status: &'static str,
    pub result: String,
    pub reason: String,
    pub note: Option<String>,
    pub by: String,
}

/// Marks the case resolved if (and only if) it is still open. Returns false when another
/// reviewer, instance or the deadline policy resolved it first.
///
/// # Errors
/// Database errors.
pub async fn close(
    db: &impl ConnectionTrait,
    id: i64,
    r: &Resolution,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = review_case::Entity::update_many()
        .col_expr(review_case::Column::Status, Expr::value(r.status))
        .col_expr(
            review_case::Column::Resolution,
            Expr::value(r.result.clone()),
        )
        .col_expr(
            review_case::Column::ResolutionReason,
            Expr::value(r.reason.clone()),
        )
        .col_expr(review_case::Column::Note, Expr::value(r.note.clone()))
        .col_expr(review_case::Column::ResolvedBy, Expr::value(r.by.clone()))
        .col_expr(review_case::Column::ResolvedAt, Expr::value(now))
        .filter(review_case::Column::Id.eq(id))
        .filter(review_case::Column::Status.eq(OPEN))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Open cases whose deadline has passed.
///
/// # Errors
/// Database errors.
pub async fn overdue(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<review_case::Model>, DbErr> {
    review_case::Entity::find()
        .filter(review_case::Column::Status.eq(OPEN))
        .filter(review_case::Column::DeadlineAt.lte(now))
        .order_by_asc(review_case::Column::DeadlineAt)
        .limit(limit)
        .all(db)
        .await
}
