//! Retention: the rows whose personal data is past its retention date, found and redacted
//! or deleted in bounded batches. Each function handles at most `limit` rows inside the
//! caller's transaction and returns how many it handled, so a batch is one short
//! transaction and a run repeats batches until one comes back short. Idempotent: a
//! redacted row carries `purged_at` and is not selected again; a deleted one is gone.
//!
//! What a verification under review needs is kept: the decisions and images of an
//! identity verification with a review case that is open, or resolved after the cutoff,
//! are not touched.

use chrono::{DateTime, Utc};
use entity::{
    consent_decision, consent_text_served, decision, evidence, otp_delivery, process_contact,
    process_event, prospect, review_case,
};
use sea_orm::sea_query::{Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::{Value, json};

use super::review::OPEN;

/// What a redacted JSON column holds instead of the personal data it had.
pub fn redacted() -> Value {
    json!({"redacted": "retention"})
}

/// `EXISTS` a review case of the outer row's identity verification that keeps its data:
/// open, or resolved at or after `cutoff`.
fn kept_by_review(
    outer: impl sea_orm::sea_query::IntoColumnRef,
    cutoff: DateTime<Utc>,
) -> SelectStatement {
    Query::select()
        .expr(Expr::val(1))
        .from(review_case::Entity)
        .and_where(
            Expr::col((
                review_case::Entity,
                review_case::Column::IdentityVerificationId,
            ))
            .equals(outer),
        )
        .cond_where(
            Condition::any()
                .add(Expr::col((review_case::Entity, review_case::Column::Status)).eq(OPEN))
                .add(Expr::col((review_case::Entity, review_case::Column::ResolvedAt)).is_null())
                .add(Expr::col((review_case::Entity, review_case::Column::ResolvedAt)).gte(cutoff)),
        )
        .to_owned()
}

/// Redacts the input summary and facts of decisions made before `cutoff` (and the copy of
/// the facts their review cases may hold). Outcome, reasons, reason codes, input digest,
/// rule trace, times and ids stay.
///
/// # Errors
/// Database errors.
pub async fn redact_decisions(
    db: &impl ConnectionTrait,
    cutoff: DateTime<Utc>,
    limit: u64,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let ids: Vec<i64> = decision::Entity::find()
        .select_only()
        .column(decision::Column::Id)
        .filter(decision::Column::CreatedAt.lt(cutoff))
        .filter(decision::Column::PurgedAt.is_null())
        .filter(
            Expr::exists(kept_by_review(
                (decision::Entity, decision::Column::IdentityVerificationId),
                cutoff,
            ))
            .not(),
        )
        .order_by_asc(decision::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    review_case::Entity::update_many()
        .col_expr(review_case::Column::Facts, Expr::value(Value::Null))
        .filter(review_case::Column::DecisionId.is_in(ids.clone()))
        .exec(db)
        .await?;
    let done = decision::Entity::update_many()
        .col_expr(decision::Column::InputSummary, Expr::value(redacted()))
        .col_expr(
            decision::Column::Facts,
            Expr::value(sea_orm::Value::Json(None)),
        )
        .col_expr(decision::Column::PurgedAt, Expr::value(now))
        .filter(decision::Column::Id.is_in(ids))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}

/// Redacts the images kept before `cutoff`: the bytes in the row are dropped at once; a
/// file keeps its name in the row until [`forget_file`] (after it was deleted). SHA-256,
/// size, format, times and ids stay.
///
/// # Errors
/// Database errors.
pub async fn redact_evidence(
    db: &impl ConnectionTrait,
    cutoff: DateTime<Utc>,
    limit: u64,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let ids: Vec<i64> = evidence::Entity::find()
        .select_only()
        .column(evidence::Column::Id)
        .filter(evidence::Column::CreatedAt.lt(cutoff))
        .filter(evidence::Column::PurgedAt.is_null())
        .filter(
            Expr::exists(kept_by_review(
                (evidence::Entity, evidence::Column::IdentityVerificationId),
                cutoff,
            ))
            .not(),
        )
        .order_by_asc(evidence::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let done = evidence::Entity::update_many()
        .col_expr(
            evidence::Column::Data,
            Expr::value(sea_orm::Value::Bytes(None)),
        )
        .col_expr(evidence::Column::PurgedAt, Expr::value(now))
        .filter(evidence::Column::Id.is_in(ids))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}

/// Redacted images whose file is still to be deleted, after `after_id`: (id, file name).
///
/// # Errors
/// Database errors.
pub async fn files_to_delete(
    db: &impl ConnectionTrait,
    after_id: i64,
    limit: u64,
) -> Result<Vec<(i64, String)>, DbErr> {
    evidence::Entity::find()
        .select_only()
        .columns([evidence::Column::Id, evidence::Column::FileName])
        .filter(evidence::Column::PurgedAt.is_not_null())
        .filter(evidence::Column::FileName.is_not_null())
        .filter(evidence::Column::Id.gt(after_id))
        .order_by_asc(evidence::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

/// True when an image not yet redacted is kept in the file `file_name` (files are named
/// by their content, so two decisions with the same image share one).
///
/// # Errors
/// Database errors.
pub async fn file_still_kept(db: &impl ConnectionTrait, file_name: &str) -> Result<bool, DbErr> {
    let kept = evidence::Entity::find()
        .select_only()
        .column(evidence::Column::Id)
        .filter(evidence::Column::FileName.eq(file_name))
        .filter(evidence::Column::PurgedAt.is_null())
        .into_tuple::<i64>()
        .one(db)
        .await?;
    Ok(kept.is_some())
}

/// The redacted image `id` no longer has a file.
///
/// # Errors
/// Database errors.
pub async fn forget_file(db: &impl ConnectionTrait, id: i64) -> Result<(), DbErr> {
    evidence::Entity::update_many()
        .col_expr(
            evidence::Column::FileName,
            Expr::value(sea_orm::Value::String(None)),
        )
        .filter(evidence::Column::Id.eq(id))
        .filter(evidence::Column::PurgedAt.is_not_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Redacts the payloads of process events received before `cutoff`. Type, ids and times
/// stay.
///
/// # Errors
/// Database errors.
pub async fn redact_events(
    db: &impl ConnectionTrait,
    cutoff: DateTime<Utc>,
    limit: u64,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let ids: Vec<i64> = process_event::Entity::find()
        .select_only()
        .column(process_event::Column::Id)
        .filter(process_event::Column::ReceivedAt.lt(cutoff))
        .filter(process_event::Column::PurgedAt.is_null())
        .order_by_asc(process_event::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let done = process_event::Entity::update_many()
        .col_expr(process_event::Column::Payload, Expr::value(redacted()))
        .col_expr(process_event::Column::PurgedAt, Expr::value(now))
        .filter(process_event::Column::Id.is_in(ids))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}

/// A table whose rows are deleted whole after retention, and the column of each row's
/// retention date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// `process_contact.updated_at`: when the address was last recorded.
    Contacts,
    /// `otp_delivery.created_at`.
    OtpDeliveries,
    /// `consent_decision.decided_at`.
    ConsentDecisions,
    /// `consent_text_served.served_at`.
    ConsentTexts,
    /// `prospect.created_at`.
    Prospects,
}

/// Deletes at most `limit` rows of `table` dated before `cutoff`.
///
/// # Errors
/// Database errors.
pub async fn delete_expired(
    db: &impl ConnectionTrait,
    table: Deleted,
    cutoff: DateTime<Utc>,
    limit: u64,
) -> Result<u64, DbErr> {
    match table {
        Deleted::Contacts => {
            delete_batch::<process_contact::Entity>(
                db,
                process_contact::Column::Id,
                process_contact::Column::UpdatedAt,
                cutoff,
                limit,
            )
            .await
        }
        Deleted::OtpDeliveries => {
            delete_batch::<otp_delivery::Entity>(
                db,
                otp_delivery::Column::Id,
                otp_delivery::Column::CreatedAt,
                cutoff,
                limit,
            )
            .await
        }
        Deleted::ConsentDecisions => {
            delete_batch::<consent_decision::Entity>(
                db,
                consent_decision::Column::Id,
                consent_decision::Column::DecidedAt,
                cutoff,
                limit,
            )
            .await
        }
        Deleted::ConsentTexts => {
            delete_batch::<consent_text_served::Entity>(
                db,
                consent_text_served::Column::Id,
                consent_text_served::Column::ServedAt,
                cutoff,
                limit,
            )
            .await
        }
        Deleted::Prospects => {
            delete_batch::<prospect::Entity>(
                db,
                prospect::Column::Id,
                prospect::Column::CreatedAt,
                cutoff,
                limit,
            )
            .await
        }
    }
}

/// Ids first, then a delete by id: MySQL allows no `LIMIT` in a subquery of `IN`.
async fn delete_batch<E: EntityTrait>(
    db: &impl ConnectionTrait,
    id: E::Column,
    dated: E::Column,
    cutoff: DateTime<Utc>,
    limit: u64,
) -> Result<u64, DbErr> {
    let ids: Vec<i64> = E::find()
        .select_only()
        .column(id)
        .filter(dated.lt(cutoff))
        .order_by_asc(id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let done = E::delete_many().filter(id.is_in(ids)).exec(db).await?;
    Ok(done.rows_affected)
}
