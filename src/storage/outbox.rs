//! The outbox of callbacks to the Onboarding Server.
//!
//! Claiming is safe with several workers and instances: on PostgreSQL and MariaDB/MySQL
//! the candidate row is selected `FOR UPDATE SKIP LOCKED` inside a transaction; on every
//! backend (SQLite included, where writers are serialised) the claim itself is a
//! conditional UPDATE that only one worker can win. A claim is a lease: a worker that dies
//! mid-delivery leaves a message whose lease expires and which another worker takes over
//! (flagged `uncertain`, because the first attempt may have reached the peer).

use chrono::{DateTime, Utc};
use entity::outbox_message;
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait,
    ExprTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::domain::delivery::OutcomeClass;

pub const PENDING: &str = "PENDING";
pub const SENDING: &str = "SENDING";
/// The Onboarding Server answered `result: OK`.
pub const DELIVERED: &str = "DELIVERED";
/// A retry after an uncertain attempt was refused because the process has moved on
/// ([`crate::domain::delivery::says_moved_on`]): the earlier attempt was applied.
pub const DELIVERED_EARLIER: &str = "DELIVERED_EARLIER";
/// The Onboarding Server refused the result for good: `result: NOK`, or a 4xx other than
/// 401/403/408/429 (terminal, not retried, alerted).
pub const REJECTED: &str = "REJECTED";
/// Retries exhausted, or credentials refused (visible and retryable in the back office).
pub const FAILED: &str = "FAILED";

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub review_case_id: i64,
    pub path: String,
    pub payload: serde_json::Value,
    pub give_up_at: DateTime<Utc>,
    /// The W3C `traceparent` of the request that caused the message: every attempt sends a
    /// child of it.
    pub traceparent: String,
}

/// # Errors
/// Database errors (a second message for the same case violates the unique key).
pub async fn enqueue(
    db: &impl ConnectionTrait,
    m: NewMessage,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let model = outbox_message::ActiveModel {
        review_case_id: Set(m.review_case_id),
        path: Set(m.path),
        payload: Set(m.payload),
        status: Set(PENDING.into()),
        attempts: Set(0),
        uncertain: Set(false),
        next_attempt_at: Set(now),
        give_up_at: Set(m.give_up_at),
        traceparent: Set(Some(m.traceparent)),
        created_at: Set(now),
        ..Default::default()
    };
    outbox_message::Entity::insert(model)
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

fn due(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(
            Condition::all()
                .add(outbox_message::Column::Status.eq(PENDING))
                .add(outbox_message::Column::NextAttemptAt.lte(now)),
        )
        .add(
            Condition::all()
                .add(outbox_message::Column::Status.eq(SENDING))
                .add(outbox_message::Column::LeaseUntil.lt(now)),
        )
}

/// Whether any message is due (a plain read: the worker opens no write transaction when
/// nothing is).
///
/// # Errors
/// Database errors.
pub async fn any_due(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<bool, DbErr> {
    let due = outbox_message::Entity::find()
        .select_only()
        .column(outbox_message::Column::Id)
        .filter(due(now))
        .limit(1)
        .into_tuple::<i64>()
        .one(db)
        .await?;
    Ok(due.is_some())
}

/// Claims one due message for `owner` until `lease_until`; `None` when nothing is due. Runs
/// in the caller's transaction, which it leaves to commit: on PostgreSQL and MySQL the
/// candidate row is locked (`FOR UPDATE SKIP LOCKED`, so instances claim different
/// messages); SQLite's write transaction excludes other writers anyway.
///
/// # Errors
/// Database errors.
pub async fn claim(
    txn: &impl ConnectionTrait,
    owner: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Option<outbox_message::Model>, DbErr> {
    let mut select = outbox_message::Entity::find()
        .filter(due(now))
        .order_by_asc(outbox_message::Column::NextAttemptAt)
        .order_by_asc(outbox_message::Column::Id)
        .limit(1);
    if txn.get_database_backend() != DatabaseBackend::Sqlite {
        select = select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let Some(candidate) = select.one(txn).await? else {
        return Ok(None);
    };
    // A message found in SENDING had its lease expire: its last attempt may have reached
    // the peer, so a refusal of the retry may mean "already applied".
    let taken_over = candidate.status == SENDING;
    let claimed = outbox_message::Entity::update_many()
        .col_expr(outbox_message::Column::Status, Expr::value(SENDING))
        .col_expr(outbox_message::Column::LeaseOwner, Expr::value(owner))
        .col_expr(outbox_message::Column::LeaseUntil, Expr::value(lease_until))
        .col_expr(
            outbox_message::Column::Attempts,
            Expr::col(outbox_message::Column::Attempts).add(1),
        )
        .col_expr(
            outbox_message::Column::Uncertain,
            Expr::value(candidate.uncertain || taken_over),
        )
        .filter(outbox_message::Column::Id.eq(candidate.id))
        .filter(due(now))
        .exec(txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Ok(None);
    }
    outbox_message::Entity::find_by_id(candidate.id)
        .one(txn)
        .await
}

/// What a delivery attempt ended with.
#[derive(Debug, Clone)]
pub enum AttemptOutcome {
    /// Terminal: status, http status, response result and reason.
    Done {
        status: &'static str,
        class: OutcomeClass,
        http_status: Option<i32>,
        result: Option<String>,
        reason: Option<String>,
        error: Option<String>,
    },
    /// Try again at `next_attempt_at`; `uncertain` when the request may have been applied.
    Retry {
        next_attempt_at: DateTime<Utc>,
        http_status: Option<i32>,
        error: String,
        uncertain: bool,
    },
}

/// Records the outcome of the attempt that `owner` holds the lease for.
///
/// # Errors
/// Database errors.
pub async fn record(
    db: &impl ConnectionTrait,
    id: i64,
    owner: &str,
    outcome: AttemptOutcome,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let mut update = outbox_message::Entity::update_many()
        .col_expr(
            outbox_message::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            outbox_message::Column::LeaseOwner,
            Expr::value(Option::<String>::None),
        );
    match outcome {
        AttemptOutcome::Done {
            status,
            class,
            http_status,
            result,
            reason,
            error,
        } => {
            update = update
                .col_expr(outbox_message::Column::Status, Expr::value(status))
                .col_expr(
                    outbox_message::Column::OutcomeClass,
                    Expr::value(class.as_str()),
                )
                .col_expr(
                    outbox_message::Column::LastHttpStatus,
                    Expr::value(http_status),
                )
                .col_expr(outbox_message::Column::ResponseResult, Expr::value(result))
                .col_expr(
                    outbox_message::Column::ResponseReason,
                    Expr::value(reason.map(|r| truncate(&r))),
                )
                .col_expr(
                    outbox_message::Column::LastError,
                    Expr::value(error.map(|e| truncate(&e))),
                )
                .col_expr(outbox_message::Column::CompletedAt, Expr::value(now));
        }
        AttemptOutcome::Retry {
            next_attempt_at,
            http_status,
            error,
            uncertain,
        } => {
            update = update
                .col_expr(outbox_message::Column::Status, Expr::value(PENDING))
                .col_expr(
                    outbox_message::Column::OutcomeClass,
                    Expr::value(OutcomeClass::Retryable.as_str()),
                )
                .col_expr(
                    outbox_message::Column::NextAttemptAt,
                    Expr::value(next_attempt_at),
                )
                .col_expr(
                    outbox_message::Column::LastHttpStatus,
                    Expr::value(http_status),
                )
                .col_expr(
                    outbox_message::Column::LastError,
                    Expr::value(truncate(&error)),
                );
            if uncertain {
                update = update.col_expr(outbox_message::Column::Uncertain, Expr::value(true));
            }
        }
    }
    let result = update
        .filter(outbox_message::Column::Id.eq(id))
        .filter(outbox_message::Column::Status.eq(SENDING))
        .filter(outbox_message::Column::LeaseOwner.eq(owner))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

fn truncate(s: &str) -> String {
    s.chars().take(500).collect()
}

/// # Errors
/// Database errors.
pub async fn for_case(
    db: &impl ConnectionTrait,
    review_case_id: i64,
) -> Result<Option<outbox_message::Model>, DbErr> {
    outbox_message::Entity::find()
        .filter(outbox_message::Column::ReviewCaseId.eq(review_case_id))
        .one(db)
        .await
}

/// # Errors
/// Database errors.
pub async fn get(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<outbox_message::Model>, DbErr> {
    outbox_message::Entity::find_by_id(id).one(db).await
}

/// # Errors
/// Database errors.
pub async fn list(
    db: &impl ConnectionTrait,
    status: Option<&str>,
    page: u64,
    page_size: u64,
) -> Result<(Vec<outbox_message::Model>, u64), DbErr> {
    let mut select = outbox_message::Entity::find();
    if let Some(s) = status {
        select = select.filter(outbox_message::Column::Status.eq(s));
    }
    let total = select.clone().count(db).await?;
    let items = select
        .order_by_asc(outbox_message::Column::Id)
        .offset(page.saturating_mul(page_size))
        .limit(page_size)
        .all(db)
        .await?;
    Ok((items, total))
}

/// Puts a FAILED message back in the queue (admin action). False unless it was FAILED.
///
/// # Errors
/// Database errors.
pub async fn retry_failed(
    db: &impl ConnectionTrait,
    id: i64,
    now: DateTime<Utc>,
    give_up_at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = outbox_message::Entity::update_many()
        .col_expr(outbox_message::Column::Status, Expr::value(PENDING))
        .col_expr(outbox_message::Column::NextAttemptAt, Expr::value(now))
        .col_expr(outbox_message::Column::GiveUpAt, Expr::value(give_up_at))
        .col_expr(
            outbox_message::Column::CompletedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(outbox_message::Column::Id.eq(id))
        .filter(outbox_message::Column::Status.eq(FAILED))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}
