//! The process table: what each callback learnt about a `processId`.

use chrono::{DateTime, Utc};
use entity::process;
use sea_orm::sea_query::Expr;

use super::is_unique_violation;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

/// What a callback knows about its process.
#[derive(Debug, Clone, Copy)]
pub struct ProcessSeen<'a> {
    pub process_id: &'a str,
    pub process_type: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub identity_verification_id: Option<&'a str>,
    pub callback: &'a str,
}

/// Records that a callback for the process arrived: creates the row on first sight,
/// otherwise updates `last_seen_at` and fills in values that are now known. Portable
/// (no dialect-specific upsert): update, else insert, else (lost a race) update.
///
/// # Errors
/// Database errors.
pub async fn touch(
    db: &impl ConnectionTrait,
    seen: ProcessSeen<'_>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if update(db, seen, now).await? > 0 {
        return Ok(());
    }
    let model = process::ActiveModel {
        process_id: Set(seen.process_id.to_owned()),
        process_type: Set(seen.process_type.map(str::to_owned)),
        user_id: Set(seen.user_id.map(str::to_owned)),
        identity_verification_id: Set(seen.identity_verification_id.map(str::to_owned)),
        last_callback: Set(seen.callback.to_owned()),
        first_seen_at: Set(now),
        last_seen_at: Set(now),
    };
    match process::Entity::insert(model)
        .exec_without_returning(db)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => update(db, seen, now).await.map(|_| ()),
        Err(e) => Err(e),
    }
}

async fn update(
    db: &impl ConnectionTrait,
    seen: ProcessSeen<'_>,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let mut update = process::Entity::update_many()
        .col_expr(process::Column::LastSeenAt, Expr::value(now))
        .col_expr(process::Column::LastCallback, Expr::value(seen.callback))
        .filter(process::Column::ProcessId.eq(seen.process_id));
    if let Some(v) = seen.process_type {
        update = update.col_expr(process::Column::ProcessType, Expr::value(v));
    }
    // The user id can change (temporary activation swaps it at target activation).
    if let Some(v) = seen.user_id {
        update = update.col_expr(process::Column::UserId, Expr::value(v));
    }
    if let Some(v) = seen.identity_verification_id {
        update = update.col_expr(process::Column::IdentityVerificationId, Expr::value(v));
    }
    Ok(update.exec(db).await?.rows_affected)
}

/// # Errors
/// Database errors.
pub async fn find(
    db: &impl ConnectionTrait,
    process_id: &str,
) -> Result<Option<process::Model>, DbErr> {
    process::Entity::find_by_id(process_id.to_owned())
        .one(db)
        .await
}
